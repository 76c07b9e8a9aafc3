"""npzmap: memory-mapped, zero-copy reading and crash-safe streaming writing
of NumPy ``.npz`` and ``.npy`` files, backed by the npzmap Rust library.

See ``__init__.pyi`` for the documented API.
"""

import collections.abc as _abc
import os as _os

from ._errors import *  # noqa: F401,F403
from ._errors import __all__ as _error_names
from ._npzmap import MappedBytes, NpzFile, NpzWriter, Stream, load

_abc.Mapping.register(NpzFile)


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


__all__ = ["load", "savez", "NpzFile", "NpzWriter", "Stream", "MappedBytes", *_error_names]
