//! # npzmap
//!
//! Write and read NumPy `.npz` and `.npy` files far larger than memory.
//!
//! * [`npy`]: NPY headers (v1/v2/v3, byte-identical to numpy), whole files,
//!   appending along the growth axis, recovery, in-place creation and updates.
//! * [`dtype`]: the dtype model and the [`Element`] trait.
//! * [`view`]: typed views over array bytes ([`ArrayView`]).
//! * [`zip`]: the stored-only zip record layer shared by writer and reader.
//! * [`npz`]: the archive writer and reader.
//!
//! ```
//! use npzmap::{npy, Order};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("x.npy");
//! npy::write(&path, &[1i32, 2, 3, 4, 5, 6], &[2, 3], Order::C).unwrap();
//! let file = npy::NpyFile::open(&path).unwrap();
//! let view = file.view();
//! assert_eq!(view.shape(), &[2, 3]);
//! assert_eq!(view.to_vec::<i32>().unwrap(), vec![1, 2, 3, 4, 5, 6]);
//! ```

#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod dtype;
pub mod error;
pub mod header;
pub mod literal;
pub mod npy;
pub mod npz;
pub mod view;
pub mod zip;

pub use dtype::{DType, Element};
pub use error::{Error, Location, Result};
pub use header::{Header, Order};
pub use npz::{NpzReader, NpzWriter, ReaderOptions, WriterOptions};
pub use view::{ArrayView, OwnedView};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
