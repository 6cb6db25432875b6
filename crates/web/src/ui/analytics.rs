//! The Luxury Index dashboard (HQ and compliance): the brand's report for a period, each chart
//! with its figures and a CSV download, and the whole report as one printable page.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use domain::Action;

use super::Viewer;
use super::pages::{Chrome, PageResult, chrome, render};
use crate::report::{self, Chart, Kpi};
use crate::{AppState, PageError};

#[derive(Deserialize, Default)]
pub struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
}

/// The period asked for, or the last twelve whole months in the brand's time zone.
fn period(
    v: &Viewer,
    q: &PeriodQuery,
) -> Result<(jiff::civil::Date, jiff::civil::Date), PageError> {
    let today = jiff::Timestamp::now()
        .in_tz(v.actor.brand.time_zone.as_str())
        .map(|z| z.date())
        .unwrap_or_else(|_| {
            jiff::Timestamp::now()
                .to_zoned(jiff::tz::TimeZone::UTC)
                .date()
        });
    let this_month = today.first_of_month();
    let default_from = this_month
        .checked_sub(jiff::Span::new().months(12))
        .unwrap_or(this_month);
    let parse = |field: &str, s: &Option<String>, default| match s
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => domain::date(field, s).map_err(|e| PageError(app::AppError::from(e))),
        None => Ok(default),
    };
    let from = parse("from", &q.from, default_from)?;
    let to = parse("to", &q.to, this_month)?;
    if to <= from {
        return Err(PageError(app::AppError::invalid(
            "to",
            "must be after from",
        )));
    }
    Ok((from, to))
}

struct Section {
    name: &'static str,
    charts: Vec<Chart>,
}

#[derive(Template)]
#[template(path = "analytics.html")]
struct AnalyticsPage {
    c: Chrome,
    from: String,
    to: String,
    kpis: Vec<Kpi>,
    sections: Vec<Section>,
    events: i64,
}

async fn compute(
    state: &AppState,
    v: &Viewer,
    q: &PeriodQuery,
) -> Result<(serde_json::Value, String, String), PageError> {
    v.actor.require(Action::ReadAnalytics)?;
    let (from, to) = period(v, q)?;
    let r = state.salon.brand_report(&v.actor, from, to, None).await?;
    Ok((r, from.to_string(), to.to_string()))
}

pub async fn dashboard(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<PeriodQuery>,
) -> PageResult {
    let (r, from, to) = compute(&state, &v, &q).await?;
    let mut sections: Vec<Section> = Vec::new();
    for chart in report::charts(&r) {
        match sections.last_mut() {
            Some(s) if s.name == chart.section => s.charts.push(chart),
            _ => sections.push(Section {
                name: chart.section,
                charts: vec![chart],
            }),
        }
    }
    let page = AnalyticsPage {
        c: chrome(&v, "/analytics", "/analytics", None),
        kpis: report::kpis(&r),
        sections,
        events: state
            .salon
            .repo
            .count_events(v.actor.brand.id)
            .await
            .map_err(|e| PageError(e.into()))?,
        from,
        to,
    };
    render(&page)
}

pub async fn chart_csv(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, PageError> {
    let (r, from, to) = compute(&state, &v, &q).await?;
    let id = id.trim_end_matches(".csv");
    let chart = report::charts(&r)
        .into_iter()
        .find(|c| c.id == id)
        .ok_or(PageError(app::AppError::NotFound("chart")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}-{id}-{from}-{to}.csv\"",
                    v.actor.brand.slug.as_str()
                ),
            ),
        ],
        report::csv(&chart),
    )
        .into_response())
}

pub async fn printable(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<PeriodQuery>,
) -> PageResult {
    let (r, _, _) = compute(&state, &v, &q).await?;
    Ok(Html(report::printable_served(&v.actor.brand.name, &r)).into_response())
}
