//! Table-driven tests of how the policy answers requests, and the rule set they share with the
//! property tests; kept apart from the policy code because the tables alone fill a file.

use http::{HeaderMap, HeaderValue, Method, header};

use super::{ActualDecision, CorsHeaders, CorsPolicy, CorsRule, PreflightDecision};

const EXPOSE_WWW: &str = "x-amz-request-id, Content-Range, Accept-Ranges, Content-Length, ETag";
const EXPOSE_SUB: &str = "ETag, x-first, Content-Range, Accept-Ranges, Content-Length";
const EXPOSE_DEFAULT: &str = "Content-Range, Accept-Ranges, Content-Length, ETag";

fn rule(id: &str, origins: &[&str], methods: &[&str]) -> CorsRule {
    CorsRule {
        id: Some(id.into()),
        allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
        allowed_methods: methods.iter().map(|s| s.to_string()).collect(),
        ..CorsRule::default()
    }
}

pub(super) fn rules() -> Vec<CorsRule> {
    let mut www = rule("www", &["https://www.example.com"], &["get"]);
    www.expose_headers = vec!["x-amz-request-id".into()];
    let mut sub = rule("sub", &["https://*.example.net"], &["GET", "PUT"]);
    sub.allowed_headers = vec!["x-amz-*".into(), "Range".into()];
    sub.expose_headers = vec!["ETag".into(), "x-first".into()];
    sub.max_age_seconds = Some(600);
    let ports = rule("ports", &["https://cdn.example.com:*", "*.example.org", "ab*ba"], &["GET"]);
    let mut any = rule("any", &["*"], &["GET"]);
    any.allowed_headers = vec!["*".into()];
    any.max_age_seconds = Some(60);
    vec![www, sub, ports, any]
}

pub(super) fn policy(enforce: bool) -> CorsPolicy {
    CorsPolicy::new(&rules(), enforce).unwrap()
}

pub(super) fn applied(headers: CorsHeaders) -> HeaderMap {
    let mut map = HeaderMap::new();
    headers.apply(&mut map);
    map
}

#[test]
fn actual_requests() {
    // (origin, method, expected Access-Control-Allow-Origin and Expose-Headers)
    type ActualCase = (&'static [u8], Method, Option<(&'static str, &'static str)>);
    let cases: &[ActualCase] = &[
        (b"https://www.example.com", Method::GET, Some(("https://www.example.com", EXPOSE_WWW))),
        (b"HTTPS://WWW.Example.COM", Method::GET, Some(("HTTPS://WWW.Example.COM", EXPOSE_WWW))),
        (b"https://www.example.com", Method::HEAD, Some(("https://www.example.com", EXPOSE_WWW))),
        // A port or a scheme that differs falls through to the catch-all rule.
        (b"https://www.example.com:8443", Method::GET, Some(("*", EXPOSE_DEFAULT))),
        (b"http://www.example.com", Method::GET, Some(("*", EXPOSE_DEFAULT))),
        (b"https://www.example.com", Method::PUT, None),
        (b"https://a.b.example.net", Method::PUT, Some(("https://a.b.example.net", EXPOSE_SUB))),
        // First match wins: "sub" comes before "any".
        (b"https://a.example.net", Method::GET, Some(("https://a.example.net", EXPOSE_SUB))),
        (b"https://a.example.net", Method::HEAD, Some(("https://a.example.net", EXPOSE_SUB))),
        (b"https://example.net", Method::PUT, None),
        (b"http://a.example.net", Method::PUT, None),
        (b"https://cdn.example.com:8443", Method::GET, Some(("https://cdn.example.com:8443", EXPOSE_DEFAULT))),
        (b"http://x.example.org", Method::GET, Some(("http://x.example.org", EXPOSE_DEFAULT))),
        (b"abba", Method::GET, Some(("abba", EXPOSE_DEFAULT))),
        (b"null", Method::GET, Some(("*", EXPOSE_DEFAULT))),
        (b"null", Method::DELETE, None),
        (b"https://www.example.com", Method::OPTIONS, None),
        (b"https://www.example.com", Method::PATCH, None),
        (b"https://\xffwww.example.com", Method::GET, None),
        (b"https://www.example.com extra", Method::GET, None),
        (b"", Method::GET, None),
    ];
    for (origin, method, expected) in cases {
        let value = HeaderValue::from_bytes(origin).unwrap();
        let name = String::from_utf8_lossy(origin);
        for enforce in [true, false] {
            match (policy(enforce).actual(&value, method), expected) {
                (ActualDecision::Allowed(headers), Some((allow_origin, expose))) => {
                    let map = applied(headers);
                    assert_eq!(map[header::ACCESS_CONTROL_ALLOW_ORIGIN], allow_origin, "{name} {method}");
                    assert_eq!(map[header::ACCESS_CONTROL_EXPOSE_HEADERS], expose, "{name} {method}");
                    let credentials = map.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
                    assert_eq!(credentials.is_some(), *allow_origin != "*", "{name} {method}");
                    assert!(!map.contains_key(header::ACCESS_CONTROL_ALLOW_METHODS));
                    assert!(!map.contains_key(header::ACCESS_CONTROL_MAX_AGE));
                    assert!(!map.contains_key(header::VARY), "the caller adds Vary");
                }
                (ActualDecision::Denied, None) if enforce => {}
                (ActualDecision::NotApplied, None) if !enforce => {}
                (decision, _) => panic!("{name} {method} enforce={enforce}: {decision:?}"),
            }
        }
    }
}

/// A preflight's expected Allow-Origin, Allow-Methods, Allow-Headers and Max-Age (`None`: denied).
type Expected = Option<(&'static str, &'static str, Option<&'static str>, Option<&'static str>)>;

#[test]
fn preflights() {
    // (origin, Access-Control-Request-Method, -Headers, expected)
    type PreflightCase = (&'static [u8], &'static [u8], Option<&'static [u8]>, Expected);
    let cases: &[PreflightCase] = &[
        (b"https://www.example.com", b"GET", None, Some(("https://www.example.com", "GET", None, None))),
        // HEAD is allowed wherever GET is.
        (b"https://www.example.com", b"HEAD", None, Some(("https://www.example.com", "GET", None, None))),
        // "www" allows no headers, so the catch-all rule answers.
        (b"https://www.example.com", b"GET", Some(b"X-Custom"), Some(("*", "GET", Some("x-custom"), Some("60")))),
        (b"https://www.example.com", b"PUT", None, None),
        (b"https://www.example.com", b"get", None, None),
        (
            b"https://a.example.net",
            b"PUT",
            Some(b" X-Amz-Date ,, range,"),
            Some(("https://a.example.net", "GET, PUT", Some("x-amz-date, range"), Some("600"))),
        ),
        (b"https://a.example.net", b"PUT", Some(b""), Some(("https://a.example.net", "GET, PUT", None, Some("600")))),
        (b"https://a.example.net", b"PUT", Some(b"x-amz-date, x-custom"), None),
        (b"https://a.example.net", b"PUT", Some(b"x amz"), None),
        (b"https://a.example.net", b"PUT", Some(b"x-amz-\xff"), None),
        (b"https://a.example.net", b"DELETE", None, None),
        (b"https://a.example.net", b"OPTIONS", None, None),
        (b"null", b"GET", Some(b"authorization"), Some(("*", "GET", Some("authorization"), Some("60")))),
        (b"null", b"PUT", None, None),
        (b"\xff", b"GET", None, None),
    ];
    let policy = policy(true);
    for (origin, method, requested, expected) in cases {
        let name = format!("{} {}", String::from_utf8_lossy(origin), String::from_utf8_lossy(method));
        let origin = HeaderValue::from_bytes(origin).unwrap();
        let method = HeaderValue::from_bytes(method).unwrap();
        let requested = requested.map(|value| HeaderValue::from_bytes(value).unwrap());
        check_preflight(&name, policy.preflight(&origin, &method, requested.as_ref()), *expected);
    }
}

fn check_preflight(name: &str, decision: PreflightDecision, expected: Expected) {
    match (decision, expected) {
        (PreflightDecision::Allowed(headers), Some((allow_origin, methods, names, max_age))) => {
            let map = applied(headers);
            assert_eq!(map[header::ACCESS_CONTROL_ALLOW_ORIGIN], allow_origin, "{name}");
            let credentials = map.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
            assert_eq!(credentials.is_some(), allow_origin != "*", "{name}");
            assert_eq!(map[header::ACCESS_CONTROL_ALLOW_METHODS], methods, "{name}");
            let text = |name| map.get(name).map(|v: &HeaderValue| v.to_str().unwrap());
            assert_eq!(text(header::ACCESS_CONTROL_ALLOW_HEADERS), names, "{name}");
            assert_eq!(text(header::ACCESS_CONTROL_MAX_AGE), max_age, "{name}");
            assert!(map.contains_key(header::ACCESS_CONTROL_EXPOSE_HEADERS), "{name}");
        }
        (PreflightDecision::Denied, None) => {}
        (decision, _) => panic!("{name}: {decision:?}"),
    }
}
