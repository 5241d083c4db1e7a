//! IDLE (RFC 2177), and the unsolicited responses async-imap queues for us.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use async_imap::imap_proto::Response;
use async_imap::types::UnsolicitedResponse;

use super::codes::{imap_error, timed};
use super::ImapConnection;
use crate::error::Result;

/// Why an IDLE ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleEvent {
    /// The server reported new mail, flag changes or expunges.
    Changed,
    /// Time to re-issue IDLE before the server gives up on it.
    Renew,
    /// The caller asked to stop (for example, the network changed).
    Interrupted,
}

/// The most expunged UIDs taken from VANISHED answers at once.
const MAX_VANISHED: u64 = 1_000_000;

/// What async-imap set aside while a command ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unsolicited {
    /// UIDs the server says were expunged (QRESYNC VANISHED).
    pub vanished: Vec<u32>,
    /// The channel was full: responses may have been dropped.
    pub lossy: bool,
    /// Something about the mailbox changed (new mail, expunges, flags).
    pub changed: bool,
}

fn tells_of_a_change(resp: &UnsolicitedResponse) -> bool {
    match resp {
        UnsolicitedResponse::Exists(_)
        | UnsolicitedResponse::Expunge(_)
        | UnsolicitedResponse::Recent(_) => true,
        UnsolicitedResponse::Other(data) => {
            matches!(
                data.parsed(),
                Response::Fetch(..) | Response::Vanished { .. }
            )
        }
        _ => false,
    }
}

impl ImapConnection {
    /// Waits in IDLE on the selected folder until the server reports something, `renewal`
    /// passes (IDLE is then re-issued by the caller), or `interrupt` completes. Changes
    /// the server reported just before IDLE began (before its `+`) or while it ended
    /// count as well: some servers send them then, and they would be lost otherwise.
    pub async fn idle(
        self,
        renewal: Duration,
        interrupt: impl Future<Output = ()>,
    ) -> Result<(Self, IdleEvent)> {
        let Self {
            session,
            caps,
            target,
            selected,
            clock,
            naming,
            selected_status,
        } = self;
        let pending = session.unsolicited_responses.clone();
        let mut handle = session.idle();
        timed(&clock, &target, "IDLE", handle.init()).await?;
        let already_changed = {
            let mut changed = false;
            while let Ok(resp) = pending.try_recv() {
                changed |= tells_of_a_change(&resp);
            }
            changed
        };
        let event = if already_changed {
            IdleEvent::Changed
        } else {
            let (wait, stop) = handle.wait_with_timeout(renewal + Duration::from_secs(60));
            let mut stop = Some(stop);
            let mut interrupted = false;
            tokio::pin!(wait);
            let deadline = tokio::time::sleep(renewal);
            tokio::pin!(deadline);
            tokio::pin!(interrupt);
            // Dropping the stop source ends the wait cleanly (no read is cut in half).
            let result = loop {
                tokio::select! {
                    result = &mut wait => break result,
                    _ = &mut deadline, if stop.is_some() => stop = None,
                    _ = &mut interrupt, if stop.is_some() => {
                        stop = None;
                        interrupted = true;
                    }
                }
            };
            match result.map_err(|err| imap_error(&target, "IDLE", err))? {
                async_imap::extensions::idle::IdleResponse::NewData(_) => IdleEvent::Changed,
                _ if interrupted => IdleEvent::Interrupted,
                _ => IdleEvent::Renew,
            }
        };
        let session = timed(&clock, &target, "DONE", async { handle.done().await }).await?;
        let mut conn = Self {
            session,
            caps,
            target,
            selected,
            clock,
            naming,
            selected_status,
        };
        let after = conn.drain_unsolicited();
        let event = match event {
            IdleEvent::Renew if after.changed => IdleEvent::Changed,
            other => other,
        };
        Ok((conn, event))
    }

    /// Empties async-imap's bounded unsolicited channel, which drops silently when full.
    pub fn drain_unsolicited(&mut self) -> Unsolicited {
        let mut out = Unsolicited {
            lossy: self.session.unsolicited_responses.is_full(),
            ..Unsolicited::default()
        };
        let mut vanished = HashSet::new();
        while let Ok(resp) = self.session.unsolicited_responses.try_recv() {
            out.changed |= tells_of_a_change(&resp);
            if let UnsolicitedResponse::Other(data) = &resp {
                if let Response::Vanished { uids, .. } = data.parsed() {
                    for range in uids {
                        // More UIDs than any folder holds is no list to trust (a server
                        // may say `1:4294967295`): the caller lists the folder instead.
                        // (A range written high to low counts the same.)
                        let span = u64::from(range.end().abs_diff(*range.start())) + 1;
                        if vanished.len() as u64 + span > MAX_VANISHED {
                            out.lossy = true;
                            continue;
                        }
                        let (low, high) = if range.start() <= range.end() {
                            (*range.start(), *range.end())
                        } else {
                            (*range.end(), *range.start())
                        };
                        vanished.extend(low..=high);
                    }
                }
            }
        }
        out.vanished = vanished.into_iter().collect();
        out.vanished.sort_unstable();
        out
    }
}
