//! Segments, campaigns and their delivery.
//!
//! A campaign names a segment, a message and a time. Planning evaluates the segment and
//! expands it, in one transaction, into one send per client with every check applied
//! ([`domain::plan`]): consent, opt-out, one broadcast per client per day in the client's zone,
//! the week and month caps, quiet hours, and the campaign's and associates' quotas. Suppressed
//! clients are stored with their reason.
//!
//! The dispatcher then hands the sends to WeCom as group messages (`add_msg_template`), one
//! batch per associate, at the pace the API client keeps. A batch is recorded with its text
//! before the call. A call that ends without a clear answer (a timeout, a lost connection, a
//! crash) is never repeated blindly: once its lease ends, the provider's own list of group
//! messages (`get_groupmsg_list_v2` and `get_groupmsg_send_result`) says whether it was taken.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use channels::wecom::api::{ApiError, errcode};
use domain::ports::PlanCounts;
use domain::*;
use roaring::RoaringBitmap;
use segments::{EvalContext, Expr, SegmentIndex};
use serde::Serialize;

use crate::{Actor, AppError, AppResult, Salon};

/// Sends per group message when the text is the same for every client.
pub const BATCH: u32 = 200;
/// How often what came of a Moments post is read again, and for how long after it was made.
const MOMENT_FOLLOW_EVERY: Millis = 10 * 60_000;
const MOMENT_FOLLOW_FOR: Millis = 7 * 86_400_000;
/// Attempts before a batch is given up.
const MAX_ATTEMPTS: i32 = 10;
/// Why a post is marked unknown after its dispatcher died mid-call.
pub(crate) const INTERRUPTED: &str =
    "interrupted while being handed to WeCom: check WeCom before posting again";
/// How often the segment facts are checked for changes.
const FACTS_FRESH: Duration = Duration::from_secs(2);

type FactsVersion = (i64, i64, i64);
/// A brand's segment index: when its freshness was last checked, and against which version.
type CachedIndex = (Instant, FactsVersion, Arc<SegmentIndex>);

/// The broadcasts' shared state: cached segment indexes and the dispatcher's settings.
pub struct Broadcasts {
    indexes: Mutex<HashMap<BrandId, CachedIndex>>,
    /// Wakes the dispatcher when sends are planned.
    pub wake: tokio::sync::Notify,
    /// How long a batch is held; a holder silent longer is presumed dead.
    pub lease: std::sync::RwLock<Duration>,
}

impl Default for Broadcasts {
    fn default() -> Self {
        Self {
            indexes: Mutex::default(),
            wake: tokio::sync::Notify::new(),
            lease: std::sync::RwLock::new(Duration::from_secs(30)),
        }
    }
}

/// A segment's size, for the person editing it.
#[derive(Debug, Clone, Serialize)]
pub struct SegmentCount {
    pub expression: String,
    pub count: u64,
    /// Clients in the brand, or in the person's scope.
    pub of: u64,
    pub micros: u64,
}

/// What a person asks a campaign to be.
#[derive(Debug, Clone)]
pub struct CampaignInput {
    pub name: String,
    pub kind: CampaignKind,
    pub segment_id: Option<i64>,
    pub expression: Option<String>,
    pub text: String,
    pub send_at: Option<Millis>,
    pub max_recipients: Option<u32>,
    /// Approved images of the asset pool sent with the text.
    pub asset_ids: Vec<i64>,
}

/// A campaign with its figures.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignView {
    #[serde(flatten)]
    pub campaign: Campaign,
    pub report: CampaignReport,
}

/// A prepared message as one associate sees it: their own clients in its segment.
#[derive(Debug, Clone, Serialize)]
pub struct Task {
    pub campaign: Campaign,
    /// Clients still to send to: (id, name).
    pub clients: Vec<(ClientId, String)>,
    /// The text as the first of them would receive it.
    pub preview: String,
    /// Clients of the associate it already went (or will go) to.
    pub done: u64,
}

pub(crate) fn lease(s: &Salon) -> Duration {
    s.broadcasts
        .lease
        .read()
        .map(|d| *d)
        .unwrap_or(Duration::from_secs(30))
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::Invalid(vec![FieldError::new(field, message)])
}

fn zone(name: &str) -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(name).unwrap_or(jiff::tz::TimeZone::UTC)
}

impl Salon {
    /// The brand's clients indexed for segments, rebuilt when they changed.
    pub async fn segment_index(&self, brand: BrandId) -> AppResult<Arc<SegmentIndex>> {
        Ok(self.segment_index_at(brand, false).await?.0)
    }

    /// The index and the version of the facts it holds; `fresh` checks the version now.
    async fn segment_index_at(
        &self,
        brand: BrandId,
        fresh: bool,
    ) -> AppResult<(Arc<SegmentIndex>, FactsVersion)> {
        let cached = self
            .broadcasts
            .indexes
            .lock()
            .ok()
            .and_then(|m| m.get(&brand).cloned());
        if let Some((checked, v, ix)) = &cached
            && checked.elapsed() < FACTS_FRESH
            && !fresh
        {
            return Ok((ix.clone(), *v));
        }
        let version = self.repo.facts_version(brand).await?;
        if let Some((_, v, ix)) = cached
            && v == version
        {
            if let Ok(mut m) = self.broadcasts.indexes.lock() {
                m.insert(brand, (Instant::now(), v, ix.clone()));
            }
            return Ok((ix, v));
        }
        let facts = self.repo.segment_facts(brand).await?;
        let ix = Arc::new(
            tokio::task::spawn_blocking(move || SegmentIndex::build(facts))
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?,
        );
        if let Ok(mut m) = self.broadcasts.indexes.lock() {
            m.insert(brand, (Instant::now(), version, ix.clone()));
        }
        Ok((ix, version))
    }

    /// The campaign's audience: the segment's members (limited to `only`, when given) with
    /// what the checks need, read from the index, and the facts' version.
    async fn audience(
        &self,
        brand: &Brand,
        expr: &Expr,
        only: Option<&[ClientId]>,
        fresh: bool,
    ) -> AppResult<domain::ports::Audience> {
        let (ix, version) = self.segment_index_at(brand.id, fresh).await?;
        let mut members = ix.evaluate(expr, &Self::eval_context(brand));
        if let Some(o) = only {
            let o: RoaringBitmap = ix.of_clients(&o.iter().map(|c| c.0).collect::<Vec<_>>());
            members &= o;
        }
        let stores: HashMap<String, String> = self
            .repo
            .list_stores(brand.id)
            .await?
            .into_iter()
            .map(|s| (s.code.as_str().to_owned(), s.time_zone.as_str().to_owned()))
            .collect();
        let mut zones = vec![brand.time_zone.as_str().to_owned()];
        let mut zone_of_store: HashMap<&str, usize> = HashMap::new();
        let channel = ChannelKind::Wecom.as_str();
        let mut candidates = Vec::with_capacity(members.len() as usize);
        for d in &members {
            let Some(id) = ix.client_id(d) else { continue };
            let zone = match ix.store_of(d) {
                Some(code) => match zone_of_store.get(code) {
                    Some(z) => *z,
                    None => {
                        let tz = stores
                            .get(code)
                            .cloned()
                            .unwrap_or_else(|| zones[0].clone());
                        let z = zones.iter().position(|x| *x == tz).unwrap_or_else(|| {
                            zones.push(tz);
                            zones.len() - 1
                        });
                        zone_of_store.insert(code, z);
                        z
                    }
                },
                None => 0,
            };
            candidates.push(Candidate {
                client_id: ClientId(id),
                associate: ix.associate_of(d).map(UserId),
                has_address: ix.reachable(d, channel),
                has_sender: false,
                consent: ix.consent_of(d, channel),
                zone,
                broadcast_days: Vec::new(),
            });
        }
        Ok(domain::ports::Audience {
            candidates,
            zones,
            version,
            per_batch: BATCH as usize,
        })
    }

    /// Plans a broadcast to its whole segment with a given planner (for `salon bench --plan`).
    pub async fn plan_campaign_with(
        &self,
        brand: &Brand,
        campaign: i64,
        planner: &domain::ports::Planner,
    ) -> AppResult<PlanCounts> {
        let c = self
            .repo
            .campaign(brand.id, campaign)
            .await?
            .ok_or(AppError::NotFound("campaign"))?;
        let expr = Self::parse_segment(&c.expression)?;
        self.plan_audience(brand, campaign, &expr, None, planner)
            .await
    }

    /// Plans against the index, reading it again if the facts changed meanwhile.
    async fn plan_audience(
        &self,
        brand: &Brand,
        campaign: i64,
        expr: &Expr,
        only: Option<&[ClientId]>,
        planner: &domain::ports::Planner,
    ) -> AppResult<PlanCounts> {
        let mut fresh = false;
        for _ in 0..3 {
            let audience = self.audience(brand, expr, only, fresh).await?;
            match self
                .repo
                .plan_campaign(brand.id, campaign, &audience, planner, now_millis())
                .await
            {
                Err(RepoError::Stale(_)) => fresh = true,
                other => return Ok(other?),
            }
        }
        Err(AppError::Conflict(
            "the clients keep changing; try again in a moment".into(),
        ))
    }

    pub(crate) fn eval_context(brand: &Brand) -> EvalContext {
        EvalContext {
            now_ms: now_millis(),
            tz: zone(brand.time_zone.as_str()),
        }
    }

    /// The expression, limited to the clients the actor may see.
    async fn scoped(&self, actor: &Actor, expr: Expr) -> AppResult<Expr> {
        let limit = match actor.scope() {
            Scope::Brand => return Ok(expr),
            Scope::Associate(u) => segments::Term::Sa { id: u.0 },
            Scope::Store(s) => {
                let store = self
                    .repo
                    .store(actor.brand.id, s)
                    .await?
                    .ok_or(AppError::NotFound("store"))?;
                segments::Term::Store {
                    value: store.code.as_str().to_lowercase(),
                }
            }
            Scope::Nothing => return Err(AppError::Forbidden("no clients in scope".into())),
        };
        Ok(Expr::And {
            terms: vec![expr, Expr::Term { term: limit }],
        })
    }

    pub(crate) fn parse_segment(expression: &str) -> AppResult<Expr> {
        segments::parse(expression).map_err(|e| invalid("expression", e.to_string()))
    }

    /// How many clients a segment expression holds: the live count while it is edited.
    pub async fn count_segment(&self, actor: &Actor, expression: &str) -> AppResult<SegmentCount> {
        actor.require(Action::ReadSegments)?;
        let expr = Self::parse_segment(expression)?;
        let ix = self.segment_index(actor.brand.id).await?;
        let ctx = Self::eval_context(&actor.brand);
        let started = Instant::now();
        let all = Expr::Term {
            term: segments::Term::Spend {
                cmp: segments::expr::Cmp::Ge,
                minor: i64::MIN,
            },
        };
        let of = self.scoped(actor, all).await?;
        let scoped = self.scoped(actor, expr.clone()).await?;
        let count = ix.count(&scoped, &ctx);
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        Ok(SegmentCount {
            expression: expr.to_string(),
            count,
            of: ix.count(&of, &ctx),
            micros,
        })
    }

    pub async fn segments(&self, actor: &Actor) -> AppResult<Vec<Segment>> {
        actor.require(Action::ReadSegments)?;
        Ok(self.repo.segments(actor.brand.id).await?)
    }

    pub async fn segment(&self, actor: &Actor, id: i64) -> AppResult<Segment> {
        actor.require(Action::ReadSegments)?;
        self.repo
            .segment(actor.brand.id, id)
            .await?
            .ok_or(AppError::NotFound("segment"))
    }

    /// Saves a segment (new when `id` is none); the expression is stored as it reads back.
    pub async fn save_segment(
        &self,
        actor: &Actor,
        id: Option<i64>,
        name: &str,
        expression: &str,
    ) -> AppResult<Segment> {
        actor.require(Action::ManageCampaigns)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 80 {
            return Err(invalid("name", "must be 1 to 80 characters"));
        }
        let expr = Self::parse_segment(expression)?;
        Ok(self
            .repo
            .save_segment(
                actor.brand.id,
                id,
                name,
                &expr.to_string(),
                actor.user_id(),
                now_millis(),
            )
            .await?)
    }

    pub async fn delete_segment(&self, actor: &Actor, id: i64) -> AppResult<()> {
        actor.require(Action::ManageCampaigns)?;
        if self.repo.delete_segment(actor.brand.id, id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound("segment"))
        }
    }

    pub async fn contact_policy(&self, actor: &Actor) -> AppResult<ContactPolicy> {
        actor.require(Action::ReadCampaigns)?;
        Ok(self.repo.contact_policy(actor.brand.id).await?)
    }

    pub async fn set_contact_policy(&self, actor: &Actor, p: &ContactPolicy) -> AppResult<()> {
        actor.require(Action::ManageCampaigns)?;
        p.validate().map_err(|e| AppError::Invalid(vec![e]))?;
        self.repo
            .put_contact_policy(actor.brand.id, p, now_millis())
            .await?;
        self.audit(
            actor,
            "contact_policy.update",
            "contact policy",
            serde_json::to_value(p).unwrap_or_default(),
        )
        .await?;
        Ok(())
    }

    /// Creates a campaign (a draft broadcast, or a prepared message open to associates at
    /// once). The segment is named, or written out.
    pub async fn create_campaign(
        &self,
        actor: &Actor,
        input: CampaignInput,
    ) -> AppResult<Campaign> {
        actor.require(Action::ManageCampaigns)?;
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 120 {
            return Err(invalid("name", "must be 1 to 120 characters"));
        }
        let template = Template::parse(&input.text).map_err(|e| AppError::Invalid(vec![e]))?;
        let expression = match (input.segment_id, input.expression.as_deref()) {
            (Some(id), _) => self.segment(actor, id).await?.expression,
            (None, Some(e)) if !e.trim().is_empty() => Self::parse_segment(e)?.to_string(),
            _ => {
                return Err(invalid(
                    "segment",
                    "name a saved segment or write an expression",
                ));
            }
        };
        let now = now_millis();
        let send_at = input.send_at.unwrap_or(now);
        if send_at < now - 60_000 {
            return Err(invalid("send_at", "is in the past"));
        }
        if input.max_recipients == Some(0) {
            return Err(invalid("max_recipients", "must be at least 1 when given"));
        }
        let asset_ids = self
            .approved_images(actor.brand.id, &input.asset_ids, send_at)
            .await?;
        let wecom = self
            .repo
            .channel_settings(actor.brand.id, ChannelKind::Wecom)
            .await?;
        if wecom.is_none() {
            return Err(AppError::Conflict(
                "WeCom is not connected: campaigns are sent as WeCom group messages".into(),
            ));
        }
        let c = self
            .repo
            .create_campaign(
                actor.brand.id,
                &NewCampaign {
                    name: name.to_owned(),
                    kind: input.kind,
                    segment_id: input.segment_id,
                    expression,
                    channel: ChannelKind::Wecom,
                    asset_ids,
                    template,
                    send_at,
                    max_recipients: input.max_recipients,
                    created_by: actor.user_id(),
                    at: now,
                },
            )
            .await?;
        if c.kind == CampaignKind::Prepared {
            self.repo
                .set_campaign_status(actor.brand.id, c.id, CampaignStatus::Planned)
                .await?;
        }
        self.audit(
            actor,
            "campaign.create",
            &format!("campaign:{}", c.id),
            serde_json::json!({"name": c.name, "kind": c.kind.as_str(), "segment": c.expression}),
        )
        .await?;
        self.campaign(actor, c.id).await.map(|v| v.campaign)
    }

    pub async fn campaign(&self, actor: &Actor, id: i64) -> AppResult<CampaignView> {
        actor.require(Action::ReadCampaigns)?;
        let campaign = self
            .repo
            .campaign(actor.brand.id, id)
            .await?
            .ok_or(AppError::NotFound("campaign"))?;
        let report = self.repo.campaign_report(actor.brand.id, id).await?;
        Ok(CampaignView { campaign, report })
    }

    pub async fn campaigns(&self, actor: &Actor) -> AppResult<Vec<CampaignView>> {
        actor.require(Action::ReadCampaigns)?;
        let mut out = Vec::new();
        for campaign in self.repo.campaigns(actor.brand.id).await? {
            let report = self
                .repo
                .campaign_report(actor.brand.id, campaign.id)
                .await?;
            out.push(CampaignView { campaign, report });
        }
        Ok(out)
    }

    pub async fn campaign_sends(
        &self,
        actor: &Actor,
        id: i64,
        status: Option<SendStatus>,
        after: i64,
        limit: u32,
    ) -> AppResult<Vec<SendRow>> {
        actor.require(Action::ReadCampaigns)?;
        self.repo
            .campaign(actor.brand.id, id)
            .await?
            .ok_or(AppError::NotFound("campaign"))?;
        Ok(self
            .repo
            .campaign_sends(actor.brand.id, id, status, after, limit)
            .await?)
    }

    /// The planner for a campaign at `send_at`, with the brand's policy.
    fn planner(
        brand: &Brand,
        policy: ContactPolicy,
        send_at: Millis,
        max: Option<u32>,
    ) -> Box<domain::ports::Planner> {
        let fallback = brand.time_zone.as_str().to_owned();
        Box::new(move |candidates, zones, counts| {
            let zones: Vec<jiff::tz::TimeZone> = zones
                .iter()
                .map(|z| jiff::tz::TimeZone::get(z).unwrap_or_else(|_| zone(&fallback)))
                .collect();
            plan(
                candidates,
                &PlanContext {
                    send_at,
                    policy: &policy,
                    zones: &zones,
                    max_recipients: max,
                    sa_day_counts: counts,
                },
            )
        })
    }

    /// Expands a broadcast into its sends: every client of its segment, checked.
    pub async fn plan_campaign(&self, actor: &Actor, id: i64) -> AppResult<PlanCounts> {
        actor.require(Action::ManageCampaigns)?;
        let b = actor.brand.id;
        let c = self
            .repo
            .campaign(b, id)
            .await?
            .ok_or(AppError::NotFound("campaign"))?;
        if c.kind != CampaignKind::Broadcast {
            return Err(AppError::Conflict(
                "a prepared message is sent by each associate, not planned at once".into(),
            ));
        }
        let expr = Self::parse_segment(&c.expression)?;
        let policy = self.repo.contact_policy(b).await?;
        let planner = Self::planner(
            &actor.brand,
            policy,
            c.send_at.max(now_millis()),
            c.max_recipients,
        );
        let counts = self
            .plan_audience(&actor.brand, id, &expr, None, &*planner)
            .await?;
        self.audit(
            actor,
            "campaign.plan",
            &format!("campaign:{id}"),
            serde_json::to_value(counts).unwrap_or_default(),
        )
        .await?;
        self.broadcasts.wake.notify_one();
        Ok(counts)
    }

    pub async fn cancel_campaign(&self, actor: &Actor, id: i64) -> AppResult<()> {
        actor.require(Action::ManageCampaigns)?;
        self.repo
            .set_campaign_status(actor.brand.id, id, CampaignStatus::Cancelled)
            .await?;
        self.audit(
            actor,
            "campaign.cancel",
            &format!("campaign:{id}"),
            serde_json::json!({}),
        )
        .await?;
        Ok(())
    }

    /// An associate's own clients in a prepared message's segment who have not had it.
    async fn task_clients(&self, actor: &Actor, c: &Campaign) -> AppResult<(Vec<ClientId>, u64)> {
        let b = actor.brand.id;
        let expr = self
            .scoped(actor, Self::parse_segment(&c.expression)?)
            .await?;
        let ix = self.segment_index(b).await?;
        let mine = ix.client_ids(&ix.evaluate(&expr, &Self::eval_context(&actor.brand)));
        // Only the associate's own clients are looked up, not the campaign's every send.
        let ids: Vec<ClientId> = mine.iter().copied().map(ClientId).collect();
        let had: HashSet<i64> = self
            .repo
            .clients_with_sends(b, c.id, &ids)
            .await?
            .into_iter()
            .map(|c| c.0)
            .collect();
        let done = mine.iter().filter(|c| had.contains(c)).count() as u64;
        let todo = mine
            .into_iter()
            .filter(|c| !had.contains(c))
            .map(ClientId)
            .collect();
        Ok((todo, done))
    }

    /// The prepared messages open to this associate, each with their clients still to send to.
    pub async fn tasks(&self, actor: &Actor) -> AppResult<Vec<Task>> {
        actor.require(Action::SendPrepared)?;
        let sa = actor
            .user
            .as_ref()
            .ok_or_else(|| AppError::Forbidden("an associate signs in".into()))?;
        let mut out = Vec::new();
        for c in self.repo.campaigns(actor.brand.id).await? {
            if c.kind != CampaignKind::Prepared || c.status != CampaignStatus::Planned {
                continue;
            }
            let (todo, done) = self.task_clients(actor, &c).await?;
            let mut clients = Vec::new();
            let mut preview = None;
            for id in todo.iter().take(50) {
                if let Some(cl) = self.repo.client(actor.brand.id, *id).await? {
                    let name = cl.pii.display_name();
                    if preview.is_none() {
                        preview = Some(c.template.render(
                            cl.pii.first_name.as_deref(),
                            cl.pii.last_name.as_deref(),
                            &name,
                            &sa.display_name,
                        ));
                    }
                    clients.push((*id, name));
                }
            }
            let preview =
                preview.unwrap_or_else(|| c.template.render(None, None, "…", &sa.display_name));
            out.push(Task {
                campaign: c,
                clients,
                preview,
                done,
            });
        }
        Ok(out)
    }

    /// One tap: the prepared message goes to each of the associate's clients in its segment,
    /// through the same checks and dispatcher as a broadcast.
    pub async fn send_prepared(&self, actor: &Actor, id: i64) -> AppResult<PlanCounts> {
        actor.require(Action::SendPrepared)?;
        let b = actor.brand.id;
        let c = self
            .repo
            .campaign(b, id)
            .await?
            .ok_or(AppError::NotFound("campaign"))?;
        if c.kind != CampaignKind::Prepared || c.status != CampaignStatus::Planned {
            return Err(AppError::Conflict(
                "this message is not open for sending".into(),
            ));
        }
        let (todo, _) = self.task_clients(actor, &c).await?;
        let policy = self.repo.contact_policy(b).await?;
        let planner = Self::planner(&actor.brand, policy, now_millis(), None);
        let expr = self
            .scoped(actor, Self::parse_segment(&c.expression)?)
            .await?;
        let counts = self
            .plan_audience(&actor.brand, id, &expr, Some(&todo), &*planner)
            .await?;
        self.broadcasts.wake.notify_one();
        Ok(counts)
    }

    /// Starts the dispatcher of campaign sends.
    pub fn start_broadcaster(&self) -> tokio::task::JoinHandle<()> {
        let salon = self.clone();
        tokio::spawn(async move {
            loop {
                match salon.broadcast_once().await {
                    Ok(n) if n > 0 => continue,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "campaign dispatch failed"),
                }
                let _ = tokio::time::timeout(
                    Duration::from_millis(500),
                    salon.broadcasts.wake.notified(),
                )
                .await;
            }
        })
    }

    /// One round: reconcile silent batches, hand due batches over (a few at once), ask about
    /// deliveries. Returns how many batches it handled.
    pub async fn broadcast_once(&self) -> AppResult<usize> {
        let hold = ms(lease(self));
        let now = now_millis();
        let mut handled = 0;
        for batch in self.repo.stale_batches(now, now + hold, 8).await? {
            handled += 1;
            if let Err(e) = self.reconcile(&batch).await {
                tracing::warn!(batch = batch.id, error = %e, "reconciliation postponed");
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let now = now_millis();
            let Some(batch) = self.repo.claim_batch(now, now + hold).await? else {
                break;
            };
            handled += 1;
            let salon = self.clone();
            tasks.spawn(async move {
                if let Err(e) = salon.send_batch(&batch).await {
                    tracing::warn!(batch = batch.id, error = %e, "batch not handed over");
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        handled += self.process_moments().await?;
        handled += self.process_group_posts().await?;
        self.confirm_deliveries(Duration::from_secs(2)).await?;
        Ok(handled)
    }

    async fn send_batch(&self, batch: &SendBatch) -> AppResult<()> {
        let b = batch.brand;
        let Some(c) = self.repo.campaign(b, batch.campaign_id).await? else {
            self.repo
                .batch_failed(batch.id, "the campaign is gone")
                .await?;
            return Ok(());
        };
        if c.status == CampaignStatus::Cancelled {
            self.repo.batch_failed(batch.id, "cancelled").await?;
            return Ok(());
        }
        if batch.sender.is_empty() {
            self.repo
                .batch_failed(batch.id, "the associate has no WeCom account")
                .await?;
            return Ok(());
        }
        if batch.attempts >= MAX_ATTEMPTS {
            self.repo
                .batch_failed(batch.id, "gave up after 10 attempts")
                .await?;
            return Ok(());
        }
        let sa = self.repo.user(b, batch.associate_id).await?;
        let sa_name = sa.map(|u| u.display_name).unwrap_or_default();
        let body = match (c.template.per_client(), batch.sends.first()) {
            (true, Some((_, client, _))) => match self.repo.client(b, *client).await? {
                Some(cl) => c.template.render(
                    cl.pii.first_name.as_deref(),
                    cl.pii.last_name.as_deref(),
                    &cl.pii.display_name(),
                    &sa_name,
                ),
                None => {
                    self.repo
                        .batch_failed(batch.id, "the client is gone")
                        .await?;
                    return Ok(());
                }
            },
            _ => c.template.render(None, None, "", &sa_name),
        };
        let addresses: Vec<String> = batch
            .sends
            .iter()
            .filter(|(_, _, a)| !a.is_empty())
            .map(|(_, _, a)| a.clone())
            .collect();
        let now = now_millis();
        // The text is on record before the call: a crash after it can be reconciled.
        self.repo
            .batch_attempt(batch.id, &body, now, now + ms(lease(self)))
            .await?;
        let api = self.wecom_api(b).await?;
        let mut media = Vec::new();
        for id in &c.asset_ids {
            match self.media_id(b, *id).await {
                Ok(m) => media.push(m),
                Err(e) => {
                    // Nothing was sent: the batch waits and tries again.
                    self.repo
                        .batch_retry(batch.id, &e.to_string(), now_millis() + 5_000)
                        .await?;
                    return Ok(());
                }
            }
        }
        match api
            .add_msg_template_with(&batch.sender, &addresses, &body, &media)
            .await
        {
            Ok(t) => {
                let refused: Vec<ClientId> = batch
                    .sends
                    .iter()
                    .filter(|(_, _, a)| a.is_empty() || t.fail_list.contains(a))
                    .map(|(_, c, _)| *c)
                    .collect();
                self.repo
                    .batch_sent(batch.id, &t.msgid, &refused, now_millis())
                    .await?;
                self.record_uses(&c, batch, &refused).await?;
            }
            Err(ApiError::Api {
                errcode: code,
                errmsg,
                ..
            }) => {
                let error = format!("WeCom errcode {code}: {errmsg}");
                if matches!(code, errcode::SYSTEM_BUSY | errcode::API_FREQ_OUT_OF_LIMIT)
                    || code == errcode::ACCESS_TOKEN_EXPIRED
                {
                    let backoff = 1_000_i64 << batch.attempts.clamp(0, 6);
                    self.repo
                        .batch_retry(batch.id, &error, now_millis() + backoff)
                        .await?;
                } else {
                    self.repo.batch_failed(batch.id, &error).await?;
                }
            }
            Err(e) => {
                // No clear answer: the batch keeps its lease, then is reconciled.
                tracing::warn!(batch = batch.id, error = %e, "group message left unanswered; reconciling after the lease");
            }
        }
        Ok(())
    }

    /// Who received which of the campaign's images.
    async fn record_uses(
        &self,
        c: &Campaign,
        batch: &SendBatch,
        refused: &[ClientId],
    ) -> AppResult<()> {
        if c.asset_ids.is_empty() {
            return Ok(());
        }
        let at = now_millis();
        let uses: Vec<AssetUse> = batch
            .sends
            .iter()
            .filter(|(_, client, _)| !refused.contains(client))
            .flat_map(|(_, client, _)| {
                c.asset_ids.iter().map(move |a| AssetUse {
                    asset_id: *a,
                    client_id: *client,
                    associate_id: Some(batch.associate_id),
                    campaign_id: Some(c.id),
                    at,
                })
            })
            .collect();
        Ok(self.repo.record_asset_uses(batch.brand, &uses).await?)
    }

    /// Asks WeCom whether a batch whose call went unanswered was taken, and settles it.
    async fn reconcile(&self, batch: &SendBatch) -> AppResult<()> {
        let (Some(body), Some(at)) = (&batch.body, batch.attempt_at) else {
            self.repo
                .batch_retry(batch.id, "never handed over", now_millis())
                .await?;
            return Ok(());
        };
        let api = self.wecom_api(batch.brand).await?;
        let unavailable = |e: ApiError| AppError::Unavailable(e.to_string());
        let ours: HashSet<&str> = batch
            .sends
            .iter()
            .map(|(_, _, a)| a.as_str())
            .filter(|a| !a.is_empty())
            .collect();
        let from = at / 1000 - 300;
        let to = now_millis() / 1000 + 60;
        let mut cursor = String::new();
        let mut found: Option<(String, HashSet<String>)> = None;
        'pages: loop {
            let page = api
                .get_groupmsg_list_v2(&batch.sender, from, to, &cursor)
                .await
                .map_err(unavailable)?;
            for m in &page.group_msg_list {
                if m.text.as_ref().map(|t| t.content.as_str()) != Some(body.as_str()) {
                    continue;
                }
                let mut got = HashSet::new();
                let mut c = String::new();
                loop {
                    let r = api
                        .get_groupmsg_send_result(&m.msgid, &batch.sender, &c)
                        .await
                        .map_err(unavailable)?;
                    got.extend(
                        r.send_list
                            .into_iter()
                            .filter(|s| s.status != 3)
                            .map(|s| s.external_userid),
                    );
                    if r.next_cursor.is_empty() {
                        break;
                    }
                    c = r.next_cursor;
                }
                if got.iter().any(|a| ours.contains(a.as_str())) {
                    found = Some((m.msgid.clone(), got));
                    break 'pages;
                }
            }
            if page.next_cursor.is_empty() {
                break;
            }
            cursor = page.next_cursor;
        }
        match found {
            Some((msgid, got)) => {
                tracing::info!(batch = batch.id, %msgid, "an unanswered group message had been taken: not sent again");
                let refused: Vec<ClientId> = batch
                    .sends
                    .iter()
                    .filter(|(_, _, a)| !got.contains(a))
                    .map(|(_, c, _)| *c)
                    .collect();
                self.repo
                    .batch_sent(batch.id, &msgid, &refused, now_millis())
                    .await?;
                if let Some(c) = self.repo.campaign(batch.brand, batch.campaign_id).await? {
                    self.record_uses(&c, batch, &refused).await?;
                }
            }
            None => {
                tracing::info!(
                    batch = batch.id,
                    "an unanswered group message was not taken: sending it again"
                );
                self.repo
                    .batch_retry(batch.id, "not taken by WeCom; sent again", now_millis())
                    .await?;
            }
        }
        Ok(())
    }

    /// Asks WeCom which clients received the batches sent at least `after` ago (an associate
    /// may still have to confirm a group message in WeCom: those are asked again later).
    pub async fn confirm_deliveries(&self, after: Duration) -> AppResult<()> {
        let now = now_millis();
        for (brand, id, msgid, sender) in self.repo.batches_to_confirm(now - ms(after), 8).await? {
            let Some(batch) = self.repo.batch(id).await? else {
                continue;
            };
            let Ok(api) = self.wecom_api(brand).await else {
                continue;
            };
            let Ok(r) = api.get_groupmsg_send_result(&msgid, &sender, "").await else {
                self.repo.batch_checked(id, Some(now + 60_000)).await?;
                continue;
            };
            let received: HashSet<&str> = r
                .send_list
                .iter()
                .filter(|s| s.status == 1)
                .map(|s| s.external_userid.as_str())
                .collect();
            let clients: Vec<ClientId> = batch
                .sends
                .iter()
                .filter(|(_, _, a)| received.contains(a.as_str()))
                .map(|(_, c, _)| *c)
                .collect();
            let newly = self.repo.mark_delivered(id, &clients, now).await?;
            if newly > 0 {
                self.broadcast_touches(brand, batch.associate_id, &clients, now)
                    .await;
            }
            let pending = r.send_list.iter().any(|s| s.status == 0);
            self.repo
                .batch_checked(id, pending.then_some(now + 60_000))
                .await?;
        }
        Ok(())
    }
}

impl Salon {
    /// The images a message or post carries: at most nine (WeCom's limit), each approved and
    /// valid at `at`; sorted, without repeats.
    async fn approved_images(
        &self,
        brand: BrandId,
        ids: &[i64],
        at: Millis,
    ) -> AppResult<Vec<i64>> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() > 9 {
            return Err(invalid("asset_ids", "at most 9 images (WeCom's limit)"));
        }
        for id in &ids {
            let a = self
                .repo
                .asset(brand, *id)
                .await?
                .ok_or(AppError::NotFound("asset"))?;
            if !a.usable_at(at) {
                return Err(invalid(
                    "asset_ids",
                    format!("\"{}\" is not approved and valid at the send time", a.title),
                ));
            }
        }
        Ok(ids)
    }

    /// Refuses a text a monitoring rule blocks, naming the rule.
    async fn refuse_blocked(&self, brand: BrandId, text: &str) -> AppResult<()> {
        let verdict = self.check_text(brand, text).await?;
        if let Some(hit) = verdict.blocked_by() {
            return Err(AppError::Blocked {
                rule: hit.rule.clone(),
                category: hit.category.as_str().to_owned(),
                matched: hit.matched.clone(),
            });
        }
        Ok(())
    }

    /// Queues a post to clients' Moments. HQ picks the associates whose clients see it (all
    /// associates linked to WeCom when none are named); an associate posts for their own
    /// clients. The text passes the monitoring rules first.
    pub async fn create_moment(
        &self,
        actor: &Actor,
        text: &str,
        senders: &[UserId],
        asset_ids: &[i64],
    ) -> AppResult<Moment> {
        let b = actor.brand.id;
        let senders: Vec<UserId> = if actor.role == Role::Associate {
            actor.require(Action::SendPrepared)?;
            vec![actor.user_id().ok_or(AppError::Unauthenticated)?]
        } else {
            actor.require(Action::ManageCampaigns)?;
            let linked: HashMap<UserId, String> = self
                .repo
                .staff_provider_ids(b, crate::channels::WECOM_STAFF)
                .await?
                .into_iter()
                .collect();
            if senders.is_empty() {
                let mut all: Vec<UserId> = linked.keys().copied().collect();
                all.sort();
                all
            } else {
                if let Some(u) = senders.iter().find(|u| !linked.contains_key(u)) {
                    return Err(invalid(
                        "senders",
                        format!("associate {} has no WeCom account", u.0),
                    ));
                }
                senders.to_vec()
            }
        };
        if senders.is_empty() {
            return Err(invalid("senders", "no associate is linked to WeCom"));
        }
        let text = text.trim();
        if text.is_empty() || text.chars().count() > 2_000 {
            return Err(invalid("text", "must be 1 to 2,000 characters"));
        }
        self.refuse_blocked(b, text).await?;
        let asset_ids = self.approved_images(b, asset_ids, now_millis()).await?;
        let m = self
            .repo
            .create_moment(b, text, &senders, &asset_ids, actor.user_id(), now_millis())
            .await?;
        self.broadcasts.wake.notify_one();
        Ok(m)
    }

    /// The WeCom media ids of a post's images.
    async fn moment_images(&self, m: &Moment) -> AppResult<Vec<String>> {
        let mut out = Vec::new();
        for id in &m.asset_ids {
            out.push(self.media_id(m.brand, *id).await?);
        }
        Ok(out)
    }

    /// The brand's posts (an associate sees their own).
    pub async fn moments(&self, actor: &Actor) -> AppResult<Vec<Moment>> {
        let all = self.repo.moments(actor.brand.id, 200).await?;
        if actor.role == Role::Associate {
            actor.require(Action::SendPrepared)?;
            let me = actor.user_id();
            // An associate sees what came of their own posting only.
            return Ok(all
                .into_iter()
                .filter(|m| m.created_by == me || me.is_some_and(|u| m.senders.contains(&u)))
                .map(|mut m| {
                    m.reach.retain(|r| Some(r.associate_id) == me);
                    m
                })
                .collect());
        }
        actor.require(Action::ReadCampaigns)?;
        Ok(all)
    }

    /// Hands queued posts to WeCom (`add_moment_task`) and asks about submitted ones. A post
    /// whose call went unanswered is marked unknown rather than posted twice.
    pub async fn process_moments(&self) -> AppResult<usize> {
        let now = now_millis();
        let mut n = 0;
        for m in self.repo.moments_due(16).await? {
            let Ok(api) = self.wecom_api(m.brand).await else {
                continue;
            };
            match m.status {
                MomentStatus::Queued => {
                    if !self
                        .repo
                        .moment_update(
                            m.id,
                            MomentStatus::Queued,
                            MomentStatus::Submitting,
                            None,
                            None,
                            None,
                            now,
                        )
                        .await?
                    {
                        continue;
                    }
                    n += 1;
                    let linked: HashMap<UserId, String> = self
                        .repo
                        .staff_provider_ids(m.brand, crate::channels::WECOM_STAFF)
                        .await?
                        .into_iter()
                        .collect();
                    let senders: Vec<String> = m
                        .senders
                        .iter()
                        .filter_map(|u| linked.get(u).cloned())
                        .collect();
                    // An image that could not be uploaded leaves the post queued, as a busy
                    // answer would: nothing was handed over.
                    let sent = match self.moment_images(&m).await {
                        Ok(images) => api.add_moment_task_with(&senders, &m.text, &images).await,
                        Err(e) => Err(ApiError::Api {
                            api: "media/upload".into(),
                            errcode: errcode::SYSTEM_BUSY,
                            errmsg: e.to_string(),
                        }),
                    };
                    let (status, jobid, error) = match sent {
                        Ok(job) => (MomentStatus::Submitted, Some(job), None),
                        Err(ApiError::Api {
                            errcode: code,
                            errmsg,
                            ..
                        }) if matches!(
                            code,
                            errcode::SYSTEM_BUSY | errcode::API_FREQ_OUT_OF_LIMIT
                        ) =>
                        {
                            (
                                MomentStatus::Queued,
                                None,
                                Some(format!("WeCom errcode {code}: {errmsg}")),
                            )
                        }
                        Err(ApiError::Api {
                            errcode: code,
                            errmsg,
                            ..
                        }) => (
                            MomentStatus::Failed,
                            None,
                            Some(format!("WeCom errcode {code}: {errmsg}")),
                        ),
                        Err(e) => (MomentStatus::Unknown, None, Some(e.to_string())),
                    };
                    self.repo
                        .moment_update(
                            m.id,
                            MomentStatus::Submitting,
                            status,
                            jobid.as_deref(),
                            None,
                            error.as_deref(),
                            now_millis(),
                        )
                        .await?;
                }
                // Its dispatcher died mid-call: whether WeCom has it is unknown.
                MomentStatus::Submitting
                    if m.attempt_at.is_some_and(|t| now - t > ms(lease(self))) =>
                {
                    self.repo
                        .moment_update(
                            m.id,
                            MomentStatus::Submitting,
                            MomentStatus::Unknown,
                            None,
                            None,
                            Some(INTERRUPTED),
                            now,
                        )
                        .await?;
                }
                MomentStatus::Submitted => {
                    let Some(job) = &m.jobid else { continue };
                    if now - m.updated_at < 2_000 {
                        continue;
                    }
                    match api.get_moment_task_result(job).await {
                        Ok(r) if r.status == 3 => {
                            let id = r
                                .result
                                .as_ref()
                                .and_then(|v| v["moment_id"].as_str())
                                .map(str::to_owned);
                            self.repo
                                .moment_update(
                                    m.id,
                                    MomentStatus::Submitted,
                                    MomentStatus::Done,
                                    None,
                                    id.as_deref(),
                                    None,
                                    now,
                                )
                                .await?;
                            n += 1;
                        }
                        _ => {
                            self.repo
                                .moment_update(
                                    m.id,
                                    MomentStatus::Submitted,
                                    MomentStatus::Submitted,
                                    None,
                                    None,
                                    None,
                                    now,
                                )
                                .await?;
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(n + self.follow_moments(now).await?)
    }

    /// Reads again what came of recent posts: which associates published them, how many
    /// clients see them, and which clients liked them or commented.
    async fn follow_moments(&self, now: Millis) -> AppResult<usize> {
        let mut n = 0;
        for m in self
            .repo
            .moments_to_follow(now - MOMENT_FOLLOW_FOR, now - MOMENT_FOLLOW_EVERY, 4)
            .await?
        {
            let reach = match self.read_moment_reach(&m).await {
                Ok(reach) => {
                    n += 1;
                    reach
                }
                Err(e) => {
                    // Asked again at the next round; what was known is kept.
                    tracing::warn!(moment = m.id, error = %e, "could not read what came of a Moments post");
                    m.reach.clone()
                }
            };
            self.repo.moment_reach(m.id, &reach, now).await?;
        }
        Ok(n)
    }

    async fn read_moment_reach(&self, m: &Moment) -> AppResult<Vec<MomentReach>> {
        let Some(moment_id) = m.moment_id.as_deref() else {
            return Ok(Vec::new());
        };
        let api = self.wecom_api(m.brand).await?;
        let channel = |e: ApiError| AppError::Internal(e.to_string());
        let staff: HashMap<String, UserId> = self
            .repo
            .staff_provider_ids(m.brand, crate::channels::WECOM_STAFF)
            .await?
            .into_iter()
            .map(|(u, id)| (id, u))
            .collect();
        let mut out = Vec::new();
        for (userid, published) in api.get_moment_task(moment_id).await.map_err(channel)? {
            let Some(&associate_id) = staff.get(&userid) else {
                continue;
            };
            let mut r = MomentReach {
                associate_id,
                published,
                seen_by: 0,
                liked_by: Vec::new(),
                commented_by: Vec::new(),
            };
            if published {
                let seen = api
                    .get_moment_send_result(moment_id, &userid)
                    .await
                    .map_err(channel)?;
                r.seen_by = u32::try_from(seen.len()).unwrap_or(u32::MAX);
                let c = api
                    .get_moment_comments(moment_id, &userid)
                    .await
                    .map_err(channel)?;
                let clients = |list: &[channels::wecom::api::MomentInteraction]| -> Vec<String> {
                    list.iter()
                        .filter_map(|i| i.external_userid.clone())
                        .collect()
                };
                let (likes, comments) = (clients(&c.like_list), clients(&c.comment_list));
                let asked: Vec<String> = likes.iter().chain(&comments).cloned().collect();
                let known: HashMap<String, ClientId> = self
                    .repo
                    .clients_by_identities(m.brand, IdentityKind::Wecom, &asked)
                    .await?
                    .into_iter()
                    .map(|(value, client, _)| (value, client))
                    .collect();
                let ids = |list: &[String]| -> Vec<ClientId> {
                    let mut ids: Vec<ClientId> =
                        list.iter().filter_map(|e| known.get(e).copied()).collect();
                    ids.sort();
                    ids.dedup();
                    ids
                };
                r.liked_by = ids(&likes);
                r.commented_by = ids(&comments);
            }
            out.push(r);
        }
        Ok(out)
    }
}
