//! `salon audit verify` as an operator runs it: on a fresh data directory it creates the demo
//! brand (whose history is already audited) and passes; after a row of the audit log is altered
//! in the database behind Salon's back (its sealed detail swapped for another's, or a field in
//! clear changed), it exits 1 and names the entry. (Removed entries and
//! broken links are covered by `domain::conversation`'s tests.)

use std::process::Command;

fn salon(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_salon"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("SALON_LOG", "warn")
        .output()
        .expect("run salon")
}

#[tokio::test]
async fn audit_verify_passes_then_names_the_entry_altered_in_the_database() {
    let data = std::env::temp_dir().join(format!("salon_audit_cli_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let ok = salon(&data, &["audit", "verify", "--brand", "demo"]);
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(out.contains("the chain holds"), "{out}");

    let shown = salon(&data, &["audit", "show", "--brand", "demo"]);
    let lines = String::from_utf8_lossy(&shown.stdout).lines().count();
    assert!(lines > 5, "the demo's history is audited");

    let url = format!("sqlite://{}", data.join("salon.db").display());
    let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .expect("db");
    // A field kept in clear changed: the chain breaks there.
    sqlx::query("UPDATE audit_log SET action = 'nothing' WHERE seq = 3")
        .execute(&mut db)
        .await
        .expect("tamper");
    let broken = salon(&data, &["audit", "verify", "--brand", "demo"]);
    let err = String::from_utf8_lossy(&broken.stderr);
    assert_eq!(broken.status.code(), Some(1), "{err}");
    assert!(err.contains("BROKEN at entry 3"), "{err}");
    // The detail is sealed at rest: another entry's sealed detail put in its place opens
    // (same brand, same purpose) but no longer matches the chain, which breaks there first.
    sqlx::query(
        "UPDATE audit_log SET detail_sealed = (SELECT detail_sealed FROM audit_log WHERE seq = 4) \
         WHERE seq = 2",
    )
    .execute(&mut db)
    .await
    .expect("tamper");
    let broken = salon(&data, &["audit", "verify", "--brand", "demo"]);
    let err = String::from_utf8_lossy(&broken.stderr);
    assert_eq!(broken.status.code(), Some(1), "{err}");
    assert!(err.contains("BROKEN at entry 2"), "{err}");

    let _ = std::fs::remove_dir_all(&data);
}
