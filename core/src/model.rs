//! Plain records and enums shared by the engine, the CLI and the foreign bindings.

use std::fmt;
use std::str::FromStr;

use crate::advice::Advice;
use crate::error::{Error, Result};

/// How the connection to a server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "lowercase"),
    ts(export)
)]
pub enum Security {
    /// TLS from the first byte (IMAPS 993, POP3S 995, SMTPS 465).
    Tls,
    /// Plain connection upgraded with STARTTLS / STLS before login.
    StartTls,
    /// No encryption at all: only when the account explicitly asks for it.
    Plain,
}

impl Security {
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Tls => "tls",
            Security::StartTls => "starttls",
            Security::Plain => "plain",
        }
    }
}

impl FromStr for Security {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "tls" => Ok(Security::Tls),
            "starttls" => Ok(Security::StartTls),
            "plain" => Ok(Security::Plain),
            other => Err(Error::invalid(format!(
                "unknown security '{other}': use tls, starttls or plain"
            ))),
        }
    }
}

/// The protocol used to read mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "lowercase"),
    ts(export)
)]
pub enum Protocol {
    Imap,
    Pop3,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
        }
    }
}

impl FromStr for Protocol {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "imap" => Ok(Protocol::Imap),
            "pop3" => Ok(Protocol::Pop3),
            other => Err(Error::invalid(format!(
                "unknown protocol '{other}': use imap or pop3"
            ))),
        }
    }
}

/// Where and how to reach a mail server for one account.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    /// One extra PEM file of trusted certificates, on top of the system's.
    pub ca_file: Option<String>,
}

impl ServerConfig {
    /// The usual port for a protocol and security.
    pub fn default_port(protocol: Protocol, security: Security) -> u16 {
        match (protocol, security) {
            (Protocol::Imap, Security::Tls) => 993,
            (Protocol::Imap, _) => 143,
            (Protocol::Pop3, Security::Tls) => 995,
            (Protocol::Pop3, _) => 110,
        }
    }

    /// The usual submission port for a security.
    pub fn default_smtp_port(security: Security) -> u16 {
        match security {
            Security::Tls => 465,
            Security::StartTls => 587,
            Security::Plain => 25,
        }
    }

    /// Submission on the mail server's host with the same protection and login: what
    /// most providers expect when nothing else is said.
    pub fn derived_smtp(&self) -> ServerConfig {
        ServerConfig {
            port: Self::default_smtp_port(self.security),
            ..self.clone()
        }
    }
}

/// When a POP3 account removes downloaded mail from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, uniffi::Enum)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(tag = "policy", rename_all = "camelCase"),
    ts(export)
)]
pub enum Pop3DeletePolicy {
    /// Leave everything on the server (the default: no mail is lost with a device).
    #[default]
    Never,
    /// Delete from the server once downloaded (classic POP3).
    AfterDownload,
    /// Delete this many days after the download.
    AfterDays { days: u32 },
    /// Delete from the server when deleted for good on this device.
    WhenDeletedHere,
}

impl fmt::Display for Pop3DeletePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pop3DeletePolicy::Never => f.write_str("never"),
            Pop3DeletePolicy::AfterDownload => f.write_str("delete-after-download"),
            Pop3DeletePolicy::AfterDays { days } => write!(f, "after-days:{days}"),
            Pop3DeletePolicy::WhenDeletedHere => f.write_str("when-deleted-here"),
        }
    }
}

impl FromStr for Pop3DeletePolicy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "never" => Pop3DeletePolicy::Never,
            "delete-after-download" => Pop3DeletePolicy::AfterDownload,
            "when-deleted-here" => Pop3DeletePolicy::WhenDeletedHere,
            other => match other.strip_prefix("after-days:").map(str::parse) {
                Some(Ok(days)) => Pop3DeletePolicy::AfterDays { days },
                _ => {
                    return Err(Error::invalid(format!(
                        "unknown POP3 delete policy '{other}': use never, delete-after-download, after-days:N or when-deleted-here"
                    )))
                }
            },
        })
    }
}

/// What a new account is made of. The password travels separately.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AccountConfig {
    pub name: String,
    pub email: String,
    pub protocol: Protocol,
    pub server: ServerConfig,
    /// Only for POP3 accounts.
    pub pop3_delete: Pop3DeletePolicy,
    /// The name shown in From (may be empty).
    pub display_name: String,
    /// Where mail is sent; `None` derives it from `server`.
    pub smtp: Option<ServerConfig>,
}

/// An address the account sends from, with its display name.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

/// What an account's protocol keeps in step between devices, so front ends can say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct AccountCapabilities {
    pub syncs_read_state: bool,
    pub syncs_folders: bool,
    pub syncs_sent: bool,
    pub push: bool,
}

impl AccountCapabilities {
    pub fn for_protocol(protocol: Protocol) -> Self {
        let imap = protocol == Protocol::Imap;
        Self {
            syncs_read_state: imap,
            syncs_folders: imap,
            syncs_sent: imap,
            push: imap,
        }
    }
}

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct Account {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub name: String,
    pub email: String,
    pub protocol: Protocol,
    pub server: ServerConfig,
    pub capabilities: AccountCapabilities,
    /// Capabilities the server announced at the last login.
    pub server_capabilities: Vec<String>,
    /// Only for POP3 accounts.
    pub pop3_delete: Pop3DeletePolicy,
    /// Where mail is sent.
    pub smtp: ServerConfig,
    /// Addresses it sends from; the first is the default.
    pub identities: Vec<Identity>,
    /// The provider it signs in with, when it signs in with OAuth2 instead of a password.
    pub oauth: Option<crate::oauth::OAuthProvider>,
}

/// Special-use role of a folder (RFC 6154), plus the Inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "lowercase"),
    ts(export)
)]
pub enum FolderRole {
    Inbox,
    Sent,
    Drafts,
    Trash,
    Junk,
    Archive,
    All,
}

impl FolderRole {
    pub fn as_str(self) -> &'static str {
        match self {
            FolderRole::Inbox => "inbox",
            FolderRole::Sent => "sent",
            FolderRole::Drafts => "drafts",
            FolderRole::Trash => "trash",
            FolderRole::Junk => "junk",
            FolderRole::Archive => "archive",
            FolderRole::All => "all",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "inbox" => FolderRole::Inbox,
            "sent" => FolderRole::Sent,
            "drafts" => FolderRole::Drafts,
            "trash" => FolderRole::Trash,
            "junk" => FolderRole::Junk,
            "archive" => FolderRole::Archive,
            "all" => FolderRole::All,
            _ => return None,
        })
    }
}

impl fmt::Display for FolderRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A folder with its counts.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct Folder {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub account_id: i64,
    pub account: String,
    /// Full decoded path, for example `Work/Receipts`.
    pub name: String,
    /// The parent's full path, if any.
    pub parent: Option<String>,
    pub delimiter: String,
    pub role: Option<FolderRole>,
    pub selectable: bool,
    pub total: u32,
    pub unread: u32,
}

/// A mailbox address with an optional display name.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct Address {
    pub name: Option<String>,
    pub address: String,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) if !name.is_empty() => write!(f, "{name} <{}>", self.address),
            _ => f.write_str(&self.address),
        }
    }
}

/// Flags of a message as this device knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct Flags {
    pub seen: bool,
    pub flagged: bool,
    pub answered: bool,
    pub forwarded: bool,
    pub draft: bool,
    pub deleted: bool,
}

/// One row of a message list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct MessageSummary {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub account: String,
    pub folder: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub folder_id: i64,
    pub uid: Option<u32>,
    pub message_id: String,
    pub from: Address,
    pub subject: String,
    /// Seconds since the Unix epoch (the Date header, else the server's arrival time).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub date: i64,
    pub flags: Flags,
    pub has_attachments: bool,
    pub size: u32,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub thread_id: i64,
    pub has_body: bool,
}

/// An attachment's description (the bytes stay in the stored message).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct Attachment {
    pub name: String,
    pub mime_type: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
}

/// A whole message, with its body when it has been downloaded.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct Message {
    pub summary: MessageSummary,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
}

/// What remote content the user allowed: one message, or everything from a sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum RemoteContentScope {
    Message,
    Sender,
}

impl RemoteContentScope {
    pub fn as_str(self) -> &'static str {
        match self {
            RemoteContentScope::Message => "message",
            RemoteContentScope::Sender => "sender",
        }
    }
}

/// A conversation, summarised by its newest message.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct ThreadSummary {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub thread_id: i64,
    pub newest: MessageSummary,
    pub count: u32,
    pub unread: u32,
}

/// What a sync pass did to one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct SyncReport {
    pub folders: u32,
    pub new_messages: u32,
    pub changed_messages: u32,
    pub removed_messages: u32,
    pub bodies: u32,
    /// Folders the server refused (each reported as an `Event::Error`); the rest synced.
    pub skipped_folders: u32,
}

/// Why something did not happen (part of "sync now", a body download), for the user and
/// for scripts.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct Problem {
    pub kind: crate::error::ErrorKind,
    /// The engine's sentence, in English.
    pub message: String,
    pub advice: Advice,
}

impl Problem {
    /// The problem an error describes.
    pub fn of(err: &Error) -> Self {
        Problem {
            kind: err.kind,
            message: err.message.clone(),
            advice: err.advice(),
        }
    }
}

/// What "sync now" did to one account: the outbox, the queued changes and the pull.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct AccountSyncNow {
    pub account: String,
    /// Messages handed to the SMTP server.
    pub sent: u32,
    /// Messages the server refused for good (kept as drafts).
    pub send_refused: u32,
    /// Messages still waiting (the server could not be reached, or said "later").
    pub still_in_outbox: u32,
    /// Queued changes the server applied.
    pub pushed: u32,
    pub changes_waiting: u32,
    /// What the pull brought in; `None` if it failed (`problem` says why).
    pub pulled: Option<SyncReport>,
    /// The first reason something is left to do, if any.
    pub problem: Option<Problem>,
}

/// "Sync now" over one account or all of them.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct SyncNowReport {
    pub accounts: Vec<AccountSyncNow>,
}

impl SyncNowReport {
    /// The first account's problem, if any failed to pull.
    pub fn first_pull_error(&self) -> Option<Error> {
        self.accounts
            .iter()
            .filter(|a| a.pulled.is_none())
            .find_map(|a| a.problem.as_ref())
            .map(|p| Error::advised(p.kind, p.advice.clone(), p.message.clone()))
    }
}

/// A change of flags the user asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FlagChange {
    Read,
    Unread,
    Flagged,
    Unflagged,
    Answered,
    Forwarded,
}

/// What a queued change does on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "snake_case"),
    ts(export)
)]
pub enum ChangeKind {
    Flags,
    Move,
    Expunge,
    CreateFolder,
    RenameFolder,
    DeleteFolder,
    Append,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Flags => "flags",
            ChangeKind::Move => "move",
            ChangeKind::Expunge => "expunge",
            ChangeKind::CreateFolder => "create_folder",
            ChangeKind::RenameFolder => "rename_folder",
            ChangeKind::DeleteFolder => "delete_folder",
            ChangeKind::Append => "append",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "flags" => ChangeKind::Flags,
            "move" => ChangeKind::Move,
            "expunge" => ChangeKind::Expunge,
            "create_folder" => ChangeKind::CreateFolder,
            "rename_folder" => ChangeKind::RenameFolder,
            "delete_folder" => ChangeKind::DeleteFolder,
            "append" => ChangeKind::Append,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "lowercase"),
    ts(export)
)]
pub enum ChangeState {
    /// Applied here, on its way to the server.
    Pending,
    /// Refused by the server for good and reverted here; can be retried or discarded.
    Failed,
}

/// A local change the server has not confirmed yet, as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct PendingChange {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub account: String,
    pub kind: ChangeKind,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub message_id: Option<i64>,
    /// What the change is about, for people: "flags +seen on 12", "move 12 to Receipts".
    pub target: String,
    pub state: ChangeState,
    pub attempts: u32,
    pub last_error: String,
}

/// What one replay of the queue did.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct PushReport {
    pub applied: u32,
    pub failed: u32,
    /// Changes still waiting (the server could not be reached, or they wait for others).
    pub pending: u32,
    /// Why the replay stopped early, if it did.
    pub offline: Option<String>,
}

/// Where a message on its way out stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "lowercase"),
    ts(export)
)]
pub enum OutboxState {
    /// Waiting for (another) attempt.
    Queued,
    /// Being handed to the SMTP server right now (or the attempt was interrupted).
    Sending,
    /// Refused for good; the message was kept as a draft.
    Failed,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Queued => "queued",
            OutboxState::Sending => "sending",
            OutboxState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => OutboxState::Queued,
            "sending" => OutboxState::Sending,
            "failed" => OutboxState::Failed,
            _ => return None,
        })
    }
}

/// A message in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct OutboxMessage {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub account: String,
    pub message_id: String,
    pub subject: String,
    pub recipients: Vec<String>,
    pub state: OutboxState,
    pub attempts: u32,
    pub last_error: String,
    /// The draft a refused message was kept as.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub draft_id: Option<i64>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub created: i64,
}

/// What one pass over the outbox did.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct SendReport {
    pub sent: u32,
    /// Refused for good and kept as drafts.
    pub failed: u32,
    /// Still waiting (the server could not be reached, or said "try later").
    pub queued: u32,
    /// Why sending stopped early, if it did.
    pub offline: Option<String>,
}

/// What the user writes; the engine adds Message-ID, Date and the threading headers.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct Draft {
    pub account: String,
    /// One of the account's identities; `None` is its default.
    pub from: Option<String>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub subject: String,
    pub body: String,
    pub attachments: Vec<AttachmentFile>,
}

/// An attachment to send, with its bytes.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AttachmentFile {
    pub name: String,
    pub mime_type: String,
    pub data: Vec<u8>,
}

/// Something the engine wants front ends to know.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(
        tag = "type",
        rename_all = "camelCase",
        rename_all_fields = "camelCase"
    ),
    ts(export)
)]
pub enum Event {
    SyncStarted {
        account: String,
    },
    SyncProgress {
        account: String,
        folder: String,
        done: u32,
        total: u32,
    },
    SyncFinished {
        account: String,
        report: SyncReport,
    },
    /// Messages were added, changed or removed by one committed transaction.
    MessagesChanged {
        account: String,
        /// The folder synced, or "" for a local action that may span folders.
        folder: String,
        #[cfg_attr(feature = "ts", ts(type = "Array<number>"))]
        added: Vec<i64>,
        #[cfg_attr(feature = "ts", ts(type = "Array<number>"))]
        changed: Vec<i64>,
        removed: u32,
    },
    FoldersChanged {
        account: String,
    },
    /// The server applied queued changes.
    ChangesApplied {
        account: String,
        applied: u32,
    },
    /// The server refused a change for good; it was reverted here.
    ChangeFailed {
        account: String,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        change_id: i64,
        kind: ChangeKind,
        message: String,
        advice: Advice,
    },
    /// The outbox changed: a message was queued, sent, or refused for good.
    OutboxChanged {
        account: String,
    },
    /// Advice for the user, for example that a POP3 account is read on several devices.
    Advisory {
        account: String,
        /// The advice in English, for logs and the CLI.
        message: String,
        advice: Advice,
    },
    /// Mail to tell the user about (a notification), as the engine decides it: unseen,
    /// in the Inbox, not during the account's first sync, and not mail this device sent
    /// or moved there. Newest first.
    NewMail {
        account: String,
        folder: String,
        /// How many arrived; `messages` holds at most the newest 20.
        total: u32,
        messages: Vec<MessageSummary>,
    },
    /// The push connection is up (or down again).
    PushState {
        account: String,
        connected: bool,
    },
    /// The server's IDLE said nothing of mail that arrived: push is unreliable with this
    /// server, so the engine checks it as often as one without push.
    PushSilent {
        account: String,
    },
    Error {
        account: String,
        kind: crate::error::ErrorKind,
        message: String,
        advice: Advice,
    },
}

impl Event {
    /// An `Error` event for `err`, with `message` as its sentence and the error's advice.
    pub fn error(account: &str, err: &Error, message: impl Into<String>) -> Self {
        Event::Error {
            account: account.to_owned(),
            kind: err.kind,
            message: message.into(),
            advice: err.advice(),
        }
    }

    /// An `Advisory` event with the English words of `advice` as its message.
    pub fn advisory(account: &str, advice: Advice) -> Self {
        Event::Advisory {
            account: account.to_owned(),
            message: advice.text(crate::advice::Language::English),
            advice,
        }
    }
}
