//! Brevdue's desktop shell: the engine linked in directly. Tauri commands call the
//! engine; engine events become the Tauri event `engine`.

mod credentials;
mod json;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use brevdue_core::account_edit::AccountEdit;
use brevdue_core::advice::Advice;
use brevdue_core::compose::{parse_address_list, ComposeMode};
use brevdue_core::live::{Diff, ListListener, LiveList, MessageQuery};
use brevdue_core::oauth::OAuthProvider;
use brevdue_core::reading::{safe_file_name, ReadingOptions};
use brevdue_core::setup::AccountDraft;
use brevdue_core::status::{StatusListener, StatusWatch, SyncStatus};
use brevdue_core::{
    Draft, Engine, EngineOptions, Error, ErrorKind, Event, EventListener, FlagChange, FolderRole,
    MessageSummary, RemoteContentScope, Subscription,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tauri::{AppHandle, Emitter, Manager, State};
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_notification::NotificationExt;

/// An engine error as the front end receives it: `message` is English for logs, the UI
/// shows `advice` (and `problems`, one per address that is not one) in the user's language.
#[derive(Debug, Serialize)]
pub struct CmdError {
    kind: ErrorKind,
    message: String,
    advice: Advice,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    problems: Vec<Advice>,
}

impl From<Error> for CmdError {
    fn from(err: Error) -> Self {
        Self {
            kind: err.kind,
            advice: err.advice(),
            message: err.message,
            problems: Vec::new(),
        }
    }
}

fn invalid(message: impl Into<String>) -> CmdError {
    Error::invalid(message).into()
}

type CmdResult<T = Value> = Result<T, CmdError>;

pub struct AppState {
    engine: Arc<Engine>,
    test_passwords: bool,
    keychain: Result<(), String>,
    data_dir: PathBuf,
    /// The window's live lists and status; replacing one stops the old one.
    live: Mutex<Live>,
    _subscription: Subscription,
}

#[derive(Default)]
struct Live {
    messages: Option<LiveList>,
    folders: Option<LiveList>,
    status: Option<StatusWatch>,
}

impl AppState {
    fn live(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Forwards a live list's diffs to the window as the Tauri event `event`, tagged with the
/// list's number (chosen by the window, so it knows the diffs before the command returns).
struct ListForwarder<T> {
    app: AppHandle,
    event: &'static str,
    list: u64,
    _rows: std::marker::PhantomData<fn(&T)>,
}

impl<T: Serialize> ListListener<T> for ListForwarder<T> {
    fn on_diffs(&self, diffs: Vec<Diff<T>>) {
        let diffs: Vec<Value> = diffs.iter().map(json::diff).collect();
        let _ = self
            .app
            .emit(self.event, json!({"list": self.list, "diffs": diffs}));
    }

    fn on_error(&self, error: Error) {
        let _ = self.app.emit(
            self.event,
            json!({"list": self.list, "error": CmdError::from(error)}),
        );
    }
}

/// Forwards the sync status to the window as the Tauri event `status`.
struct StatusForwarder {
    app: AppHandle,
}

impl StatusListener for StatusForwarder {
    fn on_status(&self, status: SyncStatus) {
        let _ = self.app.emit("status", &status);
    }
}

/// Forwards engine events to the window and raises a notification for each
/// `Event::NewMail` (the engine decides what is new).
struct Forwarder {
    app: AppHandle,
}

impl EventListener for Forwarder {
    fn on_event(&self, event: Event) {
        let _ = self.app.emit("engine", &event);
        if let Event::NewMail {
            total, messages, ..
        } = &event
        {
            self.notify_new(*total, messages);
        }
    }
}

impl Forwarder {
    fn notify_new(&self, total: u32, messages: &[MessageSummary]) {
        let (title, body) = match messages {
            [] => return,
            [one] if total <= 1 => (format!("New mail from {}", one.from), one.subject.clone()),
            many => (
                format!("{total} new messages"),
                many.iter()
                    .map(|m| format!("{}: {}", m.from, m.subject))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
        };
        // Also shown inside the window (and seen by the tests, where no notification
        // daemon runs).
        let _ = self.app.emit(
            "notification",
            json!({"title": title, "body": body, "ids": messages.iter().map(|m| m.id).collect::<Vec<_>>()}),
        );
        if let Err(err) = self
            .app
            .notification()
            .builder()
            .title(&title)
            .body(&body)
            .show()
        {
            tracing::info!("no desktop notification: {err}");
        }
    }
}

fn background(engine: &Arc<Engine>, account: Option<String>) {
    let engine = engine.clone();
    tauri::async_runtime::spawn(async move {
        // Failures arrive as events (Event::Error) as well; the status bar shows them.
        if let Err(err) = engine.sync(account).await {
            tracing::warn!("sync failed: {err}");
        }
    });
}

// ---- accounts ----

#[tauri::command]
async fn app_info(state: State<'_, AppState>) -> CmdResult {
    Ok(json!({
        "testPasswords": state.test_passwords,
        "keychainOk": state.keychain.is_ok(),
        "keychainMessage": state.keychain.as_ref().err(),
        "dataDir": state.data_dir,
    }))
}

#[tauri::command]
async fn accounts(state: State<'_, AppState>) -> CmdResult {
    Ok(json::value(&state.engine.accounts()?))
}

/// The account form as typed: blank fields are absent, and `AccountDraft::resolve`
/// fills in every default.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewAccount {
    name: Option<String>,
    email: Option<String>,
    display_name: Option<String>,
    protocol: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    security: Option<String>,
    username: Option<String>,
    /// Absent for an account that signs in with OAuth2.
    #[serde(default)]
    password: String,
    ca_file: Option<String>,
    smtp_host: Option<String>,
    smtp_port: Option<u16>,
    smtp_security: Option<String>,
    smtp_username: Option<String>,
    pop3_delete: Option<String>,
}

/// A choice from the form: blank is no choice.
fn chosen<T: std::str::FromStr<Err = Error>>(value: Option<String>) -> Result<Option<T>, Error> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some),
    }
}

impl NewAccount {
    fn draft(self) -> Result<AccountDraft, Error> {
        Ok(AccountDraft {
            name: self.name,
            email: self.email,
            display_name: self.display_name,
            protocol: chosen(self.protocol)?,
            host: self.host,
            port: self.port,
            security: chosen(self.security)?,
            username: self.username,
            ca_file: self.ca_file,
            smtp_host: self.smtp_host,
            smtp_port: self.smtp_port,
            smtp_security: chosen(self.smtp_security)?,
            smtp_username: self.smtp_username,
            pop3_delete: chosen(self.pop3_delete)?,
        })
    }
}

/// Refuses before the engine logs in when the password or tokens could not be kept.
fn need_keychain(state: &AppState) -> Result<(), CmdError> {
    if state.keychain.is_err() && !state.test_passwords {
        return Err(CmdError {
            kind: ErrorKind::MissingCredentials,
            message: credentials::NO_KEYCHAIN.to_owned(),
            advice: Advice {
                id: "no_keychain".to_owned(),
                detail: credentials::NO_KEYCHAIN.to_owned(),
            },
            problems: Vec::new(),
        });
    }
    Ok(())
}

#[tauri::command]
async fn add_account(state: State<'_, AppState>, account: NewAccount) -> CmdResult {
    let password = account.password.clone();
    let config = account.draft()?.resolve()?;
    need_keychain(&state)?;
    let added = state.engine.add_account(config, password).await?;
    background(&state.engine, Some(added.name.clone()));
    Ok(json::value(&added))
}

// ---- OAuth2 sign-in (the system browser, back to the engine's loopback listener) ----

/// The built-in providers this build can sign in with.
#[tauri::command]
async fn oauth_providers(state: State<'_, AppState>) -> CmdResult {
    Ok(json::value(&state.engine.oauth_providers()))
}

/// A custom provider from the issuer's discovery document (the manual form's
/// "Sign-in server" and "Client id").
#[tauri::command]
async fn oauth_provider_from_issuer(
    state: State<'_, AppState>,
    issuer: String,
    client_id: String,
) -> CmdResult {
    let provider = state
        .engine
        .oauth_provider_from_issuer(issuer, client_id, Vec::new(), None)
        .await?;
    Ok(json::value(&provider))
}

/// Begins a sign-in: the engine listens on 127.0.0.1, the provider's page opens in the
/// system browser (`$BROWSER`, else the system's opener). The start, with
/// `browserError` set when no browser could be opened (the page is then shown to copy).
#[tauri::command]
async fn begin_sign_in(
    state: State<'_, AppState>,
    email: String,
    provider: OAuthProvider,
) -> CmdResult {
    let start = state
        .engine
        .begin_sign_in(email.trim().to_owned(), provider, None)
        .await?;
    let mut value = json::value(&start);
    if let Err(err) = brevdue_core::oauth::open_system_browser(&start.url) {
        value["browserError"] = json::value(&CmdError::from(err));
    }
    Ok(value)
}

/// Finishes the sign-in `sign_in` (the start's `state`) for the account form (the same
/// form and defaults as a password account): waits for the browser at the loopback
/// listener, checks the servers take the token, saves. A failure saves nothing.
#[tauri::command]
async fn add_oauth_account(
    state: State<'_, AppState>,
    account: NewAccount,
    sign_in: String,
) -> CmdResult {
    let config = account.draft()?.resolve()?;
    need_keychain(&state)?;
    let added = state
        .engine
        .add_oauth_account(config, sign_in, None)
        .await?;
    background(&state.engine, Some(added.name.clone()));
    Ok(json::value(&added))
}

/// Finishes a new sign-in for the OAuth2 account `name` (its grant was refused or
/// revoked), then syncs it.
#[tauri::command]
async fn sign_in_again(state: State<'_, AppState>, name: String, sign_in: String) -> CmdResult {
    let account = state.engine.sign_in_again(name, sign_in, None).await?;
    background(&state.engine, Some(account.name.clone()));
    Ok(json::value(&account))
}

/// Cancels a sign-in the window waits for: tells the engine's loopback listener what a
/// provider says when the user declines (`error=access_denied`), so the waiting command
/// ends with the `oauth_cancelled` advice and the listener closes.
#[tauri::command]
async fn cancel_sign_in(redirect_uri: String, sign_in: String) -> CmdResult {
    let request = cancel_request(&redirect_uri, &sign_in)?;
    let port = loopback_port(&redirect_uri).ok_or_else(|| invalid("not a loopback sign-in"))?;
    tauri::async_runtime::spawn_blocking(move || -> std::io::Result<()> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
        stream.write_all(request.as_bytes())?;
        let _ = stream.read(&mut [0u8; 512]);
        Ok(())
    })
    .await
    .map_err(|err| invalid(err.to_string()))?
    // Nothing listens any more: the sign-in already ended.
    .or_else(|err| match err.kind() {
        std::io::ErrorKind::ConnectionRefused => Ok(()),
        _ => Err(invalid(format!("cannot cancel the sign-in: {err}"))),
    })?;
    Ok(Value::Null)
}

/// The port of the engine's loopback redirect URI (`http://127.0.0.1:PORT/`), nothing else.
fn loopback_port(redirect_uri: &str) -> Option<u16> {
    redirect_uri
        .strip_prefix("http://127.0.0.1:")?
        .strip_suffix('/')?
        .parse()
        .ok()
}

/// The browser's request that declines the sign-in `state` at the loopback listener.
fn cancel_request(redirect_uri: &str, state: &str) -> Result<String, CmdError> {
    let port = loopback_port(redirect_uri).ok_or_else(|| invalid("not a loopback sign-in"))?;
    let state: String = state
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    Ok(format!(
        "GET /?error=access_denied&state={state} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Connection: close\r\n\r\n"
    ))
}

/// Finds the settings for `email` (`Engine::discover`: provider autoconfig, ISPDB, MX,
/// SRV, verified guesses). No password is sent. `ca_file` is the form's extra CA file;
/// tests name theirs in BREVDUE_TEST_CA_FILE (next to the core's BREVDUE_TEST_DNS …).
#[tauri::command]
async fn discover_account(
    state: State<'_, AppState>,
    email: String,
    ca_file: Option<String>,
) -> CmdResult {
    let ca_file = ca_file
        .filter(|c| !c.trim().is_empty())
        .or_else(|| std::env::var("BREVDUE_TEST_CA_FILE").ok())
        .filter(|c| !c.trim().is_empty());
    let found = state
        .engine
        .discover(email.trim().to_owned(), ca_file)
        .await?;
    Ok(json::discovery(&found))
}

/// The settings form as typed: absent and blank fields stay as they are (a blank
/// `caFile` removes the extra certificate); the engine checks a new password or server by
/// logging in before it saves anything.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct EditForm {
    display_name: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    security: Option<String>,
    username: Option<String>,
    ca_file: Option<String>,
    smtp_host: Option<String>,
    smtp_port: Option<u16>,
    smtp_security: Option<String>,
    smtp_username: Option<String>,
    password: Option<String>,
    pop3_delete: Option<String>,
}

impl EditForm {
    fn edit(self) -> Result<AccountEdit, Error> {
        Ok(AccountEdit {
            display_name: self.display_name,
            host: self.host,
            port: self.port,
            security: chosen(self.security)?,
            username: self.username,
            ca_file: self.ca_file,
            smtp_host: self.smtp_host,
            smtp_port: self.smtp_port,
            smtp_security: chosen(self.smtp_security)?,
            smtp_username: self.smtp_username,
            password: self.password.filter(|p| !p.is_empty()),
            pop3_delete: chosen(self.pop3_delete)?,
        })
    }
}

#[tauri::command]
async fn edit_account(state: State<'_, AppState>, name: String, edit: EditForm) -> CmdResult {
    let account = state.engine.edit_account(name, edit.edit()?).await?;
    Ok(json::value(&account))
}

/// Makes `folder` the account's folder for `role` (sent, drafts, trash, junk, archive).
#[tauri::command]
async fn choose_special_folder(
    state: State<'_, AppState>,
    account: String,
    role: String,
    folder: String,
) -> CmdResult {
    let role = FolderRole::parse(&role).ok_or_else(|| invalid(format!("unknown role '{role}'")))?;
    state
        .engine
        .choose_special_folder(&account, role, &folder)?;
    Ok(Value::Null)
}

#[tauri::command]
async fn remove_account(state: State<'_, AppState>, name: String) -> CmdResult {
    state.engine.remove_account(name).await?;
    Ok(Value::Null)
}

#[tauri::command]
async fn read_on_another_device(state: State<'_, AppState>, account: String) -> CmdResult {
    state.engine.read_on_another_device(&account)?;
    Ok(Value::Null)
}

#[tauri::command]
async fn switch_to_imap(state: State<'_, AppState>, account: String) -> CmdResult {
    let report = state.engine.switch_to_imap(&account, None).await?;
    state.engine.start_push(Some(&account))?;
    Ok(json::value(&report))
}

#[tauri::command]
async fn sync_now(state: State<'_, AppState>, account: Option<String>) -> CmdResult {
    // The engine sends the outbox, pushes queued changes and pulls, in that order.
    let report = state.engine.sync_now(account).await?;
    Ok(json::value(&report))
}

// ---- live lists and the status ----

/// Starts the window's message list (replacing the one before): `folder` of `account`, or
/// of every account ("INBOX" alone is the unified inbox), the newest `limit` first. The
/// diffs arrive as `messages` events tagged `list`.
#[tauri::command]
async fn watch_messages(
    app: AppHandle,
    state: State<'_, AppState>,
    list: u64,
    account: Option<String>,
    folder: String,
    limit: u32,
) -> CmdResult {
    let query = MessageQuery {
        account,
        folder: Some(folder),
        limit,
    };
    let forwarder = ListForwarder {
        app,
        event: "messages",
        list,
        _rows: std::marker::PhantomData,
    };
    let live = state.engine.watch_messages(query, Arc::new(forwarder))?;
    state.live().messages = Some(live);
    Ok(Value::Null)
}

/// Shows more (or fewer) rows of the message list.
#[tauri::command]
async fn set_list_limit(state: State<'_, AppState>, limit: u32) -> CmdResult {
    if let Some(list) = &state.live().messages {
        list.set_limit(limit);
    }
    Ok(Value::Null)
}

/// Stops the message list (while a search or conversations are shown).
#[tauri::command]
async fn stop_messages(state: State<'_, AppState>) -> CmdResult {
    state.live().messages = None;
    Ok(Value::Null)
}

/// Starts the folder list of every account with its counts (`folders` events).
#[tauri::command]
async fn watch_folders(app: AppHandle, state: State<'_, AppState>, list: u64) -> CmdResult {
    let forwarder = ListForwarder {
        app,
        event: "folders",
        list,
        _rows: std::marker::PhantomData,
    };
    let live = state.engine.watch_folders(None, Arc::new(forwarder))?;
    state.live().folders = Some(live);
    Ok(Value::Null)
}

/// Starts the sync status (`status` events): first as it is, then at every change.
#[tauri::command]
async fn watch_status(app: AppHandle, state: State<'_, AppState>) -> CmdResult {
    let watch = state
        .engine
        .watch_status(Arc::new(StatusForwarder { app }))?;
    state.live().status = Some(watch);
    Ok(Value::Null)
}

// ---- folders and lists ----

/// Conversations of one account's folder, newest first.
#[tauri::command]
async fn threads(
    state: State<'_, AppState>,
    account: String,
    folder: String,
    limit: u32,
) -> CmdResult {
    let threads = state.engine.threads(&account, &folder, limit)?;
    Ok(json::value(&threads))
}

#[tauri::command]
async fn search(state: State<'_, AppState>, query: String, account: Option<String>) -> CmdResult {
    if query.trim().is_empty() {
        return Ok(json!([]));
    }
    let found = state.engine.search(&query, account.as_deref(), 500)?;
    Ok(json::value(&found))
}

// ---- the reader ----

#[tauri::command]
async fn open_message(state: State<'_, AppState>, id: i64, allow_remote: bool) -> CmdResult {
    // The engine downloads the body if needed, sanitizes the HTML with remote content as
    // allowed (stored per message or sender) and marks read per its setting.
    let options = ReadingOptions {
        allow_remote_once: allow_remote,
        mark_read: None,
    };
    let reading = state.engine.open_for_reading(id, options).await?;
    let thread = state
        .engine
        .thread_messages(reading.message.summary.thread_id)
        .unwrap_or_default();
    // The reading as the engine gives it, with the conversation it belongs to.
    let mut opened = json::value(&reading);
    opened["thread"] = json::value(&thread);
    Ok(opened)
}

/// Shows remote content of this message (`scope` "message") or of everything from its
/// sender ("sender") from now on; the engine keeps the list.
#[tauri::command]
async fn allow_remote(state: State<'_, AppState>, id: i64, scope: String) -> CmdResult {
    let scope = match scope.as_str() {
        "message" => RemoteContentScope::Message,
        "sender" => RemoteContentScope::Sender,
        other => return Err(invalid(format!("unknown scope '{other}'"))),
    };
    state.engine.allow_remote_content(id, scope, true)?;
    Ok(Value::Null)
}

/// Saves one attachment (by its position) where the user picks in a dialog. Returns
/// the path, or null when the user cancelled.
#[tauri::command]
async fn save_attachment(
    app: AppHandle,
    state: State<'_, AppState>,
    id: i64,
    index: u32,
) -> CmdResult {
    let name = state
        .engine
        .message(id)?
        .attachments
        .get(index as usize)
        .map(|a| safe_file_name(&a.name))
        .ok_or_else(|| Error::not_found("attachment"))?;
    let target = match std::env::var_os("BREVDUE_TEST_SAVE_DIR") {
        // Tests cannot click a native dialog: they name the folder.
        Some(dir) => Some(PathBuf::from(dir).join(&name)),
        None => app
            .dialog()
            .file()
            .set_file_name(&name)
            .blocking_save_file()
            .and_then(|p| p.into_path().ok()),
    };
    let Some(path) = target else {
        return Ok(Value::Null);
    };
    Ok(json!(state.engine.save_attachment(id, index, path).await?))
}

// ---- changes ----

#[tauri::command]
async fn mark(state: State<'_, AppState>, ids: Vec<i64>, change: String) -> CmdResult {
    let change = match change.as_str() {
        "read" => FlagChange::Read,
        "unread" => FlagChange::Unread,
        "flagged" => FlagChange::Flagged,
        "unflagged" => FlagChange::Unflagged,
        other => return Err(invalid(format!("unknown mark '{other}'"))),
    };
    state.engine.mark(&ids, change)?;
    Ok(Value::Null)
}

#[tauri::command]
async fn move_messages(state: State<'_, AppState>, ids: Vec<i64>, folder: String) -> CmdResult {
    state.engine.move_messages(&ids, &folder)?;
    Ok(Value::Null)
}

#[tauri::command]
async fn archive(state: State<'_, AppState>, ids: Vec<i64>) -> CmdResult {
    state.engine.archive(&ids)?;
    Ok(Value::Null)
}

#[tauri::command]
async fn delete(state: State<'_, AppState>, ids: Vec<i64>) -> CmdResult {
    state.engine.delete(&ids)?;
    Ok(Value::Null)
}

#[tauri::command]
async fn create_folder(state: State<'_, AppState>, account: String, name: String) -> CmdResult {
    state.engine.create_folder(&account, name.trim())?;
    Ok(Value::Null)
}

#[tauri::command]
async fn rename_folder(
    state: State<'_, AppState>,
    account: String,
    old: String,
    new: String,
) -> CmdResult {
    state.engine.rename_folder(&account, &old, new.trim())?;
    Ok(Value::Null)
}

#[tauri::command]
async fn delete_folder(state: State<'_, AppState>, account: String, name: String) -> CmdResult {
    state.engine.delete_folder(&account, &name)?;
    Ok(Value::Null)
}

#[tauri::command]
async fn changes(state: State<'_, AppState>) -> CmdResult {
    let changes = state.engine.changes(None)?;
    let outbox = state.engine.outbox(None)?;
    Ok(json!({ "changes": changes, "outbox": outbox }))
}

#[tauri::command]
async fn retry_change(state: State<'_, AppState>, id: i64) -> CmdResult {
    state.engine.retry_change(id)?;
    Ok(Value::Null)
}

/// Undoes a change that has not reached the server, with the waiting changes that depend
/// on it; returns their ids.
#[tauri::command]
async fn cancel_change(state: State<'_, AppState>, id: i64) -> CmdResult {
    Ok(json!(state.engine.cancel_change(id).await?))
}

#[tauri::command]
async fn discard_change(state: State<'_, AppState>, id: i64) -> CmdResult {
    state.engine.discard_change(id)?;
    Ok(Value::Null)
}

// ---- writing ----

/// What the composer writes, from `mode` (new, reply, replyAll or forward) and the
/// message it answers or forwards.
fn compose_mode(mode: &str, original: Option<i64>) -> Result<ComposeMode, CmdError> {
    let original = || original.ok_or_else(|| invalid("no message to answer"));
    Ok(match mode {
        "new" => ComposeMode::New,
        "reply" => ComposeMode::Reply {
            original: original()?,
        },
        "replyAll" => ComposeMode::ReplyAll {
            original: original()?,
        },
        "forward" => ComposeMode::Forward {
            original: original()?,
        },
        other => return Err(invalid(format!("unknown mode '{other}'"))),
    })
}

/// The composer's start: recipients, subject and the quote the engine appends.
#[tauri::command]
async fn compose_preview(
    state: State<'_, AppState>,
    mode: String,
    original: Option<i64>,
) -> CmdResult {
    let preview = state
        .engine
        .compose_preview(compose_mode(&mode, original)?)
        .await?;
    Ok(json::preview(&preview))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Compose {
    mode: String,
    account: String,
    original: Option<i64>,
    to: String,
    cc: String,
    #[serde(default)]
    bcc: String,
    subject: String,
    body: String,
}

/// The addresses of the To, Cc and Bcc fields, or an error with one piece of advice per
/// part that is not an address.
fn recipients(fields: [&str; 3]) -> Result<[Vec<brevdue_core::Address>; 3], CmdError> {
    let lists = fields.map(parse_address_list);
    let problems: Vec<Advice> = lists.iter().flat_map(|l| l.problems.clone()).collect();
    if let Some(first) = problems.first() {
        let message = format!("'{}' is not a valid address", first.detail);
        return Err(CmdError {
            problems: problems.clone(),
            ..Error::advised(ErrorKind::InvalidInput, first.clone(), message).into()
        });
    }
    Ok(lists.map(|l| l.addresses))
}

#[tauri::command]
async fn send(state: State<'_, AppState>, message: Compose) -> CmdResult {
    let mode = compose_mode(&message.mode, message.original)?;
    let [to, cc, bcc] = recipients([&message.to, &message.cc, &message.bcc])?;
    let draft = Draft {
        account: message.account.clone(),
        from: None,
        to,
        cc,
        bcc,
        subject: message.subject,
        body: message.body,
        attachments: Vec::new(),
    };
    let engine = &state.engine;
    let id = engine.compose(mode, draft).await?;
    // Push's worker sends at once; this covers a window opened without push.
    let engine = engine.clone();
    let account = message.account;
    tauri::async_runtime::spawn(async move {
        let _ = engine.send_outbox(Some(account)).await;
    });
    Ok(json!(id))
}

fn data_dir(app: &tauri::App) -> PathBuf {
    match std::env::var_os("BREVDUE_DATA_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => app
            .path()
            .app_data_dir()
            .unwrap_or_else(|_| PathBuf::from(".brevdue")),
    }
}

fn setup(app: &mut tauri::App) -> Result<(), Box<dyn std::error::Error>> {
    let dir = data_dir(app);
    let (store, test_passwords) = credentials::store();
    let keychain = if test_passwords {
        Ok(())
    } else {
        credentials::probe_keychain()
    };
    let engine = Arc::new(Engine::open(&dir, store, EngineOptions::default())?);
    let subscription = engine.subscribe(Arc::new(Forwarder {
        app: app.handle().clone(),
    }))?;
    // IDLE per account (and accounts added later), the change worker and the outbox.
    engine.start_push(None)?;
    background(&engine, None);
    app.manage(AppState {
        engine,
        test_passwords,
        keychain,
        data_dir: dir,
        live: Mutex::new(Live::default()),
        _subscription: subscription,
    });
    Ok(())
}

pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    tauri::Builder::default()
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
        .setup(setup)
        .invoke_handler(tauri::generate_handler![
            app_info,
            accounts,
            add_account,
            discover_account,
            oauth_providers,
            oauth_provider_from_issuer,
            begin_sign_in,
            add_oauth_account,
            sign_in_again,
            cancel_sign_in,
            edit_account,
            choose_special_folder,
            remove_account,
            read_on_another_device,
            switch_to_imap,
            sync_now,
            watch_messages,
            set_list_limit,
            stop_messages,
            watch_folders,
            watch_status,
            threads,
            search,
            open_message,
            allow_remote,
            save_attachment,
            mark,
            move_messages,
            archive,
            delete,
            create_folder,
            rename_folder,
            delete_folder,
            changes,
            retry_change,
            cancel_change,
            discard_change,
            compose_preview,
            send,
        ])
        .run(tauri::generate_context!())
        .expect("error while running Brevdue");
}

#[cfg(test)]
mod tests {
    use super::*;
    use brevdue_core::{Protocol, Security};

    fn form(fields: Value) -> NewAccount {
        serde_json::from_value(fields).expect("the form's JSON")
    }

    #[test]
    fn the_form_leaves_blank_fields_to_the_engine() {
        // As main.ts sends it: blanks as "", ports as null.
        let config = form(json!({
            "name": "", "email": "ola@eksempel.no", "displayName": "", "protocol": "imap",
            "host": "imap.eksempel.no", "port": null, "security": "", "username": "",
            "password": "x", "caFile": "", "smtpHost": "", "smtpPort": 587, "smtpSecurity": "",
            "pop3Delete": null,
        }))
        .draft()
        .unwrap()
        .resolve()
        .unwrap();
        assert_eq!(config.name, "ola@eksempel.no");
        assert_eq!(config.protocol, Protocol::Imap);
        assert_eq!(
            (config.server.port, config.server.security),
            (993, Security::Tls)
        );
        assert_eq!(config.server.username, "ola@eksempel.no");
        let smtp = config.smtp.expect("an SMTP port was given");
        // 993 TLS in, 587 STARTTLS out: not the incoming security.
        assert_eq!((smtp.port, smtp.security), (587, Security::StartTls));
    }

    #[test]
    fn the_settings_form_leaves_absent_fields_alone() {
        // As main.ts sends it: only what changed; a blank password is no new password.
        let form: EditForm = serde_json::from_value(json!({
            "displayName": "Alice Example", "smtpPort": 465, "smtpSecurity": "tls", "password": "",
        }))
        .unwrap();
        let edit = form.edit().unwrap();
        assert_eq!(edit.display_name.as_deref(), Some("Alice Example"));
        assert_eq!(
            (edit.smtp_port, edit.smtp_security),
            (Some(465), Some(Security::Tls))
        );
        assert_eq!(
            (edit.password, edit.host, edit.security),
            (None, None, None)
        );
        // A blank CA file is kept: to the engine it means "remove it".
        let form: EditForm = serde_json::from_value(json!({"caFile": ""})).unwrap();
        assert_eq!(form.edit().unwrap().ca_file.as_deref(), Some(""));
    }

    #[test]
    fn a_discovered_form_goes_back_as_the_account_form() {
        let found = AccountDraft {
            email: Some("kari@eksempel.no".into()),
            protocol: Some(Protocol::Imap),
            host: Some("imap.eksempel.no".into()),
            port: Some(993),
            security: Some(Security::Tls),
            smtp_host: Some("smtp.eksempel.no".into()),
            smtp_port: Some(587),
            smtp_security: Some(Security::StartTls),
            ..AccountDraft::default()
        };
        let mut sent = json::draft(&found);
        sent["password"] = json!("x");
        let back = form(sent).draft().unwrap();
        assert_eq!(back, found);
    }

    #[test]
    fn a_cancel_goes_only_to_the_loopback_listener() {
        assert_eq!(loopback_port("http://127.0.0.1:4711/"), Some(4711));
        for other in [
            "http://evil.test:4711/",
            "https://127.0.0.1:4711/",
            "app.brevdue.android:/oauth2redirect",
            "http://127.0.0.1:x/",
        ] {
            assert_eq!(loopback_port(other), None, "{other}");
            assert!(cancel_request(other, "s").is_err(), "{other}");
        }
        let request = cancel_request("http://127.0.0.1:4711/", "a b&c").unwrap();
        assert!(
            request.starts_with("GET /?error=access_denied&state=a%20b%26c HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request.ends_with("\r\n\r\n"), "{request}");
    }

    #[test]
    fn an_oauth_form_needs_no_password() {
        let draft = form(json!({"email": "carol@example.test", "host": "imap.example.test", "username": "carol"}))
            .draft()
            .unwrap();
        assert_eq!(draft.username.as_deref(), Some("carol"));
    }

    #[test]
    fn an_unknown_choice_is_an_error_with_advice() {
        let err =
            form(json!({"email": "a@b.no", "host": "h", "password": "", "security": "rot13"}))
                .draft()
                .expect_err("rot13 is no security");
        assert_eq!(CmdError::from(err).advice.id, "invalid_input");
    }
}
