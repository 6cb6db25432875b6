//! The report as the spec words it, over owned events with hash sets keyed by text: slow, and
//! plainly right. The engine is checked against it on random event sets.

use std::collections::BTreeMap;

use events::{Event, Kind, MenuCategory, Source};
use jiff::Timestamp;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde_json::{Value, json};

use crate::{IndexError, Period, mean, percentile, ratio};

fn percentile_cont(sorted: &[f64], p: f64) -> Value {
    percentile(sorted, p).map_or(Value::Null, |x| json!(x))
}

/// Follow state over time: each person's follow/unfollow events in time order.
struct Follows<'a> {
    /// (ts, person, Some(source) for follow / None for unfollow), sorted by ts (stable).
    changes: Vec<(Timestamp, &'a str, Option<Source>)>,
}

impl<'a> Follows<'a> {
    fn new(events: &'a [Event]) -> Self {
        let mut changes: Vec<_> = events
            .iter()
            .filter_map(|e| match (&e.kind, e.follower.as_deref()) {
                (Kind::Follow { source }, Some(p)) => Some((e.ts, p, Some(*source))),
                (Kind::Unfollow, Some(p)) => Some((e.ts, p, None)),
                _ => None,
            })
            .collect();
        changes.sort_by_key(|c| c.0);
        Self { changes }
    }

    /// Sweeps the changes once, showing `visit` the people following at each of `times`
    /// (their latest change with ts < t is a follow) with the time and source of that latest
    /// follow. Nothing is copied unless the visitor keeps it.
    fn sweep(
        &self,
        times: &[Timestamp],
        mut visit: impl FnMut(usize, &HashMap<&'a str, (Timestamp, Source)>),
    ) {
        let mut order: Vec<usize> = (0..times.len()).collect();
        order.sort_by_key(|&i| times[i]);
        let mut state: HashMap<&'a str, (Timestamp, Source)> = HashMap::default();
        let mut j = 0;
        for i in order {
            while let Some((ts, p, change)) = self.changes.get(j).filter(|c| c.0 < times[i]) {
                match change {
                    Some(s) => state.insert(p, (*ts, *s)),
                    None => state.remove(p),
                };
                j += 1;
            }
            visit(i, &state);
        }
    }

    /// How many people follow at each of `times`: one sweep, no sets kept.
    fn counts_at(&self, times: &[Timestamp]) -> Vec<usize> {
        let mut order: Vec<usize> = (0..times.len()).collect();
        order.sort_by_key(|&i| times[i]);
        let mut following: HashSet<&'a str> = HashSet::default();
        let mut out = vec![0; times.len()];
        let mut j = 0;
        for i in order {
            while let Some((_, p, change)) = self.changes.get(j).filter(|c| c.0 < times[i]) {
                if change.is_some() {
                    following.insert(p);
                } else {
                    following.remove(p);
                }
                j += 1;
            }
            out[i] = following.len();
        }
        out
    }
}

struct PushInfo {
    ts: Timestamp,
    articles: u8,
    segmented: bool,
    recipients: u64,
}

/// Computes the whole report as the spec's JSON object.
pub fn report(events: &[Event], period: &Period) -> Result<Value, IndexError> {
    let follows = Follows::new(events);
    let months = period.months()?;
    // Each person's actions per month (for the months wholly inside the period).
    let mut month_counts: Vec<HashMap<&str, u32>> = vec![HashMap::default(); months.len()];
    for e in events.iter().filter(|e| e.kind.is_action()) {
        let i = months.partition_point(|(_, first, _)| *first <= e.ts);
        if let (Some(i), Some(p)) = (i.checked_sub(1), e.follower.as_deref())
            && e.ts < months[i].2
        {
            *month_counts[i].entry(p).or_default() += 1;
        }
    }
    // One sweep of the follow state: its size at the period's start, the whole set at its end,
    // and at each month's end the followers and the active ones among them.
    let mut checkpoints = vec![period.start, period.end];
    checkpoints.extend(months.iter().map(|(_, _, next)| *next));
    let mut followers_start = 0.0;
    let mut end_set = HashMap::default();
    let mut month_figures = vec![(0usize, 0usize); months.len()];
    follows.sweep(&checkpoints, |i, state| match i {
        0 => followers_start = state.len() as f64,
        1 => end_set = state.clone(),
        m => {
            let active = month_counts[m - 2]
                .iter()
                .filter(|(p, n)| **n > 4 && state.contains_key(*p))
                .count();
            month_figures[m - 2] = (state.len(), active);
        }
    });
    drop(month_counts);
    let followers_end = end_set.len() as f64;

    // Pushes in the period, by id (a push id seen twice keeps its first event).
    let mut pushes: BTreeMap<&str, PushInfo> = BTreeMap::new();
    for e in events {
        if let Kind::Push {
            push,
            articles,
            segmented,
            recipients,
        } = &e.kind
            && period.contains(e.ts)
        {
            pushes.entry(push.as_str()).or_insert(PushInfo {
                ts: e.ts,
                articles: *articles,
                segmented: *segmented,
                recipients: *recipients,
            });
        }
    }

    // ——— Acquisition ———
    let mut new_follows = 0u64;
    let mut unfollows = 0u64;
    let mut by_source: HashMap<Source, u64> = HashMap::default();
    let mut unfollow_times = Vec::new();
    for e in events {
        match &e.kind {
            Kind::Follow { source } if period.contains(e.ts) => {
                new_follows += 1;
                *by_source.entry(*source).or_default() += 1;
            }
            Kind::Unfollow => {
                if period.contains(e.ts) {
                    unfollows += 1;
                }
                unfollow_times.push(e.ts);
            }
            _ => {}
        }
    }
    unfollow_times.sort();
    let sources: serde_json::Map<String, Value> = Source::ALL
        .iter()
        .map(|s| {
            let n = by_source.get(s).copied().unwrap_or(0) as f64;
            (
                s.as_str().to_owned(),
                json!({"follows": n as u64, "share": ratio(n, new_follows as f64), "growth_contribution": ratio(n, followers_start)}),
            )
        })
        .collect();
    let day = jiff::SignedDuration::from_hours(24);
    let push_times: Vec<Timestamp> = pushes.values().map(|p| p.ts).collect();
    let followers_at_push = follows.counts_at(&push_times);
    let unfollow_rate_after_push = mean(pushes.values().zip(&followers_at_push).map(|(p, n)| {
        let until = p.ts.checked_add(day).unwrap_or(p.ts);
        let lo = unfollow_times.partition_point(|t| *t < p.ts);
        let hi = unfollow_times.partition_point(|t| *t < until);
        ratio((hi - lo) as f64, *n as f64)
    }));

    // ——— Engagement ———
    let actions: Vec<&Event> = events.iter().filter(|e| e.kind.is_action()).collect();
    let mut monthly = Vec::new();
    for ((label, _, _), (followers, active)) in months.iter().zip(&month_figures) {
        monthly.push(json!({"month": label, "followers_end": followers, "active": active, "active_rate": ratio(*active as f64, *followers as f64)}));
    }
    let monthly_active_rate = mean(monthly.iter().map(|m| m["active_rate"].clone()));
    let acted_in_period: HashSet<&str> = actions
        .iter()
        .filter(|e| period.contains(e.ts))
        .filter_map(|e| e.follower.as_deref())
        .collect();
    let inactive = end_set
        .keys()
        .filter(|p| !acted_in_period.contains(*p))
        .count() as f64;
    let mut lifetime_counts: HashMap<&str, u32> = HashMap::default();
    for e in &actions {
        if let Some(p) = e.follower.as_deref()
            && let Some((since, _)) = end_set.get(p)
            && e.ts >= *since
            && e.ts < period.end
        {
            *lifetime_counts.entry(p).or_default() += 1;
        }
    }
    let lifetime_active = |source: Option<Source>| {
        let members: Vec<&&str> = end_set
            .iter()
            .filter(|(_, (_, s))| source.is_none_or(|x| x == *s))
            .map(|(p, _)| p)
            .collect();
        let active = members
            .iter()
            .filter(|p| lifetime_counts.get(**p).is_some_and(|n| *n > 4))
            .count();
        ratio(active as f64, members.len() as f64)
    };
    let by_source_rate: serde_json::Map<String, Value> = Source::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), lifetime_active(Some(*s))))
        .collect();

    let mut engaged: HashMap<&str, HashSet<&str>> = HashMap::default();
    let mut openers: HashMap<(&str, u8), HashSet<&str>> = HashMap::default();
    let mut any_openers: HashMap<&str, HashSet<&str>> = HashMap::default();
    let mut screens: Vec<f64> = Vec::new();
    for e in events {
        match (&e.kind, e.follower.as_deref()) {
            (Kind::PostInteraction { push, .. }, Some(p)) if pushes.contains_key(push.as_str()) => {
                engaged.entry(push.as_str()).or_default().insert(p);
            }
            (
                Kind::ArticleOpen {
                    push,
                    article,
                    screens: s,
                },
                Some(p),
            ) if pushes.contains_key(push.as_str()) => {
                openers
                    .entry((push.as_str(), *article))
                    .or_default()
                    .insert(p);
                any_openers.entry(push.as_str()).or_default().insert(p);
                screens.push(*s);
            }
            _ => {}
        }
    }
    let engagement_of = |id: &str, p: &PushInfo| {
        ratio(
            engaged.get(id).map_or(0, HashSet::len) as f64,
            p.recipients as f64,
        )
    };
    let push_engagement_rate = mean(pushes.iter().map(|(id, p)| engagement_of(id, p)));
    let segmented_rate = mean(
        pushes
            .iter()
            .filter(|(_, p)| p.segmented)
            .map(|(id, p)| engagement_of(id, p)),
    );
    let unsegmented_rate = mean(
        pushes
            .iter()
            .filter(|(_, p)| !p.segmented)
            .map(|(id, p)| engagement_of(id, p)),
    );

    let four = ["menu_click", "message", "post_interaction", "qr_scan"];
    let mut kind_counts: HashMap<&str, u64> = HashMap::default();
    let mut menu: HashMap<MenuCategory, u64> = HashMap::default();
    for e in events.iter().filter(|e| period.contains(e.ts)) {
        let name = e.kind.name();
        if four.contains(&name) {
            *kind_counts.entry(name).or_default() += 1;
        }
        if let Kind::MenuClick { category } = e.kind {
            *menu.entry(category).or_default() += 1;
        }
    }
    let four_total: u64 = kind_counts.values().sum();
    let menu_total: u64 = menu.values().sum();
    let action_shares: serde_json::Map<String, Value> = four
        .iter()
        .map(|k| {
            (
                k.to_string(),
                ratio(
                    kind_counts.get(k).copied().unwrap_or(0) as f64,
                    four_total as f64,
                ),
            )
        })
        .collect();
    let menu_shares: serde_json::Map<String, Value> = MenuCategory::ALL
        .iter()
        .map(|c| {
            (
                c.as_str().to_owned(),
                ratio(menu.get(c).copied().unwrap_or(0) as f64, menu_total as f64),
            )
        })
        .collect();

    // ——— Content ———
    let n_pushes = pushes.len() as f64;
    let pushes_per_month: Vec<Value> = months
        .iter()
        .map(|(label, first, next)| json!({"month": label, "pushes": pushes.values().filter(|p| *first <= p.ts && p.ts < *next).count()}))
        .collect();
    let articles_per_push: serde_json::Map<String, Value> = (1..=8u8)
        .map(|a| {
            (
                a.to_string(),
                ratio(
                    pushes.values().filter(|p| p.articles == a).count() as f64,
                    n_pushes,
                ),
            )
        })
        .collect();
    let mut heat = [[0u64; 24]; 7];
    for p in pushes.values() {
        let z = p.ts.to_zoned(period.tz.clone());
        heat[z.weekday().to_sunday_zero_offset() as usize][z.hour() as usize] += 1;
    }
    let push_heatmap: Vec<Vec<f64>> = heat
        .iter()
        .map(|row| {
            row.iter()
                .map(|n| {
                    if n_pushes == 0.0 {
                        0.0
                    } else {
                        *n as f64 / n_pushes
                    }
                })
                .collect()
        })
        .collect();
    let open_rate_of = |id: &str, a: u8, p: &PushInfo| {
        ratio(
            openers.get(&(id, a)).map_or(0, HashSet::len) as f64,
            p.recipients as f64,
        )
    };
    let open_rate = mean(
        pushes
            .iter()
            .flat_map(|(id, p)| (1..=p.articles).map(move |a| open_rate_of(id, a, p))),
    );
    let single = mean(
        pushes
            .iter()
            .filter(|(_, p)| p.articles == 1)
            .map(|(id, p)| open_rate_of(id, 1, p)),
    );
    let multi_top = mean(
        pushes
            .iter()
            .filter(|(_, p)| p.articles >= 2)
            .map(|(id, p)| open_rate_of(id, 1, p)),
    );
    let multi_cumulative = mean(
        pushes
            .iter()
            .filter(|(_, p)| p.articles >= 2)
            .map(|(id, p)| {
                ratio(
                    any_openers.get(id).map_or(0, HashSet::len) as f64,
                    p.recipients as f64,
                )
            }),
    );
    screens.sort_by(f64::total_cmp);
    let reader_retention: Vec<Value> = (1..=10)
        .map(|k| {
            ratio(
                screens.iter().filter(|s| **s >= k as f64).count() as f64,
                screens.len() as f64,
            )
        })
        .collect();

    // ——— Livestream ———
    let mut viewers: BTreeMap<&str, HashSet<&str>> = BTreeMap::new();
    for e in events {
        if let (Kind::LiveView { live }, Some(p)) = (&e.kind, e.follower.as_deref())
            && period.contains(e.ts)
        {
            viewers.entry(live.as_str()).or_default().insert(p);
        }
    }
    let mut buyers: HashMap<&str, HashSet<&str>> = HashMap::default();
    let mut revenue: HashMap<&str, f64> = HashMap::default();
    for e in events {
        if let Kind::Purchase(purchase) = &e.kind
            && let (Some(live), amount) = (&purchase.live, &purchase.amount)
        {
            *revenue.entry(live.as_str()).or_default() += amount;
            if let Some(p) = e.follower.as_deref() {
                buyers.entry(live.as_str()).or_default().insert(p);
            }
        }
    }
    let livestream: Vec<Value> = viewers
        .iter()
        .map(|(live, v)| {
            let b = buyers.get(live).map_or(0, |b| v.iter().filter(|p| b.contains(*p)).count());
            json!({"live": live, "viewers": v.len(), "buyers": b, "conversion": ratio(b as f64, v.len() as f64),
                   "revenue": revenue.get(live).copied().unwrap_or(0.0)})
        })
        .collect();

    Ok(json!({
        "period": {"from": period.from.to_string(), "to": period.to.to_string(), "tz": period.tz_name},
        "acquisition": {
            "followers_start": followers_start as u64,
            "followers_end": followers_end as u64,
            "growth_rate": ratio(followers_end - followers_start, followers_start),
            "new_follows": new_follows,
            "unfollows": unfollows,
            "sources": sources,
            "unfollow_rate_after_push": unfollow_rate_after_push,
        },
        "engagement": {
            "monthly": monthly,
            "monthly_active_rate": monthly_active_rate,
            "inactive_rate": ratio(inactive, followers_end),
            "lifetime_active_rate": lifetime_active(None),
            "lifetime_active_rate_by_source": by_source_rate,
            "push_engagement_rate": push_engagement_rate,
            "segmented_engagement_rate": segmented_rate,
            "unsegmented_engagement_rate": unsegmented_rate,
            "action_shares": action_shares,
            "menu_category_shares": menu_shares,
        },
        "content": {
            "pushes": pushes.len(),
            "pushes_per_month": pushes_per_month,
            "articles_per_push": articles_per_push,
            "push_heatmap": push_heatmap,
            "open_rate": open_rate,
            "single_article_open_rate": single,
            "multi_top_article_open_rate": multi_top,
            "multi_cumulative_open_rate": multi_cumulative,
            "reader_retention": reader_retention,
            "screens_to_lose_20pct": percentile_cont(&screens, 0.2),
            "screens_to_lose_50pct": percentile_cont(&screens, 0.5),
        },
        "livestream": livestream,
    }))
}
