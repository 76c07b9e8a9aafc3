//! Zip records: local file header, central directory entry, end of central
//! directory (plain and ZIP64), ZIP64 locator, data descriptor and extra
//! fields. Parsed from `&[u8]` with every length and offset checked against
//! the slice; written to `Vec<u8>`. No I/O policy lives here.
//!
//! ```
//! use npzmap::zip::records::*;
//! let mut buf = Vec::new();
//! let lh = LocalHeader::stored("a.npy", 0x1234_5678, 10, LocalZip64::No, 0);
//! lh.write(&mut buf);
//! let parsed = LocalHeaderRef::parse(&buf, 0).unwrap();
//! assert_eq!(parsed.name, b"a.npy");
//! assert_eq!(parsed.data_start(), buf.len() as u64);
//! ```

use crate::error::{Error, Location, Result};

/// Local file header signature `PK\x03\x04`.
pub const LOCAL_SIG: u32 = 0x0403_4b50;
/// Central directory entry signature `PK\x01\x02`.
pub const CENTRAL_SIG: u32 = 0x0201_4b50;
/// End of central directory signature `PK\x05\x06`.
pub const EOCD_SIG: u32 = 0x0605_4b50;
/// ZIP64 end of central directory record signature `PK\x06\x06`.
pub const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
/// ZIP64 end of central directory locator signature `PK\x06\x07`.
pub const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
/// Data descriptor signature `PK\x07\x08` (optional in archives).
pub const DATA_DESCRIPTOR_SIG: u32 = 0x0807_4b50;

/// Fixed part of a local file header.
pub const LOCAL_HEADER_LEN: usize = 30;
/// Fixed part of a central directory entry.
pub const CENTRAL_HEADER_LEN: usize = 46;
/// Fixed part of the end of central directory record.
pub const EOCD_LEN: usize = 22;
/// Length of the ZIP64 end of central directory record we write (no extensible data).
pub const ZIP64_EOCD_LEN: usize = 56;
/// Length of the ZIP64 locator.
pub const ZIP64_LOCATOR_LEN: usize = 20;
/// Bytes to read from the end of a file for
/// [`EndOfCentralDirectory::find_in_window`]: the EOCD with the longest
/// comment, the ZIP64 locator and record, and some slack.
pub const TAIL_WINDOW: usize = EOCD_LEN + 0xFFFF + ZIP64_LOCATOR_LEN + ZIP64_EOCD_LEN + 1024;
/// Length of a local ZIP64 extra field holding both sizes.
pub const LOCAL_ZIP64_EXTRA_LEN: usize = 20;

/// ZIP64 extra field header ID.
pub const EXTRA_ZIP64: u16 = 0x0001;
/// Alignment padding extra field header ID (as Android's zipalign).
pub const EXTRA_ALIGN: u16 = 0xd935;

/// General purpose flag: encrypted.
pub const FLAG_ENCRYPTED: u16 = 1 << 0;
/// General purpose flag: sizes and CRC follow the data in a descriptor.
pub const FLAG_DATA_DESCRIPTOR: u16 = 1 << 3;
/// General purpose flag: strong encryption.
pub const FLAG_STRONG_ENCRYPTION: u16 = 1 << 6;
/// General purpose flag: name is UTF-8.
pub const FLAG_UTF8: u16 = 1 << 11;

/// Compression method: stored.
pub const METHOD_STORED: u16 = 0;
/// Compression method: deflate.
pub const METHOD_DEFLATE: u16 = 8;

/// 32-bit "see ZIP64 extra" marker.
pub const MAX32: u64 = 0xFFFF_FFFF;
/// 16-bit "see ZIP64 record" marker.
pub const MAX16: u64 = 0xFFFF;

/// MS-DOS date for 1980-01-01 (the fixed timestamp of deterministic output).
pub const DOS_DATE_1980: u16 = (1 << 5) | 1;

fn zip_err(reason: impl Into<String>, offset: u64) -> Error {
    Error::Zip {
        reason: reason.into(),
        at: Location::offset(offset),
    }
}

/// Reads little-endian integers from a slice with bounds checks.
#[derive(Clone, Copy)]
struct Rd<'a> {
    buf: &'a [u8],
    base: u64,
}

impl<'a> Rd<'a> {
    fn bytes(&self, at: usize, n: usize, what: &'static str) -> Result<&'a [u8]> {
        at.checked_add(n)
            .and_then(|end| self.buf.get(at..end))
            .ok_or_else(|| Error::Truncated {
                what,
                needed: (at as u64).saturating_add(n as u64),
                available: self.buf.len() as u64,
                at: Location::offset(self.base.saturating_add(at as u64)),
            })
    }
    fn u16(&self, at: usize, what: &'static str) -> Result<u16> {
        let b = self.bytes(at, 2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&self, at: usize, what: &'static str) -> Result<u32> {
        let b = self.bytes(at, 4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&self, at: usize, what: &'static str) -> Result<u64> {
        let b = self.bytes(at, 8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

fn slice_from<'a>(buf: &'a [u8], offset: u64, what: &'static str) -> Result<&'a [u8]> {
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
        if rest.len() < 4 {
            return None;
        }
        let id = u16::from_le_bytes([rest[0], rest[1]]);
        let len = usize::from(u16::from_le_bytes([rest[2], rest[3]]));
        let data = rest.get(4..4 + len)?;
        rest = &rest[4 + len..];
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
    let rd = Rd {
        buf: data,
        base: at,
    };
    let mut pos = 0;
    if need_u {
        *uncompressed = rd.u64(pos, "ZIP64 extra field")?;
        pos += 8;
    }
    if need_c {
        *compressed = rd.u64(pos, "ZIP64 extra field")?;
        pos += 8;
    }
    if let Some(o) = offset
        && need_o
    {
        *o = rd.u64(pos, "ZIP64 extra field")?;
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
        let rest = slice_from(buf, offset, "local file header")?;
        let rd = Rd {
            buf: rest,
            base: offset,
        };
        if rd.u32(0, "local file header")? != LOCAL_SIG {
            return Err(zip_err("bad local file header signature", offset));
        }
        let name_len = usize::from(rd.u16(26, "local file header")?);
        let extra_len = usize::from(rd.u16(28, "local file header")?);
        let name = rd.bytes(LOCAL_HEADER_LEN, name_len, "local file name")?;
        let extra = rd.bytes(LOCAL_HEADER_LEN + name_len, extra_len, "local extra field")?;
        let mut compressed_size = u64::from(rd.u32(18, "local file header")?);
        let mut uncompressed_size = u64::from(rd.u32(22, "local file header")?);
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
            version_needed: rd.u16(4, "local file header")?,
            flags: rd.u16(6, "local file header")?,
            method: rd.u16(8, "local file header")?,
            time: rd.u16(10, "local file header")?,
            date: rd.u16(12, "local file header")?,
            crc32: rd.u32(14, "local file header")?,
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
        let rest = slice_from(buf, offset, "data descriptor")?;
        let rd = Rd {
            buf: rest,
            base: offset,
        };
        let mut pos = 0;
        if rd.u32(0, "data descriptor")? == DATA_DESCRIPTOR_SIG {
            pos = 4;
        }
        let crc32 = rd.u32(pos, "data descriptor")?;
        let (compressed_size, uncompressed_size, n) = if zip64 {
            (
                rd.u64(pos + 4, "data descriptor")?,
                rd.u64(pos + 12, "data descriptor")?,
                20,
            )
        } else {
            (
                u64::from(rd.u32(pos + 4, "data descriptor")?),
                u64::from(rd.u32(pos + 8, "data descriptor")?),
                12,
            )
        };
        Ok(DataDescriptor {
            crc32,
            compressed_size,
            uncompressed_size,
            len: (pos + n) as u64,
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
        let rest = slice_from(buf, offset, "central directory entry")?;
        let rd = Rd {
            buf: rest,
            base: offset,
        };
        if rd.u32(0, "central directory entry")? != CENTRAL_SIG {
            return Err(zip_err("bad central directory entry signature", offset));
        }
        let name_len = usize::from(rd.u16(28, "central directory entry")?);
        let extra_len = usize::from(rd.u16(30, "central directory entry")?);
        let comment_len = usize::from(rd.u16(32, "central directory entry")?);
        let name = rd.bytes(CENTRAL_HEADER_LEN, name_len, "central directory name")?;
        let extra = rd.bytes(
            CENTRAL_HEADER_LEN + name_len,
            extra_len,
            "central extra field",
        )?;
        let comment = rd.bytes(
            CENTRAL_HEADER_LEN + name_len + extra_len,
            comment_len,
            "central directory comment",
        )?;
        let mut compressed_size = u64::from(rd.u32(20, "central directory entry")?);
        let mut uncompressed_size = u64::from(rd.u32(24, "central directory entry")?);
        let mut local_header_offset = u64::from(rd.u32(42, "central directory entry")?);
        resolve_zip64(
            extra,
            &mut uncompressed_size,
            &mut compressed_size,
            Some(&mut local_header_offset),
            offset,
        )?;
        Ok(CentralEntryRef {
            offset,
            version_made_by: rd.u16(4, "central directory entry")?,
            version_needed: rd.u16(6, "central directory entry")?,
            flags: rd.u16(8, "central directory entry")?,
            method: rd.u16(10, "central directory entry")?,
            time: rd.u16(12, "central directory entry")?,
            date: rd.u16(14, "central directory entry")?,
            crc32: rd.u32(16, "central directory entry")?,
            compressed_size,
            uncompressed_size,
            local_header_offset,
            internal_attrs: rd.u16(36, "central directory entry")?,
            external_attrs: rd.u32(38, "central directory entry")?,
            name,
            extra,
            comment,
        })
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

/// The end of the central directory, ZIP64-resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndOfCentralDirectory {
    /// Offset of the EOCD record in the buffer.
    pub eocd_offset: u64,
    /// Offset of the ZIP64 EOCD record, if the archive has one.
    pub zip64_offset: Option<u64>,
    /// Number of entries.
    pub entries: u64,
    /// Size of the central directory in bytes.
    pub cd_size: u64,
    /// Offset of the central directory as recorded.
    pub cd_offset: u64,
    /// Archive comment length.
    pub comment_len: u16,
    /// Bytes before the archive proper (prepended data): recorded offsets
    /// must be shifted by this to index the buffer.
    pub prefix: u64,
}

impl EndOfCentralDirectory {
    /// Where the central directory actually starts in the buffer.
    pub fn cd_start(&self) -> u64 {
        self.cd_offset.saturating_add(self.prefix)
    }

    /// Where the central directory ends (start of ZIP64 record or EOCD).
    pub fn cd_end(&self) -> u64 {
        self.zip64_offset.unwrap_or(self.eocd_offset)
    }

    /// Finds and parses the end records of the archive in `buf`: scans back
    /// over a comment of up to 65535 bytes, follows the ZIP64 locator, and
    /// works out how many bytes precede the archive.
    pub fn find(buf: &[u8]) -> Result<EndOfCentralDirectory> {
        Self::find_in_window(buf, 0)
    }

    /// As [`EndOfCentralDirectory::find`], for a `window` holding the last
    /// bytes of a file, starting at absolute offset `base` (a file's tail read
    /// into memory, so the whole archive need not be). All returned offsets
    /// are absolute. The window should hold the last `65_535 + 22` bytes plus
    /// the ZIP64 record and locator ([`TAIL_WINDOW`] bytes suffice unless the
    /// ZIP64 record carries extensible data).
    pub fn find_in_window(buf: &[u8], base: u64) -> Result<EndOfCentralDirectory> {
        let len = buf.len();
        if len < EOCD_LEN {
            return Err(Error::NotAZip {
                at: Location::offset(0),
            });
        }
        let lowest = len.saturating_sub(EOCD_LEN + 0xFFFF);
        let mut pos = len - EOCD_LEN;
        let mut fallback = None;
        let found = loop {
            if buf[pos..pos + 4] == EOCD_SIG.to_le_bytes() {
                let comment_len = usize::from(u16::from_le_bytes([buf[pos + 20], buf[pos + 21]]));
                if pos + EOCD_LEN + comment_len == len {
                    break Some(pos);
                }
                if fallback.is_none() && pos + EOCD_LEN + comment_len <= len {
                    fallback = Some(pos);
                }
            }
            if pos == lowest {
                break fallback;
            }
            pos -= 1;
        };
        let Some(pos) = found else {
            return Err(Error::NotAZip {
                at: Location::offset(0),
            });
        };
        Self::parse_at_window(buf, pos as u64, base)
            .map_err(|e| if base == 0 { e } else { e.shift_offset(base) })
    }

    /// Parses the EOCD record known to be at `pos`.
    pub fn parse_at(buf: &[u8], pos: u64) -> Result<EndOfCentralDirectory> {
        Self::parse_at_window(buf, pos, 0)
    }

    /// Parses the EOCD at `pos` in a window starting at absolute `base`;
    /// error offsets are window-relative, returned offsets absolute.
    fn parse_at_window(buf: &[u8], pos: u64, base: u64) -> Result<EndOfCentralDirectory> {
        let rest = slice_from(buf, pos, "end of central directory")?;
        let rd = Rd {
            buf: rest,
            base: pos,
        };
        if rd.u32(0, "end of central directory")? != EOCD_SIG {
            return Err(zip_err("bad end of central directory signature", pos));
        }
        let disk = rd.u16(4, "end of central directory")?;
        let cd_disk = rd.u16(6, "end of central directory")?;
        let mut entries = u64::from(rd.u16(10, "end of central directory")?);
        let mut cd_size = u64::from(rd.u32(12, "end of central directory")?);
        let mut cd_offset = u64::from(rd.u32(16, "end of central directory")?);
        let comment_len = rd.u16(20, "end of central directory")?;
        let mut zip64_offset = None;
        // A locator is only required when a field is saturated; otherwise
        // the 20 bytes before the EOCD may merely look like one (the end of
        // a member name such as "PK\x06\x07...", say). Then a locator that
        // leads nowhere, or to values that contradict the EOCD, is ignored.
        let saturated = entries == 0xFFFF || cd_size == MAX32 || cd_offset == MAX32;
        let plain = (entries, cd_size, cd_offset);
        // ZIP64 locator directly before the EOCD.
        let zip64 = (|| -> Result<Option<(u64, u64, u64, u64)>> {
            if pos < ZIP64_LOCATOR_LEN as u64 {
                return Ok(None);
            }
            let loc_pos = pos - ZIP64_LOCATOR_LEN as u64;
            let lrd = Rd {
                buf: slice_from(buf, loc_pos, "ZIP64 locator")?,
                base: loc_pos,
            };
            if lrd.u32(0, "ZIP64 locator")? != ZIP64_LOCATOR_SIG {
                return Ok(None);
            }
            let recorded = lrd.u64(8, "ZIP64 locator")?;
            let total_disks = lrd.u32(16, "ZIP64 locator")?;
            if total_disks > 1 {
                return Err(zip_err("multi-disk archives are not supported", loc_pos));
            }
            // The record normally ends right at the locator; prefer that
            // position so prepended bytes do not break it.
            let z_pos = find_zip64_record(buf, loc_pos, recorded.checked_sub(base))?;
            let zrd = Rd {
                buf: slice_from(buf, z_pos, "ZIP64 end of central directory")?,
                base: z_pos,
            };
            Ok(Some((
                zrd.u64(32, "ZIP64 end of central directory")?,
                zrd.u64(40, "ZIP64 end of central directory")?,
                zrd.u64(48, "ZIP64 end of central directory")?,
                z_pos,
            )))
        })();
        match zip64 {
            Ok(Some((e, size, off, z_pos)))
                if saturated || (e % 0x1_0000, size % (MAX32 + 1), off % (MAX32 + 1)) == plain =>
            {
                (entries, cd_size, cd_offset) = (e, size, off);
                zip64_offset = Some(z_pos);
            }
            Err(e) if saturated => return Err(e),
            _ => {}
        }
        if zip64_offset.is_none() && (disk != 0 || cd_disk != 0) {
            return Err(zip_err("multi-disk archives are not supported", pos));
        }
        let zip64_offset = zip64_offset.map(|z| z.saturating_add(base));
        let pos_abs = pos.saturating_add(base);
        let cd_end = zip64_offset.unwrap_or(pos_abs);
        let cd_actual = cd_end
            .checked_sub(cd_size)
            .ok_or_else(|| zip_err("central directory size exceeds the file", pos))?;
        let prefix = cd_actual
            .checked_sub(cd_offset)
            .ok_or_else(|| zip_err("central directory offset points past its end", pos))?;
        Ok(EndOfCentralDirectory {
            eocd_offset: pos_abs,
            zip64_offset,
            entries,
            cd_size,
            cd_offset,
            comment_len,
            prefix,
        })
    }
}

fn find_zip64_record(buf: &[u8], loc_pos: u64, recorded: Option<u64>) -> Result<u64> {
    let is_record = |p: u64| -> bool {
        usize::try_from(p)
            .ok()
            .and_then(|p| buf.get(p..p.checked_add(4)?))
            .is_some_and(|s| s == ZIP64_EOCD_SIG.to_le_bytes())
    };
    // Size field at +4 gives the record length minus 12.
    if let Some(p) = loc_pos.checked_sub(ZIP64_EOCD_LEN as u64)
        && is_record(p)
    {
        return Ok(p);
    }
    if let Some(recorded) = recorded
        && recorded < loc_pos
        && is_record(recorded)
    {
        return Ok(recorded);
    }
    Err(zip_err(
        "ZIP64 locator does not point at a ZIP64 end record",
        loc_pos,
    ))
}

/// Whether a local header carries a ZIP64 extra with both sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalZip64 {
    /// Plain 32-bit sizes.
    No,
    /// 0xFFFFFFFF in the fixed fields, real sizes in a 20-byte ZIP64 extra.
    Yes,
}

/// A local file header to write (stored, no data descriptor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalHeader {
    /// Member name (UTF-8; flag bit 11 is set when it is not ASCII).
    pub name: String,
    /// CRC-32 of the data.
    pub crc32: u32,
    /// Size of the data (stored: compressed = uncompressed).
    pub size: u64,
    /// ZIP64 extra present?
    pub zip64: LocalZip64,
    /// Bytes of alignment padding to add as an extra field (0, or >= 6).
    pub align_pad: u16,
    /// DOS time.
    pub time: u16,
    /// DOS date.
    pub date: u16,
}

impl LocalHeader {
    /// A stored-member header with the fixed 1980-01-01 timestamp.
    pub fn stored(
        name: &str,
        crc32: u32,
        size: u64,
        zip64: LocalZip64,
        align_pad: u16,
    ) -> LocalHeader {
        LocalHeader {
            name: name.to_string(),
            crc32,
            size,
            zip64,
            align_pad,
            time: 0,
            date: DOS_DATE_1980,
        }
    }

    /// General purpose flags for this name.
    pub fn flags(&self) -> u16 {
        if self.name.is_ascii() { 0 } else { FLAG_UTF8 }
    }

    /// Length of the encoded header.
    pub fn len(&self) -> u64 {
        let z = if self.zip64 == LocalZip64::Yes {
            LOCAL_ZIP64_EXTRA_LEN
        } else {
            0
        };
        (LOCAL_HEADER_LEN + self.name.len() + z + usize::from(self.align_pad)) as u64
    }

    /// Always false.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Appends the encoded header to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        write_local_stored(
            out,
            &self.name,
            self.crc32,
            self.size,
            self.zip64,
            self.align_pad,
            (self.date, self.time),
        );
    }
}

/// Encodes a stored-member local header ([`LocalHeader::write`]) without
/// owning the name: the writer's per-member path allocates nothing.
pub(crate) fn write_local_stored(
    out: &mut Vec<u8>,
    name: &str,
    crc32: u32,
    size: u64,
    zip64: LocalZip64,
    align_pad: u16,
    (date, time): (u16, u16),
) {
    let zip64 = zip64 == LocalZip64::Yes;
    let size32 = if zip64 { MAX32 as u32 } else { size as u32 };
    let extra_len = if zip64 {
        LOCAL_ZIP64_EXTRA_LEN as u16
    } else {
        0
    } + align_pad;
    let flags = if name.is_ascii() { 0 } else { FLAG_UTF8 };
    out.reserve(LOCAL_HEADER_LEN + name.len() + usize::from(extra_len));
    out.extend_from_slice(&LOCAL_SIG.to_le_bytes());
    out.extend_from_slice(&(if zip64 { 45u16 } else { 20u16 }).to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&METHOD_STORED.to_le_bytes());
    out.extend_from_slice(&time.to_le_bytes());
    out.extend_from_slice(&date.to_le_bytes());
    out.extend_from_slice(&crc32.to_le_bytes());
    out.extend_from_slice(&size32.to_le_bytes());
    out.extend_from_slice(&size32.to_le_bytes());
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(&extra_len.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    if zip64 {
        out.extend_from_slice(&EXTRA_ZIP64.to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
    }
    write_align_extra(align_pad, out);
}

/// Writes an alignment padding extra field of exactly `pad` bytes (0 or >= 6):
/// ID 0xd935, data = u16 alignment hint + zeros.
fn write_align_extra(pad: u16, out: &mut Vec<u8>) {
    if pad == 0 {
        return;
    }
    out.extend_from_slice(&EXTRA_ALIGN.to_le_bytes());
    out.extend_from_slice(&(pad - 4).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.resize(out.len() + usize::from(pad) - 6, 0);
}

/// Padding (0 or at least 6 bytes) to add to a local header that would
/// otherwise end at `data_start`, so the data starts on a multiple of `align`.
pub fn align_padding(data_start: u64, align: u64) -> u16 {
    if align <= 1 {
        return 0;
    }
    let mut pad = (align - data_start % align) % align;
    while pad != 0 && pad < 6 {
        pad += align;
    }
    u16::try_from(pad).unwrap_or(0)
}

/// A central directory entry to write (stored member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CentralEntry {
    /// Member name, raw bytes (kept exactly when rewriting an existing entry).
    pub name: Vec<u8>,
    /// CRC-32.
    pub crc32: u32,
    /// Compressed size.
    pub compressed_size: u64,
    /// Uncompressed size.
    pub uncompressed_size: u64,
    /// Offset of the local header (relative to the archive start).
    pub local_header_offset: u64,
    /// Compression method (copied from the source when appending).
    pub method: u16,
    /// General purpose flags.
    pub flags: u16,
    /// DOS time.
    pub time: u16,
    /// DOS date.
    pub date: u16,
    /// External attributes (Unix mode in the high 16 bits).
    pub external_attrs: u32,
    /// Version made by.
    pub version_made_by: u16,
    /// Extra fields other than ZIP64 to keep (copied when appending).
    pub other_extra: Vec<u8>,
    /// Entry comment.
    pub comment: Vec<u8>,
}

impl CentralEntry {
    /// An entry for a stored member written by us.
    pub fn stored(name: &str, crc32: u32, size: u64, local_header_offset: u64) -> CentralEntry {
        CentralEntry {
            name: name.as_bytes().to_vec(),
            crc32,
            compressed_size: size,
            uncompressed_size: size,
            local_header_offset,
            method: METHOD_STORED,
            flags: if name.is_ascii() { 0 } else { FLAG_UTF8 },
            time: 0,
            date: DOS_DATE_1980,
            external_attrs: 0o100644 << 16,
            version_made_by: (3 << 8) | 45,
            other_extra: Vec::new(),
            comment: Vec::new(),
        }
    }

    /// An entry to write back for a parsed one, preserving everything.
    pub fn from_parsed(e: &CentralEntryRef<'_>, local_header_offset: u64) -> CentralEntry {
        let other_extra: Vec<u8> = extra_fields(e.extra)
            .filter(|(id, _)| *id != EXTRA_ZIP64)
            .flat_map(|(id, d)| {
                let mut v = Vec::with_capacity(4 + d.len());
                v.extend_from_slice(&id.to_le_bytes());
                v.extend_from_slice(&(d.len() as u16).to_le_bytes());
                v.extend_from_slice(d);
                v
            })
            .collect();
        CentralEntry {
            name: e.name.to_vec(),
            crc32: e.crc32,
            compressed_size: e.compressed_size,
            uncompressed_size: e.uncompressed_size,
            local_header_offset,
            method: e.method,
            flags: e.flags,
            time: e.time,
            date: e.date,
            external_attrs: e.external_attrs,
            version_made_by: e.version_made_by,
            other_extra,
            comment: e.comment.to_vec(),
        }
    }

    fn zip64_fields(&self) -> (bool, bool, bool) {
        (
            self.uncompressed_size >= MAX32,
            self.compressed_size >= MAX32,
            self.local_header_offset >= MAX32,
        )
    }

    /// Length of the encoded entry.
    pub fn len(&self) -> u64 {
        let (u, c, o) = self.zip64_fields();
        let n = usize::from(u) + usize::from(c) + usize::from(o);
        let z = if n > 0 { 4 + 8 * n } else { 0 };
        (CENTRAL_HEADER_LEN + self.name.len() + z + self.other_extra.len() + self.comment.len())
            as u64
    }

    /// Always false.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Appends the encoded entry; ZIP64 extra only for fields that need it.
    pub fn write(&self, out: &mut Vec<u8>) {
        CentralFields {
            name: &self.name,
            crc32: self.crc32,
            compressed_size: self.compressed_size,
            uncompressed_size: self.uncompressed_size,
            local_header_offset: self.local_header_offset,
            method: self.method,
            flags: self.flags,
            time: self.time,
            date: self.date,
            external_attrs: self.external_attrs,
            version_made_by: self.version_made_by,
            other_extra: &self.other_extra,
            comment: &self.comment,
        }
        .write(out);
    }
}

/// A central directory entry with borrowed name, extra and comment: what
/// [`CentralEntry::write`] encodes, usable without allocating.
pub(crate) struct CentralFields<'a> {
    pub name: &'a [u8],
    pub crc32: u32,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    pub local_header_offset: u64,
    pub method: u16,
    pub flags: u16,
    pub time: u16,
    pub date: u16,
    pub external_attrs: u32,
    pub version_made_by: u16,
    pub other_extra: &'a [u8],
    pub comment: &'a [u8],
}

impl<'a> CentralFields<'a> {
    /// A stored member written by us (as [`CentralEntry::stored`]).
    pub fn stored(name: &'a str, crc32: u32, size: u64, local_header_offset: u64) -> Self {
        CentralFields {
            name: name.as_bytes(),
            crc32,
            compressed_size: size,
            uncompressed_size: size,
            local_header_offset,
            method: METHOD_STORED,
            flags: if name.is_ascii() { 0 } else { FLAG_UTF8 },
            time: 0,
            date: DOS_DATE_1980,
            external_attrs: 0o100644 << 16,
            version_made_by: (3 << 8) | 45,
            other_extra: &[],
            comment: &[],
        }
    }

    fn zip64_fields(&self) -> (bool, bool, bool) {
        (
            self.uncompressed_size >= MAX32,
            self.compressed_size >= MAX32,
            self.local_header_offset >= MAX32,
        )
    }

    /// Appends the encoded entry; ZIP64 extra only for fields that need it.
    pub fn write(&self, out: &mut Vec<u8>) {
        let (u, c, o) = self.zip64_fields();
        let n = usize::from(u) + usize::from(c) + usize::from(o);
        let zlen = if n > 0 { 4 + 8 * n } else { 0 };
        let needed: u16 = if n > 0 { 45 } else { 20 };
        let f32 = |big: bool, v: u64| if big { MAX32 as u32 } else { v as u32 };
        out.extend_from_slice(&CENTRAL_SIG.to_le_bytes());
        out.extend_from_slice(&self.version_made_by.to_le_bytes());
        out.extend_from_slice(&needed.to_le_bytes());
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&self.method.to_le_bytes());
        out.extend_from_slice(&self.time.to_le_bytes());
        out.extend_from_slice(&self.date.to_le_bytes());
        out.extend_from_slice(&self.crc32.to_le_bytes());
        out.extend_from_slice(&f32(c, self.compressed_size).to_le_bytes());
        out.extend_from_slice(&f32(u, self.uncompressed_size).to_le_bytes());
        out.extend_from_slice(&(self.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&((zlen + self.other_extra.len()) as u16).to_le_bytes());
        out.extend_from_slice(&(self.comment.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // disk
        out.extend_from_slice(&0u16.to_le_bytes()); // internal attrs
        out.extend_from_slice(&self.external_attrs.to_le_bytes());
        out.extend_from_slice(&f32(o, self.local_header_offset).to_le_bytes());
        out.extend_from_slice(self.name);
        if n > 0 {
            out.extend_from_slice(&EXTRA_ZIP64.to_le_bytes());
            out.extend_from_slice(&((8 * n) as u16).to_le_bytes());
            if u {
                out.extend_from_slice(&self.uncompressed_size.to_le_bytes());
            }
            if c {
                out.extend_from_slice(&self.compressed_size.to_le_bytes());
            }
            if o {
                out.extend_from_slice(&self.local_header_offset.to_le_bytes());
            }
        }
        out.extend_from_slice(self.other_extra);
        out.extend_from_slice(self.comment);
    }
}

/// Appends the end records: a ZIP64 record and locator when the entry count,
/// directory size or offset need them, then the classic EOCD.
/// `cd_offset` and `cd_size` are relative to the archive start; `base` is
/// the number of bytes before the archive (kept from an existing file).
pub fn write_end_records(
    out: &mut Vec<u8>,
    entries: u64,
    cd_offset: u64,
    cd_size: u64,
    comment: &[u8],
) {
    let zip64 = entries >= MAX16 || cd_offset >= MAX32 || cd_size >= MAX32;
    if zip64 {
        let z_off = cd_offset + cd_size;
        out.extend_from_slice(&ZIP64_EOCD_SIG.to_le_bytes());
        out.extend_from_slice(&((ZIP64_EOCD_LEN - 12) as u64).to_le_bytes());
        out.extend_from_slice(&((3u16 << 8) | 45).to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&entries.to_le_bytes());
        out.extend_from_slice(&entries.to_le_bytes());
        out.extend_from_slice(&cd_size.to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&ZIP64_LOCATOR_SIG.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&z_off.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    let e16 = entries.min(MAX16) as u16;
    out.extend_from_slice(&EOCD_SIG.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&e16.to_le_bytes());
    out.extend_from_slice(&e16.to_le_bytes());
    out.extend_from_slice(&(cd_size.min(MAX32) as u32).to_le_bytes());
    out.extend_from_slice(&(cd_offset.min(MAX32) as u32).to_le_bytes());
    let clen = comment.len().min(0xFFFF);
    out.extend_from_slice(&(clen as u16).to_le_bytes());
    out.extend_from_slice(&comment[..clen]);
}

/// Iterates over the central directory described by `end`, yielding each
/// entry; stops with an error at the first malformed one. At most
/// `end.entries` entries are read and never past the directory's end.
pub fn central_entries<'a>(
    buf: &'a [u8],
    end: &EndOfCentralDirectory,
) -> impl Iterator<Item = Result<CentralEntryRef<'a>>> + 'a {
    let mut pos = end.cd_start();
    let cd_end = end.cd_end();
    let mut left = end.entries;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || left == 0 {
            return None;
        }
        left -= 1;
        let r = CentralEntryRef::parse(buf, pos).and_then(|e| {
            let next = pos.saturating_add(e.len());
            if next > cd_end {
                return Err(zip_err(
                    "central directory entry runs past the directory",
                    pos,
                ));
            }
            pos = next;
            Ok(e)
        });
        if r.is_err() {
            failed = true;
        }
        Some(r)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(entries: &[(&str, &[u8])], prefix: &[u8], comment: &[u8]) -> Vec<u8> {
        let mut out = prefix.to_vec();
        let mut cds = Vec::new();
        for (name, data) in entries {
            let off = (out.len() - prefix.len()) as u64;
            let crc = crc32fast::hash(data);
            LocalHeader::stored(name, crc, data.len() as u64, LocalZip64::Yes, 0).write(&mut out);
            out.extend_from_slice(data);
            cds.push(CentralEntry::stored(name, crc, data.len() as u64, off));
        }
        let cd_off = (out.len() - prefix.len()) as u64;
        let mut cd = Vec::new();
        for c in &cds {
            c.write(&mut cd);
        }
        out.extend_from_slice(&cd);
        write_end_records(&mut out, cds.len() as u64, cd_off, cd.len() as u64, comment);
        out
    }

    #[test]
    fn round_trip_with_prefix_and_comment() {
        let a = archive(
            &[("a.npy", b"hello"), ("é.npy", b"world!")],
            b"JUNK",
            b"a comment",
        );
        let end = EndOfCentralDirectory::find(&a).unwrap();
        assert_eq!(end.entries, 2);
        assert_eq!(end.prefix, 4);
        let es: Vec<_> = central_entries(&a, &end).collect::<Result<_>>().unwrap();
        assert_eq!(es[1].name, "é.npy".as_bytes());
        assert_eq!(es[1].flags & FLAG_UTF8, FLAG_UTF8);
        let lh = LocalHeaderRef::parse(&a, es[1].local_header_offset + end.prefix).unwrap();
        assert_eq!(lh.name, es[1].name);
        assert_eq!(lh.uncompressed_size, 6);
        assert!(lh.has_zip64);
        let d = lh.data_start() as usize;
        assert_eq!(&a[d..d + 6], b"world!");
    }

    #[test]
    fn find_in_a_tail_window() {
        let mut a = archive(&[("a.npy", b"hello"), ("b.npy", b"x")], b"PRE", b"c");
        // make the archive ZIP64-ended too
        let whole = EndOfCentralDirectory::find(&a).unwrap();
        for cut in [0usize, 1, 10, 40] {
            let w = EndOfCentralDirectory::find_in_window(&a[cut..], cut as u64).unwrap();
            assert_eq!(w, whole, "cut {cut}");
        }
        let n = a.len();
        let mut z = Vec::new();
        write_end_records(&mut z, 70_000, whole.cd_offset, whole.cd_size, b"");
        a.truncate(whole.eocd_offset as usize);
        a.extend_from_slice(&z);
        let w = EndOfCentralDirectory::find_in_window(&a[60..], 60).unwrap();
        assert_eq!(w.entries, 70_000);
        assert_eq!(w.prefix, 3);
        assert_eq!(w.zip64_offset, Some(whole.eocd_offset));
        assert!(n > 60);
    }

    #[test]
    fn zip64_end_records_for_many_entries() {
        let mut out = Vec::new();
        write_end_records(&mut out, 70_000, 5_000_000_000, 100, b"");
        let end = EndOfCentralDirectory::find(&out);
        // the directory lies before the buffer: a clear error, not a panic
        assert!(end.is_err());
        let mut buf = vec![0u8; 100];
        write_end_records(&mut buf, 70_000, 0, 100, b"");
        let end = EndOfCentralDirectory::find(&buf).unwrap();
        assert_eq!(end.entries, 70_000);
        assert_eq!(end.zip64_offset, Some(100));
    }

    #[test]
    fn central_zip64_only_where_needed() {
        let small = CentralEntry::stored("x", 0, 10, 20);
        let mut b = Vec::new();
        small.write(&mut b);
        assert_eq!(b.len() as u64, small.len());
        let p = CentralEntryRef::parse(&b, 0).unwrap();
        assert!(p.extra.is_empty());
        let big = CentralEntry::stored("x", 0, 10, 5_000_000_000);
        let mut b = Vec::new();
        big.write(&mut b);
        let p = CentralEntryRef::parse(&b, 0).unwrap();
        assert_eq!(p.extra.len(), 12);
        assert_eq!(p.local_header_offset, 5_000_000_000);
        assert_eq!(p.uncompressed_size, 10);
    }

    #[test]
    fn alignment_padding() {
        for start in 0..200u64 {
            for align in [2u64, 4, 8, 64, 4096] {
                let p = align_padding(start, align);
                assert!(p == 0 || p >= 6);
                assert_eq!((start + u64::from(p)) % align, 0);
            }
        }
        let mut out = Vec::new();
        LocalHeader::stored("a", 0, 0, LocalZip64::No, 40).write(&mut out);
        assert_eq!(out.len(), 30 + 1 + 40);
        let lh = LocalHeaderRef::parse(&out, 0).unwrap();
        assert_eq!(extra_fields(lh.extra).count(), 1);
    }

    #[test]
    fn damaged_records_are_errors() {
        let a = archive(&[("a.npy", b"hello")], b"", b"");
        for cut in 0..a.len() {
            let _ = EndOfCentralDirectory::find(&a[..cut]).map(|end| {
                central_entries(&a[..cut], &end).for_each(drop);
            });
        }
        assert!(matches!(
            EndOfCentralDirectory::find(b"not a zip at all, no"),
            Err(Error::NotAZip { .. })
        ));
        assert!(LocalHeaderRef::parse(&a, u64::MAX).is_err());
        assert!(CentralEntryRef::parse(&a, 3).is_err());
    }
}
