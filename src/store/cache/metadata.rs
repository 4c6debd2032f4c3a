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

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::key::ObjectKey;
use crate::store::{ObjectMeta, ObjectStore, StoreError};
use crate::telemetry;

/// Objects whose metadata is held at once. An entry lives for the TTL only (5 s by default), so
/// this bounds the objects requested per TTL, not the catalogue; an entry is a few hundred
/// bytes, so the bound is a few tens of MiB at worst. Beyond it, lookups cost HeadObjects again.
const MAX_ENTRIES: u64 = 100_000;

/// Metadata by object key.
pub(super) struct MetadataCache {
    entries: moka::future::Cache<ObjectKey, Answer>,
    ttl: Duration,
}

/// One HeadObject's answer (`None`: the object does not exist) and when it came, on tokio's
/// clock. The age is checked against that clock, not moka's: tests pause and advance tokio's
/// time to cross the TTL without sleeping. moka's own TTL, the same duration on the real clock,
/// is what frees the entry; in production both clocks agree.
#[derive(Clone)]
struct Answer {
    fetched: Instant,
    meta: Option<ObjectMeta>,
}

impl MetadataCache {
    /// Keeps answers for `ttl` from when they were fetched.
    pub fn new(ttl: Duration) -> Self {
        let entries = moka::future::Cache::builder().max_capacity(MAX_ENTRIES).time_to_live(ttl).build();
        Self { entries, ttl }
    }

    /// The metadata of `key`, from the cache or from `inner`'s HeadObject.
    pub async fn head(&self, inner: &Arc<dyn ObjectStore>, key: &ObjectKey) -> Result<ObjectMeta, StoreError> {
        let (inner, owned) = (Arc::clone(inner), key.clone());
        self.lookup(key, async move { inner.head(&owned).await }).await
    }

    /// The metadata of `key`, from the cache or from `fetch`, which runs only on a miss (and is
    /// dropped unpolled on a hit). A miss waits in a task of its own, as a block fill runs in one
    /// (see `fill`): a viewer who leaves never cancels the lookup others wait for (and moka
    /// panics after 200 cancelled initialisations of a key).
    pub async fn lookup<F>(&self, key: &ObjectKey, fetch: F) -> Result<ObjectMeta, StoreError>
    where
        F: Future<Output = Result<ObjectMeta, StoreError>> + Send + 'static,
    {
        if let Some(answer) = self.fresh(key).await {
            return answer;
        }
        record("miss");
        let (entries, key) = (self.entries.clone(), key.clone());
        let waiting = tokio::spawn(async move {
            let init = async {
                let meta = match fetch.await {
                    Ok(meta) => Some(meta),
                    Err(StoreError::NotFound) => None,
                    Err(other) => return Err(other),
                };
                Ok(Answer { fetched: Instant::now(), meta })
            };
            entries.try_get_with(key.clone(), init).await.map_err(|shared| shared.duplicate())
        });
        let answer = waiting.await.map_err(|_| StoreError::internal("metadata lookup task failed"))??;
        answer.meta.ok_or(StoreError::NotFound)
    }

    /// The cached answer for `key`, counted as a hit, if it is younger than the TTL.
    pub async fn fresh(&self, key: &ObjectKey) -> Option<Result<ObjectMeta, StoreError>> {
        let answer = self.entries.get(key).await?;
        if answer.fetched.elapsed() < self.ttl {
            record("hit");
            return Some(answer.meta.ok_or(StoreError::NotFound));
        }
        // Only when tokio's clock runs ahead of moka's (paused time, or the instant between the
        // two clocks' readings): moka would drop it next.
        self.entries.invalidate(key).await;
        None
    }

    /// Forgets `key`, so the next lookup asks the store: a block read found the object changed.
    pub async fn invalidate(&self, key: &ObjectKey) {
        self.entries.invalidate(key).await;
    }
}

fn record(result: &'static str) {
    metrics::counter!(telemetry::METADATA_CACHE_REQUESTS_TOTAL, "result" => result).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::cache::fake::{FakeStore, key};
    use tokio::time::advance;

    #[tokio::test(start_paused = true)]
    async fn answers_found_or_missing_are_kept_for_the_ttl() {
        let fake = FakeStore::new(100);
        let inner: Arc<dyn ObjectStore> = fake.clone();
        let cache = MetadataCache::new(Duration::from_secs(5));
        let missing = crate::key::key_from_path("/missing.mp4").unwrap();
        assert_eq!(cache.head(&inner, &key()).await.unwrap().len, 100);
        assert!(matches!(cache.head(&inner, &missing).await, Err(StoreError::NotFound)));
        fake.replace(200, 2);
        advance(Duration::from_millis(4999)).await;
        assert_eq!(cache.head(&inner, &key()).await.unwrap().len, 100, "the answer is reused");
        assert!(matches!(cache.head(&inner, &missing).await, Err(StoreError::NotFound)));
        assert_eq!(fake.heads(), 2, "one HeadObject per key");
        advance(Duration::from_millis(1)).await;
        assert_eq!(cache.head(&inner, &key()).await.unwrap().len, 200, "the new version after the TTL");
        assert!(matches!(cache.head(&inner, &missing).await, Err(StoreError::NotFound)));
        assert_eq!(fake.heads(), 4, "both asked again");
        assert_eq!(cache.head(&inner, &key()).await.unwrap().len, 200);
        assert_eq!(fake.heads(), 4);
    }
}
