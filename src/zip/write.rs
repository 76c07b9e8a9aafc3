//! Encoding the records the writer needs through the [`spec`](super::spec)
//! blocks: stored local headers (with ZIP64 and alignment extras), central
//! directory entries (new or copied from a parsed one) and end records.

use super::read::{CentralEntryRef, extra_fields};
use super::spec::*;

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
        name_flags(&self.name)
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
    write_local(
        out,
        name,
        (METHOD_STORED, crc32, size, size),
        zip64,
        align_pad,
        (date, time),
    );
}

/// Encodes a local header for a member of any method whose CRC and sizes
/// are known up front (no data descriptor): `(method, crc32,
/// compressed_size, uncompressed_size)`. With [`LocalZip64::Yes`] both
/// sizes go to a ZIP64 extra.
pub(crate) fn write_local(
    out: &mut Vec<u8>,
    name: &str,
    (method, crc32, csize, size): (u16, u32, u64, u64),
    zip64: LocalZip64,
    align_pad: u16,
    (date, time): (u16, u16),
) {
    let zip64 = zip64 == LocalZip64::Yes;
    let size32 = if zip64 { MAX32 as u32 } else { size as u32 };
    let csize32 = if zip64 { MAX32 as u32 } else { csize as u32 };
    let extra_len = if zip64 {
        LOCAL_ZIP64_EXTRA_LEN as u16
    } else {
        0
    } + align_pad;
    out.reserve(LOCAL_HEADER_LEN + name.len() + usize::from(extra_len));
    let block = LocalBlock {
        signature: LOCAL_SIG.into(),
        version_needed: version_needed(zip64).into(),
        flags: name_flags(name).into(),
        method: method.into(),
        time: time.into(),
        date: date.into(),
        crc32: crc32.into(),
        compressed_size: csize32.into(),
        uncompressed_size: size32.into(),
        name_len: (name.len() as u16).into(),
        extra_len: extra_len.into(),
    };
    out.extend_from_slice(bytemuck::bytes_of(&block));
    out.extend_from_slice(name.as_bytes());
    if zip64 {
        write_extra_header(out, EXTRA_ZIP64, 16);
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&csize.to_le_bytes());
    }
    write_align_extra(align_pad, out);
}

/// General purpose flags for a name we write: bit 11 when it is not ASCII.
pub(crate) fn name_flags(name: &str) -> u16 {
    if name.is_ascii() { 0 } else { FLAG_UTF8 }
}

/// "Version needed to extract" of a record we write.
fn version_needed(zip64: bool) -> u16 {
    if zip64 {
        VERSION_NEEDED_ZIP64
    } else {
        VERSION_NEEDED_PLAIN
    }
}

fn write_extra_header(out: &mut Vec<u8>, id: u16, len: u16) {
    let h = ExtraHeaderBlock {
        id: id.into(),
        len: len.into(),
    };
    out.extend_from_slice(bytemuck::bytes_of(&h));
}

/// Writes an alignment padding extra field of exactly `pad` bytes (0 or >= 6):
/// ID 0xd935, data = u16 alignment hint + zeros.
fn write_align_extra(pad: u16, out: &mut Vec<u8>) {
    if pad == 0 {
        return;
    }
    write_extra_header(out, EXTRA_ALIGN, pad - 4);
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
            flags: name_flags(name),
            time: 0,
            date: DOS_DATE_1980,
            external_attrs: EXTERNAL_ATTRS_FILE,
            version_made_by: VERSION_MADE_BY,
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
                write_extra_header(&mut v, id, d.len() as u16);
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
            flags: name_flags(name),
            time: 0,
            date: DOS_DATE_1980,
            external_attrs: EXTERNAL_ATTRS_FILE,
            version_made_by: VERSION_MADE_BY,
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
        let f32 = |big: bool, v: u64| if big { MAX32 as u32 } else { v as u32 };
        let block = CentralBlock {
            signature: CENTRAL_SIG.into(),
            version_made_by: self.version_made_by.into(),
            version_needed: version_needed(n > 0).into(),
            flags: self.flags.into(),
            method: self.method.into(),
            time: self.time.into(),
            date: self.date.into(),
            crc32: self.crc32.into(),
            compressed_size: f32(c, self.compressed_size).into(),
            uncompressed_size: f32(u, self.uncompressed_size).into(),
            name_len: (self.name.len() as u16).into(),
            extra_len: ((zlen + self.other_extra.len()) as u16).into(),
            comment_len: (self.comment.len() as u16).into(),
            disk_start: 0.into(),
            internal_attrs: 0.into(),
            external_attrs: self.external_attrs.into(),
            local_header_offset: f32(o, self.local_header_offset).into(),
        };
        out.extend_from_slice(bytemuck::bytes_of(&block));
        out.extend_from_slice(self.name);
        if n > 0 {
            write_extra_header(out, EXTRA_ZIP64, (8 * n) as u16);
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
/// `cd_offset` and `cd_size` are relative to the archive start.
pub fn write_end_records(
    out: &mut Vec<u8>,
    entries: u64,
    cd_offset: u64,
    cd_size: u64,
    comment: &[u8],
) {
    let zip64 = entries >= MAX16 || cd_offset >= MAX32 || cd_size >= MAX32;
    if zip64 {
        let record = Zip64EocdBlock {
            signature: ZIP64_EOCD_SIG.into(),
            record_size: ((ZIP64_EOCD_LEN - 12) as u64).into(),
            version_made_by: VERSION_MADE_BY.into(),
            version_needed: VERSION_NEEDED_ZIP64.into(),
            disk: 0.into(),
            cd_disk: 0.into(),
            entries_on_disk: entries.into(),
            entries: entries.into(),
            cd_size: cd_size.into(),
            cd_offset: cd_offset.into(),
        };
        let locator = Zip64LocatorBlock {
            signature: ZIP64_LOCATOR_SIG.into(),
            zip64_disk: 0.into(),
            zip64_offset: (cd_offset + cd_size).into(),
            total_disks: 1.into(),
        };
        out.extend_from_slice(bytemuck::bytes_of(&record));
        out.extend_from_slice(bytemuck::bytes_of(&locator));
    }
    let e16 = entries.min(MAX16) as u16;
    let clen = comment.len().min(0xFFFF);
    let eocd = EocdBlock {
        signature: EOCD_SIG.into(),
        disk: 0.into(),
        cd_disk: 0.into(),
        entries_on_disk: e16.into(),
        entries: e16.into(),
        cd_size: (cd_size.min(MAX32) as u32).into(),
        cd_offset: (cd_offset.min(MAX32) as u32).into(),
        comment_len: (clen as u16).into(),
    };
    out.extend_from_slice(bytemuck::bytes_of(&eocd));
    out.extend_from_slice(comment.get(..clen).unwrap_or_default());
}

#[cfg(test)]
mod tests;
