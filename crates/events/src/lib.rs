//! Interaction events, the exchange format of `spec/events.md`: every channel becomes one
//! stream of these, and brands move their history in and out as JSON Lines (optionally
//! gzip-compressed). Reading is strict: an unknown kind, a missing required field or a value
//! out of range is an error naming the line and the field; with `skip_bad` the good lines are
//! kept and every bad one is reported.

mod parquet_io;
pub use parquet_io::{ParquetError, read_parquet, write_parquet};

use std::io::{BufRead, BufReader, Read, Write};

use jiff::Timestamp;
use serde_json::{Value, json};

/// How a follower found the brand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Search,
    QrCode,
    Media,
    WordOfMouth,
    Other,
}

impl Source {
    pub const ALL: [Source; 5] = [
        Source::Search,
        Source::QrCode,
        Source::Media,
        Source::WordOfMouth,
        Source::Other,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Search => "search",
            Source::QrCode => "qr_code",
            Source::Media => "media",
            Source::WordOfMouth => "word_of_mouth",
            Source::Other => "other",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Like,
    Share,
    Comment,
    Click,
}

impl Action {
    pub const ALL: [Action; 4] = [Action::Like, Action::Share, Action::Comment, Action::Click];
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Like => "like",
            Action::Share => "share",
            Action::Comment => "comment",
            Action::Click => "click",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MenuCategory {
    Ecommerce,
    Information,
    Crm,
}

impl MenuCategory {
    pub const ALL: [MenuCategory; 3] = [
        MenuCategory::Ecommerce,
        MenuCategory::Information,
        MenuCategory::Crm,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            MenuCategory::Ecommerce => "ecommerce",
            MenuCategory::Information => "information",
            MenuCategory::Crm => "crm",
        }
    }
}

/// What happened, with exactly the fields that kind carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Follow {
        source: Source,
    },
    Unfollow,
    Push {
        push: String,
        articles: u8,
        segmented: bool,
        recipients: u64,
    },
    ArticleOpen {
        push: String,
        article: u8,
        screens: f64,
    },
    PostInteraction {
        push: String,
        article: u8,
        action: Action,
    },
    MenuClick {
        category: MenuCategory,
    },
    Message,
    QrScan,
    LiveView {
        live: String,
    },
    /// Boxed: purchases are few, and the other kinds stay small (an event is 88 bytes, not 120,
    /// which matters at tens of millions of events).
    Purchase(Box<Purchase>),
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Follow { .. } => "follow",
            Kind::Unfollow => "unfollow",
            Kind::Push { .. } => "push",
            Kind::ArticleOpen { .. } => "article_open",
            Kind::PostInteraction { .. } => "post_interaction",
            Kind::MenuClick { .. } => "menu_click",
            Kind::Message => "message",
            Kind::QrScan => "qr_scan",
            Kind::LiveView { .. } => "live_view",
            Kind::Purchase(_) => "purchase",
        }
    }

    /// Whether the spec counts this kind as an action of the person.
    pub fn is_action(&self) -> bool {
        matches!(
            self,
            Kind::ArticleOpen { .. }
                | Kind::PostInteraction { .. }
                | Kind::MenuClick { .. }
                | Kind::Message
                | Kind::QrScan
                | Kind::LiveView { .. }
        )
    }
}

/// An order, and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Purchase {
    /// The livestream session it came from, if any.
    pub live: Option<String>,
    pub amount: f64,
    pub currency: String,
    /// The sales associate it is attributed to, if any.
    pub sa: Option<String>,
}

/// One interaction event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub ts: Timestamp,
    /// The person; every kind but `push` has one.
    pub follower: Option<String>,
    pub kind: Kind,
}

/// A problem with one line (or row) of an events file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {field}: {message}")]
pub struct EventError {
    pub line: u64,
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    /// The file has errors and `skip_bad` was not asked for: nothing is returned.
    #[error("{} bad line(s), the first: {}", .0.len(), .0.first().map(|e| e.to_string()).unwrap_or_default())]
    Invalid(Vec<EventError>),
}

/// What a lenient read gives: the good events, and every bad line.
#[derive(Debug, Default)]
pub struct ReadOutcome {
    pub events: Vec<Event>,
    pub skipped: Vec<EventError>,
}

fn err(line: u64, field: &str, message: impl Into<String>) -> EventError {
    EventError {
        line,
        field: field.to_owned(),
        message: message.into(),
    }
}

/// The fields of one event, wherever they come from (a JSON object, a Parquet row).
struct Fields<'a> {
    line: u64,
    get: &'a dyn Fn(&str) -> Option<&'a Value>,
}

impl Fields<'_> {
    fn value(&self, f: &str) -> Option<&Value> {
        (self.get)(f)
    }

    fn str(&self, f: &str) -> Result<String, EventError> {
        match self.value(f) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(Value::String(_)) => Err(err(self.line, f, "must not be empty")),
            Some(Value::Null) | None => Err(err(self.line, f, "is required for this kind")),
            Some(_) => Err(err(self.line, f, "must be a string")),
        }
    }

    fn opt_str(&self, f: &str) -> Result<Option<String>, EventError> {
        match self.value(f) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.str(f).map(Some),
        }
    }

    fn int(&self, f: &str, min: u64, max: u64) -> Result<u64, EventError> {
        let v = self
            .value(f)
            .ok_or_else(|| err(self.line, f, "is required for this kind"))?;
        let n = v.as_u64().ok_or_else(|| {
            err(
                self.line,
                f,
                format!("must be a whole number from {min} to {max}"),
            )
        })?;
        if (min..=max).contains(&n) {
            Ok(n)
        } else {
            Err(err(
                self.line,
                f,
                format!("must be from {min} to {max}, not {n}"),
            ))
        }
    }

    fn num(&self, f: &str) -> Result<f64, EventError> {
        let v = self
            .value(f)
            .ok_or_else(|| err(self.line, f, "is required for this kind"))?;
        let n = v
            .as_f64()
            .filter(|n| n.is_finite())
            .ok_or_else(|| err(self.line, f, "must be a number"))?;
        if n < 0.0 {
            Err(err(self.line, f, "must not be negative"))
        } else {
            Ok(n)
        }
    }

    fn bool(&self, f: &str) -> Result<bool, EventError> {
        self.value(f)
            .ok_or_else(|| err(self.line, f, "is required for this kind"))?
            .as_bool()
            .ok_or_else(|| err(self.line, f, "must be true or false"))
    }

    fn one_of<T: Copy>(
        &self,
        f: &str,
        all: &[T],
        name: fn(T) -> &'static str,
    ) -> Result<T, EventError> {
        let s = self.str(f)?;
        all.iter().copied().find(|x| name(*x) == s).ok_or_else(|| {
            err(
                self.line,
                f,
                format!(
                    "unknown value {s:?}; expected one of {}",
                    all.iter().map(|x| name(*x)).collect::<Vec<_>>().join(", ")
                ),
            )
        })
    }
}

/// Parses one JSON object of the spec.
pub fn parse_line(line: u64, text: &str) -> Result<Event, EventError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| err(line, "line", format!("is not JSON: {e}")))?;
    parse_value(line, &value)
}

/// Validates one event given as a JSON value (a Parquet row is turned into one); `line` is
/// the line or row number its errors name.
pub fn parse_value(line: u64, value: &Value) -> Result<Event, EventError> {
    let obj = value
        .as_object()
        .ok_or_else(|| err(line, "line", "must be a JSON object"))?;
    parse_fields(line, &|k| obj.get(k), None)
}

/// Validates one event whose fields `get` looks up by name.
/// `ts` is given when the source holds a typed timestamp (Parquet); otherwise it is read from
/// the `ts` field as RFC 3339 text.
pub(crate) fn parse_fields<'a>(
    line: u64,
    get: &'a dyn Fn(&str) -> Option<&'a Value>,
    ts: Option<Timestamp>,
) -> Result<Event, EventError> {
    let f = Fields { line, get };
    let ts: Timestamp = match ts {
        Some(ts) => ts,
        None => {
            let ts_text = f.str("ts")?;
            // RFC 3339 with an offset: `Z` or `±hh:mm`. A local time without offset is ambiguous.
            ts_text.parse().map_err(|_| {
                err(
                    line,
                    "ts",
                    format!("{ts_text:?} is not an RFC 3339 instant with an offset (Z or +08:00)"),
                )
            })?
        }
    };
    let kind_name = f.str("kind")?;
    let kind = match kind_name.as_str() {
        "follow" => Kind::Follow {
            source: f.one_of("source", &Source::ALL, Source::as_str)?,
        },
        "unfollow" => Kind::Unfollow,
        "push" => Kind::Push {
            push: f.str("push")?,
            articles: f.int("articles", 1, 8)? as u8,
            segmented: f.bool("segmented")?,
            recipients: f.int("recipients", 0, u64::MAX)?,
        },
        "article_open" => Kind::ArticleOpen {
            push: f.str("push")?,
            article: f.int("article", 1, 8)? as u8,
            screens: f.num("screens")?,
        },
        "post_interaction" => Kind::PostInteraction {
            push: f.str("push")?,
            article: f.int("article", 1, 8)? as u8,
            action: f.one_of("action", &Action::ALL, Action::as_str)?,
        },
        "menu_click" => Kind::MenuClick {
            category: f.one_of("category", &MenuCategory::ALL, MenuCategory::as_str)?,
        },
        "message" => Kind::Message,
        "qr_scan" => Kind::QrScan,
        "live_view" => Kind::LiveView {
            live: f.str("live")?,
        },
        "purchase" => {
            let currency = f.str("currency")?;
            if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
                return Err(err(
                    line,
                    "currency",
                    "must be an ISO 4217 code such as CNY",
                ));
            }
            Kind::Purchase(Box::new(Purchase {
                live: f.opt_str("live")?,
                amount: f.num("amount")?,
                currency,
                sa: f.opt_str("sa")?,
            }))
        }
        other => {
            return Err(err(
                line,
                "kind",
                format!(
                    "unknown kind {other:?}; expected follow, unfollow, push, article_open, post_interaction, menu_click, message, qr_scan, live_view or purchase"
                ),
            ));
        }
    };
    let follower = match kind {
        Kind::Push { .. } => None,
        _ => Some(f.str("follower")?),
    };
    Ok(Event { ts, follower, kind })
}

/// Reads JSON Lines (gzip-compressed when the bytes start with gzip's magic number). Blank
/// lines are ignored. Without `skip_bad`, any bad line fails the whole read.
pub fn read_jsonl(input: impl Read, skip_bad: bool) -> Result<ReadOutcome, ReadError> {
    let mut buffered = BufReader::new(input);
    let gzip = buffered.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn BufRead> = if gzip {
        Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(
            buffered,
        )))
    } else {
        Box::new(buffered)
    };
    let mut out = ReadOutcome::default();
    for (i, line) in reader.lines().enumerate() {
        let n = i as u64 + 1;
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(n, &line) {
            Ok(e) => out.events.push(e),
            Err(e) => out.skipped.push(e),
        }
    }
    if !out.skipped.is_empty() && !skip_bad {
        return Err(ReadError::Invalid(out.skipped));
    }
    Ok(out)
}

/// The spec's JSON object for an event; absent fields are left out.
pub fn to_json(e: &Event) -> Value {
    let mut v = json!({"ts": e.ts.to_string(), "kind": e.kind.name()});
    if let Some(f) = &e.follower {
        v["follower"] = json!(f);
    }
    match &e.kind {
        Kind::Follow { source } => v["source"] = json!(source.as_str()),
        Kind::Push {
            push,
            articles,
            segmented,
            recipients,
        } => {
            v["push"] = json!(push);
            v["articles"] = json!(articles);
            v["segmented"] = json!(segmented);
            v["recipients"] = json!(recipients);
        }
        Kind::ArticleOpen {
            push,
            article,
            screens,
        } => {
            v["push"] = json!(push);
            v["article"] = json!(article);
            v["screens"] = json!(screens);
        }
        Kind::PostInteraction {
            push,
            article,
            action,
        } => {
            v["push"] = json!(push);
            v["article"] = json!(article);
            v["action"] = json!(action.as_str());
        }
        Kind::MenuClick { category } => v["category"] = json!(category.as_str()),
        Kind::LiveView { live } => v["live"] = json!(live),
        Kind::Purchase(p) => {
            let Purchase {
                live,
                amount,
                currency,
                sa,
            } = p.as_ref();
            if let Some(l) = live {
                v["live"] = json!(l);
            }
            v["amount"] = json!(amount);
            v["currency"] = json!(currency);
            if let Some(s) = sa {
                v["sa"] = json!(s);
            }
        }
        Kind::Unfollow | Kind::Message | Kind::QrScan => {}
    }
    v
}

/// Writes events as JSON Lines.
pub fn write_jsonl<'a>(
    mut out: impl Write,
    events: impl IntoIterator<Item = &'a Event>,
) -> std::io::Result<()> {
    for e in events {
        serde_json::to_writer(&mut out, &to_json(e))?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Reads an events file of either format, by its name: `.parquet`, otherwise JSON Lines
/// (gzip-compressed or not).
pub fn read_file(path: &std::path::Path, skip_bad: bool) -> Result<ReadOutcome, ReadError> {
    if path.extension().is_some_and(|e| e == "parquet") {
        read_parquet(path, skip_bad)
    } else {
        read_jsonl(std::fs::File::open(path)?, skip_bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of spec/events.md, verbatim.
    const SPEC_EXAMPLE: &str = r#"{"ts":"2020-01-03T20:15:00+08:00","kind":"follow","follower":"oA1","source":"qr_code"}
{"ts":"2020-01-09T20:00:00+08:00","kind":"push","push":"p-2020-02","articles":2,"segmented":false,"recipients":48211}
{"ts":"2020-01-09T20:31:12+08:00","kind":"article_open","follower":"oA1","push":"p-2020-02","article":1,"screens":4.5}
{"ts":"2020-01-09T20:33:40+08:00","kind":"post_interaction","follower":"oA1","push":"p-2020-02","article":1,"action":"share"}
{"ts":"2020-01-12T11:02:00+08:00","kind":"menu_click","follower":"oA1","category":"ecommerce"}
{"ts":"2020-02-14T19:00:00+08:00","kind":"live_view","follower":"oA1","live":"live-520"}
{"ts":"2020-02-14T19:40:00+08:00","kind":"purchase","follower":"oA1","live":"live-520","amount":5200,"currency":"CNY","sa":"sa-017"}
"#;

    #[test]
    fn the_spec_example_reads() {
        let out = read_jsonl(SPEC_EXAMPLE.as_bytes(), false).expect("valid");
        assert_eq!(out.events.len(), 7);
        assert_eq!(
            out.events[0].kind,
            Kind::Follow {
                source: Source::QrCode
            }
        );
        assert_eq!(
            out.events[0].ts.to_string(),
            "2020-01-03T12:15:00Z",
            "offsets are honoured"
        );
        assert_eq!(out.events[1].follower, None);
        assert!(out.events[2].kind.is_action() && !out.events[1].kind.is_action());
        assert_eq!(
            out.events[6].kind,
            Kind::Purchase(Box::new(Purchase {
                live: Some("live-520".into()),
                amount: 5200.0,
                currency: "CNY".into(),
                sa: Some("sa-017".into())
            }))
        );
    }

    #[test]
    fn events_stay_small() {
        assert!(
            std::mem::size_of::<Event>() <= 88,
            "{}",
            std::mem::size_of::<Event>()
        );
    }

    #[test]
    fn write_then_read_gives_the_same_events() {
        let events = read_jsonl(SPEC_EXAMPLE.as_bytes(), false)
            .expect("valid")
            .events;
        let mut buf = Vec::new();
        write_jsonl(&mut buf, &events).expect("write");
        assert_eq!(
            read_jsonl(buf.as_slice(), false).expect("valid").events,
            events
        );
    }

    #[test]
    fn gzip_is_read_transparently() {
        use flate2::write::GzEncoder;
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(SPEC_EXAMPLE.as_bytes()).expect("gzip");
        let bytes = gz.finish().expect("gzip");
        assert_eq!(
            read_jsonl(bytes.as_slice(), false)
                .expect("valid")
                .events
                .len(),
            7
        );
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        let cases = [
            (
                r#"{"ts":"2020-01-03T20:15:00+08:00","kind":"dance","follower":"a"}"#,
                "kind",
            ),
            (
                r#"{"ts":"2020-01-03T20:15:00","kind":"unfollow","follower":"a"}"#,
                "ts",
            ),
            (r#"{"kind":"unfollow","follower":"a"}"#, "ts"),
            (
                r#"{"ts":"2020-01-03T20:15:00Z","kind":"unfollow"}"#,
                "follower",
            ),
            (
                r#"{"ts":"2020-01-03T20:15:00Z","kind":"follow","follower":"a","source":"tv"}"#,
                "source",
            ),
            (
                r#"{"ts":"2020-01-03T20:15:00Z","kind":"push","push":"p","articles":9,"segmented":false,"recipients":1}"#,
                "articles",
            ),
            (
                r#"{"ts":"2020-01-03T20:15:00Z","kind":"push","push":"p","articles":1,"recipients":1}"#,
                "segmented",
            ),
            (
                r#"{"ts":"2020-01-03T20:15:00Z","kind":"article_open","follower":"a","push":"p","article":1,"screens":-1}"#,
                "screens",
            ),
            (
                r#"{"ts":"2020-01-03T20:15:00Z","kind":"article_open","follower":"a","push":"p","article":0,"screens":1}"#,
                "article",
            ),
            (
                r#"{"ts":"2020-01-03T20:15:00Z","kind":"post_interaction","follower":"a","push":"p","article":1,"action":"poke"}"#,
                "action",
            ),
            (
                r#"{"ts":"2020-01-03T20:15:00Z","kind":"menu_click","follower":"a","category":"games"}"#,
                "category",
            ),
            (
                r#"{"ts":"2020-01-03T20:15:00Z","kind":"purchase","follower":"a","amount":10,"currency":"yuan"}"#,
                "currency",
            ),
            (
                r#"{"ts":"2020-01-03T20:15:00Z","kind":"live_view","follower":"a"}"#,
                "live",
            ),
            (r#"[1,2]"#, "line"),
            (r#"{"ts":"#, "line"),
        ];
        for (text, field) in cases {
            let file = format!(
                "{}\n{text}\n",
                SPEC_EXAMPLE.lines().next().unwrap_or_default()
            );
            match read_jsonl(file.as_bytes(), false) {
                Err(ReadError::Invalid(errors)) => {
                    assert_eq!(errors.len(), 1, "{text}");
                    assert_eq!(
                        (errors[0].line, errors[0].field.as_str()),
                        (2, field),
                        "{text}: {}",
                        errors[0]
                    );
                }
                other => panic!("{text}: expected an error on line 2, got {other:?}"),
            }
        }
    }

    #[test]
    fn skip_bad_keeps_the_good_lines_and_reports_each_bad_one() {
        let file = format!(
            "{SPEC_EXAMPLE}{{\"ts\":\"x\",\"kind\":\"message\",\"follower\":\"a\"}}\n\n{{\"ts\":\"2020-01-03T20:15:00Z\",\"kind\":\"nope\"}}\n"
        );
        let out = read_jsonl(file.as_bytes(), true).expect("lenient");
        assert_eq!(out.events.len(), 7);
        assert_eq!(
            out.skipped.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![8, 10]
        );
    }
}
