//! Processes killed (SIGKILL) in the middle of talking to a server, and what the next
//! process makes of what they left behind.

#[path = "../../core/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::faults::{Fault, Rule, ScriptedSmtp, SmtpStall};
use common::*;
use serde_json::Value;

fn brevdue(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brevdue"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("TEST_PASSWORD", PASSWORD)
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

fn spawn(data_dir: &Path, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_brevdue"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("TEST_PASSWORD", PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_for(secs: u64, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_while_replaying_leaves_the_queue_to_the_next_at_once() {
    let s = server();
    let user = s.new_user("lease");
    let mut other = OtherClient::login(&user).await;
    for i in 0..3u32 {
        let raw = message("l", "a@example.test", &date(i), &format!("l{i}@t"), "x");
        other.append("INBOX", &raw, None).await;
    }
    let proxy = Proxy::start(s.imap_port).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = proxy.port.to_string();
    ok(
        d,
        &[
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
            &port,
            "--security",
            "plain",
            "--user",
            &user,
            "--password-env",
            "TEST_PASSWORD",
        ],
    );
    ok(d, &["sync"]);
    let list = json(d, &["list", "--json"]);
    let id = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["message_id"] == "l0@t")
        .unwrap()["id"]
        .to_string();

    // The replay goes silent where it checks the message at its UID
    // (`UID FETCH n (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])`), before the STORE: the
    // server has not applied it when the process dies.
    let hold =
        proxy.add(Rule::on("(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])").fault(Fault::Silence));
    let mut child = spawn(d, &["mark", &id, "--read"]);
    assert!(
        wait_for(30, || proxy.fired(hold) == 1).await,
        "the replay never reached the server"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let ops = json(d, &["ops", "--json"]);
    assert_eq!(ops.as_array().unwrap().len(), 1, "{ops}");
    assert!(
        !other.server_view().await["l0@t"].1,
        "premise: not applied yet"
    );

    // A second process replays the queue: at once, not after the dead one's lease.
    let killed = Instant::now();
    let mut last_stderr = String::new();
    let mut runs = 0;
    while killed.elapsed() < Duration::from_secs(20) {
        runs += 1;
        let out = brevdue(d, &["sync"]);
        last_stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        if json(d, &["ops", "--json"]) == Value::Array(vec![]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let elapsed = killed.elapsed().as_secs_f64();
    let ops = json(d, &["ops", "--json"]);
    println!(
        "after the kill: {runs} syncs in {elapsed:.1} s; ops {ops}; last stderr: {last_stderr:?}"
    );
    assert_eq!(
        ops,
        Value::Array(vec![]),
        "the change was still queued 20 s after its holder died"
    );
    assert!(
        other.server_view().await["l0@t"].1,
        "not read on the server"
    );
    other.logout().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_killed_while_the_final_250_is_on_its_way_is_not_sent_twice() {
    let s = server();
    let user = s.new_user("twice");
    let smtp = ScriptedSmtp::start(SmtpStall::Never).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (imaps, smtp_port) = (s.imaps_port.to_string(), smtp.port.to_string());
    ok(
        d,
        &[
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
            &imaps,
            "--security",
            "tls",
            "--user",
            &user,
            "--password-env",
            "TEST_PASSWORD",
            "--ca-file",
            &s.ca_file,
            "--smtp-port",
            &smtp_port,
            "--smtp-security",
            "plain",
        ],
    );
    ok(d, &["sync"]);

    // The server has the whole message; its 250 never comes; the process dies.
    smtp.stall_at(SmtpStall::BeforeFinalOk);
    let mut child = spawn(
        d,
        &[
            "send",
            "--account",
            "main",
            "--to",
            "bob@example.test",
            "--subject",
            "Once",
            "--body",
            "Only once, please",
        ],
    );
    assert!(
        wait_for(30, || smtp.received().len() == 1 && smtp.stalls() == 1).await,
        "the message never reached the server"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    smtp.stall_at(SmtpStall::Never);
    let send = brevdue(d, &["outbox", "send"]);
    let sync = brevdue(d, &["sync"]);
    let copies = smtp.received().len();
    let outbox = json(d, &["outbox", "--json"]);
    let sent = json(d, &["list", "--folder", "Sent", "--json"]);
    println!(
        "after the kill: outbox send {:?} ({}), sync {:?}; the server received {copies} copies; outbox {outbox}; Sent here: {}",
        send.status.code(),
        String::from_utf8_lossy(&send.stderr).trim(),
        sync.status.code(),
        sent.as_array().map_or(0, Vec::len)
    );
    assert_eq!(copies, 1, "the message was sent again");
    // Not sent twice, and not lost from sight either.
    assert!(
        !outbox.as_array().unwrap().is_empty() || !sent.as_array().unwrap().is_empty(),
        "the message is neither in the outbox nor in Sent"
    );
}
