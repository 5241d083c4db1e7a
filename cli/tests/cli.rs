//! The `brevdue` command line as scripts use it, against the private Dovecot.

#[path = "../../core/tests/common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn brevdue(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brevdue"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("TEST_PASSWORD", PASSWORD)
        .env("WRONG_PASSWORD", "wrong")
        .output()
        .expect("run brevdue")
}

fn ok(data_dir: &Path, args: &[&str]) -> String {
    let out = brevdue(data_dir, args);
    assert!(
        out.status.success(),
        "brevdue {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(data_dir: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(data_dir, args)).expect("valid JSON")
}

fn add_args<'a>(user: &'a str, port: &'a str, ca: &'a str, env: &'a str) -> Vec<&'a str> {
    vec![
        "account",
        "add",
        "main",
        "--email",
        "x@example.test",
        "--protocol",
        "imap",
        "--host",
        "127.0.0.1",
        "--port",
        port,
        "--security",
        "tls",
        "--user",
        user,
        "--password-env",
        env,
        "--ca-file",
        ca,
    ]
}

#[tokio::test]
async fn the_cli_contract() {
    let s = server();
    let user = s.new_user("cli");
    let mut other = OtherClient::login(&user).await;
    for i in 0..12u32 {
        let raw = message(
            &format!("Invoice {i}"),
            &format!("Anna Smith <anna{i}@example.test>"),
            &date(i),
            &format!("c{i}@t"),
            &format!("Amount due: {i}00 EUR"),
        );
        other
            .append("INBOX", &raw, if i < 4 { Some("(\\Seen)") } else { None })
            .await;
    }
    other.logout().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = s.imaps_port.to_string();

    // A wrong password: one line on stderr, a non-zero exit, nothing saved.
    let out = brevdue(d, &add_args(&user, &port, &s.ca_file, "WRONG_PASSWORD"));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("rejected the login"), "{stderr}");
    assert_eq!(
        json(d, &["account", "list", "--json"]),
        Value::Array(vec![])
    );

    ok(d, &add_args(&user, &port, &s.ca_file, "TEST_PASSWORD"));
    let accounts = json(d, &["account", "list", "--json"]);
    assert_eq!(accounts[0]["name"], "main");
    assert_eq!(accounts[0]["protocol"], "imap");
    assert_eq!(accounts[0]["capabilities"]["syncs_folders"], true);
    // The password is not in the database.
    let db = std::fs::read(d.join("brevdue.sqlite3")).unwrap();
    assert!(!db.windows(PASSWORD.len()).any(|w| w == PASSWORD.as_bytes()));

    ok(d, &["sync"]);
    let folders = json(d, &["folders", "--json"]);
    let inbox = folders
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "INBOX")
        .unwrap();
    assert_eq!(inbox["role"], "inbox");
    assert_eq!(inbox["total"], 12);
    assert_eq!(inbox["unread"], 8);

    let list = json(d, &["list", "--folder", "INBOX", "--limit", "5", "--json"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 5);
    let first = &list[0];
    for key in [
        "id",
        "account",
        "folder",
        "uid",
        "message_id",
        "from",
        "subject",
        "date",
        "seen",
        "flagged",
        "answered",
        "has_attachments",
        "size",
        "thread_id",
    ] {
        assert!(first.get(key).is_some(), "list --json lacks {key}");
    }
    assert_eq!(first["subject"], "Invoice 11");
    assert_eq!(first["from"]["name"], "Anna Smith");
    assert_eq!(first["from"]["address"], "anna11@example.test");
    assert_eq!(
        first["date"],
        chrono::DateTime::from_timestamp(timestamp(11), 0)
            .unwrap()
            .to_rfc3339()
    );
    assert_eq!(first["message_id"], "c11@t");
    assert_eq!(first["seen"], false);
    assert!(first["uid"].as_u64().unwrap() > 0);

    let id = first["id"].as_i64().unwrap().to_string();
    let shown = json(d, &["show", &id, "--json"]);
    for key in [
        "text",
        "html",
        "attachments",
        "to",
        "cc",
        "in_reply_to",
        "references",
    ] {
        assert!(shown.get(key).is_some(), "show --json lacks {key}");
    }
    assert_eq!(
        shown["text"].as_str().unwrap().trim(),
        "Amount due: 1100 EUR"
    );
    assert_eq!(shown["to"][0]["address"], "someone@example.test");

    let hits = json(d, &["search", "1100", "--json"]);
    assert_eq!(hits.as_array().unwrap().len(), 1);
    assert_eq!(hits[0]["id"].to_string(), id);
    let hits = json(d, &["search", "invoice", "--json"]);
    assert_eq!(hits.as_array().unwrap().len(), 12);

    let missing = brevdue(d, &["show", "999999"]);
    assert!(!missing.status.success());
    assert_eq!(String::from_utf8_lossy(&missing.stderr).lines().count(), 1);

    ok(d, &["account", "remove", "main"]);
    assert_eq!(json(d, &["list", "--json"]), Value::Array(vec![]));
}

#[tokio::test]
async fn a_sync_killed_midway_resumes_without_duplicates() {
    let s = server();
    let user = s.new_user("kill");
    let mut other = OtherClient::login(&user).await;
    let total = 2500u32;
    let filler = "lorem ipsum dolor sit amet ".repeat(80);
    for i in 0..total {
        let raw = message(
            &format!("k{i}"),
            "a@example.test",
            &date(i),
            &format!("k{i}@t"),
            &filler,
        );
        other.append("INBOX", &raw, None).await;
    }
    other.logout().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &add_args(
            &user,
            &s.imaps_port.to_string(),
            &s.ca_file,
            "TEST_PASSWORD",
        ),
    );
    ok(d, &["config", "body-prefetch", "all"]);

    let db_path = d.join("brevdue.sqlite3");
    let count = |sql: &str| -> i64 {
        let conn = rusqlite::Connection::open_with_flags(
            &db_path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        conn.query_row(sql, [], |r| r.get(0)).unwrap_or(0)
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_brevdue"))
        .arg("--data-dir")
        .arg(d)
        .arg("sync")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while count("SELECT count(*) FROM message") == 0 && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial_headers = count("SELECT count(*) FROM message");
    let partial_bodies = count("SELECT count(*) FROM message WHERE has_body = 1");
    assert!(partial_headers > 0 && (partial_headers < total as i64 || partial_bodies < total as i64),
        "the kill came too late to test anything ({partial_headers} headers, {partial_bodies} bodies)");

    ok(d, &["sync"]);
    assert_eq!(count("SELECT count(*) FROM message"), total as i64);
    assert_eq!(
        count("SELECT count(DISTINCT message_id) FROM message"),
        total as i64
    );
    assert_eq!(count("SELECT count(*) FROM location"), total as i64);
    assert_eq!(
        count("SELECT count(*) FROM message WHERE has_body = 1"),
        total as i64
    );
    let conn = rusqlite::Connection::open(&db_path).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let hits = json(d, &["search", "k1234", "--json"]);
    assert_eq!(hits.as_array().unwrap().len(), 1);
    let ids: HashSet<String> = json(d, &["list", "--limit", "5000", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message_id"].to_string())
        .collect();
    assert_eq!(ids.len(), total as usize);
}
