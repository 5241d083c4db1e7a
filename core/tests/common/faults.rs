//! Fault injection for the integration tests: a proxy that breaks a real server's answers
//! on cue, and small scriptable servers (IMAP, POP3, SMTP) that misbehave in ways a real
//! server will not. Everything listens on 127.0.0.1 with a free port and runs on the
//! test's tokio runtime (use a multi-thread runtime when the test also blocks).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn bind() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// Keeps a connection open and silent until the task is aborted or the runtime ends.
async fn hold<T>(_sockets: T) {
    std::future::pending::<()>().await;
}

// ---------------------------------------------------------------------------------------
// The proxy
// ---------------------------------------------------------------------------------------

/// What the proxy does to the answer of a command that matches a [`Rule`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Close both sockets once `after` bytes of the answer were forwarded (exact byte,
    /// usually in the middle of a line).
    Cut,
    /// Close both sockets at the first response boundary at or after `after` bytes: a
    /// link that drops between two packets, each holding whole lines.
    CutBetweenResponses,
    /// At the first response boundary at or after `after` bytes: `* BYE <text>`, then close.
    Bye(String),
    /// At the first response boundary at or after `after` bytes: end the answer with
    /// `<tag> <text>` (for example `NO [NOPERM] denied`); the rest of the server's answer,
    /// its own completion included, is dropped. The connection goes on as before.
    Complete(String),
    /// Forward `after` bytes of the answer, then nothing more in either direction; both
    /// sockets stay open (a link that went dead without a reset).
    Silence,
}

/// A fault applied to the answer of client commands whose line contains `pattern`
/// (case-sensitive; the line as sent, e.g. `UID FETCH 1:* (UID FLAGS)`).
#[derive(Debug, Clone)]
pub struct Rule {
    pattern: String,
    after: u64,
    fault: Fault,
    /// How many more times it may fire; `None`: every time.
    times: Option<u32>,
}

impl Rule {
    /// Fires once, at the start of the answer, with [`Fault::Cut`], unless told otherwise.
    pub fn on(pattern: &str) -> Self {
        Self {
            pattern: pattern.to_owned(),
            after: 0,
            fault: Fault::Cut,
            times: Some(1),
        }
    }

    /// Acts only after this many bytes of the answer (counted from the first byte the
    /// server sends after the command).
    pub fn after(mut self, bytes: u64) -> Self {
        self.after = bytes;
        self
    }

    pub fn fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }

    pub fn times(mut self, times: u32) -> Self {
        self.times = Some(times);
        self
    }

    pub fn always(mut self) -> Self {
        self.times = None;
        self
    }
}

/// Handle of a rule added to a [`Proxy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleId(usize);

/// One command and its answer as they passed the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The command line as the client sent it (tag included, without CRLF).
    pub command: String,
    /// Bytes of the answer the client received, completion included.
    pub answer_bytes: u64,
    /// The tagged completion the client received (possibly one the proxy wrote).
    pub completion: String,
}

struct RuleState {
    rule: Rule,
    fired: u32,
    missed: u32,
}

/// A TCP proxy in front of a test server. It can refuse connections (the network is
/// down), stall new ones, cut one right after the client sends a given command, cut
/// every connection after N bytes from the server, go silent, and apply [`Rule`]s to
/// IMAP answers (cut, `* BYE`, a replaced tagged completion, silence, at a chosen byte).
/// [`Proxy::exchanges`] tells what each command's answer was, to check a test's premise.
/// The IMAP-aware parts need a clear-text IMAP stream (the engine's `Security::Plain`);
/// everything else relays any TCP protocol, TLS included.
pub struct Proxy {
    pub port: u16,
    state: Arc<ProxyState>,
}

#[derive(Default)]
struct ProxyState {
    /// Where new connections are relayed to.
    upstream: AtomicU16,
    down: AtomicBool,
    /// New connections are accepted and then left hanging: a server that never answers.
    stalled: AtomicBool,
    cut_after: Mutex<Option<String>>,
    /// Each connection is cut after this many bytes from the server.
    cut_every: Mutex<Option<u64>>,
    rules: Mutex<Vec<RuleState>>,
    cuts: AtomicU32,
    connections: AtomicU32,
    /// What clients sent (the first megabyte), to check what travels in clear text.
    sent: Mutex<Vec<u8>>,
    exchanges: Mutex<Vec<Exchange>>,
    /// Open connections: their task, and a flag that silences them.
    open: Mutex<Vec<(JoinHandle<()>, Arc<AtomicBool>)>>,
}

impl Proxy {
    pub async fn start(upstream_port: u16) -> Proxy {
        let (listener, port) = bind().await;
        let state = Arc::new(ProxyState::default());
        state.upstream.store(upstream_port, Ordering::SeqCst);
        let accept_state = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                accept_state.connections.fetch_add(1, Ordering::SeqCst);
                if accept_state.down.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let silent = Arc::new(AtomicBool::new(false));
                if accept_state.stalled.load(Ordering::SeqCst) {
                    accept_state.cuts.fetch_add(1, Ordering::SeqCst);
                    let task = tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(300)).await;
                        drop(client);
                    });
                    lock(&accept_state.open).push((task, silent));
                    continue;
                }
                let state = accept_state.clone();
                let flag = silent.clone();
                let upstream_port = state.upstream.load(Ordering::SeqCst);
                let task = tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)).await else {
                        return;
                    };
                    let _ = server.set_nodelay(true);
                    Relay::new(state, flag).run(client, server).await;
                });
                let mut open = lock(&accept_state.open);
                open.retain(|(t, _)| !t.is_finished());
                open.push((task, silent));
            }
        });
        Proxy { port, state }
    }

    /// New connections go to `port` (another server taking this one's place: a network
    /// that redirects); open ones are cut.
    pub fn redirect(&self, port: u16) {
        self.state.upstream.store(port, Ordering::SeqCst);
        for (task, _) in lock(&self.state.open).drain(..) {
            task.abort();
        }
    }

    /// Refuses new connections and cuts the open ones.
    pub fn go_down(&self) {
        self.state.down.store(true, Ordering::SeqCst);
        for (task, _) in lock(&self.state.open).drain(..) {
            task.abort();
        }
    }

    /// Accepts and relays again (ends `go_down` and `stall`); open connections are cut.
    pub fn come_up(&self) {
        self.state.down.store(false, Ordering::SeqCst);
        self.state.stalled.store(false, Ordering::SeqCst);
        for (task, _) in lock(&self.state.open).drain(..) {
            task.abort();
        }
    }

    /// Accepts new connections but never answers (counted in `cuts`).
    pub fn stall(&self) {
        self.state.stalled.store(true, Ordering::SeqCst);
    }

    /// The open connections stop forwarding anything, both ways, with both sockets left
    /// open (no FIN, no RST): a link that went dead. New connections are relayed.
    pub fn go_silent(&self) {
        for (_, silent) in lock(&self.state.open).iter() {
            silent.store(true, Ordering::SeqCst);
        }
    }

    /// Cuts the connection once the client has sent a line containing `pattern` (the
    /// server receives it and acts; the client never hears back). Fires once.
    pub fn cut_after(&self, pattern: &str) {
        *lock(&self.state.cut_after) = Some(pattern.to_owned());
    }

    /// Cuts every connection (counted in `cuts`) once it has carried `bytes` from the
    /// server to the client; `None` stops doing so.
    pub fn cut_every(&self, bytes: Option<u64>) {
        *lock(&self.state.cut_every) = bytes;
    }

    /// Adds a rule for IMAP answers; rules are tried in the order added.
    pub fn add(&self, rule: Rule) -> RuleId {
        let mut rules = lock(&self.state.rules);
        rules.push(RuleState {
            rule,
            fired: 0,
            missed: 0,
        });
        RuleId(rules.len() - 1)
    }

    /// Disarms every rule (their counts stay readable).
    pub fn clear_rules(&self) {
        for rule in lock(&self.state.rules).iter_mut() {
            rule.rule.times = Some(0);
        }
    }

    /// How often the rule acted inside an answer (before the server's completion).
    pub fn fired(&self, id: RuleId) -> u32 {
        lock(&self.state.rules)[id.0].fired
    }

    /// How often a matching answer ended before the rule's byte offset (it stays armed).
    pub fn missed(&self, id: RuleId) -> u32 {
        lock(&self.state.rules)[id.0].missed
    }

    /// Connections cut or stalled by the proxy (`stall`, `cut_after`, `cut_every`, rules
    /// that cut, say BYE or go silent).
    pub fn cuts(&self) -> u32 {
        self.state.cuts.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u32 {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Whether a client sent `text` readably.
    pub fn saw(&self, text: &str) -> bool {
        String::from_utf8_lossy(&lock(&self.state.sent)).contains(text)
    }

    /// How many bytes clients sent (up to the first megabyte).
    pub fn sent_bytes(&self) -> usize {
        lock(&self.state.sent).len()
    }

    /// Every completed IMAP command and the size of its answer, oldest first.
    pub fn exchanges(&self) -> Vec<Exchange> {
        lock(&self.state.exchanges).clone()
    }
}

/// Splits an IMAP byte stream (either direction) into units: a command or a response,
/// that is a line plus the literals (`{n}`, `{n+}`) it announces and the lines after them.
#[derive(Default)]
struct Framer {
    /// Literal bytes still to come.
    literal: u64,
    /// The start of the current line (enough to read a tag) and its end (enough to find
    /// a literal announcement); lines may be of any length.
    head: Vec<u8>,
    tail: Vec<u8>,
    /// The first line of the current unit once it is complete.
    first: Option<Vec<u8>>,
}

const HEAD: usize = 240;
const TAIL: usize = 32;

impl Framer {
    fn at_boundary(&self) -> bool {
        self.literal == 0 && self.head.is_empty() && self.first.is_none()
    }

    fn push(&mut self, bytes: &[u8]) {
        let room = HEAD.saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..room.min(bytes.len())]);
        self.tail
            .extend_from_slice(&bytes[bytes.len().saturating_sub(TAIL)..]);
        if self.tail.len() > TAIL {
            self.tail.drain(..self.tail.len() - TAIL);
        }
    }

    /// Consumes `data` up to the end of the current unit (or all of it). Returns the bytes
    /// consumed and, if a unit ended there, its first line.
    fn advance(&mut self, data: &[u8]) -> (usize, Option<Vec<u8>>) {
        let mut i = 0;
        while i < data.len() {
            if self.literal > 0 {
                let take = usize::try_from(self.literal)
                    .unwrap_or(usize::MAX)
                    .min(data.len() - i);
                self.literal -= take as u64;
                i += take;
                continue;
            }
            match data[i..].iter().position(|&b| b == b'\n') {
                None => {
                    self.push(&data[i..]);
                    i = data.len();
                }
                Some(p) => {
                    self.push(&data[i..=i + p]);
                    i += p + 1;
                    let head = std::mem::take(&mut self.head);
                    let tail = std::mem::take(&mut self.tail);
                    self.first.get_or_insert(head);
                    if let Some(n) = literal_announced(&tail) {
                        self.literal = n;
                        continue;
                    }
                    return (i, self.first.take());
                }
            }
        }
        (i, None)
    }
}

/// `{123}` or `{123+}` at the end of a line.
fn literal_announced(line_end: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(line_end)
        .ok()?
        .trim_end_matches(['\r', '\n']);
    let inner = text.strip_suffix('}')?;
    let open = inner.rfind('{')?;
    inner[open + 1..].trim_end_matches('+').parse().ok()
}

fn line_text(line: &[u8]) -> String {
    String::from_utf8_lossy(line)
        .trim_end_matches(['\r', '\n'])
        .to_owned()
}

/// The tag of a command line: its first word, if the line looks like a command.
fn command_tag(line: &str) -> Option<&str> {
    let mut words = line.splitn(3, ' ');
    let tag = words.next()?;
    words.next()?;
    (!tag.is_empty() && tag != "*" && tag != "+").then_some(tag)
}

struct Pending {
    tag: String,
    command: String,
    bytes: u64,
}

struct Armed {
    rule: usize,
    tag: String,
    after: u64,
    fault: Fault,
    seen: u64,
}

/// One relayed connection.
struct Relay {
    state: Arc<ProxyState>,
    silent: Arc<AtomicBool>,
    up: Framer,
    down: Framer,
    pending: VecDeque<Pending>,
    armed: Option<Armed>,
    /// After a replaced completion: the server's answer to this tag is dropped.
    suppress: Option<String>,
    down_bytes: u64,
    recent: Vec<u8>,
}

/// What to do with a connection after a chunk.
enum Next {
    Go,
    Close,
    Hold,
}

impl Relay {
    fn new(state: Arc<ProxyState>, silent: Arc<AtomicBool>) -> Self {
        Self {
            state,
            silent,
            up: Framer::default(),
            down: Framer::default(),
            pending: VecDeque::new(),
            armed: None,
            suppress: None,
            down_bytes: 0,
            recent: Vec::new(),
        }
    }

    fn cut(&self) {
        self.state.cuts.fetch_add(1, Ordering::SeqCst);
    }

    async fn run(mut self, client: TcpStream, server: TcpStream) {
        let (mut client_read, mut client_write) = client.into_split();
        let (mut server_read, mut server_write) = server.into_split();
        let mut up_buf = vec![0u8; 64 * 1024];
        let mut down_buf = vec![0u8; 64 * 1024];
        loop {
            let next = tokio::select! {
                read = client_read.read(&mut up_buf) => match read {
                    Ok(0) | Err(_) => Next::Close,
                    Ok(_) if self.silent.load(Ordering::SeqCst) => Next::Hold,
                    Ok(n) => self.relay_up(&up_buf[..n], &mut server_write).await,
                },
                read = server_read.read(&mut down_buf) => match read {
                    Ok(0) | Err(_) => Next::Close,
                    Ok(_) if self.silent.load(Ordering::SeqCst) => Next::Hold,
                    Ok(n) => self.relay_down(&down_buf[..n], &mut client_write).await,
                },
            };
            match next {
                Next::Go => {}
                Next::Close => return,
                Next::Hold => {
                    hold((client_read, client_write, server_read, server_write)).await;
                    return;
                }
            }
        }
    }

    async fn relay_up(&mut self, chunk: &[u8], server: &mut (impl AsyncWrite + Unpin)) -> Next {
        {
            let mut sent = lock(&self.state.sent);
            if sent.len() < 1 << 20 {
                sent.extend_from_slice(chunk);
            }
        }
        // `cut_after`: commands may arrive in pieces, so match over the tail of what came
        // before too.
        self.recent.extend_from_slice(chunk);
        if self.recent.len() > 512 {
            self.recent.drain(..self.recent.len() - 512);
        }
        let text = String::from_utf8_lossy(&self.recent).into_owned();
        let cut_now = {
            let mut pattern = lock(&self.state.cut_after);
            match pattern.as_deref() {
                Some(p) if text.contains(p) => {
                    *pattern = None;
                    true
                }
                _ => false,
            }
        };
        if cut_now {
            // The server gets the command and acts on it; the client never hears back.
            self.cut();
            let _ = server.write_all(chunk).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            return Next::Close;
        }
        let mut pos = 0;
        while pos < chunk.len() {
            let (used, ended) = self.up.advance(&chunk[pos..]);
            pos += used;
            let Some(line) = ended else { continue };
            let line = line_text(&line);
            let Some(tag) = command_tag(&line) else {
                continue;
            };
            let tag = tag.to_owned();
            if self.armed.is_none() {
                let mut rules = lock(&self.state.rules);
                if let Some((index, rule)) = rules.iter_mut().enumerate().find(|(_, r)| {
                    r.rule.times != Some(0) && line.contains(r.rule.pattern.as_str())
                }) {
                    self.armed = Some(Armed {
                        rule: index,
                        tag: tag.clone(),
                        after: rule.rule.after,
                        fault: rule.rule.fault.clone(),
                        seen: 0,
                    });
                }
            }
            self.pending.push_back(Pending {
                tag,
                command: line,
                bytes: 0,
            });
        }
        match server.write_all(chunk).await {
            Ok(()) => Next::Go,
            Err(_) => Next::Close,
        }
    }

    fn fire(&mut self) -> Armed {
        let armed = self.armed.take().expect("armed");
        let mut rules = lock(&self.state.rules);
        let rule = &mut rules[armed.rule];
        rule.fired += 1;
        if let Some(times) = rule.rule.times.as_mut() {
            *times = times.saturating_sub(1);
        }
        armed
    }

    async fn relay_down(&mut self, chunk: &[u8], client: &mut (impl AsyncWrite + Unpin)) -> Next {
        let every = *lock(&self.state.cut_every);
        let mut out: Vec<u8> = Vec::with_capacity(chunk.len() + 64);
        let mut pos = 0;
        let mut next = Next::Go;
        while pos < chunk.len() {
            if let Some(limit) = every {
                if self.down_bytes >= limit {
                    self.cut();
                    next = Next::Close;
                    break;
                }
            }
            // Faults that act at a byte or at a response boundary.
            let due = self.armed.as_ref().and_then(|armed| {
                let reached = armed.seen >= armed.after;
                match armed.fault {
                    Fault::Cut | Fault::Silence if reached => Some(armed.fault.clone()),
                    Fault::CutBetweenResponses | Fault::Bye(_) | Fault::Complete(_)
                        if reached && self.down.at_boundary() =>
                    {
                        Some(armed.fault.clone())
                    }
                    _ => None,
                }
            });
            if let Some(fault) = due {
                let armed = self.fire();
                match fault {
                    Fault::Cut | Fault::CutBetweenResponses => {
                        self.cut();
                        next = Next::Close;
                        break;
                    }
                    Fault::Silence => {
                        self.cut();
                        next = Next::Hold;
                        break;
                    }
                    Fault::Bye(text) => {
                        out.extend_from_slice(format!("* BYE {text}\r\n").as_bytes());
                        self.cut();
                        next = Next::Close;
                        break;
                    }
                    Fault::Complete(text) => {
                        let completion = format!("{} {text}", armed.tag);
                        out.extend_from_slice(format!("{completion}\r\n").as_bytes());
                        self.finish(&armed.tag, completion);
                        self.suppress = Some(armed.tag);
                    }
                }
            }
            // The next piece: up to the end of a unit, the fault's byte, or the cut.
            let mut end = chunk.len();
            if let Some(armed) = &self.armed {
                if matches!(armed.fault, Fault::Cut | Fault::Silence) {
                    end = end
                        .min(pos + usize::try_from(armed.after - armed.seen).unwrap_or(usize::MAX));
                }
            }
            if let Some(limit) = every {
                end = end.min(pos + usize::try_from(limit - self.down_bytes).unwrap_or(usize::MAX));
            }
            let (used, ended) = self.down.advance(&chunk[pos..end]);
            let piece = &chunk[pos..pos + used];
            pos += used;
            if let Some(tag) = &self.suppress {
                if let Some(line) = ended {
                    if line.starts_with(format!("{tag} ").as_bytes()) {
                        self.suppress = None;
                    }
                }
                continue;
            }
            out.extend_from_slice(piece);
            self.down_bytes += used as u64;
            if let Some(armed) = self.armed.as_mut() {
                armed.seen += used as u64;
            }
            if let Some(front) = self.pending.front_mut() {
                front.bytes += used as u64;
            }
            if let Some(line) = ended {
                let line = line_text(&line);
                if let Some(tag) = command_tag(&line).map(str::to_owned) {
                    if self.armed.as_ref().is_some_and(|a| a.tag == tag) {
                        let armed = self.armed.take().unwrap();
                        lock(&self.state.rules)[armed.rule].missed += 1;
                    }
                    self.finish(&tag, line);
                }
            }
        }
        if client.write_all(&out).await.is_err() {
            return Next::Close;
        }
        next
    }

    /// Records the answer to `tag` as complete.
    fn finish(&mut self, tag: &str, completion: String) {
        if let Some(index) = self.pending.iter().position(|p| p.tag == tag) {
            let done = self.pending.remove(index).unwrap();
            let mut exchanges = lock(&self.state.exchanges);
            if exchanges.len() < 100_000 {
                exchanges.push(Exchange {
                    command: done.command,
                    answer_bytes: done.bytes,
                    completion,
                });
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Scripted servers
// ---------------------------------------------------------------------------------------

/// Pieces of a long answer, made as they are written: the server never holds it whole.
pub type Chunks = Box<dyn Iterator<Item = Vec<u8>> + Send>;

/// What a scripted server does after a command.
pub enum Reply {
    /// Write these bytes and read the next command.
    Send(Vec<u8>),
    /// Write these bytes, then nothing more: the socket stays open.
    SendThenStall(Vec<u8>),
    /// Write these bytes, then close.
    SendThenClose(Vec<u8>),
    /// Write the chunks as they come and read the next command.
    Stream(Chunks),
    /// Write the chunks as they come, then nothing more: the socket stays open.
    StreamThenStall(Chunks),
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Self {
        Reply::Send(text.into().into_bytes())
    }

    pub fn stall() -> Self {
        Reply::SendThenStall(Vec::new())
    }

    pub fn close() -> Self {
        Reply::SendThenClose(Vec::new())
    }
}

/// Writes a reply; returns whether the session goes on.
async fn send_reply<S: AsyncWrite + Unpin>(stream: &mut S, reply: Reply) -> std::io::Result<bool> {
    let (chunks, go_on, stall): (Chunks, bool, bool) = match reply {
        Reply::Send(b) => (Box::new(std::iter::once(b)), true, false),
        Reply::SendThenStall(b) => (Box::new(std::iter::once(b)), false, true),
        Reply::SendThenClose(b) => (Box::new(std::iter::once(b)), false, false),
        Reply::Stream(chunks) => (chunks, true, false),
        Reply::StreamThenStall(chunks) => (chunks, false, true),
    };
    for bytes in chunks {
        stream.write_all(&bytes).await?;
    }
    stream.flush().await?;
    if stall {
        hold(()).await;
    }
    Ok(go_on)
}

/// Reads one CRLF (or LF) line, without the line end. `None` at EOF.
async fn read_line<S: AsyncRead + Unpin>(reader: &mut BufReader<S>) -> Option<String> {
    let mut line = Vec::new();
    match reader.read_until(b'\n', &mut line).await {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line_text(&line)),
    }
}

/// A command received by [`ScriptedImap`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapRequest {
    /// Which connection sent it: 1 for the first one accepted, and so on.
    pub connection: u32,
    /// When its last byte arrived.
    pub received: Instant,
    /// Empty for `DONE`, which ends IDLE.
    pub tag: String,
    /// The command after the tag, literals folded in as `{n}` markers.
    pub command: String,
    /// Literal data sent with the command, in order.
    pub literals: Vec<Vec<u8>>,
}

impl ImapRequest {
    /// "SELECT", "UID FETCH": the verb, upper case.
    pub fn verb(&self) -> String {
        let mut words = self.command.split(' ');
        let first = words.next().unwrap_or_default().to_ascii_uppercase();
        if first == "UID" {
            format!(
                "UID {}",
                words.next().unwrap_or_default().to_ascii_uppercase()
            )
        } else {
            first
        }
    }

    /// `<tag> <text>\r\n`.
    pub fn tagged(&self, text: &str) -> Vec<u8> {
        format!("{} {text}\r\n", self.tag).into_bytes()
    }
}

type ImapHandler = Arc<dyn Fn(&ImapRequest) -> Reply + Send + Sync>;

/// An IMAP server whose every answer is scripted: a greeting, and per verb a closure that
/// returns raw bytes (and whether to stall or close afterwards). Out of the box it greets
/// with IMAP4rev1, accepts any LOGIN and answers CAPABILITY, NOOP and LOGOUT; anything
/// else gets `BAD`. Synchronising literals from the client are acknowledged with `+`.
/// The line `DONE` (the end of IDLE) is a request of its own with an empty tag and verb
/// `DONE`; by default it gets no answer. Between commands, [`ScriptedImap::push`] sends
/// untagged data to one connection (what a server says during IDLE).
pub struct ScriptedImap {
    pub port: u16,
    state: Arc<ImapState>,
}

struct ImapState {
    greeting: Mutex<Option<Vec<u8>>>,
    capabilities: Mutex<String>,
    handlers: Mutex<Vec<(String, ImapHandler)>>,
    requests: Mutex<Vec<ImapRequest>>,
    /// (connection, tag, when the answer's last byte was written).
    answered: Mutex<Vec<(u32, String, Instant)>>,
    pushers: Mutex<HashMap<u32, mpsc::UnboundedSender<Vec<u8>>>>,
    connections: AtomicU32,
}

impl ScriptedImap {
    pub async fn start() -> Self {
        let (listener, port) = bind().await;
        let state = Arc::new(ImapState {
            greeting: Mutex::new(Some(b"* OK scripted IMAP ready\r\n".to_vec())),
            capabilities: Mutex::new("IMAP4rev1".to_owned()),
            handlers: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            answered: Mutex::new(Vec::new()),
            pushers: Mutex::new(HashMap::new()),
            connections: AtomicU32::new(0),
        });
        let accept_state = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let connection = accept_state.connections.fetch_add(1, Ordering::SeqCst) + 1;
                let _ = stream.set_nodelay(true);
                tokio::spawn(imap_session(stream, accept_state.clone(), connection));
            }
        });
        Self { port, state }
    }

    /// The greeting's bytes; `None`: accept and never greet.
    pub fn greeting(&self, bytes: Option<&[u8]>) {
        *lock(&self.state.greeting) = bytes.map(<[u8]>::to_vec);
    }

    /// What the default CAPABILITY answer lists, e.g. `IMAP4rev1 IDLE UIDPLUS`.
    pub fn capabilities(&self, caps: &str) {
        *lock(&self.state.capabilities) = caps.to_owned();
    }

    /// Answers commands with this verb ("SELECT", "UID FETCH"); the newest handler for a
    /// verb wins, and it may replace the defaults (LOGIN, CAPABILITY, NOOP, LOGOUT).
    pub fn on(&self, verb: &str, handler: impl Fn(&ImapRequest) -> Reply + Send + Sync + 'static) {
        lock(&self.state.handlers).push((verb.to_ascii_uppercase(), Arc::new(handler)));
    }

    /// Every command received, oldest first.
    pub fn requests(&self) -> Vec<ImapRequest> {
        lock(&self.state.requests).clone()
    }

    /// When the whole answer to `request` had been written (into the socket's buffer),
    /// if it has been.
    pub fn answered(&self, request: &ImapRequest) -> Option<Instant> {
        lock(&self.state.answered)
            .iter()
            .find(|(c, t, _)| *c == request.connection && *t == request.tag)
            .map(|(_, _, at)| *at)
    }

    /// Sends `bytes` to this connection as soon as it waits for a command (at once
    /// during IDLE); false if the connection is gone.
    pub fn push(&self, connection: u32, bytes: &[u8]) -> bool {
        (self.pusher())(connection, bytes)
    }

    /// [`ScriptedImap::push`] for handlers (which cannot hold the server).
    pub fn pusher(&self) -> impl Fn(u32, &[u8]) -> bool + Clone + Send + Sync + 'static {
        let state = self.state.clone();
        move |connection, bytes| {
            lock(&state.pushers)
                .get(&connection)
                .is_some_and(|p| p.send(bytes.to_vec()).is_ok())
        }
    }

    pub fn connections(&self) -> u32 {
        self.state.connections.load(Ordering::SeqCst)
    }
}

async fn imap_session(stream: TcpStream, state: Arc<ImapState>, connection: u32) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let greeting = lock(&state.greeting).clone();
    let Some(greeting) = greeting else {
        hold((reader, write)).await;
        return;
    };
    if send_reply(&mut write, Reply::Send(greeting)).await.is_err() {
        return;
    }
    let (pusher, mut pushed) = mpsc::unbounded_channel::<Vec<u8>>();
    lock(&state.pushers).insert(connection, pusher);
    loop {
        // `read_until` keeps what it read in `raw` when the other branch wins.
        let mut raw = Vec::new();
        let mut line = loop {
            tokio::select! {
                read = reader.read_until(b'\n', &mut raw) => match read {
                    Ok(0) | Err(_) => {
                        lock(&state.pushers).remove(&connection);
                        return;
                    }
                    Ok(_) => break line_text(&raw),
                },
                Some(bytes) = pushed.recv() => {
                    if write.write_all(&bytes).await.is_err() || write.flush().await.is_err() {
                        return;
                    }
                }
            }
        };
        let mut literals = Vec::new();
        // Literals: `{n}` waits for our `+`, `{n+}` does not.
        while let Some(n) = literal_announced(line.as_bytes()) {
            if !line.ends_with("+}") && write.write_all(b"+ go ahead\r\n").await.is_err() {
                return;
            }
            let mut data = vec![0u8; n as usize];
            if reader.read_exact(&mut data).await.is_err() {
                return;
            }
            literals.push(data);
            let Some(rest) = read_line(&mut reader).await else {
                return;
            };
            line.push_str(&rest);
        }
        let (tag, command) = if line.eq_ignore_ascii_case("DONE") {
            ("", line.as_str())
        } else {
            line.split_once(' ').unwrap_or((line.as_str(), ""))
        };
        let request = ImapRequest {
            connection,
            received: Instant::now(),
            tag: tag.to_owned(),
            command: command.to_owned(),
            literals,
        };
        lock(&state.requests).push(request.clone());
        let verb = request.verb();
        let handler = lock(&state.handlers)
            .iter()
            .rev()
            .find(|(v, _)| *v == verb)
            .map(|(_, h)| h.clone());
        let reply = match handler {
            Some(handler) => handler(&request),
            None => match verb.as_str() {
                "LOGIN" => Reply::Send(request.tagged("OK LOGIN completed")),
                "CAPABILITY" => {
                    let caps = lock(&state.capabilities).clone();
                    let mut bytes = format!("* CAPABILITY {caps}\r\n").into_bytes();
                    bytes.extend(request.tagged("OK CAPABILITY completed"));
                    Reply::Send(bytes)
                }
                "NOOP" => Reply::Send(request.tagged("OK NOOP completed")),
                "DONE" => Reply::Send(Vec::new()),
                "LOGOUT" => {
                    let mut bytes = b"* BYE logging out\r\n".to_vec();
                    bytes.extend(request.tagged("OK LOGOUT completed"));
                    Reply::SendThenClose(bytes)
                }
                _ => Reply::Send(request.tagged("BAD unknown command")),
            },
        };
        let sent = send_reply(&mut write, reply).await;
        lock(&state.answered).push((connection, request.tag.clone(), Instant::now()));
        match sent {
            Ok(true) => {}
            _ => {
                lock(&state.pushers).remove(&connection);
                return;
            }
        }
    }
}

/// How [`ScriptedPop3`] misbehaves on one RETR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pop3Fault {
    /// `-ERR <text>` instead of the message.
    Err(String),
    /// No answer at all from then on; the socket stays open.
    Stall,
    /// Close the connection instead of answering.
    Close,
}

/// A POP3 server (RFC 1939 with CAPA, PIPELINING, UIDL, TOP, USER/PASS) over a scripted
/// maildrop: the UIDLs are whatever the test gives (duplicates and empty ones included),
/// and single RETRs can be refused, stalled or cut. Any user and password log in. DELE
/// takes effect at QUIT.
pub struct ScriptedPop3 {
    pub port: u16,
    state: Arc<Pop3State>,
}

struct Pop3State {
    /// (UIDL, whole message) in message-number order.
    messages: Mutex<Vec<(String, Vec<u8>)>>,
    faults: Mutex<HashMap<u32, Pop3Fault>>,
    capabilities: Mutex<Vec<String>>,
    retrieved: Mutex<Vec<u32>>,
    connections: AtomicU32,
}

impl ScriptedPop3 {
    pub async fn start(messages: Vec<(String, Vec<u8>)>) -> Self {
        let (listener, port) = bind().await;
        let state = Arc::new(Pop3State {
            messages: Mutex::new(messages),
            faults: Mutex::new(HashMap::new()),
            capabilities: Mutex::new(
                ["USER", "UIDL", "TOP", "PIPELINING"]
                    .map(str::to_owned)
                    .to_vec(),
            ),
            retrieved: Mutex::new(Vec::new()),
            connections: AtomicU32::new(0),
        });
        let accept_state = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accept_state.connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(pop3_session(stream, accept_state.clone()));
            }
        });
        Self { port, state }
    }

    /// Misbehave on `RETR number` (1-based) from now on; `None` behaves again.
    pub fn fault_retr(&self, number: u32, fault: Option<Pop3Fault>) {
        let mut faults = lock(&self.state.faults);
        match fault {
            Some(f) => faults.insert(number, f),
            None => faults.remove(&number),
        };
    }

    /// The CAPA lines.
    pub fn capabilities(&self, lines: &[&str]) {
        *lock(&self.state.capabilities) = lines.iter().map(|s| s.to_string()).collect();
    }

    /// Message numbers sent in full by RETR, in order, over all sessions.
    pub fn retrieved(&self) -> Vec<u32> {
        lock(&self.state.retrieved).clone()
    }

    pub fn connections(&self) -> u32 {
        self.state.connections.load(Ordering::SeqCst)
    }
}

fn dot_stuffed(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 16);
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    if !out.ends_with(b"\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

async fn pop3_session(stream: TcpStream, state: Arc<Pop3State>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    if write
        .write_all(b"+OK scripted POP3 ready\r\n")
        .await
        .is_err()
    {
        return;
    }
    let mut deleted: Vec<u32> = Vec::new();
    loop {
        let Some(line) = read_line(&mut reader).await else {
            return;
        };
        let mut words = line.split(' ');
        let verb = words.next().unwrap_or_default().to_ascii_uppercase();
        let arg: Option<u32> = words.next().and_then(|w| w.parse().ok());
        let messages = lock(&state.messages).clone();
        let get = |n: Option<u32>| {
            n.filter(|n| *n >= 1 && (*n as usize) <= messages.len())
                .map(|n| (n, &messages[n as usize - 1]))
        };
        let reply = match verb.as_str() {
            "CAPA" => {
                let mut text = "+OK capability list follows\r\n".to_owned();
                for cap in lock(&state.capabilities).iter() {
                    text.push_str(cap);
                    text.push_str("\r\n");
                }
                text.push_str(".\r\n");
                Reply::text(text)
            }
            "USER" | "PASS" | "NOOP" | "RSET" => {
                if verb == "RSET" {
                    deleted.clear();
                }
                Reply::text("+OK\r\n")
            }
            "AUTH" => Reply::text("+OK logged in\r\n"),
            "STAT" => {
                let size: usize = messages.iter().map(|(_, m)| m.len()).sum();
                Reply::text(format!("+OK {} {size}\r\n", messages.len()))
            }
            "LIST" | "UIDL" => {
                let item = |n: u32, (uidl, raw): &(String, Vec<u8>)| {
                    if verb == "LIST" {
                        format!("{n} {}", raw.len())
                    } else {
                        format!("{n} {uidl}")
                    }
                };
                match arg {
                    Some(_) => match get(arg) {
                        Some((n, m)) => Reply::text(format!("+OK {}\r\n", item(n, m))),
                        None => Reply::text("-ERR no such message\r\n"),
                    },
                    None => {
                        let mut text = "+OK\r\n".to_owned();
                        for (i, m) in messages.iter().enumerate() {
                            text.push_str(&item(i as u32 + 1, m));
                            text.push_str("\r\n");
                        }
                        text.push_str(".\r\n");
                        Reply::text(text)
                    }
                }
            }
            "RETR" | "TOP" => {
                let fault = arg.and_then(|n| lock(&state.faults).get(&n).cloned());
                match (fault, get(arg)) {
                    (Some(Pop3Fault::Err(text)), _) if verb == "RETR" => {
                        Reply::text(format!("-ERR {text}\r\n"))
                    }
                    (Some(Pop3Fault::Stall), _) if verb == "RETR" => Reply::stall(),
                    (Some(Pop3Fault::Close), _) if verb == "RETR" => Reply::close(),
                    (_, Some((n, (_, raw)))) => {
                        let body = if verb == "TOP" {
                            let end = raw
                                .windows(4)
                                .position(|w| w == b"\r\n\r\n")
                                .map_or(raw.len(), |p| p + 4);
                            raw[..end].to_vec()
                        } else {
                            raw.clone()
                        };
                        let mut bytes = format!("+OK {} octets\r\n", body.len()).into_bytes();
                        bytes.extend(dot_stuffed(&body));
                        if verb == "RETR" {
                            lock(&state.retrieved).push(n);
                        }
                        Reply::Send(bytes)
                    }
                    _ => Reply::text("-ERR no such message\r\n"),
                }
            }
            "DELE" => match get(arg) {
                Some((n, _)) => {
                    deleted.push(n);
                    Reply::text("+OK marked\r\n")
                }
                None => Reply::text("-ERR no such message\r\n"),
            },
            "QUIT" => {
                let mut all = lock(&state.messages);
                let mut number = 0u32;
                all.retain(|_| {
                    number += 1;
                    !deleted.contains(&number)
                });
                Reply::SendThenClose(b"+OK bye\r\n".to_vec())
            }
            _ => Reply::text("-ERR unknown command\r\n"),
        };
        match send_reply(&mut write, reply).await {
            Ok(true) => {}
            _ => return,
        }
    }
}

/// Where [`ScriptedSmtp`] stops answering (the socket stays open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpStall {
    Never,
    /// Accepts the connection, never greets.
    AfterConnect,
    /// Greets, never answers EHLO.
    AfterEhlo,
    /// Never answers DATA (no 354).
    AfterData,
    /// Reads the whole message, never says 250.
    BeforeFinalOk,
    /// Says 250 to the message, never answers QUIT.
    AtQuit,
}

/// When a message's data arrived in full at [`ScriptedSmtp`], and when its 250 was
/// written (if it was), in which session (the number of `connections()` it was).
#[derive(Debug, Clone, Copy)]
pub struct SmtpReceipt {
    pub session: u32,
    pub data_at: Instant,
    pub ok_at: Option<Instant>,
}

/// An SMTP submission server in clear text (EHLO, AUTH PLAIN/LOGIN accepting anything,
/// MAIL, RCPT, DATA, NOOP, RSET, QUIT) that stalls at a chosen step. It keeps what it
/// received; it delivers nothing.
pub struct ScriptedSmtp {
    pub port: u16,
    state: Arc<SmtpState>,
}

struct SmtpState {
    stall: Mutex<SmtpStall>,
    /// How long the 250 to a message and the answer to QUIT are held back.
    final_ok_delay: Mutex<Duration>,
    quit_delay: Mutex<Duration>,
    received: Mutex<Vec<Vec<u8>>>,
    receipts: Mutex<Vec<SmtpReceipt>>,
    stalls: AtomicU32,
    connections: AtomicU32,
}

impl ScriptedSmtp {
    pub async fn start(stall: SmtpStall) -> Self {
        let (listener, port) = bind().await;
        let state = Arc::new(SmtpState {
            stall: Mutex::new(stall),
            final_ok_delay: Mutex::new(Duration::ZERO),
            quit_delay: Mutex::new(Duration::ZERO),
            received: Mutex::new(Vec::new()),
            receipts: Mutex::new(Vec::new()),
            stalls: AtomicU32::new(0),
            connections: AtomicU32::new(0),
        });
        let accept_state = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let session = accept_state.connections.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::spawn(smtp_session(stream, accept_state.clone(), session));
            }
        });
        Self { port, state }
    }

    /// Applies to sessions from the next step on (open sessions included).
    pub fn stall_at(&self, step: SmtpStall) {
        *lock(&self.state.stall) = step;
    }

    /// Holds back the 250 to each message, and the answer to QUIT, this long (a slow
    /// server, or a long way to it).
    pub fn delay_replies(&self, final_ok: Duration, quit: Duration) {
        *lock(&self.state.final_ok_delay) = final_ok;
        *lock(&self.state.quit_delay) = quit;
    }

    /// Messages whose DATA arrived in full, whether or not the 250 was sent.
    pub fn received(&self) -> Vec<Vec<u8>> {
        lock(&self.state.received).clone()
    }

    /// When each of `received()` arrived and was confirmed, in the same order.
    pub fn receipts(&self) -> Vec<SmtpReceipt> {
        lock(&self.state.receipts).clone()
    }

    /// How many times a session stalled.
    pub fn stalls(&self) -> u32 {
        self.state.stalls.load(Ordering::SeqCst)
    }

    pub fn connections(&self) -> u32 {
        self.state.connections.load(Ordering::SeqCst)
    }
}

async fn smtp_session(stream: TcpStream, state: Arc<SmtpState>, session: u32) {
    let stall_here = |step: SmtpStall| {
        let now = *lock(&state.stall) == step;
        if now {
            state.stalls.fetch_add(1, Ordering::SeqCst);
        }
        now
    };
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    if stall_here(SmtpStall::AfterConnect) {
        hold((reader, write)).await;
        return;
    }
    if write
        .write_all(b"220 scripted.test ESMTP\r\n")
        .await
        .is_err()
    {
        return;
    }
    let mut auth_login_step = 0;
    loop {
        let Some(line) = read_line(&mut reader).await else {
            return;
        };
        if auth_login_step > 0 {
            auth_login_step -= 1;
            let reply = if auth_login_step == 1 {
                "334 UGFzc3dvcmQ6\r\n"
            } else {
                "235 2.7.0 accepted\r\n"
            };
            if write.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
            continue;
        }
        let verb = line
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: Reply = match verb.as_str() {
            "EHLO" | "HELO" => {
                if stall_here(SmtpStall::AfterEhlo) {
                    Reply::stall()
                } else {
                    Reply::text(
                        "250-scripted.test\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n",
                    )
                }
            }
            "AUTH" => {
                if line.to_ascii_uppercase().starts_with("AUTH LOGIN") {
                    auth_login_step = 2;
                    Reply::text("334 VXNlcm5hbWU6\r\n")
                } else {
                    Reply::text("235 2.7.0 accepted\r\n")
                }
            }
            "MAIL" | "RCPT" | "NOOP" | "RSET" => Reply::text("250 2.0.0 OK\r\n"),
            "DATA" => {
                if stall_here(SmtpStall::AfterData) {
                    Reply::stall()
                } else {
                    if write.write_all(b"354 go ahead\r\n").await.is_err() {
                        return;
                    }
                    let mut message = Vec::new();
                    loop {
                        let mut raw = Vec::new();
                        match reader.read_until(b'\n', &mut raw).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        if raw == b".\r\n" || raw == b".\n" {
                            break;
                        }
                        if raw.first() == Some(&b'.') {
                            raw.remove(0);
                        }
                        message.extend_from_slice(&raw);
                    }
                    let index = {
                        let mut received = lock(&state.received);
                        received.push(message);
                        lock(&state.receipts).push(SmtpReceipt {
                            session,
                            data_at: Instant::now(),
                            ok_at: None,
                        });
                        received.len() - 1
                    };
                    if stall_here(SmtpStall::BeforeFinalOk) {
                        Reply::stall()
                    } else {
                        let delay = *lock(&state.final_ok_delay);
                        tokio::time::sleep(delay).await;
                        if write.write_all(b"250 2.0.0 queued\r\n").await.is_err() {
                            return;
                        }
                        lock(&state.receipts)[index].ok_at = Some(Instant::now());
                        continue;
                    }
                }
            }
            "QUIT" => {
                if stall_here(SmtpStall::AtQuit) {
                    Reply::stall()
                } else {
                    let delay = *lock(&state.quit_delay);
                    tokio::time::sleep(delay).await;
                    Reply::SendThenClose(b"221 2.0.0 bye\r\n".to_vec())
                }
            }
            _ => Reply::text("500 5.5.1 unknown command\r\n"),
        };
        match send_reply(&mut write, reply).await {
            Ok(true) => {}
            _ => return,
        }
    }
}

/// A link that died without a word: every packet to or from a local port is dropped
/// (nftables), so neither side hears a reset or a close and TCP keepalive is what
/// notices. Removed again when dropped. Needs root and `nft`; `None` when unavailable.
pub struct Blackhole {
    table: String,
}

impl Blackhole {
    pub fn port(port: u16) -> Option<Blackhole> {
        let table = format!("brevdue_blackhole_{port}");
        let script = format!(
            "add table inet {table}\n\
             add chain inet {table} out {{ type filter hook output priority 0; }}\n\
             add rule inet {table} out tcp dport {port} drop\n\
             add rule inet {table} out tcp sport {port} drop\n"
        );
        let mut child = std::process::Command::new("nft")
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        use std::io::Write as _;
        child.stdin.take()?.write_all(script.as_bytes()).ok()?;
        let out = child.wait_with_output().ok()?;
        if !out.status.success() {
            eprintln!("nft: {}", String::from_utf8_lossy(&out.stderr).trim());
            return None;
        }
        Some(Blackhole { table })
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        let _ = std::process::Command::new("nft")
            .args(["delete", "table", "inet", &self.table])
            .status();
    }
}
