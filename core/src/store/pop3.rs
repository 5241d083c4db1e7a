//! What a POP3 account keeps: the messages it downloaded (by UIDL, or by header key where
//! the server gives no usable UIDL), those the server would not give, and its local
//! folders.

use std::collections::HashMap;

use rusqlite::params;

use super::blobs::IncomingBlob;
use super::messages::{insert_message, store_body};
use super::search::InsertBatch;
use super::Store;
use crate::error::Result;
use crate::mail::HeaderRecord;
use crate::mime_file::FileMessage;
use crate::model::{Flags, FolderRole};

/// A message this device downloaded: its local copy (None once deleted here) and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pop3Download {
    pub message_id: Option<i64>,
    pub downloaded_at: i64,
    /// This device deleted it from the server.
    pub deleted_there: bool,
}

impl Store {
    /// The local folders of a POP3 account (the server has only the Inbox).
    pub fn create_local_folders(&self, account_id: i64) -> Result<()> {
        self.write(|tx| {
            for (name, role) in [
                ("INBOX", FolderRole::Inbox),
                ("Drafts", FolderRole::Drafts),
                ("Sent", FolderRole::Sent),
                ("Archive", FolderRole::Archive),
                ("Trash", FolderRole::Trash),
            ] {
                tx.execute(
                    "INSERT INTO folder (account_id, remote_name, name, role) VALUES (?1, ?2, ?2, ?3)
                     ON CONFLICT (account_id, remote_name) DO NOTHING",
                    params![account_id, name, role.as_str()],
                )?;
            }
            Ok(())
        })
    }

    pub fn pop3_downloads(&self, account_id: i64) -> Result<HashMap<String, Pop3Download>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT uidl, message_id, downloaded_at, deleted_there FROM pop3_download
                 WHERE account_id = ?1",
            )?;
            let rows = stmt.query_map([account_id], |r| {
                Ok((
                    r.get(0)?,
                    Pop3Download {
                        message_id: r.get(1)?,
                        downloaded_at: r.get(2)?,
                        deleted_there: r.get::<_, i64>(3)? != 0,
                    },
                ))
            })?;
            Ok(rows.collect::<rusqlite::Result<HashMap<_, _>>>()?)
        })
    }

    /// The header keys of downloads that have one: header key -> download key.
    pub fn pop3_header_keys(&self, account_id: i64) -> Result<HashMap<String, String>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT header_key, uidl FROM pop3_download
                 WHERE account_id = ?1 AND header_key != ''",
            )?;
            let rows = stmt.query_map([account_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<HashMap<_, _>>>()?)
        })
    }

    /// Stores one downloaded message, received into `file`, in a local folder with its
    /// key (the UIDL, or the header key) in one transaction; it is no longer a failure.
    /// None (and the file dropped) if the key is known already. The server still has
    /// the message: `make_durable` is for before a DELE.
    #[allow(clippy::too_many_arguments)]
    pub fn store_pop3_file(
        &self,
        account_id: i64,
        folder_id: i64,
        key: &str,
        header_key: &str,
        file: IncomingBlob,
        message: &FileMessage,
        now: i64,
    ) -> Result<Option<i64>> {
        self.write(|tx| {
            let known: bool = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM pop3_download WHERE account_id = ?1 AND uidl = ?2)",
                )?
                .query_row(params![account_id, key], |r| r.get(0))?;
            if known {
                return Ok(None);
            }
            let mut batch = InsertBatch::default();
            let FileMessage {
                headers,
                body,
                size,
            } = message;
            let record = HeaderRecord {
                flags: Flags::default(),
                size: u32::try_from(*size).unwrap_or(u32::MAX),
                internal_date: now,
                has_attachments: !body.attachments.is_empty(),
                ..HeaderRecord::from_headers(headers.clone())
            };
            let id = insert_message(tx, account_id, &record, &mut batch)?;
            tx.execute(
                "INSERT INTO location (message_id, folder_id, sort_date) VALUES (?1, ?2, ?3)",
                params![id, folder_id, record.date.unwrap_or(now)],
            )?;
            store_body(tx, id, body, &mut batch)?;
            tx.execute(
                "INSERT INTO pop3_download (account_id, uidl, message_id, downloaded_at, header_key)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![account_id, key, id, now, header_key],
            )?;
            tx.execute(
                "DELETE FROM pop3_failure WHERE account_id = ?1 AND key = ?2",
                params![account_id, key],
            )?;
            batch.write(tx)?;
            // In place before the row that points at it is committed.
            self.blobs.adopt(id, file)?;
            Ok(Some(id))
        })
    }

    /// A download known by its header key is now known by its UIDL.
    pub fn rekey_pop3_download(&self, account_id: i64, from: &str, to: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE pop3_download SET uidl = ?3 WHERE account_id = ?1 AND uidl = ?2
                 AND NOT EXISTS (SELECT 1 FROM pop3_download WHERE account_id = ?1 AND uidl = ?3)",
                params![account_id, from, to],
            )?;
            Ok(())
        })
    }

    /// How often each message the server would not give has failed so far.
    pub fn pop3_failures(&self, account_id: i64) -> Result<HashMap<String, u32>> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT key, attempts FROM pop3_failure WHERE account_id = ?1")?;
            let rows = stmt.query_map([account_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<HashMap<_, _>>>()?)
        })
    }

    /// Counts one more failed attempt at a message; returns the attempts so far.
    pub fn record_pop3_failure(
        &self,
        account_id: i64,
        key: &str,
        error: &str,
        now: i64,
    ) -> Result<u32> {
        self.write(|tx| {
            Ok(tx
                .prepare_cached(
                    "INSERT INTO pop3_failure (account_id, key, attempts, last_error, last_attempt)
                     VALUES (?1, ?2, 1, ?3, ?4)
                     ON CONFLICT (account_id, key) DO UPDATE SET attempts = attempts + 1,
                         last_error = excluded.last_error, last_attempt = excluded.last_attempt
                     RETURNING attempts",
                )?
                .query_row(params![account_id, key, error, now], |r| r.get(0))?)
        })
    }

    /// Forgets the failures of messages that are no longer on the server.
    pub fn forget_pop3_failures(&self, account_id: i64, gone: &[String]) -> Result<()> {
        self.write(|tx| {
            let mut stmt =
                tx.prepare_cached("DELETE FROM pop3_failure WHERE account_id = ?1 AND key = ?2")?;
            for key in gone {
                stmt.execute(params![account_id, key])?;
            }
            Ok(())
        })
    }

    /// Forces the local copies of messages to disk, before the server forgets them.
    pub fn make_durable(&self, message_ids: &[i64]) -> Result<()> {
        message_ids
            .iter()
            .try_for_each(|id| self.blobs.make_durable(*id))
    }

    /// Records the messages this device deleted from the server (after QUIT).
    pub fn mark_pop3_deleted(&self, account_id: i64, uidls: &[String]) -> Result<()> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "UPDATE pop3_download SET deleted_there = 1 WHERE account_id = ?1 AND uidl = ?2",
            )?;
            for uidl in uidls {
                stmt.execute(params![account_id, uidl])?;
            }
            Ok(())
        })
    }

    /// Forgets UIDLs the server no longer has and whose local copy is gone too.
    pub fn forget_pop3_downloads(&self, account_id: i64, uidls: &[String]) -> Result<()> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "DELETE FROM pop3_download WHERE account_id = ?1 AND uidl = ?2 AND message_id IS NULL",
            )?;
            for uidl in uidls {
                stmt.execute(params![account_id, uidl])?;
            }
            Ok(())
        })
    }

    /// Turns a POP3 account into an IMAP account once the server holds everything: the
    /// local-only cache goes (the next sync brings it back from the server), the
    /// account keeps its name, password, identities and outbox.
    pub fn convert_to_imap(
        &self,
        account_id: i64,
        imap: &crate::model::ServerConfig,
        server_caps: &[String],
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM message WHERE account_id = ?1", [account_id])?;
            tx.execute("DELETE FROM folder WHERE account_id = ?1", [account_id])?;
            tx.execute("DELETE FROM thread_key WHERE account_id = ?1", [account_id])?;
            tx.execute(
                "DELETE FROM pop3_download WHERE account_id = ?1",
                [account_id],
            )?;
            tx.execute(
                "DELETE FROM pop3_failure WHERE account_id = ?1",
                [account_id],
            )?;
            tx.execute(
                "UPDATE account SET protocol = 'imap', host = ?2, port = ?3, security = ?4,
                        username = ?5, server_capabilities = ?6, pop3_delete = 'never'
                 WHERE id = ?1",
                params![
                    account_id,
                    imap.host,
                    imap.port,
                    imap.security.as_str(),
                    imap.username,
                    server_caps.join(" ")
                ],
            )?;
            Ok(())
        })
    }
}
