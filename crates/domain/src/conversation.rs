//! Conversations and their oversight: the review queue of flagged messages, the outbox every
//! outbound message waits in until the channel has it, and the brand's hash-chained audit log.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{BrandId, ChannelKind, ClientId, Direction, Message, Millis, StoreId, UserId};

pub use rules::{Category, Hit, Matcher, Rule, RuleAction, Severity};

/// A conversation (one client's thread) as the inbox lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationSummary {
    pub client_id: ClientId,
    pub associate_id: Option<UserId>,
    pub store_id: Option<StoreId>,
    pub last: Message,
    pub messages: i64,
    /// Client messages after the reader's last read one.
    pub unread: i64,
    /// Open review-queue items on the thread.
    pub open_flags: i64,
}

/// Where a review-queue item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagStatus {
    Open,
    Resolved,
    Dismissed,
}

impl FlagStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FlagStatus::Open => "open",
            FlagStatus::Resolved => "resolved",
            FlagStatus::Dismissed => "dismissed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            FlagStatus::Open,
            FlagStatus::Resolved,
            FlagStatus::Dismissed,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }
}

/// A message a rule matched, waiting for (or past) review.
#[derive(Debug, Clone, Serialize)]
pub struct Flag {
    pub id: i64,
    pub message_id: Option<i64>,
    /// The group message flagged, for a message said in a group chat.
    pub group_message_id: Option<i64>,
    pub group_id: Option<i64>,
    /// The client the message was with (in a group: the client who wrote it, if one did).
    pub client_id: Option<ClientId>,
    pub associate_id: Option<UserId>,
    pub store_id: Option<StoreId>,
    pub direction: Direction,
    pub rule_id: i64,
    pub rule: String,
    pub category: Category,
    pub severity: Severity,
    pub action: RuleAction,
    pub matched: String,
    pub status: FlagStatus,
    pub note: Option<String>,
    pub reviewer_id: Option<UserId>,
    pub created_at: Millis,
    pub reviewed_at: Option<Millis>,
}

#[derive(Debug, Clone)]
pub struct NewFlag {
    pub message_id: Option<i64>,
    pub group_message_id: Option<i64>,
    pub group_id: Option<i64>,
    pub client_id: Option<ClientId>,
    pub associate_id: Option<UserId>,
    pub store_id: Option<StoreId>,
    pub direction: Direction,
    pub hit: Hit,
    pub at: Millis,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct FlagQuery {
    pub status: Option<FlagStatus>,
    pub store: Option<StoreId>,
    pub associate: Option<UserId>,
    pub client: Option<ClientId>,
    /// Only flags on this group chat's messages.
    pub group: Option<i64>,
    pub limit: u32,
}

/// Review-queue items by associate and rule.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FlagCount {
    pub associate_id: Option<UserId>,
    pub rule: String,
    pub category: Category,
    pub open: i64,
    pub total: i64,
}

/// A message on its way out.
#[derive(Debug, Clone)]
pub struct NewOutbound {
    pub client_id: ClientId,
    pub associate_id: Option<UserId>,
    pub channel: ChannelKind,
    pub msg_type: String,
    pub body: String,
    /// One send per key: the same key twice is one message.
    pub idem_key: String,
    pub at: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboundStatus {
    Queued,
    Sending,
    Sent,
    Failed,
}

impl OutboundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboundStatus::Queued => "queued",
            OutboundStatus::Sending => "sending",
            OutboundStatus::Sent => "sent",
            OutboundStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            OutboundStatus::Queued,
            OutboundStatus::Sending,
            OutboundStatus::Sent,
            OutboundStatus::Failed,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }
}

/// An outbox row.
#[derive(Debug, Clone, Serialize)]
pub struct Outbound {
    pub id: i64,
    pub brand: BrandId,
    pub client_id: ClientId,
    pub associate_id: Option<UserId>,
    pub channel: ChannelKind,
    pub msg_type: String,
    pub body: String,
    pub idem_key: String,
    pub status: OutboundStatus,
    pub attempts: i32,
    pub provider_id: Option<String>,
    pub message_id: Option<i64>,
    pub error: Option<String>,
    pub created_at: Millis,
    pub sent_at: Option<Millis>,
}

/// An entry to add to the audit log.
#[derive(Debug, Clone)]
pub struct NewAudit {
    pub at: Millis,
    pub actor_id: Option<UserId>,
    /// Who, as a person reads it: `hq:Wang Fang`, `system`.
    pub actor: String,
    /// `export`, `transfer`, `rule_change`, `role_change`, `compliance_read`, …
    pub action: String,
    /// What it was done to: `client:12`, `rule:4`, `user:7`.
    pub subject: String,
    pub detail: serde_json::Value,
}

/// An entry of the audit log. `hash` covers every field and the previous entry's hash, so a
/// changed or removed row breaks the chain from there on.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Millis,
    pub actor_id: Option<UserId>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    /// The detail as stored (canonical JSON).
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash the first entry of a brand's log chains to.
pub const AUDIT_GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of an entry: SHA-256 over its fields, each length-prefixed so that no two
/// different entries can be written the same way, and the previous hash.
#[allow(clippy::too_many_arguments)]
pub fn audit_hash(
    brand: BrandId,
    seq: i64,
    at: Millis,
    actor_id: Option<UserId>,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
    prev_hash: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(b"salon-audit-v1");
    h.update(brand.0.to_be_bytes());
    h.update(seq.to_be_bytes());
    h.update(at.to_be_bytes());
    h.update(actor_id.map_or(-1, |u| u.0).to_be_bytes());
    for field in [actor, action, subject, detail, prev_hash] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

impl AuditEntry {
    /// The hash this entry should carry.
    pub fn expected_hash(&self, brand: BrandId) -> String {
        audit_hash(
            brand,
            self.seq,
            self.at,
            self.actor_id,
            &self.actor,
            &self.action,
            &self.subject,
            &self.detail,
            &self.prev_hash,
        )
    }
}

/// Why a brand's audit chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: String,
}

/// Checks a brand's whole log, in order: each entry follows the one before (sequence and
/// hash) and carries its own hash. The first break is named.
pub fn verify_chain(brand: BrandId, entries: &[AuditEntry]) -> Result<usize, ChainBreak> {
    let mut prev = AUDIT_GENESIS.to_owned();
    for (i, e) in entries.iter().enumerate() {
        let want_seq = i as i64 + 1;
        if e.seq != want_seq {
            return Err(ChainBreak {
                seq: e.seq,
                reason: format!("entry {want_seq} is missing (found {} next)", e.seq),
            });
        }
        if e.prev_hash != prev {
            return Err(ChainBreak {
                seq: e.seq,
                reason: "it does not chain to the entry before it".into(),
            });
        }
        if e.expected_hash(brand) != e.hash {
            return Err(ChainBreak {
                seq: e.seq,
                reason: "its content does not match its hash (the row was altered)".into(),
            });
        }
        prev.clone_from(&e.hash);
    }
    Ok(entries.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let brand = BrandId(1);
        let mut prev = AUDIT_GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let detail = format!("{{\"n\":{seq}}}");
                let hash = audit_hash(
                    brand,
                    seq,
                    seq * 10,
                    None,
                    "system",
                    "export",
                    "client:1",
                    &detail,
                    &prev,
                );
                let e = AuditEntry {
                    seq,
                    at: seq * 10,
                    actor_id: None,
                    actor: "system".into(),
                    action: "export".into(),
                    subject: "client:1".into(),
                    detail,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    #[test]
    fn a_chain_holds_and_any_change_breaks_it_where_it_was_made() {
        let brand = BrandId(1);
        assert_eq!(verify_chain(brand, &chain(5)), Ok(5));
        let mut altered = chain(5);
        altered[2].subject = "client:2".into();
        assert_eq!(verify_chain(brand, &altered).map_err(|b| b.seq), Err(3));
        let mut removed = chain(5);
        removed.remove(1);
        assert_eq!(verify_chain(brand, &removed).map_err(|b| b.seq), Err(3));
        // Another brand's key does not verify this brand's chain.
        assert!(verify_chain(BrandId(2), &chain(2)).is_err());
    }
}
