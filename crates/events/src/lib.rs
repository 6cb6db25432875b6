//! Interaction events, the exchange format of `spec/events.md`: every channel becomes one
//! stream of these, and brands move their history in and out as JSON Lines (optionally
//! gzip-compressed). Reading is strict: an unknown kind, a missing required field or a value
//! out of range is an error naming the line and the field; with `skip_bad` the good lines are
//! kept and every bad one is reported.

mod parquet_io;
pub use parquet_io::{
    ParquetError, parquet_row_groups, read_parquet, visit_parquet, visit_parquet_rows,
    write_parquet, write_parquet_groups,
};

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

/// A field (column) of the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Ts,
    Kind,
    Follower,
    Source,
    Push,
    Articles,
    Segmented,
    Recipients,
    Article,
    Screens,
    Action,
    Category,
    Live,
    Amount,
    Currency,
    Sa,
}

impl Field {
    pub const ALL: [Field; 16] = [
        Field::Ts,
        Field::Kind,
        Field::Follower,
        Field::Source,
        Field::Push,
        Field::Articles,
        Field::Segmented,
        Field::Recipients,
        Field::Article,
        Field::Screens,
        Field::Action,
        Field::Category,
        Field::Live,
        Field::Amount,
        Field::Currency,
        Field::Sa,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Ts => "ts",
            Field::Kind => "kind",
            Field::Follower => "follower",
            Field::Source => "source",
            Field::Push => "push",
            Field::Articles => "articles",
            Field::Segmented => "segmented",
            Field::Recipients => "recipients",
            Field::Article => "article",
            Field::Screens => "screens",
            Field::Action => "action",
            Field::Category => "category",
            Field::Live => "live",
            Field::Amount => "amount",
            Field::Currency => "currency",
            Field::Sa => "sa",
        }
    }

    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// One field's value as a file holds it, before validation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cell<'a> {
    /// Not in the object (or no such column).
    Absent,
    Null,
    Str(&'a str),
    Int(i128),
    Num(f64),
    Bool(bool),
    /// Anything else: a JSON array or object, text that is not UTF-8.
    Other,
}

/// Where an event's fields come from: a JSON object, a Parquet row.
pub(crate) trait Cells<'a> {
    fn cell(&self, f: Field) -> Cell<'a>;
}

/// The fields of a JSON object.
struct JsonCells<'a>(&'a serde_json::Map<String, Value>);

impl<'a> Cells<'a> for JsonCells<'a> {
    fn cell(&self, f: Field) -> Cell<'a> {
        match self.0.get(f.as_str()) {
            None => Cell::Absent,
            Some(Value::Null) => Cell::Null,
            Some(Value::String(s)) => Cell::Str(s),
            Some(Value::Bool(b)) => Cell::Bool(*b),
            Some(Value::Number(n)) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => Cell::Int(i128::from(u)),
                (_, Some(i), _) => Cell::Int(i128::from(i)),
                (_, _, Some(x)) => Cell::Num(x),
                _ => Cell::Other,
            },
            Some(_) => Cell::Other,
        }
    }
}

/// Validation of one event's cells, each error naming the line and the field.
struct Fields<'c, C> {
    line: u64,
    cells: &'c C,
}

impl<'a, C: Cells<'a>> Fields<'_, C> {
    fn str(&self, f: Field) -> Result<&'a str, EventError> {
        match self.cells.cell(f) {
            Cell::Str(s) if !s.is_empty() => Ok(s),
            Cell::Str(_) => Err(err(self.line, f.as_str(), "must not be empty")),
            Cell::Null | Cell::Absent => {
                Err(err(self.line, f.as_str(), "is required for this kind"))
            }
            _ => Err(err(self.line, f.as_str(), "must be a string")),
        }
    }

    fn opt_str(&self, f: Field) -> Result<Option<&'a str>, EventError> {
        match self.cells.cell(f) {
            Cell::Absent | Cell::Null => Ok(None),
            _ => self.str(f).map(Some),
        }
    }

    fn int(&self, f: Field, min: u64, max: u64) -> Result<u64, EventError> {
        match self.cells.cell(f) {
            Cell::Absent | Cell::Null => {
                Err(err(self.line, f.as_str(), "is required for this kind"))
            }
            Cell::Int(n) if (i128::from(min)..=i128::from(max)).contains(&n) => {
                u64::try_from(n).map_err(|_| err(self.line, f.as_str(), "is out of range"))
            }
            Cell::Int(n) => Err(err(
                self.line,
                f.as_str(),
                format!("must be from {min} to {max}, not {n}"),
            )),
            _ => Err(err(
                self.line,
                f.as_str(),
                format!("must be a whole number from {min} to {max}"),
            )),
        }
    }

    fn num(&self, f: Field) -> Result<f64, EventError> {
        let n = match self.cells.cell(f) {
            Cell::Absent | Cell::Null => {
                return Err(err(self.line, f.as_str(), "is required for this kind"));
            }
            Cell::Int(n) => n as f64,
            Cell::Num(x) if x.is_finite() => x,
            _ => return Err(err(self.line, f.as_str(), "must be a number")),
        };
        if n < 0.0 {
            Err(err(self.line, f.as_str(), "must not be negative"))
        } else {
            Ok(n)
        }
    }

    fn bool(&self, f: Field) -> Result<bool, EventError> {
        match self.cells.cell(f) {
            Cell::Bool(b) => Ok(b),
            Cell::Absent | Cell::Null => {
                Err(err(self.line, f.as_str(), "is required for this kind"))
            }
            _ => Err(err(self.line, f.as_str(), "must be true or false")),
        }
    }

    fn one_of<T: Copy>(
        &self,
        f: Field,
        all: &[T],
        name: fn(T) -> &'static str,
    ) -> Result<T, EventError> {
        let s = self.str(f)?;
        all.iter().copied().find(|x| name(*x) == s).ok_or_else(|| {
            err(
                self.line,
                f.as_str(),
                format!(
                    "unknown value {s:?}; expected one of {}",
                    all.iter().map(|x| name(*x)).collect::<Vec<_>>().join(", ")
                ),
            )
        })
    }
}

/// An event borrowing its text from where it was read: what the readers hand out before
/// anything is copied, so that a consumer which interns the ids (the report engine) never
/// allocates per event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventRef<'a> {
    pub ts: Timestamp,
    pub follower: Option<&'a str>,
    pub kind: KindRef<'a>,
}

/// [`Kind`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KindRef<'a> {
    Follow {
        source: Source,
    },
    Unfollow,
    Push {
        push: &'a str,
        articles: u8,
        segmented: bool,
        recipients: u64,
    },
    ArticleOpen {
        push: &'a str,
        article: u8,
        screens: f64,
    },
    PostInteraction {
        push: &'a str,
        article: u8,
        action: Action,
    },
    MenuClick {
        category: MenuCategory,
    },
    Message,
    QrScan,
    LiveView {
        live: &'a str,
    },
    Purchase {
        live: Option<&'a str>,
        amount: f64,
        currency: &'a str,
        sa: Option<&'a str>,
    },
}

impl EventRef<'_> {
    pub fn to_event(&self) -> Event {
        let kind = match self.kind {
            KindRef::Follow { source } => Kind::Follow { source },
            KindRef::Unfollow => Kind::Unfollow,
            KindRef::Push {
                push,
                articles,
                segmented,
                recipients,
            } => Kind::Push {
                push: push.to_owned(),
                articles,
                segmented,
                recipients,
            },
            KindRef::ArticleOpen {
                push,
                article,
                screens,
            } => Kind::ArticleOpen {
                push: push.to_owned(),
                article,
                screens,
            },
            KindRef::PostInteraction {
                push,
                article,
                action,
            } => Kind::PostInteraction {
                push: push.to_owned(),
                article,
                action,
            },
            KindRef::MenuClick { category } => Kind::MenuClick { category },
            KindRef::Message => Kind::Message,
            KindRef::QrScan => Kind::QrScan,
            KindRef::LiveView { live } => Kind::LiveView {
                live: live.to_owned(),
            },
            KindRef::Purchase {
                live,
                amount,
                currency,
                sa,
            } => Kind::Purchase(Box::new(Purchase {
                live: live.map(str::to_owned),
                amount,
                currency: currency.to_owned(),
                sa: sa.map(str::to_owned),
            })),
        };
        Event {
            ts: self.ts,
            follower: self.follower.map(str::to_owned),
            kind,
        }
    }
}

impl Event {
    pub fn as_ref(&self) -> EventRef<'_> {
        let kind = match &self.kind {
            Kind::Follow { source } => KindRef::Follow { source: *source },
            Kind::Unfollow => KindRef::Unfollow,
            Kind::Push {
                push,
                articles,
                segmented,
                recipients,
            } => KindRef::Push {
                push,
                articles: *articles,
                segmented: *segmented,
                recipients: *recipients,
            },
            Kind::ArticleOpen {
                push,
                article,
                screens,
            } => KindRef::ArticleOpen {
                push,
                article: *article,
                screens: *screens,
            },
            Kind::PostInteraction {
                push,
                article,
                action,
            } => KindRef::PostInteraction {
                push,
                article: *article,
                action: *action,
            },
            Kind::MenuClick { category } => KindRef::MenuClick {
                category: *category,
            },
            Kind::Message => KindRef::Message,
            Kind::QrScan => KindRef::QrScan,
            Kind::LiveView { live } => KindRef::LiveView { live },
            Kind::Purchase(p) => KindRef::Purchase {
                live: p.live.as_deref(),
                amount: p.amount,
                currency: &p.currency,
                sa: p.sa.as_deref(),
            },
        };
        EventRef {
            ts: self.ts,
            follower: self.follower.as_deref(),
            kind,
        }
    }
}

/// Parses one JSON object of the spec.
pub fn parse_line(line: u64, text: &str) -> Result<Event, EventError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| err(line, "line", format!("is not JSON: {e}")))?;
    parse_value(line, &value)
}

/// Validates one event given as a JSON value; `line` is the line number its errors name.
pub fn parse_value(line: u64, value: &Value) -> Result<Event, EventError> {
    let obj = value
        .as_object()
        .ok_or_else(|| err(line, "line", "must be a JSON object"))?;
    parse_cells(line, &JsonCells(obj), None).map(|e| e.to_event())
}

/// Validates one event from its cells.
/// `ts` is given when the source holds a typed timestamp (Parquet); otherwise it is read from
/// the `ts` field as RFC 3339 text.
pub(crate) fn parse_cells<'a>(
    line: u64,
    cells: &impl Cells<'a>,
    ts: Option<Timestamp>,
) -> Result<EventRef<'a>, EventError> {
    let f = Fields { line, cells };
    let ts: Timestamp = match ts {
        Some(ts) => ts,
        None => {
            let ts_text = f.str(Field::Ts)?;
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
    let kind = match f.str(Field::Kind)? {
        "follow" => KindRef::Follow {
            source: f.one_of(Field::Source, &Source::ALL, Source::as_str)?,
        },
        "unfollow" => KindRef::Unfollow,
        "push" => KindRef::Push {
            push: f.str(Field::Push)?,
            articles: f.int(Field::Articles, 1, 8)? as u8,
            segmented: f.bool(Field::Segmented)?,
            recipients: f.int(Field::Recipients, 0, u64::MAX)?,
        },
        "article_open" => KindRef::ArticleOpen {
            push: f.str(Field::Push)?,
            article: f.int(Field::Article, 1, 8)? as u8,
            screens: f.num(Field::Screens)?,
        },
        "post_interaction" => KindRef::PostInteraction {
            push: f.str(Field::Push)?,
            article: f.int(Field::Article, 1, 8)? as u8,
            action: f.one_of(Field::Action, &Action::ALL, Action::as_str)?,
        },
        "menu_click" => KindRef::MenuClick {
            category: f.one_of(Field::Category, &MenuCategory::ALL, MenuCategory::as_str)?,
        },
        "message" => KindRef::Message,
        "qr_scan" => KindRef::QrScan,
        "live_view" => KindRef::LiveView {
            live: f.str(Field::Live)?,
        },
        "purchase" => {
            let currency = f.str(Field::Currency)?;
            if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
                return Err(err(
                    line,
                    "currency",
                    "must be an ISO 4217 code such as CNY",
                ));
            }
            KindRef::Purchase {
                live: f.opt_str(Field::Live)?,
                amount: f.num(Field::Amount)?,
                currency,
                sa: f.opt_str(Field::Sa)?,
            }
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
        KindRef::Push { .. } => None,
        _ => Some(f.str(Field::Follower)?),
    };
    Ok(EventRef { ts, follower, kind })
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

/// Shows `visit` each good event of a file of either format, in file order, and returns the
/// bad lines (or rows). Parquet rows are visited without copying their text.
pub fn visit_file(
    path: &std::path::Path,
    mut visit: impl FnMut(EventRef<'_>),
) -> Result<Vec<EventError>, ReadError> {
    if path.extension().is_some_and(|e| e == "parquet") {
        visit_parquet(path, visit)
    } else {
        let out = read_jsonl(std::fs::File::open(path)?, true)?;
        for e in &out.events {
            visit(e.as_ref());
        }
        Ok(out.skipped)
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
