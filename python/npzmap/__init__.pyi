"""npzmap: memory-mapped, zero-copy reading and crash-safe streaming writing
of NumPy ``.npz`` and ``.npy`` files."""

import os
import pathlib
from collections.abc import Iterator, KeysView, ItemsView, ValuesView, Mapping
from types import TracebackType
from typing import Any, Dict, List, Literal, Optional, Sequence, Union, overload

import numpy as np
import numpy.typing as npt

PathLike = Union[str, os.PathLike[str]]

# --------------------------------------------------------------- errors

class Error(Exception):
    """Base class of every npzmap error. ``path``, ``member`` and ``offset``
    say where in the input the problem is (``None`` when unknown)."""

    path: Optional[str]
    member: Optional[str]
    offset: Optional[int]

class FormatError(Error, ValueError):
    """The stored data is damaged or not what it claims to be."""

class ObjectArrayError(FormatError):
    """A pickled object array: npzmap never unpickles."""

class KeyNotFoundError(Error, KeyError):
    """No member with this key."""

class FileError(Error, OSError):
    """The file cannot be opened, read, written or replaced."""

class MissingFileError(FileError, FileNotFoundError): ...
class ExistingFileError(FileError, FileExistsError): ...
class FilePermissionError(FileError, PermissionError): ...

class LockedError(FileError):
    """Another npzmap writer or in-place operation holds the file."""

class UsageError(Error, ValueError):
    """A call's arguments do not fit (dtype, shape, name, ...)."""

class IndexOutOfRangeError(UsageError, IndexError): ...

class ClosedError(Error, ValueError):
    """The object was closed."""

# -------------------------------------------------------------- reading

class MappedBytes:
    """The ``base`` of every array npzmap returns over a file: it owns (a
    share of) the memory map, or the array's copy, so the array outlives the
    mapping object. The arrays that view one file's map share one base."""

    def __len__(self) -> int:
        """Bytes owned: the file's length for the shared map, the array's
        for a copy."""

class NpzFile(Mapping[str, Any]):
    """A ``.npz`` archive opened by :func:`load`: a drop-in for what
    ``np.load`` returns for archives. Values are read-only arrays viewing the
    mapped file (no copy), whatever their alignment or byte order; deflated
    members and non-``.npy`` members are read into memory (the latter as
    ``bytes``, as ``np.load`` does)."""

    @property
    def files(self) -> list[str]:
        """Every member's key in archive order, a duplicate name as often as
        it occurs (as ``np.load``'s ``files``; ``z[key]`` is the member
        ``np.load`` returns for it)."""
    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays made so far, by key (mmnpz's ``arrays``)."""
    @property
    def path(self) -> pathlib.Path: ...
    @property
    def closed(self) -> bool: ...
    def keys(self) -> KeysView[str]: ...
    def values(self) -> ValuesView[Any]: ...
    def items(self) -> ItemsView[str, Any]: ...
    def get(self, key: str, default: Any = None) -> Any: ...
    def __getitem__(self, key: str) -> Any:
        """The array ``key`` (a key or a member name such as ``"a.npy"``).
        Raises :class:`KeyNotFoundError` (a ``KeyError``) for a missing key,
        :class:`FormatError` for damaged data, :class:`ClosedError` after
        :meth:`close`."""
    def __contains__(self, key: object) -> bool: ...
    def __iter__(self) -> Iterator[str]: ...
    def __len__(self) -> int: ...
    def get_many(self, keys: Sequence[str]) -> List[Any]:
        """The arrays of ``keys``, in order. For an archive in object
        storage, the members not fetched yet come in few coalesced range
        requests run concurrently; for a local file, the same as
        ``[self[k] for k in keys]``."""
    def requests(self) -> Optional[Dict[str, int]]:
        """Object-store requests made for this archive so far
        (``gets``, ``bytes_read``, ``puts``, ``bytes_written``), or ``None``
        for a local file."""
    def verify(self) -> None:
        """Checks every member's structure and CRC-32 (reads the whole
        archive, in parallel, without the GIL); raises the first error."""
    def close(self) -> None:
        """Closes the archive; arrays already returned stay valid."""
    def __enter__(self) -> "NpzFile": ...
    def __exit__(
        self,
        ty: Optional[type[BaseException]],
        value: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...

def load(
    path: PathLike, *, cache: bool = True, preload: bool = False, mmap: bool = True
) -> Any:
    """Opens a ``.npz`` (returns an :class:`NpzFile`) or a ``.npy`` (returns
    a read-only array over the memory map, like ``np.load(mmap_mode="r")``),
    deciding by the file's first bytes as ``np.load`` does.

    ``cache``: keep each array made in :attr:`NpzFile.arrays` and return the
    same object on the next access (mmnpz's ``cache``). ``preload``: parse
    every member's headers at open, in parallel (mmnpz's ``preload``).
    ``mmap=False``: return ordinary, writeable in-memory copies instead of
    views. Pickled object arrays raise :class:`ObjectArrayError`.

    ``path`` may be the URL of an archive in object storage (``s3://``,
    ``gs://``, ``az://``, ``http(s)://``; credentials and endpoint from the
    usual environment variables such as ``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``, ``AWS_ENDPOINT``): opening
    reads the tail (one request, two for a large directory), each member is
    fetched by one range request on first access (see
    :meth:`NpzFile.get_many` for batches), and the arrays are read-only
    views of the fetched bytes."""

# -------------------------------------------------------------- writing

class NpzWriter:
    """Writes a ``.npz`` archive member by member, straight to disk
    (mmnpz's ``NpzWriter(path, mode)``).

    ``mode``: ``"w"`` creates or replaces (a replaced archive is renamed over
    the old one at :meth:`close`; until then the old file is intact),
    ``"x"`` creates and fails with :class:`ExistingFileError` if the file
    exists, ``"a"`` appends to an existing archive (written by numpy, mmnpz,
    zip tools or npzmap: every old entry is kept) or creates it. ``align``:
    member data starts at a multiple of this many bytes (64 by default), so
    readers can view it in place. ``fsync``: make the archive durable at
    :meth:`close`.

    ``path`` may be an ``s3://`` (``gs://``, ``az://``) URL: the archive is
    streamed to the bucket by a multipart upload and the object appears only
    when :meth:`close` succeeds (an error or a writer dropped unclosed aborts
    the upload and leaves any old object untouched). Modes ``"w"`` and
    ``"x"`` only: an object cannot be appended to."""

    def __init__(
        self,
        path: PathLike,
        mode: Literal["w", "a", "x"] = "w",
        *,
        align: int = 64,
        fsync: bool = True,
    ) -> None: ...
    @property
    def path(self) -> pathlib.Path: ...
    def __len__(self) -> int: ...
    def __contains__(self, key: str) -> bool: ...
    def write(self, name: str, data: npt.ArrayLike) -> None:
        """Writes ``np.asarray(data)`` as member ``name + ".npy"``. C- or
        Fortran-contiguous arrays are written as they are, others are made
        C-contiguous. Object arrays are refused (:class:`UsageError`)."""
    def stream(
        self,
        name: str,
        dtype: npt.DTypeLike,
        shape: Sequence[int],
        order: Literal["C", "F"] = "C",
    ) -> "Stream":
        """Starts member ``name`` whose length along the growth axis (the
        first axis for order "C", the last for "F") is not known in advance;
        ``shape`` is the shape of one row. Use as a context manager: leaving
        the block finishes the member (or removes it on an exception)."""
    def close(self) -> None: ...
    def __enter__(self) -> "NpzWriter": ...
    def __exit__(self, ty: Any, value: Any, tb: Any) -> bool: ...

class Stream:
    """A member being streamed; see :meth:`NpzWriter.stream`."""

    @property
    def name(self) -> str: ...
    @property
    def rows(self) -> int:
        """Rows appended so far."""
    def append(self, rows: npt.ArrayLike) -> int:
        """Appends rows (cast to the stream's dtype): shape ``(n, *shape)``
        for order "C", ``(*shape, n)`` for order "F", or one row of shape
        ``shape``. Rows go to disk without the GIL. Returns the row count.
        A failed append removes the partial member."""
    def finish(self) -> int:
        """Completes the member; returns its row count."""
    def abort(self) -> None:
        """Removes the partial member; the writer stays usable."""
    def __enter__(self) -> "Stream": ...
    def __exit__(self, ty: Any, value: Any, tb: Any) -> bool: ...

def savez(file: PathLike, *args: npt.ArrayLike, **kwds: npt.ArrayLike) -> None:
    """As ``numpy.savez`` (same names, ``arr_0``... for positional arrays,
    ``.npz`` appended to a path without it), with aligned members and an
    atomic replacement of an existing file."""

# ------------------------------------------------------------ .npy files

class NpyAppendArray:
    """Appends arrays to a ``.npy`` file along its growth axis (the first
    axis for C order, the last for Fortran order): a drop-in for
    npy-append-array's class, thread-safe, locked against other npzmap
    writers, rolled back on a failed append, with the header rewritten after
    every append (``rewrite_header_on_append=True``) or at :meth:`close`.

    An existing file is opened at construction (``delete_if_exists=True``
    removes it instead). The first append to a new file fixes the dtype,
    the order (Fortran when the array is Fortran- but not C-contiguous) and
    the row shape; later arrays are cast to the file's dtype.

    By default every append is handed to the operating system before it
    returns: a process killed after ``append`` keeps that row (``recover``
    restores the header). ``buffer_bytes=N`` (keyword only, with
    ``rewrite_header_on_append=False``) collects appends in a buffer of N
    bytes and writes it in one call when it fills, on :meth:`flush`,
    :meth:`update_header` and :meth:`close`: several times faster for small
    rows, but a killed process loses the rows still in the buffer.

    :meth:`close` makes the rows and the header durable (fsync) before it
    returns; ``fsync=False`` (keyword only) writes them without waiting for
    the disk, as npy-append-array does."""

    def __init__(
        self,
        filename: PathLike,
        delete_if_exists: bool = False,
        rewrite_header_on_append: bool = True,
        *,
        buffer_bytes: int = 0,
        fsync: bool = True,
    ) -> None: ...
    @property
    def filename(self) -> pathlib.Path: ...
    @property
    def shape(self) -> Optional[tuple[int, ...]]: ...
    @property
    def fortran_order(self) -> Optional[bool]: ...
    def append(self, arr: npt.ArrayLike) -> None: ...
    def flush(self) -> None:
        """Writes the buffered rows and the header now."""
    def update_header(self) -> None:
        """Writes the buffered rows (if any) and the header now."""
    def close(self) -> None:
        """Writes the final header and closes the file (fsyncing rows and
        header first unless ``fsync=False``)."""
    def __enter__(self) -> "NpyAppendArray": ...
    def __exit__(self, ty: Any, value: Any, tb: Any) -> bool: ...

def recover(filename: PathLike, zerofill_incomplete: bool = False) -> dict[str, Any]:
    """Makes a ``.npy`` file whose data length disagrees with its header
    readable again (npy-append-array's ``recover``): the growth axis is set
    from the file size; an incomplete last row is cut off, or completed with
    zeros when ``zerofill_incomplete``. Returns a report (``rows_before``,
    ``rows_after``, ``bytes_dropped``, ``bytes_zero_filled``, ``changed``)."""

def needs_recovery(filename: PathLike) -> bool:
    """True if the file's data length disagrees with its header."""

def ensure_appendable(filename: PathLike, inplace: bool = False) -> bool:
    """Gives a legacy header numpy's spare room for the growth axis, moving
    the data in place (``inplace=True``) or through an atomically renamed
    copy. Returns True (as npy-append-array does)."""

def recover_npz(src: PathLike, dst: PathLike) -> dict[str, Any]:
    """Writes the intact members of a damaged or unfinished archive ``src``
    to ``dst`` (replaced only on success). Returns ``kept`` (member names),
    ``dropped`` (``(name, offset, reason)``), ``bytes_kept``, ``output_len``."""

def save_npy(
    path: PathLike,
    data: npt.ArrayLike,
    approach: Literal["append", "overwrite", "update"] = "append",
    indices: Optional[Sequence[int]] = None,
) -> None:
    """Saves ``data`` by one of the saver approaches: ``"append"`` along the
    growth axis (creating the file if missing), ``"overwrite"`` (atomic
    replacement), ``"update"`` (in place, row ``i`` of ``data`` to index
    ``indices[i]`` along the growth axis)."""
