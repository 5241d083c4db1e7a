use rusqlite::params;

use super::messages::{summary_from_row, SUMMARY_SELECT};
use super::Store;
use crate::error::Result;
use crate::model::MessageSummary;

/// Turns what a person typed into an FTS5 query: every word must match, the last one as a
/// prefix (search as you type). Quotes keep FTS5 operators in the input from being parsed.
pub fn fts_query(input: &str) -> Option<String> {
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
                if i == last {
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
        let Some(fts) = fts_query(query) else {
            return Ok(Vec::new());
        };
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
            assert_eq!(fts_query(input).as_deref(), *expected, "input {input:?}");
        }
    }
}
