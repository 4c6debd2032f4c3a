//! What a block lookup found, for the metrics and for the access log's `storage` field.
//!
//! The store trait's answers describe the object, not how it was obtained, and a `ByteStream`
//! cannot carry a side note. Rather than widen `get` for every backend (and the multipart path)
//! to carry a log field, the pipeline runs a request's fetch inside [`report_lookups`], a
//! task-local scope; the cache writes what the first block of each `get` found into it, and
//! the pipeline reads it when it tags the response. Outside a scope (read-ahead, other callers)
//! reporting does nothing. The value is a `Cell`: the scope belongs to one task, and nothing is
//! awaited while it is touched.

use std::cell::Cell;
use std::future::Future;

tokio::task_local! {
    static REPORT: Cell<Option<CacheLookup>>;
}

/// Where a block came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheLookup {
    /// It was cached.
    Hit,
    /// This request fetched it from the store.
    Miss,
    /// Another request was already fetching it, and this one waited for that fetch.
    Collapsed,
    /// It was not cached and the cache's memory was all in use: this request read its own
    /// range straight from the store, as without the cache.
    Bypass,
}

impl CacheLookup {
    /// The metric label and access log value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Collapsed => "collapsed",
            Self::Bypass => "bypass",
        }
    }
}

/// Runs `fetch`, and returns with its output what the cache found for the first block of the
/// last `get` inside it (`None`: nothing read through the cache, e.g. a HEAD, a 304, a local
/// file, or a range too large to cache).
pub async fn report_lookups<F: Future>(fetch: F) -> (F::Output, Option<CacheLookup>) {
    REPORT
        .scope(Cell::new(None), async move {
            let output = fetch.await;
            (output, REPORT.with(Cell::get))
        })
        .await
}

/// Records the lookup of the first block a `get` serves. A later `get` in the same request
/// (the retry after an object changed) overwrites it: the response is the later one's.
pub(super) fn report(lookup: CacheLookup) {
    let _ = REPORT.try_with(|report| report.set(Some(lookup)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_scope_sees_the_last_report_and_nothing_leaks_outside() {
        report(CacheLookup::Hit);
        let ((), found) = report_lookups(async {
            report(CacheLookup::Miss);
            report(CacheLookup::Collapsed);
        })
        .await;
        assert_eq!(found, Some(CacheLookup::Collapsed));
        let ((), found) = report_lookups(async {}).await;
        assert_eq!(found, None);
    }
}
