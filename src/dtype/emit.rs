//! Formatting: a dtype as the descriptor text numpy writes into an NPY
//! header (`dtype.descr`, a Python literal) and as `dtype.str`.

use super::{ByteOrder, DType, Kind, Scalar, TimeUnit};
use crate::literal;
use std::fmt;

impl ByteOrder {
    pub(super) fn char(self) -> char {
        match self {
            ByteOrder::Little => '<',
            ByteOrder::Big => '>',
            ByteOrder::NotApplicable => '|',
        }
    }
}

impl TimeUnit {
    pub(super) fn as_str(self) -> &'static str {
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

impl DType {
    /// The descriptor as numpy writes it in an NPY header (Python literal).
    pub fn descr(&self) -> String {
        let mut s = String::new();
        self.write_descr(&mut s);
        s
    }

    /// Appends the Python-literal descriptor to `out`, as numpy's
    /// `dtype.descr` (`_array_descr`) formats it: `'<f8'`, a subarray as
    /// `('<f8', (5,))`, a record as a list of `(name, descr)` or
    /// `(name, descr, shape)` tuples with `(title, name)` for titled fields.
    pub fn write_descr(&self, out: &mut String) {
        match self {
            DType::Scalar(s) => literal::py_repr_str(&s.to_string(), out),
            DType::Subarray { base, shape } => {
                out.push('(');
                base.write_descr(out);
                out.push_str(", ");
                write_shape(shape, out);
                out.push(')');
            }
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
            _ => f.write_str(&self.descr()),
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
