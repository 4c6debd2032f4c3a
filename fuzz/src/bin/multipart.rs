//! Fuzzes the framing of multipart/byteranges bodies; the input format and the invariant are
//! documented on `vod_origin::fuzzing::multipart`.

#![forbid(unsafe_code)]

fn main() {
    afl::fuzz!(|data: &[u8]| vod_origin::fuzzing::multipart(data));
}
