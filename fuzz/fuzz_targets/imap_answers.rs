//! What an IMAP server sends, read the way the engine reads it: async-imap's stream (the
//! patched linear-time reader) under the engine's response limits, and the engine's own
//! commands (`ImapConnection`) over an in-memory connection. The input's first byte picks
//! the read size and, with bit 3, small response limits (to reach the limit checks); the
//! rest is the server's side of a session: greeting, LOGIN, CAPABILITY, then the answers
//! to LIST, SELECT, the flag scan, UID SEARCH, the header fetch and the body fetch. Every
//! error must be one line of bounded length; time and memory are bounded by libFuzzer's
//! `-timeout` and `-rss_limit_mb`.
#![no_main]

use async_imap::types::Capability;
use async_imap::ResponseLimits;
use brevdue_core::imap::{ImapConnection, ServerCaps};
use brevdue_core::mime;
use brevdue_fuzz::{check_error, checked, run, serve, Options};
use libfuzzer_sys::fuzz_target;

/// Small enough that inputs of a few KiB cross them: Dovecot's answers pass up to the
/// header fetch, and its message bodies are over `max_literal`.
const SMALL_LIMITS: ResponseLimits = ResponseLimits {
    max_line: 1_000,
    max_literal: 320,
    max_response: 2_000,
};

/// The most UIDs fetched at once, as the engine's batches do.
const MAX_FETCH: usize = 500;

fuzz_target!(|input: &[u8]| {
    let (options, answers) = Options::split(input);
    run(session(options, answers));
});

async fn session(options: Options, answers: &[u8]) {
    let stream = serve(answers, options.read_size);
    // As `ImapConnection::connect` wraps its stream.
    let stream: brevdue_core::net::BoxStream = Box::new(tokio::io::BufWriter::new(stream));
    let mut client = async_imap::Client::new(stream);
    // The engine sets no limits of its own today: async-imap's defaults apply.
    if options.flag {
        client.set_response_limits(SMALL_LIMITS);
    }
    let limits = client.response_limits();
    match client.read_response().await {
        Ok(Some(_)) => {}
        Ok(None) => return,
        Err(err) => return check_error("greeting", &err),
    }
    let mut session = match client.login("fuzz", "secret").await {
        Ok(session) => session,
        Err((err, _)) => return check_error("LOGIN", &err),
    };
    assert_eq!(
        session.response_limits(),
        limits,
        "LOGIN changed the limits"
    );
    let Some(capabilities) = checked("CAPABILITY", session.capabilities().await) else {
        return;
    };
    // As `ImapConnection::connect` names them.
    let names: Vec<String> = capabilities
        .iter()
        .map(|c| match c {
            Capability::Imap4rev1 => "IMAP4rev1".to_owned(),
            Capability::Auth(a) => format!("AUTH={a}"),
            Capability::Atom(a) => a.to_string(),
        })
        .collect();
    let caps = ServerCaps::from_names(&names);
    let mut conn = ImapConnection::for_fuzzing(session, caps);
    if conn.caps.qresync {
        checked("ENABLE", conn.simple("ENABLE QRESYNC").await);
    }
    // After an error the engine drops the session; going on reaches more states, and each
    // command must still fail cleanly.
    checked("LIST", conn.list_folders().await);
    let status = checked("SELECT", conn.select("INBOX").await);
    if let Some(status) = status {
        assert_ne!(status.uidvalidity, 0, "SELECT accepted UIDVALIDITY 0");
        assert_eq!(conn.selected(), Some("INBOX"));
    }
    let changed_since = status.and_then(|s| s.highestmodseq);
    let mut uids = Vec::new();
    if let Some(scan) = checked("flag scan", conn.scan_flags(changed_since).await) {
        assert!(
            scan.vanished.windows(2).all(|w| w[0] < w[1]),
            "VANISHED UIDs are not sorted and unique"
        );
        uids.extend(scan.messages.iter().map(|m| m.uid));
    }
    if let Some(found) = checked("UID SEARCH", conn.uid_search_all().await) {
        assert!(found.windows(2).all(|w| w[0] <= w[1]), "SEARCH not sorted");
        uids.extend(found);
    }
    uids.sort_unstable();
    uids.dedup();
    uids.truncate(MAX_FETCH);
    if uids.is_empty() {
        uids.push(1);
    }
    if let Some(headers) = checked("header fetch", conn.fetch_headers(&uids).await) {
        for header in &headers {
            let parsed = mime::parse_headers(&header.header);
            assert!(!parsed.message_id.is_empty());
        }
    }
    checked("body fetch", conn.fetch_bodies(&uids).await);
    checked("NOOP", conn.noop().await);
}
