//! Decides, per request, whether a cross-origin request is allowed and with which headers, by
//! first-match over the compiled rules as S3 does.

use http::{HeaderValue, Method};

use super::compile::{CompiledRule, is_tchar};
use super::headers::CorsHeaders;
use super::method::S3Method;
use super::rule::{CorsRule, CorsRulesError};

/// Rules compiled once at startup into matchers and pre-rendered header values; nothing is
/// parsed on the request path except the request's own headers.
#[derive(Debug, Clone)]
pub struct CorsPolicy {
    rules: Vec<CompiledRule>,
    enforce: bool,
}

/// The answer to a preflight (OPTIONS with Origin and Access-Control-Request-Method).
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(clippy::large_enum_variant, reason = "boxing would allocate per request")]
pub enum PreflightDecision {
    /// A rule allows the request the preflight announces.
    Allowed(CorsHeaders),
    /// No rule does (or the request's values are malformed).
    Denied,
}

/// The answer to an actual (non-preflight) request that carries Origin.
#[derive(Debug, Clone, PartialEq, Eq)]
// The decision is returned by value and consumed at once; boxing the headers would cost an
// allocation per request to save copying a couple of hundred bytes.
#[expect(clippy::large_enum_variant, reason = "boxing would allocate per request")]
pub enum ActualDecision {
    /// A rule allows the request.
    Allowed(CorsHeaders),
    /// No rule matched and enforcement is on: refuse the request.
    Denied,
    /// No rule matched and enforcement is off: serve without CORS headers.
    NotApplied,
}

impl CorsPolicy {
    /// Validates `rules` as S3 does and compiles them. `enforce` decides whether an actual
    /// request that no rule allows is refused or served without CORS headers.
    pub fn new(rules: &[CorsRule], enforce: bool) -> Result<CorsPolicy, CorsRulesError> {
        let rules = rules
            .iter()
            .enumerate()
            .map(|(index, rule)| CompiledRule::compile(index, rule))
            .collect::<Result<_, _>>()?;
        Ok(CorsPolicy { rules, enforce })
    }

    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether actual requests that no rule allows are refused.
    pub fn enforce(&self) -> bool {
        self.enforce
    }

    /// The first rule whose origin matches, whose methods contain the requested method and whose
    /// AllowedHeader patterns match every requested header wins.
    ///
    /// As for actual requests, a rule allowing GET also allows a preflight for HEAD (browsers
    /// treat HEAD as a safelisted method, so Access-Control-Allow-Methods need not list it).
    pub fn preflight(
        &self,
        origin: &HeaderValue,
        request_method: &HeaderValue,
        request_headers: Option<&HeaderValue>,
    ) -> PreflightDecision {
        let Some(origin_bytes) = origin_bytes(origin) else {
            return PreflightDecision::Denied;
        };
        let Some(method) = S3Method::from_request_header(request_method.as_bytes()) else {
            return PreflightDecision::Denied;
        };
        let Some(requested) = requested_headers(request_headers) else {
            return PreflightDecision::Denied;
        };
        let found = self.rules.iter().find_map(|rule| {
            let pattern = rule.match_origin(origin_bytes)?;
            let allowed = rule.allows_method(method) && requested.iter().all(|name| rule.allows_header(name));
            allowed.then_some((rule, pattern.is_any()))
        });
        let Some((rule, any_origin)) = found else {
            return PreflightDecision::Denied;
        };

        let allow_headers = if requested.is_empty() {
            None
        } else {
            let echoed = requested.iter().map(|name| name.to_ascii_lowercase()).collect::<Vec<_>>();
            // Every name was checked to be a token, so this cannot fail; if it somehow did,
            // refusing is the safe answer.
            match HeaderValue::from_str(&echoed.join(", ")) {
                Ok(value) => Some(value),
                Err(_) => return PreflightDecision::Denied,
            }
        };
        let (allow_origin, allow_credentials) = allow_origin(any_origin, origin);
        PreflightDecision::Allowed(CorsHeaders {
            allow_origin,
            allow_credentials,
            allow_methods: Some(rule.allow_methods.clone()),
            allow_headers,
            max_age: rule.max_age.clone(),
            expose_headers: rule.expose_headers.clone(),
        })
    }

    /// The first rule whose origin matches and whose methods contain the request's method wins;
    /// a rule allowing GET also allows HEAD, because players HEAD what they may GET.
    pub fn actual(&self, origin: &HeaderValue, method: &Method) -> ActualDecision {
        let found = origin_bytes(origin).zip(S3Method::from_http(method)).and_then(|(origin_bytes, method)| {
            self.rules.iter().find_map(|rule| {
                let pattern = rule.match_origin(origin_bytes)?;
                rule.allows_method(method).then_some((rule, pattern.is_any()))
            })
        });
        match found {
            Some((rule, any_origin)) => {
                let (allow_origin, allow_credentials) = allow_origin(any_origin, origin);
                ActualDecision::Allowed(CorsHeaders {
                    allow_origin,
                    allow_credentials,
                    allow_methods: None,
                    allow_headers: None,
                    max_age: None,
                    expose_headers: rule.expose_headers.clone(),
                })
            }
            None if self.enforce => ActualDecision::Denied,
            None => ActualDecision::NotApplied,
        }
    }
}

/// The Origin value as bytes when it can be a serialised origin (visible ASCII, not empty);
/// anything else matches no rule, so that nothing odd is ever echoed back.
fn origin_bytes(origin: &HeaderValue) -> Option<&[u8]> {
    let bytes = origin.as_bytes();
    (!bytes.is_empty() && bytes.iter().all(u8::is_ascii_graphic)).then_some(bytes)
}

/// The names listed in Access-Control-Request-Headers, trimmed, without empty items; `None`
/// when the value is not a comma-separated list of header names.
fn requested_headers(value: Option<&HeaderValue>) -> Option<Vec<&str>> {
    let Some(value) = value else {
        return Some(Vec::new());
    };
    let mut names = Vec::new();
    for item in value.to_str().ok()?.split(',') {
        let name = item.trim_matches([' ', '\t']);
        if name.is_empty() {
            continue;
        }
        if !name.bytes().all(is_tchar) {
            return None;
        }
        names.push(name);
    }
    Some(names)
}

/// Access-Control-Allow-Origin and whether to send Access-Control-Allow-Credentials: `*` when
/// the matching AllowedOrigin is `*`, otherwise the request's Origin echoed with credentials
/// allowed, as S3 answers.
fn allow_origin(any_origin: bool, origin: &HeaderValue) -> (HeaderValue, bool) {
    if any_origin { (HeaderValue::from_static("*"), false) } else { (origin.clone(), true) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_policy() -> CorsPolicy {
        let rule =
            CorsRule { allowed_origins: vec!["*".into()], allowed_methods: vec!["GET".into()], ..CorsRule::default() };
        CorsPolicy::new(&[rule], true).unwrap()
    }

    #[test]
    fn empty_policy() {
        let policy = CorsPolicy::new(&[], false).unwrap();
        assert!(policy.is_empty());
        assert!(!policy.enforce());
        let origin = HeaderValue::from_static("https://a.com");
        assert_eq!(policy.actual(&origin, &Method::GET), ActualDecision::NotApplied);
        let get = HeaderValue::from_static("GET");
        assert_eq!(policy.preflight(&origin, &get, None), PreflightDecision::Denied);
        assert!(!test_policy().is_empty());
        assert!(test_policy().enforce());
    }

    #[test]
    fn invalid_rules_are_refused_by_index() {
        let good =
            CorsRule { allowed_origins: vec!["*".into()], allowed_methods: vec!["GET".into()], ..CorsRule::default() };
        let bad = CorsRule {
            id: Some("web".into()),
            allowed_origins: vec!["https://a.example.com".into(), "https://*.*.example.com".into()],
            ..good.clone()
        };
        let error = CorsPolicy::new(&[good.clone(), good, bad], true).unwrap_err();
        assert_eq!(
            error.to_string(),
            "rule 2 (id \"web\"): allowed_origins: \"https://*.*.example.com\" has more than one '*'"
        );
    }
}
