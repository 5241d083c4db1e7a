//! The local cache: SQLite in WAL mode, one writer and a small pool of readers.
//!
//! Every write runs in one IMMEDIATE transaction; readers never block the writer.

mod accounts;
mod blobs;
pub mod changes;
mod folders;
pub mod local;
mod messages;
pub mod outbox;
mod pop3;
pub(crate) mod private;
mod rows;
mod schema;
mod search;
pub mod threading;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{Error, ErrorKind, Result};
use private::Private;

pub use crate::mail::{HeaderRecord, ParsedBody, RemoteFolder};
pub use changes::{ChangeRow, ListedChange};
pub use folders::FolderSyncState;
pub use messages::{BatchOutcome, BodyNeeded, KnownLocation};
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
        // Created private before SQLite opens it: SQLite gives the WAL and shared-memory
        // files the database file's mode.
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .private()
            .open(path)
            .map_err(|err| {
                Error::new(
                    ErrorKind::Storage,
                    format!("cannot open the database {}: {err}", path.display()),
                )
            })?;
        // And tightened if an older version made them.
        #[cfg(unix)]
        for suffix in ["", "-wal", "-shm"] {
            let mut companion = path.as_os_str().to_owned();
            companion.push(suffix);
            private::tighten_or_warn(Path::new(&companion), private::FILE_MODE);
        }
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

    /// Runs `f` in one write transaction, committed only if `f` succeeds. A database
    /// error says where the transaction was started.
    #[track_caller]
    pub fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let caller = std::panic::Location::caller();
        let mut conn = self
            .writer
            .lock()
            .map_err(|_| Error::new(ErrorKind::Storage, "database writer lock poisoned"))?;
        let run = || {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        };
        run().map_err(|err| at(err, caller))
    }

    /// Runs `f` on a reader connection (a consistent snapshot if `f` opens a transaction).
    #[track_caller]
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let caller = std::panic::Location::caller();
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
        result.map_err(|err| at(err, caller))
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

/// A database failure names the store function's source line that ran the statement.
fn at(err: Error, caller: &std::panic::Location<'_>) -> Error {
    if err.kind != ErrorKind::Storage || !err.message.starts_with("local database error") {
        return err;
    }
    let file = caller.file().rsplit("src/").next().unwrap_or(caller.file());
    err.context(format!("{file}:{}", caller.line()))
}

/// Converts SQLite's 0/1 into bool.
fn flag(v: i64) -> bool {
    v != 0
}
