//! Discovery's decisions as pure functions: the address's parts and placeholders, which
//! source comes next, the registrable domain of an MX host, SRV records and guesses as
//! candidate servers, and which candidates make the account.

use crate::model::{Protocol, Security};
use crate::setup::AccountDraft;

use super::DiscoverySource;

/// What a server is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Imap,
    Pop3,
    Smtp,
}

/// One server a source offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub role: Role,
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// The login as the source gave it (placeholders filled); `None`: the address.
    pub username: Option<String>,
}

/// An e-mail address taken apart (the domain in lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub full: String,
    pub local: String,
    pub domain: String,
}

impl Address {
    /// `None` unless it is local@domain with a dotted, valid domain.
    pub fn parse(email: &str) -> Option<Self> {
        let email = email.trim();
        let (local, domain) = email.rsplit_once('@')?;
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        if local.is_empty() || !domain.contains('.') || !valid_host(&domain) {
            return None;
        }
        Some(Self {
            full: format!("{local}@{domain}"),
            local: local.to_owned(),
            domain,
        })
    }
}

/// Thunderbird's placeholders filled in from the address.
pub fn fill_placeholders(template: &str, address: &Address) -> String {
    template
        .replace("%EMAILADDRESS%", &address.full)
        .replace("%EMAILLOCALPART%", &address.local)
        .replace("%EMAILDOMAIN%", &address.domain)
}

/// A DNS host name (labels of letters, digits and '-') or an IP literal.
pub fn valid_host(host: &str) -> bool {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The order in which sources are asked (Thunderbird's).
pub const SOURCES: [DiscoverySource; 6] = [
    DiscoverySource::ProviderAutoconfig,
    DiscoverySource::WellKnown,
    DiscoverySource::Ispdb,
    DiscoverySource::MxIspdb,
    DiscoverySource::Srv,
    DiscoverySource::Guess,
];

/// What to do after a source answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// This source's result is the answer.
    Use,
    /// Keep it as the last resort (it offers only plaintext) and ask the next source.
    KeepAndGoOn,
    /// Nothing usable here: ask the next source.
    GoOn,
}

/// The step after a source gave `choice` (`None`: nothing usable). Only an encrypted
/// result ends the search; a plaintext one is kept in case nothing better turns up, and
/// the first plaintext one kept wins.
pub fn after(choice: Option<&Choice>, have_fallback: bool) -> Next {
    match choice {
        Some(c) if !c.plaintext => Next::Use,
        Some(_) if !have_fallback => Next::KeepAndGoOn,
        _ => Next::GoOn,
    }
}

/// The registrable domain of a host ("aspmx.l.google.com" → "google.com"): its last two
/// labels, three under a public suffix of two labels ("mx.example.co.uk" →
/// "example.co.uk"). `None` for a host without a dot or an IP literal.
pub fn registrable_domain(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let labels: Vec<&str> = host.split('.').filter(|l| !l.is_empty()).collect();
    if labels.len() < 2 {
        return None;
    }
    // Common two-label public suffixes (a small table, not the whole list).
    const TWO_LABEL: &[&str] = &[
        "co.uk", "org.uk", "ac.uk", "gov.uk", "me.uk", "ltd.uk", "plc.uk", "co.jp", "ne.jp",
        "or.jp", "com.au", "net.au", "org.au", "co.nz", "org.nz", "com.br", "com.cn", "com.tw",
        "co.in", "co.za", "com.mx", "com.ar", "com.tr", "co.kr", "priv.no",
    ];
    let last_two = labels[labels.len() - 2..].join(".");
    let take = if TWO_LABEL.contains(&last_two.as_str()) {
        3
    } else {
        2
    };
    (labels.len() >= take).then(|| labels[labels.len() - take..].join("."))
}

/// The SRV services of RFC 6186 and RFC 8314, each with what it offers.
pub const SRV_SERVICES: [(&str, Role, Security); 6] = [
    ("_imaps._tcp", Role::Imap, Security::Tls),
    ("_imap._tcp", Role::Imap, Security::StartTls),
    ("_pop3s._tcp", Role::Pop3, Security::Tls),
    ("_pop3._tcp", Role::Pop3, Security::StartTls),
    ("_submissions._tcp", Role::Smtp, Security::Tls),
    ("_submission._tcp", Role::Smtp, Security::StartTls),
];

/// One SRV record: priority, weight, port, target (without the final dot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: String,
}

/// The servers one SRV service's records offer, best first (lowest priority, then highest
/// weight). A target of "." (empty here) means the service is not offered at all.
pub fn srv_servers(role: Role, security: Security, records: &[Srv]) -> Vec<Server> {
    if records
        .iter()
        .any(|r| r.target.is_empty() || r.target == ".")
    {
        return Vec::new();
    }
    let mut records: Vec<&Srv> = records
        .iter()
        .filter(|r| r.port != 0 && valid_host(&r.target))
        .collect();
    records.sort_by_key(|r| (r.priority, std::cmp::Reverse(r.weight)));
    records
        .into_iter()
        .map(|r| Server {
            role,
            host: r.target.trim_end_matches('.').to_owned(),
            port: r.port,
            security,
            username: None,
        })
        .collect()
}

/// The standard ports guesses try, and where they really are (tests map them elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuessPorts {
    pub imaps: u16,
    pub imap: u16,
    pub pop3s: u16,
    pub pop3: u16,
    pub submissions: u16,
    pub submission: u16,
}

impl Default for GuessPorts {
    fn default() -> Self {
        Self {
            imaps: 993,
            imap: 143,
            pop3s: 995,
            pop3: 110,
            submissions: 465,
            submission: 587,
        }
    }
}

impl GuessPorts {
    /// "993=10993,587=10587": standard ports mapped to others; the rest stay.
    pub fn parse(text: &str) -> Option<Self> {
        let mut ports = Self::default();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (standard, actual) = pair.split_once('=')?;
            let actual: u16 = actual.trim().parse().ok().filter(|p| *p != 0)?;
            let slot = match standard.trim() {
                "993" => &mut ports.imaps,
                "143" => &mut ports.imap,
                "995" => &mut ports.pop3s,
                "110" => &mut ports.pop3,
                "465" => &mut ports.submissions,
                "587" => &mut ports.submission,
                _ => return None,
            };
            *slot = actual;
        }
        Some(ports)
    }
}

/// The guesses for a domain, in the order they are preferred: imap., mail. for IMAP;
/// pop., mail. for POP3; smtp., mail. for sending; TLS before STARTTLS. Never plaintext.
pub fn guesses(domain: &str, ports: &GuessPorts) -> Vec<Server> {
    let mut out = Vec::new();
    let mut add = |role, prefixes: &[&str], tls: u16, starttls: u16| {
        for (port, security) in [(tls, Security::Tls), (starttls, Security::StartTls)] {
            for prefix in prefixes {
                out.push(Server {
                    role,
                    host: format!("{prefix}.{domain}"),
                    port,
                    security,
                    username: None,
                });
            }
        }
    };
    add(Role::Imap, &["imap", "mail"], ports.imaps, ports.imap);
    add(Role::Pop3, &["pop", "mail"], ports.pop3s, ports.pop3);
    add(
        Role::Smtp,
        &["smtp", "mail"],
        ports.submissions,
        ports.submission,
    );
    out
}

/// The account a source's servers make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub incoming: Server,
    /// The best server of the other incoming protocol (POP3 when IMAP was chosen).
    pub alternative: Option<Server>,
    /// `None`: the source named no sending server (the draft's defaults apply).
    pub smtp: Option<Server>,
    /// The chosen incoming or sending server is unencrypted.
    pub plaintext: bool,
}

fn security_rank(security: Security) -> u8 {
    match security {
        Security::Tls => 0,
        Security::StartTls => 1,
        Security::Plain => 2,
    }
}

fn best(servers: &[Server], role: Role) -> Option<&Server> {
    servers
        .iter()
        .enumerate()
        .filter(|(_, s)| s.role == role)
        .min_by_key(|(i, s)| (security_rank(s.security), *i))
        .map(|(_, s)| s)
}

/// Picks the account from what a source offered: IMAP over POP3 (unless only POP3 is
/// encrypted), TLS over STARTTLS over plaintext, the source's own order last.
pub fn choose(servers: &[Server]) -> Option<Choice> {
    let imap = best(servers, Role::Imap);
    let pop3 = best(servers, Role::Pop3);
    let plain = |s: Option<&Server>| s.is_some_and(|s| s.security == Security::Plain);
    let (incoming, alternative) = match (imap, pop3) {
        (Some(i), Some(p)) if plain(Some(i)) && !plain(Some(p)) => (p, Some(i)),
        (Some(i), p) => (i, p),
        (None, Some(p)) => (p, None),
        (None, None) => return None,
    };
    let smtp = best(servers, Role::Smtp).cloned();
    Some(Choice {
        plaintext: incoming.security == Security::Plain || plain(smtp.as_ref()),
        incoming: incoming.clone(),
        alternative: alternative.cloned(),
        smtp,
    })
}

/// The form a choice fills in; `AccountDraft::resolve` adds every default.
pub fn draft(
    address: &Address,
    incoming: &Server,
    smtp: Option<&Server>,
    ca_file: Option<&str>,
) -> AccountDraft {
    AccountDraft {
        email: Some(address.full.clone()),
        protocol: Some(match incoming.role {
            Role::Pop3 => Protocol::Pop3,
            _ => Protocol::Imap,
        }),
        host: Some(incoming.host.clone()),
        port: Some(incoming.port),
        security: Some(incoming.security),
        username: incoming.username.clone(),
        ca_file: ca_file.map(str::to_owned),
        smtp_host: smtp.map(|s| s.host.clone()),
        smtp_port: smtp.map(|s| s.port),
        smtp_security: smtp.map(|s| s.security),
        smtp_username: smtp.and_then(|s| s.username.clone()),
        ..AccountDraft::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::{Imap, Pop3, Smtp};
    use Security::{Plain, StartTls, Tls};

    fn s(role: Role, host: &str, port: u16, security: Security) -> Server {
        Server {
            role,
            host: host.into(),
            port,
            security,
            username: None,
        }
    }

    #[test]
    fn addresses_and_placeholders() {
        let cases: [(&str, Option<(&str, &str)>); 6] = [
            ("kari@Eksempel.NO", Some(("kari", "eksempel.no"))),
            (
                " ola.n+tag@mail.firma.no ",
                Some(("ola.n+tag", "mail.firma.no")),
            ),
            ("kari", None),
            ("@eksempel.no", None),
            ("kari@localhost", None),
            ("kari@bad_dom ain.no", None),
        ];
        for (email, expected) in cases {
            let got = Address::parse(email);
            assert_eq!(
                got.as_ref().map(|a| (a.local.as_str(), a.domain.as_str())),
                expected,
                "{email}"
            );
        }
        let a = Address::parse("kari@eksempel.no").unwrap();
        let cases = [
            ("%EMAILADDRESS%", "kari@eksempel.no"),
            ("%EMAILLOCALPART%", "kari"),
            ("imap.%EMAILDOMAIN%", "imap.eksempel.no"),
            ("%EMAILLOCALPART%@%EMAILDOMAIN%", "kari@eksempel.no"),
            ("%REALNAME%", "%REALNAME%"),
            ("plain", "plain"),
        ];
        for (template, expected) in cases {
            assert_eq!(fill_placeholders(template, &a), expected, "{template}");
        }
    }

    #[test]
    fn host_names() {
        let cases = [
            ("imap.example.com", true),
            ("127.0.0.1", true),
            ("::1", true),
            ("localhost", true),
            ("a-b.example.com.", true),
            ("", false),
            ("-a.example.com", false),
            ("a..b", false),
            ("imap.%EMAILDOMAIN%", false),
            ("exa mple.com", false),
            ("evil.com/path", false),
        ];
        for (host, valid) in cases {
            assert_eq!(valid_host(host), valid, "{host}");
        }
        assert!(!valid_host(&"a".repeat(64)));
    }

    #[test]
    fn the_next_source() {
        let encrypted = choose(&[s(Imap, "i", 993, Tls), s(Smtp, "s", 465, Tls)]).unwrap();
        let plain = choose(&[s(Imap, "i", 143, Plain), s(Smtp, "s", 25, Plain)]).unwrap();
        let cases = [
            (Some(&encrypted), false, Next::Use),
            (Some(&encrypted), true, Next::Use),
            (Some(&plain), false, Next::KeepAndGoOn),
            (Some(&plain), true, Next::GoOn),
            (None, false, Next::GoOn),
            (None, true, Next::GoOn),
        ];
        for (choice, have_fallback, expected) in cases {
            assert_eq!(after(choice, have_fallback), expected, "{choice:?}");
        }
        assert_eq!(SOURCES[0], DiscoverySource::ProviderAutoconfig);
        assert_eq!(SOURCES[5], DiscoverySource::Guess);
    }

    #[test]
    fn registrable_domains() {
        let cases = [
            ("aspmx.l.google.com", Some("google.com")),
            ("aspmx.l.google.com.", Some("google.com")),
            (
                "example-com.mail.protection.outlook.com",
                Some("outlook.com"),
            ),
            ("mx1.mail.example.co.uk", Some("example.co.uk")),
            ("co.uk", None),
            ("google.com", Some("google.com")),
            ("MX.Provider.TEST", Some("provider.test")),
            ("localhost", None),
            ("192.0.2.1", None),
        ];
        for (host, expected) in cases {
            assert_eq!(registrable_domain(host).as_deref(), expected, "{host}");
        }
    }

    #[test]
    fn srv_records() {
        let r = |priority, weight, port, target: &str| Srv {
            priority,
            weight,
            port,
            target: target.into(),
        };
        type Case = (Vec<Srv>, Vec<(&'static str, u16)>);
        let cases: Vec<Case> = vec![
            (vec![], vec![]),
            (
                vec![r(0, 0, 993, "imap.example.com")],
                vec![("imap.example.com", 993)],
            ),
            // Lowest priority first, then the highest weight.
            (
                vec![
                    r(10, 0, 993, "b.example.com"),
                    r(0, 1, 993, "c.example.com"),
                    r(0, 5, 994, "a.example.com"),
                ],
                vec![
                    ("a.example.com", 994),
                    ("c.example.com", 993),
                    ("b.example.com", 993),
                ],
            ),
            // "." means: not offered.
            (vec![r(0, 0, 0, ".")], vec![]),
            (
                vec![r(0, 0, 993, "imap.example.com"), r(0, 0, 0, "")],
                vec![],
            ),
            // Port 0 and bad names are dropped.
            (
                vec![
                    r(0, 0, 0, "x.example.com"),
                    r(0, 0, 993, "bad name"),
                    r(1, 0, 993, "ok.example.com."),
                ],
                vec![("ok.example.com", 993)],
            ),
        ];
        for (records, expected) in cases {
            let got: Vec<(String, u16)> = srv_servers(Imap, Tls, &records)
                .into_iter()
                .map(|s| (s.host, s.port))
                .collect();
            let expected: Vec<(String, u16)> = expected
                .into_iter()
                .map(|(h, p)| (h.to_owned(), p))
                .collect();
            assert_eq!(got, expected, "{records:?}");
        }
    }

    #[test]
    fn guesses_and_their_ports() {
        let g = guesses("example.com", &GuessPorts::default());
        let got: Vec<(Role, String, u16, Security)> = g
            .iter()
            .map(|s| (s.role, s.host.clone(), s.port, s.security))
            .collect();
        let h = |p: &str| format!("{p}.example.com");
        assert_eq!(
            got,
            vec![
                (Imap, h("imap"), 993, Tls),
                (Imap, h("mail"), 993, Tls),
                (Imap, h("imap"), 143, StartTls),
                (Imap, h("mail"), 143, StartTls),
                (Pop3, h("pop"), 995, Tls),
                (Pop3, h("mail"), 995, Tls),
                (Pop3, h("pop"), 110, StartTls),
                (Pop3, h("mail"), 110, StartTls),
                (Smtp, h("smtp"), 465, Tls),
                (Smtp, h("mail"), 465, Tls),
                (Smtp, h("smtp"), 587, StartTls),
                (Smtp, h("mail"), 587, StartTls),
            ]
        );
        let cases = [
            ("", Some(GuessPorts::default())),
            (
                "993=1993, 587=1587",
                Some(GuessPorts {
                    imaps: 1993,
                    submission: 1587,
                    ..GuessPorts::default()
                }),
            ),
            ("994=1", None),
            ("993=0", None),
            ("993", None),
            ("993=x", None),
        ];
        for (text, expected) in cases {
            assert_eq!(GuessPorts::parse(text), expected, "{text}");
        }
    }

    #[test]
    fn choosing_the_account() {
        // (servers offered) → (incoming, alternative, smtp, plaintext)
        type Case = (
            Vec<Server>,
            Option<(Server, Option<Server>, Option<Server>, bool)>,
        );
        let imaps = s(Imap, "imap", 993, Tls);
        let imap_st = s(Imap, "imap", 143, StartTls);
        let imap_plain = s(Imap, "imap", 143, Plain);
        let pop3s = s(Pop3, "pop", 995, Tls);
        let smtps = s(Smtp, "smtp", 465, Tls);
        let sub = s(Smtp, "smtp", 587, StartTls);
        let smtp_plain = s(Smtp, "smtp", 25, Plain);
        let cases: Vec<Case> = vec![
            (vec![], None),
            (vec![smtps.clone()], None),
            // IMAP over POP3, with POP3 kept as the alternative.
            (
                vec![pop3s.clone(), imaps.clone(), smtps.clone()],
                Some((
                    imaps.clone(),
                    Some(pop3s.clone()),
                    Some(smtps.clone()),
                    false,
                )),
            ),
            // TLS over STARTTLS whatever the order; the common pair 993 + 587.
            (
                vec![imap_st.clone(), imaps.clone(), sub.clone()],
                Some((imaps.clone(), None, Some(sub.clone()), false)),
            ),
            (
                vec![imaps.clone(), sub.clone(), smtps.clone()],
                Some((imaps.clone(), None, Some(smtps.clone()), false)),
            ),
            // Plaintext only when nothing else is offered, and flagged.
            (
                vec![
                    imap_plain.clone(),
                    imap_st.clone(),
                    smtp_plain.clone(),
                    sub.clone(),
                ],
                Some((imap_st.clone(), None, Some(sub.clone()), false)),
            ),
            (
                vec![imap_plain.clone(), smtp_plain.clone()],
                Some((imap_plain.clone(), None, Some(smtp_plain.clone()), true)),
            ),
            (
                vec![imaps.clone(), smtp_plain.clone()],
                Some((imaps.clone(), None, Some(smtp_plain.clone()), true)),
            ),
            // Encrypted POP3 beats plaintext IMAP.
            (
                vec![imap_plain.clone(), pop3s.clone(), smtps.clone()],
                Some((
                    pop3s.clone(),
                    Some(imap_plain.clone()),
                    Some(smtps.clone()),
                    false,
                )),
            ),
            // No sending server named: the draft's defaults apply.
            (
                vec![imaps.clone()],
                Some((imaps.clone(), None, None, false)),
            ),
        ];
        for (servers, expected) in cases {
            let got = choose(&servers).map(|c| (c.incoming, c.alternative, c.smtp, c.plaintext));
            assert_eq!(got, expected, "{servers:?}");
        }
    }

    #[test]
    fn a_choice_fills_a_draft_that_resolves() {
        let a = Address::parse("kari@eksempel.no").unwrap();
        let incoming = Server {
            username: Some("kari".into()),
            ..s(Imap, "imap.eksempel.no", 993, Tls)
        };
        let config = draft(
            &a,
            &incoming,
            Some(&s(Smtp, "smtp.eksempel.no", 587, StartTls)),
            None,
        )
        .resolve()
        .unwrap();
        assert_eq!(config.protocol, Protocol::Imap);
        assert_eq!(
            (
                config.server.host.as_str(),
                config.server.port,
                config.server.security
            ),
            ("imap.eksempel.no", 993, Tls)
        );
        assert_eq!(config.server.username, "kari");
        let smtp = config.smtp.unwrap();
        assert_eq!(
            (
                smtp.host.as_str(),
                smtp.port,
                smtp.security,
                smtp.username.as_str()
            ),
            ("smtp.eksempel.no", 587, StartTls, "kari")
        );
        let pop = draft(
            &a,
            &s(Pop3, "pop.eksempel.no", 995, Tls),
            None,
            Some("/ca.pem"),
        )
        .resolve()
        .unwrap();
        assert_eq!(pop.protocol, Protocol::Pop3);
        assert_eq!(pop.server.username, "kari@eksempel.no");
        assert_eq!(pop.server.ca_file.as_deref(), Some("/ca.pem"));
    }
}
