//! An append-only arena shared by threads: values pushed once, kept at a
//! fixed place until the arena is dropped, and found by index. The reader
//! keeps members' parsed headers here, densely and in the order they were
//! first read, so a pass of cached lookups reads them from few cache lines.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// Cells per chunk; chunks are allocated when first needed.
const CHUNK: usize = 1024;

/// A chunk's cells, each set once.
type Chunk<T> = Box<[Cell<T>]>;

/// A cell, aligned to a cache line: a value that fits one (with the
/// `OnceLock` state) is read from one line.
#[repr(align(64))]
struct Cell<T>(OnceLock<T>);

pub(super) struct Arena<T> {
    /// Cells handed out (the next push's index).
    len: AtomicU32,
    /// Cells the arena may hand out.
    cap: u32,
    chunks: Box<[OnceLock<Chunk<T>>]>,
}

impl<T> Arena<T> {
    /// An arena of up to `cap` cells (chunk references are made now,
    /// chunks when first used).
    pub(super) fn with_capacity(cap: u32) -> Arena<T> {
        Arena {
            len: AtomicU32::new(0),
            cap,
            chunks: (0..(cap as usize).div_ceil(CHUNK))
                .map(|_| OnceLock::new())
                .collect(),
        }
    }

    /// Keeps `value`: its index and a reference to it, or the value back
    /// once every cell has been handed out.
    pub(super) fn push(&self, value: T) -> Result<(u32, &T), T> {
        let Ok(idx) = (self.len).fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n < self.cap).then_some(n + 1)
        }) else {
            return Err(value);
        };
        let Some(chunk) = self.chunks.get(idx as usize / CHUNK) else {
            return Err(value);
        };
        let cells = chunk.get_or_init(|| (0..CHUNK).map(|_| Cell(OnceLock::new())).collect());
        let Some(cell) = cells.get(idx as usize % CHUNK) else {
            return Err(value);
        };
        // The index is this push's alone: the cell is empty, and the value
        // is stored.
        Ok((idx, cell.0.get_or_init(move || value)))
    }

    /// The value at `idx`, once its push has stored it.
    #[inline]
    pub(super) fn get(&self, idx: u32) -> Option<&T> {
        let chunk = self.chunks.get(idx as usize / CHUNK)?.get()?;
        chunk.get(idx as usize % CHUNK)?.0.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_pushed_from_threads_are_all_found_at_their_indices() {
        let arena = Arena::with_capacity(20_000);
        let found: Vec<Vec<(u32, u64)>> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4u64)
                .map(|t| {
                    let arena = &arena;
                    s.spawn(move || {
                        (0..5_000u64)
                            .map(|k| {
                                let v = t * 1_000_000 + k;
                                let (idx, got) = arena.push(v).ok().unwrap();
                                assert_eq!(*got, v);
                                (idx, v)
                            })
                            .collect()
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let mut seen: Vec<u32> = Vec::new();
        for (idx, v) in found.into_iter().flatten() {
            assert_eq!(arena.get(idx), Some(&v));
            seen.push(idx);
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..20_000).collect::<Vec<u32>>());
        // Full: a further value is refused, and nothing is found past the end.
        assert_eq!(arena.push(7).err(), Some(7));
        assert_eq!(arena.get(20_000), None);
    }

    #[test]
    fn cells_are_cache_lines() {
        let arena = Arena::with_capacity(3);
        let a = std::ptr::from_ref(arena.push(1u8).ok().unwrap().1) as usize;
        let b = std::ptr::from_ref(arena.push(2u8).ok().unwrap().1) as usize;
        assert_eq!(b - a, 64);
        assert_eq!(std::mem::align_of::<Cell<u8>>(), 64);
    }

    #[test]
    fn an_empty_arena_refuses_and_finds_nothing() {
        let arena = Arena::with_capacity(0);
        assert_eq!(arena.push(1u8).err(), Some(1));
        assert_eq!(arena.get(0), None);
    }
}
