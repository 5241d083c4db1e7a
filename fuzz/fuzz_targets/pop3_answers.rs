//! What a POP3 server sends, read by the engine's client (`Pop3Connection`) over an
//! in-memory connection. The input's first byte picks the read size; the rest is the
//! server's side of a session: greeting, CAPA, the login, STAT, UIDL, LIST, the RETRs of
//! every listed message (pipelined when CAPA offers PIPELINING, one at a time otherwise),
//! one RETR and TOP alone, DELE and QUIT. Every error must be one line of bounded length;
//! time and memory are bounded by libFuzzer's `-timeout` and `-rss_limit_mb`.
#![no_main]

use std::time::Duration;

use brevdue_core::pop3::Pop3Connection;
use brevdue_fuzz::{checked, run, serve, Options};
use libfuzzer_sys::fuzz_target;

/// The most messages fetched at once, as the engine's batches do.
const MAX_RETR: usize = 50;

fuzz_target!(|input: &[u8]| {
    let (options, answers) = Options::split(input);
    run(session(options, answers));
});

async fn session(options: Options, answers: &[u8]) {
    let stream = serve(answers, options.read_size);
    let start = Pop3Connection::start(Box::new(stream), "fuzz".into(), Duration::from_secs(15));
    let Some(mut conn) = checked("greeting and CAPA", start.await) else {
        return;
    };
    // After an error the engine drops the session; going on reaches more states, and each
    // command must still fail cleanly.
    checked("login", conn.login("fuzz", "secret").await);
    checked("STAT", conn.stat().await);
    let mut numbers: Vec<u32> = Vec::new();
    if let Some(uids) = checked("UIDL", conn.uidl().await) {
        numbers.extend(uids.iter().map(|(n, _)| *n));
    }
    if let Some(sizes) = checked("LIST", conn.list().await) {
        numbers.extend(sizes.iter().map(|(n, _)| *n));
    }
    numbers.sort_unstable();
    numbers.dedup();
    numbers.truncate(MAX_RETR);
    if numbers.is_empty() {
        numbers.push(1);
    }
    if let Some(messages) = checked("RETR", conn.retr_many(&numbers).await) {
        assert_eq!(messages.len(), numbers.len(), "one message per RETR");
        for message in &messages {
            check_message(message);
        }
    }
    if let Some(message) = checked("RETR alone", conn.retr(numbers[0]).await) {
        check_message(&message);
    }
    checked("TOP", conn.top(numbers[0], 0).await);
    checked("DELE", conn.dele(numbers[0]).await);
    checked("QUIT", conn.quit().await);
}

/// A message comes back with CRLF line ends and without the terminating dot line.
fn check_message(message: &[u8]) {
    assert!(
        message.is_empty() || message.ends_with(b"\r\n"),
        "a message does not end in CRLF"
    );
    for (i, &byte) in message.iter().enumerate() {
        if byte == b'\n' {
            assert!(i > 0 && message[i - 1] == b'\r', "a bare LF at {i}");
        }
    }
}
