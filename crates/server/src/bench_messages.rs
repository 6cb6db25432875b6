//! `salon bench --messages N`: the inbound path after the callback is received — each client
//! message parsed from the durable inbox, stored (sealed), checked against the brand's
//! monitoring rules (flagged where they match) — and indexed for search alongside, as the
//! server does. Side by side, the
//! baseline: the same messages stored alone, with nothing else done. Prints rates and ratios.

use std::time::Instant;

use domain::*;

const SENTENCES: &[&str] = &[
    "您好，请问新季的手袋到店了吗？",
    "周六下午三点可以预约试穿吗",
    "Is the silk scarf still available in navy?",
    "谢谢，我想看看经典系列的钱夹",
    "这款能给我打八折吗？",
    "I'll come by the store on Sunday with my sister",
    "生日礼物想选一条项链，预算两万左右",
    "你加我私人微信吧，我转账给你",
    "请问香水有小样吗",
    "Could you send me photos of the new collection?",
];

pub async fn run(salon: app::Salon, n: usize) -> anyhow::Result<()> {
    let repo = &salon.repo;
    let brand = match repo.brand_by_slug("bench-chat").await? {
        Some(b) => b,
        None => {
            repo.create_brand(&NewBrand {
                slug: Slug::parse("slug", "bench-chat")?,
                name: "Bench chat".into(),
                time_zone: TimeZoneName::shanghai(),
                currencies: vec![],
                locales: vec![],
                tiers: vec!["Gold".into()],
            })
            .await?
        }
    };
    let b = brand.id;
    salon
        .seed_default_rules(b)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let clients = 2_000;
    let rows: Vec<NewClient> = (0..clients)
        .map(|i| -> anyhow::Result<NewClient> {
            Ok(NewClient {
                pii: Pii {
                    first_name: Some(format!("Client{i}")),
                    ..Pii::default()
                },
                identities: vec![
                    Identity::parse(IdentityKind::Crm, &format!("CHAT-{i}"))?,
                    Identity::parse(IdentityKind::Wecom, &format!("wmChat{i:06}"))?,
                ],
                ..NewClient::default()
            })
        })
        .collect::<anyhow::Result<_>>()?;
    repo.import_clients(b, &rows, None).await?;
    let salt = rand::random::<u32>() % 100_000;
    let now = jiff::Timestamp::now().as_second();
    let items: Vec<InboxItem> = (0..n)
        .map(|i| {
            let body = format!(
                "<xml><ToUserName><![CDATA[wwbench]]></ToUserName><FromUserName><![CDATA[wmChat{:06}]]></FromUserName>\
                 <CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{} {i}]]></Content>\
                 <MsgId>{salt}{i:09}</MsgId><AgentID>1000002</AgentID></xml>",
                i % clients,
                SENTENCES[i % SENTENCES.len()]
            );
            InboxItem {
                brand: b,
                channel: ChannelKind::Wecom,
                dedup_key: format!("bench-{salt}-{i}"),
                received_at: now * 1000,
                body,
                replay: None,
            }
        })
        .collect();
    for chunk in items.chunks(1_000) {
        repo.inbox_put(chunk).await?;
    }
    println!(
        "inbound messages: {n} client messages from {clients} clients, SQLite, rules: the defaults"
    );

    // As in production: the processor drains the inbox while the indexer catches up beside it.
    let t = Instant::now();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let indexer = {
        let salon = salon.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut indexed = 0;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::Acquire);
                let added = salon.catch_up_index(b).await.unwrap_or(0);
                indexed += added;
                if finished {
                    return indexed;
                }
                if added == 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            }
        })
    };
    let mut processed = 0;
    loop {
        let k = salon
            .process_inbox()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if k == 0 {
            break;
        }
        processed += k;
    }
    let t_process = t.elapsed().as_secs_f64();
    done.store(true, std::sync::atomic::Ordering::Release);
    let indexed = indexer.await?;
    let t_all = t.elapsed().as_secs_f64();
    let flagged = repo
        .flags(
            b,
            &FlagQuery {
                limit: 1_000,
                ..FlagQuery::default()
            },
        )
        .await?
        .len();

    // The baseline: the same messages, stored and nothing else.
    let client_ids: Vec<ClientId> = {
        let mut ids = Vec::new();
        for i in 0..clients {
            if let Some(id) = repo
                .client_by_identity(
                    b,
                    &Identity::parse(IdentityKind::Wecom, &format!("wmChat{i:06}"))?,
                )
                .await?
            {
                ids.push(id);
            }
        }
        ids
    };
    let t = Instant::now();
    for i in 0..n {
        repo.add_message(
            b,
            &NewMessage {
                client_id: client_ids[i % client_ids.len()],
                channel: ChannelKind::Wecom,
                direction: Direction::In,
                associate_id: None,
                provider_id: Some(format!("base-{salt}-{i}")),
                msg_type: "text".into(),
                body: SENTENCES[i % SENTENCES.len()].to_owned(),
                at: now * 1000,
            },
        )
        .await?;
    }
    let t_base = t.elapsed().as_secs_f64();
    let rate = |secs: f64| n as f64 / secs;
    println!(
        "  parse + store + rule check: {processed} in {t_process:.2} s = {:.0} messages/s ({flagged} flags)",
        rate(t_process)
    );
    println!(
        "  with the search index caught up ({indexed} indexed alongside): {t_all:.2} s = {:.0} messages/s",
        rate(t_all)
    );
    println!(
        "  baseline, store alone: {:.0} messages/s; the whole path takes {:.2}× the baseline's time",
        rate(t_base),
        t_all / t_base
    );
    Ok(())
}
