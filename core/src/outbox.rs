//! Sending: composing into the outbox, and handing the outbox to the SMTP server. A
//! message is in the outbox (durably) before any attempt; a refused one becomes a draft.
//! The server's 250 is recorded at once (the row becomes `sent`, never sent again); what
//! follows (its copy in Sent, the original's \Answered) goes through the change queue in
//! the transaction that takes it out of the outbox, right after or in the next pass.

use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::watch;

use crate::advice::Advice;
use crate::compose::{self, ComposeMode, ComposePreview, Outgoing};
use crate::error::{Error, ErrorKind, Result};
use crate::events::EventBus;
use crate::mail::FlagSet;
use crate::mime;
use crate::model::{
    Account, Address, AttachmentFile, Draft, Event, FolderRole, Protocol, SendReport,
};
use crate::queue::ops::{Append, Operation, SetFlags};
use crate::queue::{plan as queue_plan, worker, ChangeQueue};
use crate::session::Sessions;
use crate::smtp::{self, Limits, SendFailure, SmtpSession};
use crate::store::{outbox as rows, Outgoing as OutboxRow, Store};
use crate::sync::SyncService;

/// The folder made for copies of sent mail on a server that has none.
const SENT_FOLDER: &str = "Sent";

/// Which kind of message is being written, and about which original.
pub(crate) enum Writing {
    New,
    /// `as_written`: the draft's recipients are the reply's, as the composer showed them
    /// (`preview`) and the user edited them; otherwise they add to the usual ones.
    Reply {
        original: i64,
        all: bool,
        as_written: bool,
    },
    Forward {
        original: i64,
    },
}

impl Writing {
    /// How the composer's mode is written: the recipients as the user left them.
    pub fn composed(mode: ComposeMode) -> Self {
        match mode {
            ComposeMode::New => Writing::New,
            ComposeMode::Reply { original } => Writing::Reply {
                original,
                all: false,
                as_written: true,
            },
            ComposeMode::ReplyAll { original } => Writing::Reply {
                original,
                all: true,
                as_written: true,
            },
            ComposeMode::Forward { original } => Writing::Forward { original },
        }
    }
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

/// What the user wrote, from the identity it is sent as; threading comes later.
pub(crate) fn outgoing(account: &Account, draft: Draft) -> Result<Outgoing> {
    Ok(Outgoing {
        from: sender(account, draft.from.as_deref())?,
        to: draft.to,
        cc: draft.cc,
        bcc: draft.bcc,
        subject: draft.subject,
        body: draft.body,
        attachments: draft.attachments,
        in_reply_to: None,
        references: Vec::new(),
    })
}

pub(crate) fn unique_salt() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish()
}

pub(crate) struct Outbox {
    store: Arc<Store>,
    sessions: Arc<Sessions>,
    queue: Arc<ChangeQueue>,
    sync: Arc<SyncService>,
    events: EventBus,
    data_dir: PathBuf,
    limits: Limits,
    /// One outbox pass at a time in this process (a file lock covers other processes).
    lock: tokio::sync::Mutex<()>,
    /// Bumped when a message was queued: wakes the workers.
    generation: watch::Sender<u64>,
}

impl Outbox {
    pub fn new(
        queue: Arc<ChangeQueue>,
        sync: Arc<SyncService>,
        events: EventBus,
        data_dir: PathBuf,
        limits: impl Into<Limits>,
    ) -> Self {
        Self {
            store: queue.store().clone(),
            sessions: queue.sessions().clone(),
            queue,
            sync,
            events,
            data_dir,
            limits: limits.into(),
            lock: tokio::sync::Mutex::new(()),
            generation: watch::channel(0).0,
        }
    }

    /// Composes a message and puts it into the outbox. Returns its outbox id.
    pub async fn queue_message(&self, draft: Draft, writing: Writing) -> Result<i64> {
        let account = self.store.account_by_name(&draft.account)?;
        let mut outgoing = outgoing(&account, draft)?;
        let origin = match writing {
            Writing::New => None,
            Writing::Reply {
                original,
                all,
                as_written,
            } => {
                let source = self.original(&account, original).await?;
                if !as_written {
                    let (to, cc) = compose::reply_recipients(&source, &account.identities, all);
                    if to.is_empty() && cc.is_empty() && outgoing.to.is_empty() {
                        return Err(Error::advised(
                            ErrorKind::InvalidInput,
                            Advice::new("no_one_to_reply_to", ""),
                            format!("message {original} has no one to reply to"),
                        ));
                    }
                    outgoing.to.extend(to);
                    outgoing.cc.extend(cc);
                }
                if outgoing.subject.is_empty() {
                    outgoing.subject = compose::reply_subject(&source.subject);
                }
                outgoing.body = compose::reply_body(&outgoing.body, &source);
                (outgoing.in_reply_to, outgoing.references) = compose::reply_threading(&source);
                Some((original, FlagSet::ANSWERED.bits()))
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
                Some((original, FlagSet::FORWARDED.bits()))
            }
        };
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as u128;
        let message_id = compose::new_message_id(&outgoing.from.address, now, unique_salt());
        let composed = compose::compose(&outgoing, &message_id)?;
        let id = self.store.queue_outgoing(account.id, &composed, origin)?;
        self.events.emit(Event::OutboxChanged {
            account: account.name.clone(),
        });
        self.generation.send_modify(|g| *g += 1);
        Ok(id)
    }

    /// What the composer starts with for `mode` (downloading the original's body if
    /// needed), from the rules `queue_message` writes with.
    pub async fn preview(&self, mode: ComposeMode) -> Result<ComposePreview> {
        let Some(id) = mode.original() else {
            return Ok(ComposePreview::default());
        };
        let account = self
            .store
            .account_by_name(&self.store.message_summary(id)?.account)?;
        let source = self.original(&account, id).await?;
        Ok(compose::preview(mode, Some(&source), &account.identities))
    }

    /// A stored message as the original of a reply or forward, downloading its body
    /// first if needed.
    pub(crate) async fn original(&self, account: &Account, id: i64) -> Result<compose::Original> {
        let summary = self.store.message_summary(id)?;
        if summary.account != account.name {
            return Err(Error::invalid(format!(
                "message {id} belongs to account '{}', not '{}'",
                summary.account, account.name
            )));
        }
        if self.store.raw_message(id)?.is_none() {
            self.sync.open_message(id).await?;
        }
        let raw = self.store.raw_message(id)?.ok_or_else(|| {
            Error::not_found(format!("the text of message {id} (sync, then try again)"))
        })?;
        Ok(crate::mime::parse_original(&raw))
    }

    /// Hands the account's due outbox messages to its SMTP server, oldest first, over one
    /// session. Stops at the first failure that may pass (offline, silent, "try later",
    /// login refused). First of all, messages the server took before an earlier pass
    /// stopped get what follows a sent message, and are never sent again. A pass that
    /// is not forced does not wait for one under way.
    pub async fn send(&self, account: &Account, force: bool) -> Result<SendReport> {
        let mut report = SendReport::default();
        let _guard = match force {
            true => self.lock.lock().await,
            false => match self.lock.try_lock() {
                Ok(guard) => guard,
                Err(_) => {
                    report.offline = Some("another pass is sending this outbox".to_owned());
                    report.queued = self.waiting(account)?;
                    return Ok(report);
                }
            },
        };
        let now = chrono::Utc::now().timestamp();
        let accepted = self.store.accepted_outgoing(account.id)?;
        let due = self.store.due_outgoing(account.id, now, force)?;
        if accepted.is_empty() && due.is_empty() {
            return Ok(report);
        }
        // Another process on this data directory may be sending: the OS releases its
        // lock when it ends, however it ends.
        let Some(_lock) = crate::lockfile::try_hold(&self.data_dir.join(OUTBOX_LOCK_FILE))? else {
            report.offline = Some("another process is sending this outbox".to_owned());
            report.queued = self.waiting(account)?;
            return Ok(report);
        };
        let sent_folder = self.sent_folder(account)?;
        for outgoing in &accepted {
            if self.sent(outgoing, sent_folder)? {
                report.sent += 1;
            }
        }
        let mut session = None;
        let result = self
            .send_due(account, &due, sent_folder, now, &mut session, &mut report)
            .await;
        if let Some(session) = session {
            session.quit().await;
        }
        result?;
        report.queued = self.waiting(account)?;
        if report.sent + report.failed > 0 {
            self.events.emit(Event::OutboxChanged {
                account: account.name.clone(),
            });
            // Sent copies and \Answered marks were queued: wake the change worker.
            self.queue.wake();
        }
        Ok(report)
    }

    /// The folder that keeps copies of what the account sends. An IMAP server that names
    /// none (no SPECIAL-USE, no name we know) gets a "Sent" folder, created like any folder
    /// the user creates, and the user is told, and can choose another; the copy is not
    /// dropped. None where the server files the copy itself, or before the first sync has
    /// listed the folders (a "Sent" may exist there).
    fn sent_folder(&self, account: &Account) -> Result<Option<i64>> {
        if account.protocol == Protocol::Imap && smtp::server_files_sent_copy(&account.smtp.host) {
            return Ok(None);
        }
        if let Some(id) = self.store.folder_by_role(account.id, FolderRole::Sent)? {
            return Ok(Some(id));
        }
        if account.protocol != Protocol::Imap || self.store.folders(Some(account.id))?.is_empty() {
            tracing::info!(account = account.name, "no Sent folder: no copy kept");
            return Ok(None);
        }
        let folder = match self.store.folder_by_name(account.id, SENT_FOLDER) {
            Ok(folder) => folder,
            Err(err) if err.kind == ErrorKind::NotFound => {
                self.queue.create_folder(account, SENT_FOLDER)?;
                self.store.folder_by_name(account.id, SENT_FOLDER)?
            }
            Err(err) => return Err(err),
        };
        let remote = self.store.folder_remote_name(folder.id)?;
        self.store
            .choose_folder_role(account.id, FolderRole::Sent, &remote)?;
        self.events.emit(Event::advisory(
            &account.name,
            Advice::new("sent_folder_created", SENT_FOLDER),
        ));
        Ok(Some(folder.id))
    }

    /// Messages of the account still to go out.
    fn waiting(&self, account: &Account) -> Result<u32> {
        Ok(self
            .store
            .outbox(Some(account.id))?
            .iter()
            .filter(|m| m.state != crate::model::OutboxState::Failed)
            .count() as u32)
    }

    async fn send_due(
        &self,
        account: &Account,
        due: &[i64],
        sent_folder: Option<i64>,
        now: i64,
        session: &mut Option<SmtpSession>,
        report: &mut SendReport,
    ) -> Result<()> {
        for &id in due {
            let Some(outgoing) = self.store.begin_sending(id)? else {
                continue;
            };
            let result = match session {
                Some(open) => {
                    open.send(&outgoing.mail_from, &outgoing.recipients, &outgoing.raw)
                        .await
                }
                None => match self.open_session(account).await {
                    Ok(open) => {
                        let open = session.insert(open);
                        open.send(&outgoing.mail_from, &outgoing.recipients, &outgoing.raw)
                            .await
                    }
                    Err(err) => Err(SendFailure::Retry(err)),
                },
            };
            match result {
                Ok(()) => {
                    // The server has it: say so durably before anything else, so that
                    // nothing after this point can send it again.
                    self.store.outgoing_accepted(id)?;
                    self.sent(&outgoing, sent_folder)?;
                    report.sent += 1;
                }
                Err(SendFailure::Refused(err)) => {
                    let drafts = self.store.folder_by_role(account.id, FolderRole::Drafts)?;
                    let draft = self.refused(&outgoing, &err.message, drafts)?;
                    report.failed += 1;
                    self.events.emit(Event::error(
                        &account.name,
                        &err,
                        match draft {
                            Some(d) => format!("{} (kept as draft {d})", err.message),
                            None => err.message.clone(),
                        },
                    ));
                    // The refused transaction ends before the next message's begins.
                    if let Some(open) = session.as_mut() {
                        if !open.reset().await {
                            *session = None;
                        }
                    }
                }
                Err(SendFailure::Retry(err)) => {
                    self.store.outgoing_retry_later(
                        id,
                        &err.message,
                        queue_plan::next_attempt(now, outgoing.attempts),
                    )?;
                    // After a failure mid-transaction the session is in no known state.
                    *session = None;
                    report.offline = Some(err.message);
                    break;
                }
            }
        }
        Ok(())
    }

    async fn open_session(&self, account: &Account) -> Result<SmtpSession> {
        crate::session::with_login!(&self.sessions, account, |login| {
            SmtpSession::open_with(&account.smtp, &login, self.limits).await
        })
    }

    /// What follows a message the server took: it leaves the outbox, the sender's copy
    /// goes into `sent_folder` (queued for upload on IMAP) and the original gets its flag.
    /// False if another pass did this already.
    fn sent(&self, outgoing: &OutboxRow, sent_folder: Option<i64>) -> Result<bool> {
        let copy = sent_folder.map(|_| mime::parse_message(outgoing.own_copy()));
        let (done, _) = self.queue.write(|rec| {
            if !rows::remove_sent(rec.tx(), outgoing.id)? {
                return Ok(false);
            }
            if let (Some(folder), Some(copy)) = (sent_folder, &copy) {
                let (account, op) =
                    Append::apply(&self.store, rec.tx(), folder, copy, FlagSet::SEEN)?;
                rec.add(account, Operation::Append(op))?;
            }
            let origin_flags = FlagSet::from_bits_truncate(outgoing.origin_flags);
            if let Some(origin) = outgoing.origin_message.filter(|_| !origin_flags.is_empty()) {
                // The original may have been deleted meanwhile: then there is nothing to mark.
                if rows::message_exists(rec.tx(), origin)? {
                    if let Some((account, op)) =
                        SetFlags::apply(rec.tx(), origin, origin_flags, FlagSet::empty())?
                    {
                        rec.add(account, Operation::SetFlags(op))?;
                    }
                }
            }
            Ok(true)
        })?;
        Ok(done)
    }

    /// The server will not take the message: it stays in the outbox as `failed` and is
    /// kept as a draft (in `drafts`) so the user can fix and send it again.
    fn refused(
        &self,
        outgoing: &OutboxRow,
        error: &str,
        drafts: Option<i64>,
    ) -> Result<Option<i64>> {
        let copy = drafts.map(|_| mime::parse_message(outgoing.own_copy()));
        let (draft, _) = self.queue.write(|rec| {
            let draft = match (drafts, &copy) {
                (Some(folder), Some(copy)) => {
                    let flags = FlagSet::DRAFT | FlagSet::SEEN;
                    let (account, op) = Append::apply(&self.store, rec.tx(), folder, copy, flags)?;
                    let id = op.message;
                    rec.add(account, Operation::Append(op))?;
                    Some(id)
                }
                _ => None,
            };
            rows::set_refused(rec.tx(), outgoing.id, error, draft)?;
            Ok(draft)
        })?;
        Ok(draft)
    }
}

/// The outbox's background worker per account: sends whenever a message is queued, when
/// the next retry is due, and when the network comes back.
pub(crate) async fn run_worker(outbox: Weak<Outbox>, account_id: i64) {
    let Some((mut queued, mut network)) = outbox
        .upgrade()
        .map(|o| (o.generation.subscribe(), o.sessions.network_changes()))
    else {
        return;
    };
    loop {
        queued.mark_unchanged();
        network.mark_unchanged();
        let wait = {
            let Some(outbox) = outbox.upgrade() else {
                return;
            };
            let Ok(account) = outbox.store.account_by_id(account_id) else {
                return;
            };
            if let Err(err) = outbox.send(&account, false).await {
                tracing::warn!(%err, "sending the outbox failed");
            }
            let now = chrono::Utc::now().timestamp();
            match outbox.store.next_outgoing_due(account_id).ok().flatten() {
                Some(due) => Duration::from_secs(due.saturating_sub(now).max(1) as u64),
                None => Duration::from_secs(3600),
            }
        };
        let woken = async {
            tokio::select! {
                _ = queued.changed() => {}
                _ = network.changed() => {}
            }
        };
        let _ = tokio::time::timeout(wait, worker::while_alive(&outbox, woken)).await;
    }
}
