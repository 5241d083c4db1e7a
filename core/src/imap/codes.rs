//! Failures and refusals as typed errors: a refused command carries the server's
//! response code (`ServerCode`), so decisions never search error texts.

use std::future::Future;
use std::time::Duration;

use async_imap::imap_proto::{Outcome, ResponseCode, Status};

use crate::error::{server_text, Error, ErrorKind, Result, ServerCode};
use crate::net::{self, Activity};

/// When the connection last heard from the server, and how long it may stay silent
/// while an answer is awaited.
#[derive(Debug, Clone)]
pub(super) struct Clock {
    pub activity: Activity,
    pub silence_limit: Duration,
}

/// Runs an async-imap future until it is done or the server has been silent for the
/// limit (an answer that keeps arriving, however long, is never cut), mapping failures.
pub(super) async fn timed<T>(
    clock: &Clock,
    target: &str,
    what: &str,
    fut: impl Future<Output = async_imap::error::Result<T>>,
) -> Result<T> {
    match clock.activity.bounded(clock.silence_limit, fut).await {
        Ok(result) => result.map_err(|err| imap_error(target, what, err)),
        Err(silent) => Err(Error::new(
            ErrorKind::Timeout,
            format!(
                "{target} sent nothing for {} s while we waited for its answer to {what}; the connection is taken as lost",
                silent.as_secs()
            ),
        )),
    }
}

pub(super) fn imap_error(target: &str, what: &str, err: async_imap::error::Error) -> Error {
    use async_imap::error::Error as E;
    match err {
        E::Io(io) => net::io_error(target, io),
        E::ConnectionLost => Error::new(
            ErrorKind::Network,
            format!("{target} closed the connection during {what}"),
        ),
        E::No(text) | E::Bad(text) => Error::refused(
            format!("{target} refused {what}: {}", server_text(&text)),
            code_in_text(&text),
        ),
        other => Error::protocol(format!(
            "{target} sent a reply to {what} we could not read: {other}"
        )),
    }
}

/// The error for a tagged NO or BAD, with the server's response code.
pub(super) fn refusal(target: &str, what: &str, status: &Status, outcome: &Outcome<'_>) -> Error {
    let information = server_text(outcome.information.as_deref().unwrap_or(""));
    let information = information.as_str();
    let text = match &outcome.code {
        Some(code) => format!("[{}] {information}", code_atom(code)),
        None => information.to_owned(),
    };
    let code = outcome
        .code
        .as_ref()
        .and_then(known_code)
        .or_else(|| code_in_text(information));
    let verb = if matches!(status, Status::Bad) {
        "rejected"
    } else {
        "refused"
    };
    Error::refused(format!("{target} {verb} {what}: {text}"), code)
}

/// The codes imap-proto parses itself that say why a command was refused.
fn known_code(code: &ResponseCode<'_>) -> Option<ServerCode> {
    match code {
        ResponseCode::TryCreate => Some(ServerCode::TryCreate),
        ResponseCode::ReadOnly => Some(ServerCode::ReadOnly),
        ResponseCode::Alert => Some(ServerCode::Alert),
        ResponseCode::Parse => Some(ServerCode::CannotParse),
        _ => None,
    }
}

/// A code imap-proto does not know (RFC 5530's NOPERM, OVERQUOTA…) stays at the start
/// of the text: `[NOPERM] Permission denied`.
fn code_in_text(text: &str) -> Option<ServerCode> {
    let rest = text.trim_start().strip_prefix('[')?;
    let end = rest.find([']', ' '])?;
    let atom = &rest[..end];
    (!atom.is_empty()).then(|| ServerCode::from_atom(atom))
}

/// The name of a response code as it appears on the wire, for error messages.
fn code_atom(code: &ResponseCode<'_>) -> String {
    match code {
        ResponseCode::TryCreate => "TRYCREATE".to_owned(),
        ResponseCode::ReadOnly => "READ-ONLY".to_owned(),
        ResponseCode::Alert => "ALERT".to_owned(),
        other => format!("{other:?}").to_ascii_uppercase(),
    }
}

/// "UID MOVE", "SELECT": the verb of a command line, for messages.
pub(super) fn command_name(command: &str) -> String {
    let mut words = command.split(' ');
    match words.next() {
        Some(uid) if uid.eq_ignore_ascii_case("UID") => {
            format!("UID {}", words.next().unwrap_or_default())
        }
        Some(verb) => verb.to_owned(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_carry_their_code() {
        let outcome = |code, text: &'static str| Outcome {
            code,
            information: Some(text.into()),
        };
        let cases = [
            (
                outcome(Some(ResponseCode::TryCreate), "Mailbox doesn't exist"),
                Some(ServerCode::TryCreate),
                "host refused UID MOVE: [TRYCREATE] Mailbox doesn't exist",
            ),
            (
                outcome(None, "[NOPERM] Permission denied"),
                Some(ServerCode::NoPerm),
                "host refused UID MOVE: [NOPERM] Permission denied",
            ),
            (
                outcome(None, "[OVERQUOTA] Quota exceeded"),
                Some(ServerCode::OverQuota),
                "host refused UID MOVE: [OVERQUOTA] Quota exceeded",
            ),
            (
                outcome(None, "Permission denied [NOPERM]"),
                Some(ServerCode::Unspecified),
                "host refused UID MOVE: Permission denied [NOPERM]",
            ),
        ];
        for (outcome, code, text) in cases {
            let err = refusal("host", "UID MOVE", &Status::No, &outcome);
            assert_eq!(err.code, code, "{text}");
            assert_eq!(err.message, text);
            assert_eq!(err.kind, ErrorKind::Protocol);
        }
    }

    #[test]
    fn verbs_for_messages() {
        assert_eq!(command_name("UID MOVE 4 \"x\""), "UID MOVE");
        assert_eq!(command_name("SELECT \"INBOX\""), "SELECT");
    }
}
