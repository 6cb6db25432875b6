//! The asset pool on an S3-compatible bucket: uploads go to the bucket with presigned
//! requests the local S3 store verifies as S3 does, images come back from it, and a store that
//! refuses (a wrong secret, a missing bucket) gets a clear error and stores nothing.

mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use domain::*;
use support::{TestApp, spawn};

const BUCKET: &str = "salon-assets";

fn account() -> sim::s3::S3Account {
    sim::s3::S3Account {
        region: "eu-central-1".into(),
        access_key: "SALONTESTKEY".into(),
        secret_key: "salon-test-secret/with+signs".into(),
    }
}

/// The local S3 store, on its own port.
async fn s3() -> (sim::s3::S3Sim, String) {
    let sim = sim::s3::S3Sim::new(account(), &[BUCKET]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = sim.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (sim, url)
}

fn use_bucket(app: &TestApp, endpoint: &str, bucket: &str, secret: &str) {
    let store = assets::S3Store::new(&assets::S3Config {
        endpoint: endpoint.into(),
        bucket: bucket.into(),
        region: account().region,
        access_key: account().access_key,
        secret_key: secret.into(),
        path_style: true,
    })
    .expect("store");
    let _ = app.salon.clone().with_asset_store(Arc::new(store));
}

async fn asset_count(app: &TestApp, hq: &str) -> usize {
    let (st, body) = app.call("GET", "/api/v1/assets", Some(hq), None).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    v["items"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread")]
async fn asset_files_live_in_an_s3_bucket_and_a_refusing_store_stores_nothing() {
    let app = spawn(5).await;
    let hq = app.token(Role::Hq, None).await;
    let (s3, endpoint) = s3().await;
    use_bucket(&app, &endpoint, BUCKET, &account().secret_key);
    assert!(
        app.salon
            .asset_store()
            .is_some_and(|d| d.contains(BUCKET) && !d.contains("secret")),
        "the store names the bucket, never the secret"
    );

    let image = support::png(800, 400);
    let (ct, body) = support::asset_multipart("Evening bag", &image);
    let (st, a) = app
        .call_raw("POST", "/api/v1/assets", Some(&hq), &ct, body)
        .await;
    assert_eq!(st, StatusCode::CREATED, "{a}");
    let a: serde_json::Value = serde_json::from_str(&a).expect("json");
    let name = a["file"]["name"].as_str().expect("name").to_owned();
    let brand = app.brand.id.0;
    let keys = s3.keys(BUCKET);
    assert!(keys.contains(&format!("brand-{brand}/{name}")), "{keys:?}");
    assert!(keys.iter().any(|k| k.ends_with(".thumb.png")), "{keys:?}");
    let (stored, mime) = s3
        .object(BUCKET, &format!("brand-{brand}/{name}"))
        .expect("object");
    assert_eq!(
        (stored.as_slice(), mime.as_str()),
        (image.as_slice(), "image/png")
    );
    assert!(
        s3.requests().iter().all(|(_, _, _, status)| *status == 200),
        "every signed request was accepted: {:?}",
        s3.requests()
    );

    // The image and its thumbnail come back from the bucket.
    let id = a["id"].as_i64().expect("id");
    let (st, got) = app
        .call_raw(
            "GET",
            &format!("/api/v1/assets/{id}/image"),
            Some(&hq),
            "",
            Vec::new(),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(got, String::from_utf8_lossy(&image), "the same bytes");
    let gets = s3
        .requests()
        .iter()
        .filter(|(m, _, k, _)| m == "GET" && k.ends_with(&name))
        .count();
    assert_eq!(gets, 1, "read from the bucket");

    // A wrong secret: S3 refuses the signature; the upload fails naming it, and nothing is
    // listed in the pool.
    let before = asset_count(&app, &hq).await;
    use_bucket(&app, &endpoint, BUCKET, "not-the-secret");
    let (ct, body) = support::asset_multipart("Refused", &support::png(300, 300));
    let (st, e) = app
        .call_raw("POST", "/api/v1/assets", Some(&hq), &ct, body)
        .await;
    assert_eq!(st, StatusCode::BAD_GATEWAY, "{e}");
    assert!(e.contains("SignatureDoesNotMatch"), "{e}");
    assert_eq!(asset_count(&app, &hq).await, before);
    // A bucket that does not exist.
    use_bucket(&app, &endpoint, "no-such-bucket", &account().secret_key);
    let (ct, body) = support::asset_multipart("Nowhere", &support::png(300, 300));
    let (st, e) = app
        .call_raw("POST", "/api/v1/assets", Some(&hq), &ct, body)
        .await;
    assert_eq!(st, StatusCode::BAD_GATEWAY, "{e}");
    assert!(e.contains("NoSuchBucket"), "{e}");
    assert_eq!(asset_count(&app, &hq).await, before);
}
