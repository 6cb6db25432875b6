//! The brand's event stream ([`domain::ports::EventStore`]) in SQL both backends accept.

macro_rules! impl_event_store {
    ($Repo:ident) => {
        impl $Repo {
            /// Appends events in `tx`, each once (by its line's digest); returns how many were new.
            async fn insert_events(
                tx: &mut Tx<'_>,
                brand: BrandId,
                events: &[StoredEvent],
            ) -> RepoResult<u64> {
                use sha2::Digest as _;
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
            async fn put_events(&self, brand: BrandId, events: &[StoredEvent]) -> RepoResult<u64> {
                let mut tx = self.write_tx().await.map_err(db)?;
                let added = Self::insert_events(&mut tx, brand, events).await?;
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
