//! Where a request goes, decided once from its method and path, before any check runs.
//!
//! The decision is a value: the pipeline's later steps only act on it. Deciding it first costs
//! nothing for a refused request (a path is split, no store is asked) and keeps the order of
//! precedence in one match: probes, then OPTIONS, then the policy files, then object keys.

use http::Method;
use http::request::Parts;

use super::health::{HEALTH_PATH, READY_PATH};
use super::static_files::{StaticFile, StaticFiles};
use crate::error::RequestError;
use crate::key::{KeyError, ObjectKey, key_from_path};
use crate::telemetry::RouteKind;

/// Where a request goes.
#[derive(Debug)]
pub enum Route<'a> {
    /// `/healthz` or `/readyz` by GET or HEAD: answered before any check, for load balancers
    /// and orchestrators that hold no secret.
    Probe(Probe),
    /// Anything else: answered once the guard, the method and CORS allow it.
    Guarded(Target<'a>),
}

/// Which probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// `/healthz`: the process serves.
    Health,
    /// `/readyz`: send it traffic.
    Ready,
}

/// What a guarded request asks for.
#[derive(Debug)]
pub enum Target<'a> {
    /// OPTIONS on any path that is not a CORS preflight: `Allow` and nothing else.
    Options,
    /// `/crossdomain.xml` or `/clientaccesspolicy.xml`, when switched on.
    PolicyFile(&'a StaticFile),
    /// An object in the store.
    Object(ObjectKey),
    /// A path that names no object: the root (404) or one that cannot be a key (400).
    Invalid(RequestError),
}

impl<'a> Route<'a> {
    /// Decides where `request` goes. `policy_files` are the policy files switched on; a path of
    /// one that is switched off is an object key like any other.
    pub fn of(request: &Parts, policy_files: &'a StaticFiles) -> Self {
        let path = request.uri.path();
        let probe = matches!(request.method, Method::GET | Method::HEAD);
        match path {
            HEALTH_PATH if probe => return Self::Probe(Probe::Health),
            READY_PATH if probe => return Self::Probe(Probe::Ready),
            _ => {}
        }
        if request.method == Method::OPTIONS {
            return Self::Guarded(Target::Options);
        }
        if let Some(file) = policy_files.get(path) {
            return Self::Guarded(Target::PolicyFile(file));
        }
        Self::Guarded(match key_from_path(path) {
            Ok(key) => Target::Object(key),
            Err(KeyError::Root) => Target::Invalid(RequestError::NotFound),
            Err(other) => Target::Invalid(RequestError::BadPath(other)),
        })
    }
}

impl Target<'_> {
    /// The `route` label of the answer.
    pub fn kind(&self) -> RouteKind {
        match self {
            Self::Options => RouteKind::Options,
            Self::PolicyFile(_) => RouteKind::PolicyFile,
            Self::Object(_) | Self::Invalid(_) => RouteKind::Object,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CorsConfig, default_cors_rules};

    fn route(method: &str, path: &str, files: &StaticFiles) -> String {
        let request = http::Request::builder().method(method).uri(path).body(()).unwrap().into_parts().0;
        match Route::of(&request, files) {
            Route::Probe(probe) => format!("{probe:?}"),
            Route::Guarded(Target::Options) => "Options".into(),
            Route::Guarded(Target::PolicyFile(file)) => format!("PolicyFile({})", file.meta.len),
            Route::Guarded(Target::Object(key)) => format!("Object({})", key.as_str()),
            Route::Guarded(Target::Invalid(error)) => format!("Invalid({})", error.status().as_u16()),
        }
    }

    #[test]
    fn each_request_has_one_route() {
        let config = CorsConfig { crossdomain_xml: true, clientaccesspolicy_xml: false, ..CorsConfig::default() };
        let files = StaticFiles::new(&config, &default_cors_rules());
        let cases = [
            ("GET", "/healthz", "Health"),
            ("HEAD", "/readyz", "Ready"),
            // Probes only by GET and HEAD: anything else is refused like any other request.
            ("OPTIONS", "/healthz", "Options"),
            ("DELETE", "/healthz", "Object(healthz)"),
            ("OPTIONS", "/video/a.mp4", "Options"),
            ("OPTIONS", "/crossdomain.xml", "Options"),
            ("GET", "/video/a.mp4", "Object(video/a.mp4)"),
            ("HEAD", "/video/a%20b.mp4", "Object(video/a b.mp4)"),
            // A policy file switched off is an object like any other.
            ("GET", "/clientaccesspolicy.xml", "Object(clientaccesspolicy.xml)"),
            ("GET", "/", "Invalid(404)"),
            ("GET", "/a/../../etc/passwd", "Invalid(400)"),
        ];
        for (method, path, expected) in cases {
            assert_eq!(route(method, path, &files), expected, "{method} {path}");
        }
        assert!(route("GET", "/crossdomain.xml", &files).starts_with("PolicyFile("));
    }
}
