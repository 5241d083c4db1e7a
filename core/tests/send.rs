//! Sending against the private SMTP server, which delivers into Dovecot: replies and
//! forwards with their headers, the sent copy and the original's flag, refusals kept
//! as drafts, an unreachable server, and POP3 accounts.

mod common;

use brevdue_core::{
    AccountConfig, Address, AttachmentFile, Draft, Engine, ErrorKind, Event, MessageSummary,
    OutboxState, Protocol, Security, ServerConfig,
};
use common::*;

fn to(address: &str) -> Vec<Address> {
    vec![Address {
        name: None,
        address: address.to_owned(),
    }]
}

fn find(engine: &Engine, folder: &str, message_id: &str) -> MessageSummary {
    engine
        .messages(None, Some(folder), 1000, 0)
        .unwrap()
        .into_iter()
        .find(|m| m.message_id == message_id)
        .unwrap_or_else(|| panic!("{message_id} not in {folder}"))
}

fn outbox_message_id(engine: &Engine, id: i64) -> String {
    engine
        .outbox(None)
        .unwrap()
        .into_iter()
        .find(|m| m.id == id)
        .expect("in the outbox")
        .message_id
}

/// Queues and sends; returns the Message-ID.
async fn send(engine: &Engine, draft: Draft) -> String {
    let id = engine.send(draft).await.unwrap();
    let message_id = outbox_message_id(engine, id);
    let report = engine.send_outbox(None).await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    assert!(engine.outbox(None).unwrap().is_empty());
    message_id
}

fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    raw.lines()
        .find(|l| {
            l.len() > name.len()
                && l[..name.len()].eq_ignore_ascii_case(name)
                && l.as_bytes()[name.len()] == b':'
        })
        .map(|l| l[name.len() + 1..].trim())
}

#[tokio::test]
async fn a_reply_arrives_threaded_and_the_original_is_answered() {
    let s = server();
    let alice_user = s.new_user("alice");
    let bob_user = s.new_user("bob");
    let alice = engine_with_account(&alice_user, &[]).await;
    let bob = engine_with_account(&bob_user, &[]).await;
    alice.engine.sync(None).await.unwrap();
    bob.engine.sync(None).await.unwrap();

    let original_id = send(
        &bob.engine,
        Draft {
            account: "main".into(),
            to: to(&format!("{alice_user}@example.test")),
            subject: "Plans for Friday".into(),
            body: "Dinner at seven?\nBob".into(),
            ..Draft::default()
        },
    )
    .await;
    alice.engine.sync(None).await.unwrap();
    let original = find(&alice.engine, "INBOX", &original_id);

    let outbox_id = alice
        .engine
        .reply(
            original.id,
            false,
            Draft {
                account: "main".into(),
                body: "Seven is perfect.".into(),
                ..Draft::default()
            },
        )
        .await
        .unwrap();
    let reply_id = outbox_message_id(&alice.engine, outbox_id);
    assert_eq!(alice.engine.send_outbox(None).await.unwrap().sent, 1);
    let pushed = alice.engine.push_changes(None).await.unwrap();
    assert_eq!(pushed.pending, 0, "{pushed:?}");

    // Bob's Inbox: the reply with the threading headers and the quote.
    let mut bob_client = OtherClient::login(&bob_user).await;
    let got = bob_client.find("INBOX", &reply_id).await;
    assert_eq!(got.len(), 1, "delivered exactly once");
    let raw = String::from_utf8_lossy(&got[0].1).into_owned();
    assert_eq!(header(&raw, "Subject"), Some("Re: Plans for Friday"));
    assert_eq!(
        header(&raw, "In-Reply-To"),
        Some(&*format!("<{original_id}>"))
    );
    assert_eq!(
        header(&raw, "References"),
        Some(&*format!("<{original_id}>"))
    );
    assert!(raw.contains("> Dinner at seven?"), "{raw}");
    assert!(header(&raw, "Date").is_some());
    bob_client.logout().await;

    // Alice's server: the reply in Sent, \Answered on the original.
    let mut alice_client = OtherClient::login(&alice_user).await;
    let sent = alice_client.find("Sent", &reply_id).await;
    assert_eq!(sent.len(), 1, "one sent copy");
    assert!(sent[0].0.contains(&"Seen".to_owned()), "{:?}", sent[0].0);
    let inbox = alice_client.find("INBOX", &original_id).await;
    assert!(
        inbox[0].0.contains(&"Answered".to_owned()),
        "{:?}",
        inbox[0].0
    );
    alice_client.logout().await;

    // And here: the mark and the copy, in one thread with the original.
    assert!(find(&alice.engine, "INBOX", &original_id).flags.answered);
    let copy = find(&alice.engine, "Sent", &reply_id);
    assert_eq!(copy.thread_id, original.thread_id);

    // Bob's side threads his sent message with the answer.
    bob.engine.sync(None).await.unwrap();
    let answer = find(&bob.engine, "INBOX", &reply_id);
    let thread: Vec<String> = bob
        .engine
        .thread_messages(answer.thread_id)
        .unwrap()
        .into_iter()
        .map(|m| m.message_id)
        .collect();
    assert!(thread.contains(&original_id), "{thread:?}");
}

#[tokio::test]
async fn reply_all_and_forward_carry_people_and_attachments() {
    let s = server();
    let [alice_user, bob_user, carol_user, dave_user] =
        ["alice", "bob", "carol", "dave"].map(|p| s.new_user(p));
    let alice = engine_with_account(&alice_user, &[]).await;
    let bob = engine_with_account(&bob_user, &[]).await;
    alice.engine.sync(None).await.unwrap();
    bob.engine.sync(None).await.unwrap();

    let pdf = b"%PDF-1.4\n% not really\n%%EOF\n".to_vec();
    let original_id = send(
        &alice.engine,
        Draft {
            account: "main".into(),
            to: to(&format!("{bob_user}@example.test")),
            cc: to(&format!("{carol_user}@example.test")),
            subject: "Re: Re: Budget".into(),
            body: "Numbers attached.".into(),
            attachments: vec![AttachmentFile {
                name: "Budget 2027.pdf".into(),
                mime_type: "application/pdf".into(),
                data: pdf.clone(),
            }],
            ..Draft::default()
        },
    )
    .await;
    bob.engine.sync(None).await.unwrap();
    let original = find(&bob.engine, "INBOX", &original_id);
    assert!(original.has_attachments);

    // Reply to all: Alice and Carol, never Bob himself; no stacked "Re:".
    let id = bob
        .engine
        .reply(
            original.id,
            true,
            Draft {
                account: "main".into(),
                body: "Looks good.".into(),
                ..Draft::default()
            },
        )
        .await
        .unwrap();
    let reply_all = bob.engine.outbox(None).unwrap()[0].clone();
    assert_eq!(reply_all.id, id);
    assert_eq!(reply_all.subject, "Re: Budget");
    assert_eq!(
        reply_all.recipients,
        vec![
            format!("{alice_user}@example.test"),
            format!("{carol_user}@example.test")
        ]
    );
    assert_eq!(bob.engine.send_outbox(None).await.unwrap().sent, 1);
    let mut carol = OtherClient::login(&carol_user).await;
    assert_eq!(carol.find("INBOX", &reply_all.message_id).await.len(), 1);
    carol.logout().await;

    // Forward: "Fwd:", the original's text and its attachment; $Forwarded on it.
    let id = bob
        .engine
        .forward(
            original.id,
            Draft {
                account: "main".into(),
                to: to(&format!("{dave_user}@example.test")),
                body: "FYI".into(),
                ..Draft::default()
            },
        )
        .await
        .unwrap();
    let forward_id = outbox_message_id(&bob.engine, id);
    assert_eq!(bob.engine.send_outbox(None).await.unwrap().sent, 1);
    bob.engine.push_changes(None).await.unwrap();
    let mut dave = OtherClient::login(&dave_user).await;
    let got = dave.find("INBOX", &forward_id).await;
    assert_eq!(got.len(), 1);
    let body = brevdue_core::mime::parse_original(&got[0].1);
    assert_eq!(body.subject, "Fwd: Budget");
    assert!(body.text.contains("FYI"), "{}", body.text);
    assert!(body.text.contains("Numbers attached."), "{}", body.text);
    assert_eq!(body.attachments.len(), 1);
    assert_eq!(body.attachments[0].name, "Budget 2027.pdf");
    assert_eq!(body.attachments[0].data, pdf);
    dave.logout().await;
    let mut bob_client = OtherClient::login(&bob_user).await;
    let flags = &bob_client.find("INBOX", &original_id).await[0].0;
    assert!(
        flags.iter().any(|f| f.contains("$Forwarded")),
        "flags on the server: {flags:?}"
    );
    bob_client.logout().await;
}

#[tokio::test]
async fn a_refused_message_is_reported_and_kept_as_a_draft() {
    let s = server();
    if !harness_has("smtp-rejects-unknown-recipients", "the whole test") {
        return;
    }
    let user = s.new_user("refused");
    let t = engine_with_account(&user, &[]).await;
    t.engine.sync(None).await.unwrap();
    let events = std::sync::Arc::new(Recorder::default());
    let _subscription = t.engine.subscribe(events.clone()).unwrap();

    let id = t
        .engine
        .send(Draft {
            account: "main".into(),
            to: to("nobody@elsewhere.example"),
            subject: "Lost?".into(),
            body: "This address does not exist.".into(),
            ..Draft::default()
        })
        .await
        .unwrap();
    let report = t.engine.send_outbox(None).await.unwrap();
    assert_eq!((report.sent, report.failed), (0, 1), "{report:?}");
    let outbox = t.engine.outbox(None).unwrap();
    assert_eq!(outbox[0].id, id);
    assert_eq!(outbox[0].state, OutboxState::Failed);
    assert!(
        outbox[0].last_error.contains("550"),
        "{}",
        outbox[0].last_error
    );
    let draft = outbox[0].draft_id.expect("kept as a draft");
    let kept = t.engine.message(draft).unwrap();
    assert_eq!(kept.summary.folder, "Drafts");
    assert!(kept.summary.flags.draft);
    assert_eq!(kept.summary.message_id, outbox[0].message_id);
    // Trying again does not resend a refused message.
    assert_eq!(t.engine.send_outbox(None).await.unwrap().failed, 0);

    // The draft reaches the server's Drafts like any draft.
    t.engine.push_changes(None).await.unwrap();
    let mut other = OtherClient::login(&user).await;
    let drafts = other.find("Drafts", &outbox[0].message_id).await;
    assert_eq!(drafts.len(), 1);
    assert!(
        drafts[0].0.contains(&"Draft".to_owned()),
        "{:?}",
        drafts[0].0
    );
    other.logout().await;

    assert!(wait_until(5, || events.0.lock().unwrap().iter().any(|e| matches!(
        e,
        Event::Error { kind: ErrorKind::SendRefused, message, .. } if message.contains(&format!("draft {draft}"))
    )))
    .await);
    // Taking it out of the outbox keeps the draft.
    t.engine.remove_from_outbox(id).unwrap();
    assert!(t.engine.outbox(None).unwrap().is_empty());
    assert!(t.engine.message(draft).is_ok());
}

#[tokio::test]
async fn an_unreachable_server_keeps_the_message_queued() {
    let s = server();
    let user = s.new_user("offline");
    let bob_user = s.new_user("bob");
    let proxy = Proxy::start(s.smtps_port).await;
    let t = engine(&[]);
    let mut config = s.imap_config("main", &user, Security::Tls);

    // The SMTP certificate is checked like any other.
    let mut untrusted = config.clone();
    untrusted.smtp = Some(ServerConfig {
        ca_file: None,
        ..s.smtp_config(&user)
    });
    let err = t
        .engine
        .add_account(untrusted, PASSWORD.to_owned())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::CertificateNotTrusted, "{err:?}");
    assert!(err.message.starts_with("SMTP"), "{}", err.message);
    assert!(t.engine.accounts().unwrap().is_empty());

    config.smtp = Some(ServerConfig {
        port: proxy.port,
        ..s.smtp_config(&user)
    });
    t.engine
        .add_account(config, PASSWORD.to_owned())
        .await
        .unwrap();
    t.engine.sync(None).await.unwrap();

    proxy.go_down();
    let id = t
        .engine
        .send(Draft {
            account: "main".into(),
            to: to(&format!("{bob_user}@example.test")),
            subject: "Written on the train".into(),
            body: "Sent when the network is back.".into(),
            ..Draft::default()
        })
        .await
        .unwrap();
    let report = t.engine.send_outbox(None).await.unwrap();
    assert_eq!((report.sent, report.queued), (0, 1), "{report:?}");
    assert!(report.offline.is_some());
    let waiting = &t.engine.outbox(None).unwrap()[0];
    assert_eq!((waiting.id, waiting.state), (id, OutboxState::Queued));
    assert!(!waiting.last_error.is_empty());

    proxy.come_up();
    assert_eq!(t.engine.send_outbox(None).await.unwrap().sent, 1);
    let mut bob = OtherClient::login(&bob_user).await;
    assert_eq!(bob.find("INBOX", &waiting.message_id).await.len(), 1);
    bob.logout().await;
}

#[tokio::test]
async fn a_pop3_account_keeps_its_sent_copy_on_this_device() {
    let s = server();
    let user = s.new_user("popsend");
    let bob_user = s.new_user("bob");
    let t = engine(&[]);
    t.engine
        .add_account(
            AccountConfig {
                name: "pop".into(),
                email: format!("{user}@example.test"),
                protocol: Protocol::Pop3,
                server: ServerConfig {
                    host: s.host.clone(),
                    port: s.pop3s_port,
                    security: Security::Tls,
                    username: user.clone(),
                    ca_file: Some(s.ca_file.clone()),
                },
                pop3_delete: Default::default(),
                display_name: "Pop Person".into(),
                smtp: Some(s.smtp_config(&user)),
            },
            PASSWORD.to_owned(),
        )
        .await
        .unwrap();
    let message_id = send(
        &t.engine,
        Draft {
            account: "pop".into(),
            to: to(&format!("{bob_user}@example.test")),
            subject: "From POP".into(),
            body: "Hello".into(),
            ..Draft::default()
        },
    )
    .await;
    let copy = find(&t.engine, "Sent", &message_id);
    assert!(copy.flags.seen);
    assert_eq!(copy.from.name.as_deref(), Some("Pop Person"));
    assert!(
        t.engine.changes(None).unwrap().is_empty(),
        "nothing to upload"
    );
    let mut other = OtherClient::login(&user).await;
    assert!(
        other.message_ids("Sent").await.is_empty(),
        "nothing on the server"
    );
    other.logout().await;
    let mut bob = OtherClient::login(&bob_user).await;
    assert_eq!(bob.find("INBOX", &message_id).await.len(), 1);
    bob.logout().await;
}

/// Subscribes to the engine's events; returns what arrived so far on each call.
fn advisories(engine: &Engine) -> (brevdue_core::Subscription, std::sync::mpsc::Receiver<Event>) {
    struct Forward(std::sync::Mutex<std::sync::mpsc::Sender<Event>>);
    impl brevdue_core::EventListener for Forward {
        fn on_event(&self, event: Event) {
            let _ = self.0.lock().unwrap().send(event);
        }
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let sub = engine
        .subscribe(std::sync::Arc::new(Forward(std::sync::Mutex::new(tx))))
        .unwrap();
    (sub, rx)
}

#[tokio::test]
async fn the_sent_copy_finds_a_norwegian_sent_folder_without_special_use() {
    let s = server();
    let user = s.new_user_without("sendt", &["Sent"]);
    let mut other = OtherClient::login(&user).await;
    other.create("Sendte elementer").await;
    other.logout().await;
    let t = engine_with_account(&user, &[]).await;
    t.engine.sync(None).await.unwrap();
    let folders = t.engine.folders(None).unwrap();
    let sent = folders
        .iter()
        .find(|f| f.name == "Sendte elementer")
        .expect("listed");
    assert_eq!(
        sent.role,
        Some(brevdue_core::FolderRole::Sent),
        "{folders:?}"
    );

    let message_id = send(
        &t.engine,
        Draft {
            account: "main".into(),
            to: to(&format!("{user}@example.test")),
            subject: "Til meg selv".into(),
            body: "Hei".into(),
            ..Draft::default()
        },
    )
    .await;
    find(&t.engine, "Sendte elementer", &message_id);
    let pushed = t.engine.push_changes(None).await.unwrap();
    assert_eq!(pushed.pending, 0, "{pushed:?}");
    let mut other = OtherClient::login(&user).await;
    assert_eq!(other.find("Sendte elementer", &message_id).await.len(), 1);
    other.logout().await;
}

#[tokio::test]
async fn a_server_without_a_sent_folder_gets_one_and_the_user_can_choose_another() {
    let s = server();
    let user = s.new_user_without("nosent", &["Sent"]);
    let t = engine_with_account(&user, &[]).await;
    t.engine.sync(None).await.unwrap();
    assert!(
        !t.engine
            .folders(None)
            .unwrap()
            .iter()
            .any(|f| f.role == Some(brevdue_core::FolderRole::Sent)),
        "the server has no Sent folder"
    );
    let (_sub, events) = advisories(&t.engine);
    let first = send(
        &t.engine,
        Draft {
            account: "main".into(),
            to: to(&format!("{user}@example.test")),
            subject: "First".into(),
            body: "Kept".into(),
            ..Draft::default()
        },
    )
    .await;
    let told = events.try_iter().find_map(|e| match e {
        Event::Advisory { advice, .. } if advice.id == "sent_folder_created" => Some(advice),
        _ => None,
    });
    assert_eq!(told.expect("the user is told").detail, "Sent");
    find(&t.engine, "Sent", &first);
    let pushed = t.engine.push_changes(None).await.unwrap();
    assert_eq!(pushed.pending, 0, "{pushed:?}");
    let mut other = OtherClient::login(&user).await;
    assert_eq!(
        other.find("Sent", &first).await.len(),
        1,
        "the copy is on the server"
    );
    other.create("Kopier").await;
    other.logout().await;

    // The user picks another folder; the next copy goes there, and a sync keeps the choice.
    t.engine.sync(None).await.unwrap();
    t.engine
        .choose_special_folder("main", brevdue_core::FolderRole::Sent, "Kopier")
        .unwrap();
    t.engine.sync(None).await.unwrap();
    let roles: Vec<_> = t
        .engine
        .folders(None)
        .unwrap()
        .into_iter()
        .filter(|f| f.role == Some(brevdue_core::FolderRole::Sent))
        .map(|f| f.name)
        .collect();
    assert_eq!(roles, ["Kopier"]);
    let second = send(
        &t.engine,
        Draft {
            account: "main".into(),
            to: to(&format!("{user}@example.test")),
            subject: "Second".into(),
            body: "Kept elsewhere".into(),
            ..Draft::default()
        },
    )
    .await;
    assert_eq!(t.engine.push_changes(None).await.unwrap().pending, 0);
    let mut other = OtherClient::login(&user).await;
    assert_eq!(other.find("Kopier", &second).await.len(), 1);
    assert!(other.find("Sent", &second).await.is_empty());
    other.logout().await;
}
