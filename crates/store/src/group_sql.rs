//! The group chats' part of the port ([`domain::ports::GroupStore`]) in the SQL both backends
//! accept. Member names and message bodies are sealed like a client's other data.

macro_rules! impl_group_store {
    ($Repo:ident) => {
        impl $Repo {
            fn group_message_row(&self, brand: BrandId, r: &DbRow) -> RepoResult<GroupMessage> {
                let sealed: Vec<u8> = r.try_get("sealed_body").map_err(db)?;
                let body = self.keys.open(brand, Purpose::MessageBody, &sealed).map_err(corrupt)?;
                let body = String::from_utf8(body).map_err(corrupt)?;
                let client = r.try_get::<Option<i64>, _>("client_id").map_err(db)?;
                let associate = r.try_get::<Option<i64>, _>("associate_id").map_err(db)?;
                let sender = match (client, associate) {
                    (Some(c), _) => Sender::Client(ClientId(c)),
                    (None, Some(u)) => Sender::Associate(UserId(u)),
                    (None, None) => Sender::Unknown,
                };
                let msg_type: String = r.try_get("msg_type").map_err(db)?;
                Ok(GroupMessage {
                    id: r.try_get("id").map_err(db)?,
                    group_id: r.try_get("group_id").map_err(db)?,
                    provider_id: r.try_get("provider_id").map_err(db)?,
                    sender_ref: r.try_get("sender_ref").map_err(db)?,
                    sender,
                    card: Card::of(&msg_type, &body),
                    msg_type,
                    body,
                    at: r.try_get("at").map_err(db)?,
                })
            }

            fn group_post_row(&self, r: &DbRow) -> RepoResult<GroupPost> {
                let brand = BrandId(r.try_get("brand_id").map_err(db)?);
                let sealed: Vec<u8> = r.try_get("sealed_body").map_err(db)?;
                let body = self.keys.open(brand, Purpose::MessageBody, &sealed).map_err(corrupt)?;
                let status: String = r.try_get("status").map_err(db)?;
                Ok(GroupPost {
                    id: r.try_get("id").map_err(db)?,
                    brand,
                    group_id: r.try_get("group_id").map_err(db)?,
                    associate_id: UserId(r.try_get("associate_id").map_err(db)?),
                    body: String::from_utf8(body).map_err(corrupt)?,
                    idem_key: r.try_get("idem_key").map_err(db)?,
                    status: GroupPostStatus::parse(&status).ok_or_else(|| corrupt("group post status"))?,
                    msgid: r.try_get("msgid").map_err(db)?,
                    error: r.try_get("error").map_err(db)?,
                    attempt_at: r.try_get("attempt_at").map_err(db)?,
                    created_at: r.try_get("created_at").map_err(db)?,
                    updated_at: r.try_get("updated_at").map_err(db)?,
                })
            }

            async fn group_where(&self, brand: BrandId, key: GroupKey<'_>) -> RepoResult<Option<GroupChat>> {
                let q = match key {
                    GroupKey::Id(id) => sqlx::query(
                        "SELECT g.*, u.store_id AS owner_store FROM group_chats g LEFT JOIN users u ON u.id = g.owner_id \
                         WHERE g.brand_id = $1 AND g.id = $2",
                    )
                    .bind(brand.0)
                    .bind(id),
                    GroupKey::ChatId(c) => sqlx::query(
                        "SELECT g.*, u.store_id AS owner_store FROM group_chats g LEFT JOIN users u ON u.id = g.owner_id \
                         WHERE g.brand_id = $1 AND g.chat_id = $2",
                    )
                    .bind(brand.0)
                    .bind(c.to_owned()),
                };
                let Some(r) = q.fetch_optional(&self.pool).await.map_err(db)? else {
                    return Ok(None);
                };
                let id: i64 = r.try_get("id").map_err(db)?;
                let rows = sqlx::query("SELECT * FROM group_members WHERE group_id = $1 ORDER BY joined_at, member_ref")
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                let mut members = Vec::with_capacity(rows.len());
                for m in &rows {
                    let kind: String = m.try_get("kind").map_err(db)?;
                    let sealed: Vec<u8> = m.try_get("sealed_name").map_err(db)?;
                    let name = self.keys.open(brand, Purpose::ClientPii, &sealed).map_err(corrupt)?;
                    members.push(GroupMember {
                        member_ref: m.try_get("member_ref").map_err(db)?,
                        kind: MemberKind::parse(&kind).ok_or_else(|| corrupt("group member kind"))?,
                        user_id: m.try_get::<Option<i64>, _>("user_id").map_err(db)?.map(UserId),
                        client_id: m.try_get::<Option<i64>, _>("client_id").map_err(db)?.map(ClientId),
                        name: String::from_utf8(name).map_err(corrupt)?,
                        joined_at: m.try_get("joined_at").map_err(db)?,
                    });
                }
                Ok(Some(GroupChat {
                    id,
                    chat_id: r.try_get("chat_id").map_err(db)?,
                    name: r.try_get("name").map_err(db)?,
                    owner_ref: r.try_get("owner_ref").map_err(db)?,
                    owner_id: r.try_get::<Option<i64>, _>("owner_id").map_err(db)?.map(UserId),
                    store_id: r.try_get::<Option<i64>, _>("owner_store").map_err(db)?.map(StoreId),
                    notice: r.try_get("notice").map_err(db)?,
                    created_at: r.try_get("created_at").map_err(db)?,
                    dismissed_at: r.try_get("dismissed_at").map_err(db)?,
                    members,
                }))
            }
        }

        #[async_trait]
        impl GroupStore for $Repo {
            async fn put_group(&self, brand: BrandId, g: &NewGroupChat) -> RepoResult<i64> {
                let mut tx = self.write_tx().await.map_err(db)?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO group_chats (brand_id, chat_id, name, owner_ref, owner_id, notice, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (brand_id, chat_id) DO UPDATE SET name = excluded.name, owner_ref = excluded.owner_ref, \
                     owner_id = excluded.owner_id, notice = excluded.notice, updated_at = excluded.updated_at, dismissed_at = NULL \
                     RETURNING id",
                )
                .bind(brand.0)
                .bind(&g.chat_id)
                .bind(&g.name)
                .bind(&g.owner_ref)
                .bind(g.owner_id.map(|u| u.0))
                .bind(&g.notice)
                .bind(g.created_at)
                .bind(g.at)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
                sqlx::query("DELETE FROM group_members WHERE group_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                for m in &g.members {
                    if let Some(c) = m.client_id {
                        Self::client_exists(&mut tx, brand, c).await?;
                    }
                    sqlx::query(
                        "INSERT INTO group_members (group_id, member_ref, kind, user_id, client_id, sealed_name, joined_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(&m.member_ref)
                    .bind(m.kind.as_str())
                    .bind(m.user_id.map(|u| u.0))
                    .bind(m.client_id.map(|c| c.0))
                    .bind(self.keys.seal(brand, Purpose::ClientPii, m.name.as_bytes()))
                    .bind(m.joined_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                }
                tx.commit().await.map_err(db)?;
                Ok(id)
            }

            async fn dismiss_group(&self, brand: BrandId, chat_id: &str, at: Millis) -> RepoResult<bool> {
                let done = sqlx::query(
                    "UPDATE group_chats SET dismissed_at = COALESCE(dismissed_at, $3), updated_at = $3 \
                     WHERE brand_id = $1 AND chat_id = $2",
                )
                .bind(brand.0)
                .bind(chat_id)
                .bind(at)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(done.rows_affected() > 0)
            }

            async fn group(&self, brand: BrandId, id: i64) -> RepoResult<Option<GroupChat>> {
                self.group_where(brand, GroupKey::Id(id)).await
            }

            async fn group_by_chat_id(&self, brand: BrandId, chat_id: &str) -> RepoResult<Option<GroupChat>> {
                self.group_where(brand, GroupKey::ChatId(chat_id)).await
            }

            async fn groups(
                &self,
                brand: BrandId,
                scope: Scope,
                client: Option<ClientId>,
                limit: u32,
            ) -> RepoResult<Vec<GroupSummary>> {
                let mut qb = Qb::new(
                    "SELECT * FROM (SELECT g.id, g.chat_id, g.name, g.owner_id, u.store_id AS owner_store, g.created_at, g.dismissed_at, \
                     (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id) AS n_members, \
                     (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id AND m.client_id IS NOT NULL) AS n_clients, \
                     (SELECT COUNT(*) FROM group_messages x WHERE x.group_id = g.id) AS n_messages, \
                     (SELECT MAX(x.at) FROM group_messages x WHERE x.group_id = g.id) AS last_at, \
                     (SELECT COUNT(*) FROM compliance_flags f WHERE f.group_id = g.id AND f.status = 'open') AS open_flags \
                     FROM group_chats g LEFT JOIN users u ON u.id = g.owner_id WHERE g.brand_id = ",
                );
                qb.push_bind(brand.0);
                match scope {
                    Scope::Brand => {}
                    Scope::Store(s) => {
                        qb.push(" AND u.store_id = ").push_bind(s.0);
                    }
                    Scope::Associate(a) => {
                        qb.push(" AND (g.owner_id = ")
                            .push_bind(a.0)
                            .push(" OR EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = g.id AND m.user_id = ")
                            .push_bind(a.0)
                            .push("))");
                    }
                    Scope::Nothing => {
                        qb.push(" AND 1 = 0");
                    }
                }
                if let Some(c) = client {
                    qb.push(" AND EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = g.id AND m.client_id = ")
                        .push_bind(c.0)
                        .push(")");
                }
                qb.push(") s ORDER BY COALESCE(s.last_at, s.created_at) DESC, s.id DESC LIMIT ")
                    .push_bind(i64::from(limit.clamp(1, 1000)));
                let rows = qb.build().fetch_all(&self.pool).await.map_err(db)?;
                rows.iter()
                    .map(|r| {
                        Ok(GroupSummary {
                            id: r.try_get("id").map_err(db)?,
                            chat_id: r.try_get("chat_id").map_err(db)?,
                            name: r.try_get("name").map_err(db)?,
                            owner_id: r.try_get::<Option<i64>, _>("owner_id").map_err(db)?.map(UserId),
                            store_id: r.try_get::<Option<i64>, _>("owner_store").map_err(db)?.map(StoreId),
                            members: r.try_get("n_members").map_err(db)?,
                            clients: r.try_get("n_clients").map_err(db)?,
                            messages: r.try_get("n_messages").map_err(db)?,
                            last_at: r.try_get("last_at").map_err(db)?,
                            open_flags: r.try_get("open_flags").map_err(db)?,
                            dismissed_at: r.try_get("dismissed_at").map_err(db)?,
                        })
                    })
                    .collect()
            }

            async fn add_group_messages(
                &self,
                brand: BrandId,
                messages: &[NewGroupMessage],
                at: Millis,
            ) -> RepoResult<Vec<(i64, bool)>> {
                let mut tx = self.write_tx().await.map_err(db)?;
                let mut groups = std::collections::HashSet::new();
                let mut out = Vec::with_capacity(messages.len());
                for m in messages {
                    if groups.insert(m.group_id) {
                        let found: Option<i64> =
                            sqlx::query_scalar("SELECT id FROM group_chats WHERE brand_id = $1 AND id = $2")
                                .bind(brand.0)
                                .bind(m.group_id)
                                .fetch_optional(&mut *tx)
                                .await
                                .map_err(db)?;
                        if found.is_none() {
                            return Err(RepoError::NotFound("group chat"));
                        }
                    }
                    if let Some(c) = m.sender.client() {
                        Self::client_exists(&mut tx, brand, c).await?;
                    }
                    let id: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO group_messages (brand_id, group_id, provider_id, sender_ref, client_id, associate_id, \
                         msg_type, sealed_body, at, stored_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                         ON CONFLICT DO NOTHING RETURNING id",
                    )
                    .bind(brand.0)
                    .bind(m.group_id)
                    .bind(&m.provider_id)
                    .bind(&m.sender_ref)
                    .bind(m.sender.client().map(|c| c.0))
                    .bind(m.sender.associate().map(|u| u.0))
                    .bind(&m.msg_type)
                    .bind(self.keys.seal(brand, Purpose::MessageBody, m.body.as_bytes()))
                    .bind(m.at)
                    .bind(at)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
                    match id {
                        Some(id) => out.push((id, true)),
                        None => {
                            let id: i64 = sqlx::query_scalar(
                                "SELECT id FROM group_messages WHERE brand_id = $1 AND provider_id = $2",
                            )
                            .bind(brand.0)
                            .bind(&m.provider_id)
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(db)?;
                            out.push((id, false));
                        }
                    }
                }
                tx.commit().await.map_err(db)?;
                Ok(out)
            }

            async fn group_messages(
                &self,
                brand: BrandId,
                group: i64,
                before_id: Option<i64>,
                limit: u32,
            ) -> RepoResult<Vec<GroupMessage>> {
                let rows = sqlx::query(
                    "SELECT * FROM group_messages WHERE brand_id = $1 AND group_id = $2 AND id < $3 ORDER BY id DESC LIMIT $4",
                )
                .bind(brand.0)
                .bind(group)
                .bind(before_id.unwrap_or(i64::MAX))
                .bind(i64::from(limit.clamp(1, 100_000)))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                let mut out = rows.iter().map(|r| self.group_message_row(brand, r)).collect::<RepoResult<Vec<_>>>()?;
                out.reverse();
                Ok(out)
            }

            async fn group_messages_by_ids(&self, brand: BrandId, ids: &[i64]) -> RepoResult<Vec<GroupMessage>> {
                self.by_ids("SELECT * FROM group_messages WHERE brand_id = ", brand, ids, |r| {
                    let m = self.group_message_row(brand, r)?;
                    Ok((m.id, m))
                })
                .await
            }

            async fn group_messages_for_index(
                &self,
                brand: BrandId,
                after: StreamPos,
                limit: u32,
            ) -> RepoResult<Vec<(GroupMessage, Option<StoreId>, bool, StreamPos)>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT x.*, u.store_id AS owner_store, \
                     EXISTS (SELECT 1 FROM compliance_flags f WHERE f.group_message_id = x.id) AS flagged \
                     FROM group_messages x JOIN group_chats g ON g.id = x.group_id LEFT JOIN users u ON u.id = g.owner_id \
                     WHERE x.brand_id = $1 AND (x.tx, x.id) > ($2, $3) AND x.tx < {} \
                     ORDER BY x.tx, x.id LIMIT $4",
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
                        let m = self.group_message_row(brand, r)?;
                        let pos = StreamPos { tx: r.try_get("tx").map_err(db)?, id: m.id };
                        Ok((
                            m,
                            r.try_get::<Option<i64>, _>("owner_store").map_err(db)?.map(StoreId),
                            r.try_get::<bool, _>("flagged").map_err(db)?,
                            pos,
                        ))
                    })
                    .collect()
            }

            async fn enqueue_group_post(&self, brand: BrandId, p: &NewGroupPost) -> RepoResult<GroupPost> {
                let mut tx = self.write_tx().await.map_err(db)?;
                let found: Option<i64> = sqlx::query_scalar("SELECT id FROM group_chats WHERE brand_id = $1 AND id = $2")
                    .bind(brand.0)
                    .bind(p.group_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
                if found.is_none() {
                    return Err(RepoError::NotFound("group chat"));
                }
                sqlx::query(
                    "INSERT INTO group_posts (brand_id, group_id, associate_id, sealed_body, idem_key, status, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, 'queued', $6, $6) ON CONFLICT DO NOTHING",
                )
                .bind(brand.0)
                .bind(p.group_id)
                .bind(p.associate_id.0)
                .bind(self.keys.seal(brand, Purpose::MessageBody, p.body.as_bytes()))
                .bind(&p.idem_key)
                .bind(p.at)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                let row = sqlx::query("SELECT * FROM group_posts WHERE brand_id = $1 AND idem_key = $2")
                    .bind(brand.0)
                    .bind(&p.idem_key)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
                tx.commit().await.map_err(db)?;
                let post = self.group_post_row(&row)?;
                if post.group_id != p.group_id || post.associate_id != p.associate_id {
                    return Err(RepoError::Conflict("that idempotency key was used for another post".into()));
                }
                Ok(post)
            }

            async fn group_posts(&self, brand: BrandId, group: i64, limit: u32) -> RepoResult<Vec<GroupPost>> {
                let rows = sqlx::query(
                    "SELECT * FROM group_posts WHERE brand_id = $1 AND group_id = $2 ORDER BY id DESC LIMIT $3",
                )
                .bind(brand.0)
                .bind(group)
                .bind(i64::from(limit.clamp(1, 1000)))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                let mut out = rows.iter().map(|r| self.group_post_row(r)).collect::<RepoResult<Vec<_>>>()?;
                out.reverse();
                Ok(out)
            }

            async fn group_posts_due(&self, stale_before: Millis, limit: u32) -> RepoResult<Vec<GroupPost>> {
                let rows = sqlx::query(
                    "SELECT * FROM group_posts WHERE status = 'queued' \
                     OR (status = 'sending' AND attempt_at < $1) ORDER BY id LIMIT $2",
                )
                .bind(stale_before)
                .bind(i64::from(limit.clamp(1, 1000)))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter().map(|r| self.group_post_row(r)).collect()
            }

            async fn group_post_update(
                &self,
                id: i64,
                from: GroupPostStatus,
                to: GroupPostStatus,
                msgid: Option<&str>,
                error: Option<&str>,
                at: Millis,
            ) -> RepoResult<bool> {
                let done = sqlx::query(
                    "UPDATE group_posts SET status = $3, msgid = COALESCE($4, msgid), error = $5, updated_at = $6, \
                     attempt_at = CASE WHEN $3 = 'sending' THEN $6 ELSE attempt_at END \
                     WHERE id = $1 AND status = $2",
                )
                .bind(id)
                .bind(from.as_str())
                .bind(to.as_str())
                .bind(msgid)
                .bind(error)
                .bind(at)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(done.rows_affected() > 0)
            }

            async fn archive_seq(&self, brand: BrandId) -> RepoResult<i64> {
                let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM chat_archive_cursors WHERE brand_id = $1")
                    .bind(brand.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(seq.unwrap_or(0))
            }

            async fn set_archive_seq(&self, brand: BrandId, seq: i64, at: Millis) -> RepoResult<()> {
                sqlx::query(
                    "INSERT INTO chat_archive_cursors (brand_id, seq, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (brand_id) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at \
                     WHERE chat_archive_cursors.seq < excluded.seq",
                )
                .bind(brand.0)
                .bind(seq)
                .bind(at)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }
        }
    };
}

/// How a group is looked up.
pub(crate) enum GroupKey<'a> {
    Id(i64),
    ChatId(&'a str),
}

pub(crate) use impl_group_store;
