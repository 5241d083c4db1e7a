//! The engine: a thin facade over the services (`services`), with its own multi-threaded
//! runtime. Every public async method runs on that runtime, so callers on any executor
//! (or a foreign thread) never block it. Names are resolved here, once; the services
//! work with accounts and ids.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::runtime::Runtime;

use crate::account_edit::AccountEdit;
use crate::advice::Advice;
use crate::compose::{ComposeMode, ComposePreview};
use crate::credentials::CredentialStore;
use crate::drafts::{self, SavedDraft};
use crate::error::{Error, ErrorKind, Result};
use crate::events::{EventListener, Subscription};
use crate::live::{self, ListListener, LiveList, MessageQuery};
use crate::model::{
    Account, AccountConfig, AttachmentFile, Draft, Event, FlagChange, Folder, FolderRole, Message,
    MessageSummary, OutboxMessage, PendingChange, Protocol, PushReport, RemoteContentScope,
    SendReport, ServerConfig, SyncNowReport, SyncReport, ThreadSummary,
};
use crate::oauth::{OAuthMechanism, OAuthProvider, OAuthStart};
pub use crate::options::EngineOptions;
use crate::outbox::Writing;
use crate::push::Push;
use crate::reading::{self, Reading, ReadingOptions};
use crate::services::Services;
use crate::status::{self, StatusBoard, StatusListener, StatusWatch, SyncStatus};
use crate::store::Store;
use crate::switch::{Switch, SwitchReport};
use crate::sync::BodyPrefetch;

const DATABASE_FILE: &str = "brevdue.sqlite3";

pub struct Engine {
    services: Arc<Services>,
    status: StatusBoard,
    push: Push,
    data_dir: PathBuf,
    runtime: Option<Runtime>,
}

impl Engine {
    /// Opens (or creates) the engine's data directory.
    pub fn open(
        data_dir: impl AsRef<Path>,
        credentials: Arc<dyn CredentialStore>,
        options: EngineOptions,
    ) -> Result<Self> {
        let data_dir = data_dir.as_ref().to_path_buf();
        crate::store::private::create_dir(&data_dir).map_err(|err| {
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
        let services = Arc::new(Services::new(store, credentials, options, data_dir.clone()));
        Ok(Self {
            status: StatusBoard::start(runtime.handle(), &services)?,
            services,
            push: Push::default(),
            data_dir,
            runtime: Some(runtime),
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Direct access to the store, for benchmarks and tools.
    pub fn store(&self) -> &Arc<Store> {
        &self.services.store
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
        F: FnOnce(Arc<Services>) -> Fut,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        let handle = self.runtime()?.spawn(f(self.services.clone()));
        handle.await?
    }

    /// Runs `work` on the runtime's blocking threads; the handle comes back with the
    /// result (see `ffi`: the last handle must not be dropped on a runtime thread).
    #[allow(clippy::type_complexity)]
    pub fn spawn_blocking<T, F>(
        self: &Arc<Self>,
        work: F,
    ) -> Result<tokio::task::JoinHandle<(Result<T>, Arc<Self>)>>
    where
        T: Send + 'static,
        F: FnOnce(&Self) -> Result<T> + Send + 'static,
    {
        let engine = self.clone();
        Ok(self
            .runtime()?
            .spawn_blocking(move || (work(&engine), engine)))
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
            self.services.events.receiver(),
            listener,
        ))
    }

    fn account_id(&self, name: Option<&str>) -> Result<Option<i64>> {
        self.services.account_id(name)
    }

    /// Finds an account's servers from its address alone (`discover`); no password is
    /// sent anywhere. The BREVDUE_TEST_* hooks apply (`DiscoveryEnv::from_env`).
    pub async fn discover(
        &self,
        email: String,
        ca_file: Option<String>,
    ) -> Result<crate::discover::Discovery> {
        let env = crate::discover::DiscoveryEnv::from_env(ca_file)?;
        self.discover_with(email, env).await
    }

    /// `discover` with the places and limits given.
    pub async fn discover_with(
        &self,
        email: String,
        env: crate::discover::DiscoveryEnv,
    ) -> Result<crate::discover::Discovery> {
        let handle = self
            .runtime()?
            .spawn(async move { crate::discover::discover(&email, &env).await });
        handle.await?
    }

    /// Checks the login, then saves the account and its password. A failure saves nothing.
    pub async fn add_account(&self, config: AccountConfig, password: String) -> Result<Account> {
        let account = self
            .run(move |s| async move { s.sessions.add_account(config, password).await })
            .await?;
        self.status.refresh(&self.services)?;
        // Push already running for all accounts: this one joins in.
        if self.push.runs_for_all() {
            self.push
                .start(self.runtime()?.handle(), &self.services, &account);
        }
        Ok(account)
    }

    /// Begins an OAuth2 sign-in with `provider` for `email`: the page to open in the
    /// system browser. Without `redirect_uri` the browser comes back to a listener on
    /// 127.0.0.1 (desktop, CLI); a phone passes its app's redirect URI.
    pub async fn begin_sign_in(
        &self,
        email: String,
        provider: OAuthProvider,
        redirect_uri: Option<String>,
    ) -> Result<OAuthStart> {
        self.run(move |s| async move {
            let client = s.sessions.token_client()?;
            s.sessions
                .sign_ins
                .begin(client, &email, provider, redirect_uri)
                .await
        })
        .await
    }

    /// Finishes the sign-in `state` (waiting for the browser at the loopback listener,
    /// or with the `redirect_url` the app was sent back to), checks that the servers take
    /// the token, and saves the account with it. A failure saves nothing.
    pub async fn add_oauth_account(
        &self,
        config: AccountConfig,
        state: String,
        redirect_url: Option<String>,
    ) -> Result<Account> {
        let account = self
            .run(move |s| async move {
                let client = s.sessions.token_client()?;
                let (provider, tokens) = s
                    .sessions
                    .sign_ins
                    .finish(client, &state, redirect_url)
                    .await?;
                s.sessions.add_oauth_account(config, provider, tokens).await
            })
            .await?;
        self.status.refresh(&self.services)?;
        if self.push.runs_for_all() {
            self.push
                .start(self.runtime()?.handle(), &self.services, &account);
        }
        Ok(account)
    }

    /// Finishes a new sign-in for an OAuth2 account whose grant was refused or revoked
    /// (see `add_oauth_account`); the old tokens stay until the servers take the new.
    pub async fn sign_in_again(
        &self,
        name: String,
        state: String,
        redirect_url: Option<String>,
    ) -> Result<Account> {
        let account = self.services.store.account_by_name(&name)?;
        let account = self
            .run(move |s| async move {
                let client = s.sessions.token_client()?;
                let (provider, tokens) = s
                    .sessions
                    .sign_ins
                    .finish(client, &state, redirect_url)
                    .await?;
                if Some(&provider) != account.oauth.as_ref() {
                    return Err(Error::invalid(format!(
                        "that sign-in was with {}, not with the account's {}",
                        provider.name,
                        account
                            .oauth
                            .as_ref()
                            .map(|p| p.name.as_str())
                            .unwrap_or("password")
                    )));
                }
                s.sessions.sign_in_again(&account, tokens).await
            })
            .await?;
        self.status.refresh(&self.services)?;
        Ok(account)
    }

    /// The OAuth2 providers this build can sign in with (their client ids were given
    /// when it was built).
    pub fn oauth_providers(&self) -> Vec<OAuthProvider> {
        crate::oauth::providers::available()
    }

    /// A custom OAuth2 provider from its issuer's discovery document (a company's own
    /// identity server), with the app's `client_id` registered there, both as typed. No
    /// scopes asks for an identity, the address and a refresh token; no mechanism is
    /// XOAUTH2.
    pub async fn oauth_provider_from_issuer(
        &self,
        issuer: String,
        client_id: String,
        scopes: Vec<String>,
        mechanism: Option<OAuthMechanism>,
    ) -> Result<OAuthProvider> {
        self.run(move |s| async move {
            s.sessions
                .token_client()?
                .discover_issuer(&issuer, &client_id, scopes, mechanism)
                .await
        })
        .await
    }

    /// Changes an account's settings (servers, password, display name, POP3 policy). A
    /// new password or server is checked by logging in first; a failure saves nothing.
    pub async fn edit_account(&self, name: String, edit: AccountEdit) -> Result<Account> {
        let account = self.services.store.account_by_name(&name)?;
        let account = self
            .run(move |s| async move { s.sessions.edit_account(&account, &edit).await })
            .await?;
        self.status.refresh(&self.services)?;
        Ok(account)
    }

    /// Removes the account, everything cached for it and its password. Its background
    /// tasks notice and stop.
    pub async fn remove_account(&self, name: String) -> Result<()> {
        let account = self.services.store.account_by_name(&name)?;
        self.push.forget(account.id);
        self.run(move |s| async move {
            s.sessions.revoke(&account).await;
            crate::sync::blocking(move || s.sessions.remove_account(&account)).await
        })
        .await?;
        self.status.refresh(&self.services)
    }

    pub fn accounts(&self) -> Result<Vec<Account>> {
        self.services.store.accounts()
    }

    pub fn account(&self, name: &str) -> Result<Account> {
        self.services.store.account_by_name(name)
    }

    pub fn folders(&self, account: Option<&str>) -> Result<Vec<Folder>> {
        self.services.store.folders(self.account_id(account)?)
    }

    /// Messages newest first. A folder name without an account matches it in every account.
    pub fn messages(
        &self,
        account: Option<&str>,
        folder: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<MessageSummary>> {
        live::messages(&self.services, account, folder, limit, offset)
    }

    /// A live message list: `listener` gets the whole list, then what changes.
    pub fn watch_messages(
        &self,
        query: MessageQuery,
        listener: Arc<dyn ListListener<MessageSummary>>,
    ) -> Result<LiveList> {
        let runtime = self.runtime()?.handle();
        let account = query.account.clone();
        Ok(live::watch(
            runtime,
            &self.services,
            account,
            query.limit,
            live::message_query(&query),
            listener,
        ))
    }

    /// Every account's sync status now.
    pub fn sync_status(&self) -> SyncStatus {
        self.status.current()
    }

    /// The sync status, first as it is, then at every change.
    pub fn watch_status(&self, listener: Arc<dyn StatusListener>) -> Result<StatusWatch> {
        let runtime = self.runtime()?.handle();
        Ok(status::watch_status(
            runtime,
            self.status.subscribe(),
            listener,
        ))
    }

    /// The live folder list with its counts.
    pub fn watch_folders(
        &self,
        account: Option<String>,
        listener: Arc<dyn ListListener<Folder>>,
    ) -> Result<LiveList> {
        let runtime = self.runtime()?.handle();
        Ok(live::watch(
            runtime,
            &self.services,
            account.clone(),
            0,
            live::folder_query(account),
            listener,
        ))
    }

    /// The message as stored here (its body only if already downloaded).
    pub fn message(&self, id: i64) -> Result<Message> {
        self.services.store.message(id)
    }

    /// The message with its body, downloading the body now if it is not here yet.
    pub async fn open_message(&self, id: i64) -> Result<Message> {
        self.run(move |s| async move { s.sync.open_message(id).await })
            .await
    }

    /// Opens a message to read: the body (downloaded if needed, else the reason), the
    /// HTML sanitized with remote content as allowed, marked read if the setting says so.
    pub async fn open_for_reading(&self, id: i64, options: ReadingOptions) -> Result<Reading> {
        self.run(move |s| async move { reading::open_for_reading(&s, id, options).await })
            .await
    }

    /// Allows remote content for a message or for everything from its sender (or, with
    /// `allowed` false, stops).
    pub fn allow_remote_content(
        &self,
        id: i64,
        scope: RemoteContentScope,
        allowed: bool,
    ) -> Result<()> {
        let store = &self.services.store;
        let summary = store.message_summary(id)?;
        let account = store.account_by_name(&summary.account)?;
        store.set_remote_content(&summary, account.id, scope, allowed)
    }

    /// One attachment (by its position), with its bytes.
    pub async fn attachment(&self, id: i64, index: u32) -> Result<AttachmentFile> {
        self.run(move |s| async move { reading::attachment(&s, id, index).await })
            .await
    }

    /// Writes an attachment to a file the user chose; returns its path.
    pub async fn save_attachment(&self, id: i64, index: u32, path: PathBuf) -> Result<String> {
        self.run(move |s| async move { reading::save_attachment(&s, id, index, path).await })
            .await
    }

    /// Writes an attachment into the engine's private cache, under its name made safe,
    /// for the platform's viewer; returns its path.
    pub async fn open_attachment(&self, id: i64, index: u32) -> Result<String> {
        self.run(move |s| async move { reading::open_attachment(&s, id, index).await })
            .await
    }

    pub fn mark_read_on_open(&self) -> Result<bool> {
        reading::mark_read_on_open(&self.services)
    }

    pub fn set_mark_read_on_open(&self, mark: bool) -> Result<()> {
        reading::set_mark_read_on_open(&self.services, mark)
    }

    pub fn search(
        &self,
        query: &str,
        account: Option<&str>,
        limit: u32,
    ) -> Result<Vec<MessageSummary>> {
        self.services
            .store
            .search(self.account_id(account)?, query, limit)
    }

    pub fn threads(&self, account: &str, folder: &str, limit: u32) -> Result<Vec<ThreadSummary>> {
        let store = &self.services.store;
        let account = store.account_by_name(account)?;
        let folder = store.folder_by_name(account.id, folder)?;
        store.threads(folder.id, limit)
    }

    pub fn thread_messages(&self, thread_id: i64) -> Result<Vec<MessageSummary>> {
        self.services.store.thread_messages(thread_id)
    }

    /// How many bodies per folder are downloaded ahead of time (`None`: all).
    pub fn body_prefetch(&self) -> Result<Option<u32>> {
        Ok(match self.services.sync.prefetch()? {
            BodyPrefetch::All => None,
            BodyPrefetch::Newest(n) => Some(n),
        })
    }

    pub fn set_body_prefetch(&self, newest: Option<u32>) -> Result<()> {
        self.services.sync.set_prefetch(newest)
    }

    /// What the platform says of the current link: on a metered one (mobile data) bodies
    /// are not downloaded ahead of time unless `prefetch_when_metered`; opening a message
    /// still downloads it. Kept for this process only: the platform says it again.
    pub fn set_metered(&self, metered: bool) {
        self.services.sync.set_metered(metered);
    }

    pub fn prefetch_when_metered(&self) -> Result<bool> {
        self.services.sync.prefetch_when_metered()
    }

    pub fn set_prefetch_when_metered(&self, on: bool) -> Result<()> {
        self.services.sync.set_prefetch_when_metered(on)
    }

    /// The largest message downloaded ahead of time (`None`: any size); larger ones
    /// are downloaded when opened.
    pub fn download_limit(&self) -> Result<Option<u64>> {
        self.services.sync.download_limit()
    }

    pub fn set_download_limit(&self, bytes: Option<u64>) -> Result<()> {
        self.services.sync.set_download_limit(bytes)
    }

    /// "Sync now" over one account or all of them, past any backoff: the outbox and
    /// queued changes go out, the server's state comes in, and every account's outcome
    /// is in the report (one account's failure does not stop the others).
    pub async fn sync_now(&self, account: Option<String>) -> Result<SyncNowReport> {
        self.run(move |s| async move {
            let mut report = SyncNowReport::default();
            for account in s.accounts(account.as_deref())? {
                report.accounts.push(s.sync_now(&account).await);
            }
            Ok(report)
        })
        .await
    }

    /// `sync_now`, failing with the first account's pull error, if any.
    pub async fn sync(&self, account: Option<String>) -> Result<Vec<(String, SyncReport)>> {
        let report = self.sync_now(account).await?;
        if let Some(err) = report.first_pull_error() {
            return Err(err);
        }
        Ok(report
            .accounts
            .into_iter()
            .filter_map(|a| a.pulled.map(|pulled| (a.account, pulled)))
            .collect())
    }

    /// Changes flags here at once and queues them for the server.
    pub fn mark(&self, ids: &[i64], change: FlagChange) -> Result<()> {
        self.services.queue.mark(ids, change)
    }

    /// Moves messages to a folder of their account (by name), here at once.
    pub fn move_messages(&self, ids: &[i64], folder: &str) -> Result<()> {
        let store = &self.services.store;
        let mut moves = Vec::with_capacity(ids.len());
        for &id in ids {
            let (account_id, _) = store.message_folder_role(id)?;
            moves.push((id, store.folder_by_name(account_id, folder)?.id));
        }
        self.services.queue.move_messages(&moves)
    }

    /// Moves messages to their account's Archive folder.
    pub fn archive(&self, ids: &[i64]) -> Result<()> {
        self.services.queue.archive(ids)
    }

    /// Moves messages to Trash; messages already in Trash (or with no Trash) go for good.
    pub fn delete(&self, ids: &[i64]) -> Result<()> {
        self.services.queue.delete(ids)
    }

    pub fn create_folder(&self, account: &str, name: &str) -> Result<()> {
        let account = self.account(account)?;
        self.services.queue.create_folder(&account, name)
    }

    pub fn rename_folder(&self, account: &str, old: &str, new: &str) -> Result<()> {
        let account = self.account(account)?;
        self.services.queue.rename_folder(&account, old, new)
    }

    pub fn delete_folder(&self, account: &str, name: &str) -> Result<()> {
        let account = self.account(account)?;
        self.services.queue.delete_folder(&account, name)
    }

    /// Makes `folder` the account's folder for `role` (sent, drafts, trash, junk or
    /// archive) from now on, for a server that names none or another one.
    pub fn choose_special_folder(
        &self,
        account: &str,
        role: FolderRole,
        folder: &str,
    ) -> Result<()> {
        let account = self.account(account)?;
        let store = self.store();
        let folder = store.folder_by_name(account.id, folder)?;
        let remote = store.folder_remote_name(folder.id)?;
        store.choose_folder_role(account.id, role, &remote)?;
        self.services.events.emit(Event::FoldersChanged {
            account: account.name,
        });
        Ok(())
    }

    /// Saves a draft (a whole RFC 5322 message) into the account's Drafts folder and
    /// queues its upload; `replaces` is the previous version, removed here and there.
    pub fn save_raw_draft(&self, account: &str, raw: &[u8], replaces: Option<i64>) -> Result<i64> {
        let account = self.account(account)?;
        self.services.queue.save_draft(&account, raw, replaces)
    }

    /// Saves what the composer holds to Drafts as `mode` (recipients may be missing);
    /// `replaces` is the last save of the same draft. Returns the draft's id.
    pub async fn save_draft(
        &self,
        mode: ComposeMode,
        draft: Draft,
        replaces: Option<i64>,
    ) -> Result<i64> {
        self.run(move |s| async move { drafts::save(&s, mode, draft, replaces).await })
            .await
    }

    /// Reopens a draft saved here or on another device, with the mode it began in.
    pub async fn open_draft(&self, id: i64) -> Result<SavedDraft> {
        self.run(move |s| async move { drafts::open(&s, id).await })
            .await
    }

    /// Sends a draft with what the composer holds now, and takes it out of Drafts.
    /// Returns the outbox id.
    pub async fn send_draft(&self, id: i64, mode: ComposeMode, draft: Draft) -> Result<i64> {
        self.run(move |s| async move { drafts::send(&s, id, mode, draft).await })
            .await
    }

    /// Throws a draft away, here and on the server.
    pub fn discard_draft(&self, id: i64) -> Result<()> {
        self.services.queue.delete_for_good(&[id])
    }

    /// The user says this account is read on another device too. For POP3 accounts the
    /// engine answers with its advice (as an event, like the one it raises itself when
    /// mail leaves the server without this device deleting it).
    pub fn read_on_another_device(&self, account: &str) -> Result<()> {
        let account = self.account(account)?;
        if account.protocol == Protocol::Pop3 {
            self.services.events.emit(Event::advisory(
                &account.name,
                Advice::new("pop3_several_devices", ""),
            ));
        }
        Ok(())
    }

    /// Changes not yet confirmed by the server, and those it refused.
    pub fn changes(&self, account: Option<&str>) -> Result<Vec<PendingChange>> {
        self.services.queue.changes(self.account_id(account)?)
    }

    /// Applies a failed change here again and queues it anew.
    pub fn retry_change(&self, id: i64) -> Result<()> {
        self.services.queue.retry(id)
    }

    /// Undoes a change that has not reached the server yet, with the waiting changes that
    /// depend on it; returns their ids.
    pub async fn cancel_change(&self, id: i64) -> Result<Vec<i64>> {
        self.run(move |s| async move { s.queue.cancel(id).await })
            .await
    }

    /// Forgets a failed change (it was already reverted here).
    pub fn discard_change(&self, id: i64) -> Result<()> {
        self.services.queue.discard(id)
    }

    /// Puts a new message into the outbox; it goes out with the next outbox pass
    /// (`send_outbox`, or at once when push runs). Returns its outbox id.
    pub async fn send(&self, draft: Draft) -> Result<i64> {
        self.run(move |s| async move { s.outbox.queue_message(draft, Writing::New).await })
            .await
    }

    /// Replies to a stored message: recipients (all of them with `all`), "Re:" subject,
    /// threading headers and the quoted original come from it. `draft.to`/`cc` add to
    /// them; an empty subject means the usual one.
    pub async fn reply(&self, original: i64, all: bool, draft: Draft) -> Result<i64> {
        let writing = Writing::Reply {
            original,
            all,
            as_written: false,
        };
        self.run(move |s| async move { s.outbox.queue_message(draft, writing).await })
            .await
    }

    /// What the composer starts with: for a reply the recipients (Reply-To, reply-all,
    /// never the user), the subject without stacked prefixes, and the quote; for a
    /// forward the subject, the forwarded text and the attachments it carries.
    pub async fn compose_preview(&self, mode: ComposeMode) -> Result<ComposePreview> {
        self.run(move |s| async move { s.outbox.preview(mode).await })
            .await
    }

    /// Queues what the composer wrote, in `mode`: the recipients exactly as the draft
    /// has them (start from `compose_preview`), the usual subject if it is empty, and the
    /// quote, threading headers and forwarded attachments added by the engine.
    pub async fn compose(&self, mode: ComposeMode, draft: Draft) -> Result<i64> {
        let writing = Writing::composed(mode);
        self.run(move |s| async move { s.outbox.queue_message(draft, writing).await })
            .await
    }

    /// Forwards a stored message, with its text and attachments, to `draft.to`.
    pub async fn forward(&self, original: i64, draft: Draft) -> Result<i64> {
        let writing = Writing::Forward { original };
        self.run(move |s| async move { s.outbox.queue_message(draft, writing).await })
            .await
    }

    /// Messages waiting to be sent, and those refused for good.
    pub fn outbox(&self, account: Option<&str>) -> Result<Vec<OutboxMessage>> {
        self.services.store.outbox(self.account_id(account)?)
    }

    /// Takes a message out of the outbox (a refused one keeps its draft).
    pub fn remove_from_outbox(&self, id: i64) -> Result<()> {
        self.services.store.remove_outgoing(id)
    }

    /// Sends what the outbox holds now, ignoring backoff. A server that cannot be
    /// reached leaves the messages queued; the report says so.
    pub async fn send_outbox(&self, account: Option<String>) -> Result<SendReport> {
        self.run(move |s| async move {
            let mut total = SendReport::default();
            for account in s.accounts(account.as_deref())? {
                let report = s.outbox.send(&account, true).await?;
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
        let account = self.account(account)?;
        self.services.store.add_identity(account.id, name, email)
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
        let account = self.account(account)?;
        let imap = imap.unwrap_or_else(|| {
            let security = account.server.security;
            ServerConfig {
                port: ServerConfig::default_port(Protocol::Imap, security),
                ..account.server.clone()
            }
        });
        self.run(move |s| async move {
            let switch = Switch {
                sessions: &s.sessions,
                store: &s.store,
                events: &s.events,
            };
            let report = switch.run(&account, imap).await?;
            // The switch is done; a failed first pull is only retried by the next sync.
            let account = s.store.account_by_id(account.id)?;
            if let Err(err) = s.sync.sync_account(&account).await {
                tracing::warn!(%err, "first IMAP sync after the switch failed");
            }
            Ok(report)
        })
        .await
    }

    /// Replays queued changes to the server now, ignoring backoff. A server that cannot
    /// be reached leaves them queued; the report says so.
    pub async fn push_changes(&self, account: Option<String>) -> Result<PushReport> {
        self.run(move |s| async move {
            let mut total = PushReport::default();
            for account in s.accounts(account.as_deref())? {
                let report = s.queue.push(&account, false).await?;
                total.applied += report.applied;
                total.failed += report.failed;
                total.pending += report.pending;
                total.offline = total.offline.or(report.offline);
            }
            Ok(total)
        })
        .await
    }

    /// Keeps accounts (one, or all) in step in the background: IDLE (or polling) and
    /// workers for the change queue and the outbox. Stops when the engine closes.
    pub fn start_push(&self, account: Option<&str>) -> Result<()> {
        if account.is_none() {
            self.push.start_all();
        }
        let runtime = self.runtime()?;
        for account in self.services.accounts(account)? {
            self.push.start(runtime.handle(), &self.services, &account);
        }
        Ok(())
    }

    /// Tells the engine the network changed (Wi-Fi to mobile, VPN): push connections are
    /// rebuilt at once and queued work retried.
    pub fn network_changed(&self) {
        self.services.sessions.network_changed();
        self.services.queue.wake();
    }

    /// Stops background work and frees the runtime. Dropping the engine does the same.
    pub fn close(&mut self) {
        self.push.stop();
        self.status.stop();
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
