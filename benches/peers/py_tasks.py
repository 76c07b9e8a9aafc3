#!/usr/bin/env python3
"""Python-side tasks of the peer benchmark (issue #12): the `npzmap` Python
package against numpy, mmnpz and npy-append-array, and against the Python
limits (a plain `f.write` of the same bytes, a dict lookup), each driven by
benches/peers/compare.py in its own process.

    py_tasks.py TASK PATH COUNT SIZE

prints one JSON object {"seconds": s, "ops": n} (the time of the work only,
not of interpreter start-up or imports); a task may add "note". Tasks:

  list_npzmap / list_numpy / list_mmnpz   PATH COUNT=0
      load(PATH) + [(a.dtype, a.shape) for a in z.values()]; ops = members.
  first_npzmap / first_numpy / first_mmnpz   PATH COUNT=members SIZE=keys
      a fresh mapping; SIZE distinct keys, each accessed once and timed on
      its own (perf_counter_ns); "seconds" = the MEDIAN access x SIZE, so
      per op is the median single first access.
  cached_npzmap / cached_mmnpz / cached_dict   PATH COUNT=members SIZE=loops
      the same key SIZE times in a loop (`for _ in r: z[k]`, loop included,
      as timeit does), after one untimed access; cached_dict is a Python
      dict lookup of the same key in the same kind of loop, the limit.
  write_npzmap / write_npzmap_fsync / write_limit / write_limit_fsync
      PATH COUNT SIZE: COUNT arrays of SIZE bytes (uint8) with
      NpzWriter(PATH, "w", fsync=...).write, or `f.write` of the same bytes
      (with `_fsync`: f.flush() + os.fsync at the end, as NpzWriter's
      fsync=True syncs the archive once at close).
  write_pair / write_pair_fsync   PATH COUNT SIZE: write_npzmap and
      write_limit alternated 5 times in ONE process (run by hand, not by
      compare.py); adds "limit_seconds" (median) and the ratio.
  write_mmnpz   PATH COUNT SIZE: mmnpz.NpzWriter(PATH, mode="w").write.
  append_npzmap / append_npaa   PATH COUNT SIZE: COUNT appends of one row
      of SIZE bytes (float64), rewrite_header_on_append=False; npzmap with
      fsync=False (npy-append-array does not fsync).
  append_limit   PATH COUNT SIZE: the same rows with a bare os.pwrite each,
      at the offsets the appends write (after a 128-byte header).
  append_npzmap_buffered   the same with buffer_bytes=1 MiB (opt-in: rows
      still in the buffer are lost if the process is killed).
"""

import json
import os
import statistics
import sys
import time


def _rng_bytes(n):
    import numpy as np

    return np.random.default_rng(0).integers(0, 255, n, dtype=np.uint8)


def _keys(n_members, n_access):
    # The same distinct-key sequence as compare.py and peer_tasks.
    return [f"a{(12345 + j * 999983) % n_members:07d}" for j in range(n_access)]


def _loader(impl):
    if impl == "npzmap":
        # npzmap imports numpy on its first array; the other loaders import
        # it up front. Imports are not timed, so numpy is imported here too.
        import numpy  # noqa: F401

        import npzmap

        return npzmap.load
    if impl == "numpy":
        import numpy as np

        return np.load
    if impl == "mmnpz":
        import mmnpz

        return lambda p: mmnpz.load(p, preload=True)
    raise SystemExit(f"unknown implementation {impl}")


def t_list(impl, path, _count, _size):
    load = _loader(impl)
    t = time.perf_counter()
    z = load(path)
    listing = [(a.dtype, a.shape) for a in z.values()]
    secs = time.perf_counter() - t
    return secs, len(listing)


def t_first(impl, path, n_members, n_keys):
    load = _loader(impl) if impl != "mmnpz" else __import__("mmnpz").load
    z = load(path)  # mmnpz: no preload, its first access maps the member
    keys = _keys(n_members, n_keys)
    clock = time.perf_counter_ns
    times = []
    for k in keys:
        t = clock()
        z[k]
        times.append(clock() - t)
    med = statistics.median(times) * 1e-9
    return med * len(keys), len(keys)


def t_cached(impl, path, n_members, loops):
    key = _keys(n_members, 1)[0]
    if impl == "dict":
        import npzmap

        a = npzmap.load(path)[key]
        z = {k: a for k in _keys(n_members, 1000)}  # a dict of 1000 keys
    else:
        z = _loader(impl)(path) if impl != "mmnpz" else __import__("mmnpz").load(path)
    z[key]
    r = range(loops)
    t = time.perf_counter()
    for _ in r:
        z[key]
    return time.perf_counter() - t, loops


def t_write(impl, path, count, size, fsync):
    a = _rng_bytes(size)
    if impl == "npzmap":
        import npzmap

        t = time.perf_counter()
        with npzmap.NpzWriter(path, "w", fsync=fsync) as w:
            for i in range(count):
                w.write(f"a{i:07d}", a)
        return time.perf_counter() - t, count
    if impl == "mmnpz":
        import mmnpz

        t = time.perf_counter()
        with mmnpz.NpzWriter(path, mode="w") as w:
            for i in range(count):
                w.write(f"a{i:07d}", a)
        return time.perf_counter() - t, count
    if impl == "limit":
        b = bytes(a)
        t = time.perf_counter()
        with open(path, "wb") as f:
            for _ in range(count):
                f.write(b)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        return time.perf_counter() - t, count
    raise SystemExit(f"unknown implementation {impl}")


def t_write_pair(path, count, size, fsync, rounds=5):
    """NpzWriter.write and the plain f.write limit in ONE process, alternated
    `rounds` times (os.sync before each, file removed after): prints the
    median of each ("seconds" is npzmap's, "limit_seconds" the limit's)."""
    ours, limit = [], []
    for r in range(rounds):
        pair = [("npzmap", ours), ("limit", limit)]
        for impl, acc in (pair if r % 2 == 0 else pair[::-1]):
            os.sync()
            acc.append(t_write(impl, path, count, size, fsync)[0])
            os.remove(path)
    return statistics.median(ours), count, {"limit_seconds": statistics.median(limit),
                                            "ratio_limit_over_npzmap": statistics.median(limit) / statistics.median(ours),
                                            "npzmap_all": ours, "limit_all": limit}


def t_append(impl, path, count, row_bytes, buffer_bytes=0):
    import numpy as np

    a = np.random.default_rng(0).random((1, row_bytes // 8))
    if os.path.exists(path):
        os.remove(path)
    if impl == "limit":
        header = b"x" * 128
        t = time.perf_counter()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.pwrite(fd, header, 0)
            for i in range(count):
                os.pwrite(fd, a, 128 + i * row_bytes)
            os.pwrite(fd, header, 0)
        finally:
            os.close(fd)
        return time.perf_counter() - t, count
    if impl == "npzmap":
        from npzmap import NpyAppendArray
        extra = {"fsync": False}
        if buffer_bytes:
            extra["buffer_bytes"] = buffer_bytes
    else:
        from npy_append_array import NpyAppendArray
        extra = {}
    t = time.perf_counter()
    with NpyAppendArray(path, rewrite_header_on_append=False, **extra) as f:
        for _ in range(count):
            f.append(a)
    return time.perf_counter() - t, count


TASKS = {}
for _impl in ("npzmap", "numpy", "mmnpz"):
    TASKS[f"list_{_impl}"] = (lambda i: lambda p, c, s: t_list(i, p, c, s))(_impl)
    TASKS[f"first_{_impl}"] = (lambda i: lambda p, c, s: t_first(i, p, c, s))(_impl)
for _impl in ("npzmap", "mmnpz", "dict"):
    TASKS[f"cached_{_impl}"] = (lambda i: lambda p, c, s: t_cached(i, p, c, s))(_impl)
for _impl in ("npzmap", "limit"):
    TASKS[f"write_{_impl}"] = (lambda i: lambda p, c, s: t_write(i, p, c, s, False))(_impl)
    TASKS[f"write_{_impl}_fsync"] = (lambda i: lambda p, c, s: t_write(i, p, c, s, True))(_impl)
TASKS["write_pair"] = lambda p, c, s: t_write_pair(p, c, s, False)
TASKS["write_pair_fsync"] = lambda p, c, s: t_write_pair(p, c, s, True)
TASKS["write_mmnpz"] = lambda p, c, s: t_write("mmnpz", p, c, s, False)
TASKS["append_npzmap"] = lambda p, c, s: t_append("npzmap", p, c, s)
TASKS["append_npaa"] = lambda p, c, s: t_append("npaa", p, c, s)
TASKS["append_limit"] = lambda p, c, s: t_append("limit", p, c, s)
TASKS["append_npzmap_buffered"] = lambda p, c, s: t_append("npzmap", p, c, s, 1 << 20)


def main(argv):
    if len(argv) != 4 or argv[0] not in TASKS:
        raise SystemExit(f"usage: py_tasks.py TASK PATH COUNT SIZE; tasks: {' '.join(sorted(TASKS))}")
    task, path, count, size = argv[0], argv[1], int(argv[2]), int(argv[3])
    secs, ops, *extra = TASKS[task](path, count, size)
    print(json.dumps({"seconds": secs, "ops": ops, **(extra[0] if extra else {})}))


if __name__ == "__main__":
    main(sys.argv[1:])
