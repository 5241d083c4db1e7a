//! The change queue's rows. The store keeps them and moves them between states; what a
//! kind of change means (its local effect, its undo, its wire form) is the queue's
//! (`queue::ops`). Rows say what the rest of the store needs to know in kind-free
//! columns: the flags they hold, the folders they make appear or disappear.

use std::collections::HashSet;

use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::Store;
use crate::error::{Error, Result};

/// A change as stored: the columns every kind shares, meaning what its kind says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangeRow {
    pub id: i64,
    pub account_id: i64,
    pub kind: String,
    pub message_id: Option<i64>,
    pub source_folder: String,
    pub source_uidvalidity: u32,
    pub source_uid: u32,
    pub message_id_header: String,
    pub target: String,
    pub add_flags: u8,
    pub remove_flags: u8,
    pub depends_on: Option<i64>,
    pub attempts: u32,
    pub holds_flags: bool,
    pub folder_appears: String,
    pub folder_disappears: String,
}

/// A row as the user's list of changes shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedChange {
    pub row: ChangeRow,
    pub account: String,
    pub failed: bool,
    pub last_error: String,
}

const COLUMNS: &str = "id, account_id, kind, message_id, source_folder, source_uidvalidity,
    source_uid, message_id_header, target, add_flags, remove_flags, depends_on, attempts,
    holds_flags, folder_appears, folder_disappears";

fn row_from(row: &Row<'_>) -> rusqlite::Result<ChangeRow> {
    Ok(ChangeRow {
        id: row.get(0)?,
        account_id: row.get(1)?,
        kind: row.get(2)?,
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
        holds_flags: super::flag(row.get(13)?),
        folder_appears: row.get(14)?,
        folder_disappears: row.get(15)?,
    })
}

/// Records a new pending change; returns its id.
pub fn insert(tx: &Transaction<'_>, row: &ChangeRow) -> Result<i64> {
    tx.prepare_cached(
        "INSERT INTO change (account_id, kind, message_id, source_folder, source_uidvalidity,
                             source_uid, message_id_header, target, add_flags, remove_flags,
                             depends_on, holds_flags, folder_appears, folder_disappears)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        row.account_id,
        row.kind,
        row.message_id,
        row.source_folder,
        row.source_uidvalidity,
        row.source_uid,
        row.message_id_header,
        row.target,
        row.add_flags,
        row.remove_flags,
        row.depends_on,
        row.holds_flags,
        row.folder_appears,
        row.folder_disappears,
    ])?;
    Ok(tx.last_insert_rowid())
}

pub fn row(tx: &Transaction<'_>, id: i64) -> Result<Option<ChangeRow>> {
    Ok(tx
        .query_row(
            &format!("SELECT {COLUMNS} FROM change WHERE id = ?1"),
            [id],
            row_from,
        )
        .optional()?)
}

pub fn failed_row(tx: &Transaction<'_>, id: i64) -> Result<ChangeRow> {
    tx.query_row(
        &format!("SELECT {COLUMNS} FROM change WHERE id = ?1 AND state = 'failed'"),
        [id],
        row_from,
    )
    .optional()?
    .ok_or_else(|| Error::not_found(format!("failed change {id}")))
}

/// The newest pending change of a message, which a new change must wait for.
pub fn last_pending_for_message(tx: &Transaction<'_>, message_id: i64) -> Result<Option<i64>> {
    Ok(tx
        .query_row(
            "SELECT max(id) FROM change WHERE message_id = ?1 AND state = 'pending'",
            [message_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

/// Pending changes of a message after `after`, oldest first.
pub fn pending_after(tx: &Transaction<'_>, message_id: i64, after: i64) -> Result<Vec<ChangeRow>> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM change WHERE message_id = ?1 AND state = 'pending' AND id > ?2
         ORDER BY id"
    ))?;
    let rows = stmt.query_map(params![message_id, after], row_from)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The pending change that brings a server folder into being (a creation or rename).
pub fn pending_appearance(
    tx: &Transaction<'_>,
    account_id: i64,
    remote: &str,
) -> Result<Option<i64>> {
    Ok(tx
        .query_row(
            "SELECT max(id) FROM change WHERE account_id = ?1 AND state = 'pending'
               AND folder_appears = ?2",
            params![account_id, remote],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

/// (id, depends_on) of an account's pending changes.
pub fn pending_graph(tx: &Transaction<'_>, account_id: i64) -> Result<Vec<(i64, Option<i64>)>> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, depends_on FROM change WHERE account_id = ?1 AND state = 'pending'",
    )?;
    let rows = stmt.query_map([account_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The account of a change that is still waiting.
pub fn pending_account(conn: &rusqlite::Connection, id: i64) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT account_id FROM change WHERE id = ?1 AND state = 'pending'",
            [id],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn remove(tx: &Transaction<'_>, id: i64) -> Result<()> {
    tx.execute("DELETE FROM change WHERE id = ?1", [id])?;
    Ok(())
}

/// Drops every pending change of a message (there is nothing left to act on).
pub fn remove_pending_of_message(tx: &Transaction<'_>, message_id: i64) -> Result<()> {
    tx.execute(
        "DELETE FROM change WHERE message_id = ?1 AND state = 'pending'",
        [message_id],
    )?;
    Ok(())
}

/// Where a message is on the server now, for its later pending changes.
pub fn set_source_of_pending(
    tx: &Transaction<'_>,
    message_id: i64,
    folder: &str,
    uidvalidity: u32,
    uid: u32,
) -> Result<()> {
    tx.execute(
        "UPDATE change SET source_folder = ?2, source_uidvalidity = ?3, source_uid = ?4
         WHERE message_id = ?1 AND state = 'pending' AND source_folder != ''",
        params![message_id, folder, uidvalidity, uid],
    )?;
    Ok(())
}

/// Where a change's message is now, before it is tried again.
pub fn set_source(
    tx: &Transaction<'_>,
    id: i64,
    folder: &str,
    uidvalidity: u32,
    uid: u32,
) -> Result<()> {
    tx.execute(
        "UPDATE change SET source_folder = ?2, source_uidvalidity = ?3, source_uid = ?4 WHERE id = ?1",
        params![id, folder, uidvalidity, uid],
    )?;
    Ok(())
}

/// The UIDs pending changes recorded in a folder can no longer be trusted: they find
/// their message by Message-ID instead.
pub fn forget_source_uids(tx: &Transaction<'_>, account_id: i64, folder: &str) -> Result<()> {
    tx.execute(
        "UPDATE change SET source_uid = 0
         WHERE account_id = ?1 AND state = 'pending' AND source_folder = ?2",
        params![account_id, folder],
    )?;
    Ok(())
}

/// Message-IDs of messages that pending changes take away from a folder (moved or
/// deleted here, not yet there): a listing of that folder must not bring them back.
pub fn leaving_folder(
    conn: &rusqlite::Connection,
    account_id: i64,
    folder_id: i64,
    remote_name: &str,
) -> Result<HashSet<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.message_id_header FROM change c
         WHERE c.account_id = ?1 AND c.state = 'pending' AND c.source_folder = ?3
           AND c.message_id IS NOT NULL AND c.message_id_header != ''
           AND NOT EXISTS (SELECT 1 FROM location l
                           WHERE l.message_id = c.message_id AND l.folder_id = ?2)",
    )?;
    let rows = stmt.query_map(params![account_id, folder_id, remote_name], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A folder was renamed on the server: pending changes name its new name.
pub fn rename_folder_in_pending(
    tx: &Transaction<'_>,
    account_id: i64,
    old: &str,
    new: &str,
) -> Result<()> {
    for column in [
        "source_folder",
        "target",
        "folder_appears",
        "folder_disappears",
    ] {
        tx.execute(
            &format!(
                "UPDATE change SET {column} = ?3 WHERE account_id = ?1 AND state = 'pending' AND {column} = ?2"
            ),
            params![account_id, old, new],
        )?;
    }
    Ok(())
}

/// Refused for good: kept, already reverted here, with the reason.
pub fn set_failed(tx: &Transaction<'_>, id: i64, reason: &str) -> Result<()> {
    tx.execute(
        "UPDATE change SET state = 'failed', attempts = attempts + 1, last_error = ?2
         WHERE id = ?1",
        params![id, reason],
    )?;
    Ok(())
}

/// A failed change queued anew.
pub fn set_pending_again(tx: &Transaction<'_>, id: i64) -> Result<()> {
    tx.execute(
        "UPDATE change SET state = 'pending', attempts = 0, next_attempt = 0, last_error = '' WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

/// Server folder names that pending changes will make appear and disappear: a folder
/// listing must not undo them.
pub fn pending_folder_names(
    conn: &rusqlite::Connection,
    account_id: i64,
) -> Result<(HashSet<String>, HashSet<String>)> {
    let mut stmt = conn.prepare_cached(
        "SELECT folder_appears, folder_disappears FROM change
         WHERE account_id = ?1 AND state = 'pending'
           AND (folder_appears != '' OR folder_disappears != '')",
    )?;
    let mut coming = HashSet::new();
    let mut going = HashSet::new();
    let rows = stmt.query_map([account_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (appears, disappears) = row?;
        if !appears.is_empty() {
            coming.insert(appears);
        }
        if !disappears.is_empty() {
            going.insert(disappears);
        }
    }
    Ok((coming, going))
}

impl Store {
    /// The oldest pending change of an account and when it is due. Changes replay
    /// strictly in order: a change that must wait holds back the ones after it.
    pub fn next_change(&self, account_id: i64) -> Result<Option<(ChangeRow, i64)>> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {COLUMNS}, next_attempt FROM change
                         WHERE account_id = ?1 AND state = 'pending'
                         ORDER BY id LIMIT 1"
                    ),
                    [account_id],
                    |r| Ok((row_from(r)?, r.get(16)?)),
                )
                .optional()?)
        })
    }

    /// The server could not be reached: keep the change and try again later.
    pub fn change_retry_later(&self, id: i64, error: &str, next_attempt: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE change SET attempts = attempts + 1, last_error = ?2, next_attempt = ?3
                 WHERE id = ?1",
                params![id, error, next_attempt],
            )?;
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

    /// Pending and failed changes, oldest first.
    pub fn listed_changes(&self, account_id: Option<i64>) -> Result<Vec<ListedChange>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT c.*, a.name FROM
                   (SELECT {COLUMNS}, state, last_error FROM change
                    WHERE ?1 IS NULL OR account_id = ?1) c
                 JOIN account a ON a.id = c.account_id ORDER BY c.id"
            ))?;
            let rows = stmt.query_map([account_id], |r| {
                Ok(ListedChange {
                    row: row_from(r)?,
                    failed: r.get::<_, String>(16)? == "failed",
                    last_error: r.get(17)?,
                    account: r.get(18)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The account a change belongs to.
    pub fn change_account(&self, id: i64) -> Result<i64> {
        self.read(|conn| {
            conn.query_row("SELECT account_id FROM change WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| Error::not_found(format!("change {id}")))
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

    /// Message-IDs pending changes take away from a folder (see [`leaving_folder`]).
    pub fn leaving_folder(
        &self,
        account_id: i64,
        folder_id: i64,
        remote_name: &str,
    ) -> Result<HashSet<String>> {
        self.read(|conn| leaving_folder(conn, account_id, folder_id, remote_name))
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
                   AND source_folder = ?2 AND source_uidvalidity = ?3 AND source_uid != 0",
            )?;
            let rows = stmt.query_map(params![account_id, folder, uidvalidity], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<HashSet<u32>>>()?)
        })
    }
}
