//! Bounded fuzzing of the sales JSON Lines (orders, returns, touches, exchange rates) and the
//! policy file: arbitrary text and mutations of the spec's examples give a value or a
//! `LineError`, never a panic; decimals print and read back exactly.

use proptest::prelude::*;
use sales::Dec;
use sales::input::{
    currency, email, fx_rate, instant, order, parse_date, policy, return_line, touch,
};

#[path = "../../../testing/mutate.rs"]
#[allow(dead_code)]
mod mutate;
use mutate::mutated;

const ORDER: &str = r#"{"order_id": "POS-SH01-000123", "source": "pos", "client": "CRM-00042", "store": "SH01", "placed_at": "2026-01-09T15:02:00+08:00", "currency": "CNY", "sold_by": "Li.Na@maison-lumiere.example", "lines": [{"line": 1, "sku": "BAG-CAMILLE-BLK", "qty": 1, "amount": 3250000}, {"line": 2, "sku": "SCARF", "qty": 2, "amount": 120000}]}"#;
const RETURN: &str = r#"{"return_id": "R-77", "order_id": "X", "line": 1, "qty": 1, "amount": 3250000, "at": "2026-02-01T10:00:00+08:00"}"#;
const TOUCH: &str = r#"{"at": "2026-01-08T10:00:00+08:00", "associate": "li.na@x.example", "client": "CRM-00042", "kind": "share_click"}"#;
const FX: &str = r#"{"date": "2026-01-09", "currency": "EUR", "rate": "7.8125"}"#;
const POLICY: &str = r#"{"model": "split", "book_credit": true, "windows": {"message": 14, "share_click": 7}, "base_rate": "0.02", "bonus_rate": "0.01", "targets": {"2026-01": {"li.na@x.example": 30000000}}}"#;

fn every_reader(s: &str) {
    // The errors name a line and a field; they must render whatever the input was.
    let _ = order(7, s).map_err(|e| e.to_string());
    let _ = return_line(7, s).map_err(|e| e.to_string());
    let _ = touch(7, s).map_err(|e| e.to_string());
    let _ = fx_rate(7, s).map_err(|e| e.to_string());
    let _ = policy(s).map_err(|e| e.to_string());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>()) {
        every_reader(&s);
        let _ = s.parse::<Dec>();
        let _ = (instant(&s), email(&s), currency(&s), parse_date(&s));
    }

    #[test]
    fn mutated_spec_lines_never_panic(s in prop_oneof![
        mutated(ORDER, "[", "]"),
        mutated(RETURN, "{\"a\":", "}"),
        mutated(TOUCH, "[", "]"),
        mutated(FX, "[", "]"),
        mutated(POLICY, "{\"windows\":", "}"),
    ]) {
        every_reader(&s);
        // A line that reads keeps the errors' promise: every error names its line.
        if let Err(e) = order(7, &s) {
            prop_assert_eq!(e.line, 7);
        }
    }

    #[test]
    fn orders_with_numbers_of_any_size_are_read_or_refused(
        line in any::<i128>(), qty in any::<i128>(), amount in prop_oneof![any::<i128>().prop_map(|a| a.to_string()), Just("1e400".to_owned()), Just("-0.0".to_owned()), Just("12.5".to_owned())],
        lines in 1usize..40,
    ) {
        let one = format!(r#"{{"line": {line}, "sku": "S", "qty": {qty}, "amount": {amount}}}"#);
        let text = format!(
            r#"{{"order_id": "O", "source": "ecommerce", "placed_at": "2026-01-09T15:02:00Z", "currency": "CNY", "lines": [{}]}}"#,
            vec![one; lines].join(",")
        );
        if let Ok(o) = order(1, &text) {
            prop_assert!(o.lines.iter().all(|l| l.qty >= 1 && l.amount >= 0 && l.line >= 1));
            prop_assert_eq!(o.lines.len(), 1, "a line number appears once");
        }
    }

    /// Within what the reader takes: at most 20 digits before the point (a `Dec` made by
    /// `from_units` may hold more, up to 27, and prints them; such values never come from a file).
    #[test]
    fn decimals_print_and_read_back(units in -(10i128.pow(32) - 1)..10i128.pow(32)) {
        let d = Dec::from_units(units);
        prop_assert_eq!(d.to_string().parse::<Dec>(), Ok(d));
    }

    #[test]
    fn decimal_text_reads_back_as_printed(s in "[+-]?[0-9]{0,24}(\\.[0-9]{0,16})?") {
        if let Ok(d) = s.parse::<Dec>() {
            prop_assert_eq!(d.to_string().parse::<Dec>(), Ok(d));
        }
    }
}

#[test]
fn deeply_nested_lines_are_refused() {
    let deep = format!(
        r#"{{"order_id": "O", "lines": {}{}}}"#,
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    assert!(order(1, &deep).is_err());
    assert!(
        policy(&format!(
            "{}{}",
            "{\"a\":".repeat(10_000),
            "}".repeat(10_000)
        ))
        .is_err()
    );
}
