//! numpy arrays over npzmap views, and npzmap headers and bytes from numpy
//! arrays: the one place that touches numpy's C API.

use crate::errors::{IntoPy, usage};
use npzmap::npz::NpzReader;
use npzmap::{DType, Header, Order, OwnedView};
use numpy::npyffi::{self, NPY_ARRAY_F_CONTIGUOUS, NpyTypes, PY_ARRAY_API, npy_intp};
use numpy::{PyArrayDescr, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::{Arc, Mutex};

/// The object at the end of a returned array's `base` chain: it owns the
/// bytes the array views, so the array stays valid after the reader is
/// closed or collected.
#[pyclass(frozen, module = "npzmap._npzmap", name = "MappedBytes")]
pub struct MappedBytes {
    owner: Owner,
}

/// What keeps an array's bytes alive.
enum Owner {
    /// A view whose bytes are shared through an `Arc` (the memory map, or
    /// an inflated, byte-swapped or fetched copy).
    View(OwnedView),
    /// The stored members of a mapped archive: the reader, whose map (of
    /// `len` bytes) holds them; they never move or change while it lives.
    Reader { reader: Arc<NpzReader>, len: usize },
}

impl MappedBytes {
    /// The base shared by the arrays that view `reader`'s map (of the file
    /// at `path`): its length is the file's when it was mapped.
    pub fn of_reader<'py>(
        py: Python<'py>,
        reader: Arc<NpzReader>,
        path: &std::path::Path,
    ) -> PyResult<Bound<'py, MappedBytes>> {
        let len = std::fs::metadata(path).map_or(0, |m| m.len() as usize);
        Bound::new(
            py,
            MappedBytes {
                owner: Owner::Reader { reader, len },
            },
        )
    }
}

#[pymethods]
impl MappedBytes {
    /// Length of the bytes owned: the array's for a copy, the whole
    /// file's for the map shared by a file's arrays.
    fn __len__(&self) -> usize {
        match &self.owner {
            Owner::View(v) => v.as_bytes().len(),
            Owner::Reader { len, .. } => *len,
        }
    }

    fn __repr__(&self) -> String {
        let (path, member) = match &self.owner {
            Owner::View(v) => (v.location().path.clone(), v.location().member.clone()),
            Owner::Reader { reader, .. } => (Some(reader.path().to_path_buf()), None),
        };
        format!(
            "<npzmap.MappedBytes {} bytes of {}{}>",
            self.__len__(),
            path.map(|p| p.display().to_string()).unwrap_or_default(),
            member.map(|m| format!(" member {m}")).unwrap_or_default()
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
pub struct DTypeCache(Mutex<DTypes>);

/// The dtypes made so far, and the last one asked for (most archives hold
/// one dtype, or a few: a comparison spares hashing the dtype).
#[derive(Default)]
struct DTypes {
    last: Option<(DType, Py<PyArrayDescr>)>,
    all: HashMap<DType, Py<PyArrayDescr>>,
}

impl DTypeCache {
    /// [`numpy_dtype`] of `dtype`, made once per distinct dtype.
    pub fn get<'py>(&self, py: Python<'py>, dtype: &DType) -> PyResult<Bound<'py, PyArrayDescr>> {
        {
            let mut g = self.lock();
            if let Some((d, np)) = &g.last
                && d == dtype
            {
                return Ok(np.bind(py).clone());
            }
            if let Some(np) = g.all.get(dtype) {
                let np = np.clone_ref(py);
                g.last = Some((dtype.clone(), np.clone_ref(py)));
                return Ok(np.into_bound(py));
            }
        }
        // Built without the lock held: numpy may run Python code, and so
        // let another thread in that wants the lock.
        let d = numpy_dtype(py, dtype)?;
        let mut g = self.lock();
        g.all.insert(dtype.clone(), d.clone().unbind());
        g.last = Some((dtype.clone(), d.clone().unbind()));
        Ok(d)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DTypes> {
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
    let layout = Layout::of(&view, dtype)?;
    let owner = Bound::new(
        py,
        MappedBytes {
            owner: Owner::View(view),
        },
    )?;
    // The bytes live in the view's shared owner (map or heap copy), which
    // `owner` keeps alive; moving the view into `owner` did not move them.
    let data = match &owner.get().owner {
        Owner::View(v) => v.as_bytes().as_ptr(),
        Owner::Reader { .. } => std::ptr::null(),
    };
    // SAFETY: `data` is the view's bytes, owned by `owner` (see `Layout::array`).
    unsafe { layout.array(py, dtype, data, owner) }
}

/// A read-only numpy array over `view`, a view of a stored member that
/// borrows the memory map (or the bytes) of the reader `base` owns; `base`
/// (one object shared by all such arrays of a file) becomes its base. No
/// header, location or view is copied: the fast path of `NpzFile`.
///
/// The caller guarantees that `view`'s bytes belong to that reader's map
/// (a stored member of a mapped or in-memory archive), not to a copy in the
/// reader's bounded cache, which could be evicted.
pub fn mapped_to_numpy<'py>(
    py: Python<'py>,
    reader: &Arc<NpzReader>,
    view: &npzmap::ArrayView<'_>,
    dtype: &Bound<'py, PyArrayDescr>,
    base: Bound<'py, MappedBytes>,
) -> PyResult<Bound<'py, PyAny>> {
    match &base.get().owner {
        Owner::Reader { reader: r, .. } if Arc::ptr_eq(r, reader) => {}
        _ => return Err(usage("internal: the array's base does not own its reader")),
    }
    let layout = Layout::of(view, dtype)?;
    // SAFETY: `view`'s bytes lie in `reader`'s map (the caller's
    // guarantee), which lives as long as `base` holds `reader` (checked
    // just above; see `Layout::array`).
    unsafe { layout.array(py, dtype, view.as_bytes().as_ptr(), base) }
}

/// Shape and order of a numpy array to make over an npzmap view.
struct Layout {
    dims: Vec<npy_intp>,
    nd: i32,
    flags: i32,
}

impl Layout {
    fn of(view: &npzmap::ArrayView<'_>, dtype: &Bound<'_, PyArrayDescr>) -> PyResult<Layout> {
        let dims = view
            .shape()
            .iter()
            .map(|&d| npy_intp::try_from(d).map_err(|_| usage(format!("dimension {d} too large"))))
            .collect::<PyResult<Vec<npy_intp>>>()?;
        let nd = i32::try_from(dims.len()).map_err(|_| usage("too many dimensions"))?;
        // numpy sizes the array from its own dtype: it must be the header's,
        // or numpy would read past the member's bytes.
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
        Ok(Layout { dims, nd, flags })
    }

    /// The read-only array over `data`, with `owner` as its base.
    ///
    /// # Safety
    ///
    /// `data` must point at the view's `header.data_len()` readable bytes
    /// (checked by the reader when it built the view), valid and unchanged
    /// while `owner` lives.
    unsafe fn array<'py>(
        mut self,
        py: Python<'py>,
        dtype: &Bound<'py, PyArrayDescr>,
        data: *const u8,
        owner: Bound<'py, MappedBytes>,
    ) -> PyResult<Bound<'py, PyAny>> {
        // SAFETY: the bytes are a read-only shared map of a file npzmap's
        // writers never change in place while it is mapped (see
        // npzmap::fs), or an immutable heap copy, kept alive by `owner` (the
        // caller's guarantee). numpy checks that dims x itemsize fits (it
        // computes the strides from `dims` and the descr, whose itemsize
        // `Layout::of` checked against the view's dtype). The array is
        // created without NPY_ARRAY_WRITEABLE, so numpy never writes through
        // `data`. `PyArray_NewFromDescr` steals a reference to the descr
        // (hence `into_dtype_ptr`, which adds one) and returns a new
        // reference or NULL with an exception set; `PyArray_SetBaseObject`
        // steals the reference to `owner` (also on failure), so the array
        // keeps the owner, and thereby the bytes, alive.
        unsafe {
            // `owner` holds no Python object, so it can never be part of a
            // reference cycle: taking it out of the cyclic GC's lists spares
            // every collection a visit to each array's base (one per member
            // read). Untracking an object that cannot form cycles is allowed
            // at any time, and dealloc's own untrack of an untracked object
            // is a no-op.
            pyo3::ffi::PyObject_GC_UnTrack(owner.as_ptr().cast());
            let subtype = npyffi::get_type_object(py, NpyTypes::PyArray_Type);
            let arr = PY_ARRAY_API.PyArray_NewFromDescr(
                py,
                subtype,
                dtype.clone().into_dtype_ptr(),
                self.nd,
                self.dims.as_mut_ptr(),
                std::ptr::null_mut(),
                data.cast_mut().cast::<c_void>(),
                self.flags,
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
