//! Sales over HTTP: the e-commerce webhook's signature, orders refused with their line and
//! field, scoped reports, disputes decided and audited, share links opened.

mod support;

use axum::http::StatusCode;
use domain::Role;
use support::{DOMAIN, spawn};

fn order(id: &str, client: &str, at: &str, amount: i64) -> String {
    format!(
        r#"{{"order_id":"{id}","source":"ecommerce","client":"{client}","placed_at":"{at}","currency":"CNY","lines":[{{"line":1,"sku":"BAG","qty":1,"amount":{amount}}}]}}"#
    )
}

#[tokio::test]
async fn the_ecommerce_webhook_takes_only_signed_bodies() {
    let app = spawn(20).await;
    let body = order("WH-1", "CRM-WH", "2026-03-03T10:00:00+08:00", 1000);
    let path = "/webhooks/sales/demo/orders";
    let post = |sig: Option<String>, body: String| {
        let router = app.router.clone();
        async move {
            use http_body_util::BodyExt;
            use tower::ServiceExt;
            let mut req = axum::http::Request::builder()
                .method("POST")
                .uri(path)
                .header("content-type", "application/json");
            if let Some(s) = sig {
                req = req.header("x-salon-signature", s);
            }
            let res = router
                .oneshot(req.body(axum::body::Body::from(body)).expect("req"))
                .await
                .expect("res");
            let status = res.status();
            let b = res.into_body().collect().await.expect("body").to_bytes();
            (status, String::from_utf8_lossy(&b).into_owned())
        }
    };
    // No secret yet: nothing is taken.
    let (status, _) = post(Some("sha256=00".into()), body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let hq = app.token(Role::Hq, None).await;
    let actor = app.salon.actor_for_token(&hq).await.expect("actor");
    let secret = app
        .salon
        .rotate_webhook_secret(&actor)
        .await
        .expect("secret");
    let good = app::sales::webhook_signature(&secret, body.as_bytes());
    let (status, text) = post(Some(good.clone()), body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let (status, _) = post(Some(good.clone()), body.clone()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the same order again is held already"
    );
    // A body changed under an old signature, a missing or malformed header: refused.
    let forged = order("WH-2", "CRM-WH", "2026-03-03T10:00:00+08:00", 1);
    for sig in [
        Some(good.clone()),
        None,
        Some("sha256=".into()),
        Some(good.to_uppercase()),
    ] {
        let (status, text) = post(sig, forged.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
        assert!(text.contains(r#""error":"unauthenticated""#), "{text}");
    }
    let held = app
        .salon
        .repo
        .orders_by_id(app.brand.id, &["WH-1".into(), "WH-2".into()])
        .await
        .expect("orders");
    assert_eq!(held.len(), 1, "only the signed order is stored");
    let (status, _) = post(Some(good), body).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = post(None, "{}".into()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_bad_order_names_its_line_and_field_and_nothing_is_stored() {
    let app = spawn(20).await;
    let hq = app.token(Role::Hq, None).await;
    let body = format!(
        "{}\n{}\n",
        order("BAD-1", "CRM-B", "2026-03-03T10:00:00+08:00", 10),
        order("BAD-2", "CRM-B", "2026-03-03 10:00", 10)
    );
    let (status, text) = app
        .call(
            "POST",
            "/api/v1/orders",
            Some(&hq),
            Some(("application/x-ndjson", body)),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(text.contains("line 2: placed_at"), "{text}");
    assert!(
        app.salon
            .repo
            .orders_by_id(app.brand.id, &["BAD-1".into()])
            .await
            .expect("q")
            .is_empty()
    );
    // A return of more than was paid.
    let (status, _) = app
        .call(
            "POST",
            "/api/v1/orders",
            Some(&hq),
            Some((
                "application/json",
                order("OK-1", "CRM-B", "2026-03-03T10:00:00+08:00", 10),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, text) = app
        .call(
            "POST",
            "/api/v1/returns",
            Some(&hq),
            Some(("application/json", r#"{"return_id":"R-1","order_id":"OK-1","line":1,"qty":1,"amount":11,"at":"2026-03-04T10:00:00+08:00"}"#.into())),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(text.contains("line 1: amount"), "{text}");
    // An order in a currency without a rate for its day.
    let mut eur = order("EUR-1", "CRM-B", "2026-03-03T10:00:00+08:00", 10);
    eur = eur.replace("CNY", "GBP");
    let (status, text) = app
        .call(
            "POST",
            "/api/v1/orders",
            Some(&hq),
            Some(("application/json", eur)),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(text.contains("line 1: currency"), "{text}");
}

#[tokio::test]
async fn reports_are_scoped_and_a_decided_dispute_moves_the_credit_with_an_audit_entry() {
    let app = spawn(20).await;
    let hq = app.token(Role::Hq, None).await;
    let li = app.token(Role::Associate, Some("li.na")).await;
    let wang = app.token(Role::Associate, Some("wang.fang")).await;
    let manager = app.token(Role::StoreManager, Some("zhang.min")).await;
    // Wang Fang wrote to the client; the client bought; Li Na says she served her.
    let touch = format!(
        r#"{{"at":"2026-03-02T10:00:00+08:00","associate":"wang.fang@{DOMAIN}","client":"CRM-D","kind":"message"}}"#
    );
    let (s, _) = app
        .call(
            "POST",
            "/api/v1/touches",
            Some(&hq),
            Some(("application/json", touch)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app
        .call(
            "POST",
            "/api/v1/orders",
            Some(&hq),
            Some((
                "application/json",
                order("D-1", "CRM-D", "2026-03-03T10:00:00+08:00", 1001),
            )),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let report = |token: String| {
        let app = &app;
        async move {
            let (s, text) = app
                .call(
                    "GET",
                    "/api/v1/sales/report?month=2026-03",
                    Some(&token),
                    None,
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{text}");
            serde_json::from_str::<serde_json::Value>(&text).expect("json")
        }
    };
    let all = report(hq.clone()).await;
    let net_of = |r: &serde_json::Value, who: &str| {
        r["associates"]
            .as_array()
            .expect("associates")
            .iter()
            .find(|s| s["associate"] == format!("{who}@{DOMAIN}"))
            .map(|s| s["net"].as_i64().expect("net"))
    };
    let wang_before = net_of(&all, "wang.fang").expect("wang credited");
    let li_before = net_of(&all, "li.na").unwrap_or(0);
    // An associate sees only her own line.
    let mine = report(li.clone()).await;
    assert!(
        mine["associates"]
            .as_array()
            .expect("a")
            .iter()
            .all(|s| s["associate"] == format!("li.na@{DOMAIN}"))
    );
    // The month's figures do not move with who asks.
    assert_eq!(
        net_of(&report(wang.clone()).await, "wang.fang"),
        Some(wang_before)
    );

    let (s, text) = app
        .call(
            "POST",
            "/api/v1/sales/disputes",
            Some(&li),
            Some((
                "application/json",
                r#"{"order_id":"D-1","reason":"She came to the store with me"}"#.into(),
            )),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{text}");
    let id = serde_json::from_str::<serde_json::Value>(&text).expect("json")["id"]
        .as_i64()
        .expect("id");
    let (s, _) = app
        .call(
            "POST",
            "/api/v1/sales/disputes",
            Some(&li),
            Some((
                "application/json",
                r#"{"order_id":"D-1","reason":"again"}"#.into(),
            )),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "one open dispute per order and associate"
    );
    let (s, text) = app
        .call(
            "POST",
            "/api/v1/sales/disputes",
            Some(&li),
            Some((
                "application/json",
                r#"{"order_id":"NOPE","reason":"x"}"#.into(),
            )),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{text}");
    // Fractions that do not add up to 1 are refused.
    let bad = format!(
        r#"{{"shares":[{{"associate":"li.na@{DOMAIN}","fraction":"0.5"}}],"note":"half"}}"#
    );
    let (s, text) = app
        .call(
            "POST",
            &format!("/api/v1/sales/disputes/{id}/decision"),
            Some(&manager),
            Some(("application/json", bad)),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    let decision = format!(
        r#"{{"shares":[{{"associate":"li.na@{DOMAIN}","fraction":"0.5"}},{{"associate":"wang.fang@{DOMAIN}","fraction":"0.5"}}],"note":"both served her"}}"#
    );
    let (s, text) = app
        .call(
            "POST",
            &format!("/api/v1/sales/disputes/{id}/decision"),
            Some(&manager),
            Some(("application/json", decision.clone())),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{text}");
    let (s, _) = app
        .call(
            "POST",
            &format!("/api/v1/sales/disputes/{id}/decision"),
            Some(&manager),
            Some(("application/json", decision)),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "decided once");
    let after = report(hq.clone()).await;
    // 1001 split half and half: 501 to Li Na (first e-mail), 500 to Wang Fang.
    assert_eq!(net_of(&after, "li.na"), Some(li_before + 501));
    assert_eq!(net_of(&after, "wang.fang"), Some(wang_before - 1001 + 500));
    let log = app
        .salon
        .repo
        .audit_log(app.brand.id, 0, 5000)
        .await
        .expect("audit");
    assert!(
        log.iter().any(|e| e.action == "sales.dispute.decide"
            && e.detail.to_string().contains("both served her")),
        "the decision is audited with why"
    );
}

#[tokio::test]
async fn a_share_link_opened_by_its_client_is_a_touch_and_an_unknown_code_is_not_found() {
    let app = spawn(20).await;
    let li = app.token(Role::Associate, Some("li.na")).await;
    let client = app.client_of("li.na").await;
    let body = format!(
        r#"{{"url":"https://shop.example/bag","title":"Bag","client_id":{}}}"#,
        client.0
    );
    let (s, text) = app
        .call(
            "POST",
            "/api/v1/share-links",
            Some(&li),
            Some(("application/json", body)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{text}");
    let path = serde_json::from_str::<serde_json::Value>(&text).expect("json")["path"]
        .as_str()
        .expect("path")
        .to_owned();
    let before = app
        .salon
        .repo
        .count_touches(app.brand.id)
        .await
        .expect("count");
    let (s, _) = app.call("GET", &path, None, None).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(
        app.salon
            .repo
            .count_touches(app.brand.id)
            .await
            .expect("count"),
        before + 1
    );
    let (s, _) = app.call("GET", "/s/nothere", None, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A link to somewhere that is not a web page is refused.
    for url in ["javascript:alert(1)", "//evil.example", "https://a b"] {
        let body = format!(r#"{{"url":"{url}"}}"#);
        let (s, _) = app
            .call(
                "POST",
                "/api/v1/share-links",
                Some(&li),
                Some(("application/json", body)),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{url}");
    }
    // Another associate's client cannot be named.
    let other = app.client_of("wang.fang").await;
    let body = format!(
        r#"{{"url":"https://shop.example/bag","client_id":{}}}"#,
        other.0
    );
    let (s, text) = app
        .call(
            "POST",
            "/api/v1/share-links",
            Some(&li),
            Some(("application/json", body)),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{text}");
    let (s, text) = app
        .call("GET", "/api/v1/share-links", Some(&li), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(text.contains(r#""opens":1"#), "{text}");
}

#[tokio::test]
async fn orders_and_returns_move_a_client_between_tiers_on_the_timeline() {
    let app = spawn(20).await;
    let hq = app.token(Role::Hq, None).await;
    let id = app.client_of("li.na").await;
    let before = app
        .salon
        .repo
        .client(app.brand.id, id)
        .await
        .expect("q")
        .expect("client");
    let crm = before
        .identities
        .iter()
        .find(|i| i.kind == domain::IdentityKind::Crm)
        .expect("a CRM id")
        .value
        .clone();
    let tiers = app.brand.tiers.clone();
    assert!(tiers.len() >= 3, "{tiers:?}");
    app.salon
        .repo
        .update_client(
            app.brand.id,
            id,
            &domain::ClientPatch {
                tier: Some(Some(tiers[0].clone())),
                ..Default::default()
            },
            None,
        )
        .await
        .expect("start in the first tier");
    // Every tier just above today's spend, a million minor units apart.
    let base = before.lifetime_spend_minor + 1;
    let body = serde_json::json!({"tiers": tiers.iter().enumerate()
        .map(|(i, t)| serde_json::json!({"tier": t, "min_spend": base + i as i64 * 1_000_000}))
        .collect::<Vec<_>>()});
    let (status, text) = app
        .call(
            "PUT",
            "/api/v1/sales/tiers",
            Some(&hq),
            Some(("application/json", body.to_string())),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    // An associate may read them, not set them; a tier the brand lacks is named.
    let sa = app.token(Role::Associate, Some("li.na")).await;
    let (status, _) = app
        .call(
            "PUT",
            "/api/v1/sales/tiers",
            Some(&sa),
            Some(("application/json", body.to_string())),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, text) = app
        .call(
            "PUT",
            "/api/v1/sales/tiers",
            Some(&hq),
            Some((
                "application/json",
                r#"{"tiers":[{"tier":"Bronze","min_spend":1}]}"#.into(),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(text.contains("Bronze"), "{text}");

    let (status, text) = app
        .call(
            "POST",
            "/api/v1/orders",
            Some(&hq),
            Some((
                "application/json",
                order("TIER-1", &crm, "2026-03-03T10:00:00+08:00", 2_000_000),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let c = app
        .salon
        .repo
        .client(app.brand.id, id)
        .await
        .expect("q")
        .expect("client");
    assert_eq!(
        c.lifetime_spend_minor,
        before.lifetime_spend_minor + 2_000_000
    );
    assert_eq!(
        c.tier.as_deref(),
        Some(tiers[1].as_str()),
        "up to the second tier"
    );

    let ret = r#"{"return_id":"TIER-R1","order_id":"TIER-1","line":1,"qty":1,"amount":1500000,"at":"2026-03-05T10:00:00+08:00"}"#;
    for _ in 0..2 {
        let (status, text) = app
            .call(
                "POST",
                "/api/v1/returns",
                Some(&hq),
                Some(("application/json", ret.into())),
            )
            .await;
        assert!(status.is_success(), "{text}");
    }
    let c = app
        .salon
        .repo
        .client(app.brand.id, id)
        .await
        .expect("q")
        .expect("client");
    assert_eq!(
        c.lifetime_spend_minor,
        before.lifetime_spend_minor + 500_000,
        "a return lowers the spend, once however often it is sent"
    );
    assert_eq!(
        c.tier.as_deref(),
        Some(tiers[0].as_str()),
        "down to the first"
    );
    let timeline = app
        .salon
        .repo
        .timeline(app.brand.id, id, 50)
        .await
        .expect("timeline");
    let moves: Vec<(String, String)> = timeline
        .iter()
        .filter(|e| e.kind == "tier_change")
        .map(|e| {
            (
                e.detail["to"].as_str().unwrap_or("").to_owned(),
                e.detail["direction"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(
        moves.contains(&(tiers[1].clone(), "up".into())),
        "{moves:?}"
    );
    assert!(
        moves.contains(&(tiers[0].clone(), "down".into())),
        "{moves:?}"
    );
    assert_eq!(
        timeline.iter().filter(|e| e.kind == "return").count(),
        1,
        "the return is on the timeline once"
    );
}
