"""Threads appending and reading at once (the GIL is released on disk work)."""

import threading

import numpy as np

import npzmap


def test_threads_read_one_archive(tmp):
    p = tmp / "r.npz"
    arrays = {f"k{i}": np.arange(i, i + 500, dtype=">f8" if i % 2 else "<i4") for i in range(64)}
    np.savez(p, **arrays)
    z = npzmap.load(p)
    errors = []

    def reader(offset):
        try:
            for j in range(200):
                k = f"k{(j * 7 + offset) % 64}"
                np.testing.assert_array_equal(z[k], arrays[k])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    ts = [threading.Thread(target=reader, args=(i,)) for i in range(6)]
    ts.append(threading.Thread(target=z.verify))
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    assert set(z.arrays) == set(arrays)


def test_append_while_reading_npy(tmp):
    p = tmp / "log.npy"
    row = np.arange(256, dtype="<f4")
    stop = threading.Event()
    seen = []
    errors = []
    with npzmap.NpyAppendArray(p) as a:
        a.append(row[None])

        def reader():
            while not stop.is_set():
                try:
                    got = npzmap.load(p)
                except npzmap.Error as e:
                    # Readers beside an appender always see whole appends.
                    errors.append(f"{type(e).__name__}: {e}")
                    continue
                seen.append(got.shape[0])
                assert (got == row).all()

        r = threading.Thread(target=reader)
        r.start()
        for _ in range(300):
            a.append(row[None])
        stop.set()
        r.join()
    assert seen and max(seen) <= 301 and seen == sorted(seen)
    assert np.load(p).shape == (301, 256)
    assert errors == []


def test_threads_write_one_archive(tmp):
    p = tmp / "w.npz"
    with npzmap.NpzWriter(p) as w:
        def writer(k):
            for j in range(50):
                w.write(f"t{k}_{j}", np.full(100, k * 1000 + j))

        ts = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    z = np.load(p)
    assert len(z.files) == 200
    for k in range(4):
        for j in (0, 49):
            assert (z[f"t{k}_{j}"] == k * 1000 + j).all()
