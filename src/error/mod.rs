//! The one error type of the crate.
//!
//! Every variant says *what* went wrong and carries a [`Location`] that says
//! *where*: the file, the archive member and the byte offset, as far as they
//! are known at the point of failure. Outer layers fill in what inner layers
//! could not know (an npy header parser does not know the file name; the
//! reader that called it does) with [`Error::at_path`], [`Error::at_member`]
//! and [`Error::at_offset`], which never overwrite what is already set.
//!
//! Files: `mod.rs` ([`Location`], [`Error`] and its context methods),
//! `display` (the messages).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Shorthand for `Result<T, npzmap::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where an error happened: file, archive member, absolute byte offset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// The file being read or written.
    pub path: Option<PathBuf>,
    /// The zip member (as stored in the archive), if any.
    pub member: Option<String>,
    /// The byte offset in the file (or in the buffer handed to a parser).
    pub offset: Option<u64>,
}

impl Location {
    /// A location with nothing known yet.
    pub const fn none() -> Self {
        Location {
            path: None,
            member: None,
            offset: None,
        }
    }

    /// A location at a byte offset.
    pub const fn offset(offset: u64) -> Self {
        Location {
            path: None,
            member: None,
            offset: Some(offset),
        }
    }

    /// A location in a file.
    pub fn path(path: impl AsRef<Path>) -> Self {
        Location {
            path: Some(path.as_ref().to_path_buf()),
            member: None,
            offset: None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(p) = &self.path {
            parts.push(format!("file {}", p.display()));
        }
        if let Some(m) = &self.member {
            parts.push(format!("member {m:?}"));
        }
        if let Some(o) = self.offset {
            parts.push(format!("offset {o}"));
        }
        if parts.is_empty() {
            Ok(())
        } else {
            write!(f, " ({})", parts.join(", "))
        }
    }
}

/// Which of the three conditions for a zero-copy typed slice failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
///
/// A dtype that is not the requested element type is not one of them: that
/// is [`Error::DTypeMismatch`], from every typed accessor alike.
pub enum ViewProblem {
    /// The bytes are not aligned for the element type.
    Unaligned,
    /// The data is stored in the other byte order.
    ByteOrder,
    /// Fortran-ordered data (or another layout) that cannot be seen as the requested shape.
    Layout,
}

/// Everything that can go wrong in npzmap.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O error; `op` says what was being done.
    Io {
        /// What npzmap was doing ("open", "write", "fsync", ...).
        op: &'static str,
        /// The underlying error.
        source: io::Error,
        /// Where.
        at: Location,
    },

    // ---------------------------------------------------------------- NPY
    /// The `\x93NUMPY` magic string is missing.
    BadMagic {
        /// Where.
        at: Location,
    },
    /// An NPY format version other than 1.0, 2.0 or 3.0.
    UnsupportedVersion {
        /// Major version byte.
        major: u8,
        /// Minor version byte.
        minor: u8,
        /// Where.
        at: Location,
    },
    /// The header (or a record) ends before its declared length.
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
        /// Where.
        at: Location,
    },
    /// The header declares a length above the configured cap.
    HeaderTooLarge {
        /// Declared length.
        len: u64,
        /// The cap.
        limit: u64,
        /// Where.
        at: Location,
    },
    /// The header text is not a valid NPY header dictionary.
    InvalidHeader {
        /// What is wrong.
        reason: String,
        /// Where.
        at: Location,
    },
    /// The `descr` entry is not a dtype descriptor we understand.
    InvalidDescr {
        /// What is wrong.
        reason: String,
        /// Where.
        at: Location,
    },
    /// `|O`: the data is a pickle. We never unpickle.
    ObjectArray {
        /// Where.
        at: Location,
    },
    /// The product of the shape (times the item size) overflows 64 bits.
    ShapeOverflow {
        /// Where.
        at: Location,
    },
    /// There is less data than the header says ("file seems not fully written").
    DataTooShort {
        /// Bytes the header requires.
        expected: u64,
        /// Bytes present.
        actual: u64,
        /// Where.
        at: Location,
    },
    /// There is more data than the header says.
    DataTooLong {
        /// Bytes the header requires.
        expected: u64,
        /// Bytes present.
        actual: u64,
        /// Where.
        at: Location,
    },

    // ---------------------------------------------------------- views, data
    /// A zero-copy typed slice is not possible; `problem` says why.
    View {
        /// Which condition failed.
        problem: ViewProblem,
        /// Human-readable details (expected vs found).
        detail: String,
        /// Where.
        at: Location,
    },
    /// Element types do not match (e.g. `to_vec::<f32>()` on `<f8` data).
    DTypeMismatch {
        /// The descriptor that was expected.
        expected: String,
        /// The descriptor that was found.
        found: String,
        /// Where.
        at: Location,
    },
    /// Shapes do not match or are not acceptable for the operation.
    ShapeMismatch {
        /// What is wrong.
        reason: String,
        /// Where.
        at: Location,
    },
    /// A bool array holds a byte other than 0 or 1.
    InvalidBool {
        /// The element index.
        index: u64,
        /// The offending byte.
        value: u8,
        /// Where.
        at: Location,
    },
    /// A `U` string element holds an invalid code point.
    InvalidUnicode {
        /// The element index.
        index: u64,
        /// Where.
        at: Location,
    },
    /// An element's bytes are not a valid value of the requested Rust type
    /// (a user [`Element`](crate::dtype::Element) with a checked bit
    /// pattern; invalid `bool` bytes are [`Error::InvalidBool`]).
    InvalidValue {
        /// The element index.
        index: u64,
        /// The Rust type asked for.
        type_name: &'static str,
        /// Where.
        at: Location,
    },

    // ------------------------------------------------------------------ zip
    /// The file is not a zip archive (no end-of-central-directory record).
    NotAZip {
        /// Where.
        at: Location,
    },
    /// A structural problem in the zip records.
    Zip {
        /// What is wrong.
        reason: String,
        /// Where.
        at: Location,
    },
    /// A member is encrypted.
    Encrypted {
        /// Where.
        at: Location,
    },
    /// A member uses a compression method other than stored (0) or deflate (8).
    UnsupportedCompression {
        /// The method number.
        method: u16,
        /// Where.
        at: Location,
    },
    /// A member's CRC-32 does not match its data.
    CrcMismatch {
        /// CRC recorded in the archive.
        expected: u32,
        /// CRC of the bytes present.
        actual: u32,
        /// Where.
        at: Location,
    },
    /// Decompression would exceed the declared size or the ratio cap.
    DecompressionLimit {
        /// The limit in bytes.
        limit: u64,
        /// Where.
        at: Location,
    },
    /// No member (or array) with that name.
    NotFound {
        /// The name asked for.
        name: String,
        /// Where.
        at: Location,
    },

    // --------------------------------------------------------------- writing
    /// A member of that name already exists.
    DuplicateName {
        /// The member name.
        name: String,
        /// Where.
        at: Location,
    },
    /// A name that cannot be stored (empty, too long, NUL, ...).
    InvalidName {
        /// The name.
        name: String,
        /// What is wrong.
        reason: String,
        /// Where.
        at: Location,
    },
    /// The file already exists and the caller asked not to replace it.
    AlreadyExists {
        /// Where.
        at: Location,
    },
    /// The NPY header has no room for the new shape; nothing was written.
    HeaderFull {
        /// Bytes the new header text needs.
        needed: u64,
        /// Bytes the existing header has.
        available: u64,
        /// Where.
        at: Location,
    },
    /// The file is in use: another npzmap reader, writer or modifier (in
    /// this process or another) holds an advisory lock that conflicts with
    /// the operation (see the [lock protocol](crate::fs)).
    Locked {
        /// Where.
        at: Location,
    },
    /// An index outside the array.
    IndexOutOfRange {
        /// The index.
        index: u64,
        /// The length of the growth axis.
        len: u64,
        /// Where.
        at: Location,
    },
    /// A caller-supplied argument is invalid.
    InvalidArgument {
        /// What is wrong.
        reason: String,
        /// Where.
        at: Location,
    },
    /// The file cannot be recovered (or does not need to be).
    Unrecoverable {
        /// Why.
        reason: String,
        /// Where.
        at: Location,
    },
    /// The writer was closed or failed in a way that forbids further use.
    Closed {
        /// Where.
        at: Location,
    },
}

impl Error {
    /// Wraps an I/O error.
    pub fn io(op: &'static str, source: io::Error, at: Location) -> Self {
        Error::Io { op, source, at }
    }

    /// Wraps an I/O error on a path.
    pub fn io_path(op: &'static str, source: io::Error, path: impl AsRef<Path>) -> Self {
        Error::Io {
            op,
            source,
            at: Location::path(path),
        }
    }

    /// Shorthand for [`Error::InvalidArgument`] without location.
    pub fn invalid_argument(reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            reason: reason.into(),
            at: Location::none(),
        }
    }

    /// The location of this error.
    pub fn location(&self) -> &Location {
        match self {
            Error::Io { at, .. }
            | Error::BadMagic { at }
            | Error::UnsupportedVersion { at, .. }
            | Error::Truncated { at, .. }
            | Error::HeaderTooLarge { at, .. }
            | Error::InvalidHeader { at, .. }
            | Error::InvalidDescr { at, .. }
            | Error::ObjectArray { at }
            | Error::ShapeOverflow { at }
            | Error::DataTooShort { at, .. }
            | Error::DataTooLong { at, .. }
            | Error::View { at, .. }
            | Error::DTypeMismatch { at, .. }
            | Error::ShapeMismatch { at, .. }
            | Error::InvalidBool { at, .. }
            | Error::InvalidUnicode { at, .. }
            | Error::InvalidValue { at, .. }
            | Error::NotAZip { at }
            | Error::Zip { at, .. }
            | Error::Encrypted { at }
            | Error::UnsupportedCompression { at, .. }
            | Error::CrcMismatch { at, .. }
            | Error::DecompressionLimit { at, .. }
            | Error::NotFound { at, .. }
            | Error::DuplicateName { at, .. }
            | Error::InvalidName { at, .. }
            | Error::AlreadyExists { at }
            | Error::HeaderFull { at, .. }
            | Error::Locked { at }
            | Error::IndexOutOfRange { at, .. }
            | Error::InvalidArgument { at, .. }
            | Error::Unrecoverable { at, .. }
            | Error::Closed { at } => at,
        }
    }

    fn location_mut(&mut self) -> &mut Location {
        match self {
            Error::Io { at, .. }
            | Error::BadMagic { at }
            | Error::UnsupportedVersion { at, .. }
            | Error::Truncated { at, .. }
            | Error::HeaderTooLarge { at, .. }
            | Error::InvalidHeader { at, .. }
            | Error::InvalidDescr { at, .. }
            | Error::ObjectArray { at }
            | Error::ShapeOverflow { at }
            | Error::DataTooShort { at, .. }
            | Error::DataTooLong { at, .. }
            | Error::View { at, .. }
            | Error::DTypeMismatch { at, .. }
            | Error::ShapeMismatch { at, .. }
            | Error::InvalidBool { at, .. }
            | Error::InvalidUnicode { at, .. }
            | Error::InvalidValue { at, .. }
            | Error::NotAZip { at }
            | Error::Zip { at, .. }
            | Error::Encrypted { at }
            | Error::UnsupportedCompression { at, .. }
            | Error::CrcMismatch { at, .. }
            | Error::DecompressionLimit { at, .. }
            | Error::NotFound { at, .. }
            | Error::DuplicateName { at, .. }
            | Error::InvalidName { at, .. }
            | Error::AlreadyExists { at }
            | Error::HeaderFull { at, .. }
            | Error::Locked { at }
            | Error::IndexOutOfRange { at, .. }
            | Error::InvalidArgument { at, .. }
            | Error::Unrecoverable { at, .. }
            | Error::Closed { at } => at,
        }
    }

    /// Sets the file path if none is set yet.
    pub fn at_path(mut self, path: impl AsRef<Path>) -> Self {
        let at = self.location_mut();
        if at.path.is_none() {
            at.path = Some(path.as_ref().to_path_buf());
        }
        self
    }

    /// Sets the member name if none is set yet.
    pub fn at_member(mut self, member: impl Into<String>) -> Self {
        let at = self.location_mut();
        if at.member.is_none() {
            at.member = Some(member.into());
        }
        self
    }

    /// Sets the offset if none is set yet.
    pub fn at_offset(mut self, offset: u64) -> Self {
        let at = self.location_mut();
        if at.offset.is_none() {
            at.offset = Some(offset);
        }
        self
    }

    /// Adds `base` to the offset (a parser reported an offset relative to a
    /// slice that starts at `base` in the file), or sets it to `base`.
    pub fn shift_offset(mut self, base: u64) -> Self {
        let at = self.location_mut();
        at.offset = Some(match at.offset {
            Some(o) => o.saturating_add(base),
            None => base,
        });
        self
    }

    /// True when this error means the stored data is damaged or not what it
    /// claims to be (as opposed to an I/O failure or a caller mistake).
    /// The CLI maps this to exit code 1.
    pub fn is_data_error(&self) -> bool {
        !matches!(
            self,
            Error::Io { .. }
                | Error::InvalidArgument { .. }
                | Error::NotFound { .. }
                | Error::AlreadyExists { .. }
                | Error::Locked { .. }
                | Error::Closed { .. }
                | Error::DuplicateName { .. }
                | Error::InvalidName { .. }
        )
    }
}

mod display;
#[cfg(test)]
mod tests;
