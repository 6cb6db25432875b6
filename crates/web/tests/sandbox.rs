//! The sandbox mounted at `/sandbox` (as `salon serve` does with the demo): its pages act only
//! for the demo brand's signed-in staff, its API only for Salon's own calls with this
//! installation's secret; and deleting the demo brand leaves nothing that signs in, searches
//! or verifies a callback.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use domain::*;
use tower::ServiceExt;

use support::*;

async fn get(router: &axum::Router, path: &str, cookie: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::builder().uri(path);
    if let Some(c) = cookie {
        req = req.header("cookie", format!("__Host-salon_session={c}"));
    }
    let res = router
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let to = res
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (res.status(), to)
}

#[tokio::test]
async fn sandbox_pages_need_a_demo_sign_in_and_its_api_the_installations_secret() {
    let app = spawn(20).await;
    let mut state = web::AppState::new(app.salon.clone());
    state.sandbox = Some(app.sim.router());
    let router = web::router(state);
    let li = app.user("li.na").await;
    let config = app
        .salon
        .repo
        .contact_ways(app.brand.id)
        .await
        .expect("ways")
        .into_iter()
        .find(|w| w.user_id == Some(li.id))
        .and_then(|w| w.config_id)
        .expect("li.na's code");

    // Anonymous: sent to sign in, back to the same page afterwards; nothing happens.
    for path in [
        format!("/sandbox/qr/{config}"),
        format!("/sandbox/scan/{config}"),
        "/sandbox/".to_owned(),
    ] {
        let (status, to) = get(&router, &path, None).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
        assert!(to.starts_with("/login?next=/sandbox/"), "{path}: {to}");
    }
    let contacts = app.sim.contact_ids().len();
    let res = router
        .clone()
        .oneshot(
            Request::post(format!("/sandbox/scan/{config}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from("name=Eve"))
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.sim.contact_ids().len(),
        contacts,
        "no client was played"
    );

    // A demo sign-in opens them.
    let session = app
        .salon
        .login(
            "demo",
            &format!("hq@{DOMAIN}"),
            sim::demo::DEMO_PASSWORD,
            "127.0.0.1",
        )
        .await
        .expect("demo sign-in");
    let (status, _) = get(
        &router,
        &format!("/sandbox/qr/{config}"),
        Some(&session.cookie),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = get(
        &router,
        &format!("/sandbox/scan/{config}"),
        Some(&session.cookie),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Another brand's staff find nothing there.
    let other = app
        .salon
        .repo
        .create_brand(&NewBrand {
            slug: Slug::parse("slug", "maison").expect("slug"),
            name: "Maison".into(),
            time_zone: TimeZoneName::shanghai(),
            currencies: vec![Currency::parse("c", "CNY").expect("currency")],
            locales: vec![Locale::parse("l", "en").expect("locale")],
            tiers: vec!["Gold".into()],
        })
        .await
        .expect("brand");
    app.salon
        .repo
        .create_user(
            other.id,
            &NewUser {
                email: Email::parse("e", "hq@maison.example").expect("email"),
                display_name: "HQ".into(),
                role: Role::Hq,
                store_id: None,
                password_hash: Some(app::auth::hash_password("another-password").expect("hash")),
            },
        )
        .await
        .expect("user");
    let theirs = app
        .salon
        .login(
            "maison",
            "hq@maison.example",
            "another-password",
            "127.0.0.1",
        )
        .await
        .expect("sign-in");
    let (status, _) = get(
        &router,
        &format!("/sandbox/qr/{config}"),
        Some(&theirs.cookie),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The API answers Salon's own calls (the secret is this installation's), nobody else's.
    let c = app.sim.config().clone();
    let (status, _) = get(
        &router,
        &format!(
            "/sandbox/cgi-bin/gettoken?corpid={}&corpsecret={}",
            c.corp_id, c.corp_secret
        ),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let other_install = sim::tencent::SimConfig::sandbox("/sandbox");
    assert_ne!(other_install.corp_secret, c.corp_secret);
    assert_ne!(other_install.token, c.token);
    assert_ne!(other_install.aes_key, c.aes_key);
}

#[tokio::test]
async fn deleting_the_demo_brand_leaves_nothing_that_signs_in_or_searches() {
    let app = spawn(20).await;
    let brand = app.brand.id;
    // Something in its search index on disk.
    app.salon
        .catch_up_index(brand)
        .await
        .expect("index the demo's messages");
    assert!(
        app.salon
            .demo_accounts()
            .await
            .expect("accounts")
            .iter()
            .any(|u| u.email.as_str() == format!("li.na@{DOMAIN}")),
        "the demo's accounts sign in with the published password"
    );
    let rows = app.salon.delete_brand("demo").await.expect("delete");
    assert!(rows > 100, "{rows}");
    assert!(app.salon.demo_accounts().await.expect("none").is_empty());
    assert!(
        app.salon
            .login(
                "demo",
                &format!("li.na@{DOMAIN}"),
                sim::demo::DEMO_PASSWORD,
                "127.0.0.1"
            )
            .await
            .is_err()
    );
    assert!(
        app.salon
            .repo
            .channel_settings(brand, ChannelKind::Wecom)
            .await
            .expect("q")
            .is_none(),
        "its channel secrets are gone"
    );
    assert!(matches!(
        app.salon.delete_brand("demo").await,
        Err(app::AppError::NotFound(_))
    ));
}
