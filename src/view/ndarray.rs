//! `ndarray` conversions of an [`ArrayView`] (feature `ndarray`).

use super::ArrayView;
use crate::dtype::Element;
use crate::error::{Error, Location, Result};
use crate::header::Order;

impl ArrayView<'_> {
    /// Zero-copy `ndarray` view with strides for the array's order.
    pub fn as_ndarray<T: Element>(&self) -> Result<ndarray::ArrayViewD<'_, T>> {
        use ndarray::ShapeBuilder;
        let s = self.as_slice::<T>()?;
        let shape = self.ndarray_shape()?;
        let res = if self.header.order == Order::Fortran {
            ndarray::ArrayViewD::from_shape(ndarray::IxDyn(&shape).f(), s)
        } else {
            ndarray::ArrayViewD::from_shape(ndarray::IxDyn(&shape), s)
        };
        res.map_err(|e| {
            self.err_at(Error::ShapeMismatch {
                reason: e.to_string(),
                at: Location::none(),
            })
        })
    }

    /// An owned `ndarray` (copies; works for any byte order and alignment).
    pub fn to_ndarray<T: Element>(&self) -> Result<ndarray::ArrayD<T>> {
        use ndarray::ShapeBuilder;
        let v = self.to_vec::<T>()?;
        let shape = self.ndarray_shape()?;
        let res = if self.header.order == Order::Fortran {
            ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&shape).f(), v)
        } else {
            ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&shape), v)
        };
        res.map_err(|e| {
            self.err_at(Error::ShapeMismatch {
                reason: e.to_string(),
                at: Location::none(),
            })
        })
    }

    fn ndarray_shape(&self) -> Result<Vec<usize>> {
        self.header
            .shape
            .iter()
            .map(|&d| {
                usize::try_from(d).map_err(|_| {
                    self.err_at(Error::ShapeOverflow {
                        at: Location::none(),
                    })
                })
            })
            .collect()
    }
}
