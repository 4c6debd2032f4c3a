//! The packaged store over an in-memory store: a segment's sample bytes are the wrapped store's
//! own chunks (the same memory, not copies), and its answers agree with its lengths.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use http::HeaderValue;

use super::PackagedStore;
use crate::config::PackagingConfig;
use crate::key::{ObjectKey, key_from_path};
use crate::plan::{ByteRange, ReadHint};
use crate::store::{ByteStream, ObjectMeta, ObjectStore, StoreError};

/// One MP4 in memory, read as 64 KiB slices of that memory.
struct MemoryStore {
    file: Bytes,
}

impl ObjectStore for MemoryStore {
    fn head<'a>(&'a self, _key: &'a ObjectKey) -> BoxFuture<'a, Result<ObjectMeta, StoreError>> {
        let meta = ObjectMeta {
            len: self.file.len() as u64,
            etag: HeaderValue::from_static("\"v1\""),
            last_modified: SystemTime::UNIX_EPOCH,
            content_type: HeaderValue::from_static("video/mp4"),
        };
        Box::pin(async move { Ok(meta) })
    }

    fn get<'a>(
        &'a self,
        _key: &'a ObjectKey,
        _meta: &'a ObjectMeta,
        range: ByteRange,
    ) -> BoxFuture<'a, Result<ByteStream, StoreError>> {
        let bytes = self.file.slice(range.start() as usize..range.end() as usize);
        let chunks: Vec<Result<Bytes, StoreError>> = (0..bytes.len())
            .step_by(64 * 1024)
            .map(|at| Ok(bytes.slice(at..(at + 64 * 1024).min(bytes.len()))))
            .collect();
        Box::pin(async move { Ok(ByteStream::new(futures_util::stream::iter(chunks))) })
    }
}

fn packaged() -> (PackagedStore, Bytes) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/package/h264-aac.mp4");
    let file = Bytes::from(std::fs::read(path).unwrap());
    let config = PackagingConfig { segment_duration: Duration::from_secs(2), ..PackagingConfig::default() };
    (PackagedStore::new(Arc::new(MemoryStore { file: file.clone() }), &config), file)
}

async fn chunks(store: &PackagedStore, path: &str, hint: ReadHint) -> (ObjectMeta, Vec<Bytes>) {
    let opened = store.open(&key_from_path(path).unwrap(), Some(hint)).await.unwrap();
    let mut stream = opened.bytes.expect("the hinted bytes").chunks;
    let mut chunks = Vec::new();
    while let Some(chunk) = stream.next().await {
        chunks.push(chunk.unwrap());
    }
    (opened.meta, chunks)
}

#[tokio::test]
async fn a_segments_sample_bytes_are_the_stores_own_memory() {
    let (store, file) = packaged();
    let inside = |chunk: &Bytes| {
        let (start, end) = (file.as_ptr() as usize, file.as_ptr() as usize + file.len());
        (start..end).contains(&(chunk.as_ptr() as usize))
    };
    for path in ["/hls/a.mp4/1/seg-1.m4s", "/hls/a.mp4/1/seg-2.m4s", "/hls/a.mp4/2/seg-3.m4s"] {
        let (meta, chunks) = chunks(&store, path, ReadHint::Whole).await;
        let (header, samples) = chunks.split_first().unwrap();
        assert!(!inside(header), "{path}: the moof and mdat header are made, not read");
        assert!(samples.iter().all(inside), "{path}: every sample byte is a slice of the store's memory");
        let sent: usize = chunks.iter().map(Bytes::len).sum();
        assert_eq!(sent as u64, meta.len, "{path}: exactly its length");
    }
}

#[tokio::test]
async fn a_range_of_a_segment_is_the_same_bytes_as_the_whole() {
    let (store, _) = packaged();
    let path = "/hls/a.mp4/1/seg-2.m4s";
    let (meta, whole) = chunks(&store, path, ReadHint::Whole).await;
    let whole: Vec<u8> = whole.concat();
    for (first, last) in [(0, 0), (10, 5000), (meta.len / 2, meta.len - 1)] {
        let (_, part) = chunks(&store, path, ReadHint::Between(first, last)).await;
        assert_eq!(part.concat(), whole[first as usize..=last as usize], "bytes={first}-{last}");
    }
}
