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

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::undocumented_unsafe_blocks,
    missing_docs,
    missing_debug_implementations
)]

use crate::dtype::{DType, Element, Kind};
use crate::error::{Error, Location, Result, ViewProblem};
use crate::header::{Header, Order};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// A heap buffer whose start is aligned to 64 bytes, so any element type
/// can be viewed in it without copying again.
#[derive(Clone)]
pub struct AlignedBuf {
    chunks: Vec<Chunk>,
    len: usize,
}

/// 64 plain bytes aligned to 64: the derive checks that it has no padding.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
struct Chunk([u8; 64]);

impl AlignedBuf {
    /// A zero-filled buffer of `len` bytes. Fails (instead of aborting) if the
    /// memory cannot be reserved.
    pub(crate) fn zeroed(len: usize) -> Result<AlignedBuf> {
        let n = len.div_ceil(64);
        let mut chunks = Vec::new();
        chunks
            .try_reserve_exact(n)
            .map_err(|_| Error::InvalidArgument {
                reason: format!("cannot allocate {len} bytes"),
                at: Location::none(),
            })?;
        chunks.resize(n, Chunk([0; 64]));
        Ok(AlignedBuf { chunks, len })
    }

    /// A 64-byte aligned copy of `bytes`.
    pub(crate) fn copy_from(bytes: &[u8]) -> Result<AlignedBuf> {
        let mut b = AlignedBuf::zeroed(bytes.len())?;
        b.as_mut_slice().copy_from_slice(bytes);
        Ok(b)
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        let all = bytemuck::cast_slice::<Chunk, u8>(&self.chunks);
        // `zeroed` made `len.div_ceil(64)` chunks, so `len` is in bounds.
        debug_assert!(self.len <= all.len());
        all.get(..self.len).unwrap_or(all)
    }

    /// The bytes, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let len = self.len;
        let all = bytemuck::cast_slice_mut::<Chunk, u8>(&mut self.chunks);
        debug_assert!(len <= all.len());
        let n = len.min(all.len());
        all.split_at_mut(n).0
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.len as u64
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl AsRef<[u8]> for AlignedBuf {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AlignedBuf({} bytes)", self.len)
    }
}

/// The bytes of an array, kept alive for as long as the view needs them:
/// borrowed from something that outlives the view, or a range of a shared
/// owner (a memory map or an aligned copy) held through an `Arc`.
///
/// Opaque on purpose: read it with [`Bytes::as_slice`]; cloning never copies
/// the bytes.
#[derive(Clone)]
pub struct Bytes<'a>(Repr<'a>);

#[derive(Clone)]
enum Repr<'a> {
    Borrowed(&'a [u8]),
    /// The range `start..end` of `owner`, checked when it was built.
    Shared {
        owner: Arc<dyn AsRef<[u8]> + Send + Sync>,
        start: usize,
        end: usize,
    },
}

impl<'a> Bytes<'a> {
    /// Bytes borrowed from something that outlives the view.
    pub(crate) fn borrowed(bytes: &'a [u8]) -> Bytes<'a> {
        Bytes(Repr::Borrowed(bytes))
    }

    /// The range `start..start + len` of a shared owner, which must hold it
    /// (asserted in debug builds; a range outside its owner makes every
    /// typed accessor of the view return [`Error::Truncated`]).
    pub(crate) fn shared(
        owner: Arc<dyn AsRef<[u8]> + Send + Sync>,
        start: usize,
        len: usize,
    ) -> Bytes<'static> {
        let end = start.saturating_add(len);
        debug_assert!(
            start
                .checked_add(len)
                .is_some_and(|e| e <= (*owner).as_ref().len()),
            "shared range {start}+{len} outside its owner"
        );
        Bytes(Repr::Shared { owner, start, end })
    }

    /// A whole aligned buffer, shared.
    pub(crate) fn from_buf(buf: Arc<AlignedBuf>) -> Bytes<'static> {
        let end = buf.as_slice().len();
        Bytes(Repr::Shared {
            owner: buf,
            start: 0,
            end,
        })
    }

    /// The bytes, or a typed error if the range checked at construction no
    /// longer fits its owner (an owner whose length changed: a broken
    /// invariant, asserted in debug builds).
    fn try_as_slice(&self) -> Result<&[u8]> {
        match &self.0 {
            Repr::Borrowed(b) => Ok(b),
            Repr::Shared { owner, start, end } => {
                let all = (**owner).as_ref();
                match all.get(*start..*end) {
                    Some(b) => Ok(b),
                    None => {
                        debug_assert!(
                            false,
                            "shared range {start}..{end} outside {} bytes",
                            all.len()
                        );
                        Err(Error::Truncated {
                            what: "array data",
                            needed: *end as u64,
                            available: all.len() as u64,
                            at: Location::offset(*start as u64),
                        })
                    }
                }
            }
        }
    }

    /// The bytes.
    ///
    /// The range was checked against its owner when it was built and owners
    /// (memory maps, aligned buffers) never change length, so this never
    /// fails; were that broken, debug builds assert and release builds see
    /// no bytes (the typed accessors of [`ArrayView`] then return an error).
    pub fn as_slice(&self) -> &[u8] {
        self.try_as_slice().unwrap_or(&[])
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }

    /// True if there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// True when the bytes are shared through an `Arc` (a memory map or an
    /// aligned copy) rather than borrowed.
    pub fn is_shared(&self) -> bool {
        matches!(self.0, Repr::Shared { .. })
    }
}

impl fmt::Debug for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({} bytes)", self.as_slice().len())
    }
}

/// An array: dtype, shape, order and its bytes.
#[derive(Clone, Debug)]
pub struct ArrayView<'a> {
    header: Cow<'a, Header>,
    data: Bytes<'a>,
    // Borrowed from a reader's per-member cache on the hot path, so building
    // a view allocates nothing.
    at: Cow<'a, Location>,
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
            at: Cow::Owned(Location::none()),
        })
    }

    /// A view whose length the caller has already checked against the header.
    pub(crate) fn from_checked_parts(
        header: Cow<'a, Header>,
        data: Bytes<'a>,
        at: Location,
    ) -> ArrayView<'a> {
        Self::from_checked_parts_at(header, data, Cow::Owned(at))
    }

    /// As [`ArrayView::from_checked_parts`], with a possibly borrowed location.
    pub(crate) fn from_checked_parts_at(
        header: Cow<'a, Header>,
        data: Bytes<'a>,
        at: Cow<'a, Location>,
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
        self.at = Cow::Owned(at);
        self
    }

    /// The location this view's bytes come from.
    pub fn location(&self) -> &Location {
        &self.at
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
        let data = match self.data.0 {
            Repr::Borrowed(b) => Bytes::from_buf(Arc::new(AlignedBuf::copy_from(b)?)),
            Repr::Shared { owner, start, end } => Bytes(Repr::Shared { owner, start, end }),
        };
        Ok(ArrayView {
            header: Cow::Owned(self.header.into_owned()),
            data,
            at: Cow::Owned(self.at.into_owned()),
        })
    }

    fn err_at(&self, e: Error) -> Error {
        let mut e = e;
        if let Some(p) = &self.at.path {
            e = e.at_path(p);
        }
        if let Some(m) = &self.at.member {
            e = e.at_member(m.clone());
        }
        if let Some(o) = self.at.offset {
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

    /// Zero-copy `ndarray` view with strides for the array's order.
    #[cfg(feature = "ndarray")]
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
    #[cfg(feature = "ndarray")]
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

    #[cfg(feature = "ndarray")]
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

/// Byte-swaps `bytes` (whole elements of `dtype`) in place to native order.
/// Nothing happens for native or single-byte dtypes, or for empty data.
pub(crate) fn swap_to_native(dtype: &DType, bytes: &mut [u8]) {
    if bytes.is_empty() || dtype.is_native() {
        return;
    }
    // An item larger than the address space cannot be in `bytes`.
    let Ok(item) = usize::try_from(dtype.itemsize()) else {
        debug_assert!(
            false,
            "{} bytes of items of {} bytes",
            bytes.len(),
            dtype.itemsize()
        );
        return;
    };
    if item == 0 {
        return;
    }
    // Plain scalars (and complex halves, UCS-4 code units) swap in fixed
    // units: do it word-wise when the slice is aligned for the word. Records
    // walk each item without building a plan, whose size a file could
    // inflate (see `DType::swap_item`).
    if let DType::Scalar(s) = dtype {
        let unit = match s.kind {
            Kind::Complex => s.size / 2,
            Kind::Unicode => 4,
            _ => s.size,
        };
        match unit {
            0 | 1 => {}
            2 => match bytemuck::try_cast_slice_mut::<u8, u16>(bytes) {
                Ok(w) => w.iter_mut().for_each(|v| *v = v.swap_bytes()),
                Err(_) => bytes.chunks_exact_mut(2).for_each(|c| c.reverse()),
            },
            4 => match bytemuck::try_cast_slice_mut::<u8, u32>(bytes) {
                Ok(w) => w.iter_mut().for_each(|v| *v = v.swap_bytes()),
                Err(_) => bytes.chunks_exact_mut(4).for_each(|c| c.reverse()),
            },
            8 => match bytemuck::try_cast_slice_mut::<u8, u64>(bytes) {
                Ok(w) => w.iter_mut().for_each(|v| *v = v.swap_bytes()),
                Err(_) => bytes.chunks_exact_mut(8).for_each(|c| c.reverse()),
            },
            u => bytes.chunks_exact_mut(u as usize).for_each(|c| c.reverse()),
        }
        return;
    }
    for chunk in bytes.chunks_exact_mut(item) {
        dtype.swap_item(chunk);
    }
}

/// The alignment a Rust element of this dtype needs.
pub(crate) fn natural_align(dtype: &DType) -> usize {
    match dtype {
        DType::Scalar(s) => match s.kind {
            Kind::Complex => (s.size / 2).clamp(1, 16) as usize,
            Kind::Bytes | Kind::Void | Kind::Bool => 1,
            Kind::Unicode => 4,
            _ => (s.size as usize).clamp(1, 16).next_power_of_two(),
        },
        DType::Record { fields, .. } => fields
            .iter()
            .filter(|f| !f.is_padding())
            .map(|f| natural_align(&f.dtype))
            .max()
            .unwrap_or(1),
        DType::Subarray { base, .. } => natural_align(base),
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

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;

    fn header(descr: &str, shape: &[u64]) -> Header {
        Header::new(DType::parse(descr).unwrap(), shape.to_vec(), Order::C)
    }

    #[test]
    fn as_slice_reports_which_condition_failed() {
        let buf = AlignedBuf::copy_from(&[0u8; 17]).unwrap();
        let h = header("<f8", &[2]);
        let v = ArrayView::from_bytes(&h, &buf.as_slice()[1..]).unwrap();
        assert!(matches!(
            v.as_slice::<f64>(),
            Err(Error::View {
                problem: ViewProblem::Unaligned,
                ..
            })
        ));
        assert_eq!(v.to_vec::<f64>().unwrap(), vec![0.0, 0.0]);
        let v = ArrayView::from_bytes(&h, &buf.as_slice()[..16]).unwrap();
        assert!(matches!(
            v.as_slice::<i64>(),
            Err(Error::DTypeMismatch { .. })
        ));
        let hb = header(">f8", &[2]);
        let v = ArrayView::from_bytes(&hb, &buf.as_slice()[..16]).unwrap();
        assert!(matches!(
            v.as_slice::<f64>(),
            Err(Error::View {
                problem: ViewProblem::ByteOrder,
                ..
            })
        ));
    }

    #[test]
    fn dtype_mismatch_is_one_error_from_every_accessor() {
        let h = header("<f8", &[2]);
        let bytes = [0u8; 16];
        let v = ArrayView::from_bytes(&h, &bytes)
            .unwrap()
            .with_location(Location::path("a.npy"));
        let from_slice = v.as_slice::<i64>().unwrap_err();
        let from_vec = v.to_vec::<i64>().unwrap_err();
        let (
            Error::DTypeMismatch {
                expected: e1,
                found: f1,
                at: a1,
            },
            Error::DTypeMismatch {
                expected: e2,
                found: f2,
                at: a2,
            },
        ) = (&from_slice, &from_vec)
        else {
            panic!("{from_slice:?} / {from_vec:?}");
        };
        assert_eq!((e1, f1, a1), (e2, f2, a2));
        assert_eq!(f1, "<f8");
        assert_eq!(from_slice.to_string(), from_vec.to_string());
        assert!(from_slice.to_string().contains("file a.npy"));
        // A byte-swapped array of the right type is not a dtype mismatch.
        let hb = header(">f8", &[2]);
        let v = ArrayView::from_bytes(&hb, &bytes).unwrap();
        assert!(matches!(
            v.as_slice::<f64>(),
            Err(Error::View {
                problem: ViewProblem::ByteOrder,
                ..
            })
        ));
        assert_eq!(v.to_vec::<f64>().unwrap(), vec![0.0; 2]);
    }

    /// A user element whose bit patterns are checked (not every `u32` is a
    /// `char`): an invalid one is named by element index.
    #[derive(Clone, Copy, Debug, PartialEq, bytemuck::NoUninit, bytemuck::CheckedBitPattern)]
    #[repr(C)]
    struct Letter(char);
    impl Element for Letter {
        fn dtype() -> DType {
            <u32 as Element>::dtype()
        }
    }

    #[test]
    fn invalid_user_values_are_named_by_element() {
        let data: [u32; 3] = ['a' as u32, 0xD800, 'c' as u32];
        let v = ArrayView::from_slice(&data, &[3], Order::C).unwrap();
        assert!(matches!(
            v.as_slice::<Letter>(),
            Err(Error::InvalidValue { index: 1, .. })
        ));
        assert!(matches!(
            v.to_vec::<Letter>(),
            Err(Error::InvalidValue { index: 1, .. })
        ));
        let ok: [u32; 2] = ['x' as u32, 'y' as u32];
        let v = ArrayView::from_slice(&ok, &[2], Order::C).unwrap();
        assert_eq!(
            v.to_vec::<Letter>().unwrap(),
            vec![Letter('x'), Letter('y')]
        );
    }

    #[test]
    fn bytes_are_borrowed_or_shared_and_len_counts_elements() {
        let data = [1u16, 2, 3, 4, 5, 6];
        let v = ArrayView::from_slice(&data, &[2, 3], Order::C).unwrap();
        assert!(!v.bytes().is_shared());
        assert_eq!(v.bytes().len(), 12);
        assert_eq!(v.len(), 6);
        let owned: OwnedView = v.into_owned().unwrap();
        assert!(owned.bytes().is_shared());
        assert_eq!(owned.as_slice::<u16>().unwrap(), &data);
        // Zero-size items: no bytes, but the shape's elements.
        let h = header("|S0", &[3]);
        let v = ArrayView::from_bytes(&h, &[]).unwrap();
        assert_eq!((v.len(), v.is_empty(), v.bytes().len()), (3, false, 0));
        let buf = AlignedBuf::copy_from(&[7; 100]).unwrap();
        assert_eq!(buf.len(), 100);
        assert_eq!(buf.as_slice(), &[7; 100]);
    }

    #[test]
    fn to_vec_swaps_big_endian() {
        let h = header(">i4", &[2]);
        let bytes = [0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe];
        let v = ArrayView::from_bytes(&h, &bytes).unwrap();
        assert_eq!(v.to_vec::<i32>().unwrap(), vec![1, -2]);
        assert!(matches!(
            v.to_vec::<u32>(),
            Err(Error::DTypeMismatch { .. })
        ));
    }

    #[test]
    fn native_bytes_swap_mixed_records() {
        let h = header("[('a', '>u2'), ('b', '|u1'), ('c', '<u4')]", &[2]);
        let bytes = [0x01, 0x02, 9, 1, 0, 0, 0, 0x0a, 0x0b, 8, 2, 0, 0, 0];
        let v = ArrayView::from_bytes(&h, &bytes).unwrap();
        let n = v.to_native_bytes().unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(
                n.as_slice(),
                &[0x02, 0x01, 9, 1, 0, 0, 0, 0x0b, 0x0a, 8, 2, 0, 0, 0]
            );
        }
        let h = header(">c8", &[1]);
        let bytes = [0x3f, 0x80, 0, 0, 0x40, 0, 0, 0];
        let v = ArrayView::from_bytes(&h, &bytes).unwrap();
        let n = v.to_native_bytes().unwrap();
        let f: &[f32] = bytemuck::cast_slice(n.as_slice());
        assert_eq!(f, &[1.0, 2.0]);
    }

    #[test]
    fn bools_are_validated() {
        let h = header("|b1", &[3]);
        let bytes = [1, 0, 2];
        let v = ArrayView::from_bytes(&h, &bytes).unwrap();
        assert!(matches!(
            v.as_slice::<bool>(),
            Err(Error::InvalidBool {
                index: 2,
                value: 2,
                ..
            })
        ));
        assert!(matches!(
            v.to_vec::<bool>(),
            Err(Error::InvalidBool { index: 2, .. })
        ));
        let ok = [1, 0, 1];
        let v = ArrayView::from_bytes(&h, &ok).unwrap();
        assert_eq!(v.as_slice::<bool>().unwrap(), &[true, false, true]);
    }

    #[test]
    fn size_must_match() {
        let h = header("<i2", &[3]);
        assert!(matches!(
            ArrayView::from_bytes(&h, &[0; 5]),
            Err(Error::DataTooShort {
                expected: 6,
                actual: 5,
                ..
            })
        ));
        assert!(matches!(
            ArrayView::from_bytes(&h, &[0; 7]),
            Err(Error::DataTooLong { .. })
        ));
        assert!(ArrayView::from_slice(&[1u8, 2, 3], &[2, 2], Order::C).is_err());
    }

    #[test]
    fn strings_decode() {
        let h = header("<U2", &[2]);
        let mut b = Vec::new();
        for c in ['h', 'i', 'é', '\0'] {
            b.extend_from_slice(&(c as u32).to_le_bytes());
        }
        let v = ArrayView::from_bytes(&h, &b).unwrap();
        assert_eq!(
            v.to_strings().unwrap(),
            vec!["hi".to_string(), "é".to_string()]
        );
        let h = header("|S3", &[2]);
        let v = ArrayView::from_bytes(&h, b"ab\0xyz").unwrap();
        assert_eq!(
            v.to_byte_strings().unwrap(),
            vec![b"ab".to_vec(), b"xyz".to_vec()]
        );
    }

    #[test]
    fn zero_size_strings_never_allocate_by_shape() {
        // A tiny file may claim 2**60 elements of `S0`/`U0`: the data is
        // empty and valid, so the count must be capped, not allocated.
        for d in ["|S0", "<U0"] {
            let h = header(d, &[1 << 60]);
            let v = ArrayView::from_bytes(&h, &[]).unwrap();
            let r = if d == "|S0" {
                v.to_byte_strings().map(|_| ())
            } else {
                v.to_strings().map(|_| ())
            };
            assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{d}");
        }
        let h = header("|S0", &[3]);
        let v = ArrayView::from_bytes(&h, &[]).unwrap();
        assert_eq!(v.to_byte_strings().unwrap(), vec![Vec::<u8>::new(); 3]);
    }

    #[test]
    fn native_bytes_of_empty_huge_dtype_is_quick() {
        // Found by fuzzing: an empty array whose dtype is 44 GB per item.
        let h = header(">U11111111111", &[0]);
        let v = ArrayView::from_bytes(&h, &[]).unwrap();
        assert!(v.to_native_bytes().unwrap().is_empty());
        let h = header("[('a', '>i2'), ('b', '>U3', (2,))]", &[1]);
        let mut b = vec![0, 1];
        for c in ['x', 'y', 'z', 'é', '€', '\0'] {
            b.extend_from_slice(&(c as u32).to_be_bytes());
        }
        let v = ArrayView::from_bytes(&h, &b).unwrap();
        let n = v.to_native_bytes().unwrap();
        assert_eq!(&n.as_slice()[..2], &1u16.to_ne_bytes());
        assert_eq!(&n.as_slice()[2..6], &('x' as u32).to_ne_bytes());
        assert_eq!(&n.as_slice()[18..22], &('€' as u32).to_ne_bytes());
        assert_eq!(&n.as_slice()[22..26], &[0; 4]);
    }

    #[test]
    fn owned_outlives_source() {
        let owned = {
            let data = vec![1u16, 2, 3];
            ArrayView::from_slice(&data, &[3], Order::C)
                .unwrap()
                .into_owned()
                .unwrap()
        };
        assert_eq!(owned.as_slice::<u16>().unwrap(), &[1, 2, 3]);
    }
}
