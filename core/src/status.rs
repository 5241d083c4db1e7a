//! The sync status of every account, kept from the engine's events in one place: what a
//! status bar shows (syncing, progress, push, the last problem, what waits to go out).
//! Subscribers get the current status first, then every change; a slow one skips to
//! the newest, never to a stale one.

use std::sync::{Arc, Weak};

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::error::Result;
use crate::model::{Event, Problem};
use crate::services::Services;

/// One account's status.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct AccountStatus {
    pub account: String,
    pub syncing: bool,
    /// The folder being synced and how far (`done` of `total` headers).
    pub folder: Option<String>,
    pub done: u32,
    pub total: u32,
    /// When a sync last finished in this process (seconds since the epoch).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub last_synced: Option<i64>,
    pub push_connected: bool,
    /// The server's IDLE stays silent: new mail is found by polling.
    pub push_silent: bool,
    /// The last failure since the last good sync.
    pub problem: Option<Problem>,
    /// Messages waiting in the outbox (or refused and kept).
    pub outbox: u32,
    pub changes_waiting: u32,
    pub changes_failed: u32,
}

/// Every account's status, in the order of the accounts.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct SyncStatus {
    pub accounts: Vec<AccountStatus>,
}

/// What an event changes in an account's status. Returns whether the counts of the
/// outbox or the queue may have changed (they are read from the store).
pub fn apply(status: &mut AccountStatus, event: &Event, now: i64) -> bool {
    match event {
        Event::SyncStarted { .. } => {
            status.syncing = true;
            status.folder = None;
            (status.done, status.total) = (0, 0);
        }
        Event::SyncProgress {
            folder,
            done,
            total,
            ..
        } => {
            status.syncing = true;
            status.folder = Some(folder.clone());
            (status.done, status.total) = (*done, *total);
        }
        Event::SyncFinished { .. } => {
            status.syncing = false;
            status.folder = None;
            status.last_synced = Some(now);
            status.problem = None;
        }
        Event::PushState { connected, .. } => status.push_connected = *connected,
        Event::PushSilent { .. } => status.push_silent = true,
        Event::Error {
            kind,
            message,
            advice,
            ..
        } => {
            status.syncing = false;
            status.problem = Some(Problem {
                kind: *kind,
                message: message.clone(),
                advice: advice.clone(),
            });
        }
        Event::OutboxChanged { .. }
        | Event::ChangesApplied { .. }
        | Event::ChangeFailed { .. }
        | Event::MessagesChanged { .. }
        | Event::FoldersChanged { .. } => return true,
        Event::Advisory { .. } | Event::NewMail { .. } => {}
    }
    false
}

fn event_account(event: &Event) -> &str {
    match event {
        Event::SyncStarted { account }
        | Event::SyncProgress { account, .. }
        | Event::SyncFinished { account, .. }
        | Event::MessagesChanged { account, .. }
        | Event::FoldersChanged { account }
        | Event::ChangesApplied { account, .. }
        | Event::ChangeFailed { account, .. }
        | Event::OutboxChanged { account }
        | Event::Advisory { account, .. }
        | Event::NewMail { account, .. }
        | Event::PushState { account, .. }
        | Event::PushSilent { account }
        | Event::Error { account, .. } => account,
    }
}

/// The accounts as stored, each with what it had, and its counts read again.
fn refresh(services: &Services, old: &SyncStatus) -> Result<SyncStatus> {
    let mut accounts = Vec::new();
    for account in services.store.accounts()? {
        let mut status = old
            .accounts
            .iter()
            .find(|s| s.account == account.name)
            .cloned()
            .unwrap_or_else(|| AccountStatus {
                account: account.name.clone(),
                ..AccountStatus::default()
            });
        status.outbox = services.store.outbox(Some(account.id))?.len() as u32;
        let changes = services.store.listed_changes(Some(account.id))?;
        status.changes_failed = changes.iter().filter(|c| c.failed).count() as u32;
        status.changes_waiting = changes.len() as u32 - status.changes_failed;
        accounts.push(status);
    }
    Ok(SyncStatus { accounts })
}

/// Every account's status, as the engine keeps it: the current value for subscribers,
/// kept up to date from the event bus by a task of its own.
pub(crate) struct StatusBoard {
    status: Arc<watch::Sender<SyncStatus>>,
    task: JoinHandle<()>,
}

impl StatusBoard {
    /// Reads the accounts once, then follows the events until the services go.
    pub fn start(runtime: &tokio::runtime::Handle, services: &Arc<Services>) -> Result<Self> {
        let status = Arc::new(watch::Sender::new(SyncStatus::default()));
        refresh_now(services, &status)?;
        let events = services.events.receiver();
        let task = runtime.spawn(keep(Arc::downgrade(services), status.clone(), events));
        Ok(Self { status, task })
    }

    /// Reads the accounts and their counts again (accounts came or went).
    pub fn refresh(&self, services: &Services) -> Result<()> {
        refresh_now(services, &self.status)
    }

    pub fn current(&self) -> SyncStatus {
        self.status.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<SyncStatus> {
        self.status.subscribe()
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

fn refresh_now(services: &Services, status: &watch::Sender<SyncStatus>) -> Result<()> {
    let current = status.borrow().clone();
    let fresh = refresh(services, &current)?;
    status.send_if_modified(|old| {
        let merged = merge_counts(old, &fresh);
        let changed = *old != merged;
        *old = merged;
        changed
    });
    Ok(())
}

async fn keep(
    services: Weak<Services>,
    status: Arc<watch::Sender<SyncStatus>>,
    mut events: broadcast::Receiver<Event>,
) {
    let mut recount = false;
    loop {
        if recount {
            let Some(strong) = services.upgrade() else {
                return;
            };
            let sender = status.clone();
            match tokio::task::spawn_blocking(move || refresh_now(&strong, &sender)).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::info!(%err, "sync status: the store could not be read"),
                Err(_) => return,
            }
        }
        recount = false;
        let event = match events.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(_)) => {
                recount = true;
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if services.strong_count() == 0 {
            return;
        }
        let now = chrono::Utc::now().timestamp();
        let name = event_account(&event);
        status.send_if_modified(|status| {
            match status.accounts.iter_mut().find(|s| s.account == name) {
                Some(account) => {
                    let before = account.clone();
                    recount |= apply(account, &event, now);
                    *account != before
                }
                None => {
                    recount = true;
                    false
                }
            }
        });
    }
}

/// `fresh`'s accounts and counts with what `current` knows from events.
fn merge_counts(current: &SyncStatus, fresh: &SyncStatus) -> SyncStatus {
    let accounts = fresh
        .accounts
        .iter()
        .map(
            |f| match current.accounts.iter().find(|c| c.account == f.account) {
                Some(c) => AccountStatus {
                    outbox: f.outbox,
                    changes_waiting: f.changes_waiting,
                    changes_failed: f.changes_failed,
                    ..c.clone()
                },
                None => f.clone(),
            },
        )
        .collect();
    SyncStatus { accounts }
}

/// Receives the sync status (on a thread of its own).
pub trait StatusListener: Send + Sync {
    fn on_status(&self, status: SyncStatus);
}

/// Delivery of the status to one listener; dropping it stops delivery.
pub struct StatusWatch {
    task: JoinHandle<()>,
}

impl Drop for StatusWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StatusWatch {
    pub fn close(&self) {
        self.task.abort();
    }
}

pub(crate) fn watch_status(
    runtime: &tokio::runtime::Handle,
    mut status: watch::Receiver<SyncStatus>,
    listener: Arc<dyn StatusListener>,
) -> StatusWatch {
    let task = runtime.spawn(async move {
        loop {
            let current = status.borrow_and_update().clone();
            let listener = listener.clone();
            if tokio::task::spawn_blocking(move || listener.on_status(current))
                .await
                .is_err()
                || status.changed().await.is_err()
            {
                return;
            }
        }
    });
    StatusWatch { task }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advice::Advice;
    use crate::error::ErrorKind;
    use crate::model::SyncReport;

    #[test]
    fn events_move_an_account_through_its_states() {
        let a = || "main".to_owned();
        let auth = Advice::new("auth_failed", "");
        // (event, counts may change, then: syncing, folder, problem id, push)
        type Case = (
            Event,
            bool,
            bool,
            Option<&'static str>,
            Option<&'static str>,
            bool,
        );
        let cases: Vec<Case> = vec![
            (
                Event::SyncStarted { account: a() },
                false,
                true,
                None,
                None,
                false,
            ),
            (
                Event::SyncProgress {
                    account: a(),
                    folder: "INBOX".into(),
                    done: 50,
                    total: 100,
                },
                false,
                true,
                Some("INBOX"),
                None,
                false,
            ),
            (
                Event::Error {
                    account: a(),
                    kind: ErrorKind::AuthFailed,
                    message: "LOGIN refused".into(),
                    advice: auth.clone(),
                },
                false,
                false,
                Some("INBOX"),
                Some("auth_failed"),
                false,
            ),
            (
                Event::PushState {
                    account: a(),
                    connected: true,
                },
                false,
                false,
                Some("INBOX"),
                Some("auth_failed"),
                true,
            ),
            (
                Event::SyncFinished {
                    account: a(),
                    report: SyncReport::default(),
                },
                false,
                false,
                None,
                None,
                true,
            ),
            (
                Event::OutboxChanged { account: a() },
                true,
                false,
                None,
                None,
                true,
            ),
        ];
        let mut status = AccountStatus::default();
        for (event, recount, syncing, folder, problem, push) in cases {
            assert_eq!(apply(&mut status, &event, 1000), recount, "{event:?}");
            assert_eq!(status.syncing, syncing, "{event:?}");
            assert_eq!(status.folder.as_deref(), folder, "{event:?}");
            let advice = status.problem.as_ref().map(|p| p.advice.id.as_str());
            assert_eq!(advice, problem, "{event:?}");
            assert_eq!(status.push_connected, push, "{event:?}");
        }
        assert_eq!(status.last_synced, Some(1000));
    }

    #[test]
    fn fresh_counts_keep_what_events_taught() {
        let known = SyncStatus {
            accounts: vec![AccountStatus {
                account: "main".into(),
                syncing: true,
                outbox: 3,
                ..AccountStatus::default()
            }],
        };
        let fresh = SyncStatus {
            accounts: vec![
                AccountStatus {
                    account: "main".into(),
                    outbox: 1,
                    ..AccountStatus::default()
                },
                AccountStatus {
                    account: "new".into(),
                    ..AccountStatus::default()
                },
            ],
        };
        let merged = merge_counts(&known, &fresh);
        assert_eq!(merged.accounts.len(), 2);
        assert!(merged.accounts[0].syncing);
        assert_eq!(merged.accounts[0].outbox, 1);
    }
}
