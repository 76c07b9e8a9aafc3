"""Makes the small .npz fixtures in tests/data/ (run from the repo root:
`python tests/data/make_npz_fixtures.py`). Made with numpy 2.4.6, CPython 3.11.

The values are asserted literally in tests/npz_fixtures.rs, so these tests
run without Python.
"""
import io, os, zipfile
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
arrays = {
    "ints": np.arange(6, dtype="<i4").reshape(2, 3),
    "big": np.array([1.5, -2.25, 1e300], dtype=">f8"),
    "flags": np.array([True, False, True]),
    "words": np.array(["ab", "é", ""], dtype="<U2"),
    "bytes": np.array([b"x", b"yz"], dtype="S2"),
    "points": np.array([(1.0, 2.0, 7), (3.0, 4.0, 8)], dtype=[("x", "<f4"), ("y", "<f4"), ("id", "<u4")]),
    "fortran": np.asfortranarray(np.arange(6, dtype="<u2").reshape(2, 3)),
}
np.savez(os.path.join(here, "small_savez.npz"), **arrays)
np.savez_compressed(os.path.join(here, "small_compressed.npz"), **arrays)


class Unseekable(io.RawIOBase):
    def __init__(self):
        self.buf = io.BytesIO()

    def writable(self):
        return True

    def seekable(self):
        return False

    def write(self, b):
        return self.buf.write(b)

    def tell(self):
        raise io.UnsupportedOperation("unseekable")


s = Unseekable()
with zipfile.ZipFile(s, "w") as zf:
    for i, k in enumerate(["ints", "big", "points"]):
        zf.compression = zipfile.ZIP_DEFLATED if i == 1 else zipfile.ZIP_STORED
        with zf.open(k + ".npy", "w") as f:
            np.lib.format.write_array(f, arrays[k])
with open(os.path.join(here, "small_descriptors.npz"), "wb") as f:
    f.write(s.buf.getvalue())
