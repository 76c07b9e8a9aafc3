//! Recovery plans: how many rows the bytes after the header hold and which
//! header to write. Reads only.

use super::RecoveryReport;
use crate::error::{Error, Result};
use crate::fs::loc;
use crate::npy::header::{Header, Version};
use crate::npy::rows::set_axis_len;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

pub(super) fn unrecoverable(reason: impl Into<String>, path: &Path, offset: u64) -> Error {
    Error::Unrecoverable {
        reason: reason.into(),
        at: loc(path, offset),
    }
}

/// What [`rebuild`] (or a copy-mode recovery) will write: the new header,
/// where the data goes and how much of it.
pub(super) struct Plan {
    pub(super) hb: Vec<u8>,
    pub(super) old_off: u64,
    pub(super) new_off: u64,
    /// Data bytes of the result (zero-filled past the end of the input).
    pub(super) kept: u64,
    pub(super) unchanged: bool,
    pub(super) report: RecoveryReport,
}

/// Sets the growth axis of `header` from the bytes after `old_off` and
/// decides the header to write (keeping `old_off` if one of `versions` fits
/// there, and with `require_room` only if numpy's spare room fits too; else
/// the standard header). Reads `file` only.
#[allow(clippy::too_many_arguments)]
pub(super) fn plan(
    file: &File,
    path: &Path,
    mut header: Header,
    old_off: u64,
    file_len: u64,
    zerofill: bool,
    rows_before: Option<u64>,
    versions: &[Version],
    require_room: bool,
) -> Result<Plan> {
    let Some(axis) = header.growth_axis() else {
        return Err(unrecoverable(
            "a 0-d array has no growth axis; its length cannot be inferred from the file size",
            path,
            old_off,
        ));
    };
    let row_len = header.row_len().map_err(|e| e.at_path(path))?.unwrap_or(0);
    if row_len == 0 {
        return Err(unrecoverable(
            "rows have zero bytes; the row count cannot be inferred from the file size",
            path,
            old_off,
        ));
    }
    if file_len < old_off {
        return Err(unrecoverable(
            format!("the file ({file_len} bytes) ends before the data start {old_off}"),
            path,
            old_off,
        ));
    }
    let available = file_len - old_off;
    let mut rows = available / row_len;
    let rem = available % row_len;
    let (mut dropped, mut zeros) = (rem, 0);
    if zerofill && rem > 0 {
        rows += 1;
        dropped = 0;
        zeros = row_len - rem;
    }
    let overflow = || Error::ShapeOverflow {
        at: loc(path, old_off),
    };
    let kept = rows.checked_mul(row_len).ok_or_else(overflow)?;
    set_axis_len(&mut header, axis, rows);
    header.data_len().map_err(|e| e.at_path(path))?;

    let standard = header.to_bytes().map_err(|e| e.at_path(path))?;
    let in_place = if require_room && (standard.len() as u64) > old_off {
        None
    } else {
        versions
            .iter()
            .find_map(|&v| header.to_bytes_exact(v, old_off).ok())
    };
    let hb = in_place.unwrap_or(standard);
    let new_off = hb.len() as u64;
    let end = new_off.checked_add(kept).ok_or_else(overflow)?;
    let unchanged = new_off == old_off && end == file_len && {
        let mut cur = vec![0u8; hb.len()];
        file.read_exact_at(&mut cur, 0).is_ok() && cur == hb
    };
    Ok(Plan {
        hb,
        old_off,
        new_off,
        kept,
        unchanged,
        report: RecoveryReport {
            rows_before,
            rows_after: rows,
            bytes_dropped: dropped,
            bytes_zero_filled: zeros,
            data_offset_before: old_off,
            data_offset_after: new_off,
            changed: !unchanged,
        },
    })
}
