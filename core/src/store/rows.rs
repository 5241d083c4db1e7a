//! Row mapping shared by the store's queries: message summaries and address lists.

use rusqlite::Row;

use super::flag;
use crate::model::{Address, Flags, MessageSummary};

pub(super) const SUMMARY_SELECT: &str = "
    SELECT m.id, a.name, f.name, f.id, l.uid, m.message_id, m.from_name, m.from_addr, m.subject,
           m.date, m.seen, m.flagged, m.answered, m.forwarded, m.draft, m.has_attachments, m.size,
           m.thread_id, m.has_body
    FROM location l
    JOIN message m ON m.id = l.message_id
    JOIN folder f ON f.id = l.folder_id
    JOIN account a ON a.id = m.account_id";

/// In lists that are not of one folder, a message Gmail shows in several labels appears
/// once: at its server location worth showing (a label rather than All Mail, then the
/// first stored). Other messages have one location and skip the lookup.
pub(super) const ONE_LOCATION: &str = "(m.gm_msgid IS NULL OR l.id = (
        SELECT l2.id FROM location l2 JOIN folder f2 ON f2.id = l2.folder_id
        WHERE l2.message_id = m.id ORDER BY l2.uid IS NULL, f2.role = 'all', l2.id LIMIT 1))";

pub(super) fn summary_from_row(row: &Row<'_>) -> rusqlite::Result<MessageSummary> {
    let from_name: String = row.get(6)?;
    Ok(MessageSummary {
        id: row.get(0)?,
        account: row.get(1)?,
        folder: row.get(2)?,
        folder_id: row.get(3)?,
        uid: row.get(4)?,
        message_id: row.get(5)?,
        from: Address {
            name: (!from_name.is_empty()).then_some(from_name),
            address: row.get(7)?,
        },
        subject: row.get(8)?,
        date: row.get(9)?,
        flags: Flags {
            seen: flag(row.get(10)?),
            flagged: flag(row.get(11)?),
            answered: flag(row.get(12)?),
            forwarded: flag(row.get(13)?),
            draft: flag(row.get(14)?),
            deleted: false,
        },
        has_attachments: flag(row.get(15)?),
        size: row.get(16)?,
        thread_id: row.get(17)?,
        has_body: flag(row.get(18)?),
    })
}

/// Address lists are stored one per line as `name<TAB>address`.
pub(crate) fn encode_addresses(list: &[Address]) -> String {
    list.iter()
        .map(|a| {
            format!(
                "{}\t{}",
                a.name.as_deref().unwrap_or("").replace(['\t', '\n'], " "),
                a.address.replace(['\t', '\n'], "")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) fn decode_addresses(text: &str) -> Vec<Address> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (name, address) = line.split_once('\t').unwrap_or(("", line));
            Address {
                name: (!name.is_empty()).then(|| name.to_owned()),
                address: address.to_owned(),
            }
        })
        .collect()
}
