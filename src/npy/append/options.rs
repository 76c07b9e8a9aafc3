//! [`AppendOptions`]: how an [`NpyAppender`] writes, and creating or
//! opening the file it appends to.

use super::NpyAppender;
use crate::dtype::DType;
use crate::error::{Error, Location, Result};
use crate::fs::io_at;
use crate::fs::lock::{
    ReplaceLock, SharedLock, Wait, WriterLock, create_new_shared, open_for_append,
};
use crate::fs::temp::TempFile;
use crate::npy::header::{Header, Order};
use crate::npy::state::FileState;
use std::os::unix::fs::FileExt;
use std::path::Path;

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
    pub(super) rewrite_header_on_append: bool,
    pub(super) replace_existing: bool,
    pub(super) buffer_bytes: usize,
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

    /// The error [`AppendOptions::create`] and [`AppendOptions::open`] give
    /// for options that do not go together (`buffer_bytes` with
    /// `rewrite_header_on_append`), naming `path`; checked up front by a
    /// caller that opens the file later.
    pub fn check(&self, path: &Path) -> Result<()> {
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
