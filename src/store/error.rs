//! Why a store could not answer, by fault: the object (absent, replaced), the store (refusing,
//! slow, broken) or the origin itself.
//!
//! A store names the fault and keeps its cause for the log; it never decides an HTTP status.
//! Statuses and client messages are decided once, with every other refusal, in [`crate::error`].

/// Why a store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// There is no such object (or its existence is not revealed).
    #[error("no such object")]
    NotFound,
    /// The object changed since its metadata was read.
    #[error("object changed while being read")]
    Changed,
    /// The store refuses access (and the configuration says to tell the client).
    #[error("access denied")]
    Forbidden,
    /// The store asks us to slow down.
    #[error("store unavailable")]
    Unavailable {
        /// Seconds the client is asked to wait.
        retry_after_secs: u32,
    },
    /// The store did not answer in time.
    #[error("store timed out")]
    Timeout,
    /// The store answered with something we cannot serve. The text is for logs only.
    #[error("upstream failure: {0}")]
    Upstream(String),
    /// A local I/O failure.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// One of the origin's own invariants failed: a bug here, never the store's fault. Made
    /// with [`StoreError::internal`], which logs it at `error`.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// The kind of a [`StoreError`], without its cause: a metric label and an access log value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFault {
    /// [`StoreError::NotFound`].
    NotFound,
    /// [`StoreError::Changed`].
    Changed,
    /// [`StoreError::Forbidden`].
    Forbidden,
    /// [`StoreError::Unavailable`].
    Unavailable,
    /// [`StoreError::Timeout`].
    Timeout,
    /// [`StoreError::Upstream`].
    Upstream,
    /// [`StoreError::Io`].
    Io,
    /// [`StoreError::Internal`].
    Internal,
}

impl StoreError {
    /// An invariant of the origin's own that failed, logged at `error` where it is found: the
    /// client sees a 500, not a 502 that would blame the store.
    pub fn internal(what: &'static str) -> Self {
        tracing::error!(what, "internal invariant failed");
        Self::Internal(what)
    }

    /// The same error again, for each request that waited on one shared call (the edge cache's
    /// collapsed fills): not `Clone`, since it may hold an `io::Error`, but every waiter must see
    /// the fault the call met (a 404 stays a 404, a `Changed` is retried, a `SlowDown` keeps its
    /// `Retry-After`).
    pub fn duplicate(&self) -> Self {
        match self {
            Self::NotFound => Self::NotFound,
            Self::Changed => Self::Changed,
            Self::Forbidden => Self::Forbidden,
            Self::Unavailable { retry_after_secs } => Self::Unavailable { retry_after_secs: *retry_after_secs },
            Self::Timeout => Self::Timeout,
            Self::Upstream(text) => Self::Upstream(text.clone()),
            Self::Io(io) => Self::Io(std::io::Error::new(io.kind(), io.to_string())),
            Self::Internal(what) => Self::Internal(what),
        }
    }

    /// Its kind, without the cause.
    pub fn fault(&self) -> StoreFault {
        match self {
            Self::NotFound => StoreFault::NotFound,
            Self::Changed => StoreFault::Changed,
            Self::Forbidden => StoreFault::Forbidden,
            Self::Unavailable { .. } => StoreFault::Unavailable,
            Self::Timeout => StoreFault::Timeout,
            Self::Upstream(_) => StoreFault::Upstream,
            Self::Io(_) => StoreFault::Io,
            Self::Internal(_) => StoreFault::Internal,
        }
    }
}

impl StoreFault {
    /// The metric label and access log value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Changed => "changed",
            Self::Forbidden => "forbidden",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::Upstream => "upstream_error",
            Self::Io => "io_error",
            Self::Internal => "internal_error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_error_keeps_its_fault() {
        let errors = [
            StoreError::NotFound,
            StoreError::Changed,
            StoreError::Forbidden,
            StoreError::Unavailable { retry_after_secs: 7 },
            StoreError::Timeout,
            StoreError::Upstream("x".into()),
            StoreError::Io(std::io::Error::new(std::io::ErrorKind::PermissionDenied, "no")),
            StoreError::Internal("x"),
        ];
        for error in errors {
            let again = error.duplicate();
            assert_eq!(again.fault(), error.fault());
            assert_eq!(again.to_string(), error.to_string());
        }
        let StoreError::Unavailable { retry_after_secs } = StoreError::Unavailable { retry_after_secs: 7 }.duplicate()
        else {
            unreachable!()
        };
        assert_eq!(retry_after_secs, 7);
    }
}
