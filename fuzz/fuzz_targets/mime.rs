//! A message as a sender or a server may deliver it, through the engine's MIME parsing
//! (`mime`) and, for any HTML found, its sanitizer (`html::sanitize`). Nothing may panic;
//! time and memory are bounded by libFuzzer's `-timeout` and `-rss_limit_mb`. What is
//! checked beyond that: the parsers never fail, and sanitized HTML has nothing that runs
//! and, unless allowed, no remote image.
#![no_main]

use brevdue_core::{html, mime};
use brevdue_fuzz::start_tags;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &[u8]| {
    let headers = mime::parse_headers(raw);
    assert!(
        !headers.message_id.is_empty(),
        "no Message-ID, not even a stand-in"
    );
    let body = mime::parse_body(raw);
    let original = mime::parse_original(raw);
    assert_eq!(original.text, body.text.clone().unwrap_or_default());
    assert!(original.attachments.len() <= body.attachments.len());
    let message = mime::parse_message(raw.to_vec());
    assert_eq!(message.raw, raw);
    assert_eq!(message.body, body, "parsing is not deterministic");
    if let Some(html) = &body.html {
        check_sanitized(html);
    }
    // The input itself as HTML: a body the parser took for text may still be shown as HTML.
    check_sanitized(&String::from_utf8_lossy(raw));
});

fn check_sanitized(html: &str) {
    let blocked = html::sanitize(html, false);
    check_harmless(&blocked.html, false);
    let allowed = html::sanitize(html, true);
    check_harmless(&allowed.html, true);
    assert_eq!(
        allowed.blocked_remote, 0,
        "blocked with remote content allowed"
    );
}

/// Nothing that runs, loads a page or styles itself; remote images only when allowed.
fn check_harmless(safe: &str, allow_remote: bool) {
    const FORBIDDEN: [&str; 12] = [
        "script", "style", "iframe", "frame", "object", "embed", "form", "input", "link", "meta",
        "base", "svg",
    ];
    for tag in start_tags(safe) {
        assert!(
            !FORBIDDEN.contains(&tag.name.as_str()),
            "<{}> survived sanitizing",
            tag.name
        );
        for (name, value) in &tag.attributes {
            assert!(
                !name.starts_with("on") && name != "style",
                "{name} on <{}> survived sanitizing",
                tag.name
            );
            // As a browser reads a URL: leading controls and spaces go, tabs and newlines
            // anywhere.
            let value: String = value
                .trim_start_matches(|c: char| c <= ' ')
                .chars()
                .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
                .collect::<String>()
                .to_ascii_lowercase();
            assert!(
                !value.starts_with("javascript:") && !value.starts_with("vbscript:"),
                "a script URL survived: {name}={value}"
            );
            if tag.name == "img" && name == "src" && !allow_remote {
                assert!(
                    value.starts_with("data:image/") || value.starts_with("cid:"),
                    "an image source other than data: or cid: survived: {value}"
                );
            }
        }
    }
}
