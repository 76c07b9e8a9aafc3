//! The `npzmap` Python package's native module (`npzmap._npzmap`): thin
//! bindings of the npzmap library. Every call that touches the disk releases
//! the GIL. The Python-facing documentation is in `npzmap/__init__.pyi`.

mod array;
mod errors;
mod npy;
mod reader;
mod writer;

use pyo3::prelude::*;

#[pymodule]
fn _npzmap(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<array::MappedBytes>()?;
    m.add_class::<reader::NpzFile>()?;
    m.add_class::<reader::NpzFileIterator>()?;
    m.add_function(wrap_pyfunction!(reader::load, m)?)?;
    m.add_class::<writer::NpzWriter>()?;
    m.add_class::<writer::Stream>()?;
    m.add_class::<npy::NpyAppendArray>()?;
    m.add_function(wrap_pyfunction!(npy::recover, m)?)?;
    m.add_function(wrap_pyfunction!(npy::needs_recovery, m)?)?;
    m.add_function(wrap_pyfunction!(npy::ensure_appendable, m)?)?;
    m.add_function(wrap_pyfunction!(npy::recover_npz, m)?)?;
    m.add_function(wrap_pyfunction!(npy::_overwrite, m)?)?;
    m.add_function(wrap_pyfunction!(npy::_update, m)?)?;
    Ok(())
}
