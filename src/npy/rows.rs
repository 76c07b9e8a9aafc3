//! How a block of rows fits an array on disk: the rule appending and row
//! updates share.

use crate::dtype::DType;
use crate::error::{Error, Location, Result};
use crate::npy::header::{Header, Order};
use std::path::Path;

/// How many rows `block` adds to an array with header `file`: checks the
/// dtype (exactly), the number of dimensions, the non-growth dimensions and
/// the memory order.
pub(crate) fn block_rows(file: &Header, block: &Header, path: &Path) -> Result<u64> {
    block_rows_of(file, &block.dtype, &block.shape, block.order, path)
}

/// [`block_rows`] for a block given as dtype, shape and order.
pub(crate) fn block_rows_of(
    file: &Header,
    dtype: &DType,
    shape: &[u64],
    order: Order,
    path: &Path,
) -> Result<u64> {
    if *dtype != file.dtype {
        return Err(Error::DTypeMismatch {
            expected: file.dtype.descr(),
            found: dtype.descr(),
            at: Location::path(path),
        });
    }
    let Some(axis) = file.growth_axis() else {
        return Err(Error::ShapeMismatch {
            reason: "a 0-d array has no growth axis".into(),
            at: Location::path(path),
        });
    };
    let mismatch = |reason: String| Error::ShapeMismatch {
        reason,
        at: Location::path(path),
    };
    if shape.len() != file.shape.len() {
        return Err(mismatch(format!(
            "block has {} dimensions {:?}, the array has {} {:?}",
            shape.len(),
            shape,
            file.shape.len(),
            file.shape
        )));
    }
    for (i, (&b, &f)) in shape.iter().zip(&file.shape).enumerate() {
        if i != axis && b != f {
            return Err(mismatch(format!(
                "block shape {:?} differs from array shape {:?} in axis {i} (growth axis is {axis})",
                shape, file.shape
            )));
        }
    }
    if order != file.order {
        let both = shape.contains(&0) || shape.iter().filter(|&&d| d != 1).count() <= 1;
        if !both {
            return Err(mismatch(format!(
                "block is in {:?} order, the file in {:?} order",
                order, file.order
            )));
        }
    }
    shape.get(axis).copied().ok_or_else(|| {
        mismatch(format!(
            "growth axis {axis} is outside the block shape {shape:?}"
        ))
    })
}

/// The length of the growth axis, `None` for a 0-d array.
pub(crate) fn growth_rows(h: &Header) -> Option<u64> {
    h.growth_axis().and_then(|a| h.shape.get(a).copied())
}

/// The length of `axis`, which the caller took from [`Header::growth_axis`]
/// (so it is in range).
pub(crate) fn axis_len(h: &Header, axis: usize) -> u64 {
    let len = h.shape.get(axis).copied();
    debug_assert!(len.is_some(), "axis {axis} out of range");
    len.unwrap_or(0)
}

/// Sets the length of `axis`, which the caller took from
/// [`Header::growth_axis`] (so it is in range).
pub(crate) fn set_axis_len(h: &mut Header, axis: usize, len: u64) {
    let slot = h.shape.get_mut(axis);
    debug_assert!(slot.is_some(), "axis {axis} out of range");
    if let Some(slot) = slot {
        *slot = len;
    }
}
