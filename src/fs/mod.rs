//! File-system rules in one place: the lock protocol that keeps views from
//! changing under the reader's feet, creation and replacement of files
//! (temporary file + rename), chunked moves inside a file, and the mmap
//! boundary (the only `unsafe` code that maps files, in `fs::map`).
//!
//! # The lock protocol
//!
//! npzmap maps files and hands out `&[T]` and [`ArrayView`](crate::ArrayView)s
//! that point straight into the map. memmap2's maps are *shared*, not
//! private copies: if the bytes of the file change, the view changes; if the
//! file is truncated, touching the lost pages raises SIGBUS. So every npzmap
//! operation on a file takes an advisory lock (`flock(2)`, through
//! [`std::fs::File::try_lock_shared`] and friends) in one of these roles:
//!
//! | role | who | lock | while another holds the file |
//! |---|---|---|---|
//! | **reader** | [`NpyFile::open`](crate::npy::NpyFile::open), [`NpzReader::open`](crate::npz::NpzReader::open) (and `open_with`), [`NpyFile::open_with`](crate::npy::NpyFile::open_with) | shared lock on the file, held as long as the map (and every view or `Arc` sharing it) lives | fails with [`Error::Locked`] only while a modifier holds it ([`ReaderOptions::wait_for_lock`](crate::npz::ReaderOptions::wait_for_lock) and [`NpyOptions::wait_for_lock`](crate::npy::NpyOptions::wait_for_lock) wait instead) |
//! | **writer** (adds bytes past the end) | [`NpyAppender`](crate::npy::NpyAppender), [`NpzWriter::append`](crate::npz::NpzWriter::append), [`NpzWriter::create`](crate::npz::NpzWriter::create) (and `create_or_replace` where no file exists yet) | the *writer lock* of the path (below) and a shared lock on the file | [`Error::Locked`] while another writer or a modifier holds it; readers stay |
//! | **replacer** (writes a new file beside the target and renames it over the target) | [`NpzWriter::create_or_replace`](crate::npz::NpzWriter::create_or_replace), [`AppendOptions::replace_existing`](crate::npy::AppendOptions::replace_existing), [`overwrite`](crate::npy::overwrite), [`ensure_appendable`](crate::npy::ensure_appendable)`(Copy)`, [`npy::write`](crate::npy::write()), [`write_view`](crate::npy::write_view), the output of [`npz::recover`](crate::npz::recover()) | the writer lock of the path and a shared lock on the old file until the rename | [`Error::Locked`] while a writer or a modifier holds it; readers keep the old file's bytes (the rename only changes which file the name points to) |
//! | **modifier** (changes or truncates existing bytes) | [`update`](crate::npy::update), [`NpyMapMut::open`](crate::npy::NpyMapMut::open) and [`create`](crate::npy::create) (for the map's lifetime), [`recover`](crate::npy::recover), [`recover_with`](crate::npy::recover_with), [`ensure_appendable`](crate::npy::ensure_appendable)`(InPlace)`, [`npz::recover_in_place`](crate::npz::recover_in_place) | exclusive lock on the file | [`Error::Locked`] while anyone else holds the file: any reader, writer, replacer or modifier |
//!
//! The **writer lock** keeps two writers off one path (two appenders would
//! interleave their bytes). `flock` has only two modes and the file's own
//! lock is already shared by readers and writers, so the writer lock is an
//! exclusive `flock` on a lock file beside the target,
//! `.<file name>.npzmap-lock`, created when a writer starts and removed when
//! it ends (a writer killed with SIGKILL leaves it behind, unlocked and
//! harmless; the next writer reuses and removes it). Writers therefore need
//! write access to the directory, as replacers do for their temporary file.
//!
//! Why writers may run while readers are live: an appender only writes past
//! the end of the file a reader mapped (an `.npy` appender also rewrites the
//! header's shape, but views are over the array data only, and each reader
//! parsed its header when it opened); a failed append truncates only bytes
//! it added itself. An archive writer never rewrites a byte of the old
//! archive: new members and the new central directory go after the old end
//! record. A replacement writes `.<name>.<pid>.<n>.npzmap-tmp` in the same
//! directory and renames it over the target when complete (for
//! `NpzWriter`, at [`close`](crate::npz::NpzWriter::close)), so a failed or
//! killed writer leaves the old file intact (and possibly the temporary
//! file, which is never read).
//!
//! `flock` locks belong to an open file description, so two opens in the
//! same process conflict exactly as two processes do: an `update` while a
//! view of the same file is alive in this process fails with
//! [`Error::Locked`].
//!
//! # What this does not cover
//!
//! The locks are advisory. A program that ignores them (`cp` over the file,
//! another library, `truncate`) can still change a mapped file: views then
//! show the new bytes, and a truncation makes touching the lost pages raise
//! SIGBUS. No Rust library can rule that out for a file mapping; where that
//! matters, read into memory ([`NpzReader::from_bytes`](crate::npz::NpzReader::from_bytes))
//! instead of mapping. Files on file systems without `flock` support are
//! read unlocked. Locks are not inherited across `exec`; a forked child
//! shares its parent's open file descriptions (and so their locks).

pub(crate) mod lock;
pub(crate) mod map;
pub(crate) mod sync;
pub(crate) mod temp;

use crate::error::{Error, Location, Result};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Default chunk for moving data inside a file (16 MiB).
pub(crate) const DEFAULT_MOVE_CHUNK: usize = 16 << 20;

static MOVE_CHUNK: AtomicUsize = AtomicUsize::new(DEFAULT_MOVE_CHUNK);

/// Sets the chunk size used when data is moved inside a file (by
/// [`ensure_appendable`](crate::npy::ensure_appendable) in place and by the
/// recovery functions when a header changes size). For tests, so that files
/// larger than one chunk stay small; values below 1 are clamped to 1.
/// Test hook (feature `test-hooks`).
#[cfg(feature = "test-hooks")]
pub fn set_move_chunk_size(bytes: usize) {
    MOVE_CHUNK.store(bytes.max(1), Ordering::Relaxed);
}

pub(crate) fn move_chunk() -> usize {
    MOVE_CHUNK.load(Ordering::Relaxed).max(1)
}

/// The cores this process may run on (`available_parallelism`, asked once:
/// it reads the cgroup limits each time).
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

pub(crate) fn loc(path: &Path, offset: u64) -> Location {
    Location {
        path: Some(path.to_path_buf()),
        member: None,
        offset: Some(offset),
    }
}

pub(crate) fn io_at(op: &'static str, source: io::Error, path: &Path, offset: u64) -> Error {
    Error::io(op, source, loc(path, offset))
}

/// Opens a file for reading and writing (never creating it).
pub(crate) fn open_rw(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io_path("open", e, path))
}

/// Creates a new file at `path` for reading and writing:
/// [`Error::AlreadyExists`] if there is one. (Replacements never truncate:
/// they go through [`temp::TempFile`].)
pub(crate) fn create_new(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                Error::AlreadyExists {
                    at: Location::path(path),
                }
            } else {
                Error::io_path("create", e, path)
            }
        })
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

pub(crate) fn file_len(file: &File, path: &Path) -> Result<u64> {
    Ok(file
        .metadata()
        .map_err(|e| Error::io_path("stat", e, path))?
        .len())
}

/// Moves `len` bytes inside `file` from offset `src` to offset `dst` in
/// chunks of at most [`move_chunk`] bytes, in the direction that never
/// overwrites bytes not yet moved (from the end when moving towards the end).
/// The file must already be long enough for the destination.
pub(crate) fn move_data(file: &File, path: &Path, src: u64, dst: u64, len: u64) -> Result<()> {
    move_data_chunked(file, path, src, dst, len, move_chunk())
}

fn move_data_chunked(
    file: &File,
    path: &Path,
    src: u64,
    dst: u64,
    len: u64,
    chunk: usize,
) -> Result<()> {
    if src == dst || len == 0 {
        return Ok(());
    }
    let overflow = || Error::ShapeOverflow { at: loc(path, src) };
    src.checked_add(len).ok_or_else(overflow)?;
    dst.checked_add(len).ok_or_else(overflow)?;
    let chunk = u64::try_from(chunk.max(1)).unwrap_or(u64::MAX).min(len);
    // chunk <= len and <= the configured chunk size, so it fits in usize.
    let mut buf = vec![0u8; usize::try_from(chunk).map_err(|_| overflow())?];
    let mut copy = |pos: u64, n: u64| -> Result<()> {
        // n <= chunk == buf.len()
        let b = buf.get_mut(..n as usize).ok_or_else(overflow)?;
        file.read_exact_at(b, src + pos)
            .map_err(|e| io_at("read", e, path, src + pos))?;
        file.write_all_at(b, dst + pos)
            .map_err(|e| io_at("write", e, path, dst + pos))
    };
    if dst > src {
        let mut pos = len;
        while pos > 0 {
            let n = chunk.min(pos);
            pos -= n;
            copy(pos, n)?;
        }
    } else {
        let mut pos = 0;
        while pos < len {
            let n = chunk.min(len - pos);
            copy(pos, n)?;
            pos += n;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(bytes: &[u8]) -> (tempfile::TempDir, PathBuf, File) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(bytes)
            .unwrap();
        let f = open_rw(&path).unwrap();
        (dir, path, f)
    }

    #[test]
    fn moves_overlapping_ranges_both_ways() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for chunk in [1, 3, 64, 999, 1000, 5000] {
            for (src, dst) in [(10u64, 17u64), (17, 10), (0, 500), (500, 0), (5, 5)] {
                let (_d, path, f) = file_with(&data);
                f.set_len(1600).unwrap();
                move_data_chunked(&f, &path, src, dst, 900, chunk).unwrap();
                let got = std::fs::read(&path).unwrap();
                let mut src_bytes = data.clone();
                src_bytes.resize(1600, 0);
                let want = &src_bytes[src as usize..src as usize + 900];
                assert_eq!(
                    &got[dst as usize..dst as usize + 900],
                    want,
                    "chunk {chunk} {src}->{dst}"
                );
            }
        }
    }

    #[test]
    fn move_past_end_is_an_error_not_a_panic() {
        let (_d, path, f) = file_with(&[1, 2, 3]);
        assert!(matches!(
            move_data_chunked(&f, &path, 0, 10, 100, 4),
            Err(Error::Io { .. })
        ));
        assert!(matches!(
            move_data_chunked(&f, &path, u64::MAX - 1, 0, 100, 4),
            Err(Error::ShapeOverflow { .. })
        ));
    }
}
