"""npzmap: memory-mapped, zero-copy reading and crash-safe streaming writing
of NumPy ``.npz`` and ``.npy`` files, backed by the npzmap Rust library.

See ``__init__.pyi`` for the documented API.
"""

import collections.abc as _abc

from ._errors import *  # noqa: F401,F403
from ._errors import __all__ as _error_names
from ._npzmap import MappedBytes, NpzFile, load

_abc.Mapping.register(NpzFile)

__all__ = ["load", "NpzFile", "MappedBytes", *_error_names]
