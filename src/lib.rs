//! # npzmap
//!
//! Write and read NumPy `.npz` and `.npy` files far larger than memory.
//!
//! * [`npy`]: NPY headers (v1/v2/v3, byte-identical to numpy), whole files,
//!   appending along the growth axis, recovery, in-place creation and updates.
//! * [`dtype`]: the dtype model and the [`Element`] trait.
//! * [`view`]: typed views over array bytes ([`ArrayView`]).
//! * [`npz`]: the archive writer and reader.
//! * [`fs`]: how files are locked, replaced and mapped, so that views never
//!   change under the reader's feet.
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
// Rules the compiler enforces in the library (tests may unwrap, expect, panic
// and index: see clippy.toml). `unsafe` lives only at the mmap boundary
// (`fs::map`), each block with a SAFETY comment.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::undocumented_unsafe_blocks,
    missing_docs,
    missing_debug_implementations
)]

pub mod dtype;
pub mod error;
pub mod fs;
pub mod header;
pub(crate) mod literal;
pub mod npy;
pub mod npz;
#[cfg(feature = "object-store")]
pub mod remote;
pub mod view;
pub(crate) mod zip;

pub use dtype::{DType, Element};

/// Internals for the fuzz targets and the integration tests: the zip record
/// layer. **Not** part of the stable API: any item here may change or
/// disappear in any release. It lists exactly what `fuzz/checks/*.rs`,
/// `tests/*.rs` and the doctests use.
#[doc(hidden)]
pub mod unstable {
    /// The zip record layer (see `src/zip/`): what the fuzz targets and the
    /// integration tests parse and build archives with.
    pub mod zip {
        pub use crate::zip::{
            CentralEntry, CentralEntryRef, DOS_DATE_1980, DataDescriptor, EOCD_LEN, EOCD_SIG,
            EndOfCentralDirectory, FLAG_DATA_DESCRIPTOR, FLAG_ENCRYPTED, FLAG_UTF8, LOCAL_SIG,
            LocalHeader, LocalHeaderRef, LocalZip64, METHOD_DEFLATE, METHOD_STORED, ZIP64_EOCD_LEN,
            ZIP64_EOCD_SIG, ZIP64_LOCATOR_LEN, ZIP64_LOCATOR_SIG, central_entries,
            write_end_records,
        };
    }
}
pub use error::{Error, Location, Result};
pub use header::{Header, Order};
pub use npz::{NpzReader, NpzWriter, ReaderOptions, WriterOptions};
pub use view::{ArrayView, OwnedView};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
