"""npzmap: memory-mapped, zero-copy reading and crash-safe streaming writing
of NumPy ``.npz`` and ``.npy`` files, backed by the npzmap Rust library.

See ``__init__.pyi`` for the documented API.
"""

import collections.abc as _abc
import os as _os

from ._errors import *  # noqa: F401,F403
from ._errors import __all__ as _error_names
from ._npzmap import (
    MappedBytes,
    NpyAppendArray,
    NpzFile,
    NpzWriter,
    Stream,
    ensure_appendable,
    load,
    needs_recovery,
    recover,
    recover_npz,
)
from ._npzmap import _overwrite, _update

_abc.Mapping.register(NpzFile)


class _ValuesView(_abc.ValuesView):
    """``NpzFile.values()``: iterates the arrays in batches (one release
    of the GIL per batch), the same arrays as ``z[key]`` gives."""

    __slots__ = ()

    def __iter__(self):
        return self._mapping._iter_values()


class _ItemsView(_abc.ItemsView):
    """``NpzFile.items()``: ``(key, z[key])`` pairs, read in batches."""

    __slots__ = ()

    def __iter__(self):
        return self._mapping._iter_items()


def savez(file, *args, **kwds):
    """As ``numpy.savez``: positional arrays are named ``arr_0``,
    ``arr_1``, ...; ``.npz`` is appended to a path without it. Members are
    aligned (64 bytes), and the archive replaces ``file`` atomically."""
    path = _os.fspath(file)
    suffix = b".npz" if isinstance(path, bytes) else ".npz"
    if not path.endswith(suffix):
        path = path + suffix
    named = dict(kwds)
    for i, value in enumerate(args):
        key = "arr_%d" % i
        if key in named:
            raise UsageError("Cannot use un-named variables and keyword %s" % key)  # noqa: F405
        named[key] = value
    with NpzWriter(path, "w") as w:
        for key, value in named.items():
            w.write(key, value)


def _npy_header(path):
    import numpy.lib.format as fmt

    with open(path, "rb") as f:
        version = fmt.read_magic(f)
        if version == (1, 0):
            return fmt.read_array_header_1_0(f)
        return fmt.read_array_header_2_0(f)


def save_npy(path, data, approach="append", indices=None):
    """Saves ``data`` to the ``.npy`` file ``path`` by one of the saver
    approaches: ``"append"`` along the growth axis (the file is created if
    missing; ``data`` is cast to its dtype), ``"overwrite"`` (atomic
    replacement: a crash leaves the old file or the new one), ``"update"``
    (in place: row ``i`` of ``data`` goes to index ``indices[i]`` along the
    growth axis)."""
    import numpy as np

    if approach == "append":
        with NpyAppendArray(path) as a:
            a.append(data)
    elif approach == "overwrite":
        if indices is not None:
            raise UsageError("indices are only for approach='update'")  # noqa: F405
        _overwrite(path, data)
    elif approach == "update":
        if indices is None:
            raise UsageError("approach='update' needs indices")  # noqa: F405
        indices = [int(i) for i in np.atleast_1d(np.asarray(indices))]
        shape, fortran, dtype = _npy_header(path)
        rows = np.asarray(data).astype(dtype, copy=False)
        tail = shape[:-1] if fortran else shape[1:]
        if rows.shape == tail:
            rows = rows.reshape(tail + (1,) if fortran else (1,) + tail)
        rows = np.asfortranarray(rows) if fortran else np.ascontiguousarray(rows)
        _update(path, indices, rows)
    else:
        raise UsageError(  # noqa: F405
            "approach must be 'append', 'overwrite' or 'update', not %r" % (approach,)
        )


__all__ = [
    "load",
    "savez",
    "NpzFile",
    "NpzWriter",
    "Stream",
    "MappedBytes",
    "NpyAppendArray",
    "recover",
    "needs_recovery",
    "ensure_appendable",
    "recover_npz",
    "save_npy",
    *_error_names,
]
