//! Reading the local cache: `folders`, `list`, `show`, `search`, `threads`.

use brevdue_core::reading::ReadingOptions;
use brevdue_core::{Engine, MessageSummary, Result};
use serde_json::Value;

use crate::{output, print_json, printable};

pub fn folders(engine: &Engine, account: Option<String>, json: bool) -> Result<()> {
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
    Ok(())
}

pub fn list(
    engine: &Engine,
    account: Option<String>,
    folder: Option<String>,
    limit: u32,
    offset: u32,
    json: bool,
) -> Result<()> {
    let messages = engine.messages(account.as_deref(), folder.as_deref(), limit, offset)?;
    print_summaries(&messages, json);
    Ok(())
}

pub fn show(
    engine: &Engine,
    id: i64,
    json: bool,
    allow_remote: bool,
    raw_html: bool,
) -> Result<()> {
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
    Ok(())
}

pub fn search(
    engine: &Engine,
    query: String,
    account: Option<String>,
    limit: u32,
    json: bool,
) -> Result<()> {
    let messages = engine.search(&query, account.as_deref(), limit)?;
    print_summaries(&messages, json);
    Ok(())
}

pub fn threads(
    engine: &Engine,
    account: String,
    folder: String,
    limit: u32,
    json: bool,
) -> Result<()> {
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
    Ok(())
}

pub fn print_summaries(messages: &[MessageSummary], json: bool) {
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
