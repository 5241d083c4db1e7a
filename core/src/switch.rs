//! Moving a POP3 account to IMAP on the same server, carrying over what this device
//! knows: read state and flags are set on the server, messages are matched by
//! Message-ID, local folders are created there and messages the server no longer has
//! are uploaded. Only when every message is on the server does the account switch.

use std::collections::{HashMap, HashSet};

use crate::error::{Error, ErrorKind, Result};
use crate::events::EventBus;
use crate::mail::mailbox_name::{self, Naming};
use crate::mail::FlagSet;
use crate::mime;
use crate::model::{Account, Event, FolderRole, Protocol, ServerConfig};
use crate::session::Sessions;
use crate::store::Store;

/// Flags the switch carries over (not \Draft or \Deleted).
const CARRIED: FlagSet = FlagSet::SEEN
    .union(FlagSet::FLAGGED)
    .union(FlagSet::ANSWERED)
    .union(FlagSet::FORWARDED);

/// A message on this device, with the server folder it belongs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCopy {
    pub id: i64,
    pub message_id: String,
    pub target: String,
    pub flags: FlagSet,
}

/// A message the server has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerCopy {
    pub folder: String,
    pub uid: u32,
    pub flags: FlagSet,
}

/// One thing to do on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Make the server's flags what this device says (this device wins).
    Flags {
        folder: String,
        uid: u32,
        add: FlagSet,
        remove: FlagSet,
    },
    /// File the message where this device filed it (flags were set first).
    Move { from: String, uid: u32, to: String },
    /// The server no longer has it: upload this device's copy.
    Upload {
        id: i64,
        folder: String,
        flags: FlagSet,
    },
}

/// Where a local folder goes on the server: the folder with the same role, else one
/// of the same name (created if missing).
pub fn target_folder(
    local_name: &str,
    role: Option<FolderRole>,
    server: &[(String, Option<FolderRole>)],
    naming: &Naming,
) -> String {
    if role == Some(FolderRole::Inbox) {
        return "INBOX".to_owned();
    }
    if let Some(role) = role {
        if let Some((name, _)) = server.iter().find(|(_, r)| *r == Some(role)) {
            return name.clone();
        }
    }
    naming
        .remote(local_name)
        .unwrap_or_else(|_| mailbox_name::encode(local_name))
}

/// What to do for every local message. Each server copy is matched at most once, the
/// one already in the right folder first.
pub fn plan(local: &[LocalCopy], server: &HashMap<String, Vec<ServerCopy>>) -> Vec<Step> {
    let mut claimed: HashSet<(String, u32)> = HashSet::new();
    let mut steps = Vec::new();
    for copy in local {
        let candidates = server
            .get(&copy.message_id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let free = |c: &&ServerCopy| !claimed.contains(&(c.folder.clone(), c.uid));
        let found = candidates
            .iter()
            .filter(free)
            .find(|c| c.folder == copy.target)
            .or_else(|| candidates.iter().find(free));
        let Some(found) = found.filter(|_| !copy.message_id.is_empty()) else {
            steps.push(Step::Upload {
                id: copy.id,
                folder: copy.target.clone(),
                flags: copy.flags,
            });
            continue;
        };
        claimed.insert((found.folder.clone(), found.uid));
        let want = copy.flags & CARRIED;
        let have = found.flags & CARRIED;
        if want != have {
            steps.push(Step::Flags {
                folder: found.folder.clone(),
                uid: found.uid,
                add: want - have,
                remove: have - want,
            });
        }
        if found.folder != copy.target {
            steps.push(Step::Move {
                from: found.folder.clone(),
                uid: found.uid,
                to: copy.target.clone(),
            });
        }
    }
    steps
}

/// What a switch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct SwitchReport {
    pub matched: u32,
    pub uploaded: u32,
    pub moved: u32,
    pub flags_set: u32,
    pub folders_created: u32,
}

/// The services a switch uses.
pub(crate) struct Switch<'a> {
    pub sessions: &'a Sessions,
    pub store: &'a Store,
    pub events: &'a EventBus,
}

impl Switch<'_> {
    pub async fn run(&self, account: &Account, imap: ServerConfig) -> Result<SwitchReport> {
        if account.protocol != Protocol::Pop3 {
            return Err(Error::invalid(format!(
                "account '{}' already uses IMAP",
                account.name
            )));
        }
        let lock = self.sessions.lock(account.id);
        let _guard = lock.lock().await;
        let mut conn = self
            .sessions
            .connect_to(account, &imap)
            .await
            .map_err(|err| {
                Error::new(
                    err.kind,
                    format!(
                        "the server does not offer IMAP to this account: {}",
                        err.message
                    ),
                )
            })?;
        let mut report = SwitchReport::default();

        // Where each local folder goes; create what the server lacks.
        let listed = conn.list_folders().await?;
        let server_folders: Vec<(String, Option<FolderRole>)> = listed
            .iter()
            .map(|(f, _)| (f.remote_name.clone(), f.role))
            .collect();
        let local_folders = self.store.folders(Some(account.id))?;
        let mut targets: HashMap<String, String> = HashMap::new();
        for folder in &local_folders {
            let target = target_folder(&folder.name, folder.role, &server_folders, conn.naming());
            if !server_folders.iter().any(|(name, _)| *name == target) {
                conn.create_folder(&target).await?;
                report.folders_created += 1;
            }
            targets.insert(folder.name.clone(), target);
        }

        // What the server has, by Message-ID, in every folder this device files into.
        let mut server: HashMap<String, Vec<ServerCopy>> = HashMap::new();
        let mut scanned: Vec<&String> = targets.values().collect();
        scanned.sort();
        scanned.dedup();
        for folder in scanned {
            if conn.select(folder).await.is_err() {
                continue; // an empty local folder that was not created
            }
            let uids = conn.uid_search_all().await?;
            for chunk in uids.chunks(500) {
                for fetched in conn.fetch_headers(chunk).await? {
                    let message_id = mime::parse_headers(&fetched.header).message_id;
                    server.entry(message_id).or_default().push(ServerCopy {
                        folder: folder.clone(),
                        uid: fetched.uid,
                        flags: FlagSet::from(&fetched.flags),
                    });
                }
            }
        }

        let local: Vec<LocalCopy> = self
            .store
            .list_messages(Some(account.id), None, u32::MAX, 0)?
            .into_iter()
            .filter_map(|m| {
                Some(LocalCopy {
                    id: m.id,
                    target: targets.get(&m.folder)?.clone(),
                    message_id: m.message_id,
                    flags: FlagSet::from(&m.flags),
                })
            })
            .collect();
        let steps = plan(&local, &server);
        report.matched = local.len() as u32
            - steps
                .iter()
                .filter(|s| matches!(s, Step::Upload { .. }))
                .count() as u32;
        for step in steps {
            match step {
                Step::Flags {
                    folder,
                    uid,
                    add,
                    remove,
                } => {
                    if conn.selected() != Some(folder.as_str()) {
                        conn.select(&folder).await?;
                    }
                    conn.uid_store(uid, &add.imap_names(), &remove.imap_names())
                        .await?;
                    report.flags_set += 1;
                }
                Step::Move { from, uid, to } => {
                    if conn.selected() != Some(from.as_str()) {
                        conn.select(&from).await?;
                    }
                    conn.uid_move(uid, &to).await?;
                    report.moved += 1;
                }
                Step::Upload { id, folder, flags } => {
                    let raw = self.store.raw_message(id)?.ok_or_else(|| {
                        Error::new(
                            ErrorKind::Storage,
                            format!(
                                "message {id} has no stored copy to upload; nothing was switched"
                            ),
                        )
                    })?;
                    let kept = flags & (CARRIED | FlagSet::DRAFT);
                    conn.append(&folder, &kept.imap_names(), &raw).await?;
                    report.uploaded += 1;
                }
            }
        }
        let caps = conn.capability_names().to_vec();
        conn.logout().await;

        // Everything is on the server now: the account becomes an IMAP account, and the
        // next sync fills its cache from there.
        self.store.convert_to_imap(account.id, &imap, &caps)?;
        self.events.emit(Event::FoldersChanged {
            account: account.name.clone(),
        });
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const NONE: FlagSet = FlagSet::empty();
    const SEEN: FlagSet = FlagSet::SEEN;
    const FLAGGED: FlagSet = FlagSet::FLAGGED;
    const ANSWERED: FlagSet = FlagSet::ANSWERED;

    fn local(id: i64, mid: &str, target: &str, flags: FlagSet) -> LocalCopy {
        LocalCopy {
            id,
            message_id: mid.into(),
            target: target.into(),
            flags,
        }
    }

    fn on_server(list: &[(&str, &str, u32, FlagSet)]) -> HashMap<String, Vec<ServerCopy>> {
        let mut map: HashMap<String, Vec<ServerCopy>> = HashMap::new();
        for (mid, folder, uid, flags) in list {
            map.entry(mid.to_string()).or_default().push(ServerCopy {
                folder: folder.to_string(),
                uid: *uid,
                flags: *flags,
            });
        }
        map
    }

    #[test]
    fn each_local_message_gets_what_it_needs() {
        type Case<'a> = (
            &'a str,
            LocalCopy,
            Vec<(&'a str, &'a str, u32, FlagSet)>,
            Vec<Step>,
        );
        let cases: Vec<Case> = vec![
            (
                "same folder, same flags: nothing",
                local(1, "a", "INBOX", SEEN),
                vec![("a", "INBOX", 7, SEEN)],
                vec![],
            ),
            (
                "POP3 RETR set \\Seen there, unread here: this device wins",
                local(1, "a", "INBOX", NONE),
                vec![("a", "INBOX", 7, SEEN)],
                vec![Step::Flags {
                    folder: "INBOX".into(),
                    uid: 7,
                    add: NONE,
                    remove: SEEN,
                }],
            ),
            (
                "read and answered here",
                local(1, "a", "INBOX", SEEN | ANSWERED),
                vec![("a", "INBOX", 7, FLAGGED)],
                vec![Step::Flags {
                    folder: "INBOX".into(),
                    uid: 7,
                    add: SEEN | ANSWERED,
                    remove: FLAGGED,
                }],
            ),
            (
                "filed into a folder here: flags, then move",
                local(1, "a", "Receipts", SEEN),
                vec![("a", "INBOX", 7, NONE)],
                vec![
                    Step::Flags {
                        folder: "INBOX".into(),
                        uid: 7,
                        add: SEEN,
                        remove: NONE,
                    },
                    Step::Move {
                        from: "INBOX".into(),
                        uid: 7,
                        to: "Receipts".into(),
                    },
                ],
            ),
            (
                "deleted from the server after download: upload",
                local(1, "a", "INBOX", SEEN),
                vec![],
                vec![Step::Upload {
                    id: 1,
                    folder: "INBOX".into(),
                    flags: SEEN,
                }],
            ),
            (
                "no Message-ID: never matched",
                local(1, "", "INBOX", NONE),
                vec![("", "INBOX", 7, NONE)],
                vec![Step::Upload {
                    id: 1,
                    folder: "INBOX".into(),
                    flags: NONE,
                }],
            ),
        ];
        for (what, copy, server, want) in cases {
            assert_eq!(plan(&[copy], &on_server(&server)), want, "{what}");
        }
    }

    #[test]
    fn a_server_copy_is_matched_once_preferring_the_right_folder() {
        // Sent to oneself: one copy in Sent, one in INBOX, both here and there.
        let local = [
            local(1, "self", "INBOX", SEEN),
            local(2, "self", "Sent", SEEN),
        ];
        let server = on_server(&[("self", "Sent", 3, SEEN), ("self", "INBOX", 9, SEEN)]);
        assert_eq!(plan(&local, &server), vec![]);
        // Only one on the server: the second local copy is uploaded.
        let server = on_server(&[("self", "INBOX", 9, SEEN)]);
        assert_eq!(
            plan(&local, &server),
            vec![Step::Upload {
                id: 2,
                folder: "Sent".into(),
                flags: SEEN
            }]
        );
    }

    #[test]
    fn local_folders_map_to_the_server_by_role_then_name() {
        let server = vec![
            ("INBOX".to_owned(), Some(FolderRole::Inbox)),
            ("Sent Items".to_owned(), Some(FolderRole::Sent)),
        ];
        let cases = [
            ("INBOX", Some(FolderRole::Inbox), "INBOX"),
            ("Sent", Some(FolderRole::Sent), "Sent Items"),
            ("Drafts", Some(FolderRole::Drafts), "Drafts"),
            ("Receipts", None, "Receipts"),
            ("Zürich", None, "Z&APw-rich"),
        ];
        for (name, role, want) in cases {
            assert_eq!(
                target_folder(name, role, &server, &Naming::default()),
                want,
                "{name}"
            );
        }
    }
}
