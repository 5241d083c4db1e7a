//! One folder's pass, in named steps: decide (the plan), scan (what changed on the
//! server), apply (flags and removals here), fetch (new headers, newest first), finish
//! (record the counters the next pass starts from).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::new_mail;
use super::plan::{self, FolderPlan, LocalFolder, Tier};
use super::{header_record, SyncService};
use crate::error::Result;
use crate::imap::{ImapConnection, MailboxStatus, ServerFlags};
use crate::model::{Account, Event, Flags, FolderRole, SyncReport};
use crate::store::{BatchOutcome, FolderSyncState};

/// Headers per UID FETCH (and per transaction): a small first batch fills the first
/// screen quickly; larger ones after it amortise round trips and commits.
const FIRST_HEADER_BATCH: usize = 50;
const HEADER_BATCH: usize = 1000;

/// How a folder's pass ended, when nothing broke.
pub(super) enum Pass {
    Done,
    /// The server refused to open the folder: reported and skipped.
    Refused(crate::Error),
}

/// What a scan found: UIDs to fetch (newest first), flags that changed, UIDs gone.
#[derive(Debug, Default)]
struct Delta {
    new_uids: Vec<u32>,
    flag_updates: Vec<ServerFlags>,
    vanished: Vec<u32>,
}

pub(super) struct FolderPass<'a> {
    pub sync: &'a SyncService,
    pub account: &'a Account,
    pub state: &'a FolderSyncState,
    pub report: &'a mut SyncReport,
    /// Messages this pass stored, newest first (for `new_mail`).
    pub arrived: Vec<i64>,
}

impl FolderPass<'_> {
    /// `status_hint` is the folder's STATUS from LIST-STATUS, when the server gave one.
    pub async fn run(
        mut self,
        conn: &mut ImapConnection,
        status_hint: Option<MailboxStatus>,
    ) -> Result<Pass> {
        let decided = match self.decide(conn, status_hint).await {
            Ok(decided) => decided,
            // The server will not open this folder (no read right, gone meanwhile).
            Err(err) if err.is_refusal() => return Ok(Pass::Refused(err)),
            Err(err) => return Err(err),
        };
        let Some((status, plan)) = decided else {
            return Ok(Pass::Done);
        };
        let uidvalidity = status.uidvalidity;
        self.start_generation(plan, uidvalidity)?;
        let delta = self.scan(conn, plan, &status).await?;
        self.apply(&delta, uidvalidity)?;
        let fetched = self.fetch_headers(conn, &delta.new_uids, uidvalidity).await;
        // What was stored before a failure is announced all the same.
        self.announce_new_mail(plan)?;
        fetched?;
        self.finish(plan, &status, &delta.new_uids)?;
        Ok(Pass::Done)
    }

    fn local(&self, known: u32) -> LocalFolder {
        LocalFolder {
            uidvalidity: self.state.uidvalidity,
            uidnext: self.state.uidnext,
            highestmodseq: self.state.highestmodseq,
            complete: self.state.complete,
            known,
        }
    }

    /// The plan, from the STATUS hint if that says "nothing changed" (no SELECT at all),
    /// else from SELECT. `None`: the folder is up to date.
    async fn decide(
        &self,
        conn: &mut ImapConnection,
        status_hint: Option<MailboxStatus>,
    ) -> Result<Option<(MailboxStatus, FolderPlan)>> {
        let tier = Tier {
            condstore: conn.caps.condstore,
            qresync: conn.caps.qresync,
        };
        let known = self
            .sync
            .store
            .count_locations(self.state.folder_id, self.state.uidvalidity)?;
        if let Some(hint) = status_hint {
            if plan::plan_folder(&self.local(known), &hint, tier) == FolderPlan::UpToDate {
                return Ok(None);
            }
        }
        let status = conn.select(&self.state.remote_name).await?;
        let plan = plan::plan_folder(&self.local(known), &status, tier);
        tracing::debug!(folder = %self.state.name, ?plan, "folder plan");
        Ok((plan != FolderPlan::UpToDate).then_some((status, plan)))
    }

    /// A new UIDVALIDITY (or a first sync) starts a new generation of locations; the old
    /// ones stay until the listing is complete, for re-matching by Message-ID.
    fn start_generation(&self, plan: FolderPlan, uidvalidity: u32) -> Result<()> {
        if let FolderPlan::Full { reset: true } = plan {
            tracing::info!(folder = %self.state.name, old = self.state.uidvalidity, new = uidvalidity, "cached UIDs no longer valid");
            let store = &self.sync.store;
            store.reset_folder(self.state.folder_id, uidvalidity)?;
            if uidvalidity == self.state.uidvalidity {
                // Renumbered under the same UIDVALIDITY: every cached UID is suspect.
                store.distrust_uids(
                    self.account.id,
                    self.state.folder_id,
                    &self.state.remote_name,
                )?;
            }
        } else if self.state.uidvalidity == 0 {
            self.sync
                .store
                .reset_folder(self.state.folder_id, uidvalidity)?;
        }
        Ok(())
    }

    /// Every known UID's flags; only needed when comparing against a full listing.
    fn all_known(&self, uidvalidity: u32) -> Result<HashMap<u32, Flags>> {
        Ok(self
            .sync
            .store
            .known_locations(self.state.folder_id, uidvalidity)?
            .into_iter()
            .map(|(uid, loc)| (uid, loc.flags))
            .collect())
    }

    async fn scan(
        &self,
        conn: &mut ImapConnection,
        plan: FolderPlan,
        status: &MailboxStatus,
    ) -> Result<Delta> {
        let uidvalidity = status.uidvalidity;
        // UIDs with a change on its way to the server: neither new nor changed for us.
        let protected: HashSet<u32> = self.sync.store.protected_uids(
            self.account.id,
            &self.state.remote_name,
            uidvalidity,
        )?;
        match plan {
            FolderPlan::Full { .. } | FolderPlan::AllFlags => {
                let known = self.all_known(uidvalidity)?;
                if known.is_empty() {
                    let mut all = conn.uid_search_all().await?;
                    all.retain(|uid| !protected.contains(uid));
                    all.reverse();
                    return Ok(Delta {
                        new_uids: all,
                        ..Delta::default()
                    });
                }
                let scan = conn.scan_flags(None).await?;
                let outcome = plan::diff_flags(&known, &scan.messages, &protected);
                let present: Vec<u32> = scan.messages.iter().map(|m| m.uid).collect();
                Ok(Delta {
                    new_uids: outcome.new_uids,
                    flag_updates: outcome.flag_updates,
                    vanished: plan::vanished_from_listing(&known, &present),
                })
            }
            FolderPlan::ChangedSince { modseq, vanished } => {
                let scan = conn.scan_flags(Some(modseq)).await?;
                let mentioned: Vec<u32> = scan
                    .messages
                    .iter()
                    .map(|m| m.uid)
                    .chain(scan.vanished.iter().copied())
                    .collect();
                let known =
                    self.sync
                        .store
                        .flags_of_uids(self.state.folder_id, uidvalidity, &mentioned)?;
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
                let known_now = self
                    .sync
                    .store
                    .count_locations(self.state.folder_id, uidvalidity)?;
                if plan::counts_disagree(
                    status.messages,
                    known_now as usize,
                    outcome.new_uids.len(),
                    gone.len(),
                ) {
                    let all = conn.uid_search_all().await?;
                    gone = plan::vanished_from_listing(&self.all_known(uidvalidity)?, &all);
                }
                Ok(Delta {
                    new_uids: outcome.new_uids,
                    flag_updates: outcome.flag_updates,
                    vanished: gone,
                })
            }
            FolderPlan::UpToDate => Ok(Delta::default()),
        }
    }

    /// The server's flag changes and removals, here.
    fn apply(&mut self, delta: &Delta, uidvalidity: u32) -> Result<()> {
        let store = &self.sync.store;
        if !delta.flag_updates.is_empty() {
            let updates: Vec<_> = delta
                .flag_updates
                .iter()
                .map(|f| (f.uid, f.flags, f.modseq))
                .collect();
            let changed = store.apply_server_flags(self.state.folder_id, uidvalidity, &updates)?;
            self.report.changed_messages += changed.len() as u32;
            self.emit(Vec::new(), changed, 0);
        }
        if !delta.vanished.is_empty() {
            let removed = store.remove_uids(self.state.folder_id, uidvalidity, &delta.vanished)?;
            self.report.removed_messages += removed;
            self.emit(Vec::new(), Vec::new(), removed);
        }
        Ok(())
    }

    /// Headers, newest first; the store writes one batch while the next is fetched.
    async fn fetch_headers(
        &mut self,
        conn: &mut ImapConnection,
        new_uids: &[u32],
        uidvalidity: u32,
    ) -> Result<()> {
        let total = new_uids.len() as u32;
        let mut done = 0u32;
        // Messages moved or deleted here whose change has not reached the server yet may
        // be listed under UIDs we do not know (after a renumbering): not new mail.
        let leaving = Arc::new(self.sync.store.leaving_folder(
            self.account.id,
            self.state.folder_id,
            &self.state.remote_name,
        )?);
        let mut pending: Option<tokio::task::JoinHandle<Result<BatchOutcome>>> = None;
        let batches = plan::batches(new_uids, FIRST_HEADER_BATCH, HEADER_BATCH);
        let sizes: Vec<u32> = batches.iter().map(|b| b.len() as u32).collect();
        let mut pipeline = conn.header_pipeline(batches);
        let mut sizes = sizes.into_iter();
        let mut first_screen = true;
        loop {
            let fetched = match pipeline.next().await {
                Ok(Some(fetched)) => fetched,
                Ok(None) => break,
                Err(err) => {
                    // What arrived before the failure is kept: let its batch finish.
                    if let Some(task) = pending.take() {
                        let _ = task.await;
                    }
                    return Err(err);
                }
            };
            if let Some(task) = pending.take() {
                let outcome = task.await??;
                self.emit(outcome.added, outcome.changed, 0);
            }
            done += sizes.next().unwrap_or(0);
            self.report.new_messages += fetched.len() as u32;
            let store = self.sync.store.clone();
            let (account_id, folder_id) = (self.account.id, self.state.folder_id);
            let leaving = leaving.clone();
            pending = Some(tokio::task::spawn_blocking(move || {
                let records: Vec<_> = fetched
                    .into_iter()
                    .map(header_record)
                    .filter(|r| !leaving.contains(&r.message_id))
                    .collect();
                store.store_headers(account_id, folder_id, uidvalidity, &records)
            }));
            // The first (small) batch is the first screen: listable as soon as it is
            // stored, not once the next answer is in.
            if std::mem::take(&mut first_screen) {
                if let Some(task) = pending.take() {
                    let outcome = task.await??;
                    self.emit(outcome.added, outcome.changed, 0);
                }
            }
            self.sync.events.emit(Event::SyncProgress {
                account: self.account.name.clone(),
                folder: self.state.name.clone(),
                done,
                total,
            });
        }
        if let Some(task) = pending.take() {
            let outcome = task.await??;
            self.emit(outcome.added, outcome.changed, 0);
        }
        Ok(())
    }

    /// Records the counters the next pass starts from.
    fn finish(&mut self, plan: FolderPlan, status: &MailboxStatus, new_uids: &[u32]) -> Result<()> {
        let store = &self.sync.store;
        if !new_uids.is_empty() && !self.state.prefetch_pending {
            store.set_prefetch_pending(self.state.folder_id, true)?;
        }
        if matches!(plan, FolderPlan::Full { .. }) {
            let purged = store.purge_stale_locations(self.state.folder_id, status.uidvalidity)?;
            self.report.removed_messages += purged;
        }
        let oldest = new_uids
            .last()
            .copied()
            .unwrap_or(self.state.oldest_synced_uid);
        store.finish_folder_sync(
            self.state.folder_id,
            status.uidnext,
            status.highestmodseq.unwrap_or(0),
            oldest,
        )
    }

    fn announce_new_mail(&mut self, plan: FolderPlan) -> Result<()> {
        let inbox = self
            .sync
            .store
            .folder_by_role(self.account.id, FolderRole::Inbox)?;
        let context = new_mail::Arrivals {
            inbox: inbox == Some(self.state.folder_id),
            first_sync: self.state.uidvalidity == 0
                || matches!(plan, FolderPlan::Full { reset: true }),
        };
        let arrived = std::mem::take(&mut self.arrived);
        new_mail::announce(
            &self.sync.store,
            &self.sync.events,
            self.account,
            &self.state.name,
            context,
            &arrived,
        )
    }

    fn emit(&mut self, added: Vec<i64>, changed: Vec<i64>, removed: u32) {
        self.arrived.extend_from_slice(&added);
        self.sync.emit_changes(
            &self.account.name,
            &self.state.name,
            added,
            changed,
            removed,
        );
    }
}
