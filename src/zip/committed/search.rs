//! The backwards search for the last end record that closes a valid
//! archive: a linear scan for end record signatures, an O(1) pre-check per
//! signature, and a full check ([`validate`]) for at most
//! [`MAX_CANDIDATES`] of them.

use super::check::validate;
use super::{CHUNK, END_WINDOW, MAX_CANDIDATES, Search, Source, archive_start};
use crate::error::Result;
use crate::zip::spec::{EocdBlock, Zip64LocatorBlock, block_at};
use crate::zip::{EOCD_LEN, EOCD_SIG, EndOfCentralDirectory, ZIP64_LOCATOR_LEN, ZIP64_LOCATOR_SIG};

/// Searches `src` backwards from `below` for the last end record that
/// describes a valid archive ending at or before `below` (see the [module
/// docs](super) for the rules and bounds).
pub fn find_committed(src: Source<'_>, below: u64) -> Result<Search> {
    find_committed_chunked(src, below, CHUNK)
}

/// [`find_committed`], reading `chunk` bytes at a time (tests vary it).
pub(super) fn find_committed_chunked(src: Source<'_>, below: u64, chunk: usize) -> Result<Search> {
    let chunk = chunk.max(2 * EOCD_LEN);
    let below = below.min(src.len());
    let s = Search {
        start: archive_start(src)?,
        ..Search::default()
    };
    let Some(start) = s.start else {
        return Ok(s);
    };
    let mut searcher = Searcher {
        src,
        start,
        below,
        budget: below,
        s,
    };
    let eocd = EOCD_LEN as u64;
    // Round: candidates p with a <= p and p + 22 <= top, from bytes
    // [lo, top) where lo = a - 20 (if there is room) shows a ZIP64 locator.
    let mut top = below;
    while top >= eocd {
        let a = top.saturating_sub(chunk as u64);
        let lo = a.saturating_sub(ZIP64_LOCATOR_LEN as u64);
        let data = src.read(lo, (top - lo) as usize)?;
        if searcher.scan(&data, lo, (a - lo) as usize)? || a == 0 {
            break;
        }
        top = a + eocd - 1;
    }
    Ok(searcher.s)
}

/// The state of one search.
#[derive(Debug)]
struct Searcher<'a> {
    src: Source<'a>,
    /// Where the archive starts (every candidate's prefix).
    start: u64,
    /// Candidates end at or before this offset.
    below: u64,
    /// Directory bytes the remaining full checks may still walk.
    budget: u64,
    s: Search,
}

impl Searcher<'_> {
    /// Scans the candidates in `data` (the bytes at `lo`; candidates start
    /// at index `first` or later), from the last one down. True when the
    /// search is over (found, or a bound reached).
    fn scan(&mut self, data: &[u8], lo: u64, first: usize) -> Result<bool> {
        let sig = EOCD_SIG.to_le_bytes();
        let mut i = data.len().checked_sub(EOCD_LEN).filter(|&k| k >= first);
        while let Some(k) = i {
            // Next 'P' at or below k (and not below first) that starts a signature.
            let Some(q) = data
                .get(first..=k)
                .and_then(|w| w.iter().rposition(|&b| b == b'P'))
                .map(|q| q + first)
            else {
                break;
            };
            i = q.checked_sub(1).filter(|&k| k >= first);
            if data.get(q..q + 4) != Some(&sig[..]) {
                continue;
            }
            self.s.signatures += 1;
            if self.consider(data, lo, q)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The end record signature at `data[q..]`: the O(1) pre-check, then a
    /// full check. True when the search is over.
    fn consider(&mut self, data: &[u8], lo: u64, q: usize) -> Result<bool> {
        let Ok(rec) = block_at::<EocdBlock>(data, q as u64, lo, "end record") else {
            return Ok(false);
        };
        let p = lo + q as u64;
        let clen = rec.comment_len.get();
        let end_at = p + EOCD_LEN as u64 + u64::from(clen);
        if end_at > self.below {
            return Ok(false);
        }
        // Without a ZIP64 locator before them, the 22 bytes fix where the
        // archive starts.
        let locator = q
            .checked_sub(ZIP64_LOCATOR_LEN)
            .and_then(|l| block_at::<Zip64LocatorBlock>(data, l as u64, lo, "ZIP64 locator").ok())
            .is_some_and(|l| l.signature.get() == ZIP64_LOCATOR_SIG);
        if !locator {
            let disks = rec.disk.get() | rec.cd_disk.get();
            let size = u64::from(rec.cd_size.get());
            let off = u64::from(rec.cd_offset.get());
            let prefix = p.checked_sub(size).and_then(|c| c.checked_sub(off));
            if disks != 0 || prefix != Some(self.start) {
                return Ok(false);
            }
        }
        if self.s.checked >= MAX_CANDIDATES {
            self.s.gave_up = true;
            return Ok(true);
        }
        self.s.checked += 1;
        if let Some(end) = candidate(self.src, p, clen)?
            && validate(self.src, &end, self.start, &mut self.budget, &mut self.s)?
        {
            self.s.found = Some((end, end_at));
            return Ok(true);
        }
        Ok(self.s.gave_up)
    }
}

/// Parses the end record at `p` (comment of `clen` bytes) with the records
/// layer, from a window of [`END_WINDOW`] bytes ending with the record. The
/// comment length in the copy is set to 0 so the window ends the archive
/// exactly and no other signature in it is preferred; it is restored after.
fn candidate(src: Source<'_>, p: u64, clen: u16) -> Result<Option<EndOfCentralDirectory>> {
    let w0 = p.saturating_sub((END_WINDOW - EOCD_LEN) as u64);
    let want = (p - w0) as usize + EOCD_LEN;
    let mut win = src.read(w0, want)?.into_owned();
    if win.len() != want {
        return Ok(None);
    }
    let Some(comment_len) = win.last_chunk_mut::<2>() else {
        return Ok(None);
    };
    *comment_len = [0, 0];
    let Ok(mut end) = EndOfCentralDirectory::find_in_window(&win, w0) else {
        return Ok(None);
    };
    if end.eocd_offset != p {
        return Ok(None);
    }
    end.comment_len = clen;
    Ok(Some(end))
}
