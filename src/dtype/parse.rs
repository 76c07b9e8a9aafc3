//! Parsing: descriptor literals from NPY headers to [`DType`], with the
//! rules of numpy's `numpy.lib.format.descr_to_dtype` (see the
//! [module docs](super)).

use super::{ByteOrder, DType, Field, Kind, MAX_DIMS, MAX_FIELDS, Scalar, TimeUnit, descr_err};
use crate::error::{Error, Location, Result};
use crate::literal::Value;
use std::collections::HashSet;

/// Deepest nesting of records and subarrays accepted.
const MAX_DEPTH: usize = 16;

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
}

/// An array's dtype from its `descr` literal. A subarray is refused here:
/// `np.load` cannot read an array whose own dtype is one (it fails with
/// "Failed to read all data"), and numpy never writes one.
pub(super) fn array_dtype(v: &Value) -> Result<DType> {
    let mut budget = MAX_FIELDS;
    let d = from_value(v, 0, &mut budget)?;
    if matches!(d, DType::Subarray { .. }) {
        return Err(descr_err(format!(
            "descr {} is a subarray dtype, which an array cannot have (np.load refuses it too)",
            d.descr()
        )));
    }
    Ok(d)
}

fn from_value(v: &Value, depth: usize, budget: &mut usize) -> Result<DType> {
    if depth > MAX_DEPTH {
        return Err(descr_err("structured dtype nested too deeply"));
    }
    match v {
        Value::Str(s) => DType::parse_scalar_str(s),
        // A subarray: (element descr, shape).
        Value::Tuple(parts) => match parts.as_slice() {
            [descr, shape] => {
                let elem = from_value(descr, depth + 1, budget)?;
                apply_shape(elem, shape)
            }
            _ => Err(descr_err(
                "a subarray descr must be a tuple (descr, shape) of 2 items",
            )),
        },
        Value::List(items) => {
            let mut b = RecordBuilder::new();
            for item in items {
                *budget = budget
                    .checked_sub(1)
                    .ok_or_else(|| descr_err("too many fields"))?;
                let (Value::Tuple(parts) | Value::List(parts)) = item else {
                    return Err(descr_err(format!(
                        "field must be a tuple, found {}",
                        item.type_name()
                    )));
                };
                let (field_name, descr, shape) = match parts.as_slice() {
                    [n, d] => (n, d, None),
                    [n, d, s] => (n, d, Some(s)),
                    _ => return Err(descr_err("field tuple must have 2 or 3 items")),
                };
                let (title, name) = match field_name {
                    Value::Str(n) => (None, n.clone()),
                    Value::Tuple(tn) if tn.len() == 2 => match tn.as_slice() {
                        [Value::Str(t), Value::Str(n)] => (Some(t.clone()), n.clone()),
                        _ => return Err(descr_err("titled field needs (title, name) strings")),
                    },
                    _ => return Err(descr_err("field name must be a string")),
                };
                let elem = from_value(descr, depth + 1, budget)?;
                let full = match shape {
                    None => elem,
                    Some(shape) => apply_shape(elem, shape)
                        .map_err(|e| descr_err(format!("field {name:?}: {e}")))?,
                };
                b.push(title, name, full)?;
            }
            b.finish()
        }
        other => Err(descr_err(format!(
            "descr must be a string, a list or a (descr, shape) tuple, found {}",
            other.type_name()
        ))),
    }
}

/// numpy's `np.dtype((elem, shape))` for the shape literals numpy accepts:
/// an int `n` (shape `(n,)`, or the size of an unsized `|S0`/`|V0`/`<U0`
/// element), a tuple or a non-empty list of ints (`()` is no shape), and
/// `None` (no shape) on a sized non-subarray element.
fn apply_shape(elem: DType, shape: &Value) -> Result<DType> {
    if elem.is_unsized() {
        // numpy reads the second item as an item size here, never a shape.
        return match (&elem, shape) {
            (DType::Scalar(s), Value::Int(n)) => {
                let n = u64::try_from(*n).map_err(|_| descr_err(format!("invalid size {n}")))?;
                let size = if s.kind == Kind::Unicode {
                    n.checked_mul(4)
                        .ok_or_else(|| descr_err("U size overflows"))?
                } else {
                    n
                };
                Ok(DType::Scalar(Scalar::new(s.kind, s.order, size)))
            }
            _ => Err(descr_err(format!(
                "{elem} has no size and cannot take the shape {} (numpy: invalid itemsize in generic type tuple)",
                shape.type_name()
            ))),
        };
    }
    let dims = match shape {
        Value::None if !matches!(elem, DType::Subarray { .. }) => return Ok(elem),
        Value::Int(n) => vec![to_dim(*n)?],
        Value::Tuple(dims) => dims_of(dims)?,
        Value::List(dims) if !dims.is_empty() => dims_of(dims)?,
        other => {
            return Err(descr_err(format!(
                "subarray shape must be a tuple of ints, found {}",
                other.type_name()
            )));
        }
    };
    DType::subarray(elem, dims)
}

fn dims_of(dims: &[Value]) -> Result<Vec<u64>> {
    if dims.len() > MAX_DIMS {
        return Err(descr_err("subarray has too many dimensions"));
    }
    dims.iter()
        .map(|d| match d {
            Value::Int(n) => to_dim(*n),
            _ => Err(descr_err("subarray dimension must be an int")),
        })
        .collect()
}

fn to_dim(n: i128) -> Result<u64> {
    u64::try_from(n).map_err(|_| descr_err(format!("invalid dimension {n}")))
}

/// Lays out a record's fields as numpy's `descr_to_dtype` does, and keeps
/// the padding numpy's `dtype.descr` writes back.
pub(super) struct RecordBuilder {
    fields: Vec<Field>,
    offset: u64,
    /// Padding bytes not yet emitted (merged until the next field).
    pad: u64,
    /// Names and titles used so far.
    used: HashSet<String>,
}

impl RecordBuilder {
    pub(super) fn new() -> RecordBuilder {
        RecordBuilder {
            fields: Vec::new(),
            offset: 0,
            pad: 0,
            used: HashSet::new(),
        }
    }

    /// Adds one entry `(title, name, full dtype)`, where the full dtype
    /// includes the field's subarray shape.
    pub(super) fn push(&mut self, title: Option<String>, name: String, full: DType) -> Result<()> {
        let size = full.itemsize();
        // numpy: `name == '' and dt.type is np.void and dt.names is None`;
        // subarray dtypes have type void too.
        let is_pad = title.is_none()
            && name.is_empty()
            && matches!(
                full,
                DType::Subarray { .. }
                    | DType::Scalar(Scalar {
                        kind: Kind::Void,
                        ..
                    })
            );
        if is_pad {
            self.pad = self
                .pad
                .checked_add(size)
                .ok_or_else(|| descr_err("record size overflows"))?;
            return Ok(());
        }
        if let Some(t) = &title
            && (*t == name || !self.used.insert(t.clone()))
        {
            return Err(descr_err(format!(
                "title {t:?} already used as a name or title"
            )));
        }
        if !self.used.insert(name.clone()) {
            return Err(descr_err(format!("duplicate field name {name:?}")));
        }
        self.flush_pad()?;
        let (dtype, shape) = match full {
            DType::Subarray { base, shape } => (*base, shape),
            d => (d, Vec::new()),
        };
        self.fields.push(Field {
            name,
            title,
            dtype,
            shape,
            offset: self.offset,
        });
        self.offset = self
            .offset
            .checked_add(size)
            .ok_or_else(|| descr_err("record size overflows"))?;
        Ok(())
    }

    fn flush_pad(&mut self) -> Result<()> {
        if self.pad == 0 {
            return Ok(());
        }
        self.fields.push(Field {
            name: String::new(),
            title: None,
            dtype: DType::Scalar(Scalar::new(Kind::Void, ByteOrder::NotApplicable, self.pad)),
            shape: Vec::new(),
            offset: self.offset,
        });
        self.offset = self
            .offset
            .checked_add(self.pad)
            .ok_or_else(|| descr_err("record size overflows"))?;
        self.pad = 0;
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<DType> {
        self.flush_pad()?;
        Ok(DType::Record {
            fields: self.fields,
            itemsize: self.offset,
        })
    }
}

impl Scalar {
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
            // u64::MAX has 20 digits; larger values fail `parse` below.
            if t.is_empty() || t.len() > 20 || !t.bytes().all(|b| b.is_ascii_digit()) {
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
                let (unit, mult) = time_unit(t, &num).ok_or_else(bad)?;
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

/// The `[10ms]` part of a datetime type string (`t` after `M8`/`m8`):
/// unit and multiple, `Generic` for none. `num` parses a decimal number.
fn time_unit(t: &str, num: &dyn Fn(&str) -> Result<u64>) -> Option<(TimeUnit, u32)> {
    if t.is_empty() {
        return Some((TimeUnit::Generic, 1));
    }
    let inner = t.strip_prefix('[')?.strip_suffix(']')?;
    let digits = inner.bytes().take_while(|b| b.is_ascii_digit()).count();
    let mult = if digits == 0 {
        1
    } else {
        let m = num(&inner[..digits]).ok()?;
        u32::try_from(m).ok().filter(|&m| m > 0)?
    };
    let unit = TimeUnit::parse(&inner[digits..])?;
    if unit == TimeUnit::Generic && digits > 0 {
        return None;
    }
    Some((unit, mult))
}
