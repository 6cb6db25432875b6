//! The web UI's sign-in, CSRF and sign-out, through the router in-process.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use support::{DOMAIN, Res, TestApp, cookie_pair, hidden, send, spawn};
use tower::ServiceExt;

async fn sign_in(app: &TestApp, email: &str, password: &str) -> Res {
    let page = send(app, "GET", "/login", "", None).await;
    let csrf_cookie =
        cookie_pair(&page.cookies, "__Host-salon_login_csrf").expect("login CSRF cookie");
    let csrf = hidden(&page.body, "csrf");
    let form = format!("csrf={csrf}&brand=demo&email={email}&password={password}&next=%2Fclients");
    send(app, "POST", "/login", &csrf_cookie, Some(form)).await
}

#[tokio::test]
async fn sign_in_csrf_and_sign_out() {
    let app = spawn(30).await;
    // Pages need a session.
    let r = send(&app, "GET", "/clients", "", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        r.location
            .as_deref()
            .is_some_and(|l| l.starts_with("/login?next="))
    );

    // Wrong password: refused without saying which part was wrong.
    let r = sign_in(&app, &format!("li.na%40{DOMAIN}"), "wrong-password").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("Wrong brand, e-mail or password"));

    // A sign-in form without its CSRF cookie is refused.
    let r = send(
        &app,
        "POST",
        "/login",
        "",
        Some(format!(
            "csrf=x&brand=demo&email=li.na%40{DOMAIN}&password=lumiere-demo"
        )),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // The right password: a __Host- session cookie, HttpOnly, Secure on localhost.
    let r = sign_in(&app, &format!("li.na%40{DOMAIN}"), "lumiere-demo").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let set = r
        .cookies
        .iter()
        .find(|c| c.starts_with("__Host-salon_session="))
        .expect("session cookie");
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(attr), "{set} lacks {attr}");
    }
    let session = cookie_pair(&r.cookies, "__Host-salon_session").expect("pair");
    let book = send(&app, "GET", "/clients", &session, None).await;
    assert_eq!(book.status, StatusCode::OK);
    assert!(book.body.contains("My clients"));
    let csrf = hidden(&book.body, "csrf");

    // A form without the session's CSRF token changes nothing.
    let client = app.client_of("li.na").await;
    let r = send(
        &app,
        "POST",
        &format!("/clients/{}/notes", client.0),
        &session,
        Some("csrf=forged&text=forged+note".into()),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &app,
        "POST",
        &format!("/clients/{}/notes", client.0),
        &session,
        Some(format!("csrf={csrf}&text=real+note")),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = send(
        &app,
        "GET",
        &format!("/clients/{}", client.0),
        &session,
        None,
    )
    .await;
    assert!(page.body.contains("real note") && !page.body.contains("forged note"));

    // Chinese.
    let zh = send(
        &app,
        "GET",
        "/clients",
        &format!("{session}; salon_lang=zh"),
        None,
    )
    .await;
    assert!(zh.body.contains("我的客户"), "the book in Chinese");

    // Sign-out ends the session on the server: the old cookie no longer works.
    let r = send(
        &app,
        "POST",
        "/logout",
        &session,
        Some(format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = send(&app, "GET", "/clients", &session, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "the session is gone");
}

#[tokio::test]
async fn sign_in_is_throttled() {
    let app = spawn(5).await;
    for _ in 0..5 {
        let r = sign_in(&app, &format!("hq%40{DOMAIN}"), "nope-nope").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = sign_in(&app, &format!("hq%40{DOMAIN}"), "lumiere-demo").await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits after five failures"
    );
}

#[tokio::test]
async fn every_page_carries_security_headers() {
    let app = spawn(5).await;
    let req = Request::builder()
        .uri("/login")
        .body(Body::empty())
        .expect("req");
    let res = app.router.clone().oneshot(req).await.expect("res");
    let h = res.headers();
    assert!(
        h.get(header::CONTENT_SECURITY_POLICY)
            .is_some_and(|v| v.to_str().unwrap_or_default().contains("script-src 'self'"))
    );
    assert_eq!(
        h.get(header::X_FRAME_OPTIONS).map(|v| v.as_bytes()),
        Some(&b"DENY"[..])
    );
}

#[tokio::test]
async fn a_form_with_errors_comes_back_with_422_and_names_the_field() {
    let app = spawn(5).await;
    let r = sign_in(&app, &format!("hq%40{DOMAIN}"), "lumiere-demo").await;
    let session = cookie_pair(&r.cookies, "__Host-salon_session").expect("session");
    let page = send(&app, "GET", "/admin/stores", &session, None).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = hidden(&page.body, "csrf");
    let bad = send(
        &app,
        "POST",
        "/admin/stores",
        &session,
        Some(format!("csrf={csrf}&code=a+b&name=X&city=Y&country=CN")),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("code: must be 2 to 16 characters"),
        "{}",
        bad.body
    );
    let good = send(
        &app,
        "POST",
        "/admin/stores",
        &session,
        Some(format!(
            "csrf={csrf}&code=HZ01&name=Hangzhou&city=Hangzhou&country=CN"
        )),
    )
    .await;
    assert_eq!(good.status, StatusCode::SEE_OTHER);
    let list = send(&app, "GET", "/admin/stores", &session, None).await;
    assert!(list.body.contains("HZ01"));
}

/// The sales pages: an associate's month, a store manager's store, HQ's brand with its
/// leaderboard, and none for compliance (who sees no commissions).
#[tokio::test]
async fn the_sales_pages_for_each_role() {
    let app = spawn(60).await;
    let page = |who: &'static str| {
        let app = &app;
        async move {
            let r = sign_in(app, &format!("{who}%40{DOMAIN}"), "lumiere-demo").await;
            let session = cookie_pair(&r.cookies, "__Host-salon_session").expect("session");
            send(app, "GET", "/sales?month=2026-03", &session, None).await
        }
    };
    let li = page("li.na").await;
    assert_eq!(li.status, StatusCode::OK, "{}", li.body);
    assert!(
        li.body.contains("id=\"my-figures\"") && li.body.contains("id=\"claim\""),
        "{}",
        li.body
    );
    assert!(!li.body.contains("id=\"brand-leaderboard\""));
    let manager = page("zhang.min").await;
    assert_eq!(manager.status, StatusCode::OK, "{}", manager.body);
    assert!(manager.body.contains("Store leaderboard") && manager.body.contains("id=\"targets\""));
    assert!(
        !manager.body.contains("id=\"policy\""),
        "the policy is HQ's"
    );
    let hq = page("hq").await;
    assert_eq!(hq.status, StatusCode::OK, "{}", hq.body);
    for part in [
        "id=\"brand-leaderboard\"",
        "id=\"chart-sales\"",
        "id=\"policy\"",
        "id=\"export-statements\"",
    ] {
        assert!(hq.body.contains(part), "{part}");
    }
    let compliance = page("compliance").await;
    assert_eq!(compliance.status, StatusCode::FORBIDDEN);
}
