//! The CORS step of the request pipeline: reads a request's CORS headers, asks the compiled
//! policy, counts the decision, and adds the `Vary` names every answer carries.
//!
//! `Vary: Origin` goes on every answer of the HTTPS listener but the probes, allowed or not, CORS
//! or not: a CDN that cached an answer without CORS headers must not hand it to a cross-origin
//! viewer. A preflight's answer also varies with the method and headers it announces.

use http::Method;
use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;

use super::{ActualDecision, CorsHeaders, CorsPolicy, PreflightDecision};
use crate::telemetry;

/// A cross-origin request no rule allows: refused with 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("CORS request not allowed")]
pub struct CorsDenied;

/// Whether `request` is a CORS preflight: OPTIONS with `Origin` and
/// `Access-Control-Request-Method`. An OPTIONS without them is answered with `Allow` alone.
pub fn is_preflight(request: &Parts) -> bool {
    request.method == Method::OPTIONS
        && request.headers.contains_key(header::ORIGIN)
        && request.headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

impl CorsPolicy {
    /// The CORS headers `request`'s answer carries, counted by decision: none for a request
    /// without `Origin`, or one no rule matches while `cors.enforce` is off; `CorsDenied` for a
    /// preflight no rule allows, or an actual request no rule matches while enforcing.
    pub fn decide(&self, request: &Parts) -> Result<Option<CorsHeaders>, CorsDenied> {
        let Some(origin) = request.headers.get(header::ORIGIN) else {
            return Ok(None);
        };
        let (decision, headers) = if let Some(method) = preflight_method(request) {
            let requested = request.headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS);
            match self.preflight(origin, method, requested) {
                PreflightDecision::Allowed(headers) => ("preflight_allowed", Ok(Some(headers))),
                PreflightDecision::Denied => ("preflight_denied", Err(CorsDenied)),
            }
        } else if request.method == Method::OPTIONS {
            // A plain OPTIONS: no CORS decision to make or count.
            return Ok(None);
        } else {
            match self.actual(origin, &request.method) {
                ActualDecision::Allowed(headers) => ("allowed", Ok(Some(headers))),
                ActualDecision::Denied => ("denied", Err(CorsDenied)),
                ActualDecision::NotApplied => ("not_applied", Ok(None)),
            }
        };
        metrics::counter!(telemetry::CORS_DECISIONS_TOTAL, "decision" => decision).increment(1);
        headers
    }
}

fn preflight_method(request: &Parts) -> Option<&HeaderValue> {
    (request.method == Method::OPTIONS).then(|| request.headers.get(header::ACCESS_CONTROL_REQUEST_METHOD))?
}

/// Appends the names an answer varies on, keeping whatever `Vary` holds already.
pub fn add_vary(headers: &mut HeaderMap, preflight: bool) {
    let mut vary = |name: &'static str| headers.append(header::VARY, HeaderValue::from_static(name));
    vary("Origin");
    if preflight {
        vary("Access-Control-Request-Method");
        vary("Access-Control-Request-Headers");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cors::CorsRule;

    fn request(method: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::builder().method(method).uri("/a.mp4");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    fn policy(enforce: bool) -> CorsPolicy {
        let rule = CorsRule {
            allowed_origins: vec!["https://player.example".into()],
            allowed_methods: vec!["GET".into(), "HEAD".into()],
            ..CorsRule::default()
        };
        CorsPolicy::new(&[rule], enforce).unwrap()
    }

    #[test]
    fn each_kind_of_request_gets_its_decision() {
        let (allowed, other) = (("origin", "https://player.example"), ("origin", "https://other.example"));
        let announce = ("access-control-request-method", "GET");
        let enforcing = policy(true);
        let decide = |policy: &CorsPolicy, method, headers: &[(&str, &str)]| {
            policy.decide(&request(method, headers)).map(|headers| headers.is_some())
        };
        assert_eq!(decide(&enforcing, "GET", &[]), Ok(false));
        assert_eq!(decide(&enforcing, "GET", &[allowed]), Ok(true));
        assert_eq!(decide(&enforcing, "GET", &[other]), Err(CorsDenied));
        assert_eq!(decide(&policy(false), "GET", &[other]), Ok(false));
        assert_eq!(decide(&enforcing, "OPTIONS", &[allowed, announce]), Ok(true));
        assert_eq!(decide(&policy(false), "OPTIONS", &[other, announce]), Err(CorsDenied));
        // OPTIONS without Access-Control-Request-Method is not a preflight.
        assert_eq!(decide(&enforcing, "OPTIONS", &[other]), Ok(false));
        assert!(is_preflight(&request("OPTIONS", &[allowed, announce])));
        assert!(!is_preflight(&request("GET", &[allowed, announce])));
    }

    #[test]
    fn vary_is_appended_never_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        add_vary(&mut headers, true);
        let vary: Vec<_> = headers.get_all(header::VARY).iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(
            vary,
            ["Accept-Encoding", "Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"]
        );
    }
}
