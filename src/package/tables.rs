//! A track's sample tables (`stts`, `ctts`, `stss`, `stsc`, `stsz`, `stco`/`co64`) checked
//! against each other and the file's length, and kept compact: 4 bytes a sample for sizes, 4
//! for composition offsets when the track has them, 8 a chunk, and timing as [`Times`] — about
//! 3.5 MB for a 2-hour film instead of the 7–13 MB a decoded `moov` holds.

use std::ops::Range;

use super::boxes::{Reader, find};
use super::times::Times;
use super::{Limits, PackageError};

/// Chunks with the same number of samples, from `first_chunk` (0-based) to the next run's.
#[derive(Debug, Clone, Copy)]
struct ChunkRun {
    first_chunk: u32,
    first_sample: u32,
    per_chunk: u32,
}

/// One sample, as a segment needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sample {
    pub dts: u64,
    pub duration: u32,
    pub size: u32,
    pub cts_offset: i32,
    pub is_sync: bool,
    pub offset: u64,
}

/// The compact index of one track's samples.
#[derive(Debug, Clone, Default)]
pub(crate) struct SampleTable {
    sizes: Vec<u32>,
    chunk_offsets: Vec<u64>,
    chunks: Vec<ChunkRun>,
    times: Times,
    /// Per-sample composition offsets; empty when the track has no `ctts`.
    cts: Vec<i32>,
    /// Sorted 0-based sync samples; `None` when every sample is one (no `stss`).
    sync: Option<Vec<u32>>,
    duration: u64,
}

impl SampleTable {
    /// Parses and cross-checks the tables of an `stbl` body.
    pub fn parse(stbl: &[u8], file_len: u64, limits: &Limits) -> Result<SampleTable, PackageError> {
        if find(stbl, b"stz2")?.is_some() {
            return Err(PackageError::Unsupported("compact sample sizes (stz2)".into()));
        }
        let sizes = parse_stsz(find(stbl, b"stsz")?.ok_or(PackageError::Invalid("stsz missing"))?, file_len, limits)?;
        let count = sizes.len() as u32; // ≤ max_samples (u32)
        let (times, duration) =
            Times::parse(find(stbl, b"stts")?.ok_or(PackageError::Invalid("stts missing"))?, count)?;
        let cts = match find(stbl, b"ctts")? {
            Some(body) => parse_ctts(body, count)?,
            None => Vec::new(),
        };
        let sync = find(stbl, b"stss")?.map(|body| parse_stss(body, count)).transpose()?;
        let chunk_offsets = match (find(stbl, b"stco")?, find(stbl, b"co64")?) {
            (Some(body), _) => parse_offsets(body, false)?,
            (None, Some(body)) => parse_offsets(body, true)?,
            (None, None) => return Err(PackageError::Invalid("stco missing")),
        };
        let chunks =
            parse_stsc(find(stbl, b"stsc")?.ok_or(PackageError::Invalid("stsc missing"))?, &chunk_offsets, count)?;
        let table = SampleTable { sizes, chunk_offsets, chunks, times, cts, sync, duration };
        table.check_within(file_len)?;
        Ok(table)
    }

    /// Every sample's bytes lie inside the file.
    fn check_within(&self, file_len: u64) -> Result<(), PackageError> {
        for s in self.samples(0..self.count()) {
            if s.offset.checked_add(u64::from(s.size)).is_none_or(|end| end > file_len) {
                return Err(PackageError::Invalid("sample data past the end of the file"));
            }
        }
        Ok(())
    }

    pub fn count(&self) -> u32 {
        self.sizes.len() as u32
    }

    /// Sum of all sample durations.
    pub fn duration(&self) -> u64 {
        self.duration
    }

    /// Sum of the sizes of samples in `range`.
    pub fn bytes(&self, range: Range<u32>) -> u64 {
        let slice = self.sizes.get(range.start as usize..range.end as usize).unwrap_or(&[]);
        slice.iter().map(|&s| u64::from(s)).sum()
    }

    pub fn first_cts_offset(&self) -> i32 {
        self.cts.first().copied().unwrap_or(0)
    }

    /// Decode time of sample `i`; `duration()` for `i == count()`.
    pub fn dts(&self, i: u32) -> u64 {
        if i >= self.count() {
            return self.duration;
        }
        self.times.dts(i)
    }

    /// The sync samples (0-based, sorted), or `None` when every sample is one.
    pub fn sync_samples(&self) -> Option<&[u32]> {
        self.sync.as_deref()
    }

    /// Memory held on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.sizes.capacity() * 4
            + self.chunk_offsets.capacity() * 8
            + self.chunks.capacity() * size_of::<ChunkRun>()
            + self.times.heap_bytes()
            + self.cts.capacity() * 4
            + self.sync.as_ref().map_or(0, |s| s.capacity() * 4)
    }

    /// The samples in `range` (clamped to the track), in decode order.
    pub fn samples(&self, range: Range<u32>) -> SampleIter<'_> {
        let end = range.end.min(self.count());
        let start = range.start.min(end);
        let run = self.chunks.partition_point(|r| r.first_sample <= start).saturating_sub(1);
        let (chunk, within) = match self.chunks.get(run) {
            Some(r) if r.per_chunk > 0 => {
                let k = start - r.first_sample;
                (r.first_chunk.saturating_add(k / r.per_chunk), k % r.per_chunk)
            }
            _ => (0, 0),
        };
        let base = self.chunk_offsets.get(chunk as usize).copied().unwrap_or(0);
        let offset = base + self.bytes(start - within..start);
        let sync_pos = self.sync.as_ref().map_or(0, |s| s.partition_point(|&x| x < start));
        SampleIter { table: self, next: start, end, run, chunk, within, offset, dts: self.dts(start), sync_pos }
    }
}

/// Walks samples forward, carrying the chunk and sync positions so each step is O(1).
pub(crate) struct SampleIter<'a> {
    table: &'a SampleTable,
    next: u32,
    end: u32,
    run: usize,
    chunk: u32,
    within: u32,
    offset: u64,
    dts: u64,
    sync_pos: usize,
}

impl Iterator for SampleIter<'_> {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        if self.next >= self.end {
            return None;
        }
        let t = self.table;
        let i = self.next;
        let size = t.sizes.get(i as usize).copied().unwrap_or(0);
        let is_sync = match &t.sync {
            None => true,
            Some(sync) => {
                let hit = sync.get(self.sync_pos) == Some(&i);
                self.sync_pos += usize::from(hit);
                hit
            }
        };
        let (dts, duration) = (self.dts, t.times.delta(i));
        self.dts = self.dts.saturating_add(u64::from(duration));
        let cts_offset = t.cts.get(i as usize).copied().unwrap_or(0);
        let sample = Sample { dts, duration, size, cts_offset, is_sync, offset: self.offset };
        self.advance(size);
        Some(sample)
    }
}

impl SampleIter<'_> {
    fn advance(&mut self, size: u32) {
        let t = self.table;
        self.next += 1;
        self.within += 1;
        self.offset = self.offset.saturating_add(u64::from(size));
        let per_chunk = t.chunks.get(self.run).map_or(u32::MAX, |r| r.per_chunk);
        if self.within >= per_chunk {
            self.within = 0;
            self.chunk = self.chunk.saturating_add(1);
            if t.chunks.get(self.run + 1).is_some_and(|r| r.first_chunk <= self.chunk) {
                self.run += 1;
            }
            self.offset = t.chunk_offsets.get(self.chunk as usize).copied().unwrap_or(0);
        }
    }
}

fn parse_stsz(body: &[u8], file_len: u64, limits: &Limits) -> Result<Vec<u32>, PackageError> {
    let mut r = Reader::new(body, "stsz");
    r.version_flags()?;
    let fixed = r.u32()?;
    let count = r.u32()?;
    if count > limits.max_samples {
        return Err(PackageError::TooManySamples);
    }
    if fixed != 0 {
        // Not backed by table bytes: bounded by the cap above and by the file holding them all.
        if u64::from(count) * u64::from(fixed) > file_len {
            return Err(PackageError::Invalid("stsz"));
        }
        return Ok(vec![fixed; count as usize]);
    }
    if (count as usize).saturating_mul(4) > r.remaining() {
        return Err(PackageError::Invalid("stsz"));
    }
    let mut sizes = Vec::with_capacity(count as usize);
    for _ in 0..count {
        sizes.push(r.u32()?);
    }
    Ok(sizes)
}

fn parse_ctts(body: &[u8], count: u32) -> Result<Vec<i32>, PackageError> {
    let mut r = Reader::new(body, "ctts");
    r.version_flags()?;
    let entries = r.count(8)?;
    let mut cts = Vec::with_capacity(count as usize); // count is backed by stsz's bytes
    for _ in 0..entries {
        let n = r.u32()?;
        // Version 0 offsets are unsigned, but writers put negative ones there too; read both as
        // signed, as ffmpeg does.
        let offset = r.u32()? as i32;
        if n as usize > count as usize - cts.len() {
            return Err(PackageError::Invalid("ctts: more samples than stsz"));
        }
        cts.extend(std::iter::repeat_n(offset, n as usize));
    }
    // Some writers leave the last samples out; they take the last offset (as ffmpeg reads it).
    let last = cts.last().copied().unwrap_or(0);
    cts.resize(count as usize, last);
    Ok(cts)
}

fn parse_stss(body: &[u8], count: u32) -> Result<Vec<u32>, PackageError> {
    let mut r = Reader::new(body, "stss");
    r.version_flags()?;
    let entries = r.count(4)?;
    let mut sync = Vec::with_capacity(entries as usize);
    for _ in 0..entries {
        let one_based = r.u32()?;
        if one_based == 0 || one_based > count || sync.last().is_some_and(|&l: &u32| l >= one_based - 1) {
            return Err(PackageError::Invalid("stss: sample number out of order or range"));
        }
        sync.push(one_based - 1);
    }
    Ok(sync)
}

fn parse_offsets(body: &[u8], wide: bool) -> Result<Vec<u64>, PackageError> {
    let what = if wide { "co64" } else { "stco" };
    let mut r = Reader::new(body, what);
    r.version_flags()?;
    let entries = r.count(if wide { 8 } else { 4 })?;
    let mut offsets = Vec::with_capacity(entries as usize); // backed by the bytes: `count`
    for _ in 0..entries {
        offsets.push(if wide { r.u64()? } else { u64::from(r.u32()?) });
    }
    Ok(offsets)
}

fn parse_stsc(body: &[u8], offsets: &[u64], count: u32) -> Result<Vec<ChunkRun>, PackageError> {
    let mut r = Reader::new(body, "stsc");
    r.version_flags()?;
    let entries = r.count(12)?;
    let mut raw: Vec<(u32, u32)> = Vec::with_capacity(entries as usize);
    for _ in 0..entries {
        let (first_chunk, per_chunk, description) = (r.u32()?, r.u32()?, r.u32()?);
        if description != 1 {
            return Err(PackageError::Unsupported("more than one sample description".into()));
        }
        let ordered = raw.last().map_or(first_chunk == 1, |&(prev, _)| first_chunk > prev);
        if !ordered || first_chunk as usize > offsets.len() || per_chunk == 0 {
            return Err(PackageError::Invalid("stsc"));
        }
        raw.push((first_chunk, per_chunk));
    }
    let mut runs = Vec::with_capacity(raw.len());
    let mut sample = 0u64;
    for (i, &(first_chunk, per_chunk)) in raw.iter().enumerate() {
        let next_chunk = raw.get(i + 1).map_or(offsets.len() as u64 + 1, |n| u64::from(n.0));
        if sample < u64::from(count) {
            runs.push(ChunkRun { first_chunk: first_chunk - 1, first_sample: sample as u32, per_chunk });
        }
        sample = sample.saturating_add((next_chunk - u64::from(first_chunk)).saturating_mul(u64::from(per_chunk)));
    }
    if sample < u64::from(count) {
        return Err(PackageError::Invalid("stsc: chunks hold fewer samples than stsz"));
    }
    Ok(runs)
}

#[cfg(test)]
mod tests;
