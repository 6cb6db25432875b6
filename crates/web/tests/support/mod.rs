//! A fresh Salon for each test: SQLite in a temporary directory, the demo brand (small), and
//! the router, called in-process.

#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use app::Salon;
use domain::*;

pub const DOMAIN: &str = "maison-lumiere.example";

pub struct TestApp {
    pub salon: Salon,
    pub router: Router,
    pub brand: Brand,
}

pub async fn spawn(clients: usize) -> TestApp {
    use rand::Rng;
    let dir = std::env::temp_dir().join(format!(
        "salon_web_{:016x}",
        rand::thread_rng().r#gen::<u64>()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}", dir.join("salon.db").display());
    let keys = store::Keyring::new(&[9u8; 32]).expect("key");
    let repo = store::SqliteRepo::connect(&url, keys)
        .await
        .expect("sqlite");
    let salon = Salon::new(std::sync::Arc::new(repo));
    salon
        .seed_demo(1, clients)
        .await
        .expect("seed")
        .expect("seeded");
    let brand = salon
        .repo
        .brand_by_slug("demo")
        .await
        .expect("q")
        .expect("demo brand");
    let router = web::router(web::AppState::new(salon.clone()));
    TestApp {
        salon,
        router,
        brand,
    }
}

impl TestApp {
    pub async fn user(&self, local: &str) -> User {
        self.salon
            .repo
            .user_by_email(self.brand.id, &format!("{local}@{DOMAIN}"))
            .await
            .expect("q")
            .expect("user")
    }

    pub async fn token(&self, role: Role, user: Option<&str>) -> String {
        let email = user.map(|u| format!("{u}@{DOMAIN}"));
        self.salon
            .create_token("demo", role, email.as_deref(), None, "test")
            .await
            .expect("token")
    }

    /// A client of the given associate.
    pub async fn client_of(&self, local: &str) -> ClientId {
        let u = self.user(local).await;
        let page = self
            .salon
            .repo
            .list_clients(self.brand.id, &ClientQuery::new(Scope::Associate(u.id)))
            .await
            .expect("list");
        page.items.first().expect("the associate has clients").id
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, String)>,
    ) -> (StatusCode, String) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some((ct, b)) => req.header("content-type", ct).body(Body::from(b)),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let res = self.router.clone().oneshot(req).await.expect("response");
        let status = res.status();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }
}
