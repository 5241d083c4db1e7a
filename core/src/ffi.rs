//! The uniffi export for Kotlin and Swift: thin wrappers, no logic. Records and enums are
//! the model's own (they derive uniffi's traits); async calls run on the engine's own
//! multi-threaded runtime (`Engine` spawns there and awaits the handle), so no foreign
//! thread blocks on I/O.

use std::sync::{Arc, Mutex};

use crate::account_edit::AccountEdit;
use crate::advice::Advice;
use crate::compose::{AddressList, ComposeMode, ComposePreview};
use crate::drafts::SavedDraft;
use crate::error::{Error, ErrorKind};
use crate::live::{Diff, ListListener, LiveList, MessageQuery};
use crate::model::{
    Account, AccountConfig, Address, AttachmentFile, Draft, Event, FlagChange, Folder, Message,
    MessageSummary, OutboxMessage, PendingChange, PushReport, SendReport, ServerConfig, SyncReport,
    ThreadSummary,
};
use crate::model::{FolderRole, RemoteContentScope, SyncNowReport};
use crate::reading::{Reading, ReadingOptions};
use crate::setup::AccountDraft;
use crate::status::{StatusListener, StatusWatch, SyncStatus};
use crate::switch::SwitchReport;

macro_rules! error_enum {
    ($($kind:ident),* $(,)?) => {
        /// An engine failure; one variant per `ErrorKind`, with the engine's sentence
        /// (`reason`, English, for logs) and the advice the platform shows in its language.
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
        pub enum BrevdueError {
            $(
                #[error("{reason}")]
                $kind { reason: String, advice: Advice },
            )*
        }

        impl From<Error> for BrevdueError {
            fn from(err: Error) -> Self {
                let advice = err.advice();
                match err.kind {
                    $(ErrorKind::$kind => BrevdueError::$kind { reason: err.message, advice },)*
                }
            }
        }

        impl From<BrevdueError> for Error {
            fn from(err: BrevdueError) -> Self {
                match err {
                    $(BrevdueError::$kind { reason, advice } => {
                        Error::advised(ErrorKind::$kind, advice, reason)
                    })*
                }
            }
        }
    };
}

error_enum!(
    ConnectionRefused,
    Timeout,
    Network,
    CertificateNotTrusted,
    WrongHostName,
    Tls,
    AuthFailed,
    ProtocolUnsupported,
    PlaintextNotAllowed,
    Protocol,
    NotFound,
    AlreadyExists,
    InvalidInput,
    MissingCredentials,
    SendRefused,
    Storage,
    Closed,
);

impl From<uniffi::UnexpectedUniFFICallbackError> for BrevdueError {
    fn from(err: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Error::new(
            ErrorKind::Storage,
            format!("the app's password store failed: {}", err.reason),
        )
        .into()
    }
}

type FfiResult<T> = Result<T, BrevdueError>;

/// The platform's secret storage (Android Keystore, iOS Keychain), implemented by the app.
#[uniffi::export(with_foreign)]
pub trait PasswordStore: Send + Sync {
    fn get(&self, account: String) -> FfiResult<Option<String>>;
    fn set(&self, account: String, password: String) -> FfiResult<()>;
    fn delete(&self, account: String) -> FfiResult<()>;
}

struct ForeignPasswords(Arc<dyn PasswordStore>);

impl crate::credentials::CredentialStore for ForeignPasswords {
    fn get(&self, account: &str) -> crate::Result<Option<String>> {
        Ok(self.0.get(account.to_owned())?)
    }
    fn set(&self, account: &str, password: &str) -> crate::Result<()> {
        Ok(self.0.set(account.to_owned(), password.to_owned())?)
    }
    fn delete(&self, account: &str) -> crate::Result<()> {
        Ok(self.0.delete(account.to_owned())?)
    }
}

/// Receives engine events, on a background thread.
#[uniffi::export(with_foreign)]
pub trait EngineListener: Send + Sync {
    fn on_event(&self, event: Event);
}

struct ForeignListener(Arc<dyn EngineListener>);

impl crate::events::EventListener for ForeignListener {
    fn on_event(&self, event: Event) {
        self.0.on_event(event);
    }
}

/// Delivery of events to one listener until `cancel` (or until it is freed).
#[derive(uniffi::Object)]
pub struct EventSubscription(Mutex<Option<crate::events::Subscription>>);

#[uniffi::export]
impl EventSubscription {
    pub fn cancel(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

macro_rules! live_list {
    ($diff:ident, $listener:ident, $adapter:ident, $row:ty) => {
        /// One change to a live list (see `live::Diff`): indexes count in the list as
        /// the diffs before this one left it.
        #[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
        pub enum $diff {
            Reset { rows: Vec<$row> },
            Insert { index: u32, row: $row },
            Set { index: u32, row: $row },
            Remove { index: u32 },
        }

        impl From<Diff<$row>> for $diff {
            fn from(diff: Diff<$row>) -> Self {
                match diff {
                    Diff::Reset(rows) => $diff::Reset { rows },
                    Diff::Insert(i, row) => $diff::Insert {
                        index: i as u32,
                        row,
                    },
                    Diff::Set(i, row) => $diff::Set {
                        index: i as u32,
                        row,
                    },
                    Diff::Remove(i) => $diff::Remove { index: i as u32 },
                }
            }
        }

        /// Receives a live list: the whole list first, then its changes (on a
        /// background thread).
        #[uniffi::export(with_foreign)]
        pub trait $listener: Send + Sync {
            fn on_diffs(&self, diffs: Vec<$diff>);
            fn on_error(&self, error: BrevdueError);
        }

        struct $adapter(Arc<dyn $listener>);

        impl ListListener<$row> for $adapter {
            fn on_diffs(&self, diffs: Vec<Diff<$row>>) {
                self.0.on_diffs(diffs.into_iter().map(Into::into).collect());
            }
            fn on_error(&self, error: Error) {
                self.0.on_error(error.into());
            }
        }
    };
}

live_list!(
    MessageListDiff,
    MessageListListener,
    ForeignMessageList,
    MessageSummary
);
live_list!(
    FolderListDiff,
    FolderListListener,
    ForeignFolderList,
    Folder
);

/// A live list's updates until `cancel` (or until it is freed).
#[derive(uniffi::Object)]
pub struct ListSubscription(Mutex<Option<LiveList>>);

#[uniffi::export]
impl ListSubscription {
    /// Shows more (or fewer) rows, as the user scrolls; the listener gets the difference.
    pub fn set_limit(&self, limit: u32) {
        if let Some(list) = self.0.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            list.set_limit(limit);
        }
    }

    pub fn cancel(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// Receives the sync status: as it is, then at every change (on a background thread).
#[uniffi::export(with_foreign)]
pub trait SyncStatusListener: Send + Sync {
    fn on_status(&self, status: SyncStatus);
}

struct ForeignStatus(Arc<dyn SyncStatusListener>);

impl StatusListener for ForeignStatus {
    fn on_status(&self, status: SyncStatus) {
        self.0.on_status(status);
    }
}

/// Delivery of the sync status until `cancel` (or until it is freed).
#[derive(uniffi::Object)]
pub struct StatusSubscription(Mutex<Option<StatusWatch>>);

#[uniffi::export]
impl StatusSubscription {
    pub fn cancel(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// One account's sync result.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AccountSync {
    pub account: String,
    pub report: SyncReport,
}

/// The engine on one data directory.
#[derive(uniffi::Object)]
pub struct BrevdueEngine {
    engine: Mutex<Option<Arc<crate::Engine>>>,
}

impl BrevdueEngine {
    /// Runs store work on the engine's blocking threads, off the caller's thread. The
    /// engine handle comes back with the result, so that the last one (after `shutdown`)
    /// is dropped on the caller's side, never on a thread of the engine's own runtime.
    async fn blocking<T, F>(&self, work: F) -> FfiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&crate::Engine) -> crate::Result<T> + Send + 'static,
    {
        let engine = self.engine()?;
        let task = engine.spawn_blocking(move |e| work(e))?;
        let (result, _engine) = task.await.map_err(Error::from)?;
        Ok(result?)
    }

    fn engine(&self) -> FfiResult<Arc<crate::Engine>> {
        self.engine
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| Error::new(ErrorKind::Closed, "the engine is closed").into())
    }
}

#[uniffi::export]
impl BrevdueEngine {
    /// Opens (or creates) the engine's data directory.
    #[uniffi::constructor]
    pub fn open(data_dir: String, passwords: Arc<dyn PasswordStore>) -> FfiResult<Arc<Self>> {
        let engine = crate::Engine::open(
            data_dir,
            Arc::new(ForeignPasswords(passwords)),
            crate::EngineOptions::default(),
        )?;
        Ok(Arc::new(Self {
            engine: Mutex::new(Some(Arc::new(engine))),
        }))
    }

    /// Stops background work and frees the engine; later calls fail with `Closed`.
    /// (Not `close`: Kotlin's `AutoCloseable.close()` frees the handle itself.)
    pub fn shutdown(&self) {
        self.engine.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    pub fn subscribe(
        &self,
        listener: Arc<dyn EngineListener>,
    ) -> FfiResult<Arc<EventSubscription>> {
        let subscription = self
            .engine()?
            .subscribe(Arc::new(ForeignListener(listener)))?;
        Ok(Arc::new(EventSubscription(Mutex::new(Some(subscription)))))
    }

    /// A live message list (a folder, the unified inbox): the whole page, then changes.
    pub fn watch_messages(
        &self,
        query: MessageQuery,
        listener: Arc<dyn MessageListListener>,
    ) -> FfiResult<Arc<ListSubscription>> {
        let list = self
            .engine()?
            .watch_messages(query, Arc::new(ForeignMessageList(listener)))?;
        Ok(Arc::new(ListSubscription(Mutex::new(Some(list)))))
    }

    /// Every account's sync status now.
    pub fn sync_status(&self) -> FfiResult<SyncStatus> {
        Ok(self.engine()?.sync_status())
    }

    /// The sync status: as it is, then at every change.
    pub fn watch_status(
        &self,
        listener: Arc<dyn SyncStatusListener>,
    ) -> FfiResult<Arc<StatusSubscription>> {
        let watch = self
            .engine()?
            .watch_status(Arc::new(ForeignStatus(listener)))?;
        Ok(Arc::new(StatusSubscription(Mutex::new(Some(watch)))))
    }

    /// The live folder list with counts.
    pub fn watch_folders(
        &self,
        account: Option<String>,
        listener: Arc<dyn FolderListListener>,
    ) -> FfiResult<Arc<ListSubscription>> {
        let list = self
            .engine()?
            .watch_folders(account, Arc::new(ForeignFolderList(listener)))?;
        Ok(Arc::new(ListSubscription(Mutex::new(Some(list)))))
    }

    /// Finds the servers for an address (no password is sent); `resolve_account` of
    /// its draft gives the account to add.
    pub async fn discover(
        &self,
        email: String,
        ca_file: Option<String>,
    ) -> FfiResult<crate::discover::Discovery> {
        Ok(self.engine()?.discover(email, ca_file).await?)
    }

    pub async fn add_account(&self, config: AccountConfig, password: String) -> FfiResult<Account> {
        Ok(self.engine()?.add_account(config, password).await?)
    }

    /// Changes an account's settings; a new password or server is checked first.
    pub async fn begin_sign_in(
        &self,
        email: String,
        provider: crate::oauth::OAuthProvider,
        redirect_uri: Option<String>,
    ) -> FfiResult<crate::oauth::OAuthStart> {
        Ok(self
            .engine()?
            .begin_sign_in(email, provider, redirect_uri)
            .await?)
    }

    pub async fn add_oauth_account(
        &self,
        config: AccountConfig,
        state: String,
        redirect_url: Option<String>,
    ) -> FfiResult<Account> {
        Ok(self
            .engine()?
            .add_oauth_account(config, state, redirect_url)
            .await?)
    }

    pub async fn sign_in_again(
        &self,
        name: String,
        state: String,
        redirect_url: Option<String>,
    ) -> FfiResult<Account> {
        Ok(self
            .engine()?
            .sign_in_again(name, state, redirect_url)
            .await?)
    }

    pub fn oauth_providers(&self) -> FfiResult<Vec<crate::oauth::OAuthProvider>> {
        Ok(self.engine()?.oauth_providers())
    }

    pub async fn oauth_provider_from_issuer(
        &self,
        issuer: String,
        client_id: String,
        scopes: Vec<String>,
        mechanism: Option<crate::oauth::OAuthMechanism>,
    ) -> FfiResult<crate::oauth::OAuthProvider> {
        Ok(self
            .engine()?
            .oauth_provider_from_issuer(issuer, client_id, scopes, mechanism)
            .await?)
    }

    pub async fn edit_account(&self, name: String, edit: AccountEdit) -> FfiResult<Account> {
        Ok(self.engine()?.edit_account(name, edit).await?)
    }

    pub async fn remove_account(&self, name: String) -> FfiResult<()> {
        Ok(self.engine()?.remove_account(name).await?)
    }

    pub async fn accounts(&self) -> FfiResult<Vec<Account>> {
        self.blocking(move |e| e.accounts()).await
    }

    pub async fn add_identity(
        &self,
        account: String,
        name: String,
        email: String,
    ) -> FfiResult<()> {
        self.blocking(move |e| e.add_identity(&account, &name, &email))
            .await
    }

    pub async fn folders(&self, account: Option<String>) -> FfiResult<Vec<Folder>> {
        self.blocking(move |e| e.folders(account.as_deref())).await
    }

    pub async fn messages(
        &self,
        account: Option<String>,
        folder: Option<String>,
        limit: u32,
        offset: u32,
    ) -> FfiResult<Vec<MessageSummary>> {
        self.blocking(move |e| e.messages(account.as_deref(), folder.as_deref(), limit, offset))
            .await
    }

    pub async fn message(&self, id: i64) -> FfiResult<Message> {
        self.blocking(move |e| e.message(id)).await
    }

    pub async fn open_message(&self, id: i64) -> FfiResult<Message> {
        Ok(self.engine()?.open_message(id).await?)
    }

    /// Opens a message to read: body, sanitized HTML, remote content as allowed, read mark.
    pub async fn open_for_reading(&self, id: i64, options: ReadingOptions) -> FfiResult<Reading> {
        Ok(self.engine()?.open_for_reading(id, options).await?)
    }

    pub async fn allow_remote_content(
        &self,
        id: i64,
        scope: RemoteContentScope,
        allowed: bool,
    ) -> FfiResult<()> {
        self.blocking(move |e| e.allow_remote_content(id, scope, allowed))
            .await
    }

    /// One attachment (by its position) with its bytes, for a share sheet or picker.
    pub async fn attachment(&self, id: i64, index: u32) -> FfiResult<AttachmentFile> {
        Ok(self.engine()?.attachment(id, index).await?)
    }

    /// Writes an attachment to the file the user chose; returns its path.
    pub async fn save_attachment(&self, id: i64, index: u32, path: String) -> FfiResult<String> {
        Ok(self
            .engine()?
            .save_attachment(id, index, path.into())
            .await?)
    }

    /// Writes an attachment into the engine's private cache for a viewer; returns its path.
    pub async fn open_attachment(&self, id: i64, index: u32) -> FfiResult<String> {
        Ok(self.engine()?.open_attachment(id, index).await?)
    }

    pub async fn mark_read_on_open(&self) -> FfiResult<bool> {
        self.blocking(move |e| e.mark_read_on_open()).await
    }

    pub async fn set_mark_read_on_open(&self, mark: bool) -> FfiResult<()> {
        self.blocking(move |e| e.set_mark_read_on_open(mark)).await
    }

    pub async fn search(
        &self,
        query: String,
        account: Option<String>,
        limit: u32,
    ) -> FfiResult<Vec<MessageSummary>> {
        self.blocking(move |e| e.search(&query, account.as_deref(), limit))
            .await
    }

    pub async fn threads(
        &self,
        account: String,
        folder: String,
        limit: u32,
    ) -> FfiResult<Vec<ThreadSummary>> {
        self.blocking(move |e| e.threads(&account, &folder, limit))
            .await
    }

    pub async fn thread_messages(&self, thread_id: i64) -> FfiResult<Vec<MessageSummary>> {
        self.blocking(move |e| e.thread_messages(thread_id)).await
    }

    /// "Sync now": outbox, queued changes and pull, past any backoff; one account or all.
    pub async fn sync_now(&self, account: Option<String>) -> FfiResult<SyncNowReport> {
        Ok(self.engine()?.sync_now(account).await?)
    }

    pub async fn sync(&self, account: Option<String>) -> FfiResult<Vec<AccountSync>> {
        let reports = self.engine()?.sync(account).await?;
        Ok(reports
            .into_iter()
            .map(|(account, report)| AccountSync { account, report })
            .collect())
    }

    pub async fn mark(&self, ids: Vec<i64>, change: FlagChange) -> FfiResult<()> {
        self.blocking(move |e| e.mark(&ids, change)).await
    }

    pub async fn move_messages(&self, ids: Vec<i64>, folder: String) -> FfiResult<()> {
        self.blocking(move |e| e.move_messages(&ids, &folder)).await
    }

    pub async fn archive(&self, ids: Vec<i64>) -> FfiResult<()> {
        self.blocking(move |e| e.archive(&ids)).await
    }

    pub async fn delete(&self, ids: Vec<i64>) -> FfiResult<()> {
        self.blocking(move |e| e.delete(&ids)).await
    }

    pub async fn create_folder(&self, account: String, name: String) -> FfiResult<()> {
        self.blocking(move |e| e.create_folder(&account, &name))
            .await
    }

    pub async fn choose_special_folder(
        &self,
        account: String,
        role: FolderRole,
        folder: String,
    ) -> FfiResult<()> {
        self.blocking(move |e| e.choose_special_folder(&account, role, &folder))
            .await
    }

    pub async fn rename_folder(&self, account: String, old: String, new: String) -> FfiResult<()> {
        self.blocking(move |e| e.rename_folder(&account, &old, &new))
            .await
    }

    pub async fn delete_folder(&self, account: String, name: String) -> FfiResult<()> {
        self.blocking(move |e| e.delete_folder(&account, &name))
            .await
    }

    pub async fn changes(&self, account: Option<String>) -> FfiResult<Vec<PendingChange>> {
        self.blocking(move |e| e.changes(account.as_deref())).await
    }

    pub async fn retry_change(&self, id: i64) -> FfiResult<()> {
        self.blocking(move |e| e.retry_change(id)).await
    }

    /// Undoes a change that has not reached the server yet (and those that depend on it).
    pub async fn cancel_change(&self, id: i64) -> FfiResult<Vec<i64>> {
        Ok(self.engine()?.cancel_change(id).await?)
    }

    pub async fn discard_change(&self, id: i64) -> FfiResult<()> {
        self.blocking(move |e| e.discard_change(id)).await
    }

    pub async fn push_changes(&self, account: Option<String>) -> FfiResult<PushReport> {
        Ok(self.engine()?.push_changes(account).await?)
    }

    /// What the composer starts with for `mode` (recipients, subject, quoted text).
    pub async fn compose_preview(&self, mode: ComposeMode) -> FfiResult<ComposePreview> {
        Ok(self.engine()?.compose_preview(mode).await?)
    }

    /// Queues what the composer wrote; the recipients are the draft's as they stand.
    pub async fn compose(&self, mode: ComposeMode, draft: Draft) -> FfiResult<i64> {
        Ok(self.engine()?.compose(mode, draft).await?)
    }

    /// Saves the composer's content to Drafts; `replaces` is the last save of this draft.
    pub async fn save_draft(
        &self,
        mode: ComposeMode,
        draft: Draft,
        replaces: Option<i64>,
    ) -> FfiResult<i64> {
        Ok(self.engine()?.save_draft(mode, draft, replaces).await?)
    }

    /// Reopens a draft saved here or on another device.
    pub async fn open_draft(&self, id: i64) -> FfiResult<SavedDraft> {
        Ok(self.engine()?.open_draft(id).await?)
    }

    /// Sends a draft as the composer holds it now, and takes it out of Drafts.
    pub async fn send_draft(&self, id: i64, mode: ComposeMode, draft: Draft) -> FfiResult<i64> {
        Ok(self.engine()?.send_draft(id, mode, draft).await?)
    }

    pub async fn discard_draft(&self, id: i64) -> FfiResult<()> {
        self.blocking(move |e| e.discard_draft(id)).await
    }

    pub async fn send(&self, draft: Draft) -> FfiResult<i64> {
        Ok(self.engine()?.send(draft).await?)
    }

    pub async fn reply(&self, original: i64, all: bool, draft: Draft) -> FfiResult<i64> {
        Ok(self.engine()?.reply(original, all, draft).await?)
    }

    pub async fn forward(&self, original: i64, draft: Draft) -> FfiResult<i64> {
        Ok(self.engine()?.forward(original, draft).await?)
    }

    pub async fn outbox(&self, account: Option<String>) -> FfiResult<Vec<OutboxMessage>> {
        self.blocking(move |e| e.outbox(account.as_deref())).await
    }

    pub async fn remove_from_outbox(&self, id: i64) -> FfiResult<()> {
        self.blocking(move |e| e.remove_from_outbox(id)).await
    }

    pub async fn send_outbox(&self, account: Option<String>) -> FfiResult<SendReport> {
        Ok(self.engine()?.send_outbox(account).await?)
    }

    pub async fn switch_to_imap(
        &self,
        account: String,
        imap: Option<ServerConfig>,
    ) -> FfiResult<SwitchReport> {
        Ok(self.engine()?.switch_to_imap(&account, imap).await?)
    }

    pub async fn read_on_another_device(&self, account: String) -> FfiResult<()> {
        self.blocking(move |e| e.read_on_another_device(&account))
            .await
    }

    pub fn start_push(&self, account: Option<String>) -> FfiResult<()> {
        Ok(self.engine()?.start_push(account.as_deref())?)
    }

    pub fn network_changed(&self) -> FfiResult<()> {
        self.engine()?.network_changed();
        Ok(())
    }

    /// The platform's word on the current link (Android: not NET_CAPABILITY_NOT_METERED;
    /// Apple: NWPath.isExpensive or isConstrained).
    pub fn set_metered(&self, metered: bool) -> FfiResult<()> {
        self.engine()?.set_metered(metered);
        Ok(())
    }

    pub async fn prefetch_when_metered(&self) -> FfiResult<bool> {
        self.blocking(|e| e.prefetch_when_metered()).await
    }

    pub async fn set_prefetch_when_metered(&self, on: bool) -> FfiResult<()> {
        self.blocking(move |e| e.set_prefetch_when_metered(on))
            .await
    }

    pub async fn set_body_prefetch(&self, newest: Option<u32>) -> FfiResult<()> {
        self.blocking(move |e| e.set_body_prefetch(newest)).await
    }

    /// The largest message downloaded ahead of time (`None`: any size).
    pub async fn set_download_limit(&self, bytes: Option<u64>) -> FfiResult<()> {
        self.blocking(move |e| e.set_download_limit(bytes)).await
    }
}

/// "Name <a@b>, c@d" as typed, with advice for each part that is not an address.
#[uniffi::export]
pub fn parse_address_list(text: String) -> AddressList {
    crate::compose::parse_address_list(&text)
}

/// Addresses as text for an editable field; `parse_address_list` reads it back.
#[uniffi::export]
pub fn format_address_list(addresses: Vec<Address>) -> String {
    crate::compose::format_address_list(&addresses)
}

/// A complete account from what a form holds, with every default applied.
#[uniffi::export]
pub fn resolve_account(draft: AccountDraft) -> FfiResult<AccountConfig> {
    Ok(draft.resolve()?)
}

/// Mail HTML made safe to show; remote images only with `allow_remote`.
#[uniffi::export]
pub fn sanitize_html(html: String, allow_remote: bool) -> crate::html::SafeHtml {
    crate::html::sanitize(&html, allow_remote)
}
