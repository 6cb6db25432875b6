//! The catalogue ([`domain::ports::CatalogueStore`]) in the SQL both backends accept. Lists
//! (colours, sizes, images, prices) are JSON text; what a row means is decided here, outside the
//! macro, which only binds the backend's types.

use domain::ports::RepoResult;
use domain::{FieldError, Price, Product, RepoError};

/// Products per statement: 13 parameters each, well under SQLite's bound.
pub(crate) const CATALOGUE_CHUNK: usize = 500;

pub(crate) const PRODUCT_COLUMNS: &str = "sku, name_zh, name_en, category, material, colours, sizes, prices, images, active, url, updated_at";

pub(crate) const UPSERT_PRODUCTS: &str = "INSERT INTO catalogue_products (brand_id, sku, name_zh, name_en, category, material, \
     colours, sizes, prices, images, active, url, updated_at) ";

pub(crate) const ON_PRODUCT_CONFLICT: &str = " ON CONFLICT (brand_id, sku) DO UPDATE SET name_zh = excluded.name_zh, \
     name_en = excluded.name_en, category = excluded.category, material = excluded.material, \
     colours = excluded.colours, sizes = excluded.sizes, prices = excluded.prices, images = excluded.images, \
     active = excluded.active, url = excluded.url, updated_at = excluded.updated_at";

pub(crate) const BUMP: &str = "INSERT INTO catalogue_generations (brand_id, generation) VALUES ($1, 1) \
     ON CONFLICT (brand_id) DO UPDATE SET generation = catalogue_generations.generation + 1";

/// A product's lists as stored.
pub(crate) struct Encoded {
    pub colours: String,
    pub sizes: String,
    pub prices: String,
    pub images: String,
}

pub(crate) fn encode(p: &Product) -> RepoResult<Encoded> {
    let prices: Vec<(&str, i64)> = p
        .prices
        .iter()
        .map(|x| (x.currency.as_str(), x.minor))
        .collect();
    Ok(Encoded {
        colours: serde_json::to_string(&p.colours).map_err(crate::corrupt)?,
        sizes: serde_json::to_string(&p.sizes).map_err(crate::corrupt)?,
        prices: serde_json::to_string(&prices).map_err(crate::corrupt)?,
        images: serde_json::to_string(&p.images).map_err(crate::corrupt)?,
    })
}

/// The columns of a product row, read, back into a product.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decode(
    sku: String,
    name_zh: String,
    name_en: String,
    category: String,
    material: String,
    colours: &str,
    sizes: &str,
    prices: &str,
    images: &str,
    active: bool,
    url: Option<String>,
    updated_at: i64,
) -> RepoResult<Product> {
    let prices: Vec<(String, i64)> = serde_json::from_str(prices).map_err(crate::corrupt)?;
    Ok(Product {
        sku,
        name_zh,
        name_en,
        category,
        material,
        colours: serde_json::from_str(colours).map_err(crate::corrupt)?,
        sizes: serde_json::from_str(sizes).map_err(crate::corrupt)?,
        prices: prices
            .into_iter()
            .map(|(currency, minor)| Price { currency, minor })
            .collect(),
        images: serde_json::from_str(images).map_err(crate::corrupt)?,
        active,
        url,
        updated_at,
    })
}

pub(crate) fn unknown_sku(sku: &str) -> RepoError {
    RepoError::Invalid(FieldError::new(
        "sku",
        format!("{sku:?} is not in the catalogue"),
    ))
}

pub(crate) fn unknown_store(code: &str) -> RepoError {
    RepoError::Invalid(FieldError::new(
        "store",
        format!("{code:?} is not a store of the brand"),
    ))
}

macro_rules! impl_catalogue_store {
    ($Repo:ident) => {
        impl $Repo {
            fn product_row(r: &DbRow) -> RepoResult<Product> {
                let text = |c: &str| r.try_get::<String, _>(c).map_err(db);
                $crate::catalogue_sql::decode(
                    text("sku")?,
                    text("name_zh")?,
                    text("name_en")?,
                    text("category")?,
                    text("material")?,
                    &text("colours")?,
                    &text("sizes")?,
                    &text("prices")?,
                    &text("images")?,
                    r.try_get("active").map_err(db)?,
                    r.try_get("url").map_err(db)?,
                    r.try_get("updated_at").map_err(db)?,
                )
            }

            fn stock_row(r: &DbRow) -> RepoResult<StockLevel> {
                Ok(StockLevel {
                    sku: r.try_get("sku").map_err(db)?,
                    store: r.try_get("code").map_err(db)?,
                    quantity: r.try_get("quantity").map_err(db)?,
                    updated_at: r.try_get("updated_at").map_err(db)?,
                })
            }

            /// `(v1, v2, …)` of SKUs, bound.
            fn push_skus(q: &mut Qb, chunk: &[String]) {
                q.push("(");
                let mut sep = q.separated(", ");
                for v in chunk {
                    sep.push_bind(v.clone());
                }
                q.push(")");
            }
        }

        #[async_trait]
        impl domain::ports::CatalogueStore for $Repo {
            async fn put_products(&self, brand: BrandId, products: &[Product]) -> RepoResult<(u64, u64)> {
                let mut tx = self.write_tx().await.map_err(db)?;
                let (mut added, mut changed) = (0, 0);
                for chunk in products.chunks($crate::catalogue_sql::CATALOGUE_CHUNK) {
                    let skus: Vec<String> = chunk.iter().map(|p| p.sku.clone()).collect();
                    let mut q = Qb::new(format!(
                        "SELECT {} FROM catalogue_products WHERE brand_id = ",
                        $crate::catalogue_sql::PRODUCT_COLUMNS
                    ));
                    q.push_bind(brand.0).push(" AND sku IN ");
                    Self::push_skus(&mut q, &skus);
                    let mut held = std::collections::HashMap::new();
                    for r in q.build().fetch_all(&mut *tx).await.map_err(db)? {
                        let p = Self::product_row(&r)?;
                        held.insert(p.sku.clone(), p);
                    }
                    // The last of a SKU given twice wins, as if stored one after the other.
                    let mut latest: std::collections::HashMap<&str, &Product> = std::collections::HashMap::new();
                    for p in chunk {
                        latest.insert(p.sku.as_str(), p);
                    }
                    let mut write: Vec<&Product> = Vec::new();
                    for p in chunk {
                        if !std::ptr::eq(latest[p.sku.as_str()], p) {
                            continue;
                        }
                        match held.get(&p.sku) {
                            None => added += 1,
                            Some(h) if h.same_as(p) => continue,
                            Some(_) => changed += 1,
                        }
                        write.push(p);
                    }
                    if write.is_empty() {
                        continue;
                    }
                    let encoded: Vec<$crate::catalogue_sql::Encoded> =
                        write.iter().map(|p| $crate::catalogue_sql::encode(p)).collect::<RepoResult<_>>()?;
                    let mut q = Qb::new($crate::catalogue_sql::UPSERT_PRODUCTS);
                    q.push_values(write.iter().zip(&encoded), |mut b, (p, e)| {
                        b.push_bind(brand.0)
                            .push_bind(&p.sku)
                            .push_bind(&p.name_zh)
                            .push_bind(&p.name_en)
                            .push_bind(&p.category)
                            .push_bind(&p.material)
                            .push_bind(&e.colours)
                            .push_bind(&e.sizes)
                            .push_bind(&e.prices)
                            .push_bind(&e.images)
                            .push_bind(p.active)
                            .push_bind(&p.url)
                            .push_bind(p.updated_at);
                    });
                    q.push($crate::catalogue_sql::ON_PRODUCT_CONFLICT);
                    q.build().execute(&mut *tx).await.map_err(db)?;
                }
                if added + changed > 0 {
                    sqlx::query($crate::catalogue_sql::BUMP)
                        .bind(brand.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                }
                tx.commit().await.map_err(db)?;
                Ok((added, changed))
            }

            async fn product(&self, brand: BrandId, sku: &str) -> RepoResult<Option<Product>> {
                let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM catalogue_products WHERE brand_id = $1 AND sku = $2",
                    $crate::catalogue_sql::PRODUCT_COLUMNS
                )))
                .bind(brand.0)
                .bind(sku)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                r.as_ref().map(Self::product_row).transpose()
            }

            async fn products(&self, brand: BrandId, f: &domain::ports::ProductFilter) -> RepoResult<Vec<Product>> {
                let limit = i64::from(f.limit.clamp(1, 1000));
                let mut out = Vec::new();
                let chunks: Vec<Option<&[String]>> = match &f.skus {
                    None => vec![None],
                    Some(s) if s.is_empty() => return Ok(out),
                    Some(s) => s.chunks(BATCH).map(Some).collect(),
                };
                for chunk in chunks {
                    let mut q = Qb::new(format!(
                        "SELECT {} FROM catalogue_products WHERE brand_id = ",
                        $crate::catalogue_sql::PRODUCT_COLUMNS
                    ));
                    q.push_bind(brand.0);
                    if let Some(skus) = chunk {
                        q.push(" AND sku IN ");
                        Self::push_skus(&mut q, skus);
                    }
                    if let Some(c) = &f.category {
                        q.push(" AND category = ").push_bind(c.clone());
                    }
                    if let Some(a) = f.active {
                        q.push(" AND active = ").push_bind(a);
                    }
                    if let Some(after) = &f.after {
                        q.push(" AND sku > ").push_bind(after.clone());
                    }
                    q.push(" ORDER BY sku LIMIT ").push_bind(limit);
                    for r in q.build().fetch_all(&self.pool).await.map_err(db)? {
                        out.push(Self::product_row(&r)?);
                    }
                }
                out.sort_by(|a, b| a.sku.cmp(&b.sku));
                out.truncate(limit as usize);
                Ok(out)
            }

            async fn known_skus(&self, brand: BrandId, skus: &[String]) -> RepoResult<Vec<String>> {
                let mut out = Vec::new();
                for chunk in skus.chunks(BATCH) {
                    let mut q = Qb::new("SELECT sku FROM catalogue_products WHERE brand_id = ");
                    q.push_bind(brand.0).push(" AND sku IN ");
                    Self::push_skus(&mut q, chunk);
                    for r in q.build().fetch_all(&self.pool).await.map_err(db)? {
                        out.push(r.try_get("sku").map_err(db)?);
                    }
                }
                Ok(out)
            }

            async fn product_categories(&self, brand: BrandId) -> RepoResult<Vec<String>> {
                sqlx::query_scalar(
                    "SELECT DISTINCT category FROM catalogue_products WHERE brand_id = $1 AND category <> '' ORDER BY category",
                )
                .bind(brand.0)
                .fetch_all(&self.pool)
                .await
                .map_err(db)
            }

            async fn put_stock(&self, brand: BrandId, levels: &[StockLevel]) -> RepoResult<u64> {
                let mut tx = self.write_tx().await.map_err(db)?;
                let stores: std::collections::HashMap<String, i64> =
                    sqlx::query("SELECT id, code FROM stores WHERE brand_id = $1")
                        .bind(brand.0)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(|r| Ok((r.try_get("code").map_err(db)?, r.try_get("id").map_err(db)?)))
                        .collect::<RepoResult<_>>()?;
                let mut changed = 0;
                for chunk in levels.chunks($crate::catalogue_sql::CATALOGUE_CHUNK) {
                    let mut skus: Vec<String> = chunk.iter().map(|l| l.sku.clone()).collect();
                    skus.sort();
                    skus.dedup();
                    let mut q = Qb::new("SELECT sku FROM catalogue_products WHERE brand_id = ");
                    q.push_bind(brand.0).push(" AND sku IN ");
                    Self::push_skus(&mut q, &skus);
                    let known: std::collections::HashSet<String> = q
                        .build()
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(|r| r.try_get("sku").map_err(db))
                        .collect::<RepoResult<_>>()?;
                    let mut rows = Vec::with_capacity(chunk.len());
                    for l in chunk {
                        if !known.contains(&l.sku) {
                            return Err($crate::catalogue_sql::unknown_sku(&l.sku));
                        }
                        let store = *stores
                            .get(&l.store)
                            .ok_or_else(|| $crate::catalogue_sql::unknown_store(&l.store))?;
                        rows.push((l, store));
                    }
                    // The last line of a SKU and store wins.
                    let mut seen = std::collections::HashSet::new();
                    rows.reverse();
                    rows.retain(|(l, s)| seen.insert((l.sku.clone(), *s)));
                    rows.reverse();
                    let mut q = Qb::new("INSERT INTO catalogue_stock (brand_id, sku, store_id, quantity, updated_at) ");
                    q.push_values(&rows, |mut b, (l, store)| {
                        b.push_bind(brand.0)
                            .push_bind(&l.sku)
                            .push_bind(*store)
                            .push_bind(l.quantity)
                            .push_bind(l.updated_at);
                    });
                    q.push(
                        " ON CONFLICT (brand_id, sku, store_id) DO UPDATE SET quantity = excluded.quantity, \
                         updated_at = excluded.updated_at WHERE catalogue_stock.quantity <> excluded.quantity",
                    );
                    changed += q.build().execute(&mut *tx).await.map_err(db)?.rows_affected();
                }
                if changed > 0 {
                    sqlx::query($crate::catalogue_sql::BUMP)
                        .bind(brand.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                }
                tx.commit().await.map_err(db)?;
                Ok(changed)
            }

            async fn stock(&self, brand: BrandId, skus: Option<&[String]>, store: Option<&str>) -> RepoResult<Vec<StockLevel>> {
                let chunks: Vec<Option<&[String]>> = match skus {
                    None => vec![None],
                    Some(s) if s.is_empty() => return Ok(Vec::new()),
                    Some(s) => s.chunks(BATCH).map(Some).collect(),
                };
                let mut out = Vec::new();
                for chunk in chunks {
                    let mut q = Qb::new(
                        "SELECT k.sku, s.code, k.quantity, k.updated_at FROM catalogue_stock k \
                         JOIN stores s ON s.id = k.store_id WHERE k.brand_id = ",
                    );
                    q.push_bind(brand.0);
                    if let Some(skus) = chunk {
                        q.push(" AND k.sku IN ");
                        Self::push_skus(&mut q, skus);
                    }
                    if let Some(code) = store {
                        q.push(" AND s.code = ").push_bind(code.to_owned());
                    }
                    q.push(" ORDER BY k.sku, s.code");
                    for r in q.build().fetch_all(&self.pool).await.map_err(db)? {
                        out.push(Self::stock_row(&r)?);
                    }
                }
                Ok(out)
            }

            async fn catalogue_generation(&self, brand: BrandId) -> RepoResult<i64> {
                let g: Option<i64> = sqlx::query_scalar("SELECT generation FROM catalogue_generations WHERE brand_id = $1")
                    .bind(brand.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(g.unwrap_or(0))
            }
        }
    };
}

pub(crate) use impl_catalogue_store;
