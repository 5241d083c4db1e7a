//! DNS for discovery (hickory-resolver): addresses, MX and SRV, through the system's
//! name servers or, in tests, one given server. Failures are one-line reasons.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts, CLOUDFLARE,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;

use crate::error::{Error, ErrorKind, Result};

use super::plan::Srv;

#[derive(Clone)]
pub struct Dns {
    resolver: Arc<TokioResolver>,
}

/// Why a lookup gave nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsFailure {
    /// The name or the record does not exist.
    NoRecords,
    /// The name server did not answer in time.
    Timeout,
    Other(String),
}

impl std::fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DnsFailure::NoRecords => f.write_str("no such DNS record"),
            DnsFailure::Timeout => f.write_str("the name server did not answer in time"),
            DnsFailure::Other(why) => write!(f, "DNS lookup failed: {why}"),
        }
    }
}

fn failure(err: NetError) -> DnsFailure {
    match err {
        NetError::Dns(DnsError::NoRecordsFound(_)) => DnsFailure::NoRecords,
        NetError::Timeout => DnsFailure::Timeout,
        other => {
            let text = other.to_string();
            if text.contains("timed out") {
                DnsFailure::Timeout
            } else {
                DnsFailure::Other(super::autoconfig::one_line(&text))
            }
        }
    }
}

impl Dns {
    /// The system's resolver configuration (public resolvers if it cannot be read), or
    /// only `server` (tests). Each query waits `timeout` at most, twice.
    pub fn new(server: Option<SocketAddr>, timeout: Duration) -> Result<Self> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = match server {
            Some(addr) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                let ns = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![ns]),
                    provider,
                )
            }
            None => system_builder(provider),
        };
        let opts: &mut ResolverOpts = builder.options_mut();
        opts.timeout = timeout;
        opts.attempts = 2;
        if server.is_some() {
            // Tests: nothing from /etc/hosts or the search list.
            opts.use_hosts_file = hickory_resolver::config::ResolveHosts::Never;
            opts.ndots = 0;
        }
        let resolver = builder.build().map_err(|err| {
            Error::new(
                ErrorKind::Network,
                format!("the DNS resolver cannot start: {err}"),
            )
        })?;
        Ok(Self {
            resolver: Arc::new(resolver),
        })
    }

    pub async fn ips(&self, host: &str) -> std::result::Result<Vec<IpAddr>, DnsFailure> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let ips: Vec<IpAddr> = self
            .resolver
            .lookup_ip(fqdn(host))
            .await
            .map_err(failure)?
            .iter()
            .collect();
        if ips.is_empty() {
            return Err(DnsFailure::NoRecords);
        }
        Ok(ips)
    }

    /// MX hosts, most preferred first (without the final dot).
    pub async fn mx(&self, domain: &str) -> std::result::Result<Vec<String>, DnsFailure> {
        let lookup = self
            .resolver
            .mx_lookup(fqdn(domain))
            .await
            .map_err(failure)?;
        let mut hosts: Vec<(u16, String)> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::MX(mx) => Some((mx.preference, name(&mx.exchange))),
                _ => None,
            })
            .filter(|(_, host)| !host.is_empty())
            .collect();
        hosts.sort();
        Ok(hosts.into_iter().map(|(_, h)| h).collect())
    }

    pub async fn srv(&self, name_: &str) -> std::result::Result<Vec<Srv>, DnsFailure> {
        let lookup = self
            .resolver
            .srv_lookup(fqdn(name_))
            .await
            .map_err(failure)?;
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(srv) => Some(Srv {
                    priority: srv.priority,
                    weight: srv.weight,
                    port: srv.port,
                    target: name(&srv.target),
                }),
                _ => None,
            })
            .collect())
    }
}

fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}

/// A name without its final dot; the root (".") becomes empty.
fn name(name: &hickory_resolver::proto::rr::Name) -> String {
    name.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

fn system_builder(
    provider: TokioRuntimeProvider,
) -> hickory_resolver::ResolverBuilder<TokioRuntimeProvider> {
    // Reading the system's configuration can fail (or, on Android without the app's
    // context, panic): then public resolvers.
    let system = std::panic::catch_unwind(|| TokioResolver::builder(provider.clone()));
    match system {
        Ok(Ok(builder)) => builder,
        _ => {
            tracing::debug!("no system DNS configuration; using public resolvers");
            TokioResolver::builder_with_config(ResolverConfig::udp_and_tcp(&CLOUDFLARE), provider)
        }
    }
}

/// The resolver reqwest uses, so that HTTPS autoconfig goes through the same DNS.
impl reqwest::dns::Resolve for Dns {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let dns = self.clone();
        Box::pin(async move {
            let ips = dns.ips(name.as_str()).await.map_err(
                |why| -> Box<dyn std::error::Error + Send + Sync> {
                    Box::new(std::io::Error::other(why.to_string()))
                },
            )?;
            let addrs: reqwest::dns::Addrs =
                Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}
