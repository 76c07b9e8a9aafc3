//! `.npy` files: `NpyAppendArray` (npy-append-array's class), `recover`,
//! `ensure_appendable`, `needs_recovery`, `recover_npz`, and the pieces of
//! `save_npy` (`overwrite`, `update`).

use crate::array::{Contiguous, DTypeCache, is_exact_ndarray};
use crate::errors::{IntoPy, to_py};
use npzmap::npy::{self, AppendableMode, NpyAppender};
use npzmap::{ArrayView, Error, Header, Location};
use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A view of a prepared array's bytes with its header.
fn view_of<'a>(c: &'a Contiguous<'_>) -> PyResult<ArrayView<'a>> {
    ArrayView::new(Cow::Borrowed(&c.header), c.bytes()?).py()
}

/// `np.asarray(data)` cast to the dtype of `header` (as npy-append-array
/// does) and laid out in its order. An ndarray that already is (equivalent
/// dtype, contiguous in that order, at least 1-d) is used as it is.
fn conform<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    header: &Header,
    dtypes: &DTypeCache,
) -> PyResult<Contiguous<'py>> {
    let dt = dtypes.get(py, &header.dtype)?;
    if is_exact_ndarray(py, data) {
        let a = data.cast::<PyUntypedArray>()?;
        let laid_out = if header.order.is_fortran() {
            a.is_fortran_contiguous()
        } else {
            a.is_c_contiguous()
        };
        if a.ndim() >= 1 && laid_out && a.dtype().is_equiv_to(&dt) {
            return Ok(Contiguous::with_dtype(a.clone(), header.dtype.clone()));
        }
    }
    let np = py.import("numpy")?;
    let a = np.call_method1("asarray", (data,))?;
    let a = a.call_method1("astype", (dt,))?;
    let a = np.call_method1(
        if header.order.is_fortran() {
            "asfortranarray"
        } else {
            "ascontiguousarray"
        },
        (a,),
    )?;
    Contiguous::new(py, &a)
}

/// Appends arrays to a `.npy` file along its growth axis (the first axis
/// for C order, the last for Fortran order).
#[pyclass(frozen, module = "npzmap", name = "NpyAppendArray")]
pub struct NpyAppendArray {
    path: PathBuf,
    rewrite_header_on_append: bool,
    /// Appends collected in user space before one write (0: none).
    buffer_bytes: usize,
    /// `close` fsyncs data and header (else it only writes them).
    fsync: bool,
    inner: Mutex<Option<Arc<NpyAppender>>>,
    closed: Mutex<bool>,
    /// The file's numpy dtype, made once (not on every append).
    dtypes: DTypeCache,
}

impl NpyAppendArray {
    fn current(&self) -> Option<Arc<NpyAppender>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn options(&self) -> npy::AppendOptions {
        NpyAppender::options()
            .rewrite_header_on_append(self.rewrite_header_on_append)
            .buffer_bytes(self.buffer_bytes)
    }
}

#[pymethods]
impl NpyAppendArray {
    #[new]
    #[pyo3(signature = (filename, delete_if_exists = false, rewrite_header_on_append = true, *, buffer_bytes = 0, fsync = true))]
    fn new(
        py: Python<'_>,
        filename: PathBuf,
        delete_if_exists: bool,
        rewrite_header_on_append: bool,
        buffer_bytes: usize,
        fsync: bool,
    ) -> PyResult<Self> {
        let me = NpyAppendArray {
            path: filename,
            rewrite_header_on_append,
            buffer_bytes,
            fsync,
            inner: Mutex::new(None),
            closed: Mutex::new(false),
            dtypes: DTypeCache::default(),
        };
        let opts = me.options();
        let path = &me.path;
        // Refused now, not at the first append to a new file.
        opts.check(path).py()?;
        let app = py
            .detach(|| -> npzmap::Result<Option<NpyAppender>> {
                if !path.exists() {
                    return Ok(None);
                }
                if delete_if_exists {
                    std::fs::remove_file(path).map_err(|e| Error::io_path("remove", e, path))?;
                    return Ok(None);
                }
                opts.open(path).map(Some)
            })
            .py()?;
        *me.inner.lock().unwrap_or_else(|p| p.into_inner()) = app.map(Arc::new);
        Ok(me)
    }

    /// The file's path.
    #[getter]
    fn filename(&self) -> PathBuf {
        self.path.clone()
    }

    /// The array's shape now (`None` before the first append to a new file).
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.current()
            .map(|a| PyTuple::new(py, a.shape()))
            .transpose()
    }

    /// True if the array is stored in Fortran order.
    #[getter]
    fn fortran_order(&self) -> Option<bool> {
        self.current().map(|a| a.header().order.is_fortran())
    }

    /// Appends `arr` (cast to the file's dtype, laid out in its order; its
    /// other dimensions must equal the file's). The first append to a new
    /// file fixes dtype, order (Fortran when `arr` is Fortran- but not
    /// C-contiguous) and row shape.
    fn append(&self, py: Python<'_>, arr: &Bound<'_, PyAny>) -> PyResult<()> {
        if *self.closed.lock().unwrap_or_else(|p| p.into_inner()) {
            return Err(to_py(Error::Closed {
                at: Location::path(&self.path),
            }));
        }
        let c = match self.current() {
            Some(app) => conform(py, arr, &app.header(), &self.dtypes)?,
            None => Contiguous::new(py, arr)?,
        };
        let view = view_of(&c)?;
        let opts = self.options();
        py.detach(|| -> npzmap::Result<()> {
            let app = {
                let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
                match &*g {
                    Some(a) => a.clone(),
                    None => {
                        let h = view.header();
                        let axis = h.growth_axis().ok_or_else(|| {
                            Error::invalid_argument("a 0-d array has no axis to append along")
                                .at_path(&self.path)
                        })?;
                        let mut tail = h.shape.clone();
                        tail.remove(axis);
                        let a =
                            Arc::new(opts.create(&self.path, h.dtype.clone(), &tail, h.order)?);
                        *g = Some(a.clone());
                        a
                    }
                }
            };
            app.append_view(&view)
        })
        .py()
    }

    /// Writes the buffered rows (with `buffer_bytes`) and the header now.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        self.update_header(py)
    }

    /// Writes the header now (useful with `rewrite_header_on_append=False`);
    /// buffered rows are written first.
    fn update_header(&self, py: Python<'_>) -> PyResult<()> {
        match self.current() {
            Some(a) => py.detach(|| a.flush()).py(),
            None => Ok(()),
        }
    }

    /// Writes the final header and closes the file (fsyncing data and
    /// header first unless `fsync=False`).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        *self.closed.lock().unwrap_or_else(|p| p.into_inner()) = true;
        let app = self.inner.lock().unwrap_or_else(|p| p.into_inner()).take();
        match app {
            Some(a) => py
                .detach(|| match Arc::try_unwrap(a) {
                    Ok(a) if self.fsync => a.close(),
                    Ok(a) => a.flush(),
                    // Another thread is mid-append: flush; the last
                    // reference closes it on drop.
                    Err(a) => a.flush(),
                })
                .py(),
            None => Ok(()),
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _ty: Option<Bound<'_, PyAny>>,
        _value: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }
}

/// `npzmap.recover` (npy-append-array's `recover`): fixes a `.npy` file
/// whose data length disagrees with its header.
#[pyfunction]
#[pyo3(signature = (filename, zerofill_incomplete = false))]
pub fn recover<'py>(
    py: Python<'py>,
    filename: PathBuf,
    zerofill_incomplete: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let r = py
        .detach(|| npy::recover(&filename, zerofill_incomplete))
        .py()?;
    let d = PyDict::new(py);
    d.set_item("rows_before", r.rows_before)?;
    d.set_item("rows_after", r.rows_after)?;
    d.set_item("bytes_dropped", r.bytes_dropped)?;
    d.set_item("bytes_zero_filled", r.bytes_zero_filled)?;
    d.set_item("changed", r.changed)?;
    Ok(d)
}

/// True if the file's data length disagrees with its header.
#[pyfunction]
pub fn needs_recovery(py: Python<'_>, filename: PathBuf) -> PyResult<bool> {
    py.detach(|| npy::needs_recovery(&filename)).py()
}

/// `npzmap.ensure_appendable` (npy-append-array's): gives the header the
/// spare room appends need. Returns True, as npy-append-array does.
#[pyfunction]
#[pyo3(signature = (filename, inplace = false))]
pub fn ensure_appendable(py: Python<'_>, filename: PathBuf, inplace: bool) -> PyResult<bool> {
    let mode = if inplace {
        AppendableMode::InPlace
    } else {
        AppendableMode::Copy
    };
    py.detach(|| npy::ensure_appendable(&filename, mode))
        .py()
        .map(|_| true)
}

/// `npzmap.recover_npz`: writes the intact members of a damaged or
/// unfinished archive `src` to a new archive `dst`.
#[pyfunction]
pub fn recover_npz<'py>(
    py: Python<'py>,
    src: PathBuf,
    dst: PathBuf,
) -> PyResult<Bound<'py, PyDict>> {
    let r = py.detach(|| npzmap::npz::recover(&src, &dst)).py()?;
    let d = PyDict::new(py);
    d.set_item("kept", r.kept)?;
    let dropped: Vec<(String, u64, String)> = r
        .dropped
        .into_iter()
        .map(|x| (x.name, x.offset, x.reason))
        .collect();
    d.set_item("dropped", dropped)?;
    d.set_item("bytes_kept", r.bytes_kept)?;
    d.set_item("output_len", r.output_len)?;
    Ok(d)
}

/// Replaces (or creates) `path` with `data` atomically.
#[pyfunction]
pub fn _overwrite(py: Python<'_>, path: PathBuf, data: &Bound<'_, PyAny>) -> PyResult<()> {
    let c = Contiguous::new(py, data)?;
    let view = view_of(&c)?;
    py.detach(|| npy::overwrite(&path, &view)).py()
}

/// Writes `rows` (already cast and laid out as the file) at `indices` along
/// the growth axis, in place.
#[pyfunction]
pub fn _update(
    py: Python<'_>,
    path: PathBuf,
    indices: Vec<u64>,
    rows: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let c = Contiguous::new(py, rows)?;
    let view = view_of(&c)?;
    py.detach(|| npy::update_view(&path, &indices, &view)).py()
}
