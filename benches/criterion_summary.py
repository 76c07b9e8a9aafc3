#!/usr/bin/env python3
"""Prints a markdown summary of the last `cargo bench` run (npz_write,
npz_read, npy_append): median time, throughput, and the fraction of the
limit measured in the same group (limit time / time).

    python3 benches/criterion_summary.py [target/criterion]
"""
import glob
import json
import os
import sys

# group -> the limit each bench of the group is compared with
LIMITS = {
    "write_64x16MiB": "limit_plain_write",
    "npy_append_8KiB": "limit_plain_write/2000",
    "npy_append_16MiB": "limit_plain_write/8",
    "read_1GiB": "limit_sum",
    "verify_1GiB": "limit_crc32",
    "npy_read_128MiB": "limit_mmap_sum",
}
ORDER = ["write_64x16MiB", "write_100k_x_1KiB", "npy_append_8KiB", "npy_append_16MiB", "open",
         "first_access", "cached_access", "read_1GiB", "verify_1GiB", "npy_read_128MiB"]


def fmt(ns):
    for unit, div in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= div:
            return f"{ns / div:.3g} {unit}"
    return f"{ns:.3g} ns"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
    res = {}
    for f in glob.glob(os.path.join(root, "**", "new", "benchmark.json"), recursive=True):
        bm = json.load(open(f))
        est = json.load(open(os.path.join(os.path.dirname(f), "estimates.json")))
        res[(bm["group_id"], bm["full_id"][len(bm["group_id"]) + 1:])] = (
            est["median"]["point_estimate"], bm.get("throughput") or {})
    print("| group | bench | median | throughput | per element | % of limit |")
    print("|---|---|---:|---:|---:|---:|")
    groups = sorted({g for g, _ in res}, key=lambda g: (ORDER.index(g) if g in ORDER else 99, g))
    for g in groups:
        lim = res.get((g, LIMITS.get(g, "")))
        for (gg, name), (ns, thr) in sorted(res.items(), key=lambda kv: kv[1][0]):
            if gg != g:
                continue
            tp, per = "-", "-"
            if "Bytes" in thr:
                tp = f"{thr['Bytes'] / ns:.2f} GB/s"
            elif "Elements" in thr:
                n = thr["Elements"]
                tp = f"{n / ns * 1e3:.3g} M/s"
                per = fmt(ns / n)
            pct = "-"
            if lim and not name.startswith("limit"):
                pct = f"{100 * lim[0] / ns:.0f}%"
            print(f"| {g} | {name} | {fmt(ns)} | {tp} | {per} | {pct} |")


if __name__ == "__main__":
    main()
