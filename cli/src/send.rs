//! `send`, `reply`, `forward` and `outbox`: compose into the outbox, then send it now
//! unless told not to. An unreachable server leaves the message queued (exit 0).

use std::path::PathBuf;

use brevdue_core::compose::{guess_mime_type, parse_addresses};
use brevdue_core::{Address, AttachmentFile, Draft, Engine, Error, ErrorKind, Result};
use serde_json::Value;

use crate::changes::{push_now, PushArgs};
use crate::{output, print_json};

#[derive(clap::Args)]
pub struct Body {
    /// The text of the message.
    #[arg(long, group = "text", required = true)]
    body: Option<String>,
    /// Read the text from a file ("-" for stdin).
    #[arg(long, group = "text", required = true)]
    body_file: Option<PathBuf>,
    /// Attach a file (repeatable).
    #[arg(long = "attach")]
    attachments: Vec<PathBuf>,
}

#[derive(clap::Args)]
pub struct SendArgs {
    #[arg(long)]
    account: String,
    /// Recipients, comma-separated ("Name <a@b>, c@d").
    #[arg(long)]
    to: String,
    #[arg(long)]
    cc: Option<String>,
    #[arg(long)]
    bcc: Option<String>,
    #[arg(long)]
    subject: String,
    /// One of the account's identities (default: its first).
    #[arg(long)]
    from: Option<String>,
    #[command(flatten)]
    body: Body,
    #[command(flatten)]
    push: PushArgs,
}

#[derive(clap::Subcommand)]
pub enum OutboxCommand {
    /// Try to send everything queued now.
    Send,
    /// Take a message out of the outbox (a refused one keeps its draft).
    Remove { id: i64 },
}

pub(crate) fn addresses(list: Option<&str>) -> Result<Vec<Address>> {
    match list {
        Some(list) if !list.trim().is_empty() => parse_addresses(list),
        _ => Ok(Vec::new()),
    }
}

pub(crate) fn read_body(body: &Body) -> Result<(String, Vec<AttachmentFile>)> {
    let text = match (&body.body, &body.body_file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) if path.as_os_str() == "-" => std::io::read_to_string(std::io::stdin())
            .map_err(|err| Error::invalid(format!("cannot read the text from stdin: {err}")))?,
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|err| {
            Error::invalid(format!(
                "cannot read the text from {}: {err}",
                path.display()
            ))
        })?,
        (None, None) => return Err(Error::invalid("say --body or --body-file")),
    };
    let attachments = body
        .attachments
        .iter()
        .map(|path| {
            let data = std::fs::read(path).map_err(|err| {
                Error::invalid(format!("cannot attach {}: {err}", path.display()))
            })?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "attachment".to_owned());
            Ok(AttachmentFile {
                mime_type: guess_mime_type(&name),
                name,
                data,
            })
        })
        .collect::<Result<_>>()?;
    Ok((text, attachments))
}

pub fn send(engine: &Engine, args: SendArgs) -> Result<()> {
    let (body, attachments) = read_body(&args.body)?;
    let draft = Draft {
        account: args.account.clone(),
        from: args.from,
        to: addresses(Some(&args.to))?,
        cc: addresses(args.cc.as_deref())?,
        bcc: addresses(args.bcc.as_deref())?,
        subject: args.subject,
        body,
        attachments,
    };
    let id = engine.block_on(engine.send(draft))??;
    deliver(engine, &args.account, id, args.push)
}

pub fn reply(engine: &Engine, original: i64, all: bool, body: Body, push: PushArgs) -> Result<()> {
    let account = engine.message(original)?.summary.account;
    let (text, attachments) = read_body(&body)?;
    let draft = Draft {
        account: account.clone(),
        body: text,
        attachments,
        ..Draft::default()
    };
    let id = engine.block_on(engine.reply(original, all, draft))??;
    deliver(engine, &account, id, push)
}

pub fn forward(engine: &Engine, original: i64, to: &str, body: Body, push: PushArgs) -> Result<()> {
    let account = engine.message(original)?.summary.account;
    let (text, attachments) = read_body(&body)?;
    let draft = Draft {
        account: account.clone(),
        to: addresses(Some(to))?,
        body: text,
        attachments,
        ..Draft::default()
    };
    let id = engine.block_on(engine.forward(original, draft))??;
    deliver(engine, &account, id, push)
}

/// Sends the outbox now and says what became of message `id`: sent (its Message-ID on
/// stdout), still queued (stderr, exit 0), or refused (an error; kept as a draft).
pub(crate) fn deliver(engine: &Engine, account: &str, id: i64, push: PushArgs) -> Result<()> {
    let queued = engine
        .outbox(Some(account))?
        .into_iter()
        .find(|m| m.id == id)
        .ok_or_else(|| Error::not_found(format!("outbox message {id}")))?;
    if push.no_push {
        errln!("queued: outbox message {id}; it is sent on the next sync");
        return Ok(());
    }
    let report = engine.block_on(engine.send_outbox(Some(account.to_owned())))??;
    match engine
        .outbox(Some(account))?
        .into_iter()
        .find(|m| m.id == id)
    {
        None => {
            errln!(
                "sent '{}' to {}",
                queued.subject,
                queued.recipients.join(", ")
            );
            outln!("{}", queued.message_id);
        }
        Some(m) if m.state == brevdue_core::OutboxState::Failed => {
            return Err(Error::new(
                ErrorKind::SendRefused,
                format!(
                    "{}; the message was kept as draft {}",
                    m.last_error,
                    m.draft_id.map(|d| d.to_string()).unwrap_or_default()
                ),
            ));
        }
        Some(m) => {
            let reason = report.offline.unwrap_or(m.last_error);
            errln!("queued: outbox message {id} waits ({reason}); it is sent on the next sync");
            return Ok(());
        }
    }
    // The sent copy and the \Answered / $Forwarded mark go to the server now too.
    push_now(engine, push)
}

pub fn outbox(engine: &Engine, command: Option<OutboxCommand>, json: bool) -> Result<()> {
    match command {
        Some(OutboxCommand::Send) => {
            let report = engine.block_on(engine.send_outbox(None))??;
            errln!(
                "{} sent, {} refused, {} still queued{}",
                report.sent,
                report.failed,
                report.queued,
                report
                    .offline
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            );
            push_now(engine, PushArgs { no_push: false })?;
        }
        Some(OutboxCommand::Remove { id }) => engine.remove_from_outbox(id)?,
        None => {
            let messages = engine.outbox(None)?;
            if json {
                print_json(&Value::Array(
                    messages.iter().map(output::outbox_json).collect(),
                ));
            } else {
                for m in &messages {
                    outln!("{}", output::outbox_line(m));
                }
            }
        }
    }
    Ok(())
}
