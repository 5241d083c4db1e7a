//! Adding IMAP accounts against the private Dovecot: security modes and distinct errors.

mod common;

use brevdue_core::{ErrorKind, Security};
use common::*;

#[tokio::test]
async fn add_account_over_tls_and_starttls() {
    let user = server().new_user("tls");
    let t = engine(&[]);
    let mut modes = vec![("implicit", Security::Tls)];
    if imap_offers("STARTTLS", "the STARTTLS account") {
        modes.push(("upgraded", Security::StartTls));
    }
    for &(name, security) in &modes {
        let account = t
            .engine
            .add_account(server().imap_config(name, &user, security), PASSWORD.into())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(account.server.security, security);
        assert!(account.server_capabilities.iter().any(|c| c == "IMAP4rev1"));
        assert!(account.capabilities.syncs_read_state && account.capabilities.syncs_folders);
    }
    let names: Vec<String> = t
        .engine
        .accounts()
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, modes.iter().map(|m| m.0).collect::<Vec<_>>());
}

#[tokio::test]
async fn failures_have_their_own_kind_and_save_nothing() {
    let user = server().new_user("err");
    let t = engine(&[]);
    let s = server();

    let wrong_password = t
        .engine
        .add_account(s.imap_config("a", &user, Security::Tls), "nope".into())
        .await
        .unwrap_err();
    assert_eq!(
        wrong_password.kind,
        ErrorKind::AuthFailed,
        "{wrong_password}"
    );

    let mut untrusted = s.imap_config("b", &user, Security::Tls);
    untrusted.server.ca_file = None;
    let err = t
        .engine
        .add_account(untrusted, PASSWORD.into())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::CertificateNotTrusted, "{err}");

    if imap_offers("STARTTLS", "an untrusted certificate after STARTTLS") {
        let mut untrusted_starttls = s.imap_config("b2", &user, Security::StartTls);
        untrusted_starttls.server.ca_file = None;
        let err = t
            .engine
            .add_account(untrusted_starttls, PASSWORD.into())
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::CertificateNotTrusted, "{err}");
    }

    // The certificate names localhost and 127.0.0.1 only; 127.0.0.2 is the same server.
    let mut wrong_name = s.imap_config("c", &user, Security::Tls);
    wrong_name.server.host = "127.0.0.2".into();
    let err = t
        .engine
        .add_account(wrong_name, PASSWORD.into())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::WrongHostName, "{err}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut refused = s.imap_config("d", &user, Security::Tls);
    refused.server.port = closed_port;
    let err = t
        .engine
        .add_account(refused, PASSWORD.into())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::ConnectionRefused, "{err}");

    assert!(
        t.engine.accounts().unwrap().is_empty(),
        "a failed add saved an account"
    );
}

#[tokio::test]
async fn a_server_without_imap4rev1_is_refused() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    // A canned server that logs in but announces only IMAP2.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"* OK old server ready\r\n").await.unwrap();
        while let Ok(Some(line)) = lines.next_line().await {
            let tag = line.split(' ').next().unwrap_or("*").to_owned();
            let reply = if line.to_ascii_uppercase().contains("CAPABILITY") {
                format!("* CAPABILITY IMAP2\r\n{tag} OK done\r\n")
            } else if line.to_ascii_uppercase().contains("LOGOUT") {
                format!("* BYE\r\n{tag} OK bye\r\n")
            } else {
                format!("{tag} OK done\r\n")
            };
            write.write_all(reply.as_bytes()).await.unwrap();
        }
    });
    let t = engine(&[]);
    let mut config = server().imap_config("old", "x", Security::Plain);
    config.server.port = port;
    let err = t.engine.add_account(config, "pw".into()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::ProtocolUnsupported, "{err}");
    assert!(t.engine.accounts().unwrap().is_empty());
}

#[tokio::test]
async fn a_server_that_never_greets_times_out() {
    // Accepts the connection, then says nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (_silent, _) = listener.accept().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    });
    let t = engine_with_options(brevdue_core::EngineOptions {
        connect_timeout: std::time::Duration::from_millis(500),
        ..Default::default()
    });
    let mut config = server().imap_config("mute", "x", Security::Tls);
    config.server.port = port;
    let err = t.engine.add_account(config, "pw".into()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout, "{err}");
    assert!(err.message.contains("TLS handshake"), "{err}");
    assert!(t.engine.accounts().unwrap().is_empty());
}

#[tokio::test]
async fn an_account_is_edited_only_after_the_servers_accept_the_change() {
    use brevdue_core::account_edit::AccountEdit;
    let s = server();
    let user = s.new_user("edit");
    let t = engine_with_account(&user, &[]).await;
    let before = t.engine.account("main").unwrap();

    // A wrong password, or a server that is not there, changes nothing.
    let refused = [
        (
            AccountEdit {
                password: Some("not-the-password".into()),
                ..Default::default()
            },
            ErrorKind::AuthFailed,
        ),
        (
            AccountEdit {
                port: Some(closed_port()),
                ..Default::default()
            },
            ErrorKind::ConnectionRefused,
        ),
        (
            AccountEdit {
                smtp_port: Some(closed_port()),
                ..Default::default()
            },
            ErrorKind::ConnectionRefused,
        ),
    ];
    for (edit, kind) in refused {
        let err = t
            .engine
            .edit_account("main".into(), edit.clone())
            .await
            .expect_err("refused");
        assert_eq!(err.kind, kind, "{edit:?}: {err}");
        assert_eq!(t.engine.account("main").unwrap(), before, "{edit:?}");
    }
    t.engine
        .sync(None)
        .await
        .expect("the stored password still works");

    // A display name needs no login; the password itself is checked and kept.
    let after = t
        .engine
        .edit_account(
            "main".into(),
            AccountEdit {
                display_name: Some("Kari Nordmann".into()),
                password: Some(PASSWORD.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(after.identities[0].name, "Kari Nordmann");
    assert_eq!(after.server, before.server);

    // 993 with TLS + 587 with STARTTLS: the common pair, entered by changing SMTP only.
    if imap_offers("STARTTLS", "moving SMTP to STARTTLS on the submission port") {
        let after = t
            .engine
            .edit_account(
                "main".into(),
                AccountEdit {
                    smtp_port: Some(s.smtp_port),
                    smtp_security: Some(Security::StartTls),
                    security: Some(Security::StartTls),
                    port: Some(s.imap_port),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (after.server.port, after.server.security),
            (s.imap_port, Security::StartTls)
        );
        assert_eq!(
            (after.smtp.port, after.smtp.security),
            (s.smtp_port, Security::StartTls)
        );
        assert_eq!(t.engine.account("main").unwrap(), after, "saved");
        t.engine
            .sync(None)
            .await
            .expect("syncs over the new settings");
    }
}

/// A port on this machine where nothing listens.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Push follows an edit at once: its connection is rebuilt with the new settings (here
/// the password typed again, as after a change on the provider's site), instead of
/// staying on the old ones until its next renewal.
#[tokio::test]
async fn push_reconnects_with_the_edited_settings() {
    use brevdue_core::account_edit::AccountEdit;
    use brevdue_core::Event;
    let user = server().new_user("push-edit");
    let t = engine_with_account(&user, &[]).await;
    t.engine.sync(None).await.unwrap();
    let events = std::sync::Arc::new(Recorder::default());
    let _s = t.engine.subscribe(events.clone()).unwrap();
    let is_up = |e: &Event| {
        matches!(
            e,
            Event::PushState {
                connected: true,
                ..
            }
        )
    };
    let connected = || events.0.lock().unwrap().iter().filter(|e| is_up(e)).count();
    t.engine.start_push(None).unwrap();
    assert!(wait_until(10, || connected() == 1).await, "push came up");

    // A display name needs no new connection.
    let edit = |edit: AccountEdit| t.engine.edit_account("main".into(), edit);
    edit(AccountEdit {
        display_name: Some("Kari".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(connected(), 1, "push kept its connection");

    edit(AccountEdit {
        password: Some(PASSWORD.into()),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(
        wait_until(10, || connected() == 2).await,
        "push reconnected with the new password"
    );
}
