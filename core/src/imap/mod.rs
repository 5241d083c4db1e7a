//! IMAP client on async-imap: one module per job. `connect` sets a session up and logs
//! in; `caps` says what the server offers; `commands` are the handful of commands sync
//! and replay need; `idle` waits for the server; `codes` turns refusals and failures into
//! typed errors. No sync decisions and no MIME parsing live here: the client returns
//! what it fetched.

mod bodies;
mod caps;
mod codes;
mod commands;
mod connect;
mod fuzzing;
mod idle;
mod pipeline;
mod uids;

use crate::model::Flags;
use crate::net::BoxStream;

pub use caps::ServerCaps;
pub use idle::IdleEvent;
pub use pipeline::HeaderPipeline;
pub use uids::{quote, uid_set};

/// Kept for callers of the old path; the policy lives with the connections in `net`.
pub use crate::net::ConnectPolicy;

pub type Session = async_imap::Session<BoxStream>;

/// A folder's counters, from STATUS or SELECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MailboxStatus {
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highestmodseq: Option<u64>,
    pub messages: u32,
}

/// Flags of one message as the server reported them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerFlags {
    pub uid: u32,
    pub flags: Flags,
    pub modseq: u64,
}

/// Result of a flag scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagScan {
    pub messages: Vec<ServerFlags>,
    /// UIDs the server says were expunged (QRESYNC VANISHED).
    pub vanished: Vec<u32>,
    /// The unsolicited channel may have dropped responses; don't trust `vanished` alone.
    pub lossy: bool,
}

/// One message's server facts and raw header fields, as fetched.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchedHeader {
    pub uid: u32,
    pub modseq: u64,
    pub flags: Flags,
    pub size: u32,
    /// Server arrival time, seconds since the epoch.
    pub internal_date: i64,
    /// The header fields asked for, unparsed.
    pub header: Vec<u8>,
    /// Gmail's id of the message, the same in every folder (label) that shows it.
    pub gm_msgid: Option<u64>,
}

pub struct ImapConnection {
    session: Session,
    pub caps: ServerCaps,
    target: String,
    selected: Option<String>,
    clock: codes::Clock,
    naming: crate::mail::mailbox_name::Naming,
    /// What the last SELECT said of the selected folder.
    selected_status: Option<MailboxStatus>,
}

impl ImapConnection {
    pub fn capability_names(&self) -> &[String] {
        &self.caps.all
    }

    pub fn selected(&self) -> Option<&str> {
        self.selected.as_deref()
    }
}
