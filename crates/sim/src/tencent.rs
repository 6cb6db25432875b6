//! A faithful local WeCom + Official Account provider: the APIs Salon calls, with their
//! documented limits and error codes, and the people on the other side: clients who scan a
//! store's QR code, add an associate, chat, follow the OA and click its menu, each pushed to
//! Salon as a correctly encrypted and signed callback.
//!
//! Limits and errors it enforces (Tencent's codes): access tokens expire (42001) and unknown
//! ones are refused (40014); each API has a per-minute rate (45009 beyond it); a welcome code is
//! valid for 20 s and usable once (41051); a client can be transferred at most twice in 90 days
//! (40097); a client receives at most one group message per day (later ones report status 3).
//! Faults can be injected: latency, 5xx answers, "system busy" (-1), and connections dropped
//! after the request was handled. Everything it accepted is logged for tests to compare.
//!
//! It serves under any prefix (the demo mounts it at `/sandbox` inside Salon's own server;
//! tests bind it to its own port).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use channels::wecom::MsgCrypt;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::{Value, json};

/// How long tokens live, in seconds (Tencent: 7200).
pub const TOKEN_TTL_SECS: i64 = 7200;
pub const WELCOME_CODE_TTL_SECS: i64 = 20;
pub const TRANSFERS_PER_90_DAYS: usize = 2;

/// The simulated corp and Official Account.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub corp_id: String,
    pub corp_secret: String,
    pub agent_id: String,
    pub token: String,
    pub aes_key: String,
    pub oa_app_id: String,
    pub oa_secret: String,
    pub oa_token: String,
    pub oa_aes_key: String,
    /// Calls per minute per API before 45009.
    pub per_api_per_minute: usize,
    /// Where the sim's own pages live, as clients' browsers reach them (`…/sandbox`).
    pub public_base: String,
}

/// The sandbox's secrets: made per installation (never constants in the binary, or anyone
/// could sign callbacks to every install that kept the demo). Serialised as JSON by whoever
/// keeps them (the server: a file of mode 0600 in the data directory).
#[derive(Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct SandboxSecrets {
    pub corp_secret: String,
    pub token: String,
    pub aes_key: String,
    pub oa_secret: String,
    pub oa_token: String,
    pub oa_aes_key: String,
}

impl std::fmt::Debug for SandboxSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SandboxSecrets(…)")
    }
}

impl SandboxSecrets {
    /// Fresh random secrets from the operating system's generator.
    pub fn generate() -> Self {
        use base64::Engine as _;
        use rand::RngCore as _;
        let mut rng = rand::rngs::OsRng;
        let mut word = |n: usize| -> String {
            const ALPHABET: &[u8] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
            (0..n)
                .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                .collect()
        };
        let (corp_secret, token, oa_secret, oa_token) = (word(43), word(32), word(43), word(32));
        let aes = || {
            let mut key = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut key);
            // An EncodingAESKey: the key's base64 without its trailing `=` (43 characters).
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(key)
        };
        Self {
            corp_secret,
            token,
            aes_key: aes(),
            oa_secret,
            oa_token,
            oa_aes_key: aes(),
        }
    }

    /// Whether every value has the shape the provider gives (used on a file read back).
    pub fn is_well_formed(&self) -> bool {
        let word = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_alphanumeric());
        word(&self.corp_secret, 43)
            && word(&self.token, 32)
            && word(&self.oa_secret, 43)
            && word(&self.oa_token, 32)
            && MsgCrypt::new(&self.token, &self.aes_key, SANDBOX_CORP_ID).is_ok()
            && MsgCrypt::new(&self.oa_token, &self.oa_aes_key, SANDBOX_OA_APP_ID).is_ok()
    }
}

/// The sandbox corp's id (the callbacks' receive id): public, not a secret.
pub const SANDBOX_CORP_ID: &str = "wwsandbox0lumiere";
/// The sandbox Official Account's AppID: public, not a secret.
pub const SANDBOX_OA_APP_ID: &str = "wxsandbox0lumiere";

impl SimConfig {
    /// The sandbox with fresh random secrets (tests, benchmarks).
    pub fn sandbox(public_base: &str) -> Self {
        Self::sandbox_with(public_base, &SandboxSecrets::generate())
    }

    /// The sandbox with the installation's own secrets.
    pub fn sandbox_with(public_base: &str, secrets: &SandboxSecrets) -> Self {
        Self {
            corp_id: SANDBOX_CORP_ID.into(),
            corp_secret: secrets.corp_secret.clone(),
            agent_id: "1000002".into(),
            token: secrets.token.clone(),
            aes_key: secrets.aes_key.clone(),
            oa_app_id: SANDBOX_OA_APP_ID.into(),
            oa_secret: secrets.oa_secret.clone(),
            oa_token: secrets.oa_token.clone(),
            oa_aes_key: secrets.oa_aes_key.clone(),
            per_api_per_minute: 10_000,
            public_base: public_base.trim_end_matches('/').to_owned(),
        }
    }
}

/// Faults to inject into API answers; each a probability in [0, 1] or a delay.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    pub latency: Duration,
    pub server_error: f64,
    pub system_busy: f64,
    /// Handle the request, then drop the connection before the answer is complete.
    pub drop_after_handling: f64,
    /// Handle the request, then hold the answer this long (the caller times out, not knowing
    /// whether it was taken), with this probability.
    pub hang: f64,
    pub hang_for: Duration,
    /// Bursts of 45009 (over the rate) for everyone: `(every, lasting)`.
    pub busy_bursts: Option<(Duration, Duration)>,
}

/// One thing the provider accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// Simulated seconds since the epoch.
    pub at: i64,
    pub api: String,
    pub detail: Value,
}

#[derive(Debug, Clone)]
pub struct SimStaff {
    pub userid: String,
    pub name: String,
    pub email: Option<String>,
    /// 1 active, 5 left.
    pub status: i64,
}

#[derive(Debug, Clone)]
struct Contact {
    name: String,
    unionid: String,
    mobile: Option<String>,
    /// (userid, createtime, state)
    follows: Vec<(String, i64, Option<String>)>,
}

#[derive(Debug, Clone)]
struct Way {
    state: String,
    users: Vec<String>,
}

#[derive(Debug, Clone)]
struct WelcomeCode {
    issued: i64,
    used: bool,
    external_userid: String,
}

/// (external_userid, status, send_time) of one group message.
type Delivery = (String, i64, i64);

/// One group message (`add_msg_template`) as the corp created it.
struct GroupMsg {
    sender: String,
    text: String,
    created: i64,
    list: Vec<Delivery>,
}
/// A Moments task: its associates publish it (`publish_status` 1) at once, and each of their
/// clients who sees it may like it or comment on it, at random but reproducibly.
struct SimMoment {
    senders: Vec<String>,
    reactions: Vec<MomentReaction>,
}

/// How one client took a post published by one associate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MomentReaction {
    pub userid: String,
    pub external_userid: String,
    pub liked: bool,
    pub commented: bool,
    pub at: i64,
}

/// A customer group (客户群): its owner, and its members as (userid or external_userid,
/// type: 1 staff, 2 external, join time).
struct SimGroup {
    name: String,
    owner: String,
    notice: String,
    created: i64,
    members: Vec<(String, i64, i64)>,
}

/// (group id, group name, [(tag id, tag name)]).
type TagGroup = (String, String, Vec<(String, String)>);

#[derive(Default)]
struct Sim {
    clock_offset: i64,
    tokens: HashMap<String, i64>,
    oa_tokens: HashMap<String, i64>,
    staff: BTreeMap<String, SimStaff>,
    contacts: BTreeMap<String, Contact>,
    ways: BTreeMap<String, Way>,
    welcome_codes: HashMap<String, WelcomeCode>,
    welcomes: Vec<(String, String)>,
    transfers: HashMap<String, Vec<i64>>,
    /// msgid → (sender, [(external_userid, status, send_time)]).
    group_msgs: BTreeMap<String, GroupMsg>,
    /// Group messages received per (client, day).
    daily: HashMap<(String, i64), u32>,
    /// Moments tasks by job id.
    moment_jobs: HashMap<String, SimMoment>,
    /// Uploaded temporary media: media id → size in bytes.
    media: HashMap<String, usize>,
    tags: Vec<TagGroup>,
    marks: HashMap<String, Vec<String>>,
    windows: HashMap<String, VecDeque<std::time::Instant>>,
    log: Vec<LogEntry>,
    faults: Faults,
    followers: BTreeMap<String, bool>,
    /// When each follower last wrote, clicked or followed: customer-service messages are
    /// taken for 48 hours after.
    oa_last: HashMap<String, i64>,
    /// Customer-service sessions: client → (when they last wrote, messages sent since).
    kf_sessions: HashMap<String, (i64, u32)>,
    /// Customer-service messages accepted, by msgid: a msgid is delivered once.
    kf_sent: BTreeMap<String, (String, String)>,
    seq: u64,
    /// Customer groups by chat id.
    groups: BTreeMap<String, SimGroup>,
    /// The chat archive (会话内容存档): each entry `{seq, message}` as the Finance SDK's
    /// `GetChatData` + `DecryptData` give it to the brand's reader.
    archive: Vec<Value>,
    /// Sequence numbers go on after this (Salon's position when the simulator restarts).
    archive_base: i64,
    rng: Option<rand_chacha::ChaCha8Rng>,
    started: Option<std::time::Instant>,
}

impl Sim {
    /// Appends a text message to the chat archive; returns its msgid.
    fn archive_text(&mut self, from: &str, tolist: Vec<String>, room: &str, text: &str) -> String {
        let msgid = self.next_id("arc");
        let seq = self.archive_base + self.archive.len() as i64 + 1;
        let msgtime = self.now() * 1000 + seq % 1000;
        self.archive.push(json!({"seq": seq, "message": {
            "msgid": msgid, "action": "send", "from": from, "tolist": tolist, "roomid": room,
            "msgtime": msgtime, "msgtype": "text", "text": {"content": text}}}));
        msgid
    }

    fn now(&self) -> i64 {
        jiff::Timestamp::now().as_second() + self.clock_offset
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        let r: u32 = self.rng().r#gen();
        format!("{prefix}{:06}{r:08x}", self.seq)
    }

    fn rng(&mut self) -> &mut rand_chacha::ChaCha8Rng {
        self.rng
            .get_or_insert_with(|| rand_chacha::ChaCha8Rng::seed_from_u64(7))
    }

    fn record(&mut self, api: &str, detail: Value) {
        let at = self.now();
        self.log.push(LogEntry {
            at,
            api: api.to_owned(),
            detail,
        });
    }
}

/// The simulator. Cheap to clone; all clones share one provider.
#[derive(Clone)]
pub struct Simulator {
    config: Arc<SimConfig>,
    state: Arc<Mutex<Sim>>,
    wecom: MsgCrypt,
    oa: MsgCrypt,
    http: reqwest::Client,
    /// Salon's callback URLs, set once Salon listens.
    targets: Arc<Mutex<(Option<String>, Option<String>)>>,
}

type Shared = Simulator;

fn err(errcode: i64, errmsg: &str) -> Response {
    axum::Json(json!({"errcode": errcode, "errmsg": errmsg})).into_response()
}

fn ok(mut v: Value) -> Response {
    v["errcode"] = json!(0);
    v["errmsg"] = json!("ok");
    axum::Json(v).into_response()
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("the simulator's keys are invalid: {0}")]
    Keys(String),
    #[error("no such {0} in the simulator")]
    Unknown(&'static str),
    #[error("Salon's callback URL is not set")]
    NoTarget,
    #[error("Salon did not accept the callback: {0}")]
    Rejected(String),
}

impl Simulator {
    pub fn new(config: SimConfig) -> Result<Self, SimError> {
        let wecom = MsgCrypt::new(&config.token, &config.aes_key, &config.corp_id)
            .map_err(|e| SimError::Keys(e.to_string()))?;
        let oa = MsgCrypt::new(&config.oa_token, &config.oa_aes_key, &config.oa_app_id)
            .map_err(|e| SimError::Keys(e.to_string()))?;
        Ok(Self {
            config: Arc::new(config),
            state: Arc::default(),
            wecom,
            oa,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            targets: Arc::default(),
        })
    }

    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sim> {
        // A panic while holding the lock only happens in a failing test; keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where to push callbacks: Salon's WeCom and OA callback URLs.
    pub fn set_targets(&self, wecom: &str, oa: &str) {
        if let Ok(mut t) = self.targets.lock() {
            *t = (Some(wecom.to_owned()), Some(oa.to_owned()));
        }
    }

    pub fn set_faults(&self, faults: Faults) {
        self.lock().faults = faults;
    }

    /// Moves the simulated clock (tokens and welcome codes expire with it).
    pub fn advance(&self, secs: i64) {
        self.lock().clock_offset += secs;
    }

    pub fn log(&self) -> Vec<LogEntry> {
        self.lock().log.clone()
    }

    /// The API calls accepted for one API name (such as `externalcontact/send_welcome_msg`).
    pub fn accepted(&self, api: &str) -> Vec<LogEntry> {
        self.lock()
            .log
            .iter()
            .filter(|e| e.api == api)
            .cloned()
            .collect()
    }

    /// How the clients took a Moments post (by the `moment_id` WeCom gave it).
    pub fn moment_reactions(&self, moment_id: &str) -> Vec<MomentReaction> {
        let s = self.lock();
        moment_id
            .strip_prefix("mom")
            .and_then(|job| s.moment_jobs.get(job))
            .map(|m| m.reactions.clone())
            .unwrap_or_default()
    }

    /// Welcome messages delivered: (external_userid, text).
    pub fn welcomes(&self) -> Vec<(String, String)> {
        self.lock().welcomes.clone()
    }

    pub fn add_staff(&self, userid: &str, name: &str, email: Option<&str>) {
        self.lock().staff.insert(
            userid.to_owned(),
            SimStaff {
                userid: userid.to_owned(),
                name: name.to_owned(),
                email: email.map(str::to_owned),
                status: 1,
            },
        );
    }

    /// Registers a contact way Salon created with a previous run of the simulator.
    pub fn restore_way(&self, config_id: &str, state: &str, users: &[String]) {
        self.lock().ways.insert(
            config_id.to_owned(),
            Way {
                state: state.to_owned(),
                users: users.to_vec(),
            },
        );
    }

    /// Registers a client Salon already knows (from an earlier run, or the demo's seed) as an
    /// external contact of `follows` (a staff userid); `last_said` (seconds) reopens the
    /// customer-service window from the client's last message.
    pub fn restore_contact(
        &self,
        external_userid: &str,
        name: &str,
        follows: Option<&str>,
        last_said: Option<i64>,
    ) {
        let mut s = self.lock();
        let n = s.contacts.len();
        let contact = Contact {
            name: name.to_owned(),
            unionid: format!("oRestored{n:08}"),
            mobile: None,
            follows: follows
                .map(|u| vec![(u.to_owned(), last_said.unwrap_or(0), None)])
                .unwrap_or_default(),
        };
        s.contacts
            .entry(external_userid.to_owned())
            .or_insert(contact);
        if let Some(at) = last_said {
            s.kf_sessions.insert(external_userid.to_owned(), (at, 0));
        }
    }

    /// A group known from an earlier run. `members`: (userid or external_userid, type 1
    /// staff or 2 external, join time in seconds).
    pub fn restore_group(
        &self,
        chat_id: &str,
        name: &str,
        owner: &str,
        members: Vec<(String, i64, i64)>,
    ) {
        let mut s = self.lock();
        let created = members.iter().map(|m| m.2).min().unwrap_or(0);
        s.groups.entry(chat_id.to_owned()).or_insert(SimGroup {
            name: name.to_owned(),
            owner: owner.to_owned(),
            notice: String::new(),
            created,
            members,
        });
    }

    /// Numbers new archive entries after `seq` (where Salon stands, after a restart).
    pub fn set_archive_seq(&self, seq: i64) {
        let mut s = self.lock();
        let held = s.archive.len() as i64;
        s.archive_base = s.archive_base.max(seq - held);
    }

    /// The external contacts a staff member has.
    pub fn contacts_of(&self, userid: &str) -> Vec<String> {
        self.lock()
            .contacts
            .iter()
            .filter(|(_, c)| c.follows.iter().any(|f| f.0 == userid))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The groups, each with its members' ids.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        self.lock()
            .groups
            .iter()
            .map(|(id, g)| (id.clone(), g.members.iter().map(|m| m.0.clone()).collect()))
            .collect()
    }

    pub fn way_ids(&self) -> Vec<String> {
        self.lock().ways.keys().cloned().collect()
    }

    pub fn contact_ids(&self) -> Vec<String> {
        self.lock().contacts.keys().cloned().collect()
    }

    // --- The people: each action pushes its callback -----------------------------------

    /// A client scans a channel QR code and adds one of its associates. Returns the client's
    /// external_userid once Salon has acknowledged the callback.
    pub async fn client_scans(
        &self,
        config_id: &str,
        name: &str,
        mobile: Option<&str>,
    ) -> Result<String, SimError> {
        let (xml, external) = {
            let mut s = self.lock();
            let way = s
                .ways
                .get(config_id)
                .cloned()
                .ok_or(SimError::Unknown("contact way"))?;
            let user = {
                let i = s.rng().gen_range(0..way.users.len().max(1));
                way.users
                    .get(i)
                    .cloned()
                    .ok_or(SimError::Unknown("associate"))?
            };
            let external = s.next_id("wm");
            let now = s.now();
            let union = s.next_id("ou");
            s.contacts.insert(
                external.clone(),
                Contact {
                    name: name.to_owned(),
                    unionid: union,
                    mobile: mobile.map(str::to_owned),
                    follows: vec![(user.clone(), now, Some(way.state.clone()))],
                },
            );
            let code = s.next_id("WELCOME");
            s.welcome_codes.insert(
                code.clone(),
                WelcomeCode {
                    issued: now,
                    used: false,
                    external_userid: external.clone(),
                },
            );
            let xml = format!(
                "<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>\
                 <CreateTime>{now}</CreateTime><MsgType><![CDATA[event]]></MsgType>\
                 <Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[add_external_contact]]></ChangeType>\
                 <UserID><![CDATA[{user}]]></UserID><ExternalUserID><![CDATA[{external}]]></ExternalUserID>\
                 <State><![CDATA[{state}]]></State><WelcomeCode><![CDATA[{code}]]></WelcomeCode></xml>",
                corp = self.config.corp_id,
                state = way.state,
            );
            (xml, external)
        };
        self.push_wecom(&xml, 1).await?;
        Ok(external)
    }

    /// A client writes to their associate.
    pub async fn client_says(&self, external_userid: &str, text: &str) -> Result<String, SimError> {
        let xml = self.message_xml(external_userid, text)?;
        self.push_wecom(&xml.0, 1).await?;
        Ok(xml.1)
    }

    /// The callback XML of a client message, and its MsgId (for tests that push it by hand).
    pub fn message_xml(
        &self,
        external_userid: &str,
        text: &str,
    ) -> Result<(String, String), SimError> {
        self.contact_xml(external_userid, "text", &[("Content", text)])
    }

    /// A client shares a card: `link` (Title, Description, Url) or `miniprogrampage` (Title,
    /// AppId, PagePath, ThumbUrl), in WeChat's message XML. Returns the message id.
    pub async fn client_shares(
        &self,
        external_userid: &str,
        msg_type: &str,
        fields: &[(&str, &str)],
    ) -> Result<String, SimError> {
        let xml = self.contact_xml(external_userid, msg_type, fields)?;
        self.push_wecom(&xml.0, 1).await?;
        Ok(xml.1)
    }

    fn contact_xml(
        &self,
        external_userid: &str,
        msg_type: &str,
        fields: &[(&str, &str)],
    ) -> Result<(String, String), SimError> {
        let mut s = self.lock();
        if !s.contacts.contains_key(external_userid) {
            return Err(SimError::Unknown("external contact"));
        }
        let now = s.now();
        s.seq += 1;
        let msg_id = format!("{}{:06}", now, s.seq);
        // Writing opens (or renews) the customer-service window: 48 hours, five messages.
        s.kf_sessions.insert(external_userid.to_owned(), (now, 0));
        let payload: String = fields
            .iter()
            .map(|(k, v)| {
                format!(
                    "<{k}><![CDATA[{}]]></{k}>",
                    v.replace("]]>", "]]]]><![CDATA[>")
                )
            })
            .collect();
        let xml = format!(
            "<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[{external_userid}]]></FromUserName>\
             <CreateTime>{now}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>{payload}\
             <MsgId>{msg_id}</MsgId><AgentID>{agent}</AgentID></xml>",
            corp = self.config.corp_id,
            agent = self.config.agent_id,
        );
        Ok((xml, msg_id))
    }

    /// Someone follows the Official Account, through a parametric QR code when `scene` is set.
    pub async fn oa_follow(&self, openid: &str, scene: Option<&str>) -> Result<(), SimError> {
        let now = {
            let mut s = self.lock();
            s.followers.insert(openid.to_owned(), true);
            let now = s.now();
            s.oa_last.insert(openid.to_owned(), now);
            now
        };
        let key = scene.map(|sc| format!("<EventKey><![CDATA[qrscene_{sc}]]></EventKey><Ticket><![CDATA[T{now}]]></Ticket>")).unwrap_or_default();
        let xml = self.oa_event(openid, now, "subscribe", &key);
        self.push_oa(&xml).await
    }

    pub async fn oa_unfollow(&self, openid: &str) -> Result<(), SimError> {
        let now = {
            let mut s = self.lock();
            s.followers.insert(openid.to_owned(), false);
            s.now()
        };
        let xml = self.oa_event(openid, now, "unsubscribe", "");
        self.push_oa(&xml).await
    }

    pub async fn oa_click(&self, openid: &str, key: &str) -> Result<(), SimError> {
        let now = self.lock().now();
        let xml = self.oa_event(
            openid,
            now,
            "CLICK",
            &format!("<EventKey><![CDATA[{key}]]></EventKey>"),
        );
        self.push_oa(&xml).await
    }

    pub async fn oa_says(&self, openid: &str, text: &str) -> Result<(), SimError> {
        let (now, id) = {
            let mut s = self.lock();
            s.seq += 1;
            let now = s.now();
            s.oa_last.insert(openid.to_owned(), now);
            (now, s.seq)
        };
        let xml = format!(
            "<xml><ToUserName><![CDATA[gh_sandbox]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>\
             <CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content><MsgId>{now}{id:06}</MsgId></xml>"
        );
        self.push_oa(&xml).await
    }

    fn oa_event(&self, openid: &str, now: i64, event: &str, extra: &str) -> String {
        format!(
            "<xml><ToUserName><![CDATA[gh_sandbox]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>\
             <CreateTime>{now}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>{extra}</xml>"
        )
    }

    /// A staff member leaves the corp: `change_contact` / `delete_user`.
    pub async fn staff_leaves(&self, userid: &str) -> Result<(), SimError> {
        let now = {
            let mut s = self.lock();
            let st = s
                .staff
                .get_mut(userid)
                .ok_or(SimError::Unknown("staff member"))?;
            st.status = 5;
            s.now()
        };
        let xml = format!(
            "<xml><ToUserName><![CDATA[{}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>{now}</CreateTime>\
             <MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_contact]]></Event><ChangeType>delete_user</ChangeType>\
             <UserID><![CDATA[{userid}]]></UserID></xml>",
            self.config.corp_id
        );
        self.push_wecom(&xml, 1).await
    }

    /// An associate creates a customer group with some of their clients: WeCom tells Salon
    /// (`change_external_chat` / `create`). Returns the chat id.
    pub async fn create_group(
        &self,
        owner: &str,
        name: &str,
        clients: &[&str],
    ) -> Result<String, SimError> {
        let (chat_id, now) = {
            let mut s = self.lock();
            if !s.staff.contains_key(owner) {
                return Err(SimError::Unknown("staff member"));
            }
            if clients.iter().any(|c| !s.contacts.contains_key(*c)) {
                return Err(SimError::Unknown("external contact"));
            }
            let now = s.now();
            let chat_id = s.next_id("wr");
            let mut members = vec![(owner.to_owned(), 1, now)];
            members.extend(clients.iter().map(|c| ((*c).to_owned(), 2, now)));
            s.groups.insert(
                chat_id.clone(),
                SimGroup {
                    name: name.to_owned(),
                    owner: owner.to_owned(),
                    notice: String::new(),
                    created: now,
                    members,
                },
            );
            (chat_id, now)
        };
        self.push_wecom(&self.group_event(&chat_id, now, "create", ""), 1)
            .await?;
        Ok(chat_id)
    }

    /// A client joins a group (`change_external_chat` / `update` / `add_member`).
    pub async fn join_group(&self, chat_id: &str, external_userid: &str) -> Result<(), SimError> {
        let now = {
            let mut s = self.lock();
            if !s.contacts.contains_key(external_userid) {
                return Err(SimError::Unknown("external contact"));
            }
            let now = s.now();
            let g = s
                .groups
                .get_mut(chat_id)
                .ok_or(SimError::Unknown("group chat"))?;
            if !g.members.iter().any(|m| m.0 == external_userid) {
                g.members.push((external_userid.to_owned(), 2, now));
            }
            now
        };
        let extra = format!(
            "<UpdateDetail><![CDATA[add_member]]></UpdateDetail><JoinScene>3</JoinScene><MemChangeCnt>1</MemChangeCnt>\
             <MemChangeList><Item><![CDATA[{external_userid}]]></Item></MemChangeList>"
        );
        self.push_wecom(&self.group_event(chat_id, now, "update", &extra), 1)
            .await
    }

    /// The owner dismisses a group (`change_external_chat` / `dismiss`).
    pub async fn dismiss_group(&self, chat_id: &str) -> Result<(), SimError> {
        let now = {
            let mut s = self.lock();
            s.groups
                .remove(chat_id)
                .ok_or(SimError::Unknown("group chat"))?;
            s.now()
        };
        self.push_wecom(&self.group_event(chat_id, now, "dismiss", ""), 1)
            .await
    }

    fn group_event(&self, chat_id: &str, now: i64, change: &str, extra: &str) -> String {
        format!(
            "<xml><ToUserName><![CDATA[{}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>{now}</CreateTime>\
             <MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_chat]]></Event>\
             <ChatId><![CDATA[{chat_id}]]></ChatId><ChangeType><![CDATA[{change}]]></ChangeType>{extra}</xml>",
            self.config.corp_id
        )
    }

    /// Someone (a staff `userid` or an `external_userid`) says `text` in a group: the
    /// message goes into the chat archive, as the archive reader will decrypt it. Returns
    /// its msgid.
    pub fn group_says(&self, chat_id: &str, from: &str, text: &str) -> Result<String, SimError> {
        let mut s = self.lock();
        let g = s
            .groups
            .get(chat_id)
            .ok_or(SimError::Unknown("group chat"))?;
        if !g.members.iter().any(|m| m.0 == from) {
            return Err(SimError::Unknown("group member"));
        }
        let tolist: Vec<String> = g
            .members
            .iter()
            .filter(|m| m.0 != from)
            .map(|m| m.0.clone())
            .collect();
        Ok(s.archive_text(from, tolist, chat_id, text))
    }

    /// An associate and a client write to each other directly in WeCom (not through Salon):
    /// the message is in the chat archive only. Returns its msgid.
    pub fn archived_direct(&self, from: &str, to: &str, text: &str) -> Result<String, SimError> {
        let mut s = self.lock();
        let staff = |who: &str| s.staff.contains_key(who);
        let contact = |who: &str| s.contacts.contains_key(who);
        if !((staff(from) && contact(to)) || (contact(from) && staff(to))) {
            return Err(SimError::Unknown("associate and client pair"));
        }
        Ok(s.archive_text(from, vec![to.to_owned()], "", text))
    }

    /// The archive after `seq`, at most `limit` entries: what `GetChatData` returns, each
    /// message decrypted.
    pub fn chat_archive(&self, seq: i64, limit: usize) -> Vec<Value> {
        self.lock()
            .archive
            .iter()
            .filter(|e| e["seq"].as_i64().unwrap_or(0) > seq)
            .take(limit)
            .cloned()
            .collect()
    }

    /// Plays the brand's archive reader once: asks Salon where it stands, then posts what
    /// the archive holds after that, in batches of up to 1,000 (GetChatData's limit), signed
    /// and encrypted with the WeCom app's keys. Returns the messages posted.
    pub async fn deliver_archive(&self) -> Result<usize, SimError> {
        let mut seq = self
            .post_archive(&json!({"chatdata": []}).to_string())
            .await?
            .get("seq")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let mut posted = 0;
        loop {
            let batch = self.chat_archive(seq, 1000);
            let Some(last) = batch.last().and_then(|e| e["seq"].as_i64()) else {
                return Ok(posted);
            };
            self.post_archive(&json!({"chatdata": batch}).to_string())
                .await?;
            posted += batch.len();
            seq = last;
        }
    }

    /// Posts a batch (the reader's plain JSON) to Salon's archive endpoint, signed and
    /// encrypted with the WeCom app's keys; returns Salon's answer.
    pub async fn post_archive(&self, plain: &str) -> Result<Value, SimError> {
        let url = self
            .targets
            .lock()
            .ok()
            .and_then(|t| t.0.clone())
            .ok_or(SimError::NoTarget)?
            .replace("/callback", "/archive");
        let timestamp = jiff::Timestamp::now().as_second().to_string();
        let nonce = rand::thread_rng()
            .gen_range(100_000_000u64..999_999_999)
            .to_string();
        let encrypted = self.wecom.encrypt(plain.as_bytes());
        let signature = self.wecom.sign(&timestamp, &nonce, &encrypted);
        let r = self
            .http
            .post(&url)
            .query(&[
                ("msg_signature", &signature),
                ("timestamp", &timestamp),
                ("nonce", &nonce),
            ])
            .json(&json!({"encrypt": encrypted}))
            .send()
            .await
            .map_err(|e| SimError::Rejected(e.to_string()))?;
        let status = r.status();
        let text = r
            .text()
            .await
            .map_err(|e| SimError::Rejected(e.to_string()))?;
        if !status.is_success() {
            return Err(SimError::Rejected(format!(
                "HTTP {status}: {}",
                text.trim()
            )));
        }
        serde_json::from_str(&text).map_err(|e| SimError::Rejected(e.to_string()))
    }

    /// Encrypts, signs and POSTs a WeCom callback `times` times (Tencent retries a callback
    /// that is not answered within 5 s; tests push duplicates on purpose).
    pub async fn push_wecom(&self, plain_xml: &str, times: usize) -> Result<(), SimError> {
        let url = self
            .targets
            .lock()
            .ok()
            .and_then(|t| t.0.clone())
            .ok_or(SimError::NoTarget)?;
        for _ in 0..times {
            self.push(&url, &self.wecom, plain_xml).await?;
        }
        Ok(())
    }

    pub async fn push_oa(&self, plain_xml: &str) -> Result<(), SimError> {
        let url = self
            .targets
            .lock()
            .ok()
            .and_then(|t| t.1.clone())
            .ok_or(SimError::NoTarget)?;
        self.push(&url, &self.oa, plain_xml).await
    }

    async fn push(&self, url: &str, crypt: &MsgCrypt, plain_xml: &str) -> Result<(), SimError> {
        let timestamp = jiff::Timestamp::now().as_second().to_string();
        let nonce = rand::thread_rng()
            .gen_range(100_000_000u64..999_999_999)
            .to_string();
        let encrypted = crypt.encrypt(plain_xml.as_bytes());
        let signature = crypt.sign(&timestamp, &nonce, &encrypted);
        let body = format!(
            "<xml><ToUserName><![CDATA[{}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[{}]]></AgentID></xml>",
            crypt.receive_id(),
            self.config.agent_id
        );
        // Tencent retries three times when the answer does not come within 5 s.
        let mut last = String::new();
        for _ in 0..3 {
            let sent = self
                .http
                .post(url)
                .query(&[
                    ("msg_signature", &signature),
                    ("timestamp", &timestamp),
                    ("nonce", &nonce),
                ])
                .header(header::CONTENT_TYPE, "text/xml")
                .timeout(Duration::from_secs(5))
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => last = format!("HTTP {}", r.status()),
                Err(e) => last = e.to_string(),
            }
        }
        Err(SimError::Rejected(last))
    }

    /// The provider's HTTP API, to mount at the API base Salon is configured with.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/cgi-bin/gettoken", get(gettoken))
            .route("/cgi-bin/token", get(oa_token))
            .route("/cgi-bin/user/list", get(user_list))
            .route("/cgi-bin/externalcontact/get", get(contact_get))
            .route("/cgi-bin/externalcontact/list", get(contact_list))
            .route(
                "/cgi-bin/externalcontact/get_moment_task_result",
                get(moment_result),
            )
            .route("/cgi-bin/externalcontact/{*api}", post(contact_post))
            .route("/cgi-bin/kf/{*api}", post(kf_post))
            .route("/cgi-bin/media/upload", post(media_upload))
            .route("/cgi-bin/message/custom/send", post(oa_custom_send))
            .route("/qr/{config_id}", get(qr_image))
            .route("/scan/{config_id}", get(scan_page).post(scan_now))
            .with_state(self.clone())
    }

    /// Runs the API checks every call shares: faults, the token, the rate. `Err` is the answer.
    async fn gate(&self, api: &str, token: Option<&str>) -> Result<Fault, Response> {
        self.gate_with(api, token, false).await
    }

    /// [`Simulator::gate`] for the WeCom API, or (`oa`) for the Official Account's.
    async fn gate_with(&self, api: &str, token: Option<&str>, oa: bool) -> Result<Fault, Response> {
        let faults = self.lock().faults.clone();
        if !faults.latency.is_zero() {
            tokio::time::sleep(faults.latency).await;
        }
        let mut s = self.lock();
        let roll: f64 = s.rng().r#gen();
        if roll < faults.server_error {
            return Err((StatusCode::BAD_GATEWAY, "upstream unavailable").into_response());
        }
        let roll: f64 = s.rng().r#gen();
        if roll < faults.system_busy {
            return Err(err(-1, "system busy"));
        }
        let now = s.now();
        let tokens = if oa { &s.oa_tokens } else { &s.tokens };
        match token.map(|t| tokens.get(t).copied()) {
            None | Some(None) => return Err(err(40014, "invalid access_token")),
            Some(Some(expiry)) if expiry <= now => return Err(err(42001, "access_token expired")),
            _ => {}
        }
        let t = std::time::Instant::now();
        if let Some((every, lasting)) = faults.busy_bursts {
            let since = t.duration_since(*s.started.get_or_insert(t));
            if !every.is_zero() && since.as_nanos() % every.as_nanos() < lasting.as_nanos() {
                return Err(err(45009, "api freq out of limit"));
            }
        }
        let limit = self.config.per_api_per_minute;
        let w = s.windows.entry(api.to_owned()).or_default();
        while w
            .front()
            .is_some_and(|f| t.duration_since(*f) >= Duration::from_secs(60))
        {
            w.pop_front();
        }
        if w.len() >= limit {
            return Err(err(45009, "api freq out of limit"));
        }
        w.push_back(t);
        let roll: f64 = s.rng().r#gen();
        let hang: f64 = s.rng().r#gen();
        Ok(Fault {
            drop: roll < faults.drop_after_handling,
            hang: (hang < faults.hang).then_some(faults.hang_for),
        })
    }
}

struct Fault {
    drop: bool,
    hang: Option<Duration>,
}

impl Fault {
    /// Holds the (already decided) answer back, when this call hangs.
    async fn pause(&self) {
        if let Some(d) = self.hang {
            tokio::time::sleep(d).await;
        }
    }

    /// The answer, or a connection cut before the answer's body is complete.
    fn answer(self, r: Response) -> Response {
        if self.drop {
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .body(axum::body::Body::new(Broken))
                .unwrap_or(r)
        } else {
            r
        }
    }
}

/// A body that fails on first read: hyper aborts the connection mid-answer.
struct Broken;

impl http_body::Body for Broken {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "dropped",
        ))))
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    corpid: Option<String>,
    corpsecret: Option<String>,
}

async fn gettoken(State(sim): State<Shared>, Query(q): Query<TokenQuery>) -> Response {
    if q.corpid.as_deref() != Some(&sim.config.corp_id) {
        return err(40013, "invalid corpid");
    }
    if q.corpsecret.as_deref() != Some(&sim.config.corp_secret) {
        return err(40001, "invalid credential");
    }
    let mut s = sim.lock();
    let token = s.next_id("tok");
    let expiry = s.now() + TOKEN_TTL_SECS;
    s.tokens.insert(token.clone(), expiry);
    s.record("gettoken", json!({"expires_at": expiry}));
    ok(json!({"access_token": token, "expires_in": TOKEN_TTL_SECS}))
}

#[derive(Deserialize)]
struct OaTokenQuery {
    appid: Option<String>,
    secret: Option<String>,
}

async fn oa_token(State(sim): State<Shared>, Query(q): Query<OaTokenQuery>) -> Response {
    if q.appid.as_deref() != Some(&sim.config.oa_app_id)
        || q.secret.as_deref() != Some(&sim.config.oa_secret)
    {
        return err(40125, "invalid appsecret");
    }
    let mut s = sim.lock();
    let token = s.next_id("oatok");
    let expiry = s.now() + TOKEN_TTL_SECS;
    s.oa_tokens.insert(token.clone(), expiry);
    ok(json!({"access_token": token, "expires_in": TOKEN_TTL_SECS}))
}

type Params = Query<HashMap<String, String>>;

async fn user_list(State(sim): State<Shared>, Query(q): Params) -> Response {
    let fault = match sim
        .gate("user/list", q.get("access_token").map(String::as_str))
        .await
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    let list: Vec<Value> = sim
        .lock()
        .staff
        .values()
        .map(|s| json!({"userid": s.userid, "name": s.name, "email": s.email, "status": s.status, "department": [1]}))
        .collect();
    fault.answer(ok(json!({"userlist": list})))
}

async fn contact_get(State(sim): State<Shared>, Query(q): Params) -> Response {
    let fault = match sim
        .gate(
            "externalcontact/get",
            q.get("access_token").map(String::as_str),
        )
        .await
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    let id = q.get("external_userid").cloned().unwrap_or_default();
    let s = sim.lock();
    let Some(c) = s.contacts.get(&id) else {
        return err(84061, "not external contact");
    };
    let follow: Vec<Value> = c
        .follows
        .iter()
        .map(|(u, t, st)| json!({"userid": u, "createtime": t, "state": st, "remark": "", "remark_mobiles": c.mobile.iter().collect::<Vec<_>>()}))
        .collect();
    fault.answer(ok(json!({
        "external_contact": {"external_userid": id, "name": c.name, "type": 1, "gender": 0, "unionid": c.unionid},
        "follow_user": follow,
    })))
}

async fn contact_list(State(sim): State<Shared>, Query(q): Params) -> Response {
    let fault = match sim
        .gate(
            "externalcontact/list",
            q.get("access_token").map(String::as_str),
        )
        .await
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    let user = q.get("userid").cloned().unwrap_or_default();
    let ids: Vec<String> = sim
        .lock()
        .contacts
        .iter()
        .filter(|(_, c)| c.follows.iter().any(|(u, _, _)| *u == user))
        .map(|(id, _)| id.clone())
        .collect();
    fault.answer(ok(json!({"external_userid": ids})))
}

async fn moment_result(State(sim): State<Shared>, Query(q): Params) -> Response {
    let fault = match sim
        .gate(
            "externalcontact/get_moment_task_result",
            q.get("access_token").map(String::as_str),
        )
        .await
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    let job = q.get("jobid").cloned().unwrap_or_default();
    let s = sim.lock();
    match s.moment_jobs.get(job.as_str()) {
        Some(_) => fault.answer(ok(json!({"status": 3, "type": "add_moment_task", "result": {"moment_id": format!("mom{job}")}}))),
        None => err(41063, "invalid jobid"),
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn contact_post(
    State(sim): State<Shared>,
    Path(api): Path<String>,
    Query(q): Params,
    body: axum::body::Bytes,
) -> Response {
    let api_name = format!("externalcontact/{api}");
    let fault = match sim
        .gate(&api_name, q.get("access_token").map(String::as_str))
        .await
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Ok(b) = serde_json::from_slice::<Value>(&body) else {
        return err(47001, "data format error");
    };
    let answer = handle_post(&sim, &api_name, &b);
    fault.pause().await;
    fault.answer(answer)
}

/// The Official Account's customer-service message (`message/custom/send`): text to a
/// follower who wrote, clicked or followed in the last 48 hours (45015 after that, or once
/// they unfollowed). Accepted messages are logged; there is no message id to ask about.
async fn oa_custom_send(
    State(sim): State<Shared>,
    Query(q): Params,
    body: axum::body::Bytes,
) -> Response {
    let fault = match sim
        .gate_with(
            "message/custom/send",
            q.get("access_token").map(String::as_str),
            true,
        )
        .await
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Ok(b) = serde_json::from_slice::<Value>(&body) else {
        return err(47001, "data format error");
    };
    let answer = {
        let mut s = sim.lock();
        let now = s.now();
        let touser = b["touser"].as_str().unwrap_or("").to_owned();
        let content = b["text"]["content"].as_str().unwrap_or("").to_owned();
        let last = s.oa_last.get(&touser).copied();
        if b["msgtype"] != "text" || content.is_empty() {
            err(44004, "empty content")
        } else if last.is_none() && !s.followers.contains_key(&touser) {
            err(40003, "invalid openid")
        } else if s.followers.get(&touser) == Some(&false)
            || last.is_none_or(|t| now - t > 48 * 3600)
        {
            err(
                45015,
                "response out of time limit or subscription is canceled",
            )
        } else {
            s.record(
                "message/custom/send",
                json!({"touser": touser, "text": content}),
            );
            ok(json!({}))
        }
    };
    fault.pause().await;
    fault.answer(answer)
}

/// Temporary media (`media/upload?type=image`): a multipart `media` part, an image of at most
/// 10 MB (PNG or JPEG by its first bytes), answered with a `media_id`.
async fn media_upload(
    State(sim): State<Shared>,
    Query(q): Params,
    mut form: axum::extract::Multipart,
) -> Response {
    let fault = match sim
        .gate("media/upload", q.get("access_token").map(String::as_str))
        .await
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    if q.get("type").map(String::as_str) != Some("image") {
        return err(40004, "invalid media type");
    }
    let mut data = None;
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some("media") {
            data = field.bytes().await.ok();
        }
    }
    let Some(bytes) = data else {
        return err(41005, "media data missing");
    };
    let image = bytes.starts_with(b"\x89PNG") || bytes.starts_with(&[0xFF, 0xD8, 0xFF]);
    if !image || bytes.len() > 10 * 1024 * 1024 {
        return err(40005, "invalid file type");
    }
    let answer = {
        let mut s = sim.lock();
        let id = s.next_id("media");
        s.media.insert(id.clone(), bytes.len());
        let now = s.now();
        s.record(
            "media/upload",
            json!({"media_id": id, "bytes": bytes.len()}),
        );
        ok(json!({"type": "image", "media_id": id, "created_at": now.to_string()}))
    };
    fault.pause().await;
    fault.answer(answer)
}

/// WeChat customer service (微信客服) through WeCom: the account list and `send_msg`.
async fn kf_post(
    State(sim): State<Shared>,
    Path(api): Path<String>,
    Query(q): Params,
    body: axum::body::Bytes,
) -> Response {
    let api_name = format!("kf/{api}");
    let fault = match sim
        .gate(&api_name, q.get("access_token").map(String::as_str))
        .await
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Ok(b) = serde_json::from_slice::<Value>(&body) else {
        return err(47001, "data format error");
    };
    let answer = handle_kf(&sim, &api_name, &b);
    fault.pause().await;
    fault.answer(answer)
}

/// The customer-service account every sandbox client writes to.
pub const SANDBOX_KF_ID: &str = "wkSalonSandboxKf01";
/// How long after a client's message the account may answer, and how many times.
pub const KF_WINDOW_SECS: i64 = 48 * 3600;
pub const KF_MESSAGES_PER_WINDOW: u32 = 5;

fn handle_kf(sim: &Simulator, api: &str, b: &Value) -> Response {
    let mut s = sim.lock();
    let now = s.now();
    match api {
        "kf/account/list" => ok(json!({"account_list": [
            {"open_kfid": SANDBOX_KF_ID, "name": "Salon sandbox", "avatar": "", "manage_privilege": true}
        ]})),
        "kf/send_msg" => {
            let touser = b["touser"].as_str().unwrap_or("").to_owned();
            let kf = b["open_kfid"].as_str().unwrap_or("");
            let msgid = b["msgid"].as_str().map(str::to_owned);
            let image = b["image"]["media_id"].as_str().map(str::to_owned);
            let text = match (b["msgtype"].as_str(), &image) {
                (Some("image"), Some(m)) if s.media.contains_key(m) => format!("[image {m}]"),
                (Some("image"), _) => return err(40007, "invalid media_id"),
                _ => b["text"]["content"].as_str().unwrap_or("").to_owned(),
            };
            if kf != SANDBOX_KF_ID {
                return err(95000, "invalid open_kfid");
            }
            if !matches!(b["msgtype"].as_str(), Some("text" | "image")) || text.is_empty() {
                return err(44004, "empty content");
            }
            if text.len() > 2048 {
                return err(45002, "content size out of limit");
            }
            if let Some(id) = &msgid {
                let valid = id.len() <= 32
                    && id
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
                if !valid {
                    return err(40058, "invalid msgid");
                }
                // The same msgid again is the same message: answered, not delivered twice.
                if s.kf_sent.contains_key(id) {
                    return ok(json!({"msgid": id}));
                }
            }
            if !s.contacts.contains_key(&touser) {
                return err(95016, "invalid touser: not a customer of this account");
            }
            match s.kf_sessions.get_mut(&touser) {
                Some((since, n))
                    if now - *since <= KF_WINDOW_SECS && *n < KF_MESSAGES_PER_WINDOW =>
                {
                    *n += 1;
                }
                _ => {
                    return err(
                        95018,
                        "send msg session status invalid: the client has not written in the last 48 hours, or five messages were sent since",
                    );
                }
            }
            let id = msgid.unwrap_or_else(|| s.next_id("kfmsg"));
            s.kf_sent.insert(id.clone(), (touser.clone(), text.clone()));
            s.record(
                api,
                json!({"msgid": id, "touser": touser, "open_kfid": kf, "text": text, "media_id": image}),
            );
            ok(json!({"msgid": id}))
        }
        _ => err(60020, "api not supported by the simulator"),
    }
}

/// The media ids of a request's image attachments, or the one the corp never uploaded.
fn attached_images(s: &Sim, b: &Value) -> Result<Vec<String>, String> {
    let images: Vec<String> = b["attachments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["image"]["media_id"].as_str().map(str::to_owned))
        .collect();
    match images.iter().find(|m| !s.media.contains_key(*m)) {
        Some(bad) => Err(bad.clone()),
        None => Ok(images),
    }
}

fn handle_post(sim: &Simulator, api: &str, b: &Value) -> Response {
    let mut s = sim.lock();
    let now = s.now();
    match api {
        "externalcontact/add_contact_way" => {
            let state = b["state"].as_str().unwrap_or("").to_owned();
            if state.chars().count() > 30 {
                return err(40058, "state exceeds 30 characters");
            }
            let users = strings(&b["user"]);
            if users.is_empty() || users.iter().any(|u| !s.staff.contains_key(u)) {
                return err(60111, "userid not found");
            }
            let config_id = s.next_id("cfg");
            s.ways.insert(
                config_id.clone(),
                Way {
                    state: state.clone(),
                    users: users.clone(),
                },
            );
            s.record(
                api,
                json!({"config_id": config_id, "state": state, "user": users}),
            );
            let qr = format!("{}/qr/{config_id}", sim.config.public_base);
            ok(json!({"config_id": config_id, "qr_code": qr}))
        }
        "externalcontact/send_welcome_msg" => {
            let code = b["welcome_code"].as_str().unwrap_or("").to_owned();
            let text = b["text"]["content"].as_str().unwrap_or("").to_owned();
            let Some(w) = s.welcome_codes.get_mut(&code) else {
                return err(41051, "invalid welcome_code");
            };
            if w.used || now - w.issued > WELCOME_CODE_TTL_SECS {
                return err(41051, "welcome_code expired or already used");
            }
            w.used = true;
            let ext = w.external_userid.clone();
            s.welcomes.push((ext.clone(), text.clone()));
            s.record(api, json!({"external_userid": ext, "text": text}));
            ok(json!({}))
        }
        "externalcontact/batch/get_by_user" => {
            let users = strings(&b["userid_list"]);
            let list: Vec<Value> = s
                .contacts
                .iter()
                .flat_map(|(id, c)| {
                    c.follows.iter().filter(|(u, _, _)| users.contains(u)).map(move |(u, t, st)| {
                        json!({"external_contact": {"external_userid": id, "name": c.name, "type": 1, "unionid": c.unionid},
                               "follow_info": {"userid": u, "createtime": t, "state": st}})
                    })
                })
                .collect();
            ok(json!({"external_contact_list": list, "next_cursor": ""}))
        }
        "externalcontact/get_corp_tag_list" => {
            let groups: Vec<Value> = s
                .tags
                .iter()
                .map(|(gid, gname, tags)| json!({"group_id": gid, "group_name": gname, "tag": tags.iter().map(|(id, n)| json!({"id": id, "name": n})).collect::<Vec<_>>()}))
                .collect();
            ok(json!({"tag_group": groups}))
        }
        "externalcontact/add_corp_tag" => {
            let gname = b["group_name"].as_str().unwrap_or("").to_owned();
            let gid = s.next_id("etg");
            let mut tags = Vec::new();
            for t in b["tag"].as_array().cloned().unwrap_or_default() {
                let id = s.next_id("et");
                tags.push((id, t["name"].as_str().unwrap_or("").to_owned()));
            }
            s.tags.push((gid.clone(), gname.clone(), tags.clone()));
            s.record(api, json!({"group_name": gname}));
            ok(
                json!({"tag_group": {"group_id": gid, "group_name": gname, "tag": tags.iter().map(|(id, n)| json!({"id": id, "name": n})).collect::<Vec<_>>()}}),
            )
        }
        "externalcontact/mark_tag" => {
            let ext = b["external_userid"].as_str().unwrap_or("").to_owned();
            if !s.contacts.contains_key(&ext) {
                return err(84061, "not external contact");
            }
            let add = strings(&b["add_tag"]);
            s.marks.entry(ext.clone()).or_default().extend(add.clone());
            s.record(api, json!({"external_userid": ext, "add_tag": add}));
            ok(json!({}))
        }
        "externalcontact/add_msg_template" if b["chat_type"] == "group" => {
            // To customer groups: the sender must own each; they confirm at once here, so the
            // message is said in each group (and so archived).
            let sender = b["sender"].as_str().unwrap_or("").to_owned();
            let text = b["text"]["content"].as_str().unwrap_or("").to_owned();
            let chats = strings(&b["chat_id_list"]);
            if sender.is_empty() || !s.staff.contains_key(&sender) {
                return err(60111, "userid not found");
            }
            if chats.is_empty() {
                return err(40058, "chat_id_list is empty");
            }
            if let Some(c) = chats
                .iter()
                .find(|c| s.groups.get(*c).is_none_or(|g| g.owner != sender))
            {
                return err(
                    40050,
                    &format!("chatid {c} not found or not owned by the sender"),
                );
            }
            let msgid = s.next_id("msg");
            for chat in &chats {
                let tolist: Vec<String> = s.groups[chat]
                    .members
                    .iter()
                    .filter(|m| m.0 != sender)
                    .map(|m| m.0.clone())
                    .collect();
                s.archive_text(&sender, tolist, chat, &text);
            }
            s.record(
                api,
                json!({"msgid": msgid, "sender": sender, "chat_id_list": chats, "text": text}),
            );
            ok(json!({"msgid": msgid, "fail_list": []}))
        }
        "externalcontact/add_msg_template" => {
            let images = match attached_images(&s, b) {
                Ok(i) => i,
                Err(bad) => return err(40007, &format!("invalid media_id {bad}")),
            };
            let sender = b["sender"].as_str().unwrap_or("").to_owned();
            let text = b["text"]["content"].as_str().unwrap_or("").to_owned();
            let targets = strings(&b["external_userid"]);
            if targets.len() > 10_000 {
                return err(40058, "external_userid over 10000");
            }
            let day = now / 86_400;
            let msgid = s.next_id("msg");
            let mut list = Vec::new();
            let mut fail = Vec::new();
            for t in &targets {
                if !s.contacts.contains_key(t) {
                    fail.push(t.clone());
                    continue;
                }
                // A client receives at most one group message a day: later ones report status 3.
                let n = s.daily.entry((t.clone(), day)).or_default();
                let status = if *n >= 1 { 3 } else { 1 };
                *n += 1;
                list.push((t.clone(), status, if status == 1 { now } else { 0 }));
            }
            let accepted: Vec<&String> = list
                .iter()
                .filter(|(_, st, _)| *st == 1)
                .map(|(t, _, _)| t)
                .collect();
            let over_cap: Vec<&String> = list
                .iter()
                .filter(|(_, st, _)| *st == 3)
                .map(|(t, _, _)| t)
                .collect();
            let record = json!({"msgid": msgid, "sender": sender, "external_userid": accepted,
                "over_daily_cap": over_cap, "text": text, "images": images});
            s.group_msgs.insert(
                msgid.clone(),
                GroupMsg {
                    sender: sender.clone(),
                    text,
                    created: now,
                    list,
                },
            );
            s.record(api, record);
            ok(json!({"msgid": msgid, "fail_list": fail}))
        }
        "externalcontact/get_groupmsg_list_v2" => {
            let from = b["start_time"].as_i64().unwrap_or(0);
            let to = b["end_time"].as_i64().unwrap_or(i64::MAX);
            if to < from || to - from > 31 * 86_400 {
                return err(41065, "time range over one month");
            }
            let creator = b["creator"].as_str();
            let limit = b["limit"].as_u64().unwrap_or(50).clamp(1, 100) as usize;
            let cursor = b["cursor"].as_str().unwrap_or("");
            let list: Vec<Value> = s
                .group_msgs
                .iter()
                .filter(|(id, _)| cursor.is_empty() || id.as_str() > cursor)
                .filter(|(_, g)| g.created >= from && g.created <= to)
                .filter(|(_, g)| creator.is_none_or(|c| c == g.sender))
                .take(limit)
                .map(|(id, g)| {
                    json!({"msgid": id, "creator": g.sender, "create_type": 0,
                    "create_time": g.created, "text": {"content": g.text}})
                })
                .collect();
            let next = if list.len() == limit {
                list.last()
                    .and_then(|v| v["msgid"].as_str())
                    .unwrap_or("")
                    .to_owned()
            } else {
                String::new()
            };
            ok(json!({"group_msg_list": list, "next_cursor": next}))
        }
        "externalcontact/get_groupmsg_send_result" => {
            let msgid = b["msgid"].as_str().unwrap_or("");
            let Some(g) = s.group_msgs.get(msgid) else {
                return err(41063, "invalid msgid");
            };
            let send: Vec<Value> = g
                .list
                .iter()
                .map(|(e, st, t)| json!({"external_userid": e, "userid": g.sender, "status": st, "send_time": t}))
                .collect();
            ok(json!({"send_list": send, "next_cursor": ""}))
        }
        "externalcontact/get_moment_task"
        | "externalcontact/get_moment_customer_list"
        | "externalcontact/get_moment_send_result"
        | "externalcontact/get_moment_comments" => {
            let moment_id = b["moment_id"].as_str().unwrap_or("");
            let Some(m) = moment_id
                .strip_prefix("mom")
                .and_then(|job| s.moment_jobs.get(job))
            else {
                return err(40058, "invalid moment_id");
            };
            let userid = b["userid"].as_str().unwrap_or("");
            if api != "externalcontact/get_moment_task" && !m.senders.iter().any(|u| u == userid) {
                return err(40058, "invalid userid");
            }
            // The cursor is where the previous page ended.
            let from: usize = b["cursor"]
                .as_str()
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let max = if api == "externalcontact/get_moment_send_result" {
                5_000
            } else {
                1_000
            };
            let limit = b["limit"]
                .as_u64()
                .map_or(max, |l| (l as usize).clamp(1, max));
            let page = |all: Vec<Value>| {
                let next = if all.len() > from + limit {
                    (from + limit).to_string()
                } else {
                    String::new()
                };
                (
                    all.into_iter().skip(from).take(limit).collect::<Vec<_>>(),
                    next,
                )
            };
            let seen = m.reactions.iter().filter(|r| r.userid == userid);
            match api {
                "externalcontact/get_moment_task" => {
                    let (list, next) = page(
                        m.senders
                            .iter()
                            .map(|u| json!({"userid": u, "publish_status": i32::from(s.staff.contains_key(u))}))
                            .collect(),
                    );
                    ok(json!({"task_list": list, "next_cursor": next}))
                }
                "externalcontact/get_moment_customer_list" => {
                    let (list, next) = page(
                        seen.map(
                            |r| json!({"userid": userid, "external_userid": r.external_userid}),
                        )
                        .collect(),
                    );
                    ok(json!({"customer_list": list, "next_cursor": next}))
                }
                "externalcontact/get_moment_send_result" => {
                    let (list, next) = page(
                        seen.map(|r| json!({"external_userid": r.external_userid}))
                            .collect(),
                    );
                    ok(json!({"customer_list": list, "next_cursor": next}))
                }
                _ => {
                    let pick = |f: fn(&MomentReaction) -> bool| -> Vec<Value> {
                        m.reactions
                            .iter()
                            .filter(|r| r.userid == userid && f(r))
                            .map(|r| json!({"external_userid": r.external_userid, "create_time": r.at}))
                            .collect()
                    };
                    ok(
                        json!({"comment_list": pick(|r| r.commented), "like_list": pick(|r| r.liked)}),
                    )
                }
            }
        }
        "externalcontact/add_moment_task" => {
            let images = match attached_images(&s, b) {
                Ok(i) => i,
                Err(bad) => return err(40007, &format!("invalid media_id {bad}")),
            };
            let job = s.next_id("job");
            let senders = strings(&b["visible_range"]["sender_list"]["user_list"]);
            let now = s.now();
            let mut reactions = Vec::new();
            for sender in &senders {
                let seen: Vec<String> = s
                    .contacts
                    .iter()
                    .filter(|(_, c)| c.follows.iter().any(|f| f.0 == *sender))
                    .map(|(e, _)| e.clone())
                    .collect();
                for e in seen {
                    let rng = s.rng();
                    let (liked, commented) = (rng.gen_bool(0.3), rng.gen_bool(0.1));
                    let at = now + rng.gen_range(60..7_200);
                    reactions.push(MomentReaction {
                        userid: sender.clone(),
                        external_userid: e,
                        liked,
                        commented,
                        at,
                    });
                }
            }
            s.moment_jobs.insert(
                job.clone(),
                SimMoment {
                    senders: senders.clone(),
                    reactions,
                },
            );
            s.record(
                api,
                json!({"jobid": job, "senders": senders, "text": b["text"]["content"], "images": images}),
            );
            ok(json!({"jobid": job}))
        }
        "externalcontact/transfer_customer" | "externalcontact/resigned/transfer_customer" => {
            let handover = b["handover_userid"].as_str().unwrap_or("").to_owned();
            let takeover = b["takeover_userid"].as_str().unwrap_or("").to_owned();
            if !s.staff.contains_key(&takeover) {
                return err(60111, "userid not found");
            }
            let mut out = Vec::new();
            for ext in strings(&b["external_userid"]) {
                let recent = s
                    .transfers
                    .get(&ext)
                    .map_or(0, |v| v.iter().filter(|t| now - **t < 90 * 86_400).count());
                let code = if !s.contacts.contains_key(&ext) {
                    84061
                } else if recent >= TRANSFERS_PER_90_DAYS {
                    40097
                } else {
                    0
                };
                if code == 0 {
                    s.transfers.entry(ext.clone()).or_default().push(now);
                    if let Some(c) = s.contacts.get_mut(&ext) {
                        for f in c.follows.iter_mut().filter(|f| f.0 == handover) {
                            f.0 = takeover.clone();
                        }
                    }
                    s.record(
                        api,
                        json!({"external_userid": ext, "handover": handover, "takeover": takeover,
                               "transfer_success_msg": b["transfer_success_msg"]}),
                    );
                }
                out.push(json!({"external_userid": ext, "errcode": code}));
            }
            ok(json!({"customer": out}))
        }
        "externalcontact/transfer_result" => {
            let takeover = b["takeover_userid"].as_str().unwrap_or("");
            let list: Vec<Value> = s
                .transfers
                .iter()
                .filter(|(e, _)| s.contacts.get(*e).is_some_and(|c| c.follows.iter().any(|f| f.0 == takeover)))
                .map(|(e, t)| json!({"external_userid": e, "status": 1, "takeover_time": t.last().copied().unwrap_or(0)}))
                .collect();
            ok(json!({"customer": list, "next_cursor": ""}))
        }
        "externalcontact/groupchat/list" => {
            let owners = strings(&b["owner_filter"]["userid_list"]);
            let from: usize = b["cursor"]
                .as_str()
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let limit = b["limit"].as_u64().unwrap_or(100).clamp(1, 1000) as usize;
            let ids: Vec<&String> = s
                .groups
                .iter()
                .filter(|(_, g)| owners.is_empty() || owners.contains(&g.owner))
                .map(|(id, _)| id)
                .collect();
            let page: Vec<Value> = ids
                .iter()
                .skip(from)
                .take(limit)
                .map(|id| json!({"chat_id": id, "status": 0}))
                .collect();
            let next = if from + limit < ids.len() {
                (from + limit).to_string()
            } else {
                String::new()
            };
            ok(json!({"group_chat_list": page, "next_cursor": next}))
        }
        "externalcontact/groupchat/get" => {
            let id = b["chat_id"].as_str().unwrap_or("");
            let Some(g) = s.groups.get(id) else {
                return err(40050, "chatid not found");
            };
            let members: Vec<Value> = g
                .members
                .iter()
                .map(|(who, kind, joined)| {
                    let name = if *kind == 1 {
                        s.staff
                            .get(who)
                            .map(|st| st.name.clone())
                            .unwrap_or_default()
                    } else {
                        s.contacts
                            .get(who)
                            .map(|c| c.name.clone())
                            .unwrap_or_default()
                    };
                    json!({"userid": who, "type": kind, "join_time": joined, "join_scene": 1,
                           "invitor": {"userid": g.owner}, "group_nickname": "", "name": name})
                })
                .collect();
            ok(
                json!({"group_chat": {"chat_id": id, "name": g.name, "owner": g.owner, "create_time": g.created,
                      "notice": g.notice, "member_list": members, "admin_list": []}}),
            )
        }
        _ => err(60020, "api not supported by the simulator"),
    }
}

/// The channel QR code as an image: a real QR code whose link, opened on a phone or in a
/// browser, plays a client scanning it.
async fn qr_image(State(sim): State<Shared>, Path(config_id): Path<String>) -> Response {
    let config_id = config_id.trim_end_matches(".svg").to_owned();
    if !sim.lock().ways.contains_key(&config_id) {
        return (StatusCode::NOT_FOUND, "no such QR code").into_response();
    }
    let link = format!("{}/scan/{config_id}", sim.config.public_base);
    match qrcode::QrCode::new(link.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(180, 180)
                .quiet_zone(true)
                .build();
            (
                [
                    (header::CONTENT_TYPE, "image/svg+xml"),
                    (header::CACHE_CONTROL, "max-age=3600"),
                ],
                svg,
            )
                .into_response()
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "QR encoding failed").into_response(),
    }
}

async fn scan_page(Path(config_id): Path<String>) -> Html<String> {
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>Sandbox: scan</title><body style=\"font-family:sans-serif;max-width:30em;margin:3em auto\">\
         <h1>Sandbox WeChat</h1><p>This plays a client scanning the QR code <code>{config_id}</code> and adding the associate.</p>\
         <form method=post><label>Client name <input name=name value=\"林小姐\"></label> <button>Add the associate</button></form></body>"
    ))
}

#[derive(Deserialize)]
struct ScanForm {
    name: Option<String>,
}

async fn scan_now(
    State(sim): State<Shared>,
    Path(config_id): Path<String>,
    axum::Form(form): axum::Form<ScanForm>,
) -> Response {
    let name = form.name.unwrap_or_default();
    let name = if name.trim().is_empty() {
        "Sandbox client".to_owned()
    } else {
        name.trim().chars().take(40).collect()
    };
    match sim.client_scans(&config_id, &name, None).await {
        Ok(_) => Html(format!(
            "<!doctype html><meta charset=utf-8><title>Added</title><body style=\"font-family:sans-serif;max-width:30em;margin:3em auto\">\
             <h1>Added</h1><p>{} added the associate. The client now appears in their client book, with the welcome message.</p></body>",
            html_escape(&name)
        ))
        .into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Phrases simulated clients write (the demo's live activity).
const PHRASES: [&str; 8] = [
    "您好，请问新款手袋还有货吗？",
    "Could you hold the silk scarf in blue for me until Saturday?",
    "周末想去店里看看，有空吗？",
    "Thank you for the birthday wishes!",
    "请问这款的尺寸有哪些？",
    "Is the private preview still on next week?",
    "收到了，非常喜欢，谢谢！",
    "Can I book a fitting for Thursday afternoon?",
];

const NAMES: [&str; 8] = [
    "林小姐",
    "Chen Wei",
    "王女士",
    "Sophie Laurent",
    "赵先生",
    "Li Na",
    "周小姐",
    "Marco Rossi",
];

/// The sandbox's life: every `every`, one simulated person does something (adds an associate
/// through a QR code, writes, follows the OA, uses its menu). Runs until the process ends.
pub async fn run_activity(sim: Simulator, every: Duration, menu_keys: Vec<String>) {
    let mut rng =
        rand_chacha::ChaCha8Rng::seed_from_u64(jiff::Timestamp::now().as_second().unsigned_abs());
    let mut followers: Vec<String> = Vec::new();
    loop {
        tokio::time::sleep(every).await;
        // The brand's archive reader runs on every tick: what was said in groups (a client's
        // words, or a post an associate confirmed) reaches Salon within one tick.
        if let Err(e) = sim.deliver_archive().await {
            tracing::debug!(error = %e, "sandbox archive reader");
        }
        let roll: u32 = rng.gen_range(0..10);
        let result = match roll {
            0..=2 => {
                let ways = sim.way_ids();
                if ways.is_empty() {
                    continue;
                }
                let way = &ways[rng.gen_range(0..ways.len())];
                let name = NAMES[rng.gen_range(0..NAMES.len())];
                sim.client_scans(way, name, None).await.map(|_| ())
            }
            3 => {
                // Someone says something in a customer group; the brand's archive reader
                // picks it up.
                let groups = sim.groups();
                if groups.is_empty() {
                    continue;
                }
                let (chat, members) = &groups[rng.gen_range(0..groups.len())];
                let who = &members[rng.gen_range(0..members.len())];
                sim.group_says(chat, who, PHRASES[rng.gen_range(0..PHRASES.len())])
                    .map(|_| ())
            }
            4..=6 => {
                let contacts = sim.contact_ids();
                if contacts.is_empty() {
                    continue;
                }
                let c = &contacts[rng.gen_range(0..contacts.len())];
                sim.client_says(c, PHRASES[rng.gen_range(0..PHRASES.len())])
                    .await
                    .map(|_| ())
            }
            7 => {
                let openid = format!("oSandbox{:08x}", rng.r#gen::<u32>());
                followers.push(openid.clone());
                let ways = sim
                    .lock()
                    .ways
                    .values()
                    .map(|w| w.state.clone())
                    .collect::<Vec<_>>();
                let scene = (!ways.is_empty() && rng.gen_bool(0.6))
                    .then(|| ways[rng.gen_range(0..ways.len())].clone());
                sim.oa_follow(&openid, scene.as_deref()).await
            }
            _ => {
                if followers.is_empty() || menu_keys.is_empty() {
                    continue;
                }
                let f = &followers[rng.gen_range(0..followers.len())];
                sim.oa_click(f, &menu_keys[rng.gen_range(0..menu_keys.len())])
                    .await
            }
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, "sandbox activity");
        }
    }
}
