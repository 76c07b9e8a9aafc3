"""Archives in object storage: requests and time against an S3-compatible
server on loopback (moto, started here on 127.0.0.1 by scripts/s3_server.py),
npzmap against what a user does today (download the whole object, then
np.load), in the same run.

    python benches/peers/remote.py [--members 100000] [--access 1000] [--repeat 5]

Needs the npzmap Python package, numpy, boto3 and moto[server] in this
python (.ci/requirements.txt). Prints a Markdown table: medians of
--repeat runs, each on a fresh `load` (nothing cached between runs).
"""

import argparse
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def start_server(tmp):
    env_file = os.path.join(tmp, "env")
    log = open(os.path.join(tmp, "log"), "w")
    proc = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "scripts", "s3_server.py"), env_file],
        stdout=log,
        stderr=log,
    )
    for _ in range(300):
        if os.path.exists(env_file):
            break
        if proc.poll() is not None:
            raise SystemExit("the S3 server did not start: see " + log.name)
        time.sleep(0.1)
    with open(env_file) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            os.environ[k] = v
    return proc


def client():
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=os.environ["AWS_ENDPOINT"],
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region_name=os.environ["AWS_REGION"],
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=100_000)
    ap.add_argument("--access", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    import npzmap

    with tempfile.TemporaryDirectory() as tmp:
        proc = start_server(tmp)
        try:
            run(npzmap, args, tmp)
        finally:
            proc.terminate()
            proc.wait()


def run(npzmap, args, tmp):
    s3 = client()
    bucket, prefix = os.environ["NPZMAP_TEST_S3_URL"][len("s3://"):].split("/", 1)
    key = prefix + "/bench.npz"
    url = f"s3://{bucket}/{key}"
    # The archive: what numpy.savez writes for one small array per sample.
    local = os.path.join(tmp, "bench.npz")
    rng = np.random.default_rng(0)
    arrays = {f"sample_{i:06d}": rng.standard_normal(8).astype(np.float32) for i in range(args.members)}
    np.savez(local, **arrays)
    size = os.path.getsize(local)
    s3.upload_file(local, bucket, key)
    keys = list(arrays)
    picks = random.Random(1).sample(keys, args.access)

    rows = []

    def measure(task, impl, fn):
        times, reqs, nbytes = [], [], []
        for _ in range(args.repeat):
            t, r, b = fn()
            times.append(t)
            reqs.append(r)
            nbytes.append(b)
        rows.append((task, impl, statistics.median(times), statistics.median(reqs),
                     statistics.median(nbytes)))

    def open_list():
        t = time.perf_counter()
        z = npzmap.load(url)
        files = z.files
        t = time.perf_counter() - t
        assert len(files) == args.members
        return t, z.requests()["gets"], z.requests()["bytes_read"]

    def one_by_one():
        z = npzmap.load(url)
        before = z.requests()["gets"]
        before_bytes = z.requests()["bytes_read"]
        t = time.perf_counter()
        for k in picks:
            z[k]
        t = time.perf_counter() - t
        np.testing.assert_array_equal(z[picks[0]], arrays[picks[0]])
        return t, z.requests()["gets"] - before, z.requests()["bytes_read"] - before_bytes

    def batch():
        z = npzmap.load(url)
        before = z.requests()["gets"]
        before_bytes = z.requests()["bytes_read"]
        t = time.perf_counter()
        got = z.get_many(picks)
        t = time.perf_counter() - t
        np.testing.assert_array_equal(got[-1], arrays[picks[-1]])
        return t, z.requests()["gets"] - before, z.requests()["bytes_read"] - before_bytes

    def naive_open_list():
        t = time.perf_counter()
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        z = np.load(io.BytesIO(body))
        files = z.files
        t = time.perf_counter() - t
        assert len(files) == args.members
        return t, 1, len(body)

    def naive_access():
        t = time.perf_counter()
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        z = np.load(io.BytesIO(body))
        for k in picks:
            z[k]
        t = time.perf_counter() - t
        return t, 1, len(body)

    measure("open + list", "npzmap.load(url).files", open_list)
    measure("open + list", "download + np.load(...).files", naive_open_list)
    measure(f"first access of {args.access} random members", "npzmap: z[k] one by one", one_by_one)
    measure(f"first access of {args.access} random members", "npzmap: z.get_many(keys)", batch)
    measure(f"first access of {args.access} random members", "download + np.load + z[k]", naive_access)

    print(f"Archive: {args.members:,} members (float32 x 8, numpy.savez), {size / 2**20:.1f} MiB, "
          f"on moto {__import__('moto').__version__} at 127.0.0.1; medians of {args.repeat} runs, "
          f"each on a fresh load.\n")
    print("| task | how | time | GET requests | bytes received |")
    print("|---|---|---:|---:|---:|")
    for task, impl, t, r, b in rows:
        print(f"| {task} | {impl} | {t * 1e3:.1f} ms | {r:g} | {b / 2**20:.2f} MiB |")
    one = next(r for task, impl, t, r, b in rows if "one by one" in impl)
    many = next(r for task, impl, t, r, b in rows if "get_many" in impl)
    print(f"\nBatch: {one / max(many, 1):.0f}x fewer requests than one by one.")


if __name__ == "__main__":
    main()
