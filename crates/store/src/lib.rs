//! Salon's storage: the [`domain::ports::Repo`] port on SQLite (the embedded default: one file,
//! WAL, foreign keys on) and on PostgreSQL (production). Both run the same SQL (see [`sql`]) and
//! the same conformance suite (`tests/conformance.rs`). Personal data is encrypted before it
//! reaches either (see [`pii`]).

pub mod brand_delete;
mod broadcast_sql;
mod catalogue_sql;
mod channel_sql;
mod conversation_sql;
mod edge_sql;
mod event_sql;
mod group_sql;
pub mod pii;
mod postgres;
mod sales_bulk;
mod sales_sql;
mod sql;
mod sqlite;

use std::sync::Arc;

use domain::RepoError;
use domain::ports::Repo;

pub use brand_delete::DELETE_BRAND;
pub use pii::Keyring;
pub use postgres::PgRepo;
pub use sqlite::SqliteRepo;

/// The migrations, in order: (version, name, SQLite text, PostgreSQL text).
pub(crate) const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "foundation",
        include_str!("../migrations/sqlite/0001_foundation.sql"),
        include_str!("../migrations/postgres/0001_foundation.sql"),
    ),
    (
        2,
        "channels",
        include_str!("../migrations/sqlite/0002_channels.sql"),
        include_str!("../migrations/postgres/0002_channels.sql"),
    ),
    (
        3,
        "events",
        include_str!("../migrations/sqlite/0003_events.sql"),
        include_str!("../migrations/postgres/0003_events.sql"),
    ),
    (
        4,
        "conversations",
        include_str!("../migrations/sqlite/0004_conversations.sql"),
        include_str!("../migrations/postgres/0004_conversations.sql"),
    ),
    (
        5,
        "broadcasts",
        include_str!("../migrations/sqlite/0005_broadcasts.sql"),
        include_str!("../migrations/postgres/0005_broadcasts.sql"),
    ),
    (
        6,
        "planned batches",
        include_str!("../migrations/sqlite/0006_planned_batches.sql"),
        include_str!("../migrations/postgres/0006_planned_batches.sql"),
    ),
    (
        7,
        "group chats",
        include_str!("../migrations/sqlite/0007_group_chats.sql"),
        include_str!("../migrations/postgres/0007_group_chats.sql"),
    ),
    (
        8,
        "callback signatures",
        include_str!("../migrations/sqlite/0008_callback_signatures.sql"),
        include_str!("../migrations/postgres/0008_callback_signatures.sql"),
    ),
    (
        9,
        "rate counters",
        include_str!("../migrations/sqlite/0009_rate_counters.sql"),
        include_str!("../migrations/postgres/0009_rate_counters.sql"),
    ),
    (
        10,
        "sales",
        include_str!("../migrations/sqlite/0010_sales.sql"),
        include_str!("../migrations/postgres/0010_sales.sql"),
    ),
    (
        11,
        "catalogue",
        include_str!("../migrations/sqlite/0011_catalogue.sql"),
        include_str!("../migrations/postgres/0011_catalogue.sql"),
    ),
    (
        12,
        "sales keys",
        include_str!("../migrations/sqlite/0012_sales_keys.sql"),
        include_str!("../migrations/postgres/0012_sales_keys.sql"),
    ),
    (
        13,
        "orders bulk",
        include_str!("../migrations/sqlite/0013_orders_bulk.sql"),
        include_str!("../migrations/postgres/0013_orders_bulk.sql"),
    ),
    (
        14,
        "sealed details",
        include_str!("../migrations/sqlite/0014_sealed_details.sql"),
        include_str!("../migrations/postgres/0014_sealed_details.sql"),
    ),
    (
        15,
        "keyed identities",
        include_str!("../migrations/sqlite/0015_keyed_identities.sql"),
        include_str!("../migrations/postgres/0015_keyed_identities.sql"),
    ),
    (
        16,
        "several processes",
        include_str!("../migrations/sqlite/0016_several_processes.sql"),
        include_str!("../migrations/postgres/0016_several_processes.sql"),
    ),
];

/// The newest schema version (migration) this build knows. A database whose `salon_migrations`
/// names a newer one was written by a newer Salon, which this one must not open or restore.
pub fn schema_version() -> i64 {
    MIGRATIONS.iter().map(|m| m.0).max().unwrap_or(0)
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Result<Self, RepoError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(RepoError::Backend(
                "the database URL must start with sqlite: or postgres://".to_owned(),
            ))
        }
    }
}

/// A connected store: the port for the application, and the backend for operators.
#[derive(Clone)]
pub struct Connected {
    pub repo: Arc<dyn Repo>,
    pub backend: Backend,
}

/// Connects to the database the URL names, applying any migration not yet applied.
pub async fn connect(url: &str, keys: Keyring) -> Result<Connected, RepoError> {
    match Backend::of_url(url)? {
        Backend::Sqlite => {
            let repo = SqliteRepo::connect(url, keys).await?;
            Ok(Connected {
                repo: Arc::new(repo),
                backend: Backend::Sqlite,
            })
        }
        Backend::Postgres => {
            let repo = PgRepo::connect(url, keys).await?;
            Ok(Connected {
                repo: Arc::new(repo),
                backend: Backend::Postgres,
            })
        }
    }
}

/// Database errors as the port reports them: never with the values involved. Contention is
/// [`RepoError::Busy`] (retryable), apart from real failures.
pub(crate) fn db(e: sqlx::Error) -> RepoError {
    if is_busy(&e) {
        RepoError::Busy(e.to_string())
    } else {
        RepoError::Backend(e.to_string())
    }
}

/// Whether an error only says "others are writing; try again": SQLite's SQLITE_BUSY (5) and
/// SQLITE_LOCKED (6) with their extended codes (517 is SQLITE_BUSY_SNAPSHOT), PostgreSQL's
/// serialization failure, deadlock and lock timeout, or no pooled connection free in time.
pub(crate) fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(d) => {
            let Some(code) = d.code() else {
                return false;
            };
            if let Ok(n) = code.parse::<i32>() {
                // SQLite: the primary result code is the low byte of the extended one.
                matches!(n & 0xff, 5 | 6)
            } else {
                matches!(code.as_ref(), "40001" | "40P01" | "55P03")
            }
        }
        _ => false,
    }
}

/// A unique-constraint violation becomes a conflict with a message fit for a person.
pub(crate) fn conflict(e: sqlx::Error, what: &str) -> RepoError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => RepoError::Conflict(what.to_owned()),
        _ => db(e),
    }
}

pub(crate) fn corrupt(e: impl std::fmt::Display) -> RepoError {
    RepoError::Backend(format!("stored data could not be read: {e}"))
}

/// What the migration tests of both backends check.
#[cfg(test)]
pub(crate) mod migration_checks {
    use domain::BrandId;
    use domain::ports::SalesStore;

    /// The sales rows the migration tests write into a database at version 10 (two orders,
    /// three touches in the old tables), read back after the migrations as they were.
    pub(crate) async fn old_sales_rows_read_back(repo: &impl SalesStore, b: BrandId) {
        let orders = repo.orders_placed(b, 0, 10_000).await.expect("orders");
        assert_eq!(
            orders
                .iter()
                .map(|o| o.order_id.as_str())
                .collect::<Vec<_>>(),
            ["O0", "O1"]
        );
        assert_eq!(orders[1].lines[0].amount, 500);
        assert_eq!(orders[0].sold_by.as_deref(), Some("a@m.example"));
        assert_eq!(repo.count_touches(b).await.expect("count"), 3);
        let mut t = repo
            .touches_of_clients(b, &["C1".into(), "C2".into()], 0, 10_000)
            .await
            .expect("touches");
        t.sort_by_key(|t| t.at);
        assert_eq!(
            t.iter()
                .map(|t| (
                    t.client.as_str(),
                    t.at,
                    t.associate.as_str(),
                    t.kind.as_str()
                ))
                .collect::<Vec<_>>(),
            [
                ("C1", 1500, "a@m.example", "message"),
                ("C1", 1600, "b@m.example", "share_click"),
                ("C2", 1700, "a@m.example", "broadcast"),
            ]
        );
        assert_eq!(
            repo.orders_of_client(b, "C1", 5)
                .await
                .expect("client's")
                .len(),
            1
        );
    }
}
