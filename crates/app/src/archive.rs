//! The conversation archive: every message stays in the database, immutable (an edit or a
//! recall is a new message); this module keeps each brand's search index caught up with it
//! and answers searches in the actor's scope, with exports that are audited.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use domain::{Action, BrandId, ClientId, ClientQuery, Message, Role, Scope, UserId};

use crate::{Actor, AppError, AppResult, Salon};

/// Messages read from the database per indexing step.
const INDEX_BATCH: u32 = 5_000;

/// A search as a person asks it (the API's query string, the search page's form).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ArchiveSearch {
    #[serde(default)]
    pub q: String,
    pub client: Option<i64>,
    pub associate: Option<i64>,
    pub store: Option<String>,
    /// YYYY-MM-DD, inclusive, in the brand's time zone.
    pub from: Option<String>,
    /// YYYY-MM-DD, inclusive.
    pub to: Option<String>,
    pub flagged: Option<bool>,
    pub limit: Option<usize>,
    /// In group chats: only this group.
    pub group: Option<i64>,
}

/// A message found, with whom it was with.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    #[serde(flatten)]
    pub message: Message,
    pub client_name: String,
}

/// A group chat message found, with its group's name.
#[derive(Debug, Clone, Serialize)]
pub struct FoundInGroup {
    #[serde(flatten)]
    pub message: domain::GroupMessage,
    pub group_name: String,
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

/// Runs index work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> archive::ArchiveResult<T> + Send + 'static,
) -> AppResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(internal)?
        .map_err(internal)
}

async fn add_to(
    index: &Arc<archive::BrandIndex>,
    batch: Vec<archive::IndexedMessage>,
) -> AppResult<usize> {
    if batch.is_empty() {
        return Ok(0);
    }
    let index = index.clone();
    blocking(move || index.add(&batch)).await
}

fn day_start(tz: &str, field: &str, s: &str, plus_days: i64) -> AppResult<i64> {
    let d = domain::date(field, s).map_err(AppError::from)?;
    let tz = jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
    let d = d
        .checked_add(jiff::Span::new().days(plus_days))
        .map_err(|e| AppError::invalid(field, e.to_string()))?;
    d.to_zoned(tz)
        .map(|z| z.timestamp().as_millisecond())
        .map_err(|e| AppError::invalid(field, e.to_string()))
}

impl Salon {
    /// Attaches the search index (the server and tests do; without one, search answers that
    /// it is not available).
    pub fn with_archive(mut self, archive: archive::Archive) -> Self {
        self.archive = Some(Arc::new(archive));
        self
    }

    fn archive(&self) -> AppResult<&Arc<archive::Archive>> {
        self.archive
            .as_ref()
            .ok_or_else(|| AppError::Unavailable("the search index is not configured".into()))
    }

    /// Indexes the brand's messages (one-to-one, then in group chats) stored since each index
    /// last committed. Returns how many were added.
    pub async fn catch_up_index(&self, brand: BrandId) -> AppResult<usize> {
        let archive = self.archive()?.clone();
        let (index, groups) =
            blocking(move || Ok((archive.brand(brand.0)?, archive.groups(brand.0)?))).await?;
        let mut added = 0;
        loop {
            let (tx, id) = index.last_indexed().map_err(internal)?;
            let rows = self
                .repo
                .messages_for_index(brand, domain::ports::StreamPos { tx, id }, INDEX_BATCH)
                .await?;
            let n = rows.len();
            let batch = rows
                .into_iter()
                .map(|(m, store, flagged, pos)| archive::IndexedMessage {
                    tx: pos.tx,
                    id: m.id,
                    client: m.client_id.0,
                    associate: m.associate_id.map_or(0, |u| u.0),
                    store: store.map_or(0, |s| s.0),
                    at: m.at,
                    inbound: m.direction == domain::Direction::In,
                    flagged,
                    body: m.body,
                })
                .collect();
            added += add_to(&index, batch).await?;
            if n < INDEX_BATCH as usize {
                break;
            }
        }
        loop {
            let (tx, id) = groups.last_indexed().map_err(internal)?;
            let rows = self
                .repo
                .group_messages_for_index(brand, domain::ports::StreamPos { tx, id }, INDEX_BATCH)
                .await?;
            let n = rows.len();
            let batch = rows
                .into_iter()
                .map(|(m, store, flagged, pos)| archive::IndexedMessage {
                    tx: pos.tx,
                    id: m.id,
                    // The groups' index files a message under its group.
                    client: m.group_id,
                    associate: m.sender.associate().map_or(0, |u| u.0),
                    store: store.map_or(0, |s| s.0),
                    at: m.at,
                    inbound: m.sender.associate().is_none(),
                    flagged,
                    body: m.body,
                })
                .collect();
            added += add_to(&groups, batch).await?;
            if n < INDEX_BATCH as usize {
                return Ok(added);
            }
        }
    }

    /// Keeps every brand's index caught up: again at once while there is work, else after
    /// `every`.
    pub fn start_indexer(&self, every: Duration) -> Option<tokio::task::JoinHandle<()>> {
        self.archive.as_ref()?;
        let salon = self.clone();
        Some(tokio::spawn(async move {
            loop {
                let mut busy = false;
                match salon.repo.list_brands().await {
                    Ok(brands) => {
                        for b in brands {
                            match salon.catch_up_index(b.id).await {
                                Ok(n) => busy |= n > 0,
                                Err(e) => {
                                    tracing::warn!(error = %e, brand = %b.slug, "indexing failed")
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "indexing: brands unreadable"),
                }
                // Under load, straight on; idle, a pause.
                if !busy {
                    tokio::time::sleep(every).await;
                }
            }
        }))
    }

    /// The search as the index takes it, narrowed to the actor's scope: compliance the whole
    /// brand, a manager their store, an associate their own clients (or, in group chats, their
    /// own groups). `None` when the scope leaves nothing to search.
    async fn scoped_query(
        &self,
        actor: &Actor,
        s: &ArchiveSearch,
        groups: bool,
    ) -> AppResult<Option<archive::SearchQuery>> {
        let b = actor.brand.id;
        let tz = actor.brand.time_zone.as_str();
        let store = match s.store.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            Some(code) => Some(self.store_by_code(actor, code).await?.id),
            None => None,
        };
        let mut q = archive::SearchQuery {
            text: s.q.chars().take(200).collect(),
            client: if groups { s.group } else { s.client },
            associate: s.associate,
            store: store.map(|s| s.0),
            clients: None,
            from: s
                .from
                .as_deref()
                .filter(|d| !d.is_empty())
                .map(|d| day_start(tz, "from", d, 0))
                .transpose()?,
            to: s
                .to
                .as_deref()
                .filter(|d| !d.is_empty())
                .map(|d| day_start(tz, "to", d, 1))
                .transpose()?,
            flagged: s.flagged,
            limit: s.limit.unwrap_or(100).clamp(1, 500),
        };
        match actor.scope() {
            Scope::Brand => {}
            Scope::Store(own) => {
                if store.is_some_and(|s| s != own) {
                    return Ok(None);
                }
                q.store = Some(own.0);
            }
            Scope::Associate(me) if groups => {
                let mine = self
                    .repo
                    .groups(b, Scope::Associate(me), None, 1000)
                    .await?;
                q.clients = Some(mine.iter().map(|g| g.id).collect());
            }
            Scope::Associate(me) => q.clients = Some(self.book_ids(b, me).await?),
            Scope::Nothing => return Ok(None),
        }
        Ok(Some(q))
    }

    /// The ids a search finds in the actor's scope: in the one-to-one threads, or in the
    /// group chats.
    async fn found_ids(
        &self,
        actor: &Actor,
        s: &ArchiveSearch,
        groups: bool,
    ) -> AppResult<Vec<i64>> {
        actor.require(Action::ReadConversations)?;
        let b = actor.brand.id;
        let Some(q) = self.scoped_query(actor, s, groups).await? else {
            return Ok(Vec::new());
        };
        self.catch_up_index(b).await?;
        let archive = self.archive()?;
        let index = if groups {
            archive.groups(b.0)
        } else {
            archive.brand(b.0)
        }
        .map_err(internal)?;
        blocking(move || index.search(&q)).await
    }

    /// A compliance officer's search goes to the audit log.
    async fn audit_search(
        &self,
        actor: &Actor,
        what: &str,
        s: &ArchiveSearch,
        found: usize,
    ) -> AppResult<()> {
        if actor.role == Role::Compliance {
            self.audit(
                actor,
                "compliance_read",
                what,
                serde_json::json!({"search": s, "found": found}),
            )
            .await?;
        }
        Ok(())
    }

    /// Searches the archive's one-to-one threads within the actor's scope. A compliance
    /// search is audited.
    pub async fn search_archive(&self, actor: &Actor, s: &ArchiveSearch) -> AppResult<Vec<Found>> {
        let b = actor.brand.id;
        let ids = self.found_ids(actor, s, false).await?;
        let messages = self.repo.messages_by_ids(b, &ids).await?;
        let mut names: HashMap<ClientId, String> = HashMap::new();
        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            let client_name = match names.get(&m.client_id) {
                Some(n) => n.clone(),
                None => {
                    let n = self
                        .repo
                        .client(b, m.client_id)
                        .await?
                        .map(|c| c.pii.display_name())
                        .unwrap_or_default();
                    names.insert(m.client_id, n.clone());
                    n
                }
            };
            out.push(Found {
                message: m,
                client_name,
            });
        }
        self.audit_search(actor, "archive search", s, out.len())
            .await?;
        Ok(out)
    }

    /// Searches what was said in group chats, within the actor's scope (an associate: the
    /// groups they own or are in). A compliance search is audited.
    pub async fn search_groups(
        &self,
        actor: &Actor,
        s: &ArchiveSearch,
    ) -> AppResult<Vec<FoundInGroup>> {
        let b = actor.brand.id;
        let ids = self.found_ids(actor, s, true).await?;
        let messages = self.repo.group_messages_by_ids(b, &ids).await?;
        let mut names: HashMap<i64, String> = HashMap::new();
        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            let group_name = match names.get(&m.group_id) {
                Some(n) => n.clone(),
                None => {
                    let n = self
                        .repo
                        .group(b, m.group_id)
                        .await?
                        .map(|g| g.name)
                        .unwrap_or_default();
                    names.insert(m.group_id, n.clone());
                    n
                }
            };
            out.push(FoundInGroup {
                message: m,
                group_name,
            });
        }
        self.audit_search(actor, "group chat search", s, out.len())
            .await?;
        Ok(out)
    }

    /// The ids of an associate's clients.
    async fn book_ids(&self, brand: BrandId, associate: UserId) -> AppResult<Vec<i64>> {
        let mut ids = Vec::new();
        let mut q = ClientQuery::new(Scope::Associate(associate));
        q.limit = 500;
        loop {
            let page = self.repo.list_clients(brand, &q).await?;
            let Some(last) = page.items.last() else {
                return Ok(ids);
            };
            q.after = Some(last.id);
            ids.extend(page.items.iter().map(|c| c.id.0));
        }
    }

    /// A search's results as JSON Lines or CSV; the export is in the audit log.
    pub async fn export_search(
        &self,
        actor: &Actor,
        s: &ArchiveSearch,
        format: &str,
    ) -> AppResult<(String, &'static str)> {
        actor.require(Action::ExportConversations)?;
        let found = self.search_archive(actor, s).await?;
        let messages: Vec<Message> = found.into_iter().map(|f| f.message).collect();
        let out = crate::conversations::render_export(&messages, format)?;
        self.audit(
            actor,
            "export",
            "archive search",
            serde_json::json!({"search": s, "format": format, "messages": messages.len()}),
        )
        .await?;
        Ok(out)
    }
}
