"""NpzFile.values() / items() (read in batches), the mapping after close(),
and proof that arrays view the file's own memory map."""

import gc
import os
import zipfile

import numpy as np
import pytest

import npzmap


def many(tmp, n=1000):
    p = tmp / "many.npz"
    arrays = {f"k{i:05d}": np.full((i % 5, 3), i, dtype="<i4" if i % 2 else ">f8") for i in range(n)}
    np.savez(p, **arrays)
    return p, arrays


def test_values_and_items_give_what_getitem_gives(tmp):
    p, arrays = many(tmp)
    z = npzmap.load(p)
    vals = list(z.values())
    assert len(vals) == len(arrays)
    for (k, want), got in zip(arrays.items(), vals):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
        assert not got.flags.writeable
        # cached: the same object as z[k]
        assert z[k] is got
    items = list(z.items())
    assert [k for k, _ in items] == list(arrays)
    assert all(v is z[k] for k, v in items)
    assert list(z.values())[7] is vals[7]


@pytest.mark.parametrize("first", ["arrays", "getitem", "full_name", "get", "get_many", "values"])
def test_arrays_made_by_iteration_are_the_cache(tmp, first):
    # Iteration caches its arrays without inserting them into the dict one
    # by one; every way of reaching the cache afterwards finds those very
    # objects (over several batches of 2048).
    p, arrays = many(tmp, 5000)
    z = npzmap.load(p)
    vals = list(z.values())
    k = "k04321"
    if first == "arrays":
        cached = z.arrays
        assert list(cached) == list(arrays)
        assert all(cached[k] is v for k, v in zip(arrays, vals))
    elif first == "getitem":
        assert z[k] is vals[4321]
    elif first == "full_name":
        assert z[k + ".npy"] is vals[4321]
    elif first == "get":
        assert z.get(k) is vals[4321]
    elif first == "get_many":
        got = z.get_many([k, "k00000"])
        assert got[0] is vals[4321] and got[1] is vals[0]
    else:
        again = list(z.values())
        assert all(a is b for a, b in zip(again, vals))
    assert z[k] is vals[4321] and z["k04999"] is vals[4999]
    assert len(z.arrays) == len(arrays)
    assert all(v is z[k] for k, v in z.items())


def test_values_after_some_getitems_use_the_cache(tmp):
    p, arrays = many(tmp, 600)
    z = npzmap.load(p)
    early = z["k00400"]  # a key of a later batch, cached before iterating
    vals = list(z.values())
    assert vals[400] is early
    # a key cached while iterating, after the iterator passed its batch start
    z2 = npzmap.load(p)
    it = iter(z2.values())
    first = next(it)
    late = z2["k00500"]
    rest = list(it)
    assert rest[499] is late and first is z2["k00000"]


def test_values_follow_files_with_cached_keys_and_duplicates(tmp):
    # Iteration reads members in archive order without key lookups; it
    # still yields what z[k] gives for the keys of `files`: with cached
    # keys in both halves of a large batch, and with duplicate names (the
    # member np.load returns).
    p, arrays = many(tmp, 5000)
    z = npzmap.load(p)
    early = [z["k00010"], z["k01500"], z["k04000"]]
    vals = list(z.values())
    assert vals[10] is early[0] and vals[1500] is early[1] and vals[4000] is early[2]
    for k, v in zip(arrays, vals):
        assert z[k] is v
        np.testing.assert_array_equal(v, arrays[k])
    dup = tmp / "dup.npz"
    np.savez(dup, **{f"k{i}": np.full(2, i) for i in range(3000)})
    with zipfile.ZipFile(dup, "a") as zf:
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("k5.npy", npy_bytes(np.array([55, 55])))
    want = np.load(dup)
    z3 = npzmap.load(dup)
    assert z3.files == want.files and len(z3) == len(want) == 3001
    for k, v in zip(z3.files, z3.values()):
        np.testing.assert_array_equal(v, want[k])
    np.testing.assert_array_equal(z3["k5"], [55, 55])


def npy_bytes(a):
    import io

    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


def test_files_are_made_on_first_use_even_after_close(tmp):
    # `files` (and the keys of arrays cached by iteration) are made only
    # when asked for; after close() they come from the names close() kept.
    p, arrays = many(tmp, 3000)
    z = npzmap.load(p)
    assert len(z) == 3000 and "3000 arrays" in repr(z)
    vals = list(z.values())
    z.close()
    assert z.files == list(arrays) == np.load(p).files
    cached = z.arrays
    assert list(cached) == list(arrays)
    assert all(cached[k] is v for k, v in zip(arrays, vals))
    # Keys of items() are the keys of files, also on a second pass.
    z2 = npzmap.load(p)
    assert [k for k, _ in z2.items()] == list(arrays)
    assert [k for k, _ in z2.items()] == z2.files == list(z2)
    z3 = npzmap.load(p)
    it = iter(z3.values())
    first = next(it)
    z3.close()
    assert z3.arrays["k00000"] is first and len(z3.arrays) == 2048


def test_values_without_cache_are_fresh_views(tmp):
    p, arrays = many(tmp, 300)
    z = npzmap.load(p, cache=False)
    a = list(z.values())
    b = list(z.values())
    assert a[5] is not b[5]
    np.testing.assert_array_equal(a[5], b[5])
    assert z.arrays == {}


def test_values_yield_raw_members_and_raise_at_a_damaged_one(tmp):
    p = tmp / "mixed.npz"
    np.savez(p, a=np.arange(3), b=np.arange(4))
    with zipfile.ZipFile(p, "a") as zf:
        zf.writestr("raw.txt", b"hello")
    z = npzmap.load(p)
    assert list(z.values())[2] == b"hello"
    # a damaged member in the middle: the ones before it come out first
    bad = tmp / "bad.npz"
    with zipfile.ZipFile(bad, "w") as zf:
        for i in range(5):
            zf.writestr(f"m{i}.npy", b"\x93NUMPY\x01\x00" + b"v\x00" + b"{'descr': '<i1', 'fortran_order': False, 'shape': (1,), }".ljust(117) + b"\n" + bytes([i]))
        zf.writestr("m5.npy", b"\x93NUMPY\x01\x00garbage")
        zf.writestr("m6.npy", b"\x93NUMPY\x01\x00" + b"v\x00" + b"{'descr': '<i1', 'fortran_order': False, 'shape': (1,), }".ljust(117) + b"\n" + b"\x06")
    z = npzmap.load(bad)
    it = iter(z.values())
    got = [int(next(it)[0]) for _ in range(5)]
    assert got == [0, 1, 2, 3, 4]
    with pytest.raises(npzmap.FormatError):
        next(it)
    assert int(next(it)[0]) == 6
    with pytest.raises(StopIteration):
        next(it)


def test_damaged_members_in_both_halves_of_a_large_batch(tmp):
    # A batch of more than 512 keys is read by two threads, a half each:
    # every value and every error comes out in its own place.
    good = b"\x93NUMPY\x01\x00" + b"v\x00" + b"{'descr': '<i2', 'fortran_order': False, 'shape': (1,), }".ljust(117) + b"\n"
    bad_at = {3, 700, 1999}
    p = tmp / "big.npz"
    with zipfile.ZipFile(p, "w") as zf:
        for i in range(2000):
            body = b"\x93NUMPY\x01\x00garbage" if i in bad_at else good + i.to_bytes(2, "little")
            zf.writestr(f"m{i:04d}.npy", body)
    for cache in (True, False):
        it = iter(npzmap.load(p, cache=cache).values())
        for i in range(2000):
            if i in bad_at:
                with pytest.raises(npzmap.FormatError, match=f"m{i:04d}.npy"):
                    next(it)
            else:
                assert int(next(it)[0]) == i
        with pytest.raises(StopIteration):
            next(it)


def test_iterating_a_closed_file_raises(tmp):
    p, _ = many(tmp, 10)
    z = npzmap.load(p)
    it = iter(z.values())
    z.close()
    with pytest.raises(npzmap.ClosedError):
        next(it)


def test_contains_after_close_and_files_is_a_copy(tmp):
    p = tmp / "d.npz"
    np.savez(p, x=np.arange(2), y=np.arange(3))
    with zipfile.ZipFile(p, "a") as zf:
        zf.writestr("x", b"shadowing x.npy")  # np.load: "x" now names this member
        zf.writestr("notes.txt", b"n")
    z = npzmap.load(p)
    files = z.files
    files.append("zzz")
    assert "zzz" not in z.files
    names = ["x", "y", "x.npy", "y.npy", "notes.txt"]
    assert all(n in z for n in names)
    assert "z" not in z and "y.np" not in z
    z.close()
    assert all(n in z for n in names)
    assert "z" not in z and "y.np" not in z and "notes" not in z
    # Every member, a duplicate name twice, as np.load lists them.
    assert z.files == np.load(p).files == ["x", "y", "x", "notes.txt"]


def mapped_ranges(path):
    path = os.path.realpath(path)
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[5] == path:
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                out.append((lo, hi))
    return out


def test_arrays_viewing_one_map_share_one_base(tmp):
    p, arrays = many(tmp, 20)
    z = npzmap.load(p)
    vals = list(z.values()) + [z["k00003"], z.get("k00004")]
    base = vals[0].base
    assert isinstance(base, npzmap.MappedBytes)
    assert all(a.base is base for a in vals)
    assert len(base) == os.path.getsize(p)
    z.close()
    # Another mapping of the file: its own base.
    z2 = npzmap.load(p)
    assert z2["k00001"].base is not base
    # A deflated member is an ordinary array (as np.load gives it).
    c = tmp / "c.npz"
    np.savez_compressed(c, a=np.arange(10, dtype="<i8"))
    a = npzmap.load(c)["a"]
    assert a.base is None and a.flags.writeable


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs /proc/self/maps")
def test_arrays_point_into_the_files_memory_map(tmp):
    p, arrays = many(tmp, 50)
    z = npzmap.load(p)
    vals = list(z.values()) + [z["k00003"]]
    ranges = mapped_ranges(p)
    assert ranges, "the archive is not mapped"
    for a in vals:
        if a.nbytes:
            addr = a.__array_interface__["data"][0]
            assert any(lo <= addr and addr + a.nbytes <= hi for lo, hi in ranges)
    # The map outlives the mapping object while an array lives, and the
    # base is not tracked by the cyclic GC (it holds no Python object).
    a = vals[4]
    assert isinstance(a.base, npzmap.MappedBytes) and not gc.is_tracked(a.base)
    del z, vals
    gc.collect()
    assert mapped_ranges(p)
    np.testing.assert_array_equal(a, arrays["k00004"])
    del a
    gc.collect()
    assert not mapped_ranges(p)
