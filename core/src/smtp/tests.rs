use super::*;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpListener;

#[test]
fn providers_that_file_the_sent_copy() {
    let cases = [
        ("smtp.gmail.com", true),
        ("SMTP.Gmail.com.", true),
        ("smtp.office365.com", true),
        ("smtp.example.test", false),
        ("127.0.0.1", false),
    ];
    for (host, want) in cases {
        assert_eq!(server_files_sent_copy(host), want, "{host}");
    }
}

const LIMITS: Limits = Limits {
    connect: Duration::from_secs(5),
    silence: Duration::from_millis(800),
};

struct Peer {
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

impl Peer {
    async fn line(&mut self) -> String {
        let mut line = String::new();
        self.read.read_line(&mut line).await.unwrap();
        line
    }

    async fn say(&mut self, text: &str) {
        self.write.write_all(text.as_bytes()).await.unwrap();
    }

    /// Greeting, EHLO and AUTH, all accepted.
    async fn welcome(&mut self) {
        self.say("220 canned.test ESMTP\r\n").await;
        assert!(self.line().await.starts_with("EHLO"));
        self.say("250-canned.test\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n")
            .await;
        assert!(self.line().await.starts_with("AUTH PLAIN"));
        self.say("235 ok\r\n").await;
    }

    /// Reads the message data up to its end; returns its length.
    async fn data(&mut self) -> usize {
        let mut total = 0;
        loop {
            let line = self.line().await;
            if line == ".\r\n" || line.is_empty() {
                return total;
            }
            total += line.len();
        }
    }
}

/// A server on this machine that runs `script` for one connection; `receive_buffer`
/// sets its socket's receive buffer (small: the kernel takes little on its behalf).
async fn canned<F, Fut>(receive_buffer: Option<usize>, script: F) -> ServerConfig
where
    F: FnOnce(Peer) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    if let Some(size) = receive_buffer {
        socket.set_recv_buffer_size(size as u32).unwrap();
    }
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener: TcpListener = socket.listen(1).unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, write) = stream.into_split();
        script(Peer {
            read: BufReader::new(read),
            write,
        })
        .await;
    });
    ServerConfig {
        host: "127.0.0.1".into(),
        port,
        security: Security::Plain,
        username: "me".into(),
        ca_file: None,
    }
}

async fn hold(peer: Peer) {
    tokio::time::sleep(Duration::from_secs(30)).await;
    drop(peer);
}

fn to() -> Vec<String> {
    vec!["bob@example.test".to_owned()]
}

#[tokio::test]
async fn a_server_silent_after_its_greeting_ends_in_the_silence_limit_naming_ehlo() {
    let server = canned(None, |mut peer| async move {
        peer.say("220 canned.test ESMTP\r\n").await;
        peer.line().await;
        hold(peer).await;
    })
    .await;
    let started = Instant::now();
    let err = SmtpSession::open(&server, "pw", LIMITS)
        .await
        .err()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(err.kind, ErrorKind::Timeout, "{err}");
    assert!(err.message.contains("EHLO"), "{err}");
    assert!(!err.message.contains('\n'));
    assert!(
        took >= LIMITS.silence && took < 4 * LIMITS.silence,
        "{took:?}"
    );
}

#[tokio::test]
async fn a_slow_answer_that_keeps_coming_is_never_cut() {
    let server = canned(None, |mut peer| async move {
        peer.say("220 canned.test ESMTP\r\n").await;
        peer.line().await;
        // Three silence limits for the whole answer, a fifth of one between bytes.
        let answer = "250-canned.test\r\n250 AUTH PLAIN\r\n";
        let pause = 3 * LIMITS.silence / answer.len() as u32;
        for byte in answer.bytes() {
            peer.write.write_all(&[byte]).await.unwrap();
            tokio::time::sleep(pause).await;
        }
        peer.line().await;
        peer.say("235 ok\r\n").await;
        hold(peer).await;
    })
    .await;
    let started = Instant::now();
    SmtpSession::open(&server, "pw", LIMITS).await.unwrap();
    assert!(started.elapsed() > 2 * LIMITS.silence);
}

#[tokio::test]
async fn a_large_message_the_server_takes_slowly_is_never_cut() {
    // 4 MiB taken at about 1.6 MB/s: some 2.5 s, three silence limits, with nothing
    // said by the server until the end.
    const SIZE: usize = 4 << 20;
    let server = canned(Some(16 * 1024), |mut peer| async move {
        peer.welcome().await;
        peer.line().await; // MAIL
        peer.say("250 ok\r\n").await;
        peer.line().await; // RCPT
        peer.say("250 ok\r\n").await;
        peer.line().await; // DATA
        peer.say("354 go\r\n").await;
        let mut taken = 0;
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let n = tokio::io::AsyncReadExt::read(&mut peer.read, &mut chunk)
                .await
                .unwrap();
            taken += n;
            if n == 0 || chunk[..n].ends_with(b"\r\n.\r\n") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(taken > SIZE);
        peer.say("250 queued\r\n").await;
        hold(peer).await;
    })
    .await;
    let mut raw = Vec::with_capacity(SIZE + 100);
    raw.extend_from_slice(b"Subject: big\r\n\r\n");
    while raw.len() < SIZE {
        raw.extend_from_slice(
            b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n",
        );
    }
    let mut session = SmtpSession::open(&server, "pw", LIMITS).await.unwrap();
    let started = Instant::now();
    let sent = session.send("me@example.test", &to(), &raw).await;
    let took = started.elapsed();
    assert_eq!(sent, Ok(()), "after {took:?}");
    assert!(
        took > 2 * LIMITS.silence,
        "the server took it too fast: {took:?}"
    );
}

async fn until_data(peer: &mut Peer) {
    peer.welcome().await;
    peer.line().await;
    peer.say("250 ok\r\n").await;
    peer.line().await;
    peer.say("250 ok\r\n").await;
    peer.line().await;
}

#[tokio::test]
async fn a_server_that_takes_none_of_the_message_ends_in_the_silence_limit() {
    let server = canned(Some(16 * 1024), |mut peer| async move {
        until_data(&mut peer).await;
        peer.say("354 go\r\n").await;
        hold(peer).await;
    })
    .await;
    let raw = vec![b'x'; 8 << 20];
    let mut session = SmtpSession::open(&server, "pw", LIMITS).await.unwrap();
    let started = Instant::now();
    let err = session.send("me@example.test", &to(), &raw).await;
    let took = started.elapsed();
    match err {
        Err(SendFailure::Retry(err)) => {
            assert!(err.message.contains("took none of the message"), "{err}")
        }
        other => panic!("{other:?}"),
    }
    assert!(took < 4 * LIMITS.silence, "{took:?}");
}

#[tokio::test]
async fn a_server_that_never_confirms_the_message_means_try_again() {
    let server = canned(None, |mut peer| async move {
        until_data(&mut peer).await;
        peer.say("354 go\r\n").await;
        peer.data().await;
        hold(peer).await;
    })
    .await;
    let mut session = SmtpSession::open(&server, "pw", LIMITS).await.unwrap();
    let started = Instant::now();
    let err = session
        .send("me@example.test", &to(), b"Subject: x\r\n\r\nhello\r\n")
        .await;
    let took = started.elapsed();
    match err {
        Err(SendFailure::Retry(err)) => {
            assert_eq!(err.kind, ErrorKind::Timeout);
            assert!(err.message.contains("did not confirm the message"), "{err}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        took >= LIMITS.silence && took < 20 * LIMITS.silence,
        "{took:?}"
    );
}

#[tokio::test]
async fn after_a_refused_recipient_the_next_message_goes_out_on_the_same_session() {
    let server = canned(None, |mut peer| async move {
        peer.welcome().await;
        assert!(peer.line().await.starts_with("MAIL FROM:<me@example.test>"));
        peer.say("250 ok\r\n").await;
        peer.line().await;
        peer.say("550 5.1.1 no such user\r\n").await;
        assert_eq!(peer.line().await, "RSET\r\n");
        peer.say("250 ok\r\n").await;
        peer.line().await;
        peer.say("250 ok\r\n").await;
        peer.line().await;
        peer.say("250 ok\r\n").await;
        peer.line().await;
        peer.say("354 go\r\n").await;
        peer.data().await;
        peer.say("250 queued\r\n").await;
        assert_eq!(peer.line().await, "QUIT\r\n");
        peer.say("221 bye\r\n").await;
    })
    .await;
    let mut session = SmtpSession::open(&server, "pw", LIMITS).await.unwrap();
    let raw = b"Subject: x\r\n\r\nhello\r\n";
    match session.send("me@example.test", &to(), raw).await {
        Err(SendFailure::Refused(err)) => {
            assert!(
                err.message.contains("RCPT TO") && err.message.contains("550"),
                "{err}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(session.reset().await);
    assert_eq!(session.send("me@example.test", &to(), raw).await, Ok(()));
    session.quit().await;
}
