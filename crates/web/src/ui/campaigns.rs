//! Campaign pages: segments with a live count, broadcasts with their reports and the contact
//! policy (HQ; store managers read), and the associate's prepared messages, sent with one tap.

use askama::Template;
use axum::Form;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use serde::Deserialize;

use app::AppError;
use app::broadcasts::CampaignInput;
use domain::{Action, CampaignKind, CampaignStatus, ContactPolicy, Suppression};

use super::format::datetime;
use super::pages::{Chrome, PageResult, WithCsrf, chrome, field_errors, render_form, to};
use super::{Lang, Viewer};
use crate::{AppState, PageError};

pub struct Words {
    pub campaigns: &'static str,
    pub tasks: &'static str,
    pub segments: &'static str,
    pub new_segment: &'static str,
    pub expression: &'static str,
    pub expression_help: &'static str,
    pub clients_match: &'static str,
    pub count: &'static str,
    pub name: &'static str,
    pub save: &'static str,
    pub new_campaign: &'static str,
    pub kind_broadcast: &'static str,
    pub kind_prepared: &'static str,
    pub message: &'static str,
    pub message_help: &'static str,
    pub send_at: &'static str,
    pub max_recipients: &'static str,
    pub create: &'static str,
    pub plan: &'static str,
    pub cancel: &'static str,
    pub planned: &'static str,
    pub sent: &'static str,
    pub delivered: &'static str,
    pub failed: &'static str,
    pub suppressed: &'static str,
    pub replies: &'static str,
    pub opens_note: &'static str,
    pub policy: &'static str,
    pub policy_help: &'static str,
    pub per_week: &'static str,
    pub per_month: &'static str,
    pub quiet_hours: &'static str,
    pub sa_quota: &'static str,
    pub no_tasks: &'static str,
    pub send_to: &'static str,
    pub already: &'static str,
    pub preview: &'static str,
    pub sent_flash: &'static str,
    pub moments: &'static str,
    pub moments_help: &'static str,
    pub post: &'static str,
    pub my_moment_help: &'static str,
    pub published_by: &'static str,
    pub seen_by: &'static str,
    pub likes: &'static str,
    pub comments: &'static str,
}

pub const EN: Words = Words {
    campaigns: "Campaigns",
    tasks: "To send",
    segments: "Segments",
    new_segment: "New segment",
    expression: "Who",
    expression_help: "tier:gold AND consent:wecom AND spend>=20000 AND last_purchase:180d AND NOT tag:do-not-disturb · also store:, sa:, city:, language:, last_interaction:30d, birthday:this_month, channel:, OR, ( )",
    clients_match: "clients match",
    count: "Count",
    name: "Name",
    save: "Save",
    new_campaign: "New campaign",
    kind_broadcast: "Broadcast to the whole segment",
    kind_prepared: "Prepared message: each associate sends it to their own clients",
    message: "Message",
    message_help: "Placeholders: {client.first_name}, {client.name}, {sa.name}",
    send_at: "Send at (brand time; now if empty)",
    max_recipients: "At most (recipients)",
    create: "Create",
    plan: "Plan and send",
    cancel: "Cancel",
    planned: "Planned",
    sent: "Sent",
    delivered: "Delivered",
    failed: "Failed",
    suppressed: "Suppressed",
    replies: "Replies",
    opens_note: "Delivered is what WeCom confirms per client; replies are the clients who wrote back within a week. WeCom reports no opens or link clicks for group messages, so none are shown.",
    policy: "Contact policy",
    policy_help: "At most one broadcast per client per calendar day in the client's time zone, always.",
    per_week: "Per client per week",
    per_month: "Per client per month",
    quiet_hours: "Quiet hours",
    sa_quota: "Clients per associate per day",
    no_tasks: "Nothing to send: HQ's prepared messages appear here.",
    send_to: "Send to my clients",
    already: "already sent",
    preview: "Preview",
    sent_flash: "On its way: the messages are queued for WeCom.",
    moments: "Moments",
    moments_help: "A post to clients' Moments, published through each associate's WeCom (all linked associates).",
    post: "Post",
    my_moment_help: "A post your clients see in their Moments.",
    published_by: "published by",
    seen_by: "seen by",
    likes: "likes",
    comments: "comments",
};

pub const ZH: Words = Words {
    campaigns: "营销活动",
    tasks: "待发送",
    segments: "客户分群",
    new_segment: "新建分群",
    expression: "条件",
    expression_help: "tier:gold AND consent:wecom AND spend>=20000 AND last_purchase:180d AND NOT tag:do-not-disturb · 另有 store:、sa:、city:、language:、last_interaction:30d、birthday:this_month、channel:、OR、( )",
    clients_match: "位客户符合",
    count: "计数",
    name: "名称",
    save: "保存",
    new_campaign: "新建活动",
    kind_broadcast: "群发给整个分群",
    kind_prepared: "预置消息：由每位顾问发给自己的客户",
    message: "消息",
    message_help: "占位符：{client.first_name}、{client.name}、{sa.name}",
    send_at: "发送时间（品牌时区；留空即现在）",
    max_recipients: "最多接收人数",
    create: "创建",
    plan: "规划并发送",
    cancel: "取消",
    planned: "已规划",
    sent: "已发送",
    delivered: "已送达",
    failed: "失败",
    suppressed: "已排除",
    replies: "回复",
    opens_note: "送达以企业微信逐一确认为准；回复为一周内回信的客户。企业微信不提供群发消息的打开与点击数据，故不显示。",
    policy: "触达规则",
    policy_help: "每位客户每个自然日（客户所在时区）最多收到一次群发，始终如此。",
    per_week: "每位客户每周",
    per_month: "每位客户每月",
    quiet_hours: "免打扰时段",
    sa_quota: "每位顾问每天客户数",
    no_tasks: "暂无待发送内容：总部预置的消息会显示在这里。",
    send_to: "发送给我的客户",
    already: "已发送",
    preview: "预览",
    sent_flash: "正在发送：消息已排队交给企业微信。",
    moments: "朋友圈",
    moments_help: "发布到客户朋友圈，由每位顾问的企业微信发表（所有已关联的顾问）。",
    post: "发布",
    my_moment_help: "您的客户会在朋友圈看到这条内容。",
    published_by: "已发表顾问",
    seen_by: "可见客户",
    likes: "点赞",
    comments: "评论",
};

fn words(v: &Viewer) -> &'static Words {
    match v.lang {
        Lang::En => &EN,
        Lang::Zh => &ZH,
    }
}

pub(crate) fn words_for(v: &Viewer) -> &'static Words {
    words(v)
}

fn reason_label(s: Suppression) -> &'static str {
    match s {
        Suppression::OptedOut => "opted out",
        Suppression::NoConsent => "no marketing consent",
        Suppression::NoAddress => "not reachable on the channel",
        Suppression::NoSender => "no associate on the channel",
        Suppression::DailyCap => "already one broadcast that day",
        Suppression::WeeklyCap => "weekly cap",
        Suppression::MonthlyCap => "monthly cap",
        Suppression::BrandQuota => "campaign limit",
        Suppression::SaQuota => "associate's daily quota",
        Suppression::ChannelLimit => "refused by the channel",
        Suppression::Cancelled => "cancelled",
    }
}

fn hhmm(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

fn minutes(field: &str, s: &str) -> Result<u16, AppError> {
    let (h, m) = s
        .trim()
        .split_once(':')
        .ok_or_else(|| AppError::invalid(field, "write HH:MM"))?;
    let h: u16 = h
        .parse()
        .map_err(|_| AppError::invalid(field, "write HH:MM"))?;
    let m: u16 = m
        .parse()
        .map_err(|_| AppError::invalid(field, "write HH:MM"))?;
    if h > 23 || m > 59 {
        return Err(AppError::invalid(field, "write HH:MM"));
    }
    Ok(h * 60 + m)
}

pub struct MomentRow {
    text: String,
    status: &'static str,
    senders: usize,
    at: String,
    error: String,
    /// What came of it, once WeCom reported: (published by, seen by, likes, comments).
    reach: Option<(usize, u32, usize, usize)>,
    /// Clients who commented (the first few, with the names the reader may see).
    commented: Vec<(i64, String)>,
}

/// Commenters named per post, at most, and the newest posts that name them: each name is a
/// read of the client, so a long list of posts does not read hundreds.
const COMMENTERS_SHOWN: usize = 6;
const POSTS_NAMING: usize = 10;

async fn moment_rows(
    state: &AppState,
    actor: &app::Actor,
    moments: Vec<domain::Moment>,
) -> Vec<MomentRow> {
    let tz = actor.brand.time_zone.as_str();
    let mut out = Vec::with_capacity(moments.len());
    for (i, m) in moments.into_iter().enumerate() {
        let mut commented = Vec::new();
        let named = if i < POSTS_NAMING {
            COMMENTERS_SHOWN
        } else {
            0
        };
        for id in m
            .reach
            .iter()
            .flat_map(|r| r.commented_by.iter())
            .take(named)
        {
            // A client out of the reader's scope is not named.
            if let Ok(c) = state.salon.client(actor, *id).await {
                commented.push((id.0, c.pii.display_name()));
            }
        }
        out.push(MomentRow {
            status: m.status.as_str(),
            senders: m.senders.len(),
            at: datetime(m.created_at, tz),
            reach: m.checked_at.map(|_| m.totals()),
            error: m.error.clone().unwrap_or_default(),
            text: m.text,
            commented,
        });
    }
    out
}

pub struct SegmentRow {
    id: i64,
    name: String,
    expression: String,
    count: u64,
}

pub struct CampaignRow {
    id: i64,
    name: String,
    kind: &'static str,
    status: &'static str,
    expression: String,
    text: String,
    send_at: String,
    planned: u64,
    sent: u64,
    delivered: u64,
    failed: u64,
    suppressed: u64,
    replies: u64,
    reasons: Vec<(&'static str, u64)>,
    can_plan: bool,
    can_cancel: bool,
}

#[derive(Template)]
#[template(path = "campaigns.html")]
struct CampaignsPage {
    c: Chrome,
    w: &'static Words,
    segments: Vec<SegmentRow>,
    campaigns: Vec<CampaignRow>,
    can_manage: bool,
    policy: ContactPolicy,
    moments: Vec<MomentRow>,
    quiet_start: String,
    quiet_end: String,
    errors: Vec<String>,
    form: CampaignForm,
    /// Approved images a campaign may carry: (id, title).
    images: Vec<(i64, String)>,
}

#[derive(Deserialize, Default, Clone)]
pub struct CampaignForm {
    name: String,
    kind: Option<String>,
    segment_id: Option<String>,
    expression: Option<String>,
    text: String,
    send_at: Option<String>,
    max_recipients: Option<String>,
    /// Checked images: `asset_<id>=on`.
    #[serde(flatten)]
    extra: std::collections::HashMap<String, String>,
}

async fn campaigns_page(
    state: &AppState,
    v: &Viewer,
    errors: Vec<String>,
    form: CampaignForm,
) -> PageResult {
    let a = &v.actor;
    let w = words(v);
    let tz = a.brand.time_zone.as_str();
    let mut segments = Vec::new();
    for s in state.salon.segments(a).await? {
        let count = state
            .salon
            .count_segment(a, &s.expression)
            .await
            .map(|c| c.count)
            .unwrap_or(0);
        segments.push(SegmentRow {
            id: s.id,
            name: s.name,
            expression: s.expression,
            count,
        });
    }
    let can_manage = a.can(Action::ManageCampaigns);
    let campaigns = state
        .salon
        .campaigns(a)
        .await?
        .into_iter()
        .map(|cv| {
            let c = cv.campaign;
            let r = cv.report;
            CampaignRow {
                id: c.id,
                name: c.name,
                kind: c.kind.as_str(),
                status: c.status.as_str(),
                expression: c.expression,
                text: c.template.as_str().to_owned(),
                send_at: datetime(c.send_at, tz),
                planned: r.planned + r.sending,
                sent: r.sent,
                delivered: r.delivered,
                failed: r.failed,
                suppressed: r.suppressed,
                replies: r.replies,
                reasons: r
                    .suppressed_by
                    .iter()
                    .map(|(s, n)| (reason_label(*s), *n))
                    .collect(),
                can_plan: can_manage
                    && c.kind == CampaignKind::Broadcast
                    && c.status == CampaignStatus::Draft,
                can_cancel: can_manage
                    && matches!(c.status, CampaignStatus::Draft | CampaignStatus::Planned),
            }
        })
        .collect();
    let policy = state.salon.contact_policy(a).await?;
    let has_errors = !errors.is_empty();
    render_form(
        &CampaignsPage {
            c: chrome(v, "/campaigns", "/campaigns", None),
            w,
            segments,
            campaigns,
            can_manage,
            moments: moment_rows(state, a, state.salon.moments(a).await?).await,
            quiet_start: hhmm(policy.quiet_start),
            quiet_end: hhmm(policy.quiet_end),
            policy,
            errors,
            form,
            images: if a.can(Action::ManageCampaigns) {
                let now = domain::now_millis();
                state
                    .salon
                    .assets(a)
                    .await?
                    .into_iter()
                    .filter(|x| x.usable_at(now))
                    .map(|x| (x.id, x.title))
                    .collect()
            } else {
                vec![]
            },
        },
        has_errors,
    )
}

pub async fn campaigns(State(state): State<AppState>, v: Viewer) -> PageResult {
    campaigns_page(&state, &v, vec![], CampaignForm::default()).await
}

/// The images ticked in a form: its `asset_<id>` fields.
fn checked_images(fields: &std::collections::HashMap<String, String>) -> Vec<i64> {
    fields
        .keys()
        .filter_map(|k| k.strip_prefix("asset_").and_then(|id| id.parse().ok()))
        .collect()
}

fn opt(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

pub async fn create_campaign(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<WithCsrf<CampaignForm>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let form = f.input;
    let tz = v.actor.brand.time_zone.as_str().to_owned();
    let parsed = (|| -> Result<CampaignInput, AppError> {
        let send_at = match opt(&form.send_at) {
            None => None,
            Some(t) => {
                let dt: jiff::civil::DateTime = t
                    .parse()
                    .map_err(|_| AppError::invalid("send_at", "write a date and time"))?;
                Some(
                    dt.to_zoned(jiff::tz::TimeZone::get(&tz).unwrap_or(jiff::tz::TimeZone::UTC))
                        .map_err(|_| {
                            AppError::invalid("send_at", "not a time in the brand's zone")
                        })?
                        .timestamp()
                        .as_millisecond(),
                )
            }
        };
        Ok(CampaignInput {
            name: form.name.clone(),
            kind: match opt(&form.kind) {
                Some("prepared") => CampaignKind::Prepared,
                _ => CampaignKind::Broadcast,
            },
            segment_id: opt(&form.segment_id).and_then(|s| s.parse().ok()),
            expression: opt(&form.expression).map(str::to_owned),
            text: form.text.clone(),
            send_at,
            asset_ids: checked_images(&form.extra),
            max_recipients: match opt(&form.max_recipients) {
                None => None,
                Some(m) => {
                    Some(m.parse().map_err(|_| {
                        AppError::invalid("max_recipients", "must be a whole number")
                    })?)
                }
            },
        })
    })();
    let result = match parsed {
        Ok(input) => state.salon.create_campaign(&v.actor, input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(to("/campaigns")),
        Err(e) => campaigns_page(&state, &v, field_errors(e)?, form).await,
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn plan_campaign(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<WithCsrf<Empty>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    match state.salon.plan_campaign(&v.actor, id).await {
        Ok(_) => Ok(to("/campaigns")),
        Err(e) => campaigns_page(&state, &v, field_errors(e)?, CampaignForm::default()).await,
    }
}

pub async fn cancel_campaign(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<WithCsrf<Empty>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    match state.salon.cancel_campaign(&v.actor, id).await {
        Ok(_) => Ok(to("/campaigns")),
        Err(e) => campaigns_page(&state, &v, field_errors(e)?, CampaignForm::default()).await,
    }
}

#[derive(Deserialize)]
pub struct SegmentForm {
    name: String,
    expression: String,
}

pub async fn save_segment(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<WithCsrf<SegmentForm>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    match state
        .salon
        .save_segment(&v.actor, None, &f.input.name, &f.input.expression)
        .await
    {
        Ok(_) => Ok(to("/campaigns")),
        Err(e) => campaigns_page(&state, &v, field_errors(e)?, CampaignForm::default()).await,
    }
}

#[derive(Deserialize)]
pub struct PolicyForm {
    per_week: u32,
    per_month: u32,
    quiet_start: String,
    quiet_end: String,
    sa_daily_quota: u32,
}

pub async fn save_policy(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<WithCsrf<PolicyForm>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let i = f.input;
    let result = match (
        minutes("quiet_start", &i.quiet_start),
        minutes("quiet_end", &i.quiet_end),
    ) {
        (Ok(quiet_start), Ok(quiet_end)) => {
            let p = ContactPolicy {
                per_week: i.per_week,
                per_month: i.per_month,
                quiet_start,
                quiet_end,
                sa_daily_quota: i.sa_daily_quota,
            };
            state.salon.set_contact_policy(&v.actor, &p).await
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match result {
        Ok(()) => Ok(to("/campaigns")),
        Err(e) => campaigns_page(&state, &v, field_errors(e)?, CampaignForm::default()).await,
    }
}

#[derive(Deserialize)]
pub struct CountQuery {
    expression: String,
}

/// The live count behind the segment editor (JSON, for the page's script).
pub async fn count(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<CountQuery>,
) -> Result<axum::response::Response, PageError> {
    match state.salon.count_segment(&v.actor, &q.expression).await {
        Ok(c) => Ok(Json(serde_json::json!({"count": c.count, "of": c.of, "expression": c.expression})).into_response()),
        Err(AppError::Invalid(f)) => Ok((
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({"error": f.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("; ")})),
        )
            .into_response()),
        Err(e) => Err(PageError(e)),
    }
}

pub struct TaskRow {
    id: i64,
    name: String,
    preview: String,
    clients: Vec<String>,
    more: usize,
    todo: usize,
    done: u64,
}

#[derive(Template)]
#[template(path = "tasks.html")]
struct TasksPage {
    c: Chrome,
    w: &'static Words,
    tasks: Vec<TaskRow>,
    moments: Vec<MomentRow>,
    /// Approved images an associate may post: (id, title).
    images: Vec<(i64, String)>,
    sent: bool,
    errors: Vec<String>,
}

#[derive(Deserialize, Default)]
pub struct TasksQuery {
    sent: Option<String>,
}

async fn tasks_page(state: &AppState, v: &Viewer, sent: bool, errors: Vec<String>) -> PageResult {
    let w = words(v);
    let tasks = state
        .salon
        .tasks(&v.actor)
        .await?
        .into_iter()
        .map(|t| TaskRow {
            id: t.campaign.id,
            name: t.campaign.name,
            preview: t.preview,
            todo: t.clients.len(),
            more: t.clients.len().saturating_sub(12),
            clients: t.clients.into_iter().take(12).map(|(_, n)| n).collect(),
            done: t.done,
        })
        .collect();
    let has_errors = !errors.is_empty();
    render_form(
        &TasksPage {
            c: chrome(v, "/tasks", "/tasks", None),
            w,
            tasks,
            moments: moment_rows(state, &v.actor, state.salon.moments(&v.actor).await?).await,
            images: state
                .salon
                .assets(&v.actor)
                .await?
                .into_iter()
                .map(|x| (x.id, x.title))
                .collect(),
            sent,
            errors,
        },
        has_errors,
    )
}

pub async fn tasks(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<TasksQuery>,
) -> PageResult {
    tasks_page(&state, &v, q.sent.is_some(), vec![]).await
}

pub async fn send_task(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<WithCsrf<Empty>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    match state.salon.send_prepared(&v.actor, id).await {
        Ok(_) => Ok(to("/tasks?sent=1")),
        Err(e) => tasks_page(&state, &v, false, field_errors(e)?).await,
    }
}

#[derive(Deserialize)]
pub struct MomentForm {
    text: String,
    /// Checked images: `asset_<id>=on`.
    #[serde(flatten)]
    extra: std::collections::HashMap<String, String>,
}

/// A Moments post: HQ's for every linked associate, an associate's for their own clients.
pub async fn post_moment(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<WithCsrf<MomentForm>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let back = if v.actor.role == domain::Role::Associate {
        "/tasks"
    } else {
        "/campaigns"
    };
    let images = checked_images(&f.input.extra);
    match state
        .salon
        .create_moment(&v.actor, &f.input.text, &[], &images)
        .await
    {
        Ok(_) => Ok(to(back)),
        Err(AppError::Blocked { rule, .. }) if back == "/tasks" => {
            tasks_page(
                &state,
                &v,
                false,
                vec![format!("blocked by the rule \"{rule}\"")],
            )
            .await
        }
        Err(AppError::Blocked { rule, .. }) => {
            campaigns_page(
                &state,
                &v,
                vec![format!("blocked by the rule \"{rule}\"")],
                CampaignForm::default(),
            )
            .await
        }
        Err(e) if back == "/tasks" => tasks_page(&state, &v, false, field_errors(e)?).await,
        Err(e) => campaigns_page(&state, &v, field_errors(e)?, CampaignForm::default()).await,
    }
}
