//! Pull sync against the private Dovecot: initial sync, bodies and charsets, changes made
//! by another client under each sync tier, UIDVALIDITY resets, and events.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use brevdue_core::{Event, EventListener, MessageSummary};
use common::*;

async fn fill(user: &str) -> Vec<(String, String, u32)> {
    // (folder, message-id, minute) for 510 messages in three folders.
    let mut other = OtherClient::login(user).await;
    other.create("Work/Projects").await;
    let mut made = Vec::new();
    for i in 0..510u32 {
        let folder = match i % 10 {
            0..=5 => "INBOX",
            6..=8 => "Archive",
            _ => "Work/Projects",
        };
        let id = format!("m{i}@test");
        let flags = match i % 7 {
            0 => Some("(\\Seen)"),
            1 => Some("(\\Seen \\Flagged)"),
            2 => Some("(\\Answered \\Seen)"),
            _ => None,
        };
        let raw = message(
            &format!("Subject number {i}"),
            &format!("Sender {i} <sender{i}@example.test>"),
            &date(i * 7 % 1000 + i), // dates not in UID order
            &id,
            &format!("Body of message {i}"),
        );
        other.append(folder, &raw, flags).await;
        made.push((folder.to_owned(), id, i * 7 % 1000 + i));
    }
    other.logout().await;
    made
}

#[tokio::test]
async fn initial_sync_of_510_messages_in_three_folders() {
    let user = server().new_user("init");
    let made = fill(&user).await;
    let t = engine_with_account(&user, &[]).await;
    let reports = t.engine.sync(None).await.unwrap();
    assert_eq!(reports[0].1.new_messages, 510);

    let folders = t.engine.folders(Some("main")).unwrap();
    let count = |name: &str| {
        folders
            .iter()
            .find(|f| f.name == name)
            .map(|f| (f.total, f.unread))
    };
    assert_eq!(count("INBOX").unwrap().0, 306);
    assert_eq!(count("Archive").unwrap().0, 153);
    assert_eq!(count("Work/Projects").unwrap().0, 51);
    let work = folders.iter().find(|f| f.name == "Work/Projects").unwrap();
    assert_eq!(work.parent.as_deref(), Some("Work"));
    let roles: HashSet<&str> = folders
        .iter()
        .filter_map(|f| f.role.map(|r| r.as_str()))
        .collect();
    for role in ["inbox", "sent", "drafts", "trash", "junk", "archive"] {
        assert!(roles.contains(role), "missing role {role}");
    }
    let expected_unread = made
        .iter()
        .enumerate()
        .filter(|(i, (f, _, _))| f == "INBOX" && !matches!(*i as u32 % 7, 0..=2))
        .count() as u32;
    assert_eq!(count("INBOX").unwrap().1, expected_unread);

    // Newest first, with the right subjects, senders, dates and flags.
    let list = t
        .engine
        .messages(Some("main"), Some("INBOX"), 1000, 0)
        .unwrap();
    assert_eq!(list.len(), 306);
    let mut expected: Vec<(u32, usize)> = made
        .iter()
        .enumerate()
        .filter(|(_, (f, _, _))| f == "INBOX")
        .map(|(i, (_, _, minute))| (*minute, i))
        .collect();
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    for (row, (minute, i)) in list.iter().zip(&expected) {
        assert_eq!(row.date, timestamp(*minute), "date of {}", row.subject);
        if expected.iter().filter(|(m, _)| m == minute).count() == 1 {
            assert_eq!(row.subject, format!("Subject number {i}"));
            assert_eq!(row.from.address, format!("sender{i}@example.test"));
            assert_eq!(
                row.from.name.as_deref(),
                Some(format!("Sender {i}").as_str())
            );
            let i = *i as u32;
            assert_eq!(row.flags.seen, i % 7 <= 2, "seen of {i}");
            assert_eq!(row.flags.flagged, i % 7 == 1, "flagged of {i}");
            assert_eq!(row.flags.answered, i % 7 == 2, "answered of {i}");
        }
    }
    // Paging continues where the first page stopped.
    let page2 = t
        .engine
        .messages(Some("main"), Some("INBOX"), 10, 10)
        .unwrap();
    assert_eq!(page2[0].id, list[10].id);

    // A second pass finds nothing new.
    let again = t.engine.sync(None).await.unwrap();
    assert_eq!(again[0].1.new_messages, 0);
    assert_eq!(again[0].1.changed_messages, 0);
    assert_eq!(t.engine.messages(None, None, 10_000, 0).unwrap().len(), 510);
}

#[tokio::test]
async fn bodies_charsets_and_attachments() {
    if !harness_has(
        "keeps-8bit-headers",
        "the whole test (one message has raw UTF-8 headers)",
    ) {
        return;
    }
    let user = server().new_user("mime");
    let mut other = OtherClient::login(&user).await;
    let latin1: Vec<u8> = [
        &b"From: =?ISO-8859-1?Q?Bj=F6rn_=C5str=F6m?= <bjorn@example.test>\r\nTo: a@example.test\r\n"[..],
        b"Subject: =?ISO-8859-1?Q?R=E4ksm=F6rg=E5s?=\r\nDate: Mon, 2 Mar 2026 09:00:00 +0100\r\n",
        b"Message-ID: <latin1@test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n",
        b"Content-Transfer-Encoding: 8bit\r\n\r\nH\xe4lsningar fr\xe5n G\xf6teborg\r\n",
    ]
    .concat();
    let utf8 = "From: Zoë <zoe@example.test>\r\nTo: \"Jürgen\" <j@example.test>, b@example.test\r\nCc: c@example.test\r\n\
Subject: Grüße 日本語 😀\r\nDate: Tue, 3 Mar 2026 09:00:00 +0000\r\nMessage-ID: <utf8@test>\r\n\
In-Reply-To: <latin1@test>\r\nReferences: <latin1@test>\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n\
--XX\r\nContent-Type: multipart/alternative; boundary=\"YY\"\r\n\r\n\
--YY\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHallo Jürgen, 日本語\r\n\
--YY\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hallo <b>Jürgen</b></p>\r\n--YY--\r\n\
--XX\r\nContent-Type: application/pdf; name=\"=?UTF-8?Q?Rechnung_M=C3=A4rz.pdf?=\"\r\n\
Content-Disposition: attachment; filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n\
JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDw+PgplbmRvYmoKdHJhaWxlcgo8PD4+CiUlRU9GCg==\r\n\
--XX\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"dot.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
iVBORw0KGgo=\r\n--XX--\r\n";
    other.append("INBOX", &latin1, None).await;
    other.append("INBOX", utf8.as_bytes(), None).await;
    other.logout().await;

    let t = engine_with_account(&user, &[]).await;
    t.engine.set_body_prefetch(Some(0)).unwrap();
    t.engine.sync(None).await.unwrap();
    let list = t.engine.messages(None, Some("INBOX"), 10, 0).unwrap();
    assert!(
        list.iter().all(|m| !m.has_body),
        "prefetch 0 downloaded bodies"
    );
    let by_id = |id: &str| list.iter().find(|m| m.message_id == id).unwrap().clone();

    let l = by_id("latin1@test");
    assert_eq!(l.subject, "Räksmörgås");
    assert_eq!(l.from.name.as_deref(), Some("Björn Åström"));
    let opened = t.engine.open_message(l.id).await.unwrap();
    assert_eq!(
        opened.text.as_deref().map(str::trim),
        Some("Hälsningar från Göteborg")
    );
    assert!(
        !opened.summary.flags.seen,
        "opening must not set \\Seen on the server"
    );

    let u = by_id("utf8@test");
    assert_eq!(u.subject, "Grüße 日本語 😀");
    assert!(u.has_attachments);
    let opened = t.engine.open_message(u.id).await.unwrap();
    assert_eq!(
        opened.text.as_deref().map(str::trim),
        Some("Hallo Jürgen, 日本語")
    );
    assert!(opened.html.unwrap().contains("<b>Jürgen</b>"));
    assert_eq!(opened.to.len(), 2);
    assert_eq!(opened.to[0].name.as_deref(), Some("Jürgen"));
    assert_eq!(opened.cc[0].address, "c@example.test");
    assert_eq!(opened.in_reply_to.as_deref(), Some("latin1@test"));
    assert_eq!(opened.references, ["latin1@test"]);
    let atts: Vec<(&str, &str)> = opened
        .attachments
        .iter()
        .map(|a| (a.name.as_str(), a.mime_type.as_str()))
        .collect();
    assert_eq!(
        atts,
        [
            ("Rechnung März.pdf", "application/pdf"),
            ("dot.png", "image/png")
        ]
    );
    assert_eq!(opened.attachments[0].size, 58); // decoded bytes
                                                // The reply joined the conversation of its parent.
    assert_eq!(u.thread_id, l.thread_id);

    // Bodies are searchable once downloaded; headers right away.
    let hits = t.engine.search("Göteborg", None, 10).unwrap();
    assert_eq!(hits.iter().map(|m| m.id).collect::<Vec<_>>(), [l.id]);
    let hits = t.engine.search("jurgen", None, 10).unwrap();
    assert_eq!(
        hits.iter().map(|m| m.id).collect::<Vec<_>>(),
        [u.id],
        "diacritics fold"
    );
    assert_eq!(t.engine.search("räksmörgås", None, 10).unwrap().len(), 1);

    // As you type: the last word may be the start of a word in subject, sender or
    // recipients; the words before it are whole words anywhere.
    let ids = |query: &str| -> Vec<i64> {
        let hits = t.engine.search(query, None, 10).unwrap();
        hits.iter().map(|m| m.id).collect()
    };
    assert_eq!(ids("räks"), [l.id], "start of the subject");
    assert_eq!(ids("bjo"), [l.id], "start of the sender's name");
    assert_eq!(ids("zoe@exa"), [u.id], "start of the sender's address");
    assert_eq!(ids("jü"), [u.id], "start of a recipient");
    assert_eq!(ids("göteborg rä"), [l.id], "a body word, then a start");
    assert_eq!(ids("grüße z"), [u.id]);
    assert!(ids("göteborg zo").is_empty(), "every word must match");
    assert!(
        ids("götebo").is_empty(),
        "the start of a word in a body is not looked up (the whole word is)"
    );
}

/// A message of `attachment` base64 bytes (deterministic, not repetitive).
fn large_message(message_id: &str, attachment: usize) -> Vec<u8> {
    let mut raw = format!(
        "From: a@example.test\r\nTo: b@example.test\r\nSubject: large\r\nDate: {}\r\n\
Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n\
--B\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        date(0)
    )
    .into_bytes();
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x: u32 = 1;
    for i in 0..attachment {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        raw.push(B64[(x >> 16) as usize % 64]);
        if i % 76 == 75 {
            raw.extend(b"\r\n");
        }
    }
    raw.extend(b"\r\n--B--\r\n");
    raw
}

/// Messages larger than one part (4 MiB) arrive in parts, byte for byte: one by the
/// prefetch, one when it is opened.
#[tokio::test]
async fn messages_larger_than_a_part_arrive_whole() {
    let user = server().new_user("large");
    let prefetched = large_message("pre@test", 9_000_000);
    let opened = large_message("open@test", 4 << 20);
    let mut other = OtherClient::login(&user).await;
    other.append("INBOX", &prefetched, None).await;
    other.append("INBOX", &opened, None).await;
    other.logout().await;

    let t = engine_with_account(&user, &[]).await;
    t.engine.set_download_limit(Some(8 << 20)).unwrap();
    t.engine.set_body_prefetch(None).unwrap();
    t.engine.sync(None).await.unwrap();
    let list = t.engine.messages(None, Some("INBOX"), 10, 0).unwrap();
    let by_id = |id: &str| list.iter().find(|m| m.message_id == id).unwrap().clone();
    let (pre, open) = (by_id("pre@test"), by_id("open@test"));
    assert!(
        !pre.has_body,
        "a message over the download limit was prefetched"
    );
    assert!(open.has_body);
    assert_eq!(
        t.engine.store().raw_message(open.id).unwrap().as_deref(),
        Some(&opened[..]),
        "the prefetched message differs from the server's"
    );
    let message = t.engine.open_message(pre.id).await.unwrap();
    assert_eq!(
        t.engine.store().raw_message(pre.id).unwrap().as_deref(),
        Some(&prefetched[..]),
        "the opened message differs from the server's"
    );
    assert_eq!(
        message.text.as_deref().map(str::trim),
        Some("See the attachment.")
    );
    assert_eq!(message.attachments.len(), 1);
    assert_eq!(message.attachments[0].name, "data.bin");
}

/// On a metered link (the platform says so) a sync brings headers only; what the user
/// opens is downloaded; back on an unmetered link the next pass catches up on the rest.
#[tokio::test]
async fn a_metered_link_brings_headers_only() {
    let user = server().new_user("metered");
    let mut other = OtherClient::login(&user).await;
    for i in 0..3 {
        let id = format!("m{i}@test");
        let raw = message(
            &format!("Metered {i}"),
            "a@example.test",
            &date(i),
            &id,
            "text",
        );
        other.append("INBOX", &raw, None).await;
    }
    other.logout().await;
    let t = engine_with_account(&user, &[]).await;
    let with_body = |t: &TestEngine| -> usize {
        let list = t.engine.messages(None, Some("INBOX"), 10, 0).unwrap();
        list.iter().filter(|m| m.has_body).count()
    };

    t.engine.set_metered(true);
    let reports = t.engine.sync(None).await.unwrap();
    assert_eq!((reports[0].1.new_messages, reports[0].1.bodies), (3, 0));
    assert_eq!(with_body(&t), 0, "no body ahead of time on a metered link");
    let first = t.engine.messages(None, Some("INBOX"), 1, 0).unwrap()[0].id;
    let opened = t.engine.open_message(first).await.unwrap();
    assert_eq!(opened.text.as_deref().map(str::trim), Some("text"));
    assert_eq!(with_body(&t), 1, "what the user opens is downloaded");

    t.engine.set_metered(false);
    let reports = t.engine.sync(None).await.unwrap();
    assert_eq!(
        reports[0].1.bodies, 2,
        "the rest, once the link is not metered"
    );
    assert_eq!(with_body(&t), 3);

    // Allowed on a metered link too: new mail brings its body there.
    t.engine.set_metered(true);
    t.engine.set_prefetch_when_metered(true).unwrap();
    assert!(t.engine.prefetch_when_metered().unwrap());
    let mut other = OtherClient::login(&user).await;
    let raw = message("Metered 3", "a@example.test", &date(3), "m3@test", "text");
    other.append("INBOX", &raw, None).await;
    other.logout().await;
    let reports = t.engine.sync(None).await.unwrap();
    assert_eq!((reports[0].1.new_messages, reports[0].1.bodies), (1, 1));
    assert_eq!(with_body(&t), 4);
}

/// State as the user sees it: (folder, message-id, seen, flagged).
fn view(list: &[MessageSummary]) -> Vec<(String, String, bool, bool)> {
    let mut v: Vec<_> = list
        .iter()
        .map(|m| {
            (
                m.folder.clone(),
                m.message_id.clone(),
                m.flags.seen,
                m.flags.flagged,
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn changes_by_another_client_arrive_under_every_tier() {
    // (tier, what it needs, what the engine is told to ignore)
    let tiers: [(&str, Option<&str>, &[&str]); 3] = [
        ("qresync", Some("QRESYNC"), &[]),
        ("condstore", Some("CONDSTORE"), &["QRESYNC"]),
        ("plain", None, &["CONDSTORE"]),
    ];
    for (tier, needs, disabled) in tiers {
        if needs.is_some_and(|cap| !imap_offers(cap, &format!("the {tier} tier"))) {
            continue;
        }
        let user = server().new_user(&format!("tier{tier}"));
        let mut other = OtherClient::login(&user).await;
        for i in 0..20u32 {
            let raw = message(
                &format!("m{i}"),
                "a@example.test",
                &date(i),
                &format!("{tier}{i}@t"),
                "x",
            );
            other.append("INBOX", &raw, None).await;
        }
        let t = engine_with_account(&user, disabled).await;
        t.engine.sync(None).await.unwrap();
        let before = t.engine.messages(None, None, 100, 0).unwrap();
        let id_of = |mid: &str| before.iter().find(|m| m.message_id == mid).unwrap().id;

        other.select("INBOX").await;
        let read = other.uid_of(&format!("{tier}3@t")).await;
        other.store(read, "+FLAGS (\\Seen \\Flagged)").await;
        let gone = other.uid_of(&format!("{tier}5@t")).await;
        other.expunge_uid(gone).await;
        let moved = other.uid_of(&format!("{tier}7@t")).await;
        other.move_uid(moved, "Archive").await;
        let raw = message(
            "new one",
            "b@example.test",
            &date(100),
            &format!("{tier}new@t"),
            "y",
        );
        other.append("INBOX", &raw, Some("(\\Flagged)")).await;

        let report = t.engine.sync(None).await.unwrap()[0].1;
        assert_eq!(
            report.new_messages, 2,
            "{tier}: the new mail and the moved copy"
        );
        assert_eq!(
            report.removed_messages, 2,
            "{tier}: expunged and moved away"
        );
        assert_eq!(report.changed_messages, 1, "{tier}: one flag change");

        let after = t.engine.messages(None, None, 100, 0).unwrap();
        let mut expected = view(&before);
        expected.retain(|(_, mid, _, _)| *mid != format!("{tier}5@t"));
        for row in expected.iter_mut() {
            if row.1 == format!("{tier}3@t") {
                row.2 = true;
                row.3 = true;
            }
            if row.1 == format!("{tier}7@t") {
                row.0 = "Archive".into();
            }
        }
        expected.push(("INBOX".into(), format!("{tier}new@t"), false, true));
        expected.sort();
        assert_eq!(view(&after), expected, "{tier}");
        // A message untouched elsewhere keeps its local id.
        let kept = after
            .iter()
            .find(|m| m.message_id == format!("{tier}1@t"))
            .unwrap();
        assert_eq!(kept.id, id_of(&format!("{tier}1@t")));
        other.logout().await;
    }
}

#[tokio::test]
async fn a_recreated_folder_is_rematched_without_duplicates() {
    let user = server().new_user("uidv");
    let mut other = OtherClient::login(&user).await;
    other.create("Projects").await;
    for i in 0..30u32 {
        let raw = message(
            &format!("p{i}"),
            "a@example.test",
            &date(i),
            &format!("p{i}@t"),
            "x",
        );
        other.append("Projects", &raw, None).await;
    }
    let t = engine_with_account(&user, &[]).await;
    t.engine.sync(None).await.unwrap();
    let before = t.engine.messages(None, Some("Projects"), 100, 0).unwrap();
    assert_eq!(before.len(), 30);

    // Delete and recreate: new UIDVALIDITY; 25 of the messages come back, plus 2 new.
    other.delete("Projects").await;
    other.create("Projects").await;
    for i in 5..32u32 {
        let raw = message(
            &format!("p{i}"),
            "a@example.test",
            &date(i),
            &format!("p{i}@t"),
            "x",
        );
        other.append("Projects", &raw, None).await;
    }
    other.logout().await;
    t.engine.sync(None).await.unwrap();
    let after = t.engine.messages(None, Some("Projects"), 100, 0).unwrap();
    assert_eq!(after.len(), 27);
    let ids: HashSet<&str> = after.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids.len(), 27, "duplicates after UIDVALIDITY change");
    for m in &after {
        if let Some(old) = before.iter().find(|b| b.message_id == m.message_id) {
            assert_eq!(old.id, m.id, "{} was not re-matched", m.message_id);
        }
    }
    assert!(!ids.contains("p0@t"));
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

impl EventListener for Recorder {
    fn on_event(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

#[tokio::test]
async fn sync_reports_progress_and_changes_to_listeners() {
    let user = server().new_user("events");
    let mut other = OtherClient::login(&user).await;
    for i in 0..1200u32 {
        let raw = message(
            &format!("e{i}"),
            "a@example.test",
            &date(i),
            &format!("e{i}@t"),
            "x",
        );
        other.append("INBOX", &raw, None).await;
    }
    other.logout().await;
    let t = engine_with_account(&user, &[]).await;
    let recorder = Arc::new(Recorder::default());
    let subscription = t.engine.subscribe(recorder.clone()).unwrap();
    t.engine.sync(None).await.unwrap();
    // Delivery runs on its own task; wait for the last event.
    for _ in 0..100 {
        if recorder
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::SyncFinished { .. }))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let events = recorder.0.lock().unwrap().clone();
    assert!(matches!(events.first(), Some(Event::SyncStarted { .. })));
    let progress: Vec<(u32, u32)> = events
        .iter()
        .filter_map(|e| match e {
            Event::SyncProgress {
                folder,
                done,
                total,
                ..
            } if folder == "INBOX" => Some((*done, *total)),
            _ => None,
        })
        .collect();
    // Batches start small and double (50, 100, 200, 400, then up to 1000).
    assert_eq!(
        progress,
        [
            (50, 1200),
            (150, 1200),
            (350, 1200),
            (750, 1200),
            (1200, 1200)
        ]
    );
    let added: usize = events
        .iter()
        .map(|e| match e {
            Event::MessagesChanged { added, .. } => added.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(added, 1200);
    assert!(
        matches!(events.last(), Some(Event::SyncFinished { report, .. }) if report.new_messages == 1200)
    );

    // After the handle is dropped, nothing more arrives.
    drop(subscription);
    let seen = recorder.0.lock().unwrap().len();
    t.engine.sync(None).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(recorder.0.lock().unwrap().len(), seen);
}

#[tokio::test]
async fn a_compressed_session_syncs_and_pushes() {
    use brevdue_core::{EngineOptions, FlagChange, Security};
    if !imap_offers("COMPRESS=DEFLATE", "the whole test") {
        return;
    }
    let user = server().new_user("deflate");
    let mut other = OtherClient::login(&user).await;
    for i in 0..30u32 {
        let raw = message(
            &format!("z{i}"),
            "a@example.test",
            &date(i),
            &format!("z{i}@t"),
            &"zip ".repeat(200),
        );
        other.append("INBOX", &raw, None).await;
    }
    let proxy = Proxy::start(server().imap_port).await;
    let t = engine_with_options(EngineOptions {
        compress_loopback: true,
        ..EngineOptions::default()
    });
    let mut config = server().imap_config("main", &user, Security::StartTls);
    config.server.port = proxy.port;
    // STARTTLS hides everything; plain shows whether COMPRESS is on.
    config.server.security = Security::Plain;
    t.engine.add_account(config, PASSWORD.into()).await.unwrap();
    t.engine.set_body_prefetch(None).unwrap();
    t.engine.sync(None).await.unwrap();
    let list = t.engine.messages(None, Some("INBOX"), 100, 0).unwrap();
    assert_eq!(list.len(), 30);
    let opened = t.engine.open_message(list[0].id).await.unwrap();
    assert!(opened.text.unwrap().starts_with("zip zip"));
    t.engine.mark(&[list[0].id], FlagChange::Flagged).unwrap();
    assert_eq!(t.engine.push_changes(None).await.unwrap().applied, 1);
    assert!(proxy.saw("COMPRESS DEFLATE"), "COMPRESS was not requested");
    assert!(
        !proxy.saw("UID FETCH"),
        "commands after COMPRESS travelled uncompressed"
    );
    other.select("INBOX").await;
    let uid = other.uid_of(&list[0].message_id).await;
    assert!(uid > 0);
    assert!(other.server_view().await[&list[0].message_id].2);
}

#[tokio::test]
async fn folder_names_are_decoded_and_roles_found_without_special_use() {
    use futures::TryStreamExt;
    let user = server().new_user("utf7");
    let mut other = OtherClient::login(&user).await;
    other.create("Entw&APw-rfe").await;
    other.create("Entw&APw-rfe/&AMQ-rzte").await;
    let raw = message("Befund", "praxis@example.test", &date(1), "befund@t", "x");
    other.append("Entw&APw-rfe/&AMQ-rzte", &raw, None).await;
    for (disabled, name) in [(&[][..], "special-use"), (&["SPECIAL-USE"][..], "by name")] {
        let t = engine_with_account(&user, disabled).await;
        t.engine.sync(None).await.unwrap();
        let folders = t.engine.folders(None).unwrap();
        let child = folders
            .iter()
            .find(|f| f.name == "Entwürfe/Ärzte")
            .expect(name);
        assert_eq!(child.parent.as_deref(), Some("Entwürfe"));
        assert_eq!(child.total, 1);
        let roles: Vec<(&str, &str)> = folders
            .iter()
            .filter_map(|f| Some((f.name.as_str(), f.role?.as_str())))
            .collect();
        for expected in [
            ("INBOX", "inbox"),
            ("Sent", "sent"),
            ("Drafts", "drafts"),
            ("Trash", "trash"),
            ("Junk", "junk"),
            ("Archive", "archive"),
        ] {
            assert!(
                roles.contains(&expected),
                "{name}: {expected:?} in {roles:?}"
            );
        }
        let list = t
            .engine
            .messages(None, Some("Entwürfe/Ärzte"), 10, 0)
            .unwrap();
        assert_eq!(list[0].message_id, "befund@t");
    }
    // A folder made here travels encoded.
    let t = engine_with_account(&user, &[]).await;
    t.engine.sync(None).await.unwrap();
    t.engine.create_folder("main", "Quittungen/Straße").unwrap();
    assert_eq!(t.engine.push_changes(None).await.unwrap().applied, 1);
    let names: Vec<String> = other
        .session
        .list(Some(""), Some("*"))
        .await
        .unwrap()
        .map_ok(|n| n.name().to_owned())
        .try_collect()
        .await
        .unwrap();
    assert!(
        names.contains(&server().mailbox("Quittungen/Stra&AN8-e")),
        "{names:?}"
    );
}
