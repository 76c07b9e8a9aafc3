//! The zip format's fixed facts: signatures, lengths, flags, methods, the
//! constants of records we write, and one `#[repr(C)]` [`Pod`] block per
//! fixed-layout record. Fields are little-endian byte arrays with alignment
//! 1 ([`U16Le`], [`U32Le`], [`U64Le`]), so a block can be viewed in place on
//! any subslice of its exact length ([`block_at`]) and encoded with
//! [`bytemuck::bytes_of`]. Field names follow APPNOTE.TXT.

use crate::error::{Error, Location, Result};
use bytemuck::{Pod, Zeroable};

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
pub const LOCAL_HEADER_LEN: usize = size_of::<LocalBlock>();
/// Fixed part of a central directory entry.
pub const CENTRAL_HEADER_LEN: usize = size_of::<CentralBlock>();
/// Fixed part of the end of central directory record.
pub const EOCD_LEN: usize = size_of::<EocdBlock>();
/// Length of the ZIP64 end of central directory record we write (no extensible data).
pub const ZIP64_EOCD_LEN: usize = size_of::<Zip64EocdBlock>();
/// Length of the ZIP64 locator.
pub const ZIP64_LOCATOR_LEN: usize = size_of::<Zip64LocatorBlock>();
/// Bytes to read from the end of a file for
/// [`EndOfCentralDirectory::find_in_window`](super::EndOfCentralDirectory::find_in_window):
/// the EOCD with the longest comment, the ZIP64 locator and record, and some slack.
pub const TAIL_WINDOW: usize = EOCD_LEN + 0xFFFF + ZIP64_LOCATOR_LEN + ZIP64_EOCD_LEN + 1024;
/// Length of a local ZIP64 extra field holding both sizes.
pub const LOCAL_ZIP64_EXTRA_LEN: usize = size_of::<ExtraHeaderBlock>() + 16;

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
/// "Version needed to extract" without ZIP64 (2.0).
pub const VERSION_NEEDED_PLAIN: u16 = 20;
/// "Version needed to extract" with ZIP64 (4.5).
pub const VERSION_NEEDED_ZIP64: u16 = 45;
/// "Version made by" of what we write: Unix (3), spec 4.5.
pub const VERSION_MADE_BY: u16 = (3 << 8) | 45;
/// External attributes of what we write: a regular file, mode 0644.
pub const EXTERNAL_ATTRS_FILE: u32 = 0o100644 << 16;

/// A little-endian `u16` stored as bytes (alignment 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(transparent)]
pub struct U16Le(pub [u8; 2]);
/// A little-endian `u32` stored as bytes (alignment 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(transparent)]
pub struct U32Le(pub [u8; 4]);
/// A little-endian `u64` stored as bytes (alignment 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(transparent)]
pub struct U64Le(pub [u8; 8]);

macro_rules! le {
    ($t:ident, $n:ty) => {
        impl $t {
            /// The value.
            pub const fn get(self) -> $n {
                <$n>::from_le_bytes(self.0)
            }
        }
        impl From<$n> for $t {
            fn from(v: $n) -> $t {
                $t(v.to_le_bytes())
            }
        }
    };
}
le!(U16Le, u16);
le!(U32Le, u32);
le!(U64Le, u64);

/// Local file header, fixed part (name and extra follow).
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
#[repr(C)]
#[allow(missing_docs)] // fields: the APPNOTE.TXT names, in file order
pub struct LocalBlock {
    pub signature: U32Le,
    pub version_needed: U16Le,
    pub flags: U16Le,
    pub method: U16Le,
    pub time: U16Le,
    pub date: U16Le,
    pub crc32: U32Le,
    pub compressed_size: U32Le,
    pub uncompressed_size: U32Le,
    pub name_len: U16Le,
    pub extra_len: U16Le,
}

/// Central directory entry, fixed part (name, extra and comment follow).
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
#[repr(C)]
#[allow(missing_docs)] // fields: the APPNOTE.TXT names, in file order
pub struct CentralBlock {
    pub signature: U32Le,
    pub version_made_by: U16Le,
    pub version_needed: U16Le,
    pub flags: U16Le,
    pub method: U16Le,
    pub time: U16Le,
    pub date: U16Le,
    pub crc32: U32Le,
    pub compressed_size: U32Le,
    pub uncompressed_size: U32Le,
    pub name_len: U16Le,
    pub extra_len: U16Le,
    pub comment_len: U16Le,
    pub disk_start: U16Le,
    pub internal_attrs: U16Le,
    pub external_attrs: U32Le,
    pub local_header_offset: U32Le,
}

/// End of central directory record, fixed part (the comment follows).
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
#[repr(C)]
#[allow(missing_docs)] // fields: the APPNOTE.TXT names, in file order
pub struct EocdBlock {
    pub signature: U32Le,
    pub disk: U16Le,
    pub cd_disk: U16Le,
    pub entries_on_disk: U16Le,
    pub entries: U16Le,
    pub cd_size: U32Le,
    pub cd_offset: U32Le,
    pub comment_len: U16Le,
}

/// ZIP64 end of central directory record, fixed part. `record_size`
/// counts the bytes after itself (44 without extensible data).
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
#[repr(C)]
#[allow(missing_docs)] // fields: the APPNOTE.TXT names, in file order
pub struct Zip64EocdBlock {
    pub signature: U32Le,
    pub record_size: U64Le,
    pub version_made_by: U16Le,
    pub version_needed: U16Le,
    pub disk: U32Le,
    pub cd_disk: U32Le,
    pub entries_on_disk: U64Le,
    pub entries: U64Le,
    pub cd_size: U64Le,
    pub cd_offset: U64Le,
}

/// ZIP64 end of central directory locator.
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
#[repr(C)]
#[allow(missing_docs)] // fields: the APPNOTE.TXT names, in file order
pub struct Zip64LocatorBlock {
    pub signature: U32Le,
    pub zip64_disk: U32Le,
    pub zip64_offset: U64Le,
    pub total_disks: U32Le,
}

/// Data descriptor with 32-bit sizes (after the optional signature).
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
#[repr(C)]
#[allow(missing_docs)] // fields: the APPNOTE.TXT names, in file order
pub struct Descriptor32Block {
    pub crc32: U32Le,
    pub compressed_size: U32Le,
    pub uncompressed_size: U32Le,
}

/// Data descriptor with 64-bit sizes (after the optional signature).
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
#[repr(C)]
#[allow(missing_docs)] // fields: the APPNOTE.TXT names, in file order
pub struct Descriptor64Block {
    pub crc32: U32Le,
    pub compressed_size: U64Le,
    pub uncompressed_size: U64Le,
}

/// Header of one extra field (its data follows).
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
#[repr(C)]
#[allow(missing_docs)] // fields: the APPNOTE.TXT names, in file order
pub struct ExtraHeaderBlock {
    pub id: U16Le,
    pub len: U16Le,
}

/// Views the block `T` at `at` in `buf`, checked against the slice's end.
/// `at` is reported relative to `base` in the error.
pub(crate) fn block_at<'a, T: Pod>(
    buf: &'a [u8],
    at: u64,
    base: u64,
    what: &'static str,
) -> Result<&'a T> {
    let n = size_of::<T>();
    usize::try_from(at)
        .ok()
        .and_then(|s| buf.get(s..s.checked_add(n)?))
        .and_then(|b| bytemuck::try_from_bytes::<T>(b).ok())
        .ok_or_else(|| Error::Truncated {
            what,
            needed: at.saturating_add(n as u64),
            available: buf.len() as u64,
            at: Location::offset(base.saturating_add(at)),
        })
}

/// `n` bytes at `at` in `buf`, checked; `base` as in [`block_at`].
pub(crate) fn bytes_at<'a>(
    buf: &'a [u8],
    at: u64,
    n: usize,
    base: u64,
    what: &'static str,
) -> Result<&'a [u8]> {
    usize::try_from(at)
        .ok()
        .and_then(|s| buf.get(s..s.checked_add(n)?))
        .ok_or_else(|| Error::Truncated {
            what,
            needed: at.saturating_add(n as u64),
            available: buf.len() as u64,
            at: Location::offset(base.saturating_add(at)),
        })
}

/// A format error at `offset`.
pub(crate) fn zip_err(reason: impl Into<String>, offset: u64) -> Error {
    Error::Zip {
        reason: reason.into(),
        at: Location::offset(offset),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_sizes_match_the_spec() {
        assert_eq!(LOCAL_HEADER_LEN, 30);
        assert_eq!(CENTRAL_HEADER_LEN, 46);
        assert_eq!(EOCD_LEN, 22);
        assert_eq!(ZIP64_EOCD_LEN, 56);
        assert_eq!(ZIP64_LOCATOR_LEN, 20);
        assert_eq!(size_of::<Descriptor32Block>(), 12);
        assert_eq!(size_of::<Descriptor64Block>(), 20);
        assert_eq!(LOCAL_ZIP64_EXTRA_LEN, 20);
        assert_eq!(align_of::<CentralBlock>(), 1);
    }

    #[test]
    fn blocks_at_any_offset_and_truncation() {
        let buf = [0x50u8, 0x4b, 5, 6, 1, 0];
        let b: &ExtraHeaderBlock = block_at(&buf, 1, 0, "x").unwrap();
        assert_eq!(b.id.get(), 0x054b);
        assert!(matches!(
            block_at::<EocdBlock>(&buf, 0, 7, "end"),
            Err(Error::Truncated { needed: 22, .. })
        ));
        assert!(block_at::<ExtraHeaderBlock>(&buf, u64::MAX, 0, "x").is_err());
    }
}
