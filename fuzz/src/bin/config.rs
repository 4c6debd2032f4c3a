//! Fuzzes the configuration loader and its startup checks; the input format and the invariant are
//! documented on `vod_origin::fuzzing::config`.

#![forbid(unsafe_code)]

fn main() {
    afl::fuzz!(|data: &[u8]| vod_origin::fuzzing::config(data));
}
