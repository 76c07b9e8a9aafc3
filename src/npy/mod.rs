//! The NPY layer: headers, whole files (memory-mapped read, write), and the
//! append / recover / create / update machinery underneath the archive engine.
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

pub mod header;

mod file;

pub use file::{NpyFile, NpyOptions, view_from_bytes, write, write_view};
pub use header::{Header, Order, ParsedHeader, Version};
