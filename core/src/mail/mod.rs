//! Neutral mail records, below the protocol clients and the store: what a message's
//! headers say, its parsed body, a folder as a server lists it, flags as bits, the
//! mailbox-name codec and folder roles by name. No I/O and no SQL here.

pub mod mailbox_name;
pub mod roles;

use crate::model::{Address, Attachment, AttachmentFile, Flags, FolderRole};

bitflags::bitflags! {
    /// The flags the engine keeps in step with servers. `\Deleted` and `\Recent` are
    /// not among them: they are never shown.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct FlagSet: u8 {
        const SEEN = 1;
        const FLAGGED = 2;
        const ANSWERED = 4;
        const FORWARDED = 8;
        const DRAFT = 16;
    }
}

impl FlagSet {
    /// IMAP flag names, in a fixed order.
    pub fn imap_names(self) -> Vec<&'static str> {
        [
            (Self::SEEN, "\\Seen"),
            (Self::FLAGGED, "\\Flagged"),
            (Self::ANSWERED, "\\Answered"),
            (Self::FORWARDED, "$Forwarded"),
            (Self::DRAFT, "\\Draft"),
        ]
        .iter()
        .filter(|(flag, _)| self.contains(*flag))
        .map(|(_, name)| *name)
        .collect()
    }

    /// The flags as a front end sees them.
    pub fn to_flags(self, deleted: bool) -> Flags {
        Flags {
            seen: self.contains(Self::SEEN),
            flagged: self.contains(Self::FLAGGED),
            answered: self.contains(Self::ANSWERED),
            forwarded: self.contains(Self::FORWARDED),
            draft: self.contains(Self::DRAFT),
            deleted,
        }
    }
}

impl From<&Flags> for FlagSet {
    fn from(flags: &Flags) -> Self {
        let mut set = FlagSet::empty();
        set.set(Self::SEEN, flags.seen);
        set.set(Self::FLAGGED, flags.flagged);
        set.set(Self::ANSWERED, flags.answered);
        set.set(Self::FORWARDED, flags.forwarded);
        set.set(Self::DRAFT, flags.draft);
        set
    }
}

/// Header facts needed for the message list and threading.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedHeaders {
    /// Never empty once parsed: a stable stand-in is derived when the header is missing.
    pub message_id: String,
    pub subject: String,
    pub from: Address,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub date: Option<i64>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// multipart/mixed (or a top-level non-text part) usually means attachments.
    pub has_attachments: bool,
}

/// Envelope-level facts about one message on a server, known before its body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeaderRecord {
    pub uid: u32,
    pub modseq: u64,
    pub flags: Flags,
    pub size: u32,
    /// Server arrival time, seconds since the epoch.
    pub internal_date: i64,
    /// Never empty: a stable stand-in is derived when the header is missing.
    pub message_id: String,
    pub subject: String,
    pub from: Address,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    /// The Date header, if it could be parsed.
    pub date: Option<i64>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// From the top-level Content-Type; corrected once the body is parsed.
    pub has_attachments: bool,
    /// Gmail's message id: the folders (labels) that show the message hold one message.
    pub gm_msgid: Option<u64>,
}

impl HeaderRecord {
    /// The header facts of a parsed message; server facts (UID, flags, size) left empty.
    pub fn from_headers(headers: ParsedHeaders) -> Self {
        Self {
            message_id: headers.message_id,
            subject: headers.subject,
            from: headers.from,
            to: headers.to,
            cc: headers.cc,
            date: headers.date,
            in_reply_to: headers.in_reply_to,
            references: headers.references,
            has_attachments: headers.has_attachments,
            ..Self::default()
        }
    }
}

/// A parsed message body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedBody {
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
}

/// A whole message as it is kept here: its raw bytes and what parsing them gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedMessage {
    pub raw: Vec<u8>,
    pub headers: ParsedHeaders,
    pub body: ParsedBody,
}

/// The parts of an original message a reply or forward needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Original {
    pub message_id: String,
    pub subject: String,
    pub from: Address,
    pub reply_to: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    /// Seconds since the epoch.
    pub date: Option<i64>,
    pub references: Vec<String>,
    pub text: String,
    pub attachments: Vec<AttachmentFile>,
}

/// A folder as the server lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFolder {
    /// The name as the server spells it (modified UTF-7).
    pub remote_name: String,
    /// Decoded for people.
    pub name: String,
    pub delimiter: String,
    pub role: Option<FolderRole>,
    pub selectable: bool,
    /// From LIST-STATUS, when offered: lets a rename made elsewhere keep local ids.
    pub uidvalidity: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_sets_round_trip_and_name_imap_flags() {
        for bits in 0..32u8 {
            let set = FlagSet::from_bits_truncate(bits);
            assert_eq!(FlagSet::from(&set.to_flags(false)), set);
        }
        assert_eq!(
            (FlagSet::SEEN | FlagSet::FORWARDED).imap_names(),
            ["\\Seen", "$Forwarded"]
        );
    }
}
