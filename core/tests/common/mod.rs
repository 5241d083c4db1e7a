//! Test support: one private mail server per test binary (tests/mailserver.py), fresh
//! users per test, and a second, independent IMAP client to play "another device".
//!
//! `BREVDUE_TEST_SERVER` picks the server: `dovecot` (the default), `dovecot-inbox-dot`
//! (personal namespace `INBOX.` with `.` as separator) or `greenmail`. Tests name folders
//! as users see them (`Work/Projects`); `OtherClient` turns them into the server's names
//! (`INBOX.Work.Projects`, `Work.Projects`). What a set-up lacks is asked of the server
//! (`imap_offers`, `pop3_offers`) or of the harness (`harness_has`), and a test part that
//! needs it is skipped with a line on stderr (`skip`), never passed silently.
//!
//! OAuth2 tests use `oauth_server()` instead: a second server (the default Dovecot set-up
//! whatever `BREVDUE_TEST_SERVER` says, plus a real OAuth2 server, see `OAuthServer`),
//! started only in the binaries that call it, so only they pay for its JVM.
#![allow(dead_code)]

pub mod faults;
pub mod mailbox;
#[allow(unused_imports)] // not every test binary uses it
pub use faults::Proxy;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use brevdue_core::{
    AccountConfig, Engine, EngineOptions, MemoryCredentials, Protocol, Security, ServerConfig,
};
use futures::TryStreamExt;
use serde_json::Value;
use tokio::net::TcpStream;

/// The server set-ups the suites run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetUp {
    Dovecot,
    DovecotInboxDot,
    Greenmail,
}

impl SetUp {
    pub fn name(self) -> &'static str {
        match self {
            SetUp::Dovecot => "dovecot",
            SetUp::DovecotInboxDot => "dovecot-inbox-dot",
            SetUp::Greenmail => "greenmail",
        }
    }

    fn harness_args(self) -> &'static [&'static str] {
        match self {
            SetUp::Dovecot => &[],
            SetUp::DovecotInboxDot => &["--namespace", "inbox-dot"],
            SetUp::Greenmail => &["--implementation", "greenmail"],
        }
    }

    /// `BREVDUE_TEST_SERVER`, `dovecot` when unset.
    pub fn from_env() -> SetUp {
        match std::env::var("BREVDUE_TEST_SERVER").as_deref() {
            Err(_) | Ok("") | Ok("dovecot") => SetUp::Dovecot,
            Ok("dovecot-inbox-dot") => SetUp::DovecotInboxDot,
            Ok("greenmail") => SetUp::Greenmail,
            Ok(other) => panic!(
                "BREVDUE_TEST_SERVER={other:?}: expected dovecot, dovecot-inbox-dot or greenmail"
            ),
        }
    }
}

static REQUIRED_SET_UP: OnceLock<SetUp> = OnceLock::new();

/// For a test binary written for one set-up: each of its tests calls this before
/// `server()`, and `BREVDUE_TEST_SERVER` is not consulted.
pub fn require_set_up(set_up: SetUp) {
    let required = *REQUIRED_SET_UP.get_or_init(|| set_up);
    assert_eq!(required, set_up, "one test binary, one set-up");
    assert_eq!(
        server().set_up,
        set_up,
        "the server was started for another set-up"
    );
}

pub struct MailServer {
    pub set_up: SetUp,
    /// The personal namespace's prefix (`INBOX.` or empty) and hierarchy separator.
    pub prefix: String,
    pub separator: String,
    /// The harness's policies that no CAPABILITY tells (see tests/mailserver.py).
    pub features: Vec<String>,
    pub host: String,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub pop3_port: u16,
    pub pop3s_port: u16,
    pub smtp_port: u16,
    pub smtps_port: u16,
    pub ca_file: String,
    pub state_dir: String,
    /// The OAuth2 server whose tokens this server takes (`oauth_server()` only).
    pub oauth: Option<OAuthServer>,
    imap_capabilities: OnceLock<HashSet<String>>,
    pop3_capabilities: OnceLock<HashSet<String>>,
    _child: Child,
}

/// navikt's mock-oauth2-server (`tests/mailserver.py serve --oauth`), on 127.0.0.1 over
/// plain HTTP. Each issuer has `/authorize` (a login form: the username posted becomes
/// the token's `sub`, see `browser_sign_in`), `/token` (authorization code with or without
/// PKCE, refresh), `/revoke` (refresh tokens, see `revoke`), `/introspect` and `/jwks`.
/// Access tokens are RS256 JWTs with `azp` = the client id. Dovecot takes them over
/// AUTHENTICATE XOAUTH2 and OAUTHBEARER (IMAP) and AUTH XOAUTH2 (POP3), checking the
/// signature, the issuer, `exp` (strictly) and that `sub` is the user; the SMTP relay
/// takes Gmail's AUTH XOAUTH2 and checks the same through the issuer's introspection.
/// Passwords keep working (PLAIN, LOGIN).
pub struct OAuthServer {
    /// `http://127.0.0.1:PORT/default`: access tokens live an hour.
    pub issuer: String,
    /// `http://127.0.0.1:PORT/short`: access tokens live 5 s.
    pub short_issuer: String,
    /// The client id the servers know tokens by (`brevdue`).
    pub client_id: String,
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The server shared by every test in this binary. It stops when the binary exits
/// (the harness watches its stdin).
pub fn server() -> &'static MailServer {
    static SERVER: OnceLock<MailServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let set_up = REQUIRED_SET_UP
            .get()
            .copied()
            .unwrap_or_else(SetUp::from_env);
        start_server(set_up, &[])
    })
}

/// The server with OAuth2 (`MailServer::oauth`, see `OAuthServer`), shared by every test
/// in this binary: a second one, apart from `server()`, always the default Dovecot
/// set-up. It stops when the binary exits.
pub fn oauth_server() -> &'static MailServer {
    static SERVER: OnceLock<MailServer> = OnceLock::new();
    SERVER.get_or_init(|| start_server(SetUp::Dovecot, &["--oauth"]))
}

fn start_server(set_up: SetUp, extra_args: &[&str]) -> MailServer {
    let script = repo_root().join("tests/mailserver.py");
    let mut child = Command::new("/usr/bin/python3")
        .arg(script)
        .arg("serve")
        .args(set_up.harness_args())
        .args(extra_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start tests/mailserver.py");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("read mail server info");
    let info: Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("mail server did not start ({e}): {line:?}"));
    let port = |k: &str| info[k].as_u64().unwrap() as u16;
    let namespace = |k: &str| info["namespace"][k].as_str().unwrap().to_owned();
    MailServer {
        set_up,
        prefix: namespace("prefix"),
        separator: namespace("separator"),
        features: info["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_owned())
            .collect(),
        imap_capabilities: OnceLock::new(),
        pop3_capabilities: OnceLock::new(),
        host: info["host"].as_str().unwrap().to_owned(),
        imap_port: port("imap_port"),
        imaps_port: port("imaps_port"),
        pop3_port: port("pop3_port"),
        pop3s_port: port("pop3s_port"),
        smtp_port: port("smtp_port"),
        smtps_port: port("smtps_port"),
        ca_file: info["ca_file"].as_str().unwrap().to_owned(),
        state_dir: info["state_dir"].as_str().unwrap().to_owned(),
        oauth: info["oauth"].as_object().map(|o| {
            let field = |k: &str| o[k].as_str().unwrap().to_owned();
            OAuthServer {
                issuer: field("issuer"),
                short_issuer: field("short_issuer"),
                client_id: field("client_id"),
            }
        }),
        _child: child,
    }
}

pub const PASSWORD: &str = "s3cret-pw";

impl MailServer {
    /// The server's name of the folder users see as `folder` (`/` between levels, no
    /// namespace prefix): `Work/Projects` is `INBOX.Work.Projects` on `dovecot-inbox-dot`.
    pub fn mailbox(&self, folder: &str) -> String {
        if folder.eq_ignore_ascii_case("INBOX") {
            return "INBOX".to_owned();
        }
        format!("{}{}", self.prefix, folder.replace('/', &self.separator))
    }

    /// The folder users see for the server's `mailbox` (the inverse of `mailbox`).
    pub fn folder(&self, mailbox: &str) -> String {
        if mailbox.eq_ignore_ascii_case("INBOX") {
            return "INBOX".to_owned();
        }
        mailbox
            .strip_prefix(self.prefix.as_str())
            .unwrap_or(mailbox)
            .replace(self.separator.as_str(), "/")
    }

    /// Whether the harness has this policy (see FEATURES in tests/mailserver.py).
    pub fn has(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }

    /// What the IMAP server announces, before and after login (upper case).
    pub fn imap_capabilities(&self) -> &HashSet<String> {
        self.imap_capabilities
            .get_or_init(|| probe_imap_capabilities(self, &self.new_user("caps")))
    }

    /// What the POP3 server answers to CAPA (the first word of each line, upper case).
    pub fn pop3_capabilities(&self) -> &HashSet<String> {
        self.pop3_capabilities
            .get_or_init(|| probe_pop3_capabilities(self))
    }

    /// A user no other test touches.
    pub fn new_user(&self, prefix: &str) -> String {
        self.new_user_without(prefix, &[])
    }

    /// A user without some of the special folders (`"Sent"`), as on a server that
    /// makes none.
    pub fn new_user_without(&self, prefix: &str, folders: &[&str]) -> String {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!("{prefix}{}", COUNTER.fetch_add(1, Ordering::SeqCst));
        let without = folders.iter().flat_map(|f| ["--without", f]);
        let status = Command::new("/usr/bin/python3")
            .arg(repo_root().join("tests/mailserver.py"))
            .args(["add-user", "--state-dir", &self.state_dir, &name, PASSWORD])
            .args(without)
            .status()
            .expect("run add-user");
        assert!(status.success(), "add-user {name} failed");
        name
    }

    /// Submission over implicit TLS to the harness's SMTP server, which delivers into
    /// Dovecot.
    pub fn smtp_config(&self, user: &str) -> ServerConfig {
        ServerConfig {
            host: self.host.clone(),
            port: self.smtps_port,
            security: Security::Tls,
            username: user.to_owned(),
            ca_file: Some(self.ca_file.clone()),
        }
    }

    pub fn imap_config(&self, account: &str, user: &str, security: Security) -> AccountConfig {
        let port = match security {
            Security::Tls => self.imaps_port,
            _ => self.imap_port,
        };
        AccountConfig {
            pop3_delete: Default::default(),
            display_name: String::new(),
            smtp: Some(self.smtp_config(user)),
            name: account.to_owned(),
            email: format!("{user}@example.test"),
            protocol: Protocol::Imap,
            server: ServerConfig {
                host: self.host.clone(),
                port,
                security,
                username: user.to_owned(),
                ca_file: Some(self.ca_file.clone()),
            },
        }
    }
}

fn read_line(reader: &mut impl BufRead) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).expect("read from the server");
    assert!(!line.is_empty(), "the server closed the connection");
    line
}

/// CAPABILITY before and after LOGIN, over a plain connection.
fn probe_imap_capabilities(s: &MailServer, user: &str) -> HashSet<String> {
    let stream = std::net::TcpStream::connect((s.host.as_str(), s.imap_port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut caps = HashSet::new();
    let mut collect = |line: &str| {
        let words = if let Some(rest) = line.strip_prefix("* CAPABILITY ") {
            rest
        } else if let Some((_, rest)) = line.split_once("[CAPABILITY ") {
            rest.split(']').next().unwrap_or_default()
        } else {
            return;
        };
        caps.extend(words.split_whitespace().map(str::to_ascii_uppercase));
    };
    collect(&read_line(&mut reader));
    for (tag, command) in [
        ("a", "CAPABILITY".to_owned()),
        ("b", format!("LOGIN {user} {PASSWORD}")),
        ("c", "CAPABILITY".to_owned()),
        ("d", "LOGOUT".to_owned()),
    ] {
        writer
            .write_all(format!("{tag} {command}\r\n").as_bytes())
            .unwrap();
        loop {
            let line = read_line(&mut reader);
            collect(&line);
            if line.starts_with(&format!("{tag} ")) {
                assert!(line.starts_with(&format!("{tag} OK")), "{command}: {line}");
                break;
            }
        }
    }
    caps
}

/// Logs `user` in over a plain connection and runs each command; returns each one's
/// answer (its lines, the tagged one last). A client with no ideas of its own, for
/// checking what the server itself says.
pub fn raw_imap(user: &str, commands: &[&str]) -> Vec<Vec<String>> {
    let s = server();
    let stream = std::net::TcpStream::connect((s.host.as_str(), s.imap_port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    read_line(&mut reader);
    let login = format!("LOGIN {user} {PASSWORD}");
    let mut answers = Vec::new();
    for (i, command) in std::iter::once(login.as_str())
        .chain(commands.iter().copied())
        .chain(["LOGOUT"])
        .enumerate()
    {
        let tag = format!("r{i} ");
        writer
            .write_all(format!("{tag}{command}\r\n").as_bytes())
            .unwrap();
        let mut lines = Vec::new();
        loop {
            let line = read_line(&mut reader).trim_end().to_owned();
            let done = line.starts_with(&tag);
            lines.push(line);
            if done {
                break;
            }
        }
        if i == 0 {
            assert!(lines.last().unwrap().starts_with("r0 OK"), "{lines:?}");
        }
        answers.push(lines);
    }
    answers.remove(0);
    answers.pop();
    answers
}

fn probe_pop3_capabilities(s: &MailServer) -> HashSet<String> {
    let stream = std::net::TcpStream::connect((s.host.as_str(), s.pop3_port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    assert!(read_line(&mut reader).starts_with("+OK"));
    writer.write_all(b"CAPA\r\n").unwrap();
    let mut caps = HashSet::new();
    if read_line(&mut reader).starts_with("+OK") {
        loop {
            let line = read_line(&mut reader);
            if line.trim_end() == "." {
                break;
            }
            if let Some(word) = line.split_whitespace().next() {
                caps.insert(word.to_ascii_uppercase());
            }
        }
    }
    writer.write_all(b"QUIT\r\n").unwrap();
    caps
}

/// Says that `what` did not run on this set-up and why: one line on stderr, past the
/// test harness's output capture, and one in the file `BREVDUE_TEST_SKIPS` names.
pub fn skip(what: &str, reason: &str) {
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    let line = format!(
        "SKIPPED [{}] {}::{test}: {what}: {reason}\n",
        server().set_up.name(),
        env!("CARGO_CRATE_NAME"),
    );
    // std::io::stderr() itself is not captured (only the print macros are).
    let _ = std::io::stderr().write_all(line.as_bytes());
    if let Ok(path) = std::env::var("BREVDUE_TEST_SKIPS") {
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = file.write_all(line.as_bytes());
        }
    }
}

/// Whether the IMAP server offers `capability`; if not, `what` is skipped.
pub fn imap_offers(capability: &str, what: &str) -> bool {
    let offered = server()
        .imap_capabilities()
        .contains(&capability.to_ascii_uppercase());
    if !offered {
        skip(
            what,
            &format!("the IMAP server does not offer {capability}"),
        );
    }
    offered
}

/// Whether the POP3 server offers `capability` (a CAPA tag); if not, `what` is skipped.
pub fn pop3_offers(capability: &str, what: &str) -> bool {
    let offered = server()
        .pop3_capabilities()
        .contains(&capability.to_ascii_uppercase());
    if !offered {
        skip(
            what,
            &format!("the POP3 server does not offer {capability}"),
        );
    }
    offered
}

/// Whether the harness has this policy; if not, `what` is skipped.
pub fn harness_has(feature: &str, what: &str) -> bool {
    let has = server().has(feature);
    if !has {
        skip(
            what,
            &format!("this set-up's harness has no {feature} policy"),
        );
    }
    has
}

/// A plain-HTTP client for the OAuth2 server that follows no redirect. A new one each
/// time: a client's connections belong to the runtime that made them, and every test has
/// its own.
pub fn oauth_http() -> reqwest::Client {
    // Built with rustls but no default crypto provider: TLS settings must be given.
    let tls = (*brevdue_core::net::tls_config(None).expect("TLS settings")).clone();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}

/// `pairs` as an `application/x-www-form-urlencoded` body.
pub fn form_body(pairs: &[(&str, &str)]) -> String {
    fn encode(text: &str) -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                    char::from(b).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// POSTs a form to the OAuth2 server (no redirect followed); its answer's status and body.
pub async fn post_form(url: &str, pairs: &[(&str, &str)]) -> (reqwest::StatusCode, String) {
    let response = oauth_http()
        .post(url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form_body(pairs))
        .send()
        .await
        .unwrap_or_else(|err| panic!("POST {url}: {err}"));
    let status = response.status();
    (status, response.text().await.unwrap_or_default())
}

/// What a browser does when `user` signs in on the OAuth2 server's page for
/// `authorize_url`: POSTs the login form (to that URL, same query) with `username=user`.
/// Returns the redirect it answers with (`Location`: the redirect URI with `code` and
/// `state`), not followed. The user becomes the tokens' `sub`.
pub async fn browser_sign_in(authorize_url: &str, user: &str) -> String {
    let response = oauth_http()
        .post(authorize_url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form_body(&[("username", user)]))
        .send()
        .await
        .unwrap_or_else(|err| panic!("POST {authorize_url}: {err}"));
    let status = response.status();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match location {
        Some(location) if status.is_redirection() => location,
        _ => panic!(
            "signing in as {user} at {authorize_url}: {status} without a redirect: {}",
            response.text().await.unwrap_or_default()
        ),
    }
}

/// Revokes a refresh token at `issuer` (one of `OAuthServer`'s): refreshing with it fails
/// from then on. Access tokens already issued stay valid until they expire.
pub async fn revoke(issuer: &str, refresh_token: &str) {
    let client_id = oauth_server()
        .oauth
        .as_ref()
        .expect("the OAuth2 server")
        .client_id
        .clone();
    let (status, body) = post_form(
        &format!("{issuer}/revoke"),
        &[
            ("client_id", client_id.as_str()),
            ("token", refresh_token),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await;
    assert!(status.is_success(), "revoke at {issuer}: {status} {body}");
}

/// An engine in a fresh temporary directory.
pub struct TestEngine {
    pub engine: Engine,
    pub dir: tempfile::TempDir,
}

pub fn engine(disabled: &[&str]) -> TestEngine {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(
        dir.path(),
        Arc::new(MemoryCredentials::default()),
        EngineOptions {
            disabled_extensions: disabled.iter().map(|s| s.to_string()).collect(),
            ..EngineOptions::default()
        },
    )
    .unwrap();
    TestEngine { engine, dir }
}

/// Adds an IMAP account for `user` over implicit TLS.
pub async fn engine_with_account(user: &str, disabled: &[&str]) -> TestEngine {
    let t = engine(disabled);
    let config = server().imap_config("main", user, Security::Tls);
    t.engine
        .add_account(config, PASSWORD.to_owned())
        .await
        .expect("add account");
    t
}

/// A plain RFC 5322 message.
pub fn message(subject: &str, from: &str, date: &str, message_id: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: someone@example.test\r\nSubject: {subject}\r\nDate: {date}\r\n\
Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// A date string `n` minutes after a fixed point, so order is known.
pub fn date(n: u32) -> String {
    let base = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap(); // 2026-01-01
    (base + chrono::Duration::minutes(i64::from(n))).to_rfc2822()
}

pub fn timestamp(n: u32) -> i64 {
    1_767_225_600 + i64::from(n) * 60
}

/// A second IMAP client (plain async-imap over loopback) acting as another device.
pub struct OtherClient {
    pub session: async_imap::Session<TcpStream>,
}

impl OtherClient {
    pub async fn login(user: &str) -> Self {
        let s = server();
        let tcp = TcpStream::connect((s.host.as_str(), s.imap_port))
            .await
            .unwrap();
        // APPEND sends its literal and the closing CRLF apart; with Nagle the CRLF waits
        // for the server's delayed ACK (40 ms on GreenMail, per message).
        tcp.set_nodelay(true).unwrap();
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.unwrap();
        let session = client.login(user, PASSWORD).await.map_err(|e| e.0).unwrap();
        Self { session }
    }

    pub async fn append(&mut self, folder: &str, raw: &[u8], flags: Option<&str>) {
        self.session
            .append(server().mailbox(folder), flags, None, raw)
            .await
            .unwrap_or_else(|e| panic!("append to {folder}: {e}"));
    }

    pub async fn create(&mut self, folder: &str) {
        self.session.create(server().mailbox(folder)).await.unwrap();
    }

    pub async fn delete(&mut self, folder: &str) {
        self.session.delete(server().mailbox(folder)).await.unwrap();
    }

    pub async fn select(&mut self, folder: &str) {
        self.session.select(server().mailbox(folder)).await.unwrap();
    }

    /// LIST "" "*": (the server's name, its attributes as async-imap prints them,
    /// the separator).
    pub async fn list(&mut self) -> Vec<(String, Vec<String>, Option<String>)> {
        self.session
            .list(Some(""), Some("*"))
            .await
            .unwrap()
            .map_ok(|n| {
                (
                    n.name().to_owned(),
                    n.attributes().iter().map(|a| format!("{a:?}")).collect(),
                    n.delimiter().map(str::to_owned),
                )
            })
            .try_collect()
            .await
            .unwrap()
    }

    pub async fn uids(&mut self) -> Vec<u32> {
        let mut uids: Vec<u32> = self
            .session
            .uid_search("ALL")
            .await
            .unwrap()
            .into_iter()
            .collect();
        uids.sort_unstable();
        uids
    }

    /// UID of the message with this Message-ID in the selected folder.
    pub async fn uid_of(&mut self, message_id: &str) -> u32 {
        let found = self
            .session
            .uid_search(format!("HEADER Message-ID \"{message_id}\""))
            .await
            .unwrap();
        *found
            .iter()
            .next()
            .unwrap_or_else(|| panic!("{message_id} not found"))
    }

    /// Changes the flags of the message with this Message-ID in INBOX.
    pub async fn store_in_inbox(&mut self, message_id: &str, change: &str) {
        self.select("INBOX").await;
        let uid = self.uid_of(message_id).await;
        self.store(uid, change).await;
    }

    pub async fn store(&mut self, uid: u32, change: &str) {
        let _: Vec<_> = self
            .session
            .uid_store(uid.to_string(), change)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
    }

    pub async fn expunge_uid(&mut self, uid: u32) {
        self.store(uid, "+FLAGS (\\Deleted)").await;
        let _: Vec<_> = self
            .session
            .uid_expunge(uid.to_string())
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
    }

    pub async fn move_uid(&mut self, uid: u32, to: &str) {
        self.session
            .uid_mv(uid.to_string(), server().mailbox(to))
            .await
            .unwrap();
    }

    pub async fn logout(mut self) {
        let _ = self.session.logout().await;
    }
}

/// An engine with custom options in a fresh temporary directory.
pub fn engine_with_options(options: EngineOptions) -> TestEngine {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Arc::new(MemoryCredentials::default()), options).unwrap();
    TestEngine { engine, dir }
}

/// Polls `check` until it holds or `secs` pass; returns whether it held.
pub async fn wait_until(secs: u64, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    check()
}

/// Records every event a listener receives.
#[derive(Default)]
pub struct Recorder(pub std::sync::Mutex<Vec<brevdue_core::Event>>);

impl brevdue_core::EventListener for Recorder {
    fn on_event(&self, event: brevdue_core::Event) {
        self.0.lock().unwrap().push(event);
    }
}

/// What a user sees, per Message-ID: (folder, seen, flagged).
pub type View = std::collections::BTreeMap<String, (String, bool, bool)>;

pub fn engine_view(engine: &Engine) -> View {
    engine
        .messages(None, None, 100_000, 0)
        .unwrap()
        .into_iter()
        .map(|m| (m.message_id, (m.folder, m.flags.seen, m.flags.flagged)))
        .collect()
}

impl OtherClient {
    /// Message-IDs in one folder.
    pub async fn message_ids(&mut self, folder: &str) -> Vec<String> {
        self.select(folder).await;
        let fetches: Vec<_> = self
            .session
            .uid_fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap_or_default();
        fetches
            .iter()
            .map(|f| {
                let header = String::from_utf8_lossy(f.header().unwrap_or(b"")).to_string();
                header
                    .split(['<', '>'])
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }

    /// Flags (as async-imap prints them: "Seen", "Answered", "Custom(\"$Forwarded\")")
    /// and the whole message, of each message in `folder` with this Message-ID.
    pub async fn find(&mut self, folder: &str, message_id: &str) -> Vec<(Vec<String>, Vec<u8>)> {
        self.select(folder).await;
        let uids = self
            .session
            .uid_search(format!("HEADER Message-ID \"{message_id}\""))
            .await
            .unwrap();
        let mut found = Vec::new();
        for uid in uids {
            let fetches: Vec<_> = self
                .session
                .uid_fetch(uid.to_string(), "(FLAGS BODY.PEEK[])")
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            for f in fetches {
                found.push((
                    f.flags().map(|fl| format!("{fl:?}")).collect(),
                    f.body().unwrap_or_default().to_vec(),
                ));
            }
        }
        found
    }

    /// The server's state over all folders (named as users see them); panics if a
    /// Message-ID is there twice.
    pub async fn server_view(&mut self) -> View {
        let names: Vec<String> = self
            .list()
            .await
            .into_iter()
            .filter(|(_, attributes, _)| !attributes.iter().any(|a| a == "NoSelect"))
            .map(|(name, _, _)| name)
            .collect();
        let mut view = View::new();
        for name in names {
            self.session.select(&name).await.unwrap();
            let fetches: Vec<_> = self
                .session
                .uid_fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap_or_default();
            for f in fetches {
                let header = String::from_utf8_lossy(f.header().unwrap_or(b"")).to_string();
                let mid = header
                    .split(['<', '>'])
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                let flags: Vec<String> = f.flags().map(|fl| format!("{fl:?}")).collect();
                let seen = flags.iter().any(|f| f == "Seen");
                let flagged = flags.iter().any(|f| f == "Flagged");
                let previous = view.insert(mid.clone(), (server().folder(&name), seen, flagged));
                assert!(previous.is_none(), "{mid} is on the server twice");
            }
        }
        view
    }
}

/// An account "main" for user "me" on a scripted server on 127.0.0.1 (`faults`, `mailbox`).
pub fn scripted_config(port: u16, security: Security) -> AccountConfig {
    AccountConfig {
        name: "main".to_owned(),
        email: "me@example.test".to_owned(),
        protocol: Protocol::Imap,
        server: ServerConfig {
            host: "127.0.0.1".to_owned(),
            port,
            security,
            username: "me".to_owned(),
            ca_file: None,
        },
        smtp: None,
        pop3_delete: Default::default(),
        display_name: String::new(),
    }
}
