//! Carries one queued change out on the server. Every step is safe to repeat: a change
//! whose connection broke after the server acted is recognised on the next try.

use crate::error::Result;
use crate::imap::ImapConnection;
use crate::model::ChangeKind;
use crate::queue::plan;
use crate::store::QueuedChange;

/// What the server now holds for the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed {
    Done,
    /// The message is now at (folder, UIDVALIDITY, UID).
    MovedTo(String, u32, u32),
    /// The message is no longer on the server: there is nothing left to change.
    Gone,
    /// The folder exists on the server now, with this UIDVALIDITY.
    FolderCreated(u32),
}

/// Finds the message on the server: its recorded UID if the folder's UIDVALIDITY still
/// matches and the UID is still there, else by Message-ID.
async fn locate(conn: &mut ImapConnection, change: &QueuedChange) -> Result<Option<u32>> {
    let status = conn.select(&change.source_folder).await?;
    if change.source_uid != 0 && status.uidvalidity == change.source_uidvalidity {
        let present = conn.scan_uid(change.source_uid).await?;
        if present {
            return Ok(Some(change.source_uid));
        }
    }
    conn.find_message_id(&change.message_id_header).await
}

/// Replays `change`; `raw` holds the message for an upload (APPEND).
pub async fn replay(
    conn: &mut ImapConnection,
    change: &QueuedChange,
    raw: Option<&[u8]>,
) -> Result<Replayed> {
    match change.kind {
        ChangeKind::Flags => {
            let Some(uid) = locate(conn, change).await? else {
                return Ok(Replayed::Gone);
            };
            conn.uid_store(
                uid,
                &plan::imap_names(change.add_flags),
                &plan::imap_names(change.remove_flags),
            )
            .await?;
            Ok(Replayed::Done)
        }
        ChangeKind::Move => {
            let Some(uid) = locate(conn, change).await? else {
                // Already moved by an earlier try whose answer was lost?
                let status = conn.select(&change.target).await?;
                return Ok(
                    match conn.find_message_id(&change.message_id_header).await? {
                        Some(uid) => {
                            Replayed::MovedTo(change.target.clone(), status.uidvalidity, uid)
                        }
                        None => Replayed::Gone,
                    },
                );
            };
            if change.attempts > 0 && !conn.caps.move_ {
                // Without MOVE an earlier try may have copied it before the line dropped:
                // finish that move instead of copying twice.
                let status = conn.select(&change.target).await?;
                if let Some(copied) = conn.find_message_id(&change.message_id_header).await? {
                    conn.select(&change.source_folder).await?;
                    conn.uid_store(uid, &["\\Deleted"], &[]).await?;
                    conn.uid_expunge(uid).await?;
                    return Ok(Replayed::MovedTo(
                        change.target.clone(),
                        status.uidvalidity,
                        copied,
                    ));
                }
                conn.select(&change.source_folder).await?;
            }
            if let Some((uidvalidity, new_uid)) = conn.uid_move(uid, &change.target).await? {
                return Ok(Replayed::MovedTo(
                    change.target.clone(),
                    uidvalidity,
                    new_uid,
                ));
            }
            let status = conn.select(&change.target).await?;
            Ok(
                match conn.find_message_id(&change.message_id_header).await? {
                    Some(uid) => Replayed::MovedTo(change.target.clone(), status.uidvalidity, uid),
                    // Moved, but the server will not say where: the next sync finds it.
                    None => Replayed::Done,
                },
            )
        }
        ChangeKind::Expunge => {
            if let Some(uid) = locate(conn, change).await? {
                conn.uid_store(uid, &["\\Deleted"], &[]).await?;
                conn.uid_expunge(uid).await?;
            }
            Ok(Replayed::Done)
        }
        ChangeKind::CreateFolder => {
            conn.create_folder(&change.target).await?;
            // Knowing its UIDVALIDITY at once lets a rename made elsewhere before the
            // next sync be recognised as one.
            let status = conn.select(&change.target).await?;
            Ok(Replayed::FolderCreated(status.uidvalidity))
        }
        ChangeKind::RenameFolder => {
            conn.rename_folder(&change.source_folder, &change.target)
                .await?;
            Ok(Replayed::Done)
        }
        ChangeKind::DeleteFolder => {
            conn.delete_folder(&change.target).await?;
            Ok(Replayed::Done)
        }
        ChangeKind::Append => {
            let raw = raw.ok_or_else(|| {
                crate::Error::not_found(format!(
                    "the stored copy of message {:?}",
                    change.message_id
                ))
            })?;
            // An earlier try may have uploaded it before the line dropped.
            let status = conn.select(&change.target).await?;
            if change.attempts > 0 {
                if let Some(uid) = conn.find_message_id(&change.message_id_header).await? {
                    return Ok(Replayed::MovedTo(
                        change.target.clone(),
                        status.uidvalidity,
                        uid,
                    ));
                }
            }
            let landed = conn
                .append(&change.target, &plan::imap_names(change.add_flags), raw)
                .await?;
            let (uidvalidity, uid) = match landed {
                Some(found) => found,
                None => {
                    let status = conn.select(&change.target).await?;
                    match conn.find_message_id(&change.message_id_header).await? {
                        Some(uid) => (status.uidvalidity, uid),
                        None => return Ok(Replayed::Done),
                    }
                }
            };
            Ok(Replayed::MovedTo(change.target.clone(), uidvalidity, uid))
        }
    }
}
