//! What names a cached block: the cache, the fills in flight and the disk tier all key by it.

use http::HeaderValue;

use crate::key::ObjectKey;

/// One block of one object version. The key is the request's object key, which names exactly
/// one bucket and S3 key for the lifetime of the store (the mounts are fixed at startup, and a
/// cache wraps one store), so blocks of two buckets never meet; the ETag pins the version, so
/// a replaced object's old blocks are never served for the new one and just age out.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct BlockKey {
    pub key: ObjectKey,
    pub etag: HeaderValue,
    pub index: u64,
}
