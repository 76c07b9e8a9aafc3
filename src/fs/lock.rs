//! The advisory locks of the protocol in the [module docs](super): a shared
//! or exclusive `flock` on the data file, and the writer lock (an exclusive
//! `flock` on a lock file beside it).

use super::{open_rw, parent_dir};
use crate::error::{Error, Location, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::ops::Deref;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Whether to wait for a conflicting lock to go away or fail at once with
/// [`Error::Locked`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    No,
    Yes,
}

/// How long a lock attempt that must not wait keeps trying before it says
/// [`Error::Locked`]: about 30 ms in all. A lock can be held for an instant
/// by nobody who uses the file: a process that another thread is spawning
/// (fork, then exec) holds copies of every open file description, locks
/// included, until its exec closes them. A real holder is still reported,
/// just not in the first microsecond.
const TRANSIENT_RETRIES: [u64; 6] = [0, 1, 2, 4, 8, 15];

/// `try_lock` (or `try_lock_shared`) through a short window of transient
/// holders (see [`TRANSIENT_RETRIES`]).
fn try_lock_briefly(
    mut attempt: impl FnMut() -> std::result::Result<(), TryLockError>,
) -> std::result::Result<(), TryLockError> {
    let mut last = attempt();
    for ms in TRANSIENT_RETRIES {
        match last {
            Err(TryLockError::WouldBlock) => {
                std::thread::sleep(std::time::Duration::from_millis(ms));
                last = attempt();
            }
            _ => return last,
        }
    }
    last
}

fn locked(path: &Path) -> Error {
    Error::Locked {
        at: Location::path(path),
    }
}

/// A file holding the SHARED lock (readers, writers that only append, and
/// replacers on the file they replace). The lock belongs to the open file
/// description and is released when the last handle to it is closed.
#[derive(Debug)]
pub(crate) struct SharedLock(File);

/// A file holding the EXCLUSIVE lock (operations that change or truncate
/// existing bytes). No reader, writer or other modifier holds the file.
#[derive(Debug)]
pub(crate) struct ExclusiveLock(File);

impl SharedLock {
    /// Takes the shared lock on `file`: [`Error::Locked`] while a modifier
    /// holds the exclusive lock (or waits for it, with [`Wait::Yes`]).
    /// On platforms or file systems without `flock` support the file is
    /// used unlocked.
    pub(crate) fn take(file: File, path: &Path, wait: Wait) -> Result<SharedLock> {
        let r = match wait {
            Wait::No => try_lock_briefly(|| file.try_lock_shared()),
            Wait::Yes => file.lock_shared().map_err(TryLockError::Error),
        };
        match r {
            Ok(()) => Ok(SharedLock(file)),
            Err(TryLockError::WouldBlock) => Err(locked(path)),
            Err(TryLockError::Error(e)) if e.kind() == io::ErrorKind::Unsupported => {
                Ok(SharedLock(file))
            }
            Err(TryLockError::Error(e)) => Err(Error::io_path("lock", e, path)),
        }
    }

    /// The file; the lock stays with it until it is closed.
    pub(crate) fn into_file(self) -> File {
        self.0
    }
}

impl ExclusiveLock {
    /// Takes the exclusive lock on `file` or fails with [`Error::Locked`]
    /// while anyone (a reader's map, a writer, a modifier, in this process
    /// or another) holds a lock on it.
    pub(crate) fn take(file: File, path: &Path) -> Result<ExclusiveLock> {
        match try_lock_briefly(|| file.try_lock()) {
            Ok(()) => Ok(ExclusiveLock(file)),
            Err(TryLockError::WouldBlock) => Err(locked(path)),
            Err(TryLockError::Error(e)) => Err(Error::io_path("lock", e, path)),
        }
    }

    /// Opens an existing file for reading and writing and takes the
    /// exclusive lock.
    pub(crate) fn open(path: &Path) -> Result<ExclusiveLock> {
        ExclusiveLock::take(open_rw(path)?, path)
    }
}

impl Deref for SharedLock {
    type Target = File;
    fn deref(&self) -> &File {
        &self.0
    }
}

impl Deref for ExclusiveLock {
    type Target = File;
    fn deref(&self) -> &File {
        &self.0
    }
}

/// The writer lock of a path: one npzmap writer (appender, archive writer,
/// replacer) per file name at a time, in this process and others. An
/// exclusive `flock` on `.<name>.npzmap-lock` in the same directory; the
/// lock file is removed again when the lock is released.
#[derive(Debug)]
pub(crate) struct WriterLock {
    file: File,
    lock_path: PathBuf,
}

/// The lock file of `target`.
pub(crate) fn writer_lock_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "npzmap".into());
    parent_dir(target).join(format!(".{name}.npzmap-lock"))
}

impl WriterLock {
    /// Takes the writer lock of `target`, or [`Error::Locked`] (naming
    /// `target`) while another writer holds it.
    pub(crate) fn take(target: &Path) -> Result<WriterLock> {
        let lock_path = writer_lock_path(target);
        // A holder removes the lock file before it unlocks. Whoever locked a
        // removed file lost the race and tries again on the new one, so the
        // lock file is the one at `lock_path` when we return.
        for _ in 0..100 {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&lock_path)
                .map_err(|e| Error::io_path("create lock file", e, &lock_path))?;
            match try_lock_briefly(|| file.try_lock()) {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => return Err(locked(target)),
                Err(TryLockError::Error(e)) => {
                    return Err(Error::io_path("lock", e, &lock_path));
                }
            }
            let held = file
                .metadata()
                .map_err(|e| Error::io_path("stat", e, &lock_path))?;
            match std::fs::metadata(&lock_path) {
                Ok(m) if m.dev() == held.dev() && m.ino() == held.ino() => {
                    return Ok(WriterLock { file, lock_path });
                }
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io_path("stat", e, &lock_path)),
            }
        }
        Err(locked(target))
    }
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        // Still locked here: a writer waiting on this file finds it removed
        // after it gets the lock, and retries on a fresh one.
        let _ = std::fs::remove_file(&self.lock_path);
        let _ = self.file.unlock();
    }
}

/// What a writer that replaces `target` as a whole holds while it writes the
/// new file beside it: the writer lock of `target` and a shared lock on the
/// file `target` names now (if any), so no modifier changes the old file's
/// bytes only to lose them at the rename. Readers of the old file are not
/// disturbed: they keep its inode.
#[derive(Debug)]
pub(crate) struct ReplaceLock {
    /// The file being replaced, shared-locked; its permissions go to the new
    /// file.
    pub old: Option<SharedLock>,
    _writer: WriterLock,
}

impl ReplaceLock {
    pub(crate) fn take(target: &Path) -> Result<ReplaceLock> {
        let writer = WriterLock::take(target)?;
        let old = match File::open(target) {
            Ok(f) => Some(SharedLock::take(f, target, Wait::No)?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io_path("open", e, target)),
        };
        Ok(ReplaceLock {
            old,
            _writer: writer,
        })
    }

    /// The old file, for copying its permissions.
    pub(crate) fn old_file(&self) -> Option<&File> {
        self.old.as_deref()
    }

    /// After the rename: releases the old file, keeps the writer lock.
    pub(crate) fn into_writer(self) -> WriterLock {
        self._writer
    }
}

/// Creates a new file ([`Error::AlreadyExists`] if there is one) and takes
/// its shared lock; a file it cannot lock is removed again.
pub(crate) fn create_new_shared(path: &Path) -> Result<SharedLock> {
    let file = super::create_new(path)?;
    SharedLock::take(file, path, Wait::No).inspect_err(|_| {
        let _ = std::fs::remove_file(path);
    })
}

/// What a writer that appends to an existing file holds: the writer lock
/// and the shared lock on the file it writes.
pub(crate) fn open_for_append(path: &Path) -> Result<(WriterLock, SharedLock)> {
    let writer = WriterLock::take(path)?;
    let file = SharedLock::take(open_rw(path)?, path, Wait::No)?;
    Ok((writer, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_lock_excludes_a_second_writer_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a.npy");
        let w = WriterLock::take(&target).unwrap();
        assert!(writer_lock_path(&target).exists());
        assert!(matches!(
            WriterLock::take(&target),
            Err(Error::Locked { .. })
        ));
        drop(w);
        assert!(!writer_lock_path(&target).exists());
        let w = WriterLock::take(&target).unwrap();
        drop(w);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn shared_and_exclusive_conflict_across_opens_of_one_process() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"x").unwrap();
        let r1 = SharedLock::take(File::open(&p).unwrap(), &p, Wait::No).unwrap();
        let r2 = SharedLock::take(File::open(&p).unwrap(), &p, Wait::No).unwrap();
        assert!(matches!(ExclusiveLock::open(&p), Err(Error::Locked { .. })));
        drop(r1);
        assert!(matches!(ExclusiveLock::open(&p), Err(Error::Locked { .. })));
        drop(r2);
        let x = ExclusiveLock::open(&p).unwrap();
        assert!(matches!(
            SharedLock::take(File::open(&p).unwrap(), &p, Wait::No),
            Err(Error::Locked { .. })
        ));
        drop(x);
        SharedLock::take(File::open(&p).unwrap(), &p, Wait::No).unwrap();
    }

    #[test]
    fn a_waiting_reader_gets_the_lock_once_the_modifier_is_gone() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"x").unwrap();
        let x = ExclusiveLock::open(&p).unwrap();
        let released = Arc::new(AtomicBool::new(false));
        let (r, q) = (released.clone(), p.clone());
        let t = std::thread::spawn(move || {
            let s = SharedLock::take(File::open(&q).unwrap(), &q, Wait::Yes).unwrap();
            // Only reachable after the exclusive lock was dropped.
            assert!(r.load(Ordering::SeqCst));
            s
        });
        released.store(true, Ordering::SeqCst);
        drop(x);
        let s = t.join().unwrap();
        assert!(matches!(ExclusiveLock::open(&p), Err(Error::Locked { .. })));
        drop(s);
        ExclusiveLock::open(&p).unwrap();
    }
}
