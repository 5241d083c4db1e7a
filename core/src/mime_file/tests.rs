use super::*;

fn streamed(raw: &[u8]) -> FileMessage {
    parse_stream(raw).unwrap()
}

/// The streaming pass agrees with mail-parser on the whole message.
fn agrees(name: &str, raw: &[u8]) {
    let whole = mime::parse_body(raw);
    let pass = streamed(raw);
    let trim = |s: &Option<String>| s.as_deref().map(|t| t.trim().to_owned());
    assert_eq!(trim(&pass.body.text), trim(&whole.text), "{name}: text");
    assert_eq!(trim(&pass.body.html), trim(&whole.html), "{name}: html");
    assert_eq!(
        pass.body.attachments, whole.attachments,
        "{name}: attachments"
    );
    assert_eq!(pass.headers, mime::parse_headers(raw), "{name}: headers");
    assert_eq!(pass.size, raw.len() as u64, "{name}: size");
}

const HEAD: &str = "From: a@example.test\r\nTo: b@example.test\r\nSubject: s\r\n\
Message-ID: <m@example.test>\r\nDate: Tue, 3 Mar 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n";

fn msg(rest: &str) -> Vec<u8> {
    format!("{HEAD}{rest}").into_bytes()
}

#[test]
fn the_streaming_pass_agrees_with_mail_parser() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("plain", msg("Content-Type: text/plain\r\n\r\nHello\r\nworld\r\n")),
        ("no content type", msg("\r\nJust text\r\n")),
        (
            "html only",
            msg("Content-Type: text/html; charset=utf-8\r\n\r\n<p><b>Hi</b> there</p>\r\n"),
        ),
        (
            "quoted-printable latin-1",
            msg("Content-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe aus Z=FCrich, ein sehr langer=\r\n Satz\r\n"),
        ),
        (
            "base64 text",
            msg("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
R3LDvMOfZSBhdXMgWsO8cmljaA==\r\n"),
        ),
        (
            "alternative",
            msg("Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n\
preamble\r\n--alt\r\nContent-Type: text/plain\r\n\r\nplain one\r\n\
--alt\r\nContent-Type: text/html\r\n\r\n<p>html one</p>\r\n--alt--\r\nepilogue\r\n"),
        ),
        (
            "nested: mixed, related, alternative, attachments",
            msg("Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: multipart/related; boundary=\"b2\"\r\n\r\n\
--b2\r\nContent-Type: multipart/alternative; boundary=\"b3\"\r\n\r\n\
--b3\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe\r\n\
--b3\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Gr\u{fc}\u{df}e <img src=cid:x></p>\r\n--b3--\r\n\
--b2\r\nContent-Type: image/png; name=\"x.png\"\r\nContent-ID: <x>\r\nContent-Transfer-Encoding: base64\r\n\r\n\
iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==\r\n--b2--\r\n\
--b1\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfs\r\nj6IKMSAwIG9iago=\r\n\
--b1\r\nContent-Type: text/csv; name=\"data.csv\"\r\nContent-Disposition: attachment; filename=\"data.csv\"\r\n\r\na,b\r\n1,2\r\n\
--b1\r\nContent-Type: application/octet-stream; name=\"notes.bin\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
one=3Dtwo  \r\nthree=\r\nfour\r\n--b1--\r\n"),
        ),
        (
            "a second text part in mixed is no attachment",
            msg("Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
--m\r\nContent-Type: text/plain\r\n\r\nfirst\r\n--m\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--m--\r\n"),
        ),
        (
            "a text part with a filename is an attachment",
            msg("Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
--m\r\nContent-Type: text/plain\r\n\r\nbody\r\n\
--m\r\nContent-Type: text/plain; name=\"a.txt\"\r\nContent-Disposition: attachment; filename=\"a.txt\"\r\n\r\nattached\r\n--m--\r\n"),
        ),
    ];
    for (name, raw) in &cases {
        agrees(name, raw);
    }
}

#[test]
fn a_missing_final_boundary_ends_the_last_part_with_the_file() {
    let raw = msg("Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
--m\r\nContent-Type: text/plain\r\n\r\nfirst\r\n--m\r\nContent-Type: application/zip; name=\"z.zip\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nUEsDBAoAAAAAAA==\r\n");
    let pass = streamed(&raw);
    assert_eq!(pass.body.text.as_deref().map(str::trim), Some("first"));
    // Decoded, where mail-parser, finding no boundary, gives up decoding (18 bytes).
    assert_eq!(
        pass.body.attachments,
        [Attachment {
            name: "z.zip".into(),
            mime_type: "application/zip".into(),
            size: 10,
        }]
    );
    assert_eq!(mime::parse_body(&raw).attachments[0].name, "z.zip");

    // An inner multipart left open is closed by the outer boundary.
    let raw = msg("Content-Type: multipart/mixed; boundary=\"out\"\r\n\r\n\
--out\r\nContent-Type: multipart/alternative; boundary=\"in\"\r\n\r\n\
--in\r\nContent-Type: text/plain\r\n\r\nplain\r\n--in\r\nContent-Type: text/html\r\n\r\n<i>html</i>\r\n\
--out\r\nContent-Type: image/gif; name=\"a.gif\"\r\n\r\nGIF89a\r\n--out--\r\n");
    let pass = streamed(&raw);
    assert_eq!(pass.body.text.as_deref(), Some("plain"));
    assert_eq!(pass.body.html.as_deref(), Some("<i>html</i>"));
    assert_eq!(
        pass.body.attachments,
        [Attachment {
            name: "a.gif".into(),
            mime_type: "image/gif".into(),
            size: 6,
        }]
    );
}

#[test]
fn a_forwarded_message_is_one_attachment_named_by_its_subject() {
    let raw = msg("Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
--m\r\nContent-Type: text/plain\r\n\r\nsee below\r\n\
--m\r\nContent-Type: message/rfc822\r\n\r\nSubject: Old news\r\nContent-Type: multipart/mixed; boundary=\"inner\"\r\n\r\n\
--inner\r\nContent-Type: text/plain\r\n\r\nold text\r\n--inner--\r\n--m--\r\n");
    let whole = mime::parse_body(&raw);
    let pass = streamed(&raw);
    assert_eq!(pass.body.text.as_deref().map(str::trim), Some("see below"));
    assert_eq!(pass.body.attachments.len(), 1);
    assert_eq!(pass.body.attachments[0].name, "Old news.eml");
    assert_eq!(pass.body.attachments[0].name, whole.attachments[0].name);
    assert_eq!(pass.body.attachments[0].mime_type, "message/rfc822");
    // mail-parser reports the whole outer message as the size; the part's own is right.
    let nested = b"Subject: Old news\r\nContent-Type: multipart/mixed; boundary=\"inner\"\r\n\r\n\
--inner\r\nContent-Type: text/plain\r\n\r\nold text\r\n--inner--";
    assert_eq!(pass.body.attachments[0].size, nested.len() as u64);
}

#[test]
fn a_kept_text_part_stops_at_the_cap() {
    let line = "x".repeat(999);
    let body: String = (0..3000).map(|_| format!("{line}\r\n")).collect();
    let raw = msg(&format!("Content-Type: text/plain\r\n\r\n{body}"));
    let pass = streamed(&raw);
    let text = pass.body.text.unwrap();
    assert!(
        text.len() <= TEXT_CAP && text.len() > TEXT_CAP - 2000,
        "{}",
        text.len()
    );
    assert!(text.starts_with(&line));
}

#[test]
fn lines_longer_than_a_piece_and_lf_line_ends() {
    let long = "y".repeat(3 * PIECE as usize + 17);
    let raw = format!(
        "Subject: long\nContent-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: text/plain\n\n\
{long}\nend\n--m\nContent-Type: application/octet-stream\n\n{long}\n--m--\n"
    );
    agrees("long lines", raw.as_bytes());
}

/// A 200 MB message, generated as it is read: never held, parsed in one pass.
struct Generated {
    parts: Vec<Vec<u8>>,
    line: Vec<u8>,
    lines_left: u64,
    at: usize,
    offset: usize,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let current: &[u8] = if self.at == 1 && self.lines_left > 0 {
                &self.line
            } else if let Some(part) = self.parts.get(self.at) {
                part
            } else {
                return Ok(0);
            };
            if self.offset < current.len() {
                let n = buf.len().min(current.len() - self.offset);
                buf[..n].copy_from_slice(&current[self.offset..self.offset + n]);
                self.offset += n;
                return Ok(n);
            }
            self.offset = 0;
            if self.at == 1 && self.lines_left > 0 {
                self.lines_left -= 1;
            } else {
                self.at += 1;
            }
        }
    }
}

#[test]
fn a_200_mb_message_is_parsed_as_it_streams() {
    // 76 base64 characters per line: 57 decoded bytes.
    let line = format!("{}\r\n", "QUJD".repeat(19)).into_bytes();
    let lines = 200_000_000 / line.len() as u64;
    let head = msg("Content-Type: multipart/mixed; boundary=\"big\"\r\n\r\n\
--big\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nSee the attached file, Gr=C3=BC=C3=9Fe.\r\n\
--big\r\nContent-Type: text/html\r\n\r\n<p>See the <b>attached</b> file</p>\r\n\
--big\r\nContent-Type: video/mp4; name=\"film.mp4\"\r\nContent-Disposition: attachment; filename=\"film.mp4\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n");
    let tail = b"--big--\r\n".to_vec();
    let total = head.len() as u64 + lines * line.len() as u64 + tail.len() as u64;
    let reader = Generated {
        parts: vec![head, Vec::new(), tail],
        line,
        lines_left: lines,
        at: 0,
        offset: 0,
    };
    let parsed = parse_stream(BufReader::with_capacity(PIECE as usize, reader)).unwrap();
    assert_eq!(parsed.size, total);
    assert_eq!(parsed.headers.subject, "s");
    assert_eq!(
        parsed.body.text.as_deref().map(str::trim),
        Some("See the attached file, Grüße.")
    );
    assert!(parsed.body.html.unwrap().contains("<b>attached</b>"));
    assert_eq!(
        parsed.body.attachments,
        [Attachment {
            name: "film.mp4".into(),
            mime_type: "video/mp4".into(),
            size: lines * 57,
        }]
    );
}

#[test]
fn files_small_and_large_give_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let filler: String = (0..80_000)
        .map(|i| format!("filler line {i} of the attachment\r\n"))
        .collect();
    let raw = msg(&format!(
        "Content-Type: multipart/mixed; boundary=\"f\"\r\n\r\n\
--f\r\nContent-Type: text/plain\r\n\r\nhello\r\n\
--f\r\nContent-Type: application/octet-stream; name=\"f.txt\"\r\n\r\n{filler}--f--\r\n"
    ));
    assert!(raw.len() as u64 > WHOLE_LIMIT / 2);
    let small = dir.path().join("small.eml");
    std::fs::write(&small, &raw[..]).unwrap();
    let mut bigger = raw.clone();
    let padding = "x".repeat(WHOLE_LIMIT as usize);
    bigger.extend_from_slice(padding.as_bytes()); // epilogue: above the limit, same content
    let large = dir.path().join("large.eml");
    std::fs::write(&large, &bigger).unwrap();
    let a = parse_file(&small).unwrap();
    let b = parse_file(&large).unwrap();
    assert_eq!(a.body, b.body);
    assert_eq!(a.headers, b.headers);
    assert_eq!(b.size, bigger.len() as u64);
    assert_eq!(
        read_header_block(&large).unwrap(),
        HEAD.as_bytes()
            .iter()
            .chain(b"Content-Type: multipart/mixed; boundary=\"f\"\r\n")
            .copied()
            .collect::<Vec<u8>>()
    );
    assert_eq!(
        parse_file(&dir.path().join("missing")).unwrap_err().kind,
        ErrorKind::Storage
    );
}
