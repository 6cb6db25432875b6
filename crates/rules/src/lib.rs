//! A brand's monitoring rules, and the check every message goes through.
//!
//! A rule is a list of words or one regular expression, in a category (harassment, price
//! promises, off-platform payment, competitors, personal data, or the brand's own), with a
//! severity and an action: **block** the message before it is sent, **warn** the associate, or
//! **flag** it for review. A brand's rules are compiled once into a [`RuleSet`]: every word of
//! every rule goes into one Aho-Corasick automaton, every pattern into one regex set, so a
//! message is read once whatever the number of rules.
//!
//! Text is compared after a light normalisation: full-width letters and digits become ASCII
//! ("８折" is "8折"), letters are lower-cased, and runs of white space are one space.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::{Regex, RegexSet};
use serde::{Deserialize, Serialize};

/// What a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Harassment,
    /// Discounts or prices promised in chat ("打八折").
    PricePromise,
    /// Payment outside the brand's channels (转账, 红包, "add my personal WeChat").
    OffPlatformPayment,
    Competitor,
    /// Personal data shared in chat (identity numbers, card numbers).
    PersonalData,
    /// Anything else the brand watches for.
    Other,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::Harassment,
        Category::PricePromise,
        Category::OffPlatformPayment,
        Category::Competitor,
        Category::PersonalData,
        Category::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Harassment => "harassment",
            Category::PricePromise => "price_promise",
            Category::OffPlatformPayment => "off_platform_payment",
            Category::Competitor => "competitor",
            Category::PersonalData => "personal_data",
            Category::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Low, Severity::Medium, Severity::High];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// What happens to a message that matches. Ordered by strength: a message matching a flag
/// rule and a block rule is blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// Recorded for a compliance officer to review; the message goes through.
    Flag,
    /// The associate is warned as they send; the message goes through and is flagged.
    Warn,
    /// An associate's message is refused before it reaches the channel. (A client's message
    /// cannot be refused: it is flagged.)
    Block,
}

impl RuleAction {
    pub const ALL: [RuleAction; 3] = [RuleAction::Flag, RuleAction::Warn, RuleAction::Block];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleAction::Flag => "flag",
            RuleAction::Warn => "warn",
            RuleAction::Block => "block",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// How a rule matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Matcher {
    /// Any of these words or phrases, anywhere in the text.
    Words(Vec<String>),
    /// A regular expression (Rust `regex` syntax), matched against the normalised text.
    Pattern(String),
}

/// One monitoring rule as a brand defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: i64,
    pub name: String,
    pub category: Category,
    pub severity: Severity,
    pub action: RuleAction,
    pub matcher: Matcher,
    pub enabled: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RuleError {
    #[error("rule {name:?}: {what}")]
    Invalid { name: String, what: String },
    #[error("the rules could not be compiled: {0}")]
    Compile(String),
}

/// Checks a rule's own fields: a name, at least one non-empty word, a pattern that compiles.
pub fn validate(rule: &Rule) -> Result<(), RuleError> {
    let invalid = |what: &str| RuleError::Invalid {
        name: rule.name.clone(),
        what: what.to_owned(),
    };
    if rule.name.trim().is_empty() {
        return Err(invalid("a rule needs a name"));
    }
    if rule.name.chars().count() > 80 {
        return Err(invalid("the name is longer than 80 characters"));
    }
    match &rule.matcher {
        Matcher::Words(words) => {
            if words.iter().all(|w| normalise(w).trim().is_empty()) {
                return Err(invalid("the word list is empty"));
            }
            if words.len() > 10_000 {
                return Err(invalid("more than 10,000 words in one rule"));
            }
        }
        Matcher::Pattern(p) => {
            if p.trim().is_empty() {
                return Err(invalid("the pattern is empty"));
            }
            Regex::new(p).map_err(|e| invalid(&format!("the pattern does not compile: {e}")))?;
        }
    }
    Ok(())
}

/// A rule a message matched, with the text that matched it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    pub rule_id: i64,
    pub rule: String,
    pub category: Category,
    pub severity: Severity,
    pub action: RuleAction,
    /// The matched text, normalised.
    pub matched: String,
}

/// The outcome of checking one message: every rule it matched, once each, strongest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub hits: Vec<Hit>,
}

impl Verdict {
    pub fn is_clean(&self) -> bool {
        self.hits.is_empty()
    }

    /// The strongest action asked for, if any rule matched.
    pub fn action(&self) -> Option<RuleAction> {
        self.hits.iter().map(|h| h.action).max()
    }

    /// The first blocking rule (by severity), for an associate's message.
    pub fn blocked_by(&self) -> Option<&Hit> {
        self.hits.iter().find(|h| h.action == RuleAction::Block)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Hit> {
        self.hits.iter().filter(|h| h.action == RuleAction::Warn)
    }
}

/// Rule facts kept next to the automaton.
#[derive(Debug, Clone)]
struct Compiled {
    id: i64,
    name: String,
    category: Category,
    severity: Severity,
    action: RuleAction,
}

/// A brand's enabled rules, compiled once.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Compiled>,
    words: Option<AhoCorasick>,
    /// For each word of the automaton, the rule it belongs to.
    word_rule: Vec<u32>,
    patterns: RegexSet,
    /// For each pattern of the set: the rule, and the pattern alone (to report the match).
    pattern_rule: Vec<(u32, Regex)>,
}

impl Default for RuleSet {
    fn default() -> Self {
        Self::compile(&[]).unwrap_or_else(|_| unreachable!("no rule, nothing to fail"))
    }
}

impl RuleSet {
    /// Compiles the enabled rules. Fails, naming the rule, on a rule [`validate`] refuses.
    pub fn compile(rules: &[Rule]) -> Result<Self, RuleError> {
        let mut compiled = Vec::new();
        let mut words = Vec::new();
        let mut word_rule = Vec::new();
        let mut patterns = Vec::new();
        let mut pattern_rule = Vec::new();
        for rule in rules.iter().filter(|r| r.enabled) {
            validate(rule)?;
            let index = u32::try_from(compiled.len())
                .map_err(|_| RuleError::Compile("too many rules".into()))?;
            compiled.push(Compiled {
                id: rule.id,
                name: rule.name.clone(),
                category: rule.category,
                severity: rule.severity,
                action: rule.action,
            });
            match &rule.matcher {
                Matcher::Words(list) => {
                    for w in list {
                        let w = normalise(w);
                        let w = w.trim();
                        if !w.is_empty() {
                            words.push(w.to_owned());
                            word_rule.push(index);
                        }
                    }
                }
                Matcher::Pattern(p) => {
                    let re = Regex::new(p).map_err(|e| RuleError::Invalid {
                        name: rule.name.clone(),
                        what: e.to_string(),
                    })?;
                    patterns.push(p.clone());
                    pattern_rule.push((index, re));
                }
            }
        }
        let words = if words.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::ContiguousNFA))
                    .build(&words)
                    .map_err(|e| RuleError::Compile(e.to_string()))?,
            )
        };
        let patterns = RegexSet::new(&patterns).map_err(|e| RuleError::Compile(e.to_string()))?;
        Ok(Self {
            rules: compiled,
            words,
            word_rule,
            patterns,
            pattern_rule,
        })
    }

    /// How many rules are enabled.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Checks a message: every rule it matches, once, strongest action then severity first.
    pub fn check(&self, text: &str) -> Verdict {
        if self.rules.is_empty() {
            return Verdict::default();
        }
        let text = normalise(text);
        // Rules already hit: a message rarely hits more than a handful, so a short list.
        let mut found: Vec<(u32, String)> = Vec::new();
        if let Some(ac) = &self.words {
            for m in ac.find_overlapping_iter(&text) {
                let rule = self.word_rule[m.pattern().as_usize()];
                if !found.iter().any(|(r, _)| *r == rule) {
                    found.push((rule, text[m.start()..m.end()].to_owned()));
                }
            }
        }
        if !self.pattern_rule.is_empty() {
            for i in self.patterns.matches(&text).iter() {
                let (rule, re) = &self.pattern_rule[i];
                if !found.iter().any(|(r, _)| r == rule) {
                    let matched = re.find(&text).map(|m| m.as_str().to_owned());
                    found.push((*rule, matched.unwrap_or_default()));
                }
            }
        }
        let mut hits: Vec<Hit> = found
            .into_iter()
            .map(|(i, matched)| {
                let r = &self.rules[i as usize];
                Hit {
                    rule_id: r.id,
                    rule: r.name.clone(),
                    category: r.category,
                    severity: r.severity,
                    action: r.action,
                    matched,
                }
            })
            .collect();
        hits.sort_by(|a, b| {
            (b.action, b.severity)
                .cmp(&(a.action, a.severity))
                .then(a.rule_id.cmp(&b.rule_id))
        });
        Verdict { hits }
    }
}

/// Full-width ASCII to ASCII, lower case (Latin, Greek, Cyrillic), white space runs to one
/// space.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        };
        if c.is_whitespace() {
            if !space {
                out.push(' ');
            }
            space = true;
            continue;
        }
        space = false;
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else if c < '\u{0530}' {
            // Latin, Greek and Cyrillic letters have case; the scripts after them in Unicode
            // that a brand's chats use (CJK above all) do not, and looking each of their
            // characters up in the case tables would cost more than the whole rule check.
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The rules a new brand starts with: the risks every luxury brand watches in chat. Ids are
/// 0; the store gives them theirs.
pub fn default_rules() -> Vec<Rule> {
    let words = |list: &[&str]| Matcher::Words(list.iter().map(|s| (*s).to_owned()).collect());
    let rule = |name: &str, category, severity, action, matcher| Rule {
        id: 0,
        name: name.to_owned(),
        category,
        severity,
        action,
        matcher,
        enabled: true,
    };
    vec![
        rule(
            "Discount promise (折)",
            Category::PricePromise,
            Severity::High,
            RuleAction::Block,
            Matcher::Pattern(r"(打|给你|可以|能)?[一二三四五六七八九1-9](\.\d)?\s?折".into()),
        ),
        rule(
            "Discount promise (% off)",
            Category::PricePromise,
            Severity::High,
            RuleAction::Block,
            Matcher::Pattern(r"\b\d{1,2}\s?% ?(off|discount)\b".into()),
        ),
        rule(
            "Price promise",
            Category::PricePromise,
            Severity::Medium,
            RuleAction::Warn,
            words(&[
                "优惠价",
                "内部价",
                "员工价",
                "便宜点",
                "特价给你",
                "special price",
                "staff price",
                "cheaper for you",
            ]),
        ),
        rule(
            "Off-platform payment",
            Category::OffPlatformPayment,
            Severity::High,
            RuleAction::Block,
            words(&[
                "转账",
                "红包",
                "微信支付给我",
                "支付宝",
                "加我私人微信",
                "加我个人微信",
                "加我微信号",
                "私下交易",
                "add my personal wechat",
                "pay me directly",
                "bank transfer to me",
                "alipay",
            ]),
        ),
        rule(
            "Harassment",
            Category::Harassment,
            Severity::High,
            RuleAction::Flag,
            words(&[
                "傻逼",
                "滚开",
                "去死",
                "白痴",
                "神经病",
                "stupid",
                "idiot",
                "shut up",
                "loser",
            ]),
        ),
        rule(
            "Competitor",
            Category::Competitor,
            Severity::Low,
            RuleAction::Flag,
            words(&[
                "chanel",
                "香奈儿",
                "hermès",
                "hermes",
                "爱马仕",
                "dior",
                "迪奥",
            ]),
        ),
        rule(
            "Identity or card number",
            Category::PersonalData,
            Severity::Medium,
            RuleAction::Warn,
            Matcher::Pattern(r"\b(\d{17}[\dx]|\d{16,19})\b".into()),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> RuleSet {
        let mut rules = default_rules();
        for (i, r) in rules.iter_mut().enumerate() {
            r.id = i as i64 + 1;
        }
        RuleSet::compile(&rules).expect("the default rules compile")
    }

    #[test]
    fn a_discount_promise_is_blocked_naming_its_rule() {
        let v = set().check("这款包包我可以给您打八折哦");
        let hit = v.blocked_by().expect("blocked");
        assert_eq!(hit.rule, "Discount promise (折)");
        assert_eq!(hit.category, Category::PricePromise);
        assert!(hit.matched.contains("八折"), "{hit:?}");
        // Full-width digits are the same promise.
        assert!(set().check("给你８折").blocked_by().is_some());
        assert!(
            set()
                .check("I can do 20% off for you")
                .blocked_by()
                .is_some()
        );
    }

    #[test]
    fn off_platform_payment_in_chinese_and_english_is_blocked() {
        assert!(set().check("你直接转账给我就好").blocked_by().is_some());
        assert!(
            set()
                .check("Please ADD MY  Personal WeChat")
                .blocked_by()
                .is_some()
        );
    }

    #[test]
    fn clean_text_has_no_hit_and_each_rule_is_reported_once() {
        assert!(set().check("新季的手袋已经到店，欢迎周末来试").is_clean());
        let v = set().check("滚开 滚开, idiot, and 香奈儿 is better");
        let harassment: Vec<_> = v
            .hits
            .iter()
            .filter(|h| h.category == Category::Harassment)
            .collect();
        assert_eq!(harassment.len(), 1);
        assert_eq!(v.action(), Some(RuleAction::Flag));
        assert!(v.hits.iter().any(|h| h.category == Category::Competitor));
    }

    #[test]
    fn the_strongest_action_comes_first() {
        let v = set().check("香奈儿打八折");
        assert_eq!(v.hits[0].action, RuleAction::Block);
        assert_eq!(v.action(), Some(RuleAction::Block));
    }

    #[test]
    fn a_disabled_rule_is_not_applied_and_a_bad_pattern_is_named() {
        let mut rules = default_rules();
        for r in &mut rules {
            r.enabled = r.category != Category::PricePromise;
        }
        let set = RuleSet::compile(&rules).expect("compiles");
        assert!(set.check("打八折").is_clean());
        let bad = Rule {
            id: 9,
            name: "broken".into(),
            category: Category::Other,
            severity: Severity::Low,
            action: RuleAction::Flag,
            matcher: Matcher::Pattern("([".into()),
            enabled: true,
        };
        let err = RuleSet::compile(&[bad]).expect_err("refused");
        assert!(err.to_string().contains("broken"), "{err}");
    }

    #[test]
    fn normalisation_folds_width_case_and_space() {
        assert_eq!(normalise("ＡＢＣ　１２３  Hi"), "abc 123 hi");
        assert_eq!(normalise("HERMÈS Привет 打八折"), "hermès привет 打八折");
    }
}
