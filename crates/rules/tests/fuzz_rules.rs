//! Bounded fuzzing of the rule compiler: any rule a brand can write (any name, any words, any
//! pattern) compiles or is refused with a `RuleError`, never a panic, and a compiled set checks
//! any message without panicking; a word rule finds its word wherever it is written.

use proptest::prelude::*;
use rules::{
    Category, Matcher, Rule, RuleAction, RuleError, RuleSet, Severity, default_rules, normalise,
    validate,
};

#[path = "../../../testing/mutate.rs"]
#[allow(dead_code)]
mod mutate;
use mutate::mutated;

fn rule(id: i64, name: String, matcher: Matcher) -> Rule {
    Rule {
        id,
        name,
        category: Category::Other,
        severity: Severity::High,
        action: RuleAction::Block,
        matcher,
        enabled: true,
    }
}

/// Regex-shaped text: enough of the syntax to reach the compiler's corners.
fn pattern() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("("),
        Just(")"),
        Just("["),
        Just("]"),
        Just("{"),
        Just("}"),
        Just("{2,}"),
        Just("{1000}"),
        Just("{99999999999}"),
        Just("*"),
        Just("+?"),
        Just("|"),
        Just("\\"),
        Just("\\d"),
        Just("\\p{Han}"),
        Just("\\p{Greek}"),
        Just("(?i)"),
        Just("(?<n>"),
        Just("^"),
        Just("$"),
        Just("."),
        Just("a"),
        Just("微信"),
        Just("[^"),
        Just("\\b"),
        Just("\\x{110000}"),
        Just("(?x)"),
        Just("#"),
        Just("\n"),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

fn matcher() -> impl Strategy<Value = Matcher> {
    prop_oneof![
        prop::collection::vec(any::<String>(), 0..6).prop_map(Matcher::Words),
        any::<String>().prop_map(Matcher::Pattern),
        pattern().prop_map(Matcher::Pattern),
        mutated("(?i)wechat\\s*id|微信号[:：]?\\s*\\w{4,}", "(", ")").prop_map(Matcher::Pattern),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_rule_compiles_or_is_refused_and_checks_any_message(
        specs in prop::collection::vec((any::<String>(), matcher()), 1..5),
        message in any::<String>(),
    ) {
        let rules: Vec<Rule> = specs.into_iter().enumerate().map(|(i, (n, m))| rule(i as i64, n, m)).collect();
        let verdicts: Vec<Result<(), RuleError>> = rules.iter().map(validate).collect();
        match RuleSet::compile(&rules) {
            Ok(set) => {
                prop_assert!(verdicts.iter().all(Result::is_ok), "compile takes only valid rules");
                let v = set.check(&message);
                prop_assert!(v.hits.len() <= rules.len());
                for h in &v.hits {
                    prop_assert!(rules.iter().any(|r| r.id == h.rule_id));
                }
            }
            Err(e) => {
                let _ = e.to_string();
                prop_assert!(verdicts.iter().any(Result::is_err) || matches!(e, RuleError::Compile(_)));
            }
        }
    }

    #[test]
    fn a_word_rule_finds_its_word_anywhere(
        word in "[a-zA-Zа-яА-ЯΑ-Ωα-ω微信号０-９Ａ-Ｚ]{1,8}",
        before in any::<String>(),
        after in any::<String>(),
    ) {
        let set = RuleSet::compile(&[rule(1, "w".into(), Matcher::Words(vec![word.clone()]))]).expect("a word compiles");
        // The message carries the word as written, between spaces so that nothing before or
        // after changes its normalised form.
        let v = set.check(&format!("{before} {word} {after}"));
        prop_assert_eq!(v.hits.len(), 1, "{:?} in {:?}", word, normalise(&word));
        prop_assert_eq!(v.hits[0].rule_id, 1);
    }

    #[test]
    fn the_default_rules_check_any_message(message in any::<String>()) {
        let set = RuleSet::compile(&default_rules()).expect("the defaults compile");
        let v = set.check(&message);
        let _ = (v.action(), v.blocked_by(), v.warnings().count());
    }

    #[test]
    fn normalising_is_idempotent(text in any::<String>()) {
        let once = normalise(&text);
        prop_assert_eq!(normalise(&once), once);
    }
}
