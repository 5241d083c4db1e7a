//! Account sessions: the one place that knows an account's password, how to connect to
//! its servers, the per-account lock (one sync or replay at a time), and the connection
//! kept between syncs and replays. Adding, editing and removing accounts lives here too,
//! since they start with a login.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::account_edit::AccountEdit;
use crate::credentials::CredentialStore;
use crate::error::{Error, ErrorKind, Result};
use crate::imap::ImapConnection;
use crate::model::{Account, AccountConfig, Protocol, ServerConfig};
use crate::net::ConnectPolicy;
use crate::pop3::Pop3Connection;
use crate::store::Store;

pub(crate) struct Sessions {
    store: Arc<Store>,
    credentials: Arc<dyn CredentialStore>,
    policy: ConnectPolicy,
    /// One sync or replay at a time per account.
    locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    /// An open connection per account, kept between syncs and replays.
    kept: Mutex<HashMap<i64, ImapConnection>>,
    /// Bumped when the network changed: push connections are rebuilt at once, and
    /// waiting work is retried.
    network: watch::Sender<u64>,
}

impl Sessions {
    pub fn new(
        store: Arc<Store>,
        credentials: Arc<dyn CredentialStore>,
        policy: ConnectPolicy,
    ) -> Self {
        Self {
            store,
            credentials,
            policy,
            locks: Mutex::new(HashMap::new()),
            kept: Mutex::new(HashMap::new()),
            network: watch::channel(0).0,
        }
    }

    /// The account's password, or a clear error if none is stored. A user name or
    /// password with a control character is refused before anything is sent (the
    /// platform's store, or the database, may hold one an older version accepted).
    pub fn password(&self, account: &Account) -> Result<String> {
        let password = self.credentials.get(&account.name)?.ok_or_else(|| {
            Error::new(
                ErrorKind::MissingCredentials,
                format!("no password is stored for account '{}'", account.name),
            )
        })?;
        let fix = format!(
            "nothing was sent; remove account '{}' and add it again",
            account.name
        );
        check_credential("stored password", &password, &fix)?;
        check_credential("user name", &account.server.username, &fix)?;
        check_credential("SMTP user name", &account.smtp.username, &fix)?;
        Ok(password)
    }

    /// A new IMAP connection to the account's server.
    pub async fn connect(&self, account: &Account) -> Result<ImapConnection> {
        let password = self.password(account)?;
        ImapConnection::connect(&account.server, &password, &self.policy).await
    }

    pub async fn connect_pop3(&self, account: &Account) -> Result<Pop3Connection> {
        let password = self.password(account)?;
        Pop3Connection::connect(&account.server, &password, &self.policy).await
    }

    pub fn lock(&self, account_id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(account_id).or_default().clone()
    }

    /// The account's kept connection if it still answers, else a new one.
    pub async fn take(&self, account: &Account) -> Result<ImapConnection> {
        let kept = self
            .kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&account.id);
        if let Some(mut conn) = kept {
            if conn.noop().await.is_ok() {
                return Ok(conn);
            }
        }
        self.connect(account).await
    }

    /// Keeps a connection that ended its work in good order, for the next caller.
    pub fn keep(&self, account_id: i64, conn: ImapConnection) {
        self.kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(account_id, conn);
    }

    /// Runs `work` on the account's connection; the connection is kept for the next
    /// caller only if the work succeeded (after a failure its state is unknown).
    pub async fn with_connection<T, F, Fut>(&self, account: &Account, work: F) -> Result<T>
    where
        F: FnOnce(ImapConnection) -> Fut,
        Fut: Future<Output = (ImapConnection, Result<T>)>,
    {
        let conn = self.take(account).await?;
        let (conn, result) = work(conn).await;
        if result.is_ok() {
            self.keep(account.id, conn);
        }
        result
    }

    /// Drops everything kept for an account (it is being removed).
    pub fn forget(&self, account_id: i64) {
        self.kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&account_id);
    }

    /// The network changed: kept connections go, and those waiting on the network hear.
    pub fn network_changed(&self) {
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.network.send_modify(|g| *g += 1);
    }

    pub fn network_changes(&self) -> watch::Receiver<u64> {
        self.network.subscribe()
    }

    /// Checks the login, then saves the account and its password. A failure saves nothing.
    pub async fn add_account(&self, config: AccountConfig, password: String) -> Result<Account> {
        validate(&config, &password)?;
        if self.store.account_by_name(&config.name).is_ok() {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("an account named '{}' already exists", config.name),
            ));
        }
        let caps = match config.protocol {
            Protocol::Imap => {
                let conn = ImapConnection::connect(&config.server, &password, &self.policy).await?;
                let caps = conn.capability_names().to_vec();
                conn.logout().await;
                caps
            }
            Protocol::Pop3 => {
                let conn = Pop3Connection::connect(&config.server, &password, &self.policy).await?;
                let caps = conn.caps.all.clone();
                conn.quit().await?;
                caps
            }
        };
        if let Some(smtp) = &config.smtp {
            crate::smtp::check_login(smtp, &password, &self.policy)
                .await
                .map_err(|err| err.context("SMTP"))?;
        }
        let account = self.store.insert_account(&config, &caps)?;
        if account.protocol == Protocol::Pop3 {
            self.store.create_local_folders(account.id)?;
        }
        if let Err(err) = self.credentials.set(&account.name, &password) {
            self.store.delete_account(&account.name)?;
            return Err(err);
        }
        Ok(account)
    }

    /// Changes an account's settings. A new password or server is checked by logging in
    /// first; a refused login, or a password the keychain cannot take, saves nothing.
    pub async fn edit_account(&self, account: &Account, edit: &AccountEdit) -> Result<Account> {
        let plan = edit.plan(account)?;
        let fix = "type it again without one";
        check_credential("user name", &plan.server.username, fix)?;
        check_credential("SMTP user name", &plan.smtp.username, fix)?;
        if let Some(ca) = &plan.server.ca_file {
            if !Path::new(ca).is_file() {
                return Err(Error::invalid(format!("CA file {ca} does not exist")));
            }
        }
        let password = match &edit.password {
            Some(password) => {
                check_credential("password", password, fix)?;
                password.clone()
            }
            None if plan.check_incoming || plan.check_smtp => self.password(account)?,
            None => String::new(),
        };
        let caps = match (plan.check_incoming, account.protocol) {
            (false, _) => None,
            (true, Protocol::Imap) => {
                let conn = ImapConnection::connect(&plan.server, &password, &self.policy).await?;
                let caps = conn.capability_names().to_vec();
                conn.logout().await;
                Some(caps)
            }
            (true, Protocol::Pop3) => {
                let conn = Pop3Connection::connect(&plan.server, &password, &self.policy).await?;
                let caps = conn.caps.all.clone();
                conn.quit().await?;
                Some(caps)
            }
        };
        if plan.check_smtp {
            crate::smtp::check_login(&plan.smtp, &password, &self.policy)
                .await
                .map_err(|err| err.context("SMTP"))?;
        }
        let display_name = account
            .identities
            .first()
            .map(|i| i.name.clone())
            .unwrap_or_default();
        self.store.update_account_settings(
            account.id,
            &plan.server,
            &plan.smtp,
            &plan.display_name,
            plan.pop3_delete,
            caps.as_deref(),
        )?;
        if let Some(password) = &edit.password {
            if let Err(err) = self.credentials.set(&account.name, password) {
                self.store.update_account_settings(
                    account.id,
                    &account.server,
                    &account.smtp,
                    &display_name,
                    account.pop3_delete,
                    Some(&account.server_capabilities),
                )?;
                return Err(err);
            }
        }
        // Kept connections were made with the old settings.
        self.forget(account.id);
        self.store.account_by_id(account.id)
    }

    /// Removes the account, everything cached for it and its password.
    pub fn remove_account(&self, account: &Account) -> Result<()> {
        self.forget(account.id);
        self.store.delete_account(&account.name)?;
        self.store.sweep_blobs()?;
        self.credentials.delete(&account.name)
    }

    /// An IMAP session on `server` with the account's password (a switch from POP3).
    pub async fn connect_to(
        &self,
        account: &Account,
        server: &ServerConfig,
    ) -> Result<ImapConnection> {
        let password = self.password(account)?;
        ImapConnection::connect(server, &password, &self.policy).await
    }
}

/// A control character (CR, LF, NUL...) in a user name or password would end the command
/// it travels in: `PASS pw` then `DELE 1`.
fn check_credential(what: &str, value: &str, fix: &str) -> Result<()> {
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "the {what} contains a control character (a line break, tab or NUL): {fix}"
        )));
    }
    Ok(())
}

fn validate(config: &AccountConfig, password: &str) -> Result<()> {
    let fix = "type it again without one";
    check_credential("user name", &config.server.username, fix)?;
    if let Some(smtp) = &config.smtp {
        check_credential("SMTP user name", &smtp.username, fix)?;
    }
    check_credential("password", password, fix)?;
    if config.name.trim().is_empty() {
        return Err(Error::invalid("the account needs a name"));
    }
    if !config.email.contains('@') {
        return Err(Error::invalid(format!(
            "'{}' is not an e-mail address",
            config.email
        )));
    }
    if config.server.host.trim().is_empty() {
        return Err(Error::invalid("the account needs a server host"));
    }
    if config.server.username.is_empty() {
        return Err(Error::invalid("the account needs a user name"));
    }
    if let Some(ca) = &config.server.ca_file {
        if !Path::new(ca).is_file() {
            return Err(Error::invalid(format!("CA file {ca} does not exist")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Security;

    fn config(user: &str, smtp_user: &str) -> AccountConfig {
        let server = |username: &str| ServerConfig {
            host: "mail.example.test".into(),
            port: 995,
            security: Security::Tls,
            username: username.into(),
            ca_file: None,
        };
        AccountConfig {
            name: "home".into(),
            email: "anna@example.test".into(),
            protocol: Protocol::Pop3,
            server: server(user),
            pop3_delete: Default::default(),
            display_name: String::new(),
            smtp: Some(server(smtp_user)),
        }
    }

    #[test]
    fn control_characters_in_credentials_are_refused() {
        for bad in [
            "pw\r\nDELE 1",
            "pw\nDELE 1",
            "pw\rQUIT",
            "pw\0admin",
            "pw\tx",
            "pw\x1b[2J",
            "pw\x7f",
            "pw\u{85}", // NEL, a C1 control
        ] {
            for (user, smtp_user, password, what) in [
                (bad, "anna", "secret", "user name"),
                ("anna", bad, "secret", "SMTP user name"),
                ("anna", "anna", bad, "password"),
            ] {
                let err = validate(&config(user, smtp_user), password).unwrap_err();
                assert_eq!(err.kind, ErrorKind::InvalidInput, "{bad:?}");
                assert!(
                    err.message
                        .contains(&format!("the {what} contains a control character")),
                    "{bad:?}: {}",
                    err.message
                );
                assert!(!err.message.contains(bad), "the error repeats the secret");
                assert_eq!(err.message.lines().count(), 1);
            }
        }
        // Spaces, quotes and any script are fine.
        validate(&config("anna smith", "anna"), "pä ss \"wörd\" 密码 ✓").unwrap();
    }
}
