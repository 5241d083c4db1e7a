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
        let blobs = Self { root };
        blobs.sweep_incoming(std::time::Duration::from_secs(24 * 60 * 60));
        Ok(blobs)
    }

    pub fn path(&self, message_id: i64) -> PathBuf {
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

// Files received as they arrive (a POP3 RETR streams into one), then adopted.

/// A message file being received, in the blob directory's `incoming/` (so it is renamed
/// into place, never copied). Removed when dropped unless adopted.
pub struct IncomingBlob {
    path: PathBuf,
    file: Option<std::io::BufWriter<fs::File>>,
}

impl IncomingBlob {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes out what is buffered and closes the file (before it is read back).
    pub fn finish(&mut self) -> Result<()> {
        if let Some(file) = self.file.take() {
            file.into_inner()
                .map_err(|err| storage(&self.path, err.into_error()))?;
        }
        Ok(())
    }
}

impl Write for IncomingBlob {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.file {
            Some(file) => file.write(buf),
            None => Err(std::io::Error::other("the file was finished")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for IncomingBlob {
    fn drop(&mut self) {
        self.file.take();
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl BlobDir {
    fn incoming_dir(&self) -> PathBuf {
        self.root.join("incoming")
    }

    /// A new, empty file to receive a message into.
    pub fn incoming(&self) -> Result<IncomingBlob> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = self.incoming_dir();
        fs::create_dir_all(&dir).map_err(|err| storage(&dir, err))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!(
            "{}-{nanos}-{}.part",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|err| storage(&path, err))?;
        Ok(IncomingBlob {
            path,
            file: Some(std::io::BufWriter::with_capacity(64 << 10, file)),
        })
    }

    /// Makes a received file the raw message of `message_id` (a rename, not a copy).
    pub fn adopt(&self, message_id: i64, mut incoming: IncomingBlob) -> Result<()> {
        incoming.finish()?;
        let path = self.path(message_id);
        let dir = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir).map_err(|err| storage(dir, err))?;
        fs::rename(&incoming.path, &path).map_err(|err| storage(&path, err))?;
        incoming.path = PathBuf::new();
        Ok(())
    }

    /// Removes received files left behind (by a crash) for longer than `age` (a day at
    /// every open).
    pub fn sweep_incoming(&self, age: std::time::Duration) {
        let Ok(entries) = fs::read_dir(self.incoming_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|elapsed| elapsed > age);
            if old {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod incoming_tests {
    use super::*;

    #[test]
    fn a_received_file_is_adopted_or_removed() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(dir.path().join("messages")).unwrap();
        let mut kept = blobs.incoming().unwrap();
        kept.write_all(b"Subject: kept\r\n\r\nbody\r\n").unwrap();
        let dropped_path = {
            let mut dropped = blobs.incoming().unwrap();
            dropped.write_all(b"partial").unwrap();
            dropped.path().to_owned()
        };
        assert!(!dropped_path.exists(), "a dropped file stays behind");
        blobs.adopt(7, kept).unwrap();
        assert_eq!(blobs.read(7).unwrap(), b"Subject: kept\r\n\r\nbody\r\n");
        let stale = blobs.incoming().unwrap();
        let stale_path = stale.path().to_owned();
        std::mem::forget(stale); // as after a crash
        std::thread::sleep(std::time::Duration::from_millis(20));
        blobs.sweep_incoming(std::time::Duration::from_secs(3600));
        assert!(stale_path.exists(), "a recent file was swept");
        blobs.sweep_incoming(std::time::Duration::ZERO);
        assert!(!stale_path.exists(), "a stale file was not swept");
    }
}
