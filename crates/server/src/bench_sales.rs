//! `salon bench --sales DIR`: the sales path at a brand's scale. Imports the exchange files of
//! DIR (as `salon generate sales` writes them) into a fresh brand, reporting lines a second for
//! each; then the month's report from a cold start (a new process state: nothing cached, the
//! database files in the OS cache as on a running server) and warm; then how long an order
//! takes to show in its associate's month once it arrives.

use std::path::{Path, PathBuf};
use std::time::Instant;

use app::sales::{Lines, SalesFile};
use domain::Role;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub async fn run(
    files: &Path,
    month: &str,
    runs: usize,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let dir = data_dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("salon-bench-sales-{}", std::process::id()))
    });
    let fresh = !dir.join("salon.db").exists();
    std::fs::create_dir_all(&dir)?;
    let store_args = crate::config::StoreArgs {
        data_dir: Some(dir.clone()),
        ..Default::default()
    };
    let open = || async { store_args.resolve()?.open().await };
    let salon = open().await?;
    if fresh {
        salon
            .repo
            .create_brand(&domain::NewBrand {
                slug: domain::Slug::parse("slug", "bench")?,
                name: "Bench".into(),
                time_zone: domain::TimeZoneName::shanghai(),
                currencies: vec![domain::Currency::parse("currency", "CNY")?],
                locales: vec![],
                tiers: vec!["Gold".into()],
            })
            .await?;
    }
    let brand = salon
        .repo
        .brand_by_slug("bench")
        .await?
        .ok_or_else(|| anyhow::anyhow!("no bench brand"))?;
    let actor = app::Actor {
        brand: brand.clone(),
        role: Role::Hq,
        user: None,
        store: None,
    };
    println!(
        "salon bench --sales {} (data in {})",
        files.display(),
        dir.display()
    );
    if fresh {
        for (kind, name) in [
            (SalesFile::Fx, "fx.jsonl"),
            (SalesFile::Orders, "orders.jsonl"),
            (SalesFile::Returns, "returns.jsonl"),
            (SalesFile::Touches, "touches.jsonl"),
        ] {
            let t = Instant::now();
            let r = salon
                .import_sales(&actor, kind, &Lines::File(files.join(name)))
                .await
                .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            let s = t.elapsed().as_secs_f64();
            println!(
                "import {name:<14} {:>10} lines in {s:>7.2} s: {:>9.0} lines/s",
                r.lines,
                r.lines as f64 / s
            );
        }
        if let Ok(policy) = std::fs::read_to_string(files.join("policy.json")) {
            salon
                .set_sales_policy(&actor, &policy)
                .await
                .map_err(|e| anyhow::anyhow!("policy: {e}"))?;
        }
    }
    drop(salon);

    // Cold: a new Salon each time (no cache), as after a restart.
    let mut cold = Vec::new();
    let mut report = None;
    for _ in 0..runs.clamp(1, 7) {
        let salon = open().await?;
        let t = Instant::now();
        let r = salon
            .sales_report(&actor, month)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        cold.push(t.elapsed().as_secs_f64() * 1000.0);
        report = Some(r);
    }
    let salon = open().await?;
    salon
        .sales_report(&actor, month)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut warm = Vec::new();
    for _ in 0..runs.max(5) {
        let t = Instant::now();
        salon
            .sales_report(&actor, month)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        warm.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let r = report.ok_or_else(|| anyhow::anyhow!("no report"))?;
    println!(
        "report {month}: {} associates, unattributed {}; cold median {:.0} ms (runs {}), warm median {:.2} ms",
        r.associates.len(),
        r.unattributed,
        median(cold.clone()),
        cold.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(", "),
        median(warm)
    );

    // An order arrives (a touch, then the order, through the same use case as the API) and the
    // associate's month is read until it shows: the time from arrival to being seen.
    let (start, _) = app::sales::parse_month(month)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .bounds(&app::sales::tz_of(&brand));
    let at = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| t.to_string())
            .unwrap_or_default()
    };
    let mut arrivals = Vec::new();
    for i in 0..3 {
        let touch = format!(
            r#"{{"at": "{}", "associate": "sa00001@maison.example", "client": "C9999999", "kind": "share_click"}}"#,
            at(start + 86_400_000 + i)
        );
        let order = format!(
            r#"{{"order_id": "ARRIVAL-{}-{i}", "source": "ecommerce", "client": "C9999999", "placed_at": "{}", "currency": "CNY", "lines": [{{"line": 1, "sku": "BAG", "qty": 1, "amount": 3250000}}]}}"#,
            std::process::id(),
            at(start + 86_400_000 + 60_000 + i)
        );
        let t = Instant::now();
        salon
            .import_sales(&actor, SalesFile::Touches, &Lines::Text(touch))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        salon
            .import_sales(&actor, SalesFile::Orders, &Lines::Text(order))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let r = salon
            .sales_report(&actor, month)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        arrivals.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(
            r.associates
                .iter()
                .any(|s| s.associate == "sa00001@maison.example"),
            "the arrived order is not credited"
        );
    }
    println!(
        "an arriving order is in its associate's month after: median {:.0} ms (runs {})",
        median(arrivals.clone()),
        arrivals
            .iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
