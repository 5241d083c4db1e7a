use std::collections::HashMap;

use rusqlite::{params, Transaction};

use super::rows::{summary_from_row, ONE_LOCATION, SUMMARY_SELECT};
use super::Store;
use crate::error::Result;
use crate::model::{Address, MessageSummary};

/// The words of what a person typed, quoted so that FTS5 operators in the input stay words.
fn fts_words(input: &str) -> Vec<String> {
    input
        .split(|c: char| !c.is_alphanumeric() && c != '@' && c != '.' && c != '-' && c != '_')
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{}\"", w.replace('"', "")))
        .collect()
}

/// Turns what a person typed into an FTS5 query of whole words, every one of which must
/// match.
pub fn fts_query(input: &str) -> Option<String> {
    let words = fts_words(input);
    (!words.is_empty()).then(|| words.join(" "))
}

/// Search as you type: the last word as the start of a word in the headers, the words
/// before it whole, anywhere.
#[derive(Debug, PartialEq, Eq)]
pub struct WordStartQuery {
    /// For `header_fts`.
    pub start: String,
    /// For `message_fts`, if there are words before the last.
    pub before: Option<String>,
}

pub fn word_start_query(input: &str) -> Option<WordStartQuery> {
    let mut words = fts_words(input);
    let start = format!("{}*", words.pop()?);
    Some(WordStartQuery {
        start,
        before: (!words.is_empty()).then(|| words.join(" ")),
    })
}

impl Store {
    /// Full-text search, newest first: whole words in subject, sender, recipients and
    /// body; the last word also as the start of a word in subject, sender and recipients.
    pub fn search(
        &self,
        account_id: Option<i64>,
        query: &str,
        limit: u32,
    ) -> Result<Vec<MessageSummary>> {
        // Whole words first: one posting list per word, walked newest first, stops at
        // `limit`. The start of a word in the whole index would make FTS5 merge the lists
        // of every word that starts so; the header index has the starts of words (1 to
        // 4 characters) as lists of their own, so it too is walked newest first.
        let Some(exact) = fts_query(query) else {
            return Ok(Vec::new());
        };
        let mut found = self.search_index(account_id, "message_fts", &exact, None, limit)?;
        if found.len() < limit as usize {
            if let Some(q) = word_start_query(query) {
                let more = self.search_index(
                    account_id,
                    "header_fts",
                    &q.start,
                    q.before.as_deref(),
                    limit,
                )?;
                let mut seen: std::collections::HashSet<i64> = found.iter().map(|m| m.id).collect();
                found.extend(more.into_iter().filter(|m| seen.insert(m.id)));
                found.sort_by(|a, b| b.date.cmp(&a.date).then(b.id.cmp(&a.id)));
                found.truncate(limit as usize);
            }
        }
        Ok(found)
    }

    /// Matches of `fts` in `table` (and of `anywhere` in the whole index), newest first.
    fn search_index(
        &self,
        account_id: Option<i64>,
        table: &str,
        fts: &str,
        anywhere: Option<&str>,
        limit: u32,
    ) -> Result<Vec<MessageSummary>> {
        self.read(|conn| {
            let also = match anywhere {
                Some(_) => format!(
                    "AND {table}.rowid IN (SELECT rowid FROM message_fts WHERE message_fts MATCH ?4)"
                ),
                None => String::new(),
            };
            // The index's rowid sorts by date, so FTS5 walks it newest first and stops early.
            let sql = match account_id {
                None => format!(
                    "{SUMMARY_SELECT} WHERE m.search_key IN
                       (SELECT rowid FROM {table} WHERE {table} MATCH ?1 {also}
                        ORDER BY rowid DESC LIMIT ?3)
                     AND ?2 IS NULL AND {ONE_LOCATION} ORDER BY m.search_key DESC"
                ),
                Some(_) => format!(
                    "{SUMMARY_SELECT} JOIN {table} ON {table}.rowid = m.search_key
                     WHERE {table} MATCH ?1 {also} AND m.account_id = ?2 AND {ONE_LOCATION}
                     ORDER BY m.search_key DESC LIMIT ?3"
                ),
            };
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut args: Vec<&dyn rusqlite::ToSql> = vec![&fts, &account_id, &limit];
            if let Some(words) = &anywhere {
                args.push(words);
            }
            let rows = stmt.query_map(&*args, summary_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{fts_query, word_start_query, WordStartQuery};

    #[test]
    fn word_starts_split_the_last_word_from_those_before() {
        // (typed, the start for the header index, the words before it)
        type Case<'a> = (&'a str, Option<(&'a str, Option<&'a str>)>);
        let cases: &[Case] = &[
            ("", None),
            (" , ", None),
            ("f", Some(("\"f\"*", None))),
            ("quarterly rep", Some(("\"rep\"*", Some("\"quarterly\"")))),
            (
                "anna quarterly r",
                Some(("\"r\"*", Some("\"anna\" \"quarterly\""))),
            ),
            ("\"NOT\" OR*", Some(("\"OR\"*", Some("\"NOT\"")))),
        ];
        for (input, expected) in cases {
            let expected = expected.map(|(start, before)| WordStartQuery {
                start: start.to_owned(),
                before: before.map(str::to_owned),
            });
            assert_eq!(word_start_query(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn whole_words_are_quoted() {
        let cases: &[(&str, Option<&str>)] = &[
            ("", None),
            ("  ", None),
            ("invoice", Some("\"invoice\"")),
            ("quarterly rep", Some("\"quarterly\" \"rep\"")),
            ("NOT OR", Some("\"NOT\" \"OR\"")),
            ("a\"b", Some("\"a\" \"b\"")),
            ("anna@example.com", Some("\"anna@example.com\"")),
            ("Müller café", Some("\"Müller\" \"café\"")),
        ];
        for (input, expected) in cases {
            assert_eq!(fts_query(input).as_deref(), *expected, "input {input:?}");
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
        // A replaced row only gains its body: the headers, and so their index, stay.
        let mut insert_headers = tx.prepare_cached(
            "INSERT INTO header_fts (rowid, subject, sender, recipients) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut keys: Vec<&i64> = self.rows.keys().collect();
        keys.sort_unstable();
        for key in keys {
            let row = &self.rows[key];
            let [subject, sender, recipients, body] = &row.text;
            insert.execute(params![key, subject, sender, recipients, body])?;
            if !row.replaces {
                insert_headers.execute(params![key, subject, sender, recipients])?;
            }
        }
        Ok(())
    }
}
