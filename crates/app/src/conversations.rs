//! Conversations: the associate's inbox, a client's thread, sending through the outbox and
//! its dispatcher, thread export, and service quality (first response, response rate, and
//! clients left waiting).
//!
//! Nothing is sent from a request: a message is checked against the brand's rules, queued in
//! the outbox (one row per idempotency key) and sent by the dispatcher. On WeCom it goes out
//! through WeChat customer service (`kf/send_msg`) with the outbox row's own `msgid`, so a
//! send retried after a crash or a lost answer is delivered once.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use domain::{
    Action, BrandId, ChannelKind, Client, ClientId, ConversationSummary, Direction, Flag,
    FlagQuery, IdentityKind, Message, NewMessage, NewOutbound, Outbound, OutboundStatus, Role,
    StoreId, UserId, now_millis,
};
use rules::Hit;

use crate::{Actor, AppError, AppResult, Salon};

/// How long the dispatcher leases a row: a dispatcher that dies mid-send gives it back then.
pub const LEASE_MS: i64 = 60_000;
/// When a row that failed `attempts` times is tried again: 1 s, doubling, at most 5 minutes.
fn retry_at(attempts: i32) -> domain::Millis {
    now_millis() + (1_000i64 << attempts.clamp(0, 8)).min(300_000)
}

/// The mark an Official Account send carries while WeChat is being called.
const OA_CALLING: &str = "calling WeChat (message/custom/send)";
/// Why an Official Account send is left unknown rather than sent again.
const OA_UNKNOWN: &str = "unknown: WeChat did not answer the call, and the Official Account API has no message id to ask about; not sent again, so that the client never gets it twice";
/// Attempts before a row is given up as failed.
pub const MAX_ATTEMPTS: i32 = 10;
/// Business hours, in the brand's time zone, over which response times are counted.
pub const BUSINESS_HOURS: (i8, i8) = (10, 22);
/// A client message unanswered this long (in business time) alerts the associate; twice as
/// long, the store manager.
pub const RESPONSE_LIMIT_MS: i64 = 2 * 3_600_000;

/// A thread in the inbox.
#[derive(Debug, Clone, Serialize)]
pub struct InboxItem {
    #[serde(flatten)]
    pub summary: ConversationSummary,
    pub client_name: String,
    pub associate_name: Option<String>,
}

/// One client's thread, oldest message first.
#[derive(Debug, Clone, Serialize)]
pub struct Thread {
    pub client: Client,
    pub messages: Vec<Message>,
    /// Messages waiting in (or failed out of) the outbox.
    pub pending: Vec<Outbound>,
    pub flags: Vec<Flag>,
    /// System notices between the messages: who serves the client from when, and what WeCom
    /// did with a transfer.
    pub notices: Vec<Notice>,
    /// Names of the associates on the thread.
    pub associates: HashMap<i64, String>,
    pub can_send: bool,
}

/// A system notice in a thread (not a message: nobody wrote it, and it is not a reply).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Notice {
    pub at: domain::Millis,
    /// `assigned`, `wecom_transfer` or `transfer_failed`.
    pub kind: String,
    pub text: String,
}

/// The notices a client's timeline holds, oldest first.
fn notices(timeline: &[domain::TimelineEntry], names: &HashMap<i64, String>) -> Vec<Notice> {
    let name = |v: &serde_json::Value| {
        v.as_i64()
            .and_then(|id| names.get(&id).cloned())
            .unwrap_or_else(|| "another associate".into())
    };
    let mut out: Vec<Notice> = timeline
        .iter()
        .filter_map(|e| {
            let d = &e.detail;
            let text = match e.kind.as_str() {
                "assigned" => {
                    let who = d["associate"]
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| name(&d["associate_id"]));
                    match d["reason"].as_str().filter(|r| !r.is_empty()) {
                        Some(r) => format!("Now served by {who} ({r})"),
                        None => format!("Now served by {who}"),
                    }
                }
                "wecom_transfer" => format!(
                    "WeCom moved the contact from {} to {}",
                    name(&d["from"]),
                    name(&d["to"])
                ),
                "transfer_failed" => format!(
                    "WeCom did not move the contact ({})",
                    d["reason"].as_str().unwrap_or("refused")
                ),
                _ => return None,
            };
            Some(Notice {
                at: e.at,
                kind: e.kind.clone(),
                text,
            })
        })
        .collect();
    out.sort_by_key(|n| n.at);
    out
}

/// What sending answered: the queued message, and the rules that warned.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub outbound: Outbound,
    pub warnings: Vec<Hit>,
}

/// Service quality of one associate.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ServiceFigures {
    pub associate_id: Option<UserId>,
    pub associate: String,
    pub store_id: Option<StoreId>,
    /// Client turns: a client message (or run of them) after the last answer.
    pub turns: u32,
    pub answered: u32,
    /// answered / turns, 0..1.
    pub response_rate: f64,
    /// Median first response, in business minutes.
    pub median_first_response_min: Option<f64>,
    pub waiting: u32,
    pub overdue: u32,
}

/// A client left unanswered past the brand's limit.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WaitingClient {
    pub client_id: ClientId,
    pub client_name: String,
    pub associate_id: Option<UserId>,
    pub since: i64,
    /// Business minutes waited so far.
    pub waited_min: f64,
    /// Past twice the limit: the store manager is alerted too.
    pub escalated: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ServiceReport {
    pub by_associate: Vec<ServiceFigures>,
    pub overdue: Vec<WaitingClient>,
    pub limit_min: i64,
    pub business_hours: (i8, i8),
}

/// A thread's client turns: a client message (or a run of them) and the answer it got.
struct Turns {
    /// (waiting since, answered at, the associate the client was waiting for).
    answered: Vec<(i64, i64, Option<UserId>)>,
    /// The turn still waiting for an answer.
    waiting: Option<(i64, Option<UserId>)>,
}

/// Walks a thread in time order (sorting it) into its turns.
fn turns(msgs: &mut [Message]) -> Turns {
    msgs.sort_by_key(|m| (m.at, m.id));
    let mut t = Turns {
        answered: Vec::new(),
        waiting: None,
    };
    for m in msgs.iter() {
        match (m.direction, t.waiting) {
            (Direction::In, None) => t.waiting = Some((m.at, m.associate_id)),
            (Direction::Out, Some((since, who))) => {
                t.answered.push((since, m.at, who));
                t.waiting = None;
            }
            _ => {}
        }
    }
    t
}

/// Milliseconds of `[from, to)` within business hours, in `tz`.
pub fn business_millis(tz: &jiff::tz::TimeZone, from: i64, to: i64) -> i64 {
    if to <= from {
        return 0;
    }
    let (Ok(a), Ok(b)) = (
        jiff::Timestamp::from_millisecond(from),
        jiff::Timestamp::from_millisecond(to),
    ) else {
        return 0;
    };
    let mut day = a.to_zoned(tz.clone()).date();
    let last = b.to_zoned(tz.clone()).date();
    let mut total = 0;
    let mut guard = 0;
    while day <= last && guard < 400 {
        guard += 1;
        let open = day
            .at(BUSINESS_HOURS.0, 0, 0, 0)
            .to_zoned(tz.clone())
            .map(|z| z.timestamp().as_millisecond());
        let close = day
            .at(BUSINESS_HOURS.1, 0, 0, 0)
            .to_zoned(tz.clone())
            .map(|z| z.timestamp().as_millisecond());
        if let (Ok(open), Ok(close)) = (open, close) {
            let s = from.max(open);
            let e = to.min(close);
            if e > s {
                total += e - s;
            }
        }
        match day.tomorrow() {
            Ok(d) => day = d,
            Err(_) => break,
        }
    }
    total
}

/// The idempotency key given (at most 64 characters), or a fresh one when none is.
pub(crate) fn idempotency_key(given: Option<&str>) -> AppResult<String> {
    match given.map(str::trim).filter(|k| !k.is_empty()) {
        Some(k) if k.len() <= 64 => Ok(k.to_owned()),
        Some(_) => Err(AppError::invalid(
            "idempotency_key",
            "at most 64 characters",
        )),
        None => Ok(crate::auth::new_secret("auto-")),
    }
}

/// An idempotency key belongs to its sender: the same key from two people is two messages,
/// and nobody gets another's message back by sending with their key.
pub(crate) fn sender_key(actor: &Actor, key: String) -> String {
    match actor.user_id() {
        Some(u) => format!("u{}:{key}", u.0),
        // A token that names no person: its role's own space.
        None => format!("{}:{key}", actor.role),
    }
}

pub(crate) fn check_body(text: &str) -> AppResult<String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(AppError::invalid("text", "write a message first"));
    }
    if t.chars().count() > 2000 {
        return Err(AppError::invalid(
            "text",
            "a message is at most 2,000 characters",
        ));
    }
    Ok(t.to_owned())
}

/// How an image row of the outbox names its asset.
const IMAGE_PREFIX: &str = "asset:";

impl Salon {
    /// Conversations in the actor's scope, latest first.
    pub async fn inbox(&self, actor: &Actor, limit: u32) -> AppResult<Vec<InboxItem>> {
        actor.require(Action::ReadConversations)?;
        let b = actor.brand.id;
        let list = self
            .repo
            .conversations(b, actor.scope(), actor.user_id(), limit.clamp(1, 500))
            .await?;
        let names = self.staff_names(b).await?;
        let mut out = Vec::with_capacity(list.len());
        for s in list {
            let client_name = self
                .repo
                .client(b, s.client_id)
                .await?
                .map(|c| c.pii.display_name())
                .unwrap_or_default();
            out.push(InboxItem {
                associate_name: s.associate_id.and_then(|u| names.get(&u.0).cloned()),
                client_name,
                summary: s,
            });
        }
        // Each thread comes with its last message's text.
        if actor.role == Role::Compliance {
            self.audit(
                actor,
                "compliance_read",
                "inbox",
                serde_json::json!({"threads": out.len()}),
            )
            .await?;
        }
        Ok(out)
    }

    /// The brand's staff names by id.
    pub async fn staff_names(&self, brand: BrandId) -> AppResult<HashMap<i64, String>> {
        Ok(self
            .repo
            .list_users(brand, None)
            .await?
            .into_iter()
            .map(|(u, _)| (u.id.0, u.display_name))
            .collect())
    }

    /// A client's whole thread: every message since the client came, whoever served them.
    /// Opening it marks it read for the reader; a compliance officer's reading is audited.
    /// A client's messages, newest first, for a role that may read message text (HQ sees
    /// figures only). Every route that hands out message text of a thread goes through here,
    /// so a compliance officer's read is audited whichever route asked.
    pub(crate) async fn read_messages(
        &self,
        actor: &Actor,
        client: ClientId,
        limit: u32,
    ) -> AppResult<(domain::Client, Vec<Message>)> {
        actor.require(Action::ReadConversations)?;
        let c = self.client(actor, client).await?;
        let messages = self.repo.messages(actor.brand.id, client, limit).await?;
        if actor.role == Role::Compliance {
            self.audit(
                actor,
                "compliance_read",
                &format!("client:{}", client.0),
                serde_json::json!({"messages": messages.len()}),
            )
            .await?;
        }
        Ok((c, messages))
    }

    pub async fn thread(&self, actor: &Actor, client: ClientId) -> AppResult<Thread> {
        let (c, mut messages) = self.read_messages(actor, client, 5000).await?;
        let b = actor.brand.id;
        messages.reverse();
        // Read up to the newest message stored (ids follow storage; times may not).
        if let (Some(reader), Some(last)) = (actor.user_id(), messages.iter().map(|m| m.id).max()) {
            self.repo.mark_read(b, client, reader, last).await?;
        }
        let flags = self
            .repo
            .flags(
                b,
                &FlagQuery {
                    client: Some(client),
                    limit: 200,
                    ..FlagQuery::default()
                },
            )
            .await?;
        let pending = self.pending_outbound(b, client).await?;
        let associates = self.staff_names(b).await?;
        let notices = notices(&self.repo.timeline(b, client, 500).await?, &associates);
        Ok(Thread {
            client: c,
            messages,
            pending,
            flags,
            notices,
            associates,
            can_send: actor.can(Action::SendMessages),
        })
    }

    /// Refuses an associate's text that a blocking rule matches. The attempt is recorded for
    /// compliance (where it was going: a client, or a group); the recipients never see it.
    pub(crate) async fn refuse_recorded(
        &self,
        actor: &Actor,
        verdict: &rules::Verdict,
        client: Option<ClientId>,
        group: Option<i64>,
        store: Option<domain::StoreId>,
    ) -> AppResult<()> {
        let Some(hit) = verdict.blocked_by() else {
            return Ok(());
        };
        let flags = vec![domain::NewFlag {
            message_id: None,
            client_id: client,
            group_message_id: None,
            group_id: group,
            associate_id: actor.user_id(),
            store_id: store,
            direction: Direction::Out,
            hit: hit.clone(),
            at: now_millis(),
        }];
        self.repo.add_flags(actor.brand.id, &flags).await?;
        Err(AppError::Blocked {
            rule: hit.rule.clone(),
            category: hit.category.as_str().to_owned(),
            matched: hit.matched.clone(),
        })
    }

    async fn pending_outbound(&self, brand: BrandId, client: ClientId) -> AppResult<Vec<Outbound>> {
        Ok(self
            .repo
            .outbox_of_client(brand, client)
            .await?
            .into_iter()
            .filter(|o| o.status != OutboundStatus::Sent)
            .collect())
    }

    /// Writes to a client: checked against the rules (a blocking rule refuses it, naming the
    /// rule, and nothing is queued), then queued for the dispatcher. `idem_key` makes a
    /// repeated submission one message.
    pub async fn send_message(
        &self,
        actor: &Actor,
        client: ClientId,
        text: &str,
        idem_key: Option<&str>,
    ) -> AppResult<Sent> {
        actor.require(Action::SendMessages)?;
        let c = self.client(actor, client).await?;
        let body = check_body(text)?;
        let b = actor.brand.id;
        let verdict = self.check_text(b, &body).await?;
        self.refuse_recorded(actor, &verdict, Some(client), None, c.store_id)
            .await?;
        let outbound = self.queue_for(actor, &c, "text", body, idem_key).await?;
        self.outbox_wake.notify_one();
        Ok(Sent {
            outbound,
            warnings: verdict.warnings().cloned().collect(),
        })
    }

    /// Queues a message to a client who can be written to on WeCom, once per idempotency key
    /// (a fresh key when none is given).
    async fn queue_for(
        &self,
        actor: &Actor,
        c: &domain::Client,
        msg_type: &str,
        body: String,
        idem_key: Option<&str>,
    ) -> AppResult<Outbound> {
        let has = |kind| c.identities.iter().any(|i| i.kind == kind);
        // The answer goes where the client can be written to; with both, where they last wrote.
        let channel = match (has(IdentityKind::Wecom), has(IdentityKind::WechatOa)) {
            (true, false) => ChannelKind::Wecom,
            (false, true) => ChannelKind::WechatOa,
            (true, true) => self
                .repo
                .messages(actor.brand.id, c.id, 20)
                .await?
                .iter()
                .find(|m| m.direction == Direction::In)
                .map(|m| m.channel)
                .filter(|ch| *ch == ChannelKind::WechatOa)
                .unwrap_or(ChannelKind::Wecom),
            (false, false) => {
                return Err(AppError::invalid(
                    "client",
                    "this client has no WeCom contact or Official Account follow to write to; they join by scanning a store or associate QR code",
                ));
            }
        };
        if channel == ChannelKind::WechatOa && msg_type != "text" {
            return Err(AppError::invalid(
                "client",
                "this client follows the Official Account only: images go to WeCom contacts",
            ));
        }
        let idem_key = sender_key(actor, idempotency_key(idem_key)?);
        let at = now_millis();
        let queued = self
            .repo
            .enqueue(
                actor.brand.id,
                &NewOutbound {
                    client_id: c.id,
                    associate_id: actor.user_id().or(c.associate_id),
                    channel,
                    msg_type: msg_type.to_owned(),
                    body,
                    idem_key,
                    at,
                },
            )
            .await?;
        // The associate wrote to the client: a touch that may earn a sale's credit.
        if let Some(u) = &actor.user {
            self.record_touch(
                actor.brand.id,
                c,
                u.email.as_str(),
                sales::TouchKind::Message,
                at,
                "conversation",
            )
            .await;
        }
        Ok(queued)
    }

    /// Sends an approved image of the asset pool to a client, through the outbox like any
    /// message. The thread shows it as `[image] <title>`.
    pub async fn send_image(
        &self,
        actor: &Actor,
        client: ClientId,
        asset_id: i64,
        idem_key: Option<&str>,
    ) -> AppResult<Outbound> {
        actor.require(Action::SendMessages)?;
        let c = self.client(actor, client).await?;
        let b = actor.brand.id;
        let asset = self
            .repo
            .asset(b, asset_id)
            .await?
            .filter(|a| a.usable_at(now_millis()))
            .ok_or_else(|| {
                AppError::invalid(
                    "asset_id",
                    "not an approved image of the asset pool, valid now",
                )
            })?;
        let body = format!("{IMAGE_PREFIX}{} {}", asset.id, asset.title);
        let outbound = self.queue_for(actor, &c, "image", body, idem_key).await?;
        self.outbox_wake.notify_one();
        Ok(outbound)
    }

    /// An outbox row the actor queued, or one for a client in their scope.
    pub async fn outbound(&self, actor: &Actor, id: i64) -> AppResult<Outbound> {
        actor.require(Action::SendMessages)?;
        let o = self
            .repo
            .outbound(actor.brand.id, id)
            .await?
            .ok_or(AppError::NotFound("outbox row"))?;
        self.client(actor, o.client_id).await?;
        Ok(o)
    }

    /// Runs the dispatcher until the process ends.
    pub fn start_dispatcher(&self) -> tokio::task::JoinHandle<()> {
        let salon = self.clone();
        tokio::spawn(async move {
            loop {
                match salon.dispatch_once().await {
                    Ok(n) if n > 0 => continue,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "outbox dispatch failed"),
                }
                let _ = tokio::time::timeout(Duration::from_secs(1), salon.outbox_wake.notified())
                    .await;
            }
        })
    }

    /// Leases due outbox rows and sends them. Returns how many were handled.
    pub async fn dispatch_once(&self) -> AppResult<usize> {
        let now = now_millis();
        let rows = self.repo.outbox_claim(now, now + LEASE_MS, 32).await?;
        let n = rows.len();
        for row in rows {
            if let Err(e) = self.deliver(&row).await {
                tracing::warn!(outbox = row.id, error = %e, "outbox row not delivered");
            }
        }
        Ok(n)
    }

    async fn kf_account(&self, brand: BrandId) -> AppResult<String> {
        if let Some(id) = self
            .kf_accounts
            .lock()
            .ok()
            .and_then(|m| m.get(&brand).cloned())
        {
            return Ok(id);
        }
        let api = self.wecom_api(brand).await?;
        let list = api
            .kf_accounts()
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        let id = list
            .into_iter()
            .next()
            .map(|a| a.open_kfid)
            .ok_or_else(|| {
                AppError::Unavailable(
                    "WeCom has no WeChat customer-service account to send from".into(),
                )
            })?;
        if let Ok(mut m) = self.kf_accounts.lock() {
            m.insert(brand, id.clone());
        }
        Ok(id)
    }

    async fn deliver(&self, row: &Outbound) -> AppResult<()> {
        use channels::wecom::api::{ApiError, errcode};
        let b = row.brand;
        let Some(client) = self.repo.client(b, row.client_id).await? else {
            self.repo
                .outbox_failed(row.id, "the client no longer exists")
                .await?;
            return Ok(());
        };
        if row.channel == ChannelKind::WechatOa {
            return self.deliver_oa(row, &client).await;
        }
        let Some(external) = client
            .identities
            .iter()
            .find(|i| i.kind == IdentityKind::Wecom)
            .map(|i| i.value.clone())
        else {
            self.repo
                .outbox_failed(row.id, "the client has no WeCom contact")
                .await?;
            return Ok(());
        };
        // The msgid is the row's own: WeCom delivers one message per msgid.
        let msgid = format!("s{}-o{}", b.0, row.id);
        // An image row's body is `asset:<id> <title>`: the image goes as WeCom media.
        let image = (row.msg_type == "image")
            .then(|| row.body.strip_prefix(IMAGE_PREFIX))
            .flatten()
            .and_then(|rest| rest.split_once(' '))
            .and_then(|(id, _)| id.parse::<i64>().ok());
        let sent = match (self.wecom_api(b).await, self.kf_account(b).await) {
            (Ok(api), Ok(kf)) => match image {
                Some(asset) => match self.media_id(b, asset).await {
                    Ok(media) => api.kf_send_image(&kf, &external, &msgid, &media).await,
                    Err(e) => Err(ApiError::Transport {
                        api: "media/upload".into(),
                        detail: e.to_string(),
                    }),
                },
                None => api.kf_send_text(&kf, &external, &msgid, &row.body).await,
            },
            (Err(e), _) | (_, Err(e)) => Err(ApiError::Transport {
                api: "kf/send_msg".into(),
                detail: e.to_string(),
            }),
        };
        match sent {
            Ok(provider_id) => {
                let message = NewMessage {
                    client_id: row.client_id,
                    channel: row.channel,
                    direction: Direction::Out,
                    associate_id: row.associate_id,
                    provider_id: Some(provider_id.clone()),
                    msg_type: row.msg_type.clone(),
                    // The thread shows an image by its title.
                    body: match (image, row.body.split_once(' ')) {
                        (Some(_), Some((_, title))) => format!("[image] {title}"),
                        _ => row.body.clone(),
                    },
                    at: now_millis(),
                };
                let id = self
                    .repo
                    .outbox_sent(row.id, &provider_id, &message)
                    .await?;
                if let Some(asset) = image {
                    self.repo
                        .record_asset_uses(
                            b,
                            &[domain::AssetUse {
                                asset_id: asset,
                                client_id: row.client_id,
                                associate_id: row.associate_id,
                                campaign_id: None,
                                at: message.at,
                            }],
                        )
                        .await?;
                    return Ok(());
                }
                self.flag_message(
                    b,
                    id,
                    row.client_id,
                    row.associate_id,
                    Direction::Out,
                    &row.body,
                )
                .await?;
            }
            Err(e)
                if matches!(
                    e.errcode(),
                    Some(
                        errcode::KF_SESSION_INVALID
                            | errcode::KF_INVALID_TOUSER
                            | 40058
                            | 44004
                            | 45002
                            | 95000
                            | 40007
                    )
                ) || row.attempts >= MAX_ATTEMPTS =>
            {
                self.repo.outbox_failed(row.id, &e.to_string()).await?;
            }
            Err(e) => {
                self.repo
                    .outbox_retry(row.id, &e.to_string(), retry_at(row.attempts))
                    .await?;
            }
        }
        Ok(())
    }

    /// Sends a row to an Official Account follower (`message/custom/send`). WeChat gives no
    /// message id to ask about afterwards, so the call is marked on the row before it is made:
    /// a row found marked again (its dispatcher died or its answer was lost) is reported as
    /// unknown, never sent a second time.
    async fn deliver_oa(&self, row: &Outbound, client: &domain::Client) -> AppResult<()> {
        use channels::wecom::api::ApiError;
        let Some(openid) = client
            .identities
            .iter()
            .find(|i| i.kind == IdentityKind::WechatOa)
            .map(|i| i.value.clone())
        else {
            self.repo
                .outbox_failed(row.id, "the client no longer follows the Official Account")
                .await?;
            return Ok(());
        };
        if row.error.as_deref() == Some(OA_CALLING) {
            self.repo.outbox_failed(row.id, OA_UNKNOWN).await?;
            return Ok(());
        }
        let api = match self.oa_api(row.brand).await {
            Ok(api) => api,
            Err(e) => {
                self.repo
                    .outbox_retry(row.id, &e.to_string(), retry_at(row.attempts))
                    .await?;
                return Ok(());
            }
        };
        self.repo.outbox_mark(row.id, OA_CALLING).await?;
        match api.custom_send_text(&openid, &row.body).await {
            Ok(()) => {
                let message = NewMessage {
                    client_id: row.client_id,
                    channel: ChannelKind::WechatOa,
                    direction: Direction::Out,
                    associate_id: row.associate_id,
                    provider_id: Some(format!("oa-s{}-o{}", row.brand.0, row.id)),
                    msg_type: row.msg_type.clone(),
                    body: row.body.clone(),
                    at: now_millis(),
                };
                let provider = message.provider_id.clone().unwrap_or_default();
                let id = self.repo.outbox_sent(row.id, &provider, &message).await?;
                self.flag_message(
                    row.brand,
                    id,
                    row.client_id,
                    row.associate_id,
                    Direction::Out,
                    &row.body,
                )
                .await?;
            }
            // Busy: WeChat took nothing; again later.
            Err(e) if e.errcode() == Some(-1) && row.attempts < MAX_ATTEMPTS => {
                self.repo
                    .outbox_retry(row.id, &e.to_string(), retry_at(row.attempts))
                    .await?;
            }
            // The token could not be had: the message was never handed over.
            Err(ApiError::Transport { api, .. } | ApiError::Decode { api, .. })
                if api == "token" =>
            {
                self.repo
                    .outbox_retry(
                        row.id,
                        "the Official Account token could not be had",
                        retry_at(row.attempts),
                    )
                    .await?;
            }
            // Refused (45015: more than 48 hours since the follower last wrote; 40003: not
            // a follower): nothing was sent.
            Err(e @ ApiError::Api { .. }) => {
                self.repo.outbox_failed(row.id, &e.to_string()).await?;
            }
            // No answer: WeChat may have taken it.
            Err(_) => {
                self.repo.outbox_failed(row.id, OA_UNKNOWN).await?;
            }
        }
        Ok(())
    }

    /// A thread as JSON Lines or CSV; the export is in the audit log.
    pub async fn export_thread(
        &self,
        actor: &Actor,
        client: ClientId,
        format: &str,
    ) -> AppResult<(String, &'static str)> {
        actor.require(Action::ExportConversations)?;
        self.client(actor, client).await?;
        let mut messages = self.repo.messages(actor.brand.id, client, 100_000).await?;
        messages.reverse();
        let body = render_export(&messages, format)?;
        self.audit(
            actor,
            "export",
            &format!("client:{}", client.0),
            serde_json::json!({"format": if format.is_empty() { "jsonl" } else { format }, "messages": messages.len()}),
        )
        .await?;
        Ok(body)
    }

    /// A client waiting since `since`, if past the limit (in business time).
    async fn overdue_client(
        &self,
        brand: BrandId,
        tz: &jiff::tz::TimeZone,
        client: ClientId,
        since: i64,
        who: Option<UserId>,
        now: i64,
    ) -> AppResult<Option<WaitingClient>> {
        let waited = business_millis(tz, since, now);
        if waited <= RESPONSE_LIMIT_MS {
            return Ok(None);
        }
        let name = self
            .repo
            .client(brand, client)
            .await?
            .map(|c| c.pii.display_name())
            .unwrap_or_default();
        Ok(Some(WaitingClient {
            client_id: client,
            client_name: name,
            associate_id: who,
            since,
            waited_min: waited as f64 / 60_000.0,
            escalated: waited > 2 * RESPONSE_LIMIT_MS,
        }))
    }

    /// The clients of these inbox threads left waiting past the limit: only threads whose last
    /// message is the client's are read, so that the inbox never reads the brand's archive.
    pub async fn overdue_in(
        &self,
        actor: &Actor,
        items: &[InboxItem],
    ) -> AppResult<Vec<WaitingClient>> {
        let b = actor.brand.id;
        let tz = jiff::tz::TimeZone::get(actor.brand.time_zone.as_str())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        let now = now_millis();
        let mut out = Vec::new();
        for item in items
            .iter()
            .filter(|i| i.summary.last.direction == Direction::In)
        {
            let client = item.summary.client_id;
            let mut msgs = self.repo.messages(b, client, 200).await?;
            if let Some((since, who)) = turns(&mut msgs).waiting
                && let Some(w) = self.overdue_client(b, &tz, client, since, who, now).await?
            {
                out.push(w);
            }
        }
        out.sort_by(|a, b| b.waited_min.total_cmp(&a.waited_min));
        Ok(out)
    }

    /// First-response times and response rates per associate, within business hours, and
    /// the clients waiting past the limit. A store manager sees their store's.
    pub async fn service_quality(&self, actor: &Actor) -> AppResult<ServiceReport> {
        if !(actor.can(Action::ReadConversationFigures) || actor.role == Role::Associate) {
            actor.require(Action::ReadConversationFigures)?;
        }
        let b = actor.brand.id;
        let tz = jiff::tz::TimeZone::get(actor.brand.time_zone.as_str())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        let users: HashMap<i64, domain::User> = self
            .repo
            .list_users(b, None)
            .await?
            .into_iter()
            .map(|(u, _)| (u.id.0, u))
            .collect();
        // Every message of the brand, by client, in order.
        let mut threads: HashMap<ClientId, Vec<Message>> = HashMap::new();
        let mut after = 0;
        loop {
            let page = self.repo.messages_after(b, after, 10_000).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for m in page {
                threads.entry(m.client_id).or_default().push(m);
            }
        }
        let now = now_millis();
        let mut per: HashMap<Option<i64>, (ServiceFigures, Vec<f64>)> = HashMap::new();
        let mut overdue = Vec::new();
        for (client, mut msgs) in threads {
            let turns = turns(&mut msgs);
            for (since, answered, who) in turns.answered {
                let e = per.entry(who.map(|u| u.0)).or_default();
                e.0.turns += 1;
                e.0.answered += 1;
                e.1.push(business_millis(&tz, since, answered) as f64 / 60_000.0);
            }
            if let Some((since, who)) = turns.waiting {
                let e = per.entry(who.map(|u| u.0)).or_default();
                e.0.turns += 1;
                e.0.waiting += 1;
                if let Some(w) = self.overdue_client(b, &tz, client, since, who, now).await? {
                    e.0.overdue += 1;
                    overdue.push(w);
                }
            }
        }
        let mut by_associate: Vec<ServiceFigures> = per
            .into_iter()
            .map(|(who, (mut f, mut times))| {
                let u = who.and_then(|id| users.get(&id));
                f.associate_id = who.map(UserId);
                f.associate = u.map_or_else(|| "(unassigned)".into(), |u| u.display_name.clone());
                f.store_id = u.and_then(|u| u.store_id);
                f.response_rate = if f.turns == 0 {
                    0.0
                } else {
                    f64::from(f.answered) / f64::from(f.turns)
                };
                times.sort_by(f64::total_cmp);
                f.median_first_response_min = if times.is_empty() {
                    None
                } else if times.len() % 2 == 1 {
                    Some(times[times.len() / 2])
                } else {
                    Some((times[times.len() / 2 - 1] + times[times.len() / 2]) / 2.0)
                };
                f
            })
            .collect();
        // Row-level scope: an associate sees their own line, a manager their store's.
        match actor.role {
            Role::Associate => {
                let me = actor.user_id();
                by_associate.retain(|f| f.associate_id == me);
                overdue.retain(|w| w.associate_id == me);
            }
            Role::StoreManager => {
                let store = actor.store;
                by_associate.retain(|f| f.store_id.is_some() && f.store_id == store);
                overdue.retain(|w| {
                    w.associate_id
                        .and_then(|u| users.get(&u.0))
                        .is_some_and(|u| u.store_id == store)
                });
            }
            _ => {}
        }
        by_associate.sort_by(|a, b| a.associate.cmp(&b.associate));
        overdue.sort_by(|a, b| b.waited_min.total_cmp(&a.waited_min));
        Ok(ServiceReport {
            by_associate,
            overdue,
            limit_min: RESPONSE_LIMIT_MS / 60_000,
            business_hours: BUSINESS_HOURS,
        })
    }
}

/// Messages as JSON Lines (`jsonl`, the default) or CSV, with the content type.
/// A message as an export's CSV row.
pub trait ExportRow: Serialize {
    const HEADER: &'static [&'static str];
    fn cells(&self) -> Vec<String>;
}

impl ExportRow for Message {
    const HEADER: &'static [&'static str] = &[
        "id",
        "at",
        "client_id",
        "channel",
        "direction",
        "associate_id",
        "msg_type",
        "body",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.at.to_string(),
            self.client_id.0.to_string(),
            self.channel.as_str().to_owned(),
            self.direction.as_str().to_owned(),
            self.associate_id
                .map(|u| u.0.to_string())
                .unwrap_or_default(),
            self.msg_type.clone(),
            self.body.clone(),
        ]
    }
}

impl ExportRow for domain::GroupMessage {
    const HEADER: &'static [&'static str] = &[
        "id",
        "at",
        "group_id",
        "sender_ref",
        "client_id",
        "associate_id",
        "msg_type",
        "body",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.at.to_string(),
            self.group_id.to_string(),
            self.sender_ref.clone(),
            self.sender
                .client()
                .map(|c| c.0.to_string())
                .unwrap_or_default(),
            self.sender
                .associate()
                .map(|u| u.0.to_string())
                .unwrap_or_default(),
            self.msg_type.clone(),
            self.body.clone(),
        ]
    }
}

/// Messages as JSON Lines or CSV, with the content type.
pub fn render_export<R: ExportRow>(
    messages: &[R],
    format: &str,
) -> AppResult<(String, &'static str)> {
    let internal = |e: &dyn std::fmt::Display| AppError::Internal(e.to_string());
    match format {
        "jsonl" | "" => {
            let mut out = String::new();
            for m in messages {
                out.push_str(&serde_json::to_string(m).map_err(|e| internal(&e))?);
                out.push('\n');
            }
            Ok((out, "application/x-ndjson"))
        }
        "csv" => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(R::HEADER).map_err(|e| internal(&e))?;
            for m in messages {
                // Every cell, whoever wrote it: a client's words can start with "=".
                w.write_record(m.cells().iter().map(|c| domain::csv_cell(c).into_owned()))
                    .map_err(|e| internal(&e))?;
            }
            let bytes = w.into_inner().map_err(|e| internal(&e))?;
            Ok((
                String::from_utf8(bytes).map_err(|e| internal(&e))?,
                "text/csv; charset=utf-8",
            ))
        }
        other => Err(AppError::invalid(
            "format",
            format!("unknown format {other:?}; expected jsonl or csv"),
        )),
    }
}

/// For the UI: a message queued but not yet sent reads as "sending".
pub fn outbound_label(o: &Outbound) -> &'static str {
    match o.status {
        OutboundStatus::Queued | OutboundStatus::Sending => "sending",
        OutboundStatus::Sent => "sent",
        OutboundStatus::Failed => "not delivered",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: i64, at: i64, direction: Direction, who: i64) -> Message {
        Message {
            id,
            client_id: ClientId(1),
            channel: ChannelKind::Wecom,
            direction,
            associate_id: Some(UserId(who)),
            msg_type: "text".into(),
            body: String::new(),
            at,
            card: None,
        }
    }

    #[test]
    fn a_thread_is_walked_into_answered_turns_and_the_one_waiting() {
        // Out of order on purpose: the walk sorts by time.
        let mut thread = vec![
            msg(4, 40, Direction::Out, 7),
            msg(1, 10, Direction::In, 7),
            msg(2, 20, Direction::In, 7),
            msg(3, 30, Direction::Out, 7),
            msg(5, 50, Direction::In, 8),
        ];
        let t = turns(&mut thread);
        // Two client messages in a row are one turn, answered at 30; the answer at 40 answers
        // nothing; the client has waited since 50, for associate 8.
        assert_eq!(t.answered, vec![(10, 30, Some(UserId(7)))]);
        assert_eq!(t.waiting, Some((50, Some(UserId(8)))));
        assert!(turns(&mut []).waiting.is_none());
    }

    #[test]
    fn business_time_counts_only_opening_hours() {
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz");
        let at = |s: &str| {
            jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", s)
                .expect("date")
                .to_zoned(tz.clone())
                .expect("zoned")
                .timestamp()
                .as_millisecond()
        };
        // 21:00 to 11:00 the next day: one hour before closing, one after opening.
        assert_eq!(
            business_millis(&tz, at("2026-03-02 21:00"), at("2026-03-03 11:00")),
            2 * 3_600_000
        );
        assert_eq!(
            business_millis(&tz, at("2026-03-02 23:00"), at("2026-03-03 09:00")),
            0
        );
        assert_eq!(
            business_millis(&tz, at("2026-03-02 10:30"), at("2026-03-02 10:45")),
            15 * 60_000
        );
    }
}
