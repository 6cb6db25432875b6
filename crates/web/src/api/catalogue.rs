//! Catalogue API handlers: search, a product with its stock, upserts and imports.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use app::AppError;
use app::catalogue::{CatalogueImport, Format, ProductSearch};
use domain::ProductInput;

use super::Caller;
use crate::{ApiError, AppState};

type ApiResult<T> = Result<T, ApiError>;

fn to_json<T: serde::Serialize>(v: &T) -> ApiResult<Json<Value>> {
    serde_json::to_value(v)
        .map(Json)
        .map_err(|e| ApiError(AppError::Internal(e.to_string())))
}

/// CSV when the body says `text/csv`; otherwise JSON: one object, an array, or JSON Lines.
fn format_of(headers: &HeaderMap) -> Format {
    let csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/csv"));
    if csv { Format::Csv } else { Format::JsonLines }
}

fn imported(report: &CatalogueImport) -> Response {
    let status = if report.added > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (
        status,
        Json(json!({"lines": report.lines, "added": report.added, "changed": report.changed})),
    )
        .into_response()
}

pub async fn list_products(
    State(s): State<AppState>,
    Caller(a): Caller,
    q: Result<Query<ProductSearch>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = q.map_err(|e| ApiError(AppError::invalid("query", e.body_text())))?;
    let items = s.salon.search_products(&a, &q).await?;
    Ok(Json(json!({ "items": to_json(&items)?.0 })))
}

pub async fn get_product(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(sku): Path<String>,
) -> ApiResult<Json<Value>> {
    to_json(&s.salon.product_detail(&a, &sku).await?)
}

pub async fn put_product(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(sku): Path<String>,
    body: Result<Json<ProductInput>, JsonRejection>,
) -> ApiResult<Response> {
    let Json(input) = body.map_err(|e| ApiError(AppError::invalid("body", e.body_text())))?;
    let (product, created) = s.salon.put_product(&a, &sku, &input).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, to_json(&product)?).into_response())
}

pub async fn import_products(
    State(s): State<AppState>,
    Caller(a): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let report = s
        .salon
        .import_products(&a, format_of(&headers), &body)
        .await?;
    Ok(imported(&report))
}

pub async fn put_stock(
    State(s): State<AppState>,
    Caller(a): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let report = s.salon.import_stock(&a, format_of(&headers), &body).await?;
    Ok(imported(&report))
}
