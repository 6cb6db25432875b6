//! Independent reference implementation of `shared/spec/attribution.md`,
//! derived from the spec text alone, for tests. Plain and slow on purpose.
//!
//! Readings chosen where the spec could be read more than one way:
//! - "e-mail order" / "smallest e-mail": plain byte-wise ascending order of the
//!   e-mail strings, no case folding.
//! - A window of d days is exactly d × 86 400 s; eligible iff
//!   placed_at − window < at ≤ placed_at (instants compared, not strings).
//! - `sold_by` is only honoured on `pos` orders (rule 1); on other sources it is ignored.
//! - Split and decided shares are computed per order line (converted amount) and per
//!   return (converted amount); remainders go one unit each to the associates in
//!   ascending e-mail order, starting again from the first if needed.
//! - A return's converted amount is round_half_even(return.amount × the order's rate),
//!   computed independently (not a proportion of the line's converted amount).
//! - Book credit: the assignment entry with the latest instant ≤ placed_at applies
//!   (an entry exactly at placed_at applies); entries at the same instant: the later one
//!   in the slice wins. An order before the client's first entry goes to that first
//!   entry's associate (if that first entry is "unassigned", the order is unattributed).
//!   A client with no entries, or unassigned at placed_at, gives unattributed.
//! - `orders` counts the month's orders in which the associate is credited (even with
//!   shares of 0), including every associate named in a decided dispute.
//! - An associate is listed when credited (even with 0) on an order placed in the
//!   month, or on the order of a return made in the month, or has a target for the month.
//! - Leaderboard: `net` descending, then e-mail ascending.
//! - Commission without a target: base_rate × net only. Rounded half to even, also negative.
//! - Several decisions for the same order: the last one in the slice wins.
//! - Duplicate order_id / return_id: the first one seen wins.
//! - The exchange rate for a day is the entry with the latest date ≤ that day; the brand's
//!   own currency always has rate 1. Two entries for the same currency and date with
//!   different rates are treated as bad input (panic).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

pub struct RefInput<'a> {
    /// the brand's currency, e.g. "CNY"
    pub brand_currency: &'a str,
    /// the brand's IANA time zone, e.g. "Asia/Shanghai"
    pub brand_time_zone: &'a str,
    /// the spec's JSON Lines, one object per non-empty line
    pub orders_jsonl: &'a str,
    pub returns_jsonl: &'a str,
    pub touches_jsonl: &'a str,
    pub fx_jsonl: &'a str,
    /// the spec's policy file, or None for all defaults
    pub policy_json: Option<&'a str>,
    /// assignment history: (client CRM id, Some(associate e-mail) or None for "unassigned", from RFC 3339 instant).
    /// From that instant on, the client is assigned to that associate (until the client's next entry).
    pub assignments: &'a [(String, Option<String>, String)],
    /// decided disputes: (order_id, [(associate e-mail, fraction as a decimal string like "0.5")]); the fractions add up to 1
    pub decisions: &'a [(String, Vec<(String, String)>)],
}

// ---------------------------------------------------------------------------
// Exact decimals: value = mant / 10^scale

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Dec {
    mant: i128,
    scale: u32,
}

fn pow10(n: u32) -> i128 {
    10i128.checked_pow(n).expect("pow10 overflow")
}

fn parse_dec(s: &str) -> Dec {
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    assert!(
        !(int_part.is_empty() && frac_part.is_empty()),
        "bad decimal {s:?}"
    );
    assert!(
        int_part.chars().all(|c| c.is_ascii_digit())
            && frac_part.chars().all(|c| c.is_ascii_digit()),
        "bad decimal {s:?}"
    );
    let mut mant: i128 = 0;
    for c in int_part.chars().chain(frac_part.chars()) {
        mant = mant
            .checked_mul(10)
            .and_then(|m| m.checked_add(i128::from(c.to_digit(10).unwrap())))
            .expect("decimal overflow");
    }
    if neg {
        mant = -mant;
    }
    Dec {
        mant,
        scale: u32::try_from(frac_part.len()).unwrap(),
    }
}

/// A decimal given in JSON: a string, or (tolerated) a plain number.
fn dec_from_json(v: &Value, what: &str) -> Dec {
    match v {
        Value::String(s) => parse_dec(s),
        Value::Number(n) => {
            let s = n.to_string();
            assert!(
                !s.contains(['e', 'E']),
                "{what}: cannot read number {s} exactly"
            );
            parse_dec(&s)
        }
        _ => panic!("{what}: expected a decimal string, got {v}"),
    }
}

/// round half to even of num / den, den > 0, for any sign of num.
fn round_half_even_div(num: i128, den: i128) -> i128 {
    assert!(den > 0);
    let q = num.div_euclid(den); // floor
    let r = num.rem_euclid(den); // 0 <= r < den
    let twice = r.checked_mul(2).expect("overflow");
    let round_up = twice > den || (twice == den && q.rem_euclid(2) == 1);
    if round_up { q + 1 } else { q }
}

fn floor_div(num: i128, den: i128) -> i128 {
    assert!(den > 0);
    num.div_euclid(den)
}

/// round_half_even(amount × rate)
fn convert(amount: i128, rate: Dec) -> i128 {
    round_half_even_div(
        amount.checked_mul(rate.mant).expect("overflow"),
        pow10(rate.scale),
    )
}

// ---------------------------------------------------------------------------
// Inputs

fn ts(s: &str) -> Timestamp {
    s.parse::<Timestamp>()
        .unwrap_or_else(|e| panic!("bad RFC 3339 instant {s:?}: {e}"))
}

fn ns(t: Timestamp) -> i128 {
    t.as_nanosecond()
}

fn jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}"))
        })
        .collect()
}

fn get_str<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("missing string {key:?} in {v}"))
}

fn get_opt_str(v: &Value, key: &str) -> Option<String> {
    match v.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => panic!("{key:?} must be a string or null, got {other}"),
    }
}

fn get_int(v: &Value, key: &str) -> i128 {
    let n = v
        .get(key)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("missing integer {key:?} in {v}"));
    i128::from(n)
}

struct Order {
    order_id: String,
    source: String,
    client: Option<String>,
    placed_at: Timestamp,
    currency: String,
    sold_by: Option<String>,
    /// (line number, amount in the order's currency)
    lines: Vec<(i64, i128)>,
}

struct Return {
    return_id: String,
    order_id: String,
    line: i64,
    amount: i128,
    at: Timestamp,
}

struct Touch {
    at: Timestamp,
    associate: String,
    client: String,
    kind: String,
}

const KINDS: [&str; 5] = [
    "appointment",
    "live_view",
    "share_click",
    "message",
    "broadcast",
];

fn kind_rank(kind: &str) -> usize {
    KINDS
        .iter()
        .position(|k| *k == kind)
        .unwrap_or_else(|| panic!("unknown touch kind {kind:?}"))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Model {
    LastTouch,
    Split,
}

struct Policy {
    model: Model,
    /// window in days per kind
    windows: HashMap<String, i128>,
    book_credit: bool,
    base_rate: Dec,
    bonus_rate: Dec,
    /// month "YYYY-MM" -> associate -> target
    targets: BTreeMap<String, BTreeMap<String, i128>>,
}

fn parse_policy(text: Option<&str>) -> Policy {
    let mut p = Policy {
        model: Model::LastTouch,
        windows: [
            ("message", 14),
            ("share_click", 7),
            ("live_view", 3),
            ("appointment", 30),
            ("broadcast", 3),
        ]
        .into_iter()
        .map(|(k, d)| (k.to_string(), d))
        .collect(),
        book_credit: false,
        base_rate: parse_dec("0.02"),
        bonus_rate: parse_dec("0.01"),
        targets: BTreeMap::new(),
    };
    let Some(text) = text else { return p };
    let v: Value = serde_json::from_str(text).expect("policy is not JSON");
    let obj = v.as_object().expect("policy must be an object");
    for (key, val) in obj {
        match key.as_str() {
            "model" => {
                p.model = match val.as_str().expect("model must be a string") {
                    "last_touch" => Model::LastTouch,
                    "split" => Model::Split,
                    other => panic!("unknown model {other:?}"),
                }
            }
            "book_credit" => p.book_credit = val.as_bool().expect("book_credit must be a bool"),
            "windows" => {
                for (kind, d) in val.as_object().expect("windows must be an object") {
                    kind_rank(kind);
                    let days = d.as_i64().unwrap_or_else(|| {
                        panic!("window for {kind} must be an integer number of days")
                    });
                    assert!(days >= 0, "negative window");
                    p.windows.insert(kind.clone(), i128::from(days));
                }
            }
            "base_rate" => p.base_rate = dec_from_json(val, "base_rate"),
            "bonus_rate" => p.bonus_rate = dec_from_json(val, "bonus_rate"),
            "targets" => {
                for (month, per) in val.as_object().expect("targets must be an object") {
                    parse_month(month);
                    let mut m = BTreeMap::new();
                    for (assoc, t) in per.as_object().expect("targets[month] must be an object") {
                        let t = t.as_i64().expect("target must be an integer");
                        m.insert(assoc.clone(), i128::from(t));
                    }
                    p.targets.insert(month.clone(), m);
                }
            }
            other => panic!("unknown policy key {other:?}"),
        }
    }
    p
}

fn parse_month(m: &str) -> (i16, i8) {
    let (y, mo) = m
        .split_once('-')
        .unwrap_or_else(|| panic!("bad month {m:?}"));
    assert!(y.len() == 4 && mo.len() == 2, "bad month {m:?}");
    let y: i16 = y.parse().expect("bad year");
    let mo: i8 = mo.parse().expect("bad month number");
    assert!((1..=12).contains(&mo), "bad month {m:?}");
    (y, mo)
}

// ---------------------------------------------------------------------------
// Credit

#[derive(Clone, Debug)]
enum Credit {
    Unattributed,
    /// equal shares; distinct, sorted ascending by e-mail
    Equal(Vec<String>),
    /// decided dispute; sorted ascending by e-mail
    Fractions(Vec<(String, Dec)>),
}

impl Credit {
    fn associates(&self) -> Vec<String> {
        match self {
            Credit::Unattributed => vec![],
            Credit::Equal(v) => v.clone(),
            Credit::Fractions(v) => v.iter().map(|(a, _)| a.clone()).collect(),
        }
    }

    /// Shares of a (non-negative) amount, in e-mail order; adds up exactly.
    fn shares(&self, amount: i128) -> Vec<(String, i128)> {
        assert!(amount >= 0, "negative amount to share");
        match self {
            Credit::Unattributed => panic!("sharing an unattributed amount"),
            Credit::Equal(assocs) => {
                let n = i128::try_from(assocs.len()).unwrap();
                assert!(n > 0);
                let base = floor_div(amount, n);
                let mut out: Vec<(String, i128)> =
                    assocs.iter().map(|a| (a.clone(), base)).collect();
                let mut rem = amount - base * n;
                let mut i = 0;
                while rem > 0 {
                    out[i].1 += 1;
                    rem -= 1;
                    i += 1;
                }
                out
            }
            Credit::Fractions(fr) => {
                let mut out: Vec<(String, i128)> = fr
                    .iter()
                    .map(|(a, f)| {
                        (
                            a.clone(),
                            floor_div(
                                amount.checked_mul(f.mant).expect("overflow"),
                                pow10(f.scale),
                            ),
                        )
                    })
                    .collect();
                let mut total: i128 = out.iter().map(|(_, s)| *s).sum();
                assert!(total <= amount, "decided shares exceed the amount");
                let n = out.len();
                let mut i = 0;
                while total < amount {
                    out[i % n].1 += 1;
                    total += 1;
                    i += 1;
                }
                out
            }
        }
    }
}

fn compute_credit(
    order: &Order,
    policy: &Policy,
    touches: &[Touch],
    assignments: &[(String, Option<String>, Timestamp)],
) -> Credit {
    // rule 1
    if let (true, Some(s)) = (order.source == "pos", &order.sold_by) {
        return Credit::Equal(vec![s.clone()]);
    }
    let Some(client) = &order.client else {
        return Credit::Unattributed;
    };
    // rule 2
    let placed = ns(order.placed_at);
    let eligible: Vec<&Touch> = touches
        .iter()
        .filter(|t| &t.client == client)
        .filter(|t| {
            let days = *policy.windows.get(&t.kind).expect("window for kind");
            let window_ns = days * 24 * 3600 * 1_000_000_000;
            let at = ns(t.at);
            placed - window_ns < at && at <= placed
        })
        .collect();
    if !eligible.is_empty() {
        match policy.model {
            Model::LastTouch => {
                let mut best: &Touch = eligible[0];
                for t in &eligible[1..] {
                    let better = if t.at != best.at {
                        t.at > best.at
                    } else if kind_rank(&t.kind) != kind_rank(&best.kind) {
                        kind_rank(&t.kind) < kind_rank(&best.kind)
                    } else {
                        t.associate < best.associate
                    };
                    if better {
                        best = t;
                    }
                }
                return Credit::Equal(vec![best.associate.clone()]);
            }
            Model::Split => {
                let set: BTreeSet<String> = eligible.iter().map(|t| t.associate.clone()).collect();
                return Credit::Equal(set.into_iter().collect());
            }
        }
    }
    // rule 3
    if !policy.book_credit {
        return Credit::Unattributed;
    }
    let mut hist: Vec<&(String, Option<String>, Timestamp)> =
        assignments.iter().filter(|(c, _, _)| c == client).collect();
    if hist.is_empty() {
        return Credit::Unattributed;
    }
    hist.sort_by_key(|(_, _, t)| *t); // stable: same instant keeps slice order
    let mut current: Option<&Option<String>> = None;
    for (_, a, t) in &hist {
        if *t <= order.placed_at {
            current = Some(a);
        }
    }
    let who: &Option<String> = match current {
        Some(a) => a,
        None => {
            // order older than the first recorded assignment: that first associate
            // (the state in force from the first instant on: the last entry at that instant)
            let first_t = hist[0].2;
            let mut a = &hist[0].1;
            for (_, aa, t) in &hist {
                if *t == first_t {
                    a = aa;
                }
            }
            a
        }
    };
    match who {
        Some(a) => Credit::Equal(vec![a.clone()]),
        None => Credit::Unattributed,
    }
}

// ---------------------------------------------------------------------------
// Report

#[derive(Default)]
struct Acc {
    sales: i128,
    returns: i128,
    orders: i128,
}

fn to_i64(v: i128) -> i64 {
    i64::try_from(v).expect("amount does not fit in i64")
}

/// The spec's report JSON for month "YYYY-MM": {"month","currency","associates":[{"associate","sales","returns","net","orders","commission","target"}],"unattributed"}
pub fn report(input: &RefInput, month: &str) -> serde_json::Value {
    let tz = TimeZone::get(input.brand_time_zone)
        .unwrap_or_else(|e| panic!("unknown time zone {:?}: {e}", input.brand_time_zone));
    let (my, mm) = parse_month(month);
    let in_month = |t: Timestamp| {
        let d = t.to_zoned(tz.clone()).date();
        d.year() == my && d.month() == mm
    };
    let policy = parse_policy(input.policy_json);

    // orders: first one seen wins
    let mut orders: Vec<Order> = Vec::new();
    let mut order_ids: HashSet<String> = HashSet::new();
    for v in jsonl(input.orders_jsonl) {
        let order_id = get_str(&v, "order_id").to_string();
        if !order_ids.insert(order_id.clone()) {
            continue;
        }
        let source = get_str(&v, "source").to_string();
        assert!(
            ["pos", "ecommerce", "mini_store", "livestream"].contains(&source.as_str()),
            "unknown source {source:?}"
        );
        if source == "pos" {
            assert!(
                get_opt_str(&v, "store").is_some(),
                "pos order {order_id} without store"
            );
        }
        let mut lines = Vec::new();
        for l in v
            .get("lines")
            .and_then(Value::as_array)
            .expect("lines array")
        {
            let n = i64::try_from(get_int(l, "line")).unwrap();
            let amount = get_int(l, "amount");
            assert!(amount >= 0, "negative line amount");
            assert!(
                !lines.iter().any(|(m, _)| *m == n),
                "duplicate line {n} in {order_id}"
            );
            lines.push((n, amount));
        }
        orders.push(Order {
            order_id,
            source,
            client: get_opt_str(&v, "client"),
            placed_at: ts(get_str(&v, "placed_at")),
            currency: get_str(&v, "currency").to_string(),
            sold_by: get_opt_str(&v, "sold_by"),
            lines,
        });
    }

    // returns: first one seen wins
    let mut returns: Vec<Return> = Vec::new();
    let mut return_ids: HashSet<String> = HashSet::new();
    for v in jsonl(input.returns_jsonl) {
        let return_id = get_str(&v, "return_id").to_string();
        if !return_ids.insert(return_id.clone()) {
            continue;
        }
        let amount = get_int(&v, "amount");
        assert!(amount >= 0, "negative return amount");
        returns.push(Return {
            return_id,
            order_id: get_str(&v, "order_id").to_string(),
            line: i64::try_from(get_int(&v, "line")).unwrap(),
            amount,
            at: ts(get_str(&v, "at")),
        });
    }
    // validate returns against lines
    for o in &orders {
        for (n, amount) in &o.lines {
            let returned: i128 = returns
                .iter()
                .filter(|r| r.order_id == o.order_id && r.line == *n)
                .map(|r| r.amount)
                .sum();
            assert!(
                returned <= *amount,
                "returns exceed line {n} of {}",
                o.order_id
            );
        }
    }
    for r in &returns {
        let o = orders
            .iter()
            .find(|o| o.order_id == r.order_id)
            .unwrap_or_else(|| panic!("return {} names unknown order {}", r.return_id, r.order_id));
        assert!(
            o.lines.iter().any(|(n, _)| *n == r.line),
            "return {} names unknown line",
            r.return_id
        );
    }

    let touches: Vec<Touch> = jsonl(input.touches_jsonl)
        .iter()
        .map(|v| {
            let kind = get_str(v, "kind").to_string();
            kind_rank(&kind);
            Touch {
                at: ts(get_str(v, "at")),
                associate: get_str(v, "associate").to_string(),
                client: get_str(v, "client").to_string(),
                kind,
            }
        })
        .collect();

    // fx: currency -> date -> rate
    let mut fx: BTreeMap<String, BTreeMap<Date, Dec>> = BTreeMap::new();
    for v in jsonl(input.fx_jsonl) {
        let date: Date = get_str(&v, "date").parse().expect("bad fx date");
        let currency = get_str(&v, "currency").to_string();
        let rate = dec_from_json(v.get("rate").expect("rate"), "rate");
        let m = fx.entry(currency.clone()).or_default();
        if let Some(old) = m.get(&date) {
            assert!(
                old.mant * pow10(rate.scale) == rate.mant * pow10(old.scale),
                "two different rates for {currency} on {date}"
            );
        }
        m.insert(date, rate);
    }
    let rate_for = |o: &Order| -> Dec {
        if o.currency == input.brand_currency {
            return Dec { mant: 1, scale: 0 };
        }
        let day = o.placed_at.to_zoned(tz.clone()).date();
        let m = fx
            .get(&o.currency)
            .unwrap_or_else(|| panic!("no rate at all for {}", o.currency));
        let mut found: Option<Dec> = None;
        for (d, r) in m {
            if *d <= day {
                found = Some(*r);
            }
        }
        found.unwrap_or_else(|| {
            panic!(
                "no {} rate on or before {day} for {}",
                o.currency, o.order_id
            )
        })
    };

    let assignments: Vec<(String, Option<String>, Timestamp)> = input
        .assignments
        .iter()
        .map(|(c, a, t)| (c.clone(), a.clone(), ts(t)))
        .collect();

    // decisions: last one for an order wins
    let mut decisions: HashMap<String, Vec<(String, Dec)>> = HashMap::new();
    for (order_id, fr) in input.decisions {
        assert!(
            orders.iter().any(|o| &o.order_id == order_id),
            "decision for unknown order {order_id}"
        );
        assert!(!fr.is_empty(), "empty decision");
        let mut v: Vec<(String, Dec)> = fr.iter().map(|(a, f)| (a.clone(), parse_dec(f))).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        for w in v.windows(2) {
            assert!(
                w[0].0 != w[1].0,
                "duplicate associate in decision for {order_id}"
            );
        }
        let max_scale = v.iter().map(|(_, f)| f.scale).max().unwrap();
        let mut sum: i128 = 0;
        for (_, f) in &v {
            assert!(f.mant >= 0, "negative fraction");
            sum += f.mant * pow10(max_scale - f.scale);
        }
        assert!(
            sum == pow10(max_scale),
            "fractions for {order_id} do not add up to 1"
        );
        decisions.insert(order_id.clone(), v);
    }

    // credit and converted lines of every order
    struct Computed {
        credit: Credit,
        rate: Dec,
    }
    let mut computed: HashMap<String, Computed> = HashMap::new();
    for o in &orders {
        let credit = match decisions.get(&o.order_id) {
            Some(fr) => Credit::Fractions(fr.clone()),
            None => compute_credit(o, &policy, &touches, &assignments),
        };
        computed.insert(
            o.order_id.clone(),
            Computed {
                credit,
                rate: rate_for(o),
            },
        );
    }

    let mut accs: BTreeMap<String, Acc> = BTreeMap::new();
    let mut unattributed: i128 = 0;

    for o in &orders {
        if !in_month(o.placed_at) {
            continue;
        }
        let c = &computed[&o.order_id];
        match &c.credit {
            Credit::Unattributed => {
                for (_, amount) in &o.lines {
                    unattributed += convert(*amount, c.rate);
                }
            }
            credit => {
                for a in credit.associates() {
                    accs.entry(a).or_default().orders += 1;
                }
                for (_, amount) in &o.lines {
                    for (a, s) in credit.shares(convert(*amount, c.rate)) {
                        accs.entry(a).or_default().sales += s;
                    }
                }
            }
        }
    }

    for r in &returns {
        if !in_month(r.at) {
            continue;
        }
        let c = &computed[&r.order_id];
        let conv = convert(r.amount, c.rate);
        match &c.credit {
            Credit::Unattributed => unattributed -= conv,
            credit => {
                for (a, s) in credit.shares(conv) {
                    accs.entry(a).or_default().returns += s;
                }
            }
        }
    }

    let month_targets = policy.targets.get(month).cloned().unwrap_or_default();
    for a in month_targets.keys() {
        accs.entry(a.clone()).or_default();
    }

    let one_base = pow10(policy.base_rate.scale.max(policy.bonus_rate.scale));
    let mut rows: Vec<(String, i128, Value)> = Vec::new();
    for (a, acc) in &accs {
        let net = acc.sales - acc.returns;
        let target = month_targets.get(a).copied();
        let s = policy.base_rate.scale.max(policy.bonus_rate.scale);
        let base_m = policy.base_rate.mant * pow10(s - policy.base_rate.scale);
        let bonus_m = policy.bonus_rate.mant * pow10(s - policy.bonus_rate.scale);
        let mut num = base_m.checked_mul(net).expect("overflow");
        if let Some(t) = target {
            let excess = (net - t).max(0);
            num = num
                .checked_add(bonus_m.checked_mul(excess).expect("overflow"))
                .expect("overflow");
        }
        let commission = round_half_even_div(num, one_base);
        rows.push((
            a.clone(),
            net,
            json!({
                "associate": a,
                "sales": to_i64(acc.sales),
                "returns": to_i64(acc.returns),
                "net": to_i64(net),
                "orders": to_i64(acc.orders),
                "commission": to_i64(commission),
                "target": target.map(to_i64),
            }),
        ));
    }
    rows.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));

    json!({
        "month": month,
        "currency": input.brand_currency,
        "associates": rows.into_iter().map(|(_, _, v)| v).collect::<Vec<_>>(),
        "unattributed": to_i64(unattributed),
    })
}
