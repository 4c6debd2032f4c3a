//! The admin listener: `/metrics` (Prometheus text format), `/healthz` and `/readyz`, in plain
//! HTTP on an address of its own, so metrics never reach the public TLS port.

use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Method, Response, StatusCode};

use super::Outcome;
use crate::body::ResponseBody;
use crate::pipeline::{App, HEALTH_PATH, READY_PATH};
use crate::telemetry::Route;

/// The Prometheus text exposition format.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Answers one admin request.
pub fn answer(request: &Parts, app: &App) -> Response<ResponseBody> {
    if !matches!(request.method, Method::GET | Method::HEAD) {
        return text(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed\n".into(), "text/plain; charset=utf-8");
    }
    match request.uri.path() {
        "/metrics" => text(StatusCode::OK, crate::telemetry::prometheus().render(), METRICS_CONTENT_TYPE),
        HEALTH_PATH => text(StatusCode::OK, "ok\n".into(), "text/plain; charset=utf-8"),
        READY_PATH if app.readiness().is_ready() => text(StatusCode::OK, "ok\n".into(), "text/plain; charset=utf-8"),
        READY_PATH => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n".into(), "text/plain; charset=utf-8"),
        _ => text(StatusCode::NOT_FOUND, "Not found\n".into(), "text/plain; charset=utf-8"),
    }
}

fn text(status: StatusCode, body: String, content_type: &'static str) -> Response<ResponseBody> {
    let len = body.len();
    let mut response = Response::new(ResponseBody::full(body));
    response.extensions_mut().insert(Outcome { route: Route::Admin, storage: "none" });
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
