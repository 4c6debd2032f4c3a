//! Decode times of a track's samples from `stts`, compact whichever way they come: runs of equal
//! durations (16 bytes a run, so a constant frame rate costs nothing a sample), or, when the
//! durations vary from sample to sample as in variable frame rate recordings, 4 bytes a sample
//! with a checkpoint every [`STRIDE`] samples, whichever is smaller.

use super::PackageError;
use super::boxes::Reader;

/// Samples between checkpoints of the dense form: a decode time costs at most this many adds.
const STRIDE: usize = 64;

/// A run of samples with equal durations, from `first_sample` to the next run's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    first_sample: u32,
    delta: u32,
    first_dts: u64,
}

/// Every sample's decode time and duration.
#[derive(Debug, Clone)]
pub(crate) enum Times {
    Runs(Vec<Run>),
    Dense { deltas: Vec<u32>, checkpoints: Vec<u64> },
}

impl Default for Times {
    fn default() -> Self {
        Times::Runs(Vec::new())
    }
}

impl Times {
    /// Reads `stts` for `count` samples (a count backed by `stsz`'s bytes); returns the times
    /// and the total duration.
    pub fn parse(body: &[u8], count: u32) -> Result<(Times, u64), PackageError> {
        let mut r = Reader::new(body, "stts");
        r.version_flags()?;
        let entries = r.count(8)?;
        let mut runs: Vec<Run> = Vec::new();
        let (mut sample, mut dts) = (0u32, 0u64);
        for _ in 0..entries {
            let (n, delta) = (r.u32()?, r.u32()?);
            if n == 0 {
                continue;
            }
            if runs.last().is_none_or(|last| last.delta != delta) {
                runs.push(Run { first_sample: sample, delta, first_dts: dts });
            }
            sample = sample
                .checked_add(n)
                .filter(|&s| s <= count)
                .ok_or(PackageError::Invalid("stts: more samples than stsz"))?;
            dts = dts
                .checked_add(u64::from(n) * u64::from(delta))
                .ok_or(PackageError::Invalid("stts: duration overflows"))?;
        }
        if sample != count {
            return Err(PackageError::Invalid("stts: fewer samples than stsz"));
        }
        let dense_bytes = count as usize * 4 + (count as usize / STRIDE + 1) * 8;
        if runs.len() * size_of::<Run>() <= dense_bytes {
            runs.shrink_to_fit();
            return Ok((Times::Runs(runs), dts));
        }
        Ok((dense(&runs, count), dts))
    }

    /// Decode time of sample `i` (`i` less than the sample count).
    pub fn dts(&self, i: u32) -> u64 {
        match self {
            Times::Runs(runs) => match runs.get(runs.partition_point(|r| r.first_sample <= i).wrapping_sub(1)) {
                Some(r) => r.first_dts + u64::from(i - r.first_sample) * u64::from(r.delta),
                None => 0,
            },
            Times::Dense { deltas, checkpoints } => {
                let base = i as usize / STRIDE * STRIDE;
                let since = deltas.get(base..i as usize).unwrap_or(&[]).iter().map(|&d| u64::from(d)).sum::<u64>();
                checkpoints.get(i as usize / STRIDE).copied().unwrap_or(0) + since
            }
        }
    }

    /// Duration of sample `i`.
    pub fn delta(&self, i: u32) -> u32 {
        match self {
            Times::Runs(runs) => {
                runs.get(runs.partition_point(|r| r.first_sample <= i).wrapping_sub(1)).map_or(0, |r| r.delta)
            }
            Times::Dense { deltas, .. } => deltas.get(i as usize).copied().unwrap_or(0),
        }
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            Times::Runs(runs) => runs.capacity() * size_of::<Run>(),
            Times::Dense { deltas, checkpoints } => deltas.capacity() * 4 + checkpoints.capacity() * 8,
        }
    }
}

/// The dense form of `runs`, which cover exactly `count` samples.
fn dense(runs: &[Run], count: u32) -> Times {
    let mut deltas = Vec::with_capacity(count as usize);
    for (i, run) in runs.iter().enumerate() {
        let end = runs.get(i + 1).map_or(count, |next| next.first_sample);
        deltas.extend(std::iter::repeat_n(run.delta, (end - run.first_sample) as usize));
    }
    let mut checkpoints = Vec::with_capacity(deltas.len() / STRIDE + 1);
    let mut dts = 0u64;
    for chunk in deltas.chunks(STRIDE) {
        checkpoints.push(dts);
        dts += chunk.iter().map(|&d| u64::from(d)).sum::<u64>();
    }
    Times::Dense { deltas, checkpoints }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stts(entries: &[(u32, u32)]) -> Vec<u8> {
        let mut body = vec![0, 0, 0, 0];
        body.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        for (n, d) in entries {
            body.extend_from_slice(&n.to_be_bytes());
            body.extend_from_slice(&d.to_be_bytes());
        }
        body
    }

    #[test]
    fn runs_and_dense_agree() {
        // Constant: one run. Varying every sample (a variable frame rate): dense.
        let constant = stts(&[(1000, 512)]);
        let varying: Vec<(u32, u32)> = (0..1000).map(|i| (1, 500 + i % 7)).collect();
        let (times, total) = Times::parse(&constant, 1000).unwrap();
        assert!(matches!(times, Times::Runs(_)));
        assert_eq!((times.dts(999), times.delta(999), total), (999 * 512, 512, 1000 * 512));
        let (times, total) = Times::parse(&stts(&varying), 1000).unwrap();
        assert!(matches!(times, Times::Dense { .. }));
        assert!(times.heap_bytes() <= 1000 * 4 + 16 * 8 + 64);
        let mut dts = 0u64;
        for i in 0..1000u32 {
            assert_eq!((times.dts(i), times.delta(i)), (dts, 500 + i % 7), "sample {i}");
            dts += u64::from(500 + i % 7);
        }
        assert_eq!(total, dts);
    }
}
