//! Parsing records through the [`spec`](super::spec) blocks: local headers,
//! central directory entries, data descriptors and extra fields, borrowed
//! from a byte slice with every length checked against it.

use super::spec::*;
use crate::error::{Error, Location, Result};

/// The bytes of `buf` from `offset` on, or a `Truncated` error.
pub(crate) fn slice_from<'a>(buf: &'a [u8], offset: u64, what: &'static str) -> Result<&'a [u8]> {
    usize::try_from(offset)
        .ok()
        .and_then(|o| buf.get(o..))
        .ok_or_else(|| Error::Truncated {
            what,
            needed: offset,
            available: buf.len() as u64,
            at: Location::offset(offset),
        })
}

/// Iterates over `(id, data)` of an extra field block; malformed trailing
/// bytes end the iteration (as most readers tolerate them).
pub fn extra_fields(extra: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = extra;
    std::iter::from_fn(move || {
        let h: &ExtraHeaderBlock = block_at(rest, 0, 0, "extra field").ok()?;
        let n = size_of::<ExtraHeaderBlock>();
        let len = usize::from(h.len.get());
        let data = rest.get(n..n.checked_add(len)?)?;
        let id = h.id.get();
        rest = rest.get(n + len..)?;
        Some((id, data))
    })
}

/// Values resolved from a ZIP64 extra: each field present only if its
/// 32-bit counterpart was `0xFFFFFFFF`, in the order uncompressed size,
/// compressed size, local header offset, disk number.
fn resolve_zip64(
    extra: &[u8],
    uncompressed: &mut u64,
    compressed: &mut u64,
    offset: Option<&mut u64>,
    at: u64,
) -> Result<()> {
    let need_u = *uncompressed == MAX32;
    let need_c = *compressed == MAX32;
    let need_o = offset.as_ref().is_some_and(|o| **o == MAX32);
    if !(need_u || need_c || need_o) {
        return Ok(());
    }
    let Some((_, data)) = extra_fields(extra).find(|(id, _)| *id == EXTRA_ZIP64) else {
        return Err(zip_err(
            "sizes are 0xFFFFFFFF but there is no ZIP64 extra field",
            at,
        ));
    };
    let mut pos = 0;
    let mut next = || -> Result<u64> {
        let v: &U64Le = block_at(data, pos, at, "ZIP64 extra field")?;
        pos += 8;
        Ok(v.get())
    };
    if need_u {
        *uncompressed = next()?;
    }
    if need_c {
        *compressed = next()?;
    }
    if let Some(o) = offset
        && need_o
    {
        *o = next()?;
    }
    Ok(())
}

/// A parsed local file header, borrowing name and extra from the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalHeaderRef<'a> {
    /// Offset of the header in the buffer (after any prefix adjustment by the caller).
    pub offset: u64,
    /// Version needed to extract.
    pub version_needed: u16,
    /// General purpose flags.
    pub flags: u16,
    /// Compression method.
    pub method: u16,
    /// DOS time.
    pub time: u16,
    /// DOS date.
    pub date: u16,
    /// CRC-32 (0 when a data descriptor follows).
    pub crc32: u32,
    /// Compressed size, resolved through the ZIP64 extra when present.
    pub compressed_size: u64,
    /// Uncompressed size, resolved through the ZIP64 extra when present.
    pub uncompressed_size: u64,
    /// True if the header carried a ZIP64 extra field.
    pub has_zip64: bool,
    /// Raw name bytes.
    pub name: &'a [u8],
    /// Raw extra field block.
    pub extra: &'a [u8],
}

impl<'a> LocalHeaderRef<'a> {
    /// Parses the local header at `offset` in `buf`.
    pub fn parse(buf: &'a [u8], offset: u64) -> Result<LocalHeaderRef<'a>> {
        const WHAT: &str = "local file header";
        let rest = slice_from(buf, offset, WHAT)?;
        let b: &LocalBlock = block_at(rest, 0, offset, WHAT)?;
        if b.signature.get() != LOCAL_SIG {
            return Err(zip_err("bad local file header signature", offset));
        }
        let name_len = usize::from(b.name_len.get());
        let extra_len = usize::from(b.extra_len.get());
        let name = bytes_at(
            rest,
            LOCAL_HEADER_LEN as u64,
            name_len,
            offset,
            "local file name",
        )?;
        let extra = bytes_at(
            rest,
            (LOCAL_HEADER_LEN + name_len) as u64,
            extra_len,
            offset,
            "local extra field",
        )?;
        let mut compressed_size = u64::from(b.compressed_size.get());
        let mut uncompressed_size = u64::from(b.uncompressed_size.get());
        let has_zip64 = extra_fields(extra).any(|(id, _)| id == EXTRA_ZIP64);
        resolve_zip64(
            extra,
            &mut uncompressed_size,
            &mut compressed_size,
            None,
            offset,
        )?;
        Ok(LocalHeaderRef {
            offset,
            version_needed: b.version_needed.get(),
            flags: b.flags.get(),
            method: b.method.get(),
            time: b.time.get(),
            date: b.date.get(),
            crc32: b.crc32.get(),
            compressed_size,
            uncompressed_size,
            has_zip64,
            name,
            extra,
        })
    }

    /// Total header length (fixed part + name + extra).
    pub fn len(&self) -> u64 {
        (LOCAL_HEADER_LEN + self.name.len() + self.extra.len()) as u64
    }

    /// Always false: a header has at least its fixed part.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Offset of the first byte of member data.
    pub fn data_start(&self) -> u64 {
        self.offset.saturating_add(self.len())
    }
}

/// A parsed data descriptor (after member data when flag bit 3 is set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataDescriptor {
    /// CRC-32.
    pub crc32: u32,
    /// Compressed size.
    pub compressed_size: u64,
    /// Uncompressed size.
    pub uncompressed_size: u64,
    /// Length of the descriptor in bytes.
    pub len: u64,
}

impl DataDescriptor {
    /// Parses a data descriptor at `offset`, with or without its optional
    /// signature, with 8-byte sizes if `zip64`.
    pub fn parse(buf: &[u8], offset: u64, zip64: bool) -> Result<DataDescriptor> {
        const WHAT: &str = "data descriptor";
        let rest = slice_from(buf, offset, WHAT)?;
        let sig: &U32Le = block_at(rest, 0, offset, WHAT)?;
        let pos: u64 = if sig.get() == DATA_DESCRIPTOR_SIG {
            4
        } else {
            0
        };
        let (crc32, compressed_size, uncompressed_size, n) = if zip64 {
            let b: &Descriptor64Block = block_at(rest, pos, offset, WHAT)?;
            let n = size_of::<Descriptor64Block>();
            (
                b.crc32.get(),
                b.compressed_size.get(),
                b.uncompressed_size.get(),
                n,
            )
        } else {
            let b: &Descriptor32Block = block_at(rest, pos, offset, WHAT)?;
            let n = size_of::<Descriptor32Block>();
            let (c, u) = (b.compressed_size.get(), b.uncompressed_size.get());
            (b.crc32.get(), u64::from(c), u64::from(u), n)
        };
        Ok(DataDescriptor {
            crc32,
            compressed_size,
            uncompressed_size,
            len: pos + n as u64,
        })
    }

    /// The descriptor at `offset` if it records exactly `crc32`,
    /// `compressed` and `uncompressed`: read with 8-byte sizes first when
    /// `zip64_first` (a ZIP64 extra field or a size that needs one), then
    /// with the other width. Writers disagree on the width when nothing says
    /// ZIP64 (Go's and Python's readers accept either), so recovery and
    /// `verify` both accept either, by this one rule.
    pub fn matching(
        buf: &[u8],
        offset: u64,
        zip64_first: bool,
        crc32: u32,
        compressed: u64,
        uncompressed: u64,
    ) -> Option<DataDescriptor> {
        [zip64_first, !zip64_first].into_iter().find_map(|zip64| {
            DataDescriptor::parse(buf, offset, zip64).ok().filter(|d| {
                d.crc32 == crc32
                    && d.compressed_size == compressed
                    && d.uncompressed_size == uncompressed
            })
        })
    }
}

/// A parsed central directory entry, borrowing from the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CentralEntryRef<'a> {
    /// Offset of this entry in the buffer.
    pub offset: u64,
    /// Version made by.
    pub version_made_by: u16,
    /// Version needed to extract.
    pub version_needed: u16,
    /// General purpose flags.
    pub flags: u16,
    /// Compression method.
    pub method: u16,
    /// DOS time.
    pub time: u16,
    /// DOS date.
    pub date: u16,
    /// CRC-32.
    pub crc32: u32,
    /// Compressed size (ZIP64-resolved).
    pub compressed_size: u64,
    /// Uncompressed size (ZIP64-resolved).
    pub uncompressed_size: u64,
    /// Offset of the local header as recorded (ZIP64-resolved, before any
    /// prefix adjustment).
    pub local_header_offset: u64,
    /// Internal attributes.
    pub internal_attrs: u16,
    /// External attributes.
    pub external_attrs: u32,
    /// Raw name bytes.
    pub name: &'a [u8],
    /// Raw extra block.
    pub extra: &'a [u8],
    /// Raw comment.
    pub comment: &'a [u8],
}

impl<'a> CentralEntryRef<'a> {
    /// Parses the central directory entry at `offset`.
    pub fn parse(buf: &'a [u8], offset: u64) -> Result<CentralEntryRef<'a>> {
        const WHAT: &str = "central directory entry";
        let rest = slice_from(buf, offset, WHAT)?;
        let b: &CentralBlock = block_at(rest, 0, offset, WHAT)?;
        if b.signature.get() != CENTRAL_SIG {
            return Err(zip_err("bad central directory entry signature", offset));
        }
        let name_len = usize::from(b.name_len.get());
        let extra_len = usize::from(b.extra_len.get());
        let comment_len = usize::from(b.comment_len.get());
        let fixed = CENTRAL_HEADER_LEN as u64;
        let name = bytes_at(rest, fixed, name_len, offset, "central directory name")?;
        let extra_at = fixed + name_len as u64;
        let extra = bytes_at(rest, extra_at, extra_len, offset, "central extra field")?;
        let comment_at = extra_at + extra_len as u64;
        let comment = bytes_at(
            rest,
            comment_at,
            comment_len,
            offset,
            "central directory comment",
        )?;
        let mut compressed_size = u64::from(b.compressed_size.get());
        let mut uncompressed_size = u64::from(b.uncompressed_size.get());
        let mut local_header_offset = u64::from(b.local_header_offset.get());
        resolve_zip64(
            extra,
            &mut uncompressed_size,
            &mut compressed_size,
            Some(&mut local_header_offset),
            offset,
        )?;
        Ok(CentralEntryRef {
            offset,
            version_made_by: b.version_made_by.get(),
            version_needed: b.version_needed.get(),
            flags: b.flags.get(),
            method: b.method.get(),
            time: b.time.get(),
            date: b.date.get(),
            crc32: b.crc32.get(),
            compressed_size,
            uncompressed_size,
            local_header_offset,
            internal_attrs: b.internal_attrs.get(),
            external_attrs: b.external_attrs.get(),
            name,
            extra,
            comment,
        })
    }

    /// The name as Python's zipfile decodes it (see [`decode_name`](super::decode_name)).
    pub fn decoded_name(&self) -> std::borrow::Cow<'a, str> {
        super::names::decode_name(self.name, self.flags)
    }

    /// Total length of this entry.
    pub fn len(&self) -> u64 {
        (CENTRAL_HEADER_LEN + self.name.len() + self.extra.len() + self.comment.len()) as u64
    }

    /// Always false.
    pub fn is_empty(&self) -> bool {
        false
    }
}
