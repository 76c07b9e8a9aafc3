# Writes numpy-made archives into sys.argv[1] and, for each, a manifest
# "<archive>.txt" with one line per key:
#   key \t native descr \t shape \t fortran(0/1) \t hex of the native-order data in memory order
# Used by tests/npz_reader.rs (run with the interpreter from tests/common).
import io, os, subprocess, sys, shutil, warnings, zipfile
import numpy as np

out = sys.argv[1]
warnings.simplefilter("ignore")


def native(a):
    a = np.asarray(a)
    return a.astype(a.dtype.newbyteorder("="), order="K", copy=True)


def manifest(path, arrays):
    with open(path + ".txt", "w", encoding="utf-8") as f:
        for k, a in arrays.items():
            n = native(a)
            fortran = n.flags.f_contiguous and not n.flags.c_contiguous
            data = n.tobytes(order="F" if fortran else "C")
            descr = repr(np.lib.format.dtype_to_descr(n.dtype))
            shape = ",".join(str(d) for d in n.shape)
            f.write(f"{k}\t{descr}\t{shape}\t{int(fortran)}\t{data.hex()}\n")


def check(path):
    # what numpy reads back, for the manifest
    with np.load(path, max_header_size=10**6) as z:
        return {k: z[k] for k in z.files}


rng = np.random.default_rng(7)
arrays = {}
for t in ["b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16"]:
    a = (rng.standard_normal(7) * 100)
    if t == "b1":
        a = a > 0
    elif t[0] == "c":
        a = a + 1j * a[::-1]
    arrays["t_" + t] = np.asarray(a).astype(t)
arrays["big_f8"] = np.arange(5, dtype=">f8") * 1.5
arrays["big_i4"] = np.arange(-3, 3, dtype=">i4")
arrays["big_c16"] = (np.arange(3) + 2j).astype(">c16")
arrays["big_U"] = np.array(["héllo", "wörld", "名前"], dtype=">U5")
arrays["S"] = np.array([b"ab", b"", b"xyz\x00q"], dtype="S5")
arrays["U"] = np.array(["a", "éé", "日本語", ""], dtype="U7")
arrays["V"] = np.frombuffer(bytes(range(24)), dtype="V8")
arrays["M8"] = np.array(["2024-01-01T00:00:00.123456789", "NaT"], dtype="M8[ns]")
arrays["m8"] = np.array([1, -2, 3], dtype="m8[s]")
arrays["rec"] = np.array([(1, 2.5, b"x"), (3, -1.0, b"yy")], dtype=[("a", "<i4"), ("b", ">f8"), ("c", "S2")])
arrays["nested"] = np.zeros(3, dtype=[("p", [("x", "<f4"), ("y", ">f4")]), ("m", "<i2", (2, 3)), ("t", "u1")])
arrays["nested"]["m"] = np.arange(18).reshape(3, 2, 3)
arrays["nested"]["p"]["y"] = [1.5, 2.5, 3.5]
arrays["titles"] = np.array([(1, 2)], dtype=np.dtype({"names": ["a", "b"], "formats": ["<i2", "<i8"], "titles": ["Alpha", "Beta"]}))
arrays["aligned"] = np.array([(1, 2, 3)], dtype=np.dtype([("a", "u1"), ("b", "<i8"), ("c", "u1")], align=True))
arrays["fortran"] = np.asfortranarray(np.arange(12, dtype="<i4").reshape(3, 4))
arrays["fortran_big"] = np.asfortranarray(np.arange(6, dtype=">f4").reshape(2, 3))
arrays["zero_d"] = np.array(3.25)
arrays["empty"] = np.zeros((0,), dtype="<f8")
arrays["empty2"] = np.zeros((3, 0), dtype="<i2")
arrays["v2_many_fields"] = np.zeros(2, dtype=[(f"field_{i:04d}", "<u1") for i in range(5000)])
arrays["v3_name"] = np.array([(1,)], dtype=[("名", "<i4")])
arrays["dir/nested key"] = np.arange(3, dtype="<u2")

p = os.path.join(out, "savez.npz")
np.savez(p, **arrays)
manifest(p, check(p))
p = os.path.join(out, "savez_compressed.npz")
np.savez_compressed(p, **arrays)
manifest(p, check(p))

# data descriptors: zipfile writing to an unseekable stream (stored and deflated)
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

small = {k: arrays[k] for k in ["t_f8", "big_i4", "rec", "U", "fortran", "zero_d", "empty"]}
s = Unseekable()
with zipfile.ZipFile(s, "w") as zf:
    for i, (k, a) in enumerate(small.items()):
        method = zipfile.ZIP_DEFLATED if i % 2 else zipfile.ZIP_STORED
        with zf.open(k + ".npy", "w", force_zip64=(i == 3)) as f:
            zf.compression = method
            np.lib.format.write_array(f, a)
p = os.path.join(out, "descriptors.npz")
with open(p, "wb") as f:
    f.write(s.buf.getvalue())
manifest(p, check(p))

# archive comment, a prefix, and a non-.npy member
p = os.path.join(out, "comment.npz")
np.savez(p, **small)
with zipfile.ZipFile(p, "a") as zf:
    zf.writestr("readme.txt", b"not an array")
    zf.comment = b"an archive comment"
manifest(p, {k: v for k, v in check(p).items() if k != "readme.txt"})

# Info-ZIP
d = os.path.join(out, "infozip_src")
os.makedirs(d, exist_ok=True)
for k in ["t_i8", "big_f8", "rec", "S", "fortran"]:
    np.save(os.path.join(d, k + ".npy"), arrays[k])
if shutil.which("zip"):
    for tag, flags in [("zip0", ["-0"]), ("zip6", ["-6"]), ("zipfz", ["-fz", "-0"])]:
        p = os.path.join(out, tag + ".npz")
        subprocess.run(["zip", "-q", "-X", "-j", *flags, p] + sorted(os.path.join(d, f) for f in os.listdir(d)), check=True)
        manifest(p, check(p))

# mmnpz (written, then appended). Only a missing module skips (the Rust side
# requires it when CI is set); any failure of an installed mmnpz fails the test.
try:
    import mmnpz
except ImportError as e:
    mmnpz = None
    print("mmnpz skipped:", e, file=sys.stderr)
if mmnpz is not None:
    p = os.path.join(out, "mmnpz.npz")
    with mmnpz.NpzWriter(p) as w:
        w.write("first", arrays["t_f4"])
        w.write("rec", arrays["rec"])
    with mmnpz.NpzWriter(p, mode="a") as w:
        w.write("more", arrays["big_i4"])
    manifest(p, check(p))
print("ok")
