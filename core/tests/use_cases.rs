//! The use-case layer the front ends call, against the private Dovecot and SMTP server:
//! new mail as the engine decides it, the composer's preview and sending as written, and
//! "sync now" with one report.

mod common;

use std::sync::Arc;

use brevdue_core::compose::ComposeMode;
use brevdue_core::live::{Diff, ListListener, MessageQuery};
use brevdue_core::reading::ReadingOptions;
use brevdue_core::status::{StatusListener, SyncStatus};
use brevdue_core::{
    Address, ChangeKind, Draft, Event, FlagChange, Folder, MessageSummary, RemoteContentScope,
    Security, ServerConfig,
};
use common::*;

fn to(address: &str) -> Vec<Address> {
    vec![Address {
        name: None,
        address: address.to_owned(),
    }]
}

fn addresses(list: &[Address]) -> Vec<String> {
    list.iter().map(|a| a.address.clone()).collect()
}

/// The NewMail events recorded so far: (total, subjects).
fn new_mail(recorder: &Recorder) -> Vec<(u32, Vec<String>)> {
    recorder
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::NewMail {
                total, messages, ..
            } => Some((*total, messages.iter().map(|m| m.subject.clone()).collect())),
            _ => None,
        })
        .collect()
}

fn finished_syncs(recorder: &Recorder) -> usize {
    recorder
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::SyncFinished { .. }))
        .count()
}

/// Syncs, then waits for that sync's `SyncFinished` to reach the recorder: events reach
/// a listener in order, so every event of the pass has arrived by then.
async fn sync_and_settle(t: &TestEngine, recorder: &Recorder) {
    let before = finished_syncs(recorder);
    t.engine.sync(None).await.unwrap();
    assert!(
        wait_until(10, || finished_syncs(recorder) > before).await,
        "the sync's events arrive"
    );
}

#[tokio::test]
async fn new_mail_is_announced_once_never_for_the_first_sync_or_mail_sent_here() {
    let s = server();
    let user = s.new_user("newmail");
    let address = format!("{user}@example.test");
    let mut other = OtherClient::login(&user).await;
    for n in 1..=3 {
        let raw = message(
            &format!("Old {n}"),
            "Anna <anna@example.test>",
            &date(n),
            &format!("old{n}@x"),
            "from before",
        );
        other.append("INBOX", &raw, None).await;
    }
    let t = engine_with_account(&user, &[]).await;
    let recorder = Arc::new(Recorder::default());
    let _subscription = t.engine.subscribe(recorder.clone()).unwrap();

    // The first sync lists three unseen messages: none of them is news.
    sync_and_settle(&t, &recorder).await;
    assert_eq!(
        t.engine.messages(None, Some("INBOX"), 10, 0).unwrap().len(),
        3
    );
    assert_eq!(new_mail(&recorder), vec![]);

    // One unseen and one already read (on another device) arrive: only the unseen one.
    let fresh = message(
        "Dinner?",
        "Anna <anna@example.test>",
        &date(10),
        "new1@x",
        "7?",
    );
    other.append("INBOX", &fresh, None).await;
    let read = message(
        "Read elsewhere",
        "Ben <ben@example.test>",
        &date(11),
        "new2@x",
        "",
    );
    other.append("INBOX", &read, Some("(\\Seen)")).await;
    sync_and_settle(&t, &recorder).await;
    assert_eq!(new_mail(&recorder), vec![(1, vec!["Dinner?".to_owned()])]);
    let event_from = recorder.0.lock().unwrap().iter().find_map(|e| match e {
        Event::NewMail { messages, .. } => Some(messages[0].from.address.clone()),
        _ => None,
    });
    assert_eq!(event_from.as_deref(), Some("anna@example.test"));
    other.logout().await;

    // Mail this device sends to its own address comes back into the Inbox: not news.
    t.engine
        .send(Draft {
            account: "main".into(),
            to: to(&address),
            subject: "Note to self".into(),
            body: "Buy milk.".into(),
            ..Draft::default()
        })
        .await
        .unwrap();
    let mut delivered = false;
    for _ in 0..20 {
        sync_and_settle(&t, &recorder).await;
        let inbox = t.engine.messages(None, Some("INBOX"), 20, 0).unwrap();
        if inbox.iter().any(|m| m.subject == "Note to self") {
            delivered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(delivered, "the message to self arrived in the Inbox");
    assert_eq!(new_mail(&recorder).len(), 1, "{:?}", new_mail(&recorder));
}

#[tokio::test]
async fn the_composer_starts_from_the_original_and_sends_what_the_user_left() {
    let s = server();
    let me = s.new_user("composer");
    let list = s.new_user("list");
    let carl = s.new_user("carl");
    let dave = s.new_user("dave");
    let domain = |u: &str| format!("{u}@example.test");
    let original = format!(
        "From: Bob <bob@example.test>\r\nReply-To: {}\r\nTo: {}\r\nCc: {}\r\n\
         Subject: SV: Re: Plans\r\nDate: {}\r\nMessage-ID: <plans@x>\r\n\r\nFriday?\r\n",
        domain(&list),
        domain(&me),
        domain(&carl),
        date(1)
    );
    let mut other = OtherClient::login(&me).await;
    other.append("INBOX", original.as_bytes(), None).await;
    other.logout().await;
    let t = engine_with_account(&me, &[]).await;
    t.engine.sync(None).await.unwrap();
    let id = t.engine.messages(None, Some("INBOX"), 1, 0).unwrap()[0].id;

    // Reply-To wins over From; reply-all adds Cc but never the user.
    let reply = t
        .engine
        .compose_preview(ComposeMode::Reply { original: id })
        .await
        .unwrap();
    assert_eq!(addresses(&reply.to), vec![domain(&list)]);
    assert!(reply.cc.is_empty());
    assert_eq!(reply.subject, "Re: Plans");
    assert!(reply.quoted.contains("> Friday?"), "{}", reply.quoted);
    let all = t
        .engine
        .compose_preview(ComposeMode::ReplyAll { original: id })
        .await
        .unwrap();
    assert_eq!(addresses(&all.cc), vec![domain(&carl)]);
    let forward = t
        .engine
        .compose_preview(ComposeMode::Forward { original: id })
        .await
        .unwrap();
    assert_eq!(forward.subject, "Fwd: Plans");
    assert!(forward.to.is_empty());

    // The user replaced the list with Dave: the reply goes to Dave alone.
    let outbox_id = t
        .engine
        .compose(
            ComposeMode::Reply { original: id },
            Draft {
                account: "main".into(),
                to: to(&domain(&dave)),
                body: "Count me in.".into(),
                ..Draft::default()
            },
        )
        .await
        .unwrap();
    let message_id = t
        .engine
        .outbox(None)
        .unwrap()
        .into_iter()
        .find(|m| m.id == outbox_id)
        .unwrap()
        .message_id;
    assert_eq!(t.engine.send_outbox(None).await.unwrap().sent, 1);
    let mut dave_client = OtherClient::login(&dave).await;
    let got = dave_client.find("INBOX", &message_id).await;
    assert_eq!(got.len(), 1, "Dave got the reply");
    let raw = String::from_utf8_lossy(&got[0].1).into_owned();
    assert!(raw.contains("Subject: Re: Plans"), "{raw}");
    assert!(raw.contains("In-Reply-To: <plans@x>"), "{raw}");
    assert!(raw.contains("> Friday?"), "{raw}");
    dave_client.logout().await;
    let mut list_client = OtherClient::login(&list).await;
    assert!(list_client.find("INBOX", &message_id).await.is_empty());
    list_client.logout().await;

    // Every recipient removed: nothing is queued, and the advice says what to do.
    let err = t
        .engine
        .compose(
            ComposeMode::ReplyAll { original: id },
            Draft {
                account: "main".into(),
                ..Draft::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.advice().id, "no_recipient");
    assert!(t.engine.outbox(None).unwrap().is_empty());
}

#[tokio::test]
async fn sync_now_reports_the_outbox_the_changes_and_the_pull_of_each_account() {
    let s = server();
    let user = s.new_user("syncnow");
    let bob = s.new_user("bob");
    let proxy = Proxy::start(s.smtps_port).await;
    let t = engine(&[]);
    let mut config = s.imap_config("main", &user, Security::Tls);
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
    t.engine
        .send(Draft {
            account: "main".into(),
            to: to(&format!("{bob}@example.test")),
            subject: "On the train".into(),
            ..Draft::default()
        })
        .await
        .unwrap();
    t.engine.create_folder("main", "Kvitteringer").unwrap();
    let report = t.engine.sync_now(None).await.unwrap();
    let main = &report.accounts[0];
    assert_eq!(main.account, "main");
    assert!(main.pulled.is_some(), "the pull does not wait for SMTP");
    assert_eq!((main.sent, main.still_in_outbox), (0, 1), "{main:?}");
    assert_eq!(main.pushed, 1, "the folder was created on the server");
    let problem = main.problem.as_ref().expect("the outbox waits");
    assert_eq!(problem.advice.id, "outbox_waiting");
    assert!(report.first_pull_error().is_none());

    // Back online, "sync now" goes past the outbox's backoff at once.
    proxy.come_up();
    let report = t.engine.sync_now(Some("main".into())).await.unwrap();
    let main = &report.accounts[0];
    assert_eq!((main.sent, main.still_in_outbox), (1, 0), "{main:?}");
    assert_eq!(main.problem, None);
}

fn html_message(subject: &str, from: &str, message_id: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: someone@example.test\r\nSubject: {subject}\r\nDate: {}\r\n\
         Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         <p>Hei!</p><script>alert(1)</script><img src=\"https://tracker.example/p.gif\">\r\n",
        date(1)
    )
    .into_bytes()
}

#[tokio::test]
async fn reading_sanitizes_blocks_remote_content_until_allowed_and_marks_read_as_set() {
    let s = server();
    let user = s.new_user("reader");
    let mut other = OtherClient::login(&user).await;
    let shop = "Butikken <news@shop.example>";
    other
        .append("INBOX", &html_message("Tilbud", shop, "offer1@shop"), None)
        .await;
    other
        .append(
            "INBOX",
            &html_message("Nytt tilbud", shop, "offer2@shop"),
            None,
        )
        .await;
    other
        .append(
            "INBOX",
            &html_message("Ukjent", "x@other.example", "other@x"),
            None,
        )
        .await;
    let t = engine_with_account(&user, &[]).await;
    t.engine.sync(None).await.unwrap();
    let id = |message_id: &str| {
        t.engine
            .messages(None, Some("INBOX"), 10, 0)
            .unwrap()
            .into_iter()
            .find(|m| m.message_id == message_id)
            .unwrap()
            .id
    };
    let (first, second, unknown) = (id("offer1@shop"), id("offer2@shop"), id("other@x"));

    let reading = t
        .engine
        .open_for_reading(first, ReadingOptions::default())
        .await
        .unwrap();
    let html = reading.message.html.clone().unwrap();
    assert!(html.contains("Hei!"), "{html}");
    assert!(
        !html.contains("<script") && !html.contains("tracker.example"),
        "{html}"
    );
    assert_eq!((reading.blocked_remote, reading.remote_shown), (1, false));
    assert!(reading.marked_read && reading.message.summary.flags.seen);
    assert_eq!(reading.problem, None);
    t.engine.push_changes(None).await.unwrap();
    let flags = other.find("INBOX", "offer1@shop").await[0].0.clone();
    assert!(flags.contains(&"Seen".to_owned()), "{flags:?}");

    // This once, then for the sender: the sender's other mail shows it too, no one else's.
    let once = ReadingOptions {
        allow_remote_once: true,
        ..ReadingOptions::default()
    };
    let shown = t.engine.open_for_reading(first, once).await.unwrap();
    assert!(shown
        .message
        .html
        .unwrap()
        .contains("https://tracker.example/p.gif"));
    let again = t
        .engine
        .open_for_reading(first, ReadingOptions::default())
        .await
        .unwrap();
    assert_eq!(again.blocked_remote, 1, "once means once");
    t.engine
        .allow_remote_content(first, RemoteContentScope::Sender, true)
        .unwrap();
    t.engine.set_mark_read_on_open(false).unwrap();
    let same_sender = t
        .engine
        .open_for_reading(second, ReadingOptions::default())
        .await
        .unwrap();
    assert!(same_sender.remote_shown && same_sender.blocked_remote == 0);
    assert!(!same_sender.marked_read && !same_sender.message.summary.flags.seen);
    let stranger = t
        .engine
        .open_for_reading(unknown, ReadingOptions::default())
        .await
        .unwrap();
    assert_eq!((stranger.remote_shown, stranger.blocked_remote), (false, 1));
    t.engine
        .allow_remote_content(first, RemoteContentScope::Sender, false)
        .unwrap();
    let withdrawn = t
        .engine
        .open_for_reading(second, ReadingOptions::default())
        .await
        .unwrap();
    assert!(!withdrawn.remote_shown);
    other.logout().await;
}

#[tokio::test]
async fn a_change_that_has_not_reached_the_server_can_be_undone_with_what_depends_on_it() {
    let s = server();
    let user = s.new_user("undo");
    let mut other = OtherClient::login(&user).await;
    let raw = message(
        "Kvittering",
        "shop@example.test",
        &date(1),
        "receipt@x",
        "42 kr",
    );
    other.append("INBOX", &raw, None).await;
    let t = engine_with_account(&user, &[]).await;
    t.engine.sync(None).await.unwrap();
    let id = t.engine.messages(None, Some("INBOX"), 1, 0).unwrap()[0].id;

    t.engine.mark(&[id], FlagChange::Read).unwrap();
    t.engine.create_folder("main", "Kvitteringer").unwrap();
    t.engine.move_messages(&[id], "Kvitteringer").unwrap();
    let queued = t.engine.changes(None).unwrap();
    assert_eq!(queued.len(), 3, "{queued:?}");
    let created = queued
        .iter()
        .find(|c| c.kind == ChangeKind::CreateFolder)
        .unwrap()
        .id;

    // Undoing the new folder undoes the move into it; the read mark stays queued.
    let undone = t.engine.cancel_change(created).await.unwrap();
    assert_eq!(undone.len(), 2, "{undone:?}");
    let left = t.engine.changes(None).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].kind, ChangeKind::Flags);
    let here = t.engine.message(id).unwrap().summary;
    assert_eq!(here.folder, "INBOX");
    assert!(here.flags.seen);
    let names: Vec<String> = t
        .engine
        .folders(None)
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert!(!names.contains(&"Kvitteringer".to_owned()), "{names:?}");
    let err = t.engine.cancel_change(created).await.unwrap_err();
    assert_eq!(err.kind, brevdue_core::ErrorKind::NotFound);

    // The server gets only what is left: the read mark, no folder, no move.
    let pushed = t.engine.push_changes(None).await.unwrap();
    assert_eq!((pushed.applied, pushed.pending), (1, 0), "{pushed:?}");
    let found = other.find("INBOX", "receipt@x").await;
    assert_eq!(found.len(), 1, "still in the server's Inbox");
    assert!(found[0].0.contains(&"Seen".to_owned()));
    let listed = raw_imap(&user, &["LIST \"\" \"*\""]);
    assert!(
        !listed.concat().iter().any(|l| l.contains("Kvitteringer")),
        "{listed:?}"
    );
    other.logout().await;
}

/// A front end's copy of a live list, kept only from the diffs it is sent.
struct Mirror<T> {
    rows: std::sync::Mutex<Vec<T>>,
    batches: std::sync::Mutex<Vec<Vec<Diff<T>>>>,
}

impl<T> Default for Mirror<T> {
    fn default() -> Self {
        Self {
            rows: Default::default(),
            batches: Default::default(),
        }
    }
}

impl<T: Clone + Send + Sync> ListListener<T> for Mirror<T> {
    fn on_diffs(&self, diffs: Vec<Diff<T>>) {
        let mut rows = self.rows.lock().unwrap();
        for d in &diffs {
            match d {
                Diff::Reset(all) => *rows = all.clone(),
                Diff::Insert(i, row) => rows.insert(*i, row.clone()),
                Diff::Set(i, row) => rows[*i] = row.clone(),
                Diff::Remove(i) => {
                    rows.remove(*i);
                }
            }
        }
        self.batches.lock().unwrap().push(diffs);
    }
    fn on_error(&self, error: brevdue_core::Error) {
        panic!("the list failed: {error}");
    }
}

impl<T: Clone> Mirror<T> {
    fn rows(&self) -> Vec<T> {
        self.rows.lock().unwrap().clone()
    }
    fn resets(&self) -> usize {
        self.batches
            .lock()
            .unwrap()
            .iter()
            .flatten()
            .filter(|d| matches!(d, Diff::Reset(_)))
            .count()
    }
}

#[derive(Default)]
struct StatusLog(std::sync::Mutex<Vec<SyncStatus>>);

impl StatusListener for StatusLog {
    fn on_status(&self, status: SyncStatus) {
        self.0.lock().unwrap().push(status);
    }
}

#[tokio::test]
async fn lists_and_the_sync_status_arrive_whole_then_as_changes() {
    let s = server();
    let user = s.new_user("live");
    let mut other = OtherClient::login(&user).await;
    for n in 1..=3 {
        let raw = message(
            &format!("Note {n}"),
            "a@example.test",
            &date(n),
            &format!("live{n}@x"),
            "",
        );
        other.append("INBOX", &raw, None).await;
    }
    let t = engine_with_account(&user, &[]).await;
    let status = Arc::new(StatusLog::default());
    let _status = t.engine.watch_status(status.clone()).unwrap();
    t.engine.sync(None).await.unwrap();
    let inbox = || t.engine.messages(None, Some("INBOX"), 10, 0).unwrap();
    let messages = Arc::new(Mirror::<MessageSummary>::default());
    let list = t
        .engine
        .watch_messages(
            MessageQuery {
                account: None,
                folder: Some("INBOX".into()),
                limit: 10,
            },
            messages.clone(),
        )
        .unwrap();
    let folders = Arc::new(Mirror::<Folder>::default());
    let _folders = t.engine.watch_folders(None, folders.clone()).unwrap();
    assert!(wait_until(10, || messages.rows() == inbox()).await);
    assert!(wait_until(10, || folders.rows() == t.engine.folders(None).unwrap()).await);
    assert_eq!(messages.rows().len(), 3);

    // New mail, a read mark, a move away, a new folder: each arrives as a change.
    let raw = message("Note 4", "a@example.test", &date(4), "live4@x", "");
    other.append("INBOX", &raw, None).await;
    t.engine.sync(None).await.unwrap();
    assert!(wait_until(10, || messages.rows() == inbox()).await);
    assert_eq!(messages.rows()[0].subject, "Note 4");
    let newest = messages.rows()[0].id;
    t.engine.mark(&[newest], FlagChange::Read).unwrap();
    assert!(wait_until(10, || messages.rows().first().is_some_and(|m| m.flags.seen)).await);
    assert!(
        wait_until(10, || folders.rows() == t.engine.folders(None).unwrap()).await,
        "the unread count follows"
    );
    t.engine.create_folder("main", "Arkiv").unwrap();
    assert!(wait_until(10, || folders.rows().iter().any(|f| f.name == "Arkiv")).await);
    t.engine.move_messages(&[newest], "Arkiv").unwrap();
    assert!(wait_until(10, || messages.rows() == inbox()).await);
    assert_eq!(messages.rows().len(), 3);
    list.set_limit(1);
    assert!(wait_until(10, || messages.rows().len() == 1).await);
    assert_eq!(
        messages.rows(),
        t.engine.messages(None, Some("INBOX"), 1, 0).unwrap()
    );
    assert_eq!(messages.resets(), 1, "one whole list, then only changes");
    assert_eq!(folders.resets(), 1);

    // The status bar: synced, nothing waiting once the queue is replayed.
    t.engine.push_changes(None).await.unwrap();
    let settled = |s: &SyncStatus| {
        s.accounts.len() == 1
            && s.accounts[0].last_synced.is_some()
            && !s.accounts[0].syncing
            && s.accounts[0].changes_waiting == 0
            && s.accounts[0].problem.is_none()
    };
    assert!(wait_until(10, || status.0.lock().unwrap().last().is_some_and(settled)).await);
    assert!(settled(&t.engine.sync_status()));
    let first = status.0.lock().unwrap()[0].clone();
    assert_eq!(first.accounts[0].account, "main");
    other.logout().await;
}

#[tokio::test]
async fn a_reply_drafted_on_the_phone_is_finished_and_sent_on_the_pc() {
    let s = server();
    let me = s.new_user("drafter");
    let bob = s.new_user("bob");
    let carl = s.new_user("carl");
    let at = |u: &str| format!("{u}@example.test");
    let original = message(
        "Lunsj?",
        &format!("Bob <{}>", at(&bob)),
        &date(1),
        "lunch@x",
        "Fredag?",
    );
    let mut other = OtherClient::login(&me).await;
    other.append("INBOX", &original, None).await;
    let phone = engine_with_account(&me, &[]).await;
    let pc = engine_with_account(&me, &[]).await;
    phone.engine.sync(None).await.unwrap();
    let on_phone = phone.engine.messages(None, Some("INBOX"), 1, 0).unwrap()[0].id;

    // The phone starts a reply, with a Bcc and a file, and saves it twice.
    let mut draft = Draft {
        account: "main".into(),
        to: to(&at(&bob)),
        bcc: to(&at(&carl)),
        subject: "Re: Lunsj?".into(),
        body: "Gjerne, men".into(),
        attachments: vec![brevdue_core::AttachmentFile {
            name: "kart.txt".into(),
            mime_type: "text/plain".into(),
            data: b"Storgata 1".to_vec(),
        }],
        ..Draft::default()
    };
    let mode = ComposeMode::Reply { original: on_phone };
    let first = phone
        .engine
        .save_draft(mode, draft.clone(), None)
        .await
        .unwrap();
    draft.body = "Gjerne, men kl. 12.".into();
    let saved = phone
        .engine
        .save_draft(mode, draft.clone(), Some(first))
        .await
        .unwrap();
    phone.engine.push_changes(None).await.unwrap();
    assert_eq!(
        other.message_ids("Drafts").await.len(),
        1,
        "replaced, not duplicated"
    );

    // The PC reopens it with everything it had and as the reply it is.
    pc.engine.sync(None).await.unwrap();
    let drafts = pc
        .engine
        .messages(Some("main"), Some("Drafts"), 10, 0)
        .unwrap();
    assert_eq!(drafts.len(), 1);
    let reopened = pc.engine.open_draft(drafts[0].id).await.unwrap();
    let on_pc = pc.engine.messages(None, Some("INBOX"), 1, 0).unwrap()[0].id;
    assert_eq!(reopened.mode, ComposeMode::Reply { original: on_pc });
    assert_eq!(addresses(&reopened.draft.to), vec![at(&bob)]);
    assert_eq!(addresses(&reopened.draft.bcc), vec![at(&carl)]);
    assert_eq!(reopened.draft.subject, "Re: Lunsj?");
    assert_eq!(reopened.draft.body.trim(), "Gjerne, men kl. 12.");
    assert_eq!(reopened.draft.attachments.len(), 1);
    assert_eq!(reopened.draft.attachments[0].data, b"Storgata 1");
    assert_ne!(saved, 0);

    // Finished and sent there: threaded, quoted, with the Bcc, and gone from Drafts.
    let mut finished = reopened.draft.clone();
    finished.body.push_str(" Ses!");
    let outbox_id = pc
        .engine
        .send_draft(reopened.id, reopened.mode, finished)
        .await
        .unwrap();
    let sent_id = pc
        .engine
        .outbox(None)
        .unwrap()
        .into_iter()
        .find(|m| m.id == outbox_id)
        .unwrap()
        .message_id;
    assert_eq!(pc.engine.send_outbox(None).await.unwrap().sent, 1);
    pc.engine.push_changes(None).await.unwrap();
    let mut bob_client = OtherClient::login(&bob).await;
    let got = bob_client.find("INBOX", &sent_id).await;
    assert_eq!(got.len(), 1);
    let raw = String::from_utf8_lossy(&got[0].1).into_owned();
    assert!(raw.contains("In-Reply-To: <lunch@x>"), "{raw}");
    assert!(raw.contains("Ses!") && raw.contains("> Fredag?"), "{raw}");
    assert!(
        !raw.contains("X-Brevdue-Mode") && !raw.contains("Bcc:"),
        "{raw}"
    );
    bob_client.logout().await;
    let mut carl_client = OtherClient::login(&carl).await;
    assert_eq!(carl_client.find("INBOX", &sent_id).await.len(), 1);
    carl_client.logout().await;
    assert!(
        other.message_ids("Drafts").await.is_empty(),
        "no draft left"
    );
    phone.engine.sync(None).await.unwrap();
    assert!(phone
        .engine
        .messages(Some("main"), Some("Drafts"), 10, 0)
        .unwrap()
        .is_empty());

    // A draft thrown away goes here and there.
    let doomed = pc
        .engine
        .save_draft(
            ComposeMode::New,
            Draft {
                account: "main".into(),
                body: "Nei.".into(),
                ..Draft::default()
            },
            None,
        )
        .await
        .unwrap();
    pc.engine.push_changes(None).await.unwrap();
    assert_eq!(other.message_ids("Drafts").await.len(), 1);
    pc.engine.discard_draft(doomed).unwrap();
    pc.engine.push_changes(None).await.unwrap();
    assert!(other.message_ids("Drafts").await.is_empty());
    other.logout().await;
}

#[tokio::test]
async fn attachments_open_from_the_private_cache_and_save_where_the_user_chose() {
    let s = server();
    let user = s.new_user("attach");
    let raw = format!(
        "From: a@example.test\r\nTo: b@example.test\r\nSubject: Vedlegg\r\nDate: {}\r\n\
         Message-ID: <att@x>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nSe vedlegg.\r\n\
         --b\r\nContent-Type: text/plain; name=\"../../evil.txt\"\r\n\
         Content-Disposition: attachment; filename=\"../../evil.txt\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nSGVpIGhlaQ==\r\n--b--\r\n",
        date(1)
    );
    let mut other = OtherClient::login(&user).await;
    other.append("INBOX", raw.as_bytes(), None).await;
    other.logout().await;
    let t = engine_with_account(&user, &[]).await;
    t.engine.set_body_prefetch(Some(0)).unwrap();
    t.engine.sync(None).await.unwrap();
    let id = t.engine.messages(None, Some("INBOX"), 1, 0).unwrap()[0].id;

    // Not downloaded yet: opening the attachment fetches the message first.
    let opened = std::path::PathBuf::from(t.engine.open_attachment(id, 0).await.unwrap());
    assert!(
        opened.starts_with(t.dir.path().join("attachments")),
        "{opened:?}"
    );
    assert_eq!(opened.file_name().unwrap(), "evil.txt");
    assert_eq!(std::fs::read(&opened).unwrap(), b"Hei hei");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&opened).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o077,
        0,
        "only the owner reads cached mail: {mode:o}"
    );

    let chosen = tempfile::tempdir().unwrap();
    let target = chosen.path().join("lagret.txt");
    t.engine
        .save_attachment(id, 0, target.clone())
        .await
        .unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"Hei hei");
    let bytes = t.engine.attachment(id, 0).await.unwrap();
    assert_eq!(
        (bytes.name.as_str(), bytes.data.as_slice()),
        ("../../evil.txt", &b"Hei hei"[..])
    );
    let err = t.engine.attachment(id, 1).await.unwrap_err();
    assert_eq!(err.kind, brevdue_core::ErrorKind::NotFound);
}
