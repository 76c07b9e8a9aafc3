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
//!
//! Files: `mod.rs` (the [`Header`] model and writing it), `read` (reading
//! the prefix, the dict text and the dict).

mod read;
#[cfg(test)]
mod tests;

pub use read::{parse_dict, read_header, read_prefix};

use crate::dtype::{DType, checked_size, write_shape};
use crate::error::{Error, Location, Result};

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
