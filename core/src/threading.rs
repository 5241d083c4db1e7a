//! Conversations from Message-ID / In-Reply-To / References, with the subject as a fallback
//! for replies whose client dropped the threading headers.

use rusqlite::{params, Transaction};

use crate::error::Result;

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
    let mut lookup: Vec<String> = std::iter::once(message_id)
        .chain(in_reply_to)
        .chain(references.iter().map(String::as_str))
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect();
    lookup.sort();
    lookup.dedup();
    let is_reply = normalized.len() < subject.trim().len();
    if !has_thread_headers && is_reply && !normalized.is_empty() {
        lookup.push(subject_key(&normalized));
    }

    let mut found: Vec<i64> = Vec::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT thread_id FROM thread_key WHERE account_id = ?1 AND key = ?2",
        )?;
        for key in &lookup {
            if let Ok(thread) = stmt.query_row(params![account_id, key], |r| r.get::<_, i64>(0)) {
                found.push(thread);
            }
        }
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
    // Keys others will look for: this message's id, and the ids it points to (so that
    // replies to a message this device never saw still meet). The subject key only for
    // conversation starters, which headerless replies fall back to.
    let mut insert = tx.prepare_cached(
        "INSERT INTO thread_key (account_id, key, thread_id) VALUES (?1, ?2, ?3)
         ON CONFLICT (account_id, key) DO NOTHING",
    )?;
    let root = references.first().map(String::as_str);
    for key in [Some(message_id), in_reply_to, root].into_iter().flatten() {
        if !key.is_empty() {
            insert.execute(params![account_id, key, thread_id])?;
        }
    }
    if !has_thread_headers && !normalized.is_empty() {
        insert.execute(params![account_id, subject_key(&normalized), thread_id])?;
    }
    Ok(thread_id)
}

#[cfg(test)]
mod tests {
    use super::normalize_subject;

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
}
