//! A fresh Salon for each test: SQLite in a temporary directory, the demo brand (small), and
//! the router, called in-process.

#![allow(dead_code)]

pub mod contract;

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
    /// Where the app listens (the simulator pushes its callbacks there).
    pub url: String,
    /// The WeCom + OA provider simulator the demo brand is connected to.
    pub sim: sim::tencent::Simulator,
    pub sim_url: String,
    /// The SQLite database, for tests that tamper with it behind Salon's back.
    pub db_url: String,
    /// The data directory, removed when the test ends.
    _dir: TempDir,
}

/// A directory removed when dropped: hundreds of apps a run must not fill the disk.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

pub async fn spawn(clients: usize) -> TestApp {
    use rand::Rng;
    let dir = std::env::temp_dir().join(format!(
        "salon_web_{:016x}",
        rand::thread_rng().r#gen::<u64>()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}", dir.join("salon.db").display());
    let db_url = url.clone();
    let keys = store::Keyring::new(&[9u8; 32]).expect("key");
    let repo = store::SqliteRepo::connect(&url, keys)
        .await
        .expect("sqlite");
    let salon = Salon::new(std::sync::Arc::new(repo))
        .with_archive(archive::Archive::new(&dir.join("archive"), &[7u8; 32]).expect("archive"))
        .with_asset_dir(&dir.join("assets"));
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
    if let Ok(mut p) = salon.channels.api_policy.write() {
        p.backoff = std::time::Duration::from_millis(5);
    }
    let router = web::router(web::AppState::new(salon.clone()));
    let url = serve(router.clone()).await;
    // The simulator, on its own port, connected to the demo brand.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let sim_url = format!("http://{}", listener.local_addr().expect("addr"));
    let sim = sim::tencent::Simulator::new(sim::tencent::SimConfig::sandbox(&sim_url))
        .expect("simulator");
    let sim_router = sim.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, sim_router).await;
    });
    sim.set_targets(
        &format!("{url}/channels/wecom/demo/callback"),
        &format!("{url}/channels/wechat-oa/demo/callback"),
    );
    app::sandbox::wire(&salon, &sim, "demo", &sim_url)
        .await
        .expect("sandbox wiring");
    TestApp {
        salon,
        router,
        brand,
        url,
        sim,
        sim_url,
        db_url,
        _dir: TempDir(dir),
    }
}

impl TestApp {
    /// Processes the WeCom callback inbox until nothing is pending.
    pub async fn settle(&self) {
        for _ in 0..20 {
            self.salon.process_inbox().await.expect("process");
            let c = self
                .salon
                .repo
                .inbox_counts(
                    self.brand.id,
                    ChannelKind::Wecom,
                    app::channels::MAX_ATTEMPTS,
                )
                .await
                .expect("counts");
            if c.pending == 0 {
                return;
            }
        }
        panic!("the inbox did not settle");
    }

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

    /// A client of this associate with a WeCom contact (whom Salon can write to).
    pub async fn client_with_wecom(&self, local: &str) -> ClientId {
        match self.wecom_clients(local).await.first() {
            Some((c, _)) => *c,
            None => panic!("{local} has no client with a WeCom contact"),
        }
    }

    /// This associate's clients with a WeCom contact (among their first 200), with their
    /// `external_userid`.
    pub async fn wecom_clients(&self, local: &str) -> Vec<(ClientId, String)> {
        let u = self.user(local).await;
        let mut q = ClientQuery::new(Scope::Associate(u.id));
        q.limit = 200;
        let page = self
            .salon
            .repo
            .list_clients(self.brand.id, &q)
            .await
            .expect("list");
        let mut out = Vec::new();
        for c in page.items {
            let full = self
                .salon
                .repo
                .client(self.brand.id, c.id)
                .await
                .expect("client")
                .expect("exists");
            if let Some(i) = full
                .identities
                .iter()
                .find(|i| i.kind == domain::IdentityKind::Wecom)
            {
                out.push((c.id, i.value.clone()));
            }
        }
        out
    }

    /// An open review-queue item on this client, in their store.
    pub async fn open_flag(&self, client: ClientId) -> i64 {
        let c = self
            .salon
            .repo
            .client(self.brand.id, client)
            .await
            .expect("client")
            .expect("exists");
        let hit = self
            .salon
            .check_text(self.brand.id, "这个可以打八折")
            .await
            .expect("check")
            .hits
            .remove(0);
        self.salon
            .repo
            .add_flags(
                self.brand.id,
                &[domain::NewFlag {
                    message_id: None,
                    group_message_id: None,
                    group_id: None,
                    client_id: Some(client),
                    associate_id: c.associate_id,
                    store_id: c.store_id,
                    direction: domain::Direction::In,
                    hit,
                    at: 0,
                }],
            )
            .await
            .expect("flag");
        self.salon
            .repo
            .flags(
                self.brand.id,
                &domain::FlagQuery {
                    client: Some(client),
                    limit: 1,
                    ..domain::FlagQuery::default()
                },
            )
            .await
            .expect("flags")[0]
            .id
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, String)>,
    ) -> (StatusCode, String) {
        let (status, _, text) = self.call_typed(method, path, token, body).await;
        (status, text)
    }

    /// [`TestApp::call`], with the response's content type.
    pub async fn call_typed(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, String)>,
    ) -> (StatusCode, Option<String>, String) {
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
        let content_type = content_type(&res);
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        (
            status,
            content_type,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }
}

fn content_type(res: &axum::http::Response<Body>) -> Option<String> {
    res.headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

impl TestApp {
    /// A request with a body of raw bytes (multipart uploads).
    pub async fn call_raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, String) {
        let (status, _, text) = self
            .call_raw_typed(method, path, token, content_type, body)
            .await;
        (status, text)
    }

    /// [`TestApp::call_raw`], with the response's content type.
    pub async fn call_raw_typed(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Option<String>, String) {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = req.body(Body::from(body)).expect("request");
        let res = self.router.clone().oneshot(req).await.expect("response");
        let status = res.status();
        let res_type = self::content_type(&res);
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        (
            status,
            res_type,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    /// An approved asset of the brand, made from a generated image.
    pub async fn approved_asset(&self) -> i64 {
        let hq = app::Actor {
            brand: self.brand.clone(),
            role: Role::Hq,
            user: None,
            store: None,
        };
        let text = domain::AssetText::parse(
            "Winter bag",
            "冬季手袋",
            "The winter bag",
            "",
            "",
            "bags",
            "Winter",
            None,
            None,
        )
        .expect("text");
        let a = self
            .salon
            .upload_asset(&hq, png(64, 48), text)
            .await
            .expect("upload");
        self.salon
            .set_asset_status(&hq, a.id, domain::AssetStatus::Approved)
            .await
            .expect("approve");
        a.id
    }
}

/// A PNG image of the given size.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    // A minimal valid PNG, built by hand: 8-bit greyscale, stored (uncompressed) deflate.
    fn crc(data: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for b in data {
            c ^= u32::from(*b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    fn adler(data: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for x in data {
            a = (a + u32::from(*x)) % 65_521;
            b = (b + a) % 65_521;
        }
        (b << 16) | a
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut c = kind.to_vec();
        c.extend(data);
        out.extend(&c);
        out.extend(crc(&c).to_be_bytes());
    }
    let mut raw = Vec::new();
    for y in 0..h {
        raw.push(0);
        raw.extend((0..w).map(|x| ((x + y) % 256) as u8));
    }
    let mut z = vec![0x78, 0x01];
    for (i, block) in raw.chunks(65_535).enumerate() {
        let last = (i + 1) * 65_535 >= raw.len();
        z.push(u8::from(last));
        let n = block.len() as u16;
        z.extend(n.to_le_bytes());
        z.extend((!n).to_le_bytes());
        z.extend(block);
    }
    z.extend(adler(&raw).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A multipart body with an image and its texts: (content type, body).
pub fn asset_multipart(title: &str, image: &[u8]) -> (String, Vec<u8>) {
    let boundary = "salonTestBoundary7MA4YWxkTrZu0gW";
    let mut b = Vec::new();
    for (k, v) in [
        ("title", title),
        ("caption_zh", "冬季手袋"),
        ("caption_en", "The winter bag"),
        ("tags", "bags, winter"),
    ] {
        b.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    b.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bag.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes());
    b.extend(image);
    b.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), b)
}

/// Percent-encodes a query-string value.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A page's answer to a browser-like request.
pub struct Res {
    pub status: StatusCode,
    pub cookies: Vec<String>,
    pub location: Option<String>,
    pub body: String,
}

/// A request as a browser sends it (host, cookie, form), through the router in-process.
pub async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    cookie: &str,
    form: Option<String>,
) -> Res {
    let mut req = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header(axum::http::header::HOST, "localhost:8080");
    if !cookie.is_empty() {
        req = req.header(axum::http::header::COOKIE, cookie);
    }
    let req = match form {
        Some(f) => req
            .header(
                axum::http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(Body::from(f)),
        None => req.body(Body::empty()),
    }
    .expect("request");
    let res = app.router.clone().oneshot(req).await.expect("response");
    let status = res.status();
    let cookies = res
        .headers()
        .get_all(axum::http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect();
    let location = res
        .headers()
        .get(axum::http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = String::from_utf8_lossy(&res.into_body().collect().await.expect("body").to_bytes())
        .into_owned();
    Res {
        status,
        cookies,
        location,
        body,
    }
}

/// The `name=value` of a Set-Cookie.
pub fn cookie_pair(set_cookies: &[String], name: &str) -> Option<String> {
    set_cookies
        .iter()
        .filter_map(|c| c.split(';').next())
        .find(|kv| kv.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// A hidden form field's value.
pub fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    body.split(&marker)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_owned()
}
