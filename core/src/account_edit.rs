//! Changing an account that exists (a settings screen, `brevdue account edit`): what the
//! change makes of the account, and which logins must pass before anything is saved.

use crate::error::{Error, Result};
use crate::model::{Account, Pop3DeletePolicy, Security, ServerConfig};
use crate::setup::filled;

/// What a settings screen changes; absent fields stay as they are, and blank text is
/// the same as absent (except `ca_file`, where blank removes the extra certificate).
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct AccountEdit {
    /// The name shown in From, for the account's first address.
    pub display_name: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub security: Option<Security>,
    pub username: Option<String>,
    /// One extra PEM file of trusted certificates for both servers; blank removes it.
    pub ca_file: Option<String>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_security: Option<Security>,
    pub smtp_username: Option<String>,
    /// A new password, for both servers.
    pub password: Option<String>,
    pub pop3_delete: Option<Pop3DeletePolicy>,
}

/// The account as the edit leaves it, and what must be checked first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditPlan {
    pub server: ServerConfig,
    pub smtp: ServerConfig,
    pub display_name: String,
    pub pop3_delete: Pop3DeletePolicy,
    /// The incoming server must accept the login before the edit is saved.
    pub check_incoming: bool,
    /// The SMTP server must accept the login before the edit is saved.
    pub check_smtp: bool,
}

/// The port after a change of security: a port that was the old security's usual one
/// becomes the new one's; a port the user chose stays.
fn port_after(port: Option<u16>, current: u16, was_default: bool, new_default: u16) -> u16 {
    match port {
        Some(port) => port,
        None if was_default => new_default,
        None => current,
    }
}

impl AccountEdit {
    /// What the account becomes. SMTP settings that followed the incoming server (the
    /// same host, the same user name) follow its change.
    pub fn plan(&self, account: &Account) -> Result<EditPlan> {
        if self.port == Some(0) || self.smtp_port == Some(0) {
            return Err(Error::invalid("port 0 is not a port"));
        }
        let old = &account.server;
        let security = self.security.unwrap_or(old.security);
        let was_default = old.port == ServerConfig::default_port(account.protocol, old.security);
        let server = ServerConfig {
            host: filled(&self.host).unwrap_or_else(|| old.host.clone()),
            port: port_after(
                self.port,
                old.port,
                was_default,
                ServerConfig::default_port(account.protocol, security),
            ),
            security,
            username: filled(&self.username).unwrap_or_else(|| old.username.clone()),
            ca_file: match &self.ca_file {
                Some(_) => filled(&self.ca_file),
                None => old.ca_file.clone(),
            },
        };
        let old_smtp = &account.smtp;
        let smtp_security = self.smtp_security.unwrap_or(old_smtp.security);
        let smtp_was_default = old_smtp.port == ServerConfig::default_smtp_port(old_smtp.security);
        let follow =
            |given: &Option<String>, current: &str, incoming_old: &str, incoming_new: &str| {
                filled(given).unwrap_or_else(|| match current == incoming_old {
                    true => incoming_new.to_owned(),
                    false => current.to_owned(),
                })
            };
        let smtp = ServerConfig {
            host: follow(&self.smtp_host, &old_smtp.host, &old.host, &server.host),
            port: port_after(
                self.smtp_port,
                old_smtp.port,
                smtp_was_default,
                ServerConfig::default_smtp_port(smtp_security),
            ),
            security: smtp_security,
            username: follow(
                &self.smtp_username,
                &old_smtp.username,
                &old.username,
                &server.username,
            ),
            ca_file: server.ca_file.clone(),
        };
        let password = self.password.is_some();
        Ok(EditPlan {
            check_incoming: password || server != *old,
            check_smtp: password || smtp != *old_smtp,
            server,
            smtp,
            display_name: match &self.display_name {
                Some(name) => name.trim().to_owned(),
                None => account
                    .identities
                    .first()
                    .map(|i| i.name.clone())
                    .unwrap_or_default(),
            },
            pop3_delete: self.pop3_delete.unwrap_or(account.pop3_delete),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccountCapabilities, Identity, Protocol};

    fn account() -> Account {
        let server = ServerConfig {
            host: "imap.example.no".into(),
            port: 993,
            security: Security::Tls,
            username: "kari@example.no".into(),
            ca_file: None,
        };
        Account {
            id: 1,
            name: "kari".into(),
            email: "kari@example.no".into(),
            protocol: Protocol::Imap,
            smtp: server.derived_smtp(),
            server,
            capabilities: AccountCapabilities::for_protocol(Protocol::Imap),
            server_capabilities: Vec::new(),
            pop3_delete: Pop3DeletePolicy::Never,
            identities: vec![Identity {
                name: "Kari".into(),
                email: "kari@example.no".into(),
            }],
            oauth: None,
        }
    }

    #[test]
    fn what_an_edit_checks_and_changes() {
        struct Case {
            what: &'static str,
            edit: AccountEdit,
            incoming: (&'static str, u16, Security),
            smtp: (&'static str, u16, Security),
            check_incoming: bool,
            check_smtp: bool,
        }
        let a = account();
        let cases = [
            Case {
                what: "nothing",
                edit: AccountEdit::default(),
                incoming: ("imap.example.no", 993, Security::Tls),
                smtp: ("imap.example.no", 465, Security::Tls),
                check_incoming: false,
                check_smtp: false,
            },
            Case {
                what: "a display name and the POP3 policy need no login",
                edit: AccountEdit {
                    display_name: Some("Kari N.".into()),
                    pop3_delete: Some(Pop3DeletePolicy::AfterDownload),
                    ..Default::default()
                },
                incoming: ("imap.example.no", 993, Security::Tls),
                smtp: ("imap.example.no", 465, Security::Tls),
                check_incoming: false,
                check_smtp: false,
            },
            Case {
                what: "a new password is checked on both servers",
                edit: AccountEdit {
                    password: Some("new".into()),
                    ..Default::default()
                },
                incoming: ("imap.example.no", 993, Security::Tls),
                smtp: ("imap.example.no", 465, Security::Tls),
                check_incoming: true,
                check_smtp: true,
            },
            Case {
                what: "SMTP that followed the incoming host follows its change",
                edit: AccountEdit {
                    host: Some(" mail.example.no ".into()),
                    ..Default::default()
                },
                incoming: ("mail.example.no", 993, Security::Tls),
                smtp: ("mail.example.no", 465, Security::Tls),
                check_incoming: true,
                check_smtp: true,
            },
            Case {
                what: "993 with TLS + 587 with STARTTLS: the usual port goes with the security",
                edit: AccountEdit {
                    smtp_host: Some("smtp.example.no".into()),
                    smtp_security: Some(Security::StartTls),
                    ..Default::default()
                },
                incoming: ("imap.example.no", 993, Security::Tls),
                smtp: ("smtp.example.no", 587, Security::StartTls),
                check_incoming: false,
                check_smtp: true,
            },
            Case {
                what: "a port the user gives stays",
                edit: AccountEdit {
                    security: Some(Security::StartTls),
                    port: Some(1143),
                    ..Default::default()
                },
                incoming: ("imap.example.no", 1143, Security::StartTls),
                smtp: ("imap.example.no", 465, Security::Tls),
                check_incoming: true,
                check_smtp: false,
            },
            Case {
                what: "blank fields change nothing",
                edit: AccountEdit {
                    host: Some("  ".into()),
                    smtp_host: Some(String::new()),
                    ..Default::default()
                },
                incoming: ("imap.example.no", 993, Security::Tls),
                smtp: ("imap.example.no", 465, Security::Tls),
                check_incoming: false,
                check_smtp: false,
            },
        ];
        for case in cases {
            let plan = case.edit.plan(&a).expect(case.what);
            let got = |s: &ServerConfig| (s.host.clone(), s.port, s.security);
            let want = |(h, p, s): (&str, u16, Security)| (h.to_owned(), p, s);
            assert_eq!(got(&plan.server), want(case.incoming), "{}", case.what);
            assert_eq!(got(&plan.smtp), want(case.smtp), "{}", case.what);
            assert_eq!(plan.check_incoming, case.check_incoming, "{}", case.what);
            assert_eq!(plan.check_smtp, case.check_smtp, "{}", case.what);
        }
    }

    #[test]
    fn names_and_certificates() {
        let a = account();
        let plan = AccountEdit::default().plan(&a).unwrap();
        assert_eq!(plan.display_name, "Kari");
        assert_eq!(plan.pop3_delete, Pop3DeletePolicy::Never);
        let plan = AccountEdit {
            ca_file: Some("/etc/ca.pem".into()),
            ..Default::default()
        }
        .plan(&a)
        .unwrap();
        assert_eq!(plan.server.ca_file.as_deref(), Some("/etc/ca.pem"));
        assert_eq!(plan.smtp.ca_file.as_deref(), Some("/etc/ca.pem"));
        assert!(plan.check_incoming && plan.check_smtp);
        let mut with_ca = a.clone();
        with_ca.server.ca_file = Some("/etc/ca.pem".into());
        let plan = AccountEdit {
            ca_file: Some(String::new()),
            ..Default::default()
        }
        .plan(&with_ca)
        .unwrap();
        assert_eq!(plan.server.ca_file, None);
        let err = AccountEdit {
            port: Some(0),
            ..Default::default()
        }
        .plan(&a)
        .unwrap_err();
        assert_eq!(err.kind, crate::error::ErrorKind::InvalidInput);
    }
}
