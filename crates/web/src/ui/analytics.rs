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
    /// A saved segment: the report over its clients' part of the community.
    segment: Option<String>,
}

impl PeriodQuery {
    fn segment(&self) -> Result<Option<i64>, PageError> {
        match self
            .segment
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|_| {
                PageError(app::AppError::invalid(
                    "segment",
                    "must be a saved segment's number",
                ))
            }),
        }
    }

    /// The query string that asks for the same report again.
    fn again(&self, from: &str, to: &str) -> String {
        match self.segment().ok().flatten() {
            Some(id) => format!("from={from}&to={to}&segment={id}"),
            None => format!("from={from}&to={to}"),
        }
    }
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

#[derive(Template)]
#[template(path = "analytics.html")]
struct AnalyticsPage {
    c: Chrome,
    from: String,
    to: String,
    kpis: Vec<Kpi>,
    sections: Vec<(&'static str, Vec<Chart>)>,
    events: i64,
    /// Saved segments to narrow the report to: (id, name, chosen).
    segments: Vec<(i64, String, bool)>,
    /// The chosen segment's line: its name, clients and the followers linked to them.
    segment_note: Option<String>,
    /// `from=…&to=…[&segment=…]`, for the links that ask for the same report.
    again: String,
}

async fn compute(
    state: &AppState,
    v: &Viewer,
    q: &PeriodQuery,
) -> Result<(serde_json::Value, String, String), PageError> {
    v.actor.require(Action::ReadAnalytics)?;
    let (from, to) = period(v, q)?;
    let r = match q.segment()? {
        Some(id) => {
            state
                .salon
                .segment_report(&v.actor, id, from, to, None)
                .await?
        }
        None => state.salon.brand_report(&v.actor, from, to, None).await?,
    };
    Ok((r, from.to_string(), to.to_string()))
}

pub async fn dashboard(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<PeriodQuery>,
) -> PageResult {
    let (r, from, to) = compute(&state, &v, &q).await?;
    let mut charts = report::charts(&r);
    let mut kpis = report::kpis(&r);
    if v.lang == super::i18n::Lang::Zh {
        report::to_chinese(&r, &mut charts, &mut kpis);
    }
    let sections = report::sections(charts);
    let chosen = q.segment()?;
    // The segment list needs ReadSegments; a reader without it gets the brand's report only.
    let segments = state
        .salon
        .segments(&v.actor)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|s| (s.id, s.name, Some(s.id) == chosen))
        .collect();
    let segment_note = r.get("segment").map(|s| {
        format!(
            "{} · {} {} · {} {}",
            s["name"].as_str().unwrap_or(""),
            s["clients"],
            v.t().segment_clients,
            s["followers"],
            v.t().segment_followers
        )
    });
    let page = AnalyticsPage {
        c: chrome(&v, "/analytics", "/analytics", None),
        again: q.again(&from, &to),
        segments,
        segment_note,
        kpis,
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

#[derive(Deserialize, Default)]
pub struct PlanQuery {
    from: Option<String>,
    to: Option<String>,
    a: Option<String>,
    b: Option<String>,
    #[serde(flatten)]
    forecast: std::collections::HashMap<String, String>,
}

pub struct Field {
    name: &'static str,
    label: &'static str,
    value: String,
}

#[derive(Template)]
#[template(path = "plan.html")]
struct PlanPage {
    c: Chrome,
    fields: Vec<Field>,
    forecast: Option<index::planning::Forecast>,
    forecast_error: Option<String>,
    from: String,
    to: String,
    a: String,
    b: String,
    ab: Option<index::planning::AbTest>,
    ab_error: Option<String>,
}

/// The forecast's inputs: (field, its label).
fn forecast_fields(t: &'static super::i18n::Tr) -> [(&'static str, &'static str); 10] {
    [
        ("current_fanbase", t.fc_current_fanbase),
        ("organic_growth_rate", t.fc_organic_rate),
        ("marketing_budget", t.fc_budget),
        ("cost_per_follower", t.fc_cost),
        ("points_of_sale", t.fc_pos),
        ("daily_foot_traffic", t.fc_traffic),
        ("store_onboarding_rate", t.fc_store_rate),
        ("crm_customers", t.fc_crm),
        ("expected_new_customers", t.fc_new),
        ("client_onboarding_rate", t.fc_client_rate),
    ]
}

fn pct_of(v: Option<f64>) -> String {
    v.map_or("—".into(), |x| format!("{:.2} %", x * 100.0))
}

/// Planning: the growth forecast and the push-time A/B test.
pub async fn plan(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<PlanQuery>,
) -> PageResult {
    v.actor.require(Action::ReadAnalytics)?;
    let (from, to) = period(
        &v,
        &PeriodQuery {
            from: q.from.clone(),
            to: q.to.clone(),
            segment: None,
        },
    )?;
    // The forecast, prefilled with the brand's followers today.
    let fields_of = forecast_fields(v.t());
    let asked = fields_of.iter().any(|(k, _)| q.forecast.contains_key(*k));
    let mut input = serde_json::Map::new();
    let mut forecast_error = None;
    for (k, _) in fields_of {
        if let Some(raw) = q
            .forecast
            .get(k)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        {
            match raw.replace(',', "").parse::<f64>() {
                Ok(x) => {
                    input.insert(k.to_owned(), serde_json::json!(x));
                }
                Err(_) => forecast_error = Some(format!("{k}: not a number")),
            }
        }
    }
    if !input.contains_key("current_fanbase") {
        let r = state.salon.brand_report(&v.actor, from, to, None).await?;
        input.insert(
            "current_fanbase".into(),
            r["acquisition"]["followers_end"].clone(),
        );
    }
    let fields = fields_of
        .iter()
        .map(|(k, label)| Field {
            name: k,
            label,
            value: input.get(*k).map(|x| x.to_string()).unwrap_or_default(),
        })
        .collect();
    let forecast = if asked && forecast_error.is_none() {
        let parsed: index::planning::ForecastInput =
            serde_json::from_value(serde_json::Value::Object(input)).unwrap_or_default();
        match state.salon.growth_forecast(&v.actor, &parsed) {
            Ok(f) => Some(f),
            Err(e) => {
                forecast_error = Some(e.to_string());
                None
            }
        }
    } else {
        None
    };
    let (a, b) = (
        q.a.clone().unwrap_or_else(|| "11-14".into()),
        q.b.clone().unwrap_or_else(|| "19-22".into()),
    );
    let (ab, ab_error) = if q.a.is_some() || q.b.is_some() {
        match state.salon.push_ab_test(&v.actor, from, to, &a, &b).await {
            Ok(t) => (Some(t), None),
            Err(app::AppError::Invalid(f)) => (
                None,
                Some(
                    f.iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
            ),
            Err(e) => return Err(PageError(e)),
        }
    } else {
        (None, None)
    };
    render(&PlanPage {
        c: chrome(&v, "/analytics", "/analytics/plan", None),
        fields,
        forecast,
        forecast_error,
        from: from.to_string(),
        to: to.to_string(),
        a,
        b,
        ab,
        ab_error,
    })
}

impl PlanPage {
    fn n(&self, x: &f64) -> String {
        super::format::grouped(x.round() as i64)
    }

    fn p(&self, v: &Option<f64>) -> String {
        pct_of(*v)
    }

    /// The test's verdict in the page's language (`opens`: the open rate, else engagement).
    fn verdict(&self, c: &index::planning::Comparison, opens: bool) -> String {
        if self.c.lang.starts_with("zh") {
            verdict_zh(c, if opens { "打开率" } else { "互动率" })
        } else {
            c.verdict.clone()
        }
    }
}

/// The verdict of `index::planning::two_proportions`, in Chinese.
fn verdict_zh(c: &index::planning::Comparison, what: &str) -> String {
    let pct = |x: f64| format!("{:.2} %", x * 100.0);
    match (c.rate_a, c.rate_b, c.p_value) {
        (Some(a), Some(b), Some(p)) if c.significant => format!(
            "{what}的差异是真实的：{} 为 {}，另一方为 {}（p = {p:.4}；如此大的差异因偶然出现的概率不到 5 %）。",
            if a > b { "A" } else { "B" },
            pct(a.max(b)),
            pct(a.min(b))
        ),
        (Some(a), Some(b), Some(p)) => format!(
            "{what}没有真实差异：{} 对 {} 很可能只是偶然（p = {p:.2}）。请在每个时段多发几次推送后再做决定。",
            pct(a),
            pct(b)
        ),
        (Some(a), Some(_), None) => format!("{what}无法测出差异：双方均为 {}。", pct(a)),
        _ => format!("数据不足：有一方没有收件人，无法比较{what}。"),
    }
}

pub struct BenchRow {
    label: String,
    value: String,
    rank: String,
    p25: String,
    p50: String,
    p75: String,
    size_rank: String,
    size_p50: String,
}

#[derive(Template)]
#[template(path = "benchmark.html")]
struct BenchmarkPage {
    c: Chrome,
    from: String,
    to: String,
    brands: u64,
    size: String,
    rows: Vec<BenchRow>,
}

pub async fn benchmark(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<PeriodQuery>,
) -> PageResult {
    v.actor.require(Action::ReadAnalytics)?;
    let (from, to) = period(&v, &q)?;
    let b = state.salon.brand_benchmark(&v.actor, from, to).await?;
    let rank = |g: &serde_json::Value| match g["rank"].as_u64() {
        Some(r) => format!("{r} of {}", g["brands"]),
        None => format!("— ({} brands)", g["brands"]),
    };
    let rows = index::benchmark::FIGURES
        .iter()
        .map(|(label, _, _)| {
            let f = &b["figures"][label];
            BenchRow {
                label: label.replace('_', " "),
                value: report::pct(&f["value"]),
                rank: rank(&f["all"]),
                p25: report::pct(&f["all"]["p25"]),
                p50: report::pct(&f["all"]["p50"]),
                p75: report::pct(&f["all"]["p75"]),
                size_rank: rank(&f["same_size"]),
                size_p50: report::pct(&f["same_size"]["p50"]),
            }
        })
        .collect();
    render(&BenchmarkPage {
        c: chrome(&v, "/analytics", "/analytics/benchmark", None),
        from: from.to_string(),
        to: to.to_string(),
        brands: b["brands"].as_u64().unwrap_or(0),
        size: b["size"].as_str().unwrap_or_default().to_owned(),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ab_verdict_reads_in_chinese_too() {
        let real = index::planning::two_proportions("open rate", 300, 1000, 200, 1000);
        let zh = verdict_zh(&real, "打开率");
        assert!(zh.starts_with("打开率的差异是真实的：A 为 30.00 %"), "{zh}");
        let chance = index::planning::two_proportions("open rate", 101, 1000, 100, 1000);
        assert!(verdict_zh(&chance, "打开率").starts_with("打开率没有真实差异"));
        let empty = index::planning::two_proportions("open rate", 0, 0, 1, 10);
        assert!(verdict_zh(&empty, "打开率").starts_with("数据不足"));
    }
}
