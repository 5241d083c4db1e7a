//! `brevdue`: the command-line front end of the Brevdue engine. Its commands and JSON
//! shapes are a contract for scripts; errors are one line on stderr and a non-zero exit.

/// Like `println!`, but ends the program quietly when stdout is closed (`brevdue list | head`),
/// and prints only what is safe for a terminal (`printable`: line breaks and tabs stay;
/// fields inside a line go through `printable::field` first).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::write_line(format_args!($($arg)*))
    };
}

/// Like `eprintln!`, but one line, safe for a terminal (errors carry servers' texts).
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::write_error_line(format_args!($($arg)*))
    };
}

mod accounts;
mod bench;
mod changes;
mod credentials;
mod demo;
mod discovery;
mod drafts;
mod mailbox;
mod oauth;
mod output;
mod printable;
mod send;
mod settings;
mod sync;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use accounts::AccountCommand;
use brevdue_core::{Engine, EngineOptions, ErrorKind, Result};
use changes::{FolderCommand, OpsCommand, PushArgs};
use clap::{Parser, Subcommand};
use serde_json::Value;
use settings::ConfigCommand;

#[derive(Parser)]
#[command(
    name = "brevdue",
    version,
    about = "Brevdue: one mail engine for phone and PC"
)]
struct Cli {
    /// Where the engine keeps its cache (default: the platform's data directory).
    #[arg(long, global = true, env = "BREVDUE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Ignore an IMAP extension even when offered (repeatable; for testing fallbacks).
    #[arg(long = "disable-extension", global = true, hide = true)]
    disabled_extensions: Vec<String>,
    /// The link is metered (mobile data, a phone's hotspot): bodies are not downloaded
    /// ahead of time unless `config prefetch-when-metered on`.
    #[arg(long, global = true, env = "BREVDUE_METERED")]
    metered: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Add, list or remove accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// One sync pass over one account or all of them.
    Sync { name: Option<String> },
    /// Folders with their message and unread counts.
    Folders {
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Messages, newest first.
    List {
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        folder: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long, default_value_t = 0)]
        offset: u32,
        #[arg(long)]
        json: bool,
    },
    /// One message with its body (downloaded now if needed).
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
        /// Keep remote images in the HTML (this time only).
        #[arg(long)]
        allow_remote: bool,
        /// The HTML as the sender wrote it, not sanitized.
        #[arg(long)]
        raw_html: bool,
    },
    /// Full-text search of the local cache, newest first.
    Search {
        query: String,
        #[arg(long)]
        account: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Conversations of a folder, newest first.
    Threads {
        #[arg(long)]
        account: String,
        #[arg(long, default_value = "INBOX")]
        folder: String,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Mark messages read, unread, flagged or unflagged.
    Mark {
        #[arg(required = true)]
        ids: Vec<i64>,
        #[arg(long, group = "flag")]
        read: bool,
        #[arg(long, group = "flag")]
        unread: bool,
        #[arg(long, group = "flag")]
        flagged: bool,
        #[arg(long, group = "flag")]
        unflagged: bool,
        #[command(flatten)]
        push: PushArgs,
    },
    /// Move messages to another folder of their account.
    Move {
        #[arg(required = true)]
        ids: Vec<i64>,
        #[arg(long)]
        to: String,
        #[command(flatten)]
        push: PushArgs,
    },
    /// Move messages to the Archive folder.
    Archive {
        #[arg(required = true)]
        ids: Vec<i64>,
        #[command(flatten)]
        push: PushArgs,
    },
    /// Move messages to Trash (from Trash: delete them for good).
    Delete {
        #[arg(required = true)]
        ids: Vec<i64>,
        #[command(flatten)]
        push: PushArgs,
    },
    /// Create, rename or delete folders.
    Folder {
        #[command(subcommand)]
        command: FolderCommand,
        /// The account (needed when there is more than one).
        #[arg(long, global = true)]
        account: Option<String>,
        #[command(flatten)]
        push: PushArgs,
    },
    /// Changes not yet on the server, and those it refused.
    Ops {
        #[command(subcommand)]
        command: Option<OpsCommand>,
        #[arg(long)]
        json: bool,
    },
    /// Write a new message and send it.
    Send(send::SendArgs),
    /// Reply to a message (to everyone in it with --all).
    Reply {
        id: i64,
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        body: send::Body,
        #[command(flatten)]
        push: PushArgs,
    },
    /// Forward a message with its attachments.
    Forward {
        id: i64,
        #[arg(long)]
        to: String,
        #[command(flatten)]
        body: send::Body,
        #[command(flatten)]
        push: PushArgs,
    },
    /// Drafts in the account's Drafts folder: save, show, send, discard.
    #[command(subcommand)]
    Draft(drafts::DraftCommand),
    /// Write one attachment (by its position, from 0) to a file and print its path: where
    /// --save says, else into the engine's private cache for a viewer.
    Attachment {
        id: i64,
        index: u32,
        #[arg(long)]
        save: Option<PathBuf>,
    },
    /// Messages waiting to be sent, and those the server refused.
    Outbox {
        #[command(subcommand)]
        command: Option<send::OutboxCommand>,
        #[arg(long)]
        json: bool,
    },
    /// "POP or IMAP?" on two devices: a private mail server, the same story three times.
    Demo {
        /// The figures as JSON instead of the tables.
        #[arg(long)]
        json: bool,
    },
    /// Stay connected (IDLE) and print one JSON line per event, until interrupted.
    Watch { name: Option<String> },
    /// Engine settings.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// In-process measurements for the benchmark (tests/bench/run.py drives the rest).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .map(|d| d.join("brevdue"))
        .unwrap_or_else(|| PathBuf::from(".brevdue"))
}

/// JSON is printed as it is: it is a contract, and its strings are escaped for JSON.
pub(crate) fn print_json(value: &Value) {
    write_raw_line(&serde_json::to_string_pretty(value).unwrap_or_default());
}

fn main() -> ExitCode {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // No colour codes in a log file or a pipe.
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BREVDUE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            errln!("error: {err}");
            ExitCode::from(exit_code(err.kind))
        }
    }
}

/// Distinct exit codes for the failures scripts most often need to tell apart.
fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::AuthFailed | ErrorKind::MissingCredentials => 3,
        ErrorKind::ConnectionRefused | ErrorKind::Timeout | ErrorKind::Network => 4,
        ErrorKind::CertificateNotTrusted | ErrorKind::WrongHostName | ErrorKind::Tls => 5,
        ErrorKind::NotFound => 6,
        ErrorKind::SendRefused => 7,
        _ => 1,
    }
}

fn open_engine(cli: &Cli) -> Result<Engine> {
    // Engine::open creates the directory, private to its owner.
    let dir = cli.data_dir.clone().unwrap_or_else(default_data_dir);
    let credentials = Arc::new(credentials::FileCredentials::new(
        dir.join("passwords.json"),
    ));
    let engine = Engine::open(
        &dir,
        credentials,
        EngineOptions {
            disabled_extensions: cli.disabled_extensions.clone(),
            ..EngineOptions::default()
        },
    )?;
    engine.set_metered(cli.metered);
    Ok(engine)
}

fn run(cli: Cli) -> Result<()> {
    // The demo runs its own engines in their own directories.
    if let Command::Demo { json } = cli.command {
        return demo::run(json);
    }
    let engine = open_engine(&cli)?;
    let engine = &engine;
    match cli.command {
        Command::Account(command) => accounts::run(engine, command)?,
        Command::Sync { name } => sync::sync(engine, name)?,
        Command::Folders { account, json } => mailbox::folders(engine, account, json)?,
        Command::List {
            account,
            folder,
            limit,
            offset,
            json,
        } => mailbox::list(engine, account, folder, limit, offset, json)?,
        Command::Show {
            id,
            json,
            allow_remote,
            raw_html,
        } => mailbox::show(engine, id, json, allow_remote, raw_html)?,
        Command::Search {
            query,
            account,
            limit,
            json,
        } => mailbox::search(engine, query, account, limit, json)?,
        Command::Threads {
            account,
            folder,
            limit,
            json,
        } => mailbox::threads(engine, account, folder, limit, json)?,
        Command::Config(command) => settings::run(engine, command)?,
        Command::Mark {
            ids,
            read,
            unread,
            flagged,
            unflagged,
            push,
        } => changes::mark(engine, ids, read, unread, flagged, unflagged, push)?,
        Command::Move { ids, to, push } => changes::move_to(engine, ids, to, push)?,
        Command::Archive { ids, push } => changes::archive(engine, ids, push)?,
        Command::Delete { ids, push } => changes::delete(engine, ids, push)?,
        Command::Folder {
            command,
            account,
            push,
        } => changes::folder(engine, command, account, push)?,
        Command::Ops { command, json } => changes::ops(engine, command, json)?,
        Command::Send(args) => send::send(engine, args)?,
        Command::Reply {
            id,
            all,
            body,
            push,
        } => send::reply(engine, id, all, body, push)?,
        Command::Forward { id, to, body, push } => send::forward(engine, id, &to, body, push)?,
        Command::Outbox { command, json } => send::outbox(engine, command, json)?,
        Command::Draft(command) => drafts::run(engine, command)?,
        Command::Attachment { id, index, save } => drafts::attachment(engine, id, index, save)?,
        Command::Demo { .. } => unreachable!("handled before the engine opens"),
        Command::Watch { name } => sync::watch(engine, name)?,
        Command::Bench(command) => bench::run(engine, command)?,
    }
    Ok(())
}

fn write_line(line: std::fmt::Arguments<'_>) {
    let line = line.to_string();
    write_raw_line(&printable::printable(&line, printable::Keep::Layout));
}

fn write_raw_line(line: &str) {
    use std::io::Write;
    if let Err(err) = writeln!(std::io::stdout().lock(), "{line}") {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        errln!("error: cannot write the output: {err}");
        std::process::exit(1);
    }
}

fn write_error_line(line: std::fmt::Arguments<'_>) {
    let line = line.to_string();
    eprintln!("{}", printable::printable(&line, printable::Keep::Nothing));
}
