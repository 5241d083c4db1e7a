//! The engine: owns the runtime, the store and the event bus, and runs everything else.
//! Every public async method runs on the engine's own multi-threaded runtime, so callers
//! on any executor (or a foreign thread) never block it.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::runtime::Runtime;

use crate::credentials::CredentialStore;
use crate::error::{Error, ErrorKind, Result};
use crate::events::{EventBus, EventListener, Subscription};
use crate::imap::{ConnectPolicy, ImapConnection};
use crate::mime;
use crate::model::{
    Account, AccountConfig, ChangeKind, Draft, Event, FlagChange, Folder, FolderRole, Message,
    MessageSummary, OutboxMessage, PendingChange, Protocol, PushReport, SendReport, ServerConfig,
    SyncReport, ThreadSummary,
};
use crate::outbox::Writing;
use crate::pop3::Pop3Connection;
use crate::queue::plan::{self as queue_plan, Disposition};
use crate::queue::replay::{self, Replayed};
use crate::store::Store;
use crate::switch::SwitchReport;
use crate::sync::{blocking, BodyPrefetch, SyncContext};

const DATABASE_FILE: &str = "brevdue.sqlite3";
const SETTING_BODY_PREFETCH: &str = "body_prefetch";
const DEFAULT_BODY_PREFETCH: u32 = 50;
/// How long a replayer may hold a change before another may take it over.
const CHANGE_LEASE_SECONDS: i64 = 120;

/// Tuning that front ends normally leave alone.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// IMAP extensions to ignore even when offered (to exercise fallbacks).
    pub disabled_extensions: Vec<String>,
    /// Folders watched with IDLE, each on its own connection.
    pub idle_folders: Vec<String>,
    /// IDLE is re-issued this often, well before servers drop it (RFC 2177: 29 min).
    pub idle_renewal: Duration,
    /// A full sync this often while connected (folders IDLE does not watch, renames),
    /// and the polling interval where IDLE is missing.
    pub poll_interval: Duration,
    /// First wait before reconnecting a dropped push connection; doubles up to a minute.
    pub reconnect_delay: Duration,
    /// Use COMPRESS=DEFLATE even for a server on this machine (where it only costs CPU).
    pub compress_loopback: bool,
    /// Limit for connecting, the TLS handshake and the server's greeting.
    pub connect_timeout: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            disabled_extensions: Vec::new(),
            idle_folders: vec!["INBOX".to_owned()],
            idle_renewal: Duration::from_secs(20 * 60),
            poll_interval: Duration::from_secs(5 * 60),
            reconnect_delay: Duration::from_secs(1),
            compress_loopback: false,
            connect_timeout: crate::net::CONNECT_TIMEOUT,
        }
    }
}

pub struct Engine {
    inner: Arc<Inner>,
    runtime: Option<Runtime>,
}

pub struct Inner {
    pub(crate) store: Arc<Store>,
    pub(crate) credentials: Arc<dyn CredentialStore>,
    pub(crate) events: EventBus,
    pub(crate) options: EngineOptions,
    data_dir: PathBuf,
    /// One sync or replay at a time per account.
    account_locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    /// An open connection per account, kept between syncs and replays.
    kept_connections: Mutex<HashMap<i64, ImapConnection>>,
    /// Bumped when something was queued: wakes the change workers (a watch channel
    /// loses no wake-up that happens while a worker is busy).
    pub(crate) queue_generation: tokio::sync::watch::Sender<u64>,
    /// Bumped when the network changed: push connections are rebuilt at once.
    pub(crate) network_generation: tokio::sync::watch::Sender<u64>,
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Accounts with push tasks running.
    pushing: Mutex<std::collections::HashSet<i64>>,
    /// `start_push` for all accounts was called: accounts added later join in.
    push_all: std::sync::atomic::AtomicBool,
    /// One outbox pass at a time in this process (a file lock covers other processes).
    pub(crate) outbox_lock: tokio::sync::Mutex<()>,
}

impl Engine {
    /// Opens (or creates) the engine's data directory.
    pub fn open(
        data_dir: impl AsRef<Path>,
        credentials: Arc<dyn CredentialStore>,
        options: EngineOptions,
    ) -> Result<Self> {
        let data_dir = data_dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&data_dir).map_err(|err| {
            Error::new(
                ErrorKind::Storage,
                format!("cannot create data directory {}: {err}", data_dir.display()),
            )
        })?;
        let store = Arc::new(Store::open(&data_dir.join(DATABASE_FILE))?);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("brevdue-engine")
            .enable_all()
            .build()
            .map_err(|err| {
                Error::new(ErrorKind::Storage, format!("cannot start runtime: {err}"))
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                credentials,
                events: EventBus::default(),
                options,
                data_dir,
                account_locks: Mutex::new(HashMap::new()),
                kept_connections: Mutex::new(HashMap::new()),
                queue_generation: tokio::sync::watch::channel(0).0,
                network_generation: tokio::sync::watch::channel(0).0,
                background: Mutex::new(Vec::new()),
                pushing: Mutex::new(Default::default()),
                push_all: std::sync::atomic::AtomicBool::new(false),
                outbox_lock: tokio::sync::Mutex::new(()),
            }),
            runtime: Some(runtime),
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// Direct access to the store, for benchmarks and tools.
    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    fn runtime(&self) -> Result<&Runtime> {
        self.runtime
            .as_ref()
            .ok_or_else(|| Error::new(ErrorKind::Closed, "the engine is closed"))
    }

    /// Runs `f` on the engine's runtime and waits for it from any executor.
    async fn run<T, F, Fut>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Inner>) -> Fut,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        let handle = self.runtime()?.spawn(f(self.inner.clone()));
        handle.await?
    }

    /// Blocks the calling (non-async) thread until `fut` is done.
    pub fn block_on<T>(&self, fut: impl Future<Output = T>) -> Result<T> {
        Ok(self.runtime()?.block_on(fut))
    }

    /// Delivers events to `listener` until the returned handle is dropped or closed.
    pub fn subscribe(&self, listener: Arc<dyn EventListener>) -> Result<Subscription> {
        let runtime = self.runtime()?;
        Ok(Subscription::spawn(
            runtime.handle(),
            self.inner.events.receiver(),
            listener,
        ))
    }

    /// Checks the login, then saves the account and its password. A failure saves nothing.
    pub async fn add_account(&self, config: AccountConfig, password: String) -> Result<Account> {
        let account = self
            .run(move |inner| async move { inner.add_account(config, password).await })
            .await?;
        // Push already running for all accounts: this one joins in.
        if self.inner.push_all.load(Ordering::SeqCst) {
            self.spawn_push(&account)?;
        }
        Ok(account)
    }

    /// Removes the account, everything cached for it and its password. Its background
    /// tasks notice and stop.
    pub async fn remove_account(&self, name: String) -> Result<()> {
        self.run(move |inner| async move {
            let account = inner.store.account_by_name(&name)?;
            inner
                .kept_connections
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&account.id);
            inner
                .pushing
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&account.id);
            blocking({
                let store = inner.store.clone();
                let name = name.clone();
                move || {
                    store.delete_account(&name)?;
                    store.sweep_blobs()
                }
            })
            .await?;
            inner.credentials.delete(&name)
        })
        .await
    }

    pub fn accounts(&self) -> Result<Vec<Account>> {
        self.inner.store.accounts()
    }

    pub fn account(&self, name: &str) -> Result<Account> {
        self.inner.store.account_by_name(name)
    }

    pub fn folders(&self, account: Option<&str>) -> Result<Vec<Folder>> {
        let account_id = account
            .map(|name| self.inner.store.account_by_name(name).map(|a| a.id))
            .transpose()?;
        self.inner.store.folders(account_id)
    }

    /// Messages newest first. A folder name without an account matches it in every account.
    pub fn messages(
        &self,
        account: Option<&str>,
        folder: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<MessageSummary>> {
        let store = &self.inner.store;
        let account_id = account
            .map(|name| store.account_by_name(name).map(|a| a.id))
            .transpose()?;
        let Some(folder) = folder else {
            return store.list_messages(account_id, None, limit, offset);
        };
        let accounts = match account_id {
            Some(id) => vec![id],
            None => store.accounts()?.iter().map(|a| a.id).collect(),
        };
        let folder_ids: Vec<i64> = accounts
            .iter()
            .filter_map(|id| store.folder_by_name(*id, folder).ok().map(|f| f.id))
            .collect();
        match folder_ids.as_slice() {
            [] => Err(Error::not_found(format!("folder '{folder}'"))),
            [id] => store.list_messages(None, Some(*id), limit, offset),
            many => {
                let mut all = Vec::new();
                for id in many {
                    all.extend(store.list_messages(None, Some(*id), limit + offset, 0)?);
                }
                all.sort_by(|a, b| b.date.cmp(&a.date).then(b.id.cmp(&a.id)));
                Ok(all
                    .into_iter()
                    .skip(offset as usize)
                    .take(limit as usize)
                    .collect())
            }
        }
    }

    /// The message as stored here (its body only if already downloaded).
    pub fn message(&self, id: i64) -> Result<Message> {
        self.inner.store.message(id)
    }

    /// The message with its body, downloading the body now if it is not here yet.
    pub async fn open_message(&self, id: i64) -> Result<Message> {
        self.run(move |inner| async move { inner.open_message(id).await })
            .await
    }

    pub fn search(
        &self,
        query: &str,
        account: Option<&str>,
        limit: u32,
    ) -> Result<Vec<MessageSummary>> {
        let account_id = account
            .map(|name| self.inner.store.account_by_name(name).map(|a| a.id))
            .transpose()?;
        self.inner.store.search(account_id, query, limit)
    }

    pub fn threads(&self, account: &str, folder: &str, limit: u32) -> Result<Vec<ThreadSummary>> {
        let account = self.inner.store.account_by_name(account)?;
        let folder = self.inner.store.folder_by_name(account.id, folder)?;
        self.inner.store.threads(folder.id, limit)
    }

    pub fn thread_messages(&self, thread_id: i64) -> Result<Vec<MessageSummary>> {
        self.inner.store.thread_messages(thread_id)
    }

    /// How many bodies per folder are downloaded ahead of time (`None`: all).
    pub fn body_prefetch(&self) -> Result<Option<u32>> {
        Ok(match self.inner.prefetch()? {
            BodyPrefetch::All => None,
            BodyPrefetch::Newest(n) => Some(n),
        })
    }

    pub fn set_body_prefetch(&self, newest: Option<u32>) -> Result<()> {
        let value = newest.map_or_else(|| "all".to_owned(), |n| n.to_string());
        self.inner
            .store
            .set_setting(SETTING_BODY_PREFETCH, &value)?;
        // The next sync looks again, with the new setting, in every folder.
        self.inner.store.set_all_prefetch_pending()
    }

    /// One sync pass over one account, or over all of them: the outbox and queued changes
    /// go out first, then the server's state comes in.
    pub async fn sync(&self, account: Option<String>) -> Result<Vec<(String, SyncReport)>> {
        self.run(move |inner| async move {
            let accounts = match account {
                Some(name) => vec![inner.store.account_by_name(&name)?],
                None => inner.store.accounts()?,
            };
            let mut reports = Vec::new();
            let mut first_error = None;
            for account in accounts {
                // What this device did goes out first: the outbox, then queued changes
                // (a folder created here must exist there before the pull lists it).
                // With backoff: a server that did not answer a moment ago does not hold
                // up the pull again.
                if let Err(err) = inner.send_outbox(&account, false).await {
                    tracing::info!(%err, "sending the outbox before sync failed");
                }
                if let Err(err) = inner.push_account(&account, false).await {
                    tracing::info!(%err, "replaying changes before sync failed");
                }
                match inner.sync_account(&account).await {
                    Ok(report) => reports.push((account.name.clone(), report)),
                    Err(err) => {
                        first_error.get_or_insert(err);
                    }
                }
            }
            match first_error {
                Some(err) => Err(err),
                None => Ok(reports),
            }
        })
        .await
    }

    /// Changes flags here at once and queues them for the server.
    pub fn mark(&self, ids: &[i64], change: FlagChange) -> Result<()> {
        let (add, remove) = queue_plan::requested(change);
        let accounts = self.inner.store.queue_flags(ids, add, remove)?;
        self.inner.after_local_change(&accounts, ids, false);
        Ok(())
    }

    /// Moves messages to a folder of their account (by name), here at once.
    pub fn move_messages(&self, ids: &[i64], folder: &str) -> Result<()> {
        let mut moves = Vec::with_capacity(ids.len());
        for &id in ids {
            let (account_id, _) = self.inner.store.message_folder_role(id)?;
            moves.push((id, self.inner.store.folder_by_name(account_id, folder)?.id));
        }
        let accounts = self.inner.store.queue_moves(&moves)?;
        self.inner.after_local_change(&accounts, ids, false);
        Ok(())
    }

    /// Moves messages to their account's Archive folder.
    pub fn archive(&self, ids: &[i64]) -> Result<()> {
        let mut moves = Vec::with_capacity(ids.len());
        for &id in ids {
            let (account_id, _) = self.inner.store.message_folder_role(id)?;
            let archive = self
                .inner
                .store
                .folder_by_role(account_id, FolderRole::Archive)?
                .ok_or_else(|| Error::not_found("an Archive folder in this account"))?;
            moves.push((id, archive));
        }
        let accounts = self.inner.store.queue_moves(&moves)?;
        self.inner.after_local_change(&accounts, ids, false);
        Ok(())
    }

    /// Moves messages to Trash; messages already in Trash (or with no Trash) go for good.
    pub fn delete(&self, ids: &[i64]) -> Result<()> {
        let mut to_trash = Vec::new();
        let mut for_good = Vec::new();
        for &id in ids {
            let (account_id, role) = self.inner.store.message_folder_role(id)?;
            match self
                .inner
                .store
                .folder_by_role(account_id, FolderRole::Trash)?
            {
                Some(trash) if role != Some(FolderRole::Trash) => to_trash.push((id, trash)),
                _ => for_good.push(id),
            }
        }
        let mut accounts = self.inner.store.queue_moves(&to_trash)?;
        accounts.extend(self.inner.store.queue_expunge(&for_good)?);
        self.inner.after_local_change(&accounts, ids, false);
        Ok(())
    }

    pub fn create_folder(&self, account: &str, name: &str) -> Result<()> {
        let account = self.inner.store.account_by_name(account)?;
        let delimiter = self
            .inner
            .store
            .folders(Some(account.id))?
            .into_iter()
            .find(|f| !f.delimiter.is_empty())
            .map_or_else(|| "/".to_owned(), |f| f.delimiter);
        self.inner
            .store
            .queue_create_folder(account.id, name, &delimiter)?;
        self.inner.after_local_change(&[account.id], &[], true);
        Ok(())
    }

    pub fn rename_folder(&self, account: &str, old: &str, new: &str) -> Result<()> {
        let account = self.inner.store.account_by_name(account)?;
        let folder = self.inner.store.folder_by_name(account.id, old)?;
        self.inner
            .store
            .queue_rename_folder(account.id, &folder.name, new)?;
        self.inner.after_local_change(&[account.id], &[], true);
        Ok(())
    }

    pub fn delete_folder(&self, account: &str, name: &str) -> Result<()> {
        let account = self.inner.store.account_by_name(account)?;
        let folder = self.inner.store.folder_by_name(account.id, name)?;
        self.inner
            .store
            .queue_delete_folder(account.id, &folder.name)?;
        self.inner.after_local_change(&[account.id], &[], true);
        Ok(())
    }

    /// Saves a draft (a whole RFC 5322 message) into the account's Drafts folder and
    /// queues its upload; `replaces` is the previous version, removed here and there.
    pub fn save_draft(&self, account: &str, raw: &[u8], replaces: Option<i64>) -> Result<i64> {
        let account = self.inner.store.account_by_name(account)?;
        let drafts = self
            .inner
            .store
            .folder_by_role(account.id, FolderRole::Drafts)?
            .ok_or_else(|| Error::not_found("a Drafts folder in this account"))?;
        let flags = queue_plan::DRAFT | queue_plan::SEEN;
        let id = self
            .inner
            .store
            .queue_append(drafts, raw, flags, replaces)?;
        let mut changed = vec![id];
        changed.extend(replaces);
        self.inner
            .after_local_change(&[account.id], &changed, false);
        Ok(id)
    }

    /// The user says this account is read on another device too. For POP3 accounts the
    /// engine answers with its advice (as an event, like the one it raises itself when
    /// mail leaves the server without this device deleting it).
    pub fn read_on_another_device(&self, account: &str) -> Result<()> {
        let account = self.inner.store.account_by_name(account)?;
        if account.protocol == Protocol::Pop3 {
            self.inner.events.emit(Event::Advisory {
                account: account.name,
                message: "This account is read on more than one device. With POP3 each device \
                          keeps its own copy and what you do on one never reaches the other; \
                          IMAP keeps them in step."
                    .to_owned(),
            });
        }
        Ok(())
    }

    /// Changes not yet confirmed by the server, and those it refused.
    pub fn changes(&self, account: Option<&str>) -> Result<Vec<PendingChange>> {
        let account_id = account
            .map(|name| self.inner.store.account_by_name(name).map(|a| a.id))
            .transpose()?;
        self.inner.store.changes(account_id)
    }

    /// Applies a failed change here again and queues it anew.
    pub fn retry_change(&self, id: i64) -> Result<()> {
        let account = self.inner.store.retry_change(id)?;
        self.inner.after_local_change(&[account], &[], true);
        Ok(())
    }

    /// Forgets a failed change (it was already reverted here).
    pub fn discard_change(&self, id: i64) -> Result<()> {
        self.inner.store.discard_change(id)
    }

    /// Puts a new message into the outbox; it goes out with the next outbox pass
    /// (`send_outbox`, or at once when push runs). Returns its outbox id.
    pub async fn send(&self, draft: Draft) -> Result<i64> {
        self.run(move |inner| async move { inner.queue_message(draft, Writing::New).await })
            .await
    }

    /// Replies to a stored message: recipients (all of them with `all`), "Re:" subject,
    /// threading headers and the quoted original come from it. `draft.to`/`cc` add to
    /// them; an empty subject means the usual one.
    pub async fn reply(&self, original: i64, all: bool, draft: Draft) -> Result<i64> {
        self.run(move |inner| async move {
            inner
                .queue_message(draft, Writing::Reply { original, all })
                .await
        })
        .await
    }

    /// Forwards a stored message, with its text and attachments, to `draft.to`.
    pub async fn forward(&self, original: i64, draft: Draft) -> Result<i64> {
        self.run(move |inner| async move {
            inner
                .queue_message(draft, Writing::Forward { original })
                .await
        })
        .await
    }

    /// Messages waiting to be sent, and those refused for good.
    pub fn outbox(&self, account: Option<&str>) -> Result<Vec<OutboxMessage>> {
        let account_id = account
            .map(|name| self.inner.store.account_by_name(name).map(|a| a.id))
            .transpose()?;
        self.inner.store.outbox(account_id)
    }

    /// Takes a message out of the outbox (a refused one keeps its draft).
    pub fn remove_from_outbox(&self, id: i64) -> Result<()> {
        self.inner.store.remove_outgoing(id)
    }

    /// Sends what the outbox holds now, ignoring backoff. A server that cannot be
    /// reached leaves the messages queued; the report says so.
    pub async fn send_outbox(&self, account: Option<String>) -> Result<SendReport> {
        self.run(move |inner| async move {
            let accounts = match account {
                Some(name) => vec![inner.store.account_by_name(&name)?],
                None => inner.store.accounts()?,
            };
            let mut total = SendReport::default();
            for account in accounts {
                let report = inner.send_outbox(&account, true).await?;
                total.sent += report.sent;
                total.failed += report.failed;
                total.queued += report.queued;
                total.offline = total.offline.or(report.offline);
            }
            Ok(total)
        })
        .await
    }

    /// Adds an address the account may send from (or changes its display name).
    pub fn add_identity(&self, account: &str, name: &str, email: &str) -> Result<()> {
        if !email.contains('@') {
            return Err(Error::invalid(format!(
                "'{email}' is not an e-mail address"
            )));
        }
        let account = self.inner.store.account_by_name(account)?;
        self.inner.store.add_identity(account.id, name, email)
    }

    /// Moves a POP3 account to IMAP on the same server (or `imap`, when given): read
    /// state and flags are set there, messages matched by Message-ID, local folders
    /// created and messages the server no longer has uploaded. Then the account syncs
    /// as IMAP. Nothing changes here unless all of that succeeded.
    pub async fn switch_to_imap(
        &self,
        account: &str,
        imap: Option<ServerConfig>,
    ) -> Result<SwitchReport> {
        let account = self.inner.store.account_by_name(account)?;
        let imap = imap.unwrap_or_else(|| {
            let security = account.server.security;
            ServerConfig {
                port: ServerConfig::default_port(Protocol::Imap, security),
                ..account.server.clone()
            }
        });
        self.run(move |inner| async move {
            let report = inner.switch_to_imap(&account, imap).await?;
            // The switch is done; a failed first pull is only retried by the next sync.
            let account = inner.store.account_by_id(account.id)?;
            if let Err(err) = inner.sync_account(&account).await {
                tracing::warn!(%err, "first IMAP sync after the switch failed");
            }
            Ok(report)
        })
        .await
    }

    /// Replays queued changes to the server now, ignoring backoff. A server that cannot
    /// be reached leaves them queued; the report says so.
    pub async fn push_changes(&self, account: Option<String>) -> Result<PushReport> {
        self.run(move |inner| async move {
            let accounts = match account {
                Some(name) => vec![inner.store.account_by_name(&name)?],
                None => inner.store.accounts()?,
            };
            let mut total = PushReport::default();
            for account in accounts {
                let report = inner.push_account(&account, false).await?;
                total.applied += report.applied;
                total.failed += report.failed;
                total.pending += report.pending;
                total.offline = total.offline.or(report.offline);
            }
            Ok(total)
        })
        .await
    }

    /// Keeps accounts (one, or all) in step in the background: IDLE (or polling) and a
    /// worker replaying the change queue. Stops when the engine closes.
    pub fn start_push(&self, account: Option<&str>) -> Result<()> {
        let accounts = match account {
            Some(name) => vec![self.inner.store.account_by_name(name)?],
            None => {
                self.inner.push_all.store(true, Ordering::SeqCst);
                self.inner.store.accounts()?
            }
        };
        for account in accounts {
            self.spawn_push(&account)?;
        }
        Ok(())
    }

    fn spawn_push(&self, account: &Account) -> Result<()> {
        let runtime = self.runtime()?;
        let mut pushing = self.inner.pushing.lock().unwrap_or_else(|e| e.into_inner());
        if pushing.insert(account.id) {
            let tasks = crate::push::spawn(runtime.handle(), &self.inner, account);
            self.inner
                .background
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(tasks);
        }
        Ok(())
    }

    /// Tells the engine the network changed (Wi-Fi to mobile, VPN): push connections are
    /// rebuilt at once and queued changes retried.
    pub fn network_changed(&self) {
        self.inner
            .kept_connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.inner.network_generation.send_modify(|g| *g += 1);
        self.inner.queue_generation.send_modify(|g| *g += 1);
    }

    /// Stops background work and frees the runtime. Dropping the engine does the same.
    pub fn close(&mut self) {
        let tasks: Vec<_> = self
            .inner
            .background
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        for task in tasks {
            task.abort();
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.close();
    }
}

impl Inner {
    fn prefetch(&self) -> Result<BodyPrefetch> {
        Ok(
            match self.store.setting(SETTING_BODY_PREFETCH)?.as_deref() {
                Some("all") => BodyPrefetch::All,
                Some(n) => BodyPrefetch::Newest(n.parse().unwrap_or(DEFAULT_BODY_PREFETCH)),
                None => BodyPrefetch::Newest(DEFAULT_BODY_PREFETCH),
            },
        )
    }

    pub(crate) fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub(crate) fn connect_policy(&self) -> ConnectPolicy {
        ConnectPolicy {
            disabled_extensions: self.options.disabled_extensions.clone(),
            compress_loopback: self.options.compress_loopback,
            connect_timeout: self.options.connect_timeout,
        }
    }

    pub(crate) fn account_lock(&self, account_id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.account_locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(account_id).or_default().clone()
    }

    async fn add_account(&self, config: AccountConfig, password: String) -> Result<Account> {
        validate(&config)?;
        if self.store.account_by_name(&config.name).is_ok() {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("an account named '{}' already exists", config.name),
            ));
        }
        let caps = match config.protocol {
            Protocol::Imap => {
                let conn =
                    ImapConnection::connect(&config.server, &password, &self.connect_policy())
                        .await?;
                let caps = conn.capability_names().to_vec();
                conn.logout().await;
                caps
            }
            Protocol::Pop3 => {
                let conn =
                    Pop3Connection::connect(&config.server, &password, &self.connect_policy())
                        .await?;
                let caps = conn.caps.all.clone();
                conn.quit().await?;
                caps
            }
        };
        if let Some(smtp) = &config.smtp {
            let timeout = self.options.connect_timeout;
            crate::smtp::check_login(smtp, &password, timeout)
                .await
                .map_err(|err| Error::new(err.kind, format!("SMTP: {}", err.message)))?;
        }
        let account = self.store.insert_account(&config, &caps)?;
        if account.protocol == Protocol::Pop3 {
            self.store.create_local_folders(account.id)?;
        }
        if let Err(err) = self.credentials.set(&account.name, &password) {
            self.store.delete_account(&account.name)?;
            return Err(err);
        }
        Ok(account)
    }

    pub(crate) async fn connect(&self, account: &Account) -> Result<ImapConnection> {
        let password = self.credentials.get(&account.name)?.ok_or_else(|| {
            Error::new(
                ErrorKind::MissingCredentials,
                format!("no password is stored for account '{}'", account.name),
            )
        })?;
        ImapConnection::connect(&account.server, &password, &self.connect_policy()).await
    }

    /// The account's kept connection if it still answers, else a new one.
    async fn take_connection(&self, account: &Account) -> Result<ImapConnection> {
        let kept = self
            .kept_connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&account.id);
        if let Some(mut conn) = kept {
            if conn.noop().await.is_ok() {
                return Ok(conn);
            }
        }
        self.connect(account).await
    }

    fn keep_connection(&self, account_id: i64, conn: ImapConnection) {
        self.kept_connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(account_id, conn);
    }

    /// After a local change: tell the front ends, and wake the change worker.
    pub(crate) fn after_local_change(&self, accounts: &[i64], messages: &[i64], folders: bool) {
        for &account_id in accounts {
            let Ok(account) = self.store.account_by_id(account_id) else {
                continue;
            };
            if folders {
                self.events.emit(Event::FoldersChanged {
                    account: account.name.clone(),
                });
            }
            if !messages.is_empty() {
                self.events.emit(Event::MessagesChanged {
                    account: account.name,
                    folder: String::new(),
                    added: Vec::new(),
                    changed: messages.to_vec(),
                    removed: 0,
                });
            }
        }
        self.queue_generation.send_modify(|g| *g += 1);
    }

    /// Replays the account's queue in order until it is empty, the server cannot be
    /// reached, or (with `respect_backoff`) the next change is not due yet.
    pub(crate) async fn push_account(
        &self,
        account: &Account,
        respect_backoff: bool,
    ) -> Result<PushReport> {
        let lock = self.account_lock(account.id);
        let _guard = lock.lock().await;
        let mut report = PushReport::default();
        let mut conn: Option<ImapConnection> = None;
        while let Some((change, due)) = self.store.next_change(account.id)? {
            let now = chrono::Utc::now().timestamp();
            if respect_backoff && due > now {
                break;
            }
            // Another process replaying the same queue holds it: leave the rest to it.
            if !self
                .store
                .lease_change(change.id, now, now + CHANGE_LEASE_SECONDS)?
            {
                report.offline = Some("another process is sending these changes".to_owned());
                break;
            }
            let raw = match (change.kind, change.message_id) {
                (ChangeKind::Append, Some(id)) => self.store.raw_message(id)?,
                _ => None,
            };
            let outcome = match conn.as_mut() {
                Some(c) => replay::replay(c, &change, raw.as_deref()).await,
                None => match self.take_connection(account).await {
                    Ok(c) => replay::replay(conn.insert(c), &change, raw.as_deref()).await,
                    Err(err) => Err(err),
                },
            };
            match outcome {
                Ok(Replayed::Gone) => {
                    self.store.change_gone(&change)?;
                    report.applied += 1;
                }
                Ok(Replayed::FolderCreated(uidvalidity)) => {
                    self.store.change_done(&change, None)?;
                    self.store.set_new_folder_uidvalidity(
                        account.id,
                        &change.target,
                        uidvalidity,
                    )?;
                    report.applied += 1;
                }
                Ok(replayed) => {
                    let position = match &replayed {
                        Replayed::MovedTo(folder, uidvalidity, uid) => {
                            Some((folder.as_str(), *uidvalidity, *uid))
                        }
                        _ => None,
                    };
                    self.store.change_done(&change, position)?;
                    report.applied += 1;
                }
                Err(err) if queue_plan::classify(&err) == Disposition::RetryLater => {
                    tracing::info!(change = change.id, %err, "change kept for later");
                    self.store.change_retry_later(
                        change.id,
                        &err.message,
                        queue_plan::next_attempt(now, change.attempts),
                    )?;
                    report.offline = Some(err.message);
                    conn = None;
                    break;
                }
                Err(err) => {
                    tracing::info!(change = change.id, %err, "change refused; reverted");
                    let failed = self.store.change_failed(&change, &err.message)?;
                    report.failed += failed.len() as u32;
                    for id in failed {
                        self.events.emit(Event::ChangeFailed {
                            account: account.name.clone(),
                            change_id: id,
                            kind: change.kind,
                            message: err.message.clone(),
                        });
                    }
                    self.after_local_change(
                        &[account.id],
                        &change.message_id.into_iter().collect::<Vec<_>>(),
                        true,
                    );
                }
            }
        }
        if let Some(conn) = conn {
            self.keep_connection(account.id, conn);
        }
        report.pending = self.store.pending_count(account.id)?;
        self.store.sweep_blobs()?;
        if report.applied > 0 {
            self.events.emit(Event::ChangesApplied {
                account: account.name.clone(),
                applied: report.applied,
            });
        }
        Ok(report)
    }

    /// Pull sync of one account (pending changes keep their local state).
    pub(crate) async fn sync_account(&self, account: &Account) -> Result<SyncReport> {
        let lock = self.account_lock(account.id);
        let _guard = lock.lock().await;
        self.events.emit(Event::SyncStarted {
            account: account.name.clone(),
        });
        let result: Result<SyncReport> = async {
            if account.protocol == Protocol::Pop3 {
                return self.sync_pop3(account).await;
            }
            let mut conn = self.take_connection(account).await?;
            let context = SyncContext {
                store: self.store.clone(),
                events: self.events.clone(),
                prefetch: self.prefetch()?,
            };
            let report = context.sync_account(account, &mut conn).await?;
            if conn.capability_names() != account.server_capabilities.as_slice() {
                self.store
                    .set_server_capabilities(account.id, conn.capability_names())?;
            }
            self.keep_connection(account.id, conn);
            self.store.sweep_blobs()?;
            Ok(report)
        }
        .await;
        match &result {
            Ok(report) => self.events.emit(Event::SyncFinished {
                account: account.name.clone(),
                report: *report,
            }),
            Err(err) => self.events.emit(Event::Error {
                account: account.name.clone(),
                kind: err.kind,
                message: err.message.clone(),
            }),
        }
        result
    }

    async fn sync_pop3(&self, account: &Account) -> Result<SyncReport> {
        let password = self.credentials.get(&account.name)?.ok_or_else(|| {
            Error::new(
                ErrorKind::MissingCredentials,
                format!("no password is stored for account '{}'", account.name),
            )
        })?;
        let conn =
            Pop3Connection::connect(&account.server, &password, &self.connect_policy()).await?;
        let now = chrono::Utc::now().timestamp();
        let report =
            crate::sync::pop3::sync_pop3(&self.store, &self.events, account, conn, now).await?;
        self.store.sweep_blobs()?;
        Ok(report)
    }

    pub(crate) async fn open_message(&self, id: i64) -> Result<Message> {
        let message = self.store.message(id)?;
        if message.summary.has_body && !self.store.body_file_missing(id) {
            return Ok(message);
        }
        let (account_id, remote_name, uidvalidity, uid) = self.store.message_server_location(id)?;
        let account = self.store.account_by_id(account_id)?;
        let mut conn = self.take_connection(&account).await?;
        let status = conn.select(&remote_name).await?;
        if status.uidvalidity != uidvalidity {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("folder '{remote_name}' changed on the server; sync, then open the message again"),
            ));
        }
        let bodies = conn.fetch_bodies(&[uid]).await?;
        self.keep_connection(account_id, conn);
        let Some((_, raw)) = bodies.into_iter().next() else {
            return Err(Error::not_found(format!(
                "message {id} on the server (it may have been deleted elsewhere)"
            )));
        };
        let store = self.store.clone();
        blocking(move || {
            let parsed = mime::parse_body(&raw);
            store.store_bodies(&[(id, parsed, raw)])
        })
        .await?;
        self.store.message(id)
    }
}

fn validate(config: &AccountConfig) -> Result<()> {
    if config.name.trim().is_empty() {
        return Err(Error::invalid("the account needs a name"));
    }
    if !config.email.contains('@') {
        return Err(Error::invalid(format!(
            "'{}' is not an e-mail address",
            config.email
        )));
    }
    if config.server.host.trim().is_empty() {
        return Err(Error::invalid("the account needs a server host"));
    }
    if config.server.username.is_empty() {
        return Err(Error::invalid("the account needs a user name"));
    }
    if let Some(ca) = &config.server.ca_file {
        if !Path::new(ca).is_file() {
            return Err(Error::invalid(format!("CA file {ca} does not exist")));
        }
    }
    Ok(())
}
