//! `npzmap.NpzWriter` (mmnpz's calling convention) and its streamed entries.

use crate::array::{Contiguous, npzmap_dtype};
use crate::errors::{IntoPy, to_py, usage};
use npzmap::npz::{NpzWriter as RsWriter, WriterOptions};
use npzmap::{DType, Error, Location, Order};
use numpy::PyArrayDescr;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

enum State {
    Open(Box<RsWriter>),
    /// The writer is lent to a [`Stream`]'s thread.
    Streaming,
    Closed,
}

/// Writes a `.npz` archive member by member, straight to disk.
#[pyclass(frozen, module = "npzmap", name = "NpzWriter")]
pub struct NpzWriter {
    state: Mutex<State>,
    path: PathBuf,
}

impl NpzWriter {
    fn with<T>(&self, f: impl FnOnce(&mut RsWriter) -> npzmap::Result<T>) -> npzmap::Result<T> {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match &mut *g {
            State::Open(w) => f(w),
            State::Streaming => Err(Error::invalid_argument(
                "a stream of this writer is open: finish it first",
            )
            .at_path(&self.path)),
            State::Closed => Err(Error::Closed {
                at: Location::path(&self.path),
            }),
        }
    }

    fn take(&self) -> npzmap::Result<RsWriter> {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match std::mem::replace(&mut *g, State::Streaming) {
            State::Open(w) => Ok(*w),
            other => {
                *g = other;
                drop(g);
                self.with(|_| Ok(())).and(Err(Error::Closed {
                    at: Location::path(&self.path),
                }))
            }
        }
    }

    fn give_back(&self, w: RsWriter) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = State::Open(Box::new(w));
    }
}

#[pymethods]
impl NpzWriter {
    #[new]
    #[pyo3(signature = (path, mode = "w", *, align = 64, fsync = true))]
    fn new(py: Python<'_>, path: PathBuf, mode: &str, align: u64, fsync: bool) -> PyResult<Self> {
        let opts = WriterOptions::default().align(align).fsync(fsync);
        if let Some(url) = path.to_str().filter(|s| npzmap::remote::is_url(s)) {
            // A multipart upload: the object appears at close, atomically.
            let w = py
                .detach(|| match mode {
                    "w" => opts.replace(true).create_url(url),
                    "x" => opts.create_url(url),
                    "a" => Err(Error::invalid_argument(format!(
                        "{url}: mode \"a\" is not supported for object storage (objects cannot be \
                         extended in place): download the archive, append, upload it"
                    ))),
                    _ => Err(Error::invalid_argument(format!(
                        "mode must be \"w\", \"a\" or \"x\", not {mode:?}"
                    ))),
                })
                .py()?;
            return Ok(NpzWriter {
                state: Mutex::new(State::Open(Box::new(w))),
                path,
            });
        }
        let w = py
            .detach(|| match mode {
                "w" => opts.replace(true).create(&path),
                "x" => opts.create(&path),
                "a" => {
                    if path.exists() {
                        opts.append(&path)
                    } else {
                        opts.create(&path)
                    }
                }
                _ => Err(Error::invalid_argument(format!(
                    "mode must be \"w\", \"a\" or \"x\", not {mode:?}"
                ))),
            })
            .py()?;
        Ok(NpzWriter {
            state: Mutex::new(State::Open(Box::new(w))),
            path,
        })
    }

    /// The archive's path.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Number of members (old ones included when appending).
    fn __len__(&self) -> PyResult<usize> {
        self.with(|w| Ok(w.len() as usize)).py()
    }

    fn __contains__(&self, key: &str) -> PyResult<bool> {
        self.with(|w| Ok(w.contains(key))).py()
    }

    /// Writes `data` (anything `np.asarray` accepts) as member `name + ".npy"`.
    fn write(&self, py: Python<'_>, name: &str, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let c = Contiguous::new(py, data)?;
        let bytes = c.bytes()?;
        let header = &c.header;
        py.detach(|| self.with(|w| w.write_bytes(name, header, bytes)))
            .py()
    }

    /// A member whose length along the growth axis is not known in advance.
    #[pyo3(signature = (name, dtype, shape, order = "C"))]
    fn stream(
        slf: &Bound<'_, Self>,
        name: &str,
        dtype: &Bound<'_, PyAny>,
        shape: Vec<u64>,
        order: &str,
    ) -> PyResult<Stream> {
        let py = slf.py();
        let order = match order {
            "C" => Order::C,
            "F" => Order::Fortran,
            _ => {
                return Err(usage(format!(
                    "order must be \"C\" or \"F\", not {order:?}"
                )));
            }
        };
        let dt = py
            .import("numpy")?
            .call_method1("dtype", (dtype,))?
            .cast_into::<PyArrayDescr>()?;
        let rs_dtype = npzmap_dtype(py, &dt)?;
        let me = slf.get();
        let w = me.take().py()?;
        let (name_, tail) = (name.to_string(), shape.clone());
        let (tx, rx) = sync_channel::<(Msg, SyncSender<npzmap::Result<u64>>)>(0);
        let (ready_tx, ready_rx) = sync_channel(1);
        let handle = std::thread::Builder::new()
            .name("npzmap-stream".into())
            .spawn(move || run_stream(w, name_, rs_dtype, tail, order, ready_tx, rx));
        let handle = match handle {
            Ok(h) => h,
            Err(e) => {
                return Err(to_py(Error::io(
                    "spawn a stream thread",
                    e,
                    Location::path(&me.path),
                )));
            }
        };
        let begun: npzmap::Result<u64> = py.detach(move || {
            ready_rx
                .recv()
                .unwrap_or_else(|_| Err(Error::invalid_argument("stream thread failed")))
        });
        if let Err(e) = begun {
            if let Ok(w) = handle.join() {
                me.give_back(w);
            }
            return Err(to_py(e));
        }
        Ok(Stream {
            inner: Mutex::new(Some((tx, handle))),
            writer: slf.clone().unbind(),
            dtype: dt.unbind(),
            tail: shape,
            order,
            name: name.to_string(),
            rows: Mutex::new(0),
        })
    }

    /// Writes the central directory, flushes and (unless `fsync=False`)
    /// fsyncs. A replaced archive (mode "w" over an existing file) is renamed
    /// over the old one only here.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let old = {
            let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
            match std::mem::replace(&mut *g, State::Closed) {
                State::Open(w) => Some(*w),
                State::Streaming => {
                    *g = State::Streaming;
                    return Err(usage("a stream of this writer is open: finish it first"));
                }
                State::Closed => None,
            }
        };
        match old {
            Some(w) => py.detach(|| w.close()).py(),
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

enum Msg {
    Rows(Vec<u8>),
    Finish,
    Abort,
}

type Reply = SyncSender<npzmap::Result<u64>>;

/// The stream thread's inbox and handle (which returns the writer).
type Channel = (SyncSender<(Msg, Reply)>, JoinHandle<RsWriter>);

/// The stream thread: owns the writer while the entry is open (the entry
/// borrows it), takes rows from the channel, and hands the writer back.
fn run_stream(
    mut w: RsWriter,
    name: String,
    dtype: DType,
    tail: Vec<u64>,
    order: Order,
    ready: SyncSender<npzmap::Result<u64>>,
    rx: Receiver<(Msg, Reply)>,
) -> RsWriter {
    serve(&mut w, &name, dtype, &tail, order, ready, rx);
    w
}

fn serve(
    w: &mut RsWriter,
    name: &str,
    dtype: DType,
    tail: &[u64],
    order: Order,
    ready: SyncSender<npzmap::Result<u64>>,
    rx: Receiver<(Msg, Reply)>,
) {
    let mut entry = match w.begin(name, dtype, tail, order) {
        Ok(e) => Some(e),
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(0));
    for (msg, reply) in rx.iter() {
        let closed = || Error::Closed {
            at: Location::none(),
        };
        let (r, done) = match msg {
            Msg::Rows(bytes) => (
                match entry.as_mut() {
                    Some(e) => e.append_bytes(&bytes).map(|_| e.rows()),
                    None => Err(closed()),
                },
                false,
            ),
            Msg::Finish => (
                entry.take().map_or_else(|| Err(closed()), |e| e.finish()),
                true,
            ),
            Msg::Abort => {
                drop(entry.take());
                (Ok(0), true)
            }
        };
        let _ = reply.send(r);
        if done {
            break;
        }
    }
    // An unfinished entry is removed when dropped; the writer stays usable.
    drop(entry);
}

/// A member being streamed (`NpzWriter.stream`): `append(rows)`, then
/// `finish()` or leave the `with` block.
#[pyclass(module = "npzmap", name = "Stream")]
pub struct Stream {
    inner: Mutex<Option<Channel>>,
    writer: Py<NpzWriter>,
    dtype: Py<PyArrayDescr>,
    tail: Vec<u64>,
    order: Order,
    name: String,
    rows: Mutex<u64>,
}

impl Stream {
    fn send(&self, py: Python<'_>, msg: Msg) -> PyResult<u64> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Some((tx, _)) = g.as_ref() else {
            return Err(to_py(Error::Closed {
                at: Location::path(&self.writer.get().path),
            }));
        };
        let tx = tx.clone();
        drop(g);
        py.detach(|| {
            let (rtx, rrx) = sync_channel(1);
            tx.send((msg, rtx))
                .map_err(|_| Error::invalid_argument("stream thread gone"))?;
            rrx.recv()
                .unwrap_or_else(|_| Err(Error::invalid_argument("stream thread gone")))
        })
        .py()
    }

    /// Sends the last message and gives the writer back to its NpzWriter.
    fn end(&self, py: Python<'_>, msg: Msg) -> PyResult<u64> {
        let r = self.send(py, msg);
        let taken = self.inner.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((tx, handle)) = taken {
            drop(tx);
            if let Ok(w) = py.detach(|| handle.join()) {
                self.writer.get().give_back(w);
            }
        }
        r
    }
}

#[pymethods]
impl Stream {
    /// The member's key.
    #[getter]
    fn name(&self) -> String {
        self.name.clone()
    }

    /// Rows appended so far.
    #[getter]
    fn rows(&self) -> u64 {
        *self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends rows: an array (anything `np.asarray` accepts, cast to the
    /// stream's dtype) of shape `(n, *shape)` (order "C") or `(*shape, n)`
    /// (order "F"), or a single row of shape `shape`.
    fn append(&self, py: Python<'_>, rows: &Bound<'_, PyAny>) -> PyResult<u64> {
        let np = py.import("numpy")?;
        let a = np.call_method1("asarray", (rows, self.dtype.bind(py)))?;
        let shape: Vec<u64> = a.getattr("shape")?.extract()?;
        let fortran = self.order == Order::Fortran;
        let a = if shape == self.tail {
            let mut s = self.tail.clone();
            if fortran {
                s.push(1);
            } else {
                s.insert(0, 1);
            }
            a.call_method1("reshape", (PyTuple::new(py, s)?,))?
        } else {
            let tail_of = if fortran {
                shape.split_last().map(|(_, t)| t)
            } else {
                shape.split_first().map(|(_, t)| t)
            };
            if tail_of != Some(&self.tail[..]) {
                return Err(usage(format!(
                    "rows of shape {shape:?} do not fit stream {:?} of row shape {:?} (order {})",
                    self.name,
                    self.tail,
                    if fortran { "F" } else { "C" }
                )));
            }
            a
        };
        let a = np.call_method1(
            if fortran {
                "asfortranarray"
            } else {
                "ascontiguousarray"
            },
            (a,),
        )?;
        let bytes: Vec<u8> = a.call_method1("tobytes", ("A",))?.extract()?;
        let n = self.send(py, Msg::Rows(bytes))?;
        *self.rows.lock().unwrap_or_else(|p| p.into_inner()) = n;
        Ok(n)
    }

    /// Completes the member (its header gets the final shape). Returns the
    /// number of rows.
    fn finish(&self, py: Python<'_>) -> PyResult<u64> {
        self.end(py, Msg::Finish)
    }

    /// Removes the partial member; the writer stays usable.
    fn abort(&self, py: Python<'_>) -> PyResult<()> {
        self.end(py, Msg::Abort).map(|_| ())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        ty: Option<Bound<'_, PyAny>>,
        _value: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let open = self
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        if open {
            if ty.is_some() {
                self.abort(py)?;
            } else {
                self.finish(py)?;
            }
        }
        Ok(false)
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // Not finished: the thread drops the entry (removing the partial
        // member) when the channel closes; give the writer back.
        let taken = self
            .inner
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some((tx, handle)) = taken {
            drop(tx);
            if let Ok(w) = handle.join() {
                self.writer.get().give_back(w);
            }
        }
    }
}
