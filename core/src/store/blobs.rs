//! Raw messages as files beside the database: large bodies stay out of SQLite's WAL
//! (no double write), and SQLite rows stay small. A file is written (and renamed into
//! place) before the transaction that marks the body as present; a crash in between
//! leaves at most an unreferenced file, removed by the next sweep.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::private::{self, Private};
use crate::error::{Error, ErrorKind, Result};

pub struct BlobDir {
    root: PathBuf,
}

impl BlobDir {
    /// Opens (creating) the directory, private to its owner. A tree an older version
    /// left readable by others is tightened once.
    pub fn open(root: PathBuf) -> Result<Self> {
        #[cfg(unix)]
        let loose = {
            use std::os::unix::fs::PermissionsExt;
            fs::metadata(&root).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
        };
        private::create_dir(&root).map_err(|err| storage(&root, err))?;
        #[cfg(unix)]
        if loose {
            if let Err(err) = private::tighten_tree(&root) {
                tracing::warn!(%err, "cannot make every message file private to its owner");
            }
        }
        Ok(Self { root })
    }

    fn path(&self, message_id: i64) -> PathBuf {
        self.root
            .join(format!("{:02x}", message_id & 0xff))
            .join(format!("{message_id}.eml"))
    }

    /// Writes atomically (temporary file, then rename). No fsync: for IMAP the server
    /// holds the original, and a body lost to a power cut is fetched again.
    pub fn write(&self, message_id: i64, raw: &[u8]) -> Result<()> {
        let path = self.path(message_id);
        let dir = path.parent().unwrap_or(&self.root);
        fs::DirBuilder::new()
            .recursive(true)
            .private()
            .create(dir)
            .map_err(|err| storage(dir, err))?;
        // A name of its own per write: two writes of one message (a store task of a
        // broken sync still finishing while the next sync stores the same body) never
        // share a temporary file.
        let tmp = path.with_extension(format!("{}.tmp", next_write()));
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .private()
            .open(&tmp)
            .map_err(|err| storage(&tmp, err))?;
        file.write_all(raw).map_err(|err| storage(&tmp, err))?;
        fs::rename(&tmp, &path).map_err(|err| storage(&path, err))
    }

    /// Like `write`, but durable before it returns: for mail that exists only here.
    pub fn write_durable(&self, message_id: i64, raw: &[u8]) -> Result<()> {
        self.write(message_id, raw)?;
        self.make_durable(message_id)
    }

    /// Forces a written file (and its directory entry) to disk.
    pub fn make_durable(&self, message_id: i64) -> Result<()> {
        let path = self.path(message_id);
        fs::File::open(&path)
            .and_then(|f| f.sync_all())
            .map_err(|err| storage(&path, err))?;
        if let Some(dir) = path.parent() {
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|err| storage(dir, err))?;
        }
        Ok(())
    }

    pub fn read(&self, message_id: i64) -> Option<Vec<u8>> {
        fs::read(self.path(message_id)).ok()
    }

    pub fn remove(&self, message_id: i64) {
        let _ = fs::remove_file(self.path(message_id));
    }
}

fn next_write() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn storage(path: &Path, err: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!("cannot write message file {}: {err}", path.display()),
    )
}
