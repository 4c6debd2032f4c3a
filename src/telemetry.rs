//! What the origin reports about its traffic in Prometheus metrics: names carry their unit, labels
//! are bounded and never copied from request headers. The access log is `logging::access`.

use std::sync::OnceLock;

use http::StatusCode;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Declares each metric's name as a constant documented by its doc comment, and keeps the same
/// text as the series' `# HELP` line, so the two never drift apart.
macro_rules! metric_names {
    ($($(#[doc = $doc:literal])+ $name:ident: $kind:ident = $value:literal;)+) => {
        $($(#[doc = $doc])+ pub const $name: &str = $value;)+

        /// Every series: name, kind, and help text (its doc comment's lines).
        const DESCRIPTIONS: &[(&str, Kind, &[&str])] = &[$(($value, Kind::$kind, &[$($doc),+])),+];
    };
}

/// How a series is recorded, for its `# TYPE` line.
#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

metric_names! {
    /// Requests answered, by `route` kind and `status` class.
    REQUESTS_TOTAL: Counter = "vod_origin_requests_total";
    /// Body bytes sent to clients, by `route`.
    RESPONSE_BYTES_TOTAL: Counter = "vod_origin_response_bytes_total";
    /// From request to the last body byte (or the client leaving), by `route`.
    REQUEST_DURATION_SECONDS: Histogram = "vod_origin_request_duration_seconds";
    /// From request to response headers, by `route`.
    TIME_TO_FIRST_BYTE_SECONDS: Histogram = "vod_origin_time_to_first_byte_seconds";
    /// S3 calls, by `operation` and `outcome`.
    S3_REQUESTS_TOTAL: Counter = "vod_origin_s3_requests_total";
    /// S3 call latency to the response headers, by `operation`.
    S3_REQUEST_DURATION_SECONDS: Histogram = "vod_origin_s3_request_duration_seconds";
    /// Body bytes read from S3.
    S3_BYTES_TOTAL: Counter = "vod_origin_s3_bytes_total";
    /// S3 bodies resumed after breaking mid-stream, by `fetch`: `request` for a read a response
    /// waits on (an uncached range, a bypass, or a block fill a request started), `read_ahead` for a
    /// block fill the edge cache's read-ahead started (a request may have joined it since).
    S3_RESUMES_TOTAL: Counter = "vod_origin_s3_resumes_total";
    /// Block lookups in the edge cache, by `result`: `hit` (cached), `miss` (this lookup fetched
    /// the block from S3), `collapsed` (waited for another lookup's fetch of the same block),
    /// `bypass` (not cached, and no memory to fill it: the range was read straight from S3).
    CACHE_REQUESTS_TOTAL: Counter = "vod_origin_cache_requests_total";
    /// Bytes through the edge cache, by `source`: `cache` (sent to clients out of blocks, cached or
    /// being filled),
    /// `s3` (read from S3 to fill blocks, read-ahead included), `disk` (read back from the disk
    /// tier), `bypass` (sent to clients straight from S3 because the cache's memory was all in use).
    CACHE_BYTES_TOTAL: Counter = "vod_origin_cache_bytes_total";
    /// Blocks evicted from the edge cache to make room, or not admitted into it (moka counts both).
    CACHE_EVICTIONS_TOTAL: Counter = "vod_origin_cache_evictions_total";
    /// Bytes of blocks the edge cache holds (as of its last housekeeping; refreshed every second).
    CACHE_SIZE_BYTES: Gauge = "vod_origin_cache_size_bytes";
    /// Bytes of all block memory: cached, being filled, and evicted but still being sent (refreshed
    /// every second). Never above `storage.cache.max_bytes`.
    CACHE_MEMORY_BYTES: Gauge = "vod_origin_cache_memory_bytes";
    /// Block lookups in the edge cache's disk tier, by `result` (`hit`, `miss`).
    CACHE_DISK_REQUESTS_TOTAL: Counter = "vod_origin_cache_disk_requests_total";
    /// Blocks written to the edge cache's disk tier (counted once the write queue has them on disk).
    CACHE_DISK_WRITES_TOTAL: Counter = "vod_origin_cache_disk_writes_total";
    /// Metadata lookups in the edge cache, by `result` (`hit`, `miss`).
    METADATA_CACHE_REQUESTS_TOTAL: Counter = "vod_origin_metadata_cache_requests_total";
    /// Responses aborted after their headers (the client sees a broken transfer).
    RESPONSES_ABORTED_TOTAL: Counter = "vod_origin_responses_aborted_total";
    /// CORS decisions, by `decision`.
    CORS_DECISIONS_TOTAL: Counter = "vod_origin_cors_decisions_total";
    /// Requests refused before routing, by `reason` (secret, peer, plain_http...).
    REFUSALS_TOTAL: Counter = "vod_origin_refusals_total";
    /// Plain-HTTP requests redirected to HTTPS.
    REDIRECTS_TOTAL: Counter = "vod_origin_https_redirects_total";
    /// Open connections, by `protocol`.
    CONNECTIONS_ACTIVE: Gauge = "vod_origin_connections_active";
    /// Connections accepted above `server.max_connections`, by `action` (503, closed).
    CONNECTIONS_SHED_TOTAL: Counter = "vod_origin_connections_shed_total";
    /// Responses abandoned because the client took nothing for `server.send_timeout`, by `scope`:
    /// `connection` (the socket took no byte: the connection is closed) or `stream` (one HTTP/2
    /// stream's body did not move: the stream is reset).
    SEND_STALLS_TOTAL: Counter = "vod_origin_send_stalls_total";
    /// Connections the server closed before the client did, by `reason`: `refused` (after a refusal
    /// of the peer or the CDN secret), `refusal_timeout` (the refusal could not be sent in time),
    /// `no_request` (none within `server.handshake_timeout`), `idle`, `header_timeout` (HTTP/1.1:
    /// the next request head did not come in time), `bad_request` (a head that does not parse),
    /// `protocol_error` (HTTP/2: GOAWAY for a flood or a broken frame), `drain_timeout`.
    CONNECTIONS_CLOSED_TOTAL: Counter = "vod_origin_connections_closed_total";
    /// Bytes response bodies hold now (read from the store, not yet written to a socket); never
    /// above `server.body_buffer_bytes`. Refreshed every few seconds.
    BODY_BUFFER_BYTES: Gauge = "vod_origin_body_buffer_bytes";
    /// Reads that waited because `server.body_buffer_bytes` was spent.
    BODY_BUDGET_WAITS_TOTAL: Counter = "vod_origin_body_budget_waits_total";
    /// Packaged HLS and DASH answers, by `kind`: `playlist` (a multivariant or media playlist, or
    /// a DASH manifest), `init` (an initialization segment), `media` (a media segment).
    PACKAGING_REQUESTS_TOTAL: Counter = "vod_origin_packaging_requests_total";
    /// Lookups of an MP4's parsed index, by `result`: `hit` (cached), `built` (read and parsed
    /// now), `refused` (the file cannot be packaged: not an MP4, no playable track...; the
    /// refusal is cached like an index).
    PACKAGING_INDEX_TOTAL: Counter = "vod_origin_packaging_index_total";
    /// Time to read and parse an MP4's index (its `moov`), from the first read to the index.
    PACKAGING_BUILD_SECONDS: Histogram = "vod_origin_packaging_build_seconds";
    /// Bytes the cached indexes are weighed at: each index, and as much again for the playlists
    /// and init segments made from it (refreshed on each build; at most
    /// `packaging.index_cache_bytes`).
    PACKAGING_INDEX_BYTES: Gauge = "vod_origin_packaging_index_bytes";
    /// Certificate reloads, by `outcome` (loaded, failed).
    TLS_CERTIFICATE_RELOADS_TOTAL: Counter = "vod_origin_tls_certificate_reloads_total";
    /// Failed TLS handshakes, by `reason` (error, timeout).
    TLS_HANDSHAKE_FAILURES_TOTAL: Counter = "vod_origin_tls_handshake_failures_total";
}

/// Histogram buckets in seconds: from a cached HEAD (sub-millisecond) to a long download.
const SECONDS_BUCKETS: &[f64] =
    &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// The process's metrics recorder, installed on first use. A process has one recorder; servers
/// started later in the same process (tests) share it.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new().set_buckets(SECONDS_BUCKETS).expect("buckets are not empty");
        match builder.install_recorder() {
            Ok(handle) => {
                describe();
                handle
            }
            // Another recorder is installed (an embedding program's): render ours unattached.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

/// The metrics in Prometheus's text format, with the process's own (resident memory, open file
/// descriptors, CPU seconds, threads) read from the operating system at this moment.
pub fn render() -> String {
    static PROCESS: OnceLock<metrics_process::Collector> = OnceLock::new();
    let handle = prometheus();
    PROCESS
        .get_or_init(|| {
            let collector = metrics_process::Collector::default();
            collector.describe();
            collector
        })
        .collect();
    handle.render()
}

/// Gives every series its `# HELP` line: its constant's doc comment, on one line.
fn describe() {
    for (name, kind, doc) in DESCRIPTIONS {
        let help = doc.iter().map(|line| line.trim()).collect::<Vec<_>>().join(" ");
        match kind {
            Kind::Counter => metrics::describe_counter!(*name, help),
            Kind::Gauge => metrics::describe_gauge!(*name, help),
            Kind::Histogram => metrics::describe_histogram!(*name, help),
        }
    }
}

/// The bounded label for a status: `2xx`, `3xx`, `4xx`, `5xx`.
pub fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// What kind of request a response answered: the `route` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    /// An object from the store.
    Object,
    /// crossdomain.xml or clientaccesspolicy.xml.
    PolicyFile,
    /// A CORS preflight.
    Preflight,
    /// A plain OPTIONS.
    Options,
    /// /healthz or /readyz.
    Probe,
    /// Refused before routing (access, scheme, method, path).
    Refused,
    /// The plain-HTTP listener.
    PlainHttp,
    /// The admin listener.
    Admin,
    /// The demo listener.
    Demo,
}

impl RouteKind {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Object => "object",
            Self::PolicyFile => "policy_file",
            Self::Preflight => "preflight",
            Self::Options => "options",
            Self::Probe => "probe",
            Self::Refused => "refused",
            Self::PlainHttp => "plain_http",
            Self::Admin => "admin",
            Self::Demo => "demo",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        assert_eq!(status_class(StatusCode::PARTIAL_CONTENT), "2xx");
        assert_eq!(status_class(StatusCode::NOT_MODIFIED), "3xx");
        assert_eq!(status_class(StatusCode::RANGE_NOT_SATISFIABLE), "4xx");
        assert_eq!(status_class(StatusCode::GATEWAY_TIMEOUT), "5xx");
    }
}
