//! The CLI's output: JSON shapes are a contract that scripts rely on.

use brevdue_core::{
    Account, Address, ChangeState, Event, Folder, Message, MessageSummary, OutboxMessage,
    PendingChange,
};
use serde_json::{json, Value};

use crate::printable::field;

pub fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|d| d.to_rfc3339())
        .unwrap_or_default()
}

pub fn address(a: &Address) -> Value {
    json!({ "name": a.name, "address": a.address })
}

pub fn account_json(a: &Account) -> Value {
    json!({
        "name": a.name,
        "email": a.email,
        "protocol": a.protocol.as_str(),
        "host": a.server.host,
        "port": a.server.port,
        "security": a.server.security.as_str(),
        "user": a.server.username,
        "capabilities": {
            "syncs_read_state": a.capabilities.syncs_read_state,
            "syncs_folders": a.capabilities.syncs_folders,
            "syncs_sent": a.capabilities.syncs_sent,
            "push": a.capabilities.push,
        },
        "server_capabilities": a.server_capabilities,
        "pop3_delete": (a.protocol == brevdue_core::Protocol::Pop3).then(|| a.pop3_delete.to_string()),
        "smtp": {
            "host": a.smtp.host,
            "port": a.smtp.port,
            "security": a.smtp.security.as_str(),
            "user": a.smtp.username,
        },
        "identities": a.identities.iter().map(|i| json!({"name": i.name, "email": i.email})).collect::<Vec<_>>(),
        "sign_in": match &a.oauth {
            Some(p) => json!({"kind": "oauth2", "provider": p.id, "name": p.name}),
            None => json!({"kind": "password"}),
        },
    })
}

pub fn outbox_json(m: &OutboxMessage) -> Value {
    json!({
        "id": m.id,
        "account": m.account,
        "message_id": m.message_id,
        "subject": m.subject,
        "recipients": m.recipients,
        "state": m.state.as_str(),
        "attempts": m.attempts,
        "last_error": m.last_error,
        "draft_id": m.draft_id,
        "created": rfc3339(m.created),
    })
}

pub fn outbox_line(m: &OutboxMessage) -> String {
    let mut line = format!(
        "{:>5}  {:<8} {:<12} {}  -> {}",
        m.id,
        m.state.as_str(),
        field(&m.account),
        field(&m.subject),
        field(&m.recipients.join(", "))
    );
    if !m.last_error.is_empty() {
        line.push_str(&format!(
            "  [{} attempt(s): {}]",
            m.attempts,
            field(&m.last_error)
        ));
    }
    if let Some(draft) = m.draft_id {
        line.push_str(&format!("  (kept as draft {draft})"));
    }
    line
}

pub fn folder_json(f: &Folder) -> Value {
    json!({
        "account": f.account,
        "name": f.name,
        "parent": f.parent,
        "role": f.role.map(|r| r.as_str()),
        "total": f.total,
        "unread": f.unread,
    })
}

pub fn summary_json(m: &MessageSummary) -> Value {
    json!({
        "id": m.id,
        "account": m.account,
        "folder": m.folder,
        "uid": m.uid,
        "message_id": m.message_id,
        "from": address(&m.from),
        "subject": m.subject,
        "date": rfc3339(m.date),
        "seen": m.flags.seen,
        "flagged": m.flags.flagged,
        "answered": m.flags.answered,
        "forwarded": m.flags.forwarded,
        "has_attachments": m.has_attachments,
        "has_body": m.has_body,
        "size": m.size,
        "thread_id": m.thread_id,
    })
}

pub fn message_json(m: &Message) -> Value {
    let mut value = summary_json(&m.summary);
    let extra = json!({
        "to": m.to.iter().map(address).collect::<Vec<_>>(),
        "cc": m.cc.iter().map(address).collect::<Vec<_>>(),
        "in_reply_to": m.in_reply_to,
        "references": m.references,
        "text": m.text,
        "html": m.html,
        "attachments": m.attachments.iter().map(|a| json!({
            "name": a.name, "mime_type": a.mime_type, "size": a.size,
        })).collect::<Vec<_>>(),
    });
    if let (Value::Object(base), Value::Object(extra)) = (&mut value, extra) {
        base.extend(extra);
    }
    value
}

fn marks(m: &MessageSummary) -> String {
    [
        if m.flags.seen { ' ' } else { '*' },
        if m.flags.flagged { '!' } else { ' ' },
        if m.flags.answered {
            'R'
        } else if m.flags.forwarded {
            'F'
        } else {
            ' '
        },
        if m.has_attachments { '@' } else { ' ' },
    ]
    .iter()
    .collect()
}

pub fn summary_line(m: &MessageSummary) -> String {
    let date = chrono::DateTime::from_timestamp(m.date, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default();
    let from = m
        .from
        .name
        .clone()
        .unwrap_or_else(|| m.from.address.clone());
    format!(
        "{:>7} {} {} {:<24.24} {:<12.12} {}",
        m.id,
        date,
        marks(m),
        field(&from),
        field(&m.folder),
        field(&m.subject)
    )
}

pub fn message_text(m: &Message) -> String {
    let list = |v: &[Address]| {
        let list = v
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        field(&list).into_owned()
    };
    let mut out = format!(
        "From: {}\nTo: {}\n",
        field(&m.summary.from.to_string()),
        list(&m.to)
    );
    if !m.cc.is_empty() {
        out.push_str(&format!("Cc: {}\n", list(&m.cc)));
    }
    out.push_str(&format!(
        "Date: {}\nSubject: {}\nFolder: {} ({})\n",
        rfc3339(m.summary.date),
        field(&m.summary.subject),
        field(&m.summary.folder),
        field(&m.summary.account)
    ));
    for a in &m.attachments {
        out.push_str(&format!(
            "Attachment: {} ({}, {} bytes)\n",
            field(&a.name),
            field(&a.mime_type),
            a.size
        ));
    }
    out.push('\n');
    // The body keeps its line breaks and tabs; `outln!` escapes everything else.
    match (&m.text, &m.html) {
        (Some(text), _) => out.push_str(text),
        (None, Some(_)) => out.push_str("(HTML only; use --json to get it)"),
        (None, None) => out.push_str("(no body downloaded)"),
    }
    out
}

pub fn change_json(c: &PendingChange) -> Value {
    json!({
        "id": c.id,
        "account": c.account,
        "kind": c.kind.as_str(),
        "target": c.target,
        "state": match c.state { ChangeState::Pending => "pending", ChangeState::Failed => "failed" },
        "attempts": c.attempts,
        "last_error": c.last_error,
    })
}

pub fn change_line(c: &PendingChange) -> String {
    let state = match c.state {
        ChangeState::Pending => "pending",
        ChangeState::Failed => "FAILED",
    };
    let mut line = format!(
        "{:>5} {:<8} {:<12} {:<14} {} (attempts: {})",
        c.id,
        state,
        field(&c.account),
        c.kind.as_str(),
        field(&c.target),
        c.attempts
    );
    if !c.last_error.is_empty() {
        line.push_str(&format!(" - {}", field(&c.last_error)));
    }
    line
}

pub fn event_json(event: &Event) -> Value {
    match event {
        Event::SyncStarted { account } => json!({"event": "sync_started", "account": account}),
        Event::SyncProgress {
            account,
            folder,
            done,
            total,
        } => json!({
            "event": "sync_progress", "account": account, "folder": folder, "done": done, "total": total,
        }),
        Event::SyncFinished { account, report } => json!({
            "event": "sync_finished", "account": account, "new": report.new_messages,
            "changed": report.changed_messages, "removed": report.removed_messages,
            "bodies": report.bodies,
        }),
        Event::MessagesChanged {
            account,
            folder,
            added,
            changed,
            removed,
        } => json!({
            "event": "messages_changed", "account": account, "folder": folder,
            "added": added, "changed": changed, "removed": removed,
        }),
        Event::FoldersChanged { account } => {
            json!({"event": "folders_changed", "account": account})
        }
        Event::ChangesApplied { account, applied } => json!({
            "event": "changes_applied", "account": account, "applied": applied,
        }),
        Event::ChangeFailed {
            account,
            change_id,
            kind,
            message,
            advice,
        } => json!({
            "event": "change_failed", "account": account, "id": change_id,
            "kind": kind.as_str(), "message": message, "advice": advice,
        }),
        Event::OutboxChanged { account } => {
            json!({"event": "outbox_changed", "account": account})
        }
        Event::Advisory {
            account,
            message,
            advice,
        } => json!({
            "event": "advisory", "account": account, "message": message, "advice": advice,
        }),
        Event::NewMail {
            account,
            folder,
            total,
            messages,
        } => json!({
            "event": "new_mail", "account": account, "folder": folder, "total": total,
            "messages": messages.iter().map(summary_json).collect::<Vec<_>>(),
        }),
        Event::PushState { account, connected } => json!({
            "event": "push", "account": account, "connected": connected,
        }),
        Event::PushSilent { account } => json!({"event": "push_silent", "account": account}),
        Event::Error {
            account,
            kind,
            message,
            advice,
        } => json!({
            "event": "error", "account": account, "kind": kind, "message": message,
            "advice": advice,
        }),
    }
}
