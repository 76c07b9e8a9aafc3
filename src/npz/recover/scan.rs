//! [`Scan`]: one pass over the input from the first local header to the
//! end, keeping the members that check out and stepping over old central
//! directories and end records.

use super::member::{Budget, Member, member};
use super::src::Src;
use super::vouch::Vouched;
use super::{Dropped, RecoverReport};
use crate::error::{Error, Location, Result};
use crate::zip::spec::block_at;
use crate::zip::{
    CENTRAL_HEADER_LEN, CENTRAL_SIG, CentralBlock, CentralEntry, CentralEntryRef, EOCD_LEN,
    EOCD_SIG, EocdBlock, LOCAL_SIG, U16Le, U64Le, ZIP64_EOCD_SIG, ZIP64_LOCATOR_LEN,
    ZIP64_LOCATOR_SIG,
};
use std::fs::File;
use std::path::Path;

/// What a scan of the input found.
pub(super) struct Scan {
    /// Directory entries of the kept members, in file order.
    pub(super) entries: Vec<CentralEntry>,
    kept: Vec<String>,
    dropped: Vec<Dropped>,
    /// End of the last kept member.
    pub(super) end: u64,
    /// The comment of the last end record found.
    pub(super) comment: Vec<u8>,
    /// Members the file's directory vouches for.
    vouched: Vouched,
    /// What members that get dropped may still read.
    budget: Budget,
}

impl Scan {
    /// The report for an output of `output_len` bytes.
    pub(super) fn report(&self, output_len: u64) -> RecoverReport {
        RecoverReport {
            kept: self.kept.clone(),
            dropped: self.dropped.clone(),
            bytes_kept: self.end,
            output_len,
        }
    }

    /// [`Error::Unrecoverable`] (naming `input` and the first dropped
    /// member's offset) when the scan kept nothing.
    pub(super) fn check_not_empty(&self, input: &Path) -> Result<()> {
        if !self.entries.is_empty() {
            return Ok(());
        }
        let reason = match self.dropped.first() {
            None => "no zip member found; nothing was written".to_string(),
            Some(d) => format!(
                "no member could be recovered ({} dropped; the first, {:?}: {}); nothing was written",
                self.dropped.len(),
                d.name,
                d.reason
            ),
        };
        Err(Error::Unrecoverable {
            reason,
            at: Location {
                offset: Some(self.dropped.first().map_or(0, |d| d.offset)),
                ..Location::path(input)
            },
        })
    }

    /// Scans the first `len` bytes of `file`.
    pub(super) fn run(file: &File, len: u64) -> Result<Scan> {
        Scan::run_with(file, len, Budget::for_input(len))
    }

    /// Scans the first `len` bytes of `file` with a `budget` for the
    /// members it drops.
    pub(super) fn run_with(file: &File, len: u64, budget: Budget) -> Result<Scan> {
        let mut src = Src::new(file, len);
        let mut scan = Scan {
            entries: Vec::new(),
            kept: Vec::new(),
            dropped: Vec::new(),
            end: 0,
            comment: Vec::new(),
            vouched: Vouched::default(),
            budget,
        };
        let mut pos = src.resync(0)?;
        while pos < len {
            let Some(sig) = src.u32_at(pos)? else { break };
            pos = match sig {
                LOCAL_SIG => scan.local(&mut src, pos)?,
                CENTRAL_SIG => scan.skip_central(&mut src, pos)?,
                ZIP64_EOCD_SIG => skip_zip64_eocd(&mut src, pos)?,
                ZIP64_LOCATOR_SIG => src.resync_until(pos + 4, pos + ZIP64_LOCATOR_LEN as u64)?,
                EOCD_SIG => scan.eocd(&mut src, pos)?,
                _ => src.resync(pos + 1)?,
            };
        }
        Ok(scan)
    }

    /// Keeps or drops the member whose local header is at `pos`; returns
    /// where the scan goes on.
    fn local(&mut self, src: &mut Src<'_>, pos: u64) -> Result<u64> {
        let (name, m) = member(src, &mut self.vouched, &mut self.budget, pos)?;
        match m {
            Member::Good { entry, end } => {
                self.entries.push(entry);
                self.kept.push(name);
                self.end = end;
                Ok(end)
            }
            Member::Bad { reason } => {
                self.dropped.push(Dropped {
                    name,
                    offset: pos,
                    reason,
                });
                // Resume right after this signature: a false header (in a
                // prefix, say) may claim a length that would skip real
                // members.
                src.resync(pos + 4)
            }
        }
    }

    /// Takes the comment of the end record at `pos` (the new end record
    /// carries it on); returns where the scan goes on.
    fn eocd(&mut self, src: &mut Src<'_>, pos: u64) -> Result<u64> {
        let Ok(b) = block_at::<EocdBlock>(src.at(pos, EOCD_LEN)?, 0, pos, "") else {
            return Ok(src.len);
        };
        let clen = u64::from(b.comment_len.get());
        let c = src.at(pos + EOCD_LEN as u64, clen as usize)?;
        // The new end record is followed by this comment: an end record
        // signature in it could be taken for the real one (and a local header
        // one would be scanned on the next recovery), so keep only what comes
        // before either.
        let sigs = [EOCD_SIG.to_le_bytes(), LOCAL_SIG.to_le_bytes()];
        let keep = c.windows(4).position(|w| sigs.iter().any(|s| s == w));
        let c_len = c.len() as u64;
        let (comment, _) = c.split_at(keep.unwrap_or(c.len()));
        self.comment = comment.to_vec();
        src.resync_until(pos + 4, pos + EOCD_LEN as u64 + c_len)
    }

    /// Steps over the central directory entry at `pos`: to its end if it
    /// parses, else past its signature. A local header signature inside it
    /// ends the skip (a damaged entry may claim a length that hides real
    /// members), except in the bytes that are a copy of a kept member's own
    /// header fields: an entry recovery itself wrote for a kept member (byte
    /// for byte) is skipped whole, and one that names a kept member (same
    /// offset, name, CRC and sizes) up to the end of its name. So recovering
    /// a recovered archive finds no "member" in its new directory.
    fn skip_central(&self, src: &mut Src<'_>, pos: u64) -> Result<u64> {
        let skip = block_at::<CentralBlock>(src.at(pos, CENTRAL_HEADER_LEN)?, 0, pos, "")
            .ok()
            .map(|b| {
                let v = |f: U16Le| u64::from(f.get());
                CENTRAL_HEADER_LEN as u64 + v(b.name_len) + v(b.extra_len) + v(b.comment_len)
            });
        let Some(n) = skip else {
            return src.resync(pos + 4);
        };
        let all = src.at(pos, n as usize)?;
        if all.len() as u64 != n {
            return src.resync(pos + 4);
        }
        let Ok(c) = CentralEntryRef::parse(all, 0) else {
            return src.resync(pos + 4);
        };
        let kept = self
            .entries
            .binary_search_by_key(&c.local_header_offset, |e| e.local_header_offset)
            .ok()
            .and_then(|i| self.entries.get(i))
            .filter(|e| {
                e.name == c.name
                    && e.crc32 == c.crc32
                    && e.compressed_size == c.compressed_size
                    && e.uncompressed_size == c.uncompressed_size
            });
        let from = match kept {
            Some(e) => {
                let mut own = Vec::with_capacity(all.len());
                e.write(&mut own);
                if own == all {
                    return Ok(pos + n);
                }
                pos + (CENTRAL_HEADER_LEN + c.name.len()) as u64
            }
            None => pos + 4,
        };
        src.resync_until(from, pos + n)
    }
}

/// Steps over the ZIP64 end record at `pos` (to the end its size field
/// gives, if that is inside the file; never over a local header).
fn skip_zip64_eocd(src: &mut Src<'_>, pos: u64) -> Result<u64> {
    // The record's size field (the bytes after it).
    let size = block_at::<U64Le>(src.at(pos + 4, 8)?, 0, pos, "")
        .ok()
        .map(|b| b.get());
    match size
        .and_then(|s| s.checked_add(12))
        .and_then(|s| s.checked_add(pos))
    {
        Some(next) if next <= src.len => src.resync_until(pos + 4, next),
        _ => src.resync(pos + 4),
    }
}
