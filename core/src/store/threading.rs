//! Conversations from Message-ID / In-Reply-To / References, with the subject as a fallback
//! for replies whose client dropped the threading headers.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension, Transaction};

use super::rows::{summary_from_row, ONE_LOCATION, SUMMARY_SELECT};
use super::Store;
use crate::error::Result;
use crate::model::{MessageSummary, ThreadSummary};

/// Strips reply and forward prefixes ("Re:", "AW:", "Fwd:", "[list]" tags) and folds case,
/// so "Re: Fwd: Budget" and "budget" name the same conversation.
pub fn normalize_subject(subject: &str) -> String {
    const PREFIXES: &[&str] = &["re", "fw", "fwd", "aw", "sv", "vs", "wg", "tr", "rv", "ref"];
    let mut rest = subject.trim();
    loop {
        let before = rest;
        if let Some(stripped) = rest.strip_prefix('[') {
            if let Some(end) = stripped.find(']') {
                rest = stripped[end + 1..].trim_start();
            }
        }
        if let Some(colon) = rest.find(':') {
            let head = rest[..colon].trim();
            // "Re", "RE[2]", "Re(3)"
            let word = head
                .split(['[', '('])
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            if PREFIXES.contains(&word.as_str()) {
                rest = rest[colon + 1..].trim_start();
            }
        }
        if rest == before {
            break;
        }
    }
    rest.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn subject_key(normalized: &str) -> String {
    format!("s:{normalized}")
}

/// Picks (and records) the conversation of a newly inserted message.
pub(crate) fn assign_thread(
    tx: &Transaction<'_>,
    account_id: i64,
    row_id: i64,
    message_id: &str,
    in_reply_to: Option<&str>,
    references: &[String],
    subject: &str,
) -> Result<i64> {
    let normalized = normalize_subject(subject);
    let has_thread_headers = in_reply_to.is_some() || !references.is_empty();
    let mut parents: Vec<&str> = in_reply_to
        .into_iter()
        .chain(references.iter().map(String::as_str))
        .filter(|k| !k.is_empty() && *k != message_id)
        .collect();
    parents.sort_unstable();
    parents.dedup();

    let mut by_message = tx.prepare_cached(
        "SELECT thread_id FROM message WHERE account_id = ?1 AND message_id = ?2 LIMIT 1",
    )?;
    let mut by_key =
        tx.prepare_cached("SELECT thread_id FROM thread_key WHERE account_id = ?1 AND key = ?2")?;
    let mut found: Vec<i64> = Vec::new();
    // Parents that are not here: their ids are remembered, so that they (and other
    // replies to them) meet this conversation when they arrive.
    let mut missing: Vec<&str> = Vec::new();
    for parent in &parents {
        match by_message
            .query_row(params![account_id, parent], |r| r.get::<_, i64>(0))
            .optional()?
        {
            Some(thread) => found.push(thread),
            None => {
                missing.push(parent);
                found.extend(
                    by_key
                        .query_row(params![account_id, parent], |r| r.get::<_, i64>(0))
                        .optional()?,
                );
            }
        }
    }
    // Replies that arrived before this message registered its id.
    found.extend(
        by_key
            .query_row(params![account_id, message_id], |r| r.get::<_, i64>(0))
            .optional()?,
    );
    let is_reply = normalized.len() < subject.trim().len();
    if !has_thread_headers && is_reply && !normalized.is_empty() {
        found.extend(
            by_key
                .query_row(params![account_id, subject_key(&normalized)], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()?,
        );
    }
    found.sort_unstable();
    found.dedup();
    let thread_id = found.first().copied().unwrap_or(row_id);
    for other in found.iter().skip(1) {
        // This message links two conversations: merge them.
        tx.prepare_cached(
            "UPDATE message SET thread_id = ?3 WHERE account_id = ?1 AND thread_id = ?2",
        )?
        .execute(params![account_id, other, thread_id])?;
        tx.prepare_cached(
            "UPDATE thread_key SET thread_id = ?3 WHERE account_id = ?1 AND thread_id = ?2",
        )?
        .execute(params![account_id, other, thread_id])?;
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO thread_key (account_id, key, thread_id) VALUES (?1, ?2, ?3)
         ON CONFLICT (account_id, key) DO NOTHING",
    )?;
    for key in missing {
        insert.execute(params![account_id, key, thread_id])?;
    }
    // Conversation starters, for replies that lost their threading headers.
    if !has_thread_headers && !normalized.is_empty() {
        insert.execute(params![account_id, subject_key(&normalized), thread_id])?;
    }
    Ok(thread_id)
}

impl Store {
    /// The newest conversations in a folder, each with its newest message there. Walks
    /// the folder newest first and stops after `limit` distinct conversations.
    pub fn threads(&self, folder_id: i64, limit: u32) -> Result<Vec<ThreadSummary>> {
        let newest: Vec<(i64, i64)> = self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT m.thread_id, m.id FROM location l JOIN message m ON m.id = l.message_id
                 WHERE l.folder_id = ?1 ORDER BY l.sort_date DESC, l.id",
            )?;
            let mut rows = stmt.query([folder_id])?;
            let mut seen = std::collections::HashSet::new();
            let mut newest = Vec::new();
            while let Some(row) = rows.next()? {
                let thread: i64 = row.get(0)?;
                if seen.insert(thread) {
                    newest.push((thread, row.get(1)?));
                    if newest.len() >= limit as usize {
                        break;
                    }
                }
            }
            Ok(newest)
        })?;
        if newest.is_empty() {
            return Ok(Vec::new());
        }
        // Two queries for all of them; the ids are integers from the database.
        let join = |ids: &mut dyn Iterator<Item = i64>| {
            ids.map(|id| id.to_string()).collect::<Vec<_>>().join(",")
        };
        let thread_ids = join(&mut newest.iter().map(|(t, _)| *t));
        let message_ids = join(&mut newest.iter().map(|(_, m)| *m));
        self.read(|conn| {
            let mut counts: HashMap<i64, (u32, u32)> = HashMap::new();
            let mut stmt = conn.prepare(&format!(
                "SELECT thread_id, count(*), ifnull(sum(seen = 0), 0) FROM message
                 WHERE thread_id IN ({thread_ids}) GROUP BY thread_id"
            ))?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?;
            for row in rows {
                let (thread, count) = row?;
                counts.insert(thread, count);
            }
            let mut stmt = conn.prepare(&format!(
                // `+` keeps SQLite from scanning the folder's index instead of the ids.
                "{SUMMARY_SELECT} WHERE l.message_id IN ({message_ids}) AND +l.folder_id = ?1"
            ))?;
            let mut summaries: HashMap<i64, MessageSummary> = stmt
                .query_map([folder_id], summary_from_row)?
                .map(|r| r.map(|m| (m.id, m)))
                .collect::<rusqlite::Result<_>>()?;
            Ok(newest
                .iter()
                .filter_map(|(thread_id, message_id)| {
                    let (count, unread) = counts.get(thread_id).copied().unwrap_or((1, 0));
                    Some(ThreadSummary {
                        thread_id: *thread_id,
                        newest: summaries.remove(message_id)?,
                        count,
                        unread,
                    })
                })
                .collect())
        })
    }

    /// Messages of one conversation, oldest first.
    pub fn thread_messages(&self, thread_id: i64) -> Result<Vec<MessageSummary>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "{SUMMARY_SELECT} WHERE m.thread_id = ?1 AND {ONE_LOCATION} ORDER BY m.date, m.id"
            ))?;
            let rows = stmt.query_map([thread_id], summary_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn reply_and_forward_prefixes_are_stripped() {
        let cases = [
            ("Budget", "budget"),
            ("Re: Budget", "budget"),
            ("RE: re: Budget", "budget"),
            ("Fwd: Re: Budget", "budget"),
            ("AW: WG: Budget", "budget"),
            ("Re[2]: Budget", "budget"),
            ("[dev] Re: Budget", "budget"),
            ("  Re:   Quarterly   report ", "quarterly report"),
            ("Reply: not a prefix", "reply: not a prefix"),
            ("Meeting: agenda", "meeting: agenda"),
            ("", ""),
            ("Re:", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_subject(input), expected, "input {input:?}");
        }
    }

    fn insert(
        tx: &Transaction<'_>,
        id: i64,
        mid: &str,
        irt: Option<&str>,
        refs: &[&str],
        subject: &str,
    ) -> i64 {
        let refs: Vec<String> = refs.iter().map(|r| r.to_string()).collect();
        let thread = assign_thread(tx, 1, id, mid, irt, &refs, subject).unwrap();
        tx.execute(
            "INSERT INTO message (id, account_id, message_id, thread_id, subject, search_key) VALUES (?1, 1, ?2, ?3, ?4, ?1)",
            params![id, mid, thread, subject],
        )
        .unwrap();
        thread
    }

    #[test]
    fn conversations_form_in_any_arrival_order() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate_for_tests(&mut conn);
        conn.execute(
            "INSERT INTO account (id, name, email, protocol, host, port, security, username)
             VALUES (1, 'a', 'a@x', 'imap', 'h', 1, 'tls', 'u')",
            [],
        )
        .unwrap();
        let tx = conn.transaction().unwrap();
        // Parent first, then its reply.
        let a = insert(&tx, 1, "a@t", None, &[], "Plans");
        assert_eq!(insert(&tx, 2, "b@t", Some("a@t"), &["a@t"], "Re: Plans"), a);
        // Replies first: two siblings of a missing parent meet, then the parent joins.
        let c = insert(&tx, 3, "c@t", Some("p@t"), &["p@t"], "Re: Trip");
        assert_eq!(insert(&tx, 4, "d@t", Some("p@t"), &["p@t"], "Re: Trip"), c);
        assert_eq!(insert(&tx, 5, "p@t", None, &[], "Trip"), c);
        // A reply without threading headers joins by subject.
        assert_eq!(insert(&tx, 6, "e@t", None, &[], "Re: Plans"), a);
        // Unrelated mail starts its own conversation.
        assert_eq!(insert(&tx, 7, "f@t", None, &[], "Invoice"), 7);
        // A message referring to both conversations merges them.
        let merged = insert(&tx, 8, "g@t", Some("b@t"), &["a@t", "d@t"], "Re: Both");
        assert_eq!(merged, a.min(c));
        let distinct: i64 = tx
            .query_row(
                "SELECT count(DISTINCT thread_id) FROM message WHERE id IN (1, 2, 3, 4, 5, 6, 8)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(distinct, 1);
    }
}
