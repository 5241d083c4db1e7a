use rusqlite::{params, OptionalExtension, Row};

use super::Store;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{
    Account, AccountCapabilities, AccountConfig, Identity, MessageSummary, Pop3DeletePolicy,
    Protocol, RemoteContentScope, ServerConfig,
};
use crate::oauth::OAuthProvider;

const ACCOUNT_COLUMNS: &str =
    "id, name, email, protocol, host, port, security, username, ca_file, server_capabilities, pop3_delete,
     smtp_host, smtp_port, smtp_security, smtp_username, oauth";

fn account_from_row(row: &Row<'_>) -> rusqlite::Result<Account> {
    let protocol: String = row.get(3)?;
    let security: String = row.get(6)?;
    let ca_file: String = row.get(8)?;
    let caps: String = row.get(9)?;
    // CHECK constraints keep these columns valid.
    let protocol: Protocol = protocol.parse().unwrap_or(Protocol::Imap);
    let server = ServerConfig {
        host: row.get(4)?,
        port: row.get(5)?,
        security: security.parse().unwrap_or(crate::model::Security::Tls),
        username: row.get(7)?,
        ca_file: (!ca_file.is_empty()).then_some(ca_file),
    };
    let smtp_host: String = row.get(11)?;
    let smtp = if smtp_host.is_empty() {
        server.derived_smtp()
    } else {
        ServerConfig {
            host: smtp_host,
            port: row.get(12)?,
            security: row
                .get::<_, String>(13)?
                .parse()
                .unwrap_or(crate::model::Security::Tls),
            username: row.get(14)?,
            ca_file: server.ca_file.clone(),
        }
    };
    Ok(Account {
        id: row.get(0)?,
        name: row.get(1)?,
        email: row.get(2)?,
        protocol,
        server,
        capabilities: AccountCapabilities::for_protocol(protocol),
        server_capabilities: caps.split_whitespace().map(str::to_owned).collect(),
        pop3_delete: row
            .get::<_, String>(10)?
            .parse()
            .unwrap_or(Pop3DeletePolicy::Never),
        smtp,
        identities: Vec::new(),
        // Written only from an `OAuthProvider`; unreadable JSON would mean a newer
        // version's, and the login then says what is missing.
        oauth: serde_json::from_str(&row.get::<_, String>(15)?).ok(),
    })
}

impl Store {
    fn with_identities(&self, mut account: Account) -> Result<Account> {
        account.identities = self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT name, email FROM identity WHERE account_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([account.id], |r| {
                Ok(Identity {
                    name: r.get(0)?,
                    email: r.get(1)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })?;
        Ok(account)
    }

    /// Adds an address the account may send from (or renames an existing one).
    pub fn add_identity(&self, account_id: i64, name: &str, email: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO identity (account_id, name, email) VALUES (?1, ?2, ?3)
                 ON CONFLICT (account_id, email) DO UPDATE SET name = excluded.name",
                params![account_id, name, email],
            )?;
            Ok(())
        })
    }
}

impl Store {
    pub fn insert_account(
        &self,
        config: &AccountConfig,
        server_caps: &[String],
    ) -> Result<Account> {
        self.insert_account_signed_in(config, server_caps, None)
    }

    /// A new account; with `oauth`, one that signs in with that provider.
    pub fn insert_account_signed_in(
        &self,
        config: &AccountConfig,
        server_caps: &[String],
        oauth: Option<&OAuthProvider>,
    ) -> Result<Account> {
        let id = self.write(|tx| {
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM account WHERE name = ?1)",
                [&config.name],
                |r| r.get(0),
            )?;
            if exists {
                return Err(Error::new(
                    ErrorKind::AlreadyExists,
                    format!("an account named '{}' already exists", config.name),
                ));
            }
            tx.execute(
                "INSERT INTO account (name, email, protocol, host, port, security, username, ca_file,
                                      server_capabilities, pop3_delete,
                                      smtp_host, smtp_port, smtp_security, smtp_username, oauth)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                params![
                    config.name,
                    config.email,
                    config.protocol.as_str(),
                    config.server.host,
                    config.server.port,
                    config.server.security.as_str(),
                    config.server.username,
                    config.server.ca_file.clone().unwrap_or_default(),
                    server_caps.join(" "),
                    config.pop3_delete.to_string(),
                    config.smtp.as_ref().map(|s| s.host.as_str()).unwrap_or(""),
                    config.smtp.as_ref().map(|s| s.port).unwrap_or(0),
                    config.smtp.as_ref().map(|s| s.security.as_str()).unwrap_or(""),
                    config.smtp.as_ref().map(|s| s.username.as_str()).unwrap_or(""),
                    oauth
                        .map(|p| serde_json::to_string(p).unwrap_or_default())
                        .unwrap_or_default(),
                ],
            )?;
            let id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO identity (account_id, name, email) VALUES (?1, ?2, ?3)",
                params![id, config.display_name, config.email],
            )?;
            Ok(id)
        })?;
        self.account_by_id(id)
    }

    pub fn accounts(&self) -> Result<Vec<Account>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM account ORDER BY name"
            ))?;
            let rows = stmt.query_map([], account_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })?
        .into_iter()
        .map(|a| self.with_identities(a))
        .collect()
    }

    pub fn account_by_id(&self, id: i64) -> Result<Account> {
        self.read(|conn| {
            conn.query_row(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM account WHERE id = ?1"),
                [id],
                account_from_row,
            )
            .optional()?
            .ok_or_else(|| Error::not_found(format!("account {id}")))
        })
        .and_then(|a| self.with_identities(a))
    }

    pub fn account_by_name(&self, name: &str) -> Result<Account> {
        self.read(|conn| {
            conn.query_row(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM account WHERE name = ?1"),
                [name],
                account_from_row,
            )
            .optional()?
            .ok_or_else(|| Error::not_found(format!("account '{name}'")))
        })
        .and_then(|a| self.with_identities(a))
    }

    /// Saves an account's changed settings in one transaction: its servers (SMTP always
    /// explicit from now on), the first identity's display name, the POP3 policy and,
    /// when a login was just checked, what the server announced.
    pub fn update_account_settings(
        &self,
        account_id: i64,
        server: &ServerConfig,
        smtp: &ServerConfig,
        display_name: &str,
        pop3_delete: Pop3DeletePolicy,
        server_caps: Option<&[String]>,
    ) -> Result<()> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE account SET host = ?2, port = ?3, security = ?4, username = ?5, ca_file = ?6,
                        pop3_delete = ?7, smtp_host = ?8, smtp_port = ?9, smtp_security = ?10,
                        smtp_username = ?11
                 WHERE id = ?1",
                params![
                    account_id,
                    server.host,
                    server.port,
                    server.security.as_str(),
                    server.username,
                    server.ca_file.clone().unwrap_or_default(),
                    pop3_delete.to_string(),
                    smtp.host,
                    smtp.port,
                    smtp.security.as_str(),
                    smtp.username,
                ],
            )?;
            if n == 0 {
                return Err(Error::not_found(format!("account {account_id}")));
            }
            if let Some(caps) = server_caps {
                tx.execute(
                    "UPDATE account SET server_capabilities = ?2 WHERE id = ?1",
                    params![account_id, caps.join(" ")],
                )?;
            }
            tx.execute(
                "UPDATE identity SET name = ?2
                 WHERE id = (SELECT min(id) FROM identity WHERE account_id = ?1)",
                params![account_id, display_name],
            )?;
            Ok(())
        })
    }

    /// Removes the account and, through foreign keys, everything cached for it.
    pub fn delete_account(&self, name: &str) -> Result<()> {
        self.write(|tx| {
            let n = tx.execute("DELETE FROM account WHERE name = ?1", [name])?;
            if n == 0 {
                return Err(Error::not_found(format!("account '{name}'")));
            }
            Ok(())
        })
    }

    /// How the account's server names folders.
    pub fn naming(&self, account_id: i64) -> Result<crate::mail::mailbox_name::Naming> {
        self.read(|conn| super::local::naming(conn, account_id))
    }

    /// Records how the server names folders, and shows every folder by it.
    pub fn set_naming(
        &self,
        account_id: i64,
        naming: &crate::mail::mailbox_name::Naming,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE account SET namespace_prefix = ?2, namespace_delimiter = ?3 WHERE id = ?1",
                params![account_id, naming.prefix, naming.delimiter],
            )?;
            let folders: Vec<(i64, String)> = {
                let mut stmt =
                    tx.prepare_cached("SELECT id, remote_name FROM folder WHERE account_id = ?1")?;
                let rows = stmt.query_map([account_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            for (id, remote) in folders {
                tx.execute(
                    "UPDATE folder SET name = ?2, delimiter = ?3 WHERE id = ?1",
                    params![id, naming.display(&remote), naming.delimiter],
                )?;
            }
            Ok(())
        })
    }

    pub fn set_server_capabilities(&self, account_id: i64, caps: &[String]) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE account SET server_capabilities = ?2 WHERE id = ?1",
                params![account_id, caps.join(" ")],
            )?;
            Ok(())
        })
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        self.read(|conn| {
            Ok(conn
                .query_row("SELECT value FROM setting WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?)
        })
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO setting (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )?;
            Ok(())
        })
    }
}

/// The key a message's allowance is stored under: its Message-ID, or its row.
pub fn remote_content_key(scope: RemoteContentScope, summary: &MessageSummary) -> String {
    match scope {
        RemoteContentScope::Message if summary.message_id.is_empty() => {
            format!("id:{}", summary.id)
        }
        RemoteContentScope::Message => summary.message_id.clone(),
        RemoteContentScope::Sender => summary.from.address.trim().to_lowercase(),
    }
}

impl Store {
    /// Allows (or, with `allowed` false, stops allowing) remote content for a message or
    /// its sender.
    pub fn set_remote_content(
        &self,
        summary: &MessageSummary,
        account_id: i64,
        scope: RemoteContentScope,
        allowed: bool,
    ) -> Result<()> {
        let key = remote_content_key(scope, summary);
        self.write(|tx| {
            if allowed {
                tx.execute(
                    "INSERT OR IGNORE INTO remote_content_allowed (account_id, scope, value)
                     VALUES (?1, ?2, ?3)",
                    params![account_id, scope.as_str(), key],
                )?;
            } else {
                tx.execute(
                    "DELETE FROM remote_content_allowed
                     WHERE account_id = ?1 AND scope = ?2 AND value = ?3",
                    params![account_id, scope.as_str(), key],
                )?;
            }
            Ok(())
        })
    }

    /// Whether the user allowed remote content for this message or its sender.
    pub fn remote_content_allowed(
        &self,
        summary: &MessageSummary,
        account_id: i64,
    ) -> Result<bool> {
        let message = remote_content_key(RemoteContentScope::Message, summary);
        let sender = remote_content_key(RemoteContentScope::Sender, summary);
        self.read(|conn| {
            Ok(conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM remote_content_allowed WHERE account_id = ?1
                     AND ((scope = 'message' AND value = ?2) OR (scope = 'sender' AND value = ?3)))",
                params![account_id, message, sender],
                |r| r.get(0),
            )?)
        })
    }
}
