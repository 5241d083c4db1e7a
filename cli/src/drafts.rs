//! `brevdue draft …`: drafts kept in the account's Drafts folder, so another device can
//! finish them; and `brevdue attachment`: one attachment opened or saved.

use std::path::PathBuf;

use brevdue_core::compose::ComposeMode;
use brevdue_core::drafts::SavedDraft;
use brevdue_core::{Draft, Engine, Result};
use clap::Subcommand;
use serde_json::json;

use crate::changes::{push_now, PushArgs};
use crate::send::{addresses, deliver, read_body, Body};
use crate::{output, print_json};

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run
pub enum DraftCommand {
    /// Save a draft (prints its id); --replaces the last save of the same draft. A reply
    /// or forward starts as the composer would: recipients and subject from the original,
    /// unless given.
    Save {
        #[arg(long)]
        account: String,
        /// The draft is a reply to this message (to everyone in it with --all).
        #[arg(long, conflicts_with = "forward")]
        reply: Option<i64>,
        #[arg(long, requires = "reply")]
        all: bool,
        /// The draft forwards this message.
        #[arg(long)]
        forward: Option<i64>,
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        cc: Option<String>,
        #[arg(long)]
        bcc: Option<String>,
        #[arg(long, default_value = "")]
        subject: String,
        #[command(flatten)]
        body: Body,
        #[arg(long)]
        replaces: Option<i64>,
        #[command(flatten)]
        push: PushArgs,
    },
    /// A draft as a composer reopens it.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Send a draft as it is saved, and take it out of Drafts.
    Send {
        id: i64,
        #[command(flatten)]
        push: PushArgs,
    },
    /// Throw a draft away, here and on the server.
    Discard {
        id: i64,
        #[command(flatten)]
        push: PushArgs,
    },
}

fn mode_json(mode: ComposeMode) -> serde_json::Value {
    match mode {
        ComposeMode::New => json!({"mode": "new"}),
        ComposeMode::Reply { original } => json!({"mode": "reply", "original": original}),
        ComposeMode::ReplyAll { original } => json!({"mode": "reply_all", "original": original}),
        ComposeMode::Forward { original } => json!({"mode": "forward", "original": original}),
    }
}

fn draft_json(saved: &SavedDraft) -> serde_json::Value {
    let list = |a: &[brevdue_core::Address]| a.iter().map(output::address).collect::<Vec<_>>();
    let d = &saved.draft;
    json!({
        "id": saved.id,
        "account": d.account,
        "compose": mode_json(saved.mode),
        "to": list(&d.to),
        "cc": list(&d.cc),
        "bcc": list(&d.bcc),
        "subject": d.subject,
        "body": d.body,
        "attachments": d.attachments.iter().map(|a| json!({
            "name": a.name, "mime_type": a.mime_type, "size": a.data.len(),
        })).collect::<Vec<_>>(),
    })
}

pub fn run(engine: &Engine, command: DraftCommand) -> Result<()> {
    match command {
        DraftCommand::Save {
            account,
            reply,
            all,
            forward,
            to,
            cc,
            bcc,
            subject,
            body,
            replaces,
            push,
        } => {
            let mode = match (reply, forward) {
                (Some(original), _) if all => ComposeMode::ReplyAll { original },
                (Some(original), _) => ComposeMode::Reply { original },
                (None, Some(original)) => ComposeMode::Forward { original },
                (None, None) => ComposeMode::New,
            };
            let (text, attachments) = read_body(&body)?;
            let mut draft = Draft {
                account,
                from: None,
                to: addresses(to.as_deref())?,
                cc: addresses(cc.as_deref())?,
                bcc: addresses(bcc.as_deref())?,
                subject,
                body: text,
                attachments,
            };
            // As a composer starts: a reply's recipients and subject from the engine's
            // preview, unless given.
            if mode != ComposeMode::New {
                let preview = engine.block_on(engine.compose_preview(mode))??;
                if to.is_none() && cc.is_none() {
                    (draft.to, draft.cc) = (preview.to, preview.cc);
                }
                if draft.subject.is_empty() {
                    draft.subject = preview.subject;
                }
            }
            let id = engine.block_on(engine.save_draft(mode, draft, replaces))??;
            push_now(engine, push)?;
            outln!("{id}");
        }
        DraftCommand::Show { id, json } => {
            let saved = engine.block_on(engine.open_draft(id))??;
            if json {
                print_json(&draft_json(&saved));
            } else {
                let d = &saved.draft;
                let list = |a: &[brevdue_core::Address]| {
                    a.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                outln!("To: {}", list(&d.to));
                if !d.cc.is_empty() {
                    outln!("Cc: {}", list(&d.cc));
                }
                if !d.bcc.is_empty() {
                    outln!("Bcc: {}", list(&d.bcc));
                }
                outln!("Subject: {}\n\n{}", d.subject, d.body);
            }
        }
        DraftCommand::Send { id, push } => {
            let saved = engine.block_on(engine.open_draft(id))??;
            let account = saved.draft.account.clone();
            let queued = engine.block_on(engine.send_draft(id, saved.mode, saved.draft))??;
            deliver(engine, &account, queued, push)?;
        }
        DraftCommand::Discard { id, push } => {
            engine.discard_draft(id)?;
            push_now(engine, push)?;
        }
    }
    Ok(())
}

/// `brevdue attachment ID INDEX`: writes one attachment to --save, or into the engine's
/// private cache (--open), and prints the path.
pub fn attachment(engine: &Engine, id: i64, index: u32, save: Option<PathBuf>) -> Result<()> {
    let path = match save {
        Some(path) => engine.block_on(engine.save_attachment(id, index, path))??,
        None => engine.block_on(engine.open_attachment(id, index))??,
    };
    outln!("{path}");
    Ok(())
}
