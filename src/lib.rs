//! vod-origin: an HTTPS-only origin that serves video from a private S3 bucket (or a local
//! folder) to a CDN, with the security properties of CloudFront + S3 with an Origin Access
//! Identity, and the range, conditional and CORS behaviour players need.
//!
//! # Layout
//!
//! - [`config`]: the TOML file and `VOD_ORIGIN_*` variables, checked at startup.
//! - [`server`]: listeners, TLS handshakes, HTTP/1.1 and HTTP/2 connections, limits and load
//!   shedding, the deadlines that cut off stalled clients and streams, graceful drain.
//! - [`tls`]: rustls configuration, certificate hot reload, and the development certificate.
//! - [`pipeline`]: one request, top to bottom: route → guard → method → CORS → plan → fetch →
//!   render → finish, each step's decision a value; in-process tests of the whole table.
//! - [`guard`]: the CDN's secret header, peer allow-list, and the viewer's scheme.
//! - [`cors`]: S3-style CORS rules, and the crossdomain.xml and clientaccesspolicy.xml they imply.
//! - [`key`]: request path to object key, never escaping the root.
//! - [`plan`]: range and conditional decisions (RFC 9110) as pure functions over metadata, and
//!   the read hint that lets a store answer metadata and bytes in one round trip.
//! - [`store`]: the object store trait, its backends, the edge cache in front of S3 (split by
//!   role: block key, memory and eviction, the in-flight map, the fill task), and packaging in
//!   front of both: playlists and segments made from an MP4 as objects like any other.
//! - [`body`]: the response body, which never ends short of its `Content-Length`, and its pace:
//!   what a body holds follows its client's speed, within one budget for all bodies.
//! - [`package`]: on-the-fly HLS and DASH of MP4 files, the pure part: the `moov` found by
//!   ranged reads and indexed compactly, segments cut, CMAF headers and manifests written; the
//!   store's `packaged` wrapper does the reads.
//! - [`media_type`], [`cache_control`]: `Content-Type` and `Cache-Control` per object.
//! - [`error`]: the request path's one error type, its statuses by fault, and the one function
//!   that answers a refusal.
//! - [`telemetry`]: metric names; [`logging`]: where log lines go, and the access log's line.
//! - [`cli`], [`probe`]: the command line, and the health check containers run.
//! - `fuzzing` (hidden): one entry per parser, with its invariant, for `fuzz/` and `tests/fuzz_corpus.rs`.

// One exception, allowed where it is: the `ioctl` that asks a socket for its unsent bytes
// (`server::room`), which neither std, rustix's safe API nor socket2 offers.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod body;
pub mod cache_control;
pub mod cli;
pub mod config;
pub mod cors;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod guard;
pub mod key;
pub mod logging;
pub mod media_type;
pub mod package;
pub mod pipeline;
pub mod plan;
pub mod probe;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod tls;
