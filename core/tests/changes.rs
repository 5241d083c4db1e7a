//! Local changes reaching the server: two devices in step through IDLE, a third-party
//! client, offline queues, conflicts, refusals and cut connections.

mod common;

use std::sync::Arc;

use brevdue_core::{ChangeState, EngineOptions, Event, FlagChange, Security};
use common::*;

async fn fill(user: &str, prefix: &str, n: u32) {
    let mut other = OtherClient::login(user).await;
    for i in 0..n {
        let raw = message(
            &format!("{prefix} {i}"),
            "a@example.test",
            &date(i),
            &format!("{prefix}{i}@t"),
            "x",
        );
        other.append("INBOX", &raw, None).await;
    }
    other.logout().await;
}

fn id_of(engine: &brevdue_core::Engine, message_id: &str) -> i64 {
    engine
        .messages(None, None, 10_000, 0)
        .unwrap()
        .into_iter()
        .find(|m| m.message_id == message_id)
        .unwrap_or_else(|| panic!("{message_id} not here"))
        .id
}

fn folder_of(view: &View, mid: &str) -> String {
    view.get(mid).map(|v| v.0.clone()).unwrap_or_default()
}

async fn wait_push_connected(recorder: &Recorder) {
    let connected = wait_until(10, || {
        recorder.0.lock().unwrap().iter().any(|e| {
            matches!(
                e,
                Event::PushState {
                    connected: true,
                    ..
                }
            )
        })
    })
    .await;
    assert!(connected, "push connection did not come up");
}

#[tokio::test]
async fn read_on_the_phone_continue_on_the_pc() {
    let user = server().new_user("duo");
    fill(&user, "d", 8).await;
    let phone = engine_with_account(&user, &[]).await;
    let pc = engine_with_account(&user, &[]).await;
    phone.engine.sync(None).await.unwrap();
    pc.engine.sync(None).await.unwrap();
    let phone_events = Arc::new(Recorder::default());
    let pc_events = Arc::new(Recorder::default());
    let _p = phone.engine.subscribe(phone_events.clone()).unwrap();
    let _c = pc.engine.subscribe(pc_events.clone()).unwrap();
    phone.engine.start_push(None).unwrap();
    pc.engine.start_push(None).unwrap();
    wait_push_connected(&pc_events).await;
    wait_push_connected(&phone_events).await;

    // The phone reads three, flags one, files one into a new folder, deletes one.
    let p = |mid: &str| id_of(&phone.engine, mid);
    phone
        .engine
        .mark(&[p("d0@t"), p("d1@t"), p("d2@t")], FlagChange::Read)
        .unwrap();
    phone
        .engine
        .mark(&[p("d3@t")], FlagChange::Flagged)
        .unwrap();
    phone.engine.create_folder("main", "Receipts").unwrap();
    phone
        .engine
        .move_messages(&[p("d4@t")], "Receipts")
        .unwrap();
    phone.engine.delete(&[p("d5@t")]).unwrap();
    // The UI sees it at once.
    let now = engine_view(&phone.engine);
    assert_eq!(folder_of(&now, "d4@t"), "Receipts");
    assert_eq!(folder_of(&now, "d5@t"), "Trash");
    // The phone's own worker may have sent them already; either way all seven land.
    let report = phone.engine.push_changes(None).await.unwrap();
    assert_eq!((report.failed, report.pending), (0, 0), "{report:?}");
    let applied = |events: &Recorder| -> u32 {
        events
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|e| match e {
                Event::ChangesApplied { applied, .. } => *applied,
                _ => 0,
            })
            .sum()
    };
    assert!(
        wait_until(5, || applied(&phone_events) == 7).await,
        "applied {}",
        applied(&phone_events)
    );

    // The PC, sitting in IDLE, shows all of it without a manual sync.
    let pc_sees_it = wait_until(10, || {
        let v = engine_view(&pc.engine);
        ["d0@t", "d1@t", "d2@t"].iter().all(|m| v[*m].1)
            && v["d3@t"].2
            && folder_of(&v, "d4@t") == "Receipts"
            && folder_of(&v, "d5@t") == "Trash"
            && v.len() == 8
    })
    .await;
    assert!(
        pc_sees_it,
        "the PC did not catch up: {:?}",
        engine_view(&pc.engine)
    );
    assert!(pc
        .engine
        .folders(None)
        .unwrap()
        .iter()
        .any(|f| f.name == "Receipts"));
    assert!(pc_events
        .0
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, Event::MessagesChanged { .. })));

    // The PC renames the folder and marks one unread; the phone sees it.
    let receipt_id = p("d4@t");
    pc.engine
        .rename_folder("main", "Receipts", "Quittungen")
        .unwrap();
    pc.engine
        .mark(&[id_of(&pc.engine, "d0@t")], FlagChange::Unread)
        .unwrap();
    let report = pc.engine.push_changes(None).await.unwrap();
    assert_eq!((report.failed, report.pending), (0, 0), "{report:?}");
    assert!(
        wait_until(5, || applied(&pc_events) == 2).await,
        "applied {}",
        applied(&pc_events)
    );
    if !harness_has(
        "idle-reports-flag-changes",
        "the phone learning of the PC's changes by IDLE (it syncs by hand instead)",
    ) {
        phone.engine.sync(None).await.unwrap();
    }
    let phone_sees_it = wait_until(10, || {
        let v = engine_view(&phone.engine);
        !v["d0@t"].1 && folder_of(&v, "d4@t") == "Quittungen"
    })
    .await;
    assert!(
        phone_sees_it,
        "the phone did not catch up: {:?}",
        engine_view(&phone.engine)
    );
    let folders: Vec<String> = phone
        .engine
        .folders(None)
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert!(
        folders.contains(&"Quittungen".to_owned()) && !folders.contains(&"Receipts".to_owned())
    );
    assert_eq!(
        p("d4@t"),
        receipt_id,
        "the renamed folder's message kept its id"
    );

    let mut other = OtherClient::login(&user).await;
    assert_eq!(other.server_view().await, engine_view(&phone.engine));
}

#[tokio::test]
async fn a_third_party_client_and_both_devices_converge() {
    let user = server().new_user("third");
    fill(&user, "t", 10).await;
    let phone = engine_with_account(&user, &[]).await;
    let pc = engine_with_account(&user, &["QRESYNC"]).await; // one device on CONDSTORE only
    for device in [&phone, &pc] {
        device.engine.sync(None).await.unwrap();
        let events = Arc::new(Recorder::default());
        let _s = device.engine.subscribe(events.clone()).unwrap();
        device.engine.start_push(None).unwrap();
        wait_push_connected(&events).await;
    }
    let mut other = OtherClient::login(&user).await;
    other.select("INBOX").await;
    for (mid, change) in [
        ("t1@t", "+FLAGS (\\Seen)"),
        ("t2@t", "+FLAGS (\\Flagged)"),
        ("t3@t", "+FLAGS (\\Seen \\Flagged)"),
    ] {
        let uid = other.uid_of(mid).await;
        other.store(uid, change).await;
    }
    let uid = other.uid_of("t6@t").await;
    other.move_uid(uid, "Archive").await;
    let uid = other.uid_of("t7@t").await;
    other.expunge_uid(uid).await;
    let server = other.server_view().await;
    assert_eq!(server.len(), 9);
    for (name, device) in [("phone", &phone), ("pc", &pc)] {
        let converged = wait_until(10, || engine_view(&device.engine) == server).await;
        assert!(
            converged,
            "{name} did not converge: {:?}",
            engine_view(&device.engine)
        );
    }
}

#[tokio::test]
async fn ten_changes_made_offline_arrive_in_order_once() {
    let user = server().new_user("offline");
    fill(&user, "o", 6).await;
    let proxy = Proxy::start(server().imaps_port).await;
    let phone = engine(&[]);
    let mut config = server().imap_config("main", &user, Security::Tls);
    config.server.port = proxy.port;
    phone
        .engine
        .add_account(config, PASSWORD.into())
        .await
        .unwrap();
    phone.engine.sync(None).await.unwrap();
    let e = &phone.engine;
    let p = |mid: &str| id_of(e, mid);

    proxy.go_down();
    e.mark(&[p("o0@t")], FlagChange::Read).unwrap();
    e.mark(&[p("o1@t")], FlagChange::Flagged).unwrap();
    e.mark(&[p("o1@t")], FlagChange::Unflagged).unwrap();
    e.create_folder("main", "Later").unwrap();
    e.move_messages(&[p("o2@t")], "Later").unwrap();
    e.mark(&[p("o2@t")], FlagChange::Flagged).unwrap();
    e.archive(&[p("o3@t")]).unwrap();
    e.delete(&[p("o4@t")]).unwrap();
    e.mark(&[p("o5@t")], FlagChange::Read).unwrap();
    e.mark(&[p("o5@t")], FlagChange::Unread).unwrap();
    let report = e.push_changes(None).await.unwrap();
    assert!(report.offline.is_some(), "{report:?}");
    assert_eq!((report.applied, report.pending), (0, 10));
    let queued = e.changes(None).unwrap();
    assert_eq!(queued.len(), 10);
    assert!(queued.iter().all(|c| c.state == ChangeState::Pending));

    proxy.come_up();
    let report = e.push_changes(None).await.unwrap();
    assert_eq!(
        (report.applied, report.failed, report.pending),
        (10, 0, 0),
        "{report:?}"
    );
    assert!(e.changes(None).unwrap().is_empty());

    let mut other = OtherClient::login(&user).await;
    let server = other.server_view().await; // panics on any duplicate
    let expect = |mid: &str, folder: &str, seen: bool, flagged: bool| {
        assert_eq!(server[mid], (folder.to_owned(), seen, flagged), "{mid}");
    };
    expect("o0@t", "INBOX", true, false);
    expect("o1@t", "INBOX", false, false);
    expect("o2@t", "Later", false, true);
    expect("o3@t", "Archive", false, false);
    expect("o4@t", "Trash", false, false);
    expect("o5@t", "INBOX", false, false);
    e.sync(None).await.unwrap();
    assert_eq!(engine_view(e), server);
}

/// Holds the account's queue as another process replaying it would (its OS lock).
fn hold_queue(t: &TestEngine) -> std::fs::File {
    let account = t.engine.account("main").unwrap();
    let path = t.dir.path().join(format!("changes-{}.lock", account.id));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .unwrap();
    file.try_lock().unwrap();
    file
}

#[tokio::test]
async fn a_pending_change_wins_over_the_server_until_applied() {
    let user = server().new_user("conflict");
    fill(&user, "c", 3).await;
    let phone = engine_with_account(&user, &[]).await;
    phone.engine.sync(None).await.unwrap();
    let id = id_of(&phone.engine, "c0@t");
    phone.engine.mark(&[id], FlagChange::Read).unwrap(); // queued, not pushed
                                                         // Another process on this data directory is replaying it right now: this process's
                                                         // sync (which pushes first) must leave it queued and must not undo it.
    let other_process = hold_queue(&phone);

    // Meanwhile the server reports the message, still unread, with a new flag.
    let mut other = OtherClient::login(&user).await;
    other.store_in_inbox("c0@t", "+FLAGS (\\Flagged)").await;
    phone.engine.sync(None).await.unwrap();
    let m = phone.engine.message(id).unwrap().summary;
    assert!(m.flags.seen, "the sync undid a pending local change");
    assert_eq!(
        phone.engine.changes(None).unwrap().len(),
        1,
        "still pending"
    );

    // The other process went away without finishing: this one applies the change.
    drop(other_process);
    let report = phone.engine.push_changes(None).await.unwrap();
    assert_eq!(report.applied, 1);
    phone.engine.sync(None).await.unwrap();
    let m = phone.engine.message(id).unwrap().summary;
    assert!(
        m.flags.seen && m.flags.flagged,
        "after the push the server's state is taken: {m:?}"
    );
    assert_eq!(
        other.server_view().await["c0@t"],
        ("INBOX".to_owned(), true, true)
    );
}

#[tokio::test]
async fn a_move_into_a_folder_deleted_elsewhere_is_reverted_and_reported() {
    let user = server().new_user("refused");
    fill(&user, "r", 3).await;
    let mut other = OtherClient::login(&user).await;
    other.create("Projects").await;
    let phone = engine_with_account(&user, &[]).await;
    phone.engine.sync(None).await.unwrap();
    let events = Arc::new(Recorder::default());
    let _s = phone.engine.subscribe(events.clone()).unwrap();
    let id = id_of(&phone.engine, "r1@t");
    phone.engine.move_messages(&[id], "Projects").unwrap();
    assert_eq!(phone.engine.message(id).unwrap().summary.folder, "Projects");

    other.delete("Projects").await;
    let report = phone.engine.push_changes(None).await.unwrap();
    assert_eq!((report.applied, report.failed, report.pending), (0, 1, 0));
    let m = phone.engine.message(id).unwrap().summary;
    assert_eq!(m.folder, "INBOX", "the move was not reverted");
    assert!(m.uid.is_some());
    let changes = phone.engine.changes(None).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].state, ChangeState::Failed);
    assert!(
        changes[0].last_error.contains("TRYCREATE"),
        "{}",
        changes[0].last_error
    );
    let told = wait_until(5, || {
        events.0.lock().unwrap().iter().any(
            |e| matches!(e, Event::ChangeFailed { message, .. } if message.contains("TRYCREATE")),
        )
    })
    .await;
    assert!(told, "the user was not told");

    // Nothing lost: the message is still on the server and here, once.
    assert_eq!(other.server_view().await["r1@t"].0, "INBOX");
    phone.engine.sync(None).await.unwrap();
    assert_eq!(engine_view(&phone.engine), other.server_view().await);
    phone.engine.discard_change(changes[0].id).unwrap();
    assert!(phone.engine.changes(None).unwrap().is_empty());

    // Refused again, then retried once the folder is back: it goes through.
    other.create("Projects").await;
    phone.engine.sync(None).await.unwrap();
    phone.engine.move_messages(&[id], "Projects").unwrap();
    other.delete("Projects").await;
    let report = phone.engine.push_changes(None).await.unwrap();
    assert_eq!(report.failed, 1);
    other.create("Projects").await;
    let failed = phone.engine.changes(None).unwrap();
    let move_change = failed
        .iter()
        .find(|c| c.target.contains("Projects") && c.message_id == Some(id))
        .unwrap();
    phone.engine.retry_change(move_change.id).unwrap();
    assert_eq!(phone.engine.message(id).unwrap().summary.folder, "Projects");
    let report = phone.engine.push_changes(None).await.unwrap();
    assert_eq!(
        (report.applied, report.failed, report.pending),
        (1, 0, 0),
        "{report:?}"
    );
    assert_eq!(other.server_view().await["r1@t"].0, "Projects");
}

#[tokio::test]
async fn a_connection_cut_during_replay_loses_nothing_and_repeats_nothing() {
    // With MOVE, and with the COPY + \Deleted + EXPUNGE fallback.
    for (label, disabled, verb) in [
        ("move", vec!["COMPRESS"], "UID MOVE"),
        ("copy", vec!["COMPRESS", "MOVE"], "UID COPY"),
    ] {
        let user = server().new_user(&format!("cut{label}"));
        fill(&user, label, 4).await;
        let proxy = Proxy::start(server().imap_port).await;
        let phone = engine_with_options(EngineOptions {
            disabled_extensions: disabled.iter().map(|s| s.to_string()).collect(),
            ..EngineOptions::default()
        });
        let mut config = server().imap_config("main", &user, Security::Plain);
        config.server.port = proxy.port;
        phone
            .engine
            .add_account(config, PASSWORD.into())
            .await
            .unwrap();
        phone.engine.sync(None).await.unwrap();
        let ids: Vec<i64> = (0..3)
            .map(|i| id_of(&phone.engine, &format!("{label}{i}@t")))
            .collect();
        phone.engine.archive(&ids).unwrap();
        phone
            .engine
            .mark(
                &[id_of(&phone.engine, &format!("{label}3@t"))],
                FlagChange::Flagged,
            )
            .unwrap();

        proxy.cut_after(verb);
        let report = phone.engine.push_changes(None).await.unwrap();
        assert_eq!(proxy.cuts(), 1, "{label}: the connection was not cut");
        assert!(report.offline.is_some(), "{label}: {report:?}");
        assert_eq!(report.applied, 0);
        // The server did act on the command whose answer was lost.
        let mut other = OtherClient::login(&user).await;
        let first = format!("{label}0@t");
        assert!(
            other.message_ids("Archive").await.contains(&first),
            "{label}: the server never got the command"
        );

        let report = phone.engine.push_changes(None).await.unwrap();
        assert_eq!(
            (report.applied, report.failed, report.pending),
            (4, 0, 0),
            "{label}: {report:?}"
        );
        let server = other.server_view().await; // panics if anything is there twice
        for i in 0..3 {
            assert_eq!(server[&format!("{label}{i}@t")].0, "Archive", "{label}{i}");
        }
        assert!(server[&format!("{label}3@t")].2);
        phone.engine.sync(None).await.unwrap();
        assert_eq!(engine_view(&phone.engine), server, "{label}");
        let in_archive = phone
            .engine
            .messages(Some("main"), Some("Archive"), 10, 0)
            .unwrap();
        assert!(
            in_archive.iter().all(|m| m.uid.is_some()),
            "{label}: {in_archive:?}"
        );
    }
}

#[tokio::test]
async fn new_mail_and_expunges_arrive_by_push() {
    let user = server().new_user("pushmail");
    fill(&user, "n", 2).await;
    let pc = engine_with_account(&user, &[]).await;
    pc.engine.sync(None).await.unwrap();
    let events = Arc::new(Recorder::default());
    let _s = pc.engine.subscribe(events.clone()).unwrap();
    pc.engine.start_push(None).unwrap();
    wait_push_connected(&events).await;
    let mut other = OtherClient::login(&user).await;
    let raw = message("fresh", "b@example.test", &date(50), "fresh@t", "new mail");
    other.append("INBOX", &raw, None).await;
    other.select("INBOX").await;
    let uid = other.uid_of("n0@t").await;
    other.expunge_uid(uid).await;
    let arrived = wait_until(10, || {
        let v = engine_view(&pc.engine);
        v.contains_key("fresh@t") && !v.contains_key("n0@t")
    })
    .await;
    assert!(arrived, "{:?}", engine_view(&pc.engine));
    // Events are delivered on their own task, a moment after the store has the data.
    let added = wait_until(5, || {
        events
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::MessagesChanged { added, .. } if !added.is_empty()))
    })
    .await;
    assert!(added, "no event told about the new mail");
}

#[tokio::test]
async fn a_saved_draft_replaces_its_previous_version() {
    let user = server().new_user("drafts");
    let phone = engine_with_account(&user, &[]).await;
    phone.engine.sync(None).await.unwrap();
    let v1 = message(
        "Plan",
        &format!("{user}@example.test"),
        &date(1),
        "draft-v1@t",
        "first words",
    );
    let first = phone.engine.save_raw_draft("main", &v1, None).unwrap();
    let local = phone.engine.message(first).unwrap();
    assert_eq!(local.summary.folder, "Drafts");
    assert!(local.summary.flags.draft && local.text.unwrap().contains("first words"));
    assert_eq!(phone.engine.push_changes(None).await.unwrap().applied, 1);
    assert!(
        phone.engine.message(first).unwrap().summary.uid.is_some(),
        "the upload's UID was not learned"
    );

    let v2 = message(
        "Plan",
        &format!("{user}@example.test"),
        &date(2),
        "draft-v2@t",
        "more words",
    );
    let second = phone
        .engine
        .save_raw_draft("main", &v2, Some(first))
        .unwrap();
    assert!(
        phone.engine.message(first).is_err(),
        "the old version is still here"
    );
    assert_eq!(phone.engine.push_changes(None).await.unwrap().applied, 2);
    let mut other = OtherClient::login(&user).await;
    assert_eq!(other.message_ids("Drafts").await, ["draft-v2@t"]);
    phone.engine.sync(None).await.unwrap();
    let drafts = phone
        .engine
        .messages(Some("main"), Some("Drafts"), 10, 0)
        .unwrap();
    assert_eq!(drafts.iter().map(|m| m.id).collect::<Vec<_>>(), [second]);
    assert!(drafts[0].flags.draft && drafts[0].uid.is_some());
}

fn count(events: &Recorder, pred: impl Fn(&Event) -> bool) -> usize {
    events.0.lock().unwrap().iter().filter(|e| pred(e)).count()
}

#[tokio::test]
async fn a_network_change_rebuilds_the_push_connection_at_once() {
    let user = server().new_user("netchange");
    fill(&user, "nc", 2).await;
    let proxy = Proxy::start(server().imaps_port).await;
    let pc = engine_with_options(EngineOptions {
        reconnect_delay: std::time::Duration::from_secs(120),
        ..EngineOptions::default()
    });
    let mut config = server().imap_config("main", &user, Security::Tls);
    config.server.port = proxy.port;
    pc.engine
        .add_account(config, PASSWORD.into())
        .await
        .unwrap();
    pc.engine.sync(None).await.unwrap();
    let events = Arc::new(Recorder::default());
    let _s = pc.engine.subscribe(events.clone()).unwrap();
    pc.engine.start_push(None).unwrap();
    let up = |e: &Event| {
        matches!(
            e,
            Event::PushState {
                connected: true,
                ..
            }
        )
    };
    let down = |e: &Event| {
        matches!(
            e,
            Event::PushState {
                connected: false,
                ..
            }
        )
    };
    assert!(wait_until(10, || count(&events, up) == 1).await);

    proxy.go_down();
    assert!(
        wait_until(10, || count(&events, down) >= 1).await,
        "the drop was not noticed"
    );
    proxy.come_up();
    // The reconnect waits two minutes; only the network change brings it back now.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(count(&events, up), 1);
    pc.engine.network_changed();
    assert!(
        wait_until(10, || count(&events, up) == 2).await,
        "no reconnect after the network change"
    );

    let mut other = OtherClient::login(&user).await;
    other.store_in_inbox("nc1@t", "+FLAGS (\\Seen)").await;
    // Indexing panics if the message ever left the cache: it must not.
    assert!(wait_until(10, || engine_view(&pc.engine)["nc1@t"].1).await);
}

#[tokio::test]
async fn idle_is_renewed_and_polling_stands_in_without_idle() {
    let user = server().new_user("renew");
    fill(&user, "rn", 2).await;
    let quick = std::time::Duration::from_millis(300);
    let renewing = engine_with_options(EngineOptions {
        idle_renewal: quick,
        ..EngineOptions::default()
    });
    let polling = engine_with_options(EngineOptions {
        disabled_extensions: vec!["IDLE".into()],
        poll_interval: quick,
        ..EngineOptions::default()
    });
    let mut recorders = Vec::new();
    for (name, device) in [("renewing", &renewing), ("polling", &polling)] {
        let config = server().imap_config(name, &user, Security::Tls);
        device
            .engine
            .add_account(config, PASSWORD.into())
            .await
            .unwrap();
        device.engine.sync(None).await.unwrap();
        let events = Arc::new(Recorder::default());
        recorders.push((
            device.engine.subscribe(events.clone()).unwrap(),
            events.clone(),
        ));
        device.engine.start_push(None).unwrap();
        wait_push_connected(&events).await;
    }
    let syncs = |events: &Recorder| count(events, |e| matches!(e, Event::SyncStarted { .. }));
    // Several renewals (or polls), each followed by a sync pass.
    assert!(wait_until(10, || recorders.iter().all(|(_, e)| syncs(e) >= 4)).await);
    let mut other = OtherClient::login(&user).await;
    other.store_in_inbox("rn0@t", "+FLAGS (\\Flagged)").await;
    for (name, device) in [("renewing", &renewing), ("polling", &polling)] {
        assert!(
            wait_until(10, || engine_view(&device.engine)["rn0@t"].2).await,
            "{name}"
        );
    }
}

#[tokio::test]
async fn an_account_added_while_push_runs_is_watched_too() {
    let user = server().new_user("later");
    fill(&user, "la", 2).await;
    let pc = engine(&[]);
    let events = Arc::new(Recorder::default());
    let _s = pc.engine.subscribe(events.clone()).unwrap();
    pc.engine.start_push(None).unwrap(); // no account yet
    let config = server().imap_config("main", &user, Security::Tls);
    pc.engine
        .add_account(config, PASSWORD.into())
        .await
        .unwrap();
    wait_push_connected(&events).await;
    // The catch-up sync after connecting brings the mailbox without a manual sync.
    assert!(wait_until(10, || engine_view(&pc.engine).len() == 2).await);
    if !harness_has(
        "idle-reports-flag-changes",
        "a flag set elsewhere arriving by IDLE",
    ) {
        return;
    }
    let mut other = OtherClient::login(&user).await;
    other.store_in_inbox("la0@t", "+FLAGS (\\Seen)").await;
    assert!(wait_until(10, || engine_view(&pc.engine)["la0@t"].1).await);
}

#[tokio::test]
async fn a_sync_passes_over_a_folder_not_created_on_the_server_yet() {
    let user = server().new_user("pendingfolder");
    fill(&user, "p", 2).await;
    let t = engine_with_account(&user, &[]).await;
    t.engine.sync(None).await.unwrap();
    t.engine.create_folder("main", "Not Yet").unwrap();
    // Another process holds the create: this sync cannot push it first.
    let _other_process = hold_queue(&t);
    let reports = t.engine.sync(None).await.unwrap();
    assert_eq!(reports[0].1.folders, 6, "{reports:?}");
    let folders = t.engine.folders(None).unwrap();
    assert!(folders.iter().any(|f| f.name == "Not Yet"), "{folders:?}");
    assert_eq!(t.engine.changes(None).unwrap().len(), 1);
}
