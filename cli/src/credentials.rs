//! The CLI's password store: a file readable only by its owner, next to (never inside)
//! the SQLite cache. The apps use the platform's keychain instead.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use brevdue_core::{CredentialStore, Error, ErrorKind, Result};

pub struct FileCredentials {
    path: PathBuf,
    lock: Mutex<()>,
}

impl FileCredentials {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            lock: Mutex::new(()),
        }
    }

    fn load(&self) -> Result<BTreeMap<String, String>> {
        #[cfg(unix)]
        self.tighten()?;
        match fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|err| {
                Error::new(
                    ErrorKind::Storage,
                    format!("{} is damaged: {err}", self.path.display()),
                )
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(err) => Err(storage_error(&self.path, err)),
        }
    }

    /// Makes a file an older version (or a copy) left readable by others private.
    #[cfg(unix)]
    fn tighten(&self) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        match fs::metadata(&self.path) {
            Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                fs::set_permissions(&self.path, fs::Permissions::from_mode(0o600))
                    .map_err(|err| storage_error(&self.path, err))
            }
            _ => Ok(()),
        }
    }

    fn save(&self, map: &BTreeMap<String, String>) -> Result<()> {
        let tmp = self.path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            let mut options = fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&tmp)?;
            // The mode above applies only to a file it creates.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                file.set_permissions(fs::Permissions::from_mode(0o600))?;
            }
            file.write_all(&serde_json::to_vec_pretty(map).unwrap_or_default())?;
            file.sync_all()?;
            fs::rename(&tmp, &self.path)
        };
        write().map_err(|err| storage_error(&self.path, err))
    }
}

fn storage_error(path: &std::path::Path, err: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!("cannot use password file {}: {err}", path.display()),
    )
}

impl CredentialStore for FileCredentials {
    fn get(&self, account: &str) -> Result<Option<String>> {
        let _guard = self.lock.lock();
        Ok(self.load()?.get(account).cloned())
    }

    fn set(&self, account: &str, password: &str) -> Result<()> {
        let _guard = self.lock.lock();
        let mut map = self.load()?;
        map.insert(account.to_owned(), password.to_owned());
        self.save(&map)
    }

    fn delete(&self, account: &str) -> Result<()> {
        let _guard = self.lock.lock();
        let mut map = self.load()?;
        if map.remove(account).is_some() {
            self.save(&map)?;
        }
        Ok(())
    }
}
