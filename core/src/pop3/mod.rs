//! POP3 client (RFC 1939) with CAPA (RFC 2449), STLS (RFC 2595), implicit TLS and AUTH
//! PLAIN (RFC 5034), falling back to USER/PASS. No maintained async crate offers STLS on
//! current rustls, so this is written here; every wait has a timeout.

use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream};

use crate::error::{Error, ErrorKind, Result};
use crate::model::{Security, ServerConfig};
use crate::net::ConnectPolicy;
use crate::net::{self, BoxStream};

const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest line we accept from a server (RFC 1939 allows 512; messages may be longer).
const MAX_LINE: usize = 1 << 20;

/// What the server announced with CAPA.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pop3Caps {
    pub stls: bool,
    pub uidl: bool,
    pub top: bool,
    pub user: bool,
    pub sasl_plain: bool,
    pub pipelining: bool,
    pub all: Vec<String>,
}

impl Pop3Caps {
    pub fn from_lines(lines: &[String]) -> Self {
        let mut caps = Self {
            all: lines.to_vec(),
            ..Self::default()
        };
        for line in lines {
            let mut words = line.split_whitespace();
            match words.next().map(str::to_ascii_uppercase).as_deref() {
                Some("STLS") => caps.stls = true,
                Some("UIDL") => caps.uidl = true,
                Some("TOP") => caps.top = true,
                Some("USER") => caps.user = true,
                Some("PIPELINING") => caps.pipelining = true,
                Some("SASL") => caps.sasl_plain = words.any(|m| m.eq_ignore_ascii_case("PLAIN")),
                _ => {}
            }
        }
        caps
    }
}

/// A logged-in POP3 session (the TRANSACTION state).
pub struct Pop3Connection {
    stream: BufStream<BoxStream>,
    target: String,
    pub caps: Pop3Caps,
}

impl Pop3Connection {
    /// Connects, secures (implicit TLS or STLS), reads CAPA and logs in.
    pub async fn connect(
        server: &ServerConfig,
        password: &str,
        policy: &ConnectPolicy,
    ) -> Result<Self> {
        let target = format!("{}:{}", server.host, server.port);
        let limit = policy.connect_timeout;
        let tcp = net::connect_tcp(&server.host, server.port, limit).await?;
        let stream: BoxStream = match server.security {
            Security::Tls => Box::new(net::secure(tcp, server, limit).await?),
            Security::StartTls | Security::Plain => Box::new(tcp),
        };
        let mut conn = Self::start(stream, target.clone(), limit).await?;
        if server.security == Security::StartTls {
            conn.command("STLS").await.map_err(|err| {
                Error::new(
                    ErrorKind::ProtocolUnsupported,
                    format!("{target} does not offer STLS: {err}"),
                )
            })?;
            // Nothing may be buffered across the upgrade (RFC 2595).
            let tcp = conn.stream.into_inner();
            let tls = net::secure(tcp, server, limit).await?;
            conn = Self {
                stream: BufStream::new(Box::new(tls)),
                target: target.clone(),
                caps: Pop3Caps::default(),
            };
            conn.caps = conn.capa().await?;
        }
        conn.login(&server.username, password).await?;
        Ok(conn)
    }

    /// Reads the greeting and CAPA on an open stream (used by tests with canned servers).
    pub async fn start(stream: BoxStream, target: String, limit: Duration) -> Result<Self> {
        let mut conn = Self {
            stream: BufStream::new(stream),
            target,
            caps: Pop3Caps::default(),
        };
        let greeting = tokio::time::timeout(limit, conn.read_line())
            .await
            .map_err(|_| net::timed_out(&conn.target, "its greeting", limit))??;
        if !greeting.starts_with("+OK") {
            return Err(Error::new(
                ErrorKind::ProtocolUnsupported,
                format!("{} did not greet like a POP3 server", conn.target),
            ));
        }
        conn.caps = conn.capa().await?;
        Ok(conn)
    }

    /// CAPA; a server without it has no extensions.
    async fn capa(&mut self) -> Result<Pop3Caps> {
        match self.multiline("CAPA").await {
            Ok(lines) => Ok(Pop3Caps::from_lines(
                &lines
                    .iter()
                    .map(|l| String::from_utf8_lossy(l).trim().to_owned())
                    .collect::<Vec<_>>(),
            )),
            Err(err) if err.kind == ErrorKind::Protocol => Ok(Pop3Caps::default()),
            Err(err) => Err(err),
        }
    }

    /// AUTH PLAIN when offered (one round trip), else USER and PASS.
    pub async fn login(&mut self, user: &str, password: &str) -> Result<()> {
        let result = if self.caps.sasl_plain {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
            self.command(&format!("AUTH PLAIN {token}")).await
        } else {
            match self.command(&format!("USER {user}")).await {
                Ok(_) => self.command(&format!("PASS {password}")).await,
                Err(err) => Err(err),
            }
        };
        result.map(|_| ()).map_err(|err| match err.kind {
            ErrorKind::Protocol => Error::new(
                ErrorKind::AuthFailed,
                format!(
                    "{} rejected the login of '{user}': {}",
                    self.target, err.message
                ),
            ),
            _ => err,
        })
    }

    /// (messages, octets) in the maildrop.
    pub async fn stat(&mut self) -> Result<(u32, u64)> {
        let line = self.command("STAT").await?;
        let mut words = line.split_whitespace().skip(1);
        let count = words.next().and_then(|w| w.parse().ok());
        let size = words.next().and_then(|w| w.parse().ok());
        match (count, size) {
            (Some(count), Some(size)) => Ok((count, size)),
            _ => Err(self.bad_reply("STAT", &line)),
        }
    }

    /// (message number, unique id) of every message.
    pub async fn uidl(&mut self) -> Result<Vec<(u32, String)>> {
        let lines = self.multiline("UIDL").await?;
        self.pairs("UIDL", &lines, |n, rest| Some((n, rest.to_owned())))
    }

    /// (message number, size in octets) of every message.
    pub async fn list(&mut self) -> Result<Vec<(u32, u64)>> {
        let lines = self.multiline("LIST").await?;
        self.pairs("LIST", &lines, |n, rest| Some((n, rest.parse().ok()?)))
    }

    /// A whole message, dot-unstuffed, with CRLF line ends.
    pub async fn retr(&mut self, number: u32) -> Result<Vec<u8>> {
        Ok(self.retr_many(&[number]).await?.remove(0))
    }

    /// Whole messages, in order. With PIPELINING (RFC 2449) every RETR goes out at once
    /// and the answers are read back to back: one round trip instead of one each. After
    /// an error the session is out of step: drop it.
    pub async fn retr_many(&mut self, numbers: &[u32]) -> Result<Vec<Vec<u8>>> {
        if !self.caps.pipelining {
            let mut messages = Vec::with_capacity(numbers.len());
            for &number in numbers {
                self.send(&format!("RETR {number}\r\n")).await?;
                messages.push(self.read_message(number).await?);
            }
            return Ok(messages);
        }
        let commands: String = numbers.iter().map(|n| format!("RETR {n}\r\n")).collect();
        self.send(&commands).await?;
        let mut messages = Vec::with_capacity(numbers.len());
        for &number in numbers {
            messages.push(self.read_message(number).await?);
        }
        Ok(messages)
    }

    async fn send(&mut self, commands: &str) -> Result<()> {
        let target = self.target.clone();
        let write = async {
            self.stream.write_all(commands.as_bytes()).await?;
            self.stream.flush().await
        };
        tokio::time::timeout(COMMAND_TIMEOUT, write)
            .await
            .map_err(|_| net::timed_out(&target, "sending a command", COMMAND_TIMEOUT))?
            .map_err(|err| net::io_error(&target, err))
    }

    /// The answer to one RETR: its status line, then the message read straight into
    /// one buffer (dot-unstuffed, CRLF line ends).
    async fn read_message(&mut self, number: u32) -> Result<Vec<u8>> {
        let target = self.target.clone();
        let read = async {
            let status = self.read_line().await?;
            if let Some(text) = status.strip_prefix("-ERR") {
                return Err(Error::protocol(format!(
                    "{target} refused RETR {number}:{}",
                    text.trim_end()
                )));
            }
            if !status.starts_with("+OK") {
                return Err(Error::protocol(format!(
                    "{target} answered RETR with neither +OK nor -ERR"
                )));
            }
            let mut message = Vec::new();
            loop {
                let start = message.len();
                self.read_raw_line_into(&mut message).await?;
                let mut line_end = message.len();
                if message[start..].ends_with(b"\n") {
                    line_end -= 1;
                    if line_end > start && message[line_end - 1] == b'\r' {
                        line_end -= 1;
                    }
                }
                if &message[start..line_end] == b"." {
                    message.truncate(start);
                    return Ok(message);
                }
                message.truncate(line_end);
                message.extend_from_slice(b"\r\n");
                if message.get(start) == Some(&b'.') {
                    message.remove(start);
                }
            }
        };
        tokio::time::timeout(COMMAND_TIMEOUT, read)
            .await
            .map_err(|_| net::timed_out(&self.target, &format!("RETR {number}"), COMMAND_TIMEOUT))?
    }

    /// The headers and the first `lines` lines of the body.
    pub async fn top(&mut self, number: u32, lines: u32) -> Result<Vec<u8>> {
        Ok(join_lines(
            self.multiline(&format!("TOP {number} {lines}")).await?,
        ))
    }

    /// Marks a message for deletion (carried out at QUIT).
    pub async fn dele(&mut self, number: u32) -> Result<()> {
        self.command(&format!("DELE {number}")).await.map(|_| ())
    }

    /// Unmarks everything marked for deletion.
    pub async fn rset(&mut self) -> Result<()> {
        self.command("RSET").await.map(|_| ())
    }

    pub async fn noop(&mut self) -> Result<()> {
        self.command("NOOP").await.map(|_| ())
    }

    /// Ends the session; the server deletes the marked messages now (UPDATE state).
    pub async fn quit(mut self) -> Result<()> {
        self.command("QUIT").await.map(|_| ())
    }

    fn pairs<T>(
        &self,
        what: &str,
        lines: &[Vec<u8>],
        parse: impl Fn(u32, &str) -> Option<T>,
    ) -> Result<Vec<T>> {
        lines
            .iter()
            .map(|line| {
                let text = String::from_utf8_lossy(line);
                let (number, rest) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
                number
                    .parse()
                    .ok()
                    .and_then(|n| parse(n, rest.trim()))
                    .ok_or_else(|| self.bad_reply(what, &text))
            })
            .collect()
    }

    fn bad_reply(&self, what: &str, line: &str) -> Error {
        Error::protocol(format!(
            "{} sent a reply to {what} we could not read: {}",
            self.target,
            line.trim()
        ))
    }

    /// Sends a command and returns its +OK line; -ERR becomes a Protocol error.
    async fn command(&mut self, command: &str) -> Result<String> {
        let verb = command.split(' ').next().unwrap_or(command).to_owned();
        let target = self.target.clone();
        let run = async {
            self.stream
                .write_all(format!("{command}\r\n").as_bytes())
                .await
                .map_err(|err| net::io_error(&target, err))?;
            self.stream
                .flush()
                .await
                .map_err(|err| net::io_error(&target, err))?;
            let line = self.read_line().await?;
            if line.starts_with("+OK") {
                Ok(line)
            } else if let Some(text) = line.strip_prefix("-ERR") {
                Err(Error::protocol(format!(
                    "{target} refused {verb}:{}",
                    text.trim_end()
                )))
            } else {
                Err(Error::protocol(format!(
                    "{target} answered {verb} with neither +OK nor -ERR"
                )))
            }
        };
        tokio::time::timeout(COMMAND_TIMEOUT, run)
            .await
            .map_err(|_| net::timed_out(&self.target, &verb, COMMAND_TIMEOUT))?
    }

    /// A command with a multi-line answer: its lines, dot-unstuffed, without CRLF.
    async fn multiline(&mut self, command: &str) -> Result<Vec<Vec<u8>>> {
        self.command(command).await?;
        let target = self.target.clone();
        let read = async {
            let mut lines = Vec::new();
            loop {
                let mut line = self.read_raw_line().await?;
                strip_line_end(&mut line);
                if line == b"." {
                    return Ok(lines);
                }
                if line.first() == Some(&b'.') {
                    line.remove(0);
                }
                lines.push(line);
            }
        };
        tokio::time::timeout(COMMAND_TIMEOUT, read)
            .await
            .map_err(|_| net::timed_out(&target, command, COMMAND_TIMEOUT))?
    }

    async fn read_line(&mut self) -> Result<String> {
        let mut line = self.read_raw_line().await?;
        strip_line_end(&mut line);
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    async fn read_raw_line(&mut self) -> Result<Vec<u8>> {
        let mut line = Vec::new();
        self.read_raw_line_into(&mut line).await?;
        Ok(line)
    }

    /// Appends one line (with its line end) to `buffer`.
    async fn read_raw_line_into(&mut self, buffer: &mut Vec<u8>) -> Result<()> {
        let n = (&mut self.stream)
            .take(MAX_LINE as u64)
            .read_until(b'\n', buffer)
            .await
            .map_err(|err| net::io_error(&self.target, err))?;
        if n == 0 {
            return Err(Error::new(
                ErrorKind::Network,
                format!("{} closed the connection", self.target),
            ));
        }
        if n == MAX_LINE && buffer.last() != Some(&b'\n') {
            return Err(Error::protocol(format!(
                "{} sent a line longer than {MAX_LINE} bytes",
                self.target
            )));
        }
        Ok(())
    }
}

fn strip_line_end(line: &mut Vec<u8>) {
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
}

fn join_lines(lines: Vec<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines.iter().map(|l| l.len() + 2).sum());
    for line in lines {
        out.extend_from_slice(&line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::DuplexStream;

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
            Pop3Connection::start(Box::new(client), "mute".into(), Duration::from_millis(100))
                .await;
        assert_eq!(result.err().unwrap().kind, ErrorKind::Timeout);
    }
}
