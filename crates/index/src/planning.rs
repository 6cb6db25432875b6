//! Planning tools beside the report: the growth forecast of the spec, and the push-time A/B
//! test (two-proportion z-test on opens and on engagement).

use std::collections::{BTreeMap, HashSet};

use events::{Event, Kind};
use serde::{Deserialize, Serialize};

use crate::{IndexError, Period};

/// The acquisition plan's inputs (`luxury-index.md`, "Growth forecast"). Rates are fractions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ForecastInput {
    pub current_fanbase: f64,
    pub organic_growth_rate: f64,
    pub marketing_budget: f64,
    pub cost_per_follower: f64,
    pub points_of_sale: f64,
    pub daily_foot_traffic: f64,
    pub store_onboarding_rate: f64,
    pub crm_customers: f64,
    pub expected_new_customers: f64,
    pub client_onboarding_rate: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Forecast {
    pub organic: f64,
    pub paid: f64,
    pub prospects: f64,
    pub clients: f64,
    /// New followers over the coming year: the sum of the four.
    pub delta: f64,
    pub fanbase_in_a_year: f64,
    pub note: &'static str,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{field}: {message}")]
pub struct InputError {
    pub field: &'static str,
    pub message: &'static str,
}

impl ForecastInput {
    fn check(&self) -> Result<(), InputError> {
        let all = [
            ("current_fanbase", self.current_fanbase),
            ("organic_growth_rate", self.organic_growth_rate),
            ("marketing_budget", self.marketing_budget),
            ("cost_per_follower", self.cost_per_follower),
            ("points_of_sale", self.points_of_sale),
            ("daily_foot_traffic", self.daily_foot_traffic),
            ("store_onboarding_rate", self.store_onboarding_rate),
            ("crm_customers", self.crm_customers),
            ("expected_new_customers", self.expected_new_customers),
            ("client_onboarding_rate", self.client_onboarding_rate),
        ];
        for (field, v) in all {
            if !v.is_finite() || v < 0.0 {
                return Err(InputError {
                    field,
                    message: "must be a number ≥ 0",
                });
            }
        }
        for (field, v) in [
            ("store_onboarding_rate", self.store_onboarding_rate),
            ("client_onboarding_rate", self.client_onboarding_rate),
        ] {
            if v > 1.0 {
                return Err(InputError {
                    field,
                    message: "is a fraction: at most 1 (100 %)",
                });
            }
        }
        if self.marketing_budget > 0.0 && self.cost_per_follower == 0.0 {
            return Err(InputError {
                field: "cost_per_follower",
                message: "must be above 0 when there is a marketing budget",
            });
        }
        Ok(())
    }
}

/// The coming year's new followers, source by source.
pub fn forecast(i: &ForecastInput) -> Result<Forecast, InputError> {
    i.check()?;
    let organic = i.current_fanbase * i.organic_growth_rate;
    let paid = if i.cost_per_follower > 0.0 {
        i.marketing_budget / i.cost_per_follower
    } else {
        0.0
    };
    let prospects = i.points_of_sale * i.daily_foot_traffic * 365.0 * i.store_onboarding_rate;
    let clients = (i.crm_customers + i.expected_new_customers) * i.client_onboarding_rate;
    let delta = organic + paid + prospects + clients;
    Ok(Forecast {
        organic,
        paid,
        prospects,
        clients,
        delta,
        fanbase_in_a_year: i.current_fanbase + delta,
        note: "People per year: the benchmark's printed formula divides by 365 and by the \
               conversion rate, which would give people per day per percent; Salon multiplies.",
    })
}

/// Counts for one arm of a test.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Arm {
    pub pushes: u64,
    pub recipients: u64,
    /// Distinct people who opened any article of the arm's pushes, summed over pushes.
    pub opens: u64,
    /// Distinct people who interacted with the arm's pushes, summed over pushes.
    pub engaged: u64,
}

/// A two-proportion z-test.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Comparison {
    pub rate_a: Option<f64>,
    pub rate_b: Option<f64>,
    pub z: Option<f64>,
    /// Two-sided.
    pub p_value: Option<f64>,
    /// Whether the difference is real at the 95 % level.
    pub significant: bool,
    pub verdict: String,
}

/// Compares `x_a / n_a` with `x_b / n_b` (pooled standard error, two-sided).
pub fn two_proportions(what: &str, x_a: u64, n_a: u64, x_b: u64, n_b: u64) -> Comparison {
    if n_a == 0 || n_b == 0 {
        return Comparison {
            rate_a: (n_a > 0).then(|| x_a as f64 / n_a as f64),
            rate_b: (n_b > 0).then(|| x_b as f64 / n_b as f64),
            z: None,
            p_value: None,
            significant: false,
            verdict: format!(
                "Not enough data: one side has no recipients, so the {what} cannot be compared."
            ),
        };
    }
    let (pa, pb) = (x_a as f64 / n_a as f64, x_b as f64 / n_b as f64);
    let pooled = (x_a + x_b) as f64 / (n_a + n_b) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / n_a as f64 + 1.0 / n_b as f64)).sqrt();
    let (z, p) = if se > 0.0 {
        let z = (pa - pb) / se;
        (
            Some(z),
            Some(libm::erfc(z.abs() / std::f64::consts::SQRT_2)),
        )
    } else {
        (None, None)
    };
    let significant = p.is_some_and(|p| p < 0.05);
    let verdict = match (significant, p) {
        (true, Some(p)) => format!(
            "The {what} differs for real: {} has {:.2} % against {:.2} % (p = {p:.4}; a difference this large would happen by chance less than 5 % of the time).",
            if pa > pb { "A" } else { "B" },
            pa.max(pb) * 100.0,
            pa.min(pb) * 100.0
        ),
        (false, Some(p)) => format!(
            "No real difference in {what}: {:.2} % against {:.2} % could well be chance (p = {p:.2}). Send more pushes in each slot before deciding.",
            pa * 100.0,
            pb * 100.0
        ),
        _ => format!(
            "No difference in {what} can be measured: both sides are at {:.2} %.",
            pa * 100.0
        ),
    };
    Comparison {
        rate_a: Some(pa),
        rate_b: Some(pb),
        z,
        p_value: p,
        significant,
        verdict,
    }
}

/// Which pushes an arm holds: local hours `[from, to)` (wrapping past midnight), or push ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    Hours(u8, u8),
    Pushes(Vec<String>),
}

impl Slot {
    /// `12-14` (hours) or `p-1,p-2` (push ids).
    pub fn parse(s: &str) -> Result<Self, InputError> {
        let s = s.trim();
        if let Some((a, b)) = s.split_once('-')
            && let (Ok(a), Ok(b)) = (a.trim().parse::<u8>(), b.trim().parse::<u8>())
        {
            if a > 23 || b > 24 || a == b {
                return Err(InputError {
                    field: "slot",
                    message: "hours are 0 to 24, as from-to (such as 19-22)",
                });
            }
            return Ok(Slot::Hours(a, b));
        }
        let ids: Vec<String> = s
            .split(',')
            .map(|x| x.trim().to_owned())
            .filter(|x| !x.is_empty())
            .collect();
        if ids.is_empty() {
            return Err(InputError {
                field: "slot",
                message: "give hours (such as 19-22) or push ids separated by commas",
            });
        }
        Ok(Slot::Pushes(ids))
    }

    fn holds(&self, id: &str, hour: u8) -> bool {
        match self {
            Slot::Hours(a, b) if a < b => (*a..*b).contains(&hour),
            Slot::Hours(a, b) => hour >= *a || hour < *b,
            Slot::Pushes(ids) => ids.iter().any(|x| x == id),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AbTest {
    pub a: Arm,
    pub b: Arm,
    pub open_rate: Comparison,
    pub engagement_rate: Comparison,
}

/// Compares the pushes of the period in slot A with those in slot B.
pub fn ab_test(
    events: &[Event],
    period: &Period,
    a: &Slot,
    b: &Slot,
) -> Result<AbTest, IndexError> {
    // push id → (arm, recipients)
    let mut arms: BTreeMap<&str, (bool, u64)> = BTreeMap::new();
    for e in events {
        if let Kind::Push {
            push, recipients, ..
        } = &e.kind
            && period.contains(e.ts)
            && !arms.contains_key(push.as_str())
        {
            let hour = u8::try_from(period.local(e.ts).hour()).unwrap_or(0);
            let (in_a, in_b) = (a.holds(push, hour), b.holds(push, hour));
            if in_a != in_b {
                arms.insert(push.as_str(), (in_a, *recipients));
            }
        }
    }
    let mut openers: HashSet<(&str, &str)> = HashSet::new();
    let mut engaged: HashSet<(&str, &str)> = HashSet::new();
    for e in events {
        let (Some(who), push, open) = (
            e.follower.as_deref(),
            match &e.kind {
                Kind::ArticleOpen { push, .. } => Some(push.as_str()),
                Kind::PostInteraction { push, .. } => Some(push.as_str()),
                _ => None,
            },
            matches!(e.kind, Kind::ArticleOpen { .. }),
        ) else {
            continue;
        };
        if let Some(p) = push
            && arms.contains_key(p)
        {
            if open {
                openers.insert((p, who));
            } else {
                engaged.insert((p, who));
            }
        }
    }
    let mut arm_a = Arm::default();
    let mut arm_b = Arm::default();
    for (in_a, recipients) in arms.values() {
        let arm = if *in_a { &mut arm_a } else { &mut arm_b };
        arm.pushes += 1;
        arm.recipients += recipients;
    }
    for (p, _) in &openers {
        if let Some((in_a, _)) = arms.get(p) {
            if *in_a {
                arm_a.opens += 1
            } else {
                arm_b.opens += 1
            }
        }
    }
    for (p, _) in &engaged {
        if let Some((in_a, _)) = arms.get(p) {
            if *in_a {
                arm_a.engaged += 1
            } else {
                arm_b.engaged += 1
            }
        }
    }
    Ok(AbTest {
        open_rate: two_proportions(
            "open rate",
            arm_a.opens,
            arm_a.recipients,
            arm_b.opens,
            arm_b.recipients,
        ),
        engagement_rate: two_proportions(
            "engagement rate",
            arm_a.engaged,
            arm_a.recipients,
            arm_b.engaged,
            arm_b.recipients,
        ),
        a: arm_a,
        b: arm_b,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forecast_sums_four_sources_per_year() {
        let f = forecast(&ForecastInput {
            current_fanbase: 100_000.0,
            organic_growth_rate: 0.1,
            marketing_budget: 50_000.0,
            cost_per_follower: 5.0,
            points_of_sale: 10.0,
            daily_foot_traffic: 40.0,
            store_onboarding_rate: 0.05,
            crm_customers: 20_000.0,
            expected_new_customers: 4_000.0,
            client_onboarding_rate: 0.3,
        })
        .expect("valid");
        assert_eq!(f.organic, 10_000.0);
        assert_eq!(f.paid, 10_000.0);
        assert!((f.prospects - 7_300.0).abs() < 1e-9);
        assert_eq!(f.clients, 7_200.0);
        assert!((f.delta - 34_500.0).abs() < 1e-9);
        assert!((f.fanbase_in_a_year - 134_500.0).abs() < 1e-9);
    }

    #[test]
    fn forecast_inputs_are_checked_by_name() {
        let bad = ForecastInput {
            store_onboarding_rate: 1.5,
            ..ForecastInput::default()
        };
        assert_eq!(
            forecast(&bad).map(|_| ()),
            Err(InputError {
                field: "store_onboarding_rate",
                message: "is a fraction: at most 1 (100 %)"
            })
        );
        let bad = ForecastInput {
            marketing_budget: 10.0,
            ..ForecastInput::default()
        };
        assert_eq!(
            forecast(&bad).map(|_| ()).map_err(|e| e.field),
            Err("cost_per_follower")
        );
        let bad = ForecastInput {
            current_fanbase: f64::NAN,
            ..ForecastInput::default()
        };
        assert_eq!(
            forecast(&bad).map(|_| ()).map_err(|e| e.field),
            Err("current_fanbase")
        );
    }

    #[test]
    fn two_proportions_matches_a_worked_example() {
        // 120/1000 against 90/1000: pooled 0.105, se = sqrt(.105 × .895 × .002) = 0.013710,
        // z = 0.03 / 0.013710 = 2.1883, two-sided p = 0.02865.
        let c = two_proportions("open rate", 120, 1000, 90, 1000);
        assert!((c.z.expect("z") - 2.1883).abs() < 1e-3, "{c:?}");
        assert!((c.p_value.expect("p") - 0.02865).abs() < 1e-4, "{c:?}");
        assert!(c.significant);
        assert!(
            c.verdict.starts_with("The open rate differs for real: A"),
            "{}",
            c.verdict
        );
        let c = two_proportions("open rate", 100, 1000, 95, 1000);
        assert!(
            !c.significant && c.verdict.starts_with("No real difference"),
            "{}",
            c.verdict
        );
        let c = two_proportions("open rate", 0, 0, 5, 10);
        assert!(c.p_value.is_none() && !c.significant);
    }

    #[test]
    fn slots_by_hour_or_by_push() {
        assert_eq!(Slot::parse("19-22"), Ok(Slot::Hours(19, 22)));
        assert_eq!(
            Slot::parse("p1, p2"),
            Ok(Slot::Pushes(vec!["p1".into(), "p2".into()]))
        );
        assert!(Slot::parse("25-3").is_err());
        assert!(
            Slot::Hours(22, 2).holds("x", 23)
                && Slot::Hours(22, 2).holds("x", 1)
                && !Slot::Hours(22, 2).holds("x", 12)
        );
    }

    #[test]
    fn ab_test_counts_distinct_people_per_push() {
        let text = r#"{"ts":"2025-01-06T12:30:00+08:00","kind":"push","push":"noon","articles":1,"segmented":false,"recipients":10}
{"ts":"2025-01-06T20:00:00+08:00","kind":"push","push":"evening","articles":1,"segmented":false,"recipients":10}
{"ts":"2025-01-06T12:40:00+08:00","kind":"article_open","follower":"a","push":"noon","article":1,"screens":1}
{"ts":"2025-01-06T12:41:00+08:00","kind":"article_open","follower":"a","push":"noon","article":1,"screens":2}
{"ts":"2025-01-06T20:10:00+08:00","kind":"article_open","follower":"a","push":"evening","article":1,"screens":1}
{"ts":"2025-01-06T20:11:00+08:00","kind":"article_open","follower":"b","push":"evening","article":1,"screens":1}
{"ts":"2025-01-06T20:12:00+08:00","kind":"post_interaction","follower":"b","push":"evening","article":1,"action":"like"}"#;
        let events = events::read_jsonl(text.as_bytes(), false)
            .expect("events")
            .events;
        let period = Period::new(
            jiff::civil::date(2025, 1, 1),
            jiff::civil::date(2025, 2, 1),
            "Asia/Shanghai",
        )
        .expect("period");
        let t =
            ab_test(&events, &period, &Slot::Hours(11, 14), &Slot::Hours(19, 22)).expect("test");
        assert_eq!(
            t.a,
            Arm {
                pushes: 1,
                recipients: 10,
                opens: 1,
                engaged: 0
            }
        );
        assert_eq!(
            t.b,
            Arm {
                pushes: 1,
                recipients: 10,
                opens: 2,
                engaged: 1
            }
        );
        assert_eq!(t.open_rate.rate_b, Some(0.2));
    }
}
