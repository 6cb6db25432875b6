//! Customer group chats end to end, against the WeCom simulator: a group an associate opens in
//! WeCom is read into Salon from the `change_external_chat` callback; what is said in it comes
//! through the chat archive reader, is stored once, checked against the rules (a client's
//! discount request and the associate's promise both reach the review queue), searched, and
//! seen only by those whose group it is.

mod support;

use axum::http::StatusCode;
use domain::*;
use serde_json::Value;
use support::{TestApp, spawn};

async fn get(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let (status, body) = app.call("GET", path, Some(token), None).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// Whether the brand's audit log has an entry of this action on this subject.
async fn audited(app: &TestApp, action: &str, subject: &str) -> bool {
    app.salon
        .repo
        .audit_log(app.brand.id, 0, 1000)
        .await
        .expect("log")
        .iter()
        .any(|e| e.action == action && e.subject == subject)
}

#[tokio::test]
async fn a_customer_group_is_read_from_wecom_and_its_words_are_archived_checked_and_scoped() {
    let app = spawn(60).await;
    let clients = app.wecom_clients("li.na").await;
    assert!(clients.len() >= 3, "li.na needs three WeCom clients");
    let (a, ea) = clients[0].clone();
    let eb = clients[1].1.clone();
    let (c, ec) = clients[2].clone();

    // Li Na opens a group in WeCom; the callback makes Salon read its roster.
    let chat = app
        .sim
        .create_group("li.na", "Camille VIP salon", &[&ea, &eb])
        .await
        .expect("group");
    app.settle().await;
    let li = app.token(Role::Associate, Some("li.na")).await;
    let (status, list) = get(&app, &li, "/api/v1/groups").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["name"], "Camille VIP salon");
    assert_eq!(
        (items[0]["members"].as_i64(), items[0]["clients"].as_i64()),
        (Some(3), Some(2))
    );
    let group = items[0]["id"].as_i64().expect("id");

    // Words said in the group and one direct chat, delivered by the archive reader.
    app.sim
        .group_says(&chat, &ea, "这款包能打八折吗？")
        .expect("says");
    app.sim
        .group_says(&chat, "li.na", "可以的，我私下给您打八折")
        .expect("says");
    app.sim
        .group_says(&chat, &eb, "Lovely, see you on Saturday")
        .expect("says");
    app.sim
        .archived_direct("li.na", &ea, "Your Camille is ready in store")
        .expect("direct");
    assert_eq!(app.sim.deliver_archive().await.expect("deliver"), 4);
    assert_eq!(
        app.sim.deliver_archive().await.expect("again"),
        0,
        "the reader goes on after where Salon stands"
    );
    // A batch sent again (a reader that never saw the answer) stores nothing twice.
    let replay = serde_json::json!({"chatdata": app.sim.chat_archive(0, 1000)}).to_string();
    let receipt = app.sim.post_archive(&replay).await.expect("replay");
    assert_eq!(receipt["group_messages"], 0, "{receipt}");
    assert_eq!(receipt["direct_messages"], 0, "{receipt}");
    assert_eq!(receipt["already"], 4, "{receipt}");
    assert_eq!(receipt["seq"], 4, "{receipt}");

    // The group as Li Na reads it: every word in order, with who said it and its flags.
    let (status, thread) = get(&app, &li, &format!("/api/v1/groups/{group}")).await;
    assert_eq!(status, StatusCode::OK, "{thread}");
    let messages = thread["messages"].as_array().expect("messages");
    let said: Vec<(&str, &str)> = messages
        .iter()
        .map(|m| {
            (
                m["sender"]["kind"].as_str().unwrap_or(""),
                m["body"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        said,
        vec![
            ("client", "这款包能打八折吗？"),
            ("associate", "可以的，我私下给您打八折"),
            ("client", "Lovely, see you on Saturday"),
        ]
    );
    assert_eq!(messages[0]["sender"]["id"], a.0);
    let flags = thread["flags"].as_array().expect("flags");
    assert_eq!(flags.len(), 2, "{thread}");

    // The review queue has both: the client's request and the associate's promise.
    let officer = app.token(Role::Compliance, None).await;
    let (_, queue) = get(&app, &officer, "/api/v1/compliance/flags").await;
    let in_group: Vec<&Value> = queue["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|f| f["group_id"] == group)
        .collect();
    assert_eq!(in_group.len(), 2, "{queue}");
    assert!(
        in_group
            .iter()
            .any(|f| f["direction"] == "in" && f["client_id"] == a.0)
    );
    let li_id = app.user("li.na").await.id.0;
    assert!(in_group.iter().any(|f| f["direction"] == "out"
        && f["client_id"].is_null()
        && f["associate_id"] == li_id));
    // The store manager sees them in the store's queue.
    let manager = app.token(Role::StoreManager, Some("zhang.min")).await;
    let (_, mq) = get(&app, &manager, "/api/v1/compliance/flags").await;
    assert!(
        mq["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|f| f["group_id"] == group),
        "{mq}"
    );

    // The direct message is in the client's own thread, as the associate's.
    let (_, t) = get(&app, &li, &format!("/api/v1/conversations/{}", a.0)).await;
    assert!(
        t["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .any(|m| m["body"] == "Your Camille is ready in store" && m["direction"] == "out"),
        "{t}"
    );

    // Searched like any archived word, in the searcher's scope.
    let (status, found) = get(&app, &officer, "/api/v1/groups/search?q=%E5%85%AB%E6%8A%98").await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["items"].as_array().map(Vec::len), Some(2), "{found}");
    assert_eq!(found["items"][0]["group_name"], "Camille VIP salon");
    let (_, mine) = get(&app, &li, "/api/v1/groups/search?q=Saturday").await;
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(1), "{mine}");
    let other = app.token(Role::Associate, Some("wang.fang")).await;
    let (_, theirs) = get(&app, &other, "/api/v1/groups/search?q=Saturday").await;
    assert_eq!(
        theirs["items"].as_array().map(Vec::len),
        Some(0),
        "{theirs}"
    );

    // Another associate neither lists nor opens it; HQ sees figures, not words.
    let (_, list) = get(&app, &other, "/api/v1/groups").await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0), "{list}");
    let (status, _) = get(&app, &other, &format!("/api/v1/groups/{group}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let hq = app.token(Role::Hq, None).await;
    let (status, list) = get(&app, &hq, "/api/v1/groups").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"][0]["messages"], 3, "{list}");
    let (status, _) = get(&app, &hq, &format!("/api/v1/groups/{group}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A compliance officer's reading is audited.
    let (status, _) = get(&app, &officer, &format!("/api/v1/groups/{group}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(audited(&app, "compliance_read", &format!("group:{group}")).await);

    // Compliance exports the group's words (audited); an associate may not.
    let (status, csv) = app
        .call(
            "GET",
            &format!("/api/v1/groups/{group}/export?format=csv"),
            Some(&officer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "id,at,group_id,sender_ref,client_id,associate_id,msg_type,body"
    );
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[2].ends_with("可以的，我私下给您打八折"), "{csv}");
    assert!(audited(&app, "export", &format!("group:{group}")).await);
    let (status, _) = app
        .call(
            "GET",
            &format!("/api/v1/groups/{group}/export"),
            Some(&li),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A client joins; the group is dismissed: the roster follows, the words stay.
    app.sim.join_group(&chat, &ec).await.expect("join");
    app.settle().await;
    let (_, list) = get(&app, &li, &format!("/api/v1/groups?client={}", c.0)).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["items"][0]["clients"], 3);
    app.sim.dismiss_group(&chat).await.expect("dismiss");
    app.settle().await;
    let (_, thread) = get(&app, &li, &format!("/api/v1/groups/{group}")).await;
    assert!(thread["group"]["dismissed_at"].is_i64(), "{thread}");
    assert_eq!(thread["messages"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn a_refused_archive_batch_names_the_problem_and_stores_nothing() {
    let app = spawn(20).await;
    let (_, ea) = app.wecom_clients("li.na").await.remove(0);
    let chat = app
        .sim
        .create_group("li.na", "Private viewing", &[&ea])
        .await
        .expect("group");
    app.settle().await;
    let entry = |seq: i64, from: &str, text: &str| {
        serde_json::json!({"seq": seq, "message": {"msgid": format!("bad-{seq}"), "action": "send",
            "from": from, "tolist": ["li.na"], "roomid": chat, "msgtime": 1_700_000_000_000i64 + seq,
            "msgtype": "text", "text": {"content": text}}})
    };
    // The second entry has no sender: the whole batch is refused, naming it.
    let bad = serde_json::json!({"chatdata": [entry(1, &ea, "hello"), entry(2, "", "who am I")]});
    let e = app
        .sim
        .post_archive(&bad.to_string())
        .await
        .expect_err("refused");
    let e = e.to_string();
    assert!(
        e.contains("400") && e.contains("chatdata[1] (seq 2): message.from is empty"),
        "{e}"
    );
    let groups = app
        .salon
        .repo
        .groups(app.brand.id, Scope::Brand, None, 10)
        .await
        .expect("groups");
    assert_eq!(
        groups[0].messages, 0,
        "nothing of a refused batch is stored"
    );
    assert_eq!(app.salon.archive_seq(app.brand.id).await.expect("seq"), 0);
    // A batch not signed with the app's keys is refused before it is read.
    let (status, _) = app
        .call(
            "POST",
            "/channels/wecom/demo/archive?msg_signature=x&timestamp=1&nonce=2",
            None,
            Some(("application/json", r#"{"encrypt": "AAAA"}"#.to_owned())),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The good part, sent again on its own, is taken.
    let good = serde_json::json!({"chatdata": [entry(1, &ea, "hello")]});
    let receipt = app
        .sim
        .post_archive(&good.to_string())
        .await
        .expect("taken");
    assert_eq!(receipt["group_messages"], 1, "{receipt}");
    assert_eq!(receipt["seq"], 1);
}

#[tokio::test]
async fn an_owner_posts_to_their_group_once_through_wecom_and_a_blocked_promise_never_leaves() {
    let app = spawn(40).await;
    let (_, ea) = app.wecom_clients("li.na").await.remove(0);
    let chat = app
        .sim
        .create_group("li.na", "Spring preview", &[&ea])
        .await
        .expect("group");
    app.settle().await;
    let group = app
        .salon
        .repo
        .group_by_chat_id(app.brand.id, &chat)
        .await
        .expect("q")
        .expect("read")
        .id;
    let li = app.token(Role::Associate, Some("li.na")).await;
    let post = |token: String, text: &'static str, key: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app
                .call(
                    "POST",
                    &format!("/api/v1/groups/{group}/messages"),
                    Some(&token),
                    Some((
                        "application/json",
                        serde_json::json!({"text": text, "idempotency_key": key}).to_string(),
                    )),
                )
                .await;
            (
                status,
                serde_json::from_str::<Value>(&body).unwrap_or(Value::Null),
            )
        }
    };

    // A discount promise is refused before anything is queued, naming the rule.
    let (status, body) = post(li.clone(), "全场我私下给大家打八折", "g-0").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "blocked_by_rule");
    let officer = app.token(Role::Compliance, None).await;
    let (_, queue) = get(&app, &officer, "/api/v1/compliance/flags").await;
    assert!(
        queue["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|f| f["group_id"] == group
                && f["direction"] == "out"
                && f["message_id"].is_null()
                && f["group_message_id"].is_null()),
        "the attempt is recorded: {queue}"
    );

    // A post, submitted twice with one key, is one post; others may not post for the owner.
    let (status, first) = post(li.clone(), "Private preview on Saturday at 3pm", "g-1").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let (_, again) = post(li.clone(), "Private preview on Saturday at 3pm", "g-1").await;
    assert_eq!(first["id"], again["id"]);
    let manager = app.token(Role::StoreManager, Some("zhang.min")).await;
    let (status, _) = post(manager, "From the manager", "g-2").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let other = app.token(Role::Associate, Some("wang.fang")).await;
    let (status, _) = post(other, "Not my group", "g-3").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The dispatcher hands it to WeCom once, as a group message from the owner; the owner
    // confirms, and the archive brings the words back into the group.
    app.salon.broadcast_once().await.expect("dispatch");
    app.salon.broadcast_once().await.expect("again");
    let calls: Vec<_> = app
        .sim
        .accepted("externalcontact/add_msg_template")
        .into_iter()
        .filter(|e| e.detail["chat_id_list"] == serde_json::json!([chat]))
        .collect();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].detail["sender"], "li.na");
    assert_eq!(
        calls[0].detail["text"],
        "Private preview on Saturday at 3pm"
    );
    let (_, thread) = get(&app, &li, &format!("/api/v1/groups/{group}")).await;
    assert_eq!(thread["pending"][0]["status"], "sent", "{thread}");
    app.sim.deliver_archive().await.expect("archive");
    let (_, thread) = get(&app, &li, &format!("/api/v1/groups/{group}")).await;
    let messages = thread["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 1, "{thread}");
    assert_eq!(messages[0]["body"], "Private preview on Saturday at 3pm");
    assert_eq!(messages[0]["sender"]["kind"], "associate");
    assert_eq!(
        thread["pending"].as_array().map(Vec::len),
        Some(0),
        "once archived, the post shows as said: {thread}"
    );
}
