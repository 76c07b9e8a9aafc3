//! The stored-only zip record layer shared by the archive writer and reader.
//!
//! [`records`] parses local headers, central directory entries, end records
//! (plain and ZIP64) and data descriptors straight from a byte slice, with
//! every length and offset checked, and encodes the records the writer needs.
//! No I/O happens here.

pub mod records;
