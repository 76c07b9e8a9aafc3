//! Opening an existing archive to append to it: [`OldArchive`], found
//! through [`zip::committed`](crate::zip::committed) and read with the
//! one central-directory walker.

use crate::error::{Error, Location, Result};
use crate::zip::committed;
use crate::zip::{CentralEntryRef, Directory, EOCD_LEN};
use std::collections::HashSet;
use std::fs::File;
use std::os::unix::fs::FileExt;

/// What an appended-to archive already holds.
#[derive(Default)]
pub(super) struct OldArchive {
    /// Bytes before the archive proper; recorded offsets are relative to it.
    pub(super) base: u64,
    /// File length: new members start here.
    pub(super) end: u64,
    /// The old central directory entries, verbatim.
    pub(super) cd: Vec<u8>,
    /// Entries the old directory holds (as walked, not as announced).
    pub(super) entries: u64,
    /// Their member names (for the duplicate check).
    pub(super) names: HashSet<Box<str>>,
    /// The archive comment, kept in the new end records.
    pub(super) comment: Vec<u8>,
}

fn read_exact_at(file: &File, len: u64, offset: u64, what: &'static str) -> Result<Vec<u8>> {
    let n = usize::try_from(len).map_err(|_| Error::Zip {
        reason: format!("{what} of {len} bytes does not fit in memory"),
        at: Location::offset(offset),
    })?;
    let mut buf = Vec::new();
    buf.try_reserve_exact(n).map_err(|_| Error::Zip {
        reason: format!("{what} of {len} bytes does not fit in memory"),
        at: Location::offset(offset),
    })?;
    buf.resize(n, 0);
    file.read_exact_at(&mut buf, offset)
        .map_err(|e| Error::io("read", e, Location::offset(offset)))?;
    Ok(buf)
}

impl OldArchive {
    /// Reads what the last committed archive in `file` holds.
    pub(super) fn read(file: &File) -> Result<OldArchive> {
        let len = file
            .metadata()
            .map_err(|e| Error::io("stat", e, Location::none()))?
            .len();
        // The last committed archive: the tail's end record, or, when an
        // appender died mid-member (no end record at the tail), the last
        // valid one before its leftovers. New members go after everything
        // in the file, so those leftovers stay as they are (dead bytes that
        // `recover` can still scan).
        let end = committed::locate(committed::Source::File { file, len })?.end;
        // cd_start + cd_size = cd_end <= EOCD offset < len: bounded by the file.
        let cd_start = end.cd_start();
        let cd_len = end
            .cd_end()
            .checked_sub(cd_start)
            .ok_or_else(|| Error::Zip {
                reason: "central directory ends before it starts".into(),
                at: Location::offset(cd_start),
            })?;
        if cd_start.checked_add(cd_len).is_none_or(|e| e > len) {
            return Err(Error::Zip {
                reason: "central directory runs past the end of the file".into(),
                at: Location::offset(cd_start),
            });
        }
        // The walk allocates per entry found, never per entry announced.
        let dir = Directory::of(&end);
        let cd = read_exact_at(file, cd_len, cd_start, "central directory")?;
        // The one walker (see `zip::directory`): every entry the directory
        // holds is kept, whatever the width of the recorded count.
        let mut names = HashSet::new();
        let mut count = 0u64;
        for e in dir.alone().entries(&cd) {
            let e: CentralEntryRef<'_> = e.map_err(|e| e.shift_offset(cd_start))?;
            count += 1;
            names.insert(Box::<str>::from(e.decoded_name()));
        }
        let c_start = end.eocd_offset + EOCD_LEN as u64;
        let c_len = u64::from(end.comment_len).min(len.saturating_sub(c_start));
        let comment = read_exact_at(file, c_len, c_start, "archive comment")?;
        Ok(OldArchive {
            base: end.prefix,
            end: len,
            cd,
            entries: count,
            names,
            comment,
        })
    }
}
