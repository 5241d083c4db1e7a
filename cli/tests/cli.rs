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

    // On a metered link, headers only; the next sync on another link brings the bodies.
    assert_eq!(ok(d, &["config", "prefetch-when-metered"]).trim(), "off");
    assert!(!brevdue(d, &["config", "prefetch-when-metered", "maybe"])
        .status
        .success());
    let bodies = |d: &Path| -> usize {
        let list = json(d, &["list", "--json"]);
        let list = list.as_array().unwrap();
        list.iter().filter(|m| m["has_body"] == true).count()
    };
    ok(d, &["--metered", "sync"]);
    assert_eq!(bodies(d), 0, "bodies were downloaded on a metered link");
    ok(d, &["sync"]);
    assert_eq!(bodies(d), 12);
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
        "has_body",
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
        "html_sanitized",
        "blocked_remote",
    ] {
        assert!(shown.get(key).is_some(), "show --json lacks {key}");
    }
    assert_eq!(shown["html_sanitized"], true);
    assert_eq!(shown["seen"], false, "show leaves the read mark alone");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_commands_queue_offline_and_report_refusals() {
    let s = server();
    let user = s.new_user("clichg");
    let mut other = OtherClient::login(&user).await;
    for i in 0..4u32 {
        let raw = message(
            &format!("q{i}"),
            "a@example.test",
            &date(i),
            &format!("q{i}@t"),
            "x",
        );
        other.append("INBOX", &raw, None).await;
    }
    other.create("Projects").await;
    let proxy = Proxy::start(s.imaps_port).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &add_args(&user, &proxy.port.to_string(), &s.ca_file, "TEST_PASSWORD"),
    );
    ok(d, &["sync"]);
    let list = json(d, &["list", "--json"]);
    let id = |mid: &str| -> String {
        list.as_array()
            .unwrap()
            .iter()
            .find(|m| m["message_id"] == mid)
            .unwrap()["id"]
            .to_string()
    };

    ok(d, &["mark", &id("q0@t"), "--read"]);
    assert!(other.server_view().await["q0@t"].1);

    // Offline: the change is kept, said on stderr, exit 0.
    proxy.go_down();
    let out = brevdue(d, &["mark", &id("q1@t"), "--flagged"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("queued"), "{stderr}");
    ok(d, &["move", &id("q2@t"), "--to", "Archive", "--no-push"]);
    let ops = json(d, &["ops", "--json"]);
    let ops = ops.as_array().unwrap();
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[0]["kind"], "flags");
    assert_eq!(ops[0]["state"], "pending");
    assert_eq!(ops[0]["attempts"], 1);
    assert!(!ops[0]["last_error"].as_str().unwrap().is_empty());
    assert_eq!(ops[1]["kind"], "move");
    for key in ["id", "kind", "target", "state", "attempts", "last_error"] {
        assert!(ops[1].get(key).is_some(), "ops --json lacks {key}");
    }

    proxy.come_up();
    ok(d, &["sync"]);
    assert_eq!(json(d, &["ops", "--json"]), Value::Array(vec![]));
    let server = other.server_view().await;
    assert!(server["q1@t"].2);
    assert_eq!(server["q2@t"].0, "Archive");

    // Folders.
    ok(d, &["folder", "create", "Receipts"]);
    ok(d, &["folder", "rename", "Receipts", "Quittungen"]);
    let names = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let folders = names(json(d, &["folders", "--json"]));
    assert!(
        folders.contains(&"Quittungen".to_owned()) && !folders.contains(&"Receipts".to_owned())
    );
    assert!(other.server_view().await.len() == 4);
    ok(d, &["folder", "delete", "Quittungen"]);
    assert!(!names(json(d, &["folders", "--json"])).contains(&"Quittungen".to_owned()));

    // Refused for good: undone here, one line on stderr, non-zero exit, listed as failed.
    other.delete("Projects").await;
    let out = brevdue(d, &["move", &id("q3@t"), "--to", "Projects"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("refused"), "{stderr}");
    let shown = json(d, &["show", &id("q3@t"), "--json"]);
    assert_eq!(shown["folder"], "INBOX");
    let ops = json(d, &["ops", "--json"]);
    assert_eq!(ops[0]["state"], "failed");
    let op = ops[0]["id"].to_string();
    ok(d, &["ops", "discard", &op]);
    assert_eq!(json(d, &["ops", "--json"]), Value::Array(vec![]));
}

#[tokio::test]
async fn watch_prints_one_json_line_per_event() {
    use std::io::{BufRead, BufReader};
    let s = server();
    let user = s.new_user("watch");
    let mut other = OtherClient::login(&user).await;
    let raw = message("w", "a@example.test", &date(1), "w0@t", "x");
    other.append("INBOX", &raw, None).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    ok(
        &d,
        &add_args(
            &user,
            &s.imaps_port.to_string(),
            &s.ca_file,
            "TEST_PASSWORD",
        ),
    );
    ok(&d, &["sync"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_brevdue"))
        .arg("--data-dir")
        .arg(&d)
        .args(["watch", "main"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let value: Value = serde_json::from_str(&line).expect("each line is JSON");
            if tx.send(value).is_err() {
                return;
            }
        }
    });
    let wait_for = |name: &str| -> Option<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(v) if v["event"] == name => return Some(v),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
        None
    };
    assert!(wait_for("push").is_some(), "no push event");
    other.store_in_inbox("w0@t", "+FLAGS (\\Flagged)").await;
    let changed = wait_for("messages_changed").expect("no messages_changed line");
    assert_eq!(changed["account"], "main");
    assert_eq!(changed["changed"].as_array().unwrap().len(), 1);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn a_pop3_account_from_the_command_line() {
    let s = server();
    let user = s.new_user("clipop");
    let mut other = OtherClient::login(&user).await;
    for i in 0..3u32 {
        let raw = message(
            &format!("pop {i}"),
            "a@example.test",
            &date(i),
            &format!("cp{i}@t"),
            "x",
        );
        other.append("INBOX", &raw, None).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = s.pop3s_port.to_string();
    ok(
        d,
        &[
            "account",
            "add",
            "home",
            "--email",
            "x@example.test",
            "--protocol",
            "pop3",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--user",
            &user,
            "--password-env",
            "TEST_PASSWORD",
            "--ca-file",
            &s.ca_file,
            "--pop3-delete",
            "delete-after-download",
        ],
    );
    let accounts = json(d, &["account", "list", "--json"]);
    assert_eq!(accounts[0]["protocol"], "pop3");
    assert_eq!(accounts[0]["pop3_delete"], "delete-after-download");
    assert_eq!(accounts[0]["capabilities"]["syncs_read_state"], false);
    ok(d, &["sync"]);
    let list = json(d, &["list", "--folder", "INBOX", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert_eq!(list[0]["subject"], "pop 2");
    assert!(list[0]["uid"].is_null());
    assert!(
        other.message_ids("INBOX").await.is_empty(),
        "delete-after-download left mail"
    );
    let bad = brevdue(
        d,
        &[
            "account",
            "add",
            "x",
            "--email",
            "x@example.test",
            "--protocol",
            "pop3",
            "--host",
            "127.0.0.1",
            "--user",
            "u",
            "--password-env",
            "TEST_PASSWORD",
            "--pop3-delete",
            "sometimes",
        ],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown POP3 delete policy"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_survives_a_kill_between_queueing_and_sending() {
    let s = server();
    let user = s.new_user("clisend");
    let bob = s.new_user("bob");
    let proxy = Proxy::start(s.smtps_port).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let imaps = s.imaps_port.to_string();
    let smtp = proxy.port.to_string();
    let mut add = add_args(&user, &imaps, &s.ca_file, "TEST_PASSWORD");
    add.extend(["--smtp-port", &smtp, "--smtp-security", "tls"]);
    ok(d, &add);
    ok(d, &["sync"]);
    let to = format!("{bob}@example.test");
    let send_args = [
        "send",
        "--account",
        "main",
        "--to",
        &to,
        "--subject",
        "Survives kill -9",
        "--body",
        "Hello",
    ];

    // The SMTP server accepts the connection and then never answers: the process is
    // between queueing and sending when it is killed.
    proxy.stall();
    let mut child = Command::new(env!("CARGO_BIN_EXE_brevdue"))
        .arg("--data-dir")
        .arg(d)
        .args(send_args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while proxy.cuts() == 0 && start.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(proxy.cuts(), 1, "brevdue never tried to send");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let outbox = json(d, &["outbox", "--json"]);
    assert_eq!(outbox.as_array().unwrap().len(), 1, "{outbox}");
    assert_eq!(outbox[0]["state"], "sending");
    assert_eq!(outbox[0]["subject"], "Survives kill -9");
    let message_id = outbox[0]["message_id"].as_str().unwrap().to_owned();

    // Still unreachable: a second process keeps it queued and says so, exit 0.
    proxy.come_up();
    proxy.go_down();
    let out = brevdue(d, &["outbox", "send"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 still queued"));
    assert_eq!(json(d, &["outbox", "--json"])[0]["state"], "queued");

    proxy.come_up();
    ok(d, &["sync"]);
    assert_eq!(json(d, &["outbox", "--json"]), Value::Array(vec![]));
    let mut bob_client = OtherClient::login(&bob).await;
    assert_eq!(
        bob_client.find("INBOX", &message_id).await.len(),
        1,
        "sent exactly once"
    );
    bob_client.logout().await;
    let sent = json(d, &["list", "--folder", "Sent", "--json"]);
    assert_eq!(sent[0]["message_id"], message_id.as_str());

    // A refused recipient: its own exit code, the message kept as a draft.
    let out = brevdue(
        d,
        &[
            "send",
            "--account",
            "main",
            "--to",
            "x@nowhere.example",
            "--subject",
            "No",
            "--body",
            "-",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("kept as draft"), "{stderr}");
    assert_eq!(json(d, &["outbox", "--json"])[0]["state"], "failed");
    let drafts = json(d, &["list", "--folder", "Drafts", "--json"]);
    assert_eq!(drafts[0]["subject"], "No");
}

#[test]
fn the_demo_tells_imap_from_pop3() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_brevdue"))
        .args(["demo", "--json"])
        .env(
            "BREVDUE_MAILSERVER",
            repo_root().join("tests/mailserver.py"),
        )
        .env("BREVDUE_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 3);
    let reply = "Re: Dinner on Friday?";

    // What the phone did is the same in every run, as the phone sees it.
    for run in runs {
        let phone = &run["phone"];
        assert_eq!(phone["sent"], serde_json::json!([reply]), "{run}");
        assert_eq!(phone["answered"], 1, "{run}");
        assert_eq!(phone["folder"], 1, "{run}");
        assert_eq!(phone["inbox_total"], 6, "{run}");
    }

    // IMAP: the PC sees everything the phone did.
    let imap = &runs[0];
    assert_eq!(imap["protocol"], "imap");
    assert_eq!(imap["pc"], imap["phone"]);
    assert_eq!(imap["phone"]["inbox_unread"], 2);

    // POP3, deleting after download: the PC sees no mail at all.
    let delete = &runs[1];
    assert_eq!(delete["pop3_delete"], "delete-after-download");
    assert_eq!(delete["pc"]["inbox_total"], 0);
    assert_eq!(delete["pc"]["sent"], serde_json::json!([]));
    assert_eq!(delete["pc"]["folder"], Value::Null);

    // POP3, leaving mail on the server: everything unread, no reply, no folder.
    let leave = &runs[2];
    assert_eq!(leave["pop3_delete"], "never");
    let pc = &leave["pc"];
    assert_eq!(pc["inbox_total"], 7);
    assert_eq!(pc["inbox_unread"], 7);
    assert_eq!(pc["sent"], serde_json::json!([]));
    assert_eq!(pc["answered"], 0);
    assert_eq!(pc["folder"], Value::Null);
    assert!(leave["conclusion"]
        .as_str()
        .unwrap()
        .contains("nothing the phone did"));
    // The demo wrote nothing into the data directory it was given.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn a_draft_begun_on_one_device_is_sent_from_another() {
    let s = server();
    let user = s.new_user("clidraft");
    let bob = s.new_user("bob");
    let carl = s.new_user("carl");
    let mut other = OtherClient::login(&user).await;
    let original = message(
        "Planer",
        &format!("Bob <{bob}@example.test>"),
        &date(1),
        "plan@t",
        "Fredag?",
    );
    other.append("INBOX", &original, None).await;
    let port = s.imaps_port.to_string();
    let smtp = s.smtps_port.to_string();
    let (phone_dir, pc_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (phone, pc) = (phone_dir.path(), pc_dir.path());
    for d in [phone, pc] {
        let mut add = add_args(&user, &port, &s.ca_file, "TEST_PASSWORD");
        add.extend(["--smtp-port", &smtp, "--smtp-security", "tls"]);
        ok(d, &add);
        ok(d, &["sync"]);
    }
    let id = |d: &Path, folder: &str| -> Vec<String> {
        json(d, &["list", "--folder", folder, "--json"])
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].to_string())
            .collect()
    };
    let original_id = id(phone, "INBOX")[0].clone();
    let bcc = format!("{carl}@example.test");
    let first = ok(
        phone,
        &[
            "draft",
            "save",
            "--account",
            "main",
            "--reply",
            &original_id,
            "--bcc",
            &bcc,
            "--body",
            "Kanskje",
        ],
    );
    let second = ok(
        phone,
        &[
            "draft",
            "save",
            "--account",
            "main",
            "--reply",
            &original_id,
            "--bcc",
            &bcc,
            "--body",
            "Gjerne!",
            "--replaces",
            first.trim(),
        ],
    );
    assert_ne!(first.trim(), second.trim());
    assert_eq!(other.message_ids("Drafts").await.len(), 1);

    ok(pc, &["sync"]);
    let drafts = id(pc, "Drafts");
    assert_eq!(drafts.len(), 1);
    let shown = json(pc, &["draft", "show", &drafts[0], "--json"]);
    assert_eq!(shown["compose"]["mode"], "reply");
    assert_eq!(shown["compose"]["original"].to_string(), id(pc, "INBOX")[0]);
    assert_eq!(shown["bcc"][0]["address"], bcc.as_str());
    assert_eq!(shown["body"].as_str().unwrap().trim(), "Gjerne!");
    // Saved without --to, as a composer starts: the original's sender, "Re:".
    assert_eq!(shown["to"][0]["address"], format!("{bob}@example.test"));
    assert_eq!(shown["subject"], "Re: Planer");
    let sent = ok(pc, &["draft", "send", &drafts[0]]);
    let mut bob_client = OtherClient::login(&bob).await;
    let got = bob_client.find("INBOX", sent.trim()).await;
    assert_eq!(got.len(), 1, "Bob got the reply");
    assert!(String::from_utf8_lossy(&got[0].1).contains("In-Reply-To: <plan@t>"));
    bob_client.logout().await;
    let mut carl_client = OtherClient::login(&carl).await;
    assert_eq!(
        carl_client.find("INBOX", sent.trim()).await.len(),
        1,
        "the Bcc"
    );
    carl_client.logout().await;
    assert!(
        other.message_ids("Drafts").await.is_empty(),
        "no draft left"
    );
    ok(phone, &["sync"]);
    assert!(id(phone, "Drafts").is_empty());
    other.logout().await;
}

#[tokio::test]
async fn account_edit_checks_first_and_folder_role_picks_the_sent_folder() {
    let s = server();
    let user = s.new_user_without("cliedit", &["Sent"]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = s.imaps_port.to_string();
    ok(d, &add_args(&user, &port, &s.ca_file, "TEST_PASSWORD"));
    let before = json(d, &["account", "list", "--json"]);

    let refused = brevdue(
        d,
        &[
            "account",
            "edit",
            "main",
            "--password-env",
            "WRONG_PASSWORD",
        ],
    );
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(said.trim().lines().count(), 1, "one line: {said}");
    assert_eq!(
        json(d, &["account", "list", "--json"]),
        before,
        "nothing changed"
    );

    ok(
        d,
        &[
            "account",
            "edit",
            "main",
            "--display-name",
            "Kari Nordmann",
            "--smtp-port",
            &s.smtps_port.to_string(),
        ],
    );
    let after = json(d, &["account", "list", "--json"]);
    assert_eq!(after[0]["identities"][0]["name"], "Kari Nordmann");
    assert_eq!(after[0]["smtp"]["port"], s.smtps_port);

    // No Sent folder on this server: the user names one.
    let mut other = OtherClient::login(&user).await;
    other.create("Kopier").await;
    other.logout().await;
    ok(d, &["sync"]);
    ok(d, &["folder", "role", "Kopier", "sent"]);
    let folders = json(d, &["folders", "--json"]);
    let kopier = folders
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Kopier")
        .expect("listed");
    assert_eq!(kopier["role"], "sent", "{folders}");
    let bad = brevdue(d, &["folder", "role", "Kopier", "letters"]);
    assert!(!bad.status.success());
}

/// The system's roots are trusted (on Linux through the certificate store OpenSSL would
/// use; `SSL_CERT_FILE` points it at the harness's CA here): no CA file is needed for a
/// server whose CA the system trusts, and one the system does not trust is refused.
#[tokio::test]
async fn the_systems_roots_are_trusted_without_a_ca_file() {
    let s = server();
    let user = s.new_user("roots");
    let port = s.imaps_port.to_string();
    let mut args = add_args(&user, &port, "", "TEST_PASSWORD");
    args.truncate(args.len() - 2); // no --ca-file
    let run = |d: &Path, cert_file: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_brevdue"));
        command
            .arg("--data-dir")
            .arg(d)
            .args(&args)
            .env("TEST_PASSWORD", PASSWORD);
        match cert_file {
            Some(file) => command.env("SSL_CERT_FILE", file),
            // An empty store: no system root knows the harness's CA.
            None => command.env("SSL_CERT_FILE", "/dev/null"),
        };
        command.output().expect("run brevdue")
    };
    let dir = tempfile::tempdir().unwrap();
    let refused = run(dir.path(), None);
    assert_eq!(refused.status.code(), Some(5), "a TLS refusal exits with 5");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("not signed by a trusted authority"),
        "{stderr}"
    );
    let trusted = run(dir.path(), Some(&s.ca_file));
    assert!(
        trusted.status.success(),
        "{}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    let accounts = json(dir.path(), &["account", "list", "--json"]);
    assert_eq!(accounts[0]["name"], "main");
}
