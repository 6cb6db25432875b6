//! `salon backup` and `salon restore` for the embedded SQLite store.
//!
//! A backup is `VACUUM INTO`: one read transaction, so a consistent copy while the server
//! writes. It holds the database only: the master key that seals its personal data is not in
//! it. A restore checks the file (a SQLite database, intact, of a schema this binary knows),
//! refuses while anything has the data directory's database open, keeps the old database
//! beside it and moves the new one in with a rename.

use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::Connection as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteLockingMode};

use crate::config::Resolved;

const PG_BACKUP: &str = "salon backup copies the embedded SQLite database only. For PostgreSQL use its own tools, e.g. `pg_dump --format=custom --file salon.dump DATABASE_URL` (and `pg_restore --clean --if-exists --no-owner --dbname DATABASE_URL salon.dump`); see the README's \"Backup and restore\". Keep the master key separately either way.";
const PG_RESTORE: &str = "salon restore installs an embedded SQLite database only. For PostgreSQL restore a pg_dump with `pg_restore --clean --if-exists --no-owner --dbname DATABASE_URL salon.dump`; see the README's \"Backup and restore\".";

/// The SQLite file the configuration names, or a clear refusal for PostgreSQL.
fn sqlite_file(cfg: &Resolved, postgres: &str) -> anyhow::Result<PathBuf> {
    match store::Backend::of_url(&cfg.database_url).map_err(|e| anyhow::anyhow!("{e}"))? {
        store::Backend::Postgres => bail!("{postgres}"),
        store::Backend::Sqlite => {
            let options = SqliteConnectOptions::from_str(&cfg.database_url)
                .context("the database URL is not a SQLite URL")?;
            let file = options.get_filename().to_path_buf();
            if file.as_os_str().is_empty() || file.to_str() == Some(":memory:") {
                bail!("an in-memory database cannot be backed up or restored");
            }
            Ok(file)
        }
    }
}

fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// A new, empty file readable by its owner only.
fn create_private(path: &Path) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    Ok(())
}

fn set_private(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot make {} private", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Flushes a directory's entries (the renames in it) to disk, where the platform allows.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

/// Writes a consistent copy of the database to `out` (mode 0600).
pub async fn backup(cfg: &Resolved, out: &Path, force: bool) -> anyhow::Result<()> {
    let db = sqlite_file(cfg, PG_BACKUP)?;
    if !db.exists() {
        bail!("there is no database at {}", db.display());
    }
    if out.exists() && !force {
        bail!(
            "{} exists already: choose another file, or pass --force to replace it",
            out.display()
        );
    }
    // Written beside the destination, then renamed over it: a failed backup leaves no half
    // file under the name an operator would trust.
    let dir = parent_of(out);
    let name = out
        .file_name()
        .with_context(|| format!("{} is not a file name", out.display()))?;
    let partial = dir.join(format!(
        ".{}.partial-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    remove_if_present(&partial)?;
    create_private(&partial)?;
    let result = async {
        let mut conn = SqliteConnection::connect_with(
            &SqliteConnectOptions::new()
                .filename(&db)
                .create_if_missing(false)
                .busy_timeout(Duration::from_secs(30)),
        )
        .await
        .with_context(|| format!("cannot open {}", db.display()))?;
        let target = partial
            .to_str()
            .with_context(|| format!("{} is not valid UTF-8", partial.display()))?;
        // One read transaction: the copy is the database as of one moment, whatever the
        // server writes meanwhile.
        sqlx::query("VACUUM INTO ?1")
            .bind(target)
            .execute(&mut conn)
            .await
            .context("the copy failed")?;
        conn.close().await.ok();
        set_private(&partial)?;
        std::fs::File::open(&partial)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("cannot flush {}", partial.display()))?;
        let version = check(&partial).await?;
        std::fs::rename(&partial, out)
            .with_context(|| format!("cannot move the copy to {}", out.display()))?;
        sync_dir(&dir);
        Ok::<_, anyhow::Error>(version)
    }
    .await;
    let version = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    println!(
        "Backed up {} to {} ({size} bytes, schema version {version}).",
        db.display(),
        out.display()
    );
    eprintln!(
        "The master key is NOT in the backup: keep {} (or SALON_MASTER_KEY) backed up separately, \
         somewhere else. The backup cannot be read without it.",
        cfg.data_dir.join("master.key").display()
    );
    Ok(())
}

/// Checks a database file: SQLite, intact, a Salon schema no newer than this binary's. Returns
/// its schema version.
async fn check(file: &Path) -> anyhow::Result<i64> {
    use std::io::Read as _;
    let mut header = [0u8; 16];
    let read = std::fs::File::open(file)
        .and_then(|mut f| f.read_exact(&mut header))
        .with_context(|| format!("cannot read {}", file.display()));
    if read.is_err() || &header != b"SQLite format 3\0" {
        bail!("{} is not a SQLite database", file.display());
    }
    let mut conn = SqliteConnection::connect_with(
        &SqliteConnectOptions::new()
            .filename(file)
            .create_if_missing(false)
            .busy_timeout(Duration::from_secs(5)),
    )
    .await
    .with_context(|| format!("cannot open {}", file.display()))?;
    let outcome = async {
        let problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&mut conn)
            .await
            .with_context(|| format!("{} is damaged: it cannot be checked", file.display()))?;
        if problems != ["ok"] {
            bail!(
                "{} is damaged: PRAGMA integrity_check reports {}",
                file.display(),
                problems.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
            );
        }
        let version: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM salon_migrations")
            .fetch_one(&mut conn)
            .await
            .with_context(|| format!("{} is not a Salon database", file.display()))?;
        let version = version.with_context(|| format!("{} is not a Salon database (no migration applied)", file.display()))?;
        let known = store::schema_version();
        if version > known {
            bail!(
                "{} was written by a newer Salon (schema version {version}; this binary knows up to {known}): restore it with that version or a later one",
                file.display()
            );
        }
        Ok(version)
    }
    .await;
    conn.close().await.ok();
    outcome
}

/// Installs the backup `from` as the database of the configuration.
pub async fn restore(cfg: &Resolved, from: &Path) -> anyhow::Result<()> {
    let db = sqlite_file(cfg, PG_RESTORE)?;
    if !from.is_file() {
        bail!("there is no backup file at {}", from.display());
    }
    let dir = parent_of(&db);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = db
        .file_name()
        .with_context(|| format!("{} is not a file name", db.display()))?
        .to_string_lossy()
        .into_owned();
    // The copy that is checked is the copy that is installed: a temporary file in the same
    // directory, so that the final step is a rename.
    let temp = dir.join(format!(".{name}.restore-{}", std::process::id()));
    for p in [
        temp.clone(),
        beside(&temp, "-wal"),
        beside(&temp, "-shm"),
        beside(&temp, "-journal"),
    ] {
        remove_if_present(&p)?;
    }
    create_private(&temp)?;
    let outcome = async {
        {
            let mut src = std::fs::File::open(from)
                .with_context(|| format!("cannot read {}", from.display()))?;
            let mut dst = std::fs::OpenOptions::new()
                .write(true)
                .open(&temp)
                .with_context(|| format!("cannot write {}", temp.display()))?;
            std::io::copy(&mut src, &mut dst)
                .with_context(|| format!("cannot copy {}", from.display()))?;
            dst.sync_all()?;
        }
        let version = check(&temp).await?;
        // Self-contained (no -wal beside it) before it takes the database's name.
        let conn = SqliteConnection::connect_with(
            &SqliteConnectOptions::new()
                .filename(&temp)
                .create_if_missing(false)
                .journal_mode(SqliteJournalMode::Delete),
        )
        .await
        .with_context(|| format!("cannot open {}", temp.display()))?;
        conn.close().await.ok();
        install(&db, &temp).await.map(|kept| (version, kept))
    }
    .await;
    let (version, kept) = match outcome {
        Ok(v) => v,
        Err(e) => {
            for p in [
                temp.clone(),
                beside(&temp, "-wal"),
                beside(&temp, "-shm"),
                beside(&temp, "-journal"),
            ] {
                let _ = std::fs::remove_file(p);
            }
            return Err(e);
        }
    };
    sync_dir(&dir);
    println!(
        "Restored {} into {} (schema version {version}).",
        from.display(),
        db.display()
    );
    if let Some(kept) = kept {
        println!("The previous database is kept as {}.", kept.display());
    }
    let key = cfg.data_dir.join("master.key");
    if std::env::var_os("SALON_MASTER_KEY").is_none() && !key.exists() {
        eprintln!(
            "There is no master key at {}: put the backed-up installation's master.key there (or set SALON_MASTER_KEY) before starting Salon, or its sealed data cannot be read.",
            key.display()
        );
    } else {
        eprintln!(
            "Salon opens the restored database with the master key at {} (or SALON_MASTER_KEY): it must be the key of the installation the backup came from.",
            key.display()
        );
    }
    Ok(())
}

/// Moves `temp` to `db`, refusing while anything has `db` open, and keeps the old database
/// as `<db>.before-restore-<UTC time>`, which it returns.
async fn install(db: &Path, temp: &Path) -> anyhow::Result<Option<PathBuf>> {
    if !db.exists() {
        std::fs::rename(temp, db)
            .with_context(|| format!("cannot move the backup to {}", db.display()))?;
        for suffix in ["-wal", "-shm", "-journal"] {
            remove_if_present(&beside(db, suffix))?;
        }
        return Ok(None);
    }
    let in_use = || {
        format!(
            "the database {} is in use (a running `salon serve` or another salon command?): stop it, then restore",
            db.display()
        )
    };
    // Exclusive locking mode: this connection takes the file's exclusive lock and keeps it, which
    // it cannot while any other connection (a server's idle pool included) has the file open.
    let mut old = SqliteConnection::connect_with(
        &SqliteConnectOptions::new()
            .filename(db)
            .create_if_missing(false)
            .locking_mode(SqliteLockingMode::Exclusive)
            .busy_timeout(Duration::from_millis(500)),
    )
    .await
    .with_context(in_use)?;
    let locked = async {
        sqlx::raw_sql("BEGIN EXCLUSIVE; SELECT COUNT(*) FROM sqlite_master; COMMIT;")
            .execute(&mut old)
            .await?;
        // Out of WAL mode: the old file carries everything it holds (nothing left in a -wal).
        sqlx::raw_sql("PRAGMA journal_mode=DELETE")
            .execute(&mut old)
            .await?;
        // Held through the renames: nothing opens the old file meanwhile.
        sqlx::raw_sql("BEGIN EXCLUSIVE; SELECT COUNT(*) FROM sqlite_master;")
            .execute(&mut old)
            .await?;
        Ok::<_, sqlx::Error>(())
    }
    .await;
    if let Err(e) = locked {
        old.close().await.ok();
        return Err(anyhow::anyhow!("{e}").context(in_use()));
    }
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let mut kept = beside(db, &format!(".before-restore-{stamp}"));
    let mut n = 1;
    while kept.exists() {
        n += 1;
        kept = beside(db, &format!(".before-restore-{stamp}-{n}"));
    }
    let moved = (|| {
        std::fs::rename(db, &kept)
            .with_context(|| format!("cannot keep the old database as {}", kept.display()))?;
        set_private(&kept)?;
        if let Err(e) = std::fs::rename(temp, db) {
            // Put the old database back under its name.
            let _ = std::fs::rename(&kept, db);
            return Err(e).with_context(|| format!("cannot move the backup to {}", db.display()));
        }
        for suffix in ["-wal", "-shm", "-journal"] {
            remove_if_present(&beside(db, suffix))?;
        }
        Ok::<_, anyhow::Error>(())
    })();
    // Nothing was written: the transaction only held the lock.
    sqlx::raw_sql("ROLLBACK").execute(&mut old).await.ok();
    old.close().await.ok();
    moved.map(|()| Some(kept))
}
