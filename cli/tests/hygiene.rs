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
