//! `brevdue account discover` and `account add` without `--host`: the servers found from
//! the address (core `discover`), as JSON or as the form `account add` completes.

use brevdue_core::advice::{Advice, Language};
use brevdue_core::discover::Discovery;
use brevdue_core::setup::AccountDraft;
use brevdue_core::{Engine, Error, ErrorKind, Protocol, Result, Security};
use serde_json::{json, Value};

use crate::printable::field;

pub fn draft_json(d: &AccountDraft) -> Value {
    let smtp = d.smtp_host.as_ref().map(|host| {
        json!({
            "host": host,
            "port": d.smtp_port,
            "security": d.smtp_security.map(Security::as_str),
            "user": d.smtp_username,
        })
    });
    json!({
        "email": d.email,
        "protocol": d.protocol.map(Protocol::as_str),
        "host": d.host,
        "port": d.port,
        "security": d.security.map(Security::as_str),
        "user": d.username,
        "ca_file": d.ca_file,
        "smtp": smtp,
    })
}

pub fn discovery_json(d: &Discovery) -> Value {
    json!({
        "source": d.source.as_str(),
        "plaintext": d.plaintext,
        "draft": draft_json(&d.draft),
        "alternatives": d.alternatives.iter().map(draft_json).collect::<Vec<_>>(),
        "tried": d.tried,
        "oauth": d.oauth.as_ref().map(|p| p.id.as_str()),
        "oauth_unavailable": d.oauth_unavailable.as_ref().map(|a| a.id.as_str()),
    })
}

pub fn discover(engine: &Engine, email: &str, ca_file: Option<String>) -> Result<Discovery> {
    engine.block_on(engine.discover(email.to_owned(), ca_file))?
}

fn servers(d: &AccountDraft) -> String {
    let incoming = format!(
        "{} {}:{} {}",
        d.protocol.unwrap_or(Protocol::Imap).as_str().to_uppercase(),
        field(d.host.as_deref().unwrap_or("")),
        d.port.unwrap_or(0),
        d.security.map(Security::as_str).unwrap_or("")
    );
    match &d.smtp_host {
        Some(host) => format!(
            "{incoming}, SMTP {}:{} {}",
            field(host),
            d.smtp_port.unwrap_or(0),
            d.smtp_security.map(Security::as_str).unwrap_or("")
        ),
        None => format!("{incoming}, SMTP as the mail server"),
    }
}

/// The form for `account add` without `--host`: discovery's draft, or its POP3 (or IMAP)
/// alternative when `protocol` asks for it. A plaintext-only result needs `plain_ok`
/// (`--security plain`). Says on stderr what was found.
pub fn draft_for_add(
    engine: &Engine,
    email: &str,
    ca_file: Option<String>,
    protocol: Option<Protocol>,
    plain_ok: bool,
) -> Result<AccountDraft> {
    let found = discover(engine, email, ca_file)?;
    let draft = match protocol {
        None => found.draft.clone(),
        Some(p) => std::iter::once(&found.draft)
            .chain(&found.alternatives)
            .find(|d| d.protocol == Some(p))
            .cloned()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "{} found no {} server for {email} (only {}); give --host",
                        found.source.as_str(),
                        p.as_str(),
                        servers(&found.draft)
                    ),
                )
            })?,
    };
    let plaintext =
        draft.security == Some(Security::Plain) || draft.smtp_security == Some(Security::Plain);
    if plaintext && !plain_ok {
        let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or(email);
        return Err(Error::advised(
            ErrorKind::PlaintextNotAllowed,
            Advice::new("discovery_plaintext_only", domain.to_ascii_lowercase()),
            format!(
                "the servers found for {email} ({}) offer only unencrypted connections; \
                 give --security plain to use them anyway, or --host",
                servers(&draft)
            ),
        ));
    }
    errln!("found by {}: {}", found.source.as_str(), servers(&draft));
    for other in found.alternatives.iter().filter(|d| **d != draft) {
        errln!(
            "also offered: {} ({})",
            servers(other),
            Advice::new("pop_or_imap", "").text(Language::English)
        );
    }
    Ok(draft)
}
