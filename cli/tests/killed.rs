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

/// An IMAP account on the test Dovecot that sends through `smtp`, synced once (so that
/// it knows its Sent folder).
fn smtp_account(d: &Path, user: &str, smtp: &ScriptedSmtp) {
    let s = server();
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
            user,
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
}

/// Puts a message into the outbox without sending it.
fn queue(d: &Path, subject: &str) {
    ok(
        d,
        &[
            "send",
            "--account",
            "main",
            "--to",
            "bob@example.test",
            "--subject",
            subject,
            "--body",
            "Only once, please",
            "--no-push",
        ],
    );
}

/// How many of the server's messages have this subject.
fn copies(smtp: &ScriptedSmtp, subject: &str) -> usize {
    let line = format!("Subject: {subject}\r\n");
    smtp.received()
        .iter()
        .filter(|m| String::from_utf8_lossy(m).contains(&line))
        .count()
}

fn sent_here(d: &Path, subject: &str) -> usize {
    let sent = json(d, &["list", "--folder", "Sent", "--json"]);
    sent.as_array()
        .unwrap()
        .iter()
        .filter(|m| m["subject"] == subject)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_killed_while_the_final_250_is_withheld_is_sent_again_once() {
    // The server has the whole message but has not said 250 when the process dies. It
    // has not taken responsibility for the message (RFC 5321, 4.1.1.4 and 6.1), and no
    // client can know whether it kept it: not sending again could lose it. So it is sent
    // once more, and filed in Sent once.
    let smtp = ScriptedSmtp::start(SmtpStall::Never).await;
    let user = server().new_user("twice");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    smtp_account(d, &user, &smtp);
    queue(d, "Withheld");

    smtp.stall_at(SmtpStall::BeforeFinalOk);
    let mut child = spawn(d, &["outbox", "send"]);
    assert!(
        wait_for(30, || smtp.received().len() == 1 && smtp.stalls() == 1).await,
        "the message never reached the server"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    smtp.stall_at(SmtpStall::Never);
    let send = brevdue(d, &["outbox", "send"]);
    let outbox = json(d, &["outbox", "--json"]);
    println!(
        "after the kill: outbox send {:?} ({}); the server received {} copies; outbox {outbox}; Sent here: {}",
        send.status.code(),
        String::from_utf8_lossy(&send.stderr).trim(),
        copies(&smtp, "Withheld"),
        sent_here(d, "Withheld"),
    );
    assert!(send.status.success());
    assert_eq!(copies(&smtp, "Withheld"), 2, "sent again exactly once");
    assert_eq!(sent_here(d, "Withheld"), 1);
    assert_eq!(outbox, Value::Array(vec![]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_killed_after_the_final_250_is_not_sent_twice() {
    // The 250 arrived; the process dies while it says QUIT (the server never answers).
    let smtp = ScriptedSmtp::start(SmtpStall::Never).await;
    let user = server().new_user("once");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    smtp_account(d, &user, &smtp);
    queue(d, "Confirmed");

    smtp.stall_at(SmtpStall::AtQuit);
    let mut child = spawn(d, &["outbox", "send"]);
    assert!(
        wait_for(30, || smtp.stalls() == 1).await,
        "the process never said QUIT"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(copies(&smtp, "Confirmed"), 1, "premise");

    smtp.stall_at(SmtpStall::Never);
    let connections = smtp.connections();
    let send = brevdue(d, &["outbox", "send"]);
    let outbox = json(d, &["outbox", "--json"]);
    println!(
        "after the kill: outbox send {:?} ({}); the server received {} copies; outbox {outbox}; Sent here: {}",
        send.status.code(),
        String::from_utf8_lossy(&send.stderr).trim(),
        copies(&smtp, "Confirmed"),
        sent_here(d, "Confirmed"),
    );
    assert!(send.status.success());
    assert_eq!(copies(&smtp, "Confirmed"), 1, "the message was sent again");
    assert_eq!(smtp.connections(), connections, "nothing was left to send");
    assert_eq!(sent_here(d, "Confirmed"), 1);
    assert_eq!(outbox, Value::Array(vec![]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_server_took_before_the_process_died_is_filed_not_sent_again() {
    // What a process leaves when it dies right after recording the 250, before the Sent
    // copy: the row in state 'sent'. The next pass files it, with no word to the server.
    let smtp = ScriptedSmtp::start(SmtpStall::Never).await;
    let user = server().new_user("filed");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    smtp_account(d, &user, &smtp);
    queue(d, "Filed");
    let db = rusqlite::Connection::open(d.join("brevdue.sqlite3")).unwrap();
    assert_eq!(
        db.execute("UPDATE outbox SET state = 'sent', attempts = 1", [])
            .unwrap(),
        1
    );
    drop(db);
    let listed = json(d, &["outbox", "--json"]);
    assert_eq!(listed[0]["state"], "sending", "{listed}");

    let connections = smtp.connections();
    let send = brevdue(d, &["outbox", "send"]);
    assert!(
        send.status.success(),
        "{}",
        String::from_utf8_lossy(&send.stderr)
    );
    assert_eq!(
        smtp.connections(),
        connections,
        "the server was asked again"
    );
    assert_eq!(json(d, &["outbox", "--json"]), Value::Array(vec![]));
    assert_eq!(sent_here(d, "Filed"), 1);
    // The copy went to the server's Sent folder too, once.
    ok(d, &["sync"]);
    assert_eq!(sent_here(d, "Filed"), 1);
}

/// A cheap, seedless spread of kill times.
fn jitter(i: u64) -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(i);
    (h.finish() % 1000) as f64 / 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_at_any_point_of_a_send_lose_nothing_and_duplicate_only_before_the_250() {
    // A server that holds back its 250 and its answer to QUIT a while. Processes sending
    // one message each are killed at points spread over a whole send; each message is
    // then sent to the end. What may be duplicated: a message the server had while its
    // 250 had not yet reached us (plus `SLACK` to read it and record it).
    const KILLS: u64 = 40;
    const HOLD_250: Duration = Duration::from_millis(300);
    const HOLD_QUIT: Duration = Duration::from_millis(300);
    const SLACK: Duration = Duration::from_millis(250);
    let smtp = ScriptedSmtp::start(SmtpStall::Never).await;
    smtp.delay_replies(HOLD_250, HOLD_QUIT);
    let user = server().new_user("kills");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    smtp_account(d, &user, &smtp);

    // How long one whole send takes, from the start of the process to its end.
    queue(d, "calibration");
    let started = Instant::now();
    ok(d, &["outbox", "send"]);
    let whole = started.elapsed();

    // Per phase of the send at the kill: kills, and how many of them were duplicated.
    let phases = [
        "before the server had the message",
        "while the server had it and its 250 was not out",
        "within the slack after the 250",
        "later",
    ];
    let mut kills = [0u32; 4];
    let mut duplicated = [0u32; 4];
    let mut deliveries = 0;
    let mut wrong = Vec::new();
    for i in 0..KILLS {
        let subject = format!("kill {i}");
        queue(d, &subject);
        let offset = whole.mul_f64(1.2 * (i as f64 + jitter(i)) / KILLS as f64);
        let mut child = spawn(d, &["outbox", "send"]);
        let spawned = Instant::now();
        tokio::time::sleep(offset.saturating_sub(spawned.elapsed())).await;
        let killed_at = Instant::now();
        child.kill().unwrap(); // SIGKILL (a no-op if it already ended)
        child.wait().unwrap();
        let killed_sessions = smtp.connections();
        ok(d, &["outbox", "send"]);
        let n = copies(&smtp, &subject);
        deliveries += n;
        // What the killed process got to: its message's receipt at the server, if any.
        let line = format!("Subject: {subject}\r\n");
        let receipt = smtp
            .received()
            .iter()
            .zip(smtp.receipts())
            .find(|(m, r)| {
                r.session <= killed_sessions && String::from_utf8_lossy(m).contains(&line)
            })
            .map(|(_, r)| r);
        let phase = match receipt.map(|r| r.ok_at) {
            None => 0,
            Some(None) => 1,
            Some(Some(ok)) if killed_at < ok => 1,
            Some(Some(ok)) if killed_at < ok + SLACK => 2,
            Some(Some(_)) => 3,
        };
        kills[phase] += 1;
        if n > 1 {
            duplicated[phase] += 1;
        }
        // Sent again only if the server had it while its 250 may not have reached us.
        let allowed = match phase {
            1 | 2 => 1..=2,
            _ => 1..=1,
        };
        if !allowed.contains(&n) || sent_here(d, &subject) != 1 {
            wrong.push(format!(
                "kill {i} {:?} after the start, {}: {n} copies at the server, {} in Sent \
                 (the server had the data {:?} after the start, sent its 250 {:?} after it)",
                killed_at - spawned,
                phases[phase],
                sent_here(d, &subject),
                receipt.map(|r| r.data_at - spawned),
                receipt.and_then(|r| r.ok_at).map(|ok| ok - spawned),
            ));
        }
    }
    let outbox = json(d, &["outbox", "--json"]);
    println!(
        "{KILLS} kills over a send of {:.2} s (250 held {} ms, QUIT's answer {} ms, slack {} ms); \
         {deliveries} deliveries of {KILLS} messages",
        whole.as_secs_f64(),
        HOLD_250.as_millis(),
        HOLD_QUIT.as_millis(),
        SLACK.as_millis(),
    );
    for (phase, name) in phases.iter().enumerate() {
        println!(
            "  {name}: {} kills, {} duplicated",
            kills[phase], duplicated[phase]
        );
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(outbox, Value::Array(vec![]));
}
