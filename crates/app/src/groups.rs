//! Customer group chats: the roster WeCom keeps (read with `externalcontact/groupchat/list`
//! and `groupchat/get`, kept current by `change_external_chat` callbacks), and the words said
//! in them, which WeCom releases only through the chat archive. The brand's archive reader
//! decrypts the archive with the brand's key and posts it to Salon (see
//! `channels::wecom::archive`); each message is stored once, checked against the brand's
//! rules and indexed for search like a one-to-one message.

use std::collections::HashMap;

use channels::wecom::archive::ArchiveBatch;
use domain::{
    Action, BrandId, ChannelKind, ClientId, Direction, FlagQuery, GroupChat, GroupMember,
    GroupMessage, GroupPost, GroupPostStatus, GroupSummary, IdentityKind, MemberKind, NewFlag,
    NewGroupChat, NewGroupMessage, NewGroupPost, NewMessage, Role, Scope, Sender, UserId,
    now_millis,
};
use serde::Serialize;

use crate::channels::WECOM_STAFF;
use crate::{Actor, AppError, AppResult, Salon};

/// Groups read per `groupchat/list` page.
const GROUP_PAGE: u32 = 100;

/// What a batch of the chat archive came to.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ArchiveReceipt {
    /// Group messages stored now.
    pub group_messages: usize,
    /// One-to-one messages stored now.
    pub direct_messages: usize,
    /// Messages stored before (a batch sent again).
    pub already: usize,
    /// One-to-one messages with someone who is not the brand's client, and device switches.
    pub skipped: usize,
    /// Rule hits put in the review queue.
    pub flagged: usize,
    /// The highest sequence number Salon holds: the reader goes on after it.
    pub seq: i64,
}

/// A group as its page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct GroupThread {
    pub group: GroupChat,
    pub messages: Vec<GroupMessage>,
    /// Posts made through Salon that the archive does not show yet (or that failed).
    pub pending: Vec<GroupPost>,
    pub flags: Vec<domain::Flag>,
    pub associates: HashMap<i64, String>,
    /// Whether the reader may post to it (its owner).
    pub can_post: bool,
}

/// Who the provider ids of a batch are, looked up once each.
#[derive(Default)]
struct People {
    staff: HashMap<String, Option<UserId>>,
    clients: HashMap<String, Option<ClientId>>,
}

impl Salon {
    async fn staff_of(
        &self,
        brand: BrandId,
        people: &mut People,
        userid: &str,
    ) -> AppResult<Option<UserId>> {
        if let Some(u) = people.staff.get(userid) {
            return Ok(*u);
        }
        let u = self
            .repo
            .staff_by_provider_id(brand, WECOM_STAFF, userid)
            .await?;
        people.staff.insert(userid.to_owned(), u);
        Ok(u)
    }

    async fn client_of(
        &self,
        brand: BrandId,
        people: &mut People,
        external: &str,
    ) -> AppResult<Option<ClientId>> {
        if let Some(c) = people.clients.get(external) {
            return Ok(*c);
        }
        let c = match domain::Identity::parse(IdentityKind::Wecom, external) {
            Ok(id) => self.repo.client_by_identity(brand, &id).await?,
            Err(_) => None,
        };
        people.clients.insert(external.to_owned(), c);
        Ok(c)
    }

    /// Reads one group from WeCom (`groupchat/get`) and stores it with its members.
    pub async fn refresh_group(&self, brand: BrandId, chat_id: &str) -> AppResult<i64> {
        let api = self.wecom_api(brand).await?;
        let g = api
            .groupchat_get(chat_id)
            .await
            .map_err(|e| AppError::Unavailable(format!("WeCom: {e}")))?;
        let mut people = People::default();
        let mut members = Vec::with_capacity(g.member_list.len());
        for m in &g.member_list {
            let staff = m.kind == 1;
            let name = if m.group_nickname.is_empty() {
                m.name.clone()
            } else {
                m.group_nickname.clone()
            };
            members.push(GroupMember {
                member_ref: m.userid.clone(),
                kind: if staff {
                    MemberKind::Staff
                } else {
                    MemberKind::Client
                },
                user_id: if staff {
                    self.staff_of(brand, &mut people, &m.userid).await?
                } else {
                    None
                },
                client_id: if staff {
                    None
                } else {
                    self.client_of(brand, &mut people, &m.userid).await?
                },
                name,
                joined_at: m.join_time.saturating_mul(1000),
            });
        }
        let owner_id = self.staff_of(brand, &mut people, &g.owner).await?;
        Ok(self
            .repo
            .put_group(
                brand,
                &NewGroupChat {
                    chat_id: g.chat_id,
                    name: g.name,
                    owner_ref: g.owner,
                    owner_id,
                    notice: g.notice,
                    created_at: g.create_time.saturating_mul(1000),
                    members,
                    at: now_millis(),
                },
            )
            .await?)
    }

    /// Reads every customer group of the actor's brand from WeCom (admin and HQ).
    pub async fn sync_groups(&self, actor: &Actor) -> AppResult<usize> {
        actor.require(Action::ManageChannels)?;
        self.sync_groups_of(actor.brand.id).await
    }

    /// Reads every customer group of the brand from WeCom and stores them. Returns how many.
    pub async fn sync_groups_of(&self, brand: BrandId) -> AppResult<usize> {
        let api = self.wecom_api(brand).await?;
        let mut cursor = String::new();
        let mut n = 0;
        loop {
            let page = api
                .groupchat_list(&cursor, GROUP_PAGE)
                .await
                .map_err(|e| AppError::Unavailable(format!("WeCom: {e}")))?;
            for g in &page.group_chat_list {
                self.refresh_group(brand, &g.chat_id).await?;
                n += 1;
            }
            if page.next_cursor.is_empty() || page.group_chat_list.is_empty() {
                return Ok(n);
            }
            cursor = page.next_cursor;
        }
    }

    /// A `change_external_chat` callback: a group created or changed is read again; a group
    /// dismissed is marked so (its words stay archived).
    pub(crate) async fn group_changed(
        &self,
        brand: BrandId,
        chat_id: &str,
        change: &str,
        at: domain::Millis,
    ) -> AppResult<String> {
        if change == "dismiss" {
            let known = self.repo.dismiss_group(brand, chat_id, at).await?;
            return Ok(if known {
                "group chat dismissed".into()
            } else {
                "an unknown group chat dismissed: ignored".into()
            });
        }
        let id = self.refresh_group(brand, chat_id).await?;
        Ok(format!("group chat {id} {change}: roster read"))
    }

    /// Where the brand's chat archive stands (the reader asks before its first batch).
    pub async fn archive_seq(&self, brand: BrandId) -> AppResult<i64> {
        Ok(self.repo.archive_seq(brand).await?)
    }

    /// The group a room id names: stored, read from WeCom, or (a group WeCom will not
    /// describe, such as an internal one) kept under its id so that no word is lost.
    async fn group_for_room(
        &self,
        brand: BrandId,
        room: &str,
        cache: &mut HashMap<String, (i64, Option<domain::StoreId>)>,
    ) -> AppResult<(i64, Option<domain::StoreId>)> {
        if let Some(g) = cache.get(room) {
            return Ok(*g);
        }
        let found = match self.repo.group_by_chat_id(brand, room).await? {
            Some(g) => (g.id, g.store_id),
            None => {
                let id = match self.refresh_group(brand, room).await {
                    Ok(id) => id,
                    Err(e) => {
                        tracing::info!(error = %e, "an archived group WeCom does not describe: kept by its id");
                        self.repo
                            .put_group(
                                brand,
                                &NewGroupChat {
                                    chat_id: room.to_owned(),
                                    name: String::new(),
                                    owner_ref: String::new(),
                                    owner_id: None,
                                    notice: String::new(),
                                    created_at: now_millis(),
                                    members: Vec::new(),
                                    at: now_millis(),
                                },
                            )
                            .await?
                    }
                };
                let g = self.repo.group(brand, id).await?;
                (id, g.and_then(|g| g.store_id))
            }
        };
        cache.insert(room.to_owned(), found);
        Ok(found)
    }

    /// Stores a batch of the chat archive: group messages in their group, one-to-one
    /// messages in the client's thread; each checked against the rules (what is archived was
    /// already said, so every hit is flagged for review). Messages already held are checked
    /// again and not stored twice, so a batch sent again after a failure is harmless; the
    /// sequence number moves on only once everything in the batch is stored and checked.
    pub async fn ingest_archive(
        &self,
        brand: BrandId,
        batch: &ArchiveBatch,
    ) -> AppResult<ArchiveReceipt> {
        let mut receipt = ArchiveReceipt::default();
        let mut people = People::default();
        let mut rooms = HashMap::new();
        let mut group_msgs = Vec::new();
        let mut group_store = Vec::new();
        for e in &batch.chatdata {
            let m = &e.message;
            let Some(said) = m.said() else {
                receipt.skipped += 1;
                continue;
            };
            let staff = self.staff_of(brand, &mut people, &m.from).await?;
            if m.in_group() {
                let (group_id, store) = self.group_for_room(brand, &m.roomid, &mut rooms).await?;
                let sender = match staff {
                    Some(u) => Sender::Associate(u),
                    None => match self.client_of(brand, &mut people, &m.from).await? {
                        Some(c) => Sender::Client(c),
                        None => Sender::Unknown,
                    },
                };
                group_msgs.push(NewGroupMessage {
                    group_id,
                    provider_id: m.msgid.clone(),
                    sender_ref: m.from.clone(),
                    sender,
                    msg_type: said.msg_type,
                    body: said.body,
                    at: m.msgtime,
                });
                group_store.push(store);
                continue;
            }
            // One to one: an associate and a client, either way round.
            let (client, direction, associate) = match staff {
                Some(u) => {
                    let to = m.tolist.first().map(String::as_str).unwrap_or_default();
                    (
                        self.client_of(brand, &mut people, to).await?,
                        Direction::Out,
                        Some(u),
                    )
                }
                None => {
                    let c = self.client_of(brand, &mut people, &m.from).await?;
                    let mut to = None;
                    for t in &m.tolist {
                        if let Some(u) = self.staff_of(brand, &mut people, t).await? {
                            to = Some(u);
                            break;
                        }
                    }
                    (c, Direction::In, to)
                }
            };
            let Some(client) = client else {
                receipt.skipped += 1;
                continue;
            };
            let stored = self
                .repo
                .add_message(
                    brand,
                    &NewMessage {
                        client_id: client,
                        channel: ChannelKind::Wecom,
                        direction,
                        associate_id: associate,
                        provider_id: Some(m.msgid.clone()),
                        msg_type: said.msg_type,
                        body: said.body.clone(),
                        at: m.msgtime,
                    },
                )
                .await?;
            let id = match stored {
                Some(id) => {
                    receipt.direct_messages += 1;
                    id
                }
                None => {
                    receipt.already += 1;
                    self.repo
                        .message_by_provider_id(brand, ChannelKind::Wecom, &m.msgid)
                        .await?
                        .ok_or(AppError::Internal("an archived message vanished".into()))?
                }
            };
            let verdict = self
                .flag_message(brand, id, client, associate, direction, &said.body)
                .await?;
            receipt.flagged += verdict.hits.len();
        }
        if !group_msgs.is_empty() {
            let ids = self
                .repo
                .add_group_messages(brand, &group_msgs, now_millis())
                .await?;
            let rules = self.rule_set(brand).await?;
            let mut flags = Vec::new();
            let at = now_millis();
            for ((m, store), (id, fresh)) in group_msgs.iter().zip(&group_store).zip(ids) {
                if fresh {
                    receipt.group_messages += 1;
                } else {
                    receipt.already += 1;
                }
                for hit in rules.check(&m.body).hits {
                    flags.push(NewFlag {
                        message_id: None,
                        group_message_id: Some(id),
                        group_id: Some(m.group_id),
                        client_id: m.sender.client(),
                        associate_id: m.sender.associate(),
                        store_id: *store,
                        direction: if m.sender.client().is_some() {
                            Direction::In
                        } else {
                            Direction::Out
                        },
                        hit,
                        at,
                    });
                }
            }
            receipt.flagged += flags.len();
            if !flags.is_empty() {
                self.repo.add_flags(brand, &flags).await?;
            }
        }
        if let Some(seq) = batch.last_seq() {
            self.repo.set_archive_seq(brand, seq, now_millis()).await?;
        }
        receipt.seq = self.repo.archive_seq(brand).await?;
        Ok(receipt)
    }

    /// The groups the actor may see: an associate's own (owned or joined), a store's, the
    /// brand's for HQ and compliance. `client` narrows to the groups a client is in.
    pub async fn groups(
        &self,
        actor: &Actor,
        client: Option<ClientId>,
    ) -> AppResult<Vec<GroupSummary>> {
        actor.require(Action::ReadGroupChats)?;
        if let Some(c) = client {
            // The client must be one the actor may see.
            self.client(actor, c).await?;
        }
        Ok(self
            .repo
            .groups(actor.brand.id, actor.scope(), client, 500)
            .await?)
    }

    /// A group with its members and its latest messages (up to 2,000): for associates in it,
    /// the owner's store manager and compliance (whose reading is audited). HQ sees figures
    /// only, in the list.
    pub async fn group_thread(&self, actor: &Actor, id: i64) -> AppResult<GroupThread> {
        actor.require(Action::ReadConversations)?;
        let b = actor.brand.id;
        let group = self
            .repo
            .group(b, id)
            .await?
            .ok_or(AppError::NotFound("group chat"))?;
        let visible = match actor.scope() {
            Scope::Brand => true,
            Scope::Store(s) => group.store_id == Some(s),
            Scope::Associate(u) => group.has_associate(u),
            Scope::Nothing => false,
        };
        if !visible {
            // Not the actor's group: as if it did not exist.
            return Err(AppError::NotFound("group chat"));
        }
        let messages = self.repo.group_messages(b, id, None, 2000).await?;
        if actor.role == Role::Compliance {
            self.audit(
                actor,
                "compliance_read",
                &format!("group:{id}"),
                serde_json::json!({"messages": messages.len()}),
            )
            .await?;
        }
        let flags = self
            .repo
            .flags(
                b,
                &FlagQuery {
                    group: Some(id),
                    limit: 200,
                    ..FlagQuery::default()
                },
            )
            .await?;
        let pending = self
            .repo
            .group_posts(b, id, 50)
            .await?
            .into_iter()
            .filter(|p| {
                p.status != GroupPostStatus::Sent
                    || !messages
                        .iter()
                        .any(|m| m.body == p.body && m.sender == Sender::Associate(p.associate_id))
            })
            .collect();
        let can_post = actor.can(Action::SendMessages)
            && group.owner_id.is_some()
            && group.owner_id == actor.user_id()
            && group.dismissed_at.is_none();
        Ok(GroupThread {
            group,
            messages,
            pending,
            flags,
            associates: self.staff_names(b).await?,
            can_post,
        })
    }

    /// A group's words as JSON Lines or CSV, for compliance; the export is in the audit log.
    pub async fn export_group(
        &self,
        actor: &Actor,
        id: i64,
        format: &str,
    ) -> AppResult<(String, &'static str)> {
        actor.require(Action::ExportConversations)?;
        let b = actor.brand.id;
        self.repo
            .group(b, id)
            .await?
            .ok_or(AppError::NotFound("group chat"))?;
        let messages = self.repo.group_messages(b, id, None, 100_000).await?;
        let body = crate::conversations::render_export(&messages, format)?;
        self.audit(
            actor,
            "export",
            &format!("group:{id}"),
            serde_json::json!({"format": if format.is_empty() { "jsonl" } else { format }, "messages": messages.len()}),
        )
        .await?;
        Ok(body)
    }

    /// An associate posts to a group they own: checked against the rules (a blocking rule
    /// refuses it, naming the rule, and nothing is queued), then queued for the dispatcher,
    /// which hands it to WeCom as a group message to the owner's groups (`add_msg_template`,
    /// `chat_type` group); WeCom asks the owner to confirm, and the words come back through
    /// the archive. `idem_key` makes a repeated submission one post.
    pub async fn post_to_group(
        &self,
        actor: &Actor,
        group: i64,
        text: &str,
        idem_key: Option<&str>,
    ) -> AppResult<GroupPost> {
        actor.require(Action::SendMessages)?;
        let me = actor.user_id().ok_or(AppError::Unauthenticated)?;
        let b = actor.brand.id;
        let thread_group = self
            .repo
            .group(b, group)
            .await?
            .filter(|g| match actor.scope() {
                Scope::Store(s) => g.store_id == Some(s),
                Scope::Associate(u) => g.has_associate(u),
                _ => false,
            })
            .ok_or(AppError::NotFound("group chat"))?;
        if thread_group.owner_id != Some(me) {
            return Err(AppError::Forbidden(
                "only the group's owner can post to it: WeCom sends a group's messages from its owner"
                    .into(),
            ));
        }
        if thread_group.dismissed_at.is_some() {
            return Err(AppError::Conflict("the group was dismissed".into()));
        }
        let text = crate::conversations::check_body(text)?;
        let key = crate::conversations::sender_key(
            actor,
            crate::conversations::idempotency_key(idem_key)?,
        );
        let verdict = self.check_text(b, &text).await?;
        self.refuse_recorded(actor, &verdict, None, Some(group), thread_group.store_id)
            .await?;
        let post = self
            .repo
            .enqueue_group_post(
                b,
                &NewGroupPost {
                    group_id: group,
                    associate_id: me,
                    body: text,
                    idem_key: key,
                    at: now_millis(),
                },
            )
            .await?;
        self.broadcasts.wake.notify_one();
        Ok(post)
    }

    /// Hands queued group posts to WeCom. A post is marked `sending` before the call; one whose
    /// answer is lost, or whose dispatcher died, becomes `unknown` and is never sent again.
    pub async fn process_group_posts(&self) -> AppResult<usize> {
        let now = now_millis();
        let stale = now - crate::broadcasts::lease(self).as_millis() as i64;
        let mut n = 0;
        // Each brand's WeCom userids, read once per round.
        let mut linked: HashMap<BrandId, HashMap<UserId, String>> = HashMap::new();
        for p in self.repo.group_posts_due(stale, 16).await? {
            if p.status == GroupPostStatus::Sending {
                self.repo
                    .group_post_update(
                        p.id,
                        GroupPostStatus::Sending,
                        GroupPostStatus::Unknown,
                        None,
                        Some(crate::broadcasts::INTERRUPTED),
                        now,
                    )
                    .await?;
                continue;
            }
            let Ok(api) = self.wecom_api(p.brand).await else {
                continue;
            };
            let ids = match linked.entry(p.brand) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(
                    self.repo
                        .staff_provider_ids(p.brand, WECOM_STAFF)
                        .await?
                        .into_iter()
                        .collect(),
                ),
            };
            let sender = ids.get(&p.associate_id).cloned();
            let (Some(group), Some(sender)) = (self.repo.group(p.brand, p.group_id).await?, sender)
            else {
                self.repo
                    .group_post_update(
                        p.id,
                        GroupPostStatus::Queued,
                        GroupPostStatus::Failed,
                        None,
                        Some("the associate has no WeCom account"),
                        now,
                    )
                    .await?;
                continue;
            };
            if !self
                .repo
                .group_post_update(
                    p.id,
                    GroupPostStatus::Queued,
                    GroupPostStatus::Sending,
                    None,
                    None,
                    now,
                )
                .await?
            {
                continue;
            }
            n += 1;
            let sent = api
                .add_msg_template_to_groups(&sender, std::slice::from_ref(&group.chat_id), &p.body)
                .await;
            let (status, msgid, error) = match sent {
                Ok(t) => (GroupPostStatus::Sent, Some(t.msgid), None),
                Err(channels::wecom::api::ApiError::Api {
                    errcode, errmsg, ..
                }) if matches!(
                    errcode,
                    channels::wecom::api::errcode::SYSTEM_BUSY
                        | channels::wecom::api::errcode::API_FREQ_OUT_OF_LIMIT
                ) =>
                {
                    // Refused before it was taken: queued again.
                    (
                        GroupPostStatus::Queued,
                        None,
                        Some(format!("WeCom errcode {errcode}: {errmsg}")),
                    )
                }
                Err(channels::wecom::api::ApiError::Api {
                    errcode, errmsg, ..
                }) => (
                    GroupPostStatus::Failed,
                    None,
                    Some(format!("WeCom errcode {errcode}: {errmsg}")),
                ),
                Err(e) => (GroupPostStatus::Unknown, None, Some(e.to_string())),
            };
            self.repo
                .group_post_update(
                    p.id,
                    GroupPostStatus::Sending,
                    status,
                    msgid.as_deref(),
                    error.as_deref(),
                    now_millis(),
                )
                .await?;
        }
        Ok(n)
    }
}
