//! Sales: importing orders, returns, touches and exchange rates; the brand's policy and
//! targets; a month's statements (computed by the `sales` crate exactly as spec/attribution.md
//! says, cached per brand and month until a figure can have changed); disputes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use domain::*;
use sales::{Ledger, LineError, Month, MonthFigures};

use crate::{Actor, AppError, AppResult, Salon};

/// Which of the spec's JSON Lines files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SalesFile {
    Orders,
    Returns,
    Touches,
    Fx,
}

impl SalesFile {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "orders" => Some(Self::Orders),
            "returns" => Some(Self::Returns),
            "touches" => Some(Self::Touches),
            "fx" => Some(Self::Fx),
            _ => None,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Self::Orders => "orders",
            Self::Returns => "returns",
            Self::Touches => "touches",
            Self::Fx => "exchange rates",
        }
    }
}

/// Where the lines come from: a request's body or a file. Touches are read twice (checked
/// whole, then stored a chunk at a time: a file of ten million touches is never held in
/// memory); an orders file is held whole while imported (a few hundred megabytes for a year of
/// a large brand), to be stored in time order.
pub enum Lines {
    Text(String),
    File(PathBuf),
}

/// Reads the non-blank lines of [`Lines`] a chunk at a time, numbering them from 1.
struct LineReader<'a> {
    text: Option<std::iter::Enumerate<std::str::Lines<'a>>>,
    file: Option<std::io::BufReader<std::fs::File>>,
    n: usize,
    buf: String,
}

impl Lines {
    fn reader(&self) -> AppResult<LineReader<'_>> {
        Ok(match self {
            Lines::Text(t) => LineReader {
                text: Some(t.lines().enumerate()),
                file: None,
                n: 0,
                buf: String::new(),
            },
            Lines::File(p) => {
                let file = std::fs::File::open(p).map_err(|e| {
                    AppError::invalid("file", format!("cannot read {}: {e}", p.display()))
                })?;
                LineReader {
                    text: None,
                    file: Some(std::io::BufReader::with_capacity(1 << 20, file)),
                    n: 0,
                    buf: String::new(),
                }
            }
        })
    }

    /// Visits every non-blank line.
    fn each(&self, mut f: impl FnMut(usize, &str) -> Result<(), LineError>) -> AppResult<()> {
        let mut r = self.reader()?;
        while r.chunk(usize::MAX, &mut f)?.is_some() {}
        Ok(())
    }
}

/// A file's or a body's text, whole.
enum Whole<'a> {
    Borrowed(&'a str),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Whole<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Whole::Borrowed(s) => s.as_bytes(),
            Whole::Owned(b) => b,
        }
    }
}

impl Lines {
    /// The whole text, for an import that visits its lines out of order (orders, stored in
    /// time order: a year of a large brand's orders is a few hundred megabytes).
    fn whole(&self) -> AppResult<Whole<'_>> {
        Ok(match self {
            Lines::Text(t) => Whole::Borrowed(t),
            Lines::File(p) => Whole::Owned(std::fs::read(p).map_err(|e| {
                AppError::invalid("file", format!("cannot read {}: {e}", p.display()))
            })?),
        })
    }
}

/// Checks every non-blank line of `text` (numbered from 1), the two halves side by side;
/// what each line gave, in the file's order. The first bad line is the error.
fn check_lines<T: Send>(
    text: &[u8],
    check: &(dyn Fn(usize, &str) -> Result<T, LineError> + Sync),
) -> AppResult<Vec<(usize, T)>> {
    // Halved at a line's end; a small text is not worth a thread.
    let half = text.len() / 2;
    let mid = if text.len() < 1 << 20 {
        text.len()
    } else {
        memchr::memchr(b'\n', &text[half..]).map_or(text.len(), |p| half + p + 1)
    };
    let (first, second) = text.split_at(mid);
    let before_second = memchr::memchr_iter(b'\n', first).count();
    let collect = |part: &[u8], before: usize| {
        let mut out = Vec::new();
        for_each_line(part, before, |i, l| {
            out.push((i, check(i, l)?));
            Ok(())
        })
        .map(|()| out)
    };
    let (first, second) = std::thread::scope(|s| {
        let second = s.spawn(|| collect(second, before_second));
        let first = collect(first, 0);
        let second = second
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (first, second)
    });
    let mut all = first?;
    all.extend(second?);
    Ok(all)
}

/// Visits the non-blank lines of `text`, numbered from `before + 1`, trimmed and without a
/// byte-order mark.
fn for_each_line(
    text: &[u8],
    before: usize,
    mut f: impl FnMut(usize, &str) -> Result<(), LineError>,
) -> AppResult<()> {
    let mut start = 0;
    let mut n = before;
    while start < text.len() {
        let end = memchr::memchr(b'\n', &text[start..]).map_or(text.len(), |p| start + p);
        n += 1;
        let raw = std::str::from_utf8(&text[start..end]).map_err(|e| {
            AppError::invalid(
                &format!("line {n}"),
                format!("cannot be read as UTF-8 text ({e})"),
            )
        })?;
        let line = raw.trim().trim_start_matches('\u{feff}');
        if !line.is_empty() {
            f(n, line).map_err(line_error)?;
        }
        start = end + 1;
    }
    Ok(())
}

impl LineReader<'_> {
    /// Parses up to `max` lines; `None` at the end.
    fn chunk<T>(
        &mut self,
        max: usize,
        mut parse: impl FnMut(usize, &str) -> Result<T, LineError>,
    ) -> AppResult<Option<Vec<T>>> {
        let mut out = Vec::new();
        loop {
            if out.len() >= max {
                return Ok(Some(out));
            }
            let (n, line) = if let Some(it) = self.text.as_mut() {
                match it.next() {
                    Some((i, l)) => (i + 1, l),
                    None => break,
                }
            } else if let Some(r) = self.file.as_mut() {
                self.buf.clear();
                self.n += 1;
                match r.read_line(&mut self.buf) {
                    Ok(0) => break,
                    Ok(_) => (self.n, self.buf.as_str()),
                    Err(e) => {
                        return Err(AppError::invalid(
                            &format!("line {}", self.n),
                            format!("cannot be read as UTF-8 text ({e})"),
                        ));
                    }
                }
            } else {
                break;
            };
            // A byte-order mark (files saved by spreadsheet tools) is not part of the line.
            let line = line.trim().trim_start_matches('\u{feff}');
            if !line.is_empty() {
                out.push(parse(n, line).map_err(line_error)?);
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }
}

fn line_error(e: LineError) -> AppError {
    AppError::Invalid(vec![FieldError::new(
        format!("line {}: {}", e.line, e.field),
        e.message,
    )])
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SalesImport {
    /// Lines read (blank lines apart).
    pub lines: u64,
    /// What was new; the rest was held already.
    pub added: u64,
}

/// Rows stored per transaction in the second pass of a file.
/// Lines stored in one transaction. Large, because a page of the touch table is written once
/// per transaction however many of its rows change: at 10 M touches, 20 k-line transactions
/// wrote each page dozens of times over.
const CHUNK: usize = 200_000;

/// A month's figures as cached: valid while the brand's sales generation is unchanged.
pub(crate) type SalesCache = HashMap<(BrandId, Month), (i64, Arc<MonthFigures>)>;

/// An associate's month: their statement, the entries behind it and their store's ranks.
#[derive(Debug, Clone, Serialize)]
pub struct MyMonth {
    pub month: Month,
    pub currency: String,
    pub statement: sales::Statement,
    /// 1 for the highest net in the store.
    pub rank: usize,
    pub entries: Vec<sales::Entry>,
    /// The store's leaderboard: associates' names and net sales (no commission).
    pub leaderboard: Vec<Rank>,
    pub disputes: Vec<Dispute>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rank {
    pub rank: usize,
    pub associate: String,
    pub name: String,
    pub net: i64,
}

pub fn tz_of(brand: &Brand) -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(brand.time_zone.as_str()).unwrap_or(jiff::tz::TimeZone::UTC)
}

pub fn currency_of(brand: &Brand) -> String {
    brand
        .currencies
        .first()
        .map_or_else(|| "CNY".to_owned(), |c| c.as_str().to_owned())
}

pub fn parse_month(s: &str) -> AppResult<Month> {
    Month::parse(s.trim()).ok_or_else(|| AppError::invalid("month", "must be a month, YYYY-MM"))
}

impl Salon {
    /// Imports one of the spec's JSON Lines files. Every line is checked first; a bad line is
    /// refused naming its line and field, and nothing of the file is stored. What is held
    /// already (an order id, a return id, the same touch) is not stored twice.
    pub async fn import_sales(
        &self,
        actor: &Actor,
        kind: SalesFile,
        lines: &Lines,
    ) -> AppResult<SalesImport> {
        actor.require(Action::ImportSales)?;
        let brand = actor.brand.id;
        let report = match kind {
            SalesFile::Orders => self.import_orders(actor, lines).await?,
            SalesFile::Returns => self.import_returns(actor, lines).await?,
            SalesFile::Touches => {
                let mut n = 0u64;
                lines.each(|i, l| sales::input::touch(i, l).map(|_| n += 1))?;
                // Parsed again, and stored a chunk at a time: the next chunk is parsed while
                // the database stores this one.
                let mut added = 0;
                let mut r = lines.reader()?;
                let mut next = r.chunk(CHUNK, sales::input::touch)?;
                while let Some(chunk) = next {
                    let (stored, parsed) =
                        tokio::join!(self.repo.put_touches(brand, &chunk, "import"), async {
                            r.chunk(CHUNK, sales::input::touch)
                        });
                    added += stored?;
                    next = parsed?;
                }
                SalesImport { lines: n, added }
            }
            SalesFile::Fx => {
                let mut rates = Vec::new();
                lines.each(|i, l| sales::input::fx_rate(i, l).map(|r| rates.push(r)))?;
                let added = self.repo.put_fx_rates(brand, &rates).await?;
                SalesImport {
                    lines: rates.len() as u64,
                    added,
                }
            }
        };
        tracing::info!(
            brand = actor.brand.slug.as_str(),
            what = kind.noun(),
            lines = report.lines,
            added = report.added,
            "sales import"
        );
        Ok(report)
    }

    async fn import_orders(&self, actor: &Actor, lines: &Lines) -> AppResult<SalesImport> {
        let brand = &actor.brand;
        let tz = tz_of(brand);
        let currency = currency_of(brand);
        let fx = sales::FxTable::new(self.repo.fx_rates(brand.id).await?);
        let check = |i: usize, l: &str| -> Result<sales::Order, LineError> {
            let o = sales::input::order(i, l)?;
            let day = sales::day_of(o.placed_at, &tz);
            if fx.rate(&currency, &o.currency, day).is_none() {
                return Err(LineError::new(
                    i,
                    "currency",
                    format!(
                        "no {} exchange rate on or before {day} (import it first: salon import fx)",
                        o.currency
                    ),
                ));
            }
            Ok(o)
        };
        // Every line checked first, and kept: nothing is stored unless the whole file is good.
        let parsed = check_lines(&lines.whole()?, &check)?;
        let n = parsed.len() as u64;
        // The first line with an id wins (a later one is a duplicate, held already). Stored in
        // time order, the order of the table's key: each transaction then writes its own
        // stretch of the table, where a file in another order had every transaction rewrite
        // pages all over it. (Sorted as small keys, then each order moved once.)
        let mut order: Vec<(Millis, usize)> = {
            let mut seen = HashSet::with_capacity(parsed.len());
            parsed
                .iter()
                .enumerate()
                .filter(|(_, (_, o))| seen.insert(o.order_id.as_str()))
                .map(|(k, (_, o))| (o.placed_at, k))
                .collect()
        };
        order.sort_unstable();
        let mut slots: Vec<Option<sales::Order>> =
            parsed.into_iter().map(|(_, o)| Some(o)).collect();
        let orders: Vec<sales::Order> =
            order.iter().filter_map(|&(_, k)| slots[k].take()).collect();
        drop(slots);
        // Stored (in transactions of the store's choosing) while the clients Salon knows
        // among the buyers are looked up.
        let (stored, clients) = tokio::join!(
            self.repo.put_orders(brand.id, &orders),
            self.known_clients(brand, orders.iter().filter_map(|o| o.client.as_deref()))
        );
        let stored = stored?;
        let added = stored.len() as u64;
        let fresh: Vec<&sales::Order> = if stored.len() == orders.len() {
            orders.iter().collect()
        } else {
            let new: HashSet<String> = stored.into_iter().collect();
            orders
                .iter()
                .filter(|o| new.contains(&o.order_id))
                .collect()
        };
        self.record_known_purchases(brand, &fx, &fresh, &clients?)
            .await?;
        Ok(SalesImport { lines: n, added })
    }

    /// An order of a known client shows on the client's profile: lifetime spend (in the brand's
    /// currency), first and last purchase, the items, on the timeline.
    pub(crate) async fn record_purchases(
        &self,
        brand: &Brand,
        fx: &sales::FxTable,
        orders: &[&sales::Order],
    ) -> AppResult<()> {
        let clients = self
            .known_clients(brand, orders.iter().filter_map(|o| o.client.as_deref()))
            .await?;
        self.record_known_purchases(brand, fx, orders, &clients)
            .await
    }

    /// [`Self::record_purchases`] of the clients already looked up.
    async fn record_known_purchases(
        &self,
        brand: &Brand,
        fx: &sales::FxTable,
        orders: &[&sales::Order],
        clients: &HashMap<String, ClientId>,
    ) -> AppResult<()> {
        if clients.is_empty() {
            return Ok(());
        }
        let tz = tz_of(brand);
        let currency = currency_of(brand);
        let stores: HashMap<String, StoreId> = self
            .repo
            .list_stores(brand.id)
            .await?
            .into_iter()
            .map(|s| (s.code.as_str().to_owned(), s.id))
            .collect();
        let mut purchases = Vec::new();
        // Each associate looked up once.
        let mut sellers: HashMap<String, Option<UserId>> = HashMap::new();
        for o in orders {
            let Some(client) = o.client.as_ref().and_then(|c| clients.get(c)) else {
                continue;
            };
            let rate = fx
                .rate(&currency, &o.currency, sales::day_of(o.placed_at, &tz))
                .unwrap_or(sales::Dec::ONE);
            let associate = match &o.sold_by {
                Some(e) => match sellers.get(e) {
                    Some(id) => *id,
                    None => {
                        let id = self.repo.user_by_email(brand.id, e).await?.map(|u| u.id);
                        sellers.insert(e.clone(), id);
                        id
                    }
                },
                None => None,
            };
            purchases.push((
                *client,
                NewPurchase {
                    at: o.placed_at,
                    amount_minor: o.lines.iter().map(|l| rate.mul_round(l.amount)).sum(),
                    currency: currency.clone(),
                    store_id: o.store.as_ref().and_then(|s| stores.get(s).copied()),
                    associate_id: associate,
                    items: o.lines.iter().map(|l| l.sku.clone()).collect(),
                },
            ));
        }
        if !purchases.is_empty() {
            self.repo.add_purchases(brand.id, &purchases).await?;
            let changed: Vec<(ClientId, Millis)> =
                purchases.iter().map(|(c, p)| (*c, p.at)).collect();
            self.reassess_tiers(brand, &changed).await?;
        }
        Ok(())
    }

    async fn import_returns(&self, actor: &Actor, lines: &Lines) -> AppResult<SalesImport> {
        let brand = actor.brand.id;
        let mut parsed = Vec::new();
        lines.each(|i, l| sales::input::return_line(i, l).map(|r| parsed.push((i, r))))?;
        let ids: Vec<String> = parsed
            .iter()
            .map(|(_, r)| r.order_id.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let orders: HashMap<String, sales::Order> = self
            .repo
            .orders_by_id(brand, &ids)
            .await?
            .into_iter()
            .map(|o| (o.order_id.clone(), o))
            .collect();
        let held = self.repo.returns_of_orders(brand, &ids).await?;
        let mut seen: HashSet<String> = held.iter().map(|r| r.return_id.clone()).collect();
        // What is returned of each line so far: (amount, items). Only the amount is bounded
        // (the spec): a partial refund may name an item already counted.
        let mut returned: HashMap<(String, u32), (i64, i64)> = HashMap::new();
        for r in &held {
            let e = returned.entry((r.order_id.clone(), r.line)).or_default();
            e.0 += r.amount;
            e.1 += r.qty;
        }
        let read = parsed.len() as u64;
        let mut new = Vec::new();
        for (i, r) in parsed {
            let err = |field: &str, m: String| line_error(LineError::new(i, field, m));
            let Some(order) = orders.get(&r.order_id) else {
                return Err(err(
                    "order_id",
                    format!("no order {:?} is held", r.order_id),
                ));
            };
            let Some(line) = order.line(r.line) else {
                return Err(err(
                    "line",
                    format!("order {:?} has no line {}", r.order_id, r.line),
                ));
            };
            if !seen.insert(r.return_id.clone()) {
                continue;
            }
            if r.at < order.placed_at {
                return Err(err("at", "is before the order was placed".into()));
            }
            let so_far = returned.entry((r.order_id.clone(), r.line)).or_default();
            if so_far.0 + r.amount > line.amount {
                return Err(err(
                    "amount",
                    format!(
                        "returns of line {} would add up to {}, more than the {} paid for it",
                        r.line,
                        so_far.0 + r.amount,
                        line.amount
                    ),
                ));
            }
            so_far.0 += r.amount;
            so_far.1 += r.qty;
            new.push(r);
        }
        let added = self.repo.put_returns(brand, &new).await?;
        self.record_refunds(&actor.brand, &orders, &new).await?;
        Ok(SalesImport { lines: read, added })
    }

    /// The clients Salon knows among these CRM ids.
    async fn known_clients(
        &self,
        brand: &Brand,
        refs: impl Iterator<Item = &str>,
    ) -> AppResult<HashMap<String, ClientId>> {
        let refs: Vec<String> = refs
            .collect::<HashSet<_>>()
            .into_iter()
            .map(str::to_owned)
            .collect();
        if refs.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(self
            .repo
            .clients_by_crm(brand.id, &refs)
            .await?
            .into_iter()
            .collect())
    }

    /// A return of a known client lowers their lifetime spend and shows on their timeline.
    async fn record_refunds(
        &self,
        brand: &Brand,
        orders: &HashMap<String, sales::Order>,
        returns: &[sales::Return],
    ) -> AppResult<()> {
        let clients = self
            .known_clients(
                brand,
                returns
                    .iter()
                    .filter_map(|r| orders.get(&r.order_id).and_then(|o| o.client.as_deref())),
            )
            .await?;
        if clients.is_empty() {
            return Ok(());
        }
        let tz = tz_of(brand);
        let currency = currency_of(brand);
        let fx = sales::FxTable::new(self.repo.fx_rates(brand.id).await?);
        let mut refunds = Vec::new();
        for r in returns {
            let Some(order) = orders.get(&r.order_id) else {
                continue;
            };
            let Some(client) = order.client.as_ref().and_then(|c| clients.get(c)) else {
                continue;
            };
            // At the order's rate, as the order was counted.
            let rate = fx
                .rate(
                    &currency,
                    &order.currency,
                    sales::day_of(order.placed_at, &tz),
                )
                .unwrap_or(sales::Dec::ONE);
            refunds.push((
                *client,
                NewRefund {
                    at: r.at,
                    amount_minor: rate.mul_round(r.amount),
                    currency: currency.clone(),
                    order_id: r.order_id.clone(),
                    return_id: r.return_id.clone(),
                    items: order
                        .line(r.line)
                        .map(|l| vec![l.sku.clone()])
                        .unwrap_or_default(),
                },
            ));
        }
        if refunds.is_empty() {
            return Ok(());
        }
        self.repo.add_refunds(brand.id, &refunds).await?;
        let changed: Vec<(ClientId, Millis)> = refunds.iter().map(|(c, r)| (*c, r.at)).collect();
        self.reassess_tiers(brand, &changed).await
    }

    /// The brand's tier thresholds.
    pub async fn tier_thresholds(&self, actor: &Actor) -> AppResult<TierThresholds> {
        actor.require(Action::ReadSales)?;
        Ok(TierThresholds {
            tiers: self.repo.tier_thresholds(actor.brand.id).await?,
        })
    }

    /// Sets the lifetime spend (minor units of the brand's currency) each tier asks for. Clients
    /// move when their spend next changes; the change is on their timeline.
    pub async fn set_tier_thresholds(
        &self,
        actor: &Actor,
        tiers: Vec<(String, i64)>,
    ) -> AppResult<TierThresholds> {
        actor.require(Action::ManageSalesPolicy)?;
        let t = TierThresholds::new(&actor.brand.tiers, tiers)
            .map_err(|e| AppError::invalid(&e.field, e.message))?;
        self.repo
            .put_tier_thresholds(actor.brand.id, &t.tiers)
            .await?;
        self.audit(
            actor,
            "sales.tiers",
            "tiers",
            serde_json::json!({"tiers": t.tiers}),
        )
        .await?;
        Ok(t)
    }

    /// Moves clients whose lifetime spend now earns another tier, each move on the timeline.
    pub(crate) async fn reassess_tiers(
        &self,
        brand: &Brand,
        changed: &[(ClientId, Millis)],
    ) -> AppResult<()> {
        let tiers = TierThresholds {
            tiers: self.repo.tier_thresholds(brand.id).await?,
        };
        if tiers.is_empty() {
            return Ok(());
        }
        let mut latest: HashMap<ClientId, Millis> = HashMap::new();
        for (c, at) in changed {
            let e = latest.entry(*c).or_insert(*at);
            *e = (*e).max(*at);
        }
        for (id, at) in latest {
            let Some(client) = self.repo.client(brand.id, id).await? else {
                continue;
            };
            if !tiers.governs(client.tier.as_deref()) {
                continue;
            }
            let earned = tiers
                .tier_for(client.lifetime_spend_minor)
                .map(str::to_owned);
            if earned == client.tier {
                continue;
            }
            let up = match (&client.tier, &earned) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(from), Some(to)) => {
                    let place = |t: &str| brand.tiers.iter().position(|b| b == t);
                    place(to) > place(from)
                }
            };
            self.repo
                .update_client(
                    brand.id,
                    id,
                    &ClientPatch {
                        tier: Some(earned.clone()),
                        ..Default::default()
                    },
                    None,
                )
                .await?;
            self.repo
                .add_interaction(
                    brand.id,
                    &NewInteraction {
                        client_id: id,
                        at,
                        kind: "tier_change".into(),
                        channel: None,
                        detail: serde_json::json!({
                            "from": client.tier,
                            "to": earned,
                            "direction": if up { "up" } else { "down" },
                            "lifetime_spend_minor": client.lifetime_spend_minor,
                            "currency": client.currency,
                        }),
                        reference: Some(format!(
                            "tier:{}:{at}:{}",
                            id.0,
                            earned.as_deref().unwrap_or("-")
                        )),
                    },
                )
                .await?;
        }
        Ok(())
    }

    /// Sets the brand's policy from the spec's policy file (absent keys take their defaults;
    /// the targets it names are set, others kept).
    pub async fn set_sales_policy(&self, actor: &Actor, text: &str) -> AppResult<sales::Policy> {
        actor.require(Action::ManageSalesPolicy)?;
        let file = sales::input::policy(text)
            .map_err(|e| AppError::invalid(&format!("policy.{}", e.field), e.message))?;
        let stored = file.policy.to_json().to_string();
        let targets: Vec<ports::Target> = file
            .targets
            .iter()
            .flat_map(|(m, per)| {
                per.iter()
                    .map(move |(who, a)| (m.to_string(), who.clone(), *a))
            })
            .collect();
        self.repo
            .put_sales_policy(actor.brand.id, &stored, &targets, actor.user_id())
            .await?;
        self.audit(
            actor,
            "sales.policy",
            "policy",
            serde_json::json!({"policy": file.policy.to_json(), "targets": targets.len()}),
        )
        .await?;
        Ok(file.policy)
    }

    /// The brand's policy (the spec's defaults until one is set).
    pub async fn sales_policy(&self, actor: &Actor) -> AppResult<sales::Policy> {
        actor.require(Action::ReadSales)?;
        self.stored_policy(actor.brand.id).await
    }

    async fn stored_policy(&self, brand: BrandId) -> AppResult<sales::Policy> {
        match self.repo.sales_policy(brand).await? {
            None => Ok(sales::Policy::default()),
            Some(text) => sales::input::policy(&text)
                .map(|f| f.policy)
                .map_err(|e| AppError::Internal(format!("stored sales policy: {e}"))),
        }
    }

    /// Sets monthly targets: (associate e-mail, amount in minor units). A store manager sets
    /// them for their own store's associates only.
    pub async fn set_targets(
        &self,
        actor: &Actor,
        month: &str,
        targets: &[(String, i64)],
    ) -> AppResult<usize> {
        actor.require(Action::SetTargets)?;
        let month = parse_month(month)?;
        let mut rows = Vec::with_capacity(targets.len());
        for (i, (who, amount)) in targets.iter().enumerate() {
            let field = format!("targets[{i}]");
            let email = sales::input::email(who).ok_or_else(|| {
                AppError::invalid(&field, format!("{who:?} is not an e-mail address"))
            })?;
            if *amount < 0 {
                return Err(AppError::invalid(&field, "a target cannot be negative"));
            }
            if actor.role == Role::StoreManager {
                let user = self.repo.user_by_email(actor.brand.id, &email).await?;
                if user.as_ref().and_then(|u| u.store_id) != actor.store || actor.store.is_none() {
                    return Err(AppError::Forbidden(format!(
                        "{email} is not an associate of your store"
                    )));
                }
            }
            rows.push((month.to_string(), email, *amount));
        }
        self.repo.put_targets(actor.brand.id, &rows).await?;
        self.audit(
            actor,
            "sales.targets",
            &month.to_string(),
            serde_json::json!({"count": rows.len()}),
        )
        .await?;
        Ok(rows.len())
    }

    /// The month's figures for the whole brand, from the cache while nothing has changed.
    pub(crate) async fn month_figures(
        &self,
        brand: &Brand,
        month: Month,
    ) -> AppResult<Arc<MonthFigures>> {
        let generation = self.repo.sales_generation(brand.id).await?;
        let assignments = self.repo.assignment_mark(brand.id).await?;
        let stamp = generation.wrapping_mul(1_000_003).wrapping_add(assignments);
        if let Some((g, f)) = self
            .sales_cache
            .lock()
            .ok()
            .and_then(|c| c.get(&(brand.id, month)).cloned())
            && g == stamp
        {
            return Ok(f);
        }
        let figures = Arc::new(self.compute_month(brand, month).await?);
        if let Ok(mut c) = self.sales_cache.lock() {
            if c.len() > 256 {
                c.clear();
            }
            c.insert((brand.id, month), (stamp, figures.clone()));
        }
        Ok(figures)
    }

    /// Loads what a month needs (its orders, its returns and their orders, those clients'
    /// touches within the widest window, their book history, decisions, rates, targets) and
    /// computes it.
    async fn compute_month(&self, brand: &Brand, month: Month) -> AppResult<MonthFigures> {
        let started = std::time::Instant::now();
        let tz = tz_of(brand);
        let policy = self.stored_policy(brand.id).await?;
        let (start, end) = month.bounds(&tz);
        let window = policy.max_window_ms();
        // The month's orders, their clients' touches and the month's returns: three reads side
        // by side (each on its own connection).
        let (orders, touches, returns) = tokio::join!(
            self.repo.orders_placed(brand.id, start, end),
            self.repo
                .touches_of_buyers(brand.id, (start, end), start - window, end),
            self.repo.returns_made(brand.id, start, end),
        );
        let (mut orders, mut touches, returns) = (orders?, touches?, returns?);
        let loaded_orders = started.elapsed();
        // Returns of orders placed in earlier months: those orders, and their clients' touches.
        let have: HashSet<&str> = orders.iter().map(|o| o.order_id.as_str()).collect();
        let missing: Vec<String> = returns
            .iter()
            .filter(|r| !have.contains(r.order_id.as_str()))
            .map(|r| r.order_id.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if !missing.is_empty() {
            let earlier = self.repo.orders_by_id(brand.id, &missing).await?;
            let clients: Vec<String> = earlier
                .iter()
                .filter_map(|o| o.client.clone())
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            if let (Some(first), Some(last)) = (
                earlier.iter().map(|o| o.placed_at).min(),
                earlier.iter().map(|o| o.placed_at).max(),
            ) {
                touches.extend(
                    self.repo
                        .touches_of_clients(brand.id, &clients, first - window, last)
                        .await?,
                );
            }
            orders.extend(earlier);
        }
        let clients: Vec<String> = orders
            .iter()
            .filter_map(|o| o.client.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let loaded_touches = started.elapsed();
        let book = if policy.book_credit {
            self.repo.book_history(brand.id, &clients).await?
        } else {
            Vec::new()
        };
        let mut ledger = Ledger::new(&currency_of(brand), tz, policy);
        for r in self.repo.fx_rates(brand.id).await? {
            ledger.fx.insert(r);
        }
        let targets: BTreeMap<String, i64> = self
            .repo
            .targets(brand.id, &month.to_string())
            .await?
            .into_iter()
            .collect();
        ledger.set_targets(month, targets);
        for d in self.repo.decisions(brand.id).await? {
            ledger.add_decision(d);
        }
        let loaded_books = started.elapsed();
        for o in orders {
            ledger.add_order(o);
        }
        for r in returns {
            ledger.add_return(r);
        }
        for t in touches {
            ledger.add_touch(t);
        }
        for (client, a) in book {
            ledger.add_assignment(&client, a);
        }
        let held = started.elapsed();
        tracing::debug!(
            loads_ms = (loaded_books - loaded_touches).as_millis() as u64,
            adds_ms = (held - loaded_books).as_millis() as u64,
            "sales month held"
        );
        let figures = ledger
            .month(month)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        tracing::debug!(
            month = %month,
            orders_ms = loaded_orders.as_millis() as u64,
            touches_ms = (loaded_touches - loaded_orders).as_millis() as u64,
            held_ms = held.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "sales month computed"
        );
        Ok(figures)
    }

    /// The spec's report of a month, in the actor's scope: HQ the brand; a store manager their
    /// store's associates; an associate their own statement.
    pub async fn sales_report(&self, actor: &Actor, month: &str) -> AppResult<sales::Report> {
        actor.require(Action::ReadSales)?;
        let month = parse_month(month)?;
        let figures = self.month_figures(&actor.brand, month).await?;
        let mut report = figures.report.clone();
        match actor.role {
            Role::Hq => {}
            Role::StoreManager => {
                let team = self.store_team(actor).await?;
                report
                    .associates
                    .retain(|s| team.contains_key(&s.associate));
            }
            _ => {
                let me = actor.user.as_ref().map(|u| u.email.as_str().to_owned());
                report
                    .associates
                    .retain(|s| Some(&s.associate) == me.as_ref());
                report.unattributed = 0;
            }
        }
        Ok(report)
    }

    /// E-mail → name of the actor's store's staff.
    async fn store_team(&self, actor: &Actor) -> AppResult<HashMap<String, String>> {
        let Some(store) = actor
            .store
            .or_else(|| actor.user.as_ref().and_then(|u| u.store_id))
        else {
            return Ok(HashMap::new());
        };
        Ok(self
            .repo
            .list_users(actor.brand.id, Some(store))
            .await?
            .into_iter()
            .map(|(u, _)| (u.email.as_str().to_owned(), u.display_name))
            .collect())
    }

    /// An associate's month: statement, the entries behind it, their store's ranks.
    pub async fn my_month(&self, actor: &Actor, month: &str) -> AppResult<MyMonth> {
        actor.require(Action::ReadOwnSales)?;
        let Some(user) = actor.user.as_ref() else {
            return Err(AppError::Forbidden(
                "My month is an associate's own page".into(),
            ));
        };
        let month = parse_month(month)?;
        let figures = self.month_figures(&actor.brand, month).await?;
        let me = user.email.as_str().to_owned();
        let team = self.store_team(actor).await?;
        let mut leaderboard = Vec::new();
        for s in figures
            .report
            .associates
            .iter()
            .filter(|s| team.contains_key(&s.associate) || s.associate == me)
        {
            leaderboard.push(Rank {
                rank: leaderboard.len() + 1,
                associate: s.associate.clone(),
                name: team
                    .get(&s.associate)
                    .cloned()
                    .unwrap_or_else(|| s.associate.clone()),
                net: s.net,
            });
        }
        let statement = figures
            .report
            .associates
            .iter()
            .find(|s| s.associate == me)
            .cloned()
            .unwrap_or(sales::Statement {
                associate: me.clone(),
                sales: 0,
                returns: 0,
                net: 0,
                orders: 0,
                commission: 0,
                target: None,
            });
        let rank = leaderboard
            .iter()
            .find(|r| r.associate == me)
            .map_or(leaderboard.len() + 1, |r| r.rank);
        // Newest first: what happened today is what an associate looks for.
        let mut entries: Vec<sales::Entry> = figures
            .entries
            .iter()
            .filter(|e| e.associate.as_deref() == Some(me.as_str()))
            .cloned()
            .collect();
        entries.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.order_id.cmp(&b.order_id)));
        let disputes = self
            .repo
            .disputes(actor.brand.id, None)
            .await?
            .into_iter()
            .filter(|d| d.raised_by == user.id)
            .collect();
        Ok(MyMonth {
            month,
            currency: figures.report.currency.clone(),
            statement,
            rank,
            entries,
            leaderboard,
            disputes,
        })
    }
}

/// A month's statements as CSV for payroll: one row per associate, formula-safe cells.
pub fn statement_csv(report: &sales::Report) -> String {
    let mut out =
        String::from("month,currency,rank,associate,sales,returns,net,orders,commission,target\n");
    for (i, s) in report.associates.iter().enumerate() {
        let who = if s.associate.starts_with(['=', '+', '-', '@']) {
            format!("'{}", s.associate)
        } else {
            s.associate.clone()
        };
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            report.month,
            report.currency,
            i + 1,
            who.replace(',', " "),
            s.sales,
            s.returns,
            s.net,
            s.orders,
            s.commission,
            s.target.map_or_else(String::new, |t| t.to_string())
        ));
    }
    out.push_str(&format!(
        "{},{},,unattributed,{},,,,,\n",
        report.month, report.currency, report.unattributed
    ));
    out
}

/// A decision on a dispute: explicit shares, or none to keep the computed credit.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct DecisionInput {
    /// `[{"associate": e-mail, "fraction": "0.5"}, …]`, adding up to exactly 1; absent or
    /// empty rejects the dispute (the computed credit stands).
    #[serde(default)]
    pub shares: Vec<ShareInput>,
    /// Why: required, and written to the audit log.
    pub note: Option<String>,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct ShareInput {
    pub associate: String,
    pub fraction: serde_json::Value,
}

impl Salon {
    /// An associate contests an order's credit.
    pub async fn raise_dispute(
        &self,
        actor: &Actor,
        order_id: &str,
        reason: &str,
    ) -> AppResult<Dispute> {
        actor.require(Action::DisputeCredit)?;
        let Some(user) = &actor.user else {
            return Err(AppError::Forbidden(
                "a dispute is raised by an associate".into(),
            ));
        };
        let reason = text("reason", reason, 1000)?;
        let order_id = order_id.trim();
        if self
            .repo
            .orders_by_id(actor.brand.id, &[order_id.to_owned()])
            .await?
            .is_empty()
        {
            return Err(AppError::NotFound("order"));
        }
        let open = self
            .repo
            .disputes(actor.brand.id, Some(DisputeStatus::Open))
            .await?;
        if open
            .iter()
            .any(|d| d.order_id == order_id && d.raised_by == user.id)
        {
            return Err(AppError::Conflict(
                "you already have an open dispute on this order".into(),
            ));
        }
        let d = self
            .repo
            .create_dispute(actor.brand.id, order_id, user.id, &reason, now_millis())
            .await?;
        self.audit(
            actor,
            "sales.dispute",
            order_id,
            serde_json::json!({"dispute": d.id, "reason": reason}),
        )
        .await?;
        Ok(d)
    }

    /// Disputes in scope: HQ all; a store manager those raised by their store's associates; an
    /// associate their own. Newest first.
    pub async fn list_disputes(
        &self,
        actor: &Actor,
        status: Option<&str>,
    ) -> AppResult<Vec<Dispute>> {
        actor.require(Action::ReadSales)?;
        let status =
            match status.map(str::trim).filter(|s| !s.is_empty()) {
                None => None,
                Some(s) => Some(DisputeStatus::parse(s).ok_or_else(|| {
                    AppError::invalid("status", "must be open, decided or rejected")
                })?),
            };
        let all = self.repo.disputes(actor.brand.id, status).await?;
        Ok(match actor.role {
            Role::Hq => all,
            Role::StoreManager => {
                let team: HashSet<UserId> = self.store_team_ids(actor).await?.into_iter().collect();
                all.into_iter()
                    .filter(|d| team.contains(&d.raised_by))
                    .collect()
            }
            _ => all
                .into_iter()
                .filter(|d| Some(d.raised_by) == actor.user_id())
                .collect(),
        })
    }

    async fn store_team_ids(&self, actor: &Actor) -> AppResult<Vec<UserId>> {
        let Some(store) = actor.store else {
            return Ok(Vec::new());
        };
        Ok(self
            .repo
            .list_users(actor.brand.id, Some(store))
            .await?
            .into_iter()
            .map(|(u, _)| u.id)
            .collect())
    }

    /// Decides an open dispute (store managers: their store's); audited with who, when, why.
    pub async fn decide_dispute(
        &self,
        actor: &Actor,
        id: i64,
        input: &DecisionInput,
    ) -> AppResult<Dispute> {
        actor.require(Action::DecideDisputes)?;
        let by = actor.user_id();
        let d = self
            .repo
            .dispute(actor.brand.id, id)
            .await?
            .ok_or(AppError::NotFound("dispute"))?;
        if actor.role == Role::StoreManager
            && !self.store_team_ids(actor).await?.contains(&d.raised_by)
        {
            return Err(AppError::NotFound("dispute"));
        }
        let note = text("note", input.note.as_deref().unwrap_or(""), 1000)?;
        if note.is_empty() {
            return Err(AppError::invalid(
                "note",
                "say why: the decision is audited",
            ));
        }
        let mut shares: Vec<(String, sales::Dec)> = Vec::new();
        for (i, s) in input.shares.iter().enumerate() {
            let field = format!("shares[{i}]");
            let who = sales::input::email(&s.associate).ok_or_else(|| {
                AppError::invalid(&format!("{field}.associate"), "is not an e-mail address")
            })?;
            let raw = match &s.fraction {
                serde_json::Value::String(t) => t.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => String::new(),
            };
            let f: sales::Dec = raw.trim().parse().map_err(|e: sales::decimal::DecError| {
                AppError::invalid(&format!("{field}.fraction"), e.to_string())
            })?;
            if f.is_negative() || f > sales::Dec::ONE {
                return Err(AppError::invalid(
                    &format!("{field}.fraction"),
                    "must be from 0 to 1",
                ));
            }
            if shares.iter().any(|(a, _)| *a == who) {
                return Err(AppError::invalid(
                    &format!("{field}.associate"),
                    "appears twice",
                ));
            }
            shares.push((who, f));
        }
        if !shares.is_empty() {
            let total: i128 = shares.iter().map(|(_, f)| f.units()).sum();
            if total != sales::Dec::ONE.units() {
                return Err(AppError::invalid(
                    "shares",
                    "the fractions must add up to exactly 1",
                ));
            }
        }
        let decided = self
            .repo
            .decide_dispute(
                actor.brand.id,
                id,
                (!shares.is_empty()).then_some(shares.as_slice()),
                by,
                &note,
                now_millis(),
            )
            .await?;
        self.audit(
            actor,
            "sales.dispute.decide",
            &decided.order_id,
            serde_json::json!({
                "dispute": id,
                "status": decided.status,
                "shares": shares.iter().map(|(a, f)| serde_json::json!({"associate": a, "fraction": f.to_string()})).collect::<Vec<_>>(),
                "note": note,
            }),
        )
        .await?;
        Ok(decided)
    }

    /// The month's statements as CSV for payroll (HQ: the brand; store managers: their
    /// store), written to the audit log.
    pub async fn export_statements(&self, actor: &Actor, month: &str) -> AppResult<String> {
        actor.require(Action::DecideDisputes)?;
        let report = self.sales_report(actor, month).await?;
        self.audit(
            actor,
            "sales.statements.export",
            &report.month.to_string(),
            serde_json::json!({"associates": report.associates.len()}),
        )
        .await?;
        Ok(statement_csv(&report))
    }
}

/// One month of the HQ sales chart: net sales by source, credited or not, and how much of it
/// came through social selling (touches: chats, shared links, livestreams, appointments,
/// broadcasts), as opposed to a sale rung up in store.
#[derive(Debug, Clone, Serialize)]
pub struct MonthSplit {
    pub month: Month,
    /// Per source (pos, ecommerce, mini_store, livestream): (attributed, unattributed), net of returns.
    pub by_source: Vec<(sales::Source, i64, i64)>,
    pub attributed: i64,
    pub unattributed: i64,
    /// Net sales credited through a touch (last touch, split) or a decided dispute.
    pub social: i64,
}

impl MonthSplit {
    /// The share of the month's net sales that social selling earned.
    pub fn social_share(&self) -> f64 {
        let total = self.attributed + self.unattributed;
        if total <= 0 {
            0.0
        } else {
            self.social as f64 / total as f64
        }
    }
}

/// A store's leaderboard row (never a colleague's commission on an associate's page).
#[derive(Debug, Clone, Serialize)]
pub struct BoardRow {
    pub rank: usize,
    pub associate: String,
    pub name: String,
    pub statement: sales::Statement,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoreBoard {
    pub store: String,
    pub name: String,
    pub rows: Vec<BoardRow>,
}

/// HQ's and the store manager's view of a month.
#[derive(Debug, Clone, Serialize)]
pub struct SalesOverview {
    pub month: Month,
    pub currency: String,
    /// The six months up to `month`, oldest first.
    pub months: Vec<MonthSplit>,
    pub boards: Vec<StoreBoard>,
    /// HQ: the whole brand's leaderboard, every associate in order.
    pub brand_board: Vec<BoardRow>,
    /// Credited to e-mails that are nobody on the staff (imported touches of other systems).
    pub others: Vec<BoardRow>,
    pub unattributed: i64,
    pub disputes: Vec<Dispute>,
    pub policy: sales::Policy,
    pub tiers: TierThresholds,
}

fn split_of(f: &MonthFigures) -> MonthSplit {
    let mut by: Vec<(sales::Source, i64, i64)> =
        sales::Source::ALL.iter().map(|s| (*s, 0, 0)).collect();
    let mut social = 0;
    for e in &f.entries {
        let signed = match e.kind {
            sales::EntryKind::Sale => e.amount,
            sales::EntryKind::Return => -e.amount,
        };
        let Some(slot) = by.iter_mut().find(|(s, _, _)| *s == e.source) else {
            continue;
        };
        if e.associate.is_some() {
            slot.1 += signed;
            if matches!(
                e.why,
                sales::Why::LastTouch { .. } | sales::Why::Split { .. } | sales::Why::Decided
            ) {
                social += signed;
            }
        } else {
            slot.2 += signed;
        }
    }
    MonthSplit {
        month: f.report.month,
        attributed: by.iter().map(|(_, a, _)| a).sum(),
        unattributed: by.iter().map(|(_, _, u)| u).sum(),
        by_source: by,
        social,
    }
}

impl Salon {
    /// HQ: the brand's month, its last six months by source and every store's leaderboard;
    /// a store manager: their store's.
    pub async fn sales_overview(&self, actor: &Actor, month: &str) -> AppResult<SalesOverview> {
        actor.require(Action::ReadSales)?;
        if actor.role == Role::Associate {
            return Err(AppError::Forbidden("associates see their own month".into()));
        }
        let month = parse_month(month)?;
        let mut months = Vec::new();
        let mut m = month;
        for _ in 0..6 {
            months.push(split_of(&*self.month_figures(&actor.brand, m).await?));
            m = m.prev();
        }
        months.reverse();
        let figures = self.month_figures(&actor.brand, month).await?;
        let stores = self.repo.list_stores(actor.brand.id).await?;
        let staff = self.repo.list_users(actor.brand.id, None).await?;
        let mut boards: Vec<StoreBoard> = stores
            .iter()
            .filter(|s| actor.role == Role::Hq || actor.store == Some(s.id))
            .map(|s| StoreBoard {
                store: s.code.as_str().to_owned(),
                name: s.name.clone(),
                rows: Vec::new(),
            })
            .collect();
        let mut others = Vec::new();
        let mut brand_board = Vec::new();
        for st in &figures.report.associates {
            let user = staff
                .iter()
                .find(|(u, _)| u.email.as_str() == st.associate)
                .map(|(u, _)| u);
            let row = |rank| BoardRow {
                rank,
                associate: st.associate.clone(),
                name: user.map_or_else(|| st.associate.clone(), |u| u.display_name.clone()),
                statement: st.clone(),
            };
            if actor.role == Role::Hq {
                brand_board.push(row(brand_board.len() + 1));
            }
            let store = user
                .and_then(|u| u.store_id)
                .and_then(|id| stores.iter().find(|s| s.id == id));
            match store.and_then(|s| boards.iter_mut().find(|b| b.store == s.code.as_str())) {
                Some(b) => {
                    let rank = b.rows.len() + 1;
                    b.rows.push(row(rank));
                }
                None if actor.role == Role::Hq => {
                    let rank = others.len() + 1;
                    others.push(row(rank));
                }
                None => {}
            }
        }
        Ok(SalesOverview {
            month,
            currency: figures.report.currency.clone(),
            months,
            boards,
            brand_board,
            others,
            unattributed: figures.report.unattributed,
            disputes: self.list_disputes(actor, Some("open")).await?,
            policy: self.stored_policy(actor.brand.id).await?,
            tiers: TierThresholds {
                tiers: self.repo.tier_thresholds(actor.brand.id).await?,
            },
        })
    }

    /// The current month in the brand's time zone.
    pub fn this_month(&self, brand: &Brand) -> Month {
        Month::of(sales::day_of(now_millis(), &tz_of(brand)))
    }

    /// A client's orders, newest first, with who got credit and why (in the actor's scope).
    pub async fn client_orders(
        &self,
        actor: &Actor,
        client: ClientId,
    ) -> AppResult<Vec<(sales::Order, sales::Credit)>> {
        actor.require(Action::ReadClients)?;
        let c = self.client(actor, client).await?;
        let Some(crm) = c
            .identities
            .iter()
            .find(|i| i.kind == IdentityKind::Crm)
            .map(|i| i.value.clone())
        else {
            return Ok(Vec::new());
        };
        let orders = self.repo.orders_of_client(actor.brand.id, &crm, 50).await?;
        let mut out = Vec::with_capacity(orders.len());
        for o in orders {
            let month = Month::of(sales::day_of(o.placed_at, &tz_of(&actor.brand)));
            let figures = self.month_figures(&actor.brand, month).await?;
            let mut who: Vec<&sales::Entry> = figures
                .entries
                .iter()
                .filter(|e| e.order_id == o.order_id && e.kind == sales::EntryKind::Sale)
                .collect();
            who.sort_by(|a, b| a.associate.cmp(&b.associate));
            let credit = sales::Credit {
                shares: if who.iter().all(|e| e.associate.is_none()) {
                    sales::Shares::Nobody
                } else {
                    sales::Shares::Equal(who.iter().filter_map(|e| e.associate.clone()).collect())
                },
                why: who.first().map_or(sales::Why::NoTouch, |e| e.why.clone()),
            };
            out.push((o, credit));
        }
        Ok(out)
    }
}

/// How Salon names a client in its own touches: the CRM id (as orders name the client), or a
/// Salon id for a client the CRM does not know yet.
pub fn client_ref(c: &Client) -> String {
    c.identities
        .iter()
        .find(|i| i.kind == IdentityKind::Crm)
        .map_or_else(|| format!("salon-{}", c.id.0), |i| i.value.clone())
}

impl Salon {
    /// Records a touch as it happens (an associate's message, a broadcast delivered, a shared
    /// link opened). A failure is logged, never the caller's: the message or the link matters
    /// more than its credit.
    pub(crate) async fn record_touch(
        &self,
        brand: BrandId,
        client: &Client,
        associate: &str,
        kind: sales::TouchKind,
        at: Millis,
        origin: &str,
    ) {
        let touch = sales::Touch {
            at,
            associate: associate.to_owned(),
            client: client_ref(client),
            kind,
        };
        if let Err(e) = self.repo.put_touches(brand, &[touch], origin).await {
            tracing::warn!(error = %e, origin, "a touch could not be recorded");
        }
    }
}

/// What an associate shares as a tracked link.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ShareLinkInput {
    /// Where the link goes: a product page, an asset, any page of the brand (http or https).
    pub url: Option<String>,
    pub title: Option<String>,
    /// `product` (default), `asset` or `page`.
    pub kind: Option<String>,
    /// The client it is made for: their opens are theirs (and earn the associate a touch).
    pub client_id: Option<i64>,
}

/// Where a link may go: the catalogue's rule for web addresses.
fn link_target(s: &str) -> AppResult<String> {
    domain::catalogue::web_address("url", s).map_err(|e| AppError::invalid(&e.field, e.message))
}

impl Salon {
    /// Makes a tracked short link (`/s/{code}`) for the associate, for one client or for anyone.
    pub async fn create_share_link(
        &self,
        actor: &Actor,
        input: &ShareLinkInput,
    ) -> AppResult<ShareLink> {
        actor.require(Action::ShareLinks)?;
        let Some(user) = &actor.user else {
            return Err(AppError::Forbidden("a link is shared by a person".into()));
        };
        let target = link_target(input.url.as_deref().unwrap_or(""))?;
        let title = match input
            .title
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            Some(t) => text("title", t, 200)?,
            None => String::new(),
        };
        let kind = match input
            .kind
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
        {
            None => "product".to_owned(),
            Some(k @ ("product" | "asset" | "page")) => k.to_owned(),
            Some(_) => return Err(AppError::invalid("kind", "must be product, asset or page")),
        };
        let client_id = match input.client_id {
            Some(id) => Some(self.client(actor, ClientId(id)).await?.id),
            None => None,
        };
        self.store_share_link(actor.brand.id, user.id, client_id, kind, target, title)
            .await
    }

    /// Stores a share link under a fresh code: what every way of sharing ends in.
    pub(crate) async fn store_share_link(
        &self,
        brand: BrandId,
        associate: UserId,
        client_id: Option<ClientId>,
        kind: String,
        target: String,
        title: String,
    ) -> AppResult<ShareLink> {
        let code: String = {
            use rand::Rng;
            const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
            let mut rng = rand::thread_rng();
            (0..10)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect()
        };
        Ok(self
            .repo
            .create_share_link(
                brand,
                &NewShareLink {
                    code,
                    associate_id: associate,
                    client_id,
                    kind,
                    target,
                    title: if title.is_empty() {
                        "—".to_owned()
                    } else {
                        title
                    },
                    at: now_millis(),
                },
            )
            .await?)
    }

    /// The actor's links (a store manager's: their own too), newest first, with their opens.
    pub async fn my_share_links(&self, actor: &Actor) -> AppResult<Vec<ShareLink>> {
        actor.require(Action::ShareLinks)?;
        let Some(user) = actor.user_id() else {
            return Ok(Vec::new());
        };
        Ok(self
            .repo
            .share_links(actor.brand.id, Some(user), 200)
            .await?)
    }

    /// Someone opened a share link: the open is recorded (with its client when the link was
    /// made for one: a `share_click` touch for the associate and an entry on the client's
    /// timeline); the answer is where to redirect. Anyone may open a link: no actor.
    pub async fn open_share_link(&self, code: &str) -> AppResult<String> {
        let code = code.trim();
        if code.is_empty() || code.len() > 32 || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(AppError::NotFound("link"));
        }
        let link = self
            .repo
            .share_link_by_code(code)
            .await?
            .ok_or(AppError::NotFound("link"))?;
        let at = now_millis();
        self.repo
            .record_share_open(link.id, link.client_id, at)
            .await?;
        if let Some(client_id) = link.client_id {
            let client = self.repo.client(link.brand, client_id).await?;
            let associate = self.repo.user(link.brand, link.associate_id).await?;
            if let (Some(client), Some(associate)) = (client, associate) {
                self.record_touch(
                    link.brand,
                    &client,
                    associate.email.as_str(),
                    sales::TouchKind::ShareClick,
                    at,
                    "share_link",
                )
                .await;
                self.repo
                    .add_interaction(
                        link.brand,
                        &NewInteraction {
                            client_id,
                            at,
                            kind: "share_click".into(),
                            channel: None,
                            detail: serde_json::json!({"title": link.title, "kind": link.kind, "associate_id": link.associate_id.0}),
                            reference: None,
                        },
                    )
                    .await?;
            }
        }
        Ok(link.target)
    }
}

/// The header an e-commerce platform puts its signature in: `sha256=` and the hex of
/// HMAC-SHA256(secret, raw body).
pub const WEBHOOK_SIGNATURE_HEADER: &str = "x-salon-signature";

/// HMAC-SHA256 of a body under a secret, as the webhook's header writes it.
pub fn webhook_signature(secret: &str, body: &[u8]) -> String {
    use hmac::Mac as _;
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable_hmac());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// HMAC takes keys of any length: this is never reached.
fn unreachable_hmac() -> hmac::Hmac<sha2::Sha256> {
    <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(b"-")
        .unwrap_or_else(|_| unreachable_hmac())
}

impl Salon {
    /// Makes (or replaces) the secret the brand's e-commerce platform signs its order
    /// webhooks with; shown once.
    pub async fn rotate_webhook_secret(&self, actor: &Actor) -> AppResult<String> {
        actor.require(Action::ImportSales)?;
        let secret = {
            use rand::Rng;
            let bytes: [u8; 32] = rand::thread_rng().r#gen();
            hex::encode(bytes)
        };
        self.repo
            .put_webhook_secret(actor.brand.id, &secret)
            .await?;
        self.audit(
            actor,
            "sales.webhook.rotate",
            "webhook",
            serde_json::json!({}),
        )
        .await?;
        Ok(secret)
    }

    /// An order (or returns) webhook from the brand's e-commerce platform: the signature over
    /// the raw body is checked first (in constant time); then the body is imported like
    /// `POST /api/v1/orders`, idempotent on its ids.
    pub async fn webhook_sales(
        &self,
        brand_slug: &str,
        kind: SalesFile,
        signature: Option<&str>,
        body: &[u8],
    ) -> AppResult<SalesImport> {
        let brand = self
            .repo
            .brand_by_slug(brand_slug)
            .await?
            .ok_or(AppError::NotFound("brand"))?;
        let Some(secret) = self.repo.webhook_secret(brand.id).await? else {
            return Err(AppError::Unauthenticated);
        };
        let expected = webhook_signature(&secret, body);
        let given = signature.unwrap_or("").trim();
        use subtle::ConstantTimeEq as _;
        if given.len() != expected.len() || !bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
        {
            return Err(AppError::Unauthenticated);
        }
        let text = std::str::from_utf8(body)
            .map_err(|_| AppError::invalid("body", "is not UTF-8 text"))?;
        let lines = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(o)) => serde_json::Value::Object(o).to_string(),
            Ok(serde_json::Value::Array(items)) => items
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
            _ => text.to_owned(),
        };
        let actor = Actor {
            brand,
            role: Role::Hq,
            user: None,
            store: None,
        };
        self.import_sales(&actor, kind, &Lines::Text(lines)).await
    }
}

impl Salon {
    /// A broadcast or prepared message from an associate reached these clients: a `broadcast`
    /// touch each (logged, never failing the delivery's bookkeeping). Touches are held once,
    /// so a delivery confirmed twice is one touch.
    pub(crate) async fn broadcast_touches(
        &self,
        brand: BrandId,
        associate: UserId,
        clients: &[ClientId],
        at: Millis,
    ) {
        let Ok(Some(user)) = self.repo.user(brand, associate).await else {
            return;
        };
        let mut touches = Vec::with_capacity(clients.len());
        for id in clients {
            if let Ok(Some(c)) = self.repo.client(brand, *id).await {
                touches.push(sales::Touch {
                    at,
                    associate: user.email.as_str().to_owned(),
                    client: client_ref(&c),
                    kind: sales::TouchKind::Broadcast,
                });
            }
        }
        if let Err(e) = self.repo.put_touches(brand, &touches, "broadcast").await {
            tracing::warn!(error = %e, "broadcast touches could not be recorded");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(i: usize, l: &str) -> Result<u64, LineError> {
        l.parse()
            .map_err(|_| LineError::new(i, "number", format!("{l:?} is not a number")))
    }

    /// A text large enough to be checked in two halves: every line kept once, in order, with
    /// its number in the file (blank lines and a byte-order mark counted as lines).
    #[test]
    fn lines_checked_in_two_halves_keep_their_order_and_numbers() {
        let mut text = String::from("\u{feff}0\n");
        for i in 1..200_000u64 {
            if i % 1_000 == 0 {
                text.push_str("   \n");
            } else {
                text.push_str(&format!("{i}\r\n"));
            }
        }
        assert!(text.len() > 1 << 20, "two halves");
        let got = check_lines(text.as_bytes(), &numbers).expect("all good");
        assert_eq!(got.len(), 200_000 - 199);
        assert!(got.iter().all(|(line, n)| *line as u64 == n + 1));
        assert!(got.windows(2).all(|w| w[0].0 < w[1].0));
    }

    /// The first bad line is the one named, wherever it falls.
    #[test]
    fn the_first_bad_line_is_named_in_either_half() {
        let lines: Vec<String> = (0..200_000).map(|i| i.to_string()).collect();
        for bad in [3usize, 150_001, 199_999] {
            let mut with_bad = lines.clone();
            with_bad[bad - 1] = "x".into();
            if bad < 150_000 {
                with_bad[160_000] = "y".into();
            }
            let text = with_bad.join("\n");
            let err = check_lines(text.as_bytes(), &numbers).expect_err("bad line");
            let AppError::Invalid(fields) = err else {
                panic!("not invalid: {err:?}")
            };
            assert_eq!(fields[0].field, format!("line {bad}: number"), "{fields:?}");
        }
        let mut text = lines.join("\n").into_bytes();
        let at = text.len() - 20;
        let line = text[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        text[at] = 0xff;
        let err = check_lines(&text, &numbers).expect_err("not UTF-8");
        let AppError::Invalid(fields) = err else {
            panic!("not invalid")
        };
        assert_eq!(fields[0].field, format!("line {line}"), "{fields:?}");
    }
}
