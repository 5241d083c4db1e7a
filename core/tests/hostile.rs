//! Whatever an IMAP server sends: listings of millions of UIDs, endless lines, huge or
//! garbled literals, non-standard EXPUNGE answers, a STARTTLS that is missing, refused
//! or faked. Each test asserts a clear one-line error or a safe success, in bounded time,
//! having read a bounded amount; the figures it prints (`--nocapture`) are what the
//! engine did. Memory itself is measured per process in `cli/tests/hostile_rss.rs`.
//!
//! The servers are scripted (`common::mailbox::ScriptedMailbox` on `ScriptedImap`), on
//! 127.0.0.1; the STARTTLS test also uses the private Dovecot. Bounds stay below the
//! engine's 60 s silence limit, so a test that passes shows the engine itself saw the
//! problem, not that it waited for the server to go quiet.

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use brevdue_core::{ChangeState, Engine, EngineOptions, ErrorKind, Security, ServerConfig};
use common::faults::{Chunks, ImapRequest, Reply, ScriptedImap, ScriptedSmtp, SmtpStall};
use common::mailbox::{BigMessage, Content, ExpungeAnswer, ScriptedMailbox};
use common::*;

/// The tests here run one at a time: two of them time the engine, and on two cores a
/// neighbour making a million-UID listing would be timed too.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn bounded<T>(secs: u64, what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not end within {secs} s"))
}

/// An engine with an account on the scripted server (clear text, which it asks for).
async fn engine_on(port: u16) -> TestEngine {
    let t = engine(&[]);
    bounded(
        30,
        "add_account",
        t.engine
            .add_account(scripted_config(port, Security::Plain), PASSWORD.to_owned()),
    )
    .await
    .expect("add account");
    t
}

fn small(subject: &str, message_id: &str, n: u32) -> Content {
    Content::bytes(message(
        subject,
        "Anna <anna@example.test>",
        &date(n),
        message_id,
        &format!("body of {subject}\r\n"),
    ))
}

fn id_of(engine: &Engine, message_id: &str) -> i64 {
    engine
        .messages(None, None, 100_000, 0)
        .unwrap()
        .into_iter()
        .find(|m| m.message_id == message_id)
        .unwrap_or_else(|| panic!("{message_id} is not here"))
        .id
}

/// A one-line error of reasonable length, printed for the report.
fn check_error(what: &str, err: &brevdue_core::Error) {
    println!(
        "{what}: kind {:?}, {} chars: {}",
        err.kind,
        err.message.len(),
        err.message
    );
    assert!(!err.message.is_empty(), "{what}: an empty error");
    assert!(
        !err.message.contains(['\n', '\r']),
        "{what}: the error is not one line"
    );
    assert!(
        err.message.len() < 1000,
        "{what}: an error of {} characters",
        err.message.len()
    );
}

/// Counts what a streamed answer handed to the socket (at most one chunk more than the
/// client could have read, plus the kernel's buffers).
fn counted(chunks: Chunks, count: Arc<AtomicU64>) -> Chunks {
    Box::new(chunks.inspect(move |c| {
        count.fetch_add(c.len() as u64, Ordering::SeqCst);
    }))
}

/// `total` bytes of `fill` made as they are written, in 1 MiB chunks.
fn endless(first: Vec<u8>, fill: u8, total: u64) -> Chunks {
    const CHUNK: u64 = 1 << 20;
    let rest = total.saturating_sub(first.len() as u64);
    Box::new(std::iter::once(first).chain(
        (0..rest.div_ceil(CHUNK)).map(move |i| vec![fill; CHUNK.min(rest - i * CHUNK) as usize]),
    ))
}

fn is_body_fetch(req: &ImapRequest) -> bool {
    let c = req.command.to_ascii_uppercase();
    req.verb().ends_with("FETCH")
        && (c.contains("BODY.PEEK[]")
            || c.contains("BODY[]")
            || c.contains("BINARY.PEEK[]")
            || c.contains("BODY.PEEK[TEXT]")
            || c.contains(" RFC822)")
            || c.contains(" RFC822 "))
}

fn find_file_of_len(dir: &std::path::Path, len: u64) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_file_of_len(&path, len) {
                return Some(found);
            }
        } else if entry.metadata().is_ok_and(|m| m.len() == len) {
            return Some(path);
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// The toolkit
// ---------------------------------------------------------------------------------------

/// The scripted mailbox answers as a server does (the premise of every test below): an
/// ordinary sync of it works, and its big messages come whole and in parts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scripted_mailbox_serves_a_sync_and_parts_of_big_messages() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mailbox = ScriptedMailbox::start("IMAP4rev1 ESEARCH").await;
    mailbox.create("Archive");
    for i in 0..3 {
        mailbox.add("INBOX", small(&format!("s{i}"), &format!("s{i}@t"), i), &[]);
    }
    let big = Arc::new(BigMessage::new("big@t", "big", 3 << 20));
    let big_uid = mailbox.add("Archive", Content::Big(big.clone()), &["\\Seen"]);
    let t = engine_on(mailbox.port()).await;
    let reports = bounded(60, "sync", t.engine.sync(None)).await.unwrap();
    println!("{reports:?}");
    let opened = t
        .engine
        .open_message(id_of(&t.engine, "s1@t"))
        .await
        .unwrap();
    assert_eq!(opened.text.as_deref().map(str::trim), Some("body of s1"));
    let opened = t
        .engine
        .open_message(id_of(&t.engine, "big@t"))
        .await
        .unwrap();
    assert_eq!(opened.attachments.len(), 1, "{:?}", opened.attachments);
    assert_eq!(opened.attachments[0].size, big.attachment_size());
    assert!(mailbox.body_bytes_sent("Archive", big_uid) >= big.len());
    // The stored copy is the message, byte for byte, and the comparison sees one change.
    let stored = find_file_of_len(t.dir.path(), big.len()).expect("the stored message");
    big.compare_with_file(&stored).unwrap();
    let mut changed = std::fs::read(&stored).unwrap();
    changed[2_000_000] ^= 1;
    let copy = t.dir.path().join("changed.eml");
    std::fs::write(&copy, changed).unwrap();
    let differs = big.compare_with_file(&copy).unwrap_err();
    assert!(differs.contains("differs at byte 2000000"), "{differs}");

    // A client with no ideas of its own: parts, ESEARCH and EXPUNGED as scripted.
    mailbox.expunge_answer(ExpungeAnswer::Expunged);
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", mailbox.port()))
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap();
    let mut session = client.login("me", "pw").await.map_err(|e| e.0).unwrap();
    session.select("Archive").await.unwrap();
    use futures::TryStreamExt;
    let part: Vec<_> = session
        .uid_fetch(big_uid.to_string(), "(UID BODY.PEEK[]<1000000.70000>)")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut want = vec![0u8; 70000];
    big.read_at(1_000_000, &mut want);
    assert_eq!(part[0].body(), Some(&want[..]));
    session.select("INBOX").await.unwrap();
    let uids = session.uid_search("ALL").await.unwrap();
    assert_eq!(uids.len(), 3);
    let mut lines = Vec::new();
    session
        .run_command("UID SEARCH RETURN (ALL COUNT) ALL")
        .await
        .unwrap();
    while let Some(r) = session.read_response().await.unwrap() {
        let text = String::from_utf8_lossy(r.borrow_owner()).into_owned();
        let done = !text.starts_with('*');
        lines.push(text);
        if done {
            break;
        }
    }
    assert!(lines[0].contains(" UID ALL 1:3 COUNT 3"), "{lines:?}");
    session.logout().await.unwrap();
    // async-imap skips the line it cannot parse: read this one raw.
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", mailbox.port()))
        .await
        .unwrap();
    let (read, mut write) = tcp.into_split();
    let mut read = tokio::io::BufReader::new(read);
    write
        .write_all(b"a LOGIN me pw\r\nb SELECT INBOX\r\nc UID STORE 2 +FLAGS.SILENT (\\Deleted)\r\nd EXPUNGE\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    loop {
        let mut line = String::new();
        read.read_line(&mut line).await.unwrap();
        assert!(!line.is_empty(), "closed: {raw:?}");
        let done = line.starts_with("d ");
        raw.push(line);
        if done {
            break;
        }
    }
    assert_eq!(raw[raw.len() - 2], "* 2 EXPUNGED\r\n", "{raw:?}");
    assert_eq!(mailbox.messages("INBOX").len(), 2);
}

// ---------------------------------------------------------------------------------------
// Long listings
// ---------------------------------------------------------------------------------------

/// A first sync of a folder of `count` messages (UIDs 1, 3, 5...: no ranges to fold
/// them into): the time from the engine's listing to its first header fetch. The server
/// cuts the connection at that fetch; what comes after is not measured.
async fn listing_to_first_header_fetch(count: u32, bound: Duration) {
    let mailbox = ScriptedMailbox::start("IMAP4rev1 ESEARCH").await;
    let started = Instant::now();
    mailbox.fill("INBOX", count, |i| 2 * i + 1, small("same", "same@t", 0));
    println!("{count} messages made in {:?}", started.elapsed());
    let serve = mailbox.answers();
    mailbox.imap.on("UID FETCH", move |req| {
        if req.command.contains("HEADER") {
            Reply::close()
        } else {
            serve(req)
        }
    });
    let t = engine_on(mailbox.port()).await;
    let started = Instant::now();
    let result = bounded(120, "the first sync", t.engine.sync(None)).await;
    println!("sync ended after {:?}: {result:?}", started.elapsed());

    let requests = mailbox.imap.requests();
    let select = requests
        .iter()
        .rposition(|r| r.verb() == "SELECT")
        .expect("the engine never selected INBOX");
    let connection = requests[select].connection;
    let after: Vec<&ImapRequest> = requests[select + 1..]
        .iter()
        .filter(|r| r.connection == connection)
        .collect();
    let fetch = after
        .iter()
        .position(|r| r.verb().ends_with("FETCH") && r.command.contains("HEADER"))
        .unwrap_or_else(|| {
            panic!(
                "no header fetch after the listing; the engine sent {:?}",
                after.iter().map(|r| &r.command).collect::<Vec<_>>()
            )
        });
    let listing = &after[..fetch];
    assert!(!listing.is_empty(), "no listing before the header fetch");
    for r in listing {
        println!("listing command: {}", r.command);
    }
    let header_fetch = after[fetch];
    let newest = 2 * (count - 1) + 1;
    assert!(
        header_fetch.command.contains(&newest.to_string()),
        "the first header fetch does not ask for the newest UID {newest} (was the listing read whole?): {}",
        &header_fetch.command[..header_fetch.command.len().min(200)]
    );
    let last = listing.last().unwrap();
    let answered = mailbox
        .imap
        .answered(last)
        .expect("the listing was not answered");
    let client = header_fetch.received.duration_since(answered);
    let total = header_fetch.received.duration_since(listing[0].received);
    println!(
        "{count} UIDs: listing sent -> first header fetch {total:?}; of that the engine's own (answer written -> header fetch) {client:?}; server {:?}",
        answered.duration_since(listing[0].received)
    );
    assert!(
        client < bound,
        "{count} UIDs: the engine took {client:?} from the listing's answer to its first header fetch (bound {bound:?})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_sync_listing_400_000_uids_reaches_the_first_header_fetch_within_2_s() {
    let _one = ONE_AT_A_TIME.lock().await;
    listing_to_first_header_fetch(400_000, Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_sync_listing_1_600_000_uids_reaches_the_first_header_fetch_within_10_s() {
    let _one = ONE_AT_A_TIME.lock().await;
    listing_to_first_header_fetch(1_600_000, Duration::from_secs(10)).await;
}

/// A server that answers SELECT, or the listing, with a 100 MB line without CRLF and
/// then stays silent: the sync ends with one short error well before the silence
/// limit, having taken in a bounded part of the line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_line_without_crlf_ends_the_sync_with_one_short_error_having_read_little() {
    let _one = ONE_AT_A_TIME.lock().await;
    const LINE: u64 = 100_000_000;
    for verb in ["SELECT", "UID SEARCH"] {
        let mailbox = ScriptedMailbox::start("IMAP4rev1").await;
        mailbox.add("INBOX", small("one", "one@t", 0), &[]);
        let t = engine_on(mailbox.port()).await;
        let sent = Arc::new(AtomicU64::new(0));
        let count = sent.clone();
        let first: &[u8] = if verb == "SELECT" {
            b"* OK [ALERT] "
        } else {
            b"* SEARCH 1"
        };
        let fill = if verb == "SELECT" { b'x' } else { b'1' };
        let line = move |_: &ImapRequest| {
            Reply::StreamThenStall(counted(endless(first.to_vec(), fill, LINE), count.clone()))
        };
        mailbox.imap.on(verb, line.clone());
        if verb == "UID SEARCH" {
            mailbox.imap.on("SEARCH", line);
        }
        let started = Instant::now();
        let result = bounded(30, "the sync", t.engine.sync(None)).await;
        let elapsed = started.elapsed();
        let asked = mailbox.imap.requests().iter().any(|r| r.verb() == verb);
        assert!(
            asked,
            "the engine never sent {verb}: the premise does not hold"
        );
        let sent = sent.load(Ordering::SeqCst);
        println!(
            "100 MB line answering {verb}: sync ended after {elapsed:?}; the server handed over {} MB",
            sent >> 20
        );
        let err = result.expect_err("a sync over an endless line succeeded");
        check_error(&format!("100 MB line answering {verb}"), &err);
        assert_eq!(err.kind, ErrorKind::Protocol, "{verb}: {}", err.message);
        assert!(
            sent < 64 << 20,
            "{verb}: the engine took in {} MB of one line",
            sent >> 20
        );
    }
}

// ---------------------------------------------------------------------------------------
// Literals
// ---------------------------------------------------------------------------------------

/// An account synced (headers only) on a mailbox with one message; returns its local id.
async fn synced_without_bodies(mailbox: &ScriptedMailbox, t: &TestEngine) -> i64 {
    t.engine.set_body_prefetch(Some(0)).unwrap();
    bounded(60, "sync", t.engine.sync(None)).await.unwrap();
    assert_eq!(mailbox.messages("INBOX").len(), 1);
    id_of(&t.engine, "lit@t")
}

/// A scripted mailbox with one message of 10 KB, synced by an engine without its body:
/// (mailbox, engine, its UID, its local id).
async fn a_10_kb_message_synced_without_body() -> (ScriptedMailbox, TestEngine, u32, i64) {
    let mailbox = ScriptedMailbox::start("IMAP4rev1").await;
    let uid = mailbox.add(
        "INBOX",
        Content::Big(Arc::new(BigMessage::new("lit@t", "literal", 10_000))),
        &[],
    );
    let t = engine_on(mailbox.port()).await;
    let id = synced_without_bodies(&mailbox, &t).await;
    (mailbox, t, uid, id)
}

/// The label of a body section in an answer to `req`: `BODY[]`, or `BODY[]<0>` for a
/// partial fetch.
fn body_label(req: &ImapRequest) -> String {
    let c = req.command.to_ascii_uppercase();
    match c.find("[]<") {
        Some(at) => {
            let offset: String = c[at + 3..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            format!("BODY[]<{offset}>")
        }
        None => "BODY[]".to_owned(),
    }
}

/// A 20 MB literal, then garbage: in the same response (after the literal), or as a
/// line of its own. Opening the message fails with one short `Protocol` error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_20_mb_literal_followed_by_garbage_is_one_short_protocol_error() {
    let _one = ONE_AT_A_TIME.lock().await;
    const SIZE: u64 = 20 << 20;
    let mut wrong = Vec::new();
    for garbage_alone in [false, true] {
        let what = if garbage_alone {
            "20 MB literal, then a garbage line"
        } else {
            "20 MB literal, then garbage in the same response"
        };
        let mailbox = ScriptedMailbox::start("IMAP4rev1").await;
        let big = Arc::new(BigMessage::new("lit@t", "literal", SIZE));
        let uid = mailbox.add("INBOX", Content::Big(big.clone()), &[]);
        let t = engine_on(mailbox.port()).await;
        let id = synced_without_bodies(&mailbox, &t).await;
        let serve = mailbox.answers();
        let len = big.len();
        let source = big.clone();
        mailbox.imap.on("UID FETCH", move |req| {
            if !is_body_fetch(req) {
                return serve(req);
            }
            let head = format!("* 1 FETCH (UID {uid} {} {{{len}}}\r\n", body_label(req));
            let tail: Vec<u8> = if garbage_alone {
                let mut t = b")\r\n\x01\x02 garbage \xff\xfe{}[]\r\n".to_vec();
                t.extend(req.tagged("OK FETCH completed"));
                t
            } else {
                let mut t = b" \x01\x02garbage\xff\xfe (((\r\n".to_vec();
                t.extend(req.tagged("OK FETCH completed"));
                t
            };
            let source = source.clone();
            let body = (0..len.div_ceil(1 << 20)).map(move |i| {
                let from = i << 20;
                let mut out = vec![0u8; (1u64 << 20).min(len - from) as usize];
                source.read_at(from, &mut out);
                out
            });
            Reply::Stream(Box::new(
                std::iter::once(head.into_bytes())
                    .chain(body)
                    .chain(std::iter::once(tail)),
            ))
        });
        let started = Instant::now();
        let result = bounded(60, "open_message", t.engine.open_message(id)).await;
        println!("{what}: open_message ended after {:?}", started.elapsed());
        assert!(
            mailbox.imap.requests().iter().any(is_body_fetch),
            "{what}: the engine never fetched the body"
        );
        let err = result.expect_err("a garbled answer was taken for a message");
        check_error(what, &err);
        if err.kind != ErrorKind::Protocol {
            wrong.push(format!(
                "{what}: a protocol violation reported as {:?}",
                err.kind
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// `{2000000000}` announced for a message of 10 KB, and then bytes as fast as the
/// socket takes them: opening fails at once with one short error, having read little.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2_gb_literal_announced_fails_at_once_having_read_little() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (mailbox, t, uid, id) = a_10_kb_message_synced_without_body().await;
    let serve = mailbox.answers();
    let sent = Arc::new(AtomicU64::new(0));
    let count = sent.clone();
    mailbox.imap.on("UID FETCH", move |req| {
        if !is_body_fetch(req) {
            return serve(req);
        }
        let head = format!(
            "* 1 FETCH (UID {uid} {} {{2000000000}}\r\n",
            body_label(req)
        );
        Reply::StreamThenStall(counted(
            endless(head.into_bytes(), b'A', 2_000_000_000),
            count.clone(),
        ))
    });
    let started = Instant::now();
    let result = bounded(30, "open_message", t.engine.open_message(id)).await;
    let elapsed = started.elapsed();
    let sent = sent.load(Ordering::SeqCst);
    println!(
        "2 GB literal: open_message ended after {elapsed:?}; the server handed over {} MB",
        sent >> 20
    );
    assert!(
        mailbox.imap.requests().iter().any(is_body_fetch),
        "the engine never fetched the body"
    );
    let err = result.expect_err("a 2 GB literal for a 10 KB message was accepted");
    check_error("2 GB literal", &err);
    assert_eq!(err.kind, ErrorKind::Protocol, "{}", err.message);
    assert!(
        elapsed < Duration::from_secs(10),
        "not at once: {elapsed:?}"
    );
    assert!(sent < 64 << 20, "the engine took in {} MB", sent >> 20);
}

/// A message of 10 KB (by RFC822.SIZE) whose every part, asked for in pieces, comes back
/// full: the download ends with a protocol error after at most twice the size it was
/// given plus one part, and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_never_ends_in_parts_is_refused_past_twice_its_size() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (mailbox, t, uid, id) = a_10_kb_message_synced_without_body().await;
    let serve = mailbox.answers();
    let sent = Arc::new(AtomicU64::new(0));
    let count = sent.clone();
    mailbox.imap.on("UID FETCH", move |req| {
        if !is_body_fetch(req) {
            return serve(req);
        }
        let c = req.command.to_ascii_uppercase();
        let Some(at) = c.find("[]<") else {
            return serve(req);
        };
        let asked: u64 = c[at + 3..]
            .split(['.', '>'])
            .nth(1)
            .and_then(|n| n.parse().ok())
            .expect("a part's length");
        count.fetch_add(asked, Ordering::SeqCst);
        let mut answer =
            format!("* 1 FETCH (UID {uid} {} {{{asked}}}\r\n", body_label(req)).into_bytes();
        answer.extend(std::iter::repeat_n(b'A', asked as usize));
        answer.extend(b")\r\n");
        answer.extend(req.tagged("OK FETCH completed"));
        Reply::Send(answer)
    });
    let result = bounded(60, "open_message", t.engine.open_message(id)).await;
    let sent = sent.load(Ordering::SeqCst);
    println!(
        "never-ending parts: the server handed over {} MB",
        sent >> 20
    );
    let err = result.expect_err("an endless message was taken");
    check_error("never-ending parts", &err);
    assert_eq!(err.kind, ErrorKind::Protocol, "{}", err.message);
    assert!(
        sent <= 3 * (4 << 20),
        "the engine took in {} MB",
        sent >> 20
    );
    assert!(
        !t.engine.message(id).unwrap().summary.has_body,
        "a body was stored from an answer that never ended"
    );
}

// ---------------------------------------------------------------------------------------
// EXPUNGE answered the wrong way
// ---------------------------------------------------------------------------------------

/// A server without MOVE or UIDPLUS that answers EXPUNGE with `* n EXPUNGED`: a move, a
/// delete (to Trash) and a delete from Trash for good, queued together, all reach the
/// server, and none ends as failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_move_or_uidplus_expunged_answers_do_not_fail_moves_or_deletes() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mailbox = ScriptedMailbox::start("IMAP4rev1").await;
    mailbox.expunge_answer(ExpungeAnswer::Expunged);
    mailbox.create("Archive");
    mailbox.create("Trash");
    mailbox.add("INBOX", small("keep", "keep@t", 0), &[]);
    mailbox.add("INBOX", small("gone", "gone@t", 1), &[]);
    mailbox.add("INBOX", small("stay", "stay@t", 2), &[]);
    let t = engine_on(mailbox.port()).await;
    bounded(60, "sync", t.engine.sync(None)).await.unwrap();
    let (keep, gone) = (id_of(&t.engine, "keep@t"), id_of(&t.engine, "gone@t"));

    t.engine.move_messages(&[keep], "Archive").unwrap();
    t.engine.delete(&[gone]).unwrap();
    assert_eq!(t.engine.message(gone).unwrap().summary.folder, "Trash");
    t.engine.delete(&[gone]).unwrap();
    let report = bounded(60, "push_changes", t.engine.push_changes(None))
        .await
        .unwrap();
    println!("push: {report:?}");
    let sent: Vec<String> = mailbox
        .imap
        .requests()
        .iter()
        .map(|r| r.command.clone())
        .filter(|c| ["COPY", "STORE", "EXPUNGE"].iter().any(|v| c.contains(v)))
        .collect();
    println!("changes sent: {sent:?}");
    let ids = |folder: &str| -> Vec<String> {
        mailbox
            .messages(folder)
            .into_iter()
            .map(|m| m.message_id)
            .collect()
    };
    let server = (ids("INBOX"), ids("Archive"), ids("Trash"));
    println!(
        "server: INBOX {:?}, Archive {:?}, Trash {:?}",
        server.0, server.1, server.2
    );
    let changes = t.engine.changes(None).unwrap();
    for c in &changes {
        println!(
            "change {} {:?} {}: {:?} after {} attempts: {}",
            c.id, c.kind, c.target, c.state, c.attempts, c.last_error
        );
    }
    assert!(
        sent.iter().any(|c| c.contains("EXPUNGE")),
        "the premise does not hold: no EXPUNGE was sent"
    );
    assert!(
        !changes.iter().any(|c| c.state == ChangeState::Failed),
        "changes failed"
    );
    assert_eq!(report.failed, 0);
    assert_eq!(server.0, ["stay@t"], "INBOX on the server");
    assert_eq!(server.1, ["keep@t"], "Archive on the server");
    assert!(
        server.2.is_empty(),
        "the message deleted for good is still in Trash on the server"
    );
    assert!(changes.is_empty(), "changes still queued");
}

// ---------------------------------------------------------------------------------------
// STARTTLS stripped, refused or faked
// ---------------------------------------------------------------------------------------

/// The ways a server (or someone in between) can keep STARTTLS from happening.
#[derive(Debug, Clone, Copy)]
enum NoTls {
    /// Not offered; STARTTLS answered BAD.
    Stripped,
    /// Offered, and answered NO.
    Refused,
    /// Answered OK with clear text right behind it, in the same packet.
    FakedOk,
    /// Answered OK; once the client has begun its handshake, 20 KB of clear text.
    FakedOkThenText,
    /// Answered OK, then silence.
    OkThenSilence,
}

async fn hostile_starttls(kind: NoTls) -> ScriptedImap {
    let imap = ScriptedImap::start().await;
    match kind {
        NoTls::Stripped => imap.capabilities("IMAP4rev1 AUTH=PLAIN"),
        _ => imap.capabilities("IMAP4rev1 STARTTLS AUTH=PLAIN"),
    }
    let push = imap.pusher();
    imap.on("STARTTLS", move |req| match kind {
        NoTls::Stripped => Reply::Send(req.tagged("BAD unknown command")),
        NoTls::Refused => Reply::Send(req.tagged("NO TLS is not available now")),
        NoTls::FakedOk => {
            let mut b = req.tagged("OK Begin TLS negotiation now");
            b.extend_from_slice(b"* OK still in clear text\r\n");
            Reply::Send(b)
        }
        NoTls::FakedOkThenText => {
            let (push, connection) = (push.clone(), req.connection);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                // More than one TLS record's worth: a client cannot wait for the rest.
                let line = format!("* OK still in clear text {}\r\n", "x".repeat(1000));
                push(connection, line.repeat(20).as_bytes());
            });
            Reply::Send(req.tagged("OK Begin TLS negotiation now"))
        }
        NoTls::OkThenSilence => Reply::SendThenStall(req.tagged("OK Begin TLS negotiation now")),
    });
    imap
}

fn credentials_seen(proxy: &Proxy, user: &str) -> Vec<String> {
    use base64::Engine as _;
    let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{PASSWORD}"));
    [
        PASSWORD.to_owned(),
        plain,
        "LOGIN".to_owned(),
        "AUTHENTICATE".to_owned(),
    ]
    .into_iter()
    .filter(|s| proxy.saw(s))
    .collect()
}

/// No password travels in clear text when STARTTLS is stripped, refused or faked:
/// neither when the account is added, nor when a server that did STARTTLS properly
/// (Dovecot) is later replaced by one that does not; and the SMTP check of an account
/// with STARTTLS required stops before AUTH when the server does not offer it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_goes_out_in_clear_when_starttls_is_stripped_refused_or_faked() {
    let _one = ONE_AT_A_TIME.lock().await;
    let options = EngineOptions {
        connect_timeout: Duration::from_secs(3),
        ..EngineOptions::default()
    };
    let kinds = [
        NoTls::Stripped,
        NoTls::Refused,
        NoTls::FakedOk,
        NoTls::FakedOkThenText,
        NoTls::OkThenSilence,
    ];
    // Adding the account.
    for kind in kinds {
        let imap = hostile_starttls(kind).await;
        let proxy = Proxy::start(imap.port).await;
        let t = engine_with_options(options.clone());
        let started = Instant::now();
        let result = bounded(
            30,
            "add_account",
            t.engine.add_account(
                scripted_config(proxy.port, Security::StartTls),
                PASSWORD.to_owned(),
            ),
        )
        .await;
        let err = result.expect_err("an account was added without TLS");
        println!(
            "add, {kind:?}: {:?} after {:?}",
            err.kind,
            started.elapsed()
        );
        check_error(&format!("add, {kind:?}"), &err);
        assert!(
            proxy.saw("STARTTLS"),
            "{kind:?}: STARTTLS was never asked for"
        );
        let seen = credentials_seen(&proxy, "me");
        assert!(seen.is_empty(), "add, {kind:?}: sent in clear: {seen:?}");
        assert!(
            !imap
                .requests()
                .iter()
                .any(|r| ["LOGIN", "AUTHENTICATE"].contains(&r.verb().as_str())),
            "add, {kind:?}: the server got a login"
        );
    }

    // Syncing an account set up over a real STARTTLS, once the server is replaced.
    let s = server();
    let user = s.new_user("starttls");
    let proxy = Proxy::start(s.imap_port).await;
    let t = engine_with_options(options.clone());
    let mut config = s.imap_config("main", &user, Security::StartTls);
    config.server.port = proxy.port;
    config.smtp = None;
    bounded(
        30,
        "add_account",
        t.engine.add_account(config, PASSWORD.to_owned()),
    )
    .await
    .expect("an account over STARTTLS to Dovecot");
    bounded(30, "sync", t.engine.sync(None))
        .await
        .expect("a sync over STARTTLS to Dovecot");
    assert!(
        proxy.saw("STARTTLS"),
        "the premise: Dovecot was reached with STARTTLS"
    );
    assert!(
        credentials_seen(&proxy, &user).is_empty(),
        "in clear to Dovecot"
    );
    for kind in kinds {
        let imap = hostile_starttls(kind).await;
        proxy.redirect(imap.port);
        let result = bounded(30, "sync", t.engine.sync(None)).await;
        let err = result.expect_err("a sync without TLS succeeded");
        println!("sync, {kind:?}: {:?}", err.kind);
        check_error(&format!("sync, {kind:?}"), &err);
        assert!(
            imap.requests().iter().any(|r| r.verb() == "STARTTLS"),
            "sync, {kind:?}: the replaced server never heard STARTTLS"
        );
        let seen = credentials_seen(&proxy, &user);
        assert!(seen.is_empty(), "sync, {kind:?}: sent in clear: {seen:?}");
    }

    // SMTP with STARTTLS required, on a server that does not offer it.
    let smtp = ScriptedSmtp::start(SmtpStall::Never).await;
    let smtp_proxy = Proxy::start(smtp.port).await;
    let user = s.new_user("starttls");
    let t = engine_with_options(options);
    let mut config = s.imap_config("main", &user, Security::Tls);
    config.smtp = Some(ServerConfig {
        host: "127.0.0.1".to_owned(),
        port: smtp_proxy.port,
        security: Security::StartTls,
        username: user.clone(),
        ca_file: None,
    });
    let err = bounded(
        30,
        "add_account",
        t.engine.add_account(config, PASSWORD.to_owned()),
    )
    .await
    .expect_err("an account whose SMTP server has no STARTTLS was added");
    check_error("SMTP without STARTTLS", &err);
    assert!(
        smtp_proxy.saw("EHLO"),
        "the premise: the SMTP server was reached"
    );
    let seen: Vec<String> = credentials_seen(&smtp_proxy, &user)
        .into_iter()
        .chain(smtp_proxy.saw("AUTH").then(|| "AUTH".to_owned()))
        .collect();
    assert!(seen.is_empty(), "SMTP: sent in clear: {seen:?}");
}
