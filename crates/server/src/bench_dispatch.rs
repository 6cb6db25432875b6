//! `salon bench --dispatch N --rate R`: a broadcast of N personalised messages (one WeCom call
//! each) handed to the simulator, which allows R calls a minute (45009 beyond), as Salon's
//! client paces itself at the same published rate. The lower bound is what the rate allows:
//! the first R calls at once, then R more each minute. Prints the time taken against that
//! bound; never a pass/fail.

use std::time::{Duration, Instant};

use app::channels::ChannelInput;
use domain::*;

pub async fn run(salon: app::Salon, n: usize, rate: u32) -> anyhow::Result<()> {
    anyhow::ensure!(
        n > rate as usize,
        "--dispatch N must exceed --rate R (calls a minute), or the provider's limit is never reached"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sim_url = format!("http://{}", listener.local_addr()?);
    let mut cfg = sim::tencent::SimConfig::sandbox(&sim_url);
    cfg.per_api_per_minute = rate as usize;
    let sim = sim::tencent::Simulator::new(cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
    let router = sim.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    if let Ok(mut p) = salon.channels.api_policy.write() {
        p.per_api_per_minute = rate;
    }
    let repo = &salon.repo;
    let slug = format!("dispatch{}", rand::random::<u32>());
    let brand = repo
        .create_brand(&NewBrand {
            slug: Slug::parse("slug", &slug)?,
            name: "Dispatch".into(),
            time_zone: TimeZoneName::shanghai(),
            currencies: vec![],
            locales: vec![],
            tiers: vec!["Gold".into()],
        })
        .await?;
    let b = brand.id;
    let c = sim.config().clone();
    salon
        .set_channel_settings(
            b,
            ChannelKind::Wecom,
            &ChannelInput {
                app_id: Some(c.corp_id.clone()),
                agent_id: Some(c.agent_id.clone()),
                secret: Some(c.corp_secret.clone()),
                token: Some(c.token.clone()),
                aes_key: Some(c.aes_key.clone()),
                api_base: Some(sim_url.clone()),
                menu: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    repo.put_contact_policy(
        b,
        &ContactPolicy {
            quiet_start: 0,
            quiet_end: 0,
            sa_daily_quota: u32::MAX,
            ..ContactPolicy::default()
        },
        now_millis(),
    )
    .await?;
    let mut sas = Vec::new();
    for i in 0..20 {
        let u = repo
            .create_user(
                b,
                &NewUser {
                    email: Email::parse("e", &format!("sa{i}@dispatch.example"))?,
                    display_name: format!("SA {i}"),
                    role: Role::Associate,
                    store_id: None,
                    password_hash: None,
                },
            )
            .await?;
        repo.link_staff(b, u.id, "wecom", &format!("d-sa{i}"))
            .await?;
        sim.add_staff(&format!("d-sa{i}"), &format!("SA {i}"), None);
        sas.push(u.id);
    }
    let rows = (0..n)
        .map(|j| {
            let external = format!("wmD{j}");
            sim.restore_contact(
                &external,
                &format!("D{j}"),
                Some(&format!("d-sa{}", j % 20)),
                None,
            );
            Ok(NewClient {
                pii: Pii {
                    first_name: Some(format!("D{j}")),
                    ..Pii::default()
                },
                associate_id: Some(sas[j % sas.len()]),
                identities: vec![
                    Identity::parse(IdentityKind::Crm, &format!("D{j}"))?,
                    Identity::parse(IdentityKind::Wecom, &external)?,
                ],
                consents: vec![Consent::parse(
                    "wecom",
                    "marketing",
                    true,
                    "in_store_form",
                    1,
                )?],
                ..NewClient::default()
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    for chunk in rows.chunks(20_000) {
        repo.import_clients(b, chunk, None).await?;
    }
    let hq = app::Actor {
        brand: brand.clone(),
        role: Role::Hq,
        user: None,
        store: None,
    };
    let campaign = salon
        .create_campaign(
            &hq,
            app::broadcasts::CampaignInput {
                name: "dispatch".into(),
                kind: CampaignKind::Broadcast,
                segment_id: None,
                expression: Some("consent:wecom".into()),
                text: "Dear {client.first_name}, {sa.name} invites you".into(),
                send_at: None,
                max_recipients: None,
                asset_ids: vec![],
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let planned = salon
        .plan_campaign(&hq, campaign.id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(planned.planned as usize == n, "planned {planned:?}");

    let started = Instant::now();
    loop {
        salon
            .broadcast_once()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let r = repo.campaign_report(b, campaign.id).await?;
        if r.planned == 0 && r.sending == 0 {
            anyhow::ensure!(r.sent as usize == n, "sent {} of {n}: {r:?}", r.sent);
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(3_600),
            "not done in an hour: {r:?}"
        );
    }
    let took = started.elapsed();
    let refused = sim
        .log()
        .iter()
        .filter(|e| e.api == "externalcontact/add_msg_template")
        .count();
    let minutes = n.div_ceil(rate as usize) - 1;
    let bound = Duration::from_secs(60 * minutes as u64);
    println!(
        "salon bench --dispatch: {n} messages at {rate} calls a minute: {took:.1?} against the provider's bound of {bound:.0?}: overhead {:+.1} % ({refused} calls accepted)",
        (took.as_secs_f64() / bound.as_secs_f64() - 1.0) * 100.0
    );
    Ok(())
}
