//! Random brands for the attribution tests (shared by the engine's test against the reference
//! and the command line's end-to-end test): every edge the spec names, on purpose.

#![allow(dead_code)]

use rand::{Rng, SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::reference;
use sales::input;

pub const ZONES: [&str; 4] = [
    "Asia/Shanghai",
    "Europe/Paris",
    "America/New_York",
    "Pacific/Auckland",
];
pub const KINDS: [&str; 5] = [
    "message",
    "share_click",
    "live_view",
    "appointment",
    "broadcast",
];
pub const MONTHS: [&str; 4] = ["2026-02", "2026-03", "2026-04", "2026-05"];

pub struct Case {
    pub tz: &'static str,
    pub orders: Vec<String>,
    pub returns: Vec<String>,
    pub touches: Vec<String>,
    pub fx: Vec<String>,
    pub policy: Option<String>,
    pub assignments: Vec<(String, Option<String>, String)>,
    pub decisions: Vec<(String, Vec<(String, String)>)>,
}

pub fn rfc3339(ms: i64, offset_hours: i32) -> String {
    let ts = jiff::Timestamp::from_millisecond(ms).expect("ts");
    let off = jiff::tz::Offset::from_hours(offset_hours as i8).expect("offset");
    ts.display_with_offset(off).to_string()
}

pub fn generate(seed: u64) -> Case {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let tz = ZONES[rng.gen_range(0..ZONES.len())];
    // 2026-02-01T00:00Z, ± a few days, over four months.
    let start: i64 = 1_769_904_000_000 - 3 * 86_400_000;
    let span: i64 = 125 * 86_400_000;
    let minute = 60_000;
    let associates: Vec<String> = ["ana", "bo", "chen", "dai", "eve", "fu"]
        .iter()
        .map(|n| format!("{n}@maison.example"))
        .collect();
    let clients: Vec<String> = (0..12).map(|i| format!("CRM-{i:03}")).collect();
    let pick = |rng: &mut ChaCha8Rng, v: &[String]| v[rng.gen_range(0..v.len())].clone();

    let mut fx = Vec::new();
    for (cur, base) in [("EUR", 7_812_500_000_000i64), ("USD", 7_100_000_000_000)] {
        let mut day = jiff::civil::date(2026, 1, 1);
        while day < jiff::civil::date(2026, 6, 15) {
            if rng.gen_bool(0.7) {
                let units = base + rng.gen_range(-500_000_000_000..500_000_000_000);
                let rate = format!(
                    "{}.{:012}",
                    units / 1_000_000_000_000,
                    units % 1_000_000_000_000
                );
                fx.push(
                    json!({"date": day.to_string(), "currency": cur, "rate": rate}).to_string(),
                );
            }
            day = day.tomorrow().expect("day");
        }
    }

    let mut orders = Vec::new();
    let mut placed: Vec<(String, i64, Vec<i64>)> = Vec::new();
    let mut touches = Vec::new();
    let n_orders = rng.gen_range(40..160);
    for i in 0..n_orders {
        let id = format!("O-{i}");
        let at = start + rng.gen_range(0..span / minute) * minute;
        let source = ["pos", "ecommerce", "mini_store", "livestream"][rng.gen_range(0..4)];
        let client = if rng.gen_bool(0.1) {
            None
        } else {
            Some(pick(&mut rng, &clients))
        };
        let currency = ["CNY", "CNY", "EUR", "USD"][rng.gen_range(0..4)];
        let n_lines = rng.gen_range(1..=3);
        let amounts: Vec<i64> = (0..n_lines)
            .map(|_| {
                if rng.gen_bool(0.3) {
                    rng.gen_range(0..7)
                } else {
                    rng.gen_range(1..5_000_000)
                }
            })
            .collect();
        let lines: Vec<_> = amounts
            .iter()
            .enumerate()
            .map(|(j, a)| json!({"line": j + 1, "sku": format!("SKU-{j}"), "qty": rng.gen_range(1..3), "amount": a}))
            .collect();
        let mut o = json!({"order_id": id, "source": source, "client": client,
            "placed_at": rfc3339(at, rng.gen_range(-5..=9)), "currency": currency, "lines": lines});
        if source == "pos" {
            o["store"] = "SH01".into();
            if rng.gen_bool(0.3) {
                o["sold_by"] = pick(&mut rng, &associates).into();
            }
        } else if rng.gen_bool(0.1) {
            // sold_by counts on pos orders only.
            o["sold_by"] = pick(&mut rng, &associates).into();
        }
        orders.push(o.to_string());
        if rng.gen_bool(0.05) {
            // The same order id again, holding something else: ignored.
            let mut again = o.clone();
            again["lines"] = json!([{"line": 1, "sku": "X", "qty": 1, "amount": 999_999}]);
            orders.push(again.to_string());
        }
        // Touches placed on the window's edges and on the order's instant.
        if let Some(c) = &client {
            for _ in 0..rng.gen_range(0..4) {
                let kind = KINDS[rng.gen_range(0..5)];
                let days = [14, 7, 3, 30, 3][KINDS.iter().position(|k| *k == kind).expect("kind")];
                let edge = match rng.gen_range(0..4) {
                    0 => at - days * 86_400_000,
                    1 => at - days * 86_400_000 + 1,
                    2 => at,
                    _ => at + 1,
                };
                touches.push(json!({"at": rfc3339(edge, rng.gen_range(-3..=8)), "associate": pick(&mut rng, &associates),
                    "client": c, "kind": kind}).to_string());
            }
        }
        placed.push((format!("O-{i}"), at, amounts));
    }
    for _ in 0..rng.gen_range(100..500) {
        let at =
            start - 35 * 86_400_000 + rng.gen_range(0..(span + 35 * 86_400_000) / minute) * minute;
        let t = json!({"at": rfc3339(at, 8), "associate": pick(&mut rng, &associates),
            "client": pick(&mut rng, &clients), "kind": KINDS[rng.gen_range(0..5)]});
        touches.push(t.to_string());
        if rng.gen_bool(0.15) {
            // A tie: another associate, another kind, the same instant.
            let mut tie = t.clone();
            tie["associate"] = pick(&mut rng, &associates).into();
            tie["kind"] = KINDS[rng.gen_range(0..5)].into();
            touches.push(tie.to_string());
        }
        if rng.gen_bool(0.05) {
            touches.push(t.to_string());
        }
    }
    touches.shuffle(&mut rng);

    let mut returns = Vec::new();
    for (k, (id, at, amounts)) in placed.iter().enumerate() {
        if !rng.gen_bool(0.25) {
            continue;
        }
        let line = rng.gen_range(0..amounts.len());
        let mut left = amounts[line];
        for r in 0..rng.gen_range(1..=2) {
            let amount = if left == 0 {
                0
            } else {
                rng.gen_range(0..=left)
            };
            left -= amount;
            let when = at + rng.gen_range(0..40 * 86_400 / 60) * minute;
            returns.push(
                json!({"return_id": format!("R-{k}-{r}"), "order_id": id, "line": line + 1,
                "qty": 1, "amount": amount, "at": rfc3339(when, 1)})
                .to_string(),
            );
        }
    }

    let policy = if rng.gen_bool(0.2) {
        None
    } else {
        let mut p = serde_json::Map::new();
        if rng.gen_bool(0.5) {
            p.insert(
                "model".into(),
                json!(["last_touch", "split"][rng.gen_range(0..2)]),
            );
        }
        if rng.gen_bool(0.5) {
            p.insert("book_credit".into(), json!(rng.gen_bool(0.6)));
        }
        let mut w = serde_json::Map::new();
        for k in KINDS {
            if rng.gen_bool(0.3) {
                w.insert(k.into(), json!(rng.gen_range(0..20)));
            }
        }
        p.insert("windows".into(), w.into());
        if rng.gen_bool(0.5) {
            p.insert(
                "base_rate".into(),
                json!(["0.02", "0.015", "0.0125", "0.033333333333"][rng.gen_range(0..4)]),
            );
        }
        if rng.gen_bool(0.5) {
            p.insert(
                "bonus_rate".into(),
                json!(["0.01", "0.005", "0.5"][rng.gen_range(0..3)]),
            );
        }
        let mut targets = serde_json::Map::new();
        for m in MONTHS {
            let mut per = serde_json::Map::new();
            for a in &associates {
                if rng.gen_bool(0.3) {
                    per.insert(a.clone(), json!(rng.gen_range(0..8_000_000)));
                }
            }
            targets.insert(m.into(), per.into());
        }
        // Someone with a target and nothing else.
        targets.insert("2026-03".into(), json!({"zoe@maison.example": 100}));
        p.insert("targets".into(), targets.into());
        Some(serde_json::Value::Object(p).to_string())
    };

    let mut assignments = Vec::new();
    for c in &clients {
        for _ in 0..rng.gen_range(0..3) {
            let at = start + rng.gen_range(0..span / minute) * minute;
            let who = if rng.gen_bool(0.15) {
                None
            } else {
                Some(pick(&mut rng, &associates))
            };
            assignments.push((c.clone(), who, rfc3339(at, 8)));
        }
    }
    assignments.sort_by_key(|(_, _, at)| input::instant(at));

    let mut decisions = Vec::new();
    for (id, _, _) in &placed {
        if rng.gen_bool(0.06) {
            let fractions: &[&str] = match rng.gen_range(0..4) {
                0 => &["1"],
                1 => &["0.5", "0.5"],
                2 => &["0.333333333333", "0.333333333333", "0.333333333334"],
                _ => &["0.25", "0.75"],
            };
            let mut who = associates.clone();
            who.shuffle(&mut rng);
            decisions.push((
                id.clone(),
                fractions
                    .iter()
                    .zip(who)
                    .map(|(f, a)| (a, (*f).to_owned()))
                    .collect(),
            ));
        }
    }
    Case {
        tz,
        orders,
        returns,
        touches,
        fx,
        policy,
        assignments,
        decisions,
    }
}

impl Case {
    /// The reference's report of a month for this case.
    pub fn expected(&self, month: &str) -> serde_json::Value {
        let (o, r, t, f) = (
            self.orders.join("\n"),
            self.returns.join("\n"),
            self.touches.join("\n"),
            self.fx.join("\n"),
        );
        reference::report(
            &reference::RefInput {
                brand_currency: "CNY",
                brand_time_zone: self.tz,
                orders_jsonl: &o,
                returns_jsonl: &r,
                touches_jsonl: &t,
                fx_jsonl: &f,
                policy_json: self.policy.as_deref(),
                assignments: &self.assignments,
                decisions: &self.decisions,
            },
            month,
        )
    }
}
