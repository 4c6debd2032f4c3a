//! The life of one request as the access log and the metrics see it: captured when the request
//! arrives, finished when hyper drops the response body (sent in full, or the client gone).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Buf;
use http::request::Parts;
use http::{HeaderValue, Method, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::idle::ActiveGuard;
use super::streams::StreamProgress;
use crate::logging::access::AccessLine;
use crate::pipeline::Outcome;
use crate::telemetry;

/// What is logged about one request.
pub struct RequestLog {
    start: Instant,
    ttfb: Duration,
    method: Method,
    path: String,
    range: Option<HeaderValue>,
    peer: SocketAddr,
    cf_id: Option<HeaderValue>,
    forwarded_for: Option<HeaderValue>,
    user_agent: Option<HeaderValue>,
    protocol: &'static str,
    status: StatusCode,
    outcome: Outcome,
    bytes: u64,
    expected: Option<u64>,
}

impl RequestLog {
    /// Captures a request when its response headers are ready.
    pub fn new(request: &Parts, start: Instant, peer: SocketAddr, protocol: &'static str) -> Self {
        let header = |name: &str| request.headers.get(name).cloned();
        Self {
            start,
            ttfb: start.elapsed(),
            method: request.method.clone(),
            path: request.uri.path().to_owned(),
            range: request.headers.get(header::RANGE).cloned(),
            peer,
            cf_id: header("x-amz-cf-id"),
            forwarded_for: header("x-forwarded-for"),
            user_agent: request.headers.get(header::USER_AGENT).cloned(),
            protocol,
            status: StatusCode::OK,
            outcome: Outcome::refused(),
            bytes: 0,
            expected: None,
        }
    }

    /// Records the response's status, outcome and promised length.
    pub fn respond<B: Body>(&mut self, response: &mut http::Response<B>) {
        self.status = response.status();
        if let Some(outcome) = response.extensions_mut().remove::<Outcome>() {
            self.outcome = outcome;
        }
        self.expected = response.body().size_hint().exact();
    }

    fn finish(&self) {
        let duration = self.start.elapsed();
        let route = self.outcome.route.as_str();
        let complete = self.expected.is_none_or(|expected| self.bytes >= expected);
        metrics::counter!(telemetry::REQUESTS_TOTAL, "route" => route, "status" => telemetry::status_class(self.status))
            .increment(1);
        metrics::counter!(telemetry::RESPONSE_BYTES_TOTAL, "route" => route).increment(self.bytes);
        metrics::histogram!(telemetry::REQUEST_DURATION_SECONDS, "route" => route).record(duration.as_secs_f64());
        metrics::histogram!(telemetry::TIME_TO_FIRST_BYTE_SECONDS, "route" => route).record(self.ttfb.as_secs_f64());
        AccessLine {
            method: self.method.as_str(),
            path: &self.path,
            status: self.status.as_u16(),
            range: text(&self.range),
            bytes: self.bytes,
            complete,
            duration_ms: milliseconds(duration),
            ttfb_ms: milliseconds(self.ttfb),
            peer: self.peer,
            cf_id: text(&self.cf_id),
            forwarded_for: text(&self.forwarded_for),
            user_agent: text(&self.user_agent),
            protocol: self.protocol,
            route,
            storage: self.outcome.storage.as_str(),
        }
        .write();
    }
}

/// A header's value as the log writes it: `-` when absent or not visible ASCII.
fn text(value: &Option<HeaderValue>) -> &str {
    value.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("-")
}

/// A duration in milliseconds, to the microsecond: `17.765`, not `17.765451000000002`.
fn milliseconds(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

pin_project! {
    /// A response body that keeps its request counted as in flight, counts the bytes sent, and
    /// writes the access log line when hyper drops it.
    pub struct Tracked<B> {
        #[pin]
        body: B,
        guard: Option<ActiveGuard>,
        log: Box<RequestLog>,
        // The HTTP/2 stream's deadline, pushed back by every frame.
        progress: Option<Arc<StreamProgress>>,
    }

    impl<B> PinnedDrop for Tracked<B> {
        fn drop(this: Pin<&mut Self>) {
            this.log.finish();
        }
    }
}

impl<B> Tracked<B> {
    /// Ties the guard, the log and the HTTP/2 stream's progress (none on HTTP/1.1) to `body`.
    /// The stream's deadline starts now, with the response head ready.
    pub fn new(body: B, guard: ActiveGuard, log: RequestLog, progress: Option<Arc<StreamProgress>>) -> Self {
        if let Some(progress) = &progress {
            progress.moved();
        }
        Self { body, guard: Some(guard), log: Box::new(log), progress }
    }
}

impl<B: Body> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let frame = this.body.poll_frame(cx);
        match &frame {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.log.bytes += data.remaining() as u64;
                }
                if let Some(progress) = this.progress {
                    progress.moved();
                }
            }
            Poll::Ready(None | Some(Err(_))) => {
                this.guard.take();
            }
            Poll::Pending => {}
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
