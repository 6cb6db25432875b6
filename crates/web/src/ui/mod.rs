//! The web UI: server-rendered pages (askama), plain HTML forms with CSRF tokens, a session
//! cookie, English and Simplified Chinese. Mobile-first: associates use it on their phones.

mod analytics;
mod assets;
mod campaigns;
mod catalogue;
mod channels;
mod conversations;
pub(crate) mod format;
mod groups;
pub mod i18n;
mod pages;
mod sales;

use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use subtle_compare::ct_eq;

use app::Actor;
use domain::{Action, Role};

use crate::{AppState, CookieSecurity};
pub(crate) use assets::read_asset_form;
pub use i18n::{Lang, Tr};

/// An image of at most 10 MiB and its texts.
pub(crate) const ASSET_BODY_LIMIT: usize = 11 * 1024 * 1024;

pub const SESSION_COOKIE_SECURE: &str = "__Host-salon_session";
pub const SESSION_COOKIE_PLAIN: &str = "salon_session";
pub const LOGIN_CSRF_COOKIE: &str = "salon_login_csrf";
pub const LANG_COOKIE: &str = "salon_lang";

pub fn router(_state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/clients") }))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/lang/{lang}", get(pages::set_lang))
        .route(
            "/clients",
            get(pages::client_book).post(pages::create_client),
        )
        .route("/clients/new", get(pages::new_client_form))
        .route("/clients/{id}", get(pages::client_page))
        .route(
            "/clients/{id}/edit",
            get(pages::edit_client_form).post(pages::edit_client),
        )
        .route("/clients/{id}/notes", post(pages::add_note))
        .route("/clients/{id}/tags", post(pages::edit_tags))
        .route("/clients/{id}/assign", post(pages::assign))
        .route("/team", get(pages::team))
        .route("/team/{id}/depart", post(pages::depart))
        .route("/team/{id}/transfer", post(pages::transfer))
        .route(
            "/admin/stores",
            get(pages::stores).post(pages::create_store),
        )
        .route("/admin/staff", get(pages::staff).post(pages::create_staff))
        .route("/admin/import", get(pages::import_form).post(pages::import))
        .route("/analytics", get(analytics::dashboard))
        .route("/analytics/print", get(analytics::printable))
        .route("/analytics/plan", get(analytics::plan))
        .route("/analytics/benchmark", get(analytics::benchmark))
        .route("/analytics/{chart}", get(analytics::chart_csv))
        .route(
            "/campaigns",
            get(campaigns::campaigns).post(campaigns::create_campaign),
        )
        .route("/campaigns/policy", post(campaigns::save_policy))
        .route("/campaigns/{id}/plan", post(campaigns::plan_campaign))
        .route("/campaigns/{id}/cancel", post(campaigns::cancel_campaign))
        .route("/segments", post(campaigns::save_segment))
        .route("/segments/count", get(campaigns::count))
        .route("/tasks", get(campaigns::tasks))
        .route("/moments", post(campaigns::post_moment))
        .route(
            "/assets",
            get(assets::assets)
                .post(assets::upload)
                .layer(axum::extract::DefaultBodyLimit::max(ASSET_BODY_LIMIT)),
        )
        .route("/assets/{id}/status", post(assets::set_status))
        .route("/assets/{id}/image", get(assets::image))
        .route("/tasks/{id}/send", post(campaigns::send_task))
        .route("/sales", get(sales::sales_page))
        .route("/sales/disputes", post(sales::raise_dispute))
        .route("/sales/disputes/{id}", post(sales::decide_dispute))
        .route("/sales/targets", post(sales::save_targets))
        .route("/sales/policy", post(sales::save_policy))
        .route("/sales/tiers", post(sales::save_tiers))
        .route("/sales/statements.csv", get(sales::statements_csv))
        .route("/sales/chart.csv", get(sales::chart_csv))
        .route("/inbox", get(conversations::inbox))
        .route("/groups", get(groups::groups))
        .route("/groups/{id}", get(groups::group))
        .route("/groups/{id}/post", post(groups::post))
        .route("/groups/{id}/export", get(groups::export))
        .route("/archive", get(conversations::archive))
        .route("/archive/export", get(conversations::export_archive))
        .route("/inbox/{id}", get(conversations::thread))
        .route("/inbox/{id}/send", post(conversations::send))
        .route("/inbox/{id}/image", post(conversations::send_image))
        .route("/inbox/{id}/export", get(conversations::export))
        .route("/compliance", get(conversations::compliance))
        .route("/compliance/flags/{id}", post(conversations::review))
        .route(
            "/compliance/rules",
            get(conversations::rules).post(conversations::save_rule),
        )
        .route("/compliance/audit", get(conversations::audit))
        .route("/admin/channels", get(channels::channels))
        .route("/admin/channels/wecom/sync", post(channels::sync_staff))
        .route("/admin/channels/{kind}", post(channels::save_channel))
        .route("/admin/channels/{kind}/test", post(channels::test_channel))
        .route(
            "/qr-codes",
            get(channels::qr_codes).post(channels::create_qr_code),
        )
        .route("/s/{code}", get(sales::open_link))
        .route("/clients/{id}/share", post(sales::share_link))
        .route(
            "/clients/{id}/share-product",
            post(catalogue::share_product),
        )
        .route("/catalogue", get(catalogue::page))
        .route("/catalogue/import", post(catalogue::upload))
        .route(
            "/catalogue/new",
            get(catalogue::new_product).post(catalogue::create_product),
        )
        .route(
            "/catalogue/{sku}",
            get(catalogue::product).post(catalogue::update_product),
        )
        .route("/catalogue/{sku}/active", post(catalogue::set_active))
        .route("/catalogue/{sku}/stock", post(catalogue::set_stock))
        .route("/p/{brand}/{sku}", get(catalogue::public_product))
        .route(
            "/join/{brand}/{store}",
            get(channels::join).post(channels::join_submit),
        )
        .route(
            "/static/app.css",
            get(|| async {
                static_file(
                    "text/css; charset=utf-8",
                    include_str!("../../static/app.css"),
                )
            }),
        )
        .route(
            "/static/report.css",
            get(|| async { static_file("text/css; charset=utf-8", crate::report::PRINT_CSS) }),
        )
        .route(
            "/static/app.js",
            get(|| async {
                static_file(
                    "text/javascript; charset=utf-8",
                    include_str!("../../static/app.js"),
                )
            }),
        )
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}

/// Constant-time comparison of secrets.
mod subtle_compare {
    pub fn ct_eq(a: &str, b: &str) -> bool {
        use sha2::{Digest, Sha256};
        // Compare digests: equal length, and no early exit on the first differing byte.
        let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
        x.iter()
            .zip(y.iter())
            .fold(0u8, |acc, (p, q)| acc | (p ^ q))
            == 0
    }
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Whether cookies set on this request should be `Secure` (and so may carry `__Host-`).
pub fn secure_cookies(state: &AppState, headers: &HeaderMap) -> bool {
    if state.cookies == CookieSecurity::Always {
        return true;
    }
    if over_tls(state, headers) {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let name = if host.starts_with('[') {
        host.split(']').next().map(|h| &h[1..]).unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    name == "localhost" || name.starts_with("127.") || name == "::1"
}

pub fn set_cookie(secure: bool, name: &str, value: &str, max_age_s: i64) -> HeaderValue {
    let (prefix, flag) = if secure {
        ("__Host-", "; Secure")
    } else {
        ("", "")
    };
    let name = name.strip_prefix("__Host-").unwrap_or(name);
    let v = format!(
        "{prefix}{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{flag}"
    );
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

pub fn language(headers: &HeaderMap) -> Lang {
    if let Some(l) = cookie(headers, LANG_COOKIE).and_then(|v| Lang::parse(&v)) {
        return l;
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if accept.trim_start().starts_with("zh") {
        Lang::Zh
    } else {
        Lang::En
    }
}

/// The signed-in person behind a page request.
pub struct Viewer {
    pub actor: Actor,
    pub csrf: String,
    pub lang: Lang,
}

impl Viewer {
    pub fn t(&self) -> &'static Tr {
        self.lang.tr()
    }

    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, token: &str) -> Result<(), crate::PageError> {
        if ct_eq(&self.csrf, token) {
            Ok(())
        } else {
            Err(crate::PageError(app::AppError::Forbidden(
                "the form has expired or did not come from Salon; reload the page and try again"
                    .into(),
            )))
        }
    }

    pub fn can(&self, a: Action) -> bool {
        self.actor.can(a)
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = language(&parts.headers);
        let cookie_value = cookie(&parts.headers, SESSION_COOKIE_SECURE)
            .or_else(|| cookie(&parts.headers, SESSION_COOKIE_PLAIN));
        let to_login = || {
            let next = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let next: String = form_urlencoded_component(next);
            Redirect::to(&format!("/login?next={next}")).into_response()
        };
        let Some(value) = cookie_value else {
            return Err(to_login());
        };
        match state.salon.actor_for_session(&value).await {
            Ok((actor, csrf)) => Ok(Viewer { actor, csrf, lang }),
            Err(app::AppError::Unauthenticated) => Err(to_login()),
            Err(e) => Err(crate::PageError(e).into_response()),
        }
    }
}

/// Percent-encodes a URL component (only what is needed for a local path).
pub fn form_urlencoded_component(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether the browser reached Salon over TLS: always when configured so, or as our own
/// proxy says in `X-Forwarded-Proto`.
pub fn over_tls(state: &AppState, headers: &HeaderMap) -> bool {
    state.cookies == CookieSecurity::Always
        || (state.behind_proxy
            && forwarded(state, headers, "x-forwarded-proto")
                .is_some_and(|p| p.eq_ignore_ascii_case("https")))
}

/// The entry of a forwarding header that our own proxies wrote: with `proxy_hops` proxies in
/// front, the one that many from the right (every proxy appends what it saw; what is further
/// left came from the client and proves nothing). With fewer entries, the leftmost, which a
/// proxy of ours wrote too.
fn forwarded(state: &AppState, headers: &HeaderMap, name: &str) -> Option<String> {
    let entries: Vec<String> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|e| e.trim().to_owned())
        .collect();
    let hops = state.proxy_hops.max(1);
    entries.get(entries.len().saturating_sub(hops)).cloned()
}

/// The client address, for throttling: the peer, or behind our proxies the address they saw
/// (see [`AppState::proxy_hops`]). Not an address (or none): the peer's.
pub fn client_address(
    state: &AppState,
    req_headers: &HeaderMap,
    peer: Option<std::net::SocketAddr>,
) -> String {
    if state.behind_proxy
        && let Some(entry) = forwarded(state, req_headers, "x-forwarded-for")
        && let Some(ip) = parse_forwarded_ip(&entry)
    {
        return ip.to_string();
    }
    peer.map(|p| p.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:80`.
fn parse_forwarded_ip(entry: &str) -> Option<std::net::IpAddr> {
    entry
        .parse()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

/// Where a person may be sent after signing in (`next`): only a path of this site. It must
/// start with one `/` (not `//`, which is another host, nor `/\`, which browsers read as one),
/// hold no `//` or backslash anywhere, and only printable ASCII — no space, tab, CR, LF or
/// other control character, which browsers drop or which would split the header. Anything
/// else is refused and the person lands on their client book.
pub fn local_path(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.contains("//")
        && !next.contains('\\')
        && next.len() <= 2048
        && next.bytes().all(|b| b.is_ascii_graphic());
    ok.then_some(next)
}

pub fn role_label(t: &Tr, r: Role) -> &'static str {
    match r {
        Role::Associate => t.role_associate,
        Role::StoreManager => t.role_store_manager,
        Role::Hq => t.role_hq,
        Role::Compliance => t.role_compliance,
        Role::Admin => t.role_admin,
    }
}

pub fn error_page(code: StatusCode, message: &str) -> Html<String> {
    pages::render_error(code, message)
}

/// The peer address axum records when serving with connect info.
pub fn peer(req: &Request) -> Option<std::net::SocketAddr> {
    req.extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0)
}
