//! Hints: a small set-associative cache in front of the reader's hash
//! table, from a key's hash to the arena cell of its cached headers.
//!
//! A hint is 32 bits: the cell (plus one, so 0 is "empty") in the low bits,
//! as many of the hash's high bits as are left above it as a tag. Four hints
//! share a 16-byte bucket. The table is at most 128 KiB, so the lookups that
//! fill it keep it in a core's L2 cache, and a cached `get` of a hot set
//! reads one line of it and then the headers. A hint is only a guess: the
//! caller compares the key with the one the cell's headers keep.

use std::sync::atomic::{AtomicU32, Ordering};

/// Hints per bucket (one 16-byte bucket never straddles a cache line: the
/// allocation is 16-byte aligned).
const WAYS: usize = 4;

/// Buckets at most: 8,192 × 16 bytes = 128 KiB (32,768 hints: 10,000 hot
/// keys lose about 0.8% of their hints to full buckets; in 64 KiB, 7%).
const BUCKETS_MAX: usize = 1 << 13;

pub(super) struct Hints {
    /// `buckets × WAYS` hints, bucket after bucket; zeroed (empty) by the
    /// allocator, so pages no hint is written to cost nothing.
    hints: Box<[AtomicU32]>,
    /// Mask of the low bits that hold a cell plus one.
    cell_mask: u32,
}

impl Hints {
    /// Hints for up to `members` members whose cells are below `cells`
    /// (none if `cells` is 0: the reader caches no headers).
    pub(super) fn new(members: usize, cells: u32) -> Hints {
        let buckets = match cells {
            0 => 0,
            _ => (members / WAYS).clamp(1, BUCKETS_MAX).next_power_of_two(),
        };
        Hints {
            hints: bytemuck::zeroed_slice_box(buckets * WAYS),
            // Room for `cells` itself: every cell + 1 fits in the mask.
            cell_mask: u32::MAX >> cells.leading_zeros().min(31),
        }
    }

    /// The bucket of hash `h`.
    #[inline]
    fn bucket(&self, h: u64) -> Option<&[AtomicU32]> {
        let buckets = self.hints.len() / WAYS;
        let start = ((h as usize) & buckets.checked_sub(1)?) * WAYS;
        self.hints.get(start..start + WAYS)
    }

    /// The tag of hash `h` (its high half, less the cell bits).
    #[inline]
    fn tag(&self, h: u64) -> u32 {
        (h >> 32) as u32 & !self.cell_mask
    }

    /// The cells hinted for hash `h`, for the first of which `is_it` holds.
    #[inline]
    pub(super) fn find<T>(&self, h: u64, mut is_it: impl FnMut(u32) -> Option<T>) -> Option<T> {
        let tag = self.tag(h);
        for hint in self.bucket(h)? {
            let v = hint.load(Ordering::Relaxed);
            let cell = v & self.cell_mask;
            if v & !self.cell_mask == tag
                && cell != 0
                && let Some(found) = is_it(cell - 1)
            {
                return Some(found);
            }
        }
        None
    }

    /// Hints `cell` for hash `h`: in a free place of its bucket, else in
    /// place of an older hint (which way depends on the cell, so a bucket's
    /// hints are replaced in turn rather than one of them always).
    pub(super) fn put(&self, h: u64, cell: u32) {
        let Some(bucket) = self.bucket(h) else {
            return;
        };
        let Some(plus_one) = cell.checked_add(1).filter(|c| c & !self.cell_mask == 0) else {
            return;
        };
        let v = self.tag(h) | plus_one;
        let free = bucket.iter().find(|x| x.load(Ordering::Relaxed) == 0);
        let victim = bucket.get(cell as usize % WAYS);
        if let Some(x) = free.or(victim) {
            x.store(v, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_was_put_and_keeps_the_latest_four_of_a_bucket() {
        let hints = Hints::new(100, 1_000);
        let cells = |h: u64| {
            let mut found = Vec::new();
            hints.find(h, |c| {
                found.push(c);
                None::<()>
            });
            found
        };
        // Same bucket (low bits), different tags (high bits).
        let h = |k: u64| k << 50 | 5;
        assert!(cells(h(1)).is_empty());
        hints.put(h(1), 0);
        hints.put(h(2), 999);
        assert_eq!(cells(h(1)), [0]);
        assert_eq!(cells(h(2)), [999]);
        assert!(cells(h(3)).is_empty());
        for k in 3..=6 {
            hints.put(h(k), k as u32);
        }
        // A full bucket: each put replaced one older hint.
        let kept: Vec<u64> = (1..=6).filter(|&k| !cells(h(k)).is_empty()).collect();
        assert_eq!(kept.len(), WAYS);
        assert!(kept.contains(&6));
        // A cell whose number does not fit is not hinted; `find` stops at
        // the first match.
        hints.put(h(7), 1_023);
        assert!(cells(h(7)).is_empty());
        assert_eq!(hints.find(h(6), Some), Some(6));
    }

    #[test]
    fn no_cells_no_hints() {
        let hints = Hints::new(1_000, 0);
        hints.put(7, 0);
        assert_eq!(hints.find(7, Some), None);
        assert!(hints.hints.is_empty());
    }

    #[test]
    fn sized_to_the_members_up_to_128_kib() {
        assert_eq!(Hints::new(1, 10).hints.len(), WAYS);
        assert_eq!(Hints::new(1_000, 10).hints.len(), 1_024);
        assert_eq!(Hints::new(10_000_000, u32::MAX >> 1).hints.len(), 32_768);
        // The largest arena leaves a 1-bit tag.
        assert_eq!(Hints::new(1, u32::MAX >> 1).cell_mask, u32::MAX >> 1);
    }
}
