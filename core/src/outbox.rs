//! Sending: composing into the outbox, and handing the outbox to the SMTP server. A
//! message is in the outbox (durably) before any attempt; a refused one becomes a draft.

use std::time::Duration;

use crate::compose::{self, Outgoing};
use crate::engine::Inner;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{
    Account, Address, AttachmentFile, Draft, Event, FolderRole, Protocol, SendReport,
};
use crate::queue::plan as queue_plan;
use crate::smtp::{self, SendFailure};

/// Which kind of message is being written, and about which original.
pub(crate) enum Writing {
    New,
    Reply { original: i64, all: bool },
    Forward { original: i64 },
}

const OUTBOX_LOCK_FILE: &str = "outbox.lock";

fn sender(account: &Account, from: Option<&str>) -> Result<Address> {
    let identity = match from {
        None => account.identities.first(),
        Some(email) => account
            .identities
            .iter()
            .find(|i| i.email.eq_ignore_ascii_case(email)),
    };
    match identity {
        Some(i) => Ok(Address {
            name: (!i.name.is_empty()).then(|| i.name.clone()),
            address: i.email.clone(),
        }),
        None if from.is_none() => Ok(Address {
            name: None,
            address: account.email.clone(),
        }),
        None => Err(Error::invalid(format!(
            "account '{}' has no identity {}; add it with `account identity`",
            account.name,
            from.unwrap_or_default()
        ))),
    }
}

fn unique_salt() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish()
}

impl Inner {
    /// Composes a message and puts it into the outbox. Returns its outbox id.
    pub(crate) async fn queue_message(&self, draft: Draft, writing: Writing) -> Result<i64> {
        let account = self.store.account_by_name(&draft.account)?;
        let from = sender(&account, draft.from.as_deref())?;
        let mut outgoing = Outgoing {
            from,
            to: draft.to,
            cc: draft.cc,
            bcc: draft.bcc,
            subject: draft.subject,
            body: draft.body,
            attachments: draft.attachments,
            in_reply_to: None,
            references: Vec::new(),
        };
        let origin = match writing {
            Writing::New => None,
            Writing::Reply { original, all } => {
                let source = self.original(&account, original).await?;
                let (to, cc) = compose::reply_recipients(&source, &account.identities, all);
                if to.is_empty() && cc.is_empty() {
                    return Err(Error::invalid(format!(
                        "message {original} has no one to reply to"
                    )));
                }
                outgoing.to.extend(to);
                outgoing.cc.extend(cc);
                if outgoing.subject.is_empty() {
                    outgoing.subject = compose::reply_subject(&source.subject);
                }
                outgoing.body = compose::reply_body(&outgoing.body, &source);
                (outgoing.in_reply_to, outgoing.references) = compose::reply_threading(&source);
                Some((original, queue_plan::ANSWERED))
            }
            Writing::Forward { original } => {
                let source = self.original(&account, original).await?;
                if outgoing.subject.is_empty() {
                    outgoing.subject = compose::forward_subject(&source.subject);
                }
                outgoing.body = compose::forward_body(&outgoing.body, &source);
                let mut attachments: Vec<AttachmentFile> = source.attachments;
                attachments.append(&mut outgoing.attachments);
                outgoing.attachments = attachments;
                Some((original, queue_plan::FORWARDED))
            }
        };
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as u128;
        let message_id = compose::new_message_id(&outgoing.from.address, now, unique_salt());
        let composed = compose::compose(&outgoing, &message_id)?;
        let id = self.store.queue_outgoing(account.id, &composed, origin)?;
        self.events.emit(Event::OutboxChanged {
            account: account.name.clone(),
        });
        self.queue_generation.send_modify(|g| *g += 1);
        Ok(id)
    }

    /// A stored message as the original of a reply or forward, downloading its body
    /// first if needed.
    async fn original(&self, account: &Account, id: i64) -> Result<compose::Original> {
        let summary = self.store.message_summary(id)?;
        if summary.account != account.name {
            return Err(Error::invalid(format!(
                "message {id} belongs to account '{}', not '{}'",
                summary.account, account.name
            )));
        }
        if self.store.raw_message(id)?.is_none() {
            self.open_message(id).await?;
        }
        let raw = self.store.raw_message(id)?.ok_or_else(|| {
            Error::not_found(format!("the text of message {id} (sync, then try again)"))
        })?;
        Ok(crate::mime::parse_original(&raw))
    }

    /// Hands the account's due outbox messages to its SMTP server, oldest first. Stops
    /// at the first failure that may pass (offline, "try later", login refused).
    pub(crate) async fn send_outbox(&self, account: &Account, force: bool) -> Result<SendReport> {
        let _guard = self.outbox_lock.lock().await;
        let mut report = SendReport::default();
        let now = chrono::Utc::now().timestamp();
        let due = self.store.due_outgoing(account.id, now, force)?;
        if due.is_empty() {
            return Ok(report);
        }
        // Another process on this data directory may be sending: the OS releases its
        // lock when it ends, however it ends.
        let lock_path = self.data_dir().join(OUTBOX_LOCK_FILE);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|err| {
                Error::new(
                    ErrorKind::Storage,
                    format!("cannot open {}: {err}", lock_path.display()),
                )
            })?;
        if lock.try_lock().is_err() {
            report.offline = Some("another process is sending this outbox".to_owned());
            report.queued = due.len() as u32;
            return Ok(report);
        }
        let password = self.credentials.get(&account.name)?.ok_or_else(|| {
            Error::new(
                ErrorKind::MissingCredentials,
                format!("no password is stored for account '{}'", account.name),
            )
        })?;
        let timeout = self.options.connect_timeout.max(Duration::from_secs(30));
        for id in due {
            let Some(outgoing) = self.store.begin_sending(id)? else {
                continue;
            };
            let result = smtp::send(
                &account.smtp,
                &password,
                timeout,
                &outgoing.mail_from,
                &outgoing.recipients,
                &outgoing.raw,
            )
            .await;
            match result {
                Ok(()) => {
                    let sent_folder = match account.protocol {
                        Protocol::Imap if smtp::server_files_sent_copy(&account.smtp.host) => None,
                        _ => self.store.folder_by_role(account.id, FolderRole::Sent)?,
                    };
                    if sent_folder.is_none() {
                        tracing::info!(account = account.name, "no Sent folder: no copy kept");
                    }
                    self.store.outgoing_sent(&outgoing, sent_folder)?;
                    report.sent += 1;
                }
                Err(SendFailure::Refused(err)) => {
                    let drafts = self.store.folder_by_role(account.id, FolderRole::Drafts)?;
                    let draft = self
                        .store
                        .outgoing_refused(&outgoing, &err.message, drafts)?;
                    report.failed += 1;
                    self.events.emit(Event::Error {
                        account: account.name.clone(),
                        kind: err.kind,
                        message: match draft {
                            Some(d) => format!("{} (kept as draft {d})", err.message),
                            None => err.message.clone(),
                        },
                    });
                }
                Err(SendFailure::Retry(err)) => {
                    self.store.outgoing_retry_later(
                        id,
                        &err.message,
                        queue_plan::next_attempt(now, outgoing.attempts),
                    )?;
                    report.offline = Some(err.message);
                    break;
                }
            }
        }
        report.queued = self
            .store
            .outbox(Some(account.id))?
            .iter()
            .filter(|m| m.state != crate::model::OutboxState::Failed)
            .count() as u32;
        if report.sent + report.failed > 0 {
            self.events.emit(Event::OutboxChanged {
                account: account.name.clone(),
            });
            // Sent copies and \Answered marks were queued: wake the change worker.
            self.after_local_change(&[account.id], &[], false);
        }
        Ok(report)
    }
}
