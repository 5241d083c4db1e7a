//! Opening a message to read it, the same on every platform: its body (downloaded if
//! needed), HTML made safe with remote content blocked unless the user allowed it for
//! this message or its sender, and marked read when the setting says so.

use crate::error::Result;
use crate::html;
use crate::model::{FlagChange, Message, Problem};
use crate::services::Services;

const SETTING_MARK_READ_ON_OPEN: &str = "mark_read_on_open";

/// How this opening differs from the stored choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, uniffi::Record)]
pub struct ReadingOptions {
    /// Show remote content this time only.
    pub allow_remote_once: bool,
    /// Mark read (or not) this time, whatever the setting says.
    pub mark_read: Option<bool>,
}

/// A message as a reader shows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Reading {
    /// The message; its `html` is the sanitized HTML (never the raw one).
    pub message: Message,
    /// Remote images held back (0 when remote content is shown).
    pub blocked_remote: u32,
    /// Remote content is shown (allowed for this message, its sender, or this once).
    pub remote_shown: bool,
    /// This opening marked the message read.
    pub marked_read: bool,
    /// Why the body is missing (for example no connection); the headers are shown.
    pub problem: Option<Problem>,
}

pub(crate) fn mark_read_on_open(services: &Services) -> Result<bool> {
    Ok(services
        .store
        .setting(SETTING_MARK_READ_ON_OPEN)?
        .as_deref()
        != Some("0"))
}

pub(crate) fn set_mark_read_on_open(services: &Services, mark: bool) -> Result<()> {
    services
        .store
        .set_setting(SETTING_MARK_READ_ON_OPEN, if mark { "1" } else { "0" })
}

pub(crate) async fn open_for_reading(
    services: &Services,
    id: i64,
    options: ReadingOptions,
) -> Result<Reading> {
    let (mut message, problem) = match services.sync.open_message(id).await {
        Ok(message) => (message, None),
        // Offline, or the server lost it: the cached headers, with the reason.
        Err(err) => match services.store.message(id) {
            Ok(message) => (message, Some(Problem::of(&err))),
            Err(_) => return Err(err),
        },
    };
    let account = services.store.account_by_name(&message.summary.account)?;
    let remote_shown = options.allow_remote_once
        || services
            .store
            .remote_content_allowed(&message.summary, account.id)?;
    let mut blocked_remote = 0;
    if let Some(raw) = message.html.take() {
        let safe = html::sanitize(&raw, remote_shown);
        blocked_remote = safe.blocked_remote;
        message.html = Some(safe.html);
    }
    let mark = match options.mark_read {
        Some(mark) => mark,
        None => mark_read_on_open(services)?,
    };
    let marked_read = !message.summary.flags.seen && mark;
    if marked_read {
        services.queue.mark(&[id], FlagChange::Read)?;
        message.summary.flags.seen = true;
    }
    Ok(Reading {
        message,
        blocked_remote,
        remote_shown,
        marked_read,
        problem,
    })
}
