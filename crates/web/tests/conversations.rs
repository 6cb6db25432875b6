//! Conversations and compliance end to end, against the WeCom simulator: a client's flagged
//! message in the associate's inbox and the compliance queue; a blocked promise that never
//! reaches the provider; replies sent once through the outbox even when an answer is lost; a
//! departed associate's clients, history intact, in a colleague's inbox; and the audit chain
//! verified, then broken behind Salon's back and caught.

mod support;

use axum::http::StatusCode;
use domain::*;
use serde_json::Value;
use support::{TestApp, spawn};

fn json(s: &str) -> Value {
    serde_json::from_str(s).expect("json")
}

/// A new client scans the associate's QR code (the callback waits in the inbox); returns their
/// WeCom id.
async fn scan(app: &TestApp, associate: &str, name: &str) -> String {
    let user = app.user(associate).await;
    let way = app
        .salon
        .repo
        .contact_ways(app.brand.id)
        .await
        .expect("ways")
        .into_iter()
        .find(|w| w.user_id == Some(user.id))
        .and_then(|w| w.config_id)
        .expect("the associate's code");
    app.sim.client_scans(&way, name, None).await.expect("scan")
}

/// The client a WeCom id belongs to.
async fn client_of(app: &TestApp, external: &str) -> ClientId {
    app.salon
        .repo
        .client_by_identity(
            app.brand.id,
            &Identity::parse(IdentityKind::Wecom, external).expect("id"),
        )
        .await
        .expect("q")
        .expect("client")
}

/// A new client who scans the associate's QR code; returns the client and their WeCom id.
async fn new_client(app: &TestApp, associate: &str, name: &str) -> (ClientId, String) {
    let external = scan(app, associate, name).await;
    app.settle().await;
    (client_of(app, &external).await, external)
}

async fn send(
    app: &TestApp,
    token: &str,
    client: ClientId,
    text: &str,
    key: &str,
) -> (StatusCode, Value) {
    let (status, body) = app
        .call(
            "POST",
            &format!("/api/v1/conversations/{}/messages", client.0),
            Some(token),
            Some((
                "application/json",
                serde_json::json!({"text": text, "idempotency_key": key}).to_string(),
            )),
        )
        .await;
    (status, json(&body))
}

#[tokio::test]
async fn a_flagged_client_message_shows_in_the_inbox_and_the_compliance_queue() {
    let app = spawn(5).await;
    let (client, external) = new_client(&app, "li.na", "Mei").await;
    app.sim
        .client_says(&external, "你加我私人微信吧，我直接转账给你")
        .await
        .expect("says");
    app.settle().await;

    let li = app.token(Role::Associate, Some("li.na")).await;
    let (status, body) = app
        .call("GET", "/api/v1/conversations", Some(&li), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let inbox = json(&body);
    let thread = inbox["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|t| t["client_id"] == client.0)
        .expect("the thread is in Li Na's inbox");
    assert_eq!(thread["unread"], 1);
    assert_eq!(thread["open_flags"], 1);
    assert_eq!(thread["last"]["body"], "你加我私人微信吧，我直接转账给你");

    // Compliance sees it in the queue, naming the rule and the words.
    let officer = app.token(Role::Compliance, None).await;
    let (_, body) = app
        .call("GET", "/api/v1/compliance/flags", Some(&officer), None)
        .await;
    let queue = json(&body);
    let item = queue["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|f| f["client_id"] == client.0)
        .expect("in the compliance queue")
        .clone();
    assert_eq!(item["rule"], "Off-platform payment");
    assert_eq!(item["direction"], "in");
    assert_eq!(item["status"], "open");
    // The store manager is told (their store's queue); another associate sees nothing.
    let manager = app.token(Role::StoreManager, Some("zhang.min")).await;
    let (_, body) = app
        .call("GET", "/api/v1/compliance/flags", Some(&manager), None)
        .await;
    assert!(
        body.contains(&format!("\"client_id\":{}", client.0)),
        "{body}"
    );
    let wang = app.token(Role::Associate, Some("wang.fang")).await;
    let (status, _) = app
        .call(
            "GET",
            &format!("/api/v1/conversations/{}", client.0),
            Some(&wang),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // HQ sees figures, not the text.
    let hq = app.token(Role::Hq, None).await;
    let (status, _) = app
        .call("GET", "/api/v1/conversations", Some(&hq), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .call("GET", "/api/v1/compliance/counts", Some(&hq), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("Off-platform payment") && !body.contains("转账给你"),
        "{body}"
    );

    // The archive finds it by its words, in Chinese, for those who may read it.
    let search = |q: &str| format!("/api/v1/archive/search?q={}", support::enc(q));
    let (status, body) = app.call("GET", &search("转账"), Some(&officer), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let found = json(&body);
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(found["items"][0]["client_name"], "Mei");
    let (_, body) = app.call("GET", &search("私人 微信"), Some(&li), None).await;
    assert_eq!(
        json(&body)["items"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );
    let (_, body) = app.call("GET", &search("转账"), Some(&wang), None).await;
    assert_eq!(
        json(&body)["items"].as_array().map(Vec::len),
        Some(0),
        "{body}"
    );
    let (_, body) = app
        .call(
            "GET",
            "/api/v1/archive/search?flagged=true",
            Some(&officer),
            None,
        )
        .await;
    assert!(body.contains("转账给你"), "{body}");
    let (status, csv) = app
        .call(
            "GET",
            &format!(
                "{}&format=csv",
                search("转账").replace("/search", "/export")
            ),
            Some(&officer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert!(
        csv.lines().count() == 2 && csv.contains("转账给你"),
        "{csv}"
    );
    let (_, log) = app
        .call("GET", "/api/v1/audit?limit=5000", Some(&officer), None)
        .await;
    assert!(
        log.contains("\"subject\":\"archive search\""),
        "searches and exports are audited"
    );

    // Opening the thread marks it read; the officer resolves the item with a note.
    let (_, body) = app
        .call(
            "GET",
            &format!("/api/v1/conversations/{}", client.0),
            Some(&li),
            None,
        )
        .await;
    assert!(body.contains("你加我私人微信吧"));
    let (_, body) = app
        .call("GET", "/api/v1/conversations", Some(&li), None)
        .await;
    assert!(body.contains("\"unread\":0"), "{body}");
    let (status, body) = app
        .call(
            "POST",
            &format!("/api/v1/compliance/flags/{}/review", item["id"]),
            Some(&officer),
            Some((
                "application/json",
                r#"{"outcome":"resolve","note":"Client reminded of official payment"}"#.into(),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .call(
            "POST",
            &format!("/api/v1/compliance/flags/{}/review", item["id"]),
            Some(&officer),
            Some(("application/json", r#"{"outcome":"dismiss"}"#.into())),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn a_blocked_promise_is_refused_and_nothing_reaches_the_provider() {
    let app = spawn(5).await;
    let (client, external) = new_client(&app, "li.na", "Mei").await;
    app.sim
        .client_says(&external, "这只包还有吗？")
        .await
        .expect("says");
    app.settle().await;
    let li = app.token(Role::Associate, Some("li.na")).await;

    let (status, body) = send(&app, &li, client, "这只包我可以给您打八折", "k-blocked").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "blocked_by_rule");
    assert_eq!(body["rule"], "Discount promise (折)");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("Discount promise"),
        "{body}"
    );
    app.salon.dispatch_once().await.expect("dispatch");
    assert!(
        app.sim.accepted("kf/send_msg").is_empty(),
        "nothing reached WeCom"
    );
    assert!(
        app.salon
            .repo
            .outbox_of_client(app.brand.id, client)
            .await
            .expect("outbox")
            .is_empty(),
        "nothing was queued"
    );
    // The attempt is on record for compliance.
    let officer = app.token(Role::Compliance, None).await;
    let (_, queue) = app
        .call("GET", "/api/v1/compliance/flags", Some(&officer), None)
        .await;
    assert!(queue.contains("Discount promise"), "{queue}");

    // A clean reply goes out once, even submitted twice.
    let (status, first) = send(&app, &li, client, "还有的，我为您留一只", "k-1").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let (_, again) = send(&app, &li, client, "还有的，我为您留一只", "k-1").await;
    assert_eq!(first["outbound"]["id"], again["outbound"]["id"]);
    app.salon.dispatch_once().await.expect("dispatch");
    let sent = app.sim.accepted("kf/send_msg");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].detail["touser"], external.as_str());
    assert_eq!(sent[0].detail["text"], "还有的，我为您留一只");
    let (_, row) = app
        .call(
            "GET",
            &format!("/api/v1/outbox/{}", first["outbound"]["id"]),
            Some(&li),
            None,
        )
        .await;
    assert_eq!(json(&row)["status"], "sent", "{row}");
    let (_, thread) = app
        .call(
            "GET",
            &format!("/api/v1/conversations/{}", client.0),
            Some(&li),
            None,
        )
        .await;
    let thread = json(&thread);
    let last = thread["messages"]
        .as_array()
        .expect("messages")
        .last()
        .expect("one")
        .clone();
    assert_eq!(
        (last["direction"].as_str(), last["body"].as_str()),
        (Some("out"), Some("还有的，我为您留一只"))
    );

    // A warning rule lets the message through and tells the associate.
    let (status, warned) = send(&app, &li, client, "给您员工价 special price", "k-2").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(warned["warnings"][0]["rule"], "Price promise", "{warned}");

    // The provider accepted a send but its answer was lost (a crash, a cut connection): the
    // retry carries the same msgid and the client receives it once.
    let (_, lost) = send(&app, &li, client, "周六见", "k-3").await;
    let id = lost["outbound"]["id"].as_i64().expect("id");
    let api = app.salon.wecom_api(app.brand.id).await.expect("api");
    api.kf_send_text(
        sim::tencent::SANDBOX_KF_ID,
        &external,
        &format!("s{}-o{id}", app.brand.id.0),
        "周六见",
    )
    .await
    .expect("the send whose answer was lost");
    dispatch(&app).await;
    let saturday: Vec<_> = app
        .sim
        .accepted("kf/send_msg")
        .into_iter()
        .filter(|e| e.detail["text"] == "周六见")
        .collect();
    assert_eq!(saturday.len(), 1, "delivered once: {saturday:?}");
    let row = app
        .salon
        .repo
        .outbound(app.brand.id, id)
        .await
        .expect("q")
        .expect("row");
    assert_eq!(row.status, OutboundStatus::Sent);
}

#[tokio::test]
async fn a_departed_associates_clients_keep_their_history_with_the_new_associate() {
    let app = spawn(5).await;
    let (client, external) = new_client(&app, "li.na", "Mei").await;
    app.sim
        .client_says(&external, "下周有新品吗？")
        .await
        .expect("says");
    app.settle().await;
    let li = app.token(Role::Associate, Some("li.na")).await;
    let (status, _) = send(&app, &li, client, "有的，周三到店", "h-1").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app.salon.dispatch_once().await.expect("dispatch");

    // Li Na leaves; her manager moves her book to Wang Fang.
    let li_user = app.user("li.na").await;
    let wang = app.user("wang.fang").await;
    app.sim.staff_leaves("li.na").await.expect("leaves");
    app.settle().await;
    let manager = app.token(Role::StoreManager, Some("zhang.min")).await;
    let (status, body) = app
        .call(
            "POST",
            &format!("/api/v1/associates/{}/transfer", li_user.id.0),
            Some(&manager),
            Some(("application/json", format!(r#"{{"to":{}}}"#, wang.id.0))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        !app.sim
            .accepted("externalcontact/resigned/transfer_customer")
            .is_empty()
    );

    let wang_token = app.token(Role::Associate, Some("wang.fang")).await;
    let (status, body) = app
        .call(
            "GET",
            &format!("/api/v1/conversations/{}", client.0),
            Some(&wang_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let thread = json(&body);
    let texts: Vec<&str> = thread["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert!(
        texts.contains(&"下周有新品吗？") && texts.contains(&"有的，周三到店"),
        "{texts:?}"
    );
    // The thread says, as system notices, who serves the client now and what WeCom did.
    let notices: Vec<&str> = thread["notices"]
        .as_array()
        .expect("notices")
        .iter()
        .filter_map(|n| n["text"].as_str())
        .collect();
    assert!(
        notices
            .iter()
            .any(|n| n.starts_with(&format!("Now served by {}", wang.display_name))),
        "{notices:?}"
    );
    assert!(
        notices
            .iter()
            .any(|n| n.starts_with("WeCom moved the contact from")),
        "{notices:?}"
    );
    let (_, inbox) = app
        .call("GET", "/api/v1/conversations", Some(&wang_token), None)
        .await;
    assert!(inbox.contains(&format!("\"client_id\":{}", client.0)));

    // The transfer is in the audit log.
    let officer = app.token(Role::Compliance, None).await;
    let (_, log) = app.call("GET", "/api/v1/audit", Some(&officer), None).await;
    assert!(
        log.contains(&format!("\"subject\":\"user:{}\"", li_user.id.0))
            && log.contains("\"action\":\"transfer\""),
        "{log}"
    );
}

#[tokio::test]
async fn the_audit_chain_verifies_and_catches_a_row_altered_in_the_database() {
    let app = spawn(5).await;
    let officer = app.token(Role::Compliance, None).await;
    let (_, ok) = app
        .call("GET", "/api/v1/audit/verify", Some(&officer), None)
        .await;
    let ok = json(&ok);
    assert_eq!(ok["ok"], true, "{ok}");
    assert!(
        ok["entries"].as_i64().expect("n") > 3,
        "the demo's history is audited: {ok}"
    );

    // Exports and compliance reads are audited.
    let (client, _) = new_client(&app, "li.na", "Mei").await;
    let (status, export) = app
        .call(
            "GET",
            &format!("/api/v1/conversations/{}/export?format=csv", client.0),
            Some(&officer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(export.starts_with("id,at,client_id"), "{export}");
    let (_, log) = app
        .call("GET", "/api/v1/audit?limit=5000", Some(&officer), None)
        .await;
    let entries = json(&log)["items"].as_array().expect("items").clone();
    let last = entries.last().expect("entries");
    assert_eq!(last["action"], "export");
    assert_eq!(last["subject"], format!("client:{}", client.0));

    // Someone edits an entry in the database: the chain names it.
    let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&app.db_url)
        .await
        .expect("db");
    sqlx::query("UPDATE audit_log SET subject = 'client:0' WHERE brand_id = $1 AND seq = 2")
        .bind(app.brand.id.0)
        .execute(&mut db)
        .await
        .expect("tamper");
    let (_, broken) = app
        .call("GET", "/api/v1/audit/verify", Some(&officer), None)
        .await;
    let broken = json(&broken);
    assert_eq!(broken["ok"], false);
    assert_eq!(broken["broken_at"], 2, "{broken}");
    let verdict = app.salon.verify_audit(app.brand.id).await.expect("verify");
    assert_eq!(verdict.map_err(|b| b.seq), Err(2));
}

#[tokio::test]
async fn a_transfer_between_serving_associates_tells_the_client_who_serves_them_now() {
    let app = spawn(5).await;
    let (client, external) = new_client(&app, "li.na", "Mei").await;
    let li = app.user("li.na").await;
    let wang = app.user("wang.fang").await;
    let manager = app.token(Role::StoreManager, Some("zhang.min")).await;
    let (status, body) = app
        .call(
            "POST",
            &format!("/api/v1/associates/{}/transfer", li.id.0),
            Some(&manager),
            Some(("application/json", format!(r#"{{"to":{}}}"#, wang.id.0))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let moved = app.sim.accepted("externalcontact/transfer_customer");
    let mine = moved
        .iter()
        .find(|e| e.detail["external_userid"] == external.as_str())
        .expect("the serving associate's transfer reached WeCom");
    let message = mine.detail["transfer_success_msg"]
        .as_str()
        .expect("a handover message");
    assert!(message.contains("Wang Fang"), "{message}");
    let c = app
        .salon
        .repo
        .client(app.brand.id, client)
        .await
        .expect("q")
        .expect("client");
    assert_eq!(c.associate_id, Some(wang.id));
}

#[tokio::test]
async fn a_client_who_arrives_and_writes_in_one_batch_keeps_the_order() {
    let app = spawn(5).await;
    // Both callbacks wait in the inbox; one pass processes them.
    let external = scan(&app, "li.na", "Yan").await;
    app.sim
        .client_says(&external, "第一条消息")
        .await
        .expect("says");
    app.sim
        .client_says(&external, "第二条消息")
        .await
        .expect("says");
    app.settle().await;
    let client = client_of(&app, &external).await;
    let mut texts: Vec<(i64, String)> = app
        .salon
        .repo
        .messages(app.brand.id, client, 10)
        .await
        .expect("messages")
        .into_iter()
        .filter(|m| m.direction == Direction::In)
        .map(|m| (m.id, m.body))
        .collect();
    texts.sort();
    let bodies: Vec<&str> = texts.iter().map(|(_, b)| b.as_str()).collect();
    assert_eq!(bodies, vec!["第一条消息", "第二条消息"]);
    // A message from a client already known goes through the batched path, once.
    app.sim
        .client_says(&external, "第三条")
        .await
        .expect("says");
    app.settle().await;
    let n = app
        .salon
        .repo
        .messages(app.brand.id, client, 10)
        .await
        .expect("messages")
        .iter()
        .filter(|m| m.body == "第三条")
        .count();
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_associate_sends_an_approved_image_from_the_asset_pool_once() {
    let app = spawn(5).await;
    let (client, external) = new_client(&app, "li.na", "Mei").await;
    app.sim
        .client_says(&external, "有新款的照片吗？")
        .await
        .expect("says");
    app.settle().await;
    let li = app.token(Role::Associate, Some("li.na")).await;
    let image = app.approved_asset().await;
    let body = serde_json::json!({"asset_id": image, "idempotency_key": "img-1"}).to_string();
    let path = format!("/api/v1/conversations/{}/images", client.0);
    let (status, first) = app
        .call(
            "POST",
            &path,
            Some(&li),
            Some(("application/json", body.clone())),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let (_, again) = app
        .call("POST", &path, Some(&li), Some(("application/json", body)))
        .await;
    assert_eq!(json(&first)["id"], json(&again)["id"], "one row per key");
    app.salon.dispatch_once().await.expect("dispatch");
    let sent = app.sim.accepted("kf/send_msg");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].detail["touser"], external.as_str());
    assert!(sent[0].detail["media_id"].is_string(), "{sent:?}");
    assert_eq!(app.sim.accepted("media/upload").len(), 1);
    let (_, thread) = app
        .call(
            "GET",
            &format!("/api/v1/conversations/{}", client.0),
            Some(&li),
            None,
        )
        .await;
    assert!(thread.contains("[image] Winter bag"), "{thread}");
    // Not an approved image: refused, naming the field.
    let (status, e) = app
        .call(
            "POST",
            &path,
            Some(&li),
            Some(("application/json", r#"{"asset_id": 999999}"#.to_owned())),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e.contains("asset_id"), "{e}");
}

/// A few rounds of the outbox dispatcher.
async fn dispatch(app: &TestApp) {
    for _ in 0..3 {
        app.salon.dispatch_once().await.expect("dispatch");
    }
}

/// The outbox row of a send's answer, as the API shows it.
async fn outbox_row(app: &TestApp, token: &str, sent: &Value) -> Value {
    let id = sent["outbound"]["id"].as_i64().expect("row");
    let (_, body) = app
        .call("GET", &format!("/api/v1/outbox/{id}"), Some(token), None)
        .await;
    json(&body)
}

#[tokio::test]
async fn an_official_account_follower_is_answered_through_customer_service_once() {
    let app = spawn(5).await;
    let openid = "oSandboxFollower01";
    app.sim.oa_follow(openid, None).await.expect("follow");
    app.sim
        .oa_says(openid, "请问 Camille 手袋还有黑色吗？")
        .await
        .expect("says");
    for _ in 0..20 {
        app.salon.process_inbox().await.expect("process");
    }
    let client = app
        .salon
        .repo
        .client_by_identity(
            app.brand.id,
            &Identity::parse(IdentityKind::WechatOa, openid).expect("openid"),
        )
        .await
        .expect("lookup")
        .expect("the follower is a client");
    let li = app.user("li.na").await;
    app.salon
        .repo
        .assign(app.brand.id, client, li.id, None, "test")
        .await
        .expect("assign");
    let token = app.token(Role::Associate, Some("li.na")).await;

    // The answer goes to the Official Account (the client has no WeCom contact), once.
    let (status, sent) = send(&app, &token, client, "有的，欢迎来店里试背。", "oa-1").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    assert_eq!(sent["outbound"]["channel"], "wechat_oa", "{sent}");
    dispatch(&app).await;
    let log = app.sim.accepted("message/custom/send");
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].detail["touser"], openid);
    assert_eq!(log[0].detail["text"], "有的，欢迎来店里试背。");
    let thread = app
        .salon
        .repo
        .messages(app.brand.id, client, 10)
        .await
        .expect("thread");
    assert!(
        thread
            .iter()
            .any(|m| m.direction == Direction::Out && m.channel == ChannelKind::WechatOa),
        "the answer is in the thread"
    );

    // An answer lost on the way is not sent again: WeChat has no message id to ask about.
    app.sim.set_faults(sim::tencent::Faults {
        drop_after_handling: 1.0,
        ..sim::tencent::Faults::default()
    });
    let (_, lost) = send(&app, &token, client, "我们周六有新品预览。", "oa-2").await;
    dispatch(&app).await;
    app.sim.set_faults(sim::tencent::Faults::default());
    assert_eq!(
        app.sim.accepted("message/custom/send").len(),
        2,
        "taken once"
    );
    let row = outbox_row(&app, &token, &lost).await;
    assert_eq!(row["status"], "failed", "{row}");
    assert!(
        row["error"].as_str().unwrap_or("").starts_with("unknown"),
        "{row}"
    );

    // After 48 hours without a word from the follower, WeChat refuses, and the row says why.
    app.sim.advance(49 * 3600);
    let (_, late) = send(&app, &token, client, "还在考虑吗？", "oa-3").await;
    dispatch(&app).await;
    assert_eq!(app.sim.accepted("message/custom/send").len(), 2);
    let row = outbox_row(&app, &token, &late).await;
    assert_eq!(row["status"], "failed", "{row}");
    assert!(
        row["error"].as_str().unwrap_or("").contains("45015"),
        "{row}"
    );
}

#[tokio::test]
async fn a_shared_link_and_a_mini_program_page_arrive_as_cards() {
    let app = spawn(5).await;
    let (client, external) = new_client(&app, "li.na", "Mei").await;
    app.sim
        .client_shares(
            &external,
            "link",
            &[
                ("Title", "The Camille bag"),
                ("Description", "Hand-stitched in our atelier"),
                ("Url", "https://maison.example/camille"),
            ],
        )
        .await
        .expect("link");
    app.sim
        .client_shares(
            &external,
            "miniprogrampage",
            &[
                ("Title", "Camille — black"),
                ("AppId", "wx5ea1b2c3d4e5f607"),
                ("PagePath", "pages/product/index?sku=CAM-BLK"),
                ("ThumbUrl", "https://maison.example/t.jpg"),
            ],
        )
        .await
        .expect("page");
    app.settle().await;
    let li = app.token(Role::Associate, Some("li.na")).await;
    let (status, body) = app
        .call(
            "GET",
            &format!("/api/v1/conversations/{}", client.0),
            Some(&li),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let thread = json(&body);
    let messages = thread["messages"].as_array().expect("messages");
    let card = |kind: &str| {
        messages
            .iter()
            .find(|m| m["card"]["kind"] == kind)
            .map(|m| m["card"].clone())
            .unwrap_or_else(|| panic!("a {kind} card in {thread}"))
    };
    let link = card("link");
    assert_eq!(link["title"], "The Camille bag");
    assert_eq!(link["url"], "https://maison.example/camille");
    let page = card("mini_program");
    assert_eq!(page["app_id"], "wx5ea1b2c3d4e5f607");
    assert_eq!(page["page_path"], "pages/product/index?sku=CAM-BLK");
    // The card's words are archived and searchable like any message.
    let (status, body) = app
        .call("GET", "/api/v1/archive/search?q=Camille", Some(&li), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        json(&body)["items"]
            .as_array()
            .is_some_and(|a| a.len() >= 2),
        "{body}"
    );
}

#[tokio::test]
async fn the_demo_thread_shows_a_shared_product_page_as_a_card() {
    let app = spawn(40).await;
    let officer = app.token(Role::Compliance, None).await;
    let (status, body) = app
        .call("GET", "/api/v1/conversations", Some(&officer), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut cards = Vec::new();
    for t in json(&body)["items"].as_array().expect("items") {
        let (_, body) = app
            .call(
                "GET",
                &format!("/api/v1/conversations/{}", t["client_id"]),
                Some(&officer),
                None,
            )
            .await;
        for m in json(&body)["messages"].as_array().into_iter().flatten() {
            if m["card"].is_object() {
                cards.push(m["card"].clone());
            }
        }
    }
    assert_eq!(cards.len(), 1, "{cards:?}");
    assert_eq!(cards[0]["kind"], "link");
    assert_eq!(cards[0]["title"], "Silk scarf, snow print");
}
