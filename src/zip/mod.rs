//! The stored-only zip record layer shared by the archive writer and reader.
//!
//! [`records`] parses local headers, central directory entries, end records
//! (plain and ZIP64) and data descriptors straight from a byte slice, with
//! every length and offset checked, and encodes the records the writer needs;
//! it does no I/O.
//!
//! [`committed`] finds the last committed archive of a file whose tail is
//! still being written (an append in progress, or a killed appender),
//! reading files with positioned reads.

pub mod committed;
pub mod records;
