//! Log output: human-readable lines for a terminal, JSON lines for a log pipeline.

use tracing_subscriber::EnvFilter;

use crate::config::{ConfigError, LoadedConfig, LogFormat};

/// Installs the global subscriber. `RUST_LOG`, when set, wins over `log.level`.
pub fn init(loaded: &LoadedConfig) -> Result<(), ConfigError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.is_empty() => EnvFilter::try_new(value).map_err(|e| ConfigError {
            source: "environment variable RUST_LOG".into(),
            key: "RUST_LOG".into(),
            reason: e.to_string(),
        })?,
        _ => EnvFilter::try_new(&loaded.config.log.level).map_err(|e| loaded.error("log.level", e))?,
    };
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second init (tests that start several servers) keeps the first subscriber.
    let _ = match loaded.config.log.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    Ok(())
}
