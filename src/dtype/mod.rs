//! The dtype model: every descriptor numpy writes into an NPY header, parsed
//! strictly and formatted byte-identically to numpy, and the [`Element`]
//! trait that ties Rust types to descriptors.
//!
//! ```
//! use npzmap::dtype::DType;
//! let dt = DType::parse("[('x', '<f4'), ('pad', '|V4'), ('y', '>i8', (2, 3))]").unwrap();
//! assert_eq!(dt.itemsize(), 4 + 4 + 8 * 6);
//! let fields = dt.fields().unwrap();
//! assert_eq!(fields[2].offset, 8);
//! assert_eq!(dt.descr(), "[('x', '<f4'), ('pad', '|V4'), ('y', '>i8', (2, 3))]");
//! # #[cfg(target_endian = "little")]
//! assert_eq!(DType::parse("=u2").unwrap().to_string(), "<u2"); // native order, made explicit
//! ```
//!
//! Descriptors are read as numpy's `numpy.lib.format.descr_to_dtype` reads
//! them and written as `dtype.descr` writes them back, so a header read and
//! written again is byte-identical to numpy's for the same dtype:
//!
//! * nested subarrays: `('c', ('<f8', (5,)), (2,))` is a field of 2
//!   subarrays of 5 doubles ([`DType::Subarray`] as the field's element);
//!   `('c', ('<f8', (5,)))` is the plain field `('c', '<f8', (5,))`, and a
//!   shape `()` is no shape;
//! * a field named `''` is padding only when its dtype is void or a
//!   subarray (numpy's rule); padding is merged into one `('', '|Vn')` per
//!   gap and empty padding is dropped, as numpy's `dtype.descr` does; any
//!   other field named `''` (e.g. `('', '<i4')`) is an ordinary field;
//! * names and titles must all differ (numpy: "name already used as a name
//!   or title");
//! * forms numpy never writes and reads only by accident are refused rather
//!   than guessed: a subarray as an array's own dtype (`np.load` refuses it
//!   too), a shape `None` on a subarray or unsized element, tuples of other
//!   than two items inside a field.
//!
//! The module is split into the model (`dtype/mod.rs`), `parse` (descr
//! text and literals to [`DType`]), `emit` (dtype to descr text) and
//! `element` (the [`Element`] trait: Rust types to dtypes).

mod element;
mod emit;
mod parse;
#[cfg(test)]
mod tests;

pub use element::Element;
pub use emit::write_shape;

use crate::error::{Error, Location, Result};
use crate::literal::Value;

/// Maximum number of dimensions (numpy's NPY_MAXDIMS is 64).
pub const MAX_DIMS: usize = 64;
/// Maximum number of fields in one structured dtype (over all nesting levels).
pub const MAX_FIELDS: usize = 65_536;

/// Byte order of a scalar type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// `<`
    Little,
    /// `>`
    Big,
    /// `|`: byte order does not apply (one-byte types, bytes, void).
    NotApplicable,
}

impl ByteOrder {
    /// The byte order of this machine.
    pub const NATIVE: ByteOrder = if cfg!(target_endian = "little") {
        ByteOrder::Little
    } else {
        ByteOrder::Big
    };

    /// True if data in this order can be read without swapping.
    pub fn is_native(self) -> bool {
        self == ByteOrder::NotApplicable || self == Self::NATIVE
    }
}

/// A datetime64/timedelta64 unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    /// No unit (`M8`, `m8`).
    Generic,
    /// Years.
    Y,
    /// Months.
    M,
    /// Weeks.
    W,
    /// Days.
    D,
    /// Hours.
    H,
    /// Minutes.
    Min,
    /// Seconds.
    S,
    /// Milliseconds.
    Ms,
    /// Microseconds.
    Us,
    /// Nanoseconds.
    Ns,
    /// Picoseconds.
    Ps,
    /// Femtoseconds.
    Fs,
    /// Attoseconds.
    As,
}

/// The kind of a scalar (non-structured) dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `b1`
    Bool,
    /// `i1`..`i8`
    Int,
    /// `u1`..`u8`
    UInt,
    /// `f2`, `f4`, `f8`, `f16` (long double, opaque)
    Float,
    /// `c8`, `c16`, `c32`
    Complex,
    /// `S<n>`: fixed-length byte strings.
    Bytes,
    /// `U<n>`: fixed-length UCS-4 strings (itemsize = 4 n).
    Unicode,
    /// `V<n>`: raw bytes.
    Void,
    /// `M8[unit]`, with a unit multiple.
    DateTime(TimeUnit, u32),
    /// `m8[unit]`, with a unit multiple.
    TimeDelta(TimeUnit, u32),
}

/// A scalar dtype: kind, byte order and item size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scalar {
    /// What the bytes mean.
    pub kind: Kind,
    /// Byte order (normalised: `|` for one-byte and byte/void types).
    pub order: ByteOrder,
    /// Size of one item in bytes.
    pub size: u64,
}

/// One field of a structured dtype.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    /// Field name; empty for padding (`('', '|V4')`).
    pub name: String,
    /// Optional title (`(('title', 'name'), ...)`).
    pub title: Option<String>,
    /// The field's element dtype: a scalar, a record, or itself a
    /// [`DType::Subarray`] when the field nests subarrays
    /// (`('c', ('<f8', (5,)), (2,))`: element `('<f8', (5,))`, shape `(2,)`).
    pub dtype: DType,
    /// Subarray shape (empty for a plain field): the outermost subarray
    /// level, written as the third item of the field tuple.
    pub shape: Vec<u64>,
    /// Byte offset within the record.
    pub offset: u64,
}

impl Field {
    /// True for the unnamed padding entries numpy writes for gaps: name
    /// `''`, no title, a plain `|Vn` dtype. A field named `''` of any other
    /// dtype (`('', '<i4')`) is an ordinary field, as in numpy.
    pub fn is_padding(&self) -> bool {
        self.name.is_empty()
            && self.title.is_none()
            && self.shape.is_empty()
            && matches!(
                self.dtype,
                DType::Scalar(Scalar {
                    kind: Kind::Void,
                    ..
                })
            )
    }

    /// Size of this field in bytes (element size x subarray elements).
    pub fn size(&self) -> u64 {
        // Checked when the dtype was built.
        self.shape
            .iter()
            .fold(self.dtype.itemsize(), |a, &d| a.saturating_mul(d))
    }
}

/// A numpy dtype as it appears in an NPY header's `descr`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DType {
    /// A plain type such as `<f8`.
    Scalar(Scalar),
    /// A structured type: fields laid out one after the other.
    Record {
        /// The fields, padding included, in order.
        fields: Vec<Field>,
        /// Total size in bytes.
        itemsize: u64,
    },
    /// A subarray dtype, numpy's `np.dtype((base, shape))`, written
    /// `('<f8', (5,))`. It is only ever the element dtype of a field whose
    /// own shape nests it; an array's dtype is never a subarray.
    Subarray {
        /// The element dtype (a scalar, a record or another subarray).
        base: Box<DType>,
        /// The subarray's shape, never empty.
        shape: Vec<u64>,
    },
}

pub(crate) fn descr_err(reason: impl Into<String>) -> Error {
    Error::InvalidDescr {
        reason: reason.into(),
        at: Location::none(),
    }
}

impl DType {
    /// A scalar dtype in native byte order (normalised like numpy).
    pub fn scalar(kind: Kind, size: u64) -> DType {
        DType::Scalar(Scalar::new(kind, ByteOrder::NATIVE, size))
    }

    /// The subarray dtype `(base, shape)` as numpy builds it: an empty shape
    /// is `base` itself. Fails, like numpy, for an element of size 0 that is
    /// not a record (`|S0`, `|V0`, `('<f8', (0,))`), and on overflow.
    pub fn subarray(base: DType, shape: Vec<u64>) -> Result<DType> {
        if shape.is_empty() {
            return Ok(base);
        }
        if shape.len() > MAX_DIMS {
            return Err(descr_err("subarray has too many dimensions"));
        }
        if base.is_unsized() {
            return Err(descr_err(format!(
                "a subarray of {base} is invalid: its element has no size (numpy: invalid itemsize in generic type tuple)"
            )));
        }
        checked_size(base.itemsize(), &shape)
            .ok_or_else(|| descr_err("subarray size overflows"))?;
        Ok(DType::Subarray {
            base: Box::new(base),
            shape,
        })
    }

    /// numpy's "unsized" dtypes: size 0 and not a record (`|S0`, `|V0`,
    /// `<U0`, a subarray of size 0).
    pub(crate) fn is_unsized(&self) -> bool {
        self.itemsize() == 0 && !matches!(self, DType::Record { .. })
    }

    /// Builds a structured dtype from `(name, dtype, subarray shape)` triples,
    /// laying fields out one after the other (numpy's unaligned layout).
    /// Use an empty name with a `V<n>` dtype for padding. The fields are
    /// normalised as numpy reads them back from a header: an unnamed void or
    /// subarray field is padding, adjacent padding is merged and empty
    /// padding dropped, a subarray element's outer shape becomes the field
    /// shape; names and titles must all differ.
    pub fn record(fields: Vec<(String, DType, Vec<u64>)>) -> Result<DType> {
        let mut b = parse::RecordBuilder::new();
        for (name, dtype, shape) in fields {
            let full = DType::subarray(dtype, shape)
                .map_err(|e| descr_err(format!("field {name:?}: {e}")))?;
            b.push(None, name, full)?;
        }
        b.finish()
    }

    /// Parses a descriptor given as the Python literal text of `descr`
    /// (`"<f8"`, `"'<f8'"`, or a list of field tuples).
    pub fn parse(descr: &str) -> Result<DType> {
        let t = descr.trim();
        if t.starts_with(['[', '(', '\'', '"']) {
            let v = crate::literal::parse(t, &crate::literal::descr_error)?;
            DType::from_value(&v)
        } else {
            DType::parse_scalar_str(t)
        }
    }

    /// Builds an array's dtype from a parsed `descr` literal, as numpy's
    /// `descr_to_dtype` does (see the [module docs](self)).
    pub(crate) fn from_value(v: &Value) -> Result<DType> {
        parse::array_dtype(v)
    }

    /// Parses a plain type string such as `<f8`, `|S5`, `<M8[10ms]`.
    pub fn parse_scalar_str(s: &str) -> Result<DType> {
        Scalar::parse(s).map(DType::Scalar)
    }

    /// Item size in bytes.
    pub fn itemsize(&self) -> u64 {
        match self {
            DType::Scalar(s) => s.size,
            DType::Record { itemsize, .. } => *itemsize,
            // Checked when the dtype was built.
            DType::Subarray { base, shape } => shape
                .iter()
                .fold(base.itemsize(), |a, &d| a.saturating_mul(d)),
        }
    }

    /// The fields if this is a structured dtype.
    pub fn fields(&self) -> Option<&[Field]> {
        match self {
            DType::Record { fields, .. } => Some(fields),
            _ => None,
        }
    }

    /// The scalar if this is a plain dtype.
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match self {
            DType::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// Element dtype and shape if this is a subarray dtype.
    pub fn as_subarray(&self) -> Option<(&DType, &[u64])> {
        match self {
            DType::Subarray { base, shape } => Some((base, shape)),
            _ => None,
        }
    }

    /// The same dtype with every scalar in native byte order.
    pub fn to_native(&self) -> DType {
        self.with_order(ByteOrder::NATIVE)
    }

    /// The same dtype with every multi-byte scalar in the given order.
    pub fn with_order(&self, order: ByteOrder) -> DType {
        match self {
            DType::Scalar(s) => DType::Scalar(Scalar::new(s.kind, order, s.size)),
            DType::Record { fields, itemsize } => DType::Record {
                fields: fields
                    .iter()
                    .map(|f| Field {
                        dtype: f.dtype.with_order(order),
                        ..f.clone()
                    })
                    .collect(),
                itemsize: *itemsize,
            },
            DType::Subarray { base, shape } => DType::Subarray {
                base: Box::new(base.with_order(order)),
                shape: shape.clone(),
            },
        }
    }

    /// True if every scalar in this dtype is in native byte order.
    pub fn is_native(&self) -> bool {
        match self {
            DType::Scalar(s) => s.order.is_native(),
            DType::Record { fields, .. } => fields.iter().all(|f| f.dtype.is_native()),
            DType::Subarray { base, .. } => base.is_native(),
        }
    }

    /// True if two dtypes have the same layout and meaning regardless of byte order.
    pub fn same_ignoring_order(&self, other: &DType) -> bool {
        if let (DType::Scalar(a), DType::Scalar(b)) = (self, other) {
            // `Scalar::new` normalises the order from kind and size alone,
            // so equal kinds and sizes are equal in native order.
            return a.kind == b.kind && a.size == b.size;
        }
        self.to_native() == other.to_native()
    }

    /// The list of `(offset, size)` of multi-byte scalars that are not in
    /// native byte order, within one item; used for byte-swapping copies.
    /// Complex numbers swap each half; `U` strings swap each code unit.
    ///
    /// The plan has one entry per swapped scalar of one item (at most
    /// `itemsize / 2` entries), so it is as large as the item: for dtypes read
    /// from untrusted files prefer [`DType::swap_item`], which allocates
    /// nothing.
    pub fn swap_plan(&self) -> Vec<(u64, u64)> {
        let mut plan = Vec::new();
        self.walk_swaps(0, &mut |o, l| plan.push((o, l)));
        plan
    }

    /// Byte-swaps one item (`item.len() == itemsize`) in place to native
    /// order, without allocating. Does nothing for native dtypes; a buffer of
    /// the wrong length is left unchanged.
    pub fn swap_item(&self, item: &mut [u8]) {
        if item.len() as u64 != self.itemsize() || self.is_native() {
            return;
        }
        self.walk_swaps(0, &mut |o, l| {
            // In range: offsets and sizes come from the checked layout.
            let range = usize::try_from(o)
                .ok()
                .zip(o.checked_add(l).and_then(|e| usize::try_from(e).ok()));
            match range.and_then(|(a, b)| item.get_mut(a..b)) {
                Some(r) => r.reverse(),
                None => debug_assert!(false, "swap range {o}+{l} outside an item"),
            }
        });
    }

    /// Calls `f(offset, len)` for every byte range of one item to reverse.
    /// Work is bounded by the item size: zero-sized and native parts are
    /// skipped, so a subarray of 2**60 empty records costs nothing.
    fn walk_swaps(&self, base: u64, f: &mut dyn FnMut(u64, u64)) {
        match self {
            DType::Scalar(s) => {
                if s.order.is_native() || s.size <= 1 {
                    return;
                }
                let unit = match s.kind {
                    Kind::Complex => s.size / 2,
                    Kind::Unicode => 4,
                    _ => s.size,
                };
                if unit <= 1 {
                    return;
                }
                let mut o = 0;
                while o + unit <= s.size {
                    f(base + o, unit);
                    o += unit;
                }
            }
            DType::Record { fields, .. } => {
                for fd in fields {
                    walk_repeated(&fd.dtype, &fd.shape, base + fd.offset, f);
                }
            }
            DType::Subarray { base: elem, shape } => walk_repeated(elem, shape, base, f),
        }
    }
}

/// [`DType::walk_swaps`] over `prod(shape)` consecutive items of `elem`.
fn walk_repeated(elem: &DType, shape: &[u64], base: u64, f: &mut dyn FnMut(u64, u64)) {
    let isz = elem.itemsize();
    if isz == 0 || elem.is_native() {
        return;
    }
    // n * isz <= itemsize: checked when the dtype was built.
    let n = shape.iter().product::<u64>();
    for i in 0..n {
        elem.walk_swaps(base + i * isz, f);
    }
}

/// `itemsize * prod(shape)` with overflow checking. The element count
/// `prod(shape)` must fit too, whatever the itemsize: with a zero-size
/// dtype (`S0`, `V0`, an empty record) the byte count is 0 while an element
/// count past 2^64 still breaks every loop over the elements.
pub fn checked_size(itemsize: u64, shape: &[u64]) -> Option<u64> {
    shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))?
        .checked_mul(itemsize)
}

impl Scalar {
    /// Builds a scalar, normalising the byte order as numpy does.
    pub fn new(kind: Kind, order: ByteOrder, size: u64) -> Scalar {
        let order = match kind {
            Kind::Bytes | Kind::Void => ByteOrder::NotApplicable,
            Kind::Bool | Kind::Int | Kind::UInt if size <= 1 => ByteOrder::NotApplicable,
            _ if order == ByteOrder::NotApplicable && size > 1 => ByteOrder::NATIVE,
            _ => order,
        };
        Scalar { kind, order, size }
    }
}
