use std::collections::HashMap;

use rusqlite::{params, OptionalExtension, Transaction};

use super::blobs::IncomingBlob;
use super::rows::{
    decode_addresses, encode_addresses, summary_from_row, ONE_LOCATION, SUMMARY_SELECT,
};
use super::search::{allocate_search_key, InsertBatch};
use super::{flag, threading, Store};
use crate::error::{Error, Result};
pub use crate::mail::{HeaderRecord, ParsedBody};
use crate::model::{Address, Attachment, Flags, Message, MessageSummary};

/// A location this device already knows in a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownLocation {
    pub message_id: i64,
    pub uid: u32,
    pub flags: Flags,
}

/// A message whose body has not been downloaded yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyNeeded {
    pub message_id: i64,
    pub uid: u32,
    pub size: u32,
}

/// Outcome of one committed batch, for change events.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchOutcome {
    pub added: Vec<i64>,
    pub changed: Vec<i64>,
    pub removed: u32,
}

/// Takes the server's flags, unless a local flag change is still on its way there: then
/// the local state wins until the server has applied it.
fn update_flags(tx: &Transaction<'_>, message_id: i64, flags: &Flags) -> Result<bool> {
    let n = tx.prepare_cached("UPDATE message SET seen = ?2, flagged = ?3, answered = ?4, forwarded = ?5, draft = ?6
         WHERE id = ?1 AND (seen, flagged, answered, forwarded, draft) IS NOT (?2, ?3, ?4, ?5, ?6)
           AND NOT EXISTS (SELECT 1 FROM change c WHERE c.message_id = ?1 AND c.state = 'pending' AND c.holds_flags = 1)")?.execute(
        params![
            message_id,
            flags.seen,
            flags.flagged,
            flags.answered,
            flags.forwarded,
            flags.draft
        ],
    )?;
    Ok(n > 0)
}

impl Store {
    /// Locations of the current UIDVALIDITY generation in a folder, by UID.
    pub fn known_locations(
        &self,
        folder_id: i64,
        uidvalidity: u32,
    ) -> Result<HashMap<u32, KnownLocation>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT l.uid, m.id, m.seen, m.flagged, m.answered, m.forwarded, m.draft
                 FROM location l JOIN message m ON m.id = l.message_id
                 WHERE l.folder_id = ?1 AND l.uidvalidity = ?2 AND l.uid IS NOT NULL",
            )?;
            let rows = stmt.query_map(params![folder_id, uidvalidity], |r| {
                let uid: u32 = r.get(0)?;
                Ok((
                    uid,
                    KnownLocation {
                        message_id: r.get(1)?,
                        uid,
                        flags: Flags {
                            seen: flag(r.get(2)?),
                            flagged: flag(r.get(3)?),
                            answered: flag(r.get(4)?),
                            forwarded: flag(r.get(5)?),
                            draft: flag(r.get(6)?),
                            deleted: false,
                        },
                    },
                ))
            })?;
            Ok(rows.collect::<rusqlite::Result<HashMap<_, _>>>()?)
        })
    }

    /// How many locations of the current UIDVALIDITY generation a folder has.
    pub fn count_locations(&self, folder_id: i64, uidvalidity: u32) -> Result<u32> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT count(*) FROM location WHERE folder_id = ?1 AND uidvalidity = ?2 AND uid IS NOT NULL",
                )?
                .query_row(params![folder_id, uidvalidity], |r| r.get(0))?)
        })
    }

    /// Flags of just these UIDs (those a CHANGEDSINCE fetch reported).
    pub fn flags_of_uids(
        &self,
        folder_id: i64,
        uidvalidity: u32,
        uids: &[u32],
    ) -> Result<HashMap<u32, Flags>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT m.seen, m.flagged, m.answered, m.forwarded, m.draft
                 FROM location l JOIN message m ON m.id = l.message_id
                 WHERE l.folder_id = ?1 AND l.uidvalidity = ?2 AND l.uid = ?3",
            )?;
            let mut out = HashMap::new();
            for &uid in uids {
                let found = stmt
                    .query_row(params![folder_id, uidvalidity, uid], |r| {
                        Ok(Flags {
                            seen: flag(r.get(0)?),
                            flagged: flag(r.get(1)?),
                            answered: flag(r.get(2)?),
                            forwarded: flag(r.get(3)?),
                            draft: flag(r.get(4)?),
                            deleted: false,
                        })
                    })
                    .optional()?;
                if let Some(flags) = found {
                    out.insert(uid, flags);
                }
            }
            Ok(out)
        })
    }

    /// Stores a batch of headers in one transaction. A UID already known only has its flags
    /// refreshed; a message left over from an older UIDVALIDITY is re-matched by Message-ID.
    pub fn store_headers(
        &self,
        account_id: i64,
        folder_id: i64,
        uidvalidity: u32,
        records: &[HeaderRecord],
    ) -> Result<BatchOutcome> {
        self.write(|tx| {
            let mut outcome = BatchOutcome::default();
            let mut search = InsertBatch::default();
            // Only a folder holding old-generation or local-only locations needs the
            // Message-ID re-match below (the common first sync does not).
            let may_rematch: bool = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM location WHERE folder_id = ?1
                                      AND (uidvalidity != ?2 OR uid IS NULL))",
                )?
                .query_row(params![folder_id, uidvalidity], |r| r.get(0))?;
            for rec in records {
                let existing: Option<i64> = tx.prepare_cached("SELECT message_id FROM location WHERE folder_id = ?1 AND uidvalidity = ?2 AND uid = ?3")?.query_row(
                        params![folder_id, uidvalidity, rec.uid],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(message_id) = existing {
                    if update_flags(tx, message_id, &rec.flags)? {
                        outcome.changed.push(message_id);
                    }
                    continue;
                }
                // A location of an older UIDVALIDITY generation, or one that only exists
                // here so far (a queued move), is the same message: re-match it.
                // CROSS JOIN keeps SQLite on the Message-ID index (no folder scan).
                let stale: Option<(i64, i64)> = if !may_rematch {
                    None
                } else {
                    tx
                    .prepare_cached(
                        "SELECT l.id, l.message_id FROM message m CROSS JOIN location l ON l.message_id = m.id
                         WHERE m.account_id = ?4 AND m.message_id = ?3
                           AND l.folder_id = ?1 AND (l.uidvalidity != ?2 OR l.uid IS NULL)
                         ORDER BY l.uid IS NULL LIMIT 1",
                    )?
                    .query_row(
                        params![folder_id, uidvalidity, rec.message_id, account_id],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?
                };
                if let Some((location_id, message_id)) = stale {
                    tx.prepare_cached("UPDATE location SET uidvalidity = ?2, uid = ?3, modseq = ?4 WHERE id = ?1")?.execute(
                        params![location_id, uidvalidity, rec.uid, rec.modseq as i64],
                    )?;
                    if update_flags(tx, message_id, &rec.flags)? {
                        outcome.changed.push(message_id);
                    }
                    continue;
                }
                // Gmail shows one message in each of its labels and in All Mail: the
                // same X-GM-MSGID is the same message, with one more location.
                let labelled = match rec.gm_msgid {
                    Some(gm) => tx
                        .prepare_cached(
                            "SELECT m.id FROM message m WHERE m.account_id = ?1 AND m.gm_msgid = ?2
                               AND NOT EXISTS (SELECT 1 FROM location l
                                               WHERE l.message_id = m.id AND l.folder_id = ?3)
                             ORDER BY m.id LIMIT 1",
                        )?
                        .query_row(params![account_id, gm as i64, folder_id], |r| r.get(0))
                        .optional()?,
                    None => None,
                };
                let id = match labelled {
                    Some(id) => {
                        if update_flags(tx, id, &rec.flags)? {
                            outcome.changed.push(id);
                        }
                        id
                    }
                    None => insert_message(tx, account_id, rec, &mut search)?,
                };
                tx.prepare_cached("INSERT INTO location (message_id, folder_id, uidvalidity, uid, modseq, sort_date)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?.execute(
                    params![
                        id,
                        folder_id,
                        uidvalidity,
                        rec.uid,
                        rec.modseq as i64,
                        rec.date.unwrap_or(rec.internal_date)
                    ],
                )?;
                outcome.added.push(id);
            }
            search.write(tx)?;
            Ok(outcome)
        })
    }

    /// Applies flags the server reported for known UIDs (pending local changes win).
    pub fn apply_server_flags(
        &self,
        folder_id: i64,
        uidvalidity: u32,
        updates: &[(u32, Flags, u64)],
    ) -> Result<Vec<i64>> {
        self.write(|tx| {
            let mut changed = Vec::new();
            for (uid, flags, modseq) in updates {
                let message_id: Option<i64> = tx.prepare_cached("UPDATE location SET modseq = ?4 WHERE folder_id = ?1 AND uidvalidity = ?2 AND uid = ?3
                         RETURNING message_id")?.query_row(
                        params![folder_id, uidvalidity, uid, *modseq as i64],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(message_id) = message_id {
                    if update_flags(tx, message_id, flags)? {
                        changed.push(message_id);
                    }
                }
            }
            Ok(changed)
        })
    }

    /// Forgets UIDs the server expunged; messages left without a location go with them.
    pub fn remove_uids(&self, folder_id: i64, uidvalidity: u32, uids: &[u32]) -> Result<u32> {
        self.write(|tx| {
            let mut removed = 0;
            let mut stmt = tx.prepare_cached(
                "DELETE FROM location WHERE folder_id = ?1 AND uidvalidity = ?2 AND uid = ?3",
            )?;
            for uid in uids {
                removed += stmt.execute(params![folder_id, uidvalidity, uid])? as u32;
            }
            Ok(removed)
        })
    }

    /// Saves a downloaded body, its attachments' descriptions and the raw message, and
    /// refreshes the search index, all in one transaction.
    pub fn store_bodies(&self, bodies: &[(i64, ParsedBody, Vec<u8>)]) -> Result<()> {
        for (message_id, _, raw) in bodies {
            self.blobs.write(*message_id, raw)?;
        }
        let gone = self.write(|tx| {
            let mut gone = Vec::new();
            let mut search = InsertBatch::default();
            for (message_id, body, _) in bodies {
                if !store_body(tx, *message_id, body, &mut search)? {
                    gone.push(*message_id);
                }
            }
            search.write(tx)?;
            Ok(gone)
        })?;
        // Expunged while its body was on the way: the file has no row.
        for id in gone {
            self.blobs.remove(id);
        }
        Ok(())
    }

    /// A new file in the message directory to receive a download into.
    pub fn incoming_file(&self) -> Result<IncomingBlob> {
        self.blobs.incoming()
    }

    /// Stores one body received into `file` (parsed from it as `body`): the file is put
    /// in place, then the row marks the body as here.
    pub fn store_body_file(
        &self,
        message_id: i64,
        file: IncomingBlob,
        body: &ParsedBody,
    ) -> Result<()> {
        self.blobs.adopt(message_id, file)?;
        let present = self.write(|tx| {
            let mut search = InsertBatch::default();
            let present = store_body(tx, message_id, body, &mut search)?;
            search.write(tx)?;
            Ok(present)
        })?;
        if !present {
            self.blobs.remove(message_id); // expunged while it was on the way
        }
        Ok(())
    }

    /// Messages in a folder without a body, newest first.
    pub fn bodies_needed(
        &self,
        folder_id: i64,
        uidvalidity: u32,
        newest: Option<u32>,
        max_size: Option<u64>,
    ) -> Result<Vec<BodyNeeded>> {
        self.read(|conn| {
            // Among the folder's `newest` messages (by date), those without a body: an
            // older message never qualifies because newer mail arrived.
            let mut stmt = conn.prepare_cached(
                "SELECT id, uid, size FROM
                   (SELECT m.id, l.uid, m.size, m.has_body, l.sort_date
                    FROM location l JOIN message m ON m.id = l.message_id
                    WHERE l.folder_id = ?1 AND l.uidvalidity = ?2 AND l.uid IS NOT NULL
                    ORDER BY l.sort_date DESC, l.uid DESC LIMIT ?3)
                 WHERE has_body = 0 AND size <= ?4
                 ORDER BY sort_date DESC, uid DESC",
            )?;
            let newest = newest.map_or(-1, i64::from);
            let max_size = max_size.map_or(i64::MAX, |s| s.min(i64::MAX as u64) as i64);
            let rows = stmt.query_map(params![folder_id, uidvalidity, newest, max_size], |r| {
                Ok(BodyNeeded {
                    message_id: r.get(0)?,
                    uid: r.get(1)?,
                    size: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Messages newest first, filtered by account and/or folder.
    pub fn list_messages(
        &self,
        account_id: Option<i64>,
        folder_id: Option<i64>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<MessageSummary>> {
        self.read(|conn| {
            let sql = match folder_id {
                Some(_) => format!(
                    "{SUMMARY_SELECT} WHERE l.folder_id = ?2
                     ORDER BY l.sort_date DESC, l.id LIMIT ?3 OFFSET ?4"
                ),
                None => format!(
                    "{SUMMARY_SELECT} WHERE (?1 IS NULL OR m.account_id = ?1) AND {ONE_LOCATION}
                     ORDER BY l.sort_date DESC, l.id LIMIT ?3 OFFSET ?4"
                ),
            };
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                params![account_id, folder_id, limit, offset],
                summary_from_row,
            )?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// For each id, in order: (id, seen, the account holds another message with its
    /// Message-ID). Ids gone meanwhile are left out.
    pub fn arrivals(&self, ids: &[i64]) -> Result<Vec<(i64, bool, bool)>> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT m.id, m.seen, m.message_id != '' AND EXISTS (
                     SELECT 1 FROM message o
                     WHERE o.account_id = m.account_id AND o.message_id = m.message_id
                       AND o.id != m.id)
                 FROM message m WHERE m.id = ?1",
            )?;
            let mut out = Vec::with_capacity(ids.len());
            for &id in ids {
                if let Some(row) = statement
                    .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?
                {
                    out.push(row);
                }
            }
            Ok(out)
        })
    }

    pub fn message_summary(&self, id: i64) -> Result<MessageSummary> {
        self.read(|conn| {
            conn.query_row(
                &format!(
                    "{SUMMARY_SELECT} WHERE m.id = ?1 ORDER BY l.uid IS NULL, f.role = 'all', l.id LIMIT 1"
                ),
                [id],
                summary_from_row,
            )
            .optional()?
            .ok_or_else(|| Error::not_found(format!("message {id}")))
        })
    }

    pub fn message(&self, id: i64) -> Result<Message> {
        let summary = self.message_summary(id)?;
        self.read(|conn| {
            let (to, cc, in_reply_to, refs): (String, String, String, String) = conn.query_row(
                "SELECT to_addrs, cc_addrs, in_reply_to, refs FROM message WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            let mut stmt = conn.prepare_cached(
                "SELECT name, mime_type, size FROM attachment WHERE message_id = ?1 ORDER BY position",
            )?;
            let attachments = stmt
                .query_map([id], |r| {
                    Ok(Attachment {
                        name: r.get(0)?,
                        mime_type: r.get(1)?,
                        size: r.get::<_, i64>(2)? as u64,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            // The body is parsed from the stored original when it is opened, with memory
            // bounded whatever its size.
            let body = summary
                .has_body
                .then(|| crate::mime_file::parse_file(&self.blobs.path(id)).ok())
                .flatten()
                .map(|message| message.body)
                .unwrap_or_default();
            Ok(Message {
                to: decode_addresses(&to),
                cc: decode_addresses(&cc),
                in_reply_to: (!in_reply_to.is_empty()).then_some(in_reply_to),
                references: refs.split_whitespace().map(str::to_owned).collect(),
                text: body.text,
                html: body.html,
                attachments,
                summary,
            })
        })
    }

    /// Where to fetch a message from: (account id, folder remote name, UIDVALIDITY, UID).
    pub fn message_server_location(&self, id: i64) -> Result<(i64, String, u32, u32)> {
        self.read(|conn| {
            conn.query_row(
                "SELECT f.account_id, f.remote_name, l.uidvalidity, l.uid
                 FROM location l JOIN folder f ON f.id = l.folder_id
                 WHERE l.message_id = ?1 AND l.uid IS NOT NULL AND l.uidvalidity = f.uidvalidity
                 LIMIT 1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?
            .ok_or_else(|| Error::not_found(format!("a server copy of message {id}")))
        })
    }

    /// The raw message as downloaded, if its body is here.
    /// A message of the account with this Message-ID (the first stored), if any.
    pub fn message_by_message_id(&self, account_id: i64, message_id: &str) -> Result<Option<i64>> {
        if message_id.is_empty() {
            return Ok(None);
        }
        self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT id FROM message WHERE account_id = ?1 AND message_id = ?2
                     ORDER BY id LIMIT 1",
                    params![account_id, message_id],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }

    pub fn raw_message(&self, id: i64) -> Result<Option<Vec<u8>>> {
        Ok(self.blobs.read(id))
    }

    /// Whether a message's body is marked as here but its file is missing (say, after
    /// a power cut): then it must be downloaded again.
    pub fn body_file_missing(&self, id: i64) -> bool {
        !self.blobs.path(id).is_file()
    }
}

pub(super) fn insert_message(
    tx: &Transaction<'_>,
    account_id: i64,
    rec: &HeaderRecord,
    search: &mut InsertBatch,
) -> Result<i64> {
    let date = rec.date.unwrap_or(rec.internal_date);
    let search_key = allocate_search_key(tx, date)?;
    // One writer: the next rowid is known, so the conversation can be chosen (and its
    // keys recorded) before the row is written, in a single INSERT. Asked once per
    // transaction, then counted here.
    let id = match search.next_message_id {
        Some(id) => id,
        None => tx
            .prepare_cached(
                "SELECT max(ifnull((SELECT seq FROM sqlite_sequence WHERE name = 'message'), 0),
                            ifnull((SELECT max(id) FROM message), 0)) + 1",
            )?
            .query_row([], |r| r.get(0))?,
    };
    search.next_message_id = Some(id + 1);
    let thread_id = threading::assign_thread(
        tx,
        account_id,
        id,
        &rec.message_id,
        rec.in_reply_to.as_deref(),
        &rec.references,
        &rec.subject,
    )?;
    tx.prepare_cached(
        "INSERT INTO message (id, account_id, message_id, thread_id, subject, from_name, from_addr,
                              to_addrs, cc_addrs, date, in_reply_to, refs, size, seen, flagged,
                              answered, forwarded, draft, has_attachments, search_key, gm_msgid)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
    )?
    .execute(params![
        id,
        account_id,
        rec.message_id,
        thread_id,
        rec.subject,
        rec.from.name.clone().unwrap_or_default(),
        rec.from.address,
        encode_addresses(&rec.to),
        encode_addresses(&rec.cc),
        date,
        rec.in_reply_to.clone().unwrap_or_default(),
        rec.references.join(" "),
        rec.size,
        rec.flags.seen,
        rec.flags.flagged,
        rec.flags.answered,
        rec.flags.forwarded,
        rec.flags.draft,
        rec.has_attachments,
        search_key,
        rec.gm_msgid.map(|gm| gm as i64),
    ])?;
    let recipients: Vec<Address> = rec.to.iter().chain(&rec.cc).cloned().collect();
    search.add(search_key, &rec.subject, &rec.from, &recipients, "", false);
    Ok(id)
}

/// Records a parsed body whose raw file is already written. Returns false if the
/// message is gone (expunged while its body was on the way).
pub(super) fn store_body(
    tx: &Transaction<'_>,
    message_id: i64,
    body: &ParsedBody,
    search: &mut InsertBatch,
) -> Result<bool> {
    let row: Option<(i64, String, String, String, String, String)> = tx
        .prepare_cached(
            "SELECT search_key, subject, from_name, from_addr, to_addrs, cc_addrs FROM message WHERE id = ?1",
        )?
        .query_row([message_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })
        .optional()?;
    let Some((search_key, subject, from_name, from_addr, to, cc)) = row else {
        return Ok(false);
    };
    tx.prepare_cached("UPDATE message SET has_attachments = ?2, has_body = 1 WHERE id = ?1")?
        .execute(params![message_id, !body.attachments.is_empty()])?;
    tx.prepare_cached("DELETE FROM attachment WHERE message_id = ?1")?
        .execute([message_id])?;
    for (position, att) in body.attachments.iter().enumerate() {
        tx.prepare_cached(
            "INSERT INTO attachment (message_id, position, name, mime_type, size) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![message_id, position as i64, att.name, att.mime_type, att.size as i64])?;
    }
    let from = Address {
        name: (!from_name.is_empty()).then_some(from_name),
        address: from_addr,
    };
    let mut recipients = decode_addresses(&to);
    recipients.extend(decode_addresses(&cc));
    let text = match (&body.text, &body.html) {
        (Some(text), _) => text.clone(),
        (None, Some(html)) => crate::mime::html_to_search_text(html),
        (None, None) => String::new(),
    };
    search.add(search_key, &subject, &from, &recipients, &text, true);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_lists_round_trip() {
        let list = vec![
            Address {
                name: Some("Jörg Müller".into()),
                address: "jm@example.test".into(),
            },
            Address {
                name: None,
                address: "x@example.test".into(),
            },
        ];
        assert_eq!(decode_addresses(&encode_addresses(&list)), list);
        assert!(decode_addresses("").is_empty());
    }
}
