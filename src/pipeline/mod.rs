//! The request pipeline of the HTTPS listener, read top to bottom:
//! guard (peer, CDN secret, viewer scheme) → method → CORS → route → plan → fetch → respond.
//!
//! Everything before "fetch" is a pure decision over the request and the object's metadata; only
//! the store is awaited. Headers every response carries (HSTS, `Vary: Origin`, CORS) are added
//! in one place at the end, so no branch can forget them.

mod health;
mod plain_http;
mod respond;
mod static_files;

use std::net::IpAddr;
use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Method, Response, StatusCode};

pub use health::{HEALTH_PATH, READY_PATH, Readiness, respond as probe_response};
pub use plain_http::PlainHttpPolicy;
use respond::Source;
use static_files::StaticFiles;

use crate::body::ResponseBody;
use crate::cache_control::CacheControl;
use crate::config::{ConfigError, LoadedConfig};
use crate::cors::{ActualDecision, CorsHeaders, CorsPolicy, PreflightDecision};
use crate::error::{ALLOWED_METHODS, RequestError};
use crate::guard::Guard;
use crate::key::{KeyError, ObjectKey, key_from_path};
use crate::plan::plan;
use crate::store::{CacheLookup, ObjectStore, StoreError, report_lookups};
use crate::telemetry::{self, Outcome, Route};

/// Everything a request needs, built once from the configuration and shared by all connections.
pub struct App {
    store: Arc<dyn ObjectStore>,
    guard: Guard,
    plain_http: PlainHttpPolicy,
    cors: CorsPolicy,
    static_files: StaticFiles,
    cache_control: CacheControl,
    hsts: Option<HeaderValue>,
    boundary: Arc<str>,
    readiness: Arc<Readiness>,
}

/// What the CORS step decided for a request.
enum CorsOutcome {
    /// A preflight, answered without touching the store.
    Preflight(Response<ResponseBody>),
    /// Headers to add to whatever the request is answered with (none: not a CORS request).
    Apply(Option<CorsHeaders>),
}

impl App {
    /// Compiles the configuration into the pipeline's runtime form.
    pub fn new(loaded: &LoadedConfig, store: Arc<dyn ObjectStore>) -> Result<Self, ConfigError> {
        let config = &loaded.config;
        let rules = cors_rules(loaded)?;
        let cors = CorsPolicy::new(&rules, config.cors.enforce).map_err(|e| loaded.error("cors.rules", e))?;
        let cache_control = CacheControl::new(&config.cache_control.effective_rules(), &config.cache_control.default)
            .map_err(|e| {
            let key = if e.index.is_some() { "cache_control.rules" } else { "cache_control.default" };
            loaded.error(key, e)
        })?;
        Ok(Self {
            store,
            guard: Guard::new(loaded)?,
            plain_http: PlainHttpPolicy::new(loaded)?,
            cors,
            static_files: StaticFiles::new(&config.cors, &rules),
            cache_control,
            hsts: hsts_value(&config.tls),
            boundary: crate::plan::multipart::new_boundary().into(),
            readiness: Arc::default(),
        })
    }

    /// Answers one request that arrived over TLS from `peer`.
    pub async fn handle(&self, request: &Parts, peer: IpAddr) -> Response<ResponseBody> {
        let path = request.uri.path();
        let probe = matches!(request.method, Method::GET | Method::HEAD);
        let response = if path == HEALTH_PATH && probe {
            with_outcome(health::respond(true), Route::Probe, "none")
        } else if path == READY_PATH && probe {
            with_outcome(health::respond(self.readiness.is_ready()), Route::Probe, "none")
        } else {
            let mut response = self.serve(request, peer).await.unwrap_or_else(|e| refuse(e, request));
            append_vary(&mut response, "Origin");
            response
        };
        self.finish(request, response)
    }

    /// What every answer on the HTTPS listener gets last: HSTS, and no body for a HEAD.
    fn finish(&self, request: &Parts, mut response: Response<ResponseBody>) -> Response<ResponseBody> {
        if let Some(hsts) = &self.hsts {
            response.headers_mut().insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
        }
        without_body_for_head(request, response)
    }

    /// Calls the store until it answers, then reports ready on `/readyz`.
    pub async fn warm_up(&self) {
        self.readiness.warm_up(self.store.as_ref()).await;
    }

    /// The readiness state `/readyz` reports.
    pub fn readiness(&self) -> Arc<Readiness> {
        Arc::clone(&self.readiness)
    }

    /// Reports not ready from now on: the server is draining.
    pub fn start_draining(&self) {
        self.readiness.start_draining();
    }

    /// Answers a request that arrived on the plain-HTTP listener.
    pub fn answer_plain_http(&self, request: &Parts, https_port: u16) -> Response<ResponseBody> {
        let response = self.plain_http.answer(request, Some(https_port)).unwrap_or_else(|e| refuse(e, request));
        if response.status() == StatusCode::MOVED_PERMANENTLY {
            metrics::counter!(telemetry::REDIRECTS_TOTAL).increment(1);
        }
        without_body_for_head(request, with_outcome(response, Route::PlainHttp, "none"))
    }

    /// Answers a request on a connection accepted above `server.max_connections`: 503 with
    /// `Retry-After`, and the connection closes after it.
    pub fn answer_overloaded(&self, request: &Parts) -> Response<ResponseBody> {
        self.finish(request, with_outcome(refuse(RequestError::Overloaded, request), Route::Refused, "none"))
    }

    async fn serve(&self, request: &Parts, peer: IpAddr) -> Result<Response<ResponseBody>, RequestError> {
        self.guard.check_peer(peer)?;
        self.guard.check_secret(&request.headers)?;
        if self.guard.viewer_used_plain_http(&request.headers, peer) {
            let redirect = self.plain_http.answer(request, None)?;
            metrics::counter!(telemetry::REDIRECTS_TOTAL).increment(1);
            return Ok(redirect);
        }
        check_method(request)?;
        let cors = match self.cors_step(request)? {
            CorsOutcome::Preflight(response) => return Ok(response),
            CorsOutcome::Apply(cors) => cors,
        };
        // The cache reports whether the object's first block was a hit, a miss or collapsed.
        let ((route, result), lookup) = report_lookups(self.route(request)).await;
        let storage = match &result {
            Err(RequestError::Store(error)) => error.kind(),
            Ok(_) if route == Route::Object => lookup.map_or("ok", CacheLookup::as_str),
            _ => "none",
        };
        let mut response = with_outcome(result.unwrap_or_else(|e| refuse(e, request)), route, storage);
        if let Some(cors) = cors {
            cors.apply(response.headers_mut());
        }
        Ok(response)
    }

    fn cors_step(&self, request: &Parts) -> Result<CorsOutcome, RequestError> {
        let Some(origin) = request.headers.get(header::ORIGIN) else {
            return Ok(CorsOutcome::Apply(None));
        };
        if request.method == Method::OPTIONS {
            let Some(method) = request.headers.get(header::ACCESS_CONTROL_REQUEST_METHOD) else {
                // Not a preflight: a plain OPTIONS, answered with `Allow` and no CORS.
                return Ok(CorsOutcome::Apply(None));
            };
            let requested = request.headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS);
            let response = match self.cors.preflight(origin, method, requested) {
                PreflightDecision::Allowed(cors) => {
                    cors_decision("preflight_allowed");
                    let mut response = empty(StatusCode::OK);
                    cors.apply(response.headers_mut());
                    response
                }
                PreflightDecision::Denied => {
                    cors_decision("preflight_denied");
                    RequestError::CorsDenied.into_response()
                }
            };
            let mut response = with_outcome(response, Route::Preflight, "none");
            append_vary(&mut response, "Access-Control-Request-Method");
            append_vary(&mut response, "Access-Control-Request-Headers");
            return Ok(CorsOutcome::Preflight(response));
        }
        match self.cors.actual(origin, &request.method) {
            ActualDecision::Allowed(cors) => {
                cors_decision("allowed");
                Ok(CorsOutcome::Apply(Some(cors)))
            }
            ActualDecision::Denied => {
                cors_decision("denied");
                Err(RequestError::CorsDenied)
            }
            ActualDecision::NotApplied => {
                cors_decision("not_applied");
                Ok(CorsOutcome::Apply(None))
            }
        }
    }

    async fn route(&self, request: &Parts) -> (Route, Result<Response<ResponseBody>, RequestError>) {
        if request.method == Method::OPTIONS {
            let mut response = empty(StatusCode::OK);
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
            return (Route::Options, Ok(response));
        }
        let head = request.method == Method::HEAD;
        if let Some(file) = self.static_files.get(request.uri.path()) {
            let plan = plan(&request.method, &request.headers, &file.meta.validators(), file.meta.len);
            let source = Source::Static(file.bytes.clone());
            let response = respond::object(&file.meta, plan, head, file.cache_control.clone(), source, &self.boundary);
            return (Route::PolicyFile, response.await);
        }
        (Route::Object, self.route_object(request, head).await)
    }

    async fn route_object(&self, request: &Parts, head: bool) -> Result<Response<ResponseBody>, RequestError> {
        let key = key_from_path(request.uri.path()).map_err(|e| match e {
            KeyError::Root => RequestError::NotFound,
            other => RequestError::BadPath(other),
        })?;
        // An object replaced between its metadata and its first byte is looked up once more, so
        // a viewer racing an upload gets the new version instead of an error.
        match self.serve_object(request, &key, head).await {
            Err(RequestError::Store(StoreError::Changed)) => self.serve_object(request, &key, head).await,
            other => other,
        }
    }

    async fn serve_object(
        &self,
        request: &Parts,
        key: &ObjectKey,
        head: bool,
    ) -> Result<Response<ResponseBody>, RequestError> {
        let meta = self.store.head(key).await?;
        let plan = plan(&request.method, &request.headers, &meta.validators(), meta.len);
        let cache_control = self.cache_control.for_key(key);
        let source = Source::Store { store: Arc::clone(&self.store), key: key.clone(), meta: meta.clone() };
        respond::object(&meta, plan, head, cache_control, source, &self.boundary).await
    }
}

/// The CORS rules in force: the rules file, the inline rules, or the permissive default.
fn cors_rules(loaded: &LoadedConfig) -> Result<Vec<crate::cors::CorsRule>, ConfigError> {
    let cors = &loaded.config.cors;
    match (&cors.rules_file, &cors.rules) {
        (Some(_), Some(_)) => {
            Err(loaded.error("cors.rules_file", "set either cors.rules_file or cors.rules, not both"))
        }
        (Some(file), None) => crate::cors::load_rules_file(file).map_err(|e| loaded.error("cors.rules_file", e)),
        (None, Some(rules)) => Ok(rules.clone()),
        (None, None) => Ok(crate::config::default_cors_rules()),
    }
}

/// Refuses methods other than GET, HEAD and OPTIONS, requests that declare a body, and
/// HTTP/1.1 requests without exactly one `Host` (RFC 9112 §3.2).
fn check_method(request: &Parts) -> Result<(), RequestError> {
    if !matches!(request.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Err(RequestError::MethodNotAllowed);
    }
    let hosts = request.headers.get_all(header::HOST);
    if request.version == http::Version::HTTP_11 && hosts.iter().count() != 1 {
        return Err(RequestError::MissingHost);
    }
    // RFC 9112 §3.2: a Host that is not a valid authority (`a b`) is a bad request.
    if hosts.iter().any(|host| http::uri::Authority::try_from(host.as_bytes()).is_err()) {
        return Err(RequestError::MissingHost);
    }
    if declares_body(request) {
        return Err(RequestError::BodyNotAllowed);
    }
    Ok(())
}

/// Whether the request says a body follows (which this origin never reads).
fn declares_body(request: &Parts) -> bool {
    request.headers.contains_key(header::TRANSFER_ENCODING)
        || request.headers.get(header::CONTENT_LENGTH).is_some_and(|v| v.as_bytes() != b"0")
}

/// Renders a refusal and logs it at the level its cause deserves.
fn refuse(error: RequestError, request: &Parts) -> Response<ResponseBody> {
    let status = error.status();
    // Store failures were logged with their cause (bucket, code, request id) where they happened.
    tracing::debug!(path = %request.uri.path(), %status, error = %error, "request refused");
    if let Some(reason) = error.refusal_reason() {
        metrics::counter!(telemetry::REFUSALS_TOTAL, "reason" => reason).increment(1);
    }
    let mut response = error.into_response();
    // Any refusal of a request with a body leaves unread bytes on the connection.
    if declares_body(request) {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A HEAD answer keeps GET's headers (Content-Length included) and drops the body. hyper does
/// this itself on HTTP/1.1 but not on HTTP/2, where DATA on a HEAD response is a protocol error.
fn without_body_for_head(request: &Parts, response: Response<ResponseBody>) -> Response<ResponseBody> {
    if request.method != Method::HEAD {
        return response;
    }
    let (parts, _) = response.into_parts();
    Response::from_parts(parts, ResponseBody::Empty)
}

fn empty(status: StatusCode) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::Empty);
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    response
}

/// Tags a response with its route kind and store outcome, for the access log and the metrics.
fn with_outcome(mut response: Response<ResponseBody>, route: Route, storage: &'static str) -> Response<ResponseBody> {
    response.extensions_mut().insert(Outcome { route, storage });
    response
}

fn cors_decision(decision: &'static str) {
    metrics::counter!(telemetry::CORS_DECISIONS_TOTAL, "decision" => decision).increment(1);
}

/// Adds `name` to `Vary`, keeping whatever is there.
fn append_vary(response: &mut Response<ResponseBody>, name: &'static str) {
    response.headers_mut().append(header::VARY, HeaderValue::from_static(name));
}

fn hsts_value(tls: &crate::config::TlsConfig) -> Option<HeaderValue> {
    let max_age = tls.hsts_max_age.as_secs();
    if max_age == 0 {
        return None;
    }
    let value = if tls.hsts_include_subdomains {
        format!("max-age={max_age}; includeSubDomains")
    } else {
        format!("max-age={max_age}")
    };
    HeaderValue::try_from(value).ok()
}
