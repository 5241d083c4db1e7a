//! Memory, measured per process: the `brevdue` CLI syncs and opens messages of 200 MB
//! from a scripted IMAP server that makes them as it sends them (nothing of them is held
//! in the test), and meets endless lines and huge literals. Each command's peak resident
//! size is read from `/proc/<pid>/status` (`VmHWM`, polled every 5 ms until it exits).
//! Bound: 150 MB per command, whatever the sizes. Figures are printed (`--nocapture`).

#[path = "../../core/tests/common/mod.rs"]
mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::faults::{Chunks, ImapRequest, Reply};
use common::mailbox::{BigMessage, Content, ScriptedMailbox};
use common::*;
use serde_json::Value;

const MB: u64 = 1_000_000;
const BIG: u64 = 200 * MB;
const RSS_BOUND_KB: u64 = 150_000;

/// One test at a time: each makes hundreds of megabytes, on a machine of two cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One finished `brevdue` command.
struct Run {
    args: Vec<String>,
    ok: bool,
    stdout: String,
    stderr: String,
    peak_kb: u64,
    elapsed: Duration,
}

impl Run {
    fn report(&self) -> String {
        format!(
            "brevdue {}: exit {}, peak RSS {} MB, {:.1} s, stderr {:?}",
            self.args.join(" "),
            if self.ok { "ok" } else { "failed" },
            self.peak_kb / 1000,
            self.elapsed.as_secs_f64(),
            self.stderr.trim()
        )
    }
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn drain(mut from: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = vec![0u8; 64 << 10];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            if all.len() < 16 << 20 {
                all.extend_from_slice(&buf[..n]);
            }
        }
        String::from_utf8_lossy(&all).into_owned()
    })
}

/// Runs `brevdue --data-dir DIR ARGS` to its end, watching its peak memory.
async fn brevdue(data_dir: &Path, args: &[&str]) -> Run {
    let data_dir = data_dir.to_owned();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_brevdue"))
            .arg("--data-dir")
            .arg(&data_dir)
            .args(&args)
            .env("TEST_PASSWORD", PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run brevdue");
        let out = drain(child.stdout.take().unwrap());
        let err = drain(child.stderr.take().unwrap());
        let mut peak_kb = 0;
        let status = loop {
            if let Some(kb) = vm_hwm_kb(child.id()) {
                peak_kb = peak_kb.max(kb);
            }
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(300) {
                let _ = child.kill();
                panic!("brevdue {args:?} ran for 5 minutes");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let run = Run {
            args,
            ok: status.success(),
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
            peak_kb,
            elapsed: started.elapsed(),
        };
        println!("{}", run.report());
        run
    })
    .await
    .unwrap()
}

async fn ok(data_dir: &Path, args: &[&str]) -> Run {
    let run = brevdue(data_dir, args).await;
    assert!(run.ok, "{}", run.report());
    run
}

async fn add_account(data_dir: &Path, port: u16) {
    let port = port.to_string();
    ok(
        data_dir,
        &[
            "account",
            "add",
            "main",
            "--email",
            "me@example.test",
            "--protocol",
            "imap",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--security",
            "plain",
            "--user",
            "me",
            "--password-env",
            "TEST_PASSWORD",
        ],
    )
    .await;
}

async fn local_id(data_dir: &Path, message_id: &str) -> String {
    let list: Value =
        serde_json::from_str(&ok(data_dir, &["list", "--json"]).await.stdout).expect("list --json");
    list.as_array()
        .unwrap()
        .iter()
        .find(|m| m["message_id"] == message_id)
        .unwrap_or_else(|| panic!("{message_id} not listed: {list}"))["id"]
        .to_string()
}

fn small(message_id: &str) -> Content {
    Content::bytes(message(
        "small",
        "Anna <anna@example.test>",
        &date(0),
        message_id,
        "a small one\r\n",
    ))
}

fn files(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if let Ok(meta) = entry.metadata() {
            out.push((path, meta.len()));
        }
    }
    out
}

/// Whether the data directory holds `big` byte for byte (in a file of its size).
fn stored_whole(data_dir: &Path, big: &BigMessage) -> Result<PathBuf, String> {
    let all = files(data_dir);
    let candidates: Vec<&PathBuf> = all
        .iter()
        .filter(|(_, len)| *len == big.len())
        .map(|(p, _)| p)
        .collect();
    let mut why = Vec::new();
    for path in candidates {
        match big.compare_with_file(path) {
            Ok(()) => return Ok(path.clone()),
            Err(e) => why.push(e),
        }
    }
    let mut largest: Vec<_> = all.iter().map(|(p, l)| (l, p)).collect();
    largest.sort();
    largest.reverse();
    largest.truncate(3);
    Err(format!(
        "no file of {} bytes with its content ({why:?}); largest files: {largest:?}",
        big.len()
    ))
}

/// A folder of `count` messages of 200 MB (and one small one), synced with prefetch
/// `all`, then one of them opened with `show`.
async fn big_messages_sync_and_open(count: u32) {
    let mailbox = ScriptedMailbox::start("IMAP4rev1").await;
    mailbox.add("INBOX", small("small@t"), &[]);
    let bigs: Vec<(Arc<BigMessage>, u32)> = (0..count)
        .map(|i| {
            let big = Arc::new(BigMessage::of_size(&format!("big{i}@t"), "big", BIG));
            let uid = mailbox.add("INBOX", Content::Big(big.clone()), &[]);
            (big, uid)
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    add_account(d, mailbox.port()).await;
    // "all" downloads every body up to the automatic-download limit (10 MB unless
    // changed), which the user lifts here.
    ok(d, &["config", "body-prefetch", "all"]).await;
    ok(d, &["config", "download-limit", "none"]).await;
    let sync = brevdue(d, &["sync"]).await;
    let id = local_id(d, "big0@t").await;
    let show = brevdue(d, &["show", &id, "--json"]).await;
    let shown: Option<Value> = serde_json::from_str(&show.stdout).ok();

    let mut failures = Vec::new();
    for run in [&sync, &show] {
        if run.peak_kb >= RSS_BOUND_KB {
            failures.push(format!(
                "peak RSS {} MB >= 150 MB: {}",
                run.peak_kb / 1000,
                run.report()
            ));
        }
    }
    if !sync.ok {
        failures.push(format!("the sync failed: {}", sync.stderr.trim()));
    }
    for (i, (big, uid)) in bigs.iter().enumerate() {
        let sent = mailbox.body_bytes_sent("INBOX", *uid);
        match stored_whole(d, big) {
            Ok(path) => println!(
                "big{i}@t ({} bytes; the server sent {sent} body bytes): stored whole in {path:?}",
                big.len()
            ),
            Err(why) => failures.push(format!(
                "big{i}@t (the server sent {sent} of its {} bytes): {why}",
                big.len()
            )),
        }
    }
    match &shown {
        Some(m) => {
            let sizes: Vec<&Value> = m["attachments"]
                .as_array()
                .map(|a| a.iter().map(|x| &x["size"]).collect())
                .unwrap_or_default();
            let text = m["text"].as_str().map(str::trim);
            println!("show: text {text:?}, attachment sizes {sizes:?}");
            let want = Value::from(bigs[0].0.attachment_size());
            if text != Some("A large attachment follows.") || sizes != [&want] {
                failures.push(format!(
                    "show does not give the body: text {text:?}, attachment sizes {sizes:?} (want [{want}])"
                ));
            }
        }
        None => failures.push(format!("show printed no JSON: {}", show.report())),
    }
    assert!(
        failures.is_empty(),
        "{count} x 200 MB:\n{}",
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_200_mb_message_syncs_and_opens_in_under_150_mb() {
    let _one = ONE_AT_A_TIME.lock().await;
    big_messages_sync_and_open(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_200_mb_messages_sync_and_open_in_under_150_mb() {
    let _one = ONE_AT_A_TIME.lock().await;
    big_messages_sync_and_open(3).await;
}

/// With the default prefetch, a message over the automatic-download limit is left on
/// the server during sync (the small one beside it is downloaded), and downloaded when
/// it is opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_prefetch_leaves_a_200_mb_message_until_it_is_opened() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mailbox = ScriptedMailbox::start("IMAP4rev1").await;
    let small_uid = mailbox.add("INBOX", small("small@t"), &[]);
    let big = Arc::new(BigMessage::of_size("big@t", "big", BIG));
    let big_uid = mailbox.add("INBOX", Content::Big(big.clone()), &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    add_account(d, mailbox.port()).await;
    let sync = brevdue(d, &["sync"]).await;
    let during_sync = mailbox.body_bytes_sent("INBOX", big_uid);
    let small_sent = mailbox.body_bytes_sent("INBOX", small_uid);
    println!(
        "default prefetch: the sync fetched {during_sync} body bytes of the big message, {small_sent} of the small one"
    );
    let id = local_id(d, "big@t").await;
    let show = brevdue(d, &["show", &id, "--json"]).await;
    let after = mailbox.body_bytes_sent("INBOX", big_uid);
    println!("opened: the server sent {after} body bytes of the big message in all");
    let mut failures = Vec::new();
    if !sync.ok {
        failures.push(format!("the sync failed: {}", sync.report()));
    }
    if small_sent == 0 {
        failures.push("the sync prefetched no body at all (not even the small one)".to_owned());
    }
    if during_sync >= 1 << 20 {
        failures.push(format!(
            "the sync downloaded {during_sync} bytes of a 200 MB message on its own"
        ));
    }
    if !show.ok {
        failures.push(format!("show failed: {}", show.report()));
    }
    if let Err(why) = stored_whole(d, &big) {
        failures.push(format!("after show: {why}"));
    }
    for run in [&sync, &show] {
        if run.peak_kb >= RSS_BOUND_KB {
            failures.push(format!("peak RSS >= 150 MB: {}", run.report()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn counted(chunks: Chunks, count: Arc<AtomicU64>) -> Chunks {
    Box::new(chunks.inspect(move |c| {
        count.fetch_add(c.len() as u64, Ordering::SeqCst);
    }))
}

fn endless(first: Vec<u8>, fill: u8, total: u64) -> Chunks {
    const CHUNK: u64 = 1 << 20;
    let rest = total.saturating_sub(first.len() as u64);
    Box::new(std::iter::once(first).chain(
        (0..rest.div_ceil(CHUNK)).map(move |i| vec![fill; CHUNK.min(rest - i * CHUNK) as usize]),
    ))
}

fn one_short_line(run: &Run) -> bool {
    let text = run.stderr.trim();
    !text.is_empty() && !text.contains('\n') && text.len() < 1000
}

/// A sync whose listing is answered with a 100 MB line without CRLF (then silence):
/// it fails with one short line, soon, in bounded memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_line_costs_a_sync_little_memory() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mailbox = ScriptedMailbox::start("IMAP4rev1").await;
    mailbox.add("INBOX", small("small@t"), &[]);
    let sent = Arc::new(AtomicU64::new(0));
    let count = sent.clone();
    let line = move |_: &ImapRequest| {
        Reply::StreamThenStall(counted(
            endless(b"* SEARCH 1".to_vec(), b'1', 100 * MB),
            count.clone(),
        ))
    };
    mailbox.imap.on("UID SEARCH", line.clone());
    mailbox.imap.on("SEARCH", line);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    add_account(d, mailbox.port()).await;
    let sync = brevdue(d, &["sync"]).await;
    println!(
        "100 MB line: the server handed over {} MB",
        sent.load(Ordering::SeqCst) / MB
    );
    assert!(
        mailbox
            .imap
            .requests()
            .iter()
            .any(|r| r.verb().ends_with("SEARCH")),
        "the premise: no SEARCH was sent"
    );
    assert!(!sync.ok, "a sync over an endless line succeeded");
    assert!(
        one_short_line(&sync),
        "not one short line: {:?}",
        sync.stderr
    );
    assert!(sync.elapsed < Duration::from_secs(30), "{:?}", sync.elapsed);
    assert!(sync.peak_kb < RSS_BOUND_KB, "{} MB", sync.peak_kb / 1000);
}

/// Opening a 10 KB message answered with `{2000000000}` and bytes as fast as they go:
/// one short line, soon, in bounded memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2_gb_literal_costs_show_little_memory() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mailbox = ScriptedMailbox::start("IMAP4rev1").await;
    let uid = mailbox.add(
        "INBOX",
        Content::Big(Arc::new(BigMessage::new("lit@t", "literal", 10_000))),
        &[],
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    add_account(d, mailbox.port()).await;
    ok(d, &["config", "body-prefetch", "0"]).await;
    ok(d, &["sync"]).await;
    let serve = mailbox.answers();
    let sent = Arc::new(AtomicU64::new(0));
    let count = sent.clone();
    mailbox.imap.on("UID FETCH", move |req| {
        if !req.command.to_ascii_uppercase().contains("BODY.PEEK[]") {
            return serve(req);
        }
        let command = req.command.to_ascii_uppercase();
        let label = match command.find("[]<") {
            Some(at) => {
                let offset: String = command[at + 3..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                format!("BODY[]<{offset}>")
            }
            None => "BODY[]".to_owned(),
        };
        let head = format!("* 1 FETCH (UID {uid} {label} {{2000000000}}\r\n");
        Reply::StreamThenStall(counted(
            endless(head.into_bytes(), b'A', 2_000_000_000),
            count.clone(),
        ))
    });
    let id = local_id(d, "lit@t").await;
    let show = brevdue(d, &["show", &id, "--json"]).await;
    println!(
        "2 GB literal: the server handed over {} MB",
        sent.load(Ordering::SeqCst) / MB
    );
    assert!(
        sent.load(Ordering::SeqCst) > 0,
        "the premise: the body was never asked for"
    );
    assert!(
        one_short_line(&show),
        "not one short line: {:?}",
        show.stderr
    );
    assert!(show.elapsed < Duration::from_secs(10), "{:?}", show.elapsed);
    assert!(show.peak_kb < RSS_BOUND_KB, "{} MB", show.peak_kb / 1000);
}
