//! Test support: one private Dovecot per test binary (tests/mailserver.py), fresh users
//! per test, and a second, independent IMAP client to play "another device".
#![allow(dead_code)]

pub mod faults;
#[allow(unused_imports)] // not every test binary uses it
pub use faults::Proxy;

use std::io::{BufRead, BufReader};
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

pub struct MailServer {
    pub host: String,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub pop3_port: u16,
    pub pop3s_port: u16,
    pub smtp_port: u16,
    pub smtps_port: u16,
    pub ca_file: String,
    pub state_dir: String,
    _child: Child,
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The server shared by every test in this binary. It stops when the binary exits
/// (the harness watches its stdin).
pub fn server() -> &'static MailServer {
    static SERVER: OnceLock<MailServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let script = repo_root().join("tests/mailserver.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg("serve")
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
        MailServer {
            host: info["host"].as_str().unwrap().to_owned(),
            imap_port: port("imap_port"),
            imaps_port: port("imaps_port"),
            pop3_port: port("pop3_port"),
            pop3s_port: port("pop3s_port"),
            smtp_port: port("smtp_port"),
            smtps_port: port("smtps_port"),
            ca_file: info["ca_file"].as_str().unwrap().to_owned(),
            state_dir: info["state_dir"].as_str().unwrap().to_owned(),
            _child: child,
        }
    })
}

pub const PASSWORD: &str = "s3cret-pw";

impl MailServer {
    /// A user no other test touches.
    pub fn new_user(&self, prefix: &str) -> String {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!("{prefix}{}", COUNTER.fetch_add(1, Ordering::SeqCst));
        let status = Command::new("/usr/bin/python3")
            .arg(repo_root().join("tests/mailserver.py"))
            .args(["add-user", "--state-dir", &self.state_dir, &name, PASSWORD])
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
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.unwrap();
        let session = client.login(user, PASSWORD).await.map_err(|e| e.0).unwrap();
        Self { session }
    }

    pub async fn append(&mut self, folder: &str, raw: &[u8], flags: Option<&str>) {
        self.session
            .append(folder, flags, None, raw)
            .await
            .unwrap_or_else(|e| panic!("append to {folder}: {e}"));
    }

    pub async fn create(&mut self, folder: &str) {
        self.session.create(folder).await.unwrap();
    }

    pub async fn delete(&mut self, folder: &str) {
        self.session.delete(folder).await.unwrap();
    }

    pub async fn select(&mut self, folder: &str) {
        self.session.select(folder).await.unwrap();
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
        self.session.uid_mv(uid.to_string(), to).await.unwrap();
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

/// A mailbox name as LIST quotes it (`Quote\"d`) back to the name itself: async-imap
/// hands out the quoted string's content with its escapes.
pub fn unescape(listed: &str) -> String {
    let mut name = String::with_capacity(listed.len());
    let mut chars = listed.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => name.extend(chars.next()),
            c => name.push(c),
        }
    }
    name
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
        self.session.select(folder).await.unwrap();
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
        self.session.select(folder).await.unwrap();
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

    /// The server's state over all folders; panics if a Message-ID is there twice.
    pub async fn server_view(&mut self) -> View {
        let names: Vec<String> = {
            use futures::StreamExt;
            let list = self.session.list(Some(""), Some("*")).await.unwrap();
            list.filter_map(|n| async move { n.ok().map(|n| unescape(n.name())) })
                .collect()
                .await
        };
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
                let previous = view.insert(mid.clone(), (name.clone(), seen, flagged));
                assert!(previous.is_none(), "{mid} is on the server twice");
            }
        }
        view
    }
}
