//! What the pipeline reports about each answer to the access log and the request metrics: the
//! route kind and what the store did. It travels in the response's extensions, so the
//! connection's logger needs no other channel to the pipeline.

use crate::store::{CacheLookup, StoreFault};
use crate::telemetry::RouteKind;

/// The route kind and store outcome of one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The route kind (`route` label and log field).
    pub route: RouteKind,
    /// What the store did (`storage` log field).
    pub storage: Storage,
}

impl Outcome {
    /// An answer of `route` that did not ask the store.
    pub fn without_store(route: RouteKind) -> Self {
        Self { route, storage: Storage::NotAsked }
    }

    /// What a response without an outcome is reported as: refused before routing.
    pub fn refused() -> Self {
        Self::without_store(RouteKind::Refused)
    }
}

/// What the store did for one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// It was not asked (refusals, probes, OPTIONS, policy files).
    NotAsked,
    /// It answered; through the edge cache, with what the lookup of the first block found
    /// (`None`: no block was read, as for a HEAD, a 304, or a store without the cache).
    Answered(Option<CacheLookup>),
    /// It failed.
    Failed(StoreFault),
}

impl Storage {
    /// The `X-Cache` header of an answer that went through the edge cache, in CloudFront's style
    /// (its own `X-Cache` replaces this one at the edge): what the lookup of the first block found.
    pub fn x_cache(self) -> Option<http::HeaderValue> {
        let Self::Answered(Some(lookup)) = self else { return None };
        Some(http::HeaderValue::from_static(match lookup {
            CacheLookup::Hit => "Hit from vod-origin",
            CacheLookup::Miss => "Miss from vod-origin",
            CacheLookup::Collapsed => "Collapsed from vod-origin",
            CacheLookup::Bypass => "Bypass from vod-origin",
        }))
    }

    /// The log value: `none`, `ok`, `hit`, `miss`, `collapsed`, `bypass`, or the fault.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotAsked => "none",
            Self::Answered(None) => "ok",
            Self::Answered(Some(lookup)) => lookup.as_str(),
            Self::Failed(fault) => fault.as_str(),
        }
    }
}
