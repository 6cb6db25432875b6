//! `salon channel archive` as an operator runs it with a dump of the WeCom chat archive (as the
//! brand's reader decrypted it): group words are stored once and checked against the rules,
//! a second run adds nothing, and a bad line is named with nothing stored.

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

const DUMP: &str = r#"{"seq":1,"message":{"msgid":"d1","action":"send","from":"wmGuest1","tolist":["sa.zhou"],"roomid":"wrDump","msgtime":1700000000000,"msgtype":"text","text":{"content":"能打八折吗？"}}}
{"seq":2,"message":{"msgid":"d2","action":"send","from":"sa.zhou","tolist":["wmGuest1"],"roomid":"wrDump","msgtime":1700000001000,"msgtype":"text","text":{"content":"我帮您问问"}}}
{"seq":3,"message":{"msgid":"d3","action":"recall","from":"sa.zhou","tolist":["wmGuest1"],"roomid":"wrDump","msgtime":1700000002000,"msgtype":"revoke","revoke":{"pre_msgid":"d2"}}}
{"seq":4,"message":{"msgid":"d4","action":"switch","time":1700000003000,"user":"sa.zhou"}}
{"seq":5,"message":{"msgid":"d5","action":"send","from":"wmStranger","tolist":["sa.zhou"],"roomid":"","msgtime":1700000004000,"msgtype":"text","text":{"content":"hi"}}}
"#;

#[tokio::test]
async fn an_archive_dump_is_stored_once_checked_and_a_bad_line_is_named() {
    let data = std::env::temp_dir().join(format!("salon_archive_cli_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).expect("dir");
    let dump = data.join("dump.jsonl");
    std::fs::write(&dump, DUMP).expect("dump");
    let path = dump.to_string_lossy().into_owned();

    let first = salon(&data, &["channel", "archive", &path, "--brand", "demo"]);
    let out = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        out.contains("3 group messages and 0 one-to-one messages stored, 0 already held, 2 skipped, 1 flagged; the archive stands at seq 5"),
        "{out}"
    );
    let again = salon(&data, &["channel", "archive", &path, "--brand", "demo"]);
    let out = String::from_utf8_lossy(&again.stdout);
    assert!(
        out.contains("0 group messages and 0 one-to-one messages stored, 3 already held"),
        "{out}"
    );

    let bad = data.join("bad.jsonl");
    std::fs::write(
        &bad,
        r#"{"seq":6,"message":{"msgid":"d6","action":"send","from":"wmGuest1","roomid":"wrDump","msgtime":1700000005000,"msgtype":"text","text":{"content":"ok"}}}
{"seq":7,"message":{"msgid":"","action":"send","from":"wmGuest1","roomid":"wrDump","msgtime":1700000006000}}
"#,
    )
    .expect("bad");
    let refused = salon(
        &data,
        &[
            "channel",
            "archive",
            &bad.to_string_lossy(),
            "--brand",
            "demo",
        ],
    );
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        err.contains("chatdata[1] (seq 7): message.msgid is empty"),
        "{err}"
    );
    let after = salon(&data, &["channel", "archive", &path, "--brand", "demo"]);
    assert!(
        String::from_utf8_lossy(&after.stdout).contains("the archive stands at seq 5"),
        "nothing of the refused dump was stored"
    );
    let _ = std::fs::remove_dir_all(&data);
}
