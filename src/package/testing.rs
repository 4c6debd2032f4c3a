//! Synthetic `moov` boxes for tests: tracks described sample by sample, written as real boxes so
//! tests go through the same parser as files do.

use super::boxes::{write_box, write_full_box};
use super::{Limits, MediaIndex};

/// One sample: duration, size, composition offset, sync.
pub type S = (u32, u32, i32, bool);

/// A track to write.
pub struct Spec {
    pub id: u32,
    pub video: bool,
    pub timescale: u32,
    pub language: &'static str,
    pub samples: Vec<S>,
    pub per_chunk: u32,
    /// Where the track's sample data starts in the (imaginary) file.
    pub data_at: u64,
}

/// `count` samples of `duration`, sync every `gop` (0: all sync), 100 bytes each.
pub fn regular(count: u32, duration: u32, gop: u32) -> Vec<S> {
    (0..count).map(|i| (duration, 100, 0, gop == 0 || i % gop == 0)).collect()
}

pub fn video(id: u32, samples: Vec<S>) -> Spec {
    Spec { id, video: true, timescale: 12800, language: "und", samples, per_chunk: 5, data_at: 1000 }
}

pub fn audio(id: u32, language: &'static str, samples: Vec<S>) -> Spec {
    Spec { id, video: false, timescale: 48000, language, samples, per_chunk: 10, data_at: 10_000_000 }
}

/// Parses the `moov` of `specs` in a 100 MB file.
pub fn index(specs: &[Spec]) -> MediaIndex {
    MediaIndex::parse(&moov(specs), 100_000_000, &Limits::default()).expect("synthetic moov parses")
}

pub fn moov(specs: &[Spec]) -> Vec<u8> {
    let mut out = Vec::new();
    write_box(&mut out, b"moov", |o| {
        for spec in specs {
            write_box(o, b"trak", |o| trak(o, spec));
        }
    });
    out
}

fn words(o: &mut Vec<u8>, w: &[u32]) {
    for w in w {
        o.extend_from_slice(&w.to_be_bytes());
    }
}

fn trak(o: &mut Vec<u8>, s: &Spec) {
    write_full_box(o, b"tkhd", 0, 3, |o| words(o, &[0, 0, s.id, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    write_box(o, b"mdia", |o| {
        let lang = s.language.bytes().fold(0u32, |a, c| (a << 5) | u32::from(c - 0x60));
        write_full_box(o, b"mdhd", 0, 0, |o| words(o, &[0, 0, s.timescale, 0, lang << 16]));
        write_full_box(o, b"hdlr", 0, 0, |o| {
            words(o, &[0]);
            o.extend_from_slice(if s.video { b"vide" } else { b"soun" });
            words(o, &[0, 0, 0, 0]);
        });
        write_box(o, b"minf", |o| write_box(o, b"stbl", |o| stbl(o, s)));
    });
}

fn stbl(o: &mut Vec<u8>, s: &Spec) {
    write_full_box(o, b"stsd", 0, 0, |o| {
        words(o, &[1]);
        if s.video { avc1(o) } else { mp4a(o) }
    });
    write_full_box(o, b"stts", 0, 0, |o| {
        words(o, &[s.samples.len() as u32]);
        for x in &s.samples {
            words(o, &[1, x.0]);
        }
    });
    if s.samples.iter().any(|x| x.2 != 0) {
        write_full_box(o, b"ctts", 0, 0, |o| {
            words(o, &[s.samples.len() as u32]);
            for x in &s.samples {
                words(o, &[1, x.2 as u32]);
            }
        });
    }
    if s.samples.iter().any(|x| !x.3) {
        let sync: Vec<u32> = (1..=s.samples.len() as u32).filter(|&i| s.samples[i as usize - 1].3).collect();
        write_full_box(o, b"stss", 0, 0, |o| {
            words(o, &[sync.len() as u32]);
            words(o, &sync);
        });
    }
    write_full_box(o, b"stsz", 0, 0, |o| {
        words(o, &[0, s.samples.len() as u32]);
        for x in &s.samples {
            words(o, &[x.1]);
        }
    });
    write_full_box(o, b"stsc", 0, 0, |o| words(o, &[1, 1, s.per_chunk, 1]));
    let mut offsets = Vec::new();
    let mut at = s.data_at;
    for chunk in s.samples.chunks(s.per_chunk as usize) {
        offsets.push(at as u32);
        // A gap between chunks, as interleaved files have.
        at += chunk.iter().map(|x| u64::from(x.1)).sum::<u64>() + 7;
    }
    write_full_box(o, b"stco", 0, 0, |o| {
        words(o, &[offsets.len() as u32]);
        words(o, &offsets);
    });
}

fn avc1(o: &mut Vec<u8>) {
    write_box(o, b"avc1", |o| {
        o.extend_from_slice(&[0; 6]);
        o.extend_from_slice(&[0, 1]);
        o.extend_from_slice(&[0; 16]);
        o.extend_from_slice(&[0, 160, 0, 90]);
        o.extend_from_slice(&[0; 50]);
        write_box(o, b"avcC", |o| o.extend_from_slice(&[1, 0x64, 0, 0x1f, 0xff, 0xe0, 0]));
    });
}

fn mp4a(o: &mut Vec<u8>) {
    write_box(o, b"mp4a", |o| {
        o.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 16, 0, 0, 0, 0]);
        o.extend_from_slice(&(48000u32 << 16).to_be_bytes());
        write_full_box(o, b"esds", 0, 0, |o| {
            o.extend_from_slice(&[0x03, 25, 0, 1, 0]);
            o.extend_from_slice(&[0x04, 17, 0x40, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            o.extend_from_slice(&[0x05, 2, 0x11, 0x90]);
            o.extend_from_slice(&[0x06, 1, 2]);
        });
    });
}

/// The fields of a `moof` written by `media_segment`, read back with the parser's own walker.
#[derive(Debug)]
pub struct Moof {
    pub sequence: u32,
    pub track: u32,
    pub base_dts: u64,
    pub data_offset: u32,
    /// duration, size, flags (video), composition offset (video)
    pub entries: Vec<(u32, u32, u32, i32)>,
    pub moof_len: usize,
    pub mdat_len: u64,
}

pub fn parse_moof(header: &[u8]) -> Moof {
    use super::boxes::{Reader, children, require};
    let moof = children(header).next().unwrap().unwrap();
    assert_eq!(&moof.kind, b"moof");
    let moof_len = moof.body.len() + 8;
    let mdat = header.get(moof_len..).unwrap();
    let mdat_len = match u32::from_be_bytes(mdat[..4].try_into().unwrap()) {
        1 => u64::from_be_bytes(mdat[8..16].try_into().unwrap()),
        n => u64::from(n),
    };
    assert_eq!(&mdat[4..8], b"mdat");
    let mut r = Reader::new(require(moof.body, b"mfhd", "").unwrap(), "");
    r.version_flags().unwrap();
    let sequence = r.u32().unwrap();
    let traf = require(moof.body, b"traf", "").unwrap();
    let mut r = Reader::new(require(traf, b"tfhd", "").unwrap(), "");
    let (_, tfhd_flags) = r.version_flags().unwrap();
    assert_ne!(tfhd_flags & 0x020000, 0, "default-base-is-moof");
    let track = r.u32().unwrap();
    let mut r = Reader::new(require(traf, b"tfdt", "").unwrap(), "");
    assert_eq!(r.version_flags().unwrap().0, 1);
    let base_dts = r.u64().unwrap();
    let mut r = Reader::new(require(traf, b"trun", "").unwrap(), "");
    let (_, flags) = r.version_flags().unwrap();
    let count = r.u32().unwrap();
    let data_offset = r.u32().unwrap();
    let mut entries = Vec::new();
    for _ in 0..count {
        let (d, s) = (r.u32().unwrap(), r.u32().unwrap());
        let (f, c) = if flags & 0x800 != 0 { (r.u32().unwrap(), r.u32().unwrap() as i32) } else { (0, 0) };
        entries.push((d, s, f, c));
    }
    assert_eq!(r.remaining(), 0);
    Moof { sequence, track, base_dts, data_offset, entries, moof_len, mdat_len }
}
