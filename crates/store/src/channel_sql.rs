//! The channels' part of the port ([`domain::ports::ChannelStore`]) in the SQL both backends
//! accept; instantiated next to [`crate::sql::impl_repo`] for each.

macro_rules! impl_channel_store {
    ($Repo:ident) => {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct SealedSecrets {
            secret: String,
            token: String,
            /// Absent for an Official Account in plain mode.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            aes_key: Option<String>,
        }

        impl $Repo {
            fn settings_row(&self, brand: BrandId, r: &DbRow) -> RepoResult<ChannelSettings> {
                let channel: String = r.try_get("channel").map_err(db)?;
                let channel = ChannelKind::parse(&channel).ok_or_else(|| corrupt("channel"))?;
                let sealed: Vec<u8> = r.try_get("sealed_secrets").map_err(db)?;
                let secrets: SealedSecrets = serde_json::from_slice(
                    &self.keys.open(brand, Purpose::ChannelSecrets, &sealed).map_err(corrupt)?,
                )
                .map_err(corrupt)?;
                Ok(ChannelSettings {
                    channel,
                    app_id: r.try_get("app_id").map_err(db)?,
                    agent_id: r.try_get("agent_id").map_err(db)?,
                    api_base: r.try_get("api_base").map_err(db)?,
                    secret: secrets.secret,
                    token: secrets.token,
                    aes_key: secrets.aes_key,
                    menu: serde_json::from_str(&r.try_get::<String, _>("menu").map_err(db)?)
                        .map_err(corrupt)?,
                    updated_at: r.try_get("updated_at").map_err(db)?,
                })
            }

            /// Stores a message (and its timeline entry) in `tx`: `None` when its provider id
            /// is already held.
            async fn insert_message(&self, tx: &mut Tx<'_>, brand: BrandId, m: &NewMessage) -> RepoResult<Option<i64>> {
                Self::client_exists(tx, brand, m.client_id).await?;
                let id: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO messages (brand_id, client_id, channel, direction, associate_id, provider_id, msg_type, sealed_body, at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING id",
                )
                .bind(brand.0)
                .bind(m.client_id.0)
                .bind(m.channel.as_str())
                .bind(m.direction.as_str())
                .bind(m.associate_id.map(|u| u.0))
                .bind(&m.provider_id)
                .bind(&m.msg_type)
                .bind(self.keys.seal(brand, Purpose::MessageBody, m.body.as_bytes()))
                .bind(m.at)
                .fetch_optional(&mut **tx)
                .await
                .map_err(db)?;
                if let Some(id) = id {
                    Self::insert_interaction(
                        tx,
                        brand,
                        m.client_id,
                        m.at,
                        "message",
                        Some(m.channel.as_str()),
                        serde_json::json!({
                            "message_id": id,
                            "direction": m.direction.as_str(),
                            "msg_type": m.msg_type,
                            "associate_id": m.associate_id.map(|u| u.0),
                        }),
                    )
                    .await?;
                }
                Ok(id)
            }

            /// Marks an inbox entry processed, with its outcome.
            async fn close_inbox(
                conn: &mut <<DbRow as sqlx::Row>::Database as sqlx::Database>::Connection,
                id: i64,
                outcome: &str,
                at: Millis,
            ) -> RepoResult<()> {
                sqlx::query("UPDATE channel_inbox SET processed_at = $1, outcome = $2, attempts = attempts + 1 WHERE id = $3")
                    .bind(at)
                    .bind(outcome)
                    .bind(id)
                    .execute(conn)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            fn message_row(&self, brand: BrandId, r: &DbRow) -> RepoResult<Message> {
                let channel: String = r.try_get("channel").map_err(db)?;
                let direction: String = r.try_get("direction").map_err(db)?;
                let sealed: Vec<u8> = r.try_get("sealed_body").map_err(db)?;
                let body = self.keys.open(brand, Purpose::MessageBody, &sealed).map_err(corrupt)?;
                Ok(Message {
                    id: r.try_get("id").map_err(db)?,
                    client_id: ClientId(r.try_get("client_id").map_err(db)?),
                    channel: ChannelKind::parse(&channel).ok_or_else(|| corrupt("channel"))?,
                    direction: if direction == "out" { Direction::Out } else { Direction::In },
                    associate_id: r.try_get::<Option<i64>, _>("associate_id").map_err(db)?.map(UserId),
                    msg_type: r.try_get("msg_type").map_err(db)?,
                    body: String::from_utf8(body).map_err(corrupt)?,
                    at: r.try_get("at").map_err(db)?,
                    card: None,
                })
                .map(|mut m| {
                    m.card = Card::of(&m.msg_type, &m.body);
                    m
                })
            }

            fn contact_way_row(r: &DbRow) -> RepoResult<ContactWay> {
                let kind: String = r.try_get("kind").map_err(db)?;
                let tags: Vec<String> =
                    serde_json::from_str(&r.try_get::<String, _>("tags").map_err(db)?).map_err(corrupt)?;
                Ok(ContactWay {
                    id: r.try_get("id").map_err(db)?,
                    state: r.try_get("state").map_err(db)?,
                    label: r.try_get("label").map_err(db)?,
                    kind: ContactWayKind::parse(&kind).ok_or_else(|| corrupt("contact way kind"))?,
                    store_id: r.try_get::<Option<i64>, _>("store_id").map_err(db)?.map(StoreId),
                    user_id: r.try_get::<Option<i64>, _>("user_id").map_err(db)?.map(UserId),
                    tags: tags.iter().map(|t| Tag::parse("tags", t)).collect::<Result<_, _>>().map_err(corrupt)?,
                    welcome_text: r.try_get("welcome_text").map_err(db)?,
                    config_id: r.try_get("config_id").map_err(db)?,
                    qr_code: r.try_get("qr_code").map_err(db)?,
                    created_at: r.try_get("created_at").map_err(db)?,
                })
            }
        }

        #[async_trait]
        impl ChannelStore for $Repo {
            async fn put_channel_settings(&self, brand: BrandId, s: &ChannelSettings) -> RepoResult<()> {
                let secrets = serde_json::to_vec(&SealedSecrets {
                    secret: s.secret.clone(),
                    token: s.token.clone(),
                    aes_key: s.aes_key.clone(),
                })
                .map_err(corrupt)?;
                sqlx::query(
                    "INSERT INTO channel_settings (brand_id, channel, app_id, agent_id, api_base, sealed_secrets, menu, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (brand_id, channel) DO UPDATE SET \
                     app_id = excluded.app_id, agent_id = excluded.agent_id, api_base = excluded.api_base, \
                     sealed_secrets = excluded.sealed_secrets, menu = excluded.menu, updated_at = excluded.updated_at",
                )
                .bind(brand.0)
                .bind(s.channel.as_str())
                .bind(&s.app_id)
                .bind(&s.agent_id)
                .bind(&s.api_base)
                .bind(self.keys.seal(brand, Purpose::ChannelSecrets, &secrets))
                .bind(serde_json::to_string(&s.menu).map_err(corrupt)?)
                .bind(s.updated_at)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn channel_settings(&self, brand: BrandId, channel: ChannelKind) -> RepoResult<Option<ChannelSettings>> {
                let row = sqlx::query("SELECT * FROM channel_settings WHERE brand_id = $1 AND channel = $2")
                    .bind(brand.0)
                    .bind(channel.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                row.map(|r| self.settings_row(brand, &r)).transpose()
            }

            async fn inbox_put(&self, items: &[InboxItem]) -> RepoResult<Vec<Result<InboxReceipt, Replayed>>> {
                let mut tx = self.write_tx().await.map_err(db)?;
                let mut out = Vec::with_capacity(items.len());
                if let Some(now) = items.iter().filter(|i| i.replay.is_some()).map(|i| i.received_at).max() {
                    sqlx::query("DELETE FROM callback_signatures WHERE expires_at < $1")
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                }
                for it in items {
                    if let Some(guard) = &it.replay {
                        let digest = self.keys.blind_index(it.brand, Purpose::CallbackBody, &it.body);
                        let claimed: Option<i64> = sqlx::query_scalar(
                            "INSERT INTO callback_signatures (brand_id, channel, signature, body_digest, expires_at) \
                             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (brand_id, channel, signature) DO NOTHING RETURNING brand_id",
                        )
                        .bind(it.brand.0)
                        .bind(it.channel.as_str())
                        .bind(&guard.signature)
                        .bind(&digest)
                        .bind(guard.expires_at)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db)?;
                        if claimed.is_none() {
                            let seen: Vec<u8> = sqlx::query_scalar(
                                "SELECT body_digest FROM callback_signatures WHERE brand_id = $1 AND channel = $2 AND signature = $3",
                            )
                            .bind(it.brand.0)
                            .bind(it.channel.as_str())
                            .bind(&guard.signature)
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(db)?;
                            if seen != digest {
                                out.push(Err(Replayed));
                                continue;
                            }
                        }
                    }
                    let id: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO channel_inbox (brand_id, channel, dedup_key, received_at, sealed_body, attempts) \
                         VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT (brand_id, channel, dedup_key) DO NOTHING RETURNING id",
                    )
                    .bind(it.brand.0)
                    .bind(it.channel.as_str())
                    .bind(&it.dedup_key)
                    .bind(it.received_at)
                    .bind(self.keys.seal(it.brand, Purpose::InboxBody, it.body.as_bytes()))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
                    let receipt = match id {
                        Some(id) => InboxReceipt { id, fresh: true },
                        None => {
                            let id: i64 = sqlx::query_scalar(
                                "SELECT id FROM channel_inbox WHERE brand_id = $1 AND channel = $2 AND dedup_key = $3",
                            )
                            .bind(it.brand.0)
                            .bind(it.channel.as_str())
                            .bind(&it.dedup_key)
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(db)?;
                            InboxReceipt { id, fresh: false }
                        }
                    };
                    out.push(Ok(receipt));
                }
                tx.commit().await.map_err(db)?;
                Ok(out)
            }

            async fn inbox_pending(&self, limit: u32, max_attempts: i32) -> RepoResult<Vec<InboxEntry>> {
                let rows = sqlx::query(
                    "SELECT id, brand_id, channel, dedup_key, received_at, sealed_body, attempts FROM channel_inbox \
                     WHERE processed_at IS NULL AND attempts < $1 ORDER BY id LIMIT $2",
                )
                .bind(i64::from(max_attempts))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter()
                    .map(|r| {
                        let brand = BrandId(r.try_get("brand_id").map_err(db)?);
                        let channel: String = r.try_get("channel").map_err(db)?;
                        let sealed: Vec<u8> = r.try_get("sealed_body").map_err(db)?;
                        let body = self.keys.open(brand, Purpose::InboxBody, &sealed).map_err(corrupt)?;
                        Ok(InboxEntry {
                            id: r.try_get("id").map_err(db)?,
                            attempts: i32::try_from(r.try_get::<i64, _>("attempts").map_err(db)?).unwrap_or(i32::MAX),
                            item: InboxItem {
                                brand,
                                channel: ChannelKind::parse(&channel).ok_or_else(|| corrupt("channel"))?,
                                dedup_key: r.try_get("dedup_key").map_err(db)?,
                                received_at: r.try_get("received_at").map_err(db)?,
                                body: String::from_utf8(body).map_err(corrupt)?,
                                replay: None,
                            },
                        })
                    })
                    .collect()
            }

            async fn inbox_done(&self, id: i64, outcome: &str, at: Millis) -> RepoResult<()> {
                let mut conn = self.pool.acquire().await.map_err(db)?;
                Self::close_inbox(&mut *conn, id, outcome, at).await
            }

            async fn inbox_failed(&self, id: i64, error: &str) -> RepoResult<()> {
                sqlx::query("UPDATE channel_inbox SET attempts = attempts + 1, outcome = $1 WHERE id = $2")
                    .bind(error)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn inbox_counts(&self, brand: BrandId, channel: ChannelKind, max_attempts: i32) -> RepoResult<InboxCounts> {
                let r = sqlx::query(
                    "SELECT COUNT(*) AS received, \
                     COALESCE(SUM(CASE WHEN processed_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS processed, \
                     COALESCE(SUM(CASE WHEN processed_at IS NULL AND attempts < $2 THEN 1 ELSE 0 END), 0) AS pending \
                     FROM channel_inbox WHERE brand_id = $1 AND channel = $3",
                )
                .bind(brand.0)
                .bind(i64::from(max_attempts))
                .bind(channel.as_str())
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
                let received: i64 = r.try_get("received").map_err(db)?;
                let processed: i64 = r.try_get("processed").map_err(db)?;
                let pending: i64 = r.try_get("pending").map_err(db)?;
                Ok(InboxCounts { received, processed, pending, failed: received - processed - pending })
            }

            async fn create_contact_way(&self, brand: BrandId, w: &NewContactWay) -> RepoResult<ContactWay> {
                let tags: Vec<&str> = w.tags.iter().map(|t| t.as_str()).collect();
                let row = sqlx::query(
                    "INSERT INTO contact_ways (brand_id, state, label, kind, store_id, user_id, tags, welcome_text, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *",
                )
                .bind(brand.0)
                .bind(&w.state)
                .bind(&w.label)
                .bind(w.kind.as_str())
                .bind(w.store_id.map(|s| s.0))
                .bind(w.user_id.map(|u| u.0))
                .bind(serde_json::to_string(&tags).map_err(corrupt)?)
                .bind(&w.welcome_text)
                .bind(now_millis())
                .fetch_one(&self.pool)
                .await
                .map_err(|e| conflict(e, "a channel QR code with this state already exists"))?;
                Self::contact_way_row(&row)
            }

            async fn set_contact_way_code(&self, brand: BrandId, id: i64, config_id: &str, qr_code: &str) -> RepoResult<()> {
                sqlx::query("UPDATE contact_ways SET config_id = $1, qr_code = $2 WHERE brand_id = $3 AND id = $4")
                    .bind(config_id)
                    .bind(qr_code)
                    .bind(brand.0)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn contact_ways(&self, brand: BrandId) -> RepoResult<Vec<ContactWay>> {
                let rows = sqlx::query("SELECT * FROM contact_ways WHERE brand_id = $1 ORDER BY id")
                    .bind(brand.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                rows.iter().map(Self::contact_way_row).collect()
            }

            async fn contact_way_by_state(&self, brand: BrandId, state: &str) -> RepoResult<Option<ContactWay>> {
                let row = sqlx::query("SELECT * FROM contact_ways WHERE brand_id = $1 AND state = $2")
                    .bind(brand.0)
                    .bind(state)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                row.as_ref().map(Self::contact_way_row).transpose()
            }

            async fn link_staff(&self, brand: BrandId, user: UserId, kind: &str, value: &str) -> RepoResult<()> {
                let mut tx = self.write_tx().await.map_err(db)?;
                sqlx::query("DELETE FROM staff_identities WHERE brand_id = $1 AND kind = $2 AND (user_id = $3 OR value = $4)")
                    .bind(brand.0)
                    .bind(kind)
                    .bind(user.0)
                    .bind(value)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                sqlx::query("INSERT INTO staff_identities (brand_id, kind, value, user_id) VALUES ($1, $2, $3, $4)")
                    .bind(brand.0)
                    .bind(kind)
                    .bind(value)
                    .bind(user.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                tx.commit().await.map_err(db)?;
                Ok(())
            }

            async fn staff_by_provider_id(&self, brand: BrandId, kind: &str, value: &str) -> RepoResult<Option<UserId>> {
                let id: Option<i64> = sqlx::query_scalar(
                    "SELECT user_id FROM staff_identities WHERE brand_id = $1 AND kind = $2 AND value = $3",
                )
                .bind(brand.0)
                .bind(kind)
                .bind(value)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                Ok(id.map(UserId))
            }

            async fn staff_provider_ids(&self, brand: BrandId, kind: &str) -> RepoResult<Vec<(UserId, String)>> {
                let rows: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT user_id, value FROM staff_identities WHERE brand_id = $1 AND kind = $2 ORDER BY value",
                )
                .bind(brand.0)
                .bind(kind)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                Ok(rows.into_iter().map(|(u, v)| (UserId(u), v)).collect())
            }

            async fn add_message(&self, brand: BrandId, m: &NewMessage) -> RepoResult<Option<i64>> {
                let mut tx = self.write_tx().await.map_err(db)?;
                let id = self.insert_message(&mut tx, brand, m).await?;
                tx.commit().await.map_err(db)?;
                Ok(id)
            }

            async fn identities_of_kind(&self, brand: BrandId, kind: IdentityKind) -> RepoResult<Vec<(ClientId, String)>> {
                let rows: Vec<(i64, String, Option<Vec<u8>>)> = sqlx::query_as(
                    "SELECT client_id, value, sealed FROM client_identities WHERE brand_id = $1 AND kind = $2 ORDER BY client_id",
                )
                .bind(brand.0)
                .bind(kind.as_str())
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.into_iter()
                    .map(|(c, v, sealed)| Ok((ClientId(c), self.identity_value(brand, v, sealed)?)))
                    .collect()
            }

            async fn clients_by_identities(
                &self,
                brand: BrandId,
                kind: IdentityKind,
                values: &[String],
            ) -> RepoResult<Vec<(String, ClientId, Option<UserId>)>> {
                let mut out = Vec::with_capacity(values.len());
                // Looked up under their keys where the kind is keyed; answered with the values asked.
                let keyed: std::collections::HashMap<String, &String> =
                    values.iter().map(|v| (self.identity_key(brand, kind, v), v)).collect();
                let keys: Vec<&String> = keyed.keys().collect();
                for chunk in keys.chunks(BATCH) {
                    let mut qb = Qb::new(
                        "SELECT i.value, i.client_id, c.associate_id FROM client_identities i \
                         JOIN clients c ON c.id = i.client_id WHERE i.brand_id = ",
                    );
                    qb.push_bind(brand.0).push(" AND i.kind = ").push_bind(kind.as_str()).push(" AND i.value IN (");
                    let mut sep = qb.separated(", ");
                    for v in chunk {
                        sep.push_bind((*v).clone());
                    }
                    qb.push(")");
                    for r in qb.build().fetch_all(&self.pool).await.map_err(db)? {
                        let key: String = r.try_get("value").map_err(db)?;
                        out.push((
                            keyed.get(&key).map_or(key.clone(), |v| (*v).clone()),
                            ClientId(r.try_get("client_id").map_err(db)?),
                            r.try_get::<Option<i64>, _>("associate_id").map_err(db)?.map(UserId),
                        ));
                    }
                }
                Ok(out)
            }

            async fn client_assignment(&self, brand: BrandId, client: ClientId) -> RepoResult<Option<(Option<UserId>, Option<StoreId>)>> {
                let row: Option<(Option<i64>, Option<i64>)> =
                    sqlx::query_as("SELECT associate_id, store_id FROM clients WHERE brand_id = $1 AND id = $2")
                        .bind(brand.0)
                        .bind(client.0)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?;
                Ok(row.map(|(a, s)| (a.map(UserId), s.map(StoreId))))
            }

            async fn store_inbound(&self, brand: BrandId, batch: &[InboundMessage], at: Millis) -> RepoResult<Vec<i64>> {
                let mut tx = self.write_tx().await.map_err(db)?;
                let events: Vec<StoredEvent> = batch.iter().filter_map(|m| m.event.clone()).collect();
                self.insert_events(&mut tx, brand, &events).await?;
                let mut ids = Vec::with_capacity(batch.len());
                for m in batch {
                    let (id, outcome) = match self.insert_message(&mut tx, brand, &m.message).await? {
                        Some(id) => (id, format!("message {id} stored for client {}", m.message.client_id)),
                        None => {
                            let id: i64 = sqlx::query_scalar(
                                "SELECT id FROM messages WHERE brand_id = $1 AND channel = $2 AND provider_id = $3",
                            )
                            .bind(brand.0)
                            .bind(m.message.channel.as_str())
                            .bind(&m.message.provider_id)
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(db)?;
                            (id, "message already stored".to_owned())
                        }
                    };
                    Self::close_inbox(&mut *tx, m.inbox_id, &outcome, at).await?;
                    ids.push(id);
                }
                tx.commit().await.map_err(db)?;
                Ok(ids)
            }

            async fn messages(&self, brand: BrandId, client: ClientId, limit: u32) -> RepoResult<Vec<Message>> {
                let rows = sqlx::query(
                    "SELECT id, client_id, channel, direction, associate_id, msg_type, sealed_body, at FROM messages \
                     WHERE brand_id = $1 AND client_id = $2 ORDER BY at DESC, id DESC LIMIT $3",
                )
                .bind(brand.0)
                .bind(client.0)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter().map(|r| self.message_row(brand, r)).collect()
            }

            async fn add_interaction(&self, brand: BrandId, e: &NewInteraction) -> RepoResult<bool> {
                let mut tx = self.write_tx().await.map_err(db)?;
                Self::client_exists(&mut tx, brand, e.client_id).await?;
                let done = sqlx::query(
                    "INSERT INTO interactions (brand_id, client_id, at, kind, channel, detail, ref) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(brand.0)
                .bind(e.client_id.0)
                .bind(e.at)
                .bind(&e.kind)
                .bind(&e.channel)
                .bind(e.detail.to_string())
                .bind(&e.reference)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use impl_channel_store;
