import numpy as np
import pytest


def all_dtypes():
    """Every kind of dtype np.save writes (both byte orders where it has one)."""
    out = []
    for code in ["?", "b", "B", "u1", "i1"]:
        out.append(np.dtype(code))
    for base in ["i2", "i4", "i8", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16",
                 "M8[ns]", "M8[D]", "m8[s]", "m8[10ms]", "f16", "c32"]:
        out.append(np.dtype("<" + base))
        out.append(np.dtype(">" + base))
    out += [np.dtype("S5"), np.dtype("<U3"), np.dtype(">U3"), np.dtype("V7"), np.dtype("V0"),
            np.dtype([("x", "<f8"), ("y", ">i2"), ("s", "S3")]),
            np.dtype([("p", "<i4", (2, 3)), ("q", [("r", "u1"), ("t", ">f4")])]),
            np.dtype({"names": ["a", "b"], "formats": ["<i4", "<f8"], "offsets": [0, 8],
                      "itemsize": 24})]
    return out


def sample(dtype, shape=(3, 4), order="C"):
    """A deterministic array of `dtype` with varied bytes."""
    n = int(np.prod(shape))
    raw = (np.arange(n * max(dtype.itemsize, 1), dtype=np.uint64) * 37 + 11) % 251
    if dtype.kind == "b":
        a = (np.arange(n) % 3 == 0).astype(dtype)
    elif dtype.kind == "U":
        a = np.array([str(i % 1000) for i in range(n)], dtype=dtype)
    elif dtype.kind == "f" or dtype.kind == "c":
        a = (np.arange(n) * 1.5 - 3).astype(dtype)
    elif dtype.kind in "Mm":
        a = (np.arange(n) * 7).astype(dtype.newbyteorder("=").str.replace("=", "<"))
        a = a.view(a.dtype).astype(dtype)
    else:
        a = np.frombuffer(raw.astype(np.uint8).tobytes()[: n * dtype.itemsize], dtype=dtype) \
            if dtype.itemsize else np.zeros(n, dtype)
    a = a.reshape(shape)
    return np.asfortranarray(a) if order == "F" else np.ascontiguousarray(a)


@pytest.fixture
def tmp(tmp_path):
    return tmp_path
