//! The bitmap evaluation against a plain, one-client-at-a-time reading of the same expression.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::expr::{Cmp, DateField, Month, When};
use crate::*;

const DAY: i64 = 86_400_000;

fn ctx() -> EvalContext {
    EvalContext {
        // 2026-11-23T12:00:00Z
        now_ms: 1_795_435_200_000,
        tz: jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz"),
    }
}

fn cmp(c: Cmp, a: i64, b: i64) -> bool {
    match c {
        Cmp::Lt => a < b,
        Cmp::Le => a <= b,
        Cmp::Eq => a == b,
        Cmp::Ge => a >= b,
        Cmp::Gt => a > b,
    }
}

/// The reference: one client, read directly.
fn matches(f: &Facts, e: &Expr, ctx: &EvalContext) -> bool {
    let has = |list: &[String], v: &str| list.iter().any(|x| x.to_lowercase() == v);
    let is = |o: &Option<String>, v: &str| o.as_deref().is_some_and(|x| x.to_lowercase() == v);
    match e {
        Expr::And { terms } => terms.iter().all(|t| matches(f, t, ctx)),
        Expr::Or { terms } => terms.iter().any(|t| matches(f, t, ctx)),
        Expr::Not { term } => !matches(f, term, ctx),
        Expr::Term { term } => match term {
            Term::Tag { value } => has(&f.tags, value),
            Term::Tier { value } => is(&f.tier, value),
            Term::Store { value } => is(&f.store, value),
            Term::City { value } => is(&f.city, value),
            Term::Language { value } => is(&f.language, value),
            Term::Sa { id } => f.associate == Some(*id),
            Term::Spend { cmp: c, minor } => cmp(*c, f.spend_minor, *minor),
            Term::Consent { channel } => has(&f.consents, channel),
            Term::Channel { kind } => has(&f.channels, kind),
            Term::Birthday { month } => {
                let now = jiff::Timestamp::from_millisecond(ctx.now_ms)
                    .expect("ts")
                    .to_zoned(ctx.tz.clone())
                    .month() as u8;
                let m = match month {
                    Month::Of(m) => *m,
                    Month::ThisMonth => now,
                    Month::NextMonth => now % 12 + 1,
                };
                f.birth_month == Some(m)
            }
            Term::Date { which, when } => {
                let v = match which {
                    DateField::LastPurchase => f.last_purchase,
                    DateField::LastInteraction => f.last_interaction,
                };
                let Some(v) = v else { return false };
                match when {
                    When::WithinDays { days } => v >= ctx.now_ms - i64::from(*days) * DAY,
                    When::Date { cmp: c, date } => {
                        let day = jiff::Timestamp::from_millisecond(v)
                            .expect("ts")
                            .to_zoned(ctx.tz.clone())
                            .date();
                        cmp(*c, ord(day), ord(*date))
                    }
                }
            }
        },
    }
}

fn ord(d: jiff::civil::Date) -> i64 {
    i64::from(d.year()) * 10_000 + i64::from(d.month()) * 100 + i64::from(d.day())
}

const TAGS: [&str; 4] = ["vip", "watches", "Big Spender", "bridal"];
const TIERS: [&str; 3] = ["gold", "platinum", "silver"];

fn facts(rng: &mut ChaCha8Rng, id: i64) -> Facts {
    let c = ctx();
    let some = |rng: &mut ChaCha8Rng, p: f64| rng.r#gen::<f64>() < p;
    let mut f = Facts {
        client_id: id,
        ..Facts::default()
    };
    for t in TAGS {
        if some(rng, 0.3) {
            f.tags.push(t.to_owned());
        }
    }
    if some(rng, 0.8) {
        f.tier = Some(TIERS[rng.gen_range(0..3)].to_owned());
    }
    if some(rng, 0.9) {
        f.store = Some(["SH01", "BJ01"][rng.gen_range(0..2)].to_owned());
    }
    f.associate = some(rng, 0.8).then(|| rng.gen_range(1..5));
    // Coarse spend values so that equality and bucket edges are hit.
    f.spend_minor = rng.gen_range(0..40) * 250_000;
    // Around day boundaries in Shanghai (16:00 UTC) as well as anywhere.
    let at = |rng: &mut ChaCha8Rng| {
        let day = c.now_ms - rng.gen_range(0..400) * DAY;
        let midnight_sh = day - day.rem_euclid(DAY) - 8 * 3_600_000;
        midnight_sh + [0, -1, 1, rng.gen_range(0..DAY)][rng.gen_range(0..4)]
    };
    f.last_purchase = some(rng, 0.7).then(|| at(rng));
    f.last_interaction = some(rng, 0.7).then(|| at(rng));
    f.birth_month = some(rng, 0.8).then(|| rng.gen_range(1..=12));
    for ch in ["wecom", "whatsapp"] {
        if some(rng, 0.5) {
            f.consents.push(ch.to_owned());
        }
        if some(rng, 0.6) {
            f.channels.push(ch.to_owned());
        }
    }
    f
}

fn term(rng: &mut ChaCha8Rng) -> String {
    let c = ["<", "<=", "=", ">=", ">"][rng.gen_range(0..5)];
    let date = (jiff::civil::date(2026, 11, 23) - jiff::Span::new().days(rng.gen_range(0..400)))
        .to_string();
    match rng.gen_range(0..11) {
        0 => format!("tag:\"{}\"", TAGS[rng.gen_range(0..4)]),
        1 => format!("tier:{}", TIERS[rng.gen_range(0..3)].to_uppercase()),
        2 => format!("store:{}", ["sh01", "BJ01", "GZ01"][rng.gen_range(0..3)]),
        3 => format!("sa:{}", rng.gen_range(0..6)),
        4 => format!("spend{c}{}", rng.gen_range(0..40) * 2_500),
        5 => format!("last_purchase:{}d", rng.gen_range(0..400)),
        6 => format!("last_interaction{c}{date}"),
        7 => format!("last_purchase{c}{date}"),
        8 => ["birthday:this_month", "birthday:next_month", "birthday:7"][rng.gen_range(0..3)]
            .to_owned(),
        9 => format!(
            "consent:{}",
            ["wecom", "whatsapp", "email"][rng.gen_range(0..3)]
        ),
        _ => format!(
            "channel:{}",
            ["wecom", "whatsapp", "crm"][rng.gen_range(0..3)]
        ),
    }
}

fn expression(rng: &mut ChaCha8Rng, depth: u32) -> String {
    if depth == 0 || rng.gen_range(0..3) == 0 {
        return term(rng);
    }
    let n = rng.gen_range(2..4);
    let parts: Vec<String> = (0..n).map(|_| expression(rng, depth - 1)).collect();
    let joined = parts.join(if rng.gen_range(0..2) == 0 {
        " OR "
    } else {
        " AND "
    });
    match rng.gen_range(0..3) {
        0 => format!("NOT ({joined})"),
        _ => format!("({joined})"),
    }
}

#[test]
fn bitmaps_agree_with_reading_each_client() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    // Ids with gaps, given out of order.
    let mut all: Vec<Facts> = (0..3_000).map(|i| facts(&mut rng, i * 3 + 100)).collect();
    all.reverse();
    let ix = SegmentIndex::build(all.clone());
    assert_eq!(ix.len(), 3_000);
    let c = ctx();
    for _ in 0..400 {
        let src = expression(&mut rng, 3);
        let e = parse(&src).unwrap_or_else(|err| panic!("{src}: {err}"));
        let got = ix.client_ids(&ix.evaluate(&e, &c));
        let mut want: Vec<i64> = all
            .iter()
            .filter(|f| matches(f, &e, &c))
            .map(|f| f.client_id)
            .collect();
        want.sort_unstable();
        assert_eq!(got, want, "{src}");
    }
}

#[test]
fn date_terms_follow_the_brand_day() {
    let c = ctx();
    // 2026-11-22T16:00:00Z is midnight of the 23rd in Shanghai.
    let midnight = 1_795_363_200_000;
    let ix = SegmentIndex::build(vec![
        Facts {
            client_id: 1,
            last_purchase: Some(midnight - 1),
            ..Facts::default()
        },
        Facts {
            client_id: 2,
            last_purchase: Some(midnight),
            ..Facts::default()
        },
        Facts {
            client_id: 3,
            ..Facts::default()
        },
    ]);
    let ids = |src: &str| ix.client_ids(&ix.evaluate(&parse(src).expect("parses"), &c));
    assert_eq!(ids("last_purchase>=2026-11-23"), vec![2]);
    assert_eq!(ids("last_purchase<2026-11-23"), vec![1]);
    assert_eq!(ids("last_purchase=2026-11-22"), vec![1]);
    assert_eq!(ids("NOT last_purchase:365d"), vec![3]);
    assert_eq!(ids("spend=0"), vec![1, 2, 3]);
}

#[test]
fn a_large_bucketed_range_is_exact_at_every_edge() {
    let all: Vec<Facts> = (0..20_000)
        .map(|i| Facts {
            client_id: i,
            spend_minor: (i * 7919) % 5_000,
            ..Facts::default()
        })
        .collect();
    let ix = SegmentIndex::build(all.clone());
    let c = ctx();
    for v in [0, 1, 2_499, 2_500, 4_999, 5_000, 12] {
        for op in ["<", "<=", "=", ">=", ">"] {
            let src = format!("spend{op}{}.{:02}", v / 100, v % 100);
            let e = parse(&src).expect("parses");
            let n = all.iter().filter(|f| matches(f, &e, &c)).count() as u64;
            assert_eq!(ix.count(&e, &c), n, "{src}");
        }
    }
}
