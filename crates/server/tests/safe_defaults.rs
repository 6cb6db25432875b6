//! No backdoor by default (issue 15): the demo's accounts have a published password and its
//! sandbox plays WeChat, so they exist only where nobody else reaches them.
//!
//! - A fresh start on loopback seeds the demo, says loudly that its accounts exist, keeps the
//!   sandbox's secrets per installation (a file of mode 0600), refuses callbacks signed with
//!   the secrets older Salons held as constants, and opens `/sandbox`'s pages to nobody
//!   anonymous.
//! - With the demo in the store, a start on an address others reach (without `--demo`), behind
//!   a proxy, or with `--no-demo` is refused, naming `salon brand delete demo`.
//! - `salon brand delete demo` removes it; then such a start serves no demo and `/sandbox` is
//!   404. A fresh non-loopback start never creates the demo.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The values Salon's sandbox once had as constants in the binary.
const OLD_CORP_ID: &str = "wwsandbox0lumiere";
const OLD_CORP_SECRET: &str = "sandbox-corp-secret-0123456789abcdef";
const OLD_TOKEN: &str = "SandboxToken2026";
const OLD_AES_KEY: &str = "c2FuZGJveC1zYWxvbi1hZXMta2V5LTMyLWJ5dGVzISE";
const OLD_OA_APP_ID: &str = "wxsandbox0lumiere";
const OLD_OA_SECRET: &str = "sandbox-oa-secret-0123456789abcdef";
const OLD_OA_TOKEN: &str = "SandboxOaToken26";
const OLD_OA_AES_KEY: &str = "b2Etc2FuZGJveC1zYWxvbi1hZXMta2V5LTMyYnl0ZSE";

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("salon_safe_{name}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Server {
    child: Child,
    url: String,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Waits until stderr holds `needle` (the start-up warnings follow the listening line).
    fn stderr_eventually(&self, needle: &str) -> String {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let text = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
            if text.contains(needle) || Instant::now() > until {
                return text;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn command(data: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_salon"));
    c.args(args)
        .arg("--data-dir")
        .arg(data)
        .env("SALON_LOG", "warn")
        .env("SALON_DEMO_CLIENTS", "40")
        .env_remove("SALON_MASTER_KEY")
        .env_remove("SALON_DEMO")
        .env_remove("SALON_NO_DEMO")
        .env_remove("SALON_LISTEN")
        .env_remove("SALON_BEHIND_PROXY")
        .env_remove("SALON_DATABASE_URL");
    c
}

/// Starts `salon serve ARGS`; the URL reaches it on loopback whatever it bound.
fn start(data: &Path, args: &[&str]) -> Server {
    let mut child = command(data, &[&["serve"], args].concat())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start salon");
    let stderr = Arc::new(Mutex::new(String::new()));
    let err = child.stderr.take().expect("stderr");
    let sink = stderr.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if let Ok(mut s) = sink.lock() {
                s.push_str(&line);
                s.push('\n');
            }
        }
    });
    let out = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(out).lines();
    let url = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.wait();
            panic!(
                "salon exited before listening: {}",
                stderr.lock().map(|s| s.clone()).unwrap_or_default()
            );
        };
        if let Some(rest) = line.strip_prefix("Salon is listening on ") {
            break rest.trim().replace("0.0.0.0", "127.0.0.1");
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Server { child, url, stderr }
}

/// Runs `salon serve ARGS` expecting it to refuse to start; returns what it said.
fn refused(data: &Path, args: &[&str]) -> String {
    let mut child = command(data, &[&["serve"], args].concat())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start salon");
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let out = child.wait_with_output().expect("output");
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!status.success(), "salon serve {args:?} started: {said}");
            assert!(
                !said.contains("Salon is listening"),
                "salon serve {args:?} listened: {said}"
            );
            return said;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "salon serve {args:?} did not refuse to start: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn cli(data: &Path, args: &[&str]) -> (bool, String) {
    let out = command(data, args).output().expect("run salon");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A `change_contact` callback (a staff member deleted) encrypted and signed with the given
/// token and EncodingAESKey, as an attacker who knows them would send it.
fn forged_callback(token: &str, aes_key: &str, receive_id: &str, user: &str) -> (String, String) {
    let crypt = channels::wecom::MsgCrypt::new(token, aes_key, receive_id).expect("crypt");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let inner = format!(
        "<xml><ToUserName><![CDATA[{receive_id}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>\
         <CreateTime>{now}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_contact]]></Event>\
         <ChangeType><![CDATA[delete_user]]></ChangeType><UserID><![CDATA[{user}]]></UserID></xml>"
    );
    let encrypted = crypt.encrypt(inner.as_bytes());
    let nonce = format!("n{now}{user}");
    let signature = crypt.sign(&now.to_string(), &nonce, &encrypted);
    let query = format!("msg_signature={signature}&timestamp={now}&nonce={nonce}");
    let body = format!(
        "<xml><ToUserName><![CDATA[{receive_id}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>"
    );
    (query, body)
}

async fn post_callback(url: &str, channel: &str, (query, body): (String, String)) -> u16 {
    http()
        .post(format!("{url}/channels/{channel}/demo/callback?{query}"))
        .body(body)
        .send()
        .await
        .expect("callback")
        .status()
        .as_u16()
}

/// Signs in through the login form; the status of the answer (303 when signed in).
async fn sign_in(url: &str, brand: &str, email: &str, password: &str) -> u16 {
    let page = http()
        .get(format!("{url}/login"))
        .send()
        .await
        .expect("login page");
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok())
        .find(|c| c.contains("login_csrf"))
        .and_then(|c| c.split(';').next())
        .expect("login CSRF cookie")
        .to_owned();
    let body = page.text().await.expect("body");
    let csrf = body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("csrf field")
        .to_owned();
    let form = format!(
        "csrf={csrf}&brand={brand}&email={}&password={password}&next=%2Fclients",
        email.replace('@', "%40")
    );
    http()
        .post(format!("{url}/login"))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("sign in")
        .status()
        .as_u16()
}

fn secrets(data: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(data.join("sandbox.key")).expect("sandbox.key");
    serde_json::from_str(&text).expect("json")
}

fn field<'a>(v: &'a serde_json::Value, name: &str) -> &'a str {
    v.get(name).and_then(|x| x.as_str()).expect(name)
}

#[tokio::test]
async fn the_demo_and_its_sandbox_exist_only_on_loopback_unless_asked_for() {
    let dir = TempDir::new("demo");
    let data = &dir.0;

    // A fresh start on loopback: the living demo, said loudly.
    let server = start(data, &["--listen", "127.0.0.1:0"]);
    let said = server.stderr_eventually("salon brand delete demo");
    assert!(
        said.contains("WARN") && said.contains("DEMO ACCOUNTS EXIST"),
        "a WARN line: {said}"
    );
    assert!(
        said.contains("!!! WARNING") && said.contains("li.na@maison-lumiere.example"),
        "a banner naming the accounts: {said}"
    );

    // Secrets of this installation only, in a private file; none of the old constants.
    let mine = secrets(data);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("sandbox.key"))
            .expect("file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "sandbox.key is private");
    }
    for (name, old) in [
        ("corp_secret", OLD_CORP_SECRET),
        ("token", OLD_TOKEN),
        ("aes_key", OLD_AES_KEY),
        ("oa_secret", OLD_OA_SECRET),
        ("oa_token", OLD_OA_TOKEN),
        ("oa_aes_key", OLD_OA_AES_KEY),
    ] {
        assert_ne!(field(&mine, name), old, "{name}");
    }

    let url = server.url.clone();
    // Callbacks signed with the old constants are refused, on both channels, however formed.
    for user in ["li.na", "zhang.min"] {
        let status = post_callback(
            &url,
            "wecom",
            forged_callback(OLD_TOKEN, OLD_AES_KEY, OLD_CORP_ID, user),
        )
        .await;
        assert!(
            status == 401 || status == 403,
            "a WeCom callback signed with the old constants: {status}"
        );
        let status = post_callback(
            &url,
            "wechat-oa",
            forged_callback(OLD_OA_TOKEN, OLD_OA_AES_KEY, OLD_OA_APP_ID, user),
        )
        .await;
        assert!(
            status == 401 || status == 403,
            "an OA callback signed with the old constants: {status}"
        );
    }
    // The installation's own secrets do sign (so the refusals above are about the keys).
    let status = post_callback(
        &url,
        "wecom",
        forged_callback(
            field(&mine, "token"),
            field(&mine, "aes_key"),
            OLD_CORP_ID,
            "nobody.here",
        ),
    )
    .await;
    assert_eq!(
        status, 200,
        "a callback signed with this installation's keys"
    );

    // The sandbox's API does not give a token for the old secret.
    let answer: serde_json::Value = http()
        .get(format!(
            "{url}/sandbox/cgi-bin/gettoken?corpid={OLD_CORP_ID}&corpsecret={OLD_CORP_SECRET}"
        ))
        .send()
        .await
        .expect("gettoken")
        .json()
        .await
        .expect("json");
    assert_ne!(answer["errcode"], 0, "{answer}");
    assert!(answer.get("access_token").is_none(), "{answer}");
    let answer: serde_json::Value = http()
        .get(format!(
            "{url}/sandbox/cgi-bin/token?grant_type=client_credential&appid={OLD_OA_APP_ID}&secret={OLD_OA_SECRET}"
        ))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    assert!(answer.get("access_token").is_none(), "{answer}");

    // The sandbox's pages act for nobody anonymous.
    for (method, path) in [
        ("GET", "/sandbox/scan/anything"),
        ("POST", "/sandbox/scan/anything"),
        ("GET", "/sandbox/qr/anything"),
        ("GET", "/sandbox/"),
        ("GET", "/sandbox/scan/%2e%2e/qr/x"),
    ] {
        let req = if method == "GET" {
            http().get(format!("{url}{path}"))
        } else {
            http()
                .post(format!("{url}{path}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("name=Eve")
        };
        let res = req.send().await.expect("sandbox page");
        let status = res.status().as_u16();
        let to = res
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            (300..400).contains(&status) && to.starts_with("/login"),
            "{method} {path} anonymous: {status} {to}"
        );
    }
    drop(server);

    // With the demo in the store, no start that others could reach, nor --no-demo.
    for args in [
        &["--listen", "0.0.0.0:0"][..],
        &["--listen", "127.0.0.1:0", "--behind-proxy"][..],
        &["--listen", "127.0.0.1:0", "--proxy-hops", "2"][..],
        &["--listen", "127.0.0.1:0", "--no-demo"][..],
        &["--listen", "0.0.0.0:0", "--no-demo"][..],
    ] {
        let said = refused(data, args);
        assert!(
            said.contains("salon brand delete demo") && said.contains("--demo"),
            "{args:?}: {said}"
        );
    }
    assert!(
        refused(data, &["--demo", "--no-demo"]).contains("--no-demo"),
        "contradictory flags"
    );

    // --demo asks for it explicitly: served, still loudly and behind sign-in.
    let server = start(data, &["--listen", "0.0.0.0:0", "--demo"]);
    let said = server.stderr_eventually("salon brand delete demo");
    assert!(said.contains("DEMO ACCOUNTS EXIST"), "{said}");
    let res = http()
        .get(format!("{}/sandbox/scan/anything", server.url))
        .send()
        .await
        .expect("scan");
    assert_eq!(res.status().as_u16(), 303, "anonymous on --demo");
    assert_eq!(secrets(data), mine, "the installation keeps its secrets");
    drop(server);

    // `salon brand delete demo` removes it; then the public start serves no demo.
    let (ok, said) = cli(data, &["brand", "delete", "demo"]);
    assert!(ok, "{said}");
    let (ok, said) = cli(data, &["brand", "list"]);
    assert!(ok && !said.contains("demo"), "{said}");
    let server = start(data, &["--listen", "0.0.0.0:0"]);
    for path in [
        "/sandbox/scan/anything",
        "/sandbox/cgi-bin/gettoken",
        "/sandbox/qr/x",
    ] {
        let res = http()
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .expect("sandbox");
        assert_eq!(res.status().as_u16(), 404, "{path}");
    }
    // The warnings come before the first answer: none now.
    let said = server.stderr.lock().map(|s| s.clone()).unwrap_or_default();
    assert!(!said.contains("DEMO ACCOUNTS EXIST"), "{said}");
    drop(server);
    let (ok, said) = cli(data, &["brand", "list"]);
    assert!(
        ok && !said.contains("demo"),
        "no demo brand came back: {said}"
    );
}

#[tokio::test]
async fn a_fresh_public_start_creates_no_demo_and_other_brands_need_confirming() {
    let dir = TempDir::new("public");
    let data = &dir.0;
    let server = start(data, &["--listen", "0.0.0.0:0"]);
    let res = http()
        .get(format!("{}/sandbox/scan/anything", server.url))
        .send()
        .await
        .expect("scan");
    assert_eq!(res.status().as_u16(), 404);
    drop(server);
    let (ok, said) = cli(data, &["brand", "list"]);
    assert!(ok && !said.contains("demo"), "{said}");
    assert!(
        !data.join("sandbox.key").exists(),
        "no sandbox without the demo"
    );
    // The same on loopback with --no-demo.
    let server = start(data, &["--listen", "127.0.0.1:0", "--no-demo"]);
    drop(server);
    let (ok, said) = cli(data, &["brand", "list"]);
    assert!(ok && !said.contains("demo"), "{said}");

    // A demo brand that appears while a public server runs (a CLI command made it) lets
    // nobody in; another brand's accounts sign in as usual.
    let server = start(data, &["--listen", "0.0.0.0:0"]);
    for (slug, password) in [("demo", "lumiere-demo"), ("maison", "maison-password")] {
        let (ok, said) = cli(data, &["brand", "create", "--slug", slug, "--name", slug]);
        assert!(ok, "{said}");
        let (ok, said) = cli(
            data,
            &[
                "user",
                "create",
                "--brand",
                slug,
                "--email",
                &format!("hq@{slug}.example"),
                "--name",
                "HQ",
                "--role",
                "hq",
                "--password",
                password,
            ],
        );
        assert!(ok, "{said}");
    }
    assert_eq!(
        sign_in(
            &server.url,
            "maison",
            "hq@maison.example",
            "maison-password"
        )
        .await,
        303,
        "an ordinary brand signs in"
    );
    assert_ne!(
        sign_in(&server.url, "demo", "hq@demo.example", "lumiere-demo").await,
        303,
        "the demo brand does not, on a public server"
    );
    drop(server);
    assert!(refused(data, &["--listen", "0.0.0.0:0"]).contains("salon brand delete demo"));
    let (ok, said) = cli(data, &["brand", "delete", "demo"]);
    assert!(ok, "{said}");

    // Deleting a brand that is not the demo needs --yes.
    let (ok, said) = cli(data, &["brand", "delete", "maison"]);
    assert!(!ok && said.contains("--yes"), "{said}");
    let (ok, said) = cli(data, &["brand", "list"]);
    assert!(ok && said.contains("maison"), "{said}");
    let (ok, said) = cli(data, &["brand", "delete", "maison", "--yes"]);
    assert!(ok, "{said}");
    let (ok, said) = cli(data, &["brand", "list"]);
    assert!(ok && !said.contains("maison"), "{said}");
    let (ok, said) = cli(data, &["brand", "delete", "nothing"]);
    assert!(!ok && said.contains("no brand"), "{said}");
}
