//! The provider callback endpoints: `GET|POST /channels/wecom/{brand}/callback` and
//! `GET|POST /channels/wechat-oa/{brand}/callback`.
//!
//! GET is Tencent's URL verification: check the signature, decrypt `echostr`, answer its
//! plaintext and nothing else (the OA's verification answers `echostr` as sent). POST verifies,
//! decrypts and parses the callback, stores it durably in the inbox (a retried callback is
//! recognised and not stored again), answers at once, and leaves the processing to the
//! channel processor. A refused callback gets a clear status, a log line without content, and
//! nothing is stored.
//!
//! What is accepted is the mode the brand configured: WeCom, and an Official Account with an
//! EncodingAESKey, only in safe mode (`msg_signature` over the ciphertext); an Official Account
//! without one only in plain mode. Every signed request must carry a timestamp within
//! [`FRESHNESS_WINDOW_S`] of the server's clock, and a callback's signature is good for that
//! callback only (Tencent's retries resend it unchanged): the same query string with another
//! body is refused, in every process (see `domain::ReplayGuard`).

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use channels::wecom::CryptoError;
use channels::wecom::callback::{Callback, Event};
#[cfg(doc)]
use channels::wecom::crypto::FRESHNESS_WINDOW_S;
use channels::wecom::xml::{Envelope, MAX_BODY};
use domain::ChannelKind;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/channels/{channel}/{brand}/callback",
            get(verify_url).post(receive),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .route(
            "/channels/wecom/{brand}/archive",
            axum::routing::post(receive_archive).layer(DefaultBodyLimit::max(ARCHIVE_BODY)),
        )
}

/// The largest archive batch taken: `GetChatData` gives at most 1,000 messages a call.
const ARCHIVE_BODY: usize = 32 * 1024 * 1024;

/// `POST /channels/wecom/{brand}/archive`: a batch of the chat archive from the brand's
/// archive reader (see `channels::wecom::archive`), signed and encrypted like a callback with
/// the WeCom app's token and EncodingAESKey, in a JSON envelope `{"encrypt": "…"}`. The answer, after everything is stored and
/// checked, is JSON: what was stored and the sequence number to continue after (an empty
/// batch just asks for it). A batch refused gets 4xx naming why, and nothing of it is stored.
async fn receive_archive(
    State(state): State<AppState>,
    Path(brand): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let channel = "wecom";
    let (b, _, ep) = match endpoint(&state, channel, &brand).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let (Some(sig), Some(timestamp), Some(nonce)) = (
        param(&q, "msg_signature"),
        param(&q, "timestamp"),
        param(&q, "nonce"),
    ) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            &brand,
            channel,
            "msg_signature, timestamp and nonce are required",
        );
    };
    let Ok(body) = std::str::from_utf8(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            &brand,
            channel,
            "the body is not UTF-8",
        );
    };
    #[derive(serde::Deserialize)]
    struct Sealed {
        encrypt: String,
    }
    let sealed: Sealed = match serde_json::from_str(body) {
        Ok(e) => e,
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &brand,
                channel,
                "the body must be {\"encrypt\": \"…\"}",
            );
        }
    };
    let Some(crypt) = &ep.crypt else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            &brand,
            channel,
            "the channel has no EncodingAESKey",
        );
    };
    if let Err(e) = state.salon.fresh_callback(&sig, &timestamp) {
        return refuse(crypto_status(&e), &brand, channel, &e.to_string());
    }
    let plain = match crypt.open(&sig, &timestamp, &nonce, &sealed.encrypt) {
        Ok(p) => p,
        Err(e) => return refuse(crypto_status(&e), &brand, channel, &e.to_string()),
    };
    let Ok(plain) = String::from_utf8(plain) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            &brand,
            channel,
            "the batch is not UTF-8",
        );
    };
    let batch = match channels::wecom::archive::ArchiveBatch::parse(&plain) {
        Ok(b) => b,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, &brand, channel, &e.to_string()),
    };
    match state.salon.ingest_archive(b.id, &batch).await {
        Ok(receipt) => axum::Json(receipt).into_response(),
        Err(e) => {
            tracing::error!(brand, error = %e, "archive batch not stored");
            // Not acknowledged: the reader sends the batch again, and nothing is lost.
            (StatusCode::SERVICE_UNAVAILABLE, "not stored; retry\n").into_response()
        }
    }
}

fn refuse(status: StatusCode, brand: &str, channel: &str, why: &str) -> Response {
    // The brand and the reason only: never the body, the signature or an id of a person.
    tracing::warn!(
        brand,
        channel,
        status = status.as_u16(),
        reason = why,
        "callback refused"
    );
    (status, format!("{why}\n")).into_response()
}

fn crypto_status(e: &CryptoError) -> StatusCode {
    match e {
        CryptoError::BadSignature | CryptoError::Stale => StatusCode::UNAUTHORIZED,
        CryptoError::WrongReceiveId => StatusCode::FORBIDDEN,
        CryptoError::BadAesKey => StatusCode::INTERNAL_SERVER_ERROR,
        CryptoError::BadCiphertext | CryptoError::BadPlaintext => StatusCode::BAD_REQUEST,
    }
}

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// Query values as Tencent sends them. `echostr` and the signatures are base64 or hex, which
/// never contain a space: a `+` that a form decoder turned into one is put back.
fn param(q: &HashMap<String, String>, name: &str) -> Option<String> {
    q.get(name).map(|v| v.replace(' ', "+"))
}

async fn endpoint(
    state: &AppState,
    channel: &str,
    brand: &str,
) -> Result<
    (
        domain::Brand,
        ChannelKind,
        std::sync::Arc<app::channels::Endpoint>,
    ),
    Response,
> {
    let Some(kind) = ChannelKind::parse(channel) else {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            brand,
            channel,
            "no such channel",
        ));
    };
    let b = match state.salon.brand_by_slug(brand).await {
        Ok(b) => b,
        Err(_) => {
            return Err(refuse(
                StatusCode::NOT_FOUND,
                brand,
                channel,
                "no such brand",
            ));
        }
    };
    match state.salon.endpoint(&b, kind).await {
        Ok(e) => Ok((b, kind, e)),
        Err(app::AppError::NotFound(_)) => Err(refuse(
            StatusCode::NOT_FOUND,
            brand,
            channel,
            "this channel is not configured for the brand",
        )),
        Err(e) => {
            tracing::error!(brand, channel, error = %e, "channel settings unreadable");
            Err((StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response())
        }
    }
}

async fn verify_url(
    State(state): State<AppState>,
    Path((channel, brand)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (_, kind, ep) = match endpoint(&state, &channel, &brand).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let (Some(timestamp), Some(nonce), Some(echostr)) = (
        param(&q, "timestamp"),
        param(&q, "nonce"),
        param(&q, "echostr"),
    ) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            &brand,
            &channel,
            "timestamp, nonce and echostr are required",
        );
    };
    let checked = if let Some(sig) = param(&q, "msg_signature") {
        // WeCom's verification: the answer is the decrypted `echostr`.
        let Some(crypt) = &ep.crypt else {
            return refuse(
                StatusCode::UNAUTHORIZED,
                &brand,
                &channel,
                "this Official Account is in plain mode: msg_signature is not accepted",
            );
        };
        crypt
            .verify_url(&sig, &timestamp, &nonce, &echostr)
            .and_then(|plain| state.salon.fresh_callback(&sig, &timestamp).map(|_| plain))
    } else if let (Some(sig), ChannelKind::WechatOa) = (param(&q, "signature"), kind) {
        // The Official Account's verification, in either mode: echo `echostr` itself.
        ep.verify_plain(&sig, &timestamp, &nonce)
            .and_then(|()| state.salon.fresh_callback(&sig, &timestamp))
            .map(|_| q.get("echostr").cloned().unwrap_or_default())
    } else {
        return refuse(
            StatusCode::BAD_REQUEST,
            &brand,
            &channel,
            "msg_signature (or the Official Account's signature) is required",
        );
    };
    match checked {
        Ok(plain) => text(plain),
        Err(e) => refuse(crypto_status(&e), &brand, &channel, &e.to_string()),
    }
}

async fn receive(
    State(state): State<AppState>,
    Path((channel, brand)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let (b, kind, ep) = match endpoint(&state, &channel, &brand).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let Ok(body) = std::str::from_utf8(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            &brand,
            &channel,
            "the body is not UTF-8",
        );
    };
    let (Some(timestamp), Some(nonce)) = (param(&q, "timestamp"), param(&q, "nonce")) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            &brand,
            &channel,
            "timestamp and nonce are required",
        );
    };
    let json = body.trim_start().starts_with('{');
    // Only the mode the brand configured: safe mode when it has an EncodingAESKey (WeCom
    // always does), the Official Account's plain mode when it has none.
    let (plain, sig) = match (
        &ep.crypt,
        param(&q, "msg_signature"),
        param(&q, "signature"),
    ) {
        (Some(crypt), Some(sig), _) => {
            let envelope = match Envelope::parse(body) {
                Ok(e) => e,
                Err(e) => return refuse(StatusCode::BAD_REQUEST, &brand, &channel, &e.to_string()),
            };
            match crypt.open(&sig, &timestamp, &nonce, &envelope.encrypt) {
                Ok(p) => match String::from_utf8(p) {
                    Ok(s) => (s, sig),
                    Err(_) => {
                        return refuse(
                            StatusCode::BAD_REQUEST,
                            &brand,
                            &channel,
                            "the message is not UTF-8",
                        );
                    }
                },
                Err(e) => return refuse(crypto_status(&e), &brand, &channel, &e.to_string()),
            }
        }
        (Some(_), None, _) => {
            return refuse(
                if kind == ChannelKind::WechatOa {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::BAD_REQUEST
                },
                &brand,
                &channel,
                "msg_signature is required: the channel is in safe mode (it has an EncodingAESKey)",
            );
        }
        (None, _, Some(sig)) if kind == ChannelKind::WechatOa => {
            // The OA's plain mode: the signature covers no body, so the freshness window and
            // the one-callback-per-signature rule below are all that stand against a replay.
            if let Err(e) = ep.verify_plain(&sig, &timestamp, &nonce) {
                return refuse(crypto_status(&e), &brand, &channel, &e.to_string());
            }
            (body.to_owned(), sig)
        }
        (None, _, _) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                &brand,
                &channel,
                "the Official Account is in plain mode: its signature is required",
            );
        }
    };
    let encrypted = ep.crypt.is_some();
    let callback = match Callback::parse(&plain) {
        Ok(c) => c,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, &brand, &channel, &e.to_string()),
    };
    let guard = match state.salon.fresh_callback(&sig, &timestamp) {
        Ok(g) => g,
        Err(e) => return refuse(crypto_status(&e), &brand, &channel, &e.to_string()),
    };
    match state
        .salon
        .ingest(b.id, kind, &callback, plain, Some(guard))
        .await
    {
        Ok(Ok(receipt)) => {
            tracing::debug!(
                brand,
                channel,
                inbox = receipt.id,
                fresh = receipt.fresh,
                "callback stored"
            );
            let reply = Reply {
                timestamp: &timestamp,
                nonce: &nonce,
                json,
                encrypted,
            };
            passive_reply(&b, kind, &callback, &ep, &reply)
        }
        Ok(Err(replayed)) => refuse(
            StatusCode::UNAUTHORIZED,
            &brand,
            &channel,
            &replayed.to_string(),
        ),
        Err(e) => {
            tracing::error!(brand, channel, error = %e, "callback not stored");
            // Not acknowledged: Tencent retries, and nothing is lost.
            (StatusCode::SERVICE_UNAVAILABLE, "not stored; retry\n").into_response()
        }
    }
}

/// The answer to a stored callback: empty (Tencent's "no reply"), or for a new OA follower a
/// passive reply thanking them, encrypted in the envelope the callback came in (plain in the
/// OA's plain mode).
struct Reply<'a> {
    timestamp: &'a str,
    nonce: &'a str,
    json: bool,
    encrypted: bool,
}

fn passive_reply(
    brand: &domain::Brand,
    kind: ChannelKind,
    callback: &Callback,
    ep: &app::channels::Endpoint,
    how: &Reply<'_>,
) -> Response {
    let Event::Subscribed { open_id, .. } = &callback.event else {
        return text(String::new());
    };
    // A retry means Tencent did not get the first answer: it gets the reply again (Tencent
    // delivers one reply per message; the follow itself is stored once).
    if kind != ChannelKind::WechatOa {
        return text(String::new());
    }
    let now = jiff::Timestamp::now().as_second();
    // Every value is escaped: the openid and the account come from the callback.
    let reply = channels::wecom::xml::text_reply(
        open_id,
        &callback.to_user_name,
        now,
        &format!("Thank you for following {}.", brand.name),
    );
    match (&ep.crypt, how.encrypted, how.json) {
        (Some(crypt), true, true) => (
            [(header::CONTENT_TYPE, "application/json")],
            crypt.reply_json(&reply, how.timestamp, how.nonce),
        )
            .into_response(),
        (Some(crypt), true, false) => (
            [(header::CONTENT_TYPE, "application/xml")],
            crypt.reply_xml(&reply, how.timestamp, how.nonce),
        )
            .into_response(),
        _ => ([(header::CONTENT_TYPE, "application/xml")], reply).into_response(),
    }
}
