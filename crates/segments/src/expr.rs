//! The segment language: terms over client facts joined by `AND`, `OR`, `NOT` and parentheses.
//!
//! ```text
//! tier:gold AND consent:wecom AND spend>=50000 AND last_purchase:180d AND NOT tag:do-not-disturb
//! (store:SH01 OR store:BJ01) birthday:this_month        # juxtaposition means AND
//! ```
//!
//! | field | values | meaning |
//! |---|---|---|
//! | `tag`, `tier`, `store`, `city`, `language` | a name (quote it if it has spaces) | equal, case-insensitive |
//! | `sa` | an associate's user id | the client's associate |
//! | `spend` | an amount in major units, with `>=`, `>`, `<=`, `<`, `=` | lifetime spend |
//! | `last_purchase`, `last_interaction` | `:Nd` (within the last N days), or `>=`/`<`… a date `YYYY-MM-DD` | when |
//! | `birthday` | `:1`…`:12`, `:this_month`, `:next_month` | birth month |
//! | `consent` | a channel (`wecom`, `wechat_oa`, `whatsapp`, `sms`, `email`) | marketing consent granted |
//! | `channel` | `wecom`, `wechat_oa`, `whatsapp`, `crm` | the client can be reached there |

use serde::Serialize;
use std::fmt;

/// A parsed segment expression.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Expr {
    And { terms: Vec<Expr> },
    Or { terms: Vec<Expr> },
    Not { term: Box<Expr> },
    Term { term: Term },
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cmp {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl Cmp {
    fn as_str(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Eq => "=",
            Cmp::Ge => ">=",
            Cmp::Gt => ">",
        }
    }
}

/// When, in a date term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum When {
    /// Within the last N days.
    WithinDays { days: u32 },
    /// Compared with the start of a day in the brand's time zone.
    Date { cmp: Cmp, date: jiff::civil::Date },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DateField {
    LastPurchase,
    LastInteraction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "month", rename_all = "snake_case")]
pub enum Month {
    Of(u8),
    ThisMonth,
    NextMonth,
}

/// One test of a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "field", rename_all = "snake_case")]
pub enum Term {
    Tag { value: String },
    Tier { value: String },
    Store { value: String },
    City { value: String },
    Language { value: String },
    Sa { id: i64 },
    Spend { cmp: Cmp, minor: i64 },
    Date { which: DateField, when: When },
    Birthday { month: Month },
    Consent { channel: String },
    Channel { kind: String },
}

/// A segment expression that cannot be read, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("segment expression, at character {at}: {message}")]
pub struct ParseError {
    /// 1-based character position.
    pub at: usize,
    pub message: String,
}

/// The channels consent is recorded for.
pub const CONSENT_CHANNELS: [&str; 5] = ["wecom", "wechat_oa", "whatsapp", "sms", "email"];
/// The channel identities a client can have.
pub const IDENTITY_KINDS: [&str; 4] = ["wecom", "wechat_oa", "whatsapp", "crm"];
const FIELDS: &str = "tag, tier, store, city, language, sa, spend, last_purchase, last_interaction, birthday, consent, channel";

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    And,
    Or,
    Not,
    /// field, comparison, value
    Term(String, Cmp, bool, String),
}

fn err(at: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        at,
        message: message.into(),
    }
}

fn tokens(src: &str) -> Result<Vec<(usize, Tok)>, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let at = i + 1;
        if c == '(' {
            out.push((at, Tok::Open));
            i += 1;
            continue;
        }
        if c == ')' {
            out.push((at, Tok::Close));
            i += 1;
            continue;
        }
        // A field name, a keyword, or a bare word.
        let start = i;
        while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '-')
        {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        if word.is_empty() {
            return Err(err(at, format!("unexpected {c:?}")));
        }
        let op = match (chars.get(i), chars.get(i + 1)) {
            (Some(':'), _) => Some((Cmp::Eq, true, 1)),
            (Some('>'), Some('=')) => Some((Cmp::Ge, false, 2)),
            (Some('<'), Some('=')) => Some((Cmp::Le, false, 2)),
            (Some('>'), _) => Some((Cmp::Gt, false, 1)),
            (Some('<'), _) => Some((Cmp::Lt, false, 1)),
            (Some('='), _) => Some((Cmp::Eq, false, 1)),
            _ => None,
        };
        let Some((cmp, colon, len)) = op else {
            match word.to_ascii_uppercase().as_str() {
                "AND" => out.push((at, Tok::And)),
                "OR" => out.push((at, Tok::Or)),
                "NOT" => out.push((at, Tok::Not)),
                _ => {
                    return Err(err(
                        at,
                        format!("{word:?} is not a term: write field:value (fields: {FIELDS})"),
                    ));
                }
            }
            continue;
        };
        i += len;
        let value = if chars.get(i) == Some(&'"') {
            let open = i;
            i += 1;
            let s = i;
            while i < chars.len() && chars[i] != '"' {
                i += 1;
            }
            if i >= chars.len() {
                return Err(err(open + 1, "unclosed quote"));
            }
            let v: String = chars[s..i].iter().collect();
            i += 1;
            v
        } else {
            let s = i;
            while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '(' && chars[i] != ')'
            {
                i += 1;
            }
            chars[s..i].iter().collect()
        };
        if value.is_empty() {
            return Err(err(at, format!("{word} has no value")));
        }
        out.push((at, Tok::Term(word.to_ascii_lowercase(), cmp, colon, value)));
    }
    Ok(out)
}

/// Parses a segment expression. An empty expression is an error: every segment says who.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    if src.chars().count() > 4_000 {
        return Err(err(1, "longer than 4,000 characters"));
    }
    let toks = tokens(src)?;
    if toks.is_empty() {
        return Err(err(
            1,
            "empty: say who, for example tier:gold AND consent:wecom",
        ));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        end: src.chars().count() + 1,
        depth: 0,
    };
    let e = p.or()?;
    if let Some((at, t)) = p.toks.get(p.pos) {
        let what = if *t == Tok::Close {
            "a ')' without its '('".to_owned()
        } else {
            "unexpected term".to_owned()
        };
        return Err(err(*at, what));
    }
    Ok(e)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }
    fn at(&self) -> usize {
        self.toks.get(self.pos).map(|(a, _)| *a).unwrap_or(self.end)
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or { terms }
        })
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.unary()?];
        loop {
            match self.peek() {
                Some(Tok::And) => {
                    self.pos += 1;
                    terms.push(self.unary()?);
                }
                Some(Tok::Open | Tok::Not | Tok::Term(..)) => terms.push(self.unary()?),
                _ => break,
            }
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::And { terms }
        })
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        let at = self.at();
        match self.toks.get(self.pos).map(|(_, t)| t.clone()) {
            Some(Tok::Not) => {
                self.pos += 1;
                Ok(Expr::Not {
                    term: Box::new(self.unary()?),
                })
            }
            Some(Tok::Open) => {
                self.depth += 1;
                if self.depth > 32 {
                    return Err(err(at, "nested more than 32 deep"));
                }
                self.pos += 1;
                let e = self.or()?;
                if self.peek() != Some(&Tok::Close) {
                    return Err(err(at, "this '(' is never closed"));
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(e)
            }
            Some(Tok::Term(field, cmp, colon, value)) => {
                self.pos += 1;
                Ok(Expr::Term {
                    term: term(at, &field, cmp, colon, &value)?,
                })
            }
            Some(Tok::And | Tok::Or) => Err(err(at, "AND / OR needs a term on each side")),
            Some(Tok::Close) => Err(err(at, "')' where a term was expected")),
            None => Err(err(at, "the expression ends where a term was expected")),
        }
    }
}

fn term(at: usize, field: &str, cmp: Cmp, colon: bool, value: &str) -> Result<Term, ParseError> {
    let equal_only = |name: &str| -> Result<(), ParseError> {
        if cmp == Cmp::Eq {
            Ok(())
        } else {
            Err(err(
                at,
                format!("{name} takes {name}:value, not {}", cmp.as_str()),
            ))
        }
    };
    let one_of = |name: &str, allowed: &[&str]| -> Result<String, ParseError> {
        let v = value.to_ascii_lowercase();
        if allowed.contains(&v.as_str()) {
            Ok(v)
        } else {
            Err(err(
                at,
                format!("{name}:{value}: expected one of {}", allowed.join(", ")),
            ))
        }
    };
    Ok(match field {
        "tag" => {
            equal_only("tag")?;
            Term::Tag {
                value: value.to_lowercase(),
            }
        }
        "tier" => {
            equal_only("tier")?;
            Term::Tier {
                value: value.to_lowercase(),
            }
        }
        "store" => {
            equal_only("store")?;
            Term::Store {
                value: value.to_lowercase(),
            }
        }
        "city" => {
            equal_only("city")?;
            Term::City {
                value: value.to_lowercase(),
            }
        }
        "language" | "lang" => {
            equal_only("language")?;
            Term::Language {
                value: value.to_lowercase(),
            }
        }
        "sa" => {
            equal_only("sa")?;
            let id = value
                .parse::<i64>()
                .map_err(|_| err(at, format!("sa:{value}: expected an associate's user id")))?;
            Term::Sa { id }
        }
        "spend" => {
            let minor = money(value).ok_or_else(|| {
                err(
                    at,
                    format!(
                        "spend: {value:?} is not an amount (major units, e.g. 50000 or 1999.50)"
                    ),
                )
            })?;
            Term::Spend { cmp, minor }
        }
        "last_purchase" | "last_interaction" => {
            let which = if field == "last_purchase" {
                DateField::LastPurchase
            } else {
                DateField::LastInteraction
            };
            let when = if colon {
                let days = value
                    .strip_suffix('d')
                    .and_then(|d| d.parse::<u32>().ok())
                    .filter(|d| *d <= 36_600)
                    .ok_or_else(|| {
                        err(
                            at,
                            format!(
                                "{field}:{value}: write {field}:30d (within the last 30 days) or {field}>=2026-01-01"
                            ),
                        )
                    })?;
                When::WithinDays { days }
            } else {
                let date: jiff::civil::Date = value.parse().map_err(|_| {
                    err(
                        at,
                        format!("{field}{}{value}: expected a date YYYY-MM-DD", cmp.as_str()),
                    )
                })?;
                When::Date { cmp, date }
            };
            Term::Date { which, when }
        }
        "birthday" => {
            equal_only("birthday")?;
            let v = value.to_ascii_lowercase();
            let month = match v.as_str() {
                "this_month" => Month::ThisMonth,
                "next_month" => Month::NextMonth,
                _ => Month::Of(
                    v.parse::<u8>()
                        .ok()
                        .filter(|m| (1..=12).contains(m))
                        .ok_or_else(|| {
                            err(
                                at,
                                format!(
                                    "birthday:{value}: expected 1 to 12, this_month or next_month"
                                ),
                            )
                        })?,
                ),
            };
            Term::Birthday { month }
        }
        "consent" => {
            equal_only("consent")?;
            Term::Consent {
                channel: one_of("consent", &CONSENT_CHANNELS)?,
            }
        }
        "channel" => {
            equal_only("channel")?;
            Term::Channel {
                kind: one_of("channel", &IDENTITY_KINDS)?,
            }
        }
        other => {
            return Err(err(
                at,
                format!("unknown field {other:?}; fields are {FIELDS}"),
            ));
        }
    })
}

/// Major units with at most two decimals, to minor units.
fn money(v: &str) -> Option<i64> {
    let (whole, frac) = match v.split_once('.') {
        Some((w, f)) => (w, f),
        None => (v, ""),
    };
    if whole.is_empty() || frac.len() > 2 || !whole.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let w: i64 = whole.parse().ok()?;
    let f: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<2}").parse().ok()?
    };
    w.checked_mul(100)?.checked_add(f)
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn join(f: &mut fmt::Formatter<'_>, terms: &[Expr], sep: &str) -> fmt::Result {
            for (i, t) in terms.iter().enumerate() {
                if i > 0 {
                    write!(f, " {sep} ")?;
                }
                match t {
                    Expr::And { .. } | Expr::Or { .. } => write!(f, "({t})")?,
                    _ => write!(f, "{t}")?,
                }
            }
            Ok(())
        }
        match self {
            Expr::And { terms } => join(f, terms, "AND"),
            Expr::Or { terms } => join(f, terms, "OR"),
            Expr::Not { term } => match **term {
                Expr::And { .. } | Expr::Or { .. } => write!(f, "NOT ({term})"),
                _ => write!(f, "NOT {term}"),
            },
            Expr::Term { term } => write!(f, "{term}"),
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn q(v: &str) -> String {
            if v.chars().any(|c| c.is_whitespace() || c == '(' || c == ')') {
                format!("\"{v}\"")
            } else {
                v.to_owned()
            }
        }
        match self {
            Term::Tag { value } => write!(f, "tag:{}", q(value)),
            Term::Tier { value } => write!(f, "tier:{}", q(value)),
            Term::Store { value } => write!(f, "store:{}", q(value)),
            Term::City { value } => write!(f, "city:{}", q(value)),
            Term::Language { value } => write!(f, "language:{}", q(value)),
            Term::Sa { id } => write!(f, "sa:{id}"),
            Term::Spend { cmp, minor } => {
                if minor % 100 == 0 {
                    write!(f, "spend{}{}", cmp.as_str(), minor / 100)
                } else {
                    write!(f, "spend{}{}.{:02}", cmp.as_str(), minor / 100, minor % 100)
                }
            }
            Term::Date { which, when } => {
                let name = match which {
                    DateField::LastPurchase => "last_purchase",
                    DateField::LastInteraction => "last_interaction",
                };
                match when {
                    When::WithinDays { days } => write!(f, "{name}:{days}d"),
                    When::Date { cmp, date } => write!(f, "{name}{}{date}", cmp.as_str()),
                }
            }
            Term::Birthday { month } => match month {
                Month::Of(m) => write!(f, "birthday:{m}"),
                Month::ThisMonth => write!(f, "birthday:this_month"),
                Month::NextMonth => write!(f, "birthday:next_month"),
            },
            Term::Consent { channel } => write!(f, "consent:{channel}"),
            Term::Channel { kind } => write!(f, "channel:{kind}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let e = parse("tier:gold OR tier:platinum AND NOT tag:vip").expect("parses");
        assert_eq!(
            e.to_string(),
            "tier:gold OR (tier:platinum AND NOT tag:vip)"
        );
        let e = parse("(tier:gold OR tier:platinum) consent:wecom").expect("parses");
        assert_eq!(
            e.to_string(),
            "(tier:gold OR tier:platinum) AND consent:wecom"
        );
    }

    #[test]
    fn every_term_reads_back_as_written() {
        let src = "tag:\"big spender\" AND store:sh01 AND sa:12 AND spend>=50000 AND spend<1999.5 AND last_purchase:180d AND last_interaction<2026-01-01 AND birthday:this_month AND birthday:3 AND consent:wecom AND channel:whatsapp AND city:shanghai AND language:zh";
        let e = parse(src).expect("parses");
        let again = parse(&e.to_string()).expect("parses again");
        assert_eq!(e, again);
        assert!(e.to_string().contains("spend<1999.50"));
    }

    #[test]
    fn errors_name_the_place_and_the_problem() {
        let e = parse("tier:gold AND colour:red").expect_err("unknown field");
        assert_eq!(e.at, 15);
        assert!(e.message.contains("unknown field \"colour\""), "{e}");
        let e = parse("spend>=lots").expect_err("bad amount");
        assert!(e.message.contains("not an amount"), "{e}");
        let e = parse("(tier:gold").expect_err("unclosed");
        assert!(e.message.contains("never closed"), "{e}");
        let e = parse("tier:gold )").expect_err("stray close");
        assert_eq!(e.at, 11);
        let e = parse("tier:gold AND").expect_err("dangling and");
        assert!(e.message.contains("ends"), "{e}");
        let e = parse("consent:fax").expect_err("channel");
        assert!(e.message.contains("wecom"), "{e}");
        let e = parse("birthday:13").expect_err("month");
        assert!(e.message.contains("1 to 12"), "{e}");
        let e = parse("tier>gold").expect_err("cmp on a name");
        assert!(e.message.contains("tier:value"), "{e}");
        let e = parse("   ").expect_err("empty");
        assert!(e.message.contains("empty"), "{e}");
        let e = parse("gold").expect_err("bare word");
        assert!(e.message.contains("field:value"), "{e}");
        assert!(parse(&"(".repeat(40)).is_err());
    }

    #[test]
    fn money_is_read_exactly() {
        assert_eq!(money("50000"), Some(5_000_000));
        assert_eq!(money("19.5"), Some(1950));
        assert_eq!(money("19.05"), Some(1905));
        assert_eq!(money("19.055"), None);
        assert_eq!(money("-1"), None);
        assert_eq!(money(".5"), None);
    }
}
