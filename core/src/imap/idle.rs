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

impl ImapConnection {
    /// Waits in IDLE on the selected folder until the server reports something, `renewal`
    /// passes (IDLE is then re-issued by the caller), or `interrupt` completes.
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
        } = self;
        let mut handle = session.idle();
        timed(&target, "IDLE", handle.init()).await?;
        let event = {
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
        let session = timed(&target, "DONE", async { handle.done().await }).await?;
        let mut conn = Self {
            session,
            caps,
            target,
            selected,
        };
        conn.drain_unsolicited();
        Ok((conn, event))
    }

    /// Empties async-imap's bounded unsolicited channel, which drops silently when full.
    /// Returns VANISHED UIDs and whether the channel was full (responses may be lost).
    pub fn drain_unsolicited(&mut self) -> (Vec<u32>, bool) {
        let lossy = self.session.unsolicited_responses.is_full();
        let mut vanished = HashSet::new();
        while let Ok(resp) = self.session.unsolicited_responses.try_recv() {
            if let UnsolicitedResponse::Other(data) = resp {
                if let Response::Vanished { uids, .. } = data.parsed() {
                    for range in uids {
                        vanished.extend(range.clone());
                    }
                }
            }
        }
        let mut vanished: Vec<u32> = vanished.into_iter().collect();
        vanished.sort_unstable();
        (vanished, lossy)
    }
}
