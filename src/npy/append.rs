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

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::undocumented_unsafe_blocks,
    missing_docs,
    missing_debug_implementations
)]

use crate::dtype::{DType, Element, checked_size};
use crate::error::{Error, Location, Result};
use crate::fs::lock::{
    ReplaceLock, SharedLock, Wait, WriterLock, create_new_shared, open_for_append,
};
use crate::fs::temp::TempFile;
use crate::fs::{io_at, loc};
use crate::npy::header::{Header, Order, Version};
use crate::npy::rows::{axis_len, block_rows_of, growth_rows, set_axis_len};
use crate::npy::state::FileState;
use crate::view::ArrayView;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Options for [`NpyAppender`]; start with [`NpyAppender::options`].
///
/// ```
/// use npzmap::{npy::NpyAppender, Element, Order};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("log.npy");
/// // "binary log" mode: the header is only rewritten on flush/close/drop
/// let app = NpyAppender::options()
///     .rewrite_header_on_append(false)
///     .create(&path, u8::dtype(), &[2], Order::C)
///     .unwrap();
/// app.append(&[1u8, 2], &[1, 2]).unwrap();
/// app.flush().unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct AppendOptions {
    rewrite_header_on_append: bool,
    replace_existing: bool,
    buffer_bytes: usize,
}

impl Default for AppendOptions {
    fn default() -> Self {
        AppendOptions {
            rewrite_header_on_append: true,
            replace_existing: false,
            buffer_bytes: 0,
        }
    }
}

impl AppendOptions {
    /// The defaults (header rewritten on every append, no buffer, never
    /// replace); the same as [`NpyAppender::options`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Rewrite the header in place after every append (default `true`).
    /// With `false` the header is only rewritten by
    /// [`NpyAppender::flush`], [`NpyAppender::sync`], [`NpyAppender::close`]
    /// and on drop; a crash in between leaves a file that
    /// [`recover`](crate::npy::recover) repairs.
    pub fn rewrite_header_on_append(mut self, yes: bool) -> Self {
        self.rewrite_header_on_append = yes;
        self
    }

    /// Collect appends in a user-space buffer of this many bytes and write
    /// them in one system call when it fills, on [`NpyAppender::flush`],
    /// [`NpyAppender::sync`], [`NpyAppender::close`] and on drop (default
    /// 0: every append is handed to the OS before it returns). Only with
    /// `rewrite_header_on_append(false)`; appends larger than the buffer go
    /// straight to the file.
    ///
    /// This trades crash safety for speed on small appends: a process
    /// killed before a flush loses the appends still in the buffer (those
    /// flushed are kept, and [`recover`](crate::npy::recover) restores
    /// them). If writing the buffer fails, the buffered appends are dropped,
    /// the file is rolled back to the last flushed append and the error is
    /// returned by the call that triggered the write.
    ///
    /// ```
    /// use npzmap::{npy::NpyAppender, Element, Order};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("log.npy");
    /// let app = NpyAppender::options()
    ///     .rewrite_header_on_append(false)
    ///     .buffer_bytes(1 << 20)
    ///     .create(&path, f64::dtype(), &[1024], Order::C)
    ///     .unwrap();
    /// for _ in 0..100 {
    ///     app.append(&[0.5f64; 1024], &[1, 1024]).unwrap(); // 8 KiB each, buffered
    /// }
    /// app.close().unwrap(); // writes the buffer, then the header
    /// assert_eq!(npzmap::npy::NpyFile::open(&path).unwrap().header().shape, vec![100, 1024]);
    /// ```
    pub fn buffer_bytes(mut self, bytes: usize) -> Self {
        self.buffer_bytes = bytes;
        self
    }

    /// Let [`AppendOptions::create`] replace an existing file (default
    /// `false`: [`Error::AlreadyExists`]). The existing file is never
    /// truncated: the new one is written beside it and renamed over it, so
    /// readers that mapped the old file keep its bytes. [`Error::Locked`]
    /// while another writer or a modifier holds the old file (see the
    /// [lock protocol](crate::fs)).
    pub fn replace_existing(mut self, yes: bool) -> Self {
        self.replace_existing = yes;
        self
    }

    /// Creates a new, empty array file: shape `[0, tail...]` for C order or
    /// `[tail..., 0]` for Fortran order. The header has numpy's spare room
    /// for the growth axis.
    pub fn create(
        &self,
        path: impl AsRef<Path>,
        dtype: DType,
        tail_shape: &[u64],
        order: Order,
    ) -> Result<NpyAppender> {
        let path = path.as_ref();
        self.check(path)?;
        let mut shape = Vec::with_capacity(tail_shape.len() + 1);
        if order == Order::Fortran {
            shape.extend_from_slice(tail_shape);
            shape.push(0);
        } else {
            shape.push(0);
            shape.extend_from_slice(tail_shape);
        }
        let header = Header::new(dtype, shape, order);
        // Validates the tail shape (overflow) before touching the disk.
        header.row_len().map_err(|e| e.at_path(path))?;
        let bytes = header.to_bytes().map_err(|e| e.at_path(path))?;
        let (writer, file) = if self.replace_existing {
            // Never truncate: the new file is written beside the old one and
            // renamed over it, so readers that mapped the old file keep its
            // bytes and a failure leaves the old file as it was.
            let replace = ReplaceLock::take(path)?;
            let tmp = TempFile::new_beside(path)?;
            tmp.file
                .write_all_at(&bytes, 0)
                .map_err(|e| io_at("write", e, tmp.path(), 0))?;
            let TempFile { file, temp } = tmp;
            let file = SharedLock::take(file, path, Wait::No)?;
            temp.persist(&file, path, replace.old_file(), true)?;
            (replace.into_writer(), file)
        } else {
            let writer = WriterLock::take(path)?;
            let file = create_new_shared(path)?;
            file.write_all_at(&bytes, 0)
                .map_err(|e| io_at("write", e, path, 0))?;
            (writer, file)
        };
        let state = FileState::read(&file, path)?;
        NpyAppender::from_state(path, writer, file.into_file(), state, self)
    }

    /// Opens an existing file (written by `np.save`, npy-append-array or
    /// npzmap) for appending. The file length must agree with the header
    /// (otherwise [`Error::DataTooShort`] / [`Error::DataTooLong`]: run
    /// [`recover`](crate::npy::recover) first). 0-d arrays have no growth
    /// axis and are refused.
    pub fn open(&self, path: impl AsRef<Path>) -> Result<NpyAppender> {
        let path = path.as_ref();
        self.check(path)?;
        let (writer, file) = open_for_append(path)?;
        let state = FileState::read(&file, path)?;
        state.check_consistent(path)?;
        NpyAppender::from_state(path, writer, file.into_file(), state, self)
    }

    fn check(&self, path: &Path) -> Result<()> {
        if self.buffer_bytes > 0 && self.rewrite_header_on_append {
            return Err(Error::InvalidArgument {
                reason: "buffer_bytes needs rewrite_header_on_append(false): a header rewritten on every append would describe data still in the buffer".into(),
                at: Location::path(path),
            });
        }
        Ok(())
    }

    /// Opens `path` if it exists (its dtype, tail shape and order must be
    /// the ones given), else creates it.
    pub fn open_or_create(
        &self,
        path: impl AsRef<Path>,
        dtype: DType,
        tail_shape: &[u64],
        order: Order,
    ) -> Result<NpyAppender> {
        let path = path.as_ref();
        let create = AppendOptions {
            replace_existing: false,
            ..self.clone()
        };
        match create.create(path, dtype.clone(), tail_shape, order) {
            Err(Error::AlreadyExists { .. }) => {}
            other => return other,
        }
        let app = self.open(path)?;
        let (h, _) = app.snapshot();
        let axis = h.growth_axis().unwrap_or(0);
        let mut tail = h.shape.clone();
        tail.remove(axis);
        if h.dtype != dtype {
            return Err(Error::DTypeMismatch {
                expected: dtype.descr(),
                found: h.dtype.descr(),
                at: Location::path(path),
            });
        }
        if tail != tail_shape || h.order != order {
            return Err(Error::ShapeMismatch {
                reason: format!(
                    "existing file has shape {:?} in {:?} order, asked for tail {:?} in {:?} order",
                    h.shape, h.order, tail_shape, order
                ),
                at: Location::path(path),
            });
        }
        Ok(app)
    }
}

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

#[derive(Debug)]
struct Inner {
    file: Option<File>,
    header: Header,
    version: Version,
    data_offset: u64,
    /// Committed data bytes (= rows x row_len).
    data_len: u64,
    row_len: u64,
    axis: usize,
    /// The header on disk does not reflect `header` yet.
    dirty: bool,
    rewrite: bool,
    /// Set when a rollback itself failed: the file state is unknown.
    broken: bool,
    /// One-shot fault injection (feature `test-hooks`): fail after this
    /// many more bytes.
    #[cfg(feature = "test-hooks")]
    fault: Option<u64>,
    /// Growth-axis lengths below this are known to fit the header.
    fits_below: u64,
    /// Appends not yet written: the last `buf.len()` bytes of `data_len`.
    buf: Vec<u8>,
    /// Buffer size (0: no buffering).
    buf_cap: usize,
}

/// Number of decimal digits of `n` (1 for 0).
fn decimal_digits(n: u64) -> u32 {
    n.checked_ilog10().map_or(1, |d| d + 1)
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

impl Inner {
    fn file(&self, path: &Path) -> Result<&File> {
        if self.broken {
            return Err(Error::Closed {
                at: Location::path(path),
            });
        }
        self.file.as_ref().ok_or_else(|| Error::Closed {
            at: Location::path(path),
        })
    }

    /// pwrite; with the test hook armed (feature `test-hooks`), the write
    /// that crosses the limit writes what fits and fails.
    fn write_at(&mut self, buf: &[u8], offset: u64, path: &Path) -> Result<()> {
        #[cfg(feature = "test-hooks")]
        if let Some(budget) = self.fault.take() {
            let file = self.file(path)?;
            let len = buf.len() as u64;
            if budget < len {
                // budget < buf.len(), so it fits in usize.
                let k = budget as usize;
                let head = buf.get(..k).unwrap_or(buf);
                file.write_all_at(head, offset)
                    .map_err(|e| io_at("write", e, path, offset))?;
                return Err(io_at(
                    "write",
                    std::io::Error::other("injected write fault"),
                    path,
                    offset + budget,
                ));
            }
            self.fault = Some(budget - len);
        }
        let file = self.file(path)?;
        file.write_all_at(buf, offset)
            .map_err(|e| io_at("write", e, path, offset))
    }

    fn header_bytes(&self, header: &Header, path: &Path) -> Result<Vec<u8>> {
        header
            .to_bytes_exact(self.version, self.data_offset)
            .map_err(|e| e.at_path(path))
    }

    fn append(&mut self, path: &Path, view: &ArrayView<'_>) -> Result<()> {
        let h = view.header();
        self.append_parts(path, &h.dtype, &h.shape, h.order, view.as_bytes())
    }

    fn append_parts(
        &mut self,
        path: &Path,
        dtype: &DType,
        shape: &[u64],
        order: Order,
        bytes: &[u8],
    ) -> Result<()> {
        self.file(path)?;
        let k = block_rows_of(&self.header, dtype, shape, order, path)?;
        let expect = k
            .checked_mul(self.row_len)
            .ok_or_else(|| Error::ShapeOverflow {
                at: Location::path(path),
            })?;
        if bytes.len() as u64 != expect {
            return Err(Error::ShapeMismatch {
                reason: format!(
                    "block of {k} rows needs {expect} bytes, has {}",
                    bytes.len()
                ),
                at: Location::path(path),
            });
        }
        let overflow = || Error::ShapeOverflow {
            at: Location::path(path),
        };
        let old_rows = axis_len(&self.header, self.axis);
        let new_rows = old_rows.checked_add(k).ok_or_else(overflow)?;
        let new_len = self.data_len.checked_add(expect).ok_or_else(overflow)?;
        self.data_offset.checked_add(new_len).ok_or_else(overflow)?;
        // The header must fit before a single byte is written. Its text
        // length depends only on the growth dimension's digit count, so once
        // a count is known to fit, deferred appends skip the formatting.
        let hb = if self.rewrite || new_rows >= self.fits_below {
            set_axis_len(&mut self.header, self.axis, new_rows);
            let hb = self.header_bytes(&self.header, path);
            set_axis_len(&mut self.header, self.axis, old_rows);
            let hb = hb?;
            self.fits_below = 10u64
                .checked_pow(decimal_digits(new_rows))
                .unwrap_or(u64::MAX);
            Some(hb)
        } else {
            None
        };
        if self.buf_cap > 0 {
            // Deferred header (checked at open): buffer small appends.
            if self.buf.len() + bytes.len() > self.buf_cap {
                self.flush_data(path)?;
            }
            if bytes.len() > self.buf_cap {
                let at = self.data_offset + self.data_len;
                if let Err(e) = self.write_at(bytes, at, path) {
                    self.rollback(path, false);
                    return Err(e);
                }
            } else {
                self.buf.extend_from_slice(bytes);
            }
            self.dirty = true;
            set_axis_len(&mut self.header, self.axis, new_rows);
            self.data_len = new_len;
            return Ok(());
        }
        let at = self.data_offset + self.data_len;
        if let Err(e) = self.write_at(bytes, at, path) {
            self.rollback(path, false);
            return Err(e);
        }
        match hb {
            Some(hb) if self.rewrite => {
                if let Err(e) = self.write_at(&hb, 0, path) {
                    self.rollback(path, true);
                    return Err(e);
                }
            }
            _ => self.dirty = true,
        }
        set_axis_len(&mut self.header, self.axis, new_rows);
        self.data_len = new_len;
        Ok(())
    }

    /// Truncates to the last complete append and, if the header write was
    /// started, restores the committed header. If this fails too, the
    /// appender refuses further use ([`Error::Closed`]); run `recover`.
    fn rollback(&mut self, path: &Path, restore_header: bool) {
        let ok = (|| -> Result<()> {
            let keep = self.data_offset + self.data_len;
            let file = self.file(path)?;
            file.set_len(keep)
                .map_err(|e| io_at("truncate", e, path, keep))?;
            if restore_header {
                let hb = self.header_bytes(&self.header.clone(), path)?;
                #[cfg(feature = "test-hooks")]
                {
                    self.fault = None;
                }
                self.write_at(&hb, 0, path)?;
            }
            Ok(())
        })();
        if ok.is_err() {
            self.broken = true;
        }
    }

    /// Writes the buffered appends. On failure they are dropped: the
    /// counters go back to what is on disk and the file is truncated there.
    fn flush_data(&mut self, path: &Path) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        let n = buf.len() as u64;
        // `buf` holds the tail of the committed data.
        let at = self.data_offset + self.data_len - n;
        let r = self.write_at(&buf, at, path);
        self.buf = buf;
        self.buf.clear();
        if let Err(e) = r {
            self.data_len -= n;
            if let Some(rows) = n.checked_div(self.row_len) {
                let left = axis_len(&self.header, self.axis).saturating_sub(rows);
                set_axis_len(&mut self.header, self.axis, left);
            }
            self.rollback(path, false);
            return Err(e);
        }
        Ok(())
    }

    fn flush_header(&mut self, path: &Path) -> Result<()> {
        self.flush_data(path)?;
        if !self.dirty {
            return Ok(());
        }
        let hb = self.header_bytes(&self.header.clone(), path)?;
        self.write_at(&hb, 0, path)?;
        self.dirty = false;
        Ok(())
    }

    fn sync(&mut self, path: &Path) -> Result<()> {
        self.flush_data(path)?;
        self.file(path)?
            .sync_data()
            .map_err(|e| Error::io("fsync", e, loc(path, 0)))?;
        // Write the header (again) only once the data it describes is durable.
        self.dirty = true;
        self.flush_header(path)?;
        self.file(path)?
            .sync_all()
            .map_err(|e| Error::io("fsync", e, loc(path, 0)))
    }
}
