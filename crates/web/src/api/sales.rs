//! Sales API handlers: orders and returns from the POS and the e-commerce site, touches and
//! rates, the policy and targets, statements, My month and disputes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use app::AppError;
use app::sales::{DecisionInput, Lines, SalesFile};

use super::Caller;
use crate::{ApiError, AppState};

type ApiResult<T> = Result<T, ApiError>;

#[derive(Deserialize)]
pub struct MonthParam {
    pub month: Option<String>,
}

#[derive(Deserialize)]
pub struct StatusParam {
    pub status: Option<String>,
}

fn month(q: Result<Query<MonthParam>, QueryRejection>) -> ApiResult<String> {
    let Query(p) = q.map_err(|e| ApiError(AppError::invalid("query", e.body_text())))?;
    p.month
        .ok_or_else(|| ApiError(AppError::invalid("month", "is required (YYYY-MM)")))
}

fn to_json<T: serde::Serialize>(v: &T) -> ApiResult<Json<Value>> {
    serde_json::to_value(v)
        .map(Json)
        .map_err(|e| ApiError(AppError::Internal(e.to_string())))
}

/// A body of one JSON object, an array of them, or JSON Lines: as lines.
fn lines_of(body: &Bytes) -> ApiResult<Lines> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError(AppError::invalid("body", "is not UTF-8 text")))?;
    Ok(Lines::Text(match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => Value::Object(o).to_string(),
        Ok(Value::Array(items)) => items
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
        _ => text.to_owned(),
    }))
}

async fn import(
    s: &AppState,
    a: &app::Actor,
    kind: SalesFile,
    body: &Bytes,
) -> ApiResult<Response> {
    let report = s.salon.import_sales(a, kind, &lines_of(body)?).await?;
    let status = if report.added > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({"lines": report.lines, "added": report.added})),
    )
        .into_response())
}

pub async fn post_orders(
    State(s): State<AppState>,
    Caller(a): Caller,
    body: Bytes,
) -> ApiResult<Response> {
    import(&s, &a, SalesFile::Orders, &body).await
}

pub async fn post_returns(
    State(s): State<AppState>,
    Caller(a): Caller,
    body: Bytes,
) -> ApiResult<Response> {
    import(&s, &a, SalesFile::Returns, &body).await
}

pub async fn post_touches(
    State(s): State<AppState>,
    Caller(a): Caller,
    body: Bytes,
) -> ApiResult<Response> {
    import(&s, &a, SalesFile::Touches, &body).await
}

pub async fn post_fx(
    State(s): State<AppState>,
    Caller(a): Caller,
    body: Bytes,
) -> ApiResult<Response> {
    import(&s, &a, SalesFile::Fx, &body).await
}

pub async fn get_report(
    State(s): State<AppState>,
    Caller(a): Caller,
    q: Result<Query<MonthParam>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    to_json(&s.salon.sales_report(&a, &month(q)?).await?)
}

pub async fn get_my_month(
    State(s): State<AppState>,
    Caller(a): Caller,
    q: Result<Query<MonthParam>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    to_json(&s.salon.my_month(&a, &month(q)?).await?)
}

pub async fn export_statements(
    State(s): State<AppState>,
    Caller(a): Caller,
    q: Result<Query<MonthParam>, QueryRejection>,
) -> ApiResult<Response> {
    let csv = s.salon.export_statements(&a, &month(q)?).await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        csv,
    )
        .into_response())
}

pub async fn get_policy(State(s): State<AppState>, Caller(a): Caller) -> ApiResult<Json<Value>> {
    Ok(Json(s.salon.sales_policy(&a).await?.to_json()))
}

pub async fn put_policy(
    State(s): State<AppState>,
    Caller(a): Caller,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError(AppError::invalid("body", "is not UTF-8 text")))?;
    Ok(Json(s.salon.set_sales_policy(&a, text).await?.to_json()))
}

fn tiers_json(t: &domain::TierThresholds) -> Value {
    serde_json::json!({
        "tiers": t.tiers.iter().map(|(tier, min)| serde_json::json!({"tier": tier, "min_spend": min})).collect::<Vec<_>>()
    })
}

pub async fn get_tiers(State(s): State<AppState>, Caller(a): Caller) -> ApiResult<Json<Value>> {
    Ok(Json(tiers_json(&s.salon.tier_thresholds(&a).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TiersInput {
    pub tiers: Vec<TierInput>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierInput {
    pub tier: String,
    pub min_spend: i64,
}

pub async fn put_tiers(
    State(s): State<AppState>,
    Caller(a): Caller,
    b: Result<Json<TiersInput>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let Json(t) = b.map_err(|e| ApiError(AppError::invalid("body", e.body_text())))?;
    let rows = t.tiers.into_iter().map(|x| (x.tier, x.min_spend)).collect();
    Ok(Json(tiers_json(
        &s.salon.set_tier_thresholds(&a, rows).await?,
    )))
}

#[derive(Deserialize)]
pub struct TargetsInput {
    pub month: String,
    pub targets: Vec<TargetInput>,
}

#[derive(Deserialize)]
pub struct TargetInput {
    pub associate: String,
    pub amount: i64,
}

pub async fn put_targets(
    State(s): State<AppState>,
    Caller(a): Caller,
    b: Result<Json<TargetsInput>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let Json(t) = b.map_err(|e| ApiError(AppError::invalid("body", e.body_text())))?;
    let rows: Vec<(String, i64)> = t
        .targets
        .into_iter()
        .map(|x| (x.associate, x.amount))
        .collect();
    let n = s.salon.set_targets(&a, &t.month, &rows).await?;
    Ok(Json(json!({"month": t.month, "set": n})))
}

#[derive(Deserialize)]
pub struct DisputeInput {
    pub order_id: String,
    pub reason: String,
}

pub async fn list_disputes(
    State(s): State<AppState>,
    Caller(a): Caller,
    q: Result<Query<StatusParam>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(p) = q.map_err(|e| ApiError(AppError::invalid("query", e.body_text())))?;
    Ok(Json(
        json!({"items": s.salon.list_disputes(&a, p.status.as_deref()).await?}),
    ))
}

pub async fn raise_dispute(
    State(s): State<AppState>,
    Caller(a): Caller,
    b: Result<Json<DisputeInput>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let Json(d) = b.map_err(|e| ApiError(AppError::invalid("body", e.body_text())))?;
    let out = s.salon.raise_dispute(&a, &d.order_id, &d.reason).await?;
    Ok((StatusCode::CREATED, to_json(&out)?))
}

pub async fn decide_dispute(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    b: Result<Json<DecisionInput>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let id = id
        .parse()
        .map_err(|_| ApiError(AppError::NotFound("dispute")))?;
    let Json(d) = b.map_err(|e| ApiError(AppError::invalid("body", e.body_text())))?;
    to_json(&s.salon.decide_dispute(&a, id, &d).await?)
}

pub async fn create_share_link(
    State(s): State<AppState>,
    Caller(a): Caller,
    b: Result<Json<app::sales::ShareLinkInput>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let Json(input) = b.map_err(|e| ApiError(AppError::invalid("body", e.body_text())))?;
    let link = s.salon.create_share_link(&a, &input).await?;
    let mut v =
        serde_json::to_value(&link).map_err(|e| ApiError(AppError::Internal(e.to_string())))?;
    v["path"] = Value::String(format!("/s/{}", link.code));
    Ok((StatusCode::CREATED, Json(v)))
}

pub async fn list_share_links(
    State(s): State<AppState>,
    Caller(a): Caller,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": s.salon.my_share_links(&a).await?})))
}

/// `POST /webhooks/sales/{brand}/{orders|returns}`: the e-commerce platform's signed webhook
/// (`X-Salon-Signature: sha256=<hex HMAC-SHA256 of the raw body>`). No bearer token: the
/// signature is the credential. A bad or missing signature is 401 and nothing is stored.
pub async fn webhook(
    State(s): State<AppState>,
    Path((brand, kind)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let kind = match kind.as_str() {
        "orders" => SalesFile::Orders,
        "returns" => SalesFile::Returns,
        _ => return Err(ApiError(AppError::NotFound("webhook"))),
    };
    let sig = headers
        .get(app::sales::WEBHOOK_SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    let report = s.salon.webhook_sales(&brand, kind, sig, &body).await?;
    let status = if report.added > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({"lines": report.lines, "added": report.added})),
    )
        .into_response())
}
