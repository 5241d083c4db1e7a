//! Connections shared by the protocol clients: TCP with timeouts, TLS with verified
//! certificates, and the mapping of low-level failures onto clear error kinds.

use std::collections::HashMap;
use std::fmt::Debug;
use std::io;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
use tokio_rustls::rustls::{self, CertificateError, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use crate::error::{Error, ErrorKind, Result};

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
}

impl Default for ConnectPolicy {
    fn default() -> Self {
        Self {
            disabled_extensions: Vec::new(),
            compress_loopback: false,
            connect_timeout: CONNECT_TIMEOUT,
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

/// Opens a TCP connection with a timeout and clear errors.
pub async fn connect_tcp(host: &str, port: u16, timeout: Duration) -> Result<TcpStream> {
    let target = format!("{host}:{port}");
    let stream = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| timed_out(&target, "the connection", timeout))?
        .map_err(|err| io_error(&target, err))?;
    stream.set_nodelay(true).ok();
    Ok(stream)
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
            format!("the certificate of {target} has expired or is not valid yet"),
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

/// TLS settings: the system's trust store plus, optionally, one extra CA file.
/// Built once per CA file, since reading the system store takes a while.
pub fn tls_config(ca_file: Option<&str>) -> Result<Arc<ClientConfig>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<ClientConfig>>>> = OnceLock::new();
    let key = ca_file.unwrap_or("").to_owned();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(config) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(config);
    }
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|iter| iter.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|err| Error::invalid(format!("cannot read CA file {path}: {err}")))?;
        if certs.is_empty() {
            return Err(Error::invalid(format!(
                "CA file {path} holds no certificate"
            )));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|err| Error::invalid(format!("bad certificate in {path}: {err}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| Error::new(ErrorKind::Tls, format!("TLS set-up failed: {err}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
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
