//! Events for front ends: a broadcast bus inside the engine, listeners outside it.

use std::sync::Arc;

use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::model::Event;

/// Implemented by front ends to receive engine events.
pub trait EventListener: Send + Sync {
    fn on_event(&self, event: Event);
}

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(1024).0,
        }
    }
}

impl EventBus {
    pub fn emit(&self, event: Event) {
        tracing::debug!(?event, "event");
        // No receiver is fine: nobody listens yet.
        let _ = self.sender.send(event);
    }

    pub fn receiver(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}

/// Delivery of events to one listener; dropping it (or calling `close`) stops delivery.
pub struct Subscription {
    task: JoinHandle<()>,
}

impl Subscription {
    pub(crate) fn spawn(
        runtime: &tokio::runtime::Handle,
        mut receiver: broadcast::Receiver<Event>,
        listener: Arc<dyn EventListener>,
    ) -> Self {
        let task = runtime.spawn(async move {
            loop {
                match receiver.recv().await {
                    Ok(event) => {
                        let listener = listener.clone();
                        // A foreign listener may block: keep it off the async workers.
                        if tokio::task::spawn_blocking(move || listener.on_event(event))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "a slow listener missed events");
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        Self { task }
    }

    pub fn close(&self) {
        self.task.abort();
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}
