//! `Cache-Control` per path, from configured rules, compiled once into one glob set.
//!
//! The first rule whose pattern matches the object key wins; keys without a leading slash are
//! matched, and `*` crosses `/`, so `*.m3u8` means "every playlist at any depth".

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use http::HeaderValue;
use serde::{Deserialize, Serialize};

use crate::key::ObjectKey;

/// One rule as written in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheRule {
    /// A glob over the object key, e.g. `*.m3u8` or `live/**`.
    pub pattern: String,
    /// The `Cache-Control` value sent for matching keys.
    pub value: String,
}

/// The defaults: playlists change (live, or re-published VOD) so the CDN rechecks them often;
/// segments are written once under a new name, so they are cached for a year; progressive files
/// for a day, since they are sometimes replaced in place.
pub fn default_rules() -> Vec<CacheRule> {
    let rule = |pattern: &str, value: &str| CacheRule { pattern: pattern.into(), value: value.into() };
    vec![
        rule("*.{m3u8,m3u,mpd}", "public, max-age=2, stale-while-revalidate=10"),
        rule("*.{ts,m4s,cmfv,cmfa,aac,vtt,webvtt,key}", "public, max-age=31536000, immutable"),
        rule("*.{mp4,m4v,m4a,mov,webm,mkv,mp3}", "public, max-age=86400"),
    ]
}

/// The `Cache-Control` for keys no rule matches.
pub const DEFAULT_VALUE: &str = "public, max-age=300";

/// Rules compiled for the request path.
#[derive(Debug, Clone)]
pub struct CacheControl {
    set: GlobSet,
    values: Vec<HeaderValue>,
    fallback: HeaderValue,
}

/// A rule (or the default) that cannot be compiled.
#[derive(Debug, thiserror::Error)]
#[error("{}{reason}", index.map(|i| format!("rule {i}: ")).unwrap_or_default())]
pub struct CacheRuleError {
    /// Position of the rule in the list, from 0; `None` for the default value.
    pub index: Option<usize>,
    /// What is wrong with it.
    pub reason: String,
}

impl CacheControl {
    /// Compiles `rules`, then `fallback` for everything else.
    pub fn new(rules: &[CacheRule], fallback: &str) -> Result<Self, CacheRuleError> {
        let mut builder = GlobSetBuilder::new();
        let mut values = Vec::with_capacity(rules.len());
        for (index, rule) in rules.iter().enumerate() {
            let error = |reason: String| CacheRuleError { index: Some(index), reason };
            builder.add(glob(&rule.pattern).map_err(|e| error(format!("pattern: {e}")))?);
            values.push(
                HeaderValue::try_from(rule.value.as_str())
                    .map_err(|_| error("value: not a valid header value".into()))?,
            );
        }
        let set = builder.build().map_err(|e| CacheRuleError { index: None, reason: e.to_string() })?;
        let fallback = HeaderValue::try_from(fallback)
            .map_err(|_| CacheRuleError { index: None, reason: "not a valid header value".into() })?;
        Ok(Self { set, values, fallback })
    }

    /// The value for one object.
    pub fn for_key(&self, key: &ObjectKey) -> HeaderValue {
        // `matches` returns the indices of all matching globs in rule order; the first wins.
        let first = self.set.matches(key.as_str()).into_iter().next();
        first.map_or_else(|| self.fallback.clone(), |i| self.values[i].clone())
    }
}

fn glob(pattern: &str) -> Result<Glob, globset::Error> {
    let pattern = pattern.strip_prefix('/').unwrap_or(pattern);
    // Case-insensitive, like the Content-Type table: `A.M3U8` is a playlist too.
    GlobBuilder::new(pattern).literal_separator(false).case_insensitive(true).build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::key_from_path;

    #[test]
    fn defaults_keep_playlists_short_and_segments_long() {
        let rules = CacheControl::new(&default_rules(), DEFAULT_VALUE).unwrap();
        let value = |path| rules.for_key(&key_from_path(path).unwrap());
        assert_eq!(value("/a/b/index.m3u8"), "public, max-age=2, stale-while-revalidate=10");
        assert_eq!(value("/manifest.mpd"), "public, max-age=2, stale-while-revalidate=10");
        assert_eq!(value("/LOUD.M3U8"), "public, max-age=2, stale-while-revalidate=10");
        assert_eq!(value("/a/seg_001.ts"), "public, max-age=31536000, immutable");
        assert_eq!(value("/a/v.mp4"), "public, max-age=86400");
        assert_eq!(value("/crossdomain.xml"), DEFAULT_VALUE);
    }

    #[test]
    fn first_match_wins_and_leading_slash_is_optional() {
        let rule = |p: &str, v: &str| CacheRule { pattern: p.into(), value: v.into() };
        let rules = CacheControl::new(&[rule("/live/**", "no-cache"), rule("*.m3u8", "max-age=5")], "x").unwrap();
        assert_eq!(rules.for_key(&key_from_path("/live/a/index.m3u8").unwrap()), "no-cache");
        assert_eq!(rules.for_key(&key_from_path("/vod/index.m3u8").unwrap()), "max-age=5");
    }

    #[test]
    fn bad_rules_are_named() {
        let rule = |p: &str, v: &str| CacheRule { pattern: p.into(), value: v.into() };
        let error = CacheControl::new(&[rule("*.ts", "ok"), rule("a[", "x")], "x").unwrap_err();
        assert_eq!(error.index, Some(1));
        let error = CacheControl::new(&[rule("*.ts", "bad\nvalue")], "x").unwrap_err();
        assert_eq!(error.index, Some(0));
        assert_eq!(CacheControl::new(&[], "a\nb").unwrap_err().index, None);
    }
}
