//! npzmap errors as Python exceptions.
//!
//! The classes are defined in `npzmap/_errors.py` (so they can inherit from
//! both `npzmap.Error` and a builtin such as `ValueError`); this module picks
//! the class for each error variant. The message is the Rust error's
//! `Display`, which names the file, member and offset.

use npzmap::Error;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyType;

/// The name of the `npzmap._errors` class for `e`.
fn class_name(e: &Error) -> &'static str {
    match e {
        Error::NotFound { .. } => "KeyNotFoundError",
        Error::Io { source, .. } => match source.kind() {
            std::io::ErrorKind::NotFound => "MissingFileError",
            std::io::ErrorKind::AlreadyExists => "ExistingFileError",
            std::io::ErrorKind::PermissionDenied => "FilePermissionError",
            _ => "FileError",
        },
        Error::AlreadyExists { .. } => "ExistingFileError",
        Error::Locked { .. } => "LockedError",
        Error::Closed { .. } => "ClosedError",
        Error::ObjectArray { .. } => "ObjectArrayError",
        Error::IndexOutOfRange { .. } => "IndexOutOfRangeError",
        Error::InvalidArgument { .. }
        | Error::DTypeMismatch { .. }
        | Error::ShapeMismatch { .. }
        | Error::DuplicateName { .. }
        | Error::InvalidName { .. }
        | Error::HeaderFull { .. } => "UsageError",
        _ if e.is_data_error() => "FormatError",
        _ => "Error",
    }
}

/// Converts a library error into the matching `npzmap` exception.
pub fn to_py(e: Error) -> PyErr {
    Python::attach(|py| {
        let msg = e.to_string();
        let cls = py
            .import("npzmap._errors")
            .and_then(|m| m.getattr(class_name(&e)))
            .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
        match cls {
            Ok(cls) => {
                let err = PyErr::from_type(cls, msg);
                // Structured location for callers (None when unknown).
                let at = e.location();
                let v = err.value(py);
                let path = at.path.as_ref().map(|p| p.display().to_string());
                let _ = v.setattr("path", path);
                let _ = v.setattr("member", at.member.clone());
                let _ = v.setattr("offset", at.offset);
                err
            }
            Err(_) => PyRuntimeError::new_err(msg),
        }
    })
}

/// `Result<T, npzmap::Error>` to `PyResult<T>`.
pub trait IntoPy<T> {
    /// Maps the error with [`to_py`].
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for npzmap::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

/// An `npzmap.FormatError` (a `ValueError`) with `msg`.
pub fn format_error(msg: String) -> PyErr {
    Python::attach(|py| {
        match py
            .import("npzmap._errors")
            .and_then(|m| m.getattr("FormatError"))
            .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from))
        {
            Ok(cls) => PyErr::from_type(cls, msg),
            Err(_) => PyRuntimeError::new_err(msg),
        }
    })
}

/// An `npzmap.UsageError` (a `ValueError`) with `msg`.
pub fn usage(msg: impl Into<String>) -> PyErr {
    to_py(Error::invalid_argument(msg))
}
