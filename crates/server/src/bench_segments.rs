//! `salon bench --segments N` and `salon bench --plan N`.
//!
//! Segments: N synthetic clients indexed as the server indexes a brand, then a five-term
//! segment counted `runs` times; side by side, the baseline of reading every client's facts
//! in turn. Plan: a brand of N clients in a real store, then a broadcast to all of them
//! planned (candidates loaded, every check applied, one send per client written in one
//! transaction) three times, a week apart. Medians; never a pass/fail.

use std::time::{Duration, Instant};

use domain::*;
use rand::{Rng, SeedableRng};
use segments::{EvalContext, Facts, SegmentIndex};

const FIVE_TERMS: &str = "tier:gold AND consent:wecom AND spend>=20000 AND last_purchase:365d AND NOT tag:do-not-disturb";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn p90(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() * 9 / 10).copied().unwrap_or_default()
}

fn facts(n: usize, now: i64) -> Vec<Facts> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    const TIERS: [&str; 4] = ["silver", "gold", "platinum", "black"];
    const TAGS: [&str; 6] = [
        "vic",
        "bags",
        "watches",
        "bridal",
        "do-not-disturb",
        "events",
    ];
    (0..n)
        .map(|i| Facts {
            client_id: i as i64 + 1,
            tags: TAGS
                .iter()
                .filter(|_| rng.gen_bool(0.2))
                .map(|t| (*t).to_owned())
                .collect(),
            tier: Some(TIERS[rng.gen_range(0..4)].to_owned()),
            store: Some(format!("S{:02}", rng.gen_range(0..40))),
            city: None,
            language: None,
            associate: Some(rng.gen_range(1..2_000)),
            spend_minor: rng.gen_range(0..10_000_000),
            last_purchase: rng
                .gen_bool(0.7)
                .then(|| now - rng.gen_range(0..1_000) * 86_400_000),
            last_interaction: rng
                .gen_bool(0.8)
                .then(|| now - rng.gen_range(0..400) * 86_400_000),
            birth_month: Some(rng.gen_range(1..=12)),
            consents: if rng.gen_bool(0.6) {
                vec!["wecom".into()]
            } else {
                vec![]
            },
            channels: vec!["wecom".into()],
            withdrawn: vec![],
        })
        .collect()
}

/// The baseline: the same five terms, read client by client.
fn scan(all: &[Facts], now: i64) -> u64 {
    let since = now - 365 * 86_400_000;
    all.iter()
        .filter(|f| {
            f.tier.as_deref() == Some("gold")
                && f.consents.iter().any(|c| c == "wecom")
                && f.spend_minor >= 2_000_000
                && f.last_purchase.is_some_and(|t| t >= since)
                && !f.tags.iter().any(|t| t == "do-not-disturb")
        })
        .count() as u64
}

pub fn segments(n: usize, runs: usize) -> anyhow::Result<()> {
    let now = now_millis();
    let all = facts(n, now);
    let started = Instant::now();
    let ix = SegmentIndex::build(all.clone());
    let built = started.elapsed();
    let expr = segments::parse(FIVE_TERMS).map_err(|e| anyhow::anyhow!("{e}"))?;
    let ctx = EvalContext {
        now_ms: now,
        tz: jiff::tz::TimeZone::get("Asia/Shanghai")?,
    };
    let mut fast = Vec::new();
    let mut slow = Vec::new();
    let mut count = 0;
    for _ in 0..runs {
        let t = Instant::now();
        count = ix.count(&expr, &ctx);
        fast.push(t.elapsed());
        let t = Instant::now();
        let want = scan(&all, now);
        slow.push(t.elapsed());
        anyhow::ensure!(want == count, "bitmaps say {count}, the scan {want}");
    }
    let (m, b) = (median(fast.clone()), median(slow));
    println!("salon bench --segments: {n} clients, index built in {built:.2?}");
    println!("  {FIVE_TERMS}");
    println!(
        "  count {count}: median {m:.2?}, p90 {:.2?} over {runs} runs; baseline scan median {b:.2?}; ratio {:.3}",
        p90(fast),
        m.as_secs_f64() / b.as_secs_f64().max(1e-9)
    );
    Ok(())
}

pub async fn plan(salon: app::Salon, n: usize) -> anyhow::Result<()> {
    let repo = &salon.repo;
    let brand = match repo.brand_by_slug("plan").await? {
        Some(b) => b,
        None => {
            repo.create_brand(&NewBrand {
                slug: Slug::parse("slug", "plan")?,
                name: "Plan".into(),
                time_zone: TimeZoneName::shanghai(),
                currencies: vec![],
                locales: vec![],
                tiers: vec!["Gold".into()],
            })
            .await?
        }
    };
    let b = brand.id;
    let mut sas = Vec::new();
    for (u, _) in repo.list_users(b, None).await? {
        sas.push(u.id);
    }
    for i in sas.len()..100 {
        let u = repo
            .create_user(
                b,
                &NewUser {
                    email: Email::parse("e", &format!("sa{i}@plan.example"))?,
                    display_name: format!("SA {i}"),
                    role: Role::Associate,
                    store_id: None,
                    password_hash: None,
                },
            )
            .await?;
        repo.link_staff(b, u.id, "wecom", &format!("plan-sa{i}"))
            .await?;
        sas.push(u.id);
    }
    let have = repo.count_clients(b, Scope::Brand).await? as usize;
    if have < n {
        let started = Instant::now();
        let mut i = have;
        while i < n {
            let end = (i + 20_000).min(n);
            let rows = (i..end)
                .map(|j| {
                    Ok(NewClient {
                        pii: Pii {
                            first_name: Some(format!("P{j}")),
                            ..Pii::default()
                        },
                        associate_id: Some(sas[j % sas.len()]),
                        identities: vec![
                            Identity::parse(IdentityKind::Crm, &format!("P{j}"))?,
                            Identity::parse(IdentityKind::Wecom, &format!("wmP{j}"))?,
                        ],
                        consents: if j % 10 == 9 {
                            vec![]
                        } else {
                            vec![Consent::parse(
                                "wecom",
                                "marketing",
                                true,
                                "in_store_form",
                                1,
                            )?]
                        },
                        ..NewClient::default()
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            repo.import_clients(b, &rows, None).await?;
            i = end;
            eprint!("\r  seeded {i} clients");
        }
        eprintln!();
        println!("seed: {} clients in {:.1?}", n - have, started.elapsed());
    }
    let started = Instant::now();
    let ix = salon
        .segment_index(b)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "segment index of {} clients built in {:.2?}",
        ix.len(),
        started.elapsed()
    );
    let policy = ContactPolicy {
        sa_daily_quota: u32::MAX,
        ..ContactPolicy::default()
    };
    let mut times = Vec::new();
    let mut personal = Vec::new();
    // Three runs of a text the same for each associate's clients, then three of a text that
    // names each client (planned in batches too; handed over one client at a time).
    for run in 0..6_i64 {
        let text = if run < 3 {
            "{sa.name}: the private preview"
        } else {
            "{client.first_name}, your private preview"
        };
        // 10:00 in Shanghai, a week apart, so that each run plans every client afresh.
        let send_at = (jiff::Timestamp::now()
            + jiff::SignedDuration::from_hours(24 * 8 * (run + 1)))
        .as_millisecond();
        let c = repo
            .create_campaign(
                b,
                &NewCampaign {
                    name: format!("bench {run}"),
                    kind: CampaignKind::Broadcast,
                    segment_id: None,
                    expression: "consent:wecom".into(),
                    channel: ChannelKind::Wecom,
                    asset_ids: vec![],
                    template: Template::parse(text)?,
                    send_at,
                    max_recipients: None,
                    created_by: None,
                    at: now_millis(),
                },
            )
            .await?;
        let planner: Box<domain::ports::Planner> = Box::new(move |cands, zones, counts| {
            let zones: Vec<jiff::tz::TimeZone> = zones
                .iter()
                .map(|z| jiff::tz::TimeZone::get(z).unwrap_or(jiff::tz::TimeZone::UTC))
                .collect();
            plan_sends(cands, &zones, counts, send_at, &policy)
        });
        let t = Instant::now();
        let counts = salon
            .plan_campaign_with(&brand, c.id, &*planner)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let took = t.elapsed();
        println!(
            "  run {} ({text}): {} planned, {} suppressed in {took:.2?}",
            run + 1,
            counts.planned,
            counts.suppressed
        );
        if run < 3 {
            times.push(took);
        } else {
            personal.push(took);
        }
        // Leave nothing for a dispatcher to send.
        repo.set_campaign_status(b, c.id, CampaignStatus::Cancelled)
            .await?;
    }
    println!(
        "salon bench --plan: {n} recipients planned in one transaction: median {:.2?} (one text per associate), {:.2?} (a text naming each client)",
        median(times),
        median(personal)
    );
    Ok(())
}

fn plan_sends(
    cands: &[Candidate],
    zones: &[jiff::tz::TimeZone],
    counts: &std::collections::HashMap<(i64, i32), u32>,
    send_at: Millis,
    policy: &ContactPolicy,
) -> Vec<Decision> {
    domain::plan(
        cands,
        &PlanContext {
            send_at,
            policy,
            zones,
            max_recipients: None,
            sa_day_counts: counts,
        },
    )
}
