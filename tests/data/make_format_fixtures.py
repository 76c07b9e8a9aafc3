#!/usr/bin/env python3
"""The cases of numpy's own numpy/lib/tests/test_format.py as files, with
what numpy does with each, for tests/numpy_format.rs.

Usage:
    make_format_fixtures.py --out DIR [--full]

Without --full it writes the committed set (tests/data/numpy_format/): every
case of test_format.py, with the basic arrays shortened from 1500 to 60
elements and the "huge header" dtype shortened from 10001 to 601 fields
(still over numpy's default limit of 10000 header characters) so the set
stays small. With --full (used by the live test, never committed) the arrays
and headers have test_format.py's own sizes, and the test_long_str case
(a 1 MB item) is added.

Next to the files it writes expected.json:
    numpy_version, cases: [
      {file, kind ('npy' | 'npz'), case (test_format.py's test it comes from),
       canonical (numpy wrote the header itself: our header must be
       byte-identical),
       numpy: outcome of np.load with its defaults,
       trusted: outcome of np.load with max_header_size=2**31 (numpy's
         outcome once its header size limit is lifted), or null where it is
         the same as `numpy` (all but headers over 10000 characters),
       npzmap_error (for errors: the npzmap Error variant expected)}]
    where an outcome is, for npy files,
      {ok: true, descr (repr of dtype_to_descr; over 2000 characters as
       descr_len + descr_crc instead), shape, fortran_order,
       data_len, data_crc (zlib.crc32 of the data as stored in the file)}
      or {ok: false, error: "ExceptionType: message"},
    and for npz files {ok: true, members: {key: npy outcome}} or an error.
    headers: [{descr, shape, fortran_order, header_hex}]: numpy's
      write_array_header_1_0 bytes (test_header_growth_axis), which npzmap's
      Header::to_bytes must reproduce.
"""

import argparse
import ast
import io
import json
import os
import sys
import warnings
import zlib

import numpy as np
from numpy.lib import format as fmt

try:
    from numpy.lib._format_impl import _read_array_header
except ImportError:  # numpy < 2.0
    from numpy.lib.format import _read_array_header

BIG = 2**31


def outcome_npy(path, **kw):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = np.load(path, **kw)
        with open(path, "rb") as f:
            version = fmt.read_magic(f)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                shape, fortran, dtype = _read_array_header(f, version, max_header_size=BIG)
        data = a.tobytes(order="F" if fortran else "C")
        descr = repr(fmt.dtype_to_descr(a.dtype))
        if len(descr) > 2000:  # long descrs as a checksum, to keep the JSON small
            d = {"descr_len": len(descr.encode()), "descr_crc": zlib.crc32(descr.encode())}
        else:
            d = {"descr": descr}
        return {
            "ok": True,
            **d,
            "shape": list(a.shape),
            "fortran_order": bool(fortran),
            "data_len": len(data),
            "data_crc": zlib.crc32(data),
        }
    except Exception as e:  # noqa: BLE001 - the outcome is the point
        return {"ok": False, "error": f"{type(e).__name__}: {str(e)[:200]}"}


def outcome_npz(path, **kw):
    try:
        out = {}
        with np.load(path, **kw) as z:
            for k in z.files:
                buf = z.zip.read(k + ".npy") if (k + ".npy") in z.zip.namelist() else z.zip.read(k)
                tmp = path + ".member.npy"
                with open(tmp, "wb") as f:
                    f.write(buf)
                try:
                    z[k]  # numpy's own access must succeed for the archive to count as ok
                    out[k] = outcome_npy(tmp, **kw)
                except Exception as e:  # noqa: BLE001
                    out[k] = {"ok": False, "error": f"{type(e).__name__}: {str(e)[:200]}"}
                finally:
                    os.remove(tmp)
        return {"ok": True, "members": out}
    except Exception as e:  # noqa: BLE001
        return {"ok": False, "error": f"{type(e).__name__}: {str(e)[:200]}"}


class Out:
    def __init__(self, root):
        self.root = root
        self.cases = []
        os.makedirs(root, exist_ok=True)

    def add(self, name, data, case, canonical=False, npzmap_error=None):
        path = os.path.join(self.root, name)
        with open(path, "wb") as f:
            f.write(data)
        kind = "npz" if name.endswith(".npz") else "npy"
        fn = outcome_npz if kind == "npz" else outcome_npy
        e = {
            "file": name,
            "kind": kind,
            "case": case,
            "canonical": canonical,
            "numpy": fn(path),
        }
        trusted = fn(path, max_header_size=BIG)
        # Only where lifting numpy's header size limit changes the outcome.
        e["trusted"] = trusted if trusted != e["numpy"] else None
        if npzmap_error:
            e["npzmap_error"] = npzmap_error
        self.cases.append(e)

    def add_array(self, name, arr, case, **kw):
        f = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fmt.write_array(f, arr, **kw)
        # A forced version is not the one np.save picks.
        canonical = arr.dtype != object and "version" not in kw
        self.add(name, f.getvalue(), case, canonical=canonical)
        return f.getvalue()

    def add_npz(self, name, case, compressed=False, **arrays):
        f = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (np.savez_compressed if compressed else np.savez)(f, **arrays)
        self.add(name, f.getvalue(), case)


def basic_arrays(n):
    scalars = [np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32,
               np.uint64, np.int64, np.float32, np.float64, np.complex64,
               np.complex128, object]
    rows = 30 if n == 1500 else 6
    out = []
    for scalar in scalars:
        for endian in "<>":
            dtype = np.dtype(scalar).newbyteorder(endian)
            basic = np.arange(n).astype(dtype)
            tag = f"{np.dtype(scalar).name}_{'le' if endian == '<' else 'be'}"
            out.extend([
                (f"{tag}_empty", np.array([], dtype=dtype)),
                (f"{tag}_0d", np.array(10, dtype=dtype)),
                (f"{tag}_1d", basic),
                (f"{tag}_c", basic.reshape((rows, n // rows))),
                (f"{tag}_f", basic.reshape((rows, n // rows)).T),
                (f"{tag}_nc", basic.reshape((rows, n // rows))[::-1, ::2]),
            ])
    return out


Pdescr = [("x", "i4", (2,)), ("y", "f8", (2, 2)), ("z", "u1")]
PbufferT = [([3, 2], [[6.0, 4.0], [6.0, 4.0]], 8), ([4, 3], [[7.0, 5.0], [7.0, 5.0]], 9)]
Ndescr = [
    ("x", "i4", (2,)),
    ("Info", [("value", "c16"), ("y2", "f8"),
              ("Info2", [("name", "S2"), ("value", "c16", (2,)), ("y3", "f8", (2,)), ("z3", "u4", (2,))]),
              ("name", "S2"), ("z2", "b1")]),
    ("color", "S2"),
    ("info", [("Name", "U8"), ("Value", "c16")]),
    ("y", "f8", (2, 2)),
    ("z", "u1"),
]
NbufferT = [
    ([3, 2], (6j, 6.0, ("nn", [6j, 4j], [6.0, 4.0], [1, 2]), "NN", True), "cc", ("NN", 6j), [[6.0, 4.0], [6.0, 4.0]], 8),
    ([4, 3], (7j, 7.0, ("oo", [7j, 5j], [7.0, 5.0], [2, 1]), "OO", False), "dd", ("OO", 7j), [[7.0, 5.0], [7.0, 5.0]], 9),
]


def record_arrays():
    return [
        ("rec_plain_le", np.array(PbufferT, dtype=np.dtype(Pdescr).newbyteorder("<"))),
        ("rec_nested_le", np.array(NbufferT, dtype=np.dtype(Ndescr).newbyteorder("<"))),
        ("rec_plain_be", np.array(PbufferT, dtype=np.dtype(Pdescr).newbyteorder(">"))),
        ("rec_nested_be", np.array(NbufferT, dtype=np.dtype(Ndescr).newbyteorder(">"))),
        ("rec_nested_subarray", np.zeros(1, dtype=[("c", ("<f8", (5,)), (2,))])),
    ]


def filled(dt, n):
    raw = bytes((i * 7 + 1) % 256 for i in range(n * dt.itemsize))
    # No copy: copying may leave a padded dtype's gaps uninitialised.
    return np.frombuffer(bytearray(raw), dtype=dt)


def padded_dtypes():
    return [
        ("aligned", np.dtype("i1, i4, i1", align=True)),
        ("offsets", np.dtype({"names": ["a", "b"], "formats": ["i4", "i4"], "offsets": [1, 6]})),
        ("nested_offsets", np.dtype({"names": ["c", "d"], "formats": ["i4", np.dtype(
            {"names": ["a", "b"], "formats": ["i4", "i4"], "offsets": [1, 6]})]})),
        ("empty_name", np.dtype({"names": ["a", "", "b"], "formats": ["i4"] * 3})),
        ("titles", np.dtype({"names": ["a", "b"], "formats": ["i4", "i4"], "offsets": [1, 6],
                             "titles": ["aa", "bb"]})),
        ("no_fields", np.dtype({"names": [], "formats": [], "itemsize": 8})),
    ]


def descr_to_dtype_cases():
    s8 = {"names": ["a", "b"], "formats": ["i1", "i1"], "offsets": [0, 4], "itemsize": 8}
    return [
        ("aligned3", np.dtype([("a", np.int8), ("b", np.int16), ("c", np.int32)], align=True)),
        ("subarray_of_padded", np.dtype([("x", np.dtype((s8, (3,))), (4,))])),
        ("nested_subarray", np.dtype([("x", ("<f8", (5,)), (2,))])),
        ("subarray_subarray_padded", np.dtype([("x", np.dtype((np.dtype((np.dtype(s8), (3,))), (4,))))])),
        ("deep", np.dtype([("a", np.dtype((np.dtype((np.dtype((np.dtype([
            ("a", int), ("b", np.dtype(s8))]), (3,))), (4,))), (5,))))])),
    ]


def metadata_dtypes():
    return [
        ("meta_field", np.dtype({"names": ["a", "b"], "formats": [float, np.dtype("S3", metadata={"some": "stuff"})]})),
        ("meta_scalar", np.dtype(int, metadata={"some": "stuff"})),
        ("meta_subarray", np.dtype([("subarray", (int, (2,)))], metadata={"some": "stuff"})),
        ("meta_nested", np.dtype({"names": ["a", "b"], "formats": [
            float, np.dtype({"names": ["c"], "formats": [np.dtype(int, metadata={})]})]})),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--full", action="store_true")
    args = ap.parse_args()
    o = Out(args.out)
    n = 1500 if args.full else 60

    # test_roundtrip, test_roundtrip_randsize, test_memmap_roundtrip: every
    # basic and record array as write_array writes it.
    # test_roundtrip_truncated, test_file_truncated: the same, one byte short.
    for name, arr in basic_arrays(n):
        b = o.add_array(f"basic_{name}.npy", arr, "test_roundtrip")
        if arr.dtype != object:
            o.add(f"short_{name}.npy", b[:-1], "test_file_truncated",
                  npzmap_error="Truncated" if arr.size == 0 else "DataTooShort")
    for name, arr in record_arrays():
        b = o.add_array(f"{name}.npy", arr, "test_roundtrip")
        o.add(f"short_{name}.npy", b[:-1], "test_file_truncated", npzmap_error="DataTooShort")

    # test_long_str (1 MB item): full set only.
    if args.full:
        o.add_array("long_str.npy", np.ones(1, dtype=np.dtype((str, fmt.BUFFER_SIZE + 1))), "test_long_str")

    # test_compressed_roundtrip.
    rng = np.random.default_rng(7)
    side = 200 if args.full else 20
    o.add_npz("compressed.npz", "test_compressed_roundtrip", compressed=True, arr=rng.random((side, side)))

    # test_load_padded_dtype: padded, nested, '' field, titles, no fields.
    for name, dt in padded_dtypes():
        arr = np.zeros(3, dt)
        for i in range(3):
            arr[i] = i + 5
        o.add_npz(f"padded_{name}.npz", "test_load_padded_dtype", arr=arr)
        o.add_array(f"padded_{name}.npy", arr, "test_load_padded_dtype")

    # test_descr_to_dtype.
    for name, dt in descr_to_dtype_cases():
        assert fmt.descr_to_dtype(dt.descr) == dt
        o.add_array(f"descr_{name}.npy", filled(dt, 3), "test_descr_to_dtype")

    # test_version_2_0: a header over 65535 bytes.
    dt = [(("%d" % i) * 100, float) for i in range(500)]
    o.add_array("version_2_0.npy", np.ones(1000 if args.full else 1, dtype=dt), "test_version_2_0")
    o.add_array("version_2_0_forced.npy", np.ones(2, dtype=[("a", "<f8")]), "test_version_2_0",
                version=(2, 0))

    # test_huge_header, test_huge_header_npz: over numpy's 10000 characters.
    fields = 10001 if args.full else 601
    arr = np.array(1, dtype="i," * (fields - 1) + "i")
    o.add_array("huge_header.npy", arr, "test_huge_header")
    o.add_npz("huge_header.npz", "test_huge_header_npz", arr=arr)

    # test_large_header: a 65536-character field name needs version 2.0.
    o.add_array("large_header.npy", np.zeros(1, dtype=[("x" * 256 * 256, "<i8")]), "test_large_header")

    # test_read_magic, test_read_magic_bad_magic, test_read_version_1_0_bad_magic.
    for v in [(1, 0), (2, 0)]:
        o.add_array(f"magic_{v[0]}_{v[1]}.npy", np.ones((3, 6), dtype=float), "test_read_magic", version=v)
    bad_version_magic = [b"\x93NUMPY\x01\x01", b"\x93NUMPY\x00\x00", b"\x93NUMPY\x00\x01",
                         b"\x93NUMPY\x02\x00", b"\x93NUMPY\x02\x02", b"\x93NUMPY\xff\xff"]
    malformed_magic = [b"\x92NUMPY\x01\x00", b"\x00NUMPY\x01\x00", b"\x93numpy\x01\x00",
                       b"\x93MATLB\x01\x00", b"\x93NUMPY\x01", b"\x93NUMPY", b""]
    for i, m in enumerate(bad_version_magic):
        o.add(f"bad_version_magic_{i}.npy", m, "test_read_version_1_0_bad_magic",
              npzmap_error="Truncated" if m == b"\x93NUMPY\x02\x00" else "UnsupportedVersion")
    for i, m in enumerate(malformed_magic):
        o.add(f"malformed_magic_{i}.npy", m, "test_read_magic_bad_magic",
              npzmap_error="BadMagic" if len(m) >= 8 else None)

    # test_bad_header.
    m = b"\x93NUMPY\x01\x00"
    o.add("bad_header_empty.npy", m, "test_bad_header", npzmap_error="Truncated")
    o.add("bad_header_one_byte.npy", m + b"1", "test_bad_header", npzmap_error="Truncated")
    o.add("bad_header_short.npy", m + b"\x01\x00", "test_bad_header", npzmap_error="Truncated")
    o.add("bad_header_missing_key.npy",
          b"\x93NUMPY\x01\x006\x00{'descr': 'x', 'shape': (1, 2), }                    \n",
          "test_bad_header", npzmap_error="InvalidHeader")
    for name, descr in [("bad_header_extra_key.npy", "x"), ("bad_header_extra_key_valid_descr.npy", "<i8")]:
        s = io.BytesIO()
        fmt.write_array_header_1_0(s, {"shape": (1, 2), "fortran_order": False, "descr": descr, "extrakey": -1})
        o.add(name, s.getvalue() + bytes(16), "test_bad_header", npzmap_error="InvalidHeader")

    # test_empty_npz.
    o.add_npz("empty.npz", "test_empty_npz")

    # test_unicode_field_names: a version 3.0 header.
    arr = np.array([(1, 3), (1, 2), (1, 3), (1, 2)],
                   dtype=[("int", int), ("\N{CJK UNIFIED IDEOGRAPH-6574}\N{CJK UNIFIED IDEOGRAPH-5F62}", int)])
    o.add_array("unicode_field_names.npy", arr, "test_unicode_field_names", version=(3, 0))
    o.add_array("unicode_field_names_auto.npy", arr, "test_unicode_field_names")

    # test_metadata_dtype: metadata is dropped on save.
    for name, dt in metadata_dtypes():
        o.add_array(f"{name}.npy", np.ones(10, dtype=dt), "test_metadata_dtype")

    # test_python2_python3_interoperability, test_pickle_python2_python3:
    # numpy's own data files.
    data_dir = os.path.join(os.path.dirname(np.__file__), "lib", "tests", "data")
    for fname in sorted(os.listdir(data_dir)):
        if fname.endswith((".npy", ".npz")):
            with open(os.path.join(data_dir, fname), "rb") as f:
                raw = f.read()
            obj = "objarr" in fname
            o.add(f"numpy_data_{fname}", raw, "test_pickle_python2_python3" if obj
                  else "test_python2_python3_interoperability",
                  npzmap_error="ObjectArray" if obj else None)

    # test_header_growth_axis: header bytes only (shapes up to 10**20 need
    # no data); sizes over u64 are left out (npzmap's dimensions are u64).
    headers = []
    for is_fortran, space in [(False, 22), (False, 23), (True, 23), (True, 24)]:
        for size in [10**i for i in range(fmt.GROWTH_AXIS_MAX_DIGITS)]:
            if size >= 2**64:
                continue
            shape = (2, size) if is_fortran else (size, 2)
            d = np.dtype([(" " * space, int)])
            fp = io.BytesIO()
            # test_format.py passes the dtype itself (its repr lands in the
            # header); np.save passes dtype_to_descr(d), as here.
            fmt.write_array_header_1_0(fp, {"shape": shape, "fortran_order": is_fortran,
                                            "descr": fmt.dtype_to_descr(d)})
            headers.append({"descr": repr(fmt.dtype_to_descr(d)), "shape": list(shape),
                            "fortran_order": is_fortran, "header_hex": fp.getvalue().hex()})

    meta = {
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
        "full": args.full,
        "cases": o.cases,
        "headers": headers,
    }
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(meta, f, indent=0, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
