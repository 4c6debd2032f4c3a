//! The cache's roles played together against a scripted store ([`super::fake`]): what collapses,
//! what survives a waiter leaving, what a failure leaves behind, and what memory allows.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::fake::{FakeStore, Hold, Script, content, key};
use super::key::BlockKey;
use super::{CacheLookup, CachedStore, report_lookups};
use crate::config::CacheConfig;
use crate::plan::{ByteRange, ReadHint};
use crate::store::{ByteStream, ObjectStore, Opened, StoreError};

/// Small blocks keep the objects small; the roles do not depend on the size.
const BLOCK: u64 = 1000;

/// A cache over `fake`: blocks of [`BLOCK`], room for eight, no read-ahead, metadata kept long
/// enough to never expire in a test, unless `adjust` says otherwise.
async fn cached(fake: &Arc<FakeStore>, adjust: impl FnOnce(&mut CacheConfig)) -> CachedStore {
    let mut config = CacheConfig {
        block_size: BLOCK,
        max_bytes: 8 * BLOCK,
        read_ahead_blocks: 0,
        metadata_ttl: Duration::from_secs(600),
        ..CacheConfig::default()
    };
    adjust(&mut config);
    CachedStore::new(Arc::clone(fake) as Arc<dyn ObjectStore>, &config).await.unwrap()
}

/// A read's bytes, and what the cache found for its first block.
type Read = (Result<Bytes, StoreError>, Option<CacheLookup>);

/// Bytes `first..end` of the object through `store`, with what the cache found for the first
/// block.
async fn read(store: &CachedStore, first: u64, end: u64) -> Read {
    report_lookups(async {
        let meta = store.head(&key()).await?;
        let mut chunks = store.get(&key(), &meta, ByteRange::new(first, end).unwrap()).await?;
        let mut body = BytesMut::new();
        while let Some(chunk) = chunks.next().await {
            body.extend_from_slice(&chunk?);
        }
        Ok(body.freeze())
    })
    .await
}

/// Lets every spawned task run until it waits (the tests run on one thread).
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

/// Starts `count` reads of `first..end` in tasks of their own.
fn spawn_reads(store: &CachedStore, count: usize, first: u64, end: u64) -> Vec<tokio::task::JoinHandle<Read>> {
    (0..count)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { read(&store, first, end).await })
        })
        .collect()
}

#[tokio::test]
async fn waiters_on_one_block_are_one_read() {
    let fake = FakeStore::new(4 * BLOCK as usize);
    let store = cached(&fake, |_| {}).await;
    let hold = fake.hold_next();
    let readers = spawn_reads(&store, 50, BLOCK + 10, BLOCK + 900);
    hold.reached().await;
    settle().await;
    hold.release();
    let mut lookups = Vec::new();
    for reader in readers {
        let (body, lookup) = reader.await.unwrap();
        assert_eq!(body.unwrap(), content(4 * BLOCK as usize, 1).slice(1010..1900));
        lookups.push(lookup.unwrap());
    }
    assert_eq!(fake.gets(), 1, "one read of the inner store for fifty waiters");
    assert_eq!(lookups.iter().filter(|l| **l == CacheLookup::Miss).count(), 1);
    assert_eq!(lookups.iter().filter(|l| **l == CacheLookup::Collapsed).count(), 49, "{lookups:?}");
}

#[tokio::test]
async fn a_waiter_that_leaves_never_cancels_the_fill() {
    let fake = FakeStore::new(4 * BLOCK as usize);
    let store = cached(&fake, |_| {}).await;
    let hold = fake.hold_next();
    // The first reader starts the fill and leaves; so does one that joined it.
    let leaving = spawn_reads(&store, 2, 10, 20);
    let staying = spawn_reads(&store, 1, 500, 600);
    hold.reached().await;
    settle().await;
    for reader in &leaving {
        reader.abort();
    }
    settle().await;
    hold.release();
    let (body, lookup) = staying.into_iter().next().unwrap().await.unwrap();
    assert_eq!(body.unwrap(), content(4 * BLOCK as usize, 1).slice(500..600));
    assert_eq!(lookup, Some(CacheLookup::Collapsed));
    assert_eq!(read(&store, 0, 10).await.1, Some(CacheLookup::Hit), "the fill went on and was cached");
    assert_eq!(fake.gets(), 1);
}

#[tokio::test]
async fn a_fill_whose_waiters_all_left_is_still_cached() {
    let fake = FakeStore::new(4 * BLOCK as usize);
    let store = cached(&fake, |_| {}).await;
    let hold = fake.hold_next();
    let readers = spawn_reads(&store, 3, 10, 20);
    hold.reached().await;
    settle().await;
    readers.iter().for_each(|reader| reader.abort());
    settle().await;
    hold.release();
    settle().await;
    assert_eq!(read(&store, 0, 10).await.1, Some(CacheLookup::Hit));
    assert_eq!(fake.gets(), 1);
}

#[tokio::test]
async fn a_failed_fill_is_not_cached_and_every_waiter_gets_its_error() {
    let fake = FakeStore::new(4 * BLOCK as usize);
    let store = cached(&fake, |_| {}).await;
    let hold = Hold::default();
    fake.script(Script::HoldThenFail(hold.clone(), StoreError::Unavailable { retry_after_secs: 7 }));
    let readers = spawn_reads(&store, 20, 10, 20);
    hold.reached().await;
    settle().await;
    hold.release();
    for reader in readers {
        match reader.await.unwrap().0 {
            Err(StoreError::Unavailable { retry_after_secs: 7 }) => {}
            other => panic!("every waiter gets the fill's error, kind and all: {other:?}"),
        }
    }
    assert_eq!(fake.gets(), 1, "one read failed for all");
    let (body, lookup) = read(&store, 10, 20).await;
    assert_eq!(body.unwrap(), content(4 * BLOCK as usize, 1).slice(10..20));
    assert_eq!(lookup, Some(CacheLookup::Miss), "the failure was not remembered");
    assert_eq!(fake.gets(), 2);
}

#[tokio::test]
async fn a_miss_with_no_memory_left_bypasses() {
    // Room for two blocks in all: one held by the cache, one for a fill in flight.
    let fake = FakeStore::new(4 * BLOCK as usize);
    let store = cached(&fake, |c| c.max_bytes = 2 * BLOCK).await;
    assert_eq!(read(&store, 10, 20).await.1, Some(CacheLookup::Miss), "block 0 is cached");
    let hold = fake.hold_next();
    let held = spawn_reads(&store, 1, BLOCK + 10, BLOCK + 20);
    hold.reached().await;
    for round in 1..=2 {
        let (body, lookup) = read(&store, 2 * BLOCK + 10, 2 * BLOCK + 20).await;
        assert_eq!(body.unwrap(), content(4 * BLOCK as usize, 1).slice(2010..2020));
        assert_eq!(lookup, Some(CacheLookup::Bypass), "round {round}");
    }
    assert_eq!(fake.gets_of(ByteRange::new(2 * BLOCK + 10, 2 * BLOCK + 20).unwrap()), 2, "its own range, twice");
    hold.release();
    assert_eq!(held.into_iter().next().unwrap().await.unwrap().1, Some(CacheLookup::Miss));
}

#[tokio::test]
async fn an_eviction_frees_budget_for_the_next_fill() {
    // The cache holds one block, the budget two: two blocks read one after the other spend the
    // budget until an eviction gives one block's bytes back.
    let fake = FakeStore::new(4 * BLOCK as usize);
    let store = cached(&fake, |c| c.max_bytes = 2 * BLOCK).await;
    let memory = || store.core.finder.memory();
    assert_eq!(read(&store, 10, 20).await.1, Some(CacheLookup::Miss));
    assert_eq!(read(&store, BLOCK + 10, BLOCK + 20).await.1, Some(CacheLookup::Miss));
    assert!(memory().used() <= 2 * BLOCK);
    // moka evicts at its housekeeping, and its hash table frees a removed value when the
    // process-wide epoch of its deferred destruction moves on: usually by the next run, always
    // within a few.
    for _ in 0..100 {
        settle().await;
        memory().make_room().await;
        if memory().used() == BLOCK {
            break;
        }
    }
    assert_eq!(memory().used(), BLOCK, "what the cache no longer holds was given back");
    assert_eq!(read(&store, 2 * BLOCK + 10, 2 * BLOCK + 20).await.1, Some(CacheLookup::Miss), "room to fill");
}

#[tokio::test(start_paused = true)]
async fn a_replaced_object_is_served_in_its_new_version_after_the_metadata_ttl() {
    let ttl = Duration::from_millis(200);
    let fake = FakeStore::new(3 * BLOCK as usize);
    let store = cached(&fake, |c| c.metadata_ttl = ttl).await;
    let old = content(3 * BLOCK as usize, 1);
    assert_eq!(read(&store, 0, 100).await.0.unwrap(), old.slice(..100));
    let new = fake.replace(3 * BLOCK as usize + 5, 2);
    tokio::time::advance(ttl - Duration::from_millis(1)).await;
    // Within the TTL, the cached metadata and the old version's block: never a mix.
    assert_eq!(read(&store, 0, 100).await.0.unwrap(), old.slice(..100));
    tokio::time::advance(Duration::from_millis(1)).await;
    let gets = fake.gets();
    assert_eq!(read(&store, 0, 100).await.0.unwrap(), new.slice(..100));
    assert_eq!(read(&store, 0, 100).await.0.unwrap(), new.slice(..100));
    assert_eq!(fake.gets() - gets, 1, "the new version's block is read from the store once");
}

#[tokio::test]
async fn a_prefetch_is_labelled_for_the_stores_metrics() {
    let fake = FakeStore::new(3 * BLOCK as usize);
    let store = cached(&fake, |c| c.read_ahead_blocks = 1).await;
    assert_eq!(read(&store, 10, 20).await.1, Some(CacheLookup::Miss));
    settle().await;
    assert_eq!(fake.fetches(), ["request", "read_ahead"], "block 1 was read ahead, as a prefetch");
    let (body, lookup) = read(&store, BLOCK + 10, BLOCK + 20).await;
    assert_eq!(body.unwrap(), content(3 * BLOCK as usize, 1).slice(1010..1020));
    assert!(matches!(lookup, Some(CacheLookup::Hit | CacheLookup::Collapsed)), "{lookup:?}");
    settle().await;
    assert_eq!(fake.fetches(), ["request", "read_ahead", "read_ahead"], "and block 2 after it");
}

/// The double read a fault-injection run found: with memory full, moka's admission refuses a
/// block asked for no more often than the blocks it would push out, and a prefetched block has
/// been asked for once, by its prefetch. Dropped before the response that caused the prefetch
/// reached it, it was read from the store a second time. The response now holds its prefetch.
#[tokio::test]
async fn a_prefetched_block_memory_dropped_is_not_read_again() {
    let fake = FakeStore::new(3 * BLOCK as usize);
    let store = cached(&fake, |c| c.read_ahead_blocks = 1).await;
    let meta = store.head(&key()).await.unwrap();
    let mut chunks = store.get(&key(), &meta, ByteRange::new(10, 2 * BLOCK - 10).unwrap()).await.unwrap();
    let mut body = BytesMut::new();
    body.extend_from_slice(&chunks.next().await.unwrap().unwrap());
    settle().await;
    assert_eq!(fake.fetches(), ["request", "read_ahead"], "block 1 was read ahead while block 0 was sent");
    let prefetched = BlockKey { key: key(), etag: meta.etag.clone(), index: 1 };
    store.core.finder.memory().forget(&prefetched).await;
    while let Some(chunk) = chunks.next().await {
        body.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(body.freeze(), content(3 * BLOCK as usize, 1).slice(10..2 * BLOCK as usize - 10));
    assert_eq!(fake.gets_of(ByteRange::new(BLOCK, 2 * BLOCK).unwrap()), 1, "block 1 read once, by its prefetch");
}

/// The cause, played with moka's own admission rule: memory full of blocks asked for several
/// times refuses a block its prefetch alone has asked for; the response still sends it from its
/// prefetch, without a second read.
#[tokio::test]
async fn full_memory_refuses_a_prefetched_block_and_its_response_still_reads_it_once() {
    let fake = FakeStore::new(6 * BLOCK as usize);
    let store = cached(&fake, |c| {
        c.read_ahead_blocks = 1;
        // The cache holds three blocks; the budget has room for two fills besides.
        c.max_bytes = 5 * BLOCK;
    })
    .await;
    let memory = || store.core.finder.memory();
    // Memory holds three blocks: 3, 4 and 5, each asked for four times.
    for _ in 0..4 {
        for block in 3..6 {
            read(&store, block * BLOCK, block * BLOCK + 10).await.0.unwrap();
            settle().await;
            memory().make_room().await;
        }
    }
    let meta = store.head(&key()).await.unwrap();
    let at = |index| BlockKey { key: key(), etag: meta.etag.clone(), index };
    assert!((3..6).all(|index| memory().contains(&at(index))));
    let mut chunks = store.get(&key(), &meta, ByteRange::new(10, 2 * BLOCK - 10).unwrap()).await.unwrap();
    let mut body = BytesMut::new();
    body.extend_from_slice(&chunks.next().await.unwrap().unwrap());
    settle().await;
    memory().make_room().await;
    assert!(!memory().contains(&at(1)), "the prefetched block was refused");
    while let Some(chunk) = chunks.next().await {
        body.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(body.freeze(), content(6 * BLOCK as usize, 1).slice(10..2 * BLOCK as usize - 10));
    assert_eq!(fake.gets_of(ByteRange::new(BLOCK, 2 * BLOCK).unwrap()), 1, "block 1 read once, by its prefetch");
}

async fn collect(mut chunks: ByteStream) -> Result<Bytes, StoreError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = chunks.next().await {
        body.extend_from_slice(&chunk?);
    }
    Ok(body.freeze())
}

#[tokio::test]
async fn a_cold_object_is_one_read_for_its_metadata_and_its_first_block() {
    let fake = FakeStore::new(3 * BLOCK as usize);
    let store = cached(&fake, |_| {}).await;
    let (body, lookup) = report_lookups(async {
        let Opened { meta, bytes } = store.open(&key(), Some(ReadHint::Between(1500, 1599))).await?;
        assert_eq!(meta.len, 3 * BLOCK);
        let bytes = bytes.expect("the bytes came with the metadata");
        assert_eq!(bytes.range, ByteRange::new(1500, 1600).unwrap());
        collect(bytes.chunks).await
    })
    .await;
    assert_eq!(body.unwrap(), content(3 * BLOCK as usize, 1).slice(1500..1600));
    assert_eq!(lookup, Some(CacheLookup::Miss));
    assert_eq!((fake.heads(), fake.gets()), (0, 1), "one read, no metadata lookup");
    assert_eq!(fake.gets_of(ByteRange::new(1000, 2000).unwrap()), 1, "the read was the whole block");
    // The block was kept: the next request for it reads nothing.
    let (body, lookup) = read(&store, 1000, 1100).await;
    assert_eq!((body.unwrap(), lookup), (content(3 * BLOCK as usize, 1).slice(1000..1100), Some(CacheLookup::Hit)));
    assert_eq!((fake.heads(), fake.gets()), (0, 1));
}

#[tokio::test]
async fn a_suffix_range_asks_for_the_metadata_first() {
    let fake = FakeStore::new(3 * BLOCK as usize);
    let store = cached(&fake, |_| {}).await;
    let Opened { meta, bytes } = store.open(&key(), Some(ReadHint::Last(10))).await.unwrap();
    assert_eq!((meta.len, bytes.is_none()), (3 * BLOCK, true));
    assert_eq!((fake.heads(), fake.gets()), (1, 0));
}

#[tokio::test]
async fn a_range_over_many_blocks_goes_through_them_unless_max_range_is_set() {
    let fake = FakeStore::new(4 * BLOCK as usize);
    let whole = content(4 * BLOCK as usize, 1);
    let store = cached(&fake, |_| {}).await;
    let (body, lookup) = read(&store, 0, 4 * BLOCK).await;
    assert_eq!((body.unwrap(), lookup), (whole.clone(), Some(CacheLookup::Miss)));
    for index in 0..4 {
        assert_eq!(fake.gets_of(ByteRange::new(index * BLOCK, (index + 1) * BLOCK).unwrap()), 1, "block {index}");
    }
    let gets = fake.gets();
    assert_eq!(read(&store, 0, 4 * BLOCK).await.1, Some(CacheLookup::Hit), "the blocks were kept");
    assert_eq!(fake.gets(), gets);

    let straight = cached(&fake, |c| c.max_range = Some(2 * BLOCK)).await;
    let (body, lookup) = read(&straight, 0, 4 * BLOCK).await;
    assert_eq!((body.unwrap(), lookup), (whole, None), "not looked up in the cache");
    assert_eq!(fake.gets_of(ByteRange::new(0, 4 * BLOCK).unwrap()), 1, "one read of the whole range");
}
