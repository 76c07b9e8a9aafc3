//! [`ReaderOptions`]: how [`NpzReader`](super::NpzReader) opens, caches and checks.

#[cfg(doc)]
use super::NpzReader;
#[cfg(doc)]
use crate::Error;
use crate::header::DEFAULT_HEADER_LIMIT;

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
    pub(super) cache: bool,
    pub(super) preload: bool,
    pub(super) strict: bool,
    pub(super) cache_bytes: usize,
    pub(super) verify_on_access: bool,
    pub(super) header_limit: usize,
    pub(super) wait_for_lock: bool,
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
