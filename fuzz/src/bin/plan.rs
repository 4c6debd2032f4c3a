//! Fuzzes the Range and conditional-header planner; the input format and the invariant are
//! documented on `vod_origin::fuzzing::plan`.

#![forbid(unsafe_code)]

fn main() {
    afl::fuzz!(|data: &[u8]| vod_origin::fuzzing::plan(data));
}
