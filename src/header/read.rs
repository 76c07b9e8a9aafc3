//! Reading NPY headers: the prefix (magic, version, length), the dict text,
//! and the dict itself (a fast path for numpy's canonical text, the general
//! literal parser otherwise).

use super::{Header, MAGIC, Order, ParsedHeader, Version};
use crate::dtype::{DType, MAX_DIMS};
use crate::error::{Error, Location, Result};
use crate::literal::{self, Value};

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
    // here, before the text is checked and converted: numpy's (spaces, then
    // a newline) eight spaces at a time.
    if let [rest @ .., b'\n'] = raw {
        raw = rest;
    }
    while let [rest @ .., a, b, c, d, e, f, g, h] = raw
        && u64::from_ne_bytes([*a, *b, *c, *d, *e, *f, *g, *h]) == u64::from_ne_bytes([b' '; 8])
    {
        raw = rest;
    }
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
pub(super) fn parse_canonical(text: &str) -> Option<Header> {
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
pub(super) fn parse_dict_general(text: &str) -> Result<Header> {
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
