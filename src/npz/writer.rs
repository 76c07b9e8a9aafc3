//! The archive writer: [`NpzWriter`].
//!
//! Writes `.npz` archives that `np.load` reads, one stored member per array,
//! straight to disk: a member is a local header, the npy header (byte-identical
//! to `np.save`) and the array bytes. Nothing but the central directory
//! entries (about 40 bytes plus the name per member) is kept in memory.
//!
//! * **Alignment**: every array's data starts on a multiple of 64 bytes of the
//!   file (configurable, [`WriterOptions::align`], e.g. 4096 for page-aligned
//!   arrays) through an alignment extra field (ID `0xd935`) in the local
//!   header. With 64 the member (the npy file) starts aligned too, since the
//!   npy header is a multiple of 64 bytes long.
//! * **ZIP64 exactly when needed**: a known-size member gets a local ZIP64
//!   extra only if it is 4 GiB or larger; streamed members ([`EntryWriter`])
//!   always reserve it. The central directory carries ZIP64 fields only where
//!   a value needs them and ZIP64 end records only when the entry count,
//!   directory size or offset need them.
//! * **Deterministic**: timestamps are 1980-01-01 00:00 unless set with
//!   [`WriterOptions::timestamp`]; the same input gives the same bytes.
//! * **Errors mid-entry** (an I/O error, a bad row in a stream, dropping an
//!   unfinished [`EntryWriter`]) remove the partial member: the file is
//!   truncated back to where the member began and the writer stays usable.
//!
//! # Appending and crash safety
//!
//! [`NpzWriter::append`] never modifies a byte that is already in the file.
//! It reads the end records from the file's tail and copies the old central
//! directory into memory (its size is checked against the file size and every
//! entry is parsed). New members are written **after the old end records**, so
//! the old archive stays a complete prefix of the file; [`NpzWriter::close`]
//! then writes a new central directory — the old entries verbatim followed by
//! the new ones — and new end records (keeping the archive comment and any
//! bytes before the first entry). Readers find the last end record of the
//! file and follow its offsets, so the old directory in the middle is just
//! dead bytes.
//!
//! The central directory is only written at close. If the process dies
//! before that, the file ends with members but no (new) directory;
//! [`recover`](crate::npz::recover) rebuilds one from the local headers. It
//! keeps every member whose [`NpzWriter::write`] or [`EntryWriter::finish`]
//! had returned (each member's CRC is checked) and all members the archive
//! had before an append began; a member being written at the time of the
//! crash is dropped. [`NpzWriter::sync`] makes everything written so far
//! durable (one `fsync` of the data: nothing else is needed, as the directory
//! does not exist yet and recovery needs only the members); [`close`]
//! fsyncs after writing the directory unless [`WriterOptions::fsync`] is off.
//!
//! A streamed member's local header is written first with an "unknown" size
//! (`u64::MAX` in its ZIP64 extra) and patched with one positioned write of
//! the local header and npy header when it is finished, so a crash mid-stream
//! leaves a member recovery recognises as incomplete.
//!
//! Readers opened while an append is in progress (or after an appender was
//! killed) open the old archive, the last one whose end records were
//! written (see [`zip::committed`](crate::zip::committed)); rolling back a
//! failed member only truncates bytes this appender wrote, never below the
//! length the file had when the append began, so no reader's archive loses
//! a byte. Appending to a file whose tail has no end record (a previous
//! appender died mid-member) appends to that last committed archive: the
//! dead appender's bytes are not part of it and stay in the file, untouched,
//! between the old archive and the new members (so [`recover`](crate::npz::recover)
//! still finds its finished members); the new directory lists the
//! committed archive's members and the new ones. A file with no committed
//! archive at all is refused with [`Error::NotAZip`] and left untouched.
//! Two appenders must not run on one file at the same time.
//!
//! [`close`]: NpzWriter::close
//!
//! ```
//! use npzmap::npz::writer::NpzWriter;
//! use npzmap::{DType, Order};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("a.npz");
//! let mut w = NpzWriter::create(&path).unwrap();
//! w.write("x", &[1.0f64, 2.0, 3.0, 4.0], &[2, 2], Order::C).unwrap();
//! let mut s = w.begin("rows", DType::parse("<i4").unwrap(), &[3], Order::C).unwrap();
//! s.append(&[1i32, 2, 3]).unwrap();
//! s.append(&[4i32, 5, 6, 7, 8, 9]).unwrap();
//! assert_eq!(s.finish().unwrap(), 3);
//! w.close().unwrap();
//!
//! // later: add more
//! let mut w = NpzWriter::append(&path).unwrap();
//! w.write("y", &[7u8], &[], Order::C).unwrap();
//! assert_eq!(w.len(), 3);
//! w.close().unwrap();
//! ```

use crate::dtype::{DType, Element, MAX_DIMS};
use crate::error::{Error, Location, Result};
use crate::fs::lock::{ReplaceLock, WriterLock, create_new_shared, open_for_append};
use crate::fs::temp::{TempFile, TempPath};
use crate::npy::header::{Header, Order, Version};
use crate::npz::member_name;
use crate::view::ArrayView;
use crate::zip::committed;
use crate::zip::{
    CentralEntryRef, CentralFields, DOS_DATE_1980, Directory, EOCD_LEN, LOCAL_HEADER_LEN,
    LOCAL_ZIP64_EXTRA_LEN, LocalHeader, LocalZip64, MAX32, align_padding, write_end_records,
    write_local_stored,
};
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Default write buffer size; writes at least this large bypass the buffer.
const BUF_SIZE: usize = 1 << 20;

/// Array data up to this size is copied next to its headers and written
/// with one plain `write`; larger data goes straight from the caller's
/// slice (vectored write).
const SMALL_MEMBER: usize = 16 << 10;

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

/// Options for [`NpzWriter`]; start from [`NpzWriter::options`].
///
/// ```
/// use npzmap::npz::writer::NpzWriter;
/// use npzmap::Order;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("a.npz");
/// std::fs::write(&path, b"old").unwrap();
/// let mut w = NpzWriter::options().align(4096).replace(true).create(&path).unwrap();
/// w.write("x", &[1u16, 2, 3], &[3], Order::C).unwrap();
/// w.close().unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct WriterOptions {
    align: u64,
    replace: bool,
    allow_duplicates: bool,
    stamp: DosDateTime,
    fsync: bool,
    buffer: usize,
    #[cfg(feature = "test-hooks")]
    fail_after: Option<u64>,
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

    fn check(&self) -> Result<()> {
        if !self.align.is_power_of_two() || self.align > 32768 {
            return Err(Error::invalid_argument(format!(
                "alignment must be a power of two between 1 and 32768, not {}",
                self.align
            )));
        }
        Ok(())
    }

    /// Creates a new archive at `path` ([`Error::AlreadyExists`] if there is
    /// a file, unless [`WriterOptions::replace`]).
    ///
    /// A replacement of an existing file is written to a temporary file
    /// beside `path` (`.<name>.<pid>.<n>.npzmap-tmp`) and renamed over it at
    /// [`NpzWriter::close`]: until then `path` keeps the old file, readers
    /// that mapped it keep its bytes after the rename, and a failed or killed
    /// writer leaves it intact (a killed writer's members stay in the
    /// temporary file, which [`recover`](crate::npz::recover()) can read). When
    /// nothing exists at `path`, the archive is written there directly, as
    /// without `replace` (see the [lock protocol](crate::fs)).
    /// [`Error::Locked`] while another writer, or an operation that changes
    /// the old file in place, holds `path`.
    pub fn create(&self, path: impl AsRef<Path>) -> Result<NpzWriter> {
        let path = path.as_ref();
        self.check().map_err(|e| e.at_path(path))?;
        if self.replace {
            let lock = ReplaceLock::take(path)?;
            if lock.old.is_none() {
                // Nothing to protect: write in place, as `create` does, so a
                // crash leaves a partial archive `recover` can repair.
                match create_new_shared(path) {
                    Ok(file) => {
                        let file = file.into_file();
                        let hold = Hold::Writing {
                            _lock: lock.into_writer(),
                        };
                        let old = OldArchive::default();
                        return Ok(NpzWriter::from_parts(path, file, self.clone(), old, hold));
                    }
                    // Created meanwhile (not by an npzmap writer: we hold
                    // the writer lock): replace it like any other file.
                    Err(Error::AlreadyExists { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            let TempFile { file, temp } = TempFile::new_beside(path)?;
            let hold = Hold::Replacing { temp, lock };
            return Ok(NpzWriter::from_parts(
                path,
                file,
                self.clone(),
                OldArchive::default(),
                hold,
            ));
        }
        let writer = WriterLock::take(path)?;
        let file = create_new_shared(path)?.into_file();
        Ok(NpzWriter::from_parts(
            path,
            file,
            self.clone(),
            OldArchive::default(),
            Hold::Writing { _lock: writer },
        ))
    }

    /// Opens an existing archive to add members (see the [module
    /// docs](self) for how this stays crash-safe). A file that ends with a
    /// dead appender's partial member is appended to as its last committed
    /// archive. A file that is not a zip archive is refused with
    /// [`Error::NotAZip`] and left untouched. Readers of the archive may stay
    /// open; [`Error::Locked`] while another writer or an operation that
    /// changes the file in place holds it (see the [lock protocol](crate::fs)).
    pub fn append(&self, path: impl AsRef<Path>) -> Result<NpzWriter> {
        let path = path.as_ref();
        self.check().map_err(|e| e.at_path(path))?;
        let (writer, file) = open_for_append(path)?;
        let file = file.into_file();
        let old = OldArchive::read(&file).map_err(|e| e.at_path(path))?;
        Ok(NpzWriter::from_parts(
            path,
            file,
            self.clone(),
            old,
            Hold::Writing { _lock: writer },
        ))
    }
}

/// The locks a writer holds for its lifetime (see [`crate::fs`]).
#[derive(Debug)]
enum Hold {
    /// Writing `path` itself: its writer lock (the file holds the shared lock).
    Writing { _lock: WriterLock },
    /// Writing a temporary file renamed over `path` at close.
    Replacing { temp: TempPath, lock: ReplaceLock },
    /// Renamed into place (or given up).
    Done,
}

/// What an appended-to archive already holds.
#[derive(Default)]
struct OldArchive {
    /// Bytes before the archive proper; recorded offsets are relative to it.
    base: u64,
    /// File length: new members start here.
    end: u64,
    /// The old central directory entries, verbatim.
    cd: Vec<u8>,
    entries: u64,
    names: HashSet<Box<str>>,
    comment: Vec<u8>,
}

fn read_exact_at(file: &File, len: u64, offset: u64, what: &'static str) -> Result<Vec<u8>> {
    let n = usize::try_from(len).map_err(|_| Error::Zip {
        reason: format!("{what} of {len} bytes does not fit in memory"),
        at: Location::offset(offset),
    })?;
    let mut buf = Vec::new();
    buf.try_reserve_exact(n).map_err(|_| Error::Zip {
        reason: format!("{what} of {len} bytes does not fit in memory"),
        at: Location::offset(offset),
    })?;
    buf.resize(n, 0);
    file.read_exact_at(&mut buf, offset)
        .map_err(|e| Error::io("read", e, Location::offset(offset)))?;
    Ok(buf)
}

impl OldArchive {
    fn read(file: &File) -> Result<OldArchive> {
        let len = file
            .metadata()
            .map_err(|e| Error::io("stat", e, Location::none()))?
            .len();
        // The last committed archive: the tail's end record, or, when an
        // appender died mid-member (no end record at the tail), the last
        // valid one before its leftovers. New members go after everything
        // in the file, so those leftovers stay as they are (dead bytes that
        // `recover` can still scan).
        let end = committed::locate(committed::Source::File { file, len })?.end;
        // cd_start + cd_size = cd_end <= EOCD offset < len: bounded by the file.
        let cd_start = end.cd_start();
        let cd_len = end
            .cd_end()
            .checked_sub(cd_start)
            .ok_or_else(|| Error::Zip {
                reason: "central directory ends before it starts".into(),
                at: Location::offset(cd_start),
            })?;
        if cd_start.checked_add(cd_len).is_none_or(|e| e > len) {
            return Err(Error::Zip {
                reason: "central directory runs past the end of the file".into(),
                at: Location::offset(cd_start),
            });
        }
        // The walk allocates per entry found, never per entry announced.
        let dir = Directory::of(&end);
        let cd = read_exact_at(file, cd_len, cd_start, "central directory")?;
        // The one walker (see `zip::directory`): every entry the directory
        // holds is kept, whatever the width of the recorded count.
        let mut names = HashSet::new();
        let mut count = 0u64;
        for e in dir.alone().entries(&cd) {
            let e: CentralEntryRef<'_> = e.map_err(|e| e.shift_offset(cd_start))?;
            count += 1;
            names.insert(Box::<str>::from(e.decoded_name()));
        }
        let c_start = end.eocd_offset + EOCD_LEN as u64;
        let c_len = u64::from(end.comment_len).min(len.saturating_sub(c_start));
        let comment = read_exact_at(file, c_len, c_start, "archive comment")?;
        Ok(OldArchive {
            base: end.prefix,
            end: len,
            cd,
            entries: count,
            names,
            comment,
        })
    }
}

/// The operating-system writes of [`Sink`]: every byte the writer puts in
/// the file goes through [`Os::write_vectored`] or [`Os::write_at`]. The
/// test hook (feature `test-hooks`) sits here, beneath the production code
/// path: armed or not, the same callers run.
struct Os {
    file: File,
    /// Bytes the OS may still take before the injected fault (test hook).
    #[cfg(feature = "test-hooks")]
    fault: Option<u64>,
}

impl Os {
    /// How many of `want` bytes the next OS write may take: `Ok(want)`
    /// unless the test hook is armed; with the hook, a short count at the
    /// limit and then (once) an error.
    #[cfg(feature = "test-hooks")]
    fn allow(&mut self, want: usize) -> io::Result<usize> {
        match self.fault {
            None => Ok(want),
            Some(0) if want > 0 => {
                self.fault = None; // one-shot
                Err(io::Error::other("injected write failure"))
            }
            Some(room) => Ok(usize::try_from(room).map_or(want, |r| r.min(want))),
        }
    }

    #[cfg(not(feature = "test-hooks"))]
    #[inline(always)]
    fn allow(&mut self, want: usize) -> io::Result<usize> {
        Ok(want)
    }

    #[cfg(feature = "test-hooks")]
    fn took(&mut self, n: usize) {
        if let Some(room) = self.fault.as_mut() {
            *room = room.saturating_sub(n as u64);
        }
    }

    #[cfg(not(feature = "test-hooks"))]
    #[inline(always)]
    fn took(&mut self, _n: usize) {}

    /// One `writev` at the file position; may write fewer bytes.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let want: usize = bufs.iter().map(|b| b.len()).sum();
        let allow = self.allow(want)?;
        let n = if allow == want {
            self.file.write_vectored(bufs)?
        } else {
            // Test hook: cut the request at the limit.
            let mut left = allow;
            let mut cut: Vec<io::IoSlice<'_>> = Vec::with_capacity(bufs.len());
            for b in bufs {
                let k = left.min(b.len());
                cut.push(io::IoSlice::new(&b[..k]));
                left -= k;
            }
            self.file.write_vectored(&cut)?
        };
        self.took(n);
        Ok(n)
    }

    /// One `pwrite` at `offset`; may write fewer bytes.
    fn write_at(&mut self, data: &[u8], offset: u64) -> io::Result<usize> {
        let allow = self.allow(data.len())?;
        let n = self.file.write_at(&data[..allow], offset)?;
        self.took(n);
        Ok(n)
    }

    /// Writes `a` then `b` at the file position, looping over short writes.
    /// Returns how many bytes were written when it fails.
    fn write_all_pair(&mut self, a: &[u8], b: &[u8]) -> std::result::Result<(), (u64, io::Error)> {
        let total = a.len() + b.len();
        let mut done = 0usize;
        while done < total {
            let bufs = if done < a.len() {
                [io::IoSlice::new(&a[done..]), io::IoSlice::new(b)]
            } else {
                [
                    io::IoSlice::new(&b[done - a.len()..]),
                    io::IoSlice::new(&[]),
                ]
            };
            match self.write_vectored(&bufs) {
                Ok(0) => return Err((done as u64, io::ErrorKind::WriteZero.into())),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err((done as u64, e)),
            }
        }
        Ok(())
    }

    /// Writes all of `data` at `offset`, looping over short writes.
    fn write_all_at(&mut self, mut data: &[u8], mut offset: u64) -> io::Result<()> {
        while !data.is_empty() {
            match self.write_at(data, offset) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    data = &data[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// The file plus a write buffer, tracking the logical end position.
struct Sink {
    os: Os,
    buf: Vec<u8>,
    cap: usize,
    /// File offset where the buffered bytes go.
    flushed: u64,
}

impl Sink {
    fn pos(&self) -> u64 {
        self.flushed + self.buf.len() as u64
    }

    /// Hands the buffered bytes to the OS.
    fn flush_buf(&mut self) -> io::Result<()> {
        self.raw_write_pair(&[])
    }

    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if self.buf.len() + data.len() <= self.cap {
            self.buf.extend_from_slice(data);
            return Ok(());
        }
        if data.len() >= self.cap / 2 {
            // Large: buffered bytes and `data` in one system call, no copy.
            return self.raw_write_pair(data);
        }
        self.flush_buf()?;
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Hands the buffered bytes and then `data` to the OS now, with
    /// vectored writes (`data` is never copied into the buffer).
    fn write_through(&mut self, data: &[u8]) -> io::Result<()> {
        self.raw_write_pair(data)
    }

    /// Writes the buffer followed by `data` with vectored writes. On error
    /// the buffer is dropped; whatever was not written is dropped by the
    /// caller's rollback.
    fn raw_write_pair(&mut self, data: &[u8]) -> io::Result<()> {
        if self.buf.is_empty() && data.is_empty() {
            return Ok(());
        }
        let r = self.os.write_all_pair(&self.buf, data);
        let written = match &r {
            Ok(()) => (self.buf.len() + data.len()) as u64,
            Err((n, _)) => *n,
        };
        self.flushed += written;
        self.buf.clear();
        r.map_err(|(_, e)| e)
    }

    /// Overwrites bytes already written (flushing the buffer first).
    fn write_at(&mut self, data: &[u8], offset: u64) -> io::Result<()> {
        self.flush_buf()?;
        self.os.write_all_at(data, offset)
    }

    /// Drops everything after `pos`: buffered bytes and file contents.
    fn truncate(&mut self, pos: u64) -> io::Result<()> {
        self.buf.clear();
        self.os.file.set_len(pos)?;
        self.os.file.seek(SeekFrom::Start(pos))?;
        self.flushed = pos;
        Ok(())
    }
}

/// A member of the new central directory, compact: its name lives in
/// [`NpzWriter`]'s `entry_names`.
struct NewEntry {
    name_start: usize,
    name_len: u16,
    crc32: u32,
    size: u64,
    /// Local header offset relative to the archive start.
    offset: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// A failure that could not be rolled back; only drop is possible.
    Broken,
    Closed,
}

/// Writes a `.npz` archive member by member; see the [module docs](self).
///
/// `NpzWriter` is `Send`. Call [`NpzWriter::close`] to write the central
/// directory and see errors; dropping the writer closes it best-effort,
/// except a writer that replaces an existing file
/// ([`NpzWriter::create_or_replace`]): only `close` renames the new archive
/// over the old one, so dropping it keeps the old file.
pub struct NpzWriter {
    path: PathBuf,
    sink: Sink,
    opts: WriterOptions,
    old: OldArchive,
    entries: Vec<NewEntry>,
    /// The names of `entries`, back to back.
    entry_names: String,
    /// Member names written, for the duplicate check (seeded foldhash).
    names: HashSet<Box<str>, foldhash::fast::RandomState>,
    state: State,
    /// The last npy header and its bytes (many members share a header).
    header_cache: Option<(Header, Vec<u8>)>,
    scratch: Vec<u8>,
    /// Reused for the member name of each `write`.
    member_buf: String,
    hold: Hold,
}

impl std::fmt::Debug for NpzWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NpzWriter")
            .field("path", &self.path)
            .field("entries", &self.len())
            .field("position", &self.sink.pos())
            .field("state", &self.state)
            .finish()
    }
}

#[cfg(test)]
fn check_name(key: &str) -> Result<String> {
    let mut member = String::new();
    check_name_into(key, &mut member)?;
    Ok(member)
}

/// Checks `key` and puts its member name in `member`.
fn check_name_into(key: &str, member: &mut String) -> Result<()> {
    let bad = |reason: &str| Error::InvalidName {
        name: key.to_string(),
        reason: reason.to_string(),
        at: Location::none(),
    };
    if key.is_empty() {
        return Err(bad("the name is empty"));
    }
    if key.contains('\0') {
        return Err(bad("the name contains a NUL character"));
    }
    member.clear();
    member.push_str(key);
    if !key.ends_with(".npy") {
        member.push_str(".npy");
    }
    if member.len() > 0xFFFF {
        return Err(bad("the member name is longer than 65535 bytes"));
    }
    Ok(())
}

fn check_header(header: &Header) -> Result<u64> {
    if header.shape.len() > MAX_DIMS {
        return Err(Error::ShapeMismatch {
            reason: format!(
                "{} dimensions; numpy allows at most {MAX_DIMS}",
                header.shape.len()
            ),
            at: Location::none(),
        });
    }
    header.data_len()
}

impl NpzWriter {
    /// Options: alignment, replace, duplicates, timestamp, fsync.
    pub fn options() -> WriterOptions {
        WriterOptions::default()
    }

    /// Creates a new archive; [`Error::AlreadyExists`] if `path` exists.
    pub fn create(path: impl AsRef<Path>) -> Result<NpzWriter> {
        WriterOptions::default().create(path)
    }

    /// Creates a new archive, replacing any file at `path` when it is closed
    /// (a temporary file renamed over it; see [`WriterOptions::create`]).
    pub fn create_or_replace(path: impl AsRef<Path>) -> Result<NpzWriter> {
        WriterOptions::default().replace(true).create(path)
    }

    /// Opens an existing archive (written by anyone: numpy, Info-ZIP, ...)
    /// to add members. Existing bytes are never modified; see the [module
    /// docs](self).
    pub fn append(path: impl AsRef<Path>) -> Result<NpzWriter> {
        WriterOptions::default().append(path)
    }

    fn from_parts(
        path: &Path,
        file: File,
        opts: WriterOptions,
        old: OldArchive,
        hold: Hold,
    ) -> NpzWriter {
        let mut file = file;
        // Appending: new members go after everything that is there.
        let _ = file.seek(SeekFrom::Start(old.end));
        NpzWriter {
            path: path.to_path_buf(),
            sink: Sink {
                os: Os {
                    file,
                    #[cfg(feature = "test-hooks")]
                    fault: opts.fail_after,
                },
                buf: Vec::with_capacity(opts.buffer),
                cap: opts.buffer,
                flushed: old.end,
            },
            opts,
            old,
            entries: Vec::new(),
            entry_names: String::new(),
            names: HashSet::default(),
            state: State::Open,
            header_cache: None,
            scratch: Vec::with_capacity(4096),
            member_buf: String::new(),
            hold,
        }
    }

    /// The archive's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of members (including those of an appended-to archive).
    pub fn len(&self) -> u64 {
        self.old.entries + self.entries.len() as u64
    }

    /// True if the archive has no members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a member for `key` exists (`key` as passed to `write`).
    pub fn contains(&self, key: &str) -> bool {
        let m = member_name(key);
        self.names.contains(m.as_str()) || self.old.names.contains(m.as_str())
    }

    fn err_here(&self, e: Error, member: Option<&str>) -> Error {
        let e = e.at_path(&self.path);
        match member {
            Some(m) => e.at_member(m),
            None => e,
        }
    }

    fn check_open(&self) -> Result<()> {
        match self.state {
            State::Open => Ok(()),
            _ => Err(Error::Closed {
                at: Location::path(&self.path),
            }),
        }
    }

    /// Validates a new member's name and header; returns the member name
    /// and the data length.
    fn prepare(&self, key: &str, header: &Header) -> Result<(String, u64)> {
        let mut member = String::new();
        let len = self.prepare_into(key, header, &mut member)?;
        Ok((member, len))
    }

    /// As [`NpzWriter::prepare`], with the member name put in `member`.
    fn prepare_into(&self, key: &str, header: &Header, member: &mut String) -> Result<u64> {
        self.check_open()?;
        check_name_into(key, member).map_err(|e| self.err_here(e, None))?;
        if !self.opts.allow_duplicates
            && (self.names.contains(member.as_str()) || self.old.names.contains(member.as_str()))
        {
            return Err(Error::DuplicateName {
                name: member.clone(),
                at: Location::path(&self.path),
            });
        }
        check_header(header).map_err(|e| self.err_here(e, Some(member)))
    }

    /// The npy header bytes, reusing the last ones when the header repeats.
    fn header_bytes(&mut self, header: &Header) -> Result<()> {
        if self.header_cache.as_ref().is_none_or(|(h, _)| h != header) {
            let bytes = header.to_bytes()?;
            self.header_cache = Some((header.clone(), bytes));
        }
        Ok(())
    }

    fn local_header(
        &self,
        member: &str,
        crc32: u32,
        size: u64,
        zip64: LocalZip64,
        npy_header_len: u64,
    ) -> LocalHeader {
        let pad = self.align_pad(member, zip64, npy_header_len);
        let mut lh = LocalHeader::stored(member, crc32, size, zip64, pad);
        lh.date = self.opts.stamp.date;
        lh.time = self.opts.stamp.time;
        lh
    }

    /// Alignment padding for a local header written at the current position,
    /// for a member whose npy header is `npy_header_len` bytes: the *array
    /// data* (after the npy header) starts on a multiple of the alignment.
    fn align_pad(&self, member: &str, zip64: LocalZip64, npy_header_len: u64) -> u16 {
        let at = self.sink.pos();
        let unpadded = (LOCAL_HEADER_LEN + member.len()) as u64
            + if zip64 == LocalZip64::Yes {
                LOCAL_ZIP64_EXTRA_LEN as u64
            } else {
                0
            };
        align_padding(at + unpadded + npy_header_len, self.opts.align)
    }

    /// Truncates back to `start` after a failed member; if even that fails
    /// the writer is unusable.
    fn roll_back(&mut self, start: u64) {
        if self.sink.truncate(start).is_err() {
            self.state = State::Broken;
        }
    }

    /// Writes a typed array as member `key + ".npy"`.
    ///
    /// `data` holds the elements in `order`; `shape` may be empty (0-d).
    /// Name, shape and size are checked before any byte is written; an I/O
    /// error removes the partial member and leaves the writer usable.
    pub fn write<T: Element>(
        &mut self,
        key: &str,
        data: &[T],
        shape: &[u64],
        order: Order,
    ) -> Result<()> {
        let view = ArrayView::from_slice(data, shape, order)
            .map_err(|e| e.at_path(&self.path).at_member(member_name(key)))?;
        // from_slice already normalised the order as np.save does.
        self.write_npy_parts(key, view.header(), view.as_bytes())
    }

    /// Writes an array view (any dtype and byte order, bytes copied as they
    /// are): e.g. an array read from another archive.
    pub fn write_view(&mut self, key: &str, view: &ArrayView<'_>) -> Result<()> {
        let header = Header::for_array(view.dtype().clone(), view.shape().to_vec(), view.order());
        self.write_npy_parts(key, &header, view.as_bytes())
    }

    /// Writes raw array bytes with a header; `data` must be exactly the
    /// header's data length.
    pub fn write_bytes(&mut self, key: &str, header: &Header, data: &[u8]) -> Result<()> {
        self.write_npy_parts(key, header, data)
    }

    fn write_npy_parts(&mut self, key: &str, header: &Header, data: &[u8]) -> Result<()> {
        let mut member = std::mem::take(&mut self.member_buf);
        let r = self.write_npy_parts_named(key, header, data, &mut member);
        self.member_buf = member;
        r
    }

    fn write_npy_parts_named(
        &mut self,
        key: &str,
        header: &Header,
        data: &[u8],
        member: &mut String,
    ) -> Result<()> {
        let len = self.prepare_into(key, header, member)?;
        let member = member.as_str();
        if len != data.len() as u64 {
            let e = if (data.len() as u64) < len {
                Error::DataTooShort {
                    expected: len,
                    actual: data.len() as u64,
                    at: Location::none(),
                }
            } else {
                Error::DataTooLong {
                    expected: len,
                    actual: data.len() as u64,
                    at: Location::none(),
                }
            };
            return Err(self.err_here(e, Some(member)));
        }
        self.header_bytes(header)
            .map_err(|e| self.err_here(e, Some(member)))?;
        let Some((h, hb)) = self.header_cache.take() else {
            return Err(Error::invalid_argument("internal: header cache empty"));
        };
        let r = self.write_member(member, &hb, data);
        self.header_cache = Some((h, hb));
        r
    }

    fn write_member(&mut self, member: &str, hb: &[u8], data: &[u8]) -> Result<()> {
        let size = hb.len() as u64 + data.len() as u64;
        let mut h = crc32fast::Hasher::new();
        h.update(hb);
        h.update(data);
        let crc = h.finalize();
        let zip64 = if size >= MAX32 {
            LocalZip64::Yes
        } else {
            LocalZip64::No
        };
        let start = self.sink.pos();
        let pad = self.align_pad(member, zip64, hb.len() as u64);
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let stamp = (self.opts.stamp.date, self.opts.stamp.time);
        write_local_stored(&mut scratch, member, crc, size, zip64, pad, stamp);
        scratch.extend_from_slice(hb);
        // One (vectored) system call per member in the common case: headers
        // from the buffer, the data straight from the caller's slice, never
        // copied. The member is handed to the OS before `write` returns
        // (survives a process crash).
        let r = if data.len() <= SMALL_MEMBER {
            // Small: one plain write of one buffer is cheaper than a vector.
            scratch.extend_from_slice(data);
            self.sink
                .write(&scratch)
                .and_then(|_| self.sink.write_through(&[]))
        } else {
            self.sink
                .write(&scratch)
                .and_then(|_| self.sink.write_through(data))
        };
        self.scratch = scratch;
        if let Err(e) = r {
            self.roll_back(start);
            return Err(Error::io("write", e, Location::offset(start))
                .at_path(&self.path)
                .at_member(member));
        }
        self.push_entry(member, crc, size, start);
        Ok(())
    }

    fn push_entry(&mut self, member: &str, crc32: u32, size: u64, start: u64) {
        if !self.opts.allow_duplicates {
            self.names.insert(member.into());
        }
        let name_start = self.entry_names.len();
        self.entry_names.push_str(member);
        self.entries.push(NewEntry {
            name_start,
            // Checked by `check_name_into`: at most 65535 bytes.
            name_len: member.len() as u16,
            crc32,
            size,
            offset: start - self.old.base,
        });
    }

    /// Starts a member whose length along the growth axis is not known yet:
    /// `tail_shape` is the shape without the growth axis (axis 0 for C
    /// order, the last axis for Fortran order). Rows are appended with
    /// [`EntryWriter::append`] and go straight to disk; see [`EntryWriter`].
    ///
    /// Rows must not be empty (`tail_shape` without zeros, non-zero
    /// itemsize), as the row count is derived from the bytes appended.
    pub fn begin(
        &mut self,
        key: &str,
        dtype: DType,
        tail_shape: &[u64],
        order: Order,
    ) -> Result<EntryWriter<'_>> {
        let mut shape = Vec::with_capacity(tail_shape.len() + 1);
        if order == Order::Fortran {
            shape.extend_from_slice(tail_shape);
            shape.push(0);
        } else {
            shape.push(0);
            shape.extend_from_slice(tail_shape);
        }
        let header = Header::new(dtype, shape, order);
        let (member, _) = self.prepare(key, &header)?;
        let row_len = header
            .row_len()
            .map_err(|e| self.err_here(e, Some(&member)))?
            .unwrap_or(0);
        if row_len == 0 {
            return Err(self.err_here(
                Error::invalid_argument(
                    "a streamed array needs non-empty rows (no zero in the tail shape, \
                     non-zero itemsize); write it with `write` instead",
                ),
                Some(&member),
            ));
        }
        let hb = header
            .to_bytes()
            .map_err(|e| self.err_here(e, Some(&member)))?;
        let version = match hb.get(6) {
            Some(1) => Version::V1,
            Some(2) => Version::V2,
            _ => Version::V3,
        };
        let start = self.sink.pos();
        let lh = self.local_header(&member, 0, u64::MAX, LocalZip64::Yes, hb.len() as u64);
        let mut first = Vec::with_capacity(lh.len() as usize + hb.len());
        lh.write(&mut first);
        let local_len = first.len() as u64;
        first.extend_from_slice(&hb);
        if let Err(e) = self.sink.write(&first) {
            self.roll_back(start);
            return Err(Error::io("write", e, Location::offset(start))
                .at_path(&self.path)
                .at_member(member));
        }
        Ok(EntryWriter {
            w: self,
            member,
            header,
            version,
            npy_header_len: hb.len() as u64,
            local: lh,
            local_len,
            start,
            row_len,
            rows: 0,
            bytes: 0,
            hasher: crc32fast::Hasher::new(),
            done: false,
        })
    }

    /// Flushes buffered bytes and `fsync`s the file: every member written
    /// so far survives a crash (recoverable with
    /// [`recover`](crate::npz::recover)).
    pub fn sync(&mut self) -> Result<()> {
        self.check_open()?;
        self.sink
            .flush_buf()
            .map_err(|e| Error::io_path("write", e, &self.path))?;
        self.sink
            .os
            .file
            .sync_data()
            .map_err(|e| Error::io_path("fsync", e, &self.path))
    }

    fn finish_archive(&mut self) -> Result<()> {
        self.check_open()?;
        self.state = State::Closed;
        let cd_start = self.sink.pos();
        let base = self.old.base;
        let r = (|| -> io::Result<u64> {
            let mut cd_size = self.old.cd.len() as u64;
            let old_cd = std::mem::take(&mut self.old.cd);
            self.sink.write(&old_cd)?;
            let mut buf = Vec::with_capacity(256);
            for e in &self.entries {
                buf.clear();
                let name = self
                    .entry_names
                    .get(e.name_start..e.name_start + usize::from(e.name_len))
                    .unwrap_or_default();
                let mut c = CentralFields::stored(name, e.crc32, e.size, e.offset);
                c.date = self.opts.stamp.date;
                c.time = self.opts.stamp.time;
                c.write(&mut buf);
                cd_size += buf.len() as u64;
                self.sink.write(&buf)?;
            }
            buf.clear();
            write_end_records(
                &mut buf,
                self.old.entries + self.entries.len() as u64,
                cd_start - base,
                cd_size,
                &self.old.comment,
            );
            self.sink.write(&buf)?;
            self.sink.flush_buf()?;
            Ok(cd_size)
        })();
        if let Err(e) = r {
            // Leave the members: recover() rebuilds the directory.
            let _ = self.sink.truncate(cd_start);
            self.state = State::Broken;
            return Err(
                Error::io("write central directory", e, Location::offset(cd_start))
                    .at_path(&self.path),
            );
        }
        if let Hold::Replacing { temp, lock } = std::mem::replace(&mut self.hold, Hold::Done) {
            // The new archive is complete: rename it over the old one
            // (fsynced first unless fsync is off). On failure the temporary
            // file is removed and the old archive stays.
            return temp.persist(
                &self.sink.os.file,
                &self.path,
                lock.old_file(),
                self.opts.fsync,
            );
        }
        if self.opts.fsync {
            self.sink
                .os
                .file
                .sync_all()
                .map_err(|e| Error::io_path("fsync", e, &self.path))?;
        }
        Ok(())
    }

    /// Writes the central directory and end records, flushes, and (unless
    /// turned off) fsyncs. Errors are reported here; dropping the writer
    /// instead closes it silently.
    pub fn close(mut self) -> Result<()> {
        self.finish_archive()
    }
}

impl Drop for NpzWriter {
    fn drop(&mut self) {
        // A replacement is committed by `close` only: dropping it (an error
        // passed up with `?`, a panic) keeps the old file.
        if self.state == State::Open && !matches!(self.hold, Hold::Replacing { .. }) {
            let _ = self.finish_archive();
        }
    }
}

/// A member being streamed; made by [`NpzWriter::begin`].
///
/// Rows go to disk through the writer's bounded buffer while the CRC is
/// computed on the fly. [`EntryWriter::finish`] rewrites the npy header with
/// the final shape (same length: numpy's header leaves room for it) and
/// patches the local header's CRC and sizes with one positioned write.
/// Dropping an unfinished `EntryWriter`, or any error while appending,
/// removes the partial member; the [`NpzWriter`] stays usable.
///
/// ```
/// use npzmap::npz::writer::NpzWriter;
/// use npzmap::{DType, Order};
/// let dir = tempfile::tempdir().unwrap();
/// let mut w = NpzWriter::create(dir.path().join("s.npz")).unwrap();
/// let mut e = w.begin("f", DType::parse("<f4").unwrap(), &[2], Order::Fortran).unwrap();
/// e.append(&[1.0f32, 2.0]).unwrap(); // one column of 2 values
/// assert!(e.append(&[3.0f32]).is_err()); // not a whole column: member removed
/// drop(e);
/// let mut e = w.begin("f", DType::parse("<f4").unwrap(), &[2], Order::Fortran).unwrap();
/// e.append_bytes(&[0u8; 16]).unwrap();
/// assert_eq!(e.rows(), 2);
/// e.finish().unwrap();
/// w.close().unwrap();
/// ```
pub struct EntryWriter<'w> {
    w: &'w mut NpzWriter,
    member: String,
    header: Header,
    version: Version,
    npy_header_len: u64,
    local: LocalHeader,
    local_len: u64,
    start: u64,
    row_len: u64,
    rows: u64,
    bytes: u64,
    hasher: crc32fast::Hasher,
    done: bool,
}

impl std::fmt::Debug for EntryWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryWriter")
            .field("member", &self.member)
            .field("rows", &self.rows)
            .finish()
    }
}

impl EntryWriter<'_> {
    /// The member name.
    pub fn name(&self) -> &str {
        &self.member
    }

    /// Rows (steps along the growth axis) appended so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn fail(&mut self, e: Error) -> Error {
        if !self.done {
            self.done = true;
            self.w.roll_back(self.start);
        }
        e.at_path(&self.w.path).at_member(self.member.clone())
    }

    /// Appends whole rows of elements (`T` must be exactly the member's
    /// dtype). Anything else discards the member and returns the error.
    pub fn append<T: Element>(&mut self, rows: &[T]) -> Result<()> {
        let t = T::dtype();
        if t != self.header.dtype {
            let e = Error::DTypeMismatch {
                expected: self.header.dtype.descr(),
                found: format!("{} ({})", t.descr(), std::any::type_name::<T>()),
                at: Location::none(),
            };
            return Err(self.fail(e));
        }
        self.append_bytes(bytemuck::cast_slice(rows))
    }

    /// Appends whole rows as raw bytes in the member's dtype and byte order.
    /// Anything but a whole number of rows discards the member.
    pub fn append_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        if self.done {
            return Err(Error::Closed {
                at: Location::path(&self.w.path),
            }
            .at_member(self.member.clone()));
        }
        let n = bytes.len() as u64;
        if !n.is_multiple_of(self.row_len) {
            let e = Error::ShapeMismatch {
                reason: format!(
                    "{n} bytes is not a whole number of rows of {} bytes",
                    self.row_len
                ),
                at: Location::none(),
            };
            return Err(self.fail(e));
        }
        let rows = self.rows.checked_add(n / self.row_len);
        let Some(rows) = rows else {
            return Err(self.fail(Error::ShapeOverflow {
                at: Location::none(),
            }));
        };
        let pos = self.w.sink.pos();
        if let Err(e) = self.w.sink.write(bytes) {
            return Err(self.fail(Error::io("write", e, Location::offset(pos))));
        }
        self.hasher.update(bytes);
        self.rows = rows;
        self.bytes += n;
        Ok(())
    }

    /// Finishes the member: rewrites the npy header with the row count and
    /// patches CRC and sizes. Returns the number of rows.
    pub fn finish(mut self) -> Result<u64> {
        if self.done {
            return Err(Error::Closed {
                at: Location::path(&self.w.path),
            }
            .at_member(self.member.clone()));
        }
        let mut shape = self.header.shape.clone();
        if let Some(axis) = self.header.growth_axis() {
            shape[axis] = self.rows;
        }
        let fin = Header::for_array(self.header.dtype.clone(), shape, self.header.order);
        let hb = match fin.to_bytes_exact(self.version, self.npy_header_len) {
            Ok(b) => b,
            Err(e) => return Err(self.fail(e)),
        };
        let data_crc = std::mem::take(&mut self.hasher);
        let mut h = crc32fast::Hasher::new();
        h.update(&hb);
        h.combine(&data_crc);
        let crc = h.finalize();
        let size = self.npy_header_len + self.bytes;
        self.local.crc32 = crc;
        self.local.size = size;
        let mut patch = Vec::with_capacity((self.local_len + self.npy_header_len) as usize);
        self.local.write(&mut patch);
        debug_assert_eq!(patch.len() as u64, self.local_len);
        patch.extend_from_slice(&hb);
        if let Err(e) = self.w.sink.write_at(&patch, self.start) {
            return Err(self.fail(Error::io("write", e, Location::offset(self.start))));
        }
        self.done = true;
        let (member, start) = (std::mem::take(&mut self.member), self.start);
        self.w.push_entry(&member, crc, size, start);
        Ok(self.rows)
    }
}

impl Drop for EntryWriter<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.done = true;
            self.w.roll_back(self.start);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}

    #[test]
    fn writer_is_send() {
        assert_send::<NpzWriter>();
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("").is_err());
        assert!(check_name("a\0b").is_err());
        assert!(check_name(&"x".repeat(65532)).is_err());
        assert_eq!(check_name(&"x".repeat(65531)).unwrap().len(), 65535);
    }
}
