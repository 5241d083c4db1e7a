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
use crate::credentials::{CredentialStore, Login};
use crate::error::{Error, ErrorKind, Result};
use crate::imap::ImapConnection;
use crate::model::{Account, AccountConfig, Protocol, ServerConfig};
use crate::net::ConnectPolicy;
use crate::oauth::{self, OAuthProvider, TokenClient, TokenStep, Tokens};
use crate::pop3::Pop3Connection;
use crate::store::Store;

/// Runs `$attempt` (an expression that may `.await`) with the account's login bound to
/// `$login`. A token the server refuses is replaced once (refreshed, or taken from a login
/// that refreshed it meanwhile) and the attempt made again. A macro, not a function
/// taking a closure: the futures it makes must stay `Send` for any lifetime.
macro_rules! with_login {
    ($sessions:expr, $account:expr, |$login:ident| $attempt:expr) => {{
        let sessions: &$crate::session::Sessions = $sessions;
        let account: &$crate::model::Account = $account;
        let $login = sessions.login(account).await?;
        let refused = match &$login {
            $crate::credentials::Login::Bearer { token, .. } => Some(token.clone()),
            $crate::credentials::Login::Password(_) => None,
        };
        match ($attempt, refused) {
            (Err(err), Some(refused)) if err.kind == $crate::error::ErrorKind::AuthFailed => {
                tracing::info!(account = %account.name, "token refused; refreshing once");
                let $login = sessions.login_refusing(account, Some(&refused)).await?;
                $attempt
            }
            (result, _) => result,
        }
    }};
}
pub(crate) use with_login;

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
    /// One token refresh at a time, so that two logins that find a token expired do not
    /// both spend the refresh token (providers may rotate it).
    refreshing: tokio::sync::Mutex<()>,
    token_client: std::sync::OnceLock<TokenClient>,
    pub sign_ins: oauth::SignIns,
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
            refreshing: tokio::sync::Mutex::new(()),
            token_client: std::sync::OnceLock::new(),
            sign_ins: oauth::SignIns::default(),
        }
    }

    pub fn token_client(&self) -> Result<&TokenClient> {
        if let Some(client) = self.token_client.get() {
            return Ok(client);
        }
        let client = TokenClient::new(None)?;
        Ok(self.token_client.get_or_init(|| client))
    }

    /// The account's password, or a clear error if none is stored. A user name or
    /// password with a control character is refused before anything is sent (the
    /// platform's store, or the database, may hold one an older version accepted).
    pub fn password(&self, account: &Account) -> Result<String> {
        if let Some(provider) = &account.oauth {
            return Err(Error::advised(
                ErrorKind::InvalidInput,
                crate::advice::Advice::new("oauth_account_has_no_password", &provider.name),
                format!(
                    "account '{}' signs in with {}, not a password",
                    account.name, provider.name
                ),
            ));
        }
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

    /// What the account logs in with: its password, or an access token that is fresh
    /// (refreshed first when it is about to expire).
    pub async fn login(&self, account: &Account) -> Result<Login> {
        self.login_refusing(account, None).await
    }

    /// `login`, knowing that a server just refused the access token `refused`.
    pub async fn login_refusing(&self, account: &Account, refused: Option<&str>) -> Result<Login> {
        let Some(provider) = &account.oauth else {
            return Ok(Login::Password(self.password(account)?));
        };
        let _one_at_a_time = self.refreshing.lock().await;
        let tokens = self
            .credentials
            .get(&account.name)?
            .as_deref()
            .and_then(Tokens::parse)
            .ok_or_else(|| oauth::sign_in_again(&provider.name, "no sign-in is stored"))?;
        let now = chrono::Utc::now().timestamp();
        let tokens = match oauth::token_step(now, &tokens, refused) {
            TokenStep::Use => tokens,
            TokenStep::Refresh => match self.token_client()?.refresh(provider, &tokens).await {
                Ok(fresh) => {
                    self.credentials.set(&account.name, &fresh.to_json())?;
                    tracing::info!(account = %account.name, "access token refreshed");
                    fresh
                }
                Err(err) if err.advice().id == "oauth_sign_in_again" => {
                    // Not asked again on every pass: the account waits for the user.
                    self.credentials
                        .set(&account.name, &tokens.revoked().to_json())?;
                    return Err(err);
                }
                Err(err) => return Err(err),
            },
            TokenStep::SignInAgain => {
                return Err(oauth::sign_in_again(
                    &provider.name,
                    "the last sign-in was refused",
                ))
            }
        };
        check_credential(
            "access token",
            &tokens.access_token,
            "nothing was sent; sign in again",
        )?;
        Ok(Login::Bearer {
            token: tokens.access_token,
            mechanism: provider.mechanism,
        })
    }

    /// A new IMAP connection to the account's server.
    pub async fn connect(&self, account: &Account) -> Result<ImapConnection> {
        self.connect_to(account, &account.server).await
    }

    pub async fn connect_pop3(&self, account: &Account) -> Result<Pop3Connection> {
        with_login!(self, account, |login| {
            Pop3Connection::connect_with(&account.server, &login, &self.policy).await
        })
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
        self.reconnect_push();
    }

    /// Push connections are rebuilt, each with its account's settings as they are now.
    fn reconnect_push(&self) {
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
        let login = match &edit.password {
            Some(_) if account.oauth.is_some() => {
                // The password check below says why.
                return Err(self.password(account).unwrap_err());
            }
            Some(password) => {
                check_credential("password", password, fix)?;
                Login::Password(password.clone())
            }
            None if plan.check_incoming || plan.check_smtp => self.login(account).await?,
            None => Login::Password(String::new()),
        };
        let caps = if plan.check_incoming {
            Some(
                self.check_incoming(account.protocol, &plan.server, &login)
                    .await?,
            )
        } else {
            None
        };
        if plan.check_smtp {
            crate::smtp::check_login_with(&plan.smtp, &login, &self.policy)
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
        // Connections were made with the old settings: kept ones are dropped, and push
        // (which holds its own) reconnects with the new ones.
        self.forget(account.id);
        if plan.check_incoming {
            self.reconnect_push();
        }
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
        with_login!(self, account, |login| {
            ImapConnection::connect_with(server, &login, &self.policy).await
        })
    }

    /// The server's capabilities after logging in to `server` with `login`, or why not.
    async fn check_incoming(
        &self,
        protocol: Protocol,
        server: &ServerConfig,
        login: &Login,
    ) -> Result<Vec<String>> {
        Ok(match protocol {
            Protocol::Imap => {
                let conn = ImapConnection::connect_with(server, login, &self.policy).await?;
                let caps = conn.capability_names().to_vec();
                conn.logout().await;
                caps
            }
            Protocol::Pop3 => {
                let conn = Pop3Connection::connect_with(server, login, &self.policy).await?;
                let caps = conn.caps.all.clone();
                conn.quit().await?;
                caps
            }
        })
    }

    /// Adds an account that signs in with `provider`: the tokens from the sign-in must
    /// open the incoming server and the SMTP server before anything is saved.
    pub async fn add_oauth_account(
        &self,
        config: AccountConfig,
        provider: OAuthProvider,
        tokens: Tokens,
    ) -> Result<Account> {
        validate(&config, &tokens.access_token)?;
        if self.store.account_by_name(&config.name).is_ok() {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("an account named '{}' already exists", config.name),
            ));
        }
        let login = Login::Bearer {
            token: tokens.access_token.clone(),
            mechanism: provider.mechanism,
        };
        let caps = self
            .check_incoming(config.protocol, &config.server, &login)
            .await?;
        if let Some(smtp) = &config.smtp {
            crate::smtp::check_login_with(smtp, &login, &self.policy)
                .await
                .map_err(|err| err.context("SMTP"))?;
        }
        let account = self
            .store
            .insert_account_signed_in(&config, &caps, Some(&provider))?;
        if account.protocol == Protocol::Pop3 {
            self.store.create_local_folders(account.id)?;
        }
        if let Err(err) = self.credentials.set(&account.name, &tokens.to_json()) {
            self.store.delete_account(&account.name)?;
            return Err(err);
        }
        Ok(account)
    }

    /// Replaces an OAuth2 account's tokens with those of a new sign-in, once its servers
    /// take them.
    pub async fn sign_in_again(&self, account: &Account, tokens: Tokens) -> Result<Account> {
        let Some(provider) = &account.oauth else {
            return Err(Error::invalid(format!(
                "account '{}' signs in with a password: change it in the account's settings",
                account.name
            )));
        };
        let login = Login::Bearer {
            token: tokens.access_token.clone(),
            mechanism: provider.mechanism,
        };
        self.check_incoming(account.protocol, &account.server, &login)
            .await?;
        crate::smtp::check_login_with(&account.smtp, &login, &self.policy)
            .await
            .map_err(|err| err.context("SMTP"))?;
        let _one_at_a_time = self.refreshing.lock().await;
        self.credentials.set(&account.name, &tokens.to_json())?;
        self.forget(account.id);
        self.store.account_by_id(account.id)
    }

    /// Tells the provider an OAuth2 account's grant is no longer wanted (before it is
    /// removed). Best effort.
    pub async fn revoke(&self, account: &Account) {
        let Some(provider) = &account.oauth else {
            return;
        };
        let tokens = self
            .credentials
            .get(&account.name)
            .ok()
            .flatten()
            .as_deref()
            .and_then(Tokens::parse);
        if let (Some(tokens), Ok(client)) = (tokens, self.token_client()) {
            client.revoke(provider, &tokens).await;
        }
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
