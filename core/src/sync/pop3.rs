//! POP3 download: UIDL tells what is new (nothing is downloaded twice), newest first, into
//! the local Inbox; then the account's delete policy decides what leaves the server.

use std::collections::HashSet;

use crate::error::{Error, ErrorKind, Result};
use crate::events::EventBus;
use crate::mail::ParsedMessage;
use crate::mime;
use crate::model::{Account, Event, FolderRole, Pop3DeletePolicy, SyncReport};
use crate::pop3::Pop3Connection;
use crate::store::{Pop3Download, Store};

/// Messages per transaction while downloading.
const BATCH: usize = 50;
const DAY: i64 = 24 * 60 * 60;

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

pub fn second_device_advice(taken: usize) -> String {
    format!(
        "{taken} message(s) left the server without this device deleting them: this account \
         is read on more than one device. IMAP keeps them in step."
    )
}

pub async fn sync_pop3(
    store: &Store,
    events: &EventBus,
    account: &Account,
    mut conn: Pop3Connection,
    now: i64,
) -> Result<SyncReport> {
    let mut report = SyncReport {
        folders: 1,
        ..SyncReport::default()
    };
    if !conn.caps.uidl && !conn.caps.all.is_empty() {
        return Err(Error::new(
            ErrorKind::ProtocolUnsupported,
            "the POP3 server does not offer UIDL, so downloads could not be told apart",
        ));
    }
    let inbox = store
        .folder_by_role(account.id, FolderRole::Inbox)?
        .ok_or_else(|| Error::not_found("the local Inbox"))?;
    let listing = conn.uidl().await?;
    let mut downloads = store.pop3_downloads(account.id)?;
    // Higher message numbers arrived later: newest first.
    let mut new: Vec<(u32, String)> = listing
        .iter()
        .filter(|(_, uidl)| !downloads.contains_key(uidl))
        .cloned()
        .collect();
    new.sort_by_key(|(number, _)| std::cmp::Reverse(*number));
    let total = new.len() as u32;
    let mut done = 0;
    for batch in new.chunks(BATCH) {
        let numbers: Vec<u32> = batch.iter().map(|(number, _)| *number).collect();
        let messages: Vec<(String, ParsedMessage)> = batch
            .iter()
            .map(|(_, uidl)| uidl.clone())
            .zip(
                conn.retr_many(&numbers)
                    .await?
                    .into_iter()
                    .map(mime::parse_message),
            )
            .collect();
        let added = store.store_pop3_messages(account.id, inbox, &messages, now)?;
        for ((uidl, _), id) in messages.iter().zip(&added) {
            downloads.insert(
                uidl.clone(),
                Pop3Download {
                    message_id: Some(*id),
                    downloaded_at: now,
                    deleted_there: false,
                },
            );
        }
        done += batch.len() as u32;
        report.new_messages += added.len() as u32;
        events.emit(Event::SyncProgress {
            account: account.name.clone(),
            folder: "INBOX".to_owned(),
            done,
            total,
        });
        events.emit(Event::MessagesChanged {
            account: account.name.clone(),
            folder: "INBOX".to_owned(),
            added,
            changed: Vec::new(),
            removed: 0,
        });
    }
    let on_server: HashSet<&String> = listing.iter().map(|(_, uidl)| uidl).collect();
    let doomed: Vec<(u32, &String, Option<i64>)> = listing
        .iter()
        .filter_map(|(number, uidl)| {
            let download = downloads.get(uidl)?;
            to_delete(account.pop3_delete, download, now).then_some((
                *number,
                uidl,
                download.message_id,
            ))
        })
        .collect();
    // The local copy becomes the only one: on disk before the server lets go.
    let local: Vec<i64> = doomed.iter().filter_map(|(_, _, id)| *id).collect();
    store.make_durable(&local)?;
    let mut deleted = Vec::new();
    for (number, uidl, _) in doomed {
        conn.dele(number).await?;
        deleted.push(uidl.clone());
    }
    conn.quit().await?;
    report.removed_messages = deleted.len() as u32;
    store.mark_pop3_deleted(account.id, &deleted)?;

    let gone: Vec<String> = downloads
        .keys()
        .filter(|uidl| !on_server.contains(uidl))
        .cloned()
        .collect();
    let taken_elsewhere = vanished_elsewhere(&downloads, &on_server);
    if taken_elsewhere > 0 {
        events.emit(Event::Advisory {
            account: account.name.clone(),
            message: second_device_advice(taken_elsewhere),
        });
    }
    store.forget_pop3_downloads(account.id, &gone)?;
    Ok(report)
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
        assert!(second_device_advice(1).contains("more than one device"));
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
