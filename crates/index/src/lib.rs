//! The Luxury Index report of `spec/luxury-index.md`, computed exactly over a brand's
//! interaction events for a period `[from, to)` read in the brand's time zone.
//!
//! The events are held in a [`Table`]: ids interned to dense numbers, each kind in its own
//! columns, so that per-person state is a plain array. The report is then a handful of passes
//! over those columns: one over the actions (kinds, who acted, each month's keen people), one
//! sweep of the follow changes in time order stopping at every instant the spec asks about,
//! one over the actions again for lifetime activity; meanwhile a second thread counts the
//! distinct openers and engagers of each push (counting sort by push, then a stamp per
//! person) and the livestreams. `reference` (tests only) computes the same report the plain
//! way, and the two must agree exactly on random event sets.

pub mod benchmark;
pub mod live;
pub mod planning;
#[cfg(test)]
mod reference;
pub mod table;

pub use table::Table;
use table::{NONE, PushRow, UNFOLLOW, group_by, nanos, what};

// Fast hashing for the engine's many small keys (follower ids, push ids): the keys are the
// brand's own data and channel-assigned ids, not chosen by an adversary.
use rustc_hash::FxHashSet as HashSet;

use events::{Event, MenuCategory, Source};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{0:?} is not a known IANA time zone")]
    TimeZone(String),
    #[error("the period must end after it starts")]
    EmptyPeriod,
    #[error("the period's dates do not exist in the time zone: {0}")]
    Date(String),
}

/// The period `[from, to)`: two dates in a time zone.
pub struct Period {
    pub from: Date,
    pub to: Date,
    pub tz_name: String,
    tz: TimeZone,
    start: Timestamp,
    end: Timestamp,
}

impl Period {
    pub fn new(from: Date, to: Date, tz_name: &str) -> Result<Self, IndexError> {
        let tz = TimeZone::get(tz_name).map_err(|_| IndexError::TimeZone(tz_name.to_owned()))?;
        if to <= from {
            return Err(IndexError::EmptyPeriod);
        }
        let start = start_of(from, &tz)?;
        let end = start_of(to, &tz)?;
        Ok(Self {
            from,
            to,
            tz_name: tz_name.to_owned(),
            tz,
            start,
            end,
        })
    }

    /// The instant in the period's time zone.
    pub fn local(&self, ts: Timestamp) -> jiff::Zoned {
        ts.to_zoned(self.tz.clone())
    }

    pub(crate) fn contains(&self, ts: Timestamp) -> bool {
        self.start <= ts && ts < self.end
    }

    /// [`Period::months`] with instants as nanoseconds (see [`table::nanos`]).
    pub(crate) fn months_ns(&self) -> Result<Vec<(String, i64, i64)>, IndexError> {
        Ok(self
            .months()?
            .into_iter()
            .map(|(label, first, next)| (label, nanos(first), nanos(next)))
            .collect())
    }

    /// The calendar months lying wholly inside the period: (label, first instant, first
    /// instant of the next month).
    fn months(&self) -> Result<Vec<(String, Timestamp, Timestamp)>, IndexError> {
        let mut out = Vec::new();
        let mut first = self.from.first_of_month();
        if first < self.from {
            first = first
                .checked_add(1.month())
                .map_err(|e| IndexError::Date(e.to_string()))?;
        }
        loop {
            let next = first
                .checked_add(1.month())
                .map_err(|e| IndexError::Date(e.to_string()))?;
            if next > self.to {
                break;
            }
            out.push((
                format!("{:04}-{:02}", first.year(), first.month()),
                start_of(first, &self.tz)?,
                start_of(next, &self.tz)?,
            ));
            first = next;
        }
        Ok(out)
    }
}

fn start_of(d: Date, tz: &TimeZone) -> Result<Timestamp, IndexError> {
    d.to_zoned(tz.clone())
        .map(|z| z.timestamp())
        .map_err(|e| IndexError::Date(e.to_string()))
}

fn ratio(n: f64, d: f64) -> Value {
    if d == 0.0 { Value::Null } else { json!(n / d) }
}

/// The plain mean of the non-null values; null when there is none.
fn mean(values: impl IntoIterator<Item = Value>) -> Value {
    let v: Vec<f64> = values.into_iter().filter_map(|x| x.as_f64()).collect();
    if v.is_empty() {
        Value::Null
    } else {
        json!(v.iter().sum::<f64>() / v.len() as f64)
    }
}

/// PERCENTILE_CONT: linear interpolation between the closest ranks of sorted values; `None`
/// for no value.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = p * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

/// Computes the whole report as the spec's JSON object.
pub fn report(events: &[Event], period: &Period) -> Result<Value, IndexError> {
    report_table(&Table::from_events(events), period)
}

/// A set of small numbers (people), one bit each.
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Self {
        Self(vec![0; n.div_ceil(64)])
    }
    fn set(&mut self, i: u32) {
        self.0[i as usize / 64] |= 1 << (i % 64);
    }
    fn has(&self, i: u32) -> bool {
        self.0[i as usize / 64] & (1 << (i % 64)) != 0
    }
}

/// How many distinct values each group holds, given a scratch array `stamp` as long as the
/// largest value + 1 and filled with `u32::MAX`.
fn distinct_per_group(offsets: &[usize], values: &[u32], stamp: &mut [u32]) -> Vec<usize> {
    (0..offsets.len() - 1)
        .map(|g| {
            let mut n = 0;
            for &v in &values[offsets[g]..offsets[g + 1]] {
                if stamp[v as usize] != g as u32 {
                    stamp[v as usize] = g as u32;
                    n += 1;
                }
            }
            n
        })
        .collect()
}

/// The `p` quantile of `values` (PERCENTILE_CONT), by selection rather than a full sort.
fn quantile(values: &mut [f64], p: f64) -> Value {
    if values.is_empty() {
        return Value::Null;
    }
    let pos = p * (values.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let (_, low, rest) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let low = *low;
    let high = if hi == lo {
        low
    } else {
        rest.iter().copied().min_by(f64::total_cmp).unwrap_or(low)
    };
    json!(low + (high - low) * (pos - lo as f64))
}

/// The figures of each push in the period (in `pushes` order): distinct engaged people,
/// distinct openers of each article (group `9k + a - 1`) and of any article, and the
/// reader retention curve with its quantiles.
pub(crate) struct PerPush {
    engaged: Vec<usize>,
    openers: Vec<usize>,
    any_openers: Vec<usize>,
    reader_retention: Vec<Value>,
    lose_20: Value,
    lose_50: Value,
}

pub(crate) fn per_push(t: &Table, pushes: &[(u32, PushRow)], slot: &[u32]) -> PerPush {
    let n = t.people.len();
    let mut stamp = vec![u32::MAX; n];
    let (offsets, persons) = group_by(
        pushes.len(),
        t.interaction_push
            .iter()
            .zip(&t.interaction_person)
            .filter(|(push, p)| slot[**push as usize] != NONE && **p != NONE)
            .map(|(push, p)| (slot[*push as usize] as usize, *p)),
    );
    let engaged = distinct_per_group(&offsets, &persons, &mut stamp);
    drop(persons);
    // Opens grouped by (push, article): article a of push k is group 9k + a - 1; group 9k + 8
    // holds opens of an article number outside 1..=8, which count only for "any article".
    let mut screens: Vec<f64> = Vec::new();
    let (offsets, persons) = group_by(
        pushes.len() * 9,
        t.open_push
            .iter()
            .zip(&t.open_person)
            .zip(&t.open_article)
            .filter(|((push, p), _)| slot[**push as usize] != NONE && **p != NONE)
            .map(|((push, p), a)| {
                let a = if (1..=8).contains(a) {
                    *a as usize - 1
                } else {
                    8
                };
                (slot[*push as usize] as usize * 9 + a, *p)
            }),
    );
    for ((push, p), s) in t.open_push.iter().zip(&t.open_person).zip(&t.open_screens) {
        if slot[*push as usize] != NONE && *p != NONE {
            screens.push(*s);
        }
    }
    stamp.fill(u32::MAX);
    let openers = distinct_per_group(&offsets, &persons, &mut stamp);
    stamp.fill(u32::MAX);
    let any_openers: Vec<usize> = (0..pushes.len())
        .map(|k| {
            let mut n = 0;
            for &p in &persons[offsets[9 * k]..offsets[9 * k + 9]] {
                if stamp[p as usize] != k as u32 {
                    stamp[p as usize] = k as u32;
                    n += 1;
                }
            }
            n
        })
        .collect();
    drop((persons, stamp));
    // reader_retention[k - 1]: the share with screens >= k, from a histogram of whole screens.
    let mut whole = [0u64; 11];
    for s in &screens {
        whole[s.clamp(0.0, 10.0) as usize] += 1;
    }
    let reader_retention: Vec<Value> = (1..=10)
        .map(|k| ratio(whole[k..].iter().sum::<u64>() as f64, screens.len() as f64))
        .collect();
    let lose_20 = quantile(&mut screens, 0.2);
    let lose_50 = quantile(&mut screens, 0.5);
    drop(screens);
    PerPush {
        engaged,
        openers,
        any_openers,
        reader_retention,
        lose_20,
        lose_50,
    }
}

/// One row per livestream with a view in `[start, end)`, ordered by its id.
pub(crate) fn livestream(t: &Table, start: i64, end: i64) -> Vec<Value> {
    let in_period = |ts: i64| start <= ts && ts < end;
    // ——— Livestream ———
    let (offsets, viewers) = group_by(
        t.lives.len(),
        t.view_ts
            .iter()
            .zip(&t.view_live)
            .zip(&t.view_person)
            .filter(|((ts, _), p)| in_period(**ts) && **p != NONE)
            .map(|((_, live), p)| (*live as usize, *p)),
    );
    let buyers: HashSet<u64> = t
        .purchases
        .iter()
        .filter(|b| b.live != NONE && b.person != NONE)
        .map(|b| (u64::from(b.live) << 32) | u64::from(b.person))
        .collect();
    let mut revenue = vec![0.0f64; t.lives.len()];
    for b in t.purchases.iter().filter(|b| b.live != NONE) {
        revenue[b.live as usize] += b.amount;
    }
    let mut seen: HashSet<u64> = HashSet::default();
    let lives: Vec<(u32, u64, u64)> = (0..t.lives.len())
        .filter(|l| offsets[*l] < offsets[*l + 1])
        .map(|l| {
            let (mut v, mut b) = (0, 0);
            for &p in &viewers[offsets[l]..offsets[l + 1]] {
                let key = ((l as u64) << 32) | u64::from(p);
                if seen.insert(key) {
                    v += 1;
                    if buyers.contains(&key) {
                        b += 1;
                    }
                }
            }
            (l as u32, v, b)
        })
        .collect();
    livestream_rows(t, lives, |l| revenue[l as usize])
}

/// The unfollows (sorted instants) in the 24 hours from each push.
pub(crate) fn unfollows_after(unfollow_ts: &[i64], pushes: &[(u32, PushRow)]) -> Vec<usize> {
    const DAY: i64 = 86_400_000_000_000;
    pushes
        .iter()
        .map(|(_, p)| {
            let lo = unfollow_ts.partition_point(|t| *t < p.ts);
            let hi = unfollow_ts.partition_point(|t| *t < p.ts.saturating_add(DAY));
            hi - lo
        })
        .collect()
}

/// The livestream chapter's rows from (live, viewers, buyers), ordered by live id.
pub(crate) fn livestream_rows(
    t: &Table,
    mut lives: Vec<(u32, u64, u64)>,
    revenue: impl Fn(u32) -> f64,
) -> Vec<Value> {
    lives.sort_unstable_by(|a, b| t.lives.name(a.0).cmp(t.lives.name(b.0)));
    lives
        .iter()
        .map(|(l, v, b)| {
            json!({"live": t.lives.name(*l), "viewers": v, "buyers": b, "conversion": ratio(*b as f64, *v as f64),
                   "revenue": revenue(*l)})
        })
        .collect()
}

/// What the report is made of, however it was computed (by a batch pass or from rollups).
pub(crate) struct Figures {
    pub followers_start: usize,
    pub followers_end: usize,
    pub new_follows: u64,
    pub unfollows: u64,
    pub by_source: [u64; 5],
    /// Followers at each push of the period (in `pushes` order).
    pub at_push: Vec<usize>,
    /// Unfollows in the 24 hours from each push.
    pub unfollows_after: Vec<usize>,
    /// Each month's followers at its end and active followers among them.
    pub month_figures: Vec<(usize, usize)>,
    pub inactive: usize,
    /// Followers at the period's end by the source of their latest follow, and the lifetime
    /// active ones among them.
    pub members: [usize; 5],
    pub lifetime_active: [usize; 5],
    pub kinds: [u64; what::COUNT],
    pub per_push: PerPush,
    pub livestream: Vec<Value>,
}

/// The spec's JSON object from the figures.
pub(crate) fn assemble(
    period: &Period,
    months: &[(String, i64, i64)],
    pushes: &[(u32, PushRow)],
    f: Figures,
) -> Value {
    let Figures {
        followers_start,
        followers_end,
        new_follows,
        unfollows,
        by_source,
        at_push,
        unfollows_after,
        month_figures,
        inactive,
        members,
        lifetime_active,
        kinds,
        per_push,
        livestream,
    } = f;
    let PerPush {
        engaged,
        openers,
        any_openers,
        reader_retention,
        lose_20,
        lose_50,
    } = per_push;
    let (followers_start_f, followers_end_f) = (followers_start as f64, followers_end as f64);
    let sources: serde_json::Map<String, Value> = Source::ALL
        .iter()
        .zip(by_source)
        .map(|(s, n)| {
            (
                s.as_str().to_owned(),
                json!({"follows": n, "share": ratio(n as f64, new_follows as f64), "growth_contribution": ratio(n as f64, followers_start_f)}),
            )
        })
        .collect();
    let unfollow_rate_after_push = mean(
        unfollows_after
            .iter()
            .zip(&at_push)
            .map(|(u, n)| ratio(*u as f64, *n as f64)),
    );
    let monthly: Vec<Value> = months
        .iter()
        .zip(&month_figures)
        .map(|((label, _, _), (followers, active))| {
            json!({"month": label, "followers_end": followers, "active": active, "active_rate": ratio(*active as f64, *followers as f64)})
        })
        .collect();
    let monthly_active_rate = mean(monthly.iter().map(|m| m["active_rate"].clone()));
    let by_source_rate: serde_json::Map<String, Value> = Source::ALL
        .iter()
        .enumerate()
        .map(|(s, x)| {
            (
                x.as_str().to_owned(),
                ratio(lifetime_active[s] as f64, members[s] as f64),
            )
        })
        .collect();
    let lifetime_active_rate = ratio(
        lifetime_active.iter().sum::<usize>() as f64,
        members.iter().sum::<usize>() as f64,
    );

    let engagement_of = |k: usize| ratio(engaged[k] as f64, pushes[k].1.recipients as f64);
    let push_engagement_rate = mean((0..pushes.len()).map(engagement_of));
    let segmented_rate = mean(
        (0..pushes.len())
            .filter(|k| pushes[*k].1.segmented)
            .map(engagement_of),
    );
    let unsegmented_rate = mean(
        (0..pushes.len())
            .filter(|k| !pushes[*k].1.segmented)
            .map(engagement_of),
    );

    let four = [
        (
            "menu_click",
            kinds[what::MENU as usize..what::MENU as usize + 3]
                .iter()
                .sum::<u64>(),
        ),
        ("message", kinds[what::MESSAGE as usize]),
        ("post_interaction", kinds[what::POST_INTERACTION as usize]),
        ("qr_scan", kinds[what::QR_SCAN as usize]),
    ];
    let four_total: u64 = four.iter().map(|(_, n)| n).sum();
    let action_shares: serde_json::Map<String, Value> = four
        .iter()
        .map(|(k, n)| (k.to_string(), ratio(*n as f64, four_total as f64)))
        .collect();
    let menu_total = four[0].1;
    let menu_shares: serde_json::Map<String, Value> = MenuCategory::ALL
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                c.as_str().to_owned(),
                ratio(kinds[what::MENU as usize + i] as f64, menu_total as f64),
            )
        })
        .collect();

    // ——— Content ———
    let n_pushes = pushes.len() as f64;
    let pushes_per_month: Vec<Value> = months
        .iter()
        .map(|(label, first, next)| json!({"month": label, "pushes": pushes.iter().filter(|(_, p)| *first <= p.ts && p.ts < *next).count()}))
        .collect();
    let articles_per_push: serde_json::Map<String, Value> = (1..=8u8)
        .map(|a| {
            (
                a.to_string(),
                ratio(
                    pushes.iter().filter(|(_, p)| p.articles == a).count() as f64,
                    n_pushes,
                ),
            )
        })
        .collect();
    let mut heat = [[0u64; 24]; 7];
    for (_, p) in pushes {
        let z = period.local(Timestamp::from_nanosecond(i128::from(p.ts)).unwrap_or(period.start));
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
    let open_rate_of = |k: usize, a: u8| {
        ratio(
            openers[9 * k + a as usize - 1] as f64,
            pushes[k].1.recipients as f64,
        )
    };
    let open_rate = mean(
        (0..pushes.len())
            .flat_map(|k| (1..=pushes[k].1.articles.min(8)).map(move |a| open_rate_of(k, a))),
    );
    let single = mean(
        (0..pushes.len())
            .filter(|k| pushes[*k].1.articles == 1)
            .map(|k| open_rate_of(k, 1)),
    );
    let multi: Vec<usize> = (0..pushes.len())
        .filter(|k| pushes[*k].1.articles >= 2)
        .collect();
    let multi_top = mean(multi.iter().map(|k| open_rate_of(*k, 1)));
    let multi_cumulative = mean(
        multi
            .iter()
            .map(|k| ratio(any_openers[*k] as f64, pushes[*k].1.recipients as f64)),
    );

    json!({
        "period": {"from": period.from.to_string(), "to": period.to.to_string(), "tz": period.tz_name},
        "acquisition": {
            "followers_start": followers_start,
            "followers_end": followers_end,
            "growth_rate": ratio(followers_end_f - followers_start_f, followers_start_f),
            "new_follows": new_follows,
            "unfollows": unfollows,
            "sources": sources,
            "unfollow_rate_after_push": unfollow_rate_after_push,
        },
        "engagement": {
            "monthly": monthly,
            "monthly_active_rate": monthly_active_rate,
            "inactive_rate": ratio(inactive as f64, followers_end_f),
            "lifetime_active_rate": lifetime_active_rate,
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
            "screens_to_lose_20pct": lose_20,
            "screens_to_lose_50pct": lose_50,
        },
        "livestream": livestream,
    })
}

/// The pushes in `[start, end)`: the first push event of each id, in the order of their ids;
/// and each push id's place among them (or NONE).
pub(crate) fn pushes_in(t: &Table, start: i64, end: i64) -> (Vec<(u32, PushRow)>, Vec<u32>) {
    let in_period = |ts: i64| start <= ts && ts < end;
    let mut first = vec![NONE; t.pushes.len()];
    for (i, r) in t.push_rows.iter().enumerate() {
        if in_period(r.ts) && first[r.push as usize] == NONE {
            first[r.push as usize] = i as u32;
        }
    }
    let mut pushes: Vec<(u32, PushRow)> = first
        .iter()
        .enumerate()
        .filter(|(_, i)| **i != NONE)
        .map(|(id, i)| (id as u32, t.push_rows[*i as usize]))
        .collect();
    pushes.sort_unstable_by(|a, b| t.pushes.name(a.0).cmp(t.pushes.name(b.0)));
    // Each push id's place in `pushes`, or NONE.
    let mut slot = vec![NONE; t.pushes.len()];
    for (k, (id, _)) in pushes.iter().enumerate() {
        slot[*id as usize] = k as u32;
    }

    (pushes, slot)
}

/// What the follow sweep is asked at an instant.
#[derive(Clone, Copy)]
enum Check {
    Start,
    End,
    MonthEnd(usize),
    Push(usize),
}

/// Computes the whole report over a table.
pub fn report_table(t: &Table, period: &Period) -> Result<Value, IndexError> {
    let n = t.people.len();
    let (start, end) = (nanos(period.start), nanos(period.end));
    let in_period = |ts: i64| start <= ts && ts < end;
    let months = period.months_ns()?;

    let (pushes, slot) = pushes_in(t, start, end);

    // The figures of each push and of each livestream need nothing else: a second thread
    // computes them while this one sweeps the follows.
    std::thread::scope(|scope| {
        let push_thread = scope.spawn(|| per_push(t, &pushes, &slot));
        let live_thread = scope.spawn(|| livestream(t, start, end));

        // One pass over the actions before the sweep: the kinds in the period, who acted in
        // it, and the month (wholly inside the period) of each action; then the actions'
        // people grouped by month, to find who has more than 4 actions in each month.
        let mut acted = Bits::new(n);
        let mut kinds = [0u64; what::COUNT];
        const OUTSIDE: u16 = u16::MAX;
        let (lo, hi) = match (months.first(), months.last()) {
            (Some(a), Some(b)) => (a.1, b.2),
            _ => (0, 0),
        };
        let firsts: Vec<i64> = months.iter().map(|m| m.1).collect();
        let mut sizes = vec![0usize; months.len() + 1];
        let month_of: Vec<u16> = t
            .act_ts
            .iter()
            .zip(&t.act_person)
            .zip(&t.act_what)
            .map(|((ts, p), w)| {
                let (ts, p) = (*ts, *p);
                if in_period(ts) {
                    kinds[*w as usize] += 1;
                    if p != NONE {
                        acted.set(p);
                    }
                }
                if p != NONE && lo <= ts && ts < hi {
                    let m = firsts.partition_point(|f| *f <= ts) - 1;
                    sizes[m + 1] += 1;
                    m as u16
                } else {
                    OUTSIDE
                }
            })
            .collect();
        for m in 0..months.len() {
            sizes[m + 1] += sizes[m];
        }
        let mut next = sizes.clone();
        let mut persons = vec![0u32; sizes[months.len()]];
        for (m, p) in month_of.iter().zip(&t.act_person) {
            if *m != OUTSIDE {
                persons[next[*m as usize]] = *p;
                next[*m as usize] += 1;
            }
        }
        drop(month_of);
        let mut keen: Vec<Vec<u32>> = vec![Vec::new(); months.len()];
        let mut count = vec![0u8; n];
        for (m, keen) in keen.iter_mut().enumerate() {
            let persons = &persons[sizes[m]..sizes[m + 1]];
            for &p in persons {
                let c = &mut count[p as usize];
                *c = c.saturating_add(1);
                if *c == 5 {
                    keen.push(p);
                }
            }
            for &p in persons {
                count[p as usize] = 0;
            }
        }
        drop(persons);
        // One sweep of the follow changes in time order (file order among equal instants),
        // stopping at each instant the report asks about.
        let mut changes: Vec<u32> = (0..t.change_ts.len() as u32)
            .filter(|i| t.change_person[*i as usize] != NONE)
            .collect();
        if !changes.is_sorted_by_key(|i| t.change_ts[*i as usize]) {
            changes.sort_by_key(|i| t.change_ts[*i as usize]);
        }
        let mut checks = vec![(start, Check::Start), (end, Check::End)];
        checks.extend(
            months
                .iter()
                .enumerate()
                .map(|(m, (_, _, next))| (*next, Check::MonthEnd(m))),
        );
        checks.extend(
            pushes
                .iter()
                .enumerate()
                .map(|(k, (_, p))| (p.ts, Check::Push(k))),
        );
        checks.sort_by_key(|c| c.0);
        const NOT: i64 = i64::MIN;
        // Each person's latest follow (NOT when not following) and its source.
        let mut since = vec![NOT; n];
        let mut source = vec![0u8; n];
        let mut following = 0usize;
        let mut followers_start = 0usize;
        let mut month_figures = vec![(0usize, 0usize); months.len()];
        let mut at_push = vec![0usize; pushes.len()];
        let mut j = 0;
        for (at, check) in checks {
            while let Some(&i) = changes.get(j).filter(|i| t.change_ts[**i as usize] < at) {
                let (i, p) = (i as usize, t.change_person[i as usize] as usize);
                if t.change_source[i] == UNFOLLOW {
                    if since[p] != NOT {
                        following -= 1;
                        since[p] = NOT;
                    }
                } else {
                    if since[p] == NOT {
                        following += 1;
                    }
                    since[p] = t.change_ts[i];
                    source[p] = t.change_source[i];
                }
                j += 1;
            }
            match check {
                Check::Start => followers_start = following,
                // The last instant asked about: the state is the period's end from here on.
                Check::End => {}
                Check::MonthEnd(m) => {
                    let active = keen[m]
                        .iter()
                        .filter(|p| since[**p as usize] != NOT)
                        .count();
                    month_figures[m] = (following, active);
                }
                Check::Push(k) => at_push[k] = following,
            }
        }
        drop(keen);
        let followers_end = following;

        // ——— Acquisition ———
        let mut new_follows = 0u64;
        let mut unfollows = 0u64;
        let mut by_source = [0u64; 5];
        let mut unfollow_times = Vec::new();
        for (ts, s) in t.change_ts.iter().zip(&t.change_source) {
            if *s == UNFOLLOW {
                if in_period(*ts) {
                    unfollows += 1;
                }
                unfollow_times.push(*ts);
            } else if in_period(*ts) {
                new_follows += 1;
                by_source[*s as usize] += 1;
            }
        }
        unfollow_times.sort_unstable();
        let unfollows_after = unfollows_after(&unfollow_times, &pushes);

        // ——— Engagement ———
        let mut lifetime = vec![0u8; n];
        for (ts, p) in t.act_ts.iter().zip(&t.act_person) {
            let (ts, p) = (*ts, *p);
            if p != NONE {
                let s = since[p as usize];
                if s != NOT && ts >= s && ts < end {
                    let c = &mut lifetime[p as usize];
                    *c = c.saturating_add(1);
                }
            }
        }
        let mut inactive = 0usize;
        let mut members = [0usize; 5];
        let mut lifetime_active = [0usize; 5];
        for p in 0..n {
            if since[p] == NOT {
                continue;
            }
            if !acted.has(p as u32) {
                inactive += 1;
            }
            let s = source[p] as usize;
            members[s] += 1;
            if lifetime[p] > 4 {
                lifetime_active[s] += 1;
            }
        }
        let per_push = match push_thread.join() {
            Ok(f) => f,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let livestream = match live_thread.join() {
            Ok(l) => l,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        Ok(assemble(
            period,
            &months,
            &pushes,
            Figures {
                followers_start,
                followers_end,
                new_follows,
                unfollows,
                by_source,
                at_push,
                unfollows_after,
                month_figures,
                inactive,
                members,
                lifetime_active,
                kinds,
                per_push,
                livestream,
            },
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small brand worked out by hand (Asia/Shanghai, period 2020-01-01 to 2020-03-01).
    /// A, B follow before the period; C, D during it; B unfollows an hour after push p1 and
    /// follows again on 1 February. p1 (Wed 20:00, 2 articles, unsegmented, 4 recipients),
    /// p2 (Mon 12:00, 1 article, segmented, 4 recipients). A's p2 open is after the period.
    const EVENTS: &str = r#"
{"ts":"2019-12-20T10:00:00+08:00","kind":"follow","follower":"A","source":"search"}
{"ts":"2019-12-25T10:00:00+08:00","kind":"follow","follower":"B","source":"qr_code"}
{"ts":"2020-01-05T10:00:00+08:00","kind":"follow","follower":"C","source":"qr_code"}
{"ts":"2020-01-10T10:00:00+08:00","kind":"follow","follower":"D","source":"media"}
{"ts":"2020-01-15T20:00:00+08:00","kind":"push","push":"p1","articles":2,"segmented":false,"recipients":4}
{"ts":"2020-01-15T20:30:00+08:00","kind":"article_open","follower":"A","push":"p1","article":1,"screens":3}
{"ts":"2020-01-15T20:35:00+08:00","kind":"post_interaction","follower":"A","push":"p1","article":1,"action":"share"}
{"ts":"2020-01-15T20:40:00+08:00","kind":"article_open","follower":"C","push":"p1","article":1,"screens":1}
{"ts":"2020-01-15T20:45:00+08:00","kind":"article_open","follower":"C","push":"p1","article":2,"screens":5}
{"ts":"2020-01-15T20:50:00+08:00","kind":"post_interaction","follower":"C","push":"p1","article":1,"action":"like"}
{"ts":"2020-01-15T13:00:00Z","kind":"unfollow","follower":"B"}
{"ts":"2020-01-20T10:00:00+08:00","kind":"menu_click","follower":"A","category":"ecommerce"}
{"ts":"2020-01-21T10:00:00+08:00","kind":"menu_click","follower":"A","category":"information"}
{"ts":"2020-01-22T10:00:00+08:00","kind":"message","follower":"A"}
{"ts":"2020-01-23T10:00:00+08:00","kind":"message","follower":"A"}
{"ts":"2020-02-01T10:00:00+08:00","kind":"follow","follower":"B","source":"word_of_mouth"}
{"ts":"2020-02-03T10:00:00+08:00","kind":"menu_click","follower":"D","category":"crm"}
{"ts":"2020-02-05T10:00:00+08:00","kind":"qr_scan","follower":"C"}
{"ts":"2020-02-10T12:00:00+08:00","kind":"push","push":"p2","articles":1,"segmented":true,"recipients":4}
{"ts":"2020-02-10T13:00:00+08:00","kind":"post_interaction","follower":"A","push":"p2","article":1,"action":"like"}
{"ts":"2020-02-14T19:00:00+08:00","kind":"live_view","follower":"A","live":"live-1"}
{"ts":"2020-02-14T19:05:00+08:00","kind":"live_view","follower":"C","live":"live-1"}
{"ts":"2020-02-14T19:40:00+08:00","kind":"purchase","follower":"A","live":"live-1","amount":100,"currency":"CNY"}
{"ts":"2020-02-20T19:00:00+08:00","kind":"purchase","follower":"X","live":"live-1","amount":50,"currency":"CNY"}
{"ts":"2020-02-20T20:00:00+08:00","kind":"live_view","follower":"D","live":"live-2"}
{"ts":"2020-02-21T20:00:00+08:00","kind":"purchase","follower":"D","amount":70,"currency":"CNY"}
{"ts":"2020-03-05T10:00:00+08:00","kind":"article_open","follower":"A","push":"p2","article":1,"screens":0.5}
"#;

    fn run() -> Value {
        let events = events::read_jsonl(EVENTS.trim().as_bytes(), false)
            .expect("valid events")
            .events;
        let period = Period::new(
            Date::constant(2020, 1, 1),
            Date::constant(2020, 3, 1),
            "Asia/Shanghai",
        )
        .expect("period");
        report(&events, &period).expect("report")
    }

    fn close(v: &Value, expected: f64, what: &str) {
        let got = v
            .as_f64()
            .unwrap_or_else(|| panic!("{what} is {v}, expected {expected}"));
        assert!(
            (got - expected).abs() < 1e-12,
            "{what}: got {got}, expected {expected}"
        );
    }

    #[test]
    fn acquisition_by_hand() {
        let r = run();
        let a = &r["acquisition"];
        assert_eq!(
            (a["followers_start"].as_u64(), a["followers_end"].as_u64()),
            (Some(2), Some(4))
        );
        close(&a["growth_rate"], 1.0, "growth_rate");
        assert_eq!(
            (a["new_follows"].as_u64(), a["unfollows"].as_u64()),
            (Some(3), Some(1))
        );
        assert_eq!(a["sources"]["search"]["follows"], 0);
        close(&a["sources"]["qr_code"]["share"], 1.0 / 3.0, "qr share");
        close(
            &a["sources"]["media"]["growth_contribution"],
            0.5,
            "media contribution",
        );
        close(
            &a["sources"]["word_of_mouth"]["share"],
            1.0 / 3.0,
            "wom share",
        );
        // p1: one unfollow within 24 h of 4 followers; p2: none of 4.
        close(&a["unfollow_rate_after_push"], 0.125, "unfollow after push");
    }

    #[test]
    fn engagement_by_hand() {
        let r = run();
        let e = &r["engagement"];
        let m = e["monthly"].as_array().expect("months");
        assert_eq!(m.len(), 2);
        assert_eq!(
            (
                m[0]["month"].as_str(),
                m[0]["followers_end"].as_u64(),
                m[0]["active"].as_u64()
            ),
            (Some("2020-01"), Some(3), Some(1))
        );
        assert_eq!(
            (
                m[1]["month"].as_str(),
                m[1]["followers_end"].as_u64(),
                m[1]["active"].as_u64()
            ),
            (Some("2020-02"), Some(4), Some(0))
        );
        close(&e["monthly_active_rate"], 1.0 / 6.0, "monthly active");
        close(&e["inactive_rate"], 0.25, "inactive (B)");
        close(&e["lifetime_active_rate"], 0.5, "lifetime active (A, C)");
        let by = &e["lifetime_active_rate_by_source"];
        close(&by["search"], 1.0, "search");
        close(&by["qr_code"], 1.0, "qr_code");
        close(&by["media"], 0.0, "media");
        close(&by["word_of_mouth"], 0.0, "word_of_mouth (B re-followed)");
        assert!(by["other"].is_null());
        close(&e["push_engagement_rate"], 0.375, "push engagement");
        close(&e["segmented_engagement_rate"], 0.25, "segmented");
        close(&e["unsegmented_engagement_rate"], 0.5, "unsegmented");
        close(&e["action_shares"]["menu_click"], 3.0 / 9.0, "menu share");
        close(&e["action_shares"]["message"], 2.0 / 9.0, "message share");
        close(
            &e["action_shares"]["post_interaction"],
            3.0 / 9.0,
            "post share",
        );
        close(&e["action_shares"]["qr_scan"], 1.0 / 9.0, "qr share");
        for c in ["ecommerce", "information", "crm"] {
            close(&e["menu_category_shares"][c], 1.0 / 3.0, c);
        }
    }

    #[test]
    fn content_by_hand() {
        let r = run();
        let c = &r["content"];
        assert_eq!(c["pushes"], 2);
        assert_eq!(
            c["pushes_per_month"],
            json!([{"month": "2020-01", "pushes": 1}, {"month": "2020-02", "pushes": 1}])
        );
        close(&c["articles_per_push"]["1"], 0.5, "1 article");
        close(&c["articles_per_push"]["2"], 0.5, "2 articles");
        close(&c["articles_per_push"]["8"], 0.0, "8 articles");
        // Wednesday 20:00 and Monday 12:00, Sunday first.
        close(&c["push_heatmap"][3][20], 0.5, "Wed 20h");
        close(&c["push_heatmap"][1][12], 0.5, "Mon 12h");
        close(&c["push_heatmap"][0][0], 0.0, "Sun 0h");
        close(&c["open_rate"], 1.0 / 3.0, "open rate");
        close(&c["single_article_open_rate"], 0.25, "single");
        close(&c["multi_top_article_open_rate"], 0.5, "multi top");
        close(&c["multi_cumulative_open_rate"], 0.5, "multi cumulative");
        let expected = [0.75, 0.5, 0.5, 0.25, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0];
        for (k, x) in expected.iter().enumerate() {
            close(
                &c["reader_retention"][k],
                *x,
                &format!("retention k={}", k + 1),
            );
        }
        close(&c["screens_to_lose_20pct"], 0.8, "20% (PERCENTILE_CONT)");
        close(&c["screens_to_lose_50pct"], 2.0, "50%");
    }

    #[test]
    fn livestream_by_hand() {
        let r = run();
        assert_eq!(
            r["livestream"],
            json!([
                {"live": "live-1", "viewers": 2, "buyers": 1, "conversion": 0.5, "revenue": 150.0},
                {"live": "live-2", "viewers": 1, "buyers": 0, "conversion": 0.0, "revenue": 0.0}
            ])
        );
        assert_eq!(
            r["period"],
            json!({"from": "2020-01-01", "to": "2020-03-01", "tz": "Asia/Shanghai"})
        );
    }

    #[test]
    fn an_empty_period_gives_nulls_not_errors() {
        let period = Period::new(
            Date::constant(2021, 1, 1),
            Date::constant(2021, 2, 1),
            "Asia/Shanghai",
        )
        .expect("period");
        let r = report(&[], &period).expect("report");
        assert!(r["acquisition"]["growth_rate"].is_null());
        assert!(r["content"]["open_rate"].is_null());
        assert!(r["content"]["screens_to_lose_50pct"].is_null());
        assert_eq!(r["content"]["push_heatmap"][6][23], 0.0);
        assert_eq!(r["engagement"]["monthly"].as_array().map(Vec::len), Some(1));
        assert!(
            Period::new(
                Date::constant(2021, 1, 1),
                Date::constant(2021, 1, 1),
                "Asia/Shanghai"
            )
            .is_err()
        );
        assert!(
            Period::new(
                Date::constant(2021, 1, 1),
                Date::constant(2021, 2, 1),
                "Mars/Base"
            )
            .is_err()
        );
    }
}

#[cfg(test)]
mod engine_tests {
    use super::*;
    use events::{Action, Kind, Purchase};

    /// A small deterministic generator (splitmix64).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Random events over a few people, pushes and lives, crowded around the period's and the
    /// months' boundaries (in Shanghai time), in no particular order, with duplicates.
    fn random_events(rng: &mut Rng, count: usize) -> Vec<Event> {
        // 2019-12-15 .. 2020-03-15 UTC, in minutes, with many events on the exact boundaries.
        let base = 1_576_368_000i64;
        let boundaries = [
            1_577_808_000i64, // 2020-01-01T00:00+08:00
            1_580_486_400,    // 2020-02-01T00:00+08:00
            1_582_992_000,    // 2020-03-01T00:00+08:00
        ];
        let mut pushes: Vec<(String, i64)> = Vec::new();
        (0..count)
            .map(|_| {
                let secs = if rng.below(4) == 0 {
                    boundaries[rng.below(3) as usize] + rng.below(3) as i64 - 1
                } else {
                    base + rng.below(90 * 24 * 60) as i64 * 60
                };
                let ts = Timestamp::from_second(secs).expect("ts");
                let person = Some(format!("p{}", rng.below(12)));
                let push = if pushes.is_empty() || rng.below(3) == 0 {
                    format!("push{}", rng.below(6))
                } else {
                    pushes[rng.below(pushes.len() as u64) as usize].0.clone()
                };
                let kind = match rng.below(12) {
                    0 | 1 => Kind::Follow {
                        source: Source::ALL[rng.below(5) as usize],
                    },
                    2 => Kind::Unfollow,
                    3 => {
                        pushes.push((push.clone(), secs));
                        Kind::Push {
                            push,
                            articles: 1 + rng.below(3) as u8,
                            segmented: rng.below(2) == 0,
                            recipients: rng.below(15),
                        }
                    }
                    4 | 5 => Kind::ArticleOpen {
                        push,
                        article: 1 + rng.below(3) as u8,
                        screens: rng.below(50) as f64 / 4.0,
                    },
                    6 => Kind::PostInteraction {
                        push,
                        article: 1 + rng.below(3) as u8,
                        action: Action::ALL[rng.below(4) as usize],
                    },
                    7 => Kind::MenuClick {
                        category: MenuCategory::ALL[rng.below(3) as usize],
                    },
                    8 => Kind::Message,
                    9 => Kind::QrScan,
                    10 => Kind::LiveView {
                        live: format!("live{}", rng.below(3)),
                    },
                    _ => Kind::Purchase(Box::new(Purchase {
                        live: (rng.below(3) > 0).then(|| format!("live{}", rng.below(3))),
                        amount: rng.below(1000) as f64 / 8.0,
                        currency: "CNY".into(),
                        sa: None,
                    })),
                };
                let follower = if matches!(kind, Kind::Push { .. }) {
                    None
                } else {
                    person
                };
                Event { ts, follower, kind }
            })
            .collect()
    }

    #[test]
    fn the_engine_gives_exactly_the_reference_figures_on_random_events() {
        let mut rng = Rng(7);
        let periods = [
            ((2020, 1, 1), (2020, 3, 1), "Asia/Shanghai"),
            ((2020, 1, 15), (2020, 2, 20), "Asia/Shanghai"),
            ((2019, 12, 1), (2020, 4, 1), "Europe/Paris"),
            ((2020, 2, 1), (2020, 2, 2), "UTC"),
        ];
        for round in 0..300 {
            let events = random_events(&mut rng, 1 + round % 120);
            for ((fy, fm, fd), (ty, tm, td), tz) in periods {
                let period =
                    Period::new(Date::constant(fy, fm, fd), Date::constant(ty, tm, td), tz)
                        .expect("period");
                let fast = report(&events, &period).expect("engine");
                let slow = reference::report(&events, &period).expect("reference");
                assert_eq!(fast, slow, "round {round}, {tz} {fy}-{fm}-{fd}");
            }
        }
    }

    #[test]
    fn the_live_rollups_give_exactly_the_batch_figures() {
        let mut rng = Rng(11);
        let periods = [
            ((2020, 1, 1), (2020, 3, 1)),
            ((2020, 1, 15), (2020, 2, 20)),
            ((2019, 12, 1), (2020, 4, 1)),
            ((2020, 2, 1), (2020, 2, 2)),
            ((2020, 1, 31), (2020, 3, 20)),
            ((2021, 1, 1), (2021, 2, 1)),
        ];
        for round in 0..300 {
            let mut events = random_events(&mut rng, 1 + round % 150);
            events.sort_by_key(|e| e.ts);
            let mut live = live::Live::new("Asia/Shanghai").expect("tz");
            for e in &events {
                live.push(e.as_ref());
            }
            assert!(live.is_ordered());
            for ((fy, fm, fd), (ty, tm, td)) in periods {
                let period = Period::new(
                    Date::constant(fy, fm, fd),
                    Date::constant(ty, tm, td),
                    "Asia/Shanghai",
                )
                .expect("period");
                assert_eq!(
                    live.report(&period).expect("live"),
                    report_table(&live.table, &period).expect("batch"),
                    "round {round}, {fy}-{fm}-{fd} to {ty}-{tm}-{td}"
                );
            }
        }
    }

    #[test]
    fn an_event_out_of_time_order_turns_the_rollups_off_not_the_answers() {
        let mut rng = Rng(5);
        let events = random_events(&mut rng, 80);
        let mut live = live::Live::new("Asia/Shanghai").expect("tz");
        for e in &events {
            live.push(e.as_ref());
        }
        assert!(!live.is_ordered());
        let period = Period::new(
            Date::constant(2020, 1, 1),
            Date::constant(2020, 3, 1),
            "Asia/Shanghai",
        )
        .expect("period");
        assert_eq!(
            live.report(&period).expect("live"),
            report(&events, &period).expect("batch")
        );
    }
}
