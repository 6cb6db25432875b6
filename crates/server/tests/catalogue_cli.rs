//! `salon import products|stock` as an operator runs them: CSV and JSON Lines, the same file
//! twice changes nothing, and a bad line is named (line and field) with nothing of its file
//! stored.

use std::path::PathBuf;
use std::process::Command;

struct Run {
    dir: PathBuf,
}

impl Run {
    fn salon(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_salon"))
            .args(args)
            .arg("--data-dir")
            .arg(&self.dir)
            .env("SALON_LOG", "warn")
            .env_remove("SALON_DATABASE_URL")
            .env_remove("RUST_BACKTRACE")
            .output()
            .expect("run salon");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.salon(args);
        assert!(ok, "salon {args:?}: {out} {err}");
        out
    }

    fn fails(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.salon(args);
        assert!(!ok, "salon {args:?} should fail: {out} {err}");
        err
    }

    fn write(&self, name: &str, text: &[u8]) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, text).expect("write");
        p.to_string_lossy().into_owned()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn products_and_stock_import_from_csv_and_json_lines() {
    let dir = std::env::temp_dir().join(format!("salon_catalogue_cli_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let run = Run { dir };
    run.ok(&[
        "brand",
        "create",
        "--slug",
        "acme",
        "--name",
        "Acme",
        "--time-zone",
        "Asia/Shanghai",
    ]);
    for (code, city) in [("SH01", "Shanghai"), ("PA01", "Paris")] {
        run.ok(&[
            "store",
            "create",
            "--brand",
            "acme",
            "--code",
            code,
            "--name",
            city,
            "--city",
            city,
            "--country",
            "CN",
            "--time-zone",
            "Asia/Shanghai",
        ]);
    }
    let csv = run.write(
        "products.csv",
        "\u{feff}sku,name_zh,name_en,category,material,colours,sizes,price_CNY,price_EUR,active\n\
         AC-BAG-1,经典手袋,Classic Bag,Bags,Calfskin,Black|Red,,32000,4100.50,true\n\
         AC-SCA-1,真丝围巾,Silk Scarf,Scarves,Silk,,90 cm,4200,,\n"
            .as_bytes(),
    );
    let out = run.ok(&["import", "products", &csv, "--brand", "acme"]);
    assert!(out.contains("read 2 products: 2 new, 0 changed"), "{out}");
    let out = run.ok(&["import", "products", &csv, "--brand", "acme"]);
    assert!(out.contains("0 new, 0 changed, 2 as held"), "{out}");

    let jsonl = run.write(
        "more.jsonl",
        r#"{"sku":"AC-BAG-1","name_zh":"经典手袋","name_en":"Classic Bag","category":"Bags","material":"Calfskin","colours":["Black","Red"],"prices":{"CNY":"30000","EUR":"4100.50"}}

{"sku":"AC-BELT-1","name_en":"Belt","prices":{"CNY":5200}}
"#
            .as_bytes(),
    );
    let out = run.ok(&["import", "products", &jsonl, "--brand", "acme"]);
    assert!(out.contains("1 new, 1 changed"), "{out}");

    // A bad line: named, and nothing of the file stored (AC-NEW-1 on the line before it).
    let bad = run.write(
        "bad.csv",
        b"sku,name_en,price_CNY\nAC-NEW-1,New,100\nAC-NEW-2,Newer,1.234\n",
    );
    let err = run.fails(&["import", "products", &bad, "--brand", "acme"]);
    assert!(err.contains("line 3, prices.CNY"), "{err}");
    let hostile = run.write("hostile.csv", b"sku,name_en\nAC-X,\xff\xfe\n");
    let err = run.fails(&["import", "products", &hostile, "--brand", "acme"]);
    assert!(err.contains("line 2, name_en: is not UTF-8"), "{err}");
    let err = run.fails(&[
        "import",
        "products",
        &run.write("p.xlsx", b"x"),
        "--brand",
        "acme",
    ]);
    assert!(err.contains(".csv, .jsonl"), "{err}");
    let good = run.write("good.csv", b"sku,name_en,price_CNY\nAC-NEW-1,New,100\n");
    let out = run.ok(&["import", "products", &good, "--brand", "acme"]);
    assert!(
        out.contains("1 new"),
        "nothing of the bad file was stored: {out}"
    );

    // Stock: known SKUs and stores only.
    let stock = run.write(
        "stock.csv",
        b"sku,store,quantity\nAC-BAG-1,SH01,3\nAC-BAG-1,PA01,1\nAC-SCA-1,sh01,0\n",
    );
    let out = run.ok(&["import", "stock", &stock, "--brand", "acme"]);
    assert!(out.contains("read 3 stock lines: 3 changed"), "{out}");
    let out = run.ok(&["import", "stock", &stock, "--brand", "acme"]);
    assert!(out.contains("0 changed"), "{out}");
    let bad_stock = run.write(
        "stock.jsonl",
        br#"{"sku":"AC-BAG-1","store":"SH01","quantity":9}
{"sku":"AC-NOPE","store":"SH01","quantity":1}
{"sku":"AC-BAG-1","store":"BJ01","quantity":1}
"#,
    );
    let err = run.fails(&["import", "stock", &bad_stock, "--brand", "acme"]);
    assert!(err.contains("line 2, sku"), "{err}");
    assert!(err.contains("line 3, store"), "{err}");
    let out = run.ok(&["import", "stock", &stock, "--brand", "acme"]);
    assert!(
        out.contains("0 changed"),
        "the bad stock file stored nothing: {out}"
    );
    let err = run.fails(&["import", "products", &csv, "--brand", "nope"]);
    assert!(err.contains("nope"), "{err}");
}
