//! One range of an open file as a stream of chunks: each read into a pooled buffer, on the
//! runtime thread when the page cache holds it (`preadv2` with `RWF_NOWAIT`), else on the
//! blocking pool, and checked against the file's version after it is read, so a file rewritten
//! mid-response is never sent mixed.

use std::fs::File;
use std::io::IoSliceMut;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::HeaderValue;

use super::pool::{Buffer, BufferPool, MIN_BUFFER};
use super::{CHUNK_BYTES, blocking};
use crate::plan::ByteRange;
use crate::store::{ByteStream, ChunkLimit, StoreError};

/// What identifies one version of a file: its modification time and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Version {
    modified: SystemTime,
    len: u64,
}

impl Version {
    pub fn of(file: &std::fs::Metadata) -> Result<Self, StoreError> {
        Ok(Self { modified: file.modified()?, len: file.len() })
    }

    pub fn etag(&self) -> HeaderValue {
        let since_epoch = self.modified.duration_since(UNIX_EPOCH).unwrap_or_default();
        let etag = format!("\"{:x}{:08x}-{:x}\"", since_epoch.as_secs(), since_epoch.subsec_nanos(), self.len);
        HeaderValue::try_from(etag).expect("hex digits are a valid header value")
    }
}

/// Streams `range` of `file`, one chunk per poll. A file that shrinks, or is rewritten in place,
/// mid-read ends the stream with `Changed`, never with a short or mixed success: each chunk is
/// checked against the version after it is read (one `fstat` per chunk).
pub(super) fn read_chunks(file: Arc<File>, version: Version, range: ByteRange, buffers: Arc<BufferPool>) -> ByteStream {
    let limit = ChunkLimit::default();
    ByteStream::sized(
        limit.clone(),
        async_stream::try_stream! {
            let mut offset = range.start();
            while offset < range.end() {
                let len = read_len(range.end() - offset, limit.get_or(CHUNK_BYTES));
                let mut buffer = buffers.take(len);
                let cached = read_cached(&file, &mut buffer.space()[..len], offset)?;
                let buffer = if cached == len {
                    check_version(&file, version)?;
                    buffer
                } else {
                    // Some of it is not in the page cache: the rest is read where waiting is fine.
                    let file = Arc::clone(&file);
                    blocking(move || {
                        read_all(&file, &mut buffer.space()[cached..len], offset + cached as u64)?;
                        check_version(&file, version)?;
                        Ok(buffer)
                    })
                    .await?
                };
                offset += len as u64;
                yield filled(buffer, len);
            }
        },
    )
}

/// How much to read next: `remaining`, or the body's `limit` rounded down to a power of two, so
/// that a read fills its pooled buffer (a fast client's windows are powers of two already; a
/// slow one's is at most halved). Only the last read of a range leaves part of its buffer unused.
fn read_len(remaining: u64, limit: usize) -> usize {
    let limit = if limit < MIN_BUFFER { limit.max(1) } else { 1 << limit.ilog2() };
    usize::try_from(remaining).unwrap_or(usize::MAX).min(limit)
}

/// Reads into `buf` at `offset` what the page cache holds, without waiting for the disk: the
/// bytes read, fewer than asked for (maybe none) when the rest would need the disk.
pub(super) fn read_cached(file: &File, buf: &mut [u8], offset: u64) -> Result<usize, StoreError> {
    let mut read = 0;
    while read < buf.len() {
        let at = offset + read as u64;
        match rustix::io::preadv2(
            file,
            &mut [IoSliceMut::new(&mut buf[read..])],
            at,
            rustix::io::ReadWriteFlags::NOWAIT,
        ) {
            // The file shrank since its metadata was read.
            Ok(0) => return Err(StoreError::Changed),
            Ok(n) => read += n,
            Err(rustix::io::Errno::INTR) => {}
            // EAGAIN: the rest is not cached. Any other error (a kernel or filesystem without
            // RWF_NOWAIT) is left to the blocking read, which reports real I/O errors.
            Err(_) => break,
        }
    }
    Ok(read)
}

/// Reads all of `buf` at `offset`, waiting for the disk if need be: on the blocking pool only.
/// One `pread` per call when the file is whole (std's `read_exact_at` is the same loop, but
/// reports a shrunk file as an I/O error instead of a change).
fn read_all(file: &File, buf: &mut [u8], offset: u64) -> Result<(), StoreError> {
    let mut read = 0;
    while read < buf.len() {
        match rustix::io::pread(file, &mut buf[read..], offset + read as u64) {
            // The file shrank since its metadata was read.
            Ok(0) => return Err(StoreError::Changed),
            Ok(n) => read += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(error) => return Err(std::io::Error::from(error).into()),
        }
    }
    Ok(())
}

/// A write in place changes the modification time: bytes just read may be of either version, so
/// they are not sent.
fn check_version(file: &File, version: Version) -> Result<(), StoreError> {
    if Version::of(&file.metadata()?)? != version {
        return Err(StoreError::Changed);
    }
    Ok(())
}

/// The first `len` bytes of `buffer` as a chunk for hyper, without a copy; the buffer goes back
/// to its pool when hyper has written the chunk (and every piece cut from it) and dropped it.
fn filled(mut buffer: Buffer, len: usize) -> Bytes {
    buffer.set_filled(len);
    Bytes::from_owner(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fill_their_buffers_except_at_the_end_of_a_range() {
        const KIB: usize = 1024;
        let cases = [
            // (remaining, limit) -> bytes to read
            (10 << 20_u64, CHUNK_BYTES, CHUNK_BYTES), // a fast client: full chunks
            (10 * 1024 * 1024, 200 * KIB, 128 * KIB), // a window between classes: rounded down
            (10 * 1024 * 1024, 16 * KIB, 16 * KIB),   // a slow client
            (10 * 1024 * 1024, 1000, 1000),           // below the smallest class: as asked
            (10 * 1024 * 1024, 0, 1),                 // never a read of nothing
            (17, CHUNK_BYTES, 17),                    // the end of the range
            (100 * 1024, CHUNK_BYTES, 100 * KIB),     // the end, in a 128 KiB buffer
        ];
        for (remaining, limit, len) in cases {
            assert_eq!(read_len(remaining, limit), len, "{remaining} {limit}");
        }
    }
}
