//! Finding the last *committed* archive of a file whose tail is still being
//! written.
//!
//! [`NpzWriter::append`](crate::npz::writer::NpzWriter::append) writes new
//! members after the old end records and writes a new central directory and
//! end records only at close. Until then the file is the old archive
//! (complete, byte for byte) followed by the bytes being written, and its
//! tail holds no end record. The same holds, for good, after an appender was
//! killed. [`locate`] finds the end records a reader (or the next appender)
//! should use:
//!
//! 1. The end record of the file's tail, found as
//!    [`EndOfCentralDirectory::find`] finds it. If it ends the file exactly
//!    (its comment reaches the last byte) it is taken as it is, errors
//!    included: a damaged archive is reported, never silently replaced by an
//!    older one.
//! 2. Otherwise (no end record in the tail, or one followed by more bytes
//!    whose directory is not valid, e.g. a signature inside the member being
//!    written) [`find_committed`] searches backwards from the end of the
//!    file for the last end record that describes a valid archive, and that
//!    archive is used. Bytes after it are not part of it (they are the data
//!    being written, or what a killed appender left).
//! 3. If there is none, the outcome of step 1 stands: the same error as
//!    without the search ([`Error::NotAZip`] when there is no end record).
//!
//! # What makes an end record valid
//!
//! A candidate at offset `p` with a comment of `c` bytes must end at or
//! before the end of the file (`p + 22 + c <= len`) and:
//!
//! * parse with [`EndOfCentralDirectory::find_in_window`] (the one set of
//!   rules for counts, ZIP64 locator and record, disk numbers, and prefix);
//! * put the archive where the file's archive starts: the bytes before the
//!   archive ([`EndOfCentralDirectory::prefix`]) must be exactly the bytes
//!   before the first local header or end record signature in the first
//!   [`PREFIX_PROBE`] bytes of the file (0 for every file that starts with
//!   `PK\x03\x04` or `PK\x05\x06`, as numpy's and npzmap's do). A zip stored
//!   *inside* a member (a nested archive) starts later and is never taken; a
//!   file with no signature near its start is not searched at all;
//! * if it has a ZIP64 record: the record must end exactly where the locator
//!   begins (its size field says so), and the locator must point at it;
//! * its central directory must pass the one walker
//!   ([`Directory`](crate::zip::Directory), the rule the reader and the
//!   appender apply: entries back to back filling exactly the recorded size,
//!   which ends where the end records begin, and a count that confirms them,
//!   exact from a ZIP64 record, modulo 65,536 from the 16-bit field); every
//!   entry's local header and data must lie before the directory, and the
//!   first member must start with a local header signature.
//!
//! # Bounds
//!
//! For a file of `n` bytes, [`find_committed`] reads:
//!
//! * every byte once, backwards, in chunks of [`CHUNK`] bytes (each chunk
//!   overlapping the previous one by 41 bytes), at O(1) cost per end record
//!   signature: a signature gets a full check only if its 22 bytes already
//!   put the archive at the right start, or a ZIP64 locator signature
//!   precedes it (whose values could);
//! * the first [`PREFIX_PROBE`] bytes once;
//! * for at most [`MAX_CANDIDATES`] full checks: [`END_WINDOW`] bytes
//!   around the end record, a few bytes of ZIP64 record and locator and of
//!   the first local header, and the central directory (read in one piece
//!   and walked in memory, after its first 4 bytes showed an entry
//!   signature); the directories read in one search are together at most
//!   `n` bytes long, else the search stops.
//!
//! So at most `2 n + PREFIX_PROBE + MAX_CANDIDATES * (END_WINDOW + 200)`
//! bytes, whatever the file holds, and in memory at a time at most one
//! chunk and one candidate's directory (no longer than the file, and the
//! size the reader's index of a valid archive takes anyway; a failed
//! allocation is an [`Error::Io`], never an abort). A file full of end record signatures is searched in linear time
//! and, after [`MAX_CANDIDATES`] full checks, reported as having no
//! committed archive ([`Search::gave_up`]). [`locate`] adds one read of the
//! tail ([`TAIL_WINDOW`] bytes) and, when the tail's end record is followed
//! by other bytes, one check of it with the same bounds.
//!
//! The search reads through [`Source`]: files are read with positioned
//! reads, never through a memory map, so an appender that truncates a member
//! it rolls back cannot fault a reader that is still searching (the map is
//! made afterwards, over the committed archive only).

mod check;
mod search;

pub use search::find_committed;

use crate::error::{Error, Location, Result};
use crate::zip::spec::{EocdBlock, Zip64LocatorBlock, block_at};
use crate::zip::{
    EOCD_LEN, EOCD_SIG, EndOfCentralDirectory, LOCAL_SIG, TAIL_WINDOW, ZIP64_EOCD_LEN,
    ZIP64_LOCATOR_LEN, ZIP64_LOCATOR_SIG,
};
use std::borrow::Cow;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// At most this many end record signatures get a full check per search.
pub const MAX_CANDIDATES: u32 = 64;
/// Bytes at the start of a file searched for the first zip signature, which
/// marks where the archive starts (bytes before it are a prefix).
pub const PREFIX_PROBE: u64 = 1 << 20;
/// Bytes read at a time while searching backwards.
pub const CHUNK: usize = 1 << 20;
/// Bytes read around a candidate end record: the record, the ZIP64 locator
/// and record, and 1 KiB of slack for ZIP64 extensible data (as
/// [`TAIL_WINDOW`]).
pub const END_WINDOW: usize = EOCD_LEN + ZIP64_LOCATOR_LEN + ZIP64_EOCD_LEN + 1024;
/// A ZIP64 record the locator puts before the tail window (large extensible
/// data) is read if it lies at most this far from the end of the file.
const MAX_WIDE_TAIL: u64 = 16 << 20;

/// Positioned reads from storage the zip layer cannot name (an object in
/// object storage, say): what [`Source::At`] searches.
pub trait ReadAt: std::fmt::Debug + Sync {
    /// The length searched.
    fn len(&self) -> u64;

    /// Up to `n` bytes at `off` (fewer only at the end, `len`); errors are
    /// the storage's own, naming what it reads.
    fn read_at(&self, off: u64, n: usize) -> Result<Cow<'_, [u8]>>;
}

/// Bytes to search: memory, a file read with positioned reads, or any
/// other [`ReadAt`].
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// An archive in memory.
    Bytes(&'a [u8]),
    /// A file and the length to treat as its end (bytes past it are
    /// ignored; a file that shrinks reads short, as if it ended there).
    File {
        /// The open file.
        file: &'a File,
        /// Its length when it was opened.
        len: u64,
    },
    /// Anything else that reads at offsets (the reader's object-store
    /// source): searched exactly like a file.
    #[cfg_attr(not(feature = "object-store"), allow(dead_code))]
    At(&'a dyn ReadAt),
}

impl<'a> Source<'a> {
    /// The length searched.
    pub fn len(&self) -> u64 {
        match self {
            Source::Bytes(b) => b.len() as u64,
            Source::File { len, .. } => *len,
            Source::At(r) => r.len(),
        }
    }

    /// Up to `n` bytes at `off`; fewer at the end (or if a file shrank).
    fn read(&self, off: u64, n: usize) -> Result<Cow<'a, [u8]>> {
        let n = usize::try_from((n as u64).min(self.len().saturating_sub(off))).unwrap_or(0);
        match *self {
            Source::Bytes(b) => Ok(Cow::Borrowed(
                usize::try_from(off)
                    .ok()
                    .and_then(|o| b.get(o..o.checked_add(n)?))
                    .unwrap_or_default(),
            )),
            Source::File { file, .. } => {
                let mut buf = Vec::new();
                buf.try_reserve_exact(n).map_err(|_| {
                    let e = io::Error::from(io::ErrorKind::OutOfMemory);
                    Error::io("read", e, Location::offset(off))
                })?;
                buf.resize(n, 0);
                let mut got = 0;
                while let Some(rest) = buf.get_mut(got..).filter(|r| !r.is_empty()) {
                    let at = off + got as u64;
                    match file.read_at(rest, at) {
                        Ok(0) => break,
                        Ok(k) => got += k,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(Error::io("read", e, Location::offset(at))),
                    }
                }
                buf.truncate(got);
                Ok(Cow::Owned(buf))
            }
            Source::At(r) => {
                let mut b = r.read_at(off, n)?;
                if b.len() > n {
                    b = Cow::Owned(b.get(..n).unwrap_or_default().to_vec());
                }
                Ok(b)
            }
        }
    }
}

/// The end records to use and where the archive they close ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    /// The end records (absolute offsets).
    pub end: EndOfCentralDirectory,
    /// First byte after the archive (after the end record's comment). Bytes
    /// from here to the end of the file are not part of the archive.
    pub archive_end: u64,
    /// True if the end record of the file's tail was not usable and the last
    /// committed archive before it was taken instead.
    pub committed: bool,
}

/// The outcome of [`find_committed`], with what it cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    /// The last valid archive: its end records and where it ends.
    pub found: Option<(EndOfCentralDirectory, u64)>,
    /// Where the archive starts ([`EndOfCentralDirectory::prefix`] of any
    /// candidate must equal it); `None` if the file does not start like a
    /// zip archive (then nothing was searched).
    pub start: Option<u64>,
    /// End record signatures seen.
    pub signatures: u64,
    /// Signatures that got a full check (at most [`MAX_CANDIDATES`]).
    pub checked: u32,
    /// Central directory bytes walked.
    pub directory_bytes: u64,
    /// The search stopped at a bound before reaching the start of the file.
    pub gave_up: bool,
}

/// Finds the end records of the archive in `src` (see the [module
/// docs](self)): the tail's end record if it ends the file or describes a
/// valid archive, else the last committed archive, else the tail's outcome.
pub fn locate(src: Source<'_>) -> Result<Located> {
    let len = src.len();
    let (primary, tail) = tail_end(src)?;
    match primary {
        Ok(end) => {
            let archive_end = archive_end(&end);
            if archive_end == len {
                return Ok(Located {
                    end,
                    archive_end,
                    committed: false,
                });
            }
            // Bytes follow the end record: a valid archive with trailing
            // bytes, or a signature inside the data being written.
            let mut s = Search {
                start: archive_start(src)?,
                ..Search::default()
            };
            if let Some(start) = s.start {
                let mut budget = len;
                if check::validate(src, &end, start, &mut budget, &mut s)? {
                    return Ok(Located {
                        end,
                        archive_end,
                        committed: false,
                    });
                }
                if let Some((end, archive_end)) = find_committed(src, len)?.found {
                    return Ok(Located {
                        end,
                        archive_end,
                        committed: true,
                    });
                }
            }
            Ok(Located {
                end,
                archive_end,
                committed: false,
            })
        }
        Err(e) => {
            // An end record that ends the file is the archive's own: if it
            // is damaged, that is reported.
            if exact_end_in(&tail).is_some() {
                return Err(e);
            }
            match find_committed(src, len)?.found {
                Some((end, archive_end)) => Ok(Located {
                    end,
                    archive_end,
                    committed: true,
                }),
                None => Err(e),
            }
        }
    }
}

/// First byte after the end record's comment.
fn archive_end(end: &EndOfCentralDirectory) -> u64 {
    end.eocd_offset
        .saturating_add(EOCD_LEN as u64)
        .saturating_add(u64::from(end.comment_len))
}

/// The end record of the tail, as the reader always found it, and the tail
/// it was searched in. A memory buffer is searched whole
/// ([`EndOfCentralDirectory::find`]); a file through its last
/// [`TAIL_WINDOW`] bytes, widened up to [`MAX_WIDE_TAIL`] bytes when a
/// ZIP64 locator points before the window.
fn tail_end(src: Source<'_>) -> Result<(Result<EndOfCentralDirectory>, Cow<'_, [u8]>)> {
    let len = src.len();
    if let Source::Bytes(b) = src {
        let tail = b
            .split_at_checked(b.len().saturating_sub(TAIL_WINDOW))
            .map_or(b, |(_, t)| t);
        return Ok((EndOfCentralDirectory::find(b), Cow::Borrowed(tail)));
    }
    let start = len.saturating_sub(TAIL_WINDOW as u64);
    let tail = src.read(start, TAIL_WINDOW)?;
    let r = EndOfCentralDirectory::find_in_window(&tail, start);
    if r.is_err()
        && start > 0
        && let Some(p) = exact_end_in(&tail)
        && let Some(loc) = p.checked_sub(ZIP64_LOCATOR_LEN)
        && let Ok(locator) = block_at::<Zip64LocatorBlock>(&tail, loc as u64, start, "locator")
        && locator.signature.get() == ZIP64_LOCATOR_SIG
    {
        let recorded = locator.zip64_offset.get();
        if recorded < start && len - recorded <= MAX_WIDE_TAIL {
            let wide = src.read(recorded, (len - recorded) as usize)?;
            let r = EndOfCentralDirectory::find_in_window(&wide, recorded);
            return Ok((r, tail));
        }
    }
    Ok((r, tail))
}

/// Position in `tail` of an end record whose comment reaches exactly the
/// end of `tail`, as [`EndOfCentralDirectory::find`] prefers it.
fn exact_end_in(tail: &[u8]) -> Option<usize> {
    let len = tail.len();
    let last = len.checked_sub(EOCD_LEN)?;
    let lowest = len.saturating_sub(EOCD_LEN + 0xFFFF);
    (lowest..=last).rev().find(|&p| {
        block_at::<EocdBlock>(tail, p as u64, 0, "end record").is_ok_and(|r| {
            r.signature.get() == EOCD_SIG && p + EOCD_LEN + usize::from(r.comment_len.get()) == len
        })
    })
}

/// Where the archive in `src` starts: the first local header or end record
/// signature in its first [`PREFIX_PROBE`] bytes; `None` if there is none
/// (the file does not start like a zip archive).
pub fn archive_start(src: Source<'_>) -> Result<Option<u64>> {
    let head = src.read(0, PREFIX_PROBE as usize)?;
    let (local, end) = (LOCAL_SIG.to_le_bytes(), EOCD_SIG.to_le_bytes());
    Ok(head
        .windows(4)
        .position(|w| w == local || w == end)
        .map(|p| p as u64))
}

#[cfg(test)]
mod tests;
