//! Sales ([`domain::ports::SalesStore`]) in the SQL both backends accept: orders, returns,
//! touches, exchange rates, the policy, targets and disputes. Every write that can change a
//! figure moves the brand's generation in the same transaction.

/// Rows a multi-row insert carries: well under SQLite's bound on parameters.
pub(crate) const SALES_CHUNK: usize = 1_000;

/// Rows of one bulk statement (bound as one value, see `sales_bulk`).
pub(crate) const BULK_CHUNK: usize = 10_000;

/// Orders stored per transaction (the backend cuts them into statements as suits it). Large,
/// because a page is written once per transaction however many of its rows change.
pub(crate) const ORDERS_CHUNK: usize = 200_000;

/// Orders from which a brand's first load may build the indexes after the rows.
pub(crate) const LOAD_AT_LEAST: usize = 50_000;

pub(crate) fn order_source(s: &str) -> domain::ports::RepoResult<sales::Source> {
    sales::Source::parse(s).ok_or_else(|| crate::corrupt("order source"))
}

pub(crate) fn order_lines(s: &str) -> domain::ports::RepoResult<Vec<sales::OrderLine>> {
    serde_json::from_str(s).map_err(crate::corrupt)
}

pub(crate) fn dispute_shares(
    text: Option<String>,
) -> domain::ports::RepoResult<Option<Vec<(String, sales::Dec)>>> {
    let Some(text) = text else { return Ok(None) };
    let raw: Vec<(String, String)> = serde_json::from_str(&text).map_err(crate::corrupt)?;
    raw.into_iter()
        .map(|(a, f)| Ok((a, f.parse().map_err(crate::corrupt)?)))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

macro_rules! impl_sales_store {
    ($Repo:ident, $bulk:ident) => {
        impl $Repo {
            async fn bump_sales(tx: &mut Tx<'_>, brand: BrandId) -> RepoResult<()> {
                sqlx::query(
                    "INSERT INTO sales_generations (brand_id, generation) VALUES ($1, 1) \
                     ON CONFLICT (brand_id) DO UPDATE SET generation = sales_generations.generation + 1",
                )
                .bind(brand.0)
                .execute(&mut **tx)
                .await
                .map_err(db)?;
                Ok(())
            }

            fn sales_order_row(r: &DbRow) -> RepoResult<sales::Order> {
                let source: String = r.try_get("source").map_err(db)?;
                let lines: String = r.try_get("lines").map_err(db)?;
                Ok(sales::Order {
                    order_id: r.try_get("order_id").map_err(db)?,
                    source: $crate::sales_sql::order_source(&source)?,
                    client: r.try_get("client_ref").map_err(db)?,
                    store: r.try_get("store_code").map_err(db)?,
                    placed_at: r.try_get("placed_at").map_err(db)?,
                    currency: r.try_get("currency").map_err(db)?,
                    sold_by: r.try_get("sold_by").map_err(db)?,
                    lines: $crate::sales_sql::order_lines(&lines)?,
                })
            }

            fn sales_return_row(r: &DbRow) -> RepoResult<sales::Return> {
                Ok(sales::Return {
                    return_id: r.try_get("return_id").map_err(db)?,
                    order_id: r.try_get("order_id").map_err(db)?,
                    line: u32::try_from(r.try_get::<i64, _>("line").map_err(db)?).map_err(corrupt)?,
                    qty: r.try_get("qty").map_err(db)?,
                    amount: r.try_get("amount").map_err(db)?,
                    at: r.try_get("at").map_err(db)?,
                })
            }

            fn dispute_row(r: &DbRow) -> RepoResult<Dispute> {
                let status: String = r.try_get("status").map_err(db)?;
                Ok(Dispute {
                    id: r.try_get("id").map_err(db)?,
                    order_id: r.try_get("order_id").map_err(db)?,
                    raised_by: UserId(r.try_get("raised_by").map_err(db)?),
                    reason: r.try_get("reason").map_err(db)?,
                    status: DisputeStatus::parse(&status).ok_or_else(|| corrupt("dispute status"))?,
                    shares: $crate::sales_sql::dispute_shares(r.try_get("shares").map_err(db)?)?,
                    decided_by: r.try_get::<Option<i64>, _>("decided_by").map_err(db)?.map(UserId),
                    decided_at: r.try_get("decided_at").map_err(db)?,
                    decision_note: r.try_get("decision_note").map_err(db)?,
                    created_at: r.try_get("created_at").map_err(db)?,
                })
            }

            /// `(v1, v2, …)` of a chunk of values, bound.
            fn push_list(q: &mut Qb, chunk: &[String]) {
                let mut sep = q.separated(", ");
                for v in chunk {
                    sep.push_bind(v.clone());
                }
                q.push(")");
            }

            fn share_link_row(r: &DbRow) -> RepoResult<ShareLink> {
                Ok(ShareLink {
                    id: r.try_get("id").map_err(db)?,
                    brand: BrandId(r.try_get("brand_id").map_err(db)?),
                    code: r.try_get("code").map_err(db)?,
                    associate_id: UserId(r.try_get("associate_id").map_err(db)?),
                    client_id: r.try_get::<Option<i64>, _>("client_id").map_err(db)?.map(ClientId),
                    kind: r.try_get("kind").map_err(db)?,
                    target: r.try_get("target").map_err(db)?,
                    title: r.try_get("title").map_err(db)?,
                    created_at: r.try_get("created_at").map_err(db)?,
                    opens: r.try_get("opens").map_err(db)?,
                })
            }

            async fn upsert_targets(tx: &mut Tx<'_>, brand: BrandId, targets: &[Target]) -> RepoResult<()> {
                let now = now_millis();
                for chunk in targets.chunks($crate::sales_sql::SALES_CHUNK) {
                    let mut q = Qb::new("INSERT INTO sales_targets (brand_id, month, associate, amount, updated_at) ");
                    q.push_values(chunk, |mut b, (month, who, amount)| {
                        b.push_bind(brand.0).push_bind(month).push_bind(who).push_bind(*amount).push_bind(now);
                    });
                    q.push(
                        " ON CONFLICT (brand_id, month, associate) DO UPDATE SET amount = excluded.amount, \
                         updated_at = excluded.updated_at",
                    );
                    q.build().execute(&mut **tx).await.map_err(db)?;
                }
                Ok(())
            }
        }

        #[async_trait]
        impl SalesStore for $Repo {
            async fn put_orders(&self, brand: BrandId, orders: &[sales::Order]) -> RepoResult<Vec<String>> {
                use $crate::sales_bulk::{self as bulk, $bulk as backend};
                let now = now_millis();
                // The first of the same id wins (the port's promise) before anything is reordered.
                let mut seen = std::collections::HashSet::with_capacity(orders.len());
                let mut sorted: Vec<&sales::Order> =
                    orders.iter().filter(|o| seen.insert(o.order_id.as_str())).collect();
                drop(seen);
                // In the table's key order (time, then id): each page is visited once.
                sorted.sort_unstable_by(|a, b| (a.placed_at, &a.order_id).cmp(&(b.placed_at, &b.order_id)));
                let rows: Vec<bulk::OrderRow<'_>> =
                    sorted.iter().map(|o| bulk::OrderRow { order: *o, total: o.total() }).collect();
                // A brand's first load, when it is most of the table: one transaction that
                // builds the table's indexes once, sorted, rather than row by row.
                if rows.len() >= $crate::sales_sql::LOAD_AT_LEAST {
                    let mut tx = self.write_tx().await.map_err(db)?;
                    if backend::load_orders(&mut tx, brand, &rows, now).await? {
                        Self::bump_sales(&mut tx, brand).await?;
                        tx.commit().await.map_err(db)?;
                        return Ok(rows.iter().map(|r| r.order.order_id.clone()).collect());
                    }
                    tx.rollback().await.map_err(db)?;
                }
                let mut added: Vec<String> = Vec::new();
                for chunk in rows.chunks($crate::sales_sql::ORDERS_CHUNK) {
                    // Asked cheaply first; exactly (each id looked up) when a batch mixes new
                    // orders with held ones, which the cheap answer cannot tell apart.
                    let mut exact = false;
                    loop {
                        let mut tx = self.write_tx().await.map_err(db)?;
                        let Some(ids) = backend::insert_orders(&mut tx, brand, chunk, now, exact).await? else {
                            tx.rollback().await.map_err(db)?;
                            exact = true;
                            continue;
                        };
                        if !ids.is_empty() {
                            Self::bump_sales(&mut tx, brand).await?;
                        }
                        tx.commit().await.map_err(db)?;
                        added.extend(ids);
                        break;
                    }
                }
                Ok(added)
            }

            async fn clients_by_crm(&self, brand: BrandId, refs: &[String]) -> RepoResult<Vec<(String, ClientId)>> {
                let mut out = Vec::new();
                // A brand whose clients carry no CRM id (sales imported before the CRM) is
                // answered at once, not a query per five hundred buyers.
                let any: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM client_identities WHERE brand_id = $1 AND kind = 'crm')",
                )
                .bind(brand.0)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
                if !any {
                    return Ok(out);
                }
                for chunk in refs.chunks(BATCH) {
                    let mut q = Qb::new("SELECT value, client_id FROM client_identities WHERE kind = 'crm' AND brand_id = ");
                    q.push_bind(brand.0).push(" AND value IN (");
                    Self::push_list(&mut q, chunk);
                    for r in q.build().fetch_all(&self.pool).await.map_err(db)? {
                        out.push((r.try_get("value").map_err(db)?, ClientId(r.try_get("client_id").map_err(db)?)));
                    }
                }
                Ok(out)
            }

            async fn put_returns(&self, brand: BrandId, returns: &[sales::Return]) -> RepoResult<u64> {
                let now = now_millis();
                let mut tx = self.write_tx().await.map_err(db)?;
                let mut added = 0;
                for chunk in returns.chunks($crate::sales_sql::SALES_CHUNK) {
                    let mut q = Qb::new(
                        "INSERT INTO sales_returns (brand_id, return_id, order_id, line, qty, amount, at, created_at) ",
                    );
                    q.push_values(chunk, |mut b, r| {
                        b.push_bind(brand.0)
                            .push_bind(&r.return_id)
                            .push_bind(&r.order_id)
                            .push_bind(i64::from(r.line))
                            .push_bind(r.qty)
                            .push_bind(r.amount)
                            .push_bind(r.at)
                            .push_bind(now);
                    });
                    q.push(" ON CONFLICT (brand_id, return_id) DO NOTHING");
                    added += q.build().execute(&mut *tx).await.map_err(db)?.rows_affected();
                }
                if added > 0 {
                    Self::bump_sales(&mut tx, brand).await?;
                }
                tx.commit().await.map_err(db)?;
                Ok(added)
            }

            async fn put_touches(&self, brand: BrandId, touches: &[sales::Touch], origin: &str) -> RepoResult<u64> {
                use $crate::sales_bulk::{self as bulk, $bulk as backend};
                let mut tx = self.write_tx().await.map_err(db)?;
                let mut rows = Vec::with_capacity(touches.len());
                for chunk in touches.chunks($crate::sales_sql::BULK_CHUNK) {
                    let clients = bulk::distinct(chunk.iter().map(|t| t.client.as_str()));
                    let clients = backend::number(&mut tx, brand, bulk::CLIENT, &clients).await?;
                    let associates = bulk::distinct(chunk.iter().map(|t| t.associate.as_str()));
                    let associates = backend::number(&mut tx, brand, bulk::ASSOCIATE, &associates).await?;
                    for t in chunk {
                        rows.push(bulk::TouchRow {
                            client: *clients.get(&t.client).ok_or_else(|| corrupt("touch client not numbered"))?,
                            at: t.at,
                            associate: *associates
                                .get(&t.associate)
                                .ok_or_else(|| corrupt("touch associate not numbered"))?,
                            kind: bulk::kind_code(t.kind),
                        });
                    }
                }
                // In key order: each page of the table is visited once per transaction.
                rows.sort_unstable();
                let mut added = 0;
                for chunk in rows.chunks($crate::sales_sql::BULK_CHUNK) {
                    added += backend::insert_touches(&mut tx, brand, chunk, origin).await?;
                }
                if added > 0 {
                    Self::bump_sales(&mut tx, brand).await?;
                }
                tx.commit().await.map_err(db)?;
                Ok(added)
            }

            async fn put_fx_rates(&self, brand: BrandId, rates: &[sales::FxRate]) -> RepoResult<u64> {
                let mut tx = self.write_tx().await.map_err(db)?;
                let mut changed = 0;
                for chunk in rates.chunks($crate::sales_sql::SALES_CHUNK) {
                    let mut q = Qb::new("INSERT INTO fx_rates (brand_id, currency, date, rate) ");
                    q.push_values(chunk, |mut b, r| {
                        b.push_bind(brand.0)
                            .push_bind(&r.currency)
                            .push_bind(r.date.to_string())
                            .push_bind(r.rate.to_string());
                    });
                    q.push(
                        " ON CONFLICT (brand_id, currency, date) DO UPDATE SET rate = excluded.rate \
                         WHERE fx_rates.rate <> excluded.rate",
                    );
                    changed += q.build().execute(&mut *tx).await.map_err(db)?.rows_affected();
                }
                if changed > 0 {
                    Self::bump_sales(&mut tx, brand).await?;
                }
                tx.commit().await.map_err(db)?;
                Ok(changed)
            }

            async fn fx_rates(&self, brand: BrandId) -> RepoResult<Vec<sales::FxRate>> {
                let rows = sqlx::query("SELECT currency, date, rate FROM fx_rates WHERE brand_id = $1 ORDER BY currency, date")
                    .bind(brand.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                rows.iter()
                    .map(|r| {
                        let date: String = r.try_get("date").map_err(db)?;
                        let rate: String = r.try_get("rate").map_err(db)?;
                        Ok(sales::FxRate {
                            currency: r.try_get("currency").map_err(db)?,
                            date: date.parse().map_err(corrupt)?,
                            rate: rate.parse().map_err(corrupt)?,
                        })
                    })
                    .collect()
            }

            async fn orders_by_id(&self, brand: BrandId, ids: &[String]) -> RepoResult<Vec<sales::Order>> {
                let mut conn = self.pool.acquire().await.map_err(db)?;
                let mut out = Vec::with_capacity(ids.len());
                for chunk in ids.chunks($crate::sales_sql::BULK_CHUNK * 4) {
                    let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
                    out.extend($crate::sales_bulk::$bulk::orders_by_id(&mut conn, brand, &chunk).await?);
                }
                Ok(out)
            }

            async fn orders_placed(&self, brand: BrandId, from: Millis, to: Millis) -> RepoResult<Vec<sales::Order>> {
                let mut conn = self.pool.acquire().await.map_err(db)?;
                $crate::sales_bulk::$bulk::orders_placed(&mut conn, brand, from, to).await
            }

            async fn orders_of_client(&self, brand: BrandId, client: &str, limit: u32) -> RepoResult<Vec<sales::Order>> {
                let rows = sqlx::query(
                    "SELECT * FROM sales_orders WHERE +brand_id = $1 AND client_ref = $2 \
                     ORDER BY placed_at DESC, order_id LIMIT $3",
                )
                .bind(brand.0)
                .bind(client)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter().map(Self::sales_order_row).collect()
            }

            async fn returns_made(&self, brand: BrandId, from: Millis, to: Millis) -> RepoResult<Vec<sales::Return>> {
                let rows = sqlx::query(
                    "SELECT * FROM sales_returns WHERE brand_id = $1 AND at >= $2 AND at < $3 ORDER BY at, return_id",
                )
                .bind(brand.0)
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter().map(Self::sales_return_row).collect()
            }

            async fn returns_of_orders(&self, brand: BrandId, order_ids: &[String]) -> RepoResult<Vec<sales::Return>> {
                let mut out = Vec::new();
                for chunk in order_ids.chunks(BATCH) {
                    let mut q = Qb::new("SELECT * FROM sales_returns WHERE brand_id = ");
                    q.push_bind(brand.0).push(" AND order_id IN (");
                    Self::push_list(&mut q, chunk);
                    q.push(" ORDER BY at, return_id");
                    for r in q.build().fetch_all(&self.pool).await.map_err(db)? {
                        out.push(Self::sales_return_row(&r)?);
                    }
                }
                Ok(out)
            }

            async fn touches_of_clients(
                &self,
                brand: BrandId,
                clients: &[String],
                after: Millis,
                until: Millis,
            ) -> RepoResult<Vec<sales::Touch>> {
                use $crate::sales_bulk::{self as bulk, $bulk as backend};
                let mut conn = self.pool.acquire().await.map_err(db)?;
                let mut out = Vec::new();
                for chunk in clients.chunks($crate::sales_sql::BULK_CHUNK * 4) {
                    let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
                    for (client, at, associate, kind) in backend::touches_of(&mut conn, brand, &refs, after, until).await? {
                        out.push(sales::Touch {
                            client,
                            at,
                            associate,
                            kind: bulk::kind_of(kind).ok_or_else(|| corrupt("touch kind"))?,
                        });
                    }
                }
                Ok(out)
            }

            async fn touches_of_buyers(
                &self,
                brand: BrandId,
                placed: (Millis, Millis),
                after: Millis,
                until: Millis,
            ) -> RepoResult<Vec<sales::Touch>> {
                use $crate::sales_bulk::{self as bulk, $bulk as backend};
                let mut conn = self.pool.acquire().await.map_err(db)?;
                backend::touches_of_buyers(&mut conn, brand, placed, after, until)
                    .await?
                    .into_iter()
                    .map(|(client, at, associate, kind)| {
                        Ok(sales::Touch {
                            client,
                            at,
                            associate,
                            kind: bulk::kind_of(kind).ok_or_else(|| corrupt("touch kind"))?,
                        })
                    })
                    .collect()
            }

            async fn count_touches(&self, brand: BrandId) -> RepoResult<i64> {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM sales_parties c JOIN sales_touch_log t ON t.client_no = c.id \
                     WHERE c.brand_id = $1 AND c.kind = 0",
                )
                .bind(brand.0)
                .fetch_one(&self.pool)
                .await
                .map_err(db)
            }

            async fn book_history(&self, brand: BrandId, clients: &[String]) -> RepoResult<Vec<(String, sales::Assignment)>> {
                let mut out = Vec::new();
                for chunk in clients.chunks(BATCH) {
                    let mut q = Qb::new(
                        "SELECT i.value AS client_ref, a.at, u.email FROM client_identities i \
                         JOIN client_assignments a ON a.client_id = i.client_id \
                         JOIN users u ON u.id = a.associate_id \
                         WHERE i.kind = 'crm' AND i.brand_id = ",
                    );
                    q.push_bind(brand.0).push(" AND i.value IN (");
                    Self::push_list(&mut q, chunk);
                    q.push(" ORDER BY a.at, a.id");
                    for r in q.build().fetch_all(&self.pool).await.map_err(db)? {
                        out.push((
                            r.try_get("client_ref").map_err(db)?,
                            sales::Assignment {
                                at: r.try_get("at").map_err(db)?,
                                associate: Some(r.try_get("email").map_err(db)?),
                            },
                        ));
                    }
                }
                Ok(out)
            }

            async fn sales_policy(&self, brand: BrandId) -> RepoResult<Option<String>> {
                sqlx::query_scalar("SELECT policy FROM sales_policies WHERE brand_id = $1")
                    .bind(brand.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)
            }

            async fn put_sales_policy(&self, brand: BrandId, policy: &str, targets: &[Target], by: Option<UserId>) -> RepoResult<()> {
                let mut tx = self.write_tx().await.map_err(db)?;
                sqlx::query(
                    "INSERT INTO sales_policies (brand_id, policy, updated_by, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (brand_id) DO UPDATE SET policy = excluded.policy, updated_by = excluded.updated_by, \
                     updated_at = excluded.updated_at",
                )
                .bind(brand.0)
                .bind(policy)
                .bind(by.map(|u| u.0))
                .bind(now_millis())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                Self::upsert_targets(&mut tx, brand, targets).await?;
                Self::bump_sales(&mut tx, brand).await?;
                tx.commit().await.map_err(db)
            }

            async fn put_targets(&self, brand: BrandId, targets: &[Target]) -> RepoResult<()> {
                let mut tx = self.write_tx().await.map_err(db)?;
                Self::upsert_targets(&mut tx, brand, targets).await?;
                Self::bump_sales(&mut tx, brand).await?;
                tx.commit().await.map_err(db)
            }

            async fn targets(&self, brand: BrandId, month: &str) -> RepoResult<Vec<(String, i64)>> {
                sqlx::query_as("SELECT associate, amount FROM sales_targets WHERE brand_id = $1 AND month = $2 ORDER BY associate")
                    .bind(brand.0)
                    .bind(month)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)
            }

            async fn create_dispute(&self, brand: BrandId, order_id: &str, raised_by: UserId, reason: &str, at: Millis) -> RepoResult<Dispute> {
                let mut tx = self.write_tx().await.map_err(db)?;
                let r = sqlx::query(
                    "INSERT INTO sales_disputes (brand_id, order_id, raised_by, reason, status, created_at) \
                     VALUES ($1, $2, $3, $4, 'open', $5) RETURNING *",
                )
                .bind(brand.0)
                .bind(order_id)
                .bind(raised_by.0)
                .bind(reason)
                .bind(at)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)?;
                Self::dispute_row(&r)
            }

            async fn dispute(&self, brand: BrandId, id: i64) -> RepoResult<Option<Dispute>> {
                let r = sqlx::query("SELECT * FROM sales_disputes WHERE brand_id = $1 AND id = $2")
                    .bind(brand.0)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                r.as_ref().map(Self::dispute_row).transpose()
            }

            async fn disputes(&self, brand: BrandId, status: Option<DisputeStatus>) -> RepoResult<Vec<Dispute>> {
                let rows = sqlx::query(
                    "SELECT * FROM sales_disputes WHERE brand_id = $1 AND ($2 IS NULL OR status = $2) ORDER BY id DESC",
                )
                .bind(brand.0)
                .bind(status.map(DisputeStatus::as_str))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter().map(Self::dispute_row).collect()
            }

            async fn decide_dispute(
                &self,
                brand: BrandId,
                id: i64,
                shares: Option<&[(String, sales::Dec)]>,
                by: Option<UserId>,
                note: &str,
                at: Millis,
            ) -> RepoResult<Dispute> {
                let text = shares
                    .map(|s| {
                        let raw: Vec<(&str, String)> = s.iter().map(|(a, f)| (a.as_str(), f.to_string())).collect();
                        serde_json::to_string(&raw).map_err(corrupt)
                    })
                    .transpose()?;
                let status = if shares.is_some() { DisputeStatus::Decided } else { DisputeStatus::Rejected };
                let mut tx = self.write_tx().await.map_err(db)?;
                let r = sqlx::query(
                    "UPDATE sales_disputes SET status = $1, shares = $2, decided_by = $3, decided_at = $4, decision_note = $5 \
                     WHERE brand_id = $6 AND id = $7 AND status = 'open' RETURNING *",
                )
                .bind(status.as_str())
                .bind(text)
                .bind(by.map(|u| u.0))
                .bind(at)
                .bind(note)
                .bind(brand.0)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
                let Some(r) = r else {
                    return Err(RepoError::Stale("the dispute was decided already"));
                };
                Self::bump_sales(&mut tx, brand).await?;
                tx.commit().await.map_err(db)?;
                Self::dispute_row(&r)
            }

            async fn decisions(&self, brand: BrandId) -> RepoResult<Vec<sales::Decision>> {
                let rows = sqlx::query(
                    "SELECT order_id, shares FROM sales_disputes WHERE brand_id = $1 AND status = 'decided' ORDER BY decided_at, id",
                )
                .bind(brand.0)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter()
                    .map(|r| {
                        Ok(sales::Decision {
                            order_id: r.try_get("order_id").map_err(db)?,
                            shares: $crate::sales_sql::dispute_shares(r.try_get("shares").map_err(db)?)?.unwrap_or_default(),
                        })
                    })
                    .collect()
            }

            async fn sales_generation(&self, brand: BrandId) -> RepoResult<i64> {
                let g: Option<i64> = sqlx::query_scalar("SELECT generation FROM sales_generations WHERE brand_id = $1")
                    .bind(brand.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(g.unwrap_or(0))
            }

            async fn tier_thresholds(&self, brand: BrandId) -> RepoResult<Vec<(String, i64)>> {
                let rows = sqlx::query("SELECT tier, min_spend FROM tier_thresholds WHERE brand_id = $1 ORDER BY min_spend, tier")
                    .bind(brand.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                rows.iter()
                    .map(|r| Ok((r.try_get("tier").map_err(db)?, r.try_get("min_spend").map_err(db)?)))
                    .collect()
            }

            async fn put_tier_thresholds(&self, brand: BrandId, tiers: &[(String, i64)]) -> RepoResult<()> {
                let mut tx = self.write_tx().await.map_err(db)?;
                sqlx::query("DELETE FROM tier_thresholds WHERE brand_id = $1")
                    .bind(brand.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                for (tier, min) in tiers {
                    sqlx::query("INSERT INTO tier_thresholds (brand_id, tier, min_spend) VALUES ($1, $2, $3)")
                        .bind(brand.0)
                        .bind(tier)
                        .bind(*min)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                }
                tx.commit().await.map_err(db)
            }

            async fn add_refunds(&self, brand: BrandId, refunds: &[(ClientId, NewRefund)]) -> RepoResult<()> {
                let mut tx = self.write_tx().await.map_err(db)?;
                for (client, r) in refunds {
                    Self::client_exists(&mut tx, brand, *client).await?;
                    // The timeline entry is the return's, once: a return seen again changes nothing.
                    let new = sqlx::query(
                        "INSERT INTO interactions (brand_id, client_id, at, kind, channel, detail, ref) \
                         VALUES ($1, $2, $3, 'return', 'store', $4, $5) ON CONFLICT DO NOTHING",
                    )
                    .bind(brand.0)
                    .bind(client.0)
                    .bind(r.at)
                    .bind(
                        serde_json::json!({"amount_minor": r.amount_minor, "currency": r.currency,
                            "order_id": r.order_id, "items": r.items})
                        .to_string(),
                    )
                    .bind(format!("return:{}", r.return_id))
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?
                    .rows_affected()
                        == 1;
                    if new {
                        sqlx::query(
                            "UPDATE clients SET lifetime_spend_minor = lifetime_spend_minor - $1 WHERE brand_id = $2 AND id = $3",
                        )
                        .bind(r.amount_minor)
                        .bind(brand.0)
                        .bind(client.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    }
                }
                tx.commit().await.map_err(db)
            }

            async fn create_share_link(&self, brand: BrandId, l: &NewShareLink) -> RepoResult<ShareLink> {
                let mut tx = self.write_tx().await.map_err(db)?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO share_links (brand_id, code, associate_id, client_id, kind, target, title, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                )
                .bind(brand.0)
                .bind(&l.code)
                .bind(l.associate_id.0)
                .bind(l.client_id.map(|c| c.0))
                .bind(&l.kind)
                .bind(&l.target)
                .bind(&l.title)
                .bind(l.at)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| conflict(e, "a share link with that code exists"))?;
                tx.commit().await.map_err(db)?;
                Ok(ShareLink {
                    id,
                    brand,
                    code: l.code.clone(),
                    associate_id: l.associate_id,
                    client_id: l.client_id,
                    kind: l.kind.clone(),
                    target: l.target.clone(),
                    title: l.title.clone(),
                    created_at: l.at,
                    opens: 0,
                })
            }

            async fn share_link_by_code(&self, code: &str) -> RepoResult<Option<ShareLink>> {
                let r = sqlx::query(
                    "SELECT l.*, (SELECT COUNT(*) FROM share_opens o WHERE o.link_id = l.id) AS opens \
                     FROM share_links l WHERE l.code = $1",
                )
                .bind(code)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                r.as_ref().map(Self::share_link_row).transpose()
            }

            async fn record_share_open(&self, link: i64, client: Option<ClientId>, at: Millis) -> RepoResult<()> {
                let mut tx = self.write_tx().await.map_err(db)?;
                sqlx::query("INSERT INTO share_opens (link_id, client_id, at) VALUES ($1, $2, $3)")
                    .bind(link)
                    .bind(client.map(|c| c.0))
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                tx.commit().await.map_err(db)
            }

            async fn share_links(&self, brand: BrandId, associate: Option<UserId>, limit: u32) -> RepoResult<Vec<ShareLink>> {
                let rows = sqlx::query(
                    "SELECT l.*, (SELECT COUNT(*) FROM share_opens o WHERE o.link_id = l.id) AS opens \
                     FROM share_links l WHERE l.brand_id = $1 AND ($2 IS NULL OR l.associate_id = $2) \
                     ORDER BY l.id DESC LIMIT $3",
                )
                .bind(brand.0)
                .bind(associate.map(|u| u.0))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter().map(Self::share_link_row).collect()
            }

            async fn put_webhook_secret(&self, brand: BrandId, secret: &str) -> RepoResult<()> {
                let sealed = self.keys.seal(brand, Purpose::WebhookSecret, secret.as_bytes());
                let mut tx = self.write_tx().await.map_err(db)?;
                sqlx::query(
                    "INSERT INTO sales_webhooks (brand_id, sealed_secret, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (brand_id) DO UPDATE SET sealed_secret = excluded.sealed_secret, created_at = excluded.created_at",
                )
                .bind(brand.0)
                .bind(sealed)
                .bind(now_millis())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)
            }

            async fn webhook_secret(&self, brand: BrandId) -> RepoResult<Option<String>> {
                let sealed: Option<Vec<u8>> = sqlx::query_scalar("SELECT sealed_secret FROM sales_webhooks WHERE brand_id = $1")
                    .bind(brand.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                sealed
                    .map(|s| {
                        let plain = self.keys.open(brand, Purpose::WebhookSecret, &s).map_err(corrupt)?;
                        String::from_utf8(plain).map_err(corrupt)
                    })
                    .transpose()
            }

            async fn assignment_mark(&self, _brand: BrandId) -> RepoResult<i64> {
                // The newest assignment of the installation: one index read, whatever the size.
                let m: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM client_assignments")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(m.unwrap_or(0))
            }
        }
    };
}

pub(crate) use impl_sales_store;
