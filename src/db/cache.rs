//! Query results kept until their database changes. Every entry belongs to a generation;
//! a change seen on any connection starts a new one and drops every entry, and a result
//! computed under an older generation is not kept (its query may have read the database
//! from before the change). Entries are bounded by their total weight, the least recently
//! used going first.

use std::any::Any;
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;

/// The total weight kept: about this many rows of results (a full scan of rotki's assets is
/// some 8,200, about 2 MB in memory).
const MAX_WEIGHT: usize = 100_000;

type Entry = (Arc<dyn Any + Send + Sync>, usize);

#[derive(Default)]
pub struct Cache(Mutex<Inner>);

#[derive(Default)]
struct Inner {
    generation: u64,
    entries: IndexMap<String, Entry>,
    weight: usize,
}

impl Cache {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn generation(&self) -> u64 {
        self.inner().generation
    }

    pub fn invalidate(&self) {
        let mut inner = self.inner();
        inner.generation += 1;
        inner.entries.clear();
        inner.weight = 0;
    }

    pub fn get<T: Send + Sync + 'static>(&self, key: &str, generation: u64) -> Option<Arc<T>> {
        let mut inner = self.inner();
        if inner.generation != generation {
            return None;
        }
        let index = inner.entries.get_index_of(key)?;
        // Most recently used last.
        let last = inner.entries.len() - 1;
        inner.entries.move_index(index, last);
        inner.entries[last].0.clone().downcast().ok()
    }

    pub fn put<T: Send + Sync + 'static>(&self, key: String, generation: u64, value: Arc<T>, weight: usize) {
        let mut inner = self.inner();
        if inner.generation != generation || weight > MAX_WEIGHT {
            return;
        }
        if let Some((_, old)) = inner.entries.insert(key, (value, weight)) {
            inner.weight -= old;
        }
        inner.weight += weight;
        while inner.weight > MAX_WEIGHT {
            match inner.entries.shift_remove_index(0) {
                Some((_, (_, w))) => inner.weight -= w,
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_results_of_the_current_generation_within_the_weight() {
        let c = Cache::default();
        let g = c.generation();
        c.put("a".into(), g, Arc::new(1u32), 60_000);
        c.put("b".into(), g, Arc::new(2u32), 30_000);
        assert_eq!(c.get::<u32>("a", g).as_deref(), Some(&1));
        // Over the bound: the least recently used ("b") goes.
        c.put("c".into(), g, Arc::new(3u32), 30_000);
        assert!(c.get::<u32>("b", g).is_none());
        assert_eq!(c.get::<u32>("a", g).as_deref(), Some(&1));
        assert!(c.get::<String>("a", g).is_none(), "another type is a miss");
        c.invalidate();
        assert!(c.get::<u32>("a", c.generation()).is_none());
        // A result computed before the change is not kept.
        c.put("d".into(), g, Arc::new(4u32), 1);
        assert!(c.get::<u32>("d", c.generation()).is_none());
    }
}
