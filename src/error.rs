//! The one error type of the request path, and the one place where an error becomes an HTTP response.
//!
//! Every refusal the origin makes is a variant here, and [`RequestError::refuse`] is the one way
//! to answer with it: log, count, render, and decide whether the connection closes. Statuses
//! follow who is at fault: the client (4xx), the store (502, 503, 504) or the origin itself
//! (500). Clients get a short fixed body chosen by the variant; the cause (a store failure, an
//! I/O error) goes to the log and never to the client.

use http::request::Parts;
use http::{HeaderValue, Response, StatusCode, header};

use crate::body::ResponseBody;
use crate::cors::CorsDenied;
use crate::key::KeyError;
use crate::store::StoreError;
use crate::telemetry;

/// The methods the origin answers, as sent in `Allow` (a 405, and the answer to OPTIONS).
pub const ALLOWED_METHODS: &str = "GET, HEAD, OPTIONS";

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The peer address is not in the configured allow-list.
    #[error("peer address not allowed")]
    PeerNotAllowed,
    /// The CDN's secret header is missing or holds no accepted secret.
    #[error("origin secret missing or wrong")]
    SecretRejected,
    /// Plain HTTP (directly, or as reported by the CDN) while the configuration rejects it.
    #[error("plain HTTP refused")]
    HttpsRequired,
    /// A CORS request from an origin no rule allows.
    #[error("CORS request not allowed")]
    CorsDenied,
    /// A method other than GET, HEAD and OPTIONS.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The request declares a body; this origin never reads one.
    #[error("request body not allowed")]
    BodyNotAllowed,
    /// A plain-HTTP request to redirect names no usable host.
    #[error("no usable Host header")]
    MissingHost,
    /// The path cannot be mapped to an object key.
    #[error("bad path: {0}")]
    BadPath(#[from] KeyError),
    /// No object behind the key (also used for the root path).
    #[error("not found")]
    NotFound,
    /// If-Match or If-Unmodified-Since failed.
    #[error("precondition failed")]
    PreconditionFailed,
    /// No requested range overlaps the object.
    #[error("range not satisfiable")]
    RangeNotSatisfiable {
        /// The object's length, for `Content-Range: bytes */LEN`.
        len: u64,
    },
    /// The connection was accepted above `server.max_connections`: shed with a 503.
    #[error("over the connection limit")]
    Overloaded,
    /// The store failed; the variant decides the status.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl RequestError {
    /// The status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::PeerNotAllowed | Self::SecretRejected | Self::HttpsRequired | Self::CorsDenied => {
                StatusCode::FORBIDDEN
            }
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::BodyNotAllowed | Self::MissingHost | Self::BadPath(_) => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(e) => store_status(e),
        }
    }

    /// The `reason` label of a refusal made before routing, for the refusals metric.
    pub fn refusal_reason(&self) -> Option<&'static str> {
        Some(match self {
            Self::PeerNotAllowed => "peer",
            Self::SecretRejected => "secret",
            Self::HttpsRequired => "plain_http",
            Self::CorsDenied => "cors",
            Self::MethodNotAllowed => "method",
            Self::BodyNotAllowed => "body",
            Self::MissingHost => "host",
            Self::BadPath(_) => "path",
            Self::Overloaded => "overload",
            _ => return None,
        })
    }

    /// The short, fixed body sent to the client. It names the problem, never its cause.
    fn client_message(&self) -> &'static str {
        match self {
            Self::PeerNotAllowed | Self::SecretRejected => "Forbidden\n",
            Self::HttpsRequired => "HTTPS required\n",
            Self::CorsDenied => "CORS request not allowed\n",
            Self::MethodNotAllowed => "Method not allowed\n",
            Self::BodyNotAllowed => "Request body not allowed\n",
            Self::MissingHost => "Bad request: no usable Host header\n",
            Self::BadPath(_) => "Bad request path\n",
            Self::NotFound => "Not found\n",
            Self::PreconditionFailed => "Precondition failed\n",
            Self::RangeNotSatisfiable { .. } => "Range not satisfiable\n",
            Self::Overloaded => "Server busy, retry shortly\n",
            Self::Store(e) => store_message(e),
        }
    }

    /// Whether the connection must close after this answer: an unread request body is pending,
    /// the connection is over the limit, or the client is not the CDN (no accepted secret, or a
    /// peer outside the allow-list), which must never hold a connection slot.
    fn closes_connection(&self, request: &Parts) -> bool {
        matches!(self, Self::BodyNotAllowed | Self::Overloaded | Self::SecretRejected | Self::PeerNotAllowed)
            || declares_body(request)
    }

    /// Answers `request` with this refusal: logs it at the level its cause deserves, counts it,
    /// renders it, and closes the connection when it must. The caller adds the headers common to
    /// every response (HSTS, Vary, CORS).
    pub fn refuse(self, request: &Parts) -> Response<ResponseBody> {
        let status = self.status();
        // Store failures were logged with their cause (bucket, code, request id) where they happened.
        tracing::debug!(path = %request.uri.path(), %status, error = %self, "request refused");
        if let Some(reason) = self.refusal_reason() {
            metrics::counter!(telemetry::REFUSALS_TOTAL, "reason" => reason).increment(1);
        }
        let closes = self.closes_connection(request);
        let mut response = self.into_response();
        if closes {
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }

    /// The status, headers and fixed body of this refusal.
    fn into_response(self) -> Response<ResponseBody> {
        let message = self.client_message();
        let mut response = Response::new(ResponseBody::full(message));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(message.len()));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match &self {
            Self::MethodNotAllowed => {
                headers.insert(header::ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
            }
            Self::RangeNotSatisfiable { len } => {
                headers.insert(header::CONTENT_RANGE, unsatisfied_range(*len));
                headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            }
            Self::Store(StoreError::Unavailable { retry_after_secs }) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            Self::Store(StoreError::Changed) | Self::Overloaded => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(1));
            }
            _ => {}
        }
        response
    }
}

/// Whether the request says a body follows (which this origin never reads): a refusal of it
/// leaves unread bytes on the connection.
pub fn declares_body(request: &Parts) -> bool {
    request.headers.contains_key(header::TRANSFER_ENCODING)
        || request.headers.get(header::CONTENT_LENGTH).is_some_and(|v| v.as_bytes() != b"0")
}

/// The status for a store's fault: the object's (404, or 503 while it keeps changing), the
/// store's (403 when told to reveal it, 503, 504, 502) or the origin's own (500).
fn store_status(error: &StoreError) -> StatusCode {
    match error {
        StoreError::NotFound => StatusCode::NOT_FOUND,
        // Only reached when the object keeps changing while the request is retried: the client
        // asked for nothing conditional, so it is told to come back.
        StoreError::Changed => StatusCode::SERVICE_UNAVAILABLE,
        StoreError::Forbidden => StatusCode::FORBIDDEN,
        StoreError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        StoreError::Timeout => StatusCode::GATEWAY_TIMEOUT,
        StoreError::Upstream(_) => StatusCode::BAD_GATEWAY,
        StoreError::Io(_) | StoreError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn store_message(error: &StoreError) -> &'static str {
    match error {
        StoreError::NotFound => "Not found\n",
        StoreError::Changed => "Object being replaced, retry\n",
        StoreError::Forbidden => "Forbidden\n",
        StoreError::Unavailable { .. } => "Service unavailable\n",
        StoreError::Timeout => "Gateway timeout\n",
        StoreError::Upstream(_) => "Bad gateway\n",
        StoreError::Io(_) | StoreError::Internal(_) => "Internal server error\n",
    }
}

impl From<CorsDenied> for RequestError {
    fn from(_: CorsDenied) -> Self {
        Self::CorsDenied
    }
}

fn unsatisfied_range(len: u64) -> HeaderValue {
    HeaderValue::try_from(format!("bytes */{len}")).expect("digits are a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_cause() {
        let cases = [
            (RequestError::SecretRejected, 403),
            (RequestError::CorsDenied, 403),
            (RequestError::MethodNotAllowed, 405),
            (RequestError::BodyNotAllowed, 400),
            (RequestError::NotFound, 404),
            (RequestError::PreconditionFailed, 412),
            (RequestError::RangeNotSatisfiable { len: 3 }, 416),
            (RequestError::Store(StoreError::NotFound), 404),
            (RequestError::Overloaded, 503),
            (RequestError::Store(StoreError::Timeout), 504),
            (RequestError::Store(StoreError::Unavailable { retry_after_secs: 1 }), 503),
            (RequestError::Store(StoreError::Changed), 503),
            (RequestError::Store(StoreError::Upstream("S3 body broke".into())), 502),
            // Our own bugs are 500, never a 502 that would blame the store.
            (RequestError::Store(StoreError::internal("block past the object")), 500),
        ];
        for (error, status) in cases {
            assert_eq!(error.status().as_u16(), status, "{error}");
        }
    }

    #[test]
    fn store_failures_never_leak_their_cause() {
        let error = RequestError::Store(StoreError::Upstream("bucket secret-bucket: <Error>".into()));
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        let body = response.into_body().into_static_bytes().expect("fixed body");
        assert_eq!(&body[..], b"Bad gateway\n");
    }

    fn request(headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::get("/video.mp4");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn refusals_carry_their_protocol_headers() {
        let plain = request(&[]);
        let response = RequestError::RangeNotSatisfiable { len: 10 }.refuse(&plain);
        assert_eq!(response.headers()[header::CONTENT_RANGE], "bytes */10");
        let response = RequestError::MethodNotAllowed.refuse(&plain);
        assert_eq!(response.headers()[header::ALLOW], "GET, HEAD, OPTIONS");
    }

    #[test]
    fn refusals_close_the_connection_when_the_client_is_not_the_cdn_or_sent_a_body() {
        let plain = request(&[]);
        for closing in [RequestError::BodyNotAllowed, RequestError::SecretRejected, RequestError::PeerNotAllowed] {
            assert_eq!(closing.refuse(&plain).headers()[header::CONNECTION], "close");
        }
        assert!(!RequestError::CorsDenied.refuse(&plain).headers().contains_key(header::CONNECTION));
        let with_body = request(&[("content-length", "5")]);
        assert_eq!(RequestError::CorsDenied.refuse(&with_body).headers()[header::CONNECTION], "close");
        let chunked = request(&[("transfer-encoding", "chunked")]);
        assert_eq!(RequestError::NotFound.refuse(&chunked).headers()[header::CONNECTION], "close");
        assert!(
            !RequestError::NotFound.refuse(&request(&[("content-length", "0")])).headers().contains_key("connection")
        );
    }
}
