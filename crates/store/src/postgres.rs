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
    PlanCounts, Planner, RateCount, Repo, RepoResult, SalesStore, StoredEvent, Target,
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
        Ok(Self::new(pool, keys))
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
