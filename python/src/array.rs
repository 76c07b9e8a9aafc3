//! numpy arrays over npzmap views, and npzmap headers and bytes from numpy
//! arrays: the one place that touches numpy's C API.

use crate::errors::{IntoPy, usage};
use npzmap::{DType, Header, Order, OwnedView};
use numpy::npyffi::{self, NPY_ARRAY_F_CONTIGUOUS, NpyTypes, PY_ARRAY_API, npy_intp};
use numpy::{PyArrayDescr, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::Mutex;

/// The object at the end of a returned array's `base` chain: it owns the
/// view, whose bytes are shared with the reader through an `Arc` (the memory
/// map, or an inflated copy), so the array stays valid after the reader is
/// closed or collected.
#[pyclass(frozen, module = "npzmap._npzmap", name = "MappedBytes")]
pub struct MappedBytes {
    view: OwnedView,
}

#[pymethods]
impl MappedBytes {
    /// Length of the viewed bytes.
    fn __len__(&self) -> usize {
        self.view.as_bytes().len()
    }

    fn __repr__(&self) -> String {
        let at = self.view.location();
        format!(
            "<npzmap.MappedBytes {} bytes of {}{}>",
            self.view.as_bytes().len(),
            at.path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            at.member
                .as_ref()
                .map(|m| format!(" member {m}"))
                .unwrap_or_default()
        )
    }
}

/// The numpy dtype of an npzmap dtype, built by numpy's own
/// `numpy.lib.format.descr_to_dtype` from the descr literal.
pub fn numpy_dtype<'py>(py: Python<'py>, dtype: &DType) -> PyResult<Bound<'py, PyArrayDescr>> {
    let literal = py
        .import("ast")?
        .call_method1("literal_eval", (dtype.descr(),))?;
    Ok(py
        .import("numpy.lib.format")?
        .call_method1("descr_to_dtype", (literal,))?
        .cast_into::<PyArrayDescr>()?)
}

/// The numpy dtypes made so far, by npzmap dtype: an archive's members
/// share a few dtypes, and building one through numpy (or even the descr
/// text, to look it up) costs more than the rest of a member access.
#[derive(Default)]
pub struct DTypeCache(Mutex<HashMap<DType, Py<PyArrayDescr>>>);

impl DTypeCache {
    /// [`numpy_dtype`] of `dtype`, made once per distinct dtype.
    pub fn get<'py>(&self, py: Python<'py>, dtype: &DType) -> PyResult<Bound<'py, PyArrayDescr>> {
        if let Some(d) = self.lock().get(dtype) {
            return Ok(d.bind(py).clone());
        }
        // Built without the lock held: numpy may run Python code, and so
        // let another thread in that wants the lock.
        let d = numpy_dtype(py, dtype)?;
        self.lock().insert(dtype.clone(), d.clone().unbind());
        Ok(d)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<DType, Py<PyArrayDescr>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The npzmap dtype of a numpy dtype, through numpy's own `dtype_to_descr`
/// (as `np.save` writes it). Object dtypes are refused. Dtypes without
/// fields are immutable, so their translation is remembered by identity (a
/// few per process: one per dtype object written), which spares the Python
/// calls on every write of the same dtype.
pub fn npzmap_dtype<'py>(py: Python<'py>, dt: &Bound<'py, PyArrayDescr>) -> PyResult<DType> {
    static KNOWN: Mutex<Vec<(Py<PyArrayDescr>, DType)>> = Mutex::new(Vec::new());
    static DTYPE_TO_DESCR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    const KNOWN_MAX: usize = 64;
    let immutable = !dt.has_fields();
    if immutable {
        let known = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, d)) = known.iter().find(|(k, _)| k.as_ptr() == dt.as_ptr()) {
            return Ok(d.clone());
        }
    }
    if dt.has_object() {
        return Err(usage(
            "object arrays cannot be written (npzmap never pickles)",
        ));
    }
    let descr = DTYPE_TO_DESCR
        .import(py, "numpy.lib.format", "dtype_to_descr")?
        .call1((dt,))?
        .repr()?
        .to_string();
    let dtype = DType::parse(&descr).py()?;
    if dtype.itemsize() != dt.itemsize() as u64 {
        return Err(usage(format!(
            "dtype {descr} has itemsize {} in numpy but {} in its .npy descr",
            dt.itemsize(),
            dtype.itemsize()
        )));
    }
    if immutable {
        let mut known = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
        if known.len() >= KNOWN_MAX {
            known.clear();
        }
        known.push((dt.clone().unbind(), dtype.clone()));
    }
    Ok(dtype)
}

/// True if `obj` is an ndarray itself (not a subclass, which `np.asarray`
/// would convert): then `np.asarray(obj)` is `obj`.
pub fn is_exact_ndarray(py: Python<'_>, obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: numpy's C API is loaded by `get_type_object` (which imports
    // numpy on first use); the pointers are only compared, not dereferenced.
    let ndarray = unsafe { npyffi::get_type_object(py, NpyTypes::PyArray_Type) };
    obj.get_type().as_type_ptr() == ndarray
}

/// A read-only numpy array over `view`'s bytes, without copying; its base
/// is a [`MappedBytes`] that owns the view.
pub fn view_to_numpy<'py>(
    py: Python<'py>,
    view: OwnedView,
    dtype: &Bound<'py, PyArrayDescr>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut dims = view
        .shape()
        .iter()
        .map(|&d| npy_intp::try_from(d).map_err(|_| usage(format!("dimension {d} too large"))))
        .collect::<PyResult<Vec<npy_intp>>>()?;
    let nd = i32::try_from(dims.len()).map_err(|_| usage("too many dimensions"))?;
    // numpy sizes the array from its own dtype: it must be the header's, or
    // numpy would read past the member's bytes.
    if dtype.itemsize() as u64 != view.dtype().itemsize() {
        return Err(crate::errors::format_error(format!(
            "dtype {} has itemsize {} in numpy but {} in npzmap ({})",
            view.dtype().descr(),
            dtype.itemsize(),
            view.dtype().itemsize(),
            view.location()
        )));
    }
    let flags = if view.order().is_fortran() {
        NPY_ARRAY_F_CONTIGUOUS
    } else {
        0
    };
    let owner = Bound::new(py, MappedBytes { view })?;
    // The bytes live in the view's shared owner (map or heap copy), which
    // `owner` keeps alive; moving the view into `owner` did not move them.
    let data = owner
        .get()
        .view
        .as_bytes()
        .as_ptr()
        .cast_mut()
        .cast::<c_void>();
    // SAFETY: `data` points at `header.data_len()` readable bytes (checked by
    // the reader when it built the view) that stay valid and unchanged while
    // `owner` lives: a read-only shared map of a file npzmap's writers never
    // change in place while it is mapped (see npzmap::fs), or an immutable
    // heap copy. numpy checks that dims x itemsize fits (it computes the
    // strides from `dims` and the descr, which is the view's dtype). The
    // array is created without NPY_ARRAY_WRITEABLE, so numpy never writes
    // through `data`. `PyArray_NewFromDescr` steals a reference to the
    // descr (hence `into_dtype_ptr`, which adds one) and returns a new
    // reference or NULL with an exception set; `PyArray_SetBaseObject`
    // steals the reference to `owner` (also on failure), so the array keeps
    // the owner, and thereby the bytes, alive.
    unsafe {
        let subtype = npyffi::get_type_object(py, NpyTypes::PyArray_Type);
        let arr = PY_ARRAY_API.PyArray_NewFromDescr(
            py,
            subtype,
            dtype.clone().into_dtype_ptr(),
            nd,
            dims.as_mut_ptr(),
            std::ptr::null_mut(),
            data,
            flags,
            std::ptr::null_mut(),
        );
        if arr.is_null() {
            return Err(PyErr::fetch(py));
        }
        let arr = Bound::from_owned_ptr(py, arr);
        if PY_ARRAY_API.PyArray_SetBaseObject(py, arr.as_ptr().cast(), owner.into_ptr()) < 0 {
            return Err(PyErr::fetch(py));
        }
        Ok(arr)
    }
}

/// An array made ready for writing: contiguous in C or Fortran order, its
/// npzmap header, and a handle that keeps its memory alive.
pub struct Contiguous<'py> {
    pub array: Bound<'py, PyUntypedArray>,
    pub header: Header,
}

impl<'py> Contiguous<'py> {
    /// `np.asarray(data)`, made C-contiguous unless it already is C- or
    /// Fortran-contiguous; object dtypes are refused. The order is Fortran
    /// only when the array is Fortran- but not C-contiguous (as `np.save`).
    pub fn new(py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<Contiguous<'py>> {
        static ASARRAY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let a = if is_exact_ndarray(py, data) {
            data.clone()
        } else {
            ASARRAY.import(py, "numpy", "asarray")?.call1((data,))?
        };
        let mut array = a.cast_into::<PyUntypedArray>()?;
        let c = array.is_c_contiguous();
        let f = array.is_fortran_contiguous();
        if !c && !f {
            array = py
                .import("numpy")?
                .call_method1("ascontiguousarray", (&array,))?
                .cast_into::<PyUntypedArray>()?;
        }
        let fortran = !c && f;
        let dtype = npzmap_dtype(py, &array.dtype())?;
        let shape = array.shape().iter().map(|&d| d as u64).collect();
        let header = Header::for_array(dtype, shape, Order::from_fortran(fortran));
        Ok(Contiguous { array, header })
    }

    /// An ndarray already laid out as `dtype` says (the caller checked that
    /// its numpy dtype is equivalent to `dtype`), without asking numpy.
    pub fn with_dtype(array: Bound<'py, PyUntypedArray>, dtype: DType) -> Contiguous<'py> {
        let fortran = !array.is_c_contiguous() && array.is_fortran_contiguous();
        let shape = array.shape().iter().map(|&d| d as u64).collect();
        let header = Header::for_array(dtype, shape, Order::from_fortran(fortran));
        Contiguous { array, header }
    }

    /// The array's bytes in its memory order.
    pub fn bytes(&self) -> PyResult<&[u8]> {
        let len =
            usize::try_from(self.header.data_len().py()?).map_err(|_| usage("array too large"))?;
        if len == 0 {
            return Ok(&[]);
        }
        let raw: *mut npyffi::PyArrayObject = self.array.as_array_ptr();
        // SAFETY: `self.array` is a live ndarray we hold a reference to, so
        // its data pointer stays valid while `self` is borrowed (numpy
        // refuses to resize an array with other references); it is C- or
        // Fortran-contiguous (checked in `new`), so its `len` bytes
        // (`nbytes`: the header was built from its shape and dtype) are one
        // run starting at `data`. The slice is read-only.
        unsafe {
            let data = (*raw).fields.data.cast::<u8>().cast_const();
            Ok(std::slice::from_raw_parts(data, len))
        }
    }
}
