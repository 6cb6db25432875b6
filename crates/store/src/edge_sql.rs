//! The web edge's part of the port ([`domain::ports::EdgeStore`]): rate counters shared by
//! every Salon process, in the SQL both backends accept. Each hit is one atomic upsert.

macro_rules! impl_edge_store {
    ($Repo:ident) => {
        impl $Repo {
            /// Counters are keyed by a keyed hash: no address or e-mail in clear.
            fn rate_key(&self, key: &str) -> Vec<u8> {
                self.keys.blind_index(BrandId(0), Purpose::RateKey, key)
            }
        }

        #[async_trait]
        impl EdgeStore for $Repo {
            async fn rate_hit(&self, key: &str, now: Millis, window: Millis) -> RepoResult<RateCount> {
                let (hits, window_start): (i64, i64) = sqlx::query_as(
                    "INSERT INTO rate_counters (key, hits, window_start) VALUES ($1, 1, $2) \
                     ON CONFLICT (key) DO UPDATE SET \
                     hits = CASE WHEN rate_counters.window_start <= $3 THEN 1 ELSE rate_counters.hits + 1 END, \
                     window_start = CASE WHEN rate_counters.window_start <= $3 THEN $2 ELSE rate_counters.window_start END \
                     RETURNING hits, window_start",
                )
                .bind(self.rate_key(key))
                .bind(now)
                .bind(now - window)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
                Ok(RateCount { hits: u32::try_from(hits).unwrap_or(u32::MAX), window_start })
            }

            async fn rate_peek(&self, key: &str, now: Millis, window: Millis) -> RepoResult<RateCount> {
                let row: Option<(i64, i64)> = sqlx::query_as(
                    "SELECT hits, window_start FROM rate_counters WHERE key = $1 AND window_start > $2",
                )
                .bind(self.rate_key(key))
                .bind(now - window)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                Ok(row.map_or_else(RateCount::default, |(hits, window_start)| RateCount {
                    hits: u32::try_from(hits).unwrap_or(u32::MAX),
                    window_start,
                }))
            }

            async fn rate_refund(&self, key: &str) -> RepoResult<()> {
                sqlx::query("UPDATE rate_counters SET hits = hits - 1 WHERE key = $1 AND hits > 0")
                    .bind(self.rate_key(key))
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn rate_clear(&self, key: &str) -> RepoResult<()> {
                sqlx::query("DELETE FROM rate_counters WHERE key = $1")
                    .bind(self.rate_key(key))
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            fn edge_mac(&self, purpose: &str, value: &str) -> Vec<u8> {
                self.keys.blind_index(BrandId(0), Purpose::EdgeToken, &format!("{purpose}\u{1f}{value}"))
            }

            async fn rate_purge(&self, before: Millis) -> RepoResult<u64> {
                let r = sqlx::query("DELETE FROM rate_counters WHERE window_start < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(r.rows_affected())
            }

            async fn lease_take(&self, name: &str, holder: &str, now: Millis, until: Millis) -> RepoResult<bool> {
                let row: Option<(String,)> = sqlx::query_as(
                    "INSERT INTO worker_leases (name, holder, until) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET holder = $2, until = $3 \
                     WHERE worker_leases.holder = $2 OR worker_leases.until < $4 \
                     RETURNING holder",
                )
                .bind(name)
                .bind(holder)
                .bind(until)
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                Ok(row.is_some())
            }

            async fn lease_release(&self, name: &str, holder: &str) -> RepoResult<()> {
                sqlx::query("DELETE FROM worker_leases WHERE name = $1 AND holder = $2")
                    .bind(name)
                    .bind(holder)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn cache_bump(&self, brand: BrandId, topic: &str) -> RepoResult<()> {
                sqlx::query(
                    "INSERT INTO cache_versions (brand_id, topic, version) VALUES ($1, $2, 1) \
                     ON CONFLICT (brand_id, topic) DO UPDATE SET version = cache_versions.version + 1",
                )
                .bind(brand.0)
                .bind(topic)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn cache_versions(&self) -> RepoResult<Vec<(BrandId, String, i64)>> {
                let rows: Vec<(i64, String, i64)> =
                    sqlx::query_as("SELECT brand_id, topic, version FROM cache_versions")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?;
                Ok(rows.into_iter().map(|(b, t, v)| (BrandId(b), t, v)).collect())
            }
        }
    };
}

pub(crate) use impl_edge_store;
