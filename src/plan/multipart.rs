//! The byte layout of a `multipart/byteranges` body, computed before sending so that
//! `Content-Length` is exact (CloudFront ignores the ranges of a chunked response).

use std::fmt::Write;

use bytes::Bytes;
use http::HeaderValue;

use super::ByteRange;

/// Every part header and the closing delimiter, with the exact body length.
#[derive(Debug, Clone)]
pub struct MultipartLayout {
    /// Each part's header (delimiter, Content-Type, Content-Range) and its range.
    pub parts: Vec<(Bytes, ByteRange)>,
    /// The closing delimiter.
    pub trailer: Bytes,
    /// Length of the whole body.
    pub content_length: u64,
    /// `multipart/byteranges; boundary=...`.
    pub content_type: HeaderValue,
}

/// Lays out `ranges` of an object of `total` bytes whose type is `part_content_type`.
pub fn layout(ranges: &[ByteRange], total: u64, part_content_type: &HeaderValue, boundary: &str) -> MultipartLayout {
    let part_type = String::from_utf8_lossy(part_content_type.as_bytes());
    let parts: Vec<(Bytes, ByteRange)> = ranges
        .iter()
        .map(|range| {
            let mut header = String::with_capacity(96 + boundary.len());
            // The first delimiter is also preceded by CRLF, as nginx sends it; the CRLF belongs to
            // the delimiter, so parsers accept it as an empty preamble.
            let _ = write!(
                header,
                "\r\n--{boundary}\r\nContent-Type: {part_type}\r\nContent-Range: bytes {}-{}/{total}\r\n\r\n",
                range.start(),
                range.last()
            );
            (Bytes::from(header), *range)
        })
        .collect();
    let trailer = Bytes::from(format!("\r\n--{boundary}--\r\n"));
    let content_length = parts.iter().map(|(h, r)| h.len() as u64 + r.len()).sum::<u64>() + trailer.len() as u64;
    let content_type =
        HeaderValue::try_from(format!("multipart/byteranges; boundary={boundary}")).expect("the boundary is a token");
    MultipartLayout { parts, trailer, content_length, content_type }
}

/// A boundary random per process: `vod-origin-` and 24 hex digits.
///
/// A body containing the delimiter line by chance would need those 96 random bits to appear
/// after a CRLF in video data; the chance is negligible, and the multipart parsers of players
/// rely on the same argument.
pub fn new_boundary() -> String {
    format!("vod-origin-{:016x}{:08x}", fastrand::u64(..), fastrand::u32(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_layout() {
        let ranges = [ByteRange::new(0, 2).unwrap(), ByteRange::new(5, 8).unwrap()];
        let layout = layout(&ranges, 10, &HeaderValue::from_static("video/mp4"), "B");
        let content = b"0123456789";
        let mut body = Vec::new();
        for (header, range) in &layout.parts {
            body.extend_from_slice(header);
            body.extend_from_slice(&content[range.start() as usize..range.end() as usize]);
        }
        body.extend_from_slice(&layout.trailer);
        let expected = "\r\n--B\r\nContent-Type: video/mp4\r\nContent-Range: bytes 0-1/10\r\n\r\n01\
                        \r\n--B\r\nContent-Type: video/mp4\r\nContent-Range: bytes 5-7/10\r\n\r\n567\
                        \r\n--B--\r\n";
        assert_eq!(String::from_utf8(body.clone()).unwrap(), expected);
        assert_eq!(layout.content_length, body.len() as u64);
        assert_eq!(layout.content_type, "multipart/byteranges; boundary=B");
    }

    #[test]
    fn boundaries_are_tokens() {
        let boundary = new_boundary();
        assert_eq!(boundary.len(), "vod-origin-".len() + 24);
        assert!(HeaderValue::try_from(format!("multipart/byteranges; boundary={boundary}")).is_ok());
    }
}
