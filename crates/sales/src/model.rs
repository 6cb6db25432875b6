//! What attribution works on: orders, returns, touches, exchange rates, the brand's policy and
//! the facts a brand keeps about its clients (assignments) and its disputes (decisions).

use std::collections::BTreeMap;
use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::decimal::Dec;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Where an order was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Pos,
    Ecommerce,
    MiniStore,
    Livestream,
}

impl Source {
    pub const ALL: [Source; 4] = [
        Source::Pos,
        Source::Ecommerce,
        Source::MiniStore,
        Source::Livestream,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Pos => "pos",
            Source::Ecommerce => "ecommerce",
            Source::MiniStore => "mini_store",
            Source::Livestream => "livestream",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A contact between an associate and a client that may lead to a sale. The order of the
/// variants is the spec's tie-break order (an appointment wins a tie).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TouchKind {
    Appointment,
    LiveView,
    ShareClick,
    Message,
    Broadcast,
}

impl TouchKind {
    pub const ALL: [TouchKind; 5] = [
        TouchKind::Appointment,
        TouchKind::LiveView,
        TouchKind::ShareClick,
        TouchKind::Message,
        TouchKind::Broadcast,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TouchKind::Appointment => "appointment",
            TouchKind::LiveView => "live_view",
            TouchKind::ShareClick => "share_click",
            TouchKind::Message => "message",
            TouchKind::Broadcast => "broadcast",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for TouchKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub line: u32,
    pub sku: String,
    pub qty: i64,
    /// What the client paid for the line, in minor units of the order's currency.
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Order {
    pub order_id: String,
    pub source: Source,
    /// The client's CRM id; `None` for an anonymous sale.
    pub client: Option<String>,
    pub store: Option<String>,
    pub placed_at: Millis,
    pub currency: String,
    /// The associate who rang the sale up (a `pos` order's e-mail, lower case).
    pub sold_by: Option<String>,
    pub lines: Vec<OrderLine>,
}

impl Order {
    pub fn total(&self) -> i64 {
        self.lines.iter().map(|l| l.amount).sum()
    }

    pub fn line(&self, line: u32) -> Option<&OrderLine> {
        self.lines.iter().find(|l| l.line == line)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Return {
    pub return_id: String,
    pub order_id: String,
    pub line: u32,
    pub qty: i64,
    /// In minor units of the order's currency.
    pub amount: i64,
    pub at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Touch {
    pub at: Millis,
    /// The associate's e-mail, lower case.
    pub associate: String,
    /// The client's CRM id.
    pub client: String,
    pub kind: TouchKind,
}

/// One unit of `currency` in the brand's currency, from `date` on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FxRate {
    pub date: Date,
    pub currency: String,
    pub rate: Dec,
}

/// The exchange rates a brand has, by currency and day.
#[derive(Debug, Clone, Default)]
pub struct FxTable {
    by_currency: BTreeMap<String, Vec<(Date, Dec)>>,
}

impl FxTable {
    pub fn new(rates: impl IntoIterator<Item = FxRate>) -> Self {
        let mut t = Self::default();
        for r in rates {
            t.insert(r);
        }
        t
    }

    /// Adds a rate; a later rate for the same currency and day replaces the earlier one.
    pub fn insert(&mut self, r: FxRate) {
        let v = self.by_currency.entry(r.currency).or_default();
        match v.binary_search_by(|(d, _)| d.cmp(&r.date)) {
            Ok(i) => v[i].1 = r.rate,
            Err(i) => v.insert(i, (r.date, r.rate)),
        }
    }

    /// The rate for a day: the latest on or before it; 1 for the brand's own currency.
    pub fn rate(&self, brand_currency: &str, currency: &str, day: Date) -> Option<Dec> {
        if currency == brand_currency {
            return Some(Dec::ONE);
        }
        let v = self.by_currency.get(currency)?;
        let i = v.partition_point(|(d, _)| *d <= day);
        i.checked_sub(1).map(|i| v[i].1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    LastTouch,
    Split,
}

/// The brand's attribution and commission policy; [`Policy::default`] is the spec's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub model: Model,
    /// Days per touch kind, indexed by [`TouchKind::index`].
    pub windows: [i64; 5],
    pub book_credit: bool,
    pub base_rate: Dec,
    pub bonus_rate: Dec,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            model: Model::LastTouch,
            windows: [30, 3, 7, 14, 3],
            book_credit: false,
            base_rate: Dec::from_units(20_000_000_000),
            bonus_rate: Dec::from_units(10_000_000_000),
        }
    }
}

impl Serialize for Policy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl Policy {
    pub fn window_days(&self, kind: TouchKind) -> i64 {
        self.windows[kind.index()]
    }

    /// The widest window, in milliseconds: how far back a touch can matter.
    pub fn max_window_ms(&self) -> i64 {
        self.windows.iter().copied().max().unwrap_or(0) * DAY_MS
    }

    /// The policy as the spec's file writes it (targets apart).
    pub fn to_json(&self) -> serde_json::Value {
        let windows: serde_json::Map<String, serde_json::Value> = TouchKind::ALL
            .iter()
            .map(|k| (k.as_str().to_owned(), self.window_days(*k).into()))
            .collect();
        serde_json::json!({
            "model": self.model,
            "book_credit": self.book_credit,
            "windows": windows,
            "base_rate": self.base_rate.to_string(),
            "bonus_rate": self.bonus_rate.to_string(),
        })
    }
}

/// A policy file: the policy, and the monthly targets it sets (month → associate → amount).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyFile {
    pub policy: Policy,
    pub targets: BTreeMap<Month, BTreeMap<String, i64>>,
}

/// From `at` on, the client is in this associate's book (`None`: in nobody's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assignment {
    pub at: Millis,
    pub associate: Option<String>,
}

/// A decided dispute: the order's shares, set explicitly (fractions adding up to 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub order_id: String,
    pub shares: Vec<(String, Dec)>,
}

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i16,
    pub month: i8,
}

impl Month {
    pub fn parse(s: &str) -> Option<Self> {
        let (y, m) = s.split_once('-')?;
        if y.len() != 4 || m.len() != 2 || !y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let year: i16 = y.parse().ok()?;
        let month: i8 = m.parse().ok()?;
        ((1..=12).contains(&month) && year >= 1).then_some(Self { year, month })
    }

    pub fn of(date: Date) -> Self {
        Self {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn first_day(self) -> Date {
        Date::constant(self.year, self.month, 1)
    }

    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn prev(self) -> Self {
        if self.month == 1 {
            Self {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Self {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// `[start, end)` of the month in a time zone, in milliseconds.
    pub fn bounds(self, tz: &jiff::tz::TimeZone) -> (Millis, Millis) {
        let start = |m: Month| {
            m.first_day()
                .to_datetime(jiff::civil::Time::midnight())
                .to_zoned(tz.clone())
                .map(|z| z.timestamp().as_millisecond())
                .unwrap_or(i64::MAX)
        };
        (start(self), start(self.next()))
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The day of an instant in a time zone.
pub fn day_of(at: Millis, tz: &jiff::tz::TimeZone) -> Date {
    jiff::Timestamp::from_millisecond(at)
        .map(|t| t.to_zoned(tz.clone()).date())
        .unwrap_or(Date::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_and_bound_in_the_zone() {
        assert_eq!(
            Month::parse("2026-01").map(|m| m.to_string()),
            Some("2026-01".into())
        );
        for bad in [
            "2026-13",
            "2026-1",
            "26-01",
            "2026-00",
            "2026/01",
            "2026-01-01",
        ] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz");
        let (s, e) = Month::parse("2026-01").expect("month").bounds(&tz);
        // 2026-01-01T00:00+08:00 is 2025-12-31T16:00Z.
        assert_eq!(s, 1_767_196_800_000);
        assert_eq!(e - s, 31 * DAY_MS);
        assert_eq!(
            Month::parse("2026-12").map(|m| m.next().to_string()),
            Some("2027-01".into())
        );
        assert_eq!(
            Month::parse("2026-01").map(|m| m.prev().to_string()),
            Some("2025-12".into())
        );
    }

    #[test]
    fn the_rate_of_a_day_is_the_latest_on_or_before_it() {
        let d = |s: &str| s.parse::<Date>().expect("date");
        let r = |s: &str| s.parse::<Dec>().expect("dec");
        let t = FxTable::new([
            FxRate {
                date: d("2026-01-05"),
                currency: "EUR".into(),
                rate: r("7.8"),
            },
            FxRate {
                date: d("2026-01-09"),
                currency: "EUR".into(),
                rate: r("7.9"),
            },
        ]);
        assert_eq!(t.rate("CNY", "EUR", d("2026-01-04")), None);
        assert_eq!(t.rate("CNY", "EUR", d("2026-01-05")), Some(r("7.8")));
        assert_eq!(t.rate("CNY", "EUR", d("2026-01-08")), Some(r("7.8")));
        assert_eq!(t.rate("CNY", "EUR", d("2026-01-09")), Some(r("7.9")));
        assert_eq!(t.rate("CNY", "EUR", d("2027-01-09")), Some(r("7.9")));
        assert_eq!(t.rate("CNY", "CNY", d("2000-01-01")), Some(Dec::ONE));
        assert_eq!(t.rate("CNY", "USD", d("2026-01-09")), None);
    }
}
