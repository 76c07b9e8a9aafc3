//! [`ArraySlice`]: a typed `[T]` of one array, zero-copy when possible,
//! returned by [`NpzReader::get_slice`](super::NpzReader::get_slice).

use crate::dtype::Element;
use crate::error::Result;
use crate::view::ArrayView;
use std::marker::PhantomData;
use std::ops::Deref;

/// A typed slice of an array, zero-copy when possible, otherwise backed by
/// a cached aligned copy; returned by
/// [`NpzReader::get_slice`](super::NpzReader::get_slice). Dereferences
/// to `[T]` (in memory order: for a Fortran-ordered array that is column
/// major).
#[derive(Clone, Debug)]
pub struct ArraySlice<'a, T> {
    view: ArrayView<'a>,
    _t: PhantomData<fn() -> T>,
}

impl<'a, T: Element> ArraySlice<'a, T> {
    /// Checks that `view` can be read as `[T]` (dtype, alignment, byte
    /// order, bool bytes) and wraps it.
    pub(super) fn new(view: ArrayView<'a>) -> Result<Self> {
        view.as_slice::<T>()?;
        Ok(ArraySlice {
            view,
            _t: PhantomData,
        })
    }

    /// The underlying view (native byte order, aligned).
    pub fn view(&self) -> &ArrayView<'a> {
        &self.view
    }

    /// The underlying view.
    pub fn into_view(self) -> ArrayView<'a> {
        self.view
    }

    /// True when the slice is a copy (from the cache) rather than the file's bytes.
    pub fn is_copy(&self) -> bool {
        self.view.bytes().is_shared()
    }

    /// Shape of the array.
    pub fn shape(&self) -> &[u64] {
        self.view.shape()
    }
}

impl<T: Element> Deref for ArraySlice<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // Alignment, size, dtype and (for bool) every byte were checked by
        // `new`, and the bytes cannot move or change, so this cast cannot
        // fail; it is O(1) except for bool.
        match bytemuck::checked::try_cast_slice(self.view.as_bytes()) {
            Ok(s) => s,
            Err(e) => {
                debug_assert!(false, "checked slice no longer casts: {e}");
                &[]
            }
        }
    }
}
