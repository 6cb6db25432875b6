//! No personal data in clear (issue 15, item 6), end to end: a release-shaped server is given a
//! client with a name, phone and e-mail, a note, an Official Account follower and a compliance
//! officer's search, with its logs at `debug`. Afterwards no byte of any of them is found in
//! any file under the data directory (the database, its WAL and shared memory, the archive's
//! search index, keys, assets), in the server's log, in the brand's events export, or in a
//! backup.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use app::Salon;
use domain::*;
use serde_json::{Value, json};

const KEY: [u8; 32] = [0x3c; 32];
const SLUG: &str = "canary";

const FIRST: &str = "Canaryfirstname";
const LAST: &str = "Canarylastname";
const PHONE_DIGITS: &str = "13912340987";
const EMAIL: &str = "canary.person@example.net";
const NOTE: &str = "canary note about her wedding";
const OPENID: &str = "oCanaryFollower42";
const SEARCH: &str = "canarysearchword";

struct Server {
    child: Child,
    url: String,
    log: Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_salon"))
        .args([
            "serve",
            "--no-demo",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data)
        .env(
            "SALON_MASTER_KEY",
            KEY.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        )
        .env("SALON_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start salon");
    let log = Arc::new(Mutex::new(String::new()));
    let err = child.stderr.take().expect("stderr");
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if let Ok(mut l) = sink.lock() {
                l.push_str(&line);
                l.push('\n');
            }
        }
    });
    let out = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(out).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("salon prints where it listens")
            .expect("line");
        if let Some(rest) = line.strip_prefix("Salon is listening on ") {
            break rest.trim().to_owned();
        }
    };
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Ok(mut l) = sink.lock() {
                l.push_str(&line);
                l.push('\n');
            }
        }
    });
    Server { child, url, log }
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("dir").map_while(Result::ok) {
            let p = entry.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn assert_clean(what: &str, bytes: &[u8]) {
    for needle in [FIRST, LAST, PHONE_DIGITS, EMAIL, NOTE, OPENID, SEARCH] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle:?} found in clear in {what}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_is_in_no_file_no_log_and_no_export_in_clear() {
    let data = std::env::temp_dir().join(format!("salon_canary_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).expect("data dir");
    {
        let url = format!("sqlite://{}", data.join("salon.db").display());
        let repo = store::SqliteRepo::connect(&url, store::Keyring::new(&KEY).expect("key"))
            .await
            .expect("db");
        let salon = Salon::new(std::sync::Arc::new(repo));
        let r = &salon.repo;
        let (brand, shop) = common::brand_with_store(r.as_ref(), SLUG, "Maison Canary").await;
        for (email, role, store) in [
            ("li@canary.test", Role::Associate, Some(shop.id)),
            ("zhou@canary.test", Role::Compliance, None),
        ] {
            r.create_user(
                brand.id,
                &NewUser {
                    email: Email::parse("e", email).expect("email"),
                    display_name: email.into(),
                    role,
                    store_id: store,
                    password_hash: None,
                },
            )
            .await
            .expect("user");
        }
    }
    let salon = {
        let url = format!("sqlite://{}", data.join("salon.db").display());
        let repo = store::SqliteRepo::connect(&url, store::Keyring::new(&KEY).expect("key"))
            .await
            .expect("db");
        Salon::new(std::sync::Arc::new(repo))
    };
    let sa = salon
        .create_token(
            SLUG,
            Role::Associate,
            Some("li@canary.test"),
            None,
            "canary",
        )
        .await
        .expect("token");
    let officer = salon
        .create_token(
            SLUG,
            Role::Compliance,
            Some("zhou@canary.test"),
            None,
            "canary",
        )
        .await
        .expect("token");
    let hq = salon
        .create_token(SLUG, Role::Hq, None, None, "canary")
        .await
        .expect("token");
    drop(salon);

    let server = start(&data);
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, token: &str, body: Option<Value>| {
        let mut req = http
            .request(method, format!("{}/api/v1{path}", server.url))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send()
    };
    let res = call(
        reqwest::Method::POST,
        "/clients",
        &sa,
        Some(json!({
            "first_name": FIRST, "last_name": LAST, "phone": format!("+86 {PHONE_DIGITS}"),
            "email": EMAIL,
            "identities": [{"kind": "crm", "value": "CRM-CANARY"}, {"kind": "wechat_oa", "value": OPENID}]
        })),
    )
    .await
    .expect("create");
    let status = res.status();
    let client: Value = res.json().await.expect("json");
    assert!(status.is_success(), "{status} {client}");
    let id = client["id"].as_i64().expect("id");
    let res = call(
        reqwest::Method::POST,
        &format!("/clients/{id}/notes"),
        &sa,
        Some(json!({"text": NOTE})),
    )
    .await
    .expect("note");
    assert!(res.status().is_success(), "{}", res.status());
    // A follower's event, imported as the brand's pipeline would send it.
    let line = format!(
        r#"{{"ts":"2026-11-02T10:00:00Z","kind":"follow","follower":"{OPENID}","source":"search"}}"#
    );
    let res = http
        .post(format!("{}/api/v1/events/import", server.url))
        .bearer_auth(&hq)
        .body(line)
        .send()
        .await
        .expect("events");
    assert!(res.status().is_success(), "{}", res.status());
    let res = call(
        reqwest::Method::GET,
        &format!("/archive/search?q={SEARCH}"),
        &officer,
        None,
    )
    .await
    .expect("search");
    assert!(res.status().is_success(), "{}", res.status());
    // Read back in clear where a person is entitled to it.
    let back: Value = call(reqwest::Method::GET, &format!("/clients/{id}"), &sa, None)
        .await
        .expect("read")
        .json()
        .await
        .expect("json");
    assert_eq!(back["first_name"], FIRST, "{back}");
    let export = call(reqwest::Method::GET, "/events/export", &hq, None)
        .await
        .expect("export")
        .bytes()
        .await
        .expect("body");
    assert!(!export.is_empty(), "the export has the event");
    assert_clean("the events export", &export);
    let log = server.log.lock().map(|l| l.clone()).unwrap_or_default();
    drop(server);
    assert!(log.contains("/api/v1/clients"), "the log has the requests");
    assert_clean("the server's log", log.as_bytes());
    let mut scanned = 0;
    let mut brand_name_seen = false;
    for f in files(&data) {
        let bytes = std::fs::read(&f).expect("read");
        scanned += 1;
        // What is not personal (the brand's name) is there to be found: the scan reads.
        brand_name_seen |= bytes.windows(13).any(|w| w == b"Maison Canary");
        assert_clean(&f.display().to_string(), &bytes);
    }
    assert!(scanned >= 3, "{scanned} files");
    // A backup (`salon backup`) holds the database as it is: sealed.
    let backup =
        std::env::temp_dir().join(format!("salon_canary_backup_{}.db", std::process::id()));
    let _ = std::fs::remove_file(&backup);
    let done = Command::new(env!("CARGO_BIN_EXE_salon"))
        .args(["backup", "--data-dir"])
        .arg(&data)
        .arg("--out")
        .arg(&backup)
        .env("SALON_LOG", "warn")
        .output()
        .expect("backup");
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let bytes = std::fs::read(&backup).expect("backup file");
    assert!(
        bytes.windows(13).any(|w| w == b"Maison Canary"),
        "the backup reads"
    );
    assert_clean("the backup", &bytes);
    let _ = std::fs::remove_file(&backup);
    assert!(brand_name_seen, "the scan found the brand's name");
    let _ = std::fs::remove_dir_all(&data);
}
