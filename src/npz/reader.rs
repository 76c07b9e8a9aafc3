//! The archive reader: [`NpzReader`] maps a `.npz` file once, indexes its
//! central directory, and hands out typed views of its arrays.
//!
//! * **Open** touches only the end records and the central directory: no
//!   member data and no local header is read. The index is one `Vec` of
//!   fixed-size entries (names live in one shared `String`) plus an
//!   open-addressing hash table of `u32` indices, so a million members take
//!   memory close to the size of the central directory itself.
//! * **Names** follow `np.load`: the key of `x.npy` is `x`; other members
//!   are listed under their full name; with duplicate names the last one
//!   wins (see [`NpzReader::duplicates`]); names without the UTF-8 flag are
//!   decoded as code page 437, like Python's `zipfile`.
//! * **Headers** (local zip header, then NPY header) are read and checked on
//!   first access and cached per member in a `OnceLock`, so later accesses
//!   take no lock and allocate nothing.
//! * **Views**: [`NpzReader::get`] is zero-copy for stored members;
//!   [`NpzReader::get_native`] and [`NpzReader::get_slice`] are zero-copy
//!   when the bytes are aligned and in native order, and otherwise use one
//!   aligned, byte-swapped (or inflated) copy kept in a bounded LRU cache
//!   ([`ReaderOptions::cache_bytes`]).
//!
//! ```
//! # use npzmap::unstable::zip::*;
//! # use npzmap::{DType, Header, Order};
//! # fn member(key: &str, descr: &str, shape: &[u64], data: &[u8], out: &mut Vec<u8>, cd: &mut Vec<CentralEntry>) {
//! #     let h = Header::new(DType::parse(descr).unwrap(), shape.to_vec(), Order::C);
//! #     let mut bytes = h.to_bytes().unwrap();
//! #     bytes.extend_from_slice(data);
//! #     let (name, crc, off) = (format!("{key}.npy"), crc32fast::hash(&bytes), out.len() as u64);
//! #     LocalHeader::stored(&name, crc, bytes.len() as u64, LocalZip64::Yes, 0).write(out);
//! #     out.extend_from_slice(&bytes);
//! #     cd.push(CentralEntry::stored(&name, crc, bytes.len() as u64, off));
//! # }
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("data.npz");
//! # let (mut out, mut cd) = (Vec::new(), Vec::new());
//! # let xs: Vec<u8> = [1.5f64, 2.5, 3.5, 4.5].iter().flat_map(|v| v.to_le_bytes()).collect();
//! # member("x", "<f8", &[2, 2], &xs, &mut out, &mut cd);
//! # member("flags", "|b1", &[3], &[1, 0, 1], &mut out, &mut cd);
//! # let cd_off = out.len() as u64;
//! # let mut dir_bytes = Vec::new();
//! # for c in &cd { c.write(&mut dir_bytes); }
//! # out.extend_from_slice(&dir_bytes);
//! # write_end_records(&mut out, cd.len() as u64, cd_off, dir_bytes.len() as u64, b"");
//! # std::fs::write(&path, &out).unwrap();
//! use npzmap::npz::reader::NpzReader;
//!
//! let npz = NpzReader::open(&path)?; // e.g. written by numpy.savez(path, x=..., flags=...)
//! assert_eq!(npz.keys().collect::<Vec<_>>(), ["x", "flags"]);
//! let x = npz.get("x")?;
//! assert_eq!(x.shape(), &[2, 2]);
//! assert_eq!(x.to_vec::<f64>()?, [1.5, 2.5, 3.5, 4.5]);
//! // numpy writes data at unaligned offsets; get_slice copies (once, cached) only if needed
//! assert_eq!(&*npz.get_slice::<f64>("x")?, &[1.5, 2.5, 3.5, 4.5]);
//! assert_eq!(npz.get("flags")?.to_vec::<bool>()?, [true, false, true]);
//! assert!(npz.verify().is_ok());
//! # Ok::<(), npzmap::Error>(())
//! ```
//!
//! # Safety of the memory map
//!
//! The file is mapped read-only and shared with the file, and the reader
//! holds the file's shared lock as long as the map lives (views and
//! [`NpzReader::get_owned`] arrays keep it alive): npzmap's own operations
//! that would change or truncate its bytes ([`recover_in_place`](crate::npz::recover_in_place),
//! in this process or another) fail with [`Error::Locked`] meanwhile, while
//! [`NpzWriter::append`](crate::npz::NpzWriter::append) (it only adds bytes
//! past the old end; the reader indexes the length it mapped at open) and
//! [`NpzWriter::create_or_replace`](crate::npz::NpzWriter::create_or_replace)
//! (it renames a new file over the name) leave the reader's bytes alone. A
//! program that ignores advisory locks and truncates the file makes touching
//! the lost pages raise `SIGBUS`; see the [lock protocol](crate::fs).
//!
//! # Opening during an append
//!
//! While [`NpzWriter::append`](crate::npz::writer::NpzWriter::append) writes
//! members, the file ends with them and has no end record at its tail; the
//! same holds after an appender was killed. [`NpzReader::open`] then opens
//! the last committed archive, which the appender keeps intact as a prefix
//! of the file: the archive as it was before the append (found and checked
//! as described in [`zip::committed`](crate::zip::committed)). Only that
//! archive is mapped, so nothing the appender writes or truncates later
//! lies under the map. A reader opened before or during an append keeps
//! seeing that archive; one opened after `close` sees the new one.

use super::cache::{Copy, CopyCache, CopyKey};
use super::key_of;
use crate::dtype::Element;
use crate::error::{Error, Location, Result};
use crate::fs::lock::{SharedLock, Wait};
use crate::fs::map::ReadMap;
use crate::npy::header::{DEFAULT_HEADER_LIMIT, Header, read_header, read_prefix};
use crate::view::{AlignedBuf, ArrayView, Bytes, OwnedView, natural_align, swap_to_native};
use crate::zip::committed;
use crate::zip::decode_name;
use crate::zip::inflate::{Dest, inflate_checked};
use crate::zip::{
    CENTRAL_HEADER_LEN, DataDescriptor, Directory, EndOfCentralDirectory, FLAG_DATA_DESCRIPTOR,
    FLAG_ENCRYPTED, FLAG_STRONG_ENCRYPTION, LOCAL_HEADER_LEN, LocalHeaderRef, MAX32,
    METHOD_DEFLATE, METHOD_STORED,
};
use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::hash::BuildHasher;
use std::io::Read;
use std::marker::PhantomData;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// Deflate cannot expand more than about 1032:1; a member that declares
/// more is a zip bomb (or corrupt) and is refused before anything is
/// allocated.
pub const MAX_DEFLATE_RATIO: u64 = 1032;

/// Default budget of the cache of aligned copies: 256 MiB.
pub const DEFAULT_CACHE_BYTES: usize = 256 << 20;

/// Options for [`NpzReader::open_with`], built with chained setters.
///
/// ```
/// use npzmap::npz::reader::ReaderOptions;
/// let opts = ReaderOptions::new().preload(true).cache_bytes(64 << 20).verify_on_access(true);
/// assert!(opts.is_preload());
/// ```
#[derive(Debug, Clone)]
pub struct ReaderOptions {
    cache: bool,
    preload: bool,
    strict: bool,
    cache_bytes: usize,
    verify_on_access: bool,
    header_limit: usize,
    wait_for_lock: bool,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            cache: true,
            preload: false,
            strict: false,
            cache_bytes: DEFAULT_CACHE_BYTES,
            verify_on_access: false,
            header_limit: DEFAULT_HEADER_LIMIT,
            wait_for_lock: false,
        }
    }
}

impl ReaderOptions {
    /// The defaults: headers cached, no preload, 256 MiB copy cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cache each member's parsed headers after first access (default
    /// `true`). With `false` every access re-reads the local and NPY headers
    /// (mmnpz's `cache=False`). Copies are governed by
    /// [`cache_bytes`](Self::cache_bytes) either way.
    pub fn cache(mut self, on: bool) -> Self {
        self.cache = on;
        self
    }

    /// Parse every member's headers at open, in parallel (mmnpz's
    /// `preload=True`). A broken member is recorded in
    /// [`NpzReader::preload_errors`] unless [`strict`](Self::strict) is set.
    pub fn preload(mut self, on: bool) -> Self {
        self.preload = on;
        self
    }

    /// With [`preload`](Self::preload): fail the open on the first broken
    /// member instead of recording it.
    pub fn strict(mut self, on: bool) -> Self {
        self.strict = on;
        self
    }

    /// Budget in bytes of the LRU cache of aligned copies (unaligned or
    /// byte-swapped stored data, inflated members). A copy larger than the
    /// budget is returned but not kept. `0` disables the cache.
    pub fn cache_bytes(mut self, bytes: usize) -> Self {
        self.cache_bytes = bytes;
        self
    }

    /// Check each member's CRC-32 when its headers are first read (reads all
    /// of its data once). Inflated data is always CRC-checked.
    pub fn verify_on_access(mut self, on: bool) -> Self {
        self.verify_on_access = on;
        self
    }

    /// Largest NPY header accepted, in bytes (default 1 MiB).
    pub fn header_limit(mut self, bytes: usize) -> Self {
        self.header_limit = bytes;
        self
    }

    /// When an npzmap operation that changes the file in place holds it
    /// (see the [lock protocol](crate::fs)), wait until it is done instead of
    /// failing with [`Error::Locked`] (default `false`).
    pub fn wait_for_lock(mut self, wait: bool) -> Self {
        self.wait_for_lock = wait;
        self
    }

    /// Whether headers are cached.
    pub fn is_cache(&self) -> bool {
        self.cache
    }

    /// Whether headers are preloaded at open.
    pub fn is_preload(&self) -> bool {
        self.preload
    }
}

/// The [`NpzReader::path`] of an archive read from memory.
const MEMORY_PATH: &str = "<memory>";

/// The archive's bytes: a file mapping, or memory handed to
/// [`NpzReader::from_bytes`].
enum Storage {
    Map(ReadMap),
    Mem(Box<dyn AsRef<[u8]> + Send + Sync>),
}

impl Deref for Storage {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Storage::Map(m) => m,
            Storage::Mem(b) => (**b).as_ref(),
        }
    }
}

impl AsRef<[u8]> for Storage {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// What the first access of a member found: headers and where the data is.
#[derive(Debug)]
struct Parsed {
    /// The NPY header as stored.
    header: Header,
    /// The same header in native byte order, when the stored one is not.
    native: Option<Header>,
    /// Stored: absolute offset of the array data in the map. Deflated:
    /// offset of the array data in the inflated member.
    data_start: u64,
    /// Array data length.
    data_len: u64,
    /// Stored members: the data's range in the map (checked against the
    /// map's length), so cached views need no conversion or check.
    in_map: Option<(usize, usize)>,
    /// Stored, native and aligned for the dtype: views need no copy.
    zero_copy: bool,
    /// File, member and offset of the data, for errors raised by views.
    loc: Location,
}

/// One central directory entry, fixed size.
struct Entry {
    /// Absolute offset of the local header in the map (prefix applied).
    local_offset: u64,
    /// Where the next member's local header (or the central directory)
    /// starts: this member's bytes must end before it.
    next_offset: u64,
    compressed: u64,
    uncompressed: u64,
    name_start: u32,
    name_len: u32,
    /// Length of the key (the name without a `.npy` suffix).
    key_len: u32,
    /// Length of the raw (undecoded) name, as in the local header.
    raw_name_len: u16,
    crc32: u32,
    method: u16,
    flags: u16,
    /// False when a later member with the same key shadows this one.
    live: bool,
    parsed: OnceLock<Box<Parsed>>,
}

#[derive(Clone, Copy)]
struct Slot {
    tag: u32,
    idx: u32,
}

const EMPTY: u32 = u32::MAX;

/// A read-only, memory-mapped `.npz` archive. See the [module
/// docs](self) for the design and an example.
///
/// `NpzReader` is `Send + Sync`: share it across threads by reference or in
/// an `Arc`; lookups and cached views take no lock.
pub struct NpzReader {
    path: PathBuf,
    map: Arc<Storage>,
    names: String,
    entries: Vec<Entry>,
    slots: Vec<Slot>,
    /// Seeded per reader (foldhash, keyed like std's `RandomState`, so
    /// crafted names cannot be made to collide without knowing the seed).
    hasher: foldhash::quality::RandomState,
    live: usize,
    duplicates: Vec<String>,
    comment: (usize, usize),
    opts: ReaderOptions,
    copies: CopyCache,
    preload_errors: Vec<(String, Error)>,
}

impl fmt::Debug for NpzReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NpzReader")
            .field("path", &self.path)
            .field("members", &self.entries.len())
            .field("keys", &self.live)
            .finish_non_exhaustive()
    }
}

/// A member as listed in the central directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberInfo<'a> {
    /// The member name (decoded).
    pub name: &'a str,
    /// The key `np.load` shows (`.npy` stripped).
    pub key: &'a str,
    /// Compression method (0 stored, 8 deflate).
    pub method: u16,
    /// Compressed size.
    pub compressed_size: u64,
    /// Uncompressed size.
    pub uncompressed_size: u64,
    /// CRC-32 recorded in the central directory.
    pub crc32: u32,
    /// Offset of the local header in the file.
    pub local_header_offset: u64,
    /// True when a later member with the same key hides this one.
    pub shadowed: bool,
}

/// The result of [`NpzReader::verify`]: one entry per member, in archive
/// order.
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// `(member name, result)` for every member.
    pub members: Vec<(String, Result<()>)>,
}

impl VerifyReport {
    /// True when every member passed.
    pub fn is_ok(&self) -> bool {
        self.members.iter().all(|(_, r)| r.is_ok())
    }

    /// The members that failed, with their errors.
    pub fn errors(&self) -> impl Iterator<Item = (&str, &Error)> {
        self.members
            .iter()
            .filter_map(|(n, r)| r.as_ref().err().map(|e| (n.as_str(), e)))
    }
}

/// A typed slice of an array, zero-copy when possible, otherwise backed by
/// a cached aligned copy; returned by [`NpzReader::get_slice`]. Dereferences
/// to `[T]` (in memory order: for a Fortran-ordered array that is column
/// major).
#[derive(Clone, Debug)]
pub struct ArraySlice<'a, T> {
    view: ArrayView<'a>,
    _t: PhantomData<fn() -> T>,
}

impl<'a, T: Element> ArraySlice<'a, T> {
    /// The underlying view (native byte order, aligned).
    pub fn view(&self) -> &ArrayView<'a> {
        &self.view
    }

    /// The underlying view.
    pub fn into_view(self) -> ArrayView<'a> {
        self.view
    }

    /// True when the slice is a copy (from the cache) rather than the file's bytes.
    pub fn is_copy(&self) -> bool {
        self.view.bytes().is_shared()
    }

    /// Shape of the array.
    pub fn shape(&self) -> &[u64] {
        self.view.shape()
    }
}

impl<T: Element> Deref for ArraySlice<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // Alignment, size, dtype and (for bool) every byte were checked when
        // the slice was made, and the bytes cannot move or change, so this
        // cast cannot fail; it is O(1) except for bool.
        bytemuck::checked::try_cast_slice(self.view.as_bytes()).unwrap_or(&[])
    }
}

/// A member's headers: cached (borrowed from the reader) or freshly parsed.
enum Got<'s> {
    Cached(&'s Parsed),
    Fresh(Box<Parsed>),
}

impl<'s> Got<'s> {
    fn parsed(&self) -> &Parsed {
        match self {
            Got::Cached(p) => p,
            Got::Fresh(p) => p,
        }
    }

    fn view(self, bytes: Bytes<'s>, native: bool) -> ArrayView<'s> {
        match self {
            Got::Cached(p) => {
                let h = if native {
                    p.native.as_ref().unwrap_or(&p.header)
                } else {
                    &p.header
                };
                ArrayView::from_checked_parts_at(Cow::Borrowed(h), bytes, Cow::Borrowed(&p.loc))
            }
            Got::Fresh(p) => {
                let p = *p;
                let h = match (native, p.native) {
                    (true, Some(n)) => n,
                    _ => p.header,
                };
                ArrayView::from_checked_parts_at(Cow::Owned(h), bytes, Cow::Owned(p.loc))
            }
        }
    }
}

/// Where a member's (possibly compressed) bytes are, after its local header.
struct Located {
    start: u64,
    end: u64,
    local_zip64: bool,
}

fn zip_err(reason: impl Into<String>, offset: u64) -> Error {
    Error::Zip {
        reason: reason.into(),
        at: Location::offset(offset),
    }
}

fn to_usize(v: u64, offset: u64) -> Result<usize> {
    usize::try_from(v).map_err(|_| zip_err("offset or size exceeds the address space", offset))
}

impl NpzReader {
    /// Opens and indexes an archive with default options.
    ///
    /// Reads only the end records and the central directory. When the
    /// file's tail is being written (an append in progress, or a killed
    /// appender's leftovers), opens the last committed archive before it
    /// (see the [module docs](self#opening-during-an-append)). Fails with
    /// [`Error::NotAZip`] when there is no end record, and with
    /// [`Error::Zip`] when an entry points outside the archive or members
    /// overlap.
    pub fn open(path: impl AsRef<Path>) -> Result<NpzReader> {
        NpzReader::open_with(path, ReaderOptions::default())
    }

    /// Opens with options (see [`ReaderOptions`]).
    pub fn open_with(path: impl AsRef<Path>, opts: ReaderOptions) -> Result<NpzReader> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| Error::io_path("open", e, path))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io_path("stat", e, path))?
            .len();
        if len < crate::zip::EOCD_LEN as u64 {
            return Err(Error::NotAZip {
                at: Location::path(path),
            });
        }
        let wait = if opts.wait_for_lock {
            Wait::Yes
        } else {
            Wait::No
        };
        let file = SharedLock::take(file, path, wait)?;
        // The end records are found with positioned reads, before mapping:
        // during an append the tail is the member being written (which the
        // appender may truncate on error), and the archive is the last
        // committed one before it (see `zip::committed`). Only that archive
        // is mapped, so every offset is checked against a length fixed at
        // creation.
        let located = committed::locate(committed::Source::File { file: &file, len })
            .map_err(|e| e.at_path(path))?;
        let map = ReadMap::prefix(file, path, located.archive_end)?;
        let mut reader = Self::index(path, Arc::new(Storage::Map(map)), opts, located.end)
            .map_err(|e| e.at_path(path))?;
        if reader.opts.preload {
            reader.preload()?;
        }
        Ok(reader)
    }

    /// Indexes an archive held in memory (downloaded, embedded with
    /// `include_bytes!`, built in a `Vec`), with default options. Takes
    /// ownership of anything that derefs to bytes (`Vec<u8>`, `Box<[u8]>`,
    /// `Arc<[u8]>`, `&'static [u8]`, ...) without copying it; views borrow
    /// from it, and [`NpzReader::get_owned`] shares it. [`NpzReader::path`]
    /// is `<memory>`. `as_ref` must return the same bytes on every call (as
    /// every std type does); if it does not, reads fail or return wrong data,
    /// but memory safety does not depend on it.
    ///
    /// ```
    /// use npzmap::npz::{reader::NpzReader, writer::NpzWriter};
    /// use npzmap::Order;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("a.npz");
    /// let mut w = NpzWriter::create(&path)?;
    /// w.write("x", &[1i32, 2, 3], &[3], Order::C)?;
    /// w.close()?;
    /// let bytes: Vec<u8> = std::fs::read(&path).unwrap(); // or from the network
    ///
    /// let npz = NpzReader::from_bytes(bytes)?;
    /// assert_eq!(npz.get("x")?.to_vec::<i32>()?, [1, 2, 3]);
    /// assert!(NpzReader::from_bytes(&b"not a zip"[..]).is_err());
    /// # Ok::<(), npzmap::Error>(())
    /// ```
    pub fn from_bytes(bytes: impl AsRef<[u8]> + Send + Sync + 'static) -> Result<NpzReader> {
        NpzReader::from_bytes_with(bytes, ReaderOptions::default())
    }

    /// As [`NpzReader::from_bytes`], with options (see [`ReaderOptions`]).
    pub fn from_bytes_with(
        bytes: impl AsRef<[u8]> + Send + Sync + 'static,
        opts: ReaderOptions,
    ) -> Result<NpzReader> {
        let path = Path::new(MEMORY_PATH);
        let storage = Arc::new(Storage::Mem(Box::new(bytes)));
        let end = committed::locate(committed::Source::Bytes(&storage))
            .map_err(|e| e.at_path(path))?
            .end;
        let mut reader = Self::index(path, storage, opts, end).map_err(|e| e.at_path(path))?;
        if reader.opts.preload {
            reader.preload()?;
        }
        Ok(reader)
    }

    fn index(
        path: &Path,
        map: Arc<Storage>,
        opts: ReaderOptions,
        end: EndOfCentralDirectory,
    ) -> Result<NpzReader> {
        let buf: &[u8] = &map;
        let cd_start = end.cd_start();
        let cd_end = end.cd_end();
        let cd = buf
            .get(..to_usize(cd_end, end.eocd_offset)?)
            .ok_or_else(|| zip_err("central directory lies past the end of the file", cd_end))?;
        // Bound every reservation by what the directory can actually hold.
        let dir = Directory::of(&end);
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
            let e = e?;
            let name = e.decoded_name();
            let at =
                |reason: &str| zip_err(reason.to_string(), e.offset).at_member(name.to_string());
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
                key_len: key_of(&name).len() as u32,
                raw_name_len: e.name.len() as u16,
                crc32: e.crc32,
                method: e.method,
                flags: e.flags,
                live: true,
                parsed: OnceLock::new(),
            });
        }
        let comment = {
            let start =
                to_usize(end.eocd_offset, end.eocd_offset)?.saturating_add(crate::zip::EOCD_LEN);
            (start, usize::from(end.comment_len))
        };
        let mut reader = NpzReader {
            path: path.to_path_buf(),
            map: map.clone(),
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
        reader.check_overlaps(cd_start)?;
        reader.build_table();
        Ok(reader)
    }

    /// Sorts members by offset and checks that each one's local header,
    /// name and data (as far as known without reading the local header)
    /// end before the next one begins. Records the next offset per member
    /// so the exact extent can be checked at first access.
    fn check_overlaps(&mut self, cd_start: u64) -> Result<()> {
        let mut order: Vec<(u64, u32)> = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.local_offset, i as u32))
            .collect();
        if !order.is_sorted() {
            order.sort_unstable();
        }
        for (k, &(off, i)) in order.iter().enumerate() {
            let next = order.get(k + 1).map_or(cd_start, |n| n.0);
            let e = &self.entries[i as usize];
            let min_end = off
                .saturating_add(LOCAL_HEADER_LEN as u64)
                .saturating_add(u64::from(e.raw_name_len))
                .saturating_add(e.compressed);
            if min_end > next {
                let name = self.name(i as usize).to_string();
                return Err(zip_err("members overlap", off).at_member(name));
            }
            self.entries[i as usize].next_offset = next;
        }
        Ok(())
    }

    #[inline]
    fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    fn build_table(&mut self) {
        let n = self.entries.len();
        let size = (n.saturating_mul(2)).max(8).next_power_of_two();
        self.slots = vec![Slot { tag: 0, idx: EMPTY }; size];
        let mask = size - 1;
        for i in 0..n {
            let key = key_of(self.name(i));
            let h = self.hash(key);
            let tag = (h >> 32) as u32;
            let mut pos = (h as usize) & mask;
            loop {
                let s = self.slots[pos];
                if s.idx == EMPTY {
                    self.slots[pos] = Slot { tag, idx: i as u32 };
                    break;
                }
                let j = s.idx as usize;
                if s.tag == tag && key_of(self.name(j)) == key {
                    // np.load: an exact (non-.npy) member name beats a
                    // stripped one; otherwise the later entry wins.
                    let old_exact = self.name(j) == key;
                    let new_exact = self.name(i) == key;
                    let (winner, loser) = if old_exact && !new_exact {
                        (j, i)
                    } else {
                        (i, j)
                    };
                    self.slots[pos].idx = winner as u32;
                    self.entries[loser].live = false;
                    let dup = self.name(loser).to_string();
                    self.duplicates.push(dup);
                    break;
                }
                pos = (pos + 1) & mask;
            }
        }
        self.live = self.entries.iter().filter(|e| e.live).count();
    }

    /// The key of member `i` as bytes (hot path: no UTF-8 boundary checks).
    #[inline]
    fn key_bytes(&self, i: usize) -> &[u8] {
        match self.entries.get(i) {
            Some(e) => {
                let start = e.name_start as usize;
                self.names
                    .as_bytes()
                    .get(start..start + e.key_len as usize)
                    .unwrap_or_default()
            }
            None => &[],
        }
    }

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
            if s.tag == tag && self.key_bytes(s.idx as usize) == key.as_bytes() {
                return Some(s.idx as usize);
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Index of the member for `key` (an array key, or a full member name).
    #[inline]
    fn lookup(&self, key: &str) -> Result<usize> {
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

    fn name(&self, i: usize) -> &str {
        let e = &self.entries[i];
        let start = e.name_start as usize;
        self.names
            .get(start..start + e.name_len as usize)
            .unwrap_or_default()
    }

    fn ctx(&self, i: usize, e: Error) -> Error {
        e.at_path(&self.path).at_member(self.name(i))
    }

    // ------------------------------------------------------------ listing

    /// The file this reader mapped (`<memory>` for [`NpzReader::from_bytes`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of keys (members, counting duplicate names once).
    pub fn len(&self) -> usize {
        self.live
    }

    /// True if the archive has no members.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The keys in archive order, as `np.load(...).files` shows them (a
    /// duplicated name is listed once, at the position of the member that
    /// wins).
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        let live = self.live;
        KnownLen {
            inner: (0..self.entries.len())
                .filter(|&i| self.entries[i].live)
                .map(|i| key_of(self.name(i))),
            left: live,
        }
    }

    /// True if `key` (or the full member name) is in the archive.
    pub fn contains(&self, key: &str) -> bool {
        self.lookup(key).is_ok()
    }

    /// `(key, view)` for every key in archive order, like `dict.items()`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Result<ArrayView<'_>>)> + '_ {
        (0..self.entries.len())
            .filter(|&i| self.entries[i].live)
            .map(|i| (key_of(self.name(i)), self.view_at(i, false)))
    }

    /// Every central directory entry in archive order, including shadowed
    /// duplicates and non-`.npy` members.
    pub fn members(&self) -> impl ExactSizeIterator<Item = MemberInfo<'_>> + '_ {
        self.entries.iter().enumerate().map(|(i, e)| MemberInfo {
            name: self.name(i),
            key: key_of(self.name(i)),
            method: e.method,
            compressed_size: e.compressed,
            uncompressed_size: e.uncompressed,
            crc32: e.crc32,
            local_header_offset: e.local_offset,
            shadowed: !e.live,
        })
    }

    /// Member names that occur more than once: the entries hidden by a later
    /// (or exactly named) one, in the order they were found.
    pub fn duplicates(&self) -> &[String] {
        &self.duplicates
    }

    /// The archive comment.
    pub fn comment(&self) -> &[u8] {
        let (s, n) = self.comment;
        self.map.get(s..s.saturating_add(n)).unwrap_or_default()
    }

    /// Members that failed to parse during [`ReaderOptions::preload`].
    pub fn preload_errors(&self) -> &[(String, Error)] {
        &self.preload_errors
    }

    /// Bytes currently held by the cache of aligned copies.
    pub fn cached_bytes(&self) -> usize {
        self.copies.bytes()
    }

    /// Drops every cached copy (parsed headers stay cached).
    pub fn clear_cache(&self) {
        self.copies.clear();
    }

    // ------------------------------------------------------------- access

    /// The NPY header of `key` (reads and caches the member's headers).
    pub fn header(&self, key: &str) -> Result<Cow<'_, Header>> {
        let i = self.lookup(key)?;
        Ok(match self.member(i)? {
            Got::Cached(p) => Cow::Borrowed(&p.header),
            Got::Fresh(p) => Cow::Owned(p.header),
        })
    }

    /// A view of the array `key` as stored, dtype and byte order included:
    /// zero-copy from the map for stored members (possibly unaligned,
    /// possibly big-endian; use [`ArrayView::to_vec`] or
    /// [`NpzReader::get_slice`]). A deflated member is inflated into the copy
    /// cache, its bytes as stored (a `>f8` member stays `>f8`).
    pub fn get(&self, key: &str) -> Result<ArrayView<'_>> {
        let i = self.lookup(key)?;
        self.view_at(i, false)
    }

    /// As [`NpzReader::get`], but the view shares the map (or the cached
    /// copy) through an `Arc` and can outlive the reader.
    pub fn get_owned(&self, key: &str) -> Result<OwnedView> {
        let i = self.lookup(key)?;
        let got = self.member(i)?;
        let p = got.parsed();
        let header = Cow::Owned(p.header.clone());
        let loc = Cow::Owned(p.loc.clone());
        if self.entries[i].method == METHOD_STORED {
            let start = to_usize(p.data_start, p.data_start)?;
            let len = to_usize(p.data_len, p.data_start)?;
            let owner: Arc<dyn AsRef<[u8]> + Send + Sync> = self.map.clone();
            return Ok(ArrayView::from_checked_parts_at(
                header,
                Bytes::shared(owner, start, len),
                loc,
            ));
        }
        let c = self.copy_of(i, p, false)?;
        Ok(ArrayView::from_checked_parts_at(header, shared(c), loc))
    }

    /// A view of `key` that is aligned and in native byte order, so
    /// [`ArrayView::as_slice`] works for the matching element type: the
    /// map's bytes when they already are, otherwise an aligned (byte-swapped,
    /// inflated) copy from the bounded LRU cache. The returned view's dtype
    /// is always native.
    pub fn get_native(&self, key: &str) -> Result<ArrayView<'_>> {
        let i = self.lookup(key)?;
        self.view_at(i, true)
    }

    /// The array `key` as a `[T]` in memory order: zero-copy when the data
    /// is aligned and native, otherwise one cached aligned copy (see
    /// [`NpzReader::get_native`]). Fails if the dtype is not `T`'s, or a
    /// bool byte is not 0/1.
    pub fn get_slice<T: Element>(&self, key: &str) -> Result<ArraySlice<'_, T>> {
        let view = self.get_native(key)?;
        view.as_slice::<T>()?;
        Ok(ArraySlice {
            view,
            _t: PhantomData,
        })
    }

    /// The raw (uncompressed) bytes of any member, by key or member name:
    /// borrowed from the map when stored, inflated otherwise.
    pub fn read_member(&self, key: &str) -> Result<Cow<'_, [u8]>> {
        let i = self.lookup(key)?;
        let loc = self.locate(i).map_err(|e| self.ctx(i, e))?;
        if self.entries[i].method == METHOD_STORED {
            return self.slice(loc.start, loc.end).map(Cow::Borrowed);
        }
        let buf = self.inflate(i, &loc).map_err(|e| self.ctx(i, e))?;
        Ok(Cow::Owned(buf.as_slice().to_vec()))
    }

    /// True if member `key` (key or member name) holds an NPY array by
    /// `np.load`'s rule: its bytes start with the NPY magic `\x93NUMPY`,
    /// whatever its name. `np.load` returns any other member as raw bytes
    /// (here: [`NpzReader::read_member`]); [`NpzReader::get`] and
    /// [`NpzReader::header`] fail on it with [`Error::BadMagic`] (or
    /// [`Error::Truncated`] when it is shorter than the magic). Reads at most
    /// the first 6 bytes (inflating only that much).
    pub fn is_array(&self, key: &str) -> Result<bool> {
        let i = self.lookup(key)?;
        let loc = self.locate(i).map_err(|e| self.ctx(i, e))?;
        self.is_array_at(i, &loc).map_err(|e| self.ctx(i, e))
    }

    /// [`NpzReader::is_array`] for member `i` (errors without context).
    fn is_array_at(&self, i: usize, loc: &Located) -> Result<bool> {
        let magic = crate::npy::header::MAGIC;
        let head = if self.entries[i].method == METHOD_STORED {
            let end = loc.start.saturating_add(magic.len() as u64).min(loc.end);
            self.slice(loc.start, end)?.to_vec()
        } else {
            let mut dec = self.deflate_src(loc)?;
            let mut buf = Vec::with_capacity(magic.len());
            (&mut dec)
                .take(magic.len() as u64)
                .read_to_end(&mut buf)
                .map_err(|e| zip_err(format!("invalid deflate data: {e}"), loc.start))?;
            buf
        };
        Ok(head == magic)
    }

    fn slice(&self, start: u64, end: u64) -> Result<&[u8]> {
        let s = to_usize(start, start)?;
        let e = to_usize(end, start)?;
        self.map
            .get(s..e)
            .ok_or_else(|| zip_err("range outside the file", start))
    }

    #[inline]
    fn view_at(&self, i: usize, native: bool) -> Result<ArrayView<'_>> {
        // Hot path: headers cached and the bytes viewable in place (then the
        // stored header is the native one). No conversion, lock or alloc.
        if let Some(p) = self.entries.get(i).and_then(|e| e.parsed.get())
            && let Some((s, e)) = p.in_map
            && (!native || p.zero_copy)
            && let Some(bytes) = self.map.get(s..e)
        {
            return Ok(ArrayView::from_checked_parts_at(
                Cow::Borrowed(&p.header),
                Bytes::borrowed(bytes),
                Cow::Borrowed(&p.loc),
            ));
        }
        self.view_slow(i, native)
    }

    /// [`NpzReader::view_at`] on first access, or when a copy is needed.
    #[inline(never)]
    fn view_slow(&self, i: usize, native: bool) -> Result<ArrayView<'_>> {
        let got = self.member(i)?;
        let p = got.parsed();
        if self.entries[i].method == METHOD_STORED && (!native || p.zero_copy) {
            let end = p.data_start.saturating_add(p.data_len);
            let bytes = self.slice(p.data_start, end)?;
            return Ok(got.view(Bytes::borrowed(bytes), false));
        }
        let c = self.copy_of(i, p, native)?;
        Ok(got.view(shared(c), native))
    }

    /// The member's parsed headers, from the cache or freshly parsed.
    fn member(&self, i: usize) -> Result<Got<'_>> {
        let e = &self.entries[i];
        if let Some(p) = e.parsed.get() {
            return Ok(Got::Cached(p));
        }
        let p = self.parse_member(i).map_err(|e| self.ctx(i, e))?;
        if !self.opts.cache {
            return Ok(Got::Fresh(Box::new(p)));
        }
        // A racing thread may have stored its (identical) result first.
        Ok(Got::Cached(e.parsed.get_or_init(|| Box::new(p))))
    }

    /// Reads the local header and checks it against the central directory;
    /// returns the range of the member's stored bytes.
    fn locate(&self, i: usize) -> Result<Located> {
        let e = &self.entries[i];
        let at = e.local_offset;
        if e.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) != 0 {
            return Err(Error::Encrypted {
                at: Location::offset(at),
            });
        }
        if e.method != METHOD_STORED && e.method != METHOD_DEFLATE {
            return Err(Error::UnsupportedCompression {
                method: e.method,
                at: Location::offset(at),
            });
        }
        if e.method == METHOD_STORED && e.compressed != e.uncompressed {
            return Err(zip_err(
                format!(
                    "stored member has compressed size {} but uncompressed size {}",
                    e.compressed, e.uncompressed
                ),
                at,
            ));
        }
        // Bound the parser to this member's bytes.
        let bounded = self
            .map
            .get(..to_usize(e.next_offset, at)?)
            .ok_or_else(|| zip_err("member lies past the end of the file", at))?;
        // The parser only sees this member's bytes: a name or extra field
        // that does not fit is a structural error of this member, not a
        // short file.
        let lh = LocalHeaderRef::parse(bounded, at).map_err(|x| match x {
            Error::Truncated { what, .. } => zip_err(
                format!("{what} runs into the next member or the central directory"),
                at,
            ),
            x => x,
        })?;
        if decode_name(lh.name, e.flags) != self.name(i) {
            return Err(zip_err(
                format!(
                    "local header name {:?} differs from the central directory",
                    decode_name(lh.name, lh.flags)
                ),
                at,
            ));
        }
        if lh.method != e.method {
            return Err(zip_err(
                format!(
                    "local header says compression method {}, central directory {}",
                    lh.method, e.method
                ),
                at,
            ));
        }
        if lh.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) != 0 {
            return Err(Error::Encrypted {
                at: Location::offset(at),
            });
        }
        let descriptor = (lh.flags | e.flags) & FLAG_DATA_DESCRIPTOR != 0;
        if !descriptor
            && (lh.compressed_size != e.compressed
                || lh.uncompressed_size != e.uncompressed
                || lh.crc32 != e.crc32)
        {
            return Err(zip_err(
                format!(
                    "local header (sizes {}/{}, crc {:08x}) disagrees with the central directory (sizes {}/{}, crc {:08x})",
                    lh.compressed_size,
                    lh.uncompressed_size,
                    lh.crc32,
                    e.compressed,
                    e.uncompressed,
                    e.crc32
                ),
                at,
            ));
        }
        let start = lh.data_start();
        let end = start
            .checked_add(e.compressed)
            .filter(|&end| end <= e.next_offset)
            .ok_or_else(|| {
                zip_err(
                    "member data runs into the next member or the central directory",
                    start,
                )
            })?;
        Ok(Located {
            start,
            end,
            local_zip64: lh.has_zip64,
        })
    }

    /// First access: local header, then the NPY header bounded to the
    /// member's bytes, then the data length.
    fn parse_member(&self, i: usize) -> Result<Parsed> {
        let e = &self.entries[i];
        let loc = self.locate(i)?;
        let limit = self.opts.header_limit;
        let stored = e.method == METHOD_STORED;
        let ph = if stored {
            let bytes = self.slice(loc.start, loc.end)?;
            read_header(bytes, limit).map_err(|x| x.shift_offset(loc.start))?
        } else {
            let pre = self.inflate_prefix(&loc, e.uncompressed)?;
            read_header(&pre, limit).map_err(|x| x.at_offset(loc.start))?
        };
        let data_at = if stored {
            loc.start.saturating_add(ph.data_offset)
        } else {
            loc.start
        };
        let need = ph.header.data_len().map_err(|x| x.at_offset(loc.start))?;
        let have = e.uncompressed.saturating_sub(ph.data_offset);
        if have < need {
            return Err(Error::DataTooShort {
                expected: need,
                actual: have,
                at: Location::offset(data_at),
            });
        }
        if have > need {
            return Err(Error::DataTooLong {
                expected: need,
                actual: have,
                at: Location::offset(data_at),
            });
        }
        if self.opts.verify_on_access {
            self.check_crc(i, &loc)?;
        }
        let header = ph.header;
        let native = (!header.dtype.is_native())
            .then(|| Header::new(header.dtype.to_native(), header.shape.clone(), header.order));
        let data_start = if stored { data_at } else { ph.data_offset };
        let zero_copy = stored && native.is_none() && {
            let addr = (self.map.as_ptr() as usize).wrapping_add(to_usize(data_start, data_at)?);
            addr.is_multiple_of(natural_align(&header.dtype))
        };
        let in_map = if stored {
            let s = to_usize(data_start, data_at)?;
            let e = to_usize(data_start.saturating_add(need), data_at)?;
            self.map.get(s..e).map(|_| (s, e))
        } else {
            None
        };
        Ok(Parsed {
            header,
            native,
            data_start,
            data_len: need,
            in_map,
            zero_copy,
            loc: Location {
                path: Some(self.path.clone()),
                member: Some(self.name(i).to_string()),
                offset: Some(data_at),
            },
        })
    }

    /// An aligned copy of member `i`'s array data, from the cache or made
    /// (and cached) now: in native byte order if `native`, else as stored.
    /// A native-order member has one copy for both.
    fn copy_of(&self, i: usize, p: &Parsed, native: bool) -> Result<Copy> {
        let swap = native && p.native.is_some();
        let key = CopyKey {
            member: i as u32,
            swapped: swap,
        };
        if let Some(c) = self.copies.get(key) {
            return Ok(c);
        }
        let c = self.make_copy(i, p, swap).map_err(|e| self.ctx(i, e))?;
        self.copies.insert(key, c.clone());
        Ok(c)
    }

    fn make_copy(&self, i: usize, p: &Parsed, swap: bool) -> Result<Copy> {
        let start = to_usize(p.data_start, p.data_start)?;
        let len = to_usize(p.data_len, p.data_start)?;
        let dtype = &p.header.dtype;
        if self.entries[i].method == METHOD_STORED {
            let bytes = self.slice(p.data_start, p.data_start.saturating_add(p.data_len))?;
            let mut buf = AlignedBuf::copy_from(bytes)?;
            if swap {
                swap_to_native(dtype, buf.as_mut_slice());
            }
            return Ok(Copy {
                buf: Arc::new(buf),
                start: 0,
                len,
            });
        }
        let loc = self.locate(i)?;
        let mut buf = self.inflate(i, &loc)?;
        let end = start
            .checked_add(len)
            .filter(|&e| e <= buf.as_slice().len())
            .ok_or_else(|| zip_err("inflated member shorter than its header says", loc.start))?;
        if start.is_multiple_of(natural_align(dtype)) {
            if swap {
                swap_to_native(dtype, &mut buf.as_mut_slice()[start..end]);
            }
            return Ok(Copy {
                buf: Arc::new(buf),
                start,
                len,
            });
        }
        let mut data = AlignedBuf::copy_from(&buf.as_slice()[start..end])?;
        if swap {
            swap_to_native(dtype, data.as_mut_slice());
        }
        Ok(Copy {
            buf: Arc::new(data),
            start: 0,
            len,
        })
    }

    fn deflate_src(&self, loc: &Located) -> Result<flate2::read::DeflateDecoder<&[u8]>> {
        Ok(flate2::read::DeflateDecoder::new(
            self.slice(loc.start, loc.end)?,
        ))
    }

    /// Inflates just enough of a member to hold its NPY header.
    fn inflate_prefix(&self, loc: &Located, uncompressed: u64) -> Result<Vec<u8>> {
        let mut dec = self.deflate_src(loc)?;
        let mut buf = Vec::new();
        let mut fill = |buf: &mut Vec<u8>, upto: u64| -> Result<()> {
            let want = upto.min(uncompressed).saturating_sub(buf.len() as u64);
            (&mut dec)
                .take(want)
                .read_to_end(buf)
                .map(drop)
                .map_err(|e| zip_err(format!("invalid deflate data: {e}"), loc.start))
        };
        fill(&mut buf, 12)?;
        if let Ok((_, data_offset)) = read_prefix(&buf, self.opts.header_limit) {
            fill(&mut buf, data_offset)?;
        }
        Ok(buf)
    }

    fn ratio_check(&self, i: usize, at: u64) -> Result<usize> {
        let e = &self.entries[i];
        let cap = e
            .compressed
            .saturating_mul(MAX_DEFLATE_RATIO)
            .saturating_add(1024);
        if e.uncompressed > cap {
            return Err(Error::DecompressionLimit {
                limit: cap,
                at: Location::offset(at),
            });
        }
        to_usize(e.uncompressed, at)
    }

    /// Inflates a whole member into an aligned buffer of exactly its
    /// declared size, refusing more output (zip bomb) or less, and checks
    /// its CRC.
    fn inflate(&self, i: usize, loc: &Located) -> Result<AlignedBuf> {
        let e = &self.entries[i];
        let n = self.ratio_check(i, loc.start)?;
        let mut buf = AlignedBuf::zeroed(n)?;
        let input = self.slice(loc.start, loc.end)?;
        inflate_checked(input, Dest::Into(buf.as_mut_slice()), e.crc32, loc.start)?;
        Ok(buf)
    }

    /// Checks the CRC-32 of a member's uncompressed bytes (streaming).
    fn check_crc(&self, i: usize, loc: &Located) -> Result<()> {
        let e = &self.entries[i];
        let input = self.slice(loc.start, loc.end)?;
        if e.method != METHOD_STORED {
            self.ratio_check(i, loc.start)?;
            let len = e.uncompressed;
            return inflate_checked(input, Dest::Discard { len }, e.crc32, loc.start);
        }
        let actual = crc32fast::hash(input);
        if actual != e.crc32 {
            return Err(Error::CrcMismatch {
                expected: e.crc32,
                actual,
                at: Location::offset(loc.start),
            });
        }
        Ok(())
    }

    /// Checks one member completely: zip structure, data descriptor, NPY
    /// header and length (for members that are arrays by `np.load`'s rule,
    /// whatever their name: see [`NpzReader::is_array`]) and CRC.
    fn verify_member(&self, i: usize) -> Result<()> {
        let e = &self.entries[i];
        let loc = self.locate(i)?;
        if e.flags & FLAG_DATA_DESCRIPTOR != 0 {
            let zip64 = loc.local_zip64 || e.compressed >= MAX32 || e.uncompressed >= MAX32;
            let bounded = self
                .map
                .get(..to_usize(e.next_offset, loc.end)?)
                .unwrap_or_default();
            let dd = DataDescriptor::parse(bounded, loc.end, zip64)?;
            if dd.crc32 != e.crc32
                || dd.compressed_size != e.compressed
                || dd.uncompressed_size != e.uncompressed
            {
                return Err(zip_err(
                    "data descriptor disagrees with the central directory",
                    loc.end,
                ));
            }
        }
        if self.is_array_at(i, &loc)? {
            self.parse_member(i)?;
        }
        self.check_crc(i, &loc)
    }

    /// Checks every member's structure and CRC-32, in parallel over
    /// `std::thread::available_parallelism()` threads, and reports each
    /// member's result (including members hidden by duplicates and
    /// non-`.npy` members). Reads every byte of the archive.
    pub fn verify(&self) -> VerifyReport {
        let results = par_map(self.entries.len(), 1, |i| {
            self.verify_member(i).map_err(|e| self.ctx(i, e))
        });
        VerifyReport {
            members: results
                .into_iter()
                .enumerate()
                .map(|(i, r)| (self.name(i).to_string(), r))
                .collect(),
        }
    }

    fn preload(&mut self) -> Result<()> {
        let this = &*self;
        // Every key np.load would return as an array, whatever its name;
        // members that are not arrays (no NPY magic) are not errors.
        let live: Vec<usize> = (0..this.entries.len())
            .filter(|&i| this.entries[i].live)
            .collect();
        let results = par_map(live.len(), 64, |k| {
            let i = live[k];
            match this.parse_member(i) {
                Ok(p) => {
                    if this.opts.cache {
                        let _ = this.entries[i].parsed.set(Box::new(p));
                    }
                    None
                }
                Err(e) => {
                    let not_array = this
                        .locate(i)
                        .and_then(|loc| this.is_array_at(i, &loc))
                        .is_ok_and(|a| !a);
                    (!not_array).then(|| (this.name(i).to_string(), this.ctx(i, e)))
                }
            }
        });
        let mut errors: Vec<(String, Error)> = results.into_iter().flatten().collect();
        if self.opts.strict && !errors.is_empty() {
            return Err(errors.swap_remove(0).1);
        }
        self.preload_errors = errors;
        Ok(())
    }
}

fn shared(c: Copy) -> Bytes<'static> {
    Bytes::shared(c.buf, c.start, c.len)
}

/// Maps `f` over `0..n` on up to `available_parallelism()` scoped threads,
/// handing out `chunk` indices at a time; results come back in index order.
fn par_map<R: Send>(n: usize, chunk: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let chunk = chunk.max(1);
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(n.div_ceil(chunk))
        .max(1);
    if threads == 1 {
        return (0..n).map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut all: Vec<(usize, R)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let start = next.fetch_add(chunk, Ordering::Relaxed);
                        if start >= n {
                            break;
                        }
                        for i in start..(start + chunk).min(n) {
                            out.push((i, f(i)));
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    all.sort_unstable_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

/// An iterator with a known length (for [`NpzReader::keys`]).
struct KnownLen<I> {
    inner: I,
    left: usize,
}

impl<I: Iterator> Iterator for KnownLen<I> {
    type Item = I::Item;
    fn next(&mut self) -> Option<I::Item> {
        let x = self.inner.next();
        if x.is_some() {
            self.left = self.left.saturating_sub(1);
        }
        x
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<I: Iterator> ExactSizeIterator for KnownLen<I> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<NpzReader>();
        check::<ArraySlice<'static, f64>>();
    }

    #[test]
    fn par_map_keeps_order() {
        let v = par_map(1000, 7, |i| i * 2);
        assert_eq!(v, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
        assert!(par_map(0, 1, |i| i).is_empty());
    }
}
