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
        // Values from the request are recorded as strings, never with `%`: the text format then
        // quotes and escapes them (logfmt), so a header cannot forge a field, and the JSON
        // format writes them as JSON strings.
        let text = |value: &Option<HeaderValue>| value.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
        tracing::info!(
            target: "access",
            method = self.method.as_str(),
            path = self.path.as_str(),
            status = self.status.as_u16(),
            range = text(&self.range).as_str(),
            bytes = self.bytes,
            complete,
            duration_ms = milliseconds(duration),
            ttfb_ms = milliseconds(self.ttfb),
            peer = %self.peer,
            cf_id = text(&self.cf_id).as_str(),
            forwarded_for = text(&self.forwarded_for).as_str(),
            user_agent = text(&self.user_agent).as_str(),
            protocol = self.protocol,
            route,
            storage = self.outcome.storage.as_str(),
        );
    }
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

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Mutex;

    use super::*;

    /// Collects what a subscriber writes.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The `key=value` pairs of a logfmt line: values bare or double-quoted with `\` escapes.
    fn logfmt(line: &str) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        let mut rest = line.trim();
        while let Some((key, after)) = rest.split_once('=') {
            let key = key.rsplit(' ').next().unwrap().to_owned();
            let (value, tail) = match after.strip_prefix('"') {
                Some(quoted) => {
                    let mut value = String::new();
                    let mut chars = quoted.char_indices();
                    let end = loop {
                        match chars.next() {
                            Some((_, '\\')) => value.push(chars.next().unwrap().1),
                            Some((i, '"')) => break i + 1,
                            Some((_, c)) => value.push(c),
                            None => panic!("unterminated value in {line}"),
                        }
                    };
                    (value, &quoted[end..])
                }
                None => {
                    let end = after.find(' ').unwrap_or(after.len());
                    (after[..end].to_owned(), &after[end..])
                }
            };
            pairs.push((key, value));
            rest = tail;
        }
        pairs
    }

    #[test]
    fn request_headers_cannot_forge_fields_of_the_text_access_log() {
        let forged = r#"x" status=200 path=/forged peer=6.6.6.6:1 \"#;
        let request = http::Request::get("/sample/a.mp4")
            .header(header::USER_AGENT, forged)
            .header(header::RANGE, "bytes=0-1 status=500")
            .header("x-amz-cf-id", "id=\"1\"")
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        let log = RequestLog::new(&parts, Instant::now(), "127.0.0.1:4000".parse().unwrap(), "http1");
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
        tracing::subscriber::with_default(subscriber, || log.finish());
        let line = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        let fields = logfmt(line.split_once("access: ").expect("an access event").1);
        let value = |key: &str| {
            let found: Vec<_> = fields.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect();
            assert_eq!(found.len(), 1, "{key} appears once in {line}");
            found[0].to_owned()
        };
        assert_eq!(value("user_agent"), forged);
        assert_eq!(value("range"), "bytes=0-1 status=500");
        assert_eq!(value("cf_id"), "id=\"1\"");
        assert_eq!(value("path"), "/sample/a.mp4");
        assert_eq!(value("status"), "200");
        assert_eq!(value("peer"), "127.0.0.1:4000");
        let duration = value("duration_ms");
        assert!(duration.split_once('.').is_none_or(|(_, decimals)| decimals.len() <= 3), "{duration}");
    }
}
