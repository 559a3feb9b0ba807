//! Short-lived caches for what pages read and render most. Entries live for a few seconds
//! ([`Freshness`] holds the lifetime) and every entry of every map sharing one `Freshness` is
//! dropped at once when a write in this process calls [`Freshness::invalidate`]. Writes by other
//! processes show up when entries expire, which bounds how stale a page can be; decisions that
//! must be exact (stock at checkout) always read the database.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Most entries a map holds unless told otherwise; past its capacity a map starts over (cheaper
/// than tracking recency, and a shop's hot set is far smaller).
pub const DEFAULT_CAPACITY: usize = 20_000;

struct Entry<V> {
    value: Arc<V>,
    at: Instant,
    generation: u64,
}

pub struct TtlMap<K, V> {
    entries: RwLock<HashMap<K, Entry<V>>>,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, V> Default for TtlMap<K, V> {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

/// The generation counter and lifetime every map of one catalog shares.
pub struct Freshness {
    ttl: Duration,
    generation: AtomicU64,
}

impl Freshness {
    pub fn new(ttl: Duration) -> Self {
        Freshness {
            ttl,
            generation: AtomicU64::new(0),
        }
    }

    /// Makes every entry stale.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn current(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}

impl<K: Eq + Hash + Clone, V> TtlMap<K, V> {
    pub fn with_capacity(capacity: usize) -> Self {
        TtlMap {
            entries: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
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
        if freshness.ttl.is_zero() {
            return load.await.map(Arc::new);
        }
        let generation = freshness.current();
        if let Ok(entries) = self.entries.read()
            && let Some(entry) = entries.get(key)
            && entry.generation == generation
            && entry.at.elapsed() < freshness.ttl
        {
            return Ok(entry.value.clone());
        }
        let value = Arc::new(load.await?);
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= self.capacity {
                entries.clear();
            }
            entries.insert(
                key.clone(),
                Entry {
                    value: value.clone(),
                    at: Instant::now(),
                    generation,
                },
            );
        }
        Ok(value)
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
