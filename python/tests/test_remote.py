"""Archives in object storage from Python: npzmap.load("s3://...") and
NpzWriter("s3://...") against the S3-compatible server that scripts/test.sh
starts on 127.0.0.1 (moto). The URL of a bucket prefix is in
NPZMAP_TEST_S3_URL; without it the tests are skipped, or fail when CI is set.
"""

import gc
import io
import os
import uuid

import numpy as np
import pytest

import npzmap
from conftest import all_dtypes, sample

BASE = os.environ.get("NPZMAP_TEST_S3_URL")
if not BASE:
    if os.environ.get("CI"):
        raise RuntimeError("NPZMAP_TEST_S3_URL is not set: the S3 server did not start (required when CI is set)")
    pytest.skip("no S3 server (NPZMAP_TEST_S3_URL unset)", allow_module_level=True)


def url(name):
    return f"{BASE}/py-{uuid.uuid4().hex}/{name}"


def s3():
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=os.environ["AWS_ENDPOINT"],
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
    )


def split(u):
    bucket, _, key = u[len("s3://"):].partition("/")
    return bucket, key


def download(u):
    bucket, key = split(u)
    return s3().get_object(Bucket=bucket, Key=key)["Body"].read()


def upload(u, data):
    bucket, key = split(u)
    s3().put_object(Bucket=bucket, Key=key, Body=data)


def exists(u):
    bucket, key = split(u)
    r = s3().list_objects_v2(Bucket=bucket, Prefix=key)
    return any(o["Key"] == key for o in r.get("Contents", []))


def test_write_to_bucket_then_numpy_and_npzmap_read_it(tmp_path):
    u = url("a.npz")
    arrays = {f"a{i}": sample(dt) for i, dt in enumerate(all_dtypes())}
    with npzmap.NpzWriter(u, "w") as w:
        for k, a in arrays.items():
            w.write(k, a)
        with w.stream("rows", np.float32, (3,)) as s:
            for i in range(100):
                s.append(np.full((2, 3), i, np.float32))
    rows = np.repeat(np.arange(100, dtype=np.float32), 2)[:, None] * np.ones(3, np.float32)
    # numpy, after download
    local = tmp_path / "downloaded.npz"
    local.write_bytes(download(u))
    with np.load(local) as z:
        assert sorted(z.files) == sorted(list(arrays) + ["rows"])
        for k, a in arrays.items():
            assert z[k].dtype == a.dtype and z[k].shape == a.shape
            # Field by field: np.load reads zip members element by element,
            # leaving a padded structured dtype's padding bytes unset.
            np.testing.assert_array_equal(z[k], a, err_msg=k)
        np.testing.assert_array_equal(z["rows"], rows)
    # npzmap, remotely
    z = npzmap.load(u)
    assert z.files == list(arrays) + ["rows"]
    for k, a in arrays.items():
        v = z[k]
        assert v.dtype == a.dtype and v.shape == a.shape
        assert v.tobytes() == a.tobytes(), k
        assert not v.flags.writeable
    np.testing.assert_array_equal(z["rows"], rows)
    z.verify()


def test_savez_to_a_bucket_equals_numpy_savez():
    u = url("s.npz")
    a, b = np.arange(10.0), np.eye(3, dtype=">i2")
    npzmap.savez(u, a, b=b)
    ref = io.BytesIO()
    np.savez(ref, a, b=b)
    ref.seek(0)
    with np.load(ref) as want, np.load(io.BytesIO(download(u))) as got:
        assert want.files == got.files
        for k in want.files:
            assert want[k].dtype == got[k].dtype
            np.testing.assert_array_equal(want[k], got[k])


def test_requests_open_first_access_and_batch():
    u = url("many.npz")
    n = 2000
    with npzmap.NpzWriter(u) as w:
        for i in range(n):
            w.write(f"k{i}", np.full(16, i, np.int64))
    z = npzmap.load(u)
    assert z.requests()["gets"] <= 2
    assert len(z.files) == n
    before = z.requests()["gets"]
    for i in range(10):
        np.testing.assert_array_equal(z[f"k{i}"], np.full(16, i, np.int64))
    assert z.requests()["gets"] - before == 10
    before = z.requests()["gets"]
    z[f"k{3}"]
    assert z.requests()["gets"] == before, "a repeated access is served from memory"
    keys = [f"k{i}" for i in range(100, 1100)]
    got = z.get_many(keys)
    batch = z.requests()["gets"] - before
    assert 1 <= batch <= 50, batch
    for i, a in zip(range(100, 1100), got):
        np.testing.assert_array_equal(a, np.full(16, i, np.int64))


def test_local_archives_have_no_requests(tmp_path):
    p = tmp_path / "l.npz"
    np.savez(p, x=np.arange(3))
    assert npzmap.load(p).requests() is None


def test_append_mode_is_refused_and_nothing_is_written():
    u = url("a.npz")
    with pytest.raises(npzmap.UsageError, match="not supported for object storage"):
        npzmap.NpzWriter(u, "a")
    assert not exists(u)


def test_create_new_refuses_an_existing_object_and_leaves_it():
    u = url("x.npz")
    buf = io.BytesIO()
    np.savez(buf, old=np.arange(4))
    upload(u, buf.getvalue())
    with pytest.raises(npzmap.ExistingFileError):
        npzmap.NpzWriter(u, "x")
    assert download(u) == buf.getvalue()


def test_unclosed_writer_leaves_the_old_object_untouched():
    u = url("keep.npz")
    buf = io.BytesIO()
    np.savez(buf, old=np.arange(4))
    upload(u, buf.getvalue())
    # More than one part (8 MiB) uploaded, then the writer is dropped
    # without close: the upload is aborted.
    w = npzmap.NpzWriter(u, "w")
    w.write("big", np.zeros(20 << 20, np.uint8))
    del w
    gc.collect()
    assert download(u) == buf.getvalue()
    # Closed (also on leaving a `with` block, as zipfile does): replaced.
    with npzmap.NpzWriter(u, "w") as w:
        w.write("new", np.arange(3))
    with np.load(io.BytesIO(download(u))) as z:
        assert z.files == ["new"]


def test_missing_object_is_a_missing_file():
    with pytest.raises(npzmap.MissingFileError) as e:
        npzmap.load(url("nope.npz"))
    assert isinstance(e.value, FileNotFoundError) or isinstance(e.value, OSError)


def test_damaged_objects_raise_what_local_files_raise(tmp_path):
    buf = io.BytesIO()
    np.savez(buf, x=np.arange(1000), y=np.ones((3, 3)))
    good = buf.getvalue()
    cases = {
        "cut tail": good[:-10],
        "cut middle": good[: len(good) // 2],
        "not a zip": b"hello world" * 10,
        "flipped data": good[:200] + bytes([good[200] ^ 0xFF]) + good[201:],
    }
    for name, data in cases.items():
        p = tmp_path / "d.npz"
        p.write_bytes(data)
        u = url("d.npz")
        upload(u, data)

        def outcome(src):
            try:
                z = npzmap.load(src)
                for k in z.files:
                    z[k]
                z.verify()
                return None
            except npzmap.Error as e:
                return type(e)

        local = outcome(str(p))
        assert local is not None, name
        assert outcome(u) is local, name


def test_readme_object_storage_example_runs(capsys):
    """The README's Python example for object storage, on the test bucket."""
    import pathlib
    import re

    readme = pathlib.Path(__file__).resolve().parents[2] / "README.md"
    section = readme.read_text().split("## Object storage\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1
    prefix = f"{BASE}/py-{uuid.uuid4().hex}"
    exec(compile(blocks[0].replace("s3://my-bucket", prefix), str(readme), "exec"), {})
    out = capsys.readouterr().out.strip()
    assert out.startswith("{'gets': 3, 'bytes_read': ") and out.endswith("'puts': 0, 'bytes_written': 0}")
