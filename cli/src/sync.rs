//! `brevdue sync` (sync now: outbox, queued changes, pull) and `brevdue watch`.

use std::sync::Arc;

use brevdue_core::{Engine, Event, EventListener, Result};

use crate::{output, write_raw_line};

pub fn sync(engine: &Engine, name: Option<String>) -> Result<()> {
    let report = engine.block_on(engine.sync_now(name))??;
    for a in &report.accounts {
        if a.sent > 0 {
            errln!("sent {} message(s) from the outbox", a.sent);
        }
        if let Some(problem) = a.problem.as_ref().filter(|_| a.pulled.is_some()) {
            errln!("{}: {}", a.account, problem.message);
        }
        if let Some(r) = &a.pulled {
            errln!(
                "{}: {} folders, {} new, {} changed, {} removed, {} bodies",
                a.account,
                r.folders,
                r.new_messages,
                r.changed_messages,
                r.removed_messages,
                r.bodies
            );
        }
    }
    if let Some(err) = report.first_pull_error() {
        return Err(err);
    }
    Ok(())
}

struct JsonLines;

impl EventListener for JsonLines {
    fn on_event(&self, event: Event) {
        write_raw_line(&output::event_json(&event).to_string());
    }
}

/// Stays connected and prints events until interrupted.
pub fn watch(engine: &Engine, account: Option<String>) -> Result<()> {
    let _subscription = engine.subscribe(Arc::new(JsonLines))?;
    engine.start_push(account.as_deref())?;
    engine.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    })?;
    Ok(())
}
