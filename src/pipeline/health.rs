//! `/healthz` (the process serves) and `/readyz` (send it traffic): exempt from every check.
//!
//! Readiness waits for the store's first successful call, which also opens its connection pool,
//! and ends when draining starts, so a load balancer stops sending new viewers before the
//! process stops.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use tokio::sync::watch;

use crate::body::ResponseBody;
use crate::store::ObjectStore;

/// The liveness endpoint.
pub const HEALTH_PATH: &str = "/healthz";
/// The readiness endpoint.
pub const READY_PATH: &str = "/readyz";

/// First and longest pause between failed warm-up calls.
const WARM_UP_BACKOFF: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(5));

/// Whether the server should receive traffic. The store's state is a watch channel so callers
/// (tests, embedders) can await it; reading it takes a brief uncontended lock, never across an
/// await.
#[derive(Debug)]
pub struct Readiness {
    store_ready: watch::Sender<bool>,
    draining: AtomicBool,
}

impl Default for Readiness {
    fn default() -> Self {
        Self { store_ready: watch::Sender::new(false), draining: AtomicBool::new(false) }
    }
}

impl Readiness {
    /// Ready: the store answered once, and the server is not draining.
    pub fn is_ready(&self) -> bool {
        *self.store_ready.borrow() && !self.draining.load(Ordering::Acquire)
    }

    /// Resolves once the store has answered.
    pub async fn store_answered(&self) {
        let mut ready = self.store_ready.subscribe();
        let _ = ready.wait_for(|ready| *ready).await;
    }

    /// Marks the start of draining.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Calls the store until it answers, then marks the server ready.
    pub async fn warm_up(&self, store: &dyn ObjectStore) {
        let mut pause = WARM_UP_BACKOFF.0;
        loop {
            match store.warm_up().await {
                Ok(()) => {
                    self.store_ready.send_replace(true);
                    tracing::info!("store reachable; ready");
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?pause, "store not reachable yet; not ready");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(WARM_UP_BACKOFF.1);
                }
            }
        }
    }
}

/// The answer of either endpoint.
pub fn respond(ok: bool) -> Response<ResponseBody> {
    let (status, body) = if ok { (StatusCode::OK, "ok\n") } else { (StatusCode::SERVICE_UNAVAILABLE, "not ready\n") };
    let mut response = Response::new(ResponseBody::full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ready_between_the_first_store_answer_and_draining() {
        let readiness = Readiness::default();
        assert!(!readiness.is_ready());
        let store = crate::store::LocalStore::new(std::path::Path::new(".")).unwrap();
        readiness.warm_up(&store).await;
        readiness.store_answered().await;
        assert!(readiness.is_ready());
        readiness.start_draining();
        assert!(!readiness.is_ready());
        assert_eq!(respond(false).status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
