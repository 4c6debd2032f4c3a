//! AllowedOrigin and AllowedHeader entries compiled into wildcard matchers, so that matching a
//! request value costs at most two slice comparisons.

/// An entry with at most one `*`, matched ASCII case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Pattern {
    /// `*` alone: matches every value, including the origin `null`.
    Any,
    /// No `*`: the whole value must be equal.
    Exact(Box<[u8]>),
    /// One `*`: the value must start with `prefix` and end with `suffix`, and be long enough to
    /// hold both without them overlapping (so `ab*ba` does not match `aba`).
    Wildcard { prefix: Box<[u8]>, suffix: Box<[u8]> },
}

/// Returned by [`Pattern::parse`] for an entry with more than one `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TooManyWildcards;

impl Pattern {
    pub(super) fn parse(text: &str) -> Result<Self, TooManyWildcards> {
        let Some((prefix, suffix)) = text.split_once('*') else {
            return Ok(Pattern::Exact(text.as_bytes().into()));
        };
        if suffix.contains('*') {
            return Err(TooManyWildcards);
        }
        if prefix.is_empty() && suffix.is_empty() {
            return Ok(Pattern::Any);
        }
        Ok(Pattern::Wildcard { prefix: prefix.as_bytes().into(), suffix: suffix.as_bytes().into() })
    }

    pub(super) fn is_any(&self) -> bool {
        matches!(self, Pattern::Any)
    }

    pub(super) fn matches(&self, value: &[u8]) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(exact) => value.eq_ignore_ascii_case(exact),
            Pattern::Wildcard { prefix, suffix } => {
                value.len() >= prefix.len() + suffix.len()
                    && value[..prefix.len()].eq_ignore_ascii_case(prefix)
                    && value[value.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_zero_one_or_lone_wildcard() {
        assert_eq!(Pattern::parse("*"), Ok(Pattern::Any));
        assert_eq!(Pattern::parse("a.com"), Ok(Pattern::Exact(b"a.com".as_slice().into())));
        assert_eq!(
            Pattern::parse("x-*"),
            Ok(Pattern::Wildcard { prefix: b"x-".as_slice().into(), suffix: b"".as_slice().into() })
        );
        assert_eq!(Pattern::parse("https://*.*.example.com"), Err(TooManyWildcards));
        assert_eq!(Pattern::parse("**"), Err(TooManyWildcards));
    }

    #[test]
    fn matching_table() {
        let cases: &[(&str, &[u8], bool)] = &[
            ("*", b"https://a.com", true),
            ("*", b"null", true),
            ("*", b"", true),
            ("https://a.com", b"https://a.com", true),
            ("https://a.com", b"HTTPS://A.COM", true),
            ("https://a.com", b"https://a.com:443", false),
            ("https://a.com", b"http://a.com", false),
            ("https://*.a.com", b"https://x.a.com", true),
            ("https://*.a.com", b"https://x.y.A.com", true),
            ("https://*.a.com", b"https://.a.com", true),
            ("https://*.a.com", b"https://a.com", false),
            ("https://*.a.com", b"http://x.a.com", false),
            ("*.a.com", b"https://x.a.com", true),
            ("https://a.com:*", b"https://a.com:8443", true),
            ("https://a.com:*", b"https://a.com", false),
            ("ab*ba", b"aba", false),
            ("ab*ba", b"abba", true),
            ("x-amz-*", b"X-Amz-Date", true),
            ("x-amz-*", b"x-am", false),
            ("x-amz-*", b"\xffx-amz-", false),
        ];
        for &(pattern, value, expected) in cases {
            let compiled = Pattern::parse(pattern).unwrap();
            assert_eq!(compiled.matches(value), expected, "{pattern:?} against {:?}", String::from_utf8_lossy(value));
        }
    }
}
