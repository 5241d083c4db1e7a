//! HTTPS GET for autoconfig documents (reqwest over our rustls configuration, so the
//! platform's verifier decides): HTTPS only, bounded in time and size, redirects only
//! within the same host. Failures are one-line reasons.

use std::sync::Arc;
use std::time::Duration;

use reqwest::redirect::{Attempt, Policy};
use reqwest::{Client, StatusCode, Url};

use crate::error::{Error, ErrorKind, Result};
use crate::net;

use super::autoconfig::one_line;
use super::dns::Dns;

const MAX_REDIRECTS: usize = 5;

pub struct Http {
    client: Client,
    max_body: usize,
}

fn same_host(attempt: Attempt) -> reqwest::redirect::Action {
    let first = attempt.previous().first().cloned();
    let url = attempt.url();
    let same = first.is_some_and(|first| {
        url.scheme() == "https"
            && url.host_str() == first.host_str()
            && url.port_or_known_default() == first.port_or_known_default()
    });
    if attempt.previous().len() > MAX_REDIRECTS {
        attempt.error("too many redirects")
    } else if same {
        attempt.follow()
    } else {
        // The 3xx itself comes back; `get` reports it.
        attempt.stop()
    }
}

impl Http {
    pub fn new(
        dns: &Dns,
        ca_file: Option<&str>,
        timeout: Duration,
        max_body: usize,
        use_proxy: bool,
    ) -> Result<Self> {
        let mut tls = (*net::tls_config(ca_file)?).clone();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut builder = Client::builder()
            .tls_backend_preconfigured(tls)
            .https_only(true)
            .redirect(Policy::custom(same_host))
            .timeout(timeout)
            .connect_timeout(timeout)
            .dns_resolver(Arc::new(dns.clone()))
            .user_agent(concat!("Brevdue/", env!("CARGO_PKG_VERSION")));
        if !use_proxy {
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|err| {
            Error::new(
                ErrorKind::Tls,
                format!("the HTTPS client cannot start: {err}"),
            )
        })?;
        Ok(Self { client, max_body })
    }

    /// The body of `url` as text, or why not.
    pub async fn get(&self, url: &Url) -> std::result::Result<String, String> {
        let mut response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|err| describe(url, &err))?;
        let status = response.status();
        if status.is_redirection() {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .unwrap_or("?");
            let to = url.join(to).map(|u| u.to_string()).unwrap_or(to.to_owned());
            return Err(format!(
                "redirect to another host refused ({})",
                one_line(&to)
            ));
        }
        if status != StatusCode::OK {
            return Err(format!("HTTP status {}", status.as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|len| len > self.max_body as u64)
        {
            return Err(format!(
                "the answer is larger than {} KiB",
                self.max_body / 1024
            ));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|err| describe(url, &err))? {
            if body.len() + chunk.len() > self.max_body {
                return Err(format!(
                    "the answer is larger than {} KiB",
                    self.max_body / 1024
                ));
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| "the answer is not UTF-8 text".to_owned())
    }
}

/// reqwest's error on one line: what failed, then its innermost cause (the URL is
/// already in the report).
fn describe(url: &Url, err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return "timed out".to_owned();
    }
    let target = format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(443)
    );
    let mut innermost = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        // Certificate failures in the words the mail connections use.
        let tls = rustls_error(cause);
        if let Some(tls) = tls {
            innermost = net::tls_error(&target, tls).message;
            break;
        }
        innermost = cause.to_string();
        source = cause.source();
    }
    let what = if err.is_connect() {
        "cannot connect: "
    } else if err.is_body() || err.is_decode() {
        "reading the answer failed: "
    } else {
        ""
    };
    one_line(&format!("{what}{innermost}"))
}

/// A rustls error inside an error, also inside nested `io::Error`s.
fn rustls_error<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a tokio_rustls::rustls::Error> {
    if let Some(tls) = err.downcast_ref::<tokio_rustls::rustls::Error>() {
        return Some(tls);
    }
    let inner = err.downcast_ref::<std::io::Error>()?.get_ref()?;
    rustls_error(inner)
}
