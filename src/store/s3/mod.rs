//! The S3 backend: a GetObject whose answer is both the metadata and the first bytes of a cold
//! object (one round trip), HeadObject where nothing needs the bytes, and ranged GetObjects
//! pinned to the ETag for the rest.
//!
//! Bodies pass through untouched: each chunk the SDK's HTTP client reads is a `Bytes` that goes
//! to hyper as is, and the next one is read only when hyper asks, so a slow viewer holds at most
//! what is in flight between the two sockets. Nothing outside this module sees an SDK type.

mod answer;
mod errors;
mod mounts;
mod stream;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use futures_util::future::BoxFuture;

use self::answer::Described;
use self::errors::{Context, classify};
pub(crate) use self::mounts::Mounts;
use super::{ByteStream, ObjectMeta, ObjectStore, Opened, Prefetched, StoreError};
use crate::config::{AccessDeniedAs, ConfigError, LoadedConfig};
use crate::key::ObjectKey;
use crate::plan::{ByteRange, ReadHint};
use crate::telemetry;

/// Objects in S3 or an S3-compatible server.
#[derive(Clone)]
pub struct S3Store {
    inner: Arc<Inner>,
}

/// Fixed credentials, for tests and tools; deployments use the AWS default chain.
#[derive(Clone)]
pub struct StaticCredentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
}

/// Backoff the SDK's standard retry mode may add across all attempts of one call (its initial
/// backoff is 1 s, with jitter, capped at 20 s; with 3 attempts it sleeps at most about 3 s).
const RETRY_BACKOFF_ALLOWANCE: Duration = Duration::from_secs(3);

/// Per attempt, `read_timeout` bounds the time to the first response byte, connecting
/// included, and `operation_attempt_timeout` says the same; `operation_timeout` bounds one call
/// with all its attempts, so a HeadObject followed by a GetObject stays well inside CloudFront's
/// 30 s origin response timeout with the defaults (2 × (3 × 3 s + 3 s) = 24 s at worst).
fn timeouts(s3: &crate::config::S3Config) -> TimeoutConfig {
    let attempt = s3.first_byte_timeout;
    TimeoutConfig::builder()
        .connect_timeout(s3.connect_timeout.min(attempt))
        .read_timeout(attempt)
        .operation_attempt_timeout(attempt)
        .operation_timeout(attempt * s3.max_attempts.max(1) + RETRY_BACKOFF_ALLOWANCE)
        .build()
}

/// What the store and its streams share.
struct Inner {
    client: Client,
    mounts: Mounts,
    access_denied: AccessDeniedAs,
    max_resumes: u32,
}

/// The current version of an object, and the bytes of it a GetObject opened.
struct Current {
    meta: ObjectMeta,
    target: Target,
    /// The bytes `body` holds (`None`: the object is empty).
    range: Option<ByteRange>,
    body: aws_sdk_s3::primitives::ByteStream,
}

/// One object version being read.
#[derive(Debug, Clone)]
struct Target {
    bucket: String,
    key: String,
    etag: String,
}

impl S3Store {
    /// Builds the client from `[storage.s3]`. Credentials come from the AWS default chain unless
    /// `credentials` is given (tests, tools).
    pub async fn new(loaded: &LoadedConfig, credentials: Option<StaticCredentials>) -> Result<Self, ConfigError> {
        let s3 = &loaded.config.storage.s3;
        let mounts = Mounts::new(loaded)?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeouts(s3))
            .retry_config(RetryConfig::standard().with_max_attempts(s3.max_attempts.max(1)))
            .stalled_stream_protection(
                StalledStreamProtectionConfig::enabled().grace_period(s3.stalled_stream_grace).build(),
            );
        if let Some(region) = &s3.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(StaticCredentials { access_key_id, secret_access_key }) = credentials {
            let credentials =
                aws_sdk_s3::config::Credentials::new(access_key_id, secret_access_key, None, None, "static");
            loader = loader.credentials_provider(credentials);
        }
        let shared = loader.load().await;
        if shared.region().is_none() {
            return Err(loaded.error("storage.s3.region", "no region: set it here or in AWS_REGION"));
        }
        let mut config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(s3.force_path_style)
            // The ETag already pins the version; a checksum over a ranged body cannot be checked
            // anyway, and computing one per chunk would be wasted work on the hot path.
            .response_checksum_validation(aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = &s3.endpoint {
            let uri: http::Uri = endpoint.parse().map_err(|_| loaded.error("storage.s3.endpoint", "not a URL"))?;
            if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
                return Err(loaded.error("storage.s3.endpoint", "expected http://host:port or https://host"));
            }
            config = config.endpoint_url(endpoint);
        }
        let inner = Inner {
            client: Client::from_conf(config.build()),
            mounts,
            access_denied: s3.access_denied_as,
            max_resumes: s3.max_resumes,
        };
        Ok(Self { inner: Arc::new(inner) })
    }
}

impl Inner {
    fn locate(&self, key: &ObjectKey) -> Result<(String, String), StoreError> {
        let location = self.mounts.locate(key).ok_or(StoreError::NotFound)?;
        Ok((location.bucket.to_owned(), location.key))
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, StoreError> {
        let (bucket, s3_key) = self.locate(key)?;
        let context = Context { operation: "HeadObject", bucket: &bucket, key: &s3_key };
        let started = Instant::now();
        let output = self.client.head_object().bucket(&bucket).key(&s3_key).send().await;
        let output = record("HeadObject", started, output.map_err(|e| classify(&e, self.access_denied, context)))?;
        Described {
            operation: "HeadObject",
            bucket: &bucket,
            s3_key: &s3_key,
            len: output.content_length().and_then(|l| u64::try_from(l).ok()),
            etag: output.e_tag(),
            last_modified: output.last_modified(),
            content_type: output.content_type(),
        }
        .metadata(key)
    }

    /// One GetObject, unpinned, for the current version's metadata and the bytes `hint` names;
    /// `None` when S3 finds the range unsatisfiable (416), which only the metadata can answer.
    async fn get_current(&self, key: &ObjectKey, hint: ReadHint) -> Result<Option<Current>, StoreError> {
        let (bucket, s3_key) = self.locate(key)?;
        let context = Context { operation: "GetObject", bucket: &bucket, key: &s3_key };
        let started = Instant::now();
        let request = self.client.get_object().bucket(&bucket).key(&s3_key).set_range(hint.range_header());
        let output = match request.send().await {
            Err(error) if error.raw_response().is_some_and(|raw| raw.status().as_u16() == 416) => {
                record("GetObject", started, Ok(()))?;
                return Ok(None);
            }
            other => record("GetObject", started, other.map_err(|e| classify(&e, self.access_denied, context)))?,
        };
        let (range, len) = answer::body_extent(output.content_range(), output.content_length()).map_err(|what| {
            tracing::warn!(bucket, key = s3_key, "GetObject answered with {what}");
            StoreError::Upstream(format!("GetObject with {what}"))
        })?;
        let described = Described {
            operation: "GetObject",
            bucket: &bucket,
            s3_key: &s3_key,
            len: Some(len),
            etag: output.e_tag(),
            last_modified: output.last_modified(),
            content_type: output.content_type(),
        };
        let meta = described.metadata(key)?;
        let etag = meta.etag.to_str().map_err(|_| StoreError::Changed)?.to_owned();
        Ok(Some(Current { meta, target: Target { bucket, key: s3_key, etag }, range, body: output.body }))
    }

    /// Opens a ranged GET of exactly the version `target.etag` names.
    async fn open(&self, target: &Target, range: ByteRange) -> Result<aws_sdk_s3::primitives::ByteStream, StoreError> {
        let context = Context { operation: "GetObject", bucket: &target.bucket, key: &target.key };
        let started = Instant::now();
        let output = self
            .client
            .get_object()
            .bucket(&target.bucket)
            .key(&target.key)
            .range(format!("bytes={}-{}", range.start(), range.last()))
            .if_match(&target.etag)
            .send()
            .await
            .map_err(|e| classify(&e, self.access_denied, context));
        let output = record("GetObject", started, output)?;
        // Some S3-compatible servers ignore If-Match, so the version is checked here too.
        if output.e_tag() != Some(target.etag.as_str()) {
            tracing::info!(bucket = %target.bucket, key = %target.key, "object replaced while being served");
            return Err(StoreError::Changed);
        }
        let expected_range = format!("bytes {}-{}/", range.start(), range.last());
        let range_ok = output.content_range().is_some_and(|r| r.starts_with(&expected_range));
        if output.content_length() != i64::try_from(range.len()).ok() || !range_ok {
            tracing::warn!(bucket = %target.bucket, key = %target.key, asked = %expected_range, got = ?output.content_range(), "GetObject answered another range");
            return Err(StoreError::Upstream("GetObject range mismatch".into()));
        }
        Ok(output.body)
    }
}

/// Counts an S3 call by outcome and records its latency to the response headers.
fn record<T>(operation: &'static str, started: Instant, result: Result<T, StoreError>) -> Result<T, StoreError> {
    let outcome = match &result {
        Ok(_) => "ok",
        Err(error) => error.fault().as_str(),
    };
    metrics::counter!(telemetry::S3_REQUESTS_TOTAL, "operation" => operation, "outcome" => outcome).increment(1);
    metrics::histogram!(telemetry::S3_REQUEST_DURATION_SECONDS, "operation" => operation)
        .record(started.elapsed().as_secs_f64());
    result
}

impl ObjectStore for S3Store {
    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<ObjectMeta, StoreError>> {
        Box::pin(self.inner.head(key))
    }

    /// A GetObject whose answer is both the metadata and the first bytes, when there is a hint;
    /// else, and when S3 finds the hinted range unsatisfiable, a HeadObject.
    fn open<'a>(&'a self, key: &'a ObjectKey, hint: Option<ReadHint>) -> BoxFuture<'a, Result<Opened, StoreError>> {
        Box::pin(async move {
            let current = match hint {
                Some(hint) => self.inner.get_current(key, hint).await?,
                None => None,
            };
            let Some(Current { meta, target, range, body }) = current else {
                return Ok(Opened { meta: self.inner.head(key).await?, bytes: None });
            };
            let bytes = range.map(|range| Prefetched {
                range,
                chunks: stream::resumable(Arc::clone(&self.inner), target, range, body),
            });
            Ok(Opened { meta, bytes })
        })
    }

    fn get<'a>(
        &'a self,
        key: &'a ObjectKey,
        meta: &'a ObjectMeta,
        range: ByteRange,
    ) -> BoxFuture<'a, Result<ByteStream, StoreError>> {
        Box::pin(async move {
            let (bucket, key) = self.inner.locate(key)?;
            let etag = meta.etag.to_str().map_err(|_| StoreError::Changed)?.to_owned();
            let target = Target { bucket, key, etag };
            let first = self.inner.open(&target, range).await?;
            Ok(stream::resumable(Arc::clone(&self.inner), target, range, first))
        })
    }

    fn warm_up(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            for mount in self.inner.mounts.all() {
                let probe = format!("{}.vod-origin-readiness-probe", mount.prefix);
                let context = Context { operation: "GetObject", bucket: &mount.bucket, key: &probe };
                // GetObject rather than HeadObject: its errors carry a code, so a bad signature
                // or a missing bucket is told apart from a missing key.
                let request = self.inner.client.get_object().bucket(&mount.bucket).key(&probe).range("bytes=0-0");
                match request.send().await {
                    Ok(_) => {}
                    // A missing (or, without ListBucket, denied) probe key proves that S3 is
                    // reachable and that our credentials are accepted.
                    Err(error) => match classify(&error, AccessDeniedAs::NotFound, context) {
                        StoreError::NotFound => {}
                        other => return Err(other),
                    },
                }
            }
            Ok(())
        })
    }
}
