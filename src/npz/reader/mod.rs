//! The archive reader: [`NpzReader`] maps a `.npz` file once (or reads it
//! from memory, or by ranged requests from object storage), indexes its
//! central directory, and hands out typed views of its arrays.
//!
//! * **Open** touches only the end records and the central directory: no
//!   member data and no local header is read. The index is one `Vec` of
//!   fixed-size entries (names live in one shared `String`) plus an
//!   open-addressing hash table of 8-byte slots, so a million members take
//!   memory close to the size of the central directory itself.
//! * **Names** follow `np.load`: the key of `x.npy` is `x`; other members
//!   are listed under their full name; with duplicate names the last one
//!   wins (see [`NpzReader::duplicates`]); names without the UTF-8 flag are
//!   decoded as code page 437, like Python's `zipfile`.
//! * **Headers** (local zip header, then NPY header) are read and checked on
//!   first access and cached in an append-only arena, in first-use order,
//!   which the member's hash table slot then names (and a small
//!   set-associative table of hints that stays in L2 for a hot set), so
//!   later accesses take no lock, allocate nothing and read few cache lines.
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
//! # Archives in object storage
//!
//! With the `object-store` feature, `NpzReader::open_url` (`s3://`,
//! `gs://`, `az://`, `https://`, `file://`, ...) and
//! `NpzReader::open_object` read an archive by byte ranges, through the
//! same parsers and checks as a local file, and report the same errors
//! (the URL as the file).
//!
//! * **Sources.** The reader's bytes come from a source: a file mapping or
//!   memory (the whole archive at absolute offsets; views borrow from it,
//!   and cached views of stored members cost what they always did), or a
//!   remote object. Parsers read through a window: bytes plus the absolute
//!   offset they start at. A local source is one window over everything; a
//!   remote one fetches a window per member. Finding the end records reads
//!   through the zip layer's `ReadAt`, so damaged objects fail as damaged
//!   files do.
//! * **Open** is one ranged request for the last 1 MiB (which also gives
//!   the object's size) in the common case, whatever the member count, and
//!   one more for the start of a central directory that does not fit in it.
//! * **First access** of a member is one request for its whole range (local
//!   header to the next member); the bytes go into the bounded cache
//!   ([`ReaderOptions::cache_bytes`]; evicted members are fetched again),
//!   so later accesses send nothing. [`NpzReader::header`] alone fetches
//!   just the member's start (local header and NPY header).
//! * **Batches**: [`NpzReader::get_many`], [`NpzReader::get_many_owned`]
//!   and [`NpzReader::prefetch_headers`] fetch what is not cached in
//!   coalesced, concurrent requests (ranges less than 1 MiB apart share
//!   one). [`NpzReader::verify`] and [`ReaderOptions::preload`] fetch in
//!   batches of about 8 MiB, and members larger than that in 8 MiB pieces,
//!   so memory stays bounded. `NpzReader::requests` counts what was sent.
//!
//! # Opening during an append
//!
//! While [`NpzWriter::append`](crate::npz::writer::NpzWriter::append) writes
//! members, the file ends with them and has no end record at its tail; the
//! same holds after an appender was killed. [`NpzReader::open`] then opens
//! the last committed archive, which the appender keeps intact as a prefix
//! of the file: the archive as it was before the append (found by searching
//! back for the last end record whose central directory checks out). Only that
//! archive is mapped, so nothing the appender writes or truncates later
//! lies under the map. A reader opened before or during an append keeps
//! seeing that archive; one opened after `close` sees the new one.

mod arena;
mod batch;
mod copy;
mod hints;
mod index;
mod infos;
mod iter;
mod member;
mod options;
#[cfg(feature = "object-store")]
mod remote;
#[cfg(feature = "object-store")]
mod remote_batch;
mod slice;
mod source;
mod verify;
mod views;

pub use iter::{Iter, Keys, MemberInfo, Members};
pub use options::{DEFAULT_CACHE_BYTES, ReaderOptions};
pub use slice::ArraySlice;
pub use verify::{Errors, VerifyReport};

use crate::dtype::Element;
use crate::error::{Error, Location, Result};
use crate::fs::lock::{SharedLock, Wait};
use crate::fs::map::ReadMap;
use crate::header::Header;
use crate::npz::cache::CopyCache;
use crate::view::{ArrayView, Bytes, OwnedView};
use crate::zip::METHOD_STORED;
use crate::zip::committed;
use arena::Arena;
use index::{Entry, Found, Slot};
use member::Got;
use source::{Need, Source};
use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Deflate cannot expand more than about 1032:1; a member that declares
/// more is a zip bomb (or corrupt) and is refused before anything is
/// allocated.
pub const MAX_DEFLATE_RATIO: u64 = 1032;

/// The [`NpzReader::path`] of an archive read from memory.
const MEMORY_PATH: &str = "<memory>";

/// Where an array member lies in its archive and how it is laid out
/// ([`NpzReader::array_info`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArrayInfo {
    /// The NPY header as stored.
    pub header: Header,
    /// Absolute offset of the array data in the archive (stored members),
    /// or in the member's inflated bytes (deflated members).
    pub data_offset: u64,
    /// Length of the array data in bytes.
    pub data_len: u64,
    /// The member is stored, not compressed.
    pub stored: bool,
    /// Stored, in native byte order, and its data offset a multiple of the
    /// dtype's alignment: viewable in place (`get_slice` without a copy)
    /// when the archive is mapped.
    pub aligned: bool,
}

/// A read-only, memory-mapped `.npz` archive. See the [module
/// docs](self) for the design and an example.
///
/// `NpzReader` is `Send + Sync`: share it across threads by reference or in
/// an `Arc`; lookups and cached views take no lock.
pub struct NpzReader {
    path: PathBuf,
    /// The archive's bytes (for a local archive, all of them at absolute
    /// offsets: `src.get(a..b)`).
    src: Arc<Source>,
    names: String,
    entries: Vec<Entry>,
    slots: Vec<Slot>,
    /// Members' parsed headers, cached on first use (the slots say where).
    parsed_cells: Arena<member::Parsed>,
    /// A small cache in front of the table: by hash, the arena cells of
    /// recently cached members. A cached `get` of a hot set that fits
    /// reads no table slot.
    hints: hints::Hints,
    /// Seeded per reader (foldhash, keyed like std's `RandomState`, so
    /// crafted names cannot be made to collide without knowing the seed).
    hasher: foldhash::quality::RandomState,
    live: usize,
    duplicates: Vec<String>,
    /// Absolute offset and length of the archive comment.
    comment: (u64, usize),
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

/// A structural zip error at `offset` of the input.
fn zip_err(reason: impl Into<String>, offset: u64) -> Error {
    Error::Zip {
        reason: reason.into(),
        at: Location::offset(offset),
    }
}

/// `v` as `usize`, or a zip error at `offset` when it does not fit.
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
        let src = Arc::new(Source::Map(map));
        let mut reader = Self::index(path, src.clone(), opts, located.end, (&src[..], 0))
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
        let src = Arc::new(Source::Mem(Box::new(bytes)));
        let end = committed::locate(committed::Source::Bytes(&src))
            .map_err(|e| e.at_path(path))?
            .end;
        let mut reader = Self::index(path, src.clone(), opts, end, (&src[..], 0))
            .map_err(|e| e.at_path(path))?;
        if reader.opts.preload {
            reader.preload()?;
        }
        Ok(reader)
    }

    /// The file this reader mapped (`<memory>` for [`NpzReader::from_bytes`],
    /// the URL for an archive in object storage).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of keys (members, counting duplicate names once).
    pub fn len(&self) -> u64 {
        // usize is at most 64 bits on every supported target.
        self.live as u64
    }

    /// True if the archive has no members.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The keys in archive order, as `np.load(...).files` shows them (a
    /// duplicated name is listed once, at the position of the member that
    /// wins).
    pub fn keys(&self) -> Keys<'_> {
        Keys::new(self)
    }

    /// True if `key` (or the full member name) is in the archive.
    pub fn contains(&self, key: &str) -> bool {
        self.lookup(key).is_ok()
    }

    /// `(key, view)` for every key in archive order, like `dict.items()`.
    pub fn iter(&self) -> Iter<'_> {
        Iter::new(self)
    }

    /// Every central directory entry in archive order, including shadowed
    /// duplicates and non-`.npy` members.
    pub fn members(&self) -> Members<'_> {
        Members::new(self)
    }

    /// Member names that occur more than once: the entries hidden by a later
    /// (or exactly named) one, in the order they were found.
    pub fn duplicates(&self) -> &[String] {
        &self.duplicates
    }

    /// The archive comment.
    pub fn comment(&self) -> &[u8] {
        let (s, n) = self.comment;
        // The end record, comment included, was found inside the mapped
        // bytes (or the tail fetched at open).
        let comment = self.src.resident(s, s.saturating_add(n as u64));
        debug_assert!(comment.is_some(), "archive comment outside the map");
        comment.unwrap_or_default()
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
    ///
    /// On an archive in object storage, the first call fetches only the
    /// start of the member (its local header and NPY header).
    pub fn header(&self, key: &str) -> Result<Cow<'_, Header>> {
        let i = self.lookup(key)?;
        Ok(match self.member(i)? {
            Got::Cached(p) => Cow::Borrowed(&p.cold.header),
            Got::Fresh(p) => Cow::Owned(p.cold.header),
        })
    }

    /// Where the array `key` lies and how, from its headers alone (on an
    /// archive in object storage, no member data is fetched): what
    /// `npzmap ls` lists.
    pub fn array_info(&self, key: &str) -> Result<ArrayInfo> {
        let i = self.lookup(key)?;
        let got = self.member(i)?;
        self.info_of(i, got.parsed())
    }

    /// A view of the array `key` as stored, dtype and byte order included:
    /// zero-copy from the map for stored members (possibly unaligned,
    /// possibly big-endian; use [`ArrayView::to_vec`] or
    /// [`NpzReader::get_slice`]). A deflated member is inflated into the copy
    /// cache, its bytes as stored (a `>f8` member stays `>f8`).
    pub fn get(&self, key: &str) -> Result<ArrayView<'_>> {
        self.view_at(self.lookup_found(key)?, false)
    }

    /// As [`NpzReader::get`], but the view shares the map (or the cached
    /// copy) through an `Arc` and can outlive the reader.
    pub fn get_owned(&self, key: &str) -> Result<OwnedView> {
        let i = self.lookup(key)?;
        self.owned_in(i, None)
    }

    /// A view of `key` that is aligned and in native byte order, so
    /// [`ArrayView::as_slice`] works for the matching element type: the
    /// map's bytes when they already are, otherwise an aligned (byte-swapped,
    /// inflated) copy from the bounded LRU cache. The returned view's dtype
    /// is always native.
    pub fn get_native(&self, key: &str) -> Result<ArrayView<'_>> {
        self.view_at(self.lookup_found(key)?, true)
    }

    /// The array `key` as a `[T]` in memory order: zero-copy when the data
    /// is aligned and native, otherwise one cached aligned copy (see
    /// [`NpzReader::get_native`]). Fails if the dtype is not `T`'s, or a
    /// bool byte is not 0/1.
    pub fn get_slice<T: Element>(&self, key: &str) -> Result<ArraySlice<'_, T>> {
        ArraySlice::new(self.get_native(key)?)
    }

    /// The raw (uncompressed) bytes of any member, by key or member name:
    /// borrowed from the map when stored, inflated otherwise (a copy of the
    /// fetched bytes for an archive in object storage).
    pub fn read_member(&self, key: &str) -> Result<Cow<'_, [u8]>> {
        let i = self.lookup(key)?;
        let w = self.window(i, Need::Whole).map_err(|e| self.ctx(i, e))?;
        let loc = self.locate_in(i, &w).map_err(|e| self.ctx(i, e))?;
        if self.entry(i)?.method == METHOD_STORED {
            return w.cow(loc.start, loc.end).map_err(|e| self.ctx(i, e));
        }
        let buf = self.inflate(i, &loc, &w).map_err(|e| self.ctx(i, e))?;
        Ok(Cow::Owned(buf.as_slice().to_vec()))
    }

    /// A view of member `i` (see [`NpzReader::view_at`]).
    pub(super) fn view_of(&self, i: usize, native: bool) -> Result<ArrayView<'_>> {
        let parsed = self.parsed(i);
        self.view_at(Found { index: i, parsed }, native)
    }

    /// A view of member `m`: its cached headers and mapped bytes when it
    /// can, else [`NpzReader::view_slow`].
    #[inline]
    fn view_at<'s>(&'s self, m: Found<'s>, native: bool) -> Result<ArrayView<'s>> {
        match m.parsed.and_then(|p| self.cached_view(p, native)) {
            Some(v) => Ok(v),
            None => self.view_slow(m.index, native),
        }
    }

    /// The hot path: headers cached and the bytes viewable in place (then
    /// the stored header is the native one). No conversion, lock or alloc.
    /// (`in_map` is only set for local sources.)
    #[inline]
    fn cached_view<'s>(&'s self, p: &'s member::Parsed, native: bool) -> Option<ArrayView<'s>> {
        let (s, e) = p.in_map()?;
        if native && !p.zero_copy {
            return None;
        }
        let bytes = self.src.get(s..e)?;
        Some(ArrayView::from_checked_parts_at(
            // The header's address: no read of the cold part.
            Cow::Borrowed(&p.cold.header),
            Bytes::borrowed(bytes),
            self.at(p),
        ))
    }

    /// [`NpzReader::view_at`] on first access, or when a copy is needed.
    #[inline(never)]
    fn view_slow(&self, i: usize, native: bool) -> Result<ArrayView<'_>> {
        self.view_in(i, native, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<NpzReader>();
        check::<ArraySlice<'static, f64>>();
    }
}
