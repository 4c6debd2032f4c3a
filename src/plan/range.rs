//! The `Range` header: parsed by `http-range-header`, then resolved against the object's length
//! here, because that crate's `validate` refuses some overlapping sets that RFC 9110 lets a
//! server coalesce, and applies no bound on total bytes.

use http::HeaderValue;
use http_range_header::SyntacticallyCorrectRange;

use super::{ByteRange, MAX_RANGES, Plan};

/// Plans the answer to a `Range` header for an object of `len` bytes.
pub(super) fn plan_ranges(value: &HeaderValue, len: u64) -> Plan {
    let Ok(text) = value.to_str() else { return Plan::Full };
    // An unparseable Range is ignored (RFC 9110 §14.2): the client gets the whole object.
    let Ok(parsed) = http_range_header::parse_range_header(text) else {
        return Plan::Full;
    };
    let requested = parsed.into_ranges();
    let satisfiable: Vec<ByteRange> = requested.iter().filter_map(|r| resolve(*r, len)).collect();
    if satisfiable.is_empty() {
        // A positive suffix of an empty object selects all of nothing: answer it whole.
        let empty_suffix =
            len == 0 && requested.iter().any(|r| matches!(r, SyntacticallyCorrectRange::FromLast(n) if *n > 0));
        return if empty_suffix { Plan::Full } else { Plan::Unsatisfiable };
    }
    let total: u64 = satisfiable.iter().map(ByteRange::len).fold(0, u64::saturating_add);
    if satisfiable.len() > MAX_RANGES || total > len {
        return Plan::Full;
    }
    let mut ranges = coalesce(satisfiable);
    if ranges.len() == 1 { Plan::Single(ranges.remove(0)) } else { Plan::Multi(ranges) }
}

/// One range-spec against the length; `None` when it selects nothing.
fn resolve(range: SyntacticallyCorrectRange, len: u64) -> Option<ByteRange> {
    match range {
        SyntacticallyCorrectRange::Indexed(first, last) => ByteRange::new(first, last.saturating_add(1).min(len)),
        SyntacticallyCorrectRange::FromStart(first) => ByteRange::new(first, len),
        // A suffix longer than the object selects all of it (RFC 9110 §14.1.2).
        SyntacticallyCorrectRange::FromLast(suffix) => ByteRange::new(len.saturating_sub(suffix), len),
    }
}

/// Sorts ranges and merges those that overlap or touch.
fn coalesce(mut ranges: Vec<ByteRange>) -> Vec<ByteRange> {
    ranges.sort_by_key(ByteRange::start);
    let mut merged: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(start: u64, end: u64) -> ByteRange {
        ByteRange::new(start, end).unwrap()
    }

    fn run(header: &str, len: u64) -> Plan {
        plan_ranges(&HeaderValue::from_str(header).unwrap(), len)
    }

    #[test]
    fn ranges_against_a_length() {
        use Plan::*;
        let cases = [
            ("bytes=0-99", 1000, Single(r(0, 100))),
            ("bytes=0-0", 1000, Single(r(0, 1))),
            ("bytes=900-", 1000, Single(r(900, 1000))),
            ("bytes=0-", 1000, Single(r(0, 1000))),
            ("bytes=-100", 1000, Single(r(900, 1000))),
            ("bytes=-5000", 1000, Single(r(0, 1000))),
            ("bytes=990-5000", 1000, Single(r(990, 1000))),
            ("BYTES=1-2", 1000, Single(r(1, 3))),
            ("bytes=1000-", 1000, Unsatisfiable),
            ("bytes=1000-2000", 1000, Unsatisfiable),
            ("bytes=-0", 1000, Unsatisfiable),
            ("bytes=5000-, 0-9", 1000, Single(r(0, 10))),
            ("bytes=0-9, 20-29", 1000, Multi(vec![r(0, 10), r(20, 30)])),
            ("bytes=20-29, 0-9", 1000, Multi(vec![r(0, 10), r(20, 30)])),
            ("bytes=0-9, 10-19", 1000, Single(r(0, 20))),
            ("bytes=0-9, 5-19, 30-", 1000, Multi(vec![r(0, 20), r(30, 1000)])),
            ("bytes=0-9, -10", 1000, Multi(vec![r(0, 10), r(990, 1000)])),
            ("bytes=abc", 1000, Full),
            ("items=0-9", 1000, Full),
            ("bytes=9-0", 1000, Full),
            ("bytes=", 1000, Full),
            ("bytes=0-499, 0-499, 0-499", 1000, Full),
            ("bytes=0-", 0, Unsatisfiable),
            ("bytes=0-0", 0, Unsatisfiable),
            ("bytes=-10", 0, Full),
        ];
        for (header, len, expected) in cases {
            assert_eq!(run(header, len), expected, "{header} of {len}");
        }
    }

    #[test]
    fn more_than_max_ranges_get_the_whole_object() {
        let specs: Vec<String> = (0..=MAX_RANGES as u64).map(|i| format!("{}-{}", i * 10, i * 10)).collect();
        assert_eq!(run(&format!("bytes={}", specs.join(",")), 1000), Plan::Full);
        let specs: Vec<String> = (0..MAX_RANGES as u64).map(|i| format!("{}-{}", i * 10, i * 10)).collect();
        assert!(matches!(run(&format!("bytes={}", specs.join(",")), 1000), Plan::Multi(v) if v.len() == MAX_RANGES));
    }

    fn spec() -> impl Strategy<Value = String> {
        prop_oneof![
            (0u64..12_000, 0u64..12_000).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
            (0u64..12_000).prop_map(|a| format!("{a}-")),
            (0u64..12_000).prop_map(|n| format!("-{n}")),
            "[0-9,= -]{0,6}",
        ]
    }

    proptest! {
        /// Whatever the header, planned ranges are non-empty and inside the object; multipart
        /// ranges are sorted, disjoint and non-adjacent, at most MAX_RANGES, never more than
        /// the object in total.
        #[test]
        fn plans_stay_in_bounds(len in 0u64..10_000, specs in proptest::collection::vec(spec(), 1..24)) {
            let header = format!("bytes={}", specs.join(","));
            let Ok(value) = HeaderValue::from_str(&header) else { return Ok(()) };
            match plan_ranges(&value, len) {
                Plan::Single(range) => prop_assert!(range.start() < range.end() && range.end() <= len),
                Plan::Multi(ranges) => {
                    prop_assert!((2..=MAX_RANGES).contains(&ranges.len()));
                    prop_assert!(ranges.iter().all(|r| r.start() < r.end() && r.end() <= len));
                    prop_assert!(ranges.windows(2).all(|w| w[0].end() < w[1].start()));
                    prop_assert!(ranges.iter().map(ByteRange::len).sum::<u64>() <= len);
                }
                Plan::Full | Plan::Unsatisfiable => {}
                other => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}
