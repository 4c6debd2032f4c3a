//! The response headers an allowed CORS request gets, held as pre-rendered values so that a
//! decision costs reference-count bumps rather than formatting.

use http::{HeaderMap, HeaderValue, header};

/// The headers a decision adds to a response.
///
/// Building one clones pre-rendered [`HeaderValue`]s (reference-counted) and at most echoes the
/// request's own values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsHeaders {
    pub(super) allow_origin: HeaderValue,
    /// Set whenever the origin is echoed rather than `*`, as S3 does.
    pub(super) allow_credentials: bool,
    /// Preflight only.
    pub(super) allow_methods: Option<HeaderValue>,
    /// Preflight only, and only when headers were requested.
    pub(super) allow_headers: Option<HeaderValue>,
    /// Preflight only, and only when the rule has MaxAgeSeconds.
    pub(super) max_age: Option<HeaderValue>,
    pub(super) expose_headers: HeaderValue,
}

impl CorsHeaders {
    /// Writes the headers into `headers`, replacing any value already there: each of them must
    /// appear at most once in a response for browsers to accept it.
    pub fn apply(self, headers: &mut HeaderMap) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, self.allow_origin);
        if self.allow_credentials {
            headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        if let Some(methods) = self.allow_methods {
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
        }
        if let Some(names) = self.allow_headers {
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, names);
        }
        if let Some(max_age) = self.max_age {
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, max_age);
        }
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, self.expose_headers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_all_present_headers_and_replaces_old_values() {
        let mut map = HeaderMap::new();
        map.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("stale"));
        map.insert(header::VARY, HeaderValue::from_static("Origin"));
        CorsHeaders {
            allow_origin: HeaderValue::from_static("https://a.com"),
            allow_credentials: true,
            allow_methods: Some(HeaderValue::from_static("GET, PUT")),
            allow_headers: Some(HeaderValue::from_static("range")),
            max_age: Some(HeaderValue::from_static("60")),
            expose_headers: HeaderValue::from_static("ETag"),
        }
        .apply(&mut map);
        assert_eq!(map.len(), 7);
        assert_eq!(map.get_all(header::ACCESS_CONTROL_ALLOW_ORIGIN).iter().count(), 1);
        assert_eq!(map[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://a.com");
        assert_eq!(map[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(map[header::ACCESS_CONTROL_ALLOW_METHODS], "GET, PUT");
        assert_eq!(map[header::ACCESS_CONTROL_ALLOW_HEADERS], "range");
        assert_eq!(map[header::ACCESS_CONTROL_MAX_AGE], "60");
        assert_eq!(map[header::ACCESS_CONTROL_EXPOSE_HEADERS], "ETag");
        assert_eq!(map[header::VARY], "Origin");
    }

    #[test]
    fn wildcard_origin_without_optional_headers() {
        let mut map = HeaderMap::new();
        CorsHeaders {
            allow_origin: HeaderValue::from_static("*"),
            allow_credentials: false,
            allow_methods: None,
            allow_headers: None,
            max_age: None,
            expose_headers: HeaderValue::from_static("ETag"),
        }
        .apply(&mut map);
        assert_eq!(map.len(), 2);
        assert_eq!(map[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(map[header::ACCESS_CONTROL_EXPOSE_HEADERS], "ETag");
    }
}
