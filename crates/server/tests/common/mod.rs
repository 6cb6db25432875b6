//! What several end-to-end tests share: a `salon serve` process, a throw-away PostgreSQL
//! database, a brand with its first store. Each test file uses some of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use domain::ports::Repo;
use domain::*;

/// A running `salon serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `salon serve --no-demo` on a free loopback port over `data` (and the PostgreSQL
/// database `database` when given), with `key` as its master key and `env` set; returns once
/// it prints where it listens.
pub fn start_server(
    data: &Path,
    database: Option<&str>,
    key: &[u8; 32],
    env: &[(&str, &str)],
) -> Server {
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let mut command = Command::new(env!("CARGO_BIN_EXE_salon"));
    command
        .args([
            "serve",
            "--no-demo",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data);
    if let Some(url) = database {
        command.arg("--database-url").arg(url);
    }
    let mut child = command
        .env("SALON_MASTER_KEY", hex)
        .env("SALON_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start salon");
    let out = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(out).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("salon prints where it listens")
            .expect("line");
        if let Some(rest) = line.strip_prefix("Salon is listening on ") {
            break rest.trim().to_owned();
        }
    };
    // Keep reading so that the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, url }
}

/// A fresh PostgreSQL database on the server SALON_TEST_POSTGRES_URL names, dropped with the
/// value. `None` (with a note) when the variable is unset; under CI=true that fails instead.
pub struct PgDatabase {
    admin: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create(prefix: &str) -> Option<Self> {
        use sqlx::Connection as _;
        let Ok(admin) = std::env::var("SALON_TEST_POSTGRES_URL") else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but SALON_TEST_POSTGRES_URL is not set"
            );
            eprintln!("SKIPPED: set SALON_TEST_POSTGRES_URL to run this test on PostgreSQL");
            return None;
        };
        let name = format!("{prefix}_{}", std::process::id());
        let mut server = sqlx::PgConnection::connect(&admin).await.expect("server");
        for sql in [
            format!("DROP DATABASE IF EXISTS \"{name}\""),
            format!("CREATE DATABASE \"{name}\""),
        ] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut server)
                .await
                .expect("database");
        }
        let (base, _) = admin.rsplit_once('/').expect("URL names a database");
        let url = format!("{base}/{name}");
        Some(Self { admin, name, url })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // From a fresh runtime: the test's may be shutting down.
        let _ = std::thread::spawn(move || {
            use sqlx::Connection as _;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await.ok()?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .ok()
            })
        })
        .join();
    }
}

/// A brand in Shanghai time (CNY, zh-CN, one tier "Gold") with its store SH01.
pub async fn brand_with_store(repo: &dyn Repo, slug: &str, name: &str) -> (Brand, Store) {
    let brand = repo
        .create_brand(&NewBrand {
            slug: Slug::parse("slug", slug).expect("slug"),
            name: name.into(),
            time_zone: TimeZoneName::shanghai(),
            currencies: vec![Currency::parse("c", "CNY").expect("cur")],
            locales: vec![Locale::parse("l", "zh-CN").expect("loc")],
            tiers: vec!["Gold".into()],
        })
        .await
        .expect("brand");
    let store = repo
        .create_store(
            brand.id,
            &NewStore {
                code: StoreCode::parse("code", "SH01").expect("code"),
                name: "Shanghai".into(),
                city: "Shanghai".into(),
                country: "CN".into(),
                time_zone: TimeZoneName::shanghai(),
            },
        )
        .await
        .expect("store");
    (brand, store)
}

/// Points the brand's WeCom channel at the simulator `sim` serving at `sim_url`.
pub async fn connect_wecom(
    salon: &app::Salon,
    brand: BrandId,
    sim: &sim::tencent::Simulator,
    sim_url: &str,
) {
    let cfg = sim.config().clone();
    salon
        .set_channel_settings(
            brand,
            ChannelKind::Wecom,
            &app::channels::ChannelInput {
                app_id: Some(cfg.corp_id.clone()),
                agent_id: Some(cfg.agent_id.clone()),
                secret: Some(cfg.corp_secret.clone()),
                token: Some(cfg.token.clone()),
                aes_key: Some(cfg.aes_key.clone()),
                api_base: Some(sim_url.to_owned()),
                menu: None,
            },
        )
        .await
        .expect("wecom");
}
