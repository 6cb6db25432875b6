//! The load test, bounded for CI: `salon bench --load` runs mixed reads and writes (sends,
//! notes, client updates, profiles, threads, client books) from 32 connections against the
//! whole server — the channel processor, the outbox and campaign dispatchers, the archive
//! indexer and the sandbox all running on one SQLite file — and must see no 5xx and no other
//! error. Before write transactions took the write lock up front, about a third of the writes
//! answered "database is locked".
//!
//! `SALON_LOAD_REQUESTS` (default 3,000) sets the size; the README gives the figures of a
//! longer release run.

use std::process::Command;

#[test]
fn mixed_reads_and_writes_from_32_connections_never_fail() {
    let requests = std::env::var("SALON_LOAD_REQUESTS").unwrap_or_else(|_| "3000".into());
    let dir = std::env::temp_dir().join(format!("salon_load_{:016x}", rand::random::<u64>()));
    let out = Command::new(env!("CARGO_BIN_EXE_salon"))
        .args([
            "bench",
            "--load",
            "--load-clients",
            "1500",
            "--concurrency",
            "32",
        ])
        .args(["--requests", &requests, "--data-dir"])
        .arg(&dir)
        .env("SALON_LOG", "error")
        .output()
        .expect("run salon bench --load");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the load run failed:\n{stdout}\n{}",
        stderr.chars().take(4_000).collect::<String>()
    );
    let summary = stdout
        .lines()
        .find(|l| l.contains("requests/s"))
        .expect("a summary line");
    assert!(summary.contains("5xx: 0, other errors: 0"), "{summary}");
}
