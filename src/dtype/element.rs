//! The [`Element`] trait: Rust types that have a dtype.

use super::{DType, Kind};

/// A Rust type that can be stored in and viewed from NPY data.
///
/// Implemented for `bool`, the integer and float primitives, `half::f16`
/// (`<f2`) and `half::bf16` (feature `half`; numpy has no bfloat16, so it is
/// stored as raw two-byte voids `|V2`), and `num_complex::Complex<f32>` /
/// `Complex<f64>` (`<c8` / `<c16`, feature `complex`).
///
/// Implement it for your own `#[repr(C)]` records (deriving
/// `bytemuck::Pod` and `bytemuck::Zeroable`) by returning a structured dtype
/// whose itemsize equals `size_of::<Self>()`:
///
/// ```
/// use npzmap::dtype::{DType, Element};
/// #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
/// #[repr(C)]
/// struct Point { x: f32, y: f32, id: u32 }
/// impl Element for Point {
///     fn dtype() -> DType {
///         DType::parse("[('x', '<f4'), ('y', '<f4'), ('id', '<u4')]").unwrap()
///     }
/// }
/// assert_eq!(Point::dtype().itemsize(), 12);
/// ```
pub trait Element:
    bytemuck::CheckedBitPattern + bytemuck::NoUninit + Send + Sync + 'static
{
    /// The dtype of this type in native byte order.
    fn dtype() -> DType;
}

macro_rules! element {
    ($t:ty, $kind:expr) => {
        impl Element for $t {
            fn dtype() -> DType {
                DType::scalar($kind, std::mem::size_of::<$t>() as u64)
            }
        }
    };
}

element!(bool, Kind::Bool);
element!(i8, Kind::Int);
element!(i16, Kind::Int);
element!(i32, Kind::Int);
element!(i64, Kind::Int);
element!(u8, Kind::UInt);
element!(u16, Kind::UInt);
element!(u32, Kind::UInt);
element!(u64, Kind::UInt);
element!(f32, Kind::Float);
element!(f64, Kind::Float);

#[cfg(feature = "half")]
element!(half::f16, Kind::Float);

/// numpy has no built-in bfloat16: bf16 is stored as raw two-byte voids
/// (`|V2`), which `ml_dtypes.bfloat16` can reinterpret on the Python side.
#[cfg(feature = "half")]
impl Element for half::bf16 {
    fn dtype() -> DType {
        DType::scalar(Kind::Void, 2)
    }
}

#[cfg(feature = "complex")]
element!(num_complex::Complex<f32>, Kind::Complex);
#[cfg(feature = "complex")]
element!(num_complex::Complex<f64>, Kind::Complex);
