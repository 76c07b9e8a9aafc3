//! The `npzmap` Python package's native module (`npzmap._npzmap`): thin
//! bindings of the npzmap library. Every call that touches the disk releases
//! the GIL. The Python-facing documentation is in `npzmap/__init__.pyi`.

mod array;
mod errors;
mod reader;
mod writer;

use pyo3::prelude::*;

#[pymodule]
fn _npzmap(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<array::MappedBytes>()?;
    m.add_class::<reader::NpzFile>()?;
    m.add_function(wrap_pyfunction!(reader::load, m)?)?;
    m.add_class::<writer::NpzWriter>()?;
    m.add_class::<writer::Stream>()?;
    Ok(())
}
