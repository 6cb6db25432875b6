//! A brand's live report: the events in a [`Table`], plus rollups kept up to date as each event
//! is appended, so that the dashboard's report is read from them instead of passing over every
//! event again.
//!
//! The rollups hold, in the brand's time zone:
//! - per day: follows by source, unfollows, actions by kind, and who acted (a roaring bitmap);
//! - the follower count after each follow change (so `followers(t)` is a binary search), and
//!   the unfollow instants;
//! - per calendar month: who passed 4 actions in it (a bitmap), and a snapshot, at its first
//!   instant, of who follows, by which source, and how many actions each has made since their
//!   latest follow; the state at any other instant is that snapshot plus at most a month of
//!   events replayed;
//! - per push: the distinct engaged people, the distinct openers of each article and of any
//!   (bitmaps), and the histogram of screens read.
//!
//! They assume the events arrive in time order (events of the same instant in any order). An
//! event older than the newest one turns them off, and the report falls back to the batch
//! engine over the table until the owner rebuilds it in time order ([`Live::is_ordered`]).
//! A period in another time zone than the brand's is also answered by the batch engine.

use std::collections::BTreeMap;

use events::EventRef;
use jiff::ToSpan;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use roaring::RoaringBitmap;
use serde_json::{Value, json};

use crate::table::{NONE, UNFOLLOW, nanos, what};
use crate::{
    Figures, IndexError, PerPush, Period, Table, assemble, livestream_rows, pushes_in, ratio,
    report_table, unfollows_after,
};

/// The state of the follows at an instant.
#[derive(Default)]
struct State {
    following: RoaringBitmap,
    /// The source of each person's latest follow.
    source: Vec<u8>,
    /// Each person's actions since their latest follow (saturating).
    life: Vec<u8>,
}

impl State {
    fn grow(&mut self, p: usize) {
        if p >= self.source.len() {
            let n = (p + 1).max(self.source.len() * 2);
            self.source.resize(n, 0);
            self.life.resize(n, 0);
        }
    }

    fn follow(&mut self, p: u32, source: u8, life: u8) {
        self.grow(p as usize);
        self.following.insert(p);
        self.source[p as usize] = source;
        self.life[p as usize] = life;
    }

    fn act(&mut self, p: u32) {
        self.grow(p as usize);
        let c = &mut self.life[p as usize];
        *c = c.saturating_add(1);
    }
}

/// A calendar month of the brand: its first instant, who followed then and where the table's
/// follow changes stood, who passed 4 actions in it, and who acted in it.
struct Month {
    first: i64,
    following: RoaringBitmap,
    changes: usize,
    keen: RoaringBitmap,
    actors: RoaringBitmap,
}

#[derive(Default, Clone)]
struct Day {
    /// Followers by source, and the lifetime active among them, as the day began.
    start: Counts,
    follows: [u64; 5],
    unfollows: u64,
    kinds: [u64; what::COUNT],
    actors: RoaringBitmap,
}

#[derive(Default, Clone)]
struct PushRollup {
    engaged: RoaringBitmap,
    /// Articles 1..=8, then any other number.
    openers: [RoaringBitmap; 9],
    any: RoaringBitmap,
    /// Screens read, by value (in `f64::total_cmp` order), with their counts.
    screens: BTreeMap<u64, u32>,
}

/// Followers by the source of their latest follow, and the lifetime active among them.
#[derive(Default, Clone, Copy)]
struct Counts {
    members: [u64; 5],
    lifetime_active: [u64; 5],
}

/// A livestream's viewers (whenever they watched), the span of their views, the buyers from
/// it and its revenue.
#[derive(Default)]
struct LiveRollup {
    viewers: RoaringBitmap,
    views: (i64, i64),
    buyers: RoaringBitmap,
    revenue: f64,
}

/// `f64` as a `u64` ordered as `f64::total_cmp` orders the floats.
fn order_key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

fn from_order_key(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

pub struct Live {
    pub table: Table,
    tz_name: String,
    tz: TimeZone,
    ordered: bool,
    last_ts: i64,
    /// The local date of day 0, and the bounds and index of the latest day seen.
    first_day: Option<Date>,
    day: (i64, i64, usize),
    days: Vec<Day>,
    state: State,
    /// Each person's latest action instant and how many actions they made at it: a follow at
    /// that same instant counts them (the spec counts actions at or after the follow).
    last_act: Vec<(i64, u8)>,
    /// The follower count after each change of the table.
    following_after: Vec<u32>,
    unfollow_ts: Vec<i64>,
    months: Vec<Month>,
    next_month: i64,
    month_counts: Vec<u8>,
    pushes: Vec<PushRollup>,
    lives: Vec<LiveRollup>,
    /// Followers now by the source of their latest follow, and the lifetime active ones.
    counts: Counts,
}

impl Live {
    /// An empty live report for a brand in time zone `tz`.
    pub fn new(tz: &str) -> Result<Self, IndexError> {
        Ok(Self {
            table: Table::new(),
            tz_name: tz.to_owned(),
            tz: TimeZone::get(tz).map_err(|_| IndexError::TimeZone(tz.to_owned()))?,
            ordered: true,
            last_ts: i64::MIN,
            first_day: None,
            day: (0, 0, 0),
            days: Vec::new(),
            state: State::default(),
            last_act: Vec::new(),
            following_after: Vec::new(),
            unfollow_ts: Vec::new(),
            months: Vec::new(),
            next_month: i64::MIN,
            month_counts: Vec::new(),
            pushes: Vec::new(),
            lives: Vec::new(),
            counts: Counts::default(),
        })
    }

    /// Whether every event arrived in time order, so the rollups hold.
    pub fn is_ordered(&self) -> bool {
        self.ordered
    }

    fn start_of(&self, d: Date) -> i64 {
        d.to_zoned(self.tz.clone())
            .map(|z| nanos(z.timestamp()))
            .unwrap_or(i64::MAX)
    }

    fn local_date(&self, ts: i64) -> Date {
        jiff::Timestamp::from_nanosecond(i128::from(ts))
            .map(|t| t.to_zoned(self.tz.clone()).date())
            .unwrap_or(Date::MIN)
    }

    /// Moves the day and month bounds to `ts` (which is not older than the last event).
    fn advance(&mut self, ts: i64) {
        if self.first_day.is_none() {
            let date = self.local_date(ts);
            self.first_day = Some(date);
            self.day = (self.start_of(date), self.start_of(tomorrow(date)), 0);
            self.days.push(Day::default());
            let month = date.first_of_month();
            self.months.push(Month {
                first: self.start_of(month),
                following: RoaringBitmap::new(),
                changes: 0,
                keen: RoaringBitmap::new(),
                actors: RoaringBitmap::new(),
            });
            self.next_month = self.start_of(month.checked_add(1.month()).unwrap_or(Date::MAX));
        }
        while ts >= self.next_month {
            let first = self.next_month;
            self.months.push(Month {
                first,
                following: self.state.following.clone(),
                changes: self.table.change_ts.len(),
                keen: RoaringBitmap::new(),
                actors: RoaringBitmap::new(),
            });
            self.month_counts.fill(0);
            let date = self.local_date(first).first_of_month();
            self.next_month = self.start_of(date.checked_add(1.month()).unwrap_or(Date::MAX));
        }
        if ts >= self.day.1 {
            let date = self.local_date(ts);
            let index = self
                .first_day
                .and_then(|f| f.until(date).ok())
                .map_or(0, |span| span.get_days().max(0) as usize);
            self.day = (self.start_of(date), self.start_of(tomorrow(date)), index);
            if self.days.len() <= index {
                let start = self.counts;
                self.days.resize_with(index + 1, || Day {
                    start,
                    ..Day::default()
                });
            }
        }
    }

    /// Appends one event, keeping the rollups while the events come in time order.
    pub fn push(&mut self, e: EventRef<'_>) {
        let (changes, actions, opens, interactions, views, purchases) = (
            self.table.change_ts.len(),
            self.table.act_ts.len(),
            self.table.open_push.len(),
            self.table.interaction_push.len(),
            self.table.view_ts.len(),
            self.table.purchases.len(),
        );
        let ts = nanos(e.ts);
        if !self.ordered || ts < self.last_ts {
            self.ordered = false;
            self.table.push(e);
            return;
        }
        self.last_ts = ts;
        // Month snapshots are taken before the event that crosses into the month.
        self.advance(ts);
        self.table.push(e);
        let t = &self.table;
        let day = &mut self.days[self.day.2];
        if t.change_ts.len() > changes {
            let (p, s) = (t.change_person[changes], t.change_source[changes]);
            if p != NONE && self.state.following.contains(p) {
                let old = self.state.source[p as usize] as usize;
                self.counts.members[old] -= 1;
                if self.state.life[p as usize] > 4 {
                    self.counts.lifetime_active[old] -= 1;
                }
            }
            if s == UNFOLLOW {
                day.unfollows += 1;
                self.unfollow_ts.push(ts);
                if p != NONE {
                    self.state.following.remove(p);
                }
            } else {
                day.follows[s as usize] += 1;
                if p != NONE {
                    let life = match self.last_act.get(p as usize) {
                        Some((at, n)) if *at == ts => *n,
                        _ => 0,
                    };
                    self.state.follow(p, s, life);
                    self.counts.members[s as usize] += 1;
                    if life > 4 {
                        self.counts.lifetime_active[s as usize] += 1;
                    }
                }
            }
            self.following_after.push(self.state.following.len() as u32);
        }
        if t.act_ts.len() > actions {
            let (p, w) = (t.act_person[actions], t.act_what[actions]);
            day.kinds[w as usize] += 1;
            if p != NONE {
                day.actors.insert(p);
                if let Some(m) = self.months.last_mut() {
                    m.actors.insert(p);
                }
                self.state.act(p);
                if self.state.life[p as usize] == 5 && self.state.following.contains(p) {
                    self.counts.lifetime_active[self.state.source[p as usize] as usize] += 1;
                }
                let i = p as usize;
                if i >= self.last_act.len() {
                    let n = (i + 1).max(self.last_act.len() * 2);
                    self.last_act.resize(n, (i64::MIN, 0));
                    self.month_counts.resize(n, 0);
                }
                let last = &mut self.last_act[i];
                *last = if last.0 == ts {
                    (ts, last.1.saturating_add(1))
                } else {
                    (ts, 1)
                };
                let c = &mut self.month_counts[i];
                *c = c.saturating_add(1);
                if *c == 5
                    && let Some(m) = self.months.last_mut()
                {
                    m.keen.insert(p);
                }
            }
        }
        let rollup = |pushes: &mut Vec<PushRollup>, id: u32| -> usize {
            let id = id as usize;
            if pushes.len() <= id {
                pushes.resize_with(id + 1, PushRollup::default);
            }
            id
        };
        if t.open_push.len() > opens {
            let p = t.open_person[opens];
            if p != NONE {
                let id = rollup(&mut self.pushes, t.open_push[opens]);
                let a = t.open_article[opens];
                let r = &mut self.pushes[id];
                r.openers[if (1..=8).contains(&a) {
                    a as usize - 1
                } else {
                    8
                }]
                .insert(p);
                r.any.insert(p);
                *r.screens
                    .entry(order_key(t.open_screens[opens]))
                    .or_default() += 1;
            }
        }
        let live = |lives: &mut Vec<LiveRollup>, id: u32| -> usize {
            let id = id as usize;
            if lives.len() <= id {
                lives.resize_with(id + 1, || LiveRollup {
                    views: (i64::MAX, i64::MIN),
                    ..LiveRollup::default()
                });
            }
            id
        };
        if t.view_ts.len() > views && t.view_person[views] != NONE {
            let id = live(&mut self.lives, t.view_live[views]);
            let r = &mut self.lives[id];
            r.viewers.insert(t.view_person[views]);
            r.views = (r.views.0.min(ts), r.views.1.max(ts));
        }
        if t.purchases.len() > purchases && t.purchases[purchases].live != NONE {
            let b = t.purchases[purchases];
            let id = live(&mut self.lives, b.live);
            let r = &mut self.lives[id];
            r.revenue += b.amount;
            if b.person != NONE {
                r.buyers.insert(b.person);
            }
        }
        if t.interaction_push.len() > interactions {
            let p = t.interaction_person[interactions];
            if p != NONE {
                let id = rollup(&mut self.pushes, t.interaction_push[interactions]);
                self.pushes[id].engaged.insert(p);
            }
        }
    }

    /// Followers at `t`: those whose latest change before `t` is a follow.
    fn followers(&self, t: i64) -> usize {
        let i = self.table.change_ts.partition_point(|x| *x < t);
        i.checked_sub(1)
            .map_or(0, |i| self.following_after[i] as usize)
    }

    /// Who follows at instant `t`: the snapshot of the month it falls in, with that month's
    /// follow changes before `t` replayed.
    fn following_at(&self, t: i64) -> RoaringBitmap {
        if t > self.last_ts {
            return self.state.following.clone();
        }
        let m = self.months.partition_point(|m| m.first <= t);
        let Some(month) = m.checked_sub(1).map(|m| &self.months[m]) else {
            return RoaringBitmap::new();
        };
        let mut following = month.following.clone();
        let tb = &self.table;
        for c in month.changes..tb.change_ts.len() {
            if tb.change_ts[c] >= t {
                break;
            }
            let p = tb.change_person[c];
            if p != NONE {
                if tb.change_source[c] == UNFOLLOW {
                    following.remove(p);
                } else {
                    following.insert(p);
                }
            }
        }
        following
    }

    /// The days of `[from, to)` held in the rollups.
    fn days_of(&self, period: &Period) -> std::ops::Range<usize> {
        let Some(first) = self.first_day else {
            return 0..0;
        };
        let index = |d: Date| {
            first.until(d).map_or(0, |s| {
                s.get_days().clamp(0, self.days.len() as i32) as usize
            })
        };
        index(period.from)..index(period.to)
    }

    /// The report for `period`: from the rollups when they hold and the period is in the
    /// brand's time zone, otherwise by the batch engine over the table.
    pub fn report(&self, period: &Period) -> Result<Value, IndexError> {
        if !self.ordered || period.tz_name != self.tz_name {
            return report_table(&self.table, period);
        }
        let t = &self.table;
        let (start, end) = (nanos(period.start), nanos(period.end));
        let months = period.months_ns()?;
        let (pushes, _) = pushes_in(t, start, end);

        let days = &self.days[self.days_of(period)];
        let (mut new_follows, mut unfollows, mut by_source) = (0, 0, [0u64; 5]);
        let mut kinds = [0u64; what::COUNT];
        for d in days {
            for (s, n) in d.follows.iter().enumerate() {
                by_source[s] += n;
                new_follows += n;
            }
            unfollows += d.unfollows;
            for (k, n) in d.kinds.iter().enumerate() {
                kinds[k] += n;
            }
        }
        let at_push = pushes.iter().map(|(_, p)| self.followers(p.ts)).collect();
        let unfollows_after = unfollows_after(&self.unfollow_ts, &pushes);

        let month_figures = months
            .iter()
            .map(|(_, first, next)| {
                let followers = self.followers(*next);
                let active = match self.months.iter().position(|m| m.first == *first) {
                    None => 0,
                    Some(i) => {
                        let at_end = match self.months.get(i + 1) {
                            Some(m) if m.first == *next => &m.following,
                            _ => &self.state.following,
                        };
                        self.months[i].keen.intersection_len(at_end) as usize
                    }
                };
                (followers, active)
            })
            .collect();

        let (members, lifetime_active, inactive) = self.end_figures(period, end);
        let per_push = self.per_push(&pushes);
        Ok(assemble(
            period,
            &months,
            &pushes,
            Figures {
                followers_start: self.followers(start),
                followers_end: self.followers(end),
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
                livestream: self.livestream(start, end),
            },
        ))
    }

    /// Followers at the period's end by source, the lifetime active among them (the counts
    /// as the period's last day ended: the next day's start, or now), and the inactive ones.
    fn end_figures(&self, period: &Period, end: i64) -> ([usize; 5], [usize; 5], usize) {
        let acted = self.acted(period);
        let range = self.days_of(period);
        let counts = self
            .days
            .get(range.end)
            .filter(|_| end <= self.last_ts)
            .map_or(self.counts, |d| d.start);
        let following = self.following_at(end);
        let inactive = following.len() - following.intersection_len(&acted);
        (
            counts.members.map(|n| n as usize),
            counts.lifetime_active.map(|n| n as usize),
            inactive as usize,
        )
    }

    /// Who acted in the period: the months it covers whole, and its other days.
    fn acted(&self, period: &Period) -> RoaringBitmap {
        let range = self.days_of(period);
        let Some(first_day) = self.first_day else {
            return RoaringBitmap::new();
        };
        let index = |d: Date| {
            first_day.until(d).map_or(0, |s| {
                s.get_days().clamp(0, self.days.len() as i32) as usize
            })
        };
        let mut acted = RoaringBitmap::new();
        let mut covered = vec![false; range.len()];
        for m in &self.months {
            let first = self.local_date(m.first).first_of_month();
            let next = first.checked_add(1.month()).unwrap_or(Date::MAX);
            let (d0, d1) = (index(first), index(next));
            if range.start <= d0 && d1 <= range.end && d0 < d1 {
                acted |= &m.actors;
                covered[d0 - range.start..d1 - range.start].fill(true);
            }
        }
        for (i, day) in self.days[range].iter().enumerate() {
            if !covered[i] {
                acted |= &day.actors;
            }
        }
        acted
    }

    /// One row per livestream with a view in `[start, end)`, ordered by its id: from the
    /// rollups when all of its views fall inside or outside the period, otherwise from its
    /// views in the table.
    fn livestream(&self, start: i64, end: i64) -> Vec<Value> {
        let t = &self.table;
        let mut rows: Vec<(u32, u64, u64)> = Vec::new();
        for (l, r) in self.lives.iter().enumerate() {
            if r.viewers.is_empty() || r.views.1 < start || r.views.0 >= end {
                continue;
            }
            let viewers = if start <= r.views.0 && r.views.1 < end {
                r.viewers.clone()
            } else {
                t.view_ts
                    .iter()
                    .zip(&t.view_live)
                    .zip(&t.view_person)
                    .filter(|((ts, live), p)| {
                        **live == l as u32 && start <= **ts && **ts < end && **p != NONE
                    })
                    .map(|(_, p)| *p)
                    .collect()
            };
            if !viewers.is_empty() {
                rows.push((l as u32, viewers.len(), viewers.intersection_len(&r.buyers)));
            }
        }
        livestream_rows(t, rows, |l| self.lives[l as usize].revenue)
    }

    fn per_push(&self, pushes: &[(u32, crate::table::PushRow)]) -> PerPush {
        let empty = PushRollup::default();
        let of = |id: u32| self.pushes.get(id as usize).unwrap_or(&empty);
        let mut openers = Vec::with_capacity(pushes.len() * 9);
        let mut screens: BTreeMap<u64, u64> = BTreeMap::new();
        for (id, _) in pushes {
            let r = of(*id);
            openers.extend(r.openers.iter().map(|b| b.len() as usize));
            for (k, n) in &r.screens {
                *screens.entry(*k).or_default() += u64::from(*n);
            }
        }
        let total: u64 = screens.values().sum();
        let values: Vec<(f64, u64)> = screens
            .iter()
            .map(|(k, n)| (from_order_key(*k), *n))
            .collect();
        let reader_retention = (1..=10)
            .map(|k| {
                let n: u64 = values
                    .iter()
                    .filter(|(v, _)| *v >= k as f64)
                    .map(|(_, n)| n)
                    .sum();
                ratio(n as f64, total as f64)
            })
            .collect();
        // The value at a rank (0-based) of the sorted screens.
        let at_rank = |rank: u64| {
            let mut seen = 0;
            for (v, n) in &values {
                seen += n;
                if rank < seen {
                    return *v;
                }
            }
            0.0
        };
        let quantile = |p: f64| {
            if total == 0 {
                return Value::Null;
            }
            let pos = p * (total - 1) as f64;
            let (lo, hi) = (pos.floor(), pos.ceil());
            let (low, high) = (at_rank(lo as u64), at_rank(hi as u64));
            json!(low + (high - low) * (pos - lo))
        };
        PerPush {
            engaged: pushes
                .iter()
                .map(|(id, _)| of(*id).engaged.len() as usize)
                .collect(),
            openers,
            any_openers: pushes
                .iter()
                .map(|(id, _)| of(*id).any.len() as usize)
                .collect(),
            reader_retention,
            lose_20: quantile(0.2),
            lose_50: quantile(0.5),
        }
    }
}

fn tomorrow(d: Date) -> Date {
    d.tomorrow().unwrap_or(Date::MAX)
}
