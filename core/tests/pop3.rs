//! The POP3 client against Dovecot's POP3: POP3S, STLS, AUTH, UIDL, TOP, RETR, DELE.

mod common;

use brevdue_core::imap::ConnectPolicy;
use brevdue_core::pop3::Pop3Connection;
use brevdue_core::{ErrorKind, Security, ServerConfig};
use common::*;

fn pop3(user: &str, security: Security) -> ServerConfig {
    let s = server();
    ServerConfig {
        host: s.host.clone(),
        port: if security == Security::Tls {
            s.pop3s_port
        } else {
            s.pop3_port
        },
        security,
        username: user.to_owned(),
        ca_file: Some(s.ca_file.clone()),
    }
}

#[tokio::test]
async fn download_and_delete_over_pop3s_and_stls() {
    let user = server().new_user("pop");
    let mut other = OtherClient::login(&user).await;
    let body = ".starts with a dot\r\nand Grüße";
    for i in 0..3u32 {
        let raw = message(
            &format!("p{i}"),
            "a@example.test",
            &date(i),
            &format!("pop{i}@t"),
            body,
        );
        other.append("INBOX", &raw, None).await;
    }
    for security in [Security::Tls, Security::StartTls] {
        let mut conn =
            Pop3Connection::connect(&pop3(&user, security), PASSWORD, &ConnectPolicy::default())
                .await
                .unwrap_or_else(|e| panic!("{security:?}: {e}"));
        assert!(conn.caps.uidl && conn.caps.top);
        let (count, _) = conn.stat().await.unwrap();
        assert_eq!(count, 3, "{security:?}");
        let uidl = conn.uidl().await.unwrap();
        assert_eq!(uidl.len(), 3);
        let unique: std::collections::HashSet<_> = uidl.iter().map(|(_, u)| u.clone()).collect();
        assert_eq!(unique.len(), 3);
        let raw = conn.retr(1).await.unwrap();
        let parsed = brevdue_core::mime::parse_body(&raw);
        assert!(parsed
            .text
            .unwrap()
            .starts_with(".starts with a dot\r\nand Grüße"));
        let head = conn.top(2, 0).await.unwrap();
        assert!(String::from_utf8_lossy(&head).contains("Message-ID: <pop1@t>"));
        conn.noop().await.unwrap();
        conn.quit().await.unwrap();
    }
    // DELE takes effect at QUIT; RSET undoes it before.
    let mut conn = Pop3Connection::connect(
        &pop3(&user, Security::Tls),
        PASSWORD,
        &ConnectPolicy::default(),
    )
    .await
    .unwrap();
    conn.dele(1).await.unwrap();
    conn.dele(2).await.unwrap();
    conn.rset().await.unwrap();
    conn.dele(3).await.unwrap();
    conn.quit().await.unwrap();
    other.select("INBOX").await;
    let left = other.message_ids("INBOX").await;
    assert_eq!(left, ["pop0@t", "pop1@t"]);
}

#[tokio::test]
async fn pop3_failures_have_their_own_kind() {
    let user = server().new_user("popfail");
    let policy = ConnectPolicy::default();
    let err = Pop3Connection::connect(&pop3(&user, Security::Tls), "wrong", &policy)
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::AuthFailed, "{err}");
    for security in [Security::Tls, Security::StartTls] {
        let mut untrusted = pop3(&user, security);
        untrusted.ca_file = None;
        let err = Pop3Connection::connect(&untrusted, PASSWORD, &policy)
            .await
            .err()
            .unwrap();
        assert_eq!(
            err.kind,
            ErrorKind::CertificateNotTrusted,
            "{security:?}: {err}"
        );
    }
    // The IMAP port is no POP3 server.
    let mut imap = pop3(&user, Security::Plain);
    imap.port = server().imap_port;
    let err = Pop3Connection::connect(&imap, PASSWORD, &policy)
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::ProtocolUnsupported, "{err}");
}
