//! The credit of an order and a month's statements, exactly as `spec/attribution.md` says.
//!
//! A [`Ledger`] holds what a brand knows (orders, returns, touches, book assignments, decided
//! disputes, exchange rates, its policy and targets); [`Ledger::credit`] says who is credited
//! with an order and why, and [`Ledger::month`] computes the month's statements and the entries
//! behind them.

use std::collections::{BTreeMap, HashMap};

use jiff::tz::TimeZone;
use serde::Serialize;

use crate::decimal::{Dec, weighted_sum_round};
use crate::model::*;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("order {order_id}: no {currency} exchange rate on or before {day}")]
    MissingRate {
        order_id: String,
        currency: String,
        day: jiff::civil::Date,
    },
}

/// Why an order is credited the way it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Why {
    /// A `pos` order rung up by an associate.
    SoldBy { associate: String },
    /// The latest eligible touch.
    LastTouch { touch: Touch },
    /// Every associate with an eligible touch, each with their latest one.
    Split { touches: Vec<Touch> },
    /// No eligible touch; the client's associate at the time (`book_credit`).
    Book { associate: String },
    /// Shares set by a decided dispute.
    Decided,
    /// An anonymous sale.
    Anonymous,
    /// No eligible touch (and no book credit).
    NoTouch,
}

/// Who shares an order's amounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shares {
    /// Credited to no one.
    Nobody,
    /// Equal shares among distinct associates, in e-mail order.
    Equal(Vec<String>),
    /// A decided dispute's fractions, in e-mail order.
    Fractions(Vec<(String, Dec)>),
}

impl Shares {
    /// The credited associates, in e-mail order (including any whose share may be 0).
    pub fn associates(&self) -> Vec<&str> {
        match self {
            Shares::Nobody => Vec::new(),
            Shares::Equal(v) => v.iter().map(String::as_str).collect(),
            Shares::Fractions(v) => v.iter().map(|(a, _)| a.as_str()).collect(),
        }
    }

    /// Divides an amount exactly: floors first, then one minor unit each in e-mail order
    /// until the shares add up.
    pub fn divide(&self, amount: i64) -> Vec<(&str, i64)> {
        let mut out: Vec<(&str, i64)> = match self {
            Shares::Nobody => return Vec::new(),
            Shares::Equal(v) => {
                let n = v.len() as i64;
                v.iter()
                    .map(|a| (a.as_str(), amount.div_euclid(n)))
                    .collect()
            }
            Shares::Fractions(v) => v
                .iter()
                .map(|(a, f)| (a.as_str(), f.mul_floor(amount)))
                .collect(),
        };
        let mut left = amount - out.iter().map(|(_, s)| s).sum::<i64>();
        let n = out.len();
        let mut i = 0;
        while left > 0 && n > 0 {
            out[i % n].1 += 1;
            left -= 1;
            i += 1;
        }
        out
    }
}

/// The credit of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credit {
    pub shares: Shares,
    pub why: Why,
}

impl Credit {
    fn nobody(why: Why) -> Self {
        Self {
            shares: Shares::Nobody,
            why,
        }
    }

    fn one(associate: &str, why: Why) -> Self {
        Self {
            shares: Shares::Equal(vec![associate.to_owned()]),
            why,
        }
    }
}

/// One associate's figures for a month (the spec's report entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub associate: String,
    pub sales: i64,
    pub returns: i64,
    pub net: i64,
    pub orders: i64,
    pub commission: i64,
    pub target: Option<i64>,
}

/// The spec's report of a month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub month: Month,
    pub currency: String,
    /// In leaderboard order: by net, highest first, then by e-mail.
    pub associates: Vec<Statement>,
    pub unattributed: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Sale,
    Return,
}

/// One credited amount behind a statement (or behind the unattributed bucket when
/// `associate` is `None`): what a statement's reader checks, line by line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub associate: Option<String>,
    pub kind: EntryKind,
    pub order_id: String,
    /// The return's id, for a return.
    pub return_id: Option<String>,
    pub source: Source,
    pub store: Option<String>,
    pub client: Option<String>,
    /// When the order was placed, or the return made.
    pub at: Millis,
    /// In minor units of the brand's currency; positive for returns too.
    pub amount: i64,
    pub why: Why,
}

/// A month's statements and the entries behind them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthFigures {
    pub report: Report,
    pub entries: Vec<Entry>,
}

/// A compact touch: when, which associate (interned), what kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    at: Millis,
    associate: u32,
    kind: TouchKind,
}

/// What a brand knows about its sales, in memory.
#[derive(Debug, Clone)]
pub struct Ledger {
    pub currency: String,
    pub tz: TimeZone,
    pub policy: Policy,
    pub targets: BTreeMap<Month, BTreeMap<String, i64>>,
    pub fx: FxTable,
    orders: HashMap<String, Order>,
    returns: Vec<Return>,
    return_ids: std::collections::HashSet<String>,
    touches: HashMap<String, Vec<Held>>,
    associates: Vec<String>,
    associate_ids: HashMap<String, u32>,
    assignments: HashMap<String, Vec<Assignment>>,
    decisions: HashMap<String, Decision>,
}

impl Ledger {
    pub fn new(currency: &str, tz: TimeZone, policy: Policy) -> Self {
        Self {
            currency: currency.to_owned(),
            tz,
            policy,
            targets: BTreeMap::new(),
            fx: FxTable::default(),
            orders: HashMap::new(),
            returns: Vec::new(),
            return_ids: Default::default(),
            touches: HashMap::new(),
            associates: Vec::new(),
            associate_ids: HashMap::new(),
            assignments: HashMap::new(),
            decisions: HashMap::new(),
        }
    }

    /// Adds an order; an order id seen before is ignored (returns false).
    pub fn add_order(&mut self, order: Order) -> bool {
        if self.orders.contains_key(&order.order_id) {
            return false;
        }
        self.orders.insert(order.order_id.clone(), order);
        true
    }

    pub fn order(&self, order_id: &str) -> Option<&Order> {
        self.orders.get(order_id)
    }

    pub fn orders(&self) -> impl Iterator<Item = &Order> {
        self.orders.values()
    }

    /// Adds a return; a return id seen before is ignored (returns false).
    pub fn add_return(&mut self, r: Return) -> bool {
        if !self.return_ids.insert(r.return_id.clone()) {
            return false;
        }
        self.returns.push(r);
        true
    }

    pub fn returns(&self) -> &[Return] {
        &self.returns
    }

    /// Adds a touch. The same touch twice is held once: no figure depends on how many times
    /// an identical touch was recorded.
    pub fn add_touch(&mut self, t: Touch) {
        let associate = match self.associate_ids.get(&t.associate) {
            Some(id) => *id,
            None => {
                let id = self.associates.len() as u32;
                self.associate_ids.insert(t.associate.clone(), id);
                self.associates.push(t.associate);
                id
            }
        };
        let held = Held {
            at: t.at,
            associate,
            kind: t.kind,
        };
        let v = self.touches.entry(t.client).or_default();
        let i = v.partition_point(|h| h.at <= held.at);
        if v[..i]
            .iter()
            .rev()
            .take_while(|h| h.at == held.at)
            .any(|h| *h == held)
        {
            return;
        }
        v.insert(i, held);
    }

    /// Records that the client is in this associate's book from `at` on.
    pub fn add_assignment(&mut self, client: &str, a: Assignment) {
        let v = self.assignments.entry(client.to_owned()).or_default();
        let i = v.partition_point(|x| x.at <= a.at);
        v.insert(i, a);
    }

    /// Sets an order's shares explicitly (a decided dispute), replacing any earlier decision.
    pub fn add_decision(&mut self, d: Decision) {
        self.decisions.insert(d.order_id.clone(), d);
    }

    pub fn set_targets(&mut self, month: Month, targets: BTreeMap<String, i64>) {
        self.targets.insert(month, targets);
    }

    fn touch(&self, client: &str, h: &Held) -> Touch {
        Touch {
            at: h.at,
            associate: self.associates[h.associate as usize].clone(),
            client: client.to_owned(),
            kind: h.kind,
        }
    }

    /// Who is credited with an order, and why.
    pub fn credit(&self, order: &Order) -> Credit {
        if let Some(d) = self.decisions.get(&order.order_id) {
            let mut shares = d.shares.clone();
            shares.sort_by(|a, b| a.0.cmp(&b.0));
            return Credit {
                shares: Shares::Fractions(shares),
                why: Why::Decided,
            };
        }
        if order.source == Source::Pos
            && let Some(by) = &order.sold_by
        {
            return Credit::one(
                by,
                Why::SoldBy {
                    associate: by.clone(),
                },
            );
        }
        let Some(client) = &order.client else {
            return Credit::nobody(Why::Anonymous);
        };
        let placed = order.placed_at;
        let held: &[Held] = self.touches.get(client).map_or(&[], Vec::as_slice);
        let end = held.partition_point(|h| h.at <= placed);
        let start = held[..end].partition_point(|h| h.at <= placed - self.policy.max_window_ms());
        let eligible = held[start..end]
            .iter()
            .filter(|h| placed - self.policy.window_days(h.kind) * DAY_MS < h.at);
        // The better of two touches: later, then the kind first in the spec's order, then the
        // smaller e-mail.
        let better = |a: &Held, b: &Held| {
            (
                a.at,
                std::cmp::Reverse(a.kind),
                std::cmp::Reverse(&self.associates[a.associate as usize]),
            ) > (
                b.at,
                std::cmp::Reverse(b.kind),
                std::cmp::Reverse(&self.associates[b.associate as usize]),
            )
        };
        match self.policy.model {
            Model::LastTouch => {
                let mut best: Option<&Held> = None;
                for h in eligible {
                    if best.is_none_or(|b| better(h, b)) {
                        best = Some(h);
                    }
                }
                if let Some(h) = best {
                    let t = self.touch(client, h);
                    return Credit::one(&t.associate.clone(), Why::LastTouch { touch: t });
                }
            }
            Model::Split => {
                let mut per: BTreeMap<&str, &Held> = BTreeMap::new();
                for h in eligible {
                    let who = self.associates[h.associate as usize].as_str();
                    match per.get(who) {
                        Some(b) if !better(h, b) => {}
                        _ => {
                            per.insert(who, h);
                        }
                    }
                }
                if !per.is_empty() {
                    let names = per.keys().map(|s| (*s).to_owned()).collect();
                    let touches = per.values().map(|h| self.touch(client, h)).collect();
                    return Credit {
                        shares: Shares::Equal(names),
                        why: Why::Split { touches },
                    };
                }
            }
        }
        if self.policy.book_credit
            && let Some(book) = self.assignments.get(client)
            && !book.is_empty()
        {
            let i = book.partition_point(|a| a.at <= placed);
            let a = if i == 0 { &book[0] } else { &book[i - 1] };
            if let Some(who) = &a.associate {
                return Credit::one(
                    who,
                    Why::Book {
                        associate: who.clone(),
                    },
                );
            }
        }
        Credit::nobody(Why::NoTouch)
    }

    fn rate(&self, order: &Order) -> Result<Dec, EngineError> {
        let day = day_of(order.placed_at, &self.tz);
        self.fx
            .rate(&self.currency, &order.currency, day)
            .ok_or_else(|| EngineError::MissingRate {
                order_id: order.order_id.clone(),
                currency: order.currency.clone(),
                day,
            })
    }

    /// A month's statements (in leaderboard order), the unattributed bucket, and every entry
    /// behind them.
    pub fn month(&self, month: Month) -> Result<MonthFigures, EngineError> {
        let (start, end) = month.bounds(&self.tz);
        let in_month = |at: Millis| start <= at && at < end;
        #[derive(Default)]
        struct Sum {
            sales: i64,
            returns: i64,
            orders: i64,
        }
        let mut sums: BTreeMap<String, Sum> = BTreeMap::new();
        let mut entries = Vec::new();
        let mut unattributed = 0i64;
        let mut sales: Vec<&Order> = self
            .orders
            .values()
            .filter(|o| in_month(o.placed_at))
            .collect();
        sales.sort_by(|a, b| (a.placed_at, &a.order_id).cmp(&(b.placed_at, &b.order_id)));
        for order in sales {
            let rate = self.rate(order)?;
            let credit = self.credit(order);
            let mut credited: BTreeMap<&str, i64> = credit
                .shares
                .associates()
                .into_iter()
                .map(|a| (a, 0))
                .collect();
            let mut total = 0i64;
            for line in &order.lines {
                let amount = rate.mul_round(line.amount);
                total += amount;
                for (who, share) in credit.shares.divide(amount) {
                    *credited.entry(who).or_default() += share;
                }
            }
            if credited.is_empty() {
                unattributed += total;
                entries.push(entry(
                    None,
                    EntryKind::Sale,
                    order,
                    None,
                    order.placed_at,
                    total,
                    &credit.why,
                ));
            }
            for (who, amount) in credited {
                let s = sums.entry(who.to_owned()).or_default();
                s.sales += amount;
                s.orders += 1;
                entries.push(entry(
                    Some(who),
                    EntryKind::Sale,
                    order,
                    None,
                    order.placed_at,
                    amount,
                    &credit.why,
                ));
            }
        }
        let mut returns: Vec<&Return> = self.returns.iter().filter(|r| in_month(r.at)).collect();
        returns.sort_by(|a, b| (a.at, &a.return_id).cmp(&(b.at, &b.return_id)));
        for r in returns {
            // The importer refuses a return of an unknown order; one that is not held here
            // cannot be credited to anyone and is left out.
            let Some(order) = self.orders.get(&r.order_id) else {
                continue;
            };
            let amount = self.rate(order)?.mul_round(r.amount);
            let credit = self.credit(order);
            let parts = credit.shares.divide(amount);
            if parts.is_empty() {
                unattributed -= amount;
                entries.push(entry(
                    None,
                    EntryKind::Return,
                    order,
                    Some(r),
                    r.at,
                    amount,
                    &credit.why,
                ));
            }
            for (who, share) in parts {
                sums.entry(who.to_owned()).or_default().returns += share;
                entries.push(entry(
                    Some(who),
                    EntryKind::Return,
                    order,
                    Some(r),
                    r.at,
                    share,
                    &credit.why,
                ));
            }
        }
        let targets = self.targets.get(&month);
        if let Some(t) = targets {
            for who in t.keys() {
                sums.entry(who.clone()).or_default();
            }
        }
        let mut associates: Vec<Statement> = sums
            .into_iter()
            .map(|(associate, s)| {
                let target = targets.and_then(|t| t.get(&associate).copied());
                let net = s.sales - s.returns;
                let mut terms = vec![(self.policy.base_rate, net)];
                if let Some(t) = target {
                    terms.push((self.policy.bonus_rate, (net - t).max(0)));
                }
                Statement {
                    associate,
                    sales: s.sales,
                    returns: s.returns,
                    net,
                    orders: s.orders,
                    commission: weighted_sum_round(&terms),
                    target,
                }
            })
            .collect();
        associates.sort_by(|a, b| {
            b.net
                .cmp(&a.net)
                .then_with(|| a.associate.cmp(&b.associate))
        });
        Ok(MonthFigures {
            report: Report {
                month,
                currency: self.currency.clone(),
                associates,
                unattributed,
            },
            entries,
        })
    }
}

fn entry(
    associate: Option<&str>,
    kind: EntryKind,
    order: &Order,
    ret: Option<&Return>,
    at: Millis,
    amount: i64,
    why: &Why,
) -> Entry {
    Entry {
        associate: associate.map(str::to_owned),
        kind,
        order_id: order.order_id.clone(),
        return_id: ret.map(|r| r.return_id.clone()),
        source: order.source,
        store: order.store.clone(),
        client: order.client.clone(),
        at,
        amount,
        why: why.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input;

    fn t(s: &str) -> Millis {
        input::instant(s).expect("instant")
    }

    fn ledger(policy: &str) -> Ledger {
        let p = input::policy(policy).expect("policy");
        let mut l = Ledger::new("CNY", TimeZone::get("Asia/Shanghai").expect("tz"), p.policy);
        for (m, t) in p.targets {
            l.set_targets(m, t);
        }
        l
    }

    fn order(l: &mut Ledger, json: serde_json::Value) {
        let o = input::order(1, &json.to_string()).expect("order");
        l.add_order(o);
    }

    fn touch(l: &mut Ledger, at: &str, who: &str, client: &str, kind: &str) {
        l.add_touch(Touch {
            at: t(at),
            associate: who.into(),
            client: client.into(),
            kind: TouchKind::parse(kind).expect("kind"),
        });
    }

    fn web(id: &str, client: Option<&str>, at: &str, amounts: &[i64]) -> serde_json::Value {
        let lines: Vec<_> = amounts
            .iter()
            .enumerate()
            .map(|(i, a)| serde_json::json!({"line": i + 1, "sku": "SKU", "qty": 1, "amount": a}))
            .collect();
        serde_json::json!({"order_id": id, "source": "ecommerce", "client": client, "placed_at": at,
            "currency": "CNY", "lines": lines})
    }

    fn month(l: &Ledger, m: &str) -> Report {
        l.month(Month::parse(m).expect("month"))
            .expect("report")
            .report
    }

    fn row<'a>(r: &'a Report, who: &str) -> &'a Statement {
        r.associates.iter().find(|s| s.associate == who).expect(who)
    }

    #[test]
    fn window_bounds_are_open_below_and_closed_above() {
        let mut l = ledger("{}");
        // share_click: 7 days. Exactly 7 × 24 h before is out; exactly at placed_at is in.
        touch(
            &mut l,
            "2026-01-03T12:00:00+08:00",
            "a@x.example",
            "C1",
            "share_click",
        );
        order(
            &mut l,
            web("O1", Some("C1"), "2026-01-10T12:00:00+08:00", &[100]),
        );
        touch(
            &mut l,
            "2026-01-20T12:00:00+08:00",
            "b@x.example",
            "C2",
            "share_click",
        );
        order(
            &mut l,
            web("O2", Some("C2"), "2026-01-20T12:00:00+08:00", &[200]),
        );
        touch(
            &mut l,
            "2026-01-03T12:00:00.001+08:00",
            "c@x.example",
            "C3",
            "share_click",
        );
        order(
            &mut l,
            web("O3", Some("C3"), "2026-01-10T12:00:00+08:00", &[300]),
        );
        let r = month(&l, "2026-01");
        assert_eq!(r.unattributed, 100);
        assert_eq!(row(&r, "b@x.example").sales, 200);
        assert_eq!(row(&r, "c@x.example").sales, 300);
        assert!(r.associates.iter().all(|s| s.associate != "a@x.example"));
    }

    #[test]
    fn last_touch_ties_go_to_the_kind_then_the_smaller_email() {
        let mut l = ledger("{}");
        let at = "2026-01-09T10:00:00+08:00";
        touch(&mut l, at, "a@x.example", "C1", "broadcast");
        touch(&mut l, at, "z@x.example", "C1", "appointment");
        touch(&mut l, at, "b@x.example", "C1", "message");
        order(
            &mut l,
            web("O1", Some("C1"), "2026-01-09T11:00:00+08:00", &[1000]),
        );
        touch(&mut l, at, "y@x.example", "C2", "message");
        touch(&mut l, at, "m@x.example", "C2", "message");
        order(
            &mut l,
            web("O2", Some("C2"), "2026-01-09T11:00:00+08:00", &[10]),
        );
        let r = month(&l, "2026-01");
        assert_eq!(row(&r, "z@x.example").sales, 1000);
        assert_eq!(row(&r, "m@x.example").sales, 10);
    }

    #[test]
    fn split_remainders_go_in_email_order_line_by_line() {
        let mut l = ledger(r#"{"model": "split"}"#);
        touch(
            &mut l,
            "2026-01-08T10:00:00+08:00",
            "c@x.example",
            "C1",
            "message",
        );
        touch(
            &mut l,
            "2026-01-08T11:00:00+08:00",
            "a@x.example",
            "C1",
            "share_click",
        );
        touch(
            &mut l,
            "2026-01-08T12:00:00+08:00",
            "b@x.example",
            "C1",
            "message",
        );
        order(
            &mut l,
            web("O1", Some("C1"), "2026-01-09T10:00:00+08:00", &[100, 2]),
        );
        let r = month(&l, "2026-01");
        // 100 → 34, 33, 33; 2 → 1, 1, 0.
        assert_eq!(row(&r, "a@x.example").sales, 35);
        assert_eq!(row(&r, "b@x.example").sales, 34);
        assert_eq!(row(&r, "c@x.example").sales, 33);
        assert!(r.associates.iter().all(|s| s.orders == 1));
    }

    #[test]
    fn sold_by_wins_and_anonymous_sales_are_unattributed() {
        let mut l = ledger("{}");
        touch(
            &mut l,
            "2026-01-08T10:00:00+08:00",
            "a@x.example",
            "C1",
            "appointment",
        );
        order(
            &mut l,
            serde_json::json!({"order_id": "P1", "source": "pos", "client": "C1", "store": "SH01",
            "placed_at": "2026-01-09T10:00:00+08:00", "currency": "CNY", "sold_by": "s@x.example",
            "lines": [{"line": 1, "sku": "A", "qty": 1, "amount": 500}]}),
        );
        order(
            &mut l,
            serde_json::json!({"order_id": "P2", "source": "pos", "client": null, "store": "SH01",
            "placed_at": "2026-01-09T10:00:00+08:00", "currency": "CNY", "sold_by": "s@x.example",
            "lines": [{"line": 1, "sku": "A", "qty": 1, "amount": 50}]}),
        );
        order(&mut l, web("W1", None, "2026-01-09T10:00:00+08:00", &[7]));
        let r = month(&l, "2026-01");
        assert_eq!(row(&r, "s@x.example").sales, 550);
        assert_eq!(row(&r, "s@x.example").orders, 2);
        assert_eq!(r.unattributed, 7);
        assert_eq!(r.associates.len(), 1);
    }

    #[test]
    fn book_credit_takes_the_associate_at_the_time_or_the_first() {
        let mut l = ledger(r#"{"book_credit": true}"#);
        l.add_assignment(
            "C1",
            Assignment {
                at: t("2026-01-05T00:00:00Z"),
                associate: Some("a@x.example".into()),
            },
        );
        l.add_assignment(
            "C1",
            Assignment {
                at: t("2026-01-20T00:00:00Z"),
                associate: Some("b@x.example".into()),
            },
        );
        order(
            &mut l,
            web("O1", Some("C1"), "2026-01-02T10:00:00+08:00", &[1]),
        );
        order(
            &mut l,
            web("O2", Some("C1"), "2026-01-10T10:00:00+08:00", &[10]),
        );
        order(
            &mut l,
            web("O3", Some("C1"), "2026-01-25T10:00:00+08:00", &[100]),
        );
        order(
            &mut l,
            web("O4", Some("C9"), "2026-01-25T10:00:00+08:00", &[1000]),
        );
        let r = month(&l, "2026-01");
        assert_eq!(row(&r, "a@x.example").sales, 11);
        assert_eq!(row(&r, "b@x.example").sales, 100);
        assert_eq!(r.unattributed, 1000);
    }

    #[test]
    fn returns_follow_their_order_into_their_own_month() {
        let mut l = ledger(r#"{"model": "split", "targets": {"2026-02": {"a@x.example": 0}}}"#);
        touch(
            &mut l,
            "2026-01-30T10:00:00+08:00",
            "a@x.example",
            "C1",
            "message",
        );
        touch(
            &mut l,
            "2026-01-30T11:00:00+08:00",
            "b@x.example",
            "C1",
            "message",
        );
        order(
            &mut l,
            web("O1", Some("C1"), "2026-01-31T10:00:00+08:00", &[101]),
        );
        order(&mut l, web("O2", None, "2026-01-31T10:00:00+08:00", &[40]));
        l.add_return(Return {
            return_id: "R1".into(),
            order_id: "O1".into(),
            line: 1,
            qty: 1,
            amount: 51,
            at: t("2026-02-01T00:00:00+08:00"),
        });
        l.add_return(Return {
            return_id: "R2".into(),
            order_id: "O2".into(),
            line: 1,
            qty: 1,
            amount: 40,
            at: t("2026-02-02T00:00:00+08:00"),
        });
        let jan = month(&l, "2026-01");
        assert_eq!(
            (
                row(&jan, "a@x.example").sales,
                row(&jan, "b@x.example").sales
            ),
            (51, 50)
        );
        let feb = month(&l, "2026-02");
        assert_eq!(
            (
                row(&feb, "a@x.example").returns,
                row(&feb, "b@x.example").returns
            ),
            (26, 25)
        );
        assert_eq!(row(&feb, "a@x.example").net, -26);
        assert_eq!(row(&feb, "a@x.example").orders, 0);
        // −26 × 0.02 = −0.52 → −1; the bonus term is max(0, −26 − 0) = 0.
        assert_eq!(row(&feb, "a@x.example").commission, -1);
        assert_eq!(row(&feb, "a@x.example").target, Some(0));
        assert_eq!(feb.unattributed, -40);
        // Leaderboard: b (−25) above a (−26).
        assert_eq!(feb.associates[0].associate, "b@x.example");
    }

    #[test]
    fn foreign_currencies_use_the_rate_of_the_brand_day() {
        let mut l = ledger("{}");
        let d = |s: &str| input::parse_date(s).expect("date");
        l.fx.insert(FxRate {
            date: d("2026-01-09"),
            currency: "EUR".into(),
            rate: "7.8125".parse().expect("r"),
        });
        l.fx.insert(FxRate {
            date: d("2026-01-10"),
            currency: "EUR".into(),
            rate: "8".parse().expect("r"),
        });
        touch(
            &mut l,
            "2026-01-09T10:00:00Z",
            "a@x.example",
            "C1",
            "message",
        );
        // 16:30Z on the 9th is 00:30 on the 10th in Shanghai: the rate of the 10th.
        let mut o = web("O1", Some("C1"), "2026-01-09T16:30:00Z", &[100]);
        o["currency"] = "EUR".into();
        order(&mut l, o);
        let mut o = web("O2", Some("C1"), "2026-01-09T15:30:00Z", &[100]);
        o["currency"] = "EUR".into();
        order(&mut l, o);
        let r = month(&l, "2026-01");
        // 800 + 781.25 → 781 (half to even does not apply: .25 rounds down).
        assert_eq!(row(&r, "a@x.example").sales, 1581);
        let mut o = web("O3", Some("C1"), "2026-01-08T10:00:00Z", &[100]);
        o["currency"] = "EUR".into();
        order(&mut l, o);
        assert!(matches!(
            l.month(Month::parse("2026-01").expect("m")),
            Err(EngineError::MissingRate { .. })
        ));
    }

    #[test]
    fn commission_with_a_target_and_a_decided_dispute() {
        let mut l = ledger(
            r#"{"base_rate": "0.02", "bonus_rate": "0.01", "targets": {"2026-01": {"a@x.example": 1000}}}"#,
        );
        touch(
            &mut l,
            "2026-01-08T10:00:00+08:00",
            "a@x.example",
            "C1",
            "message",
        );
        order(
            &mut l,
            web("O1", Some("C1"), "2026-01-09T10:00:00+08:00", &[1250]),
        );
        let r = month(&l, "2026-01");
        // 0.02 × 1250 + 0.01 × 250 = 27.5 → 28.
        assert_eq!(row(&r, "a@x.example").commission, 28);
        l.add_decision(Decision {
            order_id: "O1".into(),
            shares: vec![
                ("b@x.example".into(), "0.333333333333".parse().expect("f")),
                ("a@x.example".into(), "0.666666666667".parse().expect("f")),
            ],
        });
        let r = month(&l, "2026-01");
        // floor(1250 × 0.666666666667) = 833, floor(1250 × 0.333333333333) = 416; one left → a.
        assert_eq!(row(&r, "a@x.example").sales, 834);
        assert_eq!(row(&r, "b@x.example").sales, 416);
        assert_eq!(row(&r, "a@x.example").target, Some(1000));
        assert_eq!(row(&r, "b@x.example").target, None);
    }

    #[test]
    fn an_associate_with_only_a_target_is_listed_and_months_bound_in_the_brand_zone() {
        let mut l = ledger(r#"{"targets": {"2026-02": {"t@x.example": 5}}}"#);
        touch(
            &mut l,
            "2026-01-31T10:00:00Z",
            "a@x.example",
            "C1",
            "message",
        );
        // 16:00Z on 31 January is midnight on 1 February in Shanghai.
        order(&mut l, web("O1", Some("C1"), "2026-01-31T16:00:00Z", &[10]));
        order(
            &mut l,
            web("O2", Some("C1"), "2026-01-31T15:59:59.999Z", &[1]),
        );
        let jan = month(&l, "2026-01");
        assert_eq!(row(&jan, "a@x.example").sales, 1);
        let feb = month(&l, "2026-02");
        assert_eq!(row(&feb, "a@x.example").sales, 10);
        let t = row(&feb, "t@x.example");
        assert_eq!(
            (t.sales, t.orders, t.commission, t.target),
            (0, 0, 0, Some(5))
        );
    }
}
