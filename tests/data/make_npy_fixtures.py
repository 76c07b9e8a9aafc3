#!/usr/bin/env python3
"""Writes the .npy fixtures of npzmap's tests with numpy's own np.save.

Usage:
    make_npy_fixtures.py [--out DIR] [--all]

Without --all it writes the small committed set into tests/data/npy/ (one
file per dtype, plus shapes/orders on a few dtypes). With --all (used by the
live interop test tests/npy_numpy.rs, never committed) it writes the full
cross product of dtypes x shapes x orders and the large v2/v3 headers.

Next to the .npy files it writes expected.json:
    numpy_version, python_version, fixtures: [
      {file, descr (repr of the header's 'descr', as np.save writes it),
       shape, fortran_order (as in the header), order (the order the array
       was made in, 'C' or 'F'), version ([major, minor] of the header),
       data_hex (the data as stored: tobytes in the stored order),
       native_hex (the same values in native byte order),
       values (ints/floats/bools, scalar dtypes only),
       strings (U dtypes), bytes_hex (S dtypes),
       error (the npzmap Error variant expected instead of a parse)}]
"""

import argparse
import json
import os
import platform
import sys
import warnings

import numpy as np
from numpy.lib import format as npformat


def leaf_values(dt, shape):
    """Deterministic values for a non-structured dtype, as an ndarray."""
    n = int(np.prod(shape, dtype=np.int64))
    k = dt.kind
    if k == "b":
        a = np.arange(n) % 3 == 0
    elif k in "iu":
        if k == "u" and dt.itemsize == 8:
            a = np.arange(n, dtype=np.uint64) * np.uint64(0x0123456789ABCDEF)
        else:
            with np.errstate(over="ignore"):
                a = (np.arange(n, dtype=np.int64) * 37 - 50).astype(dt)
    elif k == "f":
        a = np.arange(n) * 0.5 - 1.25
    elif k == "c":
        a = (np.arange(n) * 0.5 - 1.0) + 1j * (np.arange(n) * -0.25 + 2.0)
    elif k == "S":
        words = [b"ab", b"xyz\x00q", b"", b"hello world"]
        a = np.array([words[i % len(words)][: dt.itemsize] for i in range(n)], dtype=dt)
    elif k == "U":
        words = ["hi", "\u00e9\u20ac", "", "\U0001d11e x", "numpy"]
        a = np.array([words[i % len(words)][: dt.itemsize // 4] for i in range(n)], dtype=dt)
    elif k == "V":
        raw = bytes((i * 7 + 1) % 256 for i in range(n * dt.itemsize))
        a = np.frombuffer(raw, dtype=dt).copy() if n else np.zeros(0, dt)
    elif k in "Mm":
        v = np.arange(n, dtype=np.int64) * 1000 - 3
        if n > 2:
            v[2] = np.iinfo(np.int64).min  # NaT
        a = v.view(dt)
    else:
        raise ValueError(f"no values for {dt}")
    return np.asarray(a, dtype=dt).reshape(shape)


def values(dt, shape):
    """Deterministic values for any dtype (structured filled field by field)."""
    if dt.names is None:
        if dt.subdtype is not None:
            base, sub = dt.subdtype
            return leaf_values(base, tuple(shape) + sub)
        return leaf_values(dt, shape)
    a = np.zeros(shape, dtype=dt)
    for name in dt.names:
        sub = dt.fields[name][0]
        if sub.subdtype is not None:
            base, subshape = sub.subdtype
            a[name] = values(base, tuple(shape) + subshape)
        else:
            a[name] = values(sub, shape)
    return a


def dtypes():
    """(slug, dtype) for every dtype the fixtures cover."""
    d = {}
    for code in ["|b1", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8",
                 "<f2", "<f4", "<f8", "<c8", "<c16"]:
        d[code] = np.dtype(code)
    for code in [">i2", ">i4", ">i8", ">u2", ">u4", ">u8", ">f2", ">f4", ">f8",
                 ">c8", ">c16"]:
        d[code] = np.dtype(code)
    for code in ["|S1", "|S5", "<U1", "<U4", ">U3", "|V1", "|V8"]:
        d[code] = np.dtype(code)
    for unit in ["Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as"]:
        d[f"<M8[{unit}]"] = np.dtype(f"<M8[{unit}]")
        d[f"<m8[{unit}]"] = np.dtype(f"<m8[{unit}]")
    for code in ["<M8[10ms]", "<m8[3h]", ">M8[ns]", ">m8[25us]", "<M8", "<m8", "<M8[7D]"]:
        d[code] = np.dtype(code)
    d["rec-simple"] = np.dtype([("x", "<f4"), ("y", "<i8"), ("flag", "|b1")])
    d["rec-nested"] = np.dtype([("a", [("b", "<i2"), ("c", ">f8")]), ("d", "|u1", (2,))])
    d["rec-subarray"] = np.dtype([("m", "<f4", (2, 3)), ("s", "|S3", (2,)), ("u", ">u2", (1,))])
    d["rec-titles"] = np.dtype([(("Title of a", "a"), "<i4"), ("b", "<f8"), (("t\u00e9", "c"), "|u1")])
    d["rec-aligned"] = np.dtype([("a", "|u1"), ("b", "<i8"), ("c", "<i2")], align=True)
    d["rec-itemsize"] = np.dtype({"names": ["a", "b"], "formats": ["<i4", "|u1"],
                                  "offsets": [0, 8], "itemsize": 12})
    d["rec-deep"] = np.dtype([("l1", [("l2", [("l3", "<u4", (2,)), ("z", "|S2")]), ("w", "<c8")])])
    d["rec-quotes"] = np.dtype([("it's", "<i2"), ('say "hi"', "<i2"), ("both'\"", "|i1")])
    d["rec-unicode"] = np.dtype([("\u4e2d\u6587", "<i4"), ("\u00e9", "<f4")])
    d["rec-strings"] = np.dtype([("name", "<U5"), ("code", "|S4"), ("t", "<M8[s]"), ("v", "|V3")])
    return d


# Shapes and orders: (slug, shape, order).
LAYOUTS = [
    ("s3", (3,), "C"),
    ("0d", (), "C"),
    ("e0", (0,), "C"),
    ("e03", (0, 3), "C"),
    ("c23", (2, 3), "C"),
    ("f23", (2, 3), "F"),
    ("f234", (2, 3, 4), "F"),
    ("c234", (2, 3, 4), "C"),
    ("f5", (5,), "F"),      # numpy writes fortran_order False
    ("f15", (1, 5), "F"),   # C- and F-contiguous: fortran_order False
    ("f30", (3, 0), "F"),   # empty: fortran_order False
    ("f41", (4, 1), "F"),
]

# The committed set: every dtype in 1-D, and these (dtype, layout) pairs.
SMALL_EXTRA = {
    "<f8": ["0d", "e0", "e03", "c23", "f23", "f234", "c234", "f5", "f15", "f30", "f41"],
    ">i4": ["c23", "f23", "0d"],
    "|b1": ["f23"],
    "<U4": ["0d", "f23"],
    "|S5": ["e0"],
    "<c16": ["f234"],
    "<M8[10ms]": ["c23"],
    "rec-nested": ["0d", "f23", "e03"],
    "rec-aligned": ["c23"],
}


def slugify(s):
    for a, b in [("[M]", "[month]"), ("[m]", "[minute]"), ("M8", "datetime"), ("m8", "timedelta")]:
        s = s.replace(a, b)
    out = []
    for ch in s:
        if ch.isalnum():
            out.append(ch)
        elif ch == "<":
            out.append("le")
        elif ch == ">":
            out.append("be")
        elif ch == "|":
            out.append("na")
        else:
            out.append("_")
    return "".join(out).strip("_")


def describe(path, arr, order, name):
    with open(path, "rb") as f:
        version = npformat.read_magic(f)
        f.seek(0)
        raw = f.read()
    fortran = bool(arr.flags.f_contiguous and not arr.flags.c_contiguous)
    stored = "F" if fortran else "C"
    entry = {
        "file": os.path.basename(path),
        "name": name,
        "descr": repr(npformat.dtype_to_descr(arr.dtype)),
        "shape": list(arr.shape),
        "fortran_order": fortran,
        "order": order,
        "version": list(version),
        "header_len": len(raw) - arr.nbytes,
        "data_hex": arr.tobytes(order=stored).hex(),
    }
    native = arr.astype(arr.dtype.newbyteorder("=")) if arr.dtype.names is None else None
    if native is not None:
        entry["native_hex"] = native.tobytes(order=stored).hex()
    else:
        # Assign into zeros (astype would leave padding bytes uninitialised).
        native = np.zeros(arr.shape, dtype=native_struct(arr.dtype))
        native[...] = arr
        entry["native_hex"] = native.tobytes(order=stored).hex()
    k = arr.dtype.kind
    flat = arr.ravel(order=stored)
    if arr.dtype.names is None and k in "biuf" and arr.dtype.itemsize in (1, 2, 4, 8):
        entry["values"] = [v.item() if k != "b" else bool(v) for v in flat]
    if k == "U":
        entry["strings"] = [str(v) for v in flat]
    if k == "S":
        entry["bytes_hex"] = [bytes(v).hex() for v in flat]
    return entry


def native_struct(dt):
    """The structured dtype with every field in native byte order, same layout."""
    if dt.names is None:
        if dt.subdtype is not None:
            base, shape = dt.subdtype
            return np.dtype((native_struct(base), shape))
        return dt.newbyteorder("=")
    fields = {
        "names": list(dt.names),
        "formats": [native_struct(dt.fields[n][0]) for n in dt.names],
        "offsets": [dt.fields[n][1] for n in dt.names],
        "itemsize": dt.itemsize,
    }
    titles = [dt.fields[n][2] if len(dt.fields[n]) > 2 else None for n in dt.names]
    if any(t is not None for t in titles):
        fields["titles"] = titles
    return np.dtype(fields)


def make(out, everything):
    os.makedirs(out, exist_ok=True)
    entries = []

    used = set()

    def save(name, arr, order):
        # Unique even on case-insensitive file systems ('M8[m]' vs 'M8[M]').
        slug = slugify(name)
        while slug.lower() in used:
            slug += "_"
        used.add(slug.lower())
        path = os.path.join(out, slug + ".npy")
        np.save(path, arr)
        entries.append(describe(path, arr, order, name))

    layouts = {slug: (shape, order) for slug, shape, order in LAYOUTS}
    for dslug, dt in dtypes().items():
        wanted = [s for s, _, _ in LAYOUTS] if everything else ["s3"] + SMALL_EXTRA.get(dslug, [])
        for lslug in wanted:
            shape, order = layouts[lslug]
            a = values(dt, shape)
            if order == "F":
                a = np.asfortranarray(a)
            save(f"{dslug}-{lslug}", a, order)

    # Object arrays hold a pickle: npzmap must refuse them.
    path = os.path.join(out, "object.npy")
    np.save(path, np.array([1, "a", None], dtype=object), allow_pickle=True)
    entries.append({"file": "object.npy", "name": "object", "error": "ObjectArray",
                    "descr": repr("|O"), "shape": [3], "fortran_order": False})

    # NPY 3.0: a field name outside latin-1 (small enough to commit).
    save("v3-unicode-name", values(np.dtype([("\u4e2d", "<i4"), ("\u03b1\u03b2", ">f8")]), (2,)), "C")
    if everything:
        # NPY 2.0: a header over 65535 bytes.
        big = np.dtype([(f"field_{i:05d}", "<u1") for i in range(5000)])
        save("v2-5000-fields", values(big, (2,)), "C")
        # NPY 3.0 and 2.0 sized together.
        big3 = np.dtype([(f"\u00fc\u4e2d{i:05d}", "<u1") for i in range(5000)])
        save("v3-5000-fields", values(big3, (1,)), "C")
        # A big-endian F-order record with padding and titles.
        save("rec-be-f", np.asfortranarray(values(np.dtype(
            [(("T", "a"), ">i4"), ("", "|V2"), ("b", ">f8", (2,))]), (2, 3))), "F")

    meta = {
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "byteorder": sys.byteorder,
        "fixtures": entries,
    }
    with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1, ensure_ascii=False)
        f.write("\n")
    return entries


def main():
    warnings.simplefilter("ignore", UserWarning)  # "Stored array in format 3.0"
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(here, "npy"))
    ap.add_argument("--all", action="store_true", help="full cross product (not committed)")
    args = ap.parse_args()
    entries = make(args.out, args.all)
    print(f"wrote {len(entries)} fixtures to {args.out} with numpy {np.__version__}")


if __name__ == "__main__":
    main()
