//! The web edge: the sign-in throttle behind proxies and across processes, the public join
//! form against floods.

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
