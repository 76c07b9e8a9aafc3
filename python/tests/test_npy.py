"""NpyAppendArray against npy-append-array, recover, ensure_appendable,
recover_npz and save_npy."""

import os
import threading

import numpy as np
import pytest

import npzmap
from conftest import sample

naa = pytest.importorskip("npy_append_array") if not os.environ.get("CI") else \
    __import__("npy_append_array")


@pytest.mark.parametrize("fsync", [True, False])
@pytest.mark.parametrize("rewrite", [True, False])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", ["<f8", ">i4", "u1", "<c8", "S3", "<M8[s]", "?"])
def test_append_byte_identical_to_npy_append_array(tmp, dtype, order, rewrite, fsync):
    # fsync=False: close() writes the same final header, without the fsync.
    dt = np.dtype(dtype)
    blocks = [sample(dt, (2, 3), order), sample(dt, (5, 3), order)[::-1],
              sample(dt, (1, 3), order)]
    if order == "F":
        blocks = [np.asfortranarray(sample(dt, (3, n), "F")) for n in (2, 5, 1)]
    ours, theirs = tmp / "ours.npy", tmp / "theirs.npy"
    with npzmap.NpyAppendArray(ours, rewrite_header_on_append=rewrite, fsync=fsync) as a:
        for b in blocks:
            a.append(b)
    with naa.NpyAppendArray(theirs, rewrite_header_on_append=rewrite) as a:
        for b in blocks:
            a.append(b)
    assert ours.read_bytes() == theirs.read_bytes()
    got = np.load(ours)
    axis = -1 if order == "F" else 0
    np.testing.assert_array_equal(got, np.concatenate(blocks, axis=axis))


@pytest.mark.parametrize("order", ["C", "F"])
def test_buffered_append_byte_identical_and_flushed(tmp, order):
    # buffer_bytes: the same file as npy-append-array's, written in few
    # calls; rows in the buffer reach the file at flush()/close().
    dt = np.dtype("<f8")
    if order == "F":
        blocks = [np.asfortranarray(sample(dt, (4, n), "F")) for n in (2, 3, 200, 1)]
    else:
        blocks = [sample(dt, (n, 4), "C") for n in (2, 3, 200, 1)]
    ours, theirs = tmp / "ours.npy", tmp / "theirs.npy"
    a = npzmap.NpyAppendArray(ours, rewrite_header_on_append=False, buffer_bytes=4096,
                              fsync=order == "C")
    a.append(blocks[0])
    a.append(blocks[1])
    size = ours.stat().st_size
    a.flush()
    assert ours.stat().st_size > size  # the buffered rows were written
    axis = -1 if order == "F" else 0
    np.testing.assert_array_equal(np.load(ours), np.concatenate(blocks[:2], axis=axis))
    a.append(blocks[2])  # larger than the buffer: written through
    a.append(blocks[3])
    a.close()
    with naa.NpyAppendArray(theirs, rewrite_header_on_append=False) as b:
        for x in blocks:
            b.append(x)
    assert ours.read_bytes() == theirs.read_bytes()
    with pytest.raises(npzmap.UsageError, match="rewrite_header_on_append"):
        npzmap.NpyAppendArray(tmp / "x.npy", buffer_bytes=4096)


def test_append_to_np_save_file_and_cast(tmp):
    p, q = tmp / "a.npy", tmp / "b.npy"
    for f in (p, q):
        np.save(f, np.arange(6, dtype="<i8").reshape(3, 2))
    with npzmap.NpyAppendArray(p) as a:
        assert a.shape == (3, 2)
        a.append(np.ones((2, 2), dtype="<i4"))  # cast like npy-append-array
        a.append([[7, 8]])
    with naa.NpyAppendArray(q) as a:
        a.append(np.ones((2, 2), dtype="<i4"))
        a.append(np.array([[7, 8]]))
    assert p.read_bytes() == q.read_bytes()


def test_append_errors(tmp):
    p = tmp / "e.npy"
    with npzmap.NpyAppendArray(p) as a:
        a.append(np.zeros((2, 3)))
        with pytest.raises(ValueError):
            a.append(np.zeros((2, 4)))
    a.close()
    with pytest.raises(npzmap.ClosedError):
        a.append(np.zeros((1, 3)))
    assert np.load(p).shape == (2, 3)
    with npzmap.NpyAppendArray(p, delete_if_exists=True) as a:
        a.append(np.zeros(4, dtype="u1"))
    assert np.load(p).dtype == np.uint8


def test_threads_append_and_read(tmp):
    p = tmp / "t.npy"
    row = np.arange(1024, dtype="<f8")
    with npzmap.NpyAppendArray(p) as a:
        a.append(row[None])

        def worker(k):
            for _ in range(50):
                a.append(np.tile(row * 0 + k, (2, 1)))

        ts = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    got = np.load(p)
    assert got.shape == (401, 1024)
    np.testing.assert_array_equal(got[0], row)
    for k in range(4):  # whole rows, never torn
        assert (np.all(got[1:] == got[1:, :1], axis=1)).all()
        assert (got[1:, 0] == k).sum() == 100


def test_recover_equal_to_npy_append_array(tmp):
    for zerofill in (False, True):
        src = tmp / "src.npy"
        with naa.NpyAppendArray(src, delete_if_exists=True, rewrite_header_on_append=False) as a:
            a.append(np.arange(40, dtype="<f4").reshape(10, 4))
        data = src.read_bytes()
        # Append three more rows and a half without updating the header.
        extra = np.arange(14, dtype="<f4").tobytes()
        ours, theirs = tmp / "ours.npy", tmp / "theirs.npy"
        ours.write_bytes(data + extra)
        theirs.write_bytes(data + extra)
        assert npzmap.needs_recovery(ours)
        report = npzmap.recover(ours, zerofill_incomplete=zerofill)
        naa.recover(theirs, zerofill_incomplete=zerofill)
        assert ours.read_bytes() == theirs.read_bytes()
        assert report["rows_after"] == (14 if zerofill else 13) and report["changed"]
        assert not npzmap.needs_recovery(ours)


def test_ensure_appendable(tmp):
    import numpy.lib.format as fmt
    for inplace in (False, True):
        p = tmp / "legacy.npy"
        a = np.arange(12, dtype="<i2").reshape(4, 3)
        with open(p, "wb") as f:
            # A minimal header without numpy's spare room (as old numpy wrote).
            d = {"descr": "<i2", "fortran_order": False, "shape": (4, 3)}
            h = repr(d).encode("latin1")
            pad = (-(10 + len(h) + 1)) % 16
            f.write(b"\x93NUMPY\x01\x00" + (len(h) + pad + 1).to_bytes(2, "little")
                    + h + b" " * pad + b"\n")
            f.write(a.tobytes())
        assert npzmap.ensure_appendable(p, inplace=inplace) is True
        with npzmap.NpyAppendArray(p) as w:
            w.append(a)
        np.testing.assert_array_equal(np.load(p), np.concatenate([a, a]))
        assert fmt  # header readable by numpy


def test_recover_npz(tmp):
    src = tmp / "s.npz"
    npzmap.savez(src, a=np.arange(100), b=np.ones((10, 10)))
    data = src.read_bytes()
    cut = tmp / "cut.npz"
    cut.write_bytes(data[: len(data) - 200])  # central directory lost
    with pytest.raises(npzmap.FormatError):
        npzmap.load(cut)
    dst = tmp / "fixed.npz"
    report = npzmap.recover_npz(cut, dst)
    z = np.load(dst)
    assert "a" in z.files and report["kept"]
    np.testing.assert_array_equal(z["a"], np.arange(100))


def test_save_npy_approaches(tmp):
    p = tmp / "r.npy"
    npzmap.save_npy(p, np.zeros(40), approach="append")
    npzmap.save_npy(p, np.ones(10), approach="append")
    ref = np.concatenate([np.zeros(40), np.ones(10)])
    np.testing.assert_array_equal(np.load(p), ref)
    npzmap.save_npy(p, [99.5, 98.3, 97.8], approach="update", indices=[10, 20, 30])
    ref[[10, 20, 30]] = [99.5, 98.3, 97.8]
    np.testing.assert_array_equal(np.load(p), ref)
    with pytest.raises(IndexError):
        npzmap.save_npy(p, [1.0], approach="update", indices=[50])
    np.testing.assert_array_equal(np.load(p), ref)
    m = tmp / "m.npy"
    np.save(m, np.zeros((5, 3), dtype="<i4"))
    npzmap.save_npy(m, [[1, 2, 3]], approach="update", indices=[4])
    npzmap.save_npy(m, [7, 8, 9], approach="update", indices=[0])
    got = np.load(m)
    assert list(got[4]) == [1, 2, 3] and list(got[0]) == [7, 8, 9] and got.dtype == "<i4"
    npzmap.save_npy(p, np.arange(3, dtype="u2"), approach="overwrite")
    assert p.read_bytes() == _np_save_bytes(tmp, np.arange(3, dtype="u2"))
    with pytest.raises(ValueError):
        npzmap.save_npy(p, [1], approach="insert")
    with pytest.raises(ValueError):
        npzmap.save_npy(p, [1], approach="update")


def _np_save_bytes(tmp, a):
    q = tmp / "ref.npy"
    np.save(q, a)
    return q.read_bytes()


class _Sub(np.ndarray):
    pass


@pytest.mark.parametrize("order", ["C", "F"])
def test_append_fast_and_slow_paths_byte_identical_to_npy_append_array(tmp, order):
    # Appends that take the no-conversion path (an ndarray already in the
    # file's dtype and order) and every kind that must be converted first:
    # an equivalent but distinct dtype object, a cast, the other byte order,
    # a non-contiguous view, the other memory order, a subclass, a list.
    if order == "C":
        first = np.arange(6, dtype="<f8").reshape(2, 3)
        rows = [
            np.arange(3, dtype="<f8").reshape(1, 3),
            np.arange(6, dtype="=f8").reshape(2, 3) + 1,
            np.arange(6, dtype="<i4").reshape(2, 3),
            np.arange(6, dtype=">f8").reshape(2, 3) * 3,
            np.arange(12, dtype="<f8").reshape(4, 3)[::2],
            np.asfortranarray(np.arange(6, dtype="<f8").reshape(2, 3)),
            np.ones((1, 3)).view(_Sub),
            [[7.0, 8.0, 9.0]],
        ]
    else:
        first = np.asfortranarray(np.arange(6, dtype="<f8").reshape(3, 2))
        rows = [
            np.asfortranarray(np.arange(3, dtype="<f8").reshape(3, 1)),
            np.asfortranarray(np.arange(6, dtype="<i4").reshape(3, 2)),
            np.asfortranarray(np.arange(6, dtype=">f8").reshape(3, 2)),
            np.arange(6, dtype="<f8").reshape(3, 2),  # C order into an F file
            np.asfortranarray(np.arange(12, dtype="<f8").reshape(3, 4))[:, ::2],
        ]
    ours, theirs = tmp / "ours.npy", tmp / "theirs.npy"
    with npzmap.NpyAppendArray(ours) as a:
        a.append(first)
        for r in rows:
            a.append(r)
    with naa.NpyAppendArray(theirs) as a:
        a.append(first)
        for r in rows:
            a.append(np.asarray(r) if isinstance(r, list) else r)  # it takes no lists
    assert ours.read_bytes() == theirs.read_bytes()
    axis = 1 if order == "F" else 0
    want = np.concatenate([first] + [np.asarray(r, dtype="<f8") for r in rows], axis=axis)
    np.testing.assert_array_equal(np.load(ours), want)
