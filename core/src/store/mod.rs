//! The local cache: SQLite in WAL mode, one writer and a small pool of readers.
//!
//! Every write runs in one IMMEDIATE transaction; readers never block the writer.

mod accounts;
mod blobs;
mod changes;
mod folders;
mod messages;
mod outbox;
mod pop3;
mod schema;
mod search;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{Error, ErrorKind, Result};

pub use changes::QueuedChange;
pub use folders::{FolderSyncState, RemoteFolder};
pub use messages::{BatchOutcome, BodyNeeded, HeaderRecord, KnownLocation, ParsedBody};
pub use outbox::Outgoing;
pub use pop3::Pop3Download;
pub use schema::SCHEMA_VERSION;

const MAX_IDLE_READERS: usize = 4;

pub struct Store {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    blobs: blobs::BlobDir,
}

impl Store {
    /// Opens (creating and migrating if needed) the database at `path`; raw messages
    /// live in `messages/` beside it.
    pub fn open(path: &Path) -> Result<Self> {
        let mut writer = open_connection(path, false)?;
        schema::migrate(&mut writer)?;
        let blobs = blobs::BlobDir::open(path.with_file_name("messages"))?;
        let store = Self {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            blobs,
        };
        store.sweep_blobs()?;
        Ok(store)
    }

    /// Removes the files of deleted messages (recorded by a trigger in the same
    /// transaction as the deletion).
    pub fn sweep_blobs(&self) -> Result<u32> {
        let trash: Vec<i64> = self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT message_id FROM blob_trash")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<i64>>>()?)
        })?;
        if trash.is_empty() {
            return Ok(0);
        }
        for id in &trash {
            self.blobs.remove(*id);
        }
        self.write(|tx| {
            let mut stmt = tx.prepare_cached("DELETE FROM blob_trash WHERE message_id = ?1")?;
            for id in &trash {
                stmt.execute([id])?;
            }
            Ok(())
        })?;
        Ok(trash.len() as u32)
    }

    /// Runs `f` in one write transaction, committed only if `f` succeeds.
    pub fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self
            .writer
            .lock()
            .map_err(|_| Error::new(ErrorKind::Storage, "database writer lock poisoned"))?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Runs `f` on a reader connection (a consistent snapshot if `f` opens a transaction).
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let pooled = self.readers.lock().ok().and_then(|mut pool| pool.pop());
        let conn = match pooled {
            Some(conn) => conn,
            None => open_connection(&self.path, true)?,
        };
        let result = f(&conn);
        if let Ok(mut pool) = self.readers.lock() {
            if pool.len() < MAX_IDLE_READERS {
                pool.push(conn);
            }
        }
        result
    }
}

fn open_connection(path: &Path, read_only: bool) -> Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(|err| {
        Error::new(
            ErrorKind::Storage,
            format!("cannot open the database {}: {err}", path.display()),
        )
    })?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = NORMAL;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -16000;",
    )?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Checkpoint (and fsync) less often during a big first sync.
        conn.pragma_update(None, "wal_autocheckpoint", 4000)?;
    }
    Ok(conn)
}

/// Applies the migrations to a bare connection (unit tests elsewhere in the crate).
#[cfg(test)]
pub(crate) fn migrate_for_tests(conn: &mut Connection) {
    schema::migrate(conn).unwrap();
}

/// Converts SQLite's 0/1 into bool.
fn flag(v: i64) -> bool {
    v != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccountConfig, Flags, FolderRole, Protocol, Security, ServerConfig};
    use crate::queue::plan::{FLAGGED, SEEN};

    fn record(uid: u32, seen: bool) -> HeaderRecord {
        HeaderRecord {
            uid,
            message_id: format!("m{uid}@t"),
            subject: format!("s{uid}"),
            date: Some(1_700_000_000 + i64::from(uid)),
            flags: Flags {
                seen,
                ..Flags::default()
            },
            ..HeaderRecord::default()
        }
    }

    /// The counters the triggers keep must equal what counting rows gives.
    fn assert_counts_match(store: &Store) {
        for folder in store.folders(None).unwrap() {
            let (total, unread): (u32, u32) = store
                .read(|conn| {
                    Ok(conn.query_row(
                        "SELECT count(*), ifnull(sum(m.seen = 0), 0) FROM location l
                         JOIN message m ON m.id = l.message_id WHERE l.folder_id = ?1",
                        [folder.id],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )?)
                })
                .unwrap();
            assert_eq!(
                (folder.total, folder.unread),
                (total, unread),
                "{}",
                folder.name
            );
        }
    }

    #[test]
    fn folder_counters_follow_every_change() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
        let account = store
            .insert_account(
                &AccountConfig {
                    pop3_delete: Default::default(),
                    display_name: String::new(),
                    smtp: None,
                    name: "a".into(),
                    email: "a@example.test".into(),
                    protocol: Protocol::Imap,
                    server: ServerConfig {
                        host: "127.0.0.1".into(),
                        port: 1,
                        security: Security::Tls,
                        username: "a".into(),
                        ca_file: None,
                    },
                },
                &[],
            )
            .unwrap();
        let folder = |name: &str, role| RemoteFolder {
            remote_name: name.into(),
            name: name.into(),
            delimiter: "/".into(),
            role,
            selectable: true,
            uidvalidity: None,
        };
        store
            .replace_folders(
                account.id,
                &[
                    folder("INBOX", Some(FolderRole::Inbox)),
                    folder("Archive", Some(FolderRole::Archive)),
                ],
            )
            .unwrap();
        let inbox = store.folder_by_name(account.id, "INBOX").unwrap().id;
        let archive = store.folder_by_name(account.id, "Archive").unwrap().id;
        store.reset_folder(inbox, 7).unwrap();
        let records: Vec<_> = (1..=10).map(|uid| record(uid, uid % 3 == 0)).collect();
        let added = store
            .store_headers(account.id, inbox, 7, &records)
            .unwrap()
            .added;
        assert_counts_match(&store);
        assert_eq!(store.folder(inbox).unwrap().unread, 7);

        store.queue_flags(&added[..4], SEEN, 0).unwrap();
        store.queue_flags(&added[..2], FLAGGED, SEEN).unwrap();
        assert_counts_match(&store);
        let moves: Vec<(i64, i64)> = added[5..8].iter().map(|id| (*id, archive)).collect();
        store.queue_moves(&moves).unwrap();
        assert_counts_match(&store);
        store.queue_expunge(&added[8..9]).unwrap();
        store.remove_uids(inbox, 7, &[10]).unwrap();
        assert_counts_match(&store);
        let flagged_seen: Vec<(u32, Flags, u64)> = (1..=4)
            .map(|uid| {
                (
                    uid,
                    Flags {
                        seen: true,
                        ..Flags::default()
                    },
                    9,
                )
            })
            .collect();
        store.apply_server_flags(inbox, 7, &flagged_seen).unwrap();
        assert_counts_match(&store);
        assert_eq!(store.folder(archive).unwrap().total, 3);
        assert_eq!(store.folder(inbox).unwrap().total, 5);

        // One replayer at a time holds a change; a retry later frees it.
        let (first, _) = store.next_change(account.id).unwrap().unwrap();
        assert!(store.lease_change(first.id, 100, 220).unwrap());
        assert!(
            !store.lease_change(first.id, 150, 270).unwrap(),
            "two replayers"
        );
        assert!(
            store.lease_change(first.id, 221, 341).unwrap(),
            "a lease must expire"
        );
        store.change_retry_later(first.id, "offline", 400).unwrap();
        assert!(store.lease_change(first.id, 222, 342).unwrap());
    }
}
