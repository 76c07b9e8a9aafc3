//! Aligned copies (unaligned, byte-swapped or deflated members) made through
//! the bounded [`CopyCache`](crate::npz::cache::CopyCache), and the inflate and CRC checks they rely on
//! (the inflater itself is [`crate::zip::inflate`]).

use super::member::{Located, Parsed};
use super::source::Window;
use super::{MAX_DEFLATE_RATIO, NpzReader, to_usize, zip_err};
use crate::error::{Error, Location, Result};
use crate::header::read_prefix;
use crate::npz::cache::{Copy, CopyKey, CopyKind};
use crate::view::{AlignedBuf, Bytes, natural_align, swap_to_native};
use crate::zip::METHOD_STORED;
use crate::zip::inflate::{Dest, inflate_checked};
use std::io::Read;
use std::sync::Arc;

impl NpzReader {
    /// An aligned copy of member `i`'s array data, from the cache or made
    /// (and cached) now: in native byte order if `native`, else as stored.
    /// A native-order member has one copy for both.
    /// The member's bytes are read through `w`.
    pub(super) fn copy_of(
        &self,
        i: usize,
        p: &Parsed,
        native: bool,
        w: &Window<'_>,
    ) -> Result<Copy> {
        let key = copy_key(i, p, native);
        if let Some(c) = self.copies.get(key) {
            return Ok(c);
        }
        let swap = key.kind == CopyKind::Swapped;
        let c = self.make_copy(i, p, swap, w).map_err(|e| self.ctx(i, e))?;
        self.copies.insert(key, c.clone());
        Ok(c)
    }

    /// The cached copy of member `i` a view (`native` or as stored) would
    /// use, if its headers are parsed and the copy is cached.
    pub(super) fn cached_copy(&self, i: usize, native: bool) -> Option<Copy> {
        let p = self.parsed(i)?;
        self.copies.get(copy_key(i, p, native))
    }

    /// Makes the aligned copy of member `i`'s data (`swap`: to native order).
    fn make_copy(&self, i: usize, p: &Parsed, swap: bool, w: &Window<'_>) -> Result<Copy> {
        let start = to_usize(p.cold.data_start, p.cold.data_start)?;
        let len = to_usize(p.cold.data_len, p.cold.data_start)?;
        let dtype = &p.cold.header.dtype;
        if self.entry(i)?.method == METHOD_STORED {
            let bytes = w.slice(
                p.cold.data_start,
                p.cold.data_start.saturating_add(p.cold.data_len),
            )?;
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
        let loc = self.locate_in(i, w)?;
        let mut buf = self.inflate(i, &loc, w)?;
        let end = start
            .checked_add(len)
            .filter(|&e| e <= buf.as_slice().len())
            .ok_or_else(|| zip_err("inflated member shorter than its header says", loc.start))?;
        let short = || zip_err("inflated member shorter than its header says", loc.start);
        if start.is_multiple_of(natural_align(dtype)) {
            if swap {
                let data = buf.as_mut_slice().get_mut(start..end).ok_or_else(short)?;
                swap_to_native(dtype, data);
            }
            return Ok(Copy {
                buf: Arc::new(buf),
                start,
                len,
            });
        }
        let mut data = AlignedBuf::copy_from(buf.as_slice().get(start..end).ok_or_else(short)?)?;
        if swap {
            swap_to_native(dtype, data.as_mut_slice());
        }
        Ok(Copy {
            buf: Arc::new(data),
            start: 0,
            len,
        })
    }

    /// A streaming inflater over the member's stored bytes in `w` (as far
    /// as a prefix window holds them).
    pub(super) fn deflate_src<'w>(
        &self,
        loc: &Located,
        w: &'w Window<'_>,
    ) -> Result<flate2::read::DeflateDecoder<&'w [u8]>> {
        Ok(flate2::read::DeflateDecoder::new(
            w.slice(loc.start, loc.end.min(w.end()))?,
        ))
    }

    /// Inflates just enough of a member to hold its NPY header.
    pub(super) fn inflate_prefix(
        &self,
        loc: &Located,
        uncompressed: u64,
        w: &Window<'_>,
    ) -> Result<Vec<u8>> {
        let mut dec = self.deflate_src(loc, w)?;
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

    /// Refuses a member that declares more output than deflate can make
    /// from its input ([`MAX_DEFLATE_RATIO`]); returns the declared size.
    pub(super) fn ratio_check(&self, i: usize, at: u64) -> Result<usize> {
        let e = self.entry(i)?;
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
    pub(super) fn inflate(&self, i: usize, loc: &Located, w: &Window<'_>) -> Result<AlignedBuf> {
        let e = self.entry(i)?;
        let n = self.ratio_check(i, loc.start)?;
        let mut buf = AlignedBuf::zeroed(n)?;
        let input = w.slice(loc.start, loc.end)?;
        inflate_checked(input, Dest::Into(buf.as_mut_slice()), e.crc32, loc.start)?;
        Ok(buf)
    }

    /// Checks the CRC-32 of a member's uncompressed bytes (streaming), read
    /// from `w`; a remote member that `w` holds only part of is fetched in
    /// chunks.
    pub(super) fn check_crc(&self, i: usize, loc: &Located, w: &Window<'_>) -> Result<()> {
        let e = self.entry(i)?;
        #[cfg(feature = "object-store")]
        if !w.covers(loc.start, loc.end)
            && let super::source::Source::Remote(r) = &*self.src
        {
            return self.check_crc_chunked(r, i, loc);
        }
        let input = w.slice(loc.start, loc.end)?;
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
}

/// The cache key of member `i`'s copy: native order (swapped if stored in
/// the other order) or as stored.
fn copy_key(i: usize, p: &Parsed, native: bool) -> CopyKey {
    CopyKey {
        member: i as u32,
        kind: if native && p.cold.native.is_some() {
            CopyKind::Swapped
        } else {
            CopyKind::AsStored
        },
    }
}

/// The bytes of a cached copy, shared with the cache.
pub(super) fn shared(c: Copy) -> Bytes<'static> {
    Bytes::shared(c.buf, c.start, c.len)
}
