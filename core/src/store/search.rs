use std::collections::HashMap;

use rusqlite::{params, Transaction};

use super::rows::{summary_from_row, SUMMARY_SELECT};
use super::Store;
use crate::error::Result;
use crate::model::{Address, MessageSummary};

/// Turns what a person typed into an FTS5 query: every word must match; with `prefix`
/// the last one may be the start of a word (search as you type). Quotes keep FTS5
/// operators in the input from being parsed.
pub fn fts_query(input: &str, prefix: bool) -> Option<String> {
    let words: Vec<String> = input
        .split(|c: char| !c.is_alphanumeric() && c != '@' && c != '.' && c != '-' && c != '_')
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{}\"", w.replace('"', "")))
        .collect();
    let last = words.len().checked_sub(1)?;
    Some(
        words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if i == last && prefix {
                    format!("{w}*")
                } else {
                    w.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    )
}

impl Store {
    /// Full-text search over subject, sender, recipients and body; newest first.
    pub fn search(
        &self,
        account_id: Option<i64>,
        query: &str,
        limit: u32,
    ) -> Result<Vec<MessageSummary>> {
        // Whole words first: one doclist, walked newest first, stops at `limit`. Only
        // when that finds too few does the last word count as a prefix, which makes
        // FTS5 merge the doclists of every word that starts so.
        let Some(exact) = fts_query(query, false) else {
            return Ok(Vec::new());
        };
        let mut found = self.search_fts(account_id, &exact, limit)?;
        if found.len() < limit as usize {
            let prefixed = fts_query(query, true).unwrap_or(exact);
            let more = self.search_fts(account_id, &prefixed, limit)?;
            let mut seen: std::collections::HashSet<i64> = found.iter().map(|m| m.id).collect();
            found.extend(more.into_iter().filter(|m| seen.insert(m.id)));
            found.sort_by(|a, b| b.date.cmp(&a.date).then(b.id.cmp(&a.id)));
            found.truncate(limit as usize);
        }
        Ok(found)
    }

    fn search_fts(
        &self,
        account_id: Option<i64>,
        fts: &str,
        limit: u32,
    ) -> Result<Vec<MessageSummary>> {
        self.read(|conn| {
            // The index's rowid sorts by date, so FTS5 walks it newest first and stops early.
            let sql = match account_id {
                None => format!(
                    "{SUMMARY_SELECT} WHERE m.search_key IN
                       (SELECT rowid FROM message_fts WHERE message_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?3)
                     AND ?2 IS NULL ORDER BY m.search_key DESC"
                ),
                Some(_) => format!(
                    "{SUMMARY_SELECT} JOIN message_fts ON message_fts.rowid = m.search_key
                     WHERE message_fts MATCH ?1 AND m.account_id = ?2
                     ORDER BY m.search_key DESC LIMIT ?3"
                ),
            };
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![fts, account_id, limit], summary_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn whole_word_queries_have_no_prefix() {
        assert_eq!(
            fts_query("quarterly rep", false).as_deref(),
            Some("\"quarterly\" \"rep\"")
        );
        assert_eq!(fts_query("", false), None);
    }

    #[test]
    fn queries_are_quoted_and_the_last_word_is_a_prefix() {
        let cases: &[(&str, Option<&str>)] = &[
            ("", None),
            ("  ", None),
            ("invoice", Some("\"invoice\"*")),
            ("quarterly rep", Some("\"quarterly\" \"rep\"*")),
            ("NOT OR", Some("\"NOT\" \"OR\"*")),
            ("a\"b", Some("\"a\" \"b\"*")),
            ("anna@example.com", Some("\"anna@example.com\"*")),
            ("Müller café", Some("\"Müller\" \"café\"*")),
        ];
        for (input, expected) in cases {
            assert_eq!(
                fts_query(input, true).as_deref(),
                *expected,
                "input {input:?}"
            );
        }
    }
}

/// A rowid for the full-text index that sorts by date, so "newest first" is the index order.
pub(super) fn allocate_search_key(tx: &Transaction<'_>, date: i64) -> Result<i64> {
    let base = date.clamp(0, 1 << 40) << 12;
    let highest: Option<i64> = tx
        .prepare_cached("SELECT max(search_key) FROM message WHERE search_key BETWEEN ?1 AND ?2")?
        .query_row(params![base, base + 4095], |r| r.get(0))?;
    let candidate = highest.map_or(base, |h| h + 1);
    if candidate <= base + 4095 {
        return Ok(candidate);
    }
    // More than 4096 messages in one second: take the next free key above.
    let top: i64 = tx
        .prepare_cached(
            "SELECT ifnull(max(search_key), 0) + 1 FROM message WHERE search_key >= ?1",
        )?
        .query_row([base], |r| r.get(0))?;
    Ok(top)
}

/// What the inserts of one transaction share: the search-index rows, written together
/// at its end (FTS5 flushes its buffer at every statement savepoint; written one by one
/// between other statements, each message would cost a flush and a segment merge), and
/// the next message id.
#[derive(Default)]
pub(crate) struct InsertBatch {
    rows: HashMap<i64, SearchRow>,
    pub(super) next_message_id: Option<i64>,
}

struct SearchRow {
    text: [String; 4],
    /// The index already has a row for this key, to be replaced.
    replaces: bool,
}

impl InsertBatch {
    pub(super) fn add(
        &mut self,
        search_key: i64,
        subject: &str,
        from: &Address,
        recipients: &[Address],
        body: &str,
        replaces: bool,
    ) {
        let recipients = recipients
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        // A row added earlier in this batch is not in the index yet.
        let replaces = match self.rows.get(&search_key) {
            Some(earlier) => earlier.replaces,
            None => replaces,
        };
        self.rows.insert(
            search_key,
            SearchRow {
                text: [
                    subject.to_owned(),
                    from.to_string(),
                    recipients,
                    body.to_owned(),
                ],
                replaces,
            },
        );
    }

    pub(super) fn write(self, tx: &Transaction<'_>) -> Result<()> {
        let mut delete = tx.prepare_cached("DELETE FROM message_fts WHERE rowid = ?1")?;
        for (key, row) in &self.rows {
            if row.replaces {
                delete.execute([key])?;
            }
        }
        let mut insert = tx.prepare_cached(
            "INSERT INTO message_fts (rowid, subject, sender, recipients, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut keys: Vec<&i64> = self.rows.keys().collect();
        keys.sort_unstable();
        for key in keys {
            let [subject, sender, recipients, body] = &self.rows[key].text;
            insert.execute(params![key, subject, sender, recipients, body])?;
        }
        Ok(())
    }
}
