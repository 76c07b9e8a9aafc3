//! Temporary files next to their target, renamed over it when complete
//! (how every replacement in the crate is written: see the [module
//! docs](super)).

use super::parent_dir;
use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// fsyncs the directory holding `path` (so a rename is durable).
pub(crate) fn sync_parent_dir(path: &Path) -> Result<()> {
    let dir = parent_dir(path);
    let d = File::open(&dir).map_err(|e| Error::io_path("open directory", e, &dir))?;
    d.sync_all()
        .map_err(|e| Error::io_path("fsync directory", e, &dir))
}

/// The name of a temporary file: removed on drop unless [`TempPath::persist`]
/// renamed it into place.
#[derive(Debug)]
pub(crate) struct TempPath {
    path: PathBuf,
    keep: bool,
}

impl TempPath {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Copies the permissions of `perms_from` (if given) to `file` (the open
    /// temporary file), fsyncs it (if `sync`), renames it over `target` and
    /// fsyncs the directory (if `sync`). Readers that mapped the old file
    /// keep its bytes: the rename only changes which inode the name points to.
    pub(crate) fn persist(
        mut self,
        file: &File,
        target: &Path,
        perms_from: Option<&File>,
        sync: bool,
    ) -> Result<()> {
        if let Some(src) = perms_from {
            let perms = src
                .metadata()
                .map_err(|e| Error::io_path("stat", e, target))?
                .permissions();
            file.set_permissions(perms)
                .map_err(|e| Error::io_path("set permissions", e, &self.path))?;
        }
        if sync {
            file.sync_all()
                .map_err(|e| Error::io_path("fsync", e, &self.path))?;
        }
        std::fs::rename(&self.path, target).map_err(|e| Error::io_path("rename", e, target))?;
        self.keep = true;
        if sync {
            sync_parent_dir(target)?;
        }
        Ok(())
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A temporary file next to `target`, removed on drop unless persisted.
#[derive(Debug)]
pub(crate) struct TempFile {
    pub file: File,
    pub temp: TempPath,
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
                        temp: TempPath {
                            path: p,
                            keep: false,
                        },
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

    /// The temporary file's path.
    pub(crate) fn path(&self) -> &Path {
        self.temp.path()
    }

    /// [`TempPath::persist`] with fsyncs.
    pub(crate) fn persist(self, target: &Path, perms_from: Option<&File>) -> Result<()> {
        self.temp.persist(&self.file, target, perms_from, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_file_is_removed_unless_persisted() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t.npy");
        let t = TempFile::new_beside(&target).unwrap();
        let p = t.path().to_path_buf();
        assert!(p.exists());
        drop(t);
        assert!(!p.exists());
        let t = TempFile::new_beside(&target).unwrap();
        t.persist(&target, None).unwrap();
        assert!(target.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
