//! The local-folder backend: serves files under one directory, for `cargo run` and for tests.
//!
//! Reads are positioned reads (`pread`) on a blocking thread, one bounded chunk at a time, each
//! into a fresh `Bytes` handed to hyper without a further copy. The next chunk is read only when
//! hyper asks for it, so a slow client holds at most one chunk here and one in hyper's buffer.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::HeaderValue;

use super::{ByteStream, ChunkLimit, ObjectMeta, ObjectStore, StoreError};
use crate::key::ObjectKey;
use crate::media_type;
use crate::plan::{ByteRange, whole_seconds};

/// Bytes read per chunk. Large enough that the per-chunk cost (a blocking-pool hop, one
/// allocation) is small next to the copy, small enough that a slow client pins little memory.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// Serves the files under one directory.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// Serves `root`, which must exist. The root is resolved once so symlinks cannot lead outside it.
    pub fn new(root: &Path) -> std::io::Result<Self> {
        Ok(Self { root: root.canonicalize()? })
    }

    /// The resolved directory served.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves a key to a regular file inside the root, following symlinks only if they stay in it.
    fn resolve(&self, key: &ObjectKey) -> Result<PathBuf, StoreError> {
        let mut path = self.root.clone();
        path.extend(key.segments());
        let resolved = path.canonicalize().map_err(not_found_or_io)?;
        if !resolved.starts_with(&self.root) {
            return Err(StoreError::NotFound);
        }
        Ok(resolved)
    }
}

fn not_found_or_io(error: std::io::Error) -> StoreError {
    use std::io::ErrorKind::*;
    match error.kind() {
        NotFound | NotADirectory | PermissionDenied | IsADirectory => StoreError::NotFound,
        _ => StoreError::Io(error),
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

/// What identifies one version of a file: its modification time and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Version {
    modified: SystemTime,
    len: u64,
}

impl Version {
    fn of(file: &std::fs::Metadata) -> Result<Self, StoreError> {
        Ok(Self { modified: file.modified()?, len: file.len() })
    }

    fn etag(&self) -> HeaderValue {
        let since_epoch = self.modified.duration_since(UNIX_EPOCH).unwrap_or_default();
        let etag = format!("\"{:x}{:08x}-{:x}\"", since_epoch.as_secs(), since_epoch.subsec_nanos(), self.len);
        HeaderValue::try_from(etag).expect("hex digits are a valid header value")
    }
}

impl ObjectStore for LocalStore {
    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<ObjectMeta, StoreError>> {
        let this = self.clone();
        let key = key.clone();
        Box::pin(async move {
            blocking(move || {
                let path = this.resolve(&key)?;
                let metadata = std::fs::metadata(path).map_err(not_found_or_io)?;
                meta_of(&metadata, &key)
            })
            .await
        })
    }

    fn get<'a>(
        &'a self,
        key: &'a ObjectKey,
        meta: &'a ObjectMeta,
        range: ByteRange,
    ) -> BoxFuture<'a, Result<ByteStream, StoreError>> {
        let this = self.clone();
        let key = key.clone();
        let expected = meta.etag.clone();
        Box::pin(async move {
            let (file, version) = blocking(move || {
                let file = File::open(this.resolve(&key)?).map_err(not_found_or_io)?;
                let version = Version::of(&file.metadata()?)?;
                if version.etag() != expected {
                    return Err(StoreError::Changed);
                }
                Ok((file, version))
            })
            .await?;
            Ok(read_chunks(Arc::new(file), version, range))
        })
    }
}

/// Streams `range` of `file`, one chunk per poll. A file that shrinks, or is rewritten in place,
/// mid-read ends the stream with `Changed`, never with a short or mixed success: each chunk is
/// checked against the version after it is read (one `fstat` per chunk).
fn read_chunks(file: Arc<File>, version: Version, range: ByteRange) -> ByteStream {
    let limit = ChunkLimit::default();
    ByteStream::sized(
        limit.clone(),
        async_stream::try_stream! {
            let mut offset = range.start();
            while offset < range.end() {
                let len = usize::try_from(range.end() - offset).unwrap_or(usize::MAX).min(limit.get_or(CHUNK_BYTES));
                let file = Arc::clone(&file);
                let chunk = blocking(move || read_chunk(&file, version, offset, len)).await?;
                offset += chunk.len() as u64;
                yield chunk;
            }
        },
    )
}

fn read_chunk(file: &File, version: Version, offset: u64, len: usize) -> Result<Bytes, StoreError> {
    // Positional reads straight into the vector's spare capacity (rustix's `spare_capacity`
    // extends the vector by what the kernel wrote): one `pread` per chunk, with no zeroed buffer
    // (zeroing was a fifth of the instructions spent serving a range, docs/benchmarks.md), and
    // neither a `seek` nor the growing steps of std's `read_to_end` (8 to 128 KiB: six reads per
    // chunk, counted with strace).
    let mut buf = Vec::with_capacity(len);
    while buf.len() < len {
        let at = offset + buf.len() as u64;
        if rustix::io::pread(file, rustix::buffer::spare_capacity(&mut buf), at).map_err(std::io::Error::from)? == 0 {
            // The file shrank since its metadata was read.
            return Err(StoreError::Changed);
        }
    }
    // `with_capacity` may round up: never send more than was asked for.
    buf.truncate(len);
    // A write in place changes the modification time: the bytes just read may be of either
    // version, so they are not sent.
    if Version::of(&file.metadata()?)? != version {
        return Err(StoreError::Changed);
    }
    // Exactly `len` bytes in `len` capacity: the vector becomes the `Bytes` without a copy.
    Ok(Bytes::from(buf))
}

/// Runs filesystem calls on tokio's blocking pool, so they never stall a runtime worker.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|_| Err(StoreError::internal("a blocking file task failed")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::key_from_path;
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
