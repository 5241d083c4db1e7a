//! Pull sync: carries out the decisions of [`plan`] against a connection and the store.
//! `folder` is one folder's pass in named steps, `bodies` downloads bodies (ahead of time
//! and on open), `pop3` is the POP3 download.

mod bodies;
mod folder;
pub mod new_mail;
pub mod plan;
pub mod pop3;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::Result;
use crate::events::EventBus;
use crate::imap::{FetchedHeader, ImapConnection, MailboxStatus};
use crate::mail::{HeaderRecord, RemoteFolder};
use crate::mime;
use crate::model::{Account, Event, Message, Protocol, SyncReport};
use crate::session::Sessions;
use crate::store::{FolderSyncState, Store};

const SETTING_BODY_PREFETCH: &str = "body_prefetch";
const DEFAULT_BODY_PREFETCH: u32 = 50;
const SETTING_DOWNLOAD_LIMIT: &str = "download_limit";
const SETTING_PREFETCH_WHEN_METERED: &str = "prefetch_when_metered";
/// Messages larger than this are downloaded when opened, not ahead of time.
pub const DEFAULT_DOWNLOAD_LIMIT: u64 = 10 << 20;

/// How many bodies to download ahead of time, per folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyPrefetch {
    Newest(u32),
    All,
}

pub(crate) struct SyncService {
    store: Arc<Store>,
    sessions: Arc<Sessions>,
    events: EventBus,
    /// The platform said the current link is metered (mobile data, a tethered hotspot).
    metered: AtomicBool,
}

impl SyncService {
    pub fn new(store: Arc<Store>, sessions: Arc<Sessions>, events: EventBus) -> Self {
        Self {
            store,
            sessions,
            events,
            metered: AtomicBool::new(false),
        }
    }

    pub fn set_metered(&self, metered: bool) {
        self.metered.store(metered, Ordering::Relaxed);
    }

    pub fn metered(&self) -> bool {
        self.metered.load(Ordering::Relaxed)
    }

    /// Whether bodies are downloaded ahead of time on a metered link too.
    pub fn prefetch_when_metered(&self) -> Result<bool> {
        Ok(self
            .store
            .setting(SETTING_PREFETCH_WHEN_METERED)?
            .as_deref()
            == Some("on"))
    }

    pub fn set_prefetch_when_metered(&self, on: bool) -> Result<()> {
        let value = if on { "on" } else { "off" };
        self.store.set_setting(SETTING_PREFETCH_WHEN_METERED, value)
    }

    /// How many bodies per folder are downloaded ahead of time.
    pub fn prefetch(&self) -> Result<BodyPrefetch> {
        Ok(
            match self.store.setting(SETTING_BODY_PREFETCH)?.as_deref() {
                Some("all") => BodyPrefetch::All,
                Some(n) => BodyPrefetch::Newest(n.parse().unwrap_or(DEFAULT_BODY_PREFETCH)),
                None => BodyPrefetch::Newest(DEFAULT_BODY_PREFETCH),
            },
        )
    }

    /// The largest message downloaded ahead of time (`None`: any size).
    pub fn download_limit(&self) -> Result<Option<u64>> {
        Ok(
            match self.store.setting(SETTING_DOWNLOAD_LIMIT)?.as_deref() {
                Some("none") => None,
                Some(n) => Some(n.parse().unwrap_or(DEFAULT_DOWNLOAD_LIMIT)),
                None => Some(DEFAULT_DOWNLOAD_LIMIT),
            },
        )
    }

    pub fn set_download_limit(&self, bytes: Option<u64>) -> Result<()> {
        let value = bytes.map_or_else(|| "none".to_owned(), |n| n.to_string());
        self.store.set_setting(SETTING_DOWNLOAD_LIMIT, &value)?;
        self.store.set_all_prefetch_pending()
    }

    pub fn set_prefetch(&self, newest: Option<u32>) -> Result<()> {
        let value = newest.map_or_else(|| "all".to_owned(), |n| n.to_string());
        self.store.set_setting(SETTING_BODY_PREFETCH, &value)?;
        // The next sync looks again, with the new setting, in every folder.
        self.store.set_all_prefetch_pending()
    }

    /// Pull sync of one account (pending changes keep their local state).
    pub async fn sync_account(&self, account: &Account) -> Result<SyncReport> {
        let lock = self.sessions.lock(account.id);
        let _guard = lock.lock().await;
        self.events.emit(Event::SyncStarted {
            account: account.name.clone(),
        });
        let result = match account.protocol {
            Protocol::Pop3 => self.sync_pop3(account).await,
            Protocol::Imap => self.sync_imap(account).await,
        };
        match &result {
            Ok(report) => self.events.emit(Event::SyncFinished {
                account: account.name.clone(),
                report: *report,
            }),
            Err(err) => self
                .events
                .emit(Event::error(&account.name, err, err.message.clone())),
        }
        result
    }

    async fn sync_imap(&self, account: &Account) -> Result<SyncReport> {
        let mut conn = self.sessions.take(account).await?;
        let report = self.pass(account, &mut conn).await?;
        if conn.capability_names() != account.server_capabilities.as_slice() {
            self.store
                .set_server_capabilities(account.id, conn.capability_names())?;
        }
        self.sessions.keep(account.id, conn);
        self.store.sweep_blobs()?;
        Ok(report)
    }

    /// One full pass over an account: folder list, then headers of every folder (Inbox
    /// first), then bodies for the newest messages.
    async fn pass(&self, account: &Account, conn: &mut ImapConnection) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        let prefetch = self.prefetch()?;
        let prefetch_now =
            plan::prefetch_now(prefetch, self.metered(), self.prefetch_when_metered()?);
        let listing = conn.list_folders().await?;
        if *conn.naming() != self.store.naming(account.id)? {
            self.store.set_naming(account.id, conn.naming())?;
        }
        let mut remote: Vec<_> = listing.iter().map(|(f, _)| f.clone()).collect();
        self.learn_renames(account, conn, &mut remote).await?;
        // Folders kept here for a queued create or rename are not there yet: skip them.
        let on_server: HashSet<String> = remote.iter().map(|f| f.remote_name.clone()).collect();
        let store = self.store.clone();
        let account_id = account.id;
        let (folders_changed, emptied) =
            blocking(move || store.replace_folders(account_id, &remote)).await?;
        report.removed_messages += emptied;
        if folders_changed || emptied > 0 {
            self.events.emit(Event::FoldersChanged {
                account: account.name.clone(),
            });
        }
        // STATUS of the selected folder may describe the selected view, not the
        // mailbox (RFC 3501 6.3.10): that folder is always SELECTed afresh.
        let selected = conn.selected().map(str::to_owned);
        let statuses: HashMap<String, MailboxStatus> = listing
            .into_iter()
            .filter(|(f, _)| Some(&f.remote_name) != selected.as_ref())
            .filter_map(|(f, s)| Some((f.remote_name, s?)))
            .collect();
        let states = self.store.folder_sync_states(account.id)?;
        let mut refused: HashSet<String> = HashSet::new();
        let mut failure = None;
        for state in states.iter().filter(|s| on_server.contains(&s.remote_name)) {
            let hint = statuses.get(&state.remote_name).copied();
            let pass = folder::FolderPass {
                sync: self,
                account,
                state,
                report: &mut report,
                arrived: Vec::new(),
            }
            .run(conn, hint)
            .await;
            match pass {
                Ok(folder::Pass::Done) => report.folders += 1,
                // The server will not open this folder: the others still sync.
                Ok(folder::Pass::Refused(err)) => {
                    self.folder_refused(account, state, &err);
                    refused.insert(state.remote_name.clone());
                }
                // A command refused inside a folder fails the sync, but only after the
                // other folders had their turn (the connection is still in good order).
                Err(err) if err.is_refusal() => {
                    refused.insert(state.remote_name.clone());
                    failure.get_or_insert(err);
                }
                Err(err) => return Err(err),
            }
        }
        let folders = if prefetch_now {
            self.store.folder_sync_states(account.id)?
        } else {
            Vec::new()
        };
        for state in folders {
            if !on_server.contains(&state.remote_name) || refused.contains(&state.remote_name) {
                continue;
            }
            match self.prefetch_bodies(account, conn, &state, prefetch).await {
                Ok(bodies) => report.bodies += bodies,
                Err(err) if err.is_refusal() => {
                    failure.get_or_insert(err);
                }
                Err(err) => return Err(err),
            }
        }
        if let Some(err) = failure {
            return Err(err);
        }
        report.skipped_folders = refused.len() as u32;
        Ok(report)
    }

    /// Without LIST-STATUS the listing carries no UIDVALIDITY, so a folder renamed on
    /// another device would look deleted and new: when a folder known here is gone and
    /// a new one is listed, ask the new ones' UIDVALIDITY (one STATUS each), so the rename
    /// keeps local ids.
    async fn learn_renames(
        &self,
        account: &Account,
        conn: &mut ImapConnection,
        remote: &mut [RemoteFolder],
    ) -> Result<()> {
        if conn.caps.list_status {
            return Ok(());
        }
        let local = self.store.folder_sync_states(account.id)?;
        let listed: HashSet<&str> = remote.iter().map(|f| f.remote_name.as_str()).collect();
        let vanished = local
            .iter()
            .any(|s| s.uidvalidity != 0 && !listed.contains(s.remote_name.as_str()));
        if !vanished {
            return Ok(());
        }
        let known: HashSet<&str> = local.iter().map(|s| s.remote_name.as_str()).collect();
        for folder in remote.iter_mut() {
            if folder.selectable && !known.contains(folder.remote_name.as_str()) {
                match conn.status(&folder.remote_name).await {
                    Ok(status) => folder.uidvalidity = Some(status.uidvalidity),
                    Err(err) if err.is_refusal() => {}
                    Err(err) => return Err(err),
                }
            }
        }
        Ok(())
    }

    fn folder_refused(&self, account: &Account, state: &FolderSyncState, err: &crate::Error) {
        tracing::info!(folder = %state.name, %err, "folder skipped");
        self.events.emit(Event::error(
            &account.name,
            err,
            format!("folder '{}' was skipped: {}", state.name, err.message),
        ));
    }

    async fn sync_pop3(&self, account: &Account) -> Result<SyncReport> {
        let conn = self.sessions.connect_pop3(account).await?;
        let now = chrono::Utc::now().timestamp();
        let report = pop3::sync_pop3(&self.store, &self.events, account, conn, now).await?;
        self.store.sweep_blobs()?;
        Ok(report)
    }

    /// The message with its body, downloading the body now if it is not here yet.
    pub async fn open_message(&self, id: i64) -> Result<Message> {
        let message = self.store.message(id)?;
        if message.summary.has_body && !self.store.body_file_missing(id) {
            return Ok(message);
        }
        self.download_body(id).await?;
        self.store.message(id)
    }

    fn emit_changes(
        &self,
        account: &str,
        folder: &str,
        added: Vec<i64>,
        changed: Vec<i64>,
        removed: u32,
    ) {
        if added.is_empty() && changed.is_empty() && removed == 0 {
            return;
        }
        self.events.emit(Event::MessagesChanged {
            account: account.to_owned(),
            folder: folder.to_owned(),
            added,
            changed,
            removed,
        });
    }
}

/// What the list and threading need from fetched header fields.
fn header_record(fetched: FetchedHeader) -> HeaderRecord {
    HeaderRecord {
        uid: fetched.uid,
        modseq: fetched.modseq,
        flags: fetched.flags,
        size: fetched.size,
        internal_date: fetched.internal_date,
        gm_msgid: fetched.gm_msgid,
        ..HeaderRecord::from_headers(mime::parse_headers(&fetched.header))
    }
}

/// Runs blocking store work off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f).await?
}
