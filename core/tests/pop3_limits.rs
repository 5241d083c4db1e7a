//! POP3 within bounds: memory stays small whatever the sizes (a 200 MB RETR, three in
//! one sync, answers that never end), and a maildrop whose messages change their UIDLs,
//! or that the server will not give, is still downloaded once, with failures tried last
//! and given up visibly. The server here streams its messages (generated as they are
//! sent), so the process's peak RSS is the engine's.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brevdue_core::{AccountConfig, Engine, Event, Protocol, Security, ServerConfig};
use common::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const MB: u64 = 1_000_000;
/// Each big message's size on the wire.
const BIG: u64 = 200 * MB;
const PEAK_LIMIT_MB: f64 = 150.0;

/// One base64 line of an attachment: 76 characters, 57 bytes decoded.
const LINE: &[u8] =
    b"TWFpbCB0aGF0IGlzIGxhcmdlciB0aGFuIGFueSBidWZmZXIgc2hvdWxkIG5ldmVyIGJlIGhlbGQu\r\n";
const TAIL: &[u8] = b"--big--\r\n";

fn big_head(id: u32) -> Vec<u8> {
    format!(
        "From: film@example.test\r\nTo: pop@example.test\r\nSubject: film {id}\r\n\
Date: {}\r\nMessage-ID: <big{id}@t>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"big\"\r\n\r\n\
--big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe film, number {id}.\r\n\
--big\r\nContent-Type: video/mp4; name=\"film{id}.mp4\"\r\n\
Content-Disposition: attachment; filename=\"film{id}.mp4\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        date(id)
    )
    .into_bytes()
}

#[derive(Debug, Clone)]
enum Body {
    Bytes(Vec<u8>),
    /// A multipart message with a base64 attachment of `lines` lines, `BIG` bytes in all.
    Big {
        id: u32,
        lines: u64,
    },
    /// LIST says `announced` octets; RETR never ends.
    Endless {
        announced: u64,
    },
}

impl Body {
    fn big(id: u32) -> Self {
        let fixed = (big_head(id).len() + TAIL.len()) as u64;
        Body::Big {
            id,
            lines: (BIG - fixed) / LINE.len() as u64,
        }
    }

    fn size(&self) -> u64 {
        match self {
            Body::Bytes(raw) => raw.len() as u64,
            Body::Big { id, lines } => {
                (big_head(*id).len() + TAIL.len()) as u64 + lines * LINE.len() as u64
            }
            Body::Endless { announced } => *announced,
        }
    }

    fn headers(&self) -> Vec<u8> {
        let raw = match self {
            Body::Bytes(raw) => raw.clone(),
            Body::Big { id, .. } => big_head(*id),
            Body::Endless { .. } => b"Subject: endless\r\nMessage-ID: <endless@t>\r\n\r\n".to_vec(),
        };
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(raw.len(), |p| p + 4);
        raw[..end].to_vec()
    }
}

#[derive(Debug, Clone)]
struct Msg {
    uidl: String,
    body: Body,
    refuse: bool,
}

fn small(n: u32, uidl: &str) -> Msg {
    Msg {
        uidl: uidl.to_owned(),
        body: Body::Bytes(message(
            &format!("small {n}"),
            "a@example.test",
            &date(n),
            &format!("small{n}@t"),
            "x",
        )),
        refuse: false,
    }
}

#[derive(Default)]
struct State {
    messages: Mutex<Vec<Msg>>,
    endless_uidl: AtomicBool,
    /// "RETR n" for every RETR asked, answered or not.
    retrs: Mutex<Vec<u32>>,
}

/// A POP3 server (USER, UIDL, TOP, PIPELINING) that generates its messages as it sends
/// them: it holds a megabyte, whatever the sizes.
struct StreamingPop3 {
    port: u16,
    state: Arc<State>,
}

impl StreamingPop3 {
    async fn start(messages: Vec<Msg>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State::default());
        *state.messages.lock().unwrap() = messages;
        let accept = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, accept.clone()));
            }
        });
        Self { port, state }
    }

    fn edit(&self, f: impl FnOnce(&mut Vec<Msg>)) {
        f(&mut self.state.messages.lock().unwrap());
    }

    /// The RETRs asked since the last call.
    fn take_retrs(&self) -> Vec<u32> {
        std::mem::take(&mut self.state.retrs.lock().unwrap())
    }
}

async fn session(stream: TcpStream, state: Arc<State>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    if write.write_all(b"+OK streaming POP3\r\n").await.is_err() {
        return;
    }
    let block: Vec<u8> = LINE.repeat(13_000);
    let mut deleted = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut words = line.split_whitespace();
        let verb = words.next().unwrap_or_default().to_ascii_uppercase();
        let arg: Option<usize> = words.next().and_then(|w| w.parse().ok());
        let messages = state.messages.lock().unwrap().clone();
        let get = |n: Option<usize>| n.filter(|n| (1..=messages.len()).contains(n));
        let sent = match verb.as_str() {
            "CAPA" => {
                write
                    .write_all(b"+OK\r\nUSER\r\nUIDL\r\nTOP\r\nPIPELINING\r\n.\r\n")
                    .await
            }
            "USER" | "PASS" | "NOOP" | "RSET" => write.write_all(b"+OK\r\n").await,
            "STAT" => {
                let total: u64 = messages.iter().map(|m| m.body.size()).sum();
                let text = format!("+OK {} {total}\r\n", messages.len());
                write.write_all(text.as_bytes()).await
            }
            "UIDL" if state.endless_uidl.load(Ordering::SeqCst) => {
                let mut result = write.write_all(b"+OK\r\n").await;
                let mut n = 0u64;
                while result.is_ok() {
                    let mut chunk = String::with_capacity(1 << 16);
                    for _ in 0..1000 {
                        n += 1;
                        chunk.push_str(&format!("{n} endless-{n:020}\r\n"));
                    }
                    result = write.write_all(chunk.as_bytes()).await;
                }
                result
            }
            "UIDL" | "LIST" => {
                let mut text = "+OK\r\n".to_owned();
                for (i, m) in messages.iter().enumerate() {
                    if verb == "UIDL" {
                        text.push_str(&format!("{} {}\r\n", i + 1, m.uidl));
                    } else {
                        text.push_str(&format!("{} {}\r\n", i + 1, m.body.size()));
                    }
                }
                text.push_str(".\r\n");
                write.write_all(text.as_bytes()).await
            }
            "TOP" => match get(arg) {
                Some(n) => {
                    let mut bytes = b"+OK\r\n".to_vec();
                    bytes.extend(messages[n - 1].body.headers());
                    bytes.extend_from_slice(b".\r\n");
                    write.write_all(&bytes).await
                }
                None => write.write_all(b"-ERR no such message\r\n").await,
            },
            "RETR" => match get(arg) {
                Some(n) => {
                    state.retrs.lock().unwrap().push(n as u32);
                    let m = &messages[n - 1];
                    if m.refuse {
                        write.write_all(b"-ERR [SYS/TEMP] cannot read it\r\n").await
                    } else {
                        retr(&mut write, &m.body, &block).await
                    }
                }
                None => write.write_all(b"-ERR no such message\r\n").await,
            },
            "DELE" => {
                deleted.extend(arg);
                write.write_all(b"+OK\r\n").await
            }
            "QUIT" => {
                {
                    let mut all = state.messages.lock().unwrap();
                    let mut n = 0;
                    all.retain(|_| {
                        n += 1;
                        !deleted.contains(&n)
                    });
                }
                let _ = write.write_all(b"+OK bye\r\n").await;
                return;
            }
            _ => write.write_all(b"-ERR unknown command\r\n").await,
        };
        if sent.is_err() {
            return;
        }
    }
}

async fn retr(
    write: &mut tokio::net::tcp::OwnedWriteHalf,
    body: &Body,
    block: &[u8],
) -> std::io::Result<()> {
    write.write_all(b"+OK\r\n").await?;
    match body {
        Body::Bytes(raw) => {
            for line in raw.split_inclusive(|&b| b == b'\n') {
                if line.starts_with(b".") {
                    write.write_all(b".").await?;
                }
                write.write_all(line).await?;
            }
        }
        Body::Big { id, lines } => {
            write.write_all(&big_head(*id)).await?;
            let per_block = (block.len() / LINE.len()) as u64;
            let mut left = *lines;
            while left >= per_block {
                write.write_all(block).await?;
                left -= per_block;
            }
            write
                .write_all(&block[..left as usize * LINE.len()])
                .await?;
            write.write_all(TAIL).await?;
        }
        Body::Endless { .. } => {
            write.write_all(b"Subject: endless\r\n\r\n").await?;
            loop {
                write.write_all(block).await?;
            }
        }
    }
    write.write_all(b".\r\n").await
}

fn pop3_account(port: u16) -> AccountConfig {
    AccountConfig {
        name: "pop".into(),
        email: "pop@example.test".into(),
        protocol: Protocol::Pop3,
        server: ServerConfig {
            host: "127.0.0.1".into(),
            port,
            security: Security::Plain,
            username: "pop".into(),
            ca_file: None,
        },
        pop3_delete: Default::default(),
        display_name: String::new(),
        smtp: None,
    }
}

async fn engine_for(server: &StreamingPop3) -> (TestEngine, Arc<Recorder>) {
    let t = engine(&[]);
    t.engine
        .add_account(pop3_account(server.port), "pw".into())
        .await
        .expect("add the POP3 account");
    let events = Arc::new(Recorder::default());
    let subscription = t.engine.subscribe(events.clone()).unwrap();
    std::mem::forget(subscription); // for the engine's life
    (t, events)
}

async fn sync(engine: &Engine) -> brevdue_core::Result<()> {
    tokio::time::timeout(Duration::from_secs(180), engine.sync(None))
        .await
        .expect("a POP3 sync did not end within 180 s")
        .map(|_| ())
}

/// Message-IDs here, sorted.
fn here(engine: &Engine) -> Vec<String> {
    let mut ids: Vec<String> = engine
        .messages(None, None, 1000, 0)
        .unwrap()
        .into_iter()
        .map(|m| m.message_id)
        .collect();
    ids.sort();
    ids
}

fn errors(events: &Recorder) -> Vec<String> {
    events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Error { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------------------

fn status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kb: f64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

/// Peak RSS (VmHWM) from now on: the kernel resets it to the current RSS.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("cannot reset the peak RSS");
}

/// The attachments the store recorded for a message (read from the database, so the
/// 200 MB file is not read back).
fn attachments(t: &TestEngine, message_id: &str) -> Vec<(String, String, i64)> {
    let db = rusqlite::Connection::open_with_flags(
        t.engine.data_dir().join("brevdue.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = db
        .prepare(
            "SELECT a.name, a.mime_type, a.size FROM attachment a JOIN message m ON m.id = a.message_id
             WHERE m.message_id = ?1 ORDER BY a.position",
        )
        .unwrap();
    stmt.query_map([message_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// Runs a sync with the peak RSS reset before it; returns (result, peak MB, seconds).
async fn measured(engine: &Engine) -> (brevdue_core::Result<()>, f64, f64) {
    reset_peak();
    let started = Instant::now();
    let result = sync(engine).await;
    (result, status_mb("VmHWM:"), started.elapsed().as_secs_f64())
}

/// The tests of this file run one at a time, so that nothing else runs in the process
/// while the peaks are measured.
async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_bounded_whatever_the_server_sends() {
    let _alone = one_at_a_time().await;
    let baseline = status_mb("VmRSS:");
    let mut figures = Vec::new();

    // One 200 MB message.
    let server = StreamingPop3::start(vec![Msg {
        uidl: "big1".into(),
        body: Body::big(1),
        refuse: false,
    }])
    .await;
    let (t, _) = engine_for(&server).await;
    let (result, peak, secs) = measured(&t.engine).await;
    result.expect("the sync of one 200 MB message");
    figures.push(format!("one 200 MB RETR: peak {peak:.0} MB in {secs:.1} s"));
    let list = t.engine.messages(None, None, 10, 0).unwrap();
    assert_eq!(list.len(), 1);
    let wire_size = Body::big(1).size();
    assert!(wire_size > BIG - 100);
    assert_eq!(u64::from(list[0].size), wire_size);
    assert!(list[0].has_attachments && list[0].has_body);
    let Body::Big { lines, .. } = Body::big(1) else {
        unreachable!()
    };
    assert_eq!(
        attachments(&t, "big1@t"),
        [("film1.mp4".into(), "video/mp4".into(), (lines * 57) as i64)]
    );
    assert_eq!(t.engine.search("film", None, 10).unwrap().len(), 1);
    let blob_bytes: u64 = walk(&t.engine.data_dir().join("messages"));
    assert_eq!(blob_bytes, wire_size, "the stored file is not the message");
    assert!(peak < PEAK_LIMIT_MB, "{}", figures.join("; "));
    drop(t);

    // Three of them in one sync.
    let server = StreamingPop3::start(
        (2..5)
            .map(|id| Msg {
                uidl: format!("big{id}"),
                body: Body::big(id),
                refuse: false,
            })
            .collect(),
    )
    .await;
    let (t, _) = engine_for(&server).await;
    let (result, peak, secs) = measured(&t.engine).await;
    result.expect("the sync of three 200 MB messages");
    figures.push(format!(
        "three 200 MB RETRs: peak {peak:.0} MB in {secs:.1} s"
    ));
    assert_eq!(here(&t.engine), ["big2@t", "big3@t", "big4@t"]);
    assert!(peak < PEAK_LIMIT_MB, "{}", figures.join("; "));
    drop(t);

    // A RETR that never ends (LIST said 100 MB), beside a good message: it is cut at its
    // ceiling, reported, and the good one is here.
    let server = StreamingPop3::start(vec![
        small(1, "s1"),
        Msg {
            uidl: "endless".into(),
            body: Body::Endless {
                announced: 100 * MB,
            },
            refuse: false,
        },
    ])
    .await;
    let (t, events) = engine_for(&server).await;
    let (result, peak, secs) = measured(&t.engine).await;
    figures.push(format!(
        "a RETR that never ends: peak {peak:.0} MB in {secs:.1} s"
    ));
    result.expect("the sync with an endless RETR");
    assert_eq!(here(&t.engine), ["small1@t"]);
    // Events reach a listener from a task of their own: give it a moment.
    let cut = |errors: &[String]| {
        errors
            .iter()
            .any(|e| e.contains("message 2") && e.contains("was cut"))
    };
    wait_until(10, || cut(&errors(&events))).await;
    let errors = errors(&events);
    assert!(cut(&errors), "{errors:?}");
    assert!(peak < PEAK_LIMIT_MB, "{}", figures.join("; "));
    drop(t);

    // A UIDL answer that never ends: cut at its limit; the sync fails, bounded.
    let server = StreamingPop3::start(vec![small(1, "s1")]).await;
    let (t, _) = engine_for(&server).await;
    server.state.endless_uidl.store(true, Ordering::SeqCst);
    let (result, peak, secs) = measured(&t.engine).await;
    figures.push(format!(
        "a UIDL that never ends: peak {peak:.0} MB in {secs:.1} s"
    ));
    let err = result.expect_err("an endless UIDL cannot succeed");
    assert!(err.message.contains("was cut"), "{err}");
    assert!(peak < PEAK_LIMIT_MB, "{}", figures.join("; "));

    println!(
        "peak RSS (baseline {baseline:.0} MB before any engine): {}",
        figures.join("; ")
    );
}

fn walk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() {
                        walk(&path)
                    } else {
                        e.metadata().map_or(0, |m| m.len())
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// Messages the server will not give; UIDLs that change
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_server_will_not_give_is_tried_last_and_given_up_visibly() {
    let _alone = one_at_a_time().await;
    let mut refused = small(2, "s2");
    refused.refuse = true;
    let server = StreamingPop3::start(vec![small(1, "s1"), refused, small(3, "s3")]).await;
    let (t, events) = engine_for(&server).await;
    let about_2 = |events: &Recorder| -> Vec<String> {
        errors(events)
            .into_iter()
            .filter(|e| e.contains("message 2 (UIDL \"s2\")"))
            .collect()
    };

    sync(&t.engine).await.expect("first sync");
    assert_eq!(here(&t.engine), ["small1@t", "small3@t"]);
    assert_eq!(server.take_retrs(), [3, 2, 1], "newest first");

    server.edit(|m| m.push(small(4, "s4")));
    sync(&t.engine).await.expect("second sync");
    assert_eq!(here(&t.engine), ["small1@t", "small3@t", "small4@t"]);
    assert_eq!(
        server.take_retrs(),
        [4, 2],
        "the failed one was not tried last"
    );

    sync(&t.engine).await.expect("third sync");
    assert_eq!(server.take_retrs(), [2]);
    sync(&t.engine).await.expect("fourth sync");
    assert_eq!(
        server.take_retrs(),
        Vec::<u32>::new(),
        "tried after giving up"
    );

    let reported = about_2(&events);
    println!("{reported:#?}");
    assert_eq!(reported.len(), 3, "{reported:?}");
    assert!(reported[0].contains("attempt 1 of 3") && reported[0].contains("cannot read it"));
    assert!(reported[1].contains("attempt 2 of 3"));
    assert!(reported[2].contains("given up after 3 attempts"));
    assert_eq!(here(&t.engine).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uidls_that_change_never_bring_a_message_twice() {
    let _alone = one_at_a_time().await;
    let server = StreamingPop3::start(vec![small(1, "u1"), small(2, "u2"), small(3, "u2")]).await;
    let (t, events) = engine_for(&server).await;
    let all = ["small1@t", "small2@t", "small3@t"];
    sync(&t.engine).await.expect("repeated UIDL");
    assert_eq!(here(&t.engine), all);
    assert_eq!(server.take_retrs(), [3, 2, 1]);
    for uidls in [
        ["u1", "u2", "u3"],
        ["u1", "u1", "u1"],
        ["", "", ""],
        ["u1", "u2", "u3"],
    ] {
        server.edit(|m| {
            for (msg, uidl) in m.iter_mut().zip(uidls) {
                msg.uidl = uidl.to_owned();
            }
        });
        sync(&t.engine)
            .await
            .unwrap_or_else(|e| panic!("UIDLs {uidls:?}: {e}"));
        assert_eq!(here(&t.engine), all, "UIDLs {uidls:?}");
        assert_eq!(server.take_retrs(), Vec::<u32>::new(), "UIDLs {uidls:?}");
    }
    server.edit(|m| m.push(small(4, "")));
    sync(&t.engine).await.expect("a new message without UIDL");
    assert_eq!(server.take_retrs(), [4]);
    assert_eq!(here(&t.engine).len(), 4);
    assert!(errors(&events).is_empty(), "{:?}", errors(&events));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_uidl_messages_are_told_apart_by_their_headers() {
    use common::faults::ScriptedPop3;
    let _alone = one_at_a_time().await;
    let maildrop = |uidls: &[&str]| -> Vec<(String, Vec<u8>)> {
        uidls
            .iter()
            .enumerate()
            .map(|(i, uidl)| {
                let Body::Bytes(raw) = small(i as u32 + 1, uidl).body else {
                    unreachable!()
                };
                (uidl.to_string(), raw)
            })
            .collect()
    };

    // No UIDL offered: TOP tells them apart.
    let pop = ScriptedPop3::start(maildrop(&["x", "x", "x"])).await;
    pop.capabilities(&["USER", "TOP", "PIPELINING"]);
    let t = engine(&[]);
    t.engine
        .add_account(pop3_account(pop.port), "pw".into())
        .await
        .unwrap();
    sync(&t.engine).await.expect("first sync without UIDL");
    sync(&t.engine).await.expect("second sync without UIDL");
    assert_eq!(here(&t.engine), ["small1@t", "small2@t", "small3@t"]);
    assert_eq!(pop.retrieved(), [3, 2, 1], "downloaded twice");

    // Neither TOP nor usable UIDLs: told apart once downloaded (again), kept once.
    let pop = ScriptedPop3::start(maildrop(&["a", "", ""])).await;
    pop.capabilities(&["USER", "UIDL", "PIPELINING"]);
    let t = engine(&[]);
    t.engine
        .add_account(pop3_account(pop.port), "pw".into())
        .await
        .unwrap();
    sync(&t.engine).await.expect("first sync without TOP");
    sync(&t.engine).await.expect("second sync without TOP");
    assert_eq!(here(&t.engine), ["small1@t", "small2@t", "small3@t"]);
    assert_eq!(pop.retrieved(), [3, 2, 1, 3, 2]);
}
