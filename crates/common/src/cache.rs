//! Short-lived caches for what pages read and render most. Entries live for a few seconds
//! ([`Freshness`] holds the lifetime) and are dropped early only by the writes that change what
//! they hold:
//!
//! - a catalog write in this process (a price, a status, a text) calls
//!   [`Freshness::invalidate`], dropping every entry at once, so the change shows at once here;
//! - search answers changing (the search worker sent documents to the index) call
//!   [`Freshness::invalidate_search`], dropping only what came from the index
//!   ([`Scope::Search`]); a product's own page stays;
//! - stock taken or given back by orders drops nothing: stock on public pages may lag by the
//!   lifetime, and checkout always decides on the database.
//!
//! Several processes stay correct by bounded staleness: another process's writes show here when
//! entries expire, at most one lifetime later. An expired entry is refreshed by one request while
//! the others are still served the old one (no queue behind a rebuild). Each map is bounded by
//! entries and, where its values are large, by bytes; past either it starts over (cheaper than
//! tracking recency, and a shop's hot set is far smaller).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Most entries a map holds unless told otherwise.
pub const DEFAULT_CAPACITY: usize = 20_000;

/// What an entry's value was read from, and so which writes drop it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The tables: dropped by catalog writes.
    Database,
    /// The search index (or a page that shows its answers): dropped by catalog writes and when
    /// the index's answers change.
    Search,
}

struct Entry<V> {
    value: Arc<V>,
    at: Instant,
    stamp: (u64, u64),
    /// Someone is loading its successor; until then the others are served this one.
    refreshing: Arc<AtomicBool>,
    weight: usize,
}

pub struct TtlMap<K, V> {
    entries: RwLock<HashMap<K, Entry<V>>>,
    capacity: usize,
    max_bytes: usize,
    bytes: AtomicUsize,
    scope: Scope,
}

impl<K: Eq + Hash + Clone, V> Default for TtlMap<K, V> {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

/// The lifetime and the generations every map of one catalog shares.
pub struct Freshness {
    ttl: Duration,
    generation: AtomicU64,
    search: AtomicU64,
}

impl Freshness {
    pub fn new(ttl: Duration) -> Self {
        Freshness {
            ttl,
            generation: AtomicU64::new(0),
            search: AtomicU64::new(0),
        }
    }

    /// Makes every entry stale (a catalog write).
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Makes what came from the search index stale (its answers changed).
    pub fn invalidate_search(&self) {
        self.search.fetch_add(1, Ordering::SeqCst);
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn stamp(&self, scope: Scope) -> (u64, u64) {
        let search = match scope {
            Scope::Database => 0,
            Scope::Search => self.search.load(Ordering::SeqCst),
        };
        (self.generation.load(Ordering::SeqCst), search)
    }
}

impl<K: Eq + Hash + Clone, V> TtlMap<K, V> {
    /// A map of values read from the tables.
    pub fn with_capacity(capacity: usize) -> Self {
        Self::new(Scope::Database, capacity, usize::MAX)
    }

    /// A map of values from `scope`, at most `capacity` of them weighing at most `max_bytes`.
    pub fn new(scope: Scope, capacity: usize, max_bytes: usize) -> Self {
        TtlMap {
            entries: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
            max_bytes,
            bytes: AtomicUsize::new(0),
            scope,
        }
    }

    /// The cached value for `key`, or what `load` returns (kept when it succeeds).
    pub async fn get_or_load<E, F>(
        &self,
        freshness: &Freshness,
        key: &K,
        load: F,
    ) -> Result<Arc<V>, E>
    where
        F: Future<Output = Result<V, E>>,
    {
        self.get_or_load_weighed(freshness, key, load, |_| 0).await
    }

    /// As [`get_or_load`](Self::get_or_load), counting each value as `weight(value)` bytes
    /// against the map's byte limit.
    pub async fn get_or_load_weighed<E, F>(
        &self,
        freshness: &Freshness,
        key: &K,
        load: F,
        weight: impl Fn(&V) -> usize,
    ) -> Result<Arc<V>, E>
    where
        F: Future<Output = Result<V, E>>,
    {
        if freshness.ttl.is_zero() {
            return load.await.map(Arc::new);
        }
        let stamp = freshness.stamp(self.scope);
        let mut claimed: Option<Arc<AtomicBool>> = None;
        if let Ok(entries) = self.entries.read()
            && let Some(entry) = entries.get(key)
            && entry.stamp == stamp
        {
            if entry.at.elapsed() < freshness.ttl {
                return Ok(entry.value.clone());
            }
            // Expired but not changed: one request refreshes it, the others keep the old one.
            if entry
                .refreshing
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                return Ok(entry.value.clone());
            }
            claimed = Some(entry.refreshing.clone());
        }
        let value = match load.await {
            Ok(value) => Arc::new(value),
            Err(error) => {
                if let Some(flag) = claimed {
                    flag.store(false, Ordering::Release);
                }
                return Err(error);
            }
        };
        let weight = weight(&value);
        if weight > self.max_bytes {
            return Ok(value);
        }
        if let Ok(mut entries) = self.entries.write() {
            let full = entries.len() >= self.capacity && !entries.contains_key(key);
            if full || self.bytes.load(Ordering::Relaxed) + weight > self.max_bytes {
                entries.clear();
                self.bytes.store(0, Ordering::Relaxed);
            }
            let entry = Entry {
                value: value.clone(),
                at: Instant::now(),
                stamp,
                refreshing: Arc::new(AtomicBool::new(false)),
                weight,
            };
            if let Some(old) = entries.insert(key.clone(), entry) {
                self.bytes.fetch_sub(old.weight, Ordering::Relaxed);
            }
            self.bytes.fetch_add(weight, Ordering::Relaxed);
        }
        Ok(value)
    }

    /// How many entries and bytes the map holds now.
    pub fn size(&self) -> (usize, usize) {
        let entries = self.entries.read().map_or(0, |e| e.len());
        (entries, self.bytes.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_from_cache_until_invalidated_or_expired() {
        let freshness = Freshness::new(Duration::from_millis(50));
        let map: TtlMap<u8, u32> = TtlMap::default();
        let loads = AtomicU64::new(0);
        let load = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(7)
        };
        assert_eq!(*map.get_or_load(&freshness, &1, load()).await.unwrap(), 7);
        assert_eq!(*map.get_or_load(&freshness, &1, load()).await.unwrap(), 7);
        assert_eq!(loads.load(Ordering::SeqCst), 1, "second read from cache");
        freshness.invalidate();
        map.get_or_load(&freshness, &1, load()).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 2, "a write drops entries");
        tokio::time::sleep(Duration::from_millis(60)).await;
        map.get_or_load(&freshness, &1, load()).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 3, "entries expire");
    }

    #[tokio::test]
    async fn search_changes_drop_only_what_came_from_search() {
        let freshness = Freshness::new(Duration::from_secs(60));
        let tables: TtlMap<u8, u32> = TtlMap::with_capacity(10);
        let answers: TtlMap<u8, u32> = TtlMap::new(Scope::Search, 10, usize::MAX);
        tables
            .get_or_load(&freshness, &1, async { Ok::<_, ()>(1) })
            .await
            .unwrap();
        answers
            .get_or_load(&freshness, &1, async { Ok::<_, ()>(1) })
            .await
            .unwrap();
        freshness.invalidate_search();
        let kept = tables
            .get_or_load(&freshness, &1, async { Ok::<_, ()>(2) })
            .await
            .unwrap();
        let dropped = answers
            .get_or_load(&freshness, &1, async { Ok::<_, ()>(2) })
            .await
            .unwrap();
        assert_eq!((*kept, *dropped), (1, 2));
    }

    #[tokio::test]
    async fn an_expired_entry_is_refreshed_once_while_the_old_one_is_served() {
        let freshness = Arc::new(Freshness::new(Duration::from_millis(20)));
        let map: Arc<TtlMap<u8, u32>> = Arc::new(TtlMap::default());
        map.get_or_load(&freshness, &1, async { Ok::<_, ()>(1) })
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        let refresher = {
            let (map, freshness) = (map.clone(), freshness.clone());
            tokio::spawn(async move {
                map.get_or_load(&freshness, &1, async {
                    let _ = wait.await;
                    Ok::<_, ()>(2)
                })
                .await
                .map(|v| *v)
            })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        // While the refresh runs, others get the old value without loading.
        let loads = AtomicU64::new(0);
        let meanwhile = map
            .get_or_load(&freshness, &1, async {
                loads.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>(3)
            })
            .await
            .unwrap();
        assert_eq!((*meanwhile, loads.load(Ordering::SeqCst)), (1, 0));
        let _ = release.send(());
        assert_eq!(refresher.await.unwrap(), Ok(2));
        let now = map
            .get_or_load(&freshness, &1, async { Ok::<_, ()>(4) })
            .await
            .unwrap();
        assert_eq!(*now, 2, "the refreshed value is served");
    }

    #[tokio::test]
    async fn bytes_and_entries_are_bounded() {
        let freshness = Freshness::new(Duration::from_secs(60));
        let map: TtlMap<u32, Vec<u8>> = TtlMap::new(Scope::Database, 100, 1000);
        for key in 0..50 {
            map.get_or_load_weighed(
                &freshness,
                &key,
                async { Ok::<_, ()>(vec![0; 300]) },
                Vec::len,
            )
            .await
            .unwrap();
            let (entries, bytes) = map.size();
            assert!(
                bytes <= 1000 && entries <= 3,
                "{entries} entries, {bytes} bytes"
            );
        }
        let big = map
            .get_or_load_weighed(
                &freshness,
                &99,
                async { Ok::<_, ()>(vec![0; 5000]) },
                Vec::len,
            )
            .await
            .unwrap();
        assert_eq!(big.len(), 5000, "served, not kept");
        assert!(map.size().1 <= 1000);
    }

    #[tokio::test]
    async fn errors_are_not_kept() {
        let freshness = Freshness::new(Duration::from_secs(60));
        let map: TtlMap<u8, u32> = TtlMap::default();
        assert!(
            map.get_or_load(&freshness, &1, async { Err::<u32, _>("down") })
                .await
                .is_err()
        );
        assert_eq!(
            *map.get_or_load(&freshness, &1, async { Ok::<_, ()>(3) })
                .await
                .unwrap(),
            3
        );
    }
}
