//! Sync decisions as pure functions: given what this device knows and what the server
//! says, decide what to ask for and what to change. No I/O here.

use std::collections::{HashMap, HashSet};

use super::BodyPrefetch;
use crate::imap::{MailboxStatus, ServerFlags};
use crate::model::Flags;

/// What the last pass left for a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocalFolder {
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highestmodseq: u64,
    pub complete: bool,
    /// Locations known in the current UIDVALIDITY generation.
    pub known: u32,
}

/// Which sync tier the connection supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tier {
    pub condstore: bool,
    pub qresync: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderPlan {
    /// Nothing changed since the last pass (CONDSTORE says so): not even a SELECT.
    UpToDate,
    /// List every UID: first sync, an interrupted one, or cached UIDs that cannot be
    /// trusted (`reset`: a new UIDVALIDITY, or a server that renumbered under the old one).
    Full { reset: bool },
    /// Ask for flags changed since `modseq`; with QRESYNC, expunges come as VANISHED.
    ChangedSince { modseq: u64, vanished: bool },
    /// No CONDSTORE: compare every UID and its flags.
    AllFlags,
}

pub fn plan_folder(local: &LocalFolder, server: &MailboxStatus, tier: Tier) -> FolderPlan {
    if local.uidvalidity == 0 {
        return FolderPlan::Full { reset: false };
    }
    if server.uidvalidity != local.uidvalidity {
        return FolderPlan::Full { reset: true };
    }
    // Same UIDVALIDITY, but the server went back in time (lost its index): the UIDs we
    // cached may now name other messages. Start over, matching by Message-ID.
    let modseq_went_back =
        matches!(server.highestmodseq, Some(m) if tier.condstore && m < local.highestmodseq);
    if local.uidnext > 0 && (server.uidnext < local.uidnext || modseq_went_back) {
        return FolderPlan::Full { reset: true };
    }
    if !local.complete {
        return FolderPlan::Full { reset: false };
    }
    match server.highestmodseq {
        Some(modseq) if tier.condstore && local.highestmodseq > 0 => {
            if modseq == local.highestmodseq
                && server.uidnext == local.uidnext
                && server.messages == local.known
            {
                FolderPlan::UpToDate
            } else {
                FolderPlan::ChangedSince {
                    modseq: local.highestmodseq,
                    vanished: tier.qresync,
                }
            }
        }
        _ => FolderPlan::AllFlags,
    }
}

/// What a flag scan means for the local copy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScanOutcome {
    /// UIDs to fetch headers for, newest (highest) first.
    pub new_uids: Vec<u32>,
    /// Known UIDs whose flags differ from the local copy.
    pub flag_updates: Vec<ServerFlags>,
}

/// Splits reported flags into unknown UIDs and real changes. `protected` holds UIDs with
/// a local change still on its way to the server: their local flags win for now.
pub fn diff_flags(
    known: &HashMap<u32, Flags>,
    reported: &[ServerFlags],
    protected: &HashSet<u32>,
) -> ScanOutcome {
    let mut outcome = ScanOutcome::default();
    for item in reported {
        if protected.contains(&item.uid) {
            continue;
        }
        match known.get(&item.uid) {
            None => outcome.new_uids.push(item.uid),
            Some(local) if !same_flags(local, &item.flags) => outcome.flag_updates.push(*item),
            Some(_) => {}
        }
    }
    outcome.new_uids.sort_unstable_by(|a, b| b.cmp(a));
    outcome.new_uids.dedup();
    outcome
}

/// Flags the engine tracks; \Deleted and \Recent are not shown.
fn same_flags(a: &Flags, b: &Flags) -> bool {
    (a.seen, a.flagged, a.answered, a.forwarded, a.draft)
        == (b.seen, b.flagged, b.answered, b.forwarded, b.draft)
}

/// Known UIDs missing from a complete server listing.
pub fn vanished_from_listing(known: &HashMap<u32, Flags>, present: &[u32]) -> Vec<u32> {
    let present: HashSet<u32> = present.iter().copied().collect();
    let mut gone: Vec<u32> = known
        .keys()
        .filter(|uid| !present.contains(uid))
        .copied()
        .collect();
    gone.sort_unstable();
    gone
}

/// Whether the server's message count disagrees with what we would have after applying
/// what we learnt, meaning some expunge went unreported and a full UID listing is needed.
pub fn counts_disagree(server_messages: u32, known: usize, new: usize, vanished: usize) -> bool {
    (known + new).saturating_sub(vanished) != server_messages as usize
}

/// Splits UIDs (already newest first) into fetch batches that start at `first` and
/// double up to `max`: the first screen arrives after one small answer, and on a link
/// that keeps dropping every connection still stores a few batches before it breaks.
pub fn batches(uids: &[u32], first: usize, max: usize) -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    let mut size = first.max(1);
    let mut rest = uids;
    while !rest.is_empty() {
        let (head, tail) = rest.split_at(size.min(rest.len()));
        out.push(head.to_vec());
        rest = tail;
        size = (size * 2).min(max.max(1));
    }
    out
}

/// Whether a pass downloads bodies ahead of time: not on a metered link (the platform
/// says so) unless the user allowed it there; a message opened is downloaded anyway.
/// Folders keep their "new mail since" mark, so the next pass on another link catches up.
pub fn prefetch_now(setting: BodyPrefetch, metered: bool, when_metered: bool) -> bool {
    setting != BodyPrefetch::Newest(0) && (!metered || when_metered)
}

/// Splits bodies into batches bounded by count and by bytes, so memory stays flat. The
/// byte budget starts at `first_bytes` and doubles up to `max_bytes`, for the same
/// reason as header batches grow.
pub fn body_batches(
    sizes: &[(u32, u32)],
    max_count: usize,
    first_bytes: u64,
    max_bytes: u64,
) -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0u64;
    let mut budget = first_bytes.min(max_bytes);
    for &(uid, size) in sizes {
        if !current.is_empty() && (current.len() >= max_count || bytes + u64::from(size) > budget) {
            out.push(std::mem::take(&mut current));
            bytes = 0;
            budget = (budget * 2).min(max_bytes);
        }
        current.push(uid);
        bytes += u64::from(size);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_ahead_of_time_wait_for_an_unmetered_link() {
        use BodyPrefetch::{All, Newest};
        // (setting, metered, allowed when metered) -> download now
        let cases = [
            (Newest(50), false, false, true),
            (Newest(50), true, false, false),
            (Newest(50), true, true, true),
            (All, false, false, true),
            (All, true, false, false),
            (All, true, true, true),
            (Newest(0), false, false, false),
            (Newest(0), true, true, false),
        ];
        for (setting, metered, when_metered, expected) in cases {
            assert_eq!(
                prefetch_now(setting, metered, when_metered),
                expected,
                "{setting:?}, metered {metered}, allowed {when_metered}"
            );
        }
    }

    fn status(uidvalidity: u32, uidnext: u32, modseq: Option<u64>, messages: u32) -> MailboxStatus {
        MailboxStatus {
            uidvalidity,
            uidnext,
            highestmodseq: modseq,
            messages,
        }
    }

    const CONDSTORE: Tier = Tier {
        condstore: true,
        qresync: false,
    };
    const QRESYNC: Tier = Tier {
        condstore: true,
        qresync: true,
    };
    const PLAIN: Tier = Tier {
        condstore: false,
        qresync: false,
    };

    #[test]
    fn folder_plans() {
        let synced = LocalFolder {
            uidvalidity: 7,
            uidnext: 101,
            highestmodseq: 500,
            complete: true,
            known: 100,
        };
        let cases: Vec<(&str, LocalFolder, MailboxStatus, Tier, FolderPlan)> = vec![
            (
                "never synced",
                LocalFolder::default(),
                status(7, 101, Some(500), 100),
                QRESYNC,
                FolderPlan::Full { reset: false },
            ),
            (
                "uidvalidity changed",
                synced,
                status(8, 5, Some(9), 4),
                QRESYNC,
                FolderPlan::Full { reset: true },
            ),
            (
                "interrupted",
                LocalFolder {
                    complete: false,
                    ..synced
                },
                status(7, 101, Some(500), 100),
                QRESYNC,
                FolderPlan::Full { reset: false },
            ),
            (
                "nothing changed",
                synced,
                status(7, 101, Some(500), 100),
                CONDSTORE,
                FolderPlan::UpToDate,
            ),
            (
                "flags changed, qresync",
                synced,
                status(7, 101, Some(501), 100),
                QRESYNC,
                FolderPlan::ChangedSince {
                    modseq: 500,
                    vanished: true,
                },
            ),
            (
                "new mail, condstore",
                synced,
                status(7, 102, Some(502), 101),
                CONDSTORE,
                FolderPlan::ChangedSince {
                    modseq: 500,
                    vanished: false,
                },
            ),
            (
                "count differs only",
                synced,
                status(7, 101, Some(500), 99),
                CONDSTORE,
                FolderPlan::ChangedSince {
                    modseq: 500,
                    vanished: false,
                },
            ),
            (
                "modseq went back: renumbered under the same uidvalidity",
                synced,
                status(7, 101, Some(2), 100),
                CONDSTORE,
                FolderPlan::Full { reset: true },
            ),
            (
                "uidnext went back",
                synced,
                status(7, 40, Some(600), 100),
                QRESYNC,
                FolderPlan::Full { reset: true },
            ),
            (
                "uidnext went back during an interrupted first sync",
                LocalFolder {
                    complete: false,
                    ..synced
                },
                status(7, 40, None, 30),
                PLAIN,
                FolderPlan::Full { reset: true },
            ),
            (
                "no condstore",
                synced,
                status(7, 101, None, 100),
                PLAIN,
                FolderPlan::AllFlags,
            ),
            (
                "condstore turned off",
                synced,
                status(7, 101, Some(500), 100),
                PLAIN,
                FolderPlan::AllFlags,
            ),
            (
                "no modseq stored yet",
                LocalFolder {
                    highestmodseq: 0,
                    ..synced
                },
                status(7, 101, Some(500), 100),
                CONDSTORE,
                FolderPlan::AllFlags,
            ),
        ];
        for (name, local, server, tier, expected) in cases {
            assert_eq!(plan_folder(&local, &server, tier), expected, "{name}");
        }
    }

    fn flags(seen: bool, flagged: bool) -> Flags {
        Flags {
            seen,
            flagged,
            ..Flags::default()
        }
    }

    fn reported(uid: u32, f: Flags) -> ServerFlags {
        ServerFlags {
            uid,
            flags: f,
            modseq: 0,
        }
    }

    #[test]
    fn flag_diffs() {
        let known: HashMap<u32, Flags> = [
            (1, flags(false, false)),
            (2, flags(true, false)),
            (3, flags(true, true)),
        ]
        .into();
        // (name, reported, protected, expected new, expected updated)
        type Case = (
            &'static str,
            Vec<ServerFlags>,
            HashSet<u32>,
            Vec<u32>,
            Vec<u32>,
        );
        let cases: Vec<Case> = vec![
            (
                "nothing new",
                vec![reported(1, flags(false, false))],
                HashSet::new(),
                vec![],
                vec![],
            ),
            (
                "read elsewhere",
                vec![reported(1, flags(true, false))],
                HashSet::new(),
                vec![],
                vec![1],
            ),
            (
                "new mail newest first",
                vec![
                    reported(9, flags(false, false)),
                    reported(12, flags(true, false)),
                ],
                HashSet::new(),
                vec![12, 9],
                vec![],
            ),
            (
                "pending local change wins",
                vec![reported(2, flags(false, false))],
                [2].into(),
                vec![],
                vec![],
            ),
            (
                "deleted flag alone is no change",
                vec![reported(
                    3,
                    Flags {
                        deleted: true,
                        ..flags(true, true)
                    },
                )],
                HashSet::new(),
                vec![],
                vec![],
            ),
        ];
        for (name, input, protected, new, updated) in cases {
            let out = diff_flags(&known, &input, &protected);
            assert_eq!(out.new_uids, new, "{name}: new");
            let got: Vec<u32> = out.flag_updates.iter().map(|f| f.uid).collect();
            assert_eq!(got, updated, "{name}: updated");
        }
    }

    #[test]
    fn vanished_and_counts() {
        let known: HashMap<u32, Flags> = [
            (1, Flags::default()),
            (2, Flags::default()),
            (5, Flags::default()),
        ]
        .into();
        assert_eq!(vanished_from_listing(&known, &[1, 5, 6]), vec![2]);
        assert_eq!(vanished_from_listing(&known, &[]), vec![1, 2, 5]);
        assert!(!counts_disagree(4, 3, 1, 0));
        assert!(counts_disagree(3, 3, 1, 0));
        assert!(!counts_disagree(3, 3, 1, 1));
    }

    #[test]
    fn batching() {
        // (uids, first batch, later batches, expected)
        type Case = (&'static [u32], usize, usize, Vec<Vec<u32>>);
        let cases: [Case; 5] = [
            (
                &[9, 8, 7, 6, 5],
                2,
                2,
                vec![vec![9, 8], vec![7, 6], vec![5]],
            ),
            (
                &[9, 8, 7, 6, 5],
                1,
                3,
                vec![vec![9], vec![8, 7], vec![6, 5]],
            ),
            (
                &[10, 9, 8, 7, 6, 5, 4, 3, 2, 1],
                1,
                4,
                vec![vec![10], vec![9, 8], vec![7, 6, 5, 4], vec![3, 2, 1]],
            ),
            (&[9, 8], 5, 3, vec![vec![9, 8]]),
            (&[], 1, 10, vec![]),
        ];
        for (uids, first, size, expected) in cases {
            assert_eq!(
                batches(uids, first, size),
                expected,
                "{uids:?} {first} {size}"
            );
        }
        let sizes = [(10, 100), (9, 100), (8, 900), (7, 50), (6, 5000)];
        assert_eq!(
            body_batches(&sizes, 10, 1000, 1000),
            vec![vec![10, 9], vec![8, 7], vec![6]]
        );
        assert_eq!(
            body_batches(&sizes, 2, 1_000_000, 1_000_000),
            vec![vec![10, 9], vec![8, 7], vec![6]]
        );
        // The budget grows: 250, then 500, then 1000 bytes.
        assert_eq!(
            body_batches(&sizes, 10, 250, 1000),
            vec![vec![10, 9], vec![8], vec![7], vec![6]]
        );
    }
}
