//! Two Salon servers on one PostgreSQL database, as behind a load balancer: callbacks land on
//! either, and every worker must still be right.
//!
//! - The callback inbox is processed by one process at a time, in order: every callback once,
//!   none failed, each new contact greeted once.
//! - Each process's search index finds every message, whichever process stored it.
//! - A monitoring rule, a departure made on one server hold on the other within about a second
//!   (cached rules and API-token actors are dropped when another process changes them).
//! - The live Luxury Index of each process counts events imported through the other.
//!
//! The broadcast engine with several processes is `broadcast_crash.rs`. Runs where
//! SALON_TEST_POSTGRES_URL names a server (always in CI).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::Salon;
use common::{PgDatabase, brand_with_store, start_server};
use domain::*;
use serde_json::{Value, json};
use sim::tencent::{SimConfig, Simulator};

const KEY: [u8; 32] = [0x3c; 32];
const SLUG: &str = "multi";
const CLIENTS: usize = 60;
const MESSAGES: usize = 240;
const CONTACTS: usize = 30;

struct Setup {
    hq: String,
    compliance: String,
    associate: String,
    associate_id: i64,
}

async fn setup(salon: &Salon, sim: &Simulator, sim_url: &str) -> Setup {
    let r = &salon.repo;
    let (brand, shop) = brand_with_store(r.as_ref(), SLUG, "Maison Multi").await;
    common::connect_wecom(salon, brand.id, sim, sim_url).await;
    let sa = r
        .create_user(
            brand.id,
            &NewUser {
                email: Email::parse("e", "sa@multi.test").expect("email"),
                display_name: "Associate".into(),
                role: Role::Associate,
                store_id: Some(shop.id),
                password_hash: None,
            },
        )
        .await
        .expect("sa");
    r.link_staff(brand.id, sa.id, "wecom", "sa0")
        .await
        .expect("link");
    sim.add_staff("sa0", "Associate", None);
    sim.restore_way("way1", "multi-way", &["sa0".to_owned()]);
    let mut batch = Vec::new();
    for i in 0..CLIENTS {
        let external = format!("wmMulti{i:04}");
        batch.push(NewClient {
            pii: Pii {
                first_name: Some(format!("Client{i}")),
                ..Pii::default()
            },
            store_id: Some(shop.id),
            associate_id: Some(sa.id),
            identities: vec![
                Identity::parse(IdentityKind::Wecom, &external).expect("id"),
                Identity::parse(IdentityKind::Crm, &format!("M{i}")).expect("crm"),
            ],
            ..NewClient::default()
        });
        sim.restore_contact(&external, &format!("Client{i}"), Some("sa0"), None);
    }
    r.import_clients(brand.id, &batch, None)
        .await
        .expect("clients");
    let token = |role, email: Option<&'static str>| async move {
        salon
            .create_token(SLUG, role, email, None, "several processes")
            .await
            .expect("token")
    };
    Setup {
        hq: token(Role::Hq, None).await,
        compliance: token(Role::Compliance, None).await,
        associate: token(Role::Associate, Some("sa@multi.test")).await,
        associate_id: sa.id.0,
    }
}

async fn call(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http
        .request(method, format!("{base}/api/v1{path}"))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("api answers");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Polls `check` until it holds; returns how long it took, or panics after `limit`.
async fn within<F, Fut>(what: &str, limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgresql_share_the_inbox_the_index_the_rules_and_the_staff() {
    let Some(db) = PgDatabase::create("salon_multi").await else {
        return;
    };
    run(&db.url).await;
}

async fn run(url: &str) {
    let data = std::env::temp_dir().join(format!("salon_multi_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let dirs: Vec<_> = (0..2)
        .map(|k| {
            let d = data.join(format!("process{k}"));
            std::fs::create_dir_all(&d).expect("data dir");
            d
        })
        .collect();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let sim_url = format!("http://{}", listener.local_addr().expect("addr"));
    let mut cfg = SimConfig::sandbox(&sim_url);
    cfg.per_api_per_minute = 100_000;
    let sim = Simulator::new(cfg).expect("sim");
    let router = sim.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let keys = store::Keyring::new(&KEY).expect("key");
    let repo: Arc<dyn domain::ports::Repo> =
        Arc::new(store::PgRepo::connect(url, keys).await.expect("db"));
    let local = Salon::new(repo.clone());
    let s = setup(&local, &sim, &sim_url).await;
    let servers = [
        start_server(&dirs[0], Some(url), &KEY, &[]),
        start_server(&dirs[1], Some(url), &KEY, &[]),
    ];
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http");
    let callback = |k: usize| format!("{}/channels/wecom/{SLUG}/callback", servers[k].url);

    // 1. The inbox: callbacks alternate between the two servers, both processors running.
    let mut contacts = Vec::new();
    for i in 0..MESSAGES {
        let k = i % 2;
        sim.set_targets(&callback(k), &callback(k));
        sim.client_says(&format!("wmMulti{:04}", i % CLIENTS), &format!("amber {i}"))
            .await
            .expect("message acknowledged");
        if i % (MESSAGES / CONTACTS) == 0 {
            contacts.push(
                sim.client_scans("way1", &format!("New{i}"), None)
                    .await
                    .expect("contact acknowledged"),
            );
        }
    }
    let db = sqlx::PgPool::connect(url).await.expect("db");
    within(
        "every callback processed",
        Duration::from_secs(60),
        || async {
            let (pending,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM channel_inbox WHERE processed_at IS NULL")
                    .fetch_one(&db)
                    .await
                    .expect("inbox");
            pending == 0
        },
    )
    .await;
    let (received, retried): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN attempts <> 1 THEN 1 ELSE 0 END), 0) FROM channel_inbox",
    )
    .fetch_one(&db)
    .await
    .expect("inbox");
    assert_eq!(received as usize, MESSAGES + contacts.len());
    assert_eq!(
        retried, 0,
        "each callback processed once (closed after one attempt)"
    );
    let (stored,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages WHERE direction = 'in'")
        .fetch_one(&db)
        .await
        .expect("messages");
    assert_eq!(stored as usize, MESSAGES, "each message stored once");
    let welcomes = sim
        .log()
        .into_iter()
        .filter(|e| e.api.contains("send_welcome_msg"))
        .count();
    assert_eq!(welcomes, contacts.len(), "each new contact greeted once");

    // One process at a time holds the inbox: two in-process Salons on the same database.
    let other = Salon::new(repo.clone());
    let _ = local.release_lease(app::processes::INBOX_LEASE).await;
    let mut held = 0;
    for _ in 0..50 {
        let owner = local
            .take_lease(app::processes::INBOX_LEASE)
            .await
            .expect("lease");
        let rival = other
            .take_lease(app::processes::INBOX_LEASE)
            .await
            .expect("lease");
        assert!(owner, "the holder renews its lease");
        assert!(!rival, "nobody else takes a lease that has not run out");
        held += 1;
    }
    local
        .release_lease(app::processes::INBOX_LEASE)
        .await
        .expect("release");
    assert!(
        other
            .take_lease(app::processes::INBOX_LEASE)
            .await
            .expect("lease")
    );
    other
        .release_lease(app::processes::INBOX_LEASE)
        .await
        .expect("release");
    assert_eq!(held, 50);

    // 2. Each process's search index has every message, whichever process stored it.
    for srv in &servers {
        within(
            "the index has every message",
            Duration::from_secs(30),
            || async {
                let (status, v) = call(
                    &http,
                    &srv.url,
                    &s.compliance,
                    reqwest::Method::GET,
                    "/archive/search?q=amber&limit=500",
                    None,
                )
                .await;
                status == 200 && v["items"].as_array().map_or(0, Vec::len) == MESSAGES
            },
        )
        .await;
    }

    // 3. A rule created on one server holds on the other within about a second.
    let check = |k: usize| {
        let http = http.clone();
        let base = servers[k].url.clone();
        let token = s.compliance.clone();
        async move {
            let (status, v) = call(
                &http,
                &base,
                &token,
                reqwest::Method::POST,
                "/compliance/check",
                Some(json!({"text": "my zebracode is here"})),
            )
            .await;
            assert_eq!(status, 200, "{v}");
            v["action"].as_str().map(str::to_owned)
        }
    };
    assert_eq!(
        check(1).await,
        None,
        "no rule yet (and now cached on server 1)"
    );
    let (status, v) = call(
        &http,
        &servers[0].url,
        &s.compliance,
        reqwest::Method::POST,
        "/compliance/rules",
        Some(json!({"name": "Zebra", "category": "other", "severity": "high", "action": "block", "words": "zebracode"})),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let took = within(
        "the rule on the other server",
        Duration::from_secs(3),
        || async { check(1).await.as_deref() == Some("block") },
    )
    .await;
    eprintln!("a rule made on one server held on the other after {took:?}");

    // 4. A departure on one server stops the associate's token on the other within a second
    //    or so (API-token actors are cached for up to five seconds otherwise).
    let me = |k: usize| {
        let http = http.clone();
        let base = servers[k].url.clone();
        let token = s.associate.clone();
        async move {
            call(&http, &base, &token, reqwest::Method::GET, "/me", None)
                .await
                .0
        }
    };
    assert_eq!(
        me(1).await,
        200,
        "the associate's token works (and is cached)"
    );
    let (status, v) = call(
        &http,
        &servers[0].url,
        &s.hq,
        reqwest::Method::POST,
        &format!("/associates/{}/depart", s.associate_id),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let took = within(
        "the departure on the other server",
        Duration::from_millis(2_500),
        || async { me(1).await == 401 },
    )
    .await;
    eprintln!("a departure made on one server held on the other after {took:?}");

    // 5. Events imported through one server count in the other's live Index.
    let day = jiff::Timestamp::now().as_millisecond();
    let lines: String = (0..20)
        .map(|i| {
            let ts = jiff::Timestamp::from_millisecond(day - i * 60_000).expect("ts");
            format!("{{\"ts\":\"{ts}\",\"kind\":\"follow\",\"follower\":\"f{i}\",\"source\":\"qr_code\"}}\n")
        })
        .collect();
    let report = |k: usize| {
        let http = http.clone();
        let base = servers[k].url.clone();
        let token = s.hq.clone();
        async move {
            let today = jiff::Zoned::now().date();
            let (status, v) = call(
                &http,
                &base,
                &token,
                reqwest::Method::GET,
                &format!(
                    "/analytics/report?from={}&to={}",
                    today.checked_sub(jiff::Span::new().days(2)).expect("day"),
                    today.checked_add(jiff::Span::new().days(2)).expect("day")
                ),
                None,
            )
            .await;
            assert_eq!(status, 200, "{v}");
            v
        }
    };
    let before = report(1).await;
    let res = http
        .post(format!("{}/api/v1/events/import", servers[0].url))
        .bearer_auth(&s.hq)
        .header("content-type", "application/x-ndjson")
        .body(lines)
        .send()
        .await
        .expect("import");
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(before["acquisition"]["new_follows"], 0, "{before}");
    let after = report(1).await;
    assert_eq!(
        after["acquisition"]["new_follows"], 20,
        "server 1's live Index counts what server 0 stored"
    );
    drop(servers);
    let _ = std::fs::remove_dir_all(&data);
}
