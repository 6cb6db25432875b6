//! The events as Apache Parquet: one row per event, the spec's columns, absent fields null,
//! `ts` a UTC timestamp. Reading accepts milliseconds or microseconds (what DuckDB and pyarrow
//! write) and validates every row as strictly as a JSON line, naming the row and the field.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    Array, BinaryArray, BooleanArray, Decimal128Array, Float32Array, Float64Array, Int32Array,
    Int64Array, LargeStringArray, StringArray, StringViewArray,
};
use arrow_schema::{DataType, TimeUnit as ArrowUnit};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
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

/// Rows per batch when reading: small enough that a file written as one row group is read a
/// few megabytes at a time, large enough that per-batch work does not show.
const READ_BATCH: usize = 64 * 1024;

/// One column of a batch, as its cells are read.
enum Col<'a> {
    /// The batch has no such column.
    Missing,
    Str(&'a StringArray),
    LargeStr(&'a LargeStringArray),
    View(&'a StringViewArray),
    Bin(&'a BinaryArray),
    Bool(&'a BooleanArray),
    I32(&'a Int32Array),
    I64(&'a Int64Array),
    F32(&'a Float32Array),
    F64(&'a Float64Array),
    /// Decimals (what Spark writes for amounts): the values and the scale.
    Dec(&'a Decimal128Array, i8),
    /// A timestamp column: its values and their unit.
    Ts(&'a [i64], ArrowUnit, &'a dyn Array),
    /// Any other type (decimals, dates, lists): not a type of the format.
    Other(&'a dyn Array),
}

impl<'a> Col<'a> {
    fn of(array: &'a dyn Array) -> Self {
        use arrow_array::cast::AsArray;
        use arrow_array::types::*;
        match array.data_type() {
            DataType::Utf8 => Col::Str(array.as_string::<i32>()),
            DataType::LargeUtf8 => Col::LargeStr(array.as_string::<i64>()),
            DataType::Utf8View => Col::View(array.as_string_view()),
            DataType::Binary => Col::Bin(array.as_binary::<i32>()),
            DataType::Boolean => Col::Bool(array.as_boolean()),
            DataType::Int32 => Col::I32(array.as_primitive::<Int32Type>()),
            DataType::Int64 => Col::I64(array.as_primitive::<Int64Type>()),
            DataType::Float32 => Col::F32(array.as_primitive::<Float32Type>()),
            DataType::Float64 => Col::F64(array.as_primitive::<Float64Type>()),
            DataType::Decimal128(_, scale) => {
                Col::Dec(array.as_primitive::<Decimal128Type>(), *scale)
            }
            DataType::Timestamp(unit, _) => {
                let values = match unit {
                    ArrowUnit::Second => array.as_primitive::<TimestampSecondType>().values(),
                    ArrowUnit::Millisecond => {
                        array.as_primitive::<TimestampMillisecondType>().values()
                    }
                    ArrowUnit::Microsecond => {
                        array.as_primitive::<TimestampMicrosecondType>().values()
                    }
                    ArrowUnit::Nanosecond => {
                        array.as_primitive::<TimestampNanosecondType>().values()
                    }
                };
                Col::Ts(values, *unit, array)
            }
            _ => Col::Other(array),
        }
    }

    fn cell(&self, row: usize) -> Cell<'a> {
        let array: &dyn Array = match self {
            Col::Missing => return Cell::Absent,
            Col::Str(a) => *a,
            Col::LargeStr(a) => *a,
            Col::View(a) => *a,
            Col::Bin(a) => *a,
            Col::Bool(a) => *a,
            Col::I32(a) => *a,
            Col::I64(a) => *a,
            Col::F32(a) => *a,
            Col::F64(a) => *a,
            Col::Dec(a, _) => *a,
            Col::Ts(_, _, a) | Col::Other(a) => *a,
        };
        if array.is_null(row) {
            return Cell::Null;
        }
        match self {
            Col::Missing => Cell::Absent,
            Col::Str(a) => Cell::Str(a.value(row)),
            Col::LargeStr(a) => Cell::Str(a.value(row)),
            Col::View(a) => Cell::Str(a.value(row)),
            Col::Bin(a) => std::str::from_utf8(a.value(row)).map_or(Cell::Other, Cell::Str),
            Col::Bool(a) => Cell::Bool(a.value(row)),
            Col::I32(a) => Cell::Int(i128::from(a.value(row))),
            Col::I64(a) => Cell::Int(i128::from(a.value(row))),
            Col::F32(a) => Cell::Num(f64::from(a.value(row))),
            Col::F64(a) => Cell::Num(a.value(row)),
            // The quotient of two exact integers, rounded once: the same double as the
            // decimal's text would parse to (for values below 2^53).
            Col::Dec(a, scale) => Cell::Num(a.value(row) as f64 / 10f64.powi(i32::from(*scale))),
            // A timestamp is read as one (see `timestamp`); here, as any other value.
            Col::Ts(..) | Col::Other(_) => Cell::Other,
        }
    }

    /// The row's instant, for a timestamp column (`None` when null or out of range).
    fn timestamp(&self, row: usize) -> Option<jiff::Timestamp> {
        let Col::Ts(values, unit, array) = self else {
            return None;
        };
        if array.is_null(row) {
            return None;
        }
        let n = *values.get(row)?;
        match unit {
            ArrowUnit::Second => jiff::Timestamp::from_second(n),
            ArrowUnit::Millisecond => jiff::Timestamp::from_millisecond(n),
            ArrowUnit::Microsecond => jiff::Timestamp::from_microsecond(n),
            ArrowUnit::Nanosecond => jiff::Timestamp::from_nanosecond(i128::from(n)),
        }
        .ok()
    }
}

/// One row of a batch.
struct Row<'b, 'a> {
    columns: &'b [Col<'a>; Field::ALL.len()],
    row: usize,
}

impl<'a> Cells<'a> for Row<'_, 'a> {
    fn cell(&self, f: Field) -> Cell<'a> {
        self.columns[f as usize].cell(self.row)
    }
}

fn open_builder(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>, ParquetError> {
    // The file's own Parquet types decide, not an Arrow schema a writer may have embedded:
    // the same file reads the same whoever wrote it.
    let options = ArrowReaderOptions::new().with_skip_arrow_metadata(true);
    let builder =
        ParquetRecordBatchReaderBuilder::try_new_with_options(File::open(path)?, options.clone())?;
    // Text is read as views: a short string sits in its view, a longer one points into the
    // page it came from, so nothing is copied value by value.
    let schema = builder.schema();
    if !schema
        .fields()
        .iter()
        .any(|f| f.data_type() == &DataType::Utf8)
    {
        return Ok(builder);
    }
    let fields: Vec<arrow_schema::FieldRef> = schema
        .fields()
        .iter()
        .map(|f| {
            if f.data_type() == &DataType::Utf8 {
                Arc::new(f.as_ref().clone().with_data_type(DataType::Utf8View))
            } else {
                f.clone()
            }
        })
        .collect();
    let views = Arc::new(arrow_schema::Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    ));
    let metadata = builder.metadata().clone();
    Ok(ParquetRecordBatchReaderBuilder::new_with_metadata(
        File::open(path)?,
        ArrowReaderMetadata::try_new(metadata, options.with_schema(views))?,
    ))
}

/// The number of rows of each row group of a Parquet file: how to split a file between
/// threads with [`visit_parquet_rows`].
pub fn parquet_row_groups(path: &Path) -> Result<Vec<u64>, ReadError> {
    let metadata = ArrowReaderMetadata::load(&File::open(path)?, ArrowReaderOptions::new())
        .map_err(ParquetError::from)?;
    Ok(metadata
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
    let mut visit = visit;
    visit_parquet_rows(path, 0..u64::MAX, |batch| {
        batch.iter().for_each(|e| visit(*e));
    })
}

/// [`visit_parquet`] over the rows `rows` of the file (numbered from 0; a range past the end
/// stops at it), whatever the row groups: how threads share a file written as one big row group. Shows `visit` the good
/// rows a batch at a time.
pub fn visit_parquet_rows(
    path: &Path,
    rows: std::ops::Range<u64>,
    mut visit: impl FnMut(&[EventRef<'_>]),
) -> Result<Vec<EventError>, ReadError> {
    let builder = open_builder(path)?;
    let sizes: Vec<u64> = builder
        .metadata()
        .row_groups()
        .iter()
        .map(|g| u64::try_from(g.num_rows()).unwrap_or(0))
        .collect();
    // The row groups the range touches, and where the first of them starts.
    let (mut groups, mut at, mut first_start) = (Vec::new(), 0u64, None);
    for (g, n) in sizes.iter().enumerate() {
        if at < rows.end && at + n > rows.start {
            groups.push(g);
            first_start.get_or_insert(at);
        }
        at += n;
    }
    let Some(first_start) = first_start else {
        return Ok(Vec::new());
    };
    let wanted = usize::try_from(rows.end.min(at) - rows.start).unwrap_or(usize::MAX);
    let skip = usize::try_from(rows.start - first_start).unwrap_or(0);
    // Only the format's columns are read.
    let parquet_schema = builder.metadata().file_metadata().schema_descr_ptr();
    let leaves: Vec<usize> = (0..parquet_schema.num_columns())
        .filter(|i| {
            let c = parquet_schema.column(*i);
            c.path().parts().len() == 1 && Field::from_name(c.name()).is_some()
        })
        .collect();
    let mask = ProjectionMask::leaves(&parquet_schema, leaves);
    let reader = builder
        .with_row_groups(groups)
        .with_projection(mask)
        .with_row_selection(RowSelection::from(vec![
            RowSelector::skip(skip),
            RowSelector::select(wanted),
        ]))
        .with_batch_size(READ_BATCH)
        .build()
        .map_err(ParquetError::from)?;
    let mut skipped = Vec::new();
    let mut line = rows.start + 1;
    for batch in reader {
        let batch = batch.map_err(|e| ParquetError::Parquet(e.into()))?;
        let columns: [Col<'_>; Field::ALL.len()] = std::array::from_fn(|f| {
            let name = Field::ALL[f].as_str();
            batch
                .schema()
                .index_of(name)
                .ok()
                .map_or(Col::Missing, |i| Col::of(batch.column(i).as_ref()))
        });
        let ts = &columns[Field::Ts as usize];
        let typed_ts = matches!(ts, Col::Ts(..));
        let mut events = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let ts = if typed_ts {
                match ts.timestamp(row) {
                    Some(t) => Some(t),
                    None => {
                        skipped.push(EventError {
                            line: line + row as u64,
                            field: "ts".into(),
                            message: "is required: a timestamp in range".into(),
                        });
                        continue;
                    }
                }
            } else {
                None
            };
            match parse_cells(
                line + row as u64,
                &Row {
                    columns: &columns,
                    row,
                },
                ts,
            ) {
                Ok(e) => events.push(e),
                Err(e) => skipped.push(e),
            }
        }
        visit(&events);
        line += batch.num_rows() as u64;
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

    /// Events of every kind, in a stable pseudo-random mix, at whole milliseconds.
    fn mixed(n: usize) -> Vec<Event> {
        let lines: Vec<&str> = EXAMPLE.lines().collect();
        let base = crate::read_jsonl(EXAMPLE.as_bytes(), false)
            .expect("jsonl")
            .events;
        (0..n)
            .map(|i| {
                let mut e = base[(i * 7 + i / 3) % lines.len()].clone();
                e.ts = jiff::Timestamp::from_millisecond(
                    1_700_000_000_000 + (i as i64 * 7_919) % 86_400_000,
                )
                .expect("ts");
                if e.follower.is_some() {
                    e.follower = Some(format!("o{:08}", (i * 31) % 997));
                }
                e
            })
            .collect()
    }

    /// How a test file holds its strings and its times.
    #[derive(Clone, Copy, Debug)]
    enum Strings {
        Utf8,
        Large,
        View,
        Dictionary,
    }

    /// The events as one Arrow batch: `ts` in `unit` (or RFC 3339 text when `None`), strings
    /// as `strings`; `follow_at` turns that row into a follow without a source (a bad row).
    fn batch(
        events: &[Event],
        unit: Option<ArrowUnit>,
        strings: Strings,
        follow_at: Option<usize>,
    ) -> arrow_array::RecordBatch {
        use arrow_array::types::Int32Type as Key;
        use arrow_array::{
            ArrayRef, DictionaryArray, RecordBatch, TimestampMicrosecondArray,
            TimestampMillisecondArray, TimestampNanosecondArray,
        };
        let mut c = Columns::default();
        for e in events {
            c.push(e);
        }
        let text = |b: &ByteArray| String::from_utf8(b.data().to_vec()).expect("utf8");
        let optional = |(v, d): &(Vec<ByteArray>, Vec<i16>)| -> Vec<Option<String>> {
            let mut it = v.iter();
            d.iter()
                .map(|x| if *x == 1 { it.next().map(text) } else { None })
                .collect()
        };
        let string_array = |values: Vec<Option<String>>| -> ArrayRef {
            match strings {
                Strings::Utf8 => Arc::new(StringArray::from(values)),
                Strings::Large => Arc::new(LargeStringArray::from(values)),
                Strings::View => Arc::new(StringViewArray::from(values)),
                Strings::Dictionary => Arc::new(
                    values
                        .iter()
                        .map(|v| v.as_deref())
                        .collect::<DictionaryArray<Key>>(),
                ),
            }
        };
        let numbers = |v: &[i32], d: &[i16]| -> Vec<Option<i32>> {
            let mut it = v.iter();
            d.iter()
                .map(|x| if *x == 1 { it.next().copied() } else { None })
                .collect()
        };
        let mut kinds: Vec<Option<String>> = c.kind.iter().map(|b| Some(text(b))).collect();
        if let Some(i) = follow_at {
            kinds[i] = Some("follow".into());
        }
        let ts: ArrayRef = match unit {
            Some(ArrowUnit::Millisecond) => {
                Arc::new(TimestampMillisecondArray::from(c.ts.clone()).with_timezone("UTC"))
            }
            Some(ArrowUnit::Microsecond) => Arc::new(
                TimestampMicrosecondArray::from(c.ts.iter().map(|t| t * 1_000).collect::<Vec<_>>())
                    .with_timezone("UTC"),
            ),
            Some(_) => Arc::new(
                TimestampNanosecondArray::from(
                    c.ts.iter().map(|t| t * 1_000_000).collect::<Vec<_>>(),
                )
                .with_timezone("UTC"),
            ),
            None => Arc::new(StringArray::from(
                c.ts.iter()
                    .map(|t| {
                        jiff::Timestamp::from_millisecond(*t)
                            .expect("ts")
                            .to_string()
                    })
                    .collect::<Vec<_>>(),
            )),
        };
        let recipients: Vec<Option<i64>> = {
            let mut it = c.recipients.0.iter();
            c.recipients
                .1
                .iter()
                .map(|x| if *x == 1 { it.next().copied() } else { None })
                .collect()
        };
        let doubles = |(v, d): &(Vec<f64>, Vec<i16>)| -> Vec<Option<f64>> {
            let mut it = v.iter();
            d.iter()
                .map(|x| if *x == 1 { it.next().copied() } else { None })
                .collect()
        };
        let segmented: Vec<Option<bool>> = {
            let mut it = c.segmented.0.iter();
            c.segmented
                .1
                .iter()
                .map(|x| if *x == 1 { it.next().copied() } else { None })
                .collect()
        };
        // A column the format does not know, which the reader leaves alone.
        let extra: ArrayRef = Arc::new(Int64Array::from(vec![7i64; events.len()]));
        RecordBatch::try_from_iter(vec![
            ("extra", extra),
            ("ts", ts),
            ("kind", string_array(kinds)),
            ("follower", string_array(optional(&c.strings[FOLLOWER]))),
            ("source", string_array(optional(&c.strings[SOURCE]))),
            ("push", string_array(optional(&c.strings[PUSH]))),
            (
                "articles",
                Arc::new(Int32Array::from(numbers(&c.articles.0, &c.articles.1))) as ArrayRef,
            ),
            (
                "segmented",
                Arc::new(BooleanArray::from(segmented)) as ArrayRef,
            ),
            (
                "recipients",
                Arc::new(Int64Array::from(recipients)) as ArrayRef,
            ),
            (
                "article",
                Arc::new(Int32Array::from(numbers(&c.article.0, &c.article.1))) as ArrayRef,
            ),
            (
                "screens",
                Arc::new(Float64Array::from(doubles(&c.screens))) as ArrayRef,
            ),
            ("action", string_array(optional(&c.strings[ACTION]))),
            ("category", string_array(optional(&c.strings[CATEGORY]))),
            ("live", string_array(optional(&c.strings[LIVE]))),
            (
                "amount",
                Arc::new(Float64Array::from(doubles(&c.amount))) as ArrayRef,
            ),
            ("currency", string_array(optional(&c.strings[CURRENCY]))),
            ("sa", string_array(optional(&c.strings[SA]))),
        ])
        .expect("batch")
    }

    fn write_arrow(path: &Path, batch: &arrow_array::RecordBatch, props: WriterProperties) {
        let mut w = parquet::arrow::ArrowWriter::try_new(
            File::create(path).expect("file"),
            batch.schema(),
            Some(props),
        )
        .expect("writer");
        w.write(batch).expect("write");
        w.close().expect("close");
    }

    /// Reads the file whole, then in two parts cut at `cut`: the same events either way.
    fn read_whole_and_split(path: &Path, cut: u64) -> Vec<Event> {
        let whole = read_parquet(path, false).expect("read").events;
        let total: u64 = parquet_row_groups(path).expect("groups").iter().sum();
        let mut parts = Vec::new();
        for rows in [0..cut, cut..total] {
            let bad = visit_parquet_rows(path, rows, |b| {
                parts.extend(b.iter().map(|e| e.to_event()));
            })
            .expect("read part");
            assert!(bad.is_empty(), "{bad:?}");
        }
        assert_eq!(parts, whole, "a file read in two parts reads as one");
        whole
    }

    #[test]
    fn every_layout_a_writer_may_choose_reads_the_same_events() {
        use parquet::basic::{Compression, Encoding};
        use parquet::file::properties::WriterVersion;
        use parquet::schema::types::ColumnPath;
        let events = mixed(5_000);
        let layouts: Vec<(&str, Option<ArrowUnit>, Strings, WriterProperties)> = vec![
            (
                "one group, dictionary, µs",
                Some(ArrowUnit::Microsecond),
                Strings::Utf8,
                WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .build(),
            ),
            (
                "small groups, plain, ms",
                Some(ArrowUnit::Millisecond),
                Strings::Utf8,
                WriterProperties::builder()
                    .set_dictionary_enabled(false)
                    .set_max_row_group_row_count(Some(700))
                    .build(),
            ),
            (
                "pages v2, delta strings, ns",
                Some(ArrowUnit::Nanosecond),
                Strings::Large,
                WriterProperties::builder()
                    .set_writer_version(WriterVersion::PARQUET_2_0)
                    .set_dictionary_enabled(false)
                    .set_column_encoding(ColumnPath::from("ts"), Encoding::DELTA_BINARY_PACKED)
                    .set_column_encoding(ColumnPath::from("kind"), Encoding::DELTA_BYTE_ARRAY)
                    .set_column_encoding(ColumnPath::from("follower"), Encoding::DELTA_BYTE_ARRAY)
                    .set_column_encoding(
                        ColumnPath::from("push"),
                        Encoding::DELTA_LENGTH_BYTE_ARRAY,
                    )
                    .set_max_row_group_row_count(Some(1_500))
                    .build(),
            ),
            (
                "tiny pages, string views",
                Some(ArrowUnit::Microsecond),
                Strings::View,
                WriterProperties::builder()
                    .set_data_page_row_count_limit(64)
                    .set_write_batch_size(64)
                    .build(),
            ),
            (
                "dictionary arrays, text times",
                None,
                Strings::Dictionary,
                WriterProperties::builder()
                    .set_max_row_group_row_count(Some(2_048))
                    .build(),
            ),
        ];
        for (name, unit, strings, props) in layouts {
            let path = tmp("layout");
            write_arrow(&path, &batch(&events, unit, strings, None), props);
            for cut in [0, 1, 699, 2_500, 4_999] {
                assert_eq!(
                    read_whole_and_split(&path, cut),
                    events,
                    "{name}, cut at {cut}"
                );
            }
            let _ = std::fs::remove_file(path);
        }
    }

    #[test]
    fn decimal_amounts_read_as_their_numbers() {
        use arrow_array::{ArrayRef, RecordBatch, TimestampMillisecondArray};
        let path = tmp("decimal");
        let amounts = Decimal128Array::from(vec![Some(520_000i128), Some(12_345), Some(1)])
            .with_precision_and_scale(12, 2)
            .expect("decimal");
        let n = 3;
        let text = |v: &str| Arc::new(StringArray::from(vec![v; n])) as ArrayRef;
        let batch = RecordBatch::try_from_iter(vec![
            (
                "ts",
                Arc::new(
                    TimestampMillisecondArray::from(vec![1_700_000_000_000i64; n])
                        .with_timezone("UTC"),
                ) as ArrayRef,
            ),
            ("kind", text("purchase")),
            ("follower", text("oA1")),
            ("amount", Arc::new(amounts) as ArrayRef),
            ("currency", text("CNY")),
        ])
        .expect("batch");
        write_arrow(&path, &batch, WriterProperties::builder().build());
        let amounts: Vec<f64> = read_parquet(&path, false)
            .expect("read")
            .events
            .iter()
            .map(|e| match &e.kind {
                Kind::Purchase(p) => p.amount,
                _ => f64::NAN,
            })
            .collect();
        assert_eq!(
            amounts,
            vec![5200.0, "123.45".parse::<f64>().expect("f"), 0.01]
        );
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_bad_row_is_named_by_its_row_in_any_part_of_one_big_group() {
        let events = mixed(3_000);
        let path = tmp("bad_in_group");
        // An unfollow past row 2,400 turned into a follow without its source.
        let at = (2_400..3_000)
            .find(|i| matches!(events[*i].kind, Kind::Unfollow))
            .expect("an unfollow");
        write_arrow(
            &path,
            &batch(
                &events,
                Some(ArrowUnit::Microsecond),
                Strings::Utf8,
                Some(at),
            ),
            WriterProperties::builder().build(),
        );
        let Err(ReadError::Invalid(bad)) = read_parquet(&path, false) else {
            panic!("the bad row is refused");
        };
        assert_eq!(
            (bad.len(), bad[0].line, bad[0].field.as_str()),
            (1, at as u64 + 1, "source")
        );
        let mut seen = 0;
        let part = visit_parquet_rows(&path, 2_000..3_000, |b| seen += b.len()).expect("part");
        assert_eq!((part.len(), part[0].line, seen), (1, at as u64 + 1, 999));
        let _ = std::fs::remove_file(path);
    }
}
