//! `npzmap.load`: the archive mapping (`_NpzFile`, subclassed in Python as
//! `npzmap.NpzFile`) and `.npy` files as arrays over the map.

use crate::array::{DTypeCache, numpy_dtype, view_to_numpy};
use crate::errors::{IntoPy, to_py};
use npzmap::npy::NpyFile;
use npzmap::npz::{NpzReader, ReaderOptions};
use npzmap::{Error, OwnedView};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What a member read (with the GIL released) came back as.
enum Member {
    /// An NPY array: the view, and whether it was deflated (a copy).
    Array(OwnedView, bool),
    /// Not an NPY array (no magic): its raw bytes, as np.load returns them.
    Raw(Vec<u8>),
}

/// The archive behind `npzmap.load(...)` for a `.npz`: a read-only mapping
/// from keys to arrays (registered as a `collections.abc.Mapping`).
#[pyclass(frozen, module = "npzmap", name = "NpzFile")]
pub struct NpzFile {
    reader: Mutex<Option<Arc<NpzReader>>>,
    path: PathBuf,
    files: Vec<String>,
    known: HashSet<String>,
    deflated: HashSet<String>,
    arrays: Py<PyDict>,
    dtypes: DTypeCache,
    /// Set by `close()`: read on every access, without taking `reader`'s lock.
    closed: AtomicBool,
    cache: bool,
    mmap: bool,
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

    fn read(&self, py: Python<'_>, key: &str) -> PyResult<Member> {
        let reader = self.open_reader()?;
        let deflated = self.is_deflated(key);
        py.detach(|| {
            // np.load's rule: a member is an array when its bytes start with
            // the NPY magic, otherwise its bytes are returned. `get_owned`
            // says so with `BadMagic`, so the header is read only once.
            match reader.get_owned(key) {
                Ok(v) => Ok(Member::Array(v, deflated)),
                Err(Error::BadMagic { .. }) => {
                    Ok(Member::Raw(reader.read_member(key)?.into_owned()))
                }
                Err(e) => Err(e),
            }
        })
        .py()
    }

    fn is_deflated(&self, key: &str) -> bool {
        self.deflated.contains(key) || self.deflated.contains(npzmap::npz::key_of(key))
    }
}

#[pymethods]
impl NpzFile {
    /// The keys, in archive order (`np.load(...).files`).
    #[getter]
    fn files(&self) -> Vec<String> {
        self.files.clone()
    }

    /// The arrays made so far (mmnpz's `arrays`), by key.
    #[getter]
    fn arrays<'py>(&self, py: Python<'py>) -> Bound<'py, PyDict> {
        self.arrays.bind(py).clone()
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
        abc_view(slf, "ValuesView")
    }

    /// A view of the `(key, array)` pairs (`collections.abc.ItemsView`).
    fn items<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        abc_view(slf, "ItemsView")
    }

    /// `self[key]` if `key` is in the archive, else `default`.
    #[pyo3(signature = (key, default = None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if self.known.contains(key) {
            self.get_str(py, key)
        } else {
            Ok(default.unwrap_or_else(|| py.None().into_bound(py)))
        }
    }

    fn __len__(&self) -> usize {
        self.files.len()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        PyList::new(py, &self.files)?
            .try_iter()
            .map(Bound::into_any)
    }

    fn __contains__(&self, key: &str) -> bool {
        self.known.contains(key)
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
        let arrays = self.arrays.bind(py);
        // Fast path of a repeated access: the cache looked up with the
        // caller's own str object (its hash is cached), no new str made.
        if self.cache
            && key.is_exact_instance_of::<PyString>()
            && let Some(a) = arrays.get_item(key)?
        {
            return Ok(a);
        }
        let key = key.cast::<PyString>()?.to_cow()?;
        self.get_str(py, &key)
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

    /// Closes the archive. Arrays already returned stay valid (they keep
    /// the map alive); further item access raises `npzmap.ClosedError`.
    fn close(&self) {
        let mut reader = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        self.closed.store(true, Ordering::Release);
        reader.take();
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
            self.files.len(),
            if self.closed() { ", closed" } else { "" }
        )
    }
}

impl NpzFile {
    /// `self[key]` for a `str` key (the cache, then the archive).
    fn get_str<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        let arrays = self.arrays.bind(py);
        let k = npzmap::npz::key_of(key);
        if self.cache
            && let Some(a) = arrays.get_item(k)?
        {
            return Ok(a);
        }
        let value = match self.read(py, key)? {
            Member::Raw(bytes) => return Ok(PyBytes::new(py, &bytes).into_any()),
            Member::Array(view, deflated) => {
                let dtype = self.dtypes.get(py, view.dtype())?;
                let arr = view_to_numpy(py, view, &dtype)?;
                if deflated || !self.mmap {
                    // An ordinary, writeable array (as np.load returns).
                    arr.call_method0("copy")?
                } else {
                    arr
                }
            }
        };
        if self.cache {
            arrays.set_item(k, &value)?;
        }
        Ok(value)
    }
}

fn abc_view<'py>(slf: &Bound<'py, NpzFile>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    slf.py()
        .import("collections.abc")?
        .getattr(name)?
        .call1((slf,))
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
            match sniff(&path)? {
                Kind::Npy => Ok(Loaded::Npy(NpyFile::open(&path)?.owned_view())),
                Kind::Other => {
                    let opts = ReaderOptions::new().cache(cache).preload(preload);
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
            let files: Vec<String> = reader.keys().map(str::to_string).collect();
            let mut known: HashSet<String> = files.iter().cloned().collect();
            let mut deflated = HashSet::new();
            for m in reader.members() {
                known.insert(m.name.to_string());
                if !m.shadowed && m.method != 0 {
                    deflated.insert(m.key.to_string());
                }
            }
            let file = NpzFile {
                reader: Mutex::new(Some(Arc::new(reader))),
                path,
                files,
                known,
                deflated,
                arrays: PyDict::new(py).unbind(),
                dtypes: DTypeCache::default(),
                closed: AtomicBool::new(false),
                cache,
                mmap,
            };
            Ok(Bound::new(py, file)?.into_any())
        }
    }
}
