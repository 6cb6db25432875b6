//! The WeCom API client against the simulator: every call Salon makes, the provider's limits
//! and error codes as the client sees them, and the client's own token and retry rules.

use std::time::Duration;

use channels::wecom::api::{ApiError, NewContactWay, Policy, WecomApi, errcode};
use sim::tencent::{Faults, SimConfig, Simulator};

async fn provider(per_minute: usize) -> (Simulator, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let mut config = SimConfig::sandbox(&url);
    config.per_api_per_minute = per_minute;
    let sim = Simulator::new(config).expect("sim");
    let router = sim.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    for (id, name) in [("li.na", "Li Na"), ("wang.fang", "Wang Fang")] {
        sim.add_staff(id, name, Some(&format!("{id}@example.com")));
    }
    (sim, url)
}

fn client(sim: &Simulator, url: &str) -> WecomApi {
    WecomApi::new(
        url,
        &sim.config().corp_id,
        &sim.config().corp_secret,
        Policy {
            backoff: Duration::from_millis(2),
            ..Policy::default()
        },
    )
}

fn errcode_of<T: std::fmt::Debug>(r: Result<T, ApiError>) -> Option<i64> {
    r.err().and_then(|e| e.errcode())
}

#[tokio::test]
async fn every_call_salon_makes() {
    let (sim, url) = provider(10_000).await;
    let api = client(&sim, &url);
    sim.set_targets("http://127.0.0.1:9/none", "http://127.0.0.1:9/none");

    let staff = api.user_list(1).await.expect("user/list");
    assert_eq!(staff.len(), 2);
    let way = api
        .add_contact_way(&NewContactWay {
            state: "a:1:abc".into(),
            users: vec!["li.na".into()],
            remark: "Li Na".into(),
        })
        .await
        .expect("add_contact_way");
    assert!(way.qr_code.ends_with(&way.config_id));
    // A state longer than WeCom's 30 characters is refused with its code.
    assert_eq!(
        errcode_of(
            api.add_contact_way(&NewContactWay {
                state: "x".repeat(31),
                users: vec!["li.na".into()],
                remark: String::new()
            })
            .await
        ),
        Some(40058)
    );
    // A client added through it (the callback push fails: nobody listens; the contact exists).
    let _ = sim
        .client_scans(&way.config_id, "Mei", Some("13900000001"))
        .await;
    let external = sim.contact_ids().pop().expect("a contact");
    let detail = api.get_external_contact(&external).await.expect("get");
    assert_eq!(detail.external_contact.name, "Mei");
    assert_eq!(detail.follow_user[0].state.as_deref(), Some("a:1:abc"));
    assert_eq!(
        api.list_external_contacts("li.na").await.expect("list"),
        vec![external.clone()]
    );
    let page = api
        .batch_get_by_user(&["li.na".into()], "", 100)
        .await
        .expect("batch");
    assert_eq!(page.external_contact_list.len(), 1);

    // Tags.
    let group = api
        .add_corp_tag("Interests", &["Bags", "Silk"])
        .await
        .expect("add tag");
    assert_eq!(group.tag.len(), 2);
    assert_eq!(api.get_corp_tag_list().await.expect("tags").len(), 1);
    api.mark_tag("li.na", &external, &[group.tag[0].id.clone()], &[])
        .await
        .expect("mark");

    // Group messages: one per client per day; the second reports status 3.
    let first = api
        .add_msg_template("li.na", std::slice::from_ref(&external), "New arrivals")
        .await
        .expect("template");
    let second = api
        .add_msg_template("li.na", std::slice::from_ref(&external), "Again")
        .await
        .expect("template");
    let r1 = api
        .get_groupmsg_send_result(&first.msgid, "li.na", "")
        .await
        .expect("result");
    let r2 = api
        .get_groupmsg_send_result(&second.msgid, "li.na", "")
        .await
        .expect("result");
    assert_eq!(r1.send_list[0].status, 1);
    assert_eq!(r2.send_list[0].status, 3, "over the daily cap");

    // Moments.
    let job = api
        .add_moment_task(&["li.na".into()], "Spring collection")
        .await
        .expect("moment");
    assert_eq!(
        api.get_moment_task_result(&job)
            .await
            .expect("result")
            .status,
        3
    );

    // Transfers: at most two per client in 90 days.
    let t1 = api
        .transfer_customer("li.na", "wang.fang", std::slice::from_ref(&external), None)
        .await
        .expect("transfer");
    assert_eq!(t1[0].errcode, 0);
    let t2 = api
        .transfer_resigned("wang.fang", "li.na", std::slice::from_ref(&external))
        .await
        .expect("transfer");
    assert_eq!(t2[0].errcode, 0);
    let t3 = api
        .transfer_customer("li.na", "wang.fang", std::slice::from_ref(&external), None)
        .await
        .expect("transfer");
    assert_eq!(t3[0].errcode, errcode::TRANSFER_LIMIT);
    sim.advance(91 * 86_400);
    let t4 = api
        .transfer_customer("li.na", "wang.fang", std::slice::from_ref(&external), None)
        .await
        .expect("transfer");
    assert_eq!(t4[0].errcode, 0, "the window moves on");
    let results = api
        .transfer_result("li.na", "wang.fang", "")
        .await
        .expect("result");
    assert_eq!(results.customer.len(), 1);

    // Group chats.
    assert!(
        api.groupchat_list("", 100)
            .await
            .expect("list")
            .group_chat_list
            .is_empty()
    );
    assert_eq!(errcode_of(api.groupchat_get("nope").await), Some(40050));

    // Everything accepted is in the provider's log.
    let log = sim.log();
    assert!(
        log.iter()
            .any(|e| e.api == "externalcontact/add_msg_template")
    );
    assert_eq!(
        sim.accepted("externalcontact/transfer_customer").len()
            + sim
                .accepted("externalcontact/resigned/transfer_customer")
                .len(),
        3
    );
}

#[tokio::test]
async fn tokens_are_refreshed_once_for_many_callers_and_after_expiry() {
    let (sim, url) = provider(10_000).await;
    let api = std::sync::Arc::new(client(&sim, &url));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move { api.access_token().await }));
    }
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.expect("task").expect("token"));
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 1, "one token for twenty callers");
    assert_eq!(
        sim.accepted("gettoken").len(),
        1,
        "one fetch for twenty callers"
    );
    // Past Tencent's 7,200 s the provider answers 42001; the client fetches a new token.
    sim.advance(7_300);
    api.user_list(1).await.expect("works after expiry");
    assert_ne!(api.access_token().await.expect("token"), tokens[0]);
}

#[tokio::test]
async fn rate_limits_and_busy_answers() {
    let (sim, url) = provider(3).await;
    let api = client(&sim, &url);
    for _ in 0..3 {
        api.user_list(1).await.expect("within the rate");
    }
    let e = api.user_list(1).await.expect_err("over the rate");
    assert_eq!(
        e.errcode(),
        Some(errcode::API_FREQ_OUT_OF_LIMIT),
        "typed with its errcode: {e}"
    );
    // Other APIs have their own budget.
    api.list_external_contacts("li.na")
        .await
        .expect("another API");

    // "System busy" and 5xx are retried; a provider that is always busy is reported as such.
    let (sim, url) = provider(10_000).await;
    let api = client(&sim, &url);
    sim.set_faults(Faults {
        system_busy: 1.0,
        ..Faults::default()
    });
    assert_eq!(
        errcode_of(api.user_list(1).await),
        Some(errcode::SYSTEM_BUSY)
    );
    sim.set_faults(Faults {
        system_busy: 0.5,
        server_error: 0.3,
        latency: Duration::from_millis(2),
        ..Faults::default()
    });
    let mut ok = 0;
    for _ in 0..20 {
        if api.user_list(1).await.is_ok() {
            ok += 1;
        }
    }
    assert!(
        ok >= 12,
        "backoff and retry get most calls through: {ok}/20"
    );
}

#[tokio::test]
async fn a_send_whose_answer_is_lost_is_not_repeated() {
    let (sim, url) = provider(10_000).await;
    let api = client(&sim, &url);
    sim.set_targets("http://127.0.0.1:9/none", "http://127.0.0.1:9/none");
    let way = api
        .add_contact_way(&NewContactWay {
            state: "s".into(),
            users: vec!["li.na".into()],
            remark: String::new(),
        })
        .await
        .expect("way");
    let _ = sim.client_scans(&way.config_id, "Mei", None).await;
    let external = sim.contact_ids().pop().expect("contact");
    api.user_list(1)
        .await
        .expect("token fetched before the faults");
    sim.set_faults(Faults {
        drop_after_handling: 1.0,
        ..Faults::default()
    });
    let sent = api
        .add_msg_template("li.na", std::slice::from_ref(&external), "Once")
        .await;
    assert!(matches!(sent, Err(ApiError::Transport { .. })), "{sent:?}");
    assert_eq!(
        sim.accepted("externalcontact/add_msg_template").len(),
        1,
        "the provider acted once; the client did not retry a send"
    );
    // A read is retried after a dropped answer (and fails here only because every answer drops).
    let before = sim.log().len();
    assert!(api.list_external_contacts("li.na").await.is_err());
    assert_eq!(sim.log().len(), before, "reads are not logged as accepted");
}

#[tokio::test]
async fn the_sandbox_lives_clients_arrive_write_follow_and_click() {
    use std::sync::{Arc, Mutex};
    // A stand-in for Salon that decrypts what it receives.
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let (sim, url) = provider(10_000).await;
    let api = client(&sim, &url);
    let way = api
        .add_contact_way(&NewContactWay {
            state: "a:1:live".into(),
            users: vec!["li.na".into()],
            remark: String::new(),
        })
        .await
        .expect("way");
    assert!(!way.config_id.is_empty());
    let wecom = channels::wecom::MsgCrypt::new(
        &sim.config().token,
        &sim.config().aes_key,
        &sim.config().corp_id,
    )
    .expect("key");
    let oa = channels::wecom::MsgCrypt::new(
        &sim.config().oa_token,
        &sim.config().oa_aes_key,
        &sim.config().oa_app_id,
    )
    .expect("key");
    let sink = {
        let received = received.clone();
        axum::Router::new().route(
            "/{channel}",
            axum::routing::post(
                move |axum::extract::Path(channel): axum::extract::Path<String>,
                      axum::extract::Query(q): axum::extract::Query<
                    std::collections::HashMap<String, String>,
                >,
                      body: String| {
                    let received = received.clone();
                    let crypt = if channel == "wecom" {
                        wecom.clone()
                    } else {
                        oa.clone()
                    };
                    async move {
                        let env = channels::wecom::xml::Envelope::parse(&body).expect("envelope");
                        let plain = crypt
                            .open(
                                &q["msg_signature"],
                                &q["timestamp"],
                                &q["nonce"],
                                &env.encrypt,
                            )
                            .expect("a correctly signed, encrypted callback");
                        let cb = channels::wecom::callback::Callback::parse(
                            &String::from_utf8(plain).expect("utf-8"),
                        )
                        .expect("a callback");
                        received.lock().expect("lock").push(
                            format!("{:?}", cb.event)
                                .split([' ', '{'])
                                .next()
                                .unwrap_or("")
                                .to_owned(),
                        );
                        ""
                    }
                },
            ),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let sink_url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, sink).await;
    });
    sim.set_targets(&format!("{sink_url}/wecom"), &format!("{sink_url}/oa"));
    let life = tokio::spawn(sim::tencent::run_activity(
        sim.clone(),
        Duration::from_millis(5),
        vec!["NEW_ARRIVALS".into()],
    ));
    // Every kind of activity shows up (waiting as long as a slow machine needs).
    let wanted = ["ContactAdded", "Message", "Subscribed", "MenuClicked"];
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let kinds = received.lock().expect("lock").clone();
        if wanted.iter().all(|w| kinds.iter().any(|k| k == w)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "only {kinds:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    life.abort();
}
