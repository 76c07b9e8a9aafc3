//! The mmap boundary: every `unsafe` of the crate that maps a file is here.
//!
//! memmap2's maps are SHARED mappings (`MAP_SHARED`), not private copies:
//! bytes another process writes to the file show through, and pages past
//! a truncation fault with SIGBUS when touched. A `&[u8]` over such a map is
//! sound only while nobody changes or truncates the mapped range. The lock
//! protocol of the [module docs](super) provides that against npzmap's own
//! writers in this and other processes; programs that ignore advisory locks
//! are outside what Rust can guarantee.

use super::lock::{ExclusiveLock, SharedLock};
use crate::error::{Error, Result};
use memmap2::{Mmap, MmapMut, MmapOptions};
use std::fmt;
use std::ops::Deref;
use std::path::Path;

/// A read-only map of a whole file that holds the file's shared lock for as
/// long as it lives (an empty file is not mapped and reads as `&[]`).
pub(crate) struct ReadMap {
    map: Option<Mmap>,
    _file: SharedLock,
}

impl ReadMap {
    /// Maps the file again at its current length, keeping the same lock
    /// (a reader that raced an appender looks again).
    pub(crate) fn remap(self, path: &Path) -> Result<ReadMap> {
        let ReadMap { map, _file: file } = self;
        drop(map);
        ReadMap::new(file, path)
    }

    /// Maps `file`, whose shared lock it keeps.
    pub(crate) fn new(file: SharedLock, path: &Path) -> Result<ReadMap> {
        let len = file
            .metadata()
            .map_err(|e| Error::io_path("stat", e, path))?
            .len();
        ReadMap::prefix(file, path, len)
    }

    /// Maps the first `len` bytes of `file` (at most its length), whose
    /// shared lock it keeps: a reader that opened the last committed archive
    /// of a file being appended to maps just that archive.
    pub(crate) fn prefix(file: SharedLock, path: &Path, len: u64) -> Result<ReadMap> {
        let file_len = file
            .metadata()
            .map_err(|e| Error::io_path("stat", e, path))?
            .len();
        let len = usize::try_from(len.min(file_len)).map_err(|_| Error::Zip {
            reason: format!("a file of {len} bytes cannot be mapped on this platform"),
            at: crate::error::Location::path(path),
        })?;
        if len == 0 {
            return Ok(ReadMap {
                map: None,
                _file: file,
            });
        }
        // SAFETY: `Mmap::map` creates a read-only MAP_SHARED mapping, so the
        // slices handed out alias the file itself. They stay valid because:
        // - the mapping lives as long as `self`, and every slice borrows
        //   `self` (or an `Arc` holding it);
        // - npzmap never changes or truncates the bytes a reader uses while
        //   it holds the file's shared lock, which `self` keeps: modifiers
        //   need the exclusive lock and fail with `Error::Locked`; appenders
        //   only add bytes past the committed end (an `.npy` header's shape
        //   is rewritten too, but readers parse the header once at open and
        //   views cover the data only), and a failed append truncates only
        //   bytes it added itself, beyond everything a reader indexed at
        //   open; replacements rename a new file over the name, leaving this
        //   inode intact. This holds for npzmap in this process and in others
        //   (flock is per open file description, so two opens in one process
        //   conflict too).
        // - a program that ignores advisory locks can still change the bytes
        //   (views then show the new bytes) or truncate the file (SIGBUS on
        //   access); Rust cannot rule that out for any file mapping, and the
        //   crate documents it.
        let map = unsafe { MmapOptions::new().len(len).map(&*file) }
            .map_err(|e| Error::io_path("mmap", e, path))?;
        Ok(ReadMap {
            map: Some(map),
            _file: file,
        })
    }
}

impl Deref for ReadMap {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

impl AsRef<[u8]> for ReadMap {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for ReadMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadMap").field("len", &self.len()).finish()
    }
}

/// A writable map of a whole (non-empty) file that holds the file's
/// exclusive lock for as long as it lives.
pub(crate) struct WriteMap {
    map: MmapMut,
    _file: ExclusiveLock,
}

impl WriteMap {
    /// Maps `file`, whose exclusive lock it keeps.
    pub(crate) fn new(file: ExclusiveLock, path: &Path) -> Result<WriteMap> {
        // SAFETY: `MmapMut::map_mut` creates a read-write MAP_SHARED mapping;
        // writes through it reach the file. `self` holds the exclusive lock
        // for the mapping's lifetime, so no npzmap reader maps this file (it
        // gets `Error::Locked`) and no npzmap writer changes or truncates it,
        // in this or another process. Shared slices borrow `self`, mutable
        // ones borrow it mutably, so safe Rust in this process cannot alias
        // them. Programs that ignore advisory locks are outside this
        // guarantee (see the module docs).
        let map =
            unsafe { MmapMut::map_mut(&*file) }.map_err(|e| Error::io_path("mmap", e, path))?;
        Ok(WriteMap { map, _file: file })
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.map
    }

    pub(crate) fn flush(&self) -> std::io::Result<()> {
        self.map.flush()
    }
}

impl Deref for WriteMap {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map
    }
}

impl fmt::Debug for WriteMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteMap")
            .field("len", &self.len())
            .finish()
    }
}
