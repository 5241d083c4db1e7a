//! The outbox: a message stays here, whole, from the moment the user sends it until the
//! SMTP server took it. The server's 250 is recorded at once, in a write of a few bytes
//! (state `sent`); what follows (the sent copy, the \Answered mark) is one transaction
//! with the row's removal, as is the draft of a refused message.

use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::Store;
use crate::compose::Composed;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{OutboxMessage, OutboxState};

/// An outbox row with what sending it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub id: i64,
    pub account_id: i64,
    pub raw: Vec<u8>,
    pub mail_from: String,
    pub recipients: Vec<String>,
    pub bcc_header: String,
    pub origin_message: Option<i64>,
    pub origin_flags: u8,
    pub attempts: u32,
}

fn outgoing_from_row(row: &Row<'_>) -> rusqlite::Result<Outgoing> {
    let recipients: String = row.get(4)?;
    Ok(Outgoing {
        id: row.get(0)?,
        account_id: row.get(1)?,
        raw: row.get(2)?,
        mail_from: row.get(3)?,
        recipients: serde_json::from_str(&recipients).unwrap_or_default(),
        bcc_header: row.get(5)?,
        origin_message: row.get(6)?,
        origin_flags: row.get(7)?,
        attempts: row.get(8)?,
    })
}

impl Outgoing {
    /// The sender's own copy: the transmitted message plus its Bcc line.
    pub fn own_copy(&self) -> Vec<u8> {
        let mut raw = Vec::with_capacity(self.bcc_header.len() + self.raw.len());
        raw.extend_from_slice(self.bcc_header.as_bytes());
        raw.extend_from_slice(&self.raw);
        raw
    }
}

const OUTGOING_COLUMNS: &str = "o.id, o.account_id, b.raw, o.mail_from, o.recipients,
    o.bcc_header, o.origin_message, o.origin_flags, o.attempts
    FROM outbox o JOIN outbox_body b ON b.outbox_id = o.id";

/// A message the server took leaves the outbox. False if it was not (or no longer) in
/// state `sent`: then its follow-ups were done already, by another pass.
pub fn remove_sent(tx: &Transaction<'_>, id: i64) -> Result<bool> {
    Ok(tx.execute("DELETE FROM outbox WHERE id = ?1 AND state = 'sent'", [id])? == 1)
}

/// The server will not take the message: it stays in the outbox as `failed`, with the
/// draft it was kept as.
pub fn set_refused(tx: &Transaction<'_>, id: i64, error: &str, draft: Option<i64>) -> Result<()> {
    tx.execute(
        "UPDATE outbox SET state = 'failed', last_error = ?2, draft_id = ?3 WHERE id = ?1",
        params![id, error, draft],
    )?;
    Ok(())
}

/// Whether a message still has a location here (it may have been deleted meanwhile).
pub fn message_exists(tx: &Transaction<'_>, message_id: i64) -> Result<bool> {
    Ok(tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM location WHERE message_id = ?1)",
        [message_id],
        |r| r.get(0),
    )?)
}

impl Store {
    /// Puts a composed message into the outbox. `origin` is the message replied to or
    /// forwarded and the flag it gets once this one is sent.
    pub fn queue_outgoing(
        &self,
        account_id: i64,
        composed: &Composed,
        origin: Option<(i64, u8)>,
    ) -> Result<i64> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO outbox (account_id, message_id_header, subject, mail_from,
                                     recipients, bcc_header, origin_message, origin_flags)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    account_id,
                    composed.message_id,
                    composed.subject,
                    composed.mail_from,
                    serde_json::to_string(&composed.recipients).unwrap_or_default(),
                    composed.bcc_header,
                    origin.map(|o| o.0),
                    origin.map(|o| o.1).unwrap_or(0),
                ],
            )?;
            let id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO outbox_body (outbox_id, raw) VALUES (?1, ?2)",
                params![id, composed.raw],
            )?;
            Ok(id)
        })
    }

    /// The outbox, oldest first.
    pub fn outbox(&self, account_id: Option<i64>) -> Result<Vec<OutboxMessage>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT o.id, a.name, o.message_id_header, o.subject, o.recipients, o.state,
                        o.attempts, o.last_error, o.draft_id, o.created_at
                 FROM outbox o JOIN account a ON a.id = o.account_id
                 WHERE ?1 IS NULL OR o.account_id = ?1 ORDER BY o.id",
            )?;
            let rows = stmt.query_map([account_id], |r| {
                let recipients: String = r.get(4)?;
                let state: String = r.get(5)?;
                // A `sent` message is not done until its Sent copy is filed.
                let state = match state.as_str() {
                    "sent" => OutboxState::Sending,
                    // The CHECK constraint keeps the state valid.
                    other => OutboxState::parse(other).unwrap_or(OutboxState::Queued),
                };
                Ok(OutboxMessage {
                    id: r.get(0)?,
                    account: r.get(1)?,
                    message_id: r.get(2)?,
                    subject: r.get(3)?,
                    recipients: serde_json::from_str(&recipients).unwrap_or_default(),
                    state,
                    attempts: r.get(6)?,
                    last_error: r.get(7)?,
                    draft_id: r.get(8)?,
                    created: r.get(9)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Messages of an account due for an attempt at `now` (`force` ignores the
    /// backoff). A row still marked `sending` was interrupted: it is due again.
    pub fn due_outgoing(&self, account_id: i64, now: i64, force: bool) -> Result<Vec<i64>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id FROM outbox WHERE account_id = ?1 AND state IN ('queued', 'sending')
                   AND (?3 OR next_attempt <= ?2) ORDER BY id",
            )?;
            let rows = stmt.query_map(params![account_id, now, force], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<i64>>>()?)
        })
    }

    /// Messages of an account the server took whose follow-ups are still to be done (a
    /// pass stopped between the 250 and them), oldest first.
    pub fn accepted_outgoing(&self, account_id: i64) -> Result<Vec<Outgoing>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {OUTGOING_COLUMNS} WHERE o.account_id = ?1 AND o.state = 'sent'
                 ORDER BY o.id"
            ))?;
            let rows = stmt.query_map([account_id], outgoing_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// When the account's next outbox pass is due, if anything waits (a `sent` message's
    /// follow-ups are due at once).
    pub fn next_outgoing_due(&self, account_id: i64) -> Result<Option<i64>> {
        self.read(|conn| {
            Ok(conn.query_row(
                "SELECT min(CASE state WHEN 'sent' THEN 0 ELSE next_attempt END) FROM outbox
                 WHERE account_id = ?1 AND state IN ('queued', 'sending', 'sent')",
                [account_id],
                |r| r.get(0),
            )?)
        })
    }

    /// Marks a message as being sent and returns it, unless it is gone or failed.
    pub fn begin_sending(&self, id: i64) -> Result<Option<Outgoing>> {
        self.write(|tx| {
            let row = tx
                .query_row(
                    &format!(
                        "SELECT {OUTGOING_COLUMNS}
                         WHERE o.id = ?1 AND o.state IN ('queued', 'sending')"
                    ),
                    [id],
                    outgoing_from_row,
                )
                .optional()?;
            if row.is_some() {
                tx.execute(
                    "UPDATE outbox SET state = 'sending', attempts = attempts + 1 WHERE id = ?1",
                    [id],
                )?;
            }
            Ok(row)
        })
    }

    /// The server answered the message's end with 250: from now on the message is never
    /// sent again. One statement of a few bytes, committed at once and synced to disk
    /// (the store's usual commit survives a crash of the process, not a power cut).
    pub fn outgoing_accepted(&self, id: i64) -> Result<()> {
        let conn = self
            .writer
            .lock()
            .map_err(|_| Error::new(ErrorKind::Storage, "database writer lock poisoned"))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let updated = conn.execute(
            "UPDATE outbox SET state = 'sent', last_error = '' WHERE id = ?1",
            [id],
        );
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        updated?;
        Ok(())
    }

    /// The attempt did not get through: try again at `next_attempt`.
    pub fn outgoing_retry_later(&self, id: i64, error: &str, next_attempt: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE outbox SET state = 'queued', last_error = ?2, next_attempt = ?3
                 WHERE id = ?1 AND state = 'sending'",
                params![id, error, next_attempt],
            )?;
            Ok(())
        })
    }

    /// Removes a message from the outbox (a failed one, or one the user takes back
    /// before it went out). Its draft, if any, stays.
    pub fn remove_outgoing(&self, id: i64) -> Result<()> {
        self.write(|tx| {
            let state: Option<String> = tx
                .query_row("SELECT state FROM outbox WHERE id = ?1", [id], |r| r.get(0))
                .optional()?;
            match state.as_deref() {
                None => Err(Error::not_found(format!("outbox message {id}"))),
                Some("sending") => Err(Error::invalid(format!(
                    "outbox message {id} is being sent right now"
                ))),
                Some("sent") => Err(Error::invalid(format!(
                    "outbox message {id} was sent; its copy in Sent is being filed"
                ))),
                Some(_) => {
                    tx.execute("DELETE FROM outbox WHERE id = ?1", [id])?;
                    Ok(())
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccountConfig, Protocol, Security, ServerConfig};

    fn store() -> (tempfile::TempDir, Store, i64) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
        let server = ServerConfig {
            host: "127.0.0.1".into(),
            port: 1,
            security: Security::Tls,
            username: "a".into(),
            ca_file: None,
        };
        let account = store
            .insert_account(
                &AccountConfig {
                    pop3_delete: Default::default(),
                    display_name: String::new(),
                    smtp: Some(server.clone()),
                    name: "a".into(),
                    email: "a@example.test".into(),
                    protocol: Protocol::Imap,
                    server,
                },
                &[],
            )
            .unwrap();
        (dir, store, account.id)
    }

    fn composed(size: usize) -> Composed {
        let mut raw = b"Subject: s\r\n\r\n".to_vec();
        raw.resize(size, b'x');
        Composed {
            raw,
            message_id: "m@example.test".into(),
            subject: "s".into(),
            mail_from: "a@example.test".into(),
            recipients: vec!["b@example.test".into()],
            bcc_header: String::new(),
        }
    }

    #[test]
    fn the_servers_250_is_recorded_in_a_few_bytes_whatever_the_message_size() {
        let (dir, store, account) = store();
        let size = 4 << 20;
        let id = store
            .queue_outgoing(account, &composed(size), None)
            .unwrap();
        assert_eq!(store.begin_sending(id).unwrap().unwrap().raw.len(), size);
        let db = dir.path().join("db.sqlite3");
        let wal = dir.path().join("db.sqlite3-wal");
        rusqlite::Connection::open(&db)
            .unwrap()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
        let started = std::time::Instant::now();
        store.outgoing_accepted(id).unwrap();
        let took = started.elapsed();
        let written = std::fs::metadata(&wal).unwrap().len();
        println!("recording the 250 of a {size}-byte message wrote {written} bytes in {took:?}");
        assert!(
            written < 64 * 1024,
            "recording the 250 of a {size}-byte message wrote {written} bytes"
        );
    }

    #[test]
    fn a_message_the_server_took_is_never_due_again_and_waits_only_for_its_follow_ups() {
        let (_dir, store, account) = store();
        let id = store.queue_outgoing(account, &composed(100), None).unwrap();
        let far = i64::MAX / 2;
        assert_eq!(store.due_outgoing(account, 0, false).unwrap(), [id]);
        store.begin_sending(id).unwrap().unwrap();
        store.outgoing_accepted(id).unwrap();
        // A failure reported late changes nothing.
        store.outgoing_retry_later(id, "late", far).unwrap();
        assert!(store.due_outgoing(account, far, true).unwrap().is_empty());
        assert!(store.begin_sending(id).unwrap().is_none());
        assert_eq!(store.next_outgoing_due(account).unwrap(), Some(0));
        let accepted = store.accepted_outgoing(account).unwrap();
        assert_eq!(accepted.len(), 1);
        assert_eq!((accepted[0].id, accepted[0].raw.len()), (id, 100));
        let listed = store.outbox(Some(account)).unwrap();
        assert_eq!(listed[0].state, OutboxState::Sending);
        assert_eq!(
            store.remove_outgoing(id).unwrap_err().kind,
            crate::error::ErrorKind::InvalidInput
        );
        // The follow-ups take it out once, whoever comes first.
        assert!(store.write(|tx| remove_sent(tx, id)).unwrap());
        assert!(!store.write(|tx| remove_sent(tx, id)).unwrap());
        assert!(store.outbox(Some(account)).unwrap().is_empty());
        let bodies: i64 = store
            .read(|conn| Ok(conn.query_row("SELECT count(*) FROM outbox_body", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(bodies, 0, "the body goes with its row");
    }
}
