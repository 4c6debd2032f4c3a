//! Entry points for coverage-guided fuzzing of every parser the origin owns, kept in the library
//! so that the fuzzer (`fuzz/`, cargo-afl) and `cargo test` (which replays `fuzz/corpus/`) run the
//! same code.
//!
//! Each entry takes arbitrary bytes, feeds them to one parser and checks that parser's invariant
//! with `assert!`, so a violated invariant is a crash the fuzzer records. None of them touches
//! the network or the file system, and none keeps state between calls.
//!
//! | entry | parser | invariant |
//! |---|---|---|
//! | [`plan`] | `Range`, `If-*` headers → [`crate::plan::plan`] | never panics; ranges inside the object, at most [`crate::plan::MAX_RANGES`] |
//! | [`key`] | request path → [`crate::key::key_from_path`] | never panics; a key never leaves the root |
//! | [`cors`] | S3 CORS XML and JSON → [`crate::cors::parse_rules`] | never panics; parsed rules compile or are refused by index and field |
//! | [`config`] | TOML → [`crate::config::LoadedConfig::from_toml`] and the startup compile | never panics; errors name a key |
//! | [`multipart`] | planned ranges → [`crate::plan::multipart::layout`] | `Content-Length` is exact; parts in order and in bounds |
//! | [`package`] | an MP4's boxes → [`crate::package`]: the `moov` found, indexed, segmented, answered | never panics; segments' lengths exact, runs inside the file, every sample in one segment |
//!
//! Not part of the supported API: hidden from the documentation, and free to change.

mod config;
mod cors;
mod headers;
mod key;
mod multipart;
mod package;
mod plan;

pub use config::config;
pub use cors::cors;
pub use key::key;
pub use multipart::multipart;
pub use package::package;
pub use plan::plan;

/// A fuzz entry: arbitrary bytes in, a panic when the invariant does not hold.
pub type Entry = fn(&[u8]);

/// Every entry point by the name of its corpus folder (`fuzz/corpus/<name>/`) and its `[[bin]]`.
pub const TARGETS: [(&str, Entry); 6] =
    [("plan", plan), ("key", key), ("cors", cors), ("config", config), ("multipart", multipart), ("package", package)];
