//! API handlers: decode, call the use case, encode. Nothing else.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use app::AppError;
use app::clients::{AssignInput, ClientInput, ListParams, TagsInput};
use app::org::{AssociateInput, StoreInput};
use domain::{ClientId, UserId};

use super::Caller;
use crate::{ApiError, AppState};

type ApiResult<T> = Result<T, ApiError>;

/// JSON bodies whose errors name what is wrong in our error format.
fn body<T>(b: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    b.map(|Json(v)| v).map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError(AppError::TooLarge(
                "the request body is larger than this route accepts".into(),
            ))
        } else {
            ApiError(AppError::invalid("body", e.body_text()))
        }
    })
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    q.map(|Query(v)| v)
        .map_err(|e| ApiError(AppError::invalid("query", e.body_text())))
}

/// Ids in paths that are not numbers are simply not found.
fn client_id(raw: &str) -> ApiResult<ClientId> {
    raw.parse()
        .map(ClientId)
        .map_err(|_| ApiError(AppError::NotFound("client")))
}

fn user_id(raw: &str) -> ApiResult<UserId> {
    raw.parse()
        .map(UserId)
        .map_err(|_| ApiError(AppError::NotFound("associate")))
}

fn to_json<T: serde::Serialize>(v: &T) -> ApiResult<Json<Value>> {
    serde_json::to_value(v)
        .map(Json)
        .map_err(|e| ApiError(AppError::Internal(e.to_string())))
}

pub async fn get_brand(Caller(a): Caller) -> ApiResult<Json<Value>> {
    to_json(&a.brand)
}

pub async fn get_me(Caller(a): Caller) -> ApiResult<Json<Value>> {
    Ok(Json(json!({
        "brand": a.brand.slug,
        "role": a.role,
        "user": a.user,
        "store_id": a.store,
    })))
}

pub async fn list_clients(
    State(s): State<AppState>,
    Caller(a): Caller,
    q: Result<Query<ListParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let page = s.salon.list_clients(&a, &query(q)?).await?;
    to_json(&page)
}

pub async fn create_client(
    State(s): State<AppState>,
    Caller(a): Caller,
    b: Result<Json<ClientInput>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let c = s.salon.create_client(&a, &body(b)?).await?;
    Ok((StatusCode::CREATED, to_json(&c)?))
}

#[derive(Deserialize)]
pub struct ImportParams {
    #[serde(default)]
    skip_bad: bool,
}

pub async fn import_clients(
    State(s): State<AppState>,
    Caller(a): Caller,
    q: Result<Query<ImportParams>, QueryRejection>,
    csv: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let params = query(q)?;
    if csv.is_empty() {
        return Err(ApiError(AppError::invalid(
            "body",
            "send the CSV file as the request body (Content-Type: text/csv)",
        )));
    }
    let report = s
        .salon
        .import_clients_csv(&a, &csv, params.skip_bad)
        .await?;
    let status = if report.imported {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut v =
        serde_json::to_value(&report).map_err(|e| ApiError(AppError::Internal(e.to_string())))?;
    if !report.imported {
        v["error"] = json!("invalid_rows");
        v["message"] = json!(format!(
            "{} problem(s) in the file; nothing was imported (pass skip_bad=true to import the good rows)",
            report.errors.len()
        ));
    }
    Ok((status, Json(v)))
}

pub async fn get_client(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    to_json(&s.salon.client_profile(&a, client_id(&id)?).await?)
}

pub async fn update_client(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    b: Result<Json<ClientInput>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let id = client_id(&id)?;
    to_json(&s.salon.update_client(&a, id, &body(b)?).await?)
}

#[derive(Deserialize)]
pub struct NoteInput {
    text: String,
}

pub async fn add_note(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    b: Result<Json<NoteInput>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = client_id(&id)?;
    let note = s.salon.add_note(&a, id, &body(b)?.text).await?;
    Ok((StatusCode::CREATED, to_json(&note)?))
}

pub async fn edit_tags(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    b: Result<Json<TagsInput>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let id = client_id(&id)?;
    let tags = s.salon.edit_tags(&a, id, &body(b)?).await?;
    Ok(Json(json!({"tags": tags})))
}

pub async fn assign_client(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    b: Result<Json<AssignInput>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let id = client_id(&id)?;
    to_json(&s.salon.assign_client(&a, id, &body(b)?).await?)
}

pub async fn list_stores(State(s): State<AppState>, Caller(a): Caller) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": s.salon.list_stores(&a).await?})))
}

pub async fn create_store(
    State(s): State<AppState>,
    Caller(a): Caller,
    b: Result<Json<StoreInput>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let store = s.salon.create_store(&a, &body(b)?).await?;
    Ok((StatusCode::CREATED, to_json(&store)?))
}

pub async fn update_store(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(code): Path<String>,
    b: Result<Json<StoreInput>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    to_json(&s.salon.update_store(&a, &code, &body(b)?).await?)
}

#[derive(Deserialize)]
pub struct AssociateFilter {
    store: Option<String>,
}

pub async fn list_associates(
    State(s): State<AppState>,
    Caller(a): Caller,
    q: Result<Query<AssociateFilter>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let f = query(q)?;
    let items: Vec<Value> = s
        .salon
        .list_associates(&a, f.store.as_deref())
        .await?
        .into_iter()
        .map(|(u, n)| {
            let mut v = serde_json::to_value(&u).unwrap_or_default();
            v["clients"] = json!(n);
            v
        })
        .collect();
    Ok(Json(json!({"items": items})))
}

pub async fn create_associate(
    State(s): State<AppState>,
    Caller(a): Caller,
    b: Result<Json<AssociateInput>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let u = s.salon.create_associate(&a, &body(b)?).await?;
    Ok((StatusCode::CREATED, to_json(&u)?))
}

pub async fn update_associate(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    b: Result<Json<AssociateInput>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let id = user_id(&id)?;
    to_json(&s.salon.update_associate(&a, id, &body(b)?).await?)
}

pub async fn depart_associate(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    to_json(&s.salon.depart_associate(&a, user_id(&id)?).await?)
}

#[derive(Deserialize, Default)]
pub struct TransferInput {
    /// The colleague who takes every client; without it, they are spread over the store.
    to: Option<i64>,
    reason: Option<String>,
}

pub async fn transfer_clients(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    b: Result<Json<TransferInput>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let from = user_id(&id)?;
    let input = body(b)?;
    let reason = input.reason.unwrap_or_else(|| "transfer".into());
    let moved = s
        .salon
        .transfer_book(&a, from, input.to.map(UserId), &reason)
        .await?;
    Ok(Json(json!({"moved": moved})))
}

fn channel_kind(raw: &str) -> ApiResult<domain::ChannelKind> {
    domain::ChannelKind::parse(raw).ok_or(ApiError(AppError::NotFound("channel")))
}

#[derive(Deserialize)]
pub struct LimitParams {
    limit: Option<u32>,
}

pub async fn list_messages(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    q: Result<Query<LimitParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let limit = query(q)?.limit.unwrap_or(100);
    let messages = s.salon.client_messages(&a, client_id(&id)?, limit).await?;
    Ok(Json(json!({ "items": messages })))
}

pub async fn get_channel(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(channel): Path<String>,
) -> ApiResult<Json<Value>> {
    to_json(&s.salon.channel_view(&a, channel_kind(&channel)?).await?)
}

pub async fn configure_channel(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(channel): Path<String>,
    b: Result<Json<app::channels::ChannelInput>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let kind = channel_kind(&channel)?;
    to_json(&s.salon.configure_channel(&a, kind, &body(b)?).await?)
}

pub async fn test_channel(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(channel): Path<String>,
) -> ApiResult<Json<Value>> {
    let message = s.salon.test_channel(&a, channel_kind(&channel)?).await?;
    Ok(Json(json!({ "ok": true, "message": message })))
}

pub async fn sync_staff(State(s): State<AppState>, Caller(a): Caller) -> ApiResult<Json<Value>> {
    to_json(&s.salon.sync_staff(&a).await?)
}

pub async fn list_contact_ways(
    State(s): State<AppState>,
    Caller(a): Caller,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({ "items": s.salon.list_contact_ways(&a).await? }),
    ))
}

pub async fn create_contact_way(
    State(s): State<AppState>,
    Caller(a): Caller,
    b: Result<Json<app::channels::ContactWayInput>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let way = s.salon.create_contact_way(&a, &body(b)?).await?;
    Ok((StatusCode::CREATED, to_json(&way)?))
}

/// A period's `from` and `to` query values as dates.
fn dates(from: &str, to: &str) -> ApiResult<(jiff::civil::Date, jiff::civil::Date)> {
    let date = |field: &str, s: &str| domain::date(field, s).map_err(|e| ApiError(e.into()));
    Ok((date("from", from)?, date("to", to)?))
}

#[derive(Deserialize)]
pub struct ReportParams {
    from: String,
    to: String,
    tz: Option<String>,
    /// A saved segment: the report over its clients' part of the community.
    segment: Option<i64>,
}

pub async fn get_report(
    State(s): State<AppState>,
    Caller(a): Caller,
    q: Result<Query<ReportParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let q = query(q)?;
    let (from, to) = dates(&q.from, &q.to)?;
    Ok(Json(match q.segment {
        Some(id) => {
            s.salon
                .segment_report(&a, id, from, to, q.tz.as_deref())
                .await?
        }
        None => s.salon.brand_report(&a, from, to, q.tz.as_deref()).await?,
    }))
}

#[derive(Deserialize)]
pub struct SkipBad {
    skip_bad: Option<bool>,
}

pub async fn import_events(
    State(s): State<AppState>,
    Caller(a): Caller,
    q: Result<Query<SkipBad>, QueryRejection>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let skip_bad = query(q)?.skip_bad.unwrap_or(false);
    to_json(&s.salon.import_events(&a, body.as_ref(), skip_bad).await?)
}

pub async fn export_events(
    State(s): State<AppState>,
    Caller(a): Caller,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse as _;
    let mut out = s.salon.export_events(&a).await?.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/x-ndjson")],
        out,
    )
        .into_response())
}

pub async fn growth_forecast(
    State(s): State<AppState>,
    Caller(a): Caller,
    b: Result<Json<index::planning::ForecastInput>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    to_json(&s.salon.growth_forecast(&a, &body(b)?)?)
}

#[derive(Deserialize)]
pub struct AbParams {
    from: String,
    to: String,
    a: String,
    b: String,
}

pub async fn push_ab_test(
    State(s): State<AppState>,
    Caller(a): Caller,
    q: Result<Query<AbParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let q = query(q)?;
    let (from, to) = dates(&q.from, &q.to)?;
    to_json(&s.salon.push_ab_test(&a, from, to, &q.a, &q.b).await?)
}

pub async fn get_benchmark(
    State(s): State<AppState>,
    Caller(a): Caller,
    q: Result<Query<ReportParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let q = query(q)?;
    let (from, to) = dates(&q.from, &q.to)?;
    Ok(Json(s.salon.brand_benchmark(&a, from, to).await?))
}

#[derive(Deserialize)]
pub struct SendInput {
    text: String,
    #[serde(default)]
    idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct GroupParams {
    client: Option<i64>,
}

pub async fn list_groups(
    State(s): State<AppState>,
    Caller(a): Caller,
    q: Result<Query<GroupParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let client = query(q)?.client.map(ClientId);
    Ok(Json(json!({ "items": s.salon.groups(&a, client).await? })))
}

pub async fn get_group(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = id
        .parse()
        .map_err(|_| ApiError(AppError::NotFound("group chat")))?;
    to_json(&s.salon.group_thread(&a, id).await?)
}

pub async fn post_to_group(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    b: Result<Json<SendInput>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let input = body(b)?;
    let id = id
        .parse()
        .map_err(|_| ApiError(AppError::NotFound("group chat")))?;
    let post = s
        .salon
        .post_to_group(&a, id, &input.text, input.idempotency_key.as_deref())
        .await?;
    Ok((StatusCode::ACCEPTED, to_json(&post)?))
}

pub async fn sync_groups(State(s): State<AppState>, Caller(a): Caller) -> ApiResult<Json<Value>> {
    let n = s.salon.sync_groups(&a).await?;
    Ok(Json(json!({ "groups": n })))
}

pub async fn list_conversations(
    State(s): State<AppState>,
    Caller(a): Caller,
    q: Result<Query<LimitParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let limit = query(q)?.limit.unwrap_or(100);
    Ok(Json(json!({ "items": s.salon.inbox(&a, limit).await? })))
}

pub async fn get_thread(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    to_json(&s.salon.thread(&a, client_id(&id)?).await?)
}

pub async fn send_message(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    b: Result<Json<SendInput>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let input = body(b)?;
    let sent = s
        .salon
        .send_message(
            &a,
            client_id(&id)?,
            &input.text,
            input.idempotency_key.as_deref(),
        )
        .await?;
    Ok((StatusCode::ACCEPTED, to_json(&sent)?))
}

#[derive(Deserialize)]
pub struct FormatParams {
    format: Option<String>,
}

pub async fn export_thread(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    q: Result<Query<FormatParams>, QueryRejection>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let format = query(q)?.format.unwrap_or_else(|| "jsonl".into());
    let (text, content_type) = s.salon.export_thread(&a, client_id(&id)?, &format).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, content_type)], text).into_response())
}

pub async fn export_group(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    q: Result<Query<FormatParams>, QueryRejection>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let format = query(q)?.format.unwrap_or_else(|| "jsonl".into());
    let id = id
        .parse()
        .map_err(|_| ApiError(AppError::NotFound("group chat")))?;
    let (text, content_type) = s.salon.export_group(&a, id, &format).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, content_type)], text).into_response())
}

pub async fn get_outbound(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError(AppError::NotFound("outbox row")))?;
    let o = s.salon.outbound(&a, id).await?;
    to_json(&o)
}

pub async fn service_quality(
    State(s): State<AppState>,
    Caller(a): Caller,
) -> ApiResult<Json<Value>> {
    to_json(&s.salon.service_quality(&a).await?)
}

pub async fn list_rules(State(s): State<AppState>, Caller(a): Caller) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "items": s.salon.list_rules(&a).await? })))
}

pub async fn create_rule(
    State(s): State<AppState>,
    Caller(a): Caller,
    b: Result<Json<app::compliance::RuleInput>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let r = s.salon.put_rule(&a, None, &body(b)?).await?;
    Ok((StatusCode::CREATED, to_json(&r)?))
}

pub async fn update_rule(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    b: Result<Json<app::compliance::RuleInput>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError(AppError::NotFound("rule")))?;
    to_json(&s.salon.put_rule(&a, Some(id), &body(b)?).await?)
}

#[derive(Deserialize)]
pub struct CheckInput {
    text: String,
}

pub async fn check_text(
    State(s): State<AppState>,
    Caller(a): Caller,
    b: Result<Json<CheckInput>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let input = body(b)?;
    let v = s.salon.check_text(a.brand.id, &input.text).await?;
    Ok(Json(json!({
        "action": v.action(),
        "hits": v.hits,
    })))
}

#[derive(Deserialize)]
pub struct FlagParams {
    status: Option<String>,
    limit: Option<u32>,
}

pub async fn list_flags(
    State(s): State<AppState>,
    Caller(a): Caller,
    q: Result<Query<FlagParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let p = query(q)?;
    let status = match p.status.as_deref() {
        None | Some("open") => Some(domain::FlagStatus::Open),
        Some("all") => None,
        Some(other) => Some(domain::FlagStatus::parse(other).ok_or_else(|| {
            ApiError(AppError::invalid(
                "status",
                "expected open, resolved, dismissed or all",
            ))
        })?),
    };
    let items = s
        .salon
        .review_queue(&a, status, p.limit.unwrap_or(200))
        .await?;
    Ok(Json(json!({ "items": items })))
}

#[derive(Deserialize)]
pub struct ReviewInput {
    outcome: String,
    #[serde(default)]
    note: String,
}

pub async fn review_flag(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    b: Result<Json<ReviewInput>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError(AppError::NotFound("review item")))?;
    let input = body(b)?;
    to_json(
        &s.salon
            .review_flag(&a, id, &input.outcome, &input.note)
            .await?,
    )
}

pub async fn flag_counts(State(s): State<AppState>, Caller(a): Caller) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "items": s.salon.flag_counts(&a).await? })))
}

#[derive(Deserialize)]
pub struct AuditParams {
    after: Option<i64>,
    limit: Option<u32>,
}

pub async fn audit_log(
    State(s): State<AppState>,
    Caller(a): Caller,
    q: Result<Query<AuditParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let p = query(q)?;
    let items = s
        .salon
        .audit_log(&a, p.after.unwrap_or(0), p.limit.unwrap_or(1000))
        .await?;
    Ok(Json(json!({ "items": items })))
}

pub async fn verify_audit(State(s): State<AppState>, Caller(a): Caller) -> ApiResult<Json<Value>> {
    a.require(domain::Action::ReadAudit)?;
    Ok(Json(match s.salon.verify_audit(a.brand.id).await? {
        Ok(n) => json!({"ok": true, "entries": n}),
        Err(b) => json!({"ok": false, "broken_at": b.seq, "reason": b.reason}),
    }))
}

pub async fn search_archive(
    State(s): State<AppState>,
    Caller(a): Caller,
    q: Result<Query<app::archive::ArchiveSearch>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let found = s.salon.search_archive(&a, &query(q)?).await?;
    Ok(Json(json!({ "items": found })))
}

pub async fn search_groups(
    State(s): State<AppState>,
    Caller(a): Caller,
    q: Result<Query<app::archive::ArchiveSearch>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let found = s.salon.search_groups(&a, &query(q)?).await?;
    Ok(Json(json!({ "items": found })))
}

pub async fn export_search(
    State(s): State<AppState>,
    Caller(a): Caller,
    q: Result<Query<app::archive::ArchiveSearch>, QueryRejection>,
    f: Result<Query<FormatParams>, QueryRejection>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let search = query(q)?;
    let format = query(f)?.format.unwrap_or_else(|| "jsonl".into());
    let (text, content_type) = s.salon.export_search(&a, &search, &format).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, content_type)], text).into_response())
}

// --- Segments and campaigns ---------------------------------------------------------------

fn id_of(raw: &str, what: &'static str) -> ApiResult<i64> {
    raw.parse().map_err(|_| ApiError(AppError::NotFound(what)))
}

#[derive(Deserialize)]
pub struct CountInput {
    expression: String,
}

pub async fn count_segment(
    State(s): State<AppState>,
    Caller(a): Caller,
    b: Result<Json<CountInput>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let input = body(b)?;
    to_json(&s.salon.count_segment(&a, &input.expression).await?)
}

pub async fn list_segments(State(s): State<AppState>, Caller(a): Caller) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "items": s.salon.segments(&a).await? })))
}

#[derive(Deserialize)]
pub struct SegmentInput {
    name: String,
    expression: String,
}

pub async fn create_segment(
    State(s): State<AppState>,
    Caller(a): Caller,
    b: Result<Json<SegmentInput>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let input = body(b)?;
    let seg = s
        .salon
        .save_segment(&a, None, &input.name, &input.expression)
        .await?;
    Ok((StatusCode::CREATED, to_json(&seg)?))
}

pub async fn update_segment(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    b: Result<Json<SegmentInput>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let id = id_of(&id, "segment")?;
    let input = body(b)?;
    to_json(
        &s.salon
            .save_segment(&a, Some(id), &input.name, &input.expression)
            .await?,
    )
}

pub async fn get_contact_policy(
    State(s): State<AppState>,
    Caller(a): Caller,
) -> ApiResult<Json<Value>> {
    to_json(&s.salon.contact_policy(&a).await?)
}

pub async fn put_contact_policy(
    State(s): State<AppState>,
    Caller(a): Caller,
    b: Result<Json<domain::ContactPolicy>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let p = body(b)?;
    s.salon.set_contact_policy(&a, &p).await?;
    to_json(&p)
}

#[derive(Deserialize)]
pub struct CampaignBody {
    name: String,
    #[serde(default)]
    kind: Option<String>,
    segment_id: Option<i64>,
    expression: Option<String>,
    text: String,
    /// RFC 3339; now when absent.
    send_at: Option<String>,
    max_recipients: Option<u32>,
    #[serde(default)]
    asset_ids: Vec<i64>,
}

pub async fn create_campaign(
    State(s): State<AppState>,
    Caller(a): Caller,
    b: Result<Json<CampaignBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let input = body(b)?;
    let kind = match input.kind.as_deref() {
        None => domain::CampaignKind::Broadcast,
        Some(k) => domain::CampaignKind::parse(k)
            .ok_or_else(|| ApiError(AppError::invalid("kind", "must be broadcast or prepared")))?,
    };
    let send_at = match input.send_at.as_deref() {
        None | Some("") => None,
        Some(t) => Some(
            t.parse::<jiff::Timestamp>()
                .map_err(|_| {
                    ApiError(AppError::invalid(
                        "send_at",
                        "must be an RFC 3339 time such as 2026-12-01T10:00:00+08:00",
                    ))
                })?
                .as_millisecond(),
        ),
    };
    let c = s
        .salon
        .create_campaign(
            &a,
            app::broadcasts::CampaignInput {
                name: input.name,
                kind,
                segment_id: input.segment_id,
                expression: input.expression,
                text: input.text,
                send_at,
                max_recipients: input.max_recipients,
                asset_ids: input.asset_ids,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, to_json(&c)?))
}

pub async fn list_campaigns(
    State(s): State<AppState>,
    Caller(a): Caller,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "items": s.salon.campaigns(&a).await? })))
}

pub async fn get_campaign(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    to_json(&s.salon.campaign(&a, id_of(&id, "campaign")?).await?)
}

pub async fn plan_campaign(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    to_json(&s.salon.plan_campaign(&a, id_of(&id, "campaign")?).await?)
}

pub async fn cancel_campaign(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = id_of(&id, "campaign")?;
    s.salon.cancel_campaign(&a, id).await?;
    to_json(&s.salon.campaign(&a, id).await?)
}

#[derive(Deserialize)]
pub struct SendsParams {
    status: Option<String>,
    after: Option<i64>,
    limit: Option<u32>,
}

pub async fn campaign_sends(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    q: Result<Query<SendsParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let q = query(q)?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(st) => Some(domain::SendStatus::parse(st).ok_or_else(|| {
            ApiError(AppError::invalid(
                "status",
                "must be suppressed, planned, sending, sent or failed",
            ))
        })?),
    };
    let items = s
        .salon
        .campaign_sends(
            &a,
            id_of(&id, "campaign")?,
            status,
            q.after.unwrap_or(0),
            q.limit.unwrap_or(500),
        )
        .await?;
    Ok(Json(json!({ "items": items })))
}

pub async fn list_tasks(State(s): State<AppState>, Caller(a): Caller) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "items": s.salon.tasks(&a).await? })))
}

pub async fn send_task(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    to_json(&s.salon.send_prepared(&a, id_of(&id, "campaign")?).await?)
}

#[derive(Deserialize)]
pub struct MomentInput {
    text: String,
    #[serde(default)]
    senders: Vec<i64>,
    #[serde(default)]
    asset_ids: Vec<i64>,
}

pub async fn list_moments(State(s): State<AppState>, Caller(a): Caller) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "items": s.salon.moments(&a).await? })))
}

pub async fn create_moment(
    State(s): State<AppState>,
    Caller(a): Caller,
    b: Result<Json<MomentInput>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let input = body(b)?;
    let senders: Vec<UserId> = input.senders.into_iter().map(UserId).collect();
    let m = s
        .salon
        .create_moment(&a, &input.text, &senders, &input.asset_ids)
        .await?;
    Ok((StatusCode::CREATED, to_json(&m)?))
}

pub async fn list_assets(State(s): State<AppState>, Caller(a): Caller) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "items": s.salon.assets(&a).await? })))
}

/// `multipart/form-data`: `file` (PNG or JPEG) and the texts (`title`, `caption_zh`,
/// `caption_en`, `talking_points`, `guidelines`, `tags`, `collection`, `valid_from`,
/// `valid_to` as dates).
pub async fn upload_asset(
    State(s): State<AppState>,
    Caller(a): Caller,
    form: axum::extract::Multipart,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let up = crate::ui::read_asset_form(form, a.brand.time_zone.as_str()).await?;
    let asset = s.salon.upload_asset(&a, up.file, up.text?).await?;
    Ok((StatusCode::CREATED, to_json(&asset)?))
}

#[derive(Deserialize)]
pub struct AssetStatusInput {
    status: String,
}

pub async fn set_asset_status(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    b: Result<Json<AssetStatusInput>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let id = id_of(&id, "asset")?;
    let input = body(b)?;
    let status = domain::AssetStatus::parse(&input.status).ok_or_else(|| {
        ApiError(AppError::invalid(
            "status",
            "must be draft, approved or retired",
        ))
    })?;
    to_json(&s.salon.set_asset_status(&a, id, status).await?)
}

#[derive(Deserialize)]
pub struct ImageParams {
    thumb: Option<bool>,
}

pub async fn asset_image(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    q: Result<Query<ImageParams>, QueryRejection>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let q = query(q)?;
    let (mime, bytes) = s
        .salon
        .asset_image(&a, id_of(&id, "asset")?, q.thumb.unwrap_or(false))
        .await?;
    Ok(([(axum::http::header::CONTENT_TYPE, mime)], bytes).into_response())
}

#[derive(Deserialize)]
pub struct ImageInput {
    asset_id: i64,
    idempotency_key: Option<String>,
}

pub async fn send_image(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    b: Result<Json<ImageInput>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let input = body(b)?;
    let row = s
        .salon
        .send_image(
            &a,
            client_id(&id)?,
            input.asset_id,
            input.idempotency_key.as_deref(),
        )
        .await?;
    Ok((StatusCode::ACCEPTED, to_json(&row)?))
}
