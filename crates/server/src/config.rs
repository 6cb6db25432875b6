//! Where the store is and how to open it: flags, then `SALON_*` environment variables, then
//! an optional TOML file, then defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use serde::Deserialize;

use app::Salon;

/// The options every command that touches the store takes.
#[derive(Args, Default, Clone)]
pub struct StoreArgs {
    /// Data directory: the SQLite database and the master key file live here.
    #[arg(long, env = "SALON_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://FILE or postgres://USER:PASS@HOST/DB (default: SQLite in the data directory).
    #[arg(long, env = "SALON_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Optional TOML configuration file.
    #[arg(long, env = "SALON_CONFIG")]
    pub config: Option<PathBuf>,
}

/// The TOML file's keys; every one optional.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub no_demo: Option<bool>,
    /// Serve the demo and its sandbox on any address (see `--demo`).
    pub demo: Option<bool>,
    pub behind_proxy: Option<bool>,
    /// How many proxies stand in front (implies `behind_proxy`).
    pub proxy_hops: Option<u8>,
    /// The asset pool's files in an S3-compatible bucket instead of the data directory.
    pub s3: Option<S3Section>,
}

/// `[s3]` in the TOML file; each key may also come from `SALON_S3_<KEY>` (which wins). The
/// secret is best given by the environment.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct S3Section {
    pub endpoint: Option<String>,
    pub bucket: Option<String>,
    pub region: Option<String>,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    /// `endpoint/bucket/key` URLs (MinIO and most self-hosted stores); default true.
    pub path_style: Option<bool>,
}

impl S3Section {
    /// The bucket to keep asset files in, if one is configured (by the file or the
    /// environment); an incomplete configuration is an error naming what is missing.
    fn resolve(file: Option<&S3Section>) -> anyhow::Result<Option<assets::S3Config>> {
        let file = file.cloned().unwrap_or_default();
        let pick = |env: &str, from_file: Option<String>| {
            std::env::var(env)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .or(from_file)
        };
        let endpoint = pick("SALON_S3_ENDPOINT", file.endpoint);
        let bucket = pick("SALON_S3_BUCKET", file.bucket);
        if endpoint.is_none() && bucket.is_none() {
            return Ok(None);
        }
        let need = |name: &str, v: Option<String>| {
            v.with_context(|| {
                format!(
                    "the S3 asset store needs {name} (SALON_S3_{})",
                    name.to_uppercase()
                )
            })
        };
        let path_style = match std::env::var("SALON_S3_PATH_STYLE").ok().as_deref() {
            Some("false" | "0" | "no") => false,
            Some(_) => true,
            None => file.path_style.unwrap_or(true),
        };
        Ok(Some(assets::S3Config {
            endpoint: need("endpoint", endpoint)?,
            bucket: need("bucket", bucket)?,
            region: pick("SALON_S3_REGION", file.region).unwrap_or_else(|| "us-east-1".into()),
            access_key: need("access_key", pick("SALON_S3_ACCESS_KEY", file.access_key))?,
            secret_key: need("secret_key", pick("SALON_S3_SECRET_KEY", file.secret_key))?,
            path_style,
        }))
    }
}

pub struct Resolved {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub file: FileConfig,
}

impl StoreArgs {
    pub fn resolve(&self) -> anyhow::Result<Resolved> {
        let file: FileConfig = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                toml::from_str(&text).with_context(|| {
                    format!("{} is not a valid Salon configuration", path.display())
                })?
            }
            None => FileConfig::default(),
        };
        let data_dir = self
            .data_dir
            .clone()
            .or(file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from("data"));
        let database_url = match self.database_url.clone().or(file.database_url.clone()) {
            Some(u) => u,
            None => format!("sqlite://{}", data_dir.join("salon.db").display()),
        };
        Ok(Resolved {
            data_dir,
            database_url,
            file,
        })
    }
}

impl Resolved {
    pub async fn open(&self) -> anyhow::Result<Salon> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("cannot create {}", self.data_dir.display()))?;
        let master = master_key(&self.data_dir)?;
        let keys = store::Keyring::new(&master).map_err(|e| anyhow::anyhow!("{e}"))?;
        let archive = archive::Archive::new(&self.data_dir.join("archive"), &master)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let connected = store::connect(&self.database_url, keys)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
        tracing::debug!(backend = ?connected.backend, "store open");
        let salon = Salon::new(connected.repo).with_archive(archive);
        let salon = match S3Section::resolve(self.file.s3.as_ref())? {
            Some(s3) => salon.with_asset_store(std::sync::Arc::new(
                assets::S3Store::new(&s3).map_err(|e| anyhow::anyhow!("{e}"))?,
            )),
            None => salon.with_asset_dir(&self.data_dir.join("assets")),
        };
        tracing::debug!(files = ?salon.asset_store(), "asset store");
        Ok(salon)
    }
}

/// The master key: `SALON_MASTER_KEY` (64 hex characters), else the key file in the data
/// directory, created on first start with mode 0600.
fn master_key(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    if let Ok(hex_key) = std::env::var("SALON_MASTER_KEY") {
        let key = hex::decode(hex_key.trim())
            .context("SALON_MASTER_KEY must be 64 hexadecimal characters")?;
        if key.len() != 32 {
            bail!("SALON_MASTER_KEY must be 64 hexadecimal characters (32 bytes)");
        }
        return Ok(key);
    }
    let path = data_dir.join("master.key");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let key =
            hex::decode(text.trim()).with_context(|| format!("{} is damaged", path.display()))?;
        if key.len() != 32 {
            bail!("{} is damaged: expected 32 bytes", path.display());
        }
        return Ok(key);
    }
    use rand::RngCore;
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    write_private(&path, hex::encode(key).as_bytes())?;
    tracing::info!(path = %path.display(), "created a new master key: back it up, the data cannot be read without it");
    Ok(key.to_vec())
}

/// The sandbox channel's secrets for this installation: `DATA_DIR/sandbox.key` (JSON, mode
/// 0600), made at random on first use. They are never constants of the binary, so a callback
/// signed for one installation's demo is refused by every other.
pub fn sandbox_secrets(data_dir: &Path) -> anyhow::Result<sim::tencent::SandboxSecrets> {
    let path = data_dir.join("sandbox.key");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let secrets: sim::tencent::SandboxSecrets = serde_json::from_str(&text)
            .ok()
            .filter(sim::tencent::SandboxSecrets::is_well_formed)
            .with_context(|| {
                format!(
                    "{} is damaged: remove it and Salon makes new sandbox secrets",
                    path.display()
                )
            })?;
        return Ok(secrets);
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let secrets = sim::tencent::SandboxSecrets::generate();
    write_private(&path, serde_json::to_string(&secrets)?.as_bytes())?;
    tracing::info!(path = %path.display(), "created this installation's sandbox secrets");
    Ok(secrets)
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_installation_has_its_own_sandbox_secrets_kept_private() {
        let base = std::env::temp_dir().join(format!("salon_sandbox_key_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (one, two) = (base.join("one"), base.join("two"));
        let a = sandbox_secrets(&one).expect("one");
        let b = sandbox_secrets(&two).expect("two");
        assert_ne!(a, b, "two fresh data directories share no secret");
        for (x, y) in [
            (&a.corp_secret, &b.corp_secret),
            (&a.token, &b.token),
            (&a.aes_key, &b.aes_key),
            (&a.oa_secret, &b.oa_secret),
            (&a.oa_token, &b.oa_token),
            (&a.oa_aes_key, &b.oa_aes_key),
        ] {
            assert_ne!(x, y);
        }
        assert_eq!(
            sandbox_secrets(&one).expect("again"),
            a,
            "kept across starts"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(one.join("sandbox.key"))
                .expect("file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // None of the values the binary once held as constants.
        let old = sim::tencent::SimConfig::sandbox_with("/sandbox", &a);
        assert_ne!(old.token, "SandboxToken2026");
        assert_ne!(old.aes_key, "c2FuZGJveC1zYWxvbi1hZXMta2V5LTMyLWJ5dGVzISE");
        std::fs::write(one.join("sandbox.key"), "{}").expect("damage");
        assert!(sandbox_secrets(&one).is_err(), "a damaged file is refused");
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn an_s3_section_is_complete_or_names_what_it_lacks() {
        // Only when the environment does not configure a bucket itself.
        if std::env::var("SALON_S3_ENDPOINT").is_ok() || std::env::var("SALON_S3_BUCKET").is_ok() {
            return;
        }
        assert!(S3Section::resolve(None).expect("none").is_none());
        let file: FileConfig = toml::from_str(
            "[s3]\nendpoint = \"http://127.0.0.1:9000\"\nbucket = \"assets\"\naccess_key = \"AK\"\n",
        )
        .expect("toml");
        let e = S3Section::resolve(file.s3.as_ref())
            .expect_err("no secret")
            .to_string();
        assert!(
            e.contains("secret_key") && e.contains("SALON_S3_SECRET_KEY"),
            "{e}"
        );
        let file: FileConfig = toml::from_str(
            "[s3]\nendpoint = \"http://127.0.0.1:9000\"\nbucket = \"assets\"\naccess_key = \"AK\"\nsecret_key = \"SK\"\n",
        )
        .expect("toml");
        let c = S3Section::resolve(file.s3.as_ref())
            .expect("complete")
            .expect("configured");
        assert_eq!((c.region.as_str(), c.path_style), ("us-east-1", true));
        assert!(
            !format!("{c:?}").contains("SK"),
            "the secret is not printed"
        );
    }
}
