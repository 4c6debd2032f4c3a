//! CMAF fragmented MP4: the init segment of a track (its sample entry copied byte for byte, so
//! boxes this packager does not read survive) and each media segment's `moof` and `mdat` header,
//! with the sample bytes left in the source file as `(offset, length)` runs for the caller to
//! read. Lengths are computed exactly without building anything, for HEAD and ranges.

use super::Segmentation;
use super::boxes::{write_box, write_full_box};
use super::index::{Track, TrackKind};

/// A media segment: the bytes written here, then the sample data read from the source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSegment {
    /// `moof` and the `mdat` header (8 bytes, or 16 with a 64-bit size).
    pub header: Vec<u8>,
    /// `(file offset, length)` of the sample data, in order, adjacent runs coalesced.
    pub runs: Vec<(u64, u64)>,
}

impl MediaSegment {
    /// Total length: the header and every run.
    pub fn len(&self) -> u64 {
        self.header.len() as u64 + self.runs.iter().map(|r| r.1).sum::<u64>()
    }

    /// Never true: a segment has at least its `moof`.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// The identity matrix of `mvhd` and `tkhd`.
const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];
/// `trun` flags: data offset, then per sample duration and size (and flags and composition
/// offset for video).
const TRUN_AUDIO: u32 = 0x000001 | 0x000100 | 0x000200;
const TRUN_VIDEO: u32 = TRUN_AUDIO | 0x000400 | 0x000800;
/// Sample flags: a sync sample depends on no other; any other depends on others and is not sync.
const SYNC: u32 = 0x0200_0000;
const NON_SYNC: u32 = 0x0101_0000;
/// `tfhd` flags: default-base-is-moof, and (audio) default sample flags present.
const TFHD_BASE_IS_MOOF: u32 = 0x020000;
const TFHD_DEFAULT_FLAGS: u32 = 0x000020;

/// The init segment of `track`: `ftyp` and a `moov` with no samples and a `trex`.
pub fn init_segment(track: &Track) -> Vec<u8> {
    let mut out = Vec::with_capacity(track.sample_entry.len() + 700);
    write_box(&mut out, b"ftyp", |o| {
        for brand in [b"iso6", b"\0\0\0\0", b"iso6", b"cmfc", b"dash", b"mp41"] {
            o.extend_from_slice(brand);
        }
    });
    write_box(&mut out, b"moov", |o| {
        write_full_box(o, b"mvhd", 0, 0, |o| {
            put(o, &[0, 0, track.timescale, 0, 0x0001_0000]);
            o.extend_from_slice(&[0x01, 0x00, 0, 0]); // volume, reserved
            o.extend_from_slice(&[0; 8]);
            put(o, &MATRIX);
            o.extend_from_slice(&[0; 24]);
            put(o, &[track.id.saturating_add(1)]);
        });
        write_box(o, b"trak", |o| trak(o, track));
        write_box(o, b"mvex", |o| {
            write_full_box(o, b"trex", 0, 0, |o| put(o, &[track.id, 1, 0, 0, 0]));
        });
    });
    out
}

fn trak(o: &mut Vec<u8>, track: &Track) {
    let (width, height, volume) = match track.kind {
        TrackKind::Video { width, height } => (width, height, 0u16),
        TrackKind::Audio { .. } => (0, 0, 0x0100),
    };
    write_full_box(o, b"tkhd", 0, 3, |o| {
        put(o, &[0, 0, track.id, 0, 0, 0, 0]);
        o.extend_from_slice(&[0, 0, 0, 0]); // layer, alternate group
        o.extend_from_slice(&volume.to_be_bytes());
        o.extend_from_slice(&[0, 0]);
        put(o, &MATRIX);
        put(o, &[width.saturating_mul(0x10000), height.saturating_mul(0x10000)]);
    });
    write_box(o, b"mdia", |o| {
        write_full_box(o, b"mdhd", 0, 0, |o| {
            put(o, &[0, 0, track.timescale, 0]);
            o.extend_from_slice(&pack_language(track.language.as_deref()).to_be_bytes());
            o.extend_from_slice(&[0, 0]);
        });
        let (handler, name): (&[u8; 4], &[u8]) =
            if track.is_video() { (b"vide", b"VideoHandler\0") } else { (b"soun", b"SoundHandler\0") };
        write_full_box(o, b"hdlr", 0, 0, |o| {
            put(o, &[0]);
            o.extend_from_slice(handler);
            o.extend_from_slice(&[0; 12]);
            o.extend_from_slice(name);
        });
        write_box(o, b"minf", |o| minf(o, track));
    });
}

fn minf(o: &mut Vec<u8>, track: &Track) {
    if track.is_video() {
        write_full_box(o, b"vmhd", 0, 1, |o| o.extend_from_slice(&[0; 8]));
    } else {
        write_full_box(o, b"smhd", 0, 0, |o| o.extend_from_slice(&[0; 4]));
    }
    write_box(o, b"dinf", |o| {
        write_full_box(o, b"dref", 0, 0, |o| {
            put(o, &[1]);
            write_full_box(o, b"url ", 0, 1, |_| {});
        });
    });
    write_box(o, b"stbl", |o| {
        write_full_box(o, b"stsd", 0, 0, |o| {
            put(o, &[1]);
            o.extend_from_slice(&track.sample_entry);
        });
        write_full_box(o, b"stts", 0, 0, |o| put(o, &[0]));
        write_full_box(o, b"stsc", 0, 0, |o| put(o, &[0]));
        write_full_box(o, b"stsz", 0, 0, |o| put(o, &[0, 0]));
        write_full_box(o, b"stco", 0, 0, |o| put(o, &[0]));
    });
}

/// Media segment `n` of `track`, or `None` when `n` is not a segment.
pub fn media_segment(track: &Track, seg: &Segmentation, n: u32) -> Option<MediaSegment> {
    if n > seg.count_for(track) {
        return None;
    }
    seg.bounds(n)?;
    let range = seg.samples(track, n);
    let payload = track.table.bytes(range.clone());
    let (moof_len, mdat_header) = header_lens(track, range.len() as u64, payload);
    let mut header = Vec::with_capacity(usize::try_from(moof_len + mdat_header).unwrap_or(0));
    let mut runs: Vec<(u64, u64)> = Vec::new();
    write_box(&mut header, b"moof", |o| {
        write_full_box(o, b"mfhd", 0, 0, |o| put(o, &[n]));
        write_box(o, b"traf", |o| {
            if track.is_video() {
                write_full_box(o, b"tfhd", 0, TFHD_BASE_IS_MOOF, |o| put(o, &[track.id]));
            } else {
                write_full_box(o, b"tfhd", 0, TFHD_BASE_IS_MOOF | TFHD_DEFAULT_FLAGS, |o| put(o, &[track.id, SYNC]));
            }
            write_full_box(o, b"tfdt", 1, 0, |o| o.extend_from_slice(&track.table.dts(range.start).to_be_bytes()));
            let (version, flags) = if track.is_video() { (1, TRUN_VIDEO) } else { (0, TRUN_AUDIO) };
            write_full_box(o, b"trun", version, flags, |o| {
                // The data offset (from the moof's start) fits: moof is at most 16 bytes a sample.
                let data_offset = u32::try_from(moof_len + mdat_header).unwrap_or(u32::MAX);
                put(o, &[range.len() as u32, data_offset]);
                for s in track.samples(range.clone()) {
                    put(o, &[s.duration, s.size]);
                    if track.is_video() {
                        let cts =
                            (i64::from(s.cts_offset) - track.delay).clamp(i64::from(i32::MIN), i64::from(i32::MAX));
                        put(o, &[if s.is_sync { SYNC } else { NON_SYNC }, cts as i32 as u32]);
                    }
                    match runs.last_mut() {
                        Some(last) if last.0 + last.1 == s.offset => last.1 += u64::from(s.size),
                        _ if s.size == 0 => {}
                        _ => runs.push((s.offset, u64::from(s.size))),
                    }
                }
            });
        });
    });
    write_mdat_header(&mut header, payload, mdat_header);
    Some(MediaSegment { header, runs })
}

/// The length [`media_segment`] would give, without building it.
pub fn media_segment_len(track: &Track, seg: &Segmentation, n: u32) -> Option<u64> {
    if n > seg.count_for(track) {
        return None;
    }
    seg.bounds(n)?;
    let range = seg.samples(track, n);
    let payload = track.table.bytes(range.clone());
    let (moof, mdat) = header_lens(track, range.len() as u64, payload);
    Some(moof + mdat + payload)
}

/// Lengths of the `moof` and of the `mdat` header for `samples` samples of `payload` bytes.
fn header_lens(track: &Track, samples: u64, payload: u64) -> (u64, u64) {
    let (tfhd, per_sample) = if track.is_video() { (16, 16) } else { (20, 8) };
    // moof header, mfhd, traf header, tfhd, tfdt v1, trun with count and data offset.
    let moof = 8 + 16 + 8 + tfhd + 20 + 20 + samples * per_sample;
    let mdat = if payload + 8 > u64::from(u32::MAX) { 16 } else { 8 };
    (moof, mdat)
}

fn write_mdat_header(out: &mut Vec<u8>, payload: u64, header_len: u64) {
    if header_len == 16 {
        put(out, &[1]);
        out.extend_from_slice(b"mdat");
        out.extend_from_slice(&(payload + 16).to_be_bytes());
    } else {
        put(out, &[(payload + 8) as u32]);
        out.extend_from_slice(b"mdat");
    }
}

/// Appends big-endian 32-bit words.
fn put(out: &mut Vec<u8>, words: &[u32]) {
    for w in words {
        out.extend_from_slice(&w.to_be_bytes());
    }
}

/// ISO 639-2 as `mdhd` packs it: three 5-bit letters; `und` when unknown.
fn pack_language(language: Option<&str>) -> u16 {
    let code = language.filter(|l| l.len() == 3 && l.bytes().all(|c| c.is_ascii_lowercase())).unwrap_or("und");
    code.bytes().fold(0u16, |acc, c| (acc << 5) | u16::from(c - 0x60))
}

#[cfg(test)]
mod tests;
