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
