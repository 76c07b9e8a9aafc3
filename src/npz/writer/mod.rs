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
//! [`recover`](mod@crate::npz::recover) rebuilds one from the local headers. It
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
//! written (found by `zip::committed`); rolling back a
//! failed member only truncates bytes this appender wrote, never below the
//! length the file had when the append began, so no reader's archive loses
//! a byte. Appending to a file whose tail has no end record (a previous
//! appender died mid-member) appends to that last committed archive: the
//! dead appender's bytes are not part of it and stay in the file, untouched,
//! between the old archive and the new members (so [`recover`](mod@crate::npz::recover)
//! still finds its finished members); the new directory lists the
//! committed archive's members and the new ones. A file with no committed
//! archive at all is refused with [`Error::NotAZip`] and left untouched.
//! Two appenders must not run on one file at the same time.
//!
//! # Object storage
//!
//! With the `object-store` feature, `NpzWriter::create_url` and
//! `NpzWriter::create_object` write the same archive (byte for byte)
//! straight to S3, GCS, Azure or any `object_store` store by multipart
//! upload; the object appears atomically at [`close`], and an error or a
//! drop without `close` aborts the upload. The path-based crash-safety
//! notes above are about files; see `NpzWriter::create_object` for the
//! upload's rules.
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

mod append;
mod close;
mod entry;
#[cfg(feature = "object-store")]
mod object;
mod options;
#[cfg(feature = "object-store")]
mod remote;
mod sink;
mod write;

pub use entry::EntryWriter;
pub use options::{DosDateTime, WriterOptions};

use crate::error::{Error, Location, Result};
use crate::fs::lock::{ReplaceLock, WriterLock, create_new_shared, open_for_append};
use crate::fs::sync::EarlySync;
use crate::fs::temp::{TempFile, TempPath};
use crate::npy::header::Header;
use crate::npz::member_name;
use append::OldArchive;
use sink::{Os, Sink, Target};
use std::collections::HashSet;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};

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

impl NpzWriter {
    /// Options (alignment, replace, duplicates, timestamp, fsync): the same
    /// as [`WriterOptions::new`]. End the chain with
    /// [`create`](WriterOptions::create) / [`append`](WriterOptions::append),
    /// or pass it to [`NpzWriter::create_with`] / [`NpzWriter::append_with`].
    pub fn options() -> WriterOptions {
        WriterOptions::new()
    }

    /// Creates a new archive; [`Error::AlreadyExists`] if `path` exists.
    pub fn create(path: impl AsRef<Path>) -> Result<NpzWriter> {
        WriterOptions::default().create(path)
    }

    /// Creates a new archive, replacing any file at `path` when it is closed
    /// (a temporary file renamed over it; see [`NpzWriter::create_with`]).
    pub fn create_or_replace(path: impl AsRef<Path>) -> Result<NpzWriter> {
        WriterOptions::default().replace(true).create(path)
    }

    /// Opens an existing archive (written by anyone: numpy, Info-ZIP, ...)
    /// to add members. Existing bytes are never modified; see the [module
    /// docs](self).
    pub fn append(path: impl AsRef<Path>) -> Result<NpzWriter> {
        WriterOptions::default().append(path)
    }

    /// Creates a new archive at `path` with `opts` ([`Error::AlreadyExists`]
    /// if there is a file, unless [`WriterOptions::replace`]). The same as
    /// `opts.create(path)`.
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
    pub fn create_with(path: impl AsRef<Path>, opts: WriterOptions) -> Result<NpzWriter> {
        let path = path.as_ref();
        opts.check().map_err(|e| e.at_path(path))?;
        if opts.replace {
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
                        return NpzWriter::from_parts(path, file, opts, old, hold);
                    }
                    // Created meanwhile (not by an npzmap writer: we hold
                    // the writer lock): replace it like any other file.
                    Err(Error::AlreadyExists { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            let TempFile { file, temp } = TempFile::new_beside(path)?;
            let hold = Hold::Replacing { temp, lock };
            return NpzWriter::from_parts(path, file, opts, OldArchive::default(), hold);
        }
        let writer = WriterLock::take(path)?;
        let file = create_new_shared(path)?.into_file();
        NpzWriter::from_parts(
            path,
            file,
            opts,
            OldArchive::default(),
            Hold::Writing { _lock: writer },
        )
    }

    /// Opens an existing archive to add members with `opts` (the same as
    /// `opts.append(path)`; see the [module
    /// docs](self) for how this stays crash-safe). A file that ends with a
    /// dead appender's partial member is appended to as its last committed
    /// archive. A file that is not a zip archive is refused with
    /// [`Error::NotAZip`] and left untouched. Readers of the archive may stay
    /// open; [`Error::Locked`] while another writer or an operation that
    /// changes the file in place holds it (see the [lock protocol](crate::fs)).
    pub fn append_with(path: impl AsRef<Path>, opts: WriterOptions) -> Result<NpzWriter> {
        let path = path.as_ref();
        opts.check().map_err(|e| e.at_path(path))?;
        let (writer, file) = open_for_append(path)?;
        let file = file.into_file();
        let old = OldArchive::read(&file).map_err(|e| e.at_path(path))?;
        NpzWriter::from_parts(path, file, opts, old, Hold::Writing { _lock: writer })
    }

    fn from_parts(
        path: &Path,
        file: File,
        opts: WriterOptions,
        old: OldArchive,
        hold: Hold,
    ) -> Result<NpzWriter> {
        let mut file = file;
        // Appending: new members go after everything that is there.
        file.seek(SeekFrom::Start(old.end))
            .map_err(|e| Error::io("seek", e, Location::offset(old.end)).at_path(path))?;
        let target = Target::File(Os {
            file,
            early: opts.fsync.then(EarlySync::default),
            #[cfg(feature = "test-hooks")]
            fault: opts.fail_after,
        });
        Ok(NpzWriter::with_target(
            path.to_path_buf(),
            target,
            opts,
            old,
            hold,
        ))
    }

    /// A writer over `target`, whose archive begins at `old.end`.
    fn with_target(
        path: PathBuf,
        target: Target,
        opts: WriterOptions,
        old: OldArchive,
        hold: Hold,
    ) -> NpzWriter {
        NpzWriter {
            path,
            sink: Sink {
                target,
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

    /// The archive's path (for an archive in object storage, its URL).
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

    /// Truncates back to `start` after a failed member; if even that fails
    /// the writer is unusable.
    fn roll_back(&mut self, start: u64) {
        if self.sink.truncate(start).is_err() {
            self.state = State::Broken;
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
}
