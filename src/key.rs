//! Maps a request path to an object key, or refuses it.
//!
//! Invariant (checked by a proptest below): a key produced here is a sequence of non-empty
//! segments, none of them `.` or `..`, none holding `/`, `\`, NUL or a control character, so
//! joining it under a root directory or a bucket prefix can never leave that root or prefix.
//! The query string is never part of the key: only `Uri::path()` is looked at.

use std::fmt;
use std::sync::Arc;

/// A validated object key: `segment/segment/...`, without a leading slash.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey(Arc<str>);

impl ObjectKey {
    /// The key as a string, segments separated by `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key's segments, each safe to use as one path component.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The extension of the last segment, without the dot, if any.
    pub fn extension(&self) -> Option<&str> {
        let last = self.0.rsplit('/').next()?;
        let (stem, ext) = last.rsplit_once('.')?;
        (!stem.is_empty() && !ext.is_empty()).then_some(ext)
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a path does not name an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The root path, which names no object.
    #[error("the root names no object")]
    Root,
    /// Not an absolute path.
    #[error("path does not start with '/'")]
    NotAbsolute,
    /// `//` or a trailing `/`.
    #[error("empty path segment")]
    EmptySegment,
    /// A `.` or `..` segment, literal or percent-encoded.
    #[error("dot segment")]
    DotSegment,
    /// A `%` not followed by two hex digits.
    #[error("malformed percent-encoding")]
    BadPercentEncoding,
    /// Percent-decoding gave bytes that are not UTF-8.
    #[error("path is not UTF-8")]
    NotUtf8,
    /// An encoded `/`, a backslash, NUL or another control character.
    #[error("forbidden character in path")]
    ForbiddenCharacter,
    /// An encoded dot, slash or backslash left after decoding once (`%252e`): refused so no later
    /// layer decodes it again into a path separator or a dot segment.
    #[error("encoded dot or separator left after decoding")]
    DoubleEncoded,
}

/// Maps the path of a request URI to an object key, decoding percent-escapes exactly once.
pub fn key_from_path(path: &str) -> Result<ObjectKey, KeyError> {
    let rest = path.strip_prefix('/').ok_or(KeyError::NotAbsolute)?;
    if rest.is_empty() {
        return Err(KeyError::Root);
    }
    let mut key = String::with_capacity(rest.len());
    for (i, raw) in rest.split('/').enumerate() {
        if i > 0 {
            key.push('/');
        }
        push_segment(&mut key, raw)?;
    }
    Ok(ObjectKey(key.into()))
}

fn push_segment(key: &mut String, raw: &str) -> Result<(), KeyError> {
    if raw.is_empty() {
        return Err(KeyError::EmptySegment);
    }
    let decoded = percent_decode_strict(raw)?;
    if decoded == "." || decoded == ".." {
        return Err(KeyError::DotSegment);
    }
    if still_encodes_a_separator_or_dot(&decoded) {
        return Err(KeyError::DoubleEncoded);
    }
    if decoded.chars().any(|c| c == '/' || c == '\\' || c.is_control()) {
        return Err(KeyError::ForbiddenCharacter);
    }
    key.push_str(&decoded);
    Ok(())
}

/// Whether `%2e`, `%2f` or `%5c` (any case) remain: the marks of a double-encoded path. A `%`
/// on its own is a legal character of a file name or an S3 key (`a%25b` names `a%b`).
fn still_encodes_a_separator_or_dot(decoded: &str) -> bool {
    decoded
        .as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && matches!((w[1], w[2].to_ascii_lowercase()), (b'2', b'e' | b'f') | (b'5', b'c')))
}

/// Decodes `%XX` escapes, refusing malformed ones. The `percent-encoding` crate passes a malformed
/// escape through unchanged, which would let `%zz` and `%2` reach the store, so this checks first.
fn percent_decode_strict(raw: &str) -> Result<String, KeyError> {
    let bytes = raw.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(KeyError::BadPercentEncoding)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err(KeyError::BadPercentEncoding);
            }
        }
    }
    percent_encoding::percent_decode(bytes).decode_utf8().map(|cow| cow.into_owned()).map_err(|_| KeyError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn maps_paths_to_keys() {
        let cases: &[(&str, Result<&str, KeyError>)] = &[
            ("/sample/sample.mp4", Ok("sample/sample.mp4")),
            ("/a%20b/c.ts", Ok("a b/c.ts")),
            ("/caf%C3%A9.mp4", Ok("café.mp4")),
            ("/.hidden", Ok(".hidden")),
            ("/a..b", Ok("a..b")),
            ("/", Err(KeyError::Root)),
            ("relative", Err(KeyError::NotAbsolute)),
            ("/a//b", Err(KeyError::EmptySegment)),
            ("/a/", Err(KeyError::EmptySegment)),
            ("/a/../b", Err(KeyError::DotSegment)),
            ("/./b", Err(KeyError::DotSegment)),
            ("/%2e%2e/etc/passwd", Err(KeyError::DotSegment)),
            ("/%2E/x", Err(KeyError::DotSegment)),
            ("/.%2e/x", Err(KeyError::DotSegment)),
            ("/a%2fb", Err(KeyError::ForbiddenCharacter)),
            ("/a%5cb", Err(KeyError::ForbiddenCharacter)),
            ("/a\\b", Err(KeyError::ForbiddenCharacter)),
            ("/a%00b", Err(KeyError::ForbiddenCharacter)),
            ("/a%0ab", Err(KeyError::ForbiddenCharacter)),
            ("/a%7fb", Err(KeyError::ForbiddenCharacter)),
            ("/%252e%252e/x", Err(KeyError::DoubleEncoded)),
            ("/a%252fb", Err(KeyError::DoubleEncoded)),
            ("/a%255Cb", Err(KeyError::DoubleEncoded)),
            ("/a%25b.mp4", Ok("a%b.mp4")),
            ("/100%25.ts", Ok("100%.ts")),
            ("/a%2", Err(KeyError::BadPercentEncoding)),
            ("/a%zz", Err(KeyError::BadPercentEncoding)),
            ("/%ff", Err(KeyError::NotUtf8)),
        ];
        for (path, expected) in cases {
            let got = key_from_path(path);
            assert_eq!(got.as_ref().map(ObjectKey::as_str), expected.as_ref().map(|s| *s), "{path}");
        }
    }

    #[test]
    fn extension_of_last_segment() {
        let key = |p| key_from_path(p).unwrap();
        assert_eq!(key("/a.b/c.m3u8").extension(), Some("m3u8"));
        assert_eq!(key("/a.b/c").extension(), None);
        assert_eq!(key("/.hidden").extension(), None);
        assert_eq!(key("/x.").extension(), None);
    }

    proptest! {
        /// Whatever the path, an accepted key never holds a segment that could climb out of the
        /// root or split into further segments.
        #[test]
        fn keys_never_escape_the_root(path in "/[a-zA-Z0-9%./\\\\~_-]{0,40}") {
            if let Ok(key) = key_from_path(&path) {
                for segment in key.segments() {
                    prop_assert!(!segment.is_empty());
                    prop_assert!(segment != "." && segment != "..");
                    prop_assert!(!segment.contains(['/', '\\', '\0']));
                    prop_assert!(!super::still_encodes_a_separator_or_dot(segment));
                }
                let joined = std::path::Path::new("/root").join(key.as_str());
                prop_assert!(joined.starts_with("/root"));
                prop_assert!(joined.components().all(|c| matches!(
                    c,
                    std::path::Component::RootDir | std::path::Component::Normal(_)
                )));
            }
        }

        /// Encoding a valid key's segments once and mapping the path back gives the same key.
        #[test]
        fn decoding_is_done_exactly_once(segments in proptest::collection::vec("[a-z0-9 ._~-]{1,8}", 1..4)) {
            prop_assume!(segments.iter().all(|s| s != "." && s != ".."));
            let encoded: Vec<String> = segments
                .iter()
                .map(|s| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string())
                .collect();
            let key = key_from_path(&format!("/{}", encoded.join("/"))).unwrap();
            prop_assert_eq!(key.as_str(), segments.join("/"));
        }
    }
}
