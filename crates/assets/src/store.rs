//! Where the asset files live: a directory under the data directory (the default), or a bucket
//! of an S3-compatible object store (AWS S3, MinIO, Ceph, Cloudflare R2, Alibaba OSS in S3
//! mode). Keys are `brand-<id>/<sha256>.<ext>`: content-addressed, so storing a key again is
//! harmless and nothing is ever overwritten with other bytes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use crate::AssetFileError;

/// A store of files by key.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores `bytes` under `key`.
    async fn put(&self, key: &str, bytes: Vec<u8>, mime: &str) -> Result<(), AssetFileError>;
    /// The bytes under `key`; [`AssetFileError::Missing`] when there are none.
    async fn get(&self, key: &str) -> Result<Vec<u8>, AssetFileError>;
    /// Where the files are, for the server's start-up line (never a secret).
    fn describe(&self) -> String;
}

/// Files under a directory, each written aside and then renamed, so that a crash never
/// leaves half a file under its name.
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }
}

#[async_trait]
impl BlobStore for DirStore {
    async fn put(&self, key: &str, bytes: Vec<u8>, _mime: &str) -> Result<(), AssetFileError> {
        let path = self.root.join(key);
        tokio::task::spawn_blocking(move || -> Result<(), AssetFileError> {
            if path.exists() {
                return Ok(());
            }
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut tmp = path.clone().into_os_string();
            tmp.push(".tmp");
            std::fs::write(&tmp, &bytes)?;
            std::fs::rename(&tmp, &path)?;
            Ok(())
        })
        .await
        .map_err(|e| AssetFileError::Store(e.to_string()))?
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, AssetFileError> {
        match tokio::fs::read(self.root.join(key)).await {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(AssetFileError::Missing),
            Err(e) => Err(e.into()),
        }
    }

    fn describe(&self) -> String {
        format!("the directory {}", self.root.display())
    }
}

/// How to reach an S3-compatible bucket.
#[derive(Clone)]
pub struct S3Config {
    /// `https://s3.eu-west-1.amazonaws.com`, `http://127.0.0.1:9000`, …
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    /// `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key` (MinIO and most
    /// self-hosted stores want this).
    pub path_style: bool,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret never reaches a log.
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("path_style", &self.path_style)
            .finish_non_exhaustive()
    }
}

/// Files in an S3-compatible bucket, reached with SigV4-presigned requests (`rusty-s3`).
pub struct S3Store {
    bucket: Bucket,
    credentials: Credentials,
    http: reqwest::Client,
    endpoint: String,
}

/// How long a signed request stays valid: enough for a slow upload, short for a leaked URL.
const SIGNED_FOR: Duration = Duration::from_secs(300);

impl S3Store {
    pub fn new(config: &S3Config) -> Result<Self, AssetFileError> {
        let bad = |what: &str, e: String| AssetFileError::Store(format!("{what}: {e}"));
        let endpoint = reqwest::Url::parse(&config.endpoint)
            .map_err(|e| bad("the S3 endpoint is not a URL", e.to_string()))?;
        if config.bucket.is_empty() || config.access_key.is_empty() || config.secret_key.is_empty()
        {
            return Err(AssetFileError::Store(
                "an S3 store needs a bucket, an access key and a secret key".into(),
            ));
        }
        let style = if config.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(
            endpoint,
            style,
            config.bucket.clone(),
            config.region.clone(),
        )
        .map_err(|e| bad("the S3 bucket", e.to_string()))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| bad("the HTTP client", e.to_string()))?;
        Ok(Self {
            bucket,
            credentials: Credentials::new(config.access_key.clone(), config.secret_key.clone()),
            http,
            endpoint: config.endpoint.clone(),
        })
    }

    /// The S3 error code of an answer (`<Code>…</Code>`), for the message.
    fn refusal(status: reqwest::StatusCode, body: &str) -> AssetFileError {
        let code = body
            .split_once("<Code>")
            .and_then(|(_, rest)| rest.split_once("</Code>"))
            .map_or("", |(code, _)| code);
        AssetFileError::Store(format!("the object store answered {status} {code}"))
    }
}

#[async_trait]
impl BlobStore for S3Store {
    async fn put(&self, key: &str, bytes: Vec<u8>, mime: &str) -> Result<(), AssetFileError> {
        let url = self
            .bucket
            .put_object(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        let res = self
            .http
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, mime)
            .body(bytes)
            .send()
            .await
            .map_err(|e| {
                AssetFileError::Store(format!("the object store cannot be reached: {e}"))
            })?;
        let status = res.status();
        if status.is_success() {
            return Ok(());
        }
        let body = res.text().await.unwrap_or_default();
        Err(Self::refusal(status, &body))
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, AssetFileError> {
        let url = self
            .bucket
            .get_object(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        let res = self.http.get(url).send().await.map_err(|e| {
            AssetFileError::Store(format!("the object store cannot be reached: {e}"))
        })?;
        let status = res.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(AssetFileError::Missing);
        }
        if !status.is_success() {
            let body = res.text().await.unwrap_or_default();
            return Err(Self::refusal(status, &body));
        }
        Ok(res
            .bytes()
            .await
            .map_err(|e| {
                AssetFileError::Store(format!("the object store's answer broke off: {e}"))
            })?
            .to_vec())
    }

    fn describe(&self) -> String {
        format!("the S3 bucket {} at {}", self.bucket.name(), self.endpoint)
    }
}
