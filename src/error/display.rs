//! Error messages: what went wrong (one helper per group of variants),
//! then where.

use super::{Error, ViewProblem};
use std::fmt;

impl fmt::Display for Error {
    /// What went wrong, then where (" (file ..., member ..., offset ...)").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { op, source, .. } => write!(f, "I/O error during {op}: {source}")?,
            Error::BadMagic { .. }
            | Error::UnsupportedVersion { .. }
            | Error::Truncated { .. }
            | Error::HeaderTooLarge { .. }
            | Error::InvalidHeader { .. }
            | Error::InvalidDescr { .. }
            | Error::ObjectArray { .. }
            | Error::ShapeOverflow { .. }
            | Error::DataTooShort { .. }
            | Error::DataTooLong { .. }
            | Error::HeaderFull { .. } => self.fmt_npy(f)?,
            Error::View { .. }
            | Error::DTypeMismatch { .. }
            | Error::ShapeMismatch { .. }
            | Error::InvalidBool { .. }
            | Error::InvalidUnicode { .. }
            | Error::InvalidValue { .. } => self.fmt_data(f)?,
            Error::NotAZip { .. }
            | Error::Zip { .. }
            | Error::Encrypted { .. }
            | Error::UnsupportedCompression { .. }
            | Error::CrcMismatch { .. }
            | Error::DecompressionLimit { .. } => self.fmt_zip(f)?,
            Error::NotFound { .. }
            | Error::DuplicateName { .. }
            | Error::InvalidName { .. }
            | Error::AlreadyExists { .. }
            | Error::Locked { .. }
            | Error::IndexOutOfRange { .. }
            | Error::InvalidArgument { .. }
            | Error::Unrecoverable { .. }
            | Error::Closed { .. } => self.fmt_usage(f)?,
        }
        write!(f, "{}", self.location())
    }
}

impl Error {
    /// The message of an NPY header or size error, without the location.
    fn fmt_npy(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadMagic { .. } => write!(f, "not an NPY file: missing \\x93NUMPY magic"),
            Error::UnsupportedVersion { major, minor, .. } => {
                write!(f, "unsupported NPY format version {major}.{minor}")
            }
            Error::Truncated {
                what,
                needed,
                available,
                ..
            } => write!(
                f,
                "truncated {what}: needs {needed} bytes, only {available} available"
            ),
            Error::HeaderTooLarge { len, limit, .. } => write!(
                f,
                "NPY header of {len} bytes exceeds the limit of {limit} bytes"
            ),
            Error::InvalidHeader { reason, .. } => write!(f, "invalid NPY header: {reason}"),
            Error::InvalidDescr { reason, .. } => write!(f, "invalid dtype descriptor: {reason}"),
            Error::ObjectArray { .. } => write!(
                f,
                "pickled object arrays are not supported (descr '|O'); npzmap never unpickles"
            ),
            Error::ShapeOverflow { .. } => {
                write!(f, "array size overflows: shape x itemsize exceeds 2^64")
            }
            Error::DataTooShort {
                expected, actual, ..
            } => write!(
                f,
                "file seems not fully written: header requires {expected} data bytes, only {actual} present"
            ),
            Error::DataTooLong {
                expected, actual, ..
            } => write!(
                f,
                "more data than the header says: header requires {expected} data bytes, {actual} present"
            ),
            Error::HeaderFull {
                needed, available, ..
            } => write!(
                f,
                "NPY header has no room for the new shape: needs {needed} bytes, has {available}; nothing was written"
            ),
            _ => self.fmt_data(f),
        }
    }

    /// The message of a typed-access (view, dtype, value) error.
    fn fmt_data(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::View {
                problem, detail, ..
            } => {
                let what = match problem {
                    ViewProblem::Unaligned => "data is not aligned for the element type",
                    ViewProblem::ByteOrder => "data is in non-native byte order",
                    ViewProblem::Layout => "layout does not allow this view",
                };
                write!(f, "no zero-copy view: {what}: {detail}")
            }
            Error::DTypeMismatch {
                expected, found, ..
            } => write!(f, "dtype mismatch: expected {expected}, found {found}"),
            Error::ShapeMismatch { reason, .. } => write!(f, "shape mismatch: {reason}"),
            Error::InvalidBool { index, value, .. } => write!(
                f,
                "invalid bool value {value} at element {index} (must be 0 or 1)"
            ),
            Error::InvalidUnicode { index, .. } => {
                write!(f, "invalid unicode code point in element {index}")
            }
            Error::InvalidValue {
                index, type_name, ..
            } => write!(
                f,
                "element {index} is not a valid {type_name} (invalid bit pattern)"
            ),
            _ => self.fmt_zip(f),
        }
    }

    /// The message of a zip container error.
    fn fmt_zip(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotAZip { .. } => write!(
                f,
                "not a zip archive: no end-of-central-directory record found"
            ),
            Error::Zip { reason, .. } => write!(f, "corrupt zip archive: {reason}"),
            Error::Encrypted { .. } => write!(f, "encrypted zip members are not supported"),
            Error::UnsupportedCompression { method, .. } => write!(
                f,
                "unsupported compression method {method} (only stored and deflate)"
            ),
            Error::CrcMismatch {
                expected, actual, ..
            } => write!(
                f,
                "CRC-32 mismatch: archive says {expected:08x}, data has {actual:08x}"
            ),
            Error::DecompressionLimit { limit, .. } => write!(
                f,
                "decompressed data exceeds the limit of {limit} bytes (declared size or ratio cap)"
            ),
            _ => self.fmt_usage(f),
        }
    }

    /// The message of a caller, name, lock or state error.
    fn fmt_usage(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound { name, .. } => write!(f, "no array named {name:?}"),
            Error::DuplicateName { name, .. } => {
                write!(f, "a member named {name:?} already exists")
            }
            Error::InvalidName { name, reason, .. } => {
                write!(f, "invalid member name {name:?}: {reason}")
            }
            Error::AlreadyExists { .. } => write!(f, "file already exists"),
            Error::Locked { .. } => {
                write!(
                    f,
                    "file is in use: a live reader, writer or modifier holds its advisory lock; nothing was changed"
                )
            }
            Error::IndexOutOfRange { index, len, .. } => {
                write!(f, "index {index} out of range for length {len}")
            }
            Error::InvalidArgument { reason, .. } => write!(f, "invalid argument: {reason}"),
            Error::Unrecoverable { reason, .. } => write!(f, "cannot recover: {reason}"),
            Error::Closed { .. } => write!(f, "writer is closed"),
            // `Display::fmt` sends each variant to its group (each group
            // passes others on: npy -> data -> zip -> usage), so no variant
            // arrives here; the arm only ends the chain.
            _ => write!(f, "{self:?}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
