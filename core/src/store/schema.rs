//! Numbered migrations; each runs in its own transaction together with its version bump.

use rusqlite::Connection;

use crate::error::{Error, ErrorKind, Result};

const MIGRATIONS: &[&str] = &[
    // 1: accounts, folders, messages apart from their server locations, threads, search.
    r#"
    CREATE TABLE account (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        email TEXT NOT NULL,
        protocol TEXT NOT NULL CHECK (protocol IN ('imap', 'pop3')),
        host TEXT NOT NULL,
        port INTEGER NOT NULL,
        security TEXT NOT NULL CHECK (security IN ('tls', 'starttls', 'plain')),
        username TEXT NOT NULL,
        ca_file TEXT NOT NULL DEFAULT '',
        server_capabilities TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL DEFAULT (unixepoch())
    ) STRICT;

    CREATE TABLE folder (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
        remote_name TEXT NOT NULL,
        name TEXT NOT NULL,
        delimiter TEXT NOT NULL DEFAULT '/',
        role TEXT NOT NULL DEFAULT '',
        selectable INTEGER NOT NULL DEFAULT 1,
        uidvalidity INTEGER NOT NULL DEFAULT 0,
        uidnext INTEGER NOT NULL DEFAULT 0,
        highestmodseq INTEGER NOT NULL DEFAULT 0,
        oldest_synced_uid INTEGER NOT NULL DEFAULT 0,
        complete INTEGER NOT NULL DEFAULT 0,
        last_sync INTEGER NOT NULL DEFAULT 0,
        -- New messages arrived since the newest bodies were last downloaded.
        prefetch_pending INTEGER NOT NULL DEFAULT 1,
        -- Kept by the triggers below, so folder lists never count rows.
        total INTEGER NOT NULL DEFAULT 0,
        unread INTEGER NOT NULL DEFAULT 0,
        UNIQUE (account_id, remote_name)
    ) STRICT;

    -- AUTOINCREMENT: an id is never reused, so queued changes and files never point
    -- at the wrong message.
    CREATE TABLE message (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
        message_id TEXT NOT NULL DEFAULT '',
        thread_id INTEGER NOT NULL DEFAULT 0,
        subject TEXT NOT NULL DEFAULT '',
        from_name TEXT NOT NULL DEFAULT '',
        from_addr TEXT NOT NULL DEFAULT '',
        to_addrs TEXT NOT NULL DEFAULT '',
        cc_addrs TEXT NOT NULL DEFAULT '',
        date INTEGER NOT NULL DEFAULT 0,
        in_reply_to TEXT NOT NULL DEFAULT '',
        refs TEXT NOT NULL DEFAULT '',
        size INTEGER NOT NULL DEFAULT 0,
        seen INTEGER NOT NULL DEFAULT 0,
        flagged INTEGER NOT NULL DEFAULT 0,
        answered INTEGER NOT NULL DEFAULT 0,
        forwarded INTEGER NOT NULL DEFAULT 0,
        draft INTEGER NOT NULL DEFAULT 0,
        has_attachments INTEGER NOT NULL DEFAULT 0,
        -- The raw message is in the blob directory (messages/), not in SQLite.
        has_body INTEGER NOT NULL DEFAULT 0,
        search_key INTEGER NOT NULL UNIQUE
    ) STRICT;
    CREATE INDEX message_by_message_id ON message (account_id, message_id);
    CREATE INDEX message_by_thread ON message (thread_id);

    -- Where a message lives on the server. uid is NULL while the message exists only here.
    CREATE TABLE location (
        id INTEGER PRIMARY KEY,
        message_id INTEGER NOT NULL REFERENCES message(id) ON DELETE CASCADE,
        folder_id INTEGER NOT NULL REFERENCES folder(id) ON DELETE CASCADE,
        uidvalidity INTEGER NOT NULL DEFAULT 0,
        uid INTEGER,
        modseq INTEGER NOT NULL DEFAULT 0,
        sort_date INTEGER NOT NULL DEFAULT 0,
        UNIQUE (folder_id, uidvalidity, uid)
    ) STRICT;
    CREATE INDEX location_by_message ON location (message_id);
    CREATE INDEX location_by_folder_date ON location (folder_id, sort_date DESC);

    -- Folder counters follow every location and every change of \Seen.
    CREATE TRIGGER location_counts_insert AFTER INSERT ON location
    BEGIN
        UPDATE folder SET total = total + 1,
            unread = unread + (SELECT seen = 0 FROM message WHERE id = new.message_id)
        WHERE id = new.folder_id;
    END;
    -- One trigger, so the counters are read before a message left without any location
    -- (gone from this device) is deleted.
    CREATE TRIGGER location_delete AFTER DELETE ON location
    BEGIN
        UPDATE folder SET total = total - 1,
            unread = unread - ifnull((SELECT seen = 0 FROM message WHERE id = old.message_id), 0)
        WHERE id = old.folder_id;
        DELETE FROM message WHERE id = old.message_id
            AND NOT EXISTS (SELECT 1 FROM location WHERE message_id = old.message_id);
    END;
    CREATE TRIGGER location_counts_move AFTER UPDATE OF folder_id ON location
    WHEN old.folder_id != new.folder_id
    BEGIN
        UPDATE folder SET total = total - 1,
            unread = unread - (SELECT seen = 0 FROM message WHERE id = old.message_id)
        WHERE id = old.folder_id;
        UPDATE folder SET total = total + 1,
            unread = unread + (SELECT seen = 0 FROM message WHERE id = new.message_id)
        WHERE id = new.folder_id;
    END;
    CREATE TRIGGER message_counts_seen AFTER UPDATE OF seen ON message
    WHEN old.seen != new.seen
    BEGIN
        UPDATE folder SET unread = unread + (CASE new.seen WHEN 0 THEN 1 ELSE -1 END)
        WHERE id IN (SELECT folder_id FROM location WHERE message_id = new.id);
    END;


    CREATE TABLE attachment (
        message_id INTEGER NOT NULL REFERENCES message(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        mime_type TEXT NOT NULL DEFAULT '',
        size INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (message_id, position)
    ) STRICT, WITHOUT ROWID;

    -- Raw messages of deleted rows, whose files the engine removes after the commit.
    CREATE TABLE blob_trash (
        message_id INTEGER PRIMARY KEY
    ) STRICT;
    CREATE TRIGGER message_blob_trash AFTER DELETE ON message WHEN old.has_body = 1
    BEGIN
        INSERT OR IGNORE INTO blob_trash (message_id) VALUES (old.id);
    END;

    -- Message-IDs (and normalised subjects) that point into a conversation.
    CREATE TABLE thread_key (
        account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        thread_id INTEGER NOT NULL,
        PRIMARY KEY (account_id, key)
    ) STRICT, WITHOUT ROWID;
    -- Merging two conversations rewrites every key of one of them.
    CREATE INDEX thread_key_by_thread ON thread_key (account_id, thread_id);

    -- Full-text index; rowid is message.search_key, which sorts by date.
    CREATE VIRTUAL TABLE message_fts USING fts5 (
        subject, sender, recipients, body,
        content = '', contentless_delete = 1,
        tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER message_fts_delete AFTER DELETE ON message
    BEGIN
        DELETE FROM message_fts WHERE rowid = old.search_key;
    END;

    CREATE TABLE setting (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;
    "#,
    // 2: the persistent change queue. A row lives until the server has applied it, or
    // stays as 'failed' (already reverted locally) until retried or discarded.
    r#"
    CREATE TABLE change (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN
            ('flags', 'move', 'expunge', 'create_folder', 'rename_folder', 'delete_folder', 'append')),
        -- The local message, if any. Not a foreign key: an expunged message is gone here.
        message_id INTEGER,
        -- Where the message was on the server when the change was made.
        source_folder TEXT NOT NULL DEFAULT '',
        source_uidvalidity INTEGER NOT NULL DEFAULT 0,
        source_uid INTEGER NOT NULL DEFAULT 0,
        message_id_header TEXT NOT NULL DEFAULT '',
        -- Destination folder, or a folder's (new) server name.
        target TEXT NOT NULL DEFAULT '',
        add_flags INTEGER NOT NULL DEFAULT 0,
        remove_flags INTEGER NOT NULL DEFAULT 0,
        depends_on INTEGER,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        next_attempt INTEGER NOT NULL DEFAULT 0,
        -- Until when one replayer (of possibly several processes) holds the change.
        lease_until INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL DEFAULT (unixepoch())
    ) STRICT;
    CREATE INDEX change_by_account ON change (account_id, state, id);
    CREATE INDEX change_by_message ON change (message_id);
    "#,
    // 3: POP3 accounts: their delete policy, and which server messages (by UIDL) this
    // device has downloaded.
    r#"
    ALTER TABLE account ADD COLUMN pop3_delete TEXT NOT NULL DEFAULT 'never';
    CREATE TABLE pop3_download (
        account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
        uidl TEXT NOT NULL,
        -- The local copy; NULL once it was deleted here for good.
        message_id INTEGER REFERENCES message(id) ON DELETE SET NULL,
        downloaded_at INTEGER NOT NULL,
        -- This device removed it from the server (so its absence there is no news).
        deleted_there INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (account_id, uidl)
    ) STRICT;
    CREATE INDEX pop3_download_by_message ON pop3_download (message_id);
    "#,
    // 4: sending: where each account submits mail, the addresses it sends from, and the
    // outbox (a message stays here, whole, until the SMTP server took it).
    r#"
    ALTER TABLE account ADD COLUMN smtp_host TEXT NOT NULL DEFAULT '';
    ALTER TABLE account ADD COLUMN smtp_port INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE account ADD COLUMN smtp_security TEXT NOT NULL DEFAULT ''
        CHECK (smtp_security IN ('', 'tls', 'starttls', 'plain'));
    ALTER TABLE account ADD COLUMN smtp_username TEXT NOT NULL DEFAULT '';
    CREATE TABLE identity (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
        name TEXT NOT NULL DEFAULT '',
        email TEXT NOT NULL,
        UNIQUE (account_id, email)
    ) STRICT;
    INSERT INTO identity (account_id, email) SELECT id, email FROM account;
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
        -- The message as transmitted (no Bcc header).
        raw BLOB NOT NULL,
        message_id_header TEXT NOT NULL,
        subject TEXT NOT NULL DEFAULT '',
        mail_from TEXT NOT NULL,
        -- JSON array of envelope recipients (To, Cc and Bcc).
        recipients TEXT NOT NULL,
        -- A Bcc header line for the sent copy, or ''.
        bcc_header TEXT NOT NULL DEFAULT '',
        -- The message replied to or forwarded, and the flag it gets once this is sent.
        origin_message INTEGER REFERENCES message(id) ON DELETE SET NULL,
        origin_flags INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sending', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        draft_id INTEGER REFERENCES message(id) ON DELETE SET NULL,
        created_at INTEGER NOT NULL DEFAULT (unixepoch())
    ) STRICT;
    CREATE INDEX outbox_by_account ON outbox (account_id, state, id);
    CREATE INDEX outbox_by_origin ON outbox (origin_message);
    CREATE INDEX outbox_by_draft ON outbox (draft_id);
    "#,
    // 5: change rows say what they mean for the rest of the store, so the store needs
    // no knowledge of change kinds: whether a change holds its message's flags against
    // the server's, and which folder it makes appear or disappear. The kind list is
    // checked by the queue, not by a CHECK constraint. Which process replays a queue is
    // decided by an OS lock (the lease column goes).
    r#"
    CREATE TABLE change_v5 (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        -- The local message, if any. Not a foreign key: an expunged message is gone here.
        message_id INTEGER,
        -- Where the message was on the server when the change was made.
        source_folder TEXT NOT NULL DEFAULT '',
        source_uidvalidity INTEGER NOT NULL DEFAULT 0,
        source_uid INTEGER NOT NULL DEFAULT 0,
        message_id_header TEXT NOT NULL DEFAULT '',
        -- Destination folder, or a folder's (new) server name.
        target TEXT NOT NULL DEFAULT '',
        add_flags INTEGER NOT NULL DEFAULT 0,
        remove_flags INTEGER NOT NULL DEFAULT 0,
        depends_on INTEGER,
        -- While pending, the message's local flags win over the server's.
        holds_flags INTEGER NOT NULL DEFAULT 0,
        -- Server folder names this change brings into being or takes away.
        folder_appears TEXT NOT NULL DEFAULT '',
        folder_disappears TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        next_attempt INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL DEFAULT (unixepoch())
    ) STRICT;
    INSERT INTO change_v5 (id, account_id, kind, message_id, source_folder, source_uidvalidity,
                           source_uid, message_id_header, target, add_flags, remove_flags,
                           depends_on, holds_flags, folder_appears, folder_disappears, state,
                           attempts, last_error, next_attempt, created_at)
    SELECT id, account_id, kind, message_id, source_folder, source_uidvalidity, source_uid,
           message_id_header, target, add_flags, remove_flags, depends_on,
           kind = 'flags',
           CASE WHEN kind IN ('create_folder', 'rename_folder') THEN target ELSE '' END,
           CASE kind WHEN 'rename_folder' THEN source_folder WHEN 'delete_folder' THEN target ELSE '' END,
           state, attempts, last_error, next_attempt, created_at
    FROM change;
    DROP TABLE change;
    ALTER TABLE change_v5 RENAME TO change;
    CREATE INDEX change_by_account ON change (account_id, state, id);
    CREATE INDEX change_by_message ON change (message_id);
    "#,
    // 6: how the server names folders (RFC 2342): its personal namespace's prefix and
    // its separator, so folders are shown as `Work/2026` whatever it calls them.
    r#"
    ALTER TABLE account ADD COLUMN namespace_prefix TEXT NOT NULL DEFAULT '';
    ALTER TABLE account ADD COLUMN namespace_delimiter TEXT NOT NULL DEFAULT '/';
    "#,
    // 7: POP3 servers that repeat a UIDL or give none: a download is also known by its
    // header key (Message-ID and size), and messages the server would not give are
    // remembered, tried last, and given up after a few attempts.
    r#"
    ALTER TABLE pop3_download ADD COLUMN header_key TEXT NOT NULL DEFAULT '';
    CREATE INDEX pop3_download_by_header ON pop3_download (account_id, header_key)
        WHERE header_key != '';
    CREATE TABLE pop3_failure (
        account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
        -- The UIDL, or the header key of a message without a usable one.
        key TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        last_error TEXT NOT NULL,
        last_attempt INTEGER NOT NULL,
        PRIMARY KEY (account_id, key)
    ) STRICT;
    "#,
    // 8: an outbox message is 'sent' from the moment the server's 250 arrived until what
    // follows (its Sent copy, the original's flag) is done; it is never sent again. The
    // message itself moves to its own table: SQLite rewrites a whole row on UPDATE, so a
    // change of state wrote the message again (twice its size into the WAL).
    r#"
    CREATE TABLE outbox_v8 (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
        message_id_header TEXT NOT NULL,
        subject TEXT NOT NULL DEFAULT '',
        mail_from TEXT NOT NULL,
        -- JSON array of envelope recipients (To, Cc and Bcc).
        recipients TEXT NOT NULL,
        -- A Bcc header line for the sent copy, or ''.
        bcc_header TEXT NOT NULL DEFAULT '',
        -- The message replied to or forwarded, and the flag it gets once this is sent.
        origin_message INTEGER REFERENCES message(id) ON DELETE SET NULL,
        origin_flags INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'queued'
            CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        draft_id INTEGER REFERENCES message(id) ON DELETE SET NULL,
        created_at INTEGER NOT NULL DEFAULT (unixepoch())
    ) STRICT;
    -- The message as transmitted (no Bcc header). The reference follows the rename below.
    CREATE TABLE outbox_body (
        outbox_id INTEGER PRIMARY KEY REFERENCES outbox_v8(id) ON DELETE CASCADE,
        raw BLOB NOT NULL
    ) STRICT;
    INSERT INTO outbox_v8 (id, account_id, message_id_header, subject, mail_from, recipients,
                           bcc_header, origin_message, origin_flags, state, attempts,
                           next_attempt, last_error, draft_id, created_at)
    SELECT id, account_id, message_id_header, subject, mail_from, recipients, bcc_header,
           origin_message, origin_flags, state, attempts, next_attempt, last_error, draft_id,
           created_at
    FROM outbox;
    INSERT INTO outbox_body (outbox_id, raw) SELECT id, raw FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_v8 RENAME TO outbox;
    CREATE INDEX outbox_by_account ON outbox (account_id, state, id);
    CREATE INDEX outbox_by_origin ON outbox (origin_message);
    CREATE INDEX outbox_by_draft ON outbox (draft_id);
    "#,
    // 9: remote content the user allowed, for one message (by Message-ID) or a sender.
    r#"
    CREATE TABLE remote_content_allowed (
        account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
        scope TEXT NOT NULL CHECK (scope IN ('message', 'sender')),
        -- The Message-ID (or 'id:<row>' without one), or the sender's address in lower case.
        value TEXT NOT NULL,
        PRIMARY KEY (account_id, scope, value)
    ) STRICT, WITHOUT ROWID;
    "#,
    // 10: the folder the user chose (or the engine made) for a role, over what the server
    // or the folder's name says.
    r#"
    CREATE TABLE folder_role_choice (
        account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('sent', 'drafts', 'trash', 'junk', 'archive')),
        remote_name TEXT NOT NULL,
        PRIMARY KEY (account_id, role)
    ) STRICT, WITHOUT ROWID;
    "#,
    // 11: accounts that sign in with OAuth2: the provider's profile as JSON (endpoints,
    // client id, scopes; no secret: the tokens live in the credential store). Empty for a
    // password.
    r#"
    ALTER TABLE account ADD COLUMN oauth TEXT NOT NULL DEFAULT '';
    "#,
    // 12: search as you type. The starts of words are looked up in the headers only
    // (subject, sender, recipients), in an index of their own with prefixes of 1 to 4
    // characters, so a word start reads one posting list newest first instead of merging
    // the lists of every word that starts so. Rows share message_fts's rowid.
    r#"
    CREATE VIRTUAL TABLE header_fts USING fts5 (
        subject, sender, recipients,
        content = '', contentless_delete = 1,
        tokenize = 'unicode61 remove_diacritics 2',
        prefix = '1 2 3 4'
    );
    INSERT INTO header_fts (rowid, subject, sender, recipients)
        SELECT search_key, subject, from_name || ' ' || from_addr, to_addrs || ' ' || cc_addrs
        FROM message ORDER BY search_key;
    CREATE TRIGGER header_fts_delete AFTER DELETE ON message
    BEGIN
        DELETE FROM header_fts WHERE rowid = old.search_key;
    END;
    "#,
    // 13: Gmail's id of a message (X-GM-MSGID), so the labels and All Mail that show it
    // hold one message with several locations, not copies.
    r#"
    ALTER TABLE message ADD COLUMN gm_msgid INTEGER;
    CREATE INDEX message_by_gm_msgid ON message (account_id, gm_msgid) WHERE gm_msgid IS NOT NULL;
    "#,
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub fn migrate(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(Error::new(
            ErrorKind::Storage,
            format!(
                "the database was written by a newer Brevdue (schema {current}, this one knows {SCHEMA_VERSION})"
            ),
        ));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i64 + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql).map_err(|err| {
            Error::new(
                ErrorKind::Storage,
                format!("database migration {version} failed: {err}"),
            )
        })?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_are_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let strict: i64 = conn
            .query_row(
                "SELECT count(*) FROM pragma_table_list WHERE strict = 1 AND name IN ('account','folder','message','location')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(strict, 4);
    }

    #[test]
    fn change_rows_of_schema_4_learn_what_they_hold() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..4] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        conn.execute_batch(
            "INSERT INTO account (id, name, email, protocol, host, port, security, username)
                 VALUES (1, 'a', 'a@x', 'imap', 'h', 993, 'tls', 'a');
             INSERT INTO change (account_id, kind, message_id) VALUES (1, 'flags', 7);
             INSERT INTO change (account_id, kind, target) VALUES (1, 'create_folder', 'A');
             INSERT INTO change (account_id, kind, source_folder, target)
                 VALUES (1, 'rename_folder', 'A', 'B');
             INSERT INTO change (account_id, kind, target) VALUES (1, 'delete_folder', 'C');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let rows: Vec<(String, bool, String, String)> = conn
            .prepare("SELECT kind, holds_flags, folder_appears, folder_disappears FROM change ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let expected = [
            ("flags", true, "", ""),
            ("create_folder", false, "A", ""),
            ("rename_folder", false, "B", "A"),
            ("delete_folder", false, "", "C"),
        ];
        for (row, want) in rows.iter().zip(expected) {
            assert_eq!(
                (row.0.as_str(), row.1, row.2.as_str(), row.3.as_str()),
                want
            );
        }
    }

    #[test]
    fn outbox_rows_of_schema_6_keep_their_message_apart() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        for sql in &MIGRATIONS[..6] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 6).unwrap();
        conn.execute_batch(
            "INSERT INTO account (id, name, email, protocol, host, port, security, username)
                 VALUES (1, 'a', 'a@x', 'imap', 'h', 993, 'tls', 'a');
             INSERT INTO outbox (id, account_id, raw, message_id_header, mail_from, recipients,
                                 state, attempts)
                 VALUES (5, 1, X'6869', 'm@x', 'a@x', '[\"b@x\"]', 'sending', 2);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let row: (String, i64, Vec<u8>) = conn
            .query_row(
                "SELECT o.state, o.attempts, b.raw
                 FROM outbox o JOIN outbox_body b ON b.outbox_id = o.id WHERE o.id = 5",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(row, ("sending".to_owned(), 2, b"hi".to_vec()));
        conn.execute("UPDATE outbox SET state = 'sent' WHERE id = 5", [])
            .unwrap();
        conn.execute("DELETE FROM account", []).unwrap();
        let bodies: i64 = conn
            .query_row("SELECT count(*) FROM outbox_body", [], |r| r.get(0))
            .unwrap();
        assert_eq!(bodies, 0, "the body goes with its account's outbox row");
    }

    #[test]
    fn messages_of_schema_11_get_their_header_index() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..11] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 11).unwrap();
        conn.execute_batch(
            "INSERT INTO account (id, name, email, protocol, host, port, security, username)
                 VALUES (1, 'a', 'a@x', 'imap', 'h', 993, 'tls', 'a');
             INSERT INTO message (id, account_id, subject, from_name, from_addr, to_addrs, search_key)
                 VALUES (1, 1, 'Faktura for november', 'Åse Berg', 'ase@berg.no', '	per@x.no', 4096),
                        (2, 1, 'Lunch', 'Kari', 'kari@x.no', '', 8192);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let hits = |conn: &Connection, query: &str| -> Vec<i64> {
            conn.prepare("SELECT rowid FROM header_fts WHERE header_fts MATCH ?1 ORDER BY rowid")
                .unwrap()
                .query_map([query], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        assert_eq!(hits(&conn, "fak*"), [4096]);
        assert_eq!(hits(&conn, "ase*"), [4096], "diacritics are folded");
        assert_eq!(hits(&conn, "per*"), [4096]);
        assert_eq!(hits(&conn, "k*"), [8192]);
        conn.execute("DELETE FROM message WHERE id = 1", [])
            .unwrap();
        assert!(
            hits(&conn, "fak*").is_empty(),
            "a deleted message leaves the index"
        );
    }

    #[test]
    fn newer_schema_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Storage);
    }
}
