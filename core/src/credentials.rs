//! Passwords live with the platform (Keystore, Keychain, Secret Service, or a private file
//! for the CLI), never in the SQLite cache.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::Result;

/// Implemented by each front end with its platform's secret storage.
pub trait CredentialStore: Send + Sync {
    fn get(&self, account: &str) -> Result<Option<String>>;
    fn set(&self, account: &str, password: &str) -> Result<()>;
    fn delete(&self, account: &str) -> Result<()>;
}

/// Keeps passwords in memory only (tests, and apps that ask every time).
#[derive(Default)]
pub struct MemoryCredentials {
    passwords: Mutex<HashMap<String, String>>,
}

impl CredentialStore for MemoryCredentials {
    fn get(&self, account: &str) -> Result<Option<String>> {
        Ok(self
            .passwords
            .lock()
            .ok()
            .and_then(|p| p.get(account).cloned()))
    }

    fn set(&self, account: &str, password: &str) -> Result<()> {
        if let Ok(mut p) = self.passwords.lock() {
            p.insert(account.to_owned(), password.to_owned());
        }
        Ok(())
    }

    fn delete(&self, account: &str) -> Result<()> {
        if let Ok(mut p) = self.passwords.lock() {
            p.remove(account);
        }
        Ok(())
    }
}
