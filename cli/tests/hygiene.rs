//! Security details and output hygiene of the `brevdue` command line, against the private
//! Dovecot: no secret in any log level, private files, printable output.

#[path = "../../core/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

fn brevdue_with(data_dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brevdue"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("TEST_PASSWORD", PASSWORD)
        .envs(envs.iter().copied())
        .output()
        .expect("run brevdue")
}

fn ok_with(data_dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let out = brevdue_with(data_dir, args, envs);
    assert!(
        out.status.success(),
        "brevdue {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn add_imap_account(data_dir: &Path, user: &str, envs: &[(&str, &str)]) -> Output {
    let s = server();
    let port = s.imaps_port.to_string();
    ok_with(
        data_dir,
        &[
            "account",
            "add",
            "main",
            "--email",
            "x@example.test",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--security",
            "tls",
            "--user",
            user,
            "--password-env",
            "TEST_PASSWORD",
            "--ca-file",
            &s.ca_file,
        ],
        envs,
    )
}

#[tokio::test]
async fn trace_logging_never_prints_the_password() {
    let s = server();
    let user = s.new_user("trace");
    let mut other = OtherClient::login(&user).await;
    let raw = message("Logged", "a@example.test", &date(1), "trace1@t", "x");
    other.append("INBOX", &raw, None).await;
    other.logout().await;
    let dir = tempfile::tempdir().unwrap();
    let trace = [("BREVDUE_LOG", "trace")];
    let added = add_imap_account(dir.path(), &user, &trace);
    let synced = ok_with(dir.path(), &["sync"], &trace);
    for (what, out) in [("account add", &added), ("sync", &synced)] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Trace logging is really on: the commands async-imap sends are visible.
        assert!(
            stderr.contains("UID FETCH") || what == "account add",
            "{what}: no IMAP command in the trace log:\n{stderr}"
        );
        assert!(
            stderr.contains("LOGIN"),
            "{what}: LOGIN is not in the trace log:\n{stderr}"
        );
        assert!(
            !stderr.contains(PASSWORD),
            "{what}: the password is in the trace log:\n{}",
            stderr
                .lines()
                .filter(|l| l.contains(PASSWORD))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// `brevdue ARGS` run by a shell with `umask 022` (a common default), not yet started.
fn under_umask_022(data_dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("umask 022 && exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_brevdue"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("TEST_PASSWORD", PASSWORD);
    command
}

fn ok_under_umask_022(data_dir: &Path, args: &[&str]) {
    let out = under_umask_022(data_dir, args).output().unwrap();
    assert!(
        out.status.success(),
        "brevdue {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every path under `root` (itself included) with its permission bits.
#[cfg(unix)]
fn modes(root: &Path) -> Vec<(std::path::PathBuf, bool, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let metadata = std::fs::symlink_metadata(root).unwrap();
    let mut all = vec![(
        root.to_owned(),
        metadata.is_dir(),
        metadata.permissions().mode() & 0o7777,
    )];
    if metadata.is_dir() {
        for entry in std::fs::read_dir(root).unwrap() {
            all.extend(modes(&entry.unwrap().path()));
        }
    }
    all
}

/// Directories 0700, files 0600, and the files a synced account has are there.
#[cfg(unix)]
fn assert_private(data_dir: &Path, when: &str) {
    let all = modes(data_dir);
    let loose: Vec<String> = all
        .iter()
        .filter(|(_, dir, mode)| *mode != if *dir { 0o700 } else { 0o600 })
        .map(|(path, _, mode)| format!("{:o} {}", mode, path.display()))
        .collect();
    assert!(
        loose.is_empty(),
        "{when}: readable by others:\n{}",
        loose.join("\n")
    );
    for name in [
        "brevdue.sqlite3",
        "brevdue.sqlite3-wal",
        "brevdue.sqlite3-shm",
        "passwords.json",
        "outbox.lock",
        "messages",
    ] {
        assert!(data_dir.join(name).exists(), "{when}: no {name}");
    }
    let messages = all
        .iter()
        .filter(|(path, _, _)| path.extension().is_some_and(|e| e == "eml"))
        .count();
    assert!(messages >= 3, "{when}: {messages} message files");
}

#[cfg(unix)]
#[tokio::test]
async fn cached_mail_is_readable_only_by_its_owner() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::PermissionsExt;
    let s = server();
    let user = s.new_user("modes");
    let mut other = OtherClient::login(&user).await;
    for i in 0..3u32 {
        let raw = message(
            &format!("Private {i}"),
            "a@example.test",
            &date(i),
            &format!("mode{i}@t"),
            "Confidential body",
        );
        other.append("INBOX", &raw, None).await;
    }
    other.logout().await;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let imaps = s.imaps_port.to_string();
    let smtps = s.smtps_port.to_string();
    let to = format!("{user}@example.test");
    ok_under_umask_022(
        &data,
        &[
            "account",
            "add",
            "main",
            "--email",
            &to,
            "--host",
            "127.0.0.1",
            "--port",
            &imaps,
            "--user",
            &user,
            "--password-env",
            "TEST_PASSWORD",
            "--ca-file",
            &s.ca_file,
            "--smtp-port",
            &smtps,
            "--smtp-security",
            "tls",
        ],
    );
    // Sending takes the outbox's lock file; the sync downloads the bodies.
    ok_under_umask_022(
        &data,
        &[
            "send",
            "--account",
            "main",
            "--to",
            &to,
            "--subject",
            "s",
            "--body",
            "b",
        ],
    );
    ok_under_umask_022(&data, &["sync"]);

    // Checked while an engine has the database open, so the WAL and its index exist.
    let check_while_open = |when: &str| {
        let mut watch = under_umask_022(&data, &["watch", "main"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(watch.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(
            first.contains("\"event\""),
            "{when}: watch printed {first:?}"
        );
        let checked = std::panic::catch_unwind(|| assert_private(&data, when));
        watch.kill().unwrap();
        watch.wait().unwrap();
        if let Err(panic) = checked {
            std::panic::resume_unwind(panic);
        }
    };
    check_while_open("created under umask 022");

    // A data directory an older version made with the umask's modes is tightened when
    // it is next used (the lock file is an empty file, left as it is).
    for (path, dir, _) in modes(&data) {
        let loose = if dir { 0o755 } else { 0o644 };
        if !path.ends_with("outbox.lock") {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(loose)).unwrap();
        }
    }
    ok_under_umask_022(&data, &["sync"]);
    check_while_open("made by an older version");
}

/// Characters that must not reach a terminal from mail: C0 and C1 controls, DEL, bidi
/// controls and the Unicode line separators (`\n`, and `\t` where `tabs`, are layout).
fn unsafe_chars(out: &[u8], tabs: bool) -> Vec<char> {
    String::from_utf8(out.to_vec())
        .expect("UTF-8 output")
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n' && !(tabs && c == '\t'))
                || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'
                    | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
        })
        .collect()
}

#[tokio::test]
async fn control_characters_from_mail_never_reach_the_terminal() {
    let s = server();
    let user = s.new_user("ctl");
    // The folder: U+202E (right-to-left override) and U+009B (the C1 CSI), which Dovecot
    // accepts in a name (it refuses C0 controls), in modified UTF-7.
    let folder = "Evil\u{202e}x\u{9b}y";
    let folder_mutf7 = "Evil&IC4-x&AJs-y";
    let subject = "Invoice \u{1b}]52;c;ZXZpbA==\u{7} \u{202e}fdp.exe\tdue";
    let from_name = "Mallory \u{1b}]0;pwned\u{7}";
    let raw = [
        &b"From: \"Mallory \x1b]0;pwned\x07\" <m@example.test>\r\n"[..],
        b"To: someone@example.test\r\n",
        b"Subject: =?utf-8?q?Invoice_=1B]52;c;ZXZpbA=3D=3D=07_=E2=80=AEfdp.exe=09due?=\r\n",
        format!("Date: {}\r\n", date(1)).as_bytes(),
        b"Message-ID: <ctl1@t>\r\nMIME-Version: 1.0\r\n",
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n",
        b"line one\x1b[2J\x1b[H\r\n",
        b"line two\ttabbed \xc2\x9b31m red\x7f \xe2\x80\xae reversed\r\n",
    ]
    .concat();
    let mut other = OtherClient::login(&user).await;
    other.create(folder_mutf7).await;
    other.append("INBOX", &raw, None).await;
    other.append(folder_mutf7, &raw, None).await;
    other.logout().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    add_imap_account(d, &user, &[]);
    ok_with(d, &["sync"], &[]);

    // JSON keeps the text as the mail has it.
    let json = |args: &[&str]| -> serde_json::Value {
        serde_json::from_slice(&ok_with(d, args, &[]).stdout).unwrap()
    };
    let listed = json(&["list", "--folder", "INBOX", "--json"]);
    assert_eq!(listed[0]["subject"], subject);
    assert_eq!(listed[0]["from"]["name"], from_name);
    let id = listed[0]["id"].to_string();
    let shown = json(&["show", &id, "--json"]);
    assert!(
        shown["text"]
            .as_str()
            .unwrap()
            .contains("line one\u{1b}[2J\u{1b}[H"),
        "{shown}"
    );
    let folders = json(&["folders", "--json"]);
    assert!(
        folders
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == folder),
        "{folders}"
    );

    // Text output: nothing a terminal would obey, and the escapes are visible.
    let text = |args: &[&str], tabs: bool| -> String {
        let out = ok_with(d, args, &[]);
        let bad = unsafe_chars(&out.stdout, tabs);
        assert!(bad.is_empty(), "brevdue {args:?} printed {bad:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let list = text(&["list"], false);
    assert!(
        list.contains(r"Invoice \u{1b}]52;c;ZXZpbA==\u{7}"),
        "{list}"
    );
    assert!(list.contains(r"Mallory \u{1b}]0;"), "{list}");
    assert!(list.contains(r"\u{202e}fdp.exe\u{9}due"), "{list}");
    assert_eq!(list.lines().count(), 2, "{list}");
    text(&["list", "--folder", folder], false);
    text(&["search", "invoice"], false);
    text(&["threads", "--account", "main"], false);
    let folders = text(&["folders"], false);
    assert!(folders.contains(r"Evil\u{202e}x\u{9b}y"), "{folders}");
    // A body keeps its lines and tabs.
    let shown = text(&["show", &id], true);
    assert!(shown.contains(r"line one\u{1b}[2J\u{1b}[H"), "{shown}");
    assert!(
        shown.contains("\nline two\ttabbed \\u{9b}31m red\\u{7f} \\u{202e} reversed"),
        "{shown}"
    );
    assert!(shown.contains(r"Subject: Invoice \u{1b}]52;"), "{shown}");

    // Error lines on stderr too: one line, nothing a terminal obeys.
    let target = "Nowhere\u{1b}]0;x\u{7}\nsecond line";
    let out = brevdue_with(d, &["move", &id, "--to", target], &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        unsafe_chars(stderr.as_bytes(), false).is_empty(),
        "{stderr:?}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(r"Nowhere\u{1b}]0;x\u{7}\u{a}second line"),
        "{stderr}"
    );
}
