//! The compact index of a file's `moov`: its packageable tracks, each with the raw sample entry
//! (copied byte for byte into init segments, so HDR and Dolby Vision boxes survive) and the
//! sample tables of [`tables`](super::tables). Tracks this packager cannot serve are refused,
//! not passed through, and listed in [`MediaIndex::skipped`] with the reason.

use super::boxes::{Reader, children, find, header, require};
use super::entry::{self, Entry};
use super::tables::{SampleIter, SampleTable};
use super::{Limits, PackageError};

/// A parsed `moov`: the tracks that can be packaged, and why the others were skipped.
#[derive(Debug, Clone)]
pub struct MediaIndex {
    /// Video and audio tracks in file order; never empty.
    pub tracks: Vec<Track>,
    /// One line per refused track, e.g. `track 3: unsupported: codec ac-3`.
    pub skipped: Vec<String>,
}

/// One video or audio track.
#[derive(Debug, Clone)]
pub struct Track {
    /// `tkhd` track id.
    pub id: u32,
    /// Video or audio, with picture size or channels.
    pub kind: TrackKind,
    /// RFC 6381 codec string: `avc1.64001f`, `hvc1.1.6.L93.B0`, `mp4a.40.2`.
    pub codec: String,
    /// Ticks per second of the track's times (`mdhd`).
    pub timescale: u32,
    /// ISO 639-2 language from `mdhd`; `None` for `und`.
    pub language: Option<String>,
    /// Average bits per second: all sample bytes over the duration.
    pub bitrate: u64,
    /// Peak bits per second over one-second windows of decode time (manifests use the peak
    /// over segments, [`Segmentation::peak_bitrate`](super::Segmentation::peak_bitrate)).
    pub max_bitrate: u64,
    pub(crate) table: SampleTable,
    /// The `stsd` child, header included.
    pub(crate) sample_entry: Vec<u8>,
    /// Subtracted from composition offsets so the first frame presents at 0.
    pub(crate) delay: i64,
}

/// What kind of track, and its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    /// A video track.
    Video {
        /// Picture width in pixels (sample entry).
        width: u32,
        /// Picture height in pixels.
        height: u32,
    },
    /// An audio track.
    Audio {
        /// Channel count.
        channels: u16,
        /// Samples per second.
        sample_rate: u32,
    },
}

impl MediaIndex {
    /// Parses a whole `moov` box (header included) from a file of `file_len` bytes.
    pub fn parse(moov: &[u8], file_len: u64, limits: &Limits) -> Result<MediaIndex, PackageError> {
        let h = header(moov)?.ok_or(PackageError::Invalid("moov header"))?;
        if &h.kind != b"moov" {
            return Err(PackageError::Invalid("moov header"));
        }
        let end = h.len.map_or(Some(moov.len()), |l| usize::try_from(l).ok()).filter(|&e| e <= moov.len());
        let body = end.and_then(|e| moov.get(h.header_len as usize..e)).ok_or(PackageError::Invalid("moov size"))?;
        let mut index = MediaIndex { tracks: Vec::new(), skipped: Vec::new() };
        let mut budget = *limits;
        let mut traks = 0usize;
        for child in children(body) {
            let child = child?;
            if &child.kind != b"trak" {
                continue;
            }
            traks += 1;
            if traks > limits.max_tracks {
                return Err(PackageError::TooManySamples);
            }
            match parse_trak(child.body, file_len, &budget) {
                Ok(track) => {
                    budget.max_samples -= track.sample_count(); // ≤ budget, checked by the stsz parse
                    index.tracks.push(track);
                }
                Err(Skip(id, reason)) => index.skipped.push(format!("track {id}: {reason}")),
                Err(Fail(e)) => return Err(e),
            }
        }
        if index.tracks.is_empty() {
            return Err(PackageError::NoTracks);
        }
        Ok(index)
    }

    /// Heap memory held, for a cache's weigher.
    pub fn heap_bytes(&self) -> usize {
        let skipped: usize = self.skipped.iter().map(String::capacity).sum();
        let tracks: usize = self.tracks.iter().map(Track::heap_bytes).sum();
        self.tracks.capacity() * size_of::<Track>() + self.skipped.capacity() * size_of::<String>() + skipped + tracks
    }

    /// The track with this id.
    pub fn track(&self, id: u32) -> Option<&Track> {
        self.tracks.iter().find(|t| t.id == id)
    }

    /// The first video track, else the first audio track. Panics only on an index with no
    /// tracks, which [`MediaIndex::parse`] never returns.
    pub fn main_track(&self) -> &Track {
        self.tracks.iter().find(|t| t.is_video()).unwrap_or(&self.tracks[0])
    }
}

impl Track {
    /// Number of samples.
    pub fn sample_count(&self) -> u32 {
        self.table.count()
    }

    /// Sum of sample durations, in [`Track::timescale`] ticks.
    pub fn duration(&self) -> u64 {
        self.table.duration()
    }

    /// Frames per second × 1000, rounded, for video tracks.
    pub fn frame_rate_milli(&self) -> Option<u32> {
        if !self.is_video() || self.duration() == 0 {
            return None;
        }
        let num = u128::from(self.sample_count()) * u128::from(self.timescale) * 1000;
        let d = u128::from(self.duration());
        u32::try_from((num + d / 2) / d).ok()
    }

    /// Whether this is a video track.
    pub fn is_video(&self) -> bool {
        matches!(self.kind, TrackKind::Video { .. })
    }

    /// Heap memory held.
    pub fn heap_bytes(&self) -> usize {
        self.table.heap_bytes()
            + self.sample_entry.capacity()
            + self.codec.capacity()
            + self.language.as_ref().map_or(0, String::capacity)
    }

    /// The samples in `range`, in decode order.
    pub(crate) fn samples(&self, range: std::ops::Range<u32>) -> SampleIter<'_> {
        self.table.samples(range)
    }
}

/// Why a `trak` gave no track: skipped with a reason, or the whole file refused.
enum TrakError {
    Skip(u32, PackageError),
    Fail(PackageError),
}
use TrakError::{Fail, Skip};

fn parse_trak(trak: &[u8], file_len: u64, limits: &Limits) -> Result<Track, TrakError> {
    let id = track_id(require(trak, b"tkhd", "tkhd missing").map_err(Fail)?).map_err(Fail)?;
    let mdia = require(trak, b"mdia", "mdia missing").map_err(Fail)?;
    let handler = handler(require(mdia, b"hdlr", "hdlr missing").map_err(Fail)?).map_err(Fail)?;
    if &handler != b"vide" && &handler != b"soun" {
        return Err(Skip(id, PackageError::Unsupported(format!("handler {}", entry::fourcc(&handler)))));
    }
    let (timescale, language) = mdhd(require(mdia, b"mdhd", "mdhd missing").map_err(Fail)?).map_err(Fail)?;
    let minf = require(mdia, b"minf", "minf missing").map_err(Fail)?;
    let stbl = require(minf, b"stbl", "stbl missing").map_err(Fail)?;
    let sample_entry = first_sample_entry(require(stbl, b"stsd", "stsd missing").map_err(Fail)?).map_err(Fail)?;
    let classify = |e: PackageError| match e {
        PackageError::Unsupported(_) => Skip(id, e),
        e => Fail(e),
    };
    let parsed = entry::parse(sample_entry).map_err(classify)?;
    let table = SampleTable::parse(stbl, file_len, limits).map_err(classify)?;
    let (kind, codec) = match (parsed, &handler) {
        (Entry::Video { codec, width, height }, b"vide") => (TrackKind::Video { width, height }, codec),
        (Entry::Audio { codec, channels, sample_rate }, b"soun") => (TrackKind::Audio { channels, sample_rate }, codec),
        _ => return Err(Skip(id, PackageError::Unsupported("sample entry does not match handler".into()))),
    };
    if table.count() == 0 {
        return Err(Skip(id, PackageError::Unsupported("no samples".into())));
    }
    if table.duration() == 0 {
        return Err(Fail(PackageError::Invalid("zero-duration track")));
    }
    let delay = if handler == *b"vide" { presentation_delay(trak, &table).map_err(Fail)? } else { 0 };
    let mut track = Track {
        id,
        kind,
        codec,
        timescale,
        language,
        bitrate: 0,
        max_bitrate: 0,
        table,
        sample_entry: sample_entry.to_vec(),
        delay,
    };
    track.bitrate = bits_per_second(track.table.bytes(0..track.sample_count()), track.duration(), timescale);
    track.max_bitrate = peak_per_second(&track).max(track.bitrate);
    Ok(track)
}

/// What to subtract from a video track's composition offsets so its first frame presents at 0:
/// the media time of its edit list's first edit, else the first sample's offset. Audio keeps its
/// decode times (the AAC priming edit is ignored, as nginx-vod-module does).
fn presentation_delay(trak: &[u8], table: &SampleTable) -> Result<i64, PackageError> {
    let edit = find(trak, b"edts")?.map(media_time).transpose()?.flatten();
    Ok(edit.unwrap_or(i64::from(table.first_cts_offset())).clamp(0, i64::from(i32::MAX)))
}

/// `bytes` over `ticks` at `timescale`, in bits per second (0 for no time).
pub(crate) fn bits_per_second(bytes: u64, ticks: u64, timescale: u32) -> u64 {
    if ticks == 0 {
        return 0;
    }
    let bits = u128::from(bytes) * 8 * u128::from(timescale);
    u64::try_from(bits / u128::from(ticks)).unwrap_or(u64::MAX)
}

/// The most bytes in any whole one-second window of decode time, as bits per second.
fn peak_per_second(track: &Track) -> u64 {
    let second = u64::from(track.timescale);
    let (mut window, mut bytes, mut peak) = (0u64, 0u64, 0u64);
    for s in track.samples(0..track.sample_count()) {
        if s.dts / second != window {
            peak = peak.max(bytes * 8);
            (window, bytes) = (s.dts / second, 0);
        }
        bytes += u64::from(s.size);
    }
    // The last window is partial unless the track ends on a second.
    if track.duration().is_multiple_of(second) { peak.max(bytes * 8) } else { peak }
}

fn track_id(tkhd: &[u8]) -> Result<u32, PackageError> {
    let mut r = Reader::new(tkhd, "tkhd");
    let (version, _) = r.version_flags()?;
    r.skip(if version == 1 { 16 } else { 8 })?;
    r.u32()
}

fn handler(hdlr: &[u8]) -> Result<[u8; 4], PackageError> {
    let mut r = Reader::new(hdlr, "hdlr");
    r.skip(8)?;
    let b = r.take(4)?;
    Ok([b[0], b[1], b[2], b[3]])
}

/// Timescale (never 0) and language (`None` for `und` or an unreadable code).
fn mdhd(mdhd: &[u8]) -> Result<(u32, Option<String>), PackageError> {
    let mut r = Reader::new(mdhd, "mdhd");
    let (version, _) = r.version_flags()?;
    r.skip(if version == 1 { 16 } else { 8 })?;
    let timescale = r.u32()?;
    r.skip(if version == 1 { 8 } else { 4 })?;
    let packed = r.u16()?;
    if timescale == 0 {
        return Err(PackageError::Invalid("mdhd timescale"));
    }
    let code: String = [10u16, 5, 0].iter().map(|s| char::from(((packed >> s) & 0x1f) as u8 + 0x60)).collect();
    let language = (code != "und" && code.chars().all(|c| c.is_ascii_lowercase())).then_some(code);
    Ok((timescale, language))
}

/// The first (and only used) sample entry, header included.
fn first_sample_entry(stsd: &[u8]) -> Result<&[u8], PackageError> {
    let mut r = Reader::new(stsd, "stsd");
    r.version_flags()?;
    if r.u32()? == 0 {
        return Err(PackageError::Invalid("stsd empty"));
    }
    let rest = r.rest();
    let h = header(rest)?.ok_or(PackageError::Invalid("stsd"))?;
    let len = h
        .len
        .and_then(|l| usize::try_from(l).ok())
        .filter(|&l| l <= rest.len())
        .ok_or(PackageError::Invalid("stsd"))?;
    Ok(&rest[..len])
}

/// The media time where the first non-empty edit starts, in media ticks.
fn media_time(edts: &[u8]) -> Result<Option<i64>, PackageError> {
    let Some(elst) = find(edts, b"elst")? else { return Ok(None) };
    let mut r = Reader::new(elst, "elst");
    let (version, _) = r.version_flags()?;
    let entries = r.count(if version == 1 { 20 } else { 12 })?;
    for _ in 0..entries {
        let time = if version == 1 {
            r.skip(8)?;
            r.u64()? as i64
        } else {
            r.skip(4)?;
            i64::from(r.u32()? as i32)
        };
        r.skip(4)?;
        if time >= 0 {
            return Ok(Some(time));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests;
