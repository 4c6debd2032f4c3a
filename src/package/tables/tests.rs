use super::super::boxes::write_full_box;
use super::*;

fn full(kind: &[u8; 4], words: &[u32]) -> Vec<u8> {
    let mut out = Vec::new();
    write_full_box(&mut out, kind, 0, 0, |o| words.iter().for_each(|w| o.extend_from_slice(&w.to_be_bytes())));
    out
}

/// Four samples of 10, 20, 30, 40 bytes, 100 ticks each, two chunks of two at 1000 and 2000;
/// `change` replaces or adds boxes by type (an empty body removes one).
fn stbl(change: &[(&[u8; 4], &[u32])]) -> Vec<u8> {
    let base: [(&[u8; 4], &[u32]); 5] = [
        (b"stts", &[1, 4, 100]),
        (b"stsz", &[0, 4, 10, 20, 30, 40]),
        (b"stsc", &[1, 1, 2, 1]),
        (b"stco", &[2, 1000, 2000]),
        (b"stss", &[2, 1, 3]),
    ];
    let mut boxes: Vec<(&[u8; 4], &[u32])> = base.to_vec();
    for (kind, words) in change {
        boxes.retain(|(k, _)| k != kind);
        if !words.is_empty() {
            boxes.push((kind, words));
        }
    }
    boxes.iter().flat_map(|(k, w)| full(k, w)).collect()
}

fn parse(change: &[(&[u8; 4], &[u32])]) -> Result<SampleTable, PackageError> {
    SampleTable::parse(&stbl(change), 10_000, &Limits::default())
}

#[test]
fn samples_walk_chunks_times_and_sync() {
    let table = parse(&[(b"ctts", &[2, 1, 200, 3, 0])]).unwrap();
    let got: Vec<_> =
        table.samples(0..4).map(|s| (s.dts, s.duration, s.size, s.cts_offset, s.is_sync, s.offset)).collect();
    assert_eq!(
        got,
        vec![
            (0, 100, 10, 200, true, 1000),
            (100, 100, 20, 0, false, 1010),
            (200, 100, 30, 0, true, 2000),
            (300, 100, 40, 0, false, 2030)
        ]
    );
    // Starting mid-chunk finds the chunk and the offset inside it.
    assert_eq!(table.samples(1..3).map(|s| s.offset).collect::<Vec<_>>(), vec![1010, 2000]);
    assert_eq!(table.samples(3..9).count(), 1);
    assert_eq!((table.duration(), table.dts(4), table.bytes(1..3)), (400, 400, 50));
    assert_eq!(table.sync_samples(), Some(&[0, 2][..]));
}

#[test]
fn refuses_tables_that_disagree() {
    let invalid = |what| Err(PackageError::Invalid(what));
    type Case<'a> = (&'a str, Vec<(&'a [u8; 4], &'a [u32])>, Result<u32, PackageError>);
    let cases: Vec<Case> = vec![
        ("as built", vec![], Ok(4)),
        ("co64", vec![(b"stco", &[]), (b"co64", &[2, 0, 1000, 0, 2000])], Ok(4)),
        ("stts short", vec![(b"stts", &[1, 3, 100])], invalid("stts: fewer samples than stsz")),
        ("stts long", vec![(b"stts", &[1, 5, 100])], invalid("stts: more samples than stsz")),
        ("stts count lies", vec![(b"stts", &[99, 4, 100])], invalid("stts")),
        ("stsz count lies", vec![(b"stsz", &[0, 5, 10, 20, 30, 40])], invalid("stsz")),
        ("stsz fixed size past the file", vec![(b"stsz", &[5000, 4])], invalid("stsz")),
        ("stss out of order", vec![(b"stss", &[2, 3, 1])], invalid("stss: sample number out of order or range")),
        ("stss past the end", vec![(b"stss", &[1, 5])], invalid("stss: sample number out of order or range")),
        ("stsc not from chunk 1", vec![(b"stsc", &[1, 2, 2, 1])], invalid("stsc")),
        ("stsc past the chunks", vec![(b"stsc", &[2, 1, 1, 1, 3, 1, 1])], invalid("stsc")),
        ("stsc too few samples", vec![(b"stsc", &[1, 1, 1, 1])], invalid("stsc: chunks hold fewer samples than stsz")),
        ("sample past the file", vec![(b"stco", &[2, 1000, 9990])], invalid("sample data past the end of the file")),
        (
            "chunk offset overflows",
            vec![(b"stco", &[]), (b"co64", &[2, 0, 1000, u32::MAX, u32::MAX])],
            invalid("sample data past the end of the file"),
        ),
        ("ctts long", vec![(b"ctts", &[1, 5, 0])], invalid("ctts: more samples than stsz")),
        ("no stco", vec![(b"stco", &[])], invalid("stco missing")),
        ("no stts", vec![(b"stts", &[])], invalid("stts missing")),
        (
            "two descriptions",
            vec![(b"stsc", &[1, 1, 2, 2])],
            Err(PackageError::Unsupported("more than one sample description".into())),
        ),
        ("stz2", vec![(b"stz2", &[0, 0])], Err(PackageError::Unsupported("compact sample sizes (stz2)".into()))),
    ];
    for (name, change, want) in cases {
        assert_eq!(parse(&change).map(|t| t.count()), want, "{name}");
    }
    let few = Limits { max_samples: 3, ..Limits::default() };
    assert_eq!(SampleTable::parse(&stbl(&[]), 10_000, &few).map(|t| t.count()), Err(PackageError::TooManySamples));
}

#[test]
fn short_ctts_takes_the_last_offset() {
    let table = parse(&[(b"ctts", &[1, 2, 7])]).unwrap();
    assert_eq!(table.samples(0..4).map(|s| s.cts_offset).collect::<Vec<_>>(), vec![7, 7, 7, 7]);
}

#[test]
fn all_sync_without_stss() {
    let table = parse(&[(b"stss", &[])]).unwrap();
    assert!(table.sync_samples().is_none());
    assert!(table.samples(0..4).all(|s| s.is_sync));
}
