//! The engine's services, composed once: account sessions, the change queue, sync and
//! the outbox, each with its own state. The engine owns them; background tasks hold
//! them weakly.

use std::path::PathBuf;
use std::sync::Arc;

use crate::advice::Advice;
use crate::credentials::CredentialStore;
use crate::error::Result;
use crate::events::EventBus;
use crate::model::{Account, AccountSyncNow, Problem, PushReport, SendReport, SyncReport};
use crate::options::EngineOptions;
use crate::outbox::Outbox;
use crate::queue::ChangeQueue;
use crate::session::Sessions;
use crate::store::Store;
use crate::sync::SyncService;

pub(crate) struct Services {
    pub store: Arc<Store>,
    pub events: EventBus,
    pub options: EngineOptions,
    pub sessions: Arc<Sessions>,
    pub queue: Arc<ChangeQueue>,
    pub sync: Arc<SyncService>,
    pub outbox: Arc<Outbox>,
    pub data_dir: PathBuf,
}

impl Services {
    pub fn new(
        store: Arc<Store>,
        credentials: Arc<dyn CredentialStore>,
        options: EngineOptions,
        data_dir: PathBuf,
    ) -> Self {
        let events = EventBus::default();
        let sessions = Arc::new(Sessions::new(
            store.clone(),
            credentials,
            options.connect_policy(),
        ));
        let queue = Arc::new(ChangeQueue::new(
            store.clone(),
            sessions.clone(),
            events.clone(),
            data_dir.clone(),
        ));
        let sync = Arc::new(SyncService::new(
            store.clone(),
            sessions.clone(),
            events.clone(),
        ));
        let outbox = Arc::new(Outbox::new(
            queue.clone(),
            sync.clone(),
            events.clone(),
            data_dir.clone(),
            &options.connect_policy(),
        ));
        Self {
            store,
            events,
            options,
            sessions,
            queue,
            sync,
            outbox,
            data_dir,
        }
    }

    /// One account by name, or all of them.
    pub fn accounts(&self, name: Option<&str>) -> Result<Vec<Account>> {
        match name {
            Some(name) => Ok(vec![self.store.account_by_name(name)?]),
            None => self.store.accounts(),
        }
    }

    /// An account's id, for an optional name (`None`: every account).
    pub fn account_id(&self, name: Option<&str>) -> Result<Option<i64>> {
        name.map(|n| self.store.account_by_name(n).map(|a| a.id))
            .transpose()
    }

    /// "Sync now" for one account, past any backoff: queued changes go out first (a
    /// folder created here must exist there before the pull lists it), then the pull.
    /// The outbox goes alongside, never before: a stuck SMTP server must not hold up
    /// receiving mail. Every part runs whatever the others did; the report says how each
    /// ended.
    pub async fn sync_now(&self, account: &Account) -> AccountSyncNow {
        let (sent, (pushed, pulled)) = tokio::join!(self.outbox.send(account, true), async {
            let pushed = self.queue.push(account, false).await;
            (pushed, self.sync.sync_account(account).await)
        });
        let mut pushed = pushed.unwrap_or_else(|err| {
            tracing::info!(%err, "replaying changes before sync failed");
            PushReport {
                offline: Some(err.message),
                ..PushReport::default()
            }
        });
        let sent = sent.unwrap_or_else(|err| {
            tracing::info!(%err, "sending the outbox failed");
            SendReport {
                offline: Some(err.message),
                ..SendReport::default()
            }
        });
        // The Sent copy and the original's flag go up in this sync too.
        if sent.sent > 0 {
            match self.queue.push(account, false).await {
                Ok(more) => {
                    pushed.applied += more.applied;
                    pushed.failed += more.failed;
                    pushed.pending = more.pending;
                    pushed.offline = more.offline.or(pushed.offline);
                }
                Err(err) => tracing::info!(%err, "replaying what sending queued failed"),
            }
        }
        sync_now_outcome(&account.name, sent, pushed, pulled)
    }
}

/// One account's "sync now" in one record: the pull's error first (it is what the user
/// asked for), then the outbox's reason for waiting, then the queue's.
fn sync_now_outcome(
    account: &str,
    sent: SendReport,
    pushed: PushReport,
    pulled: Result<SyncReport>,
) -> AccountSyncNow {
    let problem = match &pulled {
        Err(err) => Some(Problem::of(err)),
        Ok(_) => sent
            .offline
            .as_ref()
            .map(|reason| Problem {
                kind: crate::ErrorKind::Network,
                message: format!("{} message(s) still in the outbox: {reason}", sent.queued),
                advice: Advice::new("outbox_waiting", ""),
            })
            .or_else(|| {
                pushed.offline.as_ref().map(|reason| Problem {
                    kind: crate::ErrorKind::Network,
                    message: format!("{} change(s) still queued: {reason}", pushed.pending),
                    advice: Advice::new("network", reason.clone()),
                })
            }),
    };
    AccountSyncNow {
        account: account.to_owned(),
        sent: sent.sent,
        send_refused: sent.failed,
        still_in_outbox: sent.queued,
        pushed: pushed.applied,
        changes_waiting: pushed.pending,
        pulled: pulled.ok(),
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, ErrorKind};

    #[test]
    fn one_report_says_how_each_part_of_sync_now_ended() {
        let pulled = SyncReport {
            folders: 3,
            new_messages: 2,
            ..SyncReport::default()
        };
        let offline = |reason: &str| Some(reason.to_owned());
        let sent = |sent, queued, reason| SendReport {
            sent,
            failed: 0,
            queued,
            offline: reason,
        };
        let pushed = |applied, pending, reason| PushReport {
            applied,
            failed: 0,
            pending,
            offline: reason,
        };
        let refused = Error::new(ErrorKind::AuthFailed, "LOGIN refused");
        // (sent, pushed, pulled) → (problem's advice id, pulled)
        type Case<'a> = (
            SendReport,
            PushReport,
            Result<SyncReport>,
            Option<&'a str>,
            bool,
        );
        let cases: [Case; 5] = [
            (sent(1, 0, None), pushed(2, 0, None), Ok(pulled), None, true),
            (
                sent(0, 1, offline("connection refused")),
                pushed(0, 0, None),
                Ok(pulled),
                Some("outbox_waiting"),
                true,
            ),
            (
                sent(0, 0, None),
                pushed(0, 4, offline("timed out")),
                Ok(pulled),
                Some("network"),
                true,
            ),
            (
                sent(0, 1, offline("connection refused")),
                pushed(0, 0, None),
                Err(refused.clone()),
                Some("auth_failed"),
                false,
            ),
            (
                sent(0, 0, None),
                pushed(0, 0, None),
                Err(refused),
                Some("auth_failed"),
                false,
            ),
        ];
        for (sent, pushed, pull, problem, has_pull) in cases {
            let (sent_n, queued, applied, pending) =
                (sent.sent, sent.queued, pushed.applied, pushed.pending);
            let report = sync_now_outcome("a", sent, pushed, pull);
            assert_eq!(
                report.problem.as_ref().map(|p| p.advice.id.as_str()),
                problem
            );
            assert_eq!(report.pulled.is_some(), has_pull);
            assert_eq!(
                (
                    report.sent,
                    report.still_in_outbox,
                    report.pushed,
                    report.changes_waiting
                ),
                (sent_n, queued, applied, pending)
            );
        }
    }
}
