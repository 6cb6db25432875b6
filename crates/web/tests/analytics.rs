//! The brand's event stream and its Luxury Index over the API: imports are idempotent, the
//! report over stored events equals the report over the file, the channels feed the stream, and
//! the dashboard draws every chart with its figures.

mod support;

use axum::http::StatusCode;
use domain::*;
use support::{TestApp, spawn};

fn generated() -> (Vec<events::Event>, String) {
    let events = sim::events::generate(&sim::events::Params {
        people: 400,
        days: 200,
        seed: 11,
        start: jiff::civil::date(2025, 1, 1),
    });
    let mut buf = Vec::new();
    events::write_jsonl(&mut buf, &events).expect("write");
    (events, String::from_utf8(buf).expect("utf-8"))
}

/// Imports JSON Lines of events through the API.
async fn import(app: &TestApp, token: &str, jsonl: String) -> (StatusCode, String) {
    app.call(
        "POST",
        "/api/v1/events/import",
        Some(token),
        Some(("application/x-ndjson", jsonl)),
    )
    .await
}

#[tokio::test]
async fn imported_events_give_the_files_report_and_import_once() {
    let app = spawn(5).await;
    let hq = app.token(Role::Hq, None).await;
    let (events, jsonl) = generated();
    let (status, body) = import(&app, &hq, jsonl.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["read"], events.len());
    assert_eq!(v["added"], events.len());
    let (_, body) = import(&app, &hq, jsonl).await;
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["added"], 0, "the same file twice adds nothing");

    let (status, body) = app
        .call(
            "GET",
            "/api/v1/analytics/report?from=2025-02-01&to=2025-06-01&tz=Asia/Shanghai",
            Some(&hq),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stored: serde_json::Value = serde_json::from_str(&body).expect("json");
    let period = index::Period::new(
        jiff::civil::date(2025, 2, 1),
        jiff::civil::date(2025, 6, 1),
        "Asia/Shanghai",
    )
    .expect("period");
    assert_eq!(stored, index::report(&events, &period).expect("report"));

    // Export gives the events back, each once.
    let (status, body) = app
        .call("GET", "/api/v1/events/export", Some(&hq), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.lines().count(), events.len());
    let read = events::read_jsonl(body.as_bytes(), false).expect("strict read");
    assert_eq!(read.events.len(), events.len());
}

#[tokio::test]
async fn a_bad_file_names_its_line_and_field_and_adds_nothing() {
    let app = spawn(5).await;
    let hq = app.token(Role::Hq, None).await;
    let file = "{\"ts\":\"2025-01-03T20:15:00+08:00\",\"kind\":\"follow\",\"follower\":\"o1\",\"source\":\"qr_code\"}\n\
                {\"ts\":\"2025-01-03T20:16:00+08:00\",\"kind\":\"follow\",\"follower\":\"o2\",\"source\":\"billboard\"}\n";
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/events/import",
            Some(&hq),
            Some(("application/x-ndjson", file.into())),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("line 2") && body.contains("source"), "{body}");
    assert_eq!(
        app.salon
            .repo
            .count_events(app.brand.id)
            .await
            .expect("count"),
        0
    );
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/events/import?skip_bad=true",
            Some(&hq),
            Some(("application/x-ndjson", file.into())),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("\"added\":1") && body.contains("line 2"),
        "{body}"
    );
}

#[tokio::test]
async fn the_channels_feed_the_brand_stream() {
    let app = spawn(5).await;
    app.sim
        .oa_follow("oStream1", Some("spring-campaign"))
        .await
        .expect("follow");
    app.sim
        .oa_click("oStream1", "NEW_ARRIVALS")
        .await
        .expect("click");
    app.sim.oa_unfollow("oStream1").await.expect("unfollow");
    for _ in 0..5 {
        app.salon.process_inbox().await.expect("process");
    }
    let hq = app::Actor {
        brand: app.brand.clone(),
        role: Role::Hq,
        user: None,
        store: None,
    };
    let today = jiff::Timestamp::now()
        .in_tz("Asia/Shanghai")
        .expect("tz")
        .date();
    let r = app
        .salon
        .brand_report(&hq, today, today.tomorrow().expect("date"), None)
        .await
        .expect("report");
    assert_eq!(r["acquisition"]["new_follows"], 1, "{r}");
    assert_eq!(r["acquisition"]["sources"]["qr_code"]["follows"], 1);
    assert_eq!(r["acquisition"]["unfollows"], 1);
    assert_eq!(r["engagement"]["menu_category_shares"]["ecommerce"], 1.0);
}

#[tokio::test]
async fn forecast_and_ab_test_over_the_api() {
    let app = spawn(5).await;
    let hq = app.token(Role::Hq, None).await;
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/analytics/forecast",
            Some(&hq),
            Some(("application/json", r#"{"current_fanbase":100000,"organic_growth_rate":0.1,"marketing_budget":50000,"cost_per_follower":5}"#.into())),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["delta"], 20000.0);
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/analytics/forecast",
            Some(&hq),
            Some(("application/json", r#"{"store_onboarding_rate":3}"#.into())),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("store_onboarding_rate"), "{body}");

    let (_, jsonl) = generated();
    app.call(
        "POST",
        "/api/v1/events/import",
        Some(&hq),
        Some(("application/x-ndjson", jsonl)),
    )
    .await;
    let (status, body) = app
        .call(
            "GET",
            "/api/v1/analytics/ab-test?from=2025-01-01&to=2025-07-01&a=11-14&b=19-22",
            Some(&hq),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert!(
        v["a"]["pushes"].as_u64().expect("n") > 0 && v["b"]["pushes"].as_u64().expect("n") > 0,
        "{v}"
    );
    assert!(v["open_rate"]["verdict"].as_str().expect("verdict").len() > 20);
    let (status, body) = app
        .call(
            "GET",
            "/api/v1/analytics/ab-test?from=2025-01-01&to=2025-07-01&a=25-3&b=19-22",
            Some(&hq),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[tokio::test]
async fn brands_are_ranked_against_each_other_by_aggregates_only() {
    let app = spawn(5).await;
    for seed in 0..6u64 {
        let slug = format!("peer{seed}");
        let brand = app
            .salon
            .repo
            .create_brand(&NewBrand {
                slug: Slug::parse("slug", &slug).expect("slug"),
                name: format!("Peer {seed}"),
                time_zone: TimeZoneName::shanghai(),
                currencies: vec![],
                locales: vec![],
                tiers: vec!["Gold".into()],
            })
            .await
            .expect("brand");
        let events = sim::events::generate(&sim::events::Params {
            people: 150 + 50 * seed as usize,
            days: 120,
            seed: 100 + seed,
            start: jiff::civil::date(2025, 1, 1),
        });
        let mut buf = Vec::new();
        events::write_jsonl(&mut buf, &events).expect("write");
        let hq = app::Actor {
            brand,
            role: Role::Hq,
            user: None,
            store: None,
        };
        app.salon
            .import_events(&hq, buf.as_slice(), false)
            .await
            .expect("import");
    }
    let (_, jsonl) = generated();
    let hq = app.token(Role::Hq, None).await;
    app.call(
        "POST",
        "/api/v1/events/import",
        Some(&hq),
        Some(("application/x-ndjson", jsonl)),
    )
    .await;
    let (status, body) = app
        .call(
            "GET",
            "/api/v1/analytics/benchmark?from=2025-02-01&to=2025-04-01",
            Some(&hq),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["brands"], 7);
    let open = &v["figures"]["open_rate"]["all"];
    let rank = open["rank"].as_u64().expect("a rank among seven");
    assert!((1..=7).contains(&rank));
    assert!(open["p25"].as_f64().expect("p25") <= open["p75"].as_f64().expect("p75"));
    assert!(!body.contains("peer"), "no other brand is named");
}

#[tokio::test]
async fn the_report_sees_events_that_arrive_after_it_was_read() {
    let app = spawn(5).await;
    let hq = app.token(Role::Hq, None).await;
    let follow = |who: &str| {
        format!(
            r#"{{"ts":"2025-03-03T10:00:00+08:00","kind":"follow","follower":"{who}","source":"search"}}"#
        )
    };
    let report = || async {
        let (status, body) = app
            .call(
                "GET",
                "/api/v1/analytics/report?from=2025-03-01&to=2025-04-01",
                Some(&hq),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).expect("json")["acquisition"]["new_follows"].clone()
    };
    app.call(
        "POST",
        "/api/v1/events/import",
        Some(&hq),
        Some(("application/x-ndjson", follow("o1"))),
    )
    .await;
    assert_eq!(report().await, 1);
    assert_eq!(report().await, 1, "read again from memory");
    app.call(
        "POST",
        "/api/v1/events/import",
        Some(&hq),
        Some(("application/x-ndjson", follow("o2"))),
    )
    .await;
    assert_eq!(report().await, 2, "the new event is seen");
}

/// The live table is brought up to date chunk by chunk (each report reads only what was
/// stored since the last one) and gives exactly the batch report over the same events; a table
/// that passed over an event notices and reads the stream again.
#[tokio::test]
async fn the_live_report_equals_the_batch_report() {
    let app = spawn(5).await;
    let hq = app.token(Role::Hq, None).await;
    let (events, _) = generated();
    let url = "/api/v1/analytics/report?from=2025-02-01&to=2025-06-01&tz=Asia/Shanghai";
    // Newest chunk first: the stream is stored out of time order, as a backfill would be.
    let chunks: Vec<&[events::Event]> = events.chunks(events.len() / 5 + 1).rev().collect();
    for chunk in &chunks {
        let mut buf = Vec::new();
        events::write_jsonl(&mut buf, chunk.iter()).expect("write");
        let (status, body) = app
            .call(
                "POST",
                "/api/v1/events/import",
                Some(&hq),
                Some((
                    "application/x-ndjson",
                    String::from_utf8(buf).expect("utf-8"),
                )),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = app.call("GET", url, Some(&hq), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let period = index::Period::new(
        jiff::civil::date(2025, 2, 1),
        jiff::civil::date(2025, 6, 1),
        "Asia/Shanghai",
    )
    .expect("period");
    let stored_order: Vec<events::Event> = chunks.iter().flat_map(|c| c.iter().cloned()).collect();
    let batch = index::report(&stored_order, &period).expect("batch");
    let (_, body) = app.call("GET", url, Some(&hq), None).await;
    let live: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(live, batch, "live equals batch");
    let table = app
        .salon
        .live_table(app.brand.id)
        .await
        .expect("live table");
    {
        let t = table.lock().await;
        assert_eq!(t.live.table.len(), events.len() as u64);
        assert!(
            t.live.is_ordered(),
            "read again in time order after the backfill"
        );
    }

    // Pretend an event was passed over: the table is behind the stream's length.
    {
        let mut t = table.lock().await;
        t.live = index::live::Live::new("Asia/Shanghai").expect("tz");
    }
    let (_, body) = app.call("GET", url, Some(&hq), None).await;
    let again: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(again, batch, "read again whole");
    assert_eq!(table.lock().await.live.table.len(), events.len() as u64);
}

#[tokio::test]
async fn a_segments_report_covers_its_clients_followers_with_every_push() {
    let app = spawn(8).await;
    let hq = app.token(Role::Hq, None).await;
    let (events, jsonl) = generated();
    let (status, body) = import(&app, &hq, jsonl).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Three clients are followers of the Official Account.
    let mut followers = Vec::new();
    for e in &events {
        if let Some(f) = e.follower.as_deref()
            && !followers.contains(&f)
        {
            followers.push(f);
        }
    }
    let clients = app
        .salon
        .repo
        .segment_facts(app.brand.id)
        .await
        .expect("clients");
    for (facts, openid) in clients.iter().zip(&followers[..3]) {
        let patch = ClientPatch {
            identities: vec![Identity::parse(IdentityKind::WechatOa, openid).expect("openid")],
            ..ClientPatch::default()
        };
        app.salon
            .repo
            .update_client(app.brand.id, ClientId(facts.client_id), &patch, None)
            .await
            .expect("link");
    }
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/segments",
            Some(&hq),
            Some((
                "application/json",
                r#"{"name":"Followers","expression":"channel:wechat_oa"}"#.into(),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let seg: serde_json::Value = serde_json::from_str(&body).expect("json");
    let url = format!(
        "/api/v1/analytics/report?from=2025-02-01&to=2025-06-01&tz=Asia/Shanghai&segment={}",
        seg["id"]
    );
    let (status, body) = app.call("GET", &url, Some(&hq), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut report: serde_json::Value = serde_json::from_str(&body).expect("json");
    let about = report
        .as_object_mut()
        .and_then(|o| o.remove("segment"))
        .expect("the segment is named");
    assert_eq!(
        (about["clients"].as_u64(), about["followers"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(about["name"], "Followers");
    // Exactly the report over those three people's events and every push.
    let linked: Vec<&str> = followers[..3].to_vec();
    let theirs: Vec<events::Event> = events
        .iter()
        .filter(|e| e.follower.as_deref().is_none_or(|f| linked.contains(&f)))
        .cloned()
        .collect();
    let period = index::Period::new(
        jiff::civil::date(2025, 2, 1),
        jiff::civil::date(2025, 6, 1),
        "Asia/Shanghai",
    )
    .expect("period");
    assert_eq!(report, index::report(&theirs, &period).expect("report"));
    assert_ne!(report, index::report(&events, &period).expect("report"));
    // A segment that is not the brand's is not found.
    let (status, _) = app
        .call(
            "GET",
            "/api/v1/analytics/report?from=2025-02-01&to=2025-06-01&segment=999999",
            Some(&hq),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
