//! Log output: the access log (target `access`, one line per request) on stdout, everything
//! else on stderr; human-readable lines for a terminal, JSON lines for a log pipeline.

use std::io::IsTerminal;

use tracing_subscriber::filter::{EnvFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry, fmt};

use crate::config::{ConfigError, LoadedConfig, LogFormat};

/// The target of access-log events.
pub const ACCESS_TARGET: &str = "access";

/// Installs the global subscriber. `RUST_LOG`, when set, wins over `log.level` for the
/// diagnostic log; the access log is always on.
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
    let diagnostics = layer(json, std::io::stderr().is_terminal(), std::io::stderr)
        .with_filter(filter_fn(|meta| meta.target() != ACCESS_TARGET))
        .with_filter(filter)
        .boxed();
    let access = layer(json, std::io::stdout().is_terminal(), std::io::stdout)
        .with_filter(filter_fn(|meta| meta.target() == ACCESS_TARGET))
        .boxed();
    // A second init (tests that start several servers) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(vec![diagnostics, access]).try_init();
    Ok(())
}

fn layer<W>(json: bool, ansi: bool, writer: W) -> Box<dyn Layer<Registry> + Send + Sync>
where
    W: for<'w> fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    if json {
        fmt::layer().json().flatten_event(true).with_writer(writer).boxed()
    } else {
        fmt::layer().with_ansi(ansi).with_writer(writer).boxed()
    }
}
