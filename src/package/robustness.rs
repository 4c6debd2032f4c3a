//! Fuzz-friendliness, proptested on the fixtures' `moov`s with bytes flipped, words overwritten
//! with edge values, and truncations, and on arbitrary bytes. Invariant: [`find_moov`] and
//! [`MediaIndex::parse`] return errors and never panic; when a parse succeeds, segmentation,
//! every manifest and every segment of every track are built without panicking, every run lies
//! inside the file, and [`media_segment_len`] equals the built segment's length.

use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;

use super::fixtures::{FILES, fixture, locate};
use super::*;

/// Each fixture and the range of its `moov`.
fn moovs() -> &'static [(Vec<u8>, std::ops::Range<usize>)] {
    static MOOVS: OnceLock<Vec<(Vec<u8>, std::ops::Range<usize>)>> = OnceLock::new();
    MOOVS.get_or_init(|| {
        FILES
            .iter()
            .map(|name| {
                let file = fixture(name);
                let moov = locate(&file).0;
                let start = moov.as_ptr() as usize - file.as_ptr() as usize;
                let range = start..start + moov.len();
                (file, range)
            })
            .collect()
    })
}

/// Everything built from an index, checked.
fn exercise(index: &MediaIndex, file_len: u64) -> Result<(), TestCaseError> {
    for secs in [1, 4] {
        let seg = Segmentation::new(index, Duration::from_secs(secs));
        master_playlist(index, &seg);
        manifest(index, &seg);
        for track in &index.tracks {
            init_segment(track);
            media_playlist(track, &seg);
            for n in 1..=seg.count_for(track) {
                let segment = media_segment(track, &seg, n).expect("a segment in range");
                prop_assert_eq!(Some(segment.len()), media_segment_len(track, &seg, n));
                for &(offset, len) in &segment.runs {
                    prop_assert!(offset.checked_add(len).is_some_and(|end| end <= file_len), "run past the file");
                }
            }
        }
    }
    Ok(())
}

const EDGES: [u32; 8] = [0, 1, 2, 7, 8, 0x7fff_ffff, 0xffff_fffe, 0xffff_ffff];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn mutated_moovs_never_panic(
        which in 0..FILES.len(),
        flips in prop::collection::vec((any::<Index>(), any::<u8>()), 0..6),
        words in prop::collection::vec((any::<Index>(), 0..EDGES.len()), 0..3),
        cut in prop::option::of(any::<Index>()),
    ) {
        let (file, range) = &moovs()[which];
        let mut moov = file[range.clone()].to_vec();
        for (at, byte) in flips {
            let i = at.index(moov.len());
            moov[i] ^= byte;
        }
        for (at, edge) in words {
            let i = at.index(moov.len() - 4);
            moov[i..i + 4].copy_from_slice(&EDGES[edge].to_be_bytes());
        }
        if let Some(cut) = cut {
            moov.truncate(cut.index(moov.len()));
        }
        let file_len = file.len() as u64;
        if let Ok(index) = MediaIndex::parse(&moov, file_len, &Limits::default()) {
            exercise(&index, file_len)?;
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), at in 0u64..2000, file_len in 0u64..1_000_000) {
        let _ = find_moov(at, &bytes, file_len, &Limits::default());
        let mut moov = vec![0, 0, 0, 0];
        moov.extend_from_slice(b"moov");
        moov.extend_from_slice(&bytes);
        let len = moov.len() as u32;
        moov[..4].copy_from_slice(&len.to_be_bytes());
        for input in [&bytes[..], &moov[..]] {
            if let Ok(index) = MediaIndex::parse(input, file_len, &Limits::default()) {
                exercise(&index, file_len)?;
            }
        }
    }
}

#[test]
fn unmutated_fixtures_pass_the_same_checks() {
    for (file, range) in moovs() {
        let index = MediaIndex::parse(&file[range.clone()], file.len() as u64, &Limits::default()).unwrap();
        exercise(&index, file.len() as u64).unwrap();
    }
}

/// A longer run of the same invariant, with a count of outcomes by error (200,000 mutations,
/// about a minute): `cargo test --lib package::robustness -- --ignored --nocapture`.
#[test]
#[ignore = "a minute of mutations"]
fn many_mutations_never_panic() {
    let mut counts = std::collections::BTreeMap::new();
    let mut rng = fastrand::Rng::with_seed(7);
    for round in 0..200_000u32 {
        let (file, range) = &moovs()[round as usize % FILES.len()];
        let mut moov = file[range.clone()].to_vec();
        for _ in 0..rng.usize(1..4) {
            let i = rng.usize(..moov.len() - 4);
            if rng.bool() {
                moov[i] ^= rng.u8(..);
            } else {
                moov[i..i + 4].copy_from_slice(&EDGES[rng.usize(..EDGES.len())].to_be_bytes());
            }
        }
        let key = match MediaIndex::parse(&moov, file.len() as u64, &Limits::default()) {
            Ok(index) => {
                exercise(&index, file.len() as u64).unwrap();
                "ok".to_string()
            }
            Err(e) => e.to_string(),
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    println!("{counts:#?}");
}
