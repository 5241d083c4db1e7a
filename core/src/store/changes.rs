//! The change queue's storage. Each user action changes the local state and records the
//! change in one transaction; replay outcomes (done, later, failed-and-reverted) are
//! transactions too.

use std::collections::HashSet;

use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::Store;
use crate::error::{Error, ErrorKind, Result};
use crate::imap::utf7;
use crate::model::{ChangeKind, ChangeState, FolderRole, PendingChange};
use crate::queue::plan;

/// A queued change with everything the replay needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedChange {
    pub id: i64,
    pub account_id: i64,
    pub kind: ChangeKind,
    pub message_id: Option<i64>,
    pub source_folder: String,
    pub source_uidvalidity: u32,
    /// 0 while an earlier move of the same message has not reached the server.
    pub source_uid: u32,
    pub message_id_header: String,
    pub target: String,
    pub add_flags: u8,
    pub remove_flags: u8,
    pub depends_on: Option<i64>,
    pub attempts: u32,
}

const CHANGE_COLUMNS: &str =
    "id, account_id, kind, message_id, source_folder, source_uidvalidity, source_uid,
    message_id_header, target, add_flags, remove_flags, depends_on, attempts";

fn change_from_row(row: &Row<'_>) -> rusqlite::Result<QueuedChange> {
    let kind: String = row.get(2)?;
    Ok(QueuedChange {
        id: row.get(0)?,
        account_id: row.get(1)?,
        kind: ChangeKind::parse(&kind).unwrap_or(ChangeKind::Flags),
        message_id: row.get(3)?,
        source_folder: row.get(4)?,
        source_uidvalidity: row.get(5)?,
        source_uid: row.get(6)?,
        message_id_header: row.get(7)?,
        target: row.get(8)?,
        add_flags: row.get(9)?,
        remove_flags: row.get(10)?,
        depends_on: row.get(11)?,
        attempts: row.get(12)?,
    })
}

/// Where a message is (or will be) on the server, as far as this device knows.
struct Position {
    account_id: i64,
    location_id: i64,
    folder_id: i64,
    folder: String,
    uidvalidity: u32,
    uid: u32,
    message_id_header: String,
    flags: u8,
}

fn position(tx: &Transaction<'_>, message_id: i64) -> Result<Position> {
    tx.query_row(
        "SELECT m.account_id, l.id, f.id, f.remote_name, l.uidvalidity, ifnull(l.uid, 0), m.message_id,
                m.seen | (m.flagged << 1) | (m.answered << 2) | (m.forwarded << 3) | (m.draft << 4)
         FROM message m JOIN location l ON l.message_id = m.id JOIN folder f ON f.id = l.folder_id
         WHERE m.id = ?1 ORDER BY l.uid IS NULL LIMIT 1",
        [message_id],
        |r| {
            Ok(Position {
                account_id: r.get(0)?,
                location_id: r.get(1)?,
                folder_id: r.get(2)?,
                folder: r.get(3)?,
                uidvalidity: r.get(4)?,
                uid: r.get(5)?,
                message_id_header: r.get(6)?,
                flags: r.get(7)?,
            })
        },
    )
    .optional()?
    .ok_or_else(|| Error::not_found(format!("message {message_id}")))
}

/// The newest pending change of a message, which a new change must wait for.
fn last_pending_for_message(tx: &Transaction<'_>, message_id: i64) -> Result<Option<i64>> {
    Ok(tx
        .query_row(
            "SELECT max(id) FROM change WHERE message_id = ?1 AND state = 'pending'",
            [message_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

/// The pending creation (or rename) that brings a folder into being on the server.
fn pending_folder_change(
    tx: &Transaction<'_>,
    account_id: i64,
    remote: &str,
) -> Result<Option<i64>> {
    Ok(tx
        .query_row(
            "SELECT max(id) FROM change WHERE account_id = ?1 AND state = 'pending'
               AND kind IN ('create_folder', 'rename_folder') AND target = ?2",
            params![account_id, remote],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

#[allow(clippy::too_many_arguments)]
fn insert_change(
    tx: &Transaction<'_>,
    account_id: i64,
    kind: ChangeKind,
    message_id: Option<i64>,
    source: (&str, u32, u32),
    message_id_header: &str,
    target: &str,
    flags: (u8, u8),
    depends_on: Option<i64>,
) -> Result<i64> {
    // POP3 accounts keep folders, flags and drafts on this device only: nothing to send.
    let local_only: bool = tx
        .prepare_cached("SELECT protocol = 'pop3' FROM account WHERE id = ?1")?
        .query_row([account_id], |r| r.get(0))?;
    if local_only {
        return Ok(0);
    }
    tx.execute(
        "INSERT INTO change (account_id, kind, message_id, source_folder, source_uidvalidity, source_uid,
                             message_id_header, target, add_flags, remove_flags, depends_on)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            account_id,
            kind.as_str(),
            message_id,
            source.0,
            source.1,
            source.2,
            message_id_header,
            target,
            flags.0,
            flags.1,
            depends_on
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

fn set_flags(tx: &Transaction<'_>, message_id: i64, mask: u8) -> Result<()> {
    tx.execute(
        "UPDATE message SET seen = ?2, flagged = ?3, answered = ?4, forwarded = ?5, draft = ?6 WHERE id = ?1",
        params![
            message_id,
            mask & plan::SEEN != 0,
            mask & plan::FLAGGED != 0,
            mask & plan::ANSWERED != 0,
            mask & plan::FORWARDED != 0,
            mask & plan::DRAFT != 0
        ],
    )?;
    Ok(())
}

/// Removes a message here and queues its expunge; returns its account.
fn expunge_here(tx: &Transaction<'_>, message_id: i64) -> Result<i64> {
    let pos = position(tx, message_id)?;
    let depends_on = last_pending_for_message(tx, message_id)?;
    insert_change(
        tx,
        pos.account_id,
        ChangeKind::Expunge,
        Some(message_id),
        (&pos.folder, pos.uidvalidity, pos.uid),
        &pos.message_id_header,
        "",
        (0, 0),
        depends_on,
    )?;
    tx.execute("DELETE FROM location WHERE message_id = ?1", [message_id])?;
    Ok(pos.account_id)
}

/// (account, server name) of a folder.
fn folder_account_and_name(tx: &Transaction<'_>, folder_id: i64) -> Result<(i64, String)> {
    tx.query_row(
        "SELECT account_id, remote_name FROM folder WHERE id = ?1",
        [folder_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()?
    .ok_or_else(|| Error::not_found(format!("folder {folder_id}")))
}

fn folder_id_by_remote(tx: &Transaction<'_>, account_id: i64, remote: &str) -> Result<Option<i64>> {
    Ok(tx
        .query_row(
            "SELECT id FROM folder WHERE account_id = ?1 AND remote_name = ?2",
            params![account_id, remote],
            |r| r.get(0),
        )
        .optional()?)
}

fn describe(c: &QueuedChange) -> String {
    let msg = c.message_id.map(|m| m.to_string()).unwrap_or_default();
    let names = |mask: u8| {
        plan::imap_names(mask)
            .iter()
            .map(|n| n.trim_start_matches(['\\', '$']).to_ascii_lowercase())
            .collect::<Vec<_>>()
    };
    match c.kind {
        ChangeKind::Flags => {
            let mut parts: Vec<String> = names(c.add_flags)
                .into_iter()
                .map(|n| format!("+{n}"))
                .collect();
            parts.extend(names(c.remove_flags).into_iter().map(|n| format!("-{n}")));
            format!("message {msg}: {}", parts.join(" "))
        }
        ChangeKind::Move => format!("message {msg} to {}", utf7::decode(&c.target)),
        ChangeKind::Expunge => format!("message {msg} from {}", utf7::decode(&c.source_folder)),
        ChangeKind::CreateFolder | ChangeKind::DeleteFolder => utf7::decode(&c.target),
        ChangeKind::RenameFolder => format!(
            "{} to {}",
            utf7::decode(&c.source_folder),
            utf7::decode(&c.target)
        ),
        ChangeKind::Append => format!("message {msg} to {}", utf7::decode(&c.target)),
    }
}

impl Store {
    /// Changes flags here and queues them for the server. Returns the accounts touched.
    pub fn queue_flags(&self, message_ids: &[i64], add: u8, remove: u8) -> Result<Vec<i64>> {
        self.write(|tx| queue_flags_in(tx, message_ids, add, remove))
    }

    /// Moves messages here at once and queues the moves, all in one transaction. Each
    /// pair is (message, target folder of the same account).
    pub fn queue_moves(&self, moves: &[(i64, i64)]) -> Result<Vec<i64>> {
        self.write(|tx| {
            let mut accounts = Vec::new();
            for &(id, target_folder_id) in moves {
                let (target_account, target) = folder_account_and_name(tx, target_folder_id)?;
                let pos = position(tx, id)?;
                if pos.account_id != target_account {
                    return Err(Error::invalid(format!(
                        "message {id} belongs to another account than the target folder"
                    )));
                }
                if pos.folder_id == target_folder_id {
                    continue;
                }
                let depends_on = pending_folder_change(tx, pos.account_id, &target)?
                    .into_iter()
                    .chain(last_pending_for_message(tx, id)?)
                    .max();
                insert_change(
                    tx,
                    pos.account_id,
                    ChangeKind::Move,
                    Some(id),
                    (&pos.folder, pos.uidvalidity, pos.uid),
                    &pos.message_id_header,
                    &target,
                    (0, 0),
                    depends_on,
                )?;
                tx.execute(
                    "UPDATE location SET folder_id = ?2, uidvalidity = 0, uid = NULL, modseq = 0 WHERE id = ?1",
                    params![pos.location_id, target_folder_id],
                )?;
                accounts.push(pos.account_id);
            }
            accounts.dedup();
            Ok(accounts)
        })
    }

    /// Removes messages here for good and queues their expunge.
    pub fn queue_expunge(&self, message_ids: &[i64]) -> Result<Vec<i64>> {
        self.write(|tx| {
            let mut accounts = Vec::new();
            for &id in message_ids {
                accounts.push(expunge_here(tx, id)?);
            }
            accounts.dedup();
            Ok(accounts)
        })
    }

    /// The folder of a message and that folder's role.
    pub fn message_folder_role(&self, message_id: i64) -> Result<(i64, Option<FolderRole>)> {
        self.read(|conn| {
            let (account_id, role): (i64, String) = conn
                .query_row(
                    "SELECT f.account_id, f.role FROM location l JOIN folder f ON f.id = l.folder_id
                     WHERE l.message_id = ?1 LIMIT 1",
                    [message_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
                .ok_or_else(|| Error::not_found(format!("message {message_id}")))?;
            Ok((account_id, FolderRole::parse(&role)))
        })
    }

    pub fn folder_by_role(&self, account_id: i64, role: FolderRole) -> Result<Option<i64>> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT id FROM folder WHERE account_id = ?1 AND role = ?2 ORDER BY id LIMIT 1",
                    params![account_id, role.as_str()],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }

    /// Creates a folder here and queues its creation on the server.
    pub fn queue_create_folder(&self, account_id: i64, name: &str, delimiter: &str) -> Result<i64> {
        let remote = utf7::encode(name);
        self.write(|tx| {
            if folder_id_by_remote(tx, account_id, &remote)?.is_some() {
                return Err(Error::new(
                    ErrorKind::AlreadyExists,
                    format!("folder '{name}' already exists"),
                ));
            }
            tx.execute(
                "INSERT INTO folder (account_id, remote_name, name, delimiter) VALUES (?1, ?2, ?3, ?4)",
                params![account_id, remote, name, delimiter],
            )?;
            let folder_id = tx.last_insert_rowid();
            insert_change(tx, account_id, ChangeKind::CreateFolder, None, ("", 0, 0), "", &remote, (0, 0), None)?;
            Ok(folder_id)
        })
    }

    /// Renames a folder (and its subfolders) here and queues the rename.
    pub fn queue_rename_folder(&self, account_id: i64, old: &str, new: &str) -> Result<()> {
        let (old_remote, new_remote) = (utf7::encode(old), utf7::encode(new));
        self.write(|tx| {
            let (folder_id, role, delimiter): (i64, String, String) = tx
                .query_row(
                    "SELECT id, role, delimiter FROM folder WHERE account_id = ?1 AND remote_name = ?2",
                    params![account_id, old_remote],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?
                .ok_or_else(|| Error::not_found(format!("folder '{old}'")))?;
            if role == FolderRole::Inbox.as_str() {
                return Err(Error::invalid("the Inbox cannot be renamed"));
            }
            if folder_id_by_remote(tx, account_id, &new_remote)?.is_some() {
                return Err(Error::new(
                    ErrorKind::AlreadyExists,
                    format!("folder '{new}' already exists"),
                ));
            }
            rename_local(tx, account_id, folder_id, &old_remote, &new_remote, &delimiter)?;
            let depends_on = pending_folder_change(tx, account_id, &old_remote)?;
            insert_change(tx, account_id, ChangeKind::RenameFolder, None, (&old_remote, 0, 0), "", &new_remote, (0, 0), depends_on)?;
            Ok(())
        })
    }

    /// Deletes a folder and its messages here and queues the deletion.
    pub fn queue_delete_folder(&self, account_id: i64, name: &str) -> Result<()> {
        let remote = utf7::encode(name);
        self.write(|tx| {
            let (folder_id, role): (i64, String) = tx
                .query_row(
                    "SELECT id, role FROM folder WHERE account_id = ?1 AND remote_name = ?2",
                    params![account_id, remote],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
                .ok_or_else(|| Error::not_found(format!("folder '{name}'")))?;
            if role == FolderRole::Inbox.as_str() {
                return Err(Error::invalid("the Inbox cannot be deleted"));
            }
            let depends_on = pending_folder_change(tx, account_id, &remote)?;
            tx.execute("DELETE FROM location WHERE folder_id = ?1", [folder_id])?;
            tx.execute("DELETE FROM folder WHERE id = ?1", [folder_id])?;
            insert_change(
                tx,
                account_id,
                ChangeKind::DeleteFolder,
                None,
                ("", 0, 0),
                "",
                &remote,
                (0, 0),
                depends_on,
            )?;
            Ok(())
        })
    }

    /// Saves a message into a folder here (a draft) and queues its upload; `replaces`
    /// (an older version) is removed, here and then on the server. Returns the new id.
    pub fn queue_append(
        &self,
        folder_id: i64,
        raw: &[u8],
        flags: u8,
        replaces: Option<i64>,
    ) -> Result<i64> {
        self.write(|tx| self.queue_append_in(tx, folder_id, raw, flags, replaces))
    }

    /// `queue_append` inside a caller's transaction.
    pub(super) fn queue_append_in(
        &self,
        tx: &Transaction<'_>,
        folder_id: i64,
        raw: &[u8],
        flags: u8,
        replaces: Option<i64>,
    ) -> Result<i64> {
        let headers = crate::mime::parse_headers(raw);
        let body = crate::mime::parse_body(raw);
        let (account_id, remote) = folder_account_and_name(tx, folder_id)?;
        let now = chrono::Utc::now().timestamp();
        let message_id_header = headers.message_id.clone();
        let record = super::HeaderRecord {
            flags: plan::from_mask(flags, false),
            size: raw.len() as u32,
            internal_date: now,
            has_attachments: !body.attachments.is_empty(),
            ..super::HeaderRecord::from_headers(headers)
        };
        let mut search = super::messages::InsertBatch::default();
        let id = super::messages::insert_message(tx, account_id, &record, &mut search)?;
        tx.execute(
            "INSERT INTO location (message_id, folder_id, sort_date) VALUES (?1, ?2, ?3)",
            params![id, folder_id, record.date.unwrap_or(now)],
        )?;
        // Written durably: until the upload, this is the only copy.
        self.blobs.write_durable(id, raw)?;
        super::messages::store_body(tx, id, &body, &mut search)?;
        search.write(tx)?;
        insert_change(
            tx,
            account_id,
            ChangeKind::Append,
            Some(id),
            ("", 0, 0),
            &message_id_header,
            &remote,
            (flags, 0),
            None,
        )?;
        if let Some(old) = replaces {
            expunge_here(tx, old)?;
        }
        Ok(id)
    }

    /// The oldest pending change of an account and when it is due. Changes replay
    /// strictly in order: a change that must wait holds back the ones after it.
    pub fn next_change(&self, account_id: i64) -> Result<Option<(QueuedChange, i64)>> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {CHANGE_COLUMNS}, next_attempt FROM change
                         WHERE account_id = ?1 AND state = 'pending'
                         ORDER BY id LIMIT 1"
                    ),
                    [account_id],
                    |r| Ok((change_from_row(r)?, r.get(13)?)),
                )
                .optional()?)
        })
    }

    /// Takes the change for one replayer until `until`; false if another (say, a second
    /// process on the same data directory) holds it.
    pub fn lease_change(&self, id: i64, now: i64, until: i64) -> Result<bool> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE change SET lease_until = ?3 WHERE id = ?1 AND state = 'pending' AND lease_until <= ?2",
                params![id, now, until],
            )?;
            Ok(n == 1)
        })
    }

    /// The message is no longer on the server: drop the change, the message's local-only
    /// copy, and its later changes, which have nothing left to act on.
    pub fn change_gone(&self, change: &QueuedChange) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM change WHERE id = ?1", [change.id])?;
            if let Some(message_id) = change.message_id {
                tx.execute(
                    "DELETE FROM change WHERE message_id = ?1 AND state = 'pending'",
                    [message_id],
                )?;
                tx.execute(
                    "DELETE FROM location WHERE message_id = ?1 AND uid IS NULL",
                    [message_id],
                )?;
            }
            Ok(())
        })
    }

    pub fn pending_count(&self, account_id: i64) -> Result<u32> {
        self.read(|conn| {
            Ok(conn.query_row(
                "SELECT count(*) FROM change WHERE account_id = ?1 AND state = 'pending'",
                [account_id],
                |r| r.get(0),
            )?)
        })
    }

    /// When the account's oldest pending change is due (None: nothing pending).
    pub fn next_due(&self, account_id: i64) -> Result<Option<i64>> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT next_attempt FROM change WHERE account_id = ?1 AND state = 'pending'
                     ORDER BY id LIMIT 1",
                    [account_id],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }

    /// The server applied the change. A move hands the message's new server position on
    /// to later changes of the same message, or to its location if none is left.
    pub fn change_done(
        &self,
        change: &QueuedChange,
        new_position: Option<(&str, u32, u32)>,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM change WHERE id = ?1", [change.id])?;
            let (Some(message_id), Some((folder, uidvalidity, uid))) = (change.message_id, new_position) else {
                return Ok(());
            };
            tx.execute(
                "UPDATE change SET source_folder = ?2, source_uidvalidity = ?3, source_uid = ?4
                 WHERE message_id = ?1 AND state = 'pending' AND kind IN ('flags', 'move', 'expunge')",
                params![message_id, folder, uidvalidity, uid],
            )?;
            let later_move: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM change WHERE message_id = ?1 AND state = 'pending' AND kind IN ('move', 'expunge'))",
                [message_id],
                |r| r.get(0),
            )?;
            if !later_move {
                // The location waits (uid NULL) in the target folder: give it its UID,
                // unless a sync has already found it there.
                if let Some(folder_id) = folder_id_by_remote(tx, change.account_id, folder)? {
                    tx.execute(
                        "UPDATE location SET uidvalidity = ?3, uid = ?4
                         WHERE message_id = ?1 AND folder_id = ?2 AND uid IS NULL
                           AND NOT EXISTS (SELECT 1 FROM location WHERE folder_id = ?2 AND uidvalidity = ?3 AND uid = ?4)",
                        params![message_id, folder_id, uidvalidity, uid],
                    )?;
                }
            }
            Ok(())
        })
    }

    /// The server could not be reached: keep the change and try again later.
    pub fn change_retry_later(&self, id: i64, error: &str, next_attempt: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE change SET attempts = attempts + 1, last_error = ?2, next_attempt = ?3, lease_until = 0
                 WHERE id = ?1",
                params![id, error, next_attempt],
            )?;
            Ok(())
        })
    }

    /// The server refused the change for good: revert it and everything that depends on
    /// it, newest first, and keep them as failed. Returns the ids that failed.
    pub fn change_failed(&self, change: &QueuedChange, error: &str) -> Result<Vec<i64>> {
        self.write(|tx| {
            let pending: Vec<(i64, Option<i64>)> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT id, depends_on FROM change WHERE account_id = ?1 AND state = 'pending'",
                )?;
                let rows = stmt.query_map([change.account_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let order = plan::revert_order(&pending, change.id);
            for id in &order {
                let c = tx.query_row(
                    &format!("SELECT {CHANGE_COLUMNS} FROM change WHERE id = ?1"),
                    [id],
                    change_from_row,
                )?;
                revert(tx, &c)?;
                let reason = if *id == change.id {
                    error.to_owned()
                } else {
                    format!("an earlier change it depends on failed: {error}")
                };
                tx.execute(
                    "UPDATE change SET state = 'failed', attempts = attempts + 1, last_error = ?2, lease_until = 0
                     WHERE id = ?1",
                    params![id, reason],
                )?;
            }
            Ok(order)
        })
    }

    /// Pending and failed changes, oldest first.
    pub fn changes(&self, account_id: Option<i64>) -> Result<Vec<PendingChange>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT c.*, a.name FROM
                   (SELECT {CHANGE_COLUMNS}, state, last_error FROM change
                    WHERE ?1 IS NULL OR account_id = ?1) c
                 JOIN account a ON a.id = c.account_id ORDER BY c.id"
            ))?;
            let rows = stmt.query_map([account_id], |r| {
                let change = change_from_row(r)?;
                let state: String = r.get(13)?;
                Ok(PendingChange {
                    id: change.id,
                    account: r.get(15)?,
                    kind: change.kind,
                    message_id: change.message_id,
                    target: describe(&change),
                    state: if state == "failed" {
                        ChangeState::Failed
                    } else {
                        ChangeState::Pending
                    },
                    attempts: change.attempts,
                    last_error: r.get(14)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Applies a failed change here again and queues it anew. Returns its account.
    pub fn retry_change(&self, id: i64) -> Result<i64> {
        self.write(|tx| {
            let c = tx
                .query_row(
                    &format!("SELECT {CHANGE_COLUMNS} FROM change WHERE id = ?1 AND state = 'failed'"),
                    [id],
                    change_from_row,
                )
                .optional()?
                .ok_or_else(|| Error::not_found(format!("failed change {id}")))?;
            reapply(tx, &c)?;
            tx.execute(
                "UPDATE change SET state = 'pending', attempts = 0, next_attempt = 0, last_error = '' WHERE id = ?1",
                [id],
            )?;
            Ok(c.account_id)
        })
    }

    /// Forgets a failed change (it was already reverted here).
    pub fn discard_change(&self, id: i64) -> Result<()> {
        self.write(|tx| {
            let n = tx.execute(
                "DELETE FROM change WHERE id = ?1 AND state = 'failed'",
                [id],
            )?;
            if n == 0 {
                return Err(Error::not_found(format!("failed change {id}")));
            }
            Ok(())
        })
    }

    /// UIDs in a folder that pending changes refer to: a sync must leave them alone.
    pub fn protected_uids(
        &self,
        account_id: i64,
        folder: &str,
        uidvalidity: u32,
    ) -> Result<HashSet<u32>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT source_uid FROM change WHERE account_id = ?1 AND state = 'pending'
                   AND source_folder = ?2 AND source_uidvalidity = ?3 AND source_uid != 0
                   AND kind IN ('flags', 'move', 'expunge')",
            )?;
            let rows = stmt.query_map(params![account_id, folder, uidvalidity], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<HashSet<u32>>>()?)
        })
    }

    /// Server folder names that pending folder changes will make disappear or appear:
    /// a folder listing must not undo them.
    pub fn pending_folder_names(
        &self,
        account_id: i64,
    ) -> Result<(HashSet<String>, HashSet<String>)> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT kind, source_folder, target FROM change WHERE account_id = ?1 AND state = 'pending'
                   AND kind IN ('create_folder', 'rename_folder', 'delete_folder')",
            )?;
            let mut coming = HashSet::new();
            let mut going = HashSet::new();
            let rows = stmt.query_map([account_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
            })?;
            for row in rows {
                let (kind, source, target) = row?;
                match kind.as_str() {
                    "create_folder" => {
                        coming.insert(target);
                    }
                    "rename_folder" => {
                        going.insert(source);
                        coming.insert(target);
                    }
                    _ => {
                        going.insert(target);
                    }
                }
            }
            Ok((coming, going))
        })
    }
}

/// `Store::queue_flags` inside a caller's transaction.
pub(super) fn queue_flags_in(
    tx: &Transaction<'_>,
    message_ids: &[i64],
    add: u8,
    remove: u8,
) -> Result<Vec<i64>> {
    let mut accounts = Vec::new();
    for &id in message_ids {
        let pos = position(tx, id)?;
        let Some((add, remove)) = plan::effective(pos.flags, add, remove) else {
            continue;
        };
        set_flags(tx, id, (pos.flags | add) & !remove)?;
        let depends_on = last_pending_for_message(tx, id)?;
        insert_change(
            tx,
            pos.account_id,
            ChangeKind::Flags,
            Some(id),
            (&pos.folder, pos.uidvalidity, pos.uid),
            &pos.message_id_header,
            "",
            (add, remove),
            depends_on,
        )?;
        accounts.push(pos.account_id);
    }
    accounts.dedup();
    Ok(accounts)
}

fn rename_local(
    tx: &Transaction<'_>,
    account_id: i64,
    folder_id: i64,
    old_remote: &str,
    new_remote: &str,
    delimiter: &str,
) -> Result<()> {
    tx.execute(
        "UPDATE folder SET remote_name = ?2, name = ?3 WHERE id = ?1",
        params![folder_id, new_remote, utf7::decode(new_remote)],
    )?;
    if delimiter.is_empty() {
        return Ok(());
    }
    // Subfolders move along with their parent.
    let prefix = format!("{old_remote}{delimiter}");
    let children: Vec<(i64, String)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT id, remote_name FROM folder WHERE account_id = ?1 AND substr(remote_name, 1, length(?2)) = ?2",
        )?;
        let rows = stmt.query_map(params![account_id, prefix], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (id, remote) in children {
        let renamed = format!("{new_remote}{delimiter}{}", &remote[prefix.len()..]);
        tx.execute(
            "UPDATE folder SET remote_name = ?2, name = ?3 WHERE id = ?1",
            params![id, renamed, utf7::decode(&renamed)],
        )?;
    }
    Ok(())
}

/// Brings back a local folder row (empty; the next sync fills it).
fn restore_folder(tx: &Transaction<'_>, account_id: i64, remote: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO folder (account_id, remote_name, name) VALUES (?1, ?2, ?3)
         ON CONFLICT (account_id, remote_name) DO NOTHING",
        params![account_id, remote, utf7::decode(remote)],
    )?;
    Ok(())
}

/// Undoes the local effect of a change.
fn revert(tx: &Transaction<'_>, c: &QueuedChange) -> Result<()> {
    match c.kind {
        ChangeKind::Flags => {
            if let Some(id) = c.message_id {
                if let Ok(pos) = position(tx, id) {
                    set_flags(tx, id, (pos.flags & !c.add_flags) | c.remove_flags)?;
                }
            }
        }
        ChangeKind::Move => {
            if let (Some(id), Some(folder_id)) = (
                c.message_id,
                folder_id_by_remote(tx, c.account_id, &c.source_folder)?,
            ) {
                let uid = (c.source_uid != 0).then_some(c.source_uid);
                tx.execute(
                    "UPDATE location SET folder_id = ?2, uidvalidity = ?3, uid = ?4 WHERE message_id = ?1",
                    params![id, folder_id, c.source_uidvalidity, uid],
                )?;
            }
        }
        // The message is gone here but still on the server: the next sync brings it back
        // (its UID is no longer protected once the change has failed).
        ChangeKind::Expunge => {
            if let Some(folder_id) = folder_id_by_remote(tx, c.account_id, &c.source_folder)? {
                tx.execute("UPDATE folder SET complete = 0 WHERE id = ?1", [folder_id])?;
            }
        }
        ChangeKind::CreateFolder => {
            tx.execute(
                "DELETE FROM folder WHERE account_id = ?1 AND remote_name = ?2",
                params![c.account_id, c.target],
            )?;
        }
        ChangeKind::RenameFolder => {
            if let Some((folder_id, delimiter)) = tx
                .query_row(
                    "SELECT id, delimiter FROM folder WHERE account_id = ?1 AND remote_name = ?2",
                    params![c.account_id, c.target],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
                )
                .optional()?
            {
                rename_local(
                    tx,
                    c.account_id,
                    folder_id,
                    &c.target,
                    &c.source_folder,
                    &delimiter,
                )?;
            }
        }
        ChangeKind::DeleteFolder => {
            restore_folder(tx, c.account_id, &c.target)?;
        }
        // The message stays here, local only, until a retry uploads it: nothing is lost.
        ChangeKind::Append => {}
    }
    Ok(())
}

/// Applies a failed change's local effect again, for a retry.
fn reapply(tx: &Transaction<'_>, c: &QueuedChange) -> Result<()> {
    match c.kind {
        ChangeKind::Flags => {
            if let Some(id) = c.message_id {
                let pos = position(tx, id)?;
                set_flags(tx, id, (pos.flags | c.add_flags) & !c.remove_flags)?;
            }
        }
        ChangeKind::Move => {
            let id = c
                .message_id
                .ok_or_else(|| Error::invalid("a move without a message"))?;
            let folder_id = folder_id_by_remote(tx, c.account_id, &c.target)?
                .ok_or_else(|| Error::not_found(format!("folder '{}'", utf7::decode(&c.target))))?;
            let pos = position(tx, id)?;
            tx.execute(
                "UPDATE change SET source_folder = ?2, source_uidvalidity = ?3, source_uid = ?4 WHERE id = ?1",
                params![c.id, pos.folder, pos.uidvalidity, pos.uid],
            )?;
            tx.execute(
                "UPDATE location SET folder_id = ?2, uidvalidity = 0, uid = NULL WHERE id = ?1",
                params![pos.location_id, folder_id],
            )?;
        }
        ChangeKind::Expunge => {
            if let Some(id) = c.message_id {
                tx.execute("DELETE FROM location WHERE message_id = ?1", [id])?;
            }
        }
        ChangeKind::CreateFolder => {
            restore_folder(tx, c.account_id, &c.target)?;
        }
        ChangeKind::RenameFolder => {
            let (folder_id, delimiter): (i64, String) = tx
                .query_row(
                    "SELECT id, delimiter FROM folder WHERE account_id = ?1 AND remote_name = ?2",
                    params![c.account_id, c.source_folder],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
                .ok_or_else(|| {
                    Error::not_found(format!("folder '{}'", utf7::decode(&c.source_folder)))
                })?;
            rename_local(
                tx,
                c.account_id,
                folder_id,
                &c.source_folder,
                &c.target,
                &delimiter,
            )?;
        }
        ChangeKind::DeleteFolder => {
            if let Some(folder_id) = folder_id_by_remote(tx, c.account_id, &c.target)? {
                tx.execute("DELETE FROM location WHERE folder_id = ?1", [folder_id])?;
                tx.execute("DELETE FROM folder WHERE id = ?1", [folder_id])?;
            }
        }
        ChangeKind::Append => {}
    }
    Ok(())
}
