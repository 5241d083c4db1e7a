//! Finding an account's servers from its address alone, in Thunderbird's order: the
//! provider's autoconfig, its .well-known copy, the Thunderbird ISPDB, the ISPDB entry of
//! the MX host's domain, DNS SRV records (RFC 6186, RFC 8314), then guesses verified by
//! connecting. No password is sent anywhere; the result only fills an `AccountDraft`, and
//! `AccountDraft::resolve` stays the one place defaults come from.
//!
//! Decisions are pure (`plan`, `autoconfig`); I/O is thin (`http`, `dns`, `probe`).

mod autoconfig;
mod dns;
mod http;
pub mod plan;
mod probe;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::Url;

use crate::advice::Advice;
use crate::error::{Error, ErrorKind, Result};
use crate::setup::AccountDraft;

use dns::{Dns, DnsFailure};
use http::Http;
pub use plan::GuessPorts;
use plan::{Address, Choice, Next, Role, Server};

/// Where the settings came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum DiscoverySource {
    /// `https://autoconfig.<domain>/mail/config-v1.1.xml`
    ProviderAutoconfig,
    /// `https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml`
    WellKnown,
    /// The Thunderbird ISPDB entry of the address's domain.
    Ispdb,
    /// The ISPDB entry of the MX host's domain (Google Workspace, Microsoft 365).
    MxIspdb,
    /// DNS SRV records.
    Srv,
    /// imap./mail./pop./smtp. + the domain, each checked by connecting.
    Guess,
}

impl DiscoverySource {
    pub fn as_str(self) -> &'static str {
        match self {
            DiscoverySource::ProviderAutoconfig => "provider_autoconfig",
            DiscoverySource::WellKnown => "well_known",
            DiscoverySource::Ispdb => "ispdb",
            DiscoverySource::MxIspdb => "mx_ispdb",
            DiscoverySource::Srv => "srv",
            DiscoverySource::Guess => "guess",
        }
    }
}

/// What discovery found: the form filled in, and how it got there.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Discovery {
    pub source: DiscoverySource,
    /// IMAP where offered (else POP3) and SMTP; `resolve()` completes it.
    pub draft: AccountDraft,
    /// The other incoming protocol the source offered (POP3 beside IMAP), for the
    /// "POP or IMAP?" advice (`pop_or_imap`).
    pub alternatives: Vec<AccountDraft>,
    /// One line per source asked: what it gave, or why it was skipped.
    pub tried: Vec<String>,
    /// The draft sends the password unencrypted: no source offered better. Use it only
    /// when the user chose a plain connection.
    pub plaintext: bool,
    /// The provider to sign in with instead of a password, when the servers are one this
    /// build can sign in with (Google, Microsoft, Yahoo, AOL): `begin_sign_in`.
    pub oauth: Option<crate::oauth::OAuthProvider>,
    /// The servers' provider takes OAuth2 sign-ins only or by preference, but this build
    /// has no client id for it: advice `oauth_not_built_in` with the provider's name.
    pub oauth_unavailable: Option<crate::advice::Advice>,
}

/// The ISPDB's production address; a domain's entry is this plus the domain.
pub const ISPDB_URL: &str = "https://autoconfig.thunderbird.net/v1.1/";

/// Where discovery looks and how long it waits. `production` is what apps use; the
/// other values are test hooks (`from_env`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryEnv {
    /// One DNS server for SRV, MX and addresses instead of the system's (tests).
    pub dns_server: Option<SocketAddr>,
    /// The port of autoconfig URLs instead of 443 (tests).
    pub https_port: Option<u16>,
    /// The ISPDB base URL (HTTPS only).
    pub ispdb_url: String,
    /// Where the standard ports of guesses really are (tests).
    pub guess_ports: GuessPorts,
    /// One extra trusted CA (PEM), for HTTPS and the checks of guesses; also put in the
    /// draft.
    pub ca_file: Option<String>,
    pub request_timeout: Duration,
    pub dns_timeout: Duration,
    pub connect_timeout: Duration,
    /// For the whole discovery.
    pub deadline: Duration,
    /// The largest autoconfig document read.
    pub max_body: usize,
}

impl DiscoveryEnv {
    pub fn production(ca_file: Option<String>) -> Self {
        Self {
            dns_server: None,
            https_port: None,
            ispdb_url: ISPDB_URL.to_owned(),
            guess_ports: GuessPorts::default(),
            ca_file,
            request_timeout: Duration::from_secs(10),
            dns_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(8),
            deadline: Duration::from_secs(60),
            max_body: 128 * 1024,
        }
    }

    /// `production`, changed by the test hooks BREVDUE_TEST_DNS (host:port of a DNS
    /// server), BREVDUE_TEST_HTTPS_PORT, BREVDUE_TEST_ISPDB (base URL) and
    /// BREVDUE_TEST_GUESS_PORTS ("993=10993,465=10465,…"). Only tests set them.
    pub fn from_env(ca_file: Option<String>) -> Result<Self> {
        let mut env = Self::production(ca_file);
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let bad =
            |name: &str, value: &str| Error::invalid(format!("{name}={value:?} is not valid"));
        if let Some(v) = var("BREVDUE_TEST_DNS") {
            env.dns_server = Some(v.trim().parse().map_err(|_| bad("BREVDUE_TEST_DNS", &v))?);
        }
        if let Some(v) = var("BREVDUE_TEST_HTTPS_PORT") {
            env.https_port = Some(
                v.trim()
                    .parse()
                    .map_err(|_| bad("BREVDUE_TEST_HTTPS_PORT", &v))?,
            );
        }
        if let Some(v) = var("BREVDUE_TEST_ISPDB") {
            env.ispdb_url = v.trim().to_owned();
        }
        if let Some(v) = var("BREVDUE_TEST_GUESS_PORTS") {
            env.guess_ports =
                GuessPorts::parse(&v).ok_or_else(|| bad("BREVDUE_TEST_GUESS_PORTS", &v))?;
        }
        Ok(env)
    }
}

/// Finds the settings for `email`. Fails with advice (`discovery_found_nothing`,
/// `discovery_timeout`) when no source gave a usable server; the message lists what was
/// tried.
pub async fn discover(email: &str, env: &DiscoveryEnv) -> Result<Discovery> {
    let address = Address::parse(email).ok_or_else(|| {
        Error::advised(
            ErrorKind::InvalidInput,
            Advice::new("address_invalid", email.trim()),
            format!("'{}' is not an e-mail address", email.trim()),
        )
    })?;
    let dns = Dns::new(env.dns_server, env.dns_timeout)?;
    let http = Http::new(
        &dns,
        env.ca_file.as_deref(),
        env.request_timeout,
        env.max_body,
        env.dns_server.is_none(),
    )?;
    let sources = Sources {
        address: &address,
        env,
        dns: &dns,
        http: &http,
    };
    let deadline = Instant::now() + env.deadline;
    let mut tried = Vec::new();
    let mut fallback: Option<(DiscoverySource, Choice)> = None;
    let mut ran_out = false;
    for source in plan::SOURCES {
        let name = source.as_str();
        let remaining = deadline.saturating_duration_since(Instant::now());
        let servers = match tokio::time::timeout(remaining, sources.ask(source)).await {
            Ok(servers) => servers,
            Err(_) => {
                ran_out = true;
                Err(format!(
                    "not finished: discovery takes {} s at most",
                    env.deadline.as_secs()
                ))
            }
        };
        let (servers, note) = match servers {
            Ok(found) => found,
            Err(why) => {
                tried.push(format!("{name}: {why}"));
                continue;
            }
        };
        let choice = plan::choose(&servers);
        match plan::after(choice.as_ref(), fallback.is_some()) {
            Next::Use => {
                let choice = choice.expect("Use has a choice");
                tried.push(format!("{name}: found {}{note}", summary(&choice)));
                return Ok(result(source, choice, &address, env, tried));
            }
            Next::KeepAndGoOn => {
                let choice = choice.expect("KeepAndGoOn has a choice");
                tried.push(format!(
                    "{name}: only unencrypted connections ({}); looking further",
                    summary(&choice)
                ));
                fallback = Some((source, choice));
            }
            Next::GoOn => tried.push(match choice {
                Some(c) => format!("{name}: only unencrypted connections ({})", summary(&c)),
                None => format!("{name}: no IMAP or POP3 server"),
            }),
        }
    }
    for line in &tried {
        tracing::debug!(domain = %address.domain, "discovery: {line}");
    }
    if let Some((source, choice)) = fallback {
        return Ok(result(source, choice, &address, env, tried));
    }
    let silent = ran_out
        || tried
            .iter()
            .all(|l| l.contains(DnsFailure::Timeout.to_string().as_str()));
    let (kind, advice) = if silent {
        (ErrorKind::Timeout, "discovery_timeout")
    } else {
        (ErrorKind::NotFound, "discovery_found_nothing")
    };
    Err(Error::advised(
        kind,
        Advice::new(advice, address.domain.clone()),
        format!(
            "no settings found for {}: {}",
            address.domain,
            tried.join("; ")
        ),
    ))
}

fn summary(choice: &Choice) -> String {
    let one = |s: &Server| {
        let role = match s.role {
            Role::Imap => "IMAP",
            Role::Pop3 => "POP3",
            Role::Smtp => "SMTP",
        };
        format!("{role} {}:{} {}", s.host, s.port, s.security.as_str())
    };
    let mut parts = vec![one(&choice.incoming)];
    parts.extend(choice.smtp.iter().map(one));
    if choice.smtp.is_none() {
        parts.push("no SMTP server named".to_owned());
    }
    parts.join(", ")
}

fn result(
    source: DiscoverySource,
    choice: Choice,
    address: &Address,
    env: &DiscoveryEnv,
    tried: Vec<String>,
) -> Discovery {
    let ca = env.ca_file.as_deref();
    let smtp = choice.smtp.as_ref();
    let draft = plan::draft(address, &choice.incoming, smtp, ca);
    let host = draft.host.clone().unwrap_or_default();
    let oauth = crate::oauth::providers::for_host(&host);
    let oauth_unavailable = match (&oauth, crate::oauth::providers::known_name_for_host(&host)) {
        (None, Some(name)) => Some(crate::advice::Advice::new("oauth_not_built_in", name)),
        _ => None,
    };
    Discovery {
        oauth,
        oauth_unavailable,
        source,
        draft,
        alternatives: choice
            .alternative
            .iter()
            .map(|alt| plan::draft(address, alt, smtp, ca))
            .collect(),
        tried,
        plaintext: choice.plaintext,
    }
}

/// The sources, each asked once: its servers, or why it gave none (one line).
struct Sources<'a> {
    address: &'a Address,
    env: &'a DiscoveryEnv,
    dns: &'a Dns,
    http: &'a Http,
}

impl Sources<'_> {
    /// The servers and a note on where they came from (or empty), or why none.
    async fn ask(
        &self,
        source: DiscoverySource,
    ) -> std::result::Result<(Vec<Server>, String), String> {
        let domain = &self.address.domain;
        if source == DiscoverySource::MxIspdb {
            return self.mx_ispdb().await;
        }
        let servers = match source {
            DiscoverySource::ProviderAutoconfig => {
                let mut url =
                    self.https(&format!("autoconfig.{domain}"), "/mail/config-v1.1.xml")?;
                url.query_pairs_mut()
                    .append_pair("emailaddress", &self.address.full);
                self.config(&url).await
            }
            DiscoverySource::WellKnown => {
                let url = self.https(domain, "/.well-known/autoconfig/mail/config-v1.1.xml")?;
                self.config(&url).await
            }
            DiscoverySource::Ispdb => self.config(&self.ispdb(domain)?).await,
            DiscoverySource::MxIspdb => unreachable!("asked above"),
            DiscoverySource::Srv => self.srv().await,
            DiscoverySource::Guess => self.guess().await,
        };
        servers.map(|s| (s, String::new()))
    }

    async fn mx_ispdb(&self) -> std::result::Result<(Vec<Server>, String), String> {
        let domain = &self.address.domain;
        let mx = self
            .dns
            .mx(domain)
            .await
            .map_err(|why| format!("no MX host ({why})"))?;
        let host = mx.first().ok_or("no MX host")?;
        let mx_domain = plan::registrable_domain(host)
            .ok_or_else(|| format!("MX host {host} has no registrable domain"))?;
        if &mx_domain == domain {
            return Err(format!(
                "MX host {host} is in the address's own domain (its ISPDB entry was asked)"
            ));
        }
        let servers = self
            .config(&self.ispdb(&mx_domain)?)
            .await
            .map_err(|why| format!("{mx_domain} (MX {host}): {why}"))?;
        Ok((
            servers,
            format!(" (the ISPDB entry of {mx_domain}, MX {host})"),
        ))
    }

    fn https(&self, host: &str, path: &str) -> std::result::Result<Url, String> {
        let port = self
            .env
            .https_port
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        Url::parse(&format!("https://{host}{port}{path}")).map_err(|err| format!("bad URL: {err}"))
    }

    fn ispdb(&self, domain: &str) -> std::result::Result<Url, String> {
        let base = Url::parse(&self.env.ispdb_url)
            .ok()
            .filter(|u| u.scheme() == "https")
            .ok_or_else(|| {
                format!(
                    "the ISPDB address {:?} is not an HTTPS URL",
                    self.env.ispdb_url
                )
            })?;
        let base = if base.path().ends_with('/') {
            base
        } else {
            Url::parse(&format!("{base}/")).map_err(|err| err.to_string())?
        };
        base.join(domain).map_err(|err| format!("bad URL: {err}"))
    }

    async fn config(&self, url: &Url) -> std::result::Result<Vec<Server>, String> {
        // The address is in the query of the provider's URL: shown without it.
        let shown = format!(
            "{}://{}{}",
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.port().map(|p| format!(":{p}")).unwrap_or_default()
        ) + url.path();
        let body = self
            .http
            .get(url)
            .await
            .map_err(|why| format!("{shown}: {why}"))?;
        autoconfig::parse(&body, self.address).map_err(|why| format!("{shown}: {why}"))
    }

    async fn srv(&self) -> std::result::Result<Vec<Server>, String> {
        let domain = &self.address.domain;
        let lookups = plan::SRV_SERVICES
            .iter()
            .map(|(service, role, security)| async move {
                let name = format!("{service}.{domain}");
                let answer = self.dns.srv(&name).await;
                (*service, *role, *security, answer)
            });
        let answers = futures::future::join_all(lookups).await;
        let mut servers = Vec::new();
        let mut failures: Vec<String> = Vec::new();
        for (service, role, security, answer) in answers {
            match answer {
                Ok(records) => {
                    let found = plan::srv_servers(role, security, &records);
                    if found.is_empty() {
                        failures.push(format!("{service}: not offered"));
                    }
                    servers.extend(found);
                }
                Err(DnsFailure::NoRecords) => {}
                Err(why) => failures.push(format!("{service}: {why}")),
            }
        }
        if servers.iter().any(|s| s.role != Role::Smtp) {
            return Ok(servers);
        }
        Err(if failures.is_empty() {
            "no SRV records".to_owned()
        } else {
            format!("no IMAP or POP3 server ({})", dedup(failures))
        })
    }

    async fn guess(&self) -> std::result::Result<Vec<Server>, String> {
        let candidates = plan::guesses(&self.address.domain, &self.env.guess_ports);
        let checks = candidates.iter().map(|server| async move {
            let verdict = probe::check(
                server,
                self.dns,
                self.env.ca_file.as_deref(),
                self.env.connect_timeout,
            )
            .await;
            (server, verdict)
        });
        let verdicts = futures::future::join_all(checks).await;
        let mut servers = Vec::new();
        let mut failures = Vec::new();
        for (server, verdict) in verdicts {
            match verdict {
                Ok(()) => servers.push(server.clone()),
                Err(why) => failures.push(format!("{}:{} {why}", server.host, server.port)),
            }
        }
        if servers.iter().any(|s| s.role != Role::Smtp) {
            return Ok(servers);
        }
        Err(format!("no guess answered ({})", dedup(failures)))
    }
}

/// Reasons joined, each once, the first few only.
fn dedup(reasons: Vec<String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for r in reasons {
        if !seen.contains(&r) {
            seen.push(r);
        }
    }
    let more = seen.len().saturating_sub(6);
    seen.truncate(6);
    let mut text = seen.join(", ");
    if more > 0 {
        text.push_str(&format!(", and {more} more"));
    }
    text
}
