//! Finding the `moov` with ranged reads: a walk over the top-level box headers that tells the
//! caller where to read next, so a file whose index sits after gigabytes of `mdat` costs a few
//! small reads, not a download. Pure: the caller does the reading and caps how many it makes.

use super::boxes::header;
use super::{Limits, PackageError};

/// Where the walk stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoovSearch {
    /// The `moov` box, header included, is `len` bytes at file offset `offset`.
    Found {
        /// File offset of the box's first byte.
        offset: u64,
        /// Its length, header included.
        len: u64,
    },
    /// The next box header lies outside the bytes given: read at least 16 bytes at this file
    /// offset and call again with `at` set to it.
    ReadAt(u64),
}

/// Top-level box types a file may start with; anything else is not ISO BMFF.
const FIRST_BOXES: &[&[u8; 4]] = &[
    b"ftyp", b"styp", b"free", b"skip", b"moov", b"mdat", b"wide", b"pdin", b"uuid", b"moof", b"sidx", b"meta", b"junk",
];

/// Walks top-level boxes in `bytes`, read at file offset `at` from a file of `file_len` bytes.
pub fn find_moov(at: u64, bytes: &[u8], file_len: u64, limits: &Limits) -> Result<MoovSearch, PackageError> {
    let mut pos: usize = 0;
    loop {
        let offset = at.checked_add(pos as u64).ok_or(PackageError::Invalid("top-level box offset"))?;
        if offset >= file_len {
            return if offset == 0 { Err(PackageError::NotMp4) } else { Err(PackageError::NoMoov) };
        }
        let left_in_file = file_len - offset;
        let Some(h) = header(bytes.get(pos..).unwrap_or(&[])).map_err(|e| first_box_error(offset, e))? else {
            if left_in_file < 8 {
                return Err(if offset == 0 { PackageError::NotMp4 } else { PackageError::NoMoov });
            }
            return Ok(MoovSearch::ReadAt(offset));
        };
        if offset == 0 && !FIRST_BOXES.contains(&&h.kind) {
            return Err(PackageError::NotMp4);
        }
        if !h.kind.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
            return Err(PackageError::Invalid("top-level box type"));
        }
        let len = h.len.unwrap_or(left_in_file);
        if len > left_in_file {
            return Err(PackageError::Invalid("top-level box extends past the end of the file"));
        }
        if &h.kind == b"moov" {
            if len > limits.max_moov_bytes {
                return Err(PackageError::MoovTooLarge { len, cap: limits.max_moov_bytes });
            }
            return Ok(MoovSearch::Found { offset, len });
        }
        let next = offset + len; // ≤ file_len, checked above
        match usize::try_from(next - at) {
            Ok(p) if p < bytes.len() => pos = p,
            _ if next >= file_len => return Err(PackageError::NoMoov),
            _ => return Ok(MoovSearch::ReadAt(next)),
        }
    }
}

/// A malformed first header means the file is not ISO BMFF at all.
fn first_box_error(offset: u64, e: PackageError) -> PackageError {
    if offset == 0 { PackageError::NotMp4 } else { e }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(kind: &[u8; 4], len: u32) -> Vec<u8> {
        let mut v = len.to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.resize(len.max(8) as usize, 0);
        v
    }

    #[test]
    fn table() {
        let limits = Limits::default();
        let small = Limits { max_moov_bytes: 100, ..Limits::default() };
        let faststart = [b(b"ftyp", 24), b(b"moov", 200), b(b"mdat", 1000)].concat();
        let moov_end = [b(b"ftyp", 24), b(b"free", 8), b(b"mdat", 1000), b(b"moov", 200)].concat();
        let large_mdat = [
            b(b"ftyp", 24),
            [&[0, 0, 0, 1][..], b"mdat", &1016u64.to_be_bytes()].concat(),
            vec![0; 1000],
            b(b"moov", 40),
        ]
        .concat();
        let zero_mdat = [b(b"ftyp", 24), b(b"mdat", 0)].concat();
        type Case<'a> = (&'a str, u64, &'a [u8], u64, &'a Limits, Result<MoovSearch, PackageError>);
        let cases: Vec<Case> = vec![
            ("moov first", 0, &faststart, 1224, &limits, Ok(MoovSearch::Found { offset: 24, len: 200 })),
            (
                "moov first, only its header read",
                0,
                &faststart[..40],
                1224,
                &limits,
                Ok(MoovSearch::Found { offset: 24, len: 200 }),
            ),
            ("moov too large", 0, &faststart, 1224, &small, Err(PackageError::MoovTooLarge { len: 200, cap: 100 })),
            ("moov after mdat: read there", 0, &moov_end[..64], 1232, &limits, Ok(MoovSearch::ReadAt(1032))),
            (
                "moov after mdat: second read",
                1032,
                &moov_end[1032..1048],
                1232,
                &limits,
                Ok(MoovSearch::Found { offset: 1032, len: 200 }),
            ),
            ("largesize mdat", 0, &large_mdat[..48], 1080, &limits, Ok(MoovSearch::ReadAt(1040))),
            ("header cut short: read again", 0, &faststart[..30], 1224, &limits, Ok(MoovSearch::ReadAt(24))),
            ("no moov", 0, &faststart[..24], 24, &limits, Err(PackageError::NoMoov)),
            ("mdat to end of file", 0, &zero_mdat, 5000, &limits, Err(PackageError::NoMoov)),
            ("not an mp4", 0, b"<html><body>hello</body></html>", 31, &limits, Err(PackageError::NotMp4)),
            ("empty file", 0, b"", 0, &limits, Err(PackageError::NotMp4)),
            ("first size too small", 0, &[0, 0, 0, 4, b'f', b't', b'y', b'p'], 8, &limits, Err(PackageError::NotMp4)),
            (
                "box past end of file",
                0,
                &faststart,
                100,
                &limits,
                Err(PackageError::Invalid("top-level box extends past the end of the file")),
            ),
        ];
        for (name, at, bytes, file_len, limits, want) in cases {
            assert_eq!(find_moov(at, bytes, file_len, limits), want, "{name}");
        }
    }
}
