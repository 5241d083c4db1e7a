//! POP3 client (RFC 1939) with CAPA (RFC 2449), STLS (RFC 2595), implicit TLS and AUTH
//! PLAIN (RFC 5034), falling back to USER/PASS. No maintained async crate offers STLS on
//! current rustls, so this is written here.
//!
//! Bounds: every wait ends once the server has been silent for the policy's silence
//! limit (an answer that keeps arriving is never cut); every answer has a size ceiling;
//! RETR streams into a sink, so a message costs no memory whatever its size.

mod wire;

use std::collections::VecDeque;
use std::io::Write;
use std::time::Duration;

use base64::Engine as _;

use crate::credentials::Login;
use crate::error::{Error, ErrorKind, Result, ServerCode};
use crate::model::{Security, ServerConfig};
use crate::net::{self, Activity, BoxStream, ConnectPolicy, Watched};
use crate::oauth::OAuthMechanism;
#[cfg(test)]
use wire::CHUNK;
use wire::{buffered, join_lines, Wire};

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
    login: Login,
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
        Self::connect_with(server, &Login::Password(password.to_owned()), policy).await
    }

    /// Like `connect`, with a password or an OAuth2 token.
    pub async fn connect_with(
        server: &ServerConfig,
        login: &Login,
        policy: &ConnectPolicy,
    ) -> Result<Self> {
        let mut conn = Self::open(server, login, policy).await?;
        conn.redial = Some(Redial {
            server: server.clone(),
            login: login.clone(),
            policy: policy.clone(),
        });
        Ok(conn)
    }

    async fn open(server: &ServerConfig, login: &Login, policy: &ConnectPolicy) -> Result<Self> {
        check_credentials(&server.username, login.secret())?;
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
        match login {
            Login::Password(password) => conn.login(&server.username, password).await?,
            Login::Bearer { token, mechanism } => {
                conn.login_bearer(&server.username, token, *mechanism)
                    .await?
            }
        }
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
        let mut conn = Self::open(&redial.server, &redial.login, &redial.policy).await?;
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

    /// AUTH XOAUTH2 or OAUTHBEARER with the token as initial response (RFC 5034).
    pub async fn login_bearer(
        &mut self,
        user: &str,
        token: &str,
        mechanism: OAuthMechanism,
    ) -> Result<()> {
        check_credentials(user, token)?;
        let b64 = &base64::engine::general_purpose::STANDARD;
        let line = format!(
            "AUTH {} {}\r\n",
            mechanism.as_str(),
            b64.encode(mechanism.initial_response(user, token))
        );
        let ack = format!("{}\r\n", b64.encode(mechanism.error_acknowledgement()));
        let result = bounded!(self, "AUTH", |wire| {
            wire.write(line.as_bytes()).await?;
            wire.sasl_status("AUTH", ack.as_bytes()).await
        });
        match result {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) if self.broken.is_none() => {
                let mut err = err.context(format!("the sign-in of '{user}' failed"));
                err.kind = ErrorKind::AuthFailed;
                Err(err)
            }
            Ok(Err(err)) | Err(err) => Err(err),
        }
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

#[cfg(test)]
mod tests;
