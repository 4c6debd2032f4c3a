//! Fuzzes the MP4 packager (the moov's search, its index, segments and manifests); the input
//! format and the invariant are documented on `vod_origin::fuzzing::package`.

#![forbid(unsafe_code)]

fn main() {
    afl::fuzz!(|data: &[u8]| vod_origin::fuzzing::package(data));
}
