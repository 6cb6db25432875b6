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
        }
    };
}

pub(crate) use impl_edge_store;
