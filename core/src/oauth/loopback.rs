//! The desktop's and the CLI's redirect target (RFC 8252 §7.3): a listener on
//! 127.0.0.1 with a port of the system's choosing, which takes the one request the
//! browser makes after the sign-in and answers it with a page saying so.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::error::{Error, ErrorKind, Result};

/// A request line and headers; a browser's is well under this.
const MAX_REQUEST: usize = 16 << 10;

pub(crate) struct Loopback {
    listener: TcpListener,
    pub redirect_uri: String,
}

const PAGE: &str = "<!doctype html><meta charset=utf-8><title>Brevdue</title>\
<style>body{font:16px system-ui,sans-serif;margin:3em;color:#222;background:#fff}\
@media(prefers-color-scheme:dark){body{color:#eee;background:#121212}}</style>\
<h1>Brevdue</h1><p>{en}</p><p lang=nb>{nb}</p>";

impl Loopback {
    pub async fn bind() -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|err| {
            Error::new(
                ErrorKind::Network,
                format!("cannot listen on 127.0.0.1 for the sign-in: {err}"),
            )
        })?;
        let port = listener
            .local_addr()
            .map_err(|err| Error::new(ErrorKind::Network, err.to_string()))?
            .port();
        Ok(Self {
            listener,
            redirect_uri: format!("http://127.0.0.1:{port}/"),
        })
    }

    /// The URL the browser was sent to, once it comes (within `limit`).
    pub async fn wait(self, limit: Duration) -> Result<String> {
        tokio::time::timeout(limit, async {
            loop {
                let Ok((stream, _)) = self.listener.accept().await else {
                    continue;
                };
                // A slow or silent connection (a port scan) does not hold up the real one
                // for long.
                match tokio::time::timeout(
                    Duration::from_secs(10),
                    take(stream, &self.redirect_uri),
                )
                .await
                {
                    Ok(Some(url)) => return url,
                    _ => continue,
                }
            }
        })
        .await
        .map_err(|_| {
            Error::new(
                ErrorKind::Timeout,
                format!(
                    "the sign-in was not finished in the browser within {} minutes: start it again",
                    limit.as_secs() / 60
                ),
            )
        })
    }
}

/// Reads one request; the redirect URL if it is the redirect (a request for `/` with a
/// query), after answering it.
async fn take(mut stream: TcpStream, base: &str) -> Option<String> {
    let mut request = Vec::new();
    let mut buf = [0u8; 2048];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || request.len() + n > MAX_REQUEST {
            return None;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&request);
    let target = line
        .lines()
        .next()?
        .strip_prefix("GET ")?
        .split(' ')
        .next()?
        .to_owned();
    let Some(query) = target.strip_prefix("/?") else {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
        return None;
    };
    let (en, nb) = if query.split('&').any(|p| p.starts_with("error=")) {
        (
            "The sign-in was not finished. Go back to Brevdue to try again.",
            "Innloggingen ble ikke fullført. Gå tilbake til Brevdue for å prøve igjen.",
        )
    } else {
        (
            "You are signed in. You can close this window and go back to Brevdue.",
            "Du er logget inn. Du kan lukke dette vinduet og gå tilbake til Brevdue.",
        )
    };
    let page = PAGE.replace("{en}", en).replace("{nb}", nb);
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{page}",
        page.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
    Some(format!("{base}?{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn request(redirect_uri: &str, raw: &str) -> String {
        let addr = redirect_uri
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(raw.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn the_redirect_is_taken_and_other_requests_are_not() {
        let loopback = Loopback::bind().await.unwrap();
        let uri = loopback.redirect_uri.clone();
        assert!(uri.starts_with("http://127.0.0.1:"));
        let waiting = tokio::spawn(loopback.wait(Duration::from_secs(20)));
        let favicon = request(&uri, "GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(favicon.starts_with("HTTP/1.1 404"), "{favicon}");
        let page = request(&uri, "GET /?code=abc&state=xyz HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(page.contains("You are signed in"), "{page}");
        assert_eq!(
            waiting.await.unwrap().unwrap(),
            format!("{uri}?code=abc&state=xyz")
        );
    }

    #[tokio::test]
    async fn nobody_coming_back_is_a_timeout() {
        let loopback = Loopback::bind().await.unwrap();
        let err = loopback.wait(Duration::from_millis(50)).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Timeout);
    }
}
