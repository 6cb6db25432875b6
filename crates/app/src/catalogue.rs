//! The catalogue: products and stock per store, imported from CSV or JSON Lines (every line
//! checked before anything is stored, then one transaction), searched in Chinese and English
//! through the archive's analysis (an in-memory index per brand, rebuilt whenever the
//! catalogue's generation moves, so every Salon process and the CLI stay in step), and shared
//! with a client as a tracked link.
//!
//! Who sees what: HQ manages the catalogue and sees every product and store; associates and
//! store managers find active products and their own store's stock; store managers set their
//! store's stock.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;

use domain::ports::ProductFilter;
use domain::*;

use crate::{Actor, AppError, AppResult, Salon};

/// Most problems one import reports (the rest are counted).
const MAX_ERRORS: usize = 20;
/// Products a search or a page lists at most.
pub const LIST_MAX: u32 = 200;

/// A file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    /// One JSON object per line (a JSON array of objects is read too).
    JsonLines,
}

impl Format {
    /// By a file's name: `.csv`, or `.jsonl`, `.ndjson`, `.json`.
    pub fn of_name(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            Some(Format::Csv)
        } else if [".jsonl", ".ndjson", ".json"]
            .iter()
            .any(|e| lower.ends_with(e))
        {
            Some(Format::JsonLines)
        } else {
            None
        }
    }
}

/// The columns a product CSV may have besides `price_XXX` (one per currency, in major units:
/// `price_CNY`, `price_EUR`). `sku` is required; lists are separated by `|`.
pub const PRODUCT_COLUMNS: &[&str] = &[
    "sku", "name_zh", "name_en", "category", "material", "colours", "sizes", "images", "active",
    "url",
];

/// The columns of a stock CSV, all required.
pub const STOCK_COLUMNS: &[&str] = &["sku", "store", "quantity"];

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CatalogueImport {
    /// Products or stock lines read.
    pub lines: u64,
    /// New products (stock: levels that changed).
    pub added: u64,
    /// Products that changed.
    pub changed: u64,
}

/// A search as a person or an API client asks it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ProductSearch {
    #[serde(default)]
    pub q: String,
    pub category: Option<String>,
    /// HQ only: inactive products too (`false`: only those). Others see active products.
    pub active: Option<bool>,
    pub limit: Option<u32>,
}

/// A product found, with the stock the actor may see (HQ: every store; others: their store).
#[derive(Debug, Clone, Serialize)]
pub struct ProductRow {
    #[serde(flatten)]
    pub product: Product,
    pub stock: i64,
}

/// A product with its stock per store, as the actor may see it.
#[derive(Debug, Clone, Serialize)]
pub struct ProductDetail {
    #[serde(flatten)]
    pub product: Product,
    pub stock: Vec<StockLevel>,
}

/// Each brand's search index and the catalogue generation it was built at.
#[derive(Default)]
pub struct CatalogueIndexes {
    indexes: tokio::sync::Mutex<HashMap<BrandId, (i64, Arc<archive::ProductIndex>)>>,
    cutter: std::sync::OnceLock<archive::Cutter>,
}

fn line_error(line: u64, e: &FieldError) -> FieldError {
    FieldError::new(format!("line {line}, {}", e.field), e.message.clone())
}

/// Collects a file's problems, keeping the first few.
#[derive(Default)]
struct Problems {
    kept: Vec<FieldError>,
    more: usize,
}

impl Problems {
    fn push(&mut self, e: FieldError) {
        if self.kept.len() < MAX_ERRORS {
            self.kept.push(e);
        } else {
            self.more += 1;
        }
    }

    fn finish(mut self) -> AppResult<()> {
        if self.kept.is_empty() {
            return Ok(());
        }
        if self.more > 0 {
            self.kept.push(FieldError::new(
                "file",
                format!("and {} more problems; nothing was stored", self.more),
            ));
        } else {
            self.kept
                .push(FieldError::new("file", "nothing was stored"));
        }
        Err(AppError::Invalid(self.kept))
    }
}

/// The text of a file without a byte-order mark.
fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// `(line, record)` of a JSON Lines file (or a JSON array); blank lines skipped.
fn json_records<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    problems: &mut Problems,
) -> Vec<(u64, T)> {
    let bytes = strip_bom(bytes);
    let trimmed = bytes.trim_ascii_start();
    if trimmed.starts_with(b"[") {
        return match serde_json::from_slice::<Vec<T>>(trimmed) {
            Ok(v) => v
                .into_iter()
                .enumerate()
                .map(|(i, r)| (i as u64 + 1, r))
                .collect(),
            Err(e) => {
                problems.push(FieldError::new(
                    format!("line {}", e.line()),
                    format!("not a JSON array of objects: {e}"),
                ));
                Vec::new()
            }
        };
    }
    let mut out = Vec::new();
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = i as u64 + 1;
        let Ok(text) = std::str::from_utf8(raw) else {
            problems.push(FieldError::new(format!("line {line}"), "is not UTF-8 text"));
            continue;
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<T>(text) {
            Ok(r) => out.push((line, r)),
            Err(e) => problems.push(FieldError::new(
                format!("line {line}"),
                format!("not a JSON object of the expected fields: {e}"),
            )),
        }
    }
    out
}

/// A CSV's header (checked against the allowed columns) and its rows as `(line, cells)`.
fn csv_records(
    bytes: &[u8],
    allowed: &dyn Fn(&str) -> bool,
    required: &[&str],
    problems: &mut Problems,
) -> (Vec<String>, Vec<(u64, Vec<String>)>) {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(strip_bom(bytes));
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_owned).collect(),
        Err(e) => {
            problems.push(FieldError::new(
                "line 1",
                format!("the header could not be read: {e}"),
            ));
            return (Vec::new(), Vec::new());
        }
    };
    let mut seen = HashSet::new();
    for h in &headers {
        if !allowed(h) {
            problems.push(FieldError::new(
                format!("line 1, {h}"),
                "is not a column of this file",
            ));
        }
        if !seen.insert(h.as_str()) {
            problems.push(FieldError::new(format!("line 1, {h}"), "appears twice"));
        }
    }
    for r in required {
        if !headers.iter().any(|h| h == r) {
            problems.push(FieldError::new(
                format!("line 1, {r}"),
                "the column is missing",
            ));
        }
    }
    let mut rows = Vec::new();
    for result in reader.byte_records() {
        match result {
            Ok(rec) => {
                let line = rec.position().map_or(0, |p| p.line());
                let mut cells = Vec::with_capacity(rec.len());
                let mut ok = true;
                for (i, cell) in rec.iter().enumerate() {
                    match std::str::from_utf8(cell) {
                        Ok(s) => cells.push(s.to_owned()),
                        Err(_) => {
                            let col = headers.get(i).map_or("?", String::as_str);
                            problems.push(FieldError::new(
                                format!("line {line}, {col}"),
                                "is not UTF-8 text",
                            ));
                            ok = false;
                        }
                    }
                }
                if ok && cells.iter().any(|c| !c.is_empty()) {
                    rows.push((line, cells));
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let message = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("has {len} cells where the header has {expected_len}"),
                    _ => e.to_string(),
                };
                problems.push(FieldError::new(format!("line {line}"), message));
            }
        }
    }
    (headers, rows)
}

fn split_list(s: &str) -> Vec<String> {
    s.split('|')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

fn yes_no(field: &str, s: &str) -> Result<Option<bool>, FieldError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "true" | "yes" | "1" | "y" => Ok(Some(true)),
        "false" | "no" | "0" | "n" => Ok(Some(false)),
        _ => Err(FieldError::new(field, "must be true or false")),
    }
}

fn product_of_cells(headers: &[String], cells: &[String]) -> Result<ProductInput, FieldError> {
    let mut p = ProductInput::default();
    for (h, v) in headers.iter().zip(cells) {
        match h.as_str() {
            "sku" => p.sku = v.clone(),
            "name_zh" => p.name_zh = v.clone(),
            "name_en" => p.name_en = v.clone(),
            "category" => p.category = v.clone(),
            "material" => p.material = v.clone(),
            "colours" => p.colours = split_list(v),
            "sizes" => p.sizes = split_list(v),
            "images" => {
                p.images = split_list(v)
                    .iter()
                    .map(|id| {
                        id.parse::<i64>().map_err(|_| {
                            FieldError::new("images", format!("{id:?} is not an asset id"))
                        })
                    })
                    .collect::<Result<_, _>>()?;
            }
            "active" => p.active = yes_no("active", v)?,
            "url" => p.url = Some(v.clone()),
            other => {
                if let Some(cur) = other.strip_prefix("price_")
                    && !v.trim().is_empty()
                {
                    p.prices.insert(cur.to_owned(), PriceInput::Text(v.clone()));
                }
            }
        }
    }
    Ok(p)
}

/// Parses a product file whole: the products, or every problem (up to 20) by line and field.
pub fn parse_products(format: Format, bytes: &[u8], at: Millis) -> AppResult<Vec<Product>> {
    let mut problems = Problems::default();
    let inputs: Vec<(u64, Result<ProductInput, FieldError>)> = match format {
        Format::JsonLines => json_records::<ProductInput>(bytes, &mut problems)
            .into_iter()
            .map(|(l, p)| (l, Ok(p)))
            .collect(),
        Format::Csv => {
            let allowed = |h: &str| {
                PRODUCT_COLUMNS.contains(&h)
                    || h.strip_prefix("price_")
                        .is_some_and(|c| catalogue::currency_code(h, c).is_ok())
            };
            let (headers, rows) = csv_records(bytes, &allowed, &["sku"], &mut problems);
            rows.into_iter()
                .map(|(l, cells)| (l, product_of_cells(&headers, &cells)))
                .collect()
        }
    };
    let mut out = Vec::with_capacity(inputs.len());
    let mut lines_of: HashMap<String, u64> = HashMap::new();
    for (line, input) in inputs {
        match input.and_then(|i| i.parse(at)) {
            Ok(p) => {
                if let Some(first) = lines_of.insert(p.sku.clone(), line) {
                    problems.push(FieldError::new(
                        format!("line {line}, sku"),
                        format!("{:?} is on line {first} already", p.sku),
                    ));
                }
                out.push(p);
            }
            Err(e) => problems.push(line_error(line, &e)),
        }
    }
    problems.finish()?;
    if out.is_empty() {
        return Err(AppError::invalid("file", "holds no product"));
    }
    Ok(out)
}

/// Parses a stock file whole: `(line, level)`, or every problem by line and field.
pub fn parse_stock(format: Format, bytes: &[u8], at: Millis) -> AppResult<Vec<(u64, StockLevel)>> {
    let mut problems = Problems::default();
    let inputs: Vec<(u64, Result<StockInput, FieldError>)> = match format {
        Format::JsonLines => json_records::<StockInput>(bytes, &mut problems)
            .into_iter()
            .map(|(l, s)| (l, Ok(s)))
            .collect(),
        Format::Csv => {
            let (headers, rows) = csv_records(
                bytes,
                &|h| STOCK_COLUMNS.contains(&h),
                STOCK_COLUMNS,
                &mut problems,
            );
            rows.into_iter()
                .map(|(line, cells)| {
                    let mut s = StockInput::default();
                    for (h, v) in headers.iter().zip(&cells) {
                        match h.as_str() {
                            "sku" => s.sku = v.clone(),
                            "store" => s.store = v.clone(),
                            "quantity" => match catalogue::quantity("quantity", v) {
                                Ok(q) => s.quantity = Some(serde_json::Number::from(q)),
                                Err(e) => return (line, Err(e)),
                            },
                            _ => {}
                        }
                    }
                    (line, Ok(s))
                })
                .collect()
        }
    };
    let mut out = Vec::with_capacity(inputs.len());
    for (line, input) in inputs {
        match input.and_then(|i| i.parse(at)) {
            Ok(l) => out.push((line, l)),
            Err(e) => problems.push(line_error(line, &e)),
        }
    }
    problems.finish()?;
    if out.is_empty() {
        return Err(AppError::invalid("file", "holds no stock line"));
    }
    Ok(out)
}

impl Salon {
    fn cutter(&self) -> archive::Cutter {
        match &self.archive {
            Some(a) => a.cutter().clone(),
            None => self
                .catalogue
                .cutter
                .get_or_init(archive::Cutter::new)
                .clone(),
        }
    }

    /// The brand's search index, rebuilt from the store when the catalogue changed since.
    async fn product_index(&self, brand: BrandId) -> AppResult<Arc<archive::ProductIndex>> {
        let generation = self.repo.catalogue_generation(brand).await?;
        let mut indexes = self.catalogue.indexes.lock().await;
        if let Some((g, idx)) = indexes.get(&brand)
            && *g == generation
        {
            return Ok(idx.clone());
        }
        let mut docs = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .repo
                .products(
                    brand,
                    &ProductFilter {
                        after: after.clone(),
                        limit: 1000,
                        ..ProductFilter::default()
                    },
                )
                .await?;
            let n = page.len();
            after = page.last().map(|p| p.sku.clone());
            docs.extend(page.into_iter().map(|p| {
                archive::ProductDoc {
                    sku: p.sku,
                    texts: [p.name_zh, p.name_en, p.category, p.material]
                        .into_iter()
                        .chain(p.colours)
                        .filter(|t| !t.is_empty())
                        .collect(),
                }
            }));
            if n < 1000 {
                break;
            }
        }
        let cutter = self.cutter();
        let idx = tokio::task::spawn_blocking(move || archive::ProductIndex::build(cutter, &docs))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let idx = Arc::new(idx);
        indexes.insert(brand, (generation, idx.clone()));
        Ok(idx)
    }

    /// The store whose stock the actor sees: `None` for HQ (every store), `Some("")` for
    /// someone without a store (none).
    async fn actor_store_code(&self, actor: &Actor) -> AppResult<Option<String>> {
        if actor.role == Role::Hq {
            return Ok(None);
        }
        let Some(store) = actor.store else {
            // Someone without a store sees no stock.
            return Ok(Some(String::new()));
        };
        Ok(Some(
            self.repo
                .store(actor.brand.id, store)
                .await?
                .map(|s| s.code.to_string())
                .unwrap_or_default(),
        ))
    }

    /// Products matching a search (best first), or the catalogue by SKU when `q` is empty.
    pub async fn search_products(
        &self,
        actor: &Actor,
        search: &ProductSearch,
    ) -> AppResult<Vec<ProductRow>> {
        actor.require(Action::ReadCatalogue)?;
        let brand = actor.brand.id;
        let limit = search.limit.unwrap_or(50).clamp(1, LIST_MAX);
        let active = if actor.can(Action::ManageCatalogue) {
            search.active
        } else {
            Some(true)
        };
        let category = search
            .category
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        let q = search.q.trim();
        let products = if q.is_empty() {
            self.repo
                .products(
                    brand,
                    &ProductFilter {
                        category,
                        active,
                        limit,
                        ..ProductFilter::default()
                    },
                )
                .await?
        } else {
            if q.chars().count() > 200 {
                return Err(AppError::invalid("q", "must be at most 200 characters"));
            }
            let index = self.product_index(brand).await?;
            let text = q.to_owned();
            let skus = tokio::task::spawn_blocking(move || index.search(&text, 1000))
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?
                .map_err(|e| AppError::Internal(e.to_string()))?;
            let rank: HashMap<&str, usize> = skus
                .iter()
                .enumerate()
                .map(|(i, s)| (s.as_str(), i))
                .collect();
            let mut found = self
                .repo
                .products(
                    brand,
                    &ProductFilter {
                        skus: Some(skus.clone()),
                        category,
                        active,
                        limit: 1000,
                        ..ProductFilter::default()
                    },
                )
                .await?;
            found.sort_by_key(|p| rank.get(p.sku.as_str()).copied().unwrap_or(usize::MAX));
            found.truncate(limit as usize);
            found
        };
        let store = self.actor_store_code(actor).await?;
        let skus: Vec<String> = products.iter().map(|p| p.sku.clone()).collect();
        let mut totals: HashMap<String, i64> = HashMap::new();
        if store.as_deref() != Some("") {
            for l in self
                .repo
                .stock(brand, Some(&skus), store.as_deref())
                .await?
            {
                *totals.entry(l.sku).or_default() += l.quantity;
            }
        }
        Ok(products
            .into_iter()
            .map(|p| ProductRow {
                stock: totals.get(&p.sku).copied().unwrap_or(0),
                product: p,
            })
            .collect())
    }

    /// The brand's product categories (for filters).
    pub async fn product_categories(&self, actor: &Actor) -> AppResult<Vec<String>> {
        actor.require(Action::ReadCatalogue)?;
        Ok(self.repo.product_categories(actor.brand.id).await?)
    }

    /// A product with its stock per store, as the actor may see them.
    pub async fn product_detail(&self, actor: &Actor, sku: &str) -> AppResult<ProductDetail> {
        actor.require(Action::ReadCatalogue)?;
        let product = self
            .repo
            .product(actor.brand.id, sku)
            .await?
            .filter(|p| p.active || actor.can(Action::ManageCatalogue))
            .ok_or(AppError::NotFound("product"))?;
        let store = self.actor_store_code(actor).await?;
        let stock = if store.as_deref() == Some("") {
            Vec::new()
        } else {
            self.repo
                .stock(
                    actor.brand.id,
                    Some(std::slice::from_ref(&product.sku)),
                    store.as_deref(),
                )
                .await?
        };
        Ok(ProductDetail { product, stock })
    }

    /// Asset ids among these that are not the brand's.
    async fn unknown_assets(&self, brand: BrandId, ids: &HashSet<i64>) -> AppResult<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let held: HashSet<i64> = self
            .repo
            .assets(brand)
            .await?
            .iter()
            .map(|a| a.id)
            .collect();
        let mut missing: Vec<i64> = ids.difference(&held).copied().collect();
        missing.sort_unstable();
        Ok(missing)
    }

    /// Creates or replaces one product (`sku` from the path; the body's, if given, must agree).
    /// Returns it and whether it was new.
    pub async fn put_product(
        &self,
        actor: &Actor,
        sku: &str,
        input: &ProductInput,
    ) -> AppResult<(Product, bool)> {
        actor.require(Action::ManageCatalogue)?;
        let mut input = input.clone();
        if input.sku.trim().is_empty() {
            input.sku = sku.to_owned();
        } else if input.sku.trim() != sku.trim() {
            return Err(AppError::invalid("sku", "differs from the address's SKU"));
        }
        let product = input.parse(now_millis())?;
        let missing = self
            .unknown_assets(actor.brand.id, &product.images.iter().copied().collect())
            .await?;
        if let Some(id) = missing.first() {
            return Err(AppError::invalid(
                "images",
                format!("{id} is not an asset of the brand's pool"),
            ));
        }
        let (added, _) = self
            .repo
            .put_products(actor.brand.id, std::slice::from_ref(&product))
            .await?;
        let held = self
            .repo
            .product(actor.brand.id, &product.sku)
            .await?
            .ok_or(AppError::NotFound("product"))?;
        Ok((held, added > 0))
    }

    /// Turns a product on or off (the catalogue page's toggle).
    pub async fn set_product_active(
        &self,
        actor: &Actor,
        sku: &str,
        active: bool,
    ) -> AppResult<Product> {
        actor.require(Action::ManageCatalogue)?;
        let mut p = self
            .repo
            .product(actor.brand.id, sku)
            .await?
            .ok_or(AppError::NotFound("product"))?;
        if p.active != active {
            p.active = active;
            p.updated_at = now_millis();
            self.repo
                .put_products(actor.brand.id, std::slice::from_ref(&p))
                .await?;
        }
        Ok(p)
    }

    /// Imports a product file: every line checked first (a bad line names its line and field
    /// and nothing of the file is stored), then stored in one transaction. The same file
    /// again changes nothing.
    pub async fn import_products(
        &self,
        actor: &Actor,
        format: Format,
        bytes: &[u8],
    ) -> AppResult<CatalogueImport> {
        actor.require(Action::ManageCatalogue)?;
        let products = parse_products(format, bytes, now_millis())?;
        let ids: HashSet<i64> = products
            .iter()
            .flat_map(|p| p.images.iter().copied())
            .collect();
        let missing = self.unknown_assets(actor.brand.id, &ids).await?;
        if !missing.is_empty() {
            let mut problems = Problems::default();
            for p in &products {
                if let Some(id) = p.images.iter().find(|i| missing.contains(i)) {
                    problems.push(FieldError::new(
                        format!("sku {}, images", p.sku),
                        format!("{id} is not an asset of the brand's pool"),
                    ));
                }
            }
            problems.finish()?;
        }
        let (added, changed) = self.repo.put_products(actor.brand.id, &products).await?;
        tracing::info!(brand = %actor.brand.slug, lines = products.len(), added, changed, "product import");
        Ok(CatalogueImport {
            lines: products.len() as u64,
            added,
            changed,
        })
    }

    /// Imports stock levels (HQ: any store; a store manager: their store only). Every line's
    /// SKU and store must exist; a bad line names its line and nothing is stored.
    pub async fn import_stock(
        &self,
        actor: &Actor,
        format: Format,
        bytes: &[u8],
    ) -> AppResult<CatalogueImport> {
        actor.require(Action::SetStock)?;
        let levels = parse_stock(format, bytes, now_millis())?;
        self.set_stock(actor, levels).await
    }

    /// Sets stock levels given as `(line, level)`: every SKU and store checked first (a store
    /// manager may set their store's only), then stored in one transaction.
    pub async fn set_stock(
        &self,
        actor: &Actor,
        levels: Vec<(u64, StockLevel)>,
    ) -> AppResult<CatalogueImport> {
        actor.require(Action::SetStock)?;
        let brand = actor.brand.id;
        let stores: HashMap<String, StoreId> = self
            .repo
            .list_stores(brand)
            .await?
            .into_iter()
            .map(|s| (s.code.to_string(), s.id))
            .collect();
        let mut skus: Vec<String> = levels.iter().map(|(_, l)| l.sku.clone()).collect();
        skus.sort();
        skus.dedup();
        let known: HashSet<String> = self
            .repo
            .known_skus(brand, &skus)
            .await?
            .into_iter()
            .collect();
        let own = if actor.role == Role::Hq {
            None
        } else {
            Some(actor.store)
        };
        let mut problems = Problems::default();
        for (line, l) in &levels {
            match stores.get(&l.store) {
                None => problems.push(FieldError::new(
                    format!("line {line}, store"),
                    format!("{:?} is not a store of the brand", l.store),
                )),
                Some(id) => {
                    if let Some(own) = own
                        && own != Some(*id)
                    {
                        problems.push(FieldError::new(
                            format!("line {line}, store"),
                            format!("{:?} is not your store", l.store),
                        ));
                    }
                }
            }
            if !known.contains(&l.sku) {
                problems.push(FieldError::new(
                    format!("line {line}, sku"),
                    format!("{:?} is not in the catalogue", l.sku),
                ));
            }
        }
        problems.finish()?;
        let levels: Vec<StockLevel> = levels.into_iter().map(|(_, l)| l).collect();
        let changed = self.repo.put_stock(brand, &levels).await?;
        tracing::info!(brand = %actor.brand.slug, lines = levels.len(), changed, "stock import");
        Ok(CatalogueImport {
            lines: levels.len() as u64,
            added: changed,
            changed: 0,
        })
    }

    /// An associate shares a product with a client: a tracked link (kind `product`) to the
    /// product's page on the e-shop, or to its public page in Salon when it has none, titled
    /// with the product's name in the client's language. Opens count as today's share links do.
    pub async fn share_product(
        &self,
        actor: &Actor,
        client: ClientId,
        sku: &str,
    ) -> AppResult<(ShareLink, Product)> {
        actor.require(Action::ShareLinks)?;
        actor.require(Action::ReadCatalogue)?;
        let Some(user) = actor.user_id() else {
            return Err(AppError::Forbidden("a link is shared by a person".into()));
        };
        let client = self.client(actor, client).await?;
        let product = self
            .repo
            .product(actor.brand.id, sku)
            .await?
            .filter(|p| p.active)
            .ok_or(AppError::NotFound("product"))?;
        let target = match &product.url {
            Some(u) => u.clone(),
            None => product_page_path(actor.brand.slug.as_str(), &product.sku),
        };
        let title = product
            .name_in(client.language.as_deref().unwrap_or("en"))
            .chars()
            .take(200)
            .collect();
        let link = self
            .store_share_link(
                actor.brand.id,
                user,
                Some(client.id),
                "product".to_owned(),
                target,
                title,
            )
            .await?;
        Ok((link, product))
    }

    /// A product as anyone may see it (the public page a shared link without an e-shop page
    /// opens): active products only.
    pub async fn public_product(&self, brand_slug: &str, sku: &str) -> AppResult<(Brand, Product)> {
        let brand = self
            .repo
            .brand_by_slug(brand_slug)
            .await?
            .ok_or(AppError::NotFound("product"))?;
        let product = self
            .repo
            .product(brand.id, sku)
            .await?
            .filter(|p| p.active)
            .ok_or(AppError::NotFound("product"))?;
        Ok((brand, product))
    }
}

/// The public page of a product in Salon: `/p/{brand}/{sku}` (the SKU percent-encoded).
pub fn product_page_path(brand: &str, sku: &str) -> String {
    let mut out = format!("/p/{brand}/");
    for b in sku.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(e: AppError) -> Vec<String> {
        match e {
            AppError::Invalid(v) => v.into_iter().map(|f| f.to_string()).collect(),
            other => panic!("expected invalid input, got {other}"),
        }
    }

    #[test]
    fn a_product_csv_with_prices_lists_and_a_bom() {
        let csv = "\u{feff}sku,name_zh,name_en,category,colours,sizes,price_CNY,price_EUR,active,url\n\
                   LM-BAG-001,经典手袋,Classic Bag,Bags,Black|Rouge,,32000,4100.50,yes,https://shop.example/b\n\
                   \n\
                   LM-SCA-001,真丝围巾,\"Silk Scarf, printed\",Scarves,,S | M,4200.00,,false,\n";
        let p = parse_products(Format::Csv, csv.as_bytes(), 1).expect("products");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].colours, vec!["Black", "Rouge"]);
        assert_eq!(p[0].price("CNY"), Some(3_200_000));
        assert_eq!(p[0].price("EUR"), Some(410_050));
        assert_eq!(p[1].name_en, "Silk Scarf, printed");
        assert_eq!(p[1].sizes, vec!["S", "M"]);
        assert_eq!(p[1].price("EUR"), None);
        assert!(!p[1].active);
        assert_eq!(p[1].url, None);
    }

    #[test]
    fn hostile_product_files_are_refused_naming_line_and_field() {
        let check = |format: Format, text: &[u8], expect: &str| {
            let e = parse_products(format, text, 1).expect_err("refused");
            let all = fields(e).join("; ");
            assert!(all.contains(expect), "{expect:?} not in {all:?}");
        };
        check(
            Format::Csv,
            b"sku,name_en,price_CNY\nA,Bag,1.234\n",
            "line 2, prices.CNY",
        );
        check(
            Format::Csv,
            b"sku,name_en,price_CNY\nA,Bag,99999999999999999999999\n",
            "too large",
        );
        check(
            Format::Csv,
            b"sku,name_en,colour\nA,Bag,Red\n",
            "line 1, colour: is not a column",
        );
        check(
            Format::Csv,
            b"name_en\nBag\n",
            "line 1, sku: the column is missing",
        );
        check(
            Format::Csv,
            b"sku,name_en\nA,Bag,extra\n",
            "line 2: has 3 cells",
        );
        check(
            Format::Csv,
            b"sku,name_en\nA,\xff\xfe\n",
            "line 2, name_en: is not UTF-8",
        );
        check(Format::Csv, b"sku,name_en\n,Bag\n", "line 2, sku");
        check(
            Format::Csv,
            b"sku,name_en\nA,Bag\nA,Bag again\n",
            "line 3, sku",
        );
        check(
            Format::Csv,
            b"sku,name_en,active\nA,Bag,maybe\n",
            "line 2, active",
        );
        check(
            Format::Csv,
            b"sku,name_en,images\nA,Bag,12|x\n",
            "line 2, images",
        );
        check(Format::Csv, b"", "sku: the column is missing");
        check(Format::Csv, b"sku,name_en\n", "holds no product");
        check(
            Format::JsonLines,
            b"{\"sku\":\"A\",\"name_en\":\"Bag\"}\n\n{\"sku\":\"B\"}\n",
            "line 3, name_en",
        );
        check(
            Format::JsonLines,
            b"{\"sku\":\"A\",\"name_en\":\"Bag\",\"colour\":\"x\"}\n",
            "line 1: not a JSON object",
        );
        check(
            Format::JsonLines,
            b"{\"sku\":\"A\",\"name_en\":\"Bag\"}\n\xff\n",
            "line 2: is not UTF-8",
        );
        check(
            Format::JsonLines,
            b"{\"sku\":\"A\",\"name_en\":\"Bag\",\"prices\":{\"CNY\":-5}}\n",
            "line 1, prices.CNY",
        );
        check(
            Format::JsonLines,
            b"{\"sku\":\"A\",\"name_en\":\"Bag\",\"prices\":{\"CNY\":1e30}}\n",
            "line 1, prices.CNY",
        );
        check(Format::JsonLines, b"not json\n", "line 1");
        // Many bad lines: the first 20 and a count.
        let many: String = (0..50).map(|i| format!("{{\"sku\":\"S{i}\"}}\n")).collect();
        let e = parse_products(Format::JsonLines, many.as_bytes(), 1).expect_err("refused");
        let all = fields(e);
        assert_eq!(all.len(), 21);
        assert!(all[20].contains("30 more"), "{all:?}");
    }

    #[test]
    fn json_lines_arrays_and_a_bom_are_read() {
        let lines = "\u{feff}{\"sku\":\"A\",\"name_zh\":\"手袋\",\"prices\":{\"CNY\":\"100\",\"EUR\":12.5}}\r\n\r\n{\"sku\":\"B\",\"name_en\":\"Belt\",\"active\":false}\n";
        let p = parse_products(Format::JsonLines, lines.as_bytes(), 1).expect("lines");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].price("EUR"), Some(1_250));
        let array = r#"[{"sku":"A","name_en":"Bag"},{"sku":"B","name_en":"Belt"}]"#;
        assert_eq!(
            parse_products(Format::JsonLines, array.as_bytes(), 1)
                .expect("array")
                .len(),
            2
        );
    }

    #[test]
    fn stock_files_parse_and_refuse_bad_lines() {
        let ok = parse_stock(Format::Csv, b"sku,store,quantity\nA,sh01,3\nB,PA01,0\n", 1)
            .expect("stock");
        assert_eq!(ok.len(), 2);
        assert_eq!(
            (ok[0].0, ok[0].1.store.as_str(), ok[0].1.quantity),
            (2, "SH01", 3)
        );
        let j = parse_stock(
            Format::JsonLines,
            b"{\"sku\":\"A\",\"store\":\"SH01\",\"quantity\":2}\n",
            1,
        )
        .expect("json");
        assert_eq!(j[0].1.quantity, 2);
        for (text, expect) in [
            (&b"sku,store,quantity\nA,SH01,-1\n"[..], "line 2, quantity"),
            (b"sku,store,quantity\nA,SH01,1.5\n", "line 2, quantity"),
            (
                b"sku,store\nA,SH01\n",
                "line 1, quantity: the column is missing",
            ),
            (b"sku,store,quantity\nA,S H,1\n", "line 2, store"),
            (b"sku,store,quantity\n,SH01,1\n", "line 2, sku"),
            (
                b"sku,store,quantity\nA,SH01,99999999999999999999\n",
                "line 2, quantity",
            ),
        ] {
            let all = fields(parse_stock(Format::Csv, text, 1).expect_err("refused")).join("; ");
            assert!(all.contains(expect), "{expect:?} not in {all:?}");
        }
        let all = fields(
            parse_stock(
                Format::JsonLines,
                b"{\"sku\":\"A\",\"store\":\"SH01\"}\n",
                1,
            )
            .expect_err("refused"),
        )
        .join("; ");
        assert!(all.contains("line 1, quantity"), "{all}");
    }

    #[test]
    fn formats_by_name_and_product_pages_by_path() {
        assert_eq!(Format::of_name("a.CSV"), Some(Format::Csv));
        assert_eq!(Format::of_name("a.jsonl"), Some(Format::JsonLines));
        assert_eq!(Format::of_name("a.json"), Some(Format::JsonLines));
        assert_eq!(Format::of_name("a.xlsx"), None);
        assert_eq!(
            product_page_path("demo", "LM-BAG 1/é"),
            "/p/demo/LM-BAG%201%2F%C3%A9"
        );
    }
}
