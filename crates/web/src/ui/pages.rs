//! Page handlers and their view models. Views hold display-ready strings so that templates
//! stay free of logic.

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use app::clients::{AssignInput, ClientInput, ClientProfile, ListParams, TagsInput};
use app::import::ImportReport;
use app::org::{AssociateInput, StoreInput};
use app::{AppError, AppResult};
use domain::{Action, ClientId, Role, UserId, UserStatus};

use super::format::{date, datetime, money};
use super::{Lang, Tr, Viewer, role_label};
use crate::{AppState, PageError};

pub(crate) type PageResult = Result<Response, PageError>;

pub(crate) fn render<T: Template>(t: &T) -> PageResult {
    t.render()
        .map(|h| Html(h).into_response())
        .map_err(|e| PageError(AppError::Internal(e.to_string())))
}

/// Renders a form page; one redisplayed with errors answers 422.
pub(crate) fn render_form<T: Template>(t: &T, has_errors: bool) -> PageResult {
    let mut res = render(t)?;
    if has_errors {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

pub fn render_error(code: StatusCode, message: &str) -> Html<String> {
    let t = ErrorPage {
        code: code.as_u16(),
        message: message.to_owned(),
    };
    Html(t.render().unwrap_or_else(|_| message.to_owned()))
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    code: u16,
    message: String,
}

pub struct Nav {
    pub(crate) href: &'static str,
    pub(crate) label: &'static str,
    pub(crate) active: bool,
}

/// What every signed-in page shows around its content.
pub struct Chrome {
    pub(crate) t: &'static Tr,
    pub(crate) lang: &'static str,
    pub(crate) other_lang_code: &'static str,
    pub(crate) other_lang_label: &'static str,
    pub(crate) brand: String,
    pub(crate) user: String,
    pub(crate) role: &'static str,
    pub(crate) csrf: String,
    pub(crate) nav: Vec<Nav>,
    pub(crate) flash: Option<&'static str>,
    pub(crate) read_only: bool,
    pub(crate) next: String,
}

#[derive(Deserialize, Default)]
pub struct Flash {
    ok: Option<String>,
    /// A share link just made on the client's profile.
    shared: Option<String>,
    share_error: Option<String>,
    /// A catalogue search on the client's profile (to share a product).
    product_q: Option<String>,
}

pub(crate) fn chrome(v: &Viewer, here: &str, path: &str, flash: Option<&str>) -> Chrome {
    let t = v.t();
    let a = &v.actor;
    let clients_label = match a.role {
        Role::Associate => t.my_clients,
        Role::StoreManager => t.store_clients,
        _ => t.clients,
    };
    let mut nav = Vec::new();
    let mut add = |href: &'static str, label: &'static str, allowed: bool| {
        if allowed {
            nav.push(Nav {
                href,
                label,
                active: href == here,
            });
        }
    };
    add("/clients", clients_label, a.can(Action::ReadClients));
    add(
        "/inbox",
        super::conversations::words_for(v).inbox,
        a.can(Action::ReadConversations),
    );
    add(
        "/groups",
        super::groups::words_for(v).groups,
        a.can(Action::ReadGroupChats),
    );
    add(
        "/tasks",
        super::campaigns::words_for(v).tasks,
        a.can(Action::SendPrepared),
    );
    add(
        "/sales",
        super::sales::nav_label(v),
        a.can(Action::ReadSales),
    );
    add(
        "/catalogue",
        super::catalogue::words_for(v).catalogue,
        a.can(Action::ReadCatalogue),
    );
    add(
        "/campaigns",
        super::campaigns::words_for(v).campaigns,
        a.can(Action::ReadCampaigns),
    );
    add(
        "/assets",
        super::assets::words_for(v).assets,
        a.can(Action::ReadAssets),
    );
    add(
        "/compliance",
        super::conversations::words_for(v).compliance,
        a.can(Action::ReadFlags) || a.can(Action::ReadRules),
    );
    add(
        "/team",
        t.team,
        matches!(a.role, Role::StoreManager | Role::Hq | Role::Admin),
    );
    add("/admin/stores", t.stores, a.can(Action::ManageStores));
    add("/admin/staff", t.staff, a.can(Action::ManageAssociates));
    add("/admin/import", t.import, a.can(Action::ImportClients));
    add("/analytics", t.li_title, a.can(Action::ReadAnalytics));
    add("/qr-codes", t.qr_codes, a.can(Action::ManageContactWays));
    add(
        "/admin/channels",
        t.channels_nav,
        a.can(Action::ReadChannels),
    );
    let flash = flash.and_then(|f| match f {
        "saved" => Some(t.saved),
        "note" => Some(t.note_added),
        "tags" => Some(t.tags_saved),
        "assigned" => Some(t.reassigned),
        "tested" => Some(t.saved),
        _ => None,
    });
    let (other_lang_code, other_lang_label) = match v.lang {
        Lang::En => ("zh", "中文"),
        Lang::Zh => ("en", "English"),
    };
    Chrome {
        t,
        lang: v.lang.html_lang(),
        other_lang_code,
        other_lang_label,
        brand: a.brand.name.clone(),
        user: a
            .user
            .as_ref()
            .map(|u| u.display_name.clone())
            .unwrap_or_default(),
        role: role_label(t, a.role),
        csrf: v.csrf.clone(),
        nav,
        flash,
        read_only: a.role == Role::Compliance,
        next: super::form_urlencoded_component(path),
    }
}

/// A redirect to one of our own paths. Anything that is not a plain local path (see
/// [`super::local_path`]) goes to the client book instead of another site or a broken header.
pub(crate) fn to(path: &str) -> Response {
    match super::local_path(path) {
        Some(p) => Redirect::to(p).into_response(),
        None => {
            tracing::warn!("refused a redirect to something other than a local path");
            Redirect::to("/clients").into_response()
        }
    }
}

pub struct Opt {
    pub(crate) value: String,
    pub(crate) label: String,
    pub(crate) selected: bool,
}

pub(crate) fn opt(value: impl Into<String>, label: impl Into<String>, selected: bool) -> Opt {
    Opt {
        value: value.into(),
        label: label.into(),
        selected,
    }
}

// ——— Sign-in ————————————————————————————————————————————————————————————————

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    t: &'static Tr,
    lang: &'static str,
    csrf: String,
    next: String,
    brand: String,
    email: String,
    error: Option<String>,
    demo: bool,
    self_path: String,
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
}

fn safe_next(next: Option<&str>) -> String {
    // Only local paths: never redirect a person to another site after signing in.
    next.and_then(super::local_path)
        .unwrap_or("/clients")
        .to_owned()
}

async fn login_page(
    state: &AppState,
    headers: &HeaderMap,
    next: String,
    brand: String,
    email: String,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    let lang = super::language(headers);
    let csrf = app::auth::new_secret("");
    let demo = state
        .salon
        .repo
        .brand_by_slug("demo")
        .await
        .map_err(AppError::from)?
        .is_some();
    let brand = if brand.is_empty() {
        state
            .salon
            .repo
            .list_brands()
            .await
            .map_err(AppError::from)?
            .first()
            .map(|b| b.slug.to_string())
            .unwrap_or_default()
    } else {
        brand
    };
    let page = LoginPage {
        t: lang.tr(),
        lang: lang.html_lang(),
        self_path: super::form_urlencoded_component(&format!("/login?next={next}")),
        csrf: csrf.clone(),
        next,
        brand,
        email,
        error,
        demo,
    };
    let mut res = render(&page)?;
    *res.status_mut() = status;
    let secure = super::secure_cookies(state, headers);
    res.headers_mut().append(
        header::SET_COOKIE,
        super::set_cookie(secure, super::LOGIN_CSRF_COOKIE, &csrf, 3600),
    );
    Ok(res)
}

pub async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> PageResult {
    login_page(
        &state,
        &headers,
        safe_next(q.next.as_deref()),
        String::new(),
        String::new(),
        None,
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub struct LoginForm {
    csrf: String,
    brand: String,
    email: String,
    password: String,
    next: Option<String>,
}

pub async fn login(State(state): State<AppState>, req: Request) -> PageResult {
    let peer = super::peer(&req);
    let headers = req.headers().clone();
    let Form(f): Form<LoginForm> = Form::from_request(req, &state)
        .await
        .map_err(|e| PageError(AppError::invalid("form", e.body_text())))?;
    let next = safe_next(f.next.as_deref());
    let expected = super::cookie(&headers, "__Host-salon_login_csrf")
        .or_else(|| super::cookie(&headers, super::LOGIN_CSRF_COOKIE));
    if !expected.is_some_and(|c| super::subtle_compare::ct_eq(&c, &f.csrf)) {
        let t = super::language(&headers).tr();
        return login_page(
            &state,
            &headers,
            next,
            f.brand,
            f.email,
            Some(format!("{} (CSRF)", t.error)),
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    let address = super::client_address(&state, &headers, peer);
    match state
        .salon
        .login(&f.brand, &f.email, &f.password, &address)
        .await
    {
        Ok(s) => {
            let secure = super::secure_cookies(&state, &headers);
            let mut res = to(&next);
            let max_age = app::auth::SESSION_TTL_MS / 1000;
            res.headers_mut().append(
                header::SET_COOKIE,
                super::set_cookie(secure, super::SESSION_COOKIE_SECURE, &s.cookie, max_age),
            );
            res.headers_mut().append(
                header::SET_COOKIE,
                super::set_cookie(secure, super::LOGIN_CSRF_COOKIE, "", 0),
            );
            tracing::info!(brand = %s.actor.brand.slug, role = %s.actor.role, "signed in");
            Ok(res)
        }
        Err(AppError::RateLimited(m)) => {
            let msg = AppError::RateLimited(m).to_string();
            login_page(
                &state,
                &headers,
                next,
                f.brand,
                f.email,
                Some(msg),
                StatusCode::TOO_MANY_REQUESTS,
            )
            .await
        }
        Err(AppError::Forbidden(_)) => {
            let t = super::language(&headers).tr();
            login_page(
                &state,
                &headers,
                next,
                f.brand,
                f.email,
                Some(t.wrong_login.to_owned()),
                StatusCode::UNAUTHORIZED,
            )
            .await
        }
        Err(e) => Err(PageError(e)),
    }
}

use axum::extract::FromRequest;

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    for name in [super::SESSION_COOKIE_SECURE, super::SESSION_COOKIE_PLAIN] {
        if let Some(c) = super::cookie(&headers, name) {
            state.salon.logout(&c).await?;
        }
    }
    let secure = super::secure_cookies(&state, &headers);
    let mut res = to("/login");
    res.headers_mut().append(
        header::SET_COOKIE,
        super::set_cookie(secure, super::SESSION_COOKIE_SECURE, "", 0),
    );
    Ok(res)
}

pub async fn set_lang(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(lang): Path<String>,
    Query(q): Query<LoginQuery>,
) -> Response {
    let lang = Lang::parse(&lang).unwrap_or(Lang::En);
    let mut res = to(&safe_next(q.next.as_deref()));
    let secure = super::secure_cookies(&state, &headers);
    let v = format!(
        "{}={}; Path=/; SameSite=Lax; Max-Age=31536000{}",
        super::LANG_COOKIE,
        lang.code(),
        if secure { "; Secure" } else { "" }
    );
    if let Ok(h) = v.parse() {
        res.headers_mut().append(header::SET_COOKIE, h);
    }
    res
}

// ——— Client book ————————————————————————————————————————————————————————————

pub struct ClientRow {
    id: i64,
    name: String,
    tier: String,
    tier_class: String,
    city: String,
    associate: String,
    last_purchase: String,
    spend: String,
    tags: Vec<String>,
}

#[derive(Template)]
#[template(path = "clients.html")]
struct BookPage {
    c: Chrome,
    title: &'static str,
    total: i64,
    can_create: bool,
    q: String,
    tag: String,
    tiers: Vec<Opt>,
    stores: Vec<Opt>,
    associates: Vec<Opt>,
    filtered: bool,
    error: Option<String>,
    clients: Vec<ClientRow>,
    has_prev: bool,
    first_href: String,
    next_href: Option<String>,
}

fn tier_class(t: &str) -> String {
    t.to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

fn query_string(p: &ListParams, cursor: Option<&str>) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("q", &p.q),
        ("tag", &p.tag),
        ("tier", &p.tier),
        ("store", &p.store),
        ("associate", &p.associate),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            parts.push(format!("{k}={}", super::form_urlencoded_component(v)));
        }
    }
    if let Some(c) = cursor {
        parts.push(format!("cursor={c}"));
    }
    if parts.is_empty() {
        "/clients".into()
    } else {
        format!("/clients?{}", parts.join("&"))
    }
}

pub async fn client_book(
    State(state): State<AppState>,
    v: Viewer,
    Query(p): Query<ListParams>,
) -> PageResult {
    if !v.can(Action::ReadClients) {
        return Ok(to("/admin/staff"));
    }
    let s = &state.salon;
    let a = &v.actor;
    let t = v.t();
    let (page, error) = match s.list_clients(a, &p).await {
        Ok(page) => (page, None),
        Err(AppError::Invalid(f)) => (
            domain::Page {
                items: vec![],
                next_cursor: None,
            },
            Some(AppError::Invalid(f).to_string()),
        ),
        Err(e) => return Err(e.into()),
    };
    let total = s.count_clients(a).await?;
    let staff = s.list_associates(a, None).await.unwrap_or_default();
    let stores = s.list_stores(a).await?;
    let name_of = |id: Option<UserId>| {
        id.and_then(|id| staff.iter().find(|(u, _)| u.id == id))
            .map(|(u, _)| u.display_name.clone())
            .unwrap_or_default()
    };
    let tz = a.brand.time_zone.as_str();
    let clients = page
        .items
        .iter()
        .map(|c| ClientRow {
            id: c.id.0,
            name: c.display_name.clone(),
            tier: c.tier.clone().unwrap_or_default(),
            tier_class: tier_class(c.tier.as_deref().unwrap_or_default()),
            city: c.city.clone().unwrap_or_default(),
            associate: if a.role == Role::Associate {
                String::new()
            } else {
                name_of(c.associate_id)
            },
            last_purchase: c
                .last_purchase_at
                .map(|m| date(m, tz))
                .unwrap_or_else(|| t.never.to_owned()),
            spend: money(c.lifetime_spend_minor, c.currency.as_deref()),
            tags: c.tags.iter().map(|t| t.to_string()).collect(),
        })
        .collect();
    let sel = |v: &Option<String>, x: &str| v.as_deref() == Some(x);
    let page_view = BookPage {
        title: match a.role {
            Role::Associate => t.my_clients,
            Role::StoreManager => t.store_clients,
            _ => t.clients,
        },
        total,
        can_create: v.can(Action::CreateClient),
        q: p.q.clone().unwrap_or_default(),
        tag: p.tag.clone().unwrap_or_default(),
        tiers: a
            .brand
            .tiers
            .iter()
            .map(|x| opt(x.clone(), x.clone(), sel(&p.tier, x)))
            .collect(),
        stores: if matches!(a.role, Role::Hq | Role::Compliance) {
            stores
                .iter()
                .map(|s| {
                    opt(
                        s.code.to_string(),
                        format!("{} · {}", s.code, s.name),
                        sel(&p.store, s.code.as_str()),
                    )
                })
                .collect()
        } else {
            vec![]
        },
        associates: if a.role == Role::Associate {
            vec![]
        } else {
            staff
                .iter()
                .filter(|(u, _)| matches!(u.role, Role::Associate | Role::StoreManager))
                .map(|(u, n)| {
                    opt(
                        u.id.0.to_string(),
                        format!("{} ({n})", u.display_name),
                        sel(&p.associate, &u.id.0.to_string()),
                    )
                })
                .collect()
        },
        filtered: [&p.q, &p.tag, &p.tier, &p.store, &p.associate]
            .iter()
            .any(|x| x.as_deref().is_some_and(|s| !s.is_empty())),
        error,
        clients,
        has_prev: p.cursor.is_some(),
        first_href: query_string(&p, None),
        next_href: page
            .next_cursor
            .as_deref()
            .map(|c| query_string(&p, Some(c))),
        c: chrome(&v, "/clients", &query_string(&p, p.cursor.as_deref()), None),
    };
    render(&page_view)
}

// ——— Client profile ————————————————————————————————————————————————————————

pub struct NoteView {
    text: String,
    author: String,
    at: String,
}

pub struct EventView {
    at: String,
    label: String,
    detail: String,
}

pub struct ProfileView {
    id: i64,
    name: String,
    chinese_name: String,
    tier: String,
    tier_class: String,
    store: String,
    associate: String,
    spend: String,
    last_purchase: String,
    first_purchase: String,
    phone: String,
    email: String,
    birthday: String,
    language: String,
    city: String,
    sizes: String,
    categories: String,
    colours: String,
    materials: String,
    tags: Vec<String>,
    identities: Vec<(String, String)>,
    consents: Vec<String>,
    notes: Vec<NoteView>,
    assignments: Vec<String>,
    timeline: Vec<EventView>,
}

pub struct MessageView {
    at: String,
    inbound: bool,
    who: String,
    channel: String,
    body: String,
}

#[derive(Template)]
#[template(path = "client.html")]
struct ClientPage {
    c: Chrome,
    p: ProfileView,
    messages: Vec<MessageView>,
    can_edit: bool,
    can_tag: bool,
    can_note: bool,
    can_assign: bool,
    assignable: Vec<Opt>,
    /// The customer groups the client is in: (link or none, name, members).
    groups: Vec<(Option<String>, String, i64)>,
    groups_label: &'static str,
    /// The client's orders with who got credit and why.
    orders: Vec<super::sales::OrderView>,
    sw: &'static super::sales::Words,
    can_share: bool,
    shared: Option<String>,
    share_error: Option<String>,
    cw: &'static super::catalogue::Words,
    can_share_products: bool,
    product_q: String,
    /// Products found for sharing: (SKU, name in the client's language, price, share action).
    share_products: Vec<(String, String, String, String)>,
}

fn joined(v: &[String], t: &Tr) -> String {
    if v.is_empty() {
        t.none.to_owned()
    } else {
        v.join(", ")
    }
}

fn profile_view(p: &ClientProfile, t: &Tr, tz: &str, names: &dyn Fn(i64) -> String) -> ProfileView {
    let c = &p.client;
    let dash = || t.none.to_owned();
    let latin = [c.pii.first_name.as_deref(), c.pii.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let timeline = p
        .timeline
        .iter()
        .map(|e| {
            let d = &e.detail;
            let (label, detail) = match e.kind.as_str() {
                "created" => (t.ev_created.to_owned(), String::new()),
                "imported" => (t.ev_imported.to_owned(), String::new()),
                "assigned" => (
                    t.ev_assigned.to_owned(),
                    format!(
                        "{} — {}",
                        d["associate"].as_str().unwrap_or_default(),
                        d["reason"].as_str().unwrap_or_default()
                    ),
                ),
                "purchase" => (t.ev_purchase.to_owned(), amount_and_items(d)),
                "return" => (t.ev_return.to_owned(), amount_and_items(d)),
                "tier_change" => (
                    if d["direction"] == "up" {
                        t.ev_tier_up
                    } else {
                        t.ev_tier_down
                    }
                    .to_owned(),
                    format!(
                        "{} → {} · {}",
                        d["from"].as_str().unwrap_or("—"),
                        d["to"].as_str().unwrap_or("—"),
                        money(
                            d["lifetime_spend_minor"].as_i64().unwrap_or_default(),
                            d["currency"].as_str()
                        )
                    ),
                ),
                "note" => (
                    t.ev_note.to_owned(),
                    d["author_id"].as_i64().map(names).unwrap_or_default(),
                ),
                "consent" => (
                    t.ev_consent.to_owned(),
                    format!(
                        "{} {} · {}",
                        e.channel.as_deref().unwrap_or_default(),
                        d["purpose"].as_str().unwrap_or_default(),
                        if d["granted"].as_bool().unwrap_or(false) {
                            t.granted
                        } else {
                            t.withdrawn
                        }
                    ),
                ),
                "message" => (
                    t.ev_message.to_owned(),
                    format!(
                        "{} · {}",
                        e.channel.as_deref().unwrap_or_default(),
                        if d["direction"] == "out" {
                            t.to_client
                        } else {
                            t.from_client
                        }
                    ),
                ),
                "follow" => (
                    t.ev_follow.to_owned(),
                    d["source"].as_str().unwrap_or_default().to_owned(),
                ),
                "unfollow" => (t.ev_unfollow.to_owned(), String::new()),
                "qr_scan" => (
                    t.ev_qr_scan.to_owned(),
                    d["scene"].as_str().unwrap_or_default().to_owned(),
                ),
                "menu_click" => (
                    t.ev_menu_click.to_owned(),
                    d["category"].as_str().unwrap_or_default().to_owned(),
                ),
                "contact_added" => (
                    t.ev_contact_added.to_owned(),
                    format!(
                        "{} · {}",
                        d["associate_id"].as_i64().map(names).unwrap_or_default(),
                        d["source"].as_str().unwrap_or_default()
                    ),
                ),
                "contact_removed" => (
                    t.ev_contact_removed.to_owned(),
                    d["by"].as_str().unwrap_or_default().to_owned(),
                ),
                "contact_edited" => (t.ev_contact_edited.to_owned(), String::new()),
                "wecom_transfer" => (
                    t.ev_wecom_transfer.to_owned(),
                    d["to"].as_i64().map(names).unwrap_or_default(),
                ),
                "transfer_failed" => (
                    t.ev_transfer_failed.to_owned(),
                    d["reason"].as_str().unwrap_or_default().to_owned(),
                ),
                other => (other.to_owned(), String::new()),
            };
            EventView {
                at: datetime(e.at, tz),
                label,
                detail,
            }
        })
        .collect();
    ProfileView {
        id: c.id.0,
        name: if latin.is_empty() {
            c.pii.chinese_name.clone().unwrap_or_else(dash)
        } else {
            latin.clone()
        },
        chinese_name: if latin.is_empty() {
            String::new()
        } else {
            c.pii.chinese_name.clone().unwrap_or_default()
        },
        tier: c.tier.clone().unwrap_or_default(),
        tier_class: tier_class(c.tier.as_deref().unwrap_or_default()),
        store: p.store.as_ref().map(|s| s.name.clone()).unwrap_or_default(),
        associate: p
            .associate
            .as_ref()
            .map(|u| u.display_name.clone())
            .unwrap_or_else(|| t.unassigned.to_owned()),
        spend: money(c.lifetime_spend_minor, c.currency.as_deref()),
        last_purchase: c
            .last_purchase_at
            .map(|m| date(m, tz))
            .unwrap_or_else(|| t.never.to_owned()),
        first_purchase: c
            .first_purchase_at
            .map(|m| date(m, tz))
            .unwrap_or_else(|| t.never.to_owned()),
        phone: c
            .pii
            .phone
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_else(dash),
        email: c
            .pii
            .email
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_else(dash),
        birthday: c.pii.birthday.map(|b| b.to_string()).unwrap_or_else(dash),
        language: c.language.clone().unwrap_or_else(dash),
        city: c.city.clone().unwrap_or_else(dash),
        sizes: joined(&c.preferences.sizes, t),
        categories: joined(&c.preferences.categories, t),
        colours: joined(&c.preferences.colours, t),
        materials: joined(&c.preferences.materials, t),
        tags: c.tags.iter().map(|t| t.to_string()).collect(),
        identities: c
            .identities
            .iter()
            .map(|i| (i.kind.to_string(), i.value.clone()))
            .collect(),
        consents: c
            .consents
            .iter()
            .map(|k| {
                format!(
                    "{} · {} · {} ({}, {})",
                    k.channel,
                    k.purpose.as_str(),
                    if k.granted { t.granted } else { t.withdrawn },
                    k.source,
                    date(k.at, tz)
                )
            })
            .collect(),
        notes: p
            .notes
            .iter()
            .map(|n| NoteView {
                text: n.text.clone(),
                author: n.author_name.clone().unwrap_or_default(),
                at: datetime(n.at, tz),
            })
            .collect(),
        assignments: p
            .assignments
            .iter()
            .map(|a| format!("{} · {} · {}", date(a.at, tz), a.associate_name, a.reason))
            .collect(),
        timeline,
    }
}

fn parse_client_id(raw: &str) -> Result<ClientId, PageError> {
    raw.parse()
        .map(ClientId)
        .map_err(|_| PageError(AppError::NotFound("client")))
}

pub async fn client_page(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Query(f): Query<Flash>,
) -> PageResult {
    let s = &state.salon;
    let a = &v.actor;
    let id = parse_client_id(&id)?;
    let profile = s.client_profile(a, id).await?;
    let staff = s.list_associates(a, None).await.unwrap_or_default();
    let names = |uid: i64| {
        staff
            .iter()
            .find(|(u, _)| u.id.0 == uid)
            .map(|(u, _)| u.display_name.clone())
            .unwrap_or_default()
    };
    let p = profile_view(&profile, v.t(), a.brand.time_zone.as_str(), &names);
    let can_assign = v.can(Action::AssignClient);
    let assignable = staff
        .iter()
        .filter(|(u, _)| {
            u.status == UserStatus::Active && matches!(u.role, Role::Associate | Role::StoreManager)
        })
        .map(|(u, n)| {
            opt(
                u.id.0.to_string(),
                format!("{} ({n})", u.display_name),
                Some(u.id) == profile.client.associate_id,
            )
        })
        .collect();
    let tz = a.brand.time_zone.as_str();
    // Message text only for the roles that read conversations (HQ sees figures).
    let recent = if v.can(Action::ReadConversations) {
        s.client_messages(a, id, 50).await?
    } else {
        Vec::new()
    };
    let messages = recent
        .into_iter()
        .rev()
        .map(|m| MessageView {
            at: datetime(m.at, tz),
            inbound: m.direction == domain::Direction::In,
            who: if m.direction == domain::Direction::In {
                v.t().from_client.to_owned()
            } else {
                m.associate_id.map(|u| names(u.0)).unwrap_or_default()
            },
            channel: m.channel.as_str().to_owned(),
            body: m.body,
        })
        .collect();
    let groups = if v.can(Action::ReadGroupChats) {
        s.groups(a, Some(id))
            .await?
            .into_iter()
            .map(|g| {
                (
                    v.can(Action::ReadConversations)
                        .then(|| format!("/groups/{}", g.id)),
                    if g.name.is_empty() { g.chat_id } else { g.name },
                    g.members,
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let orders = super::sales::client_orders(&state, &v, id).await?;
    let can_share_products = v.can(Action::ShareLinks) && v.can(Action::ReadCatalogue);
    let product_q = f
        .product_q
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect::<String>();
    let share_products = if can_share_products && !product_q.is_empty() {
        let language = profile.client.language.clone().unwrap_or_default();
        let currencies: Vec<String> = a.brand.currencies.iter().map(|c| c.to_string()).collect();
        s.search_products(
            a,
            &app::catalogue::ProductSearch {
                q: product_q.clone(),
                limit: Some(10),
                ..app::catalogue::ProductSearch::default()
            },
        )
        .await?
        .into_iter()
        .map(|r| {
            let card = super::catalogue::card(&r, language.starts_with("zh"), &currencies);
            (
                r.product.sku.clone(),
                r.product.name_in(&language).to_owned(),
                card.price,
                format!("/clients/{}/share-product", id.0),
            )
        })
        .collect()
    } else {
        Vec::new()
    };
    let page = ClientPage {
        cw: super::catalogue::words_for(&v),
        can_share_products,
        product_q,
        share_products,
        c: chrome(
            &v,
            "/clients",
            &format!("/clients/{}", id.0),
            f.ok.as_deref(),
        ),
        orders,
        sw: super::sales::words_for(&v),
        can_share: v.can(Action::ShareLinks),
        shared: f
            .shared
            .as_deref()
            .filter(|c| c.chars().all(|x| x.is_ascii_alphanumeric()))
            .map(|c| format!("/s/{c}")),
        share_error: f.share_error.clone(),
        groups,
        groups_label: super::groups::words_for(&v).groups,
        p,
        messages,
        can_edit: v.can(Action::UpdateClient),
        can_tag: v.can(Action::EditTags),
        can_note: v.can(Action::AddNote),
        can_assign,
        assignable,
    };
    render(&page)
}

#[derive(Deserialize)]
pub struct NoteForm {
    csrf: String,
    text: String,
}

pub async fn add_note(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<NoteForm>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let id = parse_client_id(&id)?;
    state.salon.add_note(&v.actor, id, &f.text).await?;
    Ok(to(&format!("/clients/{}?ok=note#notes", id.0)))
}

#[derive(Deserialize)]
pub struct TagForm {
    csrf: String,
    add: Option<String>,
    remove: Option<String>,
}

pub async fn edit_tags(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<TagForm>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let id = parse_client_id(&id)?;
    let input = TagsInput {
        add: f.add.into_iter().collect(),
        remove: f.remove.into_iter().collect(),
    };
    state.salon.edit_tags(&v.actor, id, &input).await?;
    Ok(to(&format!("/clients/{}?ok=tags#tags", id.0)))
}

#[derive(Deserialize)]
pub struct AssignForm {
    csrf: String,
    associate: String,
    reason: Option<String>,
}

pub async fn assign(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<AssignForm>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let id = parse_client_id(&id)?;
    let c = state
        .salon
        .assign_client(
            &v.actor,
            id,
            &AssignInput {
                associate: f.associate,
                reason: f.reason,
            },
        )
        .await?;
    // A manager who moved the client out of their store can no longer open it.
    let still_visible = state.salon.client(&v.actor, c.id).await.is_ok();
    Ok(to(&if still_visible {
        format!("/clients/{}?ok=assigned", id.0)
    } else {
        "/clients".to_owned()
    }))
}

// ——— Client form (new / edit) ————————————————————————————————————————————————

#[derive(Deserialize, Default)]
pub struct ClientForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    chinese_name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    birthday: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    tier: String,
    store: Option<String>,
    associate: Option<String>,
    #[serde(default)]
    sizes: String,
    #[serde(default)]
    categories: String,
    #[serde(default)]
    colours: String,
    #[serde(default)]
    materials: String,
    #[serde(default)]
    tags: String,
    marketing_consent: Option<String>,
}

fn list(s: &str) -> Vec<String> {
    s.split([',', ';', '，'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

impl ClientForm {
    fn input(&self, creating: bool) -> ClientInput {
        let f = |s: &str| Some(Some(s.trim().to_owned()).filter(|s| !s.is_empty()));
        ClientInput {
            first_name: f(&self.first_name),
            last_name: f(&self.last_name),
            chinese_name: f(&self.chinese_name),
            phone: f(&self.phone),
            email: f(&self.email),
            birthday: f(&self.birthday),
            language: f(&self.language),
            city: f(&self.city),
            tier: f(&self.tier),
            store: self
                .store
                .as_deref()
                .and_then(|s| if s.is_empty() && creating { None } else { f(s) }),
            associate: if creating {
                self.associate.clone().filter(|a| !a.is_empty())
            } else {
                None
            },
            tags: creating.then(|| list(&self.tags)),
            preferences: Some(domain::Preferences {
                sizes: list(&self.sizes),
                categories: list(&self.categories),
                colours: list(&self.colours),
                materials: list(&self.materials),
            }),
            identities: None,
            consents: (creating && self.marketing_consent.is_some()).then(|| {
                vec![app::clients::ConsentInput {
                    channel: "wecom".into(),
                    purpose: "marketing".into(),
                    granted: true,
                    source: Some("in_store_form".into()),
                }]
            }),
        }
    }
}

#[derive(Template)]
#[template(path = "client_form.html")]
struct ClientFormPage {
    c: Chrome,
    title: String,
    action: String,
    back: String,
    creating: bool,
    errors: Vec<String>,
    f: ClientForm,
    languages: Vec<Opt>,
    tiers: Vec<Opt>,
    stores: Vec<Opt>,
    associates: Vec<Opt>,
}

async fn client_form_page(
    state: &AppState,
    v: &Viewer,
    existing: Option<ClientId>,
    f: ClientForm,
    errors: Vec<String>,
) -> PageResult {
    let s = &state.salon;
    let a = &v.actor;
    let t = v.t();
    let creating = existing.is_none();
    let langs = [
        ("zh-CN", "中文"),
        ("en", "English"),
        ("fr", "Français"),
        ("ja", "日本語"),
        ("ko", "한국어"),
    ];
    let stores = if a.role == Role::Hq {
        s.list_stores(a)
            .await?
            .iter()
            .map(|st| {
                opt(
                    st.code.to_string(),
                    st.name.clone(),
                    f.store.as_deref() == Some(st.code.as_str()),
                )
            })
            .collect()
    } else {
        vec![]
    };
    let associates = if creating && matches!(a.role, Role::Hq | Role::StoreManager) {
        s.list_associates(a, None)
            .await?
            .iter()
            .filter(|(u, _)| {
                u.status == UserStatus::Active
                    && matches!(u.role, Role::Associate | Role::StoreManager)
            })
            .map(|(u, _)| {
                opt(
                    u.email.to_string(),
                    u.display_name.clone(),
                    f.associate.as_deref() == Some(u.email.as_str()),
                )
            })
            .collect()
    } else {
        vec![]
    };
    let (title, action, back) = match existing {
        None => (
            t.new_client.to_owned(),
            "/clients".to_owned(),
            "/clients".to_owned(),
        ),
        Some(id) => (
            t.edit.to_owned(),
            format!("/clients/{}/edit", id.0),
            format!("/clients/{}", id.0),
        ),
    };
    let page = ClientFormPage {
        c: chrome(v, "/clients", &action, None),
        title,
        action,
        back,
        creating,
        errors,
        languages: langs
            .iter()
            .map(|(c, l)| opt(*c, *l, f.language == *c))
            .collect(),
        tiers: a
            .brand
            .tiers
            .iter()
            .map(|x| opt(x.clone(), x.clone(), &f.tier == x))
            .collect(),
        stores,
        associates,
        f,
    };
    render_form(&page, !page.errors.is_empty())
}

pub(crate) fn field_errors(e: AppError) -> Result<Vec<String>, PageError> {
    match e {
        AppError::Invalid(f) => Ok(f.iter().map(|x| x.to_string()).collect()),
        AppError::Conflict(m) => Ok(vec![m]),
        other => Err(PageError(other)),
    }
}

pub async fn new_client_form(State(state): State<AppState>, v: Viewer) -> PageResult {
    v.actor.require(Action::CreateClient)?;
    let f = ClientForm {
        language: "zh-CN".into(),
        ..ClientForm::default()
    };
    client_form_page(&state, &v, None, f, vec![]).await
}

pub async fn create_client(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<ClientForm>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    match state.salon.create_client(&v.actor, &f.input(true)).await {
        Ok(c) => Ok(to(&format!("/clients/{}?ok=saved", c.id.0))),
        Err(e) => {
            let errors = field_errors(e)?;
            client_form_page(&state, &v, None, f, errors).await
        }
    }
}

pub async fn edit_client_form(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
) -> PageResult {
    v.actor.require(Action::UpdateClient)?;
    let id = parse_client_id(&id)?;
    let c = state.salon.client(&v.actor, id).await?;
    let store_code = match c.store_id {
        Some(sid) => state
            .salon
            .repo
            .store(v.actor.brand.id, sid)
            .await
            .map_err(AppError::from)?
            .map(|s| s.code.to_string()),
        None => None,
    };
    let f = ClientForm {
        first_name: c.pii.first_name.unwrap_or_default(),
        last_name: c.pii.last_name.unwrap_or_default(),
        chinese_name: c.pii.chinese_name.unwrap_or_default(),
        phone: c.pii.phone.map(|p| p.to_string()).unwrap_or_default(),
        email: c.pii.email.map(|p| p.to_string()).unwrap_or_default(),
        birthday: c.pii.birthday.map(|b| b.to_string()).unwrap_or_default(),
        language: c.language.unwrap_or_default(),
        city: c.city.unwrap_or_default(),
        tier: c.tier.unwrap_or_default(),
        store: store_code,
        sizes: c.preferences.sizes.join(", "),
        categories: c.preferences.categories.join(", "),
        colours: c.preferences.colours.join(", "),
        materials: c.preferences.materials.join(", "),
        ..ClientForm::default()
    };
    client_form_page(&state, &v, Some(id), f, vec![]).await
}

pub async fn edit_client(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<ClientForm>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let id = parse_client_id(&id)?;
    let mut input = f.input(false);
    if v.actor.role != Role::Hq {
        input.store = None;
    }
    match state.salon.update_client(&v.actor, id, &input).await {
        Ok(_) => Ok(to(&format!("/clients/{}?ok=saved", id.0))),
        Err(e) => {
            let errors = field_errors(e)?;
            client_form_page(&state, &v, Some(id), f, errors).await
        }
    }
}

// ——— Team (store managers, HQ) ———————————————————————————————————————————————

pub struct MemberView {
    id: i64,
    name: String,
    email: String,
    role: &'static str,
    store: String,
    clients: i64,
    departed: bool,
    is_self: bool,
    targets: Vec<Opt>,
}

#[derive(Template)]
#[template(path = "team.html")]
struct TeamPage {
    c: Chrome,
    members: Vec<MemberView>,
    can_transfer: bool,
    can_depart: bool,
    error: Option<String>,
}

async fn members(state: &AppState, v: &Viewer) -> AppResult<Vec<MemberView>> {
    let staff = state.salon.list_associates(&v.actor, None).await?;
    let stores = state.salon.list_stores(&v.actor).await?;
    let store_name = |id: Option<domain::StoreId>| {
        id.and_then(|i| stores.iter().find(|s| s.id == i))
            .map(|s| s.name.clone())
            .unwrap_or_default()
    };
    Ok(staff
        .iter()
        .map(|(u, n)| MemberView {
            id: u.id.0,
            name: u.display_name.clone(),
            email: u.email.to_string(),
            role: role_label(v.t(), u.role),
            store: store_name(u.store_id),
            clients: *n,
            departed: u.status == UserStatus::Departed,
            is_self: v.actor.user_id() == Some(u.id),
            targets: staff
                .iter()
                .filter(|(o, _)| {
                    o.id != u.id
                        && o.status == UserStatus::Active
                        && o.store_id == u.store_id
                        && matches!(o.role, Role::Associate | Role::StoreManager)
                })
                .map(|(o, _)| opt(o.id.0.to_string(), o.display_name.clone(), false))
                .collect(),
        })
        .collect())
}

pub async fn team(State(state): State<AppState>, v: Viewer) -> PageResult {
    v.actor.require(Action::ReadAssociates)?;
    let page = TeamPage {
        members: members(&state, &v).await?,
        can_transfer: v.can(Action::AssignClient),
        can_depart: v.can(Action::DepartAssociate),
        error: None,
        c: chrome(&v, "/team", "/team", None),
    };
    render(&page)
}

pub async fn depart(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    state.salon.depart_associate(&v.actor, UserId(id)).await?;
    Ok(to("/team"))
}

#[derive(Deserialize)]
pub struct TransferForm {
    csrf: String,
    to: Option<String>,
}

pub async fn transfer(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<TransferForm>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let to_user =
        f.to.as_deref()
            .filter(|s| !s.is_empty())
            .and_then(|s| s.parse().ok())
            .map(UserId);
    match state
        .salon
        .transfer_book(&v.actor, UserId(id), to_user, "transfer by manager")
        .await
    {
        Ok(_) => Ok(to("/team")),
        Err(AppError::Invalid(fe)) => {
            let page = TeamPage {
                members: members(&state, &v).await?,
                can_transfer: v.can(Action::AssignClient),
                can_depart: v.can(Action::DepartAssociate),
                error: Some(AppError::Invalid(fe).to_string()),
                c: chrome(&v, "/team", "/team", None),
            };
            render(&page)
        }
        Err(e) => Err(e.into()),
    }
}

// ——— HQ / admin: stores, staff, import ————————————————————————————————————————

pub struct StoreRow {
    code: String,
    name: String,
    city: String,
    country: String,
    time_zone: String,
}

#[derive(Template)]
#[template(path = "stores.html")]
struct StoresPage {
    c: Chrome,
    stores: Vec<StoreRow>,
    can_manage: bool,
    errors: Vec<String>,
}

async fn stores_page(state: &AppState, v: &Viewer, errors: Vec<String>) -> PageResult {
    let stores = state
        .salon
        .list_stores(&v.actor)
        .await?
        .into_iter()
        .map(|s| StoreRow {
            code: s.code.to_string(),
            name: s.name,
            city: s.city,
            country: s.country,
            time_zone: s.time_zone.to_string(),
        })
        .collect();
    let has_errors = !errors.is_empty();
    let page = StoresPage {
        c: chrome(v, "/admin/stores", "/admin/stores", None),
        stores,
        can_manage: v.can(Action::ManageStores),
        errors,
    };
    render_form(&page, has_errors)
}

pub async fn stores(State(state): State<AppState>, v: Viewer) -> PageResult {
    stores_page(&state, &v, vec![]).await
}

/// A form: its CSRF token and the use case's own input.
#[derive(Deserialize)]
pub struct WithCsrf<T> {
    pub(crate) csrf: String,
    #[serde(flatten)]
    pub(crate) input: T,
}

pub async fn create_store(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<WithCsrf<StoreInput>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    match state.salon.create_store(&v.actor, &f.input).await {
        Ok(_) => Ok(to("/admin/stores")),
        Err(e) => stores_page(&state, &v, field_errors(e)?).await,
    }
}

#[derive(Template)]
#[template(path = "staff.html")]
struct StaffPage {
    c: Chrome,
    members: Vec<MemberView>,
    roles: Vec<Opt>,
    stores: Vec<Opt>,
    errors: Vec<String>,
}

async fn staff_page(state: &AppState, v: &Viewer, errors: Vec<String>) -> PageResult {
    v.actor.require(Action::ManageAssociates)?;
    let t = v.t();
    let page = StaffPage {
        members: members(state, v).await?,
        roles: Role::ALL
            .iter()
            .filter(|r| **r != Role::Admin || v.actor.role == Role::Admin)
            .map(|r| opt(r.as_str(), role_label(t, *r), false))
            .collect(),
        stores: state
            .salon
            .list_stores(&v.actor)
            .await?
            .iter()
            .map(|s| opt(s.code.to_string(), s.name.clone(), false))
            .collect(),
        c: chrome(v, "/admin/staff", "/admin/staff", None),
        errors,
    };
    render_form(&page, !page.errors.is_empty())
}

pub async fn staff(State(state): State<AppState>, v: Viewer) -> PageResult {
    staff_page(&state, &v, vec![]).await
}

pub async fn create_staff(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<WithCsrf<AssociateInput>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    match state.salon.create_associate(&v.actor, &f.input).await {
        Ok(_) => Ok(to("/admin/staff")),
        Err(e) => staff_page(&state, &v, field_errors(e)?).await,
    }
}

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    c: Chrome,
    columns: String,
    report: Option<ImportReport>,
}

fn import_page(v: &Viewer, report: Option<ImportReport>) -> PageResult {
    let status = match &report {
        Some(r) if !r.imported => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    };
    let mut res = render(&ImportPage {
        c: chrome(v, "/admin/import", "/admin/import", None),
        columns: app::import::COLUMNS.join(", "),
        report,
    })?;
    *res.status_mut() = status;
    Ok(res)
}

pub async fn import_form(v: Viewer) -> PageResult {
    v.actor.require(Action::ImportClients)?;
    import_page(&v, None)
}

pub async fn import(State(state): State<AppState>, v: Viewer, mut form: Multipart) -> PageResult {
    let mut csrf = String::new();
    let mut file = Vec::new();
    let mut skip_bad = false;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| PageError(AppError::invalid("file", e.body_text())))?
    {
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("skip_bad") => skip_bad = true,
            Some("file") => {
                file = field
                    .bytes()
                    .await
                    .map_err(|e| PageError(AppError::invalid("file", e.body_text())))?
                    .to_vec()
            }
            _ => {}
        }
    }
    v.check_csrf(&csrf)?;
    let report = match state
        .salon
        .import_clients_csv(&v.actor, &file, skip_bad)
        .await
    {
        Ok(r) => r,
        Err(AppError::Invalid(f)) => ImportReport {
            errors: f
                .into_iter()
                .map(|e| app::import::RowError {
                    line: 1,
                    field: e.field,
                    message: e.message,
                })
                .collect(),
            ..ImportReport::default()
        },
        Err(e) => return Err(e.into()),
    };
    import_page(&v, Some(report))
}

/// "¥12,300.00 — SKU-1, SKU-2" of a purchase's or a return's timeline entry.
fn amount_and_items(d: &serde_json::Value) -> String {
    format!(
        "{} — {}",
        money(
            d["amount_minor"].as_i64().unwrap_or_default(),
            d["currency"].as_str()
        ),
        d["items"]
            .as_array()
            .map(|i| i
                .iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default()
    )
}
