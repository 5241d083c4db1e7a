//! Sending with SMTP through lettre: implicit TLS, STARTTLS (required, never
//! opportunistic) or plain on explicit opt-in, with AUTH. Failures are sorted into
//! "try again later" and "refused for good", which decides what the outbox does.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::Error as SmtpError;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::error::{Error, ErrorKind, Result};
use crate::model::{Security, ServerConfig};

/// How one attempt to hand a message to the server ended, when it did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFailure {
    /// The server cannot be reached or said "try later": keep the message queued.
    Retry(Error),
    /// The server refused this message for good (5xx on MAIL, RCPT or DATA).
    Refused(Error),
}

fn transport(
    server: &ServerConfig,
    password: &str,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>> {
    let tls = || -> Result<TlsParameters> {
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
    };
    let tls = match server.security {
        Security::Tls => Tls::Wrapper(tls()?),
        Security::StartTls => Tls::Required(tls()?),
        Security::Plain => Tls::None,
    };
    Ok(
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.clone())
            .port(server.port)
            .tls(tls)
            .timeout(Some(timeout))
            .credentials(Credentials::new(
                server.username.clone(),
                password.to_owned(),
            ))
            .build(),
    )
}

/// Hands one message to the server.
pub async fn send(
    server: &ServerConfig,
    password: &str,
    timeout: Duration,
    mail_from: &str,
    recipients: &[String],
    raw: &[u8],
) -> std::result::Result<(), SendFailure> {
    let invalid = |what: &str, err: lettre::address::AddressError| {
        SendFailure::Refused(Error::invalid(format!(
            "'{what}' is not a valid address: {err}"
        )))
    };
    let from = mail_from.parse().map_err(|err| invalid(mail_from, err))?;
    let to = recipients
        .iter()
        .map(|r| r.parse().map_err(|err| invalid(r, err)))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let envelope = Envelope::new(Some(from), to).map_err(|err| {
        SendFailure::Refused(Error::invalid(format!("no usable envelope: {err}")))
    })?;
    let transport = transport(server, password, timeout).map_err(SendFailure::Retry)?;
    transport
        .send_raw(&envelope, raw)
        .await
        .map(|_| ())
        .map_err(|err| classify(server, &err))
}

/// Checks that the server accepts the login, without sending anything.
pub async fn check_login(server: &ServerConfig, password: &str, timeout: Duration) -> Result<()> {
    let transport = transport(server, password, timeout)?;
    match transport.test_connection().await {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::protocol(format!(
            "the SMTP server {}:{} did not answer NOOP",
            server.host, server.port
        ))),
        Err(err) => Err(match classify(server, &err) {
            SendFailure::Retry(e) | SendFailure::Refused(e) => e,
        }),
    }
}

fn classify(server: &ServerConfig, err: &SmtpError) -> SendFailure {
    let target = format!("{}:{}", server.host, server.port);
    // A cause below lettre's error says more than its text: refused, timed out, TLS.
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(tls) = cause.downcast_ref::<tokio_rustls::rustls::Error>() {
            return SendFailure::Retry(crate::net::tls_error(&target, tls));
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if let Some(tls) = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<tokio_rustls::rustls::Error>())
            {
                return SendFailure::Retry(crate::net::tls_error(&target, tls));
            }
            return SendFailure::Retry(crate::net::io_error(
                &target,
                std::io::Error::new(io.kind(), io.to_string()),
            ));
        }
        source = cause.source();
    }
    let code = err.status().map(|c| c.to_string()).unwrap_or_default();
    let text = format!("the SMTP server {target} said: {err}");
    if matches!(code.as_str(), "530" | "534" | "535" | "538") {
        return SendFailure::Retry(Error::new(ErrorKind::AuthFailed, text));
    }
    if err.is_timeout() {
        return SendFailure::Retry(Error::new(
            ErrorKind::Timeout,
            format!("the SMTP server {target} did not answer in time"),
        ));
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
mod tests {
    use super::*;

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
}
