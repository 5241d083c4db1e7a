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

mod bench;
mod credentials;
mod demo;
mod output;
mod printable;
mod send;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use brevdue_core::reading::ReadingOptions;
use brevdue_core::setup::AccountDraft;
use brevdue_core::{
    Engine, EngineOptions, Error, ErrorKind, Event, EventListener, FlagChange, Protocol, Result,
    Security, ServerConfig,
};
use clap::{Parser, Subcommand};
use serde_json::Value;

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

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run
enum AccountCommand {
    /// Checks the login, then saves the account. A failure saves nothing.
    Add {
        name: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "imap")]
        protocol: String,
        #[arg(long)]
        host: String,
        #[arg(long)]
        port: Option<u16>,
        /// tls, starttls, or plain (plain sends the password unencrypted). Default: by
        /// --port (143 and 110 mean starttls), else tls.
        #[arg(long)]
        security: Option<String>,
        /// Login name (default: --email).
        #[arg(long)]
        user: Option<String>,
        /// Name of the environment variable that holds the password.
        #[arg(long)]
        password_env: String,
        /// Extra trusted CA certificate (PEM), on top of the system's.
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// POP3 only: delete-after-download, never, after-days:N or when-deleted-here.
        #[arg(long, default_value = "never")]
        pop3_delete: String,
        /// The name shown in From.
        #[arg(long, default_value = "")]
        display_name: String,
        /// SMTP server (default: the mail server's host; port 465 or 587 by security).
        #[arg(long)]
        smtp_host: Option<String>,
        #[arg(long)]
        smtp_port: Option<u16>,
        /// tls, starttls or plain (default: by --smtp-port, else as the mail server).
        #[arg(long)]
        smtp_security: Option<String>,
        /// SMTP login (default: --user).
        #[arg(long)]
        smtp_user: Option<String>,
    },
    /// Move a POP3 account to IMAP on the same server, keeping read state, flags,
    /// folders and mail the server no longer has.
    SwitchToImap {
        name: String,
        /// IMAP host (default: the POP3 host).
        #[arg(long)]
        host: Option<String>,
        /// IMAP port (default: 993 with tls, else 143).
        #[arg(long)]
        port: Option<u16>,
        /// tls, starttls or plain (default: as the POP3 account).
        #[arg(long)]
        security: Option<String>,
    },
    /// Add an address the account sends from (or change its display name).
    Identity {
        name: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "")]
        display_name: String,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Remove {
        name: String,
    },
}

#[derive(clap::Args)]
pub(crate) struct PushArgs {
    /// Only queue the change; do not contact the server now.
    #[arg(long, global = true)]
    pub(crate) no_push: bool,
}

#[derive(Subcommand)]
enum FolderCommand {
    Create { name: String },
    Rename { old: String, new: String },
    Delete { name: String },
}

#[derive(Subcommand)]
enum OpsCommand {
    /// Apply a failed change again and queue it.
    Retry { id: i64 },
    /// Forget a failed change (it was already undone here).
    Discard { id: i64 },
    /// Undo a change that has not reached the server yet (and those that depend on it).
    Cancel { id: i64 },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Bodies downloaded ahead of time per folder: a number, or "all". Prints it without a value.
    BodyPrefetch { value: Option<String> },
    /// The largest message downloaded ahead of time, in bytes, or "none" for any size;
    /// larger ones are downloaded when opened. Prints it without a value.
    DownloadLimit { value: Option<String> },
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
    Engine::open(
        &dir,
        credentials,
        EngineOptions {
            disabled_extensions: cli.disabled_extensions.clone(),
            ..EngineOptions::default()
        },
    )
}

fn run(cli: Cli) -> Result<()> {
    // The demo runs its own engines in their own directories.
    if let Command::Demo { json } = cli.command {
        return demo::run(json);
    }
    let engine = open_engine(&cli)?;
    match cli.command {
        Command::Account(AccountCommand::Add {
            name,
            email,
            protocol,
            host,
            port,
            security,
            user,
            password_env,
            ca_file,
            pop3_delete,
            display_name,
            smtp_host,
            smtp_port,
            smtp_security,
            smtp_user,
        }) => {
            let password = std::env::var(&password_env).map_err(|_| {
                Error::invalid(format!("environment variable {password_env} is not set"))
            })?;
            let draft = AccountDraft {
                name: Some(name),
                email: Some(email),
                display_name: Some(display_name),
                protocol: Some(protocol.parse()?),
                host: Some(host),
                port,
                security: security.as_deref().map(str::parse).transpose()?,
                username: user,
                ca_file: ca_file.map(|p| p.to_string_lossy().into_owned()),
                smtp_host,
                smtp_port,
                smtp_security: smtp_security.as_deref().map(str::parse).transpose()?,
                smtp_username: smtp_user,
                pop3_delete: Some(pop3_delete.parse()?),
            };
            let config = draft.resolve()?;
            let account = engine.block_on(engine.add_account(config, password))??;
            errln!(
                "added account '{}' ({} at {}:{})",
                account.name,
                account.protocol.as_str(),
                account.server.host,
                account.server.port
            );
        }
        Command::Account(AccountCommand::List { json }) => {
            let accounts = engine.accounts()?;
            if json {
                print_json(&Value::Array(
                    accounts.iter().map(output::account_json).collect(),
                ));
            } else {
                for a in &accounts {
                    outln!(
                        "{}\t{}\t{}\t{}:{}\t{}",
                        printable::field(&a.name),
                        printable::field(&a.email),
                        a.protocol.as_str(),
                        printable::field(&a.server.host),
                        a.server.port,
                        a.server.security.as_str()
                    );
                }
            }
        }
        Command::Account(AccountCommand::SwitchToImap {
            name,
            host,
            port,
            security,
        }) => {
            let imap = if host.is_some() || port.is_some() || security.is_some() {
                let account = engine.account(&name)?;
                let security: Security = match security {
                    Some(s) => s.parse()?,
                    None => account.server.security,
                };
                Some(ServerConfig {
                    host: host.unwrap_or(account.server.host.clone()),
                    port: port
                        .unwrap_or_else(|| ServerConfig::default_port(Protocol::Imap, security)),
                    security,
                    ..account.server
                })
            } else {
                None
            };
            let r = engine.block_on(engine.switch_to_imap(&name, imap))??;
            errln!(
                "'{name}' now uses IMAP: {} message(s) matched on the server, {} uploaded, \
                 {} filed into folders, {} with read state or flags set, {} folder(s) created",
                r.matched,
                r.uploaded,
                r.moved,
                r.flags_set,
                r.folders_created
            );
        }
        Command::Account(AccountCommand::Identity {
            name,
            email,
            display_name,
        }) => engine.add_identity(&name, &display_name, &email)?,
        Command::Account(AccountCommand::Remove { name }) => {
            engine.block_on(engine.remove_account(name.clone()))??;
            errln!("removed account '{name}'");
        }
        Command::Sync { name } => {
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
        }
        Command::Folders { account, json } => {
            let folders = engine.folders(account.as_deref())?;
            if json {
                print_json(&Value::Array(
                    folders.iter().map(output::folder_json).collect(),
                ));
            } else {
                for f in &folders {
                    outln!(
                        "{:<12} {:<30} {:<8} {:>6} {:>6}",
                        printable::field(&f.account),
                        printable::field(&f.name),
                        f.role.map(|r| r.as_str()).unwrap_or(""),
                        f.total,
                        f.unread
                    );
                }
            }
        }
        Command::List {
            account,
            folder,
            limit,
            offset,
            json,
        } => {
            let messages = engine.messages(account.as_deref(), folder.as_deref(), limit, offset)?;
            print_summaries(&messages, json);
        }
        Command::Show {
            id,
            json,
            allow_remote,
            raw_html,
        } => {
            let options = ReadingOptions {
                allow_remote_once: allow_remote,
                mark_read: Some(false),
            };
            let reading = engine.block_on(engine.open_for_reading(id, options))??;
            if let Some(problem) = &reading.problem {
                errln!(
                    "warning: the body could not be downloaded: {}",
                    problem.message
                );
            }
            let mut message = reading.message;
            if raw_html {
                message.html = engine.message(id)?.html;
            }
            if json {
                let mut value = output::message_json(&message);
                value["html_sanitized"] = Value::Bool(!raw_html);
                value["blocked_remote"] = reading.blocked_remote.into();
                print_json(&value);
            } else {
                outln!("{}", output::message_text(&message));
            }
        }
        Command::Search {
            query,
            account,
            limit,
            json,
        } => {
            let messages = engine.search(&query, account.as_deref(), limit)?;
            print_summaries(&messages, json);
        }
        Command::Threads {
            account,
            folder,
            limit,
            json,
        } => {
            let threads = engine.threads(&account, &folder, limit)?;
            if json {
                let list: Vec<Value> = threads
                    .iter()
                    .map(|t| {
                        serde_json::json!({
                            "thread_id": t.thread_id,
                            "count": t.count,
                            "unread": t.unread,
                            "newest": output::summary_json(&t.newest),
                        })
                    })
                    .collect();
                print_json(&Value::Array(list));
            } else {
                for t in &threads {
                    outln!("[{:>3}] {}", t.count, output::summary_line(&t.newest));
                }
            }
        }
        Command::Config(ConfigCommand::BodyPrefetch { value }) => match value.as_deref() {
            None => match engine.body_prefetch()? {
                Some(n) => outln!("{n}"),
                None => outln!("all"),
            },
            Some("all") => engine.set_body_prefetch(None)?,
            Some(n) => engine.set_body_prefetch(Some(n.parse().map_err(|_| {
                Error::invalid(format!("'{n}' is neither a number nor \"all\""))
            })?))?,
        },
        Command::Config(ConfigCommand::DownloadLimit { value }) => match value.as_deref() {
            None => match engine.download_limit()? {
                Some(n) => outln!("{n}"),
                None => outln!("none"),
            },
            Some("none") => engine.set_download_limit(None)?,
            Some(n) => engine.set_download_limit(Some(n.parse().map_err(|_| {
                Error::invalid(format!("'{n}' is neither a number of bytes nor \"none\""))
            })?))?,
        },
        Command::Mark {
            ids,
            read,
            unread,
            flagged,
            unflagged,
            push,
        } => {
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
            push_now(&engine, push)?;
        }
        Command::Move { ids, to, push } => {
            engine.move_messages(&ids, &to)?;
            push_now(&engine, push)?;
        }
        Command::Archive { ids, push } => {
            engine.archive(&ids)?;
            push_now(&engine, push)?;
        }
        Command::Delete { ids, push } => {
            engine.delete(&ids)?;
            push_now(&engine, push)?;
        }
        Command::Folder {
            command,
            account,
            push,
        } => {
            let account = match account {
                Some(name) => name,
                None => only_account(&engine)?,
            };
            match command {
                FolderCommand::Create { name } => engine.create_folder(&account, &name)?,
                FolderCommand::Rename { old, new } => engine.rename_folder(&account, &old, &new)?,
                FolderCommand::Delete { name } => engine.delete_folder(&account, &name)?,
            }
            push_now(&engine, push)?;
        }
        Command::Ops { command, json } => match command {
            Some(OpsCommand::Retry { id }) => {
                engine.retry_change(id)?;
                push_now(&engine, PushArgs { no_push: false })?;
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
        },
        Command::Send(args) => send::send(&engine, args)?,
        Command::Reply {
            id,
            all,
            body,
            push,
        } => send::reply(&engine, id, all, body, push)?,
        Command::Forward { id, to, body, push } => send::forward(&engine, id, &to, body, push)?,
        Command::Outbox { command, json } => send::outbox(&engine, command, json)?,
        Command::Demo { .. } => unreachable!("handled before the engine opens"),
        Command::Watch { name } => watch(&engine, name)?,
        Command::Bench(command) => bench::run(&engine, command)?,
    }
    Ok(())
}

fn print_summaries(messages: &[brevdue_core::MessageSummary], json: bool) {
    if json {
        print_json(&Value::Array(
            messages.iter().map(output::summary_json).collect(),
        ));
    } else {
        for m in messages {
            outln!("{}", output::summary_line(m));
        }
    }
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

struct JsonLines;

impl EventListener for JsonLines {
    fn on_event(&self, event: Event) {
        write_raw_line(&output::event_json(&event).to_string());
    }
}

/// Stays connected and prints events until interrupted.
fn watch(engine: &Engine, account: Option<String>) -> Result<()> {
    let _subscription = engine.subscribe(Arc::new(JsonLines))?;
    engine.start_push(account.as_deref())?;
    engine.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    })?;
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
