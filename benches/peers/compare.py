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
    # Distinct keys, the same sequence as peer_tasks' access_keys (999983 is
    # a prime dividing none of the member counts used).
    return [f"a{(12345 + j * 999983) % n_members:07d}" for j in range(n_access)]


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


def w_numpy_list(path, _count, _size):
    # The peer of `npzmap ls`: every key's dtype and shape (np.load reads
    # each member to learn them).
    import numpy as np
    t = time.perf_counter()
    z = np.load(path)
    listing = [(a.dtype, a.shape) for a in (z[k] for k in z.files)]
    return time.perf_counter() - t, len(listing)


def w_mmnpz_list(path, _count, _size):
    import mmnpz
    t = time.perf_counter()
    z = mmnpz.load(path, preload=True)
    listing = [(a.dtype, a.shape) for a in (z[k] for k in z.files)]
    return time.perf_counter() - t, len(listing)


def w_mmnpz_read(path, count, size):
    # The peer of `read`: sum every u64 of the member through mmnpz's memmap.
    import mmnpz
    import numpy as np
    t = time.perf_counter()
    z = mmnpz.load(path)
    s = int(np.sum(z["x"], dtype=np.uint64))
    secs = time.perf_counter() - t
    assert s >= 0
    return secs, count


def _npy_inputs(path):
    # The .npy files of the `pack` task: every file in the directory `path`.
    return sorted(os.path.join(path, n) for n in os.listdir(path) if n.endswith(".npy"))


def w_make_npy(path, count, size):
    # Set-up (not timed): `count` .npy files of `size` random bytes in `path`.
    import numpy as np
    os.makedirs(path, exist_ok=True)
    a = _rng_bytes(size)
    for i in range(count):
        np.save(os.path.join(path, f"a{i:07d}.npy"), a)
    return 0.0, count


def w_numpy_pack(path, _count, _size):
    # The peer of `npzmap pack`: np.load each .npy (mapped), np.savez them.
    import numpy as np
    inputs = _npy_inputs(path)
    t = time.perf_counter()
    arrays = {os.path.basename(f)[:-4]: np.load(f, mmap_mode="r") for f in inputs}
    np.savez(path + ".np.npz", **arrays)
    return time.perf_counter() - t, len(inputs)


def w_mmnpz_pack(path, _count, _size):
    import mmnpz
    import numpy as np
    inputs = _npy_inputs(path)
    t = time.perf_counter()
    with mmnpz.NpzWriter(path + ".mm.npz", mode="w") as w:
        for f in inputs:
            w.write(os.path.basename(f)[:-4], np.load(f, mmap_mode="r"))
    return time.perf_counter() - t, len(inputs)


def w_numpy_shards(path, count, size):
    # Set-up (not timed): one numpy.savez archive of `count` arrays of
    # `size` bytes at `path`.
    import numpy as np
    a = _rng_bytes(size)
    np.savez(path, **{f"{os.path.basename(path)[:-4]}_{i:05d}": a for i in range(count)})
    return 0.0, count


WORKERS = {
    "make_npy": lambda a: w_make_npy(a.path, a.count, a.size),
    "numpy_pack": lambda a: w_numpy_pack(a.path, a.count, a.size),
    "mmnpz_pack": lambda a: w_mmnpz_pack(a.path, a.count, a.size),
    "numpy_shards": lambda a: w_numpy_shards(a.path, a.count, a.size),
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
    "mmnpz_read": lambda a: w_mmnpz_read(a.path, a.count, a.size),
    "numpy_list": lambda a: w_numpy_list(a.path, a.count, a.size),
    "mmnpz_list": lambda a: w_mmnpz_list(a.path, a.count, a.size),
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
    """Runs cmd, returns its JSON result with "rss_mib", the child's peak RSS."""
    with tempfile.TemporaryFile() as errf:
        # stderr to a file (a pipe read after stdout could fill and block);
        # reap with wait4 ourselves to get the child's rusage.
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf)
        out = p.stdout.read()
        p.stdout.close()
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        errf.seek(0)
        err = errf.read()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n"
                           f"{err.decode(errors='replace')}")
    res = json.loads(out.decode().strip().splitlines()[-1])
    res["rss_mib"] = usage.ru_maxrss / 1024.0
    return res


def py(python, worker, path, count=0, size=0):
    return run_child([python, os.path.abspath(__file__), "--worker", worker,
                      "--path", path, "--count", str(count), "--size", str(size)])


def ours(binary, task, path, count=0, size=0):
    return run_child([binary, task, path, str(count), str(size)])


def cli(cmd, ops):
    """Times a whole CLI process (start-up to exit, stdout to /dev/null)."""
    with open(os.devnull, "wb") as null, tempfile.TemporaryFile() as errf:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=null, stderr=errf)
        _, status, usage = os.wait4(p.pid, 0)
        secs = time.perf_counter() - t
        errf.seek(0)
        err = errf.read()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({code}):\n"
                           f"{err.decode(errors='replace')}")
    return {"seconds": secs, "ops": ops, "rss_mib": usage.ru_maxrss / 1024.0}


PY_HEADING = "## The Python package (issue #12)\n"
PY_TASKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "py_tasks.py")


def pyt(python, task, path, count=0, size=0):
    """A task of py_tasks.py (the npzmap Python package and its peers)."""
    return run_child([python, PY_TASKS, task, path, str(count), str(size)])


def fmt_secs(s):
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    if s >= 1e-6:
        return f"{s * 1e6:.2f} µs"
    return f"{s * 1e9:.0f} ns"


def machine_lines(scratch):
    """Describes the machine, for the table's preamble."""
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(l.split(":", 1)[1].strip() for l in fh if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as fh:
            kb = int(next(l.split()[1] for l in fh if l.startswith("MemTotal")))
            mem = f"{kb / (1 << 20):.0f} GiB"
    except (OSError, StopIteration):
        pass
    try:
        fs = subprocess.run(["df", "--output=fstype", scratch], capture_output=True,
                            text=True).stdout.split()[-1]
    except OSError:
        fs = "?"
    return cpu, mem, fs


def versions(python):
    code = ("import importlib.metadata as m\n"
            "def v(p):\n"
            "    try:\n"
            "        return m.version(p)\n"
            "    except m.PackageNotFoundError:\n"
            "        return '-'\n"
            "print(v('numpy'), v('mmnpz'), v('npy-append-array'))")
    try:
        return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.split()
    except OSError:
        return []


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        return worker_main(sys.argv[1:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="path to the peer_tasks example binary")
    ap.add_argument("--cli", default=None,
                    help="the npzmap binary, for the whole-process CLI tasks (default: next to --bin's examples/)")
    ap.add_argument("--python", default=sys.executable, help="python with numpy, mmnpz, npy-append-array")
    ap.add_argument("--py-mmnpz-read", default=None, help="python with numpy<2.3 and mmnpz, for mmnpz's reader")
    ap.add_argument("--dir", default=None, help="scratch directory (default: a temp dir)")
    ap.add_argument("--out", default=None, help="write the markdown table here too")
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each measurement N times, report the median time (and the largest RSS)")
    ap.add_argument("--only", choices=["all", "rust", "python", "tools", "access"], default="all",
                    help="run only the Rust-driven tasks (issue #7, with the archive tools), only the "
                         "Python package's (issue #12), only the archive tools (issue #14), or only "
                         "open, first and cached access and ls of the numpy-written archive")
    a = ap.parse_args()

    scratch = a.dir or tempfile.mkdtemp(prefix="npzmap-bench-")
    os.makedirs(scratch, exist_ok=True)
    f = lambda name: os.path.join(scratch, name)
    q = a.quick
    large_n = 8 if q else 64
    small_n = 10_000 if q else 100_000
    app_small_n = 2_000 if q else 20_000
    app_large_n = 8 if q else 64
    access_n = 10_000
    big_open_n = 100_000 if q else 1_000_000
    huge_n = 16 if q else 256  # x 16 MiB: 4 GiB
    py_loops = 1_000_000

    rows = []  # (task, impl, seconds, ops, rss)
    load_start = os.getloadavg()
    t_start = time.time()

    pending = []  # one task's measurements, run round-robin
    spread = {}  # (task, impl) -> (fastest, slowest) time per op

    def rec(task, impl, fn, *args, cleanup=()):
        pending.append((task, impl, fn, args, cleanup))

    def run_pending():
        """Runs the queued measurements `--repeat` times round-robin (so a
        burst of load hits every implementation alike) and records the
        median time (per op) and the largest peak RSS of each."""
        results = [[] for _ in pending]
        for k in range(max(1, a.repeat)):
            # Rotate the order each round: no implementation always runs
            # first (right after another process's big write and delete).
            order = [(i + k) % len(pending) for i in range(len(pending))]
            for i in order:
                task, impl, fn, args, cleanup = pending[i]
                # Start each measurement with no dirty pages (ours or a
                # previous task's) being written back underneath it.
                os.sync()
                results[i].append(fn(*args))
                clean(*cleanup)
        for (task, impl, _, _, _), rs in zip(pending, results):
            rs.sort(key=lambda r: r["seconds"] / max(1, r["ops"]))
            r = dict(rs[len(rs) // 2])
            r["rss_mib"] = max(x["rss_mib"] for x in rs)
            pers = [x["seconds"] / max(1, x["ops"]) for x in rs]
            spread[(task, impl)] = (pers[0], pers[-1])
            rows.append((task, impl, r["seconds"], r["ops"], r["rss_mib"]))
            per = r["seconds"] / r["ops"] if r["ops"] else r["seconds"]
            print(f"  {task:<40} {impl:<34} {fmt_secs(r['seconds']):>10} {fmt_secs(per):>10}/op"
                  f"  rss {r['rss_mib']:.0f} MiB  (load {os.getloadavg()[0]:.2f})", flush=True)
        pending.clear()

    def clean(*names):
        for n in names:
            try:
                os.remove(f(n))
            except FileNotFoundError:
                pass

    mm_read = a.py_mmnpz_read

    def access_tasks(src):
        """4. open / access / ls, on the numpy-written archive `src` of
        small members."""
        t = f"open {small_n} members (numpy-written)"
        rec(t, "npzmap", ours, a.bin, "open", src)
        rec(t, "np.load", py, a.python, "numpy_open", src)
        if mm_read:
            rec(t, "mmnpz", py, mm_read, "mmnpz_open", src)
        run_pending()
        t = f"first access ({access_n} distinct keys of {small_n})"
        rec(t, "npzmap", ours, a.bin, "first", src, small_n, access_n)
        rec(t, "np.load (reads a copy)", py, a.python, "numpy_first", src, small_n, access_n)
        if mm_read:
            rec(t, "mmnpz", py, mm_read, "mmnpz_first", src, small_n, access_n)
        run_pending()
        t = f"cached access ({access_n} keys again)"
        rec(t, "npzmap", ours, a.bin, "cached", src, small_n, access_n)
        if mm_read:
            rec(t, "mmnpz", py, mm_read, "mmnpz_cached", src, small_n, access_n)
        run_pending()
        # The CLI, whole process (start-up, open, every header, the listing
        # written to /dev/null), against the peers listing dtype and shape
        # in-process (their interpreter start-up not counted).
        ls_task = f"ls {small_n} members (numpy-written)"
        if a.cli:
            rec(ls_task, "npzmap ls --json (CLI, whole process)", cli, [a.cli, "ls", src, "--json"], small_n)
            rec(ls_task, "npzmap ls (CLI, whole process)", cli, [a.cli, "ls", src], small_n)
            rec(ls_task, "np.load + dtype/shape of each", py, a.python, "numpy_list", src)
            if mm_read:
                rec(ls_task, "mmnpz load(preload=True) + dtype/shape", py, mm_read, "mmnpz_list", src)
            run_pending()

    if a.cli is None:
        guess = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(a.bin))), "npzmap")
        a.cli = guess if os.access(guess, os.X_OK) else None
    print(f"scratch: {scratch}")
    if a.only == "access":
        # numpy's archive of the small-write task, made without timing it.
        py(a.python, "numpy_write", f("small_np.npz"), small_n, 1024)
        access_tasks(f("small_np.npz"))
        clean("small_np.npz")
    if a.only in ("all", "rust"):
        # Warm-up (not recorded): the first big write of a run is often slower.
        ours(a.bin, "write-limit", f("limit.bin"), large_n, 16 * MiB)
        clean("limit.bin")
    if a.only in ("all", "rust"):
        # 1. large write
        t = f"write {large_n} x 16 MiB"
        rec(t, "limit: plain write", ours, a.bin, "write-limit", f("limit.bin"), large_n, 16 * MiB,
            cleanup=["limit.bin"])
        rec(t, "limit: write + crc32", ours, a.bin, "write-crc-limit", f("limit.bin"), large_n, 16 * MiB,
            cleanup=["limit.bin"])
        rec(t, "npzmap", ours, a.bin, "write", f("large.npz"), large_n, 16 * MiB, cleanup=["large.npz"])
        rec(t, "numpy.savez", py, a.python, "numpy_write", f("large_np.npz"), large_n, 16 * MiB,
            cleanup=["large_np.npz"])
        rec(t, "mmnpz", py, a.python, "mmnpz_write", f("large_mm.npz"), large_n, 16 * MiB,
            cleanup=["large_mm.npz"])
        run_pending()

        # 2. small write (numpy's archive is kept for the open/access tasks)
        t = f"write {small_n} x 1 KiB"
        rec(t, "npzmap", ours, a.bin, "write", f("small.npz"), small_n, 1024, cleanup=["small.npz"])
        rec(t, "numpy.savez", py, a.python, "numpy_write", f("small_np.npz"), small_n, 1024)
        rec(t, "mmnpz", py, a.python, "mmnpz_write", f("small_mm.npz"), small_n, 1024,
            cleanup=["small_mm.npz"])
        run_pending()

        # 3. npy append
        t = f"npy append {app_small_n} x 8 KiB (deferred header)"
        rec(t, "npzmap", ours, a.bin, "append", f("app.npy"), app_small_n, 8 * 1024, cleanup=["app.npy"])
        rec(t, "npy-append-array", py, a.python, "npaa_append", f("app_pa.npy"), app_small_n, 8 * 1024,
            cleanup=["app_pa.npy"])
        run_pending()
        t = f"npy append {app_large_n} x 16 MiB (deferred header)"
        rec(t, "limit: plain write", ours, a.bin, "write-limit", f("limit.bin"), app_large_n, 16 * MiB,
            cleanup=["limit.bin"])
        rec(t, "npzmap", ours, a.bin, "append", f("app.npy"), app_large_n, 16 * MiB, cleanup=["app.npy"])
        rec(t, "npy-append-array", py, a.python, "npaa_append", f("app_pa.npy"), app_large_n, 16 * MiB,
            cleanup=["app_pa.npy"])
        run_pending()

        # 4. open / access, on the numpy-written archive of small members
        access_tasks(f("small_np.npz"))
        clean("small_np.npz")
        t = "sum every u64 of a 1 GiB member"
        ours(a.bin, "read-limit", f("big1.npz"), 64, 16 * MiB)  # creates the archive
        rec(t, "limit: sum of the raw mapped file", ours, a.bin, "read-limit", f("big1.npz"), 64, 16 * MiB)
        rec(t, "npzmap (open + get_slice + sum)", ours, a.bin, "read", f("big1.npz"), 64, 16 * MiB)
        if mm_read:
            rec(t, "mmnpz (load + np.sum of memmap)", py, mm_read, "mmnpz_read", f("big1.npz"), 64, 16 * MiB)
        run_pending()
        clean("big1.npz")

        # 5. many members: open time and memory
        t = f"open {big_open_n} members (npzmap-written, 16 B each)"
        ours(a.bin, "write", f("many.npz"), big_open_n, 16)
        rec(t, "npzmap", ours, a.bin, "open", f("many.npz"))
        rec(t, "np.load", py, a.python, "numpy_open", f("many.npz"))
        if mm_read:
            rec(t, "mmnpz", py, mm_read, "mmnpz_open", f("many.npz"))
        run_pending()
        clean("many.npz")

        # 6. memory while writing 4 GiB
        t = (f"write {huge_n * 16 // 1024} GiB ({huge_n} x 16 MiB)" if huge_n >= 64
             else f"write {huge_n * 16} MiB ({huge_n} x 16 MiB)")
        rec(t, "npzmap", ours, a.bin, "write", f("4g.npz"), huge_n, 16 * MiB, cleanup=["4g.npz"])
        rec(t, "npzmap (one member, streamed)", ours, a.bin, "write-stream", f("4g.npz"), huge_n, 16 * MiB,
            cleanup=["4g.npz"])
        rec(t, "numpy.savez", py, a.python, "numpy_write", f("4g_np.npz"), huge_n, 16 * MiB,
            cleanup=["4g_np.npz"])
        rec(t, "mmnpz", py, a.python, "mmnpz_write", f("4g_mm.npz"), huge_n, 16 * MiB,
            cleanup=["4g_mm.npz"])
        run_pending()


    # 7. The archive tools (issue #14), whole CLI processes with their
    # fsync, against `cat` of the same bytes + `sync FILE` (an fsync of the
    # output) in the same run; numpy and mmnpz pack without fsync.
    if a.only in ("all", "rust", "tools") and a.cli:
        npys = f("pack_in")
        py(a.python, "make_npy", npys, large_n, 16 * MiB)
        inputs = [os.path.join(npys, n) for n in sorted(os.listdir(npys))]
        cat_sync = ["sh", "-c", 'out=$1; shift; cat "$@" > "$out" && sync "$out"', "sh"]
        cli(cat_sync + [f("pack_cat.bin")] + inputs, large_n)  # warm-up, not recorded
        clean("pack_cat.bin")
        t = f"pack {large_n} x 16 MiB .npy files"
        rec(t, "limit: cat + fsync", cli, cat_sync + [f("pack_cat.bin")] + inputs, large_n,
            cleanup=["pack_cat.bin"])
        rec(t, "npzmap pack (CLI, whole process, fsync)", cli,
            [a.cli, "-q", "pack", f("pack.npz")] + inputs, large_n, cleanup=["pack.npz"])
        rec(t, "numpy.savez of np.load(mmap) (no fsync)", py, a.python, "numpy_pack", npys, large_n,
            cleanup=["pack_in.np.npz"])
        rec(t, "mmnpz NpzWriter of np.load(mmap) (no fsync)", py, a.python, "mmnpz_pack", npys, large_n,
            cleanup=["pack_in.mm.npz"])
        run_pending()
        for n in inputs:
            os.remove(n)
        os.rmdir(npys)
        # rewrite: numpy's archive (unaligned data) made zero-copy readable
        src = f("rw_in.npz")
        py(a.python, "numpy_shards", src, large_n, 16 * MiB)
        t = f"rewrite {large_n} x 16 MiB (numpy-written)"
        rec(t, "limit: cat + fsync", cli, cat_sync + [f("rw_cat.bin"), src], large_n,
            cleanup=["rw_cat.bin"])
        rec(t, "npzmap rewrite (CLI, whole process, fsync)", cli,
            [a.cli, "-q", "rewrite", src, "-o", f("rw_out.npz")], large_n, cleanup=["rw_out.npz"])
        run_pending()
        clean("rw_in.npz")
        # merge: four shards (one per worker) into one archive
        shards = [f(f"shard{i}.npz") for i in range(4)]
        for sh in shards:
            py(a.python, "numpy_shards", sh, large_n // 4, 16 * MiB)
        t = f"merge 4 shards of {large_n // 4} x 16 MiB"
        rec(t, "limit: cat + fsync", cli, cat_sync + [f("mg_cat.bin")] + shards, large_n,
            cleanup=["mg_cat.bin"])
        rec(t, "npzmap merge (CLI, whole process, fsync)", cli,
            [a.cli, "-q", "merge", f("mg_out.npz")] + shards, large_n, cleanup=["mg_out.npz"])
        run_pending()
        clean(*[os.path.basename(sh) for sh in shards])

    # 8. The Python package (issue #12), same harness: py_tasks.py workers.
    if a.only in ("all", "python"):
        pyp = a.python
        src = f("py_np.npz")
        py(pyp, "numpy_write", src, small_n, 1024)  # numpy-written archive
        t = f"py: load + list dtype/shape of {small_n} members (numpy-written)"
        rec(t, "npzmap.load", pyt, pyp, "list_npzmap", src)
        rec(t, "np.load", pyt, pyp, "list_numpy", src)
        if mm_read:
            rec(t, "mmnpz.load(preload=True)", pyt, mm_read, "list_mmnpz", src)
        run_pending()
        t = f"py: first access, median of {access_n} distinct keys of {small_n}"
        rec(t, "npzmap", pyt, pyp, "first_npzmap", src, small_n, access_n)
        rec(t, "np.load (reads a copy)", pyt, pyp, "first_numpy", src, small_n, access_n)
        if mm_read:
            rec(t, "mmnpz", pyt, mm_read, "first_mmnpz", src, small_n, access_n)
        run_pending()
        t = f"py: repeated access of one key ({py_loops} times, loop included)"
        rec(t, "npzmap", pyt, pyp, "cached_npzmap", src, small_n, py_loops)
        rec(t, "limit: dict lookup", pyt, pyp, "cached_dict", src, small_n, py_loops)
        if mm_read:
            rec(t, "mmnpz", pyt, mm_read, "cached_mmnpz", src, small_n, py_loops)
        run_pending()
        t = f"py: write {large_n} x 16 MiB"
        rec(t, "limit: Python f.write", pyt, pyp, "write_limit", f("py_limit.bin"), large_n, 16 * MiB,
            cleanup=["py_limit.bin"])
        rec(t, "npzmap.NpzWriter", pyt, pyp, "write_npzmap", f("py_large.npz"), large_n, 16 * MiB,
            cleanup=["py_large.npz"])
        rec(t, "mmnpz", pyt, pyp, "write_mmnpz", f("py_large_mm.npz"), large_n, 16 * MiB,
            cleanup=["py_large_mm.npz"])
        run_pending()
        t = f"py: write {large_n} x 16 MiB, fsync at close"
        rec(t, "limit: Python f.write + fsync", pyt, pyp, "write_limit_fsync", f("py_limit.bin"), large_n,
            16 * MiB, cleanup=["py_limit.bin"])
        rec(t, "npzmap.NpzWriter(fsync=True)", pyt, pyp, "write_npzmap_fsync", f("py_large.npz"), large_n,
            16 * MiB, cleanup=["py_large.npz"])
        run_pending()
        t = f"py: write {small_n} x 1 KiB"
        rec(t, "npzmap.NpzWriter", pyt, pyp, "write_npzmap", f("py_small.npz"), small_n, 1024,
            cleanup=["py_small.npz"])
        rec(t, "mmnpz", pyt, pyp, "write_mmnpz", f("py_small_mm.npz"), small_n, 1024,
            cleanup=["py_small_mm.npz"])
        run_pending()
        t = f"py: npy append {app_small_n} x 8 KiB (deferred header)"
        rec(t, "npzmap.NpyAppendArray", pyt, pyp, "append_npzmap", f("py_app.npy"), app_small_n, 8 * 1024,
            cleanup=["py_app.npy"])
        rec(t, "npy-append-array", pyt, pyp, "append_npaa", f("py_app_pa.npy"), app_small_n, 8 * 1024,
            cleanup=["py_app_pa.npy"])
        rec(t, "limit: os.pwrite of each row", pyt, pyp, "append_limit", f("py_app_l.npy"), app_small_n,
            8 * 1024, cleanup=["py_app_l.npy"])
        rec(t, "npzmap.NpyAppendArray(buffer_bytes=1 MiB), opt-in", pyt, pyp, "append_npzmap_buffered",
            f("py_app_b.npy"), app_small_n, 8 * 1024, cleanup=["py_app_b.npy"])
        run_pending()
        clean("py_np.npz")

    # ---------------------------------------------------------------- table
    load_end = os.getloadavg()
    cpu, mem, fs = machine_lines(scratch)
    vs = versions(a.python)
    vs_mm = versions(mm_read) if mm_read else []
    lines = []
    if a.only == "python":
        lines += [PY_HEADING.rstrip("\n"), ""]
    lines.append(f"Run {time.strftime('%Y-%m-%d %H:%M', time.gmtime(t_start))} UTC, "
                 f"{'`--quick` sizes' if q else 'full sizes'}, median of {max(1, a.repeat)}, "
                 f"{time.time() - t_start:.0f} s in all.")
    lines.append(f"Machine: {cpu}, {os.cpu_count()} cores, {mem} RAM, {platform.system()} "
                 f"{platform.release()}; scratch on {fs}. Load average (1 min) "
                 f"{load_start[0]:.2f} at start, {load_end[0]:.2f} at end (shared machine: noisy).")
    lines.append(f"Python {platform.python_version()}"
                 + (f", numpy {vs[0]}, mmnpz {vs[1]}, npy-append-array {vs[2]}" if len(vs) == 3 else "")
                 + (f"; mmnpz's reader on numpy {vs_mm[0]}" if len(vs_mm) == 3 else "") + ".")
    lines.append("")
    lines.append("| task | implementation | time | per op | per op, fastest–slowest | throughput | peak RSS "
                 "| npzmap / this (time) | npzmap speed-up |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    mine_of = {}
    for task, impl, secs, ops, rss in rows:
        if impl.startswith("npzmap") and task not in mine_of:
            mine_of[task] = secs / ops if ops else secs
    for task, impl, secs, ops, rss in rows:
        per_s = secs / ops if ops else secs
        mine = mine_of.get(task)
        thr = "-"
        for key, unit in (("x 16 MiB", 16 * MiB), ("x 1 KiB", 1024), ("x 8 KiB", 8192), ("1 GiB", 16 * MiB)):
            if key in task and ops and secs > 0:
                thr = f"{unit * ops / secs / 1e9:.2f} GB/s"
        if impl.startswith("limit"):
            ratio = f"{mine / per_s:.2f}" if mine else "-"
            speed = f"npzmap at {100 * per_s / mine:.0f}% of limit" if mine else "-"
        elif impl.startswith("npzmap"):
            ratio = f"{mine / per_s:.2f}" if mine else "1.00"
            speed = "-"
        else:
            ratio = f"{mine / per_s:.3f}" if mine and per_s > 0 else "-"
            speed = f"{per_s / mine:.1f}x" if mine and mine > 0 else "-"
        lo, hi = spread[(task, impl)]
        lines.append(f"| {task} | {impl} | {fmt_secs(secs)} | {fmt_secs(per_s)} | "
                     f"{fmt_secs(lo)}–{fmt_secs(hi)} | {thr} | "
                     f"{rss:.0f} MiB | {ratio} | {speed} |")

    lines += ["",
              "Times are the median of the runs (each round runs every implementation once, in rotated "
              "order, each after a `sync`); per op = time / ops (members, appends, accesses). Every task "
              "runs in its own process and times only the work; peak RSS is that process's `ru_maxrss` "
              "(including the interpreter for Python peers)."] if a.only == "python" else ["",
              "Times are the median of the runs (each round runs every implementation once, in rotated order, each after a `sync`); per op = time / ops (members, appends, accesses). "
              "Every task runs in its own process and times only the work (the `ls` rows of "
              "npzmap time the whole CLI process, start-up included); peak RSS is that "
              "process's `ru_maxrss` (including the interpreter for Python peers, and the mapped "
              "file pages a task touched: the 1 GiB read shows ~1 GiB for everyone). Nothing "
              "fsyncs (npzmap's writer runs with `fsync(false)`, like the peers), so writes go to "
              "the page cache. The limits are Rust: `write` of the same bytes to the same file "
              "system; the sum of the raw `mmap` of the same file. Every Python process (npzmap's "
              "and the peers') runs with `OPENBLAS_NUM_THREADS=1`: no task does linear algebra, "
              "and numpy's idle BLAS threads would spin beside the work on 2 cores."]
    if a.only in ("all", "rust", "tools") and a.cli:
        lines += ["",
                  "Archive tool rows (`pack`, `rewrite`, `merge`): whole `npzmap` processes, which "
                  "fsync their output (and, for rewrite and merge, write it beside the final name "
                  "and rename it), against `cat` of the same input files into one file followed by "
                  "`sync FILE` (an fsync of that file); numpy and mmnpz load each `.npy` with "
                  "`mmap_mode=\"r\"` and write the archive without fsync."]
    if a.only in ("all", "python"):
        lines += ["",
                  "Python package rows (`py:`): every task is a `benches/peers/py_tasks.py` process "
                  "timing only its work (imports and the interpreter start excluded). `load + list` is "
                  "`load(p)` + `[(a.dtype, a.shape) for a in z.values()]` (mmnpz: `load(p, preload=True)`, "
                  "on numpy < 2.3). `first access`: one fresh mapping per process, each of the distinct "
                  "keys accessed once and timed alone with `perf_counter_ns`; the per-op column is the "
                  "MEDIAN single access (np.load reads a copy). `repeated access`: `for _ in range(n): "
                  "z[k]` after one untimed access, loop included (as timeit); the limit is the same loop "
                  "over a Python dict of 1000 keys. Writes: uint8 arrays of the stated size; the limit is "
                  "Python's buffered `f.write` of the same bytes to the same file system, no fsync, like "
                  "`NpzWriter(..., fsync=False)` and mmnpz (which has no fsync); the `fsync at close` "
                  "task fsyncs both once at the end (`f.flush(); os.fsync`; NpzWriter(fsync=True) in "
                  "mode \"w\" writes a temporary file, fsyncs it, renames it over the path and fsyncs "
                  "the directory). Appends: one float64 row of 8 KiB per `append`, "
                  "`rewrite_header_on_append=False` for both, npzmap with `fsync=False` (npy-append-array "
                  "does not fsync; npzmap's default close fsyncs); the limit is a bare `os.pwrite` of each "
                  "row at the same offsets (no buffering: every row handed to the OS, as both do)."]
    # Targets of issue #7, checked against the rows above.
    def per(task_prefix, impl, best=False):
        for task, i, secs, ops, _ in rows:
            if task.startswith(task_prefix) and i == impl:
                return spread[(task, i)][0] if best else (secs / ops if ops else secs)
        return None

    def ratio_row(name, task, theirs, want, ours="npzmap"):
        cells = []
        for best in (False, True):
            t, m = per(task, theirs, best), per(task, ours, best)
            if t is None or m is None:
                return f"| {name} | - | - | - | not measured |"
            cells.append(t / m)
        verdict = "met" if cells[0] >= want else ("MISSED" if cells[1] < want else "met on fastest runs only")
        return f"| {name} | ≥ {want} | {cells[0]:.2f} | {cells[1]:.2f} | {verdict} |"

    def within_row(name, task, limit, most, ours="npzmap"):
        # ours / limit (time per op): at most `most`.
        cells = []
        for best in (False, True):
            t, m = per(task, limit, best), per(task, ours, best)
            if t is None or m is None:
                return f"| {name} | - | - | - | not measured |"
            cells.append(m / t)
        verdict = "met" if cells[0] <= most else ("MISSED" if cells[1] > most else "met on fastest runs only")
        return f"| {name} | ≤ {most} | {cells[0]:.2f} | {cells[1]:.2f} | {verdict} |"

    def abs_row(name, task, limit, ours="npzmap"):
        m, b = per(task, ours), per(task, ours, True)
        if m is None:
            return f"| {name} | - | - | - | not measured |"
        verdict = "met" if m < limit else ("MISSED" if b >= limit else "met on fastest runs only")
        return f"| {name} | < {fmt_secs(limit)} | {fmt_secs(m)} | {fmt_secs(b)} | {verdict} |"

    wl = f"write {large_n} x 16 MiB"
    ws = f"write {small_n} x 1 KiB"
    a8 = f"npy append {app_small_n} x 8 KiB"
    a16 = f"npy append {app_large_n} x 16 MiB"
    op = f"open {small_n} members"
    ls_task = f"ls {small_n} members (numpy-written)"
    if a.only in ("all", "rust", "access"):
        writes = [ratio_row("large write: fraction of the plain-write limit", wl, "limit: plain write", 0.9),
                  ratio_row("small write: entries/s vs mmnpz", ws, "mmnpz", 10),
                  ratio_row("npy append 8 KiB: appends/s vs npy-append-array", a8, "npy-append-array", 5),
                  ratio_row("npy append 16 MiB: fraction of the plain-write limit", a16, "limit: plain write", 0.9)]
        lines += ["", "| target (issue #7) | target | median runs | fastest runs | |", "|---|---:|---:|---:|---|",
                  *(writes if a.only != "access" else []),
                  ratio_row(f"open {small_n} members: speed vs mmnpz", op, "mmnpz", 30),
                  ratio_row(f"open {small_n} members: speed vs np.load", op, "np.load", 30),
                  ratio_row("ls --json (whole process): speed vs np.load + listing", ls_task,
                            "np.load + dtype/shape of each", 50, "npzmap ls --json (CLI, whole process)"),
                  ratio_row("ls --json (whole process): speed vs mmnpz preload + listing", ls_task,
                            "mmnpz load(preload=True) + dtype/shape", 50, "npzmap ls --json (CLI, whole process)"),
                  ratio_row("ls (whole process): speed vs np.load + listing", ls_task,
                            "np.load + dtype/shape of each", 50, "npzmap ls (CLI, whole process)"),
                  ratio_row("ls (whole process): speed vs mmnpz preload + listing", ls_task,
                            "mmnpz load(preload=True) + dtype/shape", 50, "npzmap ls (CLI, whole process)"),
                  abs_row("first access", "first access", 2e-6),
                  abs_row("cached access", "cached access", 50e-9)]
    if a.only in ("all", "rust", "tools"):
        lines += ["", "| target (issue #14, archive tools) | target | median runs | fastest runs | |",
                  "|---|---:|---:|---:|---|",
                  ratio_row("pack: speed vs cat + fsync", "pack ", "limit: cat + fsync", 0.9,
                            "npzmap pack (CLI, whole process, fsync)"),
                  ratio_row("pack: speed vs numpy.savez (no fsync)", "pack ",
                            "numpy.savez of np.load(mmap) (no fsync)", 1.0,
                            "npzmap pack (CLI, whole process, fsync)"),
                  ratio_row("pack: speed vs mmnpz (no fsync)", "pack ",
                            "mmnpz NpzWriter of np.load(mmap) (no fsync)", 1.0,
                            "npzmap pack (CLI, whole process, fsync)"),
                  ratio_row("rewrite 1 GiB: speed vs cat + fsync", "rewrite ", "limit: cat + fsync", 0.9,
                            "npzmap rewrite (CLI, whole process, fsync)"),
                  ratio_row("merge 1 GiB: speed vs cat + fsync", "merge ", "limit: cat + fsync", 0.9,
                            "npzmap merge (CLI, whole process, fsync)")]
    if a.only in ("all", "python"):
        pl = "py: load + list"
        lines += ["", "| target (issue #12, Python package) | target | median runs | fastest runs | |",
                  "|---|---:|---:|---:|---|",
                  ratio_row(f"load + list {small_n} members: speed vs np.load", pl, "np.load", 30,
                            "npzmap.load"),
                  ratio_row(f"load + list {small_n} members: speed vs mmnpz (preload)", pl,
                            "mmnpz.load(preload=True)", 30, "npzmap.load"),
                  abs_row("first access from Python (median access)", "py: first access", 3e-6),
                  within_row("repeated access: time vs a dict lookup", "py: repeated access",
                             "limit: dict lookup", 1.5),
                  ratio_row("NpzWriter.write 16 MiB: fraction of Python f.write (no fsync)",
                            f"py: write {large_n} x 16 MiB", "limit: Python f.write", 0.9, "npzmap.NpzWriter"),
                  ratio_row("NpzWriter.write 16 MiB: fraction of Python f.write (fsync at close, both)",
                            f"py: write {large_n} x 16 MiB, fsync", "limit: Python f.write + fsync", 0.9,
                            "npzmap.NpzWriter(fsync=True)"),
                  ratio_row(f"NpzWriter.write {small_n} x 1 KiB: speed vs mmnpz", f"py: write {small_n} x 1 KiB",
                            "mmnpz", 5, "npzmap.NpzWriter"),
                  ratio_row("NpyAppendArray.append 8 KiB: speed vs npy-append-array", "py: npy append",
                            "npy-append-array", 3, "npzmap.NpyAppendArray"),
                  ratio_row("limit (os.pwrite of each row): speed vs npy-append-array", "py: npy append",
                            "npy-append-array", 3, "limit: os.pwrite of each row"),
                  ratio_row("NpyAppendArray.append 8 KiB: fraction of the os.pwrite limit", "py: npy append",
                            "limit: os.pwrite of each row", 0.9, "npzmap.NpyAppendArray"),
                  ratio_row("NpyAppendArray.append 8 KiB, buffer_bytes=1 MiB (opt-in): speed vs npy-append-array",
                            "py: npy append", "npy-append-array", 3,
                            "npzmap.NpyAppendArray(buffer_bytes=1 MiB), opt-in")]
    if q:
        lines.append("")
        lines.append("(`--quick`: smaller sizes than the targets are stated for.)")
    table = "\n".join(lines)
    print()
    print(table)
    if a.out:
        # The file has the Rust-driven part, then PY_HEADING and the Python
        # package's part; `--only` replaces its own part and keeps the other.
        old = ""
        if a.only != "all" and os.path.exists(a.out):
            with open(a.out) as fh:
                old = fh.read()
        rust_old, _, py_old = old.partition(PY_HEADING)
        if a.only in ("all", "tools", "access"):
            # (`--only tools` and `--only access` write just their table:
            # give them their own --out.)
            text = table
        elif a.only == "rust":
            text = table + ("\n\n" + PY_HEADING + py_old if py_old else "")
        else:
            text = rust_old.rstrip("\n") + ("\n\n" if rust_old.strip() else "") + table
        with open(a.out, "w") as fh:
            fh.write(text.rstrip("\n") + "\n")


if __name__ == "__main__":
    sys.exit(main())
