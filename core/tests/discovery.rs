//! Account discovery against the private provider (tests/provider.py: dnsmasq and an
//! HTTPS autoconfig server) in front of the harness's Dovecot: each source in
//! Thunderbird's order, and each bad input with its reason. Working results are proven
//! by logging in with them.

mod common;
#[path = "common/provider.rs"]
mod provider;

use std::time::{Duration, Instant};

use brevdue_core::discover::{discover, Discovery, DiscoverySource};
use brevdue_core::setup::AccountDraft;
use brevdue_core::{ErrorKind, Protocol, Security};
use common::*;
use provider::provider;

/// The mail server, always the default Dovecot set-up (the provider needs its ports).
fn mail() -> &'static MailServer {
    require_set_up(SetUp::Dovecot);
    server()
}

async fn found(email: &str) -> Discovery {
    require_set_up(SetUp::Dovecot);
    discover(email, &provider().env())
        .await
        .unwrap_or_else(|err| panic!("discovery for {email} failed: {err}"))
}

async fn not_found(email: &str) -> brevdue_core::Error {
    require_set_up(SetUp::Dovecot);
    match discover(email, &provider().env()).await {
        Ok(d) => panic!("discovery for {email} found {d:?}"),
        Err(err) => err,
    }
}

/// (protocol, host, port, security) of the incoming side and (host, port, security) of
/// the sending side.
type Servers = (
    Option<Protocol>,
    Option<String>,
    Option<u16>,
    Option<Security>,
    Option<String>,
    Option<u16>,
    Option<Security>,
);

fn servers(d: &AccountDraft) -> Servers {
    (
        d.protocol,
        d.host.clone(),
        d.port,
        d.security,
        d.smtp_host.clone(),
        d.smtp_port,
        d.smtp_security,
    )
}

fn expect(
    protocol: Protocol,
    host: &str,
    port: u16,
    security: Security,
    smtp: (&str, u16, Security),
) -> Servers {
    (
        Some(protocol),
        Some(host.into()),
        Some(port),
        Some(security),
        Some(smtp.0.into()),
        Some(smtp.1),
        Some(smtp.2),
    )
}

/// Logs in with the discovered settings (IMAP and SMTP), as `account add` does.
async fn logs_in(draft: &AccountDraft) {
    let t = engine(&[]);
    let config = draft.resolve().expect("the draft resolves");
    t.engine
        .add_account(config, PASSWORD.to_owned())
        .await
        .expect("the discovered settings log in");
}

fn tried(d: &Discovery, source: &str) -> String {
    d.tried
        .iter()
        .find(|l| l.starts_with(&format!("{source}:")))
        .unwrap_or_else(|| panic!("{source} not in {:?}", d.tried))
        .clone()
}

#[tokio::test]
async fn provider_autoconfig_prefers_imap_and_tls_and_keeps_pop3() {
    let s = mail();
    let user = s.new_user("auto");
    let email = format!("{user}@autoconf.test");
    let d = found(&email).await;
    assert_eq!(d.source, DiscoverySource::ProviderAutoconfig);
    // The document lists POP3 first and STARTTLS before TLS; IMAP with TLS wins.
    assert_eq!(
        servers(&d.draft),
        expect(
            Protocol::Imap,
            "localhost",
            s.imaps_port,
            Security::Tls,
            ("localhost", s.smtps_port, Security::Tls)
        )
    );
    assert_eq!(d.draft.username.as_deref(), Some(user.as_str()));
    assert_eq!(d.draft.smtp_username.as_deref(), Some(user.as_str()));
    assert_eq!(d.draft.email.as_deref(), Some(email.as_str()));
    assert_eq!(d.draft.ca_file.as_deref(), Some(s.ca_file.as_str()));
    assert!(!d.plaintext);
    assert_eq!(d.tried.len(), 1, "{:?}", d.tried);
    let pop = &d.alternatives[..];
    assert_eq!(pop.len(), 1);
    assert_eq!(
        (pop[0].protocol, pop[0].port, pop[0].security),
        (
            Some(Protocol::Pop3),
            Some(s.pop3s_port),
            Some(Security::Tls)
        )
    );
    // The address went along as Thunderbird sends it.
    let asked = format!(
        "autoconfig.autoconf.test /mail/config-v1.1.xml?emailaddress={user}%40autoconf.test"
    );
    assert!(provider().requests().contains(&asked), "{asked}");
    logs_in(&d.draft).await;
    logs_in(&pop[0]).await;
}

#[tokio::test]
async fn well_known_when_the_provider_has_no_autoconfig_host() {
    let s = mail();
    let user = s.new_user("wk");
    let d = found(&format!("{user}@wellknown.test")).await;
    assert_eq!(d.source, DiscoverySource::WellKnown);
    // The common pair: 993 with TLS, submission with STARTTLS.
    assert_eq!(
        servers(&d.draft),
        expect(
            Protocol::Imap,
            "localhost",
            s.imaps_port,
            Security::Tls,
            ("localhost", s.smtp_port, Security::StartTls)
        )
    );
    assert!(
        tried(&d, "provider_autoconfig").contains("no such DNS record"),
        "{:?}",
        d.tried
    );
    logs_in(&d.draft).await;
}

#[tokio::test]
async fn ispdb_entry_of_the_domain() {
    let s = mail();
    let user = s.new_user("isp");
    let d = found(&format!("{user}@listed.test")).await;
    assert_eq!(d.source, DiscoverySource::Ispdb);
    assert_eq!(
        servers(&d.draft),
        expect(
            Protocol::Imap,
            "localhost",
            s.imap_port,
            Security::StartTls,
            ("localhost", s.smtps_port, Security::Tls)
        )
    );
    assert_eq!(d.tried.len(), 3, "{:?}", d.tried);
    logs_in(&d.draft).await;
}

#[tokio::test]
async fn ispdb_entry_of_the_mx_hosts_domain() {
    let s = mail();
    let d = found("kari@mxhosted.test").await;
    assert_eq!(d.source, DiscoverySource::MxIspdb);
    assert_eq!(
        servers(&d.draft),
        expect(
            Protocol::Imap,
            "localhost",
            s.imaps_port,
            Security::Tls,
            ("localhost", s.smtps_port, Security::Tls)
        )
    );
    // %EMAILADDRESS%, as hosted providers log in.
    assert_eq!(d.draft.username.as_deref(), Some("kari@mxhosted.test"));
    assert!(
        tried(&d, "ispdb").contains("HTTP status 404"),
        "{:?}",
        d.tried
    );
    assert!(
        tried(&d, "mx_ispdb").contains("the ISPDB entry of mailhost.test, MX mx1.mailhost.test"),
        "{:?}",
        d.tried
    );
    assert!(provider()
        .requests()
        .contains(&"ispdb.test /v1.1/mailhost.test".to_owned()));
}

#[tokio::test]
async fn srv_records_with_a_dot_target_not_offered() {
    let s = mail();
    let d = found("kari@srvonly.test").await;
    assert_eq!(d.source, DiscoverySource::Srv);
    // _submission (priority 0, STARTTLS) and _submissions (priority 10, TLS): TLS wins.
    assert_eq!(
        servers(&d.draft),
        expect(
            Protocol::Imap,
            "imap.srvonly.test",
            s.imaps_port,
            Security::Tls,
            ("smtp.srvonly.test", s.smtps_port, Security::Tls)
        )
    );
    // _pop3s._tcp is ".": no POP3 alternative.
    assert!(d.alternatives.is_empty(), "{:?}", d.alternatives);
    assert_eq!(d.draft.username, None, "the address is the login");
    assert!(
        tried(&d, "mx_ispdb").contains("no MX host"),
        "{:?}",
        d.tried
    );
}

#[tokio::test]
async fn guesses_are_verified_by_connecting() {
    let s = mail();
    let d = found("kari@guessable.test").await;
    assert_eq!(d.source, DiscoverySource::Guess);
    assert_eq!(
        servers(&d.draft),
        expect(
            Protocol::Imap,
            "imap.guessable.test",
            s.imaps_port,
            Security::Tls,
            ("smtp.guessable.test", s.smtps_port, Security::Tls)
        )
    );
    assert_eq!(
        d.alternatives
            .iter()
            .map(|a| (a.host.clone(), a.port, a.security))
            .collect::<Vec<_>>(),
        vec![(
            Some("pop.guessable.test".into()),
            Some(s.pop3s_port),
            Some(Security::Tls)
        )]
    );
    assert_eq!(tried(&d, "srv"), "srv: no SRV records");
    assert_eq!(d.tried.len(), 6, "{:?}", d.tried);
}

#[tokio::test]
async fn malformed_xml_is_skipped_and_the_next_source_used() {
    let d = found("kari@malformed.test").await;
    assert_eq!(d.source, DiscoverySource::Ispdb);
    let line = tried(&d, "provider_autoconfig");
    assert!(line.contains("malformed XML"), "{line}");
    assert_eq!(d.draft.host.as_deref(), Some("localhost"));
}

#[tokio::test]
async fn a_huge_answer_is_cut_off() {
    let d = found("kari@huge.test").await;
    assert_eq!(d.source, DiscoverySource::WellKnown);
    let line = tried(&d, "provider_autoconfig");
    assert!(line.contains("larger than 128 KiB"), "{line}");
}

#[tokio::test]
async fn a_redirect_to_another_host_is_refused_one_within_the_host_followed() {
    let d = found("kari@redirect.test").await;
    let line = tried(&d, "provider_autoconfig");
    assert!(
        line.contains("redirect to another host refused") && line.contains("elsewhere.test"),
        "{line}"
    );
    assert!(
        !provider()
            .requests()
            .iter()
            .any(|r| r.starts_with("elsewhere.test")),
        "the other host was never asked"
    );
    // .well-known redirects to another path of the same host: followed.
    assert_eq!(d.source, DiscoverySource::WellKnown);
    assert_eq!(d.draft.host.as_deref(), Some("localhost"));
    assert!(provider()
        .requests()
        .contains(&"redirect.test /autoconfig/moved.xml".to_owned()));
}

#[tokio::test]
async fn a_plaintext_only_config_is_the_flagged_last_resort() {
    let s = mail();
    let user = s.new_user("plain");
    let d = found(&format!("{user}@plaintext.test")).await;
    assert!(d.plaintext);
    assert_eq!(d.source, DiscoverySource::ProviderAutoconfig);
    assert_eq!(
        servers(&d.draft),
        expect(
            Protocol::Imap,
            "localhost",
            s.imap_port,
            Security::Plain,
            ("localhost", s.smtp_port, Security::Plain)
        )
    );
    // Every later source was asked for something better first.
    assert!(tried(&d, "provider_autoconfig").contains("looking further"));
    assert_eq!(d.tried.len(), 6, "{:?}", d.tried);
    // It does work, for a user who chose a plain connection.
    logs_in(&d.draft).await;
}

#[tokio::test]
async fn nothing_found_says_so_with_every_source() {
    let err = not_found("kari@nothing.test").await;
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(err.advice().id, "discovery_found_nothing");
    assert_eq!(err.advice().detail, "nothing.test");
    for source in [
        "provider_autoconfig",
        "well_known",
        "ispdb",
        "mx_ispdb",
        "srv",
        "guess",
    ] {
        assert!(
            err.message.contains(&format!("{source}: ")),
            "{}",
            err.message
        );
    }
    assert!(!err.message.contains('\n'));
}

#[tokio::test]
async fn an_unreachable_guess_is_not_taken() {
    let err = not_found("kari@unreachable.test").await;
    assert_eq!(err.advice().id, "discovery_found_nothing");
    assert!(
        err.message.contains("imap.unreachable.test:") && err.message.contains("refused"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn a_guess_with_another_hosts_certificate_is_not_taken() {
    let err = not_found("kari@badcert.test").await;
    assert_eq!(err.advice().id, "discovery_found_nothing");
    assert!(
        err.message.contains("issued for another host name"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn a_dns_server_that_never_answers_ends_in_time() {
    require_set_up(SetUp::Dovecot);
    // Takes queries and never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut env = provider().env();
    env.dns_server = Some(silent.local_addr().unwrap());
    env.dns_timeout = Duration::from_millis(500);
    env.deadline = Duration::from_secs(10);
    let started = Instant::now();
    let err = discover("kari@autoconf.test", &env).await.unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(13), "took {took:?}");
    assert_eq!(err.kind, ErrorKind::Timeout, "{err}");
    assert_eq!(err.advice().id, "discovery_timeout");
    assert!(
        err.message
            .contains("the name server did not answer in time"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn bad_addresses_and_a_plain_http_ispdb_are_refused() {
    require_set_up(SetUp::Dovecot);
    for email in ["kari", "@autoconf.test", "kari@localhost", ""] {
        let err = discover(email, &provider().env()).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput, "{email}");
        assert_eq!(err.advice().id, "address_invalid", "{email}");
    }
    let mut env = provider().env();
    env.ispdb_url = env.ispdb_url.replace("https://", "http://");
    let err = discover("kari@listed.test", &env).await.unwrap_err();
    assert!(
        err.message.contains("is not an HTTPS URL"),
        "{}",
        err.message
    );
}
