//!
//! <https://tools.ietf.org/html/rfc2342>
//!
//! IMAP4 Namespace
//!

use std::borrow::Cow;

use nom::{
    branch::alt,
    bytes::streaming::{tag, tag_no_case},
    character::streaming::{char, space0},
    combinator::map,
    multi::{many0, many1},
    sequence::{delimited, preceded},
    IResult, Parser,
};

use crate::core::{literal, nil, quoted, string, to_owned_cow};
use crate::Response;

/// One namespace of a NAMESPACE response: a mailbox name prefix and the hierarchy
/// delimiter (none for a flat namespace).
#[derive(Debug, Eq, PartialEq, Clone)]
pub struct Namespace<'a> {
    pub prefix: Cow<'a, str>,
    pub delimiter: Option<Cow<'a, str>>,
}

impl Namespace<'_> {
    pub fn into_owned(self) -> Namespace<'static> {
        Namespace {
            prefix: to_owned_cow(self.prefix),
            delimiter: self.delimiter.map(to_owned_cow),
        }
    }
}

/// ```ignore
/// Namespace-Response = "NAMESPACE" SP Namespace SP Namespace SP Namespace
///     ; personal, other users', shared
/// ```
///
/// [RFC 2342, section 5](https://tools.ietf.org/html/rfc2342#section-5), as updated by
/// [RFC 4466](https://tools.ietf.org/html/rfc4466#section-2.6.1).
pub(crate) fn resp_namespace(i: &[u8]) -> IResult<&[u8], Response<'_>> {
    map(
        (
            tag_no_case("NAMESPACE "),
            namespaces,
            tag(" "),
            namespaces,
            tag(" "),
            namespaces,
        ),
        |(_, personal, _, other_users, _, shared)| Response::Namespace {
            personal,
            other_users,
            shared,
        },
    )
    .parse(i)
}

/// ```ignore
/// Namespace = nil / "(" 1*Namespace-Descr ")"
/// ```
///
/// NIL is an empty list. Some servers put spaces between the descriptions.
fn namespaces(i: &[u8]) -> IResult<&[u8], Vec<Namespace<'_>>> {
    alt((
        map(nil, |_| Vec::new()),
        delimited(
            char('('),
            many1(preceded(space0, namespace_descr)),
            preceded(space0, char(')')),
        ),
    ))
    .parse(i)
}

/// ```ignore
/// Namespace-Descr = "(" string SP (DQUOTE QUOTED-CHAR DQUOTE / nil)
///                       *(Namespace-Response-Extension) ")"
/// ```
fn namespace_descr(i: &[u8]) -> IResult<&[u8], Namespace<'_>> {
    map(
        delimited(
            char('('),
            (
                alt((map(quoted, unescape), map(literal, String::from_utf8_lossy))),
                tag(" "),
                alt((map(quoted, |q| Some(unescape(q))), map(nil, |_| None))),
                many0(extension),
            ),
            char(')'),
        ),
        |(prefix, _, delimiter, _)| Namespace { prefix, delimiter },
    )
    .parse(i)
}

/// The content of a quoted string, without its escapes.
fn unescape(quoted: &[u8]) -> Cow<'_, str> {
    if !quoted.contains(&b'\\') {
        return String::from_utf8_lossy(quoted);
    }
    let mut bytes = Vec::with_capacity(quoted.len());
    let mut escaped = false;
    for &byte in quoted {
        if escaped || byte != b'\\' {
            bytes.push(byte);
        }
        escaped = !escaped && byte == b'\\';
    }
    Cow::Owned(String::from_utf8_lossy(&bytes).into_owned())
}

/// ```ignore
/// Namespace-Response-Extension = SP string SP "(" string *(SP string) ")"
/// ```
///
/// Parsed and dropped.
fn extension(i: &[u8]) -> IResult<&[u8], ()> {
    map(
        (
            tag(" "),
            string,
            tag(" "),
            char('('),
            string,
            many0(preceded(tag(" "), string)),
            char(')'),
        ),
        |_| (),
    )
    .parse(i)
}

#[cfg(test)]
mod tests {
    use super::Namespace;
    use crate::Response;

    fn ns(prefix: &'static str, delimiter: Option<&'static str>) -> Namespace<'static> {
        Namespace {
            prefix: prefix.into(),
            delimiter: delimiter.map(Into::into),
        }
    }

    #[test]
    fn test_namespace_responses() {
        type Expected = (
            Vec<Namespace<'static>>,
            Vec<Namespace<'static>>,
            Vec<Namespace<'static>>,
        );
        let cases: Vec<(&str, &[u8], Expected)> = vec![
            (
                "Dovecot 2.3, default configuration",
                b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n",
                (vec![ns("", Some("/"))], vec![], vec![]),
            ),
            (
                "Dovecot 2.3 with shared and public namespaces",
                b"* NAMESPACE ((\"INBOX.\" \".\")) ((\"shared.\" \".\")) ((\"Public.\" \".\"))\r\n",
                (
                    vec![ns("INBOX.", Some("."))],
                    vec![ns("shared.", Some("."))],
                    vec![ns("Public.", Some("."))],
                ),
            ),
            (
                "Cyrus, netnews convention",
                b"* NAMESPACE ((\"INBOX.\" \".\")) ((\"user.\" \".\")) ((\"\" \".\"))\r\n",
                (
                    vec![ns("INBOX.", Some("."))],
                    vec![ns("user.", Some("."))],
                    vec![ns("", Some("."))],
                ),
            ),
            (
                "Cyrus, altnamespace and unixhierarchysep",
                b"* NAMESPACE ((\"\" \"/\")) ((\"Other Users/\" \"/\")) ((\"Shared Folders/\" \"/\"))\r\n",
                (
                    vec![ns("", Some("/"))],
                    vec![ns("Other Users/", Some("/"))],
                    vec![ns("Shared Folders/", Some("/"))],
                ),
            ),
            (
                "Courier, two shared namespaces without a space between them",
                b"* NAMESPACE ((\"INBOX.\" \".\")) NIL ((\"#shared.\" \".\")(\"shared.\" \".\"))\r\n",
                (
                    vec![ns("INBOX.", Some("."))],
                    vec![],
                    vec![ns("#shared.", Some(".")), ns("shared.", Some("."))],
                ),
            ),
            (
                "UW-IMAP",
                b"* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\")(\"#public/\" \"/\")(\"#ftp/\" \"/\")(\"#news.\" \".\"))\r\n",
                (
                    vec![ns("", Some("/"))],
                    vec![ns("~", Some("/"))],
                    vec![
                        ns("#shared/", Some("/")),
                        ns("#public/", Some("/")),
                        ns("#ftp/", Some("/")),
                        ns("#news.", Some(".")),
                    ],
                ),
            ),
            (
                "a space between descriptions, a flat namespace, lower case nil",
                b"* namespace ((\"\" \"/\") (\"#mh/\" NIL)) nil NIL\r\n",
                (vec![ns("", Some("/")), ns("#mh/", None)], vec![], vec![]),
            ),
            (
                "RFC 2342 extension data, ignored",
                b"* NAMESPACE ((\"\" \"/\" \"X-PARAM\" (\"FLAG1\" \"FLAG2\"))) NIL NIL\r\n",
                (vec![ns("", Some("/"))], vec![], vec![]),
            ),
            (
                "RFC 5255 TRANSLATION extension, ignored",
                b"* NAMESPACE ((\"\" \"/\")) ((\"Other Users/\" \"/\" \"TRANSLATION\" (\"Andere Ben&AOQ-tzer/\"))) ((\"Public Folders/\" \"/\" \"TRANSLATION\" (\"Gemeinsame Postf&AOQ-cher/\")))\r\n",
                (
                    vec![ns("", Some("/"))],
                    vec![ns("Other Users/", Some("/"))],
                    vec![ns("Public Folders/", Some("/"))],
                ),
            ),
            (
                "a prefix as a literal, escapes in quoted strings",
                b"* NAMESPACE (({6}\r\nINBOX/ \"\\\\\")) NIL ((\"a\\\"b.\" \".\"))\r\n",
                (
                    vec![ns("INBOX/", Some("\\"))],
                    vec![],
                    vec![ns("a\"b.", Some("."))],
                ),
            ),
        ];
        for (server, input, (personal, other_users, shared)) in cases {
            match Response::parse(input) {
                Ok((rest, response)) => {
                    assert!(rest.is_empty(), "{server}: left {rest:?}");
                    assert_eq!(
                        response,
                        Response::Namespace {
                            personal,
                            other_users,
                            shared,
                        },
                        "{server}"
                    );
                }
                Err(err) => panic!("{server}: {err:?}"),
            }
        }
    }

    #[test]
    fn test_invalid_namespace_responses() {
        let cases: &[&[u8]] = &[
            b"* NAMESPACE () NIL NIL\r\n",
            b"* NAMESPACE ((\"\" \"/\")) NIL\r\n",
            b"* NAMESPACE ((\"\")) NIL NIL\r\n",
            b"* NAMESPACE ((\"\" \"/\" \"X-PARAM\")) NIL NIL\r\n",
        ];
        for input in cases {
            assert!(
                Response::parse(input).is_err(),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn test_namespace_into_owned() {
        let input =
            b"* NAMESPACE ((\"INBOX.\" \".\")) NIL ((\"#shared.\" \".\")(\"shared.\" \".\"))\r\n"
                .to_vec();
        let owned = Response::parse(&input).unwrap().1.into_owned();
        drop(input);
        assert_eq!(
            owned,
            Response::Namespace {
                personal: vec![ns("INBOX.", Some("."))],
                other_users: vec![],
                shared: vec![ns("#shared.", Some(".")), ns("shared.", Some("."))],
            }
        );
    }
}
