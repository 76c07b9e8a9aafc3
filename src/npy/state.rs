//! An `.npy` file's header read from an open file (bounded), and the facts
//! about the file around it, for the operations that work on files rather
//! than maps (append, recover, create, update).

use crate::error::{Error, Result};
use crate::fs::lock::ExclusiveLock;
use crate::fs::{file_len, io_at, loc};
use crate::npy::header::{DEFAULT_HEADER_LIMIT, ParsedHeader, Version, read_header, read_prefix};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Opens an existing file for an operation that changes bytes in place:
/// takes the exclusive lock ([`Error::Locked`] while any reader, writer or
/// modifier holds the file), reads the header and checks that the file
/// length agrees with it.
pub(crate) fn open_consistent(path: &Path) -> Result<(ExclusiveLock, FileState)> {
    let file = ExclusiveLock::open(path)?;
    let state = FileState::read(&file, path)?;
    state.check_consistent(path)?;
    Ok((file, state))
}

/// Reads `buf.len()` bytes at `offset`, or fewer at the end of the file;
/// returns how many were read.
fn read_at_most(file: &File, buf: &mut [u8], offset: u64, path: &Path) -> Result<usize> {
    let mut done = 0;
    while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
        let at = offset.saturating_add(done as u64);
        match file.read_at(rest, at) {
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
pub(crate) fn read_file_prefix(file: &File, path: &Path) -> Result<(Version, u64)> {
    let mut buf = vec![0u8; 12];
    let n = read_at_most(file, &mut buf, 0, path)?;
    buf.truncate(n);
    read_prefix(&buf, DEFAULT_HEADER_LIMIT).map_err(|e| e.at_path(path))
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
    buf.truncate(n);
    read_header(&buf, DEFAULT_HEADER_LIMIT).map_err(|e| e.at_path(path))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

    fn file_with(bytes: &[u8]) -> (tempfile::TempDir, PathBuf, File) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(bytes)
            .unwrap();
        let f = File::open(&path).unwrap();
        (dir, path, f)
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
}
