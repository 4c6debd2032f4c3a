//! The text form the `plan` and `multipart` entries share, so that seeds read like requests: a
//! first line, a second line, then `name: value` header lines.

use http::{HeaderMap, HeaderName, HeaderValue};

/// The input split at its first two newlines: `(first, second, rest)`. Missing lines are empty.
pub(super) fn split_lines(data: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let (first, rest) = split_once(data);
    let (second, rest) = split_once(rest);
    (first, second, rest)
}

fn split_once(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// A decimal `u64` (surrounding whitespace allowed), or `None`.
pub(super) fn number(line: &[u8]) -> Option<u64> {
    std::str::from_utf8(line).ok()?.trim().parse().ok()
}

/// `name: value` lines as a header map; a line hyper would not have accepted is left out, since
/// the parsers under test only ever see what hyper let through. Repeated names are kept.
pub(super) fn header_map(lines: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in lines.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let value = line[colon + 1..].trim_ascii();
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(&line[..colon]), HeaderValue::from_bytes(value)) {
            headers.append(name, value);
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_headers() {
        let (first, second, rest) = split_lines(b"1000\nGET\nRange: bytes=0-1\nif-range:  \"v1\" \r\nbad line\n");
        assert_eq!((number(first), second), (Some(1000), b"GET".as_slice()));
        let headers = header_map(rest);
        assert_eq!(headers.len(), 2);
        assert_eq!(headers["range"], "bytes=0-1");
        assert_eq!(headers["if-range"], "\"v1\"");
        assert_eq!(split_lines(b"7"), (b"7".as_slice(), b"".as_slice(), b"".as_slice()));
    }
}
