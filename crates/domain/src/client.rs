//! Clients: the people the brand serves, who belong to the brand and not to any associate.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::{ClientId, Email, FieldError, Millis, NoteId, Phone, StoreId, Tag, UserId};

/// The personal data of a client. Stored encrypted, as a whole.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pii {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// The name in Chinese characters, where given (姓名).
    pub chinese_name: Option<String>,
    pub phone: Option<Phone>,
    pub email: Option<Email>,
    pub birthday: Option<jiff::civil::Date>,
}

impl Pii {
    /// The name to show: "First Last", else the Chinese name, else a placeholder.
    pub fn display_name(&self) -> String {
        let latin = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        match (latin.is_empty(), &self.chinese_name) {
            (false, Some(zh)) => format!("{latin} · {zh}"),
            (false, None) => latin,
            (true, Some(zh)) => zh.clone(),
            (true, None) => "—".to_owned(),
        }
    }

    /// The words a person may search the client by.
    pub fn name_parts(&self) -> Vec<&str> {
        [
            self.first_name.as_deref(),
            self.last_name.as_deref(),
            self.chinese_name.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// What a client likes, as the associates learn it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Preferences {
    #[serde(default)]
    pub sizes: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub colours: Vec<String>,
    #[serde(default)]
    pub materials: Vec<String>,
}

/// Where a client can be reached or recognised. Each (kind, value) is unique within a brand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    /// WeCom external contact: `external_userid`.
    Wecom,
    /// WeChat Official Account follower: `openid`.
    WechatOa,
    /// The person's WeChat `unionid`, shared by the brand's WeCom and OA apps.
    WechatUnion,
    /// WhatsApp Business: `wa_id`.
    Whatsapp,
    /// The brand's CRM customer number.
    Crm,
}

impl IdentityKind {
    pub const ALL: [IdentityKind; 5] = [
        IdentityKind::Wecom,
        IdentityKind::WechatOa,
        IdentityKind::WechatUnion,
        IdentityKind::Whatsapp,
        IdentityKind::Crm,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Wecom => "wecom",
            IdentityKind::WechatOa => "wechat_oa",
            IdentityKind::WechatUnion => "wechat_unionid",
            IdentityKind::Whatsapp => "whatsapp",
            IdentityKind::Crm => "crm",
        }
    }
}

impl FromStr for IdentityKind {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, FieldError> {
        IdentityKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                FieldError::new(
                    "identity.kind",
                    format!(
                        "unknown channel identity {s:?}; expected wecom, wechat_oa, whatsapp or crm"
                    ),
                )
            })
    }
}

impl fmt::Display for IdentityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub kind: IdentityKind,
    pub value: String,
}

impl Identity {
    pub fn parse(kind: IdentityKind, value: &str) -> Result<Self, FieldError> {
        let field = format!("identity.{kind}");
        let v = value.trim();
        if v.is_empty() || v.len() > 128 || !v.chars().all(|c| c.is_ascii_graphic()) {
            return Err(FieldError::new(
                field,
                "must be 1 to 128 visible ASCII characters",
            ));
        }
        Ok(Self {
            kind,
            value: v.to_owned(),
        })
    }
}

/// Why Salon may contact a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentPurpose {
    /// Answering the client, after-sales, appointments.
    Service,
    /// Promotions, broadcasts, invitations.
    Marketing,
}

impl ConsentPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentPurpose::Service => "service",
            ConsentPurpose::Marketing => "marketing",
        }
    }
}

impl FromStr for ConsentPurpose {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, FieldError> {
        match s {
            "service" => Ok(Self::Service),
            "marketing" => Ok(Self::Marketing),
            _ => Err(FieldError::new(
                "consent.purpose",
                "must be service or marketing",
            )),
        }
    }
}

/// The channels a consent can be given for.
pub const CONSENT_CHANNELS: [&str; 5] = ["wecom", "wechat_oa", "whatsapp", "sms", "email"];

/// One consent decision: the latest per (channel, purpose) is the one in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub channel: String,
    pub purpose: ConsentPurpose,
    pub granted: bool,
    /// How it was obtained: `in_store_form`, `crm_import`, `qr_onboarding`, `client_request`, ….
    pub source: String,
    pub at: Millis,
}

impl Consent {
    pub fn parse(
        channel: &str,
        purpose: &str,
        granted: bool,
        source: &str,
        at: Millis,
    ) -> Result<Self, FieldError> {
        let channel = channel.trim();
        if !CONSENT_CHANNELS.contains(&channel) {
            return Err(FieldError::new(
                "consent.channel",
                format!("must be one of {}", CONSENT_CHANNELS.join(", ")),
            ));
        }
        Ok(Self {
            channel: channel.to_owned(),
            purpose: purpose.trim().parse()?,
            granted,
            source: crate::text("consent.source", source, 40)?,
            at,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Note {
    pub id: NoteId,
    pub author_id: Option<UserId>,
    pub author_name: Option<String>,
    pub text: String,
    pub at: Millis,
}

/// One assignment of a client to an associate; the history is never rewritten.
#[derive(Debug, Clone, Serialize)]
pub struct Assignment {
    pub associate_id: UserId,
    pub associate_name: String,
    pub store_id: Option<StoreId>,
    pub assigned_by: Option<UserId>,
    pub reason: String,
    pub at: Millis,
}

/// An entry of the client's timeline: something that happened between the brand and them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: Millis,
    /// `purchase`, `note`, `assigned`, `consent`, `created`, `imported`, `message`, ….
    pub kind: String,
    pub channel: Option<String>,
    /// Facts about the entry (amounts, names of stores or associates); never free text PII.
    pub detail: serde_json::Value,
}

/// The whole client profile (the "360").
#[derive(Debug, Clone, Serialize)]
pub struct Client {
    pub id: ClientId,
    #[serde(flatten)]
    pub pii: Pii,
    pub language: Option<String>,
    pub city: Option<String>,
    pub tier: Option<String>,
    pub lifetime_spend_minor: i64,
    pub currency: Option<String>,
    pub first_purchase_at: Option<Millis>,
    pub last_purchase_at: Option<Millis>,
    pub store_id: Option<StoreId>,
    pub associate_id: Option<UserId>,
    pub tags: Vec<Tag>,
    pub preferences: Preferences,
    pub identities: Vec<Identity>,
    /// The consents in force, one per (channel, purpose).
    pub consents: Vec<Consent>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A client as listed in a client book.
#[derive(Debug, Clone, Serialize)]
pub struct ClientSummary {
    pub id: ClientId,
    pub display_name: String,
    pub tier: Option<String>,
    pub city: Option<String>,
    pub store_id: Option<StoreId>,
    pub associate_id: Option<UserId>,
    pub lifetime_spend_minor: i64,
    pub currency: Option<String>,
    pub last_purchase_at: Option<Millis>,
    pub tags: Vec<Tag>,
}

/// A new client, validated.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub pii: Pii,
    pub language: Option<String>,
    pub city: Option<String>,
    pub tier: Option<String>,
    pub lifetime_spend_minor: i64,
    pub currency: Option<String>,
    pub first_purchase_at: Option<Millis>,
    pub last_purchase_at: Option<Millis>,
    pub store_id: Option<StoreId>,
    pub associate_id: Option<UserId>,
    pub tags: Vec<Tag>,
    pub preferences: Preferences,
    pub identities: Vec<Identity>,
    pub consents: Vec<Consent>,
}

/// A change to a client: `None` leaves a field alone; `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ClientPatch {
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub chinese_name: Option<Option<String>>,
    pub phone: Option<Option<Phone>>,
    pub email: Option<Option<Email>>,
    pub birthday: Option<Option<jiff::civil::Date>>,
    pub language: Option<Option<String>>,
    pub city: Option<Option<String>>,
    pub tier: Option<Option<String>>,
    pub store_id: Option<Option<StoreId>>,
    pub preferences: Option<Preferences>,
    pub identities: Vec<Identity>,
    pub consents: Vec<Consent>,
}

impl ClientPatch {
    pub fn apply_pii(&self, pii: &mut Pii) {
        fn set<T: Clone>(slot: &mut Option<T>, v: &Option<Option<T>>) {
            if let Some(v) = v {
                slot.clone_from(v);
            }
        }
        set(&mut pii.first_name, &self.first_name);
        set(&mut pii.last_name, &self.last_name);
        set(&mut pii.chinese_name, &self.chinese_name);
        set(&mut pii.phone, &self.phone);
        set(&mut pii.email, &self.email);
        set(&mut pii.birthday, &self.birthday);
    }
}

/// How to find clients in a book: the scope is the actor's, the filters the person's.
#[derive(Debug, Clone)]
pub struct ClientQuery {
    pub scope: crate::Scope,
    /// Name words (prefixes), a phone number, an e-mail address or a CRM id.
    pub q: Option<String>,
    pub tag: Option<Tag>,
    pub tier: Option<String>,
    pub store: Option<StoreId>,
    pub associate: Option<UserId>,
    /// Clients with an id above this one (keyset pagination).
    pub after: Option<ClientId>,
    pub limit: u32,
}

impl ClientQuery {
    pub fn new(scope: crate::Scope) -> Self {
        Self {
            scope,
            q: None,
            tag: None,
            tier: None,
            store: None,
            associate: None,
            after: None,
            limit: 50,
        }
    }
}

/// One page of a listing, and where the next one starts.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A purchase, as the POS or e-commerce reports it.
#[derive(Debug, Clone)]
pub struct NewPurchase {
    pub at: Millis,
    pub amount_minor: i64,
    pub currency: String,
    pub store_id: Option<StoreId>,
    pub associate_id: Option<UserId>,
    pub items: Vec<String>,
}

/// Money given back to a client for a return: lowers their lifetime spend.
#[derive(Debug, Clone)]
pub struct NewRefund {
    pub at: Millis,
    pub amount_minor: i64,
    pub currency: String,
    pub order_id: String,
    pub return_id: String,
    pub items: Vec<String>,
}

/// The result of an import: how many rows created and updated clients.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportCounts {
    pub created: u64,
    pub updated: u64,
}
