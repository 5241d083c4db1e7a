//! The commands sync and replay need, each with the command timeout and typed errors.

use async_imap::imap_proto::rfc4315::UidSetMember;
use async_imap::imap_proto::{
    MailboxDatum, NameAttribute, RequestId, Response, ResponseCode, Status, StatusAttribute,
};
use async_imap::types::{Fetch, Flag};
use futures::TryStreamExt;

use super::codes::{command_name, refusal, timed};
use super::uids::{quote, uid_set};
use super::{FetchedHeader, FlagScan, ImapConnection, MailboxStatus, ServerFlags};
use crate::error::{Error, ErrorKind, Result, ServerCode};
use crate::mail::mailbox_name::Naming;
use crate::mail::{roles, RemoteFolder};
use crate::model::{Flags, FolderRole};

/// Header fields fetched before bodies: enough for the list and for threading.
pub(super) const HEADER_FIELDS: &str =
    "FROM TO CC SUBJECT DATE MESSAGE-ID IN-REPLY-TO REFERENCES CONTENT-TYPE";

impl ImapConnection {
    /// Runs a command that only needs an OK.
    pub async fn simple(&mut self, command: &str) -> Result<()> {
        let what = command_name(command);
        timed(
            &self.clock,
            &self.target,
            &what,
            self.session.run_command_and_check_ok(command),
        )
        .await?;
        Ok(())
    }

    /// Runs a command and hands every untagged response to `on_data`; a tagged NO or
    /// BAD is a refusal with the server's code.
    async fn raw_command(
        &mut self,
        command: &str,
        mut on_data: impl FnMut(&Response<'_>),
    ) -> Result<()> {
        let what = command_name(command);
        let target = self.target.clone();
        let clock = self.clock.clone();
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
                        return Ok(match status {
                            Status::Ok => Ok(()),
                            _ => Err(refusal(&target, &what, status, outcome)),
                        });
                    }
                    other => on_data(other),
                }
            }
        };
        timed(&clock, &target, &what, run).await?
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
        let prefix = self.naming.prefix.clone();
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
                let naming = Naming {
                    prefix: prefix.clone(),
                    delimiter: list.delimiter.as_deref().unwrap_or("").to_owned(),
                };
                let name = naming.display(&remote_name);
                folders.push(RemoteFolder {
                    role: role_of(attributes, &name),
                    name,
                    delimiter: naming.delimiter,
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
        // The separator is the server's one; INBOX may list without it.
        if let Some(delimiter) = folders.iter().map(|f| &f.delimiter).find(|d| !d.is_empty()) {
            self.naming.delimiter = delimiter.clone();
        }
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

    /// The personal namespace (RFC 2342): where this user's folders live and how their
    /// names are separated. Servers without NAMESPACE keep folders at the top.
    pub(super) async fn read_namespace(&mut self) -> Result<()> {
        if !self
            .caps
            .all
            .iter()
            .any(|c| c.eq_ignore_ascii_case("NAMESPACE"))
        {
            return Ok(());
        }
        let mut personal = None;
        self.raw_command("NAMESPACE", |resp| {
            if let Response::Namespace { personal: list, .. } = resp {
                personal = list.first().map(|ns| {
                    (
                        ns.prefix.to_string(),
                        ns.delimiter.as_deref().map(str::to_owned),
                    )
                });
            }
        })
        .await?;
        self.drain_unsolicited();
        if let Some((prefix, delimiter)) = personal {
            self.naming = Naming {
                prefix,
                delimiter: delimiter.unwrap_or_default(),
            };
        }
        Ok(())
    }

    /// How this server names folders (its personal namespace and separator).
    pub fn naming(&self) -> &Naming {
        &self.naming
    }

    /// A folder's counters without selecting it.
    pub async fn status(&mut self, remote_name: &str) -> Result<MailboxStatus> {
        let items = if self.caps.condstore {
            "(MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"
        } else {
            "(MESSAGES UIDNEXT UIDVALIDITY)"
        };
        let mut found = None;
        self.raw_command(&format!("STATUS {} {items}", quote(remote_name)), |resp| {
            if let Response::MailboxData(MailboxDatum::Status { status, .. }) = resp {
                found = Some(status_from(status));
            }
        })
        .await?;
        self.drain_unsolicited();
        found.ok_or_else(|| {
            Error::protocol(format!(
                "{} answered STATUS {remote_name} without counters",
                self.target
            ))
        })
    }

    /// Selects a folder (with CONDSTORE when offered).
    pub async fn select(&mut self, remote_name: &str) -> Result<MailboxStatus> {
        // A SELECT that fails leaves no folder selected (RFC 3501 6.3.1).
        self.selected = None;
        self.selected_status = None;
        let target = self.target.clone();
        let clock = self.clock.clone();
        // async-imap quotes the name itself.
        let mailbox = if self.caps.condstore {
            timed(
                &clock,
                &target,
                "SELECT",
                self.session.select_condstore(remote_name),
            )
            .await?
        } else {
            timed(&clock, &target, "SELECT", self.session.select(remote_name)).await?
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
        let status = MailboxStatus {
            uidvalidity,
            uidnext: mailbox.uid_next.unwrap_or(0),
            highestmodseq: mailbox.highest_modseq.filter(|_| self.caps.condstore),
            messages: mailbox.exists,
        };
        self.selected_status = Some(status);
        Ok(status)
    }

    /// Every UID in the selected folder, asked in a form whose answer stays short: with
    /// ESEARCH (RFC 4731) as ranges; otherwise in slices of the UID space, so that no
    /// single answer line grows with the folder.
    pub async fn uid_search_all(&mut self) -> Result<Vec<u32>> {
        let mut uids: Vec<u32> = Vec::new();
        if self.caps.esearch {
            self.raw_command("UID SEARCH RETURN (ALL) ALL", |resp| {
                if let Response::ESearch(found) = resp {
                    for range in found.all.iter().flatten() {
                        uids.extend(range.clone());
                    }
                }
            })
            .await?;
        } else {
            let uidnext = self.selected_status.map_or(0, |s| s.uidnext);
            for range in search_slices(uidnext) {
                self.raw_command(&format!("UID SEARCH UID {range}"), |resp| {
                    if let Response::MailboxData(MailboxDatum::Search(found)) = resp {
                        uids.extend(found);
                    }
                })
                .await?;
            }
        }
        self.drain_unsolicited();
        uids.sort_unstable();
        uids.dedup();
        Ok(uids)
    }

    /// Flags of the selected folder: all of them, or only those changed since `modseq`
    /// (CONDSTORE), with expunged UIDs when QRESYNC is on.
    pub async fn scan_flags(&mut self, changed_since: Option<u64>) -> Result<FlagScan> {
        let target = self.target.clone();
        let clock = self.clock.clone();
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
        let fetches: Vec<Fetch> = timed(&clock, &target, "UID FETCH", async {
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
        let super::idle::Unsolicited {
            vanished, lossy, ..
        } = self.drain_unsolicited();
        Ok(FlagScan {
            messages,
            vanished,
            lossy,
        })
    }

    /// The FETCH items of a message's header facts.
    pub(super) fn header_query(&self) -> String {
        format!(
            "(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})]{}{})",
            if self.caps.condstore { " MODSEQ" } else { "" },
            if self.caps.gmail { " X-GM-MSGID" } else { "" }
        )
    }

    /// Envelope-level headers for `uids` in the selected folder.
    pub async fn fetch_headers(&mut self, uids: &[u32]) -> Result<Vec<FetchedHeader>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let query = self.header_query();
        let fetches = self.uid_fetch_all(&uid_set(uids), &query).await?;
        Ok(fetches
            .iter()
            .filter_map(|f| {
                Some(FetchedHeader {
                    uid: f.uid?,
                    modseq: f.modseq.unwrap_or(0),
                    flags: parse_flags(f.flags()),
                    size: f.size.unwrap_or(0),
                    internal_date: f.internal_date().map(|d| d.timestamp()).unwrap_or(0),
                    header: f.header().unwrap_or(b"").to_vec(),
                    gm_msgid: f.gmail_msg_id().copied(),
                })
            })
            .collect())
    }

    /// `UID FETCH set query`, every answer collected (only a tagged OK ends it).
    pub(super) async fn uid_fetch_all(&mut self, set: &str, query: &str) -> Result<Vec<Fetch>> {
        let target = self.target.clone();
        let clock = self.clock.clone();
        let fetches = timed(&clock, &target, "UID FETCH", async {
            self.session
                .uid_fetch(set, query)
                .await?
                .try_collect()
                .await
        })
        .await?;
        self.drain_unsolicited();
        Ok(fetches)
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

    /// The Message-ID header field of the message at `uid` in the selected folder, raw
    /// (`None`: no message has that UID).
    pub async fn message_id_at(&mut self, uid: u32) -> Result<Option<Vec<u8>>> {
        use async_imap::imap_proto::AttributeValue;
        let mut found = None;
        self.raw_command(
            &format!("UID FETCH {uid} (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"),
            |resp| {
                // Unsolicited FETCHes for other messages may arrive too.
                if let Response::Fetch(_, attrs) = resp {
                    if attrs
                        .iter()
                        .any(|a| matches!(a, AttributeValue::Uid(u) if *u == uid))
                    {
                        let header = attrs.iter().find_map(|a| match a {
                            AttributeValue::BodySection { data, .. } => data.as_deref(),
                            _ => None,
                        });
                        found = Some(header.unwrap_or_default().to_vec());
                    }
                }
            },
        )
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
        let clock = self.clock.clone();
        let flags = format!("({})", flags.join(" "));
        timed(
            &clock,
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
            // Servers without RFC 5530 codes say so only in words.
            Err(err)
                if err.code == Some(ServerCode::AlreadyExists)
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
                if err.code == Some(ServerCode::Nonexistent)
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
    special.or_else(|| roles::role_by_name(name))
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

/// UIDs a listing without ESEARCH asks for at a time: each answer line stays under a few
/// megabytes however large the folder.
const SEARCH_SLICE: u32 = 250_000;

/// The UID ranges that cover a folder whose next UID is `uidnext`; the last one is open
/// (`n:*`), so mail that arrived after SELECT is listed too.
fn search_slices(uidnext: u32) -> Vec<String> {
    let mut slices = Vec::new();
    let mut start = 1u32;
    while uidnext > start.saturating_add(SEARCH_SLICE) {
        slices.push(format!("{start}:{}", start + SEARCH_SLICE - 1));
        start += SEARCH_SLICE;
    }
    slices.push(format!("{start}:*"));
    slices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_are_asked_in_slices() {
        assert_eq!(search_slices(0), ["1:*"]);
        assert_eq!(search_slices(250_001), ["1:*"]);
        assert_eq!(search_slices(250_002), ["1:250000", "250001:*"]);
        assert_eq!(
            search_slices(1_600_000),
            [
                "1:250000",
                "250001:500000",
                "500001:750000",
                "750001:1000000",
                "1000001:1250000",
                "1250001:1500000",
                "1500001:*"
            ]
        );
    }
}
