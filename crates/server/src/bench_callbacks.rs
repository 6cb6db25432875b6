//! `salon bench --callbacks`: provider callback ingest over real HTTP on loopback — signature
//! check, decryption, parsing, the durable inbox write (group commit), the answer — with the
//! channel processor running alongside as in production. Two runs: as fast as `concurrency`
//! connections go, and paced at a fixed rate (open loop: each callback leaves at its time,
//! whether or not earlier ones were answered). A `/healthz` run on the same connections is the
//! baseline, so that the figures read as ratios on a shared, noisy machine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use channels::samples::{WECOM_AES_KEY, WECOM_CORP_ID, WECOM_TOKEN};
use channels::wecom::MsgCrypt;

type Http = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// One prepared request: path with query, body.
struct Prepared {
    uri: String,
    body: Bytes,
}

fn prepare(base: &str, n: usize, salt: u32) -> anyhow::Result<Vec<Prepared>> {
    let crypt = MsgCrypt::new(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID)?;
    let now = jiff::Timestamp::now().as_second();
    (0..n)
        .map(|i| {
            let xml = format!(
                "<xml><ToUserName><![CDATA[{WECOM_CORP_ID}]]></ToUserName><FromUserName><![CDATA[wmBench{:06}]]></FromUserName>\
                 <CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[您好，请问新款到店了吗？ Is the new bag in store? {i}]]></Content>\
                 <MsgId>{salt}{i:09}</MsgId><AgentID>1000002</AgentID></xml>",
                i % 5000
            );
            let encrypted = crypt.encrypt(xml.as_bytes());
            let nonce = format!("{}", 100_000 + i);
            let ts = now.to_string();
            let sig = crypt.sign(&ts, &nonce, &encrypted);
            Ok(Prepared {
                uri: format!("{base}/channels/wecom/bench/callback?msg_signature={sig}&timestamp={ts}&nonce={nonce}"),
                body: Bytes::from(format!(
                    "<xml><ToUserName><![CDATA[{WECOM_CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>"
                )),
            })
        })
        .collect()
}

async fn send(client: &Http, p: Option<&Prepared>, health: &str) -> anyhow::Result<Duration> {
    let req = match p {
        Some(p) => axum::http::Request::post(&p.uri)
            .header("content-type", "text/xml")
            .body(Full::new(p.body.clone()))?,
        None => axum::http::Request::get(health).body(Full::new(Bytes::new()))?,
    };
    let t = Instant::now();
    let res = client.request(req).await?;
    let status = res.status();
    res.into_body().collect().await?;
    if !status.is_success() {
        anyhow::bail!("status {status}");
    }
    Ok(t.elapsed())
}

struct Figures {
    rate: f64,
    p50: f64,
    p99: f64,
    max: f64,
}

fn figures(mut lat: Vec<Duration>, wall: f64) -> Figures {
    lat.sort();
    let q = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p).round() as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Figures {
        rate: lat.len() as f64 / wall,
        p50: q(0.5),
        p99: q(0.99),
        max: q(1.0),
    }
}

/// Closed loop: `concurrency` workers, each sending its share back to back.
async fn flat_out(
    client: &Http,
    work: Arc<Vec<Prepared>>,
    concurrency: usize,
    health: Option<String>,
) -> anyhow::Result<Figures> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    let n = work.len();
    for w in 0..concurrency {
        let (client, work, health) = (client.clone(), work.clone(), health.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = w;
            while i < n {
                let d = match &health {
                    Some(h) => send(&client, None, h).await?,
                    None => send(&client, work.get(i), "").await?,
                };
                lat.push(d);
                i += concurrency;
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await.context("worker")??);
    }
    Ok(figures(all, started.elapsed().as_secs_f64()))
}

/// Open loop: callback i leaves at `i / rate` seconds.
async fn paced(client: &Http, work: Arc<Vec<Prepared>>, rate: f64) -> anyhow::Result<Figures> {
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(work.len());
    for i in 0..work.len() {
        let at = started + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(at.into()).await;
        let (client, work) = (client.clone(), work.clone());
        tasks.push(tokio::spawn(
            async move { send(&client, work.get(i), "").await },
        ));
    }
    let mut all = Vec::with_capacity(work.len());
    for t in tasks {
        all.push(t.await.context("sender")??);
    }
    Ok(figures(all, started.elapsed().as_secs_f64()))
}

pub async fn run(
    salon: app::Salon,
    count: usize,
    concurrency: usize,
    rate: f64,
) -> anyhow::Result<()> {
    // A brand whose WeCom app has Tencent's sample settings.
    let brand = match salon.repo.brand_by_slug("bench").await? {
        Some(b) => b,
        None => {
            salon
                .repo
                .create_brand(&domain::NewBrand {
                    slug: domain::Slug::parse("slug", "bench")?,
                    name: "Bench".into(),
                    time_zone: domain::TimeZoneName::shanghai(),
                    currencies: vec![],
                    locales: vec![],
                    tiers: vec!["Gold".into()],
                })
                .await?
        }
    };
    salon
        .set_channel_settings(
            brand.id,
            domain::ChannelKind::Wecom,
            &app::channels::ChannelInput {
                app_id: Some(WECOM_CORP_ID.into()),
                agent_id: Some("1000002".into()),
                secret: Some("bench-secret".into()),
                token: Some(WECOM_TOKEN.into()),
                aes_key: Some(WECOM_AES_KEY.into()),
                api_base: Some("http://127.0.0.1:9".into()),
                menu: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    salon.start_channel_processor();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = web::router(web::AppState::new(salon.clone()));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let base = format!("http://{addr}");
    let client: Http = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency)
        .build_http();
    let salt = rand::random::<u32>() % 1000;
    println!(
        "callback ingest: {count} distinct encrypted WeCom text callbacks, {concurrency} connections, SQLite"
    );
    // Warm-up.
    flat_out(
        &client,
        Arc::new(prepare(&base, 500, salt + 1000)?),
        concurrency,
        None,
    )
    .await?;

    let health = flat_out(
        &client,
        Arc::new(prepare(&base, count, salt)?),
        concurrency,
        Some(format!("{base}/healthz")),
    )
    .await?;
    println!(
        "  baseline GET /healthz: {:.0} req/s; p50 {:.2} ms, p99 {:.2} ms",
        health.rate, health.p50, health.p99
    );
    let batch = Arc::new(prepare(&base, count, salt)?);
    let fast = flat_out(&client, batch.clone(), concurrency, None).await?;
    println!(
        "  ingest, flat out: {:.0} callbacks/s ({:.2}× the baseline's rate); p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        fast.rate,
        fast.rate / health.rate,
        fast.p50,
        fast.p99,
        fast.max
    );
    let paced_n = (rate * 10.0) as usize;
    let slow = paced(
        &client,
        Arc::new(prepare(&base, paced_n, salt + 2000)?),
        rate,
    )
    .await?;
    println!(
        "  ingest, paced at {rate:.0}/s for 10 s: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        slow.p50, slow.p99, slow.max
    );
    // Tencent's retries of what was already stored: recognised, not stored again.
    let retried = count.min(2_000);
    let again = Arc::new(
        batch
            .iter()
            .take(retried)
            .map(|p| Prepared {
                uri: p.uri.clone(),
                body: p.body.clone(),
            })
            .collect::<Vec<_>>(),
    );
    flat_out(&client, again, concurrency, None).await?;
    let stored = salon
        .repo
        .inbox_counts(
            brand.id,
            domain::ChannelKind::Wecom,
            app::channels::MAX_ATTEMPTS,
        )
        .await?;
    println!(
        "  inbox: {} stored for {} distinct callbacks sent ({retried} of them sent again); {} processed so far",
        stored.received,
        500 + count + paced_n,
        stored.processed
    );
    println!(
        "\nsummary: ingest {:.0} callbacks/s (baseline {:.0} req/s, ratio {:.2}); p99 {:.2} ms at {rate:.0}/s",
        fast.rate,
        health.rate,
        fast.rate / health.rate,
        slow.p99
    );
    Ok(())
}
