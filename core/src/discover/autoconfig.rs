//! Thunderbird's autoconfig format (config-v1.1.xml) read into candidate servers: pure,
//! and every refusal is one line saying why.

use crate::model::Security;

use super::plan::{fill_placeholders, valid_host, Address, Role, Server};

/// Node limit for a document (a real one has a few hundred).
const NODES_LIMIT: u32 = 10_000;

/// The servers a config document offers, placeholders filled, in the document's order.
/// `Err` is the reason it was skipped, one line.
pub fn parse(xml: &str, address: &Address) -> Result<Vec<Server>, String> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: NODES_LIMIT,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(xml, options)
        .map_err(|err| format!("malformed XML: {}", one_line(&err.to_string())))?;
    let root = doc.root_element();
    if root.tag_name().name() != "clientConfig" {
        return Err(format!(
            "not an autoconfig document (its root is <{}>)",
            one_line(root.tag_name().name())
        ));
    }
    let provider = child(root, "emailProvider")
        .ok_or_else(|| "no <emailProvider> in the document".to_owned())?;
    let mut servers = Vec::new();
    let mut refused = Vec::new();
    for node in provider.children().filter(|n| n.is_element()) {
        let role = match (node.tag_name().name(), node.attribute("type")) {
            ("incomingServer", Some("imap")) => Role::Imap,
            ("incomingServer", Some("pop3")) => Role::Pop3,
            ("outgoingServer", Some("smtp")) => Role::Smtp,
            _ => continue,
        };
        match server(node, role, address) {
            Ok(server) => servers.push(server),
            Err(why) => refused.push(why),
        }
    }
    if servers.is_empty() {
        return Err(match refused.first() {
            Some(why) => format!("no usable server ({why})"),
            None => "no IMAP, POP3 or SMTP server in the document".to_owned(),
        });
    }
    Ok(servers)
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children()
        .find(|n| n.is_element() && n.tag_name().name() == name)
}

fn text(node: roxmltree::Node, name: &str) -> Option<String> {
    child(node, name)
        .and_then(|n| n.text())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

fn server(node: roxmltree::Node, role: Role, address: &Address) -> Result<Server, String> {
    let host = text(node, "hostname")
        .map(|h| fill_placeholders(&h, address).to_ascii_lowercase())
        .ok_or_else(|| "a server without <hostname>".to_owned())?;
    if !valid_host(&host) {
        return Err(format!("'{}' is not a host name", one_line(&host)));
    }
    let port = text(node, "port")
        .and_then(|p| p.parse::<u16>().ok())
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{host}: no valid <port>"))?;
    let security = match text(node, "socketType").as_deref() {
        Some("SSL") => Security::Tls,
        Some("STARTTLS") => Security::StartTls,
        Some("plain") => Security::Plain,
        other => {
            return Err(format!(
                "{host}: unknown <socketType> {}",
                one_line(other.unwrap_or("(none)"))
            ))
        }
    };
    // Brevdue logs in with a password (PLAIN/LOGIN); a server that takes only other
    // methods (OAuth2, CRAM-MD5, Kerberos) is not for it yet.
    let methods: Vec<String> = node
        .children()
        .filter(|n| n.is_element() && n.tag_name().name() == "authentication")
        .filter_map(|n| n.text().map(|t| t.trim().to_owned()))
        .collect();
    let password = methods.is_empty()
        || methods
            .iter()
            .any(|m| matches!(m.as_str(), "password-cleartext" | "plain"));
    if !password {
        return Err(format!(
            "{host}: no password login ({})",
            one_line(&methods.join(", "))
        ));
    }
    let username = text(node, "username").map(|u| fill_placeholders(&u, address));
    Ok(Server {
        role,
        host,
        port,
        security,
        username,
    })
}

/// Text from outside made safe for one line of a report, and short.
pub fn one_line(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect();
    if text.chars().count() > 120 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::{Imap, Pop3, Smtp};
    use Security::{Plain, StartTls, Tls};

    fn addr() -> Address {
        Address::parse("kari@eksempel.no").unwrap()
    }

    fn config(servers: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="eksempel.no">
    <domain>eksempel.no</domain>
    <displayName>Eksempel</displayName>
    {servers}
  </emailProvider>
</clientConfig>"#
        )
    }

    fn srv(tag: &str, kind: &str, host: &str, port: &str, socket: &str, user: &str) -> String {
        format!(
            "<{tag} type=\"{kind}\"><hostname>{host}</hostname><port>{port}</port>\
             <socketType>{socket}</socketType><username>{user}</username>\
             <authentication>password-cleartext</authentication></{tag}>"
        )
    }

    #[test]
    fn servers_are_read_with_placeholders_filled() {
        let xml = config(
            &[
                srv(
                    "incomingServer",
                    "imap",
                    "imap.%EMAILDOMAIN%",
                    "993",
                    "SSL",
                    "%EMAILADDRESS%",
                ),
                srv(
                    "incomingServer",
                    "pop3",
                    "pop.eksempel.no",
                    "995",
                    "SSL",
                    "%EMAILLOCALPART%",
                ),
                srv(
                    "outgoingServer",
                    "smtp",
                    "SMTP.eksempel.no",
                    "587",
                    "STARTTLS",
                    "%EMAILLOCALPART%",
                ),
                srv(
                    "incomingServer",
                    "exchange",
                    "ews.eksempel.no",
                    "443",
                    "SSL",
                    "x",
                ),
            ]
            .concat(),
        );
        let got = parse(&xml, &addr()).unwrap();
        let expected = vec![
            Server {
                role: Imap,
                host: "imap.eksempel.no".into(),
                port: 993,
                security: Tls,
                username: Some("kari@eksempel.no".into()),
            },
            Server {
                role: Pop3,
                host: "pop.eksempel.no".into(),
                port: 995,
                security: Tls,
                username: Some("kari".into()),
            },
            Server {
                role: Smtp,
                host: "smtp.eksempel.no".into(),
                port: 587,
                security: StartTls,
                username: Some("kari".into()),
            },
        ];
        assert_eq!(got, expected);
    }

    #[test]
    fn each_bad_document_is_skipped_with_its_reason() {
        let ok = srv(
            "incomingServer",
            "imap",
            "imap.eksempel.no",
            "993",
            "SSL",
            "u",
        );
        let cases: Vec<(String, &str)> =
            vec![
            ("".into(), "malformed XML"),
            ("<clientConfig><emailProvider>".into(), "malformed XML"),
            ("not xml at all".into(), "malformed XML"),
            (
                "<!DOCTYPE x [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><clientConfig/>"
                    .into(),
                "malformed XML",
            ),
            ("<html><body>Not found</body></html>".into(), "its root is <html>"),
            ("<clientConfig version=\"1.1\"/>".into(), "no <emailProvider>"),
            (config(""), "no IMAP, POP3 or SMTP server"),
            (
                config(&srv("incomingServer", "imap", "imap.eksempel.no", "99999", "SSL", "u")),
                "no valid <port>",
            ),
            (
                config(&srv("incomingServer", "imap", "imap.eksempel.no", "993", "TLS1.3", "u")),
                "unknown <socketType> TLS1.3",
            ),
            (
                config(&srv("incomingServer", "imap", "evil host/x", "993", "SSL", "u")),
                "is not a host name",
            ),
            (
                config(&srv("incomingServer", "imap", "imap.%BAD%", "993", "SSL", "u")),
                "is not a host name",
            ),
            (
                config(
                    "<incomingServer type=\"imap\"><hostname>imap.eksempel.no</hostname>\
                     <port>993</port><socketType>SSL</socketType>\
                     <authentication>OAuth2</authentication></incomingServer>",
                ),
                "no password login (OAuth2)",
            ),
            (
                format!(
                    "<clientConfig><emailProvider>{}</emailProvider></clientConfig>",
                    "<x/>".repeat(20_000)
                ),
                "malformed XML",
            ),
        ];
        for (xml, reason) in cases {
            let err = parse(&xml, &addr()).unwrap_err();
            assert!(err.contains(reason), "{err:?} should say {reason:?}");
            assert!(!err.contains('\n'), "one line: {err:?}");
        }
        // One bad server among good ones costs only that server.
        let mixed = config(&format!(
            "{}{ok}",
            srv("incomingServer", "imap", "", "993", "SSL", "u")
        ));
        assert_eq!(parse(&mixed, &addr()).unwrap().len(), 1);
        let plain = config(&srv(
            "incomingServer",
            "imap",
            "imap.eksempel.no",
            "143",
            "plain",
            "u",
        ));
        assert_eq!(parse(&plain, &addr()).unwrap()[0].security, Plain);
    }
}
