//! The full check of a candidate end record: its ZIP64 records, and its
//! central directory walked by the one walker ([`Directory`]), so a
//! committed archive is valid by the same rule the reader applies.

use super::{Search, Source};
use crate::error::Result;
use crate::zip::spec::{Zip64EocdBlock, Zip64LocatorBlock, block_at};
use crate::zip::{
    CENTRAL_SIG, CentralEntryRef, Directory, EndOfCentralDirectory, LOCAL_HEADER_LEN, LOCAL_SIG,
    ZIP64_EOCD_LEN, ZIP64_EOCD_SIG, ZIP64_LOCATOR_LEN,
};
use std::borrow::Cow;

/// Checks the archive an end record describes (see the [module
/// docs](super)). Reading its directory takes `cd_size` bytes of `budget`;
/// a directory larger than what is left ends the search
/// ([`Search::gave_up`]).
pub(super) fn validate(
    src: Source<'_>,
    end: &EndOfCentralDirectory,
    start: u64,
    budget: &mut u64,
    s: &mut Search,
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
    if let Some(z) = end.zip64_offset
        && !zip64_records_agree(src, end, z)?
    {
        return Ok(false);
    }
    let Some(dir) = read_directory(src, cd_start, end.cd_size)? else {
        return Ok(false);
    };
    // The walker's rule (entries back to back, exactly filling the
    // directory, the count confirming them), then: every member lies
    // before the directory.
    let mut first: Option<u64> = None;
    for e in Directory::of(end).alone().entries(&dir) {
        let Some(local) = e.ok().and_then(|e| member_before(&e, end.prefix, cd_start)) else {
            return Ok(false);
        };
        first = Some(first.map_or(local, |f| f.min(local)));
    }
    // The first member starts with a local header.
    match first {
        Some(f) => Ok(*src.read(f, 4)? == LOCAL_SIG.to_le_bytes()),
        None => Ok(true),
    }
}

/// The ZIP64 record at `z` ends where the locator begins (its size field
/// says so), and the locator points at it (absolute, or relative to the
/// archive start).
fn zip64_records_agree(src: Source<'_>, end: &EndOfCentralDirectory, z: u64) -> Result<bool> {
    let Some(loc) = end.eocd_offset.checked_sub(ZIP64_LOCATOR_LEN as u64) else {
        return Ok(false);
    };
    let b = src.read(loc, ZIP64_LOCATOR_LEN)?;
    let Ok(locator) = block_at::<Zip64LocatorBlock>(&b, 0, loc, "ZIP64 locator") else {
        return Ok(false);
    };
    let recorded = locator.zip64_offset.get();
    let b = src.read(z, ZIP64_EOCD_LEN)?;
    let Ok(record) = block_at::<Zip64EocdBlock>(&b, 0, z, "ZIP64 end record") else {
        return Ok(false);
    };
    let size = record.record_size.get();
    let record_ok = record.signature.get() == ZIP64_EOCD_SIG
        && size >= (ZIP64_EOCD_LEN - 12) as u64
        && z.checked_add(12).and_then(|e| e.checked_add(size)) == Some(loc);
    Ok(record_ok && (recorded == z || Some(recorded) == z.checked_sub(end.prefix)))
}

/// The `size` bytes of the directory at `at`, or `None` if they do not
/// start with an entry signature or the source ends first. One read of at
/// most the directory's size (which the caller's budget bounds); a memory
/// source is borrowed, not copied.
fn read_directory(src: Source<'_>, at: u64, size: u64) -> Result<Option<Cow<'_, [u8]>>> {
    let Ok(n) = usize::try_from(size) else {
        return Ok(None);
    };
    if n > 0 && *src.read(at, 4)? != CENTRAL_SIG.to_le_bytes() {
        return Ok(None);
    }
    let dir = src.read(at, n)?;
    Ok((dir.len() == n).then_some(dir))
}

/// Where the member of entry `e` starts (absolute), if its local header,
/// name and data lie before the directory at `cd_start`.
fn member_before(e: &CentralEntryRef<'_>, prefix: u64, cd_start: u64) -> Option<u64> {
    let local = e.local_header_offset.checked_add(prefix)?;
    let min_end = local.checked_add((LOCAL_HEADER_LEN + e.name.len()) as u64)?;
    (min_end <= cd_start && e.compressed_size <= cd_start - min_end).then_some(local)
}
