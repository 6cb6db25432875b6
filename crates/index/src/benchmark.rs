//! The cross-brand benchmark of the spec: one brand's figures set against every brand of the
//! installation — its rank and the 25th, 50th and 75th percentiles, overall and among accounts
//! of its size (large: over 100,000 followers at period end). Only aggregates leave a brand, and
//! a group smaller than [`MIN_GROUP`] brands shows no percentile at all, since with two or three
//! brands a percentile would all but name the others' figures.

use serde_json::{Value, json};

use crate::percentile;

/// Brands a group needs before its percentiles are shown.
pub const MIN_GROUP: usize = 5;
pub const LARGE_ACCOUNT: f64 = 100_000.0;

/// The figures compared: (label, path in the report, whether higher is better).
pub const FIGURES: [(&str, &str, bool); 9] = [
    ("growth_rate", "/acquisition/growth_rate", true),
    (
        "unfollow_rate_after_push",
        "/acquisition/unfollow_rate_after_push",
        false,
    ),
    (
        "monthly_active_rate",
        "/engagement/monthly_active_rate",
        true,
    ),
    ("inactive_rate", "/engagement/inactive_rate", false),
    (
        "lifetime_active_rate",
        "/engagement/lifetime_active_rate",
        true,
    ),
    (
        "push_engagement_rate",
        "/engagement/push_engagement_rate",
        true,
    ),
    ("open_rate", "/content/open_rate", true),
    (
        "single_article_open_rate",
        "/content/single_article_open_rate",
        true,
    ),
    (
        "multi_top_article_open_rate",
        "/content/multi_top_article_open_rate",
        true,
    ),
];

fn group(own: Option<f64>, values: &[f64], higher_is_better: bool) -> Value {
    if values.len() < MIN_GROUP {
        return json!({"brands": values.len(), "rank": null, "p25": null, "p50": null, "p75": null});
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = own.map(|v| {
        1 + values
            .iter()
            .filter(|x| if higher_is_better { **x > v } else { **x < v })
            .count()
    });
    json!({
        "brands": values.len(),
        "rank": rank,
        "p25": percentile(&sorted, 0.25),
        "p50": percentile(&sorted, 0.5),
        "p75": percentile(&sorted, 0.75),
    })
}

/// Sets `own` (one brand's report) against `all` (every brand's report, `own` included).
pub fn compare(own: &Value, all: &[Value]) -> Value {
    let followers = |r: &Value| {
        r.pointer("/acquisition/followers_end")
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
    };
    let own_large = followers(own) > LARGE_ACCOUNT;
    let mut figures = serde_json::Map::new();
    for (label, path, higher) in FIGURES {
        let value = own.pointer(path).and_then(Value::as_f64);
        let of = |keep: &dyn Fn(&Value) -> bool| -> Vec<f64> {
            all.iter()
                .filter(|r| keep(r))
                .filter_map(|r| r.pointer(path).and_then(Value::as_f64))
                .collect()
        };
        let every = of(&|_| true);
        let same_size = of(&|r| (followers(r) > LARGE_ACCOUNT) == own_large);
        figures.insert(
            label.to_owned(),
            json!({
                "value": value,
                "higher_is_better": higher,
                "all": group(value, &every, higher),
                "same_size": group(value, &same_size, higher),
            }),
        );
    }
    json!({
        "brands": all.len(),
        "size": if own_large { "large" } else { "small" },
        "min_group": MIN_GROUP,
        "figures": figures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(followers: f64, open: f64) -> Value {
        json!({"acquisition": {"followers_end": followers, "growth_rate": 0.1}, "engagement": {}, "content": {"open_rate": open}})
    }

    #[test]
    fn rank_and_percentiles_over_enough_brands() {
        let all: Vec<Value> = [0.01, 0.02, 0.03, 0.04, 0.05, 0.06]
            .iter()
            .map(|o| report(1000.0, *o))
            .collect();
        let b = compare(&all[4], &all);
        let open = &b["figures"]["open_rate"];
        assert_eq!(open["value"], 0.05);
        assert_eq!(open["all"]["rank"], 2, "second best of six");
        assert_eq!(open["all"]["brands"], 6);
        assert!((open["all"]["p50"].as_f64().expect("p50") - 0.035).abs() < 1e-12);
        assert!((open["all"]["p25"].as_f64().expect("p25") - 0.0225).abs() < 1e-12);
        assert_eq!(b["size"], "small");
    }

    #[test]
    fn small_groups_reveal_nothing() {
        let mut all: Vec<Value> = (0..6)
            .map(|i| report(1000.0, 0.01 * f64::from(i)))
            .collect();
        all.push(report(200_000.0, 0.5));
        let b = compare(&all[6], &all);
        assert_eq!(b["size"], "large");
        let open = &b["figures"]["open_rate"];
        assert_eq!(open["same_size"]["brands"], 1);
        assert!(open["same_size"]["p50"].is_null() && open["same_size"]["rank"].is_null());
        assert_eq!(open["all"]["rank"], 1);
        // Lower is better for unfollows.
        let all: Vec<Value> = (1..=5)
            .map(|i| json!({"acquisition": {"followers_end": 10.0, "unfollow_rate_after_push": 0.01 * f64::from(i)}}))
            .collect();
        assert_eq!(
            compare(&all[0], &all)["figures"]["unfollow_rate_after_push"]["all"]["rank"],
            1
        );
    }
}
