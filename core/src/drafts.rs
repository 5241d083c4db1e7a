//! Drafts as real IMAP drafts: saved to the account's Drafts folder (replacing the
//! previous save, never duplicating it), reopened on any device with their recipients,
//! Bcc, attachments and the reply or forward they began as, and gone from Drafts once
//! sent or discarded.

use crate::compose::{self, ComposeMode};
use crate::error::{Error, Result};
use crate::model::{Draft, FolderRole};
use crate::outbox::{self, Writing};
use crate::services::Services;

/// A draft as the composer reopens it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SavedDraft {
    /// The draft's message id (pass it as `replaces` to the next save).
    pub id: i64,
    /// `New` when the original it answered is not on this device.
    pub mode: ComposeMode,
    pub draft: Draft,
}

/// How a draft's mode is written in its header.
fn mode_header(services: &Services, mode: ComposeMode) -> Result<String> {
    let Some(original) = mode.original() else {
        return Ok("new".to_owned());
    };
    let message_id = services.store.message_summary(original)?.message_id;
    let kind = match mode {
        ComposeMode::Reply { .. } => "reply",
        ComposeMode::ReplyAll { .. } => "reply-all",
        _ => "forward",
    };
    Ok(format!("{kind} <{message_id}>"))
}

/// The mode a header names, if this device has the original.
fn mode_of(services: &Services, account_id: i64, header: Option<&str>) -> Result<ComposeMode> {
    let Some((kind, id)) = header.and_then(|h| h.split_once(' ')) else {
        return Ok(ComposeMode::New);
    };
    let message_id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let Some(original) = services
        .store
        .message_by_message_id(account_id, message_id)?
    else {
        return Ok(ComposeMode::New);
    };
    Ok(match kind {
        "reply" => ComposeMode::Reply { original },
        "reply-all" => ComposeMode::ReplyAll { original },
        "forward" => ComposeMode::Forward { original },
        _ => ComposeMode::New,
    })
}

/// Saves what the composer holds to Drafts; `replaces` (the last save) goes. Returns
/// the new draft's id.
pub(crate) async fn save(
    services: &Services,
    mode: ComposeMode,
    draft: Draft,
    replaces: Option<i64>,
) -> Result<i64> {
    let account = services.store.account_by_name(&draft.account)?;
    let mut outgoing = outbox::outgoing(&account, draft)?;
    if let ComposeMode::Reply { original } | ComposeMode::ReplyAll { original } = mode {
        let source = services.outbox.original(&account, original).await?;
        (outgoing.in_reply_to, outgoing.references) = compose::reply_threading(&source);
    }
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as u128;
    let message_id = compose::new_message_id(&outgoing.from.address, now, outbox::unique_salt());
    let raw = compose::compose_draft(&outgoing, &message_id, &mode_header(services, mode)?)?;
    services.queue.save_draft(&account, &raw, replaces)
}

/// Reopens a draft (downloading it if needed), saved here or on another device.
pub(crate) async fn open(services: &Services, id: i64) -> Result<SavedDraft> {
    let (account_id, role) = services.store.message_folder_role(id)?;
    if role != Some(FolderRole::Drafts) {
        return Err(Error::invalid(format!("message {id} is not in Drafts")));
    }
    let message = services.sync.open_message(id).await?;
    let raw = services.store.raw_message(id)?.ok_or_else(|| {
        Error::not_found(format!("the text of draft {id} (sync, then try again)"))
    })?;
    let parsed = crate::mime::parse_draft(&raw);
    Ok(SavedDraft {
        id,
        mode: mode_of(services, account_id, parsed.mode.as_deref())?,
        draft: Draft {
            account: message.summary.account,
            from: Some(message.summary.from.address).filter(|a| !a.is_empty()),
            to: parsed.to,
            cc: parsed.cc,
            bcc: parsed.bcc,
            subject: parsed.subject,
            body: parsed.text,
            attachments: parsed.attachments,
        },
    })
}

/// Sends a draft as `mode` with what the composer holds now, then takes it out of
/// Drafts. The message is in the outbox before the draft goes: a crash in between
/// leaves both, never neither.
pub(crate) async fn send(
    services: &Services,
    id: i64,
    mode: ComposeMode,
    draft: Draft,
) -> Result<i64> {
    let queued = services
        .outbox
        .queue_message(draft, Writing::composed(mode))
        .await?;
    services.queue.delete_for_good(&[id])?;
    Ok(queued)
}
