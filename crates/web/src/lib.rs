//! Salon's HTTP layer: the JSON API under `/api/v1` (with its OpenAPI document), the web UI,
//! and the health probes. Handlers translate HTTP to use-case calls and back; no SQL, no
//! business rule lives here.

pub mod api;
mod callbacks;
mod error;
pub mod report;
mod security;
pub mod ui;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

pub use app::Salon;
pub use error::{ApiError, PageError};

/// How cookies are marked `Secure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CookieSecurity {
    /// Secure (with the `__Host-` prefix) over TLS as seen through `X-Forwarded-Proto`, and
    /// on loopback addresses, which browsers treat as secure; plain elsewhere.
    #[default]
    Auto,
    Always,
}

#[derive(Clone)]
pub struct AppState {
    pub salon: Salon,
    pub cookies: CookieSecurity,
    /// Trust `X-Forwarded-For` / `X-Forwarded-Proto` (behind a reverse proxy).
    pub behind_proxy: bool,
    /// How many reverse proxies stand in front of Salon (when `behind_proxy`): the client's
    /// address is the one that many entries from the right of `X-Forwarded-For`, the last
    /// one a proxy of ours appended. Anything further left was written by the client.
    pub proxy_hops: usize,
    pub started: Arc<std::time::Instant>,
    /// The sandbox provider (the WeCom + OA simulator) mounted at `/sandbox`, when running.
    pub sandbox: Option<Router>,
    /// The brand whose signed-in staff may open the sandbox's pages (the demo's).
    pub sandbox_brand: String,
}

impl AppState {
    pub fn new(salon: Salon) -> Self {
        Self {
            salon,
            cookies: CookieSecurity::Auto,
            behind_proxy: false,
            proxy_hops: 1,
            started: Arc::new(std::time::Instant::now()),
            sandbox: None,
            sandbox_brand: "demo".into(),
        }
    }
}

/// The whole application: API, UI, probes, security headers, body limits.
pub fn router(state: AppState) -> Router {
    let mut app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .nest("/api/v1", api::router(state.clone()))
        .merge(callbacks::router())
        .route(
            "/webhooks/sales/{brand}/{kind}",
            axum::routing::post(api::sales_webhook),
        )
        .merge(ui::router(state.clone()));
    if let Some(sandbox) = state.sandbox.clone() {
        let gated = sandbox.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            sandbox_gate,
        ));
        app = app.nest_service("/sandbox", gated);
    }
    app.layer(tower_http::limit::RequestBodyLimitLayer::new(
        64 * 1024 * 1024,
    ))
    .layer(axum::middleware::from_fn(error::api_errors_as_json))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        security::headers,
    ))
    .with_state(state)
}

/// The sandbox's pages (a QR code, "scan as a client") make things happen in the sandbox's
/// brand: only its signed-in staff may open them; anyone else is sent to sign in, and a
/// signed-in member of another brand finds nothing. Its API (`/cgi-bin/…`) is what Salon
/// itself calls, as it would call Tencent: each call needs an access token that only this
/// installation's sandbox secret obtains.
async fn sandbox_gate(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::extract::FromRequestParts as _;
    use axum::response::IntoResponse as _;
    if req.uri().path().starts_with("/cgi-bin/") {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let inner = parts.uri.clone();
    // Signing in brings the browser back to the page it asked for.
    if let Some(original) = parts.extensions.get::<axum::extract::OriginalUri>() {
        parts.uri = original.0.clone();
    }
    match ui::Viewer::from_request_parts(&mut parts, &state).await {
        Ok(viewer) if viewer.actor.brand.slug.as_str() == state.sandbox_brand => {
            parts.uri = inner;
            next.run(axum::extract::Request::from_parts(parts, body))
                .await
        }
        Ok(_) => StatusCode::NOT_FOUND.into_response(),
        Err(to_sign_in) => to_sign_in,
    }
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.salon.repo.ready().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "not ready")
        }
    }
}
