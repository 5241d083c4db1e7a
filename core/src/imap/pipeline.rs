//! Header batches with several commands in flight: on a link with a long round trip the
//! server is never idle waiting for the next UID FETCH. Batches come back complete and in
//! order; each ended in a tagged OK, or the whole pipeline fails (and the connection,
//! with answers still on their way, must not be used again).

use std::collections::VecDeque;

use async_imap::imap_proto::{AttributeValue, RequestId, Response, Status};

use super::codes::{command_name, refusal, timed};
use super::uids::uid_set;
use super::{FetchedHeader, ImapConnection};
use crate::error::Result;
use crate::model::Flags;

/// Commands kept in flight.
const DEPTH: usize = 3;

struct InFlight {
    tag: RequestId,
    /// The batch's lowest and highest UID: batches cover disjoint ranges.
    range: (u32, u32),
    fetched: Vec<FetchedHeader>,
}

pub struct HeaderPipeline<'c> {
    conn: &'c mut ImapConnection,
    batches: std::vec::IntoIter<Vec<u32>>,
    in_flight: VecDeque<InFlight>,
    query: String,
}

impl ImapConnection {
    /// Fetches the headers of `batches` (each a disjoint UID range) in order, several
    /// commands at a time.
    pub fn header_pipeline(&mut self, batches: Vec<Vec<u32>>) -> HeaderPipeline<'_> {
        let query = self.header_query();
        HeaderPipeline {
            conn: self,
            batches: batches.into_iter(),
            in_flight: VecDeque::new(),
            query,
        }
    }
}

impl HeaderPipeline<'_> {
    /// The next batch's headers, or `None` when every batch is in.
    pub async fn next(&mut self) -> Result<Option<Vec<FetchedHeader>>> {
        let conn = &mut *self.conn;
        let (clock, target) = (conn.clock.clone(), conn.target.clone());
        let what = command_name("UID FETCH");
        let (batches, in_flight, query) = (&mut self.batches, &mut self.in_flight, &self.query);
        let run = async {
            while in_flight.len() < DEPTH {
                let Some(batch) = batches.next() else { break };
                if batch.is_empty() {
                    continue;
                }
                let command = format!("UID FETCH {} {query}", uid_set(&batch));
                let tag = conn.session.run_command(&command).await?;
                let low = batch.iter().copied().min().unwrap_or(0);
                let high = batch.iter().copied().max().unwrap_or(0);
                in_flight.push_back(InFlight {
                    tag,
                    range: (low, high),
                    fetched: Vec::with_capacity(batch.len()),
                });
            }
            if in_flight.is_empty() {
                return Ok(Ok(None));
            }
            loop {
                let Some(resp) = conn.session.read_response().await? else {
                    return Err(async_imap::error::Error::ConnectionLost);
                };
                match resp.parsed() {
                    Response::Fetch(_, attrs) => {
                        let Some(header) = fetched_header(attrs) else {
                            continue;
                        };
                        let owner = in_flight
                            .iter_mut()
                            .find(|f| (f.range.0..=f.range.1).contains(&header.uid));
                        if let Some(owner) = owner {
                            owner.fetched.push(header);
                        }
                    }
                    Response::Done {
                        tag,
                        status,
                        outcome,
                    } => {
                        let Some(pos) = in_flight.iter().position(|f| f.tag == *tag) else {
                            continue;
                        };
                        if !matches!(status, Status::Ok) {
                            return Ok(Err(refusal(&target, &what, status, outcome)));
                        }
                        // Servers answer in order; should one not, the earlier batch
                        // still waits for its own completion.
                        if pos == 0 {
                            let done = in_flight.pop_front().map(|f| f.fetched);
                            return Ok(Ok(done));
                        }
                        in_flight[pos].tag = RequestId(String::new());
                    }
                    _ => {}
                }
                // An earlier completion that arrived out of order: hand the front batch
                // out once its own completion has come.
                if in_flight
                    .front()
                    .is_some_and(|f| f.tag == RequestId(String::new()))
                {
                    return Ok(Ok(in_flight.pop_front().map(|f| f.fetched)));
                }
            }
        };
        let result = timed(&clock, &target, &what, run).await?;
        conn.drain_unsolicited();
        result
    }
}

/// One message's header facts from a FETCH response.
fn fetched_header(attrs: &[AttributeValue<'_>]) -> Option<FetchedHeader> {
    let mut out = FetchedHeader::default();
    let mut uid = None;
    for attr in attrs {
        match attr {
            AttributeValue::Uid(u) => uid = Some(*u),
            AttributeValue::ModSeq(m) => out.modseq = *m,
            AttributeValue::Rfc822Size(s) => out.size = *s,
            AttributeValue::Flags(flags) => out.flags = flags_from_names(flags),
            AttributeValue::InternalDate(date) => out.internal_date = internal_date(date),
            AttributeValue::GmailMsgId(id) => out.gm_msgid = Some(*id),
            AttributeValue::BodySection { data, .. } => {
                out.header = data.as_deref().unwrap_or_default().to_vec();
            }
            _ => {}
        }
    }
    out.uid = uid?;
    Some(out)
}

pub(super) fn flags_from_names(names: &[std::borrow::Cow<'_, str>]) -> Flags {
    let mut out = Flags::default();
    for name in names {
        match name.to_ascii_lowercase().as_str() {
            "\\seen" => out.seen = true,
            "\\answered" => out.answered = true,
            "\\flagged" => out.flagged = true,
            "\\draft" => out.draft = true,
            "\\deleted" => out.deleted = true,
            "$forwarded" => out.forwarded = true,
            _ => {}
        }
    }
    out
}

/// INTERNALDATE (`"07-Dec-2026 04:34:30 +0000"`, the day maybe space-padded) in seconds.
fn internal_date(text: &str) -> i64 {
    chrono::DateTime::parse_from_str(text.trim(), "%d-%b-%Y %H:%M:%S %z")
        .map(|d| d.timestamp())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_facts_from_a_fetch_answer() {
        let line = b"* 3 FETCH (UID 17 FLAGS (\\Seen $Forwarded) RFC822.SIZE 512 INTERNALDATE \" 7-Dec-2026 04:34:30 +0100\" MODSEQ (99) BODY[HEADER.FIELDS (SUBJECT)] {13}\r\nSubject: hi\r\n)\r\n";
        let (_, resp) = Response::parse(line).unwrap();
        let Response::Fetch(_, attrs) = resp else {
            panic!("not a FETCH")
        };
        let h = fetched_header(&attrs).unwrap();
        assert_eq!((h.uid, h.size, h.modseq), (17, 512, 99));
        assert!(h.flags.seen && h.flags.forwarded && !h.flags.flagged);
        assert_eq!(h.internal_date, 1_796_614_470);
        assert_eq!(h.header, b"Subject: hi\r\n");
    }
}
