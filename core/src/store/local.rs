//! The local mail state as a user action changes it, one step at a time, inside the
//! caller's transaction: where a message is, its flags, its locations, folders. The
//! change queue composes these into operations (`queue::ops`) with their undo.

use rusqlite::{params, OptionalExtension, Transaction};

use super::messages::{insert_message, store_body};
use super::search::InsertBatch;
use super::Store;
use crate::error::{Error, Result};
use crate::mail::mailbox_name::Naming;
use crate::mail::{FlagSet, HeaderRecord, ParsedMessage};
use crate::model::{FolderRole, Protocol};

/// Where a message is (or will be) on the server, as far as this device knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub account_id: i64,
    pub location_id: i64,
    pub folder_id: i64,
    /// The folder's server name.
    pub folder: String,
    pub uidvalidity: u32,
    /// 0 while the message is not at a known UID there (an earlier move is pending).
    pub uid: u32,
    pub message_id_header: String,
    pub flags: FlagSet,
}

pub fn position(tx: &Transaction<'_>, message_id: i64) -> Result<Position> {
    tx.prepare_cached(
        "SELECT m.account_id, l.id, f.id, f.remote_name, l.uidvalidity, ifnull(l.uid, 0), m.message_id,
                m.seen | (m.flagged << 1) | (m.answered << 2) | (m.forwarded << 3) | (m.draft << 4)
         FROM message m JOIN location l ON l.message_id = m.id JOIN folder f ON f.id = l.folder_id
         WHERE m.id = ?1 ORDER BY l.uid IS NULL, f.role = 'all', l.id LIMIT 1",
    )?
    .query_row([message_id], |r| {
        Ok(Position {
            account_id: r.get(0)?,
            location_id: r.get(1)?,
            folder_id: r.get(2)?,
            folder: r.get(3)?,
            uidvalidity: r.get(4)?,
            uid: r.get(5)?,
            message_id_header: r.get(6)?,
            flags: FlagSet::from_bits_truncate(r.get(7)?),
        })
    })
    .optional()?
    .ok_or_else(|| Error::not_found(format!("message {message_id}")))
}

pub fn set_flags(tx: &Transaction<'_>, message_id: i64, flags: FlagSet) -> Result<()> {
    tx.prepare_cached(
        "UPDATE message SET seen = ?2, flagged = ?3, answered = ?4, forwarded = ?5, draft = ?6 WHERE id = ?1",
    )?
    .execute(params![
        message_id,
        flags.contains(FlagSet::SEEN),
        flags.contains(FlagSet::FLAGGED),
        flags.contains(FlagSet::ANSWERED),
        flags.contains(FlagSet::FORWARDED),
        flags.contains(FlagSet::DRAFT)
    ])?;
    Ok(())
}

/// Moves a location to another folder, where it waits without a UID until the server
/// says where the message landed.
pub fn relocate(tx: &Transaction<'_>, location_id: i64, folder_id: i64) -> Result<()> {
    tx.execute(
        "UPDATE location SET folder_id = ?2, uidvalidity = 0, uid = NULL, modseq = 0 WHERE id = ?1",
        params![location_id, folder_id],
    )?;
    Ok(())
}

/// Puts a message's locations back where they were.
pub fn restore_location(
    tx: &Transaction<'_>,
    message_id: i64,
    folder_id: i64,
    uidvalidity: u32,
    uid: Option<u32>,
) -> Result<()> {
    tx.execute(
        "UPDATE location SET folder_id = ?2, uidvalidity = ?3, uid = ?4 WHERE message_id = ?1",
        params![message_id, folder_id, uidvalidity, uid],
    )?;
    Ok(())
}

/// Removes a message from every folder here (the message row goes with its last location).
pub fn delete_locations(tx: &Transaction<'_>, message_id: i64) -> Result<()> {
    tx.execute("DELETE FROM location WHERE message_id = ?1", [message_id])?;
    Ok(())
}

/// Drops a location that exists only here (no UID yet).
pub fn delete_local_only_location(tx: &Transaction<'_>, message_id: i64) -> Result<()> {
    tx.execute(
        "DELETE FROM location WHERE message_id = ?1 AND uid IS NULL",
        [message_id],
    )?;
    Ok(())
}

/// Gives the location waiting (without UID) in `folder_id` its server UID, unless a sync
/// has already found the message there.
pub fn settle_location(
    tx: &Transaction<'_>,
    message_id: i64,
    folder_id: i64,
    uidvalidity: u32,
    uid: u32,
) -> Result<()> {
    tx.execute(
        "UPDATE location SET uidvalidity = ?3, uid = ?4
         WHERE message_id = ?1 AND folder_id = ?2 AND uid IS NULL
           AND NOT EXISTS (SELECT 1 FROM location WHERE folder_id = ?2 AND uidvalidity = ?3 AND uid = ?4)",
        params![message_id, folder_id, uidvalidity, uid],
    )?;
    Ok(())
}

/// The next sync lists the folder in full (messages removed here come back).
pub fn mark_folder_incomplete(tx: &Transaction<'_>, folder_id: i64) -> Result<()> {
    tx.execute("UPDATE folder SET complete = 0 WHERE id = ?1", [folder_id])?;
    Ok(())
}

/// (account, server name) of a folder.
pub fn folder_account_and_name(tx: &Transaction<'_>, folder_id: i64) -> Result<(i64, String)> {
    tx.query_row(
        "SELECT account_id, remote_name FROM folder WHERE id = ?1",
        [folder_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()?
    .ok_or_else(|| Error::not_found(format!("folder {folder_id}")))
}

/// Whether a folder can hold messages (a `\Noselect` container cannot).
pub fn folder_selectable(tx: &Transaction<'_>, folder_id: i64) -> Result<bool> {
    Ok(tx
        .query_row(
            "SELECT selectable FROM folder WHERE id = ?1",
            [folder_id],
            |r| r.get::<_, bool>(0),
        )
        .optional()?
        .unwrap_or(false))
}

/// A folder by its server name: (id, role, delimiter).
pub fn folder_by_remote(
    tx: &Transaction<'_>,
    account_id: i64,
    remote: &str,
) -> Result<Option<(i64, Option<FolderRole>, String)>> {
    Ok(tx
        .query_row(
            "SELECT id, role, delimiter FROM folder WHERE account_id = ?1 AND remote_name = ?2",
            params![account_id, remote],
            |r| {
                Ok((
                    r.get(0)?,
                    FolderRole::parse(&r.get::<_, String>(1)?),
                    r.get(2)?,
                ))
            },
        )
        .optional()?)
}

pub fn folder_id_by_remote(
    tx: &Transaction<'_>,
    account_id: i64,
    remote: &str,
) -> Result<Option<i64>> {
    Ok(folder_by_remote(tx, account_id, remote)?.map(|(id, _, _)| id))
}

/// How the account's server names folders, as the last sync learnt it.
pub fn naming(tx: &rusqlite::Connection, account_id: i64) -> Result<Naming> {
    tx.prepare_cached("SELECT namespace_prefix, namespace_delimiter FROM account WHERE id = ?1")?
        .query_row([account_id], |r| {
            Ok(Naming {
                prefix: r.get(0)?,
                delimiter: r.get(1)?,
            })
        })
        .optional()?
        .ok_or_else(|| Error::not_found(format!("account {account_id}")))
}

/// Creates a folder here by its server name.
pub fn insert_folder(tx: &Transaction<'_>, account_id: i64, remote: &str) -> Result<i64> {
    let naming = naming(tx, account_id)?;
    tx.execute(
        "INSERT INTO folder (account_id, remote_name, name, delimiter) VALUES (?1, ?2, ?3, ?4)",
        params![account_id, remote, naming.display(remote), naming.delimiter],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Brings back a local folder row (empty; the next sync fills it).
pub fn restore_folder(tx: &Transaction<'_>, account_id: i64, remote: &str) -> Result<()> {
    let naming = naming(tx, account_id)?;
    tx.execute(
        "INSERT INTO folder (account_id, remote_name, name, delimiter) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (account_id, remote_name) DO NOTHING",
        params![account_id, remote, naming.display(remote), naming.delimiter],
    )?;
    Ok(())
}

/// Removes a folder and everything in it here.
pub fn delete_folder(tx: &Transaction<'_>, folder_id: i64) -> Result<()> {
    tx.execute("DELETE FROM location WHERE folder_id = ?1", [folder_id])?;
    tx.execute("DELETE FROM folder WHERE id = ?1", [folder_id])?;
    Ok(())
}

pub fn delete_folder_by_remote(tx: &Transaction<'_>, account_id: i64, remote: &str) -> Result<()> {
    tx.execute(
        "DELETE FROM folder WHERE account_id = ?1 AND remote_name = ?2",
        params![account_id, remote],
    )?;
    Ok(())
}

/// Renames a folder and its subfolders here.
pub fn rename_folder_tree(
    tx: &Transaction<'_>,
    account_id: i64,
    folder_id: i64,
    old_remote: &str,
    new_remote: &str,
    delimiter: &str,
) -> Result<()> {
    let naming = naming(tx, account_id)?;
    tx.execute(
        "UPDATE folder SET remote_name = ?2, name = ?3 WHERE id = ?1",
        params![folder_id, new_remote, naming.display(new_remote)],
    )?;
    if delimiter.is_empty() {
        return Ok(());
    }
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
            params![id, renamed, naming.display(&renamed)],
        )?;
    }
    Ok(())
}

/// Records the UIDVALIDITY of a folder this device just created on the server (the next
/// sync then lists it in full).
pub fn set_new_folder_uidvalidity(
    tx: &Transaction<'_>,
    account_id: i64,
    remote_name: &str,
    uidvalidity: u32,
) -> Result<()> {
    tx.execute(
        "UPDATE folder SET uidvalidity = ?3 WHERE account_id = ?1 AND remote_name = ?2 AND uidvalidity = 0",
        params![account_id, remote_name, uidvalidity],
    )?;
    Ok(())
}

/// Accounts by id with their protocol: whether their changes go to a server.
pub fn account_protocol(tx: &Transaction<'_>, account_id: i64) -> Result<Protocol> {
    let protocol: String = tx
        .prepare_cached("SELECT protocol FROM account WHERE id = ?1")?
        .query_row([account_id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::not_found(format!("account {account_id}")))?;
    protocol.parse()
}

impl Store {
    /// Saves a message that exists only here so far (a draft, a sent copy) into a folder,
    /// durably: until it is uploaded it is the only copy. Returns its id.
    pub fn insert_local_message(
        &self,
        tx: &Transaction<'_>,
        folder_id: i64,
        message: &ParsedMessage,
        flags: FlagSet,
    ) -> Result<i64> {
        let (account_id, _) = folder_account_and_name(tx, folder_id)?;
        let now = chrono::Utc::now().timestamp();
        let record = HeaderRecord {
            flags: flags.to_flags(false),
            size: message.raw.len() as u32,
            internal_date: now,
            has_attachments: !message.body.attachments.is_empty(),
            ..HeaderRecord::from_headers(message.headers.clone())
        };
        let mut search = InsertBatch::default();
        let id = insert_message(tx, account_id, &record, &mut search)?;
        tx.execute(
            "INSERT INTO location (message_id, folder_id, sort_date) VALUES (?1, ?2, ?3)",
            params![id, folder_id, record.date.unwrap_or(now)],
        )?;
        self.blobs.write_durable(id, &message.raw)?;
        store_body(tx, id, &message.body, &mut search)?;
        search.write(tx)?;
        Ok(id)
    }
}
