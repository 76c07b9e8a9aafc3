"""NpzWriter, streams and savez: read back by numpy and npzmap."""

import zipfile

import numpy as np
import pytest

import npzmap
from conftest import all_dtypes, sample

DTYPES = all_dtypes()
IDS = [str(d) for d in DTYPES]


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
def test_writer_every_dtype_round_trips(tmp, dtype, order):
    a = sample(dtype, (3, 4), order)
    p = tmp / "w.npz"
    with npzmap.NpzWriter(p, "w") as w:
        w.write("a", a)
        w.write("s", a.reshape(-1)[:1].reshape(()))
        w.write("strided", a[:, ::2])
    ref = np.load(p)
    np.testing.assert_array_equal(ref["a"], a)
    assert ref["a"].dtype == a.dtype
    assert ref["a"].flags.f_contiguous == (order == "F")
    np.testing.assert_array_equal(ref["strided"], a[:, ::2])
    with npzmap.load(p) as z:
        got = z["a"]
        np.testing.assert_array_equal(got, a)
        assert not got.flags.writeable and isinstance(got.base, npzmap.MappedBytes)
        assert got.ctypes.data % 64 == 0 or got.nbytes == 0  # aligned members
        assert z["strided"].flags.c_contiguous


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
def test_append_onto_numpy_archive_keeps_old_entries(tmp, dtype):
    a = sample(dtype, (2, 5))
    p = tmp / "n.npz"
    np.savez(p, old=a, other=np.arange(3))
    np.savez_compressed(tmp / "c.npz", old=a)
    with npzmap.NpzWriter(p, "a") as w:
        w.write("new", a[::-1])
    ref = np.load(p)
    assert ref.files == ["old", "other", "new"]
    np.testing.assert_array_equal(ref["old"], a)
    np.testing.assert_array_equal(ref["new"], a[::-1])
    with npzmap.load(p) as z:
        for k, v in [("old", a), ("new", a[::-1])]:
            got = z[k]
            np.testing.assert_array_equal(got, v)
            assert not got.flags.writeable and not got.flags.owndata
    # Appending to a deflated archive keeps its deflated member.
    with npzmap.NpzWriter(tmp / "c.npz", "a") as w:
        w.write("new", a)
    z = npzmap.load(tmp / "c.npz")
    np.testing.assert_array_equal(z["old"], a)
    np.testing.assert_array_equal(z["new"], a)
    assert zipfile.ZipFile(tmp / "c.npz").testzip() is None


def test_modes(tmp):
    p = tmp / "m.npz"
    with npzmap.NpzWriter(p, "x") as w:
        w.write("a", [1, 2, 3])
    with pytest.raises(FileExistsError):
        npzmap.NpzWriter(p, "x")
    with npzmap.NpzWriter(p, "w", align=4096, fsync=False) as w:
        w.write("b", np.arange(3.0))
    z = npzmap.load(p)
    assert z.files == ["b"] and z["b"].ctypes.data % 4096 == 0
    with pytest.raises(ValueError):
        npzmap.NpzWriter(tmp / "q.npz", "r")
    w = npzmap.NpzWriter(tmp / "o.npz")
    with pytest.raises(npzmap.UsageError):
        w.write("o", np.array([1, None], dtype=object))
    w.write("ok", [[1.5]])
    with pytest.raises(npzmap.UsageError):
        w.write("ok", [2])  # duplicate name
    w.close()
    with pytest.raises(npzmap.ClosedError):
        w.write("late", [1])
    assert np.load(tmp / "o.npz").files == ["ok"]


def test_savez_equals_numpy_savez(tmp):
    arrays = [np.arange(6).reshape(2, 3), np.array("text"), np.zeros((2, 2), ">f4", order="F")]
    kw = {"x": np.linspace(0, 1, 5), "rec": sample(np.dtype([("a", "<i2"), ("b", "S2")]), (3,))}
    np.savez(tmp / "ref", *arrays, **kw)
    npzmap.savez(tmp / "got", *arrays, **kw)
    npzmap.savez(str(tmp / "got2.npz"), *arrays)
    ref, got = np.load(tmp / "ref.npz"), np.load(tmp / "got.npz")
    assert ref.files == got.files
    for k in ref.files:
        assert ref[k].dtype == got[k].dtype and ref[k].shape == got[k].shape
        assert ref[k].flags.f_contiguous == got[k].flags.f_contiguous
        np.testing.assert_array_equal(ref[k], got[k])
    assert np.load(tmp / "got2.npz").files == ["arr_0", "arr_1", "arr_2"]
    with pytest.raises(ValueError):
        npzmap.savez(tmp / "bad", np.arange(2), arr_0=np.arange(2))


def test_a_key_holding_a_local_header_signature(tmp):
    # numpy writes it; npzmap reads and recovers it, but does not write it
    # (after a crash, recovery could not tell it from a damaged header).
    key = "PK\x03\x04x"
    np.savez(tmp / "np.npz", a=np.arange(3), **{key: np.arange(4.0)}, c=np.ones(2))
    z = npzmap.load(tmp / "np.npz")
    assert z.files == ["a", key, "c"]
    np.testing.assert_array_equal(z[key], np.arange(4.0))
    r = npzmap.recover_npz(tmp / "np.npz", tmp / "fixed.npz")
    assert r["kept"] == ["a.npy", key + ".npy", "c.npy"] and r["dropped"] == []
    with npzmap.NpzWriter(tmp / "w.npz") as w:
        with pytest.raises(npzmap.UsageError, match="local header signature"):
            w.write(key, [1])
        w.write("ok", [1])
    assert np.load(tmp / "w.npz").files == ["ok"]


@pytest.mark.parametrize("order", ["C", "F"])
def test_stream(tmp, order):
    p = tmp / "s.npz"
    with npzmap.NpzWriter(p) as w:
        w.write("before", [1])
        with w.stream("x", "<f4", (3,), order=order) as s:
            for i in range(10):
                block = np.full((2, 3) if order == "C" else (3, 2), i, dtype="<f8")
                s.append(block)
            s.append(np.arange(3))  # one row
            assert s.rows == 21
        w.write("after", [2])
    ref = np.load(p)
    assert ref.files == ["before", "x", "after"]
    x = ref["x"]
    assert x.dtype == np.dtype("<f4")
    if order == "C":
        assert x.shape == (21, 3)
        np.testing.assert_array_equal(x[:2], 0)
        np.testing.assert_array_equal(x[-1], [0, 1, 2])
    else:
        assert x.shape == (3, 21) and x.flags.f_contiguous
        np.testing.assert_array_equal(x[:, 18:20], 9)
        np.testing.assert_array_equal(x[:, -1], [0, 1, 2])


def test_stream_errors_and_abort(tmp):
    p = tmp / "e.npz"
    w = npzmap.NpzWriter(p)
    s = w.stream("x", "i4", (2,))
    with pytest.raises(npzmap.UsageError):
        w.write("y", [1])  # the stream holds the writer
    with pytest.raises(ValueError):
        s.append(np.zeros((2, 3)))
    s.append(np.zeros((1, 2)))
    s.abort()
    with pytest.raises(RuntimeError):
        with w.stream("z", "i4", (2,)) as s2:
            s2.append([[1, 2]])
            raise RuntimeError("boom")
    with w.stream("k", "i4", (2,)) as s3:
        s3.append([[1, 2]])
    del s, s2, s3
    # An unfinished stream that is dropped gives the writer back.
    s4 = w.stream("dropped", "u1", (1,))
    s4.append([[1]])
    del s4
    import gc
    gc.collect()
    w.write("y", [1])
    w.close()
    assert np.load(p).files == ["k", "y"]


def test_reads_and_appends_to_mmnpz_archives(tmp):
    import os
    mmnpz = pytest.importorskip("mmnpz") if not os.environ.get("CI") else __import__("mmnpz")
    p = tmp / "mm.npz"
    a = sample(np.dtype(">f8"), (4, 3), "F")
    with mmnpz.NpzWriter(str(p), "w") as f:
        f.write("a", a)
        f.write("b", [1, 2, 3])
    with npzmap.NpzWriter(p, "a") as w:
        w.write("c", a.T)
    z = npzmap.load(p)
    assert z.files == ["a", "b", "c"]
    np.testing.assert_array_equal(z["a"], a)
    assert not z["a"].flags.writeable and z["a"].flags.f_contiguous
    np.testing.assert_array_equal(z["c"], a.T)
    np.testing.assert_array_equal(np.load(p)["b"], [1, 2, 3])


def test_writer_dtype_translation_follows_the_dtype_not_its_identity(tmp):
    # npzmap remembers the .npy descr of field-less dtypes by identity; a
    # structured dtype can be renamed in place, so it is translated anew.
    p = tmp / "d.npz"
    dt = np.dtype([("a", "<i4"), ("b", "<f8")])
    x = np.zeros(2, dtype=dt)
    with npzmap.NpzWriter(p) as w:
        w.write("first", x)
        dt.names = ("c", "d")  # x's dtype is dt: renamed too
        w.write("second", x)
        w.write("f8", np.arange(3.0))
        w.write("f8again", np.arange(3.0))
        w.write("s", np.datetime64("2020-01-01", "s") + np.arange(2))
        w.write("d", np.datetime64("2020-01-01", "D") + np.arange(2))
    ref = np.load(p)
    assert ref["first"].dtype.names == ("a", "b")
    assert ref["second"].dtype.names == ("c", "d")
    assert ref["f8again"].dtype == np.dtype("<f8")
    assert ref["s"].dtype == np.dtype("<M8[s]")
    assert ref["d"].dtype == np.dtype("<M8[D]")
    np.testing.assert_array_equal(ref["d"], np.datetime64("2020-01-01", "D") + np.arange(2))
