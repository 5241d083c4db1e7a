//! Locks between processes on one data directory: a file locked with the OS's advisory
//! lock, which the OS releases when its holder ends, however it ends (kill -9, a crash).

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};

/// Takes the lock on `path` if no other process holds it; `None` if one does. The lock
/// lasts as long as the returned file is open.
pub(crate) fn try_hold(path: &Path) -> Result<Option<File>> {
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path).map_err(|err| {
        Error::new(
            ErrorKind::Storage,
            format!("cannot open {}: {err}", path.display()),
        )
    })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(err)) => Err(Error::new(
            ErrorKind::Storage,
            format!("cannot lock {}: {err}", path.display()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_free_when_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let first = try_hold(&path).unwrap();
        assert!(first.is_some());
        assert!(try_hold(&path).unwrap().is_none(), "two holders");
        drop(first);
        assert!(try_hold(&path).unwrap().is_some(), "not released");
    }
}
