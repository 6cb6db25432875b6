//! Social selling's own records: tracked share links, and disputes (an associate contests an
//! order's credit; a store manager or HQ decides).
//! The attribution itself is the `sales` crate's (spec/attribution.md).

use serde::Serialize;

use crate::{BrandId, ClientId, Millis, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeStatus {
    Open,
    /// Shares set explicitly; they replace the computed credit everywhere.
    Decided,
    /// The computed credit stands.
    Rejected,
}

impl DisputeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DisputeStatus::Open => "open",
            DisputeStatus::Decided => "decided",
            DisputeStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Open, Self::Decided, Self::Rejected]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Dispute {
    pub id: i64,
    pub order_id: String,
    pub raised_by: UserId,
    pub reason: String,
    pub status: DisputeStatus,
    /// Once decided: associates' e-mails and their fractions (adding up to 1).
    pub shares: Option<Vec<(String, sales::Dec)>>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<Millis>,
    pub decision_note: Option<String>,
    pub created_at: Millis,
}

/// A short link an associate shares (`/s/{code}`): every open is recorded, then redirected.
#[derive(Debug, Clone, Serialize)]
pub struct ShareLink {
    pub id: i64,
    pub brand: BrandId,
    pub code: String,
    pub associate_id: UserId,
    /// The client it was made for, when it was made for one: an open is theirs.
    pub client_id: Option<ClientId>,
    /// `product`, `asset` or `page`.
    pub kind: String,
    /// Where an open goes (http or https).
    pub target: String,
    pub title: String,
    pub created_at: Millis,
    /// How many times it was opened.
    pub opens: i64,
}

#[derive(Debug, Clone)]
pub struct NewShareLink {
    pub code: String,
    pub associate_id: UserId,
    pub client_id: Option<ClientId>,
    pub kind: String,
    pub target: String,
    pub title: String,
    pub at: Millis,
}
