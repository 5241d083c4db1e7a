//! Mail HTML made safe to show, with ammonia: no scripts, event handlers, forms, frames,
//! styles or `javascript:` links, and no remote content until the user allows it.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Sanitized HTML and how many remote resources were held back.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SafeHtml {
    pub html: String,
    /// Remote images removed because remote content is not allowed (tracking pixels).
    pub blocked_remote: u32,
}

fn is_remote(url: &str) -> bool {
    let url = url.trim_start().to_ascii_lowercase();
    url.starts_with("http:") || url.starts_with("https:") || url.starts_with("//")
}

/// Cleans `html` for display. Remote images stay only with `allow_remote`; inline
/// `data:` images always stay (they fetch nothing).
pub fn sanitize(html: &str, allow_remote: bool) -> SafeHtml {
    let blocked = Arc::new(AtomicU32::new(0));
    let counter = blocked.clone();
    let html = ammonia::Builder::default()
        .add_url_schemes(["data", "cid"])
        .link_rel(Some("noopener noreferrer nofollow"))
        .attribute_filter(move |element, attribute, value| {
            let remote = is_remote(value);
            match (element, attribute) {
                ("img", "src") if remote && !allow_remote => {
                    counter.fetch_add(1, Ordering::Relaxed);
                    None
                }
                ("img", "src") if !remote => {
                    let lower = value.trim_start().to_ascii_lowercase();
                    (lower.starts_with("data:image/") || lower.starts_with("cid:"))
                        .then_some(Cow::Borrowed(value))
                }
                // Links open outside; a data: or cid: link would open content inline.
                (_, "href")
                    if !remote
                        && !value
                            .trim_start()
                            .to_ascii_lowercase()
                            .starts_with("mailto:") =>
                {
                    None
                }
                (_, "srcset") => None,
                _ => Some(Cow::Borrowed(value)),
            }
        })
        .clean(html)
        .to_string();
    SafeHtml {
        html,
        blocked_remote: blocked.load(Ordering::Relaxed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = r#"<html><head><style>body{background:url(https://leak.example/css)}</style>
<script>alert(1)</script></head><body onload="alert(2)">
<p style="background:url(https://leak.example/inline)">Hello <b>there</b></p>
<img src="https://tracker.example/pixel.gif" width=1>
<img src="data:image/png;base64,iVBORw0KGgo=" alt="inline">
<img src=x onerror="alert(3)">
<a href="javascript:alert(4)">click</a> <a href="https://example.org/">site</a>
<a href="data:text/html,<script>alert(5)</script>">data</a> <a href="mailto:a@b.example">mail</a>
<form action="https://phish.example/"><input name=pw type=password></form>
<iframe src="https://frame.example/"></iframe><svg onload=alert(6)></svg>
<object data="https://x.example/a.swf"></object><link rel=stylesheet href="https://leak.example/l.css">
</body></html>"#;

    #[test]
    fn hostile_mail_renders_harmlessly() {
        let safe = sanitize(HOSTILE, false);
        let lower = safe.html.to_ascii_lowercase();
        for bad in [
            "<script",
            "alert(",
            "onload",
            "onerror",
            "javascript:",
            "<form",
            "<input",
            "<iframe",
            "<style",
            "style=",
            "<object",
            "<link",
            "leak.example",
            "tracker.example",
            "frame.example",
            "data:text",
        ] {
            assert!(!lower.contains(bad), "{bad} survived: {}", safe.html);
        }
        assert!(safe.html.contains("Hello <b>there</b>"));
        assert!(safe
            .html
            .contains(r#"src="data:image/png;base64,iVBORw0KGgo=""#));
        assert!(safe.html.contains(r#"href="https://example.org/""#));
        assert!(safe.html.contains(r#"href="mailto:a@b.example""#));
        assert!(safe.html.contains("noopener"));
        assert_eq!(safe.blocked_remote, 1);
    }

    #[test]
    fn remote_images_only_when_allowed() {
        let allowed = sanitize(HOSTILE, true);
        assert!(allowed.html.contains("https://tracker.example/pixel.gif"));
        assert_eq!(allowed.blocked_remote, 0);
        // Still nothing that runs or leaks by itself.
        assert!(!allowed.html.contains("<script") && !allowed.html.contains("leak.example"));
    }
}
