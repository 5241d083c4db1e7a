//! One error type for the whole engine: a machine-readable kind plus a sentence for people.

use std::fmt;

/// What went wrong, in terms a front end can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, uniffi::Enum)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Nothing listens on the server's port.
    ConnectionRefused,
    /// The server did not answer in time.
    Timeout,
    /// Host name could not be resolved or the network is unreachable.
    Network,
    /// The server's certificate is not signed by a trusted authority.
    CertificateNotTrusted,
    /// The certificate is valid but issued for another host name.
    WrongHostName,
    /// Any other TLS failure (expired certificate, handshake error).
    Tls,
    /// The server refused the user name or password.
    AuthFailed,
    /// The server does not speak the protocol we need (for example no IMAP4rev1).
    ProtocolUnsupported,
    /// The account does not allow sending the password in clear text.
    PlaintextNotAllowed,
    /// The server sent a reply we could not make sense of, or refused a command.
    Protocol,
    /// No such account, folder or message.
    NotFound,
    /// An account or folder with that name already exists.
    AlreadyExists,
    /// The caller passed something invalid.
    InvalidInput,
    /// No password is known for the account.
    MissingCredentials,
    /// The SMTP server refused a message for good (it was kept as a draft).
    SendRefused,
    /// The local database failed.
    Storage,
    /// The engine was closed.
    Closed,
}

/// An engine error: a kind and a human sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn not_found(what: impl fmt::Display) -> Self {
        Self::new(ErrorKind::NotFound, format!("{what} not found"))
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    pub fn protocol(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Protocol, message)
    }

    /// True for failures where trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::ConnectionRefused | ErrorKind::Timeout | ErrorKind::Network
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        Error::new(ErrorKind::Storage, format!("local database error: {err}"))
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(err: tokio::task::JoinError) -> Self {
        Error::new(ErrorKind::Closed, format!("engine task failed: {err}"))
    }
}
