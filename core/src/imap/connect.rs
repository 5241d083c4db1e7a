//! Setting a session up: TCP, TLS or STARTTLS, the greeting, LOGIN, CAPABILITY, and
//! COMPRESS and QRESYNC when offered.

use std::time::Duration;

use async_imap::imap_proto::{Response, Status};

use super::caps::ServerCaps;
use super::codes::{imap_error, timed, Clock};
use super::ImapConnection;
use crate::credentials::Login;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Security, ServerConfig};
use crate::net::{self, Activity, BoxStream, ConnectPolicy, Watched};
use crate::oauth::OAuthMechanism;

/// What one server response may cost in memory, whatever the server sends. Bodies
/// larger than a chunk are fetched in parts (`commands::BODY_CHUNK`), and listings are
/// asked in forms that stay short, so no honest answer comes near these.
pub(super) const RESPONSE_LIMITS: async_imap::ResponseLimits = async_imap::ResponseLimits {
    max_line: 32 << 20,
    max_literal: 48 << 20,
    max_response: 64 << 20,
};

/// SASL XOAUTH2 or OAUTHBEARER: the token on the first challenge; the server's error
/// challenge, if it refuses, is acknowledged so that it ends with its NO.
struct Bearer {
    first: Option<String>,
    mechanism: OAuthMechanism,
}

impl async_imap::Authenticator for Bearer {
    type Response = Vec<u8>;

    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        match self.first.take() {
            Some(first) => first.into_bytes(),
            None => self.mechanism.error_acknowledgement().to_vec(),
        }
    }
}

impl ImapConnection {
    /// Connects, secures, logs in with the password and reads the capabilities.
    pub async fn connect(
        server: &ServerConfig,
        password: &str,
        policy: &ConnectPolicy,
    ) -> Result<Self> {
        Self::connect_with(server, &Login::Password(password.to_owned()), policy).await
    }

    /// Connects, secures, logs in (LOGIN with a password, AUTHENTICATE with a token) and
    /// reads the capabilities.
    pub async fn connect_with(
        server: &ServerConfig,
        credential: &Login,
        policy: &ConnectPolicy,
    ) -> Result<Self> {
        let target = format!("{}:{}", server.host, server.port);
        let limit = policy.connect_timeout;
        let clock = Clock {
            activity: Activity::new(),
            silence_limit: policy.silence_limit,
        };
        let tcp = Watched::new(
            net::connect_tcp(&server.host, server.port, limit).await?,
            clock.activity.clone(),
        );
        let stream: BoxStream = match server.security {
            Security::Tls => Box::new(net::secure(tcp, server, limit).await?),
            Security::StartTls => {
                let mut client = async_imap::Client::new(tcp);
                client.set_response_limits(RESPONSE_LIMITS);
                read_greeting(&mut client, &target, limit).await?;
                timed(
                    &clock,
                    &target,
                    "STARTTLS",
                    client.run_command_and_check_ok("STARTTLS", None),
                )
                .await
                .map_err(|err| {
                    Error::new(
                        ErrorKind::ProtocolUnsupported,
                        format!("{target} does not offer STARTTLS: {err}"),
                    )
                })?;
                let tcp = client.into_inner();
                Box::new(net::secure(tcp, server, limit).await?)
            }
            Security::Plain => Box::new(tcp),
        };
        // async-imap writes a command in four pieces and then flushes: buffer them into
        // one packet (and one TLS record).
        let stream: BoxStream = Box::new(tokio::io::BufWriter::new(stream));
        let mut client = async_imap::Client::new(stream);
        client.set_response_limits(RESPONSE_LIMITS);
        if server.security != Security::StartTls {
            read_greeting(&mut client, &target, limit).await?;
        }
        type Attempt<'a> = std::pin::Pin<
            Box<
                dyn std::future::Future<
                        Output = std::result::Result<
                            async_imap::Session<BoxStream>,
                            (async_imap::error::Error, async_imap::Client<BoxStream>),
                        >,
                    > + Send
                    + 'a,
            >,
        >;
        let attempt: Attempt<'_> = match credential {
            Login::Password(password) => Box::pin(client.login(&server.username, password)),
            Login::Bearer { token, mechanism } => {
                let bearer = Bearer {
                    first: Some(mechanism.initial_response(&server.username, token)),
                    mechanism: *mechanism,
                };
                Box::pin(client.authenticate(mechanism.as_str(), bearer))
            }
        };
        let login = clock
            .activity
            .bounded(clock.silence_limit, attempt)
            .await
            .map_err(|_| {
                Error::new(ErrorKind::Timeout, format!("{target} did not answer LOGIN"))
            })?;
        let mut session = match login {
            Ok(session) => session,
            Err((async_imap::error::Error::No(text), _))
            | Err((async_imap::error::Error::Bad(text), _)) => {
                return Err(Error::new(
                    ErrorKind::AuthFailed,
                    format!(
                        "{target} rejected the login of '{}': {}",
                        server.username,
                        text.trim()
                    ),
                ))
            }
            Err((err, _)) => return Err(imap_error(&target, "LOGIN", err)),
        };
        // imap-proto cannot even parse a CAPABILITY line without IMAP4rev1.
        let caps = timed(&clock, &target, "CAPABILITY", session.capabilities())
            .await
            .map_err(|err| match err.kind {
                ErrorKind::Protocol | ErrorKind::Network => Error::new(
                    ErrorKind::ProtocolUnsupported,
                    format!("{target} does not answer CAPABILITY like an IMAP4rev1 server: {err}"),
                ),
                _ => err,
            })?;
        let names: Vec<String> = caps
            .iter()
            .map(|c| match c {
                async_imap::types::Capability::Imap4rev1 => "IMAP4rev1".to_owned(),
                async_imap::types::Capability::Auth(a) => format!("AUTH={a}"),
                async_imap::types::Capability::Atom(a) => a.to_string(),
            })
            .collect();
        if !caps.has_str("IMAP4rev1") && !caps.has_str("IMAP4rev2") {
            return Err(Error::new(
                ErrorKind::ProtocolUnsupported,
                format!("{target} does not speak IMAP4rev1"),
            ));
        }
        let caps = ServerCaps::from_names(&names).without(&policy.disabled_extensions);
        // Compression trades CPU for bandwidth; on the loopback there is no bandwidth
        // to save.
        if caps.compress && (policy.compress_loopback || !net::is_loopback(&server.host)) {
            session = timed(
                &clock,
                &target,
                "COMPRESS",
                session.compress(|s| Box::new(s) as BoxStream),
            )
            .await?;
        }
        let mut conn = Self {
            session,
            caps,
            target,
            selected: None,
            clock,
            naming: Default::default(),
            selected_status: None,
        };
        if conn.caps.qresync {
            conn.simple("ENABLE QRESYNC").await?;
        }
        conn.read_namespace().await?;
        Ok(conn)
    }

    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.session.logout()).await;
    }
}

async fn read_greeting<S>(
    client: &mut async_imap::Client<S>,
    target: &str,
    limit: Duration,
) -> Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let greeting = tokio::time::timeout(limit, client.read_response())
        .await
        .map_err(|_| net::timed_out(target, "its greeting", limit))?
        .map_err(|err| net::io_error(target, err))?;
    match greeting.as_ref().map(|g| g.parsed()) {
        Some(Response::Data {
            status: Status::Ok | Status::PreAuth,
            ..
        }) => Ok(()),
        Some(Response::Data {
            status: Status::Bye,
            ..
        }) => Err(Error::new(
            ErrorKind::Network,
            format!("{target} refused the connection (BYE)"),
        )),
        _ => Err(Error::new(
            ErrorKind::ProtocolUnsupported,
            format!("{target} did not greet like an IMAP server"),
        )),
    }
}
