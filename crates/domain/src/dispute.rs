//! Sales disputes: an associate contests an order's credit; a store manager or HQ decides.
//! The attribution itself is the `sales` crate's (spec/attribution.md).

use serde::Serialize;

use crate::{Millis, UserId};

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
