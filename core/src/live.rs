//! Lists as live queries, in the manner of matrix-rust-sdk's room list: a subscriber gets
//! the whole list first, then only what changed (rows inserted, updated, removed), each
//! batch computed against what it was last sent. Events mark a list stale; a burst of
//! them is read as one recomputation. A subscriber that fell behind the event bus gets
//! the whole list again, never a stale one.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::model::{Event, Folder, MessageSummary};
use crate::services::Services;

/// Events that arrive this close together are one recomputation.
const SETTLE: Duration = Duration::from_millis(40);

/// One change to a list, against the list as the subscriber last had it. Indexes are
/// applied in order: each one counts in the list as the diffs before it left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diff<T> {
    /// The whole list (first, and after falling behind).
    Reset(Vec<T>),
    Insert(usize, T),
    Set(usize, T),
    Remove(usize),
}

/// Rows with an identity.
pub trait Keyed {
    fn key(&self) -> i64;
}

impl Keyed for MessageSummary {
    fn key(&self) -> i64 {
        self.id
    }
}

impl Keyed for Folder {
    fn key(&self) -> i64 {
        self.id
    }
}

/// The diffs that turn `old` into `new`: removals (last first), then inserts and updates
/// in `new`'s order. Rows that kept their identity but moved relative to one another
/// give a `Reset` instead (rare: a re-dated message).
pub fn diff<T: Keyed + PartialEq + Clone>(old: &[T], new: &[T]) -> Vec<Diff<T>> {
    use std::collections::HashSet;
    let new_keys: HashSet<i64> = new.iter().map(Keyed::key).collect();
    let mut out = Vec::new();
    for (index, row) in old.iter().enumerate().rev() {
        if !new_keys.contains(&row.key()) {
            out.push(Diff::Remove(index));
        }
    }
    let kept: Vec<&T> = old.iter().filter(|r| new_keys.contains(&r.key())).collect();
    let mut next = 0;
    for (index, row) in new.iter().enumerate() {
        match kept.get(next) {
            Some(old_row) if old_row.key() == row.key() => {
                if *old_row != row {
                    out.push(Diff::Set(index, row.clone()));
                }
                next += 1;
            }
            _ if kept[next..].iter().any(|r| r.key() == row.key()) => {
                return vec![Diff::Reset(new.to_vec())];
            }
            _ => out.push(Diff::Insert(index, row.clone())),
        }
    }
    out
}

/// Which messages a list shows.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MessageQuery {
    /// `None`: every account.
    pub account: Option<String>,
    /// `None`: every folder; a name without an account is that folder in every account
    /// ("INBOX" alone is the unified inbox).
    pub folder: Option<String>,
    /// How many of the newest; grows with `set_limit` as the user scrolls.
    pub limit: u32,
}

/// Messages newest first, as `MessageQuery` says, from `offset`.
pub(crate) fn messages(
    services: &Services,
    account: Option<&str>,
    folder: Option<&str>,
    limit: u32,
    offset: u32,
) -> Result<Vec<MessageSummary>> {
    let store = &services.store;
    let account_id = services.account_id(account)?;
    let Some(folder) = folder else {
        return store.list_messages(account_id, None, limit, offset);
    };
    let accounts = match account_id {
        Some(id) => vec![id],
        None => store.accounts()?.iter().map(|a| a.id).collect(),
    };
    let folder_ids: Vec<i64> = accounts
        .iter()
        .filter_map(|id| store.folder_by_name(*id, folder).ok().map(|f| f.id))
        .collect();
    match folder_ids.as_slice() {
        [] => Err(Error::not_found(format!("folder '{folder}'"))),
        [id] => store.list_messages(None, Some(*id), limit, offset),
        many => {
            let mut all = Vec::new();
            for id in many {
                all.extend(store.list_messages(None, Some(*id), limit + offset, 0)?);
            }
            all.sort_by(|a, b| b.date.cmp(&a.date).then(b.id.cmp(&a.id)));
            Ok(all
                .into_iter()
                .skip(offset as usize)
                .take(limit as usize)
                .collect())
        }
    }
}

/// Whether an event can change a list of `account` (`None`: every account).
fn touches(event: &Event, account: Option<&str>) -> bool {
    let of = match event {
        Event::MessagesChanged { account, .. }
        | Event::FoldersChanged { account }
        | Event::ChangesApplied { account, .. }
        | Event::ChangeFailed { account, .. }
        | Event::SyncFinished { account, .. } => account,
        _ => return false,
    };
    account.is_none_or(|wanted| wanted == of)
}

/// Receives a live list's changes (on a thread of its own; it may block).
pub trait ListListener<T>: Send + Sync {
    fn on_diffs(&self, diffs: Vec<Diff<T>>);
    /// The list could not be read (for example its folder was deleted); it stays
    /// subscribed and recovers when the cause goes away.
    fn on_error(&self, error: Error);
}

/// A live list; dropping it (or `close`) stops the updates.
pub struct LiveList {
    limit: watch::Sender<u32>,
    task: JoinHandle<()>,
}

impl LiveList {
    /// Shows more (or fewer) rows; the listener gets the difference.
    pub fn set_limit(&self, limit: u32) {
        self.limit.send_replace(limit);
    }

    pub fn close(&self) {
        self.task.abort();
    }
}

impl Drop for LiveList {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Query<T> = Arc<dyn Fn(&Services, u32) -> Result<Vec<T>> + Send + Sync>;

/// Starts a live list of what `query` reads, for events of `account`.
pub(crate) fn watch<T>(
    runtime: &tokio::runtime::Handle,
    services: &Arc<Services>,
    account: Option<String>,
    limit: u32,
    query: Query<T>,
    listener: Arc<dyn ListListener<T>>,
) -> LiveList
where
    T: Keyed + PartialEq + Clone + Send + Sync + 'static,
{
    let (limit_tx, limit_rx) = watch::channel(limit);
    let events = services.events.receiver();
    let services = Arc::downgrade(services);
    let task = runtime.spawn(run(services, account, query, listener, events, limit_rx));
    LiveList {
        limit: limit_tx,
        task,
    }
}

async fn run<T>(
    services: Weak<Services>,
    account: Option<String>,
    query: Query<T>,
    listener: Arc<dyn ListListener<T>>,
    mut events: broadcast::Receiver<Event>,
    mut limit: watch::Receiver<u32>,
) where
    T: Keyed + PartialEq + Clone + Send + Sync + 'static,
{
    // `None`: the listener has no list yet (or must be sent a whole one).
    let mut shown: Option<Vec<T>> = None;
    loop {
        let Some(strong) = services.upgrade() else {
            return;
        };
        let rows = {
            let query = query.clone();
            let n = *limit.borrow_and_update();
            match tokio::task::spawn_blocking(move || query(&strong, n)).await {
                Ok(rows) => rows,
                Err(_) => return,
            }
        };
        let diffs = match (rows, &shown) {
            (Ok(rows), None) => {
                shown = Some(rows.clone());
                vec![Diff::Reset(rows)]
            }
            (Ok(rows), Some(old)) => {
                let diffs = diff(old, &rows);
                shown = Some(rows);
                diffs
            }
            (Err(err), _) => {
                shown = None;
                let listener = listener.clone();
                let _ = tokio::task::spawn_blocking(move || listener.on_error(err)).await;
                Vec::new()
            }
        };
        if !diffs.is_empty() {
            let listener = listener.clone();
            if tokio::task::spawn_blocking(move || listener.on_diffs(diffs))
                .await
                .is_err()
            {
                return;
            }
        }
        // Wait until something may have changed, then let a burst settle.
        let mut stale = false;
        while !stale {
            tokio::select! {
                received = events.recv() => match received {
                    Ok(event) => stale = touches(&event, account.as_deref()),
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        shown = None;
                        stale = true;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                changed = limit.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    stale = true;
                }
            }
        }
        tokio::time::sleep(SETTLE).await;
        loop {
            match events.try_recv() {
                Ok(_) => {}
                Err(broadcast::error::TryRecvError::Lagged(_)) => shown = None,
                Err(_) => break,
            }
        }
    }
}

/// A message list's query.
pub(crate) fn message_query(query: &MessageQuery) -> Query<MessageSummary> {
    let (account, folder) = (query.account.clone(), query.folder.clone());
    Arc::new(move |services, limit| {
        messages(services, account.as_deref(), folder.as_deref(), limit, 0)
    })
}

/// The folder list's query, with counts.
pub(crate) fn folder_query(account: Option<String>) -> Query<Folder> {
    Arc::new(move |services, _| {
        services
            .store
            .folders(services.account_id(account.as_deref())?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Row(i64, &'static str);

    impl Keyed for Row {
        fn key(&self) -> i64 {
            self.0
        }
    }

    /// Applies diffs as a front end would.
    fn apply(mut list: Vec<Row>, diffs: &[Diff<Row>]) -> Vec<Row> {
        for d in diffs {
            match d {
                Diff::Reset(rows) => list = rows.clone(),
                Diff::Insert(i, row) => list.insert(*i, row.clone()),
                Diff::Set(i, row) => list[*i] = row.clone(),
                Diff::Remove(i) => {
                    list.remove(*i);
                }
            }
        }
        list
    }

    #[test]
    fn diffs_turn_the_old_list_into_the_new_one() {
        let r = Row;
        // (old, new, expected diffs)
        type Case = (Vec<Row>, Vec<Row>, Vec<Diff<Row>>);
        let cases: Vec<Case> = vec![
            (vec![], vec![], vec![]),
            (vec![r(1, "a")], vec![r(1, "a")], vec![]),
            (
                vec![r(2, "b"), r(1, "a")],
                vec![r(3, "c"), r(2, "b"), r(1, "a")],
                vec![Diff::Insert(0, r(3, "c"))],
            ),
            (
                vec![r(3, "c"), r(2, "b"), r(1, "a")],
                vec![r(3, "c"), r(1, "a")],
                vec![Diff::Remove(1)],
            ),
            (
                vec![r(3, "c"), r(2, "b"), r(1, "a")],
                vec![r(3, "C"), r(1, "a"), r(0, "z")],
                vec![
                    Diff::Remove(1),
                    Diff::Set(0, r(3, "C")),
                    Diff::Insert(2, r(0, "z")),
                ],
            ),
            (
                vec![r(2, "b"), r(1, "a")],
                vec![r(1, "a"), r(2, "b")],
                vec![Diff::Reset(vec![r(1, "a"), r(2, "b")])],
            ),
            (
                vec![r(5, "e"), r(4, "d"), r(3, "c")],
                vec![],
                vec![Diff::Remove(2), Diff::Remove(1), Diff::Remove(0)],
            ),
        ];
        for (old, new, expected) in cases {
            let got = diff(&old, &new);
            assert_eq!(got, expected, "{old:?} -> {new:?}");
            assert_eq!(apply(old.clone(), &got), new, "{old:?} -> {new:?}");
        }
    }

    #[test]
    fn many_random_edits_apply_back_to_the_new_list() {
        // A fixed pseudo-random walk: removals, inserts and updates mixed.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let labels = ["a", "b", "c"];
        let list = |next: &mut dyn FnMut() -> u64| {
            let mut rows = Vec::new();
            for k in (0..(next() % 12) as i64).rev() {
                if !next().is_multiple_of(3) {
                    rows.push(Row(k, labels[(next() % 3) as usize]));
                }
            }
            rows
        };
        for _ in 0..500 {
            let old = list(&mut next);
            let new = list(&mut next);
            let diffs = diff(&old, &new);
            assert_eq!(apply(old.clone(), &diffs), new, "{old:?} -> {new:?}");
            assert!(
                !diffs.iter().any(|d| matches!(d, Diff::Reset(_))),
                "sorted lists never reset"
            );
        }
    }

    #[test]
    fn only_list_events_of_the_account_make_a_list_stale() {
        let changed = Event::MessagesChanged {
            account: "a".into(),
            folder: String::new(),
            added: vec![1],
            changed: vec![],
            removed: 0,
        };
        assert!(touches(&changed, Some("a")));
        assert!(touches(&changed, None));
        assert!(!touches(&changed, Some("b")));
        let progress = Event::SyncProgress {
            account: "a".into(),
            folder: "INBOX".into(),
            done: 1,
            total: 2,
        };
        assert!(!touches(&progress, None));
    }
}
