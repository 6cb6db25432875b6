//! Reading the spec's JSON Lines (orders, returns, touches, exchange rates) and its policy file.
//! Each value is checked as it is read; a problem names its line and field.

use std::collections::{BTreeMap, HashSet};

use jiff::civil::Date;
use serde_json::{Map, Value};

use crate::decimal::Dec;
use crate::model::*;

/// A problem with one line of an input file (line 0: the whole document).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {field}: {message}")]
pub struct LineError {
    pub line: usize,
    pub field: String,
    pub message: String,
}

impl LineError {
    pub fn new(line: usize, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            line,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The longest id, SKU or CRM id accepted.
const MAX_ID: usize = 128;

struct Fields<'a> {
    line: usize,
    obj: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn of(line: usize, text: &str) -> Result<Map<String, Value>, LineError> {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(obj)) => Ok(obj),
            Ok(_) => Err(LineError::new(line, "line", "is not a JSON object")),
            Err(e) => Err(LineError::new(
                line,
                "line",
                format!("is not valid JSON ({e})"),
            )),
        }
    }

    fn err(&self, field: &str, message: impl Into<String>) -> LineError {
        LineError::new(self.line, field, message)
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        self.obj.get(field).filter(|v| !v.is_null())
    }

    fn required(&self, field: &str) -> Result<&'a Value, LineError> {
        self.get(field).ok_or_else(|| self.err(field, "is missing"))
    }

    fn string(&self, field: &str) -> Result<&'a str, LineError> {
        self.opt_string(field)?
            .ok_or_else(|| self.err(field, "is missing"))
    }

    fn opt_string(&self, field: &str) -> Result<Option<&'a str>, LineError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => {
                let t = s.trim();
                if t.is_empty() {
                    Err(self.err(field, "is empty"))
                } else if t.len() > MAX_ID {
                    Err(self.err(field, format!("is longer than {MAX_ID} characters")))
                } else if t.chars().any(char::is_control) {
                    Err(self.err(field, "contains a control character"))
                } else {
                    Ok(Some(t))
                }
            }
            Some(_) => Err(self.err(field, "must be a string")),
        }
    }

    fn int(&self, field: &str, min: i64) -> Result<i64, LineError> {
        let v = self.required(field)?;
        let n = v
            .as_i64()
            .ok_or_else(|| self.err(field, "must be a whole number"))?;
        if n < min {
            return Err(self.err(field, format!("must be at least {min}")));
        }
        Ok(n)
    }

    fn instant(&self, field: &str) -> Result<Millis, LineError> {
        let s = self.string(field)?;
        instant(s).ok_or_else(|| {
            self.err(
                field,
                format!("{s:?} is not an RFC 3339 time with an offset (2026-01-09T15:02:00+08:00)"),
            )
        })
    }

    fn email(&self, field: &str) -> Result<Option<String>, LineError> {
        match self.opt_string(field)? {
            None => Ok(None),
            Some(s) => email(s)
                .map(Some)
                .ok_or_else(|| self.err(field, format!("{s:?} is not an e-mail address"))),
        }
    }

    fn currency(&self, field: &str) -> Result<String, LineError> {
        let s = self.string(field)?;
        currency(s).ok_or_else(|| {
            self.err(
                field,
                format!("{s:?} is not an ISO 4217 currency code (three capital letters)"),
            )
        })
    }
}

/// An RFC 3339 instant with its offset, in milliseconds.
pub fn instant(s: &str) -> Option<Millis> {
    s.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

/// An e-mail address, lower case.
pub fn email(s: &str) -> Option<String> {
    let s = s.trim().to_lowercase();
    let (local, domain) = s.split_once('@')?;
    let ok = !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && s.len() <= 254
        && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then_some(s)
}

pub fn currency(s: &str) -> Option<String> {
    (s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase())).then(|| s.to_owned())
}

fn decimal(v: &Value) -> Option<Result<Dec, crate::decimal::DecError>> {
    match v {
        Value::String(s) => Some(s.trim().parse()),
        Value::Number(n) => Some(n.to_string().parse()),
        _ => None,
    }
}

/// The common shape of a line, read without building a JSON tree: the fast path. Anything it
/// does not take as it is (an escaped string, a null, a value to check) goes to the checked
/// path, which gives the same answer or names the problem; a test holds the two equal.
mod fast {
    #[derive(serde::Deserialize)]
    pub struct Touch<'a> {
        pub at: &'a str,
        pub associate: &'a str,
        pub client: &'a str,
        pub kind: &'a str,
    }

    #[derive(serde::Deserialize)]
    pub struct Line<'a> {
        pub line: u32,
        pub sku: &'a str,
        pub qty: i64,
        pub amount: i64,
    }

    #[derive(serde::Deserialize)]
    pub struct Order<'a> {
        pub order_id: &'a str,
        pub source: &'a str,
        pub client: Option<&'a str>,
        pub store: Option<&'a str>,
        pub placed_at: &'a str,
        pub currency: &'a str,
        pub sold_by: Option<&'a str>,
        #[serde(borrow)]
        pub lines: Vec<Line<'a>>,
    }
}

/// A string the checked path takes unchanged: trimmed, not empty, short, no control character.
fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID
        && s.trim().len() == s.len()
        && !s.chars().any(char::is_control)
}

fn order_fast(text: &str) -> Option<Order> {
    let r: fast::Order = serde_json::from_str(text).ok()?;
    let source = Source::parse(r.source)?;
    let ok = plain(r.order_id)
        && r.client.is_none_or(plain)
        && r.store.is_none_or(plain)
        && (source != Source::Pos || r.store.is_some())
        && r.sold_by.is_none_or(plain)
        && !r.lines.is_empty();
    if !ok {
        return None;
    }
    let mut seen = HashSet::with_capacity(r.lines.len());
    let mut total: i128 = 0;
    for l in &r.lines {
        if l.line < 1 || l.qty < 1 || l.amount < 0 || !plain(l.sku) || !seen.insert(l.line) {
            return None;
        }
        total += i128::from(l.amount);
    }
    if total > i128::from(i64::MAX / 1_000_000) {
        return None;
    }
    Some(Order {
        order_id: r.order_id.to_owned(),
        source,
        client: r.client.map(str::to_owned),
        store: r.store.map(str::to_owned),
        placed_at: instant(r.placed_at)?,
        currency: currency(r.currency)?,
        sold_by: match r.sold_by {
            Some(s) => Some(email(s)?),
            None => None,
        },
        lines: r
            .lines
            .iter()
            .map(|l| OrderLine {
                line: l.line,
                sku: l.sku.to_owned(),
                qty: l.qty,
                amount: l.amount,
            })
            .collect(),
    })
}

/// One order line of the spec's JSON Lines.
pub fn order(line: usize, text: &str) -> Result<Order, LineError> {
    match order_fast(text) {
        Some(o) => Ok(o),
        None => order_checked(line, text),
    }
}

fn order_checked(line: usize, text: &str) -> Result<Order, LineError> {
    let obj = Fields::of(line, text)?;
    let f = Fields { line, obj: &obj };
    let order_id = f.string("order_id")?.to_owned();
    let source_text = f.string("source")?;
    let source = Source::parse(source_text).ok_or_else(|| {
        f.err(
            "source",
            format!("{source_text:?} is not one of pos, ecommerce, mini_store, livestream"),
        )
    })?;
    let client = f.opt_string("client")?.map(str::to_owned);
    let store = f.opt_string("store")?.map(str::to_owned);
    if source == Source::Pos && store.is_none() {
        return Err(f.err("store", "is required for a pos order"));
    }
    let placed_at = f.instant("placed_at")?;
    let currency = f.currency("currency")?;
    let sold_by = f.email("sold_by")?;
    let lines = match f.required("lines")? {
        Value::Array(a) if !a.is_empty() => a,
        Value::Array(_) => return Err(f.err("lines", "is empty: an order has at least one line")),
        _ => return Err(f.err("lines", "must be an array of lines")),
    };
    let mut out = Vec::with_capacity(lines.len());
    let mut seen = HashSet::new();
    for (i, l) in lines.iter().enumerate() {
        let Value::Object(lo) = l else {
            return Err(f.err(&format!("lines[{i}]"), "must be an object"));
        };
        let lf = Fields { line, obj: lo };
        let field = |name: &str| format!("lines[{i}].{name}");
        let rename = |e: LineError| LineError::new(line, field(&e.field), e.message);
        let n = lf.int("line", 1).map_err(rename)?;
        let n = u32::try_from(n).map_err(|_| f.err(&field("line"), "is too large"))?;
        if !seen.insert(n) {
            return Err(f.err(
                &field("line"),
                format!("line {n} appears twice in the order"),
            ));
        }
        out.push(OrderLine {
            line: n,
            sku: lf.string("sku").map_err(rename)?.to_owned(),
            qty: lf.int("qty", 1).map_err(rename)?,
            amount: lf.int("amount", 0).map_err(rename)?,
        });
    }
    let total: i128 = out.iter().map(|l| i128::from(l.amount)).sum();
    if total > i128::from(i64::MAX / 1_000_000) {
        return Err(f.err("lines", "the order's total is too large"));
    }
    Ok(Order {
        order_id,
        source,
        client,
        store,
        placed_at,
        currency,
        sold_by,
        lines: out,
    })
}

/// One return line of the spec's JSON Lines (checked against its order by the importer).
pub fn return_line(line: usize, text: &str) -> Result<Return, LineError> {
    let obj = Fields::of(line, text)?;
    let f = Fields { line, obj: &obj };
    let n = f.int("line", 1)?;
    Ok(Return {
        return_id: f.string("return_id")?.to_owned(),
        order_id: f.string("order_id")?.to_owned(),
        line: u32::try_from(n).map_err(|_| f.err("line", "is too large"))?,
        qty: f.int("qty", 1)?,
        amount: f.int("amount", 0)?,
        at: f.instant("at")?,
    })
}

fn touch_fast(text: &str) -> Option<Touch> {
    let r: fast::Touch = serde_json::from_str(text).ok()?;
    if !plain(r.client) || !plain(r.associate) {
        return None;
    }
    Some(Touch {
        at: instant(r.at)?,
        associate: email(r.associate)?,
        client: r.client.to_owned(),
        kind: TouchKind::parse(r.kind)?,
    })
}

/// One touch line of the spec's JSON Lines.
pub fn touch(line: usize, text: &str) -> Result<Touch, LineError> {
    match touch_fast(text) {
        Some(t) => Ok(t),
        None => touch_checked(line, text),
    }
}

fn touch_checked(line: usize, text: &str) -> Result<Touch, LineError> {
    let obj = Fields::of(line, text)?;
    let f = Fields { line, obj: &obj };
    let at = f.instant("at")?;
    let associate = f
        .email("associate")?
        .ok_or_else(|| f.err("associate", "is missing"))?;
    let client = f.string("client")?.to_owned();
    let kind_text = f.string("kind")?;
    let kind = TouchKind::parse(kind_text).ok_or_else(|| {
        f.err(
            "kind",
            format!(
                "{kind_text:?} is not a touch kind (message, share_click, live_view, appointment, broadcast)"
            ),
        )
    })?;
    Ok(Touch {
        at,
        associate,
        client,
        kind,
    })
}

/// One exchange-rate line of the spec's JSON Lines.
pub fn fx_rate(line: usize, text: &str) -> Result<FxRate, LineError> {
    let obj = Fields::of(line, text)?;
    let f = Fields { line, obj: &obj };
    let date_text = f.string("date")?;
    let date = parse_date(date_text)
        .ok_or_else(|| f.err("date", format!("{date_text:?} is not a date (YYYY-MM-DD)")))?;
    let currency = f.currency("currency")?;
    let rate = match decimal(f.required("rate")?) {
        None => return Err(f.err("rate", "must be a decimal string such as \"7.8125\"")),
        Some(Err(e)) => return Err(f.err("rate", e.to_string())),
        Some(Ok(r)) if !r.is_positive() => return Err(f.err("rate", "must be greater than 0")),
        Some(Ok(r)) => r,
    };
    Ok(FxRate {
        date,
        currency,
        rate,
    })
}

pub fn parse_date(s: &str) -> Option<Date> {
    if s.len() != 10 {
        return None;
    }
    s.parse().ok()
}

/// The spec's policy file: absent keys keep their defaults.
pub fn policy(text: &str) -> Result<PolicyFile, LineError> {
    let err = |field: &str, m: String| LineError::new(0, field, m);
    let obj = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => o,
        Ok(_) => return Err(err("policy", "must be a JSON object".into())),
        Err(e) => return Err(err("policy", format!("is not valid JSON ({e})"))),
    };
    let mut p = Policy::default();
    let mut targets = BTreeMap::new();
    for (key, v) in &obj {
        match key.as_str() {
            "model" => {
                p.model = match v.as_str() {
                    Some("last_touch") => Model::LastTouch,
                    Some("split") => Model::Split,
                    _ => return Err(err("model", "must be \"last_touch\" or \"split\"".into())),
                }
            }
            "book_credit" => {
                p.book_credit = v
                    .as_bool()
                    .ok_or_else(|| err("book_credit", "must be true or false".into()))?
            }
            "base_rate" | "bonus_rate" => {
                let r = match decimal(v) {
                    Some(Ok(r)) if !r.is_negative() => r,
                    Some(Ok(_)) => return Err(err(key, "must not be negative".into())),
                    Some(Err(e)) => return Err(err(key, e.to_string())),
                    None => {
                        return Err(err(key, "must be a decimal string such as \"0.02\"".into()));
                    }
                };
                if key == "base_rate" {
                    p.base_rate = r;
                } else {
                    p.bonus_rate = r;
                }
            }
            "windows" => {
                let Value::Object(w) = v else {
                    return Err(err(
                        "windows",
                        "must be an object of days per touch kind".into(),
                    ));
                };
                for (kind, days) in w {
                    let field = format!("windows.{kind}");
                    let k = TouchKind::parse(kind)
                        .ok_or_else(|| err(&field, "is not a touch kind".into()))?;
                    let d = days
                        .as_i64()
                        .filter(|d| (0..=3650).contains(d))
                        .ok_or_else(|| {
                            err(
                                &field,
                                "must be a whole number of days from 0 to 3650".into(),
                            )
                        })?;
                    p.windows[k.index()] = d;
                }
            }
            "targets" => {
                let Value::Object(t) = v else {
                    return Err(err("targets", "must be an object of months".into()));
                };
                for (month, per) in t {
                    let m = Month::parse(month).ok_or_else(|| {
                        err(
                            &format!("targets.{month}"),
                            "is not a month (YYYY-MM)".into(),
                        )
                    })?;
                    let Value::Object(per) = per else {
                        return Err(err(
                            &format!("targets.{month}"),
                            "must be an object of associates' e-mails".into(),
                        ));
                    };
                    let entry: &mut BTreeMap<String, i64> = targets.entry(m).or_default();
                    for (who, amount) in per {
                        let field = format!("targets.{month}.{who}");
                        let e = email(who)
                            .ok_or_else(|| err(&field, "is not an e-mail address".into()))?;
                        let a = amount.as_i64().filter(|a| *a >= 0).ok_or_else(|| {
                            err(
                                &field,
                                "must be a whole, non-negative amount in minor units".into(),
                            )
                        })?;
                        entry.insert(e, a);
                    }
                }
            }
            other => {
                return Err(err(
                    other,
                    "is not a policy key (model, book_credit, windows, base_rate, bonus_rate, targets)"
                        .into(),
                ));
            }
        }
    }
    Ok(PolicyFile { policy: p, targets })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = r#"{"order_id": "POS-SH01-000123", "source": "pos", "client": "CRM-00042", "store": "SH01",
"placed_at": "2026-01-09T15:02:00+08:00", "currency": "CNY", "sold_by": "Li.Na@maison-lumiere.example",
"lines": [{"line": 1, "sku": "BAG-CAMILLE-BLK", "qty": 1, "amount": 3250000}]}"#;

    #[test]
    fn reads_the_spec_examples() {
        let o = order(1, &ORDER.replace('\n', " ")).expect("order");
        assert_eq!(o.order_id, "POS-SH01-000123");
        assert_eq!(o.sold_by.as_deref(), Some("li.na@maison-lumiere.example"));
        assert_eq!(o.placed_at, instant("2026-01-09T07:02:00Z").expect("t"));
        assert_eq!(o.total(), 3_250_000);
        let r = return_line(
            1,
            r#"{"return_id": "R-77", "order_id": "X", "line": 1, "qty": 1, "amount": 3250000, "at": "2026-02-01T10:00:00+08:00"}"#,
        )
        .expect("return");
        assert_eq!(r.amount, 3_250_000);
        let t = touch(
            1,
            r#"{"at": "2026-01-08T10:00:00+08:00", "associate": "li.na@x.example", "client": "CRM-00042", "kind": "share_click"}"#,
        )
        .expect("touch");
        assert_eq!(t.kind, TouchKind::ShareClick);
        let fx = fx_rate(
            1,
            r#"{"date": "2026-01-09", "currency": "EUR", "rate": "7.8125"}"#,
        )
        .expect("fx");
        assert_eq!(fx.rate.to_string(), "7.8125");
        let p = policy(
            r#"{"model": "split", "book_credit": true, "windows": {"message": 14, "share_click": 7},
"base_rate": "0.02", "bonus_rate": "0.01", "targets": {"2026-01": {"li.na@x.example": 30000000}}}"#,
        )
        .expect("policy");
        assert_eq!(p.policy.model, Model::Split);
        assert!(p.policy.book_credit);
        assert_eq!(p.policy.window_days(TouchKind::Appointment), 30);
        assert_eq!(
            p.targets[&Month::parse("2026-01").expect("m")]["li.na@x.example"],
            30_000_000
        );
    }

    /// The fast path and the checked path agree on every line, good or bad.
    #[test]
    fn the_fast_path_answers_as_the_checked_path() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let base_order: Value = serde_json::from_str(&ORDER.replace('\n', " ")).expect("json");
        let base_touch: Value = serde_json::from_str(
            r#"{"at": "2026-01-08T10:00:00+08:00", "associate": "li.na@x.example", "client": "CRM-1", "kind": "share_click"}"#,
        )
        .expect("json");
        let odd: Vec<Value> = vec![
            Value::Null,
            "".into(),
            " padded ".into(),
            "with\u{1}control".into(),
            "Ünïcode@X.Example".into(),
            "a\"quote".into(),
            1.into(),
            (-1).into(),
            0.into(),
            1.5.into(),
            "x".repeat(200).into(),
            "2026-01-08T10:00:00Z".into(),
            "2026-01-08T10:00:00".into(),
            "pos".into(),
            "EUR".into(),
            "eur".into(),
            "share_click".into(),
            serde_json::json!([]),
            serde_json::json!({}),
            true.into(),
        ];
        for _ in 0..4_000 {
            let mut o = base_order.clone();
            let mut t = base_touch.clone();
            for _ in 0..rng.gen_range(0..3) {
                let v = odd[rng.gen_range(0..odd.len())].clone();
                let keys = [
                    "order_id",
                    "source",
                    "client",
                    "store",
                    "placed_at",
                    "currency",
                    "sold_by",
                    "lines",
                ];
                let k = keys[rng.gen_range(0..keys.len())];
                if rng.gen_bool(0.15) {
                    o.as_object_mut().expect("obj").remove(k);
                } else if k == "lines" && rng.gen_bool(0.5) && o["lines"][0].is_object() {
                    let lk = ["line", "sku", "qty", "amount"][rng.gen_range(0..4)];
                    o["lines"][0][lk] = v.clone();
                } else {
                    o[k] = v.clone();
                }
                let tk = ["at", "associate", "client", "kind"][rng.gen_range(0..4)];
                if rng.gen_bool(0.15) {
                    t.as_object_mut().expect("obj").remove(tk);
                } else {
                    t[tk] = v;
                }
            }
            if rng.gen_bool(0.1) {
                o["lines"] = serde_json::json!([{"line": 1, "sku": "A", "qty": 1, "amount": 1}, {"line": 1, "sku": "B", "qty": 1, "amount": 1}]);
            }
            let (ot, tt) = (o.to_string(), t.to_string());
            assert_eq!(order(3, &ot), order_checked(3, &ot), "{ot}");
            assert_eq!(touch(3, &tt), touch_checked(3, &tt), "{tt}");
        }
    }

    #[test]
    fn names_the_line_and_field_of_each_problem() {
        let bad = |text: &str, field: &str| {
            let e = order(7, text).expect_err(text);
            assert_eq!((e.line, e.field.as_str()), (7, field), "{e}");
        };
        let base: Value = serde_json::from_str(&ORDER.replace('\n', " ")).expect("json");
        let with = |k: &str, v: Value| {
            let mut o = base.clone();
            o[k] = v;
            o.to_string()
        };
        bad(&with("source", "shop".into()), "source");
        bad(&with("placed_at", "2026-01-09 15:02".into()), "placed_at");
        bad(
            &with("placed_at", "2026-01-09T15:02:00".into()),
            "placed_at",
        );
        bad(&with("currency", "eur".into()), "currency");
        bad(&with("store", Value::Null), "store");
        bad(&with("sold_by", "nobody".into()), "sold_by");
        bad(&with("lines", serde_json::json!([])), "lines");
        bad(
            &with(
                "lines",
                serde_json::json!([{"line": 1, "sku": "A", "qty": 1, "amount": 1.5}]),
            ),
            "lines[0].amount",
        );
        bad(
            &with(
                "lines",
                serde_json::json!([{"line": 1, "sku": "A", "qty": 0, "amount": 1}]),
            ),
            "lines[0].qty",
        );
        bad(
            &with(
                "lines",
                serde_json::json!([{"line": 1, "sku": "A", "qty": 1, "amount": 1}, {"line": 1, "sku": "B", "qty": 1, "amount": 1}]),
            ),
            "lines[1].line",
        );
        bad("{not json", "line");
        bad("[1]", "line");
        let e = touch(3, r#"{"at": "2026-01-08T10:00:00Z", "associate": "a@b.c", "client": "C", "kind": "call"}"#)
            .expect_err("kind");
        assert_eq!(e.to_string().split(':').next(), Some("line 3"));
        assert_eq!(e.field, "kind");
        assert_eq!(
            fx_rate(
                2,
                r#"{"date": "2026-01-09", "currency": "EUR", "rate": "0"}"#
            )
            .map_err(|e| e.field),
            Err("rate".into())
        );
        assert_eq!(
            policy(r#"{"modle": "split"}"#).map_err(|e| e.field),
            Err("modle".into())
        );
        assert_eq!(
            policy(r#"{"windows": {"call": 3}}"#).map_err(|e| e.field),
            Err("windows.call".into())
        );
    }
}
