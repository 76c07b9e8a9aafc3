//! Making legacy `.npy` files appendable: room in the header for the
//! growth axis to reach 21 digits.

use super::write::relocate;
use crate::error::{Error, Location, Result};
use crate::fs::lock::ReplaceLock;
use crate::fs::temp::TempFile;
use crate::fs::{io_at, loc};
use crate::npy::header::{Header, Version};
use crate::npy::rows::set_axis_len;
use crate::npy::state::{FileState, open_consistent};
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// How [`ensure_appendable`] makes room in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendableMode {
    /// Move the data towards the end of the same file in bounded chunks
    /// (16 MiB), starting from the end, then write the new header. Needs no
    /// extra disk space but is not crash-safe while the data moves.
    InPlace,
    /// Write a new file beside the old one (same directory, same
    /// permissions), fsync it, rename it over the old one and fsync the
    /// directory. Atomic: a crash leaves either the old or the new file.
    Copy,
}

/// Makes sure the header has numpy's spare room for the growth axis (21
/// digits), so appends never fail with [`Error::HeaderFull`]. Returns `true`
/// if the file was rewritten, `false` if it already had the room (then it is
/// left untouched). The file must be consistent (else run [`recover`](super::recover)) and
/// not 0-d.
///
/// ```
/// use npzmap::{npy, npy::AppendableMode, Order, Header, Element};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("legacy.npy");
/// // a legacy header without spare room: as short as its text allows
/// let h = Header::new(u8::dtype(), vec![3], Order::C);
/// let mut bytes = (16..200)
///     .find_map(|n| h.to_bytes_exact(npy::Version::V1, n).ok())
///     .unwrap();
/// bytes.extend_from_slice(&[1, 2, 3]);
/// std::fs::write(&path, &bytes).unwrap();
/// assert!(npy::ensure_appendable(&path, AppendableMode::InPlace).unwrap());
/// assert!(!npy::ensure_appendable(&path, AppendableMode::Copy).unwrap());
/// let f = npy::NpyFile::open(&path).unwrap();
/// assert_eq!(f.parsed_header().data_offset, 128);
/// assert_eq!(f.view().as_bytes(), &[1, 2, 3]);
/// ```
pub fn ensure_appendable(path: impl AsRef<Path>, mode: AppendableMode) -> Result<bool> {
    let path = path.as_ref();
    match mode {
        AppendableMode::InPlace => {
            let (file, st) = open_consistent(path)?;
            make_appendable(&file, st, path, mode)
        }
        AppendableMode::Copy => {
            // The copy is renamed over the name: readers keep the old file.
            let replace = ReplaceLock::take(path)?;
            let Some(file) = replace.old_file() else {
                let e = io::Error::from(io::ErrorKind::NotFound);
                return Err(Error::io_path("open", e, path));
            };
            let st = FileState::read(file, path)?;
            st.check_consistent(path)?;
            make_appendable(file, st, path, mode)
        }
    }
}

fn make_appendable(file: &File, st: FileState, path: &Path, mode: AppendableMode) -> Result<bool> {
    let header = &st.parsed.header;
    let Some(axis) = header.growth_axis() else {
        return Err(Error::ShapeMismatch {
            reason: "a 0-d array has no growth axis and cannot be made appendable".into(),
            at: Location::path(path),
        });
    };
    let old_off = st.parsed.data_offset;
    if has_growth_room(header, axis, st.parsed.version, old_off, path)? {
        return Ok(false);
    }
    let hb = header.to_bytes().map_err(|e| e.at_path(path))?;
    let new_off = hb.len() as u64;
    match mode {
        AppendableMode::InPlace => relocate(file, path, old_off, new_off, st.data_len, &hb)?,
        AppendableMode::Copy => {
            let mut tmp = TempFile::new_beside(path)?;
            tmp.file
                .write_all_at(&hb, 0)
                .map_err(|e| io_at("write", e, tmp.temp.path(), 0))?;
            let mut src = file;
            src.seek(SeekFrom::Start(old_off))
                .map_err(|e| io_at("seek", e, path, old_off))?;
            tmp.file
                .seek(SeekFrom::Start(new_off))
                .map_err(|e| io_at("seek", e, tmp.temp.path(), new_off))?;
            let copied = io::copy(&mut io::Read::take(src, st.data_len), &mut tmp.file)
                .map_err(|e| io_at("copy", e, path, old_off))?;
            if copied != st.data_len {
                return Err(Error::DataTooShort {
                    expected: st.data_len,
                    actual: copied,
                    at: loc(path, old_off),
                });
            }
            tmp.persist(path, Some(file))?;
        }
    }
    Ok(true)
}

/// True if the header at `data_offset` can hold a growth axis of 21 digits
/// (numpy's `len(str(8 * 2**64 - 1))`): a 20-digit value fits one byte
/// short of the current length.
fn has_growth_room(
    header: &Header,
    axis: usize,
    version: Version,
    data_offset: u64,
    path: &Path,
) -> Result<bool> {
    let mut widest = header.clone();
    set_axis_len(&mut widest, axis, u64::MAX);
    match widest.to_bytes_exact(version, data_offset.saturating_sub(1)) {
        Ok(_) => Ok(true),
        Err(Error::HeaderFull { .. }) => Ok(false),
        Err(e) => Err(e.at_path(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::Element;
    use crate::npy::header::Order;

    #[test]
    fn growth_room_means_21_digits() {
        let h = Header::new(u8::dtype(), vec![7, 2], Order::C);
        // np.save-style header: exactly the room numpy leaves
        let full = h.to_bytes().unwrap();
        assert!(has_growth_room(&h, 0, Version::V1, full.len() as u64, Path::new("x")).unwrap());
        // the tightest header that still holds 21 digits
        let text = h.dict_text().len() as u64;
        let need = 10 + text - 1 + 21 + 1;
        assert!(has_growth_room(&h, 0, Version::V1, need, Path::new("x")).unwrap());
        assert!(!has_growth_room(&h, 0, Version::V1, need - 1, Path::new("x")).unwrap());
        // Fortran: the last axis grows
        let f = Header::new(u8::dtype(), vec![2, 7], Order::Fortran);
        let text = f.dict_text().len() as u64;
        let need = 10 + text - 1 + 21 + 1;
        assert!(has_growth_room(&f, 1, Version::V1, need, Path::new("x")).unwrap());
        assert!(!has_growth_room(&f, 1, Version::V1, need - 1, Path::new("x")).unwrap());
    }
}
