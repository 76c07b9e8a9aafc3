//! The named iterators of [`NpzReader`]: [`Keys`], [`Iter`] and [`Members`].

use super::NpzReader;
use super::index::Entry;
use crate::error::Result;
use crate::npz::key_of;
use crate::view::ArrayView;
use std::iter::{Enumerate, FusedIterator};

/// A member as listed in the central directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberInfo<'a> {
    /// The member name (decoded).
    pub name: &'a str,
    /// The key `np.load` shows (`.npy` stripped).
    pub key: &'a str,
    /// Compression method (0 stored, 8 deflate).
    pub method: u16,
    /// Compressed size.
    pub compressed_size: u64,
    /// Uncompressed size.
    pub uncompressed_size: u64,
    /// CRC-32 recorded in the central directory.
    pub crc32: u32,
    /// Offset of the local header in the file.
    pub local_header_offset: u64,
    /// True when a later member with the same key hides this one.
    pub shadowed: bool,
}

/// The live (not shadowed) members' indices, in archive order, with the
/// number still to come.
#[derive(Debug, Clone)]
struct Live<'a> {
    entries: Enumerate<std::slice::Iter<'a, Entry>>,
    left: usize,
}

impl<'a> Live<'a> {
    fn new(reader: &'a NpzReader) -> Self {
        Live {
            entries: reader.entries.iter().enumerate(),
            left: reader.live,
        }
    }

    fn next(&mut self) -> Option<usize> {
        let (i, _) = self.entries.by_ref().find(|(_, e)| e.live)?;
        self.left = self.left.saturating_sub(1);
        Some(i)
    }

    /// The `n`-th live member from here: a jump when every entry left is
    /// live (no duplicate names, the common case), else a walk.
    fn nth(&mut self, n: usize) -> Option<usize> {
        if self.left == self.entries.len() {
            let next = self.entries.nth(n);
            self.left = self.entries.len();
            return next.map(|(i, _)| i);
        }
        for _ in 0..n {
            self.next()?;
        }
        self.next()
    }
}

/// The keys of an archive in archive order; returned by [`NpzReader::keys`].
#[derive(Debug, Clone)]
pub struct Keys<'a> {
    reader: &'a NpzReader,
    live: Live<'a>,
}

impl<'a> Keys<'a> {
    pub(super) fn new(reader: &'a NpzReader) -> Self {
        Keys {
            reader,
            live: Live::new(reader),
        }
    }
}

impl<'a> Iterator for Keys<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let i = self.live.next()?;
        Some(key_of(self.reader.name(i)))
    }

    fn nth(&mut self, n: usize) -> Option<&'a str> {
        let i = self.live.nth(n)?;
        Some(key_of(self.reader.name(i)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.live.left, Some(self.live.left))
    }
}

impl ExactSizeIterator for Keys<'_> {}
impl FusedIterator for Keys<'_> {}

/// `(key, view)` for every key of an archive in archive order; returned by
/// [`NpzReader::iter`].
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    reader: &'a NpzReader,
    live: Live<'a>,
}

impl<'a> Iter<'a> {
    pub(super) fn new(reader: &'a NpzReader) -> Self {
        Iter {
            reader,
            live: Live::new(reader),
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, Result<ArrayView<'a>>);

    fn next(&mut self) -> Option<Self::Item> {
        let i = self.live.next()?;
        Some((key_of(self.reader.name(i)), self.reader.view_of(i, false)))
    }

    /// Skips the `n` members before without reading them.
    fn nth(&mut self, n: usize) -> Option<Self::Item> {
        let i = self.live.nth(n)?;
        Some((key_of(self.reader.name(i)), self.reader.view_of(i, false)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.live.left, Some(self.live.left))
    }
}

impl ExactSizeIterator for Iter<'_> {}
impl FusedIterator for Iter<'_> {}

/// Every central directory entry of an archive, shadowed ones included;
/// returned by [`NpzReader::members`].
#[derive(Debug, Clone)]
pub struct Members<'a> {
    reader: &'a NpzReader,
    entries: Enumerate<std::slice::Iter<'a, Entry>>,
}

impl<'a> Members<'a> {
    pub(super) fn new(reader: &'a NpzReader) -> Self {
        Members {
            reader,
            entries: reader.entries.iter().enumerate(),
        }
    }

    fn info(&self, i: usize, e: &Entry) -> MemberInfo<'a> {
        let name = self.reader.name(i);
        MemberInfo {
            name,
            key: key_of(name),
            method: e.method,
            compressed_size: e.compressed,
            uncompressed_size: e.uncompressed,
            crc32: e.crc32,
            local_header_offset: e.local_offset,
            shadowed: !e.live,
        }
    }
}

impl<'a> Iterator for Members<'a> {
    type Item = MemberInfo<'a>;

    fn next(&mut self) -> Option<MemberInfo<'a>> {
        let (i, e) = self.entries.next()?;
        Some(self.info(i, e))
    }

    /// A jump: the members before are not looked at.
    fn nth(&mut self, n: usize) -> Option<MemberInfo<'a>> {
        let (i, e) = self.entries.nth(n)?;
        Some(self.info(i, e))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

impl DoubleEndedIterator for Members<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let (i, e) = self.entries.next_back()?;
        Some(self.info(i, e))
    }
}

impl ExactSizeIterator for Members<'_> {}
impl FusedIterator for Members<'_> {}
