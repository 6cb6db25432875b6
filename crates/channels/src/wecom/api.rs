//! The WeCom server API client (企业微信服务端 API), to the published request and response
//! shapes. It keeps the access token (refreshed before `expires_in`, and at once on 40014 /
//! 42001 / 40001, one fetch at a time however many callers wait), backs off on -1 (system busy)
//! and 45009 (over the rate), keeps each API under its own rate on our side, and reports
//! Tencent's errors typed with their `errcode`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Tencent's production API.
pub const DEFAULT_BASE: &str = "https://qyapi.weixin.qq.com";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Tencent answered with an error code.
    #[error("WeCom {api} answered errcode {errcode}: {errmsg}")]
    Api {
        api: String,
        errcode: i64,
        errmsg: String,
    },
    /// The request did not complete (connection, timeout, 5xx).
    #[error("WeCom {api} could not be reached: {detail}")]
    Transport { api: String, detail: String },
    /// The answer was not what the protocol documents.
    #[error("WeCom {api} answered something unreadable: {detail}")]
    Decode { api: String, detail: String },
}

impl ApiError {
    pub fn errcode(&self) -> Option<i64> {
        match self {
            ApiError::Api { errcode, .. } => Some(*errcode),
            _ => None,
        }
    }
}

/// Error codes with a meaning for the client.
pub mod errcode {
    pub const SYSTEM_BUSY: i64 = -1;
    pub const INVALID_CREDENTIAL: i64 = 40001;
    pub const INVALID_ACCESS_TOKEN: i64 = 40014;
    pub const ACCESS_TOKEN_EXPIRED: i64 = 42001;
    pub const API_FREQ_OUT_OF_LIMIT: i64 = 45009;
    pub const INVALID_WELCOME_CODE: i64 = 41051;
    pub const TRANSFER_LIMIT: i64 = 40097;
    pub const GROUP_MSG_LIMIT: i64 = 41048;
    /// `kf/send_msg` outside the 48-hour window, or past its five messages.
    pub const KF_SESSION_INVALID: i64 = 95018;
    pub const KF_INVALID_TOUSER: i64 = 95016;
}

/// How the client paces and retries.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Calls per minute per API path on our side (Tencent's published per-app bound is far
    /// higher; this keeps bursts from a broadcast from ever reaching it).
    pub per_api_per_minute: u32,
    /// Attempts for busy / over-rate answers and, for reads, transport failures.
    pub attempts: u32,
    /// The first backoff; doubled on each further attempt.
    pub backoff: Duration,
    pub timeout: Duration,
    /// Refresh the token this long before Tencent says it expires.
    pub refresh_margin: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            per_api_per_minute: 1_200,
            attempts: 4,
            backoff: Duration::from_millis(200),
            timeout: Duration::from_secs(10),
            refresh_margin: Duration::from_secs(300),
        }
    }
}

struct Token {
    value: String,
    good_until: Instant,
}

/// One sliding minute of calls for one API.
#[derive(Default)]
struct Window {
    calls: std::collections::VecDeque<Instant>,
}

/// The client for one corp's app. Cheap to share (`Arc`).
pub struct WecomApi {
    http: reqwest::Client,
    base: String,
    corp_id: String,
    secret: String,
    policy: Policy,
    // Held across the fetch: the single flight.
    token: tokio::sync::Mutex<Option<Token>>,
    windows: std::sync::Mutex<HashMap<String, Window>>,
}

impl std::fmt::Debug for WecomApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WecomApi")
            .field("base", &self.base)
            .field("corp_id", &self.corp_id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

impl WecomApi {
    pub fn new(base: &str, corp_id: &str, secret: &str, policy: Policy) -> Self {
        let http = reqwest::Client::builder()
            .timeout(policy.timeout)
            .build()
            .unwrap_or_default();
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            corp_id: corp_id.to_owned(),
            secret: secret.to_owned(),
            policy,
            token: tokio::sync::Mutex::new(None),
            windows: std::sync::Mutex::default(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// A valid access token, fetched if there is none or it is close to expiry.
    pub async fn access_token(&self) -> Result<String, ApiError> {
        let mut slot = self.token.lock().await;
        if let Some(t) = slot.as_ref()
            && Instant::now() < t.good_until
        {
            return Ok(t.value.clone());
        }
        let url = format!("{}/cgi-bin/gettoken", self.base);
        let mut attempt = 0;
        let answer: TokenAnswer = loop {
            attempt += 1;
            let sent = self
                .http
                .get(&url)
                .query(&[("corpid", &self.corp_id), ("corpsecret", &self.secret)])
                .send()
                .await;
            match read::<TokenAnswer>("gettoken", sent).await {
                Ok(a) => break a,
                Err(e) if attempt < self.policy.attempts && retryable(&e, true) => {
                    tokio::time::sleep(self.backoff(attempt)).await;
                }
                Err(e) => return Err(e),
            }
        };
        let life = Duration::from_secs(answer.expires_in);
        let good_for = life.saturating_sub(self.policy.refresh_margin.min(life / 2));
        *slot = Some(Token {
            value: answer.access_token.clone(),
            good_until: Instant::now() + good_for,
        });
        Ok(answer.access_token)
    }

    /// Forgets the token if it is still the one that was refused.
    async fn drop_token(&self, refused: &str) {
        let mut slot = self.token.lock().await;
        if slot.as_ref().is_some_and(|t| t.value == refused) {
            *slot = None;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.policy.backoff * 2u32.saturating_pow(attempt.saturating_sub(1))
    }

    /// Waits until this API is under its per-minute rate, then counts the call.
    async fn pace(&self, api: &str) {
        loop {
            let wait = {
                let Ok(mut windows) = self.windows.lock() else {
                    return;
                };
                let w = windows.entry(api.to_owned()).or_default();
                let now = Instant::now();
                while w
                    .calls
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
                {
                    w.calls.pop_front();
                }
                if w.calls.len() < self.policy.per_api_per_minute as usize {
                    w.calls.push_back(now);
                    None
                } else {
                    w.calls
                        .front()
                        .map(|t| Duration::from_secs(60).saturating_sub(now.duration_since(*t)))
                }
            };
            match wait {
                None => return,
                Some(d) => tokio::time::sleep(d.max(Duration::from_millis(5))).await,
            }
        }
    }

    /// Calls one API. `idempotent` calls are also retried after transport failures; a send is
    /// not, so that a message whose answer was lost is never sent twice.
    async fn call<T: DeserializeOwned>(
        &self,
        api: &str,
        body: Option<serde_json::Value>,
        query: &[(&str, &str)],
        idempotent: bool,
    ) -> Result<T, ApiError> {
        let url = format!("{}/cgi-bin/{api}", self.base);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = self.access_token().await?;
            self.pace(api).await;
            let req = match &body {
                Some(b) => self.http.post(&url).json(b),
                None => self.http.get(&url),
            };
            let sent = req
                .query(&[("access_token", token.as_str())])
                .query(query)
                .send()
                .await;
            match read::<T>(api, sent).await {
                Ok(v) => return Ok(v),
                Err(e)
                    if matches!(
                        e.errcode(),
                        Some(
                            errcode::INVALID_ACCESS_TOKEN
                                | errcode::ACCESS_TOKEN_EXPIRED
                                | errcode::INVALID_CREDENTIAL
                        )
                    ) && attempt < self.policy.attempts =>
                {
                    tracing::info!(
                        api,
                        errcode = e.errcode(),
                        "WeCom token refused; refreshing"
                    );
                    self.drop_token(&token).await;
                }
                Err(e) if attempt < self.policy.attempts && retryable(&e, idempotent) => {
                    tracing::warn!(api, attempt, error = %e, "WeCom call failed; backing off");
                    tokio::time::sleep(self.backoff(attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    // --- Customer contact (客户联系) --------------------------------------------------------

    pub async fn get_external_contact(
        &self,
        external_userid: &str,
    ) -> Result<ExternalContactDetail, ApiError> {
        self.call(
            "externalcontact/get",
            None,
            &[("external_userid", external_userid)],
            true,
        )
        .await
    }

    pub async fn list_external_contacts(&self, userid: &str) -> Result<Vec<String>, ApiError> {
        #[derive(Deserialize)]
        struct A {
            #[serde(default)]
            external_userid: Vec<String>,
        }
        let a: A = self
            .call("externalcontact/list", None, &[("userid", userid)], true)
            .await?;
        Ok(a.external_userid)
    }

    /// One page of `batch/get_by_user`.
    pub async fn batch_get_by_user(
        &self,
        userids: &[String],
        cursor: &str,
        limit: u32,
    ) -> Result<BatchContacts, ApiError> {
        self.call(
            "externalcontact/batch/get_by_user",
            Some(json!({"userid_list": userids, "cursor": cursor, "limit": limit.min(100)})),
            &[],
            true,
        )
        .await
    }

    /// Creates a "contact me" way (a channel QR code) carrying `state`.
    pub async fn add_contact_way(&self, way: &NewContactWay) -> Result<ContactWay, ApiError> {
        self.call(
            "externalcontact/add_contact_way",
            Some(json!({
                "type": if way.users.len() == 1 { 1 } else { 2 },
                "scene": 2,
                "remark": way.remark,
                "skip_verify": true,
                "state": way.state,
                "user": way.users,
            })),
            &[],
            false,
        )
        .await
    }

    pub async fn send_welcome_msg(&self, welcome_code: &str, text: &str) -> Result<(), ApiError> {
        let _: Empty = self
            .call(
                "externalcontact/send_welcome_msg",
                Some(json!({"welcome_code": welcome_code, "text": {"content": text}})),
                &[],
                false,
            )
            .await?;
        Ok(())
    }

    pub async fn get_corp_tag_list(&self) -> Result<Vec<TagGroup>, ApiError> {
        #[derive(Deserialize)]
        struct A {
            #[serde(default)]
            tag_group: Vec<TagGroup>,
        }
        let a: A = self
            .call(
                "externalcontact/get_corp_tag_list",
                Some(json!({})),
                &[],
                true,
            )
            .await?;
        Ok(a.tag_group)
    }

    pub async fn add_corp_tag(
        &self,
        group_name: &str,
        tags: &[&str],
    ) -> Result<TagGroup, ApiError> {
        #[derive(Deserialize)]
        struct A {
            tag_group: TagGroup,
        }
        let tag: Vec<_> = tags.iter().map(|t| json!({"name": t})).collect();
        let a: A = self
            .call(
                "externalcontact/add_corp_tag",
                Some(json!({"group_name": group_name, "tag": tag})),
                &[],
                false,
            )
            .await?;
        Ok(a.tag_group)
    }

    pub async fn mark_tag(
        &self,
        userid: &str,
        external_userid: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), ApiError> {
        let _: Empty = self
            .call(
                "externalcontact/mark_tag",
                Some(json!({"userid": userid, "external_userid": external_userid, "add_tag": add, "remove_tag": remove})),
                &[],
                true,
            )
            .await?;
        Ok(())
    }

    /// A group message for an associate to confirm and send (`add_msg_template`).
    pub async fn add_msg_template(
        &self,
        sender: &str,
        external_userids: &[String],
        text: &str,
    ) -> Result<MsgTemplate, ApiError> {
        self.call(
            "externalcontact/add_msg_template",
            Some(json!({"chat_type": "single", "sender": sender, "external_userid": external_userids, "text": {"content": text}})),
            &[],
            false,
        )
        .await
    }

    /// A message to the sender's customer groups (`add_msg_template` with `chat_type`
    /// `group`): WeCom asks the sender, who must own the groups, to confirm it.
    pub async fn add_msg_template_to_groups(
        &self,
        sender: &str,
        chat_ids: &[String],
        text: &str,
    ) -> Result<MsgTemplate, ApiError> {
        self.call(
            "externalcontact/add_msg_template",
            Some(json!({"chat_type": "group", "sender": sender, "chat_id_list": chat_ids, "text": {"content": text}})),
            &[],
            false,
        )
        .await
    }

    /// A group message with images (`attachments`, media ids from [`WecomApi::upload_image`]).
    pub async fn add_msg_template_with(
        &self,
        sender: &str,
        external_userids: &[String],
        text: &str,
        images: &[String],
    ) -> Result<MsgTemplate, ApiError> {
        if images.is_empty() {
            return self.add_msg_template(sender, external_userids, text).await;
        }
        let attachments = image_attachments(images);
        self.call(
            "externalcontact/add_msg_template",
            Some(
                json!({"chat_type": "single", "sender": sender, "external_userid": external_userids,
                "text": {"content": text}, "attachments": attachments}),
            ),
            &[],
            false,
        )
        .await
    }

    /// Uploads an image as temporary media (`media/upload?type=image`, kept three days by
    /// WeCom); returns its `media_id`.
    pub async fn upload_image(
        &self,
        filename: &str,
        mime: &str,
        bytes: Vec<u8>,
    ) -> Result<String, ApiError> {
        #[derive(Deserialize)]
        struct A {
            media_id: String,
        }
        let api = "media/upload";
        let url = format!("{}/cgi-bin/{api}", self.base);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = self.access_token().await?;
            self.pace(api).await;
            let part = reqwest::multipart::Part::bytes(bytes.clone())
                .file_name(filename.to_owned())
                .mime_str(mime)
                .map_err(|e| ApiError::Decode {
                    api: api.into(),
                    detail: e.to_string(),
                })?;
            let form = reqwest::multipart::Form::new().part("media", part);
            let sent = self
                .http
                .post(&url)
                .query(&[("access_token", token.as_str()), ("type", "image")])
                .multipart(form)
                .send()
                .await;
            // An upload twice is two media ids for one image: harmless, so it is retried.
            match read::<A>(api, sent).await {
                Ok(a) => return Ok(a.media_id),
                Err(e)
                    if matches!(
                        e.errcode(),
                        Some(errcode::INVALID_ACCESS_TOKEN | errcode::ACCESS_TOKEN_EXPIRED)
                    ) && attempt < self.policy.attempts =>
                {
                    self.drop_token(&token).await;
                }
                Err(e) if attempt < self.policy.attempts && retryable(&e, true) => {
                    tokio::time::sleep(self.backoff(attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub async fn get_groupmsg_send_result(
        &self,
        msgid: &str,
        userid: &str,
        cursor: &str,
    ) -> Result<SendResults, ApiError> {
        self.call(
            "externalcontact/get_groupmsg_send_result",
            Some(json!({"msgid": msgid, "userid": userid, "limit": 1000, "cursor": cursor})),
            &[],
            true,
        )
        .await
    }

    /// The corp's group messages created in a time range (at most a month), by one creator:
    /// how a send left unanswered is found again.
    pub async fn get_groupmsg_list_v2(
        &self,
        creator: &str,
        start_time: i64,
        end_time: i64,
        cursor: &str,
    ) -> Result<GroupMsgPage, ApiError> {
        self.call(
            "externalcontact/get_groupmsg_list_v2",
            Some(
                json!({"chat_type": "single", "start_time": start_time, "end_time": end_time,
                "creator": creator, "filter_type": 2, "limit": 100, "cursor": cursor}),
            ),
            &[],
            true,
        )
        .await
    }

    pub async fn add_moment_task(
        &self,
        senders: &[String],
        text: &str,
    ) -> Result<String, ApiError> {
        self.add_moment_task_with(senders, text, &[]).await
    }

    /// A Moments task with images (media ids from [`WecomApi::upload_image`]).
    pub async fn add_moment_task_with(
        &self,
        senders: &[String],
        text: &str,
        images: &[String],
    ) -> Result<String, ApiError> {
        #[derive(Deserialize)]
        struct A {
            jobid: String,
        }
        let mut body = json!({"text": {"content": text}, "visible_range": {"sender_list": {"user_list": senders}}});
        if !images.is_empty() {
            body["attachments"] = json!(image_attachments(images));
        }
        let a: A = self
            .call("externalcontact/add_moment_task", Some(body), &[], false)
            .await?;
        Ok(a.jobid)
    }

    pub async fn get_moment_task_result(&self, jobid: &str) -> Result<MomentTaskResult, ApiError> {
        self.call(
            "externalcontact/get_moment_task_result",
            None,
            &[("jobid", jobid)],
            true,
        )
        .await
    }

    /// Every item of a paged list (`next_cursor` empty on the last page): the list under
    /// `list` of each answer to `api`, asked with `body(cursor)`.
    async fn every_page(
        &self,
        api: &str,
        list: &str,
        body: impl Fn(&str) -> serde_json::Value,
    ) -> Result<Vec<serde_json::Value>, ApiError> {
        let mut out = Vec::new();
        let mut cursor = String::new();
        loop {
            let mut page: serde_json::Value =
                self.call(api, Some(body(&cursor)), &[], true).await?;
            if let Some(items) = page.get_mut(list).and_then(|l| l.as_array_mut()) {
                out.append(items);
            }
            match page["next_cursor"].as_str() {
                Some(next) if !next.is_empty() => cursor = next.to_owned(),
                _ => return Ok(out),
            }
        }
    }

    /// Which associates of a Moments task published it (`get_moment_task`, every page):
    /// (userid, published).
    pub async fn get_moment_task(&self, moment_id: &str) -> Result<Vec<(String, bool)>, ApiError> {
        let tasks = self
            .every_page(
                "externalcontact/get_moment_task",
                "task_list",
                |cursor| json!({"moment_id": moment_id, "cursor": cursor, "limit": 1000}),
            )
            .await?;
        Ok(tasks
            .iter()
            .filter_map(|t| Some((t["userid"].as_str()?.to_owned(), t["publish_status"] == 1)))
            .collect())
    }

    /// The clients who can see an associate's published post (`get_moment_send_result`,
    /// every page).
    pub async fn get_moment_send_result(
        &self,
        moment_id: &str,
        userid: &str,
    ) -> Result<Vec<String>, ApiError> {
        let customers = self
            .every_page("externalcontact/get_moment_send_result", "customer_list", |cursor| {
                json!({"moment_id": moment_id, "userid": userid, "cursor": cursor, "limit": 5000})
            })
            .await?;
        Ok(customers
            .iter()
            .filter_map(|c| c["external_userid"].as_str().map(str::to_owned))
            .collect())
    }

    /// Likes and comments on an associate's post (`get_moment_comments`).
    pub async fn get_moment_comments(
        &self,
        moment_id: &str,
        userid: &str,
    ) -> Result<MomentComments, ApiError> {
        self.call(
            "externalcontact/get_moment_comments",
            Some(json!({"moment_id": moment_id, "userid": userid})),
            &[],
            true,
        )
        .await
    }

    /// The WeChat customer-service (微信客服) accounts of the corp.
    pub async fn kf_accounts(&self) -> Result<Vec<KfAccount>, ApiError> {
        #[derive(Deserialize)]
        struct A {
            #[serde(default)]
            account_list: Vec<KfAccount>,
        }
        let a: A = self
            .call(
                "kf/account/list",
                Some(json!({"offset": 0, "limit": 100})),
                &[],
                true,
            )
            .await?;
        Ok(a.account_list)
    }

    /// Sends a text to a client through a customer-service account (`kf/send_msg`). `msgid`
    /// (at most 32 of `[0-9a-zA-Z_-]`) makes the send idempotent: WeCom delivers one message
    /// per msgid, so the call may be retried after a lost answer.
    pub async fn kf_send_text(
        &self,
        open_kfid: &str,
        touser: &str,
        msgid: &str,
        text: &str,
    ) -> Result<String, ApiError> {
        self.kf_send(open_kfid, touser, msgid, "text", json!({"content": text}))
            .await
    }

    /// An image through WeChat customer service (`kf/send_msg`, msgtype `image`).
    pub async fn kf_send_image(
        &self,
        open_kfid: &str,
        touser: &str,
        msgid: &str,
        media_id: &str,
    ) -> Result<String, ApiError> {
        self.kf_send(
            open_kfid,
            touser,
            msgid,
            "image",
            json!({"media_id": media_id}),
        )
        .await
    }

    /// `kf/send_msg` with one message of `msgtype`, its content under the type's own key.
    async fn kf_send(
        &self,
        open_kfid: &str,
        touser: &str,
        msgid: &str,
        msgtype: &str,
        content: serde_json::Value,
    ) -> Result<String, ApiError> {
        #[derive(Deserialize)]
        struct A {
            msgid: String,
        }
        let mut body =
            json!({"touser": touser, "open_kfid": open_kfid, "msgid": msgid, "msgtype": msgtype});
        body[msgtype] = content;
        let a: A = self.call("kf/send_msg", Some(body), &[], true).await?;
        Ok(a.msgid)
    }

    /// Moves clients between two serving associates (在职继承); WeCom tells each client with
    /// `handover_message` (its own default when `None`).
    pub async fn transfer_customer(
        &self,
        handover: &str,
        takeover: &str,
        external_userids: &[String],
        handover_message: Option<&str>,
    ) -> Result<Vec<TransferOutcome>, ApiError> {
        self.transfer(
            "externalcontact/transfer_customer",
            handover,
            takeover,
            external_userids,
            handover_message,
        )
        .await
    }

    /// Moves a departed associate's clients (离职继承).
    pub async fn transfer_resigned(
        &self,
        handover: &str,
        takeover: &str,
        external_userids: &[String],
    ) -> Result<Vec<TransferOutcome>, ApiError> {
        self.transfer(
            "externalcontact/resigned/transfer_customer",
            handover,
            takeover,
            external_userids,
            None,
        )
        .await
    }

    async fn transfer(
        &self,
        api: &str,
        handover: &str,
        takeover: &str,
        external_userids: &[String],
        handover_message: Option<&str>,
    ) -> Result<Vec<TransferOutcome>, ApiError> {
        #[derive(Deserialize)]
        struct A {
            #[serde(default)]
            customer: Vec<TransferOutcome>,
        }
        let mut body = json!({"handover_userid": handover, "takeover_userid": takeover, "external_userid": external_userids});
        if let Some(m) = handover_message {
            // WeCom sends it to each client in the new associate's name (at most 200 characters).
            body["transfer_success_msg"] = json!(m.chars().take(200).collect::<String>());
        }
        let a: A = self.call(api, Some(body), &[], false).await?;
        Ok(a.customer)
    }

    pub async fn transfer_result(
        &self,
        handover: &str,
        takeover: &str,
        cursor: &str,
    ) -> Result<TransferResults, ApiError> {
        self.call(
            "externalcontact/transfer_result",
            Some(
                json!({"handover_userid": handover, "takeover_userid": takeover, "cursor": cursor}),
            ),
            &[],
            true,
        )
        .await
    }

    pub async fn groupchat_list(
        &self,
        cursor: &str,
        limit: u32,
    ) -> Result<GroupChatPage, ApiError> {
        self.call(
            "externalcontact/groupchat/list",
            Some(json!({"status_filter": 0, "cursor": cursor, "limit": limit.clamp(1, 1000)})),
            &[],
            true,
        )
        .await
    }

    pub async fn groupchat_get(&self, chat_id: &str) -> Result<GroupChat, ApiError> {
        #[derive(Deserialize)]
        struct A {
            group_chat: GroupChat,
        }
        let a: A = self
            .call(
                "externalcontact/groupchat/get",
                Some(json!({"chat_id": chat_id, "need_name": 1})),
                &[],
                true,
            )
            .await?;
        Ok(a.group_chat)
    }

    // --- Contacts (通讯录) -----------------------------------------------------------------

    /// The staff of a department and its children (the root department is 1).
    pub async fn user_list(&self, department_id: u64) -> Result<Vec<Staff>, ApiError> {
        #[derive(Deserialize)]
        struct A {
            #[serde(default)]
            userlist: Vec<Staff>,
        }
        let dept = department_id.to_string();
        let a: A = self
            .call(
                "user/list",
                None,
                &[("department_id", &dept), ("fetch_child", "1")],
                true,
            )
            .await?;
        Ok(a.userlist)
    }
}

/// Images as WeCom attachments (`msgtype` image, a media id each).
fn image_attachments(media_ids: &[String]) -> Vec<serde_json::Value> {
    media_ids
        .iter()
        .map(|m| json!({"msgtype": "image", "image": {"media_id": m}}))
        .collect()
}

fn retryable(e: &ApiError, idempotent: bool) -> bool {
    match e {
        ApiError::Api { errcode, .. } => {
            matches!(
                *errcode,
                errcode::SYSTEM_BUSY | errcode::API_FREQ_OUT_OF_LIMIT
            )
        }
        ApiError::Transport { .. } => idempotent,
        ApiError::Decode { .. } => false,
    }
}

async fn read<T: DeserializeOwned>(
    api: &str,
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, ApiError> {
    let transport = |detail: String| ApiError::Transport {
        api: api.to_owned(),
        detail,
    };
    // reqwest errors can carry the URL, and the URL carries the access token: keep only the kind.
    let response = sent.map_err(|e| transport(describe(&e)))?;
    let status = response.status();
    if status.is_server_error() {
        return Err(transport(format!("HTTP {status}")));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| transport(describe(&e)))?;
    let decode = |detail: String| ApiError::Decode {
        api: api.to_owned(),
        detail,
    };
    let s: Status = serde_json::from_slice(&bytes).map_err(|e| decode(e.to_string()))?;
    if s.errcode != 0 {
        return Err(ApiError::Api {
            api: api.to_owned(),
            errcode: s.errcode,
            errmsg: s.errmsg,
        });
    }
    serde_json::from_slice(&bytes).map_err(|e| decode(e.to_string()))
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "connection failed".to_owned()
    } else if e.is_body() || e.is_decode() {
        "the answer was cut short".to_owned()
    } else {
        "the request failed".to_owned()
    }
}

#[derive(Debug, Deserialize)]
struct Empty {}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExternalContact {
    pub external_userid: String,
    #[serde(default)]
    pub name: String,
    /// 1: a WeChat user; 2: a WeCom user.
    #[serde(default, rename = "type")]
    pub kind: i64,
    #[serde(default)]
    pub gender: i64,
    #[serde(default)]
    pub unionid: Option<String>,
    #[serde(default)]
    pub avatar: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FollowUser {
    pub userid: String,
    #[serde(default)]
    pub remark: String,
    #[serde(default)]
    pub createtime: i64,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub remark_mobiles: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ExternalContactDetail {
    pub external_contact: ExternalContact,
    #[serde(default)]
    pub follow_user: Vec<FollowUser>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BatchContact {
    pub external_contact: ExternalContact,
    pub follow_info: FollowUser,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BatchContacts {
    #[serde(default)]
    pub external_contact_list: Vec<BatchContact>,
    #[serde(default)]
    pub next_cursor: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewContactWay {
    pub state: String,
    pub users: Vec<String>,
    pub remark: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct ContactWay {
    pub config_id: String,
    pub qr_code: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Tag {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TagGroup {
    pub group_id: String,
    pub group_name: String,
    #[serde(default)]
    pub tag: Vec<Tag>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MsgTemplate {
    #[serde(default)]
    pub fail_list: Vec<String>,
    pub msgid: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GroupMsgText {
    #[serde(default)]
    pub content: String,
}

/// One group message in `get_groupmsg_list_v2`.
#[derive(Debug, Clone, Deserialize)]
pub struct GroupMsg {
    pub msgid: String,
    #[serde(default)]
    pub creator: String,
    #[serde(default)]
    pub text: Option<GroupMsgText>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GroupMsgPage {
    #[serde(default)]
    pub group_msg_list: Vec<GroupMsg>,
    #[serde(default)]
    pub next_cursor: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SendResult {
    #[serde(default)]
    pub external_userid: String,
    pub userid: String,
    /// 0 not sent yet, 1 sent, 2 not a friend, 3 over the client's daily cap.
    pub status: i64,
    #[serde(default)]
    pub send_time: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SendResults {
    #[serde(default)]
    pub send_list: Vec<SendResult>,
    #[serde(default)]
    pub next_cursor: String,
}

/// A WeChat customer-service account.
#[derive(Debug, Clone, Deserialize)]
pub struct KfAccount {
    pub open_kfid: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MomentTaskResult {
    /// 1 started, 2 running, 3 done.
    pub status: i64,
    #[serde(default)]
    pub result: Option<serde_json::Value>,
}

/// Who liked and who commented on a post; a colleague appears with `userid` instead of
/// `external_userid`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MomentComments {
    #[serde(default)]
    pub comment_list: Vec<MomentInteraction>,
    #[serde(default)]
    pub like_list: Vec<MomentInteraction>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MomentInteraction {
    #[serde(default)]
    pub external_userid: Option<String>,
    #[serde(default)]
    pub userid: Option<String>,
    #[serde(default)]
    pub create_time: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TransferOutcome {
    pub external_userid: String,
    pub errcode: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TransferStatus {
    pub external_userid: String,
    /// 1 done, 2 waiting, 3 refused by the client, 4 the taker's limit, 5 none.
    pub status: i64,
    #[serde(default)]
    pub takeover_time: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TransferResults {
    #[serde(default)]
    pub customer: Vec<TransferStatus>,
    #[serde(default)]
    pub next_cursor: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GroupChatRef {
    pub chat_id: String,
    #[serde(default)]
    pub status: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GroupChatPage {
    #[serde(default)]
    pub group_chat_list: Vec<GroupChatRef>,
    #[serde(default)]
    pub next_cursor: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GroupChat {
    pub chat_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub create_time: i64,
    #[serde(default)]
    pub notice: String,
    #[serde(default)]
    pub member_list: Vec<GroupChatMember>,
}

/// A member of a customer group (`groupchat/get`).
#[derive(Debug, Clone, Deserialize)]
pub struct GroupChatMember {
    /// A staff `userid` (type 1) or an `external_userid` (type 2).
    pub userid: String,
    #[serde(rename = "type", default)]
    pub kind: i64,
    #[serde(default)]
    pub join_time: i64,
    #[serde(default)]
    pub group_nickname: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Staff {
    pub userid: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub mobile: Option<String>,
    #[serde(default)]
    pub position: Option<String>,
    /// 1 active, 2 disabled, 4 not yet activated, 5 left.
    #[serde(default)]
    pub status: i64,
}
