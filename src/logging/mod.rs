//! Log output: the access log (one line per request, [`access`]) on stdout, the diagnostic log
//! (`tracing` events) on stderr; human-readable lines for a terminal, JSON lines for a log
//! pipeline.

pub mod access;

use std::io::IsTerminal;

use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

use crate::config::{ConfigError, LoadedConfig, LogFormat};

/// Installs the global subscriber and chooses the access log's format. `RUST_LOG`, when set,
/// wins over `log.level` for the diagnostic log; the access log is always on.
pub fn init(loaded: &LoadedConfig) -> Result<(), ConfigError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.is_empty() => EnvFilter::try_new(value).map_err(|e| ConfigError {
            source: "environment variable RUST_LOG".into(),
            key: "RUST_LOG".into(),
            reason: e.to_string(),
        })?,
        _ => EnvFilter::try_new(&loaded.config.log.level).map_err(|e| loaded.error("log.level", e))?,
    };
    let json = loaded.config.log.format == LogFormat::Json;
    let diagnostics = if json {
        fmt::layer().json().flatten_event(true).with_writer(std::io::stderr).with_filter(filter).boxed()
    } else {
        let ansi = std::io::stderr().is_terminal();
        fmt::layer().with_ansi(ansi).with_writer(std::io::stderr).with_filter(filter).boxed()
    };
    // A second init (tests that start several servers) keeps the first subscriber and format.
    let _ = tracing_subscriber::registry().with(diagnostics).try_init();
    access::init(loaded.config.log.format);
    Ok(())
}
