//! Object metadata (HeadObject) kept for `storage.cache.metadata_ttl`, with concurrent lookups of
//! one key collapsed into one call.
//!
//! Every request needs the metadata before it can plan its answer, so without this a thousand
//! viewers of one segment are a thousand HeadObjects even when every block is cached. The TTL
//! is how stale an answer may be: a replaced object is served in its new version at most that
//! long after the replacement (sooner when a block read finds the change, see `invalidate`).
//!
//! A missing object is cached too, for the same TTL: a player or a scanner asking again and
//! again for a key that does not exist costs one HeadObject per TTL, and an object uploaded
//! under that key appears within the TTL, as a replaced one does. Other errors are not cached.

use std::sync::Arc;
use std::time::Duration;

use crate::key::ObjectKey;
use crate::store::{ObjectMeta, ObjectStore, StoreError};
use crate::telemetry;

/// Objects whose metadata is held at once. An entry lives for the TTL only (5 s by default), so
/// this bounds the objects requested per TTL, not the catalogue; an entry is a few hundred
/// bytes, so the bound is a few tens of MiB at worst. Beyond it, lookups cost HeadObjects again.
const MAX_ENTRIES: u64 = 100_000;

/// Metadata by object key; `None` records that the object does not exist.
pub(super) struct MetadataCache {
    entries: moka::future::Cache<ObjectKey, Option<ObjectMeta>>,
}

impl MetadataCache {
    /// Keeps answers for `ttl` from when they were fetched.
    pub fn new(ttl: Duration) -> Self {
        Self { entries: moka::future::Cache::builder().max_capacity(MAX_ENTRIES).time_to_live(ttl).build() }
    }

    /// The metadata of `key`, from the cache or from `inner`. A miss waits in a task of its
    /// own, as a block fill runs in one (see `fill`): a viewer who leaves never cancels the
    /// lookup others wait for (and moka panics after 200 cancelled initialisations of a key).
    pub async fn head(&self, inner: &Arc<dyn ObjectStore>, key: &ObjectKey) -> Result<ObjectMeta, StoreError> {
        if let Some(found) = self.entries.get(key).await {
            record("hit");
            return found.ok_or(StoreError::NotFound);
        }
        record("miss");
        let (entries, inner, key) = (self.entries.clone(), Arc::clone(inner), key.clone());
        let waiting = tokio::spawn(async move {
            let init = async {
                match inner.head(&key).await {
                    Ok(meta) => Ok(Some(meta)),
                    Err(StoreError::NotFound) => Ok(None),
                    Err(other) => Err(other),
                }
            };
            entries.try_get_with(key.clone(), init).await.map_err(|shared| shared.duplicate())
        });
        let found = waiting.await.map_err(|_| StoreError::internal("metadata lookup task failed"))??;
        found.ok_or(StoreError::NotFound)
    }

    /// Forgets `key`, so the next lookup asks the store: a block read found the object changed.
    pub async fn invalidate(&self, key: &ObjectKey) {
        self.entries.invalidate(key).await;
    }
}

fn record(result: &'static str) {
    metrics::counter!(telemetry::METADATA_CACHE_REQUESTS_TOTAL, "result" => result).increment(1);
}
