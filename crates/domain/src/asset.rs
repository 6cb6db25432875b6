//! The brand's asset pool: approved images with their captions, talking points and usage
//! guidelines, grouped in collections (one per campaign), each valid for a window, moving
//! through draft → approved → retired. Associates see only what is approved and valid now.

use serde::Serialize;

use crate::{ClientId, FieldError, Millis, Tag, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetStatus {
    Draft,
    Approved,
    Retired,
}

impl AssetStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AssetStatus::Draft => "draft",
            AssetStatus::Approved => "approved",
            AssetStatus::Retired => "retired",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            AssetStatus::Draft,
            AssetStatus::Approved,
            AssetStatus::Retired,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
    /// The workflow: a draft is approved or retired; an approved asset is retired (or sent
    /// back to draft to be corrected); a retired one may be approved again.
    pub fn may_become(self, next: AssetStatus) -> bool {
        use AssetStatus::*;
        matches!(
            (self, next),
            (Draft, Approved)
                | (Draft, Retired)
                | (Approved, Retired)
                | (Approved, Draft)
                | (Retired, Approved)
        )
    }
}

/// What a person writes about an asset, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetText {
    pub title: String,
    pub caption_zh: String,
    pub caption_en: String,
    pub talking_points: String,
    pub guidelines: String,
    pub tags: Vec<Tag>,
    pub collection: Option<String>,
    pub valid_from: Option<Millis>,
    pub valid_to: Option<Millis>,
}

impl AssetText {
    #[allow(clippy::too_many_arguments)]
    pub fn parse(
        title: &str,
        caption_zh: &str,
        caption_en: &str,
        talking_points: &str,
        guidelines: &str,
        tags: &str,
        collection: &str,
        valid_from: Option<Millis>,
        valid_to: Option<Millis>,
    ) -> Result<Self, FieldError> {
        let title = crate::text("title", title, 120)?;
        let long = |field: &str, v: &str, max: usize| -> Result<String, FieldError> {
            let v = v.trim();
            if v.chars().count() > max {
                return Err(FieldError::new(field, format!("at most {max} characters")));
            }
            Ok(v.to_owned())
        };
        let tags = tags
            .split([',', '\n'])
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| Tag::parse("tags", t))
            .collect::<Result<Vec<_>, _>>()?;
        if let (Some(f), Some(t)) = (valid_from, valid_to)
            && t <= f
        {
            return Err(FieldError::new("valid_to", "must be after valid_from"));
        }
        let collection = long("collection", collection, 80)?;
        Ok(Self {
            title,
            caption_zh: long("caption_zh", caption_zh, 1_000)?,
            caption_en: long("caption_en", caption_en, 1_000)?,
            talking_points: long("talking_points", talking_points, 4_000)?,
            guidelines: long("guidelines", guidelines, 4_000)?,
            tags,
            collection: (!collection.is_empty()).then_some(collection),
            valid_from,
            valid_to,
        })
    }
}

/// The stored image of an asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssetFile {
    pub name: String,
    pub thumb: String,
    pub mime: String,
    pub bytes: i64,
    pub width: i32,
    pub height: i32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Asset {
    pub id: i64,
    pub title: String,
    pub caption_zh: String,
    pub caption_en: String,
    pub talking_points: String,
    pub guidelines: String,
    pub tags: Vec<Tag>,
    pub collection: Option<String>,
    pub valid_from: Option<Millis>,
    pub valid_to: Option<Millis>,
    pub status: AssetStatus,
    pub file: AssetFile,
    pub created_by: Option<UserId>,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// Sends of it to clients so far, and to how many clients.
    pub uses: i64,
    pub clients: i64,
    /// Clients it reached (a campaign send WeCom confirmed delivered, or a one-to-one send the
    /// channel took), and clients who wrote back within a week of receiving it.
    pub delivered: i64,
    pub replies: i64,
    /// What came of the Moments posts that showed it.
    pub in_moments: MomentOutcome,
}

/// Totals over the Moments posts that showed an asset, as WeCom reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MomentOutcome {
    pub posts: u32,
    pub seen_by: u32,
    pub likes: u32,
    pub comments: u32,
}

impl Asset {
    /// Whether an associate may use it at `now`.
    pub fn usable_at(&self, now: Millis) -> bool {
        self.status == AssetStatus::Approved
            && self.valid_from.is_none_or(|f| f <= now)
            && self.valid_to.is_none_or(|t| now < t)
    }
}

/// One use of an asset: who sent it to whom, in which campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetUse {
    pub asset_id: i64,
    pub client_id: ClientId,
    pub associate_id: Option<UserId>,
    pub campaign_id: Option<i64>,
    pub at: Millis,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workflow_and_the_window_decide_what_associates_see() {
        assert!(AssetStatus::Draft.may_become(AssetStatus::Approved));
        assert!(!AssetStatus::Retired.may_become(AssetStatus::Draft));
        assert!(!AssetStatus::Draft.may_become(AssetStatus::Draft));
        let text = AssetText::parse(
            "Winter bag",
            "冬季手袋",
            "Winter bag",
            "",
            "",
            "bags, winter",
            "Winter 2026",
            Some(100),
            Some(200),
        )
        .expect("valid");
        assert_eq!(text.tags.len(), 2);
        assert!(AssetText::parse("x", "", "", "", "", "", "", Some(200), Some(100)).is_err());
        assert!(AssetText::parse(" ", "", "", "", "", "", "", None, None).is_err());
        let mut a = Asset {
            id: 1,
            title: text.title,
            caption_zh: String::new(),
            caption_en: String::new(),
            talking_points: String::new(),
            guidelines: String::new(),
            tags: vec![],
            collection: None,
            valid_from: Some(100),
            valid_to: Some(200),
            status: AssetStatus::Draft,
            file: AssetFile {
                name: "a.png".into(),
                thumb: "a.thumb.png".into(),
                mime: "image/png".into(),
                bytes: 1,
                width: 1,
                height: 1,
            },
            created_by: None,
            created_at: 0,
            updated_at: 0,
            uses: 0,
            clients: 0,
            delivered: 0,
            replies: 0,
            in_moments: MomentOutcome::default(),
        };
        assert!(!a.usable_at(150), "a draft");
        a.status = AssetStatus::Approved;
        assert!(a.usable_at(150));
        assert!(!a.usable_at(99) && !a.usable_at(200), "outside its window");
    }
}
