use super::*;
use std::future::Future;
use tokio::io::DuplexStream;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

/// A canned server: for each step, the line the client must send (None: nothing,
/// just the server speaking) and what the server answers.
async fn serve(mut server: DuplexStream, script: Vec<(Option<&'static str>, &'static str)>) {
    let mut buf = Vec::new();
    for (expect, reply) in script {
        if let Some(expected) = expect {
            loop {
                if let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
                    let line: Vec<u8> = buf.drain(..end + 2).collect();
                    assert_eq!(String::from_utf8_lossy(&line[..end]), expected);
                    break;
                }
                let mut chunk = [0u8; 1024];
                let n = server.read(&mut chunk).await.unwrap();
                assert!(n > 0, "client hung up, expected {expected:?}");
                buf.extend_from_slice(&chunk[..n]);
            }
        }
        server.write_all(reply.as_bytes()).await.unwrap();
    }
}

async fn session(script: Vec<(Option<&'static str>, &'static str)>) -> Result<Pop3Connection> {
    let (client, server) = tokio::io::duplex(1 << 16);
    tokio::spawn(serve(server, script));
    Pop3Connection::start(Box::new(client), "canned".into(), Duration::from_secs(5)).await
}

const CAPA: &str = "+OK\r\nTOP\r\nUIDL\r\nUSER\r\nSASL PLAIN LOGIN\r\nPIPELINING\r\n.\r\n";

#[tokio::test]
async fn retrs_are_pipelined_when_offered() {
    let mut conn = session(vec![
        (None, "+OK POP3 ready\r\n"),
        (Some("CAPA"), CAPA),
        // Nothing is answered before the second RETR arrives: only a client that
        // pipelines gets past this step.
        (Some("RETR 3"), ""),
        (
            Some("RETR 1"),
            "+OK\r\nSubject: three\r\n\r\n..dot\nbare LF\r\n.\r\n+OK\r\nSubject: one\r\n\r\nx\r\n.\r\n",
        ),
        (Some("RETR 9"), ""),
        (Some("RETR 2"), "-ERR no such message\r\n"),
    ])
    .await
    .unwrap();
    let messages = tokio::time::timeout(Duration::from_secs(5), conn.retr_many(&[3, 1]))
        .await
        .expect("RETRs were not pipelined")
        .unwrap();
    assert_eq!(
        messages,
        [
            b"Subject: three\r\n\r\n.dot\r\nbare LF\r\n".to_vec(),
            b"Subject: one\r\n\r\nx\r\n".to_vec()
        ]
    );
    let err = tokio::time::timeout(Duration::from_secs(5), conn.retr_many(&[9, 2]))
        .await
        .expect("RETRs were not pipelined")
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Protocol);
    assert!(err.message.contains("RETR 9"), "{err}");
}

#[tokio::test]
async fn capa_sasl_plain_uidl_retr_with_dot_unstuffing() {
    let mut conn = session(vec![
        (None, "+OK POP3 ready\r\n"),
        (Some("CAPA"), CAPA),
        (Some("AUTH PLAIN AGFsaWNlAHNlY3JldA=="), "+OK logged in\r\n"),
        (Some("STAT"), "+OK 2 320\r\n"),
        (
            Some("UIDL"),
            "+OK\r\n1 000000010000000a\r\n2 000000020000000a\r\n.\r\n",
        ),
        (Some("LIST"), "+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n"),
        (
            Some("RETR 2"),
            "+OK 200 octets\r\nSubject: dots\r\n\r\n..leading dot\r\n...two\r\nend\r\n.\r\n",
        ),
        (Some("TOP 1 0"), "+OK\r\nSubject: first\r\n\r\n.\r\n"),
        (Some("DELE 1"), "+OK marked\r\n"),
        (Some("RSET"), "+OK\r\n"),
        (Some("NOOP"), "+OK\r\n"),
        (Some("QUIT"), "+OK bye\r\n"),
    ])
    .await
    .unwrap();
    assert!(conn.caps.sasl_plain && conn.caps.uidl && conn.caps.top && !conn.caps.stls);
    conn.login("alice", "secret").await.unwrap();
    assert_eq!(conn.stat().await.unwrap(), (2, 320));
    assert_eq!(
        conn.uidl().await.unwrap(),
        [
            (1, "000000010000000a".to_owned()),
            (2, "000000020000000a".to_owned())
        ]
    );
    assert_eq!(conn.list().await.unwrap(), [(1, 120), (2, 200)]);
    let raw = conn.retr(2).await.unwrap();
    assert_eq!(
        raw,
        b"Subject: dots\r\n\r\n.leading dot\r\n..two\r\nend\r\n"
    );
    assert_eq!(conn.top(1, 0).await.unwrap(), b"Subject: first\r\n\r\n");
    conn.dele(1).await.unwrap();
    conn.rset().await.unwrap();
    conn.noop().await.unwrap();
    conn.quit().await.unwrap();
}

#[tokio::test]
async fn user_pass_without_capa_and_a_refused_password() {
    let mut conn = session(vec![
        (None, "+OK hello\r\n"),
        (Some("CAPA"), "-ERR unknown command\r\n"),
        (Some("USER bob"), "+OK\r\n"),
        (Some("PASS wrong"), "-ERR [AUTH] invalid password\r\n"),
    ])
    .await
    .unwrap();
    assert_eq!(conn.caps, Pop3Caps::default());
    let err = conn.login("bob", "wrong").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::AuthFailed, "{err}");
    assert!(err.message.contains("invalid password"), "{err}");
}

#[tokio::test]
async fn a_busy_maildrop_is_no_wrong_password() {
    let mut conn = session(vec![
        (None, "+OK hello\r\n"),
        (Some("CAPA"), "+OK\r\nUSER\r\n.\r\n"),
        (Some("USER bob"), "+OK\r\n"),
        (Some("PASS pw"), "-ERR [IN-USE] maildrop locked\r\n"),
        (Some("USER bob"), "+OK\r\n"),
        (Some("PASS pw"), "-ERR [AUTH] no\r\n"),
    ])
    .await
    .unwrap();
    let busy = conn.login("bob", "pw").await.unwrap_err();
    assert_eq!(busy.kind, ErrorKind::Network, "{busy}");
    assert!(busy.message.contains("maildrop locked"), "{busy}");
    let wrong = conn.login("bob", "pw").await.unwrap_err();
    assert_eq!(wrong.kind, ErrorKind::AuthFailed, "{wrong}");
}

#[tokio::test]
async fn broken_replies_are_clear_errors() {
    let not_pop = session(vec![(None, "* OK IMAP4rev1 ready\r\n")]).await;
    assert_eq!(not_pop.err().unwrap().kind, ErrorKind::ProtocolUnsupported);

    let mut conn = session(vec![
        (None, "+OK\r\n"),
        (Some("CAPA"), "+OK\r\n.\r\n"),
        (Some("STAT"), "+OK many\r\n"),
        (Some("UIDL"), "+OK\r\nnot-a-number x\r\n.\r\n"),
        (Some("NOOP"), "what?\r\n"),
    ])
    .await
    .unwrap();
    assert_eq!(conn.stat().await.unwrap_err().kind, ErrorKind::Protocol);
    assert_eq!(conn.uidl().await.unwrap_err().kind, ErrorKind::Protocol);
    assert_eq!(conn.noop().await.unwrap_err().kind, ErrorKind::Protocol);
}

#[tokio::test]
async fn a_server_that_goes_away_is_a_network_error() {
    let mut conn = session(vec![(None, "+OK\r\n"), (Some("CAPA"), "+OK\r\n.\r\n")])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(conn.noop().await.unwrap_err().kind, ErrorKind::Network);
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let (client, _server) = tokio::io::duplex(1024);
    let result =
        Pop3Connection::start(Box::new(client), "mute".into(), Duration::from_millis(100)).await;
    assert_eq!(result.err().unwrap().kind, ErrorKind::Timeout);
}

/// A server that greets, answers CAPA, then runs `rest` on the stream.
async fn scripted<F, Fut>(caps: &'static str, limit: Duration, rest: F) -> Pop3Connection
where
    F: FnOnce(tokio::io::BufReader<DuplexStream>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let (client, server) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        let mut server = tokio::io::BufReader::new(server);
        server.write_all(b"+OK ready\r\n").await.unwrap();
        let mut line = String::new();
        server.read_line(&mut line).await.unwrap();
        assert_eq!(line, "CAPA\r\n");
        server.write_all(caps.as_bytes()).await.unwrap();
        rest(server).await;
    });
    Pop3Connection::start(Box::new(client), "scripted".into(), limit)
        .await
        .unwrap()
}

async fn expect_line(server: &mut tokio::io::BufReader<DuplexStream>, expected: &str) {
    let mut line = String::new();
    server.read_line(&mut line).await.unwrap();
    assert_eq!(line.trim_end(), expected);
}

#[tokio::test]
async fn retr_streams_dot_unstuffed_crlf_lines_of_any_length() {
    // A line whose CR ends one piece and whose LF begins the next, a line three
    // pieces long, dot-stuffing, a bare LF and a bare CR inside a line.
    let split = "a".repeat(CHUNK - 1);
    let long = "b".repeat(3 * CHUNK + 5);
    let wire = format!("+OK\r\n{split}\r\n{long}\r\n..dot\r\nbare LF\ninner\rCR\r\n..\r\n.\r\n");
    let expected = format!("{split}\r\n{long}\r\n.dot\r\nbare LF\r\ninner\rCR\r\n.\r\n");
    let mut conn = scripted(CAPA, Duration::from_secs(5), move |mut server| async move {
        expect_line(&mut server, "RETR 1").await;
        server.write_all(wire.as_bytes()).await.unwrap();
        expect_line(&mut server, "NOOP").await;
        server.write_all(b"+OK\r\n").await.unwrap();
    })
    .await;
    let mut sink = Vec::new();
    let got = conn.retr_to(1, 1 << 20, &mut sink).await.unwrap();
    assert_eq!(got, Retrieved::Message(expected.len() as u64));
    assert_eq!(String::from_utf8(sink).unwrap(), expected);
    conn.noop().await.unwrap();
}

#[tokio::test]
async fn an_answer_past_its_ceiling_is_cut_and_the_session_is_lost() {
    let mut conn = scripted(CAPA, Duration::from_secs(5), |mut server| async move {
        expect_line(&mut server, "RETR 1").await;
        server.write_all(b"+OK\r\n").await.unwrap();
        let line = [b'x'; 99]
            .iter()
            .chain(b"\r\n")
            .copied()
            .collect::<Vec<u8>>();
        // Endless, until the client hangs up.
        while server.write_all(&line).await.is_ok() {}
    })
    .await;
    let mut sink = Vec::new();
    let err = conn.retr_to(1, 10_000, &mut sink).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Protocol, "{err}");
    assert!(err.message.contains("was cut"), "{err}");
    assert!(sink.len() <= 10_000, "{} bytes kept", sink.len());
    assert!(conn.broken().is_some());
    assert_eq!(conn.noop().await.unwrap_err().kind, ErrorKind::Network);
}

#[tokio::test]
async fn a_slow_answer_is_never_cut_but_a_silent_one_is() {
    let limit = Duration::from_millis(300);
    let mut conn = scripted(CAPA, limit, |mut server| async move {
        expect_line(&mut server, "RETR 1").await;
        server.write_all(b"+OK\r\n").await.unwrap();
        // Twice the silence limit in all, never silent for long.
        for i in 0..12 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            server
                .write_all(format!("line {i}\r\n").as_bytes())
                .await
                .unwrap();
        }
        server.write_all(b".\r\n").await.unwrap();
        expect_line(&mut server, "RETR 2").await;
        server
            .write_all(b"+OK\r\nhalf a message\r\n")
            .await
            .unwrap();
        std::future::pending::<()>().await;
    })
    .await;
    let started = std::time::Instant::now();
    let mut sink = Vec::new();
    let got = conn.retr_to(1, 1 << 20, &mut sink).await.unwrap();
    assert!(started.elapsed() > limit, "the answer was not slow");
    assert!(matches!(got, Retrieved::Message(_)));
    assert!(String::from_utf8_lossy(&sink).ends_with("line 11\r\n"));
    let started = std::time::Instant::now();
    let err = conn.retr_to(2, 1 << 20, &mut Vec::new()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout, "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(conn.broken().is_some());
}

#[tokio::test]
async fn a_refusal_in_a_pipeline_leaves_the_session_in_step() {
    let mut conn = scripted(CAPA, Duration::from_secs(5), |mut server| async move {
        for n in [3, 2, 1] {
            expect_line(&mut server, &format!("RETR {n}")).await;
        }
        server
            .write_all(b"+OK\r\nthree\r\n.\r\n-ERR [IN-USE] locked\r\n+OK\r\none\r\n.\r\n")
            .await
            .unwrap();
        expect_line(&mut server, "NOOP").await;
        server.write_all(b"+OK\r\n").await.unwrap();
    })
    .await;
    conn.pipeline_retrs(&[3, 2, 1]).await.unwrap();
    let mut three = Vec::new();
    assert!(matches!(
        conn.retr_to(3, 1000, &mut three).await.unwrap(),
        Retrieved::Message(7)
    ));
    let refused = match conn.retr_to(2, 1000, &mut Vec::new()).await.unwrap() {
        Retrieved::Refused(err) => err,
        other => panic!("{other:?}"),
    };
    assert_eq!(refused.code, Some(ServerCode::Other("IN-USE".into())));
    assert!(refused.message.contains("RETR 2"), "{refused}");
    let mut one = Vec::new();
    conn.retr_to(1, 1000, &mut one).await.unwrap();
    assert_eq!((three, one), (b"three\r\n".to_vec(), b"one\r\n".to_vec()));
    assert!(conn.broken().is_none());
    conn.noop().await.unwrap();
}

#[tokio::test]
async fn line_breaks_in_credentials_are_refused_before_anything_is_sent() {
    let mut conn = scripted(CAPA, Duration::from_secs(5), |mut server| async move {
        // Nothing of the login reaches the server: the next line is the NOOP.
        expect_line(&mut server, "NOOP").await;
        server.write_all(b"+OK\r\n").await.unwrap();
    })
    .await;
    for (user, password) in [
        ("bob\r\nDELE 1", "pw"),
        ("bob", "pw\nQUIT"),
        ("bob", "p\0w"),
        ("bob\t", "pw"),
    ] {
        let err = conn.login(user, password).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput, "{user:?} {password:?}");
    }
    tokio::time::timeout(Duration::from_secs(5), conn.noop())
        .await
        .expect("the server saw more than the NOOP")
        .unwrap();
}

#[tokio::test]
async fn an_endless_listing_is_cut_at_its_limit() {
    let mut conn = scripted(CAPA, Duration::from_secs(5), |mut server| async move {
        expect_line(&mut server, "UIDL").await;
        server.write_all(b"+OK\r\n").await.unwrap();
        let mut n = 0u64;
        loop {
            n += 1;
            let line = format!("{n} uidl-{n:032}\r\n");
            if server.write_all(line.as_bytes()).await.is_err() {
                return;
            }
        }
    })
    .await;
    let err = conn.uidl().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Protocol, "{err}");
    assert!(err.message.contains("was cut"), "{err}");
}
