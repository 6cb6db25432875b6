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

/// The brand's loyalty tiers by lifetime spend (net of returns, in minor units of the brand's
/// currency): a client is in the highest tier whose threshold their spend reaches. Tiers
/// without a threshold are set by hand (or by the CRM) and never changed by spend.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TierThresholds {
    /// (tier, minimum spend), lowest tier first.
    pub tiers: Vec<(String, i64)>,
}

impl TierThresholds {
    /// Checks thresholds against the brand's tiers (lowest first): every tier is one of the
    /// brand's, named once, not negative, and a higher tier never asks for less.
    pub fn new(
        brand_tiers: &[String],
        mut tiers: Vec<(String, i64)>,
    ) -> Result<Self, crate::FieldError> {
        let place = |t: &str| brand_tiers.iter().position(|b| b == t);
        for (i, (tier, min)) in tiers.iter().enumerate() {
            let field = format!("tiers[{i}]");
            if place(tier).is_none() {
                return Err(crate::FieldError::new(
                    &field,
                    format!(
                        "{tier:?} is not one of the brand's tiers ({})",
                        brand_tiers.join(", ")
                    ),
                ));
            }
            if *min < 0 {
                return Err(crate::FieldError::new(
                    &field,
                    "a threshold cannot be negative",
                ));
            }
            if tiers[..i].iter().any(|(t, _)| t == tier) {
                return Err(crate::FieldError::new(
                    &field,
                    format!("{tier:?} is given twice"),
                ));
            }
        }
        tiers.sort_by_key(|(t, _)| place(t));
        if let Some(w) = tiers.windows(2).find(|w| w[1].1 < w[0].1) {
            return Err(crate::FieldError::new(
                "tiers",
                format!(
                    "{} is above {} but asks for less ({} < {})",
                    w[1].0, w[0].0, w[1].1, w[0].1
                ),
            ));
        }
        Ok(Self { tiers })
    }

    pub fn is_empty(&self) -> bool {
        self.tiers.is_empty()
    }

    /// The tier a lifetime spend earns; `None` below every threshold.
    pub fn tier_for(&self, spend: i64) -> Option<&str> {
        self.tiers
            .iter()
            .rev()
            .find(|(_, min)| spend >= *min)
            .map(|(t, _)| t.as_str())
    }

    /// Whether spend decides this tier (a tier set by hand outside the thresholds stays).
    pub fn governs(&self, tier: Option<&str>) -> bool {
        tier.is_none_or(|t| self.tiers.iter().any(|(x, _)| x == t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiers() -> Vec<String> {
        ["Silver", "Gold", "Platinum", "Private"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn the_highest_threshold_reached_wins_and_bounds_are_inclusive() {
        let t = TierThresholds::new(
            &tiers(),
            vec![("Gold".into(), 5_000_000), ("Silver".into(), 1_000_000)],
        )
        .expect("valid");
        assert_eq!(t.tier_for(999_999), None);
        assert_eq!(t.tier_for(1_000_000), Some("Silver"));
        assert_eq!(t.tier_for(4_999_999), Some("Silver"));
        assert_eq!(t.tier_for(5_000_000), Some("Gold"));
        assert_eq!(t.tier_for(i64::MAX), Some("Gold"));
        assert!(t.governs(Some("Gold")) && t.governs(None));
        assert!(!t.governs(Some("Private")), "a tier set by hand stays");
    }

    #[test]
    fn thresholds_are_checked_against_the_brand() {
        let err = |v: Vec<(&str, i64)>| {
            TierThresholds::new(
                &tiers(),
                v.into_iter().map(|(t, m)| (t.to_owned(), m)).collect(),
            )
            .expect_err("invalid")
            .to_string()
        };
        assert!(err(vec![("Bronze", 1)]).contains("not one of the brand's tiers"));
        assert!(err(vec![("Gold", -1)]).contains("negative"));
        assert!(err(vec![("Gold", 1), ("Gold", 2)]).contains("twice"));
        assert!(err(vec![("Silver", 10), ("Gold", 5)]).contains("asks for less"));
    }
}
