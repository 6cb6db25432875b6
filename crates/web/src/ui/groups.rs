//! Customer group chats: the list of groups in the viewer's scope, and one group with its
//! members and what was said in it (from WeCom's chat archive). Read-only: associates speak
//! in their groups from WeCom itself.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use app::AppError;
use domain::{Action, MemberKind, Sender};

use super::Viewer;
use super::conversations::{Bubble, ExportQuery, SendForm, card_view, download, refusal};
use super::format::datetime;
use super::pages::{Chrome, PageResult, WithCsrf, chrome, render, render_form, to};
use crate::{AppState, PageError};

pub struct Words {
    pub groups: &'static str,
    pub no_groups: &'static str,
    pub members: &'static str,
    pub clients: &'static str,
    pub messages: &'static str,
    pub owner: &'static str,
    pub dismissed: &'static str,
    pub notice: &'static str,
    pub flagged: &'static str,
    pub staff: &'static str,
    pub no_messages: &'static str,
    pub how: &'static str,
    pub write: &'static str,
    pub post: &'static str,
    pub posted: &'static str,
    pub not_posted: &'static str,
    pub owner_only: &'static str,
    pub export: &'static str,
}

pub const EN: Words = Words {
    groups: "Group chats",
    no_groups: "No customer group yet. Groups created in WeCom appear here once they are read.",
    members: "members",
    clients: "clients",
    messages: "messages",
    owner: "Owner",
    dismissed: "dismissed",
    notice: "Group notice",
    flagged: "open flags",
    staff: "staff",
    no_messages: "Nothing archived from this group yet.",
    how: "Words said in customer groups come from WeCom's chat archive: associates write in their groups from WeCom, and every message is kept, searched and checked against the brand's rules here.",
    write: "Write to the group",
    post: "Post",
    posted: "Handed to WeCom: confirm it in WeCom to post it to the group.",
    not_posted: "Not posted",
    owner_only: "Only the group's owner posts to it from Salon.",
    export: "Export",
};

pub const ZH: Words = Words {
    groups: "客户群",
    no_groups: "还没有客户群。在企业微信中创建的群读取后会显示在这里。",
    members: "位成员",
    clients: "位客户",
    messages: "条消息",
    owner: "群主",
    dismissed: "已解散",
    notice: "群公告",
    flagged: "条待审核",
    staff: "员工",
    no_messages: "此群还没有存档消息。",
    how: "客户群中的消息来自企业微信会话内容存档：顾问在企业微信中发言，每条消息都在这里存档、可搜索并按品牌规则检查。",
    write: "在群里发消息",
    post: "发送",
    posted: "已提交企业微信：请在企业微信中确认后发送到群。",
    not_posted: "未发送",
    owner_only: "只有群主可以从 Salon 向群发消息。",
    export: "导出",
};

pub(crate) fn words_for(v: &Viewer) -> &'static Words {
    match v.lang {
        super::Lang::En => &EN,
        super::Lang::Zh => &ZH,
    }
}

pub struct GroupRow {
    href: Option<String>,
    name: String,
    owner: String,
    members: i64,
    clients: i64,
    messages: i64,
    last: String,
    flags: i64,
    dismissed: bool,
}

#[derive(Template)]
#[template(path = "groups.html")]
struct GroupsPage {
    c: Chrome,
    w: &'static Words,
    rows: Vec<GroupRow>,
}

fn group_name(name: &str, chat_id: &str) -> String {
    if name.is_empty() {
        format!("({chat_id})")
    } else {
        name.to_owned()
    }
}

pub async fn groups(State(state): State<AppState>, v: Viewer) -> PageResult {
    let a = &v.actor;
    let w = words_for(&v);
    let tz = a.brand.time_zone.as_str();
    let names = state.salon.staff_names(a.brand.id).await?;
    let can_read = a.can(Action::ReadConversations);
    let rows = state
        .salon
        .groups(a, None)
        .await?
        .into_iter()
        .map(|g| GroupRow {
            href: can_read.then(|| format!("/groups/{}", g.id)),
            name: group_name(&g.name, &g.chat_id),
            owner: g
                .owner_id
                .and_then(|u| names.get(&u.0).cloned())
                .unwrap_or_default(),
            members: g.members,
            clients: g.clients,
            messages: g.messages,
            last: g.last_at.map(|t| datetime(t, tz)).unwrap_or_default(),
            flags: g.open_flags,
            dismissed: g.dismissed_at.is_some(),
        })
        .collect();
    render(&GroupsPage {
        c: chrome(&v, "/groups", "/groups", None),
        w,
        rows,
    })
}

pub struct MemberRow {
    name: String,
    href: Option<String>,
    staff: bool,
    joined: String,
}

#[derive(Template)]
#[template(path = "group.html")]
struct GroupPage {
    c: Chrome,
    w: &'static Words,
    name: String,
    owner: String,
    notice: String,
    dismissed: Option<String>,
    members: Vec<MemberRow>,
    bubbles: Vec<Bubble>,
    id: i64,
    can_post: bool,
    can_export: bool,
    idem: String,
    draft: String,
    error: Option<String>,
    ok: Option<&'static str>,
}

fn group_id(raw: &str) -> Result<i64, PageError> {
    raw.parse()
        .map_err(|_| PageError(AppError::NotFound("group chat")))
}

#[derive(Deserialize)]
pub struct GroupQuery {
    ok: Option<String>,
}

pub async fn group(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<GroupQuery>,
) -> PageResult {
    let ok = q.ok.is_some().then_some(words_for(&v).posted);
    group_page(&state, &v, group_id(&id)?, None, ok, String::new()).await
}

pub async fn post(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<WithCsrf<SendForm>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let id = group_id(&id)?;
    match state
        .salon
        .post_to_group(&v.actor, id, &f.input.text, f.input.idem.as_deref())
        .await
    {
        Ok(_) => Ok(to(&format!("/groups/{id}?ok=posted#compose"))),
        Err(e) => {
            let msg = refusal(e, words_for(&v).not_posted)?;
            // Shown again with the error: 422.
            group_page(&state, &v, id, Some(msg), None, f.input.text).await
        }
    }
}

pub async fn export(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<axum::response::Response, PageError> {
    let id = group_id(&id)?;
    let format = q.format.unwrap_or_else(|| "jsonl".into());
    let (body, content_type) = state.salon.export_group(&v.actor, id, &format).await?;
    Ok(download(
        &format!("group-{id}"),
        &format,
        content_type,
        body,
    ))
}

async fn group_page(
    state: &AppState,
    v: &Viewer,
    id: i64,
    error: Option<String>,
    ok: Option<&'static str>,
    draft: String,
) -> PageResult {
    let a = &v.actor;
    let w = words_for(v);
    let tz = a.brand.time_zone.as_str();
    let t = state.salon.group_thread(a, id).await?;
    let g = &t.group;
    let name_of = |r: &str| {
        g.members
            .iter()
            .find(|m| m.member_ref == r)
            .map(|m| m.name.clone())
    };
    let mut bubbles: Vec<Bubble> = t
        .messages
        .iter()
        .map(|m| {
            let who = match m.sender {
                Sender::Associate(u) => t.associates.get(&u.0).cloned(),
                _ => None,
            }
            .or_else(|| name_of(&m.sender_ref))
            .unwrap_or_else(|| m.sender_ref.clone());
            Bubble {
                system: false,
                card: m.card.as_ref().map(card_view),
                text: m.body.clone(),
                outbound: matches!(m.sender, Sender::Associate(_)),
                at: datetime(m.at, tz),
                who,
                status: "",
                flags: t
                    .flags
                    .iter()
                    .filter(|f| f.group_message_id == Some(m.id))
                    .map(|f| format!("{} · “{}” · {}", f.rule, f.matched, f.status.as_str()))
                    .collect(),
            }
        })
        .collect();
    for p in &t.pending {
        bubbles.push(Bubble {
            system: false,
            card: None,
            text: p.body.clone(),
            outbound: true,
            at: datetime(p.created_at, tz),
            who: t
                .associates
                .get(&p.associate_id.0)
                .cloned()
                .unwrap_or_default(),
            status: p.status.as_str(),
            flags: p.error.iter().cloned().collect(),
        });
    }
    let members = g
        .members
        .iter()
        .map(|m| MemberRow {
            name: if m.name.is_empty() {
                m.member_ref.clone()
            } else {
                m.name.clone()
            },
            href: m.client_id.map(|c| format!("/clients/{}", c.0)),
            staff: m.kind == MemberKind::Staff,
            joined: super::format::date(m.joined_at, tz),
        })
        .collect();
    let has_error = error.is_some();
    render_form(
        &GroupPage {
            c: chrome(v, "/groups", &format!("/groups/{id}"), None),
            w,
            name: group_name(&g.name, &g.chat_id),
            owner: g
                .owner_id
                .and_then(|u| t.associates.get(&u.0).cloned())
                .unwrap_or_else(|| g.owner_ref.clone()),
            notice: g.notice.clone(),
            dismissed: g.dismissed_at.map(|d| datetime(d, tz)),
            members,
            bubbles,
            id,
            can_post: t.can_post,
            can_export: a.can(Action::ExportConversations),
            idem: app::auth::new_secret("ui-"),
            draft,
            error,
            ok,
        },
        has_error,
    )
}
