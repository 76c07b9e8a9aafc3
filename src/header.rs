//! NPY headers: read v1.0/v2.0/v3.0, write byte-identical to `np.save`.
//!
//! ```
//! use npzmap::header::{Header, read_header, DEFAULT_HEADER_LIMIT};
//! use npzmap::{DType, Order};
//! let h = Header::new(DType::parse("<f8").unwrap(), vec![10, 3, 4], Order::C);
//! let bytes = h.to_bytes().unwrap();
//! assert_eq!(bytes.len() % 64, 0);
//! assert!(bytes.starts_with(b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (10, 3, 4), }"));
//! let parsed = read_header(&bytes, DEFAULT_HEADER_LIMIT).unwrap();
//! assert_eq!(parsed.header, h);
//! assert_eq!(parsed.data_offset, 128);
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

use crate::dtype::{DType, MAX_DIMS, checked_size, write_shape};
use crate::error::{Error, Location, Result};
use crate::literal::{self, Value};

/// The NPY magic string.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// numpy's alignment of the header end (ARRAY_ALIGN).
pub const ARRAY_ALIGN: usize = 64;
/// numpy's spare room for the growth axis: `len(str(8 * 2**64 - 1))`.
pub const GROWTH_AXIS_MAX_DIGITS: usize = 21;
/// Default cap on the header length we accept when reading (1 MiB).
///
/// numpy's `np.load` refuses headers over 10000 characters unless
/// `max_header_size` is raised (or `allow_pickle=True`), because
/// `ast.literal_eval` is slow and deep on large input; numpy itself writes
/// such headers (thousands of fields, long names: its own test_format.py
/// does). npzmap's header parser is linear and bounded, so it reads them by
/// default, as numpy does once the limit is lifted. Pass 10000 as the
/// header limit (`NpyOptions::header_limit`, `ReaderOptions::header_limit`)
/// to refuse exactly what numpy's default refuses (tests/numpy_format.rs
/// checks both).
pub const DEFAULT_HEADER_LIMIT: usize = 1 << 20;

/// Memory order of an array's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Order {
    /// Row-major (numpy's default); grows along axis 0.
    #[default]
    C,
    /// Column-major (`fortran_order: True`); grows along the last axis.
    Fortran,
}

impl Order {
    /// `fortran_order` as stored in the header.
    pub fn is_fortran(self) -> bool {
        self == Order::Fortran
    }

    /// From the header's `fortran_order`.
    pub fn from_fortran(f: bool) -> Order {
        if f { Order::Fortran } else { Order::C }
    }
}

/// NPY format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// 1.0: u16 header length, latin-1.
    V1,
    /// 2.0: u32 header length, latin-1.
    V2,
    /// 3.0: u32 header length, UTF-8.
    V3,
}

impl Version {
    /// Bytes before the header text: magic, version, length field.
    pub fn prefix_len(self) -> usize {
        match self {
            Version::V1 => 10,
            Version::V2 | Version::V3 => 12,
        }
    }

    /// (major, minor)
    pub fn numbers(self) -> (u8, u8) {
        match self {
            Version::V1 => (1, 0),
            Version::V2 => (2, 0),
            Version::V3 => (3, 0),
        }
    }
}

/// The contents of an NPY header: dtype, shape, order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Header {
    /// Element type.
    pub dtype: DType,
    /// Array shape; empty for a 0-d array.
    pub shape: Vec<u64>,
    /// Memory order.
    pub order: Order,
}

/// A header read from bytes, with where the data starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedHeader {
    /// The header contents.
    pub header: Header,
    /// Format version found.
    pub version: Version,
    /// Offset of the first data byte (= total header length, magic included).
    pub data_offset: u64,
}

impl Header {
    /// A header with exactly the given order (what an appender persists).
    pub fn new(dtype: DType, shape: Vec<u64>, order: Order) -> Header {
        Header {
            dtype,
            shape,
            order,
        }
    }

    /// A header as `np.save` writes it for an array of this shape stored in
    /// `order`: numpy records `fortran_order: True` only when the array is
    /// Fortran- and not C-contiguous, so shapes with at most one dimension
    /// above 1 (or with a zero) are recorded as C order. The bytes are the
    /// same either way.
    pub fn for_array(dtype: DType, shape: Vec<u64>, order: Order) -> Header {
        let c_contiguous_too = shape.contains(&0) || shape.iter().filter(|&&d| d != 1).count() <= 1;
        let order = if order == Order::Fortran && c_contiguous_too {
            Order::C
        } else {
            order
        };
        Header {
            dtype,
            shape,
            order,
        }
    }

    /// Number of elements (1 for a 0-d array), or `ShapeOverflow`.
    pub fn num_elements(&self) -> Result<u64> {
        checked_size(1, &self.shape).ok_or(Error::ShapeOverflow {
            at: Location::none(),
        })
    }

    /// Size of the array data in bytes, or `ShapeOverflow`.
    pub fn data_len(&self) -> Result<u64> {
        checked_size(self.dtype.itemsize(), &self.shape).ok_or(Error::ShapeOverflow {
            at: Location::none(),
        })
    }

    /// The axis along which the array grows (0 for C, last for Fortran);
    /// `None` for 0-d arrays.
    pub fn growth_axis(&self) -> Option<usize> {
        if self.shape.is_empty() {
            None
        } else if self.order == Order::Fortran {
            Some(self.shape.len() - 1)
        } else {
            Some(0)
        }
    }

    /// Bytes per step along the growth axis: itemsize times the product of
    /// the other dimensions. `None` for 0-d arrays.
    pub fn row_len(&self) -> Result<Option<u64>> {
        let Some(axis) = self.growth_axis() else {
            return Ok(None);
        };
        let mut n = self.dtype.itemsize();
        for (i, &d) in self.shape.iter().enumerate() {
            if i != axis {
                n = n.checked_mul(d).ok_or(Error::ShapeOverflow {
                    at: Location::none(),
                })?;
            }
        }
        Ok(Some(n))
    }

    /// The dict text without padding or newline:
    /// `{'descr': ..., 'fortran_order': ..., 'shape': (...), }`.
    pub fn dict_text(&self) -> String {
        let mut s = String::with_capacity(64);
        s.push_str("{'descr': ");
        self.dtype.write_descr(&mut s);
        s.push_str(", 'fortran_order': ");
        s.push_str(if self.order.is_fortran() {
            "True"
        } else {
            "False"
        });
        s.push_str(", 'shape': ");
        write_shape(&self.shape, &mut s);
        s.push_str(", }");
        s
    }

    /// The header bytes exactly as `np.save` writes them: the oldest version
    /// that fits, spare room for the growth axis, padded with spaces and a
    /// newline to a multiple of 64 bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let text = self.text_with_growth_room();
        for v in [Version::V1, Version::V2, Version::V3] {
            if let Some(b) = wrap(&text, v) {
                return Ok(b);
            }
        }
        Err(Error::InvalidHeader {
            reason: "header too large for any NPY version".into(),
            at: Location::none(),
        })
    }

    /// As [`Header::to_bytes`] but in the given version (if it can hold it).
    pub fn to_bytes_version(&self, version: Version) -> Result<Vec<u8>> {
        wrap(&self.text_with_growth_room(), version).ok_or_else(|| Error::InvalidHeader {
            reason: format!("header does not fit NPY version {:?}", version.numbers()),
            at: Location::none(),
        })
    }

    /// Header bytes of exactly `total_len` bytes in `version`, for rewriting a
    /// header in place: the dict text padded with spaces and ended by `\n`.
    /// Returns [`Error::HeaderFull`] if the text does not fit; never changes
    /// the length or the version.
    pub fn to_bytes_exact(&self, version: Version, total_len: u64) -> Result<Vec<u8>> {
        let text = self.dict_text();
        let latin1 = version != Version::V3;
        let body = encode(&text, latin1).ok_or_else(|| Error::InvalidHeader {
            reason: "header text is not latin-1 but the file is NPY 1.0/2.0".into(),
            at: Location::none(),
        })?;
        let prefix = version.prefix_len() as u64;
        let needed = prefix + body.len() as u64 + 1;
        if needed > total_len {
            return Err(Error::HeaderFull {
                needed,
                available: total_len,
                at: Location::offset(0),
            });
        }
        let full = || Error::HeaderFull {
            needed,
            available: total_len,
            at: Location::offset(0),
        };
        // `needed <= total_len` above, so this cannot underflow.
        let hlen = total_len - prefix;
        let len_field: Vec<u8> = match version {
            Version::V1 => u16::try_from(hlen)
                .map_err(|_| full())?
                .to_le_bytes()
                .to_vec(),
            _ => u32::try_from(hlen)
                .map_err(|_| full())?
                .to_le_bytes()
                .to_vec(),
        };
        // At most 2^32 + 12 bytes (the length field bounds it); refused, not
        // aborted, if that memory is not available.
        let total = usize::try_from(total_len).map_err(|_| full())?;
        let mut out = Vec::new();
        out.try_reserve_exact(total)
            .map_err(|_| Error::InvalidArgument {
                reason: format!("cannot allocate a header of {total_len} bytes"),
                at: Location::none(),
            })?;
        out.extend_from_slice(MAGIC);
        let (maj, min) = version.numbers();
        out.push(maj);
        out.push(min);
        out.extend_from_slice(&len_field);
        out.extend_from_slice(&body);
        // `total >= needed >= 1`.
        out.resize(total.saturating_sub(1), b' ');
        out.push(b'\n');
        Ok(out)
    }

    fn text_with_growth_room(&self) -> String {
        let mut text = self.dict_text();
        if let Some(&dim) = self.growth_axis().and_then(|axis| self.shape.get(axis)) {
            let digits = dim.to_string().len();
            let spare = GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits);
            text.extend(std::iter::repeat_n(' ', spare));
        }
        text
    }
}

fn encode(text: &str, latin1: bool) -> Option<Vec<u8>> {
    if latin1 {
        text.chars()
            .map(|c| u8::try_from(u32::from(c)).ok())
            .collect()
    } else {
        Some(text.as_bytes().to_vec())
    }
}

/// numpy's `_wrap_header`: pad so magic + length + text + `\n` is a multiple
/// of 64 (adding a full 64 when already aligned, as numpy does).
fn wrap(text: &str, version: Version) -> Option<Vec<u8>> {
    let body = encode(text, version != Version::V3)?;
    let prefix = version.prefix_len();
    let hlen = body.len() + 1;
    let padlen = ARRAY_ALIGN - ((prefix + hlen) % ARRAY_ALIGN);
    let total_hlen = hlen + padlen;
    let mut out = Vec::with_capacity(prefix + total_hlen);
    out.extend_from_slice(MAGIC);
    let (maj, min) = version.numbers();
    out.push(maj);
    out.push(min);
    match version {
        Version::V1 => out.extend_from_slice(&u16::try_from(total_hlen).ok()?.to_le_bytes()),
        _ => out.extend_from_slice(&u32::try_from(total_hlen).ok()?.to_le_bytes()),
    }
    out.extend_from_slice(&body);
    out.resize(out.len() + padlen, b' ');
    out.push(b'\n');
    Some(out)
}

/// Reads the version and header length from the first bytes of an NPY file
/// and returns `(version, data_offset)` without parsing the dict.
pub fn read_prefix(bytes: &[u8], limit: usize) -> Result<(Version, u64)> {
    let truncated = |needed: u64| Error::Truncated {
        what: "NPY header",
        needed,
        available: bytes.len() as u64,
        at: Location::offset(0),
    };
    let Some((magic, rest)) = bytes.split_first_chunk::<6>() else {
        if !MAGIC.starts_with(bytes) {
            return Err(Error::BadMagic {
                at: Location::offset(0),
            });
        }
        return Err(truncated(10));
    };
    if magic != MAGIC {
        return Err(Error::BadMagic {
            at: Location::offset(0),
        });
    }
    let Some((&[major, minor], rest)) = rest.split_first_chunk::<2>() else {
        return Err(truncated(10));
    };
    let version = match (major, minor) {
        (1, 0) => Version::V1,
        (2, 0) => Version::V2,
        (3, 0) => Version::V3,
        (major, minor) => {
            return Err(Error::UnsupportedVersion {
                major,
                minor,
                at: Location::offset(6),
            });
        }
    };
    let prefix = version.prefix_len();
    let hlen: Option<u64> = match version {
        Version::V1 => rest
            .first_chunk::<2>()
            .map(|b| u64::from(u16::from_le_bytes(*b))),
        _ => rest
            .first_chunk::<4>()
            .map(|b| u64::from(u32::from_le_bytes(*b))),
    };
    let Some(hlen) = hlen else {
        return Err(truncated(prefix as u64));
    };
    if hlen > limit as u64 {
        return Err(Error::HeaderTooLarge {
            len: hlen,
            limit: limit as u64,
            at: Location::offset(8),
        });
    }
    Ok((version, prefix as u64 + hlen))
}

/// Parses an NPY header from the start of `bytes` (which may continue with
/// the data). Header lengths above `limit` are refused before anything is
/// allocated.
pub fn read_header(bytes: &[u8], limit: usize) -> Result<ParsedHeader> {
    let (version, data_offset) = read_prefix(bytes, limit)?;
    let end = usize::try_from(data_offset).map_err(|_| Error::HeaderTooLarge {
        len: data_offset,
        limit: limit as u64,
        at: Location::offset(8),
    })?;
    if bytes.len() < end {
        return Err(Error::Truncated {
            what: "NPY header",
            needed: data_offset,
            available: bytes.len() as u64,
            at: Location::offset(0),
        });
    }
    let prefix = version.prefix_len();
    let Some(mut raw) = bytes.get(prefix..end) else {
        // `read_prefix` read `prefix` bytes and `end` was checked above.
        debug_assert!(
            false,
            "header range {prefix}..{end} outside {} bytes",
            bytes.len()
        );
        return Err(Error::Truncated {
            what: "NPY header",
            needed: data_offset,
            available: bytes.len() as u64,
            at: Location::offset(0),
        });
    };
    // Padding (ASCII, so trimming bytes keeps char boundaries) is trimmed
    // here, before the text is checked and converted.
    while let [rest @ .., b'\n' | b' ' | b'\0' | b'\r' | b'\t'] = raw {
        raw = rest;
    }
    // ASCII (every header numpy writes for plain dtypes) is the same in
    // latin-1 and UTF-8: borrow it.
    let text: std::borrow::Cow<'_, str> = if version == Version::V3 || raw.is_ascii() {
        std::str::from_utf8(raw)
            .map_err(|e| Error::InvalidHeader {
                reason: "header is not valid UTF-8".into(),
                at: Location::offset(prefix as u64 + e.valid_up_to() as u64),
            })?
            .into()
    } else {
        raw.iter()
            .map(|&b| char::from(b))
            .collect::<String>()
            .into()
    };
    let header = parse_dict(&text).map_err(|e| {
        // Offsets from the literal parser count characters of the text; for
        // latin-1 that equals bytes, for UTF-8 it is close enough to point.
        e.shift_offset(prefix as u64)
    })?;
    Ok(ParsedHeader {
        header,
        version,
        data_offset,
    })
}

/// Parses the header dict text (`{'descr': ..., ...}` plus padding).
pub fn parse_dict(text: &str) -> Result<Header> {
    let pad = text
        .bytes()
        .rev()
        .take_while(|b| matches!(b, b'\n' | b' ' | b'\0' | b'\r' | b'\t'))
        .count();
    let text = &text[..text.len() - pad];
    if let Some(h) = parse_canonical(text) {
        return Ok(h);
    }
    parse_dict_general(text)
}

/// The exact form numpy writes for a plain dtype,
/// `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }`, parsed
/// without building a literal tree. `None` for anything else (other key
/// order or spacing, structured dtypes, escapes, leading zeros, `L`
/// suffixes, too many dimensions, invalid descriptors, sizes that
/// overflow): the general parser then decides, so both paths agree on
/// every input this one accepts.
fn parse_canonical(text: &str) -> Option<Header> {
    let rest = text.strip_prefix("{'descr': '")?;
    let q = rest.find('\'')?;
    let descr = &rest[..q];
    if !descr
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'<' | b'>' | b'|' | b'=' | b'[' | b']'))
    {
        return None;
    }
    let rest = rest[q..].strip_prefix("', 'fortran_order': ")?;
    let (fortran, rest) = if let Some(r) = rest.strip_prefix("False") {
        (false, r)
    } else {
        (true, rest.strip_prefix("True")?)
    };
    let rest = rest.strip_prefix(", 'shape': (")?;
    let dims = rest.strip_suffix("), }")?;
    let mut shape = Vec::with_capacity(4);
    if !dims.is_empty() {
        // "N," for one dimension, "N, M, ..." for more.
        let (list, one) = match dims.strip_suffix(',') {
            Some(d) => (d, true),
            None => (dims, false),
        };
        for d in list.split(", ") {
            if d.is_empty()
                || d.len() > 20
                || !d.bytes().all(|b| b.is_ascii_digit())
                || (d.len() > 1 && d.starts_with('0'))
            {
                return None;
            }
            shape.push(d.parse::<u64>().ok()?);
            if shape.len() > MAX_DIMS {
                return None;
            }
        }
        if one != (shape.len() == 1) {
            return None;
        }
    }
    let dtype = DType::parse_scalar_str(descr).ok()?;
    let h = Header {
        dtype,
        shape,
        order: Order::from_fortran(fortran),
    };
    h.data_len().ok()?;
    Some(h)
}

/// The general header parser: any dict literal with the three keys.
fn parse_dict_general(text: &str) -> Result<Header> {
    let v = literal::parse(text, &literal::header_error)?;
    let Value::Dict(items) = v else {
        return Err(literal::header_error(
            format!("header is not a dict but a {}", v.type_name()),
            0,
        ));
    };
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    for (k, v) in items {
        let Value::Str(k) = k else {
            return Err(literal::header_error(
                "header keys must be strings".into(),
                0,
            ));
        };
        let slot = match k.as_str() {
            "descr" => &mut descr,
            "fortran_order" => &mut fortran,
            "shape" => &mut shape,
            other => {
                return Err(literal::header_error(
                    format!("unexpected key {other:?} in header"),
                    0,
                ));
            }
        };
        if slot.replace(v).is_some() {
            return Err(literal::header_error(format!("duplicate key {k:?}"), 0));
        }
    }
    let (Some(descr), Some(fortran), Some(shape)) = (descr, fortran, shape) else {
        return Err(literal::header_error(
            "header must have the keys 'descr', 'fortran_order' and 'shape'".into(),
            0,
        ));
    };
    let dtype = DType::from_value(&descr)?;
    let order = match fortran {
        Value::Bool(b) => Order::from_fortran(b),
        other => {
            return Err(literal::header_error(
                format!(
                    "'fortran_order' must be True or False, not {}",
                    other.type_name()
                ),
                0,
            ));
        }
    };
    let Value::Tuple(dims) = shape else {
        return Err(literal::header_error("'shape' must be a tuple".into(), 0));
    };
    if dims.len() > MAX_DIMS {
        return Err(literal::header_error(
            format!(
                "shape has {} dimensions, at most {MAX_DIMS} allowed",
                dims.len()
            ),
            0,
        ));
    }
    let shape = dims
        .iter()
        .map(|d| match d {
            Value::Int(n) => u64::try_from(*n)
                .map_err(|_| literal::header_error(format!("invalid dimension {n} in 'shape'"), 0)),
            _ => Err(literal::header_error(
                "'shape' must hold integers".into(),
                0,
            )),
        })
        .collect::<Result<Vec<u64>>>()?;
    let h = Header {
        dtype,
        shape,
        order,
    };
    h.data_len()?;
    Ok(h)
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

    fn h(descr: &str, shape: &[u64], order: Order) -> Header {
        Header::new(DType::parse(descr).unwrap(), shape.to_vec(), order)
    }

    #[test]
    fn matches_numpy_known_bytes() {
        // np.save(f, np.zeros((10, 3, 4))) in numpy 2.x
        let b = h("<f8", &[10, 3, 4], Order::C).to_bytes().unwrap();
        let mut want = b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (10, 3, 4), }".to_vec();
        want.resize(127, b' ');
        want.push(b'\n');
        assert_eq!(b, want);
        // 0-d array: no growth room
        let b = h("<i8", &[], Order::C).to_bytes().unwrap();
        assert!(b.starts_with(
            b"\x93NUMPY\x01\x00v\x00{'descr': '<i8', 'fortran_order': False, 'shape': (), }"
        ));
        assert_eq!(b.len(), 128);
    }

    #[test]
    fn v3_for_non_latin1_names() {
        let b = h("[('\u{4e2d}', '<i4')]", &[2], Order::C)
            .to_bytes()
            .unwrap();
        assert_eq!(&b[6..8], &[3, 0]);
        let p = read_header(&b, DEFAULT_HEADER_LIMIT).unwrap();
        assert_eq!(p.version, Version::V3);
        assert_eq!(p.header.dtype.fields().unwrap()[0].name, "\u{4e2d}");
    }

    #[test]
    fn v2_for_long_headers() {
        let fields: Vec<String> = (0..5000).map(|i| format!("('f{i}', '<i4')")).collect();
        let d = format!("[{}]", fields.join(", "));
        let hd = h(&d, &[1], Order::C);
        let b = hd.to_bytes().unwrap();
        assert_eq!(&b[6..8], &[2, 0]);
        assert_eq!(b.len() % 64, 0);
        assert_eq!(read_header(&b, DEFAULT_HEADER_LIMIT).unwrap().header, hd);
    }

    #[test]
    fn accepts_other_writers() {
        for text in [
            "{'shape': (3,), 'fortran_order': False, 'descr': '<f4'}",
            "{ 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 3 , ) , }",
            "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3L,)}",
        ] {
            let mut b = MAGIC.to_vec();
            b.extend_from_slice(&[1, 0]);
            let mut body = text.as_bytes().to_vec();
            // old NEP: 16-byte alignment
            while (10 + body.len() + 1) % 16 != 0 {
                body.push(b' ');
            }
            body.push(b'\n');
            b.extend_from_slice(&(body.len() as u16).to_le_bytes());
            b.extend_from_slice(&body);
            let p = read_header(&b, DEFAULT_HEADER_LIMIT).unwrap();
            assert_eq!(p.header, h("<f4", &[3], Order::C), "{text}");
            assert_eq!(p.data_offset as usize, b.len());
        }
    }

    #[test]
    fn errors_are_typed() {
        assert!(matches!(
            read_header(b"NOTNPY", 100),
            Err(Error::BadMagic { .. })
        ));
        assert!(matches!(
            read_header(b"\x93NUMPY\x04\x00\x00\x00", 100),
            Err(Error::UnsupportedVersion { major: 4, .. })
        ));
        assert!(matches!(
            read_header(b"\x93NUMPY\x01\x00\x40\x00{'d", 1000),
            Err(Error::Truncated { needed: 74, .. })
        ));
        assert!(matches!(
            read_header(b"\x93NUMPY\x02\x00\xff\xff\xff\x7f", 1000),
            Err(Error::HeaderTooLarge { .. })
        ));
        assert!(matches!(
            read_header(b"\x93NU", 1000),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            read_header(b"\x93NX", 1000),
            Err(Error::BadMagic { .. })
        ));
        let overflow = h("<f8", &[1 << 62, 1 << 62], Order::C).to_bytes().unwrap();
        assert!(matches!(
            read_header(&overflow, 1000),
            Err(Error::ShapeOverflow { .. })
        ));
    }

    #[test]
    fn exact_rewrite_of_an_impossible_length_is_an_error_not_an_abort() {
        // Used to reserve `total_len` bytes before checking the length field
        // could hold it: a capacity-overflow panic for u64::MAX.
        let hd = h("<f8", &[3], Order::C);
        for v in [Version::V1, Version::V2, Version::V3] {
            assert!(
                matches!(
                    hd.to_bytes_exact(v, u64::MAX),
                    Err(Error::HeaderFull {
                        available: u64::MAX,
                        ..
                    })
                ),
                "{v:?}"
            );
        }
        // The largest V1 header is exactly 10 + 65535 bytes.
        let r = hd.to_bytes_exact(Version::V1, 10 + 65535).unwrap();
        assert_eq!(r.len(), 10 + 65535);
        assert_eq!(read_header(&r, 1 << 20).unwrap().header, hd);
        assert!(hd.to_bytes_exact(Version::V1, 10 + 65536).is_err());
    }

    #[test]
    fn exact_rewrite_keeps_length() {
        let hd = h("<f8", &[0, 3], Order::C);
        let b = hd.to_bytes().unwrap();
        let grown = h("<f8", &[1 << 59, 3], Order::C);
        let r = grown.to_bytes_exact(Version::V1, b.len() as u64).unwrap();
        assert_eq!(r.len(), b.len());
        assert_eq!(
            read_header(&r, DEFAULT_HEADER_LIMIT).unwrap().header.shape[0],
            1 << 59
        );
        // a header with no room left is an error, never a longer header
        let err = h("<f8", &[1 << 59], Order::C)
            .to_bytes_exact(Version::V1, 64)
            .unwrap_err();
        assert!(matches!(
            err,
            Error::HeaderFull {
                needed: 85,
                available: 64,
                ..
            }
        ));
    }

    /// Both dict parsers on `text`: the fast one must either decline or
    /// agree with the general one exactly (and never accept what the
    /// general one refuses).
    fn check_paths_agree(text: &str) -> bool {
        let t = text.trim_end_matches(['\n', ' ', '\0', '\r', '\t']);
        let slow = parse_dict_general(t);
        match parse_canonical(t) {
            Some(fast) => {
                assert_eq!(slow.as_ref().ok(), Some(&fast), "{text:?}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn canonical_fast_path_agrees_with_general_parser() {
        let descrs = [
            "<f8",
            ">f8",
            "|b1",
            "<i1",
            "|u1",
            ">i2",
            "<u8",
            "<c16",
            ">c8",
            "|S5",
            "<U3",
            "|V4",
            "<M8[ns]",
            ">m8[10ms]",
            "<M8",
            "<f2",
            "<f16",
            "|O",
            "<f3",
            "<q",
            "x",
            "",
            "[('a', '<f4')]",
            "[('a', '<f4'), ('b', '>i8', (2, 3))]",
        ];
        let shapes: [&[u64]; 9] = [
            &[],
            &[0],
            &[7],
            &[3, 4],
            &[1, 1, 1],
            &[10, 0, 2],
            &[u64::MAX],
            &[1 << 40, 1 << 40],
            &[2; 64],
        ];
        let mut fast = 0;
        for d in descrs {
            let Ok(dt) = DType::parse(d) else { continue };
            for sh in shapes {
                for order in [Order::C, Order::Fortran] {
                    let h = Header::new(dt.clone(), sh.to_vec(), order);
                    let text = h.dict_text();
                    if check_paths_agree(&text) {
                        fast += 1;
                    }
                    // As written (padding, growth room, newline).
                    if let Ok(b) = h.to_bytes() {
                        let p = read_header(&b, DEFAULT_HEADER_LIMIT);
                        if h.data_len().is_ok() {
                            assert_eq!(p.unwrap().header, h);
                        }
                    }
                }
            }
        }
        assert!(fast > 100, "fast path taken only {fast} times");
        // Forms that must fall back (and what the general parser makes of them).
        for text in [
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (03,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3L,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3_0,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (+3,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (-3,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3,4), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3 ,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (18446744073709551616,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }",
            "{'descr': '<f8', 'fortran_order': Falsey, 'shape': (3,), }",
            "{'descr': '<f8', 'fortran_order': 0, 'shape': (3,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'x': 1, }",
            "{'descr': \"<f8\", 'fortran_order': False, 'shape': (3,), }",
            "{'descr': '<f\\x38', 'fortran_order': False, 'shape': (3,), }",
            "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }",
            "{'descr': '<f8' , 'fortran_order': False, 'shape': (3,), }",
            "{'fortran_order': False, 'descr': '<f8', 'shape': (3,), }",
            "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), } x",
        ] {
            assert!(!check_paths_agree(text), "fast path took {text:?}");
        }
        let dims = vec!["1"; MAX_DIMS + 1].join(", ");
        let text = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({dims}), }}");
        assert!(!check_paths_agree(&text));
        assert!(parse_dict(&text).is_err());
    }

    proptest::proptest! {
        #[test]
        fn canonical_fast_path_agrees_on_mutations(
            descr in "[<>|=]?[a-zA-Z?][0-9]{0,3}(\\[[0-9]{0,2}[a-z]{1,2}\\])?",
            fortran in "True|False|true|1",
            dims in proptest::collection::vec("0|[1-9][0-9]{0,20}|0[0-9]|[0-9]L|", 0..5),
            sep in ", |,| , ",
            trailing in ",|, |",
            tail in "\\), \\}|\\)\\}|\\), \\} |\\),\\}",
        ) {
            let mut shape = dims.join(&sep);
            if dims.len() == 1 || !trailing.is_empty() && !dims.is_empty() {
                shape.push_str(&trailing);
            }
            let text = format!(
                "{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': ({shape}{tail}"
            );
            check_paths_agree(&text);
        }
    }

    #[test]
    fn for_array_normalises_fortran_like_numpy() {
        let d = DType::parse("<f8").unwrap();
        assert_eq!(
            Header::for_array(d.clone(), vec![5], Order::Fortran).order,
            Order::C
        );
        assert_eq!(
            Header::for_array(d.clone(), vec![1, 5], Order::Fortran).order,
            Order::C
        );
        assert_eq!(
            Header::for_array(d.clone(), vec![0, 5], Order::Fortran).order,
            Order::C
        );
        assert_eq!(
            Header::for_array(d, vec![2, 5], Order::Fortran).order,
            Order::Fortran
        );
    }
}
