//! The catalogue over HTTP: search in Chinese and English, role scoping (an associate cannot
//! upsert, sees active products and their store's stock), brands never see each other's
//! products, bad input is a 4xx naming the field, and an associate shares a product with a
//! client from the profile as a tracked link whose open is recorded.

mod support;

use axum::http::StatusCode;
use domain::Role;
use support::{DOMAIN, TestApp, cookie_pair, hidden, send, spawn};

fn json(s: &str) -> Option<(&'static str, String)> {
    Some(("application/json", s.to_owned()))
}

fn skus(text: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(text).expect("json");
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["sku"].as_str().expect("sku").to_owned())
        .collect()
}

#[tokio::test]
async fn search_scoping_and_bad_input_over_the_api() {
    let app = spawn(20).await;
    let hq = app.token(Role::Hq, None).await;
    let li = app.token(Role::Associate, Some("li.na")).await;
    let zhang = app.token(Role::StoreManager, Some("zhang.min")).await;
    let get = |path: String, token: String| {
        let app = &app;
        async move { app.call("GET", &path, Some(&token), None).await }
    };

    // Chinese, English and SKU prefixes, through the archive's analysis.
    let (s, t) = get(
        format!("/api/v1/products?q={}", support::enc("手袋")),
        hq.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let found = skus(&t);
    assert!(found.contains(&"ML-BAG-CLASSIQUE".to_owned()), "{found:?}");
    assert!(found.contains(&"ML-BAG-LUNE".to_owned()), "{found:?}");
    let (_, t) = get("/api/v1/products?q=bag".into(), hq.clone()).await;
    assert_eq!(skus(&t)[0], "ML-BAG-CLASSIQUE", "{t}");
    let (_, t) = get("/api/v1/products?q=ml-wat".into(), hq.clone()).await;
    let mut w = skus(&t);
    w.sort();
    assert_eq!(w, vec!["ML-WAT-LUNA", "ML-WAT-ORBITE", "ML-WAT-PETITE"]);
    let (_, t) = get(
        format!("/api/v1/products?q={}", support::enc("真丝 围巾")),
        li.clone(),
    )
    .await;
    assert_eq!(skus(&t), vec!["ML-SCA-AURORE"], "{t}");

    // Associates see active products only, and their store's stock.
    let (s, _) = get("/api/v1/products/ML-HOM-COUSSIN".into(), li.clone()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = get("/api/v1/products/ML-HOM-COUSSIN".into(), hq.clone()).await;
    assert_eq!(s, StatusCode::OK);
    let (_, t) = get("/api/v1/products?active=false".into(), li.clone()).await;
    assert!(!skus(&t).contains(&"ML-HOM-COUSSIN".to_owned()), "{t}");
    let (_, t) = get("/api/v1/products?active=false".into(), hq.clone()).await;
    assert_eq!(skus(&t), vec!["ML-HOM-COUSSIN"]);
    let (_, t) = get("/api/v1/products/ML-BAG-LUNE".into(), li.clone()).await;
    let v: serde_json::Value = serde_json::from_str(&t).expect("json");
    let stores: Vec<&str> = v["stock"]
        .as_array()
        .expect("stock")
        .iter()
        .map(|l| l["store"].as_str().expect("s"))
        .collect();
    assert_eq!(stores, vec!["SH01"], "{t}");
    assert_eq!(v["prices"]["CNY"], "32000.00", "{t}");
    let (_, t) = get("/api/v1/products/ML-BAG-LUNE".into(), hq.clone()).await;
    let v: serde_json::Value = serde_json::from_str(&t).expect("json");
    assert_eq!(v["stock"].as_array().expect("stock").len(), 3, "{t}");

    // An associate cannot upsert or import; a store manager sets their store's stock only.
    let body = r#"{"name_zh":"测试手袋","name_en":"Test tote","category":"Bags","prices":{"CNY":"1999.50"}}"#;
    let (s, _) = app
        .call("PUT", "/api/v1/products/T-1", Some(&li), json(body))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .call(
            "POST",
            "/api/v1/products",
            Some(&li),
            json(&format!("[{body}]")),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, t) = app
        .call(
            "PUT",
            "/api/v1/stock",
            Some(&zhang),
            json(r#"[{"sku":"ML-BAG-LUNE","store":"PA01","quantity":2}]"#),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{t}");
    assert!(
        t.contains("line 1, store") && t.contains("not your store"),
        "{t}"
    );
    let (s, t) = app
        .call(
            "PUT",
            "/api/v1/stock",
            Some(&zhang),
            Some((
                "text/csv",
                "sku,store,quantity\nML-BAG-LUNE,SH01,42\n".into(),
            )),
        )
        .await;
    assert!(s.is_success(), "{t}");

    // HQ creates (201), the same again is 200 and changes nothing; search sees it at once.
    let (s, t) = app
        .call("PUT", "/api/v1/products/T-1", Some(&hq), json(body))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let (s, _) = app
        .call("PUT", "/api/v1/products/T-1", Some(&hq), json(body))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, t) = get(
        format!("/api/v1/products?q={}", support::enc("测试")),
        hq.clone(),
    )
    .await;
    assert_eq!(skus(&t), vec!["T-1"]);

    // Bad input: a 4xx naming the field, never a 500.
    for (method, path, ct, b, expect) in [
        (
            "PUT",
            "/api/v1/products/T-2",
            "application/json",
            r#"{"name_en":"X","prices":{"CNY":"1.234"}}"#,
            "prices.CNY",
        ),
        (
            "PUT",
            "/api/v1/products/T-2",
            "application/json",
            r#"{"name_en":"X","colour":"red"}"#,
            "colour",
        ),
        (
            "PUT",
            "/api/v1/products/T-2",
            "application/json",
            r#"{"name_en":"#,
            "body",
        ),
        (
            "PUT",
            "/api/v1/products/T-2",
            "application/json",
            r#"{"sku":"OTHER","name_en":"X"}"#,
            "sku",
        ),
        (
            "PUT",
            "/api/v1/products/T-2",
            "application/json",
            r#"{"name_en":"X","images":[999999]}"#,
            "images",
        ),
        (
            "POST",
            "/api/v1/products",
            "text/csv",
            "sku,name_en,price_CNY\nA,Bag,1\nB,,2\n",
            "line 3, name_en",
        ),
        (
            "POST",
            "/api/v1/products",
            "application/json",
            "\u{0}\u{1}",
            "line 1",
        ),
        (
            "PUT",
            "/api/v1/stock",
            "application/json",
            r#"{"sku":"NOPE","store":"SH01","quantity":1}"#,
            "line 1, sku",
        ),
        (
            "PUT",
            "/api/v1/stock",
            "application/json",
            r#"{"sku":"T-1","store":"SH01","quantity":-1}"#,
            "quantity",
        ),
    ] {
        let (s, t) = app
            .call(method, path, Some(&hq), Some((ct, b.to_owned())))
            .await;
        assert!(s.is_client_error(), "{path} {b}: {s} {t}");
        assert!(t.contains(expect), "{path} {b}: {expect:?} not in {t}");
    }
    let (_, t) = get("/api/v1/products/T-2".into(), hq.clone()).await;
    assert!(t.contains("product_not_found"), "nothing stored: {t}");

    // Another brand's products are invisible, and the same SKU is its own.
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
    let rival = app
        .salon
        .create_token("rival", Role::Hq, None, None, "rival")
        .await
        .expect("token");
    let (s, _) = app
        .call(
            "PUT",
            "/api/v1/products/RIVAL-1",
            Some(&rival),
            json(r#"{"name_zh":"对手手袋","name_en":"Rival bag"}"#),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = get("/api/v1/products/RIVAL-1".into(), hq.clone()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = get("/api/v1/products/ML-BAG-LUNE".into(), rival.clone()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, t) = get(
        format!("/api/v1/products?q={}", support::enc("手袋")),
        rival.clone(),
    )
    .await;
    assert_eq!(skus(&t), vec!["RIVAL-1"]);
    let (_, t) = get(
        format!("/api/v1/products?q={}", support::enc("手袋")),
        hq.clone(),
    )
    .await;
    assert!(!skus(&t).contains(&"RIVAL-1".to_owned()));
    assert!(!t.contains(DOMAIN));
}

/// Signs in and returns the session cookie.
async fn session(app: &TestApp, local: &str) -> String {
    let page = send(app, "GET", "/login", "", None).await;
    let csrf_cookie =
        cookie_pair(&page.cookies, "__Host-salon_login_csrf").expect("login CSRF cookie");
    let csrf = hidden(&page.body, "csrf");
    let form = format!(
        "csrf={csrf}&brand=demo&email={local}%40{DOMAIN}&password=lumiere-demo&next=%2Fclients"
    );
    let res = send(app, "POST", "/login", &csrf_cookie, Some(form)).await;
    cookie_pair(&res.cookies, "__Host-salon_session").expect("session cookie")
}

#[tokio::test]
async fn pages_and_sharing_a_product_from_the_client_profile() {
    let app = spawn(30).await;
    let hq = session(&app, "hq").await;
    let page = send(&app, "GET", "/catalogue", &hq, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("href=\"/catalogue\""), "in the nav");
    assert!(page.body.contains("Lune handbag") && page.body.contains("catalogue-upload"));
    let page = send(
        &app,
        "GET",
        &format!("/catalogue?q={}", support::enc("围巾")),
        &hq,
        None,
    )
    .await;
    assert!(page.body.contains("Aurore silk scarf") && !page.body.contains("Lune handbag"));
    let page = send(&app, "GET", "/catalogue/ML-BAG-LUNE", &hq, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Paris Saint-Honoré") && page.body.contains("product-form"));
    // HQ edits a product from its page; a bad price is named and nothing changes.
    let csrf = hidden(&page.body, "csrf");
    let res = send(&app, "POST", "/catalogue/ML-BAG-LUNE", &hq, Some(format!("csrf={csrf}&name_zh=%E6%9C%88%E5%85%89%E6%89%8B%E8%A2%8B&name_en=Lune+handbag&price_CNY=1.234&active=on"))).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("prices.CNY"), "{}", res.body);
    let res = send(&app, "POST", "/catalogue/ML-BAG-LUNE", &hq, Some(format!("csrf={csrf}&name_zh=%E6%9C%88%E5%85%89%E6%89%8B%E8%A2%8B&name_en=Lune+handbag&category=Bags&price_CNY=33000&price_EUR=4200&active=on"))).await;
    assert!(res.status.is_redirection(), "{}", res.body);
    let page = send(&app, "GET", "/catalogue/ML-BAG-LUNE", &hq, None).await;
    assert!(
        page.body.contains("33,000") || page.body.contains("33000"),
        "the new price"
    );

    // The associate: no upload, no toggle; finds a product on the client's profile and shares it.
    let li = session(&app, "li.na").await;
    let page = send(&app, "GET", "/catalogue", &li, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("catalogue-upload") && !page.body.contains("Stop selling"));
    let client = app.client_of("li.na").await;
    let profile = send(
        &app,
        "GET",
        &format!("/clients/{}?product_q={}", client.0, support::enc("手袋")),
        &li,
        None,
    )
    .await;
    assert_eq!(profile.status, StatusCode::OK);
    assert!(
        profile.body.contains("share-products") && profile.body.contains("value=\"ML-BAG-LUNE\""),
        "{}",
        profile.body
    );
    let csrf = hidden(&profile.body, "csrf");
    let res = send(
        &app,
        "POST",
        &format!("/clients/{}/share-product", client.0),
        &li,
        Some(format!("csrf={csrf}&sku=ML-BAG-LUNE")),
    )
    .await;
    let location = res.location.expect("redirect");
    let code = location
        .split("shared=")
        .nth(1)
        .and_then(|r| r.split('#').next())
        .expect("code")
        .to_owned();
    let profile = send(&app, "GET", &location, &li, None).await;
    assert!(
        profile.body.contains(&format!("/s/{code}")),
        "the link to copy"
    );
    // The client opens it: redirected to the product's public page, and the open is theirs.
    let open = send(&app, "GET", &format!("/s/{code}"), "", None).await;
    assert_eq!(open.location.as_deref(), Some("/p/demo/ML-BAG-LUNE"));
    let public = send(&app, "GET", "/p/demo/ML-BAG-LUNE", "", None).await;
    assert_eq!(public.status, StatusCode::OK);
    assert!(public.body.contains("Lune handbag") && public.body.contains("Maison Lumière"));
    let user = app.user("li.na").await;
    let links = app
        .salon
        .repo
        .share_links(app.brand.id, Some(user.id), 10)
        .await
        .expect("links");
    let link = links.iter().find(|l| l.code == code).expect("link");
    assert_eq!(
        (link.kind.as_str(), link.opens, link.client_id),
        ("product", 1, Some(client))
    );
    let c = app
        .salon
        .repo
        .client(app.brand.id, client)
        .await
        .expect("q")
        .expect("client");
    let expected = if c.language.as_deref().unwrap_or("").starts_with("zh") {
        "月光手袋"
    } else {
        "Lune handbag"
    };
    assert_eq!(link.title, expected);
    let touches = app
        .salon
        .repo
        .count_touches(app.brand.id)
        .await
        .expect("touches");
    assert!(touches > 0);
    // An inactive product cannot be shared; an unknown page is not found.
    let res = send(
        &app,
        "POST",
        &format!("/clients/{}/share-product", client.0),
        &li,
        Some(format!("csrf={csrf}&sku=ML-HOM-COUSSIN")),
    )
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = send(&app, "GET", "/p/demo/ML-HOM-COUSSIN", "", None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}
