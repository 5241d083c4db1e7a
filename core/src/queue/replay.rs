//! The wire: carries one queued change out on the server. Every step is safe to repeat:
//! a change whose connection broke after the server acted is recognised on the next try.

use std::collections::HashSet;

use crate::error::{Result, ServerCode};
use crate::imap::ImapConnection;
use crate::mail::RemoteFolder;
use crate::mime;
use crate::model::FolderRole;
use crate::queue::ops::{MessageAt, Operation};
use crate::queue::QueuedChange;

/// What the server now holds for the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed {
    Done,
    /// The message is now at (folder, UIDVALIDITY, UID): moved there by this change. The
    /// folder may be another name than the change's target when that folder was renamed
    /// on another device.
    MovedTo(String, u32, u32),
    /// Another client had moved the message to (folder, UIDVALIDITY, UID); the change
    /// was applied there.
    FoundAt(String, u32, u32),
    /// The folder exists on the server now, with this UIDVALIDITY.
    FolderCreated(u32),
}

/// What this device knows that helps a change find its way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    /// The UIDVALIDITY of a move's target folder, when a sync has seen it.
    pub target_uidvalidity: Option<u32>,
    /// The server names of the account's folders as the last sync saw them (for a
    /// move): none of them is the new name of a folder renamed since.
    pub folders: HashSet<String>,
}

fn gone(message: &MessageAt) -> crate::Error {
    crate::Error::not_found(format!(
        "message <{}> on the server (it was deleted on another device)",
        message.message_id_header
    ))
}

/// Looks for a message in every other folder: another client may have moved it. Leaves
/// the folder where it was found selected. Gmail's All Mail holds every message and is
/// never where a message was moved to, so it is not searched.
async fn find_elsewhere(
    conn: &mut ImapConnection,
    message: &MessageAt,
    not_in: &[&str],
) -> Result<Option<(String, u32, u32)>> {
    if message.message_id_header.is_empty() || mime::is_stand_in(&message.message_id_header) {
        return Ok(None);
    }
    let mut folders: Vec<RemoteFolder> = conn
        .list_folders()
        .await?
        .into_iter()
        .map(|(folder, _)| folder)
        .filter(|f| f.selectable && f.role != Some(FolderRole::All))
        .filter(|f| !not_in.contains(&f.remote_name.as_str()))
        .collect();
    // Where other clients usually move mail first.
    let rank = |f: &RemoteFolder| match f.role {
        Some(FolderRole::Archive) => 0,
        Some(FolderRole::Inbox) => 1,
        Some(FolderRole::Trash) => 2,
        None => 3,
        _ => 4,
    };
    folders.sort_by_key(rank);
    for folder in folders {
        let status = conn.select(&folder.remote_name).await?;
        if let Some(uid) = conn.find_message_id(&message.message_id_header).await? {
            return Ok(Some((folder.remote_name, status.uidvalidity, uid)));
        }
    }
    Ok(None)
}

/// The name a folder has now if another device renamed it: the one folder new since the
/// last sync with its UIDVALIDITY (RFC 3501 keeps a mailbox's UIDVALIDITY across RENAME,
/// but two folders may share one: servers derive it from the time, or a counter).
async fn renamed_to(
    conn: &mut ImapConnection,
    old: &str,
    uidvalidity: u32,
    known_folders: &HashSet<String>,
) -> Result<Option<String>> {
    let listed = conn.list_folders().await?;
    let mut matches = Vec::new();
    for (folder, status) in listed {
        if folder.remote_name == old
            || !folder.selectable
            || known_folders.contains(&folder.remote_name)
        {
            continue;
        }
        let status = match status {
            Some(status) => status,
            None => conn.status(&folder.remote_name).await?,
        };
        if status.uidvalidity == uidvalidity {
            matches.push(folder.remote_name);
        }
    }
    // Two candidates: which one it became cannot be told, so the move fails visibly.
    Ok(match <[String; 1]>::try_from(matches) {
        Ok([name]) => Some(name),
        Err(_) => None,
    })
}

/// Finds the message on the server: its recorded UID if the folder's UIDVALIDITY still
/// matches and the message there is still this one (a server that lost its index may
/// have given the UID to another), else by Message-ID.
async fn locate(conn: &mut ImapConnection, message: &MessageAt) -> Result<Option<u32>> {
    let status = conn.select(&message.folder).await?;
    if message.uid != 0 && status.uidvalidity == message.uidvalidity {
        if let Some(header) = conn.message_id_at(message.uid).await? {
            let there = mime::parse_headers(&header).message_id;
            // A message without a Message-ID got a stand-in made of other fields: the
            // UID is all there is to go by.
            if there == message.message_id_header || mime::is_stand_in(&message.message_id_header) {
                return Ok(Some(message.uid));
            }
        }
    }
    conn.find_message_id(&message.message_id_header).await
}

/// Replays `change`; `raw` holds the message for an upload (APPEND).
pub async fn replay(
    conn: &mut ImapConnection,
    change: &QueuedChange,
    raw: Option<&[u8]>,
    known: Known,
) -> Result<Replayed> {
    match &change.op {
        Operation::SetFlags(op) => {
            let (add, remove) = (op.add.imap_names(), op.remove.imap_names());
            if let Some(uid) = locate(conn, &op.message).await? {
                conn.uid_store(uid, &add, &remove).await?;
                return Ok(Replayed::Done);
            }
            let Some((folder, uidvalidity, uid)) =
                find_elsewhere(conn, &op.message, &[&op.message.folder]).await?
            else {
                return Err(gone(&op.message));
            };
            conn.uid_store(uid, &add, &remove).await?;
            Ok(Replayed::FoundAt(folder, uidvalidity, uid))
        }
        Operation::Move(op) => {
            let message_id = &op.message.message_id_header;
            let uid = match locate(conn, &op.message).await? {
                Some(uid) => uid,
                None => {
                    // Already moved by an earlier try whose answer was lost?
                    if let Ok(status) = conn.select(&op.to).await {
                        if let Some(uid) = conn.find_message_id(message_id).await? {
                            return Ok(Replayed::MovedTo(op.to.clone(), status.uidvalidity, uid));
                        }
                    }
                    // Moved by another client: move it on from where it is now.
                    find_elsewhere(conn, &op.message, &[&op.message.folder, &op.to])
                        .await?
                        .ok_or_else(|| gone(&op.message))?
                        .2
                }
            };
            if change.attempts > 0 && !conn.caps.move_ {
                // Without MOVE an earlier try may have copied it before the line dropped:
                // finish that move instead of copying twice.
                let source = conn.selected().map(str::to_owned).unwrap_or_default();
                if let Ok(status) = conn.select(&op.to).await {
                    if let Some(copied) = conn.find_message_id(message_id).await? {
                        conn.select(&source).await?;
                        conn.uid_store(uid, &["\\Deleted"], &[]).await?;
                        conn.uid_expunge(uid).await?;
                        return Ok(Replayed::MovedTo(op.to.clone(), status.uidvalidity, copied));
                    }
                }
                conn.select(&source).await?;
            }
            let (to, uidvalidity, new_uid) =
                move_following_renames(conn, uid, &op.to, &known).await?;
            Ok(match (uidvalidity, new_uid) {
                (Some(v), Some(u)) => Replayed::MovedTo(to, v, u),
                // Moved, but the server will not say where: the next sync finds it.
                _ => Replayed::Done,
            })
        }
        Operation::Expunge(op) => {
            let found = match locate(conn, &op.message).await? {
                Some(uid) => Some(uid),
                // Moved by another client: deleted for good here means there too.
                None => find_elsewhere(conn, &op.message, &[&op.message.folder])
                    .await?
                    .map(|(_, _, uid)| uid),
            };
            if let Some(uid) = found {
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

/// Moves the message at `uid` of the selected folder to `to`; if `to` is gone because
/// another device renamed it, to its new name. Returns where it landed: the folder, and
/// its UIDVALIDITY and UID if the server says or they can be found by Message-ID.
async fn move_following_renames(
    conn: &mut ImapConnection,
    uid: u32,
    to: &str,
    known: &Known,
) -> Result<(String, Option<u32>, Option<u32>)> {
    let source = conn.selected().map(str::to_owned);
    let message_id = match conn.message_id_at(uid).await? {
        Some(header) => mime::parse_headers(&header).message_id,
        None => String::new(),
    };
    let mut target = to.to_owned();
    let landed = match conn.uid_move(uid, &target).await {
        Ok(landed) => landed,
        Err(err)
            if matches!(
                err.code,
                Some(ServerCode::TryCreate | ServerCode::Nonexistent)
            ) =>
        {
            let Some(uidvalidity) = known.target_uidvalidity else {
                return Err(err);
            };
            let Some(renamed) = renamed_to(conn, to, uidvalidity, &known.folders).await? else {
                return Err(err);
            };
            tracing::info!(from = to, to = %renamed, "move follows a folder renamed elsewhere");
            target = renamed;
            if let Some(source) = &source {
                conn.select(source).await?;
            }
            conn.uid_move(uid, &target).await?
        }
        Err(err) => return Err(err),
    };
    if let Some((uidvalidity, new_uid)) = landed {
        return Ok((target, Some(uidvalidity), Some(new_uid)));
    }
    let status = conn.select(&target).await?;
    let found = conn.find_message_id(&message_id).await?;
    Ok((target, found.map(|_| status.uidvalidity), found))
}
