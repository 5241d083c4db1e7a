//! A way in for the fuzz targets (`fuzz/`, feature `fuzzing`): the engine's commands on a
//! session set up by the caller over any stream.
#![cfg(feature = "fuzzing")]

use super::{ImapConnection, ServerCaps, Session};

impl ImapConnection {
    /// An `ImapConnection` on a logged-in `session`, using the extensions in `caps`.
    pub fn for_fuzzing(session: Session, caps: ServerCaps) -> Self {
        Self {
            session,
            caps,
            target: "fuzz".to_owned(),
            selected: None,
            clock: super::codes::Clock {
                activity: crate::net::Activity::new(),
                silence_limit: crate::net::SILENCE_LIMIT,
            },
            naming: Default::default(),
            selected_status: None,
        }
    }
}
