//! Preconditions (RFC 9110 §13): If-Match, If-Unmodified-Since, If-None-Match,
//! If-Modified-Since, evaluated in the order §13.2.2 prescribes, and If-Range.

use std::time::SystemTime;

use http::{HeaderMap, HeaderValue, Method, header};

use super::{Plan, Validators, whole_seconds};

/// Evaluates the preconditions; `None` means "go on to the range".
pub(super) fn evaluate(method: &Method, headers: &HeaderMap, validators: &Validators<'_>) -> Option<Plan> {
    let safe = matches!(*method, Method::GET | Method::HEAD);
    if headers.contains_key(header::IF_MATCH) {
        if !any_line_matches(headers, header::IF_MATCH, validators.etag, Comparison::Strong) {
            return Some(Plan::PreconditionFailed);
        }
    } else if let Some(since) = date(headers.get(header::IF_UNMODIFIED_SINCE))
        && whole_seconds(validators.last_modified) > since
    {
        return Some(Plan::PreconditionFailed);
    }
    if headers.contains_key(header::IF_NONE_MATCH) {
        if any_line_matches(headers, header::IF_NONE_MATCH, validators.etag, Comparison::Weak) {
            return Some(if safe { Plan::NotModified } else { Plan::PreconditionFailed });
        }
    } else if safe
        && let Some(since) = date(headers.get(header::IF_MODIFIED_SINCE))
        && whole_seconds(validators.last_modified) <= since
    {
        return Some(Plan::NotModified);
    }
    None
}

/// If-Range holds when it is our strong entity-tag, or exactly our modification date.
pub(super) fn if_range_matches(value: &HeaderValue, validators: &Validators<'_>) -> bool {
    let Ok(text) = value.to_str() else { return false };
    let text = text.trim();
    if text.starts_with('"') || text.starts_with("W/") {
        return strong_eq(text, validators.etag);
    }
    date(Some(value)).is_some_and(|d| d == whole_seconds(validators.last_modified))
}

#[derive(Clone, Copy)]
enum Comparison {
    Strong,
    Weak,
}

/// A list split over several header lines is one list (RFC 9110 §5.3).
fn any_line_matches(headers: &HeaderMap, name: http::HeaderName, ours: &str, comparison: Comparison) -> bool {
    headers.get_all(name).iter().any(|line| list_matches(line, ours, comparison))
}

/// Whether a `*` or a comma-separated list of entity-tags matches ours.
fn list_matches(value: &HeaderValue, ours: &str, comparison: Comparison) -> bool {
    let Ok(text) = value.to_str() else { return false };
    if text.trim() == "*" {
        return true;
    }
    text.split(',').map(str::trim).any(|tag| match comparison {
        Comparison::Strong => strong_eq(tag, ours),
        Comparison::Weak => opaque(tag) == opaque(ours),
    })
}

/// Strong comparison: neither is weak and the opaque tags are equal.
fn strong_eq(tag: &str, ours: &str) -> bool {
    !tag.starts_with("W/") && !ours.starts_with("W/") && tag == ours
}

fn opaque(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

fn date(value: Option<&HeaderValue>) -> Option<SystemTime> {
    httpdate::parse_http_date(value?.to_str().ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::super::{Plan, Validators, plan};
    use http::{HeaderMap, HeaderName, HeaderValue, Method};
    use std::time::{Duration, UNIX_EPOCH};

    const ETAG: &str = "\"v1\"";
    const MODIFIED: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const EARLIER: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
    const LATER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";

    fn run(method: Method, pairs: &[(&'static str, &str)]) -> Plan {
        let headers: HeaderMap =
            pairs.iter().map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_str(v).unwrap())).collect();
        let validators = Validators { etag: ETAG, last_modified: UNIX_EPOCH + Duration::from_millis(784_111_777_500) };
        plan(&method, &headers, &validators, 1000)
    }

    #[test]
    fn preconditions_in_rfc_order() {
        use Plan::*;
        let single = |a, b| Single(super::super::ByteRange::new(a, b).unwrap());
        type Case<'a> = (Method, Vec<(&'static str, &'a str)>, Plan);
        let cases: Vec<Case<'_>> = vec![
            (Method::GET, vec![], Full),
            (Method::GET, vec![("if-match", ETAG)], Full),
            (Method::GET, vec![("if-match", "*")], Full),
            (Method::GET, vec![("if-match", "\"a\", \"v1\"")], Full),
            (Method::GET, vec![("if-match", "W/\"v1\"")], PreconditionFailed),
            (Method::GET, vec![("if-match", "\"v2\""), ("range", "bytes=0-1")], PreconditionFailed),
            (Method::GET, vec![("if-unmodified-since", EARLIER)], PreconditionFailed),
            (Method::GET, vec![("if-unmodified-since", MODIFIED)], Full),
            (Method::GET, vec![("if-unmodified-since", "garbage")], Full),
            (Method::GET, vec![("if-match", ETAG), ("if-unmodified-since", EARLIER)], Full),
            (Method::GET, vec![("if-none-match", ETAG)], NotModified),
            (Method::HEAD, vec![("if-none-match", ETAG)], NotModified),
            (Method::GET, vec![("if-none-match", "W/\"v1\"")], NotModified),
            (Method::GET, vec![("if-none-match", "\"x\", W/\"v1\"")], NotModified),
            (Method::GET, vec![("if-none-match", "\"x\""), ("if-none-match", ETAG)], NotModified),
            (Method::GET, vec![("if-match", "\"x\""), ("if-match", ETAG)], Full),
            (Method::GET, vec![("if-none-match", "*")], NotModified),
            (Method::GET, vec![("if-none-match", "\"x\"")], Full),
            (Method::DELETE, vec![("if-none-match", ETAG)], PreconditionFailed),
            (Method::GET, vec![("if-modified-since", MODIFIED)], NotModified),
            (Method::GET, vec![("if-modified-since", LATER)], NotModified),
            (Method::GET, vec![("if-modified-since", EARLIER)], Full),
            (Method::GET, vec![("if-modified-since", "yesterday")], Full),
            (Method::GET, vec![("if-none-match", "\"x\""), ("if-modified-since", LATER)], Full),
            (Method::GET, vec![("if-none-match", ETAG), ("range", "bytes=0-1")], NotModified),
            (Method::GET, vec![("range", "bytes=0-1"), ("if-range", ETAG)], single(0, 2)),
            (Method::GET, vec![("range", "bytes=0-1"), ("if-range", MODIFIED)], single(0, 2)),
            (Method::GET, vec![("range", "bytes=0-1"), ("if-range", LATER)], Full),
            (Method::GET, vec![("range", "bytes=0-1"), ("if-range", "W/\"v1\"")], Full),
            (Method::GET, vec![("range", "bytes=0-1"), ("if-range", "\"v2\"")], Full),
            (Method::GET, vec![("if-range", "\"v2\"")], Full),
            (Method::HEAD, vec![("range", "bytes=0-1")], single(0, 2)),
        ];
        for (method, headers, expected) in cases {
            assert_eq!(run(method.clone(), &headers), expected, "{method} {headers:?}");
        }
    }
}
