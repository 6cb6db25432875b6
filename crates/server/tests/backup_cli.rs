//! `salon backup` and `salon restore` as an operator runs them: a backup taken while writes
//! go on is one consistent moment, private (0600) and without the master key; it restores into
//! another data directory holding the installation's key, where the brand, the user and a
//! client's sealed personal data read back. Overwrites, damaged files, newer schemas and a
//! database in use are refused, leaving what was there as it was.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::Connection as _;

struct Run {
    dir: PathBuf,
}

impl Run {
    fn salon(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_salon"))
            .args(args)
            .arg("--data-dir")
            .arg(&self.dir)
            .env("SALON_LOG", "warn")
            .env_remove("SALON_DATABASE_URL")
            .env_remove("SALON_MASTER_KEY")
            .env_remove("SALON_CONFIG")
            .output()
            .expect("run salon");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> (String, String) {
        let (ok, out, err) = self.salon(args);
        assert!(ok, "salon {args:?}: {out} {err}");
        (out, err)
    }

    fn fails(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.salon(args);
        assert!(!ok, "salon {args:?} should fail: {out} {err}");
        err
    }

    fn db(&self) -> PathBuf {
        self.dir.join("salon.db")
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("file").permissions().mode() & 0o777
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

async fn connect(path: &Path) -> sqlx::SqliteConnection {
    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open")
}

/// Opens a data directory the way Salon does and reads back what the first one held.
async fn assert_holds_the_data(dir: &Path) {
    let key = hex::decode(
        std::fs::read_to_string(dir.join("master.key"))
            .expect("key")
            .trim(),
    )
    .expect("hex");
    let keys = store::Keyring::new(&key).expect("keyring");
    let url = format!("sqlite://{}", dir.join("salon.db").display());
    let repo = store::connect(&url, keys).await.expect("connect").repo;
    let brand = repo
        .brand_by_slug("maison")
        .await
        .expect("brand")
        .expect("the brand is there");
    let user = repo
        .user_by_email(brand.id, "hq@maison.example")
        .await
        .expect("user")
        .expect("the user is there");
    assert_eq!(user.display_name, "Head Office");
    let phone = domain::Phone::parse("phone", "+8613800138000").expect("phone");
    let ids = repo
        .clients_by_phone(brand.id, &phone)
        .await
        .expect("lookup");
    assert_eq!(ids.len(), 1, "the blind index finds the client");
    let client = repo
        .client(brand.id, ids[0])
        .await
        .expect("client")
        .expect("the client is there");
    assert_eq!(client.pii.first_name.as_deref(), Some("Mei"));
    assert_eq!(
        client.pii.email.as_ref().map(|e| e.as_str()),
        Some("mei@example.com"),
        "sealed personal data opens with the data directory's key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_writes_then_restore_elsewhere_and_refusals() {
    let base = std::env::temp_dir().join(format!("salon_backup_cli_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).expect("base");
    let a = Run {
        dir: base.join("a"),
    };
    let b = Run {
        dir: base.join("b"),
    };

    a.ok(&["brand", "create", "--slug", "maison", "--name", "Maison"]);
    a.ok(&[
        "user",
        "create",
        "--brand",
        "maison",
        "--email",
        "hq@maison.example",
        "--name",
        "Head Office",
        "--role",
        "hq",
        "--password",
        "a long enough password 2026",
    ]);
    let csv = base.join("clients.csv");
    std::fs::write(
        &csv,
        "crm_id,first_name,phone,email\nC1,Mei,+86 138 0013 8000,mei@example.com\n",
    )
    .expect("csv");
    a.ok(&["import", "clients", s(&csv), "--brand", "maison"]);

    // Writes go on while the backup runs: each transaction adds x and -x, so a consistent copy
    // sums to zero.
    let mut w = connect(&a.db()).await;
    sqlx::raw_sql("CREATE TABLE scratch (x INTEGER NOT NULL)")
        .execute(&mut w)
        .await
        .expect("table");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut n: i64 = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let mut tx = w.begin().await.expect("begin");
                for x in [n, -n] {
                    sqlx::query("INSERT INTO scratch (x) VALUES ($1)")
                        .bind(x)
                        .execute(&mut *tx)
                        .await
                        .expect("insert");
                }
                tx.commit().await.expect("commit");
            }
            n
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let out = base.join("salon-backup.db");
    let (printed, warned) = {
        let a_dir = a.dir.clone();
        let out = out.clone();
        tokio::task::spawn_blocking(move || {
            Run { dir: a_dir }.ok(&["backup", "--out", out.to_str().expect("utf-8")])
        })
        .await
        .expect("backup ran")
    };
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.expect("writer");
    assert!(written > 0);
    assert!(printed.contains("Backed up"), "{printed}");
    assert!(
        warned.contains("master key is NOT in the backup") && warned.contains("master.key"),
        "{warned}"
    );
    assert_eq!(mode(&out), 0o600, "the backup is private");

    let mut copy = connect(&out).await;
    let (sum, count): (i64, i64) =
        sqlx::query_as("SELECT COALESCE(SUM(x), 0), COUNT(*) FROM scratch")
            .fetch_one(&mut copy)
            .await
            .expect("scratch");
    assert_eq!(sum, 0, "a consistent moment: no half transaction");
    assert_eq!(count % 2, 0);
    copy.close().await.expect("close");

    // The master key is nowhere in the backup: neither its text nor its bytes.
    let key_text = std::fs::read_to_string(a.dir.join("master.key")).expect("key");
    let key_bytes = hex::decode(key_text.trim()).expect("hex");
    let backup_bytes = std::fs::read(&out).expect("backup");
    assert!(
        !backup_bytes
            .windows(key_text.trim().len())
            .any(|w| w == key_text.trim().as_bytes())
    );
    assert!(!backup_bytes.windows(32).any(|w| w == key_bytes.as_slice()));

    // An existing file is not overwritten without --force.
    let before = std::fs::read(&out).expect("backup");
    let err = a.fails(&["backup", "--out", s(&out)]);
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(&out).expect("backup"), before);
    a.ok(&["backup", "--out", s(&out), "--force"]);
    assert_eq!(mode(&out), 0o600);

    // Restored into another data directory holding the installation's key.
    std::fs::create_dir_all(&b.dir).expect("b");
    std::fs::copy(a.dir.join("master.key"), b.dir.join("master.key")).expect("key copy");
    let (printed, _) = b.ok(&["restore", "--from", s(&out)]);
    assert!(printed.contains("Restored"), "{printed}");
    assert_eq!(mode(&b.db()), 0o600);
    assert_holds_the_data(&b.dir).await;

    // Restoring over a database keeps the old one beside it, private.
    b.ok(&["restore", "--from", s(&out)]);
    let kept: Vec<PathBuf> = std::fs::read_dir(&b.dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("salon.db.before-restore-"))
        })
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(mode(&kept[0]), 0o600);
    assert!(!b.dir.join("salon.db-wal").exists() || mode(&b.dir.join("salon.db-wal")) == 0o600);
    assert_holds_the_data(&b.dir).await;

    // Refused while something has the database open (a running server's pool does).
    let mut holder = connect(&b.db()).await;
    sqlx::query("SELECT COUNT(*) FROM brands")
        .execute(&mut holder)
        .await
        .expect("read");
    let err = b.fails(&["restore", "--from", s(&out)]);
    assert!(err.contains("in use"), "{err}");
    holder.close().await.expect("close");

    // A file that is not SQLite, a damaged database and a newer schema are refused, and the
    // data directory keeps its database.
    let junk = base.join("junk.db");
    std::fs::write(&junk, b"this is not a database at all, just text").expect("junk");
    let err = b.fails(&["restore", "--from", s(&junk)]);
    assert!(err.contains("not a SQLite database"), "{err}");

    let damaged = base.join("damaged.db");
    let mut bytes = std::fs::read(&out).expect("backup");
    let page = usize::from(u16::from_be_bytes([bytes[16], bytes[17]])).max(512);
    for i in page..bytes.len().min(page * 4) {
        bytes[i] = (i % 251) as u8;
    }
    std::fs::write(&damaged, &bytes).expect("damaged");
    let err = b.fails(&["restore", "--from", s(&damaged)]);
    assert!(
        err.contains("damaged") || err.contains("malformed"),
        "{err}"
    );

    let newer = base.join("newer.db");
    std::fs::copy(&out, &newer).expect("copy");
    let mut n = connect(&newer).await;
    sqlx::query("INSERT INTO salon_migrations (version, name, applied_at) VALUES (9999, 'from the future', 0)")
        .execute(&mut n)
        .await
        .expect("future");
    n.close().await.expect("close");
    let err = b.fails(&["restore", "--from", s(&newer)]);
    assert!(err.contains("newer Salon"), "{err}");

    let leftovers: Vec<String> = std::fs::read_dir(&b.dir)
        .expect("dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains(".restore-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary file is left: {leftovers:?}"
    );
    assert_holds_the_data(&b.dir).await;

    // PostgreSQL is pointed to its own tools, without a connection attempted.
    let err = a.fails(&[
        "backup",
        "--out",
        s(&base.join("pg.db")),
        "--database-url",
        "postgres://salon:salon@127.0.0.1:9/salon",
    ]);
    assert!(err.contains("pg_dump"), "{err}");
    let err = a.fails(&[
        "restore",
        "--from",
        s(&out),
        "--database-url",
        "postgres://salon:salon@127.0.0.1:9/salon",
    ]);
    assert!(err.contains("pg_restore"), "{err}");

    let _ = std::fs::remove_dir_all(&base);
}

/// With `salon serve` running on the data directory: the backup is taken, the restore refused;
/// once the server has stopped, the restore goes through.
#[test]
fn a_running_server_is_backed_up_but_not_restored_over() {
    use std::io::{BufRead as _, BufReader};
    use std::process::Stdio;

    let base = std::env::temp_dir().join(format!("salon_backup_serve_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).expect("base");
    let run = Run {
        dir: base.join("data"),
    };
    let mut server = Command::new(env!("CARGO_BIN_EXE_salon"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-demo",
            "--data-dir",
        ])
        .arg(&run.dir)
        .env("SALON_LOG", "warn")
        .env_remove("SALON_DATABASE_URL")
        .env_remove("SALON_MASTER_KEY")
        .env_remove("SALON_DEMO")
        .env_remove("SALON_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start salon");
    let stdout = server.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let listening = lines.any(|l| l.is_ok_and(|l| l.starts_with("Salon is listening on ")));
    std::thread::spawn(move || for _ in lines {});
    assert!(listening, "the server started");

    run.ok(&["brand", "create", "--slug", "maison", "--name", "Maison"]);
    let out = base.join("live.db");
    run.ok(&["backup", "--out", s(&out)]);
    let err = run.fails(&["restore", "--from", s(&out)]);
    assert!(err.contains("in use"), "{err}");
    assert!(run.db().exists(), "the database is left where it was");

    server.kill().expect("stop the server");
    let _ = server.wait();
    let (printed, _) = run.ok(&["restore", "--from", s(&out)]);
    assert!(printed.contains("before-restore"), "{printed}");
    let (brands, _) = run.ok(&["brand", "list"]);
    assert!(brands.contains("maison"), "{brands}");
    let _ = std::fs::remove_dir_all(&base);
}
