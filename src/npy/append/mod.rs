//! Appending to `.npy` files along the growth axis.
//!
//! ```
//! use npzmap::{npy::NpyAppender, DType, Order, Element};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("log.npy");
//! let app = NpyAppender::create(&path, f64::dtype(), &[3], Order::C).unwrap();
//! app.append(&[1.0f64, 2.0, 3.0], &[1, 3]).unwrap();
//! app.append(&[4.0f64, 5.0, 6.0, 7.0, 8.0, 9.0], &[2, 3]).unwrap();
//! assert_eq!(app.shape(), vec![3, 3]);
//! app.close().unwrap();
//! let f = npzmap::npy::NpyFile::open(&path).unwrap();
//! assert_eq!(f.view().to_vec::<f64>().unwrap()[3..6], [4.0, 5.0, 6.0]);
//! ```

mod inner;
mod options;

use inner::Inner;
pub use options::AppendOptions;

use crate::dtype::{DType, Element, checked_size};
use crate::error::{Error, Location, Result};
use crate::fs::lock::WriterLock;
use crate::npy::header::{Header, Order};
use crate::npy::rows::growth_rows;
use crate::npy::state::FileState;
use crate::view::ArrayView;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Appends arrays to a `.npy` file along its growth axis (axis 0 for C order,
/// the last axis for Fortran order), like `np.concatenate` on disk.
///
/// * The header is rewritten in place (same length, same version) after each
///   append, or only on flush/close/drop in "binary log" mode
///   ([`AppendOptions::rewrite_header_on_append`]). An append whose new shape
///   would not fit the header fails with [`Error::HeaderFull`] before any byte
///   is written (use [`ensure_appendable`](crate::npy::ensure_appendable)).
/// * dtype and the non-growth dimensions must match exactly; nothing is cast.
/// * A write that fails part-way is rolled back (the file is truncated to the
///   last complete append and the header restored); the appender stays usable.
/// * `append` takes `&self`: share the appender between threads; each block
///   lands whole. A second appender on the same file (in this or another
///   process) gets [`Error::Locked`] (OS advisory lock).
/// * Readers ([`NpyFile`](crate::npy::NpyFile), read-only maps) may stay
///   open while appending: appends only add bytes past the end and rewrite
///   the header's shape, never bytes a reader's view shows. Operations that
///   change bytes in place get [`Error::Locked`] while the appender is live
///   (see the [lock protocol](crate::fs)).
#[derive(Debug)]
pub struct NpyAppender {
    path: PathBuf,
    inner: Mutex<Inner>,
    /// One writer per path; released after the file (field order).
    _writer: WriterLock,
}

impl NpyAppender {
    /// Default options (header rewritten on every append, never replace).
    pub fn options() -> AppendOptions {
        AppendOptions::default()
    }

    /// Creates a new file for appending; [`Error::AlreadyExists`] if it
    /// exists. See [`AppendOptions::create`].
    pub fn create(
        path: impl AsRef<Path>,
        dtype: DType,
        tail_shape: &[u64],
        order: Order,
    ) -> Result<NpyAppender> {
        AppendOptions::default().create(path, dtype, tail_shape, order)
    }

    /// Opens an existing file for appending. See [`AppendOptions::open`].
    ///
    /// ```
    /// use npzmap::{npy, npy::NpyAppender, Order};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("a.npy");
    /// npy::write(&path, &[1i64, 2, 3, 4], &[2, 2], Order::C).unwrap(); // like np.save
    /// let app = NpyAppender::open(&path).unwrap();
    /// app.append(&[5i64, 6], &[1, 2]).unwrap();
    /// assert!(matches!(
    ///     app.append(&[5i32, 6], &[1, 2]),
    ///     Err(npzmap::Error::DTypeMismatch { .. })
    /// ));
    /// assert_eq!(app.shape(), vec![3, 2]);
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<NpyAppender> {
        AppendOptions::default().open(path)
    }

    fn from_state(
        path: &Path,
        writer: WriterLock,
        file: File,
        state: FileState,
        opts: &AppendOptions,
    ) -> Result<NpyAppender> {
        let header = state.parsed.header;
        let Some(axis) = header.growth_axis() else {
            return Err(Error::ShapeMismatch {
                reason: "a 0-d array has no growth axis and cannot be appended to".into(),
                at: Location::path(path),
            });
        };
        let row_len = header.row_len().map_err(|e| e.at_path(path))?.unwrap_or(0);
        Ok(NpyAppender {
            path: path.to_path_buf(),
            inner: Mutex::new(Inner {
                file: Some(file),
                header,
                version: state.parsed.version,
                data_offset: state.parsed.data_offset,
                data_len: state.data_len,
                row_len,
                axis,
                dirty: false,
                rewrite: opts.rewrite_header_on_append,
                broken: false,
                #[cfg(feature = "test-hooks")]
                fault: None,
                fits_below: 0,
                buf: Vec::new(),
                buf_cap: opts.buffer_bytes,
            }),
            _writer: writer,
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>> {
        self.inner.lock().map_err(|_| Error::Closed {
            at: Location::path(&self.path),
        })
    }

    fn snapshot(&self) -> (Header, u64) {
        match self.inner.lock() {
            Ok(g) => (g.header.clone(), g.data_len),
            Err(p) => {
                let g = p.into_inner();
                (g.header.clone(), g.data_len)
            }
        }
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current header (shape including every completed append).
    pub fn header(&self) -> Header {
        self.snapshot().0
    }

    /// The current shape.
    pub fn shape(&self) -> Vec<u64> {
        self.snapshot().0.shape
    }

    /// Length of the growth axis.
    pub fn len(&self) -> u64 {
        let h = self.snapshot().0;
        growth_rows(&h).unwrap_or(0)
    }

    /// True if the growth axis is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a typed slice holding an array of `shape`, laid out in the
    /// file's order. Its dtype and non-growth dimensions must match.
    pub fn append<T: Element>(&self, data: &[T], shape: &[u64]) -> Result<()> {
        let dtype = T::dtype();
        let bytes: &[u8] = bytemuck::cast_slice(data);
        // The checks `ArrayView::new` would make, without building a view
        // (no header or shape allocation per append).
        let need = checked_size(dtype.itemsize(), shape).ok_or_else(|| Error::ShapeOverflow {
            at: Location::path(&self.path),
        })?;
        if need != bytes.len() as u64 {
            return Err(Error::ShapeMismatch {
                reason: format!(
                    "shape {shape:?} does not match a slice of {} elements",
                    data.len()
                ),
                at: Location::path(&self.path),
            });
        }
        let mut g = self.lock()?;
        let order = g.header.order;
        g.append_parts(&self.path, &dtype, shape, order, bytes)
    }

    /// Appends an array view (any dtype, byte order kept). Its dtype must be
    /// exactly the file's, its non-growth dimensions equal, and its order the
    /// file's (or a shape that is both C- and Fortran-contiguous).
    pub fn append_view(&self, view: &ArrayView<'_>) -> Result<()> {
        let mut g = self.lock()?;
        g.append(&self.path, view)
    }

    /// Writes buffered appends (see [`AppendOptions::buffer_bytes`]) and the
    /// header if appends are pending ("binary log" mode).
    pub fn flush(&self) -> Result<()> {
        let mut g = self.lock()?;
        g.flush_header(&self.path)
    }

    /// Makes every completed append durable: fsyncs the data, then writes
    /// the header and fsyncs again.
    pub fn sync(&self) -> Result<()> {
        let mut g = self.lock()?;
        g.sync(&self.path)
    }

    /// Flushes, syncs and releases the file (and its lock).
    pub fn close(self) -> Result<()> {
        let mut g = self.lock()?;
        let r = g.sync(&self.path);
        g.file = None;
        r
    }

    /// Test hook (feature `test-hooks`): arms a one-shot write fault: the
    /// next writes succeed for `after_bytes` more bytes (data and header
    /// writes count), then fail with an I/O error, as a full disk would.
    #[cfg(feature = "test-hooks")]
    pub fn inject_write_fault(&self, after_bytes: u64) {
        if let Ok(mut g) = self.inner.lock() {
            g.fault = Some(after_bytes);
        }
    }
}

impl Drop for NpyAppender {
    fn drop(&mut self) {
        if let Ok(g) = self.inner.get_mut()
            && g.file.is_some()
        {
            let _ = g.flush_header(&self.path);
        }
    }
}
