use std::fmt;
use std::fmt::Write as _;
use std::pin::Pin;

#[cfg(feature = "runtime-async-std")]
use async_std::io::{Read, Write, WriteExt};
use bytes::{Buf, BytesMut};
use futures_util::stream::Stream;
use futures_util::task::{Context, Poll};
use futures_util::{io, ready};
#[cfg(feature = "runtime-tokio")]
use tokio::io::{AsyncRead as Read, AsyncWrite as Write, AsyncWriteExt};

use crate::types::{Request, ResponseData};

/// Limits on one response from the server.
///
/// A response over a limit fails as soon as the limit is crossed, with an [`io::Error`] of
/// kind [`io::ErrorKind::InvalidData`], and nothing more of it is buffered; the stream ends
/// there. So the memory one response takes stays below `max_response` (plus one read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseLimits {
    /// The longest line, in bytes, without its CRLF and without the literals it announces.
    pub max_line: usize,
    /// The largest literal (`{N}`) the server may announce, in bytes.
    pub max_literal: usize,
    /// The largest response, lines and literals together, in bytes.
    pub max_response: usize,
}

impl ResponseLimits {
    /// 512 MiB for each limit: the size of the largest response async-imap 0.12 accepted.
    pub const DEFAULT: ResponseLimits = ResponseLimits {
        max_line: 512 * 1024 * 1024,
        max_literal: 512 * 1024 * 1024,
        max_response: 512 * 1024 * 1024,
    };
}

impl Default for ResponseLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Wraps a stream, and parses incoming data as imap server messages. Writes outgoing data
/// as imap client messages.
#[derive(Debug)]
pub struct ImapStream<R: Read + Write> {
    /// The underlying stream
    pub(crate) inner: R,
    /// The buffer; it starts with the response being received.
    buffer: Buffer,
    /// Where that response ends, as far as it has arrived.
    framer: Framer,
    limits: ResponseLimits,

    /// True if the stream should not return any more items.
    ///
    /// This is set when reading from a stream
    /// returns an error.
    /// Afterwards the stream returns only `None`
    /// and `poll_next()` does not read
    /// from the underlying stream.
    read_closed: bool,
}

impl<R: Read + Write + Unpin> ImapStream<R> {
    /// Creates a new `ImapStream` based on the given `Read`er.
    pub fn new(inner: R) -> Self {
        Self::with_limits(inner, ResponseLimits::DEFAULT)
    }

    /// Creates a new `ImapStream` that enforces the given limits on each response.
    pub fn with_limits(inner: R, limits: ResponseLimits) -> Self {
        ImapStream {
            inner,
            buffer: Buffer::new(),
            framer: Framer::default(),
            limits,
            read_closed: false,
        }
    }

    /// The limits on each response.
    pub fn limits(&self) -> ResponseLimits {
        self.limits
    }

    /// Sets the limits on each response; they apply to the response being received too.
    pub fn set_limits(&mut self, limits: ResponseLimits) {
        self.limits = limits;
    }

    pub async fn encode(&mut self, msg: Request) -> Result<(), io::Error> {
        log::trace!("encode: input: {:?}, {}", msg.0, loggable(&msg));

        if let Some(tag) = msg.0 {
            self.inner.write_all(tag.as_bytes()).await?;
            self.inner.write_all(b" ").await?;
        }
        self.inner.write_all(&msg.1).await?;
        self.inner.write_all(b"\r\n").await?;

        Ok(())
    }

    /// Gets a reference to the underlying stream.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Gets a mutable reference to the underlying stream.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Returns underlying stream.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Flushes the underlying stream.
    pub async fn flush(&mut self) -> Result<(), io::Error> {
        self.inner.flush().await
    }

    pub fn as_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Decodes the next response from the buffer, skipping untagged responses that
    /// imap-proto cannot parse.
    ///
    /// Returns `None` if the buffer does not contain a complete response. Each byte is
    /// scanned once, and each response parsed once, when all of it has arrived.
    fn decode(&mut self) -> io::Result<Option<ResponseData>> {
        loop {
            let Some(len) = self.framer.scan(self.buffer.data(), &self.limits)? else {
                return Ok(None);
            };
            self.framer = Framer::default();
            let frame = self.buffer.take(len);
            if let Some(response) = self.parse(frame)? {
                return Ok(Some(response));
            }
        }
    }

    /// Parses one complete response; `None` if it is an untagged response imap-proto
    /// does not know.
    fn parse(&mut self, frame: BytesMut) -> io::Result<Option<ResponseData>> {
        let mut consumed = frame.len();
        let parsed = ResponseData::try_new(frame, |buf| match imap_proto::Response::parse(buf) {
            Ok((rest, response)) => {
                consumed = buf.len() - rest.len();
                Ok(response)
            }
            Err(_) => Err((buf.starts_with(b"*") && !known_kind(buf), preview(buf))),
        });
        match parsed {
            Ok(response) => {
                let raw = response.borrow_owner();
                log::trace!("decode: {}", preview(&raw[..consumed]));
                if consumed < raw.len() {
                    // A line that ended in text like `{5}` was taken for a literal
                    // announcement: what follows it belongs to the next response.
                    self.buffer.unread(&raw[consumed..]);
                }
                Ok(Some(response))
            }
            Err((true, text)) => {
                log::debug!("skipping an untagged response imap-proto cannot parse: {text}");
                Ok(None)
            }
            Err((false, text)) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unable to parse the server's response {text}"),
            )),
        }
    }

    fn do_poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<ResponseData>>> {
        let this = &mut *self;
        loop {
            if let Some(response) = this.decode()? {
                return Poll::Ready(Some(Ok(response)));
            }
            this.buffer
                .reserve_for_read(this.framer.max_len(&this.limits));
            let buf = this.buffer.free_as_mut_slice();

            // The buffer has free space, so 0 bytes read means EOF.
            debug_assert!(!buf.is_empty());

            #[cfg(feature = "runtime-async-std")]
            let num_bytes_read = ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;

            #[cfg(feature = "runtime-tokio")]
            let num_bytes_read = {
                let buf = &mut tokio::io::ReadBuf::new(buf);
                let start = buf.filled().len();
                ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
                buf.filled().len() - start
            };

            if num_bytes_read == 0 {
                if this.buffer.used() > 0 {
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "the connection closed in the middle of a response: {}",
                            preview(this.buffer.data())
                        ),
                    ))));
                }
                return Poll::Ready(None);
            }
            this.buffer.extend_used(num_bytes_read);
        }
    }
}

/// At most 100 bytes of `bytes`, quoted, printable ASCII as it is and other bytes as
/// `\xNN`, followed by the total length: `"A1 OK done\x0d\x0a" (12 bytes)`.
pub(crate) fn preview(bytes: &[u8]) -> String {
    const SHOWN: usize = 100;
    let mut out = String::with_capacity(SHOWN + 24);
    out.push('"');
    push_escaped(&mut out, &bytes[..bytes.len().min(SHOWN)]);
    out.push('"');
    if bytes.len() > SHOWN {
        out.push_str("...");
    }
    let _ = write!(out, " ({} bytes)", bytes.len());
    out
}

/// What the trace log shows of a command: its preview, except for secrets. The arguments
/// of LOGIN, an AUTHENTICATE initial response and untagged lines (SASL responses to the
/// server's continuations; only `DONE`, which ends IDLE, is shown) are replaced by their
/// length: `"LOGIN <20 bytes not logged>" (26 bytes)`.
fn loggable(request: &Request) -> String {
    let bytes = &request.1;
    let shown = if request.0.is_none() {
        if bytes.eq_ignore_ascii_case(b"DONE") {
            bytes.len()
        } else {
            0
        }
    } else {
        let mut words = bytes.splitn(3, |&b| b == b' ');
        let verb = words.next().unwrap_or_default();
        if verb.eq_ignore_ascii_case(b"LOGIN") {
            verb.len()
        } else if verb.eq_ignore_ascii_case(b"AUTHENTICATE") {
            verb.len() + words.next().map_or(0, |mechanism| 1 + mechanism.len())
        } else {
            bytes.len()
        }
    };
    if shown >= bytes.len() {
        return preview(bytes);
    }
    let mut out = String::from("\"");
    let mut hidden = bytes.len() - shown;
    if shown > 0 {
        push_escaped(&mut out, &bytes[..shown]);
        out.push(' ');
        hidden -= 1;
    }
    let _ = write!(out, "<{hidden} bytes not logged>\" ({} bytes)", bytes.len());
    out
}

/// Printable ASCII as it is, other bytes as `\\xNN`.
fn push_escaped(out: &mut String, bytes: &[u8]) {
    for &byte in bytes {
        match byte {
            0x20..=0x7e => out.push(char::from(byte)),
            _ => {
                let _ = write!(out, "\\x{byte:02x}");
            }
        }
    }
}

fn limit_error(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Whether an untagged response is of a kind imap-proto parses: one of those that does
/// not parse is a broken answer (an error), not an unknown extension (skipped). The kind
/// is the first word after `* `, or after `* <number> `.
fn known_kind(buf: &[u8]) -> bool {
    const KNOWN: &[&str] = &[
        "OK", "NO", "BAD", "BYE", "PREAUTH", "CAPABILITY", "LIST", "LSUB", "STATUS",
        "SEARCH", "FLAGS", "EXISTS", "RECENT", "EXPUNGE", "FETCH", "ENABLED", "METADATA",
        "VANISHED", "QUOTA", "QUOTAROOT", "ID", "ACL", "LISTRIGHTS", "MYRIGHTS",
        "NAMESPACE", "ESEARCH",
    ];
    let mut words = buf
        .get(2..)
        .unwrap_or_default()
        .split(|b| *b == b' ' || *b == b'\r' || *b == b'(')
        .filter(|w| !w.is_empty());
    let first = words.next().unwrap_or_default();
    let kind = if first.iter().all(u8::is_ascii_digit) {
        words.next().unwrap_or_default()
    } else {
        first
    };
    KNOWN.iter().any(|k| k.as_bytes().eq_ignore_ascii_case(kind))
}

/// Finds where the response at the start of the buffer ends: at a CRLF outside literals.
/// A line ending in `{N}`, `{N+}` or `~{N}` announces N bytes of literal, which are
/// skipped. Resumes where the previous call stopped, so each byte is examined once.
#[derive(Debug, Default)]
struct Framer {
    /// Bytes of the response examined so far.
    scanned: usize,
    /// Where the line being scanned starts.
    line_start: usize,
    /// Bytes of an announced literal not received yet.
    literal_left: usize,
}

impl Framer {
    /// Returns the length of the response if all of it is in `buf`.
    fn scan(&mut self, buf: &[u8], limits: &ResponseLimits) -> io::Result<Option<usize>> {
        loop {
            if self.literal_left > 0 {
                let received = self.literal_left.min(buf.len() - self.scanned);
                self.scanned += received;
                self.literal_left -= received;
                if self.literal_left > 0 {
                    return Ok(None);
                }
                self.line_start = self.scanned;
            }
            let Some(offset) = buf[self.scanned..].iter().position(|&b| b == b'\n') else {
                self.scanned = buf.len();
                let line = &buf[self.line_start..];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                check_line(line.len(), limits)?;
                check_response(buf.len(), limits)?;
                return Ok(None);
            };
            let lf = self.scanned + offset;
            self.scanned = lf + 1;
            let Some(line) = buf[self.line_start..lf].strip_suffix(b"\r") else {
                continue; // a bare LF is part of the line
            };
            check_line(line.len(), limits)?;
            check_response(self.scanned, limits)?;
            let Some(literal) = announced_literal(line) else {
                return Ok(Some(self.scanned));
            };
            if literal > limits.max_literal {
                return Err(limit_error(format!(
                    "the server announced a literal of {literal} bytes, more than {} bytes",
                    limits.max_literal
                )));
            }
            check_response(self.scanned.saturating_add(literal), limits)?;
            self.literal_left = literal;
            self.line_start = self.scanned;
        }
    }

    /// The most bytes the response may take, as far as is known yet.
    fn max_len(&self, limits: &ResponseLimits) -> usize {
        let line_start = if self.literal_left > 0 {
            self.scanned + self.literal_left
        } else {
            self.line_start
        };
        line_start
            .saturating_add(limits.max_line)
            .saturating_add(2)
            .min(limits.max_response)
    }
}

fn check_line(len: usize, limits: &ResponseLimits) -> io::Result<()> {
    if len > limits.max_line {
        return Err(limit_error(format!(
            "the server sent a line longer than {} bytes",
            limits.max_line
        )));
    }
    Ok(())
}

fn check_response(len: usize, limits: &ResponseLimits) -> io::Result<()> {
    if len > limits.max_response {
        return Err(limit_error(format!(
            "the server sent a response longer than {} bytes",
            limits.max_response
        )));
    }
    Ok(())
}

/// The size of the literal a line (without its CRLF) announces: the line ends in `{N}`,
/// `{N+}` or `~{N}`. A size too large for `usize` comes out as `usize::MAX`.
fn announced_literal(line: &[u8]) -> Option<usize> {
    let rest = line.strip_suffix(b"}")?;
    let rest = rest.strip_suffix(b"+").unwrap_or(rest);
    let digits = rest.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let (before, digits) = rest.split_at(rest.len() - digits);
    if digits.is_empty() || !before.ends_with(b"{") {
        return None;
    }
    Some(digits.iter().fold(0usize, |size, &digit| {
        size.saturating_mul(10)
            .saturating_add(usize::from(digit - b'0'))
    }))
}

/// The receive buffer: `block[..offset]` holds what has been received and not yet decoded.
struct Buffer {
    /// The buffer itself.
    block: BytesMut,
    /// Offset where used bytes range ends.
    offset: usize,
}

impl Buffer {
    /// One TLS record.
    const INITIAL_SIZE: usize = 16 * 1024;
    /// Free space a read gets at least.
    const MIN_READ: usize = 4 * 1024;
    /// Responses at least this long are handed over without a copy, sharing the block.
    const SHARE_FROM: usize = 64 * 1024;

    fn new() -> Self {
        Self {
            block: BytesMut::zeroed(Self::INITIAL_SIZE),
            offset: 0,
        }
    }

    /// Returns the number of bytes in the buffer containing data.
    fn used(&self) -> usize {
        self.offset
    }

    /// The bytes received and not yet decoded.
    fn data(&self) -> &[u8] {
        &self.block[..self.offset]
    }

    /// Returns the unused part of the buffer to which new data can be written.
    fn free_as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.block[self.offset..]
    }

    /// Indicate how many new bytes were written into the buffer.
    ///
    /// You can not write past the end of the buffer, so extending more then there is free
    /// space marks the entire buffer as used.
    fn extend_used(&mut self, num_bytes: usize) {
        self.offset = (self.offset + num_bytes).min(self.block.len());
    }

    /// Makes at least [`Self::MIN_READ`] bytes free, doubling the size, but growing no
    /// further than `max_len` plus [`Self::MIN_READ`] (the most a response under the
    /// limits needs, and one read past that to tell that a limit was crossed).
    ///
    /// A new block is allocated zeroed (`calloc`), so the pages not written yet take no
    /// memory.
    fn reserve_for_read(&mut self, max_len: usize) {
        if self.block.len() - self.offset >= Self::MIN_READ {
            return;
        }
        let cap = max_len.saturating_add(Self::MIN_READ);
        let doubled = (2 * self.offset).max(Self::INITIAL_SIZE);
        // Go to the cap at once rather than stop just short of it: growing then would
        // copy nearly all of it once more.
        let size = if doubled.saturating_mul(2) > cap {
            cap
        } else {
            doubled
        };
        let size = size.max(self.offset + Self::MIN_READ);
        let mut block = BytesMut::zeroed(size);
        block[..self.offset].copy_from_slice(self.data());
        self.block = block;
    }

    /// Removes the first `len` bytes, one complete response, from the buffer.
    fn take(&mut self, len: usize) -> BytesMut {
        debug_assert!(len <= self.offset);
        self.offset -= len;
        if len >= Self::SHARE_FROM {
            self.block.split_to(len)
        } else {
            let taken = BytesMut::from(&self.block[..len]);
            self.block.advance(len);
            taken
        }
    }

    /// Puts `bytes` back in front of the buffer.
    fn unread(&mut self, bytes: &[u8]) {
        let mut block = BytesMut::zeroed(bytes.len() + self.block.len());
        block[..bytes.len()].copy_from_slice(bytes);
        block[bytes.len()..bytes.len() + self.offset].copy_from_slice(self.data());
        self.offset += bytes.len();
        self.block = block;
    }
}

impl fmt::Debug for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffer")
            .field("used", &self.used())
            .field("capacity", &self.block.len())
            .finish()
    }
}

impl<R: Read + Write + Unpin> Stream for ImapStream<R> {
    type Item = io::Result<ResponseData>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.read_closed {
            return Poll::Ready(None);
        }
        let res = match ready!(self.as_mut().do_poll_next(cx)) {
            None => None,
            Some(Err(err)) => {
                self.read_closed = true;
                Some(Err(err))
            }
            Some(Ok(item)) => Some(Ok(item)),
        };
        Poll::Ready(res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use futures_util::StreamExt;
    use imap_proto::{AttributeValue, MailboxDatum, Response};
    use pin_project::pin_project;

    use crate::mock_stream::MockStream;

    /// Wrapper for a stream that
    /// fails once on a first read.
    ///
    /// Writes are discarded.
    #[pin_project]
    struct FailingStream {
        #[pin]
        inner: &'static [u8],
        has_failed: bool,
    }

    impl FailingStream {
        fn new(buf: &'static [u8]) -> Self {
            Self {
                inner: buf,
                has_failed: false,
            }
        }
    }

    #[cfg(feature = "runtime-tokio")]
    impl Read for FailingStream {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<tokio::io::Result<()>> {
            let this = self.project();
            if !*this.has_failed {
                *this.has_failed = true;

                Poll::Ready(Err(std::io::Error::other("Failure")))
            } else {
                this.inner.poll_read(cx, buf)
            }
        }
    }

    #[cfg(feature = "runtime-async-std")]
    impl Read for FailingStream {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<async_std::io::Result<usize>> {
            let this = self.project();
            if !*this.has_failed {
                *this.has_failed = true;

                Poll::Ready(Err(std::io::Error::other("Failure")))
            } else {
                this.inner.poll_read(cx, buf)
            }
        }
    }

    #[cfg(feature = "runtime-tokio")]
    impl Write for FailingStream {
        fn poll_write(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<tokio::io::Result<usize>> {
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<tokio::io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<tokio::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[cfg(feature = "runtime-async-std")]
    impl Write for FailingStream {
        fn poll_write(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<async_std::io::Result<usize>> {
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<async_std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_close(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<async_std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Tests that stream returns `None` after
    /// a single error of the underlying stream.
    ///
    /// This is need to prevent accidental
    /// reading from a network stream
    /// after a temporary error such as a timeout
    /// or returning an inifinite stream of errors.
    #[cfg_attr(feature = "runtime-tokio", tokio::test)]
    #[cfg_attr(feature = "runtime-async-std", async_std::test)]
    async fn test_imap_stream_error() {
        use futures_util::StreamExt;

        let mock_stream = FailingStream::new(b"* OK\r\n");
        let mut imap_stream = ImapStream::new(mock_stream);

        // First call is an error because underlying stream fails.
        assert!(imap_stream.next().await.unwrap().is_err());

        // IMAP stream should end even though underlying stream fails only once.
        assert!(imap_stream.next().await.is_none());
    }

    /// Reads responses until the end of the stream or the first error.
    async fn read_all<R: Read + Write + Unpin>(
        imap: &mut ImapStream<R>,
    ) -> (Vec<ResponseData>, Option<io::Error>) {
        let mut responses = Vec::new();
        while let Some(item) = imap.next().await {
            match item {
                Ok(response) => responses.push(response),
                Err(err) => return (responses, Some(err)),
            }
        }
        (responses, None)
    }

    fn assert_responses(actual: &[ResponseData], expected: &[&[u8]]) {
        assert_eq!(actual.len(), expected.len(), "responses: {actual:?}");
        for (actual, expected) in actual.iter().zip(expected) {
            let (rest, expected) = imap_proto::Response::parse(expected).unwrap();
            assert!(rest.is_empty());
            assert_eq!(actual.parsed(), &expected);
        }
    }

    /// A literal with CRLFs, braces and text that looks like a literal announcement.
    const LITERAL: &[u8] = b"Subject: {5}\r\n\r\nbody with {3}\r\nand a lone }{ too\r\n";

    /// The responses of a transcript, each on its own.
    fn transcript_responses() -> Vec<Vec<u8>> {
        let mut fetch = format!("* 1 FETCH (UID 7 BODY[] {{{}}}\r\n", LITERAL.len()).into_bytes();
        fetch.extend_from_slice(LITERAL);
        fetch.extend_from_slice(b" FLAGS (\\Seen))\r\n");
        vec![
            b"* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n".to_vec(),
            fetch,
            b"* 2 FETCH (UID 8 BODY[] {0}\r\n)\r\n".to_vec(),
            b"* SEARCH 2 3 5\r\n".to_vec(),
            b"A1 OK done\r\n".to_vec(),
        ]
    }

    #[cfg_attr(feature = "runtime-tokio", tokio::test)]
    #[cfg_attr(feature = "runtime-async-std", async_std::test)]
    async fn response_split_at_every_byte() {
        let responses = transcript_responses();
        let expected: Vec<&[u8]> = responses.iter().map(Vec::as_slice).collect();
        let transcript = responses.concat();
        for split in 0..=transcript.len() {
            let mock = MockStream::default()
                .with_pieces(&[&transcript[..split], &transcript[split..]])
                .with_eof_at_end();
            let mut imap = ImapStream::new(mock);
            let (actual, err) = read_all(&mut imap).await;
            assert!(err.is_none(), "split at {split}: {err:?}");
            assert_responses(&actual, &expected);
        }

        let bytes: Vec<&[u8]> = transcript.chunks(1).collect();
        let mut imap = ImapStream::new(MockStream::default().with_pieces(&bytes).with_eof_at_end());
        let (actual, err) = read_all(&mut imap).await;
        assert!(err.is_none(), "{err:?}");
        assert_responses(&actual, &expected);
        let Response::Fetch(1, attributes) = actual[1].parsed() else {
            panic!("not a FETCH: {:?}", actual[1]);
        };
        assert!(attributes.contains(&AttributeValue::BodySection {
            section: None,
            index: None,
            data: Some(LITERAL.into()),
        }));
    }

    #[test]
    fn literal_announcements() {
        let cases: &[(&[u8], Option<usize>)] = &[
            (b"* 1 FETCH (BODY[] {12}", Some(12)),
            (b"A1 APPEND INBOX {12+}", Some(12)),
            (b"* 1 FETCH (BINARY[1] ~{7}", Some(7)),
            (b"{0}", Some(0)),
            (
                b"* 1 FETCH (BODY[] {99999999999999999999999}",
                Some(usize::MAX),
            ),
            (b"* OK {}", None),
            (b"* OK }", None),
            (b"* OK 12}", None),
            (b"* OK {1x}", None),
            (b"* OK {+}", None),
            (b"* OK {5} ", None),
            (b"* OK {5}}", None),
            (b"", None),
        ];
        for (line, expected) in cases {
            assert_eq!(
                announced_literal(line),
                *expected,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[cfg_attr(feature = "runtime-tokio", tokio::test)]
    #[cfg_attr(feature = "runtime-async-std", async_std::test)]
    async fn binary_literal_is_framed_whole() {
        // imap-proto does not parse `~{N}`: a FETCH it cannot parse is a broken answer
        // (a FETCH is a kind it knows), framed whole, literal and all, and reported.
        let transcript = b"* 1 FETCH (BINARY[1] ~{4}\r\n\x00\r\n\xff)\r\n* 2 EXISTS\r\n";
        let mut imap = ImapStream::new(MockStream::new(transcript.to_vec()).with_eof_at_end());
        let (actual, err) = read_all(&mut imap).await;
        let err = err.expect("an unparseable FETCH is an error");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        assert!(err.to_string().contains("FETCH (BINARY[1]"), "{err}");
        assert!(actual.is_empty());
    }

    #[test]
    fn broken_responses_of_known_kinds_are_errors() {
        assert!(known_kind(b"* 1 FETCH (UID 1 BODY[] {3}\r\nabc garbage\r\n"));
        assert!(known_kind(b"* SEARCH 1 2\r\n"));
        assert!(!known_kind(b"* 3 EXPUNGED\r\n"));
        assert!(!known_kind(b"* XYZZY whatever\r\n"));
    }

    #[cfg_attr(feature = "runtime-tokio", tokio::test)]
    #[cfg_attr(feature = "runtime-async-std", async_std::test)]
    async fn unknown_untagged_responses_are_skipped() {
        let transcript = b"* 1 FETCH (UID 10)\r\n\
            * 3 EXPUNGED\r\n\
            * XUNKNOWN {3}\r\na\r\n\r\n\
            * 2 FETCH (UID 11)\r\n\
            A1 OK done\r\n";
        let mut imap = ImapStream::new(MockStream::new(transcript.to_vec()).with_eof_at_end());
        let (actual, err) = read_all(&mut imap).await;
        assert!(err.is_none(), "{err:?}");
        assert_responses(
            &actual,
            &[
                b"* 1 FETCH (UID 10)\r\n",
                b"* 2 FETCH (UID 11)\r\n",
                b"A1 OK done\r\n",
            ],
        );
    }

    #[cfg_attr(feature = "runtime-tokio", tokio::test)]
    #[cfg_attr(feature = "runtime-async-std", async_std::test)]
    async fn unparsable_tagged_response_is_an_error() {
        let transcript = b"* 1 EXISTS\r\nA1 FROBNICATE now\r\n* 2 EXISTS\r\n";
        let mut imap = ImapStream::new(MockStream::new(transcript.to_vec()).with_eof_at_end());
        let (actual, err) = read_all(&mut imap).await;
        assert_responses(&actual, &[b"* 1 EXISTS\r\n"]);
        let err = err.expect("an error");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            err.to_string(),
            r#"unable to parse the server's response "A1 FROBNICATE now\x0d\x0a" (19 bytes)"#
        );
        // Nothing is read after the error.
        assert!(imap.next().await.is_none());
    }

    #[cfg_attr(feature = "runtime-tokio", tokio::test)]
    #[cfg_attr(feature = "runtime-async-std", async_std::test)]
    async fn parse_error_shows_a_short_preview() {
        let mut transcript = b"A1 ".to_vec();
        transcript.extend(std::iter::repeat_n(b'x', 20_000_000));
        transcript.extend_from_slice(b"\xff\r\n");
        let mut imap = ImapStream::new(MockStream::new(transcript).with_eof_at_end());
        let err = imap.next().await.unwrap().unwrap_err();
        let message = err.to_string();
        assert!(message.len() < 200, "{message}");
        assert!(
            message.ends_with(&format!(r#""A1 {}"... (20000006 bytes)"#, "x".repeat(97))),
            "{message}"
        );
    }

    #[test]
    fn preview_escapes_and_counts() {
        assert_eq!(preview(b""), r#""" (0 bytes)"#);
        assert_eq!(
            preview(b"* OK \"caf\xc3\xa9\"\r\n"),
            r#""* OK "caf\xc3\xa9"\x0d\x0a" (14 bytes)"#
        );
        let long = preview(&[b'\t'; 1000]);
        assert_eq!(
            long,
            format!(r#""{}"... (1000 bytes)"#, r"\x09".repeat(100))
        );
    }

    #[test]
    fn the_trace_log_shows_no_credentials() {
        let tagged =
            |command: &str| Request(Some(imap_proto::RequestId("A1".into())), command.into());
        let untagged = |line: &str| Request(None, line.into());
        assert_eq!(
            loggable(&tagged(r#"LOGIN "anna" "s3cret""#)),
            r#""LOGIN <15 bytes not logged>" (21 bytes)"#
        );
        assert_eq!(
            loggable(&tagged("login anna s3cret")),
            r#""login <11 bytes not logged>" (17 bytes)"#
        );
        assert_eq!(
            loggable(&tagged("AUTHENTICATE PLAIN AGFubmEAczNjcmV0")),
            r#""AUTHENTICATE PLAIN <16 bytes not logged>" (35 bytes)"#
        );
        // A SASL response to a continuation is an untagged line.
        assert_eq!(
            loggable(&untagged("AGFubmEAczNjcmV0")),
            r#""<16 bytes not logged>" (16 bytes)"#
        );
        // Everything else is shown as it is.
        for (request, shown) in [
            (tagged("AUTHENTICATE XOAUTH2"), "AUTHENTICATE XOAUTH2"),
            (tagged("LOGINX a b"), "LOGINX a b"),
            (tagged(r#"SELECT "LOGIN x""#), r#"SELECT "LOGIN x""#),
            (untagged("DONE"), "DONE"),
        ] {
            assert_eq!(loggable(&request), preview(shown.as_bytes()));
        }
    }

    #[cfg_attr(feature = "runtime-tokio", tokio::test)]
    #[cfg_attr(feature = "runtime-async-std", async_std::test)]
    async fn text_ending_like_a_literal_does_not_swallow_the_next_response() {
        // `text` may end in `{5}`; the framer takes it for a literal, the parser does not,
        // and what the parser left is read again as the next response.
        let transcript = b"* OK [ALERT] see {5}\r\n* 1 EXISTS\r\nA1 OK done\r\n";
        let mut imap = ImapStream::new(MockStream::new(transcript.to_vec()).with_eof_at_end());
        let (actual, err) = read_all(&mut imap).await;
        assert!(err.is_none(), "{err:?}");
        assert_responses(
            &actual,
            &[
                b"* OK [ALERT] see {5}\r\n",
                b"* 1 EXISTS\r\n",
                b"A1 OK done\r\n",
            ],
        );
    }

    #[cfg_attr(feature = "runtime-tokio", tokio::test)]
    #[cfg_attr(feature = "runtime-async-std", async_std::test)]
    async fn eof_in_the_middle_of_a_response() {
        let transcript = b"* 1 FETCH (UID 10)\r\n* 2 FETCH (UID";
        let mut imap = ImapStream::new(MockStream::new(transcript.to_vec()).with_eof_at_end());
        let (actual, err) = read_all(&mut imap).await;
        assert_responses(&actual, &[b"* 1 FETCH (UID 10)\r\n"]);
        let err = err.expect("an error");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(
            err.to_string(),
            r#"the connection closed in the middle of a response: "* 2 FETCH (UID" (14 bytes)"#
        );
    }

    #[cfg_attr(feature = "runtime-tokio", tokio::test)]
    #[cfg_attr(feature = "runtime-async-std", async_std::test)]
    async fn eof_inside_a_literal() {
        let transcript = b"* 1 FETCH (BODY[] {100}\r\nonly part of it";
        let mut imap = ImapStream::new(MockStream::new(transcript.to_vec()).with_eof_at_end());
        let (actual, err) = read_all(&mut imap).await;
        assert!(actual.is_empty());
        assert_eq!(err.expect("an error").kind(), io::ErrorKind::UnexpectedEof);
    }

    fn limits(max_line: usize, max_literal: usize, max_response: usize) -> ResponseLimits {
        ResponseLimits {
            max_line,
            max_literal,
            max_response,
        }
    }

    #[cfg_attr(feature = "runtime-tokio", tokio::test)]
    #[cfg_attr(feature = "runtime-async-std", async_std::test)]
    async fn line_at_the_limit_passes_one_byte_more_fails() {
        let line = |len: usize| {
            let mut line = b"* OK ".to_vec();
            line.resize(len, b'x');
            line.extend_from_slice(b"\r\n");
            line
        };
        let mut imap = ImapStream::with_limits(
            MockStream::new(line(100)).with_eof_at_end(),
            limits(100, 10, 1000),
        );
        let (actual, err) = read_all(&mut imap).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(actual.len(), 1);

        let mut imap = ImapStream::with_limits(
            MockStream::new(line(101)).with_eof_at_end(),
            limits(100, 10, 1000),
        );
        let (actual, err) = read_all(&mut imap).await;
        assert!(actual.is_empty());
        let err = err.expect("an error");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            err.to_string(),
            "the server sent a line longer than 100 bytes"
        );
    }

    #[cfg_attr(feature = "runtime-tokio", tokio::test)]
    #[cfg_attr(feature = "runtime-async-std", async_std::test)]
    async fn over_long_line_fails_without_reading_on() {
        const LIMIT: usize = 1024 * 1024;
        let mut endless = b"* OK ".to_vec();
        endless.resize(8 * LIMIT, b'x');
        let mut imap =
            ImapStream::with_limits(MockStream::new(endless), limits(LIMIT, LIMIT, 4 * LIMIT));
        let err = imap.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            err.to_string(),
            "the server sent a line longer than 1048576 bytes"
        );
        // Read no further than the limit and one read.
        assert!(imap.inner.read_pos() <= LIMIT + 2 * Buffer::MIN_READ);
        assert!(imap.buffer.block.len() <= LIMIT + 2 * Buffer::MIN_READ);
        assert!(imap.next().await.is_none());
    }

    #[cfg_attr(feature = "runtime-tokio", tokio::test)]
    #[cfg_attr(feature = "runtime-async-std", async_std::test)]
    async fn over_large_literal_fails_when_announced() {
        const LIMIT: usize = 1024 * 1024;
        let mut data = b"* 1 FETCH (BODY[] {2000000}\r\n".to_vec();
        data.resize(data.len() + 2_000_000, b'x');
        data.extend_from_slice(b")\r\n");
        let mut imap =
            ImapStream::with_limits(MockStream::new(data), limits(LIMIT, LIMIT, 4 * LIMIT));
        let err = imap.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            err.to_string(),
            "the server announced a literal of 2000000 bytes, more than 1048576 bytes"
        );
        assert!(imap.inner.read_pos() <= Buffer::INITIAL_SIZE);
    }

    #[cfg_attr(feature = "runtime-tokio", tokio::test)]
    #[cfg_attr(feature = "runtime-async-std", async_std::test)]
    async fn response_of_many_literals_fails_at_the_response_limit() {
        let mut data = b"* 1 FETCH (UID 1".to_vec();
        for part in 1..=10 {
            data.extend_from_slice(format!(" BODY[{part}] {{3000}}\r\n").as_bytes());
            data.resize(data.len() + 3000, b'x');
        }
        data.extend_from_slice(b")\r\n");
        let mut imap = ImapStream::with_limits(
            MockStream::new(data).with_eof_at_end(),
            limits(1000, 5000, 10_000),
        );
        let err = imap.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            err.to_string(),
            "the server sent a response longer than 10000 bytes"
        );
        assert!(imap.inner.read_pos() <= 10_000 + 2 * Buffer::MIN_READ);
    }

    #[cfg(feature = "runtime-tokio")]
    #[tokio::test]
    async fn limits_through_a_pipe() {
        use tokio::io::AsyncWriteExt as _;

        // A server that keeps sending one line; the client gives up at the limit.
        let (client, mut server) = tokio::io::duplex(4096);
        let writer = tokio::spawn(async move {
            let piece = [b'7'; 4096];
            server.write_all(b"* SEARCH 1 ").await.unwrap();
            let mut sent = 0;
            while server.write_all(&piece).await.is_ok() {
                sent += piece.len();
            }
            sent
        });
        let mut imap = ImapStream::with_limits(client, limits(256 * 1024, 1024, 1024 * 1024));
        let err = imap.next().await.unwrap().unwrap_err();
        assert_eq!(
            err.to_string(),
            "the server sent a line longer than 262144 bytes"
        );
        drop(imap);
        let sent = writer.await.unwrap();
        assert!(sent <= 256 * 1024 + 3 * 4096, "{sent} bytes sent");
    }

    #[cfg_attr(feature = "runtime-tokio", tokio::test)]
    #[cfg_attr(feature = "runtime-async-std", async_std::test)]
    async fn limits_apply_to_the_response_being_received() {
        let mut imap = ImapStream::new(
            MockStream::default()
                .with_pieces(&[&b"* 1 EXISTS\r\n* OK "[..], &[b'x'; 300][..]])
                .with_eof_at_end(),
        );
        let first = imap.next().await.unwrap().unwrap();
        assert_eq!(
            first.parsed(),
            &Response::MailboxData(MailboxDatum::Exists(1))
        );
        imap.set_limits(limits(100, 100, 1000));
        assert_eq!(imap.limits(), limits(100, 100, 1000));
        let err = imap.next().await.unwrap().unwrap_err();
        assert_eq!(
            err.to_string(),
            "the server sent a line longer than 100 bytes"
        );
    }

    #[test]
    fn default_limits() {
        assert_eq!(ResponseLimits::default(), ResponseLimits::DEFAULT);
        assert_eq!(ResponseLimits::DEFAULT.max_line, 512 * 1024 * 1024);
        assert_eq!(ResponseLimits::DEFAULT.max_literal, 512 * 1024 * 1024);
        assert_eq!(ResponseLimits::DEFAULT.max_response, 512 * 1024 * 1024);
    }

    #[test]
    fn buffer_grows_geometrically_up_to_the_cap() {
        let mut buf = Buffer::new();
        assert_eq!(buf.block.len(), Buffer::INITIAL_SIZE);
        let mut sizes = Vec::new();
        while buf.used() < 1024 * 1024 {
            buf.reserve_for_read(usize::MAX);
            let free = buf.free_as_mut_slice().len();
            assert!(free >= Buffer::MIN_READ);
            buf.extend_used(free);
            sizes.push(buf.block.len());
        }
        sizes.dedup();
        assert_eq!(sizes[0], Buffer::INITIAL_SIZE);
        assert_eq!(*sizes.last().unwrap(), 1024 * 1024, "{sizes:?}");
        for pair in sizes.windows(2) {
            assert_eq!(pair[1], 2 * pair[0]);
        }

        // Near the cap, it goes to the cap (plus one read) at once.
        let mut buf = Buffer::new();
        buf.extend_used(Buffer::INITIAL_SIZE - 10);
        buf.reserve_for_read(50_000);
        assert_eq!(buf.block.len(), 50_000 + Buffer::MIN_READ);
        // And a read always has room, even past the cap.
        let free = buf.free_as_mut_slice().len();
        buf.extend_used(free);
        buf.reserve_for_read(50_000);
        assert_eq!(buf.free_as_mut_slice().len(), Buffer::MIN_READ);
    }

    #[test]
    fn buffer_keeps_data_across_growth_take_and_unread() {
        let mut buf = Buffer::new();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut written = 0;
        while written < data.len() {
            buf.reserve_for_read(usize::MAX);
            let free = buf.free_as_mut_slice();
            let n = free.len().min(data.len() - written);
            free[..n].copy_from_slice(&data[written..written + n]);
            buf.extend_used(n);
            written += n;
        }
        assert_eq!(buf.data(), &data[..]);

        let small = buf.take(10); // copied
        assert_eq!(&small[..], &data[..10]);
        let large = buf.take(100_000); // shared
        assert_eq!(&large[..], &data[10..100_010]);
        assert_eq!(buf.data(), &data[100_010..]);

        buf.unread(&large[99_990..]);
        assert_eq!(buf.data(), &data[100_000..]);
        buf.reserve_for_read(usize::MAX);
        assert_eq!(buf.data(), &data[100_000..]);
    }

    #[test]
    fn test_buffer_debug() {
        assert_eq!(
            format!("{:?}", Buffer::new()),
            format!(
                r#"Buffer {{ used: 0, capacity: {} }}"#,
                Buffer::INITIAL_SIZE
            )
        );
    }
}
