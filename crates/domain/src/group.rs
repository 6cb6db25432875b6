//! Customer group chats (WeCom 客户群): the roster an associate's groups have, and what is said
//! in them. WeCom gives the roster through its API (`externalcontact/groupchat/*`) and the
//! words only through the chat archive (会话内容存档), which the brand decrypts with its own key
//! and hands to Salon; both are kept here as the brand's, like the one-to-one threads.

use serde::Serialize;

use crate::{Card, ClientId, Millis, StoreId, UserId};

/// Who a member of a group is to the brand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberKind {
    /// A member of the corp (WeCom `type` 1).
    Staff,
    /// An external contact (WeCom `type` 2).
    Client,
}

impl MemberKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberKind::Staff => "staff",
            MemberKind::Client => "client",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "staff" => Some(MemberKind::Staff),
            "client" => Some(MemberKind::Client),
            _ => None,
        }
    }
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupMember {
    /// The provider's id: a staff `userid` or an `external_userid`.
    pub member_ref: String,
    pub kind: MemberKind,
    /// The associate, when the member is staff Salon knows.
    pub user_id: Option<UserId>,
    /// The client, when the member is an external contact who is the brand's client.
    pub client_id: Option<ClientId>,
    /// The name WeChat shows (the group nickname when set); sealed at rest.
    pub name: String,
    pub joined_at: Millis,
}

/// A customer group as WeCom describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupChat {
    pub id: i64,
    /// WeCom's `chat_id`.
    pub chat_id: String,
    pub name: String,
    /// The owner's WeCom `userid`, and the associate it is.
    pub owner_ref: String,
    pub owner_id: Option<UserId>,
    /// The owner's store (the group is seen by that store's manager).
    pub store_id: Option<StoreId>,
    pub notice: String,
    pub created_at: Millis,
    pub dismissed_at: Option<Millis>,
    pub members: Vec<GroupMember>,
}

/// A group to store (its members replace those stored).
#[derive(Debug, Clone)]
pub struct NewGroupChat {
    pub chat_id: String,
    pub name: String,
    pub owner_ref: String,
    pub owner_id: Option<UserId>,
    pub notice: String,
    pub created_at: Millis,
    pub members: Vec<GroupMember>,
    pub at: Millis,
}

/// A group as a list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct GroupSummary {
    pub id: i64,
    pub chat_id: String,
    pub name: String,
    pub owner_id: Option<UserId>,
    pub store_id: Option<StoreId>,
    pub members: i64,
    pub clients: i64,
    pub messages: i64,
    pub last_at: Option<Millis>,
    pub open_flags: i64,
    pub dismissed_at: Option<Millis>,
}

/// Who wrote a group message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Sender {
    Associate(UserId),
    Client(ClientId),
    /// Someone Salon cannot name (a staff member or contact it does not know).
    Unknown,
}

/// A message said in a group, as stored.
#[derive(Debug, Clone, Serialize)]
pub struct GroupMessage {
    pub id: i64,
    pub group_id: i64,
    pub provider_id: String,
    /// The provider id of the sender (`userid` or `external_userid`).
    pub sender_ref: String,
    pub sender: Sender,
    pub msg_type: String,
    pub body: String,
    pub at: Millis,
    pub card: Option<Card>,
}

/// A group message to store: once per provider id.
#[derive(Debug, Clone)]
pub struct NewGroupMessage {
    pub group_id: i64,
    pub provider_id: String,
    pub sender_ref: String,
    pub sender: Sender,
    pub msg_type: String,
    pub body: String,
    pub at: Millis,
}

impl Sender {
    pub fn associate(self) -> Option<UserId> {
        match self {
            Sender::Associate(u) => Some(u),
            _ => None,
        }
    }

    pub fn client(self) -> Option<ClientId> {
        match self {
            Sender::Client(c) => Some(c),
            _ => None,
        }
    }
}

impl GroupChat {
    /// Whether an associate is in the group (as its owner or a member).
    pub fn has_associate(&self, who: UserId) -> bool {
        self.owner_id == Some(who) || self.members.iter().any(|m| m.user_id == Some(who))
    }

    /// The brand's clients in the group.
    pub fn clients(&self) -> impl Iterator<Item = ClientId> + '_ {
        self.members.iter().filter_map(|m| m.client_id)
    }
}

/// Where a post to a group stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupPostStatus {
    Queued,
    /// Handed to WeCom by a dispatcher that holds it.
    Sending,
    /// WeCom took it (its `msgid`); the owner confirms it in WeCom.
    Sent,
    Failed,
    /// The call's answer was lost: WeCom may or may not have it, and it is never sent again.
    Unknown,
}

impl GroupPostStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupPostStatus::Queued => "queued",
            GroupPostStatus::Sending => "sending",
            GroupPostStatus::Sent => "sent",
            GroupPostStatus::Failed => "failed",
            GroupPostStatus::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            GroupPostStatus::Queued,
            GroupPostStatus::Sending,
            GroupPostStatus::Sent,
            GroupPostStatus::Failed,
            GroupPostStatus::Unknown,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// A message an associate posts to one of their groups through Salon.
#[derive(Debug, Clone, Serialize)]
pub struct GroupPost {
    pub id: i64,
    pub brand: crate::BrandId,
    pub group_id: i64,
    pub associate_id: UserId,
    pub body: String,
    pub idem_key: String,
    pub status: GroupPostStatus,
    pub msgid: Option<String>,
    pub error: Option<String>,
    pub attempt_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone)]
pub struct NewGroupPost {
    pub group_id: i64,
    pub associate_id: UserId,
    pub body: String,
    /// One post per key: the same key twice is one post.
    pub idem_key: String,
    pub at: Millis,
}
