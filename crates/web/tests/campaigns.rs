//! Segments, campaigns and prepared messages end to end through the API, against the WeCom
//! simulator: a live count that names a bad term; a broadcast planned with its suppressions
//! and sent once; a second broadcast the same day that reaches nobody twice; and HQ's prepared
//! message sent by an associate to their own clients, personalised, received in the simulator.

mod support;

use axum::http::StatusCode;
use domain::*;
use serde_json::{Value, json};
use support::{TestApp, spawn};

fn j(s: &str) -> Value {
    serde_json::from_str(s).expect("json")
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let (st, b) = app
        .call(
            "POST",
            path,
            Some(token),
            Some(("application/json", body.to_string())),
        )
        .await;
    (st, j(&b))
}

async fn get(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let (st, b) = app.call("GET", path, Some(token), None).await;
    (st, j(&b))
}

/// Runs the dispatcher until nothing is left to hand over.
async fn drain(app: &TestApp) {
    for _ in 0..200 {
        if app.salon.broadcast_once().await.expect("dispatch") == 0 {
            for _ in 0..20 {
                app.salon
                    .confirm_deliveries(std::time::Duration::ZERO)
                    .await
                    .expect("deliveries");
            }
            return;
        }
    }
    panic!("the dispatcher did not settle");
}

async fn no_quiet_hours(app: &TestApp, hq: &str) {
    let (st, b) = app
        .call(
            "PUT",
            "/api/v1/contact-policy",
            Some(hq),
            Some((
                "application/json",
                json!({"per_week": 3, "per_month": 8, "quiet_start": 0, "quiet_end": 0, "sa_daily_quota": 1000})
                    .to_string(),
            )),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
}

#[tokio::test(flavor = "multi_thread")]
async fn segments_count_live_and_broadcasts_reach_each_client_once_a_day() {
    let app = spawn(60).await;
    let hq = app.token(Role::Hq, None).await;
    no_quiet_hours(&app, &hq).await;

    // The live count, and an error that names the term.
    let (st, c) = post(
        &app,
        &hq,
        "/api/v1/segments/count",
        json!({"expression": "consent:wecom AND channel:wecom"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{c}");
    let reachable = c["count"].as_u64().expect("count");
    assert!(
        reachable > 0 && reachable <= c["of"].as_u64().expect("of"),
        "{c}"
    );
    let (st, e) = post(
        &app,
        &hq,
        "/api/v1/segments/count",
        json!({"expression": "consent:wecom AND colour:red"}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        e["message"]
            .as_str()
            .unwrap_or("")
            .contains("unknown field \"colour\""),
        "{e}"
    );
    // Saved, then used by a campaign.
    let (st, seg) = post(
        &app,
        &hq,
        "/api/v1/segments",
        json!({"name": "All", "expression": "channel:wecom"}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{seg}");
    let (st, camp) = post(&app, &hq, "/api/v1/campaigns", json!({
        "name": "Preview", "segment_id": seg["id"], "text": "{sa.name} invites you to the winter preview"
    })).await;
    assert_eq!(st, StatusCode::CREATED, "{camp}");
    assert_eq!(camp["status"], "draft");
    let id = camp["id"].as_i64().expect("id");
    let (st, planned) = post(
        &app,
        &hq,
        &format!("/api/v1/campaigns/{id}/plan"),
        json!({}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{planned}");
    assert_eq!(planned["planned"].as_u64(), Some(reachable), "{planned}");
    drain(&app).await;
    let (_, report) = get(&app, &hq, &format!("/api/v1/campaigns/{id}")).await;
    let r = &report["report"];
    assert_eq!(r["planned"], 0, "{r}");
    assert_eq!(r["sent"].as_u64(), Some(reachable), "{r}");
    assert_eq!(
        r["delivered"].as_u64(),
        Some(reachable),
        "the simulator reports them received: {r}"
    );
    let reasons: Vec<&str> = r["suppressed_by"]
        .as_array()
        .expect("reasons")
        .iter()
        .filter_map(|p| p[0].as_str())
        .collect();
    assert!(
        reasons.contains(&"no_consent") || reasons.contains(&"opted_out"),
        "{r}"
    );

    // A second broadcast the same day: everyone already had one.
    let (_, second) = post(
        &app,
        &hq,
        "/api/v1/campaigns",
        json!({
            "name": "Again", "expression": "channel:wecom", "text": "One more thing"
        }),
    )
    .await;
    let id2 = second["id"].as_i64().expect("id");
    let (_, planned) = post(
        &app,
        &hq,
        &format!("/api/v1/campaigns/{id2}/plan"),
        json!({}),
    )
    .await;
    assert_eq!(planned["planned"], 0, "{planned}");
    drain(&app).await;
    let log = app.sim.accepted("externalcontact/add_msg_template");
    let mut seen = std::collections::HashSet::new();
    for e in &log {
        for u in e.detail["external_userid"].as_array().into_iter().flatten() {
            assert!(
                seen.insert(u.as_str().unwrap_or("").to_owned()),
                "{u} received two broadcasts"
            );
        }
    }
    assert_eq!(seen.len() as u64, reachable);
    let (_, sends) = get(
        &app,
        &hq,
        &format!("/api/v1/campaigns/{id2}/sends?status=suppressed&limit=500"),
    )
    .await;
    let capped = sends["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|s| s["reason"] == "daily_cap")
        .count() as u64;
    assert_eq!(capped, reachable, "{sends}");

    // Bad input names what is wrong; roles are enforced.
    let (st, e) = post(
        &app,
        &hq,
        "/api/v1/campaigns",
        json!({"name": "X", "expression": "tier:gold", "text": "Hi {client.nick}"}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        e["message"]
            .as_str()
            .unwrap_or("")
            .contains("{client.nick}"),
        "{e}"
    );
    let sa = app.token(Role::Associate, Some("li.na")).await;
    let (st, _) = post(
        &app,
        &sa,
        "/api/v1/campaigns",
        json!({"name": "X", "expression": "tier:gold", "text": "Hi"}),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_associate_sends_hqs_prepared_message_to_their_own_clients() {
    let app = spawn(60).await;
    let hq = app.token(Role::Hq, None).await;
    no_quiet_hours(&app, &hq).await;
    let who = "li.na";
    let me = app.user(who).await;
    let sa = app.token(Role::Associate, Some(who)).await;
    let (st, camp) = post(
        &app,
        &hq,
        "/api/v1/campaigns",
        json!({
            "name": "Birthday wishes", "kind": "prepared",
            "expression": "consent:wecom AND channel:wecom",
            "text": "Dear {client.first_name}, {sa.name} wishes you a wonderful season"
        }),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{camp}");
    assert_eq!(
        camp["status"], "planned",
        "a prepared message is open at once"
    );
    let (st, tasks) = get(&app, &sa, "/api/v1/tasks").await;
    assert_eq!(st, StatusCode::OK, "{tasks}");
    let task = &tasks["items"][0];
    let mine = task["clients"].as_array().expect("clients").len();
    assert!(mine > 0, "{task}");
    assert!(
        task["preview"]
            .as_str()
            .unwrap_or("")
            .contains(&me.display_name),
        "{task}"
    );
    let id = task["campaign"]["id"].as_i64().expect("id");
    let (st, sent) = post(&app, &sa, &format!("/api/v1/tasks/{id}/send"), json!({})).await;
    assert_eq!(st, StatusCode::OK, "{sent}");
    assert_eq!(sent["planned"].as_u64(), Some(mine as u64), "{sent}");
    drain(&app).await;
    // Each of the associate's clients received their own text, from the associate's account.
    let log = app.sim.accepted("externalcontact/add_msg_template");
    assert_eq!(log.len(), mine, "one personalised message each");
    let wecom_id = app
        .salon
        .repo
        .staff_provider_ids(app.brand.id, "wecom")
        .await
        .expect("ids")
        .into_iter()
        .find(|(u, _)| *u == me.id)
        .map(|(_, v)| v)
        .expect("linked");
    for e in &log {
        assert_eq!(e.detail["sender"], wecom_id.as_str());
        let text = e.detail["text"].as_str().unwrap_or("");
        assert!(
            text.starts_with("Dear ") && text.contains(&me.display_name),
            "{text}"
        );
        assert!(!text.contains('{'), "placeholders filled: {text}");
    }
    // Nothing left for the associate; the thread keeps what was said.
    let (_, tasks) = get(&app, &sa, "/api/v1/tasks").await;
    assert_eq!(
        tasks["items"][0]["clients"].as_array().map(Vec::len),
        Some(0)
    );
    assert_eq!(tasks["items"][0]["done"].as_u64(), Some(mine as u64));
    // HQ sees who sent what in the report; a colleague cannot send it for li.na's clients.
    let (_, report) = get(&app, &hq, &format!("/api/v1/campaigns/{id}")).await;
    assert_eq!(
        report["report"]["sent"].as_u64(),
        Some(mine as u64),
        "{report}"
    );
    let (st, _) = post(&app, &hq, &format!("/api/v1/tasks/{id}/send"), json!({})).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_moments_post_reaches_wecom_for_the_chosen_associates_and_a_blocked_one_never_does() {
    let app = spawn(40).await;
    let hq = app.token(Role::Hq, None).await;
    let sa = app.token(Role::Associate, Some("li.na")).await;
    let (st, e) = post(
        &app,
        &hq,
        "/api/v1/moments",
        json!({"text": "全场打八折，快来"}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"], "blocked_by_rule", "{e}");
    let image = app.approved_asset().await;
    let (st, m) = post(
        &app,
        &hq,
        "/api/v1/moments",
        json!({"text": "The winter collection has arrived in store", "asset_ids": [image]}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    assert_eq!(m["status"], "queued");
    let everyone = m["senders"].as_array().expect("senders").len();
    assert!(everyone > 1, "all linked associates: {m}");
    let (st, mine) = post(
        &app,
        &sa,
        "/api/v1/me/moments",
        json!({"text": "My picks for the holidays"}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{mine}");
    assert_eq!(mine["senders"].as_array().map(Vec::len), Some(1));
    app.salon.process_moments().await.expect("moments");
    let tasks = app.sim.accepted("externalcontact/add_moment_task");
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    assert_eq!(
        tasks[0].detail["text"],
        "The winter collection has arrived in store"
    );
    assert_eq!(
        tasks[0].detail["senders"].as_array().map(Vec::len),
        Some(everyone)
    );
    assert_eq!(tasks[1].detail["senders"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        tasks[0].detail["images"].as_array().map(Vec::len),
        Some(1),
        "the image went with it"
    );
    assert_eq!(app.sim.accepted("media/upload").len(), 1);
    let (_, list) = get(&app, &hq, "/api/v1/moments").await;
    assert!(
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|m| m["status"] == "submitted" && m["jobid"].is_string()),
        "{list}"
    );
    // Nothing is posted twice.
    app.salon.process_moments().await.expect("again");
    assert_eq!(app.sim.accepted("externalcontact/add_moment_task").len(), 2);

    // Once WeCom has done the task, what came of the post is read: who published it, how many
    // clients see it, and which clients liked it or commented, as the simulator decided.
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    app.salon.process_moments().await.expect("results");
    let (_, list) = get(&app, &hq, "/api/v1/moments").await;
    let items = list["items"].as_array().expect("items");
    let post = items
        .iter()
        .find(|m| m["text"] == "The winter collection has arrived in store")
        .expect("the post");
    assert_eq!(post["status"], "done", "{post}");
    let moment_id = post["moment_id"].as_str().expect("moment id");
    let reactions = app.sim.moment_reactions(moment_id);
    assert!(!reactions.is_empty(), "the associates' clients see it");
    let reach = post["reach"].as_array().expect("reach");
    assert_eq!(reach.len(), everyone, "{post}");
    assert!(reach.iter().all(|r| r["published"] == true), "{post}");
    let total = |key: &str| -> usize {
        reach
            .iter()
            .map(|r| {
                r[key]
                    .as_array()
                    .map_or_else(|| r[key].as_u64().unwrap_or(0) as usize, Vec::len)
            })
            .sum()
    };
    assert_eq!(total("seen_by"), reactions.len());
    assert_eq!(
        total("liked_by"),
        reactions.iter().filter(|r| r.liked).count()
    );
    assert_eq!(
        total("commented_by"),
        reactions.iter().filter(|r| r.commented).count()
    );
    assert!(total("liked_by") > 0, "{post}");
    // An associate sees what came of their own posting only.
    let (st, theirs) = get(&app, &sa, "/api/v1/me/moments").await;
    assert_eq!(st, StatusCode::OK, "{theirs}");
    let li = app.user("li.na").await;
    let mut seen = 0;
    for m in theirs["items"].as_array().expect("items") {
        for r in m["reach"].as_array().expect("reach") {
            assert_eq!(r["associate_id"].as_i64(), Some(li.id.0), "{m}");
            seen += 1;
        }
    }
    assert_eq!(seen, 2, "the brand's post and their own: {theirs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn hq_approves_an_image_and_associates_send_it_with_their_message() {
    let app = spawn(60).await;
    let hq = app.token(Role::Hq, None).await;
    let sa = app.token(Role::Associate, Some("li.na")).await;
    no_quiet_hours(&app, &hq).await;
    // The content decides, not the name; the error names the field.
    let (ct, body) = support::asset_multipart("Fake", b"GIF89a not a png");
    let (st, e) = app
        .call_raw("POST", "/api/v1/assets", Some(&hq), &ct, body)
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e.contains("file") && e.contains("PNG or JPEG"), "{e}");
    let (ct, body) = support::asset_multipart("Winter bag", &support::png(640, 480));
    let (st, a) = app
        .call_raw("POST", "/api/v1/assets", Some(&hq), &ct, body)
        .await;
    assert_eq!(st, StatusCode::CREATED, "{a}");
    let a = j(&a);
    assert_eq!(a["status"], "draft");
    assert_eq!(
        (a["file"]["width"].as_i64(), a["file"]["height"].as_i64()),
        (Some(640), Some(480))
    );
    let id = a["id"].as_i64().expect("id");
    let listed = |list: &Value| -> Option<Value> {
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|x| x["id"].as_i64() == Some(id))
            .cloned()
    };
    // A draft is HQ's alone.
    let (_, list) = get(&app, &sa, "/api/v1/assets").await;
    assert!(listed(&list).is_none(), "{list}");
    let (st, _) = app
        .call(
            "GET",
            &format!("/api/v1/assets/{id}/image"),
            Some(&sa),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, e) = post(&app, &hq, "/api/v1/campaigns", json!({
        "name": "X", "kind": "prepared", "expression": "channel:wecom", "text": "Hi", "asset_ids": [id]
    })).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (st, ok) = post(
        &app,
        &hq,
        &format!("/api/v1/assets/{id}/status"),
        json!({"status": "approved"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{ok}");
    let (_, list) = get(&app, &sa, "/api/v1/assets").await;
    assert!(listed(&list).is_some(), "{list}");
    let (st, thumb) = app
        .call(
            "GET",
            &format!("/api/v1/assets/{id}/image?thumb=true"),
            Some(&sa),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(!thumb.is_empty());

    // HQ's prepared message carries the image; li.na sends it.
    let (st, camp) = post(&app, &hq, "/api/v1/campaigns", json!({
        "name": "Winter bag", "kind": "prepared", "expression": "consent:wecom AND channel:wecom",
        "text": "{sa.name}: the winter bag has arrived", "asset_ids": [id]
    })).await;
    assert_eq!(st, StatusCode::CREATED, "{camp}");
    let cid = camp["id"].as_i64().expect("id");
    let (_, sent) = post(&app, &sa, &format!("/api/v1/tasks/{cid}/send"), json!({})).await;
    let n = sent["planned"].as_u64().expect("planned");
    assert!(n > 0, "{sent}");
    drain(&app).await;
    let uploads = app.sim.accepted("media/upload");
    assert_eq!(uploads.len(), 1, "the image is uploaded once: {uploads:?}");
    let media = uploads[0].detail["media_id"]
        .as_str()
        .expect("media id")
        .to_owned();
    let log = app.sim.accepted("externalcontact/add_msg_template");
    assert!(!log.is_empty());
    for e in &log {
        assert_eq!(e.detail["images"], json!([media]), "{e:?}");
    }
    // The pool knows who received it, whom WeCom confirmed it reached, and who wrote back.
    let (_, list) = get(&app, &hq, "/api/v1/assets").await;
    assert_eq!(
        listed(&list).expect("listed")["clients"].as_u64(),
        Some(n),
        "{list}"
    );
    let (_, report) = get(&app, &hq, &format!("/api/v1/campaigns/{cid}")).await;
    let delivered = report["report"]["delivered"].as_u64().expect("delivered");
    assert!(delivered > 0, "{report}");
    assert_eq!(
        listed(&list).expect("listed")["delivered"].as_u64(),
        Some(delivered),
        "{list}"
    );
    assert_eq!(listed(&list).expect("listed")["replies"].as_u64(), Some(0));
    let first = log[0].detail["external_userid"][0]
        .as_str()
        .expect("a receiver")
        .to_owned();
    app.sim
        .client_says(&first, "Is the winter bag still available in black?")
        .await
        .expect("says");
    for _ in 0..20 {
        app.salon.process_inbox().await.expect("process");
    }
    let (_, list) = get(&app, &hq, "/api/v1/assets").await;
    assert_eq!(
        listed(&list).expect("listed")["replies"].as_u64(),
        Some(1),
        "{list}"
    );
    // Retired: gone from the associates' pool.
    post(
        &app,
        &hq,
        &format!("/api/v1/assets/{id}/status"),
        json!({"status": "retired"}),
    )
    .await;
    let (_, list) = get(&app, &sa, "/api/v1/assets").await;
    assert!(listed(&list).is_none(), "{list}");
    let (st, e) = post(
        &app,
        &hq,
        &format!("/api/v1/assets/{id}/status"),
        json!({"status": "draft"}),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{e}");
}
