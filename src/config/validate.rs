//! Checks that the types alone cannot express: values that would parse but never work.

use std::time::Duration;

use super::{ConfigError, LoadedConfig, PlainHttpMode};

/// Level names a `log.level` directive may use.
const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];

/// hyper's smallest read buffer for HTTP/1.1; it refuses (panics on) anything smaller.
const MIN_HEADER_BYTES: usize = 8192;

/// The smallest cache block: below it, a ranged GET costs more in request overhead than it
/// carries, and a 64 MiB range would already take a thousand cache lookups.
const MIN_CACHE_BLOCK: u64 = 64 * 1024;

/// The smallest body budget: one body's largest piece (`body::MAX_WINDOW`, checked in `server`), so
/// that every response can always make progress.
pub const MIN_BODY_BUFFER_BYTES: usize = 256 * 1024;

/// The largest cache block: the cache weighs blocks in `u32`, and a block is held whole in
/// memory and downloaded before its first byte is served.
const MAX_CACHE_BLOCK: u64 = 1024 * 1024 * 1024;

/// Refuses zero timeouts and limits, two listeners on one address, and unknown log levels.
pub fn check(loaded: &LoadedConfig) -> Result<(), ConfigError> {
    let config = &loaded.config;
    let server = &config.server;
    let s3 = &config.storage.s3;
    let durations = [
        ("server.handshake_timeout", server.handshake_timeout),
        ("server.header_read_timeout", server.header_read_timeout),
        ("server.idle_timeout", server.idle_timeout),
        ("server.send_timeout", server.send_timeout),
        ("server.refusal_timeout", server.refusal_timeout),
        ("tls.reload_interval", config.tls.reload_interval),
        ("storage.s3.connect_timeout", s3.connect_timeout),
        ("storage.s3.first_byte_timeout", s3.first_byte_timeout),
        ("storage.s3.stalled_stream_grace", s3.stalled_stream_grace),
        ("storage.cache.metadata_ttl", config.storage.cache.metadata_ttl),
    ];
    for (key, value) in durations {
        if value == Duration::ZERO {
            return Err(loaded.error(key, "must be longer than zero"));
        }
    }
    let counts = [
        ("server.max_connections", server.max_connections as u64),
        ("server.max_headers", server.max_headers as u64),
        ("server.h2_max_concurrent_streams", u64::from(server.h2_max_concurrent_streams)),
        ("server.h2_max_pending_accept_reset_streams", server.h2_max_pending_accept_reset_streams as u64),
        ("server.h2_max_local_error_reset_streams", server.h2_max_local_error_reset_streams as u64),
        ("storage.s3.max_attempts", u64::from(s3.max_attempts)),
        ("storage.cache.max_range", config.storage.cache.max_range.unwrap_or(1)),
    ];
    for (key, value) in counts {
        if value == 0 {
            return Err(loaded.error(key, "must be at least 1"));
        }
    }
    check_server_bytes(loaded)?;
    check_cache(loaded)?;
    super::packaging::check(loaded)?;
    if config.plain_http.mode != PlainHttpMode::Off
        && config.plain_http.listen == server.listen
        && server.listen.port() != 0
    {
        return Err(loaded.error("plain_http.listen", format!("{} is also server.listen", server.listen)));
    }
    check_log_level(&config.log.level).map_err(|reason| loaded.error("log.level", reason))
}

/// Byte limits of the server that have a floor: one full body piece, one ordinary request head.
fn check_server_bytes(loaded: &LoadedConfig) -> Result<(), ConfigError> {
    let server = &loaded.config.server;
    if server.body_buffer_bytes < MIN_BODY_BUFFER_BYTES {
        let reason = format!("must be at least {MIN_BODY_BUFFER_BYTES} (one full piece of a response body)");
        return Err(loaded.error("server.body_buffer_bytes", reason));
    }
    if server.max_header_bytes < MIN_HEADER_BYTES {
        return Err(loaded.error("server.max_header_bytes", format!("must be at least {MIN_HEADER_BYTES}")));
    }
    Ok(())
}

/// A block size S3 and the cache's weigher can work with, room for at least two blocks, and a
/// disk tier the disk engine can work with.
fn check_cache(loaded: &LoadedConfig) -> Result<(), ConfigError> {
    let cache = &loaded.config.storage.cache;
    if !(MIN_CACHE_BLOCK..=MAX_CACHE_BLOCK).contains(&cache.block_size) {
        let reason = format!("must be between {MIN_CACHE_BLOCK} (64 KiB) and {MAX_CACHE_BLOCK} (1 GiB)");
        return Err(loaded.error("storage.cache.block_size", reason));
    }
    if cache.max_bytes < cache.block_size.saturating_mul(2) {
        let reason = "must hold at least two blocks (storage.cache.block_size): one cached, one being filled";
        return Err(loaded.error("storage.cache.max_bytes", reason));
    }
    let regions = 4;
    if cache.disk_dir.is_some() && cache.disk_bytes < cache.disk_region_bytes().saturating_mul(regions) {
        let reason = format!(
            "must hold at least {regions} disk regions of {} bytes (storage.cache.block_size plus a header, 16 MiB at least)",
            cache.disk_region_bytes()
        );
        return Err(loaded.error("storage.cache.disk_bytes", reason));
    }
    Ok(())
}

/// A directive is `level` or `target=level`; a bare word that is not a level would be taken as a
/// target name by the filter and silently turn logging off.
fn check_log_level(filter: &str) -> Result<(), String> {
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let level = directive.rsplit_once('=').map_or(directive, |(_, level)| level);
        if !LEVELS.iter().any(|known| known.eq_ignore_ascii_case(level)) {
            return Err(format!("{directive:?}: the level must be one of {}", LEVELS.join(", ")));
        }
    }
    tracing_subscriber::EnvFilter::try_new(filter).map(|_| ()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(toml: &str) -> Option<String> {
        LoadedConfig::from_toml(toml).err().map(|e| e.key)
    }

    #[test]
    fn values_that_cannot_work_are_named() {
        assert_eq!(error("[server]\nhandshake_timeout = \"0s\""), Some("server.handshake_timeout".into()));
        assert_eq!(error("[server]\nmax_connections = 0"), Some("server.max_connections".into()));
        assert_eq!(error("[server]\nh2_max_concurrent_streams = 0"), Some("server.h2_max_concurrent_streams".into()));
        assert_eq!(error("[server]\nmax_header_bytes = 4096"), Some("server.max_header_bytes".into()));
        assert_eq!(error("[server]\nmax_headers = 0"), Some("server.max_headers".into()));
        assert_eq!(error("[server]\nrefusal_timeout = \"0s\""), Some("server.refusal_timeout".into()));
        assert_eq!(error("[server]\nbody_buffer_bytes = 1024"), Some("server.body_buffer_bytes".into()));
        assert_eq!(error("[tls]\nreload_interval = \"0s\""), Some("tls.reload_interval".into()));
        assert_eq!(error("[storage.s3]\nmax_attempts = 0"), Some("storage.s3.max_attempts".into()));
        assert_eq!(error("[storage.cache]\nblock_size = 4096"), Some("storage.cache.block_size".into()));
        assert_eq!(error("[storage.cache]\nblock_size = 0"), Some("storage.cache.block_size".into()));
        assert_eq!(error("[storage.cache]\nblock_size = 4294967296"), Some("storage.cache.block_size".into()));
        assert_eq!(error("[storage.cache]\nmax_bytes = 65536"), Some("storage.cache.max_bytes".into()));
        assert_eq!(
            error("[storage.cache]\nblock_size = 65536\nmax_bytes = 131071"),
            Some("storage.cache.max_bytes".into())
        );
        assert_eq!(error("[storage.cache]\nmax_range = 0"), Some("storage.cache.max_range".into()));
        assert_eq!(
            error("[storage.cache]\ndisk_dir = \"/tmp/x\"\ndisk_bytes = 67108863"),
            Some("storage.cache.disk_bytes".into())
        );
        assert_eq!(error("[storage.cache]\ndisk_bytes = 1"), None, "no disk tier, nothing to check");
        assert_eq!(error("[storage.cache]\nmetadata_ttl = \"0s\""), Some("storage.cache.metadata_ttl".into()));
        assert_eq!(
            error("[server]\nlisten = \"127.0.0.1:9000\"\n[plain_http]\nlisten = \"127.0.0.1:9000\""),
            Some("plain_http.listen".into())
        );
        assert_eq!(error("[log]\nlevel = \"warning\""), Some("log.level".into()));
        assert_eq!(error("[log]\nlevel = \"vod_origin=verbose\""), Some("log.level".into()));
    }

    #[test]
    fn good_values_pass() {
        assert_eq!(error("[log]\nlevel = \"vod_origin=debug,info\""), None);
        assert_eq!(error("[plain_http]\nmode = \"off\"\nlisten = \"127.0.0.1:8443\""), None);
        assert_eq!(error("[storage.cache]\nblock_size = 65536\nmax_bytes = 131072\nread_ahead_blocks = 0"), None);
    }
}
