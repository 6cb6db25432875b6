//! The storage port implemented in SQL that both SQLite and PostgreSQL accept (`$n`
//! placeholders, `RETURNING`, `ON CONFLICT`, BIGINT instants). [`impl_repo!`] instantiates it
//! once per backend so that the two can never drift apart in behaviour; where the dialects
//! differ, the schema files (one per backend) absorb it.

/// Rows per multi-row INSERT: keeps under SQLite's 32,766 bound parameters.
pub(crate) const BATCH: usize = 4_000;

/// How long a write transaction waits for this process's other writers before the caller is
/// told to retry (`RepoError::Busy`). Writes take milliseconds; a long import holds it longer.
pub(crate) const WRITER_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

macro_rules! impl_repo {
    // `$tags_of_c`: the dialect's expression for client `c`'s tags joined by U+001F.
    // `$begin_write`: how a write transaction begins (SQLite: `BEGIN IMMEDIATE`).
    ($Repo:ident, $Db:ty, $Pool:ty, $tags_of_c:literal, $begin_write:literal) => {
        /// The storage port on this backend. Cheap to clone.
        #[derive(Clone)]
        pub struct $Repo {
            pool: $Pool,
            keys: $crate::pii::Keyring,
            /// The connection this process's write transactions queue for, when the backend
            /// has one writer at a time (SQLite; see [`Self::write_tx`]).
            writer: Option<$Pool>,
        }

        type DbRow = <$Db as sqlx::Database>::Row;
        type Tx<'a> = sqlx::Transaction<'a, $Db>;
        type Qb = sqlx::QueryBuilder<$Db>;

        impl $Repo {
            pub fn new(pool: $Pool, keys: $crate::pii::Keyring) -> Self {
                Self { pool, keys, writer: None }
            }

            /// Write transactions go through `writer` (a pool of one connection), reads through
            /// the main pool.
            pub fn with_writer(mut self, writer: $Pool) -> Self {
                self.writer = Some(writer);
                self
            }

            /// Every write transaction begins here, and nowhere else (`pool.begin()` is a
            /// disallowed method, see `clippy.toml`).
            ///
            /// On SQLite a plain `BEGIN` is deferred: the transaction reads under a snapshot and
            /// asks for the write lock at its first write, and when another connection wrote in
            /// between, SQLite answers SQLITE_BUSY_SNAPSHOT (517) or SQLITE_BUSY (5) at once,
            /// without waiting for the busy timeout. So a write transaction begins with
            /// `BEGIN IMMEDIATE`, which takes the write lock first (waiting up to the busy
            /// timeout for another process, such as the CLI). Within the process, writers queue
            /// for one dedicated connection (the pool's queue is first come, first served): they
            /// wait in order without polling SQLite's lock and without holding a connection
            /// that a read could use, and no reader stands between a writer and the lock.
            async fn write_tx(&self) -> Result<Tx<'static>, sqlx::Error> {
                self.writer.as_ref().unwrap_or(&self.pool).begin_with($begin_write).await
            }

            pub fn pool(&self) -> &$Pool {
                &self.pool
            }

            /// What an identity is stored and found under: an Official Account openid keyed
            /// (the brand's keyed hash, as the event stream holds followers), any other kind
            /// as it is.
            pub(crate) fn identity_key(&self, brand: BrandId, kind: IdentityKind, value: &str) -> String {
                if kind == IdentityKind::WechatOa {
                    EventStore::follower_key(self, brand, value)
                } else {
                    value.to_owned()
                }
            }

            /// The sealed copy of a keyed identity (sends need the openid itself).
            pub(crate) fn identity_sealed(&self, brand: BrandId, kind: IdentityKind, value: &str) -> Option<Vec<u8>> {
                (kind == IdentityKind::WechatOa).then(|| self.keys.seal(brand, Purpose::Identity, value.as_bytes()))
            }

            /// An identity as stored, read back: the sealed copy where there is one.
            pub(crate) fn identity_value(&self, brand: BrandId, value: String, sealed: Option<Vec<u8>>) -> RepoResult<String> {
                match sealed {
                    Some(bytes) => String::from_utf8(self.keys.open(brand, Purpose::Identity, &bytes).map_err(corrupt)?)
                        .map_err(corrupt),
                    None => Ok(value),
                }
            }

            /// Converts what older rows hold in clear (flags' matches and audit details sealed,
            /// followers and Official Account openids keyed), each conversion once: a finished
            /// one is recorded, and later starts skip it without reading the tables.
            pub async fn convert_older_rows(&self) -> RepoResult<()> {
                for name in ["sealed details", "keyed followers", "keyed identities"] {
                    let done: Option<i64> = sqlx::query_scalar("SELECT done_at FROM salon_conversions WHERE name = $1")
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?;
                    if done.is_some() {
                        continue;
                    }
                    match name {
                        "sealed details" => self.seal_older_rows().await.map(drop)?,
                        "keyed followers" => self.key_older_followers().await.map(drop)?,
                        _ => self.key_older_identities().await.map(drop)?,
                    }
                    let mut tx = self.write_tx().await.map_err(db)?;
                    sqlx::query("INSERT INTO salon_conversions (name, done_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(name)
                        .bind(now_millis())
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    tx.commit().await.map_err(db)?;
                }
                Ok(())
            }

            /// Keys the Official Account openids that rows written before held in clear.
            pub async fn key_older_identities(&self) -> RepoResult<u64> {
                let mut tx = self.write_tx().await.map_err(db)?;
                let rows: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT brand_id, value FROM client_identities WHERE kind = 'wechat_oa' AND sealed IS NULL",
                )
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
                for (brand, value) in &rows {
                    let brand = BrandId(*brand);
                    sqlx::query(
                        "UPDATE client_identities SET value = $1, sealed = $2 \
                         WHERE brand_id = $3 AND kind = 'wechat_oa' AND value = $4",
                    )
                    .bind(self.identity_key(brand, IdentityKind::WechatOa, value))
                    .bind(self.identity_sealed(brand, IdentityKind::WechatOa, value))
                    .bind(brand.0)
                    .bind(value)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                }
                tx.commit().await.map_err(db)?;
                Ok(rows.len() as u64)
            }

            fn seal_pii(&self, brand: BrandId, pii: &Pii) -> RepoResult<Vec<u8>> {
                let json = serde_json::to_vec(pii).map_err(|e| RepoError::Backend(e.to_string()))?;
                Ok(self.keys.seal(brand, Purpose::ClientPii, &json))
            }

            fn open_pii(&self, brand: BrandId, sealed: &[u8]) -> RepoResult<Pii> {
                let json = self.keys.open(brand, Purpose::ClientPii, sealed).map_err(corrupt)?;
                serde_json::from_slice(&json).map_err(corrupt)
            }

            fn phone_bidx(&self, brand: BrandId, pii: &Pii) -> Option<Vec<u8>> {
                pii.phone.as_ref().map(|p| self.keys.blind_index(brand, Purpose::Phone, p.as_str()))
            }

            fn email_bidx(&self, brand: BrandId, pii: &Pii) -> Option<Vec<u8>> {
                pii.email.as_ref().map(|e| self.keys.blind_index(brand, Purpose::Email, e.as_str()))
            }

            fn name_terms(&self, brand: BrandId, pii: &Pii) -> Vec<Vec<u8>> {
                domain::search::index_terms(&pii.name_parts())
                    .iter()
                    .map(|t| self.keys.blind_index(brand, Purpose::NameTerm, t))
                    .collect()
            }

            fn brand_row(row: &DbRow) -> RepoResult<Brand> {
                let list = |col: &str| -> RepoResult<Vec<String>> {
                    serde_json::from_str(&row.try_get::<String, _>(col).map_err(db)?).map_err(corrupt)
                };
                Ok(Brand {
                    id: BrandId(row.try_get("id").map_err(db)?),
                    slug: Slug::parse("slug", &row.try_get::<String, _>("slug").map_err(db)?)?,
                    name: row.try_get("name").map_err(db)?,
                    time_zone: TimeZoneName::parse("time_zone", &row.try_get::<String, _>("time_zone").map_err(db)?)?,
                    currencies: list("currencies")?
                        .iter()
                        .map(|c| Currency::parse("currencies", c))
                        .collect::<Result<_, _>>()?,
                    locales: list("locales")?.iter().map(|l| Locale::parse("locales", l)).collect::<Result<_, _>>()?,
                    tiers: list("tiers")?,
                    created_at: row.try_get("created_at").map_err(db)?,
                })
            }

            fn store_row(row: &DbRow) -> RepoResult<Store> {
                Ok(Store {
                    id: StoreId(row.try_get("id").map_err(db)?),
                    code: StoreCode::parse("code", &row.try_get::<String, _>("code").map_err(db)?)?,
                    name: row.try_get("name").map_err(db)?,
                    city: row.try_get("city").map_err(db)?,
                    country: row.try_get("country").map_err(db)?,
                    time_zone: TimeZoneName::parse("time_zone", &row.try_get::<String, _>("time_zone").map_err(db)?)?,
                })
            }

            fn user_row(row: &DbRow) -> RepoResult<User> {
                Ok(User {
                    id: UserId(row.try_get("id").map_err(db)?),
                    email: Email::parse("email", &row.try_get::<String, _>("email").map_err(db)?)?,
                    display_name: row.try_get("display_name").map_err(db)?,
                    role: row.try_get::<String, _>("role").map_err(db)?.parse()?,
                    store_id: row.try_get::<Option<i64>, _>("store_id").map_err(db)?.map(StoreId),
                    status: UserStatus::from_db(&row.try_get::<String, _>("status").map_err(db)?),
                    created_at: row.try_get("created_at").map_err(db)?,
                    departed_at: row.try_get("departed_at").map_err(db)?,
                    password_hash: row.try_get("password_hash").map_err(db)?,
                })
            }

            async fn insert_interaction(
                tx: &mut Tx<'_>,
                brand: BrandId,
                client: ClientId,
                at: Millis,
                kind: &str,
                channel: Option<&str>,
                detail: serde_json::Value,
            ) -> RepoResult<()> {
                sqlx::query(
                    "INSERT INTO interactions (brand_id, client_id, at, kind, channel, detail) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(brand.0)
                .bind(client.0)
                .bind(at)
                .bind(kind)
                .bind(channel)
                .bind(detail.to_string())
                .execute(&mut **tx)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn insert_assignment(
                tx: &mut Tx<'_>,
                brand: BrandId,
                client: ClientId,
                associate: UserId,
                by: Option<UserId>,
                reason: &str,
                at: Millis,
            ) -> RepoResult<Option<StoreId>> {
                let row = sqlx::query(
                    "SELECT display_name, store_id, status, role FROM users WHERE brand_id = $1 AND id = $2",
                )
                .bind(brand.0)
                .bind(associate.0)
                .fetch_optional(&mut **tx)
                .await
                .map_err(db)?
                .ok_or(RepoError::NotFound("associate"))?;
                let status: String = row.try_get("status").map_err(db)?;
                if status != "active" {
                    return Err(FieldError::new("associate", "has departed; choose an active associate").into());
                }
                let name: String = row.try_get("display_name").map_err(db)?;
                let store: Option<i64> = row.try_get("store_id").map_err(db)?;
                sqlx::query(
                    "INSERT INTO client_assignments (brand_id, client_id, associate_id, store_id, assigned_by, reason, at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(brand.0)
                .bind(client.0)
                .bind(associate.0)
                .bind(store)
                .bind(by.map(|u| u.0))
                .bind(reason)
                .bind(at)
                .execute(&mut **tx)
                .await
                .map_err(db)?;
                Self::insert_interaction(
                    tx,
                    brand,
                    client,
                    at,
                    "assigned",
                    None,
                    serde_json::json!({"associate_id": associate.0, "associate": name, "reason": reason}),
                )
                .await?;
                Ok(store.map(StoreId))
            }

            /// Inserts the rows that hang off clients (terms, tags, identities, consents) for
            /// many clients at once.
            async fn insert_parts(
                &self,
                tx: &mut Tx<'_>,
                brand: BrandId,
                parts: &[(ClientId, &NewClient)],
                now: Millis,
            ) -> RepoResult<()> {
                let terms: Vec<(i64, Vec<u8>)> = parts
                    .iter()
                    .flat_map(|(id, c)| self.name_terms(brand, &c.pii).into_iter().map(move |t| (id.0, t)))
                    .collect();
                for chunk in terms.chunks(BATCH) {
                    let mut q = Qb::new("INSERT INTO client_terms (brand_id, term, client_id) ");
                    q.push_values(chunk, |mut b, (id, t)| {
                        b.push_bind(brand.0).push_bind(t.clone()).push_bind(*id);
                    });
                    q.push(" ON CONFLICT DO NOTHING");
                    q.build().execute(&mut **tx).await.map_err(db)?;
                }
                let tags: Vec<(i64, &str)> =
                    parts.iter().flat_map(|(id, c)| c.tags.iter().map(move |t| (id.0, t.as_str()))).collect();
                for chunk in tags.chunks(BATCH) {
                    let mut q = Qb::new("INSERT INTO client_tags (brand_id, client_id, tag) ");
                    q.push_values(chunk, |mut b, (id, t)| {
                        b.push_bind(brand.0).push_bind(*id).push_bind(t.to_string());
                    });
                    q.push(" ON CONFLICT DO NOTHING");
                    q.build().execute(&mut **tx).await.map_err(db)?;
                }
                let idents: Vec<(i64, &Identity)> =
                    parts.iter().flat_map(|(id, c)| c.identities.iter().map(move |i| (id.0, i))).collect();
                for chunk in idents.chunks(BATCH) {
                    // An identity already held by this same client is fine; one held by
                    // another client is a conflict, found below.
                    let mut q = Qb::new("INSERT INTO client_identities (brand_id, kind, value, sealed, client_id, created_at) ");
                    q.push_values(chunk, |mut b, (id, i)| {
                        b.push_bind(brand.0)
                            .push_bind(i.kind.as_str())
                            .push_bind(self.identity_key(brand, i.kind, &i.value))
                            .push_bind(self.identity_sealed(brand, i.kind, &i.value))
                            .push_bind(*id)
                            .push_bind(now);
                    });
                    q.push(" ON CONFLICT DO NOTHING");
                    q.build().execute(&mut **tx).await.map_err(db)?;
                }
                for (id, ident) in &idents {
                    let owner: Option<i64> = sqlx::query_scalar(
                        "SELECT client_id FROM client_identities WHERE brand_id = $1 AND kind = $2 AND value = $3",
                    )
                    .bind(brand.0)
                    .bind(ident.kind.as_str())
                    .bind(self.identity_key(brand, ident.kind, &ident.value))
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(db)?;
                    if owner != Some(*id) {
                        return Err(RepoError::Conflict(format!(
                            "this {} identity already belongs to another client",
                            ident.kind
                        )));
                    }
                }
                let consents: Vec<(i64, &Consent)> =
                    parts.iter().flat_map(|(id, c)| c.consents.iter().map(move |k| (id.0, k))).collect();
                for chunk in consents.chunks(BATCH) {
                    let mut q = Qb::new(
                        "INSERT INTO client_consents (brand_id, client_id, channel, purpose, granted, source, at) ",
                    );
                    q.push_values(chunk, |mut b, (id, k)| {
                        b.push_bind(brand.0)
                            .push_bind(*id)
                            .push_bind(k.channel.clone())
                            .push_bind(k.purpose.as_str())
                            .push_bind(i64::from(k.granted))
                            .push_bind(k.source.clone())
                            .push_bind(k.at);
                    });
                    q.build().execute(&mut **tx).await.map_err(db)?;
                }
                Ok(())
            }

            async fn insert_client(
                &self,
                tx: &mut Tx<'_>,
                brand: BrandId,
                c: &NewClient,
                now: Millis,
            ) -> RepoResult<ClientId> {
                let prefs = serde_json::to_string(&c.preferences).map_err(corrupt)?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO clients (brand_id, pii, phone_bidx, email_bidx, language, city, tier, \
                     lifetime_spend_minor, currency, first_purchase_at, last_purchase_at, store_id, associate_id, \
                     preferences, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, $13, $14, $14) RETURNING id",
                )
                .bind(brand.0)
                .bind(self.seal_pii(brand, &c.pii)?)
                .bind(self.phone_bidx(brand, &c.pii))
                .bind(self.email_bidx(brand, &c.pii))
                .bind(c.language.clone())
                .bind(c.city.clone())
                .bind(c.tier.clone())
                .bind(c.lifetime_spend_minor)
                .bind(c.currency.clone())
                .bind(c.first_purchase_at)
                .bind(c.last_purchase_at)
                .bind(c.store_id.map(|s| s.0))
                .bind(prefs)
                .bind(now)
                .fetch_one(&mut **tx)
                .await
                .map_err(db)?;
                Ok(ClientId(id))
            }

            /// Points the client at its associate (and their store) after an assignment row.
            async fn set_associate(
                tx: &mut Tx<'_>,
                brand: BrandId,
                client: ClientId,
                associate: UserId,
                store: Option<StoreId>,
                now: Millis,
            ) -> RepoResult<()> {
                sqlx::query(
                    "UPDATE clients SET associate_id = $1, store_id = COALESCE($2, store_id), updated_at = $3 \
                     WHERE brand_id = $4 AND id = $5",
                )
                .bind(associate.0)
                .bind(store.map(|s| s.0))
                .bind(now)
                .bind(brand.0)
                .bind(client.0)
                .execute(&mut **tx)
                .await
                .map_err(db)?;
                Ok(())
            }

            /// The brand's rows of `select_brand` (a `SELECT … WHERE brand_id = ` prefix) with
            /// these ids, read in chunks; each row read by `row` and returned in the order asked.
            async fn by_ids<T>(
                &self,
                select_brand: &'static str,
                brand: BrandId,
                ids: &[i64],
                row: impl Fn(&DbRow) -> RepoResult<(i64, T)>,
            ) -> RepoResult<Vec<T>> {
                let mut by_id = std::collections::HashMap::new();
                for chunk in ids.chunks(BATCH) {
                    let mut qb = Qb::new(select_brand);
                    qb.push_bind(brand.0).push(" AND id IN (");
                    let mut sep = qb.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id);
                    }
                    qb.push(")");
                    for r in qb.build().fetch_all(&self.pool).await.map_err(db)? {
                        let (id, t) = row(&r)?;
                        by_id.insert(id, t);
                    }
                }
                Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
            }

            async fn client_exists(tx: &mut Tx<'_>, brand: BrandId, id: ClientId) -> RepoResult<()> {
                let found: Option<i64> = sqlx::query_scalar("SELECT id FROM clients WHERE brand_id = $1 AND id = $2")
                    .bind(brand.0)
                    .bind(id.0)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(db)?;
                found.map(|_| ()).ok_or(RepoError::NotFound("client"))
            }

            async fn current_consents(conn: &mut <$Db as sqlx::Database>::Connection, brand: BrandId, id: ClientId) -> RepoResult<Vec<Consent>> {
                let rows = sqlx::query(
                    "SELECT channel, purpose, granted, source, at FROM client_consents \
                     WHERE brand_id = $1 AND client_id = $2 ORDER BY at, id",
                )
                .bind(brand.0)
                .bind(id.0)
                .fetch_all(&mut *conn)
                .await
                .map_err(db)?;
                let mut current: Vec<Consent> = Vec::new();
                for row in rows {
                    let k = Consent {
                        channel: row.try_get("channel").map_err(db)?,
                        purpose: row.try_get::<String, _>("purpose").map_err(db)?.parse()?,
                        granted: row.try_get::<i64, _>("granted").map_err(db)? != 0,
                        source: row.try_get("source").map_err(db)?,
                        at: row.try_get("at").map_err(db)?,
                    };
                    current.retain(|c| !(c.channel == k.channel && c.purpose == k.purpose));
                    current.push(k);
                }
                Ok(current)
            }

            /// Applies a patch inside a transaction (shared by `update_client` and imports).
            async fn patch_client(
                &self,
                tx: &mut Tx<'_>,
                brand: BrandId,
                id: ClientId,
                patch: &ClientPatch,
                now: Millis,
            ) -> RepoResult<()> {
                let row = sqlx::query("SELECT pii, language, city, tier, store_id, preferences FROM clients WHERE brand_id = $1 AND id = $2")
                    .bind(brand.0)
                    .bind(id.0)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(db)?
                    .ok_or(RepoError::NotFound("client"))?;
                let mut pii = self.open_pii(brand, &row.try_get::<Vec<u8>, _>("pii").map_err(db)?)?;
                patch.apply_pii(&mut pii);
                let pick = |old: Option<String>, new: &Option<Option<String>>| match new {
                    Some(v) => v.clone(),
                    None => old,
                };
                let language = pick(row.try_get("language").map_err(db)?, &patch.language);
                let city = pick(row.try_get("city").map_err(db)?, &patch.city);
                let tier = pick(row.try_get("tier").map_err(db)?, &patch.tier);
                let store = match patch.store_id {
                    Some(s) => s.map(|s| s.0),
                    None => row.try_get("store_id").map_err(db)?,
                };
                let prefs = match &patch.preferences {
                    Some(p) => serde_json::to_string(p).map_err(corrupt)?,
                    None => row.try_get("preferences").map_err(db)?,
                };
                sqlx::query(
                    "UPDATE clients SET pii = $1, phone_bidx = $2, email_bidx = $3, language = $4, city = $5, tier = $6, \
                     store_id = $7, preferences = $8, updated_at = $9 WHERE brand_id = $10 AND id = $11",
                )
                .bind(self.seal_pii(brand, &pii)?)
                .bind(self.phone_bidx(brand, &pii))
                .bind(self.email_bidx(brand, &pii))
                .bind(language)
                .bind(city)
                .bind(tier)
                .bind(store)
                .bind(prefs)
                .bind(now)
                .bind(brand.0)
                .bind(id.0)
                .execute(&mut **tx)
                .await
                .map_err(db)?;
                sqlx::query("DELETE FROM client_terms WHERE client_id = $1")
                    .bind(id.0)
                    .execute(&mut **tx)
                    .await
                    .map_err(db)?;
                // Only consents that change what is in force are recorded again.
                let current = Self::current_consents(&mut **tx, brand, id).await?;
                let consents: Vec<Consent> = patch
                    .consents
                    .iter()
                    .filter(|k| {
                        !current.iter().any(|c| c.channel == k.channel && c.purpose == k.purpose && c.granted == k.granted)
                    })
                    .cloned()
                    .collect();
                let parts = NewClient { pii, identities: patch.identities.clone(), consents, ..NewClient::default() };
                self.insert_parts(tx, brand, &[(id, &parts)], now).await?;
                for k in &parts.consents {
                    Self::insert_interaction(
                        tx,
                        brand,
                        id,
                        now,
                        "consent",
                        Some(&k.channel),
                        serde_json::json!({"purpose": k.purpose, "granted": k.granted, "source": k.source}),
                    )
                    .await?;
                }
                Ok(())
            }
        }

        fn push_scope(q: &mut Qb, scope: Scope) {
            match scope {
                Scope::Brand => {}
                Scope::Store(s) => {
                    q.push(" AND c.store_id = ").push_bind(s.0);
                }
                Scope::Associate(u) => {
                    q.push(" AND c.associate_id = ").push_bind(u.0);
                }
                Scope::Nothing => {
                    q.push(" AND 1 = 0");
                }
            }
        }

        #[async_trait]
        impl Repo for $Repo {
            async fn ready(&self) -> RepoResult<()> {
                let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM salon_migrations")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db)?;
                if applied as usize == MIGRATIONS.len() {
                    Ok(())
                } else {
                    Err(RepoError::Backend(format!("{applied} of {} migrations applied", MIGRATIONS.len())))
                }
            }

            async fn create_brand(&self, b: &NewBrand) -> RepoResult<Brand> {
                let strings = |v: &[String]| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
                let row = sqlx::query(
                    "INSERT INTO brands (slug, name, time_zone, currencies, locales, tiers, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
                )
                .bind(b.slug.as_str())
                .bind(b.name.clone())
                .bind(b.time_zone.as_str())
                .bind(strings(&b.currencies.iter().map(|c| c.to_string()).collect::<Vec<_>>()))
                .bind(strings(&b.locales.iter().map(|c| c.to_string()).collect::<Vec<_>>()))
                .bind(strings(&b.tiers))
                .bind(now_millis())
                .fetch_one(&self.pool)
                .await
                .map_err(|e| conflict(e, "a brand with this slug already exists"))?;
                Self::brand_row(&row)
            }

            async fn brand(&self, id: BrandId) -> RepoResult<Option<Brand>> {
                let row = sqlx::query("SELECT * FROM brands WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                row.as_ref().map(Self::brand_row).transpose()
            }

            async fn brand_by_slug(&self, slug: &str) -> RepoResult<Option<Brand>> {
                let row = sqlx::query("SELECT * FROM brands WHERE slug = $1")
                    .bind(slug)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                row.as_ref().map(Self::brand_row).transpose()
            }

            async fn delete_brand(&self, id: BrandId) -> RepoResult<u64> {
                let mut tx = self.write_tx().await.map_err(db)?;
                let mut removed = 0;
                for statement in $crate::brand_delete::DELETE_BRAND {
                    removed += sqlx::query(*statement)
                        .bind(id.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?
                        .rows_affected();
                }
                tx.commit().await.map_err(db)?;
                Ok(removed)
            }

            async fn list_brands(&self) -> RepoResult<Vec<Brand>> {
                let rows = sqlx::query("SELECT * FROM brands ORDER BY id").fetch_all(&self.pool).await.map_err(db)?;
                rows.iter().map(Self::brand_row).collect()
            }

            async fn create_store(&self, brand: BrandId, s: &NewStore) -> RepoResult<Store> {
                let row = sqlx::query(
                    "INSERT INTO stores (brand_id, code, name, city, country, time_zone, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
                )
                .bind(brand.0)
                .bind(s.code.as_str())
                .bind(s.name.clone())
                .bind(s.city.clone())
                .bind(s.country.clone())
                .bind(s.time_zone.as_str())
                .bind(now_millis())
                .fetch_one(&self.pool)
                .await
                .map_err(|e| conflict(e, "a store with this code already exists"))?;
                Self::store_row(&row)
            }

            async fn update_store(&self, brand: BrandId, id: StoreId, p: &StorePatch) -> RepoResult<Store> {
                let row = sqlx::query(
                    "UPDATE stores SET name = COALESCE($1, name), city = COALESCE($2, city), \
                     country = COALESCE($3, country), time_zone = COALESCE($4, time_zone) \
                     WHERE brand_id = $5 AND id = $6 RETURNING *",
                )
                .bind(p.name.clone())
                .bind(p.city.clone())
                .bind(p.country.clone())
                .bind(p.time_zone.as_ref().map(|t| t.to_string()))
                .bind(brand.0)
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?
                .ok_or(RepoError::NotFound("store"))?;
                Self::store_row(&row)
            }

            async fn store(&self, brand: BrandId, id: StoreId) -> RepoResult<Option<Store>> {
                let row = sqlx::query("SELECT * FROM stores WHERE brand_id = $1 AND id = $2")
                    .bind(brand.0)
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                row.as_ref().map(Self::store_row).transpose()
            }

            async fn store_by_code(&self, brand: BrandId, code: &str) -> RepoResult<Option<Store>> {
                let row = sqlx::query("SELECT * FROM stores WHERE brand_id = $1 AND code = $2")
                    .bind(brand.0)
                    .bind(code.to_ascii_uppercase())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                row.as_ref().map(Self::store_row).transpose()
            }

            async fn list_stores(&self, brand: BrandId) -> RepoResult<Vec<Store>> {
                let rows = sqlx::query("SELECT * FROM stores WHERE brand_id = $1 ORDER BY code")
                    .bind(brand.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                rows.iter().map(Self::store_row).collect()
            }

            async fn create_user(&self, brand: BrandId, u: &NewUser) -> RepoResult<User> {
                let row = sqlx::query(
                    "INSERT INTO users (brand_id, email, display_name, role, store_id, status, password_hash, created_at) \
                     VALUES ($1, $2, $3, $4, $5, 'active', $6, $7) RETURNING *",
                )
                .bind(brand.0)
                .bind(u.email.as_str())
                .bind(u.display_name.clone())
                .bind(u.role.as_str())
                .bind(u.store_id.map(|s| s.0))
                .bind(u.password_hash.clone())
                .bind(now_millis())
                .fetch_one(&self.pool)
                .await
                .map_err(|e| conflict(e, "a staff member with this e-mail already exists"))?;
                Self::user_row(&row)
            }

            async fn update_user(&self, brand: BrandId, id: UserId, p: &UserPatch) -> RepoResult<User> {
                let row = sqlx::query(
                    "UPDATE users SET display_name = COALESCE($1, display_name), role = COALESCE($2, role), \
                     store_id = CASE WHEN $3 = 1 THEN $4 ELSE store_id END WHERE brand_id = $5 AND id = $6 RETURNING *",
                )
                .bind(p.display_name.clone())
                .bind(p.role.map(|r| r.as_str()))
                .bind(i64::from(p.store_id.is_some()))
                .bind(p.store_id.flatten().map(|s| s.0))
                .bind(brand.0)
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?
                .ok_or(RepoError::NotFound("associate"))?;
                Self::user_row(&row)
            }

            async fn set_password_hash(&self, brand: BrandId, id: UserId, hash: &str) -> RepoResult<()> {
                let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE brand_id = $2 AND id = $3")
                    .bind(hash)
                    .bind(brand.0)
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                if done.rows_affected() == 0 { Err(RepoError::NotFound("associate")) } else { Ok(()) }
            }

            async fn mark_departed(&self, brand: BrandId, id: UserId, at: Millis) -> RepoResult<User> {
                let mut tx = self.write_tx().await.map_err(db)?;
                let row = sqlx::query(
                    "UPDATE users SET status = 'departed', departed_at = COALESCE(departed_at, $1) \
                     WHERE brand_id = $2 AND id = $3 RETURNING *",
                )
                .bind(at)
                .bind(brand.0)
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?
                .ok_or(RepoError::NotFound("associate"))?;
                // A departed associate can no longer sign in.
                sqlx::query("DELETE FROM sessions WHERE brand_id = $1 AND user_id = $2")
                    .bind(brand.0)
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                sqlx::query("DELETE FROM api_tokens WHERE brand_id = $1 AND user_id = $2")
                    .bind(brand.0)
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                tx.commit().await.map_err(db)?;
                Self::user_row(&row)
            }

            async fn user(&self, brand: BrandId, id: UserId) -> RepoResult<Option<User>> {
                let row = sqlx::query("SELECT * FROM users WHERE brand_id = $1 AND id = $2")
                    .bind(brand.0)
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                row.as_ref().map(Self::user_row).transpose()
            }

            async fn user_by_email(&self, brand: BrandId, email: &str) -> RepoResult<Option<User>> {
                let row = sqlx::query("SELECT * FROM users WHERE brand_id = $1 AND email = $2")
                    .bind(brand.0)
                    .bind(email.trim().to_lowercase())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                row.as_ref().map(Self::user_row).transpose()
            }

            async fn list_users(&self, brand: BrandId, store: Option<StoreId>) -> RepoResult<Vec<(User, i64)>> {
                let mut q = Qb::new(
                    "SELECT u.*, (SELECT COUNT(*) FROM clients c WHERE c.brand_id = u.brand_id AND c.associate_id = u.id) \
                     AS clients FROM users u WHERE u.brand_id = ",
                );
                q.push_bind(brand.0);
                if let Some(s) = store {
                    q.push(" AND u.store_id = ").push_bind(s.0);
                }
                q.push(" ORDER BY u.status, u.display_name, u.id");
                let rows = q.build().fetch_all(&self.pool).await.map_err(db)?;
                rows.iter()
                    .map(|r| Ok((Self::user_row(r)?, r.try_get::<i64, _>("clients").map_err(db)?)))
                    .collect()
            }

            async fn create_api_token(&self, hash: &[u8], t: &ApiToken) -> RepoResult<()> {
                sqlx::query(
                    "INSERT INTO api_tokens (token_hash, brand_id, role, user_id, store_id, label, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(hash.to_vec())
                .bind(t.brand_id.0)
                .bind(t.role.as_str())
                .bind(t.user_id.map(|u| u.0))
                .bind(t.store_id.map(|s| s.0))
                .bind(t.label.clone())
                .bind(now_millis())
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn api_token(&self, hash: &[u8]) -> RepoResult<Option<ApiToken>> {
                let row = sqlx::query("SELECT * FROM api_tokens WHERE token_hash = $1")
                    .bind(hash.to_vec())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                row.map(|r| {
                    Ok(ApiToken {
                        brand_id: BrandId(r.try_get("brand_id").map_err(db)?),
                        role: r.try_get::<String, _>("role").map_err(db)?.parse()?,
                        user_id: r.try_get::<Option<i64>, _>("user_id").map_err(db)?.map(UserId),
                        store_id: r.try_get::<Option<i64>, _>("store_id").map_err(db)?.map(StoreId),
                        label: r.try_get("label").map_err(db)?,
                    })
                })
                .transpose()
            }

            async fn create_session(&self, hash: &[u8], s: &Session) -> RepoResult<()> {
                sqlx::query(
                    "INSERT INTO sessions (id_hash, brand_id, user_id, csrf_token, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(hash.to_vec())
                .bind(s.brand_id.0)
                .bind(s.user_id.0)
                .bind(s.csrf_token.clone())
                .bind(now_millis())
                .bind(s.expires_at)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn session(&self, hash: &[u8], now: Millis) -> RepoResult<Option<Session>> {
                let row = sqlx::query("SELECT * FROM sessions WHERE id_hash = $1 AND expires_at > $2")
                    .bind(hash.to_vec())
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                row.map(|r| {
                    Ok(Session {
                        brand_id: BrandId(r.try_get("brand_id").map_err(db)?),
                        user_id: UserId(r.try_get("user_id").map_err(db)?),
                        csrf_token: r.try_get("csrf_token").map_err(db)?,
                        expires_at: r.try_get("expires_at").map_err(db)?,
                    })
                })
                .transpose()
            }

            async fn delete_session(&self, hash: &[u8]) -> RepoResult<()> {
                sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                    .bind(hash.to_vec())
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn create_client(&self, brand: BrandId, c: &NewClient, by: Option<UserId>) -> RepoResult<ClientId> {
                let now = now_millis();
                let mut tx = self.write_tx().await.map_err(db)?;
                let id = self.insert_client(&mut tx, brand, c, now).await?;
                self.insert_parts(&mut tx, brand, &[(id, c)], now).await?;
                Self::insert_interaction(&mut tx, brand, id, now, "created", None, serde_json::json!({"by": by.map(|u| u.0)})).await?;
                if let Some(sa) = c.associate_id {
                    let store = Self::insert_assignment(&mut tx, brand, id, sa, by, "created", now).await?;
                    Self::set_associate(&mut tx, brand, id, sa, store.or(c.store_id), now).await?;
                }
                tx.commit().await.map_err(db)?;
                Ok(id)
            }

            async fn update_client(&self, brand: BrandId, id: ClientId, p: &ClientPatch, _by: Option<UserId>) -> RepoResult<()> {
                let mut tx = self.write_tx().await.map_err(db)?;
                self.patch_client(&mut tx, brand, id, p, now_millis()).await?;
                tx.commit().await.map_err(db)
            }

            async fn client(&self, brand: BrandId, id: ClientId) -> RepoResult<Option<Client>> {
                // Plain reads on one connection: no transaction round trips on the hottest page.
                let mut conn = self.pool.acquire().await.map_err(db)?;
                let Some(row) = sqlx::query("SELECT * FROM clients WHERE brand_id = $1 AND id = $2")
                    .bind(brand.0)
                    .bind(id.0)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db)?
                else {
                    return Ok(None);
                };
                let tags = sqlx::query_scalar::<_, String>("SELECT tag FROM client_tags WHERE client_id = $1 ORDER BY tag")
                    .bind(id.0)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(|t| Tag::parse("tag", t))
                    .collect::<Result<_, _>>()?;
                let identities = sqlx::query("SELECT brand_id, kind, value, sealed FROM client_identities WHERE client_id = $1 ORDER BY kind")
                    .bind(id.0)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(|r| {
                        Ok(Identity {
                            kind: r.try_get::<String, _>("kind").map_err(db)?.parse()?,
                            value: self.identity_value(
                                BrandId(r.try_get("brand_id").map_err(db)?),
                                r.try_get("value").map_err(db)?,
                                r.try_get("sealed").map_err(db)?,
                            )?,
                        })
                    })
                    .collect::<RepoResult<_>>()?;
                let consents = Self::current_consents(&mut conn, brand, id).await?;
                drop(conn);
                Ok(Some(Client {
                    id,
                    pii: self.open_pii(brand, &row.try_get::<Vec<u8>, _>("pii").map_err(db)?)?,
                    language: row.try_get("language").map_err(db)?,
                    city: row.try_get("city").map_err(db)?,
                    tier: row.try_get("tier").map_err(db)?,
                    lifetime_spend_minor: row.try_get("lifetime_spend_minor").map_err(db)?,
                    currency: row.try_get("currency").map_err(db)?,
                    first_purchase_at: row.try_get("first_purchase_at").map_err(db)?,
                    last_purchase_at: row.try_get("last_purchase_at").map_err(db)?,
                    store_id: row.try_get::<Option<i64>, _>("store_id").map_err(db)?.map(StoreId),
                    associate_id: row.try_get::<Option<i64>, _>("associate_id").map_err(db)?.map(UserId),
                    tags,
                    preferences: serde_json::from_str(&row.try_get::<String, _>("preferences").map_err(db)?).map_err(corrupt)?,
                    identities,
                    consents,
                    created_at: row.try_get("created_at").map_err(db)?,
                    updated_at: row.try_get("updated_at").map_err(db)?,
                }))
            }

            async fn list_clients(&self, brand: BrandId, query: &ClientQuery) -> RepoResult<Page<ClientSummary>> {
                // One statement for the page, tags included: every round trip counts here.
                let mut q = Qb::new(concat!(
                    "SELECT c.id, c.pii, c.tier, c.city, c.store_id, c.associate_id, c.lifetime_spend_minor, \
                     c.currency, c.last_purchase_at, ",
                    $tags_of_c,
                    " AS tags FROM clients c WHERE c.brand_id = "
                ));
                q.push_bind(brand.0);
                push_scope(&mut q, query.scope);
                if let Some(t) = &query.tier {
                    q.push(" AND c.tier = ").push_bind(t.clone());
                }
                if let Some(s) = query.store {
                    q.push(" AND c.store_id = ").push_bind(s.0);
                }
                if let Some(u) = query.associate {
                    q.push(" AND c.associate_id = ").push_bind(u.0);
                }
                if let Some(t) = &query.tag {
                    q.push(" AND EXISTS (SELECT 1 FROM client_tags t WHERE t.client_id = c.id AND t.tag = ")
                        .push_bind(t.to_string())
                        .push(")");
                }
                if let Some(text) = query.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                    if let Ok(phone) = Phone::parse("q", text) {
                        q.push(" AND c.phone_bidx = ").push_bind(self.keys.blind_index(brand, Purpose::Phone, phone.as_str()));
                    } else if let Ok(email) = Email::parse("q", text) {
                        q.push(" AND c.email_bidx = ").push_bind(self.keys.blind_index(brand, Purpose::Email, email.as_str()));
                    } else {
                        // Every word must match a name term, or the whole text is a CRM id.
                        q.push(" AND ((1 = 1");
                        for term in domain::search::query_terms(text) {
                            q.push(" AND EXISTS (SELECT 1 FROM client_terms x WHERE x.brand_id = ")
                                .push_bind(brand.0)
                                .push(" AND x.term = ")
                                .push_bind(self.keys.blind_index(brand, Purpose::NameTerm, &term))
                                .push(" AND x.client_id = c.id)");
                        }
                        q.push(") OR c.id IN (SELECT i.client_id FROM client_identities i WHERE i.brand_id = ")
                            .push_bind(brand.0)
                            .push(" AND i.kind = 'crm' AND i.value = ")
                            .push_bind(text.to_owned())
                            .push("))");
                    }
                }
                if let Some(after) = query.after {
                    q.push(" AND c.id > ").push_bind(after.0);
                }
                let limit = query.limit.clamp(1, 200);
                q.push(" ORDER BY c.id LIMIT ").push_bind(i64::from(limit) + 1);
                let rows = q.build().fetch_all(&self.pool).await.map_err(db)?;
                let more = rows.len() > limit as usize;
                let mut items = Vec::with_capacity(rows.len().min(limit as usize));
                for row in rows.iter().take(limit as usize) {
                    let pii = self.open_pii(brand, &row.try_get::<Vec<u8>, _>("pii").map_err(db)?)?;
                    items.push(ClientSummary {
                        id: ClientId(row.try_get("id").map_err(db)?),
                        display_name: pii.display_name(),
                        tier: row.try_get("tier").map_err(db)?,
                        city: row.try_get("city").map_err(db)?,
                        store_id: row.try_get::<Option<i64>, _>("store_id").map_err(db)?.map(StoreId),
                        associate_id: row.try_get::<Option<i64>, _>("associate_id").map_err(db)?.map(UserId),
                        lifetime_spend_minor: row.try_get("lifetime_spend_minor").map_err(db)?,
                        currency: row.try_get("currency").map_err(db)?,
                        last_purchase_at: row.try_get("last_purchase_at").map_err(db)?,
                        tags: {
                            let joined: Option<String> = row.try_get("tags").map_err(db)?;
                            let mut tags = joined
                                .as_deref()
                                .unwrap_or_default()
                                .split('\u{1f}')
                                .filter(|t| !t.is_empty())
                                .map(|t| Tag::parse("tag", t))
                                .collect::<Result<Vec<_>, _>>()?;
                            tags.sort();
                            tags
                        },
                    });
                }
                let next_cursor = if more { items.last().map(|c| c.id.0.to_string()) } else { None };
                Ok(Page { items, next_cursor })
            }

            async fn count_clients(&self, brand: BrandId, scope: Scope) -> RepoResult<i64> {
                let mut q = Qb::new("SELECT COUNT(*) FROM clients c WHERE c.brand_id = ");
                q.push_bind(brand.0);
                push_scope(&mut q, scope);
                q.build_query_scalar::<i64>().fetch_one(&self.pool).await.map_err(db)
            }

            async fn clients_by_phone(&self, brand: BrandId, phone: &Phone) -> RepoResult<Vec<ClientId>> {
                let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM clients WHERE brand_id = $1 AND phone_bidx = $2 ORDER BY id")
                    .bind(brand.0)
                    .bind(self.keys.blind_index(brand, Purpose::Phone, phone.as_str()))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(ids.into_iter().map(ClientId).collect())
            }

            async fn client_by_identity(&self, brand: BrandId, i: &Identity) -> RepoResult<Option<ClientId>> {
                let id: Option<i64> = sqlx::query_scalar(
                    "SELECT client_id FROM client_identities WHERE brand_id = $1 AND kind = $2 AND value = $3",
                )
                .bind(brand.0)
                .bind(i.kind.as_str())
                .bind(self.identity_key(brand, i.kind, &i.value))
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                Ok(id.map(ClientId))
            }

            async fn add_note(&self, brand: BrandId, client: ClientId, author: Option<UserId>, text: &str, now: Millis) -> RepoResult<NoteId> {
                let mut tx = self.write_tx().await.map_err(db)?;
                Self::client_exists(&mut tx, brand, client).await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO client_notes (brand_id, client_id, author_id, body, at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(brand.0)
                .bind(client.0)
                .bind(author.map(|a| a.0))
                .bind(self.keys.seal(brand, Purpose::Note, text.as_bytes()))
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
                Self::insert_interaction(&mut tx, brand, client, now, "note", None, serde_json::json!({"note_id": id, "author_id": author.map(|a| a.0)})).await?;
                tx.commit().await.map_err(db)?;
                Ok(NoteId(id))
            }

            async fn notes(&self, brand: BrandId, client: ClientId) -> RepoResult<Vec<Note>> {
                let rows = sqlx::query(
                    "SELECT n.id, n.author_id, u.display_name, n.body, n.at FROM client_notes n \
                     LEFT JOIN users u ON u.id = n.author_id WHERE n.brand_id = $1 AND n.client_id = $2 ORDER BY n.at DESC, n.id DESC",
                )
                .bind(brand.0)
                .bind(client.0)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter()
                    .map(|r| {
                        let body = self.keys.open(brand, Purpose::Note, &r.try_get::<Vec<u8>, _>("body").map_err(db)?).map_err(corrupt)?;
                        Ok(Note {
                            id: NoteId(r.try_get("id").map_err(db)?),
                            author_id: r.try_get::<Option<i64>, _>("author_id").map_err(db)?.map(UserId),
                            author_name: r.try_get("display_name").map_err(db)?,
                            text: String::from_utf8(body).map_err(corrupt)?,
                            at: r.try_get("at").map_err(db)?,
                        })
                    })
                    .collect()
            }

            async fn edit_tags(&self, brand: BrandId, client: ClientId, add: &[Tag], remove: &[Tag]) -> RepoResult<()> {
                let mut tx = self.write_tx().await.map_err(db)?;
                Self::client_exists(&mut tx, brand, client).await?;
                for t in remove {
                    sqlx::query("DELETE FROM client_tags WHERE client_id = $1 AND tag = $2")
                        .bind(client.0)
                        .bind(t.to_string())
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                }
                let parts = NewClient { tags: add.to_vec(), ..NewClient::default() };
                self.insert_parts(&mut tx, brand, &[(client, &parts)], now_millis()).await?;
                sqlx::query("UPDATE clients SET updated_at = $1 WHERE id = $2")
                    .bind(now_millis())
                    .bind(client.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                tx.commit().await.map_err(db)
            }

            async fn assign(&self, brand: BrandId, client: ClientId, associate: UserId, by: Option<UserId>, reason: &str) -> RepoResult<()> {
                let now = now_millis();
                let mut tx = self.write_tx().await.map_err(db)?;
                Self::client_exists(&mut tx, brand, client).await?;
                let store = Self::insert_assignment(&mut tx, brand, client, associate, by, reason, now).await?;
                Self::set_associate(&mut tx, brand, client, associate, store, now).await?;
                tx.commit().await.map_err(db)
            }

            async fn assignments(&self, brand: BrandId, client: ClientId) -> RepoResult<Vec<Assignment>> {
                let rows = sqlx::query(
                    "SELECT a.associate_id, u.display_name, a.store_id, a.assigned_by, a.reason, a.at \
                     FROM client_assignments a JOIN users u ON u.id = a.associate_id \
                     WHERE a.brand_id = $1 AND a.client_id = $2 ORDER BY a.at DESC, a.id DESC",
                )
                .bind(brand.0)
                .bind(client.0)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter()
                    .map(|r| {
                        Ok(Assignment {
                            associate_id: UserId(r.try_get("associate_id").map_err(db)?),
                            associate_name: r.try_get("display_name").map_err(db)?,
                            store_id: r.try_get::<Option<i64>, _>("store_id").map_err(db)?.map(StoreId),
                            assigned_by: r.try_get::<Option<i64>, _>("assigned_by").map_err(db)?.map(UserId),
                            reason: r.try_get("reason").map_err(db)?,
                            at: r.try_get("at").map_err(db)?,
                        })
                    })
                    .collect()
            }

            async fn add_purchases(&self, brand: BrandId, purchases: &[(ClientId, NewPurchase)]) -> RepoResult<()> {
                let mut tx = self.write_tx().await.map_err(db)?;
                for (client, p) in purchases {
                    let client = *client;
                    Self::client_exists(&mut tx, brand, client).await?;
                    sqlx::query(
                        "INSERT INTO purchases (brand_id, client_id, at, amount_minor, currency, store_id, associate_id, items) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(brand.0)
                    .bind(client.0)
                    .bind(p.at)
                    .bind(p.amount_minor)
                    .bind(p.currency.clone())
                    .bind(p.store_id.map(|s| s.0))
                    .bind(p.associate_id.map(|u| u.0))
                    .bind(serde_json::to_string(&p.items).map_err(corrupt)?)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    sqlx::query(
                        "UPDATE clients SET lifetime_spend_minor = lifetime_spend_minor + $1, currency = COALESCE(currency, $2), \
                         first_purchase_at = CASE WHEN first_purchase_at IS NULL OR first_purchase_at > $3 THEN $3 ELSE first_purchase_at END, \
                         last_purchase_at = CASE WHEN last_purchase_at IS NULL OR last_purchase_at < $3 THEN $3 ELSE last_purchase_at END \
                         WHERE brand_id = $4 AND id = $5",
                    )
                    .bind(p.amount_minor)
                    .bind(p.currency.clone())
                    .bind(p.at)
                    .bind(brand.0)
                    .bind(client.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    Self::insert_interaction(
                        &mut tx,
                        brand,
                        client,
                        p.at,
                        "purchase",
                        Some("store"),
                        serde_json::json!({"amount_minor": p.amount_minor, "currency": p.currency, "items": p.items,
                            "store_id": p.store_id.map(|s| s.0), "associate_id": p.associate_id.map(|u| u.0)}),
                    )
                    .await?;
                }
                tx.commit().await.map_err(db)
            }

            async fn timeline(&self, brand: BrandId, client: ClientId, limit: u32) -> RepoResult<Vec<TimelineEntry>> {
                let rows = sqlx::query(
                    "SELECT at, kind, channel, detail FROM interactions WHERE brand_id = $1 AND client_id = $2 \
                     ORDER BY at DESC, id DESC LIMIT $3",
                )
                .bind(brand.0)
                .bind(client.0)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter()
                    .map(|r| {
                        Ok(TimelineEntry {
                            at: r.try_get("at").map_err(db)?,
                            kind: r.try_get("kind").map_err(db)?,
                            channel: r.try_get("channel").map_err(db)?,
                            detail: serde_json::from_str(&r.try_get::<String, _>("detail").map_err(db)?).map_err(corrupt)?,
                        })
                    })
                    .collect()
            }

            async fn import_clients(&self, brand: BrandId, rows: &[NewClient], by: Option<UserId>) -> RepoResult<ImportCounts> {
                let now = now_millis();
                let mut counts = ImportCounts::default();
                let mut tx = self.write_tx().await.map_err(db)?;
                for chunk in rows.chunks(BATCH) {
                    let mut created: Vec<(ClientId, &NewClient)> = Vec::new();
                    for c in chunk {
                        let crm = c.identities.iter().find(|i| i.kind == IdentityKind::Crm).ok_or_else(|| {
                            FieldError::new("crm_id", "every imported client needs a CRM id")
                        })?;
                        let existing: Option<(i64, Option<i64>)> = sqlx::query_as(
                            "SELECT c.id, c.associate_id FROM client_identities i JOIN clients c ON c.id = i.client_id \
                             WHERE i.brand_id = $1 AND i.kind = 'crm' AND i.value = $2",
                        )
                        .bind(brand.0)
                        .bind(crm.value.clone())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db)?;
                        match existing {
                            Some((id, current_sa)) => {
                                let id = ClientId(id);
                                let patch = ClientPatch {
                                    first_name: Some(c.pii.first_name.clone()),
                                    last_name: Some(c.pii.last_name.clone()),
                                    chinese_name: Some(c.pii.chinese_name.clone()),
                                    phone: Some(c.pii.phone.clone()),
                                    email: Some(c.pii.email.clone()),
                                    birthday: Some(c.pii.birthday),
                                    language: Some(c.language.clone()),
                                    city: Some(c.city.clone()),
                                    tier: Some(c.tier.clone()),
                                    store_id: c.store_id.map(Some),
                                    preferences: Some(c.preferences.clone()),
                                    identities: c.identities.clone(),
                                    consents: c.consents.clone(),
                                };
                                self.patch_client(&mut tx, brand, id, &patch, now).await?;
                                sqlx::query(
                                    "UPDATE clients SET lifetime_spend_minor = $1, currency = $2, first_purchase_at = $3, \
                                     last_purchase_at = $4 WHERE id = $5",
                                )
                                .bind(c.lifetime_spend_minor)
                                .bind(c.currency.clone())
                                .bind(c.first_purchase_at)
                                .bind(c.last_purchase_at)
                                .bind(id.0)
                                .execute(&mut *tx)
                                .await
                                .map_err(db)?;
                                let tags = NewClient { tags: c.tags.clone(), ..NewClient::default() };
                                self.insert_parts(&mut tx, brand, &[(id, &tags)], now).await?;
                                if let Some(sa) = c.associate_id.filter(|sa| Some(sa.0) != current_sa) {
                                    let store = Self::insert_assignment(&mut tx, brand, id, sa, by, "import", now).await?;
                                    Self::set_associate(&mut tx, brand, id, sa, store.or(c.store_id), now).await?;
                                }
                                counts.updated += 1;
                            }
                            None => {
                                let id = self.insert_client(&mut tx, brand, c, now).await?;
                                created.push((id, c));
                                counts.created += 1;
                            }
                        }
                    }
                    self.insert_parts(&mut tx, brand, &created, now).await?;
                    for (id, c) in &created {
                        Self::insert_interaction(&mut tx, brand, *id, now, "imported", Some("crm"), serde_json::json!({"by": by.map(|u| u.0)})).await?;
                        if let Some(sa) = c.associate_id {
                            let store = Self::insert_assignment(&mut tx, brand, *id, sa, by, "import", now).await?;
                            Self::set_associate(&mut tx, brand, *id, sa, store.or(c.store_id), now).await?;
                        }
                    }
                }
                tx.commit().await.map_err(db)?;
                Ok(counts)
            }
        }
    };
}

pub(crate) use impl_repo;
