//! Fuzz entry for the range and conditional planner.
//!
//! Input: the object's length in decimal on the first line, the method on the second, then
//! request header lines (`Range`, `If-Range`, `If-Match`, ...). The object's validators are fixed:
//! entity-tag `"v1"`, last modified Sun, 06 Nov 1994 08:49:37 GMT.
//!
//! Invariants: planning never panics; a planned range is never empty and lies inside the object;
//! a multipart plan has 2 to [`MAX_RANGES`] ranges, sorted, disjoint and non-adjacent, never more
//! bytes than the object; each outcome has the header and method that can cause it (no 304
//! without `If-None-Match`/`If-Modified-Since` on GET or HEAD, no 206 or 416 without `Range`).

use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, Method, header};

use super::headers::{header_map, number, split_lines};
use crate::plan::{ByteRange, MAX_RANGES, Plan, Validators};

/// The object's entity-tag.
pub const ETAG: &str = "\"v1\"";

/// The object's modification time, in seconds since the epoch (the date of the RFC examples).
pub const LAST_MODIFIED_SECS: u64 = 784_111_777;

/// Plans a request read from `data` and checks the plan.
pub fn plan(data: &[u8]) {
    let (len, method, headers) = split_lines(data);
    let (Some(len), Ok(method)) = (number(len), Method::from_bytes(method)) else { return };
    let headers = header_map(headers);
    let validators = Validators { etag: ETAG, last_modified: UNIX_EPOCH + Duration::from_secs(LAST_MODIFIED_SECS) };
    let planned = crate::plan::plan(&method, &headers, &validators, len);
    check(&planned, &method, &headers, len);
}

fn check(planned: &Plan, method: &Method, headers: &HeaderMap, len: u64) {
    let safe = matches!(*method, Method::GET | Method::HEAD);
    let ranged = safe && headers.contains_key(header::RANGE);
    match planned {
        Plan::NotModified => assert!(
            safe && (headers.contains_key(header::IF_NONE_MATCH) || headers.contains_key(header::IF_MODIFIED_SINCE)),
            "304 without a reason"
        ),
        Plan::PreconditionFailed => assert!(
            [header::IF_MATCH, header::IF_UNMODIFIED_SINCE, header::IF_NONE_MATCH]
                .iter()
                .any(|h| headers.contains_key(h)),
            "412 without a precondition"
        ),
        Plan::Full => {}
        Plan::Unsatisfiable => assert!(ranged, "416 without a Range on GET or HEAD"),
        Plan::Single(range) => {
            assert!(ranged, "206 without a Range on GET or HEAD");
            assert_inside(range, len);
        }
        Plan::Multi(ranges) => {
            assert!(ranged, "206 without a Range on GET or HEAD");
            check_multi(ranges, len);
        }
    }
}

/// Checks what a multipart plan promises: 2 to [`MAX_RANGES`] ranges inside the object, sorted,
/// disjoint, non-adjacent, never more bytes than the object.
pub(super) fn check_multi(ranges: &[ByteRange], len: u64) {
    assert!((2..=MAX_RANGES).contains(&ranges.len()), "{} ranges in a multipart plan", ranges.len());
    for range in ranges {
        assert_inside(range, len);
    }
    for pair in ranges.windows(2) {
        assert!(pair[0].end() < pair[1].start(), "{pair:?} are unsorted, overlapping or adjacent");
    }
    let total: u128 = ranges.iter().map(|r| u128::from(r.len())).sum();
    assert!(total <= u128::from(len), "{total} bytes of a {len}-byte object");
}

fn assert_inside(range: &ByteRange, len: u64) {
    assert!(range.start() < range.end(), "empty range {range:?}");
    assert!(range.end() <= len, "{range:?} ends past the {len}-byte object");
}
