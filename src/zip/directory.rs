//! The one central-directory walker, used by the archive reader, the
//! appender and everything else that lists an archive's entries.
//!
//! # The rule
//!
//! The directory is the byte range the end records describe: it ends where
//! the ZIP64 end record (or, without one, the classic end record) begins,
//! and it is `cd_size` bytes long (see [`EndOfCentralDirectory`]). The
//! walker reads entries back to back **by that size**, as Python's
//! `zipfile` does, never by the entry count:
//!
//! 1. Every entry must parse (signature, lengths) and end inside the
//!    directory; the last one must end exactly at the directory's end.
//!    Otherwise: [`Error::Zip`](crate::Error::Zip) (or [`Error::Truncated`](crate::Error::Truncated) for an entry cut by
//!    the end of the buffer) at the offending entry. So a directory size
//!    larger than the entries (bytes left over) or smaller (the start lands
//!    inside an entry, or the last entry runs past the end) is an error.
//! 2. The entry count then only confirms the walk, with `n` the number of
//!    entries walked:
//!    - a count from a ZIP64 end record must equal `n`;
//!    - a count from the classic end record (16 bits) must equal
//!      `n mod 65_536`: writers that store more than 65,535 entries without
//!      ZIP64 records keep the count modulo 65,536 there, and every entry
//!      the directory holds is kept.
//!
//!    Otherwise: [`Error::Zip`](crate::Error::Zip) at the end record, naming both numbers.
//! 3. A ZIP64 record is used only when the classic record points to it
//!    (a field saturated) or agrees with it modulo the field widths; a
//!    ZIP64 record that contradicts a classic record with no saturated
//!    field is ignored, and rule 1 and 2 apply to the classic values
//!    ([`EndOfCentralDirectory::find`]).
//! 4. Names are decoded once, by [`decode_name`](super::decode_name): UTF-8
//!    when flag bit 11 is set, code page 437 otherwise.
//!
//! # Users
//!
//! * the reader (`NpzReader::open`, `from_bytes`) walks the mapped file;
//! * the appender (`NpzWriter::append`) walks the directory it read into
//!   memory ([`Directory::alone`]) and rewrites every entry walked, so an
//!   archive whose 16-bit count wrapped keeps all its entries;
//! * recovery trusts no directory: it rebuilds one from the local headers
//!   and steps over old directory entries, so end-record counts and sizes
//!   never decide what it keeps; its names follow rule 4.
//!
//! The three therefore agree: an archive the walker accepts is read and
//! appended to with the same entries, one it rejects fails `open` and
//! `append` with the same error (the file unchanged), and recovery keeps
//! every member whose local header and data check out.
//!
//! Memory: the walk allocates nothing; callers size their tables by
//! [`Directory::capacity_hint`], which the directory's size bounds.

use super::end::EndOfCentralDirectory;
use super::read::CentralEntryRef;
use super::spec::{CENTRAL_HEADER_LEN, MAX16, zip_err};
use crate::error::Result;

/// Where a central directory lies in a buffer and what count confirms it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Directory {
    /// Offset of the first entry in the buffer walked.
    pub start: u64,
    /// Offset just past the last entry.
    pub end: u64,
    /// The recorded entry count.
    pub count: u64,
    /// Whether `count` comes from a ZIP64 end record (else it is 16-bit).
    pub zip64_count: bool,
    /// Offset reported for a count mismatch (the end record's).
    pub end_record: u64,
}

impl Directory {
    /// The directory described by `end`, in the buffer `end` was found in.
    pub fn of(end: &EndOfCentralDirectory) -> Directory {
        Directory {
            start: end.cd_start(),
            end: end.cd_end(),
            count: end.entries,
            zip64_count: end.zip64_offset.is_some(),
            end_record: end.eocd_offset,
        }
    }

    /// The same directory in a buffer that holds just it (read from a
    /// file into memory): offsets in errors and entries are then relative
    /// to the directory's start.
    pub fn alone(self) -> Directory {
        self.in_window(self.start)
    }

    /// The same directory in a buffer that starts at offset `base` of the
    /// buffer the end records were found in (a window read into memory that
    /// holds at least the directory): offsets in errors and entries are
    /// then relative to `base`.
    pub fn in_window(self, base: u64) -> Directory {
        Directory {
            start: self.start.saturating_sub(base),
            end: self.end.saturating_sub(base),
            end_record: self.end_record.saturating_sub(base),
            ..self
        }
    }

    /// Length of the directory in bytes.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// An upper bound for the number of entries, for reservations: the
    /// count (ZIP64) or at least the 16-bit count, never more than the
    /// directory can hold.
    pub fn capacity_hint(&self) -> u64 {
        self.count.min(self.len() / CENTRAL_HEADER_LEN as u64)
    }

    /// Walks the directory in `buf` by the rule of the `zip::directory` module docs.
    /// The iterator yields each entry, then at most one error (after which
    /// it ends); an `Ok` for every item means the whole rule held.
    pub fn entries<'a>(&self, buf: &'a [u8]) -> CentralEntries<'a> {
        CentralEntries {
            buf,
            dir: *self,
            pos: self.start,
            walked: 0,
            done: false,
        }
    }
}

/// Iterator over a central directory: see [`Directory::entries`].
#[derive(Debug, Clone)]
pub struct CentralEntries<'a> {
    buf: &'a [u8],
    dir: Directory,
    pos: u64,
    walked: u64,
    done: bool,
}

impl CentralEntries<'_> {
    /// Entries yielded so far.
    pub fn walked(&self) -> u64 {
        self.walked
    }

    fn count_check(&self) -> Result<()> {
        let (n, count) = (self.walked, self.dir.count);
        let ok = if self.dir.zip64_count {
            n == count
        } else {
            n % (MAX16 + 1) == count
        };
        if ok {
            return Ok(());
        }
        Err(zip_err(
            format!(
                "end record announces {count} entries, the central directory holds {n}{}",
                if self.dir.zip64_count {
                    " (ZIP64 count)"
                } else {
                    " (16-bit count: compared modulo 65536)"
                }
            ),
            self.dir.end_record,
        ))
    }
}

impl<'a> Iterator for CentralEntries<'a> {
    type Item = Result<CentralEntryRef<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.pos >= self.dir.end {
            self.done = true;
            return self.count_check().err().map(Err);
        }
        let r = CentralEntryRef::parse(self.buf, self.pos).and_then(|e| {
            let next = self.pos.saturating_add(e.len());
            if next > self.dir.end {
                return Err(zip_err(
                    "last central directory entry runs past the directory",
                    self.pos,
                ));
            }
            Ok((e, next))
        });
        match r {
            Ok((e, next)) => {
                self.pos = next;
                self.walked += 1;
                Some(Ok(e))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Walks the central directory described by `end` in `buf` (the buffer the
/// end records were found in): `Directory::of(end).entries(buf)`.
pub fn central_entries<'a>(buf: &'a [u8], end: &EndOfCentralDirectory) -> CentralEntries<'a> {
    Directory::of(end).entries(buf)
}
