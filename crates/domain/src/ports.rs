//! The storage port. `store` implements it once per database; `app` uses nothing else.

use async_trait::async_trait;

use crate::*;

pub type RepoResult<T> = Result<T, RepoError>;

#[async_trait]
pub trait Repo:
    ChannelStore
    + EventStore
    + ConversationStore
    + BroadcastStore
    + GroupStore
    + SalesStore
    + CatalogueStore
    + EdgeStore
    + Send
    + Sync
    + 'static
{
    /// Whether the database answers and every migration is applied.
    async fn ready(&self) -> RepoResult<()>;

    // Brands.
    async fn create_brand(&self, brand: &NewBrand) -> RepoResult<Brand>;
    async fn brand(&self, id: BrandId) -> RepoResult<Option<Brand>>;
    async fn brand_by_slug(&self, slug: &str) -> RepoResult<Option<Brand>>;
    async fn list_brands(&self) -> RepoResult<Vec<Brand>>;
    /// Removes the brand and everything scoped to it (staff, sessions, tokens, clients,
    /// channel settings, messages, sales, catalogue, audit log…) in one transaction; returns
    /// how many rows went. Nothing is removed when any step fails.
    async fn delete_brand(&self, id: BrandId) -> RepoResult<u64>;

    // Stores.
    async fn create_store(&self, brand: BrandId, store: &NewStore) -> RepoResult<Store>;
    async fn update_store(
        &self,
        brand: BrandId,
        id: StoreId,
        patch: &StorePatch,
    ) -> RepoResult<Store>;
    async fn store(&self, brand: BrandId, id: StoreId) -> RepoResult<Option<Store>>;
    async fn store_by_code(&self, brand: BrandId, code: &str) -> RepoResult<Option<Store>>;
    async fn list_stores(&self, brand: BrandId) -> RepoResult<Vec<Store>>;

    // Staff.
    async fn create_user(&self, brand: BrandId, user: &NewUser) -> RepoResult<User>;
    async fn update_user(&self, brand: BrandId, id: UserId, patch: &UserPatch) -> RepoResult<User>;
    async fn set_password_hash(&self, brand: BrandId, id: UserId, hash: &str) -> RepoResult<()>;
    async fn mark_departed(&self, brand: BrandId, id: UserId, at: Millis) -> RepoResult<User>;
    async fn user(&self, brand: BrandId, id: UserId) -> RepoResult<Option<User>>;
    async fn user_by_email(&self, brand: BrandId, email: &str) -> RepoResult<Option<User>>;
    /// Staff of the brand, or of one store, with how many clients each is assigned.
    async fn list_users(
        &self,
        brand: BrandId,
        store: Option<StoreId>,
    ) -> RepoResult<Vec<(User, i64)>>;

    // Credentials.
    async fn create_api_token(&self, token_hash: &[u8], token: &ApiToken) -> RepoResult<()>;
    async fn api_token(&self, token_hash: &[u8]) -> RepoResult<Option<ApiToken>>;
    async fn create_session(&self, id_hash: &[u8], session: &Session) -> RepoResult<()>;
    async fn session(&self, id_hash: &[u8], now: Millis) -> RepoResult<Option<Session>>;
    async fn delete_session(&self, id_hash: &[u8]) -> RepoResult<()>;

    // Clients.
    async fn create_client(
        &self,
        brand: BrandId,
        client: &NewClient,
        by: Option<UserId>,
    ) -> RepoResult<ClientId>;
    async fn update_client(
        &self,
        brand: BrandId,
        id: ClientId,
        patch: &ClientPatch,
        by: Option<UserId>,
    ) -> RepoResult<()>;
    async fn client(&self, brand: BrandId, id: ClientId) -> RepoResult<Option<Client>>;
    async fn list_clients(
        &self,
        brand: BrandId,
        query: &ClientQuery,
    ) -> RepoResult<Page<ClientSummary>>;
    async fn count_clients(&self, brand: BrandId, scope: Scope) -> RepoResult<i64>;
    /// Clients whose phone number is exactly this one (through the blind index).
    async fn clients_by_phone(&self, brand: BrandId, phone: &Phone) -> RepoResult<Vec<ClientId>>;
    async fn client_by_identity(
        &self,
        brand: BrandId,
        identity: &Identity,
    ) -> RepoResult<Option<ClientId>>;
    async fn add_note(
        &self,
        brand: BrandId,
        client: ClientId,
        author: Option<UserId>,
        text: &str,
        at: Millis,
    ) -> RepoResult<NoteId>;
    async fn notes(&self, brand: BrandId, client: ClientId) -> RepoResult<Vec<Note>>;
    async fn edit_tags(
        &self,
        brand: BrandId,
        client: ClientId,
        add: &[Tag],
        remove: &[Tag],
    ) -> RepoResult<()>;
    /// Assigns the client to an associate (and that associate's store), keeping the history.
    async fn assign(
        &self,
        brand: BrandId,
        client: ClientId,
        associate: UserId,
        by: Option<UserId>,
        reason: &str,
    ) -> RepoResult<()>;
    async fn assignments(&self, brand: BrandId, client: ClientId) -> RepoResult<Vec<Assignment>>;
    /// Records purchases (with their effect on lifetime spend and the timeline) in one transaction.
    async fn add_purchases(
        &self,
        brand: BrandId,
        purchases: &[(ClientId, NewPurchase)],
    ) -> RepoResult<()>;
    async fn timeline(
        &self,
        brand: BrandId,
        client: ClientId,
        limit: u32,
    ) -> RepoResult<Vec<TimelineEntry>>;
    /// Creates or updates clients keyed by their CRM id, all in one transaction.
    async fn import_clients(
        &self,
        brand: BrandId,
        rows: &[NewClient],
        by: Option<UserId>,
    ) -> RepoResult<ImportCounts>;
}

/// The channels' part of the port: provider settings, the durable callback inbox, channel QR
/// codes, staff's provider ids, messages and channel interactions.
#[async_trait]
pub trait ChannelStore: Send + Sync + 'static {
    async fn put_channel_settings(
        &self,
        brand: BrandId,
        settings: &ChannelSettings,
    ) -> RepoResult<()>;
    async fn channel_settings(
        &self,
        brand: BrandId,
        channel: ChannelKind,
    ) -> RepoResult<Option<ChannelSettings>>;

    /// Stores callbacks in one transaction; a callback whose `dedup_key` is already held for
    /// its brand and channel is not stored again (its receipt says `fresh: false`). A callback
    /// whose signature (`InboxItem::replay`) was seen, unexpired, with another body is refused
    /// ([`Replayed`]); with the same body it is a retry like any other.
    async fn inbox_put(
        &self,
        items: &[InboxItem],
    ) -> RepoResult<Vec<Result<InboxReceipt, Replayed>>>;
    /// Unprocessed callbacks, oldest first, that have failed fewer than `max_attempts` times.
    async fn inbox_pending(&self, limit: u32, max_attempts: i32) -> RepoResult<Vec<InboxEntry>>;
    async fn inbox_done(&self, id: i64, outcome: &str, at: Millis) -> RepoResult<()>;
    async fn inbox_failed(&self, id: i64, error: &str) -> RepoResult<()>;
    async fn inbox_counts(
        &self,
        brand: BrandId,
        channel: ChannelKind,
        max_attempts: i32,
    ) -> RepoResult<InboxCounts>;

    async fn create_contact_way(
        &self,
        brand: BrandId,
        way: &NewContactWay,
    ) -> RepoResult<ContactWay>;
    async fn set_contact_way_code(
        &self,
        brand: BrandId,
        id: i64,
        config_id: &str,
        qr_code: &str,
    ) -> RepoResult<()>;
    async fn contact_ways(&self, brand: BrandId) -> RepoResult<Vec<ContactWay>>;
    async fn contact_way_by_state(
        &self,
        brand: BrandId,
        state: &str,
    ) -> RepoResult<Option<ContactWay>>;

    /// Links a staff member to their id on a provider (`wecom`: the WeCom `userid`).
    async fn link_staff(
        &self,
        brand: BrandId,
        user: UserId,
        kind: &str,
        value: &str,
    ) -> RepoResult<()>;
    async fn staff_by_provider_id(
        &self,
        brand: BrandId,
        kind: &str,
        value: &str,
    ) -> RepoResult<Option<UserId>>;
    async fn staff_provider_ids(
        &self,
        brand: BrandId,
        kind: &str,
    ) -> RepoResult<Vec<(UserId, String)>>;

    /// Stores a message once per provider id: `None` when it was already stored.
    async fn add_message(&self, brand: BrandId, message: &NewMessage) -> RepoResult<Option<i64>>;
    /// Every identity of one kind the brand's clients hold: (client, value).
    async fn identities_of_kind(
        &self,
        brand: BrandId,
        kind: IdentityKind,
    ) -> RepoResult<Vec<(ClientId, String)>>;
    /// The clients holding these identities of one kind, each with its associate.
    async fn clients_by_identities(
        &self,
        brand: BrandId,
        kind: IdentityKind,
        values: &[String],
    ) -> RepoResult<Vec<(String, ClientId, Option<UserId>)>>;
    /// A client's associate and store, without reading the rest of the client.
    async fn client_assignment(
        &self,
        brand: BrandId,
        client: ClientId,
    ) -> RepoResult<Option<(Option<UserId>, Option<StoreId>)>>;
    /// Stores client messages from the inbox — their stream events, the messages, and their
    /// inbox entries closed — in one transaction. Returns each message's id, whether stored now
    /// or already held.
    async fn store_inbound(
        &self,
        brand: BrandId,
        batch: &[InboundMessage],
        at: Millis,
    ) -> RepoResult<Vec<i64>>;
    async fn messages(
        &self,
        brand: BrandId,
        client: ClientId,
        limit: u32,
    ) -> RepoResult<Vec<Message>>;
    /// Records a timeline entry once per reference: false when it was already recorded.
    async fn add_interaction(&self, brand: BrandId, entry: &NewInteraction) -> RepoResult<bool>;
}

/// A position in a brand's message stream, as a search index reads it: the writing
/// transaction (always 0 on SQLite, which writes one transaction at a time), then the id.
/// PostgreSQL numbers rows when they are inserted, not when they commit, so reading by id
/// alone could skip a row that commits after a larger id was read; a reader given only rows of
/// transactions older than every transaction still running, in this order, never skips one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamPos {
    pub tx: i64,
    pub id: i64,
}

/// One event of the brand's stream, in the exchange format of `shared/spec/events.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Milliseconds since the epoch.
    pub ts: Millis,
    pub kind: String,
    pub follower: Option<String>,
    /// The event as one canonical JSON line.
    pub line: String,
}

/// The brand's event stream: imports, and what the channels record.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// The key under which the stream holds a follower (an openid, an external user id): a
    /// keyed hash of the brand, so that the stream counts people without naming them. The
    /// same follower always gets the same key; a key is its own key.
    fn follower_key(&self, brand: BrandId, follower: &str) -> String;
    /// Appends events in one transaction; an event already held (same canonical line) is not
    /// added again. Returns how many were new.
    async fn put_events(&self, brand: BrandId, events: &[StoredEvent]) -> RepoResult<u64>;
    /// The brand's events with `ts < before` (all when `None`), oldest first, as lines.
    async fn event_lines(&self, brand: BrandId, before: Option<Millis>) -> RepoResult<Vec<String>>;
    /// The brand's events stored after the one numbered `after` (0 for all), in the order
    /// they were stored, each with its number: how a live index catches up.
    async fn event_lines_after(&self, brand: BrandId, after: i64)
    -> RepoResult<Vec<(i64, String)>>;
    async fn count_events(&self, brand: BrandId) -> RepoResult<i64>;
}

/// Conversations and their oversight: monitoring rules, the review queue, the outbox, read
/// markers and the audit log.
#[async_trait]
pub trait ConversationStore: Send + Sync + 'static {
    /// The brand's rules, enabled or not, by id.
    async fn rules(&self, brand: BrandId) -> RepoResult<Vec<Rule>>;
    /// Creates the rule (`id` 0) or replaces it; names are unique within a brand.
    async fn put_rule(&self, brand: BrandId, rule: &Rule, at: Millis) -> RepoResult<Rule>;

    /// Adds review-queue items; a (message, rule) pair already flagged is not added again.
    async fn add_flags(&self, brand: BrandId, flags: &[NewFlag]) -> RepoResult<u64>;
    async fn flags(&self, brand: BrandId, query: &FlagQuery) -> RepoResult<Vec<Flag>>;
    async fn flag(&self, brand: BrandId, id: i64) -> RepoResult<Option<Flag>>;
    /// Closes an open item: `NotFound` when there is none, `Conflict` when it is closed.
    async fn review_flag(
        &self,
        brand: BrandId,
        id: i64,
        status: FlagStatus,
        note: &str,
        reviewer: Option<UserId>,
        at: Millis,
    ) -> RepoResult<Flag>;
    async fn flag_counts(&self, brand: BrandId) -> RepoResult<Vec<FlagCount>>;

    /// One message, by id.
    async fn message(&self, brand: BrandId, id: i64) -> RepoResult<Option<Message>>;
    /// The id of the message a provider numbered so.
    async fn message_by_provider_id(
        &self,
        brand: BrandId,
        channel: ChannelKind,
        provider_id: &str,
    ) -> RepoResult<Option<i64>>;
    /// The brand's messages after `after_id`, oldest first (the archive, read in order).
    async fn messages_after(
        &self,
        brand: BrandId,
        after_id: i64,
        limit: u32,
    ) -> RepoResult<Vec<Message>>;
    /// Messages by id (those of the brand only), in the order asked.
    async fn messages_by_ids(&self, brand: BrandId, ids: &[i64]) -> RepoResult<Vec<Message>>;
    /// What the search index needs of the messages after `after`, in stream order: each
    /// message, its client's store, whether a rule flagged it, and its position. Only
    /// messages whose position can no longer be preceded by a later commit are given (see
    /// [`StreamPos`]), so that a reader which resumes after the last one never skips a row.
    async fn messages_for_index(
        &self,
        brand: BrandId,
        after: StreamPos,
        limit: u32,
    ) -> RepoResult<Vec<(Message, Option<StoreId>, bool, StreamPos)>>;
    /// Threads in scope, the latest first, with what `reader` has not read.
    async fn conversations(
        &self,
        brand: BrandId,
        scope: Scope,
        reader: Option<UserId>,
        limit: u32,
    ) -> RepoResult<Vec<ConversationSummary>>;
    async fn mark_read(
        &self,
        brand: BrandId,
        client: ClientId,
        reader: UserId,
        message_id: i64,
    ) -> RepoResult<()>;

    /// Queues a message; the same `idem_key` again returns the row already queued.
    async fn enqueue(&self, brand: BrandId, message: &NewOutbound) -> RepoResult<Outbound>;
    async fn outbound(&self, brand: BrandId, id: i64) -> RepoResult<Option<Outbound>>;
    /// A client's latest outbox rows (at most 50), newest first.
    async fn outbox_of_client(&self, brand: BrandId, client: ClientId)
    -> RepoResult<Vec<Outbound>>;
    /// Leases due rows (queued and due, or sending with an expired lease) until `lease_until`.
    async fn outbox_claim(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> RepoResult<Vec<Outbound>>;
    /// Marks the row sent and stores the message, in one transaction; returns the message id.
    async fn outbox_sent(
        &self,
        id: i64,
        provider_id: &str,
        message: &NewMessage,
    ) -> RepoResult<i64>;
    /// Puts the row back in the queue for `next_at` with the error seen.
    async fn outbox_retry(&self, id: i64, error: &str, next_at: Millis) -> RepoResult<()>;
    async fn outbox_failed(&self, id: i64, error: &str) -> RepoResult<()>;
    /// Notes on a leased row what is under way (kept if its holder dies), without releasing it.
    async fn outbox_mark(&self, id: i64, note: &str) -> RepoResult<()>;

    /// Appends to the brand's hash chain and returns the entry.
    async fn audit(&self, brand: BrandId, entry: &NewAudit) -> RepoResult<AuditEntry>;
    /// The brand's log from `after_seq` on, in order.
    async fn audit_log(
        &self,
        brand: BrandId,
        after_seq: i64,
        limit: u32,
    ) -> RepoResult<Vec<AuditEntry>>;
}

/// Customer group chats: the roster, the words said in them, and how far the chat archive has
/// been read.
#[async_trait]
pub trait GroupStore: Send + Sync + 'static {
    /// Creates the group (by `chat_id`) or updates it, replacing its members; returns its id.
    /// A dismissed group that comes back is active again.
    async fn put_group(&self, brand: BrandId, group: &NewGroupChat) -> RepoResult<i64>;
    /// Marks the group dismissed; `false` when the brand has no such group.
    async fn dismiss_group(&self, brand: BrandId, chat_id: &str, at: Millis) -> RepoResult<bool>;
    async fn group(&self, brand: BrandId, id: i64) -> RepoResult<Option<GroupChat>>;
    async fn group_by_chat_id(
        &self,
        brand: BrandId,
        chat_id: &str,
    ) -> RepoResult<Option<GroupChat>>;
    /// Groups in scope, the latest spoken in first: the brand's; a store's (owned by its
    /// staff); an associate's (owned, or with them as a member). `client` narrows to the
    /// groups a client is in.
    async fn groups(
        &self,
        brand: BrandId,
        scope: Scope,
        client: Option<ClientId>,
        limit: u32,
    ) -> RepoResult<Vec<GroupSummary>>;
    /// Stores messages once per provider id, in one transaction; returns each one's id and
    /// whether it is new.
    async fn add_group_messages(
        &self,
        brand: BrandId,
        messages: &[NewGroupMessage],
        at: Millis,
    ) -> RepoResult<Vec<(i64, bool)>>;
    /// A group's messages before `before_id` (all when `None`), the newest `limit`, oldest
    /// first.
    async fn group_messages(
        &self,
        brand: BrandId,
        group: i64,
        before_id: Option<i64>,
        limit: u32,
    ) -> RepoResult<Vec<GroupMessage>>;
    /// Group messages by id (the brand's only), in the order asked.
    async fn group_messages_by_ids(
        &self,
        brand: BrandId,
        ids: &[i64],
    ) -> RepoResult<Vec<GroupMessage>>;
    /// What the search index needs of the group messages after `after`, in stream order
    /// (as [`ConversationStore::messages_for_index`]): each message, its group owner's store,
    /// whether a rule flagged it, and its position.
    async fn group_messages_for_index(
        &self,
        brand: BrandId,
        after: StreamPos,
        limit: u32,
    ) -> RepoResult<Vec<(GroupMessage, Option<StoreId>, bool, StreamPos)>>;
    /// Queues a post to a group; the same `idem_key` again returns the post already queued.
    async fn enqueue_group_post(
        &self,
        brand: BrandId,
        post: &NewGroupPost,
    ) -> RepoResult<GroupPost>;
    /// A group's posts, the newest `limit`, oldest first.
    async fn group_posts(
        &self,
        brand: BrandId,
        group: i64,
        limit: u32,
    ) -> RepoResult<Vec<GroupPost>>;
    /// Posts to act on, every brand's: queued ones, and ones left `sending` since before
    /// `stale_before` (their dispatcher died mid-call).
    async fn group_posts_due(&self, stale_before: Millis, limit: u32)
    -> RepoResult<Vec<GroupPost>>;
    /// Moves a post from `from` to `to` (recording the msgid or error); `false` when it was
    /// no longer `from` (another dispatcher has it). Moving to `sending` stamps `attempt_at`.
    async fn group_post_update(
        &self,
        id: i64,
        from: GroupPostStatus,
        to: GroupPostStatus,
        msgid: Option<&str>,
        error: Option<&str>,
        at: Millis,
    ) -> RepoResult<bool>;
    /// The last chat-archive sequence number stored (0 before any).
    async fn archive_seq(&self, brand: BrandId) -> RepoResult<i64>;
    /// Moves the archive's sequence number forward (never back).
    async fn set_archive_seq(&self, brand: BrandId, seq: i64, at: Millis) -> RepoResult<()>;
}

/// Decides a campaign's sends from its candidates, the candidates' time-zone names (indexed by
/// [`Candidate::zone`]) and the sends already asked of each associate per day.
pub type Planner = dyn Fn(&[Candidate], &[String], &std::collections::HashMap<(i64, i32), u32>) -> Vec<Decision>
    + Send
    + Sync;

/// Who a campaign may reach, as the brand's segment index saw them at `version` (see
/// [`BroadcastStore::facts_version`]). The store checks the version inside the planning
/// transaction, so that a consent withdrawn meanwhile is never missed.
#[derive(Debug, Clone, Default)]
pub struct Audience {
    /// `has_sender` and `broadcast_days` are the store's to fill.
    pub candidates: Vec<Candidate>,
    pub zones: Vec<String>,
    pub version: (i64, i64, i64),
    /// Clients per batch when the text is the same for everyone (a text that differs per
    /// client goes one client per batch).
    pub per_batch: usize,
}

/// What planning stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PlanCounts {
    pub planned: u64,
    pub suppressed: u64,
    /// Clients the campaign already had a send for, left as they were.
    pub already: u64,
}

/// Segments, campaigns, their sends and the batches the channel is called with.
#[async_trait]
pub trait BroadcastStore: Send + Sync + 'static {
    /// The brand's contact policy (the defaults until one is saved).
    async fn contact_policy(&self, brand: BrandId) -> RepoResult<ContactPolicy>;
    async fn put_contact_policy(
        &self,
        brand: BrandId,
        policy: &ContactPolicy,
        at: Millis,
    ) -> RepoResult<()>;

    /// Creates (`id` None) or renames and rewrites a segment; names are unique per brand.
    async fn save_segment(
        &self,
        brand: BrandId,
        id: Option<i64>,
        name: &str,
        expression: &str,
        by: Option<UserId>,
        at: Millis,
    ) -> RepoResult<Segment>;
    async fn segments(&self, brand: BrandId) -> RepoResult<Vec<Segment>>;
    async fn segment(&self, brand: BrandId, id: i64) -> RepoResult<Option<Segment>>;
    async fn delete_segment(&self, brand: BrandId, id: i64) -> RepoResult<bool>;
    /// Every client of the brand with the facts segments ask about.
    async fn segment_facts(&self, brand: BrandId) -> RepoResult<Vec<segments::Facts>>;
    /// Changes to the brand's clients since: (client count, latest update, latest message id).
    async fn facts_version(&self, brand: BrandId) -> RepoResult<(i64, i64, i64)>;

    async fn create_campaign(&self, brand: BrandId, c: &NewCampaign) -> RepoResult<Campaign>;
    async fn campaign(&self, brand: BrandId, id: i64) -> RepoResult<Option<Campaign>>;
    async fn campaigns(&self, brand: BrandId) -> RepoResult<Vec<Campaign>>;
    async fn set_campaign_status(
        &self,
        brand: BrandId,
        id: i64,
        status: CampaignStatus,
    ) -> RepoResult<()>;
    /// In one transaction, serialised per brand: checks the audience is current
    /// ([`RepoError::Stale`] if not), adds each candidate's broadcast days and whether their
    /// associate can send, lets `planner` decide, stores the planned clients as batches (per
    /// associate, day and time) and the suppressed ones by reason (clients the campaign already
    /// has are left alone), and marks the campaign planned. A decision that would give a client
    /// two broadcasts on one day is refused ([`RepoError::Conflict`]) and nothing is stored.
    async fn plan_campaign(
        &self,
        brand: BrandId,
        campaign: i64,
        audience: &Audience,
        planner: &Planner,
        at: Millis,
    ) -> RepoResult<PlanCounts>;

    /// Leases the next batch to hand to the channel: one due for a retry, one whose holder died
    /// before calling the channel, or the next planned batch that is due (its clients' sends
    /// are recorded then).
    async fn claim_batch(&self, now: Millis, lease_until: Millis) -> RepoResult<Option<SendBatch>>;
    /// Leases batches whose holder called the channel and then went silent: whether the
    /// channel took them must be asked before anything is sent again.
    async fn stale_batches(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> RepoResult<Vec<SendBatch>>;
    /// Records that the batch is about to be handed to the channel, with its text.
    async fn batch_attempt(
        &self,
        batch: i64,
        body: &str,
        at: Millis,
        lease_until: Millis,
    ) -> RepoResult<()>;
    /// The channel took the batch: its sends are sent, but for `refused`.
    async fn batch_sent(
        &self,
        batch: i64,
        msgid: &str,
        refused: &[ClientId],
        at: Millis,
    ) -> RepoResult<()>;
    async fn batch_retry(&self, batch: i64, error: &str, next_at: Millis) -> RepoResult<()>;
    async fn batch_failed(&self, batch: i64, error: &str) -> RepoResult<()>;
    /// Marks the clients the channel reports as received.
    async fn mark_delivered(&self, batch: i64, clients: &[ClientId], at: Millis)
    -> RepoResult<u64>;
    async fn batch(&self, id: i64) -> RepoResult<Option<SendBatch>>;
    /// Sent batches due to be asked about delivery: (brand, batch, msgid, sender).
    async fn batches_to_confirm(
        &self,
        before: Millis,
        limit: u32,
    ) -> RepoResult<Vec<(BrandId, i64, String, String)>>;
    /// Asked about: ask again at `again_at`, or never (every client's fate is known).
    async fn batch_checked(&self, batch: i64, again_at: Option<Millis>) -> RepoResult<()>;

    async fn create_moment(
        &self,
        brand: BrandId,
        text: &str,
        senders: &[UserId],
        asset_ids: &[i64],
        by: Option<UserId>,
        at: Millis,
    ) -> RepoResult<Moment>;
    async fn moments(&self, brand: BrandId, limit: u32) -> RepoResult<Vec<Moment>>;
    /// Posts the dispatcher has work on: queued, submitting (to settle) or submitted (to ask
    /// about), oldest first.
    async fn moments_due(&self, limit: u32) -> RepoResult<Vec<Moment>>;
    /// Posts WeCom took, created after `created_after`, not asked about since
    /// `checked_before`: whose results are to be read again, least recently asked first.
    async fn moments_to_follow(
        &self,
        created_after: Millis,
        checked_before: Millis,
        limit: u32,
    ) -> RepoResult<Vec<Moment>>;
    /// Stores what came of a post, as WeCom reported it at `at`.
    async fn moment_reach(&self, id: i64, reach: &[MomentReach], at: Millis) -> RepoResult<()>;
    /// Moves a post from `from` to `status` with what is known; false if it was not in `from`
    /// (another dispatcher has it).
    #[allow(clippy::too_many_arguments)]
    async fn moment_update(
        &self,
        id: i64,
        from: MomentStatus,
        status: MomentStatus,
        jobid: Option<&str>,
        moment_id: Option<&str>,
        error: Option<&str>,
        at: Millis,
    ) -> RepoResult<bool>;

    async fn create_asset(
        &self,
        brand: BrandId,
        text: &AssetText,
        file: &AssetFile,
        by: Option<UserId>,
        at: Millis,
    ) -> RepoResult<Asset>;
    async fn update_asset(
        &self,
        brand: BrandId,
        id: i64,
        text: &AssetText,
        at: Millis,
    ) -> RepoResult<Asset>;
    /// Moves an asset along its workflow; refused when the move is not allowed.
    async fn set_asset_status(
        &self,
        brand: BrandId,
        id: i64,
        status: AssetStatus,
        at: Millis,
    ) -> RepoResult<Asset>;
    async fn asset(&self, brand: BrandId, id: i64) -> RepoResult<Option<Asset>>;
    /// The brand's assets, newest first, with their use counts.
    async fn assets(&self, brand: BrandId) -> RepoResult<Vec<Asset>>;
    async fn record_asset_uses(&self, brand: BrandId, uses: &[AssetUse]) -> RepoResult<()>;

    /// Which of `clients` the campaign already has a send for (planned, sent or suppressed).
    async fn clients_with_sends(
        &self,
        brand: BrandId,
        campaign: i64,
        clients: &[ClientId],
    ) -> RepoResult<Vec<ClientId>>;
    async fn campaign_report(&self, brand: BrandId, id: i64) -> RepoResult<CampaignReport>;
    /// The campaign's clients in client-id order, after client `after`, with where each is.
    async fn campaign_sends(
        &self,
        brand: BrandId,
        id: i64,
        status: Option<SendStatus>,
        after: i64,
        limit: u32,
    ) -> RepoResult<Vec<SendRow>>;
}

/// A month's target for an associate: (month `YYYY-MM`, associate e-mail, amount in minor units).
pub type Target = (String, String, i64);

/// Sales (spec/attribution.md): orders, returns, touches, exchange rates, the brand's policy,
/// monthly targets and disputes. Clients are named by CRM id and associates by e-mail, as the
/// spec's files name them. Every write that can change a figure moves the brand's generation
/// ([`SalesStore::sales_generation`]) in the same transaction.
#[async_trait]
pub trait SalesStore: Send + Sync + 'static {
    /// Stores the orders not held yet (by order id), in one transaction; returns the ids of
    /// those that were new. An order id held already is left as it is, whatever the new one says.
    async fn put_orders(&self, brand: BrandId, orders: &[sales::Order]) -> RepoResult<Vec<String>>;
    /// The brand's clients among these CRM ids: (CRM id, client).
    async fn clients_by_crm(
        &self,
        brand: BrandId,
        refs: &[String],
    ) -> RepoResult<Vec<(String, ClientId)>>;
    /// Stores the returns not held yet (by return id), in one transaction.
    async fn put_returns(&self, brand: BrandId, returns: &[sales::Return]) -> RepoResult<u64>;
    /// Stores touches, each once, in one transaction; `origin` says what recorded them.
    async fn put_touches(
        &self,
        brand: BrandId,
        touches: &[sales::Touch],
        origin: &str,
    ) -> RepoResult<u64>;
    /// Stores exchange rates (a rate for a currency and day replaces the one held).
    async fn put_fx_rates(&self, brand: BrandId, rates: &[sales::FxRate]) -> RepoResult<u64>;
    async fn fx_rates(&self, brand: BrandId) -> RepoResult<Vec<sales::FxRate>>;
    async fn orders_by_id(&self, brand: BrandId, ids: &[String]) -> RepoResult<Vec<sales::Order>>;
    /// Orders placed in `[from, to)`.
    async fn orders_placed(
        &self,
        brand: BrandId,
        from: Millis,
        to: Millis,
    ) -> RepoResult<Vec<sales::Order>>;
    /// A client's orders, newest first.
    async fn orders_of_client(
        &self,
        brand: BrandId,
        client: &str,
        limit: u32,
    ) -> RepoResult<Vec<sales::Order>>;
    /// Returns made in `[from, to)`.
    async fn returns_made(
        &self,
        brand: BrandId,
        from: Millis,
        to: Millis,
    ) -> RepoResult<Vec<sales::Return>>;
    async fn returns_of_orders(
        &self,
        brand: BrandId,
        order_ids: &[String],
    ) -> RepoResult<Vec<sales::Return>>;
    /// The touches of these clients in `(after, until]`.
    async fn touches_of_clients(
        &self,
        brand: BrandId,
        clients: &[String],
        after: Millis,
        until: Millis,
    ) -> RepoResult<Vec<sales::Touch>>;
    /// The touches in `(after, until]` of the clients who placed an order in `[from, to)`: a
    /// month's touches in one read that does not wait for its orders.
    async fn touches_of_buyers(
        &self,
        brand: BrandId,
        placed: (Millis, Millis),
        after: Millis,
        until: Millis,
    ) -> RepoResult<Vec<sales::Touch>>;
    /// How many touches the brand holds.
    async fn count_touches(&self, brand: BrandId) -> RepoResult<i64>;
    /// The book history of clients named by CRM id: (CRM id, who from when), oldest first.
    async fn book_history(
        &self,
        brand: BrandId,
        clients: &[String],
    ) -> RepoResult<Vec<(String, sales::Assignment)>>;
    /// The policy file (without targets) as stored, if the brand set one.
    async fn sales_policy(&self, brand: BrandId) -> RepoResult<Option<String>>;
    /// Replaces the policy and sets the targets it names, in one transaction.
    async fn put_sales_policy(
        &self,
        brand: BrandId,
        policy: &str,
        targets: &[Target],
        by: Option<UserId>,
    ) -> RepoResult<()>;
    /// Sets targets (an associate's target for a month replaces the one held).
    async fn put_targets(&self, brand: BrandId, targets: &[Target]) -> RepoResult<()>;
    /// The targets of a month: (associate, amount).
    async fn targets(&self, brand: BrandId, month: &str) -> RepoResult<Vec<(String, i64)>>;
    async fn create_dispute(
        &self,
        brand: BrandId,
        order_id: &str,
        raised_by: UserId,
        reason: &str,
        at: Millis,
    ) -> RepoResult<Dispute>;
    async fn dispute(&self, brand: BrandId, id: i64) -> RepoResult<Option<Dispute>>;
    /// Disputes, newest first; `status` narrows them.
    async fn disputes(
        &self,
        brand: BrandId,
        status: Option<DisputeStatus>,
    ) -> RepoResult<Vec<Dispute>>;
    /// Decides an open dispute: `shares` set the order's credit (Decided) or `None` keeps the
    /// computed one (Rejected). A dispute decided already is `Stale`.
    async fn decide_dispute(
        &self,
        brand: BrandId,
        id: i64,
        shares: Option<&[(String, sales::Dec)]>,
        by: Option<UserId>,
        note: &str,
        at: Millis,
    ) -> RepoResult<Dispute>;
    /// Every decided order's shares (the latest decision of each order).
    async fn decisions(&self, brand: BrandId) -> RepoResult<Vec<sales::Decision>>;
    /// Moves with every write that can change a figure: cached reports compare it.
    async fn sales_generation(&self, brand: BrandId) -> RepoResult<i64>;
    /// The brand's tier thresholds, lowest tier first.
    async fn tier_thresholds(&self, brand: BrandId) -> RepoResult<Vec<(String, i64)>>;
    /// Replaces the brand's tier thresholds.
    async fn put_tier_thresholds(&self, brand: BrandId, tiers: &[(String, i64)]) -> RepoResult<()>;
    /// Returns of known clients: their lifetime spend goes down, each return on the timeline
    /// once.
    async fn add_refunds(
        &self,
        brand: BrandId,
        refunds: &[(ClientId, crate::NewRefund)],
    ) -> RepoResult<()>;
    async fn create_share_link(&self, brand: BrandId, link: &NewShareLink)
    -> RepoResult<ShareLink>;
    /// A link by its code, whichever brand's it is (codes are unique in the installation).
    async fn share_link_by_code(&self, code: &str) -> RepoResult<Option<ShareLink>>;
    async fn record_share_open(
        &self,
        link: i64,
        client: Option<ClientId>,
        at: Millis,
    ) -> RepoResult<()>;
    /// The brand's links, newest first; `associate` narrows them to one associate's.
    async fn share_links(
        &self,
        brand: BrandId,
        associate: Option<UserId>,
        limit: u32,
    ) -> RepoResult<Vec<ShareLink>>;
    /// Sets the secret the brand's e-commerce platform signs order webhooks with (sealed).
    async fn put_webhook_secret(&self, brand: BrandId, secret: &str) -> RepoResult<()>;
    async fn webhook_secret(&self, brand: BrandId) -> RepoResult<Option<String>>;
    /// Moves whenever a client's book changes (any brand's): book credit depends on it.
    async fn assignment_mark(&self, brand: BrandId) -> RepoResult<i64>;
}

/// What [`CatalogueStore::products`] lists.
#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    /// Only these SKUs (a search's hits), in any order.
    pub skus: Option<Vec<String>>,
    pub category: Option<String>,
    pub active: Option<bool>,
    /// Only SKUs after this one (the previous page's last).
    pub after: Option<String>,
    /// At most this many (1..=1000), ordered by SKU.
    pub limit: u32,
}

/// The brand's catalogue: products by SKU and stock per store. Writes are upserts: the same
/// product or stock line again changes nothing (not even `updated_at`).
#[async_trait]
pub trait CatalogueStore: Send + Sync + 'static {
    /// Stores the products (new by SKU, or replacing the one held when anything differs), in
    /// one transaction; returns how many were new and how many changed.
    async fn put_products(&self, brand: BrandId, products: &[Product]) -> RepoResult<(u64, u64)>;
    async fn product(&self, brand: BrandId, sku: &str) -> RepoResult<Option<Product>>;
    async fn products(&self, brand: BrandId, filter: &ProductFilter) -> RepoResult<Vec<Product>>;
    /// Which of these SKUs the brand holds.
    async fn known_skus(&self, brand: BrandId, skus: &[String]) -> RepoResult<Vec<String>>;
    /// The brand's categories, sorted.
    async fn product_categories(&self, brand: BrandId) -> RepoResult<Vec<String>>;
    /// Sets stock levels (a SKU's level in a store replaces the one held), in one transaction;
    /// returns how many changed. Every SKU must be the brand's and every store code a store of
    /// the brand's (`Invalid` otherwise, and nothing is stored).
    async fn put_stock(&self, brand: BrandId, levels: &[StockLevel]) -> RepoResult<u64>;
    /// Stock levels of these SKUs (all when `None`), optionally in one store, by SKU then store.
    async fn stock(
        &self,
        brand: BrandId,
        skus: Option<&[String]>,
        store: Option<&str>,
    ) -> RepoResult<Vec<StockLevel>>;
    /// Moves with every catalogue write: a search index compares it to know it is current.
    async fn catalogue_generation(&self, brand: BrandId) -> RepoResult<i64>;
}

/// A window of hits on one key (see [`EdgeStore`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateCount {
    pub hits: u32,
    /// When the window began (its first hit); 0 when there is none.
    pub window_start: Millis,
}

/// What the web edge shares between Salon processes: fixed-window rate counters (sign-in
/// failures, public form posts). Keys are kept only as keyed hashes.
#[async_trait]
pub trait EdgeStore: Send + Sync + 'static {
    /// Counts one hit on `key` and returns its window: a window that began `window` ago or
    /// earlier starts again with this hit.
    async fn rate_hit(&self, key: &str, now: Millis, window: Millis) -> RepoResult<RateCount>;
    /// The current window of `key` without counting a hit (zero when it has expired).
    async fn rate_peek(&self, key: &str, now: Millis, window: Millis) -> RepoResult<RateCount>;
    /// Gives one hit back (an attempt that turned out not to count).
    async fn rate_refund(&self, key: &str) -> RepoResult<()>;
    /// Forgets `key` (a successful sign-in clears its account's failures).
    async fn rate_clear(&self, key: &str) -> RepoResult<()>;
    /// Forgets every window that began before `before`; returns how many.
    async fn rate_purge(&self, before: Millis) -> RepoResult<u64>;
    /// A keyed hash of `value` under the installation's key, for `purpose`: tokens that any
    /// Salon process can issue and check (such as the public join form's).
    fn edge_mac(&self, purpose: &str, value: &str) -> Vec<u8>;
    /// Takes (or renews) the lease `name` for `holder` until `until`: granted when nobody
    /// holds it, when its holder's lease ran out before `now`, or when `holder` holds it.
    async fn lease_take(
        &self,
        name: &str,
        holder: &str,
        now: Millis,
        until: Millis,
    ) -> RepoResult<bool>;
    /// Gives the lease back, if `holder` still holds it.
    async fn lease_release(&self, name: &str, holder: &str) -> RepoResult<()>;
    /// Moves the version of what processes cache of `brand` under `topic` (see
    /// [`EdgeStore::cache_versions`]).
    async fn cache_bump(&self, brand: BrandId, topic: &str) -> RepoResult<()>;
    /// Every (brand, topic, version) moved so far: a process drops what it caches of a pair
    /// whose version changed since it last looked.
    async fn cache_versions(&self) -> RepoResult<Vec<(BrandId, String, i64)>>;
}
