//! Channel pages: the brand's WeChat settings (HQ and admin), channel QR codes (managers, HQ,
//! admin) and the public onboarding page of each store.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;

use app::channels::{ChannelInput, ChannelView, ContactWayInput};
use domain::{Action, ChannelKind, ContactWay, Role, UserStatus};

use super::Viewer;
use super::i18n::Tr;
use super::pages::{Chrome, Opt, PageResult, WithCsrf, chrome, field_errors, opt, render_form, to};
use crate::{AppState, PageError};

fn kind_of(raw: &str) -> Result<ChannelKind, PageError> {
    ChannelKind::parse(raw).ok_or(PageError(app::AppError::NotFound("channel")))
}

fn segment(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Wecom => "wecom",
        ChannelKind::WechatOa => "wechat-oa",
    }
}

pub struct ChannelCard {
    segment: &'static str,
    title: &'static str,
    id_label: &'static str,
    wecom: bool,
    view: ChannelView,
    menu_text: String,
    errors: Vec<String>,
    message: Option<String>,
}

#[derive(Template)]
#[template(path = "channels.html")]
struct ChannelsPage {
    c: Chrome,
    cards: Vec<ChannelCard>,
    can_manage: bool,
    sandbox: bool,
}

async fn channels_page(
    state: &AppState,
    v: &Viewer,
    focus: Option<(ChannelKind, Vec<String>, Option<String>)>,
) -> PageResult {
    let t = v.t();
    let mut cards = Vec::new();
    let mut has_errors = false;
    for kind in ChannelKind::ALL {
        let view = state.salon.channel_view(&v.actor, kind).await?;
        let (errors, message) = match &focus {
            Some((k, e, m)) if *k == kind => (e.clone(), m.clone()),
            _ => (vec![], None),
        };
        has_errors |= !errors.is_empty();
        cards.push(ChannelCard {
            segment: segment(kind),
            title: if kind == ChannelKind::Wecom {
                t.wecom
            } else {
                t.wechat_oa
            },
            id_label: if kind == ChannelKind::Wecom {
                t.corp_id
            } else {
                t.app_id
            },
            wecom: kind == ChannelKind::Wecom,
            menu_text: view
                .menu
                .iter()
                .map(|(k, c)| format!("{k}={c}"))
                .collect::<Vec<_>>()
                .join("\n"),
            view,
            errors,
            message,
        });
    }
    let sandbox = state.sandbox.is_some()
        && cards
            .first()
            .and_then(|c| c.view.api_base.as_deref())
            .is_some_and(|b| b.ends_with("/sandbox"));
    let page = ChannelsPage {
        c: chrome(v, "/admin/channels", "/admin/channels", None),
        cards,
        can_manage: v.can(Action::ManageChannels),
        sandbox,
    };
    render_form(&page, has_errors)
}

pub async fn channels(State(state): State<AppState>, v: Viewer) -> PageResult {
    channels_page(&state, &v, None).await
}

#[derive(Deserialize)]
pub struct ChannelForm {
    app_id: Option<String>,
    agent_id: Option<String>,
    secret: Option<String>,
    token: Option<String>,
    aes_key: Option<String>,
    api_base: Option<String>,
    menu: Option<String>,
}

pub async fn save_channel(
    State(state): State<AppState>,
    v: Viewer,
    Path(kind): Path<String>,
    Form(f): Form<WithCsrf<ChannelForm>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let kind = kind_of(&kind)?;
    let i = f.input;
    let mut bad_lines = Vec::new();
    let menu = i.menu.as_deref().map(|m| {
        m.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .filter_map(|l| match l.split_once('=') {
                Some((k, c)) => Some((k.trim().to_owned(), c.trim().to_owned())),
                None => {
                    bad_lines.push(format!("menu: the line “{l}” has no ="));
                    None
                }
            })
            .collect()
    });
    if !bad_lines.is_empty() {
        return channels_page(&state, &v, Some((kind, bad_lines, None))).await;
    }
    let input = ChannelInput {
        app_id: i.app_id,
        agent_id: i.agent_id,
        secret: i.secret,
        token: i.token,
        aes_key: i.aes_key,
        api_base: i.api_base,
        menu: if kind == ChannelKind::WechatOa {
            menu
        } else {
            None
        },
    };
    match state.salon.configure_channel(&v.actor, kind, &input).await {
        Ok(_) => Ok(to("/admin/channels?ok=saved")),
        Err(e) => channels_page(&state, &v, Some((kind, field_errors(e)?, None))).await,
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

pub async fn test_channel(
    State(state): State<AppState>,
    v: Viewer,
    Path(kind): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let kind = kind_of(&kind)?;
    let message = match state.salon.test_channel(&v.actor, kind).await {
        Ok(m) => m,
        Err(app::AppError::Unavailable(m)) => format!("✗ {m}"),
        Err(e) => return Err(PageError(e)),
    };
    channels_page(&state, &v, Some((kind, vec![], Some(message)))).await
}

pub async fn sync_staff(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<CsrfOnly>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let message = match state.salon.sync_staff(&v.actor).await {
        Ok(r) => format!(
            "{} staff seen in WeCom: {} created, {} linked, {} departed ({} clients to transfer).",
            r.seen, r.created, r.linked, r.departed, r.clients_to_transfer
        ),
        Err(app::AppError::Unavailable(m)) => format!("✗ {m}"),
        Err(e) => return Err(PageError(e)),
    };
    channels_page(
        &state,
        &v,
        Some((ChannelKind::Wecom, vec![], Some(message))),
    )
    .await
}

// --- QR codes -------------------------------------------------------------------------

pub struct WayRow {
    label: String,
    kind: String,
    store: String,
    associate: String,
    tags: String,
    welcome_text: String,
    state: String,
    qr_code: Option<String>,
    /// In the sandbox: the page that plays a client scanning this code.
    scan: Option<String>,
}

pub struct JoinLink {
    href: String,
    label: String,
}

#[derive(Template)]
#[template(path = "qr_codes.html")]
struct QrCodesPage {
    c: Chrome,
    ways: Vec<WayRow>,
    kinds: Vec<Opt>,
    stores: Vec<Opt>,
    associates: Vec<Opt>,
    joins: Vec<JoinLink>,
    errors: Vec<String>,
}

fn kind_label(t: &Tr, w: &ContactWay) -> String {
    match w.kind {
        domain::ContactWayKind::Store => t.kind_store,
        domain::ContactWayKind::Associate => t.kind_associate,
        domain::ContactWayKind::Campaign => t.kind_campaign,
    }
    .to_owned()
}

async fn qr_codes_page(state: &AppState, v: &Viewer, errors: Vec<String>) -> PageResult {
    v.actor.require(Action::ManageContactWays)?;
    let t = v.t();
    let a = &v.actor;
    let stores = state.salon.list_stores(a).await?;
    let staff = state.salon.list_associates(a, None).await?;
    let ways = state
        .salon
        .list_contact_ways(a)
        .await?
        .into_iter()
        .map(|w| WayRow {
            label: w.label.clone(),
            kind: kind_label(t, &w),
            store: stores
                .iter()
                .find(|s| Some(s.id) == w.store_id)
                .map(|s| s.name.clone())
                .unwrap_or_default(),
            associate: staff
                .iter()
                .find(|(u, _)| Some(u.id) == w.user_id)
                .map(|(u, _)| u.display_name.clone())
                .unwrap_or_default(),
            tags: w
                .tags
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            welcome_text: w.welcome_text.clone(),
            state: w.state.clone(),
            scan: w
                .qr_code
                .as_deref()
                .and_then(|q| q.strip_prefix("/sandbox/qr/"))
                .map(|id| format!("/sandbox/scan/{id}")),
            qr_code: w.qr_code.clone(),
        })
        .collect();
    let own_store = match a.scope() {
        domain::Scope::Store(s) => Some(s),
        _ => None,
    };
    let visible_stores: Vec<_> = stores
        .iter()
        .filter(|s| own_store.is_none_or(|o| o == s.id))
        .collect();
    let has_errors = !errors.is_empty();
    let page = QrCodesPage {
        c: chrome(v, "/qr-codes", "/qr-codes", None),
        ways,
        kinds: vec![
            opt("associate", t.kind_associate, true),
            opt("store", t.kind_store, false),
            opt("campaign", t.kind_campaign, false),
        ],
        stores: visible_stores
            .iter()
            .map(|s| opt(s.code.to_string(), s.name.clone(), false))
            .collect(),
        associates: staff
            .iter()
            .filter(|(u, _)| u.status == UserStatus::Active && u.role == Role::Associate)
            .filter(|(u, _)| own_store.is_none_or(|o| u.store_id == Some(o)))
            .map(|(u, _)| opt(u.id.0.to_string(), u.display_name.clone(), false))
            .collect(),
        joins: visible_stores
            .iter()
            .map(|s| JoinLink {
                href: format!("/join/{}/{}", a.brand.slug.as_str(), s.code),
                label: s.name.clone(),
            })
            .collect(),
        errors,
    };
    render_form(&page, has_errors)
}

pub async fn qr_codes(State(state): State<AppState>, v: Viewer) -> PageResult {
    qr_codes_page(&state, &v, vec![]).await
}

#[derive(Deserialize)]
pub struct QrForm {
    kind: Option<String>,
    label: Option<String>,
    store: Option<String>,
    associate: Option<String>,
    campaign: Option<String>,
    tags: Option<String>,
    welcome_text: Option<String>,
}

pub async fn create_qr_code(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<WithCsrf<QrForm>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let i = f.input;
    let associate = match i
        .associate
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(raw) => match raw.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                return qr_codes_page(&state, &v, vec!["associate: not a known associate".into()])
                    .await;
            }
        },
        None => None,
    };
    let kind = i.kind.clone();
    let input = ContactWayInput {
        kind: i.kind,
        label: i.label,
        // A store is only asked for on store codes; an associate code takes the associate's.
        store: if kind.as_deref() == Some("store") {
            i.store
        } else {
            None
        },
        associate: if kind.as_deref() == Some("associate") {
            associate
        } else {
            None
        },
        campaign: if kind.as_deref() == Some("campaign") {
            i.campaign
        } else {
            None
        },
        tags: i
            .tags
            .unwrap_or_default()
            .split(',')
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect(),
        welcome_text: i.welcome_text,
    };
    match state.salon.create_contact_way(&v.actor, &input).await {
        Ok(_) => Ok(to("/qr-codes")),
        Err(app::AppError::Unavailable(m)) => qr_codes_page(&state, &v, vec![m]).await,
        Err(e) => qr_codes_page(&state, &v, field_errors(e)?).await,
    }
}

// --- The public onboarding page -------------------------------------------------------

#[derive(Template)]
#[template(path = "join.html")]
struct JoinPage {
    t: &'static Tr,
    lang: &'static str,
    brand: String,
    store: String,
    associates: Vec<app::channels::OnboardingAssociate>,
    errors: Vec<String>,
    done: bool,
    name: String,
    birthday: String,
    /// When the form was served, signed (see `app::edge`).
    token: String,
}

async fn join_page(
    state: &AppState,
    headers: &HeaderMap,
    brand: &str,
    store: &str,
    errors: Vec<String>,
    done: bool,
    (name, birthday): (String, String),
) -> PageResult {
    let lang = super::language(headers);
    let o = state.salon.onboarding(brand, store).await?;
    let token = state.salon.join_token(brand, store, domain::now_millis());
    let page = JoinPage {
        token,
        t: lang.tr(),
        lang: lang.html_lang(),
        brand: o.brand_name,
        store: o.store.name,
        associates: o.associates,
        done,
        name,
        birthday,
        errors,
    };
    let failed = !page.errors.is_empty();
    render_form(&page, failed)
}

pub async fn join(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((brand, store)): Path<(String, String)>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> PageResult {
    let done = q.contains_key("thanks");
    join_page(
        &state,
        &headers,
        &brand,
        &store,
        vec![],
        done,
        Default::default(),
    )
    .await
}

#[derive(Deserialize)]
pub struct JoinForm {
    name: Option<String>,
    birthday: Option<String>,
    consent: Option<String>,
    token: Option<String>,
}

pub async fn join_submit(
    State(state): State<AppState>,
    Path((brand, store)): Path<(String, String)>,
    req: axum::extract::Request,
) -> PageResult {
    use axum::extract::FromRequest as _;
    let peer = super::peer(&req);
    let headers = req.headers().clone();
    let Form(f): Form<JoinForm> = Form::from_request(req, &state)
        .await
        .map_err(|e| PageError(app::AppError::invalid("form", e.body_text())))?;
    let name = f.name.unwrap_or_default();
    let birthday = f.birthday.unwrap_or_default();
    let address = super::client_address(&state, &headers, peer);
    let token = f.token.unwrap_or_default();
    let checked = state
        .salon
        .check_join_post(&brand, &store, &token, &address)
        .await;
    let outcome = match checked {
        Ok(()) => {
            state
                .salon
                .onboarding_signup(&brand, &store, &name, &birthday, f.consent.is_some())
                .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => Ok(to(&format!("/join/{brand}/{store}?thanks"))),
        Err(app::AppError::Invalid(fields)) => {
            let errors = fields.iter().map(|e| e.to_string()).collect();
            join_page(
                &state,
                &headers,
                &brand,
                &store,
                errors,
                false,
                (name, birthday),
            )
            .await
        }
        Err(e) => Err(PageError(e)),
    }
}
