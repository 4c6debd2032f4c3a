//! Read buffers the local store reuses: a chunk's memory goes back to the pool when the transport
//! has written it, so steady-state serving allocates nothing and maps no new pages.
//!
//! Buffers come in five size classes, powers of two from [`MIN_BUFFER`] to [`CHUNK_BYTES`]: a
//! slow client's 16 KiB read takes a 16 KiB buffer, not a full chunk's. A buffer is zeroed once,
//! when it is first allocated, and never again: it is always initialised memory, which is what a
//! safe `preadv2` reads into.
//!
//! **The bound**: the pool keeps at most [`IDLE_BYTES`] of buffers nobody uses, and at most
//! [`IDLE_PER_CLASS`] of each size. A buffer given back to a full pool is freed: the small
//! classes, which slow clients use, keep a few MiB, not the whole bound. **An empty pool**
//! allocates a new buffer: a read never waits for one (what responses may hold at once is the
//! body budget's business, `body::pace`).

use std::sync::{Arc, Mutex};

use super::CHUNK_BYTES;

/// The smallest buffer: the smallest window a paced body asks for (`body::MIN_WINDOW`).
pub const MIN_BUFFER: usize = 16 * 1024;

/// Idle bytes the pool keeps: 128 full chunks, two windows for each of 64 fast clients, so that
/// 64 concurrent fast responses are served from reused buffers (measured: no page faults per
/// chunk at 64 connections, docs/benchmarks.md). More concurrent responses allocate what they
/// need beyond it, and free it when done.
pub const IDLE_BYTES: usize = 32 * 1024 * 1024;

/// Idle buffers the pool keeps of each size class: two windows for each of 64 clients, whatever
/// their windows. Without it, thousands of slow clients' 16 KiB buffers would fill the pool with
/// memory fast clients cannot use.
pub const IDLE_PER_CLASS: usize = 128;

/// Size classes: `MIN_BUFFER << i` for `i` in `0..CLASSES`.
const CLASSES: usize = (CHUNK_BYTES / MIN_BUFFER).trailing_zeros() as usize + 1;

/// A bounded set of idle buffers, by size class.
#[derive(Debug, Default)]
pub struct BufferPool {
    // A std Mutex: it is held to push or pop one buffer, and nothing is awaited while it is held.
    idle: Mutex<Idle>,
}

#[derive(Debug, Default)]
struct Idle {
    classes: [Vec<Box<[u8]>>; CLASSES],
    bytes: usize,
}

impl BufferPool {
    /// A buffer of at least `len` bytes (and at least [`MIN_BUFFER`]), from the pool if it has one
    /// of its class, else new. `len` is at most [`CHUNK_BYTES`].
    pub fn take(self: &Arc<Self>, len: usize) -> Buffer {
        assert!(len <= CHUNK_BYTES, "reads are at most one chunk");
        let class = class_of(len);
        let reused = {
            let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let buffer = idle.classes[class].pop();
            if let Some(buffer) = &buffer {
                idle.bytes -= buffer.len();
            }
            buffer
        };
        let bytes = reused.unwrap_or_else(|| vec![0u8; MIN_BUFFER << class].into_boxed_slice());
        Buffer { bytes: Some(bytes), filled: 0, pool: Arc::clone(self) }
    }

    /// Keeps `bytes` for a later read, or frees it when the pool already holds [`IDLE_BYTES`] or
    /// [`IDLE_PER_CLASS`] buffers of its class.
    fn give_back(&self, bytes: Box<[u8]>) {
        let class = class_of(bytes.len());
        let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.bytes + bytes.len() <= IDLE_BYTES && idle.classes[class].len() < IDLE_PER_CLASS {
            idle.bytes += bytes.len();
            idle.classes[class].push(bytes);
        }
    }

    /// Bytes of idle buffers held now.
    #[cfg(test)]
    fn idle_bytes(&self) -> usize {
        self.idle.lock().unwrap().bytes
    }
}

/// The class whose buffers are the smallest power of two of at least `len` (and [`MIN_BUFFER`]).
fn class_of(len: usize) -> usize {
    let size = len.max(MIN_BUFFER).next_power_of_two();
    (size / MIN_BUFFER).trailing_zeros() as usize
}

/// A pooled buffer and how much of it a read has filled. It goes back to its pool when dropped;
/// as the owner of a `Bytes` (`Bytes::from_owner`), that is when the last slice of it is dropped.
pub struct Buffer {
    /// Always `Some` until dropped.
    bytes: Option<Box<[u8]>>,
    filled: usize,
    pool: Arc<BufferPool>,
}

impl Buffer {
    /// The whole buffer, to read into.
    pub fn space(&mut self) -> &mut [u8] {
        self.bytes.as_deref_mut().expect("present until dropped")
    }

    /// Marks the first `len` bytes as the chunk's content.
    pub fn set_filled(&mut self, len: usize) {
        assert!(len <= self.space().len());
        self.filled = len;
    }
}

impl AsRef<[u8]> for Buffer {
    fn as_ref(&self) -> &[u8] {
        &self.bytes.as_deref().expect("present until dropped")[..self.filled]
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if let Some(bytes) = self.bytes.take() {
            self.pool.give_back(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn a_read_takes_the_smallest_class_that_holds_it() {
        let cases = [(1, 0), (MIN_BUFFER, 0), (MIN_BUFFER + 1, 1), (64 * 1024, 2), (200 * 1024, 4), (CHUNK_BYTES, 4)];
        for (len, class) in cases {
            assert_eq!(class_of(len), class, "{len}");
        }
        assert_eq!(MIN_BUFFER << (CLASSES - 1), CHUNK_BYTES);
    }

    #[test]
    fn a_dropped_chunk_gives_its_buffer_back_for_the_next_read() {
        let pool = Arc::new(BufferPool::default());
        let mut buffer = pool.take(1000);
        assert_eq!(buffer.space().len(), MIN_BUFFER);
        buffer.space()[..3].copy_from_slice(b"abc");
        buffer.set_filled(3);
        let address = buffer.space().as_ptr();
        let chunk = Bytes::from_owner(buffer);
        assert_eq!(chunk, "abc");
        let slice = chunk.slice(1..);
        drop(chunk);
        assert_eq!(pool.idle_bytes(), 0, "a slice still holds it");
        drop(slice);
        assert_eq!(pool.idle_bytes(), MIN_BUFFER);
        let mut again = pool.take(MIN_BUFFER);
        assert_eq!(again.space().as_ptr(), address, "the same memory, reused");
        assert_eq!(pool.idle_bytes(), 0);
    }

    #[test]
    fn an_empty_pool_allocates_and_a_full_one_frees() {
        let pool = Arc::new(BufferPool::default());
        let held: Vec<Buffer> = (0..IDLE_BYTES / CHUNK_BYTES + 3).map(|_| pool.take(CHUNK_BYTES)).collect();
        assert_eq!(pool.idle_bytes(), 0);
        drop(held);
        assert_eq!(pool.idle_bytes(), IDLE_BYTES, "the three beyond the bound were freed");
        let small = pool.take(MIN_BUFFER);
        assert_eq!(small.as_ref().len(), 0);
        drop(small);
        assert_eq!(pool.idle_bytes(), IDLE_BYTES, "a full pool keeps nothing more");
    }

    #[test]
    fn each_size_keeps_a_bounded_number_of_idle_buffers() {
        let pool = Arc::new(BufferPool::default());
        let held: Vec<Buffer> = (0..IDLE_PER_CLASS + 10).map(|_| pool.take(MIN_BUFFER)).collect();
        drop(held);
        assert_eq!(pool.idle_bytes(), IDLE_PER_CLASS * MIN_BUFFER, "far below IDLE_BYTES, yet full");
        let large = pool.take(CHUNK_BYTES);
        drop(large);
        assert_eq!(pool.idle_bytes(), IDLE_PER_CLASS * MIN_BUFFER + CHUNK_BYTES, "other sizes still kept");
    }
}
