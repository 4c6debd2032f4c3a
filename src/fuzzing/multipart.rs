//! Fuzz entry for the framing of `multipart/byteranges` bodies.
//!
//! Input: the object's length in decimal on the first line, the object's `Content-Type` (as the
//! store reports it: any bytes a header value may hold) on the second, then the `Range` header
//! value. The ranges are planned as a GET would plan them; a multipart plan is laid out with a
//! boundary of the shape [`new_boundary`](crate::plan::multipart::new_boundary) makes.
//!
//! Lengths are taken modulo 2^63: S3 reports `Content-Length` as an `i64` and file sizes are an
//! `off_t`, so no object is longer than `i64::MAX` bytes, and above that the framing's `u64`
//! arithmetic is not meant to hold.
//!
//! Invariants: the layout's `Content-Length` equals the framing plus the parts, byte for byte;
//! the parts come in the plan's order, each inside the object and announced by a delimiter and a
//! `Content-Range` that names it; the closing delimiter and the `Content-Type` carry the boundary.

use http::{HeaderMap, HeaderValue, Method, header};

use super::headers::{number, split_lines};
use super::plan::check_multi;
use crate::plan::multipart::{MultipartLayout, layout};
use crate::plan::{Plan, Validators};

/// A boundary shaped like the ones the server makes: `vod-origin-` and 24 hex digits.
pub const BOUNDARY: &str = "vod-origin-0123456789abcdef01234567";

/// Lays out the ranges read from `data` and checks the layout.
pub fn multipart(data: &[u8]) {
    let (len, content_type, range) = split_lines(data);
    let (Some(len), Ok(content_type), Ok(range)) =
        (number(len), HeaderValue::from_bytes(content_type), HeaderValue::from_bytes(range.trim_ascii()))
    else {
        return;
    };
    let len = len & i64::MAX as u64;
    let mut headers = HeaderMap::new();
    headers.insert(header::RANGE, range);
    let validators = Validators { etag: "\"v1\"", last_modified: std::time::UNIX_EPOCH };
    let Plan::Multi(ranges) = crate::plan::plan(&Method::GET, &headers, &validators, len) else { return };
    check_multi(&ranges, len);
    let laid_out = layout(&ranges, len, &content_type, BOUNDARY);
    check_layout(&laid_out, &ranges, len, &content_type);
}

fn check_layout(laid_out: &MultipartLayout, ranges: &[crate::plan::ByteRange], len: u64, content_type: &HeaderValue) {
    assert_eq!(laid_out.parts.len(), ranges.len(), "one part per range");
    let part_type = String::from_utf8_lossy(content_type.as_bytes());
    let mut body_len: u128 = 0;
    for ((part_header, range), planned) in laid_out.parts.iter().zip(ranges) {
        assert_eq!(range, planned, "parts in the plan's order");
        assert!(range.end() <= len, "{range:?} ends past the {len}-byte object");
        let expected = format!(
            "\r\n--{BOUNDARY}\r\nContent-Type: {part_type}\r\nContent-Range: bytes {}-{}/{len}\r\n\r\n",
            range.start(),
            range.end() - 1
        );
        assert_eq!(part_header.as_ref(), expected.as_bytes(), "part header of {range:?}");
        body_len += part_header.len() as u128 + u128::from(range.len());
    }
    let trailer = format!("\r\n--{BOUNDARY}--\r\n");
    assert_eq!(laid_out.trailer.as_ref(), trailer.as_bytes(), "closing delimiter");
    body_len += trailer.len() as u128;
    assert_eq!(u128::from(laid_out.content_length), body_len, "Content-Length is the body's length");
    let multipart_type = format!("multipart/byteranges; boundary={BOUNDARY}");
    assert_eq!(laid_out.content_type, multipart_type.as_str(), "Content-Type names the boundary");
}
