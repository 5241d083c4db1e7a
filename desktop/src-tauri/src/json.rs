//! The engine's records as JSON for the front end (the core's records are uniffi
//! records without serde).

use brevdue_core::advice::Advice;
use brevdue_core::compose::{format_address_list, ComposePreview};
use brevdue_core::live::Diff;
use brevdue_core::status::{AccountStatus, SyncStatus};
use brevdue_core::{
    Account, AccountSyncNow, Address, Event, Folder, MessageSummary, OutboxMessage, PendingChange,
    Problem, Protocol, SyncNowReport, SyncReport, ThreadSummary,
};
use serde_json::{json, Value};

/// One change to a live list, with its rows as `row` writes them.
pub fn diff<T>(d: &Diff<T>, row: fn(&T) -> Value) -> Value {
    match d {
        Diff::Reset(rows) => {
            json!({"op": "reset", "rows": rows.iter().map(row).collect::<Vec<_>>()})
        }
        Diff::Insert(index, r) => json!({"op": "insert", "index": index, "row": row(r)}),
        Diff::Set(index, r) => json!({"op": "set", "index": index, "row": row(r)}),
        Diff::Remove(index) => json!({"op": "remove", "index": index}),
    }
}

fn account_status(a: &AccountStatus) -> Value {
    json!({
        "account": a.account,
        "syncing": a.syncing,
        "folder": a.folder,
        "done": a.done,
        "total": a.total,
        "lastSynced": a.last_synced,
        "pushConnected": a.push_connected,
        "pushSilent": a.push_silent,
        "problem": a.problem.as_ref().map(problem),
        "outbox": a.outbox,
        "changesWaiting": a.changes_waiting,
        "changesFailed": a.changes_failed,
    })
}

/// Every account's sync status (the status bar).
pub fn status(s: &SyncStatus) -> Value {
    json!({ "accounts": s.accounts.iter().map(account_status).collect::<Vec<_>>() })
}

pub fn address(a: &Address) -> Value {
    json!({ "name": a.name, "address": a.address, "display": a.to_string() })
}

pub fn addresses(list: &[Address]) -> Value {
    Value::Array(list.iter().map(address).collect())
}

pub fn advice(a: &Advice) -> Value {
    json!({ "id": a.id, "detail": a.detail })
}

/// The composer's start (`Engine::compose_preview`), with the recipients also as the
/// text its fields start with.
pub fn preview(p: &ComposePreview) -> Value {
    json!({
        "to": addresses(&p.to),
        "cc": addresses(&p.cc),
        "toText": format_address_list(&p.to),
        "ccText": format_address_list(&p.cc),
        "subject": p.subject,
        "quoted": p.quoted,
        "attachments": p.attachments.iter().map(|a| json!({"name": a.name, "mimeType": a.mime_type, "size": a.size})).collect::<Vec<_>>(),
    })
}

/// Why something could not be done (a sync, a body download).
pub fn problem(p: &Problem) -> Value {
    json!({ "kind": p.kind, "message": p.message, "advice": advice(&p.advice) })
}

fn pulled(r: &SyncReport) -> Value {
    json!({
        "folders": r.folders, "newMessages": r.new_messages, "changedMessages": r.changed_messages,
        "removedMessages": r.removed_messages, "bodies": r.bodies, "skippedFolders": r.skipped_folders,
    })
}

fn account_sync_now(a: &AccountSyncNow) -> Value {
    json!({
        "account": a.account,
        "sent": a.sent,
        "sendRefused": a.send_refused,
        "stillInOutbox": a.still_in_outbox,
        "pushed": a.pushed,
        "changesWaiting": a.changes_waiting,
        "pulled": a.pulled.as_ref().map(pulled),
        "problem": a.problem.as_ref().map(problem),
    })
}

/// "Sync now"'s per-account report.
pub fn sync_now(r: &SyncNowReport) -> Value {
    json!({ "accounts": r.accounts.iter().map(account_sync_now).collect::<Vec<_>>() })
}

pub fn summary(m: &MessageSummary) -> Value {
    json!({
        "id": m.id,
        "account": m.account,
        "folder": m.folder,
        "folderId": m.folder_id,
        "from": address(&m.from),
        "subject": m.subject,
        "date": m.date,
        "seen": m.flags.seen,
        "flagged": m.flags.flagged,
        "answered": m.flags.answered,
        "forwarded": m.flags.forwarded,
        "draft": m.flags.draft,
        "hasAttachments": m.has_attachments,
        "size": m.size,
        "threadId": m.thread_id,
        "hasBody": m.has_body,
    })
}

pub fn thread(t: &ThreadSummary) -> Value {
    let mut v = summary(&t.newest);
    v["threadCount"] = json!(t.count);
    v["threadUnread"] = json!(t.unread);
    v
}

pub fn folder(f: &Folder) -> Value {
    json!({
        "id": f.id,
        "account": f.account,
        "name": f.name,
        "parent": f.parent,
        "delimiter": f.delimiter,
        "role": f.role.map(|r| r.as_str()),
        "selectable": f.selectable,
        "total": f.total,
        "unread": f.unread,
    })
}

pub fn account(a: &Account) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "email": a.email,
        "protocol": a.protocol.as_str(),
        "host": a.server.host,
        "port": a.server.port,
        "security": a.server.security.as_str(),
        "username": a.server.username,
        "smtpHost": a.smtp.host,
        "smtpPort": a.smtp.port,
        "smtpSecurity": a.smtp.security.as_str(),
        "pop3Delete": a.pop3_delete.to_string(),
        "syncsBetweenDevices": a.protocol == Protocol::Imap,
        "capabilities": {
            "syncsReadState": a.capabilities.syncs_read_state,
            "syncsFolders": a.capabilities.syncs_folders,
            "syncsSent": a.capabilities.syncs_sent,
            "push": a.capabilities.push,
        },
        "identities": a.identities.iter().map(|i| json!({"name": i.name, "email": i.email})).collect::<Vec<_>>(),
    })
}

pub fn change(c: &PendingChange) -> Value {
    json!({
        "id": c.id,
        "account": c.account,
        "kind": c.kind.as_str(),
        "messageId": c.message_id,
        "target": c.target,
        "state": match c.state {
            brevdue_core::ChangeState::Pending => "pending",
            brevdue_core::ChangeState::Failed => "failed",
        },
        "attempts": c.attempts,
        "lastError": c.last_error,
    })
}

pub fn outgoing(o: &OutboxMessage) -> Value {
    json!({
        "id": o.id,
        "account": o.account,
        "subject": o.subject,
        "recipients": o.recipients,
        "state": o.state.as_str(),
        "attempts": o.attempts,
        "lastError": o.last_error,
        "created": o.created,
    })
}

pub fn event(e: &Event) -> Value {
    match e {
        Event::SyncStarted { account } => json!({"type": "syncStarted", "account": account}),
        Event::SyncProgress {
            account,
            folder,
            done,
            total,
        } => {
            json!({"type": "syncProgress", "account": account, "folder": folder, "done": done, "total": total})
        }
        Event::SyncFinished { account, report } => json!({
            "type": "syncFinished", "account": account,
            "newMessages": report.new_messages, "changedMessages": report.changed_messages,
            "removedMessages": report.removed_messages, "folders": report.folders,
        }),
        Event::MessagesChanged {
            account,
            folder,
            added,
            changed,
            removed,
        } => json!({"type": "messagesChanged", "account": account, "folder": folder,
                    "added": added, "changed": changed, "removed": removed}),
        Event::FoldersChanged { account } => json!({"type": "foldersChanged", "account": account}),
        Event::ChangesApplied { account, applied } => {
            json!({"type": "changesApplied", "account": account, "applied": applied})
        }
        Event::ChangeFailed {
            account,
            change_id,
            kind,
            message,
            advice: a,
        } => json!({"type": "changeFailed", "account": account, "changeId": change_id,
                    "kind": kind.as_str(), "message": message, "advice": advice(a)}),
        Event::OutboxChanged { account } => json!({"type": "outboxChanged", "account": account}),
        Event::Advisory {
            account,
            message,
            advice: a,
        } => {
            json!({"type": "advisory", "account": account, "message": message, "advice": advice(a)})
        }
        Event::NewMail {
            account,
            folder,
            total,
            messages,
        } => json!({"type": "newMail", "account": account, "folder": folder, "total": total,
                    "messages": messages.iter().map(summary).collect::<Vec<_>>()}),
        Event::PushState { account, connected } => {
            json!({"type": "pushState", "account": account, "connected": connected})
        }
        Event::PushSilent { account } => json!({"type": "pushSilent", "account": account}),
        Event::Error {
            account,
            kind,
            message,
            advice: a,
        } => json!({"type": "error", "account": account, "kind": kind, "message": message,
                    "advice": advice(a)}),
    }
}
