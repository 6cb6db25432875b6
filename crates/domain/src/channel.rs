//! Chat channels as Salon keeps them: a brand's provider settings, the durable inbox every
//! provider callback lands in before anything else happens, channel QR codes ("contact ways"),
//! and the messages exchanged with clients.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{BrandId, ClientId, Millis, StoreId, Tag, UserId};

/// A provider channel a brand can connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// WeChat Work (WeCom): associates' external contacts.
    Wecom,
    /// The WeChat Official Account.
    WechatOa,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 2] = [ChannelKind::Wecom, ChannelKind::WechatOa];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Wecom => "wecom",
            ChannelKind::WechatOa => "wechat_oa",
        }
    }

    /// Also accepts the URL spelling `wechat-oa`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "wecom" => Some(ChannelKind::Wecom),
            "wechat_oa" | "wechat-oa" => Some(ChannelKind::WechatOa),
            _ => None,
        }
    }
}

impl std::fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A brand's settings for one channel. The three secrets are encrypted at rest and never
/// shown back whole.
#[derive(Clone, PartialEq, Eq)]
pub struct ChannelSettings {
    pub channel: ChannelKind,
    /// The WeCom corp id, or the OA's AppID: the callbacks' receive id.
    pub app_id: String,
    /// The WeCom app's AgentId (none for the OA).
    pub agent_id: Option<String>,
    /// The provider's API root (Tencent's, or the simulator's).
    pub api_base: String,
    pub secret: String,
    pub token: String,
    /// The EncodingAESKey. WeCom always has one; an Official Account without one is in plain
    /// mode (明文模式), and once it has one only safe mode (安全模式) is accepted.
    pub aes_key: Option<String>,
    /// OA menu keys to the menu category they count as (`../shared/spec/events.md`).
    pub menu: BTreeMap<String, String>,
    pub updated_at: Millis,
}

impl std::fmt::Debug for ChannelSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelSettings")
            .field("channel", &self.channel)
            .field("app_id", &self.app_id)
            .field("agent_id", &self.agent_id)
            .field("api_base", &self.api_base)
            .field("secret", &mask(&self.secret))
            .field("token", &mask(&self.token))
            .field("aes_key", &self.aes_key.as_deref().map(mask))
            .finish()
    }
}

/// A secret as it may be shown: its last four characters at most.
pub fn mask(secret: &str) -> String {
    let n = secret.chars().count();
    if n <= 8 {
        "••••".to_owned()
    } else {
        let tail: String = secret.chars().skip(n - 4).collect();
        format!("••••{tail}")
    }
}

/// A callback, durably received and not yet (or already) processed.
#[derive(Debug, Clone)]
pub struct InboxItem {
    pub brand: BrandId,
    pub channel: ChannelKind,
    /// The provider's retry key (see `channels::wecom::callback`).
    pub dedup_key: String,
    pub received_at: Millis,
    /// The decrypted callback (sealed at rest).
    pub body: String,
    /// The signature the callback came with, checked when it is stored: a signature signs one
    /// callback only. Not kept with the callback (`None` when read back).
    pub replay: Option<ReplayGuard>,
}

/// A provider's signature over a callback, remembered until `expires_at` (past the freshness
/// window of its timestamp, when it would be refused anyway) by every Salon process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayGuard {
    /// `msg_signature`, or the Official Account's plain `signature`.
    pub signature: String,
    pub expires_at: Millis,
}

/// A signature seen before with another callback: a replayed query string with a new body.
/// Nothing was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this signature was already used for another callback")]
pub struct Replayed;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboxReceipt {
    pub id: i64,
    /// False when this was a retry of a callback already received.
    pub fresh: bool,
}

#[derive(Debug, Clone)]
pub struct InboxEntry {
    pub id: i64,
    pub item: InboxItem,
    pub attempts: i32,
}

/// How many callbacks a brand's inbox holds, by state.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct InboxCounts {
    pub received: i64,
    pub processed: i64,
    pub pending: i64,
    pub failed: i64,
}

/// What a channel QR code is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactWayKind {
    Store,
    Associate,
    Campaign,
}

impl ContactWayKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ContactWayKind::Store => "store",
            ContactWayKind::Associate => "associate",
            ContactWayKind::Campaign => "campaign",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "store" => Some(ContactWayKind::Store),
            "associate" => Some(ContactWayKind::Associate),
            "campaign" => Some(ContactWayKind::Campaign),
            _ => None,
        }
    }
}

/// A channel QR code ("contact me" way) and what happens to a client who adds us through it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ContactWay {
    pub id: i64,
    /// The `state` WeCom hands back in `add_external_contact`.
    pub state: String,
    pub label: String,
    pub kind: ContactWayKind,
    pub store_id: Option<StoreId>,
    /// The associate the code adds (for a store code: the one it was made for).
    pub user_id: Option<UserId>,
    pub tags: Vec<Tag>,
    pub welcome_text: String,
    pub config_id: Option<String>,
    pub qr_code: Option<String>,
    pub created_at: Millis,
}

#[derive(Debug, Clone)]
pub struct NewContactWay {
    pub state: String,
    pub label: String,
    pub kind: ContactWayKind,
    pub store_id: Option<StoreId>,
    pub user_id: Option<UserId>,
    pub tags: Vec<Tag>,
    pub welcome_text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// A message exchanged with a client. The body is encrypted at rest.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub id: i64,
    pub client_id: ClientId,
    pub channel: ChannelKind,
    pub direction: Direction,
    pub associate_id: Option<UserId>,
    pub msg_type: String,
    pub body: String,
    pub at: Millis,
    /// A link or a mini-program card, as the thread shows it (read from the body).
    pub card: Option<Card>,
}

/// A rich message: a link or a mini-program card. Its fields are stored in the message body,
/// one per line, so that it is archived, searched and checked against the rules like any text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Card {
    /// `link` (a shared article or web page).
    Link {
        title: String,
        description: String,
        url: String,
    },
    /// `miniprogrampage` (a page of a WeChat mini-program, such as a product page).
    MiniProgram {
        title: String,
        app_id: String,
        page_path: String,
    },
}

impl Card {
    /// The card of a stored message, if its type has one.
    pub fn of(msg_type: &str, body: &str) -> Option<Card> {
        let mut lines = body.splitn(3, '\n').map(str::to_owned);
        let mut next = || lines.next().unwrap_or_default();
        match msg_type {
            "link" => Some(Card::Link {
                title: next(),
                description: next(),
                url: next(),
            }),
            "miniprogrampage" => Some(Card::MiniProgram {
                title: next(),
                app_id: next(),
                page_path: next(),
            }),
            _ => None,
        }
    }

    /// The body a card is stored as (line breaks inside a field become spaces).
    pub fn body(&self) -> String {
        let line = |s: &str| s.replace(['\r', '\n'], " ");
        match self {
            Card::Link {
                title,
                description,
                url,
            } => format!("{}\n{}\n{}", line(title), line(description), line(url)),
            Card::MiniProgram {
                title,
                app_id,
                page_path,
            } => format!("{}\n{}\n{}", line(title), line(app_id), line(page_path)),
        }
    }

    /// Where the card leads, when it is safe to follow from the thread (http or https only).
    pub fn href(&self) -> Option<&str> {
        match self {
            Card::Link { url, .. } if url.starts_with("https://") || url.starts_with("http://") => {
                Some(url)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod card_tests {
    use super::Card;

    #[test]
    fn cards_round_trip_through_the_body_and_only_web_links_are_followed() {
        let link = Card::Link {
            title: "Camille bag".into(),
            description: "Hand-stitched,\nthree colours".into(),
            url: "https://maison.example/camille".into(),
        };
        let stored = link.body();
        assert_eq!(stored.lines().count(), 3);
        assert_eq!(
            Card::of("link", &stored),
            Some(Card::Link {
                title: "Camille bag".into(),
                description: "Hand-stitched, three colours".into(),
                url: "https://maison.example/camille".into(),
            })
        );
        assert_eq!(
            Card::of("link", &stored).and_then(|c| c.href().map(str::to_owned)),
            Some("https://maison.example/camille".to_owned())
        );
        let evil = Card::of("link", "Click\nme\njavascript:alert(1)").expect("card");
        assert_eq!(evil.href(), None);
        let mp = Card::of("miniprogrampage", "Camille\nwx1234\npages/product?id=7").expect("card");
        assert!(
            matches!(mp, Card::MiniProgram { ref page_path, .. } if page_path == "pages/product?id=7")
        );
        assert_eq!(mp.href(), None);
        assert_eq!(Card::of("text", "hello"), None);
    }
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub client_id: ClientId,
    pub channel: ChannelKind,
    pub direction: Direction,
    pub associate_id: Option<UserId>,
    /// The provider's message id: a message is stored once per id.
    pub provider_id: Option<String>,
    pub msg_type: String,
    pub body: String,
    pub at: Millis,
}

/// An entry on a client's timeline from a channel (follow, unfollow, qr_scan, menu_click, …).
#[derive(Debug, Clone)]
pub struct NewInteraction {
    pub client_id: ClientId,
    pub at: Millis,
    pub kind: String,
    pub channel: Option<String>,
    pub detail: serde_json::Value,
    /// What produced it (such as `inbox:42`): an entry is recorded once per reference.
    pub reference: Option<String>,
}

/// A client message taken from the inbox, ready to store with its stream event.
#[derive(Debug, Clone)]
pub struct InboundMessage {
    /// The inbox entry it came from: closed in the same transaction.
    pub inbox_id: i64,
    /// The event of the brand's stream it adds (see `EventStore`).
    pub event: Option<crate::ports::StoredEvent>,
    pub message: NewMessage,
}
