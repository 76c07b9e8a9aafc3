//! [`Vouched`]: members the file's own central directory vouches for,
//! for local headers recovery cannot trust alone.
//!
//! A local header's name and extra field carry no CRC. One whose name or
//! extra field holds a local header signature may be a damaged header whose
//! length fields swallow the members behind it, so the scan drops it unless
//! the file's committed archive (the end records and central directory a
//! reader would use, its directory walked whole by the reader's rule) lists
//! a member at the same offset with the same name, CRC and sizes, ending
//! before the next listed member (or the directory) begins. Such a name
//! (`np.savez(f, **{"PK\x03\x04": a})` writes one) is the archive's own.
//!
//! The directory is read only when the scan first meets such a header, and
//! only the entries whose name holds a signature are kept: a header whose
//! name is plain but whose extra field holds one (outside the ZIP64 sizes,
//! which are checked against the data) is never confirmed. No writer known
//! to us puts one there.

use super::src::Src;
use crate::zip::committed::{self, Source};
use crate::zip::{CentralEntry, CentralEntryRef, Directory, LOCAL_SIG};
use std::os::unix::fs::FileExt;

/// What the directory says of one member whose name holds a signature.
struct Listed {
    /// Absolute offset of its local header.
    offset: u64,
    name: Vec<u8>,
    crc32: u32,
    compressed_size: u64,
    uncompressed_size: u64,
    /// Where the next listed member (or the directory) begins.
    bound: u64,
}

/// The members vouched for, read on first use.
#[derive(Default)]
pub(super) struct Vouched {
    /// `None` until the directory was read; sorted by offset.
    listed: Option<Vec<Listed>>,
}

impl Vouched {
    /// Where the next listed member begins, if the directory lists a
    /// member named `name` at `pos` (reads the directory on first use).
    pub(super) fn bound(&mut self, src: &Src<'_>, pos: u64, name: &[u8]) -> Option<u64> {
        let listed = self.listed.get_or_insert_with(|| read_listed(src));
        find(listed, pos)
            .filter(|l| l.name == name)
            .map(|l| l.bound)
    }

    /// Whether the member that checked out at `pos` (its directory entry,
    /// its end) is the one listed there: same name, CRC and sizes, ending
    /// before the next listed member.
    pub(super) fn vouches(&self, pos: u64, got: &CentralEntry, end: u64) -> bool {
        let listed = self.listed.as_deref().unwrap_or_default();
        find(listed, pos).is_some_and(|l| {
            l.name == got.name
                && l.crc32 == got.crc32
                && l.compressed_size == got.compressed_size
                && l.uncompressed_size == got.uncompressed_size
                && end <= l.bound
        })
    }
}

fn find(listed: &[Listed], pos: u64) -> Option<&Listed> {
    let i = listed.binary_search_by_key(&pos, |l| l.offset).ok()?;
    listed.get(i)
}

/// Whether `b` holds a local header signature.
pub(super) fn holds_signature(b: &[u8]) -> bool {
    let sig = LOCAL_SIG.to_le_bytes();
    b.windows(4).any(|w| w == sig)
}

/// The entries of the file's committed archive whose name holds a
/// signature; none if it has no committed archive whose directory walks
/// whole (recovery then trusts no such name).
fn read_listed(src: &Src<'_>) -> Vec<Listed> {
    let (file, len) = src.file();
    let Ok(located) = committed::locate(Source::File { file, len }) else {
        return Vec::new();
    };
    let end = located.end;
    let dir = Directory::of(&end);
    let (Ok(start), Ok(n)) = (usize::try_from(dir.start), usize::try_from(dir.len())) else {
        return Vec::new();
    };
    // The directory lies inside the file (the end records were found
    // there), so this is at most the file's length.
    let mut buf = Vec::new();
    if dir.end > len || buf.try_reserve_exact(n).is_err() {
        return Vec::new();
    }
    buf.resize(n, 0);
    if file.read_exact_at(&mut buf, start as u64).is_err() {
        return Vec::new();
    }
    let entries: Result<Vec<CentralEntryRef<'_>>, _> = dir.alone().entries(&buf).collect();
    let Ok(entries) = entries else {
        return Vec::new();
    };
    let abs = |e: &CentralEntryRef<'_>| e.local_header_offset.saturating_add(end.prefix);
    let mut listed: Vec<Listed> = entries
        .iter()
        .filter(|e| holds_signature(e.name))
        .map(|e| Listed {
            offset: abs(e),
            name: e.name.to_vec(),
            crc32: e.crc32,
            compressed_size: e.compressed_size,
            uncompressed_size: e.uncompressed_size,
            bound: dir.start,
        })
        .collect();
    listed.sort_by_key(|l| l.offset);
    // Each listed member's bound: the nearest member offset after it
    // (O(n log k) for k listed members).
    for e in &entries {
        let at = abs(e);
        let i = listed.partition_point(|l| l.offset < at);
        if let Some(l) = i.checked_sub(1).and_then(|i| listed.get_mut(i)) {
            l.bound = l.bound.min(at);
        }
    }
    listed
}
