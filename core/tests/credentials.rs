//! A user name or password with control characters never reaches the server: with CR/LF
//! it would become extra commands (`PASS pw`, then `DELE 1`).

mod common;

use std::sync::Arc;

use brevdue_core::{
    CredentialStore, Engine, EngineOptions, ErrorKind, MemoryCredentials, Pop3DeletePolicy,
    Protocol, Security,
};
use common::*;

const INJECTED: &str = "\r\nDELE 1\r\nQUIT";

fn pop3_config(s: &MailServer, user: &str, port: u16) -> brevdue_core::AccountConfig {
    let mut config = s.imap_config("home", user, Security::Plain);
    config.protocol = Protocol::Pop3;
    config.pop3_delete = Pop3DeletePolicy::Never;
    config.server.port = port;
    config.smtp = None;
    config
}

#[tokio::test]
async fn control_characters_in_credentials_send_nothing() {
    let s = server();
    let user = s.new_user("ctl");
    let mut other = OtherClient::login(&user).await;
    let raw = message("Keep me", "a@example.test", &date(1), "keep@t", "x");
    other.append("INBOX", &raw, None).await;

    let pop3 = Proxy::start(s.pop3_port).await;
    let imap = Proxy::start(s.imap_port).await;
    let credentials = Arc::new(MemoryCredentials::default());
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), credentials.clone(), EngineOptions::default()).unwrap();

    // At account creation: the user name or the password.
    let mut imap_config = s.imap_config("work", &user, Security::Plain);
    imap_config.server.port = imap.port;
    imap_config.smtp = None;
    let bad_password = format!("{PASSWORD}{INJECTED}");
    let bad_user = format!("{user}{INJECTED}");
    for (config, password) in [
        (pop3_config(s, &user, pop3.port), bad_password.clone()),
        (pop3_config(s, &bad_user, pop3.port), PASSWORD.to_owned()),
        (imap_config.clone(), bad_password.clone()),
    ] {
        let err = engine.add_account(config, password).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput, "{err}");
        assert!(err.message.contains("control character"), "{err}");
    }
    assert_eq!(pop3.sent_bytes(), 0, "the POP3 server was sent something");
    assert_eq!(imap.sent_bytes(), 0, "the IMAP server was sent something");
    assert!(engine.accounts().unwrap().is_empty());

    // A password that turns bad in the credential store is refused before connecting.
    engine
        .add_account(pop3_config(s, &user, pop3.port), PASSWORD.to_owned())
        .await
        .unwrap();
    let sent_at_login = pop3.sent_bytes();
    assert!(sent_at_login > 0);
    credentials.set("home", &bad_password).unwrap();
    let err = engine.sync(Some("home".into())).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput, "{err}");
    assert!(err.message.contains("stored password"), "{err}");
    assert_eq!(pop3.sent_bytes(), sent_at_login, "the sync sent something");
    assert_eq!(other.message_ids("INBOX").await, vec!["keep@t".to_owned()]);
    other.logout().await;
}
