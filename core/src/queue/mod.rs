//! The change queue: what the user did here, recorded with its local effect in one
//! transaction, then replayed to the server in order by a worker. `ops` holds the kinds
//! of change, `plan` the decisions, `replay` the wire, `worker` the background loop.

pub mod ops;
pub mod plan;
pub mod replay;
pub(crate) mod worker;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use rusqlite::Transaction;
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::events::EventBus;
use crate::imap::ImapConnection;
use crate::lockfile;
use crate::mail::FlagSet;
use crate::model::{
    Account, ChangeState, Event, FlagChange, FolderRole, PendingChange, Protocol, PushReport,
};
use crate::session::Sessions;
use crate::store::{changes, local, ChangeRow, Store};
use ops::{Append, CreateFolder, DeleteFolder, Expunge, MoveMessage, Operation};
use ops::{RenameFolder, SetFlags};
use plan::Disposition;
use replay::Replayed;

/// Records operations inside one transaction: each is applied here by its constructor,
/// then queued for the server unless its account keeps changes on this device (POP3).
pub(crate) struct Recorder<'t> {
    tx: &'t Transaction<'t>,
    to_server: &'t HashSet<i64>,
    accounts: Vec<i64>,
}

impl<'t> Recorder<'t> {
    pub fn tx(&self) -> &'t Transaction<'t> {
        self.tx
    }

    pub fn add(&mut self, account_id: i64, op: Operation) -> Result<()> {
        if self.to_server.contains(&account_id) {
            let depends_on = op.depends_on(self.tx, account_id)?;
            changes::insert(self.tx, &QueuedChange::new_row(account_id, &op, depends_on))?;
        }
        if !self.accounts.contains(&account_id) {
            self.accounts.push(account_id);
        }
        Ok(())
    }
}

pub(crate) struct ChangeQueue {
    store: Arc<Store>,
    sessions: Arc<Sessions>,
    events: EventBus,
    data_dir: PathBuf,
    /// Bumped when something was queued: wakes the workers (a watch channel loses no
    /// wake-up that happens while a worker is busy).
    generation: watch::Sender<u64>,
}

impl ChangeQueue {
    pub fn new(
        store: Arc<Store>,
        sessions: Arc<Sessions>,
        events: EventBus,
        data_dir: PathBuf,
    ) -> Self {
        Self {
            store,
            sessions,
            events,
            data_dir,
            generation: watch::channel(0).0,
        }
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn sessions(&self) -> &Arc<Sessions> {
        &self.sessions
    }

    pub fn wake(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn wake_ups(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Runs `f` in one transaction with a recorder; returns its value and the accounts
    /// whose state it changed.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut Recorder<'_>) -> Result<T>,
    ) -> Result<(T, Vec<i64>)> {
        // Decided before the store is asked: POP3 accounts keep their changes here.
        let to_server: HashSet<i64> = self
            .store
            .accounts()?
            .iter()
            .filter(|a| a.protocol == Protocol::Imap)
            .map(|a| a.id)
            .collect();
        self.store.write(|tx| {
            let mut recorder = Recorder {
                tx,
                to_server: &to_server,
                accounts: Vec::new(),
            };
            let value = f(&mut recorder)?;
            Ok((value, recorder.accounts))
        })
    }

    /// Changes flags here at once and queues them for the server.
    pub fn mark(&self, ids: &[i64], change: FlagChange) -> Result<()> {
        let (add, remove) = plan::requested(change);
        self.set_flags(ids, add, remove)
    }

    pub fn set_flags(&self, ids: &[i64], add: FlagSet, remove: FlagSet) -> Result<()> {
        let ((), accounts) = self.write(|rec| {
            for &id in ids {
                if let Some((account, op)) = SetFlags::apply(rec.tx(), id, add, remove)? {
                    rec.add(account, Operation::SetFlags(op))?;
                }
            }
            Ok(())
        })?;
        self.after_local_change(&accounts, ids, false);
        Ok(())
    }

    /// Moves messages here at once and queues the moves. Each pair is (message, target
    /// folder of the same account).
    pub fn move_messages(&self, moves: &[(i64, i64)]) -> Result<()> {
        let ((), accounts) = self.write(|rec| {
            for &(id, folder_id) in moves {
                if let Some((account, op)) = MoveMessage::apply(rec.tx(), id, folder_id)? {
                    rec.add(account, Operation::Move(op))?;
                }
            }
            Ok(())
        })?;
        let ids: Vec<i64> = moves.iter().map(|(id, _)| *id).collect();
        self.after_local_change(&accounts, &ids, false);
        Ok(())
    }

    /// Moves messages to their account's Archive folder.
    pub fn archive(&self, ids: &[i64]) -> Result<()> {
        let mut moves = Vec::with_capacity(ids.len());
        for &id in ids {
            let (account_id, _) = self.store.message_folder_role(id)?;
            let archive = self
                .store
                .folder_by_role(account_id, FolderRole::Archive)?
                .ok_or_else(|| Error::not_found("an Archive folder in this account"))?;
            moves.push((id, archive));
        }
        self.move_messages(&moves)
    }

    /// Moves messages to Trash; messages already in Trash (or with no Trash) go for good.
    pub fn delete(&self, ids: &[i64]) -> Result<()> {
        let mut to_trash = Vec::new();
        let mut for_good = Vec::new();
        for &id in ids {
            let (account_id, role) = self.store.message_folder_role(id)?;
            match self.store.folder_by_role(account_id, FolderRole::Trash)? {
                Some(trash) if role != Some(FolderRole::Trash) => to_trash.push((id, trash)),
                _ => for_good.push(id),
            }
        }
        let ((), accounts) = self.write(|rec| {
            for &(id, folder_id) in &to_trash {
                if let Some((account, op)) = MoveMessage::apply(rec.tx(), id, folder_id)? {
                    rec.add(account, Operation::Move(op))?;
                }
            }
            for &id in &for_good {
                let (account, op) = Expunge::apply(rec.tx(), id)?;
                rec.add(account, Operation::Expunge(op))?;
            }
            Ok(())
        })?;
        self.after_local_change(&accounts, ids, false);
        Ok(())
    }

    /// Creates a folder (`Work/2026`: levels separated by `/`, whatever the server uses).
    pub fn create_folder(&self, account: &Account, name: &str) -> Result<()> {
        self.write(|rec| {
            let (op, _) = CreateFolder::apply(rec.tx(), account.id, name)?;
            rec.add(account.id, Operation::CreateFolder(op))
        })?;
        self.after_local_change(&[account.id], &[], true);
        Ok(())
    }

    pub fn rename_folder(&self, account: &Account, old: &str, new: &str) -> Result<()> {
        let folder = self.store.folder_by_name(account.id, old)?;
        let remote = self.store.folder_remote_name(folder.id)?;
        self.write(|rec| {
            let op = RenameFolder::apply(rec.tx(), account.id, &remote, new)?;
            rec.add(account.id, Operation::RenameFolder(op))
        })?;
        self.after_local_change(&[account.id], &[], true);
        Ok(())
    }

    pub fn delete_folder(&self, account: &Account, name: &str) -> Result<()> {
        let folder = self.store.folder_by_name(account.id, name)?;
        let remote = self.store.folder_remote_name(folder.id)?;
        self.write(|rec| {
            let op = DeleteFolder::apply(rec.tx(), account.id, &remote)?;
            rec.add(account.id, Operation::DeleteFolder(op))
        })?;
        self.after_local_change(&[account.id], &[], true);
        Ok(())
    }

    /// Deletes messages for good, here and then on the server (a draft sent or discarded).
    pub fn delete_for_good(&self, ids: &[i64]) -> Result<()> {
        let ((), accounts) = self.write(|rec| {
            for &id in ids {
                let (account, op) = Expunge::apply(rec.tx(), id)?;
                rec.add(account, Operation::Expunge(op))?;
            }
            Ok(())
        })?;
        self.after_local_change(&accounts, ids, false);
        Ok(())
    }

    /// Saves a draft into the account's Drafts folder and queues its upload; `replaces`
    /// is the previous version, removed here and there. Returns the new id.
    pub fn save_draft(&self, account: &Account, raw: &[u8], replaces: Option<i64>) -> Result<i64> {
        let drafts = self
            .store
            .folder_by_role(account.id, FolderRole::Drafts)?
            .ok_or_else(|| Error::not_found("a Drafts folder in this account"))?;
        let message = crate::mime::parse_message(raw.to_vec());
        let (id, _) = self.write(|rec| {
            let flags = FlagSet::DRAFT | FlagSet::SEEN;
            let (account_id, op) = Append::apply(&self.store, rec.tx(), drafts, &message, flags)?;
            let id = op.message;
            rec.add(account_id, Operation::Append(op))?;
            if let Some(old) = replaces {
                let (account_id, op) = Expunge::apply(rec.tx(), old)?;
                rec.add(account_id, Operation::Expunge(op))?;
            }
            Ok(id)
        })?;
        let mut changed = vec![id];
        changed.extend(replaces);
        self.after_local_change(&[account.id], &changed, false);
        Ok(id)
    }

    /// Changes not yet confirmed by the server, and those it refused.
    pub fn changes(&self, account_id: Option<i64>) -> Result<Vec<PendingChange>> {
        self.store
            .listed_changes(account_id)?
            .into_iter()
            .map(|listed| {
                let change = QueuedChange::from_row(&listed.row)?;
                let naming = self.store.naming(change.account_id)?;
                Ok(PendingChange {
                    id: change.id,
                    account: listed.account,
                    kind: change.op.kind(),
                    message_id: change.op.message(),
                    target: change.op.describe(&naming),
                    state: if listed.failed {
                        ChangeState::Failed
                    } else {
                        ChangeState::Pending
                    },
                    attempts: change.attempts,
                    last_error: listed.last_error,
                })
            })
            .collect()
    }

    /// Applies a failed change here again and queues it anew.
    pub fn retry(&self, id: i64) -> Result<()> {
        let account = self.store.write(|tx| {
            let change = QueuedChange::from_row(&changes::failed_row(tx, id)?)?;
            change.op.reapply(tx, change.id, change.account_id)?;
            changes::set_pending_again(tx, id)?;
            Ok(change.account_id)
        })?;
        self.after_local_change(&[account], &[], true);
        Ok(())
    }

    /// Forgets a failed change (it was already reverted here).
    pub fn discard(&self, id: i64) -> Result<()> {
        self.store.discard_change(id)
    }

    /// Undoes a change that is still waiting (the user's "undo"), with the waiting
    /// changes that depend on it, newest first; returns their ids. Waits for a replay
    /// under way in this process and refuses while another process replays the queue.
    /// If an earlier attempt did reach the server, the next sync brings its state back.
    pub async fn cancel(&self, id: i64) -> Result<Vec<i64>> {
        let account_id = self
            .store
            .read(|conn| changes::pending_account(conn, id))?
            .ok_or_else(|| Error::not_found(format!("waiting change {id}")))?;
        let lock = self.sessions.lock(account_id);
        let _guard = lock.lock().await;
        let path = self.data_dir.join(format!("changes-{account_id}.lock"));
        let Some(_held) = lockfile::try_hold(&path)? else {
            return Err(Error::invalid(
                "another Brevdue process is sending these changes: try again in a moment",
            ));
        };
        let (order, messages) = self.store.write(|tx| {
            let pending = changes::pending_graph(tx, account_id)?;
            if !pending.iter().any(|(p, _)| *p == id) {
                // Replayed (or refused) while this waited for the lock.
                return Err(Error::not_found(format!("waiting change {id}")));
            }
            let order = plan::revert_order(&pending, id);
            let mut messages = Vec::new();
            for change_id in &order {
                let Some(row) = changes::row(tx, *change_id)? else {
                    continue;
                };
                let change = QueuedChange::from_row(&row)?;
                if matches!(change.op, Operation::Append(_)) {
                    return Err(Error::invalid(
                        "the upload of a sent message or draft cannot be undone",
                    ));
                }
                change.op.revert(tx, change.account_id)?;
                changes::remove(tx, *change_id)?;
                messages.extend(row.message_id);
            }
            Ok((order, messages))
        })?;
        self.after_local_change(&[account_id], &messages, true);
        Ok(order)
    }

    /// After a local change: tell the front ends, and wake the workers.
    pub fn after_local_change(&self, accounts: &[i64], messages: &[i64], folders: bool) {
        for &account_id in accounts {
            let Ok(account) = self.store.account_by_id(account_id) else {
                continue;
            };
            if folders {
                self.events.emit(Event::FoldersChanged {
                    account: account.name.clone(),
                });
            }
            if !messages.is_empty() {
                self.events.emit(Event::MessagesChanged {
                    account: account.name,
                    folder: String::new(),
                    added: Vec::new(),
                    changed: messages.to_vec(),
                    removed: 0,
                });
            }
        }
        self.wake();
    }

    /// Replays the account's queue in order until it is empty, the server cannot be
    /// reached, or (with `respect_backoff`) the next change is not due yet.
    pub async fn push(&self, account: &Account, respect_backoff: bool) -> Result<PushReport> {
        let lock = self.sessions.lock(account.id);
        let _guard = lock.lock().await;
        let mut report = PushReport::default();
        let mut conn: Option<ImapConnection> = None;
        let mut held = None;
        while let Some((row, due)) = self.store.next_change(account.id)? {
            let now = chrono::Utc::now().timestamp();
            if respect_backoff && due > now {
                break;
            }
            // Another process replaying the same queue holds it: leave the rest to it.
            // The OS frees the lock the moment its holder dies, so a killed process
            // holds nothing up.
            if held.is_none() {
                let path = self.data_dir.join(format!("changes-{}.lock", account.id));
                match lockfile::try_hold(&path)? {
                    Some(file) => held = Some(file),
                    None => {
                        report.offline =
                            Some("another process is sending these changes".to_owned());
                        break;
                    }
                }
            }
            let change = QueuedChange::from_row(&row)?;
            let raw = match &change.op {
                Operation::Append(op) => self.store.raw_message(op.message)?,
                _ => None,
            };
            let known = self.known_for(&change)?;
            let outcome = match conn.as_mut() {
                Some(c) => replay::replay(c, &change, raw.as_deref(), known).await,
                None => match self.sessions.take(account).await {
                    Ok(c) => replay::replay(conn.insert(c), &change, raw.as_deref(), known).await,
                    Err(err) => Err(err),
                },
            };
            match outcome {
                Ok(replayed) => {
                    self.settle(&change, replayed)?;
                    report.applied += 1;
                }
                Err(err) if plan::classify(&err) == Disposition::RetryLater => {
                    tracing::info!(change = change.id, %err, "change kept for later");
                    self.store.change_retry_later(
                        change.id,
                        &err.message,
                        plan::next_attempt(now, change.attempts),
                    )?;
                    report.offline = Some(err.message);
                    conn = None;
                    break;
                }
                Err(err) => {
                    tracing::info!(change = change.id, %err, "change refused; reverted");
                    let failed = self.fail(&change, &err.message)?;
                    report.failed += failed.len() as u32;
                    for id in failed {
                        self.events.emit(Event::ChangeFailed {
                            account: account.name.clone(),
                            change_id: id,
                            kind: change.op.kind(),
                            message: err.message.clone(),
                            advice: err.advice(),
                        });
                    }
                    let messages: Vec<i64> = change.op.message().into_iter().collect();
                    self.after_local_change(&[account.id], &messages, true);
                }
            }
        }
        if let Some(conn) = conn {
            self.sessions.keep(account.id, conn);
        }
        report.pending = self.store.pending_count(account.id)?;
        self.store.sweep_blobs()?;
        if report.applied > 0 {
            self.events.emit(Event::ChangesApplied {
                account: account.name.clone(),
                applied: report.applied,
            });
        }
        Ok(report)
    }

    /// What this device knows that helps the change find its way on the server.
    fn known_for(&self, change: &QueuedChange) -> Result<replay::Known> {
        let Operation::Move(op) = &change.op else {
            return Ok(replay::Known::default());
        };
        Ok(replay::Known {
            target_uidvalidity: self
                .store
                .folder_uidvalidity(change.account_id, &op.to)?
                .filter(|v| *v != 0),
            folders: self
                .store
                .folder_sync_states(change.account_id)?
                .into_iter()
                .map(|f| f.remote_name)
                .collect(),
        })
    }

    /// The server applied the change.
    fn settle(&self, change: &QueuedChange, replayed: Replayed) -> Result<()> {
        self.store.write(|tx| {
            changes::remove(tx, change.id)?;
            match replayed {
                Replayed::Done => {}
                Replayed::FoundAt(folder, uidvalidity, uid) => {
                    // Another client had moved the message: it is there now, here too.
                    let (Some(message), Some(folder_id)) = (
                        change.op.message(),
                        local::folder_id_by_remote(tx, change.account_id, &folder)?,
                    ) else {
                        return Ok(());
                    };
                    local::restore_location(tx, message, folder_id, uidvalidity, Some(uid))?;
                    changes::set_source_of_pending(tx, message, &folder, uidvalidity, uid)?;
                }
                Replayed::FolderCreated(uidvalidity) => {
                    if let Operation::CreateFolder(op) = &change.op {
                        local::set_new_folder_uidvalidity(
                            tx,
                            change.account_id,
                            &op.name,
                            uidvalidity,
                        )?;
                    }
                }
                Replayed::MovedTo(folder, uidvalidity, uid) => {
                    let Some(message) = change.op.message() else {
                        return Ok(());
                    };
                    if let Operation::Move(op) = &change.op {
                        if folder != op.to {
                            // The target was renamed on another device: so it is here.
                            follow_rename(tx, change.account_id, &op.to, &folder)?;
                        }
                    }
                    // Later changes of the message start from where it is now; its
                    // location learns its UID unless a later change moves it on.
                    changes::set_source_of_pending(tx, message, &folder, uidvalidity, uid)?;
                    let later = changes::pending_after(tx, message, change.id)?;
                    let moves_on = later.iter().any(|row| {
                        QueuedChange::from_row(row).is_ok_and(|c| c.op.relocates_message())
                    });
                    if !moves_on {
                        if let Some(folder_id) =
                            local::folder_id_by_remote(tx, change.account_id, &folder)?
                        {
                            local::settle_location(tx, message, folder_id, uidvalidity, uid)?;
                        }
                    }
                }
            }
            Ok(())
        })
    }

    /// The server refused the change for good: revert it and everything that depends on
    /// it, newest first, and keep them as failed. Returns the ids that failed.
    fn fail(&self, change: &QueuedChange, error: &str) -> Result<Vec<i64>> {
        self.store.write(|tx| {
            let pending = changes::pending_graph(tx, change.account_id)?;
            let order = plan::revert_order(&pending, change.id);
            for id in &order {
                let Some(row) = changes::row(tx, *id)? else {
                    continue;
                };
                let falling = QueuedChange::from_row(&row)?;
                falling.op.revert(tx, falling.account_id)?;
                let reason = if *id == change.id {
                    error.to_owned()
                } else {
                    format!("an earlier change it depends on failed: {error}")
                };
                changes::set_failed(tx, *id, &reason)?;
            }
            Ok(order)
        })
    }
}

/// A folder renamed on another device (learnt by a change that followed it): renamed
/// here too, and the pending changes that name it name the new one.
fn follow_rename(tx: &Transaction<'_>, account_id: i64, old: &str, new: &str) -> Result<()> {
    if local::folder_id_by_remote(tx, account_id, new)?.is_none() {
        if let Some((folder_id, _, delimiter)) = local::folder_by_remote(tx, account_id, old)? {
            local::rename_folder_tree(tx, account_id, folder_id, old, new, &delimiter)?;
        }
    }
    changes::rename_folder_in_pending(tx, account_id, old, new)
}

/// A change as the queue holds it: its operation and its place in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedChange {
    pub id: i64,
    pub account_id: i64,
    pub op: Operation,
    pub depends_on: Option<i64>,
    pub attempts: u32,
}

impl QueuedChange {
    pub fn from_row(row: &ChangeRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            account_id: row.account_id,
            op: Operation::from_row(row)?,
            depends_on: row.depends_on,
            attempts: row.attempts,
        })
    }

    /// The row for a new change.
    pub fn new_row(account_id: i64, op: &Operation, depends_on: Option<i64>) -> ChangeRow {
        ChangeRow {
            account_id,
            depends_on,
            ..op.row()
        }
    }
}

#[cfg(test)]
mod tests;
