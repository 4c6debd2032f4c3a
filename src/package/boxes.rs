//! ISO BMFF box headers and bounds-checked big-endian reading, shared by the `moov` parser and
//! the top-level walk; and the small writer that builds boxes with their sizes patched in.
//! Every read returns [`PackageError::Invalid`] naming the box instead of panicking.

use super::PackageError;

/// A box header: type, header length (8 or 16), and total length including the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub kind: [u8; 4],
    pub header_len: u64,
    /// `None` when size is 0: the box runs to the end of its container (or file).
    pub len: Option<u64>,
}

/// Reads the header at the start of `bytes`; `Ok(None)` when fewer bytes than the header are
/// present (the caller decides whether that is truncation or a reason to read more).
pub(crate) fn header(bytes: &[u8]) -> Result<Option<Header>, PackageError> {
    let Some(first) = bytes.get(..8) else { return Ok(None) };
    let size = u32::from_be_bytes([first[0], first[1], first[2], first[3]]);
    let kind = [first[4], first[5], first[6], first[7]];
    let (header_len, len) = match size {
        0 => (8, None),
        1 => {
            let Some(large) = bytes.get(8..16) else { return Ok(None) };
            let mut b = [0u8; 8];
            b.copy_from_slice(large);
            (16, Some(u64::from_be_bytes(b)))
        }
        n => (8, Some(u64::from(n))),
    };
    if len.is_some_and(|len| len < header_len) {
        return Err(PackageError::Invalid("box size smaller than its header"));
    }
    Ok(Some(Header { kind, header_len, len }))
}

/// One child box: its type and body (the bytes after its header).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BoxRef<'a> {
    pub kind: [u8; 4],
    pub body: &'a [u8],
}

/// The boxes packed in a container's body, each checked to lie inside it.
pub(crate) struct Children<'a> {
    rest: &'a [u8],
}

/// Walks the boxes in `body`.
pub(crate) fn children(body: &[u8]) -> Children<'_> {
    Children { rest: body }
}

impl<'a> Iterator for Children<'a> {
    type Item = Result<BoxRef<'a>, PackageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let result = self.step();
        if result.is_err() {
            self.rest = &[];
        }
        Some(result)
    }
}

impl<'a> Children<'a> {
    fn step(&mut self) -> Result<BoxRef<'a>, PackageError> {
        let h = header(self.rest)?.ok_or(PackageError::Invalid("truncated box header"))?;
        let total = match h.len {
            None => self.rest.len(),
            Some(len) => usize::try_from(len)
                .ok()
                .filter(|&len| len <= self.rest.len())
                .ok_or(PackageError::Invalid("box extends past its parent"))?,
        };
        let (this, rest) = self.rest.split_at(total);
        self.rest = rest;
        // header_len ≤ total was checked by `header` (8 or 16 ≤ len) or holds for size 0 (≥ 8 read).
        let body = this.get(h.header_len as usize..).ok_or(PackageError::Invalid("truncated box header"))?;
        Ok(BoxRef { kind: h.kind, body })
    }
}

/// The first child of type `kind`, if any.
pub(crate) fn find<'a>(body: &'a [u8], kind: &[u8; 4]) -> Result<Option<&'a [u8]>, PackageError> {
    for child in children(body) {
        let child = child?;
        if &child.kind == kind {
            return Ok(Some(child.body));
        }
    }
    Ok(None)
}

/// The child of type `kind`, or `Invalid(what)`.
pub(crate) fn require<'a>(body: &'a [u8], kind: &[u8; 4], what: &'static str) -> Result<&'a [u8], PackageError> {
    find(body, kind)?.ok_or(PackageError::Invalid(what))
}

/// A cursor over a box body; running out of bytes is `Invalid(what)`.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Self { bytes, what }
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    pub fn rest(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], PackageError> {
        if n > self.bytes.len() {
            return Err(PackageError::Invalid(self.what));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    pub fn skip(&mut self, n: usize) -> Result<(), PackageError> {
        self.take(n).map(|_| ())
    }

    pub fn u8(&mut self) -> Result<u8, PackageError> {
        Ok(self.take(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16, PackageError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self) -> Result<u32, PackageError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self) -> Result<u64, PackageError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// A full box's version and flags.
    pub fn version_flags(&mut self) -> Result<(u8, u32), PackageError> {
        let v = self.u32()?;
        Ok(((v >> 24) as u8, v & 0x00ff_ffff))
    }

    /// A table's entry count, refused unless `count × entry_len` bytes are present: no
    /// allocation is ever sized by a count the bytes do not back.
    pub fn count(&mut self, entry_len: usize) -> Result<u32, PackageError> {
        let count = self.u32()?;
        let needed = (count as usize).checked_mul(entry_len);
        if needed.is_none_or(|n| n > self.bytes.len()) {
            return Err(PackageError::Invalid(self.what));
        }
        Ok(count)
    }
}

/// Appends a box of type `kind` whose body `body` writes, then patches its 32-bit size.
pub(crate) fn write_box(out: &mut Vec<u8>, kind: &[u8; 4], body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(kind);
    body(out);
    // Boxes we write are bounded by the sample count cap (at most 16 bytes a sample in a trun).
    let size = u32::try_from(out.len() - start).unwrap_or(u32::MAX);
    out[start..start + 4].copy_from_slice(&size.to_be_bytes());
}

/// Appends a full box: `write_box` with version and flags first.
pub(crate) fn write_full_box(
    out: &mut Vec<u8>,
    kind: &[u8; 4],
    version: u8,
    flags: u32,
    body: impl FnOnce(&mut Vec<u8>),
) {
    write_box(out, kind, |out| {
        out.extend_from_slice(&((u32::from(version) << 24) | (flags & 0x00ff_ffff)).to_be_bytes());
        body(out);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(size: u32, kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = size.to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn headers() {
        let large = [&[0, 0, 0, 1][..], b"mdat", &20u64.to_be_bytes()].concat();
        type Case = (Vec<u8>, Result<Option<Header>, PackageError>);
        let cases: Vec<Case> = vec![
            (vec![0, 0, 0], Ok(None)),
            (b(8, b"free", &[]), Ok(Some(Header { kind: *b"free", header_len: 8, len: Some(8) }))),
            (b(0, b"mdat", &[]), Ok(Some(Header { kind: *b"mdat", header_len: 8, len: None }))),
            (large.clone(), Ok(Some(Header { kind: *b"mdat", header_len: 16, len: Some(20) }))),
            (large[..12].to_vec(), Ok(None)),
            (b(7, b"free", &[]), Err(PackageError::Invalid("box size smaller than its header"))),
            (
                [&[0, 0, 0, 1][..], b"mdat", &15u64.to_be_bytes()].concat(),
                Err(PackageError::Invalid("box size smaller than its header")),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(header(&bytes), want, "{bytes:?}");
        }
    }

    #[test]
    fn children_walk() {
        let two = [b(9, b"abcd", &[1]), b(8, b"efgh", &[])].concat();
        let kinds: Vec<_> = children(&two).map(|c| c.unwrap().kind).collect();
        assert_eq!(kinds, vec![*b"abcd", *b"efgh"]);
        // size 0: to the end of the parent.
        let zero = [b(8, b"abcd", &[]), b(0, b"rest", &[1, 2, 3])].concat();
        let last = children(&zero).last().unwrap().unwrap();
        assert_eq!((last.kind, last.body), (*b"rest", &[1u8, 2, 3][..]));
        // A child claiming more than its parent holds, a truncated header, a too-small size.
        for bad in [b(20, b"abcd", &[0; 4]), vec![0, 0, 0, 8, b'a'], b(4, b"abcd", &[])] {
            let results: Vec<_> = children(&bad).collect();
            assert_eq!(results.len(), 1);
            assert!(results[0].is_err());
        }
    }

    #[test]
    fn reader_counts_are_backed_by_bytes() {
        let mut r = Reader::new(&[0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8], "stsz");
        assert_eq!(r.count(4), Err(PackageError::Invalid("stsz")));
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff], "stsz");
        assert!(r.count(8).is_err());
        let mut r = Reader::new(&[0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8], "stsz");
        assert_eq!(r.count(4), Ok(2));
    }

    #[test]
    fn writer_patches_sizes() {
        let mut out = Vec::new();
        write_box(&mut out, b"moof", |out| {
            write_full_box(out, b"mfhd", 0, 0, |out| out.extend_from_slice(&7u32.to_be_bytes()))
        });
        assert_eq!(out.len(), 24);
        let moof = children(&out).next().unwrap().unwrap();
        assert_eq!(moof.kind, *b"moof");
        assert_eq!(require(moof.body, b"mfhd", "mfhd").unwrap(), &[0, 0, 0, 0, 0, 0, 0, 7]);
    }
}
