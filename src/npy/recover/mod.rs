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

mod appendable;
mod plan;
mod write;

pub use appendable::{AppendableMode, ensure_appendable};
use plan::{Plan, plan};
use write::{rebuild, write_plan_to};

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::fs;
use crate::fs::lock::{ExclusiveLock, SharedLock, Wait};
use crate::npy::header::{Header, Order, Version};
use crate::npy::rows::growth_rows;
use crate::npy::state::{self, FileState};
use std::fs::File;
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

impl RecoveryReport {
    /// The report for a file that was already consistent: nothing changed.
    fn unchanged(rows_before: Option<u64>, data_offset: u64) -> RecoveryReport {
        RecoveryReport {
            rows_before,
            rows_after: rows_before.unwrap_or(0),
            bytes_dropped: 0,
            bytes_zero_filled: 0,
            data_offset_before: data_offset,
            data_offset_after: data_offset,
            changed: false,
        }
    }
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
        return Ok(RecoveryReport::unchanged(rows_before, old_off));
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
            report: RecoveryReport::unchanged(rows_before, old_off),
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
