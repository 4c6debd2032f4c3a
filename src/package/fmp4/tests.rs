use std::time::Duration;

use super::super::boxes::{Reader, children, require};
use super::super::testing::{audio, index, parse_moof, regular, video};
use super::*;

fn path<'a>(mut body: &'a [u8], kinds: &[&[u8; 4]]) -> &'a [u8] {
    for kind in kinds {
        body = require(body, kind, "test").unwrap();
    }
    body
}

#[test]
fn init_segment_copies_the_sample_entry() {
    let index = index(&[video(1, regular(50, 512, 25)), audio(7, "fra", regular(100, 1024, 0))]);
    for track in &index.tracks {
        let init = init_segment(track);
        let kinds: Vec<_> = children(&init).map(|c| c.unwrap().kind).collect();
        assert_eq!(kinds, vec![*b"ftyp", *b"moov"]);
        let moov = path(&init, &[b"moov"]);
        let mut tkhd = Reader::new(path(moov, &[b"trak", b"tkhd"]), "");
        tkhd.skip(12).unwrap();
        assert_eq!(tkhd.u32().unwrap(), track.id);
        let mut mdhd = Reader::new(path(moov, &[b"trak", b"mdia", b"mdhd"]), "");
        mdhd.skip(12).unwrap();
        assert_eq!(mdhd.u32().unwrap(), track.timescale);
        mdhd.skip(4).unwrap();
        assert_eq!(mdhd.u16().unwrap(), pack_language(track.language.as_deref()));
        let stsd = path(moov, &[b"trak", b"mdia", b"minf", b"stbl", b"stsd"]);
        assert_eq!(&stsd[8..], &track.sample_entry[..]);
        let mut trex = Reader::new(path(moov, &[b"mvex", b"trex"]), "");
        trex.skip(4).unwrap();
        assert_eq!(trex.u32().unwrap(), track.id);
        let media_header: &[u8; 4] = if track.is_video() { b"vmhd" } else { b"smhd" };
        path(moov, &[b"trak", b"mdia", b"minf", media_header]);
    }
    assert_eq!(pack_language(Some("fra")), (6 << 10) | (18 << 5) | 1);
    assert_eq!(pack_language(None), pack_language(Some("und")));
}

#[test]
fn video_segments_shift_composition_by_the_delay() {
    // I P B pattern: offsets 2, 3, 1 frames... the first 2 frames is the delay.
    let samples = (0..50u32).map(|i| (512, 100 + i, [1024, 1536, 512][i as usize % 3], i % 25 == 0)).collect();
    let index = index(&[video(1, samples)]);
    let track = index.main_track();
    let seg = Segmentation::new(&index, Duration::from_secs(1));
    assert_eq!(seg.count(), 2);
    let segment = media_segment(track, &seg, 2).unwrap();
    let moof = parse_moof(&segment.header);
    assert_eq!((moof.sequence, moof.track, moof.base_dts), (2, 1, 25 * 512));
    assert_eq!(moof.entries[0], (512, 125, 0x0200_0000, 1536 - 1024));
    assert_eq!(moof.entries[1], (512, 126, 0x0101_0000, 512 - 1024));
    assert_eq!(moof.data_offset as usize, segment.header.len());
    // Five samples a chunk with 7 bytes between chunks: one run per chunk.
    assert_eq!(segment.runs.len(), 5);
    assert_eq!(segment.runs.iter().map(|r| r.1).sum::<u64>(), (125..150).sum::<u64>());
    assert_eq!(Some(segment.len()), media_segment_len(track, &seg, 2));
    assert_eq!(segment.header.len(), 8 + 16 + 8 + 16 + 20 + 20 + 25 * 16 + 8);
}

#[test]
fn audio_segments_use_default_flags() {
    let index = index(&[audio(3, "eng", regular(100, 1024, 0))]);
    let track = index.main_track();
    let seg = Segmentation::new(&index, Duration::from_secs(1));
    let segment = media_segment(track, &seg, 1).unwrap();
    let moof = parse_moof(&segment.header);
    assert_eq!(moof.entries.len(), 47);
    assert!(moof.entries.iter().all(|e| *e == (1024, 100, 0, 0)));
    assert_eq!(segment.header.len(), 8 + 16 + 8 + 20 + 20 + 20 + 47 * 8 + 8);
    assert_eq!(media_segment(track, &seg, 0), None);
    assert_eq!(media_segment_len(track, &seg, seg.count() + 1), None);
}

#[test]
fn large_mdat_gets_a_64_bit_size() {
    let index = index(&[video(1, regular(10, 512, 0))]);
    let track = index.main_track();
    assert_eq!(header_lens(track, 10, u64::from(u32::MAX) - 8), (8 + 16 + 8 + 16 + 20 + 20 + 160, 8));
    assert_eq!(header_lens(track, 10, u64::from(u32::MAX) - 7).1, 16);
    let mut out = Vec::new();
    write_mdat_header(&mut out, 1 << 32, 16);
    assert_eq!(out, [&[0, 0, 0, 1][..], b"mdat", &((1u64 << 32) + 16).to_be_bytes()].concat());
}
