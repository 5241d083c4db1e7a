//! A server whose personal namespace is `INBOX.` with `.` as separator (Courier, Cyrus
//! without the alternate namespace, many hosting providers), here Dovecot configured so
//! (`tests/mailserver.py serve --namespace inbox-dot`, whatever BREVDUE_TEST_SERVER
//! says). Users see `Sent`, `Receipts`, `Work/2026`; the server's names are
//! `INBOX.Sent`, `INBOX.Receipts`, `INBOX.Work.2026`. What the server does is checked
//! with a plain client (`raw_imap`, `OtherClient::list`), always by its own names.

mod common;

use brevdue_core::{Engine, Folder};
use common::*;

fn inbox_dot() {
    require_set_up(SetUp::DovecotInboxDot);
}

fn folders_of(engine: &Engine) -> Vec<Folder> {
    engine.folders(Some("main")).unwrap()
}

fn names(folders: &[Folder]) -> Vec<&str> {
    folders.iter().map(|f| f.name.as_str()).collect()
}

fn find<'a>(folders: &'a [Folder], name: &str) -> &'a Folder {
    folders
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no folder {name:?} in {:?}", names(folders)))
}

fn id_of(engine: &Engine, message_id: &str) -> i64 {
    engine
        .messages(None, None, 1000, 0)
        .unwrap()
        .into_iter()
        .find(|m| m.message_id == message_id)
        .unwrap_or_else(|| panic!("{message_id} not here"))
        .id
}

/// Message-IDs in the server's `mailbox`.
async fn on_server(other: &mut OtherClient, mailbox: &str) -> Vec<String> {
    other
        .session
        .select(mailbox)
        .await
        .unwrap_or_else(|e| panic!("SELECT {mailbox}: {e}"));
    let mut ids = Vec::new();
    let fetched: Vec<_> = {
        use futures::TryStreamExt;
        other
            .session
            .uid_fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap_or_default()
    };
    for f in fetched {
        let header = String::from_utf8_lossy(f.header().unwrap_or(b"")).to_string();
        if let Some(id) = header.split(['<', '>']).nth(1) {
            ids.push(id.to_owned());
        }
    }
    ids.sort();
    ids
}

/// The server's mailboxes with their attributes.
async fn server_mailboxes(other: &mut OtherClient) -> Vec<(String, Vec<String>)> {
    other
        .list()
        .await
        .into_iter()
        .map(|(name, attributes, _)| (name, attributes))
        .collect()
}

fn has_mailbox(list: &[(String, Vec<String>)], name: &str) -> bool {
    list.iter().any(|(n, _)| n == name)
}

fn is_noselect(list: &[(String, Vec<String>)], name: &str) -> bool {
    list.iter()
        .any(|(n, attributes)| n == name && attributes.iter().any(|a| a == "NoSelect"))
}

async fn append(other: &mut OtherClient, mailbox: &str, message_id: &str, minute: u32) {
    let raw = message(message_id, "a@example.test", &date(minute), message_id, "x");
    other
        .session
        .append(mailbox, None, None, &raw)
        .await
        .unwrap_or_else(|e| panic!("APPEND to {mailbox}: {e}"));
}

#[tokio::test]
async fn the_server_has_the_namespace_of_the_issue() {
    inbox_dot();
    let user = server().new_user("premise");
    let answers = raw_imap(
        &user,
        &[
            "NAMESPACE",
            "CREATE Receipts",
            "CREATE INBOX.Receipts",
            "LIST \"\" *",
        ],
    );
    assert!(
        answers[0]
            .iter()
            .any(|l| l == r#"* NAMESPACE (("INBOX." ".")) NIL NIL"#),
        "{:?}",
        answers[0]
    );
    assert!(answers[1][0].starts_with("r2 NO"), "{:?}", answers[1]);
    assert!(answers[2][0].starts_with("r3 OK"), "{:?}", answers[2]);
    let list = &answers[3];
    for line in [
        r#"* LIST (\HasNoChildren \Sent) "." INBOX.Sent"#,
        r#"* LIST (\HasNoChildren) "." INBOX.Receipts"#,
    ] {
        assert!(list.iter().any(|l| l == line), "{line} not in {list:?}");
    }
}

#[tokio::test]
async fn folders_are_shown_without_the_personal_prefix() {
    inbox_dot();
    let user = server().new_user("listing");
    let mut other = OtherClient::login(&user).await;
    other.session.create("INBOX.Work.2026").await.unwrap();
    append(&mut other, "INBOX.Work.2026", "plan@t", 1).await;
    let list = server_mailboxes(&mut other).await;
    assert!(is_noselect(&list, "INBOX.Work"), "{list:?}");

    // With SPECIAL-USE, and finding the roles by name.
    for (disabled, how) in [(&[][..], "special-use"), (&["SPECIAL-USE"][..], "by name")] {
        let t = engine_with_account(&user, disabled).await;
        t.engine.sync(None).await.unwrap();
        let folders = folders_of(&t.engine);
        let mut shown = names(&folders);
        shown.sort_unstable();
        assert_eq!(
            shown,
            [
                "Archive",
                "Drafts",
                "INBOX",
                "Junk",
                "Sent",
                "Trash",
                "Work",
                "Work/2026"
            ],
            "{how}"
        );
        for f in &folders {
            // The separator of `name`, the one users see.
            assert_eq!(f.delimiter, "/", "{how}: {f:?}");
        }
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
                "{how}: {expected:?} in {roles:?}"
            );
        }
        let plan = find(&folders, "Work/2026");
        assert_eq!(plan.parent.as_deref(), Some("Work"), "{how}");
        assert!(plan.selectable && plan.total == 1, "{how}: {plan:?}");
        assert!(
            !find(&folders, "Work").selectable,
            "{how}: Work is \\Noselect"
        );
        let list = t
            .engine
            .messages(Some("main"), Some("Work/2026"), 10, 0)
            .unwrap();
        assert_eq!(list.len(), 1, "{how}");
        assert_eq!(list[0].message_id, "plan@t");
    }
}

#[tokio::test]
async fn new_folders_are_created_inside_the_personal_namespace() {
    inbox_dot();
    let user = server().new_user("create");
    let mut other = OtherClient::login(&user).await;
    append(&mut other, "INBOX", "invoice@t", 1).await;
    append(&mut other, "INBOX", "plan@t", 2).await;
    let t = engine_with_account(&user, &[]).await;
    t.engine.sync(None).await.unwrap();

    t.engine.create_folder("main", "Receipts").unwrap();
    t.engine.create_folder("main", "Work/2026").unwrap();
    t.engine
        .move_messages(&[id_of(&t.engine, "invoice@t")], "Receipts")
        .unwrap();
    t.engine
        .move_messages(&[id_of(&t.engine, "plan@t")], "Work/2026")
        .unwrap();
    let report = t.engine.push_changes(None).await.unwrap();
    assert_eq!(
        (report.applied, report.failed, report.pending),
        (4, 0, 0),
        "{report:?} {:?}",
        t.engine.changes(None).unwrap()
    );

    let list = server_mailboxes(&mut other).await;
    for mailbox in ["INBOX.Receipts", "INBOX.Work.2026"] {
        assert!(has_mailbox(&list, mailbox), "{mailbox} not in {list:?}");
    }
    assert_eq!(on_server(&mut other, "INBOX.Receipts").await, ["invoice@t"]);
    assert_eq!(on_server(&mut other, "INBOX.Work.2026").await, ["plan@t"]);
    assert!(on_server(&mut other, "INBOX").await.is_empty());

    t.engine.sync(None).await.unwrap();
    let folders = folders_of(&t.engine);
    assert_eq!(find(&folders, "Work/2026").parent.as_deref(), Some("Work"));
    for (folder, message_id) in [("Receipts", "invoice@t"), ("Work/2026", "plan@t")] {
        let here = t
            .engine
            .messages(Some("main"), Some(folder), 10, 0)
            .unwrap();
        assert_eq!(here.len(), 1, "{folder}");
        assert_eq!(here[0].message_id, message_id);
        assert!(here[0].uid.is_some(), "{folder}: no UID learned");
    }
    assert!(
        !names(&folders).iter().any(|n| n.starts_with("INBOX.")),
        "{:?}",
        names(&folders)
    );
}

#[tokio::test]
async fn rename_and_delete_reach_the_server_inside_the_namespace() {
    inbox_dot();
    let user = server().new_user("rename");
    let mut other = OtherClient::login(&user).await;
    other.session.create("INBOX.Projects").await.unwrap();
    append(&mut other, "INBOX.Projects", "p0@t", 1).await;
    let t = engine_with_account(&user, &[]).await;
    t.engine.sync(None).await.unwrap();
    let p0 = id_of(&t.engine, "p0@t");

    t.engine
        .rename_folder("main", "Projects", "Clients/Acme")
        .unwrap();
    let report = t.engine.push_changes(None).await.unwrap();
    assert_eq!(
        (report.applied, report.failed),
        (1, 0),
        "{report:?} {:?}",
        t.engine.changes(None).unwrap()
    );
    let list = server_mailboxes(&mut other).await;
    assert!(has_mailbox(&list, "INBOX.Clients.Acme"), "{list:?}");
    assert!(!has_mailbox(&list, "INBOX.Projects"), "{list:?}");
    assert_eq!(on_server(&mut other, "INBOX.Clients.Acme").await, ["p0@t"]);
    t.engine.sync(None).await.unwrap();
    let folders = folders_of(&t.engine);
    assert_eq!(
        find(&folders, "Clients/Acme").parent.as_deref(),
        Some("Clients")
    );
    assert!(!names(&folders).contains(&"Projects"));
    assert_eq!(t.engine.message(p0).unwrap().summary.folder, "Clients/Acme");

    t.engine.delete_folder("main", "Clients/Acme").unwrap();
    let report = t.engine.push_changes(None).await.unwrap();
    assert_eq!(
        (report.applied, report.failed),
        (1, 0),
        "{report:?} {:?}",
        t.engine.changes(None).unwrap()
    );
    let list = server_mailboxes(&mut other).await;
    assert!(!has_mailbox(&list, "INBOX.Clients.Acme"), "{list:?}");
    t.engine.sync(None).await.unwrap();
    assert!(!names(&folders_of(&t.engine)).contains(&"Clients/Acme"));
}

/// INBOX.Projects (with old@t) and INBOX.Projects.2026 (with kept@t), synced.
async fn projects_with_a_child(prefix: &str) -> (String, OtherClient, TestEngine) {
    let user = server().new_user(prefix);
    let mut other = OtherClient::login(&user).await;
    other.session.create("INBOX.Projects").await.unwrap();
    append(&mut other, "INBOX.Projects", "old@t", 1).await;
    other.session.create("INBOX.Projects.2026").await.unwrap();
    append(&mut other, "INBOX.Projects.2026", "kept@t", 2).await;
    let t = engine_with_account(&user, &[]).await;
    t.engine.sync(None).await.unwrap();
    let projects = find(&folders_of(&t.engine), "Projects").clone();
    assert!(projects.selectable && projects.total == 1, "{projects:?}");
    (user, other, t)
}

/// What a parent that no longer exists but has a child must look like here.
fn assert_container(engine: &Engine) {
    let folders = folders_of(engine);
    let projects = find(&folders, "Projects");
    assert!(!projects.selectable, "shown as a folder: {projects:?}");
    assert_eq!((projects.total, projects.unread), (0, 0), "{projects:?}");
    let child = find(&folders, "Projects/2026");
    assert_eq!(child.parent.as_deref(), Some("Projects"));
    assert!(child.selectable && child.total == 1, "{child:?}");
    let all: Vec<String> = engine
        .messages(None, None, 100, 0)
        .unwrap()
        .into_iter()
        .map(|m| format!("{} in {}", m.message_id, m.folder))
        .collect();
    assert_eq!(
        all,
        ["kept@t in Projects/2026"],
        "the deleted folder's mail is gone"
    );
}

#[tokio::test]
async fn a_parent_deleted_elsewhere_is_shown_as_a_container() {
    inbox_dot();
    let (_user, mut other, t) = projects_with_a_child("container").await;
    other.session.delete("INBOX.Projects").await.unwrap();
    let list = server_mailboxes(&mut other).await;
    assert!(is_noselect(&list, "INBOX.Projects"), "{list:?}");
    let report = t.engine.sync(None).await.unwrap();
    assert_eq!(report[0].1.removed_messages, 1, "{report:?}");
    assert_container(&t.engine);
}

#[tokio::test]
async fn a_parent_deleted_here_stays_as_a_container() {
    inbox_dot();
    let (_user, mut other, t) = projects_with_a_child("delparent").await;
    t.engine.delete_folder("main", "Projects").unwrap();
    let report = t.engine.push_changes(None).await.unwrap();
    assert_eq!(
        (report.applied, report.failed),
        (1, 0),
        "{report:?} {:?}",
        t.engine.changes(None).unwrap()
    );
    let list = server_mailboxes(&mut other).await;
    assert!(is_noselect(&list, "INBOX.Projects"), "{list:?}");
    assert_eq!(
        on_server(&mut other, "INBOX.Projects.2026").await,
        ["kept@t"]
    );
    t.engine.sync(None).await.unwrap();
    assert_container(&t.engine);
}

#[tokio::test]
async fn a_container_takes_no_messages() {
    inbox_dot();
    let (_user, mut other, t) = projects_with_a_child("nomove").await;
    append(&mut other, "INBOX", "loose@t", 3).await;
    other.session.delete("INBOX.Projects").await.unwrap();
    t.engine.sync(None).await.unwrap();
    let loose = id_of(&t.engine, "loose@t");
    let moved = t.engine.move_messages(&[loose], "Projects");
    assert!(
        moved.is_err(),
        "a move into a \\Noselect folder was accepted: {:?}",
        t.engine.changes(None).unwrap()
    );
    assert_eq!(t.engine.message(loose).unwrap().summary.folder, "INBOX");
}
