//! The events as Apache Parquet: one row per event, the spec's columns, absent fields null,
//! `ts` a UTC timestamp. Reading accepts milliseconds or microseconds (what DuckDB and pyarrow
//! write) and validates every row as strictly as a JSON line, naming the row and the field.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::{ConvertedType, LogicalType, TimeUnit};
use parquet::column::reader::ColumnReader;
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, RowGroupReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;

use crate::{
    Cell, Cells, Event, EventError, EventRef, Field, Kind, ReadError, ReadOutcome, parse_cells,
};

/// The file schema (Parquet's message type syntax).
pub const SCHEMA: &str = "message event {
  required int64 ts (TIMESTAMP(MILLIS,true));
  required binary kind (STRING);
  optional binary follower (STRING);
  optional binary source (STRING);
  optional binary push (STRING);
  optional int32 articles;
  optional boolean segmented;
  optional int64 recipients;
  optional int32 article;
  optional double screens;
  optional binary action (STRING);
  optional binary category (STRING);
  optional binary live (STRING);
  optional double amount;
  optional binary currency (STRING);
  optional binary sa (STRING);
}";

/// Rows per row group.
const ROW_GROUP: usize = 200_000;

#[derive(Debug, thiserror::Error)]
pub enum ParquetError {
    #[error("{0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<ParquetError> for ReadError {
    fn from(e: ParquetError) -> Self {
        match e {
            ParquetError::Io(io) => ReadError::Io(io),
            ParquetError::Parquet(p) => ReadError::Io(std::io::Error::other(p.to_string())),
        }
    }
}

/// One decoded column of a row group.
enum Values {
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bytes(Vec<ByteArray>),
    /// INT96, fixed-length byte arrays: not a type of the format.
    Unsupported,
}

/// The row index of a null cell in [`Column::rows`].
const NULL: u32 = u32::MAX;

struct Column {
    field: Field,
    values: Values,
    /// For an optional column, each row's index into `values` (or [`NULL`]); `None` for a
    /// required column, where row `r` is value `r`.
    rows: Option<Vec<u32>>,
    /// The unit of a timestamp column.
    unit: Option<TimeUnit>,
}

impl Column {
    fn index(&self, row: usize) -> Option<usize> {
        match &self.rows {
            None => Some(row),
            Some(rows) => rows.get(row).filter(|i| **i != NULL).map(|i| *i as usize),
        }
    }

    fn cell(&self, row: usize) -> Cell<'_> {
        let Some(i) = self.index(row) else {
            return Cell::Null;
        };
        let cell = match &self.values {
            Values::Bool(v) => v.get(i).map(|b| Cell::Bool(*b)),
            Values::I32(v) => v.get(i).map(|n| Cell::Int(i128::from(*n))),
            Values::I64(v) => v.get(i).map(|n| Cell::Int(i128::from(*n))),
            Values::F32(v) => v.get(i).map(|n| Cell::Num(f64::from(*n))),
            Values::F64(v) => v.get(i).map(|n| Cell::Num(*n)),
            Values::Bytes(v) => v
                .get(i)
                .map(|b| std::str::from_utf8(b.data()).map_or(Cell::Other, Cell::Str)),
            Values::Unsupported => Some(Cell::Other),
        };
        cell.unwrap_or(Cell::Null)
    }

    /// The row's instant, for a timestamp column.
    fn timestamp(&self, row: usize) -> Option<jiff::Timestamp> {
        let (Values::I64(v), Some(unit)) = (&self.values, self.unit) else {
            return None;
        };
        let n = *v.get(self.index(row)?)?;
        match unit {
            TimeUnit::MILLIS => jiff::Timestamp::from_millisecond(n),
            TimeUnit::MICROS => jiff::Timestamp::from_microsecond(n),
            TimeUnit::NANOS => jiff::Timestamp::from_nanosecond(i128::from(n)),
        }
        .ok()
    }
}

/// The spec's columns of one row group, decoded.
struct Group {
    first_row: u64,
    rows: usize,
    columns: Vec<Column>,
    /// Each field's column, by `Field as usize`.
    by_field: [Option<usize>; Field::ALL.len()],
}

/// One row of a group.
struct Row<'g> {
    group: &'g Group,
    row: usize,
}

impl<'g> Cells<'g> for Row<'g> {
    fn cell(&self, f: Field) -> Cell<'g> {
        self.group.by_field[f as usize]
            .and_then(|i| self.group.columns.get(i))
            .map_or(Cell::Absent, |c| c.cell(self.row))
    }
}

fn decode_column(
    rg: &dyn RowGroupReader,
    i: usize,
    field: Field,
    rows: usize,
) -> Result<Column, ParquetError> {
    let descr = rg.metadata().column(i).column_descr_ptr();
    let max_def = descr.max_def_level();
    let unit = match descr.logical_type_ref() {
        Some(LogicalType::Timestamp(t)) => Some(t.unit),
        _ => match descr.converted_type() {
            ConvertedType::TIMESTAMP_MILLIS => Some(TimeUnit::MILLIS),
            ConvertedType::TIMESTAMP_MICROS => Some(TimeUnit::MICROS),
            _ => None,
        },
    };
    let mut defs: Vec<i16> = Vec::with_capacity(if max_def > 0 { rows } else { 0 });
    macro_rules! read {
        ($reader:expr) => {{
            let mut reader = $reader;
            let mut values = Vec::with_capacity(rows);
            loop {
                let (records, _, _) = reader.read_records(
                    rows,
                    (max_def > 0).then_some(&mut defs),
                    None,
                    &mut values,
                )?;
                if records == 0 {
                    break;
                }
            }
            values
        }};
    }
    let values = match rg.get_column_reader(i)? {
        ColumnReader::BoolColumnReader(r) => Values::Bool(read!(r)),
        ColumnReader::Int32ColumnReader(r) => Values::I32(read!(r)),
        ColumnReader::Int64ColumnReader(r) => Values::I64(read!(r)),
        ColumnReader::FloatColumnReader(r) => Values::F32(read!(r)),
        ColumnReader::DoubleColumnReader(r) => Values::F64(read!(r)),
        ColumnReader::ByteArrayColumnReader(r) => Values::Bytes(read!(r)),
        ColumnReader::Int96ColumnReader(r) => {
            let _ = read!(r);
            Values::Unsupported
        }
        ColumnReader::FixedLenByteArrayColumnReader(r) => {
            let _ = read!(r);
            Values::Unsupported
        }
    };
    let rows = (max_def > 0).then(|| {
        let mut next = 0u32;
        defs.iter()
            .map(|d| {
                if *d == max_def {
                    next += 1;
                    next - 1
                } else {
                    NULL
                }
            })
            .collect()
    });
    Ok(Column {
        field,
        values,
        rows,
        unit: if field == Field::Ts { unit } else { None },
    })
}

fn decode_group(
    reader: &SerializedFileReader<File>,
    g: usize,
    first_row: u64,
) -> Result<Group, ParquetError> {
    let rg = reader.get_row_group(g)?;
    let rows = usize::try_from(rg.metadata().num_rows()).unwrap_or(0);
    let mut columns = Vec::new();
    for (i, c) in rg.metadata().columns().iter().enumerate() {
        // Columns that are not the format's are not read at all.
        if let Some(field) = Field::from_name(c.column_descr().name()) {
            columns.push(decode_column(rg.as_ref(), i, field, rows)?);
        }
    }
    let mut by_field = [None; Field::ALL.len()];
    for (i, c) in columns.iter().enumerate() {
        by_field[c.field as usize].get_or_insert(i);
    }
    Ok(Group {
        first_row,
        rows,
        columns,
        by_field,
    })
}

/// The number of rows of each row group of a Parquet file: how to split a file between
/// threads with [`visit_parquet_groups`].
pub fn parquet_row_groups(path: &Path) -> Result<Vec<u64>, ReadError> {
    let reader = SerializedFileReader::new(File::open(path)?).map_err(ParquetError::from)?;
    Ok(reader
        .metadata()
        .row_groups()
        .iter()
        .map(|g| u64::try_from(g.num_rows()).unwrap_or(0))
        .collect())
}

/// Reads a Parquet events file and shows `visit` each good row, in file order, without
/// copying its text; returns the bad rows, each named by its row number (from 1) and field.
///
/// The rows are visited before the whole file is validated: a caller that wants all or
/// nothing drops what it built when bad rows come back.
pub fn visit_parquet(
    path: &Path,
    visit: impl FnMut(EventRef<'_>),
) -> Result<Vec<EventError>, ReadError> {
    let groups = parquet_row_groups(path)?.len();
    let mut visit = visit;
    visit_parquet_groups(path, 0..groups, 1, |batch| {
        batch.iter().for_each(|e| visit(*e));
    })
}

/// [`visit_parquet`] over some of the row groups, showing `visit` each group's good rows at
/// once; `first_row` is the number of the first row of the first of them (1 for the file's
/// first row).
pub fn visit_parquet_groups(
    path: &Path,
    groups: std::ops::Range<usize>,
    first_row: u64,
    mut visit: impl FnMut(&[EventRef<'_>]),
) -> Result<Vec<EventError>, ReadError> {
    let reader = SerializedFileReader::new(File::open(path)?).map_err(ParquetError::from)?;
    let mut skipped = Vec::new();
    let mut first_row = first_row;
    for g in groups {
        let group = decode_group(&reader, g, first_row)?;
        first_row += group.rows as u64;
        let ts = group.by_field[Field::Ts as usize].and_then(|i| group.columns.get(i));
        let typed_ts = ts.is_some_and(|c| c.unit.is_some() && matches!(c.values, Values::I64(_)));
        let mut batch = Vec::with_capacity(group.rows);
        for row in 0..group.rows {
            let line = group.first_row + row as u64;
            let ts = match (typed_ts, ts) {
                (true, Some(c)) => match c.timestamp(row) {
                    Some(t) => Some(t),
                    None => {
                        skipped.push(EventError {
                            line,
                            field: "ts".into(),
                            message: "is required: a timestamp in range".into(),
                        });
                        continue;
                    }
                },
                _ => None,
            };
            match parse_cells(line, &Row { group: &group, row }, ts) {
                Ok(e) => batch.push(e),
                Err(e) => skipped.push(e),
            }
        }
        visit(&batch);
    }
    Ok(skipped)
}

/// Reads a Parquet events file. Without `skip_bad`, any bad row fails the whole read.
pub fn read_parquet(path: &Path, skip_bad: bool) -> Result<ReadOutcome, ReadError> {
    let mut events = Vec::new();
    let skipped = visit_parquet(path, |e| events.push(e.to_event()))?;
    if !skipped.is_empty() && !skip_bad {
        return Err(ReadError::Invalid(skipped));
    }
    Ok(ReadOutcome { events, skipped })
}

/// Column values of one row group, with definition levels for the optional columns.
#[derive(Default)]
struct Columns {
    ts: Vec<i64>,
    kind: Vec<ByteArray>,
    strings: [(Vec<ByteArray>, Vec<i16>); 8],
    articles: (Vec<i32>, Vec<i16>),
    segmented: (Vec<bool>, Vec<i16>),
    recipients: (Vec<i64>, Vec<i16>),
    article: (Vec<i32>, Vec<i16>),
    screens: (Vec<f64>, Vec<i16>),
    amount: (Vec<f64>, Vec<i16>),
}

// Indexes into `Columns::strings`, in schema order.
const FOLLOWER: usize = 0;
const SOURCE: usize = 1;
const PUSH: usize = 2;
const ACTION: usize = 3;
const CATEGORY: usize = 4;
const LIVE: usize = 5;
const CURRENCY: usize = 6;
const SA: usize = 7;

fn opt<T>(col: &mut (Vec<T>, Vec<i16>), v: Option<T>) {
    match v {
        Some(x) => {
            col.0.push(x);
            col.1.push(1);
        }
        None => col.1.push(0),
    }
}

impl Columns {
    fn push(&mut self, e: &Event) {
        self.ts.push(e.ts.as_millisecond());
        self.kind.push(ByteArray::from(e.kind.name()));
        let mut s: [Option<String>; 8] = Default::default();
        s[FOLLOWER] = e.follower.clone();
        let (mut articles, mut segmented, mut recipients, mut article, mut screens, mut amount) =
            (None, None, None, None, None, None);
        match &e.kind {
            Kind::Follow { source } => s[SOURCE] = Some(source.as_str().to_owned()),
            Kind::Push {
                push,
                articles: a,
                segmented: g,
                recipients: r,
            } => {
                s[PUSH] = Some(push.clone());
                articles = Some(i32::from(*a));
                segmented = Some(*g);
                recipients = Some(i64::try_from(*r).unwrap_or(i64::MAX));
            }
            Kind::ArticleOpen {
                push,
                article: a,
                screens: sc,
            } => {
                s[PUSH] = Some(push.clone());
                article = Some(i32::from(*a));
                screens = Some(*sc);
            }
            Kind::PostInteraction {
                push,
                article: a,
                action,
            } => {
                s[PUSH] = Some(push.clone());
                article = Some(i32::from(*a));
                s[ACTION] = Some(action.as_str().to_owned());
            }
            Kind::MenuClick { category } => s[CATEGORY] = Some(category.as_str().to_owned()),
            Kind::LiveView { live } => s[LIVE] = Some(live.clone()),
            Kind::Purchase(p) => {
                s[LIVE] = p.live.clone();
                amount = Some(p.amount);
                s[CURRENCY] = Some(p.currency.clone());
                s[SA] = p.sa.clone();
            }
            Kind::Unfollow | Kind::Message | Kind::QrScan => {}
        }
        for (i, v) in s.into_iter().enumerate() {
            opt(&mut self.strings[i], v.map(|x| ByteArray::from(x.as_str())));
        }
        opt(&mut self.articles, articles);
        opt(&mut self.segmented, segmented);
        opt(&mut self.recipients, recipients);
        opt(&mut self.article, article);
        opt(&mut self.screens, screens);
        opt(&mut self.amount, amount);
    }
}

/// Writes events as a Parquet file (snappy-compressed).
pub fn write_parquet<'a>(
    path: &Path,
    events: impl IntoIterator<Item = &'a Event>,
) -> Result<u64, ParquetError> {
    write_parquet_groups(path, events, ROW_GROUP)
}

/// [`write_parquet`] with `rows_per_group` rows in each row group.
pub fn write_parquet_groups<'a>(
    path: &Path,
    events: impl IntoIterator<Item = &'a Event>,
    rows_per_group: usize,
) -> Result<u64, ParquetError> {
    let schema = Arc::new(parquet::schema::parser::parse_message_type(SCHEMA)?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .build(),
    );
    let mut writer = SerializedFileWriter::new(File::create(path)?, schema, props)?;
    let mut written = 0u64;
    let mut iter = events.into_iter().peekable();
    while iter.peek().is_some() {
        let mut c = Columns::default();
        for e in iter.by_ref().take(rows_per_group.max(1)) {
            c.push(e);
            written += 1;
        }
        let mut rg = writer.next_row_group()?;
        // Schema order: ts, kind, follower, source, push, articles, segmented, recipients,
        // article, screens, action, category, live, amount, currency, sa.
        let mut col = 0;
        while let Some(mut w) = rg.next_column()? {
            match col {
                0 => {
                    w.typed::<Int64Type>().write_batch(&c.ts, None, None)?;
                }
                1 => {
                    w.typed::<ByteArrayType>()
                        .write_batch(&c.kind, None, None)?;
                }
                2 | 3 | 4 | 10 | 11 | 12 | 14 | 15 => {
                    let i = match col {
                        2 => FOLLOWER,
                        3 => SOURCE,
                        4 => PUSH,
                        10 => ACTION,
                        11 => CATEGORY,
                        12 => LIVE,
                        14 => CURRENCY,
                        _ => SA,
                    };
                    let (v, d) = &c.strings[i];
                    w.typed::<ByteArrayType>().write_batch(v, Some(d), None)?;
                }
                5 => {
                    w.typed::<Int32Type>()
                        .write_batch(&c.articles.0, Some(&c.articles.1), None)?;
                }
                6 => {
                    w.typed::<BoolType>().write_batch(
                        &c.segmented.0,
                        Some(&c.segmented.1),
                        None,
                    )?;
                }
                7 => {
                    w.typed::<Int64Type>().write_batch(
                        &c.recipients.0,
                        Some(&c.recipients.1),
                        None,
                    )?;
                }
                8 => {
                    w.typed::<Int32Type>()
                        .write_batch(&c.article.0, Some(&c.article.1), None)?;
                }
                9 => {
                    w.typed::<DoubleType>()
                        .write_batch(&c.screens.0, Some(&c.screens.1), None)?;
                }
                _ => {
                    w.typed::<DoubleType>()
                        .write_batch(&c.amount.0, Some(&c.amount.1), None)?;
                }
            }
            w.close()?;
            col += 1;
        }
        rg.close()?;
    }
    writer.close()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{"ts":"2020-01-03T20:15:00+08:00","kind":"follow","follower":"oA1","source":"qr_code"}
{"ts":"2020-01-09T20:00:00+08:00","kind":"push","push":"p-2020-02","articles":2,"segmented":false,"recipients":48211}
{"ts":"2020-01-09T20:31:12+08:00","kind":"article_open","follower":"oA1","push":"p-2020-02","article":1,"screens":4.5}
{"ts":"2020-01-09T20:33:40+08:00","kind":"post_interaction","follower":"oA1","push":"p-2020-02","article":1,"action":"share"}
{"ts":"2020-01-12T11:02:00+08:00","kind":"menu_click","follower":"oA1","category":"ecommerce"}
{"ts":"2020-02-14T19:00:00+08:00","kind":"live_view","follower":"oA1","live":"live-520"}
{"ts":"2020-02-14T19:40:00+08:00","kind":"purchase","follower":"oA1","live":"live-520","amount":5200,"currency":"CNY","sa":"sa-017"}
{"ts":"2020-02-15T10:00:00Z","kind":"unfollow","follower":"oA1"}"#;

    fn tmp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!(
            "salon_events_{}_{name}.parquet",
            std::process::id()
        ))
    }

    #[test]
    fn jsonl_and_parquet_hold_the_same_events() {
        let events = crate::read_jsonl(EXAMPLE.as_bytes(), false)
            .expect("jsonl")
            .events;
        let path = tmp("example");
        assert_eq!(write_parquet(&path, &events).expect("write"), 8);
        let back = read_parquet(&path, false).expect("read").events;
        assert_eq!(back, events);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn many_row_groups_round_trip() {
        let events: Vec<Event> = (0..(ROW_GROUP as i64 + 10))
            .map(|i| Event {
                ts: jiff::Timestamp::from_second(1_700_000_000 + i).expect("ts"),
                follower: Some(format!("o{}", i % 977)),
                kind: if i % 3 == 0 {
                    Kind::Message
                } else {
                    Kind::QrScan
                },
            })
            .collect();
        let path = tmp("groups");
        write_parquet(&path, &events).expect("write");
        assert_eq!(read_parquet(&path, false).expect("read").events, events);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn bad_rows_are_named_by_row_and_field() {
        // A follow without its source, written through the same schema.
        let events = vec![Event {
            ts: jiff::Timestamp::from_second(1_700_000_000).expect("ts"),
            follower: Some("o1".into()),
            kind: Kind::Message,
        }];
        let path = tmp("bad");
        write_parquet(&path, &events).expect("write");
        // Rewrite the kind by hand: "message" → a follow needs a source, which is null.
        let mut c = Columns::default();
        c.push(&events[0]);
        c.kind[0] = ByteArray::from("follow");
        let schema = Arc::new(parquet::schema::parser::parse_message_type(SCHEMA).expect("schema"));
        let mut w = SerializedFileWriter::new(
            File::create(&path).expect("file"),
            schema,
            Arc::new(WriterProperties::builder().build()),
        )
        .expect("writer");
        let mut rg = w.next_row_group().expect("rg");
        let mut col = 0;
        while let Some(mut cw) = rg.next_column().expect("col") {
            match col {
                0 => {
                    cw.typed::<Int64Type>()
                        .write_batch(&c.ts, None, None)
                        .expect("ts");
                }
                1 => {
                    cw.typed::<ByteArrayType>()
                        .write_batch(&c.kind, None, None)
                        .expect("kind");
                }
                2 => {
                    cw.typed::<ByteArrayType>()
                        .write_batch(&c.strings[FOLLOWER].0, Some(&c.strings[FOLLOWER].1), None)
                        .expect("f");
                }
                5 | 8 => {
                    cw.typed::<Int32Type>()
                        .write_batch(&[], Some(&[0]), None)
                        .expect("i32");
                }
                6 => {
                    cw.typed::<BoolType>()
                        .write_batch(&[], Some(&[0]), None)
                        .expect("bool");
                }
                7 => {
                    cw.typed::<Int64Type>()
                        .write_batch(&[], Some(&[0]), None)
                        .expect("i64");
                }
                9 | 13 => {
                    cw.typed::<DoubleType>()
                        .write_batch(&[], Some(&[0]), None)
                        .expect("f64");
                }
                _ => {
                    cw.typed::<ByteArrayType>()
                        .write_batch(&[], Some(&[0]), None)
                        .expect("str");
                }
            }
            cw.close().expect("close");
            col += 1;
        }
        rg.close().expect("rg");
        w.close().expect("close");
        match read_parquet(&path, false) {
            Err(ReadError::Invalid(errors)) => {
                assert_eq!(
                    (errors[0].line, errors[0].field.as_str()),
                    (1, "source"),
                    "{errors:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(
            read_parquet(&path, true)
                .expect("lenient")
                .events
                .is_empty()
        );
        let _ = std::fs::remove_file(path);
    }
}
