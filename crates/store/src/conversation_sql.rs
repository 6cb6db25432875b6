//! The conversations' part of the port ([`domain::ports::ConversationStore`]) in the SQL both
//! backends accept. Audit appends of one brand are serialised: the write transaction
//! (`write_tx`: SQLite's `BEGIN IMMEDIATE` takes the write lock at once) and `$lock_audit` then
//! runs with the brand id (PostgreSQL takes a transaction-scoped advisory lock on it). The
//! (brand, seq) key is the last guard: a conflicting append is retried.

macro_rules! impl_conversation_store {
    ($Repo:ident, $lock_audit:literal) => {
        impl $Repo {
            fn rule_row(r: &DbRow) -> RepoResult<Rule> {
                let text = |c: &str| r.try_get::<String, _>(c).map_err(db);
                Ok(Rule {
                    id: r.try_get("id").map_err(db)?,
                    name: text("name")?,
                    category: Category::parse(&text("category")?).ok_or_else(|| corrupt("rule category"))?,
                    severity: Severity::parse(&text("severity")?).ok_or_else(|| corrupt("rule severity"))?,
                    action: RuleAction::parse(&text("action")?).ok_or_else(|| corrupt("rule action"))?,
                    matcher: serde_json::from_str(&text("matcher")?).map_err(corrupt)?,
                    enabled: r.try_get("enabled").map_err(db)?,
                })
            }

            /// A sealed column's text, or the clear column an older row still has (sealed at
            /// the next start, see `seal_older_rows`).
            fn sealed_text(&self, r: &DbRow, purpose: Purpose, sealed: &str, clear: &str) -> RepoResult<String> {
                let brand = BrandId(r.try_get("brand_id").map_err(db)?);
                match r.try_get::<Option<Vec<u8>>, _>(sealed).map_err(db)? {
                    Some(bytes) => String::from_utf8(self.keys.open(brand, purpose, &bytes).map_err(corrupt)?)
                        .map_err(corrupt),
                    None => r.try_get(clear).map_err(db),
                }
            }

            /// Seals what rows written before migration 14 hold in clear: flags' matches and
            /// audit details (a few hundred rows a statement; the clear column is emptied).
            pub async fn seal_older_rows(&self) -> RepoResult<u64> {
                let mut sealed = 0;
                for (table, key, clear, column, purpose) in [
                    ("compliance_flags", "id", "matched", "matched_sealed", Purpose::FlagMatch),
                    ("audit_log", "seq", "detail", "detail_sealed", Purpose::AuditDetail),
                ] {
                    loop {
                        let mut tx = self.write_tx().await.map_err(db)?;
                        let rows: Vec<(i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                            "SELECT brand_id, {key}, {clear} FROM {table} WHERE {column} IS NULL LIMIT 500"
                        )))
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db)?;
                        if rows.is_empty() {
                            break;
                        }
                        for (brand, k, text) in &rows {
                            sqlx::query(sqlx::AssertSqlSafe(format!(
                                "UPDATE {table} SET {column} = $1, {clear} = '' WHERE brand_id = $2 AND {key} = $3"
                            )))
                            .bind(self.keys.seal(BrandId(*brand), purpose, text.as_bytes()))
                            .bind(brand)
                            .bind(k)
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                        }
                        tx.commit().await.map_err(db)?;
                        sealed += rows.len() as u64;
                    }
                }
                if sealed > 0 {
                    tracing::info!(rows = sealed, "sealed flags' matches and audit details held in clear");
                }
                Ok(sealed)
            }

            fn flag_row(&self, r: &DbRow) -> RepoResult<Flag> {
                let text = |c: &str| r.try_get::<String, _>(c).map_err(db);
                let id = |c: &str| r.try_get::<Option<i64>, _>(c).map_err(db);
                Ok(Flag {
                    id: r.try_get("id").map_err(db)?,
                    message_id: id("message_id")?,
                    group_message_id: id("group_message_id")?,
                    group_id: id("group_id")?,
                    client_id: id("client_id")?.map(ClientId),
                    associate_id: id("associate_id")?.map(UserId),
                    store_id: id("store_id")?.map(StoreId),
                    direction: if text("direction")? == "out" { Direction::Out } else { Direction::In },
                    rule_id: r.try_get("rule_id").map_err(db)?,
                    rule: text("rule_name")?,
                    category: Category::parse(&text("category")?).ok_or_else(|| corrupt("flag category"))?,
                    severity: Severity::parse(&text("severity")?).ok_or_else(|| corrupt("flag severity"))?,
                    action: RuleAction::parse(&text("action")?).ok_or_else(|| corrupt("flag action"))?,
                    matched: self.sealed_text(r, Purpose::FlagMatch, "matched_sealed", "matched")?,
                    status: FlagStatus::parse(&text("status")?).ok_or_else(|| corrupt("flag status"))?,
                    note: r.try_get("note").map_err(db)?,
                    reviewer_id: id("reviewer_id")?.map(UserId),
                    created_at: r.try_get("created_at").map_err(db)?,
                    reviewed_at: r.try_get("reviewed_at").map_err(db)?,
                })
            }

            fn outbound_row(&self, r: &DbRow) -> RepoResult<Outbound> {
                let brand = BrandId(r.try_get("brand_id").map_err(db)?);
                let channel: String = r.try_get("channel").map_err(db)?;
                let status: String = r.try_get("status").map_err(db)?;
                let sealed: Vec<u8> = r.try_get("sealed_body").map_err(db)?;
                let body = self.keys.open(brand, Purpose::MessageBody, &sealed).map_err(corrupt)?;
                Ok(Outbound {
                    id: r.try_get("id").map_err(db)?,
                    brand,
                    client_id: ClientId(r.try_get("client_id").map_err(db)?),
                    associate_id: r.try_get::<Option<i64>, _>("associate_id").map_err(db)?.map(UserId),
                    channel: ChannelKind::parse(&channel).ok_or_else(|| corrupt("channel"))?,
                    msg_type: r.try_get("msg_type").map_err(db)?,
                    body: String::from_utf8(body).map_err(corrupt)?,
                    idem_key: r.try_get("idem_key").map_err(db)?,
                    status: OutboundStatus::parse(&status).ok_or_else(|| corrupt("outbox status"))?,
                    attempts: r.try_get("attempts").map_err(db)?,
                    provider_id: r.try_get("provider_id").map_err(db)?,
                    message_id: r.try_get("message_id").map_err(db)?,
                    error: r.try_get("error").map_err(db)?,
                    created_at: r.try_get("created_at").map_err(db)?,
                    sent_at: r.try_get("sent_at").map_err(db)?,
                })
            }

            fn audit_row(&self, r: &DbRow) -> RepoResult<AuditEntry> {
                Ok(AuditEntry {
                    seq: r.try_get("seq").map_err(db)?,
                    at: r.try_get("at").map_err(db)?,
                    actor_id: r.try_get::<Option<i64>, _>("actor_id").map_err(db)?.map(UserId),
                    actor: r.try_get("actor").map_err(db)?,
                    action: r.try_get("action").map_err(db)?,
                    subject: r.try_get("subject").map_err(db)?,
                    detail: self.sealed_text(r, Purpose::AuditDetail, "detail_sealed", "detail")?,
                    prev_hash: r.try_get("prev_hash").map_err(db)?,
                    hash: r.try_get("hash").map_err(db)?,
                })
            }

            async fn try_audit(&self, brand: BrandId, e: &NewAudit, detail: &str) -> Result<AuditEntry, sqlx::Error> {
                let mut tx = self.write_tx().await?;
                sqlx::query($lock_audit).bind(brand.0).execute(&mut *tx).await?;
                let last: Option<(i64, String)> = sqlx::query_as(
                    "SELECT seq, hash FROM audit_log WHERE brand_id = $1 ORDER BY seq DESC LIMIT 1",
                )
                .bind(brand.0)
                .fetch_optional(&mut *tx)
                .await?;
                let (seq, prev) = match last {
                    Some((s, h)) => (s + 1, h),
                    None => (1, AUDIT_GENESIS.to_owned()),
                };
                let hash = audit_hash(brand, seq, e.at, e.actor_id, &e.actor, &e.action, &e.subject, detail, &prev);
                sqlx::query(
                    "INSERT INTO audit_log (brand_id, seq, at, actor_id, actor, action, subject, detail, detail_sealed, prev_hash, hash) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8, $9, $10)",
                )
                .bind(brand.0)
                .bind(seq)
                .bind(e.at)
                .bind(e.actor_id.map(|u| u.0))
                .bind(&e.actor)
                .bind(&e.action)
                .bind(&e.subject)
                // The detail sealed (a search's words, names); the hash covers it in clear.
                .bind(self.keys.seal(brand, Purpose::AuditDetail, detail.as_bytes()))
                .bind(&prev)
                .bind(&hash)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(AuditEntry {
                    seq,
                    at: e.at,
                    actor_id: e.actor_id,
                    actor: e.actor.clone(),
                    action: e.action.clone(),
                    subject: e.subject.clone(),
                    detail: detail.to_owned(),
                    prev_hash: prev,
                    hash,
                })
            }
        }

        #[async_trait]
        impl ConversationStore for $Repo {
            async fn rules(&self, brand: BrandId) -> RepoResult<Vec<Rule>> {
                let rows = sqlx::query("SELECT * FROM monitoring_rules WHERE brand_id = $1 ORDER BY id")
                    .bind(brand.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                rows.iter().map(Self::rule_row).collect()
            }

            async fn put_rule(&self, brand: BrandId, rule: &Rule, at: Millis) -> RepoResult<Rule> {
                let matcher = serde_json::to_string(&rule.matcher).map_err(corrupt)?;
                let row = if rule.id == 0 {
                    sqlx::query(
                        "INSERT INTO monitoring_rules (brand_id, name, category, severity, action, matcher, enabled, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
                    )
                    .bind(brand.0)
                    .bind(&rule.name)
                    .bind(rule.category.as_str())
                    .bind(rule.severity.as_str())
                    .bind(rule.action.as_str())
                    .bind(&matcher)
                    .bind(rule.enabled)
                    .bind(at)
                    .fetch_one(&self.pool)
                    .await
                } else {
                    sqlx::query(
                        "UPDATE monitoring_rules SET name = $3, category = $4, severity = $5, action = $6, matcher = $7, \
                         enabled = $8, updated_at = $9 WHERE brand_id = $1 AND id = $2 RETURNING *",
                    )
                    .bind(brand.0)
                    .bind(rule.id)
                    .bind(&rule.name)
                    .bind(rule.category.as_str())
                    .bind(rule.severity.as_str())
                    .bind(rule.action.as_str())
                    .bind(&matcher)
                    .bind(rule.enabled)
                    .bind(at)
                    .fetch_optional(&self.pool)
                    .await
                    .and_then(|r| r.ok_or(sqlx::Error::RowNotFound))
                };
                match row {
                    Ok(r) => Self::rule_row(&r),
                    Err(sqlx::Error::RowNotFound) => Err(RepoError::NotFound("rule")),
                    Err(e) => Err(conflict(e, "a rule of the brand already has this name")),
                }
            }

            async fn add_flags(&self, brand: BrandId, flags: &[NewFlag]) -> RepoResult<u64> {
                let mut tx = self.write_tx().await.map_err(db)?;
                let mut added = 0;
                for f in flags {
                    let done = sqlx::query(
                        "INSERT INTO compliance_flags (brand_id, message_id, client_id, associate_id, store_id, direction, \
                         rule_id, rule_name, category, severity, action, matched, matched_sealed, status, created_at, group_message_id, group_id) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '', $12, 'open', $13, $14, $15) ON CONFLICT DO NOTHING",
                    )
                    .bind(brand.0)
                    .bind(f.message_id)
                    .bind(f.client_id.map(|c| c.0))
                    .bind(f.associate_id.map(|u| u.0))
                    .bind(f.store_id.map(|s| s.0))
                    .bind(f.direction.as_str())
                    .bind(f.hit.rule_id)
                    .bind(&f.hit.rule)
                    .bind(f.hit.category.as_str())
                    .bind(f.hit.severity.as_str())
                    .bind(f.hit.action.as_str())
                    .bind(self.keys.seal(brand, Purpose::FlagMatch, f.hit.matched.as_bytes()))
                    .bind(f.at)
                    .bind(f.group_message_id)
                    .bind(f.group_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    added += done.rows_affected();
                }
                tx.commit().await.map_err(db)?;
                Ok(added)
            }

            async fn flags(&self, brand: BrandId, q: &FlagQuery) -> RepoResult<Vec<Flag>> {
                let mut qb = Qb::new("SELECT * FROM compliance_flags WHERE brand_id = ");
                qb.push_bind(brand.0);
                if let Some(s) = q.status {
                    qb.push(" AND status = ").push_bind(s.as_str());
                }
                if let Some(s) = q.store {
                    qb.push(" AND store_id = ").push_bind(s.0);
                }
                if let Some(u) = q.associate {
                    qb.push(" AND associate_id = ").push_bind(u.0);
                }
                if let Some(c) = q.client {
                    qb.push(" AND client_id = ").push_bind(c.0);
                }
                if let Some(g) = q.group {
                    qb.push(" AND group_id = ").push_bind(g);
                }
                qb.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(q.limit.clamp(1, 1000)));
                let rows = qb.build().fetch_all(&self.pool).await.map_err(db)?;
                rows.iter().map(|r| self.flag_row(r)).collect()
            }

            async fn flag(&self, brand: BrandId, id: i64) -> RepoResult<Option<Flag>> {
                let row = sqlx::query("SELECT * FROM compliance_flags WHERE brand_id = $1 AND id = $2")
                    .bind(brand.0)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                row.as_ref().map(|r| self.flag_row(r)).transpose()
            }

            async fn review_flag(
                &self,
                brand: BrandId,
                id: i64,
                status: FlagStatus,
                note: &str,
                reviewer: Option<UserId>,
                at: Millis,
            ) -> RepoResult<Flag> {
                let row = sqlx::query(
                    "UPDATE compliance_flags SET status = $3, note = $4, reviewer_id = $5, reviewed_at = $6 \
                     WHERE brand_id = $1 AND id = $2 AND status = 'open' RETURNING *",
                )
                .bind(brand.0)
                .bind(id)
                .bind(status.as_str())
                .bind(note)
                .bind(reviewer.map(|u| u.0))
                .bind(at)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                match row {
                    Some(r) => self.flag_row(&r),
                    None => match self.flag(brand, id).await? {
                        Some(f) => Err(RepoError::Conflict(format!("the item is already {}", f.status.as_str()))),
                        None => Err(RepoError::NotFound("review item")),
                    },
                }
            }

            async fn flag_counts(&self, brand: BrandId) -> RepoResult<Vec<FlagCount>> {
                let rows = sqlx::query(
                    "SELECT associate_id, rule_name, category, \
                     COALESCE(SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END), 0) AS open, COUNT(*) AS total \
                     FROM compliance_flags WHERE brand_id = $1 GROUP BY associate_id, rule_name, category \
                     ORDER BY total DESC, rule_name",
                )
                .bind(brand.0)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter()
                    .map(|r| {
                        let category: String = r.try_get("category").map_err(db)?;
                        Ok(FlagCount {
                            associate_id: r.try_get::<Option<i64>, _>("associate_id").map_err(db)?.map(UserId),
                            rule: r.try_get("rule_name").map_err(db)?,
                            category: Category::parse(&category).ok_or_else(|| corrupt("flag category"))?,
                            open: r.try_get("open").map_err(db)?,
                            total: r.try_get("total").map_err(db)?,
                        })
                    })
                    .collect()
            }

            async fn message(&self, brand: BrandId, id: i64) -> RepoResult<Option<Message>> {
                let row = sqlx::query("SELECT * FROM messages WHERE brand_id = $1 AND id = $2")
                    .bind(brand.0)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                row.map(|r| self.message_row(brand, &r)).transpose()
            }

            async fn message_by_provider_id(&self, brand: BrandId, channel: ChannelKind, provider_id: &str) -> RepoResult<Option<i64>> {
                sqlx::query_scalar("SELECT id FROM messages WHERE brand_id = $1 AND channel = $2 AND provider_id = $3")
                    .bind(brand.0)
                    .bind(channel.as_str())
                    .bind(provider_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)
            }

            async fn messages_after(&self, brand: BrandId, after_id: i64, limit: u32) -> RepoResult<Vec<Message>> {
                let rows = sqlx::query("SELECT * FROM messages WHERE brand_id = $1 AND id > $2 ORDER BY id LIMIT $3")
                    .bind(brand.0)
                    .bind(after_id)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                rows.iter().map(|r| self.message_row(brand, r)).collect()
            }

            async fn messages_by_ids(&self, brand: BrandId, ids: &[i64]) -> RepoResult<Vec<Message>> {
                self.by_ids("SELECT * FROM messages WHERE brand_id = ", brand, ids, |r| {
                    let m = self.message_row(brand, r)?;
                    Ok((m.id, m))
                })
                .await
            }

            async fn messages_for_index(
                &self,
                brand: BrandId,
                after: StreamPos,
                limit: u32,
            ) -> RepoResult<Vec<(Message, Option<StoreId>, bool, StreamPos)>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT m.*, c.store_id AS c_store, \
                     EXISTS (SELECT 1 FROM compliance_flags f WHERE f.message_id = m.id) AS flagged \
                     FROM messages m JOIN clients c ON c.id = m.client_id \
                     WHERE m.brand_id = $1 AND (m.tx, m.id) > ($2, $3) AND m.tx < {} \
                     ORDER BY m.tx, m.id LIMIT $4",
                    Self::TX_HORIZON
                )))
                .bind(brand.0)
                .bind(after.tx)
                .bind(after.id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter()
                    .map(|r| {
                        let m = self.message_row(brand, r)?;
                        let pos = StreamPos { tx: r.try_get("tx").map_err(db)?, id: m.id };
                        Ok((
                            m,
                            r.try_get::<Option<i64>, _>("c_store").map_err(db)?.map(StoreId),
                            r.try_get::<bool, _>("flagged").map_err(db)?,
                            pos,
                        ))
                    })
                    .collect()
            }

            async fn conversations(
                &self,
                brand: BrandId,
                scope: Scope,
                reader: Option<UserId>,
                limit: u32,
            ) -> RepoResult<Vec<ConversationSummary>> {
                let mut qb = Qb::new(
                    "SELECT m.client_id, c.associate_id AS c_associate, c.store_id AS c_store, MAX(m.id) AS last_id, \
                     COUNT(*) AS n, COALESCE(SUM(CASE WHEN m.direction = 'in' AND m.id > COALESCE(r.last_read_id, 0) \
                     THEN 1 ELSE 0 END), 0) AS unread \
                     FROM messages m JOIN clients c ON c.id = m.client_id \
                     LEFT JOIN conversation_reads r ON r.client_id = m.client_id AND r.user_id = ",
                );
                qb.push_bind(reader.map_or(-1, |u| u.0));
                qb.push(" WHERE m.brand_id = ").push_bind(brand.0);
                push_scope(&mut qb, scope);
                qb.push(" GROUP BY m.client_id, c.associate_id, c.store_id ORDER BY last_id DESC LIMIT ")
                    .push_bind(i64::from(limit.clamp(1, 500)));
                let rows = qb.build().fetch_all(&self.pool).await.map_err(db)?;
                if rows.is_empty() {
                    return Ok(Vec::new());
                }
                let mut last_ids = Vec::with_capacity(rows.len());
                for r in &rows {
                    last_ids.push(r.try_get::<i64, _>("last_id").map_err(db)?);
                }
                let mut qb = Qb::new("SELECT * FROM messages WHERE brand_id = ");
                qb.push_bind(brand.0).push(" AND id IN (");
                let mut sep = qb.separated(", ");
                for id in &last_ids {
                    sep.push_bind(*id);
                }
                qb.push(")");
                let mut last: std::collections::HashMap<i64, Message> = std::collections::HashMap::new();
                for r in qb.build().fetch_all(&self.pool).await.map_err(db)? {
                    let m = self.message_row(brand, &r)?;
                    last.insert(m.id, m);
                }
                let open: Vec<(i64, i64)> = sqlx::query_as(
                    "SELECT client_id, COUNT(*) FROM compliance_flags WHERE brand_id = $1 AND status = 'open' \
                     AND client_id IS NOT NULL AND group_message_id IS NULL GROUP BY client_id",
                )
                .bind(brand.0)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                let open: std::collections::HashMap<i64, i64> = open.into_iter().collect();
                let mut out = Vec::with_capacity(rows.len());
                for (r, id) in rows.iter().zip(last_ids) {
                    let client: i64 = r.try_get("client_id").map_err(db)?;
                    let Some(m) = last.remove(&id) else { continue };
                    out.push(ConversationSummary {
                        client_id: ClientId(client),
                        associate_id: r.try_get::<Option<i64>, _>("c_associate").map_err(db)?.map(UserId),
                        store_id: r.try_get::<Option<i64>, _>("c_store").map_err(db)?.map(StoreId),
                        last: m,
                        messages: r.try_get("n").map_err(db)?,
                        unread: r.try_get("unread").map_err(db)?,
                        open_flags: open.get(&client).copied().unwrap_or(0),
                    });
                }
                Ok(out)
            }

            async fn mark_read(&self, brand: BrandId, client: ClientId, reader: UserId, message_id: i64) -> RepoResult<()> {
                sqlx::query(
                    "INSERT INTO conversation_reads (brand_id, client_id, user_id, last_read_id) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (client_id, user_id) DO UPDATE SET last_read_id = excluded.last_read_id \
                     WHERE excluded.last_read_id > conversation_reads.last_read_id",
                )
                .bind(brand.0)
                .bind(client.0)
                .bind(reader.0)
                .bind(message_id)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn enqueue(&self, brand: BrandId, m: &NewOutbound) -> RepoResult<Outbound> {
                let mut tx = self.write_tx().await.map_err(db)?;
                Self::client_exists(&mut tx, brand, m.client_id).await?;
                sqlx::query(
                    "INSERT INTO outbox (brand_id, client_id, associate_id, channel, msg_type, sealed_body, idem_key, status, \
                     attempts, next_at, lease_until, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', 0, $8, 0, $8) \
                     ON CONFLICT (brand_id, idem_key) DO NOTHING",
                )
                .bind(brand.0)
                .bind(m.client_id.0)
                .bind(m.associate_id.map(|u| u.0))
                .bind(m.channel.as_str())
                .bind(&m.msg_type)
                .bind(self.keys.seal(brand, Purpose::MessageBody, m.body.as_bytes()))
                .bind(&m.idem_key)
                .bind(m.at)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                let row = sqlx::query("SELECT * FROM outbox WHERE brand_id = $1 AND idem_key = $2")
                    .bind(brand.0)
                    .bind(&m.idem_key)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
                tx.commit().await.map_err(db)?;
                self.outbound_row(&row)
            }

            async fn outbound(&self, brand: BrandId, id: i64) -> RepoResult<Option<Outbound>> {
                let row = sqlx::query("SELECT * FROM outbox WHERE brand_id = $1 AND id = $2")
                    .bind(brand.0)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                row.map(|r| self.outbound_row(&r)).transpose()
            }

            async fn outbox_of_client(&self, brand: BrandId, client: ClientId) -> RepoResult<Vec<Outbound>> {
                let rows = sqlx::query("SELECT * FROM outbox WHERE brand_id = $1 AND client_id = $2 ORDER BY id DESC LIMIT 50")
                    .bind(brand.0)
                    .bind(client.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                rows.iter().map(|r| self.outbound_row(r)).collect()
            }

            async fn outbox_claim(&self, now: Millis, lease_until: Millis, limit: u32) -> RepoResult<Vec<Outbound>> {
                // The due condition is repeated outside the sub-query: PostgreSQL re-checks it on
                // a row another dispatcher changed meanwhile, so a row is leased once.
                let rows = sqlx::query(
                    "UPDATE outbox SET status = 'sending', lease_until = $2, attempts = attempts + 1 \
                     WHERE id IN (SELECT id FROM outbox WHERE (status = 'queued' AND next_at <= $1) \
                     OR (status = 'sending' AND lease_until <= $1) ORDER BY id LIMIT $3) \
                     AND ((status = 'queued' AND next_at <= $1) OR (status = 'sending' AND lease_until <= $1)) RETURNING *",
                )
                .bind(now)
                .bind(lease_until)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                let mut out: Vec<Outbound> = rows.iter().map(|r| self.outbound_row(r)).collect::<RepoResult<_>>()?;
                out.sort_by_key(|o| o.id);
                Ok(out)
            }

            async fn outbox_sent(&self, id: i64, provider_id: &str, m: &NewMessage) -> RepoResult<i64> {
                let mut tx = self.write_tx().await.map_err(db)?;
                let brand: i64 = sqlx::query_scalar("SELECT brand_id FROM outbox WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?
                    .ok_or(RepoError::NotFound("outbox row"))?;
                let brand = BrandId(brand);
                let message_id = match self.insert_message(&mut tx, brand, m).await? {
                    Some(mid) => mid,
                    None => sqlx::query_scalar(
                        "SELECT id FROM messages WHERE brand_id = $1 AND channel = $2 AND provider_id = $3",
                    )
                    .bind(brand.0)
                    .bind(m.channel.as_str())
                    .bind(&m.provider_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?,
                };
                sqlx::query(
                    "UPDATE outbox SET status = 'sent', provider_id = $2, message_id = $3, sent_at = $4, error = NULL WHERE id = $1",
                )
                .bind(id)
                .bind(provider_id)
                .bind(message_id)
                .bind(m.at)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)?;
                Ok(message_id)
            }

            async fn outbox_retry(&self, id: i64, error: &str, next_at: Millis) -> RepoResult<()> {
                sqlx::query("UPDATE outbox SET status = 'queued', error = $2, next_at = $3, lease_until = 0 WHERE id = $1 AND status = 'sending'")
                    .bind(id)
                    .bind(error)
                    .bind(next_at)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn outbox_mark(&self, id: i64, note: &str) -> RepoResult<()> {
                sqlx::query("UPDATE outbox SET error = $2 WHERE id = $1 AND status = 'sending'")
                    .bind(id)
                    .bind(note)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn outbox_failed(&self, id: i64, error: &str) -> RepoResult<()> {
                sqlx::query("UPDATE outbox SET status = 'failed', error = $2 WHERE id = $1 AND status <> 'sent'")
                    .bind(id)
                    .bind(error)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn audit(&self, brand: BrandId, e: &NewAudit) -> RepoResult<AuditEntry> {
                let detail = serde_json::to_string(&e.detail).map_err(corrupt)?;
                let mut last_error = None;
                for _ in 0..8 {
                    match self.try_audit(brand, e, &detail).await {
                        Ok(entry) => return Ok(entry),
                        Err(err) => {
                            let retry = matches!(&err, sqlx::Error::Database(d) if d.is_unique_violation());
                            if !retry {
                                return Err(db(err));
                            }
                            last_error = Some(err);
                        }
                    }
                }
                Err(last_error.map_or_else(|| RepoError::Backend("audit append".into()), db))
            }

            async fn audit_log(&self, brand: BrandId, after_seq: i64, limit: u32) -> RepoResult<Vec<AuditEntry>> {
                let rows = sqlx::query("SELECT * FROM audit_log WHERE brand_id = $1 AND seq > $2 ORDER BY seq LIMIT $3")
                    .bind(brand.0)
                    .bind(after_seq)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                rows.iter().map(|r| self.audit_row(r)).collect()
            }
        }
    };
}

pub(crate) use impl_conversation_store;
