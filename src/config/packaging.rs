//! The `[packaging]` section: HLS and DASH made on the fly from one MP4 in the store.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, LoadedConfig};

/// One mebibyte, for the defaults below.
const MIB: u64 = 1024 * 1024;

/// The shortest and longest segment target: below 1 s a segment carries more box than sample;
/// above 60 s a player buffers a minute before it can switch renditions (Apple recommends 6 s).
const SEGMENT_DURATION_RANGE: std::ops::RangeInclusive<Duration> = Duration::from_secs(1)..=Duration::from_secs(60);

/// The smallest `max_moov_bytes`: the first read of a file is 64 KiB, and a real `moov` is
/// never smaller than a few hundred bytes.
const MIN_MOOV_BYTES: u64 = 64 * 1024;

/// On-the-fly packaging: `GET /<hls_prefix>/<key>/master.m3u8` answers an HLS playlist for the
/// MP4 at `<key>`, `GET /<dash_prefix>/<key>/manifest.mpd` a DASH manifest, and the segments
/// below them are cut from the MP4's bytes as they are asked for. A key under a prefix that
/// names no packaged answer (another shape of path, or no such MP4) is read from the store as
/// it is, so an existing folder named like a prefix keeps being served.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PackagingConfig {
    /// Package at all.
    pub enabled: bool,
    /// The first path segment of HLS requests.
    pub hls_prefix: String,
    /// The first path segment of DASH requests.
    pub dash_prefix: String,
    /// Each segment is cut at the first key frame at or after each multiple of this duration.
    #[serde(with = "super::duration")]
    pub segment_duration: Duration,
    /// The largest `moov` (sample tables) read and parsed, in bytes: a 2-hour film's is
    /// about 5 MiB; nginx-vod-module's `vod_max_metadata_size` is 128 MiB.
    pub max_moov_bytes: u64,
    /// Memory the parsed indexes may take, all files together, in bytes; the least used are
    /// dropped first. A 2-hour film's index takes about 4 MiB.
    pub index_cache_bytes: u64,
}

impl Default for PackagingConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            hls_prefix: "hls".into(),
            dash_prefix: "dash".into(),
            segment_duration: Duration::from_secs(6),
            max_moov_bytes: 64 * MIB,
            index_cache_bytes: 256 * MIB,
        }
    }
}

/// Prefixes that are one plain path segment and differ, durations and sizes in their range.
pub fn check(loaded: &LoadedConfig) -> Result<(), ConfigError> {
    let packaging = &loaded.config.packaging;
    for (key, prefix) in
        [("packaging.hls_prefix", &packaging.hls_prefix), ("packaging.dash_prefix", &packaging.dash_prefix)]
    {
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if prefix.is_empty() || prefix.starts_with('.') || !prefix.chars().all(plain) {
            return Err(loaded.error(key, "must be one path segment of letters, digits, '-', '_' or '.'"));
        }
    }
    if packaging.hls_prefix == packaging.dash_prefix {
        return Err(loaded.error("packaging.dash_prefix", "must differ from packaging.hls_prefix"));
    }
    if !SEGMENT_DURATION_RANGE.contains(&packaging.segment_duration) {
        return Err(loaded.error("packaging.segment_duration", "must be from 1s to 60s"));
    }
    if packaging.max_moov_bytes < MIN_MOOV_BYTES {
        return Err(loaded.error("packaging.max_moov_bytes", "must be at least 65536"));
    }
    if packaging.index_cache_bytes < packaging.max_moov_bytes {
        return Err(loaded.error("packaging.index_cache_bytes", "must be at least packaging.max_moov_bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::LoadedConfig;

    fn error(toml: &str) -> Option<String> {
        LoadedConfig::from_toml(toml).err().map(|e| e.key)
    }

    #[test]
    fn bad_packaging_values_are_refused_naming_their_key() {
        let cases = [
            ("[packaging]\nhls_prefix = \"a/b\"", "packaging.hls_prefix"),
            ("[packaging]\nhls_prefix = \"\"", "packaging.hls_prefix"),
            ("[packaging]\ndash_prefix = \"..\"", "packaging.dash_prefix"),
            ("[packaging]\ndash_prefix = \"hls\"", "packaging.dash_prefix"),
            ("[packaging]\nsegment_duration = \"0s\"", "packaging.segment_duration"),
            ("[packaging]\nsegment_duration = \"2m\"", "packaging.segment_duration"),
            ("[packaging]\nmax_moov_bytes = 10", "packaging.max_moov_bytes"),
            ("[packaging]\nindex_cache_bytes = 70000", "packaging.index_cache_bytes"),
        ];
        for (toml, key) in cases {
            assert_eq!(error(toml).as_deref(), Some(key), "{toml}");
        }
        assert_eq!(error("[packaging]\nsegment_duration = \"4s\"\nhls_prefix = \"vod-hls\""), None);
    }
}
