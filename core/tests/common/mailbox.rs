//! A small IMAP mailbox served by [`ScriptedImap`]: folders of messages held in memory
//! (or made as they are sent, for messages of hundreds of megabytes), enough of RFC 3501
//! for a client's sync, changes and IDLE, and knobs for ways real servers misbehave: a
//! non-standard EXPUNGE answer, an IDLE that never reports. Verbs it does not know, and
//! FETCH items or SEARCH keys it does not serve, get `BAD` naming them, so a client that
//! asks for more fails visibly. Handlers added to `imap` afterwards override a verb.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use super::faults::{Chunks, ImapRequest, Reply, ScriptedImap};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------------------
// Message contents
// ---------------------------------------------------------------------------------------

/// 76 base64 characters and CRLF.
const LINE: u64 = 78;
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_TWICE: &[u8; 128] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/\
ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A multipart message with a short text and one base64 attachment of any size, made
/// on the fly: nothing of it is held but its first and last few hundred bytes. Each
/// attachment line starts with its own number, so a lost, doubled or misplaced line
/// shows.
pub struct BigMessage {
    prefix: Vec<u8>,
    lines: u64,
    suffix: Vec<u8>,
    seed: u64,
}

impl BigMessage {
    /// About `attachment_bytes` of attachment (rounded up to whole lines of 57 bytes).
    pub fn new(message_id: &str, subject: &str, attachment_bytes: u64) -> Self {
        let prefix = format!(
            "From: Big Sender <big@example.test>\r\nTo: someone@example.test\r\n\
Subject: {subject}\r\nDate: Thu, 01 Jan 2026 00:00:00 +0000\r\nMessage-ID: <{message_id}>\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0undary\"\r\n\r\n\
--b0undary\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nA large attachment follows.\r\n\
--b0undary\r\nContent-Type: application/octet-stream; name=\"big.bin\"\r\n\
Content-Disposition: attachment; filename=\"big.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        )
        .into_bytes();
        let seed = message_id.bytes().map(u64::from).sum::<u64>();
        Self {
            prefix,
            lines: attachment_bytes.div_ceil(57),
            suffix: b"--b0undary--\r\n".to_vec(),
            seed,
        }
    }

    /// A message of about `total` bytes (within one line of 78 bytes).
    pub fn of_size(message_id: &str, subject: &str, total: u64) -> Self {
        let mut m = Self::new(message_id, subject, 0);
        let overhead = m.prefix.len() as u64 + m.suffix.len() as u64;
        m.lines = total.saturating_sub(overhead) / LINE;
        m
    }

    pub fn len(&self) -> u64 {
        self.prefix.len() as u64 + self.lines * LINE + self.suffix.len() as u64
    }

    /// The attachment's decoded size.
    pub fn attachment_size(&self) -> u64 {
        self.lines * 57
    }

    fn line(&self, k: u64) -> [u8; LINE as usize] {
        let mut line = [0u8; LINE as usize];
        for (i, byte) in line[..8].iter_mut().enumerate() {
            *byte = B64[((k >> (42 - 6 * i)) & 63) as usize];
        }
        let start = ((k.wrapping_mul(7) + self.seed) % 60) as usize;
        line[8..76].copy_from_slice(&B64_TWICE[start..start + 68]);
        line[76] = b'\r';
        line[77] = b'\n';
        line
    }

    /// Fills `out` with the bytes from `offset` on (the message must extend that far).
    pub fn read_at(&self, offset: u64, out: &mut [u8]) {
        let prefix = self.prefix.len() as u64;
        let body_end = prefix + self.lines * LINE;
        let mut done = 0usize;
        while done < out.len() {
            let pos = offset + done as u64;
            let rest = &mut out[done..];
            let n = if pos < prefix {
                let from = &self.prefix[pos as usize..];
                let n = from.len().min(rest.len());
                rest[..n].copy_from_slice(&from[..n]);
                n
            } else if pos < body_end {
                let k = (pos - prefix) / LINE;
                let col = ((pos - prefix) % LINE) as usize;
                let line = self.line(k);
                let n = (LINE as usize - col).min(rest.len());
                rest[..n].copy_from_slice(&line[col..col + n]);
                n
            } else {
                let from = &self.suffix[(pos - body_end) as usize..];
                let n = from.len().min(rest.len());
                assert!(n > 0, "read past the end of the message");
                rest[..n].copy_from_slice(&from[..n]);
                n
            };
            done += n;
        }
    }

    /// Whether the file holds exactly this message; else what differs.
    pub fn compare_with_file(&self, path: &Path) -> Result<(), String> {
        use std::io::Read;
        let mut file = std::fs::File::open(path).map_err(|e| format!("{path:?}: {e}"))?;
        let len = file.metadata().map_err(|e| e.to_string())?.len();
        if len != self.len() {
            return Err(format!("{path:?} has {len} bytes, not {}", self.len()));
        }
        let mut want = vec![0u8; 1 << 20];
        let mut have = vec![0u8; 1 << 20];
        let mut offset = 0u64;
        while offset < len {
            let n = (len - offset).min(want.len() as u64) as usize;
            file.read_exact(&mut have[..n]).map_err(|e| e.to_string())?;
            self.read_at(offset, &mut want[..n]);
            if have[..n] != want[..n] {
                let at = (0..n).find(|&i| have[i] != want[i]).unwrap();
                return Err(format!("{path:?} differs at byte {}", offset + at as u64));
            }
            offset += n as u64;
        }
        Ok(())
    }
}

/// A stored message's bytes.
#[derive(Clone)]
pub enum Content {
    Bytes(Arc<Vec<u8>>),
    Big(Arc<BigMessage>),
}

impl Content {
    pub fn bytes(raw: Vec<u8>) -> Self {
        Content::Bytes(Arc::new(raw))
    }

    pub fn len(&self) -> u64 {
        match self {
            Content::Bytes(b) => b.len() as u64,
            Content::Big(m) => m.len(),
        }
    }

    fn read_at(&self, offset: u64, out: &mut [u8]) {
        match self {
            Content::Bytes(b) => {
                out.copy_from_slice(&b[offset as usize..offset as usize + out.len()])
            }
            Content::Big(m) => m.read_at(offset, out),
        }
    }

    /// Length of the header, its blank line included.
    fn header_len(&self) -> u64 {
        let head = self.head(64 << 10);
        head.windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(self.len(), |p| p as u64 + 4)
    }

    fn head(&self, max: u64) -> Vec<u8> {
        let mut out = vec![0u8; self.len().min(max) as usize];
        self.read_at(0, &mut out);
        out
    }

    fn header(&self) -> Vec<u8> {
        self.head(self.header_len())
    }

    /// The header fields named (or all but those, with `not`), each with its folded
    /// lines, then the blank line.
    fn header_fields(&self, names: &[String], not: bool) -> Vec<u8> {
        let header = self.header();
        let text = String::from_utf8_lossy(&header);
        let mut out = String::new();
        let mut keep = false;
        for line in text.split_inclusive("\r\n") {
            if line == "\r\n" {
                break;
            }
            if !line.starts_with([' ', '\t']) {
                let name = line.split(':').next().unwrap_or_default().trim();
                keep = names.iter().any(|n| n.eq_ignore_ascii_case(name)) != not;
            }
            if keep {
                out.push_str(line);
            }
        }
        out.push_str("\r\n");
        out.into_bytes()
    }

    /// The value of the first header field `name`.
    pub fn header_value(&self, name: &str) -> Option<String> {
        let fields = self.header_fields(&[name.to_owned()], false);
        let text = String::from_utf8_lossy(&fields).into_owned();
        let (_, value) = text.split_once(':')?;
        Some(value.replace("\r\n", "").trim().to_owned())
    }
}

// ---------------------------------------------------------------------------------------
// The mailbox
// ---------------------------------------------------------------------------------------

/// How EXPUNGE reports each removed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpungeAnswer {
    /// `* 3 EXPUNGE` (RFC 3501).
    Standard,
    /// `* 3 EXPUNGED`, as some servers do: not IMAP.
    Expunged,
}

/// What IDLE tells about new mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleReports {
    /// `* n EXISTS` at once.
    Changes,
    /// Nothing, ever (NOOP and a new SELECT still show it).
    Nothing,
}

/// A message as the server holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerMessage {
    pub uid: u32,
    pub flags: Vec<String>,
    /// Without the angle brackets.
    pub message_id: String,
    pub size: u64,
}

#[derive(Clone)]
struct Stored {
    uid: u32,
    flags: Vec<String>,
    content: Content,
}

struct Folder {
    name: String,
    uidvalidity: u32,
    uidnext: u32,
    messages: Vec<Stored>,
}

#[derive(Default)]
struct Session {
    selected: Option<String>,
    /// The message count this connection was last told.
    told: usize,
    idle_tag: Option<String>,
}

struct Boxes {
    caps: String,
    folders: Vec<Folder>,
    sessions: HashMap<u32, Session>,
    expunge: ExpungeAnswer,
    idle: IdleReports,
    /// Bytes of whole-message or body-text sections written, per (folder, UID).
    body_bytes: BodyBytes,
    next_uidvalidity: u32,
    idle_announcements: u32,
}

impl Boxes {
    fn has(&self, cap: &str) -> bool {
        self.caps
            .split_whitespace()
            .any(|c| c.eq_ignore_ascii_case(cap))
    }

    fn folder(&self, name: &str) -> Option<&Folder> {
        self.folders.iter().find(|f| same_folder(&f.name, name))
    }

    fn folder_mut(&mut self, name: &str) -> Option<&mut Folder> {
        self.folders.iter_mut().find(|f| same_folder(&f.name, name))
    }

    fn session(&mut self, connection: u32) -> &mut Session {
        self.sessions.entry(connection).or_default()
    }

    fn selected(&mut self, connection: u32) -> Option<String> {
        self.session(connection).selected.clone()
    }

    /// `* n EXISTS` if this connection's folder grew (or shrank) since it was told.
    fn news(&mut self, connection: u32) -> String {
        let Some(name) = self.selected(connection) else {
            return String::new();
        };
        let count = self.folder(&name).map_or(0, |f| f.messages.len());
        let session = self.session(connection);
        if session.told == count {
            return String::new();
        }
        session.told = count;
        format!("* {count} EXISTS\r\n")
    }
}

fn same_folder(a: &str, b: &str) -> bool {
    a == b || (a.eq_ignore_ascii_case("INBOX") && b.eq_ignore_ascii_case("INBOX"))
}

/// An in-memory IMAP mailbox on a [`ScriptedImap`] (any LOGIN is accepted).
pub struct ScriptedMailbox {
    pub imap: ScriptedImap,
    state: Arc<Mutex<Boxes>>,
}

impl ScriptedMailbox {
    /// A server announcing `caps` (say `IMAP4rev1 IDLE`), with an empty INBOX. MOVE,
    /// UIDPLUS (COPYUID, UID EXPUNGE), ESEARCH, NAMESPACE and IDLE are served when
    /// announced; CONDSTORE, SPECIAL-USE and LIST-STATUS are not served at all.
    pub async fn start(caps: &str) -> Self {
        let imap = ScriptedImap::start().await;
        imap.capabilities(caps);
        let state = Arc::new(Mutex::new(Boxes {
            caps: caps.to_owned(),
            folders: Vec::new(),
            sessions: HashMap::new(),
            expunge: ExpungeAnswer::Standard,
            idle: IdleReports::Changes,
            body_bytes: BodyBytes::default(),
            next_uidvalidity: 1000,
            idle_announcements: 0,
        }));
        let mailbox = Self { imap, state };
        mailbox.create("INBOX");
        for verb in [
            "SELECT",
            "EXAMINE",
            "LIST",
            "LSUB",
            "STATUS",
            "SEARCH",
            "UID SEARCH",
            "FETCH",
            "UID FETCH",
            "STORE",
            "UID STORE",
            "COPY",
            "UID COPY",
            "MOVE",
            "UID MOVE",
            "EXPUNGE",
            "UID EXPUNGE",
            "CLOSE",
            "UNSELECT",
            "CREATE",
            "DELETE",
            "RENAME",
            "SUBSCRIBE",
            "UNSUBSCRIBE",
            "APPEND",
            "IDLE",
            "DONE",
            "NOOP",
            "CHECK",
            "ENABLE",
            "NAMESPACE",
            "ID",
        ] {
            let state = mailbox.state.clone();
            mailbox.imap.on(verb, move |req| {
                let mut boxes = lock(&state);
                answer(&mut boxes, req)
            });
        }
        mailbox
    }

    pub fn port(&self) -> u16 {
        self.imap.port
    }

    /// How this mailbox answers, for a handler that overrides a verb only sometimes.
    pub fn answers(&self) -> impl Fn(&ImapRequest) -> Reply + Send + Sync + Clone + 'static {
        let state = self.state.clone();
        move |req| answer(&mut lock(&state), req)
    }

    pub fn expunge_answer(&self, form: ExpungeAnswer) {
        lock(&self.state).expunge = form;
    }

    pub fn idle_reports(&self, mode: IdleReports) {
        lock(&self.state).idle = mode;
    }

    /// Creates a folder (nothing if it exists).
    pub fn create(&self, name: &str) {
        let mut boxes = lock(&self.state);
        if boxes.folder(name).is_none() {
            boxes.next_uidvalidity += 1;
            let uidvalidity = boxes.next_uidvalidity;
            boxes.folders.push(Folder {
                name: name.to_owned(),
                uidvalidity,
                uidnext: 1,
                messages: Vec::new(),
            });
        }
    }

    /// Adds a message quietly (no connection is told); returns its UID.
    pub fn add(&self, folder: &str, content: Content, flags: &[&str]) -> u32 {
        let mut boxes = lock(&self.state);
        let folder = boxes.folder_mut(folder).expect("no such folder");
        let uid = folder.uidnext;
        folder.uidnext += 1;
        folder.messages.push(Stored {
            uid,
            flags: flags.iter().map(|f| f.to_string()).collect(),
            content,
        });
        uid
    }

    /// Removes a message quietly (as another client's expunge, or Gmail taking a label
    /// off); the next SELECT shows it gone.
    pub fn remove(&self, folder: &str, uid: u32) {
        let mut boxes = lock(&self.state);
        let folder = boxes.folder_mut(folder).expect("no such folder");
        folder.messages.retain(|m| m.uid != uid);
    }

    /// Fills a folder with `count` copies of `content` under the UIDs `uid(0)`,
    /// `uid(1)`... (increasing).
    pub fn fill(&self, folder: &str, count: u32, uid: impl Fn(u32) -> u32, content: Content) {
        let mut boxes = lock(&self.state);
        let folder = boxes.folder_mut(folder).expect("no such folder");
        folder.messages.reserve(count as usize);
        for i in 0..count {
            let uid = uid(i);
            assert!(uid >= folder.uidnext, "UIDs must increase");
            folder.messages.push(Stored {
                uid,
                flags: Vec::new(),
                content: content.clone(),
            });
            folder.uidnext = uid + 1;
        }
    }

    /// New mail: added, and announced to connections idling on the folder (unless IDLE
    /// reports nothing). Returns its UID.
    pub fn deliver(&self, folder: &str, content: Content) -> u32 {
        self.deliver_to(folder, content, false).expect("delivered")
    }

    /// Like `deliver`, but only while a connection idles on the folder (so IDLE had its
    /// chance to tell); `None` if none does.
    pub fn deliver_during_idle(&self, folder: &str, content: Content) -> Option<u32> {
        self.deliver_to(folder, content, true)
    }

    fn deliver_to(&self, folder: &str, content: Content, only_if_idling: bool) -> Option<u32> {
        let mut boxes = lock(&self.state);
        let idling: Vec<u32> = boxes
            .sessions
            .iter()
            .filter(|(_, s)| {
                s.idle_tag.is_some()
                    && s.selected
                        .as_deref()
                        .is_some_and(|f| same_folder(f, folder))
            })
            .map(|(c, _)| *c)
            .collect();
        if only_if_idling && idling.is_empty() {
            return None;
        }
        let target = boxes.folder_mut(folder).expect("no such folder");
        let uid = target.uidnext;
        target.uidnext += 1;
        target.messages.push(Stored {
            uid,
            flags: Vec::new(),
            content,
        });
        if boxes.idle == IdleReports::Changes {
            for connection in idling {
                let news = boxes.news(connection);
                if !news.is_empty() && self.imap.push(connection, news.as_bytes()) {
                    boxes.idle_announcements += 1;
                }
            }
        }
        Some(uid)
    }

    /// How many times a connection in IDLE was told of new mail.
    pub fn idle_announcements(&self) -> u32 {
        lock(&self.state).idle_announcements
    }

    pub fn folders(&self) -> Vec<String> {
        lock(&self.state)
            .folders
            .iter()
            .map(|f| f.name.clone())
            .collect()
    }

    /// What the folder holds now, in UID order.
    pub fn messages(&self, folder: &str) -> Vec<ServerMessage> {
        let boxes = lock(&self.state);
        let Some(folder) = boxes.folder(folder) else {
            return Vec::new();
        };
        folder
            .messages
            .iter()
            .map(|m| ServerMessage {
                uid: m.uid,
                flags: m.flags.clone(),
                message_id: m
                    .content
                    .header_value("Message-ID")
                    .unwrap_or_default()
                    .trim_matches(['<', '>'])
                    .to_owned(),
                size: m.content.len(),
            })
            .collect()
    }

    /// Bytes of the message written to clients as whole-message or body-text sections
    /// so far (counted as they go into the socket: a client that stops reading stops
    /// the count, give or take a megabyte and the kernel's buffers).
    pub fn body_bytes_sent(&self, folder: &str, uid: u32) -> u64 {
        let counts = lock(&self.state).body_bytes.clone();
        let sent = lock(&counts).get(&(folder.to_owned(), uid)).copied();
        sent.unwrap_or(0)
    }
}

// ---------------------------------------------------------------------------------------
// Reading commands
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// An atom; a `[...]` section and `<...>` partial stay inside it.
    Atom(String),
    Str(String),
    List(Vec<Tok>),
}

impl Tok {
    fn text(&self) -> Option<&str> {
        match self {
            Tok::Atom(s) | Tok::Str(s) => Some(s),
            Tok::List(_) => None,
        }
    }

    fn upper(&self) -> String {
        self.text().unwrap_or_default().to_ascii_uppercase()
    }
}

fn tokens(text: &str) -> Vec<Tok> {
    fn list(chars: &[char], i: &mut usize, end: Option<char>) -> Vec<Tok> {
        let mut out = Vec::new();
        while *i < chars.len() {
            match chars[*i] {
                ' ' => *i += 1,
                c if Some(c) == end => {
                    *i += 1;
                    return out;
                }
                '(' => {
                    *i += 1;
                    out.push(Tok::List(list(chars, i, Some(')'))));
                }
                '"' => {
                    *i += 1;
                    let mut s = String::new();
                    while *i < chars.len() && chars[*i] != '"' {
                        if chars[*i] == '\\' && *i + 1 < chars.len() {
                            *i += 1;
                        }
                        s.push(chars[*i]);
                        *i += 1;
                    }
                    *i += 1;
                    out.push(Tok::Str(s));
                }
                _ => {
                    let mut s = String::new();
                    let mut depth = 0;
                    while *i < chars.len() {
                        let c = chars[*i];
                        if depth == 0 && (c == ' ' || c == ')' || c == '(') {
                            break;
                        }
                        match c {
                            '[' => depth += 1,
                            ']' => depth -= 1,
                            _ => {}
                        }
                        s.push(c);
                        *i += 1;
                    }
                    out.push(Tok::Atom(s));
                }
            }
        }
        out
    }
    let chars: Vec<char> = text.chars().collect();
    list(&chars, &mut 0, None)
}

/// A sequence set: ranges, `*` standing for `largest`.
fn in_set(set: &str, largest: u32) -> impl Fn(u32) -> bool {
    let ranges: Vec<(u32, u32)> = set
        .split(',')
        .filter_map(|part| {
            let value = |s: &str| {
                if s == "*" {
                    Some(largest)
                } else {
                    s.parse().ok()
                }
            };
            let (a, b) = match part.split_once(':') {
                Some((a, b)) => (value(a)?, value(b)?),
                None => (value(part)?, value(part)?),
            };
            Some((a.min(b), a.max(b)))
        })
        .collect();
    move |n| ranges.iter().any(|(a, b)| (*a..=*b).contains(&n))
}

fn is_set(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || ":,*".contains(c))
}

/// "1:5,7": sorted numbers as a set.
fn compress(numbers: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < numbers.len() {
        let start = numbers[i];
        while i + 1 < numbers.len() && numbers[i + 1] == numbers[i] + 1 {
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if numbers[i] == start {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{}", numbers[i]));
        }
        i += 1;
    }
    out
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

fn flag_list(flags: &[String]) -> String {
    format!("({})", flags.join(" "))
}

// ---------------------------------------------------------------------------------------
// Answering
// ---------------------------------------------------------------------------------------

fn text(bytes: String) -> Reply {
    Reply::Send(bytes.into_bytes())
}

fn bad(req: &ImapRequest, why: &str) -> Reply {
    text(format!("{} BAD {why}\r\n", req.tag))
}

fn answer(boxes: &mut Boxes, req: &ImapRequest) -> Reply {
    let verb = req.verb();
    let args_text = if verb.starts_with("UID ") {
        req.command.splitn(3, ' ').nth(2).unwrap_or_default()
    } else {
        req.command.split_once(' ').map_or("", |(_, rest)| rest)
    };
    let args = tokens(args_text);
    let arg = |i: usize| args.get(i).and_then(Tok::text).unwrap_or_default();
    let tag = &req.tag;
    let c = req.connection;
    let ok = |news: String, what: &str| text(format!("{news}{tag} OK {what} completed\r\n"));
    match verb.as_str() {
        "NOOP" | "CHECK" => ok(boxes.news(c), &verb),
        "ENABLE" => text(format!("* ENABLED\r\n{tag} OK ENABLE completed\r\n")),
        "ID" => text(format!("* ID NIL\r\n{tag} OK ID completed\r\n")),
        "NAMESPACE" if boxes.has("NAMESPACE") => text(format!(
            "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n{tag} OK NAMESPACE completed\r\n"
        )),
        "LIST" | "LSUB" => {
            if args.len() != 2 {
                return bad(req, "this server lists only with two arguments");
            }
            let pattern = arg(1);
            let mut out = String::new();
            for f in &boxes.folders {
                if pattern == "*" || pattern == "%" || same_folder(&f.name, pattern) {
                    out.push_str(&format!(
                        "* {verb} (\\HasNoChildren) \"/\" {}\r\n",
                        quoted(&f.name)
                    ));
                }
            }
            ok(out, &verb)
        }
        "STATUS" => {
            let Some(f) = boxes.folder(arg(0)) else {
                return text(format!("{tag} NO [NONEXISTENT] no such folder\r\n"));
            };
            let mut items = Vec::new();
            for item in args.get(1).map_or(&[][..], |t| match t {
                Tok::List(l) => l.as_slice(),
                _ => &[],
            }) {
                let value = match item.upper().as_str() {
                    "MESSAGES" => f.messages.len() as u32,
                    "UIDNEXT" => f.uidnext,
                    "UIDVALIDITY" => f.uidvalidity,
                    "UNSEEN" => f
                        .messages
                        .iter()
                        .filter(|m| !m.flags.iter().any(|x| x == "\\Seen"))
                        .count() as u32,
                    "RECENT" => 0,
                    other => return bad(req, &format!("STATUS item {other} is not served")),
                };
                items.push(format!("{} {value}", item.upper()));
            }
            ok(
                format!("* STATUS {} ({})\r\n", quoted(&f.name), items.join(" ")),
                "STATUS",
            )
        }
        "SELECT" | "EXAMINE" => {
            if args.len() > 1 {
                return bad(req, "SELECT parameters are not served");
            }
            let session = boxes.session(c);
            session.selected = None;
            let Some(f) = boxes.folder(arg(0)) else {
                return text(format!("{tag} NO [NONEXISTENT] no such folder\r\n"));
            };
            let (name, count) = (f.name.clone(), f.messages.len());
            let out = format!(
                "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n\
* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r\n\
* {count} EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY {}] UIDs valid\r\n\
* OK [UIDNEXT {}] Predicted next UID\r\n{tag} OK [{}] {verb} completed\r\n",
                f.uidvalidity,
                f.uidnext,
                if verb == "SELECT" {
                    "READ-WRITE"
                } else {
                    "READ-ONLY"
                },
            );
            let session = boxes.session(c);
            session.selected = Some(name);
            session.told = count;
            text(out)
        }
        "CLOSE" | "UNSELECT" => {
            if verb == "CLOSE" {
                if let Some(name) = boxes.selected(c) {
                    if let Some(f) = boxes.folder_mut(&name) {
                        f.messages
                            .retain(|m| !m.flags.iter().any(|x| x == "\\Deleted"));
                    }
                }
            }
            boxes.session(c).selected = None;
            ok(String::new(), &verb)
        }
        "CREATE" => {
            if boxes.folder(arg(0)).is_some() {
                return text(format!(
                    "{tag} NO [ALREADYEXISTS] Mailbox already exists\r\n"
                ));
            }
            boxes.next_uidvalidity += 1;
            let uidvalidity = boxes.next_uidvalidity;
            boxes.folders.push(Folder {
                name: arg(0).to_owned(),
                uidvalidity,
                uidnext: 1,
                messages: Vec::new(),
            });
            ok(String::new(), "CREATE")
        }
        "DELETE" => {
            let before = boxes.folders.len();
            let name = arg(0).to_owned();
            boxes.folders.retain(|f| !same_folder(&f.name, &name));
            if boxes.folders.len() == before {
                return text(format!("{tag} NO [NONEXISTENT] no such folder\r\n"));
            }
            ok(String::new(), "DELETE")
        }
        "RENAME" => {
            let to = arg(1).to_owned();
            match boxes.folder_mut(arg(0)) {
                Some(f) => {
                    f.name = to;
                    ok(String::new(), "RENAME")
                }
                None => text(format!("{tag} NO [NONEXISTENT] no such folder\r\n")),
            }
        }
        "SUBSCRIBE" | "UNSUBSCRIBE" => ok(String::new(), &verb),
        "APPEND" => {
            let Some(raw) = req.literals.first() else {
                return bad(req, "APPEND without a literal");
            };
            let flags: Vec<String> = args
                .iter()
                .find_map(|t| match t {
                    Tok::List(l) => Some(l.iter().filter_map(|f| f.text()).map(str::to_owned)),
                    _ => None,
                })
                .map(|f| f.collect())
                .unwrap_or_default();
            let has_uidplus = boxes.has("UIDPLUS");
            let Some(f) = boxes.folder_mut(arg(0)) else {
                return text(format!("{tag} NO [TRYCREATE] no such folder\r\n"));
            };
            let uid = f.uidnext;
            f.uidnext += 1;
            f.messages.push(Stored {
                uid,
                flags,
                content: Content::bytes(raw.clone()),
            });
            let code = if has_uidplus {
                format!("[APPENDUID {} {uid}] ", f.uidvalidity)
            } else {
                String::new()
            };
            text(format!("{tag} OK {code}APPEND completed\r\n"))
        }
        "IDLE" if boxes.has("IDLE") => {
            let news = if boxes.idle == IdleReports::Changes {
                boxes.news(c)
            } else {
                String::new()
            };
            if !news.is_empty() {
                boxes.idle_announcements += 1;
            }
            boxes.session(c).idle_tag = Some(tag.clone());
            text(format!("+ idling\r\n{news}"))
        }
        "DONE" => match boxes.session(c).idle_tag.take() {
            Some(idle) => text(format!("{idle} OK IDLE terminated\r\n")),
            None => text("* BAD DONE outside IDLE\r\n".to_owned()),
        },
        "SEARCH" | "UID SEARCH" => search(boxes, req, &args),
        "FETCH" | "UID FETCH" => fetch(boxes, req, &args),
        "STORE" | "UID STORE" => store(boxes, req, &args),
        "COPY" | "UID COPY" => copy(boxes, req, &args, false),
        "MOVE" | "UID MOVE" if boxes.has("MOVE") => copy(boxes, req, &args, true),
        "EXPUNGE" => expunge(boxes, req, None),
        "UID EXPUNGE" if boxes.has("UIDPLUS") => expunge(boxes, req, Some(arg(0))),
        _ => bad(req, &format!("{verb} is not offered")),
    }
}

/// The selected folder, or the answer saying there is none.
fn selected_folder<'a>(boxes: &'a mut Boxes, req: &ImapRequest) -> Result<&'a mut Folder, Reply> {
    match boxes.selected(req.connection) {
        Some(name) => boxes
            .folder_mut(&name)
            .ok_or_else(|| text(format!("{} NO the folder is gone\r\n", req.tag))),
        None => Err(bad(req, "no folder selected")),
    }
}

/// Indexes (into the folder) of the messages a set names, by UID or by number.
fn matching(folder: &Folder, set: &str, by_uid: bool) -> Vec<usize> {
    if by_uid {
        let largest = folder.messages.last().map_or(0, |m| m.uid);
        let member = in_set(set, largest);
        (0..folder.messages.len())
            .filter(|&i| member(folder.messages[i].uid))
            .collect()
    } else {
        let member = in_set(set, folder.messages.len() as u32);
        (0..folder.messages.len())
            .filter(|&i| member(i as u32 + 1))
            .collect()
    }
}

fn search(boxes: &mut Boxes, req: &ImapRequest, args: &[Tok]) -> Reply {
    let by_uid = req.verb() == "UID SEARCH";
    let esearch = boxes.has("ESEARCH");
    let tag = req.tag.clone();
    let mut i = 0;
    let mut returns: Option<Vec<String>> = None;
    if args.first().map(Tok::upper).as_deref() == Some("RETURN") {
        if !esearch {
            return bad(req, "ESEARCH is not offered");
        }
        let Some(Tok::List(options)) = args.get(1) else {
            return bad(req, "RETURN without options");
        };
        returns = Some(options.iter().map(Tok::upper).collect());
        i = 2;
    }
    if args.get(i).map(Tok::upper).as_deref() == Some("CHARSET") {
        i += 2;
    }
    let folder = match selected_folder(boxes, req) {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let mut keep = vec![true; folder.messages.len()];
    let has_flag = |m: &Stored, flag: &str| m.flags.iter().any(|f| f.eq_ignore_ascii_case(flag));
    while i < args.len() {
        let key = args[i].upper();
        i += 1;
        let mut negate = false;
        let mut key = key;
        if key == "NOT" {
            negate = true;
            key = args.get(i).map(Tok::upper).unwrap_or_default();
            i += 1;
        }
        let hits: Vec<bool> = match key.as_str() {
            "ALL" => vec![true; folder.messages.len()],
            "UID" => {
                let set = args
                    .get(i)
                    .and_then(Tok::text)
                    .unwrap_or_default()
                    .to_owned();
                i += 1;
                let chosen = matching(folder, &set, true);
                let mut hits = vec![false; folder.messages.len()];
                for index in chosen {
                    hits[index] = true;
                }
                hits
            }
            "DELETED" | "SEEN" | "FLAGGED" | "ANSWERED" | "DRAFT" => {
                let flag = format!("\\{key}");
                folder.messages.iter().map(|m| has_flag(m, &flag)).collect()
            }
            "UNDELETED" | "UNSEEN" | "UNFLAGGED" | "UNANSWERED" | "UNDRAFT" => {
                let flag = format!("\\{}", &key[2..]);
                folder
                    .messages
                    .iter()
                    .map(|m| !has_flag(m, &flag))
                    .collect()
            }
            "HEADER" => {
                let field = args
                    .get(i)
                    .and_then(Tok::text)
                    .unwrap_or_default()
                    .to_owned();
                let value = args
                    .get(i + 1)
                    .and_then(Tok::text)
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                i += 2;
                folder
                    .messages
                    .iter()
                    .map(|m| {
                        m.content
                            .header_value(&field)
                            .is_some_and(|v| v.to_ascii_lowercase().contains(&value))
                    })
                    .collect()
            }
            set if is_set(set) => {
                let chosen = matching(folder, set, false);
                let mut hits = vec![false; folder.messages.len()];
                for index in chosen {
                    hits[index] = true;
                }
                hits
            }
            other => return bad(req, &format!("SEARCH key {other} is not served")),
        };
        for (k, hit) in keep.iter_mut().zip(hits) {
            *k &= hit != negate;
        }
    }
    let found: Vec<u32> = (0..folder.messages.len())
        .filter(|&i| keep[i])
        .map(|i| {
            if by_uid {
                folder.messages[i].uid
            } else {
                i as u32 + 1
            }
        })
        .collect();
    let mut out = String::with_capacity(found.len() * 8 + 64);
    match returns {
        None => {
            out.push_str("* SEARCH");
            for n in &found {
                out.push(' ');
                out.push_str(&n.to_string());
            }
            out.push_str("\r\n");
        }
        Some(options) => {
            out.push_str(&format!("* ESEARCH (TAG \"{tag}\")"));
            if by_uid {
                out.push_str(" UID");
            }
            let options = if options.is_empty() {
                vec!["ALL".to_owned()]
            } else {
                options
            };
            for option in options {
                match option.as_str() {
                    "MIN" if !found.is_empty() => out.push_str(&format!(" MIN {}", found[0])),
                    "MAX" if !found.is_empty() => {
                        out.push_str(&format!(" MAX {}", found[found.len() - 1]))
                    }
                    "COUNT" => out.push_str(&format!(" COUNT {}", found.len())),
                    "ALL" if !found.is_empty() => {
                        out.push_str(" ALL ");
                        out.push_str(&compress(&found));
                    }
                    "MIN" | "MAX" | "ALL" => {}
                    other => return bad(req, &format!("RETURN option {other} is not served")),
                }
            }
            out.push_str("\r\n");
        }
    }
    out.push_str(&format!("{tag} OK SEARCH completed\r\n"));
    text(out)
}

type BodyBytes = Arc<Mutex<HashMap<(String, u32), u64>>>;

/// One piece of a FETCH answer.
enum Piece {
    Bytes(Vec<u8>),
    /// Bytes `start..start + len` of a message, counted (if a key is given) chunk by
    /// chunk as they are written.
    Range(Content, u64, u64, Option<(BodyBytes, (String, u32))>),
}

/// Writes the pieces in chunks of at most 1 MiB, making big ranges as they go.
fn chunks(pieces: Vec<Piece>) -> Chunks {
    const CHUNK: u64 = 1 << 20;
    Box::new(pieces.into_iter().flat_map(|piece| -> Chunks {
        match piece {
            Piece::Bytes(b) => Box::new(std::iter::once(b)),
            Piece::Range(content, start, len, count) => Box::new(RangeChunks {
                content,
                next: start,
                end: start + len,
                written: 0,
                count,
            }),
        }
    }))
}

/// A message's bytes in chunks of 1 MiB; each is counted when the next is asked for,
/// that is once it has been written.
struct RangeChunks {
    content: Content,
    next: u64,
    end: u64,
    written: u64,
    count: Option<(BodyBytes, (String, u32))>,
}

impl Iterator for RangeChunks {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        if let Some((counts, key)) = &self.count {
            *lock(counts).entry(key.clone()).or_default() += std::mem::take(&mut self.written);
        }
        if self.next >= self.end {
            return None;
        }
        let mut out = vec![0u8; (1u64 << 20).min(self.end - self.next) as usize];
        self.content.read_at(self.next, &mut out);
        self.next += out.len() as u64;
        self.written = out.len() as u64;
        Some(out)
    }
}

/// `BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>` and friends: (what the answer calls it,
/// the bytes, whether they count as the body, whether the message becomes \Seen).
enum Item {
    Uid,
    Flags,
    Size,
    InternalDate,
    /// Gmail's X-GM-MSGID (served with X-GM-EXT-1): the same for every copy of a
    /// Message-ID, as Gmail gives one id to a message in all of its labels.
    GmMsgid,
    Section {
        name: String,
        section: String,
        partial: Option<(u64, u64)>,
        peek: bool,
    },
}

fn parse_item(item: &str) -> Result<Item, String> {
    let upper = item.to_ascii_uppercase();
    Ok(match upper.as_str() {
        "UID" => Item::Uid,
        "FLAGS" => Item::Flags,
        "RFC822.SIZE" => Item::Size,
        "INTERNALDATE" => Item::InternalDate,
        "X-GM-MSGID" => Item::GmMsgid,
        "RFC822" | "RFC822.HEADER" | "RFC822.TEXT" => Item::Section {
            name: upper.clone(),
            section: match upper.as_str() {
                "RFC822.HEADER" => "HEADER".to_owned(),
                "RFC822.TEXT" => "TEXT".to_owned(),
                _ => String::new(),
            },
            partial: None,
            peek: upper == "RFC822.HEADER",
        },
        _ if upper.starts_with("BODY[") || upper.starts_with("BODY.PEEK[") => {
            let open = upper.find('[').unwrap();
            let close = upper.rfind(']').ok_or("no ]")?;
            let section = upper[open + 1..close].to_owned();
            let rest = &upper[close + 1..];
            let partial = if rest.is_empty() {
                None
            } else {
                let inner = rest
                    .strip_prefix('<')
                    .and_then(|r| r.strip_suffix('>'))
                    .ok_or_else(|| format!("bad partial {rest}"))?;
                let (o, l) = inner
                    .split_once('.')
                    .ok_or_else(|| format!("bad partial {rest}"))?;
                Some((
                    o.parse().map_err(|_| "bad offset")?,
                    l.parse().map_err(|_| "bad length")?,
                ))
            };
            Item::Section {
                name: "BODY".to_owned(),
                section,
                partial,
                peek: upper.starts_with("BODY.PEEK"),
            }
        }
        other => return Err(format!("FETCH item {other} is not served")),
    })
}

fn fetch(boxes: &mut Boxes, req: &ImapRequest, args: &[Tok]) -> Reply {
    let by_uid = req.verb() == "UID FETCH";
    let (Some(set), Some(items)) = (args.first().and_then(Tok::text), args.get(1)) else {
        return bad(req, "FETCH needs a set and items");
    };
    let words: Vec<String> = match items {
        Tok::List(list) => list
            .iter()
            .filter_map(Tok::text)
            .map(str::to_owned)
            .collect(),
        Tok::Atom(a) => match a.to_ascii_uppercase().as_str() {
            "FAST" => vec!["FLAGS".into(), "INTERNALDATE".into(), "RFC822.SIZE".into()],
            _ => vec![a.clone()],
        },
        Tok::Str(_) => return bad(req, "FETCH items in quotes"),
    };
    if args.len() > 2 {
        return bad(req, "FETCH modifiers are not served (no CONDSTORE)");
    }
    let mut parsed = Vec::new();
    for word in &words {
        match parse_item(word) {
            Ok(Item::GmMsgid) if !boxes.has("X-GM-EXT-1") => {
                return bad(req, "X-GM-MSGID without X-GM-EXT-1")
            }
            Ok(item) => parsed.push(item),
            Err(why) => return bad(req, &why),
        }
    }
    if by_uid && !parsed.iter().any(|i| matches!(i, Item::Uid)) {
        parsed.insert(0, Item::Uid);
    }
    let tag = req.tag.clone();
    let counts = boxes.body_bytes.clone();
    let folder = match selected_folder(boxes, req) {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let folder_name = folder.name.clone();
    let mut pieces: Vec<Piece> = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    for index in matching(folder, set, by_uid) {
        let m = &mut folder.messages[index];
        let mut parts: Vec<String> = Vec::new();
        let mut literals: Vec<(String, Piece)> = Vec::new();
        let mut sets_seen = false;
        for item in &parsed {
            match item {
                Item::Uid => parts.push(format!("UID {}", m.uid)),
                Item::Flags => parts.push(format!("FLAGS {}", flag_list(&m.flags))),
                Item::Size => parts.push(format!("RFC822.SIZE {}", m.content.len())),
                Item::InternalDate => {
                    parts.push("INTERNALDATE \"01-Jan-2026 00:00:00 +0000\"".to_owned())
                }
                Item::GmMsgid => {
                    // FNV-1a of the Message-ID: stable, and above i64::MAX for some.
                    let id = m.content.header_value("Message-ID").unwrap_or_default();
                    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                    });
                    parts.push(format!("X-GM-MSGID {hash}"));
                }
                Item::Section {
                    name,
                    section,
                    partial,
                    peek,
                } => {
                    let len = m.content.len();
                    let header_len = m.content.header_len();
                    let (whole, body): (Piece, bool) = match section.as_str() {
                        "" => (Piece::Range(m.content.clone(), 0, len, None), true),
                        "TEXT" => (
                            Piece::Range(m.content.clone(), header_len, len - header_len, None),
                            true,
                        ),
                        "HEADER" => (Piece::Bytes(m.content.header()), false),
                        s if s.starts_with("HEADER.FIELDS") => {
                            let not = s.starts_with("HEADER.FIELDS.NOT");
                            let names: Vec<String> = s
                                .split_once('(')
                                .map(|(_, r)| r.trim_end_matches(')'))
                                .unwrap_or_default()
                                .split_whitespace()
                                .map(str::to_owned)
                                .collect();
                            (Piece::Bytes(m.content.header_fields(&names, not)), false)
                        }
                        other => {
                            return bad(req, &format!("FETCH section [{other}] is not served"))
                        }
                    };
                    let (start, total) = match &whole {
                        Piece::Bytes(b) => (0, b.len() as u64),
                        Piece::Range(_, s, l, _) => (*s, *l),
                    };
                    let (from, n) = match partial {
                        Some((o, l)) => ((*o).min(total), (*l).min(total.saturating_sub(*o))),
                        None => (0, total),
                    };
                    let count = body.then(|| (counts.clone(), (folder_name.clone(), m.uid)));
                    let piece = match whole {
                        Piece::Bytes(b) => {
                            Piece::Bytes(b[from as usize..(from + n) as usize].to_vec())
                        }
                        Piece::Range(content, _, _, _) => {
                            Piece::Range(content, start + from, n, count)
                        }
                    };
                    sets_seen |= !peek;
                    let label = if name == "BODY" {
                        match partial {
                            Some((o, _)) => format!("BODY[{section}]<{o}>"),
                            None => format!("BODY[{section}]"),
                        }
                    } else {
                        name.clone()
                    };
                    literals.push((format!("{label} {{{n}}}\r\n"), piece));
                }
            }
        }
        if sets_seen && !m.flags.iter().any(|f| f == "\\Seen") {
            m.flags.push("\\Seen".to_owned());
            parts.push(format!("FLAGS {}", flag_list(&m.flags)));
        }
        line.extend_from_slice(format!("* {} FETCH ({}", index + 1, parts.join(" ")).as_bytes());
        for (i, (head, piece)) in literals.into_iter().enumerate() {
            if !parts.is_empty() || i > 0 {
                line.push(b' ');
            }
            line.extend_from_slice(head.as_bytes());
            match piece {
                Piece::Bytes(b) => line.extend_from_slice(&b),
                range => {
                    pieces.push(Piece::Bytes(std::mem::take(&mut line)));
                    pieces.push(range);
                }
            }
        }
        line.extend_from_slice(b")\r\n");
    }
    line.extend_from_slice(format!("{tag} OK FETCH completed\r\n").as_bytes());
    pieces.push(Piece::Bytes(line));
    Reply::Stream(chunks(pieces))
}

fn store(boxes: &mut Boxes, req: &ImapRequest, args: &[Tok]) -> Reply {
    let by_uid = req.verb() == "UID STORE";
    let set = args
        .first()
        .and_then(Tok::text)
        .unwrap_or_default()
        .to_owned();
    let op = args.get(1).map(Tok::upper).unwrap_or_default();
    let flags: Vec<String> = match args.get(2) {
        Some(Tok::List(l)) => l.iter().filter_map(Tok::text).map(str::to_owned).collect(),
        Some(t) => t.text().map(|s| vec![s.to_owned()]).unwrap_or_default(),
        None => return bad(req, "STORE without flags"),
    };
    let silent = op.ends_with(".SILENT");
    let mode = op.trim_end_matches(".SILENT");
    if !["FLAGS", "+FLAGS", "-FLAGS"].contains(&mode) {
        return bad(req, &format!("STORE {op} is not served"));
    }
    let tag = req.tag.clone();
    let folder = match selected_folder(boxes, req) {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let mut out = String::new();
    for index in matching(folder, &set, by_uid) {
        let m = &mut folder.messages[index];
        match mode {
            "FLAGS" => m.flags = flags.clone(),
            "+FLAGS" => {
                for f in &flags {
                    if !m.flags.iter().any(|x| x.eq_ignore_ascii_case(f)) {
                        m.flags.push(f.clone());
                    }
                }
            }
            _ => m
                .flags
                .retain(|x| !flags.iter().any(|f| f.eq_ignore_ascii_case(x))),
        }
        if !silent {
            out.push_str(&format!(
                "* {} FETCH (UID {} FLAGS {})\r\n",
                index + 1,
                m.uid,
                flag_list(&m.flags)
            ));
        }
    }
    out.push_str(&format!("{tag} OK STORE completed\r\n"));
    text(out)
}

fn copy(boxes: &mut Boxes, req: &ImapRequest, args: &[Tok], and_move: bool) -> Reply {
    let by_uid = req.verb().starts_with("UID ");
    let set = args
        .first()
        .and_then(Tok::text)
        .unwrap_or_default()
        .to_owned();
    let target = args
        .get(1)
        .and_then(Tok::text)
        .unwrap_or_default()
        .to_owned();
    let tag = req.tag.clone();
    let uidplus = boxes.has("UIDPLUS");
    let expunge_form = boxes.expunge;
    let source_name = match boxes.selected(req.connection) {
        Some(name) => name,
        None => return bad(req, "no folder selected"),
    };
    if boxes.folder(&target).is_none() {
        return text(format!("{tag} NO [TRYCREATE] no such folder\r\n"));
    }
    let Some(source) = boxes.folder(&source_name) else {
        return text(format!("{tag} NO the folder is gone\r\n"));
    };
    let chosen = matching(source, &set, by_uid);
    let copies: Vec<Stored> = chosen.iter().map(|&i| source.messages[i].clone()).collect();
    let from_uids: Vec<u32> = copies.iter().map(|m| m.uid).collect();
    let to = boxes.folder_mut(&target).unwrap();
    let mut to_uids = Vec::new();
    for mut m in copies {
        m.uid = to.uidnext;
        to.uidnext += 1;
        to_uids.push(m.uid);
        to.messages.push(m);
    }
    let code = if uidplus && !from_uids.is_empty() {
        format!(
            "[COPYUID {} {} {}] ",
            to.uidvalidity,
            compress(&from_uids),
            compress(&to_uids)
        )
    } else {
        String::new()
    };
    if !and_move {
        return text(format!("{tag} OK {code}COPY completed\r\n"));
    }
    let mut out = if code.is_empty() {
        String::new()
    } else {
        format!("* OK {code}Moved\r\n")
    };
    let source = boxes.folder_mut(&source_name).unwrap();
    for uid in from_uids {
        if let Some(i) = source.messages.iter().position(|m| m.uid == uid) {
            source.messages.remove(i);
            out.push_str(&expunged_line(expunge_form, i + 1));
        }
    }
    let count = source.messages.len();
    boxes.session(req.connection).told = count;
    out.push_str(&format!("{tag} OK MOVE completed\r\n"));
    text(out)
}

fn expunged_line(form: ExpungeAnswer, number: usize) -> String {
    match form {
        ExpungeAnswer::Standard => format!("* {number} EXPUNGE\r\n"),
        ExpungeAnswer::Expunged => format!("* {number} EXPUNGED\r\n"),
    }
}

fn expunge(boxes: &mut Boxes, req: &ImapRequest, uids: Option<&str>) -> Reply {
    let form = boxes.expunge;
    let tag = req.tag.clone();
    let folder = match selected_folder(boxes, req) {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let largest = folder.messages.last().map_or(0, |m| m.uid);
    let member = uids.map(|set| in_set(set, largest));
    let mut out = String::new();
    while let Some(i) = folder.messages.iter().position(|m| {
        m.flags.iter().any(|f| f == "\\Deleted") && member.as_ref().is_none_or(|p| p(m.uid))
    }) {
        folder.messages.remove(i);
        out.push_str(&expunged_line(form, i + 1));
    }
    let count = folder.messages.len();
    boxes.session(req.connection).told = count;
    out.push_str(&format!("{tag} OK EXPUNGE completed\r\n"));
    text(out)
}
