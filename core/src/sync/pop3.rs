//! POP3 download. What is new is told by UIDL or, where the server gives no usable UIDL
//! (none, an empty one, one shared by two messages), by a header key: the Message-ID and
//! size, from the headers TOP gives. Nothing is downloaded twice. Newest first into the
//! local Inbox, each message streamed to a file and stored as soon as it is complete; a
//! message the server refuses or stalls on is reported, remembered, tried after the
//! others next time and given up after `MAX_ATTEMPTS`. A lost session is opened again
//! (a few times) and the download goes on. Then the delete policy decides what leaves
//! the server.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};

use super::blocking;
use super::new_mail;
use crate::advice::Advice;
use crate::error::{Error, ErrorKind, Result};
use crate::events::EventBus;
use crate::mime;
use crate::mime_file;
use crate::model::{Account, Event, FolderRole, Pop3DeletePolicy, SyncReport};
use crate::pop3::{Pop3Connection, Retrieved};
use crate::store::{Pop3Download, Store};

/// RETRs pipelined at once.
const BATCH: usize = 50;
const DAY: i64 = 24 * 60 * 60;
/// Attempts at a message the server will not give before it is given up.
pub const MAX_ATTEMPTS: u32 = 3;
/// Sessions per sync: after a lost one, a new one goes on where it stopped.
const MAX_SESSIONS: u32 = 4;
/// The longest UIDL we take as one (RFC 1939 allows 70 characters).
const MAX_UIDL: usize = 255;

/// How far past the size LIST announced an answer may go before it is cut: servers
/// count line ends and dot-stuffing in different ways, but not by half.
pub fn ceiling(listed: Option<u64>) -> u64 {
    match listed {
        Some(size) => size + size / 2 + (1 << 20),
        None => 1 << 30,
    }
}

/// A UIDL that tells its message apart: present, printable, and not given twice.
fn usable(uidl: &str, counts: &HashMap<&str, u32>) -> bool {
    !uidl.is_empty()
        && uidl.len() <= MAX_UIDL
        && uidl.bytes().all(|b| (0x21..=0x7e).contains(&b))
        && counts.get(uidl) == Some(&1)
}

/// The key of a message without a usable UIDL. It has a space, which no UIDL has.
fn header_key(message_id: &str, size: Option<u64>) -> String {
    format!("{message_id} {}", size.unwrap_or(0))
}

/// The n-th message with the same header key in one listing gets " #n".
fn occurrence(key: String, used: &mut HashSet<String>) -> String {
    let mut candidate = key.clone();
    let mut n = 1;
    while !used.insert(candidate.clone()) {
        n += 1;
        candidate = format!("{key} #{n}");
    }
    candidate
}

/// One message in the maildrop, as this session numbers it.
#[derive(Debug, Clone)]
struct Entry {
    number: u32,
    /// As the server gave it (possibly empty or shared).
    uidl: String,
    size: Option<u64>,
    /// Its download key once known: the UIDL, or its header key.
    key: Option<String>,
    header_key: Option<String>,
    /// Downloaded before (under `key`).
    known: bool,
}

impl Entry {
    /// The key its failures are counted under, even before it is identified.
    fn failure_key(&self) -> String {
        self.key
            .clone()
            .unwrap_or_else(|| format!("? {} {}", self.uidl, self.size.unwrap_or(0)))
    }

    fn describe(&self) -> String {
        if self.uidl.is_empty() {
            format!("message {}", self.number)
        } else {
            format!("message {} (UIDL \"{}\")", self.number, self.uidl)
        }
    }
}

/// How one session's pass ended.
enum Pass {
    /// Everything that could be downloaded was; the session is still good.
    Done(Vec<Entry>),
    /// The session was lost (what was complete is kept).
    Lost(Error),
}

struct Download<'a> {
    store: &'a Store,
    events: &'a EventBus,
    account: &'a Account,
    inbox: i64,
    now: i64,
    downloads: HashMap<String, Pop3Download>,
    /// Header key -> download key.
    header_keys: HashMap<String, String>,
    failures: HashMap<String, u32>,
    /// Failed in this sync: not tried again before the next.
    failed_now: HashSet<String>,
    report: SyncReport,
    /// Messages stored by this sync, newest first (for `new_mail`).
    arrived: Vec<i64>,
}

/// Which downloaded messages the policy removes from the server now.
pub fn to_delete(policy: Pop3DeletePolicy, download: &Pop3Download, now: i64) -> bool {
    match policy {
        Pop3DeletePolicy::Never => false,
        Pop3DeletePolicy::AfterDownload => true,
        Pop3DeletePolicy::AfterDays { days } => {
            download.downloaded_at + i64::from(days) * DAY <= now
        }
        Pop3DeletePolicy::WhenDeletedHere => download.message_id.is_none(),
    }
}

/// Messages this device downloaded that left the server without this device deleting
/// them: another device (or webmail) took them.
pub fn vanished_elsewhere(
    downloads: &std::collections::HashMap<String, Pop3Download>,
    on_server: &HashSet<&String>,
) -> usize {
    downloads
        .iter()
        .filter(|(uidl, d)| !d.deleted_there && !on_server.contains(uidl))
        .count()
}

pub async fn sync_pop3(
    store: &Store,
    events: &EventBus,
    account: &Account,
    mut conn: Pop3Connection,
    now: i64,
) -> Result<SyncReport> {
    if !conn.caps.uidl && !conn.caps.top && !conn.caps.all.is_empty() {
        return Err(Error::new(
            ErrorKind::ProtocolUnsupported,
            "the POP3 server offers neither UIDL nor TOP, so downloads could not be told apart",
        ));
    }
    let inbox = store
        .folder_by_role(account.id, FolderRole::Inbox)?
        .ok_or_else(|| Error::not_found("the local Inbox"))?;
    let mut run = Download {
        store,
        events,
        account,
        inbox,
        now,
        downloads: store.pop3_downloads(account.id)?,
        header_keys: store.pop3_header_keys(account.id)?,
        failures: store.pop3_failures(account.id)?,
        failed_now: HashSet::new(),
        report: SyncReport {
            folders: 1,
            ..SyncReport::default()
        },
        arrived: Vec::new(),
    };
    // Until one sync has finished, what is on the server is old mail, not news.
    let synced_once = format!("pop3_synced_once:{}", account.id);
    let first_sync = store.setting(&synced_once)?.is_none();
    let mut sessions = 1;
    let entries = loop {
        match run.pass(&mut conn).await? {
            Pass::Done(entries) => break entries,
            Pass::Lost(err) if sessions >= MAX_SESSIONS => {
                return Err(err.context(format!(
                    "the POP3 session was lost {sessions} times in one sync"
                )))
            }
            Pass::Lost(err) => {
                tracing::info!(%err, "POP3 session lost; opening a new one");
                sessions += 1;
                conn = conn.reconnect().await?;
            }
        }
    };
    let context = new_mail::Arrivals {
        inbox: true,
        first_sync,
    };
    new_mail::announce(store, events, account, "INBOX", context, &run.arrived)?;
    if first_sync {
        store.set_setting(&synced_once, "1")?;
    }
    run.finish(conn, &entries).await?;
    Ok(run.report)
}

impl Download<'_> {
    /// One session's pass: list, identify, download what is new.
    async fn pass(&mut self, conn: &mut Pop3Connection) -> Result<Pass> {
        let mut entries = match self.listing(conn).await {
            Ok(entries) => entries,
            Err(err) => return lost_or(conn, err),
        };
        if let Err(err) = self.identify(conn, &mut entries).await {
            return lost_or(conn, err);
        }
        let mut wanted: Vec<usize> = (0..entries.len())
            .filter(|&i| {
                let entry = &entries[i];
                let key = entry.failure_key();
                !entry.known
                    && !self.failed_now.contains(&key)
                    && self.failures.get(&key).copied().unwrap_or(0) < MAX_ATTEMPTS
            })
            .collect();
        // Higher message numbers arrived later: newest first, and what failed before last.
        wanted.sort_by_key(|&i| {
            let entry = &entries[i];
            let failed = self.failures.contains_key(&entry.failure_key());
            (failed, Reverse(entry.number))
        });
        let total = wanted.len() as u32;
        let mut done = 0;
        for batch in wanted.chunks(BATCH) {
            let numbers: Vec<u32> = batch.iter().map(|&i| entries[i].number).collect();
            if let Err(err) = conn.pipeline_retrs(&numbers).await {
                return lost_or(conn, err);
            }
            let mut added = Vec::new();
            let mut lost = None;
            for &i in batch {
                match self.retrieve(conn, &mut entries, i).await? {
                    Ok(Some(id)) => added.push(id),
                    Ok(None) => {}
                    Err(err) => {
                        lost = Some(err);
                        break;
                    }
                }
            }
            done += batch.len() as u32;
            self.report.new_messages += added.len() as u32;
            self.events.emit(Event::SyncProgress {
                account: self.account.name.clone(),
                folder: "INBOX".to_owned(),
                done: done.min(total),
                total,
            });
            self.arrived.extend_from_slice(&added);
            if !added.is_empty() {
                self.events.emit(Event::MessagesChanged {
                    account: self.account.name.clone(),
                    folder: "INBOX".to_owned(),
                    added,
                    changed: Vec::new(),
                    removed: 0,
                });
            }
            if let Some(err) = lost {
                return Ok(Pass::Lost(err));
            }
        }
        Ok(Pass::Done(entries))
    }

    /// UIDL (when there is one) and LIST, by message number.
    async fn listing(&self, conn: &mut Pop3Connection) -> Result<Vec<Entry>> {
        let uidls = if conn.caps.uidl || conn.caps.all.is_empty() {
            match conn.uidl().await {
                Ok(uidls) => Some(uidls),
                // No UIDL after all: every message is told by its headers.
                Err(err) if conn.broken().is_none() && conn.caps.top => {
                    tracing::info!(%err, "no UIDL; telling messages apart by their headers");
                    None
                }
                Err(err) => return Err(err),
            }
        } else {
            None
        };
        let sizes: HashMap<u32, u64> = match conn.list().await {
            Ok(sizes) => sizes.into_iter().collect(),
            Err(err) if conn.broken().is_none() => {
                tracing::info!(%err, "no LIST; no size ceiling per message");
                HashMap::new()
            }
            Err(err) => return Err(err),
        };
        let mut numbered: Vec<(u32, String)> = match uidls {
            Some(uidls) => uidls,
            None => sizes.keys().map(|&n| (n, String::new())).collect(),
        };
        numbered.sort_by_key(|(n, _)| *n);
        numbered.dedup_by_key(|(n, _)| *n);
        Ok(numbered
            .into_iter()
            .map(|(number, uidl)| Entry {
                number,
                size: sizes.get(&number).copied(),
                uidl,
                key: None,
                header_key: None,
                known: false,
            })
            .collect())
    }

    /// Gives each entry its key, and says which were downloaded before. Messages
    /// without a usable UIDL are told by the headers TOP gives; without TOP, once they
    /// are downloaded.
    async fn identify(&mut self, conn: &mut Pop3Connection, entries: &mut [Entry]) -> Result<()> {
        let mut counts: HashMap<&str, u32> = HashMap::new();
        for entry in entries.iter() {
            *counts.entry(entry.uidl.as_str()).or_default() += 1;
        }
        let usable_uidl: Vec<bool> = entries.iter().map(|e| usable(&e.uidl, &counts)).collect();
        let mut matched: HashSet<String> = HashSet::new();
        for (entry, &usable) in entries.iter_mut().zip(&usable_uidl) {
            if usable {
                entry.key = Some(entry.uidl.clone());
                entry.known = self.downloads.contains_key(&entry.uidl);
                if entry.known {
                    matched.insert(entry.uidl.clone());
                }
            }
        }
        // Downloads known by header key that no UIDL matched: one may be a message whose
        // UIDL was unusable then and is usable now.
        let unmatched_by_header = self
            .downloads
            .keys()
            .any(|key| key.contains(' ') && !matched.contains(key));
        let mut used = HashSet::new();
        for (i, entry) in entries.iter_mut().enumerate() {
            let usable = usable_uidl[i];
            if entry.known || (usable && !unmatched_by_header) || !conn.caps.top {
                continue;
            }
            let head = match conn.top(entry.number, 0).await {
                Ok(head) => head,
                Err(err) if conn.broken().is_none() => {
                    tracing::info!(%err, "TOP refused; the message is told apart once downloaded");
                    continue;
                }
                Err(err) => return Err(err),
            };
            let found = occurrence(
                header_key(&mime::parse_headers(&head).message_id, entry.size),
                &mut used,
            );
            self.resolve(entry, found, usable, &mut matched)?;
        }
        Ok(())
    }

    /// Settles an entry's key from its header key.
    fn resolve(
        &mut self,
        entry: &mut Entry,
        found: String,
        usable: bool,
        matched: &mut HashSet<String>,
    ) -> Result<()> {
        let by_header = self
            .header_keys
            .get(&found)
            .filter(|key| !matched.contains(*key))
            .cloned();
        entry.header_key = Some(found.clone());
        if usable {
            // Downloaded while its UIDL was unusable: known by its UIDL from now on.
            if let Some(old) = by_header.filter(|key| key.contains(' ')) {
                self.store
                    .rekey_pop3_download(self.account.id, &old, &entry.uidl)?;
                if let Some(download) = self.downloads.remove(&old) {
                    self.downloads.insert(entry.uidl.clone(), download);
                }
                self.header_keys.insert(found, entry.uidl.clone());
                entry.known = true;
                matched.insert(entry.uidl.clone());
            }
            return Ok(());
        }
        let key = if self.downloads.contains_key(&found) && !matched.contains(&found) {
            found
        } else if let Some(key) = by_header {
            key
        } else {
            entry.key = Some(found);
            return Ok(());
        };
        entry.known = true;
        matched.insert(key.clone());
        entry.key = Some(key);
        Ok(())
    }

    /// RETR of one entry, streamed to a file and stored. Ok(Ok(Some(id))) when stored,
    /// Ok(Ok(None)) when refused or already here, Ok(Err) when the session was lost.
    async fn retrieve(
        &mut self,
        conn: &mut Pop3Connection,
        entries: &mut [Entry],
        i: usize,
    ) -> Result<Result<Option<i64>>> {
        let entry = entries[i].clone();
        let mut file = self.store.incoming_file()?;
        let outcome = conn
            .retr_to(entry.number, ceiling(entry.size), &mut file)
            .await;
        match outcome {
            Ok(Retrieved::Message(_)) => {}
            Ok(Retrieved::Refused(err)) => {
                self.failed(&entry, &err)?;
                return Ok(Ok(None));
            }
            Err(err) if matches!(err.kind, ErrorKind::Storage | ErrorKind::InvalidInput) => {
                return Err(err)
            }
            Err(err) => {
                self.failed(&entry, &err)?;
                return Ok(Err(err));
            }
        }
        file.finish()?;
        let (file, message) = blocking(move || {
            let message = mime_file::parse_file(file.path())?;
            Ok((file, message))
        })
        .await?;
        let found = header_key(&message.headers.message_id, entry.size);
        let key = match &entry.key {
            Some(key) => key.clone(),
            None => {
                // Told apart only now, by the headers it came with.
                let mut used: HashSet<String> = entries
                    .iter()
                    .filter_map(|e| e.header_key.clone())
                    .collect();
                let found = occurrence(found.clone(), &mut used);
                let mut matched: HashSet<String> = entries
                    .iter()
                    .filter(|e| e.known)
                    .filter_map(|e| e.key.clone())
                    .collect();
                let mut resolved = entry.clone();
                self.resolve(&mut resolved, found, false, &mut matched)?;
                entries[i] = resolved.clone();
                if resolved.known {
                    return Ok(Ok(None));
                }
                resolved.key.unwrap_or_default()
            }
        };
        let header_key = entries[i].header_key.clone().unwrap_or(found);
        let stored = self.store.store_pop3_file(
            self.account.id,
            self.inbox,
            &key,
            &header_key,
            file,
            &message,
            self.now,
        )?;
        let entry = &mut entries[i];
        entry.key = Some(key.clone());
        entry.known = true;
        if let Some(id) = stored {
            self.downloads.insert(
                key.clone(),
                Pop3Download {
                    message_id: Some(id),
                    downloaded_at: self.now,
                    deleted_there: false,
                },
            );
            self.header_keys.insert(header_key, key);
        }
        Ok(Ok(stored))
    }

    /// Remembers and reports a message the server would not give.
    fn failed(&mut self, entry: &Entry, err: &Error) -> Result<()> {
        let key = entry.failure_key();
        let attempts =
            self.store
                .record_pop3_failure(self.account.id, &key, &err.message, self.now)?;
        self.failures.insert(key.clone(), attempts);
        self.failed_now.insert(key);
        let fate = if attempts >= MAX_ATTEMPTS {
            format!(
                "given up after {attempts} attempts: it stays on the server and is not downloaded"
            )
        } else {
            format!(
                "it will be tried again after the others (attempt {attempts} of {MAX_ATTEMPTS})"
            )
        };
        self.events.emit(Event::error(
            &self.account.name,
            err,
            format!(
                "{} could not be downloaded: {}; {fate}",
                entry.describe(),
                err.message
            ),
        ));
        Ok(())
    }

    /// The delete policy, QUIT, and what left the server.
    async fn finish(&mut self, mut conn: Pop3Connection, entries: &[Entry]) -> Result<()> {
        let account = self.account;
        let doomed: Vec<(u32, String, Option<i64>)> = entries
            .iter()
            .filter(|e| e.known)
            .filter_map(|entry| {
                let key = entry.key.as_ref()?;
                let download = self.downloads.get(key)?;
                to_delete(account.pop3_delete, download, self.now)
                    .then(|| (entry.number, key.clone(), download.message_id))
            })
            .collect();
        // The local copy becomes the only one: on disk before the server lets go.
        let local: Vec<i64> = doomed.iter().filter_map(|(_, _, id)| *id).collect();
        self.store.make_durable(&local)?;
        let mut deleted = Vec::new();
        for (number, key, _) in doomed {
            conn.dele(number).await?;
            deleted.push(key);
        }
        conn.quit().await?;
        self.report.removed_messages = deleted.len() as u32;
        self.store.mark_pop3_deleted(account.id, &deleted)?;

        // What left the server can only be told when every message was told apart.
        if entries.iter().any(|e| e.key.is_none()) {
            return Ok(());
        }
        let on_server_keys: HashSet<String> =
            entries.iter().filter_map(|e| e.key.clone()).collect();
        let on_server: HashSet<&String> = on_server_keys.iter().collect();
        let gone: Vec<String> = self
            .downloads
            .keys()
            .filter(|key| !on_server.contains(key))
            .cloned()
            .collect();
        let taken_elsewhere = vanished_elsewhere(&self.downloads, &on_server);
        if taken_elsewhere > 0 {
            self.events.emit(Event::advisory(
                &account.name,
                Advice::new("pop3_read_elsewhere", taken_elsewhere.to_string()),
            ));
        }
        self.store.forget_pop3_downloads(account.id, &gone)?;
        let failures_gone: Vec<String> = self
            .failures
            .keys()
            .filter(|key| !on_server.contains(key))
            .cloned()
            .collect();
        self.store.forget_pop3_failures(account.id, &failures_gone)
    }
}

/// A failure of the session is a lost pass (a new session may go on); any other is the
/// sync's error.
fn lost_or(conn: &Pop3Connection, err: Error) -> Result<Pass> {
    if conn.broken().is_some() {
        Ok(Pass::Lost(err))
    } else {
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_policies() {
        let now = 100 * DAY;
        let kept = Pop3Download {
            message_id: Some(1),
            downloaded_at: now - 2 * DAY,
            deleted_there: false,
        };
        let deleted_here = Pop3Download {
            message_id: None,
            ..kept
        };
        let cases = [
            (Pop3DeletePolicy::Never, kept, false),
            (Pop3DeletePolicy::Never, deleted_here, false),
            (Pop3DeletePolicy::AfterDownload, kept, true),
            (Pop3DeletePolicy::AfterDays { days: 1 }, kept, true),
            (Pop3DeletePolicy::AfterDays { days: 2 }, kept, true),
            (Pop3DeletePolicy::AfterDays { days: 3 }, kept, false),
            (Pop3DeletePolicy::WhenDeletedHere, kept, false),
            (Pop3DeletePolicy::WhenDeletedHere, deleted_here, true),
        ];
        for (policy, download, expected) in cases {
            assert_eq!(
                to_delete(policy, &download, now),
                expected,
                "{policy} {download:?}"
            );
        }
    }

    #[test]
    fn mail_that_left_the_server_elsewhere_is_noticed() {
        let d = |deleted_there| Pop3Download {
            message_id: Some(1),
            downloaded_at: 0,
            deleted_there,
        };
        let downloads: std::collections::HashMap<String, Pop3Download> = [
            ("kept".to_owned(), d(false)),
            ("we-deleted".to_owned(), d(true)),
            ("taken".to_owned(), d(false)),
        ]
        .into();
        let kept = "kept".to_owned();
        let on_server: HashSet<&String> = [&kept].into();
        assert_eq!(vanished_elsewhere(&downloads, &on_server), 1);
    }

    #[test]
    fn which_uidls_tell_messages_apart() {
        let listed = ["a1", "dup", "dup", "", "with space", "caf\u{e9}", "ok~!"];
        let mut counts: HashMap<&str, u32> = HashMap::new();
        for uidl in listed {
            *counts.entry(uidl).or_default() += 1;
        }
        let long = "x".repeat(MAX_UIDL + 1);
        counts.insert(&long, 1);
        let usable_ones: Vec<&str> = listed
            .iter()
            .copied()
            .chain([long.as_str()])
            .filter(|u| usable(u, &counts))
            .collect();
        assert_eq!(usable_ones, ["a1", "ok~!"]);
        // Header keys have a space, so they never equal a usable UIDL.
        assert!(header_key("m@t", Some(10)).contains(' '));
        let mut used = HashSet::new();
        let keys: Vec<String> = ["k", "k", "j", "k"]
            .iter()
            .map(|k| occurrence(k.to_string(), &mut used))
            .collect();
        assert_eq!(keys, ["k", "k #2", "j", "k #3"]);
        assert_eq!(ceiling(Some(1000)), 1500 + (1 << 20));
        assert_eq!(ceiling(None), 1 << 30);
    }

    #[test]
    fn policies_parse_and_print() {
        for text in [
            "never",
            "delete-after-download",
            "after-days:7",
            "when-deleted-here",
        ] {
            let policy: Pop3DeletePolicy = text.parse().unwrap();
            assert_eq!(policy.to_string(), text);
        }
        assert!("after-days:x".parse::<Pop3DeletePolicy>().is_err());
        assert!("sometimes".parse::<Pop3DeletePolicy>().is_err());
    }
}
