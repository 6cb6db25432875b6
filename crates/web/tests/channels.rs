//! The WeChat channels end to end: Tencent's sample requests through the HTTP endpoints, refusals
//! that store nothing, retries stored once, and the simulator driving onboarding (scan → client
//! book, tagged and welcomed), OA follows and messages, with faults injected.

mod support;

use axum::http::StatusCode;
use channels::samples::*;
use domain::*;
use sim::tencent::Faults;
use support::{TestApp, enc, spawn};

async fn with_tencent_samples(app: &TestApp) {
    app.salon
        .set_channel_settings(
            app.brand.id,
            ChannelKind::Wecom,
            &app::channels::ChannelInput {
                app_id: Some(WECOM_CORP_ID.into()),
                agent_id: Some("1000002".into()),
                secret: Some("sample-secret".into()),
                token: Some(WECOM_TOKEN.into()),
                aes_key: Some(WECOM_AES_KEY.into()),
                api_base: Some(app.sim_url.clone()),
                menu: None,
            },
        )
        .await
        .expect("wecom settings");
    app.salon
        .set_channel_settings(
            app.brand.id,
            ChannelKind::WechatOa,
            &app::channels::ChannelInput {
                app_id: Some(OA_APP_ID.into()),
                secret: Some("sample-secret".into()),
                token: Some(OA_TOKEN.into()),
                aes_key: Some(OA_AES_KEY.into()),
                ..Default::default()
            },
        )
        .await
        .expect("oa settings");
}

/// Pins the clock callback timestamps are checked against (Tencent's sample requests were
/// signed years ago; a real callback must be within five minutes of the server's clock).
fn pin_clock(app: &TestApp, timestamp: &str) {
    let t: i64 = timestamp.parse().expect("a timestamp");
    if let Ok(mut c) = app.salon.channels.callback_clock.write() {
        *c = Some(t);
    }
}

/// Both channels' inboxes together.
async fn inbox(app: &TestApp) -> InboxCounts {
    let mut all = InboxCounts::default();
    for kind in ChannelKind::ALL {
        let c = app
            .salon
            .repo
            .inbox_counts(app.brand.id, kind, app::channels::MAX_ATTEMPTS)
            .await
            .expect("counts");
        all.received += c.received;
        all.processed += c.processed;
        all.pending += c.pending;
        all.failed += c.failed;
    }
    all
}

/// The WeCom config id of the associate's channel QR code (the sandbox makes one each).
async fn config_of(app: &TestApp, associate: &User) -> String {
    app.salon
        .repo
        .contact_ways(app.brand.id)
        .await
        .expect("ways")
        .into_iter()
        .find(|w| w.user_id == Some(associate.id))
        .and_then(|w| w.config_id)
        .expect("the associate's code, registered with WeCom")
}

/// Processes the inbox until nothing is pending (failed callbacks are retried on each pass).
async fn settle(app: &TestApp) {
    for _ in 0..20 {
        app.salon.process_inbox().await.expect("process");
        if inbox(app).await.pending == 0 {
            return;
        }
    }
    panic!("the inbox did not settle: {:?}", inbox(app).await);
}

#[tokio::test]
async fn tencent_sample_requests_pass_through_the_endpoints() {
    let app = spawn(5).await;
    with_tencent_samples(&app).await;
    // URL verification: the plaintext of echostr, nothing added; percent-encoded or not.
    let expected = channels::wecom::MsgCrypt::new(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID)
        .expect("key")
        .verify_url(
            WECOM_VERIFY_SIG,
            WECOM_VERIFY_TIMESTAMP,
            WECOM_VERIFY_NONCE,
            WECOM_VERIFY_ECHOSTR,
        )
        .expect("sample");
    pin_clock(&app, WECOM_VERIFY_TIMESTAMP);
    for echostr in [enc(WECOM_VERIFY_ECHOSTR), WECOM_VERIFY_ECHOSTR.to_owned()] {
        let (status, body) = app
            .call(
                "GET",
                &format!(
                    "/channels/wecom/demo/callback?msg_signature={WECOM_VERIFY_SIG}&timestamp={WECOM_VERIFY_TIMESTAMP}&nonce={WECOM_VERIFY_NONCE}&echostr={echostr}"
                ),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, expected);
    }
    // The sample message: acknowledged with an empty body, stored once even when replayed.
    pin_clock(&app, WECOM_POST_TIMESTAMP);
    let before = inbox(&app).await;
    for _ in 0..3 {
        let (status, body) = app
            .call(
                "POST",
                &format!("/channels/wecom/demo/callback?msg_signature={WECOM_POST_SIG}&timestamp={WECOM_POST_TIMESTAMP}&nonce={WECOM_POST_NONCE}"),
                None,
                Some(("text/xml", WECOM_POST_BODY.into())),
            )
            .await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    }
    assert_eq!(inbox(&app).await.received, before.received + 1);
    // The OA's sample, through the OA endpoint.
    pin_clock(&app, OA_POST_TIMESTAMP);
    let (status, _) = app
        .call(
            "POST",
            &format!("/channels/wechat-oa/demo/callback?msg_signature={OA_POST_SIG}&timestamp={OA_POST_TIMESTAMP}&nonce={OA_POST_NONCE}&encrypt_type=aes"),
            None,
            Some(("text/xml", OA_POST_BODY.into())),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(inbox(&app).await.received, before.received + 2);
    settle(&app).await;
    assert_eq!(inbox(&app).await.failed, 0);
}

#[tokio::test]
async fn refused_callbacks_store_nothing() {
    let app = spawn(5).await;
    with_tencent_samples(&app).await;
    let post = |q: String, body: String| {
        let app = &app;
        async move {
            app.call(
                "POST",
                &format!("/channels/wecom/demo/callback?{q}"),
                None,
                Some(("text/xml", body)),
            )
            .await
            .0
        }
    };
    let good_q = format!(
        "msg_signature={WECOM_POST_SIG}&timestamp={WECOM_POST_TIMESTAMP}&nonce={WECOM_POST_NONCE}"
    );
    pin_clock(&app, WECOM_POST_TIMESTAMP);
    let before = inbox(&app).await;
    // A wrong signature, a changed timestamp.
    assert_eq!(
        post(good_q.replace("0c39", "0c40"), WECOM_POST_BODY.into()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(
            good_q.replace(WECOM_POST_TIMESTAMP, "1476422780"),
            WECOM_POST_BODY.into()
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
    // Malformed: not XML, no Encrypt, a DTD, too large, no query.
    assert_eq!(
        post(good_q.clone(), "not xml".into()).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post(
            good_q.clone(),
            "<xml><ToUserName>x</ToUserName></xml>".into()
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post(
            good_q.clone(),
            "<!DOCTYPE xml [<!ENTITY a \"b\">]><xml><Encrypt>&a;</Encrypt></xml>".into()
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post(good_q.clone(), "x".repeat(70_000)).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        post(String::new(), WECOM_POST_BODY.into()).await,
        StatusCode::BAD_REQUEST
    );
    // A message for another corp, correctly signed with our token.
    let other =
        channels::wecom::MsgCrypt::new(WECOM_TOKEN, WECOM_AES_KEY, "wwSomeoneElse").expect("key");
    let encrypted = other
        .encrypt(b"<xml><CreateTime>1</CreateTime><MsgType>text</MsgType><MsgId>1</MsgId></xml>");
    let sig = other.sign("1", "2", &encrypted);
    assert_eq!(
        post(
            format!("msg_signature={sig}&timestamp=1&nonce=2"),
            format!("<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
        )
        .await,
        StatusCode::FORBIDDEN
    );
    // A correctly encrypted body that is not a callback.
    let ours =
        channels::wecom::MsgCrypt::new(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID).expect("key");
    let encrypted = ours.encrypt(b"<xml><MsgType>text</MsgType></xml>");
    let sig = ours.sign("1", "2", &encrypted);
    assert_eq!(
        post(
            format!("msg_signature={sig}&timestamp=1&nonce=2"),
            format!("<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    // Unknown brand or channel.
    let (status, _) = app
        .call(
            "POST",
            &format!("/channels/wecom/nobody/callback?{good_q}"),
            None,
            Some(("text/xml", WECOM_POST_BODY.into())),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call(
            "GET",
            &format!("/channels/line/demo/callback?{good_q}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(inbox(&app).await, before, "nothing was stored");
}

#[tokio::test]
async fn a_client_scans_a_qr_code_follows_the_oa_and_writes() {
    let app = spawn(5).await;
    let li = app.user("li.na").await;
    let way = app
        .salon
        .repo
        .contact_ways(app.brand.id)
        .await
        .expect("ways")
        .into_iter()
        .find(|w| w.user_id == Some(li.id))
        .expect("li.na has a QR code");
    let config_id = way.config_id.clone().expect("registered with WeCom");
    assert!(
        way.qr_code
            .as_deref()
            .is_some_and(|q| q.contains(&config_id))
    );

    // The client scans and adds Li Na.
    let external = app
        .sim
        .client_scans(&config_id, "林小姐", Some("13911112222"))
        .await
        .expect("scan");
    settle(&app).await;
    let identity = Identity::parse(IdentityKind::Wecom, &external).expect("id");
    let client_id = app
        .salon
        .repo
        .client_by_identity(app.brand.id, &identity)
        .await
        .expect("q")
        .expect("the client exists");
    let client = app
        .salon
        .repo
        .client(app.brand.id, client_id)
        .await
        .expect("q")
        .expect("client");
    assert_eq!(client.associate_id, Some(li.id), "in Li Na's book");
    assert_eq!(client.store_id, li.store_id);
    assert_eq!(client.pii.chinese_name.as_deref(), Some("林小姐"));
    assert_eq!(
        client.pii.phone.as_ref().map(|p| p.as_str()),
        Some("+8613911112222")
    );
    assert!(client.tags.iter().any(|t| t.as_str() == "qr-onboarding"));
    assert!(
        client
            .consents
            .iter()
            .any(|c| c.channel == "wecom" && c.source == "qr_onboarding")
    );
    // Welcomed, once, with the code's message.
    let welcomes = app.sim.welcomes();
    assert_eq!(welcomes.iter().filter(|(e, _)| *e == external).count(), 1);
    assert_eq!(welcomes[0].1, way.welcome_text);
    // In Li Na's book through the API.
    let token = app.token(Role::Associate, Some("li.na")).await;
    let (status, body) = app
        .call(
            "GET",
            "/api/v1/clients?q=%2B8613911112222",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(&format!("\"id\":{}", client_id.0)), "{body}");

    // The client writes; the message is on the timeline, once, even when Tencent retries.
    let (xml, _) = app
        .sim
        .message_xml(&external, "请问新款到了吗？")
        .expect("xml");
    app.sim
        .push_wecom(&xml, 3)
        .await
        .expect("pushed three times");
    settle(&app).await;
    let messages = app
        .salon
        .repo
        .messages(app.brand.id, client_id, 10)
        .await
        .expect("messages");
    assert_eq!(
        messages
            .iter()
            .filter(|m| m.body == "请问新款到了吗？")
            .count(),
        1
    );
    assert_eq!(
        messages
            .iter()
            .filter(|m| m.direction == Direction::Out)
            .count(),
        1,
        "the welcome"
    );
    let timeline = app
        .salon
        .repo
        .timeline(app.brand.id, client_id, 50)
        .await
        .expect("timeline");
    assert_eq!(timeline.iter().filter(|e| e.kind == "message").count(), 2);
    assert_eq!(
        timeline
            .iter()
            .filter(|e| e.kind == "contact_added")
            .count(),
        1
    );

    // Someone follows the OA through the store's QR scene, then uses the menu.
    app.sim
        .oa_follow("oFollower1", Some(&way.state))
        .await
        .expect("follow");
    app.sim
        .oa_click("oFollower1", "NEW_ARRIVALS")
        .await
        .expect("click");
    settle(&app).await;
    let follower = app
        .salon
        .repo
        .client_by_identity(
            app.brand.id,
            &Identity::parse(IdentityKind::WechatOa, "oFollower1").expect("id"),
        )
        .await
        .expect("q")
        .expect("the follower is a client");
    let timeline = app
        .salon
        .repo
        .timeline(app.brand.id, follower, 50)
        .await
        .expect("timeline");
    let follow = timeline
        .iter()
        .find(|e| e.kind == "follow")
        .expect("a follow event");
    assert_eq!(follow.detail["source"], "qr_code");
    assert_eq!(follow.channel.as_deref(), Some("wechat_oa"));
    let click = timeline
        .iter()
        .find(|e| e.kind == "menu_click")
        .expect("a menu click");
    assert_eq!(click.detail["category"], "ecommerce");
    assert_eq!(click.detail["key"], "NEW_ARRIVALS");
    let f = app
        .salon
        .repo
        .client(app.brand.id, follower)
        .await
        .expect("q")
        .expect("c");
    assert_eq!(f.associate_id, Some(li.id), "placed by the QR scene");
}

#[tokio::test]
async fn provider_faults_never_lose_or_repeat_anything() {
    let app = spawn(5).await;
    let ways: Vec<String> = app
        .salon
        .repo
        .contact_ways(app.brand.id)
        .await
        .expect("ways")
        .into_iter()
        .filter_map(|w| w.config_id)
        .collect();
    // Slow, flaky and busy, and connections cut after the provider acted.
    app.sim.set_faults(Faults {
        latency: std::time::Duration::from_millis(5),
        server_error: 0.2,
        system_busy: 0.2,
        drop_after_handling: 0.2,
        ..Faults::default()
    });
    let mut externals = Vec::new();
    for i in 0..12 {
        let e = app
            .sim
            .client_scans(&ways[i % ways.len()], &format!("Client {i}"), None)
            .await
            .expect("scan");
        externals.push(e);
    }
    // The access token expires in the middle.
    app.sim.advance(sim::tencent::TOKEN_TTL_SECS + 1);
    for _ in 0..30 {
        app.salon.process_inbox().await.expect("process");
        if inbox(&app).await.pending == 0 {
            break;
        }
    }
    app.sim.set_faults(Faults::default());
    let counts = inbox(&app).await;
    assert_eq!(counts.pending, 0, "{counts:?}");
    let mut created = 0;
    for e in &externals {
        let id = Identity::parse(IdentityKind::Wecom, e).expect("id");
        if app
            .salon
            .repo
            .client_by_identity(app.brand.id, &id)
            .await
            .expect("q")
            .is_some()
        {
            created += 1;
        }
    }
    // A callback whose every attempt failed stays visible as failed; none is half-done.
    assert_eq!(
        created as i64 + counts.failed,
        externals.len() as i64,
        "{counts:?}"
    );
    assert!(
        created >= 8,
        "most clients made it through the faults: {created}"
    );
    // No client was welcomed twice, whatever was retried.
    let mut welcomed: Vec<String> = app.sim.welcomes().into_iter().map(|(e, _)| e).collect();
    let n = welcomed.len();
    welcomed.sort();
    welcomed.dedup();
    assert_eq!(welcomed.len(), n, "a welcome went out twice");
    // The token was fetched again after it expired (42001), not retried stale.
    assert!(
        app.sim.accepted("gettoken").len() >= 2,
        "{:?}",
        app.sim.accepted("gettoken")
    );
}

#[tokio::test]
async fn a_welcome_code_lives_twenty_seconds() {
    let app = spawn(5).await;
    let way = app
        .salon
        .repo
        .contact_ways(app.brand.id)
        .await
        .expect("ways")
        .into_iter()
        .find_map(|w| w.config_id)
        .expect("a code");
    app.sim
        .client_scans(&way, "Late", None)
        .await
        .expect("scan");
    app.sim.advance(sim::tencent::WELCOME_CODE_TTL_SECS + 1);
    settle(&app).await;
    assert!(
        app.sim.welcomes().is_empty(),
        "an expired code greets nobody"
    );
    assert_eq!(inbox(&app).await.failed, 0, "the client is still onboarded");
}

#[tokio::test]
async fn staff_leaving_wecom_departs_the_associate() {
    let app = spawn(5).await;
    let li = app.user("li.na").await;
    app.sim.staff_leaves("li.na").await.expect("leaves");
    settle(&app).await;
    let li = app
        .salon
        .repo
        .user(app.brand.id, li.id)
        .await
        .expect("q")
        .expect("user");
    assert_eq!(li.status, UserStatus::Departed);
    // A staff sync agrees, and reports nobody new.
    let report = app.salon.sync_staff_of(app.brand.id).await.expect("sync");
    assert_eq!(report.created, 0);
    assert_eq!(report.departed, 0, "already departed");
}

#[tokio::test]
async fn a_departed_associates_clients_follow_the_book_on_wecom() {
    let app = spawn(5).await;
    let li = app.user("li.na").await;
    let wang = app.user("wang.fang").await;
    let way = config_of(&app, &li).await;
    let external = app.sim.client_scans(&way, "Mei", None).await.expect("scan");
    settle(&app).await;
    let client = app
        .salon
        .repo
        .client_by_identity(
            app.brand.id,
            &Identity::parse(IdentityKind::Wecom, &external).expect("id"),
        )
        .await
        .expect("q")
        .expect("client");
    // Li Na leaves WeCom; the manager moves her book to Wang Fang.
    app.sim.staff_leaves("li.na").await.expect("leaves");
    settle(&app).await;
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
    let c = app
        .salon
        .repo
        .client(app.brand.id, client)
        .await
        .expect("q")
        .expect("client");
    assert_eq!(c.associate_id, Some(wang.id));
    let transfers = app
        .sim
        .accepted("externalcontact/resigned/transfer_customer");
    assert!(
        transfers
            .iter()
            .any(|e| e.detail["external_userid"] == external.as_str()
                && e.detail["takeover"] == "wang.fang"),
        "{transfers:?}"
    );
    let timeline = app
        .salon
        .repo
        .timeline(app.brand.id, client, 50)
        .await
        .expect("timeline");
    assert!(timeline.iter().any(|e| e.kind == "wecom_transfer"));
}

#[tokio::test]
async fn the_json_envelope_and_the_encrypted_passive_reply() {
    let app = spawn(5).await;
    with_tencent_samples(&app).await;
    pin_clock(&app, "1700000000");
    // WeCom's JSON variant of the envelope.
    let wecom =
        channels::wecom::MsgCrypt::new(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID).expect("key");
    let encrypted = wecom.encrypt(
        b"<xml><ToUserName>ww1</ToUserName><FromUserName>wmSomeone</FromUserName><CreateTime>1700000000</CreateTime>\
          <MsgType>text</MsgType><Content>hello</Content><MsgId>99887766</MsgId></xml>",
    );
    let sig = wecom.sign("1700000000", "42", &encrypted);
    let (status, body) = app
        .call(
            "POST",
            &format!("/channels/wecom/demo/callback?msg_signature={sig}&timestamp=1700000000&nonce=42"),
            None,
            Some(("application/json", format!(r#"{{"tousername":"{WECOM_CORP_ID}","agentid":1000002,"encrypt":"{encrypted}"}}"#))),
        )
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));

    // A new OA follower is thanked by an encrypted passive reply that opens with our keys.
    let oa = channels::wecom::MsgCrypt::new(OA_TOKEN, OA_AES_KEY, OA_APP_ID).expect("key");
    let encrypted = oa.encrypt(
        b"<xml><ToUserName>gh_1</ToUserName><FromUserName>oNewFollower</FromUserName><CreateTime>1700000001</CreateTime>\
          <MsgType>event</MsgType><Event>subscribe</Event></xml>",
    );
    let sig = oa.sign("1700000001", "7", &encrypted);
    let (status, reply) = app
        .call(
            "POST",
            &format!("/channels/wechat-oa/demo/callback?msg_signature={sig}&timestamp=1700000001&nonce=7&encrypt_type=aes"),
            None,
            Some(("text/xml", format!("<xml><ToUserName>gh_1</ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"))),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let fields = channels::wecom::xml::flat(&reply).expect("an XML envelope");
    let plain = oa
        .open(
            &fields["MsgSignature"],
            &fields["TimeStamp"],
            &fields["Nonce"],
            &fields["Encrypt"],
        )
        .expect("the reply opens");
    let text = String::from_utf8(plain).expect("utf-8");
    assert!(
        text.contains("<ToUserName><![CDATA[oNewFollower]]></ToUserName>"),
        "{text}"
    );
    assert!(text.contains("Maison Lumière"), "{text}");
    // The same follow retried (Tencent did not get our answer) is stored once, answered again.
    let (_, again) = app
        .call(
            "POST",
            &format!("/channels/wechat-oa/demo/callback?msg_signature={sig}&timestamp=1700000001&nonce=7&encrypt_type=aes"),
            None,
            Some(("text/xml", format!("<xml><ToUserName>gh_1</ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"))),
        )
        .await;
    assert!(again.contains("<Encrypt>"), "{again}");
    assert_eq!(inbox(&app).await.received, 2);
    settle(&app).await;
    assert_eq!(inbox(&app).await.failed, 0);
}

#[tokio::test]
async fn a_known_client_adding_an_associate_is_merged_by_phone() {
    let app = spawn(5).await;
    let hq = app.token(Role::Hq, None).await;
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/clients",
            Some(&hq),
            Some((
                "application/json",
                r#"{"first_name":"Known","last_name":"Client","phone":"+8613955554444"}"#.into(),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    let known = ClientId(v["id"].as_i64().expect("id"));
    let li = app.user("li.na").await;
    let way = config_of(&app, &li).await;
    let before = app
        .salon
        .repo
        .count_clients(app.brand.id, Scope::Brand)
        .await
        .expect("count");
    let external = app
        .sim
        .client_scans(&way, "K. Client", Some("13955554444"))
        .await
        .expect("scan");
    settle(&app).await;
    assert_eq!(
        app.salon
            .repo
            .count_clients(app.brand.id, Scope::Brand)
            .await
            .expect("count"),
        before,
        "no second client"
    );
    let c = app
        .salon
        .repo
        .client(app.brand.id, known)
        .await
        .expect("q")
        .expect("client");
    assert!(
        c.identities
            .iter()
            .any(|i| i.kind == IdentityKind::Wecom && i.value == external)
    );
    assert!(
        c.identities
            .iter()
            .any(|i| i.kind == IdentityKind::WechatUnion)
    );
    assert_eq!(c.associate_id, Some(li.id));
    assert_eq!(
        c.pii.first_name.as_deref(),
        Some("Known"),
        "the brand's record keeps its name"
    );
}

fn now_s() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// An Official Account plain-mode query: `signature` over token, timestamp and nonce only.
fn plain_query(token: &str, timestamp: i64, nonce: &str) -> String {
    let ts = timestamp.to_string();
    let sig = channels::wecom::crypto::signature(&[token, &ts, nonce]);
    format!("signature={sig}&timestamp={ts}&nonce={nonce}&openid=oX")
}

fn follow(open_id: &str) -> String {
    format!(
        "<xml><ToUserName>gh_1</ToUserName><FromUserName>{open_id}</FromUserName><CreateTime>{}</CreateTime>\
         <MsgType>event</MsgType><Event>subscribe</Event></xml>",
        now_s()
    )
}

/// A request to any router (another Salon process on the same database).
async fn call_router(
    router: &axum::Router,
    method: &str,
    path: &str,
    body: Option<String>,
) -> (StatusCode, String) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = axum::http::Request::builder().method(method).uri(path);
    let req = match body {
        Some(b) => req
            .header("content-type", "text/xml")
            .body(axum::body::Body::from(b)),
        None => req.body(axum::body::Body::empty()),
    }
    .expect("request");
    let res = router.clone().oneshot(req).await.expect("response");
    let status = res.status();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn an_official_account_with_a_key_accepts_safe_mode_only() {
    let app = spawn(5).await;
    with_tencent_samples(&app).await;
    let before = inbox(&app).await;
    let post = |q: String, body: String| {
        let app = &app;
        async move {
            app.call(
                "POST",
                &format!("/channels/wechat-oa/demo/callback?{q}"),
                None,
                Some(("text/xml", body)),
            )
            .await
            .0
        }
    };
    // Correctly signed with the token, but plain: the account has an EncodingAESKey.
    let q = plain_query(OA_TOKEN, now_s(), "1");
    assert_eq!(
        post(q.clone(), follow("oForged")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(format!("{q}&encrypt_type=aes"), follow("oForged")).await,
        StatusCode::UNAUTHORIZED
    );
    // WeCom never takes the plain signature.
    let (status, _) = app
        .call(
            "POST",
            &format!(
                "/channels/wecom/demo/callback?{}",
                plain_query(WECOM_TOKEN, now_s(), "1")
            ),
            None,
            Some(("text/xml", follow("oForged"))),
        )
        .await;
    assert!(status.is_client_error(), "{status}");
    assert_eq!(
        inbox(&app).await.received,
        before.received,
        "nothing stored"
    );
    // The OA verifies its URL with the plain signature in every mode: fresh only.
    let (status, body) = app
        .call(
            "GET",
            &format!(
                "/channels/wechat-oa/demo/callback?{}&echostr=hello",
                plain_query(OA_TOKEN, now_s(), "2")
            ),
            None,
            None,
        )
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "hello"));
    let (status, _) = app
        .call(
            "GET",
            &format!(
                "/channels/wechat-oa/demo/callback?{}&echostr=hello",
                plain_query(OA_TOKEN, now_s() - 301, "2")
            ),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn callbacks_must_be_fresh() {
    let app = spawn(5).await;
    with_tencent_samples(&app).await;
    let wecom =
        channels::wecom::MsgCrypt::new(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID).expect("key");
    let before = inbox(&app).await;
    let mut answers = Vec::new();
    for (i, skew) in [-301i64, 301, -3_600, 0].into_iter().enumerate() {
        let ts = (now_s() + skew).to_string();
        let xml = format!(
            "<xml><ToUserName>ww1</ToUserName><FromUserName>wmFresh</FromUserName><CreateTime>{ts}</CreateTime>\
             <MsgType>text</MsgType><Content>hello</Content><MsgId>5550{i}</MsgId></xml>"
        );
        let encrypted = wecom.encrypt(xml.as_bytes());
        let sig = wecom.sign(&ts, "9", &encrypted);
        let (status, _) = app
            .call(
                "POST",
                &format!(
                    "/channels/wecom/demo/callback?msg_signature={sig}&timestamp={ts}&nonce=9"
                ),
                None,
                Some((
                    "text/xml",
                    format!("<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"),
                )),
            )
            .await;
        answers.push(status);
    }
    assert_eq!(
        answers,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::OK
        ]
    );
    assert_eq!(
        inbox(&app).await.received,
        before.received + 1,
        "the fresh one only"
    );
}

#[tokio::test]
async fn plain_mode_signatures_sign_one_callback_in_every_process() {
    let app = spawn(5).await;
    // The Official Account without an EncodingAESKey: plain mode.
    let mut s = app
        .salon
        .repo
        .channel_settings(app.brand.id, ChannelKind::WechatOa)
        .await
        .expect("q")
        .expect("the sandbox's OA settings");
    s.token = OA_TOKEN.into();
    s.aes_key = None;
    app.salon
        .repo
        .put_channel_settings(app.brand.id, &s)
        .await
        .expect("plain mode");
    app.salon.channels.forget(app.brand.id);
    let path = |q: &str| format!("/channels/wechat-oa/demo/callback?{q}");
    let before = inbox(&app).await;
    let q = plain_query(OA_TOKEN, now_s(), "11");
    let (status, reply) = app
        .call(
            "POST",
            &path(&q),
            None,
            Some(("text/xml", follow("oFollower"))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let fields = channels::wecom::xml::flat(&reply).expect("a plain XML reply");
    assert_eq!(fields["ToUserName"], "oFollower");
    // Tencent's retry (the same request) is answered again and stored once.
    let (status, _) = app
        .call(
            "POST",
            &path(&q),
            None,
            Some(("text/xml", follow("oFollower"))),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(inbox(&app).await.received, before.received + 1);
    // The same query string with another body: refused, here and in another process.
    let (status, _) = app
        .call(
            "POST",
            &path(&q),
            None,
            Some(("text/xml", follow("oForged"))),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let other = {
        let keys = store::Keyring::new(&[9u8; 32]).expect("key");
        let repo = store::SqliteRepo::connect(&app.db_url, keys)
            .await
            .expect("the same database");
        web::router(web::AppState::new(app::Salon::new(std::sync::Arc::new(
            repo,
        ))))
    };
    let (status, _) = call_router(&other, "POST", &path(&q), Some(follow("oForged2"))).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the replay cache is shared"
    );
    // Stale or future timestamps, safe-mode signatures: refused.
    for q in [
        plain_query(OA_TOKEN, now_s() - 301, "12"),
        plain_query(OA_TOKEN, now_s() + 301, "13"),
        format!("msg_signature=abc&timestamp={}&nonce=14", now_s()),
    ] {
        let (status, _) = call_router(&other, "POST", &path(&q), Some(follow("oLate"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{q}");
    }
    assert_eq!(
        inbox(&app).await.received,
        before.received + 1,
        "nothing else stored"
    );
    // Every value of the passive reply is escaped: an openid cannot add elements.
    let (status, reply) = app
        .call(
            "POST",
            &path(&plain_query(OA_TOKEN, now_s(), "15")),
            None,
            Some((
                "text/xml",
                follow("o]]&gt;&lt;Evil&gt;1&lt;/Evil&gt;&lt;![CDATA[x"),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let fields = channels::wecom::xml::flat(&reply).expect("still well-formed");
    assert_eq!(fields["ToUserName"], "o]]><Evil>1</Evil><![CDATA[x");
    assert!(!fields.contains_key("Evil"), "{reply}");
}
