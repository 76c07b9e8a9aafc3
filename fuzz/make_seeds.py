#!/usr/bin/env python3
"""Regenerates the committed seed corpora in fuzz/corpus/<target>/seed-*.

Uses numpy (np.save/np.savez) and zipfile so the seeds are real files.
Run from anywhere: python fuzz/make_seeds.py
"""

import io
import os
import struct
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def npy(arr):
    b = io.BytesIO()
    np.save(b, arr)
    return b.getvalue()


arrays = {
    "f8-2x3": np.arange(6, dtype="<f8").reshape(2, 3),
    "i4-be-F": np.asfortranarray(np.arange(6, dtype=">i4").reshape(2, 3)),
    "b1": np.array([True, False, True]),
    "u1-0d": np.array(7, dtype="|u1"),
    "U3": np.array(["ab", "\u00e9\u20ac"], dtype="<U3"),
    "S4": np.array([b"ab", b"xyz"], dtype="|S4"),
    "rec": np.zeros(2, dtype=[(("T", "a"), "<i2"), ("b", [("c", ">f4")], (2,)), ("s", "|S2")]),
    "rec-aligned": np.zeros(1, dtype=np.dtype([("a", "|u1"), ("b", "<i8")], align=True)),
    "v3": np.zeros(1, dtype=[("\u4e2d", "<i4")]),
    "M8-10ms": np.array([0, 1, 2], dtype="<M8[10ms]"),
    "empty-0x3": np.zeros((0, 3), dtype="<c8"),
}

for name, arr in arrays.items():
    data = npy(arr)
    put("npy_file", name + ".npy", data)
    hlen = len(data) - arr.nbytes
    put("npy_header", name + ".hdr", data[:hlen])
    put("descr", name + ".txt", repr(np.lib.format.dtype_to_descr(arr.dtype)).encode())

# Plain type strings as the descr target also accepts them unquoted.
for s in ["<f8", ">m8[3h]", "|V16", "|O"]:
    put("descr", s.replace("<", "le").replace(">", "be").replace("|", "na").replace("[", "_").replace("]", ""), s.encode())

# zip_records: what numpy, zipfile and friends write.
b = io.BytesIO()
np.savez(b, a=np.arange(3, dtype="<i2"), b=np.zeros((2, 2), dtype="<f4"))
put("zip_records", "savez.npz", b.getvalue())
b = io.BytesIO()
np.savez_compressed(b, a=np.arange(3, dtype="<i2"))
put("zip_records", "savez_compressed.npz", b.getvalue())


class NoSeek(io.RawIOBase):
    """A write-only stream: zipfile then writes data descriptors."""

    def __init__(self):
        self.buf = bytearray()

    def writable(self):
        return True

    def write(self, data):
        self.buf += data
        return len(data)


s = NoSeek()
with zipfile.ZipFile(s, "w") as z:
    z.writestr("x.npy", npy(np.arange(2, dtype="<u2")))
put("zip_records", "data_descriptor.npz", bytes(s.buf))
b = io.BytesIO()
with zipfile.ZipFile(b, "w") as z:
    z.writestr("a.npy", npy(np.array(1.5)))
    z.comment = b"archive comment"
put("zip_records", "prefix_comment.zip", b"#!prepended\n" + b.getvalue())

# Regression seeds: inputs behind fixed findings (see CHANGELOG "Fixed").
put("descr", "regress-huge-U", b">U11111111111")
put("descr", "regress-empty-subarray",
    b"[('a', [('x', '>i2', (0,))], (1152921504606846976,)), ('b', '>i2')]")


def raw_npy(text, data=b""):
    body = text.encode()
    body += b" " * (-(10 + len(body) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body + data


put("npy_file", "regress-S0-huge.npy",
    raw_npy("{'descr': '|S0', 'fortran_order': False, 'shape': (1152921504606846976,), }"))
put("npy_file", "regress-U-huge-empty.npy",
    raw_npy("{'descr': '>U11111111111', 'fortran_order': False, 'shape': (0,), }"))
put("npy_file", "huge-shape-tiny-file.npy",
    raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (68719476736,), }", b"\0" * 4))

# npz_open: whole archives behind one option-selector byte (see the target);
# npz_recover: the same archives raw, and cut short.
FIXTURES = os.path.join(HERE, "..", "tests", "data")
archives = {}
b = io.BytesIO()
np.savez(b, a=np.arange(3, dtype="<i2"), b=np.zeros((2, 2), dtype=">f4"),
         s=np.array(["ab"], dtype="<U2"))
archives["savez"] = b.getvalue()
b = io.BytesIO()
np.savez_compressed(b, a=np.arange(5, dtype="<f8"), r=arrays["rec"])
archives["savez_compressed"] = b.getvalue()
s = NoSeek()
with zipfile.ZipFile(s, "w") as z:
    z.writestr("x.npy", npy(np.arange(2, dtype="<u2")))
    with z.open("y.npy", "w") as f:  # deflated, streamed: data descriptor
        f.write(npy(np.array([True, False])))
archives["data_descriptor"] = bytes(s.buf)
b = io.BytesIO()
with zipfile.ZipFile(b, "w") as z:
    z.writestr("a.npy", npy(np.array(1.5)))
    z.writestr("a.npy", npy(np.array(2.5)))  # duplicate: the last one wins
    z.writestr("notes.txt", b"not an array")
    z.comment = b"archive comment"
archives["dup_comment"] = b"#!prepended\n" + b.getvalue()
b = io.BytesIO()
with zipfile.ZipFile(b, "w") as z:  # a name that ends like a ZIP64 locator
    z.writestr("PK\x06\x07abcdefghijkl.npy", npy(np.array([1], dtype="|u1")))
archives["locator_name"] = b.getvalue()
# An append in progress: a complete archive, then the first bytes of the
# member being written (local header with ZIP64 sizes, data holding an end
# record signature that points at no valid directory). Readers open the
# archive before it (src/zip/committed.rs).
partial = bytearray(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 33, 0,
                                0xFFFFFFFF, 0xFFFFFFFF, 5, 20))
partial += b"c.npy" + struct.pack("<HHQQ", 1, 16, 1 << 20, 1 << 20)
partial += npy(np.arange(4, dtype="<i8"))[:80]
partial += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, 46, 0, 0) + b"\x00" * 9
archives["append_in_progress"] = archives["savez"] + bytes(partial)
archives["append_in_progress_prefixed"] = archives["dup_comment"] + bytes(partial[:40])
for f in sorted(os.listdir(FIXTURES)):
    if f.endswith(".npz") and os.path.getsize(os.path.join(FIXTURES, f)) <= 4096:
        with open(os.path.join(FIXTURES, f), "rb") as fh:
            archives["fixture-" + f[:-4]] = fh.read()

for name, data in archives.items():
    for sel in range(6):
        put("npz_open", "%s-%d.npz" % (name, sel), bytes([sel]) + data)
    put("npz_recover", name + ".npz", data)
    put("npz_recover", name + "-cut.npz", data[: len(data) * 2 // 3])

# npz_roundtrip reads its input as choices, not as a file: a few patterns.
for n, pat in [(64, b"\x01"), (256, b"\x03\x07\x00\xff"), (512, bytes(range(256)))]:
    put("npz_roundtrip", "pattern-%d" % n, (pat * n)[:n])

# Regression seeds for npz targets are minimised crash inputs committed as
# they are (fuzz/corpus/<target>/seed-regress-*): this script leaves them be.
