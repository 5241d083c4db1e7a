//! `brevdue demo`: "POP or IMAP?" shown on two devices. A private mail server with a
//! realistic mailbox; one story run three times (IMAP, POP3 deleting after download,
//! POP3 leaving mail on the server) by a "phone" and a "PC", each its own engine and
//! data directory. Every figure printed is what the engines report.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use brevdue_core::{
    AccountConfig, Draft, Engine, EngineOptions, Error, ErrorKind, FlagChange, FolderRole,
    MemoryCredentials, Pop3DeletePolicy, Protocol, Result, Security, ServerConfig,
};
use serde_json::{json, Value};

const PASSWORD: &str = "demo-password";
const FOLDER: &str = "Receipts";

/// The harness travels in the binary, so an installed `brevdue demo` needs no checkout.
const MAILSERVER_PY: &str = include_str!("../../tests/mailserver.py");
const DEMO_MAIL_PY: &str = include_str!("../../tests/demo_mail.py");
/// tests/mailserver.py runs under Debian's Python, the one that has aiosmtpd.
const PYTHON: &str = "/usr/bin/python3";

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

/// The mail server's script: `BREVDUE_MAILSERVER` if set, else the copy this binary
/// carries, written (with the demo mailbox it imports) into `work`.
fn harness(work: &Path) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("BREVDUE_MAILSERVER") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error::not_found(format!(
                "BREVDUE_MAILSERVER={}",
                path.display()
            )))
        };
    }
    let dir = work.join("harness");
    let write = || -> std::io::Result<()> {
        std::fs::create_dir(&dir)?;
        std::fs::write(dir.join("mailserver.py"), MAILSERVER_PY)?;
        std::fs::write(dir.join("demo_mail.py"), DEMO_MAIL_PY)
    };
    write().map_err(|err| {
        Error::new(
            ErrorKind::Storage,
            format!(
                "cannot write the demo's mail server to {}: {err}",
                dir.display()
            ),
        )
    })?;
    Ok(dir.join("mailserver.py"))
}

/// What the private mail server needs from the system, as the Debian packages that
/// bring it: `exists` answers for files, `runs` whether a command succeeds.
fn missing_packages(
    exists: impl Fn(&Path) -> bool,
    runs: impl Fn(&str, &[&str]) -> bool,
) -> Vec<&'static str> {
    let in_path = |name: &str| {
        std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).any(|dir| exists(&dir.join(name))))
            .unwrap_or(false)
    };
    let mut missing = Vec::new();
    let dovecot = in_path("dovecot") || exists(Path::new("/usr/sbin/dovecot"));
    for (service, package) in [
        ("imap", "dovecot-imapd"),
        ("pop3", "dovecot-pop3d"),
        ("lmtp", "dovecot-lmtpd"),
    ] {
        let installed = ["/usr/lib/dovecot", "/usr/libexec/dovecot"]
            .iter()
            .any(|dir| exists(&Path::new(dir).join(service)));
        if !dovecot || !installed {
            missing.push(package);
        }
    }
    // python3-aiosmtpd brings Debian's python3 with it.
    if !exists(Path::new(PYTHON)) || !runs(PYTHON, &["-c", "import aiosmtpd"]) {
        missing.push("python3-aiosmtpd");
    }
    if !in_path("openssl") {
        missing.push("openssl");
    }
    missing
}

/// One line that says what to install, if anything is missing.
fn check_system() -> Result<()> {
    let missing = missing_packages(
        |path| path.is_file(),
        |program, args| {
            Command::new(program)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        },
    );
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::NotFound,
        format!(
            "the demo's private mail server needs {}: install with `apt-get install {}` \
             (Debian or Ubuntu, as root), then run the demo again",
            missing.join(", "),
            missing.join(" ")
        ),
    ))
}

fn start_server(users: &[&str], work: &Path) -> Result<DemoServer> {
    let script = harness(work)?;
    let list: Vec<String> = users.iter().map(|u| format!("{u}:{PASSWORD}")).collect();
    let mut child = Command::new(PYTHON)
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
    if std::env::var_os("BREVDUE_MAILSERVER").is_none() {
        check_system()?;
    }
    // The devices' data directories and the harness, private, removed however the demo
    // ends (the server, declared later, is stopped first).
    let work = tempfile::Builder::new()
        .prefix("brevdue-demo-")
        .tempdir()
        .map_err(|err| {
            Error::new(
                ErrorKind::Storage,
                format!("cannot create a temporary directory: {err}"),
            )
        })?;
    let server = start_server(&users, work.path())?;
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
    let mut results = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let dir = work.path().join(format!("run{}", i + 1));
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
    drop(server);
    drop(work);
    if json_output {
        crate::print_json(&Value::Array(results));
    } else {
        outln!(
            "\nOne device: POP3 can do. Several devices: IMAP, which keeps them in step. When in doubt, IMAP."
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_which_packages_to_install() {
        let everything = |_: &Path| true;
        let runs = |_: &str, _: &[&str]| true;
        assert!(missing_packages(everything, runs).is_empty());

        // Dovecot's POP3 server and aiosmtpd missing.
        let no_pop3 = |p: &Path| !p.ends_with("pop3");
        let no_aiosmtpd = |_: &str, args: &[&str]| !args.contains(&"import aiosmtpd");
        assert_eq!(
            missing_packages(no_pop3, no_aiosmtpd),
            ["dovecot-pop3d", "python3-aiosmtpd"]
        );

        // No Dovecot at all, no openssl.
        let bare = |p: &Path| {
            !p.ends_with("dovecot") && !p.ends_with("openssl") && !p.starts_with("/usr/lib")
        };
        assert_eq!(
            missing_packages(bare, runs),
            ["dovecot-imapd", "dovecot-pop3d", "dovecot-lmtpd", "openssl"]
        );

        // No Debian Python: python3-aiosmtpd brings it.
        let no_python = |p: &Path| p != Path::new(PYTHON);
        assert_eq!(missing_packages(no_python, runs), ["python3-aiosmtpd"]);
    }
}
