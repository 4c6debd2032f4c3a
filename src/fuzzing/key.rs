//! Fuzz entry for the request path → object key mapping.
//!
//! Input: a request path (the whole input, UTF-8; `Uri::path()` is always UTF-8).
//!
//! Invariants, as [`crate::key`] promises them: mapping never panics; an accepted key has no
//! leading `/` and is a sequence of non-empty segments, none of them `.` or `..`, none holding
//! `\`, NUL or a control character, none still holding an encoded dot or separator (`%2e`, `%2f`,
//! `%5c`), so joined under a root it stays under that root with only normal components; the key
//! is the path decoded exactly once, and encoding the key's segments again maps back to it.

use std::path::{Component, Path};

use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::key::{ObjectKey, key_from_path};

/// Maps the path in `data` to a key and checks the key.
pub fn key(data: &[u8]) {
    let Ok(path) = std::str::from_utf8(data) else { return };
    let Ok(key) = key_from_path(path) else { return };
    check_segments(&key);
    check_stays_under_root(&key);
    check_decoded_once(path, &key);
}

fn check_segments(key: &ObjectKey) {
    let text = key.as_str();
    assert!(!text.is_empty() && !text.starts_with('/'), "{text:?} is empty or absolute");
    for segment in key.segments() {
        assert!(!segment.is_empty(), "empty segment in {text:?}");
        assert!(segment != "." && segment != "..", "dot segment in {text:?}");
        assert!(!segment.chars().any(|c| c == '\\' || c == '\0' || c.is_control()), "forbidden character in {text:?}");
        let lower = segment.to_ascii_lowercase();
        assert!(!["%2e", "%2f", "%5c"].iter().any(|mark| lower.contains(mark)), "encoded dot or separator in {text:?}");
    }
}

fn check_stays_under_root(key: &ObjectKey) {
    let joined = Path::new("/root").join(key.as_str());
    assert!(joined.starts_with("/root"), "{key:?} leaves the root");
    let normal = joined.components().all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    assert!(normal, "{key:?} joins to {joined:?}");
    assert_eq!(joined.components().count(), 2 + key.segments().count(), "{key:?} splits into other components");
}

fn check_decoded_once(path: &str, key: &ObjectKey) {
    let decoded = percent_decode_str(&path[1..]).decode_utf8().expect("an accepted path decodes to UTF-8");
    assert_eq!(key.as_str(), decoded, "the key is the path decoded once");
    let encoded: Vec<String> = key.segments().map(|s| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()).collect();
    let again = key_from_path(&format!("/{}", encoded.join("/")));
    assert_eq!(again.as_ref(), Ok(key), "re-encoding {key:?} maps back to it");
}
