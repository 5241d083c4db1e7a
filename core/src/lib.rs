//! Brevdue's mail engine: IMAP and POP3 sync into a local SQLite cache, SMTP sending, one
//! engine for every device (exported to Kotlin and Swift by `ffi`).

pub mod compose;
pub mod credentials;
pub mod engine;
pub mod error;
pub mod events;
pub mod ffi;
pub mod html;
pub mod imap;
pub mod mime;
pub mod model;
pub mod net;
mod outbox;
pub mod pop3;
mod push;
pub mod queue;
pub mod smtp;
pub mod store;
pub mod switch;
pub mod sync;
pub mod threading;

pub use credentials::{CredentialStore, MemoryCredentials};
pub use engine::{Engine, EngineOptions};
pub use error::{Error, ErrorKind, Result};
pub use events::{EventListener, Subscription};
pub use model::*;
pub use switch::SwitchReport;

uniffi::setup_scaffolding!();
