//! Changing mail and folders (`mark`, `move`, `archive`, `delete`, `folder`) and the
//! change queue (`ops`): each change is made here at once and queued for the server.

use brevdue_core::{Engine, Error, ErrorKind, FlagChange, Result};
use clap::Subcommand;
use serde_json::Value;

use crate::{output, print_json};

#[derive(clap::Args)]
pub(crate) struct PushArgs {
    /// Only queue the change; do not contact the server now.
    #[arg(long, global = true)]
    pub(crate) no_push: bool,
}

#[derive(Subcommand)]
pub enum FolderCommand {
    Create {
        name: String,
    },
    Rename {
        old: String,
        new: String,
    },
    Delete {
        name: String,
    },
    /// Make FOLDER the account's sent, drafts, trash, junk or archive folder (for a
    /// server that names none, or another one).
    Role {
        folder: String,
        role: String,
    },
}

#[derive(Subcommand)]
pub enum OpsCommand {
    /// Apply a failed change again and queue it.
    Retry { id: i64 },
    /// Forget a failed change (it was already undone here).
    Discard { id: i64 },
    /// Undo a change that has not reached the server yet (and those that depend on it).
    Cancel { id: i64 },
}

pub fn mark(
    engine: &Engine,
    ids: Vec<i64>,
    read: bool,
    unread: bool,
    flagged: bool,
    unflagged: bool,
    push: PushArgs,
) -> Result<()> {
    let change = match (read, unread, flagged, unflagged) {
        (true, _, _, _) => FlagChange::Read,
        (_, true, _, _) => FlagChange::Unread,
        (_, _, true, _) => FlagChange::Flagged,
        (_, _, _, true) => FlagChange::Unflagged,
        _ => {
            return Err(Error::invalid(
                "say one of --read, --unread, --flagged, --unflagged",
            ))
        }
    };
    engine.mark(&ids, change)?;
    push_now(engine, push)?;
    Ok(())
}

pub fn move_to(engine: &Engine, ids: Vec<i64>, to: String, push: PushArgs) -> Result<()> {
    engine.move_messages(&ids, &to)?;
    push_now(engine, push)?;
    Ok(())
}

pub fn archive(engine: &Engine, ids: Vec<i64>, push: PushArgs) -> Result<()> {
    engine.archive(&ids)?;
    push_now(engine, push)?;
    Ok(())
}

pub fn delete(engine: &Engine, ids: Vec<i64>, push: PushArgs) -> Result<()> {
    engine.delete(&ids)?;
    push_now(engine, push)?;
    Ok(())
}

pub fn folder(
    engine: &Engine,
    command: FolderCommand,
    account: Option<String>,
    push: PushArgs,
) -> Result<()> {
    let account = match account {
        Some(name) => name,
        None => only_account(engine)?,
    };
    match command {
        FolderCommand::Create { name } => engine.create_folder(&account, &name)?,
        FolderCommand::Rename { old, new } => engine.rename_folder(&account, &old, &new)?,
        FolderCommand::Delete { name } => engine.delete_folder(&account, &name)?,
        FolderCommand::Role { folder, role } => {
            let role = brevdue_core::FolderRole::parse(&role.to_lowercase()).ok_or_else(|| {
                Error::invalid(format!(
                    "unknown role '{role}' (sent, drafts, trash, junk or archive)"
                ))
            })?;
            engine.choose_special_folder(&account, role, &folder)?;
            return Ok(());
        }
    }
    push_now(engine, push)?;
    Ok(())
}

pub fn ops(engine: &Engine, command: Option<OpsCommand>, json: bool) -> Result<()> {
    match command {
        Some(OpsCommand::Retry { id }) => {
            engine.retry_change(id)?;
            push_now(engine, PushArgs { no_push: false })?;
        }
        Some(OpsCommand::Discard { id }) => engine.discard_change(id)?,
        Some(OpsCommand::Cancel { id }) => {
            let undone = engine.block_on(engine.cancel_change(id))??;
            errln!("undid {} change(s) here", undone.len());
        }
        None => {
            let changes = engine.changes(None)?;
            if json {
                print_json(&Value::Array(
                    changes.iter().map(output::change_json).collect(),
                ));
            } else {
                for c in &changes {
                    outln!("{}", output::change_line(c));
                }
            }
        }
    }
    Ok(())
}

/// The account when there is exactly one.
fn only_account(engine: &Engine) -> Result<String> {
    let accounts = engine.accounts()?;
    match accounts.as_slice() {
        [one] => Ok(one.name.clone()),
        [] => Err(Error::not_found("an account (add one first)")),
        _ => Err(Error::invalid(
            "there are several accounts: say which with --account",
        )),
    }
}

/// Sends queued changes now. An unreachable server leaves them queued (exit 0); a
/// refusal was reverted here and is an error.
pub(crate) fn push_now(engine: &Engine, args: PushArgs) -> Result<()> {
    if args.no_push {
        return Ok(());
    }
    let report = engine.block_on(engine.push_changes(None))??;
    if let Some(reason) = report.offline {
        errln!(
            "queued: {} change(s) wait for the server ({reason}); they are sent on the next sync",
            report.pending
        );
    }
    if report.failed > 0 {
        let refused = engine
            .changes(None)?
            .into_iter()
            .rfind(|c| c.state == brevdue_core::ChangeState::Failed)
            .map(|c| c.last_error)
            .unwrap_or_default();
        return Err(Error::new(
            ErrorKind::Protocol,
            format!("the server refused the change, which was undone here: {refused}"),
        ));
    }
    Ok(())
}
