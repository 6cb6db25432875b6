//! The Official Account's server API (公众号 API): what Salon needs of it.

use serde::Deserialize;

use super::api::ApiError;

/// Tencent's production API for Official Accounts.
pub const DEFAULT_BASE: &str = "https://api.weixin.qq.com";

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    #[serde(default)]
    access_token: Option<String>,
}

/// Fetches an access token (`/cgi-bin/token?grant_type=client_credential`), proving the AppID
/// and AppSecret work.
pub async fn fetch_token(base: &str, app_id: &str, secret: &str) -> Result<String, ApiError> {
    let api = "token".to_owned();
    let url = format!("{}/cgi-bin/token", base.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .get(url)
        .query(&[
            ("grant_type", "client_credential"),
            ("appid", app_id),
            ("secret", secret),
        ])
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(|_| ApiError::Transport {
            api: api.clone(),
            detail: "the request failed".into(),
        })?;
    let a: Answer = response.json().await.map_err(|e| ApiError::Decode {
        api: api.clone(),
        detail: e.to_string(),
    })?;
    match (a.errcode, a.access_token) {
        (0, Some(t)) => Ok(t),
        (code, _) => Err(ApiError::Api {
            api,
            errcode: code,
            errmsg: a.errmsg,
        }),
    }
}

/// Access tokens last two hours; one is fetched again this long before it ends.
const TOKEN_MARGIN: std::time::Duration = std::time::Duration::from_secs(300);

/// The Official Account's API with its access token kept between calls.
pub struct OaApi {
    base: String,
    app_id: String,
    secret: String,
    http: reqwest::Client,
    token: tokio::sync::Mutex<Option<(String, std::time::Instant)>>,
}

impl OaApi {
    pub fn new(base: &str, app_id: &str, secret: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            app_id: app_id.to_owned(),
            secret: secret.to_owned(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            token: tokio::sync::Mutex::new(None),
        }
    }

    async fn token(&self, fresh: bool) -> Result<String, ApiError> {
        let mut held = self.token.lock().await;
        if !fresh
            && let Some((t, until)) = held.as_ref()
            && std::time::Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let t = fetch_token(&self.base, &self.app_id, &self.secret).await?;
        let until =
            std::time::Instant::now() + std::time::Duration::from_secs(7_200) - TOKEN_MARGIN;
        *held = Some((t.clone(), until));
        Ok(t)
    }

    /// A customer-service text message to a follower (`message/custom/send`). WeChat takes it
    /// within 48 hours of the follower's last message, menu click or follow, and answers 45015
    /// after that. The API has no message id: a call whose answer is lost cannot be asked
    /// about, so the caller must not repeat it blindly.
    pub async fn custom_send_text(&self, openid: &str, text: &str) -> Result<(), ApiError> {
        let api = "message/custom/send".to_owned();
        let body =
            serde_json::json!({"touser": openid, "msgtype": "text", "text": {"content": text}});
        let mut fresh = false;
        loop {
            let token = self.token(fresh).await?;
            let response = self
                .http
                .post(format!("{}/cgi-bin/message/custom/send", self.base))
                .query(&[("access_token", token.as_str())])
                .json(&body)
                .send()
                .await
                .map_err(|e| ApiError::Transport {
                    api: api.clone(),
                    detail: if e.is_timeout() {
                        "no answer in time".into()
                    } else {
                        "the request failed".into()
                    },
                })?;
            let a: Answer = response.json().await.map_err(|e| ApiError::Decode {
                api: api.clone(),
                detail: e.to_string(),
            })?;
            match a.errcode {
                0 => return Ok(()),
                // A token the server no longer takes (nothing was sent): once more, fresh.
                40001 | 40014 | 42001 if !fresh => fresh = true,
                code => {
                    return Err(ApiError::Api {
                        api,
                        errcode: code,
                        errmsg: a.errmsg,
                    });
                }
            }
        }
    }
}
