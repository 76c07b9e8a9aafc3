"""The npzmap exception hierarchy (raised by the native module).

Every exception is an :class:`Error`; each also derives from the builtin a
numpy user would catch: damaged data is a :class:`ValueError`, a missing key a
:class:`KeyError`, a file problem an :class:`OSError`. Messages name the file,
member and offset; the same are in the ``path``, ``member`` and ``offset``
attributes (``None`` when unknown).
"""

__all__ = [
    "Error",
    "FormatError",
    "ObjectArrayError",
    "KeyNotFoundError",
    "FileError",
    "MissingFileError",
    "ExistingFileError",
    "FilePermissionError",
    "LockedError",
    "UsageError",
    "IndexOutOfRangeError",
    "ClosedError",
]


class Error(Exception):
    """Base class of every npzmap error."""

    path = None
    member = None
    offset = None


class FormatError(Error, ValueError):
    """The stored data is damaged or not what it claims to be."""


class ObjectArrayError(FormatError):
    """A pickled object array: npzmap never unpickles."""


class KeyNotFoundError(Error, KeyError):
    """No member with this key."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class FileError(Error, OSError):
    """The file cannot be opened, read, written or replaced."""


class MissingFileError(FileError, FileNotFoundError):
    """The file does not exist."""


class ExistingFileError(FileError, FileExistsError):
    """The file exists (mode ``"x"``, or a create that must not replace)."""


class FilePermissionError(FileError, PermissionError):
    """Permission denied."""


class LockedError(FileError):
    """Another npzmap writer or in-place operation holds the file."""


class UsageError(Error, ValueError):
    """A call's arguments do not fit (dtype, shape, name, ...)."""


class IndexOutOfRangeError(UsageError, IndexError):
    """An index beyond the array."""


class ClosedError(Error, ValueError):
    """The object was closed."""
