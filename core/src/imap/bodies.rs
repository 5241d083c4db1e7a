//! Whole messages: in one batch for small ones, in parts into a writer for large ones.

use super::uids::uid_set;
use super::ImapConnection;
use crate::error::{Error, ErrorKind, Result};

impl ImapConnection {
    /// Whole messages for `uids` in the selected folder, without setting \Seen.
    pub async fn fetch_bodies(&mut self, uids: &[u32]) -> Result<Vec<(u32, Vec<u8>)>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let fetches = self
            .uid_fetch_all(&uid_set(uids), "(UID BODY.PEEK[])")
            .await?;
        Ok(fetches
            .iter()
            .filter_map(|f| Some((f.uid?, f.body()?.to_vec())))
            .collect())
    }

    /// A message written to `out` in parts of `part` bytes (`BODY.PEEK[]<offset.part>`),
    /// so that no more than one part is held whatever its size. A part shorter than asked
    /// for is the last. `expected` is the size the server gave; a server that goes on
    /// well past it is refused rather than allowed to fill the disk. Ok(None) when the
    /// server no longer has the message.
    pub async fn fetch_body_to(
        &mut self,
        uid: u32,
        expected: u64,
        part: u64,
        out: &mut impl std::io::Write,
    ) -> Result<Option<u64>> {
        let ceiling = expected.saturating_mul(2).saturating_add(part);
        let mut written = 0u64;
        loop {
            let query = format!("(UID BODY.PEEK[]<{written}.{part}>)");
            let fetches = self.uid_fetch_all(&uid.to_string(), &query).await?;
            let target = &self.target;
            let Some(data) = fetches
                .iter()
                .find(|f| f.uid == Some(uid))
                .and_then(|f| f.body())
            else {
                return Ok(None);
            };
            let got = data.len() as u64;
            if got > part && written > 0 {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!("{target} sent {got} bytes of message {uid} where at most {part} were asked for"),
                ));
            }
            out.write_all(data).map_err(|err| {
                Error::new(
                    ErrorKind::Storage,
                    format!("cannot write message {uid} to a file: {err}"),
                )
            })?;
            written += got;
            if got != part {
                // Short: the end. Longer (a server that ignores the range): the whole.
                return Ok(Some(written));
            }
            if written > ceiling {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!("{target} sent over {written} bytes of message {uid}, which it said has {expected}"),
                ));
            }
        }
    }
}
