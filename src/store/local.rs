//! The local-folder backend: serves files under one directory, for `cargo run` and for tests.
//!
//! Reads ([`read`]) are positioned reads into pooled buffers ([`pool`]), one bounded chunk at a
//! time, each handed to hyper as a `Bytes` that gives its buffer back when written: steady-state
//! serving allocates nothing. A chunk already in the page cache is read on the runtime thread
//! (`preadv2` with `RWF_NOWAIT`, which fails rather than wait for the disk), as nginx reads into
//! its output buffers in its event loop; only what must come from the disk is read on the
//! blocking pool. Files are opened the same way ([`root`]): one `openat2` on the runtime thread
//! when the kernel has the path cached. The next chunk is read only when hyper asks for it, so a
//! slow client holds at most one chunk here and one in hyper's buffer.
//!
//! Waiting on the runtime thread is avoided, not forbidden: an `fstat` of an open file, and a
//! read the page cache holds, are what nginx does in its event loop, and cost less than the two
//! thread wake-ups of a blocking-pool hop. On a network filesystem an `fstat` may ask the server;
//! this backend is meant for local disks.

mod pool;
mod read;
mod root;

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use self::pool::BufferPool;
use self::read::{Version, read_chunks};
use self::root::{Root, not_found_or_io};
use super::{ByteStream, ObjectMeta, ObjectStore, Opened, Prefetched, StoreError};
use crate::key::ObjectKey;
use crate::media_type;
use crate::plan::{ByteRange, ReadHint, whole_seconds};

/// Bytes read per chunk at most. Large enough that the per-chunk cost (a `pread`, an `fstat`,
/// a piece for hyper) is small next to the copy, small enough that a slow client pins little
/// memory.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// Serves the files under one directory.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: Arc<Root>,
    buffers: Arc<BufferPool>,
}

impl LocalStore {
    /// Serves `root`, which must exist. The root is resolved once so symlinks cannot lead outside it.
    pub fn new(root: &Path) -> std::io::Result<Self> {
        Ok(Self { root: Arc::new(Root::open(root)?), buffers: Arc::default() })
    }

    /// The resolved directory served.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Opens `key`'s file: on this thread when the kernel has its path cached, else on the
    /// blocking pool.
    async fn open_file(&self, key: &ObjectKey) -> Result<File, StoreError> {
        match self.root.open_cached(key) {
            Some(file) => file,
            None => {
                let (root, key) = (Arc::clone(&self.root), key.clone());
                blocking(move || root.open_waiting(&key)).await
            }
        }
    }
}

/// Metadata of an open file. The entity-tag is nginx's recipe (modification time and length, in
/// hex) with nanosecond time: strong in practice, because a rewrite changes one or the other, and
/// it costs no read of the content.
fn meta_of(file: &std::fs::Metadata, key: &ObjectKey) -> Result<ObjectMeta, StoreError> {
    if !file.is_file() {
        return Err(StoreError::NotFound);
    }
    Ok(ObjectMeta {
        len: file.len(),
        etag: Version::of(file)?.etag(),
        last_modified: whole_seconds(file.modified()?),
        content_type: media_type::for_extension(key.extension()),
    })
}

impl ObjectStore for LocalStore {
    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<ObjectMeta, StoreError>> {
        Box::pin(async move {
            let file = match self.root.open_cached(key) {
                Some(file) => file?,
                None => {
                    // A `stat` of the path: no need to open what will not be read.
                    let (root, key) = (Arc::clone(&self.root), key.clone());
                    return blocking(move || {
                        let metadata = std::fs::metadata(root.resolve(&key)?).map_err(not_found_or_io)?;
                        meta_of(&metadata, &key)
                    })
                    .await;
                }
            };
            // An `fstat` of a file already open reads nothing from the disk (on a local filesystem).
            meta_of(&file.metadata()?, key)
        })
    }

    /// One open and one `fstat` for the metadata and the bytes, as nginx serves a file; the
    /// bytes are read only if the planned answer needs them.
    fn open<'a>(&'a self, key: &'a ObjectKey, hint: Option<ReadHint>) -> BoxFuture<'a, Result<Opened, StoreError>> {
        Box::pin(async move {
            let Some(hint) = hint else { return Ok(Opened { meta: self.head(key).await?, bytes: None }) };
            let file = self.open_file(key).await?;
            let metadata = file.metadata()?;
            let meta = meta_of(&metadata, key)?;
            let bytes = match hint.resolve(meta.len) {
                Some(range) => {
                    let chunks = read_chunks(Arc::new(file), Version::of(&metadata)?, range, Arc::clone(&self.buffers));
                    Some(Prefetched { range, chunks })
                }
                None => None,
            };
            Ok(Opened { meta, bytes })
        })
    }

    fn get<'a>(
        &'a self,
        key: &'a ObjectKey,
        meta: &'a ObjectMeta,
        range: ByteRange,
    ) -> BoxFuture<'a, Result<ByteStream, StoreError>> {
        Box::pin(async move {
            let file = self.open_file(key).await?;
            let version = Version::of(&file.metadata()?)?;
            if version.etag() != meta.etag {
                return Err(StoreError::Changed);
            }
            Ok(read_chunks(Arc::new(file), version, range, Arc::clone(&self.buffers)))
        })
    }
}

/// Runs filesystem calls on tokio's blocking pool, so they never stall a runtime worker.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|_| Err(StoreError::internal("a blocking file task failed")))
}

#[cfg(test)]
mod tests {
    use super::pool::MIN_BUFFER;
    use super::read::read_cached;
    use super::*;
    use crate::key::key_from_path;
    use bytes::Bytes;
    use futures_util::TryStreamExt;
    use std::time::{Duration, SystemTime};

    fn store_with(files: &[(&str, &[u8])]) -> (tempfile::TempDir, LocalStore) {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        let store = LocalStore::new(dir.path()).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn one_open_answers_the_metadata_and_the_hinted_bytes() {
        let (_dir, store) = store_with(&[("a.mp4", b"0123456789")]);
        let key = key_from_path("/a.mp4").unwrap();
        let Opened { meta, bytes } = store.open(&key, Some(ReadHint::Between(2, 4))).await.unwrap();
        assert_eq!(meta, store.head(&key).await.unwrap());
        let bytes = bytes.expect("bytes with the metadata");
        assert_eq!(bytes.range, ByteRange::new(2, 5).unwrap());
        let body: Vec<Bytes> = bytes.chunks.try_collect().await.unwrap();
        assert_eq!(body.concat(), b"234");
        // No hint, or one past the end: the metadata alone.
        assert!(store.open(&key, None).await.unwrap().bytes.is_none());
        assert!(store.open(&key, Some(ReadHint::From(10))).await.unwrap().bytes.is_none());
        let missing = key_from_path("/b.mp4").unwrap();
        assert!(matches!(store.open(&missing, Some(ReadHint::Whole)).await, Err(StoreError::NotFound)));
    }

    #[tokio::test]
    async fn reads_exactly_the_range_in_bounded_chunks() {
        let content: Vec<u8> = (0..CHUNK_BYTES * 2 + 17).map(|i| (i % 251) as u8).collect();
        let (_dir, store) = store_with(&[("v/a.mp4", &content)]);
        let key = key_from_path("/v/a.mp4").unwrap();
        let meta = store.head(&key).await.unwrap();
        assert_eq!(meta.len, content.len() as u64);
        assert_eq!(meta.content_type, "video/mp4");
        let range = ByteRange::new(5, content.len() as u64 - 3).unwrap();
        let chunks: Vec<Bytes> = store.get(&key, &meta, range).await.unwrap().try_collect().await.unwrap();
        assert!(chunks.iter().all(|c| c.len() <= CHUNK_BYTES));
        assert_eq!(chunks.concat(), &content[5..content.len() - 3]);
    }

    #[tokio::test]
    async fn chunks_sized_by_the_limit_come_back_whole_and_reuse_their_buffers() {
        let content: Vec<u8> = (0..CHUNK_BYTES * 3).map(|i| (i % 253) as u8).collect();
        let (_dir, store) = store_with(&[("a.ts", &content)]);
        let key = key_from_path("/a.ts").unwrap();
        let meta = store.head(&key).await.unwrap();
        let mut sent = Vec::new();
        let mut addresses = std::collections::HashSet::new();
        for _ in 0..2 {
            let mut stream = store.get(&key, &meta, ByteRange::new(0, meta.len).unwrap()).await.unwrap();
            stream.limit_next_chunk(MIN_BUFFER * 3);
            while let Some(chunk) = stream.try_next().await.unwrap() {
                assert_eq!(chunk.len(), (2 * MIN_BUFFER).min(content.len() - sent.len() % content.len()));
                addresses.insert(chunk.as_ptr());
                sent.extend_from_slice(&chunk);
            }
        }
        assert_eq!(sent, [&content[..], &content[..]].concat());
        assert_eq!(addresses.len(), 1, "each chunk was written (dropped) before the next: one buffer serves all");
    }

    #[tokio::test]
    async fn what_the_page_cache_lacks_is_read_on_the_blocking_pool() {
        let content: Vec<u8> = (0..CHUNK_BYTES * 2).map(|i| (i % 241) as u8).collect();
        let (dir, store) = store_with(&[("cold.ts", &content)]);
        // Written back and dropped from the page cache: on a disk filesystem (not tmpfs) the
        // reads below find nothing cached and go to the blocking pool.
        let file = File::open(dir.path().join("cold.ts")).unwrap();
        file.sync_all().unwrap();
        rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        let mut buffer = store.buffers.take(MIN_BUFFER);
        let cached = read_cached(&file, buffer.space(), 0).unwrap();
        assert!(cached <= MIN_BUFFER);
        let key = key_from_path("/cold.ts").unwrap();
        let meta = store.head(&key).await.unwrap();
        let range = ByteRange::new(7, meta.len).unwrap();
        let chunks: Vec<Bytes> = store.get(&key, &meta, range).await.unwrap().try_collect().await.unwrap();
        assert_eq!(chunks.concat(), &content[7..]);
    }

    #[tokio::test]
    async fn missing_files_and_directories_are_not_found() {
        let (_dir, store) = store_with(&[("v/a.mp4", b"x")]);
        for path in ["/nope.mp4", "/v", "/v/a.mp4/x"] {
            let key = key_from_path(path).unwrap();
            assert!(matches!(store.head(&key).await, Err(StoreError::NotFound)), "{path}");
        }
    }

    #[tokio::test]
    async fn symlinks_out_of_the_root_are_not_followed() {
        let outside = tempfile::NamedTempFile::new().unwrap();
        let (dir, store) = store_with(&[]);
        std::os::unix::fs::symlink(outside.path(), dir.path().join("escape")).unwrap();
        let key = key_from_path("/escape").unwrap();
        assert!(matches!(store.head(&key).await, Err(StoreError::NotFound)));
    }

    #[tokio::test]
    async fn symlinks_that_stay_in_the_root_are_followed() {
        let (dir, store) = store_with(&[("v/a.mp4", b"inside")]);
        std::os::unix::fs::symlink("v/a.mp4", dir.path().join("relative.mp4")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("v/a.mp4"), dir.path().join("absolute.mp4")).unwrap();
        std::os::unix::fs::symlink("../v/a.mp4", dir.path().join("v/up.mp4")).unwrap();
        for path in ["/relative.mp4", "/absolute.mp4", "/v/up.mp4"] {
            let key = key_from_path(path).unwrap();
            let meta = store.head(&key).await.unwrap();
            let range = ByteRange::new(0, meta.len).unwrap();
            let chunks: Vec<Bytes> = store.get(&key, &meta, range).await.unwrap().try_collect().await.unwrap();
            assert_eq!(chunks.concat(), b"inside", "{path}");
        }
    }

    #[tokio::test]
    async fn a_file_rewritten_mid_stream_fails_the_stream() {
        use futures_util::StreamExt;
        use std::os::unix::fs::FileExt;
        let content = vec![7u8; CHUNK_BYTES * 3];
        let (dir, store) = store_with(&[("a.ts", &content)]);
        let key = key_from_path("/a.ts").unwrap();
        let meta = store.head(&key).await.unwrap();
        let mut stream = store.get(&key, &meta, ByteRange::new(0, meta.len).unwrap()).await.unwrap();
        assert!(stream.next().await.unwrap().is_ok());
        let file = File::options().write(true).open(dir.path().join("a.ts")).unwrap();
        file.write_all_at(&[0u8; 16], (CHUNK_BYTES * 2) as u64).unwrap();
        file.set_modified(SystemTime::now() + Duration::from_secs(5)).unwrap();
        assert!(matches!(stream.next().await, Some(Err(StoreError::Changed))));
    }

    #[tokio::test]
    async fn a_replaced_file_is_never_mixed() {
        let (dir, store) = store_with(&[("a.ts", b"first version")]);
        let key = key_from_path("/a.ts").unwrap();
        let meta = store.head(&key).await.unwrap();
        let file = File::options().write(true).open(dir.path().join("a.ts")).unwrap();
        file.set_modified(SystemTime::now() + Duration::from_secs(5)).unwrap();
        let range = ByteRange::new(0, meta.len).unwrap();
        assert!(matches!(store.get(&key, &meta, range).await, Err(StoreError::Changed)));
    }
}
