//! Decisions of the change queue as pure functions: flag arithmetic, what to do after a
//! failure, backoff, and which changes fall with a refused one. No I/O here.

use crate::error::{Error, ErrorKind};
use crate::model::{FlagChange, Flags};

pub const SEEN: u8 = 1;
pub const FLAGGED: u8 = 2;
pub const ANSWERED: u8 = 4;
pub const FORWARDED: u8 = 8;
pub const DRAFT: u8 = 16;

pub fn mask(flags: &Flags) -> u8 {
    (flags.seen as u8 * SEEN)
        | (flags.flagged as u8 * FLAGGED)
        | (flags.answered as u8 * ANSWERED)
        | (flags.forwarded as u8 * FORWARDED)
        | (flags.draft as u8 * DRAFT)
}

pub fn from_mask(mask: u8, deleted: bool) -> Flags {
    Flags {
        seen: mask & SEEN != 0,
        flagged: mask & FLAGGED != 0,
        answered: mask & ANSWERED != 0,
        forwarded: mask & FORWARDED != 0,
        draft: mask & DRAFT != 0,
        deleted,
    }
}

/// (bits to add, bits to remove) for a requested change.
pub fn requested(change: FlagChange) -> (u8, u8) {
    match change {
        FlagChange::Read => (SEEN, 0),
        FlagChange::Unread => (0, SEEN),
        FlagChange::Flagged => (FLAGGED, 0),
        FlagChange::Unflagged => (0, FLAGGED),
        FlagChange::Answered => (ANSWERED, 0),
        FlagChange::Forwarded => (FORWARDED, 0),
    }
}

/// The bits a change really flips on a message with `current` flags; `None` if nothing.
/// Only real flips are queued, so reverting them restores exactly the old state.
pub fn effective(current: u8, add: u8, remove: u8) -> Option<(u8, u8)> {
    let add = add & !current;
    let remove = remove & current;
    (add != 0 || remove != 0).then_some((add, remove))
}

/// IMAP flag names for a bit mask.
pub fn imap_names(mask: u8) -> Vec<&'static str> {
    [
        (SEEN, "\\Seen"),
        (FLAGGED, "\\Flagged"),
        (ANSWERED, "\\Answered"),
        (FORWARDED, "$Forwarded"),
        (DRAFT, "\\Draft"),
    ]
    .iter()
    .filter(|(bit, _)| mask & bit != 0)
    .map(|(_, name)| *name)
    .collect()
}

/// What to do with a change after trying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// The server cannot be reached (or the login fails): keep it, stop, try later.
    RetryLater,
    /// The server refused it for good: revert it here and tell the user.
    Fail,
}

/// Response codes (RFC 5530) that mean "try again later" rather than "never".
const TRANSIENT_CODES: &[&str] = &["[UNAVAILABLE]", "[INUSE]", "[SERVERBUG]", "[LIMIT]"];

pub fn classify(err: &Error) -> Disposition {
    match err.kind {
        ErrorKind::Protocol => {
            let upper = err.message.to_ascii_uppercase();
            if TRANSIENT_CODES.iter().any(|code| upper.contains(code)) {
                Disposition::RetryLater
            } else {
                Disposition::Fail
            }
        }
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

    #[test]
    fn only_real_flips_are_queued() {
        let cases = [
            ("read an unread message", 0, SEEN, 0, Some((SEEN, 0))),
            ("read a read message", SEEN, SEEN, 0, None),
            (
                "unread a read, flagged message",
                SEEN | FLAGGED,
                0,
                SEEN,
                Some((0, SEEN)),
            ),
            ("unflag an unflagged message", SEEN, 0, FLAGGED, None),
            (
                "answer and keep flags",
                FLAGGED,
                ANSWERED,
                0,
                Some((ANSWERED, 0)),
            ),
        ];
        for (name, current, add, remove, expected) in cases {
            assert_eq!(effective(current, add, remove), expected, "{name}");
        }
    }

    #[test]
    fn masks_round_trip_and_name_imap_flags() {
        for m in 0..32u8 {
            assert_eq!(mask(&from_mask(m, false)), m);
        }
        assert_eq!(imap_names(SEEN | FORWARDED), ["\\Seen", "$Forwarded"]);
        assert_eq!(requested(FlagChange::Unflagged), (0, FLAGGED));
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
                Error::protocol("refused UID MOVE: [TRYCREATE] Mailbox doesn't exist"),
                Disposition::Fail,
            ),
            (
                Error::protocol("refused APPEND: [OVERQUOTA] Quota exceeded"),
                Disposition::Fail,
            ),
            (
                Error::protocol("refused CREATE: [NOPERM] no"),
                Disposition::Fail,
            ),
            (
                Error::protocol("refused SELECT: [UNAVAILABLE] try later"),
                Disposition::RetryLater,
            ),
            (
                Error::protocol("refused STORE: [INUSE] locked"),
                Disposition::RetryLater,
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
