//! Which arrivals are new mail to tell the user about: one rule for every platform's
//! notifications. A pure decision, then `announce`, which asks the store and emits
//! `Event::NewMail` once per folder pass.

use crate::error::Result;
use crate::events::EventBus;
use crate::model::{Account, Event};
use crate::store::Store;

/// At most this many messages ride along in one event (`total` counts them all).
const MAX_IN_EVENT: usize = 20;
/// Of a larger arrival, the newest are picked from this many.
const MAX_SORTED: usize = 500;

/// Where messages arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrivals {
    /// The folder is the account's Inbox.
    pub inbox: bool,
    /// This device had never synced the folder (a new account, or the server renumbered
    /// it): everything in it arrives at once and none of it is news.
    pub first_sync: bool,
}

/// One message stored by this pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    pub id: i64,
    pub seen: bool,
    /// The account already held a message with the same Message-ID: a copy of one this
    /// device sent (its Sent copy) or moved, not news.
    pub known_here: bool,
}

/// The ids to announce, in the order they arrived (newest first).
pub fn decide(folder: Arrivals, arrived: &[Arrival]) -> Vec<i64> {
    if !folder.inbox || folder.first_sync {
        return Vec::new();
    }
    arrived
        .iter()
        .filter(|a| !a.seen && !a.known_here)
        .map(|a| a.id)
        .collect()
}

/// Emits `NewMail` for what `decide` keeps of `arrived` (ids newest first).
pub fn announce(
    store: &Store,
    events: &EventBus,
    account: &Account,
    folder: &str,
    context: Arrivals,
    arrived: &[i64],
) -> Result<()> {
    if arrived.is_empty() || !context.inbox || context.first_sync {
        return Ok(());
    }
    let arrivals: Vec<Arrival> = store
        .arrivals(arrived)?
        .into_iter()
        .map(|(id, seen, known_here)| Arrival {
            id,
            seen,
            known_here,
        })
        .collect();
    let fresh = decide(context, &arrivals);
    if fresh.is_empty() {
        return Ok(());
    }
    // A batch stores in the server's order: sort by date, newest first.
    let mut messages = fresh
        .iter()
        .take(MAX_SORTED)
        .map(|&id| store.message_summary(id))
        .collect::<Result<Vec<_>>>()?;
    messages.sort_by_key(|m| std::cmp::Reverse(m.date));
    messages.truncate(MAX_IN_EVENT);
    events.emit(Event::NewMail {
        account: account.name.clone(),
        folder: folder.to_owned(),
        total: fresh.len() as u32,
        messages,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unseen_news_in_the_inbox_after_the_first_sync() {
        let a = |id, seen, known_here| Arrival {
            id,
            seen,
            known_here,
        };
        let arrived = [a(3, false, false), a(2, true, false), a(1, false, true)];
        let inbox = Arrivals {
            inbox: true,
            first_sync: false,
        };
        let cases = [
            (inbox, vec![3]),
            (
                Arrivals {
                    first_sync: true,
                    ..inbox
                },
                vec![],
            ),
            (
                Arrivals {
                    inbox: false,
                    ..inbox
                },
                vec![],
            ),
        ];
        for (folder, expected) in cases {
            assert_eq!(decide(folder, &arrived), expected, "{folder:?}");
        }
        assert_eq!(decide(inbox, &[]), Vec::<i64>::new());
    }
}
