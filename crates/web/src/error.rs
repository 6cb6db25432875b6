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
