//! Bounded fuzzing of the catalogue's imports (products and stock, CSV and JSON Lines): any
//! bytes give the parsed lines or `AppError::Invalid` naming lines and fields, never a panic
//! and never another error.

use app::AppError;
use app::catalogue::{Format, parse_products, parse_stock};
use proptest::prelude::*;

#[path = "../../../testing/mutate.rs"]
#[allow(dead_code)]
mod mutate;
use mutate::mutated_bytes;

const AT: i64 = 1_767_225_600_000;

const PRODUCTS_CSV: &[u8] = "\u{feff}sku,name_zh,name_en,category,material,colours,sizes,images,active,url,price_CNY,price_EUR\n\
BAG-1,卡米耶手袋,Camille bag,bags,calfskin,black|tan,S|M,1|2,yes,https://example.com/b,32500,4200.50\n\
\"SC-2\",\"丝巾, 大\",\"Scarf, \"\"large\"\"\",scarves,silk,,,,0,,1999.9,\n"
    .as_bytes();
const PRODUCTS_JSONL: &[u8] = r#"{"sku":"BAG-1","name_zh":"卡米耶手袋","name_en":"Camille bag","category":"bags","colours":["black"],"sizes":["S"],"prices":{"CNY":"32500","EUR":4200.5},"active":true}
{"sku":"SC-2","name_en":"Scarf","prices":{"CNY":1999}}
"#
.as_bytes();
const STOCK_CSV: &[u8] = b"sku,store,quantity\nBAG-1,SH01,3\nSC-2,BJ01,0\n";
const STOCK_JSONL: &[u8] =
    br#"[{"sku":"BAG-1","store":"SH01","quantity":3},{"sku":"SC-2","store":"BJ01","quantity":0}]"#;

/// The outcome a file may have: what it holds, or the problems by line and field.
fn typed<T>(r: Result<T, AppError>) -> Result<(), TestCaseError> {
    match r {
        Ok(_) => Ok(()),
        Err(AppError::Invalid(problems)) => {
            prop_assert!(!problems.is_empty());
            prop_assert!(problems.len() <= 21, "at most 20 problems and a summary");
            Ok(())
        }
        Err(e) => Err(TestCaseError::fail(format!(
            "not a validation error: {e:?}"
        ))),
    }
}

fn all_readers(bytes: &[u8]) -> Result<(), TestCaseError> {
    for f in [Format::Csv, Format::JsonLines] {
        typed(parse_products(f, bytes, AT))?;
        typed(parse_stock(f, bytes, AT))?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_bytes_are_read_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        all_readers(&bytes)?;
    }

    #[test]
    fn mutated_product_files_are_read_or_refused(bytes in prop_oneof![
        mutated_bytes(PRODUCTS_CSV, "\"", "\""),
        mutated_bytes(PRODUCTS_JSONL, "[", "]"),
    ]) {
        all_readers(&bytes)?;
    }

    #[test]
    fn mutated_stock_files_are_read_or_refused(bytes in prop_oneof![
        mutated_bytes(STOCK_CSV, "\"", "\""),
        mutated_bytes(STOCK_JSONL, "{\"a\":", "}"),
    ]) {
        all_readers(&bytes)?;
    }

    #[test]
    fn prices_and_quantities_of_any_size_are_read_or_refused(
        n in prop_oneof![
            any::<i128>().prop_map(|x| x.to_string()),
            any::<f64>().prop_map(|x| x.to_string()),
            "[0-9]{1,40}\\.[0-9]{0,6}",
            Just("1e400".to_owned()),
        ],
    ) {
        let csv = format!("sku,price_CNY\nA,{n}\n");
        typed(parse_products(Format::Csv, csv.as_bytes(), AT))?;
        let stock = format!("sku,store,quantity\nA,SH01,{n}\n");
        typed(parse_stock(Format::Csv, stock.as_bytes(), AT))?;
        let jsonl = format!("{{\"sku\":\"A\",\"prices\":{{\"CNY\":{n}}}}}\n{{\"sku\":\"B\",\"store\":\"S\",\"quantity\":{n}}}");
        typed(parse_products(Format::JsonLines, jsonl.as_bytes(), AT))?;
        typed(parse_stock(Format::JsonLines, jsonl.as_bytes(), AT))?;
    }
}

#[test]
fn the_samples_read() {
    assert_eq!(
        parse_products(Format::Csv, PRODUCTS_CSV, AT)
            .expect("csv")
            .len(),
        2
    );
    assert_eq!(
        parse_products(Format::JsonLines, PRODUCTS_JSONL, AT)
            .expect("jsonl")
            .len(),
        2
    );
    assert_eq!(
        parse_stock(Format::Csv, STOCK_CSV, AT).expect("csv").len(),
        2
    );
    assert_eq!(
        parse_stock(Format::JsonLines, STOCK_JSONL, AT)
            .expect("json")
            .len(),
        2
    );
    let deep = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    assert!(matches!(
        parse_products(Format::JsonLines, deep.as_bytes(), AT),
        Err(AppError::Invalid(_))
    ));
}
