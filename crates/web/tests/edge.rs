//! The web edge: where a person is sent after signing in, the sign-in throttle behind proxies
//! and across processes, the public join form against floods, HSTS, CSV exports that a
//! spreadsheet cannot run, and the API's errors in its own shape whatever answers them.

mod support;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use domain::*;
use http_body_util::BodyExt;
use support::{DOMAIN, TestApp, spawn};
use tower::ServiceExt;

struct Res {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Res {
    fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|c| c.split(';').next())
            .find(|kv| kv.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }
}

async fn send(
    router: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    form: Option<String>,
) -> Res {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "localhost:8080");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = match form {
        Some(f) => req
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(f)),
        None => req.body(Body::empty()),
    }
    .expect("request");
    let res = router.clone().oneshot(req).await.expect("response");
    let status = res.status();
    let headers = res.headers().clone();
    let body = String::from_utf8_lossy(&res.into_body().collect().await.expect("body").to_bytes())
        .into_owned();
    Res {
        status,
        headers,
        body,
    }
}

fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    body.split(&marker)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

/// Salon behind `hops` proxies of its own, on the test's database.
fn behind_proxies(app: &TestApp, hops: usize) -> Router {
    let mut state = web::AppState::new(app.salon.clone());
    state.behind_proxy = true;
    state.proxy_hops = hops;
    web::router(state)
}

async fn sign_in(router: &Router, email: &str, password: &str, next: &str, xff: &str) -> Res {
    let page = send(router, "GET", "/login", &[], None).await;
    let csrf_cookie = page
        .cookie("__Host-salon_login_csrf")
        .or_else(|| page.cookie("salon_login_csrf"))
        .expect("login CSRF cookie");
    let csrf = hidden(&page.body, "csrf");
    let form = format!("csrf={csrf}&brand=demo&email={email}&password={password}&next={next}");
    let mut headers = vec![("cookie", csrf_cookie.as_str())];
    if !xff.is_empty() {
        headers.push(("x-forwarded-for", xff));
    }
    send(router, "POST", "/login", &headers, Some(form)).await
}

#[tokio::test]
async fn next_is_a_local_path_or_the_client_book() {
    let app = spawn(5).await;
    let hostile = [
        "%2F%09%2Fevil.example",
        "%2F%2Fevil.example",
        "%2F%5Cevil.example",
        "%2F%5C%2Fevil.example",
        "%09%2F%2Fevil.example",
        "https%3A%2F%2Fevil.example",
        "%2Fclients%0D%0ASet-Cookie%3A%20x%3D1",
        "%2Fclients%0Aevil",
        "%2Fa%2F%2Fb",
        "%2Fclients%20x",
        "%2Fclients%00",
        "%2F%E5%AE%A2",
        "evil.example",
        "",
    ];
    for next in hostile {
        let r = send(
            &app.router,
            "GET",
            &format!("/lang/en?next={next}"),
            &[],
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{next}");
        assert_eq!(r.location(), Some("/clients"), "{next}");
    }
    let r = send(
        &app.router,
        "GET",
        "/lang/en?next=%2Finbox%2F3%3Fok%3D1%23compose",
        &[],
        None,
    )
    .await;
    assert_eq!(r.location(), Some("/inbox/3?ok=1#compose"));
    // The sign-in form and its answer hold the same rule.
    let page = send(
        &app.router,
        "GET",
        "/login?next=%2F%09%2Fevil.example",
        &[],
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.body.contains("evil.example"),
        "the form does not carry it"
    );
    let r = sign_in(
        &app.router,
        &format!("hq%40{DOMAIN}"),
        "lumiere-demo",
        "%2F%09%2Fevil.example",
        "",
    )
    .await;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, Some("/clients"))
    );
    let r = sign_in(
        &app.router,
        &format!("hq%40{DOMAIN}"),
        "lumiere-demo",
        "%2Fclients%0D%0AX%3A%201",
        "",
    )
    .await;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, Some("/clients"))
    );
    let r = sign_in(
        &app.router,
        &format!("hq%40{DOMAIN}"),
        "lumiere-demo",
        "%2Fanalytics",
        "",
    )
    .await;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, Some("/analytics"))
    );
}

#[tokio::test]
async fn the_sign_in_throttle_trusts_only_our_proxies_and_is_shared() {
    let app = spawn(5).await;
    let one = behind_proxies(&app, 1);
    // Spraying: one wrong password for five accounts from one address, which writes a new
    // address of its own at the left of X-Forwarded-For each time.
    for i in 0..5 {
        let r = sign_in(
            &one,
            &format!("nobody{i}%40{DOMAIN}"),
            "wrong-password",
            "%2Fclients",
            &format!("198.51.100.{i}, 203.0.113.7"),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // The sixth attempt from that address is throttled, whatever it claims, even with the
    // right password, and by another Salon process on the same database too.
    let r = sign_in(
        &one,
        &format!("hq%40{DOMAIN}"),
        "lumiere-demo",
        "%2Fclients",
        "192.0.2.1, 203.0.113.7",
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let other = {
        let keys = store::Keyring::new(&[9u8; 32]).expect("key");
        let repo = store::SqliteRepo::connect(&app.db_url, keys)
            .await
            .expect("db");
        let mut state = web::AppState::new(app::Salon::new(std::sync::Arc::new(repo)));
        state.behind_proxy = true;
        web::router(state)
    };
    let r = sign_in(
        &other,
        &format!("hq%40{DOMAIN}"),
        "lumiere-demo",
        "%2Fclients",
        "203.0.113.7",
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "shared by every process"
    );
    // Another client behind the same proxy signs in.
    let r = sign_in(
        &one,
        &format!("hq%40{DOMAIN}"),
        "lumiere-demo",
        "%2Fclients",
        "203.0.113.8",
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Two proxies: the client is the second from the right; the leftmost is the client's say.
    let two = behind_proxies(&app, 2);
    for i in 0..5 {
        let r = sign_in(
            &two,
            &format!("nobody{i}%40{DOMAIN}"),
            "wrong-password",
            "%2Fclients",
            &format!("198.51.100.{i}, 203.0.113.9, 10.0.0.{i}"),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = sign_in(
        &two,
        &format!("hq%40{DOMAIN}"),
        "lumiere-demo",
        "%2Fclients",
        "203.0.113.9, 10.0.0.1",
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_join_form_takes_people_not_scripts() {
    let app = spawn(5).await;
    let proxied = behind_proxies(&app, 1);
    let path = "/join/demo/SH01";
    let clients = || async {
        app.salon
            .repo
            .count_clients(app.brand.id, Scope::Brand)
            .await
            .expect("count")
    };
    let before = clients().await;
    let page = send(&proxied, "GET", path, &[], None).await;
    assert_eq!(page.status, StatusCode::OK);
    let served = hidden(&page.body, "token");
    assert!(!served.is_empty(), "the form carries its token");
    let form = |token: &str, name: &str| format!("token={token}&name={name}&consent=yes");
    let post = |token: String, name: &'static str, from: &'static str| {
        let proxied = proxied.clone();
        async move {
            send(
                &proxied,
                "POST",
                path,
                &[("x-forwarded-for", from)],
                Some(form(&token, name)),
            )
            .await
        }
    };
    let now = now_millis();
    let token_at = |at: Millis| app.salon.join_token("demo", "SH01", at);
    // No token, a forged one, one for another store, one posted at once, one hours old: the
    // form comes back (entries kept) and nothing is stored.
    for token in [
        String::new(),
        format!("{}.AAAAAAAAAAAAAAAAAAAAAA", now - 10_000),
        app.salon.join_token("demo", "BJ01", now - 10_000),
        served,
        token_at(now - 3 * 60 * 60 * 1000),
    ] {
        let r = post(token.clone(), "Mei", "203.0.113.50").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{token}");
        assert!(r.body.contains("value=\"Mei\""), "the entries are kept");
        assert!(!hidden(&r.body, "token").is_empty(), "with a fresh token");
    }
    assert_eq!(clients().await, before);
    // A person who took ten seconds: taken.
    let r = post(token_at(now - 10_000), "Mei", "203.0.113.50").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(clients().await, before + 1);
    // A flood from one address stops at the per-address limit (the posts above count)…
    let mut last = StatusCode::OK;
    for _ in 0..app::edge::JOIN_PER_ADDRESS {
        last = post(token_at(now - 10_000), "Flood", "203.0.113.50")
            .await
            .status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // …while another client in the store, on another address, is welcome.
    let r = post(token_at(now - 10_000), "Lin", "203.0.113.51").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn hsts_only_over_tls() {
    let app = spawn(5).await;
    let proxied = behind_proxies(&app, 1);
    let hsts = |r: &Res| r.headers.get(header::STRICT_TRANSPORT_SECURITY).cloned();
    let r = send(
        &proxied,
        "GET",
        "/login",
        &[("x-forwarded-proto", "https")],
        None,
    )
    .await;
    assert_eq!(
        hsts(&r).as_ref().map(|v| v.as_bytes()),
        Some(&b"max-age=31536000"[..])
    );
    let r = send(
        &proxied,
        "GET",
        "/healthz",
        &[("x-forwarded-proto", "https")],
        None,
    )
    .await;
    assert!(hsts(&r).is_some(), "every answer");
    let r = send(
        &proxied,
        "GET",
        "/login",
        &[("x-forwarded-proto", "http")],
        None,
    )
    .await;
    assert!(hsts(&r).is_none());
    // Not behind a proxy, the header is the client's word: no HSTS.
    let r = send(
        &app.router,
        "GET",
        "/login",
        &[("x-forwarded-proto", "https")],
        None,
    )
    .await;
    assert!(hsts(&r).is_none());
}

#[tokio::test]
async fn csv_exports_neutralise_formulas() {
    let app = spawn(60).await;
    let client = app.client_of("li.na").await;
    for (i, body) in [
        "=HYPERLINK(\"http://evil.example\",\"x\")",
        "@SUM(A1:A9)",
        "+1+1",
        "-2+3",
        "\tx",
        "hello",
    ]
    .into_iter()
    .enumerate()
    {
        app.salon
            .repo
            .add_message(
                app.brand.id,
                &NewMessage {
                    client_id: client,
                    channel: ChannelKind::Wecom,
                    direction: Direction::In,
                    associate_id: None,
                    provider_id: Some(format!("csv-{i}")),
                    msg_type: "text".into(),
                    body: body.into(),
                    at: 1_000 + i as i64,
                },
            )
            .await
            .expect("message");
    }
    let compliance = app.token(Role::Compliance, Some("compliance")).await;
    let (status, csv) = app
        .call(
            "GET",
            &format!("/api/v1/conversations/{}/export?format=csv", client.0),
            Some(&compliance),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    let cells: Vec<String> = csv
        .lines()
        .flat_map(|l| l.split(',').map(str::to_owned).collect::<Vec<_>>())
        .collect();
    for cell in &cells {
        let c = cell.trim_start_matches('"');
        assert!(
            !(c.starts_with(['=', '+', '@', '\t', '\r'])
                || (c.starts_with('-') && c.contains('+'))),
            "a cell a spreadsheet would run: {cell:?}\n{csv}"
        );
    }
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
    assert!(csv.contains("'@SUM"), "{csv}");
    assert!(csv.contains("hello"));
}

#[tokio::test]
async fn api_errors_are_json_whoever_answers() {
    let app = spawn(5).await;
    let hq = app.token(Role::Hq, None).await;
    let big = format!("{{\"first_name\": \"{}\"}}", "x".repeat(3 * 1024 * 1024));
    let mut checks = Vec::new();
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/clients",
            Some(&hq),
            Some(("application/json", big)),
        )
        .await;
    checks.push((status, body));
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/clients",
            Some(&hq),
            Some(("application/json", "{not json".into())),
        )
        .await;
    checks.push((status, body));
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/clients",
            Some(&hq),
            Some(("text/plain", "{}".into())),
        )
        .await;
    checks.push((status, body));
    let (status, body) = app.call("DELETE", "/api/v1/clients", Some(&hq), None).await;
    checks.push((status, body));
    assert_eq!(checks[0].0, StatusCode::PAYLOAD_TOO_LARGE);
    for (status, body) in checks {
        assert!(status.is_client_error(), "{status}");
        let v: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|_| panic!("{status}: not JSON: {body}"));
        assert!(
            v["error"].is_string() && v["message"].is_string(),
            "{status}: {body}"
        );
    }
    let (_, body) = app
        .call(
            "POST",
            "/api/v1/clients",
            Some(&hq),
            Some((
                "application/json",
                format!("{{\"first_name\": \"{}\"}}", "x".repeat(3 << 20)),
            )),
        )
        .await;
    assert!(body.contains("payload_too_large"), "{body}");
    // Refused by the server-wide limit before any handler runs: JSON all the same.
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/clients/import")
        .header(header::AUTHORIZATION, format!("Bearer {hq}"))
        .header(header::CONTENT_TYPE, "text/csv")
        .header(header::CONTENT_LENGTH, (100u64 << 20).to_string())
        .body(Body::from("first_name\nMei\n"))
        .expect("request");
    let res = app.router.clone().oneshot(req).await.expect("response");
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        res.headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(v["error"], "payload_too_large", "{v}");
}
