use rusqlite::{params, OptionalExtension, Row};

use super::{flag, Store};
use crate::error::{Error, ErrorKind, Result};
use crate::mail::mailbox_name::SHOWN_SEPARATOR;
use crate::mail::RemoteFolder;
use crate::model::{Folder, FolderRole};

/// What the last sync of a folder left behind.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FolderSyncState {
    pub folder_id: i64,
    pub remote_name: String,
    pub name: String,
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highestmodseq: u64,
    /// Lowest UID whose headers are stored (0: none yet).
    pub oldest_synced_uid: u32,
    /// All messages up to `uidnext` are known.
    pub complete: bool,
    /// New messages arrived since bodies were last prefetched.
    pub prefetch_pending: bool,
}

const FOLDER_SELECT: &str = "
    SELECT f.id, f.account_id, a.name, f.name, f.delimiter, f.role, f.selectable, f.total, f.unread
    FROM folder f JOIN account a ON a.id = f.account_id";

fn folder_from_row(row: &Row<'_>) -> rusqlite::Result<Folder> {
    let name: String = row.get(3)?;
    // Names are shown with `/` between levels, whatever the server's separator.
    let delimiter = if row.get::<_, String>(4)?.is_empty() {
        String::new()
    } else {
        SHOWN_SEPARATOR.to_owned()
    };
    let role: String = row.get(5)?;
    let parent = (!delimiter.is_empty())
        .then(|| {
            name.rsplit_once(delimiter.as_str())
                .map(|(p, _)| p.to_owned())
        })
        .flatten();
    Ok(Folder {
        id: row.get(0)?,
        account_id: row.get(1)?,
        account: row.get(2)?,
        name,
        parent,
        delimiter,
        role: FolderRole::parse(&role),
        selectable: flag(row.get(6)?),
        total: row.get(7)?,
        unread: row.get(8)?,
    })
}

/// Inbox first, then the special folders in a fixed order, then the rest by name.
const FOLDER_ORDER: &str = "ORDER BY a.name,
    CASE f.role WHEN 'inbox' THEN 0 WHEN 'drafts' THEN 1 WHEN 'sent' THEN 2 WHEN 'archive' THEN 3
                WHEN 'junk' THEN 4 WHEN 'trash' THEN 5 WHEN 'all' THEN 6 ELSE 7 END, f.name";

impl Store {
    /// Makes the local folder list match the server's. Folders that pending changes
    /// create, rename or delete are left as the user made them. A folder that vanished
    /// while one with its UIDVALIDITY appeared was renamed elsewhere: it keeps its id.
    /// Returns whether the folder list changed, and how many cached messages went with
    /// folders that became containers.
    pub fn replace_folders(&self, account_id: i64, remote: &[RemoteFolder]) -> Result<(bool, u32)> {
        self.write(|tx| {
            // Read in the same transaction: a folder the user creates while the listing
            // is on its way must not be taken for one deleted on the server.
            let (coming, going) = super::changes::pending_folder_names(tx, account_id)?;
            let remote: Vec<&RemoteFolder> = remote
                .iter()
                .filter(|f| !going.contains(&f.remote_name))
                .collect();
            let mut changed = false;
            let mut removed = 0u32;
            let local: Vec<(i64, String, u32)> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT id, remote_name, uidvalidity FROM folder WHERE account_id = ?1",
                )?;
                let rows =
                    stmt.query_map([account_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            for (id, remote_name, uidvalidity) in &local {
                if coming.contains(remote_name)
                    || remote.iter().any(|f| &f.remote_name == remote_name)
                {
                    continue;
                }
                let renamed = remote.iter().find(|f| {
                    *uidvalidity != 0
                        && f.uidvalidity == Some(*uidvalidity)
                        && !local.iter().any(|(_, name, _)| *name == f.remote_name)
                });
                if let Some(new) = renamed {
                    tx.execute(
                        "UPDATE folder SET remote_name = ?2, name = ?3 WHERE id = ?1",
                        params![id, new.remote_name, new.name],
                    )?;
                } else {
                    tx.execute("DELETE FROM location WHERE folder_id = ?1", [id])?;
                    tx.execute("DELETE FROM folder WHERE id = ?1", [id])?;
                }
                changed = true;
            }
            for folder in &remote {
                if !folder.selectable {
                    // A container (\Noselect: a parent deleted while it had children)
                    // holds no mail: what was cached in it is gone.
                    let n = tx.execute(
                        "DELETE FROM location WHERE folder_id =
                           (SELECT id FROM folder WHERE account_id = ?1 AND remote_name = ?2)",
                        params![account_id, folder.remote_name],
                    )?;
                    removed += n as u32;
                }
            }
            // A chosen folder gone from the server (and not being created here) no longer
            // takes the role from the one the server names.
            let choices: Vec<(FolderRole, String)> = role_choices(tx, account_id)?
                .into_iter()
                .filter(|(_, name)| {
                    coming.contains(name) || remote.iter().any(|f| &f.remote_name == name)
                })
                .collect();
            for folder in remote {
                let role = chosen_role(&choices, &folder.remote_name, folder.role)
                    .map(FolderRole::as_str)
                    .unwrap_or("");
                let n = tx.execute(
                    "INSERT INTO folder (account_id, remote_name, name, delimiter, role, selectable)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (account_id, remote_name) DO UPDATE SET
                        name = excluded.name, delimiter = excluded.delimiter,
                        role = excluded.role, selectable = excluded.selectable
                     WHERE name IS NOT excluded.name OR delimiter IS NOT excluded.delimiter
                        OR role IS NOT excluded.role OR selectable IS NOT excluded.selectable",
                    params![
                        account_id,
                        folder.remote_name,
                        folder.name,
                        folder.delimiter,
                        role,
                        folder.selectable
                    ],
                )?;
                changed |= n > 0;
            }
            Ok((changed, removed))
        })
    }

    /// The folder of a message and that folder's role.
    pub fn message_folder_role(&self, message_id: i64) -> Result<(i64, Option<FolderRole>)> {
        self.read(|conn| {
            let (account_id, role): (i64, String) = conn
                .query_row(
                    "SELECT f.account_id, f.role FROM location l JOIN folder f ON f.id = l.folder_id
                     WHERE l.message_id = ?1 LIMIT 1",
                    [message_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
                .ok_or_else(|| Error::not_found(format!("message {message_id}")))?;
            Ok((account_id, FolderRole::parse(&role)))
        })
    }

    /// Makes `remote_name` the account's folder for `role` from now on, whatever the
    /// server or the folder names say (the Inbox is always the Inbox).
    pub fn choose_folder_role(
        &self,
        account_id: i64,
        role: FolderRole,
        remote_name: &str,
    ) -> Result<()> {
        if matches!(role, FolderRole::Inbox | FolderRole::All) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("the {} folder is the server's to say", role.as_str()),
            ));
        }
        self.write(|tx| {
            tx.execute(
                "INSERT INTO folder_role_choice (account_id, role, remote_name) VALUES (?1, ?2, ?3)
                 ON CONFLICT (account_id, role) DO UPDATE SET remote_name = excluded.remote_name",
                params![account_id, role.as_str(), remote_name],
            )?;
            tx.execute(
                "UPDATE folder SET role = '' WHERE account_id = ?1 AND role = ?2 AND remote_name != ?3",
                params![account_id, role.as_str(), remote_name],
            )?;
            tx.execute(
                "UPDATE folder SET role = ?2 WHERE account_id = ?1 AND remote_name = ?3",
                params![account_id, role.as_str(), remote_name],
            )?;
            Ok(())
        })
    }

    pub fn folder_by_role(&self, account_id: i64, role: FolderRole) -> Result<Option<i64>> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT id FROM folder WHERE account_id = ?1 AND role = ?2 ORDER BY id LIMIT 1",
                    params![account_id, role.as_str()],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }

    pub fn folders(&self, account_id: Option<i64>) -> Result<Vec<Folder>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "{FOLDER_SELECT} WHERE ?1 IS NULL OR f.account_id = ?1 {FOLDER_ORDER}"
            ))?;
            let rows = stmt.query_map([account_id], folder_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    pub fn folder(&self, folder_id: i64) -> Result<Folder> {
        self.read(|conn| {
            conn.query_row(
                &format!("{FOLDER_SELECT} WHERE f.id = ?1"),
                [folder_id],
                folder_from_row,
            )
            .optional()?
            .ok_or_else(|| Error::not_found(format!("folder {folder_id}")))
        })
    }

    /// Finds a folder by its decoded name, its server name, or (for "inbox") case-insensitively.
    pub fn folder_by_name(&self, account_id: i64, name: &str) -> Result<Folder> {
        let id: Option<i64> = self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT id FROM folder WHERE account_id = ?1
                       AND (name = ?2 OR remote_name = ?2
                            OR (upper(?2) = 'INBOX' AND role = 'inbox'))
                     ORDER BY name = ?2 DESC LIMIT 1",
                    params![account_id, name],
                    |r| r.get(0),
                )
                .optional()?)
        })?;
        match id {
            Some(id) => self.folder(id),
            None => Err(Error::not_found(format!("folder '{name}'"))),
        }
    }

    /// The UIDVALIDITY a sync last saw for a folder (by server name).
    /// The UIDNEXT the last pass recorded for a folder (by server name).
    pub fn folder_uidnext(&self, account_id: i64, remote_name: &str) -> Result<Option<u32>> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT uidnext FROM folder WHERE account_id = ?1 AND remote_name = ?2",
                    params![account_id, remote_name],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }

    /// A folder's server name.
    pub fn folder_remote_name(&self, folder_id: i64) -> Result<String> {
        self.read(|conn| {
            conn.query_row(
                "SELECT remote_name FROM folder WHERE id = ?1",
                [folder_id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| Error::not_found(format!("folder {folder_id}")))
        })
    }

    pub fn folder_uidvalidity(&self, account_id: i64, remote_name: &str) -> Result<Option<u32>> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT uidvalidity FROM folder WHERE account_id = ?1 AND remote_name = ?2",
                    params![account_id, remote_name],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }

    pub fn folder_sync_states(&self, account_id: i64) -> Result<Vec<FolderSyncState>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, remote_name, name, uidvalidity, uidnext, highestmodseq,
                        oldest_synced_uid, complete, prefetch_pending
                 FROM folder WHERE account_id = ?1 AND selectable = 1",
            )?;
            let rows = stmt.query_map([account_id], |r| {
                Ok(FolderSyncState {
                    folder_id: r.get(0)?,
                    remote_name: r.get(1)?,
                    name: r.get(2)?,
                    uidvalidity: r.get(3)?,
                    uidnext: r.get(4)?,
                    highestmodseq: r.get::<_, i64>(5)? as u64,
                    oldest_synced_uid: r.get(6)?,
                    complete: flag(r.get(7)?),
                    prefetch_pending: flag(r.get(8)?),
                })
            })?;
            let mut states = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            // Inbox first: it is what the user looks at.
            states.sort_by_key(|s| (!s.remote_name.eq_ignore_ascii_case("INBOX"), s.name.clone()));
            Ok(states)
        })
    }

    /// Records a finished folder pass.
    pub fn finish_folder_sync(
        &self,
        folder_id: i64,
        uidnext: u32,
        highestmodseq: u64,
        oldest_synced_uid: u32,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE folder SET uidnext = ?2, highestmodseq = ?3, oldest_synced_uid = ?4,
                        complete = 1, last_sync = unixepoch()
                 WHERE id = ?1",
                params![folder_id, uidnext, highestmodseq as i64, oldest_synced_uid],
            )?;
            Ok(())
        })
    }

    /// Marks whether a folder's newest bodies still need downloading.
    pub fn set_prefetch_pending(&self, folder_id: i64, pending: bool) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE folder SET prefetch_pending = ?2 WHERE id = ?1",
                params![folder_id, pending],
            )?;
            Ok(())
        })
    }

    pub fn set_all_prefetch_pending(&self) -> Result<()> {
        self.write(|tx| {
            tx.execute("UPDATE folder SET prefetch_pending = 1", [])?;
            Ok(())
        })
    }

    /// Starts over after a UIDVALIDITY change. Locations of the old generation stay until
    /// the new listing is complete, so messages can be re-matched by Message-ID.
    pub fn reset_folder(&self, folder_id: i64, uidvalidity: u32) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE folder SET uidvalidity = ?2, uidnext = 0, highestmodseq = 0,
                        oldest_synced_uid = 0, complete = 0
                 WHERE id = ?1",
                params![folder_id, uidvalidity],
            )?;
            Ok(())
        })
    }

    /// The server renumbered the folder under the same UIDVALIDITY: its locations become
    /// an old generation (re-matched by Message-ID as the listing comes in, like after a
    /// UIDVALIDITY change), and pending changes find their message by Message-ID.
    pub fn distrust_uids(&self, account_id: i64, folder_id: i64, remote_name: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE location SET uidvalidity = 0 WHERE folder_id = ?1 AND uid IS NOT NULL",
                [folder_id],
            )?;
            super::changes::forget_source_uids(tx, account_id, remote_name)
        })
    }

    /// Drops locations of an old UIDVALIDITY generation that were not re-matched.
    pub fn purge_stale_locations(&self, folder_id: i64, uidvalidity: u32) -> Result<u32> {
        self.write(|tx| {
            let n = tx.execute(
                "DELETE FROM location WHERE folder_id = ?1 AND uidvalidity != ?2 AND uid IS NOT NULL",
                params![folder_id, uidvalidity],
            )?;
            Ok(n as u32)
        })
    }
}

/// The folders the user chose for roles: (role, server name).
fn role_choices(
    tx: &rusqlite::Transaction<'_>,
    account_id: i64,
) -> Result<Vec<(FolderRole, String)>> {
    let mut stmt = tx
        .prepare_cached("SELECT role, remote_name FROM folder_role_choice WHERE account_id = ?1")?;
    let rows = stmt.query_map([account_id], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (role, remote) = row?;
        if let Some(role) = FolderRole::parse(&role) {
            out.push((role, remote));
        }
    }
    Ok(out)
}

/// A folder's role once the user's choices are taken into account: the chosen folder
/// has the role, and no other folder has it.
fn chosen_role(
    choices: &[(FolderRole, String)],
    remote_name: &str,
    listed: Option<FolderRole>,
) -> Option<FolderRole> {
    if let Some((role, _)) = choices.iter().find(|(_, name)| name == remote_name) {
        return Some(*role);
    }
    match listed {
        Some(role) if choices.iter().any(|(chosen, _)| *chosen == role) => None,
        other => other,
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
                    smtp: None,
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

    fn listed(name: &str, role: Option<FolderRole>) -> RemoteFolder {
        RemoteFolder {
            remote_name: name.into(),
            name: name.into(),
            delimiter: "/".into(),
            role,
            selectable: true,
            uidvalidity: None,
        }
    }

    fn roles(store: &Store, account: i64) -> Vec<(String, Option<FolderRole>)> {
        let mut out: Vec<_> = store
            .folders(Some(account))
            .unwrap()
            .into_iter()
            .map(|f| (f.name, f.role))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    #[test]
    fn a_chosen_folder_keeps_its_role_over_what_the_server_lists() {
        let (_dir, store, account) = store();
        let listing = [
            listed("INBOX", Some(FolderRole::Inbox)),
            listed("Sent", Some(FolderRole::Sent)),
            listed("Kopier", None),
        ];
        store.replace_folders(account, &listing).unwrap();
        let sent = store.folder_by_role(account, FolderRole::Sent).unwrap();
        assert_eq!(
            sent,
            Some(store.folder_by_name(account, "Sent").unwrap().id)
        );

        store
            .choose_folder_role(account, FolderRole::Sent, "Kopier")
            .unwrap();
        let chosen = vec![
            ("INBOX".to_owned(), Some(FolderRole::Inbox)),
            ("Kopier".to_owned(), Some(FolderRole::Sent)),
            ("Sent".to_owned(), None),
        ];
        assert_eq!(roles(&store, account), chosen, "at once");
        let (changed, _) = store.replace_folders(account, &listing).unwrap();
        assert!(!changed, "the next listing changes nothing");
        assert_eq!(roles(&store, account), chosen);

        // The chosen folder deleted on the server: the server's own Sent again.
        store.replace_folders(account, &listing[..2]).unwrap();
        assert_eq!(
            roles(&store, account),
            [
                ("INBOX".to_owned(), Some(FolderRole::Inbox)),
                ("Sent".to_owned(), Some(FolderRole::Sent)),
            ]
        );
        let err = store
            .choose_folder_role(account, FolderRole::Inbox, "Sent")
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
    }
}
