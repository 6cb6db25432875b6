//! Salon's use cases. Every call takes the [`Actor`] making it: the brand it is scoped to and
//! the role it is checked against. The web layer and the CLI call nothing else.

pub mod analytics;
pub mod archive;
pub mod assets;
pub mod auth;
pub mod broadcasts;
pub mod catalogue;
pub mod channels;
pub mod clients;
pub mod compliance;
pub mod conversations;
pub mod demo;
pub mod edge;
pub mod error;
pub mod groups;
pub mod import;
pub mod org;
pub mod processes;
pub mod sales;
pub mod sandbox;

use std::sync::Arc;

use domain::ports::Repo;
use domain::{Action, Brand, Role, Scope, StoreId, User, UserId};

pub use error::AppError;

pub type AppResult<T> = Result<T, AppError>;

/// Per brand: the stream's length when read, and its parsed events.
type LiveTables =
    std::collections::HashMap<domain::BrandId, Arc<tokio::sync::Mutex<analytics::LiveTable>>>;
type EventCache = std::collections::HashMap<domain::BrandId, (i64, Arc<Vec<events::Event>>)>;

/// The application: the storage port, and the rules around it.
#[derive(Clone)]
pub struct Salon {
    pub repo: Arc<dyn Repo>,
    /// Brands are read on every request: kept in memory, dropped when one changes (by any
    /// process; see [`processes`]).
    brands: Arc<std::sync::RwLock<std::collections::HashMap<domain::BrandId, Brand>>>,
    /// Actors behind recently seen API tokens (see [`auth::TOKEN_CACHE_TTL`]).
    tokens: Arc<auth::TokenCache>,
    /// Channel caches, the callback inbox writer and the processor's wake-up.
    pub channels: Arc<channels::Channels>,
    /// Each brand's parsed event stream and its length (see [`Salon::brand_events`]).
    event_cache: Arc<std::sync::Mutex<EventCache>>,
    /// Each brand's events as the report engine holds them (see [`Salon::live_table`]).
    live_tables: Arc<std::sync::Mutex<LiveTables>>,
    /// Each brand's monitoring rules, compiled (see [`Salon::rule_set`]).
    rule_sets:
        Arc<std::sync::Mutex<std::collections::HashMap<domain::BrandId, Arc<rules::RuleSet>>>>,
    /// Each brand's WeChat customer-service account, once asked for.
    kf_accounts: Arc<std::sync::Mutex<std::collections::HashMap<domain::BrandId, String>>>,
    /// Wakes the outbox dispatcher when a message is queued.
    outbox_wake: Arc<tokio::sync::Notify>,
    /// The conversation archive's search index (see [`Salon::with_archive`]).
    archive: Option<Arc<::archive::Archive>>,
    /// Segment indexes and the campaign dispatcher's settings.
    pub broadcasts: Arc<broadcasts::Broadcasts>,
    /// The asset pool's files and WeCom media ids.
    assets: Arc<assets::AssetStore>,
    /// Month figures of sales, per brand and month, with the generation they were computed at.
    sales_cache: Arc<std::sync::Mutex<sales::SalesCache>>,
    /// Each brand's catalogue search index (see [`catalogue`]).
    catalogue: Arc<catalogue::CatalogueIndexes>,
    /// Whether the demo brand is shut: nobody signs in to it or acts for it (see
    /// [`Salon::close_demo`]).
    demo_closed: Arc<std::sync::atomic::AtomicBool>,
    /// This process's name in leases (see [`processes`]): random per start.
    process: Arc<str>,
}

impl Salon {
    pub fn new(repo: Arc<dyn Repo>) -> Self {
        Self {
            repo,
            brands: Arc::default(),
            tokens: Arc::default(),
            channels: Arc::default(),
            event_cache: Arc::default(),
            live_tables: Arc::default(),
            rule_sets: Arc::default(),
            kf_accounts: Arc::default(),
            outbox_wake: Arc::default(),
            archive: None,
            broadcasts: Arc::default(),
            assets: Arc::default(),
            sales_cache: Arc::default(),
            catalogue: Arc::default(),
            demo_closed: Arc::default(),
            process: {
                use rand::Rng as _;
                format!("{:016x}", rand::thread_rng().r#gen::<u64>()).into()
            },
        }
    }

    /// Shuts the demo brand for this process: its accounts (whose password is published) do
    /// not sign in, and its sessions and API tokens stop working, should the brand appear
    /// while the server runs where others can reach it (say, created by a CLI command).
    pub fn close_demo(&self) {
        self.demo_closed
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether nobody may act for `brand` in this process (the demo, once closed).
    pub fn is_closed(&self, brand: &Brand) -> bool {
        self.demo_closed.load(std::sync::atomic::Ordering::SeqCst)
            && brand.slug.as_str() == sim::demo::DEMO_SLUG
    }

    /// A brand by id, from memory after the first read.
    pub async fn brand(&self, id: domain::BrandId) -> AppResult<Option<Brand>> {
        if let Some(b) = self.brands.read().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(Some(b));
        }
        let brand = self.repo.brand(id).await?;
        if let (Some(b), Ok(mut m)) = (&brand, self.brands.write()) {
            m.insert(id, b.clone());
        }
        Ok(brand)
    }
}

/// Who is asking: a signed-in person or a bearer token, always within one brand.
#[derive(Debug, Clone)]
pub struct Actor {
    pub brand: Brand,
    pub role: Role,
    pub user: Option<User>,
    pub store: Option<StoreId>,
}

impl Actor {
    pub fn user_id(&self) -> Option<UserId> {
        self.user.as_ref().map(|u| u.id)
    }

    /// Which clients this actor may see, from its role alone.
    pub fn scope(&self) -> Scope {
        match self.role {
            Role::Hq | Role::Compliance => Scope::Brand,
            Role::StoreManager => self.store.map_or(Scope::Nothing, Scope::Store),
            Role::Associate => self.user_id().map_or(Scope::Nothing, Scope::Associate),
            Role::Admin => Scope::Nothing,
        }
    }

    /// Refuses an action the role may not perform at all.
    pub fn require(&self, action: Action) -> AppResult<()> {
        if action.allowed(self.role) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "the {} role may not do this",
                self.role
            )))
        }
    }

    pub fn can(&self, action: Action) -> bool {
        action.allowed(self.role)
    }
}
