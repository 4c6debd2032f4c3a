//! Fuzzes the CORS rule loaders (S3 XML and JSON); the input format and the invariant are
//! documented on `vod_origin::fuzzing::cors`.

#![forbid(unsafe_code)]

fn main() {
    afl::fuzz!(|data: &[u8]| vod_origin::fuzzing::cors(data));
}
