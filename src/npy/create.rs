//! Creating `.npy` files of any size without materialising the array
//! (sparse files), and memory-mapping them read-write ([`NpyMapMut`]).
//!
//! ```
//! use npzmap::{npy, Element, Order};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("big.npy");
//! let mut arr = npy::create(&path, f32::dtype(), &[1000, 1000], Order::C).unwrap();
//! arr.as_slice_mut::<f32>().unwrap()[1_000 * 2 + 5] = 7.5; // element [2, 5]
//! arr.flush().unwrap();
//! drop(arr);
//! let f = npy::NpyFile::open(&path).unwrap();
//! assert_eq!(f.view().as_slice::<f32>().unwrap()[2005], 7.5);
//! ```

use crate::dtype::{DType, Element};
use crate::error::{Error, Location, Result, ViewProblem};
use crate::fs::lock::ExclusiveLock;
use crate::fs::map::WriteMap;
use crate::fs::{self, io_at, loc};
use crate::npy::header::{Header, Order, ParsedHeader};
use crate::npy::state::FileState;
use crate::view::{ArrayView, Bytes};
use std::borrow::Cow;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// A `.npy` file memory-mapped read-write as a whole, as memmap2's
/// `MmapMut` (the read-only map is [`NpyFile`](crate::npy::NpyFile)); the
/// array data is a slice of the map. Made by [`create`] or
/// [`NpyMapMut::open`].
///
/// The map is shared with the file (writes reach the file; call
/// [`NpyMapMut::flush`] to make them durable) and holds the file's
/// exclusive lock for its lifetime: opening fails with [`Error::Locked`]
/// while any reader, writer or modifier of the file is live, in this
/// process or another, and they fail likewise while the map lives.
/// Programs that ignore advisory locks can still change the bytes (see the
/// [lock protocol](crate::fs)).
#[derive(Debug)]
pub struct NpyMapMut {
    path: PathBuf,
    map: WriteMap,
    parsed: ParsedHeader,
    data_len: usize,
}

/// Creates a new `.npy` file for an array of `shape` without writing its
/// data: the file is extended with `set_len`, so file systems with sparse
/// files use no space for it and it reads as zeros. The header is exactly
/// `np.save`'s (with spare room, so the file can later be appended to).
/// Fails with [`Error::AlreadyExists`] if the file exists.
///
/// Returns a read-write map of the file (holding the advisory lock).
pub fn create(
    path: impl AsRef<Path>,
    dtype: DType,
    shape: &[u64],
    order: Order,
) -> Result<NpyMapMut> {
    let path = path.as_ref();
    let header = Header::new(dtype, shape.to_vec(), order);
    let data_len = header.data_len().map_err(|e| e.at_path(path))?;
    let hb = header.to_bytes().map_err(|e| e.at_path(path))?;
    let total = (hb.len() as u64)
        .checked_add(data_len)
        .ok_or(Error::ShapeOverflow {
            at: Location::path(path),
        })?;
    // The whole file is mapped: it must fit the address space.
    usize::try_from(total).map_err(|_| Error::ShapeOverflow {
        at: Location::path(path),
    })?;
    let file = fs::create_new(path)?;
    let made = (|| {
        let file = ExclusiveLock::take(file, path)?;
        file.write_all_at(&hb, 0)
            .map_err(|e| io_at("write", e, path, 0))?;
        file.set_len(total)
            .map_err(|e| io_at("resize", e, path, total))?;
        NpyMapMut::map(path, file)
    })();
    if made.is_err() {
        // Do not leave a half-made file behind.
        let _ = std::fs::remove_file(path);
    }
    made
}

impl NpyMapMut {
    /// Memory-maps an existing `.npy` file read-write, taking its exclusive
    /// lock. The file length must agree with the header
    /// ([`Error::DataTooShort`] / [`Error::DataTooLong`] otherwise).
    ///
    /// ```
    /// use npzmap::{npy, npy::NpyMapMut, Order};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("a.npy");
    /// npy::write(&path, &[1i32, 2, 3], &[3], Order::C).unwrap();
    /// let mut m = NpyMapMut::open(&path).unwrap();
    /// m.as_slice_mut::<i32>().unwrap()[1] = 20;
    /// m.flush().unwrap();
    /// drop(m);
    /// let r = npy::NpyFile::open(&path).unwrap();
    /// assert_eq!(r.view().to_vec::<i32>().unwrap(), vec![1, 20, 3]);
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<NpyMapMut> {
        let path = path.as_ref();
        NpyMapMut::map(path, ExclusiveLock::open(path)?)
    }

    fn map(path: &Path, file: ExclusiveLock) -> Result<NpyMapMut> {
        let (st, data_len) = Self::check(path, &file)?;
        let map = WriteMap::new(file, path)?;
        Self::finish(path, map, st, data_len)
    }

    fn check(path: &Path, file: &File) -> Result<(FileState, usize)> {
        let st = FileState::read(file, path)?;
        st.check_consistent(path)?;
        let too_big = || Error::ShapeOverflow {
            at: Location::path(path),
        };
        usize::try_from(st.file_len).map_err(|_| too_big())?;
        let data_len = usize::try_from(st.data_len).map_err(|_| too_big())?;
        Ok((st, data_len))
    }

    fn finish(path: &Path, map: WriteMap, st: FileState, data_len: usize) -> Result<NpyMapMut> {
        // The map is as long as the file was when checked, unless the file
        // changed in between (which the lock rules out for npzmap writers).
        let start = usize::try_from(st.parsed.data_offset).unwrap_or(usize::MAX);
        let mapped = map.len();
        if start.checked_add(data_len).is_none_or(|end| end > mapped) {
            return Err(Error::DataTooShort {
                expected: st.data_len,
                actual: (mapped as u64).saturating_sub(st.parsed.data_offset),
                at: loc(path, st.parsed.data_offset),
            });
        }
        Ok(NpyMapMut {
            path: path.to_path_buf(),
            map,
            parsed: st.parsed,
            data_len,
        })
    }

    fn range(&self) -> std::ops::Range<usize> {
        // data_offset + data_len == file length, which fits usize (checked).
        let start = self.parsed.data_offset as usize;
        start..start + self.data_len
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header (dtype, shape, order).
    pub fn header(&self) -> &Header {
        &self.parsed.header
    }

    /// The parsed header with version and data offset.
    pub fn parsed_header(&self) -> &ParsedHeader {
        &self.parsed
    }

    /// The shape.
    pub fn shape(&self) -> &[u64] {
        &self.parsed.header.shape
    }

    /// The array bytes.
    pub fn as_bytes(&self) -> &[u8] {
        let r = self.range();
        let all: &[u8] = &self.map;
        debug_assert!(r.end <= all.len(), "data range checked at open");
        all.get(r).unwrap_or_default()
    }

    /// A view of the array (typed access through [`ArrayView`]).
    pub fn view(&self) -> ArrayView<'_> {
        // The length was checked against the header when the file was mapped.
        ArrayView::from_checked_parts(
            Cow::Borrowed(&self.parsed.header),
            Bytes::borrowed(self.as_bytes()),
            loc(&self.path, self.parsed.data_offset),
        )
    }

    /// The array bytes, writable.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        let r = self.range();
        let all = self.map.as_mut_slice();
        debug_assert!(r.end <= all.len(), "data range checked at open");
        all.get_mut(r).unwrap_or_default()
    }

    /// The data as a typed slice (memory order), without copying. The dtype
    /// must be exactly `T`'s in native byte order and the data aligned for
    /// `T` (always true for files npzmap creates); `bool` data is validated.
    pub fn as_slice<T: Element>(&self) -> Result<&[T]> {
        // Checks dtype, byte order, alignment and bool validity.
        self.view().as_slice::<T>().map(|_| ())?;
        bytemuck::checked::try_cast_slice::<u8, T>(self.as_bytes()).map_err(|e| Error::View {
            problem: ViewProblem::Unaligned,
            detail: e.to_string(),
            at: loc(&self.path, self.parsed.data_offset),
        })
    }

    /// The data as a mutable typed slice (memory order). Same conditions as
    /// [`NpyMapMut::as_slice`].
    pub fn as_slice_mut<T: Element>(&mut self) -> Result<&mut [T]> {
        // Checks dtype, byte order, alignment and bool validity once.
        self.as_slice::<T>()?;
        let path = self.path.clone();
        let offset = self.parsed.data_offset;
        let bytes = self.as_bytes_mut();
        bytemuck::checked::try_cast_slice_mut::<u8, T>(bytes).map_err(|e| Error::View {
            problem: ViewProblem::Unaligned,
            detail: e.to_string(),
            at: loc(&path, offset),
        })
    }

    /// Writes changed pages back to the file (msync) and waits for it.
    pub fn flush(&self) -> Result<()> {
        self.map
            .flush()
            .map_err(|e| Error::io_path("msync", e, &self.path))
    }
}
