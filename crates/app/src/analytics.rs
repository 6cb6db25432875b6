//! The brand's event stream and its Luxury Index report: importing and exporting events in the
//! exchange format (`shared/spec/events.md`), recording what the channels see, and computing the
//! report (`shared/spec/luxury-index.md`) over the stored stream.

use std::sync::Arc;

use domain::ports::StoredEvent;
use domain::*;
use events::{Event, EventError, Kind};

use crate::{Actor, AppError, AppResult, Salon};

/// A brand's parsed events are kept in memory up to this many (about 90 MB).
pub const CACHED_EVENTS: usize = 1_000_000;

/// Events written per transaction on import.
const IMPORT_BATCH: usize = 20_000;

/// What an import did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EventImport {
    /// Events read from the file.
    pub read: usize,
    /// Of those, new to the brand (the rest were already held).
    pub added: u64,
    /// Lines left out (with `skip_bad`), each naming its line and field.
    pub skipped: Vec<String>,
}

pub fn stored(e: &Event) -> StoredEvent {
    StoredEvent {
        ts: e.ts.as_millisecond(),
        kind: e.kind.name().to_owned(),
        follower: e.follower.clone(),
        // Canonical: UTC timestamp, keys in order; the same event always gives the same line.
        line: events::to_json(e).to_string(),
    }
}

/// A brand's live report (its events in the engine's form, with rollups kept as they arrive)
/// and the number of the last stored event it holds.
pub struct LiveTable {
    pub live: index::live::Live,
    pub last_id: i64,
}

impl LiveTable {
    fn new(tz: &str) -> AppResult<Self> {
        Ok(Self {
            live: index::live::Live::new(tz).map_err(|e| AppError::Internal(e.to_string()))?,
            last_id: 0,
        })
    }

    /// Appends stored events, in the order stored.
    fn catch_up(&mut self, rows: Vec<(i64, String)>) -> AppResult<()> {
        for (id, line) in &rows {
            let e = parse_stored(*id, line)?;
            self.live.push(e.as_ref());
            self.last_id = *id;
        }
        Ok(())
    }

    /// Reads the whole stream in time order (stored order among events of one instant), so
    /// that the rollups hold again.
    fn rebuild(&mut self, tz: &str, rows: Vec<(i64, String)>) -> AppResult<()> {
        let mut events = rows
            .iter()
            .map(|(id, line)| parse_stored(*id, line))
            .collect::<AppResult<Vec<_>>>()?;
        events.sort_by_key(|e| e.ts);
        *self = Self::new(tz)?;
        for e in &events {
            self.live.push(e.as_ref());
        }
        self.last_id = rows.iter().map(|(id, _)| *id).max().unwrap_or(0);
        Ok(())
    }
}

fn parse_stored(id: i64, line: &str) -> AppResult<Event> {
    events::parse_line(u64::try_from(id).unwrap_or(0), line)
        .map_err(|e| AppError::Internal(format!("stored event unreadable: {e}")))
}

impl Salon {
    /// Imports a JSON Lines (or gzip) events file into the brand. Strict unless `skip_bad`;
    /// importing the same events twice adds nothing.
    pub async fn import_events(
        &self,
        actor: &Actor,
        input: impl std::io::Read,
        skip_bad: bool,
    ) -> AppResult<EventImport> {
        actor.require(Action::ImportEvents)?;
        let read = events::read_jsonl(input, skip_bad).map_err(read_error)?;
        let mut added = 0;
        for chunk in read.events.chunks(IMPORT_BATCH) {
            let rows: Vec<StoredEvent> = chunk.iter().map(stored).collect();
            added += self.repo.put_events(actor.brand.id, &rows).await?;
        }
        Ok(EventImport {
            read: read.events.len(),
            added,
            skipped: read.skipped.iter().map(EventError::to_string).collect(),
        })
    }

    /// Imports an events file of either format (see [`events::read_file`]).
    pub async fn import_events_file(
        &self,
        actor: &Actor,
        path: &std::path::Path,
        skip_bad: bool,
    ) -> AppResult<EventImport> {
        actor.require(Action::ImportEvents)?;
        if path.extension().is_some_and(|e| e == "parquet") {
            let read = events::read_parquet(path, skip_bad).map_err(read_error)?;
            let mut added = 0;
            for chunk in read.events.chunks(IMPORT_BATCH) {
                let rows: Vec<StoredEvent> = chunk.iter().map(stored).collect();
                added += self.repo.put_events(actor.brand.id, &rows).await?;
            }
            return Ok(EventImport {
                read: read.events.len(),
                added,
                skipped: read.skipped.iter().map(EventError::to_string).collect(),
            });
        }
        let file = std::fs::File::open(path).map_err(|e| {
            AppError::invalid("file", format!("cannot read {}: {e}", path.display()))
        })?;
        self.import_events(actor, std::io::BufReader::new(file), skip_bad)
            .await
    }

    /// The brand's events, oldest first, parsed (for export as Parquet).
    pub async fn export_event_values(&self, actor: &Actor) -> AppResult<Arc<Vec<Event>>> {
        actor.require(Action::ImportEvents)?;
        self.brand_events(actor.brand.id).await
    }

    /// The brand's events, oldest first, as JSON lines.
    pub async fn export_events(&self, actor: &Actor) -> AppResult<Vec<String>> {
        actor.require(Action::ImportEvents)?;
        Ok(self.repo.event_lines(actor.brand.id, None).await?)
    }

    /// The Luxury Index report over the brand's stored events for `[from, to)` in the brand's
    /// time zone (or `tz`).
    pub async fn brand_report(
        &self,
        actor: &Actor,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
        tz: Option<&str>,
    ) -> AppResult<serde_json::Value> {
        actor.require(Action::ReadAnalytics)?;
        let tz = tz.unwrap_or(actor.brand.time_zone.as_str());
        let period = index::Period::new(from, to, tz)
            .map_err(|e| AppError::invalid("period", e.to_string()))?;
        self.report_of(actor.brand.id, &period).await
    }

    /// The report over the part of the community that a saved segment holds: the followers
    /// who are the segment's clients (through their Official Account openid), with every push
    /// of the brand. Read from the stored events each time, not from the live rollups. The
    /// report gains a `segment` object: its name, expression, clients and linked followers.
    pub async fn segment_report(
        &self,
        actor: &Actor,
        segment: i64,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
        tz: Option<&str>,
    ) -> AppResult<serde_json::Value> {
        actor.require(Action::ReadAnalytics)?;
        let seg = self.segment(actor, segment).await?;
        let tz = tz.unwrap_or(actor.brand.time_zone.as_str());
        let period = index::Period::new(from, to, tz)
            .map_err(|e| AppError::invalid("period", e.to_string()))?;
        let brand = actor.brand.id;
        let expr = Self::parse_segment(&seg.expression)?;
        let ix = self.segment_index(brand).await?;
        let members: std::collections::HashSet<i64> = ix
            .client_ids(&ix.evaluate(&expr, &Self::eval_context(&actor.brand)))
            .into_iter()
            .collect();
        let followers: std::collections::HashSet<String> = self
            .repo
            .identities_of_kind(brand, IdentityKind::WechatOa)
            .await?
            .into_iter()
            .filter(|(c, _)| members.contains(&c.0))
            // The stream holds followers keyed.
            .map(|(_, openid)| self.repo.follower_key(brand, &openid))
            .collect();
        let events = self.brand_events(brand).await?;
        let table = index::Table::from_events(
            events
                .iter()
                .filter(|e| e.follower.as_ref().is_none_or(|f| followers.contains(f))),
        );
        let mut report = index::report_table(&table, &period)
            .map_err(|e| AppError::invalid("period", e.to_string()))?;
        report["segment"] = serde_json::json!({
            "id": seg.id,
            "name": seg.name,
            "expression": seg.expression,
            "clients": members.len(),
            "followers": followers.len(),
        });
        Ok(report)
    }

    /// The report over a brand's live table, brought up to date first. All of the stream
    /// counts, not only the period: opens after the period count for pushes inside it.
    async fn report_of(
        &self,
        brand: BrandId,
        period: &index::Period,
    ) -> AppResult<serde_json::Value> {
        let live = self.live_table(brand).await?;
        let live = live.lock().await;
        live.live
            .report(period)
            .map_err(|e| AppError::invalid("period", e.to_string()))
    }

    /// The brand's live report, brought up to date first by reading only the events stored
    /// since the last use (by their number in the store), never the whole stream again.
    ///
    /// Two cases read the stream whole, once: PostgreSQL gives numbers when rows are inserted
    /// and may commit a smaller number after a larger one was read, so the table's length is
    /// checked against the stream's; and events stored out of time order (an import of
    /// history) turn the rollups off, so the table is read again in time order.
    pub async fn live_table(
        &self,
        brand: BrandId,
    ) -> AppResult<Arc<tokio::sync::Mutex<LiveTable>>> {
        let tz = self.brand(brand).await?.map_or_else(
            || "Asia/Shanghai".to_owned(),
            |b| b.time_zone.as_str().to_owned(),
        );
        let existing = self
            .live_tables
            .lock()
            .map_err(|_| AppError::Internal("live tables poisoned".into()))?
            .get(&brand)
            .cloned();
        let live = match existing {
            Some(live) => live,
            None => {
                let fresh = Arc::new(tokio::sync::Mutex::new(LiveTable::new(&tz)?));
                self.live_tables
                    .lock()
                    .map_err(|_| AppError::Internal("live tables poisoned".into()))?
                    .entry(brand)
                    .or_insert(fresh)
                    .clone()
            }
        };
        {
            let mut table = live.lock().await;
            let after = table.last_id;
            table.catch_up(self.repo.event_lines_after(brand, after).await?)?;
            // Counted after the read, so that every event the read could have seen is in the
            // count: one committed meanwhile under a smaller number (by another connection or
            // process) makes the table shorter than the stream, and it is read again.
            let count = self.repo.count_events(brand).await?;
            let behind = table.live.table.len() < u64::try_from(count).unwrap_or(0);
            if behind || !table.live.is_ordered() {
                tracing::info!(
                    brand = brand.0,
                    behind,
                    "reading the event stream again, in time order"
                );
                table.rebuild(&tz, self.repo.event_lines_after(brand, 0).await?)?;
            }
        }
        Ok(live)
    }

    /// The brand's figures against every brand of the installation that has events
    /// (aggregates only; see `index::benchmark`).
    pub async fn brand_benchmark(
        &self,
        actor: &Actor,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> AppResult<serde_json::Value> {
        actor.require(Action::ReadAnalytics)?;
        let own = self.brand_report(actor, from, to, None).await?;
        let mut all = Vec::new();
        for b in self.repo.list_brands().await? {
            if b.id == actor.brand.id {
                all.push(own.clone());
                continue;
            }
            if self.repo.count_events(b.id).await? == 0 {
                continue;
            }
            let period = index::Period::new(from, to, b.time_zone.as_str())
                .map_err(|e| AppError::invalid("period", e.to_string()))?;
            all.push(self.report_of(b.id, &period).await?);
        }
        Ok(index::benchmark::compare(&own, &all))
    }

    /// The growth forecast of the spec (a calculator: nothing is stored).
    pub fn growth_forecast(
        &self,
        actor: &Actor,
        input: &index::planning::ForecastInput,
    ) -> AppResult<index::planning::Forecast> {
        actor.require(Action::ReadAnalytics)?;
        index::planning::forecast(input).map_err(|e| AppError::invalid(e.field, e.message))
    }

    /// Compares the pushes of two timeslots (or two sets of push ids) over the period.
    pub async fn push_ab_test(
        &self,
        actor: &Actor,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
        a: &str,
        b: &str,
    ) -> AppResult<index::planning::AbTest> {
        actor.require(Action::ReadAnalytics)?;
        let slot = |field: &str, s: &str| {
            index::planning::Slot::parse(s).map_err(|e| AppError::invalid(field, e.message))
        };
        let (a, b) = (slot("a", a)?, slot("b", b)?);
        let period = index::Period::new(from, to, actor.brand.time_zone.as_str())
            .map_err(|e| AppError::invalid("period", e.to_string()))?;
        let events = self.brand_events(actor.brand.id).await?;
        index::planning::ab_test(&events, &period, &a, &b)
            .map_err(|e| AppError::invalid("period", e.to_string()))
    }

    /// The brand's events before `before`, parsed.
    ///
    /// Parsed events are kept in memory per brand (up to [`CACHED_EVENTS`]) and read again only
    /// when the stream has grown: the stream is append-only, so its length is its version.
    pub async fn brand_events(&self, brand: BrandId) -> AppResult<Arc<Vec<Event>>> {
        let count = self.repo.count_events(brand).await?;
        if let Some((n, events)) = self
            .event_cache
            .lock()
            .ok()
            .and_then(|c| c.get(&brand).cloned())
            && n == count
        {
            return Ok(events);
        }
        let lines = self.repo.event_lines(brand, None).await?;
        let events: Vec<Event> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                events::parse_line(i as u64 + 1, l)
                    .map_err(|e| AppError::Internal(format!("stored event unreadable: {e}")))
            })
            .collect::<AppResult<_>>()?;
        let events = Arc::new(events);
        if let Ok(mut cache) = self.event_cache.lock() {
            if events.len() <= CACHED_EVENTS {
                cache.insert(
                    brand,
                    (
                        i64::try_from(events.len()).unwrap_or(i64::MAX),
                        events.clone(),
                    ),
                );
            } else {
                cache.remove(&brand);
            }
        }
        Ok(events)
    }

    /// Appends what a channel saw to the brand's stream (idempotent: a reprocessed callback
    /// gives the same event).
    pub(crate) async fn record_event(
        &self,
        brand: BrandId,
        at: Millis,
        follower: &str,
        kind: Kind,
    ) -> AppResult<()> {
        let ts =
            jiff::Timestamp::from_millisecond(at).map_err(|e| AppError::Internal(e.to_string()))?;
        let e = Event {
            ts,
            follower: Some(follower.to_owned()),
            kind,
        };
        self.repo.put_events(brand, &[stored(&e)]).await?;
        Ok(())
    }
}

fn read_error(e: events::ReadError) -> AppError {
    match e {
        events::ReadError::Invalid(errors) => AppError::Invalid(
            errors
                .iter()
                .take(100)
                .map(|err| {
                    FieldError::new(
                        format!("line {}: {}", err.line, err.field),
                        err.message.clone(),
                    )
                })
                .collect(),
        ),
        other => AppError::invalid("file", other.to_string()),
    }
}
