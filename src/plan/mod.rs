//! What to answer, decided before any byte is fetched: a pure function of the method, the
//! request headers and the object's validators and length (RFC 9110 §13.2.2 and §14).
//!
//! Invariants (proptested in [`range`]): a planned range is never empty and lies inside the
//! object; multipart ranges are sorted, disjoint, non-adjacent, at most [`MAX_RANGES`] of them,
//! and never more bytes than the object.

mod conditional;
mod hint;
pub mod multipart;
mod range;

use std::time::SystemTime;

use http::{HeaderMap, HeaderValue, Method, header};

pub use hint::{ReadHint, read_hint};

/// At most this many ranges are honoured in one request; more get the whole object (200).
/// nginx's and Apache's answer to CVE-2011-3192: a request for thousands of tiny overlapping
/// ranges would otherwise make the origin send the object many times over.
pub const MAX_RANGES: usize = 16;

/// A half-open byte range `[start, end)` of an object, never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    start: u64,
    end: u64,
}

impl ByteRange {
    /// `[start, end)`, or `None` when empty or reversed.
    pub fn new(start: u64, end: u64) -> Option<Self> {
        (start < end).then_some(Self { start, end })
    }

    /// First byte.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// One past the last byte.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Last byte, as `Content-Range` writes it.
    pub fn last(&self) -> u64 {
        self.end - 1
    }

    /// Number of bytes.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Always false: a range holds at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// `bytes START-LAST/TOTAL`.
    pub fn content_range(&self, total: u64) -> HeaderValue {
        HeaderValue::try_from(format!("bytes {}-{}/{total}", self.start, self.last()))
            .expect("digits are a valid header value")
    }
}

/// What the origin knows about the current version of an object.
#[derive(Debug, Clone, Copy)]
pub struct Validators<'a> {
    /// The strong entity-tag, quoted, as sent in `ETag`.
    pub etag: &'a str,
    /// Modification time (whole seconds).
    pub last_modified: SystemTime,
}

/// A time truncated to whole seconds: HTTP dates have no finer resolution, so validators are
/// kept and compared at that resolution.
pub fn whole_seconds(time: SystemTime) -> SystemTime {
    let since = time.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(since.as_secs())
}

/// The outcome of planning one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// 304.
    NotModified,
    /// 412.
    PreconditionFailed,
    /// 200 with the whole object.
    Full,
    /// 206 with one range.
    Single(ByteRange),
    /// 206 `multipart/byteranges`; at least two ranges, sorted and coalesced.
    Multi(Vec<ByteRange>),
    /// 416; the response carries `Content-Range: bytes */LEN`.
    Unsatisfiable,
}

/// Plans the answer to a request for an object of `len` bytes.
pub fn plan(method: &Method, headers: &HeaderMap, validators: &Validators<'_>, len: u64) -> Plan {
    if let Some(outcome) = conditional::evaluate(method, headers, validators) {
        return outcome;
    }
    // Range applies to GET; HEAD answers what GET would, as S3 and nginx do.
    if !matches!(*method, Method::GET | Method::HEAD) {
        return Plan::Full;
    }
    let Some(range) = headers.get(header::RANGE) else {
        return Plan::Full;
    };
    if let Some(if_range) = headers.get(header::IF_RANGE)
        && !conditional::if_range_matches(if_range, validators)
    {
        return Plan::Full;
    }
    range::plan_ranges(range, len)
}
