//! Validated values. Each `parse` names the field and what is wrong with the input.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::FieldError;

macro_rules! string_value {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// A brand's URL name: `a-z`, `0-9` and `-`, 2 to 40 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Slug(String);
string_value!(Slug);

impl Slug {
    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !(2..=40).contains(&s.len()) || !ok_chars || s.starts_with('-') || s.ends_with('-') {
            return Err(FieldError::new(
                field,
                "must be 2 to 40 characters of a-z, 0-9 and '-', not starting or ending with '-'",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

/// A store code such as `SH01`: `A-Z`, `0-9`, `-` and `_`, 2 to 16 characters (upper-cased).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct StoreCode(String);
string_value!(StoreCode);

impl StoreCode {
    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        let s = s.trim().to_ascii_uppercase();
        let ok = (2..=16).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !ok {
            return Err(FieldError::new(
                field,
                "must be 2 to 16 characters of A-Z, 0-9, '-' and '_'",
            ));
        }
        Ok(Self(s))
    }
}

/// A non-empty line of text, trimmed, at most `max` characters.
pub fn text(field: &str, s: &str, max: usize) -> Result<String, FieldError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if t.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(t.to_owned())
}

/// Like [`text`], but an empty input is `None`.
pub fn optional_text(
    field: &str,
    s: Option<&str>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => text(field, t, max).map(Some),
    }
}

/// An e-mail address, lower-cased. Checked for shape only (one `@`, a dotted domain).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);
string_value!(Email);

impl Email {
    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        let s = s.trim().to_lowercase();
        let bad = || FieldError::new(field, "is not an e-mail address (name@domain.tld)");
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        if local.is_empty()
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || s.len() > 254
            || s.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad());
        }
        Ok(Self(s))
    }
}

/// A phone number in E.164 form (`+8613800138000`). Spaces, dashes, dots and parentheses are
/// accepted on input and removed; a leading `00` becomes `+`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);
string_value!(Phone);

impl Phone {
    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        let cleaned: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let cleaned = match cleaned.strip_prefix("00") {
            Some(rest) => format!("+{rest}"),
            None => cleaned,
        };
        let digits = cleaned.strip_prefix('+').ok_or_else(|| {
            FieldError::new(
                field,
                "must be in international E.164 form, starting with + and the country code",
            )
        })?;
        if !(8..=15).contains(&digits.len())
            || !digits.chars().all(|c| c.is_ascii_digit())
            || digits.starts_with('0')
        {
            return Err(FieldError::new(
                field,
                "must be + followed by 8 to 15 digits (E.164)",
            ));
        }
        Ok(Self(cleaned))
    }
}

/// An IANA time zone name known to the bundled time zone database.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TimeZoneName(String);
string_value!(TimeZoneName);

impl TimeZoneName {
    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        jiff::tz::TimeZone::get(s)
            .map_err(|_| FieldError::new(field, format!("{s:?} is not a known IANA time zone")))?;
        Ok(Self(s.to_owned()))
    }
    pub fn shanghai() -> Self {
        Self("Asia/Shanghai".to_owned())
    }
}

/// An ISO 4217 currency code: three upper-case letters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Currency(String);
string_value!(Currency);

impl Currency {
    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        let s = s.trim().to_ascii_uppercase();
        if s.len() != 3 || !s.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(FieldError::new(
                field,
                "must be an ISO 4217 code such as CNY or EUR",
            ));
        }
        Ok(Self(s))
    }
}

/// A language tag Salon speaks to people in: `en`, `zh-CN`, `fr`, ….
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Locale(String);
string_value!(Locale);

impl Locale {
    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        let mut parts = s.split('-');
        let lang = parts.next().unwrap_or_default();
        let ok_lang = (2..=3).contains(&lang.len()) && lang.chars().all(|c| c.is_ascii_lowercase());
        let ok_rest = parts
            .all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
        if !ok_lang || !ok_rest {
            return Err(FieldError::new(
                field,
                "must be a language tag such as en, zh-CN or fr",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

/// A client tag: 1 to 40 characters, no commas (they separate tags in CSV).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tag(String);
string_value!(Tag);

impl Tag {
    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        let t = text(field, s, 40)?;
        if t.contains(',') || t.contains('\n') {
            return Err(FieldError::new(
                field,
                "must not contain a comma or a line break",
            ));
        }
        Ok(Self(t))
    }
}

/// A loyalty tier name, checked against the brand's list of tiers.
pub fn tier(field: &str, s: &str, tiers: &[String]) -> Result<String, FieldError> {
    let s = s.trim();
    tiers
        .iter()
        .find(|t| t.eq_ignore_ascii_case(s))
        .cloned()
        .ok_or_else(|| {
            FieldError::new(
                field,
                format!(
                    "unknown tier {s:?}; this brand's tiers are {}",
                    tiers.join(", ")
                ),
            )
        })
}

/// A calendar date `YYYY-MM-DD`.
pub fn date(field: &str, s: &str) -> Result<jiff::civil::Date, FieldError> {
    s.trim()
        .parse::<jiff::civil::Date>()
        .map_err(|_| FieldError::new(field, "must be a date in the form YYYY-MM-DD"))
}

/// An amount of money in minor units (cents, fen) from a decimal string such as `1299.50`.
pub fn money_minor(field: &str, s: &str) -> Result<i64, FieldError> {
    let s = s.trim();
    let bad = || {
        FieldError::new(
            field,
            "must be an amount such as 1299 or 1299.50, not negative",
        )
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || frac.len() > 2
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<2}").parse().map_err(|_| bad())?
    };
    whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(bad)
}

/// A cell of a CSV file that people open in a spreadsheet: one that starts with `=`, `+`,
/// `-`, `@`, a tab or a carriage return would be read as a formula (CSV injection), so it gets
/// a leading apostrophe, which spreadsheets show as text. A plain number (`-12.5`, `+3`,
/// `1e3`) is left as it is: it is read as a number, not run.
pub fn csv_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    if risky && !plain_number(cell) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// Optional sign, digits with at most one `.`, optional exponent: nothing a spreadsheet runs.
fn plain_number(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['+', '-']).unwrap_or(e))),
        None => (s, None),
    };
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((a, b)) => {
            (digits(a) || a.is_empty())
                && (digits(b) || b.is_empty())
                && !(a.is_empty() && b.is_empty())
        }
        None => digits(mantissa),
    };
    mantissa_ok && exponent.is_none_or(digits)
}

#[cfg(test)]
mod tests {

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_are_text() {
        for (cell, out) in [
            (
                "=HYPERLINK(\"http://evil.example\",\"x\")",
                "'=HYPERLINK(\"http://evil.example\",\"x\")",
            ),
            ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("-", "'-"),
            ("-inf", "'-inf"),
            ("Li Na", "Li Na"),
            ("", ""),
            ("a=b", "a=b"),
            ("-12.5", "-12.5"),
            ("+3", "+3"),
            ("-1e-3", "-1e-3"),
            ("1234", "1234"),
        ] {
            assert_eq!(csv_cell(cell), out, "{cell:?}");
        }
    }

    use super::*;

    #[test]
    fn phone_normalises_to_e164() {
        assert_eq!(
            Phone::parse("phone", "+86 138-0013-8000").map(|p| p.0),
            Ok("+8613800138000".into())
        );
        assert_eq!(
            Phone::parse("phone", "0033 6 12 34 56 78").map(|p| p.0),
            Ok("+33612345678".into())
        );
        let e = Phone::parse("phone", "13800138000").err();
        assert_eq!(e.map(|e| e.field), Some("phone".into()));
        assert!(Phone::parse("phone", "+12").is_err());
        assert!(Phone::parse("phone", "+86abc").is_err());
    }

    #[test]
    fn email_is_lowercased_and_checked() {
        assert_eq!(
            Email::parse("email", " A.B@Example.COM ").map(|e| e.0),
            Ok("a.b@example.com".into())
        );
        for bad in ["", "a", "a@b", "@b.c", "a@b@c.d", "a b@c.d", "a@.c"] {
            assert!(Email::parse("email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slug_and_codes() {
        assert!(Slug::parse("slug", "demo").is_ok());
        assert!(Slug::parse("slug", "Demo").is_err());
        assert!(Slug::parse("slug", "-x").is_err());
        assert_eq!(
            StoreCode::parse("code", "sh01").map(|c| c.0),
            Ok("SH01".into())
        );
        assert!(StoreCode::parse("code", "a b").is_err());
    }

    #[test]
    fn time_zones_currencies_locales() {
        assert!(TimeZoneName::parse("tz", "Asia/Shanghai").is_ok());
        assert!(TimeZoneName::parse("tz", "Mars/Olympus").is_err());
        assert!(Currency::parse("c", "cny").is_ok());
        assert!(Currency::parse("c", "yuan").is_err());
        assert!(Locale::parse("l", "zh-CN").is_ok());
        assert!(Locale::parse("l", "Chinese").is_err());
    }

    #[test]
    fn money_parses_minor_units() {
        assert_eq!(money_minor("amount", "1299"), Ok(129_900));
        assert_eq!(money_minor("amount", "1299.5"), Ok(129_950));
        assert_eq!(money_minor("amount", "0.05"), Ok(5));
        for bad in ["-1", "1.234", "abc", "", ".5", "99999999999999999999"] {
            assert!(money_minor("amount", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tiers_match_case_insensitively() {
        let tiers = vec!["Silver".to_owned(), "Gold".to_owned()];
        assert_eq!(tier("tier", "gold", &tiers), Ok("Gold".to_owned()));
        assert!(tier("tier", "Platinum", &tiers).is_err());
    }
}
