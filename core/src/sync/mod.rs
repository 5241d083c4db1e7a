//! IMAP pull sync: carries out the decisions of [`plan`] against a connection and the store.

pub mod plan;
pub mod pop3;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::error::Result;
use crate::events::EventBus;
use crate::imap::{ImapConnection, MailboxStatus};
use crate::mime;
use crate::model::{Account, Event, Flags, SyncReport};
use crate::store::{FolderSyncState, ParsedBody, Store};
use plan::{FolderPlan, LocalFolder, Tier};

/// Headers per UID FETCH (and per transaction): a small first batch fills the first
/// screen quickly; larger ones after it amortise round trips and commits.
const FIRST_HEADER_BATCH: usize = 250;
const HEADER_BATCH: usize = 1000;
const BODY_BATCH_COUNT: usize = 200;
const BODY_BATCH_BYTES: u64 = 4 << 20;

/// How many bodies to download ahead of time, per folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyPrefetch {
    Newest(u32),
    All,
}

pub struct SyncContext {
    pub store: Arc<Store>,
    pub events: EventBus,
    pub prefetch: BodyPrefetch,
}

impl SyncContext {
    /// One full pass over an account: folder list, then headers of every folder (Inbox
    /// first), then bodies for the newest messages.
    pub async fn sync_account(
        &self,
        account: &Account,
        conn: &mut ImapConnection,
    ) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        let listing = conn.list_folders().await?;
        let remote: Vec<_> = listing.iter().map(|(f, _)| f.clone()).collect();
        // Folders kept here for a queued create or rename are not there yet: skip them.
        let on_server: std::collections::HashSet<String> =
            remote.iter().map(|f| f.remote_name.clone()).collect();
        let store = self.store.clone();
        let account_id = account.id;
        if blocking(move || store.replace_folders(account_id, &remote)).await? {
            self.events.emit(Event::FoldersChanged {
                account: account.name.clone(),
            });
        }
        // STATUS of the selected folder may describe the selected view, not the
        // mailbox (RFC 3501 6.3.10): that folder is always SELECTed afresh.
        let selected = conn.selected().map(str::to_owned);
        let statuses: HashMap<String, MailboxStatus> = listing
            .into_iter()
            .filter(|(f, _)| Some(&f.remote_name) != selected.as_ref())
            .filter_map(|(f, s)| Some((f.remote_name, s?)))
            .collect();
        let states = self.store.folder_sync_states(account.id)?;
        for state in states.iter().filter(|s| on_server.contains(&s.remote_name)) {
            let hint = statuses.get(&state.remote_name).copied();
            self.sync_folder_headers(account, conn, state, hint, &mut report)
                .await?;
            report.folders += 1;
        }
        for state in self.store.folder_sync_states(account.id)? {
            if !on_server.contains(&state.remote_name) {
                continue;
            }
            report.bodies += self.prefetch_bodies(account, conn, &state).await?;
        }
        Ok(report)
    }

    async fn sync_folder_headers(
        &self,
        account: &Account,
        conn: &mut ImapConnection,
        state: &FolderSyncState,
        status_hint: Option<MailboxStatus>,
        report: &mut SyncReport,
    ) -> Result<()> {
        let tier = Tier {
            condstore: conn.caps.condstore,
            qresync: conn.caps.qresync,
        };
        let local = |known: u32| LocalFolder {
            uidvalidity: state.uidvalidity,
            uidnext: state.uidnext,
            highestmodseq: state.highestmodseq,
            complete: state.complete,
            known,
        };
        let known_now = self
            .store
            .count_locations(state.folder_id, state.uidvalidity)?;
        if let Some(hint) = status_hint {
            if plan::plan_folder(&local(known_now), &hint, tier) == FolderPlan::UpToDate {
                return Ok(());
            }
        }
        let status = conn.select(&state.remote_name).await?;
        let plan = plan::plan_folder(&local(known_now), &status, tier);
        tracing::debug!(folder = %state.name, ?plan, "folder plan");
        if plan == FolderPlan::UpToDate {
            return Ok(());
        }
        let uidvalidity = status.uidvalidity;
        if let FolderPlan::Full { reset: true } = plan {
            tracing::info!(folder = %state.name, old = state.uidvalidity, new = uidvalidity, "UIDVALIDITY changed");
            self.store.reset_folder(state.folder_id, uidvalidity)?;
        } else if state.uidvalidity == 0 {
            self.store.reset_folder(state.folder_id, uidvalidity)?;
        }
        // Every known UID's flags; only needed when comparing against a full listing.
        let all_known = || -> Result<HashMap<u32, Flags>> {
            Ok(self
                .store
                .known_locations(state.folder_id, uidvalidity)?
                .into_iter()
                .map(|(uid, loc)| (uid, loc.flags))
                .collect())
        };
        // UIDs with a change on its way to the server: neither new nor changed for us.
        let protected: HashSet<u32> =
            self.store
                .protected_uids(account.id, &state.remote_name, uidvalidity)?;

        let (new_uids, flag_updates, vanished) = match plan {
            FolderPlan::Full { .. } | FolderPlan::AllFlags => {
                let known = all_known()?;
                if known.is_empty() {
                    let mut all = conn.uid_search_all().await?;
                    all.retain(|uid| !protected.contains(uid));
                    all.reverse();
                    (all, Vec::new(), Vec::new())
                } else {
                    let scan = conn.scan_flags(None).await?;
                    let outcome = plan::diff_flags(&known, &scan.messages, &protected);
                    let present: Vec<u32> = scan.messages.iter().map(|m| m.uid).collect();
                    let vanished = plan::vanished_from_listing(&known, &present);
                    (outcome.new_uids, outcome.flag_updates, vanished)
                }
            }
            FolderPlan::ChangedSince { modseq, vanished } => {
                let scan = conn.scan_flags(Some(modseq)).await?;
                let mentioned: Vec<u32> = scan
                    .messages
                    .iter()
                    .map(|m| m.uid)
                    .chain(scan.vanished.iter().copied())
                    .collect();
                let known = self
                    .store
                    .flags_of_uids(state.folder_id, uidvalidity, &mentioned)?;
                let outcome = plan::diff_flags(&known, &scan.messages, &protected);
                let mut gone: Vec<u32> = if vanished && !scan.lossy {
                    scan.vanished
                        .iter()
                        .filter(|uid| known.contains_key(uid))
                        .copied()
                        .collect()
                } else {
                    Vec::new()
                };
                if plan::counts_disagree(
                    status.messages,
                    known_now as usize,
                    outcome.new_uids.len(),
                    gone.len(),
                ) {
                    let all = conn.uid_search_all().await?;
                    gone = plan::vanished_from_listing(&all_known()?, &all);
                }
                (outcome.new_uids, outcome.flag_updates, gone)
            }
            FolderPlan::UpToDate => unreachable!("handled above"),
        };

        let folder_name = state.name.clone();
        let account_name = account.name.clone();
        if !flag_updates.is_empty() {
            let updates: Vec<_> = flag_updates
                .iter()
                .map(|f| (f.uid, f.flags, f.modseq))
                .collect();
            let changed = self
                .store
                .apply_server_flags(state.folder_id, uidvalidity, &updates)?;
            report.changed_messages += changed.len() as u32;
            self.emit_changes(&account_name, &folder_name, Vec::new(), changed, 0);
        }
        if !vanished.is_empty() {
            let removed = self
                .store
                .remove_uids(state.folder_id, uidvalidity, &vanished)?;
            report.removed_messages += removed;
            self.emit_changes(&account_name, &folder_name, Vec::new(), Vec::new(), removed);
        }

        // Headers, newest first; the store writes one batch while the next is fetched.
        let total = new_uids.len() as u32;
        let mut done = 0u32;
        let mut pending: Option<tokio::task::JoinHandle<Result<crate::store::BatchOutcome>>> = None;
        for batch in plan::batches(&new_uids, FIRST_HEADER_BATCH, HEADER_BATCH) {
            let records = conn.fetch_headers(&batch).await?;
            if let Some(task) = pending.take() {
                let outcome = task.await??;
                self.emit_changes(
                    &account_name,
                    &folder_name,
                    outcome.added,
                    outcome.changed,
                    0,
                );
            }
            done += batch.len() as u32;
            report.new_messages += records.len() as u32;
            let store = self.store.clone();
            let (account_id, folder_id) = (account.id, state.folder_id);
            pending = Some(tokio::task::spawn_blocking(move || {
                store.store_headers(account_id, folder_id, uidvalidity, &records)
            }));
            self.events.emit(Event::SyncProgress {
                account: account_name.clone(),
                folder: folder_name.clone(),
                done,
                total,
            });
        }
        if let Some(task) = pending.take() {
            let outcome = task.await??;
            self.emit_changes(
                &account_name,
                &folder_name,
                outcome.added,
                outcome.changed,
                0,
            );
        }
        if !new_uids.is_empty() && !state.prefetch_pending {
            self.store.set_prefetch_pending(state.folder_id, true)?;
        }
        if matches!(plan, FolderPlan::Full { .. }) {
            let purged = self
                .store
                .purge_stale_locations(state.folder_id, uidvalidity)?;
            report.removed_messages += purged;
        }
        let oldest = new_uids.last().copied().unwrap_or(state.oldest_synced_uid);
        self.store.finish_folder_sync(
            state.folder_id,
            status.uidnext,
            status.highestmodseq.unwrap_or(0),
            oldest,
        )?;
        Ok(())
    }

    /// Downloads bodies for the newest messages of a folder that have none yet.
    async fn prefetch_bodies(
        &self,
        account: &Account,
        conn: &mut ImapConnection,
        state: &FolderSyncState,
    ) -> Result<u32> {
        let limit = match self.prefetch {
            BodyPrefetch::Newest(0) => return Ok(0),
            BodyPrefetch::Newest(n) => Some(n),
            BodyPrefetch::All => None,
        };
        if !state.prefetch_pending {
            return Ok(0);
        }
        let needed = self
            .store
            .bodies_needed(state.folder_id, state.uidvalidity, limit)?;
        if needed.is_empty() {
            self.store.set_prefetch_pending(state.folder_id, false)?;
            return Ok(0);
        }
        if conn.selected() != Some(state.remote_name.as_str()) {
            let status = conn.select(&state.remote_name).await?;
            if status.uidvalidity != state.uidvalidity {
                return Ok(0); // the next header pass resets this folder first
            }
        }
        let ids: HashMap<u32, i64> = needed.iter().map(|n| (n.uid, n.message_id)).collect();
        let sizes: Vec<(u32, u32)> = needed.iter().map(|n| (n.uid, n.size)).collect();
        let mut stored = 0;
        let mut pending: Option<tokio::task::JoinHandle<Result<()>>> = None;
        for batch in plan::body_batches(&sizes, BODY_BATCH_COUNT, BODY_BATCH_BYTES) {
            let raws = conn.fetch_bodies(&batch).await?;
            if let Some(task) = pending.take() {
                task.await??;
            }
            let items: Vec<(i64, Vec<u8>)> = raws
                .into_iter()
                .filter_map(|(uid, raw)| Some((*ids.get(&uid)?, raw)))
                .collect();
            stored += items.len() as u32;
            let store = self.store.clone();
            pending = Some(tokio::task::spawn_blocking(move || {
                let parsed: Vec<(i64, ParsedBody, Vec<u8>)> = items
                    .into_iter()
                    .map(|(id, raw)| (id, mime::parse_body(&raw), raw))
                    .collect();
                store.store_bodies(&parsed)
            }));
        }
        if let Some(task) = pending.take() {
            task.await??;
        }
        self.store.set_prefetch_pending(state.folder_id, false)?;
        self.emit_changes(
            &account.name,
            &state.name,
            Vec::new(),
            needed.iter().map(|n| n.message_id).collect(),
            0,
        );
        Ok(stored)
    }

    fn emit_changes(
        &self,
        account: &str,
        folder: &str,
        added: Vec<i64>,
        changed: Vec<i64>,
        removed: u32,
    ) {
        if added.is_empty() && changed.is_empty() && removed == 0 {
            return;
        }
        self.events.emit(Event::MessagesChanged {
            account: account.to_owned(),
            folder: folder.to_owned(),
            added,
            changed,
            removed,
        });
    }
}

/// Runs blocking store work off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f).await?
}
