//! The WeChat channels: brand settings, callback intake (durable first, processed after),
//! what each callback does to the client book, channel QR codes with onboarding, and staff
//! sync from WeCom.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use channels::wecom::MsgCrypt;
use channels::wecom::api::{NewContactWay as ApiContactWay, Policy, WecomApi};
use channels::wecom::callback::{Callback, Event};
use domain::*;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::error::Errors;
use crate::{Actor, AppError, AppResult, Salon};

/// A callback is retried this many times before it is left for a person to look at.
pub const MAX_ATTEMPTS: i32 = 5;
/// Callbacks written per transaction at most (group commit).
const INGEST_BATCH: usize = 512;
/// The provider id kinds staff are linked by.
pub const WECOM_STAFF: &str = "wecom";

/// A brand's callback endpoint: the settings and the crypto built from them.
pub struct Endpoint {
    /// Safe mode's crypto: always for WeCom, and for an Official Account once it has an
    /// EncodingAESKey — then nothing else is accepted. `None`: the OA's plain mode.
    pub crypt: Option<MsgCrypt>,
    pub settings: ChannelSettings,
}

impl Endpoint {
    /// The Official Account's plain `signature` (token, timestamp, nonce), which also signs
    /// its URL verification in either mode.
    pub fn verify_plain(
        &self,
        signature: &str,
        timestamp: &str,
        nonce: &str,
    ) -> Result<(), channels::wecom::CryptoError> {
        channels::wecom::crypto::verify_plain(&self.settings.token, signature, timestamp, nonce)
    }
}

/// `None` remembers that the brand has not configured the channel. A change drops the entry
/// in every process within a second (see `processes`); entries are also re-read after
/// [`SETTINGS_TTL`], which bounds what a missed change could leave.
type CachedEndpoint = (std::time::Instant, Option<Arc<Endpoint>>);
const SETTINGS_TTL: Duration = Duration::from_secs(5);
type Pending = (
    InboxItem,
    oneshot::Sender<AppResult<Result<InboxReceipt, Replayed>>>,
);

/// The channels' shared state: caches, the group-commit writer, the processor's wake-up.
#[derive(Default)]
pub struct Channels {
    writer: OnceLock<mpsc::Sender<Pending>>,
    wake: Arc<Notify>,
    endpoints: RwLock<HashMap<(BrandId, ChannelKind), CachedEndpoint>>,
    apis: Mutex<HashMap<BrandId, Arc<WecomApi>>>,
    oa_apis: Mutex<HashMap<BrandId, Arc<channels::wecom::oa::OaApi>>>,
    slugs: RwLock<HashMap<String, Brand>>,
    /// The API client's pacing and retries (tests shorten the backoff).
    pub api_policy: RwLock<Policy>,
    /// The clock callback timestamps are checked against, in seconds: the system's unless a
    /// test pins it (Tencent's published sample requests are signed in 2014 and 2016).
    pub callback_clock: RwLock<Option<i64>>,
}

impl Channels {
    /// Drops what is cached of a brand's channels (after its settings changed).
    pub fn forget(&self, brand: BrandId) {
        if let Ok(mut m) = self.endpoints.write() {
            m.retain(|(b, _), _| *b != brand);
        }
        if let Ok(mut m) = self.apis.lock() {
            m.remove(&brand);
        }
        if let Ok(mut m) = self.oa_apis.lock() {
            m.remove(&brand);
        }
    }

    /// Drops the brand itself as cached by slug (after it was deleted).
    pub fn forget_slug(&self, brand: BrandId) {
        if let Ok(mut m) = self.slugs.write() {
            m.retain(|_, b| b.id != brand);
        }
    }
}

/// What a person types into the channel settings form, or passes to `salon channel`.
/// Empty secrets keep the stored ones (they are never shown back).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ChannelInput {
    #[serde(alias = "corp_id")]
    pub app_id: Option<String>,
    pub agent_id: Option<String>,
    pub secret: Option<String>,
    pub token: Option<String>,
    pub aes_key: Option<String>,
    pub api_base: Option<String>,
    /// OA menu keys to categories (`ecommerce`, `information`, `crm`).
    pub menu: Option<std::collections::BTreeMap<String, String>>,
}

/// Channel settings as they may be shown: secrets masked.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChannelView {
    pub channel: ChannelKind,
    pub configured: bool,
    pub app_id: Option<String>,
    pub agent_id: Option<String>,
    pub api_base: Option<String>,
    pub secret: Option<String>,
    pub token: Option<String>,
    pub aes_key: Option<String>,
    pub menu: std::collections::BTreeMap<String, String>,
    pub updated_at: Option<Millis>,
    /// The path Tencent must call, under the server's public address.
    pub callback_path: String,
    pub inbox: InboxCounts,
}

/// Menu categories of `../shared/spec/events.md`.
pub const MENU_CATEGORIES: [&str; 3] = ["ecommerce", "information", "crm"];

fn url_segment(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Wecom => "wecom",
        ChannelKind::WechatOa => "wechat-oa",
    }
}

fn token_field(s: &str) -> Result<String, FieldError> {
    let s = s.trim();
    if s.is_empty() || s.len() > 32 || !s.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(FieldError::new(
            "token",
            "must be 1 to 32 letters or digits, as set in the provider's console",
        ));
    }
    Ok(s.to_owned())
}

fn app_id_field(field: &str, s: &str) -> Result<String, FieldError> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(FieldError::new(
            field,
            "must be letters, digits or _ (at most 64)",
        ));
    }
    Ok(s.to_owned())
}

fn api_base_field(s: &str) -> Result<String, FieldError> {
    let s = s.trim().trim_end_matches('/');
    if !(s.starts_with("https://") || s.starts_with("http://")) || s.len() < 10 || s.contains(' ') {
        return Err(FieldError::new("api_base", "must be an http(s) URL"));
    }
    Ok(s.to_owned())
}

/// Builds settings from input over what is stored, naming every problem at once.
pub fn settings_from_input(
    kind: ChannelKind,
    input: &ChannelInput,
    stored: Option<&ChannelSettings>,
) -> AppResult<ChannelSettings> {
    let mut e = Errors::default();
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let id_field = if kind == ChannelKind::Wecom {
        "corp_id"
    } else {
        "app_id"
    };
    let app_id = match given(&input.app_id).or_else(|| stored.map(|s| s.app_id.clone())) {
        Some(v) => e.take(app_id_field(id_field, &v)),
        None => {
            e.push(FieldError::new(id_field, "is required"));
            None
        }
    };
    let agent_id = match given(&input.agent_id) {
        Some(v) if v.chars().all(|c| c.is_ascii_digit()) && v.len() <= 12 => Some(v),
        Some(_) => {
            e.push(FieldError::new(
                "agent_id",
                "must be the app's numeric AgentId",
            ));
            None
        }
        None => stored.and_then(|s| s.agent_id.clone()),
    };
    let secret = given(&input.secret).or_else(|| stored.map(|s| s.secret.clone()));
    if secret.is_none() {
        e.push(FieldError::new("secret", "is required"));
    }
    let token = match given(&input.token).or_else(|| stored.map(|s| s.token.clone())) {
        Some(v) => e.take(token_field(&v)),
        None => {
            e.push(FieldError::new("token", "is required"));
            None
        }
    };
    // WeCom always has an EncodingAESKey. An Official Account without one is in plain mode;
    // once it has one, an empty field keeps it: a form left blank never falls back to plain.
    let aes_key = match given(&input.aes_key).or_else(|| stored.and_then(|s| s.aes_key.clone())) {
        Some(v) => match channels::wecom::crypto::decode_aes_key(&v) {
            Ok(_) => Some(v),
            Err(err) => {
                e.push(FieldError::new("aes_key", err.to_string()));
                None
            }
        },
        None if kind == ChannelKind::Wecom => {
            e.push(FieldError::new("aes_key", "is required"));
            None
        }
        None => None,
    };
    let api_base = match given(&input.api_base) {
        Some(v) => e.take(api_base_field(&v)),
        None => Some(stored.map_or_else(
            || match kind {
                ChannelKind::Wecom => channels::wecom::api::DEFAULT_BASE.to_owned(),
                ChannelKind::WechatOa => channels::wecom::oa::DEFAULT_BASE.to_owned(),
            },
            |s| s.api_base.clone(),
        )),
    };
    let menu = match &input.menu {
        Some(m) => {
            for (k, v) in m {
                if !MENU_CATEGORIES.contains(&v.as_str()) {
                    e.push(FieldError::new(
                        "menu",
                        format!(
                            "the key {k} maps to {v}; categories are ecommerce, information and crm"
                        ),
                    ));
                }
            }
            m.clone()
        }
        None => stored.map(|s| s.menu.clone()).unwrap_or_default(),
    };
    e.finish()?;
    match (app_id, secret, token, api_base) {
        (Some(app_id), Some(secret), Some(token), Some(api_base)) => Ok(ChannelSettings {
            channel: kind,
            app_id,
            agent_id,
            api_base,
            secret,
            token,
            aes_key,
            menu,
            updated_at: now_millis(),
        }),
        _ => Err(AppError::Internal(
            "settings validation fell through".into(),
        )),
    }
}

/// A new channel QR code, as HQ or a store manager describes it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ContactWayInput {
    /// `store`, `associate` or `campaign`.
    pub kind: Option<String>,
    pub label: Option<String>,
    /// A store code.
    pub store: Option<String>,
    /// The associate's id.
    pub associate: Option<i64>,
    /// Campaign codes: a short name that becomes part of the state.
    pub campaign: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub welcome_text: Option<String>,
}

/// What staff sync did.
#[derive(Debug, Clone, Default, serde::Serialize, PartialEq, Eq)]
pub struct StaffSyncReport {
    pub seen: usize,
    pub created: usize,
    pub linked: usize,
    pub departed: usize,
    /// Departed associates whose clients wait for transfer.
    pub clients_to_transfer: i64,
}

/// The public onboarding page of a store.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Onboarding {
    pub brand_name: String,
    pub brand_slug: String,
    pub store: Store,
    pub associates: Vec<OnboardingAssociate>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct OnboardingAssociate {
    pub id: UserId,
    pub name: String,
    pub clients: i64,
    pub qr_code: Option<String>,
}

impl Salon {
    pub(crate) fn channels(&self) -> &Channels {
        &self.channels
    }

    /// A brand by slug, from memory after the first read.
    pub async fn brand_by_slug(&self, slug: &str) -> AppResult<Brand> {
        if let Some(b) = self
            .channels()
            .slugs
            .read()
            .ok()
            .and_then(|m| m.get(slug).cloned())
        {
            return Ok(b);
        }
        let brand = self
            .repo
            .brand_by_slug(slug)
            .await?
            .ok_or(AppError::NotFound("brand"))?;
        if let Ok(mut m) = self.channels().slugs.write() {
            m.insert(slug.to_owned(), brand.clone());
        }
        Ok(brand)
    }

    /// Checks a signed callback's `timestamp` against the freshness window (either way), and
    /// returns the guard that makes its signature good for one callback only: every Salon
    /// process remembers it (in the database) for as long as the timestamp would pass.
    pub fn fresh_callback(
        &self,
        signature: &str,
        timestamp: &str,
    ) -> Result<ReplayGuard, channels::wecom::CryptoError> {
        use channels::wecom::crypto::{FRESHNESS_WINDOW_S, check_fresh};
        let real_now = now_millis();
        let now = self
            .channels()
            .callback_clock
            .read()
            .ok()
            .and_then(|c| *c)
            .unwrap_or(real_now / 1000);
        check_fresh(timestamp, now)?;
        // A timestamp within the window of now passes until at most two windows from now.
        Ok(ReplayGuard {
            signature: signature.to_owned(),
            expires_at: real_now + 2 * FRESHNESS_WINDOW_S * 1000,
        })
    }

    /// The callback endpoint of a brand's channel, or `channel not found` when the brand has
    /// not configured it.
    pub async fn endpoint(&self, brand: &Brand, kind: ChannelKind) -> AppResult<Arc<Endpoint>> {
        if let Some((at, cached)) = self
            .channels()
            .endpoints
            .read()
            .ok()
            .and_then(|m| m.get(&(brand.id, kind)).cloned())
            && at.elapsed() < SETTINGS_TTL
        {
            return cached.ok_or(AppError::NotFound("channel"));
        }
        let settings = self.repo.channel_settings(brand.id, kind).await?;
        let endpoint = match settings {
            Some(s) => {
                let crypt = s
                    .aes_key
                    .as_deref()
                    .map(|key| MsgCrypt::new(&s.token, key, &s.app_id))
                    .transpose()
                    .map_err(|e| AppError::Internal(format!("stored channel settings: {e}")))?;
                Some(Arc::new(Endpoint { crypt, settings: s }))
            }
            None => None,
        };
        if let Ok(mut m) = self.channels().endpoints.write() {
            m.insert(
                (brand.id, kind),
                (std::time::Instant::now(), endpoint.clone()),
            );
        }
        endpoint.ok_or(AppError::NotFound("channel"))
    }

    /// The WeCom API client of a brand.
    pub async fn wecom_api(&self, brand: BrandId) -> AppResult<Arc<WecomApi>> {
        if let Some(api) = self
            .channels()
            .apis
            .lock()
            .ok()
            .and_then(|m| m.get(&brand).cloned())
        {
            return Ok(api);
        }
        let s = self
            .repo
            .channel_settings(brand, ChannelKind::Wecom)
            .await?
            .ok_or(AppError::NotFound("channel"))?;
        let policy = self
            .channels()
            .api_policy
            .read()
            .map(|p| p.clone())
            .unwrap_or_default();
        let api = Arc::new(WecomApi::new(&s.api_base, &s.app_id, &s.secret, policy));
        if let Ok(mut m) = self.channels().apis.lock() {
            m.insert(brand, api.clone());
        }
        Ok(api)
    }

    /// The Official Account API client of a brand.
    pub async fn oa_api(&self, brand: BrandId) -> AppResult<Arc<channels::wecom::oa::OaApi>> {
        if let Some(api) = self
            .channels()
            .oa_apis
            .lock()
            .ok()
            .and_then(|m| m.get(&brand).cloned())
        {
            return Ok(api);
        }
        let s = self
            .repo
            .channel_settings(brand, ChannelKind::WechatOa)
            .await?
            .ok_or(AppError::NotFound("channel"))?;
        let api = Arc::new(channels::wecom::oa::OaApi::new(
            &s.api_base,
            &s.app_id,
            &s.secret,
        ));
        if let Ok(mut m) = self.channels().oa_apis.lock() {
            m.insert(brand, api.clone());
        }
        Ok(api)
    }

    /// Stores settings for a brand (the CLI's way in; the API and UI go through
    /// [`Salon::configure_channel`]).
    pub async fn set_channel_settings(
        &self,
        brand: BrandId,
        kind: ChannelKind,
        input: &ChannelInput,
    ) -> AppResult<ChannelSettings> {
        let stored = self.repo.channel_settings(brand, kind).await?;
        let settings = settings_from_input(kind, input, stored.as_ref())?;
        self.repo.put_channel_settings(brand, &settings).await?;
        self.changed(brand, crate::processes::Topic::Channels)
            .await?;
        tracing::info!(brand = %brand, channel = %kind, "channel settings changed");
        Ok(settings)
    }

    pub async fn configure_channel(
        &self,
        actor: &Actor,
        kind: ChannelKind,
        input: &ChannelInput,
    ) -> AppResult<ChannelView> {
        actor.require(Action::ManageChannels)?;
        self.set_channel_settings(actor.brand.id, kind, input)
            .await?;
        self.channel_view(actor, kind).await
    }

    pub async fn channel_view(&self, actor: &Actor, kind: ChannelKind) -> AppResult<ChannelView> {
        actor.require(Action::ReadChannels)?;
        let s = self.repo.channel_settings(actor.brand.id, kind).await?;
        let inbox = self
            .repo
            .inbox_counts(actor.brand.id, kind, MAX_ATTEMPTS)
            .await?;
        Ok(ChannelView {
            channel: kind,
            configured: s.is_some(),
            app_id: s.as_ref().map(|s| s.app_id.clone()),
            agent_id: s.as_ref().and_then(|s| s.agent_id.clone()),
            api_base: s.as_ref().map(|s| s.api_base.clone()),
            secret: s.as_ref().map(|s| mask(&s.secret)),
            token: s.as_ref().map(|s| mask(&s.token)),
            aes_key: s.as_ref().and_then(|s| s.aes_key.as_deref().map(mask)),
            menu: s.as_ref().map(|s| s.menu.clone()).unwrap_or_default(),
            updated_at: s.as_ref().map(|s| s.updated_at),
            callback_path: format!(
                "/channels/{}/{}/callback",
                url_segment(kind),
                actor.brand.slug.as_str()
            ),
            inbox,
        })
    }

    /// "Test the connection": fetches a fresh access token and, for WeCom, the staff list.
    pub async fn test_channel(&self, actor: &Actor, kind: ChannelKind) -> AppResult<String> {
        actor.require(Action::ManageChannels)?;
        let s = self
            .repo
            .channel_settings(actor.brand.id, kind)
            .await?
            .ok_or(AppError::NotFound("channel"))?;
        let unavailable = |e: channels::wecom::api::ApiError| AppError::Unavailable(e.to_string());
        match kind {
            ChannelKind::Wecom => {
                let api = WecomApi::new(
                    &s.api_base,
                    &s.app_id,
                    &s.secret,
                    Policy {
                        attempts: 1,
                        ..Policy::default()
                    },
                );
                api.access_token().await.map_err(unavailable)?;
                let staff = api.user_list(1).await.map_err(unavailable)?;
                Ok(format!(
                    "Connected to WeCom at {}: {} staff visible to the app.",
                    s.api_base,
                    staff.len()
                ))
            }
            ChannelKind::WechatOa => {
                channels::wecom::oa::fetch_token(&s.api_base, &s.app_id, &s.secret)
                    .await
                    .map_err(unavailable)?;
                Ok(format!(
                    "Connected to the Official Account API at {}.",
                    s.api_base
                ))
            }
        }
    }

    // --- Intake --------------------------------------------------------------------------

    /// Stores a verified, decrypted callback durably and returns once it is committed.
    /// Concurrent callbacks share one transaction (group commit).
    pub async fn ingest(
        &self,
        brand: BrandId,
        kind: ChannelKind,
        callback: &Callback,
        body: String,
        replay: Option<ReplayGuard>,
    ) -> AppResult<Result<InboxReceipt, Replayed>> {
        let item = InboxItem {
            brand,
            channel: kind,
            dedup_key: callback.dedup_key.clone(),
            received_at: now_millis(),
            body,
            replay,
        };
        let writer = self.channels().writer.get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Pending>(4 * INGEST_BATCH);
            tokio::spawn(write_inbox(
                self.repo.clone(),
                rx,
                self.channels().wake.clone(),
            ));
            tx
        });
        let (done, receipt) = oneshot::channel();
        writer
            .send((item, done))
            .await
            .map_err(|_| AppError::Internal("the inbox writer stopped".into()))?;
        receipt
            .await
            .map_err(|_| AppError::Internal("the inbox writer stopped".into()))?
    }

    /// Runs the processor until the process ends: wakes on each commit, and every few seconds
    /// to retry what failed. With several processes on one database, one of them at a time
    /// processes the inbox (in the order the callbacks came), under a lease it renews before
    /// each batch and gives back when nothing is left; a process that dies holding it is
    /// relieved once it runs out ([`crate::processes::LEASE_FOR`]).
    pub fn start_channel_processor(&self) -> tokio::task::JoinHandle<()> {
        let salon = self.clone();
        tokio::spawn(async move {
            loop {
                let mut pause = Duration::from_secs(2);
                match salon.process_inbox_as_owner().await {
                    Ok(Some(n)) if n > 0 => continue,
                    Ok(Some(_)) => {
                        if let Err(e) = salon.release_lease(crate::processes::INBOX_LEASE).await {
                            tracing::warn!(error = %e, "channel processor: lease not given back");
                        }
                    }
                    // Another process is at it; look again soon, in case it stops.
                    Ok(None) => pause = Duration::from_millis(500),
                    Err(e) => tracing::error!(error = %e, "channel processor"),
                }
                let wake = salon.channels().wake.clone();
                let _ = tokio::time::timeout(pause, wake.notified()).await;
            }
        })
    }

    /// One batch of the inbox, under the inbox lease: `None` when another process holds it.
    pub async fn process_inbox_as_owner(&self) -> AppResult<Option<usize>> {
        if !self.take_lease(crate::processes::INBOX_LEASE).await? {
            return Ok(None);
        }
        self.process_inbox().await.map(Some)
    }

    /// Processes what is pending; returns how many callbacks it handled.
    pub async fn process_inbox(&self) -> AppResult<usize> {
        let pending = self.repo.inbox_pending(500, MAX_ATTEMPTS).await?;
        let n = pending.len();
        // Client messages from known clients are stored a run at a time, in one transaction
        // (with their stream events and their inbox entries closed); anything else is
        // processed on its own. Order is kept: a run ends where another callback comes.
        // Who the senders of client messages are, for the whole batch at once.
        let mut senders: HashMap<BrandId, Vec<String>> = HashMap::new();
        let parsed: Vec<Option<Callback>> = pending
            .iter()
            .map(|e| {
                let cb = Callback::parse(&e.item.body).ok()?;
                if e.item.channel == ChannelKind::Wecom
                    && let Event::Message { from, .. } = &cb.event
                {
                    senders.entry(e.item.brand).or_default().push(from.clone());
                }
                Some(cb)
            })
            .collect();
        let mut known: HashMap<(BrandId, String), (ClientId, Option<UserId>)> = HashMap::new();
        for (brand, mut values) in senders {
            values.sort();
            values.dedup();
            for (value, client, associate) in self
                .repo
                .clients_by_identities(brand, IdentityKind::Wecom, &values)
                .await?
            {
                known.insert((brand, value), (client, associate));
            }
        }
        let mut run: Vec<Plain> = Vec::new();
        let mut run_brand = None;
        for (entry, cb) in pending.into_iter().zip(parsed) {
            let brand = entry.item.brand;
            if run_brand != Some(brand) {
                if let Some(b) = run_brand {
                    self.store_run(b, std::mem::take(&mut run)).await?;
                }
                run_brand = Some(brand);
            }
            if let Some((m, body)) = cb.and_then(|cb| plain_message(&entry, cb, &known)) {
                run.push((entry, m, body));
                continue;
            }
            if let Some(b) = run_brand {
                self.store_run(b, std::mem::take(&mut run)).await?;
            }
            self.process_entry(&entry).await?;
        }
        if let Some(b) = run_brand {
            self.store_run(b, run).await?;
        }
        Ok(n)
    }
}

/// A callback that is a plain client message: the entry, the message, its text.
type Plain = (InboxEntry, InboundMessage, String);

impl Salon {}

/// A WeCom text (or media) message from a client known before the batch, ready to store in a
/// run; `None` for anything else (a client who arrived in this very batch included), which is
/// processed on its own.
fn plain_message(
    entry: &InboxEntry,
    cb: Callback,
    known: &HashMap<(BrandId, String), (ClientId, Option<UserId>)>,
) -> Option<(InboundMessage, String)> {
    if entry.item.channel != ChannelKind::Wecom {
        return None;
    }
    let Event::Message {
        from,
        msg_id,
        msg_type,
        content,
    } = cb.event
    else {
        return None;
    };
    let (client, associate) = *known.get(&(entry.item.brand, from.clone()))?;
    let at = cb.create_time.saturating_mul(1000);
    let ts = jiff::Timestamp::from_millisecond(at).ok()?;
    let event = crate::analytics::stored(&events::Event {
        ts,
        follower: Some(from),
        kind: events::Kind::Message,
    });
    let body = content.unwrap_or_else(|| format!("[{msg_type}]"));
    Some((
        InboundMessage {
            inbox_id: entry.id,
            event: Some(event),
            message: NewMessage {
                client_id: client,
                channel: ChannelKind::Wecom,
                direction: Direction::In,
                associate_id: associate,
                provider_id: Some(msg_id),
                msg_type,
                body: body.clone(),
                at,
            },
        },
        body,
    ))
}

impl Salon {
    /// Stores a run of client messages at once, then checks each against the rules. If the
    /// run cannot be stored, each of its callbacks is processed on its own, so that one bad
    /// callback fails alone.
    async fn store_run(&self, brand: BrandId, run: Vec<Plain>) -> AppResult<()> {
        if run.is_empty() {
            return Ok(());
        }
        let batch: Vec<InboundMessage> = run.iter().map(|(_, m, _)| m.clone()).collect();
        let ids = match self.repo.store_inbound(brand, &batch, now_millis()).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = %e, messages = run.len(), "a run of messages could not be stored at once; one by one");
                for (entry, _, _) in &run {
                    self.process_entry(entry).await?;
                }
                return Ok(());
            }
        };
        for ((_, m, body), id) in run.iter().zip(ids) {
            self.flag_message(
                brand,
                id,
                m.message.client_id,
                m.message.associate_id,
                Direction::In,
                body,
            )
            .await?;
        }
        Ok(())
    }
}

impl Salon {
    async fn process_entry(&self, entry: &InboxEntry) -> AppResult<()> {
        {
            match self.process(entry).await {
                Ok(outcome) => {
                    self.repo
                        .inbox_done(entry.id, &outcome, now_millis())
                        .await?
                }
                Err(e) => {
                    // The error names what failed, never the callback's content.
                    tracing::warn!(inbox = entry.id, attempt = entry.attempts + 1, error = %e, "callback processing failed");
                    self.repo.inbox_failed(entry.id, &e.to_string()).await?;
                }
            }
        }
        Ok(())
    }

    async fn process(&self, entry: &InboxEntry) -> AppResult<String> {
        let brand = entry.item.brand;
        let cb = Callback::parse(&entry.item.body)
            .map_err(|e| AppError::invalid("callback", e.to_string()))?;
        let at = cb.create_time.saturating_mul(1000);
        let reference = format!("inbox:{}", entry.id);
        let channel = entry.item.channel;
        match cb.event {
            Event::ContactAdded {
                user_id,
                external_user_id,
                state,
                welcome_code,
            } => {
                self.contact_added(
                    brand,
                    &user_id,
                    &external_user_id,
                    state.as_deref(),
                    welcome_code.as_deref(),
                    at,
                    &reference,
                )
                .await
            }
            Event::ContactEdited {
                external_user_id, ..
            } => {
                self.wecom_interaction(
                    brand,
                    &external_user_id,
                    at,
                    "contact_edited",
                    serde_json::json!({}),
                    &reference,
                )
                .await
            }
            Event::ContactRemovedByAssociate {
                user_id,
                external_user_id,
            } => {
                self.wecom_interaction(
                    brand,
                    &external_user_id,
                    at,
                    "contact_removed",
                    serde_json::json!({"by": "associate", "wecom_userid": user_id}),
                    &reference,
                )
                .await
            }
            Event::ContactRemovedByClient {
                user_id,
                external_user_id,
            } => {
                self.wecom_interaction(
                    brand,
                    &external_user_id,
                    at,
                    "contact_removed",
                    serde_json::json!({"by": "client", "wecom_userid": user_id}),
                    &reference,
                )
                .await
            }
            Event::TransferFailed {
                user_id,
                external_user_id,
                reason,
            } => {
                self.wecom_interaction(
                    brand,
                    &external_user_id,
                    at,
                    "transfer_failed",
                    serde_json::json!({"reason": reason, "wecom_userid": user_id}),
                    &reference,
                )
                .await
            }
            Event::GroupChatChanged { chat_id, change } => {
                self.group_changed(brand, &chat_id, &change, at).await
            }
            Event::StaffCreated {
                user_id,
                name,
                email,
            }
            | Event::StaffUpdated {
                user_id,
                name,
                email,
                new_user_id: None,
            } => {
                self.staff_seen(brand, &user_id, name.as_deref(), email.as_deref())
                    .await
            }
            Event::StaffUpdated {
                user_id,
                new_user_id: Some(new_id),
                name,
                email,
            } => {
                if let Some(u) = self
                    .repo
                    .staff_by_provider_id(brand, WECOM_STAFF, &user_id)
                    .await?
                {
                    self.repo.link_staff(brand, u, WECOM_STAFF, &new_id).await?;
                }
                self.staff_seen(brand, &new_id, name.as_deref(), email.as_deref())
                    .await
            }
            Event::StaffDeleted { user_id } => self.staff_left(brand, &user_id).await,
            Event::Subscribed { open_id, scene } => {
                let way = match &scene {
                    Some(s) => self.repo.contact_way_by_state(brand, s).await?,
                    None => None,
                };
                let (client, created) = self.oa_client(brand, &open_id, way.as_ref(), at).await?;
                let source = if scene.is_some() { "qr_code" } else { "other" };
                let spec_source = if scene.is_some() {
                    events::Source::QrCode
                } else {
                    events::Source::Other
                };
                self.record_event(
                    brand,
                    at,
                    &open_id,
                    events::Kind::Follow {
                        source: spec_source,
                    },
                )
                .await?;
                self.repo
                    .add_interaction(
                        brand,
                        &NewInteraction {
                            client_id: client,
                            at,
                            kind: "follow".into(),
                            channel: Some(channel.as_str().into()),
                            detail: serde_json::json!({"source": source, "scene": scene}),
                            reference: Some(reference),
                        },
                    )
                    .await?;
                Ok(format!(
                    "follow ({source}) by client {client}{}",
                    if created { ", created" } else { "" }
                ))
            }
            Event::Unsubscribed { open_id } => {
                self.record_event(brand, at, &open_id, events::Kind::Unfollow)
                    .await?;
                self.oa_interaction(
                    brand,
                    &open_id,
                    at,
                    "unfollow",
                    serde_json::json!({}),
                    &reference,
                )
                .await
            }
            Event::Scanned { open_id, scene } => {
                self.record_event(brand, at, &open_id, events::Kind::QrScan)
                    .await?;
                self.oa_interaction(
                    brand,
                    &open_id,
                    at,
                    "qr_scan",
                    serde_json::json!({"scene": scene}),
                    &reference,
                )
                .await
            }
            Event::MenuClicked { open_id, key } => {
                self.menu_used(brand, at, &open_id, ("key", &key), &reference)
                    .await
            }
            Event::MenuViewed { open_id, url } => {
                self.menu_used(brand, at, &open_id, ("url", &url), &reference)
                    .await
            }
            Event::Message {
                from,
                msg_id,
                msg_type,
                content,
            } => {
                let client = match channel {
                    ChannelKind::Wecom => self.client_by(brand, IdentityKind::Wecom, &from).await?,
                    ChannelKind::WechatOa => Some(self.oa_client(brand, &from, None, at).await?.0),
                };
                let Some(client) = client else {
                    return Ok("message from someone who is not a client: ignored".into());
                };
                let associate = self
                    .repo
                    .client(brand, client)
                    .await?
                    .and_then(|c| c.associate_id);
                self.record_event(brand, at, &from, events::Kind::Message)
                    .await?;
                let body = content.unwrap_or_else(|| format!("[{msg_type}]"));
                let stored = self
                    .repo
                    .add_message(
                        brand,
                        &NewMessage {
                            client_id: client,
                            channel,
                            direction: Direction::In,
                            associate_id: associate,
                            provider_id: Some(msg_id.clone()),
                            body: body.clone(),
                            msg_type,
                            at,
                        },
                    )
                    .await?;
                // Checked after storing: a retry after a crash between the two finds the
                // message held and checks it again (flags are kept once per message and rule).
                let id = match stored {
                    Some(id) => Some(id),
                    None => {
                        self.repo
                            .message_by_provider_id(brand, channel, &msg_id)
                            .await?
                    }
                };
                let mut flagged = String::new();
                if let Some(id) = id {
                    let verdict = self
                        .flag_message(brand, id, client, associate, Direction::In, &body)
                        .await?;
                    if !verdict.is_clean() {
                        flagged = format!(", {} rule(s) flagged", verdict.hits.len());
                    }
                }
                Ok(match stored {
                    Some(id) => format!("message {id} stored for client {client}{flagged}"),
                    None => format!("message already stored{flagged}"),
                })
            }
            Event::Other { msg_type, event } => Ok(format!(
                "{msg_type}/{}: not used",
                event.unwrap_or_default()
            )),
        }
    }

    async fn client_by(
        &self,
        brand: BrandId,
        kind: IdentityKind,
        value: &str,
    ) -> AppResult<Option<ClientId>> {
        let Ok(identity) = Identity::parse(kind, value) else {
            return Ok(None);
        };
        Ok(self.repo.client_by_identity(brand, &identity).await?)
    }

    /// The category the brand's menu mapping gives a menu key or URL (from the cached
    /// settings; `information` when unmapped).
    async fn menu_category(&self, brand: BrandId, key: &str) -> AppResult<String> {
        let Some(b) = self.brand(brand).await? else {
            return Err(AppError::NotFound("brand"));
        };
        let menu = match self.endpoint(&b, ChannelKind::WechatOa).await {
            Ok(ep) => ep.settings.menu.get(key).cloned(),
            Err(AppError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        Ok(menu.unwrap_or_else(|| "information".into()))
    }

    /// A menu click or view: the event in the brand's stream and on the person's timeline.
    async fn menu_used(
        &self,
        brand: BrandId,
        at: Millis,
        open_id: &str,
        (field, key): (&str, &str),
        reference: &str,
    ) -> AppResult<String> {
        let category = self.menu_category(brand, key).await?;
        self.record_event(
            brand,
            at,
            open_id,
            events::Kind::MenuClick {
                category: spec_category(&category),
            },
        )
        .await?;
        self.oa_interaction(
            brand,
            open_id,
            at,
            "menu_click",
            serde_json::json!({ field: key, "category": category }),
            reference,
        )
        .await
    }

    /// The client behind an OA openid, created (and placed by the QR code's settings) on first
    /// sight.
    async fn oa_client(
        &self,
        brand: BrandId,
        open_id: &str,
        way: Option<&ContactWay>,
        at: Millis,
    ) -> AppResult<(ClientId, bool)> {
        let identity = Identity::parse(IdentityKind::WechatOa, open_id)?;
        if let Some(c) = self.repo.client_by_identity(brand, &identity).await? {
            return Ok((c, false));
        }
        let new = NewClient {
            store_id: way.and_then(|w| w.store_id),
            associate_id: way.and_then(|w| w.user_id),
            tags: way.map(|w| w.tags.clone()).unwrap_or_default(),
            identities: vec![identity.clone()],
            consents: vec![Consent {
                channel: ChannelKind::WechatOa.as_str().into(),
                purpose: ConsentPurpose::Service,
                granted: true,
                source: if way.is_some() {
                    "qr_onboarding".into()
                } else {
                    "oa_follow".into()
                },
                at,
            }],
            ..NewClient::default()
        };
        match self.repo.create_client(brand, &new, None).await {
            Ok(c) => Ok((c, true)),
            // Two callbacks for one new follower raced: the other one created it.
            Err(RepoError::Conflict(_)) => self
                .repo
                .client_by_identity(brand, &identity)
                .await?
                .map(|c| (c, false))
                .ok_or(AppError::Conflict("client identity".into())),
            Err(e) => Err(e.into()),
        }
    }

    async fn oa_interaction(
        &self,
        brand: BrandId,
        open_id: &str,
        at: Millis,
        kind: &str,
        detail: serde_json::Value,
        reference: &str,
    ) -> AppResult<String> {
        let (client, _) = self.oa_client(brand, open_id, None, at).await?;
        self.repo
            .add_interaction(
                brand,
                &NewInteraction {
                    client_id: client,
                    at,
                    kind: kind.into(),
                    channel: Some(ChannelKind::WechatOa.as_str().into()),
                    detail,
                    reference: Some(reference.into()),
                },
            )
            .await?;
        Ok(format!("{kind} by client {client}"))
    }

    async fn wecom_interaction(
        &self,
        brand: BrandId,
        external: &str,
        at: Millis,
        kind: &str,
        detail: serde_json::Value,
        reference: &str,
    ) -> AppResult<String> {
        let Some(client) = self.client_by(brand, IdentityKind::Wecom, external).await? else {
            return Ok(format!("{kind} for an unknown contact: ignored"));
        };
        self.repo
            .add_interaction(
                brand,
                &NewInteraction {
                    client_id: client,
                    at,
                    kind: kind.into(),
                    channel: Some(ChannelKind::Wecom.as_str().into()),
                    detail,
                    reference: Some(reference.into()),
                },
            )
            .await?;
        Ok(format!("{kind} for client {client}"))
    }

    /// An associate gained an external contact: create or merge the client (by external_userid,
    /// then unionid, then phone), assign, tag, record consent, and greet within the 20 s the
    /// welcome code lives.
    #[allow(clippy::too_many_arguments)]
    async fn contact_added(
        &self,
        brand: BrandId,
        wecom_user: &str,
        external: &str,
        state: Option<&str>,
        welcome_code: Option<&str>,
        at: Millis,
        reference: &str,
    ) -> AppResult<String> {
        let associate = self
            .repo
            .staff_by_provider_id(brand, WECOM_STAFF, wecom_user)
            .await?;
        let associate_user = match associate {
            Some(u) => self.repo.user(brand, u).await?,
            None => None,
        };
        let way = match state {
            Some(s) => self.repo.contact_way_by_state(brand, s).await?,
            None => None,
        };
        let api = self.wecom_api(brand).await?;
        // The profile is read before anything is written: a failure here retries cleanly.
        let detail = api
            .get_external_contact(external)
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        let contact = &detail.external_contact;
        let ext_identity = Identity::parse(IdentityKind::Wecom, external)?;
        let union_identity = contact
            .unionid
            .as_deref()
            .filter(|u| !u.is_empty())
            .and_then(|u| Identity::parse(IdentityKind::WechatUnion, u).ok());
        let phone = detail
            .follow_user
            .iter()
            .find(|f| f.userid == wecom_user)
            .and_then(|f| f.remark_mobiles.first())
            .and_then(|m| {
                let m = if m.starts_with('+') {
                    m.clone()
                } else {
                    format!("+86{m}")
                };
                Phone::parse("phone", &m).ok()
            });
        let mut existing = self.repo.client_by_identity(brand, &ext_identity).await?;
        let mut merged_by = "external_userid";
        if existing.is_none()
            && let Some(u) = &union_identity
        {
            existing = self.repo.client_by_identity(brand, u).await?;
            merged_by = "unionid";
        }
        if existing.is_none()
            && let Some(p) = &phone
        {
            existing = self.repo.clients_by_phone(brand, p).await?.first().copied();
            merged_by = "phone";
        }
        let store_id = way
            .as_ref()
            .and_then(|w| w.store_id)
            .or(associate_user.as_ref().and_then(|u| u.store_id));
        let tags = way.as_ref().map(|w| w.tags.clone()).unwrap_or_default();
        let consent = Consent {
            channel: ChannelKind::Wecom.as_str().into(),
            purpose: ConsentPurpose::Service,
            granted: true,
            source: if way.is_some() {
                "qr_onboarding".into()
            } else {
                "wecom_add".into()
            },
            at,
        };
        let mut identities = vec![ext_identity.clone()];
        identities.extend(union_identity.clone());
        let (client, what) = match existing {
            Some(c) => {
                let patch = ClientPatch {
                    identities: identities.clone(),
                    consents: vec![consent],
                    store_id: if store_id.is_some() {
                        Some(store_id)
                    } else {
                        None
                    },
                    ..ClientPatch::default()
                };
                self.repo.update_client(brand, c, &patch, None).await?;
                if !tags.is_empty() {
                    self.repo.edit_tags(brand, c, &tags, &[]).await?;
                }
                (c, format!("merged by {merged_by}"))
            }
            None => {
                let pii = Pii {
                    phone: phone.clone(),
                    ..named(&contact.name)
                };
                let new = NewClient {
                    pii,
                    store_id,
                    associate_id: None,
                    tags: tags.clone(),
                    identities: identities.clone(),
                    consents: vec![consent],
                    ..NewClient::default()
                };
                match self.repo.create_client(brand, &new, None).await {
                    Ok(c) => (c, "created".to_owned()),
                    Err(RepoError::Conflict(_)) => {
                        let c = self
                            .repo
                            .client_by_identity(brand, &ext_identity)
                            .await?
                            .ok_or(AppError::Conflict("client identity".into()))?;
                        (c, "merged by external_userid".to_owned())
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        if let Some(u) = &associate_user
            && u.status == UserStatus::Active
        {
            let current = self
                .repo
                .client(brand, client)
                .await?
                .and_then(|c| c.associate_id);
            if current != Some(u.id) {
                self.repo
                    .assign(
                        brand,
                        client,
                        u.id,
                        None,
                        if way.is_some() {
                            "qr_onboarding"
                        } else {
                            "wecom_add"
                        },
                    )
                    .await?;
            }
        }
        if way.is_some() {
            // Scanning a brand QR code inside WeChat, in the spec's terms.
            self.record_event(brand, at, external, events::Kind::QrScan)
                .await?;
        }
        self.repo
            .add_interaction(
                brand,
                &NewInteraction {
                    client_id: client,
                    at,
                    kind: "contact_added".into(),
                    channel: Some(ChannelKind::Wecom.as_str().into()),
                    detail: serde_json::json!({
                        "associate_id": associate.map(|u| u.0),
                        "state": state,
                        "source": if way.is_some() { "qr_code" } else { "other" },
                    }),
                    reference: Some(reference.into()),
                },
            )
            .await?;
        // The welcome message: once per welcome code, which is valid for 20 s.
        let mut greeted = "";
        if let Some(code) = welcome_code {
            let text = match &way {
                Some(w) if !w.welcome_text.trim().is_empty() => w.welcome_text.clone(),
                _ => default_welcome(&self.brand(brand).await?.map(|b| b.name).unwrap_or_default()),
            };
            let provider_id = format!("welcome:{code}");
            let fresh = self
                .repo
                .add_message(
                    brand,
                    &NewMessage {
                        client_id: client,
                        channel: ChannelKind::Wecom,
                        direction: Direction::Out,
                        associate_id: associate,
                        provider_id: Some(provider_id),
                        msg_type: "text".into(),
                        body: text.clone(),
                        at: now_millis(),
                    },
                )
                .await?;
            // Recorded before sending: a retry after a crash never greets twice.
            if fresh.is_some() {
                match api.send_welcome_msg(code, &text).await {
                    Ok(()) => greeted = ", welcomed",
                    Err(e) => {
                        tracing::warn!(error = %e, "welcome message not sent");
                        greeted = ", welcome failed";
                    }
                }
            }
        }
        Ok(format!("client {client} {what}{greeted}"))
    }

    async fn staff_seen(
        &self,
        brand: BrandId,
        wecom_user: &str,
        name: Option<&str>,
        email: Option<&str>,
    ) -> AppResult<String> {
        if self
            .repo
            .staff_by_provider_id(brand, WECOM_STAFF, wecom_user)
            .await?
            .is_some()
        {
            return Ok("staff already linked".into());
        }
        let Some(email) = email.and_then(|e| Email::parse("email", e).ok()) else {
            return Ok("staff without an e-mail address: not linked".into());
        };
        let user = match self.repo.user_by_email(brand, email.as_str()).await? {
            Some(u) => u,
            None => {
                self.repo
                    .create_user(
                        brand,
                        &NewUser {
                            email,
                            display_name: name.unwrap_or(wecom_user).to_owned(),
                            role: Role::Associate,
                            store_id: None,
                            password_hash: None,
                        },
                    )
                    .await?
            }
        };
        self.repo
            .link_staff(brand, user.id, WECOM_STAFF, wecom_user)
            .await?;
        Ok(format!("staff linked to user {}", user.id))
    }

    async fn staff_left(&self, brand: BrandId, wecom_user: &str) -> AppResult<String> {
        let Some(u) = self
            .repo
            .staff_by_provider_id(brand, WECOM_STAFF, wecom_user)
            .await?
        else {
            return Ok("unknown staff left: ignored".into());
        };
        let user = self
            .repo
            .user(brand, u)
            .await?
            .ok_or(AppError::NotFound("associate"))?;
        if user.status == UserStatus::Active {
            self.repo.mark_departed(brand, u, now_millis()).await?;
            self.changed(brand, crate::processes::Topic::Staff).await?;
        }
        let clients = self.repo.count_clients(brand, Scope::Associate(u)).await?;
        Ok(format!("user {u} departed; {clients} clients to transfer"))
    }

    /// Staff sync: every WeCom staff member with an e-mail becomes (or is linked to) an
    /// associate; linked associates no longer listed, or listed as left, are departed.
    pub async fn sync_staff(&self, actor: &Actor) -> AppResult<StaffSyncReport> {
        actor.require(Action::ManageChannels)?;
        self.sync_staff_of(actor.brand.id).await
    }

    pub async fn sync_staff_of(&self, brand: BrandId) -> AppResult<StaffSyncReport> {
        let api = self.wecom_api(brand).await?;
        let staff = api
            .user_list(1)
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        let mut report = StaffSyncReport {
            seen: staff.len(),
            ..StaffSyncReport::default()
        };
        let linked: HashMap<String, UserId> = self
            .repo
            .staff_provider_ids(brand, WECOM_STAFF)
            .await?
            .into_iter()
            .map(|(u, v)| (v, u))
            .collect();
        let mut present = std::collections::HashSet::new();
        for s in &staff {
            let active = s.status != 5 && s.status != 2;
            if active {
                present.insert(s.userid.clone());
            }
            if !active || linked.contains_key(&s.userid) {
                continue;
            }
            let before = self
                .repo
                .user_by_email(brand, s.email.as_deref().unwrap_or(""))
                .await?;
            let outcome = self
                .staff_seen(brand, &s.userid, Some(&s.name), s.email.as_deref())
                .await?;
            if outcome.starts_with("staff linked") {
                if before.is_some() {
                    report.linked += 1
                } else {
                    report.created += 1
                }
            }
        }
        for (wecom_id, user) in linked {
            if present.contains(&wecom_id) {
                continue;
            }
            if let Some(u) = self.repo.user(brand, user).await?
                && u.status == UserStatus::Active
            {
                self.repo.mark_departed(brand, user, now_millis()).await?;
                report.departed += 1;
                report.clients_to_transfer += self
                    .repo
                    .count_clients(brand, Scope::Associate(user))
                    .await?;
            }
        }
        self.changed(brand, crate::processes::Topic::Staff).await?;
        Ok(report)
    }

    // --- Channel QR codes and onboarding --------------------------------------------------

    pub async fn list_contact_ways(&self, actor: &Actor) -> AppResult<Vec<ContactWay>> {
        actor.require(Action::ReadStores)?;
        let all = self.repo.contact_ways(actor.brand.id).await?;
        Ok(match actor.scope() {
            Scope::Store(s) => all.into_iter().filter(|w| w.store_id == Some(s)).collect(),
            Scope::Associate(u) => all.into_iter().filter(|w| w.user_id == Some(u)).collect(),
            _ => all,
        })
    }

    /// Creates a channel QR code and registers it with WeCom (`add_contact_way` with its
    /// `state`) when the brand's WeCom app is configured.
    pub async fn create_contact_way(
        &self,
        actor: &Actor,
        input: &ContactWayInput,
    ) -> AppResult<ContactWay> {
        actor.require(Action::ManageContactWays)?;
        let brand = actor.brand.id;
        let mut e = Errors::default();
        let kind = match input.kind.as_deref().map(str::trim) {
            Some(k) => match ContactWayKind::parse(k) {
                Some(k) => Some(k),
                None => {
                    e.push(FieldError::new(
                        "kind",
                        "must be store, associate or campaign",
                    ));
                    None
                }
            },
            None => {
                e.push(FieldError::new("kind", "is required"));
                None
            }
        };
        let store = match input
            .store
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(code) => match self.repo.store_by_code(brand, code).await? {
                Some(s) => Some(s),
                None => {
                    e.push(FieldError::new(
                        "store",
                        format!("no store has the code {code}"),
                    ));
                    None
                }
            },
            None => None,
        };
        let associate = match input.associate {
            Some(id) => match self.repo.user(brand, UserId(id)).await? {
                Some(u) if u.status == UserStatus::Active => Some(u),
                Some(_) => {
                    e.push(FieldError::new("associate", "has departed"));
                    None
                }
                None => {
                    e.push(FieldError::new("associate", "no such associate"));
                    None
                }
            },
            None => None,
        };
        let mut tags = Vec::new();
        for t in &input.tags {
            if !t.trim().is_empty() {
                tags.extend(e.take(Tag::parse("tags", t)));
            }
        }
        let campaign = input
            .campaign
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        match kind {
            Some(ContactWayKind::Store) if store.is_none() => {
                e.push(FieldError::new("store", "is required for a store code"))
            }
            Some(ContactWayKind::Associate) if associate.is_none() => e.push(FieldError::new(
                "associate",
                "is required for an associate code",
            )),
            Some(ContactWayKind::Campaign) if campaign.is_none() => e.push(FieldError::new(
                "campaign",
                "is required for a campaign code",
            )),
            _ => {}
        }
        if let Some(c) = campaign
            && (c.len() > 20
                || !c
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'))
        {
            e.push(FieldError::new(
                "campaign",
                "must be up to 20 letters, digits, - or _",
            ));
        }
        let welcome_text = input
            .welcome_text
            .as_deref()
            .map(str::trim)
            .unwrap_or("")
            .to_owned();
        if welcome_text.chars().count() > 4000 {
            e.push(FieldError::new(
                "welcome_text",
                "must be at most 4,000 characters (WeCom's limit)",
            ));
        }
        e.finish()?;
        let Some(kind) = kind else {
            return Err(AppError::invalid("kind", "is required"));
        };
        // A store manager makes codes for their own store only.
        let store_id = store
            .as_ref()
            .map(|s| s.id)
            .or(associate.as_ref().and_then(|a| a.store_id));
        if let Scope::Store(own) = actor.scope()
            && store_id != Some(own)
        {
            return Err(AppError::Forbidden(
                "a store manager makes codes for their own store".into(),
            ));
        }
        // WeCom's state is at most 30 characters: a short, unique, readable one.
        let suffix = hex::encode(rand::random::<[u8; 3]>());
        let state = match kind {
            ContactWayKind::Store => format!(
                "s:{}:{suffix}",
                store.as_ref().map(|s| s.code.as_str()).unwrap_or("")
            ),
            ContactWayKind::Associate => format!(
                "a:{}:{suffix}",
                associate.as_ref().map(|a| a.id.0).unwrap_or(0)
            ),
            ContactWayKind::Campaign => format!("c:{}:{suffix}", campaign.unwrap_or("")),
        };
        let state: String = state.chars().take(30).collect();
        let label = input
            .label
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| match (&kind, &store, &associate) {
                (ContactWayKind::Associate, _, Some(a)) => a.display_name.clone(),
                (ContactWayKind::Store, Some(s), _) => s.name.clone(),
                _ => campaign.unwrap_or("Campaign").to_owned(),
            });
        let way = self
            .repo
            .create_contact_way(
                brand,
                &NewContactWay {
                    state: state.clone(),
                    label: label.clone(),
                    kind,
                    store_id,
                    user_id: associate.as_ref().map(|a| a.id),
                    tags,
                    welcome_text,
                },
            )
            .await?;
        // Who the code adds: the associate, or every linked associate of the store.
        let linked = self.repo.staff_provider_ids(brand, WECOM_STAFF).await?;
        let users: Vec<String> = match (&associate, store_id) {
            (Some(a), _) => linked
                .iter()
                .filter(|(u, _)| *u == a.id)
                .map(|(_, v)| v.clone())
                .collect(),
            (None, Some(s)) => {
                let mut v = Vec::new();
                for (u, id) in &linked {
                    if let Some(user) = self.repo.user(brand, *u).await?
                        && user.store_id == Some(s)
                        && user.status == UserStatus::Active
                        && user.role == Role::Associate
                    {
                        v.push(id.clone());
                    }
                }
                v
            }
            (None, None) => linked.iter().take(100).map(|(_, v)| v.clone()).collect(),
        };
        if users.is_empty()
            || self
                .repo
                .channel_settings(brand, ChannelKind::Wecom)
                .await?
                .is_none()
        {
            return Ok(way);
        }
        let api = self.wecom_api(brand).await?;
        match api
            .add_contact_way(&ApiContactWay {
                state,
                users,
                remark: label.chars().take(30).collect(),
            })
            .await
        {
            Ok(code) => {
                self.repo
                    .set_contact_way_code(brand, way.id, &code.config_id, &code.qr_code)
                    .await?;
                Ok(ContactWay {
                    config_id: Some(code.config_id),
                    qr_code: Some(code.qr_code),
                    ..way
                })
            }
            Err(err) => {
                tracing::warn!(error = %err, "add_contact_way failed; the code is saved without a QR image");
                Err(AppError::Unavailable(format!(
                    "the code was saved but WeCom refused it: {err}"
                )))
            }
        }
    }

    /// The public onboarding page of a store: its associates, their QR codes and books.
    pub async fn onboarding(&self, brand_slug: &str, store_code: &str) -> AppResult<Onboarding> {
        let brand = self.brand_by_slug(brand_slug).await?;
        let store = self
            .repo
            .store_by_code(brand.id, store_code)
            .await?
            .ok_or(AppError::NotFound("store"))?;
        let ways = self.repo.contact_ways(brand.id).await?;
        let users = self.repo.list_users(brand.id, Some(store.id)).await?;
        let mut associates = Vec::new();
        for (u, clients) in users
            .into_iter()
            .filter(|(u, _)| u.role == Role::Associate && u.status == UserStatus::Active)
        {
            let qr_code = ways
                .iter()
                .rev()
                .find(|w| w.user_id == Some(u.id) && w.qr_code.is_some())
                .and_then(|w| w.qr_code.clone());
            associates.push(OnboardingAssociate {
                id: u.id,
                clients,
                name: u.display_name,
                qr_code,
            });
        }
        Ok(Onboarding {
            brand_name: brand.name.clone(),
            brand_slug: brand.slug.as_str().to_owned(),
            store,
            associates,
        })
    }

    /// A client leaves their name and birthday on the onboarding page, with explicit consent.
    pub async fn onboarding_signup(
        &self,
        brand_slug: &str,
        store_code: &str,
        name: &str,
        birthday: &str,
        consent: bool,
    ) -> AppResult<ClientId> {
        let brand = self.brand_by_slug(brand_slug).await?;
        let store = self
            .repo
            .store_by_code(brand.id, store_code)
            .await?
            .ok_or(AppError::NotFound("store"))?;
        let mut e = Errors::default();
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 80 {
            e.push(FieldError::new(
                "name",
                "is required (at most 80 characters)",
            ));
        }
        let birthday = match birthday.trim() {
            "" => None,
            b => e.take(domain::date("birthday", b)),
        };
        if !consent {
            e.push(FieldError::new(
                "consent",
                "must be given: we keep your details only with your agreement",
            ));
        }
        e.finish()?;
        let at = now_millis();
        let new = NewClient {
            pii: Pii {
                birthday,
                ..named(name)
            },
            store_id: Some(store.id),
            consents: vec![Consent {
                channel: "in_store".into(),
                purpose: ConsentPurpose::Service,
                granted: true,
                source: "onboarding_page".into(),
                at,
            }],
            ..NewClient::default()
        };
        Ok(self.repo.create_client(brand.id, &new, None).await?)
    }

    /// Messages with a client (newest first), for those who may see the client.
    pub async fn client_messages(
        &self,
        actor: &Actor,
        id: ClientId,
        limit: u32,
    ) -> AppResult<Vec<Message>> {
        // Message text: the same rule and the same audit as the thread.
        Ok(self.read_messages(actor, id, limit.min(500)).await?.1)
    }
}

impl Salon {
    /// After clients moved from one associate to others in the book, moves their WeCom
    /// relationship too: `resigned/transfer_customer` when the associate has left,
    /// `transfer_customer` otherwise (WeCom then tells the client). Best effort: the book is the
    /// brand's record; each client's outcome is on their timeline (`wecom_transfer`, or
    /// `transfer_failed` with WeCom's errcode, such as 40097 past two transfers in 90 days).
    pub(crate) async fn follow_on_wecom(
        &self,
        brand: BrandId,
        from: &User,
        moves: &[(ClientId, UserId)],
    ) {
        if moves.is_empty() {
            return;
        }
        if let Err(e) = self.try_follow_on_wecom(brand, from, moves).await {
            tracing::warn!(error = %e, "WeCom transfer not done");
        }
    }

    async fn try_follow_on_wecom(
        &self,
        brand: BrandId,
        from: &User,
        moves: &[(ClientId, UserId)],
    ) -> AppResult<()> {
        if self
            .repo
            .channel_settings(brand, ChannelKind::Wecom)
            .await?
            .is_none()
        {
            return Ok(());
        }
        let linked: HashMap<UserId, String> = self
            .repo
            .staff_provider_ids(brand, WECOM_STAFF)
            .await?
            .into_iter()
            .collect();
        let Some(handover) = linked.get(&from.id) else {
            return Ok(());
        };
        // external_userid → client, grouped by the taker.
        let mut by_taker: HashMap<UserId, Vec<(String, ClientId)>> = HashMap::new();
        for (client, to) in moves {
            let Some(c) = self.repo.client(brand, *client).await? else {
                continue;
            };
            if let Some(ext) = c.identities.iter().find(|i| i.kind == IdentityKind::Wecom) {
                by_taker
                    .entry(*to)
                    .or_default()
                    .push((ext.value.clone(), *client));
            }
        }
        let api = self.wecom_api(brand).await?;
        let now = now_millis();
        for (to, clients) in by_taker {
            let Some(takeover) = linked.get(&to) else {
                continue;
            };
            for chunk in clients.chunks(100) {
                let ids: Vec<String> = chunk.iter().map(|(e, _)| e.clone()).collect();
                let result = if from.status == UserStatus::Departed {
                    api.transfer_resigned(handover, takeover, &ids).await
                } else {
                    // Between serving associates the client is told who serves them now.
                    let name = self
                        .repo
                        .user(brand, to)
                        .await?
                        .map(|u| u.display_name)
                        .unwrap_or_default();
                    let message = format!(
                        "您好，我是{name}，之后由我继续为您服务，之前的沟通记录我都已了解。Hello, I am {name} and will look after you from now on."
                    );
                    api.transfer_customer(handover, takeover, &ids, Some(&message))
                        .await
                };
                let outcomes = result.map_err(|e| AppError::Unavailable(e.to_string()))?;
                for o in outcomes {
                    let Some((_, client)) = chunk.iter().find(|(e, _)| *e == o.external_userid)
                    else {
                        continue;
                    };
                    let (kind, detail) = if o.errcode == 0 {
                        (
                            "wecom_transfer",
                            serde_json::json!({"from": from.id.0, "to": to.0}),
                        )
                    } else {
                        (
                            "transfer_failed",
                            serde_json::json!({"from": from.id.0, "to": to.0, "reason": format!("errcode {}", o.errcode)}),
                        )
                    };
                    self.repo
                        .add_interaction(
                            brand,
                            &NewInteraction {
                                client_id: *client,
                                at: now,
                                kind: kind.into(),
                                channel: Some(ChannelKind::Wecom.as_str().into()),
                                detail,
                                reference: None,
                            },
                        )
                        .await?;
                }
            }
        }
        Ok(())
    }
}

/// A name as a person gave it (a WeChat nickname, the onboarding form): in Chinese characters it
/// is the Chinese name, otherwise the first name.
fn named(name: &str) -> Pii {
    let name = name.trim();
    let cjk = name.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    Pii {
        first_name: (!cjk && !name.is_empty()).then(|| name.to_owned()),
        chinese_name: (cjk && !name.is_empty()).then(|| name.to_owned()),
        ..Pii::default()
    }
}

fn spec_category(c: &str) -> events::MenuCategory {
    match c {
        "ecommerce" => events::MenuCategory::Ecommerce,
        "crm" => events::MenuCategory::Crm,
        _ => events::MenuCategory::Information,
    }
}

pub fn default_welcome(brand_name: &str) -> String {
    format!("Welcome to {brand_name}. I am your client advisor; write to me here at any time.")
}

/// The group-commit writer: takes what is queued, writes it in one transaction, answers each.
async fn write_inbox(
    repo: Arc<dyn domain::ports::Repo>,
    mut rx: mpsc::Receiver<Pending>,
    wake: Arc<Notify>,
) {
    let mut batch: Vec<Pending> = Vec::with_capacity(INGEST_BATCH);
    while rx.recv_many(&mut batch, INGEST_BATCH).await > 0 {
        let items: Vec<InboxItem> = batch.iter().map(|(i, _)| i.clone()).collect();
        match repo.inbox_put(&items).await {
            Ok(receipts) => {
                for ((_, done), r) in batch.drain(..).zip(receipts) {
                    let _ = done.send(Ok(r));
                }
                wake.notify_one();
            }
            Err(e) => {
                tracing::error!(error = %e, "inbox write failed");
                let busy = matches!(e, RepoError::Busy(_));
                for (_, done) in batch.drain(..) {
                    let what = "the inbox could not be written".to_owned();
                    let _ = done.send(Err(if busy {
                        AppError::Busy(what)
                    } else {
                        AppError::Internal(what)
                    }));
                }
            }
        }
    }
}
