//! The brand's event stream ([`domain::ports::EventStore`]) in SQL both backends accept.

/// How a keyed follower begins (no channel id has a colon).
pub(crate) const FOLLOWER_KEY: &str = "k:";

macro_rules! impl_event_store {
    ($Repo:ident) => {
        impl $Repo {
            /// An event with its follower keyed (in the column and in the line).
            fn keyed_event(&self, brand: BrandId, e: &StoredEvent) -> StoredEvent {
                let Some(f) = e.follower.as_deref().filter(|f| !f.starts_with($crate::event_sql::FOLLOWER_KEY)) else {
                    return e.clone();
                };
                let key = EventStore::follower_key(self, brand, f);
                // The line is canonical JSON: the follower is the one `"follower":` key.
                let was = format!("\"follower\":{}", serde_json::Value::from(f));
                let now = format!("\"follower\":\"{key}\"");
                StoredEvent {
                    ts: e.ts,
                    kind: e.kind.clone(),
                    follower: Some(key),
                    line: e.line.replacen(&was, &now, 1),
                }
            }

            /// Seals what rows written before followers were keyed hold in clear: each event's
            /// follower is keyed in place (same id; an event that becomes one already held is
            /// dropped, as its import would have been).
            pub async fn key_older_followers(&self) -> RepoResult<u64> {
                use sha2::Digest as _;
                let mut keyed = 0u64;
                loop {
                    let mut tx = self.write_tx().await.map_err(db)?;
                    let rows: Vec<(i64, i64, i64, String, String, String)> = sqlx::query_as(
                        "SELECT id, brand_id, ts, kind, follower, line FROM brand_events \
                         WHERE follower IS NOT NULL AND follower NOT LIKE 'k:%' ORDER BY id LIMIT 5000",
                    )
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db)?;
                    if rows.is_empty() {
                        break;
                    }
                    for (id, brand, ts, kind, follower, line) in &rows {
                        let e = self.keyed_event(
                            BrandId(*brand),
                            &StoredEvent { ts: *ts, kind: kind.clone(), follower: Some(follower.clone()), line: line.clone() },
                        );
                        sqlx::query("DELETE FROM brand_events WHERE id = $1")
                            .bind(id)
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                        sqlx::query(
                            "INSERT INTO brand_events (id, brand_id, ts, kind, follower, line, digest) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (brand_id, digest) DO NOTHING",
                        )
                        .bind(id)
                        .bind(brand)
                        .bind(e.ts)
                        .bind(&e.kind)
                        .bind(&e.follower)
                        .bind(&e.line)
                        .bind(sha2::Sha256::digest(e.line.as_bytes()).to_vec())
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    }
                    tx.commit().await.map_err(db)?;
                    keyed += rows.len() as u64;
                    tracing::info!(events = keyed, "keyed the followers of older events");
                }
                Ok(keyed)
            }

            /// Appends events in `tx`, each once (by its line's digest); returns how many were new.
            /// Followers are keyed first.
            async fn insert_events(
                &self,
                tx: &mut Tx<'_>,
                brand: BrandId,
                events: &[StoredEvent],
            ) -> RepoResult<u64> {
                use sha2::Digest as _;
                let events: Vec<StoredEvent> = events.iter().map(|e| self.keyed_event(brand, e)).collect();
                let events = &events[..];
                let mut added = 0;
                // 6 parameters a row: well under SQLite's bound.
                for chunk in events.chunks(1_000) {
                    let mut q = Qb::new(
                        "INSERT INTO brand_events (brand_id, ts, kind, follower, line, digest) ",
                    );
                    q.push_values(chunk, |mut b, e| {
                        b.push_bind(brand.0)
                            .push_bind(e.ts)
                            .push_bind(&e.kind)
                            .push_bind(&e.follower)
                            .push_bind(&e.line)
                            .push_bind(sha2::Sha256::digest(e.line.as_bytes()).to_vec());
                    });
                    q.push(" ON CONFLICT (brand_id, digest) DO NOTHING");
                    added += q
                        .build()
                        .execute(&mut **tx)
                        .await
                        .map_err(db)?
                        .rows_affected();
                }
                Ok(added)
            }
        }

        #[async_trait]
        impl EventStore for $Repo {
            fn follower_key(&self, brand: BrandId, follower: &str) -> String {
                use base64::Engine as _;
                if follower.starts_with($crate::event_sql::FOLLOWER_KEY) {
                    return follower.to_owned();
                }
                let mac = self.keys.blind_index(brand, Purpose::Follower, follower);
                format!("{}{}", $crate::event_sql::FOLLOWER_KEY, base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac))
            }

            async fn put_events(&self, brand: BrandId, events: &[StoredEvent]) -> RepoResult<u64> {
                let mut tx = self.write_tx().await.map_err(db)?;
                let added = self.insert_events(&mut tx, brand, events).await?;
                tx.commit().await.map_err(db)?;
                Ok(added)
            }

            async fn event_lines(
                &self,
                brand: BrandId,
                before: Option<Millis>,
            ) -> RepoResult<Vec<String>> {
                sqlx::query_scalar(
                    "SELECT line FROM brand_events WHERE brand_id = $1 AND ts < $2 ORDER BY ts, id",
                )
                .bind(brand.0)
                .bind(before.unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await
                .map_err(db)
            }

            async fn event_lines_after(
                &self,
                brand: BrandId,
                after: i64,
            ) -> RepoResult<Vec<(i64, String)>> {
                sqlx::query_as(
                    "SELECT id, line FROM brand_events WHERE brand_id = $1 AND id > $2 ORDER BY id",
                )
                .bind(brand.0)
                .bind(after)
                .fetch_all(&self.pool)
                .await
                .map_err(db)
            }

            async fn count_events(&self, brand: BrandId) -> RepoResult<i64> {
                sqlx::query_scalar("SELECT COUNT(*) FROM brand_events WHERE brand_id = $1")
                    .bind(brand.0)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db)
            }
        }
    };
}

pub(crate) use impl_event_store;
