//! `brevdue account discover` and `account add` with only an address and a password,
//! against the private provider (tests/provider.py) and Dovecot: the account syncs and
//! sends, over both SMTP pairs (465 with TLS, 587 with STARTTLS).

#[path = "../../core/tests/common/mod.rs"]
mod common;
#[path = "../../core/tests/common/provider.rs"]
mod provider;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use provider::provider;
use serde_json::Value;

fn brevdue(data_dir: &Path, args: &[&str]) -> Output {
    require_set_up(SetUp::Dovecot);
    Command::new(env!("CARGO_BIN_EXE_brevdue"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .envs(provider().env_vars())
        .env("TEST_PASSWORD", PASSWORD)
        .output()
        .expect("run brevdue")
}

fn ok(data_dir: &Path, args: &[&str]) -> (String, String) {
    let out = brevdue(data_dir, args);
    assert!(
        out.status.success(),
        "brevdue {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn json(data_dir: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(data_dir, args).0).expect("valid JSON")
}

/// `account add NAME --email A --password-env V` and nothing else but the harness's CA
/// (its certificate is self-signed).
fn add<'a>(name: &'a str, email: &'a str, ca: &'a str) -> Vec<&'a str> {
    vec![
        "account",
        "add",
        name,
        "--email",
        email,
        "--password-env",
        "TEST_PASSWORD",
        "--ca-file",
        ca,
    ]
}

/// Mail arrives, is synced; a message sent goes out through the discovered SMTP server
/// and arrives in the user's own Inbox.
async fn syncs_and_sends(d: &Path, account: &str, user: &str) {
    let mut other = OtherClient::login(user).await;
    let raw = message(
        "Welcome",
        "Anna <anna@example.test>",
        &date(1),
        &format!("welcome-{user}@t"),
        "Hello there",
    );
    other.append("INBOX", &raw, None).await;
    ok(d, &["sync", account]);
    let list = json(d, &["list", "--account", account, "--json"]);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|m| m["subject"] == "Welcome"),
        "{list}"
    );
    let to = format!("{user}@example.test");
    let subject = format!("Sent through {account}");
    ok(
        d,
        &[
            "send",
            "--account",
            account,
            "--to",
            &to,
            "--subject",
            &subject,
            "--body",
            "Sent with discovered settings",
        ],
    );
    assert_eq!(json(d, &["outbox", "--json"]), Value::Array(vec![]));
    ok(d, &["sync", account]);
    let list = json(d, &["list", "--account", account, "--json"]);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|m| m["subject"] == subject.as_str() && m["folder"] == "INBOX"),
        "the message arrived: {list}"
    );
    other.logout().await;
}

#[tokio::test]
async fn an_address_and_a_password_set_up_imap_and_smtp() {
    require_set_up(SetUp::Dovecot);
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // `account discover`: JSON, no password involved.
    let user = s.new_user("cliauto");
    let email = format!("{user}@autoconf.test");
    let found = json(
        d,
        &[
            "account",
            "discover",
            "--email",
            &email,
            "--ca-file",
            &s.ca_file,
        ],
    );
    assert_eq!(found["source"], "provider_autoconfig");
    assert_eq!(found["plaintext"], false);
    assert_eq!(found["draft"]["protocol"], "imap");
    assert_eq!(found["draft"]["host"], "localhost");
    assert_eq!(found["draft"]["port"], s.imaps_port);
    assert_eq!(found["draft"]["security"], "tls");
    assert_eq!(found["draft"]["user"], user.as_str());
    assert_eq!(found["draft"]["smtp"]["port"], s.smtps_port);
    assert_eq!(found["draft"]["smtp"]["security"], "tls");
    assert_eq!(found["alternatives"][0]["protocol"], "pop3");
    assert_eq!(found["tried"].as_array().unwrap().len(), 1);

    // SMTP 465 with TLS (autoconfig).
    let (_, stderr) = ok(d, &add("auto", &email, &s.ca_file));
    assert!(
        stderr.contains("found by provider_autoconfig: IMAP localhost:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("POP3"),
        "the POP3 alternative is named: {stderr}"
    );
    let accounts = json(d, &["account", "list", "--json"]);
    let a = &accounts[0];
    assert_eq!(
        (
            &a["protocol"],
            &a["host"],
            &a["port"],
            &a["security"],
            &a["user"]
        ),
        (
            &Value::from("imap"),
            &Value::from("localhost"),
            &Value::from(s.imaps_port),
            &Value::from("tls"),
            &Value::from(user.as_str())
        )
    );
    assert_eq!(a["smtp"]["port"], s.smtps_port);
    assert_eq!(a["smtp"]["security"], "tls");
    syncs_and_sends(d, "auto", &user).await;

    // SMTP 587 with STARTTLS (.well-known).
    let user2 = s.new_user("cliwk");
    let email2 = format!("{user2}@wellknown.test");
    let (_, stderr) = ok(d, &add("wk", &email2, &s.ca_file));
    assert!(stderr.contains("found by well_known"), "{stderr}");
    let accounts = json(d, &["account", "list", "--json"]);
    let wk = accounts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "wk")
        .unwrap();
    assert_eq!(wk["smtp"]["port"], s.smtp_port);
    assert_eq!(wk["smtp"]["security"], "starttls");
    syncs_and_sends(d, "wk", &user2).await;
}

#[tokio::test]
async fn plaintext_only_needs_the_users_choice_and_nothing_found_saves_nothing() {
    require_set_up(SetUp::Dovecot);
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let user = s.new_user("cliplain");
    let email = format!("{user}@plaintext.test");

    let out = brevdue(d, &add("plain", &email, &s.ca_file));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("only unencrypted connections"), "{stderr}");
    assert_eq!(
        json(d, &["account", "list", "--json"]),
        Value::Array(vec![])
    );
    let found = json(
        d,
        &[
            "account",
            "discover",
            "--email",
            &email,
            "--ca-file",
            &s.ca_file,
        ],
    );
    assert_eq!(found["plaintext"], true);
    // Without the harness's CA its HTTPS server is not trusted, and the report says so.
    let out = brevdue(d, &["account", "discover", "--email", &email]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("the certificate of autoconfig.plaintext.test:")
            && String::from_utf8_lossy(&out.stderr)
                .contains("is not signed by a trusted authority"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The user's explicit choice.
    let mut args = add("plain", &email, &s.ca_file);
    args.extend(["--security", "plain"]);
    ok(d, &args);
    let accounts = json(d, &["account", "list", "--json"]);
    assert_eq!(accounts[0]["security"], "plain");
    assert_eq!(accounts[0]["port"], s.imap_port);

    // Nothing found: exit 6 (not found), one line, nothing saved.
    let out = brevdue(d, &add("none", "kari@nothing.test", &s.ca_file));
    assert_eq!(out.status.code(), Some(6));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("no settings found for nothing.test"),
        "{stderr}"
    );
    assert_eq!(
        json(d, &["account", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Server flags without --host are refused rather than half-applied.
    let mut args = add("none", "kari@autoconf.test", &s.ca_file);
    args.extend(["--port", "993"]);
    let out = brevdue(d, &args);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("need --host"));
}
