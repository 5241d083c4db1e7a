//! `brevdue config …`: the engine's settings.

use brevdue_core::{Engine, Error, Result};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Bodies downloaded ahead of time per folder: a number, or "all". Prints it without a value.
    BodyPrefetch { value: Option<String> },
    /// The largest message downloaded ahead of time, in bytes, or "none" for any size;
    /// larger ones are downloaded when opened. Prints it without a value.
    DownloadLimit { value: Option<String> },
    /// Bodies downloaded ahead of time on a metered link too (`--metered`): "on" or
    /// "off" (the default). Prints it without a value.
    PrefetchWhenMetered { value: Option<String> },
}

pub fn run(engine: &Engine, command: ConfigCommand) -> Result<()> {
    match command {
        ConfigCommand::BodyPrefetch { value } => match value.as_deref() {
            None => match engine.body_prefetch()? {
                Some(n) => outln!("{n}"),
                None => outln!("all"),
            },
            Some("all") => engine.set_body_prefetch(None)?,
            Some(n) => engine.set_body_prefetch(Some(n.parse().map_err(|_| {
                Error::invalid(format!("'{n}' is neither a number nor \"all\""))
            })?))?,
        },
        ConfigCommand::DownloadLimit { value } => match value.as_deref() {
            None => match engine.download_limit()? {
                Some(n) => outln!("{n}"),
                None => outln!("none"),
            },
            Some("none") => engine.set_download_limit(None)?,
            Some(n) => engine.set_download_limit(Some(n.parse().map_err(|_| {
                Error::invalid(format!("'{n}' is neither a number of bytes nor \"none\""))
            })?))?,
        },
        ConfigCommand::PrefetchWhenMetered { value } => match value.as_deref() {
            None => outln!(
                "{}",
                if engine.prefetch_when_metered()? {
                    "on"
                } else {
                    "off"
                }
            ),
            Some("on") => engine.set_prefetch_when_metered(true)?,
            Some("off") => engine.set_prefetch_when_metered(false)?,
            Some(other) => {
                return Err(Error::invalid(format!(
                    "'{other}' is neither \"on\" nor \"off\""
                )))
            }
        },
    }
    Ok(())
}
