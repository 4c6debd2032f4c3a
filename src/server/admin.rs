//! The admin listener: `/metrics` (Prometheus text format), `/healthz` and `/readyz`, in plain
//! HTTP on an address of its own, so metrics never reach the public TLS port.

use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Method, Response, StatusCode};

use crate::body::ResponseBody;
use crate::pipeline::Outcome;
use crate::pipeline::{App, HEALTH_PATH, READY_PATH, probe_response};
use crate::telemetry::RouteKind;

/// The Prometheus text exposition format.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Answers one admin request.
pub fn answer(request: &Parts, app: &App) -> Response<ResponseBody> {
    if !matches!(request.method, Method::GET | Method::HEAD) {
        return text(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed\n".into(), "text/plain; charset=utf-8");
    }
    match request.uri.path() {
        "/metrics" => text(StatusCode::OK, crate::telemetry::render(), METRICS_CONTENT_TYPE),
        HEALTH_PATH => admin(probe_response(true)),
        READY_PATH => admin(probe_response(app.readiness().is_ready())),
        _ => text(StatusCode::NOT_FOUND, "Not found\n".into(), "text/plain; charset=utf-8"),
    }
}

/// Tags a response as the admin listener's, for the access log and the metrics.
fn admin(mut response: Response<ResponseBody>) -> Response<ResponseBody> {
    response.extensions_mut().insert(Outcome::without_store(RouteKind::Admin));
    response
}

fn text(status: StatusCode, body: String, content_type: &'static str) -> Response<ResponseBody> {
    small(RouteKind::Admin, status, body, content_type, "no-store")
}

/// A small answer of the server's own (admin, demo): `body` whole, its type, its caching, and
/// the route it is counted under.
pub(super) fn small(
    route: RouteKind,
    status: StatusCode,
    body: impl Into<bytes::Bytes>,
    content_type: &'static str,
    cache_control: &'static str,
) -> Response<ResponseBody> {
    let body = body.into();
    let len = body.len();
    let mut response = Response::new(ResponseBody::full(body));
    *response.status_mut() = status;
    response.extensions_mut().insert(Outcome::without_store(route));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    response
}
