//! The NPY layer: headers, whole files (memory-mapped read, write), and the
//! append / recover / create / update machinery underneath the archive engine.
//!
//! * [`NpyAppender`]: append along the growth axis, thread-safe, locked,
//!   rolled back on failure.
//! * [`recover`], [`recover_with`] (in place), [`recover_to`], [`recover_with_to`]
//!   (to another file, atomically), [`needs_recovery`], [`ensure_appendable`]:
//!   repair interrupted files and make legacy files appendable.
//! * [`NpyFile`] (read-only) and [`NpyMapMut`] (read-write, exclusive):
//!   memory maps of a whole file, as memmap2's `Mmap` and `MmapMut`.
//! * [`create`]: sparse creation, returning a [`NpyMapMut`].
//! * [`overwrite`], [`update`]: atomic replacement and in-place row updates.
//!
//! ```
//! use npzmap::{npy, Order};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("a.npy");
//! npy::write(&path, &[1.0f32, 2.0, 3.0, 4.0], &[2, 2], Order::C).unwrap();
//! let f = npy::NpyFile::open(&path).unwrap();
//! assert_eq!(f.view().shape(), &[2, 2]);
//! assert_eq!(f.view().as_slice::<f32>().unwrap(), &[1.0, 2.0, 3.0, 4.0]);
//! ```

/// NPY headers now live in the crate-level [`crate::header`] module (below
/// `view`); this path is kept for existing callers.
pub use crate::header;

mod append;
mod create;
mod file;
mod recover;
mod rows;
mod state;
mod update;

#[cfg(feature = "test-hooks")]
pub use crate::fs::set_move_chunk_size;
pub use append::{AppendOptions, NpyAppender};
pub use create::{NpyMapMut, create};
pub use file::{NpyFile, NpyOptions, view_from_bytes, write, write_view};
pub use header::{Header, Order, ParsedHeader, Version};
pub use recover::{
    AppendableMode, RecoverWith, RecoveryReport, ensure_appendable, needs_recovery, recover,
    recover_to, recover_with, recover_with_to,
};
pub use update::{overwrite, overwrite_slice, update, update_view};
