//! PostgreSQL, for production: the same SQL as SQLite, migrations under an advisory lock.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row as _;
use sqlx::postgres::{PgPool, PgPoolOptions};

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
    PgRepo,
    sqlx::Postgres,
    PgPool,
    "(SELECT string_agg(t.tag, chr(31)) FROM client_tags t WHERE t.client_id = c.id)",
    "BEGIN"
);

impl_channel_store!(PgRepo);
impl_event_store!(PgRepo);
impl_edge_store!(PgRepo);
impl_group_store!(PgRepo);
impl_sales_store!(PgRepo, postgres);
impl_catalogue_store!(PgRepo);
impl_conversation_store!(PgRepo, "SELECT pg_advisory_xact_lock($1)");

impl PgRepo {
    /// Below which writing transaction a message is safe to read in stream order
    /// ([`StreamPos`]): every transaction older than the oldest one still running has ended.
    const TX_HORIZON: &str = "(pg_snapshot_xmin(pg_current_snapshot())::text)::bigint";
}

impl_broadcast_store!(PgRepo, "SELECT pg_advisory_xact_lock($1)");

/// Any number; the same in every Salon process, so that they migrate one at a time.
const MIGRATION_LOCK: i64 = 0x5a_10_4e;

impl PgRepo {
    pub async fn connect(url: &str, keys: crate::Keyring) -> RepoResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(db)?;
        migrate(&pool).await?;
        let repo = Self::new(pool, keys);
        repo.convert_older_rows().await?;
        Ok(repo)
    }
}

async fn migrate(pool: &PgPool) -> RepoResult<()> {
    // PostgreSQL has no deferred transactions; the advisory lock below serialises processes.
    #[allow(clippy::disallowed_methods)]
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS salon_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    for (version, name, _, sql) in MIGRATIONS {
        let done: Option<i64> =
            sqlx::query_scalar("SELECT version FROM salon_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if done.is_none() {
            sqlx::raw_sql(*sql).execute(&mut *tx).await.map_err(db)?;
            sqlx::query(
                "INSERT INTO salon_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(version)
            .bind(*name)
            .bind(now_millis())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            tracing::info!(version, name, "applied PostgreSQL migration");
        }
    }
    tx.commit().await.map_err(db)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection as _;

    /// A PostgreSQL database made before the parties were numbered (migrations 1–10, with
    /// touches and orders in their old tables) opens with every figure's input intact. Runs
    /// where SALON_TEST_POSTGRES_URL names a server (always in CI).
    #[tokio::test]
    async fn the_sales_keys_migration_carries_the_old_tables_over() {
        let Ok(admin) = std::env::var("SALON_TEST_POSTGRES_URL") else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but SALON_TEST_POSTGRES_URL is not set"
            );
            eprintln!("SKIPPED: set SALON_TEST_POSTGRES_URL to run the PostgreSQL migration test");
            return;
        };
        let name = format!("salon_mig12_{}", std::process::id());
        let mut server = sqlx::PgConnection::connect(&admin).await.expect("server");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\""
        )))
        .execute(&mut server)
        .await
        .expect("clean");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut server)
            .await
            .expect("database");
        let (base, _) = admin.rsplit_once('/').expect("URL names a database");
        let url = format!("{base}/{name}");
        {
            let mut c = sqlx::PgConnection::connect(&url).await.expect("connect");
            sqlx::raw_sql(
                "CREATE TABLE salon_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
            )
            .execute(&mut c)
            .await
            .expect("table");
            for (version, name, _, sql) in MIGRATIONS.iter().filter(|m| m.0 <= 10) {
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
                "INSERT INTO brands (id, slug, name, time_zone, currencies, locales, tiers, created_at) \
                 VALUES (1, 'old', 'Old', 'Asia/Shanghai', '[\"CNY\"]', '[]', '[]', 0); \
                 INSERT INTO sales_orders (brand_id, order_id, source, client_ref, store_code, placed_at, currency, sold_by, lines, total, created_at) \
                 VALUES (1, 'O1', 'ecommerce', 'C1', NULL, 2000, 'CNY', NULL, '[{\"line\":1,\"sku\":\"BAG\",\"qty\":1,\"amount\":500}]', 500, 0), \
                        (1, 'O0', 'pos', NULL, 'SH01', 1000, 'CNY', 'a@m.example', '[{\"line\":1,\"sku\":\"HAT\",\"qty\":1,\"amount\":70}]', 70, 0); \
                 INSERT INTO sales_touches VALUES (1, 'C1', 1500, 'a@m.example', 'message', 'import'), \
                                                  (1, 'C1', 1600, 'b@m.example', 'share_click', 'share_link'), \
                                                  (1, 'C2', 1700, 'a@m.example', 'broadcast', 'import');",
            )
            .execute(&mut c)
            .await
            .expect("old rows");
        }
        let repo = PgRepo::connect(&url, crate::Keyring::new(&[1u8; 32]).expect("key"))
            .await
            .expect("migrates");
        let b = BrandId(1);
        crate::migration_checks::old_sales_rows_read_back(&repo, b).await;
        // A new order after the migration: the old ones still count as held.
        let again = sales::input::order(
            1,
            r#"{"order_id":"O1","source":"ecommerce","client":"C1","placed_at":"2026-01-01T00:00:00Z","currency":"CNY","lines":[{"line":1,"sku":"BAG","qty":1,"amount":500}]}"#,
        )
        .expect("order");
        assert!(repo.put_orders(b, &[again]).await.expect("put").is_empty());
        drop(repo);
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .execute(&mut server)
        .await;
    }
}
