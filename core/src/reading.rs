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
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
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

/// Messages up to this size have their attachments taken out whole; a larger one gives a
/// clear error instead of memory without bound.
const MAX_ATTACHMENT_SOURCE: u64 = 256 << 20;

/// An attachment's name made safe as a file name: no directories, no control characters,
/// no leading dots, not empty.
pub fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_control() || ":*?\"<>|".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    let cleaned: String = cleaned.chars().take(120).collect();
    if cleaned.is_empty() {
        "attachment".to_owned()
    } else {
        cleaned
    }
}

/// One attachment of a message, by its position (downloading the message if needed).
pub(crate) async fn attachment(
    services: &Services,
    id: i64,
    index: u32,
) -> Result<crate::model::AttachmentFile> {
    let message = services.sync.open_message(id).await?;
    if u64::from(message.summary.size) > MAX_ATTACHMENT_SOURCE {
        return Err(crate::Error::invalid(format!(
            "message {id} is too large ({} MB) to take attachments out of here",
            message.summary.size >> 20
        )));
    }
    let store = services.store.clone();
    let raw = crate::sync::blocking(move || store.raw_message(id))
        .await?
        .ok_or_else(|| crate::Error::not_found(format!("the text of message {id}")))?;
    crate::mime::parse_original(&raw)
        .attachments
        .into_iter()
        .nth(index as usize)
        .ok_or_else(|| crate::Error::not_found(format!("attachment {index} of message {id}")))
}

/// Writes an attachment to `path` (a file the user chose, for "save as").
pub(crate) async fn save_attachment(
    services: &Services,
    id: i64,
    index: u32,
    path: std::path::PathBuf,
) -> Result<String> {
    let file = attachment(services, id, index).await?;
    crate::sync::blocking(move || {
        std::fs::write(&path, &file.data).map_err(|err| {
            crate::Error::new(
                crate::ErrorKind::Storage,
                format!("cannot write {}: {err}", path.display()),
            )
        })?;
        Ok(path.to_string_lossy().into_owned())
    })
    .await
}

/// Writes an attachment into the engine's private cache for a viewer to open, under its
/// own (made safe) name; returns the path. Readable only by this user.
pub(crate) async fn open_attachment(services: &Services, id: i64, index: u32) -> Result<String> {
    let file = attachment(services, id, index).await?;
    let dir = services
        .data_dir
        .join("attachments")
        .join(format!("{id}-{index}"));
    crate::sync::blocking(move || {
        let storage = |err: std::io::Error| {
            crate::Error::new(
                crate::ErrorKind::Storage,
                format!("cannot keep the attachment: {err}"),
            )
        };
        crate::store::private::create_dir(&dir).map_err(storage)?;
        let path = dir.join(safe_file_name(&file.name));
        std::fs::write(&path, &file.data).map_err(storage)?;
        crate::store::private::tighten_or_warn(&path, 0o600);
        Ok(path.to_string_lossy().into_owned())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::safe_file_name;

    #[test]
    fn attachment_names_cannot_leave_their_folder() {
        let cases = [
            ("plan.pdf", "plan.pdf"),
            ("../../etc/passwd", "passwd"),
            ("C:\\Users\\x\\evil.exe", "evil.exe"),
            ("..", "attachment"),
            ("", "attachment"),
            (".bashrc", "bashrc"),
            ("a\u{0}b\nc.txt", "a_b_c.txt"),
            ("møte <referat>.docx", "møte _referat_.docx"),
        ];
        for (name, safe) in cases {
            assert_eq!(safe_file_name(name), safe, "{name:?}");
        }
    }
}
