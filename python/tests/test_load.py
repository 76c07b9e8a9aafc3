"""npzmap.load: values equal to np.load's, as read-only views of the map."""

import gc
import zipfile

import numpy as np
import pytest

import npzmap
from conftest import all_dtypes, sample

DTYPES = all_dtypes()
IDS = [str(d) for d in DTYPES]


def check_view(arr, expected, mapped_bytes_len=None):
    assert arr.dtype == expected.dtype
    assert arr.shape == expected.shape
    np.testing.assert_array_equal(arr, expected)
    assert arr.tobytes(order="A") == expected.tobytes(order="A")
    assert not arr.flags.writeable
    assert not arr.flags.owndata
    # The base chain ends in the object that owns the map.
    assert isinstance(arr.base, npzmap.MappedBytes)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
def test_every_dtype_from_numpy_savez_is_a_view(tmp, dtype, order):
    a = sample(dtype, (3, 4), order)
    p = tmp / "a.npz"
    np.savez(p, a=a, scalar=a.reshape(-1)[:1].reshape(()), empty=a[:0])
    with npzmap.load(p) as z:
        got = z["a"]
        check_view(got, a)
        assert got.flags.f_contiguous == (order == "F")
        check_view(z["scalar"], a.reshape(-1)[:1].reshape(()))
        assert z["empty"].shape == (0, 4)
        # Two reads of the same key share the same bytes (no copy).
        assert np.shares_memory(z["a"], got) or got.nbytes == 0


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
def test_unaligned_members_are_views(tmp, dtype):
    # zip -0 with a name of odd length: numpy's writer does not align data.
    a = sample(dtype, (5,))
    p = tmp / "u.npz"
    aligned = []
    for name in ["x.npy", "xy.npy", "xyz.npy"]:
        with zipfile.ZipFile(p, "w") as zf:
            with zf.open(name, "w") as f:
                np.lib.format.write_array(f, a)
        with npzmap.load(p) as z:
            got = z[name[:-4]]
            check_view(got, a)
            aligned.append(got.ctypes.data % 8 == 0)
    assert not all(aligned)


def test_mapping_protocol_like_np_load(tmp):
    p = tmp / "m.npz"
    arrays = {"b": np.arange(3), "a": np.ones((2, 2)), "dir/c": np.zeros(0)}
    np.savez(p, **arrays)
    ref = np.load(p)
    z = npzmap.load(p)
    assert z.files == ref.files
    assert list(z) == list(ref)
    assert list(z.keys()) == list(ref.keys())
    assert len(z) == len(ref) == 3
    assert "a" in z and "a.npy" in z and "nope" not in z
    for (k1, v1), (k2, v2) in zip(z.items(), ref.items()):
        assert k1 == k2
        np.testing.assert_array_equal(v1, v2)
    for v1, v2 in zip(z.values(), ref.values()):
        np.testing.assert_array_equal(v1, v2)
    np.testing.assert_array_equal(z["a.npy"], ref["a"])
    assert z.get("nope", 5) == 5
    from collections.abc import Mapping
    assert isinstance(z, Mapping)
    assert set(z.arrays) == {"a", "b", "dir/c"}
    z.verify()
    z.close()
    assert z.closed
    with pytest.raises(npzmap.ClosedError):
        z["a"]
    with pytest.raises(ValueError):
        z["a"]


def test_cache_false_makes_a_new_view_each_time(tmp):
    p = tmp / "c.npz"
    np.savez(p, a=np.arange(4))
    z = npzmap.load(p, cache=False)
    x, y = z["a"], z["a"]
    assert x is not y and np.shares_memory(x, y)
    assert z.arrays == {}
    z2 = npzmap.load(p, preload=True)
    assert z2["a"] is z2["a"]


def test_repeated_access_fast_path_keeps_mapping_semantics(tmp):
    # The cached access looks the caller's str object up directly; every
    # other key still goes through the full path with the same results.
    p = tmp / "r.npz"
    a, b = np.arange(6, dtype="<i4"), np.arange(6, dtype="<i4") * 2
    c = np.array(["x", "yz"])
    np.savez(p, a=a, b=b, c=c)
    z = npzmap.load(p)
    first = z["a"]
    assert z["a"] is first
    assert z["a.npy"] is first  # the suffix form finds the same cached array

    class S(str):
        pass

    assert z[S("a")] is first  # a str subclass takes the full path
    np.testing.assert_array_equal(z["b"], b)
    np.testing.assert_array_equal(z["c"], c)
    assert z["c"].dtype == c.dtype
    # One numpy dtype object per distinct dtype of the archive.
    assert z["a"].dtype is z["b"].dtype
    assert z["c"].dtype is not z["a"].dtype
    with pytest.raises(KeyError):
        z["nope"]
    with pytest.raises(TypeError):
        z[1]
    with pytest.raises(TypeError):
        z[b"a"]
    with pytest.raises(TypeError):
        z[["a"]]  # unhashable, as a dict would say
    z.close()
    with pytest.raises(npzmap.ClosedError):
        z["a"]  # cached, but the mapping is closed
    with pytest.raises(npzmap.ClosedError):
        z[S("a")]
    np.testing.assert_array_equal(first, a)


def test_arrays_outlive_close_and_the_mapping(tmp):
    p = tmp / "o.npz"
    a = np.arange(1000, dtype=">f8").reshape(10, 100)
    np.savez(p, a=a)
    z = npzmap.load(p)
    got = z["a"]
    z.close()
    del z
    gc.collect()
    np.testing.assert_array_equal(got, a)
    view = got[3:5, ::7]
    del got
    gc.collect()
    np.testing.assert_array_equal(view, a[3:5, ::7])


def test_deflated_members_are_ordinary_arrays(tmp):
    p = tmp / "d.npz"
    a = sample(np.dtype(">i4"), (50, 3))
    np.savez_compressed(p, a=a, b=sample(np.dtype([("x", "<f8"), ("y", "S2")]), (4,)))
    z = npzmap.load(p)
    got = z["a"]
    np.testing.assert_array_equal(got, a)
    assert got.dtype == a.dtype and got.flags.writeable
    assert z["b"].dtype == np.dtype([("x", "<f8"), ("y", "S2")])


def test_mmap_false_returns_writeable_copies(tmp):
    p = tmp / "w.npz"
    np.savez(p, a=np.arange(5))
    z = npzmap.load(p, mmap=False)
    a = z["a"]
    assert a.flags.writeable and a.flags.owndata
    a[0] = 9
    assert npzmap.load(p)["a"][0] == 0


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
def test_npy_is_a_readonly_map(tmp, dtype, order):
    a = sample(dtype, (4, 3), order)
    p = tmp / "a.npy"
    np.save(p, a)
    got = npzmap.load(p)
    check_view(got, a)
    ref = np.load(p, mmap_mode="r")
    assert got.strides == ref.strides
    copy = npzmap.load(p, mmap=False)
    assert copy.flags.writeable
    np.testing.assert_array_equal(copy, a)


def test_non_array_members_come_back_as_bytes(tmp):
    p = tmp / "r.npz"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("readme.txt", b"hello")
        with zf.open("a.npy", "w") as f:
            np.lib.format.write_array(f, np.arange(3))
    z = npzmap.load(p)
    assert z.files == np.load(p).files
    assert z["readme.txt"] == b"hello"
    np.testing.assert_array_equal(z["a"], np.arange(3))
