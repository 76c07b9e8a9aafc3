//! File-system helpers shared by the append / recover / create / update
//! layer: bounded header reads, advisory locks, chunked data moves, atomic
//! replacement through a temporary file in the same directory.

use crate::error::{Error, Location, Result};
use crate::npy::header::{DEFAULT_HEADER_LIMIT, ParsedHeader, read_header, read_prefix};
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

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

/// Takes the exclusive advisory lock or fails with [`Error::Locked`].
/// Creates `path` for reading and writing: [`Error::AlreadyExists`] if it
/// exists, unless `replace`, which opens it as it is (not truncated: callers
/// truncate once they hold whatever lock they need).
pub(crate) fn create_file(path: &Path, replace: bool) -> Result<File> {
    let mut oo = OpenOptions::new();
    oo.read(true).write(true);
    if replace {
        oo.create(true);
    } else {
        oo.create_new(true);
    }
    oo.open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            Error::AlreadyExists {
                at: Location::path(path),
            }
        } else {
            Error::io_path("create", e, path)
        }
    })
}

/// Empties a file opened to be replaced, if it holds anything. A file that
/// is empty already is left alone: truncating it anyway trips ext4's
/// "truncate then rewrite" heuristic (`auto_da_alloc`), which forces
/// writeback on close and halves the throughput of large writes.
pub(crate) fn empty_for_replace(file: &File, path: &Path) -> Result<()> {
    if file_len(file, path)? > 0 {
        file.set_len(0).map_err(|e| io_at("truncate", e, path, 0))?;
    }
    Ok(())
}

/// Opens an existing file for reading and writing and takes its exclusive
/// advisory lock ([`Error::Locked`] if another writer holds it).
pub(crate) fn open_locked(path: &Path) -> Result<File> {
    let file = open_rw(path)?;
    lock_exclusive(&file, path)?;
    Ok(file)
}

/// [`open_locked`], then reads the header and checks that the file length
/// agrees with it (what every in-place operation on a sound file needs).
pub(crate) fn open_consistent(path: &Path) -> Result<(File, FileState)> {
    let file = open_locked(path)?;
    let state = FileState::read(&file, path)?;
    state.check_consistent(path)?;
    Ok((file, state))
}

pub(crate) fn lock_exclusive(file: &File, path: &Path) -> Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => Err(Error::Locked {
            at: Location::path(path),
        }),
        Err(TryLockError::Error(e)) => Err(Error::io_path("lock", e, path)),
    }
}

pub(crate) fn file_len(file: &File, path: &Path) -> Result<u64> {
    Ok(file
        .metadata()
        .map_err(|e| Error::io_path("stat", e, path))?
        .len())
}

/// Reads `buf.len()` bytes at `offset`, or fewer at the end of the file;
/// returns how many were read.
fn read_at_most(file: &File, buf: &mut [u8], offset: u64, path: &Path) -> Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let at = offset.saturating_add(done as u64);
        match file.read_at(&mut buf[done..], at) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_at("read", e, path, at)),
        }
    }
    Ok(done)
}

/// Reads the prefix (magic, version, header length) from the start of a
/// file: `(version, data_offset)`.
pub(crate) fn read_file_prefix(
    file: &File,
    path: &Path,
) -> Result<(crate::npy::header::Version, u64)> {
    let mut buf = [0u8; 12];
    let n = read_at_most(file, &mut buf, 0, path)?;
    read_prefix(&buf[..n], DEFAULT_HEADER_LIMIT).map_err(|e| e.at_path(path))
}

/// Reads and parses the header at the start of a file. Never allocates more
/// than the header cap, whatever the length field says.
pub(crate) fn read_file_header(file: &File, path: &Path) -> Result<ParsedHeader> {
    let (_, data_offset) = read_file_prefix(file, path)?;
    // read_prefix refused lengths above the cap, so this is bounded.
    let len = usize::try_from(data_offset).map_err(|_| Error::HeaderTooLarge {
        len: data_offset,
        limit: DEFAULT_HEADER_LIMIT as u64,
        at: loc(path, 8),
    })?;
    let mut buf = vec![0u8; len];
    let n = read_at_most(file, &mut buf, 0, path)?;
    read_header(&buf[..n], DEFAULT_HEADER_LIMIT).map_err(|e| e.at_path(path))
}

/// A header plus the facts about the file around it.
pub(crate) struct FileState {
    pub parsed: ParsedHeader,
    pub file_len: u64,
    /// Bytes the header declares.
    pub data_len: u64,
}

impl FileState {
    pub(crate) fn read(file: &File, path: &Path) -> Result<FileState> {
        let parsed = read_file_header(file, path)?;
        let data_len = parsed
            .header
            .data_len()
            .map_err(|e| e.at_path(path).at_offset(0))?;
        let file_len = file_len(file, path)?;
        Ok(FileState {
            parsed,
            file_len,
            data_len,
        })
    }

    /// Bytes present after the header.
    pub(crate) fn present(&self) -> u64 {
        self.file_len.saturating_sub(self.parsed.data_offset)
    }

    /// `DataTooShort` / `DataTooLong` unless the file length agrees with the header.
    pub(crate) fn check_consistent(&self, path: &Path) -> Result<()> {
        let have = self.present();
        let at = loc(path, self.parsed.data_offset);
        if have < self.data_len {
            Err(Error::DataTooShort {
                expected: self.data_len,
                actual: have,
                at,
            })
        } else if have > self.data_len {
            Err(Error::DataTooLong {
                expected: self.data_len,
                actual: have,
                at,
            })
        } else {
            Ok(())
        }
    }
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
        let b = &mut buf[..n as usize];
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

/// fsyncs the directory holding `path` (so a rename is durable).
pub(crate) fn sync_parent_dir(path: &Path) -> Result<()> {
    let dir = parent_dir(path);
    let d = File::open(&dir).map_err(|e| Error::io_path("open directory", e, &dir))?;
    d.sync_all()
        .map_err(|e| Error::io_path("fsync directory", e, &dir))
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A temporary file next to `target`, removed on drop unless persisted.
pub(crate) struct TempFile {
    pub file: File,
    pub path: PathBuf,
    keep: bool,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl TempFile {
    /// Creates `.<name>.<pid>.<n>.npzmap-tmp` in the directory of `target`.
    pub(crate) fn new_beside(target: &Path) -> Result<TempFile> {
        let dir = parent_dir(target);
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "npy".into());
        for _ in 0..100 {
            let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let p = dir.join(format!(".{name}.{}.{n}.npzmap-tmp", std::process::id()));
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&p)
            {
                Ok(file) => {
                    return Ok(TempFile {
                        file,
                        path: p,
                        keep: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io_path("create temporary file", e, &p)),
            }
        }
        Err(Error::io_path(
            "create temporary file",
            io::Error::new(io::ErrorKind::AlreadyExists, "no free temporary name"),
            &dir,
        ))
    }

    /// Copies the permissions of `from` (if it exists) to the temp file,
    /// fsyncs it, renames it over `target` and fsyncs the directory.
    pub(crate) fn persist(mut self, target: &Path, perms_from: Option<&File>) -> Result<()> {
        if let Some(src) = perms_from {
            let perms = src
                .metadata()
                .map_err(|e| Error::io_path("stat", e, target))?
                .permissions();
            self.file
                .set_permissions(perms)
                .map_err(|e| Error::io_path("set permissions", e, &self.path))?;
        }
        self.file
            .sync_all()
            .map_err(|e| Error::io_path("fsync", e, &self.path))?;
        std::fs::rename(&self.path, target).map_err(|e| Error::io_path("rename", e, target))?;
        self.keep = true;
        sync_parent_dir(target)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
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

    #[test]
    fn header_reads_are_bounded() {
        // a length field claiming 4 GiB is refused before allocation
        let (_d, path, f) = file_with(b"\x93NUMPY\x02\x00\xff\xff\xff\xff{");
        assert!(matches!(
            read_file_header(&f, &path),
            Err(Error::HeaderTooLarge { .. })
        ));
        let (_d, path, f) = file_with(b"\x93NUMPY\x01\x00\x40\x00{'descr'");
        let e = read_file_header(&f, &path).unwrap_err();
        assert!(matches!(e, Error::Truncated { .. }), "{e}");
        assert_eq!(e.location().path.as_deref(), Some(path.as_path()));
        let (_d, path, f) = file_with(b"");
        assert!(read_file_header(&f, &path).is_err());
    }

    #[test]
    fn temp_file_is_removed_unless_persisted() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t.npy");
        let t = TempFile::new_beside(&target).unwrap();
        let p = t.path.clone();
        assert!(p.exists());
        drop(t);
        assert!(!p.exists());
        let t = TempFile::new_beside(&target).unwrap();
        t.persist(&target, None).unwrap();
        assert!(target.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
