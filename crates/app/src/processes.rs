//! Several Salon processes on one database: what one process at a time must own (a lease in
//! the database), and what each process caches and must drop when another one changes it
//! (versions in the database, watched).
//!
//! Sends need neither: every outbox row, broadcast batch, group post and Moments post is
//! claimed by one conditional update (see `conversations`, `broadcasts`, `groups`).

use std::collections::HashMap;
use std::time::Duration;

use domain::BrandId;

use crate::{AppResult, Salon};

/// What processes cache of a brand, by topic: a change to one moves its version, and every
/// process drops what it holds of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// The monitoring rules, compiled.
    Rules,
    /// Channel settings, endpoints and API clients (with their access tokens).
    Channels,
    /// Staff: roles, departures, tokens. Actors behind API tokens are cached.
    Staff,
    /// The brand itself (deleted, renamed).
    Brand,
}

impl Topic {
    pub const ALL: [Topic; 4] = [Topic::Rules, Topic::Channels, Topic::Staff, Topic::Brand];

    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Rules => "rules",
            Topic::Channels => "channels",
            Topic::Staff => "staff",
            Topic::Brand => "brand",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// The lease under which one process at a time processes the callback inbox (in the order the
/// callbacks came).
pub const INBOX_LEASE: &str = "channel_inbox";

/// How long a lease holds without renewal: a process that dies mid-work is relieved after it.
/// The holder renews it before each batch, which takes well under this.
pub const LEASE_FOR: Duration = Duration::from_secs(30);

impl Salon {
    /// This process's name in leases: random per start.
    pub fn process_name(&self) -> &str {
        &self.process
    }

    /// Records that what is cached of `brand` under `topic` changed: dropped here at once, and
    /// by every other process at its next look (see [`Salon::start_cache_watch`]).
    pub async fn changed(&self, brand: BrandId, topic: Topic) -> AppResult<()> {
        self.forget_cached(brand, topic);
        self.repo.cache_bump(brand, topic.as_str()).await?;
        Ok(())
    }

    /// Drops what this process caches of `brand` under `topic`.
    pub fn forget_cached(&self, brand: BrandId, topic: Topic) {
        match topic {
            Topic::Rules => self.forget_rules(brand),
            Topic::Channels => {
                self.channels().forget(brand);
                if let Ok(mut m) = self.kf_accounts.lock() {
                    m.remove(&brand);
                }
            }
            Topic::Staff => self.tokens.clear(),
            Topic::Brand => {
                if let Ok(mut m) = self.brands.write() {
                    m.remove(&brand);
                }
                self.channels().forget_slug(brand);
                for t in [Topic::Rules, Topic::Channels, Topic::Staff] {
                    self.forget_cached(brand, t);
                }
                if let Ok(mut m) = self.live_tables.lock() {
                    m.remove(&brand);
                }
                if let Ok(mut m) = self.event_cache.lock() {
                    m.remove(&brand);
                }
            }
        }
    }

    /// One look at the versions: drops what moved since `seen` (and records it there).
    /// Returns how many (brand, topic) pairs moved. The first look (with `seen` empty) drops
    /// what is cached of every pair it finds, and counts none.
    pub async fn watch_caches_once(
        &self,
        seen: &mut Option<HashMap<(BrandId, String), i64>>,
    ) -> AppResult<usize> {
        let now = self.repo.cache_versions().await?;
        let Some(before) = seen.as_mut() else {
            // The first look: whatever was cached before it may predate these versions.
            for (brand, topic, _) in &now {
                if let Some(t) = Topic::parse(topic) {
                    self.forget_cached(*brand, t);
                }
            }
            *seen = Some(
                now.into_iter()
                    .map(|(b, t, v)| ((b, t), v))
                    .collect::<HashMap<_, _>>(),
            );
            return Ok(0);
        };
        let mut moved = 0;
        for (brand, topic, version) in now {
            let key = (brand, topic);
            if before.get(&key) == Some(&version) {
                continue;
            }
            if let Some(t) = Topic::parse(&key.1) {
                self.forget_cached(brand, t);
                if t == Topic::Brand
                    && let Some(archive) = &self.archive
                    && self.repo.brand(brand).await?.is_none()
                {
                    // Deleted by another process: its search index goes here too.
                    if let Err(e) = archive.remove_brand(brand.0) {
                        tracing::warn!(brand = brand.0, error = %e, "a deleted brand's index");
                    }
                }
                moved += 1;
            }
            before.insert(key, version);
        }
        Ok(moved)
    }

    /// Watches the versions every `every` until the process ends, so that a change made by
    /// another process (or by the CLI) reaches this one within that time.
    pub fn start_cache_watch(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let salon = self.clone();
        tokio::spawn(async move {
            let mut seen = None;
            loop {
                if let Err(e) = salon.watch_caches_once(&mut seen).await {
                    tracing::warn!(error = %e, "cache versions unreadable");
                }
                tokio::time::sleep(every).await;
            }
        })
    }

    /// Takes (or renews) `name` for this process; false when another process holds it.
    pub async fn take_lease(&self, name: &str) -> AppResult<bool> {
        let now = domain::now_millis();
        let until = now + i64::try_from(LEASE_FOR.as_millis()).unwrap_or(i64::MAX);
        Ok(self
            .repo
            .lease_take(name, &self.process, now, until)
            .await?)
    }

    /// Gives `name` back (when this process holds it).
    pub async fn release_lease(&self, name: &str) -> AppResult<()> {
        Ok(self.repo.lease_release(name, &self.process).await?)
    }
}
