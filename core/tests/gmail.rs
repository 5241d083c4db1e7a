//! Gmail's labels: one message shown in several folders (its labels, and All Mail) is one
//! message here, in the lists that are not of one folder, in conversations and in search.
//! The server is the scripted mailbox (`common::mailbox`) announcing X-GM-EXT-1, which
//! serves X-GM-MSGID as Gmail does: one id for every folder's copy of a message.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use brevdue_core::{AccountConfig, Engine, FlagChange, FolderRole, MessageSummary, Security};
use common::mailbox::{Content, ScriptedMailbox};
use common::*;

const ALL_MAIL: &str = "[Gmail]/All Mail";

fn mail(subject: &str, message_id: &str, n: u32, references: &str) -> Content {
    let mut raw = message(
        subject,
        "Anna <anna@example.test>",
        &date(n),
        message_id,
        &format!("the {subject} text\r\n"),
    );
    if !references.is_empty() {
        let header = format!("References: <{references}>\r\nIn-Reply-To: <{references}>\r\n");
        raw.splice(0..0, header.into_bytes());
    }
    Content::bytes(raw)
}

/// A mailbox as Gmail shows it: `a` in INBOX, Work and All Mail, its reply `b` in INBOX
/// and All Mail, `c` archived (All Mail only).
async fn gmail_like(caps: &str) -> (ScriptedMailbox, TestEngine) {
    let mailbox = ScriptedMailbox::start(caps).await;
    mailbox.create("Work");
    mailbox.create(ALL_MAIL);
    for (folder, seen) in [("INBOX", &[][..]), ("Work", &[]), (ALL_MAIL, &[])] {
        mailbox.add(folder, mail("Budget", "a@gmail.test", 1, ""), seen);
    }
    for folder in ["INBOX", ALL_MAIL] {
        mailbox.add(
            folder,
            mail("Re: Budget", "b@gmail.test", 2, "a@gmail.test"),
            &[],
        );
    }
    mailbox.add(
        ALL_MAIL,
        mail("Receipt", "c@gmail.test", 3, ""),
        &["\\Seen"],
    );
    let t = engine(&[]);
    let config = AccountConfig {
        name: "gmail".to_owned(),
        ..scripted_config(mailbox.port(), Security::Plain)
    };
    t.engine
        .add_account(config, PASSWORD.to_owned())
        .await
        .expect("add account");
    sync(&t.engine).await;
    (mailbox, t)
}

async fn sync(engine: &Engine) {
    tokio::time::timeout(Duration::from_secs(60), engine.sync(None))
        .await
        .expect("sync within 60 s")
        .expect("sync");
}

fn listed(engine: &Engine, folder: Option<&str>) -> Vec<(String, String)> {
    let list = engine.messages(Some("gmail"), folder, 100, 0).unwrap();
    list.iter()
        .map(|m| (m.message_id.clone(), m.folder.clone()))
        .collect()
}

fn by_message_id<'a>(list: &'a [MessageSummary], message_id: &str) -> &'a MessageSummary {
    list.iter()
        .find(|m| m.message_id == message_id)
        .unwrap_or_else(|| panic!("{message_id} is not listed"))
}

#[tokio::test]
async fn a_message_in_several_labels_is_one_message() {
    let (mailbox, t) = gmail_like("IMAP4rev1 X-GM-EXT-1").await;
    let asked = mailbox
        .imap
        .requests()
        .iter()
        .any(|r| r.verb() == "UID FETCH" && r.command.contains("X-GM-MSGID"));
    assert!(asked, "the header fetch asks for X-GM-MSGID");

    // Each folder lists its own view, with the same message in each.
    let inbox = t
        .engine
        .messages(Some("gmail"), Some("INBOX"), 100, 0)
        .unwrap();
    let work = t
        .engine
        .messages(Some("gmail"), Some("Work"), 100, 0)
        .unwrap();
    let all = t
        .engine
        .messages(Some("gmail"), Some(ALL_MAIL), 100, 0)
        .unwrap();
    assert_eq!((inbox.len(), work.len(), all.len()), (2, 1, 3));
    let a = by_message_id(&inbox, "a@gmail.test").id;
    assert_eq!(by_message_id(&work, "a@gmail.test").id, a);
    assert_eq!(by_message_id(&all, "a@gmail.test").id, a);
    assert_eq!(
        by_message_id(&all, "b@gmail.test").id,
        by_message_id(&inbox, "b@gmail.test").id
    );

    // The account's list: each message once, shown in a label rather than in All Mail.
    let mut everything = listed(&t.engine, None);
    everything.sort();
    assert_eq!(
        everything,
        [
            ("a@gmail.test".to_owned(), "INBOX".to_owned()),
            ("b@gmail.test".to_owned(), "INBOX".to_owned()),
            ("c@gmail.test".to_owned(), ALL_MAIL.to_owned()),
        ]
    );
    let summary = t.engine.message(a).unwrap().summary;
    assert_eq!(summary.folder, "INBOX", "a message opens in a label");

    // Search and conversations count it once.
    let hits = t.engine.search("budget", None, 50).unwrap();
    let ids: HashSet<i64> = hits.iter().map(|m| m.id).collect();
    assert_eq!(
        (hits.len(), ids.len()),
        (2, 2),
        "a and its reply, once each"
    );
    assert_eq!(
        t.engine.search("receipt", Some("gmail"), 50).unwrap().len(),
        1
    );
    let conversation = t.engine.thread_messages(summary.thread_id).unwrap();
    let ids: Vec<&str> = conversation.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids, ["a@gmail.test", "b@gmail.test"]);
    let threads = t.engine.threads("gmail", "INBOX", 50).unwrap();
    assert_eq!(threads.len(), 1);
    assert_eq!((threads[0].count, threads[0].unread), (2, 2));

    // Folder counters are per folder; flags are the message's, in every folder.
    let unread = |role: Option<FolderRole>, name: &str| {
        let folders = t.engine.folders(Some("gmail")).unwrap();
        let f = folders
            .iter()
            .find(|f| f.name == name || (role.is_some() && f.role == role))
            .unwrap_or_else(|| panic!("no folder {name}"));
        (f.total, f.unread)
    };
    assert_eq!(unread(Some(FolderRole::Inbox), "INBOX"), (2, 2));
    assert_eq!(unread(None, "Work"), (1, 1));
    assert_eq!(unread(Some(FolderRole::All), ALL_MAIL), (3, 2));
    t.engine.mark(&[a], FlagChange::Read).unwrap();
    assert_eq!(unread(Some(FolderRole::Inbox), "INBOX"), (2, 1));
    assert_eq!(unread(None, "Work"), (1, 0));
    assert_eq!(unread(Some(FolderRole::All), ALL_MAIL), (3, 1));

    // Archived on the web (the INBOX label taken off): the message stays, in Work and All
    // Mail, with the same id.
    let inbox_uid = mailbox
        .messages("INBOX")
        .iter()
        .find(|m| m.message_id == "a@gmail.test")
        .unwrap()
        .uid;
    mailbox.remove("INBOX", inbox_uid);
    sync(&t.engine).await;
    let inbox = listed(&t.engine, Some("INBOX"));
    assert_eq!(inbox, [("b@gmail.test".to_owned(), "INBOX".to_owned())]);
    let work = t
        .engine
        .messages(Some("gmail"), Some("Work"), 100, 0)
        .unwrap();
    assert_eq!(by_message_id(&work, "a@gmail.test").id, a);
    assert_eq!(t.engine.message(a).unwrap().summary.folder, "Work");
    assert_eq!(listed(&t.engine, None).len(), 3);
}

#[tokio::test]
async fn without_gmail_extensions_copies_stay_apart() {
    // Another server's copies are copies (each can be changed or deleted on its own).
    let (mailbox, t) = gmail_like("IMAP4rev1").await;
    let asked = mailbox
        .imap
        .requests()
        .iter()
        .any(|r| r.command.contains("X-GM-MSGID"));
    assert!(
        !asked,
        "X-GM-MSGID is asked only of a server that offers it"
    );
    let everything = listed(&t.engine, None);
    assert_eq!(everything.len(), 6, "{everything:?}");
    let ids: HashSet<i64> = t
        .engine
        .messages(Some("gmail"), None, 100, 0)
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids.len(), 6);
}
