//! The engine's records as JSON for the front end (the core's records are uniffi
//! records without serde).

use brevdue_core::{
    Account, Address, Event, Folder, MessageSummary, OutboxMessage, PendingChange, Protocol,
    ThreadSummary,
};
use serde_json::{json, Value};

pub fn address(a: &Address) -> Value {
    json!({ "name": a.name, "address": a.address, "display": a.to_string() })
}

pub fn addresses(list: &[Address]) -> Value {
    Value::Array(list.iter().map(address).collect())
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
        } => json!({"type": "changeFailed", "account": account, "changeId": change_id,
                    "kind": kind.as_str(), "message": message}),
        Event::OutboxChanged { account } => json!({"type": "outboxChanged", "account": account}),
        Event::Advisory { account, message } => {
            json!({"type": "advisory", "account": account, "message": message})
        }
        Event::PushState { account, connected } => {
            json!({"type": "pushState", "account": account, "connected": connected})
        }
        Event::PushSilent { account } => json!({"type": "pushSilent", "account": account}),
        Event::Error {
            account,
            kind,
            message,
        } => json!({"type": "error", "account": account, "kind": kind, "message": message}),
    }
}

/// "Anna <anna@example.test>, bob@example.test" as addresses.
pub fn parse_addresses(input: &str) -> Vec<Address> {
    input
        .split([',', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|part| match (part.rfind('<'), part.rfind('>')) {
            (Some(open), Some(close)) if open < close => {
                let name = part[..open].trim().trim_matches('"').trim();
                Address {
                    name: (!name.is_empty()).then(|| name.to_owned()),
                    address: part[open + 1..close].trim().to_owned(),
                }
            }
            _ => Address {
                name: None,
                address: part.to_owned(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_address_lists() {
        let list = parse_addresses("Anna Berg <anna@example.test>, bob@example.test;");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].name.as_deref(), Some("Anna Berg"));
        assert_eq!(list[0].address, "anna@example.test");
        assert_eq!(list[1].name, None);
        assert_eq!(list[1].address, "bob@example.test");
    }
}
