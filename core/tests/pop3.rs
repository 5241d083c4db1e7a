//! The POP3 client against the test server's POP3 (Dovecot's by default): POP3S, STLS, AUTH, UIDL, TOP, RETR, DELE.

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
    let mut modes = vec![Security::Tls];
    if pop3_offers("STLS", "the STLS connection") {
        modes.push(Security::StartTls);
    }
    for security in modes {
        let mut conn =
            Pop3Connection::connect(&pop3(&user, security), PASSWORD, &ConnectPolicy::default())
                .await
                .unwrap_or_else(|e| panic!("{security:?}: {e}"));
        assert!(conn.caps.uidl);
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
        if pop3_offers("TOP", &format!("TOP over {security:?}")) {
            assert!(conn.caps.top);
            let head = conn.top(2, 0).await.unwrap();
            assert!(String::from_utf8_lossy(&head).contains("Message-ID: <pop1@t>"));
        }
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
    let mut modes = vec![Security::Tls];
    if pop3_offers("STLS", "an untrusted certificate after STLS") {
        modes.push(Security::StartTls);
    }
    for security in modes {
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

fn pop3_account(user: &str, policy: &str) -> brevdue_core::AccountConfig {
    brevdue_core::AccountConfig {
        name: "pop".into(),
        email: format!("{user}@example.test"),
        protocol: brevdue_core::Protocol::Pop3,
        server: pop3(user, Security::Tls),
        pop3_delete: policy.parse().unwrap(),
        display_name: String::new(),
        smtp: None,
    }
}

async fn fill(user: &str, n: u32) {
    let mut other = OtherClient::login(user).await;
    for i in 0..n {
        let raw = message(
            &format!("Note {i}"),
            "a@example.test",
            &date(i),
            &format!("n{i}@t"),
            &format!("text {i}"),
        );
        other.append("INBOX", &raw, None).await;
    }
    other.logout().await;
}

#[tokio::test]
async fn a_pop3_account_downloads_once_and_keeps_what_it_does_here() {
    use brevdue_core::FlagChange;
    let user = server().new_user("popacct");
    fill(&user, 5).await;
    let t = engine(&[]);
    let account = t
        .engine
        .add_account(pop3_account(&user, "never"), PASSWORD.into())
        .await
        .unwrap();
    let caps = account.capabilities;
    assert!(!caps.syncs_read_state && !caps.syncs_folders && !caps.syncs_sent && !caps.push);
    assert_eq!(t.engine.sync(None).await.unwrap()[0].1.new_messages, 5);
    let list = t.engine.messages(None, Some("INBOX"), 10, 0).unwrap();
    let subjects: Vec<&str> = list.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects, ["Note 4", "Note 3", "Note 2", "Note 1", "Note 0"]);
    assert!(list.iter().all(|m| m.has_body && m.uid.is_none()));
    assert_eq!(t.engine.search("text", None, 10).unwrap().len(), 5);
    let opened = t.engine.open_message(list[0].id).await.unwrap();
    assert_eq!(opened.text.as_deref().map(str::trim), Some("text 4"));
    assert_eq!(
        t.engine.sync(None).await.unwrap()[0].1.new_messages,
        0,
        "downloaded twice"
    );

    // What happens here stays here: read state, folders, filing.
    t.engine
        .mark(&[list[0].id, list[1].id], FlagChange::Read)
        .unwrap();
    t.engine.create_folder("pop", "Receipts").unwrap();
    t.engine.move_messages(&[list[2].id], "Receipts").unwrap();
    assert!(
        t.engine.changes(None).unwrap().is_empty(),
        "a POP3 account queued server changes"
    );
    let report = t.engine.push_changes(None).await.unwrap();
    assert_eq!((report.applied, report.pending), (0, 0));
    let mut other = OtherClient::login(&user).await;
    let server_view = other.server_view().await;
    assert_eq!(server_view.len(), 5);
    // No folder and no move reached the server. (Dovecot itself sets \Seen on RETR.)
    assert!(server_view.values().all(|(folder, _, _)| folder == "INBOX"));

    // A restart downloads nothing again.
    let dir = t.dir.path().to_owned();
    drop(t.engine);
    let credentials = std::sync::Arc::new(brevdue_core::MemoryCredentials::default());
    brevdue_core::CredentialStore::set(credentials.as_ref(), "pop", PASSWORD).unwrap();
    let again = brevdue_core::Engine::open(&dir, credentials, Default::default()).unwrap();
    assert_eq!(again.sync(None).await.unwrap()[0].1.new_messages, 0);
    assert_eq!(again.messages(None, None, 100, 0).unwrap().len(), 5);
    assert_eq!(
        again.messages(None, Some("Receipts"), 10, 0).unwrap().len(),
        1
    );
}

#[tokio::test]
async fn each_pop3_delete_policy() {
    // (policy, messages left on the server after the first download)
    for (policy, left) in [
        ("never", 3),
        ("delete-after-download", 0),
        ("after-days:0", 0),
        ("after-days:1", 3),
        ("when-deleted-here", 3),
    ] {
        let user = server().new_user("policy");
        fill(&user, 3).await;
        let t = engine(&[]);
        t.engine
            .add_account(pop3_account(&user, policy), PASSWORD.into())
            .await
            .unwrap();
        t.engine.sync(None).await.unwrap();
        let mut other = OtherClient::login(&user).await;
        assert_eq!(other.message_ids("INBOX").await.len(), left, "{policy}");
        assert_eq!(
            t.engine.messages(None, Some("INBOX"), 10, 0).unwrap().len(),
            3,
            "{policy}: kept here"
        );
        if policy == "when-deleted-here" {
            let id = t.engine.messages(None, Some("INBOX"), 1, 0).unwrap()[0].id;
            t.engine.delete(&[id]).unwrap(); // to the local Trash: still here
            t.engine.sync(None).await.unwrap();
            assert_eq!(other.message_ids("INBOX").await.len(), 3);
            t.engine.delete(&[id]).unwrap(); // from Trash: gone here, so gone there
            t.engine.sync(None).await.unwrap();
            assert_eq!(other.message_ids("INBOX").await.len(), 2);
        }
    }
}

#[tokio::test]
async fn a_second_device_taking_the_mail_raises_the_advice() {
    use brevdue_core::Event;
    let user = server().new_user("twodev");
    fill(&user, 3).await;
    let phone = engine(&[]);
    let pc = engine(&[]);
    phone
        .engine
        .add_account(
            pop3_account(&user, "delete-after-download"),
            PASSWORD.into(),
        )
        .await
        .unwrap();
    pc.engine
        .add_account(pop3_account(&user, "never"), PASSWORD.into())
        .await
        .unwrap();
    let events = std::sync::Arc::new(Recorder::default());
    let _s = pc.engine.subscribe(events.clone()).unwrap();
    let advised = |events: &Recorder| {
        events.0.lock().unwrap().iter().any(|e| matches!(e, Event::Advisory { message, .. } if message.contains("more than one device")))
    };
    pc.engine.sync(None).await.unwrap(); // the PC leaves them on the server
    phone.engine.sync(None).await.unwrap(); // the phone takes them away
    pc.engine.sync(None).await.unwrap();
    assert!(
        wait_until(5, || advised(&events)).await,
        "no advice after mail vanished"
    );
    // Mail this device deleted itself is no sign of a second device.
    let lone = engine(&[]);
    let lone_events = std::sync::Arc::new(Recorder::default());
    let _l = lone.engine.subscribe(lone_events.clone()).unwrap();
    let user2 = server().new_user("onedev");
    fill(&user2, 2).await;
    lone.engine
        .add_account(
            pop3_account(&user2, "delete-after-download"),
            PASSWORD.into(),
        )
        .await
        .unwrap();
    lone.engine.sync(None).await.unwrap();
    lone.engine.sync(None).await.unwrap();
    // And the user can say so.
    lone.engine.read_on_another_device("pop").unwrap();
    assert!(wait_until(5, || advised(&lone_events)).await);
    let count = lone_events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::Advisory { .. }))
        .count();
    assert_eq!(count, 1, "only the user's own report should advise here");
}

#[tokio::test]
async fn switch_to_imap_keeps_read_state_folders_and_mail_gone_from_the_server() {
    use brevdue_core::{FlagChange, Protocol};
    let user = server().new_user("popswitch");
    fill(&user, 6).await;
    let t = engine(&[]);
    t.engine
        .add_account(pop3_account(&user, "never"), PASSWORD.into())
        .await
        .unwrap();
    t.engine.sync(None).await.unwrap();
    let list = t.engine.messages(None, Some("INBOX"), 10, 0).unwrap();
    let id_of = |mid: &str| list.iter().find(|m| m.message_id == mid).unwrap().id;
    // Read two, flag one, file one into a new folder; another device then takes one
    // message off the server (this device still has it).
    t.engine
        .mark(&[id_of("n5@t"), id_of("n4@t")], FlagChange::Read)
        .unwrap();
    t.engine
        .mark(&[id_of("n3@t")], FlagChange::Flagged)
        .unwrap();
    t.engine.create_folder("pop", "Receipts").unwrap();
    t.engine
        .move_messages(&[id_of("n2@t")], "Receipts")
        .unwrap();
    let mut other = OtherClient::login(&user).await;
    other.select("INBOX").await;
    let gone = other.uid_of("n0@t").await;
    other.expunge_uid(gone).await;
    other.logout().await;

    // The harness's IMAP port is not the standard one: say which.
    let imap = server().imap_config("pop", &user, Security::Tls).server;
    let report = t.engine.switch_to_imap("pop", Some(imap)).await.unwrap();
    assert_eq!(report.uploaded, 1, "{report:?}");
    assert_eq!(report.matched, 5, "{report:?}");
    assert_eq!(report.moved, 1, "{report:?}");
    assert!(report.folders_created >= 1, "{report:?}");

    let account = t.engine.account("pop").unwrap();
    assert_eq!(account.protocol, Protocol::Imap);
    assert!(account.capabilities.syncs_read_state);
    // The server now holds what this device knew (Dovecot had set \Seen on every RETR:
    // the unread ones are unread again).
    let mut other = OtherClient::login(&user).await;
    let server_view = other.server_view().await;
    other.logout().await;
    let expected: View = [
        ("n5@t", "INBOX", true, false),
        ("n4@t", "INBOX", true, false),
        ("n3@t", "INBOX", false, true),
        ("n2@t", "Receipts", false, false),
        ("n1@t", "INBOX", false, false),
        ("n0@t", "INBOX", false, false),
    ]
    .into_iter()
    .map(|(mid, folder, seen, flagged)| (mid.to_owned(), (folder.to_owned(), seen, flagged)))
    .collect();
    assert_eq!(server_view, expected);
    // And this device, now syncing over IMAP, sees the same.
    assert_eq!(engine_view(&t.engine), expected);
    // A second device on IMAP sees it too.
    let pc = engine_with_account(&user, &[]).await;
    pc.engine.sync(None).await.unwrap();
    assert_eq!(engine_view(&pc.engine), expected);
    // Switching twice is refused.
    let err = t.engine.switch_to_imap("pop", None).await.unwrap_err();
    assert_eq!(err.kind, brevdue_core::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn classic_pop3_announces_new_mail_after_the_first_download_only() {
    let user = server().new_user("popnew");
    fill(&user, 3).await;
    let t = engine(&[]);
    t.engine
        .add_account(
            pop3_account(&user, "delete-after-download"),
            PASSWORD.into(),
        )
        .await
        .unwrap();
    let recorder = std::sync::Arc::new(Recorder::default());
    let _subscription = t.engine.subscribe(recorder.clone()).unwrap();
    let announced = || {
        recorder
            .0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                brevdue_core::Event::NewMail { messages, .. } => Some(
                    messages
                        .iter()
                        .map(|m| m.subject.clone())
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let finished = || {
        recorder
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e, brevdue_core::Event::SyncFinished { .. }))
            .count()
    };
    // The first download takes what was waiting (and empties the server): not news.
    t.engine.sync(None).await.unwrap();
    assert!(wait_until(10, || finished() == 1).await);
    assert_eq!(t.engine.messages(None, None, 10, 0).unwrap().len(), 3);
    assert!(announced().is_empty(), "{:?}", announced());

    // Each later arrival is, even though nothing this device downloaded is left there.
    for round in 1..=2u32 {
        let mut other = OtherClient::login(&user).await;
        let subject = format!("Arrived later {round}");
        let raw = message(
            &subject,
            "b@example.test",
            &date(9 + round),
            &format!("late{round}@t"),
            "hi",
        );
        other.append("INBOX", &raw, None).await;
        other.logout().await;
        t.engine.sync(None).await.unwrap();
        assert!(wait_until(10, || finished() == 1 + round as usize).await);
        assert_eq!(announced().last(), Some(&vec![subject]), "round {round}");
        assert_eq!(announced().len(), round as usize);
    }
}
