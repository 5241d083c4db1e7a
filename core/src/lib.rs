//! Brevdue's mail engine: IMAP and POP3 sync into a local SQLite cache, SMTP sending, one
//! engine for every device (exported to Kotlin and Swift by `ffi`).

// Layers, lowest first; a module uses only those below it (the README lists the few
// exceptions). Records: advice, error, model, mail. Pure work: mime, compose, html, setup. Connections
// and protocols: net, imap, pop3, smtp, discover. Storage: store. Services: session, queue, sync,
// outbox, switch, push, composed in services; drafts, reading, live
// (lists as live queries) and status on top of them. Facade: engine. Export: ffi.
pub mod account_edit;
pub mod advice;
pub mod compose;
pub mod credentials;
pub mod discover;
pub mod drafts;
pub mod engine;
pub mod error;
pub mod events;
pub mod ffi;
pub mod html;
pub mod imap;
pub mod live;
mod lockfile;
pub mod mail;
pub mod mime;
pub mod mime_file;
pub mod model;
pub mod net;
pub mod oauth;
mod options;
mod outbox;
pub mod pop3;
mod push;
pub mod queue;
pub mod reading;
mod services;
mod session;
pub mod setup;
pub mod smtp;
pub mod status;
pub mod store;
pub mod switch;
pub mod sync;

pub use credentials::{CredentialStore, MemoryCredentials};
pub use engine::{Engine, EngineOptions};
pub use error::{Error, ErrorKind, Result};
pub use events::{EventListener, Subscription};
pub use model::*;
pub use switch::SwitchReport;

uniffi::setup_scaffolding!();
