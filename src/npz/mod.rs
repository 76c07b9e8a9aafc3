//! The archive engine: `NpzWriter` and `NpzReader`.
