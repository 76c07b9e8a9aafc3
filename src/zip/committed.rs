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
//! * its central directory must parse entry by entry and end exactly where
//!   the end records begin, hold as many entries as the end record says
//!   (modulo 65,536, the rule the reader applies to old writers' wrapped
//!   counts), every entry's local header and data must lie before the
//!   directory, and the first member must start with a local header
//!   signature.
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
//!   the first local header, and the central directory, each directory
//!   entry once (one entry, at most 196,650 bytes, beyond the directory's
//!   end); the directories walked in one search are together at most `n`
//!   bytes long, else the search stops.
//!
//! So at most `2 n + PREFIX_PROBE + MAX_CANDIDATES * (END_WINDOW + 200 KiB)`
//! bytes, whatever the file holds, and at most one chunk in memory at a
//! time. A file full of end record signatures is searched in linear time
//! and, after [`MAX_CANDIDATES`] full checks, reported as having no
//! committed archive ([`Search::gave_up`]). [`locate`] adds one read of the
//! tail ([`TAIL_WINDOW`] bytes) and, when the tail's end record is followed
//! by other bytes, one check of it with the same bounds.
//!
//! The search reads through [`Source`]: files are read with positioned
//! reads, never through a memory map, so an appender that truncates a member
//! it rolls back cannot fault a reader that is still searching (the map is
//! made afterwards, over the committed archive only).

use crate::error::{Error, Location, Result};
use crate::zip::{
    CENTRAL_HEADER_LEN, CentralEntryRef, EOCD_LEN, EOCD_SIG, EndOfCentralDirectory,
    LOCAL_HEADER_LEN, LOCAL_SIG, TAIL_WINDOW, ZIP64_EOCD_LEN, ZIP64_EOCD_SIG, ZIP64_LOCATOR_LEN,
    ZIP64_LOCATOR_SIG,
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

/// Bytes to search: memory, or a file read with positioned reads.
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
}

impl<'a> Source<'a> {
    /// The length searched.
    pub fn len(&self) -> u64 {
        match self {
            Source::Bytes(b) => b.len() as u64,
            Source::File { len, .. } => *len,
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
                let mut buf = vec![0u8; n];
                let mut got = 0;
                while got < n {
                    let at = off + got as u64;
                    match file.read_at(&mut buf[got..], at) {
                        Ok(0) => break,
                        Ok(k) => got += k,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(Error::io("read", e, Location::offset(at))),
                    }
                }
                buf.truncate(got);
                Ok(Cow::Owned(buf))
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
                if validate(src, &end, start, &mut budget, &mut s, CHUNK)? {
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
        let tail = &b[b.len().saturating_sub(TAIL_WINDOW)..];
        return Ok((EndOfCentralDirectory::find(b), Cow::Borrowed(tail)));
    }
    let start = len.saturating_sub(TAIL_WINDOW as u64);
    let tail = src.read(start, TAIL_WINDOW)?;
    let r = EndOfCentralDirectory::find_in_window(&tail, start);
    if r.is_err()
        && start > 0
        && let Some(p) = exact_end_in(&tail)
        && let Some(loc) = p.checked_sub(ZIP64_LOCATOR_LEN)
        && tail[loc..loc + 4] == ZIP64_LOCATOR_SIG.to_le_bytes()
    {
        let recorded = u64::from_le_bytes(tail[loc + 8..loc + 16].try_into().unwrap_or([0; 8]));
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
        tail[p..p + 4] == EOCD_SIG.to_le_bytes()
            && p + EOCD_LEN + usize::from(u16::from_le_bytes([tail[p + 20], tail[p + 21]])) == len
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

/// Searches `src` backwards from `below` for the last end record that
/// describes a valid archive ending at or before `below` (see the [module
/// docs](self) for the rules and bounds).
pub fn find_committed(src: Source<'_>, below: u64) -> Result<Search> {
    find_committed_chunked(src, below, CHUNK)
}

fn find_committed_chunked(src: Source<'_>, below: u64, chunk: usize) -> Result<Search> {
    let chunk = chunk.max(2 * EOCD_LEN);
    let below = below.min(src.len());
    let mut s = Search {
        start: archive_start(src)?,
        ..Search::default()
    };
    let Some(start) = s.start else {
        return Ok(s);
    };
    let mut budget = below;
    let sig = EOCD_SIG.to_le_bytes();
    let eocd = EOCD_LEN as u64;
    // Round: candidates p with a <= p and p + 22 <= top, from bytes
    // [lo, top) where lo = a - 20 (if there is room) shows a ZIP64 locator.
    let mut top = below;
    while top >= eocd {
        let a = top.saturating_sub(chunk as u64);
        let lo = a.saturating_sub(ZIP64_LOCATOR_LEN as u64);
        let data = src.read(lo, (top - lo) as usize)?;
        let first = (a - lo) as usize;
        let mut i = data.len().checked_sub(EOCD_LEN).filter(|&k| k >= first);
        while let Some(k) = i {
            // Next 'P' at or below k (and not below a) that starts a signature.
            let Some(q) = data[first..=k]
                .iter()
                .rposition(|&b| b == b'P')
                .map(|q| q + first)
            else {
                break;
            };
            i = q.checked_sub(1).filter(|&k| k >= first);
            if data[q..q + 4] != sig {
                continue;
            }
            s.signatures += 1;
            let p = lo + q as u64;
            let rec = &data[q..q + EOCD_LEN];
            let clen = u16::from_le_bytes([rec[20], rec[21]]);
            let end_at = p + eocd + u64::from(clen);
            if end_at > below {
                continue;
            }
            // O(1) pre-check from the 22 bytes: without a ZIP64 locator
            // before them they fix where the archive starts.
            let locator = q
                .checked_sub(ZIP64_LOCATOR_LEN)
                .is_some_and(|l| data[l..l + 4] == ZIP64_LOCATOR_SIG.to_le_bytes());
            if !locator {
                let disks =
                    u16::from_le_bytes([rec[4], rec[5]]) | u16::from_le_bytes([rec[6], rec[7]]);
                let size = u64::from(u32::from_le_bytes([rec[12], rec[13], rec[14], rec[15]]));
                let off = u64::from(u32::from_le_bytes([rec[16], rec[17], rec[18], rec[19]]));
                let prefix = p.checked_sub(size).and_then(|c| c.checked_sub(off));
                if disks != 0 || prefix != Some(start) {
                    continue;
                }
            }
            if s.checked >= MAX_CANDIDATES {
                s.gave_up = true;
                return Ok(s);
            }
            s.checked += 1;
            if let Some(end) = candidate(src, p, clen)?
                && validate(src, &end, start, &mut budget, &mut s, chunk)?
            {
                s.found = Some((end, end_at));
                return Ok(s);
            }
            if s.gave_up {
                return Ok(s);
            }
        }
        if a == 0 {
            break;
        }
        top = a + eocd - 1;
    }
    Ok(s)
}

/// Parses the end record at `p` (comment of `clen` bytes) with the records
/// layer, from a window of [`END_WINDOW`] bytes ending with the record. The
/// comment length in the copy is set to 0 so the window ends the archive
/// exactly and no other signature in it is preferred; it is restored after.
fn candidate(src: Source<'_>, p: u64, clen: u16) -> Result<Option<EndOfCentralDirectory>> {
    let w0 = p.saturating_sub((END_WINDOW - EOCD_LEN) as u64);
    let mut win = src.read(w0, (p - w0) as usize + EOCD_LEN)?.into_owned();
    let n = win.len();
    if n != (p - w0) as usize + EOCD_LEN {
        return Ok(None);
    }
    win[n - 2..].copy_from_slice(&[0, 0]);
    let Ok(mut end) = EndOfCentralDirectory::find_in_window(&win, w0) else {
        return Ok(None);
    };
    if end.eocd_offset != p {
        return Ok(None);
    }
    end.comment_len = clen;
    Ok(Some(end))
}

/// Reads `src` through one cached chunk.
/// A refill reads up to `chunk` bytes but not past `limit` (the end of the
/// directory being walked), and never fewer than asked for.
struct Cursor<'s, 'a> {
    src: &'s Source<'a>,
    start: u64,
    data: Cow<'a, [u8]>,
    chunk: usize,
    limit: u64,
}

impl<'a> Cursor<'_, 'a> {
    /// `n` bytes at `off`, or `None` past the end.
    fn get(&mut self, off: u64, n: usize) -> Result<Option<&[u8]>> {
        let have = self.start + self.data.len() as u64;
        let covered = off >= self.start && off.checked_add(n as u64).is_some_and(|e| e <= have);
        if !covered {
            let ahead = usize::try_from(self.limit.saturating_sub(off)).unwrap_or(usize::MAX);
            self.data = self.src.read(off, n.max(ahead.min(self.chunk)))?;
            self.start = off;
        }
        let s = (off - self.start) as usize;
        Ok(self.data.get(s..s + n))
    }
}

/// Checks the directory an end record describes (see the [module
/// docs](self)). Walking it takes `cd_size` bytes of `budget`; a directory
/// larger than what is left ends the search ([`Search::gave_up`]).
fn validate(
    src: Source<'_>,
    end: &EndOfCentralDirectory,
    start: u64,
    budget: &mut u64,
    s: &mut Search,
    chunk: usize,
) -> Result<bool> {
    if end.prefix != start {
        return Ok(false);
    }
    let (cd_start, cd_end) = (end.cd_start(), end.cd_end());
    if cd_end > end.eocd_offset || cd_end.checked_sub(cd_start) != Some(end.cd_size) {
        return Ok(false);
    }
    if end.cd_size > *budget {
        s.gave_up = true;
        return Ok(false);
    }
    *budget -= end.cd_size;
    s.directory_bytes += end.cd_size;
    let mut cur = Cursor {
        src: &src,
        start: 0,
        data: Cow::Borrowed(&[]),
        chunk,
        limit: cd_end,
    };
    // ZIP64: the record ends where the locator begins (its size field says
    // so) and the locator points at it (absolute, or relative to the
    // archive start).
    if let Some(z) = end.zip64_offset {
        let Some(loc) = end.eocd_offset.checked_sub(ZIP64_LOCATOR_LEN as u64) else {
            return Ok(false);
        };
        let Some(b) = cur.get(loc, ZIP64_LOCATOR_LEN)? else {
            return Ok(false);
        };
        let recorded = u64::from_le_bytes(b[8..16].try_into().unwrap_or([0xFF; 8]));
        let Some(b) = cur.get(z, 12)? else {
            return Ok(false);
        };
        let size = u64::from_le_bytes(b[4..12].try_into().unwrap_or([0xFF; 8]));
        let record_ok = b[..4] == ZIP64_EOCD_SIG.to_le_bytes()
            && size >= (ZIP64_EOCD_LEN - 12) as u64
            && z.checked_add(12).and_then(|e| e.checked_add(size)) == Some(loc);
        if !record_ok || (recorded != z && Some(recorded) != z.checked_sub(end.prefix)) {
            return Ok(false);
        }
    }
    let mut pos = cd_start;
    let mut count = 0u64;
    let mut first = u64::MAX;
    while pos < cd_end {
        let Some(fixed) = cur.get(pos, CENTRAL_HEADER_LEN)? else {
            return Ok(false);
        };
        let var = [28, 30, 32]
            .iter()
            .map(|&o| usize::from(u16::from_le_bytes([fixed[o], fixed[o + 1]])))
            .sum::<usize>();
        let total = CENTRAL_HEADER_LEN + var;
        let Some(bytes) = cur.get(pos, total)? else {
            return Ok(false);
        };
        let Ok(e) = CentralEntryRef::parse(bytes, 0) else {
            return Ok(false);
        };
        let next = pos + total as u64;
        if next > cd_end {
            return Ok(false);
        }
        // The member (local header, name, data) lies before the directory.
        let fits = e.local_header_offset.checked_add(end.prefix).and_then(|l| {
            let min_end = l.checked_add((LOCAL_HEADER_LEN + e.name.len()) as u64)?;
            (min_end <= cd_start && e.compressed_size <= cd_start - min_end).then_some(l)
        });
        let Some(local) = fits else {
            return Ok(false);
        };
        first = first.min(local);
        count += 1;
        pos = next;
    }
    if pos != cd_end || count % 0x1_0000 != end.entries % 0x1_0000 {
        return Ok(false);
    }
    if count > 0 && *src.read(first, 4)? != LOCAL_SIG.to_le_bytes() {
        return Ok(false);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zip::{CentralEntry, LocalHeader, LocalZip64, write_end_records};

    /// An archive of stored members after `prefix`, offsets relative to the
    /// archive start (as npzmap and zipfile write them).
    fn archive(prefix: &[u8], members: &[(&str, &[u8])], comment: &[u8]) -> Vec<u8> {
        let mut out = prefix.to_vec();
        let mut cd = Vec::new();
        let mut n = 0;
        for (name, data) in members {
            let off = (out.len() - prefix.len()) as u64;
            let crc = crc32fast::hash(data);
            LocalHeader::stored(name, crc, data.len() as u64, LocalZip64::No, 0).write(&mut out);
            out.extend_from_slice(data);
            CentralEntry::stored(name, crc, data.len() as u64, off).write(&mut cd);
            n += 1;
        }
        let cd_off = (out.len() - prefix.len()) as u64;
        out.extend_from_slice(&cd);
        write_end_records(&mut out, n, cd_off, cd.len() as u64, comment);
        out
    }

    /// What an appender writes after `old` before it is done: a local
    /// header and the first bytes of the member's data.
    fn partial(old: &[u8], name: &str, data: &[u8]) -> Vec<u8> {
        let mut f = old.to_vec();
        LocalHeader::stored(name, 0, 1 << 20, LocalZip64::Yes, 0).write(&mut f);
        f.extend_from_slice(data);
        f
    }

    fn locate_both(buf: &[u8]) -> Result<Located> {
        let from_bytes = locate(Source::Bytes(buf));
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, buf).unwrap();
        let from_file = locate(Source::File {
            file: &f,
            len: buf.len() as u64,
        });
        match (&from_bytes, &from_file) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            _ => panic!("bytes {from_bytes:?} vs file {from_file:?}"),
        }
        from_bytes
    }

    #[test]
    fn partial_member_after_a_committed_archive() {
        let old = archive(b"", &[("a.npy", b"hello"), ("b.npy", b"world")], b"note");
        let want = EndOfCentralDirectory::find(&old).unwrap();
        // every length of the partial member, from one byte of its header on
        let full = partial(&old, "c.npy", &[7u8; 300]);
        for len in old.len() + 1..=full.len() {
            let l = locate_both(&full[..len]).unwrap();
            assert_eq!(l.end, want, "len {len}");
            assert_eq!(l.archive_end, old.len() as u64);
        }
        // the old end record far from the tail: found by the search
        let full = partial(&old, "c.npy", &vec![7u8; 3 * TAIL_WINDOW]);
        for len in [old.len() + TAIL_WINDOW, full.len()] {
            let l = locate_both(&full[..len]).unwrap();
            assert_eq!((l.end, l.committed), (want, true), "len {len}");
            assert_eq!(l.archive_end, old.len() as u64);
        }
        // the archive itself: its own end record, not a fallback
        let l = locate_both(&old).unwrap();
        assert_eq!((l.end, l.committed), (want, false));
    }

    #[test]
    fn chunk_boundaries_do_not_matter() {
        let old = archive(b"", &[("a.npy", b"hello")], b"");
        let mut f = partial(&old, "b.npy", &[0u8; 200]);
        // a bogus signature in the partial data, with a locator before it
        f.extend_from_slice(&ZIP64_LOCATOR_SIG.to_le_bytes());
        f.extend_from_slice(&[0u8; 16]);
        f.extend_from_slice(&EOCD_SIG.to_le_bytes());
        f.extend_from_slice(&[0u8; 40]);
        let want = EndOfCentralDirectory::find(&old).unwrap();
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, &f).unwrap();
        let len = f.len() as u64;
        for chunk in [44, 45, 50, 64, 100, 127, 128, 333, 4096] {
            for src in [Source::Bytes(&f), Source::File { file: &file, len }] {
                let s = find_committed_chunked(src, len, chunk).unwrap();
                assert_eq!(s.found, Some((want, old.len() as u64)), "chunk {chunk}");
                assert_eq!(s.signatures, 2, "chunk {chunk}");
                assert_eq!(s.checked, 2, "chunk {chunk}");
            }
        }
    }

    #[test]
    fn signature_in_member_data_pointing_to_a_bogus_directory_is_not_taken() {
        let old = archive(b"", &[("a.npy", b"hello")], b"");
        let want = EndOfCentralDirectory::find(&old).unwrap();
        let mut f = partial(&old, "b.npy", &[]);
        // member data: bytes that look like a central directory entry, then
        // an end record whose size and offset put the archive at offset 0
        // and its directory on those bytes
        let cd_at = f.len() as u64;
        let mut fake = Vec::new();
        CentralEntry::stored("x.npy", 0, 5, 0).write(&mut fake);
        let good_len = fake.len();
        fake.truncate(good_len - 1); // one byte short: the entry runs past the end records
        f.extend_from_slice(&fake);
        let mut rec = Vec::new();
        write_end_records(&mut rec, 1, cd_at, fake.len() as u64, b"");
        f.extend_from_slice(&rec);
        f.extend_from_slice(&[1u8; 10]); // more data follows: not at the exact end
        let l = locate_both(&f).unwrap();
        assert_eq!((l.end, l.committed), (want, true));
        let s = find_committed(Source::Bytes(&f), f.len() as u64).unwrap();
        assert_eq!(s.checked, 2, "the bogus record passed the cheap check");
        assert_eq!(s.found, Some((want, old.len() as u64)));

        // a directory whose entry points past the directory's start
        let mut g = partial(&old, "b.npy", &[]);
        let cd_at = g.len() as u64;
        let mut fake = Vec::new();
        CentralEntry::stored("x.npy", 0, 5, cd_at).write(&mut fake);
        g.extend_from_slice(&fake);
        let mut rec = Vec::new();
        write_end_records(&mut rec, 1, cd_at, fake.len() as u64, b"");
        g.extend_from_slice(&rec);
        g.push(0);
        assert_eq!(locate_both(&g).unwrap().end, want);

        // a count that disagrees with the directory
        let mut h = partial(&old, "b.npy", &[]);
        let cd_at = h.len() as u64;
        let mut fake = Vec::new();
        CentralEntry::stored("x.npy", 0, 0, 0).write(&mut fake);
        h.extend_from_slice(&fake);
        let mut rec = Vec::new();
        write_end_records(&mut rec, 2, cd_at, fake.len() as u64, b"");
        h.extend_from_slice(&rec);
        h.push(0);
        assert_eq!(locate_both(&h).unwrap().end, want);
    }

    #[test]
    fn a_valid_nested_archive_in_member_data_is_not_taken() {
        let old = archive(b"", &[("a.npy", b"hello")], b"");
        let inner = archive(b"", &[("in.npy", b"inner data")], b"");
        let mut f = partial(&old, "nested.npy", &inner);
        f.extend_from_slice(&[0u8; 5]);
        let l = locate_both(&f).unwrap();
        assert_eq!(l.end, EndOfCentralDirectory::find(&old).unwrap());
        assert_eq!(l.end.prefix, 0);
        // even when the nested archive's end record ends the file... it is
        // the tail's own end record then, and taken as today
        let g = partial(&old, "nested.npy", &inner);
        let l = locate_both(&g).unwrap();
        assert!(!l.committed);
        assert_eq!(l.end.prefix, (g.len() - inner.len()) as u64);
    }

    #[test]
    fn prefixed_and_empty_archives() {
        let old = archive(b"#!/bin/sh\nexit 0\n", &[("a.npy", b"hello")], b"c");
        let f = partial(&old, "b.npy", &[3u8; 100]);
        let l = locate_both(&f).unwrap();
        assert_eq!(l.end.prefix, 17);
        assert_eq!(l.end, EndOfCentralDirectory::find(&old).unwrap());

        let empty = archive(b"", &[], b"");
        assert_eq!(empty.len(), EOCD_LEN);
        for n in [100, 2 * TAIL_WINDOW] {
            let f = partial(&empty, "b.npy", &vec![3u8; n]);
            let l = locate_both(&f).unwrap();
            assert_eq!((l.end.entries, l.archive_end), (0, 22));
            assert_eq!(l.committed, n > TAIL_WINDOW);
        }
        let f = partial(&old, "b.npy", &vec![3u8; 2 * TAIL_WINDOW]);
        let l = locate_both(&f).unwrap();
        assert_eq!((l.end.prefix, l.committed), (17, true));
    }

    #[test]
    fn zip64_end_records_are_checked() {
        // a committed archive with ZIP64 end records (values not saturated,
        // equal to the plain ones, as some writers force them)
        let plain = archive(b"", &[("a.npy", b"hello")], b"");
        let end = EndOfCentralDirectory::find(&plain).unwrap();
        let mut z = plain[..end.eocd_offset as usize].to_vec();
        let zpos = z.len() as u64;
        let mut rec = Vec::new();
        write_end_records(&mut rec, 70_000, end.cd_offset, end.cd_size, b"");
        // patch the ZIP64 count to 1 and the EOCD count to 1 (mod-equal)
        rec[24..32].copy_from_slice(&1u64.to_le_bytes());
        rec[32..40].copy_from_slice(&1u64.to_le_bytes());
        let eocd = ZIP64_EOCD_LEN + ZIP64_LOCATOR_LEN;
        rec[eocd + 8..eocd + 12].copy_from_slice(&[1, 0, 1, 0]);
        z.extend_from_slice(&rec);
        let want = EndOfCentralDirectory::find(&z).unwrap();
        assert_eq!(want.zip64_offset, Some(zpos));
        let data = vec![1u8; 2 * TAIL_WINDOW];
        let f = partial(&z, "b.npy", &data);
        assert_eq!(
            locate_both(&f).unwrap(),
            Located {
                end: want,
                archive_end: z.len() as u64,
                committed: true
            }
        );

        // a record whose size field does not end it at the locator
        let mut bad = z.clone();
        let at = zpos as usize + 4;
        bad[at..at + 8].copy_from_slice(&45u64.to_le_bytes());
        let today = EndOfCentralDirectory::find(&bad).unwrap();
        let f = partial(&bad, "b.npy", &data);
        assert!(matches!(locate_both(&f), Err(Error::NotAZip { .. })));
        // (in the tail window, the records layer's answer stands)
        let f = partial(&bad, "b.npy", &data[..50]);
        assert_eq!(locate_both(&f).unwrap().end, today);
        // a locator pointing elsewhere
        let mut bad = z.clone();
        let at = zpos as usize + ZIP64_EOCD_LEN + 8;
        bad[at..at + 8].copy_from_slice(&3u64.to_le_bytes());
        let f = partial(&bad, "b.npy", &data);
        assert!(matches!(locate_both(&f), Err(Error::NotAZip { .. })));
    }

    #[test]
    fn no_committed_archive_is_the_same_error_as_before() {
        // a fresh archive being written: nothing committed
        let mut f = Vec::new();
        LocalHeader::stored("a.npy", 0, 100, LocalZip64::No, 0).write(&mut f);
        f.extend_from_slice(&[9u8; 60]);
        assert!(matches!(
            EndOfCentralDirectory::find(&f),
            Err(Error::NotAZip { .. })
        ));
        assert!(matches!(locate_both(&f), Err(Error::NotAZip { .. })));
        let s = find_committed(Source::Bytes(&f), f.len() as u64).unwrap();
        assert_eq!((s.found, s.start, s.checked), (None, Some(0), 0));
        // not a zip at all: not even searched
        let g = vec![0x93u8; 5000];
        assert!(matches!(locate_both(&g), Err(Error::NotAZip { .. })));
        assert_eq!(find_committed(Source::Bytes(&g), 5000).unwrap().start, None);
        // a bogus record with more bytes after it: the records layer's error
        let mut h = f.clone();
        let mut rec = Vec::new();
        write_end_records(&mut rec, 1, 1 << 30, 46, b"");
        h.extend_from_slice(&rec);
        h.push(0);
        let before = EndOfCentralDirectory::find(&h).map(|_| ()).unwrap_err();
        let now = locate_both(&h).map(|_| ()).unwrap_err();
        assert_eq!(now.to_string(), before.to_string());
    }

    #[test]
    fn a_damaged_end_record_at_the_end_is_reported_not_replaced() {
        let old = archive(b"", &[("a.npy", b"hello")], b"");
        let new = {
            let mut f = old.clone();
            let cd_off = f.len() as u64;
            let mut cd = Vec::new();
            CentralEntry::stored("a.npy", crc32fast::hash(b"hello"), 5, 0).write(&mut cd);
            f.extend_from_slice(&cd);
            write_end_records(&mut f, 1, cd_off, cd.len() as u64 + 1_000_000, b"");
            f
        };
        let before = EndOfCentralDirectory::find(&new).map(|_| ()).unwrap_err();
        assert!(matches!(before, Error::Zip { .. }));
        let now = locate_both(&new).map(|_| ()).unwrap_err();
        assert_eq!(now.to_string(), before.to_string());
    }

    #[test]
    fn a_missing_first_local_header_rejects_the_candidate() {
        // the directory says the member starts 2 bytes into its header
        let mut old = archive(b"", &[("a.npy", b"hello")], b"");
        let cd = EndOfCentralDirectory::find(&old).unwrap().cd_start() as usize;
        old[cd + 42] = 2;
        let f = partial(&old, "b.npy", &vec![0u8; 2 * TAIL_WINDOW]);
        let s = find_committed(Source::Bytes(&f), f.len() as u64).unwrap();
        assert_eq!((s.checked, s.found), (1, None));
    }

    #[test]
    fn zip64_record_with_large_extensible_data_before_the_tail_window() {
        let plain = archive(b"", &[("a.npy", &vec![5u8; 100_000])], b"");
        let end = EndOfCentralDirectory::find(&plain).unwrap();
        let mut f = plain[..end.eocd_offset as usize].to_vec();
        let z = f.len() as u64;
        let ext = 80_000u64;
        f.extend_from_slice(&ZIP64_EOCD_SIG.to_le_bytes());
        f.extend_from_slice(&(44 + ext).to_le_bytes());
        f.extend_from_slice(&[45, 3, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        f.extend_from_slice(&1u64.to_le_bytes());
        f.extend_from_slice(&1u64.to_le_bytes());
        f.extend_from_slice(&end.cd_size.to_le_bytes());
        f.extend_from_slice(&end.cd_offset.to_le_bytes());
        f.resize(f.len() + ext as usize, 0);
        f.extend_from_slice(&ZIP64_LOCATOR_SIG.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&z.to_le_bytes());
        f.extend_from_slice(&1u32.to_le_bytes());
        f.extend_from_slice(&EOCD_SIG.to_le_bytes());
        f.extend_from_slice(&[0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
        f.extend_from_slice(&(end.cd_size as u32).to_le_bytes());
        f.extend_from_slice(&(end.cd_offset as u32).to_le_bytes());
        f.extend_from_slice(&[0, 0]);
        let want = EndOfCentralDirectory::find(&f).unwrap();
        assert_eq!((want.zip64_offset, want.entries), (Some(z), 1));
        assert!(f.len() - (z as usize) > TAIL_WINDOW);
        let l = locate_both(&f).unwrap();
        assert_eq!((l.end, l.committed), (want, false));
    }

    #[test]
    fn many_signatures_stay_bounded() {
        let old = archive(b"", &[("a.npy", b"hello")], b"");
        // plain signatures everywhere: each costs O(1), none is checked
        let mut f = partial(&old, "b.npy", &[]);
        for _ in 0..50_000 {
            f.extend_from_slice(&EOCD_SIG.to_le_bytes());
        }
        let s = find_committed(Source::Bytes(&f), f.len() as u64).unwrap();
        assert!(s.signatures >= 49_990, "{}", s.signatures);
        assert_eq!(s.checked, 1);
        assert_eq!(s.found.map(|f| f.1), Some(old.len() as u64));
        // locator + end record pairs: each needs a full check; the search
        // gives up after MAX_CANDIDATES of them
        let mut g = partial(&old, "b.npy", &[]);
        let mut unit = Vec::new();
        unit.extend_from_slice(&ZIP64_LOCATOR_SIG.to_le_bytes());
        unit.extend_from_slice(&[0u8; 16]);
        unit.extend_from_slice(&EOCD_SIG.to_le_bytes());
        unit.extend_from_slice(&[0xFFu8; 16]);
        unit.extend_from_slice(&[0u8; 2]);
        for _ in 0..20_000 {
            g.extend_from_slice(&unit);
        }
        let s = find_committed(Source::Bytes(&g), g.len() as u64).unwrap();
        assert_eq!(s.checked, MAX_CANDIDATES);
        assert!(s.gave_up);
        assert_eq!(s.found, None);
        assert!(s.signatures <= u64::from(MAX_CANDIDATES) + 1);
        g.push(0);
        let before = EndOfCentralDirectory::find(&g).map(|_| ()).unwrap_err();
        let now = locate_both(&g).map(|_| ()).unwrap_err();
        assert_eq!(now.to_string(), before.to_string());
    }

    #[test]
    fn directories_walked_are_bounded_by_the_file() {
        // candidates whose directories are valid up to their last entry
        // (one byte short each): the walks together never exceed the file
        let old = archive(b"", &[("a.npy", b"hello")], b"");
        let mut f = partial(&old, "b.npy", &[]);
        let dir_at = f.len() as u64;
        let mut entry = Vec::new();
        CentralEntry::stored("x", 0, 0, 0).write(&mut entry);
        for _ in 0..2000 {
            f.extend_from_slice(&entry);
        }
        for k in 0..100u64 {
            let mut rec = Vec::new();
            let size = f.len() as u64 - dir_at;
            write_end_records(&mut rec, 2000 + k + 1, dir_at, size, b"");
            f.extend_from_slice(&rec);
            f.extend_from_slice(&entry);
        }
        let s = find_committed(Source::Bytes(&f), f.len() as u64).unwrap();
        assert!(s.directory_bytes <= f.len() as u64);
        assert!(s.checked <= MAX_CANDIDATES);
        assert!(s.found.is_none());
    }
}
