//! Writing mail: new messages, replies and forwards, as pure functions. lettre's builder
//! does the RFC 5322/2047/2231 encoding; here we decide the headers and the text.

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment as LettreAttachment, Body, Mailbox, MultiPart, SinglePart};

use crate::advice::Advice;
use crate::error::{Error, ErrorKind, Result};
pub use crate::mail::Original;
use crate::model::{Address, Attachment, AttachmentFile, Identity};

/// A message ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    /// The message as transmitted: no Bcc header.
    pub raw: Vec<u8>,
    /// Without angle brackets.
    pub message_id: String,
    pub subject: String,
    pub mail_from: String,
    /// Every envelope recipient: To, Cc and Bcc, without duplicates.
    pub recipients: Vec<String>,
    /// A `Bcc:` header line for the sender's own copy, or empty.
    pub bcc_header: String,
}

/// Everything a message is made of; `compose` adds Message-ID and Date.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    pub from: Address,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub subject: String,
    pub body: String,
    pub attachments: Vec<AttachmentFile>,
    /// Without angle brackets.
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
}

fn mailbox(address: &Address) -> Result<Mailbox> {
    let email = address.address.parse().map_err(|err| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("'{}' is not a valid address: {err}", address.address),
        )
    })?;
    Ok(Mailbox::new(
        address.name.clone().filter(|n| !n.is_empty()),
        email,
    ))
}

/// Addresses as the user typed them, with one piece of advice per part that is not one.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct AddressList {
    pub addresses: Vec<Address>,
    /// `address_invalid` with the part as typed, in the order typed.
    pub problems: Vec<Advice>,
}

/// Splits at commas and semicolons outside quotes and angle brackets, so that
/// `"Doe, Jane" <j@x>; bob@y` is two parts.
fn split_address_list(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut quoted, mut angle, mut escaped) = (false, false, false);
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' if !angle => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' | ';' if !quoted && !angle => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

/// Parses "Name <a@b>, c@d; \"Doe, Jane\" <j@x>" as the user types it.
pub fn parse_address_list(text: &str) -> AddressList {
    let mut list = AddressList::default();
    for part in split_address_list(text) {
        match part.parse::<Mailbox>() {
            Ok(m) => list.addresses.push(Address {
                name: m.name.filter(|n| !n.is_empty()),
                address: m.email.to_string(),
            }),
            Err(_) => list.problems.push(Advice::new("address_invalid", part)),
        }
    }
    list
}

/// Addresses as text the user can edit and `parse_address_list` reads back: names with
/// commas, quotes or other specials are quoted.
pub fn format_address_list(addresses: &[Address]) -> String {
    addresses
        .iter()
        .map(|a| match mailbox(a) {
            Ok(m) if m.name.is_some() => m.to_string(),
            _ => a.address.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The addresses of a list, or an error naming the first part that is not one.
pub fn parse_addresses(text: &str) -> Result<Vec<Address>> {
    let list = parse_address_list(text);
    match list.problems.into_iter().next() {
        None => Ok(list.addresses),
        Some(advice) => {
            let message = format!("'{}' is not a valid address", advice.detail);
            Err(Error::advised(ErrorKind::InvalidInput, advice, message))
        }
    }
}

/// What the composer writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ComposeMode {
    New,
    Reply { original: i64 },
    ReplyAll { original: i64 },
    Forward { original: i64 },
}

impl ComposeMode {
    pub fn original(self) -> Option<i64> {
        match self {
            ComposeMode::New => None,
            ComposeMode::Reply { original }
            | ComposeMode::ReplyAll { original }
            | ComposeMode::Forward { original } => Some(original),
        }
    }
}

/// What the composer starts with: the recipients (editable), the subject, and the text
/// the engine puts below what the user writes (the quote, or the forwarded message).
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct ComposePreview {
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub subject: String,
    pub quoted: String,
    /// The original's attachments a forward carries along.
    pub attachments: Vec<Attachment>,
}

/// The composer's start for `mode`; `original` is the message replied to or forwarded.
pub fn preview(mode: ComposeMode, original: Option<&Original>, own: &[Identity]) -> ComposePreview {
    let Some(original) = original else {
        return ComposePreview::default();
    };
    match mode {
        ComposeMode::New => ComposePreview::default(),
        ComposeMode::Reply { .. } | ComposeMode::ReplyAll { .. } => {
            let all = matches!(mode, ComposeMode::ReplyAll { .. });
            let (to, cc) = reply_recipients(original, own, all);
            ComposePreview {
                to,
                cc,
                subject: reply_subject(&original.subject),
                quoted: reply_body("", original).trim_start().to_owned(),
                attachments: Vec::new(),
            }
        }
        ComposeMode::Forward { .. } => ComposePreview {
            subject: forward_subject(&original.subject),
            quoted: forward_body("", original).trim_start().to_owned(),
            attachments: original
                .attachments
                .iter()
                .map(|a| Attachment {
                    name: a.name.clone(),
                    mime_type: a.mime_type.clone(),
                    size: a.data.len() as u64,
                })
                .collect(),
            ..ComposePreview::default()
        },
    }
}

/// The MIME type of a file to attach, from its name.
pub fn guess_mime_type(file_name: &str) -> String {
    mime_guess::from_path(file_name)
        .first_or_octet_stream()
        .essence_str()
        .to_owned()
}

/// A new Message-ID in the sender's domain.
pub fn new_message_id(from: &str, now_nanos: u128, salt: u64) -> String {
    let domain = from
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
        .unwrap_or("brevdue.invalid");
    format!("{now_nanos:x}.{salt:016x}@{domain}")
}

/// Builds the message. Attachments make it multipart/mixed; text is UTF-8 and encoded
/// by lettre as needed.
pub fn compose(outgoing: &Outgoing, message_id: &str) -> Result<Composed> {
    if outgoing.to.is_empty() && outgoing.cc.is_empty() && outgoing.bcc.is_empty() {
        return Err(Error::advised(
            ErrorKind::InvalidInput,
            Advice::new("no_recipient", ""),
            "a message needs at least one recipient",
        ));
    }
    build(outgoing, message_id)
}

/// The header that tells a saved draft's mode: `reply <original's Message-ID>`,
/// `reply-all <…>`, `forward <…>`, or `new`.
pub const DRAFT_MODE_HEADER: &str = "X-Brevdue-Mode";

/// A draft as saved to Drafts: what the user wrote so far (recipients may be missing),
/// the Bcc kept, and its mode with the original's Message-ID, so that any device can
/// reopen it and send it as the reply or forward it began as.
pub fn compose_draft(outgoing: &Outgoing, message_id: &str, mode: &str) -> Result<Vec<u8>> {
    let composed = build(outgoing, message_id)?;
    let mut raw = format!(
        "{DRAFT_MODE_HEADER}: {}\r\n",
        mode.replace(['\r', '\n'], " ")
    )
    .into_bytes();
    raw.extend_from_slice(composed.bcc_header.as_bytes());
    raw.extend_from_slice(&composed.raw);
    Ok(raw)
}

fn build(outgoing: &Outgoing, message_id: &str) -> Result<Composed> {
    let mut builder = lettre::Message::builder()
        .from(mailbox(&outgoing.from)?)
        .subject(outgoing.subject.clone())
        .message_id(Some(format!("<{message_id}>")))
        .user_agent(format!("Brevdue {}", env!("CARGO_PKG_VERSION")));
    for a in &outgoing.to {
        builder = builder.to(mailbox(a)?);
    }
    for a in &outgoing.cc {
        builder = builder.cc(mailbox(a)?);
    }
    for a in &outgoing.bcc {
        builder = builder.bcc(mailbox(a)?);
    }
    if let Some(parent) = &outgoing.in_reply_to {
        builder = builder.in_reply_to(format!("<{parent}>"));
    }
    if !outgoing.references.is_empty() {
        let list: Vec<String> = outgoing
            .references
            .iter()
            .map(|r| format!("<{r}>"))
            .collect();
        builder = builder.references(list.join(" "));
    }
    if outgoing.to.is_empty() && outgoing.cc.is_empty() && outgoing.bcc.is_empty() {
        // A draft without recipients yet: lettre wants an envelope recipient.
        let from = mailbox(&outgoing.from)?.email;
        let envelope = lettre::address::Envelope::new(Some(from.clone()), vec![from])
            .map_err(|err| Error::invalid(format!("cannot build the draft: {err}")))?;
        builder = builder.envelope(envelope);
    }
    let text = SinglePart::plain(outgoing.body.clone());
    let message = if outgoing.attachments.is_empty() {
        builder.singlepart(text)
    } else {
        let mut mixed = MultiPart::mixed().singlepart(text);
        for file in &outgoing.attachments {
            let content_type = ContentType::parse(&file.mime_type)
                .unwrap_or_else(|_| ContentType::parse("application/octet-stream").unwrap());
            // Base64 always: lettre would send ASCII-only bytes as 7bit text and turn
            // their line ends into CRLF, which changes a file.
            let body = Body::new_with_encoding(file.data.clone(), ContentTransferEncoding::Base64)
                .map_err(|_| Error::invalid(format!("cannot encode {}", file.name)))?;
            mixed =
                mixed.singlepart(LettreAttachment::new(file.name.clone()).body(body, content_type));
        }
        builder.multipart(mixed)
    }
    .map_err(|err| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("cannot build the message: {err}"),
        )
    })?;

    let mut recipients: Vec<String> = Vec::new();
    for a in outgoing.to.iter().chain(&outgoing.cc).chain(&outgoing.bcc) {
        if !recipients
            .iter()
            .any(|r| r.eq_ignore_ascii_case(&a.address))
        {
            recipients.push(a.address.clone());
        }
    }
    let bcc_header = if outgoing.bcc.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = outgoing
            .bcc
            .iter()
            .map(|a| mailbox(a).map(|m| m.to_string()))
            .collect::<Result<_>>()?;
        format!("Bcc: {}\r\n", list.join(", "))
    };
    Ok(Composed {
        raw: message.formatted(),
        message_id: message_id.to_owned(),
        subject: outgoing.subject.clone(),
        mail_from: outgoing.from.address.clone(),
        recipients,
        bcc_header,
    })
}

/// Reply prefixes: English, German ("Aw:"), Scandinavian ("Sv:", "Svar:").
const REPLY_PREFIXES: [&str; 4] = ["re:", "aw:", "sv:", "svar:"];
/// Forward prefixes: English, German ("WG:"), Norwegian and Swedish ("VS:", "VB:").
const FORWARD_PREFIXES: [&str; 5] = ["fwd:", "fw:", "wg:", "vs:", "vb:"];

/// Strips any run of reply/forward prefixes (`REPLY_PREFIXES`, `FORWARD_PREFIXES`).
fn strip_prefixes(subject: &str) -> (&str, bool) {
    let mut rest = subject.trim();
    let mut stripped = false;
    loop {
        let lower = rest.to_ascii_lowercase();
        let Some(prefix) = REPLY_PREFIXES
            .iter()
            .chain(&FORWARD_PREFIXES)
            .find(|p| lower.starts_with(*p))
        else {
            return (rest, stripped);
        };
        rest = rest[prefix.len()..].trim_start();
        stripped = true;
    }
}

/// "Re: " once, whatever the original had.
pub fn reply_subject(subject: &str) -> String {
    let trimmed = subject.trim();
    let lower = trimmed.to_ascii_lowercase();
    if let Some(prefix) = REPLY_PREFIXES.iter().find(|p| lower.starts_with(*p)) {
        let (rest, _) = strip_prefixes(trimmed);
        // Keep a forward marker that came after the reply prefix: "Re: Fwd: x" stays.
        let after_re = trimmed[prefix.len()..].trim_start();
        let after_lower = after_re.to_ascii_lowercase();
        if FORWARD_PREFIXES.iter().any(|p| after_lower.starts_with(p)) {
            return format!("Re: {after_re}");
        }
        return format!("Re: {rest}");
    }
    format!("Re: {trimmed}")
}

/// "Fwd: " once, whatever the original had.
pub fn forward_subject(subject: &str) -> String {
    let (rest, _) = strip_prefixes(subject);
    format!("Fwd: {rest}")
}

fn same_address(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// Who a reply goes to: Reply-To (else From); for reply-all also everyone in To and Cc,
/// never the user's own addresses and never anyone twice.
pub fn reply_recipients(
    original: &Original,
    own: &[Identity],
    all: bool,
) -> (Vec<Address>, Vec<Address>) {
    let is_own = |a: &Address| own.iter().any(|i| same_address(&i.email, &a.address));
    let mut to: Vec<Address> = if original.reply_to.is_empty() {
        vec![original.from.clone()]
    } else {
        original.reply_to.clone()
    };
    // Replying to one's own sent message goes to its recipients.
    if to.iter().all(is_own) && !original.to.is_empty() {
        to = original.to.clone();
    }
    let mut seen: Vec<String> = Vec::new();
    let keep = |a: &Address, seen: &mut Vec<String>| {
        let fresh = !is_own(a) && !seen.iter().any(|s| same_address(s, &a.address));
        if fresh {
            seen.push(a.address.clone());
        }
        fresh
    };
    to.retain(|a| keep(a, &mut seen));
    let mut cc = Vec::new();
    if all {
        for a in original.to.iter().chain(&original.cc) {
            if keep(a, &mut seen) {
                cc.push(a.clone());
            }
        }
    }
    (to, cc)
}

/// In-Reply-To and References of a reply (RFC 5322 3.6.4).
pub fn reply_threading(original: &Original) -> (Option<String>, Vec<String>) {
    if original.message_id.is_empty() {
        return (None, original.references.clone());
    }
    let mut references = original.references.clone();
    if references.last() != Some(&original.message_id) {
        references.push(original.message_id.clone());
    }
    (Some(original.message_id.clone()), references)
}

fn format_date(date: Option<i64>) -> String {
    date.and_then(|d| chrono::DateTime::from_timestamp(d, 0))
        .map(|d| d.format("%a, %-d %b %Y %H:%M UTC").to_string())
        .unwrap_or_else(|| "an unknown date".to_owned())
}

/// The reply's text: what the user wrote, then the original quoted.
pub fn reply_body(body: &str, original: &Original) -> String {
    let mut out = String::with_capacity(body.len() + original.text.len() + 64);
    out.push_str(body.trim_end());
    out.push_str(&format!(
        "\n\nOn {}, {} wrote:\n",
        format_date(original.date),
        original.from
    ));
    for line in original.text.trim_end().lines() {
        if line.is_empty() || line.starts_with('>') {
            out.push('>');
        } else {
            out.push_str("> ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The forward's text: what the user wrote, then the original with its main headers.
pub fn forward_body(body: &str, original: &Original) -> String {
    let list = |v: &[Address]| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = String::new();
    out.push_str(body.trim_end());
    out.push_str("\n\n---------- Forwarded message ----------\n");
    out.push_str(&format!("From: {}\n", original.from));
    out.push_str(&format!("Date: {}\n", format_date(original.date)));
    out.push_str(&format!("Subject: {}\n", original.subject));
    if !original.to.is_empty() {
        out.push_str(&format!("To: {}\n", list(&original.to)));
    }
    if !original.cc.is_empty() {
        out.push_str(&format!("Cc: {}\n", list(&original.cc)));
    }
    out.push('\n');
    out.push_str(original.text.trim_end());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Address {
        Address {
            name: None,
            address: s.to_owned(),
        }
    }

    #[test]
    fn subjects_do_not_stack_prefixes() {
        let cases = [
            ("Dinner", "Re: Dinner", "Fwd: Dinner"),
            ("Re: Dinner", "Re: Dinner", "Fwd: Dinner"),
            ("RE: Re: Dinner", "Re: Dinner", "Fwd: Dinner"),
            ("Aw: Dinner", "Re: Dinner", "Fwd: Dinner"),
            ("Fwd: Dinner", "Re: Fwd: Dinner", "Fwd: Dinner"),
            ("Re: Fwd: Dinner", "Re: Fwd: Dinner", "Fwd: Dinner"),
            ("  Fw: FWD: x ", "Re: Fw: FWD: x", "Fwd: x"),
            ("Rechnung", "Re: Rechnung", "Fwd: Rechnung"),
            ("SV: Middag", "Re: Middag", "Fwd: Middag"),
            ("Svar: SV: Middag", "Re: Middag", "Fwd: Middag"),
            ("VS: Middag", "Re: VS: Middag", "Fwd: Middag"),
            ("Sv: VS: Middag", "Re: VS: Middag", "Fwd: Middag"),
            ("Svalbard", "Re: Svalbard", "Fwd: Svalbard"),
            ("", "Re: ", "Fwd: "),
        ];
        for (original, reply, forward) in cases {
            assert_eq!(reply_subject(original), reply, "reply to {original:?}");
            assert_eq!(forward_subject(original), forward, "forward {original:?}");
        }
    }

    fn original() -> Original {
        Original {
            message_id: "m2@x".into(),
            subject: "Plans".into(),
            from: addr("anna@x"),
            reply_to: vec![],
            to: vec![addr("me@x"), addr("ben@x")],
            cc: vec![addr("carl@x"), addr("ANNA@x")],
            date: Some(0),
            references: vec!["m0@x".into(), "m1@x".into()],
            text: "line one\n> older\n\nline three".into(),
            attachments: vec![],
        }
    }

    #[test]
    fn recipients_for_reply_and_reply_all() {
        let me = [Identity {
            name: String::new(),
            email: "Me@x".into(),
        }];
        let names = |v: Vec<Address>| v.into_iter().map(|a| a.address).collect::<Vec<_>>();
        type Case<'a> = (Vec<Address>, bool, Vec<&'a str>, Vec<&'a str>);
        let cases: [Case; 4] = [
            (vec![], false, vec!["anna@x"], vec![]),
            (vec![], true, vec!["anna@x"], vec!["ben@x", "carl@x"]),
            (vec![addr("list@x")], false, vec!["list@x"], vec![]),
            (
                vec![addr("list@x")],
                true,
                vec!["list@x"],
                vec!["ben@x", "carl@x", "ANNA@x"],
            ),
        ];
        for (reply_to, all, want_to, want_cc) in cases {
            let o = Original {
                reply_to: reply_to.clone(),
                ..original()
            };
            let (to, cc) = reply_recipients(&o, &me, all);
            assert_eq!(names(to), want_to, "reply_to {reply_to:?} all {all}");
            assert_eq!(names(cc), want_cc, "reply_to {reply_to:?} all {all}");
        }
        // A reply to one's own message goes to its recipients.
        let mine = Original {
            from: addr("me@x"),
            ..original()
        };
        let (to, _) = reply_recipients(&mine, &me, false);
        assert_eq!(names(to), vec!["ben@x"]);
    }

    #[test]
    fn threading_headers_extend_references() {
        let (parent, refs) = reply_threading(&original());
        assert_eq!(parent.as_deref(), Some("m2@x"));
        assert_eq!(refs, vec!["m0@x", "m1@x", "m2@x"]);
        let no_refs = Original {
            references: vec![],
            ..original()
        };
        assert_eq!(reply_threading(&no_refs).1, vec!["m2@x"]);
    }

    #[test]
    fn quoting_marks_every_line() {
        let body = reply_body("Yes!\n", &original());
        assert!(body.starts_with("Yes!\n\nOn Thu, 1 Jan 1970 00:00 UTC, anna@x wrote:\n"));
        assert!(body.ends_with("> line one\n>> older\n>\n> line three\n"));
    }

    #[test]
    fn composed_message_parses_back_with_every_header() {
        let outgoing = Outgoing {
            from: Address {
                name: Some("Jörg Müller".into()),
                address: "jm@example.test".into(),
            },
            to: vec![addr("anna@example.test")],
            cc: vec![addr("ben@example.test")],
            bcc: vec![addr("secret@example.test"), addr("anna@example.test")],
            subject: "Grüße – ein langer Betreff mit Umlauten".into(),
            body: "Hallo Anna,\nbis bald.\n".into(),
            attachments: vec![AttachmentFile {
                name: "Rechnung März.pdf".into(),
                mime_type: "application/pdf".into(),
                data: b"%PDF-1.4 fake\n\x00\xff".to_vec(),
            }],
            in_reply_to: Some("m2@x".into()),
            references: vec!["m1@x".into(), "m2@x".into()],
        };
        let composed = compose(&outgoing, "new@example.test").unwrap();
        assert_eq!(
            composed.recipients,
            vec![
                "anna@example.test",
                "ben@example.test",
                "secret@example.test"
            ]
        );
        assert!(composed.bcc_header.starts_with("Bcc: secret@example.test"));
        let raw = String::from_utf8_lossy(&composed.raw);
        assert!(!raw.contains("secret@example.test"), "Bcc leaked: {raw}");
        let h = crate::mime::parse_headers(&composed.raw);
        assert_eq!(h.message_id, "new@example.test");
        assert_eq!(h.subject, outgoing.subject);
        assert_eq!(h.from.name.as_deref(), Some("Jörg Müller"));
        assert_eq!(h.in_reply_to.as_deref(), Some("m2@x"));
        assert_eq!(h.references, vec!["m1@x", "m2@x"]);
        assert!(h.date.is_some());
        let body = crate::mime::parse_body(&composed.raw);
        // Text travels in canonical form, with CRLF line ends.
        assert_eq!(body.text.as_deref(), Some("Hallo Anna,\r\nbis bald.\r\n"));
        assert_eq!(body.attachments.len(), 1);
        assert_eq!(body.attachments[0].name, "Rechnung März.pdf");
        let original = crate::mime::parse_original(&composed.raw);
        assert_eq!(original.attachments[0].data, b"%PDF-1.4 fake\n\x00\xff");
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        let none = Outgoing {
            from: addr("me@x"),
            ..Outgoing::default()
        };
        assert_eq!(
            compose(&none, "a@b").unwrap_err().kind,
            ErrorKind::InvalidInput
        );
        let bad = Outgoing {
            from: addr("me@x"),
            to: vec![addr("not an address")],
            ..Outgoing::default()
        };
        let err = compose(&bad, "a@b").unwrap_err();
        assert!(err.message.contains("not an address"), "{}", err.message);
        assert_eq!(
            parse_addresses("Anna <anna@x>, ben@y").unwrap(),
            vec![
                Address {
                    name: Some("Anna".into()),
                    address: "anna@x".into()
                },
                addr("ben@y")
            ]
        );
        assert!(parse_addresses("anna@").is_err());
    }

    #[test]
    fn address_lists_parse_as_typed_with_one_problem_per_bad_part() {
        let named = |name: &str, address: &str| Address {
            name: Some(name.into()),
            address: address.into(),
        };
        let cases: [(&str, Vec<Address>, Vec<&str>); 7] = [
            ("", vec![], vec![]),
            (" , ;", vec![], vec![]),
            ("ben@y", vec![addr("ben@y")], vec![]),
            (
                "Anna <anna@x>; ben@y,",
                vec![named("Anna", "anna@x"), addr("ben@y")],
                vec![],
            ),
            (
                "\"Doe, Jane\" <jane@x>, \"Ola; Nordmann\" <ola@y>",
                vec![
                    named("Doe, Jane", "jane@x"),
                    named("Ola; Nordmann", "ola@y"),
                ],
                vec![],
            ),
            (
                "anna@, Ben <ben@y>, just words",
                vec![named("Ben", "ben@y")],
                vec!["anna@", "just words"],
            ),
            (
                "Åse Ødegård <ase@eksempel.no>",
                vec![named("Åse Ødegård", "ase@eksempel.no")],
                vec![],
            ),
        ];
        for (text, addresses, problems) in cases {
            let list = parse_address_list(text);
            assert_eq!(list.addresses, addresses, "{text:?}");
            let details: Vec<&str> = list.problems.iter().map(|p| p.detail.as_str()).collect();
            assert_eq!(details, problems, "{text:?}");
            assert!(list.problems.iter().all(|p| p.id == "address_invalid"));
        }
        let round_trip = [
            named("Doe, Jane", "jane@x"),
            named("Ola \"Nordmann\"", "ola@y"),
            named("Åse Ødegård", "ase@eksempel.no"),
            addr("ben@y"),
        ];
        let text = format_address_list(&round_trip);
        assert_eq!(parse_address_list(&text).addresses, round_trip, "{text}");
        assert_eq!(format_address_list(&[]), "");
        let err = parse_addresses("ok@x, anna@").unwrap_err();
        assert_eq!(err.advice(), Advice::new("address_invalid", "anna@"));
    }

    #[test]
    fn the_composer_starts_from_the_rules_it_sends_with() {
        let mut original = original();
        original.attachments = vec![AttachmentFile {
            name: "plan.pdf".into(),
            mime_type: "application/pdf".into(),
            data: vec![0; 10],
        }];
        let own = [Identity {
            name: "Me".into(),
            email: "me@x".into(),
        }];
        let reply = preview(ComposeMode::Reply { original: 1 }, Some(&original), &own);
        let all = preview(ComposeMode::ReplyAll { original: 1 }, Some(&original), &own);
        assert_eq!(
            (reply.to.clone(), reply.cc.clone()),
            reply_recipients(&original, &own, false)
        );
        assert_eq!((all.to, all.cc), reply_recipients(&original, &own, true));
        assert_eq!(reply.subject, reply_subject(&original.subject));
        assert_eq!(reply.quoted, reply_body("", &original).trim_start());
        assert!(reply.attachments.is_empty());
        let forward = preview(ComposeMode::Forward { original: 1 }, Some(&original), &own);
        assert!(forward.to.is_empty() && forward.cc.is_empty());
        assert_eq!(forward.subject, forward_subject(&original.subject));
        assert!(forward.quoted.starts_with("---------- Forwarded message"));
        assert_eq!(forward.attachments.len(), 1);
        assert_eq!(forward.attachments[0].size, 10);
        assert_eq!(
            preview(ComposeMode::New, None, &own),
            ComposePreview::default()
        );
    }
}
