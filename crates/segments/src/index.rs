//! The facts of a brand's clients as roaring bitmaps over dense ids (a client's position in
//! ascending client-id order), and the evaluation of segment expressions over them.

use std::collections::HashMap;

use roaring::RoaringBitmap;

use crate::expr::{Cmp, DateField, Expr, Month, Term, When};

const DAY_MS: i64 = 86_400_000;

/// What segments can ask about one client. Names are compared case-insensitively.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub client_id: i64,
    pub tags: Vec<String>,
    pub tier: Option<String>,
    /// The store's code.
    pub store: Option<String>,
    pub city: Option<String>,
    pub language: Option<String>,
    pub associate: Option<i64>,
    pub spend_minor: i64,
    /// Milliseconds since the epoch.
    pub last_purchase: Option<i64>,
    pub last_interaction: Option<i64>,
    /// 1 to 12.
    pub birth_month: Option<u8>,
    /// Channels with marketing consent in force.
    pub consents: Vec<String>,
    /// Channels on which the client withdrew marketing consent (opted out).
    pub withdrawn: Vec<String>,
    /// Channel identities: `wecom`, `wechat_oa`, `whatsapp`, `crm`.
    pub channels: Vec<String>,
}

/// When a segment is evaluated, and in which time zone its dates are read.
#[derive(Debug, Clone)]
pub struct EvalContext {
    pub now_ms: i64,
    pub tz: jiff::tz::TimeZone,
}

impl EvalContext {
    fn day_start(&self, date: jiff::civil::Date) -> i64 {
        date.to_zoned(self.tz.clone())
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(i64::MIN)
    }
    fn month(&self, ahead: i8) -> u8 {
        let ts =
            jiff::Timestamp::from_millisecond(self.now_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let m = ts.to_zoned(self.tz.clone()).month();
        ((m - 1 + ahead).rem_euclid(12) + 1) as u8
    }
}

/// Values sorted, with the ids below each bucket boundary kept as a bitmap, so that "below v"
/// is one bitmap copy plus at most one bucket of inserts.
#[derive(Debug, Default)]
struct RangeIndex {
    has: RoaringBitmap,
    sorted: Vec<(i64, u32)>,
    starts: Vec<usize>,
    prefix: Vec<RoaringBitmap>,
}

impl RangeIndex {
    fn build(mut values: Vec<(i64, u32)>) -> Self {
        values.sort_unstable();
        let n = values.len();
        let bucket = (n / 64).max(1024);
        let mut starts = Vec::new();
        let mut prefix = Vec::new();
        let mut acc = RoaringBitmap::new();
        let mut has = RoaringBitmap::new();
        let mut s = 0;
        while s < n || starts.is_empty() {
            starts.push(s);
            prefix.push(acc.clone());
            let e = (s + bucket).min(n);
            for (_, d) in &values[s..e] {
                acc.insert(*d);
                has.insert(*d);
            }
            if e == s {
                break;
            }
            s = e;
        }
        Self {
            has,
            sorted: values,
            starts,
            prefix,
        }
    }

    /// The ids whose value is below `v`.
    fn below(&self, v: i64) -> RoaringBitmap {
        let p = self.sorted.partition_point(|(x, _)| *x < v);
        let k = self.starts.partition_point(|s| *s <= p).saturating_sub(1);
        let mut bm = self.prefix.get(k).cloned().unwrap_or_default();
        let from = self.starts.get(k).copied().unwrap_or(0);
        bm.extend(self.sorted[from..p].iter().map(|(_, d)| *d));
        bm
    }

    fn at_least(&self, v: i64) -> RoaringBitmap {
        &self.has - &self.below(v)
    }

    fn cmp(&self, cmp: Cmp, v: i64) -> RoaringBitmap {
        let next = v.saturating_add(1);
        match cmp {
            Cmp::Lt => self.below(v),
            Cmp::Le => self.below(next),
            Cmp::Ge => self.at_least(v),
            Cmp::Gt => self.at_least(next),
            Cmp::Eq => &self.below(next) - &self.below(v),
        }
    }

    /// Values in [from, to).
    fn between(&self, from: i64, to: i64) -> RoaringBitmap {
        &self.below(to) - &self.below(from)
    }
}

/// A brand's clients, indexed for segments.
#[derive(Debug, Default)]
pub struct SegmentIndex {
    ids: Vec<i64>,
    all: RoaringBitmap,
    tags: HashMap<String, RoaringBitmap>,
    tiers: HashMap<String, RoaringBitmap>,
    stores: HashMap<String, RoaringBitmap>,
    cities: HashMap<String, RoaringBitmap>,
    languages: HashMap<String, RoaringBitmap>,
    associates: HashMap<i64, RoaringBitmap>,
    consents: HashMap<String, RoaringBitmap>,
    withdrawn: HashMap<String, RoaringBitmap>,
    channels: HashMap<String, RoaringBitmap>,
    /// Per dense id: the associate (0: none) and the store (an index into `store_names`).
    associate_of: Vec<i64>,
    store_of: Vec<u32>,
    store_names: Vec<String>,
    birthdays: [RoaringBitmap; 12],
    spend: RangeIndex,
    last_purchase: RangeIndex,
    last_interaction: RangeIndex,
}

fn add(map: &mut HashMap<String, RoaringBitmap>, key: &str, d: u32) {
    let k = key.trim().to_lowercase();
    if let Some(bm) = map.get_mut(&k) {
        bm.insert(d);
    } else {
        let mut bm = RoaringBitmap::new();
        bm.insert(d);
        map.insert(k, bm);
    }
}

impl SegmentIndex {
    /// Indexes the clients (in any order; a client id given twice keeps its last facts).
    pub fn build(mut facts: Vec<Facts>) -> Self {
        facts.sort_by_key(|f| f.client_id);
        facts.dedup_by(|later, earlier| {
            if later.client_id == earlier.client_id {
                std::mem::swap(later, earlier);
                true
            } else {
                false
            }
        });
        let mut ix = SegmentIndex::default();
        let mut spend = Vec::with_capacity(facts.len());
        let mut purchase = Vec::new();
        let mut interaction = Vec::new();
        for (d, f) in facts.iter().enumerate() {
            let Ok(d) = u32::try_from(d) else { break };
            ix.ids.push(f.client_id);
            ix.all.insert(d);
            for t in &f.tags {
                add(&mut ix.tags, t, d);
            }
            if let Some(v) = &f.tier {
                add(&mut ix.tiers, v, d);
            }
            if let Some(v) = &f.store {
                add(&mut ix.stores, v, d);
            }
            if let Some(v) = &f.city {
                add(&mut ix.cities, v, d);
            }
            if let Some(v) = &f.language {
                add(&mut ix.languages, v, d);
            }
            if let Some(a) = f.associate {
                ix.associates.entry(a).or_default().insert(d);
            }
            ix.associate_of.push(f.associate.unwrap_or(0));
            let store = match &f.store {
                Some(code) => match ix.store_names.iter().position(|s| s == code) {
                    Some(i) => i as u32,
                    None => {
                        ix.store_names.push(code.clone());
                        (ix.store_names.len() - 1) as u32
                    }
                },
                None => u32::MAX,
            };
            ix.store_of.push(store);
            for c in &f.consents {
                add(&mut ix.consents, c, d);
            }
            for c in &f.withdrawn {
                add(&mut ix.withdrawn, c, d);
            }
            for c in &f.channels {
                add(&mut ix.channels, c, d);
            }
            if let Some(m) = f.birth_month.filter(|m| (1..=12).contains(m)) {
                ix.birthdays[usize::from(m - 1)].insert(d);
            }
            spend.push((f.spend_minor, d));
            if let Some(t) = f.last_purchase {
                purchase.push((t, d));
            }
            if let Some(t) = f.last_interaction {
                interaction.push((t, d));
            }
        }
        ix.spend = RangeIndex::build(spend);
        ix.last_purchase = RangeIndex::build(purchase);
        ix.last_interaction = RangeIndex::build(interaction);
        ix
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Every indexed client.
    pub fn all(&self) -> &RoaringBitmap {
        &self.all
    }

    /// The dense id of a client.
    pub fn dense(&self, client_id: i64) -> Option<u32> {
        self.ids
            .binary_search(&client_id)
            .ok()
            .and_then(|i| u32::try_from(i).ok())
    }

    /// The client of a dense id.
    pub fn client_id(&self, dense: u32) -> Option<i64> {
        self.ids.get(dense as usize).copied()
    }

    /// The client's associate.
    pub fn associate_of(&self, dense: u32) -> Option<i64> {
        self.associate_of
            .get(dense as usize)
            .copied()
            .filter(|a| *a != 0)
    }

    /// The code of the client's store.
    pub fn store_of(&self, dense: u32) -> Option<&str> {
        self.store_of
            .get(dense as usize)
            .and_then(|i| self.store_names.get(*i as usize))
            .map(String::as_str)
    }

    /// The marketing consent in force on a channel: granted, withdrawn, or never given.
    pub fn consent_of(&self, dense: u32, channel: &str) -> Option<bool> {
        if self
            .consents
            .get(channel)
            .is_some_and(|b| b.contains(dense))
        {
            Some(true)
        } else if self
            .withdrawn
            .get(channel)
            .is_some_and(|b| b.contains(dense))
        {
            Some(false)
        } else {
            None
        }
    }

    /// Whether the client can be reached on a channel.
    pub fn reachable(&self, dense: u32, kind: &str) -> bool {
        self.channels.get(kind).is_some_and(|b| b.contains(dense))
    }

    /// The clients of a set of dense ids, ascending.
    pub fn client_ids(&self, set: &RoaringBitmap) -> Vec<i64> {
        set.iter()
            .filter_map(|d| self.ids.get(d as usize).copied())
            .collect()
    }

    /// The bitmap of a set of clients (unknown ones are left out).
    pub fn of_clients(&self, clients: &[i64]) -> RoaringBitmap {
        clients.iter().filter_map(|c| self.dense(*c)).collect()
    }

    /// How many clients match.
    pub fn count(&self, expr: &Expr, ctx: &EvalContext) -> u64 {
        self.evaluate(expr, ctx).len()
    }

    /// The clients who match, as dense ids.
    pub fn evaluate(&self, expr: &Expr, ctx: &EvalContext) -> RoaringBitmap {
        match expr {
            Expr::Term { term } => self.term(term, ctx),
            Expr::Not { term } => &self.all - &self.evaluate(term, ctx),
            Expr::Or { terms } => {
                let mut acc = RoaringBitmap::new();
                for t in terms {
                    acc |= self.evaluate(t, ctx);
                }
                acc
            }
            Expr::And { terms } => {
                // Positive terms first (intersections shrink), negations subtracted last.
                let (neg, pos): (Vec<&Expr>, Vec<&Expr>) =
                    terms.iter().partition(|t| matches!(t, Expr::Not { .. }));
                let mut acc = match pos.first() {
                    Some(first) => self.evaluate(first, ctx),
                    None => self.all.clone(),
                };
                for t in pos.iter().skip(1) {
                    if acc.is_empty() {
                        return acc;
                    }
                    acc &= self.evaluate(t, ctx);
                }
                for t in neg {
                    if let Expr::Not { term } = t {
                        acc -= self.evaluate(term, ctx);
                    }
                }
                acc
            }
        }
    }

    fn named(map: &HashMap<String, RoaringBitmap>, key: &str) -> RoaringBitmap {
        map.get(key).cloned().unwrap_or_default()
    }

    fn term(&self, term: &Term, ctx: &EvalContext) -> RoaringBitmap {
        match term {
            Term::Tag { value } => Self::named(&self.tags, value),
            Term::Tier { value } => Self::named(&self.tiers, value),
            Term::Store { value } => Self::named(&self.stores, value),
            Term::City { value } => Self::named(&self.cities, value),
            Term::Language { value } => Self::named(&self.languages, value),
            Term::Sa { id } => self.associates.get(id).cloned().unwrap_or_default(),
            Term::Consent { channel } => Self::named(&self.consents, channel),
            Term::Channel { kind } => Self::named(&self.channels, kind),
            Term::Spend { cmp, minor } => self.spend.cmp(*cmp, *minor),
            Term::Birthday { month } => {
                let m = match month {
                    Month::Of(m) => *m,
                    Month::ThisMonth => ctx.month(0),
                    Month::NextMonth => ctx.month(1),
                };
                self.birthdays
                    .get(usize::from(m.saturating_sub(1)))
                    .cloned()
                    .unwrap_or_default()
            }
            Term::Date { which, when } => {
                let r = match which {
                    DateField::LastPurchase => &self.last_purchase,
                    DateField::LastInteraction => &self.last_interaction,
                };
                match when {
                    When::WithinDays { days } => {
                        r.at_least(ctx.now_ms.saturating_sub(i64::from(*days) * DAY_MS))
                    }
                    When::Date { cmp, date } => {
                        let start = ctx.day_start(*date);
                        let next = date
                            .tomorrow()
                            .map(|d| ctx.day_start(d))
                            .unwrap_or(i64::MAX);
                        match cmp {
                            Cmp::Lt => r.below(start),
                            Cmp::Le => r.below(next),
                            Cmp::Ge => r.at_least(start),
                            Cmp::Gt => r.at_least(next),
                            Cmp::Eq => r.between(start, next),
                        }
                    }
                }
            }
        }
    }
}
