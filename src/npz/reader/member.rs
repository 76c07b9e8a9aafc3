//! Member location and header checks: the local header checked against the
//! central directory, the NPY header bounded to the member's bytes, and
//! what the reader's arena caches of them ([`Parsed`]).

use super::index::Entry;
use super::source::{Need, Window, rebase};
use super::{NpzReader, to_usize, zip_err};
use crate::error::{Error, Location, Result};
use crate::header::{Header, read_header};
use crate::view::{ArrayView, At, Bytes, natural_align};
use crate::zip::decode_name;
use crate::zip::{
    FLAG_DATA_DESCRIPTOR, FLAG_ENCRYPTED, FLAG_STRONG_ENCRYPTION, LocalHeaderRef, METHOD_DEFLATE,
    METHOD_STORED,
};
use std::borrow::Cow;
use std::io::Read;

/// What the first access of a member found: headers and where the data is.
/// What a cached `get` reads (the key it compares, where the data is in the
/// map, whether it needs a copy, the name range its view borrows) fits in
/// 56 bytes, so with its arena cell's `OnceLock` state it fills one 64-byte
/// cache line (the arena aligns cells to it); the rest is boxed ([`Cold`]).
#[derive(Debug)]
#[repr(C)]
pub(super) struct Parsed {
    /// Stored members of a local archive: the data's range in the map
    /// (checked against the map's length), so cached views need no
    /// conversion or check; see [`Parsed::in_map`].
    map_range: (usize, usize),
    /// The headers and the data's place, which a cached `get` does not read.
    pub cold: Box<Cold>,
    /// The member's name: its range in the reader's name table.
    pub name: (u32, u32),
    /// The member's index (the reader's hash table names cached headers,
    /// not members).
    pub member: u32,
    /// `map_range` holds the data's range.
    is_in_map: bool,
    /// Stored in a local archive, native and aligned for the dtype: views
    /// need no copy.
    pub zero_copy: bool,
    /// The member's key, when short enough to keep here.
    pub key: InlineKey,
}

// One cache line per cached member (see `Parsed`).
const _: () = assert!(std::mem::size_of::<std::sync::OnceLock<Parsed>>() <= 64);

/// The parts of a member's parsed headers a cached `get` does not read.
#[derive(Debug)]
pub(super) struct Cold {
    /// Offset of the data in the file (of the stored bytes' start when
    /// deflated), for errors raised by views: with the reader's path and
    /// the member's name, their location.
    pub data_at: u64,
    /// The NPY header as stored.
    pub header: Header,
    /// The same header in native byte order, when the stored one is not
    /// (boxed: most members are native).
    pub native: Option<Box<Header>>,
    /// Stored: absolute offset of the array data in the map. Deflated:
    /// offset of the array data in the inflated member.
    pub data_start: u64,
    /// Array data length.
    pub data_len: u64,
}

impl Parsed {
    /// Stored members of a local archive: the data's range in the map. Its
    /// start is the data's offset in the file ([`Cold::data_at`]).
    #[inline]
    pub(super) fn in_map(&self) -> Option<(usize, usize)> {
        self.is_in_map.then_some(self.map_range)
    }
}

/// A key of up to [`InlineKey::MAX`] bytes, kept inline.
#[derive(Debug, Clone, Copy)]
pub(super) struct InlineKey {
    /// Length, or `u8::MAX` if the key is longer than `MAX`.
    len: u8,
    bytes: [u8; InlineKey::MAX],
}

impl InlineKey {
    /// The longest key kept (what fills `Parsed`'s 56 bytes).
    const MAX: usize = 17;

    /// `key` kept inline if it is short (`None`: a broken name range,
    /// kept as a long key, which is compared in the name table).
    pub(super) fn new(key: Option<&[u8]>) -> InlineKey {
        let mut bytes = [0; InlineKey::MAX];
        match key.and_then(|k| Some((k, bytes.get_mut(..k.len())?))) {
            Some((key, b)) => {
                b.copy_from_slice(key);
                InlineKey {
                    len: key.len() as u8,
                    bytes,
                }
            }
            None => InlineKey {
                len: u8::MAX,
                bytes,
            },
        }
    }

    /// The key, if it was short enough to keep.
    #[inline]
    pub(super) fn get(&self) -> Option<&[u8]> {
        self.bytes.get(..usize::from(self.len))
    }
}

/// A member's headers: cached (borrowed from the reader) or freshly parsed.
pub(super) enum Got<'s> {
    Cached(&'s Parsed),
    Fresh(Box<Parsed>),
}

impl<'s> Got<'s> {
    pub(super) fn parsed(&self) -> &Parsed {
        match self {
            Got::Cached(p) => p,
            Got::Fresh(p) => p,
        }
    }

    /// The view of `bytes` (`at`: where they are, for errors).
    pub(super) fn view(self, bytes: Bytes<'s>, native: bool, at: At<'s>) -> ArrayView<'s> {
        match self {
            Got::Cached(p) => {
                let c = &p.cold;
                let h = if native {
                    c.native.as_deref().unwrap_or(&c.header)
                } else {
                    &c.header
                };
                ArrayView::from_checked_parts_at(Cow::Borrowed(h), bytes, at)
            }
            Got::Fresh(p) => {
                let c = *p.cold;
                let h = match (native, c.native) {
                    (true, Some(n)) => *n,
                    _ => c.header,
                };
                ArrayView::from_checked_parts_at(Cow::Owned(h), bytes, at)
            }
        }
    }
}

/// Where a member's (possibly compressed) bytes are, after its local header.
pub(super) struct Located {
    pub start: u64,
    pub end: u64,
    pub local_zip64: bool,
}

impl NpzReader {
    /// Where member `i`'s data is (`p` its headers), for a view's errors:
    /// borrowed parts, no allocation.
    pub(super) fn at(&self, p: &Parsed) -> At<'_> {
        debug_assert!(p.in_map().is_none_or(|(s, _)| s as u64 == p.cold.data_at));
        At::Member {
            path: &self.path,
            names: &self.names,
            name: p.name,
            // The same offset, read from the hot part when it is there.
            offset: p.in_map().map_or(p.cold.data_at, |(start, _)| start as u64),
        }
    }

    /// The member's parsed headers, from the cache or freshly parsed (for a
    /// remote archive from a prefix of the member, if that is enough).
    pub(super) fn member(&self, i: usize) -> Result<Got<'_>> {
        self.member_with(i, || self.parse_headers(i))
    }

    /// The member's parsed headers, from the cache or parsed from `w`.
    pub(super) fn member_in(&self, i: usize, w: &Window<'_>) -> Result<Got<'_>> {
        self.member_with(i, || self.parse_member_in(i, w))
    }

    fn member_with(&self, i: usize, parse: impl FnOnce() -> Result<Parsed>) -> Result<Got<'_>> {
        if let Some(p) = self.parsed(i) {
            return Ok(Got::Cached(p));
        }
        let p = parse().map_err(|e| self.ctx(i, e))?;
        if !self.opts.cache {
            return Ok(Got::Fresh(Box::new(p)));
        }
        // A racing thread may have stored its (identical) result first.
        self.keep_parsed(i, p)
    }

    /// Parses member `i`'s headers from the smallest window that holds
    /// them: a remote prefix first, the whole member if the prefix does not
    /// parse (so errors are those of the whole member).
    pub(super) fn parse_headers(&self, i: usize) -> Result<Parsed> {
        let w = self.window(i, Need::Header)?;
        self.parse_headers_in(i, &w)
    }

    /// [`NpzReader::parse_headers`] from the window `w` (possibly a prefix).
    pub(super) fn parse_headers_in(&self, i: usize, w: &Window<'_>) -> Result<Parsed> {
        let r = self.parse_member_in(i, w);
        if r.is_err() && w.end() < self.entry(i)?.next_offset {
            return self.parse_member_in(i, &self.fallback_window(i)?);
        }
        r
    }

    /// Reads the local header from `w` and checks it against the central
    /// directory; returns the range of the member's stored bytes.
    pub(super) fn locate_in(&self, i: usize, w: &Window<'_>) -> Result<Located> {
        let e = self.entry(i)?;
        let at = e.local_offset;
        check_entry(e)?;
        // Bound the parser to this member's bytes.
        let base = w.base();
        let bounded = w
            .upto(e.next_offset)
            .filter(|_| base <= at)
            .ok_or_else(|| zip_err("member lies past the end of the file", at))?;
        // The parser only sees this member's bytes: a name or extra field
        // that does not fit is a structural error of this member, not a
        // short file.
        let lh = LocalHeaderRef::parse(bounded, at - base).map_err(|x| match x {
            Error::Truncated { what, .. } => zip_err(
                format!("{what} runs into the next member or the central directory"),
                at,
            ),
            x => rebase(x, base),
        })?;
        self.check_local(i, e, &lh)?;
        let start = lh.data_start().saturating_add(base);
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

    /// Checks the local header `lh` of member `i` against its central
    /// directory entry `e`: name, method, encryption, sizes and CRC (unless a
    /// data descriptor holds them).
    fn check_local(&self, i: usize, e: &Entry, lh: &LocalHeaderRef<'_>) -> Result<()> {
        let at = e.local_offset;
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
        Ok(())
    }

    /// First access: local header, then the NPY header bounded to the
    /// member's bytes, then the data length; from the window `w` (for a
    /// remote member possibly a prefix: the bytes it lacks count as missing).
    pub(super) fn parse_member_in(&self, i: usize, w: &Window<'_>) -> Result<Parsed> {
        let e = self.entry(i)?;
        let loc = self.locate_in(i, w)?;
        let limit = self.opts.header_limit;
        let stored = e.method == METHOD_STORED;
        let ph = if stored {
            let bytes = w.slice(loc.start, loc.end.min(w.end()))?;
            read_header(bytes, limit).map_err(|x| x.shift_offset(loc.start))?
        } else {
            let pre = self.inflate_prefix(&loc, e.uncompressed, w)?;
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
            self.check_crc(i, &loc, w)?;
        }
        let header = ph.header;
        let native = (!header.dtype.is_native()).then(|| {
            Box::new(Header::new(
                header.dtype.to_native(),
                header.shape.clone(),
                header.order,
            ))
        });
        let data_start = if stored { data_at } else { ph.data_offset };
        // Only a local archive's bytes stay at one address.
        let local = matches!(w, Window::Local(_));
        let zero_copy = local && stored && native.is_none() && {
            let addr = (self.src.as_ptr() as usize).wrapping_add(to_usize(data_start, data_at)?);
            addr.is_multiple_of(natural_align(&header.dtype))
        };
        let in_map = if local && stored {
            let s = to_usize(data_start, data_at)?;
            let e = to_usize(data_start.saturating_add(need), data_at)?;
            self.src.get(s..e).map(|_| (s, e))
        } else {
            None
        };
        let e = self.entry(i)?;
        Ok(Parsed {
            map_range: in_map.unwrap_or_default(),
            cold: Box::new(Cold {
                data_at,
                header,
                native,
                data_start,
                data_len: need,
            }),
            name: e.name_range(),
            // Indices fit in u32: `read_entries` refuses more members.
            member: i as u32,
            is_in_map: in_map.is_some(),
            zero_copy,
            key: InlineKey::new(self.key_bytes(i)),
        })
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
        let w = self.window(i, Need::Header).map_err(|e| self.ctx(i, e))?;
        let loc = self.locate_in(i, &w).map_err(|e| self.ctx(i, e))?;
        self.is_array_at(i, &loc, &w).map_err(|e| self.ctx(i, e))
    }

    /// [`NpzReader::is_array`] for member `i` (errors without context).
    pub(super) fn is_array_at(&self, i: usize, loc: &Located, w: &Window<'_>) -> Result<bool> {
        let magic = crate::npy::header::MAGIC;
        let head = if self.entry(i)?.method == METHOD_STORED {
            let end = loc.start.saturating_add(magic.len() as u64).min(loc.end);
            w.slice(loc.start, end)?.to_vec()
        } else {
            let mut dec = self.deflate_src(loc, w)?;
            let mut buf = Vec::with_capacity(magic.len());
            (&mut dec)
                .take(magic.len() as u64)
                .read_to_end(&mut buf)
                .map_err(|e| zip_err(format!("invalid deflate data: {e}"), loc.start))?;
            buf
        };
        Ok(head == magic)
    }
}

/// Checks what the central directory entry alone says: not encrypted, a
/// supported method, and a stored member's two sizes equal.
fn check_entry(e: &Entry) -> Result<()> {
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
    Ok(())
}
