//! The access log line: formatted here into a reused buffer and written to stdout with one
//! `write`, rather than sent through the `tracing` subscriber as an event.
//!
//! Written by hand because the subscriber's path is general: every field goes through a dynamic
//! visitor, the JSON format through serde's map machinery, and the line through a `fmt::Write`
//! adaptor. That was 39,000 instructions of the 140,000 a 1 KiB range costs in all (callgrind,
//! `bench/run.py callgrind --range-bytes 1024`); this is a few thousand. The lines are the ones
//! the subscriber wrote: JSON with `timestamp`, `level`, the fields and `target`, or the text
//! format's `TIMESTAMP  INFO access: key=value ...` with strings quoted and escaped (logfmt), so
//! a header cannot forge a field in either.

use std::cell::RefCell;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::SystemTime;

use crate::config::LogFormat;

/// The format chosen at startup; unset (nothing is written) until [`init`], as in a program that
/// embeds the server without logging.
static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// A line's usual length, and the most a thread's buffer keeps between lines: one request with
/// kilobytes of headers does not leave every worker holding that much.
const LINE_BYTES: usize = 512;
const KEPT_BYTES: usize = 4096;

thread_local! {
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(LINE_BYTES));
}

/// Chooses the format; the first call wins (tests that start several servers keep the first).
pub fn init(format: LogFormat) {
    let _ = FORMAT.set(format);
}

/// One request as the access log records it. Request headers come as they were sent (`-` when
/// absent or not text); they are escaped on output, never trusted.
pub struct AccessLine<'a> {
    /// The request's method.
    pub method: &'a str,
    /// The request's path, without the query.
    pub path: &'a str,
    /// The response's status code.
    pub status: u16,
    /// The `Range` header.
    pub range: &'a str,
    /// Body bytes sent.
    pub bytes: u64,
    /// False when the client left or the body was aborted before its end.
    pub complete: bool,
    /// From the request to the last body byte (or the client leaving).
    pub duration_ms: f64,
    /// From the request to the response's headers.
    pub ttfb_ms: f64,
    /// The client's address (CloudFront's, behind it).
    pub peer: SocketAddr,
    /// `X-Amz-Cf-Id`, to join with CloudFront's logs.
    pub cf_id: &'a str,
    /// `X-Forwarded-For`.
    pub forwarded_for: &'a str,
    /// `User-Agent`.
    pub user_agent: &'a str,
    /// `http1` or `h2`.
    pub protocol: &'a str,
    /// The `route` label of the metrics.
    pub route: &'a str,
    /// What the store answered (`ok`, `not_found`...; through the edge cache `hit`, `miss`...).
    pub storage: &'a str,
}

/// A field's value, as each format writes it.
enum Value<'a> {
    /// From a request or a label: quoted and escaped.
    Text(&'a str),
    Count(u64),
    Milliseconds(f64),
    Flag(bool),
    /// Quoted in JSON, bare in text (it cannot hold a space or a quote).
    Peer(SocketAddr),
}

impl AccessLine<'_> {
    /// The fields in the order they are written: the one list both formats follow.
    fn fields(&self) -> [(&'static str, Value<'_>); 15] {
        use Value::*;
        [
            ("method", Text(self.method)),
            ("path", Text(self.path)),
            ("status", Count(self.status.into())),
            ("range", Text(self.range)),
            ("bytes", Count(self.bytes)),
            ("complete", Flag(self.complete)),
            ("duration_ms", Milliseconds(self.duration_ms)),
            ("ttfb_ms", Milliseconds(self.ttfb_ms)),
            ("peer", Peer(self.peer)),
            ("cf_id", Text(self.cf_id)),
            ("forwarded_for", Text(self.forwarded_for)),
            ("user_agent", Text(self.user_agent)),
            ("protocol", Text(self.protocol)),
            ("route", Text(self.route)),
            ("storage", Text(self.storage)),
        ]
    }

    /// Writes the line to stdout, in the format chosen at startup; nothing before [`init`]. A
    /// failed write (stdout closed) is dropped, as the subscriber dropped it.
    pub fn write(&self) {
        let Some(&format) = FORMAT.get() else { return };
        LINE.with_borrow_mut(|line| {
            line.clear();
            self.render(format, SystemTime::now(), line);
            let _ = std::io::stdout().lock().write_all(line);
            if line.capacity() > KEPT_BYTES {
                *line = Vec::with_capacity(LINE_BYTES);
            }
        });
    }

    /// The whole line, newline included. Writes to a `Vec` cannot fail.
    fn render(&self, format: LogFormat, now: SystemTime, line: &mut Vec<u8>) {
        let timestamp = humantime::format_rfc3339_micros(now);
        match format {
            LogFormat::Json => {
                let _ = write!(line, r#"{{"timestamp":"{timestamp}","level":"INFO""#);
                for (name, value) in self.fields() {
                    push_all(line, &[b",\"", name.as_bytes(), b"\":"]);
                    value.json(line);
                }
                line.extend_from_slice(b",\"target\":\"access\"}\n");
            }
            LogFormat::Text => {
                let _ = write!(line, "{timestamp}  INFO access:");
                for (name, value) in self.fields() {
                    push_all(line, &[b" ", name.as_bytes(), b"="]);
                    value.text(line);
                }
                line.push(b'\n');
            }
        }
    }
}

impl Value<'_> {
    fn json(&self, line: &mut Vec<u8>) {
        match self {
            // serde_json's escaping, straight into the buffer.
            Self::Text(text) => {
                let _ = serde_json::to_writer(line, text);
            }
            Self::Peer(peer) => {
                line.push(b'"');
                push_peer(line, *peer);
                line.push(b'"');
            }
            Self::Count(count) => push_count(line, *count),
            Self::Milliseconds(ms) => push_milliseconds(line, *ms),
            Self::Flag(flag) => push_flag(line, *flag),
        }
    }

    fn text(&self, line: &mut Vec<u8>) {
        match self {
            // Rust's string escapes: `"` and `\` escaped, control characters as `\n`, `\u{1b}`.
            Self::Text(text) => {
                let _ = write!(line, "{text:?}");
            }
            Self::Peer(peer) => push_peer(line, *peer),
            Self::Count(count) => push_count(line, *count),
            Self::Milliseconds(ms) => push_milliseconds(line, *ms),
            Self::Flag(flag) => push_flag(line, *flag),
        }
    }
}

// Numbers and addresses are written with `itoa` and `ryu` (serde_json's own) rather than through
// `fmt`, whose machinery cost more than the rest of the line.

fn push_all(line: &mut Vec<u8>, parts: &[&[u8]]) {
    for part in parts {
        line.extend_from_slice(part);
    }
}

fn push_count(line: &mut Vec<u8>, count: u64) {
    line.extend_from_slice(itoa::Buffer::new().format(count).as_bytes());
}

/// Shortest round-trip form: `17.765`, `0.0`.
fn push_milliseconds(line: &mut Vec<u8>, ms: f64) {
    line.extend_from_slice(ryu::Buffer::new().format(ms).as_bytes());
}

fn push_flag(line: &mut Vec<u8>, flag: bool) {
    line.extend_from_slice(if flag { b"true" } else { b"false" });
}

/// `192.0.2.1:443`; IPv6 as `[2001:db8::1]:443`, through `fmt` (the standard's compression rules).
fn push_peer(line: &mut Vec<u8>, peer: SocketAddr) {
    let SocketAddr::V4(v4) = peer else {
        let _ = write!(line, "{peer}");
        return;
    };
    let mut digits = itoa::Buffer::new();
    for (i, octet) in v4.ip().octets().into_iter().enumerate() {
        if i > 0 {
            line.push(b'.');
        }
        line.extend_from_slice(digits.format(octet).as_bytes());
    }
    line.push(b':');
    line.extend_from_slice(digits.format(v4.port()).as_bytes());
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const FORGED: &str = r#"x" status=200 path=/forged peer=6.6.6.6:1 \"#;

    fn line<'a>(user_agent: &'a str, range: &'a str) -> AccessLine<'a> {
        AccessLine {
            method: "GET",
            path: "/sample/a.mp4",
            status: 206,
            range,
            bytes: 100,
            complete: true,
            duration_ms: 17.765,
            ttfb_ms: 0.0,
            peer: "127.0.0.1:4000".parse().unwrap(),
            cf_id: "id=\"1\"",
            forwarded_for: "-",
            user_agent,
            protocol: "http1",
            route: "object",
            storage: "ok",
        }
    }

    fn rendered(format: LogFormat, line: &AccessLine) -> String {
        let now = SystemTime::UNIX_EPOCH + Duration::from_micros(1_764_729_097_352_841);
        let mut out = Vec::new();
        line.render(format, now, &mut out);
        String::from_utf8(out).unwrap()
    }

    /// The `key=value` pairs of a logfmt line: values bare or double-quoted with `\` escapes.
    fn logfmt(line: &str) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        let mut rest = line.trim();
        while let Some((key, after)) = rest.split_once('=') {
            let key = key.rsplit(' ').next().unwrap().to_owned();
            let (value, tail) = match after.strip_prefix('"') {
                Some(quoted) => {
                    let mut value = String::new();
                    let mut chars = quoted.char_indices();
                    let end = loop {
                        match chars.next() {
                            Some((_, '\\')) => value.push(chars.next().unwrap().1),
                            Some((i, '"')) => break i + 1,
                            Some((_, c)) => value.push(c),
                            None => panic!("unterminated value in {line}"),
                        }
                    };
                    (value, &quoted[end..])
                }
                None => {
                    let end = after.find(' ').unwrap_or(after.len());
                    (after[..end].to_owned(), &after[end..])
                }
            };
            pairs.push((key, value));
            rest = tail;
        }
        pairs
    }

    #[test]
    fn request_headers_cannot_forge_fields_of_the_text_line() {
        let text = rendered(LogFormat::Text, &line(FORGED, "bytes=0-1 status=500"));
        let (head, fields) = text.strip_suffix('\n').unwrap().split_once("  INFO access: ").unwrap();
        assert_eq!(head, "2025-12-03T02:31:37.352841Z");
        let fields = logfmt(fields);
        let value = |key: &str| {
            let found: Vec<_> = fields.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect();
            assert_eq!(found.len(), 1, "{key} appears once in {text}");
            found[0].to_owned()
        };
        assert_eq!(value("user_agent"), FORGED);
        assert_eq!(value("range"), "bytes=0-1 status=500");
        assert_eq!(value("cf_id"), "id=\"1\"");
        assert_eq!(value("path"), "/sample/a.mp4");
        assert_eq!(value("status"), "206");
        assert_eq!(value("peer"), "127.0.0.1:4000");
        assert_eq!(value("duration_ms"), "17.765");
        assert_eq!(fields.len(), 15, "{text}");
    }

    #[test]
    fn the_json_line_is_one_object_with_the_fields_in_order() {
        let json = rendered(LogFormat::Json, &line(FORGED, "bytes=0-1\n\u{1b}[31m"));
        assert_eq!(json.matches('\n').count(), 1, "{json}");
        let entry: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&json).unwrap();
        let keys: Vec<_> = entry.keys().map(String::as_str).collect();
        let mut expected = vec!["timestamp", "level"];
        expected.extend(line("", "").fields().map(|(name, _)| name));
        expected.push("target");
        let mut sorted = expected.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted, "every field once");
        let positions: Vec<_> = expected.iter().map(|key| json.find(&format!("\"{key}\":")).unwrap()).collect();
        assert!(positions.is_sorted(), "{json}");
        assert_eq!(entry["timestamp"], "2025-12-03T02:31:37.352841Z");
        assert_eq!(entry["level"], "INFO");
        assert_eq!(entry["target"], "access");
        assert_eq!(entry["user_agent"], FORGED);
        assert_eq!(entry["range"], "bytes=0-1\n\u{1b}[31m");
        assert_eq!(entry["status"], 206);
        assert_eq!(entry["complete"], true);
        assert_eq!(entry["duration_ms"], 17.765);
        assert_eq!(entry["ttfb_ms"], 0.0);
        assert_eq!(entry["peer"], "127.0.0.1:4000");
    }

    #[test]
    fn peers_are_written_as_the_standard_library_writes_them() {
        for peer in ["0.0.0.0:0", "203.0.113.255:65535", "[2001:db8::1]:443", "[::ffff:192.0.2.1]:80"] {
            let address: SocketAddr = peer.parse().unwrap();
            let mut written = Vec::new();
            push_peer(&mut written, address);
            assert_eq!(String::from_utf8(written).unwrap(), address.to_string());
        }
    }
}
