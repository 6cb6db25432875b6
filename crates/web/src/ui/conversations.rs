//! Conversation pages: the associate's inbox and a client's thread (mobile-first), and the
//! compliance desk: the review queue, service quality, the monitoring rules and the audit log.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;

use app::AppError;
use app::compliance::RuleInput;
use app::conversations::{ServiceReport, outbound_label};
use domain::{Action, ClientId, Direction, FlagStatus, Matcher, Role};

use super::Viewer;
use super::format::datetime;
use super::pages::{Chrome, PageResult, WithCsrf, chrome, field_errors, render, render_form, to};
use crate::{AppState, PageError};

/// The labels of these pages, in both languages.
pub struct Words {
    pub inbox: &'static str,
    pub compliance: &'static str,
    pub no_conversations: &'static str,
    pub unread: &'static str,
    pub flagged: &'static str,
    pub write: &'static str,
    pub send: &'static str,
    pub quick_replies: &'static str,
    pub attach: &'static str,
    pub profile: &'static str,
    pub notes: &'static str,
    pub purchases: &'static str,
    pub sending: &'static str,
    pub not_delivered: &'static str,
    pub blocked: &'static str,
    pub warned: &'static str,
    pub queued: &'static str,
    pub read_only_thread: &'static str,
    pub review_queue: &'static str,
    pub resolve: &'static str,
    pub dismiss: &'static str,
    pub note: &'static str,
    pub rules: &'static str,
    pub audit_log: &'static str,
    pub chain_holds: &'static str,
    pub chain_broken: &'static str,
    pub service_quality: &'static str,
    pub response_rate: &'static str,
    pub first_response: &'static str,
    pub waiting: &'static str,
    pub overdue: &'static str,
    pub counts_by_rule: &'static str,
    pub new_rule: &'static str,
    pub save: &'static str,
    pub export: &'static str,
    pub open_items: &'static str,
    pub search: &'static str,
    pub search_hint: &'static str,
    pub nothing_found: &'static str,
    pub only_flagged: &'static str,
    pub in_groups: &'static str,
    pub quick: [&'static str; 4],
}

pub const EN: Words = Words {
    inbox: "Inbox",
    compliance: "Compliance",
    no_conversations: "No conversation yet. Clients who add you on WeCom appear here.",
    unread: "unread",
    flagged: "flagged",
    write: "Write to the client",
    send: "Send",
    quick_replies: "Quick replies",
    attach: "Attach from the asset pool",
    profile: "Profile",
    notes: "Notes",
    purchases: "Purchases",
    sending: "sending",
    not_delivered: "not delivered",
    blocked: "Not sent",
    warned: "Sent, with a warning",
    queued: "Queued: the message is on its way.",
    read_only_thread: "You read this thread; you cannot write in it.",
    review_queue: "Review queue",
    resolve: "Resolve",
    dismiss: "Dismiss",
    note: "Note",
    rules: "Monitoring rules",
    audit_log: "Audit log",
    chain_holds: "The chain holds",
    chain_broken: "The chain is broken",
    service_quality: "Service quality",
    response_rate: "Response rate",
    first_response: "Median first response (business min)",
    waiting: "Waiting",
    overdue: "Clients waiting past the limit",
    counts_by_rule: "Flags by associate and rule",
    new_rule: "New rule",
    save: "Save",
    export: "Export",
    open_items: "open review items in your store",
    search: "Search the archive",
    search_hint: "Words in Chinese or English: 手袋, scarf, 八折…",
    nothing_found: "No message matches.",
    only_flagged: "Flagged only",
    in_groups: "In group chats",
    quick: [
        "Thank you for your message, I will get back to you shortly.",
        "I have set it aside for you in store.",
        "Would you like to book a private appointment?",
        "Our new collection has arrived, may I send you a preview?",
    ],
};

pub const ZH: Words = Words {
    inbox: "消息",
    compliance: "合规",
    no_conversations: "还没有会话。通过企业微信添加您的客户会显示在这里。",
    unread: "未读",
    flagged: "已标记",
    write: "给客户发消息",
    send: "发送",
    quick_replies: "快捷回复",
    attach: "从素材库添加",
    profile: "客户资料",
    notes: "备注",
    purchases: "购买记录",
    sending: "发送中",
    not_delivered: "未送达",
    blocked: "未发送",
    warned: "已发送（有提醒）",
    queued: "已排队：消息正在发送。",
    read_only_thread: "您可以查看此会话，但不能发送消息。",
    review_queue: "审核队列",
    resolve: "处理完毕",
    dismiss: "忽略",
    note: "说明",
    rules: "监控规则",
    audit_log: "审计日志",
    chain_holds: "哈希链完整",
    chain_broken: "哈希链已损坏",
    service_quality: "服务质量",
    response_rate: "回复率",
    first_response: "首次回复中位数（营业时间分钟）",
    waiting: "等待中",
    overdue: "超时未回复的客户",
    counts_by_rule: "按顾问和规则统计",
    new_rule: "新规则",
    save: "保存",
    export: "导出",
    open_items: "条本店待审核记录",
    search: "搜索聊天存档",
    search_hint: "中文或英文关键词：手袋、scarf、八折……",
    nothing_found: "没有匹配的消息。",
    only_flagged: "仅看已标记",
    in_groups: "客户群中",
    quick: [
        "感谢您的消息，我稍后回复您。",
        "我已经在店里为您预留了。",
        "需要为您预约私人时段吗？",
        "新系列已经到店，可以发给您预览吗？",
    ],
};

pub(crate) fn words_for(v: &Viewer) -> &'static Words {
    words(v)
}

fn words(v: &Viewer) -> &'static Words {
    match v.lang {
        super::Lang::En => &EN,
        super::Lang::Zh => &ZH,
    }
}

fn client_id(raw: &str) -> Result<ClientId, PageError> {
    raw.parse()
        .map(ClientId)
        .map_err(|_| PageError(AppError::NotFound("client")))
}

pub struct InboxRow {
    href: String,
    client: String,
    associate: String,
    last: String,
    outbound: bool,
    at: String,
    unread: i64,
    flags: i64,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    c: Chrome,
    w: &'static Words,
    rows: Vec<InboxRow>,
    notice: Option<String>,
    overdue: Vec<String>,
}

pub async fn inbox(State(state): State<AppState>, v: Viewer) -> PageResult {
    let a = &v.actor;
    let w = words(&v);
    let items = state.salon.inbox(a, 200).await?;
    let rows = items
        .iter()
        .cloned()
        .map(|i| InboxRow {
            href: format!("/inbox/{}", i.summary.client_id.0),
            client: i.client_name,
            associate: i.associate_name.unwrap_or_default(),
            last: i.summary.last.body.chars().take(80).collect(),
            outbound: i.summary.last.direction == Direction::Out,
            at: datetime(i.summary.last.at, a.brand.time_zone.as_str()),
            unread: i.summary.unread,
            flags: i.summary.open_flags,
        })
        .collect();
    let notice = match (a.role, a.store) {
        (Role::StoreManager, Some(store)) => {
            let n = state.salon.open_flags_in_store(a.brand.id, store).await?;
            (n > 0).then(|| format!("{n} {}", w.open_items))
        }
        _ => None,
    };
    let overdue = state
        .salon
        .overdue_in(a, &items)
        .await?
        .into_iter()
        .map(|o| {
            format!(
                "{} · {:.0} min{}",
                o.client_name,
                o.waited_min,
                if o.escalated { " ⚠" } else { "" }
            )
        })
        .collect();
    render(&InboxPage {
        c: chrome(&v, "/inbox", "/inbox", None),
        w,
        rows,
        notice,
        overdue,
    })
}

/// A link or mini-program card in a bubble.
pub struct CardView {
    /// "Link" or "Mini Program".
    pub(crate) label: &'static str,
    pub(crate) title: String,
    pub(crate) detail: String,
    /// Where a link leads, when it is a web address.
    pub(crate) href: Option<String>,
    /// The web address or the mini-program page, shown small.
    pub(crate) source: String,
}

pub(crate) fn card_view(card: &domain::Card) -> CardView {
    match card {
        domain::Card::Link {
            title,
            description,
            url,
        } => CardView {
            label: "Link",
            title: title.clone(),
            detail: description.clone(),
            href: card.href().map(str::to_owned),
            source: url.clone(),
        },
        domain::Card::MiniProgram {
            title,
            app_id,
            page_path,
        } => CardView {
            label: "Mini Program",
            title: title.clone(),
            detail: String::new(),
            href: None,
            source: format!("{app_id} · {page_path}"),
        },
    }
}

pub struct Bubble {
    /// A system notice (a transfer), not a message.
    pub(crate) system: bool,
    pub(crate) card: Option<CardView>,
    pub(crate) text: String,
    pub(crate) outbound: bool,
    pub(crate) at: String,
    pub(crate) who: String,
    pub(crate) status: &'static str,
    pub(crate) flags: Vec<String>,
}

pub struct FlagRow {
    id: i64,
    href: String,
    rule: String,
    category: &'static str,
    severity: &'static str,
    action: &'static str,
    matched: String,
    direction: &'static str,
    status: &'static str,
    note: String,
    at: String,
    associate: String,
    open: bool,
}

#[derive(Template)]
#[template(path = "thread.html")]
struct ThreadPage {
    c: Chrome,
    w: &'static Words,
    client_id: i64,
    client: String,
    tier: String,
    spend: String,
    tags: String,
    associate: String,
    bubbles: Vec<Bubble>,
    notes: Vec<String>,
    purchases: Vec<String>,
    can_send: bool,
    can_export: bool,
    error: Option<String>,
    ok: Option<String>,
    draft: String,
    idem: String,
    /// Approved images the associate may send: (id, title).
    images: Vec<(i64, String)>,
}

#[derive(Deserialize, Default)]
pub struct ThreadQuery {
    ok: Option<String>,
}

async fn thread_page(
    state: &AppState,
    v: &Viewer,
    id: ClientId,
    error: Option<String>,
    ok: Option<String>,
    draft: String,
) -> PageResult {
    let a = &v.actor;
    let w = words(v);
    let t = state.salon.thread(a, id).await?;
    let tz = a.brand.time_zone.as_str();
    let name_of = |u: Option<domain::UserId>| {
        u.and_then(|u| t.associates.get(&u.0).cloned())
            .unwrap_or_default()
    };
    let mut timed: Vec<(domain::Millis, Bubble)> = t
        .messages
        .iter()
        .map(|m| {
            (
                m.at,
                Bubble {
                    system: false,
                    card: m.card.as_ref().map(card_view),
                    text: m.body.clone(),
                    outbound: m.direction == Direction::Out,
                    at: datetime(m.at, tz),
                    who: if m.direction == Direction::Out {
                        name_of(m.associate_id)
                    } else {
                        String::new()
                    },
                    status: "",
                    flags: t
                        .flags
                        .iter()
                        .filter(|f| f.message_id == Some(m.id))
                        .map(|f| format!("{} · {}", f.rule, f.matched))
                        .collect(),
                },
            )
        })
        .collect();
    timed.extend(t.notices.iter().map(|n| {
        (
            n.at,
            Bubble {
                system: true,
                card: None,
                text: n.text.clone(),
                outbound: false,
                at: datetime(n.at, tz),
                who: String::new(),
                status: "",
                flags: Vec::new(),
            },
        )
    }));
    // Messages and notices in time order (a stable sort keeps equal times as stored).
    timed.sort_by_key(|(at, _)| *at);
    let mut bubbles: Vec<Bubble> = timed.into_iter().map(|(_, b)| b).collect();
    for o in t.pending.iter().rev() {
        bubbles.push(Bubble {
            system: false,
            card: None,
            text: o.body.clone(),
            outbound: true,
            at: datetime(o.created_at, tz),
            who: name_of(o.associate_id),
            status: if outbound_label(o) == "not delivered" {
                w.not_delivered
            } else {
                w.sending
            },
            flags: o.error.iter().cloned().collect(),
        });
    }
    let profile = state.salon.client_profile(a, id).await?;
    let purchases = profile
        .timeline
        .iter()
        .filter(|e| e.kind == "purchase")
        .take(5)
        .map(|e| {
            format!(
                "{} · {}",
                super::format::date(e.at, tz),
                super::format::money(
                    e.detail["amount_minor"].as_i64().unwrap_or(0),
                    e.detail["currency"].as_str()
                )
            )
        })
        .collect();
    let c = &t.client;
    render(&ThreadPage {
        c: chrome(v, "/inbox", &format!("/inbox/{}", id.0), None),
        w,
        client_id: id.0,
        client: c.pii.display_name(),
        tier: c.tier.clone().unwrap_or_default(),
        spend: super::format::money(c.lifetime_spend_minor, c.currency.as_deref()),
        tags: c
            .tags
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        associate: name_of(c.associate_id),
        bubbles,
        notes: profile
            .notes
            .iter()
            .take(5)
            .map(|n| n.text.clone())
            .collect(),
        purchases,
        can_send: t.can_send,
        can_export: a.can(Action::ExportConversations),
        error,
        ok,
        draft,
        idem: app::auth::new_secret("ui-"),
        images: if t.can_send && a.can(Action::ReadAssets) {
            state
                .salon
                .assets(a)
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|x| x.usable_at(domain::now_millis()))
                .map(|x| (x.id, x.title))
                .collect()
        } else {
            vec![]
        },
    })
}

#[derive(Deserialize)]
pub struct ImageForm {
    asset_id: i64,
    idem: Option<String>,
}

/// The 📎 picker: an approved image sent to the client through the outbox.
pub async fn send_image(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<WithCsrf<ImageForm>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let id = client_id(&id)?;
    match state
        .salon
        .send_image(&v.actor, id, f.input.asset_id, f.input.idem.as_deref())
        .await
    {
        Ok(_) => Ok(to(&format!("/inbox/{}?ok=queued#compose", id.0))),
        Err(e @ AppError::Invalid(_)) => {
            let msg = field_errors(e)?.join("; ");
            refused(&state, &v, id, msg, String::new()).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The thread again, answered 422, with why the message was refused and its draft kept.
async fn refused(
    state: &AppState,
    v: &Viewer,
    id: ClientId,
    msg: String,
    draft: String,
) -> PageResult {
    let mut page = thread_page(state, v, id, Some(msg), None, draft).await?;
    *page.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    Ok(page)
}

pub async fn thread(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<ThreadQuery>,
) -> PageResult {
    let ok = q.ok.map(|o| {
        if o == "warned" {
            words(&v).warned.to_owned()
        } else {
            words(&v).queued.to_owned()
        }
    });
    thread_page(&state, &v, client_id(&id)?, None, ok, String::new()).await
}

#[derive(Deserialize)]
pub struct SendForm {
    pub(crate) text: String,
    pub(crate) idem: Option<String>,
}

pub async fn send(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<WithCsrf<SendForm>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let id = client_id(&id)?;
    match state
        .salon
        .send_message(&v.actor, id, &f.input.text, f.input.idem.as_deref())
        .await
    {
        Ok(sent) => {
            // Give the dispatcher a moment, so that the page usually shows the message sent.
            for _ in 0..20 {
                match state
                    .salon
                    .repo
                    .outbound(v.actor.brand.id, sent.outbound.id)
                    .await
                {
                    Ok(Some(o)) if o.status == domain::OutboundStatus::Sent => break,
                    _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
                }
            }
            let ok = if sent.warnings.is_empty() {
                "queued"
            } else {
                "warned"
            };
            Ok(to(&format!("/inbox/{}?ok={ok}#compose", id.0)))
        }
        Err(e) => {
            let msg = refusal(e, words(&v).blocked)?;
            refused(&state, &v, id, msg, f.input.text).await
        }
    }
}

/// What to tell the writer of a message that was not taken: a rule that blocks it (after
/// `blocked`), or what is wrong with it. Any other error is the page's.
pub(crate) fn refusal(e: AppError, blocked: &str) -> Result<String, PageError> {
    match e {
        e @ AppError::Blocked { .. } => Ok(format!("{blocked}: {e}")),
        e @ AppError::Invalid(_) => Ok(field_errors(e)?.join("; ")),
        e => Err(PageError(e)),
    }
}

#[derive(Deserialize)]
pub struct ExportQuery {
    pub(crate) format: Option<String>,
}

pub async fn export(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<axum::response::Response, PageError> {
    let id = client_id(&id)?;
    let format = q.format.unwrap_or_else(|| "jsonl".into());
    let (body, content_type) = state.salon.export_thread(&v.actor, id, &format).await?;
    Ok(download(
        &format!("thread-{}", id.0),
        &format,
        content_type,
        body,
    ))
}

/// An export as a file download: `NAME.csv` or `NAME.jsonl`.
pub(crate) fn download(
    name: &str,
    format: &str,
    content_type: &str,
    body: String,
) -> axum::response::Response {
    let ext = if format == "csv" { "csv" } else { "jsonl" };
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{ext}\""),
            ),
        ],
        body,
    )
        .into_response()
}

pub struct ServiceRow {
    associate: String,
    turns: u32,
    rate: String,
    median: String,
    waiting: u32,
    overdue: u32,
}

pub struct CountRow {
    associate: String,
    rule: String,
    open: i64,
    total: i64,
}

#[derive(Template)]
#[template(path = "compliance.html")]
struct CompliancePage {
    c: Chrome,
    w: &'static Words,
    flags: Vec<FlagRow>,
    status: String,
    can_review: bool,
    can_queue: bool,
    can_search: bool,
    service: Vec<ServiceRow>,
    overdue: Vec<String>,
    counts: Vec<CountRow>,
    errors: Vec<String>,
}

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    status: Option<String>,
}

fn service_rows(r: &ServiceReport) -> (Vec<ServiceRow>, Vec<String>) {
    let rows = r
        .by_associate
        .iter()
        .map(|f| ServiceRow {
            associate: f.associate.clone(),
            turns: f.turns,
            rate: format!("{:.0} %", f.response_rate * 100.0),
            median: f
                .median_first_response_min
                .map(|m| format!("{m:.0}"))
                .unwrap_or_else(|| "–".into()),
            waiting: f.waiting,
            overdue: f.overdue,
        })
        .collect();
    let overdue = r
        .overdue
        .iter()
        .map(|o| {
            format!(
                "{} · {:.0} min{}",
                o.client_name,
                o.waited_min,
                if o.escalated { " ⚠" } else { "" }
            )
        })
        .collect();
    (rows, overdue)
}

async fn compliance_page(
    state: &AppState,
    v: &Viewer,
    status: Option<String>,
    errors: Vec<String>,
) -> PageResult {
    let a = &v.actor;
    let w = words(v);
    let tz = a.brand.time_zone.as_str();
    let status_filter = match status.as_deref() {
        None | Some("open") => Some(FlagStatus::Open),
        Some("all") => None,
        Some(s) => FlagStatus::parse(s),
    };
    let names = state.salon.staff_names(a.brand.id).await?;
    let name =
        |u: Option<domain::UserId>| u.and_then(|u| names.get(&u.0).cloned()).unwrap_or_default();
    let queue = if a.can(Action::ReadFlags) {
        state.salon.review_queue(a, status_filter, 300).await?
    } else {
        Vec::new()
    };
    let flags = queue
        .into_iter()
        .map(|f| FlagRow {
            id: f.id,
            href: match (f.group_id, f.client_id) {
                (Some(g), _) => format!("/groups/{g}"),
                (None, Some(c)) => format!("/inbox/{}", c.0),
                (None, None) => "/compliance".into(),
            },
            rule: f.rule.clone(),
            category: f.category.as_str(),
            severity: f.severity.as_str(),
            action: f.action.as_str(),
            matched: f.matched.clone(),
            direction: if f.direction == Direction::In {
                "client"
            } else {
                "associate"
            },
            status: f.status.as_str(),
            note: f.note.clone().unwrap_or_default(),
            at: datetime(f.created_at, tz),
            associate: name(f.associate_id),
            open: f.status == FlagStatus::Open,
        })
        .collect();
    let figures = a.can(Action::ReadConversationFigures);
    let (service, overdue) = if figures {
        service_rows(&state.salon.service_quality(a).await?)
    } else {
        (Vec::new(), Vec::new())
    };
    let counts = if figures {
        state.salon.flag_counts(a).await?
    } else {
        Vec::new()
    };
    let counts = counts
        .into_iter()
        .map(|c| CountRow {
            associate: name(c.associate_id),
            rule: c.rule,
            open: c.open,
            total: c.total,
        })
        .collect();
    let has_errors = !errors.is_empty();
    render_form(
        &CompliancePage {
            c: chrome(v, "/compliance", "/compliance", None),
            w,
            flags,
            status: status.unwrap_or_else(|| "open".into()),
            can_review: a.can(Action::ReviewFlags),
            can_queue: a.can(Action::ReadFlags),
            can_search: a.can(Action::ReadConversations),
            service,
            overdue,
            counts,
            errors,
        },
        has_errors,
    )
}

pub async fn compliance(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<QueueQuery>,
) -> PageResult {
    compliance_page(&state, &v, q.status, vec![]).await
}

#[derive(Deserialize)]
pub struct ReviewForm {
    outcome: String,
    note: Option<String>,
}

pub async fn review(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<WithCsrf<ReviewForm>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    match state
        .salon
        .review_flag(
            &v.actor,
            id,
            &f.input.outcome,
            f.input.note.as_deref().unwrap_or(""),
        )
        .await
    {
        Ok(_) => Ok(to("/compliance")),
        Err(e) => compliance_page(&state, &v, None, field_errors(e)?).await,
    }
}

pub struct RuleRow {
    id: i64,
    name: String,
    category: &'static str,
    severity: &'static str,
    action: &'static str,
    what: String,
    words: String,
    pattern: String,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "rules.html")]
struct RulesPage {
    c: Chrome,
    w: &'static Words,
    rules: Vec<RuleRow>,
    can_manage: bool,
    errors: Vec<String>,
    categories: Vec<&'static str>,
}

async fn rules_page(state: &AppState, v: &Viewer, errors: Vec<String>) -> PageResult {
    let a = &v.actor;
    let rules = state
        .salon
        .list_rules(a)
        .await?
        .into_iter()
        .map(|r| RuleRow {
            id: r.id,
            name: r.name,
            category: r.category.as_str(),
            severity: r.severity.as_str(),
            action: r.action.as_str(),
            what: match &r.matcher {
                Matcher::Words(w) => w.join(", "),
                Matcher::Pattern(p) => format!("/{p}/"),
            },
            words: match &r.matcher {
                Matcher::Words(w) => w.join("\n"),
                Matcher::Pattern(_) => String::new(),
            },
            pattern: match &r.matcher {
                Matcher::Pattern(p) => p.clone(),
                Matcher::Words(_) => String::new(),
            },
            enabled: r.enabled,
        })
        .collect();
    let has_errors = !errors.is_empty();
    render_form(
        &RulesPage {
            c: chrome(v, "/compliance", "/compliance/rules", None),
            w: words(v),
            rules,
            can_manage: a.can(Action::ManageRules),
            errors,
            categories: domain::Category::ALL.iter().map(|c| c.as_str()).collect(),
        },
        has_errors,
    )
}

pub async fn rules(State(state): State<AppState>, v: Viewer) -> PageResult {
    rules_page(&state, &v, vec![]).await
}

#[derive(Deserialize)]
pub struct RuleForm {
    id: Option<i64>,
    name: String,
    category: String,
    severity: String,
    action: String,
    words: Option<String>,
    pattern: Option<String>,
    enabled: Option<String>,
}

pub async fn save_rule(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<WithCsrf<RuleForm>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let i = f.input;
    let input = RuleInput {
        name: i.name,
        category: i.category,
        severity: i.severity,
        action: i.action,
        words: i.words,
        pattern: i.pattern,
        enabled: i.enabled.is_some(),
    };
    match state.salon.put_rule(&v.actor, i.id, &input).await {
        Ok(_) => Ok(to("/compliance/rules")),
        Err(e) => rules_page(&state, &v, field_errors(e)?).await,
    }
}

pub struct AuditRow {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    subject: String,
    detail: String,
    hash: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    c: Chrome,
    w: &'static Words,
    rows: Vec<AuditRow>,
    verdict: String,
    holds: bool,
}

pub async fn audit(State(state): State<AppState>, v: Viewer) -> PageResult {
    let a = &v.actor;
    let entries = state.salon.audit_log(a, 0, 5000).await?;
    let (verdict, holds) = match state.salon.verify_audit(a.brand.id).await? {
        Ok(n) => (format!("{} · {n}", words(&v).chain_holds), true),
        Err(b) => (
            format!("{} · #{}: {}", words(&v).chain_broken, b.seq, b.reason),
            false,
        ),
    };
    let tz = a.brand.time_zone.as_str();
    let rows = entries
        .into_iter()
        .rev()
        .map(|e| AuditRow {
            seq: e.seq,
            at: datetime(e.at, tz),
            actor: e.actor,
            action: e.action,
            subject: e.subject,
            detail: e.detail,
            hash: e.hash.chars().take(12).collect(),
        })
        .collect();
    render(&AuditPage {
        c: chrome(&v, "/compliance", "/compliance/audit", None),
        w: words(&v),
        rows,
        verdict,
        holds,
    })
}

pub struct FoundRow {
    href: String,
    client: String,
    text: String,
    outbound: bool,
    at: String,
}

#[derive(Template)]
#[template(path = "archive.html")]
struct ArchivePage {
    c: Chrome,
    w: &'static Words,
    q: String,
    from: String,
    to: String,
    store: String,
    flagged: bool,
    rows: Vec<FoundRow>,
    group_rows: Vec<FoundRow>,
    searched: bool,
    export_query: String,
    can_export: bool,
    errors: Vec<String>,
}

/// The search form's fields (a checkbox sends "on").
#[derive(Deserialize, Default)]
pub struct ArchiveForm {
    q: Option<String>,
    from: Option<String>,
    to: Option<String>,
    store: Option<String>,
    flagged: Option<String>,
}

pub async fn archive(
    State(state): State<AppState>,
    v: Viewer,
    Query(f): Query<ArchiveForm>,
) -> PageResult {
    let a = &v.actor;
    let w = words(&v);
    let text = |o: &Option<String>| o.clone().unwrap_or_default().trim().to_owned();
    let (q, from, to, store) = (text(&f.q), text(&f.from), text(&f.to), text(&f.store));
    let flagged = f.flagged.is_some();
    let searched = !(q.is_empty() && from.is_empty() && to.is_empty() && !flagged);
    let search = app::archive::ArchiveSearch {
        q: q.clone(),
        from: Some(from.clone()),
        to: Some(to.clone()),
        store: Some(store.clone()),
        flagged: flagged.then_some(true),
        limit: Some(200),
        ..Default::default()
    };
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    if searched {
        match state.salon.search_archive(a, &search).await {
            Ok(found) => {
                rows = found
                    .into_iter()
                    .map(|f| FoundRow {
                        href: format!("/inbox/{}", f.message.client_id.0),
                        client: f.client_name,
                        text: f.message.body,
                        outbound: f.message.direction == Direction::Out,
                        at: datetime(f.message.at, a.brand.time_zone.as_str()),
                    })
                    .collect()
            }
            Err(e) => errors = field_errors(e)?,
        }
    }
    let mut group_rows = Vec::new();
    if searched && errors.is_empty() {
        group_rows = state
            .salon
            .search_groups(a, &search)
            .await?
            .into_iter()
            .map(|f| FoundRow {
                href: format!("/groups/{}", f.message.group_id),
                client: f.group_name,
                text: f.message.body,
                outbound: f.message.sender.associate().is_some(),
                at: datetime(f.message.at, a.brand.time_zone.as_str()),
            })
            .collect();
    }
    let mut pairs = vec![
        ("q", q.as_str()),
        ("from", &from),
        ("to", &to),
        ("store", &store),
    ];
    if flagged {
        pairs.push(("flagged", "true"));
    }
    let export_query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    let has_errors = !errors.is_empty();
    render_form(
        &ArchivePage {
            c: chrome(&v, "/inbox", "/archive", None),
            w,
            q,
            from,
            to,
            store,
            flagged,
            rows,
            group_rows,
            searched,
            export_query,
            can_export: a.can(Action::ExportConversations),
            errors,
        },
        has_errors,
    )
}

pub async fn export_archive(
    State(state): State<AppState>,
    v: Viewer,
    Query(f): Query<ArchiveForm>,
    Query(x): Query<ExportQuery>,
) -> Result<axum::response::Response, PageError> {
    let text = |o: &Option<String>| o.clone().unwrap_or_default();
    let search = app::archive::ArchiveSearch {
        q: text(&f.q),
        from: f.from.clone(),
        to: f.to.clone(),
        store: f.store.clone(),
        flagged: f.flagged.as_ref().map(|_| true),
        limit: Some(500),
        ..Default::default()
    };
    let format = x.format.unwrap_or_else(|| "jsonl".into());
    let (body, content_type) = state
        .salon
        .export_search(&v.actor, &search, &format)
        .await?;
    let ext = if format == "csv" { "csv" } else { "jsonl" };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"archive-search.{ext}\""),
            ),
        ],
        body,
    )
        .into_response())
}
