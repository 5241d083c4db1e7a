use rusqlite::params;

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
        let ids = self.read(|conn| {
            // The index's rowid sorts by date, so FTS5 walks it newest first and stops early.
            let mut stmt = conn.prepare_cached(
                "SELECT m.id FROM message_fts JOIN message m ON m.search_key = message_fts.rowid
                 WHERE message_fts MATCH ?1 AND (?2 IS NULL OR m.account_id = ?2)
                 ORDER BY message_fts.rowid DESC LIMIT ?3",
            )?;
            let ids = stmt
                .query_map(params![fts, account_id, limit], |r| r.get::<_, i64>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(ids)
        })?;
        ids.into_iter().map(|id| self.message_summary(id)).collect()
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
