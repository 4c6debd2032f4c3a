//! The bytes a request will most likely be answered with, guessed before the object's length
//! is known, so that a store able to answer metadata and bytes in one call (S3's ranged
//! GetObject) makes one round trip for a cold object instead of two.
//!
//! The guess is only a hint: the plan is still made from the metadata the store returns, and
//! bytes the plan does not need are dropped. It is not made where dropping would be the usual
//! outcome: a HEAD, a revalidation (a 304 needs no body), `If-Range`, several ranges.

use http::{HeaderMap, Method, header};
use http_range_header::SyntacticallyCorrectRange;

use super::ByteRange;

/// What to read along with the metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadHint {
    /// The whole object.
    Whole,
    /// From this offset to the end.
    From(u64),
    /// From the first offset to the second, inclusive (as the header writes it).
    Between(u64, u64),
    /// The last this many bytes.
    Last(u64),
}

/// The hint for a request, or `None` when metadata alone should be asked for first.
pub fn read_hint(method: &Method, headers: &HeaderMap) -> Option<ReadHint> {
    const CONDITIONAL: [header::HeaderName; 5] = [
        header::IF_MATCH,
        header::IF_NONE_MATCH,
        header::IF_MODIFIED_SINCE,
        header::IF_UNMODIFIED_SINCE,
        header::IF_RANGE,
    ];
    if *method != Method::GET || CONDITIONAL.iter().any(|name| headers.contains_key(name)) {
        return None;
    }
    let Some(range) = headers.get(header::RANGE) else { return Some(ReadHint::Whole) };
    // An unusable Range is ignored (RFC 9110 §14.2): the answer is the whole object.
    let Some(parsed) = range.to_str().ok().and_then(|text| http_range_header::parse_range_header(text).ok()) else {
        return Some(ReadHint::Whole);
    };
    match parsed.into_ranges().as_slice() {
        [SyntacticallyCorrectRange::Indexed(first, last)] => Some(ReadHint::Between(*first, *last)),
        [SyntacticallyCorrectRange::FromStart(first)] => Some(ReadHint::From(*first)),
        [SyntacticallyCorrectRange::FromLast(suffix)] => Some(ReadHint::Last(*suffix)),
        _ => None,
    }
}

impl ReadHint {
    /// The first byte, when it does not depend on the length.
    pub fn first_byte(self) -> Option<u64> {
        match self {
            Self::Whole => Some(0),
            Self::From(first) | Self::Between(first, _) => Some(first),
            Self::Last(_) => None,
        }
    }

    /// The bytes it names of an object of `len` bytes, as the plan resolves the same request
    /// (a range past the end is clipped to it); `None` when it names none.
    pub fn resolve(self, len: u64) -> Option<ByteRange> {
        match self {
            Self::Whole => ByteRange::new(0, len),
            Self::From(first) => ByteRange::new(first, len),
            Self::Between(first, last) => ByteRange::new(first, last.saturating_add(1).min(len)),
            Self::Last(suffix) => ByteRange::new(len.saturating_sub(suffix), len),
        }
    }

    /// The `Range` header that asks for it (`None`: the whole object, no header).
    pub fn range_header(self) -> Option<String> {
        match self {
            Self::Whole => None,
            Self::From(first) => Some(format!("bytes={first}-")),
            Self::Between(first, last) => Some(format!("bytes={first}-{last}")),
            Self::Last(suffix) => Some(format!("bytes=-{suffix}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(method: Method, headers: &[(&str, &str)]) -> Option<ReadHint> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(header::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        read_hint(&method, &map)
    }

    #[test]
    fn a_hint_only_where_the_bytes_are_likely_needed() {
        use ReadHint::*;
        type Case<'a> = (Method, &'a [(&'a str, &'a str)], Option<ReadHint>);
        let cases: [Case; 10] = [
            (Method::GET, &[], Some(Whole)),
            (Method::GET, &[("range", "bytes=10-19")], Some(Between(10, 19))),
            (Method::GET, &[("range", "bytes=10-")], Some(From(10))),
            (Method::GET, &[("range", "bytes=-10")], Some(Last(10))),
            (Method::GET, &[("range", "pages=1-2")], Some(Whole)),
            (Method::GET, &[("range", "bytes=0-1,5-6")], None),
            (Method::HEAD, &[], None),
            (Method::GET, &[("if-none-match", "\"a\"")], None),
            (Method::GET, &[("if-modified-since", "Mon, 01 Jan 2001 00:00:00 GMT")], None),
            (Method::GET, &[("range", "bytes=0-1"), ("if-range", "\"a\"")], None),
        ];
        for (method, headers, expected) in cases {
            assert_eq!(hint(method.clone(), headers), expected, "{method} {headers:?}");
        }
        assert_eq!(Between(10, 19).range_header().as_deref(), Some("bytes=10-19"));
        assert_eq!(Last(5).range_header().as_deref(), Some("bytes=-5"));
        assert_eq!(Whole.range_header(), None);
        assert_eq!((Last(5).first_byte(), From(7).first_byte()), (None, Some(7)));
    }

    #[test]
    fn a_hint_resolves_as_the_plan_does() {
        use ReadHint::*;
        for (hint, header) in [
            (Whole, None),
            (From(10), Some("bytes=10-")),
            (Between(10, 19), Some("bytes=10-19")),
            (Between(90, 1000), Some("bytes=90-1000")),
            (Last(5), Some("bytes=-5")),
            (Last(500), Some("bytes=-500")),
        ] {
            let mut headers = HeaderMap::new();
            if let Some(header) = header {
                headers.insert(header::RANGE, header.parse().unwrap());
            }
            let validators = super::super::Validators { etag: "\"a\"", last_modified: std::time::UNIX_EPOCH };
            let planned = match super::super::plan(&Method::GET, &headers, &validators, 100) {
                super::super::Plan::Full => ByteRange::new(0, 100),
                super::super::Plan::Single(range) => Some(range),
                other => panic!("{other:?}"),
            };
            assert_eq!(hint.resolve(100), planned, "{hint:?}");
        }
        assert_eq!(From(100).resolve(100), None);
    }
}
