//! Typed views over array bytes.
//!
//! An [`ArrayView`] is a header (dtype, shape, order) plus the array's bytes,
//! borrowed from a memory map or shared through an `Arc`. It hands out
//! zero-copy slices when the bytes allow it ([`ArrayView::as_slice`]) and
//! copies that always work otherwise ([`ArrayView::to_vec`]).
//!
//! ```
//! use npzmap::{ArrayView, DType, Order, dtype::Element};
//! let data: Vec<f64> = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
//! let view = ArrayView::from_slice(&data, &[2, 3], Order::C).unwrap();
//! assert_eq!(view.as_slice::<f64>().unwrap(), &data[..]);
//! assert_eq!(view.to_vec::<f64>().unwrap(), data);
//! assert!(view.as_slice::<f32>().is_err()); // dtype mismatch, never a cast
//! ```
//!
//! Files: `mod.rs` ([`ArrayView`] and its typed accessors), `bytes`
//! ([`AlignedBuf`] and the opaque [`Bytes`]), `native` (byte swapping and
//! element alignment), `ndarray` (the `ndarray` conversions).

mod bytes;
mod native;
#[cfg(feature = "ndarray")]
mod ndarray;
#[cfg(test)]
mod tests;

pub use bytes::{AlignedBuf, Bytes};
pub(crate) use native::{natural_align, swap_to_native};

use crate::dtype::{DType, Element, Kind};
use crate::error::{Error, Location, Result, ViewProblem};
use crate::header::{Header, Order};
use std::borrow::Cow;

/// An array: dtype, shape, order and its bytes.
#[derive(Clone, Debug)]
pub struct ArrayView<'a> {
    header: Cow<'a, Header>,
    data: Bytes<'a>,
    at: At<'a>,
}

/// Where a view's bytes come from, for its errors. A reader lends the
/// parts (its path, the member's name), so building a view allocates
/// nothing; the [`Location`] is made when asked for.
#[derive(Clone, Debug)]
pub(crate) enum At<'a> {
    Owned(Location),
    Member {
        path: &'a std::path::Path,
        /// The reader's name table and the member name's range in it
        /// (start, length): looked up only when an error needs it.
        names: &'a str,
        name: (u32, u32),
        offset: u64,
    },
}

impl At<'_> {
    pub(crate) fn location(&self) -> Location {
        match self {
            At::Owned(l) => l.clone(),
            At::Member { path, offset, .. } => Location {
                path: Some(path.to_path_buf()),
                member: self.member().map(str::to_string),
                offset: Some(*offset),
            },
        }
    }

    /// The member's name (`None` for an owned location without one, or a
    /// broken name range).
    fn member(&self) -> Option<&str> {
        match self {
            At::Owned(l) => l.member.as_deref(),
            At::Member {
                names,
                name: (start, len),
                ..
            } => {
                let start = *start as usize;
                names.get(start..start.saturating_add(*len as usize))
            }
        }
    }
}

/// An [`ArrayView`] that borrows nothing, so it can outlive the reader (or
/// the slice) that made it: its bytes are shared through an `Arc` (the
/// memory map, or an aligned copy; [`ArrayView::into_owned`] copies borrowed
/// bytes once) or are `'static`. Still a read-only view, not an owned,
/// growable array: cloning it never copies the bytes.
pub type OwnedView = ArrayView<'static>;

impl<'a> ArrayView<'a> {
    /// A view over borrowed `data`, which must be exactly the array's size
    /// ([`Error::DataTooShort`] / [`Error::DataTooLong`] otherwise).
    pub fn new(header: Cow<'a, Header>, data: &'a [u8]) -> Result<ArrayView<'a>> {
        ArrayView::checked(header, Bytes::borrowed(data))
    }

    /// A view over `data`, checked to be exactly the array's size.
    fn checked(header: Cow<'a, Header>, data: Bytes<'a>) -> Result<ArrayView<'a>> {
        let need = header.data_len()?;
        let have = data.try_as_slice()?.len() as u64;
        if have < need {
            return Err(Error::DataTooShort {
                expected: need,
                actual: have,
                at: Location::none(),
            });
        }
        if have > need {
            return Err(Error::DataTooLong {
                expected: need,
                actual: have,
                at: Location::none(),
            });
        }
        Ok(ArrayView {
            header,
            data,
            at: At::Owned(Location::none()),
        })
    }

    /// A view whose length the caller has already checked against the header.
    pub(crate) fn from_checked_parts(
        header: Cow<'a, Header>,
        data: Bytes<'a>,
        at: Location,
    ) -> ArrayView<'a> {
        Self::from_checked_parts_at(header, data, At::Owned(at))
    }

    /// As [`ArrayView::from_checked_parts`], with a possibly borrowed location.
    pub(crate) fn from_checked_parts_at(
        header: Cow<'a, Header>,
        data: Bytes<'a>,
        at: At<'a>,
    ) -> ArrayView<'a> {
        debug_assert_eq!(header.data_len().ok(), Some(data.len()));
        ArrayView { header, data, at }
    }

    /// A view over borrowed bytes.
    pub fn from_bytes(header: &'a Header, data: &'a [u8]) -> Result<ArrayView<'a>> {
        ArrayView::new(Cow::Borrowed(header), data)
    }

    /// A view of a typed slice with the given shape and order.
    pub fn from_slice<T: Element>(
        data: &'a [T],
        shape: &[u64],
        order: Order,
    ) -> Result<ArrayView<'a>> {
        let header = Header::for_array(T::dtype(), shape.to_vec(), order);
        check_element_size::<T>(&header.dtype)?;
        let n = header.num_elements()?;
        if n != data.len() as u64 {
            return Err(Error::ShapeMismatch {
                reason: format!(
                    "shape {:?} has {n} elements but the slice has {}",
                    shape,
                    data.len()
                ),
                at: Location::none(),
            });
        }
        ArrayView::new(Cow::Owned(header), bytemuck::cast_slice(data))
    }

    /// Attaches a location (file, member, offset of the data) used in errors.
    pub fn with_location(mut self, at: Location) -> Self {
        self.at = At::Owned(at);
        self
    }

    /// The location this view's bytes come from (file, member, offset of
    /// the data), as used in its errors.
    pub fn location(&self) -> Location {
        self.at.location()
    }

    /// The header (dtype, shape, order).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Element type.
    pub fn dtype(&self) -> &DType {
        &self.header.dtype
    }

    /// Shape.
    pub fn shape(&self) -> &[u64] {
        &self.header.shape
    }

    /// Memory order.
    pub fn order(&self) -> Order {
        self.header.order
    }

    /// Number of elements (the product of the shape; also for zero-size
    /// dtypes such as `S0`, whose data is empty).
    pub fn len(&self) -> u64 {
        match self.header.num_elements() {
            Ok(n) => n,
            Err(_) => {
                // Every constructor checked the header's size first.
                debug_assert!(false, "element count of a checked header overflows");
                self.data.len() / self.header.dtype.itemsize().max(1)
            }
        }
    }

    /// True if the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.header.shape.contains(&0)
    }

    /// The raw array bytes (see [`Bytes::as_slice`]).
    pub fn as_bytes(&self) -> &[u8] {
        self.data.as_slice()
    }

    /// The bytes' holder (borrowed or shared).
    pub fn bytes(&self) -> &Bytes<'a> {
        &self.data
    }

    /// Converts to a view that borrows nothing (copying borrowed bytes into
    /// an aligned buffer; shared bytes are not copied).
    pub fn into_owned(self) -> Result<OwnedView> {
        let data = self.data.into_static()?;
        Ok(ArrayView {
            header: Cow::Owned(self.header.into_owned()),
            data,
            at: At::Owned(self.at.location()),
        })
    }

    fn err_at(&self, e: Error) -> Error {
        let member = self.at.member();
        let (path, offset) = match &self.at {
            At::Owned(l) => (l.path.as_deref(), l.offset),
            At::Member { path, offset, .. } => (Some(*path), Some(*offset)),
        };
        let mut e = e;
        if let Some(p) = path {
            e = e.at_path(p);
        }
        if let Some(m) = member {
            e = e.at_member(m.to_string());
        }
        if let Some(o) = offset {
            e = e.at_offset(o);
        }
        e
    }

    /// The bytes, or a typed error naming this view's location.
    fn data(&self) -> Result<&[u8]> {
        self.data.try_as_slice().map_err(|e| self.err_at(e))
    }

    /// [`Error::DTypeMismatch`] unless the dtype is `T`'s (in either byte
    /// order) and of `T`'s size: the one dtype check of every typed accessor.
    fn check_dtype<T: Element>(&self) -> Result<()> {
        let want = T::dtype();
        if !self.header.dtype.same_ignoring_order(&want) {
            return Err(self.err_at(Error::DTypeMismatch {
                expected: want.to_string(),
                found: self.header.dtype.to_string(),
                at: Location::none(),
            }));
        }
        check_element_size::<T>(&want).map_err(|e| self.err_at(e))
    }

    /// The data as a typed slice without copying, in memory order.
    ///
    /// Succeeds only when the dtype is exactly `T`'s (otherwise
    /// [`Error::DTypeMismatch`], as from [`ArrayView::to_vec`]), the bytes
    /// are aligned for `T` and in native byte order (otherwise an
    /// [`Error::View`] says which condition failed: use
    /// [`ArrayView::to_vec`] then). `bool` data is validated (every byte 0
    /// or 1).
    #[inline]
    pub fn as_slice<T: Element>(&self) -> Result<&[T]> {
        // Fast path: a plain dtype exactly `T`'s (so native order), the
        // right size, aligned data. Everything else, and every failure,
        // takes the checked path below, which names the problem.
        if let (DType::Scalar(have), DType::Scalar(want)) = (&self.header.dtype, &T::dtype())
            && have == want
            && have.size == std::mem::size_of::<T>() as u64
            && let Ok(bytes) = self.data.try_as_slice()
            && (bytes.as_ptr() as usize).is_multiple_of(std::mem::align_of::<T>())
            && let Ok(s) = bytemuck::checked::try_cast_slice::<u8, T>(bytes)
        {
            return Ok(s);
        }
        self.as_slice_checked()
    }

    #[inline(never)]
    fn as_slice_checked<T: Element>(&self) -> Result<&[T]> {
        self.check_dtype::<T>()?;
        if !self.header.dtype.is_native() {
            return Err(self.err_at(Error::View {
                problem: ViewProblem::ByteOrder,
                detail: format!("array is {}", self.header.dtype),
                at: Location::none(),
            }));
        }
        let bytes = self.data()?;
        let align = std::mem::align_of::<T>();
        if !(bytes.as_ptr() as usize).is_multiple_of(align) {
            return Err(self.err_at(Error::View {
                problem: ViewProblem::Unaligned,
                detail: format!("data needs {align}-byte alignment"),
                at: Location::none(),
            }));
        }
        match bytemuck::checked::try_cast_slice::<u8, T>(bytes) {
            Ok(s) => Ok(s),
            Err(bytemuck::checked::CheckedCastError::InvalidBitPattern) => {
                Err(self.err_at(first_invalid::<T>(bytes)))
            }
            Err(e) => Err(self.err_at(Error::View {
                problem: ViewProblem::Unaligned,
                detail: format!("{e}"),
                at: Location::none(),
            })),
        }
    }

    /// True if [`ArrayView::as_slice`] would succeed for an element of this
    /// dtype's alignment (native order and aligned data).
    pub fn is_zero_copy(&self) -> bool {
        let align = natural_align(&self.header.dtype);
        self.header.dtype.is_native()
            && (self.data.as_slice().as_ptr() as usize).is_multiple_of(align)
    }

    /// The data as a `Vec<T>` in memory order: copies, byte-swaps and
    /// realigns as needed. Fails only when the dtype is not `T`'s (the same
    /// [`Error::DTypeMismatch`] as [`ArrayView::as_slice`]) or an element is
    /// not a valid `T` (a bool byte other than 0/1).
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        self.check_dtype::<T>()?;
        let bytes = self.data()?;
        let aligned = (bytes.as_ptr() as usize).is_multiple_of(std::mem::align_of::<T>());
        // Bulk copies only: one memcpy when the bytes can be seen as `[T]`,
        // otherwise an aligned, byte-swapped copy first.
        let copy;
        let native: &[u8] = if aligned && self.header.dtype.is_native() {
            bytes
        } else {
            copy = self.to_native_bytes()?;
            copy.as_slice()
        };
        let typed = bytemuck::checked::try_cast_slice::<u8, T>(native)
            .map_err(|_| self.err_at(first_invalid::<T>(native)))?;
        let mut out: Vec<T> = Vec::new();
        out.try_reserve_exact(typed.len()).map_err(|_| {
            self.err_at(Error::InvalidArgument {
                reason: format!("cannot allocate {} bytes", bytes.len()),
                at: Location::none(),
            })
        })?;
        out.extend_from_slice(typed);
        Ok(out)
    }

    /// The data as raw bytes in native byte order (a copy, byte-swapped as
    /// the dtype requires), e.g. for records read field by field.
    pub fn to_native_bytes(&self) -> Result<AlignedBuf> {
        let mut buf = AlignedBuf::copy_from(self.data()?)?;
        swap_to_native(&self.header.dtype, buf.as_mut_slice());
        Ok(buf)
    }

    /// `S` (byte string) data: one `Vec<u8>` per element with trailing NULs
    /// stripped, as numpy shows them.
    pub fn to_byte_strings(&self) -> Result<Vec<Vec<u8>>> {
        let size = match self.header.dtype.as_scalar() {
            Some(s) if s.kind == Kind::Bytes => self.item_len(s.size)?,
            _ => {
                return Err(self.err_at(Error::DTypeMismatch {
                    expected: "|S<n>".into(),
                    found: self.header.dtype.to_string(),
                    at: Location::none(),
                }));
            }
        };
        if size == 0 {
            return Ok(vec![Vec::new(); self.zero_size_count()?]);
        }
        Ok(self
            .data()?
            .chunks_exact(size)
            .map(|c| {
                let end = c.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
                c.split_at(end).0.to_vec()
            })
            .collect())
    }

    /// `U` (UCS-4) data decoded to `String`s, trailing NULs stripped.
    pub fn to_strings(&self) -> Result<Vec<String>> {
        let (size, order) = match self.header.dtype.as_scalar() {
            Some(s) if s.kind == Kind::Unicode => (self.item_len(s.size)?, s.order),
            _ => {
                return Err(self.err_at(Error::DTypeMismatch {
                    expected: "<U<n>".into(),
                    found: self.header.dtype.to_string(),
                    at: Location::none(),
                }));
            }
        };
        if size == 0 {
            return Ok(vec![String::new(); self.zero_size_count()?]);
        }
        let big = order == crate::dtype::ByteOrder::Big;
        let mut out = Vec::new();
        for (i, c) in self.data()?.chunks_exact(size).enumerate() {
            let mut s = String::new();
            let (units, _) = c.as_chunks::<4>();
            let mut units: Vec<u32> = units
                .iter()
                .map(|&a| {
                    if big {
                        u32::from_be_bytes(a)
                    } else {
                        u32::from_le_bytes(a)
                    }
                })
                .collect();
            while units.last() == Some(&0) {
                units.pop();
            }
            for u in units {
                s.push(char::from_u32(u).ok_or_else(|| {
                    self.err_at(Error::InvalidUnicode {
                        index: i as u64,
                        at: Location::none(),
                    })
                })?);
            }
            out.push(s);
        }
        Ok(out)
    }

    /// An item size as `usize` ([`Error::ShapeOverflow`] if it does not fit).
    fn item_len(&self, size: u64) -> Result<usize> {
        usize::try_from(size).map_err(|_| {
            self.err_at(Error::ShapeOverflow {
                at: Location::none(),
            })
        })
    }

    /// The element count of a zero-itemsize array (`S0`, `U0`), whose data
    /// is empty whatever the shape: the count comes from the header alone,
    /// so it is capped instead of sizing an allocation.
    fn zero_size_count(&self) -> Result<usize> {
        /// Largest element count of zero-itemsize data we materialise.
        const MAX_EMPTY_ELEMENTS: u64 = 1 << 24;
        let n = self.header.num_elements().map_err(|e| self.err_at(e))?;
        if n > MAX_EMPTY_ELEMENTS {
            return Err(self.err_at(Error::InvalidArgument {
                reason: format!(
                    "{n} elements of a zero-size dtype ({}): more than {MAX_EMPTY_ELEMENTS} refused",
                    self.header.dtype
                ),
                at: Location::none(),
            }));
        }
        Ok(n as usize)
    }
}

/// The error for bytes that are not all valid `T`s: [`Error::InvalidBool`]
/// naming the first bad byte of `bool` data, otherwise
/// [`Error::InvalidValue`] naming the first invalid element.
fn first_invalid<T: Element>(bytes: &[u8]) -> Error {
    let size = std::mem::size_of::<T>().max(1);
    let index = bytes
        .chunks_exact(size)
        .position(|c| bytemuck::checked::try_pod_read_unaligned::<T>(c).is_err());
    let Some(index) = index else {
        // Only called after a cast reported an invalid bit pattern.
        debug_assert!(false, "no invalid element found");
        return Error::InvalidValue {
            index: 0,
            type_name: std::any::type_name::<T>(),
            at: Location::none(),
        };
    };
    match (T::dtype().as_scalar().map(|s| s.kind), bytes.get(index)) {
        (Some(Kind::Bool), Some(&value)) => Error::InvalidBool {
            index: index as u64,
            value,
            at: Location::none(),
        },
        _ => Error::InvalidValue {
            index: index as u64,
            type_name: std::any::type_name::<T>(),
            at: Location::none(),
        },
    }
}

fn check_element_size<T: Element>(dtype: &DType) -> Result<()> {
    if dtype.itemsize() != std::mem::size_of::<T>() as u64 {
        return Err(Error::DTypeMismatch {
            expected: format!(
                "{} ({} bytes, the size of {})",
                dtype,
                dtype.itemsize(),
                std::any::type_name::<T>()
            ),
            found: format!("a Rust type of {} bytes", std::mem::size_of::<T>()),
            at: Location::none(),
        });
    }
    Ok(())
}
