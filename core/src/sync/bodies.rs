//! Bodies: downloaded ahead of time for the newest messages of each folder, and on demand
//! when a message is opened (`BODY.PEEK`, so opening does not mark it read there).

use std::collections::HashMap;

use super::{blocking, plan, BodyPrefetch, SyncService};
use crate::error::{Error, ErrorKind, Result};
use crate::imap::ImapConnection;
use crate::mail::ParsedBody;
use crate::mime;
use crate::mime_file;
use crate::model::Account;
use crate::store::{BodyNeeded, FolderSyncState};

const BODY_BATCH_COUNT: usize = 200;
const FIRST_BODY_BATCH_BYTES: u64 = 256 << 10;
const BODY_BATCH_BYTES: u64 = 4 << 20;
/// A message larger than this is fetched on its own, in parts of this size, into a file
/// (memory stays bounded whatever its size).
const BODY_PART_BYTES: u64 = 4 << 20;

impl SyncService {
    /// Downloads bodies for the newest messages of a folder that have none yet.
    pub(super) async fn prefetch_bodies(
        &self,
        account: &Account,
        conn: &mut ImapConnection,
        state: &FolderSyncState,
        prefetch: BodyPrefetch,
    ) -> Result<u32> {
        let limit = match prefetch {
            BodyPrefetch::Newest(0) => return Ok(0),
            BodyPrefetch::Newest(n) => Some(n),
            BodyPrefetch::All => None,
        };
        if !state.prefetch_pending {
            return Ok(0);
        }
        let needed = self.store.bodies_needed(
            state.folder_id,
            state.uidvalidity,
            limit,
            self.download_limit()?,
        )?;
        if needed.is_empty() {
            self.store.set_prefetch_pending(state.folder_id, false)?;
            return Ok(0);
        }
        if conn.selected() != Some(state.remote_name.as_str()) {
            let status = conn.select(&state.remote_name).await?;
            if status.uidvalidity != state.uidvalidity {
                return Ok(0); // the next header pass resets this folder first
            }
        }
        let ids: HashMap<u32, i64> = needed.iter().map(|n| (n.uid, n.message_id)).collect();
        let (large, small): (Vec<&BodyNeeded>, Vec<&BodyNeeded>) = needed
            .iter()
            .partition(|n| u64::from(n.size) > BODY_PART_BYTES);
        let sizes: Vec<(u32, u32)> = small.iter().map(|n| (n.uid, n.size)).collect();
        let mut stored = 0;
        let mut pending: Option<tokio::task::JoinHandle<Result<()>>> = None;
        for batch in plan::body_batches(
            &sizes,
            BODY_BATCH_COUNT,
            FIRST_BODY_BATCH_BYTES,
            BODY_BATCH_BYTES,
        ) {
            let raws = match conn.fetch_bodies(&batch).await {
                Ok(raws) => raws,
                Err(err) => {
                    // What arrived before the failure is kept: let its batch finish.
                    if let Some(task) = pending.take() {
                        let _ = task.await;
                    }
                    return Err(err);
                }
            };
            if let Some(task) = pending.take() {
                task.await??;
            }
            let items: Vec<(i64, Vec<u8>)> = raws
                .into_iter()
                .filter_map(|(uid, raw)| Some((*ids.get(&uid)?, raw)))
                .collect();
            stored += items.len() as u32;
            let store = self.store.clone();
            pending = Some(tokio::task::spawn_blocking(move || {
                let parsed: Vec<(i64, ParsedBody, Vec<u8>)> = items
                    .into_iter()
                    .map(|(id, raw)| (id, mime::parse_body(&raw), raw))
                    .collect();
                store.store_bodies(&parsed)
            }));
        }
        if let Some(task) = pending.take() {
            task.await??;
        }
        for n in large {
            if self
                .download_to_file(conn, n.message_id, n.uid, n.size)
                .await?
            {
                stored += 1;
            }
        }
        self.store.set_prefetch_pending(state.folder_id, false)?;
        self.emit_changes(
            &account.name,
            &state.name,
            Vec::new(),
            needed.iter().map(|n| n.message_id).collect(),
            0,
        );
        Ok(stored)
    }

    /// Downloads one message's body now.
    pub(super) async fn download_body(&self, id: i64) -> Result<()> {
        let (account_id, remote_name, uidvalidity, uid) = self.store.message_server_location(id)?;
        let size = self.store.message_summary(id)?.size;
        let account = self.store.account_by_id(account_id)?;
        self.sessions
            .with_connection(&account, |mut conn| async move {
                let result = async {
                    let status = conn.select(&remote_name).await?;
                    if status.uidvalidity != uidvalidity {
                        return Err(Error::new(
                            ErrorKind::NotFound,
                            format!("folder '{remote_name}' changed on the server; sync, then open the message again"),
                        ));
                    }
                    if self.download_to_file(&mut conn, id, uid, size).await? {
                        Ok(())
                    } else {
                        Err(Error::not_found(format!(
                            "message {id} on the server (it may have been deleted elsewhere)"
                        )))
                    }
                }
                .await;
                (conn, result)
            })
            .await
    }

    /// One message fetched in parts into a file, parsed from the file and stored. False
    /// if the server no longer has it.
    async fn download_to_file(
        &self,
        conn: &mut ImapConnection,
        id: i64,
        uid: u32,
        size: u32,
    ) -> Result<bool> {
        let mut file = self.store.incoming_file()?;
        let fetched = conn
            .fetch_body_to(uid, u64::from(size), BODY_PART_BYTES, &mut file)
            .await?;
        if fetched.is_none() {
            return Ok(false);
        }
        file.finish()?;
        let store = self.store.clone();
        blocking(move || {
            let body = mime_file::parse_file(file.path())?.body;
            store.store_body_file(id, file, &body)
        })
        .await?;
        Ok(true)
    }
}
