//! Carrying out a recovery plan: in place (moving the data, then the
//! header) or into a new file renamed over the output.

use super::RecoveryReport;
use super::plan::{Plan, plan, unrecoverable};
use crate::error::{Error, Result};
use crate::fs::lock::ReplaceLock;
use crate::fs::temp::TempFile;
use crate::fs::{self, io_at, loc};
use crate::npy::header::{Header, Version};
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// [`plan`], then rewrites `file` in place (unless nothing changes) and
/// fsyncs.
#[allow(clippy::too_many_arguments)]
pub(super) fn rebuild(
    file: &File,
    path: &Path,
    header: Header,
    old_off: u64,
    file_len: u64,
    zerofill: bool,
    rows_before: Option<u64>,
    versions: &[Version],
    require_room: bool,
) -> Result<RecoveryReport> {
    let p = plan(
        file,
        path,
        header,
        old_off,
        file_len,
        zerofill,
        rows_before,
        versions,
        require_room,
    )?;
    if !p.unchanged {
        relocate(file, path, p.old_off, p.new_off, p.kept, &p.hb)?;
    }
    Ok(p.report)
}

/// Writes the result of `p` (read from `file`, the input at `input`) to a
/// temporary file beside `output` and renames it over `output`: on error
/// `output` keeps its old bytes (or stays absent) and the input is never
/// written.
pub(super) fn write_plan_to(file: &File, input: &Path, output: &Path, p: &Plan) -> Result<()> {
    // The writer lock of `output` and a shared lock on the file it names now
    // (see the lock protocol in `crate::fs`).
    let replace = ReplaceLock::take(output)?;
    let mut tmp = TempFile::new_beside(output)?;
    tmp.file
        .write_all_at(&p.hb, 0)
        .map_err(|e| io_at("write", e, tmp.path(), 0))?;
    let file_len = fs::file_len(file, input)?;
    let present = file_len.saturating_sub(p.old_off).min(p.kept);
    let mut src = file;
    src.seek(SeekFrom::Start(p.old_off))
        .map_err(|e| io_at("seek", e, input, p.old_off))?;
    tmp.file
        .seek(SeekFrom::Start(p.new_off))
        .map_err(|e| io_at("seek", e, tmp.path(), p.new_off))?;
    let copied = io::copy(&mut io::Read::take(src, present), &mut tmp.file)
        .map_err(|e| io_at("copy", e, input, p.old_off))?;
    if copied != present {
        return Err(unrecoverable(
            "the input shrank while it was being recovered",
            input,
            p.old_off.saturating_add(copied),
        ));
    }
    // Zero-fill (if any) past the copied bytes.
    let end = p.new_off.saturating_add(p.kept);
    tmp.file
        .set_len(end)
        .map_err(|e| io_at("resize", e, tmp.path(), end))?;
    let perms_from = replace.old_file().unwrap_or(file);
    tmp.persist(output, Some(perms_from))
}

/// Puts `kept` data bytes found at `old_off` (zeros past the end of the file)
/// at `new_off = hb.len()`, writes the header `hb`, sets the file length and
/// fsyncs. Not crash-safe while data is being moved.
pub(super) fn relocate(
    file: &File,
    path: &Path,
    old_off: u64,
    new_off: u64,
    kept: u64,
    hb: &[u8],
) -> Result<()> {
    let overflow = || Error::ShapeOverflow {
        at: loc(path, old_off),
    };
    let end = new_off.checked_add(kept).ok_or_else(overflow)?;
    if new_off != old_off {
        // Long enough for source and destination (zeros past the old end).
        let work = old_off
            .max(new_off)
            .checked_add(kept)
            .ok_or_else(overflow)?;
        file.set_len(work)
            .map_err(|e| io_at("resize", e, path, work))?;
        fs::move_data(file, path, old_off, new_off, kept)?;
    }
    file.set_len(end)
        .map_err(|e| io_at("resize", e, path, end))?;
    file.write_all_at(hb, 0)
        .map_err(|e| io_at("write", e, path, 0))?;
    file.sync_all().map_err(|e| io_at("fsync", e, path, 0))
}
