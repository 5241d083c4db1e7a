//! A server that offers IDLE but never reports anything: the engine still finds new
//! mail by checking now and then while it idles, and says that push seems dead
//! (`Event::PushSilent`). A server whose IDLE does report gets no such event.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use brevdue_core::{EngineOptions, Event, Security};
use common::mailbox::{Content, IdleReports, ScriptedMailbox};
use common::*;

const RENEWAL: Duration = Duration::from_secs(3);

fn mail(subject: &str, n: u32) -> Content {
    Content::bytes(message(
        subject,
        "Anna <anna@example.test>",
        &date(n),
        &format!("{subject}@t"),
        "hello\r\n",
    ))
}

fn here(t: &TestEngine, message_id: &str) -> bool {
    t.engine
        .messages(None, None, 1000, 0)
        .unwrap()
        .iter()
        .any(|m| m.message_id == message_id)
}

fn push_silent(recorder: &Recorder) -> usize {
    recorder
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::PushSilent { account } if account == "main"))
        .count()
}

/// An engine pushing on `mailbox` with IDLE renewed every few seconds; returns once it
/// idles, and when the new mail went in while it did.
async fn idling(
    mailbox: &ScriptedMailbox,
) -> (
    TestEngine,
    Arc<Recorder>,
    brevdue_core::Subscription,
    Instant,
) {
    mailbox.add("INBOX", mail("old", 0), &[]);
    let t = engine_with_options(EngineOptions {
        idle_renewal: RENEWAL,
        ..EngineOptions::default()
    });
    t.engine
        .add_account(
            scripted_config(mailbox.port(), Security::Plain),
            PASSWORD.to_owned(),
        )
        .await
        .expect("add account");
    let recorder = Arc::new(Recorder::default());
    let subscription = t.engine.subscribe(recorder.clone()).unwrap();
    t.engine.start_push(Some("main")).unwrap();
    assert!(
        wait_until(30, || here(&t, "old@t")).await,
        "the first sync did not happen"
    );
    let mut delivered = None;
    assert!(
        wait_until(30, || {
            delivered = delivered.or_else(|| mailbox.deliver_during_idle("INBOX", mail("new", 1)));
            delivered.is_some()
        })
        .await,
        "the engine never went into IDLE"
    );
    (t, recorder, subscription, Instant::now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_mail_an_idle_never_announces_is_found_and_push_is_reported_silent() {
    let mailbox = ScriptedMailbox::start("IMAP4rev1 IDLE").await;
    mailbox.idle_reports(IdleReports::Nothing);
    let (t, recorder, _subscription, delivered) = idling(&mailbox).await;
    let found = wait_until(30, || here(&t, "new@t")).await;
    println!(
        "silent IDLE: new mail here after {:?}; PushSilent events so far: {}",
        delivered.elapsed(),
        push_silent(&recorder)
    );
    assert_eq!(
        mailbox.idle_announcements(),
        0,
        "the premise: IDLE told nothing"
    );
    assert!(
        found,
        "new mail IDLE never announced was not found within 30 s"
    );
    let reported = wait_until(30, || push_silent(&recorder) > 0).await;
    println!(
        "silent IDLE: PushSilent after {:?}: {reported}",
        delivered.elapsed()
    );
    assert!(reported, "no Event::PushSilent within 30 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_that_announces_new_mail_is_not_reported_silent() {
    let mailbox = ScriptedMailbox::start("IMAP4rev1 IDLE").await;
    let (t, recorder, _subscription, delivered) = idling(&mailbox).await;
    assert!(
        wait_until(30, || here(&t, "new@t")).await,
        "announced new mail did not arrive"
    );
    println!(
        "working IDLE: new mail here after {:?}",
        delivered.elapsed()
    );
    assert!(mailbox.idle_announcements() > 0, "the premise: IDLE told");
    // Several renewals, each with its periodic check.
    tokio::time::sleep(RENEWAL * 4).await;
    assert_eq!(
        push_silent(&recorder),
        0,
        "PushSilent although IDLE announced the mail"
    );
}
