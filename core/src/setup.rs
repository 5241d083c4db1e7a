//! From what a person filled in to a complete account: every default of a new account in
//! one place, for every front end and the CLI. (Finding servers from the address alone
//! plugs in here.)

use crate::advice::Advice;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{AccountConfig, Pop3DeletePolicy, Protocol, Security, ServerConfig};

/// An account as a form holds it: every field optional, blank the same as absent.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct AccountDraft {
    /// The account's name in the app; the address if absent.
    pub name: Option<String>,
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// IMAP if absent: when in doubt, IMAP.
    pub protocol: Option<Protocol>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub security: Option<Security>,
    /// The address if absent.
    pub username: Option<String>,
    /// One extra PEM file of trusted certificates, for both servers.
    pub ca_file: Option<String>,
    /// The incoming server's host if absent. With no SMTP field at all the account sends
    /// through the incoming server's host (`ServerConfig::derived_smtp`).
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_security: Option<Security>,
    /// The incoming user name if absent.
    pub smtp_username: Option<String>,
    pub pop3_delete: Option<Pop3DeletePolicy>,
}

/// The text of a form field, trimmed; blank is the same as absent.
pub(crate) fn filled(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The security a well-known port implies (a form that gave only "587" means STARTTLS).
fn security_of_port(port: u16) -> Option<Security> {
    match port {
        993 | 995 | 465 => Some(Security::Tls),
        143 | 110 | 587 => Some(Security::StartTls),
        _ => None,
    }
}

impl AccountDraft {
    /// The complete configuration, or advice on the first field that needs the user.
    pub fn resolve(&self) -> Result<AccountConfig> {
        let email = filled(&self.email).ok_or_else(|| {
            Error::advised(
                ErrorKind::InvalidInput,
                Advice::new("account_needs_email", ""),
                "the account needs an e-mail address",
            )
        })?;
        let domain = match email.rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() && domain.contains('.') => {
                domain.to_ascii_lowercase()
            }
            _ => {
                return Err(Error::advised(
                    ErrorKind::InvalidInput,
                    Advice::new("address_invalid", email.clone()),
                    format!("'{email}' is not an e-mail address"),
                ))
            }
        };
        let host = filled(&self.host).ok_or_else(|| {
            Error::advised(
                ErrorKind::InvalidInput,
                Advice::new("account_needs_server", domain.clone()),
                format!("the account needs its incoming mail server (for {domain})"),
            )
        })?;
        let protocol = self.protocol.unwrap_or(Protocol::Imap);
        let security = self
            .security
            .or_else(|| self.port.and_then(security_of_port))
            .unwrap_or(Security::Tls);
        let server = ServerConfig {
            host,
            port: self
                .port
                .unwrap_or_else(|| ServerConfig::default_port(protocol, security)),
            security,
            username: filled(&self.username).unwrap_or_else(|| email.clone()),
            ca_file: filled(&self.ca_file),
        };
        let smtp_given = filled(&self.smtp_host).is_some()
            || self.smtp_port.is_some()
            || self.smtp_security.is_some()
            || filled(&self.smtp_username).is_some();
        // Nothing said about sending: the incoming server's host, login and security
        // (`ServerConfig::derived_smtp`), as most providers expect.
        let smtp = smtp_given.then(|| {
            let derived = server.derived_smtp();
            let security = self
                .smtp_security
                .or_else(|| self.smtp_port.and_then(security_of_port))
                .unwrap_or(derived.security);
            ServerConfig {
                host: filled(&self.smtp_host).unwrap_or(derived.host),
                port: self
                    .smtp_port
                    .unwrap_or_else(|| ServerConfig::default_smtp_port(security)),
                security,
                username: filled(&self.smtp_username).unwrap_or(derived.username),
                ca_file: derived.ca_file,
            }
        });
        Ok(AccountConfig {
            name: filled(&self.name).unwrap_or_else(|| email.clone()),
            email,
            protocol,
            server,
            pop3_delete: self.pop3_delete.unwrap_or_default(),
            display_name: filled(&self.display_name).unwrap_or_default(),
            smtp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(email: &str, host: &str) -> AccountDraft {
        AccountDraft {
            email: Some(email.into()),
            host: Some(host.into()),
            ..AccountDraft::default()
        }
    }

    fn server(host: &str, port: u16, security: Security, username: &str) -> ServerConfig {
        ServerConfig {
            host: host.into(),
            port,
            security,
            username: username.into(),
            ca_file: None,
        }
    }

    #[test]
    fn an_address_and_a_server_are_enough() {
        let config = draft(" kari@eksempel.no ", "imap.eksempel.no")
            .resolve()
            .unwrap();
        assert_eq!(config.name, "kari@eksempel.no");
        assert_eq!(config.email, "kari@eksempel.no");
        assert_eq!(config.protocol, Protocol::Imap);
        assert_eq!(config.display_name, "");
        assert_eq!(config.pop3_delete, Pop3DeletePolicy::Never);
        let user = "kari@eksempel.no";
        assert_eq!(
            config.server,
            server("imap.eksempel.no", 993, Security::Tls, user)
        );
        assert_eq!(config.smtp, None, "nothing said about sending");
        assert_eq!(
            config.server.derived_smtp(),
            server("imap.eksempel.no", 465, Security::Tls, user)
        );
    }

    #[test]
    fn ports_and_security_fill_each_other_in() {
        // (protocol, port, security, smtp port, smtp security) → (port, security,
        // smtp port, smtp security)
        type Case = (
            Option<Protocol>,
            Option<u16>,
            Option<Security>,
            Option<u16>,
            Option<Security>,
            (u16, Security, u16, Security),
        );
        use Security::{Plain, StartTls, Tls};
        let pop = Some(Protocol::Pop3);
        let cases: [Case; 10] = [
            (None, None, None, None, None, (993, Tls, 465, Tls)),
            (
                None,
                Some(143),
                None,
                None,
                None,
                (143, StartTls, 587, StartTls),
            ),
            (
                None,
                None,
                Some(StartTls),
                None,
                None,
                (143, StartTls, 587, StartTls),
            ),
            // The common pair: 993 with TLS, submission on 587 with STARTTLS.
            (
                None,
                Some(993),
                None,
                Some(587),
                None,
                (993, Tls, 587, StartTls),
            ),
            (
                None,
                None,
                None,
                None,
                Some(StartTls),
                (993, Tls, 587, StartTls),
            ),
            (
                None,
                Some(10993),
                Some(Tls),
                Some(2525),
                None,
                (10993, Tls, 2525, Tls),
            ),
            (None, None, Some(Plain), None, None, (143, Plain, 25, Plain)),
            (pop, None, None, None, None, (995, Tls, 465, Tls)),
            (
                pop,
                Some(110),
                None,
                None,
                None,
                (110, StartTls, 587, StartTls),
            ),
            (pop, None, None, Some(465), Some(Tls), (995, Tls, 465, Tls)),
        ];
        for (protocol, port, security, smtp_port, smtp_security, expected) in cases {
            let config = AccountDraft {
                protocol,
                port,
                security,
                smtp_port,
                smtp_security,
                ..draft("a@b.no", "mail.b.no")
            }
            .resolve()
            .unwrap();
            let smtp = config.smtp.unwrap_or_else(|| config.server.derived_smtp());
            let got = (
                config.server.port,
                config.server.security,
                smtp.port,
                smtp.security,
            );
            assert_eq!(
                got, expected,
                "{protocol:?} {port:?} {security:?} {smtp_port:?}"
            );
        }
    }

    #[test]
    fn the_sending_server_inherits_what_is_not_given() {
        let config = AccountDraft {
            username: Some("kari".into()),
            ca_file: Some("/etc/ca.pem".into()),
            smtp_host: Some("smtp.eksempel.no".into()),
            name: Some("Jobb".into()),
            display_name: Some(" Kari Nordmann ".into()),
            ..draft("kari@eksempel.no", "imap.eksempel.no")
        }
        .resolve()
        .unwrap();
        let smtp = config.smtp.unwrap();
        assert_eq!(smtp.host, "smtp.eksempel.no");
        assert_eq!(smtp.username, "kari");
        assert_eq!(smtp.ca_file.as_deref(), Some("/etc/ca.pem"));
        assert_eq!(config.name, "Jobb");
        assert_eq!(config.display_name, "Kari Nordmann");
        let own = AccountDraft {
            smtp_username: Some("kari-smtp".into()),
            ..draft("kari@eksempel.no", "imap.eksempel.no")
        };
        assert_eq!(own.resolve().unwrap().smtp.unwrap().username, "kari-smtp");
    }

    #[test]
    fn what_is_missing_is_named_with_advice() {
        let cases = [
            (AccountDraft::default(), "account_needs_email", ""),
            (draft("  ", "h"), "account_needs_email", ""),
            (draft("kari", "h"), "address_invalid", "kari"),
            (
                draft("@eksempel.no", "h"),
                "address_invalid",
                "@eksempel.no",
            ),
            (
                draft("kari@Eksempel.NO", " "),
                "account_needs_server",
                "eksempel.no",
            ),
        ];
        for (form, id, detail) in cases {
            let err = form.resolve().unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidInput);
            assert_eq!(err.advice(), Advice::new(id, detail), "{form:?}");
        }
    }
}
