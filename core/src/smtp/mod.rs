//! Sending with SMTP: implicit TLS, STARTTLS (required, never opportunistic) or plain on
//! explicit opt-in, with AUTH. lettre speaks the protocol over a TCP stream of ours that
//! notes every byte moved either way, so each step (greeting, EHLO, STARTTLS, AUTH,
//! MAIL, RCPT, DATA, the message and its final reply) ends once the server has been
//! silent, and taken nothing, for the silence limit; a large message that keeps going
//! out is never cut. Failures are sorted into "try again later" and "refused for good",
//! which decides what the outbox does.

use std::fmt::Debug;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use lettre::address::Address as SmtpAddress;
use lettre::transport::smtp::authentication::{Credentials, Mechanism, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters,
};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::Error as SmtpError;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::credentials::Login;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Security, ServerConfig};
use crate::net::{self, ConnectPolicy};

/// How one attempt to hand a message to the server ended, when it did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFailure {
    /// The server cannot be reached, went silent or said "try later": keep the message
    /// queued.
    Retry(Error),
    /// The server refused this message for good (5xx on MAIL, RCPT or DATA).
    Refused(Error),
}

/// How long the steps of a session may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connecting, the TLS handshake and the greeting.
    pub connect: Duration,
    /// How long the server may stay silent, and take none of what we send, in any later
    /// step.
    pub silence: Duration,
}

impl From<&ConnectPolicy> for Limits {
    fn from(policy: &ConnectPolicy) -> Self {
        Self {
            connect: policy.connect_timeout,
            silence: policy.silence_limit,
        }
    }
}

/// The socket's send buffer. Bytes in it that have not reached the server are progress
/// we cannot see: when the last of a message is written, the server may still have this
/// much to take before it can answer. Left to the kernel, the buffer grows to megabytes,
/// which a slow uplink needs longer than the silence limit to drain; this much drains in
/// 16 s at 256 kbit/s and still allows about 40 Mbit/s at 100 ms round trip (Linux
/// doubles the value).
const SEND_BUFFER: usize = 256 * 1024;

/// How long QUIT may take: everything that matters was done before it.
const QUIT_LIMIT: Duration = Duration::from_secs(5);

fn clock() -> Duration {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// What moved on a connection, either way, and when it last did.
#[derive(Debug, Default)]
struct TrafficState {
    last_ms: AtomicU64,
    sent: AtomicU64,
}

#[derive(Debug, Clone, Default)]
struct Traffic(Arc<TrafficState>);

impl Traffic {
    fn touch(&self) {
        self.0
            .last_ms
            .store(clock().as_millis() as u64, Ordering::Relaxed);
    }

    fn silent_for(&self) -> Duration {
        clock().saturating_sub(Duration::from_millis(
            self.0.last_ms.load(Ordering::Relaxed),
        ))
    }

    /// Bytes the kernel took from us so far.
    fn sent(&self) -> u64 {
        self.0.sent.load(Ordering::Relaxed)
    }

    /// Waits for `fut`, failing with how long it was silent once nothing has moved for
    /// `limit()` (asked anew at every check, at least once a second).
    async fn bounded<T>(
        &self,
        limit: impl Fn() -> Duration,
        fut: impl Future<Output = T>,
    ) -> std::result::Result<T, Duration> {
        self.touch();
        tokio::pin!(fut);
        loop {
            let wait = limit()
                .saturating_sub(self.silent_for())
                .clamp(Duration::from_millis(50), Duration::from_secs(1));
            tokio::select! {
                value = &mut fut => return Ok(value),
                _ = tokio::time::sleep(wait) => {
                    let silent = self.silent_for();
                    if silent >= limit() {
                        return Err(silent);
                    }
                }
            }
        }
    }
}

/// The TCP stream, noting in `traffic` every byte that arrives or that the kernel takes.
#[derive(Debug)]
struct Counted {
    inner: TcpStream,
    traffic: Traffic,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.traffic.touch();
        }
        result
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            if n > 0 {
                self.traffic.touch();
                self.traffic.0.sent.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What lettre talks over: the counted stream, with TLS on it for implicit TLS.
#[derive(Debug)]
struct Link<S> {
    inner: S,
    peer: SocketAddr,
}

impl<S: AsyncRead + Unpin> AsyncRead for Link<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Link<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + Sync + Debug> AsyncTokioStream for Link<S> {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.peer)
    }
}

fn starttls_parameters(server: &ServerConfig) -> Result<TlsParameters> {
    net::verifier_ready()?;
    let mut params = TlsParameters::builder(server.host.clone());
    if let Some(path) = &server.ca_file {
        let pem = std::fs::read(path)
            .map_err(|err| Error::invalid(format!("cannot read CA file {path}: {err}")))?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|err| Error::invalid(format!("bad certificate in {path}: {err}")))?;
        params = params.add_root_certificate(cert);
    }
    params
        .build_rustls()
        .map_err(|err| Error::new(ErrorKind::Tls, format!("TLS set-up failed: {err}")))
}

/// Runs one protocol step, bounded by silence.
async fn step<T>(
    traffic: &Traffic,
    limit: Duration,
    target: &str,
    name: &str,
    fut: impl Future<Output = std::result::Result<T, SmtpError>>,
) -> std::result::Result<T, SendFailure> {
    match traffic.bounded(|| limit, fut).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(classify(target, name, &err)),
        Err(silent) => Err(SendFailure::Retry(silence(target, name, silent))),
    }
}

/// `step` on a session's connection.
macro_rules! step {
    ($session:expr, $name:expr, $conn:ident => $fut:expr) => {{
        let $conn = &mut $session.conn;
        step(
            &$session.traffic,
            $session.limits.silence,
            &$session.target,
            $name,
            $fut,
        )
        .await
    }};
}

/// A logged-in SMTP session: messages go out one after another, then `quit`.
pub struct SmtpSession {
    conn: AsyncSmtpConnection,
    traffic: Traffic,
    limits: Limits,
    target: String,
}

impl SmtpSession {
    /// Connects, reads the greeting, says EHLO, starts TLS as configured and logs in.
    /// Every failure here may pass (it is about the server or the account, not a message).
    pub async fn open(
        server: &ServerConfig,
        password: &str,
        limits: impl Into<Limits>,
    ) -> Result<Self> {
        Self::open_with(server, &Login::Password(password.to_owned()), limits).await
    }

    /// Like `open`, with a password (PLAIN or LOGIN) or an OAuth2 token (XOAUTH2, the
    /// one token mechanism every provider's SMTP server takes).
    pub async fn open_with(
        server: &ServerConfig,
        login: &Login,
        limits: impl Into<Limits>,
    ) -> Result<Self> {
        let limits = limits.into();
        let target = format!("{}:{}", server.host, server.port);
        let tcp = net::connect_tcp(&server.host, server.port, limits.connect).await?;
        if let Err(err) = socket2::SockRef::from(&tcp).set_send_buffer_size(SEND_BUFFER) {
            tracing::debug!(%err, "cannot size the send buffer");
        }
        let peer = tcp.peer_addr().map_err(|err| net::io_error(&target, err))?;
        let traffic = Traffic::default();
        let counted = Counted {
            inner: tcp,
            traffic: traffic.clone(),
        };
        let stream: Box<dyn AsyncTokioStream> = match server.security {
            Security::Tls => Box::new(Link {
                inner: net::secure(counted, server, limits.connect).await?,
                peer,
            }),
            Security::StartTls | Security::Plain => Box::new(Link {
                inner: counted,
                peer,
            }),
        };
        let hello = ClientId::default();
        // The greeting within the connect limit; once EHLO went out, the silence limit.
        let greeted = traffic
            .bounded(
                || match traffic.sent() {
                    0 => limits.connect,
                    _ => limits.silence,
                },
                AsyncSmtpConnection::connect_with_transport(stream, &hello),
            )
            .await;
        let conn = match greeted {
            Ok(conn) => conn.map_err(|err| failure_error(classify(&target, "EHLO", &err)))?,
            Err(silent) if traffic.sent() == 0 => {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "the SMTP server {target} sent no greeting within {:.0} s",
                        silent.as_secs_f64()
                    ),
                ))
            }
            Err(silent) => return Err(silence(&target, "EHLO", silent)),
        };
        let mut session = Self {
            conn,
            traffic,
            limits,
            target,
        };
        if server.security == Security::StartTls {
            let params = starttls_parameters(server)?;
            step!(session, "STARTTLS", conn => conn.starttls(params, &hello))
                .map_err(failure_error)?;
        }
        let credentials = Credentials::new(server.username.clone(), login.secret().to_owned());
        let mechanisms = match login {
            Login::Password(_) => DEFAULT_MECHANISMS,
            Login::Bearer { .. } => &[Mechanism::Xoauth2],
        };
        step!(session, "AUTH", conn => conn.auth(mechanisms, &credentials))
            .map_err(failure_error)
            .map_err(|mut err| {
                // lettre gives up on XOAUTH2's error challenge (Gmail sends one before
                // its 535) with an error of its own: still a refused token.
                if login.is_bearer() && err.message.contains("does not expect a challenge") {
                    err.kind = ErrorKind::AuthFailed;
                }
                err
            })?;
        Ok(session)
    }

    /// Hands one message to the server. `Ok` means the server answered the message's end
    /// with 250: from then on it is the server's to deliver.
    pub async fn send(
        &mut self,
        mail_from: &str,
        recipients: &[String],
        raw: &[u8],
    ) -> std::result::Result<(), SendFailure> {
        let refuse = |text: String| SendFailure::Refused(Error::new(ErrorKind::SendRefused, text));
        let parse = |what: &str| {
            what.parse::<SmtpAddress>().map_err(|err| {
                SendFailure::Refused(Error::invalid(format!(
                    "'{what}' is not a valid address: {err}"
                )))
            })
        };
        let from = parse(mail_from)?;
        let to = recipients
            .iter()
            .map(|r| parse(r))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err(SendFailure::Refused(Error::invalid(
                "the message has no recipients",
            )));
        }
        let info = self.conn.server_info();
        let mut options = Vec::new();
        if !mail_from.is_ascii() || recipients.iter().any(|r| !r.is_ascii()) {
            if !info.supports_feature(Extension::SmtpUtfEight) {
                return Err(refuse(format!(
                    "the SMTP server {} takes no addresses with non-ASCII characters (no SMTPUTF8)",
                    self.target
                )));
            }
            options.push(MailParameter::SmtpUtfEight);
        }
        if !raw.is_ascii() {
            if !info.supports_feature(Extension::EightBitMime) {
                return Err(refuse(format!(
                    "the SMTP server {} takes no 8-bit messages (no 8BITMIME)",
                    self.target
                )));
            }
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        step!(self, "MAIL FROM", conn => conn.command(Mail::new(Some(from), options)))?;
        for recipient in to {
            step!(self, "RCPT TO", conn => conn.command(Rcpt::new(recipient, vec![])))?;
        }
        step!(self, "DATA", conn => conn.command(Data))?;
        // Which part was silent: the data (the server took none of it) or its final reply
        // (all of it went out). TLS framing makes the count a little larger than the
        // message, so the last few bytes may be taken for the reply.
        let before = self.traffic.sent();
        let result = step!(self, "the message", conn => conn.message(raw));
        match result {
            Err(SendFailure::Retry(err)) if err.kind == ErrorKind::Timeout => {
                let all_out = self.traffic.sent() - before >= raw.len() as u64;
                let silent = self.traffic.silent_for().as_secs_f64();
                Err(SendFailure::Retry(Error::new(
                    ErrorKind::Timeout,
                    if all_out {
                        format!(
                            "the SMTP server {} did not confirm the message within {silent:.0} s \
                             (it may have it: it is sent again later)",
                            self.target
                        )
                    } else {
                        format!(
                            "the SMTP server {} took none of the message for {silent:.0} s",
                            self.target
                        )
                    },
                )))
            }
            other => other.map(|_| ()),
        }
    }

    /// Ends a transaction the server refused, so that the next message can go out on this
    /// session. False if the session is no longer usable.
    pub async fn reset(&mut self) -> bool {
        step!(self, "RSET", conn => conn.command(Rset)).is_ok()
    }

    /// Says goodbye, waiting briefly for the answer (nothing depends on it).
    pub async fn quit(mut self) {
        let traffic = self.traffic.clone();
        let _ = traffic
            .bounded(|| QUIT_LIMIT.min(self.limits.silence), self.conn.quit())
            .await;
    }
}

fn failure_error(failure: SendFailure) -> Error {
    match failure {
        SendFailure::Retry(e) | SendFailure::Refused(e) => e,
    }
}

fn silence(target: &str, step: &str, silent: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!(
            "the SMTP server {target} did not answer {step} within {:.0} s",
            silent.as_secs_f64()
        ),
    )
}

/// Checks that the server accepts the login, without sending anything.
pub async fn check_login(
    server: &ServerConfig,
    password: &str,
    limits: impl Into<Limits>,
) -> Result<()> {
    check_login_with(server, &Login::Password(password.to_owned()), limits).await
}

/// Like `check_login`, with a password or a token.
pub async fn check_login_with(
    server: &ServerConfig,
    login: &Login,
    limits: impl Into<Limits>,
) -> Result<()> {
    SmtpSession::open_with(server, login, limits)
        .await?
        .quit()
        .await;
    Ok(())
}

fn classify(target: &str, step: &str, err: &SmtpError) -> SendFailure {
    // A cause below lettre's error says more than its text: refused, timed out, TLS.
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(tls) = cause.downcast_ref::<tokio_rustls::rustls::Error>() {
            return SendFailure::Retry(crate::net::tls_error(target, tls));
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if let Some(tls) = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<tokio_rustls::rustls::Error>())
            {
                return SendFailure::Retry(crate::net::tls_error(target, tls));
            }
            return SendFailure::Retry(crate::net::io_error(
                target,
                std::io::Error::new(io.kind(), io.to_string()),
            ));
        }
        source = cause.source();
    }
    let code = err.status().map(|c| c.to_string()).unwrap_or_default();
    let text = format!("the SMTP server {target} answered {step} with: {err}");
    if matches!(code.as_str(), "530" | "534" | "535" | "538") {
        return SendFailure::Retry(Error::new(ErrorKind::AuthFailed, text));
    }
    if err.is_timeout() {
        return SendFailure::Retry(Error::new(ErrorKind::Timeout, text));
    }
    if err.is_permanent() {
        return SendFailure::Refused(Error::new(ErrorKind::SendRefused, text));
    }
    if err.is_tls() {
        return SendFailure::Retry(Error::new(ErrorKind::Tls, text));
    }
    if err.is_transient() {
        return SendFailure::Retry(Error::new(ErrorKind::Protocol, text));
    }
    SendFailure::Retry(Error::new(ErrorKind::Network, text))
}

/// Providers whose SMTP server files a copy into Sent itself: appending one more would
/// show the message twice.
pub fn server_files_sent_copy(smtp_host: &str) -> bool {
    let host = smtp_host.trim_end_matches('.').to_ascii_lowercase();
    [
        "smtp.gmail.com",
        "smtp.googlemail.com",
        "smtp.office365.com",
        "smtp-mail.outlook.com",
    ]
    .contains(&host.as_str())
}

#[cfg(test)]
mod tests;
