//! The Luxury Index report as people read it: charts (server-rendered SVG), the figures behind
//! each chart as a table and as CSV, a terminal table, and one printable HTML page.
//!
//! The charts are small SVG documents written here rather than with a charting crate: the
//! four shapes needed (bars, lines with marks, horizontal shares, a 7 × 24 heatmap) are a few
//! dozen lines each, render identically in the browser and in a printed page, and need no
//! font metrics, which the Rust charting crates read from font files at run time.

use serde_json::Value;

use crate::ui::format::grouped;

/// One chart: its title, its figures (header + rows), and how to draw it.
pub struct Chart {
    pub id: &'static str,
    pub section: &'static str,
    pub title: String,
    pub note: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub svg: String,
}

impl Chart {
    /// Whether the chart's figures read as a table (the heatmap's 7 × 24 grid does not).
    pub fn has_table(&self) -> bool {
        self.id != "heatmap"
    }
}

/// Charts grouped by section, in order.
pub fn sections(charts: Vec<Chart>) -> Vec<(&'static str, Vec<Chart>)> {
    let mut out: Vec<(&'static str, Vec<Chart>)> = Vec::new();
    for c in charts {
        match out.last_mut() {
            Some((name, list)) if *name == c.section => list.push(c),
            _ => out.push((c.section, vec![c])),
        }
    }
    out
}

/// A key figure shown large.
pub struct Kpi {
    pub label: &'static str,
    pub value: String,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn pct(v: &Value) -> String {
    v.as_f64()
        .map_or("—".to_owned(), |x| format!("{:.1} %", x * 100.0))
}

fn num(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x.fract() == 0.0 => grouped(x as i64),
        Some(x) => format!("{x:.2}"),
        None => "—".to_owned(),
    }
}

const W: f64 = 640.0;
const H: f64 = 240.0;
const PAD_L: f64 = 48.0;
const PAD_B: f64 = 36.0;
const PAD_T: f64 = 14.0;
const GOLD: &str = "#a8895b";
const INK: &str = "#1c1a17";
const MUTED: &str = "#6f6a62";
const LINE: &str = "#e7e1d7";

fn frame(title: &str, body: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\" class=\"chart\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\">{body}</svg>",
        esc(title)
    )
}

fn axis(max: f64, as_pct: bool) -> String {
    let mut s = String::new();
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let y = H - PAD_B - (H - PAD_B - PAD_T) * f64::from(i) / 4.0;
        let step_pct = max * 25.0;
        let label = if as_pct && (step_pct.fract() != 0.0 || max < 0.1) {
            format!("{:.1}%", v * 100.0)
        } else if as_pct {
            format!("{:.0}%", v * 100.0)
        } else if v >= 1000.0 {
            grouped(v.round() as i64)
        } else {
            format!("{v:.0}")
        };
        s.push_str(&format!(
            "<line x1=\"{PAD_L}\" y1=\"{y:.1}\" x2=\"{W}\" y2=\"{y:.1}\" stroke=\"{LINE}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"{MUTED}\">{label}</text>",
            PAD_L - 6.0,
            y + 4.0
        ));
    }
    s
}

fn nice_max(m: f64) -> f64 {
    if m <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(m.log10().floor());
    for step in [1.0, 2.0, 4.0, 5.0, 8.0, 10.0] {
        if m <= step * mag {
            return step * mag;
        }
    }
    10.0 * mag
}

/// Vertical bars with a label under each.
pub fn bars(title: &str, labels: &[String], values: &[f64], as_pct: bool) -> String {
    let max = nice_max(values.iter().cloned().fold(0.0, f64::max));
    let n = values.len().max(1) as f64;
    let slot = (W - PAD_L - 8.0) / n;
    let mut body = axis(max, as_pct);
    let every = (labels.len() / 12).max(1);
    for (i, v) in values.iter().enumerate() {
        let h = (H - PAD_B - PAD_T) * (v / max);
        let x = PAD_L + 4.0 + slot * i as f64 + slot * 0.15;
        let y = H - PAD_B - h;
        body.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{GOLD}\"><title>{}: {}</title></rect>",
            slot * 0.7,
            esc(labels.get(i).map_or("", |s| s.as_str())),
            if as_pct { format!("{:.1}%", v * 100.0) } else { format!("{v}") }
        ));
        if i.is_multiple_of(every) {
            body.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{INK}\">{}</text>",
                x + slot * 0.35,
                H - PAD_B + 16.0,
                esc(labels.get(i).map_or("", |s| s.as_str()))
            ));
        }
    }
    frame(title, &body)
}

/// One or more lines over the same labels; `marks` are horizontal reference lines.
pub fn lines(
    title: &str,
    labels: &[String],
    series: &[(&str, Vec<f64>)],
    as_pct: bool,
    marks: &[(f64, &str)],
) -> String {
    let max = nice_max(
        series
            .iter()
            .flat_map(|(_, v)| v.iter().cloned())
            .fold(0.0, f64::max),
    );
    let n = labels.len().max(2) as f64 - 1.0;
    let x_of = |i: usize| PAD_L + 12.0 + (W - PAD_L - 44.0) * i as f64 / n;
    let y_of = |v: f64| H - PAD_B - (H - PAD_B - PAD_T) * (v / max);
    let mut body = axis(max, as_pct);
    for (v, label) in marks {
        let y = y_of(*v);
        body.push_str(&format!(
            "<line x1=\"{PAD_L}\" y1=\"{y:.1}\" x2=\"{W}\" y2=\"{y:.1}\" stroke=\"{MUTED}\" stroke-dasharray=\"4 3\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"{MUTED}\">{}</text>",
            W - 4.0,
            y - 4.0,
            esc(label)
        ));
    }
    let colours = [GOLD, INK, MUTED];
    for (k, (name, values)) in series.iter().enumerate() {
        let pts: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x_of(i), y_of(*v)))
            .collect();
        let colour = colours[k % colours.len()];
        body.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"><title>{}</title></polyline>",
            pts.join(" "),
            esc(name)
        ));
        for (i, v) in values.iter().enumerate() {
            body.push_str(&format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{colour}\"><title>{}: {}</title></circle>",
                x_of(i),
                y_of(*v),
                esc(labels.get(i).map_or("", |s| s.as_str())),
                if as_pct { format!("{:.1}%", v * 100.0) } else { format!("{v}") }
            ));
        }
    }
    let every = (labels.len() / 12).max(1);
    for (i, l) in labels.iter().enumerate() {
        if i.is_multiple_of(every) {
            body.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{INK}\">{}</text>",
                x_of(i),
                H - PAD_B + 16.0,
                esc(l)
            ));
        }
    }
    frame(title, &body)
}

/// The 7 × 24 heatmap (Sunday first, hour 0 first).
pub fn heatmap(title: &str, grid: &[Vec<f64>]) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    let max = grid
        .iter()
        .flatten()
        .cloned()
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    let cw = (W - PAD_L - 8.0) / 24.0;
    let ch = (H - PAD_B - PAD_T) / 7.0;
    let mut body = String::new();
    for (d, row) in grid.iter().enumerate() {
        body.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"{INK}\">{}</text>",
            PAD_L - 6.0,
            PAD_T + ch * d as f64 + ch * 0.65,
            DAYS.get(d).unwrap_or(&"")
        ));
        for (h, v) in row.iter().enumerate() {
            let a = if *v > 0.0 { 0.15 + 0.85 * v / max } else { 0.0 };
            body.push_str(&format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{GOLD}\" fill-opacity=\"{a:.2}\" stroke=\"{LINE}\"><title>{} {h}:00 — {:.1}%</title></rect>",
                PAD_L + cw * h as f64,
                PAD_T + ch * d as f64,
                cw,
                ch,
                DAYS.get(d).unwrap_or(&""),
                v * 100.0
            ));
        }
    }
    for h in (0..24).step_by(3) {
        body.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{INK}\">{h}h</text>",
            PAD_L + cw * h as f64 + cw / 2.0,
            H - PAD_B + 16.0
        ));
    }
    frame(title, &body)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// Every chart of the report, in reading order.
pub fn charts(r: &Value) -> Vec<Chart> {
    let mut out = Vec::new();
    let months: Vec<String> = r["engagement"]["monthly"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["month"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let monthly = |key: &str| -> Vec<f64> {
        r["engagement"]["monthly"]
            .as_array()
            .map(|a| a.iter().map(|m| f(&m[key])).collect())
            .unwrap_or_default()
    };

    // Acquisition.
    let followers = monthly("followers_end");
    out.push(Chart {
        id: "followers",
        section: "Acquisition",
        title: "Followers at the end of each month".into(),
        note: format!(
            "{} at the start of the period, {} at its end ({} growth).",
            num(&r["acquisition"]["followers_start"]),
            num(&r["acquisition"]["followers_end"]),
            pct(&r["acquisition"]["growth_rate"])
        ),
        header: vec!["month".into(), "followers".into()],
        rows: months
            .iter()
            .zip(&followers)
            .map(|(m, v)| vec![m.clone(), grouped(*v as i64)])
            .collect(),
        svg: lines(
            "Followers",
            &months,
            &[("followers", followers.clone())],
            false,
            &[],
        ),
    });
    let sources = ["search", "qr_code", "media", "word_of_mouth", "other"];
    let share: Vec<f64> = sources
        .iter()
        .map(|s| f(&r["acquisition"]["sources"][s]["share"]))
        .collect();
    out.push(Chart {
        id: "sources",
        section: "Acquisition",
        title: "Where new followers came from".into(),
        note: format!(
            "{} new follows, {} unfollows; unfollow rate in the 24 h after a push: {}.",
            num(&r["acquisition"]["new_follows"]),
            num(&r["acquisition"]["unfollows"]),
            pct(&r["acquisition"]["unfollow_rate_after_push"])
        ),
        header: vec![
            "source".into(),
            "follows".into(),
            "share".into(),
            "growth contribution".into(),
        ],
        rows: sources
            .iter()
            .map(|s| {
                let x = &r["acquisition"]["sources"][s];
                vec![
                    s.replace('_', " "),
                    num(&x["follows"]),
                    pct(&x["share"]),
                    pct(&x["growth_contribution"]),
                ]
            })
            .collect(),
        svg: bars(
            "Sources",
            &sources
                .iter()
                .map(|s| s.replace('_', " "))
                .collect::<Vec<_>>(),
            &share,
            true,
        ),
    });

    // Engagement.
    let active = monthly("active_rate");
    out.push(Chart {
        id: "monthly_active",
        section: "Engagement",
        title: "Monthly active followers (more than 4 actions in the month)".into(),
        note: format!(
            "Mean monthly active rate {}; inactive over the period {}; lifetime active {}.",
            pct(&r["engagement"]["monthly_active_rate"]),
            pct(&r["engagement"]["inactive_rate"]),
            pct(&r["engagement"]["lifetime_active_rate"])
        ),
        header: vec![
            "month".into(),
            "followers".into(),
            "active".into(),
            "active rate".into(),
        ],
        rows: r["engagement"]["monthly"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|m| {
                        vec![
                            m["month"].as_str().unwrap_or_default().to_owned(),
                            num(&m["followers_end"]),
                            num(&m["active"]),
                            pct(&m["active_rate"]),
                        ]
                    })
                    .collect()
            })
            .unwrap_or_default(),
        svg: lines(
            "Active rate",
            &months,
            &[("active rate", active)],
            true,
            &[],
        ),
    });
    let by_source: Vec<f64> = sources
        .iter()
        .map(|s| f(&r["engagement"]["lifetime_active_rate_by_source"][s]))
        .collect();
    out.push(Chart {
        id: "active_by_source",
        section: "Engagement",
        title: "Lifetime active rate by recruitment source".into(),
        note: "Followers at period end with more than 4 actions since their latest follow.".into(),
        header: vec!["source".into(), "lifetime active rate".into()],
        rows: sources
            .iter()
            .map(|s| {
                vec![
                    s.replace('_', " "),
                    pct(&r["engagement"]["lifetime_active_rate_by_source"][s]),
                ]
            })
            .collect(),
        svg: bars(
            "Lifetime active by source",
            &sources
                .iter()
                .map(|s| s.replace('_', " "))
                .collect::<Vec<_>>(),
            &by_source,
            true,
        ),
    });
    let seg = [
        ("all pushes", "push_engagement_rate"),
        ("segmented", "segmented_engagement_rate"),
        ("to everyone", "unsegmented_engagement_rate"),
    ];
    out.push(Chart {
        id: "push_engagement",
        section: "Engagement",
        title: "Engagement per push: segmented against sent to everyone".into(),
        note: "Distinct people who interacted with a push, over its recipients; mean over pushes."
            .into(),
        header: vec!["pushes".into(), "engagement rate".into()],
        rows: seg
            .iter()
            .map(|(l, k)| vec![(*l).to_owned(), pct(&r["engagement"][k])])
            .collect(),
        svg: bars(
            "Engagement per push",
            &seg.iter().map(|(l, _)| (*l).to_owned()).collect::<Vec<_>>(),
            &seg.iter()
                .map(|(_, k)| f(&r["engagement"][k]))
                .collect::<Vec<_>>(),
            true,
        ),
    });
    let actions = ["menu_click", "message", "post_interaction", "qr_scan"];
    out.push(Chart {
        id: "actions",
        section: "Engagement",
        title: "Action types".into(),
        note: String::new(),
        header: vec!["action".into(), "share".into()],
        rows: actions
            .iter()
            .map(|a| {
                vec![
                    a.replace('_', " "),
                    pct(&r["engagement"]["action_shares"][a]),
                ]
            })
            .collect(),
        svg: bars(
            "Action types",
            &actions
                .iter()
                .map(|a| a.replace('_', " "))
                .collect::<Vec<_>>(),
            &actions
                .iter()
                .map(|a| f(&r["engagement"]["action_shares"][a]))
                .collect::<Vec<_>>(),
            true,
        ),
    });
    let menu = ["ecommerce", "information", "crm"];
    out.push(Chart {
        id: "menu",
        section: "Engagement",
        title: "Menu categories".into(),
        note: String::new(),
        header: vec!["category".into(), "share".into()],
        rows: menu
            .iter()
            .map(|m| {
                vec![
                    (*m).to_owned(),
                    pct(&r["engagement"]["menu_category_shares"][m]),
                ]
            })
            .collect(),
        svg: bars(
            "Menu categories",
            &menu.iter().map(|m| (*m).to_owned()).collect::<Vec<_>>(),
            &menu
                .iter()
                .map(|m| f(&r["engagement"]["menu_category_shares"][m]))
                .collect::<Vec<_>>(),
            true,
        ),
    });

    // Content.
    let ppm: Vec<f64> = r["content"]["pushes_per_month"]
        .as_array()
        .map(|a| a.iter().map(|m| f(&m["pushes"])).collect())
        .unwrap_or_default();
    out.push(Chart {
        id: "pushes",
        section: "Content",
        title: "Pushes per month".into(),
        note: format!(
            "{} pushes. Open rate {}: single-article pushes {}, top article of multi-article pushes {}, any article of them {}.",
            num(&r["content"]["pushes"]),
            pct(&r["content"]["open_rate"]),
            pct(&r["content"]["single_article_open_rate"]),
            pct(&r["content"]["multi_top_article_open_rate"]),
            pct(&r["content"]["multi_cumulative_open_rate"])
        ),
        header: vec!["month".into(), "pushes".into()],
        rows: months.iter().zip(&ppm).map(|(m, v)| vec![m.clone(), grouped(*v as i64)]).collect(),
        svg: bars("Pushes per month", &months, &ppm, false),
    });
    let n_art: Vec<String> = (1..=8).map(|i| i.to_string()).collect();
    out.push(Chart {
        id: "articles",
        section: "Content",
        title: "Articles per push".into(),
        note: String::new(),
        header: vec!["articles".into(), "share of pushes".into()],
        rows: n_art
            .iter()
            .map(|k| vec![k.clone(), pct(&r["content"]["articles_per_push"][k])])
            .collect(),
        svg: bars(
            "Articles per push",
            &n_art,
            &n_art
                .iter()
                .map(|k| f(&r["content"]["articles_per_push"][k]))
                .collect::<Vec<_>>(),
            true,
        ),
    });
    let grid: Vec<Vec<f64>> = r["content"]["push_heatmap"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|row| {
                    row.as_array()
                        .map(|c| c.iter().map(f).collect())
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    const DAYS: [&str; 7] = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ];
    out.push(Chart {
        id: "heatmap",
        section: "Content",
        title: "When pushes go out (local weekday × hour)".into(),
        note: "Share of the period's pushes sent in each hour of each weekday.".into(),
        header: std::iter::once("day".to_owned())
            .chain((0..24).map(|h| format!("{h}h")))
            .collect(),
        rows: grid
            .iter()
            .enumerate()
            .map(|(d, row)| {
                std::iter::once(DAYS.get(d).unwrap_or(&"").to_string())
                    .chain(row.iter().map(|v| format!("{:.1}", v * 100.0)))
                    .collect()
            })
            .collect(),
        svg: heatmap("Push heatmap", &grid),
    });
    let retention: Vec<f64> = r["content"]["reader_retention"]
        .as_array()
        .map(|a| a.iter().map(f).collect())
        .unwrap_or_default();
    let screens: Vec<String> = (1..=retention.len()).map(|k| format!("{k}")).collect();
    out.push(Chart {
        id: "retention",
        section: "Content",
        title: "Reader retention: share of opens reading at least k screens".into(),
        note: format!(
            "20 % of readers are lost by {} screens, half by {}.",
            num(&r["content"]["screens_to_lose_20pct"]),
            num(&r["content"]["screens_to_lose_50pct"])
        ),
        header: vec!["screens".into(), "readers remaining".into()],
        rows: screens
            .iter()
            .zip(&retention)
            .map(|(k, v)| vec![k.clone(), format!("{:.1} %", v * 100.0)])
            .collect(),
        svg: lines(
            "Reader retention",
            &screens,
            &[("readers", retention.clone())],
            true,
            &[(0.8, "80 %"), (0.5, "50 %")],
        ),
    });

    // Livestream.
    let lives = r["livestream"].as_array().cloned().unwrap_or_default();
    let names: Vec<String> = lives
        .iter()
        .map(|l| l["live"].as_str().unwrap_or_default().to_owned())
        .collect();
    out.push(Chart {
        id: "livestream",
        section: "Livestream",
        title: "Livestreams: reach against conversion".into(),
        note: "Viewers of each session, and the share of them who bought from it.".into(),
        header: vec![
            "live".into(),
            "viewers".into(),
            "buyers".into(),
            "conversion".into(),
            "revenue".into(),
        ],
        rows: lives
            .iter()
            .map(|l| {
                vec![
                    l["live"].as_str().unwrap_or_default().to_owned(),
                    num(&l["viewers"]),
                    num(&l["buyers"]),
                    pct(&l["conversion"]),
                    num(&l["revenue"]),
                ]
            })
            .collect(),
        svg: bars(
            "Conversion per livestream",
            &names,
            &lives
                .iter()
                .map(|l| f(&l["conversion"]))
                .collect::<Vec<_>>(),
            true,
        ),
    });
    out
}

pub fn kpis(r: &Value) -> Vec<Kpi> {
    vec![
        Kpi {
            label: "Followers",
            value: num(&r["acquisition"]["followers_end"]),
        },
        Kpi {
            label: "Growth",
            value: pct(&r["acquisition"]["growth_rate"]),
        },
        Kpi {
            label: "New follows",
            value: num(&r["acquisition"]["new_follows"]),
        },
        Kpi {
            label: "Monthly active",
            value: pct(&r["engagement"]["monthly_active_rate"]),
        },
        Kpi {
            label: "Open rate",
            value: pct(&r["content"]["open_rate"]),
        },
        Kpi {
            label: "Push engagement",
            value: pct(&r["engagement"]["push_engagement_rate"]),
        },
    ]
}

/// Words of the report in Simplified Chinese (the figures and ids stay as they are).
const ZH: &[(&str, &str)] = &[
    ("Acquisition", "粉丝获取"),
    ("Engagement", "互动"),
    ("Content", "内容"),
    ("Livestream", "直播"),
    ("Followers", "粉丝数"),
    ("Growth", "增长率"),
    ("New follows", "新增关注"),
    ("Monthly active", "月活跃率"),
    ("Open rate", "打开率"),
    ("Push engagement", "推送互动率"),
    ("Followers at the end of each month", "每月末粉丝数"),
    ("Where new followers came from", "新粉丝来源"),
    (
        "Monthly active followers (more than 4 actions in the month)",
        "月活跃粉丝（当月行为多于 4 次）",
    ),
    (
        "Lifetime active rate by recruitment source",
        "按来源划分的累计活跃率",
    ),
    (
        "Followers at period end with more than 4 actions since their latest follow.",
        "期末粉丝中，自最近一次关注以来行为多于 4 次的比例。",
    ),
    (
        "Engagement per push: segmented against sent to everyone",
        "每次推送的互动率：分组推送与全员推送",
    ),
    (
        "Distinct people who interacted with a push, over its recipients; mean over pushes.",
        "与推送互动的人数除以接收人数；按推送取平均。",
    ),
    ("Action types", "行为类型"),
    ("Menu categories", "菜单类别"),
    ("Pushes per month", "每月推送次数"),
    ("Articles per push", "每次推送的文章数"),
    (
        "When pushes go out (local weekday × hour)",
        "推送时间分布（本地星期 × 小时）",
    ),
    (
        "Share of the period's pushes sent in each hour of each weekday.",
        "各星期各小时发出的推送占比。",
    ),
    (
        "Reader retention: share of opens reading at least k screens",
        "读者留存：阅读至少 k 屏的打开占比",
    ),
    ("Livestreams: reach against conversion", "直播：覆盖与转化"),
    (
        "Viewers of each session, and the share of them who bought from it.",
        "每场直播的观看人数，以及其中购买者的比例。",
    ),
    ("month", "月份"),
    ("followers", "粉丝数"),
    ("source", "来源"),
    ("follows", "关注数"),
    ("share", "占比"),
    ("growth contribution", "增长贡献"),
    ("active", "活跃"),
    ("active rate", "活跃率"),
    ("lifetime active rate", "累计活跃率"),
    ("pushes", "推送"),
    ("engagement rate", "互动率"),
    ("action", "行为"),
    ("category", "类别"),
    ("articles", "文章数"),
    ("share of pushes", "推送占比"),
    ("day", "星期"),
    ("screens", "屏数"),
    ("readers remaining", "剩余读者"),
    ("live", "直播"),
    ("viewers", "观看人数"),
    ("buyers", "购买人数"),
    ("conversion", "转化率"),
    ("revenue", "销售额"),
    ("search", "搜索"),
    ("qr code", "二维码"),
    ("media", "媒体"),
    ("word of mouth", "口碑"),
    ("other", "其他"),
    ("all pushes", "全部推送"),
    ("segmented", "分组推送"),
    ("to everyone", "全员推送"),
    ("menu click", "菜单点击"),
    ("message", "消息"),
    ("post interaction", "文章互动"),
    ("qr scan", "扫码"),
    ("ecommerce", "电商"),
    ("information", "信息"),
    ("crm", "会员"),
    ("Sunday", "星期日"),
    ("Monday", "星期一"),
    ("Tuesday", "星期二"),
    ("Wednesday", "星期三"),
    ("Thursday", "星期四"),
    ("Friday", "星期五"),
    ("Saturday", "星期六"),
];

fn zh(s: &str) -> Option<&'static str> {
    ZH.iter().find(|(en, _)| *en == s).map(|(_, z)| *z)
}

/// The charts and key figures in Simplified Chinese: titles, sections, headers, labels, and the
/// notes (rebuilt with the same figures).
pub fn to_chinese(r: &Value, charts: &mut [Chart], kpis: &mut [Kpi]) {
    for k in kpis.iter_mut() {
        if let Some(z) = zh(k.label) {
            k.label = z;
        }
    }
    for c in charts.iter_mut() {
        if let Some(z) = zh(c.section) {
            c.section = z;
        }
        if let Some(z) = zh(&c.title) {
            c.title = z.to_owned();
        }
        for h in &mut c.header {
            if let Some(z) = zh(h) {
                *h = z.to_owned();
            }
        }
        for row in &mut c.rows {
            if let Some(first) = row.first_mut()
                && let Some(z) = zh(first)
            {
                *first = z.to_owned();
            }
        }
        c.note = match c.id {
            "followers" => format!(
                "期初 {}，期末 {}（增长 {}）。",
                num(&r["acquisition"]["followers_start"]),
                num(&r["acquisition"]["followers_end"]),
                pct(&r["acquisition"]["growth_rate"])
            ),
            "sources" => format!(
                "新增关注 {}，取消关注 {}；推送后 24 小时内的取关率 {}。",
                num(&r["acquisition"]["new_follows"]),
                num(&r["acquisition"]["unfollows"]),
                pct(&r["acquisition"]["unfollow_rate_after_push"])
            ),
            "monthly_active" => format!(
                "平均月活跃率 {}；期内不活跃 {}；累计活跃 {}。",
                pct(&r["engagement"]["monthly_active_rate"]),
                pct(&r["engagement"]["inactive_rate"]),
                pct(&r["engagement"]["lifetime_active_rate"])
            ),
            "pushes" => format!(
                "共 {} 次推送。打开率 {}：单图文 {}，多图文头条 {}，多图文任一篇 {}。",
                num(&r["content"]["pushes"]),
                pct(&r["content"]["open_rate"]),
                pct(&r["content"]["single_article_open_rate"]),
                pct(&r["content"]["multi_top_article_open_rate"]),
                pct(&r["content"]["multi_cumulative_open_rate"])
            ),
            "retention" => format!(
                "读到 {} 屏时流失 20 % 的读者，读到 {} 屏时流失一半。",
                num(&r["content"]["screens_to_lose_20pct"]),
                num(&r["content"]["screens_to_lose_50pct"])
            ),
            _ => zh(&c.note)
                .map(str::to_owned)
                .unwrap_or_else(|| c.note.clone()),
        };
    }
}

/// The figures of one chart as CSV.
pub fn csv(chart: &Chart) -> String {
    let mut w = csv_writer();
    let _ = w.write_record(
        chart
            .header
            .iter()
            .map(|c| domain::csv_cell(c).into_owned()),
    );
    for r in &chart.rows {
        let _ = w.write_record(r.iter().map(|c| domain::csv_cell(c).into_owned()));
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::Writer::from_writer(Vec::new())
}

/// The report for a terminal.
pub fn table(r: &Value) -> String {
    let mut s = format!(
        "Luxury Index  {} → {} ({})\n",
        r["period"]["from"].as_str().unwrap_or_default(),
        r["period"]["to"].as_str().unwrap_or_default(),
        r["period"]["tz"].as_str().unwrap_or_default()
    );
    for k in kpis(r) {
        s.push_str(&format!("  {:<18}{:>14}\n", k.label, k.value));
    }
    let mut section = "";
    for c in charts(r) {
        if c.section != section {
            section = c.section;
            s.push_str(&format!("\n== {section} ==\n"));
        }
        s.push_str(&format!("\n{}\n", c.title));
        if !c.note.is_empty() {
            s.push_str(&format!("  {}\n", c.note));
        }
        if c.id == "heatmap" {
            continue;
        }
        let widths: Vec<usize> = (0..c.header.len())
            .map(|i| {
                std::iter::once(&c.header[i])
                    .chain(c.rows.iter().filter_map(|r| r.get(i)))
                    .map(|x| x.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| -> String {
            let mut l = String::from(" ");
            for (i, cell) in cells.iter().enumerate() {
                let w = widths.get(i).copied().unwrap_or(0);
                let pad = w.saturating_sub(cell.chars().count());
                if i == 0 {
                    l.push_str(&format!(" {cell}{}", " ".repeat(pad)));
                } else {
                    l.push_str(&format!("  {}{cell}", " ".repeat(pad)));
                }
            }
            l.push('\n');
            l
        };
        s.push_str(&line(&c.header));
        for r in &c.rows {
            s.push_str(&line(r));
        }
    }
    s
}

/// The whole report as one standalone, printable HTML page (styles inline, charts inline).
pub fn printable(title: &str, r: &Value) -> String {
    page(title, r, true)
}

/// The printable page as Salon serves it: the same, with its styles from `/static/report.css`
/// (the server's CSP allows no inline style).
pub fn printable_served(title: &str, r: &Value) -> String {
    page(title, r, false)
}

#[derive(askama::Template)]
#[template(path = "report_print.html")]
struct PrintPage<'a> {
    title: &'a str,
    from: &'a str,
    to: &'a str,
    tz: &'a str,
    kpis: Vec<Kpi>,
    sections: Vec<(&'static str, Vec<Chart>)>,
    inline_css: bool,
    css: &'static str,
}

fn page(title: &str, r: &Value, inline_css: bool) -> String {
    let page = PrintPage {
        title,
        from: r["period"]["from"].as_str().unwrap_or_default(),
        to: r["period"]["to"].as_str().unwrap_or_default(),
        tz: r["period"]["tz"].as_str().unwrap_or_default(),
        kpis: kpis(r),
        sections: sections(charts(r)),
        inline_css,
        css: PRINT_CSS,
    };
    askama::Template::render(&page)
        .unwrap_or_else(|e| format!("the report could not be rendered: {e}"))
}

/// Styles of the printable page (also served as `/static/report.css`).
pub const PRINT_CSS: &str = "body{font:13px/1.45 Helvetica,Arial,sans-serif;color:#1c1a17;background:#fff;max-width:900px;margin:2rem auto;padding:0 1rem}\
h1,h2{font-family:Didot,'Bodoni 72',Georgia,serif;font-weight:400}h2{border-bottom:1px solid #e7e1d7;padding-bottom:.3rem;margin-top:2rem;text-transform:uppercase;letter-spacing:.1em;font-size:1rem;color:#6f6a62}\
.mark{letter-spacing:.3em;text-transform:uppercase;color:#a8895b;font-size:.7rem;margin:0}.kpis{display:grid;grid-template-columns:repeat(3,1fr);gap:.6rem}\
.kpis div{border:1px solid #e7e1d7;border-radius:8px;padding:.5rem .8rem}.kpis small{display:block;color:#6f6a62}.kpis strong{font-size:1.3rem;font-weight:400}\
figure{margin:1.2rem 0;break-inside:avoid}svg.chart{width:100%;height:auto;display:block;margin:.4rem 0}\
table{border-collapse:collapse;width:100%;font-size:.85rem}th,td{border-bottom:1px solid #e7e1d7;padding:.2rem .4rem;text-align:right}th:first-child,td:first-child{text-align:left}\
@media print{body{margin:0}h2{break-after:avoid}}";

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Value {
        let events = sim::events::generate(&sim::events::Params {
            people: 300,
            days: 120,
            seed: 3,
            start: jiff::civil::date(2025, 1, 1),
        });
        let period = index::Period::new(
            jiff::civil::date(2025, 1, 1),
            jiff::civil::date(2025, 5, 1),
            "Asia/Shanghai",
        )
        .expect("period");
        index::report(&events, &period).expect("report")
    }

    #[test]
    fn every_chart_has_its_figures() {
        let r = sample();
        let charts = charts(&r);
        assert_eq!(charts.len(), 12);
        for c in &charts {
            assert!(
                c.svg.starts_with("<svg") && c.svg.ends_with("</svg>"),
                "{}",
                c.id
            );
            assert!(!c.rows.is_empty(), "{} has figures", c.id);
            assert!(
                c.rows.iter().all(|row| row.len() == c.header.len()),
                "{}",
                c.id
            );
            assert!(!c.svg.contains("NaN"), "{}", c.id);
        }
        let months = charts
            .iter()
            .find(|c| c.id == "followers")
            .expect("followers");
        assert_eq!(months.rows.len(), 4, "January to April");
        let csv = csv(months);
        assert!(csv.starts_with("month,followers\n2025-01,"), "{csv}");
    }

    #[test]
    fn the_terminal_table_and_the_printable_page() {
        let r = sample();
        let t = table(&r);
        assert!(
            t.contains("== Acquisition ==") && t.contains("Reader retention"),
            "{t}"
        );
        let html = printable("Maison <Lumière>", &r);
        assert!(!html.contains("<Lumière>"), "the title is escaped");
        assert!(
            html.contains("Maison &#60;Lumière&#62;") || html.contains("Maison &lt;Lumière&gt;")
        );
        assert_eq!(html.matches("<svg").count(), 12);
    }

    #[test]
    fn an_empty_period_draws_without_numbers_that_are_not() {
        let period = index::Period::new(
            jiff::civil::date(2025, 1, 1),
            jiff::civil::date(2025, 2, 1),
            "UTC",
        )
        .expect("period");
        let r = index::report(&[], &period).expect("report");
        for c in charts(&r) {
            assert!(
                !c.svg.contains("NaN") && !c.svg.contains("\"inf") && !c.svg.contains("\"-inf"),
                "{}",
                c.id
            );
        }
        assert!(table(&r).contains("—"));
    }

    #[test]
    fn every_word_has_its_chinese() {
        let r = sample();
        let mut charts = charts(&r);
        let mut kpis = kpis(&r);
        to_chinese(&r, &mut charts, &mut kpis);
        for c in &charts {
            assert!(!c.title.is_ascii(), "{} untranslated", c.title);
            assert!(!c.section.is_ascii());
            for h in &c.header {
                assert!(
                    !h.is_ascii() || h.ends_with('h'),
                    "{h} untranslated in {}",
                    c.id
                );
            }
            assert!(c.note.is_empty() || !c.note.is_ascii(), "{}", c.note);
        }
        assert!(kpis.iter().all(|k| !k.label.is_ascii()));
    }
}
