//! The byte stream of a POP3 session and the reading of its answers, each bounded.

use std::io::Write;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream};

use crate::error::{server_text, Error, ErrorKind, Result, ServerCode};
use crate::net::{self, BoxStream};

/// The longest status or listing line we accept (RFC 1939 allows 512 octets).
pub(super) const LINE_LIMIT: usize = 64 << 10;
/// Message lines are read in pieces of at most this many bytes (lines may be longer).
pub(super) const CHUNK: usize = 64 << 10;

/// The byte stream of a session and the reading of POP3 answers from it.
pub(super) struct Wire {
    pub(super) stream: BufStream<BoxStream>,
    pub(super) target: String,
}

impl Wire {
    pub(super) fn take_stream(&mut self) -> BoxStream {
        let (placeholder, _) = tokio::io::duplex(1);
        std::mem::replace(&mut self.stream, buffered(Box::new(placeholder))).into_inner()
    }

    pub(super) async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let target = &self.target;
        self.stream
            .write_all(bytes)
            .await
            .map_err(|err| net::io_error(target, err))?;
        self.stream
            .flush()
            .await
            .map_err(|err| net::io_error(target, err))
    }

    /// A status line: Ok(Ok(line)) for +OK, Ok(Err(refusal)) for -ERR.
    pub(super) async fn status(&mut self, what: &str) -> Result<Result<String>> {
        let line = self.status_line(what).await?;
        self.parse_status(what, line)
    }

    /// The status of a SASL exchange whose first message went with the command: a server
    /// that refuses may first send a challenge with its reasons (RFC 7628 §3.2.2), which
    /// is answered with `ack` so that its -ERR follows.
    pub(super) async fn sasl_status(&mut self, what: &str, ack: &[u8]) -> Result<Result<String>> {
        let line = self.status_line(what).await?;
        if line.starts_with('+') && !line.starts_with("+OK") {
            self.write(ack).await?;
            return self.status(what).await;
        }
        self.parse_status(what, line)
    }

    async fn status_line(&mut self, what: &str) -> Result<String> {
        let mut raw = Vec::new();
        self.line(&mut raw, LINE_LIMIT, what).await?;
        strip_line_end(&mut raw);
        Ok(String::from_utf8_lossy(&raw).into_owned())
    }

    fn parse_status(&self, what: &str, line: String) -> Result<Result<String>> {
        if line.starts_with("+OK") {
            Ok(Ok(line))
        } else if let Some(text) = line.strip_prefix("-ERR") {
            let text = text.trim();
            let code = text
                .strip_prefix('[')
                .and_then(|rest| rest.split_once(']'))
                .map(|(code, _)| ServerCode::from_atom(code));
            Ok(Err(Error::refused(
                format!("{} refused {what}: {}", self.target, server_text(text)),
                code,
            )))
        } else {
            Err(Error::protocol(format!(
                "{} answered {what} with neither +OK nor -ERR",
                self.target
            )))
        }
    }

    /// Appends one line (with its line end) to `buffer`; a line of `limit` bytes or more
    /// is an error, and so is the end of the connection.
    pub(super) async fn line(
        &mut self,
        buffer: &mut Vec<u8>,
        limit: usize,
        what: &str,
    ) -> Result<()> {
        let start = buffer.len();
        let n = (&mut self.stream)
            .take(limit as u64)
            .read_until(b'\n', buffer)
            .await
            .map_err(|err| net::io_error(&self.target, err))?;
        if n == 0 {
            return Err(self.closed(what));
        }
        if buffer[start..].last() != Some(&b'\n') {
            return Err(if n >= limit {
                Error::protocol(format!(
                    "{} sent a line longer than {limit} bytes in its answer to {what}",
                    self.target
                ))
            } else {
                self.closed(what)
            });
        }
        Ok(())
    }

    /// The lines of a multi-line answer up to its final ".", dot-unstuffed and without
    /// line ends; more than `limit` bytes in all is an error.
    pub(super) async fn lines(
        &mut self,
        what: &str,
        limit: usize,
        mut each: impl FnMut(&[u8]),
    ) -> Result<()> {
        let mut line = Vec::new();
        let mut total = 0;
        loop {
            line.clear();
            let remaining = limit.saturating_sub(total).max(3);
            self.line(&mut line, remaining + 1, what)
                .await
                .map_err(|err| self.over_limit(err, what, limit))?;
            total += line.len();
            strip_line_end(&mut line);
            if line == b"." {
                return Ok(());
            }
            if total > limit {
                return Err(self.too_long(what, limit));
            }
            let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
            each(unstuffed);
        }
    }

    /// The message that follows a +OK to RETR, streamed into `sink`: dot-unstuffed,
    /// with CRLF line ends, read in pieces of at most `CHUNK` bytes (a line may be
    /// longer than any buffer). Returns the bytes written.
    pub(super) async fn message<W: Write + ?Sized>(
        &mut self,
        what: &str,
        ceiling: u64,
        sink: &mut W,
    ) -> Result<u64> {
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut at_line_start = true;
        // A piece that ended in CR, whose LF may begin the next piece.
        let mut held_cr = false;
        let mut written: u64 = 0;
        loop {
            chunk.clear();
            let n = (&mut self.stream)
                .take(CHUNK as u64)
                .read_until(b'\n', &mut chunk)
                .await
                .map_err(|err| net::io_error(&self.target, err))?;
            if n == 0 {
                return Err(self.closed(what));
            }
            let complete = chunk.ends_with(b"\n");
            let mut data = &chunk[..];
            if at_line_start {
                if complete && (data == b".\r\n" || data == b".\n") {
                    return Ok(written);
                }
                data = data.strip_prefix(b".").unwrap_or(data);
            }
            let mut out: [&[u8]; 3] = [b"", b"", b""];
            if held_cr && !data.starts_with(b"\n") {
                out[0] = b"\r";
            }
            held_cr = false;
            if complete {
                let content = &data[..data.len() - 1];
                out[1] = content.strip_suffix(b"\r").unwrap_or(content);
                out[2] = b"\r\n";
            } else if let Some(content) = data.strip_suffix(b"\r") {
                out[1] = content;
                held_cr = true;
            } else {
                out[1] = data;
            }
            at_line_start = complete;
            for piece in out {
                written += piece.len() as u64;
            }
            if written > ceiling {
                return Err(Error::protocol(format!(
                    "{} sent more than {ceiling} bytes for {what}, more than it announced: the answer was cut",
                    self.target
                )));
            }
            for piece in out {
                sink.write_all(piece).map_err(|err| {
                    Error::new(
                        ErrorKind::Storage,
                        format!("cannot keep the answer to {what}: {err}"),
                    )
                })?;
            }
        }
    }

    pub(super) fn closed(&self, what: &str) -> Error {
        Error::new(
            ErrorKind::Network,
            format!(
                "{} closed the connection during its answer to {what}",
                self.target
            ),
        )
    }

    pub(super) fn too_long(&self, what: &str, limit: usize) -> Error {
        Error::protocol(format!(
            "{} sent more than {limit} bytes in its answer to {what}: the answer was cut",
            self.target
        ))
    }

    pub(super) fn over_limit(&self, err: Error, what: &str, limit: usize) -> Error {
        if err.kind == ErrorKind::Protocol {
            self.too_long(what, limit)
        } else {
            err
        }
    }

    pub(super) fn bad_reply(&self, what: &str, line: &str) -> Error {
        Error::protocol(format!(
            "{} sent a reply to {what} we could not read: {}",
            self.target,
            server_text(line)
        ))
    }
}

/// Large reads for message bodies; commands are small.
pub(super) fn buffered(stream: BoxStream) -> BufStream<BoxStream> {
    BufStream::with_capacity(CHUNK, 4 << 10, stream)
}

pub(super) fn strip_line_end(line: &mut Vec<u8>) {
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
}

pub(super) fn join_lines(lines: Vec<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines.iter().map(|l| l.len() + 2).sum());
    for line in lines {
        out.extend_from_slice(&line);
        out.extend_from_slice(b"\r\n");
    }
    out
}
