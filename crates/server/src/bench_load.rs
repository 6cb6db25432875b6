//! `salon bench --load`: mixed reads and writes over real HTTP on loopback against a whole
//! server — the demo brand on SQLite, with the channel processor, the outbox dispatcher, the
//! campaign dispatcher, the archive indexer and the sandbox (simulated WeChat clients writing
//! in through signed callbacks) all running — from `--concurrency` connections at once, each
//! signed in as an associate of the demo brand:
//!
//! | share | request |
//! |---|---|
//! | 25 % | `POST /conversations/{id}/messages` (a send: rule check, outbox row) |
//! | 20 % | `POST /clients/{id}/notes` |
//! | 15 % | `PATCH /clients/{id}` (city, tier) |
//! | 15 % | `GET /clients/{id}` |
//! | 15 % | `GET /conversations/{id}` |
//! | 10 % | `GET /clients?limit=50` |
//!
//! It prints the throughput and the latency per kind, and fails (exit status 1) if any answer
//! is a 5xx — contention must wait, never fail — or anything but the expected 2xx.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rand::{Rng, SeedableRng};

use domain::*;

const CITIES: [&str; 3] = ["Shanghai", "Hangzhou", "Suzhou"];

/// One associate's share of the brand: their token, the clients they may write to on
/// WeCom, and every client of theirs.
struct Seat {
    token: String,
    writable: Vec<ClientId>,
    clients: Vec<ClientId>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Op {
    Send,
    Note,
    Update,
    Profile,
    Thread,
    Book,
}

impl Op {
    fn pick(r: &mut rand::rngs::StdRng) -> Op {
        match r.gen_range(0..100) {
            0..25 => Op::Send,
            25..45 => Op::Note,
            45..60 => Op::Update,
            60..75 => Op::Profile,
            75..90 => Op::Thread,
            _ => Op::Book,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Op::Send => "send message",
            Op::Note => "add note",
            Op::Update => "update client",
            Op::Profile => "client profile",
            Op::Thread => "thread",
            Op::Book => "client book",
        }
    }

    fn writes(self) -> bool {
        matches!(self, Op::Send | Op::Note | Op::Update)
    }
}

/// What one request gave.
struct Sample {
    op: Op,
    status: u16,
    latency: Duration,
}

/// The figures of a run.
pub struct LoadFigures {
    pub writes: usize,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub server_errors: usize,
    pub other_errors: usize,
}

pub async fn run(
    salon: app::Salon,
    clients: usize,
    concurrency: usize,
    requests: usize,
) -> anyhow::Result<()> {
    let figures = measure(salon, clients, concurrency, requests).await?;
    anyhow::ensure!(
        figures.server_errors == 0,
        "{} answers were 5xx",
        figures.server_errors
    );
    anyhow::ensure!(
        figures.other_errors == 0,
        "{} answers were neither 2xx nor 5xx",
        figures.other_errors
    );
    Ok(())
}

async fn measure(
    salon: app::Salon,
    clients: usize,
    concurrency: usize,
    requests: usize,
) -> anyhow::Result<LoadFigures> {
    let started = Instant::now();
    salon
        .seed_demo(2026, clients)
        .await
        .map_err(|e| anyhow::anyhow!("seeding the demo: {e}"))?;
    println!(
        "load: the demo brand with {clients} clients seeded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let slug = sim::demo::DEMO_SLUG;
    let brand = salon
        .brand_by_slug(slug)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    // The whole server, as `salon serve` runs it: the router with the sandbox mounted, and
    // every worker.
    let sim = sim::tencent::Simulator::new(sim::tencent::SimConfig::sandbox("/sandbox"))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut state = web::AppState::new(salon.clone());
    state.sandbox = Some(sim.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = web::router(state);
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    salon.start_channel_processor();
    salon.start_dispatcher();
    salon.start_broadcaster();
    salon.start_indexer(Duration::from_millis(500));
    tokio::spawn(crate::start_sandbox(
        salon.clone(),
        sim,
        addr,
        Duration::from_secs(1),
    ));

    // Every active associate, signed in, with their clients.
    let mut seats = Vec::new();
    for s in sim::demo::staff()
        .iter()
        .filter(|s| s.role == Role::Associate && !s.departed)
    {
        let Some(user) = salon.repo.user_by_email(brand.id, &s.email).await? else {
            continue;
        };
        let mut q = ClientQuery::new(Scope::Associate(user.id));
        q.limit = 200;
        let page = salon.repo.list_clients(brand.id, &q).await?;
        let mut writable = Vec::new();
        for c in &page.items {
            if let Some(full) = salon.repo.client(brand.id, c.id).await?
                && full
                    .identities
                    .iter()
                    .any(|i| matches!(i.kind, IdentityKind::Wecom | IdentityKind::WechatOa))
            {
                writable.push(c.id);
            }
        }
        let token = salon
            .create_token(slug, Role::Associate, Some(&s.email), None, "load")
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let clients: Vec<ClientId> = page.items.iter().map(|c| c.id).collect();
        if !clients.is_empty() && !writable.is_empty() {
            seats.push(Seat {
                token,
                writable,
                clients,
            });
        }
    }
    anyhow::ensure!(
        !seats.is_empty(),
        "no associate of the demo brand has a client to write to"
    );
    // Let the sandbox connect before the clock starts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seats = Arc::new(seats);
    let base = format!("http://{addr}/api/v1");
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency)
        .build_http();
    let run_id: u32 = rand::random();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let (client, seats, base) = (client.clone(), seats.clone(), base.clone());
        let per = requests / concurrency + usize::from(w < requests % concurrency);
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(w as u64);
            let seat = &seats[w % seats.len()];
            let mut samples = Vec::with_capacity(per);
            for i in 0..per {
                let op = Op::pick(&mut rng);
                let any = seat.clients[rng.gen_range(0..seat.clients.len())].0;
                let writable = seat.writable[rng.gen_range(0..seat.writable.len())].0;
                let (method, path, body) = match op {
                    Op::Send => (
                        "POST",
                        format!("{base}/conversations/{writable}/messages"),
                        Some(serde_json::json!({
                            "text": format!("您好，新季手袋已到店，欢迎周末来看看。({w}/{i})"),
                            "idempotency_key": format!("load-{run_id}-{w}-{i}"),
                        })),
                    ),
                    Op::Note => (
                        "POST",
                        format!("{base}/clients/{any}/notes"),
                        Some(serde_json::json!({"text": format!("Prefers afternoon visits ({w}/{i})")})),
                    ),
                    Op::Update => (
                        "PATCH",
                        format!("{base}/clients/{any}"),
                        Some(serde_json::json!({
                            "city": CITIES[i % CITIES.len()],
                        })),
                    ),
                    Op::Profile => ("GET", format!("{base}/clients/{any}"), None),
                    Op::Thread => ("GET", format!("{base}/conversations/{writable}"), None),
                    Op::Book => ("GET", format!("{base}/clients?limit=50"), None),
                };
                let req = axum::http::Request::builder()
                    .method(method)
                    .uri(path)
                    .header("authorization", format!("Bearer {}", seat.token));
                let req = match body {
                    Some(b) => req
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(b.to_string())))?,
                    None => req.body(Full::new(Bytes::new()))?,
                };
                let t = Instant::now();
                let res = client.request(req).await?;
                let status = res.status().as_u16();
                let text = res.into_body().collect().await?.to_bytes();
                if status >= 400 {
                    eprintln!(
                        "load: {} answered {status}: {}",
                        op.name(),
                        String::from_utf8_lossy(&text).chars().take(200).collect::<String>()
                    );
                }
                samples.push(Sample {
                    op,
                    status,
                    latency: t.elapsed(),
                });
            }
            Ok::<_, anyhow::Error>(samples)
        }));
    }
    let mut all = Vec::with_capacity(requests);
    for t in tasks {
        all.extend(t.await.context("load worker")??);
    }
    let wall = started.elapsed().as_secs_f64();

    let quantiles = |mut lat: Vec<Duration>| {
        lat.sort();
        let q = |p: f64| {
            lat.get(((lat.len() as f64 - 1.0) * p).round() as usize)
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        (q(0.5), q(0.99), q(1.0))
    };
    let mut by_op: BTreeMap<Op, Vec<&Sample>> = BTreeMap::new();
    for s in &all {
        by_op.entry(s.op).or_default().push(s);
    }
    println!(
        "load: {} requests from {concurrency} connections in {wall:.1} s, with the channel processor, \
         the dispatchers, the indexer and the sandbox running (SQLite)",
        all.len()
    );
    for (op, samples) in &by_op {
        let (p50, p99, max) = quantiles(samples.iter().map(|s| s.latency).collect());
        let errors = samples.iter().filter(|s| s.status >= 400).count();
        println!(
            "  {:<15} {:>6} requests  p50 {p50:>7.2} ms  p99 {p99:>7.2} ms  max {max:>8.2} ms  errors {errors}",
            op.name(),
            samples.len()
        );
    }
    let (p50, p99, max) = quantiles(all.iter().map(|s| s.latency).collect());
    let figures = LoadFigures {
        writes: all.iter().filter(|s| s.op.writes()).count(),
        per_second: all.len() as f64 / wall,
        p50_ms: p50,
        p99_ms: p99,
        max_ms: max,
        server_errors: all.iter().filter(|s| s.status >= 500).count(),
        other_errors: all
            .iter()
            .filter(|s| !(200..300).contains(&s.status) && s.status < 500)
            .count(),
    };
    println!(
        "load: {:.0} requests/s ({} writes); p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; 5xx: {}, other errors: {}",
        figures.per_second,
        figures.writes,
        figures.p50_ms,
        figures.p99_ms,
        figures.max_ms,
        figures.server_errors,
        figures.other_errors
    );
    Ok(figures)
}
