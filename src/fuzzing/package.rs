//! Fuzz entry for the MP4 packager: finding the `moov`, parsing it into an index, and every
//! answer made from the index.
//!
//! Input: a 4-byte big-endian count of bytes the file has past the input (the `mdat` a `moov`'s
//! sample offsets point into, so a seed can be a real file's boxes without its sample data), then
//! the file's first bytes.
//!
//! Invariants, as [`crate::package`] promises them: nothing panics on any input; the search for
//! the `moov` only moves forward (or asks again for the same offset when fewer bytes than a box
//! header were there); a parsed index's every track has, for every segment the
//! segmentation counts, a media segment whose length is the one computed without building it,
//! whose sample runs lie within the file, and whose samples, over all segments, are the track's
//! samples each exactly once; no segment past the track's count; the last one not empty; manifests and init segments render.

use std::time::Duration;

use crate::package::{
    self, Limits, MediaIndex, MoovSearch, Segmentation, Track, find_moov, media_segment, media_segment_len,
};

/// Searches of the `moov` the origin makes before it gives up (`store::packaged`).
const MAX_SEARCH_READS: usize = 6;

/// Above this many samples the per-segment checks would make one input take seconds, which the
/// fuzzer reports as a hang; such an index is still parsed and segmented.
const MAX_CHECKED_SAMPLES: u32 = 200_000;

/// Packages the file in `data` and checks every answer.
pub fn package(data: &[u8]) {
    let Some((beyond, file)) = data.split_first_chunk::<4>() else { return };
    let file_len = file.len() as u64 + u64::from(u32::from_be_bytes(*beyond));
    let limits = Limits::default();
    let Some(moov) = locate(file, file_len, &limits) else { return };
    let Ok(index) = MediaIndex::parse(moov, file_len, &limits) else { return };
    let segmentation = Segmentation::new(&index, Duration::from_secs(2));
    let _ = package::master_playlist(&index, &segmentation);
    let _ = package::manifest(&index, &segmentation);
    for track in &index.tracks {
        let _ = package::init_segment(track);
        let _ = package::media_playlist(track, &segmentation);
        if track.sample_count() <= MAX_CHECKED_SAMPLES {
            check_segments(track, &segmentation, file_len);
        }
    }
}

/// The `moov` within `file`, found as the origin finds it, read by read.
fn locate<'f>(file: &'f [u8], file_len: u64, limits: &Limits) -> Option<&'f [u8]> {
    let mut at = 0u64;
    for _ in 0..MAX_SEARCH_READS {
        let bytes = file.get(usize::try_from(at).ok()?..)?;
        match find_moov(at, bytes, file_len, limits).ok()? {
            MoovSearch::Found { offset, len } => {
                let start = usize::try_from(offset).ok()?;
                return file.get(start..start.checked_add(usize::try_from(len).ok()?)?);
            }
            // The same offset again: the bytes there are fewer than a box header, and the input
            // has no more (the origin's reads are 16 KiB or more, short only at the file's end).
            MoovSearch::ReadAt(next) if next == at => {
                assert!(bytes.len() < 16, "asked to read {at} again with {} bytes there", bytes.len());
                return None;
            }
            MoovSearch::ReadAt(next) => {
                assert!(next > at, "the search for the moov went from {at} back to {next}");
                at = next;
            }
        }
    }
    None
}

fn check_segments(track: &Track, segmentation: &Segmentation, file_len: u64) {
    let mut samples = 0u64;
    let mut next_sample = 0u32;
    let count = segmentation.count_for(track);
    for n in 1..=count {
        let segment = media_segment(track, segmentation, n).expect("every counted segment exists");
        assert_eq!(Some(segment.len()), media_segment_len(track, segmentation, n), "segment {n}'s length");
        for &(offset, len) in &segment.runs {
            assert!(offset.checked_add(len).is_some_and(|end| end <= file_len), "segment {n} reads past the file");
        }
        let range = segmentation.samples(track, n);
        assert_eq!(range.start, next_sample, "segment {n} does not start where the one before ended");
        next_sample = range.end;
        samples += u64::from(range.end - range.start);
    }
    assert_eq!(samples, u64::from(track.sample_count()), "the segments hold every sample once");
    assert!(count == 1 || !segmentation.samples(track, count).is_empty(), "the last segment is empty");
    assert!(media_segment(track, segmentation, count + 1).is_none(), "a segment past the count");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds are real files' boxes: each must reach the checks, or the fuzzer starts from
    /// inputs that stop at the first step.
    #[test]
    fn every_seed_is_parsed_and_checked() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/package");
        let mut seeds = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if !path.file_name().unwrap().to_string_lossy().starts_with("seed-") {
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            let (beyond, file) = data.split_first_chunk::<4>().unwrap();
            let file_len = file.len() as u64 + u64::from(u32::from_be_bytes(*beyond));
            let moov = locate(file, file_len, &Limits::default()).expect("the seed's moov is found");
            let index = MediaIndex::parse(moov, file_len, &Limits::default()).expect("the seed parses");
            assert!(!index.tracks.is_empty(), "{}", path.display());
            package(&data);
            seeds += 1;
        }
        assert!(seeds >= 5, "{seeds} seeds");
    }
}
