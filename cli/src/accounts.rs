//! `brevdue account …`: adding, listing, switching and removing accounts.

use std::path::PathBuf;

use brevdue_core::account_edit::AccountEdit;
use brevdue_core::setup::AccountDraft;
use brevdue_core::{Engine, Error, Protocol, Result, Security, ServerConfig};
use clap::Subcommand;
use serde_json::Value;

use crate::{output, print_json, printable};

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run
pub enum AccountCommand {
    /// Checks the login, then saves the account. A failure saves nothing. Without
    /// --host the servers are found from the address (as `account discover`).
    Add {
        name: String,
        #[arg(long)]
        email: String,
        /// imap or pop3 (default: imap; without --host, what discovery prefers).
        #[arg(long)]
        protocol: Option<String>,
        #[arg(long)]
        host: Option<String>,
        #[arg(long)]
        port: Option<u16>,
        /// tls, starttls, or plain (plain sends the password unencrypted). Default: by
        /// --port (143 and 110 mean starttls), else tls.
        #[arg(long)]
        security: Option<String>,
        /// Login name (default: --email).
        #[arg(long)]
        user: Option<String>,
        /// Name of the environment variable that holds the password (or give --oauth).
        #[arg(long, required_unless_present = "oauth", conflicts_with = "oauth")]
        password_env: Option<String>,
        /// Sign in through the browser instead of a password: google, microsoft, yahoo,
        /// aol, or an OAuth2 issuer URL (then with --oauth-client-id).
        #[arg(long)]
        oauth: Option<String>,
        /// The app's client id at the provider (default: the one this build has).
        #[arg(long, requires = "oauth")]
        oauth_client_id: Option<String>,
        /// xoauth2 (default) or oauthbearer, for IMAP and POP3.
        #[arg(long, requires = "oauth")]
        oauth_mechanism: Option<String>,
        /// Scopes to ask for instead of the provider's (repeatable).
        #[arg(long = "oauth-scope", requires = "oauth")]
        oauth_scopes: Vec<String>,
        /// Extra trusted CA certificate (PEM), on top of the system's.
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// POP3 only: delete-after-download, never, after-days:N or when-deleted-here.
        #[arg(long, default_value = "never")]
        pop3_delete: String,
        /// The name shown in From.
        #[arg(long, default_value = "")]
        display_name: String,
        /// SMTP server (default: the mail server's host; port 465 or 587 by security).
        #[arg(long)]
        smtp_host: Option<String>,
        #[arg(long)]
        smtp_port: Option<u16>,
        /// tls, starttls or plain (default: by --smtp-port, else as the mail server).
        #[arg(long)]
        smtp_security: Option<String>,
        /// SMTP login (default: --user).
        #[arg(long)]
        smtp_user: Option<String>,
    },
    /// Sign in again, through the browser, to an account that signs in with OAuth2 (after
    /// the provider refused or revoked its sign-in). The old sign-in stays until the
    /// servers take the new one.
    SignIn {
        name: String,
    },
    /// Move a POP3 account to IMAP on the same server, keeping read state, flags,
    /// folders and mail the server no longer has.
    SwitchToImap {
        name: String,
        /// IMAP host (default: the POP3 host).
        #[arg(long)]
        host: Option<String>,
        /// IMAP port (default: 993 with tls, else 143).
        #[arg(long)]
        port: Option<u16>,
        /// tls, starttls or plain (default: as the POP3 account).
        #[arg(long)]
        security: Option<String>,
    },
    /// Add an address the account sends from (or change its display name).
    Identity {
        name: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "")]
        display_name: String,
    },
    /// Change an account's settings. A new password (--password-env) or server is
    /// checked by logging in first; a failure changes nothing. SMTP settings that
    /// followed the mail server follow its change.
    Edit {
        name: String,
        #[arg(long)]
        host: Option<String>,
        #[arg(long)]
        port: Option<u16>,
        /// tls, starttls or plain; the port follows when it was the usual one.
        #[arg(long)]
        security: Option<String>,
        #[arg(long)]
        user: Option<String>,
        /// Name of the environment variable that holds the new password.
        #[arg(long)]
        password_env: Option<String>,
        /// Extra trusted CA certificate (PEM); an empty value removes it.
        #[arg(long)]
        ca_file: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        smtp_host: Option<String>,
        #[arg(long)]
        smtp_port: Option<u16>,
        #[arg(long)]
        smtp_security: Option<String>,
        #[arg(long)]
        smtp_user: Option<String>,
        /// POP3 only: delete-after-download, never, after-days:N or when-deleted-here.
        #[arg(long)]
        pop3_delete: Option<String>,
    },
    /// Finds the servers for an address (provider autoconfig, ISPDB, MX, SRV, guesses)
    /// and prints them as JSON. No password is involved.
    Discover {
        #[arg(long)]
        email: String,
        /// Extra trusted CA certificate (PEM), on top of the system's.
        #[arg(long)]
        ca_file: Option<PathBuf>,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Remove {
        name: String,
    },
}

pub fn run(engine: &Engine, command: AccountCommand) -> Result<()> {
    match command {
        AccountCommand::Add {
            name,
            email,
            protocol,
            host,
            port,
            security,
            user,
            password_env,
            oauth,
            oauth_client_id,
            oauth_mechanism,
            oauth_scopes,
            ca_file,
            pop3_delete,
            display_name,
            smtp_host,
            smtp_port,
            smtp_security,
            smtp_user,
        } => {
            let password = password_env
                .map(|var| {
                    std::env::var(&var).map_err(|_| {
                        Error::invalid(format!("environment variable {var} is not set"))
                    })
                })
                .transpose()?;
            let protocol: Option<Protocol> = protocol.as_deref().map(str::parse).transpose()?;
            let security: Option<Security> = security.as_deref().map(str::parse).transpose()?;
            let ca_file = ca_file.map(|p| p.to_string_lossy().into_owned());
            let draft = match host {
                Some(host) => AccountDraft {
                    name: Some(name),
                    email: Some(email),
                    display_name: Some(display_name),
                    protocol: Some(protocol.unwrap_or(Protocol::Imap)),
                    host: Some(host),
                    port,
                    security,
                    username: user,
                    ca_file,
                    smtp_host,
                    smtp_port,
                    smtp_security: smtp_security.as_deref().map(str::parse).transpose()?,
                    smtp_username: smtp_user,
                    pop3_delete: Some(pop3_delete.parse()?),
                },
                None => {
                    // The servers come from discovery; --security plain only accepts
                    // a plaintext-only result.
                    let server_flag = port.is_some()
                        || security.is_some_and(|s| s != Security::Plain)
                        || smtp_host.is_some()
                        || smtp_port.is_some()
                        || smtp_security.is_some();
                    if server_flag {
                        return Err(Error::invalid(
                            "--port, --security tls|starttls and --smtp-host/--smtp-port/\
                             --smtp-security need --host (without it the servers are found \
                             from the address)",
                        ));
                    }
                    let found = crate::discovery::draft_for_add(
                        engine,
                        &email,
                        ca_file,
                        protocol,
                        security == Some(Security::Plain),
                    )?;
                    AccountDraft {
                        name: Some(name),
                        display_name: Some(display_name),
                        username: user.or(found.username.clone()),
                        smtp_username: smtp_user.or(found.smtp_username.clone()),
                        pop3_delete: Some(pop3_delete.parse()?),
                        ..found
                    }
                }
            };
            let config = draft.resolve()?;
            let account = match (password, oauth) {
                (Some(password), _) => engine.block_on(engine.add_account(config, password))??,
                (None, Some(oauth)) => {
                    let provider = crate::oauth::provider(
                        engine,
                        &oauth,
                        oauth_client_id.as_deref(),
                        oauth_mechanism.as_deref(),
                        oauth_scopes,
                    )?;
                    let start = crate::oauth::begin(engine, &config.email, provider)?;
                    engine.block_on(engine.add_oauth_account(config, start.state, None))??
                }
                (None, None) => return Err(Error::invalid("give --password-env or --oauth")),
            };
            errln!(
                "added account '{}' ({} at {}:{})",
                account.name,
                account.protocol.as_str(),
                account.server.host,
                account.server.port
            );
        }
        AccountCommand::Edit {
            name,
            host,
            port,
            security,
            user,
            password_env,
            ca_file,
            display_name,
            smtp_host,
            smtp_port,
            smtp_security,
            smtp_user,
            pop3_delete,
        } => {
            let password = match password_env {
                Some(var) => Some(std::env::var(&var).map_err(|_| {
                    Error::invalid(format!("environment variable {var} is not set"))
                })?),
                None => None,
            };
            let edit = AccountEdit {
                display_name,
                host,
                port,
                security: security.as_deref().map(str::parse).transpose()?,
                username: user,
                ca_file,
                smtp_host,
                smtp_port,
                smtp_security: smtp_security.as_deref().map(str::parse).transpose()?,
                smtp_username: smtp_user,
                password,
                pop3_delete: pop3_delete.as_deref().map(str::parse).transpose()?,
            };
            let account = engine.block_on(engine.edit_account(name, edit))??;
            errln!(
                "changed account '{}' ({} at {}:{}, sending through {}:{})",
                account.name,
                account.protocol.as_str(),
                account.server.host,
                account.server.port,
                account.smtp.host,
                account.smtp.port
            );
        }
        AccountCommand::Discover { email, ca_file } => {
            let ca_file = ca_file.map(|p| p.to_string_lossy().into_owned());
            let found = crate::discovery::discover(engine, &email, ca_file)?;
            print_json(&crate::discovery::discovery_json(&found));
        }
        AccountCommand::List { json } => {
            let accounts = engine.accounts()?;
            if json {
                print_json(&Value::Array(
                    accounts.iter().map(output::account_json).collect(),
                ));
            } else {
                for a in &accounts {
                    outln!(
                        "{}\t{}\t{}\t{}:{}\t{}",
                        printable::field(&a.name),
                        printable::field(&a.email),
                        a.protocol.as_str(),
                        printable::field(&a.server.host),
                        a.server.port,
                        a.server.security.as_str()
                    );
                }
            }
        }
        AccountCommand::SwitchToImap {
            name,
            host,
            port,
            security,
        } => {
            let imap = if host.is_some() || port.is_some() || security.is_some() {
                let account = engine.account(&name)?;
                let security: Security = match security {
                    Some(s) => s.parse()?,
                    None => account.server.security,
                };
                Some(ServerConfig {
                    host: host.unwrap_or(account.server.host.clone()),
                    port: port
                        .unwrap_or_else(|| ServerConfig::default_port(Protocol::Imap, security)),
                    security,
                    ..account.server
                })
            } else {
                None
            };
            let r = engine.block_on(engine.switch_to_imap(&name, imap))??;
            errln!(
                "'{name}' now uses IMAP: {} message(s) matched on the server, {} uploaded, \
             {} filed into folders, {} with read state or flags set, {} folder(s) created",
                r.matched,
                r.uploaded,
                r.moved,
                r.flags_set,
                r.folders_created
            );
        }
        AccountCommand::Identity {
            name,
            email,
            display_name,
        } => engine.add_identity(&name, &display_name, &email)?,
        AccountCommand::SignIn { name } => {
            let account = engine.account(&name)?;
            let provider = account.oauth.clone().ok_or_else(|| {
                Error::invalid(format!(
                    "account '{name}' signs in with a password: change it with `account edit --password-env`"
                ))
            })?;
            let start = crate::oauth::begin(engine, &account.email, provider)?;
            engine.block_on(engine.sign_in_again(name, start.state, None))??;
            errln!("signed in again to account '{}'", account.name);
        }
        AccountCommand::Remove { name } => {
            engine.block_on(engine.remove_account(name.clone()))??;
            errln!("removed account '{name}'");
        }
    }
    Ok(())
}
