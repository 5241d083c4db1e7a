//! The queue's background worker per account: replays queued changes whenever something
//! is queued, when the next retry is due, and when the network comes back. It holds only
//! a weak reference, so closing the engine really frees it.

use std::future::Future;
use std::sync::Weak;
use std::time::Duration;

use super::ChangeQueue;

pub(crate) async fn run(queue: Weak<ChangeQueue>, account_id: i64) {
    let Some((mut queued, mut network)) = queue
        .upgrade()
        .map(|q| (q.wake_ups(), q.sessions().network_changes()))
    else {
        return;
    };
    loop {
        queued.mark_unchanged();
        network.mark_unchanged();
        let wait = {
            let Some(queue) = queue.upgrade() else {
                return;
            };
            let Ok(account) = queue.store().account_by_id(account_id) else {
                return;
            };
            if let Err(err) = queue.push(&account, true).await {
                tracing::warn!(%err, "change replay failed");
            }
            let now = chrono::Utc::now().timestamp();
            match queue.store().next_due(account_id).ok().flatten() {
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
        let _ = tokio::time::timeout(wait, while_alive(&queue, woken)).await;
    }
}

/// Waits for `fut` but gives up as soon as the service behind `alive` is gone.
pub(crate) async fn while_alive<T>(alive: &Weak<T>, fut: impl Future<Output = ()>) {
    tokio::pin!(fut);
    loop {
        tokio::select! {
            _ = &mut fut => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                if alive.strong_count() == 0 {
                    return;
                }
            }
        }
    }
}
