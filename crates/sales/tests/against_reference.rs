//! The engine against an independent reference written from `spec/attribution.md` alone
//! (`reference/mod.rs`), on random brands with every edge the spec names: window bounds, ties,
//! month bounds in the brand's zone (and across daylight-saving changes), returns in later
//! months, currencies, splits, book credit and decided disputes.

pub mod reference;

use sales::{Assignment, Decision, Ledger, Month, input};
use support::generate::{Case, MONTHS, generate};

mod support {
    pub mod generate;
    pub(crate) use super::reference;
}

fn engine(case: &Case) -> Ledger {
    let policy = case
        .policy
        .as_deref()
        .map(|p| input::policy(p).expect("policy"))
        .unwrap_or_default();
    let mut l = Ledger::new(
        "CNY",
        jiff::tz::TimeZone::get(case.tz).expect("tz"),
        policy.policy,
    );
    for (m, t) in policy.targets {
        l.set_targets(m, t);
    }
    for (i, s) in case.fx.iter().enumerate() {
        l.fx.insert(input::fx_rate(i + 1, s).expect("fx"));
    }
    for (i, s) in case.orders.iter().enumerate() {
        l.add_order(input::order(i + 1, s).expect("order"));
    }
    for (i, s) in case.returns.iter().enumerate() {
        l.add_return(input::return_line(i + 1, s).expect("return"));
    }
    for (i, s) in case.touches.iter().enumerate() {
        l.add_touch(input::touch(i + 1, s).expect("touch"));
    }
    for (client, who, at) in &case.assignments {
        l.add_assignment(
            client,
            Assignment {
                at: input::instant(at).expect("at"),
                associate: who.clone(),
            },
        );
    }
    for (order_id, shares) in &case.decisions {
        l.add_decision(Decision {
            order_id: order_id.clone(),
            shares: shares
                .iter()
                .map(|(a, f)| (a.clone(), f.parse().expect("fraction")))
                .collect(),
        });
    }
    l
}

#[test]
fn the_engine_equals_the_reference_on_random_brands() {
    let mut compared = 0;
    let mut nonempty = 0;
    for seed in 0..300 {
        let case = generate(seed);
        let (o, r, t, f) = (
            case.orders.join("\n"),
            case.returns.join("\n"),
            case.touches.join("\n"),
            case.fx.join("\n"),
        );
        let input = reference::RefInput {
            brand_currency: "CNY",
            brand_time_zone: case.tz,
            orders_jsonl: &o,
            returns_jsonl: &r,
            touches_jsonl: &t,
            fx_jsonl: &f,
            policy_json: case.policy.as_deref(),
            assignments: &case.assignments,
            decisions: &case.decisions,
        };
        let ledger = engine(&case);
        for m in MONTHS {
            let expected = reference::report(&input, m);
            let got = ledger
                .month(Month::parse(m).expect("month"))
                .expect("report")
                .report;
            let got = serde_json::to_value(&got).expect("json");
            assert_eq!(got, expected, "seed {seed}, month {m}, zone {}", case.tz);
            compared += 1;
            if got["associates"].as_array().is_some_and(|a| a.len() > 2) {
                nonempty += 1;
            }
        }
    }
    assert!(
        nonempty > compared / 2,
        "the generator must credit sales: {nonempty} of {compared}"
    );
}
