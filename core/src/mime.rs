//! Parsing of headers and bodies with mail-parser: RFC 2047 words and legacy charsets are
//! decoded there; here we only map its types onto ours and never fail on bad input.

use mail_parser::{Address as MpAddress, HeaderValue, MessageParser, MimeHeaders, PartType};

pub use crate::mail::{Original, ParsedBody, ParsedHeaders, ParsedMessage};
use crate::model::{Address, Attachment};

fn addresses(value: Option<&MpAddress<'_>>) -> Vec<Address> {
    value
        .map(|list| {
            list.iter()
                .filter_map(|a| {
                    let address = a.address()?.trim().to_owned();
                    Some(Address {
                        name: a
                            .name()
                            .map(str::trim)
                            .filter(|n| !n.is_empty())
                            .map(str::to_owned),
                        address,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(list) => list.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// A stable stand-in for a missing Message-ID, so re-matching still works.
fn synthetic_message_id(headers: &ParsedHeaders) -> String {
    // FNV-1a: stable across runs and platforms, unlike std's hasher.
    let mut hash: u64 = 0xcbf29ce484222325;
    let to: Vec<&str> = headers.to.iter().map(|a| a.address.as_str()).collect();
    let material = format!(
        "{}\n{}\n{}\n{}",
        headers.date.unwrap_or(0),
        headers.from.address,
        headers.subject,
        to.join(",")
    );
    for byte in material.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    format!("{hash:016x}@brevdue.invalid")
}

/// Whether a Message-ID is the stand-in made for a message that has none.
pub fn is_stand_in(message_id: &str) -> bool {
    message_id.ends_with("@brevdue.invalid")
}

/// Parses a header block (or a whole message). Never fails: missing fields stay empty.
pub fn parse_headers(raw: &[u8]) -> ParsedHeaders {
    let Some(msg) = MessageParser::default().parse_headers(raw) else {
        let mut parsed = ParsedHeaders::default();
        parsed.message_id = synthetic_message_id(&parsed);
        return parsed;
    };
    let from = addresses(msg.from()).into_iter().next().unwrap_or_default();
    let has_attachments = msg
        .content_type()
        .map(|ct| {
            let main = ct.ctype().to_ascii_lowercase();
            let sub = ct.subtype().unwrap_or("").to_ascii_lowercase();
            (main == "multipart" && sub == "mixed")
                || !(main == "text" || main == "multipart" || main.is_empty())
        })
        .unwrap_or(false);
    let mut parsed = ParsedHeaders {
        message_id: msg.message_id().unwrap_or("").trim().to_owned(),
        subject: msg.subject().unwrap_or("").trim().to_owned(),
        from,
        to: addresses(msg.to()),
        cc: addresses(msg.cc()),
        date: msg.date().map(|d| d.to_timestamp()),
        in_reply_to: id_list(msg.in_reply_to()).into_iter().next(),
        references: id_list(msg.references()),
        has_attachments,
    };
    if parsed.message_id.is_empty() {
        parsed.message_id = synthetic_message_id(&parsed);
    }
    parsed
}

/// Parses a whole message into its readable parts and attachment descriptions.
/// Malformed MIME never fails: whatever cannot be parsed is shown as text.
pub fn parse_body(raw: &[u8]) -> ParsedBody {
    let Some(msg) = MessageParser::default().parse(raw) else {
        return ParsedBody {
            text: Some(String::from_utf8_lossy(raw).into_owned()),
            ..ParsedBody::default()
        };
    };
    let html = msg
        .html_bodies()
        .find(|part| matches!(part.body, PartType::Html(_)))
        .and_then(|part| part.text_contents())
        .map(str::to_owned);
    let text = msg
        .text_bodies()
        .find_map(|part| match &part.body {
            PartType::Text(text) => Some(text.to_string()),
            _ => None,
        })
        .or_else(|| html.as_deref().map(html_to_search_text))
        .or_else(|| {
            // Broken structure (say, an unterminated part) can leave the only text
            // classified as an unnamed attachment: show it rather than nothing.
            msg.attachments()
                .filter(|part| part.attachment_name().is_none())
                .find_map(|part| match &part.body {
                    PartType::Text(text) => Some(text.to_string()),
                    _ => None,
                })
        });
    let attachments = msg
        .attachments()
        .map(|part| {
            let mime_type = part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".to_owned())
                .to_ascii_lowercase();
            let name = part
                .attachment_name()
                .map(str::to_owned)
                .or_else(|| {
                    part.message()
                        .and_then(|m| m.subject())
                        .map(|s| format!("{s}.eml"))
                })
                .unwrap_or_else(|| "unnamed".to_owned());
            Attachment {
                name,
                mime_type,
                size: part.len() as u64,
            }
        })
        .collect();
    ParsedBody {
        text,
        html,
        attachments,
    }
}

/// What a reply or forward takes from a stored message: its headers, readable text and
/// attachments (with their bytes, for forwarding).
pub fn parse_original(raw: &[u8]) -> Original {
    let headers = parse_headers(raw);
    let body = parse_body(raw);
    let (reply_to, attachments) = match MessageParser::default().parse(raw) {
        Some(msg) => (
            addresses(msg.reply_to()),
            msg.attachments()
                .zip(&body.attachments)
                .map(|(part, described)| crate::model::AttachmentFile {
                    name: described.name.clone(),
                    mime_type: described.mime_type.clone(),
                    data: part.contents().to_vec(),
                })
                .collect(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    Original {
        message_id: if is_stand_in(&headers.message_id) {
            String::new()
        } else {
            headers.message_id
        },
        subject: headers.subject,
        from: headers.from,
        reply_to,
        to: headers.to,
        cc: headers.cc,
        date: headers.date,
        references: headers.references,
        text: body.text.unwrap_or_default(),
        attachments,
    }
}

/// A saved draft read back: what `compose::compose_draft` wrote.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedDraft {
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub subject: String,
    pub text: String,
    pub attachments: Vec<crate::model::AttachmentFile>,
    /// The draft's mode header, if it has one (drafts of other clients do not).
    pub mode: Option<String>,
}

pub fn parse_draft(raw: &[u8]) -> ParsedDraft {
    let original = parse_original(raw);
    let Some(msg) = MessageParser::default().parse(raw) else {
        return ParsedDraft::default();
    };
    ParsedDraft {
        to: original.to,
        cc: original.cc,
        bcc: addresses(msg.bcc()),
        subject: original.subject,
        text: original.text,
        attachments: original.attachments,
        mode: msg
            .header_raw(crate::compose::DRAFT_MODE_HEADER)
            .map(|v| v.trim().to_owned()),
    }
}

/// A whole message: its headers and body parsed, its bytes kept.
pub fn parse_message(raw: Vec<u8>) -> ParsedMessage {
    ParsedMessage {
        headers: parse_headers(&raw),
        body: parse_body(&raw),
        raw,
    }
}

/// Plain text of an HTML body, for the search index and the text fallback.
pub fn html_to_search_text(html: &str) -> String {
    mail_parser::decoders::html::html_to_text(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_decode_rfc2047_and_latin1() {
        let raw = b"From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <jm@example.test>\r\n\
To: a@example.test, \"B\" <b@example.test>\r\n\
Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgWsO8cmljaA==?=\r\n\
Date: Tue, 3 Mar 2026 10:00:00 +0100\r\n\
Message-ID: <abc@example.test>\r\n\
In-Reply-To: <parent@example.test>\r\n\
References: <root@example.test> <parent@example.test>\r\n\
Content-Type: multipart/mixed; boundary=x\r\n\r\n";
        let h = parse_headers(raw);
        assert_eq!(h.subject, "Grüße aus Zürich");
        assert_eq!(h.from.name.as_deref(), Some("Jörg Müller"));
        assert_eq!(h.from.address, "jm@example.test");
        assert_eq!(h.to.len(), 2);
        assert_eq!(h.message_id, "abc@example.test");
        assert_eq!(h.in_reply_to.as_deref(), Some("parent@example.test"));
        assert_eq!(
            h.references,
            vec!["root@example.test", "parent@example.test"]
        );
        assert_eq!(h.date, Some(1772528400));
        assert!(h.has_attachments);
    }

    #[test]
    fn missing_message_id_gets_a_stable_stand_in() {
        let raw =
            b"From: a@example.test\r\nSubject: hi\r\nDate: Tue, 3 Mar 2026 10:00:00 +0000\r\n\r\n";
        let a = parse_headers(raw);
        let b = parse_headers(raw);
        assert!(a.message_id.ends_with("@brevdue.invalid"));
        assert_eq!(a.message_id, b.message_id);
        let other = parse_headers(b"From: a@example.test\r\nSubject: bye\r\n\r\n");
        assert_ne!(a.message_id, other.message_id);
    }

    #[test]
    fn garbage_headers_do_not_fail() {
        for raw in [
            &b""[..],
            b"\xff\xfe\x00garbage",
            b"Subject: =?bogus?Q?x?=\r\n\r\n",
        ] {
            let h = parse_headers(raw);
            assert!(!h.message_id.is_empty());
        }
    }

    #[test]
    fn body_with_html_and_attachment() {
        let raw = b"From: a@example.test\r\nSubject: s\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n\
--b2\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe\r\n\
--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Gr\xc3\xbc\xc3\x9fe</p>\r\n--b2--\r\n\
--b1\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n";
        let body = parse_body(raw);
        assert_eq!(body.text.as_deref().map(str::trim), Some("Grüße"));
        assert!(body.html.as_deref().unwrap().contains("<p>Grüße</p>"));
        assert_eq!(body.attachments.len(), 1);
        assert_eq!(body.attachments[0].name, "report.pdf");
        assert_eq!(body.attachments[0].mime_type, "application/pdf");
        assert_eq!(body.attachments[0].size, 9);
    }

    #[test]
    fn html_only_body_gets_a_text_fallback() {
        let raw = b"Content-Type: text/html\r\n\r\n<html><body><b>Hello</b> world</body></html>";
        let body = parse_body(raw);
        assert!(body.html.is_some());
        assert!(body.text.unwrap().contains("Hello world"));
    }

    /// RFC 2047 Q encoding of any bytes.
    fn q_encode(bytes: &[u8]) -> String {
        bytes
            .iter()
            .map(|&b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => char::from(b).to_string(),
                _ => format!("={b:02X}"),
            })
            .collect()
    }

    #[test]
    fn legacy_multi_byte_charsets_are_decoded() {
        use base64::Engine as _;
        // (charset, text, its bytes in that charset, a name, its bytes), the bytes made
        // with Python's codecs (`text.encode(charset)`) and checked to decode back.
        type Case = (
            &'static str,
            &'static str,
            &'static [u8],
            &'static str,
            &'static [u8],
        );
        let cases: [Case; 7] = [
            ("ISO-2022-JP", "日本語のテスト、山田太郎です", b"\x1b$BF|K\x5c8l$N%F%9%H!\x22;3EDB@O:$G$9\x1b(B", "山田太郎", b"\x1b$B;3EDB@O:\x1b(B"),
            ("Shift_JIS", "こんにちは世界、ソフトウェア", b"\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd\x90\xa2\x8aE\x81A\x83\x5c\x83t\x83g\x83E\x83F\x83A", "佐藤花子", b"\x8d\xb2\x93\xa1\x89\xd4\x8eq"),
            ("EUC-JP", "東京の天気は晴れ", b"\xc5\xec\xb5\xfe\xa4\xce\xc5\xb7\xb5\xa4\xa4\xcf\xc0\xb2\xa4\xec", "鈴木一郎", b"\xce\xeb\xcc\xda\xb0\xec\xcf\xba"),
            ("EUC-KR", "안녕하세요, 세계", b"\xbe\xc8\xb3\xe7\xc7\xcf\xbc\xbc\xbf\xe4, \xbc\xbc\xb0\xe8", "김철수", b"\xb1\xe8\xc3\xb6\xbc\xf6"),
            ("GB2312", "你好，世界", b"\xc4\xe3\xba\xc3\xa3\xac\xca\xc0\xbd\xe7", "王小明", b"\xcd\xf5\xd0\xa1\xc3\xf7"),
            // 郵, 測, 張, 偉 are in GBK but not in GB2312.
            ("GBK", "中文郵件測試", b"\xd6\xd0\xce\xc4\xe0]\xbc\xfe\x9cy\xd4\x87", "張偉", b"\x8f\x88\x82\xa5"),
            ("Big5", "繁體中文測試", b"\xc1c\xc5\xe9\xa4\xa4\xa4\xe5\xb4\xfa\xb8\xd5", "陳大文", b"\xb3\xaf\xa4j\xa4\xe5"),
        ];
        let mut wrong = Vec::new();
        for (charset, text, text_bytes, name, name_bytes) in cases {
            let b64 = base64::engine::general_purpose::STANDARD.encode(text_bytes);
            let transfer = if charset == "ISO-2022-JP" {
                "7bit"
            } else {
                "8bit"
            };
            let raw = [
                format!(
                    "From: =?{charset}?Q?{}?= <sender@example.test>\r\n\
Subject: =?{charset}?B?{b64}?=\r\nMessage-ID: <{charset}@t>\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=\"{charset}\"\r\nContent-Transfer-Encoding: {transfer}\r\n\r\n",
                    q_encode(name_bytes)
                )
                .as_bytes(),
                text_bytes,
                b"\r\n",
            ]
            .concat();
            let h = parse_headers(&raw);
            let body = parse_body(&raw);
            for (what, got) in [
                ("subject", Some(h.subject.as_str())),
                ("sender name", h.from.name.as_deref()),
                ("body", body.text.as_deref().map(str::trim)),
            ] {
                let expected = if what == "sender name" { name } else { text };
                if got != Some(expected) {
                    wrong.push(format!("{charset} {what}: {got:?}"));
                }
            }
        }
        assert!(wrong.is_empty(), "not decoded:\n{}", wrong.join("\n"));
    }

    #[test]
    fn broken_mime_never_fails() {
        let raw = b"Content-Type: multipart/mixed; boundary=\"nope\"\r\n\r\n--nope\r\nContent-Type: text/plain\r\n\r\nunterminated";
        let body = parse_body(raw);
        assert!(body.text.unwrap_or_default().contains("unterminated"));
        assert!(parse_body(b"").html.is_none());
    }
}
