//! One error type for the whole engine: a machine-readable kind, the server's response
//! code when a server refused something, a sentence for people, and the cause below it.

use std::fmt;
use std::sync::Arc;

use crate::advice::Advice;

/// What went wrong, in terms a front end can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, uniffi::Enum)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
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

impl ErrorKind {
    /// The id of this kind's advice (`crate::advice`).
    pub fn advice_id(self) -> &'static str {
        match self {
            ErrorKind::ConnectionRefused => "connection_refused",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Network => "network",
            ErrorKind::CertificateNotTrusted => "certificate_not_trusted",
            ErrorKind::WrongHostName => "wrong_host_name",
            ErrorKind::Tls => "tls",
            ErrorKind::AuthFailed => "auth_failed",
            ErrorKind::ProtocolUnsupported => "protocol_unsupported",
            ErrorKind::PlaintextNotAllowed => "plaintext_not_allowed",
            ErrorKind::Protocol => "protocol",
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::MissingCredentials => "missing_credentials",
            ErrorKind::SendRefused => "send_refused",
            ErrorKind::Storage => "storage",
            ErrorKind::Closed => "closed",
        }
    }
}

/// A server's machine-readable reason for refusing a command: IMAP response codes
/// (RFC 3501, RFC 5530 and friends), named once here so that decisions match on them
/// instead of searching error texts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServerCode {
    TryCreate,
    ReadOnly,
    Alert,
    Unavailable,
    AuthenticationFailed,
    AuthorizationFailed,
    Expired,
    PrivacyRequired,
    ContactAdmin,
    NoPerm,
    InUse,
    ExpungeIssued,
    Corruption,
    ServerBug,
    ClientBug,
    CannotParse,
    Limit,
    OverQuota,
    AlreadyExists,
    Nonexistent,
    /// Any other code, as the server spelled it (upper case).
    Other(String),
    /// The server refused without saying why (a tagged NO or BAD without a code).
    Unspecified,
}

impl ServerCode {
    /// The code for an atom as it appears in brackets on the wire.
    pub fn from_atom(atom: &str) -> Self {
        match atom.to_ascii_uppercase().as_str() {
            "TRYCREATE" => Self::TryCreate,
            "READ-ONLY" => Self::ReadOnly,
            "ALERT" => Self::Alert,
            "UNAVAILABLE" => Self::Unavailable,
            "AUTHENTICATIONFAILED" => Self::AuthenticationFailed,
            "AUTHORIZATIONFAILED" => Self::AuthorizationFailed,
            "EXPIRED" => Self::Expired,
            "PRIVACYREQUIRED" => Self::PrivacyRequired,
            "CONTACTADMIN" => Self::ContactAdmin,
            "NOPERM" => Self::NoPerm,
            "INUSE" => Self::InUse,
            "EXPUNGEISSUED" => Self::ExpungeIssued,
            "CORRUPTION" => Self::Corruption,
            "SERVERBUG" => Self::ServerBug,
            "CLIENTBUG" => Self::ClientBug,
            "CANNOT" => Self::CannotParse,
            "LIMIT" => Self::Limit,
            "OVERQUOTA" => Self::OverQuota,
            "ALREADYEXISTS" => Self::AlreadyExists,
            "NONEXISTENT" => Self::Nonexistent,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The code as it appears on the wire, for messages.
    pub fn atom(&self) -> &str {
        match self {
            Self::TryCreate => "TRYCREATE",
            Self::ReadOnly => "READ-ONLY",
            Self::Alert => "ALERT",
            Self::Unavailable => "UNAVAILABLE",
            Self::AuthenticationFailed => "AUTHENTICATIONFAILED",
            Self::AuthorizationFailed => "AUTHORIZATIONFAILED",
            Self::Expired => "EXPIRED",
            Self::PrivacyRequired => "PRIVACYREQUIRED",
            Self::ContactAdmin => "CONTACTADMIN",
            Self::NoPerm => "NOPERM",
            Self::InUse => "INUSE",
            Self::ExpungeIssued => "EXPUNGEISSUED",
            Self::Corruption => "CORRUPTION",
            Self::ServerBug => "SERVERBUG",
            Self::ClientBug => "CLIENTBUG",
            Self::CannotParse => "CANNOT",
            Self::Limit => "LIMIT",
            Self::OverQuota => "OVERQUOTA",
            Self::AlreadyExists => "ALREADYEXISTS",
            Self::Nonexistent => "NONEXISTENT",
            Self::Other(atom) => atom,
            Self::Unspecified => "",
        }
    }
}

/// An engine error: a kind, the server's code if it sent one, a human sentence and the
/// underlying cause (`std::error::Error::source`).
#[derive(Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub code: Option<ServerCode>,
    /// Advice more precise than the kind's (`advised`).
    pub advice: Option<Advice>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            code: None,
            advice: None,
            source: None,
        }
    }

    /// An error with advice of its own (for example which address is not valid).
    pub fn advised(kind: ErrorKind, advice: Advice, message: impl Into<String>) -> Self {
        Self {
            advice: Some(advice),
            ..Self::new(kind, message)
        }
    }

    /// What this error tells the user: its own advice, or its kind's with the error's
    /// sentence as the detail.
    pub fn advice(&self) -> Advice {
        self.advice
            .clone()
            .unwrap_or_else(|| Advice::new(self.kind.advice_id(), self.message.clone()))
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

    /// A refusal by a server (a tagged NO or BAD), with its response code if it gave
    /// one. A refusal always has a `code`, so it can be told from a broken answer.
    pub fn refused(message: impl Into<String>, code: Option<ServerCode>) -> Self {
        Self {
            code: Some(code.unwrap_or(ServerCode::Unspecified)),
            ..Self::protocol(message)
        }
    }

    /// Whether a server refused the command (the connection is still in good order).
    pub fn is_refusal(&self) -> bool {
        self.code.is_some()
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// The same error with `context` in front of its sentence (kind and code kept).
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// True for failures where trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::ConnectionRefused | ErrorKind::Timeout | ErrorKind::Network
        )
    }
}

impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        (self.kind, &self.message, &self.code) == (other.kind, &other.message, &other.code)
    }
}

impl Eq for Error {}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("code", &self.code)
            .field("source", &self.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        Error::new(ErrorKind::Storage, format!("local database error: {err}")).with_source(err)
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(err: tokio::task::JoinError) -> Self {
        Error::new(ErrorKind::Closed, format!("engine task failed: {err}")).with_source(err)
    }
}

/// Text a server sent, fit for a one-line error: control characters (CR, LF, ESC…)
/// become spaces, and it is cut to a sane length.
pub fn server_text(text: &str) -> String {
    const LIMIT: usize = 300;
    let mut out: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(LIMIT)
        .collect();
    if text.trim().chars().count() > LIMIT {
        out.push('…');
    }
    out
}

/// Adds what was being done to a failure, for results of any error convertible into ours.
pub trait Context<T> {
    fn context(self, what: impl fmt::Display) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|err| err.into().context(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advice::Language;

    #[test]
    fn every_error_kind_has_advice_in_both_languages() {
        let kinds = [
            ErrorKind::ConnectionRefused,
            ErrorKind::Timeout,
            ErrorKind::Network,
            ErrorKind::CertificateNotTrusted,
            ErrorKind::WrongHostName,
            ErrorKind::Tls,
            ErrorKind::AuthFailed,
            ErrorKind::ProtocolUnsupported,
            ErrorKind::PlaintextNotAllowed,
            ErrorKind::Protocol,
            ErrorKind::NotFound,
            ErrorKind::AlreadyExists,
            ErrorKind::InvalidInput,
            ErrorKind::MissingCredentials,
            ErrorKind::SendRefused,
            ErrorKind::Storage,
            ErrorKind::Closed,
        ];
        for kind in kinds {
            assert!(Advice::known(kind.advice_id()), "{kind:?}");
            let advice = Error::new(kind, "detail").advice();
            assert_ne!(
                advice.text(Language::English),
                advice.text(Language::NorwegianBokmal),
                "{kind:?} is translated"
            );
        }
    }

    #[test]
    fn a_wrong_password_reads_as_a_password_problem_not_a_network_one() {
        let err = Error::new(
            ErrorKind::AuthFailed,
            "LOGIN refused: [AUTHENTICATIONFAILED]",
        );
        let advice = err.advice();
        assert_eq!(advice.id, "auth_failed");
        assert!(advice.text(Language::English).contains("password"));
        assert!(advice.text(Language::NorwegianBokmal).contains("passordet"));
        assert!(!advice.text(Language::English).contains("reached"));
    }

    #[test]
    fn an_error_keeps_the_advice_it_was_given() {
        let err = Error::advised(
            ErrorKind::InvalidInput,
            Advice::new("address_invalid", "bob@"),
            "'bob@' is not a valid address",
        );
        assert_eq!(err.advice(), Advice::new("address_invalid", "bob@"));
        assert_eq!(err.context("To").advice().id, "address_invalid");
    }

    #[test]
    fn codes_round_trip_through_their_atoms() {
        for atom in ["TRYCREATE", "NOPERM", "OVERQUOTA", "UNAVAILABLE", "X-FOO"] {
            assert_eq!(ServerCode::from_atom(atom).atom(), atom);
        }
        assert_eq!(
            ServerCode::from_atom("nonexistent"),
            ServerCode::Nonexistent
        );
    }

    #[test]
    fn server_texts_are_one_short_line() {
        assert_eq!(server_text(" a\rb\nc\u{1b}[2J "), "a b c [2J");
        let long = "x".repeat(5000);
        assert_eq!(server_text(&long).chars().count(), 301);
    }

    #[test]
    fn database_errors_say_what_failed_and_keep_their_cause() {
        let err: std::result::Result<(), _> = Err(rusqlite::Error::QueryReturnedNoRows);
        let err = err.context("store_headers").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Storage);
        assert!(
            err.message
                .starts_with("store_headers: local database error"),
            "{err}"
        );
        assert!(std::error::Error::source(&err).is_some());
    }
}
