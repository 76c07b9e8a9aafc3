//! [`Src`]: the window recovery reads the input through, and the search
//! for the next local header signature.

use crate::error::{Error, Location, Result};
use crate::zip::spec::block_at;
use crate::zip::{LOCAL_SIG, U32Le};
use std::fs::File;
use std::os::unix::fs::FileExt;

/// Bytes read from the input at a time (at least).
pub(super) const WINDOW: usize = 256 * 1024;

/// A read window over the input.
pub(super) struct Src<'f> {
    file: &'f File,
    /// Length of the input, as found when the scan began (or, while a
    /// member is checked, the limit it may read up to).
    pub(super) len: u64,
    /// The end of the furthest bytes read since it was last set.
    pub(super) high: u64,
    win: Vec<u8>,
    /// Input offset of `win[0]`.
    start: u64,
}

impl<'f> Src<'f> {
    /// A window over the first `len` bytes of `file` (nothing read yet).
    pub(super) fn new(file: &'f File, len: u64) -> Self {
        Src {
            file,
            len,
            win: Vec::new(),
            start: 0,
            high: 0,
        }
    }

    /// The input file and the length scanned.
    pub(super) fn file(&self) -> (&'f File, u64) {
        (self.file, self.len)
    }

    /// Up to `n` bytes at `off` (fewer at the end of the file).
    pub(super) fn at(&mut self, off: u64, n: usize) -> Result<&[u8]> {
        let avail = self.len.saturating_sub(off);
        let n = (n as u64).min(avail) as usize;
        self.high = self.high.max(off.saturating_add(n as u64));
        let cached = off >= self.start
            && off
                .checked_add(n as u64)
                .is_some_and(|e| e <= self.start + self.win.len() as u64);
        if !cached {
            let want = (n.max(WINDOW) as u64).min(avail) as usize;
            self.win.resize(want, 0);
            self.file
                .read_exact_at(&mut self.win, off)
                .map_err(|e| Error::io("read", e, Location::offset(off)))?;
            self.start = off;
        }
        // `off..off + n` lies in the window (checked or just read).
        let s = usize::try_from(off - self.start).ok();
        let got = s.and_then(|s| self.win.get(s..)).and_then(|w| w.get(..n));
        debug_assert!(got.is_some(), "read window misses {off}+{n}");
        got.ok_or_else(|| Error::Zip {
            reason: "internal: the read window misses the bytes asked for".into(),
            at: Location::offset(off),
        })
    }

    /// The little-endian `u32` at `off`, if the file holds 4 bytes there.
    pub(super) fn u32_at(&mut self, off: u64) -> Result<Option<u32>> {
        let b = self.at(off, 4)?;
        Ok(block_at::<U32Le>(b, 0, off, "signature")
            .ok()
            .map(|v| v.get()))
    }

    /// The next local header signature at or after `from`, or the file end.
    pub(super) fn resync(&mut self, from: u64) -> Result<u64> {
        self.resync_until(from, self.len)
    }

    /// The first local header signature starting in `from..limit`, else
    /// `limit`. Skipping a record with this instead of jumping to its end
    /// never steps over a member, however long the record claims to be (a
    /// claim that, in damaged data, may hold only once the file has grown).
    pub(super) fn resync_until(&mut self, mut from: u64, limit: u64) -> Result<u64> {
        let sig = LOCAL_SIG.to_le_bytes();
        let limit = limit.min(self.len);
        while from < limit {
            // Only signatures starting before `limit` count: read no further
            // (a full window per directory entry made recovery quadratic).
            let want = (limit - from).saturating_add(3).min(WINDOW as u64) as usize;
            let chunk = self.at(from, want)?;
            if chunk.len() < 4 {
                break;
            }
            if let Some(i) = chunk.windows(4).position(|w| w == sig) {
                return Ok((from + i as u64).min(limit));
            }
            from += (chunk.len() - 3) as u64;
        }
        Ok(limit)
    }
}
