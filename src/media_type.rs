//! `Content-Type` by file extension, with the canonical types players and CDNs expect for video.
//!
//! Written as a table rather than taken from `mime_guess`, which maps `.m3u8` and `.ts` to the
//! wrong types for HLS (`audio/x-mpegurl`-style and `text/vnd.trolltech.linguist`): a player that
//! sniffs the type, or a CDN that compresses by type, then misbehaves.

use http::HeaderValue;

/// The type sent when the extension is unknown.
pub const DEFAULT_TYPE: &str = "application/octet-stream";

/// Extension (lower case) to type. Kept sorted by kind for review, searched linearly: it is short.
const TYPES: &[(&str, &str)] = &[
    // HLS and DASH manifests
    ("m3u8", "application/vnd.apple.mpegurl"),
    ("m3u", "application/vnd.apple.mpegurl"),
    ("mpd", "application/dash+xml"),
    // Segments and progressive video
    ("ts", "video/mp2t"),
    ("m4s", "video/iso.segment"),
    ("cmfv", "video/mp4"),
    ("cmfa", "audio/mp4"),
    ("mp4", "video/mp4"),
    ("m4v", "video/mp4"),
    ("mov", "video/quicktime"),
    ("webm", "video/webm"),
    ("mkv", "video/x-matroska"),
    ("ogv", "video/ogg"),
    // Audio
    ("m4a", "audio/mp4"),
    ("aac", "audio/aac"),
    ("mp3", "audio/mpeg"),
    ("oga", "audio/ogg"),
    ("opus", "audio/ogg"),
    ("weba", "audio/webm"),
    ("ac3", "audio/ac3"),
    ("ec3", "audio/eac3"),
    // Subtitles and captions
    ("vtt", "text/vtt; charset=utf-8"),
    ("webvtt", "text/vtt; charset=utf-8"),
    ("srt", "application/x-subrip"),
    ("ttml", "application/ttml+xml"),
    ("dfxp", "application/ttml+xml"),
    // HLS AES-128 keys and init data
    ("key", "application/octet-stream"),
    ("mp4init", "video/mp4"),
    // Images (thumbnails, trick play) and pages (the sample player)
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("webp", "image/webp"),
    ("json", "application/json"),
    ("xml", "application/xml"),
    ("html", "text/html; charset=utf-8"),
    ("txt", "text/plain; charset=utf-8"),
];

/// The `Content-Type` for a file with this extension (any case).
pub fn for_extension(extension: Option<&str>) -> HeaderValue {
    let found =
        extension.and_then(|ext| TYPES.iter().find(|(known, _)| known.eq_ignore_ascii_case(ext)).map(|&(_, ty)| ty));
    HeaderValue::from_static(found.unwrap_or(DEFAULT_TYPE))
}

/// Whether a type reported by a store says nothing, so the extension should decide instead.
pub fn is_generic(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("binary/octet-stream") || essence.eq_ignore_ascii_case("application/octet-stream")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_video_types() {
        let cases = [
            (Some("m3u8"), "application/vnd.apple.mpegurl"),
            (Some("M3U8"), "application/vnd.apple.mpegurl"),
            (Some("ts"), "video/mp2t"),
            (Some("m4s"), "video/iso.segment"),
            (Some("mp4"), "video/mp4"),
            (Some("mpd"), "application/dash+xml"),
            (Some("vtt"), "text/vtt; charset=utf-8"),
            (Some("webm"), "video/webm"),
            (Some("m4a"), "audio/mp4"),
            (Some("aac"), "audio/aac"),
            (Some("mp3"), "audio/mpeg"),
            (Some("key"), "application/octet-stream"),
            (Some("exe"), DEFAULT_TYPE),
            (None, DEFAULT_TYPE),
        ];
        for (ext, ty) in cases {
            assert_eq!(for_extension(ext), ty, "{ext:?}");
        }
    }

    #[test]
    fn generic_types_are_recognised() {
        assert!(is_generic("binary/octet-stream"));
        assert!(is_generic("application/octet-stream; charset=binary"));
        assert!(!is_generic("video/mp4"));
    }
}
