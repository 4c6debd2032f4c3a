//! Fuzzes the request path to object key mapping; the input format and the invariant are
//! documented on `vod_origin::fuzzing::key`.

#![forbid(unsafe_code)]

fn main() {
    afl::fuzz!(|data: &[u8]| vod_origin::fuzzing::key(data));
}
