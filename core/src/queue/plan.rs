//! Decisions of the change queue as pure functions: flag arithmetic, what to do after a
//! failure, backoff, and which changes fall with a refused one. No I/O here.

use crate::error::{Error, ErrorKind, ServerCode};
use crate::mail::FlagSet;
use crate::model::FlagChange;

/// (flags to add, flags to remove) for a requested change.
pub fn requested(change: FlagChange) -> (FlagSet, FlagSet) {
    let none = FlagSet::empty();
    match change {
        FlagChange::Read => (FlagSet::SEEN, none),
        FlagChange::Unread => (none, FlagSet::SEEN),
        FlagChange::Flagged => (FlagSet::FLAGGED, none),
        FlagChange::Unflagged => (none, FlagSet::FLAGGED),
        FlagChange::Answered => (FlagSet::ANSWERED, none),
        FlagChange::Forwarded => (FlagSet::FORWARDED, none),
    }
}

/// The flags a change really flips on a message with `current` flags; `None` if nothing.
/// Only real flips are queued, so reverting them restores exactly the old state.
pub fn effective(current: FlagSet, add: FlagSet, remove: FlagSet) -> Option<(FlagSet, FlagSet)> {
    let add = add - current;
    let remove = remove & current;
    (!add.is_empty() || !remove.is_empty()).then_some((add, remove))
}

/// What to do with a change after trying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// The server cannot be reached (or the login fails): keep it, stop, try later.
    RetryLater,
    /// The server refused it for good: revert it here and tell the user.
    Fail,
}

pub fn classify(err: &Error) -> Disposition {
    match err.kind {
        ErrorKind::Protocol => match err.code {
            // RFC 5530: "try again later" rather than "never".
            Some(
                ServerCode::Unavailable
                | ServerCode::InUse
                | ServerCode::ServerBug
                | ServerCode::Limit,
            ) => Disposition::RetryLater,
            _ => Disposition::Fail,
        },
        ErrorKind::NotFound | ErrorKind::InvalidInput | ErrorKind::AlreadyExists => {
            Disposition::Fail
        }
        _ => Disposition::RetryLater,
    }
}

/// Seconds to wait before attempt `attempts + 1`: 1, 2, 4 … capped at five minutes.
pub fn backoff_seconds(attempts: u32) -> i64 {
    1i64 << attempts.min(8).min(30) as i64
}

pub const MAX_BACKOFF_SECONDS: i64 = 300;

pub fn next_attempt(now: i64, attempts: u32) -> i64 {
    now + backoff_seconds(attempts).min(MAX_BACKOFF_SECONDS)
}

/// When `failed` is refused, the changes that depend on it (directly or through others)
/// fall with it. Returns them newest first, ending with `failed`: the order to revert in.
/// `changes` holds (id, depends_on) of the account's pending changes.
pub fn revert_order(changes: &[(i64, Option<i64>)], failed: i64) -> Vec<i64> {
    let mut falling = vec![failed];
    let mut sorted: Vec<(i64, Option<i64>)> = changes.to_vec();
    sorted.sort_unstable();
    for (id, depends_on) in sorted {
        if let Some(parent) = depends_on {
            if falling.contains(&parent) && !falling.contains(&id) {
                falling.push(id);
            }
        }
    }
    falling.sort_unstable_by(|a, b| b.cmp(a));
    falling
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: FlagSet = FlagSet::empty();
    const SEEN: FlagSet = FlagSet::SEEN;
    const FLAGGED: FlagSet = FlagSet::FLAGGED;
    const ANSWERED: FlagSet = FlagSet::ANSWERED;

    #[test]
    fn only_real_flips_are_queued() {
        let cases = [
            (
                "read an unread message",
                NONE,
                SEEN,
                NONE,
                Some((SEEN, NONE)),
            ),
            ("read a read message", SEEN, SEEN, NONE, None),
            (
                "unread a read, flagged message",
                SEEN | FLAGGED,
                NONE,
                SEEN,
                Some((NONE, SEEN)),
            ),
            ("unflag an unflagged message", SEEN, NONE, FLAGGED, None),
            (
                "answer and keep flags",
                FLAGGED,
                ANSWERED,
                NONE,
                Some((ANSWERED, NONE)),
            ),
        ];
        for (name, current, add, remove, expected) in cases {
            assert_eq!(effective(current, add, remove), expected, "{name}");
        }
    }

    #[test]
    fn requested_flag_changes() {
        assert_eq!(requested(FlagChange::Unflagged), (NONE, FLAGGED));
        assert_eq!(requested(FlagChange::Read), (SEEN, NONE));
    }

    #[test]
    fn failures_are_classified() {
        let cases = [
            (
                Error::new(ErrorKind::Network, "reset"),
                Disposition::RetryLater,
            ),
            (
                Error::new(ErrorKind::Timeout, "slow"),
                Disposition::RetryLater,
            ),
            (
                Error::new(ErrorKind::ConnectionRefused, "down"),
                Disposition::RetryLater,
            ),
            (
                Error::new(ErrorKind::AuthFailed, "pw changed"),
                Disposition::RetryLater,
            ),
            (
                Error::refused(
                    "refused UID MOVE: [TRYCREATE] Mailbox doesn't exist",
                    Some(ServerCode::TryCreate),
                ),
                Disposition::Fail,
            ),
            (
                Error::refused(
                    "refused APPEND: [OVERQUOTA] Quota exceeded",
                    Some(ServerCode::OverQuota),
                ),
                Disposition::Fail,
            ),
            (
                Error::refused("refused CREATE: [NOPERM] no", Some(ServerCode::NoPerm)),
                Disposition::Fail,
            ),
            (
                Error::refused(
                    "refused SELECT: [UNAVAILABLE] try later",
                    Some(ServerCode::Unavailable),
                ),
                Disposition::RetryLater,
            ),
            (
                Error::refused("refused STORE: [INUSE] locked", Some(ServerCode::InUse)),
                Disposition::RetryLater,
            ),
            (
                // The words are the server's; only the code decides.
                Error::refused("refused STORE: UNAVAILABLE, really", None),
                Disposition::Fail,
            ),
            (Error::not_found("folder 'x'"), Disposition::Fail),
        ];
        for (err, expected) in cases {
            assert_eq!(classify(&err), expected, "{err}");
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let waits: Vec<i64> = (0..12).map(|a| next_attempt(1000, a) - 1000).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 256, 256, 256]);
        assert!(waits.iter().all(|w| *w <= MAX_BACKOFF_SECONDS));
    }

    #[test]
    fn dependents_fall_with_a_refused_change() {
        // 1 create folder; 2 move into it; 3 flag the moved message; 4 unrelated; 5 depends on 3.
        let changes = [
            (1, None),
            (2, Some(1)),
            (3, Some(2)),
            (4, None),
            (5, Some(3)),
        ];
        assert_eq!(revert_order(&changes, 1), [5, 3, 2, 1]);
        assert_eq!(revert_order(&changes, 2), [5, 3, 2]);
        assert_eq!(revert_order(&changes, 4), [4]);
        assert_eq!(revert_order(&[], 9), [9]);
    }
}
