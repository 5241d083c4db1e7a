//! Background work per account: IDLE (or polling) on the watched folders, and a worker
//! replaying the change queue. Tasks hold only weak references: closing the engine
//! really frees it.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::engine::Inner;
use crate::imap::IdleEvent;
use crate::model::{Account, Event, Protocol};

const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(60);

pub(crate) fn spawn(
    runtime: &Handle,
    inner: &Arc<Inner>,
    account: &Account,
) -> Vec<JoinHandle<()>> {
    let mut tasks = vec![runtime.spawn(change_worker(Arc::downgrade(inner), account.id))];
    if account.protocol == Protocol::Pop3 {
        // POP3 has no push: download on a timer.
        tasks.push(runtime.spawn(poll_pop3(Arc::downgrade(inner), account.id)));
        return tasks;
    }
    for folder in &inner.options.idle_folders {
        tasks.push(runtime.spawn(watch_folder(
            Arc::downgrade(inner),
            account.id,
            folder.clone(),
        )));
    }
    tasks
}

/// Sends the outbox and replays queued changes whenever something is queued, when the
/// next retry is due, and when the network comes back.
async fn change_worker(engine: Weak<Inner>, account_id: i64) {
    let Some((mut queued, mut network)) = engine.upgrade().map(|inner| {
        (
            inner.queue_generation.subscribe(),
            inner.network_generation.subscribe(),
        )
    }) else {
        return;
    };
    loop {
        queued.mark_unchanged();
        network.mark_unchanged();
        let wait = {
            let Some(inner) = engine.upgrade() else {
                return;
            };
            let Ok(account) = inner.store.account_by_id(account_id) else {
                return;
            };
            if let Err(err) = inner.send_outbox(&account, false).await {
                tracing::warn!(%err, "sending the outbox failed");
            }
            if let Err(err) = inner.push_account(&account, true).await {
                tracing::warn!(%err, "change replay failed");
            }
            let now = chrono::Utc::now().timestamp();
            let changes = inner.store.next_due(account_id).ok().flatten();
            let outbox = inner.store.next_outgoing_due(account_id).ok().flatten();
            match changes.into_iter().chain(outbox).min() {
                Some(due) => Duration::from_secs(due.saturating_sub(now).max(1) as u64),
                None => Duration::from_secs(3600),
            }
        };
        // Hold no strong reference while waiting; anything queued meanwhile shows up
        // as a change of the watch channel.
        let woken = async {
            tokio::select! {
                _ = queued.changed() => {}
                _ = network.changed() => {}
            }
        };
        let _ = tokio::time::timeout(wait, weak_wait(engine.clone(), woken)).await;
    }
}

/// Waits for `fut` but gives up as soon as the engine is gone.
async fn weak_wait(engine: Weak<Inner>, fut: impl std::future::Future<Output = ()>) {
    tokio::pin!(fut);
    loop {
        tokio::select! {
            _ = &mut fut => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                if engine.strong_count() == 0 {
                    return;
                }
            }
        }
    }
}

/// One connection IDLEs on `folder`; each server notification triggers a sync of the
/// account. Reconnects with backoff, at once after a network change, and polls where
/// the server has no IDLE.
async fn watch_folder(engine: Weak<Inner>, account_id: i64, folder: String) {
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
        let mut network = inner.network_generation.subscribe();
        network.mark_unchanged();
        let renewal = inner.options.idle_renewal;
        let poll = inner.options.poll_interval;
        let connected = async {
            let mut conn = inner.connect(&account).await?;
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
            let result = conn.idle(renewal.min(poll), interrupt).await;
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
                    // Also the moment for a full pass: folders IDLE does not watch.
                    sync_now(&inner, &account).await;
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

async fn poll_pop3(engine: Weak<Inner>, account_id: i64) {
    loop {
        let (poll, mut network) = {
            let Some(inner) = engine.upgrade() else {
                return;
            };
            let Ok(account) = inner.store.account_by_id(account_id) else {
                return;
            };
            if let Err(err) = inner.sync_account(&account).await {
                tracing::info!(%err, "POP3 download failed");
            }
            (
                inner.options.poll_interval,
                inner.network_generation.subscribe(),
            )
        };
        network.mark_unchanged();
        let woken = async {
            let _ = network.changed().await;
        };
        let _ = tokio::time::timeout(poll, weak_wait(engine.clone(), woken)).await;
    }
}

async fn sync_now(inner: &Inner, account: &Account) {
    if let Err(err) = inner.push_account(account, true).await {
        tracing::info!(%err, "replay before sync failed");
    }
    if let Err(err) = inner.sync_account(account).await {
        tracing::info!(%err, "sync after push notification failed");
    }
}
