//! Replacing a whole `.npy` file atomically and updating rows in place
//! (the "overwrite" and "update" approaches of a NumpySaver).
//!
//! ```
//! use npzmap::{npy, Order};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("values.npy");
//! npy::overwrite_slice(&path, &[0i64; 10], &[10], Order::C).unwrap();
//! npy::update(&path, &[2, 5, 8], &[99i64, 88, 77]).unwrap();
//! let f = npy::NpyFile::open(&path).unwrap();
//! assert_eq!(f.view().to_vec::<i64>().unwrap(), vec![0, 0, 99, 0, 0, 88, 0, 0, 77, 0]);
//! ```

use crate::dtype::Element;
use crate::error::{Error, Location, Result};
use crate::fs::io_at;
use crate::fs::lock::ReplaceLock;
use crate::fs::temp::TempFile;
use crate::npy::header::{Header, Order};
use crate::npy::rows::{axis_len, block_rows};
use crate::npy::state::open_consistent;
use crate::view::ArrayView;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Replaces (or creates) `path` with the array atomically: the new file is
/// written beside it in the same directory, fsynced and renamed over it,
/// then the directory is fsynced. At no moment is there a half-written file
/// at `path`; a crash leaves the old file or the new one. An existing file
/// keeps its permissions. Readers that mapped the old file keep its bytes;
/// [`Error::Locked`] while an appender or a modifier holds the file (see the
/// [lock protocol](crate::fs)).
/// The header is byte-identical to `np.save`'s.
pub fn overwrite(path: impl AsRef<Path>, view: &ArrayView<'_>) -> Result<()> {
    let path = path.as_ref();
    let replace = ReplaceLock::take(path)?;
    let header = Header::for_array(view.dtype().clone(), view.shape().to_vec(), view.order());
    let hb = header.to_bytes().map_err(|e| e.at_path(path))?;
    let tmp = TempFile::new_beside(path)?;
    tmp.file
        .write_all_at(&hb, 0)
        .map_err(|e| io_at("write", e, tmp.path(), 0))?;
    let at = hb.len() as u64;
    tmp.file
        .write_all_at(view.as_bytes(), at)
        .map_err(|e| io_at("write", e, tmp.path(), at))?;
    // The locks are held until after the rename.
    tmp.persist(path, replace.old_file())
}

/// [`overwrite`] from a typed slice holding an array of `shape` in `order`.
pub fn overwrite_slice<T: Element>(
    path: impl AsRef<Path>,
    data: &[T],
    shape: &[u64],
    order: Order,
) -> Result<()> {
    let path = path.as_ref();
    let view = ArrayView::from_slice(data, shape, order).map_err(|e| e.at_path(path))?;
    overwrite(path, &view)
}

/// Writes rows at the given indices of the growth axis (axis 0 for C order,
/// the last axis for Fortran order, where such a row is contiguous too) in
/// place, touching nothing else. `rows` holds `indices.len()` rows one after
/// the other, each in the file's memory order.
///
/// Every index is checked before anything is written; a repeated index is
/// written in order (the last one wins). The data is fsynced before return.
///
/// Errors: a missing file is [`Error::Io`] with kind
/// [`std::io::ErrorKind::NotFound`]; [`Error::IndexOutOfRange`];
/// [`Error::ShapeMismatch`] when `rows` does not hold exactly
/// `indices.len()` rows; [`Error::DTypeMismatch`] unless `T`'s dtype is
/// exactly the file's; [`Error::Locked`] while any reader (a live view of
/// the file), writer or modifier holds the file, in this process or another
/// (see the [lock protocol](crate::fs)).
pub fn update<T: Element>(path: impl AsRef<Path>, indices: &[u64], rows: &[T]) -> Result<()> {
    let path = path.as_ref();
    update_impl(path, indices, |file_header| {
        let dtype = T::dtype();
        if dtype != file_header.dtype {
            return Err(Error::DTypeMismatch {
                expected: file_header.dtype.descr(),
                found: dtype.descr(),
                at: Location::path(path),
            });
        }
        Ok(bytemuck::cast_slice(rows))
    })
}

/// [`update`] from a view of shape `[k, tail...]` (C order) or
/// `[tail..., k]` (Fortran order) with `k == indices.len()`: row `i` of
/// the view goes to index `indices[i]`.
pub fn update_view(path: impl AsRef<Path>, indices: &[u64], rows: &ArrayView<'_>) -> Result<()> {
    let path = path.as_ref();
    update_impl(path, indices, |file_header| {
        let k = block_rows(file_header, rows.header(), path)?;
        if k != indices.len() as u64 {
            return Err(Error::ShapeMismatch {
                reason: format!("{} indices but {k} rows", indices.len()),
                at: Location::path(path),
            });
        }
        Ok(rows.as_bytes())
    })
}

fn update_impl<'d>(
    path: &Path,
    indices: &[u64],
    data: impl FnOnce(&Header) -> Result<&'d [u8]>,
) -> Result<()> {
    let (file, st) = open_consistent(path)?;
    let header = &st.parsed.header;
    let Some(axis) = header.growth_axis() else {
        return Err(Error::ShapeMismatch {
            reason: "a 0-d array has no rows to update".into(),
            at: Location::path(path),
        });
    };
    let len = axis_len(header, axis);
    let row_len = header.row_len().map_err(|e| e.at_path(path))?.unwrap_or(0);
    let bytes = data(header)?;
    let want = (indices.len() as u64)
        .checked_mul(row_len)
        .ok_or(Error::ShapeOverflow {
            at: Location::path(path),
        })?;
    if bytes.len() as u64 != want {
        return Err(Error::ShapeMismatch {
            reason: format!(
                "{} indices need {want} bytes of rows ({row_len} per row), got {}",
                indices.len(),
                bytes.len()
            ),
            at: Location::path(path),
        });
    }
    if let Some(&index) = indices.iter().find(|&&i| i >= len) {
        return Err(Error::IndexOutOfRange {
            index,
            len,
            at: Location::path(path),
        });
    }
    if row_len == 0 {
        return Ok(());
    }
    // row_len > 0 and bytes.len() == indices.len() * row_len, so it fits usize.
    let step = row_len as usize;
    for (&i, row) in indices.iter().zip(bytes.chunks_exact(step)) {
        // i < len, and data_offset + len * row_len == file length.
        let at = st.parsed.data_offset + i * row_len;
        file.write_all_at(row, at)
            .map_err(|e| io_at("write", e, path, at))?;
    }
    file.sync_data().map_err(|e| io_at("fsync", e, path, 0))
}
