#!/usr/bin/env python3
"""Side-by-side comparison of npzmap against its Python peers, in one run.

Every measurement runs in its own child process (so peak RSS is per task,
read with os.wait4) and times only the work itself, not interpreter or
process start-up. npzmap is driven through the `peer_tasks` example binary,
which does the identical work and reports its own timing.

Peers: numpy.savez / np.load, mmnpz (writer on current numpy; its reader uses
private numpy functions removed in numpy 2.3, so it runs in a second venv
pinned to numpy<2.3), npy-append-array. The physical limits (a plain write of
the same bytes to the same file system; reading the same mapped bytes) are
measured in the same run by the Rust binary.

Usage (see benches/peers/run.sh, which builds everything this needs):
    compare.py --bin target/release/examples/peer_tasks \
               --py-mmnpz-read .bench/venv-mmnpz/bin/python \
               --dir /tmp/npzmap-bench --out benches/peers/RESULTS.md
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

MiB = 1 << 20


# --------------------------------------------------------------------------
# Python-side workers: each prints one JSON object {"seconds": s, "ops": n}
# --------------------------------------------------------------------------

def _rng_bytes(n):
    import numpy as np
    return np.random.default_rng(0).integers(0, 255, n, dtype=np.uint8)


def w_numpy_write(path, count, size):
    import numpy as np
    a = _rng_bytes(size)
    arrays = {f"a{i:07d}": a for i in range(count)}
    t = time.perf_counter()
    np.savez(path, **arrays)
    return time.perf_counter() - t, count


def w_mmnpz_write(path, count, size):
    import mmnpz
    a = _rng_bytes(size)
    t = time.perf_counter()
    with mmnpz.NpzWriter(path, mode="w") as f:
        for i in range(count):
            f.write(f"a{i:07d}", a)
    return time.perf_counter() - t, count


def w_npaa_append(path, count, row_bytes):
    import numpy as np
    from npy_append_array import NpyAppendArray
    cols = row_bytes // 8
    rows = max(1, row_bytes // (8 * 1024)) if row_bytes >= 8 * 1024 * 1024 else 1
    if rows > 1:
        cols = 1024
    a = np.random.default_rng(0).random((rows, cols))
    if os.path.exists(path):
        os.remove(path)
    t = time.perf_counter()
    with NpyAppendArray(path, rewrite_header_on_append=False) as f:
        for _ in range(count):
            f.append(a)
    return time.perf_counter() - t, count


def w_python_write_limit(path, count, size):
    a = bytes(_rng_bytes(size))
    t = time.perf_counter()
    with open(path, "wb") as f:
        for _ in range(count):
            f.write(a)
    return time.perf_counter() - t, count


def w_numpy_open(path, _count, _size):
    import numpy as np
    t = time.perf_counter()
    z = np.load(path)
    n = len(z.files)
    return time.perf_counter() - t, n


def w_mmnpz_open(path, _count, _size):
    import mmnpz
    t = time.perf_counter()
    z = mmnpz.load(path)
    n = len(z.files)
    return time.perf_counter() - t, n


def _keys(n_members, n_access):
    import random
    r = random.Random(42)
    return [f"a{r.randrange(n_members):07d}" for _ in range(n_access)]


def w_numpy_access(path, n_members, n_access, cached):
    import numpy as np
    z = np.load(path)
    keys = _keys(n_members, n_access)
    if cached:
        for k in keys:
            z[k]
    t = time.perf_counter()
    for k in keys:
        z[k]
    return time.perf_counter() - t, len(keys)


def w_mmnpz_access(path, n_members, n_access, cached):
    import mmnpz
    z = mmnpz.load(path)
    keys = _keys(n_members, n_access)
    if cached:
        for k in keys:
            z[k]
    t = time.perf_counter()
    for k in keys:
        z[k]
    return time.perf_counter() - t, len(keys)


WORKERS = {
    "numpy_write": lambda a: w_numpy_write(a.path, a.count, a.size),
    "mmnpz_write": lambda a: w_mmnpz_write(a.path, a.count, a.size),
    "npaa_append": lambda a: w_npaa_append(a.path, a.count, a.size),
    "py_write_limit": lambda a: w_python_write_limit(a.path, a.count, a.size),
    "numpy_open": lambda a: w_numpy_open(a.path, a.count, a.size),
    "mmnpz_open": lambda a: w_mmnpz_open(a.path, a.count, a.size),
    "numpy_first": lambda a: w_numpy_access(a.path, a.count, a.size, False),
    "numpy_cached": lambda a: w_numpy_access(a.path, a.count, a.size, True),
    "mmnpz_first": lambda a: w_mmnpz_access(a.path, a.count, a.size, False),
    "mmnpz_cached": lambda a: w_mmnpz_access(a.path, a.count, a.size, True),
}


def worker_main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--worker", required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--size", type=int, default=0)
    a = p.parse_args(argv)
    secs, ops = WORKERS[a.worker](a)
    print(json.dumps({"seconds": secs, "ops": ops}))


# --------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------

def run_child(cmd):
    """Runs cmd, returns (json result, peak RSS in MiB)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{err.decode(errors='replace')}")
    res = json.loads(out.decode().strip().splitlines()[-1])
    res["rss_mib"] = usage.ru_maxrss / 1024.0
    return res


def py(python, worker, path, count=0, size=0):
    return run_child([python, os.path.abspath(__file__), "--worker", worker,
                      "--path", path, "--count", str(count), "--size", str(size)])


def ours(binary, task, path, count=0, size=0):
    return run_child([binary, task, path, str(count), str(size)])


def fmt_secs(s):
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    if s >= 1e-6:
        return f"{s * 1e6:.2f} µs"
    return f"{s * 1e9:.0f} ns"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        return worker_main(sys.argv[1:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="path to the peer_tasks example binary")
    ap.add_argument("--python", default=sys.executable, help="python with numpy, mmnpz, npy-append-array")
    ap.add_argument("--py-mmnpz-read", default=None, help="python with numpy<2.3 and mmnpz, for mmnpz's reader")
    ap.add_argument("--dir", default=None, help="scratch directory (default: a temp dir)")
    ap.add_argument("--out", default=None, help="write the markdown table here too")
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    a = ap.parse_args()

    scratch = a.dir or tempfile.mkdtemp(prefix="npzmap-bench-")
    os.makedirs(scratch, exist_ok=True)
    f = lambda name: os.path.join(scratch, name)
    q = a.quick
    large_n, large_sz = (8, 16 * MiB) if q else (64, 16 * MiB)
    small_n, small_sz = (10_000, 1024) if q else (100_000, 1024)
    app_small_n = 2_000 if q else 20_000
    app_large_n = 8 if q else 64
    open_n = 10_000 if q else 100_000
    access_n = 10_000
    big_open_n = 100_000 if q else 1_000_000

    rows = []  # (task, impl, seconds, ops, rss, unit_note)

    def rec(task, impl, r, per_op=False):
        rows.append((task, impl, r["seconds"], r["ops"], r.get("rss_mib"), per_op))
        secs = r["seconds"] / r["ops"] if per_op and r["ops"] else r["seconds"]
        print(f"  {task:<28} {impl:<22} {fmt_secs(secs):>10}  rss {r.get('rss_mib', 0):.0f} MiB", flush=True)

    def clean(*names):
        for n in names:
            try:
                os.remove(f(n))
            except FileNotFoundError:
                pass

    print(f"scratch: {scratch}")
    # 1. large write
    t = f"write {large_n} x 16 MiB"
    rec(t, "limit: plain write (Rust)", ours(a.bin, "write-limit", f("limit.bin"), large_n, large_sz))
    rec(t, "limit: write+crc32 (Rust)", ours(a.bin, "write-crc-limit", f("limit.bin"), large_n, large_sz))
    clean("limit.bin")
    rec(t, "npzmap", ours(a.bin, "write", f("large.npz"), large_n, large_sz))
    clean("large.npz")
    rec(t, "numpy.savez", py(a.python, "numpy_write", f("large_np.npz"), large_n, large_sz))
    clean("large_np.npz")
    rec(t, "mmnpz", py(a.python, "mmnpz_write", f("large_mm.npz"), large_n, large_sz))
    clean("large_mm.npz")

    # 2. small write
    t = f"write {small_n} x 1 KiB"
    rec(t, "npzmap", ours(a.bin, "write", f("small.npz"), small_n, small_sz))
    rec(t, "numpy.savez", py(a.python, "numpy_write", f("small_np.npz"), small_n, small_sz))
    rec(t, "mmnpz", py(a.python, "mmnpz_write", f("small_mm.npz"), small_n, small_sz))
    clean("small.npz", "small_mm.npz")

    # 3. npy append
    t = f"npy append {app_small_n} x 8 KiB (deferred header)"
    rec(t, "npzmap", ours(a.bin, "append", f("app.npy"), app_small_n, 8 * 1024), per_op=True)
    rec(t, "npy-append-array", py(a.python, "npaa_append", f("app_pa.npy"), app_small_n, 8 * 1024), per_op=True)
    clean("app.npy", "app_pa.npy")
    t = f"npy append {app_large_n} x 16 MiB"
    rec(t, "limit: plain write (Rust)", ours(a.bin, "write-limit", f("limit.bin"), app_large_n, 16 * MiB))
    clean("limit.bin")
    rec(t, "npzmap", ours(a.bin, "append", f("app.npy"), app_large_n, 16 * MiB))
    rec(t, "npy-append-array", py(a.python, "npaa_append", f("app_pa.npy"), app_large_n, 16 * MiB))
    clean("app.npy", "app_pa.npy")

    # 4. open / access, on the numpy-written archive of small members
    src = f("small_np.npz")
    t = f"open {small_n} members (numpy-written)"
    rec(t, "npzmap", ours(a.bin, "open", src))
    rec(t, "np.load", py(a.python, "numpy_open", src))
    if a.py_mmnpz_read:
        rec(t, "mmnpz", py(a.py_mmnpz_read, "mmnpz_open", src))
    t = "first access (per member)"
    rec(t, "npzmap", ours(a.bin, "first", src, small_n, access_n), per_op=True)
    rec(t, "np.load (no cache)", py(a.python, "numpy_first", src, small_n, access_n), per_op=True)
    if a.py_mmnpz_read:
        rec(t, "mmnpz", py(a.py_mmnpz_read, "mmnpz_first", src, small_n, access_n), per_op=True)
    t = "cached access (per member)"
    rec(t, "npzmap", ours(a.bin, "cached", src, small_n, access_n), per_op=True)
    if a.py_mmnpz_read:
        rec(t, "mmnpz", py(a.py_mmnpz_read, "mmnpz_cached", src, small_n, access_n), per_op=True)
    t = "read every byte of a 1 GiB member"
    rec(t, "limit: memcpy of mapped bytes (Rust)", ours(a.bin, "read-limit", f("big1.npz"), 64, 16 * MiB))
    rec(t, "npzmap (zero-copy sum)", ours(a.bin, "read", f("big1.npz"), 64, 16 * MiB))
    clean("big1.npz", "small_np.npz")

    # 5. many members: open and memory
    t = f"open {big_open_n} members"
    ours(a.bin, "write", f("many.npz"), big_open_n, 16)
    rec(t, "npzmap", ours(a.bin, "open", f("many.npz")))
    rec(t, "np.load", py(a.python, "numpy_open", f("many.npz")))
    if a.py_mmnpz_read:
        rec(t, "mmnpz", py(a.py_mmnpz_read, "mmnpz_open", f("many.npz")))
    clean("many.npz")

    # 6. memory while writing 4 GiB
    t = "write 4 GiB (256 x 16 MiB)"
    rec(t, "npzmap", ours(a.bin, "write", f("4g.npz"), 256 if not q else 16, 16 * MiB))
    clean("4g.npz")
    rec(t, "mmnpz", py(a.python, "mmnpz_write", f("4g_mm.npz"), 256 if not q else 16, 16 * MiB))
    clean("4g_mm.npz")

    # ---------------------------------------------------------------- table
    lines = []
    lines.append(f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}, "
                 f"Python {platform.python_version()}; scratch on `{scratch}`.")
    lines.append("")
    lines.append("| task | implementation | time | per op | throughput | peak RSS | npzmap speed-up |")
    lines.append("|---|---|---:|---:|---:|---:|---:|")
    by_task = {}
    for task, impl, secs, ops, rss, per_op in rows:
        by_task.setdefault(task, {})[impl] = (secs, ops)
    for task, impl, secs, ops, rss, per_op in rows:
        mine = by_task[task].get("npzmap") or next(
            (v for k, v in by_task[task].items() if k.startswith("npzmap")), None)
        per = fmt_secs(secs / ops) if ops else "-"
        thr = "-"
        m = None
        for key in ("x 16 MiB", "x 1 KiB", "x 8 KiB", "1 GiB"):
            if key in task:
                m = key
        if m and ops:
            nbytes = {"x 16 MiB": 16 * MiB, "x 1 KiB": 1024, "x 8 KiB": 8192, "1 GiB": 16 * MiB}[m] * ops
            thr = f"{nbytes / secs / 1e9:.2f} GB/s" if secs > 0 else "-"
        if impl.startswith("limit"):
            ratio = f"npzmap at {100 * secs / mine[0]:.0f}% of limit" if mine else "-"
        elif impl.startswith("npzmap"):
            ratio = "1.0x"
        else:
            ratio = f"{secs / mine[0]:.1f}x" if mine and mine[0] > 0 else "-"
        lines.append(f"| {task} | {impl} | {fmt_secs(secs)} | {per} | {thr} | "
                     f"{rss:.0f} MiB | {ratio} |")
    table = "\n".join(lines)
    print()
    print(table)
    if a.out:
        with open(a.out, "w") as fh:
            fh.write(table + "\n")


if __name__ == "__main__":
    sys.exit(main())
