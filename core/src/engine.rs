//! The engine: owns the runtime, the store and the event bus, and runs everything else.
//! Every public async method runs on the engine's own multi-threaded runtime, so callers
//! on any executor (or a foreign thread) never block it.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::runtime::Runtime;

use crate::credentials::CredentialStore;
use crate::error::{Error, ErrorKind, Result};
use crate::events::{EventBus, EventListener, Subscription};
use crate::imap::ImapConnection;
use crate::mime;
use crate::model::{
    Account, AccountConfig, Event, Folder, Message, MessageSummary, Protocol, SyncReport,
    ThreadSummary,
};
use crate::store::Store;
use crate::sync::{blocking, BodyPrefetch, SyncContext};

const DATABASE_FILE: &str = "brevdue.sqlite3";
const SETTING_BODY_PREFETCH: &str = "body_prefetch";
const DEFAULT_BODY_PREFETCH: u32 = 50;

/// Tuning that front ends normally leave alone.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// IMAP extensions to ignore even when offered (to exercise fallbacks).
    pub disabled_extensions: Vec<String>,
}

pub struct Engine {
    inner: Arc<Inner>,
    runtime: Option<Runtime>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<Store>,
    pub(crate) credentials: Arc<dyn CredentialStore>,
    pub(crate) events: EventBus,
    pub(crate) options: EngineOptions,
    data_dir: PathBuf,
    /// One sync at a time per account.
    account_locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
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
        self.run(move |inner| async move { inner.add_account(config, password).await })
            .await
    }

    pub async fn remove_account(&self, name: String) -> Result<()> {
        self.run(move |inner| async move {
            blocking({
                let store = inner.store.clone();
                let name = name.clone();
                move || store.delete_account(&name)
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
        self.inner.store.set_setting(SETTING_BODY_PREFETCH, &value)
    }

    /// One sync pass over one account, or over all of them.
    pub async fn sync(&self, account: Option<String>) -> Result<Vec<(String, SyncReport)>> {
        self.run(move |inner| async move {
            let accounts = match account {
                Some(name) => vec![inner.store.account_by_name(&name)?],
                None => inner.store.accounts()?,
            };
            let mut reports = Vec::new();
            let mut first_error = None;
            for account in accounts {
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

    /// Stops background work and frees the runtime. Dropping the engine does the same.
    pub fn close(&mut self) {
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

    fn account_lock(&self, account_id: i64) -> Arc<tokio::sync::Mutex<()>> {
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
                let conn = ImapConnection::connect(
                    &config.server,
                    &password,
                    &self.options.disabled_extensions,
                )
                .await?;
                let caps = conn.capability_names().to_vec();
                conn.logout().await;
                caps
            }
            Protocol::Pop3 => {
                return Err(Error::new(
                    ErrorKind::ProtocolUnsupported,
                    "POP3 accounts are not supported yet",
                ))
            }
        };
        let account = self.store.insert_account(&config, &caps)?;
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
        ImapConnection::connect(
            &account.server,
            &password,
            &self.options.disabled_extensions,
        )
        .await
    }

    async fn sync_account(&self, account: &Account) -> Result<SyncReport> {
        let lock = self.account_lock(account.id);
        let _guard = lock.lock().await;
        self.events.emit(Event::SyncStarted {
            account: account.name.clone(),
        });
        let result = async {
            let mut conn = self.connect(account).await?;
            let context = SyncContext {
                store: self.store.clone(),
                events: self.events.clone(),
                prefetch: self.prefetch()?,
            };
            let report = context.sync_account(account, &mut conn).await;
            if report.is_ok() && conn.capability_names() != account.server_capabilities.as_slice() {
                self.store
                    .set_server_capabilities(account.id, conn.capability_names())?;
            }
            conn.logout().await;
            report
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

    async fn open_message(&self, id: i64) -> Result<Message> {
        let message = self.store.message(id)?;
        if message.summary.has_body {
            return Ok(message);
        }
        let (account_id, remote_name, uidvalidity, uid) = self.store.message_server_location(id)?;
        let account = self.store.account_by_id(account_id)?;
        let mut conn = self.connect(&account).await?;
        let status = conn.select(&remote_name).await?;
        if status.uidvalidity != uidvalidity {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("folder '{remote_name}' changed on the server; sync, then open the message again"),
            ));
        }
        let bodies = conn.fetch_bodies(&[uid]).await?;
        conn.logout().await;
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
