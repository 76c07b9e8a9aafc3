//! The key index: central directory entries (fixed size, names in one
//! shared `String`), the overlap check, and the open-addressing table from
//! keys to members (seeded foldhash), with `np.load`'s duplicate rule. A
//! slot names its member's cached headers once there are some.

use super::arena::Arena;
use super::hints::Hints;
use super::member::{Got, Parsed};
use super::source::{Source, rebase};
use super::{NpzReader, ReaderOptions, to_usize, zip_err};
use crate::error::{Error, Location, Result};
use crate::npz::cache::CopyCache;
use crate::npz::key_of;
use crate::zip::{CENTRAL_HEADER_LEN, Directory, EndOfCentralDirectory, LOCAL_HEADER_LEN};
use std::hash::BuildHasher;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

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
    /// The member's slot in the hash table (which holds its parsed
    /// headers): every member has one, shadowed ones too.
    slot: u32,
}

impl Entry {
    /// The (decoded) name, from the reader's name table `names`; empty
    /// only if the name range is broken (a debug build asserts).
    fn name_in<'a>(&self, names: &'a str) -> &'a str {
        let start = self.name_start as usize;
        let name = names.get(start..start.saturating_add(self.name_len as usize));
        debug_assert!(name.is_some(), "name range outside the names");
        name.unwrap_or_default()
    }

    /// The name's range in the name table: (start, length).
    pub(super) fn name_range(&self) -> (u32, u32) {
        (self.name_start, self.name_len)
    }
}

/// A hash table slot: the high half of the key's hash, and what the slot
/// holds (`val`): [`EMPTY`], the member's index, or once its headers are
/// cached, [`CACHED`] and their index in the reader's arena (which holds the
/// member's index too). So a cached `get` reads the slot and the headers,
/// and neither the entry nor the name table.
pub(super) struct Slot {
    tag: u32,
    val: AtomicU32,
}

/// `Slot::val` of an empty slot.
const EMPTY: u32 = u32::MAX;

/// `Slot::val` bit: the rest is an index in the arena of parsed headers.
/// Member indices stay below it (`read_entries` refuses more members).
pub(super) const CACHED: u32 = 1 << 31;

/// A member found in the table: its index, and its headers if cached.
pub(super) struct Found<'r> {
    pub index: usize,
    pub parsed: Option<&'r Parsed>,
}

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
        if entries.len() >= CACHED as usize {
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
            slot: EMPTY,
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
        // Room for every member's headers, and for racing threads' spares;
        // below CACHED, as cell indices must be.
        let cells = match opts.cache {
            true => (entries.len().saturating_mul(2).saturating_add(64)).min(CACHED as usize - 1),
            false => 0,
        } as u32;
        let hints = Hints::new(entries.len(), cells);
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
            parsed_cells: Arena::with_capacity(cells),
            hints,
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
    /// would return and records the other in `duplicates`. The shadowed
    /// member gets a slot further along the same probe sequence, so that
    /// lookups of its key find the winner first.
    fn build_table(&mut self) -> Result<()> {
        let n = self.entries.len();
        // A load factor of at most 0.8: with the tags, probing stays within
        // a cache line or two, and the table small (a cached `get` reads
        // one slot of it at random).
        let size = (n.saturating_add(n / 4).max(8).checked_next_power_of_two())
            .ok_or_else(|| zip_err("too many members", 0))?;
        let mut slots: Vec<Slot> = (0..size)
            .map(|_| Slot {
                tag: 0,
                val: AtomicU32::new(EMPTY),
            })
            .collect();
        let mask = size - 1;
        let (names, entries, hasher) = (&self.names, &mut self.entries, &self.hasher);
        let name = |e: Option<&Entry>| e.map_or("", |e| e.name_in(names));
        for i in 0..n {
            let key = key_of(name(entries.get(i)));
            let h = hasher.hash_one(key);
            let tag = (h >> 32) as u32;
            let mut pos = (h as usize) & mask;
            // The member placed in the next free slot: `i`, or the one `i`
            // shadows.
            let mut placing = i;
            // The table has more slots than there are entries: a free slot
            // is always found.
            while let Some(slot) = slots.get_mut(pos) {
                let val = slot.val.get_mut();
                if *val == EMPTY {
                    // Indices are < CACHED (`read_entries` refuses more
                    // members), and so are positions (size <= 2 * CACHED).
                    slot.tag = tag;
                    *val = placing as u32;
                    if let Some(e) = entries.get_mut(placing) {
                        e.slot = pos as u32;
                    }
                    break;
                }
                let j = *val as usize;
                if placing == i && slot.tag == tag && key_of(name(entries.get(j))) == key {
                    // np.load: an exact (non-.npy) member name beats a
                    // stripped one; otherwise the later entry wins.
                    let old_exact = name(entries.get(j)) == key;
                    let new_exact = name(entries.get(i)) == key;
                    let (winner, loser) = if old_exact && !new_exact {
                        (j, i)
                    } else {
                        (i, j)
                    };
                    *val = winner as u32;
                    if let Some(e) = entries.get_mut(winner) {
                        e.slot = pos as u32;
                    }
                    if let Some(e) = entries.get_mut(loser) {
                        e.live = false;
                        self.duplicates.push(e.name_in(names).to_string());
                    }
                    placing = loser;
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

    /// The member a slot's value `val` (not [`EMPTY`]) names; `None` only
    /// if the arena lost a value (a broken invariant).
    #[inline]
    fn found(&self, val: u32) -> Option<Found<'_>> {
        if val & CACHED == 0 {
            return Some(Found {
                index: val as usize,
                parsed: None,
            });
        }
        let p = self.parsed_cells.get(val & !CACHED);
        debug_assert!(p.is_some(), "cached headers {val:#x} missing");
        p.map(|p| Found {
            index: p.member as usize,
            parsed: Some(p),
        })
    }

    /// Member `i`'s slot.
    #[inline]
    fn slot_of(&self, i: usize) -> Result<&Slot> {
        let slot = self.entry(i)?.slot as usize;
        let s = self.slots.get(slot);
        debug_assert!(s.is_some(), "member {i} has no slot");
        s.ok_or_else(|| Self::bad_index(i))
    }

    /// Member `i`'s headers, if cached.
    #[inline]
    pub(super) fn parsed(&self, i: usize) -> Option<&Parsed> {
        let val = self.slot_of(i).ok()?.val.load(Ordering::Acquire);
        self.found(val)?.parsed
    }

    /// Caches member `i`'s headers `p` (`Got::Cached`); a racing thread's
    /// (identical) ones may be kept instead. `Got::Fresh` if the arena is
    /// full (racing threads can use a few cells more than there are members).
    pub(super) fn keep_parsed(&self, i: usize, p: Parsed) -> Result<Got<'_>> {
        let slot = self.slot_of(i)?;
        let cached = |val: u32| {
            (val & CACHED != 0)
                .then(|| self.found(val)?.parsed)
                .flatten()
        };
        if let Some(q) = cached(slot.val.load(Ordering::Acquire)) {
            return Ok(Got::Cached(q));
        }
        let (cell, q) = match self.parsed_cells.push(p) {
            Ok(kept) => kept,
            Err(p) => return Ok(Got::Fresh(Box::new(p))),
        };
        match (slot.val).compare_exchange(
            i as u32,
            CACHED | cell,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                self.hint(i, cell);
                Ok(Got::Cached(q))
            }
            // Another thread cached the member first: its copy is the one
            // lookups find (this cell stays unused).
            Err(val) => Ok(Got::Cached(cached(val).unwrap_or(q))),
        }
    }

    /// Hints member `i`'s cached headers `cell` under its key's hash.
    /// Live members only: a hint must name the member `get` returns (no
    /// path caches a shadowed member's headers today; this keeps it so).
    fn hint(&self, i: usize, cell: u32) {
        if self.entry(i).is_ok_and(|e| e.live) {
            self.hints.put(self.hash(key_of(self.name(i))), cell);
        }
    }

    /// The member whose key is `key` and hash `h`, if a hint for `h` names
    /// its cached headers.
    #[inline]
    fn hinted(&self, h: u64, key: &str) -> Option<Found<'_>> {
        self.hints.find(h, |cell| {
            let p = self.parsed_cells.get(cell)?;
            let f = Found {
                index: p.member as usize,
                parsed: Some(p),
            };
            self.is_key_of(&f, key)?.then_some(f)
        })
    }

    /// Whether `key` is the key of member `f`: compared with the copy in its
    /// cached headers when they keep one, else with the name table.
    #[inline]
    fn is_key_of(&self, f: &Found<'_>, key: &str) -> Option<bool> {
        Some(match f.parsed.and_then(|p| p.key.get()) {
            Some(k) => k == key.as_bytes(),
            None => self.key_bytes(f.index)? == key.as_bytes(),
        })
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

    /// The member whose key is `key`.
    #[inline]
    fn find(&self, key: &str) -> Option<Found<'_>> {
        let h = self.hash(key);
        if let Some(f) = self.hinted(h, key) {
            return Some(f);
        }
        let tag = (h >> 32) as u32;
        let mask = self.slots.len().wrapping_sub(1);
        let mut pos = (h as usize) & mask;
        loop {
            let s = self.slots.get(pos)?;
            let val = s.val.load(Ordering::Acquire);
            if val == EMPTY {
                return None;
            }
            if s.tag == tag {
                let f = self.found(val)?;
                if f.parsed.is_none() {
                    self.touch_headers(f.index);
                }
                if self.is_key_of(&f, key)? {
                    return Some(f);
                }
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Loads the first bytes of member `i`'s local header (and of the NPY
    /// header after it) from a local archive before its name is compared:
    /// on first access the cache misses of the name table and of the
    /// member's headers then overlap instead of following each other.
    /// Nothing for a remote archive (its bytes are not in the map).
    #[inline]
    fn touch_headers(&self, i: usize) {
        let Some(at) = self.entries.get(i).map(|e| e.local_offset) else {
            return;
        };
        let src: &[u8] = &self.src;
        for off in [at, at.saturating_add(128)] {
            if let Some(b) = usize::try_from(off).ok().and_then(|o| src.get(o)) {
                std::hint::black_box(*b);
            }
        }
    }

    /// The member for `key` (an array key, or a full member name).
    #[inline]
    pub(super) fn lookup_found(&self, key: &str) -> Result<Found<'_>> {
        match self.find(key) {
            Some(f) => Ok(f),
            None => self.lookup_full_name(key),
        }
    }

    /// Index of the member for `key` (an array key, or a full member name).
    #[inline]
    pub(super) fn lookup(&self, key: &str) -> Result<usize> {
        Ok(self.lookup_found(key)?.index)
    }

    /// `key` given as a full member name (`x.npy`), or not found.
    #[inline(never)]
    fn lookup_full_name(&self, key: &str) -> Result<Found<'_>> {
        if let Some(stripped) = key.strip_suffix(".npy")
            && let Some(f) = self.find(stripped)
            && self.name(f.index) == key
        {
            return Ok(f);
        }
        Err(Error::NotFound {
            name: key.to_string(),
            at: Location::path(&self.path),
        })
    }

    /// The (decoded) name of member `i`; empty only if the index or the name
    /// range is broken (a debug build asserts).
    pub(super) fn name(&self, i: usize) -> &str {
        let e = self.entries.get(i);
        debug_assert!(e.is_some(), "member index {i} out of range");
        e.map_or("", |e| e.name_in(&self.names))
    }

    /// `e` with this reader's path and member `i`'s name.
    pub(super) fn ctx(&self, i: usize, e: Error) -> Error {
        e.at_path(&self.path).at_member(self.name(i))
    }
}
