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

/// What a login sends: the account's password, or an OAuth2 access token (SASL XOAUTH2
/// or OAUTHBEARER).
#[derive(Clone, PartialEq, Eq)]
pub enum Login {
    Password(String),
    Bearer {
        token: String,
        mechanism: crate::oauth::OAuthMechanism,
    },
}

impl Login {
    pub fn is_bearer(&self) -> bool {
        matches!(self, Login::Bearer { .. })
    }

    /// The secret itself, for the checks that refuse control characters.
    pub(crate) fn secret(&self) -> &str {
        match self {
            Login::Password(secret) | Login::Bearer { token: secret, .. } => secret,
        }
    }
}

/// Never prints the secret.
impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Login::Password(_) => f.write_str("Login::Password(..)"),
            Login::Bearer { mechanism, .. } => write!(f, "Login::Bearer({mechanism:?})"),
        }
    }
}
