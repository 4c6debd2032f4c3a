//! Where segments are cut: the main track (the first video track, else the first audio track) is
//! cut before sync samples, each cut the first sync sample presented at least the target after
//! the previous cut, so every segment but the last is at least the target long and none is empty;
//! when GOPs divide the target, cuts fall exactly on its multiples. Every other track follows the
//! main track's cut times, by decode time converted with exact integer rounding.

use std::ops::Range;
use std::time::Duration;

use super::index::{MediaIndex, Track, bits_per_second};

/// The segment boundaries of one file for one target duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segmentation {
    timescale: u32,
    main_id: u32,
    /// Each segment's start, in the main track's ticks, then the end: `bounds[0] == 0`.
    bounds: Vec<u64>,
    /// Each segment's first sample of the main track, then its sample count.
    cuts: Vec<u32>,
}

impl Segmentation {
    /// Cuts `index`'s main track at about `target` (at least one tick).
    pub fn new(index: &MediaIndex, target: Duration) -> Segmentation {
        let main = index.main_track();
        let ts = u64::from(main.timescale);
        let ticks = target.as_nanos().saturating_mul(u128::from(ts)) / 1_000_000_000;
        let target = u64::try_from(ticks).unwrap_or(u64::MAX).max(1);
        let (mut bounds, mut cuts) = (vec![0u64], vec![0u32]);
        let mut last = 0u64;
        for (sample, time) in sync_times(main) {
            // A cut at sample 0 would make an empty first segment.
            if sample > 0 && time >= last.saturating_add(target) {
                last = time;
                bounds.push(time);
                cuts.push(sample);
            }
        }
        bounds.push(main.duration().max(last.saturating_add(1)));
        cuts.push(main.sample_count());
        Segmentation { timescale: main.timescale, main_id: main.id, bounds, cuts }
    }

    /// Number of segments, at least 1.
    pub fn count(&self) -> u32 {
        (self.bounds.len() - 1) as u32
    }

    /// Segments of `track`: [`Self::count`], less the empty ones at the end (an audio track that
    /// ends before the video it follows), so no playlist lists a segment without a sample.
    pub fn count_for(&self, track: &Track) -> u32 {
        let mut n = self.count();
        while n > 1 && self.samples(track, n).is_empty() {
            n -= 1;
        }
        n
    }

    /// Ticks per second of the bounds (the main track's).
    pub fn timescale(&self) -> u32 {
        self.timescale
    }

    /// Segment `n` (1-based) as `[start, end)` in the main track's ticks: presentation times,
    /// which for video are decode times plus composition offsets less the presentation delay
    /// (so the first frame is at 0), and for audio are decode times.
    pub fn bounds(&self, n: u32) -> Option<(u64, u64)> {
        let i = usize::try_from(n).ok()?.checked_sub(1)?;
        Some((*self.bounds.get(i)?, *self.bounds.get(i + 1)?))
    }

    /// `EXT-X-TARGETDURATION`: the longest segment in whole seconds, rounded up (so every
    /// `EXTINF`, rounded to the nearest integer, is at most it: RFC 8216 §4.3.3.1).
    pub fn target_duration_secs(&self) -> u64 {
        let ts = u64::from(self.timescale);
        let longest = self.bounds.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        longest.div_ceil(ts).max(1)
    }

    /// The samples of `track` in segment `n`; empty when `n` is out of range.
    pub fn samples(&self, track: &Track, n: u32) -> Range<u32> {
        let Some((start, end)) = self.bounds(n) else { return 0..0 };
        let count = track.sample_count();
        if track.id == self.main_id && track.timescale == self.timescale && track.sample_count() == self.main_count() {
            let i = n as usize - 1;
            return self.cuts.get(i).copied().unwrap_or(0)..self.cuts.get(i + 1).copied().unwrap_or(0);
        }
        let first = |bound: u64| partition(0..count, |s| self.to_main(track, track.table.dts(s)) < bound);
        let from = if n == 1 { 0 } else { first(start) };
        let to = if n == self.count() { count } else { first(end) };
        from..to.max(from)
    }

    /// Duration of `track`'s samples in segment `n`, in its own ticks.
    pub fn duration(&self, track: &Track, n: u32) -> u64 {
        let range = self.samples(track, n);
        track.table.dts(range.end) - track.table.dts(range.start)
    }

    /// The highest bit rate of `track` over its segments (HLS `BANDWIDTH`, DASH `bandwidth`).
    pub fn peak_bitrate(&self, track: &Track) -> u64 {
        let rates = (1..=self.count_for(track)).map(|n| {
            let bytes = track.table.bytes(self.samples(track, n));
            bits_per_second(bytes, self.duration(track, n), track.timescale)
        });
        rates.max().unwrap_or(0).max(track.bitrate)
    }

    fn main_count(&self) -> u32 {
        self.cuts.last().copied().unwrap_or(0)
    }

    /// A time of `track` in the main track's ticks, rounded to the nearest.
    fn to_main(&self, track: &Track, ticks: u64) -> u64 {
        let ts = u128::from(track.timescale.max(1));
        let scaled = (u128::from(ticks) * u128::from(self.timescale) + ts / 2) / ts;
        u64::try_from(scaled).unwrap_or(u64::MAX)
    }
}

/// Each sync sample of `track` with its presentation time (decode time plus composition offset,
/// less the delay that makes the first frame present at 0), in decode order, times increasing.
/// Cuts go by presentation time: with B-frames a key frame is decoded before the frames shown
/// just ahead of it, so its decode time can fall short of a multiple its picture starts at.
fn sync_times(track: &Track) -> Box<dyn Iterator<Item = (u32, u64)> + '_> {
    let table = &track.table;
    let mut floor = 0u64;
    let mut increasing = move |(s, t): (u32, u64)| {
        let keep = t > floor || s == 0;
        floor = floor.max(t);
        keep.then_some((s, t))
    };
    match table.sync_samples() {
        Some(sync) => Box::new(sync.iter().filter_map(move |&s| {
            let sample = table.samples(s..s + 1).next()?;
            let pts = (sample.dts as i64).saturating_add(i64::from(sample.cts_offset)).saturating_sub(track.delay);
            increasing((s, u64::try_from(pts).unwrap_or(0)))
        })),
        None => Box::new(table.samples(0..table.count()).zip(0..).map(|(sample, s)| (s, sample.dts))),
    }
}

/// The first index in `range` for which `before` is false (`before` must be monotonic).
fn partition(range: Range<u32>, before: impl Fn(u32) -> bool) -> u32 {
    let (mut lo, mut hi) = (range.start, range.end);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) { lo = mid + 1 } else { hi = mid }
    }
    lo
}

#[cfg(test)]
mod tests;
