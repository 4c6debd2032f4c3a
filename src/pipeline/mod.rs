//! The request pipeline of the HTTPS listener, one step per call, read top to bottom in
//! [`App::handle`]: route → guard → method → CORS → plan → fetch → render → finish.
//!
//! Every step's decision is a value ([`Route`], the CORS headers, the [`Plan`](crate::plan::Plan),
//! the [`Rendered`](render::Rendered) headers); only the fetch awaits the store. A step that
//! refuses returns a [`RequestError`], and every refusal is answered by [`RequestError::refuse`]
//! at one place. What the steps decided about the answer (route kind, store outcome, CORS
//! headers, `Vary`) is applied once at the end, so no branch can forget it.

mod fetch;
mod health;
mod outcome;
mod plain_http;
mod render;
mod route;
mod static_files;
#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Method, Response, StatusCode};

use fetch::Source;
pub use health::{HEALTH_PATH, READY_PATH, Readiness, respond as probe_response};
pub use outcome::{Outcome, Storage};
pub use plain_http::PlainHttpPolicy;
use render::Representation;
pub use route::{Probe, Route, Target};
use static_files::{StaticFile, StaticFiles};

use crate::body::ResponseBody;
use crate::cache_control::CacheControl;
use crate::config::{ConfigError, LoadedConfig};
use crate::cors::{self, CorsHeaders, CorsPolicy};
use crate::error::{ALLOWED_METHODS, RequestError, declares_body};
use crate::guard::Guard;
use crate::key::ObjectKey;
use crate::plan::{plan, read_hint};
use crate::store::{ObjectMeta, ObjectStore, Opened, Prefetched, StoreError, report_lookups};
use crate::telemetry::{self, RouteKind};

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

/// What the steps decided about an answer, applied to it once at the end.
struct Exchange {
    outcome: Outcome,
    cors: Option<CorsHeaders>,
    preflight: bool,
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
        let response = match Route::of(request, &self.static_files) {
            Route::Probe(probe) => self.probe(probe),
            Route::Guarded(target) => self.serve(request, peer, target).await,
        };
        self.finish(request, response)
    }

    /// Runs the guarded steps; a refusal from any of them is answered here, and what they
    /// decided is applied to whichever answer results.
    async fn serve(&self, request: &Parts, peer: IpAddr, target: Target<'_>) -> Response<ResponseBody> {
        let mut exchange = Exchange { outcome: Outcome::refused(), cors: None, preflight: false };
        let mut response = match self.steps(request, peer, target, &mut exchange).await {
            Ok(response) => response,
            Err(refusal) => refusal.refuse(request),
        };
        let x_cache = exchange.outcome.storage.x_cache();
        response.extensions_mut().insert(exchange.outcome);
        let headers = response.headers_mut();
        if let Some(x_cache) = x_cache {
            headers.insert("x-cache", x_cache);
        }
        cors::add_vary(headers, exchange.preflight);
        if let Some(cors) = exchange.cors {
            cors.apply(headers);
        }
        response
    }

    /// The guarded steps, in order: guard (peer, secret, the viewer's scheme), method, CORS (a
    /// preflight is answered here), then the target: OPTIONS, a policy file or an object.
    async fn steps(
        &self,
        request: &Parts,
        peer: IpAddr,
        target: Target<'_>,
        exchange: &mut Exchange,
    ) -> Result<Response<ResponseBody>, RequestError> {
        self.guard.check_peer(peer)?;
        self.guard.check_secret(&request.headers)?;
        if self.guard.viewer_used_plain_http(&request.headers, peer) {
            let redirect = self.plain_http.answer(request, None)?;
            metrics::counter!(telemetry::REDIRECTS_TOTAL).increment(1);
            return Ok(redirect);
        }
        check_method(request)?;
        exchange.preflight = cors::is_preflight(request);
        if exchange.preflight {
            exchange.outcome = Outcome::without_store(RouteKind::Preflight);
        }
        exchange.cors = self.cors.decide(request)?;
        if exchange.preflight {
            return Ok(empty(StatusCode::OK));
        }
        exchange.outcome = Outcome::without_store(target.kind());
        match target {
            Target::Options => Ok(options()),
            Target::PolicyFile(file) => self.policy_file(request, file).await,
            Target::Object(key) => self.object(request, &key, &mut exchange.outcome).await,
            Target::Invalid(refusal) => Err(refusal),
        }
    }

    /// What every answer on the HTTPS listener gets last: HSTS, and no body for a HEAD.
    fn finish(&self, request: &Parts, mut response: Response<ResponseBody>) -> Response<ResponseBody> {
        if let Some(hsts) = &self.hsts {
            response.headers_mut().insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
        }
        without_body_for_head(request, response)
    }

    fn probe(&self, probe: Probe) -> Response<ResponseBody> {
        let ready = match probe {
            Probe::Health => true,
            Probe::Ready => self.readiness.is_ready(),
        };
        let mut response = health::respond(ready);
        response.extensions_mut().insert(Outcome::without_store(RouteKind::Probe));
        response
    }

    /// crossdomain.xml or clientaccesspolicy.xml, served like an object (ranges, conditionals).
    async fn policy_file(&self, request: &Parts, file: &StaticFile) -> Result<Response<ResponseBody>, RequestError> {
        let source = Source::Static(file.bytes.clone());
        self.answer(request, &file.meta, file.cache_control.clone(), source, None).await
    }

    /// An object from the store. The cache reports whether its first block was a hit, a miss
    /// or collapsed; an object replaced between its metadata and its first byte is looked up
    /// once more, so a viewer racing an upload gets the new version instead of an error.
    async fn object(
        &self,
        request: &Parts,
        key: &ObjectKey,
        outcome: &mut Outcome,
    ) -> Result<Response<ResponseBody>, RequestError> {
        let fetch = async {
            match self.fetch_object(request, key).await {
                Err(RequestError::Store(StoreError::Changed)) => self.fetch_object(request, key).await,
                other => other,
            }
        };
        let (result, lookup) = report_lookups(fetch).await;
        outcome.storage = match &result {
            Err(RequestError::Store(error)) => Storage::Failed(error.fault()),
            _ => Storage::Answered(lookup),
        };
        result
    }

    /// The object's metadata and, when the store can read them in the same call, the bytes
    /// the request most likely needs (one S3 round trip for a cold object, not two).
    async fn fetch_object(&self, request: &Parts, key: &ObjectKey) -> Result<Response<ResponseBody>, RequestError> {
        let Opened { meta, bytes } = self.store.open(key, read_hint(&request.method, &request.headers)).await?;
        let source = Source::Store { store: Arc::clone(&self.store), key: key.clone(), meta: meta.clone() };
        self.answer(request, &meta, self.cache_control.for_key(key), source, bytes).await
    }

    /// Plans, renders and fetches the answer for one version of an object; `prefetched` bytes
    /// are sent if the plan needs exactly them.
    async fn answer(
        &self,
        request: &Parts,
        meta: &ObjectMeta,
        cache_control: HeaderValue,
        source: Source,
        prefetched: Option<Prefetched>,
    ) -> Result<Response<ResponseBody>, RequestError> {
        let plan = plan(&request.method, &request.headers, &meta.validators(), meta.len);
        let object = Representation { meta, cache_control, head: request.method == Method::HEAD };
        let rendered = render::object(object, plan, &self.boundary)?;
        Ok(rendered.with_body(source, prefetched).await?)
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
        let mut response = self.plain_http.answer(request, Some(https_port)).unwrap_or_else(|e| e.refuse(request));
        if response.status() == StatusCode::MOVED_PERMANENTLY {
            metrics::counter!(telemetry::REDIRECTS_TOTAL).increment(1);
        }
        response.extensions_mut().insert(Outcome::without_store(RouteKind::PlainHttp));
        without_body_for_head(request, response)
    }

    /// Answers a request on a connection accepted above `server.max_connections`: 503 with
    /// `Retry-After`, and the connection closes after it.
    pub fn answer_overloaded(&self, request: &Parts) -> Response<ResponseBody> {
        self.finish(request, RequestError::Overloaded.refuse(request))
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

/// The answer to a plain OPTIONS: the methods this origin answers.
fn options() -> Response<ResponseBody> {
    let mut response = empty(StatusCode::OK);
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
    response
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
