//! Bounded fuzzing of the segment language: any text gives an expression or a `ParseError`
//! (pointing inside the text), never a panic; an expression prints as text that reads back as
//! the same expression.

use proptest::prelude::*;
use segments::{Expr, parse};

#[path = "../../../testing/mutate.rs"]
#[allow(dead_code)]
mod mutate;
use mutate::mutated;

const SAMPLE: &str = "tier:gold AND consent:wecom AND spend>=50000.5 AND last_purchase:180d AND NOT tag:do-not-disturb OR (store:SH01 OR store:\"Beijing One\") birthday:this_month last_interaction<2026-01-01 sa:42 channel:whatsapp city:上海";

/// Reads `s`; when it reads, its printed form must read as the same expression.
fn reads_back(s: &str) -> Result<(), TestCaseError> {
    match parse(s) {
        Ok(e) => {
            let printed = e.to_string();
            let again = parse(&printed).map_err(|err| {
                TestCaseError::fail(format!("{s:?} printed as {printed:?}: {err}"))
            })?;
            prop_assert_eq!(&again, &e, "{:?} printed as {:?}", s, printed);
        }
        Err(err) => {
            let chars = s.chars().count();
            prop_assert!(
                err.at >= 1 && err.at <= chars + 1,
                "{:?}: at {} of {}",
                s,
                err.at,
                chars
            );
        }
    }
    Ok(())
}

/// Words of the language, for inputs that get past the tokenizer.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("AND".to_owned()),
        Just("or".to_owned()),
        Just("NOT".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("tag:".to_owned()),
        Just("tier:gold".to_owned()),
        Just("spend>=".to_owned()),
        Just("spend<".to_owned()),
        Just("last_purchase:".to_owned()),
        Just("last_interaction>=".to_owned()),
        Just("birthday:".to_owned()),
        Just("sa:".to_owned()),
        Just("consent:".to_owned()),
        Just("channel:".to_owned()),
        Just("lang:".to_owned()),
        Just("\"".to_owned()),
        Just(" ".to_owned()),
        Just("\u{3000}".to_owned()),
        "[0-9]{1,25}(\\.[0-9]{0,3})?d?",
        "[a-zA-Z_\\-]{1,6}",
        "-?[0-9]{1,6}-[0-9]{2}-[0-9]{2}",
        any::<char>().prop_map(String::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_text_reads_or_is_refused_in_place(s in any::<String>()) {
        reads_back(&s)?;
    }

    #[test]
    fn language_shaped_text_round_trips(words in prop::collection::vec(word(), 1..30), glue in prop::collection::vec(prop_oneof![Just(""), Just(" ")], 30)) {
        let s: String = words.iter().zip(glue.iter().cycle()).map(|(w, g)| format!("{w}{g}")).collect();
        reads_back(&s)?;
    }

    #[test]
    fn mutated_samples_round_trip(s in mutated(SAMPLE, "(NOT ", ")")) {
        reads_back(&s)?;
    }
}

#[test]
fn deep_nesting_and_long_text_are_refused_without_overflow() {
    let parens = format!("{}tag:a{}", "(".repeat(1_000), ")".repeat(1_000));
    assert!(parse(&parens).is_err());
    let nots = format!("{}tag:a", "NOT ".repeat(990));
    let e: Expr = parse(&nots).expect("a long chain of NOT reads");
    assert_eq!(parse(&e.to_string()), Ok(e));
    assert!(
        parse(&"tag:a ".repeat(1_000)).is_err(),
        "longer than 4,000 characters"
    );
}
