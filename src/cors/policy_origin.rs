//! Reads an AllowedOrigin pattern as scheme, host and port, the terms in which Flash and
//! Silverlight policy files name who may load from the origin.

const WILDCARD: &str = "a wildcard can only be \"*\" alone or a leading \"*.\" of the host";
const NOT_AN_ORIGIN: &str = "it is not of the form scheme://host[:port]";
const NO_SCHEME: &str = "it has no scheme, so no browser origin matches it";
const OTHER_SCHEME: &str = "only http and https origins can be expressed";

/// An AllowedOrigin in the terms both plugin formats share.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum PolicyOrigin<'a> {
    /// `*`.
    Any,
    /// `host` is lower-cased and may start with `*.`; `scheme` ("http" or "https") is `None`
    /// only for such a wildcard host.
    Host { scheme: Option<&'static str>, host: String, port: Option<&'a str> },
}

impl<'a> PolicyOrigin<'a> {
    /// Reads an AllowedOrigin; the error says why the plugin formats cannot express it.
    pub(super) fn parse(pattern: &'a str) -> Result<Self, &'static str> {
        if pattern == "*" {
            return Ok(PolicyOrigin::Any);
        }
        if pattern.is_empty() || !pattern.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(NOT_AN_ORIGIN);
        }
        let (scheme, authority) = match pattern.split_once("://") {
            Some((scheme, authority)) => (Some(scheme), authority),
            None => (None, pattern),
        };
        let (host, port) = split_port(authority).ok_or(NOT_AN_ORIGIN)?;

        let wildcard_host = host.strip_prefix("*.").is_some_and(|rest| !rest.is_empty());
        let wildcards = pattern.matches('*').count();
        if wildcards > 1 || (wildcards == 1 && !wildcard_host) {
            return Err(WILDCARD);
        }
        let scheme = match scheme {
            // A leading `*` in a CORS pattern swallows the scheme too, so `*.example.com` matches
            // browser origins of either scheme; an exact pattern without one matches none.
            None if wildcard_host => None,
            None => return Err(NO_SCHEME),
            Some(scheme) if scheme.eq_ignore_ascii_case("http") => Some("http"),
            Some(scheme) if scheme.eq_ignore_ascii_case("https") => Some("https"),
            Some(_) => return Err(OTHER_SCHEME),
        };
        if port.is_some_and(|port| port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit())) {
            return Err(NOT_AN_ORIGIN);
        }
        Ok(PolicyOrigin::Host { scheme, host: host.to_ascii_lowercase(), port })
    }
}

/// Splits `host[:port]` (host possibly a bracketed IPv6 literal); `None` when there is a path,
/// query, fragment, user info or no host.
fn split_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.contains(['/', '?', '#', '@']) {
        return None;
    }
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')? + 1;
        match &authority[end..] {
            "" => (&authority[..end], None),
            rest => (&authority[..end], Some(rest.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    (!host.is_empty()).then_some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(scheme: Option<&'static str>, host: &str, port: Option<&'static str>) -> PolicyOrigin<'static> {
        PolicyOrigin::Host { scheme, host: host.to_owned(), port }
    }

    #[test]
    fn expressible_origins() {
        let cases: &[(&str, PolicyOrigin<'static>)] = &[
            ("*", PolicyOrigin::Any),
            ("https://www.example.com", host(Some("https"), "www.example.com", None)),
            ("HTTP://A.Example.com:8080", host(Some("http"), "a.example.com", Some("8080"))),
            ("https://*.example.com", host(Some("https"), "*.example.com", None)),
            ("*.example.com", host(None, "*.example.com", None)),
            ("http://[::1]:8080", host(Some("http"), "[::1]", Some("8080"))),
            ("http://[::1]", host(Some("http"), "[::1]", None)),
        ];
        for (pattern, expected) in cases {
            assert_eq!(PolicyOrigin::parse(pattern).as_ref(), Ok(expected), "{pattern:?}");
        }
    }

    #[test]
    fn inexpressible_origins() {
        let cases: &[(&str, &str)] = &[
            ("https://a.*.example.com", WILDCARD),
            ("https://*example.com", WILDCARD),
            ("https://*", WILDCARD),
            ("*://a.example.com", WILDCARD),
            ("https://a.example.com:*", WILDCARD),
            ("https://*.*.example.com", WILDCARD),
            ("https://*.", WILDCARD),
            ("null", NO_SCHEME),
            ("www.example.com", NO_SCHEME),
            ("chrome-extension://abcdef", OTHER_SCHEME),
            ("https://www.example.com/", NOT_AN_ORIGIN),
            ("https://user@www.example.com", NOT_AN_ORIGIN),
            ("https://www.example.com:", NOT_AN_ORIGIN),
            ("https://www.example.com:80a", NOT_AN_ORIGIN),
            ("https://", NOT_AN_ORIGIN),
            ("http://[::1", NOT_AN_ORIGIN),
            ("https://a b", NOT_AN_ORIGIN),
            ("", NOT_AN_ORIGIN),
        ];
        for &(pattern, reason) in cases {
            assert_eq!(PolicyOrigin::parse(pattern), Err(reason), "{pattern:?}");
        }
    }
}
