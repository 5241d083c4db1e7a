//! Parsing a message kept in a file, with memory bounded whatever its size. A small
//! message is read and parsed whole (`mime::parse_body`). A larger one is parsed in one
//! streaming pass over its MIME structure: the first text/plain and text/html parts are
//! kept up to `TEXT_CAP` bytes and decoded by mail-parser on the part alone; attachments
//! are described (name, type, decoded size) without being held.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use mail_parser::{MessageParser, MimeHeaders};

use crate::error::{Error, ErrorKind, Result};
use crate::mail::{ParsedBody, ParsedHeaders};
use crate::mime;
use crate::model::Attachment;

/// Messages up to this size are parsed whole, in memory.
pub const WHOLE_LIMIT: u64 = 4 << 20;
/// How much of the first text and HTML part is kept (encoded, headers included).
pub const TEXT_CAP: usize = 1 << 20;
/// How much of a header block is kept for parsing (the message's or a part's).
pub const HEADER_CAP: usize = 256 << 10;
/// Lines are read in pieces of at most this size (a line may be longer than any buffer).
const PIECE: u64 = 64 << 10;

/// A message parsed from a file or a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMessage {
    pub headers: ParsedHeaders,
    pub body: ParsedBody,
    /// The message's size in bytes.
    pub size: u64,
}

/// Parses the message in `path`: whole when small, else in one streaming pass.
pub fn parse_file(path: &Path) -> Result<FileMessage> {
    let unreadable = |err: std::io::Error| {
        Error::new(
            ErrorKind::Storage,
            format!("cannot read message file {}: {err}", path.display()),
        )
    };
    let file = File::open(path).map_err(unreadable)?;
    let size = file.metadata().map_err(unreadable)?.len();
    if size <= WHOLE_LIMIT {
        let mut raw = Vec::with_capacity(size as usize);
        file.take(WHOLE_LIMIT + 1)
            .read_to_end(&mut raw)
            .map_err(unreadable)?;
        return Ok(FileMessage {
            headers: mime::parse_headers(&raw),
            body: mime::parse_body(&raw),
            size: raw.len() as u64,
        });
    }
    parse_stream(BufReader::with_capacity(PIECE as usize, file)).map_err(unreadable)
}

/// The header block at the start of the message in `path` (at most `HEADER_CAP` bytes).
pub fn read_header_block(path: &Path) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(|err| {
        Error::new(
            ErrorKind::Storage,
            format!("cannot read message file {}: {err}", path.display()),
        )
    })?;
    let mut reader = BufReader::new(file);
    let mut block = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(PIECE)
            .read_until(b'\n', &mut line)
            .map_err(|err| Error::new(ErrorKind::Storage, err.to_string()))?;
        if n == 0 || line == b"\r\n" || line == b"\n" || block.len() + n > HEADER_CAP {
            return Ok(block);
        }
        block.extend_from_slice(&line);
    }
}

/// Parses a message from a stream in one pass, holding at most a few pieces of it.
pub fn parse_stream(mut reader: impl BufRead) -> std::io::Result<FileMessage> {
    let mut pass = Pass::new();
    let mut piece = Vec::with_capacity(PIECE as usize);
    let mut line_start = true;
    let mut size = 0u64;
    loop {
        piece.clear();
        let n = (&mut reader).take(PIECE).read_until(b'\n', &mut piece)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        let complete = piece.ends_with(b"\n");
        pass.piece(&piece, line_start, complete);
        line_start = complete;
    }
    Ok(pass.finish(size))
}

/// What a multipart's subtype means for the parts inside it (as mail-parser sees it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    /// The message itself (its top-level part).
    Message,
    Mixed,
    Alternative,
    Related,
    Digest,
    Other,
}

/// One open multipart.
#[derive(Debug)]
struct Level {
    boundary: Vec<u8>,
    kind: Container,
    in_alternative: bool,
    /// Parts begun in it so far.
    parts: usize,
    need_text: bool,
    need_html: bool,
}

#[derive(Debug, Default)]
enum State {
    /// The header block of a part (the first is the message's own).
    Headers(Vec<u8>),
    Body(Leaf),
    /// A preamble or epilogue: nothing until the next boundary.
    #[default]
    Skip,
}

#[derive(Debug)]
struct Leaf {
    role: Role,
    /// The line end of the last line, not yet known to be content: the one before a
    /// boundary belongs to the boundary.
    pending_eol: &'static [u8],
}

#[derive(Debug)]
enum Role {
    /// The first text or HTML body part: its header block and encoded body, up to the cap.
    Keep { html: bool, raw: Vec<u8> },
    /// An attachment, counted as it goes by (and, for a message, its first headers).
    Attach {
        index: usize,
        size: Decoded,
        nested_headers: Option<Vec<u8>>,
    },
    /// A body part after the first, or a part with nothing to keep.
    Nothing,
}

#[derive(Debug)]
struct Pass {
    /// The message's own header block, once read.
    headers: Option<Vec<u8>>,
    stack: Vec<Level>,
    /// The message itself: the level of its top-level part.
    top: Level,
    state: State,
    text: Option<String>,
    html: Option<String>,
    attachments: Vec<Attachment>,
}

impl Pass {
    fn new() -> Self {
        Self {
            headers: None,
            stack: Vec::new(),
            top: Level {
                boundary: Vec::new(),
                kind: Container::Message,
                in_alternative: false,
                parts: 1,
                need_text: true,
                need_html: true,
            },
            state: State::Headers(Vec::new()),
            text: None,
            html: None,
            attachments: Vec::new(),
        }
    }

    fn piece(&mut self, piece: &[u8], line_start: bool, complete: bool) {
        if line_start && piece.starts_with(b"--") {
            if let Some((depth, closes)) = self.boundary(piece) {
                self.end_part(false);
                self.stack.truncate(depth + 1);
                if closes {
                    self.stack.pop();
                    self.state = State::Skip;
                } else {
                    self.stack[depth].parts += 1;
                    self.state = State::Headers(Vec::new());
                }
                return;
            }
        }
        let (content, eol) = split_eol(piece, complete);
        match &mut self.state {
            State::Headers(block) => {
                if line_start && complete && content.is_empty() {
                    let block = std::mem::take(block);
                    self.begin_part(block);
                } else if block.len() + piece.len() <= HEADER_CAP {
                    block.extend_from_slice(piece);
                }
            }
            State::Body(leaf) => {
                let pending = std::mem::replace(&mut leaf.pending_eol, eol);
                leaf.role.feed(pending, content);
            }
            State::Skip => {}
        }
    }

    /// Which open multipart a line starting with "--" delimits, and whether it closes it.
    fn boundary(&self, piece: &[u8]) -> Option<(usize, bool)> {
        let rest = &piece[2..];
        let rest = trim_end(rest);
        self.stack
            .iter()
            .enumerate()
            .rev()
            .find_map(|(depth, level)| {
                let after = rest.strip_prefix(level.boundary.as_slice())?;
                match after {
                    b"" => Some((depth, false)),
                    b"--" => Some((depth, true)),
                    _ => None,
                }
            })
    }

    /// The header block of a part is complete: decide what the part is.
    fn begin_part(&mut self, block: Vec<u8>) {
        if self.headers.is_none() {
            self.headers = Some(block.clone());
        }
        let mut with_end = block;
        with_end.extend_from_slice(b"\r\n");
        let parsed = MessageParser::default().parse_headers(&with_end);
        let (ctype, subtype, boundary, named) = match parsed.as_ref().and_then(|m| m.content_type())
        {
            Some(ct) => (
                Some(ct.ctype().to_ascii_lowercase()),
                ct.subtype().map(str::to_ascii_lowercase),
                ct.attribute("boundary").map(|b| b.as_bytes().to_vec()),
                ct.has_attribute("name"),
            ),
            None => (None, None, None, false),
        };
        let disposition_attachment = parsed
            .as_ref()
            .and_then(|m| m.content_disposition())
            .is_some_and(|d| d.is_attachment());
        let encoding = parsed
            .as_ref()
            .and_then(|m| m.content_transfer_encoding())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let attachment_name = parsed
            .as_ref()
            .and_then(|m| m.attachment_name())
            .map(str::to_owned);

        let container = self.container();
        if ctype.as_deref() == Some("multipart") {
            if let Some(boundary) = boundary.filter(|b| !b.is_empty()) {
                let kind = match subtype.as_deref() {
                    Some("mixed") => Container::Mixed,
                    Some("alternative") => Container::Alternative,
                    Some("related") => Container::Related,
                    Some("digest") => Container::Digest,
                    _ => Container::Other,
                };
                let (in_alternative, need_text, need_html) = (
                    container.in_alternative || kind == Container::Alternative,
                    container.need_text,
                    container.need_html,
                );
                self.stack.push(Level {
                    boundary,
                    kind,
                    in_alternative,
                    parts: 0,
                    need_text,
                    need_html,
                });
                self.state = State::Skip;
                return;
            }
        }
        let mime_type = match (&ctype, &subtype) {
            (Some(t), Some(s)) => format!("{t}/{s}"),
            (Some(t), None) => t.clone(),
            (None, _) => String::new(),
        };
        let is_message = matches!(mime_type.as_str(), "message/rfc822" | "message/global")
            || (ctype.is_none() && container.kind == Container::Digest);
        let text_kind = match mime_type.as_str() {
            "text/plain" | "" if !is_message => Some(false),
            "text/html" => Some(true),
            _ => None,
        };
        let inline = !disposition_attachment
            && (container.parts == 1 || (container.kind != Container::Related && !named));
        let role = match text_kind {
            Some(html) => {
                let container = self.container_mut();
                let (add_html, add_text) = if container.kind == Container::Alternative {
                    (html, !html)
                } else if inline {
                    if container.in_alternative && (container.need_text || container.need_html) {
                        if html {
                            container.need_text = false;
                        } else {
                            container.need_html = false;
                        }
                    }
                    (container.need_html, container.need_text)
                } else {
                    (false, false)
                };
                let body = if html { add_html } else { add_text };
                let have = if html {
                    self.html.is_some() || self.keeping(true)
                } else {
                    self.text.is_some() || self.keeping(false)
                };
                if !body {
                    None
                } else if have {
                    Some(Role::Nothing)
                } else {
                    Some(Role::Keep {
                        html,
                        raw: with_end,
                    })
                }
            }
            None => None,
        };
        let role = role.unwrap_or_else(|| {
            let mime_type = if mime_type.is_empty() {
                if is_message {
                    "message/rfc822".to_owned()
                } else {
                    "text/plain".to_owned()
                }
            } else {
                mime_type
            };
            self.attachments.push(Attachment {
                name: attachment_name.clone().unwrap_or_default(),
                mime_type,
                size: 0,
            });
            Role::Attach {
                index: self.attachments.len() - 1,
                size: Decoded::new(&encoding),
                nested_headers: (is_message && attachment_name.is_none()).then(Vec::new),
            }
        });
        self.state = State::Body(Leaf {
            role,
            pending_eol: b"",
        });
    }

    /// Whether a part being read right now is the kept text (or HTML) part.
    fn keeping(&self, html: bool) -> bool {
        matches!(&self.state, State::Body(Leaf { role: Role::Keep { html: h, .. }, .. }) if *h == html)
    }

    fn container(&self) -> &Level {
        self.stack.last().unwrap_or(&self.top)
    }

    fn container_mut(&mut self) -> &mut Level {
        self.stack.last_mut().unwrap_or(&mut self.top)
    }

    /// Ends the part being read; `at_end` when the file ends (not at a boundary).
    fn end_part(&mut self, at_end: bool) {
        match std::mem::take(&mut self.state) {
            State::Body(leaf) => {
                let mut role = leaf.role;
                // The one part of a message that is not multipart ends with the file,
                // its last line end included.
                if at_end && self.stack.is_empty() {
                    role.feed(leaf.pending_eol, b"");
                }
                self.finish_role(role);
            }
            // A part that ends within its headers has an empty body.
            State::Headers(block) if !block.is_empty() || self.headers.is_none() => {
                self.begin_part(block);
                self.end_part(at_end);
            }
            _ => {}
        }
    }

    fn finish_role(&mut self, role: Role) {
        match role {
            Role::Keep { html, raw } => {
                let decoded = MessageParser::default().parse(&raw).and_then(|m| {
                    m.parts
                        .first()
                        .and_then(|p| p.text_contents().map(str::to_owned))
                });
                let decoded = decoded.unwrap_or_default();
                if html {
                    self.html = Some(decoded);
                } else {
                    self.text = Some(decoded);
                }
            }
            Role::Attach {
                index,
                size,
                nested_headers,
            } => {
                let attachment = &mut self.attachments[index];
                attachment.size = size.total();
                if attachment.name.is_empty() {
                    attachment.name = nested_headers
                        .map(|block| mime::parse_headers(&block).subject)
                        .filter(|subject| !subject.is_empty())
                        .map(|subject| format!("{subject}.eml"))
                        .unwrap_or_else(|| "unnamed".to_owned());
                }
            }
            Role::Nothing => {}
        }
    }

    fn finish(mut self, size: u64) -> FileMessage {
        self.end_part(true);
        let headers = mime::parse_headers(self.headers.as_deref().unwrap_or_default());
        let text = self
            .text
            .or_else(|| self.html.as_deref().map(mime::html_to_search_text));
        FileMessage {
            headers,
            body: ParsedBody {
                text,
                html: self.html,
                attachments: self.attachments,
            },
            size,
        }
    }
}

impl Role {
    /// One more piece of a part's body: the line end held back from the line before
    /// (now known to be content), then this line's content.
    fn feed(&mut self, pending_eol: &[u8], content: &[u8]) {
        match self {
            Role::Keep { raw, .. } => {
                if raw.len() + pending_eol.len() + content.len() <= TEXT_CAP {
                    raw.extend_from_slice(pending_eol);
                    raw.extend_from_slice(content);
                }
            }
            Role::Attach {
                size,
                nested_headers,
                ..
            } => {
                size.eol(pending_eol);
                size.feed(content);
                if let Some(block) = nested_headers {
                    // The nested message's headers, up to its first empty line.
                    let ended = block.ends_with(b"\r\n\r\n") || block.ends_with(b"\n\n");
                    if !ended && block.len() + pending_eol.len() + content.len() <= HEADER_CAP {
                        block.extend_from_slice(pending_eol);
                        block.extend_from_slice(content);
                    }
                }
            }
            Role::Nothing => {}
        }
    }
}

/// A part's decoded size, counted as its encoded bytes go by (as mail-parser decodes).
#[derive(Debug)]
enum Decoded {
    Plain(u64),
    Base64 { bytes: u64, quad: u8 },
    QuotedPrintable(Qp),
}

#[derive(Debug, Default)]
struct Qp {
    bytes: u64,
    /// Whitespace at the end of the decoded line so far (dropped at a hard line end).
    trailing_ws: u64,
    /// 0: plain, 1: after "=", 2: after "=" and one hex digit.
    escape: u8,
}

impl Decoded {
    fn new(encoding: &str) -> Self {
        match encoding.trim() {
            "base64" => Decoded::Base64 { bytes: 0, quad: 0 },
            "quoted-printable" => Decoded::QuotedPrintable(Qp::default()),
            _ => Decoded::Plain(0),
        }
    }

    fn feed(&mut self, content: &[u8]) {
        match self {
            Decoded::Plain(bytes) => *bytes += content.len() as u64,
            Decoded::Base64 { bytes, quad } => {
                for &b in content {
                    if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' {
                        *quad = (*quad + 1) & 3;
                        if *quad == 0 {
                            *bytes += 3;
                        }
                    } else if b == b'=' {
                        *bytes += match *quad {
                            1 | 2 => 1,
                            3 => 2,
                            _ => 0,
                        };
                        *quad = 0;
                    }
                }
            }
            Decoded::QuotedPrintable(qp) => {
                for &b in content {
                    match qp.escape {
                        0 if b == b'=' => qp.escape = 1,
                        0 => {
                            qp.bytes += 1;
                            qp.trailing_ws = if b.is_ascii_whitespace() {
                                qp.trailing_ws + 1
                            } else {
                                0
                            };
                        }
                        1 if b.is_ascii_hexdigit() => qp.escape = 2,
                        1 if b.is_ascii_whitespace() => {}
                        1 => {
                            qp.bytes += 2;
                            qp.escape = 0;
                            qp.trailing_ws = 0;
                        }
                        _ => {
                            qp.bytes += if b.is_ascii_hexdigit() { 1 } else { 3 };
                            qp.escape = 0;
                            qp.trailing_ws = 0;
                        }
                    }
                }
            }
        }
    }

    fn eol(&mut self, eol: &[u8]) {
        if eol.is_empty() {
            return;
        }
        match self {
            Decoded::Plain(bytes) => *bytes += eol.len() as u64,
            Decoded::Base64 { .. } => {}
            Decoded::QuotedPrintable(qp) => {
                if qp.escape == 1 {
                    // A soft line break.
                    qp.escape = 0;
                } else {
                    qp.bytes = qp.bytes - qp.trailing_ws + eol.len() as u64;
                    qp.escape = 0;
                }
                qp.trailing_ws = 0;
            }
        }
    }

    fn total(&self) -> u64 {
        match self {
            Decoded::Plain(bytes) | Decoded::Base64 { bytes, .. } => *bytes,
            Decoded::QuotedPrintable(qp) => qp.bytes,
        }
    }
}

/// A piece's content and its line end (CRLF or LF; none for a piece within a line).
fn split_eol(piece: &[u8], complete: bool) -> (&[u8], &'static [u8]) {
    if !complete {
        return (piece, b"");
    }
    match piece.strip_suffix(b"\r\n") {
        Some(content) => (content, b"\r\n"),
        None => (&piece[..piece.len() - 1], b"\n"),
    }
}

fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |p| p + 1);
    &bytes[..end]
}

#[cfg(test)]
mod tests;
