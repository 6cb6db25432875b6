//! Every API route × every role × a foreign brand's token, against a policy table written out
//! here by hand. A route added to the API without a line in this table fails the test, and so
//! does a route whose enforcement differs from the table.

mod support;

use std::sync::OnceLock;

use axum::http::StatusCode;
use domain::Role;
use support::contract::{Answer, Contract};
use support::{DOMAIN, TestApp, spawn};

/// The OpenAPI document the app serves, as a contract every answer here is checked against.
static CONTRACT: OnceLock<Contract> = OnceLock::new();

async fn contract(app: &TestApp) -> &'static Contract {
    if let Some(c) = CONTRACT.get() {
        return c;
    }
    let c = Contract::of(app).await;
    CONTRACT.get_or_init(|| c)
}

/// Calls the API and checks the answer against the contract: its status is documented for
/// the operation, its content type for the status, and a JSON body matches the schema.
struct Checked<'a>(&'a TestApp);

fn checked(app: &TestApp) -> Checked<'_> {
    Checked(app)
}

impl Checked<'_> {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, String)>,
    ) -> (StatusCode, String) {
        let c = contract(self.0).await;
        let (status, content_type, text) = self.0.call_typed(method, path, token, body).await;
        if !path.starts_with("/api/v1/openapi.json") {
            let answer = Answer {
                method,
                uri: path,
                status,
                content_type: content_type.as_deref(),
                body: &text,
            };
            if let Err(e) = c.check(&answer) {
                panic!("contract: {e}");
            }
        }
        (status, text)
    }
}

/// operation → roles allowed (A associate, M store manager, H HQ, C compliance, D admin).
const POLICY: &[(&str, &str)] = &[
    ("getBrand", "AMHCD"),
    ("getMe", "AMHCD"),
    ("listClients", "AMHC"),
    ("createClient", "AMH"),
    ("importClients", "HD"),
    ("getClient", "AMHC"),
    ("updateClient", "AMH"),
    ("addNote", "AMH"),
    ("editTags", "AMH"),
    ("assignClient", "MH"),
    ("listStores", "AMHCD"),
    ("createStore", "HD"),
    ("updateStore", "HD"),
    ("listAssociates", "AMHCD"),
    ("createAssociate", "HD"),
    ("updateAssociate", "HD"),
    ("departAssociate", "MHD"),
    ("transferClients", "MH"),
    ("listMessages", "AMC"),
    ("getChannel", "HD"),
    ("configureChannel", "HD"),
    ("testChannel", "HD"),
    ("syncStaff", "HD"),
    ("listContactWays", "AMHCD"),
    ("createContactWay", "MHD"),
    ("getReport", "HC"),
    ("getBenchmark", "HC"),
    ("growthForecast", "HC"),
    ("pushAbTest", "HC"),
    ("importEvents", "HD"),
    ("exportEvents", "HD"),
    ("listConversations", "AMC"),
    ("listGroupChats", "AMHC"),
    ("searchGroupChats", "AMC"),
    ("getGroupChat", "AMC"),
    ("postToGroup", "A"),
    ("exportGroupChat", "C"),
    ("syncGroupChats", "HD"),
    ("searchArchive", "AMC"),
    ("exportSearch", "C"),
    ("getThread", "AMC"),
    ("sendMessage", "AM"),
    ("exportThread", "C"),
    ("getOutbound", "AM"),
    ("serviceQuality", "MHC"),
    ("listRules", "MHC"),
    ("createRule", "C"),
    ("updateRule", "C"),
    ("checkText", "MHC"),
    ("listFlags", "MC"),
    ("reviewFlag", "C"),
    ("flagCounts", "MHC"),
    ("auditLog", "CD"),
    ("verifyAudit", "CD"),
    ("countSegment", "MH"),
    ("listSegments", "MH"),
    ("createSegment", "H"),
    ("updateSegment", "H"),
    ("getContactPolicy", "MH"),
    ("putContactPolicy", "H"),
    ("listCampaigns", "MH"),
    ("createCampaign", "H"),
    ("getCampaign", "MH"),
    ("planCampaign", "H"),
    ("cancelCampaign", "H"),
    ("campaignSends", "MH"),
    ("listMoments", "MH"),
    ("createMoment", "H"),
    ("postMyMoment", "A"),
    ("listMyMoments", "A"),
    ("listAssets", "AMH"),
    ("uploadAsset", "H"),
    ("setAssetStatus", "H"),
    ("assetImage", "AMH"),
    ("sendImage", "AM"),
    ("listTasks", "A"),
    ("sendTask", "A"),
    ("postOrders", "HD"),
    ("postReturns", "HD"),
    ("postTouches", "HD"),
    ("postFxRates", "HD"),
    ("salesReport", "AMH"),
    ("myMonth", "AM"),
    ("exportStatements", "MH"),
    ("getSalesPolicy", "AMH"),
    ("putSalesPolicy", "H"),
    ("getTierThresholds", "AMH"),
    ("putTierThresholds", "H"),
    ("putTargets", "MH"),
    ("listDisputes", "AMH"),
    ("raiseDispute", "A"),
    ("decideDispute", "MH"),
    ("createShareLink", "AM"),
    ("listShareLinks", "AM"),
    ("listProducts", "AMH"),
    ("importProducts", "H"),
    ("getProduct", "AMH"),
    ("putProduct", "H"),
    ("putStock", "MH"),
];

/// An order of the brand for returns and disputes to name.
async fn policy_order(app: &TestApp) {
    let order = sales::input::order(
        1,
        r#"{"order_id":"POLICY-O1","source":"ecommerce","client":"CRM-1","placed_at":"2026-01-09T15:02:00+08:00","currency":"CNY","lines":[{"line":1,"sku":"BAG","qty":1,"amount":100}]}"#,
    )
    .expect("order");
    app.salon
        .repo
        .put_orders(app.brand.id, &[order])
        .await
        .expect("order stored");
}

/// A campaign of the brand, open (a prepared message) or a draft broadcast.
async fn campaign(app: &TestApp, kind: domain::CampaignKind) -> i64 {
    let c = app
        .salon
        .repo
        .create_campaign(
            app.brand.id,
            &domain::NewCampaign {
                name: "Policy".into(),
                kind,
                segment_id: None,
                expression: "channel:wecom".into(),
                channel: domain::ChannelKind::Wecom,
                asset_ids: vec![],
                template: domain::Template::parse("Hello from {sa.name}").expect("template"),
                send_at: domain::now_millis(),
                max_recipients: None,
                created_by: None,
                at: domain::now_millis(),
            },
        )
        .await
        .expect("campaign");
    if kind == domain::CampaignKind::Prepared {
        app.salon
            .repo
            .set_campaign_status(app.brand.id, c.id, domain::CampaignStatus::Planned)
            .await
            .expect("open");
    }
    c.id
}

/// The brand's HQ, or one of its associates or managers, as an actor of the use cases.
async fn actor(app: &TestApp, role: Role, local: Option<&str>) -> app::Actor {
    let user = match local {
        Some(l) => Some(app.user(l).await),
        None => None,
    };
    app::Actor {
        brand: app.brand.clone(),
        role,
        store: user.as_ref().and_then(|u| u.store_id),
        user,
    }
}

/// A customer group of Li Na's (whom the store manager also oversees), where she and her
/// client have spoken, the words delivered through the chat archive.
async fn policy_group(app: &TestApp) -> i64 {
    let (_, external) = app.wecom_clients("li.na").await.remove(0);
    let chat = app
        .sim
        .create_group("li.na", "Policy group", &[&external])
        .await
        .expect("group");
    app.sim
        .group_says(&chat, &external, "Is the Camille bag in store?")
        .expect("says");
    app.sim
        .group_says(&chat, "li.na", "Yes, in black and in tan")
        .expect("says");
    app.sim.deliver_archive().await.expect("archive");
    app.settle().await;
    app.salon
        .repo
        .group_by_chat_id(app.brand.id, &chat)
        .await
        .expect("q")
        .expect("group read")
        .id
}

/// Rows that the list operations show, so that their items are checked against the schema
/// too, not only an empty list.
async fn something_to_list(app: &TestApp, op: &str) {
    let hq = actor(app, Role::Hq, None).await;
    match op {
        "listMessages" | "exportThread" => {
            let (_, external) = app.wecom_clients("li.na").await.remove(0);
            app.sim
                .client_says(&external, "Hello, is my scarf ready?")
                .await
                .expect("says");
            app.settle().await;
        }
        "listGroupChats" | "searchGroupChats" => {
            policy_group(app).await;
        }
        "listMoments" => {
            app.salon
                .create_moment(&hq, "The winter collection", &[], &[])
                .await
                .expect("moment");
        }
        "listMyMoments" => {
            let li = actor(app, Role::Associate, Some("li.na")).await;
            app.salon
                .create_moment(&li, "The winter collection", &[], &[])
                .await
                .expect("moment");
        }
        "listDisputes" => {
            policy_order(app).await;
            let li = app.user("li.na").await;
            app.salon
                .repo
                .create_dispute(app.brand.id, "POLICY-O1", li.id, "I served her", 0)
                .await
                .expect("dispute");
        }
        "listShareLinks" => {
            for (role, local) in [
                (Role::Associate, "li.na"),
                (Role::StoreManager, "zhang.min"),
            ] {
                let who = actor(app, role, Some(local)).await;
                app.salon
                    .create_share_link(
                        &who,
                        &app::sales::ShareLinkInput {
                            url: Some("https://shop.example/camille-bag".into()),
                            title: Some("Camille bag".into()),
                            ..Default::default()
                        },
                    )
                    .await
                    .expect("share link");
            }
        }
        "getTierThresholds" => {
            app.salon
                .set_tier_thresholds(&hq, vec![("Gold".into(), 100_000_000)])
                .await
                .expect("tiers");
        }
        _ => {}
    }
}

fn letter(r: Role) -> char {
    match r {
        Role::Associate => 'A',
        Role::StoreManager => 'M',
        Role::Hq => 'H',
        Role::Compliance => 'C',
        Role::Admin => 'D',
    }
}

async fn token_for(app: &TestApp, role: Role) -> String {
    match role {
        Role::Associate => app.token(role, Some("li.na")).await,
        Role::StoreManager => app.token(role, Some("zhang.min")).await,
        _ => app.token(role, None).await,
    }
}

/// A request that succeeds for an allowed role: (method, path, body).
async fn request(
    app: &TestApp,
    op: &str,
    method: &str,
    path: &str,
) -> (String, String, Option<(&'static str, String)>) {
    let client = app.client_of("li.na").await;
    let wang = app.user("wang.fang").await;
    let chen = app.user("chen.jie").await;
    let chat_client = app.client_with_wecom("li.na").await;
    let id = if op == "listMessages" {
        chat_client.0
    } else if path.starts_with("/clients") {
        client.0
    } else if path.starts_with("/conversations") {
        chat_client.0
    } else if path.starts_with("/outbox") {
        app.salon
            .repo
            .enqueue(
                app.brand.id,
                &domain::NewOutbound {
                    client_id: chat_client,
                    associate_id: None,
                    channel: domain::ChannelKind::Wecom,
                    msg_type: "text".into(),
                    body: "policy".into(),
                    idem_key: "policy".into(),
                    at: 0,
                },
            )
            .await
            .expect("enqueue")
            .id
    } else if path.starts_with("/segments/") {
        app.salon
            .repo
            .save_segment(app.brand.id, None, "Policy segment", "tier:gold", None, 0)
            .await
            .expect("segment")
            .id
    } else if path.starts_with("/assets/") {
        app.approved_asset().await
    } else if path.starts_with("/campaigns/") {
        let id = campaign(app, domain::CampaignKind::Broadcast).await;
        if matches!(op, "campaignSends" | "getCampaign") {
            let hq = actor(app, Role::Hq, None).await;
            app.salon.plan_campaign(&hq, id).await.expect("planned");
        }
        id
    } else if path.starts_with("/tasks/") {
        campaign(app, domain::CampaignKind::Prepared).await
    } else if path.starts_with("/groups/{id}") {
        policy_group(app).await
    } else if path.starts_with("/sales/disputes/") {
        policy_order(app).await;
        let li = app.user("li.na").await;
        app.salon
            .repo
            .create_dispute(app.brand.id, "POLICY-O1", li.id, "I served her", 0)
            .await
            .expect("dispute")
            .id
    } else if path.starts_with("/compliance/rules") {
        app.salon.repo.rules(app.brand.id).await.expect("rules")[0].id
    } else if path.starts_with("/compliance/flags") {
        app.open_flag(chat_client).await
    } else {
        wang.id.0
    };
    if matches!(op, "postReturns" | "raiseDispute") {
        policy_order(app).await;
    }
    something_to_list(app, op).await;
    let path = path
        .replace("{id}", &id.to_string())
        .replace("{code}", "SH01")
        .replace("{channel}", "wecom")
        .replace("{sku}", "ML-BAG-LUNE");
    let json = |s: String| Some(("application/json", s));
    let body = match op {
        "createClient" => json(r#"{"first_name":"Policy","last_name":"Test","tags":["policy"],"identities":[{"kind":"crm","value":"POLICY-C1"}],"consents":[{"channel":"wecom","purpose":"service","granted":true}]}"#.into()),
        "importClients" => Some(("text/csv", "crm_id,first_name\nPOLICY-1,Policy\n".to_owned())),
        "updateClient" => json(r#"{"city":"Hangzhou"}"#.into()),
        "addNote" => json(r#"{"text":"policy note"}"#.into()),
        "editTags" => json(r#"{"add":["policy"]}"#.into()),
        "assignClient" => json(format!(r#"{{"associate":"chen.jie@{DOMAIN}"}}"#)),
        "createStore" => json(r#"{"code":"PT01","name":"Policy","city":"Hangzhou","country":"CN"}"#.into()),
        "updateStore" => json(r#"{"name":"Renamed"}"#.into()),
        "createAssociate" => json(r#"{"email":"new@policy.example","display_name":"New","role":"associate","store":"SH01"}"#.into()),
        "updateAssociate" => json(r#"{"display_name":"Renamed"}"#.into()),
        "transferClients" => json(format!(r#"{{"to":{}}}"#, chen.id.0)),
        "configureChannel" => json(r#"{"agent_id":"1000003"}"#.into()),
        "createContactWay" => json(r#"{"kind":"store","store":"SH01","tags":["policy"]}"#.into()),
        "growthForecast" => json(r#"{"current_fanbase":1000,"organic_growth_rate":0.1}"#.into()),
        "importEvents" => Some((
            "application/x-ndjson",
            "{\"ts\":\"2025-01-03T20:15:00+08:00\",\"kind\":\"follow\",\"follower\":\"oP1\",\"source\":\"qr_code\"}\nnot an event\n".to_owned(),
        )),
        // A price promise is a warning, not a refusal: the message goes, with the warning.
        "sendMessage" => json(r#"{"text":"Your scarf is ready; ask me for the staff price","idempotency_key":"policy-1"}"#.into()),
        "postToGroup" => json(r#"{"text":"Your scarf is ready","idempotency_key":"policy-1"}"#.into()),
        "createRule" => json(r#"{"name":"Policy","category":"other","severity":"low","action":"flag","words":"policy"}"#.into()),
        "updateRule" => json(r#"{"name":"Policy","category":"other","severity":"low","action":"flag","words":"policy","enabled":false}"#.into()),
        "checkText" => json(r#"{"text":"打八折"}"#.into()),
        "reviewFlag" => json(r#"{"outcome":"resolve","note":"checked"}"#.into()),
        "countSegment" => json(r#"{"expression":"tier:gold"}"#.into()),
        "createSegment" => json(r#"{"name":"Policy","expression":"tier:gold"}"#.into()),
        "updateSegment" => json(r#"{"name":"Policy 2","expression":"tier:gold"}"#.into()),
        "putContactPolicy" => json(r#"{"per_week":3,"per_month":8,"quiet_start":1320,"quiet_end":540,"sa_daily_quota":200}"#.into()),
        "createCampaign" => json(format!(r#"{{"name":"Policy","expression":"tier:gold","text":"Hello","asset_ids":[{}]}}"#, app.approved_asset().await)),
        "setAssetStatus" => json(r#"{"status":"retired"}"#.into()),
        "sendImage" => json(format!(r#"{{"asset_id":{},"idempotency_key":"policy-img"}}"#, app.approved_asset().await)),
        "createMoment" | "postMyMoment" => json(r#"{"text":"The winter collection is in store"}"#.into()),
        "postOrders" => json(r#"{"order_id":"POLICY-O2","source":"ecommerce","client":"CRM-1","placed_at":"2026-01-09T15:02:00+08:00","currency":"CNY","lines":[{"line":1,"sku":"BAG","qty":1,"amount":100}]}"#.into()),
        "postReturns" => json(r#"{"return_id":"POLICY-R1","order_id":"POLICY-O1","line":1,"qty":1,"amount":50,"at":"2026-01-10T15:02:00+08:00"}"#.into()),
        "postTouches" => json(format!(r#"{{"at":"2026-01-08T15:02:00+08:00","associate":"li.na@{DOMAIN}","client":"CRM-1","kind":"message"}}"#)),
        "postFxRates" => json(r#"{"date":"2026-01-01","currency":"EUR","rate":"7.8125"}"#.into()),
        "putSalesPolicy" => json(r#"{"model":"split"}"#.into()),
        "putTierThresholds" => json(r#"{"tiers":[{"tier":"Gold","min_spend":100000000}]}"#.into()),
        "putTargets" => json(format!(r#"{{"month":"2026-01","targets":[{{"associate":"li.na@{DOMAIN}","amount":100}}]}}"#)),
        "createShareLink" => json(r#"{"url":"https://shop.example/camille-bag","title":"Camille bag"}"#.into()),
        "importProducts" => json(r#"[{"sku":"POLICY-1","name_en":"Policy bag","prices":{"CNY":"100"}}]"#.into()),
        "putProduct" => json(r#"{"name_zh":"政策手袋","name_en":"Policy bag","colours":["black"],"sizes":["M"],"prices":{"CNY":"32000"}}"#.into()),
        "putStock" => json(r#"[{"sku":"ML-BAG-LUNE","store":"SH01","quantity":5}]"#.into()),
        "raiseDispute" => json(r#"{"order_id":"POLICY-O1","reason":"I served her"}"#.into()),
        "decideDispute" => json(format!(r#"{{"shares":[{{"associate":"li.na@{DOMAIN}","fraction":"1"}}],"note":"checked the chat"}}"#)),
        _ => None,
    };
    let path = if matches!(op, "salesReport" | "myMonth" | "exportStatements") {
        format!("{path}?month=2026-01")
    } else if op == "getReport" || op == "getBenchmark" {
        format!("{path}?from=2025-01-01&to=2025-02-01")
    } else if op == "importEvents" {
        // The bad line is skipped and reported.
        format!("{path}?skip_bad=true")
    } else if op == "pushAbTest" {
        format!("{path}?from=2025-01-01&to=2025-02-01&a=11-14&b=19-22")
    } else {
        path
    };
    (method.to_owned(), format!("/api/v1{path}"), body)
}

#[tokio::test]
async fn every_route_every_role_and_a_foreign_brand() {
    let routes = web::api::routes();
    for r in &routes {
        assert!(
            POLICY.iter().any(|(op, _)| *op == r.operation),
            "route {} {} ({}) has no line in the policy table",
            r.method,
            r.path,
            r.operation
        );
    }
    assert_eq!(
        routes.len(),
        POLICY.len(),
        "the policy table names a route that does not exist"
    );

    let contract = contract(&spawn(1).await).await;
    // Every answer that breaks the contract, reported together at the end.
    let mut broken = Vec::new();
    for r in &routes {
        let allowed = POLICY
            .iter()
            .find(|(op, _)| *op == r.operation)
            .map(|(_, roles)| *roles)
            .unwrap_or_default();
        for role in Role::ALL {
            // A fresh brand for each call: an allowed call must succeed, whatever ran before.
            let app = spawn(40).await;
            let token = token_for(&app, role).await;
            let (method, path, body) = request(&app, r.operation, r.method.as_str(), r.path).await;
            // What the walk sends is what the document describes.
            let sent = match (r.operation, &body) {
                ("uploadAsset", _) => Some(("multipart/form-data", "")),
                (_, Some((ct, b))) => Some((*ct, b.as_str())),
                (_, None) => None,
            };
            if let Err(e) = contract.check_request(&method, &path, sent) {
                broken.push(e);
            }
            let (status, content_type, text) = if r.operation == "uploadAsset" {
                let (ct, b) = support::asset_multipart("Policy", &support::png(32, 32));
                app.call_raw_typed(&method, &path, Some(&token), &ct, b)
                    .await
            } else {
                app.call_typed(&method, &path, Some(&token), body.clone())
                    .await
            };
            let answer = Answer {
                method: &method,
                uri: &path,
                status,
                content_type: content_type.as_deref(),
                body: &text,
            };
            if let Err(e) = contract.check(&answer) {
                broken.push(format!("as {role}: {e}"));
            }
            if allowed.contains(letter(role)) {
                assert!(
                    status.is_success(),
                    "{} as {role}: expected success, got {status}: {text}",
                    r.operation
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{} as {role}: expected 403, got {text}",
                    r.operation
                );
                assert!(text.contains(r#""error":"forbidden""#), "{text}");
            }
        }

        // No token: 401. A foreign brand's HQ and admin tokens: our rows are "not found",
        // and nothing of ours comes back.
        let app = spawn(40).await;
        let (method, path, body) = request(&app, r.operation, r.method.as_str(), r.path).await;
        let (status, content_type, text) = app.call_typed(&method, &path, None, body.clone()).await;
        let answer = Answer {
            method: &method,
            uri: &path,
            status,
            content_type: content_type.as_deref(),
            body: &text,
        };
        if let Err(e) = contract.check(&answer) {
            broken.push(format!("without a token: {e}"));
        }
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{} without a token",
            r.operation
        );
        let (status, content_type, text) = app
            .call_typed(&method, &path, Some("salon_not-a-token"), body.clone())
            .await;
        let answer = Answer {
            method: &method,
            uri: &path,
            status,
            content_type: content_type.as_deref(),
            body: &text,
        };
        if let Err(e) = contract.check(&answer) {
            broken.push(format!("with a bad token: {e}"));
        }
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{} with a bad token",
            r.operation
        );

        app.salon
            .repo
            .create_brand(&domain::NewBrand {
                slug: domain::Slug::parse("s", "rival").expect("slug"),
                name: "Rival".into(),
                time_zone: domain::TimeZoneName::shanghai(),
                currencies: vec![],
                locales: vec![],
                tiers: vec!["Gold".into()],
            })
            .await
            .expect("rival");
        for role in [Role::Hq, Role::Admin] {
            let foreign = app
                .salon
                .create_token("rival", role, None, None, "rival")
                .await
                .expect("token");
            let (status, content_type, text) = app
                .call_typed(&method, &path, Some(&foreign), body.clone())
                .await;
            let answer = Answer {
                method: &method,
                uri: &path,
                status,
                content_type: content_type.as_deref(),
                body: &text,
            };
            if let Err(e) = contract.check(&answer) {
                broken.push(format!("with a foreign {role} token: {e}"));
            }
            // Paths naming one of our rows; `{channel}` names a kind, which every brand has.
            if r.path.contains("{id}") || r.path.contains("{code}") {
                if r.action.allowed(role) {
                    assert_eq!(
                        status,
                        StatusCode::NOT_FOUND,
                        "{} with a foreign {role} token: {text}",
                        r.operation
                    );
                    assert!(text.contains("_not_found"), "{text}");
                } else {
                    assert_eq!(
                        status,
                        StatusCode::FORBIDDEN,
                        "{} with a foreign {role} token",
                        r.operation
                    );
                }
            } else {
                assert!(!status.is_server_error(), "{}: {text}", r.operation);
                for ours in ["Lumière", "Plaza 66", DOMAIN] {
                    assert!(
                        !text.contains(ours),
                        "{} with a foreign token leaked {ours}: {text}",
                        r.operation
                    );
                }
            }
        }
    }
    // What the walk validated, operation by operation (`cargo test -- --nocapture`).
    eprintln!("{}", contract.coverage());
    assert!(
        broken.is_empty(),
        "{} answer(s) break the OpenAPI contract:\n{}",
        broken.len(),
        broken.join("\n")
    );
}

#[tokio::test]
async fn associates_see_only_their_own_clients_and_managers_their_store() {
    let app = spawn(120).await;
    let li = app.token(Role::Associate, Some("li.na")).await;
    let wang_client = app.client_of("wang.fang").await;
    let (status, text) = checked(&app)
        .call(
            "GET",
            &format!("/api/v1/clients/{}", wang_client.0),
            Some(&li),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    assert!(text.contains(r#""error":"client_not_found""#));

    let li_id = app.user("li.na").await.id;
    let (status, text) = checked(&app)
        .call("GET", "/api/v1/clients?limit=200", Some(&li), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let items = v["items"].as_array().expect("items");
    assert!(!items.is_empty());
    assert!(
        items.iter().all(|c| c["associate_id"] == li_id.0),
        "an associate sees only their book"
    );

    let manager = app.token(Role::StoreManager, Some("liu.yang")).await; // Beijing
    let (status, _) = checked(&app)
        .call(
            "GET",
            &format!("/api/v1/clients/{}", wang_client.0),
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a Beijing manager cannot open a Shanghai client"
    );
}

#[tokio::test]
async fn api_contract_pagination_errors_and_openapi() {
    let app = spawn(120).await;
    let hq = app.token(Role::Hq, None).await;
    let mut seen = std::collections::HashSet::new();
    let mut path = "/api/v1/clients?limit=50".to_owned();
    loop {
        let (status, text) = checked(&app).call("GET", &path, Some(&hq), None).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        for c in v["items"].as_array().expect("items") {
            assert!(
                seen.insert(c["id"].as_i64().expect("id")),
                "a client listed twice"
            );
        }
        match v["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/clients?limit=50&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 120);

    let (status, text) = checked(&app)
        .call("GET", "/api/v1/clients?limit=999", Some(&hq), None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text.contains(r#""field":"limit""#), "{text}");
    let (status, text) = checked(&app)
        .call(
            "POST",
            "/api/v1/clients",
            Some(&hq),
            Some(("application/json", "{not json".into())),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(text.contains(r#""error":"invalid_input""#));
    let (status, text) = checked(&app)
        .call("GET", "/api/v1/clients/abc", Some(&hq), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");

    // Import: a bad row stops everything unless skip_bad; re-import is idempotent.
    let csv = "crm_id,first_name,phone\nN1,Ann,+8613800000001\nN2,Bob,12345\n";
    let (status, text) = checked(&app)
        .call(
            "POST",
            "/api/v1/clients/import",
            Some(&hq),
            Some(("text/csv", csv.into())),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(
        text.contains(r#""line":3"#) && text.contains(r#""field":"phone""#),
        "{text}"
    );
    let (status, text) = checked(&app)
        .call(
            "POST",
            "/api/v1/clients/import?skip_bad=true",
            Some(&hq),
            Some(("text/csv", csv.into())),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains(r#""created":1"#), "{text}");
    let (_, text) = checked(&app)
        .call(
            "POST",
            "/api/v1/clients/import?skip_bad=true",
            Some(&hq),
            Some(("text/csv", csv.into())),
        )
        .await;
    assert!(
        text.contains(r#""created":0"#) && text.contains(r#""updated":1"#),
        "{text}"
    );

    let (status, text) = checked(&app)
        .call("GET", "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/clients/{id}"]["get"]["operationId"] == "getClient");
}

#[tokio::test]
async fn a_departed_associates_token_stops_at_once() {
    let app = spawn(20).await;
    let li = app.token(Role::Associate, Some("li.na")).await;
    assert_eq!(
        checked(&app)
            .call("GET", "/api/v1/clients", Some(&li), None)
            .await
            .0,
        StatusCode::OK
    );
    let hq = app.token(Role::Hq, None).await;
    let id = app.user("li.na").await.id;
    let (status, text) = checked(&app)
        .call(
            "POST",
            &format!("/api/v1/associates/{}/depart", id.0),
            Some(&hq),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(
        checked(&app)
            .call("GET", "/api/v1/clients", Some(&li), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED,
        "no cached access survives a departure"
    );
}

/// Role changes, walked: every role as the actor × every role as what is granted, revoked
/// or departed, through the API, against `Role::managed_by` (the grant table in the README):
/// associate and store manager by HQ and the admin, HQ by HQ, the admin by the admin, and a
/// compliance officer by nobody in the brand (the operator, at the command line). A refusal
/// changes nothing.
#[tokio::test]
async fn who_may_grant_revoke_and_depart_which_role() {
    use domain::{Action, NewUser, UserStatus};
    let app = spawn(5).await;
    let sh01 = app
        .salon
        .repo
        .store_by_code(app.brand.id, "SH01")
        .await
        .expect("q")
        .expect("SH01");
    let mut n = 0;
    let mut staff = |role: Role| {
        n += 1;
        let email = format!("walk{n}@policy.example");
        let repo = app.salon.repo.clone();
        let brand = app.brand.id;
        let store = matches!(role, Role::Associate | Role::StoreManager).then_some(sh01.id);
        async move {
            repo.create_user(
                brand,
                &NewUser {
                    email: domain::Email::parse("email", &email).expect("email"),
                    display_name: format!("Walk {email}"),
                    role,
                    store_id: store,
                    password_hash: None,
                },
            )
            .await
            .expect("user")
        }
    };
    let store_field = |r: Role| {
        if matches!(r, Role::Associate | Role::StoreManager) {
            r#","store":"SH01""#
        } else {
            ""
        }
    };
    let mut failures = Vec::new();
    for actor in Role::ALL {
        let token = token_for(&app, actor).await;
        let manages = Action::ManageAssociates.allowed(actor);
        for target in Role::ALL {
            // Create someone with the role.
            let body = format!(
                r#"{{"email":"new-{}-{}@policy.example","display_name":"New","role":"{target}"{}}}"#,
                actor.as_str(),
                target.as_str(),
                store_field(target)
            );
            let (status, text) = checked(&app)
                .call(
                    "POST",
                    "/api/v1/associates",
                    Some(&token),
                    Some(("application/json", body)),
                )
                .await;
            let expected = manages && target.managed_by(actor);
            if status.is_success() != expected || (!expected && status != StatusCode::FORBIDDEN) {
                failures.push(format!("{actor} creating a {target}: {status} {text}"));
            }
            // Grant the role to an associate.
            let a = staff(Role::Associate).await;
            let body = format!(r#"{{"role":"{target}"{}}}"#, store_field(target));
            let (status, text) = checked(&app)
                .call(
                    "PATCH",
                    &format!("/api/v1/associates/{}", a.id.0),
                    Some(&token),
                    Some(("application/json", body)),
                )
                .await;
            let expected = manages && target.managed_by(actor) && Role::Associate.managed_by(actor);
            if status.is_success() != expected {
                failures.push(format!("{actor} granting {target}: {status} {text}"));
            }
            let now = app
                .salon
                .repo
                .user(app.brand.id, a.id)
                .await
                .expect("q")
                .expect("user");
            if !expected && now.role != Role::Associate {
                failures.push(format!(
                    "{actor} granting {target}: refused, yet the role changed"
                ));
            }
            // Revoke the role: make its holder an associate.
            let holder = staff(target).await;
            let (status, text) = checked(&app)
                .call(
                    "PATCH",
                    &format!("/api/v1/associates/{}", holder.id.0),
                    Some(&token),
                    Some((
                        "application/json",
                        r#"{"role":"associate","store":"SH01"}"#.into(),
                    )),
                )
                .await;
            let expected = manages && target.managed_by(actor) && Role::Associate.managed_by(actor);
            if status.is_success() != expected {
                failures.push(format!("{actor} revoking {target}: {status} {text}"));
            }
            let now = app
                .salon
                .repo
                .user(app.brand.id, holder.id)
                .await
                .expect("q")
                .expect("user");
            if !expected && now.role != target {
                failures.push(format!(
                    "{actor} revoking {target}: refused, yet the role changed"
                ));
            }
            // Depart a holder of the role.
            let holder = staff(target).await;
            let (status, text) = checked(&app)
                .call(
                    "POST",
                    &format!("/api/v1/associates/{}/depart", holder.id.0),
                    Some(&token),
                    None,
                )
                .await;
            let expected = Action::DepartAssociate.allowed(actor)
                && (target.managed_by(actor)
                    || (actor == Role::StoreManager && target == Role::Associate));
            if status.is_success() != expected {
                failures.push(format!("{actor} departing a {target}: {status} {text}"));
            }
            let now = app
                .salon
                .repo
                .user(app.brand.id, holder.id)
                .await
                .expect("q")
                .expect("user");
            if !expected && now.status != UserStatus::Active {
                failures.push(format!(
                    "{actor} departing a {target}: refused, yet departed"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An idempotency key is its sender's: another associate sending with the same key gets a
/// message of their own, never the first sender's message back.
#[tokio::test]
async fn idempotency_keys_belong_to_their_sender() {
    let app = spawn(60).await;
    let mine = app.client_with_wecom("li.na").await;
    let li = app.token(Role::Associate, Some("li.na")).await;
    let manager = app.token(Role::StoreManager, Some("zhang.min")).await;
    let send = |token: String, client: domain::ClientId, text: &'static str| {
        let app = &app;
        async move {
            let (status, body) = checked(app)
                .call(
                    "POST",
                    &format!("/api/v1/conversations/{}/messages", client.0),
                    Some(&token),
                    Some((
                        "application/json",
                        format!(r#"{{"text":"{text}","idempotency_key":"shared-key"}}"#),
                    )),
                )
                .await;
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
            serde_json::from_str::<serde_json::Value>(&body).expect("json")
        }
    };
    let first = send(li.clone(), mine, "您好，李娜的消息").await;
    let again = send(li.clone(), mine, "您好，李娜的消息").await;
    assert_eq!(
        first["outbound"]["id"], again["outbound"]["id"],
        "a retry is one message"
    );
    // The store manager writes to the same client with the same key: a message of their own.
    let theirs = send(manager, mine, "您好，店长的消息").await;
    assert_ne!(theirs["outbound"]["id"], first["outbound"]["id"]);
    assert_eq!(theirs["outbound"]["body"], "您好，店长的消息", "{theirs}");
}

/// HQ sees figures, not message text, whatever the route; a compliance officer reads
/// message text through every route, and every such read is in the audit log.
#[tokio::test]
async fn message_text_is_for_readers_and_every_compliance_read_is_audited() {
    let app = spawn(60).await;
    let client = app.client_with_wecom("li.na").await;
    let hq = app.token(Role::Hq, None).await;
    let (status, body) = checked(&app)
        .call(
            "GET",
            &format!("/api/v1/clients/{}/messages", client.0),
            Some(&hq),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let compliance = app.token(Role::Compliance, Some("compliance")).await;
    let reads = || async {
        app.salon
            .repo
            .audit_log(app.brand.id, 0, 10_000)
            .await
            .expect("log")
            .into_iter()
            .filter(|e| e.action == "compliance_read")
            .count()
    };
    let before = reads().await;
    for path in [
        format!("/api/v1/clients/{}/messages", client.0),
        format!("/api/v1/conversations/{}", client.0),
        "/api/v1/conversations".to_owned(),
    ] {
        let n = reads().await;
        let (status, body) = checked(&app)
            .call("GET", &path, Some(&compliance), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(reads().await, n + 1, "{path} is audited");
    }
    assert_eq!(reads().await, before + 3);
}

/// The contract checker itself: what it must refuse.
#[test]
fn the_contract_checker_catches_what_breaks_the_document() {
    let doc = serde_json::json!({
        "paths": {
            "/things/{id}": {"get": {"operationId": "getThing",
                "parameters": [{"name": "id", "in": "path", "required": true},
                               {"name": "full", "in": "query", "required": false}],
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                    "404": {"$ref": "#/components/responses/Error"}}}},
            "/things/export": {"get": {"operationId": "exportThings",
                "responses": {"200": {"description": "OK", "content": {"text/csv": {"schema": {"type": "string"}}}}}}},
            "/things": {"post": {"operationId": "createThing",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}, "additionalProperties": false}}}},
                "responses": {"201": {"description": "Created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}}}}
        },
        "components": {
            "responses": {"Error": {"description": "E", "content": {"application/json": {"schema": {
                "type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}}}}},
            "schemas": {"Thing": {"type": "object", "required": ["id", "name", "tags"], "additionalProperties": false,
                "properties": {"id": {"type": "integer"}, "name": {"type": ["string", "null"]},
                               "tags": {"type": "array", "items": {"type": "string"}}}}}
        }
    });
    let c = Contract::new(doc);
    let answer =
        |uri: &'static str, status: u16, content_type: &'static str, body: &'static str| {
            let status = StatusCode::from_u16(status).expect("status");
            move |c: &Contract| {
                c.check(&Answer {
                    method: "GET",
                    uri,
                    status,
                    content_type: Some(content_type),
                    body,
                })
            }
        };
    let json = "application/json";
    let good = answer(
        "/api/v1/things/7",
        200,
        json,
        r#"{"id":7,"name":null,"tags":["a"]}"#,
    );
    assert_eq!(good(&c), Ok(()));
    // A literal segment wins over a parameter.
    assert_eq!(
        answer(
            "/api/v1/things/export",
            200,
            "text/csv; charset=utf-8",
            "id\n"
        )(&c),
        Ok(())
    );
    for (what, bad) in [
        (
            "a renamed field",
            answer(
                "/api/v1/things/7",
                200,
                json,
                r#"{"id":7,"title":null,"tags":[]}"#,
            ),
        ),
        (
            "a dropped field",
            answer("/api/v1/things/7", 200, json, r#"{"id":7,"tags":[]}"#),
        ),
        (
            "a wrong type in a list",
            answer(
                "/api/v1/things/7",
                200,
                json,
                r#"{"id":7,"name":"x","tags":[1]}"#,
            ),
        ),
        (
            "an undocumented status",
            answer(
                "/api/v1/things/7",
                201,
                json,
                r#"{"id":7,"name":"x","tags":[]}"#,
            ),
        ),
        (
            "an undocumented content type",
            answer("/api/v1/things/7", 200, "text/csv", "id\n7\n"),
        ),
        (
            "an error not in the Error shape",
            answer("/api/v1/things/7", 404, json, r#"{"message":"gone"}"#),
        ),
        (
            "an unknown route",
            answer("/api/v1/others/7", 200, json, "{}"),
        ),
    ] {
        assert!(bad(&c).is_err(), "{what} passed the contract");
    }
    assert_eq!(
        c.check_request("POST", "/api/v1/things", Some((json, r#"{"name":"x"}"#))),
        Ok(())
    );
    assert!(
        c.check_request("POST", "/api/v1/things", Some((json, r#"{"title":"x"}"#)))
            .is_err()
    );
    assert!(c.check_request("POST", "/api/v1/things", None).is_err());
    assert!(
        c.check_request("POST", "/api/v1/things", Some(("text/csv", "name\n")))
            .is_err()
    );
    assert!(
        c.check_request("GET", "/api/v1/things/7?full=true", None)
            .is_ok()
    );
    assert!(
        c.check_request("GET", "/api/v1/things/7?fields=a", None)
            .is_err()
    );
}
