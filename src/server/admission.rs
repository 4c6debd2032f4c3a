//! Load shedding: what a connection gets when it arrives above `server.max_connections`.
//!
//! Leaving excess connections in the kernel's backlog looks like a hang to the client: CloudFront
//! waits out its connection timeout, retries, and only then answers its viewer with an error.
//! So the origin accepts them and sheds them: a bounded overflow is answered `503` with
//! `Retry-After`, which CloudFront passes on at once (or fails over, with an origin group);
//! beyond the overflow, connections are closed on accept, since answering costs a TLS handshake
//! and that work must stay bounded under a flood too.
//!
//! The admin listener has its own small allowance, so health checks and metrics scrapes still
//! get through when the public listeners are full; the demo listener (development) shares it.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Listener;
use crate::telemetry;

/// Connections the admin listener serves at once: Prometheus, the load balancer's and the
/// container's health checks, with room to spare.
const ADMIN_MAX_CONNECTIONS: usize = 64;
/// The shed overflow is this fraction of `server.max_connections`...
const SHED_FRACTION: usize = 16;
/// ...but at least this many, so a small limit still answers its excess...
const SHED_MIN: usize = 16;
/// ...and at most this many handshakes done only to say no.
const SHED_MAX: usize = 1024;

/// What a newly accepted connection gets. The permit is its slot, held while it lives.
pub(super) enum Admission {
    /// Served normally.
    Serve(OwnedSemaphorePermit),
    /// Over the limit: every request gets 503, and the connection closes soon.
    Shed(OwnedSemaphorePermit),
    /// Over the limit and the overflow: closed at once.
    Refuse,
}

/// The connection slots of all listeners.
pub(super) struct Admissions {
    serving: Arc<Semaphore>,
    shedding: Arc<Semaphore>,
    admin: Arc<Semaphore>,
}

impl Admissions {
    /// Slots for `max_connections` connections on the public listeners (HTTPS and plain HTTP).
    pub fn new(max_connections: usize) -> Self {
        Self {
            serving: Arc::new(Semaphore::new(max_connections)),
            shedding: Arc::new(Semaphore::new((max_connections / SHED_FRACTION).clamp(SHED_MIN, SHED_MAX))),
            admin: Arc::new(Semaphore::new(ADMIN_MAX_CONNECTIONS)),
        }
    }

    /// Decides what a connection accepted on `listener` gets, and counts what was shed.
    pub fn admit(&self, listener: Listener) -> Admission {
        let admission = if matches!(listener, Listener::Admin | Listener::Demo) {
            try_take(&self.admin).map_or(Admission::Refuse, Admission::Serve)
        } else if let Some(permit) = try_take(&self.serving) {
            Admission::Serve(permit)
        } else {
            try_take(&self.shedding).map_or(Admission::Refuse, Admission::Shed)
        };
        let action = match &admission {
            Admission::Serve(_) => return admission,
            Admission::Shed(_) => "503",
            Admission::Refuse => "closed",
        };
        metrics::counter!(telemetry::CONNECTIONS_SHED_TOTAL, "action" => action).increment(1);
        admission
    }
}

fn try_take(slots: &Arc<Semaphore>) -> Option<OwnedSemaphorePermit> {
    Arc::clone(slots).try_acquire_owned().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(admission: &Admission) -> &'static str {
        match admission {
            Admission::Serve(_) => "serve",
            Admission::Shed(_) => "shed",
            Admission::Refuse => "refuse",
        }
    }

    #[test]
    fn serve_then_shed_then_refuse_and_slots_come_back() {
        let admissions = Admissions::new(2);
        let served: Vec<_> = (0..2).map(|_| admissions.admit(Listener::Https)).collect();
        assert!(served.iter().all(|a| kind(a) == "serve"));
        let shed: Vec<_> = (0..SHED_MIN).map(|_| admissions.admit(Listener::PlainHttp)).collect();
        assert!(shed.iter().all(|a| kind(a) == "shed"));
        assert_eq!(kind(&admissions.admit(Listener::Https)), "refuse");
        assert_eq!(kind(&admissions.admit(Listener::Admin)), "serve", "the admin listener has its own slots");
        drop(served);
        assert_eq!(kind(&admissions.admit(Listener::Https)), "serve", "a closed connection frees its slot");
    }
}
