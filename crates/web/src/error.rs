//! One error type per face: JSON for the API, a page for people.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use app::AppError;

fn status(e: &AppError) -> StatusCode {
    match e {
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
        AppError::Invalid(_) | AppError::Blocked { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::Conflict(_) => StatusCode::CONFLICT,
        AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        AppError::Unavailable(_) => StatusCode::BAD_GATEWAY,
        AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        AppError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Logs what the person is not shown, and says when to retry a busy answer.
fn log_and_finish(e: &AppError, mut res: Response) -> Response {
    match e {
        AppError::Internal(detail) => tracing::error!(detail, "internal error"),
        AppError::Busy(detail) => {
            tracing::warn!(detail, "store busy; answered 503");
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        _ => {}
    }
    res
}

/// `{"error": "<stable_code>", "message": "<human text>"}`, plus `fields` for invalid input.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let mut body = json!({"error": e.code(), "message": e.to_string()});
        if let AppError::Invalid(fields) = &e {
            body["fields"] = fields
                .iter()
                .map(|f| json!({"field": f.field, "message": f.message}))
                .collect();
        }
        if let AppError::Blocked { rule, category, .. } = &e {
            body["rule"] = json!(rule);
            body["category"] = json!(category);
        }
        let res = (status(&e), Json(body)).into_response();
        log_and_finish(&e, res)
    }
}

/// An error shown to a person as a page.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        PageError(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let e = self.0;
        let code = status(&e);
        let html = crate::ui::error_page(code, &e.to_string());
        log_and_finish(&e, (code, html).into_response())
    }
}

/// Errors that the HTTP machinery answers by itself on an API route — a body over the size
/// limit (413), a body that is not JSON (400, 415, 422), a method the route lacks (405) — come
/// back in the API's error shape, `{"error": …, "message": …}`, like every other API error.
pub async fn api_errors_as_json(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    let status = res.status();
    if !api || !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "the request body is larger than this route accepts".to_owned(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", text),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this route does not take that method".to_owned(),
        ),
        StatusCode::NOT_FOUND => ("not_found", "not found".to_owned()),
        StatusCode::UNPROCESSABLE_ENTITY => ("invalid_input", text),
        StatusCode::TOO_MANY_REQUESTS => ("rate_limited", text),
        s if s.is_server_error() => ("internal", "internal error".to_owned()),
        _ => ("bad_request", text),
    };
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        message
    };
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    let body = json!({"error": code, "message": message}).to_string();
    Response::from_parts(parts, axum::body::Body::from(body))
}
