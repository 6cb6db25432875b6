//! The broadcasts' part of the port ([`domain::ports::BroadcastStore`]) in the SQL both
//! backends accept. Planning a campaign and forming a batch are serialised: the write transaction
//! (`write_tx`: SQLite's `BEGIN IMMEDIATE` takes the write lock at once) and `$lock` then runs
//! with a key (PostgreSQL takes a transaction-scoped advisory lock on it).

/// Advisory-lock keys, apart from the audit log's (which are brand ids).
pub(crate) const PLAN_LOCK_BASE: i64 = 1 << 40;
pub(crate) const CLAIM_LOCK: i64 = (1 << 41) + 1;
/// Rows per multi-row INSERT: well under both backends' limit of bound parameters.
pub(crate) const SEND_ROWS: usize = 1_000;
/// An asset's columns with what came of it: sends, clients, clients it reached (a campaign
/// send WeCom confirmed delivered, or a one-to-one send the channel took) and clients who
/// wrote back within a week of receiving it (from the second it was sent: WeChat gives
/// message times in whole seconds).
macro_rules! asset_columns {
    () => {
        "a.*, \
    (SELECT COUNT(*) FROM asset_uses u WHERE u.asset_id = a.id) AS uses, \
    (SELECT COUNT(DISTINCT u.client_id) FROM asset_uses u WHERE u.asset_id = a.id) AS clients, \
    (SELECT COUNT(DISTINCT u.client_id) FROM asset_uses u WHERE u.asset_id = a.id AND (u.campaign_id IS NULL \
      OR EXISTS (SELECT 1 FROM campaign_sends s WHERE s.campaign_id = u.campaign_id AND s.client_id = u.client_id \
      AND s.delivered_at IS NOT NULL))) AS delivered, \
    (SELECT COUNT(DISTINCT u.client_id) FROM asset_uses u WHERE u.asset_id = a.id AND EXISTS (SELECT 1 FROM messages m \
      WHERE m.client_id = u.client_id AND m.direction = 'in' AND m.at >= u.at / 1000 * 1000 AND m.at <= u.at + 604800000)) AS replies"
    };
}
pub(crate) use asset_columns;
/// Clients per stored list of suppressed clients.
pub(crate) const LIST_CLIENTS: usize = 50_000;

/// A list of client ids as stored in a batch or a suppression: decimal, comma-separated.
pub(crate) fn members_text(ids: &[i64]) -> String {
    let mut out = String::with_capacity(ids.len() * 8);
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&id.to_string());
    }
    out
}

/// The ids of a list written by [`members_text`].
pub(crate) fn parse_members(text: &str) -> domain::ports::RepoResult<Vec<i64>> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|id| id.parse::<i64>().map_err(crate::corrupt))
        .collect()
}

macro_rules! impl_broadcast_store {
    ($Repo:ident, $lock:literal) => {
        impl $Repo {
            fn segment_row(r: &DbRow) -> RepoResult<Segment> {
                Ok(Segment {
                    id: r.try_get("id").map_err(db)?,
                    name: r.try_get("name").map_err(db)?,
                    expression: r.try_get("expression").map_err(db)?,
                    created_by: r.try_get::<Option<i64>, _>("created_by").map_err(db)?.map(UserId),
                    updated_at: r.try_get("updated_at").map_err(db)?,
                })
            }

            fn campaign_row(r: &DbRow) -> RepoResult<Campaign> {
                let text = |c: &str| r.try_get::<String, _>(c).map_err(db);
                Ok(Campaign {
                    id: r.try_get("id").map_err(db)?,
                    name: text("name")?,
                    kind: CampaignKind::parse(&text("kind")?).ok_or_else(|| corrupt("campaign kind"))?,
                    segment_id: r.try_get("segment_id").map_err(db)?,
                    expression: text("expression")?,
                    channel: ChannelKind::parse(&text("channel")?).ok_or_else(|| corrupt("campaign channel"))?,
                    template: Template::parse(&text("template")?).map_err(corrupt)?,
                    asset_ids: serde_json::from_str(&text("asset_ids")?).map_err(corrupt)?,
                    send_at: r.try_get("send_at").map_err(db)?,
                    max_recipients: r
                        .try_get::<Option<i64>, _>("max_recipients")
                        .map_err(db)?
                        .map(|m| u32::try_from(m).unwrap_or(u32::MAX)),
                    status: CampaignStatus::parse(&text("status")?).ok_or_else(|| corrupt("campaign status"))?,
                    created_by: r.try_get::<Option<i64>, _>("created_by").map_err(db)?.map(UserId),
                    created_at: r.try_get("created_at").map_err(db)?,
                    planned_at: r.try_get("planned_at").map_err(db)?,
                })
            }

            /// A batch with its sends, their addresses and the associate's account.
            fn asset_row(r: &DbRow) -> RepoResult<Asset> {
                let text = |c: &str| r.try_get::<String, _>(c).map_err(db);
                let tags: Vec<String> = serde_json::from_str(&text("tags")?).map_err(corrupt)?;
                Ok(Asset {
                    id: r.try_get("id").map_err(db)?,
                    title: text("title")?,
                    caption_zh: text("caption_zh")?,
                    caption_en: text("caption_en")?,
                    talking_points: text("talking_points")?,
                    guidelines: text("guidelines")?,
                    tags: tags.iter().map(|t| Tag::parse("tag", t)).collect::<Result<_, _>>().map_err(corrupt)?,
                    collection: r.try_get("collection").map_err(db)?,
                    valid_from: r.try_get("valid_from").map_err(db)?,
                    valid_to: r.try_get("valid_to").map_err(db)?,
                    status: AssetStatus::parse(&text("status")?).ok_or_else(|| corrupt("asset status"))?,
                    file: AssetFile {
                        name: text("file_name")?,
                        thumb: text("thumb_name")?,
                        mime: text("mime")?,
                        bytes: r.try_get("bytes").map_err(db)?,
                        width: r.try_get("width").map_err(db)?,
                        height: r.try_get("height").map_err(db)?,
                    },
                    created_by: r.try_get::<Option<i64>, _>("created_by").map_err(db)?.map(UserId),
                    created_at: r.try_get("created_at").map_err(db)?,
                    updated_at: r.try_get("updated_at").map_err(db)?,
                    uses: r.try_get("uses").map_err(db)?,
                    clients: r.try_get("clients").map_err(db)?,
                    delivered: r.try_get("delivered").map_err(db)?,
                    replies: r.try_get("replies").map_err(db)?,
                    in_moments: MomentOutcome::default(),
                })
            }

            fn moment_row(r: &DbRow) -> RepoResult<Moment> {
                let senders: String = r.try_get("senders").map_err(db)?;
                let senders: Vec<i64> = serde_json::from_str(&senders).map_err(corrupt)?;
                let status: String = r.try_get("status").map_err(db)?;
                Ok(Moment {
                    id: r.try_get("id").map_err(db)?,
                    brand: BrandId(r.try_get("brand_id").map_err(db)?),
                    text: r.try_get("text").map_err(db)?,
                    senders: senders.into_iter().map(UserId).collect(),
                    asset_ids: serde_json::from_str(&r.try_get::<String, _>("asset_ids").map_err(db)?).map_err(corrupt)?,
                    status: MomentStatus::parse(&status).ok_or_else(|| corrupt("moment status"))?,
                    jobid: r.try_get("jobid").map_err(db)?,
                    moment_id: r.try_get("moment_id").map_err(db)?,
                    error: r.try_get("error").map_err(db)?,
                    attempt_at: r.try_get("attempt_at").map_err(db)?,
                    created_by: r.try_get::<Option<i64>, _>("created_by").map_err(db)?.map(UserId),
                    created_at: r.try_get("created_at").map_err(db)?,
                    updated_at: r.try_get("updated_at").map_err(db)?,
                    reach: match r.try_get::<Option<String>, _>("reach").map_err(db)? {
                        Some(json) => serde_json::from_str(&json).map_err(corrupt)?,
                        None => Vec::new(),
                    },
                    checked_at: r.try_get("checked_at").map_err(db)?,
                })
            }

            async fn load_batch(
                &self,
                conn: &mut <<DbRow as sqlx::Row>::Database as sqlx::Database>::Connection,
                id: i64,
            ) -> RepoResult<SendBatch> {
                let b = sqlx::query(
                    "SELECT b.*, (SELECT s.value FROM staff_identities s WHERE s.brand_id = b.brand_id \
                     AND s.kind = c.channel AND s.user_id = b.associate_id) AS sender \
                     FROM send_batches b JOIN campaigns c ON c.id = b.campaign_id WHERE b.id = $1",
                )
                .bind(id)
                .fetch_one(&mut *conn)
                .await
                .map_err(db)?;
                let brand = BrandId(b.try_get("brand_id").map_err(db)?);
                let body = match b.try_get::<Option<Vec<u8>>, _>("sealed_body").map_err(db)? {
                    Some(sealed) => Some(
                        String::from_utf8(self.keys.open(brand, Purpose::MessageBody, &sealed).map_err(corrupt)?)
                            .map_err(corrupt)?,
                    ),
                    None => None,
                };
                let sends = sqlx::query(
                    "SELECT s.id, s.client_id, (SELECT i.value FROM client_identities i WHERE i.client_id = s.client_id \
                     AND i.kind = c.channel ORDER BY i.created_at LIMIT 1) AS address, \
                     (SELECT i.sealed FROM client_identities i WHERE i.client_id = s.client_id \
                     AND i.kind = c.channel ORDER BY i.created_at LIMIT 1) AS address_sealed \
                     FROM campaign_sends s JOIN campaigns c ON c.id = s.campaign_id WHERE s.batch_id = $1 ORDER BY s.id",
                )
                .bind(id)
                .fetch_all(&mut *conn)
                .await
                .map_err(db)?;
                Ok(SendBatch {
                    id,
                    brand,
                    campaign_id: b.try_get("campaign_id").map_err(db)?,
                    associate_id: UserId(b.try_get("associate_id").map_err(db)?),
                    sender: b.try_get::<Option<String>, _>("sender").map_err(db)?.unwrap_or_default(),
                    sends: sends
                        .iter()
                        .map(|r| {
                            Ok((
                                r.try_get("id").map_err(db)?,
                                ClientId(r.try_get("client_id").map_err(db)?),
                                match r.try_get::<Option<String>, _>("address").map_err(db)? {
                                    Some(v) => self.identity_value(brand, v, r.try_get("address_sealed").map_err(db)?)?,
                                    None => String::new(),
                                },
                            ))
                        })
                        .collect::<RepoResult<_>>()?,
                    body,
                    attempt_at: b.try_get("attempt_at").map_err(db)?,
                    attempts: b.try_get("attempts").map_err(db)?,
                })
            }

            /// The campaign's clients that have no send row yet: those planned in batches not
            /// handed over, and those suppressed, as (client, associate, status, reason).
            async fn listed_clients(
                &self,
                conn: &mut <<DbRow as sqlx::Row>::Database as sqlx::Database>::Connection,
                brand: BrandId,
                campaign: i64,
            ) -> RepoResult<Vec<(i64, Option<i64>, SendStatus, Option<String>)>> {
                let mut out = Vec::new();
                let planned: Vec<(i64, Option<String>)> = sqlx::query_as(
                    "SELECT associate_id, members FROM send_batches WHERE brand_id = $1 AND campaign_id = $2 \
                     AND status = 'planned' ORDER BY id",
                )
                .bind(brand.0)
                .bind(campaign)
                .fetch_all(&mut *conn)
                .await
                .map_err(db)?;
                for (sa, members) in planned {
                    for c in $crate::broadcast_sql::parse_members(members.as_deref().unwrap_or(""))? {
                        out.push((c, Some(sa), SendStatus::Planned, None));
                    }
                }
                let suppressed: Vec<(String, String)> = sqlx::query_as(
                    "SELECT s.reason, s.members FROM campaign_suppressions s JOIN campaigns c ON c.id = s.campaign_id \
                     WHERE c.brand_id = $1 AND s.campaign_id = $2 ORDER BY s.id",
                )
                .bind(brand.0)
                .bind(campaign)
                .fetch_all(&mut *conn)
                .await
                .map_err(db)?;
                for (reason, members) in suppressed {
                    for c in $crate::broadcast_sql::parse_members(&members)? {
                        out.push((c, None, SendStatus::Suppressed, Some(reason.clone())));
                    }
                }
                Ok(out)
            }

            /// Stores clients left out of a campaign for `reason`.
            async fn insert_suppressed(
                &self,
                conn: &mut <<DbRow as sqlx::Row>::Database as sqlx::Database>::Connection,
                campaign: i64,
                reason: &str,
                clients: &[i64],
            ) -> RepoResult<()> {
                for chunk in clients.chunks($crate::broadcast_sql::LIST_CLIENTS) {
                    sqlx::query("INSERT INTO campaign_suppressions (campaign_id, reason, size, members) VALUES ($1, $2, $3, $4)")
                        .bind(campaign)
                        .bind(reason)
                        .bind(chunk.len() as i64)
                        .bind($crate::broadcast_sql::members_text(chunk))
                        .execute(&mut *conn)
                        .await
                        .map_err(db)?;
                }
                Ok(())
            }

            /// What the clients' facts are at: (clients, their latest update and consent),
            /// (identities), (messages).
            async fn facts_version_in(
                &self,
                conn: &mut <<DbRow as sqlx::Row>::Database as sqlx::Database>::Connection,
                brand: BrandId,
            ) -> RepoResult<(i64, i64, i64)> {
                let (n, updated): (i64, Option<i64>) =
                    sqlx::query_as("SELECT COUNT(*), MAX(updated_at) FROM clients WHERE brand_id = $1")
                        .bind(brand.0)
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(db)?;
                let consents: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM client_consents WHERE brand_id = $1")
                    .bind(brand.0)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db)?;
                let identities: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM client_identities WHERE brand_id = $1")
                    .bind(brand.0)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db)?;
                let messages: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM messages WHERE brand_id = $1")
                    .bind(brand.0)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db)?;
                Ok((
                    n,
                    updated.unwrap_or(0) ^ consents.unwrap_or(0).rotate_left(20) ^ identities.rotate_left(40),
                    messages.unwrap_or(0),
                ))
            }

            async fn try_plan(
                &self,
                brand: BrandId,
                campaign: i64,
                audience: &Audience,
                planner: &Planner,
                at: Millis,
            ) -> RepoResult<PlanCounts> {
                let started = std::time::Instant::now();
                let mut tx = self.write_tx().await.map_err(db)?;
                sqlx::query($lock)
                    .bind($crate::broadcast_sql::PLAN_LOCK_BASE + brand.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                let c = sqlx::query("SELECT * FROM campaigns WHERE brand_id = $1 AND id = $2")
                    .bind(brand.0)
                    .bind(campaign)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?
                    .ok_or(RepoError::NotFound("campaign"))?;
                let c = Self::campaign_row(&c)?;
                if matches!(c.status, CampaignStatus::Done | CampaignStatus::Cancelled) {
                    return Err(RepoError::Conflict(format!("the campaign is {}", c.status.as_str())));
                }
                let channel = c.channel.as_str();
                if self.facts_version_in(&mut tx, brand).await? != audience.version {
                    return Err(RepoError::Stale("the clients' facts"));
                }
                let wanted: std::collections::HashSet<i64> =
                    audience.candidates.iter().map(|c| c.client_id.0).collect();
                let mut already: std::collections::HashSet<i64> =
                    sqlx::query_scalar::<_, i64>("SELECT client_id FROM campaign_sends WHERE campaign_id = $1")
                        .bind(campaign)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db)?
                        .into_iter()
                        .collect();
                already.extend(self.listed_clients(&mut tx, brand, campaign).await?.into_iter().map(|l| l.0));
                // Broadcast days from five weeks back: enough for the month and week caps.
                let from_day = day_number(
                    jiff::Timestamp::from_millisecond(at)
                        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date())
                        .unwrap_or_default(),
                ) - 40;
                let mut days: std::collections::HashMap<i64, Vec<i32>> = std::collections::HashMap::new();
                let mut sa_days: std::collections::HashMap<(i64, i32), u32> = std::collections::HashMap::new();
                let rows = sqlx::query(
                    "SELECT client_id, associate_id, cap_day FROM campaign_sends WHERE brand_id = $1 AND cap_day >= $2",
                )
                .bind(brand.0)
                .bind(from_day)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
                for r in &rows {
                    let client: i64 = r.try_get("client_id").map_err(db)?;
                    let day: i32 = r.try_get("cap_day").map_err(db)?;
                    if let Some(sa) = r.try_get::<Option<i64>, _>("associate_id").map_err(db)? {
                        *sa_days.entry((sa, day)).or_default() += 1;
                    }
                    if wanted.contains(&client) {
                        days.entry(client).or_default().push(day);
                    }
                }
                // Batches planned and not handed over yet have no send rows: their lists count.
                let planned: Vec<(i64, i32, Option<String>)> = sqlx::query_as(
                    "SELECT associate_id, cap_day, members FROM send_batches \
                     WHERE brand_id = $1 AND status = 'planned' AND cap_day >= $2",
                )
                .bind(brand.0)
                .bind(from_day)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
                for (sa, day, members) in planned {
                    let members = $crate::broadcast_sql::parse_members(members.as_deref().unwrap_or(""))?;
                    *sa_days.entry((sa, day)).or_default() += members.len() as u32;
                    for client in members {
                        if wanted.contains(&client) {
                            days.entry(client).or_default().push(day);
                        }
                    }
                }
                tracing::debug!(ms = started.elapsed().as_millis() as u64, "plan: broadcast days read");
                let senders: std::collections::HashSet<i64> = sqlx::query_scalar::<_, i64>(
                    "SELECT user_id FROM staff_identities WHERE brand_id = $1 AND kind = $2",
                )
                .bind(brand.0)
                .bind(channel)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?
                .into_iter()
                .collect();
                let zones = audience.zones.clone();
                let mut counts = PlanCounts::default();
                let mut candidates = Vec::with_capacity(audience.candidates.len());
                for cand in &audience.candidates {
                    if already.contains(&cand.client_id.0) {
                        counts.already += 1;
                        continue;
                    }
                    let mut cand = cand.clone();
                    cand.has_sender = cand.associate.is_some_and(|u| senders.contains(&u.0));
                    cand.broadcast_days = days.remove(&cand.client_id.0).unwrap_or_default();
                    candidates.push(cand);
                }
                tracing::debug!(ms = started.elapsed().as_millis() as u64, "plan: candidates built");
                let decisions = planner(&candidates, &zones, &sa_days);
                tracing::debug!(ms = started.elapsed().as_millis() as u64, "plan: decided");
                if decisions.len() != candidates.len() {
                    return Err(RepoError::Backend("the planner decided for a different number of clients".into()));
                }
                // The planned clients, as batches of one associate, day and time, in the
                // candidates' order; the suppressed ones, by reason.
                // A text that differs per client is still planned in batches; the claim hands
                // its clients over one at a time.
                let per_batch = audience.per_batch.max(1);
                let mut groups: Vec<((i64, i32, Millis), Vec<i64>)> = Vec::new();
                let mut group_of: std::collections::HashMap<(i64, i32, Millis), usize> =
                    std::collections::HashMap::new();
                let mut suppressed: std::collections::BTreeMap<&'static str, Vec<i64>> =
                    std::collections::BTreeMap::new();
                for (cand, d) in candidates.iter().zip(&decisions) {
                    match d {
                        Decision::Send { day, not_before } => {
                            // One broadcast per client and day, whatever the planner said.
                            if cand.broadcast_days.contains(day) {
                                return Err(RepoError::Conflict(
                                    "a client would receive two broadcasts on one day".into(),
                                ));
                            }
                            let sa = cand.associate.ok_or_else(|| {
                                RepoError::Backend("a send was planned for a client without an associate".into())
                            })?;
                            let key = (sa.0, *day, *not_before);
                            let i = *group_of.entry(key).or_insert_with(|| {
                                groups.push((key, Vec::new()));
                                groups.len() - 1
                            });
                            groups[i].1.push(cand.client_id.0);
                        }
                        Decision::Suppress(s) => suppressed.entry(s.as_str()).or_default().push(cand.client_id.0),
                    }
                }
                let batches: Vec<(&(i64, i32, Millis), &[i64])> = groups
                    .iter()
                    .flat_map(|(key, clients)| clients.chunks(per_batch).map(move |c| (key, c)))
                    .collect();
                for chunk in batches.chunks($crate::broadcast_sql::SEND_ROWS) {
                    let mut qb = Qb::new(
                        "INSERT INTO send_batches (brand_id, campaign_id, associate_id, status, attempts, next_at, \
                         lease_until, created_at, members, size, cap_day) ",
                    );
                    qb.push_values(chunk, |mut row, ((sa, day, not_before), clients)| {
                        row.push_bind(brand.0)
                            .push_bind(campaign)
                            .push_bind(*sa)
                            .push_bind("planned")
                            .push_bind(0_i32)
                            .push_bind(*not_before)
                            .push_bind(0_i64)
                            .push_bind(at)
                            .push_bind($crate::broadcast_sql::members_text(clients))
                            .push_bind(clients.len() as i64)
                            .push_bind(*day);
                    });
                    qb.build().execute(&mut *tx).await.map_err(db)?;
                }
                for (reason, clients) in &suppressed {
                    self.insert_suppressed(&mut tx, campaign, reason, clients).await?;
                }
                tracing::debug!(ms = started.elapsed().as_millis() as u64, "plan: sends written");
                for d in &decisions {
                    match d {
                        Decision::Send { .. } => counts.planned += 1,
                        Decision::Suppress(_) => counts.suppressed += 1,
                    }
                }
                sqlx::query(
                    "UPDATE campaigns SET status = 'planned', planned_at = COALESCE(planned_at, $3) WHERE brand_id = $1 AND id = $2",
                )
                .bind(brand.0)
                .bind(campaign)
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)?;
                tracing::debug!(ms = started.elapsed().as_millis() as u64, "plan: committed");
                Ok(counts)
            }
        }

        #[async_trait]
        impl BroadcastStore for $Repo {
            async fn contact_policy(&self, brand: BrandId) -> RepoResult<ContactPolicy> {
                let r = sqlx::query("SELECT * FROM contact_policies WHERE brand_id = $1")
                    .bind(brand.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                let Some(r) = r else { return Ok(ContactPolicy::default()) };
                let n = |c: &str| r.try_get::<i64, _>(c).map_err(db);
                Ok(ContactPolicy {
                    per_week: u32::try_from(n("per_week")?).map_err(corrupt)?,
                    per_month: u32::try_from(n("per_month")?).map_err(corrupt)?,
                    quiet_start: u16::try_from(n("quiet_start")?).map_err(corrupt)?,
                    quiet_end: u16::try_from(n("quiet_end")?).map_err(corrupt)?,
                    sa_daily_quota: u32::try_from(n("sa_daily_quota")?).map_err(corrupt)?,
                })
            }

            async fn put_contact_policy(&self, brand: BrandId, p: &ContactPolicy, at: Millis) -> RepoResult<()> {
                sqlx::query(
                    "INSERT INTO contact_policies (brand_id, per_week, per_month, quiet_start, quiet_end, sa_daily_quota, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (brand_id) DO UPDATE SET per_week = excluded.per_week, \
                     per_month = excluded.per_month, quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end, \
                     sa_daily_quota = excluded.sa_daily_quota, updated_at = excluded.updated_at",
                )
                .bind(brand.0)
                .bind(i64::from(p.per_week))
                .bind(i64::from(p.per_month))
                .bind(i64::from(p.quiet_start))
                .bind(i64::from(p.quiet_end))
                .bind(i64::from(p.sa_daily_quota))
                .bind(at)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn save_segment(
                &self,
                brand: BrandId,
                id: Option<i64>,
                name: &str,
                expression: &str,
                by: Option<UserId>,
                at: Millis,
            ) -> RepoResult<Segment> {
                let r = match id {
                    None => sqlx::query(
                        "INSERT INTO segments (brand_id, name, expression, created_by, updated_at) VALUES ($1, $2, $3, $4, $5) RETURNING *",
                    )
                    .bind(brand.0)
                    .bind(name)
                    .bind(expression)
                    .bind(by.map(|u| u.0))
                    .bind(at)
                    .fetch_one(&self.pool)
                    .await,
                    Some(id) => sqlx::query(
                        "UPDATE segments SET name = $3, expression = $4, updated_at = $5 WHERE brand_id = $1 AND id = $2 RETURNING *",
                    )
                    .bind(brand.0)
                    .bind(id)
                    .bind(name)
                    .bind(expression)
                    .bind(at)
                    .fetch_optional(&self.pool)
                    .await
                    .and_then(|r| r.ok_or(sqlx::Error::RowNotFound)),
                };
                match r {
                    Ok(r) => Self::segment_row(&r),
                    Err(sqlx::Error::RowNotFound) => Err(RepoError::NotFound("segment")),
                    Err(e) => Err(conflict(e, "a segment with this name already exists")),
                }
            }

            async fn segments(&self, brand: BrandId) -> RepoResult<Vec<Segment>> {
                let rows = sqlx::query("SELECT * FROM segments WHERE brand_id = $1 ORDER BY name")
                    .bind(brand.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                rows.iter().map(Self::segment_row).collect()
            }

            async fn segment(&self, brand: BrandId, id: i64) -> RepoResult<Option<Segment>> {
                let r = sqlx::query("SELECT * FROM segments WHERE brand_id = $1 AND id = $2")
                    .bind(brand.0)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                r.as_ref().map(Self::segment_row).transpose()
            }

            async fn delete_segment(&self, brand: BrandId, id: i64) -> RepoResult<bool> {
                let n = sqlx::query("DELETE FROM segments WHERE brand_id = $1 AND id = $2")
                    .bind(brand.0)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?
                    .rows_affected();
                Ok(n > 0)
            }

            async fn segment_facts(&self, brand: BrandId) -> RepoResult<Vec<segments::Facts>> {
                let rows = sqlx::query(
                    "SELECT c.id, c.pii, c.tier, s.code AS store, c.city, c.language, c.associate_id, \
                     c.lifetime_spend_minor, c.last_purchase_at FROM clients c LEFT JOIN stores s ON s.id = c.store_id \
                     WHERE c.brand_id = $1 ORDER BY c.id",
                )
                .bind(brand.0)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                let mut facts = Vec::with_capacity(rows.len());
                let mut at: std::collections::HashMap<i64, usize> = std::collections::HashMap::with_capacity(rows.len());
                for r in &rows {
                    let id: i64 = r.try_get("id").map_err(db)?;
                    let sealed: Vec<u8> = r.try_get("pii").map_err(db)?;
                    let pii = self.open_pii(brand, &sealed)?;
                    at.insert(id, facts.len());
                    facts.push(segments::Facts {
                        client_id: id,
                        tier: r.try_get("tier").map_err(db)?,
                        store: r.try_get("store").map_err(db)?,
                        city: r.try_get("city").map_err(db)?,
                        language: r.try_get("language").map_err(db)?,
                        associate: r.try_get("associate_id").map_err(db)?,
                        spend_minor: r.try_get("lifetime_spend_minor").map_err(db)?,
                        last_purchase: r.try_get("last_purchase_at").map_err(db)?,
                        birth_month: pii.birthday.map(|d| d.month() as u8),
                        ..segments::Facts::default()
                    });
                }
                drop(rows);
                let pairs = |sql: &'static str| {
                    sqlx::query_as::<_, (i64, String)>(sql).bind(brand.0).fetch_all(&self.pool)
                };
                for (id, tag) in pairs("SELECT client_id, tag FROM client_tags WHERE brand_id = $1").await.map_err(db)? {
                    if let Some(f) = at.get(&id).and_then(|i| facts.get_mut(*i)) {
                        f.tags.push(tag);
                    }
                }
                for (id, kind) in pairs("SELECT client_id, kind FROM client_identities WHERE brand_id = $1").await.map_err(db)? {
                    if let Some(f) = at.get(&id).and_then(|i| facts.get_mut(*i)) {
                        if !f.channels.contains(&kind) {
                            f.channels.push(kind);
                        }
                    }
                }
                // The latest marketing decision per channel is the one in force.
                let rows = sqlx::query(
                    "SELECT client_id, channel, granted FROM client_consents WHERE brand_id = $1 AND purpose = 'marketing' ORDER BY at, id",
                )
                .bind(brand.0)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                for r in &rows {
                    let id: i64 = r.try_get("client_id").map_err(db)?;
                    let channel: String = r.try_get("channel").map_err(db)?;
                    let granted: i64 = r.try_get("granted").map_err(db)?;
                    if let Some(f) = at.get(&id).and_then(|i| facts.get_mut(*i)) {
                        f.consents.retain(|c| *c != channel);
                        f.withdrawn.retain(|c| *c != channel);
                        if granted != 0 {
                            f.consents.push(channel);
                        } else {
                            f.withdrawn.push(channel);
                        }
                    }
                }
                let last = sqlx::query_as::<_, (i64, i64)>(
                    "SELECT client_id, MAX(at) FROM messages WHERE brand_id = $1 GROUP BY client_id",
                )
                .bind(brand.0)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                for (id, t) in last {
                    if let Some(f) = at.get(&id).and_then(|i| facts.get_mut(*i)) {
                        f.last_interaction = Some(t);
                    }
                }
                Ok(facts)
            }

            async fn facts_version(&self, brand: BrandId) -> RepoResult<(i64, i64, i64)> {
                let mut conn = self.pool.acquire().await.map_err(db)?;
                self.facts_version_in(&mut conn, brand).await
            }

            async fn create_campaign(&self, brand: BrandId, c: &NewCampaign) -> RepoResult<Campaign> {
                let r = sqlx::query(
                    "INSERT INTO campaigns (brand_id, name, kind, segment_id, expression, channel, template, send_at, \
                     max_recipients, status, created_by, created_at, asset_ids) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'draft', $10, $11, $12) RETURNING *",
                )
                .bind(brand.0)
                .bind(&c.name)
                .bind(c.kind.as_str())
                .bind(c.segment_id)
                .bind(&c.expression)
                .bind(c.channel.as_str())
                .bind(c.template.as_str())
                .bind(c.send_at)
                .bind(c.max_recipients.map(i64::from))
                .bind(c.created_by.map(|u| u.0))
                .bind(c.at)
                .bind(serde_json::to_string(&c.asset_ids).map_err(corrupt)?)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
                Self::campaign_row(&r)
            }

            async fn campaign(&self, brand: BrandId, id: i64) -> RepoResult<Option<Campaign>> {
                let r = sqlx::query("SELECT * FROM campaigns WHERE brand_id = $1 AND id = $2")
                    .bind(brand.0)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                r.as_ref().map(Self::campaign_row).transpose()
            }

            async fn campaigns(&self, brand: BrandId) -> RepoResult<Vec<Campaign>> {
                let rows = sqlx::query("SELECT * FROM campaigns WHERE brand_id = $1 ORDER BY id DESC LIMIT 500")
                    .bind(brand.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                rows.iter().map(Self::campaign_row).collect()
            }

            async fn set_campaign_status(&self, brand: BrandId, id: i64, status: CampaignStatus) -> RepoResult<()> {
                // Under the planning lock: a cancelled campaign frees its clients' days.
                let mut tx = self.write_tx().await.map_err(db)?;
                sqlx::query($lock)
                    .bind($crate::broadcast_sql::PLAN_LOCK_BASE + brand.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                let n = sqlx::query("UPDATE campaigns SET status = $3 WHERE brand_id = $1 AND id = $2")
                    .bind(brand.0)
                    .bind(id)
                    .bind(status.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?
                    .rows_affected();
                if n == 0 {
                    return Err(RepoError::NotFound("campaign"));
                }
                if status == CampaignStatus::Cancelled {
                    // Batches not yet handed to the channel are withdrawn, and free their day.
                    let lists: Vec<Option<String>> = sqlx::query_scalar(
                        "SELECT members FROM send_batches WHERE campaign_id = $1 AND status = 'planned' ORDER BY id",
                    )
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db)?;
                    let mut withdrawn = Vec::new();
                    for members in lists {
                        withdrawn.extend($crate::broadcast_sql::parse_members(members.as_deref().unwrap_or(""))?);
                    }
                    sqlx::query("UPDATE send_batches SET status = 'cancelled' WHERE campaign_id = $1 AND status = 'planned'")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    self.insert_suppressed(&mut tx, id, Suppression::Cancelled.as_str(), &withdrawn).await?;
                }
                tx.commit().await.map_err(db)?;
                Ok(())
            }

            async fn plan_campaign(
                &self,
                brand: BrandId,
                campaign: i64,
                audience: &Audience,
                planner: &Planner,
                at: Millis,
            ) -> RepoResult<PlanCounts> {
                self.try_plan(brand, campaign, audience, planner, at).await
            }

            async fn claim_batch(&self, now: Millis, lease_until: Millis) -> RepoResult<Option<SendBatch>> {
                let mut tx = self.write_tx().await.map_err(db)?;
                sqlx::query($lock)
                    .bind($crate::broadcast_sql::CLAIM_LOCK)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                // A batch due for a retry, or one whose holder died before calling the channel.
                let again: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM send_batches WHERE (status = 'retry' AND next_at <= $1) \
                     OR (status = 'sending' AND attempt_at IS NULL AND lease_until <= $1) ORDER BY id LIMIT 1",
                )
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
                let id = match again {
                    Some(id) => {
                        sqlx::query("UPDATE send_batches SET status = 'sending', lease_until = $2 WHERE id = $1")
                            .bind(id)
                            .bind(lease_until)
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                        id
                    }
                    None => {
                        let next: Option<(i64, i64, i64, i64, Millis, Option<i32>, Option<String>)> = sqlx::query_as(
                            "SELECT id, brand_id, campaign_id, associate_id, next_at, cap_day, members FROM send_batches \
                             WHERE status = 'planned' AND next_at <= $1 ORDER BY next_at, id LIMIT 1",
                        )
                        .bind(now)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db)?;
                        let Some((id, brand, campaign, associate, not_before, day, members)) = next else {
                            return Ok(None);
                        };
                        // The clients' sends are recorded as the batch is handed over; a client
                        // erased since the planning is left out.
                        let members = $crate::broadcast_sql::parse_members(members.as_deref().unwrap_or(""))?;
                        let mut qb = Qb::new("SELECT id FROM clients WHERE id IN (");
                        let mut sep = qb.separated(", ");
                        for c in &members {
                            sep.push_bind(*c);
                        }
                        qb.push(")");
                        let present: std::collections::HashSet<i64> = if members.is_empty() {
                            Default::default()
                        } else {
                            qb.build_query_scalar::<i64>().fetch_all(&mut *tx).await.map_err(db)?.into_iter().collect()
                        };
                        let members: Vec<i64> = members.into_iter().filter(|c| present.contains(c)).collect();
                        let template: String = sqlx::query_scalar("SELECT template FROM campaigns WHERE id = $1")
                            .bind(campaign)
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(db)?;
                        // A text that differs per client is one call per client: the first client
                        // leaves the planned batch for a batch of its own, the rest wait their turn.
                        let (id, members) = if Template::parse(&template).is_ok_and(|t| t.per_client()) && members.len() > 1 {
                            let (first, rest) = members.split_at(1);
                            sqlx::query("UPDATE send_batches SET members = $2, size = $3 WHERE id = $1")
                                .bind(id)
                                .bind($crate::broadcast_sql::members_text(rest))
                                .bind(rest.len() as i64)
                                .execute(&mut *tx)
                                .await
                                .map_err(db)?;
                            let own: i64 = sqlx::query_scalar(
                                "INSERT INTO send_batches (brand_id, campaign_id, associate_id, status, attempts, next_at, \
                                 lease_until, created_at, members, size, cap_day) \
                                 VALUES ($1, $2, $3, 'planned', 0, $4, 0, $4, $5, 1, $6) RETURNING id",
                            )
                            .bind(brand)
                            .bind(campaign)
                            .bind(associate)
                            .bind(now)
                            .bind($crate::broadcast_sql::members_text(first))
                            .bind(day)
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(db)?;
                            (own, first.to_vec())
                        } else {
                            (id, members)
                        };
                        for chunk in members.chunks($crate::broadcast_sql::SEND_ROWS) {
                            let mut qb = Qb::new(
                                "INSERT INTO campaign_sends (brand_id, campaign_id, client_id, associate_id, status, cap_day, \
                                 not_before, batch_id) ",
                            );
                            qb.push_values(chunk, |mut row, client| {
                                row.push_bind(brand)
                                    .push_bind(campaign)
                                    .push_bind(*client)
                                    .push_bind(associate)
                                    .push_bind("sending")
                                    .push_bind(day)
                                    .push_bind(not_before)
                                    .push_bind(id);
                            });
                            // A send the database already has (one per client, campaign and day)
                            // is not recorded, and so not sent, twice.
                            qb.push(" ON CONFLICT DO NOTHING");
                            qb.build().execute(&mut *tx).await.map_err(db)?;
                        }
                        sqlx::query("UPDATE send_batches SET status = 'sending', lease_until = $2, next_at = $3 WHERE id = $1")
                            .bind(id)
                            .bind(lease_until)
                            .bind(now)
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                        id
                    }
                };
                let batch = self.load_batch(&mut tx, id).await?;
                tx.commit().await.map_err(db)?;
                Ok(Some(batch))
            }

            async fn stale_batches(&self, now: Millis, lease_until: Millis, limit: u32) -> RepoResult<Vec<SendBatch>> {
                let ids: Vec<i64> = sqlx::query_scalar(
                    "UPDATE send_batches SET lease_until = $2 WHERE id IN (SELECT id FROM send_batches \
                     WHERE status = 'sending' AND attempt_at IS NOT NULL AND lease_until <= $1 ORDER BY id LIMIT $3) \
                     AND status = 'sending' AND attempt_at IS NOT NULL AND lease_until <= $1 RETURNING id",
                )
                .bind(now)
                .bind(lease_until)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                let mut conn = self.pool.acquire().await.map_err(db)?;
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    out.push(self.load_batch(&mut conn, id).await?);
                }
                out.sort_by_key(|b| b.id);
                Ok(out)
            }

            async fn batch_attempt(&self, batch: i64, body: &str, at: Millis, lease_until: Millis) -> RepoResult<()> {
                let brand: i64 = sqlx::query_scalar("SELECT brand_id FROM send_batches WHERE id = $1")
                    .bind(batch)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .ok_or(RepoError::NotFound("batch"))?;
                sqlx::query(
                    "UPDATE send_batches SET status = 'sending', attempts = attempts + 1, attempt_at = $2, \
                     sealed_body = $3, lease_until = $4 WHERE id = $1",
                )
                .bind(batch)
                .bind(at)
                .bind(self.keys.seal(BrandId(brand), Purpose::MessageBody, body.as_bytes()))
                .bind(lease_until)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn batch_sent(&self, batch: i64, msgid: &str, refused: &[ClientId], at: Millis) -> RepoResult<()> {
                // It reads before it writes: on SQLite the write lock is taken at once, so that
                // concurrent senders wait for each other instead of failing to upgrade.
                let mut tx = self.write_tx().await.map_err(db)?;
                let b = self.load_batch(&mut tx, batch).await?;
                let (brand, channel): (i64, String) = sqlx::query_as(
                    "SELECT b.brand_id, c.channel FROM send_batches b JOIN campaigns c ON c.id = b.campaign_id WHERE b.id = $1",
                )
                .bind(batch)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
                let brand = BrandId(brand);
                let channel = ChannelKind::parse(&channel).ok_or_else(|| corrupt("campaign channel"))?;
                sqlx::query(
                    "UPDATE send_batches SET status = 'sent', provider_msgid = $2, sent_at = $3, next_at = $3, error = NULL WHERE id = $1",
                )
                .bind(batch)
                .bind(msgid)
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                let body = b.body.clone().unwrap_or_default();
                for (send, client, address) in &b.sends {
                    if refused.contains(client) {
                        sqlx::query("UPDATE campaign_sends SET status = 'failed', reason = 'channel_limit' WHERE id = $1")
                            .bind(send)
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                        continue;
                    }
                    sqlx::query("UPDATE campaign_sends SET status = 'sent', provider_msgid = $2, sent_at = $3 WHERE id = $1")
                        .bind(send)
                        .bind(msgid)
                        .bind(at)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    // The archive keeps what the brand said, as every other message.
                    let m = NewMessage {
                        client_id: *client,
                        channel,
                        direction: Direction::Out,
                        associate_id: Some(b.associate_id),
                        provider_id: Some(format!("{msgid}:{address}")),
                        msg_type: "broadcast".into(),
                        body: body.clone(),
                        at,
                    };
                    match self.insert_message(&mut tx, brand, &m).await {
                        Ok(_) | Err(RepoError::NotFound(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                tx.commit().await.map_err(db)?;
                Ok(())
            }

            async fn batch_retry(&self, batch: i64, error: &str, next_at: Millis) -> RepoResult<()> {
                sqlx::query("UPDATE send_batches SET status = 'retry', error = $2, next_at = $3 WHERE id = $1")
                    .bind(batch)
                    .bind(error)
                    .bind(next_at)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn batch_failed(&self, batch: i64, error: &str) -> RepoResult<()> {
                let mut tx = self.write_tx().await.map_err(db)?;
                sqlx::query("UPDATE send_batches SET status = 'failed', error = $2 WHERE id = $1")
                    .bind(batch)
                    .bind(error)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                sqlx::query("UPDATE campaign_sends SET status = 'failed', reason = $2 WHERE batch_id = $1")
                    .bind(batch)
                    .bind(error.chars().take(200).collect::<String>())
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                tx.commit().await.map_err(db)?;
                Ok(())
            }

            async fn mark_delivered(&self, batch: i64, clients: &[ClientId], at: Millis) -> RepoResult<u64> {
                if clients.is_empty() {
                    return Ok(0);
                }
                let mut qb = Qb::new("UPDATE campaign_sends SET delivered_at = ");
                qb.push_bind(at).push(" WHERE batch_id = ").push_bind(batch);
                qb.push(" AND status = 'sent' AND delivered_at IS NULL AND client_id IN (");
                let mut sep = qb.separated(", ");
                for c in clients {
                    sep.push_bind(c.0);
                }
                qb.push(")");
                Ok(qb.build().execute(&self.pool).await.map_err(db)?.rows_affected())
            }

            async fn batch(&self, id: i64) -> RepoResult<Option<SendBatch>> {
                let mut conn = self.pool.acquire().await.map_err(db)?;
                let known: Option<i64> = sqlx::query_scalar("SELECT id FROM send_batches WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db)?;
                match known {
                    Some(_) => Ok(Some(self.load_batch(&mut conn, id).await?)),
                    None => Ok(None),
                }
            }

            async fn batches_to_confirm(&self, before: Millis, limit: u32) -> RepoResult<Vec<(BrandId, i64, String, String)>> {
                let rows = sqlx::query(
                    "SELECT b.id, b.brand_id, b.provider_msgid, (SELECT s.value FROM staff_identities s WHERE s.brand_id = b.brand_id \
                     AND s.kind = c.channel AND s.user_id = b.associate_id) AS sender \
                     FROM send_batches b JOIN campaigns c ON c.id = b.campaign_id \
                     WHERE b.status = 'sent' AND b.next_at <= $1 ORDER BY b.next_at LIMIT $2",
                )
                .bind(before)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter()
                    .map(|r| {
                        Ok((
                            BrandId(r.try_get("brand_id").map_err(db)?),
                            r.try_get("id").map_err(db)?,
                            r.try_get::<Option<String>, _>("provider_msgid").map_err(db)?.unwrap_or_default(),
                            r.try_get::<Option<String>, _>("sender").map_err(db)?.unwrap_or_default(),
                        ))
                    })
                    .collect()
            }

            async fn batch_checked(&self, batch: i64, again_at: Option<Millis>) -> RepoResult<()> {
                let q = match again_at {
                    Some(t) => sqlx::query("UPDATE send_batches SET next_at = $2 WHERE id = $1").bind(batch).bind(t),
                    None => sqlx::query("UPDATE send_batches SET status = 'confirmed' WHERE id = $1").bind(batch),
                };
                q.execute(&self.pool).await.map_err(db)?;
                Ok(())
            }

            async fn create_moment(
                &self,
                brand: BrandId,
                text: &str,
                senders: &[UserId],
                asset_ids: &[i64],
                by: Option<UserId>,
                at: Millis,
            ) -> RepoResult<Moment> {
                let ids: Vec<i64> = senders.iter().map(|u| u.0).collect();
                let r = sqlx::query(
                    "INSERT INTO moments (brand_id, text, senders, status, created_by, created_at, updated_at, asset_ids) \
                     VALUES ($1, $2, $3, 'queued', $4, $5, $5, $6) RETURNING *",
                )
                .bind(brand.0)
                .bind(text)
                .bind(serde_json::to_string(&ids).map_err(corrupt)?)
                .bind(by.map(|u| u.0))
                .bind(at)
                .bind(serde_json::to_string(asset_ids).map_err(corrupt)?)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
                Self::moment_row(&r)
            }

            async fn moments(&self, brand: BrandId, limit: u32) -> RepoResult<Vec<Moment>> {
                let rows = sqlx::query("SELECT * FROM moments WHERE brand_id = $1 ORDER BY id DESC LIMIT $2")
                    .bind(brand.0)
                    .bind(i64::from(limit.clamp(1, 1000)))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                rows.iter().map(Self::moment_row).collect()
            }

            async fn moments_due(&self, limit: u32) -> RepoResult<Vec<Moment>> {
                let rows = sqlx::query(
                    "SELECT * FROM moments WHERE status IN ('queued', 'submitting', 'submitted') ORDER BY id LIMIT $1",
                )
                .bind(i64::from(limit.clamp(1, 1000)))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter().map(Self::moment_row).collect()
            }

            async fn moments_to_follow(
                &self,
                created_after: Millis,
                checked_before: Millis,
                limit: u32,
            ) -> RepoResult<Vec<Moment>> {
                let rows = sqlx::query(
                    "SELECT * FROM moments WHERE status = 'done' AND moment_id IS NOT NULL AND created_at >= $1 \
                     AND (checked_at IS NULL OR checked_at <= $2) ORDER BY COALESCE(checked_at, 0), id LIMIT $3",
                )
                .bind(created_after)
                .bind(checked_before)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter().map(Self::moment_row).collect()
            }

            async fn moment_reach(&self, id: i64, reach: &[MomentReach], at: Millis) -> RepoResult<()> {
                let json = serde_json::to_string(reach).map_err(|e| RepoError::Backend(e.to_string()))?;
                let n = sqlx::query("UPDATE moments SET reach = $2, checked_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(json)
                    .bind(at)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?
                    .rows_affected();
                if n == 0 {
                    return Err(RepoError::NotFound("moment"));
                }
                Ok(())
            }

            async fn moment_update(
                &self,
                id: i64,
                from: MomentStatus,
                status: MomentStatus,
                jobid: Option<&str>,
                moment_id: Option<&str>,
                error: Option<&str>,
                at: Millis,
            ) -> RepoResult<bool> {
                let n = sqlx::query(
                    "UPDATE moments SET status = $3, jobid = COALESCE($4, jobid), moment_id = COALESCE($5, moment_id), \
                     error = $6, updated_at = $7, attempt_at = CASE WHEN $3 = 'submitting' THEN $7 ELSE attempt_at END \
                     WHERE id = $1 AND status = $2",
                )
                .bind(id)
                .bind(from.as_str())
                .bind(status.as_str())
                .bind(jobid)
                .bind(moment_id)
                .bind(error)
                .bind(at)
                .execute(&self.pool)
                .await
                .map_err(db)?
                .rows_affected();
                Ok(n == 1)
            }

            async fn create_asset(
                &self,
                brand: BrandId,
                t: &AssetText,
                f: &AssetFile,
                by: Option<UserId>,
                at: Millis,
            ) -> RepoResult<Asset> {
                let tags: Vec<&str> = t.tags.iter().map(|t| t.as_str()).collect();
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO assets (brand_id, title, caption_zh, caption_en, talking_points, guidelines, tags, collection, \
                     valid_from, valid_to, status, file_name, thumb_name, mime, bytes, width, height, created_by, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'draft', $11, $12, $13, $14, $15, $16, $17, $18, $18) RETURNING id",
                )
                .bind(brand.0)
                .bind(&t.title)
                .bind(&t.caption_zh)
                .bind(&t.caption_en)
                .bind(&t.talking_points)
                .bind(&t.guidelines)
                .bind(serde_json::to_string(&tags).map_err(corrupt)?)
                .bind(&t.collection)
                .bind(t.valid_from)
                .bind(t.valid_to)
                .bind(&f.name)
                .bind(&f.thumb)
                .bind(&f.mime)
                .bind(f.bytes)
                .bind(f.width)
                .bind(f.height)
                .bind(by.map(|u| u.0))
                .bind(at)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
                self.asset(brand, id).await?.ok_or(RepoError::NotFound("asset"))
            }

            async fn update_asset(&self, brand: BrandId, id: i64, t: &AssetText, at: Millis) -> RepoResult<Asset> {
                let tags: Vec<&str> = t.tags.iter().map(|t| t.as_str()).collect();
                let n = sqlx::query(
                    "UPDATE assets SET title = $3, caption_zh = $4, caption_en = $5, talking_points = $6, guidelines = $7, \
                     tags = $8, collection = $9, valid_from = $10, valid_to = $11, updated_at = $12 WHERE brand_id = $1 AND id = $2",
                )
                .bind(brand.0)
                .bind(id)
                .bind(&t.title)
                .bind(&t.caption_zh)
                .bind(&t.caption_en)
                .bind(&t.talking_points)
                .bind(&t.guidelines)
                .bind(serde_json::to_string(&tags).map_err(corrupt)?)
                .bind(&t.collection)
                .bind(t.valid_from)
                .bind(t.valid_to)
                .bind(at)
                .execute(&self.pool)
                .await
                .map_err(db)?
                .rows_affected();
                if n == 0 {
                    return Err(RepoError::NotFound("asset"));
                }
                self.asset(brand, id).await?.ok_or(RepoError::NotFound("asset"))
            }

            async fn set_asset_status(&self, brand: BrandId, id: i64, status: AssetStatus, at: Millis) -> RepoResult<Asset> {
                let current = self.asset(brand, id).await?.ok_or(RepoError::NotFound("asset"))?;
                if !current.status.may_become(status) {
                    return Err(RepoError::Conflict(format!(
                        "an asset that is {} cannot become {}",
                        current.status.as_str(),
                        status.as_str()
                    )));
                }
                // Only from the status read: two reviewers racing cannot both move it.
                let n = sqlx::query("UPDATE assets SET status = $3, updated_at = $4 WHERE brand_id = $1 AND id = $2 AND status = $5")
                    .bind(brand.0)
                    .bind(id)
                    .bind(status.as_str())
                    .bind(at)
                    .bind(current.status.as_str())
                    .execute(&self.pool)
                    .await
                    .map_err(db)?
                    .rows_affected();
                if n == 0 {
                    return Err(RepoError::Conflict("the asset changed meanwhile".into()));
                }
                self.asset(brand, id).await?.ok_or(RepoError::NotFound("asset"))
            }

            async fn asset(&self, brand: BrandId, id: i64) -> RepoResult<Option<Asset>> {
                let r = sqlx::query(
                    concat!("SELECT ", $crate::broadcast_sql::asset_columns!(), " FROM assets a WHERE a.brand_id = $1 AND a.id = $2"),
                )
                .bind(brand.0)
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                r.as_ref().map(Self::asset_row).transpose()
            }

            async fn assets(&self, brand: BrandId) -> RepoResult<Vec<Asset>> {
                let rows = sqlx::query(
                    concat!(
                        "SELECT ",
                        $crate::broadcast_sql::asset_columns!(),
                        " FROM assets a WHERE a.brand_id = $1 ORDER BY a.id DESC LIMIT 1000"
                    ),
                )
                .bind(brand.0)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter().map(Self::asset_row).collect()
            }

            async fn record_asset_uses(&self, brand: BrandId, uses: &[AssetUse]) -> RepoResult<()> {
                for chunk in uses.chunks($crate::broadcast_sql::SEND_ROWS) {
                    let mut qb = Qb::new("INSERT INTO asset_uses (brand_id, asset_id, client_id, associate_id, campaign_id, at) ");
                    qb.push_values(chunk, |mut row, u| {
                        row.push_bind(brand.0)
                            .push_bind(u.asset_id)
                            .push_bind(u.client_id.0)
                            .push_bind(u.associate_id.map(|a| a.0))
                            .push_bind(u.campaign_id)
                            .push_bind(u.at);
                    });
                    qb.build().execute(&self.pool).await.map_err(db)?;
                }
                Ok(())
            }

            async fn clients_with_sends(
                &self,
                brand: BrandId,
                campaign: i64,
                clients: &[ClientId],
            ) -> RepoResult<Vec<ClientId>> {
                let mut out = Vec::new();
                for chunk in clients.chunks($crate::broadcast_sql::SEND_ROWS) {
                    let mut qb = Qb::new("SELECT client_id FROM campaign_sends WHERE brand_id = ");
                    qb.push_bind(brand.0).push(" AND campaign_id = ").push_bind(campaign);
                    qb.push(" AND client_id IN (");
                    let mut sep = qb.separated(", ");
                    for c in chunk {
                        sep.push_bind(c.0);
                    }
                    qb.push(") ORDER BY client_id");
                    let ids: Vec<i64> = qb.build_query_scalar().fetch_all(&self.pool).await.map_err(db)?;
                    out.extend(ids.into_iter().map(ClientId));
                }
                let asked: std::collections::HashSet<i64> = clients.iter().map(|c| c.0).collect();
                let mut conn = self.pool.acquire().await.map_err(db)?;
                for (client, ..) in self.listed_clients(&mut conn, brand, campaign).await? {
                    if asked.contains(&client) {
                        out.push(ClientId(client));
                    }
                }
                out.sort();
                out.dedup();
                Ok(out)
            }

            async fn campaign_report(&self, brand: BrandId, id: i64) -> RepoResult<CampaignReport> {
                let rows = sqlx::query(
                    "SELECT status, reason, COUNT(*) AS n, COUNT(delivered_at) AS delivered FROM campaign_sends \
                     WHERE brand_id = $1 AND campaign_id = $2 GROUP BY status, reason",
                )
                .bind(brand.0)
                .bind(id)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                let mut rep = CampaignReport::default();
                let mut by: std::collections::BTreeMap<Suppression, u64> = std::collections::BTreeMap::new();
                for r in &rows {
                    let status: String = r.try_get("status").map_err(db)?;
                    let reason: Option<String> = r.try_get("reason").map_err(db)?;
                    let n = u64::try_from(r.try_get::<i64, _>("n").map_err(db)?).unwrap_or(0);
                    rep.delivered += u64::try_from(r.try_get::<i64, _>("delivered").map_err(db)?).unwrap_or(0);
                    match SendStatus::parse(&status) {
                        Some(SendStatus::Planned) => rep.planned += n,
                        Some(SendStatus::Sending) => rep.sending += n,
                        Some(SendStatus::Sent) => rep.sent += n,
                        Some(SendStatus::Failed) => {
                            if reason.as_deref() == Some("channel_limit") {
                                *by.entry(Suppression::ChannelLimit).or_default() += n;
                            }
                            rep.failed += n;
                        }
                        Some(SendStatus::Suppressed) => {
                            rep.suppressed += n;
                            if let Some(s) = reason.as_deref().and_then(Suppression::parse) {
                                *by.entry(s).or_default() += n;
                            }
                        }
                        None => return Err(corrupt("send status")),
                    }
                }
                let planned: i64 = sqlx::query_scalar(
                    "SELECT COALESCE(SUM(size), 0) FROM send_batches WHERE brand_id = $1 AND campaign_id = $2 AND status = 'planned'",
                )
                .bind(brand.0)
                .bind(id)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
                rep.planned += u64::try_from(planned).unwrap_or(0);
                let lists: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT s.reason, SUM(s.size) FROM campaign_suppressions s JOIN campaigns c ON c.id = s.campaign_id \
                     WHERE c.brand_id = $1 AND s.campaign_id = $2 GROUP BY s.reason",
                )
                .bind(brand.0)
                .bind(id)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                for (reason, n) in lists {
                    let n = u64::try_from(n).unwrap_or(0);
                    rep.suppressed += n;
                    let reason = Suppression::parse(&reason).ok_or_else(|| corrupt("suppression reason"))?;
                    *by.entry(reason).or_default() += n;
                }
                rep.suppressed_by = by.into_iter().collect();
                let replies: i64 = sqlx::query_scalar(
                    "SELECT COUNT(DISTINCT s.client_id) FROM campaign_sends s JOIN messages m ON m.client_id = s.client_id \
                     AND m.direction = 'in' AND m.at >= s.sent_at / 1000 * 1000 AND m.at <= s.sent_at + 604800000 \
                     WHERE s.brand_id = $1 AND s.campaign_id = $2 AND s.status = 'sent'",
                )
                .bind(brand.0)
                .bind(id)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
                rep.replies = u64::try_from(replies).unwrap_or(0);
                Ok(rep)
            }

            async fn campaign_sends(
                &self,
                brand: BrandId,
                id: i64,
                status: Option<SendStatus>,
                after: i64,
                limit: u32,
            ) -> RepoResult<Vec<SendRow>> {
                let limit = limit.clamp(1, 10_000);
                let mut qb = Qb::new("SELECT * FROM campaign_sends WHERE brand_id = ");
                qb.push_bind(brand.0).push(" AND campaign_id = ").push_bind(id);
                qb.push(" AND client_id > ").push_bind(after);
                if let Some(s) = status {
                    qb.push(" AND status = ").push_bind(s.as_str());
                }
                qb.push(" ORDER BY client_id LIMIT ").push_bind(i64::from(limit));
                let rows = qb.build().fetch_all(&self.pool).await.map_err(db)?;
                let mut out = rows
                    .iter()
                    .map(|r| {
                        let status: String = r.try_get("status").map_err(db)?;
                        Ok(SendRow {
                            client_id: ClientId(r.try_get("client_id").map_err(db)?),
                            associate_id: r.try_get::<Option<i64>, _>("associate_id").map_err(db)?.map(UserId),
                            status: SendStatus::parse(&status).ok_or_else(|| corrupt("send status"))?,
                            reason: r.try_get("reason").map_err(db)?,
                            provider_msgid: r.try_get("provider_msgid").map_err(db)?,
                            sent_at: r.try_get("sent_at").map_err(db)?,
                            delivered_at: r.try_get("delivered_at").map_err(db)?,
                        })
                    })
                    .collect::<RepoResult<Vec<_>>>()?;
                if matches!(status, None | Some(SendStatus::Planned) | Some(SendStatus::Suppressed)) {
                    let mut conn = self.pool.acquire().await.map_err(db)?;
                    for (client, sa, st, reason) in self.listed_clients(&mut conn, brand, id).await? {
                        if client > after && status.is_none_or(|s| s == st) {
                            out.push(SendRow {
                                client_id: ClientId(client),
                                associate_id: sa.map(UserId),
                                status: st,
                                reason,
                                provider_msgid: None,
                                sent_at: None,
                                delivered_at: None,
                            });
                        }
                    }
                    out.sort_by_key(|r| r.client_id);
                    out.truncate(limit as usize);
                }
                Ok(out)
            }
        }
    };
}

pub(crate) use impl_broadcast_store;
