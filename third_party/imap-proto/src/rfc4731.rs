//!
//! <https://tools.ietf.org/html/rfc4731>
//!
//! IMAP4 Extension to SEARCH Command for Controlling What Kind of Information Is Returned
//!

use std::borrow::Cow;
use std::ops::RangeInclusive;

use nom::{
    branch::alt,
    bytes::streaming::{tag, tag_no_case, take_while1},
    character::streaming::char,
    combinator::{map, opt, peek, value, verify},
    multi::{many0, separated_list0},
    sequence::{delimited, preceded, terminated},
    IResult, Parser,
};

use crate::core::{
    astring, is_atom_char, number, number_64, sequence_set, string_utf8, to_owned_cow,
};
use crate::Response;

/// An ESEARCH response: what a `SEARCH RETURN (...)` asked for.
///
/// Result options the server did not send, or that matched nothing, are `None`: an empty
/// result has no MIN, MAX or ALL. Return data other than MIN, MAX, COUNT, ALL and MODSEQ
/// (from later extensions, such as PARTIAL or ADDTO) is skipped.
#[derive(Debug, Default, Eq, PartialEq, Clone)]
#[non_exhaustive]
pub struct ESearch<'a> {
    /// The tag of the command this answers, from `(TAG "...")`.
    pub tag: Option<Cow<'a, str>>,
    /// Whether the numbers are UIDs rather than message sequence numbers.
    pub uid: bool,
    pub min: Option<u32>,
    pub max: Option<u32>,
    pub count: Option<u32>,
    /// The matches, as ranges in the order the server sent them.
    pub all: Option<Vec<RangeInclusive<u32>>>,
    /// The highest mod-sequence of the matches (RFC 7162, section 3.1.5).
    pub modseq: Option<u64>,
}

impl ESearch<'_> {
    pub fn into_owned(self) -> ESearch<'static> {
        ESearch {
            tag: self.tag.map(to_owned_cow),
            uid: self.uid,
            min: self.min,
            max: self.max,
            count: self.count,
            all: self.all,
            modseq: self.modseq,
        }
    }
}

enum ReturnData {
    Min(u32),
    Max(u32),
    Count(u32),
    All(Vec<RangeInclusive<u32>>),
    ModSeq(u64),
    Unknown,
}

/// ```ignore
/// esearch-response  = "ESEARCH" [search-correlator] [SP "UID"] *(SP search-return-data)
/// search-correlator = SP "(" "TAG" SP tag-string ")"
/// ```
///
/// [RFC 4731, section 3.1](https://tools.ietf.org/html/rfc4731#section-3.1) and
/// [RFC 4466, section 2.6.2](https://tools.ietf.org/html/rfc4466#section-2.6.2).
pub(crate) fn resp_esearch(i: &[u8]) -> IResult<&[u8], Response<'_>> {
    let (i, (_, tag, uid, data)) = (
        tag_no_case("ESEARCH"),
        opt(preceded(
            tag(" "),
            delimited(
                (char('('), tag_no_case("TAG"), tag(" ")),
                string_utf8,
                char(')'),
            ),
        )),
        opt(preceded(
            tag(" "),
            terminated(tag_no_case("UID"), peek(alt((tag(" "), tag("\r\n"))))),
        )),
        many0(preceded(tag(" "), search_return_data)),
    )
        .parse(i)?;
    let mut esearch = ESearch {
        tag,
        uid: uid.is_some(),
        ..ESearch::default()
    };
    for item in data {
        match item {
            ReturnData::Min(n) => esearch.min = Some(n),
            ReturnData::Max(n) => esearch.max = Some(n),
            ReturnData::Count(n) => esearch.count = Some(n),
            ReturnData::All(set) => esearch.all = Some(set),
            ReturnData::ModSeq(n) => esearch.modseq = Some(n),
            ReturnData::Unknown => {}
        }
    }
    Ok((i, Response::ESearch(esearch)))
}

/// Return data parsed above: a malformed one is an error, not unknown data.
const KNOWN: [&[u8]; 5] = [b"MIN", b"MAX", b"COUNT", b"ALL", b"MODSEQ"];

/// ```ignore
/// search-return-data = "MIN" SP nz-number / "MAX" SP nz-number /
///                      "ALL" SP sequence-set / "COUNT" SP number /
///                      "MODSEQ" SP mod-sequence-value /
///                      search-modifier-name SP search-return-value
/// ```
fn search_return_data(i: &[u8]) -> IResult<&[u8], ReturnData> {
    alt((
        map(preceded(tag_no_case("MIN "), number), ReturnData::Min),
        map(preceded(tag_no_case("MAX "), number), ReturnData::Max),
        map(preceded(tag_no_case("COUNT "), number), ReturnData::Count),
        map(preceded(tag_no_case("ALL "), sequence_set), |set| {
            ReturnData::All(
                set.into_iter()
                    .map(|range| {
                        let (a, b) = range.into_inner();
                        a.min(b)..=a.max(b)
                    })
                    .collect(),
            )
        }),
        map(
            preceded(tag_no_case("MODSEQ "), number_64),
            ReturnData::ModSeq,
        ),
        map(
            (
                verify(take_while1(is_atom_char), |name: &[u8]| {
                    !KNOWN.iter().any(|known| name.eq_ignore_ascii_case(known))
                }),
                tag(" "),
                tagged_ext_val,
            ),
            |_| ReturnData::Unknown,
        ),
    ))
    .parse(i)
}

/// ```ignore
/// tagged-ext-val    = tagged-ext-simple / "(" [tagged-ext-comp] ")"
/// tagged-ext-simple = sequence-set / number / number64
/// tagged-ext-comp   = astring / tagged-ext-comp *(SP tagged-ext-comp) /
///                     "(" tagged-ext-comp ")"
/// ```
///
/// Skipped; a simple value is taken as any run of atom characters.
fn tagged_ext_val(i: &[u8]) -> IResult<&[u8], ()> {
    alt((
        value((), take_while1(is_atom_char)),
        value((), delimited(char('('), tagged_ext_comp, char(')'))),
    ))
    .parse(i)
}

fn tagged_ext_comp(i: &[u8]) -> IResult<&[u8], ()> {
    value(
        (),
        separated_list0(
            tag(" "),
            alt((
                value((), astring),
                value((), delimited(char('('), tagged_ext_comp, char(')'))),
            )),
        ),
    )
    .parse(i)
}

#[cfg(test)]
mod tests {
    use super::ESearch;
    use crate::Response;

    #[allow(clippy::too_many_arguments)]
    fn esearch(
        tag: Option<&'static str>,
        uid: bool,
        min: Option<u32>,
        max: Option<u32>,
        count: Option<u32>,
        all: Option<Vec<std::ops::RangeInclusive<u32>>>,
        modseq: Option<u64>,
    ) -> ESearch<'static> {
        ESearch {
            tag: tag.map(Into::into),
            uid,
            min,
            max,
            count,
            all,
            modseq,
        }
    }

    #[test]
    fn test_esearch_responses() {
        let cases: Vec<(&str, &[u8], ESearch<'static>)> = vec![
            (
                "Dovecot 2.3: SEARCH RETURN (MIN MAX COUNT ALL) ALL",
                b"* ESEARCH (TAG \"a5\") MIN 1 MAX 7 ALL 1:7 COUNT 7\r\n",
                esearch(Some("a5"), false, Some(1), Some(7), Some(7), Some(vec![1..=7]), None),
            ),
            (
                "Dovecot 2.3: UID SEARCH RETURN (ALL MIN MAX COUNT) UNFLAGGED",
                b"* ESEARCH (TAG \"a4\") UID MIN 1 MAX 7 ALL 1:2,4,7 COUNT 4\r\n",
                esearch(
                    Some("a4"),
                    true,
                    Some(1),
                    Some(7),
                    Some(4),
                    Some(vec![1..=2, 4..=4, 7..=7]),
                    None,
                ),
            ),
            (
                "Dovecot 2.3: UID SEARCH RETURN () ALL",
                b"* ESEARCH (TAG \"a7\") UID ALL 1:7\r\n",
                esearch(Some("a7"), true, None, None, None, Some(vec![1..=7]), None),
            ),
            (
                "Dovecot 2.3: COUNT of no match",
                b"* ESEARCH (TAG \"a8\") UID COUNT 0\r\n",
                esearch(Some("a8"), true, None, None, Some(0), None, None),
            ),
            (
                "Dovecot 2.3: MIN MAX of no match",
                b"* ESEARCH (TAG \"a9\") UID\r\n",
                esearch(Some("a9"), true, None, None, None, None, None),
            ),
            (
                "Dovecot 2.3: with a MODSEQ search key",
                b"* ESEARCH (TAG \"a5\") UID ALL 1:7 MODSEQ 9\r\n",
                esearch(Some("a5"), true, None, None, None, Some(vec![1..=7]), Some(9)),
            ),
            (
                "Dovecot 2.3: MIN COUNT MODSEQ",
                b"* ESEARCH (TAG \"a6\") MIN 3 COUNT 3 MODSEQ 9\r\n",
                esearch(Some("a6"), false, Some(3), None, Some(3), None, Some(9)),
            ),
            (
                "RFC 4731: MIN COUNT",
                b"* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n",
                esearch(Some("A282"), false, Some(2), None, Some(3), None, None),
            ),
            (
                "RFC 4731: ALL",
                b"* ESEARCH (TAG \"A283\") ALL 2,10:11\r\n",
                esearch(Some("A283"), false, None, None, None, Some(vec![2..=2, 10..=11]), None),
            ),
            (
                "RFC 4731: UID MIN MAX",
                b"* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800\r\n",
                esearch(Some("A285"), true, Some(7), Some(3800), None, None, None),
            ),
            (
                "no correlator, lower case, a range given high to low",
                b"* esearch uid all 9:7,3 count 4\r\n",
                esearch(None, true, None, None, Some(4), Some(vec![7..=9, 3..=3]), None),
            ),
            (
                "the tag as a literal",
                b"* ESEARCH (TAG {2}\r\nA1) COUNT 1\r\n",
                esearch(Some("A1"), false, None, None, Some(1), None, None),
            ),
            (
                "RFC 5267 ADDTO and REMOVEFROM, skipped",
                b"* ESEARCH (TAG \"C01\") UID ADDTO (0 2733) REMOVEFROM (0 2731:2732) COUNT 2\r\n",
                esearch(Some("C01"), true, None, None, Some(2), None, None),
            ),
            (
                "RFC 9394 PARTIAL and RFC 6203 RELEVANCY, skipped",
                b"* ESEARCH (TAG \"B1\") UID PARTIAL (-1:-100 200:250,252:300) RELEVANCY (4 99 42) MIN 200\r\n",
                esearch(Some("B1"), true, Some(200), None, None, None, None),
            ),
            (
                "an unknown item with a simple value and nested lists, skipped",
                b"* ESEARCH (TAG \"x\") XFOO 17 XBAR ((1 \"a b\") NIL) ALL 5\r\n",
                esearch(Some("x"), false, None, None, None, Some(vec![5..=5]), None),
            ),
        ];
        for (source, input, expected) in cases {
            match Response::parse(input) {
                Ok((rest, response)) => {
                    assert!(rest.is_empty(), "{source}: left {rest:?}");
                    assert_eq!(response, Response::ESearch(expected), "{source}");
                }
                Err(err) => panic!("{source}: {err:?}"),
            }
        }
    }

    #[test]
    fn test_invalid_esearch_responses() {
        let cases: &[&[u8]] = &[
            b"* ESEARCH (TAG) ALL 1\r\n",
            b"* ESEARCH (TAG \"a\") ALL\r\n",
            b"* ESEARCH (TAG \"a\") MIN x\r\n",
            b"* ESEARCH (TAG \"a\") ALL 1:*\r\n",
            b"* ESEARCH (TAG \"a\") UIDS ALL 1\r\n",
            b"* ESEARCH (TAG \"a\") COUNT -1\r\n",
            b"* ESEARCH (TAG \"a\") MODSEQ (1)\r\n",
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
    fn test_esearch_into_owned() {
        let input = b"* ESEARCH (TAG \"A301\") UID ALL 17,900,901\r\n".to_vec();
        let owned = Response::parse(&input).unwrap().1.into_owned();
        drop(input);
        assert_eq!(
            owned,
            Response::ESearch(esearch(
                Some("A301"),
                true,
                None,
                None,
                None,
                Some(vec![17..=17, 900..=900, 901..=901]),
                None
            ))
        );
    }
}
