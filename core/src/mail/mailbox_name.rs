//! The mailbox-name codec: modified UTF-7 for IMAP mailbox names (RFC 3501 §5.1.3), and
//! a server's way of naming folders (its personal namespace and separator, RFC 2342) both
//! ways, so that people see `Work/2026` where a server says `INBOX.Work.2026`.

use crate::advice::Advice;
use crate::error::{Error, ErrorKind, Result};

/// How a server names folders: the prefix of its personal namespace (`""`, or `INBOX.`
/// on Courier, Cyrus and many hosting providers) and its hierarchy separator (`""` when
/// it has no hierarchy). People see names without the prefix, with `/` between levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    pub prefix: String,
    pub delimiter: String,
}

impl Default for Naming {
    fn default() -> Self {
        Self {
            prefix: String::new(),
            delimiter: "/".to_owned(),
        }
    }
}

/// The separator people see between folder levels.
pub const SHOWN_SEPARATOR: &str = "/";

impl Naming {
    /// How people see a server name: without the personal prefix, `/` between levels,
    /// decoded.
    pub fn display(&self, remote: &str) -> String {
        if remote.eq_ignore_ascii_case("INBOX") {
            return "INBOX".to_owned();
        }
        let rest = match remote.strip_prefix(self.prefix.as_str()) {
            Some(rest) if !self.prefix.is_empty() && !rest.is_empty() => rest,
            _ => remote,
        };
        if self.delimiter.is_empty() || self.delimiter == SHOWN_SEPARATOR {
            return decode(rest);
        }
        rest.split(self.delimiter.as_str())
            .map(decode)
            .collect::<Vec<_>>()
            .join(SHOWN_SEPARATOR)
    }

    /// The server name for a name as people write it (`Work/2026`).
    pub fn remote(&self, display: &str) -> Result<String> {
        let display = display.trim();
        if display.is_empty() {
            return Err(Error::advised(
                ErrorKind::InvalidInput,
                Advice::new("folder_needs_name", ""),
                "a folder needs a name",
            ));
        }
        if display.eq_ignore_ascii_case("INBOX") {
            return Ok("INBOX".to_owned());
        }
        if self.delimiter.is_empty() {
            return Ok(format!("{}{}", self.prefix, encode(display)));
        }
        let mut parts = Vec::new();
        for part in display.split(SHOWN_SEPARATOR) {
            if part.trim().is_empty() {
                return Err(Error::advised(
                    ErrorKind::InvalidInput,
                    Advice::new("folder_level_empty", display),
                    format!("'{display}' has an empty level; write levels as Parent/Child"),
                ));
            }
            if self.delimiter != SHOWN_SEPARATOR && part.contains(self.delimiter.as_str()) {
                return Err(Error::advised(
                    ErrorKind::InvalidInput,
                    Advice::new("folder_name_character", self.delimiter.clone()),
                    format!(
                        "folder names on this server cannot contain '{}'; use another name",
                        self.delimiter
                    ),
                ));
            }
            parts.push(encode(part));
        }
        Ok(format!("{}{}", self.prefix, parts.join(&self.delimiter)))
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Decodes a server mailbox name. Malformed input is returned unchanged.
pub fn decode(name: &str) -> String {
    decode_strict(name).unwrap_or_else(|| name.to_owned())
}

fn decode_strict(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find('-')?;
        let encoded = &after[..end];
        if encoded.is_empty() {
            out.push('&');
        } else {
            let mut bits: u32 = 0;
            let mut nbits = 0;
            let mut units: Vec<u16> = Vec::new();
            for c in encoded.bytes() {
                let v = B64.iter().position(|&b| b == c)? as u32;
                bits = (bits << 6) | v;
                nbits += 6;
                if nbits >= 16 {
                    nbits -= 16;
                    units.push((bits >> nbits) as u16);
                    bits &= (1 << nbits) - 1;
                }
            }
            // Leftover bits must be zero padding shorter than one base64 digit.
            if nbits >= 6 || bits != 0 {
                return None;
            }
            out.push_str(&String::from_utf16(&units).ok()?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Encodes a name for the server.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        out.push('&');
        let mut bits: u32 = 0;
        let mut nbits = 0;
        for unit in pending.drain(..) {
            bits = (bits << 16) | u32::from(unit);
            nbits += 16;
            while nbits >= 6 {
                nbits -= 6;
                out.push(B64[((bits >> nbits) & 63) as usize] as char);
            }
        }
        if nbits > 0 {
            out.push(B64[((bits << (6 - nbits)) & 63) as usize] as char);
        }
        out.push('-');
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_round_trip() {
        let cases = [
            ("INBOX", "INBOX"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("Tom & Jerry", "Tom &- Jerry"),
            ("日本語", "&ZeVnLIqe-"),
            ("Quittungen/Ärzte", "Quittungen/&AMQ-rzte"),
            ("😀", "&2D3eAA-"),
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
        ];
        for (decoded, encoded) in cases {
            assert_eq!(encode(decoded), encoded, "encode {decoded}");
            assert_eq!(decode(encoded), decoded, "decode {encoded}");
        }
    }

    #[test]
    fn names_both_ways_in_each_namespace_style() {
        let dovecot = Naming::default();
        let courier = Naming {
            prefix: "INBOX.".into(),
            delimiter: ".".into(),
        };
        let greenmail = Naming {
            prefix: String::new(),
            delimiter: ".".into(),
        };
        let flat = Naming {
            prefix: String::new(),
            delimiter: String::new(),
        };
        // (naming, server name, shown)
        let cases = [
            (&dovecot, "INBOX", "INBOX"),
            (&dovecot, "Work/2026", "Work/2026"),
            (&dovecot, "Entw&APw-rfe", "Entwürfe"),
            (&courier, "INBOX", "INBOX"),
            (&courier, "INBOX.Sent", "Sent"),
            (&courier, "INBOX.Work.2026", "Work/2026"),
            (&courier, "INBOX.Quittungen.&AMQ-rzte", "Quittungen/Ärzte"),
            (&greenmail, "Work.2026", "Work/2026"),
            (&flat, "Work/2026", "Work/2026"),
        ];
        for (naming, remote, shown) in cases {
            assert_eq!(naming.display(remote), shown, "{naming:?} {remote}");
            assert_eq!(naming.remote(shown).unwrap(), remote, "{naming:?} {shown}");
        }
        assert!(courier.remote("v2.0").is_err());
        assert!(courier.remote("Work//x").is_err());
        assert!(dovecot.remote(" ").is_err());
    }

    #[test]
    fn malformed_names_are_kept_as_they_are() {
        for bad in ["&", "&ZeVn", "&!!-", "a&Zz-"] {
            assert_eq!(decode(bad), bad);
        }
    }
}
