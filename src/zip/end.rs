//! End records: finding the end of central directory record in a file's
//! tail, following the ZIP64 locator to the ZIP64 record, and working out
//! where the central directory lies (and how many bytes precede the archive).

use super::read::slice_from;
use super::spec::*;
use crate::error::{Error, Location, Result};

/// The end of the central directory, ZIP64-resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndOfCentralDirectory {
    /// Offset of the EOCD record in the buffer.
    pub eocd_offset: u64,
    /// Offset of the ZIP64 EOCD record, if the archive has one.
    pub zip64_offset: Option<u64>,
    /// Number of entries.
    pub entries: u64,
    /// Size of the central directory in bytes.
    pub cd_size: u64,
    /// Offset of the central directory as recorded.
    pub cd_offset: u64,
    /// Archive comment length.
    pub comment_len: u16,
    /// Bytes before the archive proper (prepended data): recorded offsets
    /// must be shifted by this to index the buffer.
    pub prefix: u64,
}

impl EndOfCentralDirectory {
    /// Where the central directory actually starts in the buffer.
    pub fn cd_start(&self) -> u64 {
        self.cd_offset.saturating_add(self.prefix)
    }

    /// Where the central directory ends (start of ZIP64 record or EOCD).
    pub fn cd_end(&self) -> u64 {
        self.zip64_offset.unwrap_or(self.eocd_offset)
    }

    /// Finds and parses the end records of the archive in `buf`: scans back
    /// over a comment of up to 65535 bytes, follows the ZIP64 locator, and
    /// works out how many bytes precede the archive.
    pub fn find(buf: &[u8]) -> Result<EndOfCentralDirectory> {
        Self::find_in_window(buf, 0)
    }

    /// As [`EndOfCentralDirectory::find`], for a `window` holding the last
    /// bytes of a file, starting at absolute offset `base` (a file's tail read
    /// into memory, so the whole archive need not be). All returned offsets
    /// are absolute. The window should hold the last `65_535 + 22` bytes plus
    /// the ZIP64 record and locator (`TAIL_WINDOW` bytes suffice unless the
    /// ZIP64 record carries extensible data).
    pub fn find_in_window(buf: &[u8], base: u64) -> Result<EndOfCentralDirectory> {
        let len = buf.len();
        if len < EOCD_LEN {
            return Err(Error::NotAZip {
                at: Location::offset(0),
            });
        }
        let lowest = len.saturating_sub(EOCD_LEN + 0xFFFF);
        let mut pos = len - EOCD_LEN;
        let mut fallback = None;
        let found = loop {
            if let Ok(b) = block_at::<EocdBlock>(buf, pos as u64, 0, "end of central directory")
                && b.signature.get() == EOCD_SIG
            {
                let comment_len = usize::from(b.comment_len.get());
                if pos + EOCD_LEN + comment_len == len {
                    break Some(pos);
                }
                if fallback.is_none() && pos + EOCD_LEN + comment_len <= len {
                    fallback = Some(pos);
                }
            }
            if pos == lowest {
                break fallback;
            }
            pos -= 1;
        };
        let Some(pos) = found else {
            return Err(Error::NotAZip {
                at: Location::offset(0),
            });
        };
        Self::parse_at_window(buf, pos as u64, base)
            .map_err(|e| if base == 0 { e } else { e.shift_offset(base) })
    }

    /// Parses the EOCD record known to be at `pos`.
    pub fn parse_at(buf: &[u8], pos: u64) -> Result<EndOfCentralDirectory> {
        Self::parse_at_window(buf, pos, 0)
    }

    /// Parses the EOCD at `pos` in a window starting at absolute `base`;
    /// error offsets are window-relative, returned offsets absolute.
    fn parse_at_window(buf: &[u8], pos: u64, base: u64) -> Result<EndOfCentralDirectory> {
        const WHAT: &str = "end of central directory";
        let rest = slice_from(buf, pos, WHAT)?;
        let b: &EocdBlock = block_at(rest, 0, pos, WHAT)?;
        if b.signature.get() != EOCD_SIG {
            return Err(zip_err("bad end of central directory signature", pos));
        }
        let disk = b.disk.get();
        let cd_disk = b.cd_disk.get();
        let mut entries = u64::from(b.entries.get());
        let mut cd_size = u64::from(b.cd_size.get());
        let mut cd_offset = u64::from(b.cd_offset.get());
        let comment_len = b.comment_len.get();
        let mut zip64_offset = None;
        // A locator is only required when a field is saturated; otherwise
        // the 20 bytes before the EOCD may merely look like one (the end of
        // a member name such as "PK\x06\x07...", say). Then a locator that
        // leads nowhere, or to values that contradict the EOCD, is ignored.
        let saturated = entries == 0xFFFF || cd_size == MAX32 || cd_offset == MAX32;
        let plain = (entries, cd_size, cd_offset);
        // ZIP64 locator directly before the EOCD.
        let zip64 = (|| -> Result<Option<(u64, u64, u64, u64)>> {
            if pos < ZIP64_LOCATOR_LEN as u64 {
                return Ok(None);
            }
            let loc_pos = pos - ZIP64_LOCATOR_LEN as u64;
            const LOC: &str = "ZIP64 locator";
            let l: &Zip64LocatorBlock = block_at(slice_from(buf, loc_pos, LOC)?, 0, loc_pos, LOC)?;
            if l.signature.get() != ZIP64_LOCATOR_SIG {
                return Ok(None);
            }
            if l.total_disks.get() > 1 {
                return Err(zip_err("multi-disk archives are not supported", loc_pos));
            }
            // The record normally ends right at the locator; prefer that
            // position so prepended bytes do not break it.
            let recorded = l.zip64_offset.get();
            let z_pos = find_zip64_record(buf, loc_pos, recorded.checked_sub(base))?;
            const REC: &str = "ZIP64 end of central directory";
            let z: &Zip64EocdBlock = block_at(slice_from(buf, z_pos, REC)?, 0, z_pos, REC)?;
            Ok(Some((
                z.entries.get(),
                z.cd_size.get(),
                z.cd_offset.get(),
                z_pos,
            )))
        })();
        match zip64 {
            Ok(Some((e, size, off, z_pos)))
                if saturated || (e % 0x1_0000, size % (MAX32 + 1), off % (MAX32 + 1)) == plain =>
            {
                (entries, cd_size, cd_offset) = (e, size, off);
                zip64_offset = Some(z_pos);
            }
            Err(e) if saturated => return Err(e),
            _ => {}
        }
        if zip64_offset.is_none() && (disk != 0 || cd_disk != 0) {
            return Err(zip_err("multi-disk archives are not supported", pos));
        }
        let zip64_offset = zip64_offset.map(|z| z.saturating_add(base));
        let pos_abs = pos.saturating_add(base);
        let cd_end = zip64_offset.unwrap_or(pos_abs);
        let cd_actual = cd_end
            .checked_sub(cd_size)
            .ok_or_else(|| zip_err("central directory size exceeds the file", pos))?;
        let prefix = cd_actual
            .checked_sub(cd_offset)
            .ok_or_else(|| zip_err("central directory offset points past its end", pos))?;
        Ok(EndOfCentralDirectory {
            eocd_offset: pos_abs,
            zip64_offset,
            entries,
            cd_size,
            cd_offset,
            comment_len,
            prefix,
        })
    }
}

fn find_zip64_record(buf: &[u8], loc_pos: u64, recorded: Option<u64>) -> Result<u64> {
    let is_record = |p: u64| -> bool {
        usize::try_from(p)
            .ok()
            .and_then(|p| buf.get(p..p.checked_add(4)?))
            .is_some_and(|s| s == ZIP64_EOCD_SIG.to_le_bytes())
    };
    // Size field at +4 gives the record length minus 12.
    if let Some(p) = loc_pos.checked_sub(ZIP64_EOCD_LEN as u64)
        && is_record(p)
    {
        return Ok(p);
    }
    if let Some(recorded) = recorded
        && recorded < loc_pos
        && is_record(recorded)
    {
        return Ok(recorded);
    }
    Err(zip_err(
        "ZIP64 locator does not point at a ZIP64 end record",
        loc_pos,
    ))
}
