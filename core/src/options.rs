//! Tuning that front ends normally leave alone.

use std::time::Duration;

use crate::net::ConnectPolicy;

#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// IMAP extensions to ignore even when offered (to exercise fallbacks).
    pub disabled_extensions: Vec<String>,
    /// Folders watched with IDLE, each on its own connection.
    pub idle_folders: Vec<String>,
    /// IDLE is re-issued this often, well before servers drop it (RFC 2177: 29 min).
    pub idle_renewal: Duration,
    /// A full sync this often while connected (folders IDLE does not watch, renames),
    /// and the polling interval where IDLE is missing.
    pub poll_interval: Duration,
    /// First wait before reconnecting a dropped push connection; doubles up to a minute.
    pub reconnect_delay: Duration,
    /// Use COMPRESS=DEFLATE even for a server on this machine (where it only costs CPU).
    pub compress_loopback: bool,
    /// Limit for connecting, the TLS handshake and the server's greeting.
    pub connect_timeout: Duration,
    /// How long a server may stay silent while an answer is awaited before the
    /// connection is taken as lost (a long answer that keeps arriving is never cut).
    pub silence_limit: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            disabled_extensions: Vec::new(),
            idle_folders: vec!["INBOX".to_owned()],
            // Four wake-ups an hour; each renewal is also a full pass.
            idle_renewal: Duration::from_secs(15 * 60),
            poll_interval: Duration::from_secs(5 * 60),
            reconnect_delay: Duration::from_secs(1),
            compress_loopback: false,
            connect_timeout: crate::net::CONNECT_TIMEOUT,
            silence_limit: crate::net::SILENCE_LIMIT,
        }
    }
}

impl EngineOptions {
    pub fn connect_policy(&self) -> ConnectPolicy {
        ConnectPolicy {
            disabled_extensions: self.disabled_extensions.clone(),
            compress_loopback: self.compress_loopback,
            connect_timeout: self.connect_timeout,
            silence_limit: self.silence_limit,
        }
    }
}
