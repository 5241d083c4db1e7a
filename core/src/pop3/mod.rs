//! POP3 client (RFC 1939) with CAPA (RFC 2449), STLS (RFC 2595), implicit TLS and AUTH
//! PLAIN (RFC 5034), falling back to USER/PASS. No maintained async crate offers STLS on
//! current rustls, so this is written here.
//!
//! Bounds: every wait ends once the server has been silent for the policy's silence
//! limit (an answer that keeps arriving is never cut); every answer has a size ceiling;
//! RETR streams into a sink, so a message costs no memory whatever its size.

use std::collections::VecDeque;
use std::io::Write;
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream};

use crate::error::{server_text, Error, ErrorKind, Result, ServerCode};
use crate::model::{Security, ServerConfig};
use crate::net::{self, Activity, BoxStream, ConnectPolicy, Watched};

/// The longest status or listing line we accept (RFC 1939 allows 512 octets).
const LINE_LIMIT: usize = 64 << 10;
/// Message lines are read in pieces of at most this many bytes (lines may be longer).
const CHUNK: usize = 64 << 10;
/// What a CAPA answer may hold.
const CAPA_LIMIT: usize = 64 << 10;
/// What a UIDL or LIST answer may hold: some 400,000 messages with 40-octet UIDLs.
pub const LISTING_LIMIT: usize = 16 << 20;
/// What the header block from `TOP n 0` may hold.
pub const HEADER_LIMIT: usize = 1 << 20;
/// What `retr`, `retr_many` and `top` with body lines may hold in memory.
pub const IN_MEMORY_LIMIT: u64 = 64 << 20;

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

/// The answer to one RETR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retrieved {
    /// The whole message went into the sink: this many bytes.
    Message(u64),
    /// `-ERR`: the server will not give this message. The session goes on.
    Refused(Error),
}

/// How to open the session again after it was lost.
struct Redial {
    server: ServerConfig,
    password: String,
    policy: ConnectPolicy,
}

/// A logged-in POP3 session (the TRANSACTION state).
pub struct Pop3Connection {
    wire: Wire,
    pub caps: Pop3Caps,
    activity: Activity,
    silence_limit: Duration,
    /// RETRs sent ahead (PIPELINING) whose answers are still to be read, in order.
    pipelined: VecDeque<u32>,
    /// Why the session is out of step, once it is: nothing more is sent.
    broken: Option<String>,
    redial: Option<Redial>,
}

/// Runs one step of the conversation on `$conn.wire` until it is done or the server has
/// been silent for the silence limit (an answer that keeps arriving is never cut). Any
/// failure but a refusal leaves the session out of step.
macro_rules! bounded {
    ($conn:expr, $what:expr, |$wire:ident| $body:expr) => {{
        $conn.check()?;
        let $wire = &mut $conn.wire;
        let outcome = $conn
            .activity
            .bounded($conn.silence_limit, async { $body })
            .await;
        $conn.settle($what, outcome)
    }};
}

impl Pop3Connection {
    /// Connects, secures (implicit TLS or STLS), reads CAPA and logs in.
    pub async fn connect(
        server: &ServerConfig,
        password: &str,
        policy: &ConnectPolicy,
    ) -> Result<Self> {
        let mut conn = Self::open(server, password, policy).await?;
        conn.redial = Some(Redial {
            server: server.clone(),
            password: password.to_owned(),
            policy: policy.clone(),
        });
        Ok(conn)
    }

    async fn open(server: &ServerConfig, password: &str, policy: &ConnectPolicy) -> Result<Self> {
        check_credentials(&server.username, password)?;
        let target = format!("{}:{}", server.host, server.port);
        let limit = policy.connect_timeout;
        let activity = Activity::new();
        let tcp = Watched::new(
            net::connect_tcp(&server.host, server.port, limit).await?,
            activity.clone(),
        );
        let stream: BoxStream = match server.security {
            Security::Tls => Box::new(net::secure(tcp, server, limit).await?),
            Security::StartTls | Security::Plain => Box::new(tcp),
        };
        let mut conn = Self::start_watched(
            stream,
            target.clone(),
            limit,
            activity,
            policy.silence_limit,
        )
        .await?;
        if server.security == Security::StartTls {
            conn.command("STLS").await.map_err(|err| {
                Error::new(
                    ErrorKind::ProtocolUnsupported,
                    format!("{target} does not offer STLS: {err}"),
                )
            })?;
            // Nothing may be buffered across the upgrade (RFC 2595).
            let tcp = conn.wire.take_stream();
            let tls = net::secure(tcp, server, limit).await?;
            conn.wire.stream = buffered(Box::new(tls));
            conn.caps = conn.capa().await?;
        }
        conn.login(&server.username, password).await?;
        Ok(conn)
    }

    /// Reads the greeting and CAPA on an open stream (used by tests with canned servers).
    /// `limit` bounds the greeting and every silence after it.
    pub async fn start(stream: BoxStream, target: String, limit: Duration) -> Result<Self> {
        let activity = Activity::new();
        let stream: BoxStream = Box::new(Watched::new(stream, activity.clone()));
        Self::start_watched(stream, target, limit, activity, limit).await
    }

    async fn start_watched(
        stream: BoxStream,
        target: String,
        limit: Duration,
        activity: Activity,
        silence_limit: Duration,
    ) -> Result<Self> {
        let mut conn = Self {
            wire: Wire {
                stream: buffered(stream),
                target,
            },
            caps: Pop3Caps::default(),
            activity,
            silence_limit,
            pipelined: VecDeque::new(),
            broken: None,
            redial: None,
        };
        let greeting = tokio::time::timeout(limit, conn.wire.status("its greeting"))
            .await
            .map_err(|_| net::timed_out(&conn.wire.target, "its greeting", limit))?;
        match greeting {
            Ok(Ok(_)) => {}
            Err(err) if err.kind != ErrorKind::Protocol => return Err(err),
            _ => {
                return Err(Error::new(
                    ErrorKind::ProtocolUnsupported,
                    format!("{} did not greet like a POP3 server", conn.wire.target),
                ))
            }
        }
        conn.caps = conn.capa().await?;
        Ok(conn)
    }

    /// A new session with the same server, for one that was lost. This one is closed
    /// first: servers may lock the maildrop per session.
    pub async fn reconnect(self) -> Result<Self> {
        let Some(redial) = self.redial else {
            return Err(Error::new(
                ErrorKind::Network,
                format!("the session with {} was lost", self.wire.target),
            ));
        };
        drop(self.wire);
        let mut conn = Self::open(&redial.server, &redial.password, &redial.policy).await?;
        conn.redial = Some(redial);
        Ok(conn)
    }

    /// Why the session is out of step, if it is (then only `reconnect` helps).
    pub fn broken(&self) -> Option<&str> {
        self.broken.as_deref()
    }

    /// CAPA; a server without it has no extensions.
    async fn capa(&mut self) -> Result<Pop3Caps> {
        match self.multiline("CAPA", CAPA_LIMIT).await {
            Ok(lines) => Ok(Pop3Caps::from_lines(
                &lines
                    .iter()
                    .map(|l| String::from_utf8_lossy(l).trim().to_owned())
                    .collect::<Vec<_>>(),
            )),
            Err(err) if self.broken.is_none() => {
                tracing::debug!(%err, "no CAPA");
                Ok(Pop3Caps::default())
            }
            Err(err) => Err(err),
        }
    }

    /// AUTH PLAIN when offered (one round trip), else USER and PASS. A name or password
    /// with a line break (or any control character) is refused before anything is sent:
    /// it would end the command early and smuggle in another.
    pub async fn login(&mut self, user: &str, password: &str) -> Result<()> {
        check_credentials(user, password)?;
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
        result.map(|_| ()).map_err(|err| {
            if self.broken.is_some() || err.kind != ErrorKind::Protocol {
                return err;
            }
            // A maildrop in use by another session, or a server that wants a pause
            // between logins, is no wrong password (RFC 2449, RFC 3206).
            let busy = matches!(&err.code, Some(ServerCode::Other(code))
                if ["IN-USE", "LOGIN-DELAY", "SYS/TEMP"].contains(&code.as_str()));
            let mut err = err.context(format!("the login of '{user}' failed"));
            err.kind = if busy {
                ErrorKind::Network
            } else {
                ErrorKind::AuthFailed
            };
            err
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
            _ => Err(self.wire.bad_reply("STAT", &line)),
        }
    }

    /// (message number, unique id) of every message, the id as the server sent it:
    /// possibly empty, or the same for two messages.
    pub async fn uidl(&mut self) -> Result<Vec<(u32, String)>> {
        self.listing("UIDL", |n, rest| Some((n, rest.to_owned())))
            .await
    }

    /// (message number, size in octets) of every message.
    pub async fn list(&mut self) -> Result<Vec<(u32, u64)>> {
        self.listing("LIST", |n, rest| {
            Some((n, rest.split_whitespace().next()?.parse().ok()?))
        })
        .await
    }

    /// A listing, line by line. A line that cannot be read fails the listing once the
    /// answer is over, so the session stays in step.
    async fn listing<T>(
        &mut self,
        command: &str,
        parse: impl Fn(u32, &str) -> Option<T>,
    ) -> Result<Vec<T>> {
        self.command(command).await?;
        let mut items = Vec::new();
        let mut bad: Option<String> = None;
        bounded!(self, command, |wire| {
            wire.lines(command, LISTING_LIMIT, |line| {
                let text = String::from_utf8_lossy(line);
                let (number, rest) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
                match number.parse().ok().and_then(|n| parse(n, rest.trim())) {
                    Some(item) => items.push(item),
                    None => {
                        bad.get_or_insert_with(|| text.into_owned());
                    }
                }
            })
            .await
        })?;
        match bad {
            Some(line) => Err(self.wire.bad_reply(command, &line)),
            None => Ok(items),
        }
    }

    /// Sends these RETRs at once when the server offers PIPELINING (RFC 2449): one round
    /// trip instead of one each. `retr_to` then reads their answers, in this order.
    /// Without PIPELINING this does nothing and `retr_to` asks for each in turn.
    pub async fn pipeline_retrs(&mut self, numbers: &[u32]) -> Result<()> {
        if !self.caps.pipelining || numbers.is_empty() {
            return Ok(());
        }
        let commands: String = numbers.iter().map(|n| format!("RETR {n}\r\n")).collect();
        bounded!(self, "RETR", |wire| wire.write(commands.as_bytes()).await)?;
        self.pipelined.extend(numbers);
        Ok(())
    }

    /// One message, streamed into `sink` as it arrives: dot-unstuffed, with CRLF line
    /// ends. An answer that goes on past `ceiling` bytes is cut. Every error leaves the
    /// session out of step; a refusal (`-ERR`) does not.
    pub async fn retr_to<W: Write + ?Sized>(
        &mut self,
        number: u32,
        ceiling: u64,
        sink: &mut W,
    ) -> Result<Retrieved> {
        let what = format!("RETR {number}");
        match self.pipelined.front() {
            Some(&next) if next == number => {
                self.pipelined.pop_front();
            }
            Some(&next) => {
                return Err(Error::invalid(format!(
                    "{what} asked while the answer to RETR {next} is due"
                )))
            }
            None => {
                let command = format!("{what}\r\n");
                bounded!(self, &what, |wire| wire.write(command.as_bytes()).await)?;
            }
        }
        bounded!(self, &what, |wire| {
            match wire.status(&what).await? {
                Err(refusal) => Ok(Retrieved::Refused(refusal)),
                Ok(_) => wire
                    .message(&what, ceiling, sink)
                    .await
                    .map(Retrieved::Message),
            }
        })
    }

    /// A whole message in memory, dot-unstuffed, with CRLF line ends.
    pub async fn retr(&mut self, number: u32) -> Result<Vec<u8>> {
        Ok(self.retr_many(&[number]).await?.remove(0))
    }

    /// Whole messages in memory, in order, pipelined when offered. A refusal is an error;
    /// when more answers were due, the session is out of step after it.
    pub async fn retr_many(&mut self, numbers: &[u32]) -> Result<Vec<Vec<u8>>> {
        self.pipeline_retrs(numbers).await?;
        let mut messages = Vec::with_capacity(numbers.len());
        for &number in numbers {
            let mut message = Vec::new();
            match self.retr_to(number, IN_MEMORY_LIMIT, &mut message).await? {
                Retrieved::Message(_) => messages.push(message),
                Retrieved::Refused(err) => {
                    if !self.pipelined.is_empty() {
                        self.broken = Some(format!("{} (more answers were due)", err.message));
                    }
                    return Err(err);
                }
            }
        }
        Ok(messages)
    }

    /// The headers and the first `lines` lines of the body.
    pub async fn top(&mut self, number: u32, lines: u32) -> Result<Vec<u8>> {
        let limit = if lines == 0 {
            HEADER_LIMIT
        } else {
            IN_MEMORY_LIMIT as usize
        };
        Ok(join_lines(
            self.multiline(&format!("TOP {number} {lines}"), limit)
                .await?,
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

    /// Sends a command and returns its +OK line; -ERR is a refusal (a Protocol error
    /// with the server's response code, RFC 2449), after which the session goes on.
    async fn command(&mut self, command: &str) -> Result<String> {
        let verb = command.split(' ').next().unwrap_or(command).to_owned();
        let line = format!("{command}\r\n");
        bounded!(self, &verb, |wire| {
            wire.write(line.as_bytes()).await?;
            wire.status(&verb).await
        })?
    }

    /// A command with a multi-line answer: its lines, dot-unstuffed, without CRLF, at
    /// most `limit` bytes in all.
    async fn multiline(&mut self, command: &str, limit: usize) -> Result<Vec<Vec<u8>>> {
        self.command(command).await?;
        let mut lines = Vec::new();
        bounded!(self, command, |wire| {
            wire.lines(command, limit, |line| lines.push(line.to_vec()))
                .await
        })?;
        Ok(lines)
    }

    fn check(&self) -> Result<()> {
        match &self.broken {
            Some(why) => Err(Error::new(
                ErrorKind::Network,
                format!(
                    "the session with {} is out of step after: {why}",
                    self.wire.target
                ),
            )),
            None => Ok(()),
        }
    }

    /// The outcome of a bounded step: a silence becomes a timeout, and any failure
    /// marks the session as out of step.
    fn settle<T>(
        &mut self,
        what: &str,
        outcome: std::result::Result<Result<T>, Duration>,
    ) -> Result<T> {
        let result = outcome.unwrap_or_else(|silent| {
            Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "{} sent nothing for {} s while we waited for its answer to {what}; the connection is taken as lost",
                    self.wire.target,
                    silent.as_secs()
                ),
            ))
        });
        if let Err(err) = &result {
            self.broken.get_or_insert_with(|| err.message.clone());
        }
        result
    }
}

/// The byte stream of a session and the reading of POP3 answers from it.
struct Wire {
    stream: BufStream<BoxStream>,
    target: String,
}

impl Wire {
    fn take_stream(&mut self) -> BoxStream {
        let (placeholder, _) = tokio::io::duplex(1);
        std::mem::replace(&mut self.stream, buffered(Box::new(placeholder))).into_inner()
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let target = &self.target;
        self.stream
            .write_all(bytes)
            .await
            .map_err(|err| net::io_error(target, err))?;
        self.stream
            .flush()
            .await
            .map_err(|err| net::io_error(target, err))
    }

    /// A status line: Ok(Ok(line)) for +OK, Ok(Err(refusal)) for -ERR.
    async fn status(&mut self, what: &str) -> Result<Result<String>> {
        let mut raw = Vec::new();
        self.line(&mut raw, LINE_LIMIT, what).await?;
        strip_line_end(&mut raw);
        let line = String::from_utf8_lossy(&raw).into_owned();
        if line.starts_with("+OK") {
            Ok(Ok(line))
        } else if let Some(text) = line.strip_prefix("-ERR") {
            let text = text.trim();
            let code = text
                .strip_prefix('[')
                .and_then(|rest| rest.split_once(']'))
                .map(|(code, _)| ServerCode::from_atom(code));
            Ok(Err(Error::refused(
                format!("{} refused {what}: {}", self.target, server_text(text)),
                code,
            )))
        } else {
            Err(Error::protocol(format!(
                "{} answered {what} with neither +OK nor -ERR",
                self.target
            )))
        }
    }

    /// Appends one line (with its line end) to `buffer`; a line of `limit` bytes or more
    /// is an error, and so is the end of the connection.
    async fn line(&mut self, buffer: &mut Vec<u8>, limit: usize, what: &str) -> Result<()> {
        let start = buffer.len();
        let n = (&mut self.stream)
            .take(limit as u64)
            .read_until(b'\n', buffer)
            .await
            .map_err(|err| net::io_error(&self.target, err))?;
        if n == 0 {
            return Err(self.closed(what));
        }
        if buffer[start..].last() != Some(&b'\n') {
            return Err(if n >= limit {
                Error::protocol(format!(
                    "{} sent a line longer than {limit} bytes in its answer to {what}",
                    self.target
                ))
            } else {
                self.closed(what)
            });
        }
        Ok(())
    }

    /// The lines of a multi-line answer up to its final ".", dot-unstuffed and without
    /// line ends; more than `limit` bytes in all is an error.
    async fn lines(&mut self, what: &str, limit: usize, mut each: impl FnMut(&[u8])) -> Result<()> {
        let mut line = Vec::new();
        let mut total = 0;
        loop {
            line.clear();
            let remaining = limit.saturating_sub(total).max(3);
            self.line(&mut line, remaining + 1, what)
                .await
                .map_err(|err| self.over_limit(err, what, limit))?;
            total += line.len();
            strip_line_end(&mut line);
            if line == b"." {
                return Ok(());
            }
            if total > limit {
                return Err(self.too_long(what, limit));
            }
            let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
            each(unstuffed);
        }
    }

    /// The message that follows a +OK to RETR, streamed into `sink`: dot-unstuffed,
    /// with CRLF line ends, read in pieces of at most `CHUNK` bytes (a line may be
    /// longer than any buffer). Returns the bytes written.
    async fn message<W: Write + ?Sized>(
        &mut self,
        what: &str,
        ceiling: u64,
        sink: &mut W,
    ) -> Result<u64> {
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut at_line_start = true;
        // A piece that ended in CR, whose LF may begin the next piece.
        let mut held_cr = false;
        let mut written: u64 = 0;
        loop {
            chunk.clear();
            let n = (&mut self.stream)
                .take(CHUNK as u64)
                .read_until(b'\n', &mut chunk)
                .await
                .map_err(|err| net::io_error(&self.target, err))?;
            if n == 0 {
                return Err(self.closed(what));
            }
            let complete = chunk.ends_with(b"\n");
            let mut data = &chunk[..];
            if at_line_start {
                if complete && (data == b".\r\n" || data == b".\n") {
                    return Ok(written);
                }
                data = data.strip_prefix(b".").unwrap_or(data);
            }
            let mut out: [&[u8]; 3] = [b"", b"", b""];
            if held_cr && !data.starts_with(b"\n") {
                out[0] = b"\r";
            }
            held_cr = false;
            if complete {
                let content = &data[..data.len() - 1];
                out[1] = content.strip_suffix(b"\r").unwrap_or(content);
                out[2] = b"\r\n";
            } else if let Some(content) = data.strip_suffix(b"\r") {
                out[1] = content;
                held_cr = true;
            } else {
                out[1] = data;
            }
            at_line_start = complete;
            for piece in out {
                written += piece.len() as u64;
            }
            if written > ceiling {
                return Err(Error::protocol(format!(
                    "{} sent more than {ceiling} bytes for {what}, more than it announced: the answer was cut",
                    self.target
                )));
            }
            for piece in out {
                sink.write_all(piece).map_err(|err| {
                    Error::new(
                        ErrorKind::Storage,
                        format!("cannot keep the answer to {what}: {err}"),
                    )
                })?;
            }
        }
    }

    fn closed(&self, what: &str) -> Error {
        Error::new(
            ErrorKind::Network,
            format!(
                "{} closed the connection during its answer to {what}",
                self.target
            ),
        )
    }

    fn too_long(&self, what: &str, limit: usize) -> Error {
        Error::protocol(format!(
            "{} sent more than {limit} bytes in its answer to {what}: the answer was cut",
            self.target
        ))
    }

    fn over_limit(&self, err: Error, what: &str, limit: usize) -> Error {
        if err.kind == ErrorKind::Protocol {
            self.too_long(what, limit)
        } else {
            err
        }
    }

    fn bad_reply(&self, what: &str, line: &str) -> Error {
        Error::protocol(format!(
            "{} sent a reply to {what} we could not read: {}",
            self.target,
            server_text(line)
        ))
    }
}

/// Large reads for message bodies; commands are small.
fn buffered(stream: BoxStream) -> BufStream<BoxStream> {
    BufStream::with_capacity(CHUNK, 4 << 10, stream)
}

/// A user name or password that cannot be sent: a control character (CR, LF, NUL...)
/// would end the command early and start another.
fn check_credentials(user: &str, password: &str) -> Result<()> {
    for (what, value) in [("user name", user), ("password", password)] {
        if value.chars().any(char::is_control) {
            return Err(Error::invalid(format!(
                "the POP3 {what} contains a control character (such as a line break); it was not sent"
            )));
        }
    }
    Ok(())
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
    use std::future::Future;
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
            Pop3Connection::start(Box::new(client), "mute".into(), Duration::from_millis(100))
                .await;
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
        let wire =
            format!("+OK\r\n{split}\r\n{long}\r\n..dot\r\nbare LF\ninner\rCR\r\n..\r\n.\r\n");
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
}
