//! Background work per account: the queue's and the outbox's workers, IDLE (or polling)
//! on the watched folders, and POP3 downloads on a timer. Tasks hold only weak
//! references: closing the engine really frees it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::imap::IdleEvent;
use crate::model::{Account, Event, Protocol};
use crate::queue::worker;
use crate::services::Services;

const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(60);

/// Which accounts have background work, and the tasks doing it.
#[derive(Default)]
pub(crate) struct Push {
    pushing: Mutex<HashSet<i64>>,
    /// `start` for all accounts was called: accounts added later join in.
    all: AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Push {
    /// Starts the account's background work, unless it runs already.
    pub fn start(&self, runtime: &Handle, services: &Arc<Services>, account: &Account) {
        let mut pushing = self.pushing.lock().unwrap_or_else(|e| e.into_inner());
        if !pushing.insert(account.id) {
            return;
        }
        let id = account.id;
        let mut tasks = vec![
            runtime.spawn(worker::run(Arc::downgrade(&services.queue), id)),
            runtime.spawn(crate::outbox::run_worker(
                Arc::downgrade(&services.outbox),
                id,
            )),
        ];
        if account.protocol == Protocol::Pop3 {
            // POP3 has no push: download on a timer.
            tasks.push(runtime.spawn(poll_pop3(Arc::downgrade(services), id)));
        } else {
            for folder in &services.options.idle_folders {
                tasks.push(runtime.spawn(watch_folder(
                    Arc::downgrade(services),
                    id,
                    folder.clone(),
                )));
            }
        }
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(tasks);
    }

    pub fn start_all(&self) {
        self.all.store(true, Ordering::SeqCst);
    }

    pub fn runs_for_all(&self) -> bool {
        self.all.load(Ordering::SeqCst)
    }

    /// The account is gone; its tasks notice and stop.
    pub fn forget(&self, account_id: i64) {
        self.pushing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&account_id);
    }

    pub fn stop(&self) {
        let tasks: Vec<_> = self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        for task in tasks {
            task.abort();
        }
    }
}

/// One connection IDLEs on `folder`; each server notification triggers a sync of the
/// account. Reconnects with backoff, at once after a network change, and polls where
/// the server has no IDLE.
async fn watch_folder(engine: Weak<Services>, account_id: i64, folder: String) {
    let first_delay = match engine.upgrade() {
        Some(inner) => inner.options.reconnect_delay,
        None => return,
    };
    let mut delay = first_delay;
    loop {
        let Some(inner) = engine.upgrade() else {
            return;
        };
        let Ok(account) = inner.store.account_by_id(account_id) else {
            return;
        };
        let mut network = inner.sessions.network_changes();
        network.mark_unchanged();
        let renewal = inner.options.idle_renewal;
        let poll = inner.options.poll_interval;
        let connected = async {
            let mut conn = inner.sessions.connect(&account).await?;
            if conn.caps.idle {
                conn.select(&folder).await?;
            }
            Ok::<_, crate::Error>(conn)
        }
        .await;
        let mut conn = match connected {
            Ok(conn) => conn,
            Err(err) => {
                tracing::info!(%err, folder, "push connection failed; retrying");
                inner.events.emit(Event::PushState {
                    account: account.name.clone(),
                    connected: false,
                });
                drop(inner);
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = network.changed() => {}
                }
                delay = (delay * 2).min(MAX_RECONNECT_DELAY.max(first_delay));
                continue;
            }
        };
        delay = first_delay;
        inner.events.emit(Event::PushState {
            account: account.name.clone(),
            connected: true,
        });
        // Catch up on what happened while not connected.
        sync_now(&inner, &account).await;
        drop(inner);

        let mut idle_trusted = true;
        loop {
            if !conn.caps.idle {
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = network.changed() => break,
                }
                let Some(inner) = engine.upgrade() else {
                    return;
                };
                if conn.noop().await.is_err() {
                    break;
                }
                sync_now(&inner, &account).await;
                continue;
            }
            let mut network_for_idle = network.clone();
            let interrupt = async move {
                let _ = network_for_idle.changed().await;
            };
            // A server whose IDLE stayed silent about mail is checked as often as one
            // without IDLE.
            let wait = if idle_trusted {
                renewal
            } else {
                renewal.min(poll)
            };
            let result = conn.idle(wait, interrupt).await;
            let Some(inner) = engine.upgrade() else {
                return;
            };
            match result {
                Ok((back, IdleEvent::Changed)) => {
                    conn = back;
                    sync_now(&inner, &account).await;
                }
                Ok((back, IdleEvent::Renew)) => {
                    conn = back;
                    // Also the moment for a full pass: folders IDLE does not watch, and
                    // mail IDLE should have announced but did not.
                    let before = inner
                        .store
                        .folder_uidnext(account.id, &folder)
                        .ok()
                        .flatten();
                    sync_now(&inner, &account).await;
                    let after = inner
                        .store
                        .folder_uidnext(account.id, &folder)
                        .ok()
                        .flatten();
                    if matches!((before, after), (Some(b), Some(a)) if a > b) {
                        tracing::info!(folder, "new mail that IDLE did not announce");
                        idle_trusted = false;
                        inner.events.emit(Event::PushSilent {
                            account: account.name.clone(),
                        });
                    }
                }
                Ok((_, IdleEvent::Interrupted)) => break,
                Err(err) => {
                    tracing::info!(%err, folder, "push connection lost; reconnecting");
                    inner.events.emit(Event::PushState {
                        account: account.name.clone(),
                        connected: false,
                    });
                    break;
                }
            }
        }
    }
}

async fn poll_pop3(engine: Weak<Services>, account_id: i64) {
    loop {
        let (poll, mut network) = {
            let Some(inner) = engine.upgrade() else {
                return;
            };
            let Ok(account) = inner.store.account_by_id(account_id) else {
                return;
            };
            if let Err(err) = inner.sync.sync_account(&account).await {
                tracing::info!(%err, "POP3 download failed");
            }
            (
                inner.options.poll_interval,
                inner.sessions.network_changes(),
            )
        };
        network.mark_unchanged();
        let woken = async {
            let _ = network.changed().await;
        };
        let _ = tokio::time::timeout(poll, worker::while_alive(&engine, woken)).await;
    }
}

async fn sync_now(services: &Services, account: &Account) {
    if let Err(err) = services.queue.push(account, true).await {
        tracing::info!(%err, "replay before sync failed");
    }
    if let Err(err) = services.sync.sync_account(account).await {
        tracing::info!(%err, "sync after push notification failed");
    }
}
