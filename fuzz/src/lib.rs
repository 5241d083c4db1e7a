//! What the fuzz targets share: a fake server that sends the fuzz input over an in-memory
//! stream, and the checks every error must pass.

use std::fmt::Display;
use std::future::Future;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// The longest error message accepted, in characters.
pub const MAX_ERROR_CHARS: usize = 1_000;

/// An error must be one readable line of bounded length.
pub fn check_error(what: &str, error: &dyn Display) {
    let message = error.to_string();
    let preview: String = message.chars().take(300).collect();
    assert!(
        !message.contains('\n') && !message.contains('\r'),
        "{what}: the error has more than one line: {preview:?}"
    );
    let chars = message.chars().count();
    assert!(
        chars <= MAX_ERROR_CHARS,
        "{what}: the error has {chars} characters (at most {MAX_ERROR_CHARS}): {preview:?}..."
    );
    assert!(!message.trim().is_empty(), "{what}: the error is empty");
}

/// Checks the error of a result, if any, and hands back the value.
pub fn checked<T, E: Display>(what: &str, result: Result<T, E>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(err) => {
            check_error(what, &err);
            None
        }
    }
}

/// How the first byte of an input sets a run up; the rest is what the server sends.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The most the client gets from one read (the in-memory pipe's capacity).
    pub read_size: usize,
    /// Bit 3: a target-specific switch (small response limits for IMAP).
    pub flag: bool,
}

impl Options {
    /// Splits an input into options (its first byte; only the low 4 bits count, so a
    /// seed can start with a printable `0`..`?`) and the server's bytes.
    pub fn split(input: &[u8]) -> (Self, &[u8]) {
        let Some((&first, rest)) = input.split_first() else {
            return (
                Self {
                    read_size: 1 << 16,
                    flag: false,
                },
                input,
            );
        };
        // Small reads split responses everywhere (each byte costs a task switch, so
        // there are no 1-byte reads: async-imap's own tests do those).
        const READ_SIZES: [usize; 8] = [1 << 16, 3, 7, 16, 64, 512, 4096, 1 << 16];
        let options = Self {
            read_size: READ_SIZES[usize::from(first & 7)],
            flag: first & 8 != 0,
        };
        (options, rest)
    }
}

/// Runs `client` on a fresh single-threaded runtime whose clock is paused: when every
/// task waits, time jumps to the next timer, so a client waiting for a server that has
/// nothing more to say meets its own timeout at once instead of after minutes.
pub fn run<F: Future>(client: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a tokio runtime")
        .block_on(client)
}

/// The client's end of an in-memory connection whose server sends `answers` (at most
/// `read_size` bytes arrive per read) and then closes its side; what the client writes
/// is read and dropped. Call it inside `run`.
pub fn serve(answers: &[u8], read_size: usize) -> DuplexStream {
    let (client, server) = tokio::io::duplex(read_size);
    let (mut from_client, mut to_client) = tokio::io::split(server);
    tokio::spawn(async move {
        let mut sink = [0u8; 4096];
        while let Ok(1..) = from_client.read(&mut sink).await {}
    });
    let answers = answers.to_vec();
    tokio::spawn(async move {
        let _ = to_client.write_all(&answers).await;
        let _ = to_client.shutdown().await;
    });
    client
}

/// One start tag of serialized HTML: its name and attributes, lower-cased names.
#[derive(Debug, Default)]
pub struct Tag {
    pub name: String,
    pub attributes: Vec<(String, String)>,
}

/// The start tags of HTML as html5ever serializes it (ammonia's output): text escapes `<`,
/// attribute values are double-quoted with `"` escaped. Raw-text elements (script, style)
/// would break this reading, and none may be there anyway.
pub fn start_tags(html: &str) -> Vec<Tag> {
    let mut tags = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        if rest.starts_with('/') || rest.starts_with('!') {
            continue;
        }
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len());
        let mut tag = Tag {
            name: rest[..name_end].to_ascii_lowercase(),
            ..Tag::default()
        };
        rest = &rest[name_end..];
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
            if rest.is_empty() || rest.starts_with('>') {
                break;
            }
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '>' || c == '=')
                .unwrap_or(rest.len());
            let name = rest[..end].to_ascii_lowercase();
            rest = &rest[end..];
            let mut value = String::new();
            if let Some(quoted) = rest.strip_prefix("=\"") {
                let close = quoted.find('"').unwrap_or(quoted.len());
                value = quoted[..close]
                    .replace("&quot;", "\"")
                    .replace("&amp;", "&");
                rest = quoted.get(close + 1..).unwrap_or("");
            }
            tag.attributes.push((name, value));
        }
        tags.push(tag);
    }
    tags
}
