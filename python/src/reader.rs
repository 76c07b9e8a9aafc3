//! `npzmap.load`: the archive mapping (`_NpzFile`, subclassed in Python as
//! `npzmap.NpzFile`) and `.npy` files as arrays over the map.

use crate::array::{DTypeCache, MappedBytes, mapped_to_numpy, numpy_dtype, view_to_numpy};
use crate::errors::{IntoPy, to_py};
use npzmap::npy::NpyFile;
use npzmap::npz::{NpzReader, ReaderOptions};
use npzmap::{ArrayView, Error, OwnedView};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// What a member read (with the GIL released) came back as.
enum Member<'r> {
    /// A stored member of a mapped (or in-memory) archive: a view of the
    /// reader's bytes, turned into an array that holds the reader.
    Mapped(ArrayView<'r>),
    /// An NPY array whose view owns a handle to its bytes (a copy in the
    /// reader's cache, or fetched ones), and whether it was deflated.
    Owned(OwnedView, bool),
    /// Not an NPY array (no magic): its raw bytes, as np.load returns them.
    Raw(Vec<u8>),
}

/// Keys fetched with one release of the GIL when iterating values or items.
const BATCH: usize = 2048;

/// Keys from which a batch is read by two threads.
const PARALLEL_MIN: usize = 512;

/// The archive behind `npzmap.load(...)` for a `.npz`: a read-only mapping
/// from keys to arrays (registered as a `collections.abc.Mapping`).
#[pyclass(frozen, module = "npzmap", name = "NpzFile")]
pub struct NpzFile {
    reader: Mutex<Option<Arc<NpzReader>>>,
    path: PathBuf,
    /// Every member's key in archive order, a duplicate name as often as
    /// it occurs (np.load's `files`), as Python strs: made on first use
    /// (iterating the values needs none), never handed out (`files`
    /// returns a copy).
    files: OnceLock<Py<PyList>>,
    /// The number of members (the length of `files`).
    n_files: usize,
    /// Keys and member names, saved by `close()` so that `in` keeps
    /// answering after it (as numpy's NpzFile does).
    known_after_close: OnceLock<ClosedNames>,
    deflated: HashSet<String>,
    /// The cache (with `cache=True`): the arrays made so far, by key.
    arrays: Py<PyDict>,
    /// Arrays made by iterating `values()`/`items()`, not yet in `arrays`:
    /// a pass over every member would otherwise spend more on inserting
    /// 100,000s of keys into the dict than on making the arrays. Moved into
    /// `arrays` (see [`NpzFile::settle`]) before the dict is looked at.
    /// Each by its position in `files` (its key is made when it moves).
    pending: Mutex<Vec<(usize, Py<PyAny>)>>,
    dtypes: DTypeCache,
    /// Set by `close()`: read on every access, without taking `reader`'s lock.
    closed: AtomicBool,
    cache: bool,
    mmap: bool,
    /// Stored members' views borrow bytes the reader owns for its whole
    /// life (a memory map, or the bytes it was opened on): their arrays
    /// then hold the reader instead of copies of header and location.
    views_borrow_reader: bool,
    /// The one base of every array that views the map (set while
    /// `views_borrow_reader` and the file is open): one object for all of
    /// them, not one per array.
    map_base: Mutex<Option<Py<MappedBytes>>>,
}

impl NpzFile {
    fn open_reader(&self) -> PyResult<Arc<NpzReader>> {
        let g = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        g.clone().ok_or_else(|| {
            to_py(Error::Closed {
                at: npzmap::Location::path(&self.path),
            })
        })
    }

    /// Reads `key` (GIL released by the caller).
    fn read<'r>(&self, reader: &'r NpzReader, key: &str) -> npzmap::Result<Member<'r>> {
        let deflated = self.is_deflated(key);
        // np.load's rule: a member is an array when its bytes start with the
        // NPY magic, otherwise its bytes are returned. `get`/`get_owned` say
        // so with `BadMagic`, so the header is read only once.
        if self.views_borrow_reader && !deflated {
            return self.mapped(reader, key, reader.get(key));
        }
        match reader.get_owned(key).map(|v| Member::Owned(v, deflated)) {
            Err(Error::BadMagic { .. }) => Ok(Member::Raw(reader.read_member(key)?.into_owned())),
            other => other,
        }
    }

    /// A stored member's view as [`NpzFile::read`] takes it (a member that
    /// is no array is read as bytes).
    fn mapped<'r>(
        &self,
        reader: &'r NpzReader,
        key: &str,
        got: npzmap::Result<ArrayView<'r>>,
    ) -> npzmap::Result<Member<'r>> {
        match got {
            Err(Error::BadMagic { .. }) => Ok(Member::Raw(reader.read_member(key)?.into_owned())),
            other => other.map(Member::Mapped),
        }
    }

    /// [`NpzFile::read`] of every key (GIL released by the caller): a
    /// large batch is read by two threads, a half each. `first`: the keys
    /// are `files[first..]` in order, so the reader's iterator hands their
    /// members over without a key lookup (each key still checked).
    fn read_all<'r>(
        &self,
        reader: &'r NpzReader,
        want: &[(usize, &str)],
        first: Option<usize>,
    ) -> Vec<npzmap::Result<Member<'r>>> {
        // Only mapped, stored members and no duplicate names: then the
        // iterator's position is the index in `files`.
        let first = first.filter(|_| {
            self.views_borrow_reader && self.deflated.is_empty() && reader.duplicates().is_empty()
        });
        let one = |part: &[(usize, &str)]| -> Vec<npzmap::Result<Member<'r>>> {
            let Some((first, &(at, _))) = first.zip(part.first()) else {
                return part.iter().map(|(_, k)| self.read(reader, k)).collect();
            };
            let mut members = reader.iter().skip(first.saturating_add(at));
            let mut expect = at;
            part.iter()
                .map(|&(i, k)| {
                    // Keys skipped in `part` (cached) are skipped here.
                    let next = i.checked_sub(expect).and_then(|gap| members.nth(gap));
                    expect = i.saturating_add(1);
                    match next {
                        Some((key, got)) if key == k => self.mapped(reader, k, got),
                        _ => self.read(reader, k),
                    }
                })
                .collect()
        };
        if want.len() < PARALLEL_MIN {
            return one(want);
        }
        let (a, b) = want.split_at(want.len() / 2);
        std::thread::scope(|s| {
            let second = s.spawn(|| one(b));
            let mut all = one(a);
            match second.join() {
                Ok(rest) => all.extend(rest),
                Err(p) => std::panic::resume_unwind(p),
            }
            all
        })
    }

    fn is_deflated(&self, key: &str) -> bool {
        !self.deflated.is_empty()
            && (self.deflated.contains(key) || self.deflated.contains(npzmap::npz::key_of(key)))
    }

    /// The Python value of a member read.
    fn to_value<'py>(
        &self,
        py: Python<'py>,
        reader: &Arc<NpzReader>,
        m: Member<'_>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let arr = match m {
            Member::Raw(bytes) => return Ok(PyBytes::new(py, &bytes).into_any()),
            Member::Mapped(view) => {
                let dtype = self.dtypes.get(py, view.dtype())?;
                let base = self.map_base(py, reader)?;
                mapped_to_numpy(py, reader, &view, &dtype, base)?
            }
            Member::Owned(view, deflated) => {
                let dtype = self.dtypes.get(py, view.dtype())?;
                let arr = view_to_numpy(py, view, &dtype)?;
                if deflated {
                    // An ordinary, writeable array (as np.load returns).
                    return arr.call_method0("copy");
                }
                arr
            }
        };
        if self.mmap {
            Ok(arr)
        } else {
            arr.call_method0("copy")
        }
    }

    /// The shared base of arrays viewing the map (made on first use).
    fn map_base<'py>(
        &self,
        py: Python<'py>,
        reader: &Arc<NpzReader>,
    ) -> PyResult<Bound<'py, MappedBytes>> {
        let mut g = self.map_base.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = &*g {
            return Ok(b.bind(py).clone());
        }
        let b = MappedBytes::of_reader(py, reader.clone(), &self.path)?;
        *g = Some(b.clone().unbind());
        Ok(b)
    }

    /// Moves the arrays made by iteration into the cache dict: called
    /// before the dict is read or handed out. (Nothing here runs Python
    /// code or releases the GIL: no other thread sees a half-moved cache.)
    fn settle(&self, py: Python<'_>) -> PyResult<()> {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if pending.is_empty() {
            return Ok(());
        }
        let files = self.files_list(py)?;
        let arrays = self.arrays.bind(py);
        for (p, v) in pending {
            arrays.set_item(files.get_item(p)?, v)?;
        }
        Ok(())
    }

    /// `files` (made on first use: from the reader, or after `close()` from
    /// the names it kept).
    fn files_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        if let Some(f) = self.files.get() {
            return Ok(f.bind(py).clone());
        }
        let list = {
            let reader = self.reader.lock().unwrap_or_else(|p| p.into_inner());
            match (&*reader, self.known_after_close.get()) {
                (Some(r), _) => PyList::new(py, r.members().map(|m| m.key))?,
                (None, Some(names)) => PyList::new(py, names.names().map(npzmap::npz::key_of))?,
                (None, None) => PyList::empty(py),
            }
        };
        // Another thread may have set it meanwhile (a finalizer the GC ran
        // can release the GIL): both lists hold the same keys.
        let _ = self.files.set(list.clone().unbind());
        Ok(list)
    }

    /// True if iteration left arrays that are not in the dict yet.
    fn has_pending(&self) -> bool {
        !self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// The number of arrays cached (in the dict or pending).
    fn cached_len(&self, py: Python<'_>) -> usize {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner()).len();
        self.arrays.bind(py).len() + pending
    }

    /// True if `key` is a key or a member name.
    fn contains_key(&self, key: &str) -> bool {
        let reader = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        match &*reader {
            // A shadowed member's full name is listed (as np.load's
            // `_files`), though its key names the member that wins.
            Some(r) => r.contains(key) || r.duplicates().iter().any(|d| d == key),
            None => self
                .known_after_close
                .get()
                .is_some_and(|k| k.contains(key)),
        }
    }

    /// `self[key]` for a `str` key (the cache, then the archive).
    fn get_str<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        if self.cache {
            self.settle(py)?;
        }
        if self.cache
            && let Some(a) = self.arrays.bind(py).get_item(npzmap::npz::key_of(key))?
        {
            return Ok(a);
        }
        self.fetch(py, key)
    }

    /// Reads `key` from the archive (not from the cache) and caches it.
    fn fetch<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        let reader = self.open_reader()?;
        let m = py.detach(|| self.read(&reader, key)).py()?;
        let value = self.to_value(py, &reader, m)?;
        if self.cache {
            self.arrays
                .bind(py)
                .set_item(npzmap::npz::key_of(key), &value)?;
        }
        Ok(value)
    }

    /// The values of `keys` (`files[first..]`), in order: cached ones from
    /// the cache, the rest read with one release of the GIL. A key that
    /// fails gives its error in its place.
    ///
    /// `uncached`: the caller knows that none of `keys` is in the cache
    /// (so no lookup is made). The arrays made are cached as pending (see
    /// `pending`).
    fn batch<'py>(
        &self,
        py: Python<'py>,
        reader: &Arc<NpzReader>,
        keys: &[&str],
        first: usize,
        uncached: bool,
    ) -> PyResult<Vec<PyResult<Bound<'py, PyAny>>>> {
        if self.cache && !uncached {
            self.settle(py)?;
        }
        let arrays = self.arrays.bind(py);
        let mut pending = Vec::new();
        let mut out: Vec<Option<PyResult<Bound<'py, PyAny>>>> = Vec::with_capacity(keys.len());
        let mut want: Vec<(usize, &str)> = Vec::new();
        for (i, &k) in keys.iter().enumerate() {
            if self.cache
                && !uncached
                && let Some(a) = arrays.get_item(k)?
            {
                out.push(Some(Ok(a)));
                continue;
            }
            out.push(None);
            want.push((i, k));
        }
        let read: Vec<npzmap::Result<Member<'_>>> =
            py.detach(|| self.read_all(reader, &want, Some(first)));
        for (&(i, _), m) in want.iter().zip(read) {
            let v = m.py().and_then(|m| self.to_value(py, reader, m));
            if self.cache
                && let Ok(v) = &v
            {
                pending.push((first.saturating_add(i), v.clone().unbind()));
            }
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(v);
            }
        }
        if !pending.is_empty() {
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(pending);
        }
        Ok(out
            .into_iter()
            .map(|v| {
                v.unwrap_or_else(|| Err(to_py(Error::invalid_argument("internal: key not read"))))
            })
            .collect())
    }
}

/// Every member name of a closed archive, which `in` still answers for
/// (as numpy's NpzFile does): kept in one string by `close()`, and put in
/// a set only if `in` is asked after it (closing stays cheap).
struct ClosedNames {
    /// The names, one after another.
    all: String,
    /// Where each name ends in `all`.
    ends: Vec<usize>,
    set: OnceLock<HashSet<String>>,
}

impl ClosedNames {
    fn new<'a>(names: impl Iterator<Item = &'a str>) -> ClosedNames {
        let mut all = String::new();
        let mut ends = Vec::new();
        for n in names {
            all.push_str(n);
            ends.push(all.len());
        }
        ClosedNames {
            all,
            ends,
            set: OnceLock::new(),
        }
    }

    /// The names, in archive order.
    fn names(&self) -> impl Iterator<Item = &str> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        (starts.zip(&self.ends)).map(|(start, &end)| self.all.get(start..end).unwrap_or_default())
    }

    /// True if `key` is a member's name or key.
    fn contains(&self, key: &str) -> bool {
        let set = self.set.get_or_init(|| {
            let mut set = HashSet::with_capacity(self.ends.len());
            let mut start = 0;
            for &end in &self.ends {
                let name = self.all.get(start..end).unwrap_or_default();
                set.insert(npzmap::npz::key_of(name).to_string());
                set.insert(name.to_string());
                start = end;
            }
            set
        });
        set.contains(key)
    }
}

/// The iterator of `NpzFile.values()` / `items()`: reads the keys in
/// batches (one release of the GIL per batch, no Python-level `__getitem__`
/// per key), yielding exactly what `z[key]` (or `(key, z[key])`) gives.
#[pyclass(module = "npzmap._npzmap", name = "NpzFileIterator")]
pub struct NpzFileIterator {
    file: Py<NpzFile>,
    next: usize,
    items: bool,
    ready: std::collections::VecDeque<PyResult<Py<PyAny>>>,
    /// Set while every entry of the cache was added by this iterator (it
    /// was empty when a batch began): the cache's length after the last
    /// batch. While the length is unchanged, no key after `next` (keys are
    /// distinct) can be in the cache, and the lookups are skipped.
    expected_cached: Option<usize>,
}

impl NpzFileIterator {
    fn new(file: Py<NpzFile>, items: bool) -> NpzFileIterator {
        NpzFileIterator {
            file,
            next: 0,
            items,
            ready: Default::default(),
            expected_cached: None,
        }
    }
}

#[pymethods]
impl NpzFileIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        if self.ready.is_empty() {
            let file = self.file.get();
            if file.closed() {
                return Err(to_py(Error::Closed {
                    at: npzmap::Location::path(&file.path),
                }));
            }
            let end = file.n_files.min(self.next.saturating_add(BATCH));
            if self.next >= end {
                return Ok(None);
            }
            let reader = file.open_reader()?;
            let keys: Vec<&str> = (reader.members().skip(self.next))
                .take(end - self.next)
                .map(|m| m.key)
                .collect();
            let first = std::mem::replace(&mut self.next, end);
            // Nothing cached yet at all (the first pass over a fresh
            // archive), or only what this iterator added.
            let cached = file.cached_len(py);
            let uncached = cached == 0 || Some(cached) == self.expected_cached;
            let values = file.batch(py, &reader, &keys, first, uncached)?;
            self.expected_cached = uncached.then(|| file.cached_len(py));
            for (k, v) in keys.iter().zip(values) {
                self.ready.push_back(v.and_then(|v| {
                    Ok(if self.items {
                        PyTuple::new(py, [PyString::new(py, k).into_any(), v])?
                            .into_any()
                            .unbind()
                    } else {
                        v.unbind()
                    })
                }));
            }
        }
        self.ready.pop_front().transpose()
    }
}

#[pymethods]
impl NpzFile {
    /// The keys, in archive order (`np.load(...).files`).
    #[getter]
    fn files<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let files = self.files_list(py)?;
        Ok(files.get_slice(0, files.len()))
    }

    /// The arrays made so far (mmnpz's `arrays`), by key.
    #[getter]
    fn arrays<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.settle(py)?;
        Ok(self.arrays.bind(py).clone())
    }

    /// The archive's path.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// True once `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// A view of the keys (`collections.abc.KeysView`).
    fn keys<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        abc_view(slf, "KeysView")
    }

    /// A view of the arrays (`collections.abc.ValuesView`).
    fn values<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        abc_view(slf, "_ValuesView")
    }

    /// A view of the `(key, array)` pairs (`collections.abc.ItemsView`).
    fn items<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        abc_view(slf, "_ItemsView")
    }

    /// The values in key order, read in batches (`values()` iterates this).
    fn _iter_values(slf: Py<Self>) -> NpzFileIterator {
        NpzFileIterator::new(slf, false)
    }

    /// The `(key, value)` pairs in key order (`items()` iterates this).
    fn _iter_items(slf: Py<Self>) -> NpzFileIterator {
        NpzFileIterator::new(slf, true)
    }

    /// `self[key]` if `key` is in the archive, else `default`.
    #[pyo3(signature = (key, default = None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if self.contains_key(key) {
            self.get_str(py, key)
        } else {
            Ok(default.unwrap_or_else(|| py.None().into_bound(py)))
        }
    }

    fn __len__(&self) -> usize {
        self.n_files
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.files_list(py)?.try_iter().map(Bound::into_any)
    }

    fn __contains__(&self, key: &str) -> bool {
        self.contains_key(key)
    }

    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if self.closed() {
            return Err(to_py(Error::Closed {
                at: npzmap::Location::path(&self.path),
            }));
        }
        // Fast path of a repeated access: the cache looked up with the
        // caller's own str object (its hash is cached), no new str made.
        let exact = key.is_exact_instance_of::<PyString>();
        if self.cache
            && exact
            && let Some(a) = self.arrays.bind(py).get_item(key)?
        {
            return Ok(a);
        }
        let key = key.cast::<PyString>()?.to_str()?;
        if exact && npzmap::npz::key_of(key) == key && !(self.cache && self.has_pending()) {
            // Not cached under this very key: read it.
            return self.fetch(py, key);
        }
        self.get_str(py, key)
    }

    /// Checks every member's structure and CRC-32 (reads the whole archive,
    /// in parallel, without the GIL). Raises the first member's error.
    fn verify(&self, py: Python<'_>) -> PyResult<()> {
        let reader = self.open_reader()?;
        py.detach(|| {
            let report = reader.verify();
            match report.members.into_iter().find_map(|(_, r)| r.err()) {
                Some(e) => Err(e),
                None => Ok(()),
            }
        })
        .py()
    }

    /// The arrays of `keys`, in order, fetched together: for an archive in
    /// object storage, nearby members come in one request and requests run
    /// concurrently; for a local file, the same as `[self[k] for k in keys]`.
    fn get_many<'py>(
        &self,
        py: Python<'py>,
        keys: Vec<String>,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let reader = self.open_reader()?;
        if let Some(k) = keys.iter().find(|k| !self.contains_key(k)) {
            return Err(pyo3::exceptions::PyKeyError::new_err(k.clone()));
        }
        if self.cache {
            self.settle(py)?;
        }
        let arrays = self.arrays.bind(py);
        // The keys not cached yet are fetched in one batch.
        let mut want: Vec<&str> = Vec::new();
        for k in &keys {
            if !(self.cache && arrays.get_item(npzmap::npz::key_of(k))?.is_some()) {
                want.push(k.as_str());
            }
        }
        let mut fetched = std::collections::HashMap::new();
        // On an error (a raw member, a damaged one) the keys go one by one
        // below, which raises exactly what `self[key]` raises.
        if let Ok(views) = py.detach(|| reader.get_many_owned(&want)) {
            for (k, view) in want.iter().zip(views) {
                let m = Member::Owned(view, self.is_deflated(k));
                let value = self.to_value(py, &reader, m)?;
                if self.cache {
                    arrays.set_item(npzmap::npz::key_of(k), &value)?;
                }
                fetched.insert(*k, value);
            }
        }
        keys.iter()
            .map(|k| match fetched.get(k.as_str()) {
                Some(a) => Ok(a.clone()),
                None => self.get_str(py, k),
            })
            .collect()
    }

    /// Object-store requests made so far for this archive (a dict with
    /// `gets`, `bytes_read`, `puts`, `bytes_written`), or None for a local file.
    fn requests<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let reader = self.open_reader()?;
        reader
            .requests()
            .map(|r| {
                let d = PyDict::new(py);
                d.set_item("gets", r.gets)?;
                d.set_item("bytes_read", r.bytes_read)?;
                d.set_item("puts", r.puts)?;
                d.set_item("bytes_written", r.bytes_written)?;
                Ok(d)
            })
            .transpose()
    }

    /// Closes the archive. Arrays already returned stay valid (they keep
    /// the map alive); further item access raises `npzmap.ClosedError`.
    fn close(&self) {
        let mut reader = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        self.closed.store(true, Ordering::Release);
        // The arrays made keep the map alive through the base; this file
        // no longer does.
        self.map_base
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(r) = reader.take() {
            // `in` keeps answering: the keys and every member name.
            let _ = self
                .known_after_close
                .set(ClosedNames::new(r.members().map(|m| m.name)));
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        _ty: Option<Bound<'_, PyAny>>,
        _value: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> bool {
        self.close();
        false
    }

    fn __repr__(&self) -> String {
        format!(
            "<npzmap.NpzFile {} ({} arrays){}>",
            self.path.display(),
            self.n_files,
            if self.closed() { ", closed" } else { "" }
        )
    }
}

fn abc_view<'py>(slf: &Bound<'py, NpzFile>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    let module = if name.starts_with('_') {
        "npzmap"
    } else {
        "collections.abc"
    };
    slf.py().import(module)?.getattr(name)?.call1((slf,))
}

/// The kind of file at `path`, from its first bytes (as np.load decides).
enum Kind {
    Npy,
    Other,
}

fn sniff(path: &Path) -> npzmap::Result<Kind> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io_path("open", e, path))?;
    let mut magic = [0u8; 6];
    let mut n = 0;
    while n < magic.len() {
        match f.read(&mut magic[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io_path("read", e, path)),
        }
    }
    Ok(if n == 6 && &magic == b"\x93NUMPY" {
        Kind::Npy
    } else {
        Kind::Other
    })
}

enum Loaded {
    Npz(NpzReader),
    Npy(OwnedView),
}

/// `npzmap.load` (see the stub for the documentation).
#[pyfunction]
#[pyo3(signature = (path, *, cache = true, preload = false, mmap = true))]
pub fn load<'py>(
    py: Python<'py>,
    path: PathBuf,
    cache: bool,
    preload: bool,
    mmap: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let loaded = py
        .detach(|| -> npzmap::Result<Loaded> {
            // An archive in object storage: read by ranges (one request for
            // the directory, one per member on first access).
            if let Some(url) = path.to_str().filter(|s| npzmap::remote::is_url(s)) {
                let opts = ReaderOptions::new().cache(cache).preload(preload);
                return Ok(Loaded::Npz(NpzReader::open_url_with(url, opts)?));
            }
            match sniff(&path)? {
                Kind::Npy => Ok(Loaded::Npy(NpyFile::open(&path)?.owned_view())),
                Kind::Other => {
                    // With `cache`, the arrays dict keeps every array made,
                    // so the reader keeps no headers of its own (they would
                    // double the memory per member) unless asked to preload
                    // them; without it, the reader's headers spare a parse
                    // per access.
                    let opts = ReaderOptions::new()
                        .cache(!cache || preload)
                        .preload(preload);
                    Ok(Loaded::Npz(NpzReader::open_with(&path, opts)?))
                }
            }
        })
        .py()?;
    match loaded {
        Loaded::Npy(view) => {
            let dtype = numpy_dtype(py, view.dtype())?;
            let arr = view_to_numpy(py, view, &dtype)?;
            if mmap {
                Ok(arr)
            } else {
                arr.call_method0("copy")
            }
        }
        Loaded::Npz(reader) => {
            let n_files = reader.members().len();
            let views_borrow_reader = reader.requests().is_none();
            let deflated: HashSet<String> = reader
                .members()
                .filter(|m| !m.shadowed && m.method != 0)
                .map(|m| m.key.to_string())
                .collect();
            let file = NpzFile {
                reader: Mutex::new(Some(Arc::new(reader))),
                path,
                files: OnceLock::new(),
                n_files,
                known_after_close: OnceLock::new(),
                deflated,
                arrays: PyDict::new(py).unbind(),
                pending: Mutex::new(Vec::new()),
                dtypes: DTypeCache::default(),
                closed: AtomicBool::new(false),
                cache,
                mmap,
                // A mapped file: stored members are views of the map, which
                // lives as long as the reader. Fetched (remote) members live
                // in the reader's bounded cache instead: their views own a
                // handle to the bytes.
                views_borrow_reader,
                map_base: Mutex::new(None),
            };
            Ok(Bound::new(py, file)?.into_any())
        }
    }
}
