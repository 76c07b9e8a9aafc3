//! The bounded cache of aligned copies used by
//! [`NpzReader`](super::reader::NpzReader) for data that cannot be viewed in
//! place: unaligned or byte-swapped stored members and deflated members
//! (inflated as stored, and byte-swapped when a native view is asked for).
//!
//! A remote archive's fetched member bytes live in the same cache (and the
//! same budget), so an evicted member is fetched again when next needed.
//!
//! The budget is in bytes. A copy larger than the whole budget is handed out
//! but never cached, so memory held by the cache stays below the budget.

use lru::LruCache;
use std::sync::{Arc, Mutex, PoisonError};

/// A cached copy: `buf[start..start + len]` holds the array data, aligned for
/// any element type, in the byte order its [`CopyKey`] says; or (kind
/// [`CopyKind::Fetched`]) a remote member's fetched bytes, as stored.
#[derive(Clone)]
pub(crate) struct Copy {
    pub buf: Arc<dyn AsRef<[u8]> + Send + Sync>,
    pub start: usize,
    pub len: usize,
}

impl Copy {
    /// Bytes held.
    pub fn size(&self) -> usize {
        (*self.buf).as_ref().len()
    }
}

/// What a cached buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum CopyKind {
    /// The array data as stored, aligned.
    AsStored,
    /// The native-order copy of a member stored in the other order.
    Swapped,
    /// A remote member's whole range, as fetched (local header included).
    #[cfg_attr(not(feature = "object-store"), allow(dead_code))]
    Fetched,
}

/// A cached buffer: member and kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CopyKey {
    /// Member index.
    pub member: u32,
    /// What the buffer holds.
    pub kind: CopyKind,
}

struct Inner {
    lru: LruCache<CopyKey, Copy>,
    bytes: usize,
}

/// An LRU of copies keyed by member and byte order, bounded by total bytes.
pub(crate) struct CopyCache {
    inner: Mutex<Inner>,
    limit: usize,
}

impl CopyCache {
    /// A cache holding at most `limit` bytes of copies.
    pub fn new(limit: usize) -> CopyCache {
        CopyCache {
            inner: Mutex::new(Inner {
                lru: LruCache::unbounded(),
                bytes: 0,
            }),
            limit,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The cache holds no invariant a panicking holder could break
        // half-way (insert and evict keep `bytes` consistent before
        // returning), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached copy `idx`, marking it most recently used.
    pub fn get(&self, idx: CopyKey) -> Option<Copy> {
        if self.limit == 0 {
            return None;
        }
        self.lock().lru.get(&idx).cloned()
    }

    /// Caches `copy` as `idx` (unless it alone exceeds the budget),
    /// evicting least recently used copies until the total fits.
    pub fn insert(&self, idx: CopyKey, copy: Copy) {
        let size = copy.size();
        if size > self.limit {
            return;
        }
        let mut g = self.lock();
        if let Some(old) = g.lru.put(idx, copy) {
            g.bytes = g.bytes.saturating_sub(old.size());
        }
        g.bytes = g.bytes.saturating_add(size);
        while g.bytes > self.limit {
            match g.lru.pop_lru() {
                Some((_, old)) => g.bytes = g.bytes.saturating_sub(old.size()),
                None => {
                    g.bytes = 0;
                    break;
                }
            }
        }
    }

    /// Bytes currently held.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Number of copies currently held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().lru.len()
    }

    /// Drops every cached copy.
    pub fn clear(&self) {
        let mut g = self.lock();
        g.lru.clear();
        g.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::view::AlignedBuf;

    fn k(member: u32) -> CopyKey {
        CopyKey {
            member,
            kind: CopyKind::AsStored,
        }
    }

    fn copy(n: usize) -> Copy {
        Copy {
            buf: Arc::new(AlignedBuf::zeroed(n).unwrap()),
            start: 0,
            len: n,
        }
    }

    #[test]
    fn bounded_by_bytes() {
        let c = CopyCache::new(100);
        c.insert(k(1), copy(40));
        c.insert(k(2), copy(40));
        assert_eq!(c.bytes(), 80);
        assert!(c.get(k(1)).is_some()); // 1 is now most recent
        c.insert(k(3), copy(40));
        assert_eq!(c.bytes(), 80);
        assert!(c.get(k(2)).is_none());
        assert!(c.get(k(1)).is_some());
        c.insert(k(4), copy(101)); // larger than the budget: not cached
        assert!(c.get(k(4)).is_none());
        assert_eq!(c.len(), 2);
        // The two byte orders of one member are distinct copies.
        c.insert(
            CopyKey {
                member: 1,
                kind: CopyKind::Swapped,
            },
            copy(10),
        );
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(k(1)).unwrap().len, 40);
        c.clear();
        assert_eq!(c.bytes(), 0);
        let off = CopyCache::new(0);
        off.insert(k(1), copy(0));
        assert!(off.get(k(1)).is_none());
    }
}
