//! What a server offers, as read from CAPABILITY, minus what the policy turns off.

/// Server extensions the engine uses when offered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerCaps {
    pub condstore: bool,
    pub qresync: bool,
    pub idle: bool,
    pub move_: bool,
    pub uidplus: bool,
    pub special_use: bool,
    pub compress: bool,
    pub list_status: bool,
    pub esearch: bool,
    /// Gmail's extensions (X-GM-EXT-1): X-GM-MSGID names a message across its labels.
    pub gmail: bool,
    pub all: Vec<String>,
}

impl ServerCaps {
    pub fn from_names(names: &[String]) -> Self {
        let has = |cap: &str| names.iter().any(|n| n.eq_ignore_ascii_case(cap));
        Self {
            condstore: has("CONDSTORE") || has("QRESYNC"),
            qresync: has("QRESYNC"),
            idle: has("IDLE"),
            move_: has("MOVE"),
            uidplus: has("UIDPLUS"),
            special_use: has("SPECIAL-USE"),
            compress: has("COMPRESS=DEFLATE"),
            list_status: has("LIST-STATUS"),
            esearch: has("ESEARCH"),
            gmail: has("X-GM-EXT-1"),
            all: names.to_vec(),
        }
    }

    /// Turns off extensions, to exercise the fallbacks (tests and the benchmark).
    pub fn without(mut self, disabled: &[String]) -> Self {
        for cap in disabled {
            match cap.to_ascii_uppercase().as_str() {
                "CONDSTORE" => {
                    self.condstore = false;
                    self.qresync = false;
                }
                "QRESYNC" => self.qresync = false,
                "IDLE" => self.idle = false,
                "MOVE" => self.move_ = false,
                "UIDPLUS" => self.uidplus = false,
                "SPECIAL-USE" => self.special_use = false,
                "COMPRESS" | "COMPRESS=DEFLATE" => self.compress = false,
                "LIST-STATUS" => self.list_status = false,
                "ESEARCH" => self.esearch = false,
                "X-GM-EXT-1" => self.gmail = false,
                _ => {}
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_and_disabled_extensions() {
        let names: Vec<String> = [
            "IMAP4rev1",
            "CONDSTORE",
            "QRESYNC",
            "MOVE",
            "COMPRESS=DEFLATE",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let caps = ServerCaps::from_names(&names);
        assert!(caps.condstore && caps.qresync && caps.move_ && caps.compress);
        assert!(!caps.idle && !caps.uidplus);
        let caps = caps.without(&["CONDSTORE".into(), "COMPRESS".into()]);
        assert!(!caps.condstore && !caps.qresync && !caps.compress);
        assert!(caps.move_);
    }
}
