//! `salon bench`: whole-system figures on this machine. It builds a brand of N clients in a
//! fresh data directory, then measures over real HTTP on loopback, with 32 connections at
//! once: a client-book page (50 clients of one associate), a client profile, an exact phone
//! lookup; and a CSV import. It prints medians and tails, never a pass/fail.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rand::{Rng, SeedableRng};

use domain::*;

#[derive(Args)]
pub struct BenchArgs {
    /// Clients in the benchmark brand.
    #[arg(long, default_value_t = 100_000)]
    clients: usize,
    /// Rows of the CSV import measured.
    #[arg(long, default_value_t = 100_000)]
    import_rows: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Requests per scenario.
    #[arg(long, default_value_t = 6_400)]
    requests: usize,
    /// Where to build the benchmark store (default: a new temporary directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Measure provider callback ingest instead (see `bench_callbacks`).
    #[arg(long)]
    callbacks: bool,
    /// Callbacks per run (with --callbacks).
    #[arg(long, default_value_t = 20_000)]
    callback_count: usize,
    /// The paced run's rate, callbacks per second (with --callbacks).
    #[arg(long, default_value_t = 1_000.0)]
    callback_rate: f64,
    /// Measure the dashboard's report instead: this events file is loaded once into a table,
    /// as a brand's live table is held in memory, then the report is computed `--runs` times.
    #[arg(long)]
    report: Option<PathBuf>,
    /// First day of the report's period (with --report).
    #[arg(long, default_value = "2025-01-01")]
    from: String,
    /// Day after the report's period (with --report).
    #[arg(long, default_value = "2026-01-01")]
    to: String,
    /// Reports computed (with --report); messages checked (with --rules).
    #[arg(long, default_value_t = 15)]
    runs: usize,
    /// Measure the monitoring-rule check instead: one 500-character message against this many
    /// rules.
    #[arg(long)]
    rules: Option<usize>,
    /// Measure the inbound message path instead (store, rule check, search index) over this
    /// many client messages.
    #[arg(long)]
    messages: Option<usize>,
    /// Measure archive search instead, over an index of this many messages (kept in the data
    /// directory, so that a second run reuses it).
    #[arg(long)]
    search: Option<usize>,
    /// Measure counting a five-term segment over this many clients instead.
    #[arg(long)]
    segments: Option<usize>,
    /// Measure the campaign dispatcher against the provider's rate limit instead: this many
    /// personalised messages, one WeCom call each.
    #[arg(long)]
    dispatch: Option<usize>,
    /// The provider's limit, calls a minute (with --dispatch).
    #[arg(long, default_value_t = 600)]
    rate: u32,
    /// Measure mixed reads and writes instead (sends, notes, client updates, profiles, threads,
    /// client books) against the whole server with every worker running; fails on any 5xx.
    /// Uses --concurrency and --requests.
    #[arg(long)]
    load: bool,
    /// Clients of the demo brand the load runs against (with --load).
    #[arg(long, default_value_t = 5_000)]
    load_clients: usize,
    /// Measure planning a broadcast to this many clients instead (a brand seeded in the data
    /// directory, reused by later runs).
    #[arg(long)]
    plan: Option<usize>,
    /// Measure sales instead: import the exchange files of this directory (`salon generate
    /// sales`) into a fresh brand, then compute `--month`'s report cold and warm.
    #[arg(long)]
    sales: Option<PathBuf>,
    /// The month of the sales report (with --sales).
    #[arg(long, default_value = "2025-06")]
    month: String,
}

/// The dashboard's answer time over a brand held in memory: the report over a loaded table,
/// `runs` times; prints the median and the spread.
fn bench_report(file: &std::path::Path, from: &str, to: &str, runs: usize) -> anyhow::Result<()> {
    let date = |field: &str, s: &str| domain::date(field, s).map_err(|e| anyhow::anyhow!("--{e}"));
    let period = index::Period::new(date("from", from)?, date("to", to)?, "Asia/Shanghai")?;
    let started = std::time::Instant::now();
    let (table, _) =
        index::Table::read(file, false).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let loaded = started.elapsed();
    let batch = index::report_table(&table, &period)?;
    let followers = batch["acquisition"]["followers_end"].clone();
    let times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let t = std::time::Instant::now();
            std::hint::black_box(index::report_table(&table, &period).ok());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let stats = |mut times: Vec<f64>| {
        times.sort_by(f64::total_cmp);
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        format!(
            "median {:.1} ms, min {:.1} ms, p90 {:.1} ms over {} runs",
            at(0.5),
            at(0.0),
            at(0.9),
            times.len()
        )
    };
    println!(
        "batch report over {} events, {} people, {followers} followers at the period's end (read in {:.2} s): {}",
        table.len(),
        table.people.count(),
        loaded.as_secs_f64(),
        stats(times)
    );
    drop(table);

    // The dashboard's way: a live report fed event by event, answered from its rollups.
    let started = std::time::Instant::now();
    let mut live = index::live::Live::new("Asia/Shanghai")?;
    let skipped = events::visit_file(file, |e| live.push(e))
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    anyhow::ensure!(skipped.is_empty(), "{} bad rows", skipped.len());
    let fed = started.elapsed();
    anyhow::ensure!(
        live.is_ordered(),
        "the file is not in time order: the rollups are off (sort it first)"
    );
    anyhow::ensure!(
        live.report(&period)? == batch,
        "the live report differs from the batch report"
    );
    let times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let t = std::time::Instant::now();
            std::hint::black_box(live.report(&period).ok());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    println!(
        "live report (fed in {:.1} s, {:.0} events/s): {}",
        fed.as_secs_f64(),
        live.table.len() as f64 / fed.as_secs_f64(),
        stats(times)
    );
    Ok(())
}

const ASSOCIATES: usize = 200;

fn client(i: usize, sa: UserId) -> anyhow::Result<NewClient> {
    const FIRST: [&str; 8] = [
        "Mei", "Jing", "Camille", "Louis", "Xinyi", "Hugo", "Ting", "Alice",
    ];
    const LAST: [&str; 8] = [
        "Wang", "Li", "Martin", "Chen", "Dubois", "Zhang", "Petit", "Liu",
    ];
    Ok(NewClient {
        pii: Pii {
            first_name: Some(format!("{}{}", FIRST[i % 8], i % 1000)),
            last_name: Some(LAST[(i / 8) % 8].to_owned()),
            chinese_name: None,
            phone: Some(Phone::parse("phone", &phone(i))?),
            email: Some(Email::parse("email", &format!("c{i}@bench.example"))?),
            birthday: None,
        },
        tier: Some("Gold".into()),
        associate_id: Some(sa),
        tags: vec![Tag::parse(
            "tag",
            if i.is_multiple_of(3) { "VIC" } else { "bags" },
        )?],
        identities: vec![Identity::parse(IdentityKind::Crm, &format!("B{i}"))?],
        ..NewClient::default()
    })
}

fn phone(i: usize) -> String {
    format!("+86139{:08}", i)
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(n) = args.rules {
        return crate::bench_rules::run(n, args.runs.max(2_000));
    }
    if let Some(n) = args.segments {
        return crate::bench_segments::segments(n, args.runs.max(20));
    }
    if let Some(n) = args.search {
        let dir = args
            .data_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("salon-bench-search"));
        return crate::bench_search::run(n, args.runs.max(200), &dir);
    }
    if let Some(file) = &args.report {
        return bench_report(file, &args.from, &args.to, args.runs);
    }
    if let Some(files) = &args.sales {
        return crate::bench_sales::run(files, &args.month, args.runs, args.data_dir.clone()).await;
    }
    let dir = args.data_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("salon-bench-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir)?;
    let store_args = crate::config::StoreArgs {
        data_dir: Some(dir.clone()),
        ..Default::default()
    };
    let salon = store_args.resolve()?.open().await?;
    if !args.callbacks
        && !args.load
        && args.messages.is_none()
        && args.plan.is_none()
        && args.dispatch.is_none()
    {
        println!(
            "salon bench: {} clients, data in {}",
            args.clients,
            dir.display()
        );
    }
    if let Some(n) = args.messages {
        return crate::bench_messages::run(salon, n).await;
    }
    if args.load {
        return crate::bench_load::run(salon, args.load_clients, args.concurrency, args.requests)
            .await;
    }
    if let Some(n) = args.plan {
        return crate::bench_segments::plan(salon, n).await;
    }
    if let Some(n) = args.dispatch {
        return crate::bench_dispatch::run(salon, n, args.rate).await;
    }
    if args.callbacks {
        return crate::bench_callbacks::run(
            salon,
            args.callback_count,
            args.concurrency,
            args.callback_rate,
        )
        .await;
    }
    let repo = &salon.repo;

    let brand = match repo.brand_by_slug("bench").await? {
        Some(b) => b,
        None => {
            repo.create_brand(&NewBrand {
                slug: Slug::parse("slug", "bench")?,
                name: "Bench".into(),
                time_zone: TimeZoneName::shanghai(),
                currencies: vec![],
                locales: vec![],
                tiers: vec!["Silver".into(), "Gold".into()],
            })
            .await?
        }
    };
    let b = brand.id;
    let store = match repo.store_by_code(b, "SH01").await? {
        Some(s) => s,
        None => {
            repo.create_store(
                b,
                &NewStore {
                    code: StoreCode::parse("c", "SH01")?,
                    name: "Shanghai".into(),
                    city: "Shanghai".into(),
                    country: "CN".into(),
                    time_zone: TimeZoneName::shanghai(),
                },
            )
            .await?
        }
    };
    let mut sas = Vec::new();
    for (u, _) in repo.list_users(b, None).await? {
        sas.push(u);
    }
    for i in sas.len()..ASSOCIATES {
        sas.push(
            repo.create_user(
                b,
                &NewUser {
                    email: Email::parse("e", &format!("sa{i}@bench.example"))?,
                    display_name: format!("SA {i}"),
                    role: Role::Associate,
                    store_id: Some(store.id),
                    password_hash: None,
                },
            )
            .await?,
        );
    }
    let have = repo.count_clients(b, Scope::Brand).await? as usize;
    if have < args.clients {
        let started = Instant::now();
        let batch = 20_000;
        let mut i = have;
        while i < args.clients {
            let end = (i + batch).min(args.clients);
            let rows = (i..end)
                .map(|j| client(j, sas[j % ASSOCIATES].id))
                .collect::<anyhow::Result<Vec<_>>>()?;
            repo.import_clients(b, &rows, None).await?;
            i = end;
            eprint!("\r  seeded {i} clients");
        }
        eprintln!();
        let s = started.elapsed().as_secs_f64();
        println!(
            "seed: {} clients in {:.1} s ({:.0} clients/s)",
            args.clients - have,
            s,
            (args.clients - have) as f64 / s
        );
    }

    // CSV import into a fresh brand each run.
    if args.import_rows > 0 {
        let slug = format!("import{}", rand::random::<u32>());
        let ib = repo
            .create_brand(&NewBrand {
                slug: Slug::parse("slug", &slug)?,
                name: "Import".into(),
                time_zone: TimeZoneName::shanghai(),
                currencies: vec![],
                locales: vec![],
                tiers: vec!["Gold".into()],
            })
            .await?;
        let mut csv = String::from(
            "crm_id,first_name,last_name,phone,email,tier,tags,lifetime_spend,marketing_consent\n",
        );
        for i in 0..args.import_rows {
            csv.push_str(&format!(
                "I{i},Mei{i},Wang,{},i{i}@example.com,Gold,VIC;bags,{}.50,wecom\n",
                phone(i),
                1000 + i % 5000
            ));
        }
        let actor = app::Actor {
            brand: ib,
            role: Role::Hq,
            user: None,
            store: None,
        };
        let started = Instant::now();
        let report = salon
            .import_clients_csv(&actor, csv.as_bytes(), false)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let s = started.elapsed().as_secs_f64();
        println!(
            "csv import: {} rows ({} created) in {:.2} s ({:.0} rows/s)",
            report.rows,
            report.created,
            s,
            report.rows as f64 / s
        );
    }

    // HTTP on loopback, the real router.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = web::router(web::AppState::new(salon.clone()));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let hq = salon
        .create_token("bench", Role::Hq, None, None, "bench")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut sa_tokens = Vec::new();
    for sa in sas.iter().take(args.concurrency) {
        sa_tokens.push(
            salon
                .create_token(
                    "bench",
                    Role::Associate,
                    Some(sa.email.as_str()),
                    None,
                    "bench",
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
    }
    let first_id: i64 = repo
        .list_clients(
            b,
            &ClientQuery {
                limit: 1,
                ..ClientQuery::new(Scope::Brand)
            },
        )
        .await?
        .items
        .first()
        .map(|c| c.id.0)
        .unwrap_or(1);
    let n = args.clients as i64;
    let base = format!("http://{addr}/api/v1");
    let sa_tokens = Arc::new(sa_tokens);

    let book = {
        let (base, toks) = (base.clone(), sa_tokens.clone());
        scenario(
            "client book page (50 clients of one SA)",
            args.concurrency,
            args.requests,
            move |w, _| {
                (
                    format!("{base}/clients?limit=50"),
                    toks[w % toks.len()].clone(),
                )
            },
        )
        .await?
    };
    let profile = {
        let (base, hq) = (base.clone(), hq.clone());
        scenario(
            "client profile",
            args.concurrency,
            args.requests,
            move |_, r| {
                (
                    format!("{base}/clients/{}", first_id + r.gen_range(0..n)),
                    hq.clone(),
                )
            },
        )
        .await?
    };
    // A random existing phone number, looked up by HQ.
    let phone_lookup = |base: String, hq: String, clients: usize| {
        move |_: usize, r: &mut rand::rngs::StdRng| {
            (
                format!("{base}/clients?q=%2B86139{:08}", r.gen_range(0..clients)),
                hq.clone(),
            )
        }
    };
    let lookup = scenario(
        "exact phone lookup",
        args.concurrency,
        args.requests,
        phone_lookup(base.clone(), hq.clone(), args.clients),
    )
    .await?;
    let single = scenario(
        "exact phone lookup, one connection",
        1,
        args.requests / 4,
        phone_lookup(base.clone(), hq.clone(), args.clients),
    )
    .await?;
    println!(
        "\nsummary (p99, ms): book {book:.2} · profile {profile:.2} · phone lookup {lookup:.2} (32 connections), {single:.2} (one connection)"
    );
    Ok(())
}

/// Runs `requests` GETs over `concurrency` connections; prints and returns p99 in ms.
async fn scenario<F>(
    name: &str,
    concurrency: usize,
    requests: usize,
    make: F,
) -> anyhow::Result<f64>
where
    F: Fn(usize, &mut rand::rngs::StdRng) -> (String, String) + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency)
        .build_http();
    // Warm-up: caches and connections.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let (client, make) = (client.clone(), make.clone());
        let per = requests / concurrency;
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(w as u64);
            let mut lat = Vec::with_capacity(per);
            for _ in 0..per {
                let (url, token) = make(w, &mut rng);
                let req = axum::http::Request::get(url)
                    .header("authorization", format!("Bearer {token}"))
                    .body(Full::new(Bytes::new()))?;
                let t = Instant::now();
                let res = client.request(req).await?;
                let status = res.status();
                res.into_body().collect().await?;
                lat.push(t.elapsed());
                if !status.is_success() && status.as_u16() != 404 {
                    anyhow::bail!("status {status}");
                }
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut all: Vec<Duration> = Vec::new();
    for t in tasks {
        all.extend(t.await.context("worker")??);
    }
    let wall = started.elapsed().as_secs_f64();
    all.sort();
    let q = |p: f64| {
        all.get(((all.len() as f64 - 1.0) * p).round() as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{name}: {} requests, {concurrency} connections, {:.0} req/s; p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        all.len(),
        all.len() as f64 / wall,
        q(0.5),
        q(0.9),
        q(0.99),
        q(1.0)
    );
    Ok(q(0.99))
}
