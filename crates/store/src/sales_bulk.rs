//! The sales tables at a brand's scale (millions of orders, tens of millions of touches): rows
//! travel in one bound value per statement (a JSON array on SQLite, typed arrays on PostgreSQL)
//! instead of one bound parameter per field, and clients and associates are numbered once
//! (`sales_parties`) so that the touch table is keyed by integers.
//!
//! Each backend has its own module because the way a batch is bound differs; the statements
//! are otherwise the same. On SQLite, `CROSS JOIN` fixes the join order: the planner knows
//! nothing of a `json_each` list's length and would otherwise scan the parties for each element.

use std::collections::HashMap;

use domain::BrandId;

/// `sales_parties.kind` of a client (named by CRM id).
pub(crate) const CLIENT: i64 = 0;
/// `sales_parties.kind` of an associate (named by e-mail).
pub(crate) const ASSOCIATE: i64 = 1;

/// A touch kind as stored: its place in the spec's tie order.
pub(crate) fn kind_code(k: sales::TouchKind) -> i64 {
    k.index() as i64
}

pub(crate) fn kind_of(code: i64) -> Option<sales::TouchKind> {
    usize::try_from(code)
        .ok()
        .and_then(|i| sales::TouchKind::ALL.get(i).copied())
}

/// A touch with its parties numbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TouchRow {
    pub client: i64,
    pub at: i64,
    pub associate: i64,
    pub kind: i64,
}

/// An order ready to store, with its lines as JSON.
pub(crate) struct OrderRow<'a> {
    pub order: &'a sales::Order,
    pub total: i64,
}

/// The distinct values of an iterator, in first-seen order.
pub(crate) fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = std::collections::HashSet::new();
    values.filter(|v| seen.insert(*v)).collect()
}

pub(crate) type Numbers = HashMap<String, i64>;

/// An order as a read sends it: one JSON array per order, all of them in one JSON array (one
/// value crosses from the database per read, not one message per row).
type OrderTuple = (
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    String,
    Option<String>,
    // The lines as stored (JSON text): parsed here, not re-encoded by the database.
    String,
);

pub(crate) fn orders_from_json(text: &str) -> domain::ports::RepoResult<Vec<sales::Order>> {
    let rows: Vec<OrderTuple> = serde_json::from_str(text).map_err(crate::corrupt)?;
    let mut out = rows
        .into_iter()
        .map(
            |(order_id, source, client, store, placed_at, currency, sold_by, lines)| {
                let lines = crate::sales_sql::order_lines(&lines)?;
                Ok(sales::Order {
                    order_id,
                    source: crate::sales_sql::order_source(&source)?,
                    client,
                    store,
                    placed_at,
                    currency,
                    sold_by,
                    lines,
                })
            },
        )
        .collect::<domain::ports::RepoResult<Vec<_>>>()?;
    out.sort_by(|a, b| (a.placed_at, &a.order_id).cmp(&(b.placed_at, &b.order_id)));
    Ok(out)
}

pub(crate) type TouchTuple = (String, i64, String, i64);

/// Touches as read (client, at, associate's number, kind) with the associates' numbers
/// (`[[number, e-mail], …]`): the e-mails put back in Rust rather than looked up per touch.
fn touches_from_json(text: &str, associates: &str) -> domain::ports::RepoResult<Vec<TouchTuple>> {
    let rows: Vec<(String, i64, i64, i64)> = serde_json::from_str(text).map_err(crate::corrupt)?;
    let names: HashMap<i64, String> = serde_json::from_str::<Vec<(i64, String)>>(associates)
        .map_err(crate::corrupt)?
        .into_iter()
        .collect();
    rows.into_iter()
        .map(|(client, at, no, kind)| {
            let who = names
                .get(&no)
                .ok_or_else(|| crate::corrupt("a touch's associate is not numbered"))?;
            Ok((client, at, who.clone(), kind))
        })
        .collect()
}

pub(crate) mod sqlite {
    use super::*;
    use crate::db;
    use domain::ports::RepoResult;
    use sqlx::SqliteConnection;

    fn json<T: serde::Serialize>(v: &T) -> RepoResult<String> {
        serde_json::to_string(v).map_err(crate::corrupt)
    }

    /// The numbers of these parties, numbering those not seen before.
    pub(crate) async fn number(
        conn: &mut SqliteConnection,
        brand: BrandId,
        kind: i64,
        refs: &[&str],
    ) -> RepoResult<Numbers> {
        if refs.is_empty() {
            return Ok(Numbers::new());
        }
        // Most parties are numbered already: read first, insert only the new ones.
        let mut numbers = numbers_of(conn, brand, kind, &json(&refs)?).await?;
        let new: Vec<&str> = refs
            .iter()
            .copied()
            .filter(|r| !numbers.contains_key(*r))
            .collect();
        if !new.is_empty() {
            let list = json(&new)?;
            sqlx::query(
                "INSERT INTO sales_parties (brand_id, kind, ref) SELECT $1, $2, value FROM json_each($3) \
                 WHERE true ON CONFLICT (brand_id, kind, ref) DO NOTHING",
            )
            .bind(brand.0)
            .bind(kind)
            .bind(&list)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
            numbers.extend(numbers_of(conn, brand, kind, &list).await?);
        }
        Ok(numbers)
    }

    async fn numbers_of(
        conn: &mut SqliteConnection,
        brand: BrandId,
        kind: i64,
        list: &str,
    ) -> RepoResult<Numbers> {
        let text: String = sqlx::query_scalar(
            "SELECT json_group_array(json_array(p.ref, p.id)) FROM json_each($3) j \
             CROSS JOIN sales_parties p ON p.brand_id = $1 AND p.kind = $2 AND p.ref = j.value",
        )
        .bind(brand.0)
        .bind(kind)
        .bind(list)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        Ok(serde_json::from_str::<Vec<(String, i64)>>(&text)
            .map_err(crate::corrupt)?
            .into_iter()
            .collect())
    }

    /// Stores the touches not held yet; how many were new.
    pub(crate) async fn insert_touches(
        conn: &mut SqliteConnection,
        brand: BrandId,
        rows: &[TouchRow],
        origin: &str,
    ) -> RepoResult<u64> {
        let list: Vec<[i64; 4]> = rows
            .iter()
            .map(|t| [t.client, t.at, t.associate, t.kind])
            .collect();
        Ok(sqlx::query(
            "INSERT INTO sales_touch_log (brand_id, client_no, at, associate_no, kind, origin) \
             SELECT $1, value->>0, value->>1, value->>2, value->>3, $2 FROM jsonb_each($3) \
             WHERE true ON CONFLICT DO NOTHING",
        )
        .bind(brand.0)
        .bind(origin)
        .bind(json(&list)?)
        .execute(&mut *conn)
        .await
        .map_err(db)?
        .rows_affected())
    }

    /// Stores the rows not held (by either key); how many were stored.
    async fn store_orders(
        conn: &mut SqliteConnection,
        brand: BrandId,
        rows: &[OrderRow<'_>],
        now: i64,
    ) -> RepoResult<u64> {
        /// One row as the statement reads it; the lines nested as JSON (stored as their text).
        #[derive(serde::Serialize)]
        struct Row<'a>(
            &'a str,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            i64,
            &'a str,
            Option<&'a str>,
            &'a [sales::OrderLine],
            i64,
        );
        let body = |part: &[OrderRow<'_>]| {
            let list: Vec<Row<'_>> = part
                .iter()
                .map(|r| {
                    let o = r.order;
                    Row(
                        &o.order_id,
                        o.source.as_str(),
                        o.client.as_deref(),
                        o.store.as_deref(),
                        o.placed_at,
                        &o.currency,
                        o.sold_by.as_deref(),
                        &o.lines,
                        r.total,
                    )
                })
                .collect();
            json(&list)
        };
        // OR IGNORE (not ON CONFLICT, whose NOT NULL checks abort) and the brand's key
        // checked at commit: nothing makes a statement abortable, so SQLite keeps no undo
        // journal of the pages it changes. Every value is present (the orders were checked).
        // A statement per part, the next part written out while SQLite stores this one.
        let mut parts = rows.chunks(ORDERS_PER_STATEMENT);
        let mut next = parts.next().map(body).transpose()?;
        let mut stored = 0;
        while let Some(value) = next {
            let (done, following) = tokio::join!(
                sqlx::query(
                    "INSERT OR IGNORE INTO sales_orders (brand_id, order_id, source, client_ref, \
                     store_code, placed_at, currency, sold_by, lines, total, created_at) \
                     SELECT $1, value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, \
                     value->>6, value->7, value->>8, $2 FROM jsonb_each($3)",
                )
                .bind(brand.0)
                .bind(now)
                .bind(value)
                .execute(&mut *conn),
                async { parts.next().map(body).transpose() }
            );
            stored += done.map_err(db)?.rows_affected();
            next = following?;
        }
        Ok(stored)
    }

    /// The indexes of the orders table, as migration 0013 creates them.
    const ORDER_INDEXES: &str = "CREATE UNIQUE INDEX sales_orders_by_id ON sales_orders (brand_id, order_id); \
        CREATE INDEX sales_orders_by_client ON sales_orders (client_ref, placed_at);";

    /// A brand's first load (it holds no order) when it at least doubles the table: the
    /// table's two indexes are dropped, the rows stored in key order, and the indexes built
    /// again from sorted keys, all in the caller's transaction (no reader sees the table
    /// without them). Random inserts into the indexes were two thirds of a large import.
    /// `false` (nothing done) when the brand holds orders or the table is larger.
    pub(crate) async fn load_orders(
        conn: &mut SqliteConnection,
        brand: BrandId,
        rows: &[OrderRow<'_>],
        now: i64,
    ) -> RepoResult<bool> {
        let (held, total): (bool, i64) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM sales_orders WHERE brand_id = $1), \
             (SELECT count(*) FROM sales_orders)",
        )
        .bind(brand.0)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        if held || total > rows.len() as i64 {
            return Ok(false);
        }
        sqlx::raw_sql("DROP INDEX sales_orders_by_id; DROP INDEX sales_orders_by_client;")
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        // The rows are distinct by id (the caller's promise), and the brand held none.
        store_orders(conn, brand, rows, now).await?;
        // The sorts behind the indexes on a second thread.
        sqlx::raw_sql("PRAGMA threads = 2")
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        let built = sqlx::raw_sql(ORDER_INDEXES).execute(&mut *conn).await;
        sqlx::raw_sql("PRAGMA threads = 0")
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        built.map_err(db)?;
        Ok(true)
    }

    /// Orders of one insert statement.
    const ORDERS_PER_STATEMENT: usize = 25_000;

    /// Stores the orders not held yet; the ids of those that were new, or `None` when some
    /// were held and some not and `exact` is false (the caller then asks again, exactly).
    ///
    /// Most batches are wholly new (a day's orders) or wholly held (a file imported again):
    /// the count of rows stored tells those apart without looking every id up first, which
    /// was a tenth of a large import.
    pub(crate) async fn insert_orders(
        conn: &mut SqliteConnection,
        brand: BrandId,
        rows: &[OrderRow<'_>],
        now: i64,
        exact: bool,
    ) -> RepoResult<Option<Vec<String>>> {
        let ids: Vec<&str> = rows.iter().map(|r| r.order.order_id.as_str()).collect();
        let held: std::collections::HashSet<String> = if exact {
            // Which are held already, as one value (RETURNING would send a message per new
            // row); the caller holds the write transaction, so nothing changes in between.
            let held: String = sqlx::query_scalar(
                "SELECT json_group_array(o.order_id) FROM json_each($2) j \
                 CROSS JOIN sales_orders o ON o.brand_id = $1 AND o.order_id = j.value",
            )
            .bind(brand.0)
            .bind(json(&ids)?)
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
            serde_json::from_str(&held).map_err(crate::corrupt)?
        } else {
            Default::default()
        };
        let stored = store_orders(conn, brand, rows, now).await?;
        let all = |ids: Vec<&str>| ids.into_iter().map(str::to_owned).collect::<Vec<_>>();
        Ok(if exact {
            Some(all(ids
                .into_iter()
                .filter(|id| !held.contains(*id))
                .collect()))
        } else if stored == ids.len() as u64 {
            Some(all(ids))
        } else if stored == 0 {
            Some(Vec::new())
        } else {
            None
        })
    }

    /// The touches of these clients in `(after, until]`: (client, at, associate, kind code).
    pub(crate) async fn touches_of(
        conn: &mut SqliteConnection,
        brand: BrandId,
        clients: &[&str],
        after: i64,
        until: i64,
    ) -> RepoResult<Vec<TouchTuple>> {
        let text: String = sqlx::query_scalar(
            "SELECT json_group_array(json_array(c.ref, t.at, t.associate_no, t.kind)) FROM json_each($2) j \
             CROSS JOIN sales_parties c ON c.brand_id = $1 AND c.kind = 0 AND c.ref = j.value \
             CROSS JOIN sales_touch_log t ON t.client_no = c.id AND t.at > $3 AND t.at <= $4",
        )
        .bind(brand.0)
        .bind(json(&clients)?)
        .bind(after)
        .bind(until)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        let associates = associates(conn, brand).await?;
        touches_from_json(&text, &associates)
    }

    /// The touches in `(after, until]` of the clients who ordered in `[from, to)`.
    pub(crate) async fn touches_of_buyers(
        conn: &mut SqliteConnection,
        brand: BrandId,
        (from, to): (i64, i64),
        after: i64,
        until: i64,
    ) -> RepoResult<Vec<TouchTuple>> {
        let text: String = sqlx::query_scalar(
            "SELECT json_group_array(json_array(c.ref, t.at, t.associate_no, t.kind)) FROM \
             (SELECT DISTINCT client_ref FROM sales_orders \
              WHERE brand_id = $1 AND placed_at >= $2 AND placed_at < $3 AND client_ref IS NOT NULL) o \
             CROSS JOIN sales_parties c ON c.brand_id = $1 AND c.kind = 0 AND c.ref = o.client_ref \
             CROSS JOIN sales_touch_log t ON t.client_no = c.id AND t.at > $4 AND t.at <= $5",
        )
        .bind(brand.0)
        .bind(from)
        .bind(to)
        .bind(after)
        .bind(until)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        let associates = associates(conn, brand).await?;
        touches_from_json(&text, &associates)
    }

    async fn associates(conn: &mut SqliteConnection, brand: BrandId) -> RepoResult<String> {
        sqlx::query_scalar(
            "SELECT json_group_array(json_array(id, ref)) FROM sales_parties WHERE brand_id = $1 AND kind = 1",
        )
        .bind(brand.0)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)
    }

    /// The orders placed in `[from, to)`, by time then id.
    pub(crate) async fn orders_placed(
        conn: &mut SqliteConnection,
        brand: BrandId,
        from: i64,
        to: i64,
    ) -> RepoResult<Vec<sales::Order>> {
        let text: String = sqlx::query_scalar(
            "SELECT json_group_array(json_array(order_id, source, client_ref, store_code, placed_at, \
             currency, sold_by, lines)) FROM sales_orders \
             WHERE brand_id = $1 AND placed_at >= $2 AND placed_at < $3",
        )
        .bind(brand.0)
        .bind(from)
        .bind(to)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        orders_from_json(&text)
    }

    /// The orders with these ids (those held).
    pub(crate) async fn orders_by_id(
        conn: &mut SqliteConnection,
        brand: BrandId,
        ids: &[&str],
    ) -> RepoResult<Vec<sales::Order>> {
        let text: String = sqlx::query_scalar(
            "SELECT json_group_array(json_array(o.order_id, o.source, o.client_ref, o.store_code, \
             o.placed_at, o.currency, o.sold_by, o.lines)) FROM json_each($2) j \
             CROSS JOIN sales_orders o ON o.brand_id = $1 AND o.order_id = j.value",
        )
        .bind(brand.0)
        .bind(json(&ids)?)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        orders_from_json(&text)
    }
}

pub(crate) mod postgres {
    use super::*;
    use crate::db;
    use domain::ports::RepoResult;
    use sqlx::{PgConnection, Row as _};

    pub(crate) async fn number(
        conn: &mut PgConnection,
        brand: BrandId,
        kind: i64,
        refs: &[&str],
    ) -> RepoResult<Numbers> {
        // Most parties are numbered already: read first, insert only the new ones.
        let mut numbers = numbers(conn, brand, kind, refs).await?;
        let new: Vec<&str> = refs
            .iter()
            .copied()
            .filter(|r| !numbers.contains_key(*r))
            .collect();
        if !new.is_empty() {
            sqlx::query(
                "INSERT INTO sales_parties (brand_id, kind, ref) SELECT $1, $2, r FROM unnest($3::text[]) r \
                 ON CONFLICT (brand_id, kind, ref) DO NOTHING",
            )
            .bind(brand.0)
            .bind(kind)
            .bind(&new)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
            numbers.extend(self::numbers(conn, brand, kind, &new).await?);
        }
        Ok(numbers)
    }

    async fn numbers(
        conn: &mut PgConnection,
        brand: BrandId,
        kind: i64,
        refs: &[&str],
    ) -> RepoResult<Numbers> {
        if refs.is_empty() {
            return Ok(Numbers::new());
        }
        let rows = sqlx::query(
            "SELECT ref, id FROM sales_parties WHERE brand_id = $1 AND kind = $2 AND ref = ANY($3::text[])",
        )
        .bind(brand.0)
        .bind(kind)
        .bind(refs)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| Ok((r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?)))
            .collect()
    }

    pub(crate) async fn insert_touches(
        conn: &mut PgConnection,
        brand: BrandId,
        rows: &[TouchRow],
        origin: &str,
    ) -> RepoResult<u64> {
        let clients: Vec<i64> = rows.iter().map(|t| t.client).collect();
        let ats: Vec<i64> = rows.iter().map(|t| t.at).collect();
        let associates: Vec<i64> = rows.iter().map(|t| t.associate).collect();
        let kinds: Vec<i64> = rows.iter().map(|t| t.kind).collect();
        Ok(sqlx::query(
            "INSERT INTO sales_touch_log (brand_id, client_no, at, associate_no, kind, origin) \
             SELECT $1, c, t, a, k, $2 FROM unnest($3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]) AS u(c, t, a, k) \
             ON CONFLICT DO NOTHING",
        )
        .bind(brand.0)
        .bind(origin)
        .bind(&clients)
        .bind(&ats)
        .bind(&associates)
        .bind(&kinds)
        .execute(&mut *conn)
        .await
        .map_err(db)?
        .rows_affected())
    }

    /// PostgreSQL stores a first load as any other (its unnest inserts are not the bound).
    pub(crate) async fn load_orders(
        _conn: &mut PgConnection,
        _brand: BrandId,
        _rows: &[OrderRow<'_>],
        _now: i64,
    ) -> RepoResult<bool> {
        Ok(false)
    }

    /// Stores the orders not held yet; the ids of those that were new (exact whatever
    /// `exact` says: RETURNING tells them apart).
    pub(crate) async fn insert_orders(
        conn: &mut PgConnection,
        brand: BrandId,
        rows: &[OrderRow<'_>],
        now: i64,
        _exact: bool,
    ) -> RepoResult<Option<Vec<String>>> {
        let ids: Vec<&str> = rows.iter().map(|r| r.order.order_id.as_str()).collect();
        let sources: Vec<&str> = rows.iter().map(|r| r.order.source.as_str()).collect();
        let clients: Vec<Option<&str>> = rows.iter().map(|r| r.order.client.as_deref()).collect();
        let stores: Vec<Option<&str>> = rows.iter().map(|r| r.order.store.as_deref()).collect();
        let placed: Vec<i64> = rows.iter().map(|r| r.order.placed_at).collect();
        let currencies: Vec<&str> = rows.iter().map(|r| r.order.currency.as_str()).collect();
        let sellers: Vec<Option<&str>> = rows.iter().map(|r| r.order.sold_by.as_deref()).collect();
        let lines: Vec<String> = rows
            .iter()
            .map(|r| serde_json::to_string(&r.order.lines).map_err(crate::corrupt))
            .collect::<RepoResult<_>>()?;
        let totals: Vec<i64> = rows.iter().map(|r| r.total).collect();
        let rows = sqlx::query(
            "INSERT INTO sales_orders (brand_id, order_id, source, client_ref, store_code, \
             placed_at, currency, sold_by, lines, total, created_at) \
             SELECT $1, o, s, c, st, p, cu, sb, l, t, $2 FROM unnest($3::text[], $4::text[], $5::text[], \
             $6::text[], $7::bigint[], $8::text[], $9::text[], $10::text[], $11::bigint[]) \
             AS u(o, s, c, st, p, cu, sb, l, t) \
             ON CONFLICT (brand_id, order_id) DO NOTHING RETURNING order_id",
        )
        .bind(brand.0)
        .bind(now)
        .bind(&ids)
        .bind(&sources)
        .bind(&clients)
        .bind(&stores)
        .bind(&placed)
        .bind(&currencies)
        .bind(&sellers)
        .bind(&lines)
        .bind(&totals)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(db))
            .collect::<RepoResult<Vec<String>>>()
            .map(Some)
    }

    pub(crate) async fn touches_of(
        conn: &mut PgConnection,
        brand: BrandId,
        clients: &[&str],
        after: i64,
        until: i64,
    ) -> RepoResult<Vec<TouchTuple>> {
        let text: String = sqlx::query_scalar(
            "SELECT COALESCE(json_agg(json_build_array(c.ref, t.at, t.associate_no, t.kind)), '[]')::text \
             FROM sales_parties c \
             JOIN sales_touch_log t ON t.client_no = c.id AND t.at > $3 AND t.at <= $4 \
             WHERE c.brand_id = $1 AND c.kind = 0 AND c.ref = ANY($2::text[])",
        )
        .bind(brand.0)
        .bind(clients)
        .bind(after)
        .bind(until)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        let associates = associates(conn, brand).await?;
        touches_from_json(&text, &associates)
    }

    async fn associates(conn: &mut PgConnection, brand: BrandId) -> RepoResult<String> {
        sqlx::query_scalar(
            "SELECT COALESCE(json_agg(json_build_array(id, ref)), '[]')::text FROM sales_parties \
             WHERE brand_id = $1 AND kind = 1",
        )
        .bind(brand.0)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)
    }

    pub(crate) async fn touches_of_buyers(
        conn: &mut PgConnection,
        brand: BrandId,
        (from, to): (i64, i64),
        after: i64,
        until: i64,
    ) -> RepoResult<Vec<TouchTuple>> {
        let text: String = sqlx::query_scalar(
            "SELECT COALESCE(json_agg(json_build_array(c.ref, t.at, t.associate_no, t.kind)), '[]')::text FROM \
             (SELECT DISTINCT client_ref FROM sales_orders \
              WHERE brand_id = $1 AND placed_at >= $2 AND placed_at < $3 AND client_ref IS NOT NULL) o \
             JOIN sales_parties c ON c.brand_id = $1 AND c.kind = 0 AND c.ref = o.client_ref \
             JOIN sales_touch_log t ON t.client_no = c.id AND t.at > $4 AND t.at <= $5",
        )
        .bind(brand.0)
        .bind(from)
        .bind(to)
        .bind(after)
        .bind(until)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        let associates = associates(conn, brand).await?;
        touches_from_json(&text, &associates)
    }

    pub(crate) async fn orders_placed(
        conn: &mut PgConnection,
        brand: BrandId,
        from: i64,
        to: i64,
    ) -> RepoResult<Vec<sales::Order>> {
        let text: String = sqlx::query_scalar(
            "SELECT COALESCE(json_agg(json_build_array(order_id, source, client_ref, store_code, placed_at, \
             currency, sold_by, lines)), '[]')::text FROM sales_orders \
             WHERE brand_id = $1 AND placed_at >= $2 AND placed_at < $3",
        )
        .bind(brand.0)
        .bind(from)
        .bind(to)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        orders_from_json(&text)
    }

    pub(crate) async fn orders_by_id(
        conn: &mut PgConnection,
        brand: BrandId,
        ids: &[&str],
    ) -> RepoResult<Vec<sales::Order>> {
        let text: String = sqlx::query_scalar(
            "SELECT COALESCE(json_agg(json_build_array(order_id, source, client_ref, store_code, placed_at, \
             currency, sold_by, lines)), '[]')::text FROM sales_orders \
             WHERE brand_id = $1 AND order_id = ANY($2::text[])",
        )
        .bind(brand.0)
        .bind(ids)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        orders_from_json(&text)
    }
}
