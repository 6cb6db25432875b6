//! The asset pool page: HQ uploads images with their captions, talking points and guidelines,
//! and approves or retires them; associates and managers browse what they may use.

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;

use app::AppError;
use domain::{Action, AssetStatus, AssetText, Millis};

use super::format::datetime;
use super::pages::{Chrome, PageResult, WithCsrf, chrome, field_errors, render_form, to};
use super::{Lang, Viewer};
use crate::{AppState, PageError};

pub struct Words {
    pub assets: &'static str,
    pub upload: &'static str,
    pub title: &'static str,
    pub caption_zh: &'static str,
    pub caption_en: &'static str,
    pub talking_points: &'static str,
    pub guidelines: &'static str,
    pub tags: &'static str,
    pub collection: &'static str,
    pub valid_from: &'static str,
    pub valid_to: &'static str,
    pub file: &'static str,
    pub approve: &'static str,
    pub retire: &'static str,
    pub to_draft: &'static str,
    pub used: &'static str,
    pub delivered: &'static str,
    pub replied: &'static str,
    pub in_moments: &'static str,
    pub seen_likes_comments: &'static str,
    pub empty: &'static str,
}

pub const EN: Words = Words {
    assets: "Assets",
    upload: "Upload",
    title: "Title",
    caption_zh: "Caption (Chinese)",
    caption_en: "Caption (English)",
    talking_points: "Talking points",
    guidelines: "Usage guidelines",
    tags: "Tags",
    collection: "Collection (campaign)",
    valid_from: "Valid from",
    valid_to: "Valid until (inclusive)",
    file: "Image (PNG or JPEG, at most 10 MiB)",
    approve: "Approve",
    retire: "Retire",
    to_draft: "Back to draft",
    used: "sent to",
    delivered: "delivered to",
    replied: "wrote back",
    in_moments: "in Moments",
    seen_likes_comments: "seen · likes · comments",
    empty: "No approved material yet.",
};

pub const ZH: Words = Words {
    assets: "素材库",
    upload: "上传",
    title: "标题",
    caption_zh: "中文文案",
    caption_en: "英文文案",
    talking_points: "话术要点",
    guidelines: "使用规范",
    tags: "标签",
    collection: "系列（活动）",
    valid_from: "生效日期",
    valid_to: "失效日期（含）",
    file: "图片（PNG 或 JPEG，最大 10 MiB）",
    approve: "审核通过",
    retire: "下架",
    to_draft: "退回草稿",
    used: "已发送给",
    delivered: "已送达",
    replied: "已回复",
    in_moments: "朋友圈",
    seen_likes_comments: "可见 · 点赞 · 评论",
    empty: "暂无已审核的素材。",
};

pub(crate) fn words_for(v: &Viewer) -> &'static Words {
    match v.lang {
        Lang::En => &EN,
        Lang::Zh => &ZH,
    }
}

/// An asset form (multipart: the file and its texts), as the page and the API send it.
pub(crate) struct AssetUpload {
    pub csrf: String,
    pub file: Vec<u8>,
    pub text: Result<AssetText, AppError>,
}

fn day_start(field: &str, s: &str, tz: &str, next: bool) -> Result<Option<Millis>, AppError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let d: jiff::civil::Date = s
        .parse()
        .map_err(|_| AppError::invalid(field, "write a date YYYY-MM-DD"))?;
    let d = if next { d.tomorrow().unwrap_or(d) } else { d };
    let z = d
        .to_zoned(jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC))
        .map_err(|_| AppError::invalid(field, "not a date in the brand's time zone"))?;
    Ok(Some(z.timestamp().as_millisecond()))
}

pub(crate) async fn read_asset_form(
    mut form: Multipart,
    tz: &str,
) -> Result<AssetUpload, AppError> {
    let mut fields = std::collections::HashMap::new();
    let mut file = Vec::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| AppError::invalid("file", e.body_text()))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            file = field
                .bytes()
                .await
                .map_err(|e| AppError::invalid("file", e.body_text()))?
                .to_vec();
        } else {
            fields.insert(name, field.text().await.unwrap_or_default());
        }
    }
    let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
    let text = (|| {
        Ok(AssetText::parse(
            get("title"),
            get("caption_zh"),
            get("caption_en"),
            get("talking_points"),
            get("guidelines"),
            get("tags"),
            get("collection"),
            day_start("valid_from", get("valid_from"), tz, false)?,
            day_start("valid_to", get("valid_to"), tz, true)?,
        )?)
    })();
    Ok(AssetUpload {
        csrf: get("csrf").to_owned(),
        file,
        text,
    })
}

pub struct AssetCard {
    id: i64,
    title: String,
    caption_zh: String,
    caption_en: String,
    talking_points: String,
    guidelines: String,
    tags: String,
    collection: String,
    window: String,
    status: &'static str,
    size: String,
    clients: i64,
    delivered: i64,
    replies: i64,
    moments: domain::MomentOutcome,
}

#[derive(Template)]
#[template(path = "assets.html")]
struct AssetsPage {
    c: Chrome,
    w: &'static Words,
    cards: Vec<AssetCard>,
    can_manage: bool,
    errors: Vec<String>,
}

async fn assets_page(state: &AppState, v: &Viewer, errors: Vec<String>) -> PageResult {
    let a = &v.actor;
    let tz = a.brand.time_zone.as_str();
    let day = |t: Option<Millis>| t.map(|t| datetime(t, tz)).unwrap_or_else(|| "…".into());
    let cards = state
        .salon
        .assets(a)
        .await?
        .into_iter()
        .map(|x| AssetCard {
            id: x.id,
            title: x.title,
            caption_zh: x.caption_zh,
            caption_en: x.caption_en,
            talking_points: x.talking_points,
            guidelines: x.guidelines,
            tags: x
                .tags
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            collection: x.collection.unwrap_or_default(),
            window: if x.valid_from.is_none() && x.valid_to.is_none() {
                String::new()
            } else {
                format!("{} → {}", day(x.valid_from), day(x.valid_to))
            },
            status: x.status.as_str(),
            size: format!("{}×{}", x.file.width, x.file.height),
            clients: x.clients,
            delivered: x.delivered,
            replies: x.replies,
            moments: x.in_moments,
        })
        .collect();
    let has_errors = !errors.is_empty();
    render_form(
        &AssetsPage {
            c: chrome(v, "/assets", "/assets", None),
            w: words_for(v),
            cards,
            can_manage: a.can(Action::ManageCampaigns),
            errors,
        },
        has_errors,
    )
}

pub async fn assets(State(state): State<AppState>, v: Viewer) -> PageResult {
    assets_page(&state, &v, vec![]).await
}

pub async fn upload(State(state): State<AppState>, v: Viewer, form: Multipart) -> PageResult {
    let tz = v.actor.brand.time_zone.as_str().to_owned();
    let up = read_asset_form(form, &tz).await.map_err(PageError)?;
    v.check_csrf(&up.csrf)?;
    let result = match up.text {
        Ok(text) => state.salon.upload_asset(&v.actor, up.file, text).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(to("/assets")),
        Err(e) => assets_page(&state, &v, field_errors(e)?).await,
    }
}

#[derive(Deserialize)]
pub struct StatusForm {
    status: String,
}

pub async fn set_status(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<WithCsrf<StatusForm>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let Some(status) = AssetStatus::parse(&f.input.status) else {
        return assets_page(
            &state,
            &v,
            vec!["status: draft, approved or retired".into()],
        )
        .await;
    };
    match state.salon.set_asset_status(&v.actor, id, status).await {
        Ok(_) => Ok(to("/assets")),
        Err(e) => assets_page(&state, &v, field_errors(e)?).await,
    }
}

#[derive(Deserialize, Default)]
pub struct ImageQuery {
    thumb: Option<String>,
}

pub async fn image(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<ImageQuery>,
) -> Result<axum::response::Response, PageError> {
    let (mime, bytes) = state
        .salon
        .asset_image(&v.actor, id, q.thumb.is_some())
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "private, max-age=3600".to_owned()),
        ],
        bytes,
    )
        .into_response())
}
