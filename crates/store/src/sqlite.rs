//! The embedded default: SQLite in WAL mode with foreign keys on, so that the CLI can work on
//! the same file while the server runs.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::broadcast_sql::impl_broadcast_store;
use crate::catalogue_sql::impl_catalogue_store;
use crate::channel_sql::impl_channel_store;
use crate::conversation_sql::impl_conversation_store;
use crate::edge_sql::impl_edge_store;
use crate::event_sql::impl_event_store;
use crate::group_sql::{GroupKey, impl_group_store};
use crate::pii::Purpose;
use crate::sales_sql::impl_sales_store;
use crate::sql::{BATCH, impl_repo};
use crate::{MIGRATIONS, conflict, corrupt, db};
use domain::ports::{
    Audience, BroadcastStore, ChannelStore, ConversationStore, EdgeStore, EventStore, GroupStore,
    PlanCounts, Planner, RateCount, Repo, RepoResult, SalesStore, StoredEvent, StreamPos, Target,
};
use domain::*;

impl_repo!(
    SqliteRepo,
    sqlx::Sqlite,
    SqlitePool,
    "(SELECT group_concat(t.tag, char(31)) FROM client_tags t WHERE t.client_id = c.id)",
    "BEGIN IMMEDIATE"
);

impl_channel_store!(SqliteRepo);
impl_event_store!(SqliteRepo);
impl_edge_store!(SqliteRepo);
impl_group_store!(SqliteRepo);
impl_sales_store!(SqliteRepo, sqlite);
impl_catalogue_store!(SqliteRepo);
impl_conversation_store!(SqliteRepo, "SELECT $1");

impl SqliteRepo {
    /// Below which writing transaction a message is safe to read in stream order
    /// ([`StreamPos`]): one writer at a time: every committed row is readable in order.
    const TX_HORIZON: &str = "9223372036854775807";
}

impl_broadcast_store!(SqliteRepo, "SELECT $1");

impl SqliteRepo {
    pub async fn connect(url: &str, keys: crate::Keyring) -> RepoResult<Self> {
        let options = SqliteConnectOptions::from_str(url).map_err(db)?;
        private_file(options.get_filename())?;
        let options = options
            .create_if_missing(true)
            // A new database's pages: 16 KiB B-tree pages are shallower and split less under
            // bulk inserts than the default 4 KiB (an existing database keeps its own).
            .page_size(16_384)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-65536")
            // Reads of large tables (a month of orders and their touches) straight from the
            // mapped file rather than through a read call per page.
            .pragma("mmap_size", "4294967296")
            // A statement's own undo journal (for ON CONFLICT in a multi-row insert) in memory.
            .pragma("temp_store", "memory");
        // SQLite has one writer at a time: write transactions queue for this connection.
        // Its page cache holds a bulk import's dirty pages (256 MiB): a page spilled to the WAL
        // mid-transaction is written again at commit.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(crate::sql::WRITER_WAIT)
            .connect_with(options.clone().pragma("cache_size", "-262144"))
            .await
            .map_err(db)?;
        migrate(&writer).await?;
        // The readers open once the schema is current: a connection that loaded an older
        // schema prepares `SELECT *` with the old columns, SQLite prepares it again with the
        // new ones when it runs, and sqlx, holding the first list, read past its end (a panic
        // on the first read of a table a migration had widened).
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(db)?;
        let repo = Self::new(pool, keys).with_writer(writer);
        repo.convert_older_rows().await?;
        Ok(repo)
    }
}

/// The database file readable by its owner only (it holds sealed data, but also everything
/// that is not personal): created so when new, narrowed when an older install left it wider.
/// SQLite gives its WAL and shared-memory files the database file's mode.
fn private_file(path: &std::path::Path) -> RepoResult<()> {
    if path.as_os_str().is_empty() || path.to_str() == Some(":memory:") {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| RepoError::Backend(format!("{}: {e}", path.display())))?;
        let mode = file
            .metadata()
            .map_err(|e| RepoError::Backend(format!("{}: {e}", path.display())))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            let beside = |suffix: &str| {
                let mut p = path.as_os_str().to_owned();
                p.push(suffix);
                std::path::PathBuf::from(p)
            };
            for p in [path.to_path_buf(), beside("-wal"), beside("-shm")] {
                if p.exists() {
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                        .map_err(|e| RepoError::Backend(format!("{}: {e}", p.display())))?;
                }
            }
        }
    }
    Ok(())
}

async fn migrate(pool: &SqlitePool) -> RepoResult<()> {
    let mut conn = pool.acquire().await.map_err(db)?;
    // BEGIN IMMEDIATE takes the write lock at once: two processes starting together migrate
    // one after the other.
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    let result = async {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS salon_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *conn)
        .await
        .map_err(db)?;
        for (version, name, sql, _) in MIGRATIONS {
            let done: Option<i64> = sqlx::query_scalar("SELECT version FROM salon_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db)?;
            if done.is_none() {
                sqlx::raw_sql(*sql).execute(&mut *conn).await.map_err(db)?;
                sqlx::query("INSERT INTO salon_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                    .bind(version)
                    .bind(*name)
                    .bind(now_millis())
                    .execute(&mut *conn)
                    .await
                    .map_err(db)?;
                tracing::info!(version, name, "applied SQLite migration");
            }
        }
        Ok::<_, RepoError>(())
    }
    .await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    sqlx::raw_sql(end).execute(&mut *conn).await.map_err(db)?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection as _;

    /// A database made before the parties were numbered (migrations 1–10, with touches, orders
    /// and a return in their old tables) opens with every figure's input intact.
    #[tokio::test]
    async fn the_sales_keys_migration_carries_the_old_tables_over() {
        let dir = std::env::temp_dir().join(format!("salon_mig12_{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("salon.db");
        let url = format!("sqlite://{}", file.display());
        {
            let opts = SqliteConnectOptions::from_str(&url)
                .expect("url")
                .create_if_missing(true);
            let mut c = sqlx::SqliteConnection::connect_with(&opts)
                .await
                .expect("connect");
            sqlx::raw_sql(
                "CREATE TABLE salon_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
            )
            .execute(&mut c)
            .await
            .expect("table");
            for (version, name, sql, _) in MIGRATIONS.iter().filter(|m| m.0 <= 10) {
                sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
                    .execute(&mut c)
                    .await
                    .expect("old migration");
                sqlx::query("INSERT INTO salon_migrations VALUES ($1, $2, 0)")
                    .bind(version)
                    .bind(name)
                    .execute(&mut c)
                    .await
                    .expect("recorded");
            }
            sqlx::raw_sql(
                "INSERT INTO brands VALUES (1, 'old', 'Old', 'Asia/Shanghai', '[\"CNY\"]', '[]', '[]', 0); \
                 INSERT INTO sales_orders (brand_id, order_id, source, client_ref, store_code, placed_at, currency, sold_by, lines, total, created_at) \
                 VALUES (1, 'O1', 'ecommerce', 'C1', NULL, 2000, 'CNY', NULL, '[{\"line\":1,\"sku\":\"BAG\",\"qty\":1,\"amount\":500}]', 500, 0), \
                        (1, 'O0', 'pos', NULL, 'SH01', 1000, 'CNY', 'a@m.example', '[{\"line\":1,\"sku\":\"HAT\",\"qty\":1,\"amount\":70}]', 70, 0); \
                 INSERT INTO sales_touches VALUES (1, 'C1', 1500, 'a@m.example', 'message', 'import'), \
                                                  (1, 'C1', 1600, 'b@m.example', 'share_click', 'share_link'), \
                                                  (1, 'C2', 1700, 'a@m.example', 'broadcast', 'import'); \
                 INSERT INTO compliance_flags (brand_id, direction, rule_id, rule_name, category, severity, action, matched, status, created_at) \
                 VALUES (1, 'in', 1, 'ID numbers', 'personal_data', 'high', 'flag', '110101199003077777', 'open', 1); \
                 INSERT INTO audit_log VALUES (1, 1, 1, NULL, 'compliance:Zhou', 'compliance_read', 'archive search', '{\"search\":\"old words\"}', 'g', 'h'); \
                 INSERT INTO brand_events (id, brand_id, ts, kind, follower, line, digest) \
                 VALUES (7, 1, 5, 'follow', 'oOldFollower', '{\"follower\":\"oOldFollower\",\"kind\":\"follow\"}', x'00');",
            )
            .execute(&mut c)
            .await
            .expect("old rows");
        }
        let repo = SqliteRepo::connect(&url, crate::Keyring::new(&[1u8; 32]).expect("key"))
            .await
            .expect("migrates");
        let b = BrandId(1);
        // Rows written in clear before migration 14 are sealed at the start, and read back.
        use domain::ports::ConversationStore as _;
        let flags = repo
            .flags(
                b,
                &domain::FlagQuery {
                    limit: 5,
                    ..Default::default()
                },
            )
            .await
            .expect("flags");
        assert_eq!(flags[0].matched, "110101199003077777");
        let log = repo.audit_log(b, 0, 5).await.expect("audit");
        assert_eq!(log[0].detail, r#"{"search":"old words"}"#);
        let clear: (String, String) = sqlx::query_as(
            "SELECT (SELECT matched FROM compliance_flags), (SELECT detail FROM audit_log)",
        )
        .fetch_one(&repo.pool)
        .await
        .expect("raw");
        assert_eq!(clear, (String::new(), String::new()));
        // An older event's follower is keyed in place, in its column and its line.
        use domain::ports::EventStore as _;
        let key = repo.follower_key(b, "oOldFollower");
        assert_eq!(
            repo.event_lines(b, None).await.expect("events"),
            vec![format!(r#"{{"follower":"{key}","kind":"follow"}}"#)]
        );
        crate::migration_checks::old_sales_rows_read_back(&repo, b).await;
        drop(repo);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
