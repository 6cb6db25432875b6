//! Invariants of the report over generated communities: shares sum to 1, rates stay within
//! [0, 1], reader retention never rises, the heatmap covers every push.

use index::{Period, report};
use jiff::civil::Date;
use serde_json::Value;

fn rates_within_unit(v: &Value, path: &str) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{path}.{k}");
                let is_rate = (k.ends_with("_rate") && k != "growth_rate")
                    || k == "share"
                    || k == "conversion"
                    || path.ends_with("_shares")
                    || path.ends_with("by_source")
                    || path.ends_with("articles_per_push");
                if is_rate && let Some(f) = x.as_f64() {
                    assert!((0.0..=1.0).contains(&f), "{p} = {f}");
                }
                rates_within_unit(x, &p);
            }
        }
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| rates_within_unit(x, &format!("{path}[{i}]"))),
        _ => {}
    }
}

fn sums_to_one(values: impl Iterator<Item = f64>, what: &str) {
    let s: f64 = values.sum();
    assert!((s - 1.0).abs() < 1e-9, "{what} sums to {s}");
}

#[test]
fn invariants_hold_on_generated_communities() {
    for seed in [1u64, 2, 3] {
        let events = sim::events::generate(&sim::events::Params {
            people: 3_000,
            days: 150,
            seed,
            start: Date::constant(2024, 1, 1),
        });
        let period = Period::new(
            Date::constant(2024, 1, 10),
            Date::constant(2024, 5, 1),
            "Asia/Shanghai",
        )
        .expect("period");
        let r = report(&events, &period).expect("report");
        rates_within_unit(&r, "");
        let a = &r["acquisition"];
        sums_to_one(
            a["sources"]
                .as_object()
                .expect("sources")
                .values()
                .filter_map(|s| s["share"].as_f64()),
            "source shares",
        );
        let follows: u64 = a["sources"]
            .as_object()
            .expect("sources")
            .values()
            .filter_map(|s| s["follows"].as_u64())
            .sum();
        assert_eq!(Some(follows), a["new_follows"].as_u64());
        let e = &r["engagement"];
        sums_to_one(
            e["action_shares"]
                .as_object()
                .expect("shares")
                .values()
                .filter_map(Value::as_f64),
            "action shares",
        );
        sums_to_one(
            e["menu_category_shares"]
                .as_object()
                .expect("shares")
                .values()
                .filter_map(Value::as_f64),
            "menu shares",
        );
        assert_eq!(
            e["monthly"].as_array().map(Vec::len),
            Some(3),
            "Feb, Mar, Apr lie wholly inside"
        );
        let c = &r["content"];
        assert!(c["pushes"].as_u64().unwrap_or(0) > 10);
        sums_to_one(
            c["articles_per_push"]
                .as_object()
                .expect("apu")
                .values()
                .filter_map(Value::as_f64),
            "articles per push",
        );
        sums_to_one(
            c["push_heatmap"]
                .as_array()
                .expect("rows")
                .iter()
                .flat_map(|r| r.as_array().cloned().unwrap_or_default())
                .filter_map(|x| x.as_f64()),
            "heatmap",
        );
        let ret: Vec<f64> = c["reader_retention"]
            .as_array()
            .expect("retention")
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        assert_eq!(ret.len(), 10);
        assert!(
            ret.windows(2).all(|w| w[0] >= w[1]),
            "retention never rises: {ret:?}"
        );
        let (q20, q50) = (
            c["screens_to_lose_20pct"].as_f64().expect("q20"),
            c["screens_to_lose_50pct"].as_f64().expect("q50"),
        );
        assert!(q20 <= q50);
        let per_month: u64 = c["pushes_per_month"]
            .as_array()
            .expect("ppm")
            .iter()
            .filter_map(|m| m["pushes"].as_u64())
            .sum();
        assert!(per_month <= c["pushes"].as_u64().unwrap_or(0));
        for row in r["livestream"].as_array().expect("live") {
            assert!(row["buyers"].as_u64() <= row["viewers"].as_u64());
        }
    }
}

/// The same events give the same report however they arrive: built at once, appended in
/// batches out of time order, or read from JSON Lines or from a Parquet file of many row
/// groups split between threads.
#[test]
fn every_way_in_gives_the_same_report() {
    let events = sim::events::generate(&sim::events::Params {
        people: 400,
        days: 120,
        seed: 9,
        start: Date::constant(2024, 1, 1),
    });
    let period = Period::new(
        Date::constant(2024, 1, 15),
        Date::constant(2024, 4, 1),
        "Asia/Shanghai",
    )
    .expect("period");
    let expected = report(&events, &period).expect("report");

    // Appended batch by batch, newest batch first, as a live index would see a backfill.
    let mut live = index::Table::new();
    for chunk in events.chunks(997).rev() {
        for e in chunk {
            live.push(e.as_ref());
        }
    }
    let mut reordered: Vec<_> = events.chunks(997).rev().flatten().cloned().collect();
    assert_eq!(
        index::report_table(&live, &period).expect("live"),
        report(&reordered, &period).expect("batch"),
        "appending equals building at once"
    );
    reordered.clear();

    let dir = std::env::temp_dir().join(format!("salon_index_ways_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let parquet = dir.join("events.parquet");
    events::write_parquet_groups(&parquet, &events, events.len() / 12 + 1).expect("parquet");
    assert!(events::parquet_row_groups(&parquet).expect("groups").len() > 8);
    let (table, skipped) = index::Table::read(&parquet, false).expect("read parquet");
    assert!(skipped.is_empty());
    assert_eq!(table.len(), events.len() as u64);
    assert_eq!(
        index::report_table(&table, &period).expect("parquet"),
        expected
    );

    let jsonl = dir.join("events.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&jsonl).expect("file"));
    events::write_jsonl(&mut out, &events).expect("jsonl");
    drop(out);
    let (table, _) = index::Table::read(&jsonl, false).expect("read jsonl");
    assert_eq!(
        index::report_table(&table, &period).expect("jsonl"),
        expected
    );
    let _ = std::fs::remove_dir_all(dir);
}
