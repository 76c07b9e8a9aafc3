//! Whole `.npy` files: open memory-mapped, write from a typed slice or view.

use crate::dtype::Element;
use crate::error::{Error, Location, Result};
use crate::fs::lock::{ReplaceLock, SharedLock, Wait};
use crate::fs::map::ReadMap;
use crate::fs::temp::TempFile;
use crate::npy::header::{DEFAULT_HEADER_LIMIT, Header, Order, ParsedHeader, read_header};
use crate::view::{ArrayView, Bytes};
use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Options for [`NpyFile::open_with`] and [`view_from_bytes`], built like
/// [`ReaderOptions`](crate::npz::ReaderOptions): start with
/// [`NpyOptions::new`] and chain the setters.
///
/// ```
/// use npzmap::npy::NpyOptions;
/// let opts = NpyOptions::new().header_limit(4096).allow_trailing(true);
/// assert_eq!(opts.get_header_limit(), 4096);
/// assert!(opts.is_allow_trailing());
/// ```
#[derive(Debug, Clone)]
pub struct NpyOptions {
    header_limit: usize,
    allow_trailing: bool,
    wait_for_lock: bool,
}

impl Default for NpyOptions {
    fn default() -> Self {
        NpyOptions {
            header_limit: DEFAULT_HEADER_LIMIT,
            allow_trailing: false,
            wait_for_lock: false,
        }
    }
}

impl NpyOptions {
    /// The defaults: 1 MiB header limit, no trailing bytes, no waiting.
    pub fn new() -> Self {
        Self::default()
    }

    /// Largest header length accepted, in bytes (default 1 MiB).
    pub fn header_limit(mut self, bytes: usize) -> Self {
        self.header_limit = bytes;
        self
    }

    /// Accept files with bytes after the array data, which numpy ignores
    /// (default `false`: [`Error::DataTooLong`]).
    pub fn allow_trailing(mut self, yes: bool) -> Self {
        self.allow_trailing = yes;
        self
    }

    /// When an npzmap operation that changes the file in place holds it
    /// (see the [lock protocol](crate::fs)), wait until it is done instead of
    /// failing with [`Error::Locked`] (default `false`). Only
    /// [`NpyFile::open_with`] takes a lock.
    pub fn wait_for_lock(mut self, wait: bool) -> Self {
        self.wait_for_lock = wait;
        self
    }

    /// The header limit, in bytes.
    pub fn get_header_limit(&self) -> usize {
        self.header_limit
    }

    /// Whether trailing bytes are accepted.
    pub fn is_allow_trailing(&self) -> bool {
        self.allow_trailing
    }

    /// Whether opening waits for a modifier's lock.
    pub fn is_wait_for_lock(&self) -> bool {
        self.wait_for_lock
    }
}

/// A `.npy` file mapped read-only into memory.
///
/// Views borrow the map or, with [`NpyFile::owned_view`], keep it alive
/// through an `Arc`. The map holds the file's shared lock as long as it
/// lives, so npzmap's operations that change bytes in place fail with
/// [`Error::Locked`] meanwhile, in this process and in others; appends and
/// replacements do not disturb it (see the [lock protocol](crate::fs), also
/// for what advisory locks cannot prevent). Opening fails with
/// [`Error::Locked`] while such an operation holds the file.
#[derive(Debug)]
pub struct NpyFile {
    path: PathBuf,
    map: Arc<ReadMap>,
    parsed: ParsedHeader,
    /// The data's bytes in the map, checked against its length at open.
    data: Range<usize>,
}

impl NpyFile {
    /// Opens and maps a `.npy` file, checking its header and data length.
    pub fn open(path: impl AsRef<Path>) -> Result<NpyFile> {
        NpyFile::open_with(path, NpyOptions::default())
    }

    /// Opens with options.
    pub fn open_with(path: impl AsRef<Path>, opts: NpyOptions) -> Result<NpyFile> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| Error::io_path("open", e, path))?;
        let wait = if opts.wait_for_lock {
            Wait::Yes
        } else {
            Wait::No
        };
        let file = SharedLock::take(file, path, wait)?;
        let mut map = ReadMap::new(file, path)?;
        // An appender may run beside this reader (see the lock protocol in
        // `crate::fs`): it writes the rows, then rewrites the header's shape
        // in place. So the header is read first and the file's length taken
        // after it (a header never promises rows that are not written yet),
        // and a header that has not caught up with the rows is read again.
        // A file that stops changing and still disagrees is reported as it
        // is (after one short pause for a header write in flight).
        let mut previous = None;
        let mut paused = false;
        let mut last = None;
        for _ in 0..RACE_RETRIES {
            match look(&map, &opts) {
                Ok((parsed, data)) => return Ok(NpyFile::mapped(path, map, parsed, data)),
                Err(Look::Short(parsed)) => {
                    // The length was taken before this header: take it again.
                    map = map.remap(path)?;
                    if let Ok(data) = data_range(&parsed, map.len(), &opts) {
                        return Ok(NpyFile::mapped(path, map, parsed, data));
                    }
                }
                Err(Look::Other(e)) if !racy(&e) => return Err(e.at_path(path)),
                Err(Look::Other(e)) => last = Some(e),
            }
            let now = snapshot(&map);
            if previous.as_ref() == Some(&now) {
                if paused {
                    break;
                }
                paused = true;
                std::thread::sleep(std::time::Duration::from_millis(1));
                map = map.remap(path)?;
            }
            previous = Some(now);
        }
        // Stable and still inconsistent (or changing past every retry).
        let e = match look(&map, &opts) {
            Ok((parsed, data)) => return Ok(NpyFile::mapped(path, map, parsed, data)),
            Err(Look::Short(parsed)) => match data_range(&parsed, map.len(), &opts) {
                Err(e) => e,
                Ok(data) => return Ok(NpyFile::mapped(path, map, parsed, data)),
            },
            Err(Look::Other(e)) => last.unwrap_or(e),
        };
        Err(e.at_path(path))
    }

    fn mapped(path: &Path, map: ReadMap, parsed: ParsedHeader, data: Range<usize>) -> NpyFile {
        NpyFile {
            path: path.to_path_buf(),
            map: Arc::new(map),
            parsed,
            data,
        }
    }

    /// The parsed header (with version and data offset).
    pub fn parsed_header(&self) -> &ParsedHeader {
        &self.parsed
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.parsed.header
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The shape.
    pub fn shape(&self) -> &[u64] {
        &self.parsed.header.shape
    }

    /// A zero-copy view of the array, borrowing the map.
    pub fn view(&self) -> ArrayView<'_> {
        let all: &[u8] = &self.map;
        let bytes = all.get(self.data.clone());
        debug_assert!(bytes.is_some(), "data range checked at open");
        let bytes = bytes.unwrap_or_default();
        ArrayView::from_checked_parts(
            Cow::Borrowed(&self.parsed.header),
            Bytes::borrowed(bytes),
            self.location(),
        )
    }

    /// A view that shares the map and can outlive this `NpyFile`.
    pub fn owned_view(&self) -> ArrayView<'static> {
        let (start, len) = (self.data.start, self.data.len());
        let owner: Arc<dyn AsRef<[u8]> + Send + Sync> = self.map.clone();
        ArrayView::from_checked_parts(
            Cow::Owned(self.parsed.header.clone()),
            Bytes::shared(owner, start, len),
            self.location(),
        )
    }

    fn location(&self) -> Location {
        Location {
            path: Some(self.path.clone()),
            member: None,
            offset: Some(self.parsed.data_offset),
        }
    }
}

/// Parses the header of a whole `.npy` file held in `bytes` and checks the
/// data length against it: [`Error::DataTooShort`] when the file ends early,
/// [`Error::DataTooLong`] when bytes follow the data (unless
/// `opts.allow_trailing`). Nothing is allocated in proportion to a size
/// read from the header.
/// How often [`NpyFile::open_with`] looks again at a file whose length and
/// header disagree while an appender is changing it.
const RACE_RETRIES: usize = 1000;

/// The file's length and its first header bytes: what an appender changes.
fn snapshot(map: &ReadMap) -> (usize, Vec<u8>) {
    let bytes: &[u8] = map;
    let head = bytes.get(..bytes.len().min(1024)).unwrap_or_default();
    (bytes.len(), head.to_vec())
}

/// Why one look at a mapped `.npy` file failed.
enum Look {
    /// The header promises more data than the map holds: the map may be
    /// older than the header.
    Short(ParsedHeader),
    /// Anything else.
    Other(Error),
}

/// The header as the map shows it now (parsed from a copy, and parsed again
/// from the map to catch a rewrite during the parse) and its data range.
fn look(
    map: &ReadMap,
    opts: &NpyOptions,
) -> std::result::Result<(ParsedHeader, Range<usize>), Look> {
    let bytes: &[u8] = map;
    let parsed = read_header(bytes, opts.header_limit).map_err(Look::Other)?;
    let copy = usize::try_from(parsed.data_offset)
        .ok()
        .and_then(|n| bytes.get(..n))
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    let again = read_header(&copy, opts.header_limit).map_err(Look::Other)?;
    if again != parsed {
        return Err(Look::Other(Error::InvalidHeader {
            reason: "the header changed while it was read".into(),
            at: Location::offset(0),
        }));
    }
    match data_range(&again, bytes.len(), opts) {
        Ok(data) => Ok((again, data)),
        Err(Error::DataTooShort { .. }) => Err(Look::Short(again)),
        Err(e) => Err(Look::Other(e)),
    }
}

/// The data range `parsed` describes in a file of `file_len` bytes, with the
/// length checks of [`check_file`].
fn data_range(parsed: &ParsedHeader, file_len: usize, opts: &NpyOptions) -> Result<Range<usize>> {
    let need = parsed.header.data_len()?;
    let have = (file_len as u64).saturating_sub(parsed.data_offset);
    let at = Location::offset(parsed.data_offset);
    if have < need {
        return Err(Error::DataTooShort {
            expected: need,
            actual: have,
            at,
        });
    }
    if have > need && !opts.allow_trailing {
        return Err(Error::DataTooLong {
            expected: need,
            actual: have,
            at,
        });
    }
    let too_short = || Error::DataTooShort {
        expected: need,
        actual: have,
        at: Location::offset(parsed.data_offset),
    };
    let start = usize::try_from(parsed.data_offset).map_err(|_| too_short())?;
    let len = usize::try_from(need).map_err(|_| too_short())?;
    let end = start.checked_add(len).ok_or_else(too_short)?;
    if end > file_len {
        return Err(too_short());
    }
    Ok(start..end)
}

/// Errors a reader racing an appender can see for a moment.
fn racy(e: &Error) -> bool {
    matches!(
        e,
        Error::DataTooShort { .. }
            | Error::DataTooLong { .. }
            | Error::InvalidHeader { .. }
            | Error::Truncated { .. }
    )
}

fn check_file(bytes: &[u8], opts: &NpyOptions) -> Result<ParsedHeader> {
    let parsed = read_header(bytes, opts.header_limit)?;
    data_range(&parsed, bytes.len(), opts)?;
    Ok(parsed)
}

/// A view of a whole `.npy` file held in memory (the same checks as
/// [`NpyFile::open`], which uses this code path): header parsed, data
/// length checked, bytes borrowed without copying.
///
/// ```
/// use npzmap::npy::{self, NpyOptions};
/// use npzmap::{DType, Header, Order};
/// let h = Header::new(DType::parse("<u2").unwrap(), vec![2], Order::C);
/// let mut file = h.to_bytes().unwrap();
/// file.extend_from_slice(&[1, 0, 2, 0]);
/// let v = npy::view_from_bytes(&file, NpyOptions::default()).unwrap();
/// assert_eq!(v.to_vec::<u16>().unwrap(), vec![1, 2]);
/// file.pop();
/// assert!(npy::view_from_bytes(&file, NpyOptions::default()).is_err());
/// ```
pub fn view_from_bytes<'a>(bytes: &'a [u8], opts: NpyOptions) -> Result<ArrayView<'a>> {
    let parsed = check_file(bytes, &opts)?;
    let (_, data) = data_of(&parsed, bytes)?;
    let at = Location::offset(parsed.data_offset);
    Ok(ArrayView::from_checked_parts(
        Cow::Owned(parsed.header),
        Bytes::borrowed(data),
        at,
    ))
}

/// The data's byte range in `file`, whose length [`check_file`] accepted,
/// and the data ([`Error::DataTooShort`] if it does not fit).
fn data_of<'a>(parsed: &ParsedHeader, file: &'a [u8]) -> Result<(Range<usize>, &'a [u8])> {
    let file_len = file.len();
    let too_short = || Error::DataTooShort {
        expected: parsed.header.data_len().unwrap_or(u64::MAX),
        actual: (file_len as u64).saturating_sub(parsed.data_offset),
        at: Location::offset(parsed.data_offset),
    };
    let start = usize::try_from(parsed.data_offset).map_err(|_| too_short())?;
    let len = parsed.header.data_len()?;
    let len = usize::try_from(len).map_err(|_| too_short())?;
    let end = start.checked_add(len).ok_or_else(too_short)?;
    let data = file.get(start..end).ok_or_else(too_short)?;
    Ok((start..end, data))
}

/// Writes a typed slice as a `.npy` file (header byte-identical to
/// `np.save`). Replaces an existing file: the new file is written beside it
/// and renamed over it, so readers of the old file keep its bytes
/// ([`Error::Locked`] while an npzmap writer or modifier holds it). Not
/// fsynced; for crash-safe replacement use [`overwrite`](crate::npy::overwrite).
pub fn write<T: Element>(
    path: impl AsRef<Path>,
    data: &[T],
    shape: &[u64],
    order: Order,
) -> Result<()> {
    let view = ArrayView::from_slice(data, shape, order)?;
    write_view(path, &view)
}

/// Writes a view (any dtype, byte order kept) as a `.npy` file, replacing
/// an existing one as [`write()`] does.
pub fn write_view(path: impl AsRef<Path>, view: &ArrayView<'_>) -> Result<()> {
    let path = path.as_ref();
    let header = Header::for_array(view.dtype().clone(), view.shape().to_vec(), view.order());
    let hb = header.to_bytes().map_err(|e| e.at_path(path))?;
    let replace = ReplaceLock::take(path)?;
    let TempFile { file, temp } = TempFile::new_beside(path)?;
    let mut out = io::BufWriter::new(&file);
    out.write_all(&hb)
        .and_then(|_| out.write_all(view.as_bytes()))
        .and_then(|_| out.flush())
        .map_err(|e| Error::io_path("write", e, temp.path()))?;
    drop(out);
    temp.persist(&file, path, replace.old_file(), false)
}
