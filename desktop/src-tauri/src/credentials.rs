//! Passwords in the OS keychain (Secret Service on Linux, through the `keyring` crate),
//! or, only when a test opts in with `BREVDUE_INSECURE_TEST_PASSWORDS=1`, in memory.

use brevdue_core::{CredentialStore, Error, ErrorKind, MemoryCredentials, Result};

const SERVICE: &str = "brevdue";

/// The environment variable that keeps passwords in memory only. For tests: nothing is
/// saved, so the accounts need their password again after a restart.
pub const INSECURE_TEST_PASSWORDS: &str = "BREVDUE_INSECURE_TEST_PASSWORDS";

/// What the user is told when there is no keychain to keep the password in.
pub const NO_KEYCHAIN: &str = "No keychain is running. Brevdue keeps passwords in the \
system keychain (the Secret Service: GNOME Keyring or KWallet), never in its own files. \
Start your desktop's keychain (for example gnome-keyring-daemon) and try again.";

pub struct KeyringCredentials;

fn entry(account: &str) -> Result<keyring::Entry> {
    keyring::Entry::new(SERVICE, account).map_err(keychain_error)
}

fn keychain_error(err: keyring::Error) -> Error {
    match err {
        keyring::Error::PlatformFailure(_) | keyring::Error::NoStorageAccess(_) => Error::new(
            ErrorKind::MissingCredentials,
            format!("{NO_KEYCHAIN} ({err})"),
        ),
        other => Error::new(
            ErrorKind::MissingCredentials,
            format!("the keychain failed: {other}"),
        ),
    }
}

impl CredentialStore for KeyringCredentials {
    fn get(&self, account: &str) -> Result<Option<String>> {
        match entry(account)?.get_password() {
            Ok(password) => Ok(Some(password)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(keychain_error(err)),
        }
    }

    fn set(&self, account: &str, password: &str) -> Result<()> {
        entry(account)?
            .set_password(password)
            .map_err(keychain_error)
    }

    fn delete(&self, account: &str) -> Result<()> {
        match entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(err) => Err(keychain_error(err)),
        }
    }
}

/// Whether a keychain answers; `Err` holds the sentence for the user.
pub fn probe_keychain() -> std::result::Result<(), String> {
    match KeyringCredentials.get("brevdue-keychain-probe") {
        Ok(_) => Ok(()),
        Err(err) => Err(err.message),
    }
}

/// The store the app uses, and whether it is the in-memory test store.
pub fn store() -> (std::sync::Arc<dyn CredentialStore>, bool) {
    if std::env::var(INSECURE_TEST_PASSWORDS).as_deref() == Ok("1") {
        (std::sync::Arc::new(MemoryCredentials::default()), true)
    } else {
        (std::sync::Arc::new(KeyringCredentials), false)
    }
}
