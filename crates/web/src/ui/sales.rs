//! Sales pages: an associate's **My month** (net sales against target, commission, place on
//! the store's leaderboard, each credited order with the touch that earned it, disputes), and
//! the store manager's and HQ's month (attributed against unattributed by source, the share of
//! social selling, leaderboards per store, the disputes queue, targets, the policy, the payroll
//! export).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use serde::Deserialize;

use app::AppError;
use app::sales::{DecisionInput, MyMonth, SalesOverview, ShareInput};
use domain::{Action, Role};

use super::Viewer;
use super::conversations::download;
use super::format::{date, money};
use super::pages::{Chrome, PageResult, WithCsrf, chrome, field_errors, render, to};
use crate::{AppState, PageError};

pub struct Words {
    pub sales: &'static str,
    pub my_month: &'static str,
    pub net: &'static str,
    pub sales_col: &'static str,
    pub returns: &'static str,
    pub orders: &'static str,
    pub commission: &'static str,
    pub target: &'static str,
    pub no_target: &'static str,
    pub of_target: &'static str,
    pub rank: &'static str,
    pub leaderboard: &'static str,
    pub brand_leaderboard: &'static str,
    pub associate: &'static str,
    pub credited: &'static str,
    pub nothing_credited: &'static str,
    pub return_of: &'static str,
    pub dispute: &'static str,
    pub dispute_help: &'static str,
    pub order_id: &'static str,
    pub reason: &'static str,
    pub send_dispute: &'static str,
    pub my_disputes: &'static str,
    pub open: &'static str,
    pub decided: &'static str,
    pub rejected: &'static str,
    pub previous: &'static str,
    pub next: &'static str,
    pub attributed: &'static str,
    pub unattributed: &'static str,
    pub social_share: &'static str,
    pub social_help: &'static str,
    pub by_source: &'static str,
    pub month: &'static str,
    pub others: &'static str,
    pub disputes: &'static str,
    pub no_disputes: &'static str,
    pub shares_help: &'static str,
    pub note: &'static str,
    pub decide: &'static str,
    pub reject: &'static str,
    pub targets: &'static str,
    pub targets_help: &'static str,
    pub save_targets: &'static str,
    pub policy: &'static str,
    pub policy_help: &'static str,
    pub save_policy: &'static str,
    pub tiers: &'static str,
    pub tiers_help: &'static str,
    pub save_tiers: &'static str,
    pub export: &'static str,
    pub csv: &'static str,
    pub raised_by: &'static str,
    pub sold_by: &'static str,
    pub book: &'static str,
    pub split: &'static str,
    pub by_decision: &'static str,
    pub anonymous: &'static str,
    pub no_touch: &'static str,
    pub kinds: [&'static str; 5],
    pub sources: [&'static str; 4],
    pub saved: &'static str,
    pub share: &'static str,
    pub share_url: &'static str,
    pub share_name: &'static str,
    pub share_button: &'static str,
    pub share_ready: &'static str,
}

pub const EN: Words = Words {
    sales: "Sales",
    my_month: "My month",
    net: "Net sales",
    sales_col: "Sales",
    returns: "Returns",
    orders: "Orders",
    commission: "Commission",
    target: "Target",
    no_target: "No target set for this month",
    of_target: "of target",
    rank: "Rank",
    leaderboard: "Store leaderboard",
    brand_leaderboard: "The brand's leaderboard",
    associate: "Associate",
    credited: "Credited to you",
    nothing_credited: "Nothing credited to you this month yet. Sales that follow your chats, shared links, livestream invitations and appointments appear here.",
    return_of: "Return",
    dispute: "Claim a sale",
    dispute_help: "A sale you earned that is credited to someone else or to no one: name the order and say why. Your store manager decides.",
    order_id: "Order number",
    reason: "Why",
    send_dispute: "Send",
    my_disputes: "My claims",
    open: "Open",
    decided: "Decided",
    rejected: "Not granted",
    previous: "Previous month",
    next: "Next month",
    attributed: "Credited to associates",
    unattributed: "Not credited",
    social_share: "From social selling",
    social_help: "Net sales credited through an associate's chat, shared link, livestream, appointment or broadcast (or a decided claim), of all net sales.",
    by_source: "Net sales by source, credited or not",
    month: "Month",
    others: "Credited to people outside the staff list",
    disputes: "Claims to decide",
    no_disputes: "No open claim.",
    shares_help: "Shares: one line per associate, e-mail then fraction (0.5); they add up to 1. Leave empty to keep the credit as computed.",
    note: "Note (kept in the audit log)",
    decide: "Decide",
    reject: "Keep as computed",
    targets: "Monthly targets",
    targets_help: "One line per associate: e-mail, amount (in the brand's currency, e.g. 300000.00).",
    save_targets: "Save targets",
    policy: "Attribution and commission policy",
    policy_help: "The policy file of the attribution rules: model last_touch or split, windows in days per touch kind, book_credit, base_rate and bonus_rate as decimals.",
    save_policy: "Save policy",
    tiers: "Tiers by lifetime spend",
    tiers_help: "One tier per line: its name, a comma, the lifetime spend (net of returns) it asks for. Clients move when their spend next changes; the move is on their timeline. The brand's tiers:",
    save_tiers: "Save tiers",
    export: "Statements for payroll (CSV)",
    csv: "CSV",
    raised_by: "Raised by",
    sold_by: "Rung up by you",
    book: "In your client book",
    split: "Shared between",
    by_decision: "Decided on a claim",
    anonymous: "Anonymous sale",
    no_touch: "No touch within the window",
    kinds: [
        "Appointment",
        "Livestream",
        "Shared link opened",
        "Message",
        "Broadcast",
    ],
    sources: ["Store", "E-commerce", "Mini-store", "Livestream"],
    saved: "Saved.",
    share: "Share a product or page",
    share_url: "Address of the product or page",
    share_name: "What it is",
    share_button: "Make a tracked link",
    share_ready: "Send this link to the client; when they open it, it counts for you:",
};

pub const ZH: Words = Words {
    sales: "销售业绩",
    my_month: "我的业绩",
    net: "净销售额",
    sales_col: "销售额",
    returns: "退货",
    orders: "订单",
    commission: "佣金",
    target: "目标",
    no_target: "本月未设目标",
    of_target: "目标完成",
    rank: "排名",
    leaderboard: "门店排行榜",
    brand_leaderboard: "品牌排行榜",
    associate: "顾问",
    credited: "计入我的销售",
    nothing_credited: "本月还没有计入您的销售。客户在您的聊天、分享链接、直播邀请和预约之后的购买会显示在这里。",
    return_of: "退货",
    dispute: "申诉一笔销售",
    dispute_help: "一笔由您促成却计入他人或未计入任何人的销售：填写订单号并说明原因，由店长决定。",
    order_id: "订单号",
    reason: "原因",
    send_dispute: "提交",
    my_disputes: "我的申诉",
    open: "待处理",
    decided: "已裁定",
    rejected: "未获批准",
    previous: "上个月",
    next: "下个月",
    attributed: "计入顾问",
    unattributed: "未归属",
    social_share: "社交销售占比",
    social_help: "通过顾问的聊天、分享链接、直播、预约或群发（或已裁定的申诉）计入的净销售额占全部净销售额的比例。",
    by_source: "各渠道净销售额（已归属与未归属）",
    month: "月份",
    others: "计入员工名单以外人员的销售",
    disputes: "待裁定的申诉",
    no_disputes: "没有待处理的申诉。",
    shares_help: "分配：每行一位顾问，先写邮箱再写比例（0.5），合计为 1。留空则保持系统计算的归属。",
    note: "说明（记入审计日志）",
    decide: "裁定",
    reject: "保持原归属",
    targets: "月度目标",
    targets_help: "每行一位顾问：邮箱，金额（品牌币种，例如 300000.00）。",
    save_targets: "保存目标",
    policy: "归属与佣金规则",
    policy_help: "归属规则文件：模型 last_touch 或 split，各类接触的有效天数，book_credit，base_rate 和 bonus_rate（小数）。",
    save_policy: "保存规则",
    tiers: "按累计消费划分的会员等级",
    tiers_help: "每行一个等级：等级名称、逗号、所需的累计消费（扣除退货）。客户的消费下次变化时调整等级，并记录在时间线上。品牌的等级：",
    save_tiers: "保存等级",
    export: "薪资结算明细（CSV）",
    csv: "CSV",
    raised_by: "申诉人",
    sold_by: "由您在店内开单",
    book: "您名下的客户",
    split: "与以下顾问分享",
    by_decision: "按申诉裁定",
    anonymous: "匿名销售",
    no_touch: "有效期内无接触",
    kinds: ["到店预约", "直播观看", "分享链接打开", "消息", "群发触达"],
    sources: ["门店", "电商", "小程序商城", "直播"],
    saved: "已保存。",
    share: "分享商品或页面",
    share_url: "商品或页面地址",
    share_name: "名称",
    share_button: "生成追踪链接",
    share_ready: "把这个链接发给客户；客户打开后计入您的业绩：",
};

pub(crate) fn words_for(v: &Viewer) -> &'static Words {
    match v.lang {
        super::Lang::En => &EN,
        super::Lang::Zh => &ZH,
    }
}

/// The nav label: an associate's own month, or the team's sales.
pub(crate) fn nav_label(v: &Viewer) -> &'static str {
    let w = words_for(v);
    if v.actor.role == Role::Associate {
        w.my_month
    } else {
        w.sales
    }
}

#[derive(Deserialize, Default)]
pub struct MonthQuery {
    pub month: Option<String>,
    pub ok: Option<String>,
}

pub struct EntryRow {
    pub order_id: String,
    pub day: String,
    pub amount: String,
    pub is_return: bool,
    pub why: String,
}

pub struct RankRow {
    pub rank: usize,
    pub name: String,
    pub net: String,
    pub me: bool,
}

pub struct DisputeRow {
    pub id: i64,
    pub order_id: String,
    pub reason: String,
    pub raised_by: String,
    pub status: &'static str,
    pub day: String,
}

#[derive(Template)]
#[template(path = "my_month.html")]
struct MyMonthPage {
    c: Chrome,
    w: &'static Words,
    month: String,
    prev: String,
    next: String,
    net: String,
    commission: String,
    orders: i64,
    target: Option<String>,
    /// 0–100, for the progress bar.
    progress: u32,
    rank: usize,
    of: usize,
    entries: Vec<EntryRow>,
    board: Vec<RankRow>,
    disputes: Vec<DisputeRow>,
    errors: Vec<String>,
    saved: bool,
}

pub struct BoardView {
    pub name: String,
    pub rows: Vec<StatementRow>,
}

pub struct StatementRow {
    pub rank: usize,
    pub name: String,
    pub email: String,
    pub sales: String,
    pub returns: String,
    pub net: String,
    pub orders: i64,
    pub target: String,
    pub commission: String,
}

pub struct SplitRow {
    pub month: String,
    pub cells: Vec<String>,
    pub attributed: String,
    pub unattributed: String,
    pub social: String,
}

#[derive(Template)]
#[template(path = "sales.html")]
struct OverviewPage {
    c: Chrome,
    w: &'static Words,
    month: String,
    prev: String,
    next: String,
    attributed: String,
    unattributed: String,
    social_share: String,
    chart: String,
    sources: Vec<&'static str>,
    splits: Vec<SplitRow>,
    boards: Vec<BoardView>,
    brand_board: Vec<StatementRow>,
    others: Vec<StatementRow>,
    disputes: Vec<DisputeRow>,
    is_hq: bool,
    policy: String,
    tiers: String,
    brand_tiers: String,
    errors: Vec<String>,
    saved: bool,
}

fn why_text(w: &Words, why: &sales::Why, tz: &str) -> String {
    match why {
        sales::Why::SoldBy { .. } => w.sold_by.to_owned(),
        sales::Why::LastTouch { touch } => {
            format!("{} · {}", w.kinds[touch.kind.index()], date(touch.at, tz))
        }
        sales::Why::Split { touches } => format!(
            "{} {}",
            w.split,
            touches
                .iter()
                .map(|t| t.associate.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        sales::Why::Book { .. } => w.book.to_owned(),
        sales::Why::Decided => w.by_decision.to_owned(),
        sales::Why::Anonymous => w.anonymous.to_owned(),
        sales::Why::NoTouch => w.no_touch.to_owned(),
    }
}

fn dispute_rows(
    w: &Words,
    disputes: &[domain::Dispute],
    names: &std::collections::HashMap<i64, String>,
    tz: &str,
) -> Vec<DisputeRow> {
    disputes
        .iter()
        .map(|d| DisputeRow {
            id: d.id,
            order_id: d.order_id.clone(),
            reason: d.reason.clone(),
            raised_by: names.get(&d.raised_by.0).cloned().unwrap_or_default(),
            status: status_text(w, d.status),
            day: date(d.created_at, tz),
        })
        .collect()
}

/// Back to the month's page, saying it was saved.
fn saved_month(month: &str) -> axum::response::Response {
    to(&format!(
        "/sales?month={}&ok=1",
        super::form_urlencoded_component(month)
    ))
}

fn status_text(w: &Words, s: domain::DisputeStatus) -> &'static str {
    match s {
        domain::DisputeStatus::Open => w.open,
        domain::DisputeStatus::Decided => w.decided,
        domain::DisputeStatus::Rejected => w.rejected,
    }
}

fn month_of(state: &AppState, v: &Viewer, q: &MonthQuery) -> Result<sales::Month, PageError> {
    match q.month.as_deref().filter(|m| !m.trim().is_empty()) {
        Some(m) => app::sales::parse_month(m).map_err(PageError),
        None => Ok(state.salon.this_month(&v.actor.brand)),
    }
}

pub async fn sales_page(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<MonthQuery>,
) -> PageResult {
    v.actor.require(Action::ReadSales)?;
    let month = month_of(&state, &v, &q)?;
    let saved = q.ok.is_some();
    if v.actor.role == Role::Associate {
        let mine = state.salon.my_month(&v.actor, &month.to_string()).await?;
        my_month_page(&state, &v, &mine, vec![], saved).await
    } else {
        let o = state
            .salon
            .sales_overview(&v.actor, &month.to_string())
            .await?;
        overview_page(&state, &v, &o, vec![], saved).await
    }
}

async fn my_month_page(
    state: &AppState,
    v: &Viewer,
    m: &MyMonth,
    errors: Vec<String>,
    saved: bool,
) -> PageResult {
    let w = words_for(v);
    let tz = v.actor.brand.time_zone.as_str();
    let cur = Some(m.currency.as_str());
    let s = &m.statement;
    let progress = match s.target {
        Some(t) if t > 0 => ((s.net.max(0) as f64 / t as f64) * 100.0).min(100.0) as u32,
        Some(_) => 100,
        None => 0,
    };
    let staff = state.salon.staff_names(v.actor.brand.id).await?;
    let names: std::collections::HashMap<i64, String> = staff.into_iter().collect();
    let page = MyMonthPage {
        c: chrome(v, "/sales", "/sales", None),
        w,
        month: m.month.to_string(),
        prev: m.month.prev().to_string(),
        next: m.month.next().to_string(),
        net: money(s.net, cur),
        commission: money(s.commission, cur),
        orders: s.orders,
        target: s.target.map(|t| money(t, cur)),
        progress,
        rank: m.rank,
        of: m.leaderboard.len().max(m.rank),
        entries: m
            .entries
            .iter()
            .map(|e| EntryRow {
                order_id: e.order_id.clone(),
                day: date(e.at, tz),
                amount: money(
                    if e.kind == sales::EntryKind::Return {
                        -e.amount
                    } else {
                        e.amount
                    },
                    cur,
                ),
                is_return: e.kind == sales::EntryKind::Return,
                why: why_text(w, &e.why, tz),
            })
            .collect(),
        board: m
            .leaderboard
            .iter()
            .map(|r| RankRow {
                rank: r.rank,
                name: r.name.clone(),
                net: money(r.net, cur),
                me: r.associate == m.statement.associate,
            })
            .collect(),
        disputes: dispute_rows(w, &m.disputes, &names, tz),
        errors,
        saved,
    };
    render(&page)
}

fn statement_row(r: &app::sales::BoardRow, cur: Option<&str>) -> StatementRow {
    let s = &r.statement;
    StatementRow {
        rank: r.rank,
        name: r.name.clone(),
        email: r.associate.clone(),
        sales: money(s.sales, cur),
        returns: money(s.returns, cur),
        net: money(s.net, cur),
        orders: s.orders,
        target: s.target.map(|t| money(t, cur)).unwrap_or_default(),
        commission: money(s.commission, cur),
    }
}

async fn overview_page(
    state: &AppState,
    v: &Viewer,
    o: &SalesOverview,
    errors: Vec<String>,
    saved: bool,
) -> PageResult {
    let w = words_for(v);
    let tz = v.actor.brand.time_zone.as_str();
    let cur = Some(o.currency.as_str());
    let names: std::collections::HashMap<i64, String> = state
        .salon
        .staff_names(v.actor.brand.id)
        .await?
        .into_iter()
        .collect();
    let last = o.months.last();
    let labels: Vec<String> = o.months.iter().map(|m| m.month.to_string()).collect();
    // In thousands of the brand's currency, so that the axis reads "12,000", not "12,000,000".
    let title = format!("{} ({} '000)", w.by_source, o.currency);
    let chart = crate::report::lines(
        &title,
        &labels,
        &[
            (
                w.attributed,
                o.months
                    .iter()
                    .map(|m| (m.attributed as f64 / 100_000.0).round())
                    .collect(),
            ),
            (
                w.unattributed,
                o.months
                    .iter()
                    .map(|m| (m.unattributed as f64 / 100_000.0).round())
                    .collect(),
            ),
        ],
        false,
        &[],
    );
    let page = OverviewPage {
        c: chrome(v, "/sales", "/sales", None),
        w,
        month: o.month.to_string(),
        prev: o.month.prev().to_string(),
        next: o.month.next().to_string(),
        attributed: money(last.map_or(0, |m| m.attributed), cur),
        unattributed: money(o.unattributed, cur),
        social_share: format!("{:.1} %", last.map_or(0.0, |m| m.social_share() * 100.0)),
        chart,
        sources: w.sources.to_vec(),
        splits: o
            .months
            .iter()
            .map(|m| SplitRow {
                month: m.month.to_string(),
                cells: m
                    .by_source
                    .iter()
                    .map(|(_, a, u)| format!("{} / {}", money(*a, cur), money(*u, cur)))
                    .collect(),
                attributed: money(m.attributed, cur),
                unattributed: money(m.unattributed, cur),
                social: format!("{:.1} %", m.social_share() * 100.0),
            })
            .collect(),
        boards: o
            .boards
            .iter()
            .map(|b| BoardView {
                name: format!("{} · {}", b.name, b.store),
                rows: b.rows.iter().map(|r| statement_row(r, cur)).collect(),
            })
            .collect(),
        brand_board: o
            .brand_board
            .iter()
            .map(|r| statement_row(r, cur))
            .collect(),
        others: o.others.iter().map(|r| statement_row(r, cur)).collect(),
        disputes: dispute_rows(w, &o.disputes, &names, tz),
        is_hq: v.actor.role == Role::Hq,
        policy: serde_json::to_string_pretty(&o.policy.to_json()).unwrap_or_default(),
        tiers: o
            .tiers
            .tiers
            .iter()
            .map(|(t, m)| format!("{t}, {}.{:02}\n", m / 100, m % 100))
            .collect(),
        brand_tiers: v.actor.brand.tiers.join(", "),
        errors,
        saved,
    };
    render(&page)
}

/// Errors shown on the page the form came from.
async fn back(state: &AppState, v: &Viewer, month: &str, e: AppError) -> PageResult {
    let errors = field_errors(e)?;
    if v.actor.role == Role::Associate {
        let m = state.salon.my_month(&v.actor, month).await?;
        let mut r = my_month_page(state, v, &m, errors, false).await?;
        *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
        Ok(r)
    } else {
        let o = state.salon.sales_overview(&v.actor, month).await?;
        let mut r = overview_page(state, v, &o, errors, false).await?;
        *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
        Ok(r)
    }
}

#[derive(Deserialize)]
pub struct ClaimForm {
    pub month: String,
    pub order_id: String,
    pub reason: String,
}

pub async fn raise_dispute(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<WithCsrf<ClaimForm>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let i = f.input;
    match state
        .salon
        .raise_dispute(&v.actor, &i.order_id, &i.reason)
        .await
    {
        Ok(_) => Ok(saved_month(&i.month)),
        Err(AppError::NotFound(_)) => {
            back(
                &state,
                &v,
                &i.month,
                AppError::invalid(
                    "order_id",
                    format!("no order {:?} is known", i.order_id.trim()),
                ),
            )
            .await
        }
        Err(e) => back(&state, &v, &i.month, e).await,
    }
}

#[derive(Deserialize)]
pub struct DecideForm {
    pub month: String,
    pub outcome: String,
    #[serde(default)]
    pub shares: String,
    #[serde(default)]
    pub note: String,
}

pub async fn decide_dispute(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<WithCsrf<DecideForm>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let id: i64 = id
        .parse()
        .map_err(|_| PageError(AppError::NotFound("dispute")))?;
    let i = f.input;
    let mut shares = Vec::new();
    if i.outcome == "decide" {
        for line in i.shares.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let mut parts = line
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|p| !p.is_empty());
            let (Some(who), Some(fraction)) = (parts.next(), parts.next()) else {
                return back(
                    &state,
                    &v,
                    &i.month,
                    AppError::invalid(
                        "shares",
                        format!("{line:?}: write an e-mail, then a fraction"),
                    ),
                )
                .await;
            };
            shares.push(ShareInput {
                associate: who.to_owned(),
                fraction: serde_json::Value::String(fraction.to_owned()),
            });
        }
    }
    let input = DecisionInput {
        shares,
        note: Some(i.note.clone()),
    };
    match state.salon.decide_dispute(&v.actor, id, &input).await {
        Ok(_) => Ok(saved_month(&i.month)),
        Err(e) => back(&state, &v, &i.month, e).await,
    }
}

#[derive(Deserialize)]
pub struct TargetsForm {
    pub month: String,
    pub targets: String,
}

/// "12,345.67" or "12345" in the brand's currency → minor units.
fn amount_minor(s: &str) -> Option<i64> {
    let clean: String = s
        .chars()
        .filter(|c| !matches!(c, ',' | ' ' | '¥' | '€' | '$'))
        .collect();
    let d: sales::Dec = clean.parse().ok()?;
    let cents = d.mul_round(100);
    (cents >= 0 && (d.units() * 100) % sales::Dec::ONE.units() == 0).then_some(cents)
}

/// Lines of "name, amount" (amounts in major units, as people write them) → (name, minor units),
/// an error naming the line otherwise.
fn named_amounts(text: &str, name: &str) -> Result<Vec<(String, i64)>, AppError> {
    let mut rows = Vec::new();
    for (n, line) in text
        .lines()
        .map(str::trim)
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
    {
        let field = format!("line {}", n + 1);
        let Some((who, amount)) = line.split_once([',', ';', '\t']) else {
            return Err(AppError::invalid(
                &field,
                format!("write {name}, a comma, then an amount such as 300000.00"),
            ));
        };
        let Some(minor) = amount_minor(amount.trim()) else {
            return Err(AppError::invalid(
                &field,
                format!("{:?} is not an amount such as 300000.00", amount.trim()),
            ));
        };
        rows.push((who.trim().to_owned(), minor));
    }
    Ok(rows)
}

pub async fn save_targets(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<WithCsrf<TargetsForm>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let i = f.input;
    let saved = match named_amounts(&i.targets, "an e-mail") {
        Ok(rows) => state.salon.set_targets(&v.actor, &i.month, &rows).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(_) => Ok(saved_month(&i.month)),
        Err(e) => back(&state, &v, &i.month, e).await,
    }
}

#[derive(Deserialize)]
pub struct TiersForm {
    pub month: String,
    pub tiers: String,
}

/// Tier thresholds from lines of "tier, amount" (major units).
pub async fn save_tiers(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<WithCsrf<TiersForm>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let i = f.input;
    let saved = match named_amounts(&i.tiers, "a tier") {
        Ok(rows) => state.salon.set_tier_thresholds(&v.actor, rows).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(_) => Ok(saved_month(&i.month)),
        Err(e) => back(&state, &v, &i.month, e).await,
    }
}

#[derive(Deserialize)]
pub struct PolicyForm {
    pub month: String,
    pub policy: String,
}

pub async fn save_policy(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<WithCsrf<PolicyForm>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let i = f.input;
    match state.salon.set_sales_policy(&v.actor, &i.policy).await {
        Ok(_) => Ok(saved_month(&i.month)),
        Err(e) => back(&state, &v, &i.month, e).await,
    }
}

pub async fn statements_csv(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<MonthQuery>,
) -> PageResult {
    let month = month_of(&state, &v, &q)?.to_string();
    let csv = state.salon.export_statements(&v.actor, &month).await?;
    Ok(download(
        &format!("statements-{month}"),
        "csv",
        "text/csv; charset=utf-8",
        csv,
    ))
}

pub async fn chart_csv(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<MonthQuery>,
) -> PageResult {
    let month = month_of(&state, &v, &q)?.to_string();
    let o = state.salon.sales_overview(&v.actor, &month).await?;
    let mut out = String::from("month,source,attributed,unattributed\n");
    for m in &o.months {
        for (s, a, u) in &m.by_source {
            out.push_str(&format!("{},{},{a},{u}\n", m.month, s.as_str()));
        }
    }
    Ok(download(
        &format!("sales-by-source-{month}"),
        "csv",
        "text/csv; charset=utf-8",
        out,
    ))
}

pub struct OrderView {
    pub order_id: String,
    pub day: String,
    pub amount: String,
    pub source: &'static str,
    pub items: String,
    pub credited: String,
    pub why: String,
}

/// The client's orders for the profile, when the viewer may read sales (an associate, a store
/// manager, HQ); nothing otherwise.
pub(crate) async fn client_orders(
    state: &AppState,
    v: &Viewer,
    id: domain::ClientId,
) -> Result<Vec<OrderView>, PageError> {
    if !v.can(Action::ReadSales) {
        return Ok(Vec::new());
    }
    let w = words_for(v);
    let tz = v.actor.brand.time_zone.as_str();
    let names = state.salon.staff_names(v.actor.brand.id).await?;
    let staff = state
        .salon
        .repo
        .list_users(v.actor.brand.id, None)
        .await
        .map_err(|e| PageError(e.into()))?;
    let name_of = |email: &str| {
        staff
            .iter()
            .find(|(u, _)| u.email.as_str() == email)
            .and_then(|(u, _)| names.get(&u.id.0).cloned())
            .unwrap_or_else(|| email.to_owned())
    };
    Ok(state
        .salon
        .client_orders(&v.actor, id)
        .await?
        .into_iter()
        .map(|(o, credit)| OrderView {
            amount: money(o.total(), Some(o.currency.as_str())),
            day: date(o.placed_at, tz),
            source: w.sources[sales::Source::ALL
                .iter()
                .position(|s| *s == o.source)
                .unwrap_or(0)],
            items: o
                .lines
                .iter()
                .map(|l| l.sku.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            credited: credit
                .shares
                .associates()
                .iter()
                .map(|a| name_of(a))
                .collect::<Vec<_>>()
                .join(", "),
            why: why_text(w, &credit.why, tz),
            order_id: o.order_id,
        })
        .collect())
}

/// A share link opened: recorded, then redirected. Public: the client has no account.
pub async fn open_link(State(state): State<AppState>, Path(code): Path<String>) -> PageResult {
    let target = state.salon.open_share_link(&code).await?;
    Ok(axum::response::Redirect::to(&target).into_response())
}

#[derive(Deserialize)]
pub struct ShareForm {
    pub url: String,
    #[serde(default)]
    pub title: String,
}

/// An associate shares a product or a page with a client as a tracked link, from the profile.
pub async fn share_link(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<WithCsrf<ShareForm>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let id: i64 = id
        .parse()
        .map_err(|_| PageError(AppError::NotFound("client")))?;
    let input = app::sales::ShareLinkInput {
        url: Some(f.input.url),
        title: Some(f.input.title),
        kind: None,
        client_id: Some(id),
    };
    match state.salon.create_share_link(&v.actor, &input).await {
        Ok(link) => Ok(to(&format!("/clients/{id}?shared={}", link.code))),
        Err(AppError::Invalid(e)) => Ok(to(&format!(
            "/clients/{id}?share_error={}",
            super::form_urlencoded_component(
                &e.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        ))),
        Err(e) => Err(PageError(e)),
    }
}
