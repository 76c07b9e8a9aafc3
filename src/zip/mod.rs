//! The zip record layer shared by the archive writer, reader and recovery.
//! No I/O happens here.
//!
//! * [`spec`]: signatures, constants and one `#[repr(C)]` block type per
//!   fixed-layout record;
//! * [`read`]: local headers, central entries, data descriptors and extra
//!   fields parsed through those blocks;
//! * [`write`](mod@write): the records the writer emits, encoded through the same blocks;
//! * [`end`]: finding the end records (plain and ZIP64);
//! * [`directory`]: the one central-directory walker and its rule for
//!   counts, sizes, ZIP64 and names;
//! * [`names`]: member name decoding (UTF-8 flag or code page 437);
//! * [`committed`]: the last committed archive of a file whose tail is still
//!   being written (an append in progress, or a killed appender), found with
//!   positioned reads.
//!
//! ```
//! use npzmap::unstable::zip::*;
//! let mut buf = Vec::new();
//! let lh = LocalHeader::stored("a.npy", 0x1234_5678, 10, LocalZip64::No, 0);
//! lh.write(&mut buf);
//! let parsed = LocalHeaderRef::parse(&buf, 0).unwrap();
//! assert_eq!(parsed.name, b"a.npy");
//! assert_eq!(parsed.data_start(), buf.len() as u64);
//! ```

pub(crate) mod committed;
pub(crate) mod directory;
pub(crate) mod end;
pub(crate) mod inflate;
pub(crate) mod names;
pub(crate) mod read;
pub(crate) mod spec;
pub(crate) mod write;

pub use directory::{Directory, central_entries};
pub use end::EndOfCentralDirectory;
pub use names::decode_name;
pub use read::{CentralEntryRef, DataDescriptor, LocalHeaderRef};
pub use spec::*;
pub use write::{CentralEntry, LocalHeader, LocalZip64, align_padding, write_end_records};
pub(crate) use write::{CentralFields, write_local, write_local_stored};

#[cfg(test)]
mod tests {
    use super::read::extra_fields;
    use super::*;
    use crate::error::{Error, Result};

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
    fn data_descriptor_matching_tries_both_widths() {
        let (crc, n) = (0xdead_beef_u32, 300_u64);
        let mut d64 = b"PK\x07\x08".to_vec();
        d64.extend_from_slice(&crc.to_le_bytes());
        d64.extend_from_slice(&n.to_le_bytes());
        d64.extend_from_slice(&n.to_le_bytes());
        let mut d32 = crc.to_le_bytes().to_vec(); // unsigned
        d32.extend_from_slice(&(n as u32).to_le_bytes());
        d32.extend_from_slice(&(n as u32).to_le_bytes());
        d32.extend_from_slice(&[0xff; 8]);
        for first in [false, true] {
            let m = DataDescriptor::matching(&d64, 0, first, crc, n, n).map(|d| d.len);
            assert_eq!(m, Some(24));
            let m = DataDescriptor::matching(&d32, 0, first, crc, n, n).map(|d| d.len);
            assert_eq!(m, Some(12));
            assert_eq!(
                DataDescriptor::matching(&d64, 0, first, crc ^ 1, n, n),
                None
            );
            assert_eq!(
                DataDescriptor::matching(&d64, 0, first, crc, n, n + 1),
                None
            );
        }
        // Cut short: the 8-byte width cannot be read, the 4-byte one can.
        assert_eq!(
            DataDescriptor::matching(&d64[..16], 0, true, crc, n, n),
            None
        );
        assert_eq!(
            DataDescriptor::matching(&d32[..12], 0, true, crc, n, n).map(|d| d.len),
            Some(12)
        );
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
