//! Connections shared by the protocol clients: TCP with timeouts, TLS with verified
//! certificates, and the mapping of low-level failures onto clear error kinds.

use std::collections::HashMap;
use std::fmt::Debug;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
use tokio_rustls::rustls::{self, CertificateError, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use crate::error::{Error, ErrorKind, Result};

#[cfg(target_os = "android")]
mod android;

/// On Android the platform's verifier works only once the app has initialised it; before
/// that, a clear error rather than the verifier's panic.
pub(crate) fn verifier_ready() -> Result<()> {
    #[cfg(target_os = "android")]
    if !android::verifier_ready() {
        return Err(Error::new(
            ErrorKind::Tls,
            "the app did not set up certificate checks (PlatformTls.init); restart the app",
        ));
    }
    Ok(())
}

/// How long connecting, the TLS handshake and the greeting may take by default.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// How to connect and what to use of what a server offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectPolicy {
    /// Extensions to ignore even when offered (to exercise the fallbacks).
    pub disabled_extensions: Vec<String>,
    /// Use COMPRESS=DEFLATE even to this machine (tests).
    pub compress_loopback: bool,
    /// Limit for connecting, the TLS handshake and the greeting.
    pub connect_timeout: Duration,
    /// How long a server may stay silent while an answer is awaited.
    pub silence_limit: Duration,
}

impl Default for ConnectPolicy {
    fn default() -> Self {
        Self {
            disabled_extensions: Vec::new(),
            compress_loopback: false,
            connect_timeout: CONNECT_TIMEOUT,
            silence_limit: SILENCE_LIMIT,
        }
    }
}

/// Any byte stream a protocol client can run on.
pub trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> ByteStream for T {}
pub type BoxStream = Box<dyn ByteStream>;

/// Whether a host is this machine (127.0.0.0/8, ::1, localhost).
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// How long a connection may stay silent while we wait for an answer.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(60);

/// TCP keepalive: after this long without traffic the kernel probes the peer, every
/// `KEEPALIVE_INTERVAL`, and gives up after `KEEPALIVE_PROBES` unanswered probes. A link
/// that died without a reset is noticed within about a minute, with no wake-up of ours.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_PROBES: u32 = 3;

/// Opens a TCP connection with a timeout and clear errors, with TCP keepalive on.
pub async fn connect_tcp(host: &str, port: u16, timeout: Duration) -> Result<TcpStream> {
    let target = format!("{host}:{port}");
    let stream = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| timed_out(&target, "the connection", timeout))?
        .map_err(|err| io_error(&target, err))?;
    stream.set_nodelay(true).ok();
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL);
    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    let keepalive = keepalive.with_retries(KEEPALIVE_PROBES);
    if let Err(err) = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive) {
        tracing::debug!(%err, "TCP keepalive not available");
    }
    Ok(stream)
}

/// When a connection last received anything: shared by the stream that reads and the
/// code that waits for an answer, so a long answer that keeps arriving is never cut,
/// while a silent one is.
#[derive(Debug, Clone)]
pub struct Activity(Arc<AtomicU64>);

fn clock() -> Duration {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

impl Activity {
    pub fn new() -> Self {
        Self(Arc::new(AtomicU64::new(clock().as_millis() as u64)))
    }

    fn touch(&self) {
        self.0.store(clock().as_millis() as u64, Ordering::Relaxed);
    }

    pub fn silent_for(&self) -> Duration {
        clock().saturating_sub(Duration::from_millis(self.0.load(Ordering::Relaxed)))
    }

    /// Waits for `fut`, failing with a timeout once nothing has arrived for `limit`.
    pub async fn bounded<T>(
        &self,
        limit: Duration,
        fut: impl std::future::Future<Output = T>,
    ) -> std::result::Result<T, Duration> {
        // A command's answer is awaited from now on, even if the link was quiet before.
        self.touch();
        tokio::pin!(fut);
        loop {
            let wait = limit
                .saturating_sub(self.silent_for())
                .max(Duration::from_millis(50));
            tokio::select! {
                value = &mut fut => return Ok(value),
                _ = tokio::time::sleep(wait) => {
                    let silent = self.silent_for();
                    if silent >= limit {
                        return Err(silent);
                    }
                }
            }
        }
    }
}

impl Default for Activity {
    fn default() -> Self {
        Self::new()
    }
}

/// A stream that records when it last received data.
#[derive(Debug)]
pub struct Watched<S> {
    inner: S,
    activity: Activity,
}

impl<S> Watched<S> {
    pub fn new(inner: S, activity: Activity) -> Self {
        Self { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
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

/// The error for a step that took longer than `limit`.
pub fn timed_out(target: &str, what: &str, limit: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!(
            "{target} did not complete {what} within {:.1} s",
            limit.as_secs_f64()
        ),
    )
}

/// Describes an I/O failure on a connection to `target`.
pub fn io_error(target: &str, err: io::Error) -> Error {
    if let Some(tls) = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return tls_error(target, tls);
    }
    match err.kind() {
        io::ErrorKind::ConnectionRefused => Error::new(
            ErrorKind::ConnectionRefused,
            format!("connection to {target} refused: is the server running on that port?"),
        ),
        io::ErrorKind::TimedOut => Error::new(
            ErrorKind::Timeout,
            format!("connection to {target} timed out"),
        ),
        // The reader's verdict on what the server sent (too long, unparseable).
        io::ErrorKind::InvalidData => Error::protocol(format!("{target}: {err}")),
        _ => Error::new(
            ErrorKind::Network,
            format!("network error talking to {target}: {err}"),
        ),
    }
}

pub(crate) fn tls_error(target: &str, err: &rustls::Error) -> Error {
    match err {
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => Error::new(
            ErrorKind::WrongHostName,
            format!("the certificate of {target} is issued for another host name"),
        ),
        rustls::Error::InvalidCertificate(
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. },
        ) => Error::new(
            ErrorKind::Tls,
            format!(
                "the certificate of {target} has expired or is not valid yet: check this \
                 device's date and time; if they are right, the server's certificate must be renewed"
            ),
        ),
        // Unknown issuer, or no path to a trusted root (which rustls may report as a
        // signature mismatch against a candidate issuer).
        rustls::Error::InvalidCertificate(_) => Error::new(
            ErrorKind::CertificateNotTrusted,
            format!("the certificate of {target} is not signed by a trusted authority"),
        ),
        other => Error::new(
            ErrorKind::Tls,
            format!("secure connection to {target} failed: {other}"),
        ),
    }
}

/// TLS settings: the platform's own verifier (Apple's Security.framework, Windows'
/// CryptoAPI, the system roots on Linux; on Android, until the app initialises the
/// verifier through JNI, the system roots) plus, optionally, one extra CA file for a
/// private server. Built once per CA file.
pub fn tls_config(ca_file: Option<&str>) -> Result<Arc<ClientConfig>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<ClientConfig>>>> = OnceLock::new();
    let key = ca_file.unwrap_or("").to_owned();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(config) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(config);
    }
    let mut extra_roots = Vec::new();
    if let Some(path) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|iter| iter.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|err| Error::invalid(format!("cannot read CA file {path}: {err}")))?;
        if certs.is_empty() {
            return Err(Error::invalid(format!(
                "CA file {path} holds no certificate"
            )));
        }
        // Each one must be a certificate rustls can use as a root.
        let mut check = RootCertStore::empty();
        for cert in &certs {
            check
                .add(cert.clone())
                .map_err(|err| Error::invalid(format!("bad certificate in {path}: {err}")))?;
        }
        extra_roots = certs;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|err| Error::new(ErrorKind::Tls, format!("TLS set-up failed: {err}")))?;
    verifier_ready()?;
    let cannot_start = |err: rustls::Error| {
        Error::new(
            ErrorKind::Tls,
            format!("the platform's certificate verifier cannot start: {err}"),
        )
    };
    #[cfg(not(target_os = "android"))]
    let config = {
        let verifier =
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider)
                .map_err(cannot_start)?;
        config
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth()
    };
    // Android's verifier takes no extra roots: a server with a CA file of its own is
    // checked against that CA alone (by rustls), every other by Android's trust manager.
    #[cfg(target_os = "android")]
    let config = if extra_roots.is_empty() {
        let verifier = rustls_platform_verifier::Verifier::new(provider).map_err(cannot_start)?;
        config
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth()
    } else {
        let _ = provider;
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(extra_roots);
        config.with_root_certificates(roots).with_no_client_auth()
    };
    let config = Arc::new(config);
    if let Ok(mut c) = cache.lock() {
        c.insert(key, config.clone());
    }
    Ok(config)
}

/// TLS over an open stream to an account's server, trusting its extra CA file too.
pub async fn secure<S>(
    stream: S,
    server: &crate::model::ServerConfig,
    timeout: Duration,
) -> Result<tokio_rustls::client::TlsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    start_tls(
        stream,
        &server.host,
        server.port,
        server.ca_file.as_deref(),
        timeout,
    )
    .await
}

/// Runs the TLS handshake over an open stream, verifying the certificate for `host`.
pub async fn start_tls<S>(
    stream: S,
    host: &str,
    port: u16,
    ca_file: Option<&str>,
    timeout: Duration,
) -> Result<tokio_rustls::client::TlsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let target = format!("{host}:{port}");
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| Error::invalid(format!("'{host}' is not a valid host name")))?;
    let connector = TlsConnector::from(tls_config(ca_file)?);
    tokio::time::timeout(timeout, connector.connect(name, stream))
        .await
        .map_err(|_| timed_out(&target, "the TLS handshake", timeout))?
        .map_err(|err| io_error(&target, err))
}
