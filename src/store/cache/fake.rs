//! A scripted store for the cache's unit tests: one object, whose reads it counts, and whose next
//! reads can be held until released or made to fail, so that races the real S3 leaves to timing
//! are played in a chosen order.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::HeaderValue;
use tokio::sync::Notify;

use crate::key::{ObjectKey, key_from_path};
use crate::plan::{ByteRange, ReadHint};
use crate::store::{ByteStream, ObjectMeta, ObjectStore, Opened, Prefetched, StoreError};

/// Bytes per chunk of a read's body.
const CHUNK: usize = 100;

/// What the next read does.
pub enum Script {
    /// Answers, then sends nothing until the hold is released.
    Hold(Hold),
    /// Answers, waits until released, then fails before its first byte.
    HoldThenFail(Hold, StoreError),
}

/// A read held by the store: the test waits until it is reached, then releases it.
#[derive(Clone, Default)]
pub struct Hold {
    reached: Arc<Notify>,
    release: Arc<Notify>,
}

impl Hold {
    /// Waits until the held read has been made.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Lets the held read send its bytes.
    pub fn release(&self) {
        self.release.notify_one();
    }
}

/// One object, `/a.mp4`, in one version at a time.
pub struct FakeStore {
    object: Mutex<(ObjectMeta, Bytes)>,
    scripts: Mutex<VecDeque<Script>>,
    /// Each read's range, and what it was for (`request` or `read_ahead`).
    gets: Mutex<Vec<(ByteRange, &'static str)>>,
    heads: AtomicUsize,
}

/// The key of the store's one object.
pub fn key() -> ObjectKey {
    key_from_path("/a.mp4").unwrap()
}

/// Bytes that differ from one offset (and one `version`) to the next.
pub fn content(len: usize, version: u8) -> Bytes {
    (0..len).map(|i| (i % 251) as u8 ^ version).collect::<Vec<u8>>().into()
}

fn meta(bytes: &Bytes, version: u8) -> ObjectMeta {
    ObjectMeta {
        len: bytes.len() as u64,
        etag: HeaderValue::try_from(format!("\"v{version}\"")).unwrap(),
        last_modified: SystemTime::UNIX_EPOCH,
        content_type: HeaderValue::from_static("video/mp4"),
    }
}

impl FakeStore {
    /// The object in version 1, `len` bytes long.
    pub fn new(len: usize) -> Arc<Self> {
        let bytes = content(len, 1);
        Arc::new(Self {
            object: Mutex::new((meta(&bytes, 1), bytes)),
            scripts: Mutex::default(),
            gets: Mutex::default(),
            heads: AtomicUsize::new(0),
        })
    }

    /// Replaces the object with `version`, `len` bytes long; returns its bytes.
    pub fn replace(&self, len: usize, version: u8) -> Bytes {
        let bytes = content(len, version);
        *self.object.lock().unwrap() = (meta(&bytes, version), bytes.clone());
        bytes
    }

    /// The current version's metadata.
    pub fn meta(&self) -> ObjectMeta {
        self.object.lock().unwrap().0.clone()
    }

    /// Queues what the next read without a script yet does.
    pub fn script(&self, script: Script) {
        self.scripts.lock().unwrap().push_back(script);
    }

    /// Holds the next read; the handle releases it.
    pub fn hold_next(&self) -> Hold {
        let hold = Hold::default();
        self.script(Script::Hold(hold.clone()));
        hold
    }

    /// Ranged reads so far.
    pub fn gets(&self) -> usize {
        self.gets.lock().unwrap().len()
    }

    /// Ranged reads of exactly `range` so far.
    pub fn gets_of(&self, range: ByteRange) -> usize {
        self.gets.lock().unwrap().iter().filter(|(got, _)| *got == range).count()
    }

    /// What each read so far was for, in order.
    pub fn fetches(&self) -> Vec<&'static str> {
        self.gets.lock().unwrap().iter().map(|(_, fetch)| *fetch).collect()
    }

    /// Metadata lookups so far.
    pub fn heads(&self) -> usize {
        self.heads.load(Ordering::SeqCst)
    }
}

impl ObjectStore for FakeStore {
    /// As S3 does: the metadata and the hinted bytes in one read (counted as a read, not a
    /// metadata lookup); the metadata alone without a hint.
    fn open<'a>(&'a self, key: &'a ObjectKey, hint: Option<ReadHint>) -> BoxFuture<'a, Result<Opened, StoreError>> {
        Box::pin(async move {
            let meta = self.meta();
            let Some(range) = hint.and_then(|hint| hint.resolve(meta.len)) else {
                return Ok(Opened { meta: self.head(key).await?, bytes: None });
            };
            if key.as_str() != self::key().as_str() {
                return Err(StoreError::NotFound);
            }
            let chunks = self.get(key, &meta, range).await?;
            Ok(Opened { meta, bytes: Some(Prefetched { range, chunks }) })
        })
    }

    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<ObjectMeta, StoreError>> {
        self.heads.fetch_add(1, Ordering::SeqCst);
        let found = (key.as_str() == self::key().as_str()).then(|| self.meta());
        Box::pin(async move { found.ok_or(StoreError::NotFound) })
    }

    fn get<'a>(
        &'a self,
        _key: &'a ObjectKey,
        meta: &'a ObjectMeta,
        range: ByteRange,
    ) -> BoxFuture<'a, Result<ByteStream, StoreError>> {
        self.gets.lock().unwrap().push((range, super::read_ahead::fetch_label()));
        let script = self.scripts.lock().unwrap().pop_front();
        let (current, bytes) = self.object.lock().unwrap().clone();
        Box::pin(async move {
            if current.etag != meta.etag {
                return Err(StoreError::Changed);
            }
            let (hold, failure) = match script {
                Some(Script::Hold(hold)) => (Some(hold), None),
                Some(Script::HoldThenFail(hold, error)) => (Some(hold), Some(error)),
                None => (None, None),
            };
            let body = bytes.slice(range.start() as usize..range.end() as usize);
            Ok(ByteStream::new(async_stream::try_stream! {
                if let Some(hold) = hold {
                    hold.reached.notify_one();
                    hold.release.notified().await;
                }
                if let Some(error) = failure {
                    Err::<(), StoreError>(error)?;
                }
                for start in (0..body.len()).step_by(CHUNK) {
                    yield body.slice(start..(start + CHUNK).min(body.len()));
                }
            }))
        })
    }
}
