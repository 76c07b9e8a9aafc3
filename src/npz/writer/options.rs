//! Options of [`NpzWriter`]: [`WriterOptions`] and the member timestamp
//! [`DosDateTime`].

use super::NpzWriter;
use crate::error::{Error, Result};
use crate::zip::DOS_DATE_1980;
use std::path::Path;

/// Default write buffer size; writes at least this large bypass the buffer.
const BUF_SIZE: usize = 1 << 20;

/// An MS-DOS timestamp as stored in zip headers (2-second resolution,
/// years 1980-2107).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DosDateTime {
    /// DOS date: `(year - 1980) << 9 | month << 5 | day`.
    pub date: u16,
    /// DOS time: `hour << 11 | minute << 5 | second / 2`.
    pub time: u16,
}

impl DosDateTime {
    /// 1980-01-01 00:00:00, the default (deterministic output).
    pub const EPOCH: DosDateTime = DosDateTime {
        date: DOS_DATE_1980,
        time: 0,
    };

    /// From calendar fields; seconds are rounded down to even.
    ///
    /// ```
    /// use npzmap::npz::writer::DosDateTime;
    /// let t = DosDateTime::new(2024, 5, 17, 13, 45, 31).unwrap();
    /// assert_eq!(t.date, (44 << 9) | (5 << 5) | 17);
    /// assert_eq!(t.time, (13 << 11) | (45 << 5) | 15);
    /// assert!(DosDateTime::new(1979, 1, 1, 0, 0, 0).is_err());
    /// ```
    pub fn new(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Result<Self> {
        if !(1980..=2107).contains(&year)
            || !(1..=12).contains(&month)
            || !(1..=31).contains(&day)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(Error::invalid_argument(format!(
                "timestamp {year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02} \
                 cannot be stored as an MS-DOS date (1980-2107)"
            )));
        }
        Ok(DosDateTime {
            date: ((year - 1980) << 9) | (u16::from(month) << 5) | u16::from(day),
            time: (u16::from(hour) << 11) | (u16::from(minute) << 5) | u16::from(second / 2),
        })
    }

    /// From raw DOS date and time fields.
    pub const fn from_raw(date: u16, time: u16) -> Self {
        DosDateTime { date, time }
    }
}

impl Default for DosDateTime {
    fn default() -> Self {
        DosDateTime::EPOCH
    }
}

/// Options for [`NpzWriter`], built like
/// [`ReaderOptions`](crate::npz::ReaderOptions): start from
/// [`WriterOptions::new`] (or [`NpzWriter::options`], the same thing), chain
/// the setters, and pass the result to [`NpzWriter::create_with`] /
/// [`NpzWriter::append_with`]. [`WriterOptions::create`] and
/// [`WriterOptions::append`] end the chain the same way.
///
/// ```
/// use npzmap::npz::writer::{NpzWriter, WriterOptions};
/// use npzmap::Order;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("a.npz");
/// std::fs::write(&path, b"old").unwrap();
/// let opts = WriterOptions::new().align(4096).replace(true);
/// let mut w = NpzWriter::create_with(&path, opts).unwrap();
/// w.write("x", &[1u16, 2, 3], &[3], Order::C).unwrap();
/// w.close().unwrap();
/// // The same, with the builder ending in `create`:
/// let mut w = NpzWriter::options().align(4096).replace(true).create(&path).unwrap();
/// w.write("x", &[1u16, 2, 3], &[3], Order::C).unwrap();
/// w.close().unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct WriterOptions {
    pub(super) align: u64,
    pub(super) replace: bool,
    pub(super) allow_duplicates: bool,
    pub(super) stamp: DosDateTime,
    pub(super) fsync: bool,
    pub(super) buffer: usize,
    #[cfg(feature = "test-hooks")]
    pub(super) fail_after: Option<u64>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            align: 64,
            replace: false,
            allow_duplicates: false,
            stamp: DosDateTime::EPOCH,
            fsync: true,
            buffer: BUF_SIZE,
            #[cfg(feature = "test-hooks")]
            fail_after: None,
        }
    }
}

impl WriterOptions {
    /// The defaults: 64-byte alignment, no replace, no duplicates, 1980
    /// timestamps, fsync at close, 1 MiB buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Array data starts on a multiple of `align` bytes (a power of two up
    /// to 32768; 1 turns alignment off). Default 64; 4096 gives page-aligned
    /// arrays (for `mmap` of single arrays or O_DIRECT reads).
    pub fn align(mut self, align: u64) -> Self {
        self.align = align;
        self
    }

    /// [`WriterOptions::create`] replaces an existing file instead of failing
    /// with [`Error::AlreadyExists`]. Default false.
    pub fn replace(mut self, replace: bool) -> Self {
        self.replace = replace;
        self
    }

    /// Allow two members of the same name (np.load then sees the last one).
    /// Default false: [`Error::DuplicateName`].
    pub fn allow_duplicates(mut self, allow: bool) -> Self {
        self.allow_duplicates = allow;
        self
    }

    /// Timestamp of new members. Default 1980-01-01 00:00.
    pub fn timestamp(mut self, stamp: DosDateTime) -> Self {
        self.stamp = stamp;
        self
    }

    /// `fsync` the file at [`NpzWriter::close`]. Default true.
    pub fn fsync(mut self, fsync: bool) -> Self {
        self.fsync = fsync;
        self
    }

    /// Size of the write buffer in bytes (default 1 MiB); larger writes go
    /// straight to the file.
    pub fn buffer_size(mut self, bytes: usize) -> Self {
        self.buffer = bytes.max(4096);
        self
    }

    /// Test hook (feature `test-hooks`): arms a one-shot fault at the OS
    /// write. The operating-system writes (vectored appends and positioned
    /// patches alike) go through unchanged until `bytes` bytes in total have
    /// been handed to the OS; the write that would cross that count is cut
    /// short there (a partial write, as the OS may do), and the next one
    /// fails with an I/O error, as a full disk would. The same code path
    /// runs armed or not.
    #[cfg(feature = "test-hooks")]
    pub fn fail_after_bytes(mut self, bytes: u64) -> Self {
        self.fail_after = Some(bytes);
        self
    }

    /// [`Error::InvalidArgument`] for an alignment that is not a power of
    /// two up to 32768.
    pub(super) fn check(&self) -> Result<()> {
        if !self.align.is_power_of_two() || self.align > 32768 {
            return Err(Error::invalid_argument(format!(
                "alignment must be a power of two between 1 and 32768, not {}",
                self.align
            )));
        }
        Ok(())
    }

    /// Creates a new archive at `path` with these options: the same as
    /// [`NpzWriter::create_with`]`(path, self.clone())` (see there).
    pub fn create(&self, path: impl AsRef<Path>) -> Result<NpzWriter> {
        NpzWriter::create_with(path, self.clone())
    }

    /// Opens an existing archive to add members with these options: the
    /// same as [`NpzWriter::append_with`]`(path, self.clone())` (see there).
    pub fn append(&self, path: impl AsRef<Path>) -> Result<NpzWriter> {
        NpzWriter::append_with(path, self.clone())
    }
}
