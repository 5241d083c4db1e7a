//! What the front end receives besides the engine's records, which it gets as they are
//! (serde, with TypeScript types generated into `desktop/src/bindings/`): a live list's
//! diffs, and the composer's start with its recipients as text.

use brevdue_core::compose::{format_address_list, ComposePreview};
use brevdue_core::discover::Discovery;
use brevdue_core::live::Diff;
use brevdue_core::setup::AccountDraft;
use serde::Serialize;
use serde_json::{json, Value};

/// A record as JSON (the engine's records always serialise).
pub fn value<T: Serialize>(record: &T) -> Value {
    serde_json::to_value(record).expect("a record serialises")
}

/// One change to a live list, `{op, index?, row?|rows?}`. By hand: serde cannot tag the
/// engine's tuple variants inside the object.
pub fn diff<T: Serialize>(d: &Diff<T>) -> Value {
    match d {
        Diff::Reset(rows) => json!({"op": "reset", "rows": rows}),
        Diff::Insert(index, r) => json!({"op": "insert", "index": index, "row": r}),
        Diff::Set(index, r) => json!({"op": "set", "index": index, "row": r}),
        Diff::Remove(index) => json!({"op": "remove", "index": index}),
    }
}

/// The composer's start (`Engine::compose_preview`), with the recipients also as the
/// text its fields start with (`format_address_list`, as the engine parses it back).
pub fn preview(p: &ComposePreview) -> Value {
    let mut v = value(p);
    v["toText"] = json!(format_address_list(&p.to));
    v["ccText"] = json!(format_address_list(&p.cc));
    v
}

/// A form as the engine fills it (`AccountDraft`, from discovery): the same fields the
/// window's account form sends back (`NewAccount`), absent ones as null.
pub fn draft(d: &AccountDraft) -> Value {
    json!({
        "name": d.name,
        "email": d.email,
        "displayName": d.display_name,
        "protocol": d.protocol.map(|p| p.as_str()),
        "host": d.host,
        "port": d.port,
        "security": d.security.map(|s| s.as_str()),
        "username": d.username,
        "caFile": d.ca_file,
        "smtpHost": d.smtp_host,
        "smtpPort": d.smtp_port,
        "smtpSecurity": d.smtp_security.map(|s| s.as_str()),
        "smtpUsername": d.smtp_username,
        "pop3Delete": d.pop3_delete.map(|p| p.to_string()),
    })
}

/// What `Engine::discover` found: the form filled in (`draft`), the other protocol's form
/// (`alternatives`), the source, every source asked and whether it is unencrypted; the
/// provider to sign in with instead of a password (`oauth`), or the advice id when the
/// provider needs a sign-in this build has none for (`oauthUnavailable`, with the
/// provider's name for its words in `oauthUnavailableName`).
pub fn discovery(d: &Discovery) -> Value {
    json!({
        "source": d.source.as_str(),
        "draft": draft(&d.draft),
        "alternatives": d.alternatives.iter().map(draft).collect::<Vec<_>>(),
        "tried": d.tried,
        "plaintext": d.plaintext,
        "oauth": d.oauth,
        "oauthUnavailable": d.oauth_unavailable.as_ref().map(|a| a.id.as_str()).unwrap_or(""),
        "oauthUnavailableName": d.oauth_unavailable.as_ref().map(|a| a.detail.as_str()).unwrap_or(""),
    })
}
