//! The engine's services, composed once: account sessions, the change queue, sync and
//! the outbox, each with its own state. The engine owns them; background tasks hold
//! them weakly.

use std::path::PathBuf;
use std::sync::Arc;

use crate::credentials::CredentialStore;
use crate::error::Result;
use crate::events::EventBus;
use crate::model::{Account, SyncReport};
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
            data_dir,
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

    /// "Sync now" for one account: queued changes go out first (a folder created here
    /// must exist there before the pull lists it), with backoff, so that a server that
    /// did not answer a moment ago does not hold up the pull again; then the pull. The
    /// outbox goes alongside, never before: a stuck SMTP server must not hold up
    /// receiving mail.
    pub async fn sync_now(&self, account: &Account) -> Result<SyncReport> {
        let (sent, pulled) = tokio::join!(self.outbox.send(account, false), async {
            if let Err(err) = self.queue.push(account, false).await {
                tracing::info!(%err, "replaying changes before sync failed");
            }
            self.sync.sync_account(account).await
        });
        match sent {
            // The Sent copy and the original's flag go up in this sync too.
            Ok(report) if report.sent > 0 => {
                if let Err(err) = self.queue.push(account, false).await {
                    tracing::info!(%err, "replaying what sending queued failed");
                }
            }
            Ok(_) => {}
            Err(err) => tracing::info!(%err, "sending the outbox failed"),
        }
        pulled
    }
}
