//! IMAP client on async-imap: connection set-up with clear errors, capability handling,
//! and the handful of commands the sync needs. No sync decisions live here.

pub mod utf7;

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use async_imap::imap_proto::rfc4315::UidSetMember;
use async_imap::imap_proto::{
    MailboxDatum, NameAttribute, RequestId, Response, ResponseCode, Status, StatusAttribute,
};
use async_imap::types::{Fetch, Flag, UnsolicitedResponse};
use futures::TryStreamExt;

use crate::error::{Error, ErrorKind, Result};
use crate::mime;
use crate::model::{Flags, FolderRole, Security, ServerConfig};
use crate::net::{self, BoxStream};
use crate::store::{HeaderRecord, RemoteFolder};

pub type Session = async_imap::Session<BoxStream>;

const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Header fields fetched before bodies: enough for the list and for threading.
const HEADER_FIELDS: &str =
    "FROM TO CC SUBJECT DATE MESSAGE-ID IN-REPLY-TO REFERENCES CONTENT-TYPE";

/// Server extensions the engine uses when offered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerCaps {
    pub condstore: bool,
    pub qresync: bool,
    pub idle: bool,
    pub move_: bool,
    pub uidplus: bool,
    pub special_use: bool,
    pub compress: bool,
    pub list_status: bool,
    pub all: Vec<String>,
}

impl ServerCaps {
    pub fn from_names(names: &[String]) -> Self {
        let has = |cap: &str| names.iter().any(|n| n.eq_ignore_ascii_case(cap));
        Self {
            condstore: has("CONDSTORE") || has("QRESYNC"),
            qresync: has("QRESYNC"),
            idle: has("IDLE"),
            move_: has("MOVE"),
            uidplus: has("UIDPLUS"),
            special_use: has("SPECIAL-USE"),
            compress: has("COMPRESS=DEFLATE"),
            list_status: has("LIST-STATUS"),
            all: names.to_vec(),
        }
    }

    /// Turns off extensions, to exercise the fallbacks (tests and the benchmark).
    pub fn without(mut self, disabled: &[String]) -> Self {
        for cap in disabled {
            match cap.to_ascii_uppercase().as_str() {
                "CONDSTORE" => {
                    self.condstore = false;
                    self.qresync = false;
                }
                "QRESYNC" => self.qresync = false,
                "IDLE" => self.idle = false,
                "MOVE" => self.move_ = false,
                "UIDPLUS" => self.uidplus = false,
                "SPECIAL-USE" => self.special_use = false,
                "COMPRESS" | "COMPRESS=DEFLATE" => self.compress = false,
                "LIST-STATUS" => self.list_status = false,
                _ => {}
            }
        }
        self
    }
}

/// How to connect and what to use of what a server offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectPolicy {
    /// Extensions to ignore even when offered (to exercise the fallbacks).
    pub disabled_extensions: Vec<String>,
    /// Use COMPRESS=DEFLATE even to this machine (tests).
    pub compress_loopback: bool,
    /// Limit for connecting, the TLS handshake and the greeting.
    pub connect_timeout: Duration,
}

impl Default for ConnectPolicy {
    fn default() -> Self {
        Self {
            disabled_extensions: Vec::new(),
            compress_loopback: false,
            connect_timeout: net::CONNECT_TIMEOUT,
        }
    }
}

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

/// Why an IDLE ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleEvent {
    /// The server reported new mail, flag changes or expunges.
    Changed,
    /// Time to re-issue IDLE before the server gives up on it.
    Renew,
    /// The caller asked to stop (for example, the network changed).
    Interrupted,
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

pub struct ImapConnection {
    session: Session,
    pub caps: ServerCaps,
    target: String,
    selected: Option<String>,
}

async fn timed<T>(
    target: &str,
    what: &str,
    fut: impl Future<Output = async_imap::error::Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
        Ok(result) => result.map_err(|err| imap_error(target, what, err)),
        Err(_) => Err(Error::new(
            ErrorKind::Timeout,
            format!(
                "{target} did not answer {what} within {} s",
                COMMAND_TIMEOUT.as_secs()
            ),
        )),
    }
}

fn imap_error(target: &str, what: &str, err: async_imap::error::Error) -> Error {
    use async_imap::error::Error as E;
    match err {
        E::Io(io) => net::io_error(target, io),
        E::ConnectionLost => Error::new(
            ErrorKind::Network,
            format!("{target} closed the connection during {what}"),
        ),
        E::No(text) | E::Bad(text) => Error::protocol(format!("{target} refused {what}: {text}")),
        other => Error::protocol(format!(
            "{target} sent a reply to {what} we could not read: {other}"
        )),
    }
}

fn parse_flags<'a>(flags: impl Iterator<Item = Flag<'a>>) -> Flags {
    let mut out = Flags::default();
    for flag in flags {
        match flag {
            Flag::Seen => out.seen = true,
            Flag::Answered => out.answered = true,
            Flag::Flagged => out.flagged = true,
            Flag::Draft => out.draft = true,
            Flag::Deleted => out.deleted = true,
            Flag::Custom(name) if name.eq_ignore_ascii_case("$Forwarded") => out.forwarded = true,
            _ => {}
        }
    }
    out
}

fn role_of(attributes: &[NameAttribute<'_>], name: &str) -> Option<FolderRole> {
    if name.eq_ignore_ascii_case("INBOX") {
        return Some(FolderRole::Inbox);
    }
    let special = attributes.iter().find_map(|attr| match attr {
        NameAttribute::Sent => Some(FolderRole::Sent),
        NameAttribute::Drafts => Some(FolderRole::Drafts),
        NameAttribute::Trash => Some(FolderRole::Trash),
        NameAttribute::Junk => Some(FolderRole::Junk),
        NameAttribute::Archive => Some(FolderRole::Archive),
        NameAttribute::All => Some(FolderRole::All),
        _ => None,
    });
    special.or_else(|| role_by_name(name))
}

/// Without SPECIAL-USE, the names servers and clients commonly use.
pub fn role_by_name(name: &str) -> Option<FolderRole> {
    let leaf = name
        .rsplit(['/', '.'])
        .next()
        .unwrap_or(name)
        .to_lowercase();
    Some(match leaf.as_str() {
        "sent" | "sent items" | "sent mail" | "sent messages" | "gesendet" => FolderRole::Sent,
        "drafts" | "draft" | "entwürfe" => FolderRole::Drafts,
        "trash" | "deleted items" | "deleted messages" | "bin" | "papierkorb" => FolderRole::Trash,
        "junk" | "spam" | "junk e-mail" | "junk mail" => FolderRole::Junk,
        "archive" | "archives" | "archiv" => FolderRole::Archive,
        _ => return None,
    })
}

/// Quotes a mailbox name for a command line.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Compresses UIDs into an IMAP sequence set ("1:5,7,9:10").
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    parts.join(",")
}

impl ImapConnection {
    /// Connects, secures, logs in and reads the capabilities.
    pub async fn connect(
        server: &ServerConfig,
        password: &str,
        policy: &ConnectPolicy,
    ) -> Result<Self> {
        let target = format!("{}:{}", server.host, server.port);
        let limit = policy.connect_timeout;
        let tcp = net::connect_tcp(&server.host, server.port, limit).await?;
        let stream: BoxStream = match server.security {
            Security::Tls => Box::new(net::secure(tcp, server, limit).await?),
            Security::StartTls => {
                let mut client = async_imap::Client::new(tcp);
                read_greeting(&mut client, &target, limit).await?;
                timed(
                    &target,
                    "STARTTLS",
                    client.run_command_and_check_ok("STARTTLS", None),
                )
                .await
                .map_err(|err| {
                    Error::new(
                        ErrorKind::ProtocolUnsupported,
                        format!("{target} does not offer STARTTLS: {err}"),
                    )
                })?;
                let tcp = client.into_inner();
                Box::new(net::secure(tcp, server, limit).await?)
            }
            Security::Plain => Box::new(tcp),
        };
        // async-imap writes a command in four pieces and then flushes: buffer them into
        // one packet (and one TLS record).
        let stream: BoxStream = Box::new(tokio::io::BufWriter::new(stream));
        let mut client = async_imap::Client::new(stream);
        if server.security != Security::StartTls {
            read_greeting(&mut client, &target, limit).await?;
        }
        let login = tokio::time::timeout(COMMAND_TIMEOUT, client.login(&server.username, password))
            .await
            .map_err(|_| {
                Error::new(ErrorKind::Timeout, format!("{target} did not answer LOGIN"))
            })?;
        let mut session = match login {
            Ok(session) => session,
            Err((async_imap::error::Error::No(text), _))
            | Err((async_imap::error::Error::Bad(text), _)) => {
                return Err(Error::new(
                    ErrorKind::AuthFailed,
                    format!(
                        "{target} rejected the login of '{}': {}",
                        server.username,
                        text.trim()
                    ),
                ))
            }
            Err((err, _)) => return Err(imap_error(&target, "LOGIN", err)),
        };
        // imap-proto cannot even parse a CAPABILITY line without IMAP4rev1.
        let caps = timed(&target, "CAPABILITY", session.capabilities())
            .await
            .map_err(|err| match err.kind {
                ErrorKind::Protocol | ErrorKind::Network => Error::new(
                    ErrorKind::ProtocolUnsupported,
                    format!("{target} does not answer CAPABILITY like an IMAP4rev1 server: {err}"),
                ),
                _ => err,
            })?;
        let names: Vec<String> = caps
            .iter()
            .map(|c| match c {
                async_imap::types::Capability::Imap4rev1 => "IMAP4rev1".to_owned(),
                async_imap::types::Capability::Auth(a) => format!("AUTH={a}"),
                async_imap::types::Capability::Atom(a) => a.to_string(),
            })
            .collect();
        if !caps.has_str("IMAP4rev1") && !caps.has_str("IMAP4rev2") {
            return Err(Error::new(
                ErrorKind::ProtocolUnsupported,
                format!("{target} does not speak IMAP4rev1"),
            ));
        }
        let caps = ServerCaps::from_names(&names).without(&policy.disabled_extensions);
        // Compression trades CPU for bandwidth; on the loopback there is no bandwidth
        // to save.
        if caps.compress && (policy.compress_loopback || !net::is_loopback(&server.host)) {
            session = timed(
                &target,
                "COMPRESS",
                session.compress(|s| Box::new(s) as BoxStream),
            )
            .await?;
        }
        let mut conn = Self {
            session,
            caps,
            target,
            selected: None,
        };
        if conn.caps.qresync {
            conn.simple("ENABLE QRESYNC").await?;
        }
        Ok(conn)
    }

    pub fn capability_names(&self) -> &[String] {
        &self.caps.all
    }

    /// Runs a command that only needs an OK.
    pub async fn simple(&mut self, command: &str) -> Result<()> {
        let what = command_name(command);
        timed(
            &self.target,
            &what,
            self.session.run_command_and_check_ok(command),
        )
        .await?;
        Ok(())
    }

    /// Runs a command and hands every untagged response to `on_data`; returns the
    /// tagged completion's text on OK.
    async fn raw_command(
        &mut self,
        command: &str,
        mut on_data: impl FnMut(&Response<'_>),
    ) -> Result<Option<String>> {
        let what = command_name(command);
        let target = self.target.clone();
        let run = async {
            let tag: RequestId = self.session.run_command(command).await?;
            loop {
                let Some(resp) = self.session.read_response().await? else {
                    return Err(async_imap::error::Error::ConnectionLost);
                };
                match resp.parsed() {
                    done @ Response::Done {
                        tag: done_tag,
                        status,
                        outcome,
                    } if *done_tag == tag => {
                        on_data(done);
                        let mut text = outcome.information.as_deref().unwrap_or("").to_owned();
                        if let Some(code) = &outcome.code {
                            text = format!("[{}] {text}", code_name(code));
                        }
                        return match status {
                            Status::Ok => Ok(Some(text)),
                            Status::No => Err(async_imap::error::Error::No(text)),
                            _ => Err(async_imap::error::Error::Bad(text)),
                        };
                    }
                    other => on_data(other),
                }
            }
        };
        timed(&target, &what, run).await
    }

    /// All folders, with their counters when the server offers LIST-STATUS.
    pub async fn list_folders(&mut self) -> Result<Vec<(RemoteFolder, Option<MailboxStatus>)>> {
        let mut command = String::from("LIST \"\" \"*\"");
        if self.caps.list_status || self.caps.special_use {
            command.push_str(" RETURN (");
            let mut options = Vec::new();
            if self.caps.special_use {
                options.push("SPECIAL-USE".to_owned());
            }
            if self.caps.list_status {
                options.push(format!(
                    "STATUS (MESSAGES UIDNEXT UIDVALIDITY{})",
                    if self.caps.condstore {
                        " HIGHESTMODSEQ"
                    } else {
                        ""
                    }
                ));
            }
            command.push_str(&options.join(" "));
            command.push(')');
        }
        let mut folders: Vec<RemoteFolder> = Vec::new();
        let mut statuses: Vec<(String, MailboxStatus)> = Vec::new();
        let special_use = self.caps.special_use;
        self.raw_command(&command, |resp| match resp {
            Response::MailboxData(MailboxDatum::List(list)) => {
                let attributes: &[NameAttribute<'_>] = if special_use {
                    &list.name_attributes
                } else {
                    &[]
                };
                let remote_name = list.name.to_string();
                let selectable = !list.name_attributes.iter().any(|a| match a {
                    NameAttribute::NoSelect => true,
                    NameAttribute::Extension(name) => name.eq_ignore_ascii_case("\\NonExistent"),
                    _ => false,
                });
                folders.push(RemoteFolder {
                    name: if remote_name.eq_ignore_ascii_case("INBOX") {
                        "INBOX".to_owned()
                    } else {
                        utf7::decode(&remote_name)
                    },
                    role: role_of(attributes, &utf7::decode(&remote_name)),
                    delimiter: list.delimiter.as_deref().unwrap_or("").to_owned(),
                    selectable,
                    uidvalidity: None,
                    remote_name,
                });
            }
            Response::MailboxData(MailboxDatum::Status { mailbox, status }) => {
                statuses.push((mailbox.to_string(), status_from(status)));
            }
            _ => {}
        })
        .await?;
        self.drain_unsolicited();
        Ok(folders
            .into_iter()
            .map(|mut f| {
                let status = statuses
                    .iter()
                    .find(|(name, _)| *name == f.remote_name)
                    .map(|(_, s)| *s);
                f.uidvalidity = status.map(|s| s.uidvalidity);
                (f, status)
            })
            .collect())
    }

    /// Selects a folder (with CONDSTORE when offered).
    pub async fn select(&mut self, remote_name: &str) -> Result<MailboxStatus> {
        let target = self.target.clone();
        // async-imap quotes the name itself.
        let mailbox = if self.caps.condstore {
            timed(
                &target,
                "SELECT",
                self.session.select_condstore(remote_name),
            )
            .await?
        } else {
            timed(&target, "SELECT", self.session.select(remote_name)).await?
        };
        self.drain_unsolicited();
        // Every SELECT answer carries UIDVALIDITY (RFC 3501 2.3.1.1). Without it the
        // answer was lost (seen rarely on a reused session under load): taking it for
        // an empty folder with a new UIDVALIDITY would drop the whole local cache.
        let Some(uidvalidity) = mailbox.uid_validity.filter(|v| *v != 0) else {
            self.selected = None;
            // Transient: the caller drops this session and the next attempt reconnects.
            return Err(Error::new(
                ErrorKind::Network,
                format!("{target} answered SELECT {remote_name} without UIDVALIDITY; reconnecting"),
            ));
        };
        self.selected = Some(remote_name.to_owned());
        Ok(MailboxStatus {
            uidvalidity,
            uidnext: mailbox.uid_next.unwrap_or(0),
            highestmodseq: mailbox.highest_modseq.filter(|_| self.caps.condstore),
            messages: mailbox.exists,
        })
    }

    pub fn selected(&self) -> Option<&str> {
        self.selected.as_deref()
    }

    /// Every UID in the selected folder.
    pub async fn uid_search_all(&mut self) -> Result<Vec<u32>> {
        let target = self.target.clone();
        let uids = timed(&target, "UID SEARCH", self.session.uid_search("ALL")).await?;
        self.drain_unsolicited();
        let mut uids: Vec<u32> = uids.into_iter().collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// Flags of the selected folder: all of them, or only those changed since `modseq`
    /// (CONDSTORE), with expunged UIDs when QRESYNC is on.
    pub async fn scan_flags(&mut self, changed_since: Option<u64>) -> Result<FlagScan> {
        let target = self.target.clone();
        let items = if self.caps.condstore {
            "(UID FLAGS MODSEQ)"
        } else {
            "(UID FLAGS)"
        };
        let query = match changed_since {
            Some(modseq) if self.caps.qresync => {
                format!("{items} (CHANGEDSINCE {modseq} VANISHED)")
            }
            Some(modseq) => format!("{items} (CHANGEDSINCE {modseq})"),
            None => items.to_owned(),
        };
        let fetches: Vec<Fetch> = timed(&target, "UID FETCH", async {
            self.session
                .uid_fetch("1:*", &query)
                .await?
                .try_collect()
                .await
        })
        .await?;
        let messages = fetches
            .iter()
            .filter_map(|f| {
                Some(ServerFlags {
                    uid: f.uid?,
                    flags: parse_flags(f.flags()),
                    modseq: f.modseq.unwrap_or(0),
                })
            })
            .collect();
        let (vanished, lossy) = self.drain_unsolicited();
        Ok(FlagScan {
            messages,
            vanished,
            lossy,
        })
    }

    /// Envelope-level headers for `uids` in the selected folder.
    pub async fn fetch_headers(&mut self, uids: &[u32]) -> Result<Vec<HeaderRecord>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let target = self.target.clone();
        let query = format!(
            "(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})]{})",
            if self.caps.condstore { " MODSEQ" } else { "" }
        );
        let set = uid_set(uids);
        let fetches: Vec<Fetch> = timed(&target, "UID FETCH", async {
            self.session
                .uid_fetch(&set, &query)
                .await?
                .try_collect()
                .await
        })
        .await?;
        self.drain_unsolicited();
        Ok(fetches
            .iter()
            .filter_map(|f| {
                let uid = f.uid?;
                Some(HeaderRecord {
                    uid,
                    modseq: f.modseq.unwrap_or(0),
                    flags: parse_flags(f.flags()),
                    size: f.size.unwrap_or(0),
                    internal_date: f.internal_date().map(|d| d.timestamp()).unwrap_or(0),
                    ..HeaderRecord::from_headers(mime::parse_headers(f.header().unwrap_or(b"")))
                })
            })
            .collect())
    }

    /// Whole messages for `uids` in the selected folder, without setting \Seen.
    pub async fn fetch_bodies(&mut self, uids: &[u32]) -> Result<Vec<(u32, Vec<u8>)>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let target = self.target.clone();
        let set = uid_set(uids);
        let fetches: Vec<Fetch> = timed(&target, "UID FETCH", async {
            self.session
                .uid_fetch(&set, "(UID BODY.PEEK[])")
                .await?
                .try_collect()
                .await
        })
        .await?;
        self.drain_unsolicited();
        Ok(fetches
            .iter()
            .filter_map(|f| Some((f.uid?, f.body()?.to_vec())))
            .collect())
    }

    /// Moves one message; returns where it landed (UIDVALIDITY, UID) if the server says
    /// (COPYUID). Without MOVE: COPY, \Deleted, then UID EXPUNGE (or EXPUNGE).
    pub async fn uid_move(&mut self, uid: u32, target: &str) -> Result<Option<(u32, u32)>> {
        let mut landed = None;
        let verb = if self.caps.move_ {
            "UID MOVE"
        } else {
            "UID COPY"
        };
        self.raw_command(&format!("{verb} {uid} {}", quote(target)), |resp| {
            landed = landed.or_else(|| copy_uid(resp));
        })
        .await?;
        if !self.caps.move_ {
            self.uid_store(uid, &["\\Deleted"], &[]).await?;
            self.uid_expunge(uid).await?;
        }
        self.drain_unsolicited();
        Ok(landed)
    }

    pub async fn uid_store(&mut self, uid: u32, add: &[&str], remove: &[&str]) -> Result<()> {
        for (sign, names) in [("+", add), ("-", remove)] {
            if !names.is_empty() {
                self.raw_command(
                    &format!("UID STORE {uid} {sign}FLAGS.SILENT ({})", names.join(" ")),
                    |_| {},
                )
                .await?;
            }
        }
        self.drain_unsolicited();
        Ok(())
    }

    /// Expunges one message; without UIDPLUS only a plain EXPUNGE exists.
    pub async fn uid_expunge(&mut self, uid: u32) -> Result<()> {
        let command = if self.caps.uidplus {
            format!("UID EXPUNGE {uid}")
        } else {
            "EXPUNGE".to_owned()
        };
        self.raw_command(&command, |_| {}).await?;
        self.drain_unsolicited();
        Ok(())
    }

    /// Whether a UID still exists in the selected folder.
    pub async fn scan_uid(&mut self, uid: u32) -> Result<bool> {
        let mut found = false;
        self.raw_command(&format!("UID FETCH {uid} (UID)"), |resp| {
            // Unsolicited FETCHes for other messages may arrive too.
            if let Response::Fetch(_, attrs) = resp {
                found |= attrs.iter().any(
                    |a| matches!(a, async_imap::imap_proto::AttributeValue::Uid(u) if *u == uid),
                );
            }
        })
        .await?;
        Ok(found)
    }

    /// UID of the message with this Message-ID in the selected folder (the newest match).
    pub async fn find_message_id(&mut self, message_id: &str) -> Result<Option<u32>> {
        if message_id.is_empty() || message_id.contains(['"', '\\', '\r', '\n']) {
            return Ok(None);
        }
        let mut found: Vec<u32> = Vec::new();
        self.raw_command(
            &format!("UID SEARCH HEADER Message-ID \"{message_id}\""),
            |resp| {
                if let Response::MailboxData(MailboxDatum::Search(uids)) = resp {
                    found.extend(uids);
                }
            },
        )
        .await?;
        Ok(found.into_iter().max())
    }

    /// Uploads a message. async-imap drops APPENDUID, so the caller finds the new UID
    /// by Message-ID; this returns `None` for it to do so.
    pub async fn append(
        &mut self,
        folder: &str,
        flags: &[&str],
        raw: &[u8],
    ) -> Result<Option<(u32, u32)>> {
        let target = self.target.clone();
        let flags = format!("({})", flags.join(" "));
        timed(
            &target,
            "APPEND",
            self.session.append(folder, Some(flags.as_str()), None, raw),
        )
        .await?;
        self.drain_unsolicited();
        // The selected folder's view is stale after an APPEND into it.
        self.selected = None;
        Ok(None)
    }

    /// CREATE and SUBSCRIBE; a folder that already exists counts as created.
    pub async fn create_folder(&mut self, remote_name: &str) -> Result<()> {
        match self
            .raw_command(&format!("CREATE {}", quote(remote_name)), |_| {})
            .await
        {
            Err(err)
                if err.message.contains("ALREADYEXISTS")
                    || err.message.to_ascii_lowercase().contains("already exists") => {}
            other => {
                other?;
            }
        }
        let _ = self
            .raw_command(&format!("SUBSCRIBE {}", quote(remote_name)), |_| {})
            .await;
        Ok(())
    }

    pub async fn rename_folder(&mut self, from: &str, to: &str) -> Result<()> {
        self.raw_command(&format!("RENAME {} {}", quote(from), quote(to)), |_| {})
            .await?;
        let _ = self
            .raw_command(&format!("SUBSCRIBE {}", quote(to)), |_| {})
            .await;
        Ok(())
    }

    /// DELETE; a folder that is already gone counts as deleted.
    pub async fn delete_folder(&mut self, remote_name: &str) -> Result<()> {
        if self.selected.as_deref() == Some(remote_name) {
            let _ = self.raw_command("UNSELECT", |_| {}).await;
            self.selected = None;
        }
        match self
            .raw_command(&format!("DELETE {}", quote(remote_name)), |_| {})
            .await
        {
            Err(err)
                if err.message.contains("NONEXISTENT")
                    || err.message.to_ascii_lowercase().contains("doesn't exist") =>
            {
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }

    /// NOOP: keeps the connection alive and shows whether it still is.
    pub async fn noop(&mut self) -> Result<()> {
        self.raw_command("NOOP", |_| {}).await?;
        Ok(())
    }

    /// Waits in IDLE on the selected folder until the server reports something, `renewal`
    /// passes (IDLE is then re-issued by the caller), or `interrupt` completes.
    pub async fn idle(
        self,
        renewal: Duration,
        interrupt: impl Future<Output = ()>,
    ) -> Result<(Self, IdleEvent)> {
        let Self {
            session,
            caps,
            target,
            selected,
        } = self;
        let mut handle = session.idle();
        timed(&target, "IDLE", handle.init()).await?;
        let event = {
            let (wait, stop) = handle.wait_with_timeout(renewal + Duration::from_secs(60));
            let mut stop = Some(stop);
            let mut interrupted = false;
            tokio::pin!(wait);
            let deadline = tokio::time::sleep(renewal);
            tokio::pin!(deadline);
            tokio::pin!(interrupt);
            // Dropping the stop source ends the wait cleanly (no read is cut in half).
            let result = loop {
                tokio::select! {
                    result = &mut wait => break result,
                    _ = &mut deadline, if stop.is_some() => stop = None,
                    _ = &mut interrupt, if stop.is_some() => {
                        stop = None;
                        interrupted = true;
                    }
                }
            };
            match result.map_err(|err| imap_error(&target, "IDLE", err))? {
                async_imap::extensions::idle::IdleResponse::NewData(_) => IdleEvent::Changed,
                _ if interrupted => IdleEvent::Interrupted,
                _ => IdleEvent::Renew,
            }
        };
        let session = timed(&target, "DONE", async { handle.done().await }).await?;
        let mut conn = Self {
            session,
            caps,
            target,
            selected,
        };
        conn.drain_unsolicited();
        Ok((conn, event))
    }

    /// Empties async-imap's bounded unsolicited channel, which drops silently when full.
    /// Returns VANISHED UIDs and whether the channel was full (responses may be lost).
    pub fn drain_unsolicited(&mut self) -> (Vec<u32>, bool) {
        let lossy = self.session.unsolicited_responses.is_full();
        let mut vanished = HashSet::new();
        while let Ok(resp) = self.session.unsolicited_responses.try_recv() {
            if let UnsolicitedResponse::Other(data) = resp {
                if let Response::Vanished { uids, .. } = data.parsed() {
                    for range in uids {
                        vanished.extend(range.clone());
                    }
                }
            }
        }
        let mut vanished: Vec<u32> = vanished.into_iter().collect();
        vanished.sort_unstable();
        (vanished, lossy)
    }

    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.session.logout()).await;
    }
}

fn status_from(attributes: &[StatusAttribute]) -> MailboxStatus {
    let mut status = MailboxStatus::default();
    for attr in attributes {
        match attr {
            StatusAttribute::Messages(n) => status.messages = *n,
            StatusAttribute::UidNext(n) => status.uidnext = *n,
            StatusAttribute::UidValidity(n) => status.uidvalidity = *n,
            StatusAttribute::HighestModSeq(n) => status.highestmodseq = Some(*n),
            _ => {}
        }
    }
    status
}

/// "UID MOVE", "SELECT": the verb of a command line, for messages.
fn command_name(command: &str) -> String {
    let mut words = command.split(' ');
    match words.next() {
        Some(uid) if uid.eq_ignore_ascii_case("UID") => {
            format!("UID {}", words.next().unwrap_or_default())
        }
        Some(verb) => verb.to_owned(),
        None => String::new(),
    }
}

/// (UIDVALIDITY, first new UID) from a COPYUID response code (RFC 4315).
fn copy_uid(resp: &Response<'_>) -> Option<(u32, u32)> {
    let outcome = match resp {
        Response::Data { outcome, .. } | Response::Done { outcome, .. } => outcome,
        _ => return None,
    };
    match outcome.code.as_ref()? {
        ResponseCode::CopyUid(uidvalidity, _, dst) => {
            let first = match dst.first()? {
                UidSetMember::Uid(uid) => *uid,
                UidSetMember::UidRange(range) => *range.start(),
            };
            Some((*uidvalidity, first))
        }
        _ => None,
    }
}

/// The name of a response code as it appears on the wire, for error messages.
fn code_name(code: &ResponseCode<'_>) -> String {
    match code {
        ResponseCode::TryCreate => "TRYCREATE".to_owned(),
        ResponseCode::ReadOnly => "READ-ONLY".to_owned(),
        ResponseCode::Alert => "ALERT".to_owned(),
        other => format!("{other:?}").to_ascii_uppercase(),
    }
}

async fn read_greeting<S>(
    client: &mut async_imap::Client<S>,
    target: &str,
    limit: Duration,
) -> Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let greeting = tokio::time::timeout(limit, client.read_response())
        .await
        .map_err(|_| net::timed_out(target, "its greeting", limit))?
        .map_err(|err| net::io_error(target, err))?;
    match greeting.as_ref().map(|g| g.parsed()) {
        Some(Response::Data {
            status: Status::Ok | Status::PreAuth,
            ..
        }) => Ok(()),
        Some(Response::Data {
            status: Status::Bye,
            ..
        }) => Err(Error::new(
            ErrorKind::Network,
            format!("{target} refused the connection (BYE)"),
        )),
        _ => Err(Error::new(
            ErrorKind::ProtocolUnsupported,
            format!("{target} did not greet like an IMAP server"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_are_compressed() {
        let cases: &[(&[u32], &str)] = &[
            (&[], ""),
            (&[7], "7"),
            (&[1, 2, 3], "1:3"),
            (&[5, 3, 4, 9, 1], "1,3:5,9"),
            (&[10, 10, 11], "10:11"),
        ];
        for (uids, expected) in cases {
            assert_eq!(uid_set(uids), *expected);
        }
    }

    #[test]
    fn capabilities_and_disabled_extensions() {
        let names: Vec<String> = [
            "IMAP4rev1",
            "CONDSTORE",
            "QRESYNC",
            "MOVE",
            "COMPRESS=DEFLATE",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let caps = ServerCaps::from_names(&names);
        assert!(caps.condstore && caps.qresync && caps.move_ && caps.compress);
        assert!(!caps.idle && !caps.uidplus);
        let caps = caps.without(&["CONDSTORE".into(), "COMPRESS".into()]);
        assert!(!caps.condstore && !caps.qresync && !caps.compress);
        assert!(caps.move_);
    }

    #[test]
    fn roles_by_name_without_special_use() {
        let cases = [
            ("Sent", Some(FolderRole::Sent)),
            ("INBOX.Sent Items", Some(FolderRole::Sent)),
            ("Deleted Items", Some(FolderRole::Trash)),
            ("Spam", Some(FolderRole::Junk)),
            ("Work/Archive", Some(FolderRole::Archive)),
            ("Entwürfe", Some(FolderRole::Drafts)),
            ("Receipts", None),
        ];
        for (name, role) in cases {
            assert_eq!(role_by_name(name), role, "{name}");
        }
        assert_eq!(role_of(&[], "inbox"), Some(FolderRole::Inbox));
        assert_eq!(
            role_of(&[NameAttribute::Junk], "Bulk"),
            Some(FolderRole::Junk)
        );
    }

    #[test]
    fn mailbox_names_are_quoted() {
        assert_eq!(quote("INBOX"), "\"INBOX\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
