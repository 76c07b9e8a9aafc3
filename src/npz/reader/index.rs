//! The key index: central directory entries (fixed size, names in one
//! shared `String`), the overlap check, and the open-addressing table from
//! keys to entries (seeded foldhash), with `np.load`'s duplicate rule.

use super::member::Parsed;
use super::source::{Source, rebase};
use super::{NpzReader, ReaderOptions, to_usize, zip_err};
use crate::error::{Error, Location, Result};
use crate::npz::cache::CopyCache;
use crate::npz::key_of;
use crate::zip::{CENTRAL_HEADER_LEN, Directory, EndOfCentralDirectory, LOCAL_HEADER_LEN};
use std::hash::BuildHasher;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// One central directory entry, fixed size.
#[derive(Debug)]
pub(super) struct Entry {
    /// Absolute offset of the local header in the map (prefix applied).
    pub local_offset: u64,
    /// Where the next member's local header (or the central directory)
    /// starts: this member's bytes must end before it.
    pub next_offset: u64,
    pub compressed: u64,
    pub uncompressed: u64,
    name_start: u32,
    name_len: u32,
    /// Length of the key (the name without a `.npy` suffix).
    key_len: u32,
    /// Length of the raw (undecoded) name, as in the local header.
    pub raw_name_len: u16,
    pub crc32: u32,
    pub method: u16,
    pub flags: u16,
    /// False when a later member with the same key shadows this one.
    pub live: bool,
    /// The member's headers, parsed on first access (set through
    /// [`NpzReader::keep_parsed`]).
    pub parsed: OnceLock<Box<Parsed>>,
}

impl Entry {
    /// The name's range in the name table: (start, length).
    pub(super) fn name_range(&self) -> (u32, u32) {
        (self.name_start, self.name_len)
    }
}

/// A hash table slot: the high half of the key's hash and the entry index.
#[derive(Clone, Copy)]
pub(super) struct Slot {
    tag: u32,
    idx: u32,
}

/// `Slot::idx` of an empty slot.
const EMPTY: u32 = u32::MAX;

/// The entries and names read from the central directory.
struct Listing {
    entries: Vec<Entry>,
    names: String,
}

/// Reads every central directory entry (the one walker), checking that each
/// member's local header and data lie before the central directory. `buf`
/// holds the archive's bytes from offset `base` (0: the whole archive) at
/// least up to the end of the directory.
fn read_entries(buf: &[u8], base: u64, end: &EndOfCentralDirectory) -> Result<Listing> {
    let cd_start = end.cd_start();
    let cd_end = end.cd_end();
    let cd = cd_end
        .checked_sub(base)
        .filter(|_| cd_start >= base)
        .and_then(|rel| buf.get(..usize::try_from(rel).ok()?))
        .ok_or_else(|| zip_err("central directory lies past the end of the file", cd_end))?;
    // Bound every reservation by what the directory can actually hold.
    let dir = Directory::of(end).in_window(base);
    let max_entries = dir.len() / CENTRAL_HEADER_LEN as u64;
    let cap = to_usize(dir.capacity_hint(), end.eocd_offset)?;
    let mut entries: Vec<Entry> = Vec::with_capacity(cap);
    let mut names = String::with_capacity(to_usize(
        dir.len()
            .saturating_sub(max_entries.saturating_mul(CENTRAL_HEADER_LEN as u64)),
        end.eocd_offset,
    )?);
    // The one walker: by size, counts checked by its rule.
    for e in dir.entries(cd) {
        let e = e.map_err(|x| rebase(x, base))?;
        let name = e.decoded_name();
        let offset = e.offset.saturating_add(base);
        let at = |reason: &str| zip_err(reason.to_string(), offset).at_member(name.to_string());
        let local = e
            .local_header_offset
            .checked_add(end.prefix)
            .ok_or_else(|| at("local header offset overflows"))?;
        let min_end = local
            .checked_add((LOCAL_HEADER_LEN + e.name.len()) as u64)
            .filter(|&m| m <= cd_start)
            .ok_or_else(|| at("local header lies past the start of the central directory"))?;
        if e.compressed_size > cd_start - min_end {
            return Err(at(
                "member data runs past the start of the central directory",
            ));
        }
        let name_start =
            u32::try_from(names.len()).map_err(|_| at("member names exceed 4 GiB in total"))?;
        let name_len = u32::try_from(name.len()).map_err(|_| at("member name too long"))?;
        let raw_name_len = u16::try_from(e.name.len()).map_err(|_| at("member name too long"))?;
        if entries.len() >= EMPTY as usize - 1 {
            return Err(at("too many members"));
        }
        names.push_str(&name);
        entries.push(Entry {
            local_offset: local,
            next_offset: cd_start,
            compressed: e.compressed_size,
            uncompressed: e.uncompressed_size,
            name_start,
            name_len,
            // A suffix of a name that fits in u32.
            key_len: key_of(&name).len() as u32,
            raw_name_len,
            crc32: e.crc32,
            method: e.method,
            flags: e.flags,
            live: true,
            parsed: OnceLock::new(),
        });
    }
    Ok(Listing { entries, names })
}

impl NpzReader {
    /// Indexes the archive whose end records are `end`: reads the central
    /// directory from `dir` (bytes of the archive from the given offset,
    /// holding at least the directory), checks member extents, builds the
    /// key table.
    pub(super) fn index(
        path: &Path,
        src: Arc<Source>,
        opts: ReaderOptions,
        end: EndOfCentralDirectory,
        dir: (&[u8], u64),
    ) -> Result<NpzReader> {
        let Listing { entries, names } = read_entries(dir.0, dir.1, &end)?;
        let comment = {
            to_usize(end.eocd_offset, end.eocd_offset)?;
            let start = end.eocd_offset.saturating_add(crate::zip::EOCD_LEN as u64);
            (start, usize::from(end.comment_len))
        };
        let mut reader = NpzReader {
            path: path.to_path_buf(),
            src,
            names,
            entries,
            slots: Vec::new(),
            hasher: foldhash::quality::RandomState::default(),
            live: 0,
            duplicates: Vec::new(),
            comment,
            copies: CopyCache::new(opts.cache_bytes),
            opts,
            preload_errors: Vec::new(),
        };
        reader.check_overlaps(end.cd_start())?;
        reader.build_table()?;
        Ok(reader)
    }

    /// Sorts members by offset and checks that each one's local header,
    /// name and data (as far as known without reading the local header)
    /// end before the next one begins. Records the next offset per member
    /// so the exact extent can be checked at first access.
    fn check_overlaps(&mut self, cd_start: u64) -> Result<()> {
        // Writers put members in offset order: then no sorted copy is made.
        if self.entries.is_sorted_by_key(|e| e.local_offset) {
            return self.check_in_order(0..self.entries.len(), cd_start);
        }
        // Indices fit in u32: `read_entries` refuses more members.
        let mut order: Vec<(u64, u32)> = (self.entries.iter().enumerate())
            .map(|(i, e)| (e.local_offset, i as u32))
            .collect();
        order.sort_unstable();
        self.check_in_order(order.into_iter().map(|(_, i)| i as usize), cd_start)
    }

    /// [`NpzReader::check_overlaps`] over the members `order` lists by
    /// offset (ties in index order).
    fn check_in_order(&mut self, order: impl Iterator<Item = usize>, cd_start: u64) -> Result<()> {
        let mut order = order.peekable();
        while let Some(i) = order.next() {
            let next = match order.peek() {
                Some(&j) => self.entry(j)?.local_offset,
                None => cd_start,
            };
            let e = self.entry(i)?;
            let off = e.local_offset;
            let min_end = off
                .saturating_add(LOCAL_HEADER_LEN as u64)
                .saturating_add(u64::from(e.raw_name_len))
                .saturating_add(e.compressed);
            if min_end > next {
                let name = self.name(i).to_string();
                return Err(zip_err("members overlap", off).at_member(name));
            }
            self.entry_mut(i)?.next_offset = next;
        }
        Ok(())
    }

    /// The seeded hash of a key.
    #[inline]
    fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Fills the hash table; a key seen twice keeps the member `np.load`
    /// would return and records the other in `duplicates`.
    fn build_table(&mut self) -> Result<()> {
        let n = self.entries.len();
        let size = (n.saturating_mul(2)).max(8).next_power_of_two();
        let mut slots = vec![Slot { tag: 0, idx: EMPTY }; size];
        let mask = size - 1;
        for i in 0..n {
            let key = key_of(self.name(i));
            let h = self.hash(key);
            let tag = (h >> 32) as u32;
            let mut pos = (h as usize) & mask;
            // The table is at least twice as large as the entries: a free
            // slot is always found.
            while let Some(slot) = slots.get_mut(pos) {
                if slot.idx == EMPTY {
                    // i < EMPTY - 1: `read_entries` refuses more members.
                    *slot = Slot { tag, idx: i as u32 };
                    break;
                }
                let j = slot.idx as usize;
                if slot.tag == tag && key_of(self.name(j)) == key {
                    // np.load: an exact (non-.npy) member name beats a
                    // stripped one; otherwise the later entry wins.
                    let old_exact = self.name(j) == key;
                    let new_exact = self.name(i) == key;
                    let (winner, loser) = if old_exact && !new_exact {
                        (j, i)
                    } else {
                        (i, j)
                    };
                    slot.idx = winner as u32;
                    let dup = self.name(loser).to_string();
                    self.entry_mut(loser)?.live = false;
                    self.duplicates.push(dup);
                    break;
                }
                pos = (pos + 1) & mask;
            }
        }
        self.slots = slots;
        self.live = self.entries.iter().filter(|e| e.live).count();
        Ok(())
    }

    /// Entry `i`; an index out of range is a broken invariant (indices come
    /// from the table or from `0..entries.len()`).
    #[inline]
    pub(super) fn entry(&self, i: usize) -> Result<&Entry> {
        let e = self.entries.get(i);
        debug_assert!(e.is_some(), "member index {i} out of range");
        e.ok_or_else(|| Self::bad_index(i))
    }

    /// Entry `i`, mutably (see [`NpzReader::entry`]).
    fn entry_mut(&mut self, i: usize) -> Result<&mut Entry> {
        let e = self.entries.get_mut(i);
        debug_assert!(e.is_some(), "member index {i} out of range");
        e.ok_or_else(|| Self::bad_index(i))
    }

    #[cold]
    pub(super) fn bad_index(i: usize) -> Error {
        Error::Zip {
            reason: format!("internal error: member index {i} out of range"),
            at: Location::default(),
        }
    }

    /// Whether member `i`'s key is `key`: compared with the copy in its
    /// cached headers when there is one (no read of the name table).
    #[inline]
    fn key_is(&self, i: usize, key: &str) -> Option<bool> {
        let e = self.entries.get(i)?;
        if let Some(k) = e.parsed.get().and_then(|p| p.key.get()) {
            return Some(k == key.as_bytes());
        }
        Some(self.key_bytes(i)? == key.as_bytes())
    }

    /// Caches member `i`'s headers `p`; a racing thread's (identical) ones
    /// may be kept instead.
    pub(super) fn keep_parsed(&self, i: usize, p: Parsed) -> Result<&Parsed> {
        Ok(self.entry(i)?.parsed.get_or_init(|| Box::new(p)))
    }

    /// The key of member `i` as bytes (hot path: no UTF-8 boundary checks);
    /// `None` only if the index or the name range is broken.
    #[inline]
    pub(super) fn key_bytes(&self, i: usize) -> Option<&[u8]> {
        let e = self.entries.get(i)?;
        let start = e.name_start as usize;
        let key = self
            .names
            .as_bytes()
            .get(start..start.saturating_add(e.key_len as usize));
        debug_assert!(key.is_some(), "key range of member {i} outside the names");
        key
    }

    /// The index of the member whose key is `key`.
    #[inline]
    fn find(&self, key: &str) -> Option<usize> {
        let h = self.hash(key);
        let tag = (h >> 32) as u32;
        let mask = self.slots.len().wrapping_sub(1);
        let mut pos = (h as usize) & mask;
        loop {
            let s = *self.slots.get(pos)?;
            if s.idx == EMPTY {
                return None;
            }
            if s.tag == tag && self.key_is(s.idx as usize, key)? {
                return Some(s.idx as usize);
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Index of the member for `key` (an array key, or a full member name).
    #[inline]
    pub(super) fn lookup(&self, key: &str) -> Result<usize> {
        match self.find(key) {
            Some(i) => Ok(i),
            None => self.lookup_full_name(key),
        }
    }

    /// `key` given as a full member name (`x.npy`), or not found.
    #[inline(never)]
    fn lookup_full_name(&self, key: &str) -> Result<usize> {
        if let Some(stripped) = key.strip_suffix(".npy")
            && let Some(i) = self.find(stripped)
            && self.name(i) == key
        {
            return Ok(i);
        }
        Err(Error::NotFound {
            name: key.to_string(),
            at: Location::path(&self.path),
        })
    }

    /// The (decoded) name of member `i`; empty only if the index or the name
    /// range is broken (a debug build asserts).
    pub(super) fn name(&self, i: usize) -> &str {
        let name = self.entries.get(i).and_then(|e| {
            let start = e.name_start as usize;
            self.names
                .get(start..start.saturating_add(e.name_len as usize))
        });
        debug_assert!(name.is_some(), "name range of member {i} outside the names");
        name.unwrap_or_default()
    }

    /// `e` with this reader's path and member `i`'s name.
    pub(super) fn ctx(&self, i: usize, e: Error) -> Error {
        e.at_path(&self.path).at_member(self.name(i))
    }
}
