//! `brevdue demo`: "POP or IMAP?" shown on two devices. A private mail server with a
//! realistic mailbox; one story run three times (IMAP, POP3 deleting after download,
//! POP3 leaving mail on the server) by a "phone" and a "PC", each its own engine and
//! data directory. Every figure printed is what the engines report.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use brevdue_core::{
    AccountConfig, Draft, Engine, EngineOptions, Error, ErrorKind, FlagChange, FolderRole,
    MemoryCredentials, Pop3DeletePolicy, Protocol, Result, Security, ServerConfig,
};
use serde_json::{json, Value};

const PASSWORD: &str = "demo-password";
const FOLDER: &str = "Receipts";

/// The private server: tests/mailserver.py, stopped when this is dropped.
struct DemoServer {
    child: Child,
    info: Value,
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        // Closing its stdin stops it; it removes its state directory.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn harness() -> Result<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(path) = std::env::var_os("BREVDUE_MAILSERVER") {
        candidates.push(PathBuf::from(path));
    }
    if let Ok(exe) = std::env::current_exe() {
        // target/<profile>/brevdue in the repository.
        if let Some(root) = exe.ancestors().nth(3) {
            candidates.push(root.join("tests/mailserver.py"));
        }
    }
    candidates.push(PathBuf::from("tests/mailserver.py"));
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        Error::not_found(
            "tests/mailserver.py (run the demo from the repository, or set BREVDUE_MAILSERVER)",
        )
    })
}

fn start_server(users: &[&str]) -> Result<DemoServer> {
    let script = harness()?;
    let list: Vec<String> = users.iter().map(|u| format!("{u}:{PASSWORD}")).collect();
    let mut child = Command::new("/usr/bin/python3")
        .arg(&script)
        .arg("serve")
        .arg("--users")
        .arg(format!("{},anna:{PASSWORD}", list.join(",")))
        .arg("--demo-mailbox")
        .arg(users.join(","))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|err| {
            Error::new(
                ErrorKind::Network,
                format!("cannot start {}: {err}", script.display()),
            )
        })?;
    let mut line = String::new();
    let stdout = child.stdout.take().expect("piped");
    BufReader::new(stdout).read_line(&mut line).ok();
    let info: Value = serde_json::from_str(&line).map_err(|_| {
        Error::new(
            ErrorKind::Network,
            "the demo mail server did not start (see the lines above)",
        )
    })?;
    Ok(DemoServer { child, info })
}

/// What one device sees after the story.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DeviceView {
    inbox_total: u32,
    inbox_unread: u32,
    /// Subjects in the Sent folder.
    sent: Vec<String>,
    answered: u32,
    /// Messages in "Receipts", if the folder exists.
    folder: Option<u32>,
}

impl DeviceView {
    fn json(&self) -> Value {
        json!({
            "inbox_total": self.inbox_total,
            "inbox_unread": self.inbox_unread,
            "sent": self.sent,
            "answered": self.answered,
            "folder": self.folder,
        })
    }
}

fn view(engine: &Engine) -> Result<DeviceView> {
    let folders = engine.folders(None)?;
    let inbox = folders.iter().find(|f| f.role == Some(FolderRole::Inbox));
    let sent_folder = folders.iter().find(|f| f.role == Some(FolderRole::Sent));
    let sent = match sent_folder {
        Some(f) => engine
            .messages(None, Some(&f.name), 100, 0)?
            .into_iter()
            .map(|m| m.subject)
            .collect(),
        None => Vec::new(),
    };
    let answered = engine
        .messages(None, None, 10_000, 0)?
        .iter()
        .filter(|m| m.flags.answered)
        .count() as u32;
    Ok(DeviceView {
        inbox_total: inbox.map(|f| f.total).unwrap_or(0),
        inbox_unread: inbox.map(|f| f.unread).unwrap_or(0),
        sent,
        answered,
        folder: folders.iter().find(|f| f.name == FOLDER).map(|f| f.total),
    })
}

struct Run {
    title: &'static str,
    protocol: Protocol,
    policy: Pop3DeletePolicy,
    user: &'static str,
}

fn device(
    server: &Value,
    run: &Run,
    dir: &std::path::Path,
    name: &str,
) -> Result<(Engine, String)> {
    let port = |key: &str| server[key].as_u64().unwrap_or(0) as u16;
    let ca_file = server["ca_file"].as_str().map(str::to_owned);
    let engine = Engine::open(
        dir.join(name),
        Arc::new(MemoryCredentials::default()),
        EngineOptions::default(),
    )?;
    let config = AccountConfig {
        name: "demo".into(),
        email: format!("{}@example.test", run.user),
        protocol: run.protocol,
        server: ServerConfig {
            host: "127.0.0.1".into(),
            port: port(match run.protocol {
                Protocol::Imap => "imaps_port",
                Protocol::Pop3 => "pop3s_port",
            }),
            security: Security::Tls,
            username: run.user.into(),
            ca_file: ca_file.clone(),
        },
        pop3_delete: run.policy,
        display_name: "You".into(),
        smtp: Some(ServerConfig {
            host: "127.0.0.1".into(),
            port: port("smtps_port"),
            security: Security::Tls,
            username: run.user.into(),
            ca_file,
        }),
    };
    engine.block_on(engine.add_account(config, PASSWORD.into()))??;
    Ok((engine, "demo".into()))
}

/// The phone: sync, read two of Anna's messages, answer one, file the invoice into a
/// new folder. The PC: sync. Returns what each then sees.
fn story(server: &Value, run: &Run, dir: &std::path::Path) -> Result<(DeviceView, DeviceView)> {
    let (phone, account) = device(server, run, dir, "phone")?;
    phone.block_on(phone.sync(None))??;
    let inbox = phone.messages(Some(&account), Some("INBOX"), 100, 0)?;
    let find = |needle: &str| {
        inbox
            .iter()
            .find(|m| m.message_id.starts_with(needle))
            .ok_or_else(|| Error::not_found(format!("demo message {needle}")))
    };
    let dinner = find("demo1@")?;
    let booked = find("demo3@")?;
    let invoice = find("demo4@")?;
    for m in [dinner, booked] {
        phone.block_on(phone.open_message(m.id))??;
    }
    phone.mark(&[dinner.id, booked.id], FlagChange::Read)?;
    phone.block_on(phone.reply(
        booked.id,
        false,
        Draft {
            account: account.clone(),
            body: "Wonderful, see you at seven!".into(),
            ..Draft::default()
        },
    ))??;
    let sent = phone.block_on(phone.send_outbox(None))??;
    if sent.sent != 1 {
        return Err(Error::new(
            ErrorKind::Network,
            format!("the phone could not send its reply: {sent:?}"),
        ));
    }
    phone.create_folder(&account, FOLDER)?;
    phone.move_messages(&[invoice.id], FOLDER)?;
    phone.block_on(phone.push_changes(None))??;
    let phone_view = view(&phone)?;

    let (pc, _) = device(server, run, dir, "pc")?;
    pc.block_on(pc.sync(None))??;
    Ok((phone_view, view(&pc)?))
}

/// The run's conclusion, from what the two devices report.
fn conclusion(phone: &DeviceView, pc: &DeviceView) -> &'static str {
    if phone == pc {
        "the PC sees everything the phone did."
    } else if pc.inbox_total == 0 {
        "the PC sees no mail at all: the phone took it off the server."
    } else if pc.inbox_unread == pc.inbox_total
        && pc.sent.is_empty()
        && pc.answered == 0
        && pc.folder.is_none()
    {
        "the PC sees every message unread, no reply, no folder: nothing the phone did reached it."
    } else {
        "the PC sees only part of what the phone did."
    }
}

fn row(label: &str, phone: String, pc: String) {
    outln!("  {label:<20} {phone:>24} {pc:>24}");
}

fn print_run(index: usize, run: &Run, phone: &DeviceView, pc: &DeviceView) {
    outln!("\n=== Run {index} of 3: {}", run.title);
    row("", "phone".into(), "PC".into());
    row(
        "Inbox messages",
        phone.inbox_total.to_string(),
        pc.inbox_total.to_string(),
    );
    row(
        "Inbox unread",
        phone.inbox_unread.to_string(),
        pc.inbox_unread.to_string(),
    );
    let reply = |v: &DeviceView| {
        v.sent
            .first()
            .map(|s| format!("\"{s}\""))
            .unwrap_or_else(|| "none".into())
    };
    row("reply in Sent", reply(phone), reply(pc));
    row(
        "answered marks",
        phone.answered.to_string(),
        pc.answered.to_string(),
    );
    let folder = |v: &DeviceView| match v.folder {
        Some(n) => format!("{n} message(s)"),
        None => "no such folder".into(),
    };
    row(&format!("folder \"{FOLDER}\""), folder(phone), folder(pc));
    outln!("  -> {}: {}", run.title, conclusion(phone, pc));
}

pub fn run(json_output: bool) -> Result<()> {
    let runs = [
        Run {
            title: "IMAP",
            protocol: Protocol::Imap,
            policy: Pop3DeletePolicy::Never,
            user: "imap-user",
        },
        Run {
            title: "POP3, delete after download",
            protocol: Protocol::Pop3,
            policy: Pop3DeletePolicy::AfterDownload,
            user: "pop-delete",
        },
        Run {
            title: "POP3, leave on server",
            protocol: Protocol::Pop3,
            policy: Pop3DeletePolicy::Never,
            user: "pop-leave",
        },
    ];
    let users: Vec<&str> = runs.iter().map(|r| r.user).collect();
    let server = start_server(&users)?;
    if !json_output {
        outln!(
            "A private mail server on 127.0.0.1 (IMAPS {}, POP3S {}, SMTPS {}) with a demo mailbox.",
            server.info["imaps_port"],
            server.info["pop3s_port"],
            server.info["smtps_port"]
        );
        outln!(
            "The phone syncs, reads two messages, replies to one, creates folder \"{FOLDER}\" and files \
             the invoice there. Then the PC syncs."
        );
    }
    let work = WorkDir::create()?;
    let mut results = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let dir = work.0.join(format!("run{}", i + 1));
        let (phone, pc) = story(&server.info, run, &dir)?;
        if !json_output {
            print_run(i + 1, run, &phone, &pc);
        }
        results.push(json!({
            "run": run.title,
            "protocol": run.protocol.as_str(),
            "pop3_delete": (run.protocol == Protocol::Pop3).then(|| run.policy.to_string()),
            "phone": phone.json(),
            "pc": pc.json(),
            "conclusion": conclusion(&phone, &pc),
        }));
    }
    drop(work);
    drop(server);
    if json_output {
        crate::print_json(&Value::Array(results));
    } else {
        outln!(
            "\nOne device: POP3 can do. Several devices: IMAP, which keeps them in step. When in doubt, IMAP."
        );
    }
    Ok(())
}

/// The devices' data directories, removed however the demo ends.
struct WorkDir(PathBuf);

impl WorkDir {
    fn create() -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("brevdue-demo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|err| {
            Error::new(
                ErrorKind::Storage,
                format!("cannot create {}: {err}", dir.display()),
            )
        })?;
        Ok(Self(dir))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
