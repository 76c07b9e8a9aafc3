//! Repairing `.npy` files whose data length disagrees with the header (an
//! interrupted download or append), rebuilding damaged headers, and making
//! files appendable.
//!
//! ```
//! use npzmap::{npy, npy::NpyAppender, Element, Order};
//! use std::io::Write;
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("log.npy");
//! let app = NpyAppender::create(&path, u16::dtype(), &[2], Order::C).unwrap();
//! app.append(&[1u16, 2, 3, 4], &[2, 2]).unwrap();
//! app.close().unwrap();
//! // a crash left one and a half rows behind the header's back
//! std::fs::OpenOptions::new().append(true).open(&path).unwrap()
//!     .write_all(&[5, 0, 6, 0, 7, 0]).unwrap();
//! assert!(npy::needs_recovery(&path).unwrap());
//! let report = npy::recover(&path, false).unwrap();
//! assert_eq!((report.rows_before, report.rows_after), (Some(2), 3));
//! assert_eq!(report.bytes_dropped, 2);
//! let f = npy::NpyFile::open(&path).unwrap();
//! assert_eq!(f.view().to_vec::<u16>().unwrap(), vec![1, 2, 3, 4, 5, 6]);
//! ```

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::undocumented_unsafe_blocks,
    missing_docs,
    missing_debug_implementations
)]

use crate::dtype::DType;
use crate::error::{Error, Location, Result};
use crate::fs::lock::{ExclusiveLock, ReplaceLock, SharedLock, Wait};
use crate::fs::temp::TempFile;
use crate::fs::{self, io_at, loc};
use crate::npy::header::{Header, Order, Version};
use crate::npy::rows::{growth_rows, set_axis_len};
use crate::npy::state::{self, FileState, open_consistent};
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// What [`recover`] / [`recover_with`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// Length of the growth axis the old header claimed (`None` if the old
    /// header could not be read).
    pub rows_before: Option<u64>,
    /// Length of the growth axis now.
    pub rows_after: u64,
    /// Bytes of an incomplete last row that were cut off.
    pub bytes_dropped: u64,
    /// Zero bytes added to complete the last row (`zerofill`).
    pub bytes_zero_filled: u64,
    /// Where the data started before.
    pub data_offset_before: u64,
    /// Where the data starts now (differs when the header had to grow).
    pub data_offset_after: u64,
    /// False if the file was already consistent and left untouched.
    pub changed: bool,
}

/// True if the file's data length disagrees with its header, i.e.
/// [`recover`] would change it. Errors if the header itself cannot be read
/// (then only [`recover_with`] can help).
pub fn needs_recovery(path: impl AsRef<Path>) -> Result<bool> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| Error::io_path("open", e, path))?;
    let st = FileState::read(&file, path)?;
    Ok(st.present() != st.data_len)
}

/// Makes a file whose data length disagrees with its header readable again:
/// the growth axis is set from the file size (the header's claim is
/// ignored). An incomplete last row is cut off, or with `zerofill` completed
/// with zeros. The header keeps its length if the new shape fits, else it is
/// rebuilt with numpy's spare room and the data moved behind it.
///
/// A consistent file is left untouched (`changed == false`). Damaged 0-d
/// arrays and arrays whose rows have zero bytes cannot be recovered (the file
/// size says nothing about the row count): [`Error::Unrecoverable`]. Holds the
/// exclusive lock while working: [`Error::Locked`] while any reader, writer
/// or modifier of the file is live (see the [lock protocol](crate::fs)).
pub fn recover(path: impl AsRef<Path>, zerofill: bool) -> Result<RecoveryReport> {
    let path = path.as_ref();
    let file = ExclusiveLock::open(path)?;
    let st = FileState::read(&file, path)?;
    let old_off = st.parsed.data_offset;
    let header = st.parsed.header.clone();
    let rows_before = growth_rows(&header);
    if st.present() == st.data_len {
        return Ok(RecoveryReport {
            rows_before,
            rows_after: rows_before.unwrap_or(0),
            bytes_dropped: 0,
            bytes_zero_filled: 0,
            data_offset_before: old_off,
            data_offset_after: old_off,
            changed: false,
        });
    }
    rebuild(
        &file,
        path,
        header,
        old_off,
        st.file_len,
        zerofill,
        rows_before,
        &[st.parsed.version],
        false,
    )
}

/// Caller knowledge for [`recover_with`]: what the array is, when its header
/// is truncated or garbled.
///
/// Where the data starts: `data_offset` if given; else the old header's
/// length field if the magic, version and length are still readable (and
/// point inside the file); else the length of the header `np.save` (and
/// npzmap) writes for this dtype, tail shape and order (e.g. 128 bytes for
/// `<f8` with a short shape). Pass `data_offset` whenever the file may come
/// from another writer.
#[derive(Debug, Clone)]
pub struct RecoverWith {
    /// The element type.
    pub dtype: DType,
    /// The shape without the growth axis.
    pub tail_shape: Vec<u64>,
    /// The memory order (decides which axis grows).
    pub order: Order,
    /// Where the array data starts in the damaged file (see above).
    pub data_offset: Option<u64>,
    /// Complete an incomplete last row with zeros instead of dropping it.
    pub zerofill: bool,
}

impl RecoverWith {
    /// Caller knowledge with `data_offset: None`, `zerofill: false`.
    pub fn new(dtype: DType, tail_shape: &[u64], order: Order) -> RecoverWith {
        RecoverWith {
            dtype,
            tail_shape: tail_shape.to_vec(),
            order,
            data_offset: None,
            zerofill: false,
        }
    }

    /// Sets where the data starts.
    pub fn data_offset(mut self, offset: u64) -> Self {
        self.data_offset = Some(offset);
        self
    }

    /// Sets zero-filling of an incomplete last row.
    pub fn zerofill(mut self, yes: bool) -> Self {
        self.zerofill = yes;
        self
    }
}

/// Rebuilds the header of a file whose header is damaged, from caller
/// knowledge (see [`RecoverWith`] for how the data start is found). The
/// growth axis is set from the file size as in [`recover`]. The new header
/// keeps the old length if it fits with numpy's spare room; otherwise it is
/// the standard header and the data is moved (in chunks) behind it.
///
/// ```
/// use npzmap::{npy, npy::RecoverWith, Element, Order};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("a.npy");
/// npy::write(&path, &[1.0f32, 2.0, 3.0, 4.0], &[2, 2], Order::C).unwrap();
/// let mut bytes = std::fs::read(&path).unwrap();
/// bytes[..40].fill(b'#'); // header garbled
/// std::fs::write(&path, &bytes).unwrap();
/// let r = npy::recover_with(&path, &RecoverWith::new(f32::dtype(), &[2], Order::C)).unwrap();
/// assert_eq!(r.rows_after, 2);
/// let f = npy::NpyFile::open(&path).unwrap();
/// assert_eq!(f.view().to_vec::<f32>().unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
/// ```
pub fn recover_with(path: impl AsRef<Path>, with: &RecoverWith) -> Result<RecoveryReport> {
    let path = path.as_ref();
    let file = ExclusiveLock::open(path)?;
    let (header, old_off, file_len, rows_before) = with_facts(&file, path, with)?;
    rebuild(
        &file,
        path,
        header,
        old_off,
        file_len,
        with.zerofill,
        rows_before,
        &[Version::V1, Version::V2, Version::V3],
        true,
    )
}

fn unrecoverable(reason: impl Into<String>, path: &Path, offset: u64) -> Error {
    Error::Unrecoverable {
        reason: reason.into(),
        at: loc(path, offset),
    }
}

/// What [`rebuild`] (or a copy-mode recovery) will write: the new header,
/// where the data goes and how much of it.
struct Plan {
    hb: Vec<u8>,
    old_off: u64,
    new_off: u64,
    /// Data bytes of the result (zero-filled past the end of the input).
    kept: u64,
    unchanged: bool,
    report: RecoveryReport,
}

/// Sets the growth axis of `header` from the bytes after `old_off` and
/// decides the header to write (keeping `old_off` if one of `versions` fits
/// there, and with `require_room` only if numpy's spare room fits too; else
/// the standard header). Reads `file` only.
#[allow(clippy::too_many_arguments)]
fn plan(
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

/// [`plan`], then rewrites `file` in place (unless nothing changes) and
/// fsyncs.
#[allow(clippy::too_many_arguments)]
fn rebuild(
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
fn write_plan_to(file: &File, input: &Path, output: &Path, p: &Plan) -> Result<()> {
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

/// Copy-mode [`recover`]: reads `input` (never writes it) and writes the
/// recovered file to `output` through a temporary file beside it, renamed
/// over `output` only on success. A consistent input is copied unchanged
/// (`changed == false`). On any error every existing file is left as it
/// was, and the error names the input (path and offset) when the input is
/// what cannot be recovered. `output` may be `input` (then it is replaced
/// atomically). The input is read under its shared lock ([`Error::Locked`]
/// while an in-place modifier holds it); `output` is replaced under the
/// writer lock ([`Error::Locked`] while another writer holds it).
pub fn recover_to(
    input: impl AsRef<Path>,
    output: impl AsRef<Path>,
    zerofill: bool,
) -> Result<RecoveryReport> {
    let (input, output) = (input.as_ref(), output.as_ref());
    let file = open_shared(input)?;
    let st = FileState::read(&file, input)?;
    let header = st.parsed.header.clone();
    let rows_before = growth_rows(&header);
    let old_off = st.parsed.data_offset;
    let p = if st.present() == st.data_len {
        // Nothing to repair: the output is a copy of the input.
        Plan {
            hb: Vec::new(),
            old_off: 0,
            new_off: 0,
            kept: st.file_len,
            unchanged: true,
            report: RecoveryReport {
                rows_before,
                rows_after: rows_before.unwrap_or(0),
                bytes_dropped: 0,
                bytes_zero_filled: 0,
                data_offset_before: old_off,
                data_offset_after: old_off,
                changed: false,
            },
        }
    } else {
        plan(
            &file,
            input,
            header,
            old_off,
            st.file_len,
            zerofill,
            rows_before,
            &[st.parsed.version],
            false,
        )?
    };
    write_plan_to(&file, input, output, &p)?;
    Ok(p.report)
}

/// Copy-mode [`recover_with`]: as [`recover_to`], with caller knowledge of
/// the array for a damaged header. `input` is never written; `output` is
/// replaced only on success.
pub fn recover_with_to(
    input: impl AsRef<Path>,
    output: impl AsRef<Path>,
    with: &RecoverWith,
) -> Result<RecoveryReport> {
    let (input, output) = (input.as_ref(), output.as_ref());
    let file = open_shared(input)?;
    let (header, old_off, file_len, rows_before) = with_facts(&file, input, with)?;
    let p = plan(
        &file,
        input,
        header,
        old_off,
        file_len,
        with.zerofill,
        rows_before,
        &[Version::V1, Version::V2, Version::V3],
        true,
    )?;
    write_plan_to(&file, input, output, &p)?;
    Ok(p.report)
}

/// Opens `path` read-only under the shared advisory lock
/// ([`Error::Locked`] while an in-place modifier holds it).
fn open_shared(path: &Path) -> Result<SharedLock> {
    let file = File::open(path).map_err(|e| Error::io_path("open", e, path))?;
    SharedLock::take(file, path, Wait::No)
}

/// The header, data start, file length and old row count [`recover_with`]
/// works from.
fn with_facts(
    file: &File,
    path: &Path,
    with: &RecoverWith,
) -> Result<(Header, u64, u64, Option<u64>)> {
    let file_len = fs::file_len(file, path)?;
    let mut shape = Vec::with_capacity(with.tail_shape.len() + 1);
    if with.order == Order::Fortran {
        shape.extend_from_slice(&with.tail_shape);
        shape.push(0);
    } else {
        shape.push(0);
        shape.extend_from_slice(&with.tail_shape);
    }
    let header = Header::new(with.dtype.clone(), shape, with.order);
    let standard = header.to_bytes().map_err(|e| e.at_path(path))?.len() as u64;
    let old_off = match with.data_offset {
        Some(o) => o,
        None => match state::read_file_prefix(file, path) {
            Ok((_, o)) if o <= file_len => o,
            _ => standard,
        },
    };
    let rows_before = state::read_file_header(file, path)
        .ok()
        .and_then(|p| growth_rows(&p.header));
    Ok((header, old_off, file_len, rows_before))
}

/// Puts `kept` data bytes found at `old_off` (zeros past the end of the file)
/// at `new_off = hb.len()`, writes the header `hb`, sets the file length and
/// fsyncs. Not crash-safe while data is being moved.
fn relocate(
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

/// How [`ensure_appendable`] makes room in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendableMode {
    /// Move the data towards the end of the same file in bounded chunks
    /// (16 MiB), starting from the end, then write the new header. Needs no
    /// extra disk space but is not crash-safe while the data moves.
    InPlace,
    /// Write a new file beside the old one (same directory, same
    /// permissions), fsync it, rename it over the old one and fsync the
    /// directory. Atomic: a crash leaves either the old or the new file.
    Copy,
}

/// Makes sure the header has numpy's spare room for the growth axis (21
/// digits), so appends never fail with [`Error::HeaderFull`]. Returns `true`
/// if the file was rewritten, `false` if it already had the room (then it is
/// left untouched). The file must be consistent (else run [`recover`]) and
/// not 0-d.
///
/// ```
/// use npzmap::{npy, npy::AppendableMode, Order, Header, Element};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("legacy.npy");
/// // a legacy header without spare room: as short as its text allows
/// let h = Header::new(u8::dtype(), vec![3], Order::C);
/// let mut bytes = (16..200)
///     .find_map(|n| h.to_bytes_exact(npy::Version::V1, n).ok())
///     .unwrap();
/// bytes.extend_from_slice(&[1, 2, 3]);
/// std::fs::write(&path, &bytes).unwrap();
/// assert!(npy::ensure_appendable(&path, AppendableMode::InPlace).unwrap());
/// assert!(!npy::ensure_appendable(&path, AppendableMode::Copy).unwrap());
/// let f = npy::NpyFile::open(&path).unwrap();
/// assert_eq!(f.parsed_header().data_offset, 128);
/// assert_eq!(f.view().as_bytes(), &[1, 2, 3]);
/// ```
pub fn ensure_appendable(path: impl AsRef<Path>, mode: AppendableMode) -> Result<bool> {
    let path = path.as_ref();
    match mode {
        AppendableMode::InPlace => {
            let (file, st) = open_consistent(path)?;
            make_appendable(&file, st, path, mode)
        }
        AppendableMode::Copy => {
            // The copy is renamed over the name: readers keep the old file.
            let replace = ReplaceLock::take(path)?;
            let Some(file) = replace.old_file() else {
                let e = io::Error::from(io::ErrorKind::NotFound);
                return Err(Error::io_path("open", e, path));
            };
            let st = FileState::read(file, path)?;
            st.check_consistent(path)?;
            make_appendable(file, st, path, mode)
        }
    }
}

fn make_appendable(file: &File, st: FileState, path: &Path, mode: AppendableMode) -> Result<bool> {
    let header = &st.parsed.header;
    let Some(axis) = header.growth_axis() else {
        return Err(Error::ShapeMismatch {
            reason: "a 0-d array has no growth axis and cannot be made appendable".into(),
            at: Location::path(path),
        });
    };
    let old_off = st.parsed.data_offset;
    if has_growth_room(header, axis, st.parsed.version, old_off, path)? {
        return Ok(false);
    }
    let hb = header.to_bytes().map_err(|e| e.at_path(path))?;
    let new_off = hb.len() as u64;
    match mode {
        AppendableMode::InPlace => relocate(file, path, old_off, new_off, st.data_len, &hb)?,
        AppendableMode::Copy => {
            let mut tmp = TempFile::new_beside(path)?;
            tmp.file
                .write_all_at(&hb, 0)
                .map_err(|e| io_at("write", e, tmp.temp.path(), 0))?;
            let mut src = file;
            src.seek(SeekFrom::Start(old_off))
                .map_err(|e| io_at("seek", e, path, old_off))?;
            tmp.file
                .seek(SeekFrom::Start(new_off))
                .map_err(|e| io_at("seek", e, tmp.temp.path(), new_off))?;
            let copied = io::copy(&mut io::Read::take(src, st.data_len), &mut tmp.file)
                .map_err(|e| io_at("copy", e, path, old_off))?;
            if copied != st.data_len {
                return Err(Error::DataTooShort {
                    expected: st.data_len,
                    actual: copied,
                    at: loc(path, old_off),
                });
            }
            tmp.persist(path, Some(file))?;
        }
    }
    Ok(true)
}

/// True if the header at `data_offset` can hold a growth axis of 21 digits
/// (numpy's `len(str(8 * 2**64 - 1))`): a 20-digit value fits one byte
/// short of the current length.
fn has_growth_room(
    header: &Header,
    axis: usize,
    version: Version,
    data_offset: u64,
    path: &Path,
) -> Result<bool> {
    let mut widest = header.clone();
    set_axis_len(&mut widest, axis, u64::MAX);
    match widest.to_bytes_exact(version, data_offset.saturating_sub(1)) {
        Ok(_) => Ok(true),
        Err(Error::HeaderFull { .. }) => Ok(false),
        Err(e) => Err(e.at_path(path)),
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use crate::dtype::Element;

    #[test]
    fn growth_room_means_21_digits() {
        let h = Header::new(u8::dtype(), vec![7, 2], Order::C);
        // np.save-style header: exactly the room numpy leaves
        let full = h.to_bytes().unwrap();
        assert!(has_growth_room(&h, 0, Version::V1, full.len() as u64, Path::new("x")).unwrap());
        // the tightest header that still holds 21 digits
        let text = h.dict_text().len() as u64;
        let need = 10 + text - 1 + 21 + 1;
        assert!(has_growth_room(&h, 0, Version::V1, need, Path::new("x")).unwrap());
        assert!(!has_growth_room(&h, 0, Version::V1, need - 1, Path::new("x")).unwrap());
        // Fortran: the last axis grows
        let f = Header::new(u8::dtype(), vec![2, 7], Order::Fortran);
        let text = f.dict_text().len() as u64;
        let need = 10 + text - 1 + 21 + 1;
        assert!(has_growth_room(&f, 1, Version::V1, need, Path::new("x")).unwrap());
        assert!(!has_growth_room(&f, 1, Version::V1, need - 1, Path::new("x")).unwrap());
    }
}
