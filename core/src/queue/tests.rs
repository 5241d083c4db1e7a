//! The queue against a real store: local effects keep the folder counters right, and
//! one replayer at a time holds a change.

use std::sync::Arc;

use super::*;
use crate::credentials::MemoryCredentials;
use crate::error::ErrorKind;
use crate::mail::{HeaderRecord, RemoteFolder};
use crate::model::{AccountConfig, Flags, FolderRole, Protocol, Security, ServerConfig};
use crate::net::ConnectPolicy;
use ops::MessageAt;

fn record(uid: u32, seen: bool) -> HeaderRecord {
    HeaderRecord {
        uid,
        message_id: format!("m{uid}@t"),
        subject: format!("s{uid}"),
        date: Some(1_700_000_000 + i64::from(uid)),
        flags: Flags {
            seen,
            ..Flags::default()
        },
        ..HeaderRecord::default()
    }
}

/// The counters the triggers keep must equal what counting rows gives.
fn assert_counts_match(store: &Store) {
    for folder in store.folders(None).unwrap() {
        let (total, unread): (u32, u32) = store
            .read(|conn| {
                Ok(conn.query_row(
                    "SELECT count(*), ifnull(sum(m.seen = 0), 0) FROM location l
                     JOIN message m ON m.id = l.message_id WHERE l.folder_id = ?1",
                    [folder.id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?)
            })
            .unwrap();
        assert_eq!(
            (folder.total, folder.unread),
            (total, unread),
            "{}",
            folder.name
        );
    }
}

#[test]
fn folder_counters_follow_every_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("db.sqlite3")).unwrap());
    let sessions = Arc::new(Sessions::new(
        store.clone(),
        Arc::new(MemoryCredentials::default()),
        ConnectPolicy::default(),
    ));
    let queue = ChangeQueue::new(
        store.clone(),
        sessions,
        EventBus::default(),
        dir.path().to_path_buf(),
    );
    let account = store
        .insert_account(
            &AccountConfig {
                pop3_delete: Default::default(),
                display_name: String::new(),
                smtp: None,
                name: "a".into(),
                email: "a@example.test".into(),
                protocol: Protocol::Imap,
                server: ServerConfig {
                    host: "127.0.0.1".into(),
                    port: 1,
                    security: Security::Tls,
                    username: "a".into(),
                    ca_file: None,
                },
            },
            &[],
        )
        .unwrap();
    let folder = |name: &str, role| RemoteFolder {
        remote_name: name.into(),
        name: name.into(),
        delimiter: "/".into(),
        role,
        selectable: true,
        uidvalidity: None,
    };
    store
        .replace_folders(
            account.id,
            &[
                folder("INBOX", Some(FolderRole::Inbox)),
                folder("Archive", Some(FolderRole::Archive)),
            ],
        )
        .unwrap();
    let inbox = store.folder_by_name(account.id, "INBOX").unwrap().id;
    let archive = store.folder_by_name(account.id, "Archive").unwrap().id;
    store.reset_folder(inbox, 7).unwrap();
    let records: Vec<_> = (1..=10).map(|uid| record(uid, uid % 3 == 0)).collect();
    let added = store
        .store_headers(account.id, inbox, 7, &records)
        .unwrap()
        .added;
    assert_counts_match(&store);
    assert_eq!(store.folder(inbox).unwrap().unread, 7);

    queue
        .set_flags(&added[..4], FlagSet::SEEN, FlagSet::empty())
        .unwrap();
    queue
        .set_flags(&added[..2], FlagSet::FLAGGED, FlagSet::SEEN)
        .unwrap();
    assert_counts_match(&store);
    let moves: Vec<(i64, i64)> = added[5..8].iter().map(|id| (*id, archive)).collect();
    queue.move_messages(&moves).unwrap();
    assert_counts_match(&store);
    // No Trash folder: a delete is for good.
    queue.delete(&added[8..9]).unwrap();
    store.remove_uids(inbox, 7, &[10]).unwrap();
    assert_counts_match(&store);
    let flagged_seen: Vec<(u32, Flags, u64)> = (1..=4)
        .map(|uid| {
            (
                uid,
                Flags {
                    seen: true,
                    ..Flags::default()
                },
                9,
            )
        })
        .collect();
    store.apply_server_flags(inbox, 7, &flagged_seen).unwrap();
    assert_counts_match(&store);
    assert_eq!(store.folder(archive).unwrap().total, 3);
    assert_eq!(store.folder(inbox).unwrap().total, 5);
}

fn at(id: i64) -> MessageAt {
    MessageAt {
        id,
        message_id_header: format!("m{id}@t"),
        folder: "INBOX".into(),
        uidvalidity: 7,
        uid: 3,
    }
}

#[test]
fn every_operation_survives_its_row() {
    let ops = [
        Operation::SetFlags(SetFlags {
            message: at(1),
            add: FlagSet::SEEN,
            remove: FlagSet::FLAGGED,
        }),
        Operation::Move(MoveMessage {
            message: at(2),
            to: "Z&APw-rich".into(),
        }),
        Operation::Expunge(Expunge { message: at(3) }),
        Operation::CreateFolder(CreateFolder { name: "A".into() }),
        Operation::RenameFolder(RenameFolder {
            from: "A".into(),
            to: "B".into(),
        }),
        Operation::DeleteFolder(DeleteFolder { name: "B".into() }),
        Operation::Append(Append {
            message: 9,
            message_id_header: "d@t".into(),
            folder: "Drafts".into(),
            flags: FlagSet::DRAFT | FlagSet::SEEN,
        }),
    ];
    for op in ops {
        let row = ChangeRow {
            id: 5,
            ..QueuedChange::new_row(1, &op, Some(4))
        };
        let back = QueuedChange::from_row(&row).unwrap();
        assert_eq!(back.op, op);
        assert_eq!((back.account_id, back.depends_on), (1, Some(4)));
        assert_eq!(row.kind, op.kind().as_str());
    }
    assert_eq!(
        Operation::Move(MoveMessage {
            message: at(2),
            to: "Z&APw-rich".into()
        })
        .describe(&Default::default()),
        "message 2 to Zürich"
    );
}

#[test]
fn rows_tell_the_store_what_they_hold() {
    let flags = QueuedChange::new_row(
        1,
        &Operation::SetFlags(SetFlags {
            message: at(1),
            add: FlagSet::SEEN,
            remove: FlagSet::empty(),
        }),
        None,
    );
    assert!(flags.holds_flags);
    let rename = QueuedChange::new_row(
        1,
        &Operation::RenameFolder(RenameFolder {
            from: "A".into(),
            to: "B".into(),
        }),
        None,
    );
    assert_eq!(
        (
            rename.folder_appears.as_str(),
            rename.folder_disappears.as_str()
        ),
        ("B", "A")
    );
    let unknown = ChangeRow {
        kind: "teleport".into(),
        ..ChangeRow::default()
    };
    assert_eq!(
        QueuedChange::from_row(&unknown).unwrap_err().kind,
        ErrorKind::Storage
    );
}
