//! A local S3-compatible object store: what Salon's asset pool uses of S3, answered the way S3
//! answers it. Objects are PUT and GET at path-style URLs (`/<bucket>/<key>`) with SigV4
//! query-string authentication (presigned URLs), which is checked as S3 checks it: the
//! canonical request, the scope, the signing key, the expiry. Errors are S3's XML documents
//! (`NoSuchKey`, `NoSuchBucket`, `SignatureDoesNotMatch`, `InvalidAccessKeyId`,
//! `AccessDenied` for an expired or unsigned request).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Who may sign, and where.
#[derive(Debug, Clone)]
pub struct S3Account {
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
}

/// One request as the store saw it: (method, bucket, key, status).
pub type S3Request = (String, String, String, u16);

#[derive(Default)]
struct Store {
    buckets: BTreeMap<String, BTreeMap<String, (Vec<u8>, String)>>,
    requests: Vec<S3Request>,
}

/// The store. Cheap to clone; clones share the buckets.
#[derive(Clone)]
pub struct S3Sim {
    account: Arc<S3Account>,
    store: Arc<Mutex<Store>>,
}

impl S3Sim {
    /// A store with these (empty) buckets.
    pub fn new(account: S3Account, buckets: &[&str]) -> Self {
        let mut store = Store::default();
        for b in buckets {
            store.buckets.insert((*b).to_owned(), BTreeMap::new());
        }
        Self {
            account: Arc::new(account),
            store: Arc::new(Mutex::new(store)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/{bucket}/{*key}", any(object))
            .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
            .with_state(self.clone())
    }

    /// An object's bytes and content type.
    pub fn object(&self, bucket: &str, key: &str) -> Option<(Vec<u8>, String)> {
        self.lock().buckets.get(bucket)?.get(key).cloned()
    }

    /// The keys of a bucket, in order.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        self.lock()
            .buckets
            .get(bucket)
            .map(|b| b.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<S3Request> {
        self.lock().requests.clone()
    }
}

fn s3_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

async fn object(
    State(sim): State<S3Sim>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The path as sent: `/<bucket>/<key>`, each part percent-encoded.
    let path = uri.path().to_owned();
    let (bucket, key) = path
        .trim_start_matches('/')
        .split_once('/')
        .map(|(b, k)| (decode(b), decode(k)))
        .unwrap_or_default();
    let answer = answer(&sim, &method, &uri, &headers, &bucket, &key, body);
    sim.lock()
        .requests
        .push((method.to_string(), bucket, key, answer.status().as_u16()));
    answer
}

fn answer(
    sim: &S3Sim,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    bucket: &str,
    key: &str,
    body: Bytes,
) -> Response {
    let now = jiff::Timestamp::now();
    if let Err((status, code, message)) = verify(&sim.account, method, uri, headers, now) {
        return s3_error(status, code, message);
    }
    let mut store = sim.lock();
    let Some(objects) = store.buckets.get_mut(bucket) else {
        return s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist",
        );
    };
    match *method {
        Method::PUT => {
            let mime = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("binary/octet-stream")
                .to_owned();
            let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&body)[..16]));
            objects.insert(key.to_owned(), (body.to_vec(), mime));
            (StatusCode::OK, [(header::ETAG, etag)]).into_response()
        }
        Method::GET | Method::HEAD => match objects.get(key) {
            Some((bytes, mime)) => {
                let body = if *method == Method::HEAD {
                    Vec::new()
                } else {
                    bytes.clone()
                };
                (StatusCode::OK, [(header::CONTENT_TYPE, mime.clone())], body).into_response()
            }
            None => s3_error(
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.",
            ),
        },
        _ => s3_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        ),
    }
}

/// Why S3 refuses a request: (status, error code, message).
type Refusal = (StatusCode, &'static str, &'static str);

/// Checks a presigned request as S3 does (SigV4, query-string authentication).
fn verify(
    account: &S3Account,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    now: jiff::Timestamp,
) -> Result<(), Refusal> {
    let denied = |m: &'static str| (StatusCode::FORBIDDEN, "AccessDenied", m);
    let params: Vec<(String, String)> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let (
        Some(algorithm),
        Some(credential),
        Some(date),
        Some(expires),
        Some(signed),
        Some(signature),
    ) = (
        get("X-Amz-Algorithm"),
        get("X-Amz-Credential"),
        get("X-Amz-Date"),
        get("X-Amz-Expires"),
        get("X-Amz-SignedHeaders"),
        get("X-Amz-Signature"),
    )
    else {
        return Err(denied(
            "Query-string authentication (AWS4-HMAC-SHA256) is required.",
        ));
    };
    if algorithm != "AWS4-HMAC-SHA256" {
        return Err(denied("Only AWS4-HMAC-SHA256 is supported."));
    }
    let mut scope = credential.splitn(2, '/');
    let (access_key, scope) = (scope.next().unwrap_or(""), scope.next().unwrap_or(""));
    if access_key != account.access_key {
        return Err((
            StatusCode::FORBIDDEN,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        ));
    }
    let day = date.get(..8).unwrap_or("");
    if scope != format!("{day}/{}/s3/aws4_request", account.region) {
        return Err(denied(
            "The credential scope does not match the date or the region.",
        ));
    }
    let signed_at = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", date)
        .ok()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp());
    let expires: i64 = expires.parse().unwrap_or(-1);
    let Some(signed_at) = signed_at else {
        return Err(denied("X-Amz-Date is not a date."));
    };
    if !(1..=604_800).contains(&expires) {
        return Err(denied(
            "X-Amz-Expires must be between 1 and 604800 seconds.",
        ));
    }
    if now.as_second() > signed_at.as_second() + expires {
        return Err(denied("Request has expired"));
    }
    // The canonical request: method, path, sorted query without the signature, the signed
    // headers, and an unsigned payload.
    let mut query: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| (encode(k), encode(v)))
        .collect();
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut canonical_headers = String::new();
    for name in signed.split(';') {
        let value = headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim();
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    let canonical = format!(
        "{method}\n{}\n{query}\n{canonical_headers}\n{signed}\nUNSIGNED-PAYLOAD",
        uri.path()
    );
    if signature != sign(account, date, &canonical) {
        return Err((
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        ));
    }
    Ok(())
}

/// The SigV4 signature of a canonical request made at `date` (`YYYYMMDDTHHMMSSZ`).
fn sign(account: &S3Account, date: &str, canonical: &str) -> String {
    let day = date.get(..8).unwrap_or("");
    let scope = format!("{day}/{}/s3/aws4_request", account.region);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = format!("AWS4{}", account.secret_key).into_bytes();
    for part in [day, account.region.as_str(), "s3", "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    hex::encode(hmac(&key, to_sign.as_bytes()))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Percent-decoding of one query or path component (`+` is a plus, as S3 reads it).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// SigV4's URI encoding: everything but `A-Z a-z 0-9 - _ . ~` as `%XX`.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> S3Account {
        S3Account {
            region: "us-east-1".into(),
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        }
    }

    /// AWS's published example of a presigned GET ("Authenticating requests: using query
    /// parameters"): the store accepts exactly that signature, and no other.
    #[test]
    fn the_published_presigned_example_verifies() {
        let url = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
            &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
            &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
            &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
        let mut headers = HeaderMap::new();
        headers.insert(
            header::HOST,
            "examplebucket.s3.amazonaws.com".parse().expect("host"),
        );
        let at = |s: &str| s.parse::<jiff::Timestamp>().expect("time");
        let uri: Uri = url.parse().expect("uri");
        assert!(
            verify(
                &example(),
                &Method::GET,
                &uri,
                &headers,
                at("2013-05-24T01:00:00Z")
            )
            .is_ok()
        );
        let refused = |uri: &Uri, method: &Method, now: &str| {
            verify(&example(), method, uri, &headers, at(now))
                .err()
                .map(|r| r.0)
        };
        assert_eq!(
            refused(&uri, &Method::PUT, "2013-05-24T01:00:00Z"),
            Some(StatusCode::FORBIDDEN),
            "another method"
        );
        assert_eq!(
            refused(&uri, &Method::GET, "2013-05-25T00:00:01Z"),
            Some(StatusCode::FORBIDDEN),
            "expired"
        );
        let other: Uri = url.replace("/test.txt", "/other.txt").parse().expect("uri");
        assert_eq!(
            refused(&other, &Method::GET, "2013-05-24T01:00:00Z"),
            Some(StatusCode::FORBIDDEN),
            "another key"
        );
        let unsigned: Uri = "/test.txt".parse().expect("uri");
        assert_eq!(
            refused(&unsigned, &Method::GET, "2013-05-24T01:00:00Z"),
            Some(StatusCode::FORBIDDEN)
        );
    }
}
