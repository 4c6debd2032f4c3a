//! The `[storage.s3]` section: which buckets, how to reach them, and how long to wait.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a client sees when S3 denies access to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessDeniedAs {
    /// 404, so a client cannot tell a protected key from a missing one (S3 itself answers 403
    /// for missing keys when the caller may not list the bucket).
    NotFound,
    /// 403.
    Forbidden,
}

/// The S3 backend. Credentials come from the AWS default chain (environment, profile, ECS task
/// role, EC2 instance role with IMDSv2, web identity); none are configured here.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    /// Region; unset: from the default chain (`AWS_REGION`, profile, instance metadata).
    pub region: Option<String>,
    /// Endpoint of an S3-compatible server (MinIO, s3s-fs), e.g. `http://127.0.0.1:9000`.
    pub endpoint: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), which most S3-compatible servers need.
    pub force_path_style: bool,
    /// The bucket served at `/` when no mounts are configured.
    pub bucket: Option<String>,
    /// Key prefix inside `bucket`, prepended to the request path's key.
    pub prefix: String,
    /// Buckets mapped by path prefix; the longest matching path wins.
    pub mounts: Vec<S3Mount>,
    /// Time to open a connection to S3.
    #[serde(with = "super::duration")]
    pub connect_timeout: Duration,
    /// Time per attempt from sending a request to S3's first response byte, connecting included.
    /// Retries happen only in this phase, before any response header is sent to the client; a
    /// request makes up to two S3 calls before its headers (HeadObject, GetObject), so keep
    /// 2 × (`max_attempts` × this + 3 s of backoff) under CloudFront's 30 s origin timeout.
    #[serde(with = "super::duration")]
    pub first_byte_timeout: Duration,
    /// Attempts per S3 request (standard retry mode, exponential backoff with jitter).
    pub max_attempts: u32,
    /// Times one ranged GET's body that breaks mid-stream is resumed from the next byte before
    /// that read fails. The budget is per ranged read: the whole range when uncached (each part
    /// of a multi-range response is its own read), each block fill with the edge cache.
    pub max_resumes: u32,
    /// A body S3 sends slower than 1 byte/s for this long is treated as broken (and resumed).
    /// Only time spent waiting for S3 counts, not time a slow viewer takes to read.
    #[serde(with = "super::duration")]
    pub stalled_stream_grace: Duration,
    /// `not_found` (404, the default) or `forbidden` (403) for keys S3 denies.
    pub access_denied_as: AccessDeniedAs,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            region: None,
            endpoint: None,
            force_path_style: false,
            bucket: None,
            prefix: String::new(),
            mounts: Vec::new(),
            connect_timeout: Duration::from_secs(2),
            first_byte_timeout: Duration::from_secs(3),
            max_attempts: 3,
            max_resumes: 3,
            stalled_stream_grace: Duration::from_secs(10),
            access_denied_as: AccessDeniedAs::NotFound,
        }
    }
}

/// One bucket served under a path prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Mount {
    /// URL path prefix, whole segments: `/a` serves `/a/...`; `/` serves everything else.
    pub path: String,
    /// The bucket.
    pub bucket: String,
    /// Key prefix inside the bucket.
    #[serde(default)]
    pub prefix: String,
}
