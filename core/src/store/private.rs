//! Cached mail is readable only by its owner, whatever the umask: on Unix, directories
//! are created 0700 and files 0600, and those an older version left more open are
//! tightened when the store opens them. Elsewhere the platform's per-app storage applies.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::Path;

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

#[cfg(unix)]
pub const DIR_MODE: u32 = 0o700;
#[cfg(unix)]
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) readable only by its owner, and tightens it if it
/// exists. A shared directory with the sticky bit (`/tmp`) is left as it is.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        fs::DirBuilder::new()
            .recursive(true)
            .private()
            .create(dir)?;
        tighten_or_warn(dir, DIR_MODE);
        Ok(())
    }
    #[cfg(not(unix))]
    fs::create_dir_all(dir)
}

/// `.private()` on `OpenOptions` or `DirBuilder`: what it creates is readable only by its
/// owner (0600, 0700); existing files and directories keep their mode.
pub trait Private {
    fn private(&mut self) -> &mut Self;
}

impl Private for OpenOptions {
    fn private(&mut self) -> &mut Self {
        #[cfg(unix)]
        self.mode(FILE_MODE);
        self
    }
}

impl Private for fs::DirBuilder {
    fn private(&mut self) -> &mut Self {
        #[cfg(unix)]
        self.mode(DIR_MODE);
        self
    }
}

/// Sets `path`'s permission bits to `mode` if they are anything else; returns whether it
/// did. Missing paths, and directories with the sticky bit, are left alone.
#[cfg(unix)]
pub fn tighten(path: &Path, mode: u32) -> io::Result<bool> {
    let metadata = match fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(err),
    };
    let current = metadata.permissions().mode();
    let sticky = current & 0o1000 != 0;
    if current & 0o777 == mode || (metadata.is_dir() && sticky) {
        return Ok(false);
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    Ok(true)
}

/// `tighten`, where a failure (a path someone else owns) only costs privacy: the store
/// still works, and says so in the log.
#[cfg(unix)]
pub fn tighten_or_warn(path: &Path, mode: u32) {
    if let Err(err) = tighten(path, mode) {
        tracing::warn!(path = %path.display(), %err, "cannot make it private to its owner");
    }
}

/// Tightens a tree an older version wrote with the umask's modes: directories to 0700,
/// files to 0600. Symbolic links are not followed.
#[cfg(unix)]
pub fn tighten_tree(root: &Path) -> io::Result<()> {
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            tighten(&path, DIR_MODE)?;
            tighten_tree(&path)?;
        } else if kind.is_file() {
            tighten(&path, FILE_MODE)?;
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn creates_private_and_tightens_what_exists() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);

        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);

        let file = dir.join("f");
        fs::write(&file, b"x").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(tighten(&file, FILE_MODE).unwrap());
        assert_eq!(mode(&file), 0o600);
        assert!(!tighten(&file, FILE_MODE).unwrap());
        let new = dir.join("g");
        OpenOptions::new()
            .write(true)
            .create(true)
            .private()
            .open(&new)
            .unwrap();
        assert_eq!(mode(&new), 0o600);
    }

    #[test]
    fn a_shared_sticky_directory_is_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let shared = tmp.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
        create_dir(&shared).unwrap();
        assert_eq!(mode(&shared), 0o1777);
    }

    #[test]
    fn tightens_a_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let sub = tmp.path().join("0a");
        fs::create_dir(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o755)).unwrap();
        let file = sub.join("10.eml");
        fs::write(&file, b"x").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        tighten_tree(tmp.path()).unwrap();
        assert_eq!(mode(&sub), 0o700);
        assert_eq!(mode(&file), 0o600);
    }
}
