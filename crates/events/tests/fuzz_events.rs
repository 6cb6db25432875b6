//! Bounded fuzzing of the events reader (spec/events.md's JSON Lines, plain or gzip): arbitrary
//! bytes and mutations of the spec's example give events or the typed errors, never a panic;
//! an event that reads writes back to itself.

use events::{ReadError, parse_line, read_jsonl, to_json, write_jsonl};
use proptest::prelude::*;

#[path = "../../../testing/mutate.rs"]
#[allow(dead_code)]
mod mutate;
use mutate::{mutated, mutated_bytes};

const SPEC_EXAMPLE: &str = r#"{"ts":"2020-01-03T20:15:00+08:00","kind":"follow","follower":"oA1","source":"qr_code"}
{"ts":"2020-01-09T20:00:00+08:00","kind":"push","push":"p-2020-02","articles":2,"segmented":false,"recipients":48211}
{"ts":"2020-01-09T20:31:12+08:00","kind":"article_open","follower":"oA1","push":"p-2020-02","article":1,"screens":4.5}
{"ts":"2020-01-09T20:33:40+08:00","kind":"post_interaction","follower":"oA1","push":"p-2020-02","article":1,"action":"share"}
{"ts":"2020-01-12T11:02:00+08:00","kind":"menu_click","follower":"oA1","category":"ecommerce"}
{"ts":"2020-02-14T19:00:00+08:00","kind":"live_view","follower":"oA1","live":"live-520"}
{"ts":"2020-02-14T19:40:00+08:00","kind":"purchase","follower":"oA1","live":"live-520","amount":5200,"currency":"CNY","sa":"sa-017"}
"#;

/// Every event of a lenient read writes back and reads again as itself.
fn round_trips(bytes: &[u8]) -> Result<(), TestCaseError> {
    match read_jsonl(bytes, true) {
        Ok(out) => {
            for e in &out.events {
                let again = parse_line(1, &to_json(e).to_string())
                    .map_err(|err| TestCaseError::fail(format!("{e:?} wrote {err}")))?;
                prop_assert_eq!(&again, e);
            }
            let mut written = Vec::new();
            write_jsonl(&mut written, &out.events)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let back =
                read_jsonl(&written[..], false).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back.events, out.events);
        }
        Err(ReadError::Io(_) | ReadError::Invalid(_)) => {}
    }
    Ok(())
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(bytes).expect("in memory");
    z.finish().expect("in memory")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = read_jsonl(&bytes[..], true);
        let _ = read_jsonl(&bytes[..], false).map_err(|e| e.to_string());
        // With gzip's magic number in front: a damaged stream is an I/O error, not a panic.
        let mut z = vec![0x1f, 0x8b];
        z.extend_from_slice(&bytes);
        let _ = read_jsonl(&z[..], true);
    }

    #[test]
    fn arbitrary_lines_never_panic(s in any::<String>()) {
        let _ = parse_line(1, &s).map_err(|e| e.to_string());
    }

    #[test]
    fn mutated_spec_examples_never_panic_and_what_reads_round_trips(
        bytes in mutated_bytes(SPEC_EXAMPLE.as_bytes(), "[", "]"),
    ) {
        round_trips(&bytes)?;
    }

    #[test]
    fn mutated_single_lines_round_trip(s in mutated(
        r#"{"ts":"2020-02-14T19:40:00.123456789+08:00","kind":"purchase","follower":"oA1","amount":5200.25,"currency":"CNY"}"#,
        "{\"a\":", "}",
    )) {
        if let Ok(e) = parse_line(1, &s) {
            prop_assert_eq!(parse_line(1, &to_json(&e).to_string()).ok(), Some(e));
        }
    }

    #[test]
    fn mutated_gzip_streams_never_panic(bytes in mutated_bytes(GZ_EXAMPLE.as_slice(), "\u{0}", "\u{ff}")) {
        let _ = read_jsonl(&bytes[..], true);
    }

    #[test]
    fn numbers_of_any_size_are_read_or_refused(
        n in prop_oneof![
            any::<f64>().prop_map(|x| x.to_string()),
            any::<i128>().prop_map(|x| x.to_string()),
            Just("1e400".to_owned()),
            Just("-0".to_owned()),
            "[0-9]{1,80}",
        ],
        field in prop_oneof![Just("amount"), Just("articles"), Just("recipients"), Just("screens"), Just("article")],
    ) {
        let line = format!(
            r#"{{"ts":"2020-01-09T20:00:00Z","kind":"push","push":"p","articles":2,"segmented":true,"recipients":1,"follower":"f","article":1,"screens":1,"kind2":0,"{field}":{n}}}"#
        );
        let _ = parse_line(1, &line);
        let purchase = format!(r#"{{"ts":"2020-01-09T20:00:00Z","kind":"purchase","follower":"f","currency":"CNY","amount":{n}}}"#);
        if let Ok(e) = parse_line(1, &purchase) {
            prop_assert_eq!(parse_line(1, &to_json(&e).to_string()).ok(), Some(e));
        }
    }
}

static GZ_EXAMPLE: std::sync::LazyLock<Vec<u8>> =
    std::sync::LazyLock::new(|| gzip(SPEC_EXAMPLE.as_bytes()));

#[test]
fn the_spec_example_survives_gzip_and_deep_nesting_is_refused() {
    assert_eq!(
        read_jsonl(&GZ_EXAMPLE[..], false)
            .expect("gzip")
            .events
            .len(),
        7
    );
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(
        read_jsonl(deep.as_bytes(), false),
        Err(ReadError::Invalid(_))
    ));
}
