//! The wire: carries one queued change out on the server. Every step is safe to repeat:
//! a change whose connection broke after the server acted is recognised on the next try.

use crate::error::Result;
use crate::imap::ImapConnection;
use crate::queue::ops::{MessageAt, Operation};
use crate::queue::QueuedChange;

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
async fn locate(conn: &mut ImapConnection, message: &MessageAt) -> Result<Option<u32>> {
    let status = conn.select(&message.folder).await?;
    if message.uid != 0 && status.uidvalidity == message.uidvalidity {
        let present = conn.scan_uid(message.uid).await?;
        if present {
            return Ok(Some(message.uid));
        }
    }
    conn.find_message_id(&message.message_id_header).await
}

/// Replays `change`; `raw` holds the message for an upload (APPEND).
pub async fn replay(
    conn: &mut ImapConnection,
    change: &QueuedChange,
    raw: Option<&[u8]>,
) -> Result<Replayed> {
    match &change.op {
        Operation::SetFlags(op) => {
            let Some(uid) = locate(conn, &op.message).await? else {
                return Ok(Replayed::Gone);
            };
            conn.uid_store(uid, &op.add.imap_names(), &op.remove.imap_names())
                .await?;
            Ok(Replayed::Done)
        }
        Operation::Move(op) => {
            let message_id = &op.message.message_id_header;
            let Some(uid) = locate(conn, &op.message).await? else {
                // Already moved by an earlier try whose answer was lost?
                let status = conn.select(&op.to).await?;
                return Ok(match conn.find_message_id(message_id).await? {
                    Some(uid) => Replayed::MovedTo(op.to.clone(), status.uidvalidity, uid),
                    None => Replayed::Gone,
                });
            };
            if change.attempts > 0 && !conn.caps.move_ {
                // Without MOVE an earlier try may have copied it before the line dropped:
                // finish that move instead of copying twice.
                let status = conn.select(&op.to).await?;
                if let Some(copied) = conn.find_message_id(message_id).await? {
                    conn.select(&op.message.folder).await?;
                    conn.uid_store(uid, &["\\Deleted"], &[]).await?;
                    conn.uid_expunge(uid).await?;
                    return Ok(Replayed::MovedTo(op.to.clone(), status.uidvalidity, copied));
                }
                conn.select(&op.message.folder).await?;
            }
            if let Some((uidvalidity, new_uid)) = conn.uid_move(uid, &op.to).await? {
                return Ok(Replayed::MovedTo(op.to.clone(), uidvalidity, new_uid));
            }
            let status = conn.select(&op.to).await?;
            Ok(match conn.find_message_id(message_id).await? {
                Some(uid) => Replayed::MovedTo(op.to.clone(), status.uidvalidity, uid),
                // Moved, but the server will not say where: the next sync finds it.
                None => Replayed::Done,
            })
        }
        Operation::Expunge(op) => {
            if let Some(uid) = locate(conn, &op.message).await? {
                conn.uid_store(uid, &["\\Deleted"], &[]).await?;
                conn.uid_expunge(uid).await?;
            }
            Ok(Replayed::Done)
        }
        Operation::CreateFolder(op) => {
            conn.create_folder(&op.name).await?;
            // Knowing its UIDVALIDITY at once lets a rename made elsewhere before the
            // next sync be recognised as one.
            let status = conn.select(&op.name).await?;
            Ok(Replayed::FolderCreated(status.uidvalidity))
        }
        Operation::RenameFolder(op) => {
            conn.rename_folder(&op.from, &op.to).await?;
            Ok(Replayed::Done)
        }
        Operation::DeleteFolder(op) => {
            conn.delete_folder(&op.name).await?;
            Ok(Replayed::Done)
        }
        Operation::Append(op) => {
            let raw = raw.ok_or_else(|| {
                crate::Error::not_found(format!("the stored copy of message {}", op.message))
            })?;
            // An earlier try may have uploaded it before the line dropped.
            let status = conn.select(&op.folder).await?;
            if change.attempts > 0 {
                if let Some(uid) = conn.find_message_id(&op.message_id_header).await? {
                    return Ok(Replayed::MovedTo(
                        op.folder.clone(),
                        status.uidvalidity,
                        uid,
                    ));
                }
            }
            let landed = conn.append(&op.folder, &op.flags.imap_names(), raw).await?;
            let (uidvalidity, uid) = match landed {
                Some(found) => found,
                None => {
                    let status = conn.select(&op.folder).await?;
                    match conn.find_message_id(&op.message_id_header).await? {
                        Some(uid) => (status.uidvalidity, uid),
                        None => return Ok(Replayed::Done),
                    }
                }
            };
            Ok(Replayed::MovedTo(op.folder.clone(), uidvalidity, uid))
        }
    }
}
