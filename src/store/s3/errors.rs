//! Turns an SDK failure into a [`StoreError`], logging what the client must not see.
//!
//! The client gets a status and a fixed body; the bucket, the key, S3's error code and request
//! id go to the log, so an operator can match a 502 to S3's side without the viewer learning
//! anything about the bucket.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::config::AccessDeniedAs;
use crate::store::{StoreError, StoreFault};

/// Seconds a client is asked to wait when S3 throttles.
const RETRY_AFTER_SECS: u32 = 1;

/// Which object an S3 call was about, for the log.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The operation, e.g. `HeadObject`.
    pub operation: &'static str,
    /// The bucket.
    pub bucket: &'a str,
    /// The key.
    pub key: &'a str,
}

/// Classifies an SDK error by cause.
pub fn classify<E>(error: &SdkError<E, HttpResponse>, access_denied: AccessDeniedAs, context: Context<'_>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let Context { operation, bucket, key } = context;
    match error {
        SdkError::TimeoutError(_) => {
            tracing::warn!(operation, bucket, key, "S3 timed out before the first byte");
            StoreError::Timeout
        }
        SdkError::DispatchFailure(failure) if failure.is_timeout() => {
            tracing::warn!(operation, bucket, key, "S3 timed out connecting");
            StoreError::Timeout
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let request_id = service.raw().headers().get("x-amz-request-id").unwrap_or("-");
            let code = service.err().code().unwrap_or("-");
            let store_error = by_code(code, status, access_denied);
            let message = service.err().message().unwrap_or("-");
            if matches!(store_error.fault(), StoreFault::Upstream | StoreFault::Unavailable | StoreFault::Changed) {
                tracing::warn!(operation, bucket, key, status, code, message, request_id, "S3 error");
            } else if status == 403 {
                // Worth seeing: a wrong credential or policy shows up as this on HeadObject.
                tracing::info!(operation, bucket, key, status, code, request_id, "S3 denied access");
            } else {
                tracing::debug!(operation, bucket, key, status, code, request_id, "S3 refusal");
            }
            store_error
        }
        other => {
            tracing::warn!(operation, bucket, key, error = %aws_sdk_s3::error::DisplayErrorContext(other), "S3 unreachable");
            StoreError::Upstream(format!("{operation} failed"))
        }
    }
}

/// The store error for an S3 error code and HTTP status (HEAD responses carry no code).
fn by_code(code: &str, status: u16, access_denied: AccessDeniedAs) -> StoreError {
    match (code, status) {
        ("NoSuchKey" | "NotFound", _) | ("-", 404) => StoreError::NotFound,
        ("AccessDenied", _) | ("-", 403) => match access_denied {
            AccessDeniedAs::NotFound => StoreError::NotFound,
            AccessDeniedAs::Forbidden => StoreError::Forbidden,
        },
        ("PreconditionFailed" | "InvalidRange", _) | (_, 412 | 416) => StoreError::Changed,
        ("SlowDown" | "ServiceUnavailable" | "RequestLimitExceeded", _) | (_, 503) => {
            StoreError::Unavailable { retry_after_secs: RETRY_AFTER_SECS }
        }
        // NoSuchBucket, InvalidAccessKeyId, SignatureDoesNotMatch, 500s: the origin's setup or
        // S3 is at fault, not the client.
        _ => StoreError::Upstream(format!("S3 answered {status} {code}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_faults() {
        use StoreFault::*;
        let cases = [
            ("NoSuchKey", 404, AccessDeniedAs::NotFound, NotFound),
            ("-", 404, AccessDeniedAs::NotFound, NotFound),
            ("AccessDenied", 403, AccessDeniedAs::NotFound, NotFound),
            ("AccessDenied", 403, AccessDeniedAs::Forbidden, Forbidden),
            ("-", 403, AccessDeniedAs::Forbidden, Forbidden),
            ("PreconditionFailed", 412, AccessDeniedAs::NotFound, Changed),
            ("SlowDown", 503, AccessDeniedAs::NotFound, Unavailable),
            ("-", 503, AccessDeniedAs::NotFound, Unavailable),
            ("NoSuchBucket", 404, AccessDeniedAs::NotFound, Upstream),
            ("SignatureDoesNotMatch", 403, AccessDeniedAs::NotFound, Upstream),
            ("InternalError", 500, AccessDeniedAs::NotFound, Upstream),
        ];
        for (code, status, denied, expected) in cases {
            assert_eq!(by_code(code, status, denied).fault(), expected, "{code} {status}");
        }
    }
}
