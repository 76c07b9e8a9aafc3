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

use crate::error::{Error, Location, Result};
use crate::literal::{self, Value};
use std::fmt;

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

    fn char(self) -> char {
        match self {
            ByteOrder::Little => '<',
            ByteOrder::Big => '>',
            ByteOrder::NotApplicable => '|',
        }
    }

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

impl TimeUnit {
    fn parse(s: &str) -> Option<TimeUnit> {
        Some(match s {
            "Y" => TimeUnit::Y,
            "M" => TimeUnit::M,
            "W" => TimeUnit::W,
            "D" => TimeUnit::D,
            "h" => TimeUnit::H,
            "m" => TimeUnit::Min,
            "s" => TimeUnit::S,
            "ms" => TimeUnit::Ms,
            "us" | "μs" => TimeUnit::Us,
            "ns" => TimeUnit::Ns,
            "ps" => TimeUnit::Ps,
            "fs" => TimeUnit::Fs,
            "as" => TimeUnit::As,
            "generic" => TimeUnit::Generic,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Generic => "generic",
            TimeUnit::Y => "Y",
            TimeUnit::M => "M",
            TimeUnit::W => "W",
            TimeUnit::D => "D",
            TimeUnit::H => "h",
            TimeUnit::Min => "m",
            TimeUnit::S => "s",
            TimeUnit::Ms => "ms",
            TimeUnit::Us => "us",
            TimeUnit::Ns => "ns",
            TimeUnit::Ps => "ps",
            TimeUnit::Fs => "fs",
            TimeUnit::As => "as",
        }
    }
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
    /// The field's element dtype.
    pub dtype: DType,
    /// Subarray shape (empty for a plain field).
    pub shape: Vec<u64>,
    /// Byte offset within the record.
    pub offset: u64,
}

impl Field {
    /// True for the unnamed padding entries numpy writes for gaps.
    pub fn is_padding(&self) -> bool {
        self.name.is_empty()
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
}

fn descr_err(reason: impl Into<String>) -> Error {
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

    /// Builds a structured dtype from `(name, dtype, subarray shape)` triples,
    /// laying fields out one after the other (numpy's unaligned layout).
    /// Use an empty name with a `V<n>` dtype for padding.
    pub fn record(fields: Vec<(String, DType, Vec<u64>)>) -> Result<DType> {
        let mut out = Vec::with_capacity(fields.len());
        let mut offset: u64 = 0;
        for (name, dtype, shape) in fields {
            let size = checked_size(dtype.itemsize(), &shape)
                .ok_or_else(|| descr_err(format!("field {name:?} is too large")))?;
            out.push(Field {
                name,
                title: None,
                dtype,
                shape,
                offset,
            });
            offset = offset
                .checked_add(size)
                .ok_or_else(|| descr_err("record is too large"))?;
        }
        check_unique_names(&out)?;
        Ok(DType::Record {
            fields: out,
            itemsize: offset,
        })
    }

    /// Parses a descriptor given as the Python literal text of `descr`
    /// (`"<f8"`, `"'<f8'"`, or a list of field tuples).
    pub fn parse(descr: &str) -> Result<DType> {
        let t = descr.trim();
        if t.starts_with('[') || t.starts_with('\'') || t.starts_with('"') {
            let v = literal::parse(t, &literal::descr_error)?;
            DType::from_value(&v)
        } else {
            DType::parse_scalar_str(t)
        }
    }

    /// Builds a dtype from a parsed `descr` literal.
    pub fn from_value(v: &Value) -> Result<DType> {
        let mut budget = MAX_FIELDS;
        from_value_inner(v, 0, &mut budget)
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
        }
    }

    /// The fields if this is a structured dtype.
    pub fn fields(&self) -> Option<&[Field]> {
        match self {
            DType::Record { fields, .. } => Some(fields),
            DType::Scalar(_) => None,
        }
    }

    /// The scalar if this is a plain dtype.
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match self {
            DType::Scalar(s) => Some(s),
            DType::Record { .. } => None,
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
        }
    }

    /// True if every scalar in this dtype is in native byte order.
    pub fn is_native(&self) -> bool {
        match self {
            DType::Scalar(s) => s.order.is_native(),
            DType::Record { fields, .. } => fields.iter().all(|f| f.dtype.is_native()),
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
            if let Some(r) = item.get_mut(o as usize..(o + l) as usize) {
                r.reverse();
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
                    let isz = fd.dtype.itemsize();
                    if isz == 0 || fd.dtype.is_native() {
                        continue;
                    }
                    // n * isz <= itemsize: checked when the dtype was built.
                    let n = fd.shape.iter().product::<u64>();
                    for i in 0..n {
                        fd.dtype.walk_swaps(base + fd.offset + i * isz, f);
                    }
                }
            }
        }
    }

    /// The descriptor as numpy writes it in an NPY header (Python literal).
    pub fn descr(&self) -> String {
        let mut s = String::new();
        self.write_descr(&mut s);
        s
    }

    /// Appends the Python-literal descriptor to `out`.
    pub fn write_descr(&self, out: &mut String) {
        match self {
            DType::Scalar(s) => literal::py_repr_str(&s.to_string(), out),
            DType::Record { fields, .. } => {
                out.push('[');
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push('(');
                    match &f.title {
                        Some(t) => {
                            out.push('(');
                            literal::py_repr_str(t, out);
                            out.push_str(", ");
                            literal::py_repr_str(&f.name, out);
                            out.push(')');
                        }
                        None => literal::py_repr_str(&f.name, out),
                    }
                    out.push_str(", ");
                    f.dtype.write_descr(out);
                    if !f.shape.is_empty() {
                        out.push_str(", ");
                        write_shape(&f.shape, out);
                    }
                    out.push(')');
                }
                out.push(']');
            }
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DType::Scalar(s) => write!(f, "{s}"),
            DType::Record { .. } => f.write_str(&self.descr()),
        }
    }
}

/// Formats a shape like Python's `repr(tuple)`: `()`, `(5,)`, `(2, 3)`.
pub fn write_shape(shape: &[u64], out: &mut String) {
    out.push('(');
    for (i, d) in shape.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&d.to_string());
    }
    if shape.len() == 1 {
        out.push(',');
    }
    out.push(')');
}

/// `itemsize * prod(shape)` with overflow checking.
pub fn checked_size(itemsize: u64, shape: &[u64]) -> Option<u64> {
    shape.iter().try_fold(itemsize, |a, &d| a.checked_mul(d))
}

fn check_unique_names(fields: &[Field]) -> Result<()> {
    for (i, f) in fields.iter().enumerate() {
        if f.name.is_empty() {
            continue;
        }
        if fields[..i].iter().any(|g| g.name == f.name) {
            return Err(descr_err(format!("duplicate field name {:?}", f.name)));
        }
    }
    Ok(())
}

fn from_value_inner(v: &Value, depth: usize, budget: &mut usize) -> Result<DType> {
    if depth > 16 {
        return Err(descr_err("structured dtype nested too deeply"));
    }
    match v {
        Value::Str(s) => DType::parse_scalar_str(s),
        Value::List(items) => {
            if items.is_empty() {
                return Err(descr_err("empty field list"));
            }
            let mut fields = Vec::with_capacity(items.len().min(1024));
            let mut offset: u64 = 0;
            for item in items {
                *budget = budget
                    .checked_sub(1)
                    .ok_or_else(|| descr_err("too many fields"))?;
                let Value::Tuple(parts) = item else {
                    return Err(descr_err(format!(
                        "field must be a tuple, found {}",
                        item.type_name()
                    )));
                };
                if parts.len() != 2 && parts.len() != 3 {
                    return Err(descr_err("field tuple must have 2 or 3 items"));
                }
                let (title, name) = match &parts[0] {
                    Value::Str(n) => (None, n.clone()),
                    Value::Tuple(tn) if tn.len() == 2 => match (&tn[0], &tn[1]) {
                        (Value::Str(t), Value::Str(n)) => (Some(t.clone()), n.clone()),
                        _ => return Err(descr_err("titled field needs (title, name) strings")),
                    },
                    _ => return Err(descr_err("field name must be a string")),
                };
                let dtype = from_value_inner(&parts[1], depth + 1, budget)?;
                let shape = match parts.get(2) {
                    None => Vec::new(),
                    Some(Value::Int(n)) => vec![to_dim(*n)?],
                    Some(Value::Tuple(dims)) => {
                        if dims.len() > MAX_DIMS {
                            return Err(descr_err("subarray has too many dimensions"));
                        }
                        dims.iter()
                            .map(|d| match d {
                                Value::Int(n) => to_dim(*n),
                                _ => Err(descr_err("subarray dimension must be an int")),
                            })
                            .collect::<Result<Vec<_>>>()?
                    }
                    Some(other) => {
                        return Err(descr_err(format!(
                            "subarray shape must be a tuple, found {}",
                            other.type_name()
                        )));
                    }
                };
                if name.is_empty() && title.is_none() {
                    // Padding: numpy writes ('', '|Vn').
                    if !matches!(
                        dtype,
                        DType::Scalar(Scalar {
                            kind: Kind::Void,
                            ..
                        })
                    ) || !shape.is_empty()
                    {
                        return Err(descr_err("unnamed field must be void padding"));
                    }
                }
                let size = checked_size(dtype.itemsize(), &shape)
                    .ok_or_else(|| descr_err("field size overflows"))?;
                fields.push(Field {
                    name,
                    title,
                    dtype,
                    shape,
                    offset,
                });
                offset = offset
                    .checked_add(size)
                    .ok_or_else(|| descr_err("record size overflows"))?;
            }
            check_unique_names(&fields)?;
            Ok(DType::Record {
                fields,
                itemsize: offset,
            })
        }
        other => Err(descr_err(format!(
            "descr must be a string or a list, found {}",
            other.type_name()
        ))),
    }
}

fn to_dim(n: i128) -> Result<u64> {
    u64::try_from(n).map_err(|_| descr_err(format!("invalid dimension {n}")))
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

    /// Parses a type string: optional order (`<>|=`), type code, size.
    pub fn parse(s: &str) -> Result<Scalar> {
        if s.len() > 64 {
            return Err(descr_err("type string too long"));
        }
        let (order, rest) = match s.as_bytes().first() {
            Some(b'<') => (Some(ByteOrder::Little), &s[1..]),
            Some(b'>') => (Some(ByteOrder::Big), &s[1..]),
            Some(b'|') => (Some(ByteOrder::NotApplicable), &s[1..]),
            Some(b'=') => (Some(ByteOrder::NATIVE), &s[1..]),
            _ => (None, s),
        };
        let order = order.unwrap_or(ByteOrder::NATIVE);
        let Some(code) = rest.chars().next() else {
            return Err(descr_err(format!("empty type string {s:?}")));
        };
        let tail = &rest[code.len_utf8()..];
        let bad = || descr_err(format!("unsupported type string {s:?}"));
        let num = |t: &str| -> Result<u64> {
            if t.is_empty() || t.len() > 19 || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            t.parse::<u64>().map_err(|_| bad())
        };
        let (kind, size) = match code {
            'O' => {
                return Err(Error::ObjectArray {
                    at: Location::none(),
                });
            }
            'b' | '?' => {
                if !(tail.is_empty() || tail == "1") {
                    return Err(bad());
                }
                (Kind::Bool, 1)
            }
            'i' | 'u' => {
                let n = num(tail)?;
                if ![1, 2, 4, 8].contains(&n) {
                    return Err(bad());
                }
                (if code == 'i' { Kind::Int } else { Kind::UInt }, n)
            }
            'f' => {
                let n = num(tail)?;
                if ![2, 4, 8, 12, 16].contains(&n) {
                    return Err(bad());
                }
                (Kind::Float, n)
            }
            'c' => {
                let n = num(tail)?;
                if ![8, 16, 24, 32].contains(&n) {
                    return Err(bad());
                }
                (Kind::Complex, n)
            }
            'S' | 'a' => (Kind::Bytes, if tail.is_empty() { 0 } else { num(tail)? }),
            'V' => (Kind::Void, if tail.is_empty() { 0 } else { num(tail)? }),
            'U' => {
                let n = if tail.is_empty() { 0 } else { num(tail)? };
                (
                    Kind::Unicode,
                    n.checked_mul(4)
                        .ok_or_else(|| descr_err("U size overflows"))?,
                )
            }
            'M' | 'm' => {
                let Some(t) = tail.strip_prefix('8') else {
                    return Err(bad());
                };
                let (unit, mult) = if t.is_empty() {
                    (TimeUnit::Generic, 1)
                } else {
                    let inner = t
                        .strip_prefix('[')
                        .and_then(|t| t.strip_suffix(']'))
                        .ok_or_else(bad)?;
                    let digits = inner.bytes().take_while(|b| b.is_ascii_digit()).count();
                    let mult = if digits == 0 {
                        1
                    } else {
                        let m = num(&inner[..digits])?;
                        u32::try_from(m).ok().filter(|&m| m > 0).ok_or_else(bad)?
                    };
                    let unit = TimeUnit::parse(&inner[digits..]).ok_or_else(bad)?;
                    if unit == TimeUnit::Generic && digits > 0 {
                        return Err(bad());
                    }
                    (unit, mult)
                };
                (
                    if code == 'M' {
                        Kind::DateTime(unit, mult)
                    } else {
                        Kind::TimeDelta(unit, mult)
                    },
                    8,
                )
            }
            _ => return Err(bad()),
        };
        Ok(Scalar::new(kind, order, size))
    }
}

impl fmt::Display for Scalar {
    /// Formats like numpy's `dtype.str`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.order.char();
        match self.kind {
            Kind::Bool => write!(f, "{o}b1"),
            Kind::Int => write!(f, "{o}i{}", self.size),
            Kind::UInt => write!(f, "{o}u{}", self.size),
            Kind::Float => write!(f, "{o}f{}", self.size),
            Kind::Complex => write!(f, "{o}c{}", self.size),
            Kind::Bytes => write!(f, "{o}S{}", self.size),
            Kind::Void => write!(f, "{o}V{}", self.size),
            Kind::Unicode => write!(f, "{o}U{}", self.size / 4),
            Kind::DateTime(u, m) | Kind::TimeDelta(u, m) => {
                let c = if matches!(self.kind, Kind::DateTime(..)) {
                    'M'
                } else {
                    'm'
                };
                match (u, m) {
                    (TimeUnit::Generic, _) => write!(f, "{o}{c}8"),
                    (u, 1) => write!(f, "{o}{c}8[{}]", u.as_str()),
                    (u, m) => write!(f, "{o}{c}8[{m}{}]", u.as_str()),
                }
            }
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_round_trips() {
        for s in [
            "|b1",
            "|i1",
            "<i2",
            "<i4",
            "<i8",
            "|u1",
            "<u2",
            ">u4",
            "<u8",
            "<f2",
            "<f4",
            ">f8",
            "<c8",
            "<c16",
            "|S5",
            "<U7",
            ">U1",
            "|V16",
            "<M8[ns]",
            "<m8[s]",
            "<M8[10ms]",
            "<M8",
            ">m8[3D]",
            "<M8[us]",
            "<f16",
            "|S0",
        ] {
            let d = DType::parse(s).unwrap();
            assert_eq!(d.descr(), format!("'{s}'"), "{s}");
            assert_eq!(d.to_string(), s);
        }
    }

    #[test]
    fn normalises_like_numpy() {
        assert_eq!(DType::parse(">i1").unwrap().to_string(), "|i1");
        assert_eq!(DType::parse("<S3").unwrap().to_string(), "|S3");
        assert_eq!(DType::parse("u1").unwrap().to_string(), "|u1");
        let native = if cfg!(target_endian = "little") {
            "<"
        } else {
            ">"
        };
        assert_eq!(
            DType::parse("=f8").unwrap().to_string(),
            format!("{native}f8")
        );
        assert_eq!(DType::parse("<U3").unwrap().itemsize(), 12);
    }

    #[test]
    fn object_is_refused() {
        assert!(matches!(DType::parse("|O"), Err(Error::ObjectArray { .. })));
        assert!(matches!(
            DType::parse("[('a', '|O')]"),
            Err(Error::ObjectArray { .. })
        ));
        let msg = DType::parse("|O").unwrap_err().to_string();
        assert!(msg.contains("pickled object arrays are not supported"));
    }

    #[test]
    fn structured_layout() {
        let d = DType::parse(
            "[(('T', 'a'), '<i4'), ('', '|V4'), ('b', [('c', '<f8'), ('d', '|u1', (3,))]), ('e', '<f4', (2, 2))]",
        )
        .unwrap();
        let f = d.fields().unwrap();
        assert_eq!(f[0].title.as_deref(), Some("T"));
        assert_eq!(f[1].offset, 4);
        assert!(f[1].is_padding());
        assert_eq!(f[2].offset, 8);
        assert_eq!(f[2].dtype.itemsize(), 11);
        assert_eq!(f[3].offset, 19);
        assert_eq!(d.itemsize(), 35);
        assert_eq!(
            d.descr(),
            "[(('T', 'a'), '<i4'), ('', '|V4'), ('b', [('c', '<f8'), ('d', '|u1', (3,))]), ('e', '<f4', (2, 2))]"
        );
    }

    #[test]
    fn same_ignoring_order_fast_path_agrees() {
        let all = [
            "<f8",
            ">f8",
            "|b1",
            "<i1",
            "|i1",
            ">u2",
            "<u2",
            "<c16",
            ">c8",
            "|S5",
            "|S6",
            "<U3",
            ">U3",
            "|V4",
            "<M8[ns]",
            ">M8[ns]",
            "<M8[s]",
            "<m8[10ms]",
            "<f2",
            ">i8",
            "<u8",
            "[('a', '<f4')]",
            "[('a', '>f4')]",
        ];
        for a in all {
            for b in all {
                let (x, y) = (DType::parse(a).unwrap(), DType::parse(b).unwrap());
                assert_eq!(
                    x.same_ignoring_order(&y),
                    x.to_native() == y.to_native(),
                    "{a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn bad_descrs_are_errors() {
        for s in [
            "<i3",
            "<f5",
            "x",
            "",
            "<M8[xs]",
            "<M8[0s]",
            "[]",
            "[('a',)]",
            "[('a', 5)]",
            "[('a', '<i4'), ('a', '<i4')]",
            "[('', '<i4')]",
            "<S99999999999999999999",
            "<U9999999999999999999",
            "[('a', '<i4', (-1,))]",
        ] {
            assert!(DType::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn huge_record_is_error_not_overflow() {
        let s = "[('a', '|V18446744073709551615'), ('b', '|V2')]";
        assert!(DType::parse(s).is_err());
        let s = "[('a', '<f8', (4294967296, 4294967296))]";
        assert!(DType::parse(s).is_err());
    }

    #[test]
    fn swap_plan_covers_complex_and_records() {
        assert_eq!(
            DType::parse(">c16").unwrap().swap_plan(),
            vec![(0, 8), (8, 8)]
        );
        let d = DType::parse("[('a', '>i2', (2,)), ('b', '|u1'), ('c', '<f4')]").unwrap();
        let plan = d.swap_plan();
        if cfg!(target_endian = "little") {
            assert_eq!(plan, vec![(0, 2), (2, 2)]);
        }
    }

    #[test]
    fn swapping_is_bounded_by_the_item_not_the_dtype_text() {
        // Found by fuzzing (descr): a one-line descriptor whose swap plan had
        // 11e9 entries, and subarrays of empty records looping 2**60 times.
        let d = DType::parse(">U11111111111").unwrap();
        let mut item = Vec::new();
        d.swap_item(&mut item); // wrong length: a no-op, not a 44 GB walk
        let d = DType::parse("[('a', [('x', '>i2', (0,))], (1152921504606846976,)), ('b', '>i2')]")
            .unwrap();
        assert_eq!(d.itemsize(), 2);
        let t = std::time::Instant::now();
        assert_eq!(d.swap_plan(), vec![(0, 2)]);
        let mut item = [1, 2];
        d.swap_item(&mut item);
        assert_eq!(item, [2, 1]);
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn swap_item_matches_swap_plan() {
        let d = DType::parse(
            "[('a', '>c8', (2,)), ('b', '|u1'), ('c', [('u', '>U2'), ('v', '<i4')], (2,))]",
        )
        .unwrap();
        let mut by_plan: Vec<u8> = (0..d.itemsize() as u8).collect();
        let mut by_item = by_plan.clone();
        for (o, l) in d.swap_plan() {
            by_plan[o as usize..(o + l) as usize].reverse();
        }
        d.swap_item(&mut by_item);
        assert_eq!(by_plan, by_item);
        if cfg!(target_endian = "little") {
            assert_eq!(&by_item[..4], &[3, 2, 1, 0]);
            assert_eq!(by_item[16], 16); // u1 untouched
        }
    }

    #[test]
    fn elements_map_to_descrs() {
        let native = if cfg!(target_endian = "little") {
            "<"
        } else {
            ">"
        };
        assert_eq!(bool::dtype().to_string(), "|b1");
        assert_eq!(u8::dtype().to_string(), "|u1");
        assert_eq!(f64::dtype().to_string(), format!("{native}f8"));
        assert_eq!(i16::dtype().to_string(), format!("{native}i2"));
    }
}
