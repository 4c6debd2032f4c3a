//! The one error type of the request path, and the one place where an error becomes an HTTP response.
//!
//! Every refusal the origin makes is a variant here. Clients get a short fixed body chosen by the
//! variant; the cause (a store failure, an I/O error) goes to the log and never to the client.

use http::{HeaderValue, Response, StatusCode, header};

use crate::body::ResponseBody;
use crate::key::KeyError;
use crate::store::StoreError;

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
            Self::Store(e) => e.status(),
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
            Self::Store(e) => e.client_message(),
        }
    }

    /// Whether the connection must close after this answer: an unread request body is pending,
    /// the connection is over the limit, or the client is not the CDN (no accepted secret, or a
    /// peer outside the allow-list), which must never hold a connection slot.
    fn closes_connection(&self) -> bool {
        matches!(self, Self::BodyNotAllowed | Self::Overloaded | Self::SecretRejected | Self::PeerNotAllowed)
    }

    /// Renders the error. The caller adds the headers common to every response (HSTS, Vary, CORS).
    pub fn into_response(self) -> Response<ResponseBody> {
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
        if self.closes_connection() {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
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

    #[test]
    fn refusals_carry_their_protocol_headers() {
        let response = RequestError::RangeNotSatisfiable { len: 10 }.into_response();
        assert_eq!(response.headers()[header::CONTENT_RANGE], "bytes */10");
        let response = RequestError::MethodNotAllowed.into_response();
        assert_eq!(response.headers()[header::ALLOW], "GET, HEAD, OPTIONS");
        for closing in [RequestError::BodyNotAllowed, RequestError::SecretRejected, RequestError::PeerNotAllowed] {
            assert_eq!(closing.into_response().headers()[header::CONNECTION], "close");
        }
        assert!(!RequestError::CorsDenied.into_response().headers().contains_key(header::CONNECTION));
    }
}
