//! Times the response reader on long lines, over an in-memory pipe that hands the client
//! at most 4 KiB per read:
//!
//! - `search`: `* SEARCH` answers of 400,000, 800,000 and 1,600,000 UIDs through
//!   `Session::uid_search`;
//! - `long-line`: a 100 MB line without CRLF against a 64 MiB line limit (it must fail
//!   fast; run it under `/usr/bin/time -v` for the peak RSS).
//!
//! ```text
//! cargo run --release --manifest-path third_party/Cargo.toml -p async-imap \
//!     --no-default-features --features runtime-tokio --example read_bench -- search
//! ```

use std::time::{Duration, Instant};

use async_imap::{Client, ResponseLimits};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, duplex};

const PIECE: usize = 4096;

/// Reads one command line and returns its tag.
async fn read_command(reader: &mut BufReader<DuplexStream>) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).await.expect("read a command");
    line.split(' ').next().unwrap_or_default().to_owned()
}

async fn write_in_pieces(reader: &mut BufReader<DuplexStream>, data: &[u8]) {
    for piece in data.chunks(PIECE) {
        reader.get_mut().write_all(piece).await.expect("write");
    }
}

/// Answers LOGIN, then answers one command with `answer` followed by its tagged OK.
async fn serve(server: DuplexStream, answer: Vec<u8>) {
    let mut reader = BufReader::new(server);
    let tag = read_command(&mut reader).await;
    write_in_pieces(&mut reader, format!("{tag} OK logged in\r\n").as_bytes()).await;
    let tag = read_command(&mut reader).await;
    write_in_pieces(&mut reader, &answer).await;
    write_in_pieces(&mut reader, format!("{tag} OK done\r\n").as_bytes()).await;
    // Keep the pipe open until the client has read everything.
    let _ = read_command(&mut reader).await;
}

async fn time_uid_search(count: u32) -> Duration {
    let mut answer = Vec::with_capacity(count as usize * 8 + 16);
    answer.extend_from_slice(b"* SEARCH");
    for uid in 1..=count {
        answer.extend_from_slice(format!(" {uid}").as_bytes());
    }
    answer.extend_from_slice(b"\r\n");
    let bytes = answer.len();

    let (client_end, server_end) = duplex(PIECE);
    let server = tokio::spawn(serve(server_end, answer));
    let client = Client::new(client_end);
    let mut session = client
        .login("user", "password")
        .await
        .map_err(|(err, _)| err)
        .expect("login");

    let started = Instant::now();
    let uids = session.uid_search("ALL").await.expect("uid_search");
    let elapsed = started.elapsed();
    assert_eq!(uids.len(), count as usize, "every UID arrived");
    drop(session);
    server.await.expect("server task");
    println!(
        "uid_search of {count:>9} UIDs ({:>5.1} MB line): {:>8.3} s",
        bytes as f64 / 1e6,
        elapsed.as_secs_f64()
    );
    elapsed
}

async fn time_long_line(total: usize, max_line: usize) {
    let (client_end, server_end) = duplex(PIECE);
    let server = tokio::spawn(async move {
        let mut server_end = server_end;
        let piece = [b'x'; PIECE];
        server_end.write_all(b"* OK ").await.ok();
        let mut sent = 0;
        while sent < total {
            if server_end.write_all(&piece).await.is_err() {
                break; // the client gave up
            }
            sent += PIECE;
        }
        sent
    });
    let mut client = Client::new(client_end);
    client.set_response_limits(ResponseLimits {
        max_line,
        ..ResponseLimits::default()
    }); // LIMITS
    let started = Instant::now();
    let result = client.read_response().await;
    let elapsed = started.elapsed();
    drop(client);
    let sent = server.await.expect("server task");
    match result {
        Err(err) => println!(
            "{} MB line without CRLF, line limit {} MiB: failed after {:.3} s, {} MB sent: {err}",
            total / 1_000_000,
            max_line >> 20,
            elapsed.as_secs_f64(),
            sent / 1_000_000
        ),
        Ok(response) => panic!("a line over the limit was accepted: {response:?}"),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "search".into());
    match mode.as_str() {
        "search" => {
            for count in [400_000, 800_000, 1_600_000] {
                time_uid_search(count).await;
            }
        }
        "long-line" => time_long_line(100_000_000, 64 << 20).await,
        other => panic!("unknown mode {other:?}: use search or long-line"),
    }
}
