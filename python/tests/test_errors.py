"""Damaged and refused inputs raise the documented exceptions (never crash)."""

import zipfile

import numpy as np
import pytest

import npzmap


def write_npz(p, **arrays):
    np.savez(p, **arrays)
    return p.read_bytes()


def test_hierarchy():
    assert issubclass(npzmap.FormatError, npzmap.Error)
    assert issubclass(npzmap.FormatError, ValueError)
    assert issubclass(npzmap.KeyNotFoundError, KeyError)
    assert issubclass(npzmap.FileError, OSError)
    assert issubclass(npzmap.MissingFileError, FileNotFoundError)
    assert issubclass(npzmap.ObjectArrayError, npzmap.FormatError)


def test_missing_file(tmp):
    with pytest.raises(FileNotFoundError) as e:
        npzmap.load(tmp / "nope.npz")
    assert isinstance(e.value, npzmap.FileError)
    assert "nope.npz" in str(e.value)
    assert e.value.path == str(tmp / "nope.npz")


def test_missing_key_names_the_key_and_file(tmp):
    p = tmp / "a.npz"
    write_npz(p, a=np.arange(3))
    with pytest.raises(KeyError) as e:
        npzmap.load(p)["b"]
    assert isinstance(e.value, npzmap.Error)
    assert '"b"' in str(e.value) and "a.npz" in str(e.value)


def test_pickled_object_arrays_are_refused(tmp):
    p = tmp / "o.npz"
    np.savez(p, o=np.array([{"a": 1}, None], dtype=object))
    z = npzmap.load(p)
    with pytest.raises(npzmap.ObjectArrayError) as e:
        z["o"]
    assert isinstance(e.value, ValueError)
    assert "o.npy" in str(e.value)
    q = tmp / "o.npy"
    np.save(q, np.array([1, "x"], dtype=object))
    with pytest.raises(npzmap.ObjectArrayError):
        npzmap.load(q)


def test_not_an_archive(tmp):
    p = tmp / "x.npz"
    p.write_bytes(b"this is not a zip file at all" * 10)
    with pytest.raises(npzmap.FormatError) as e:
        npzmap.load(p)
    assert "x.npz" in str(e.value)
    p.write_bytes(b"")
    with pytest.raises(npzmap.FormatError):
        npzmap.load(p)


def test_every_truncation_and_bit_flip_raises_or_reads(tmp):
    """Cut and flipped archives: an npzmap.Error (a ValueError or OSError),
    or data that verify() accepts; never a crash."""
    src = tmp / "s.npz"
    good = write_npz(src, a=np.arange(40, dtype="<i8").reshape(5, 8), b=np.array(["xy"]))
    p = tmp / "d.npz"
    outcomes = set()
    cases = [good[:n] for n in range(0, len(good), 7)]
    for i in range(0, len(good), 3):
        flipped = bytearray(good)
        flipped[i] ^= 0x5A
        cases.append(bytes(flipped))
    for data in cases:
        p.write_bytes(data)
        try:
            with npzmap.load(p) as z:
                for k in z.files:
                    z[k]
                z.verify()
            outcomes.add("ok")
        except npzmap.Error as e:
            assert isinstance(e, (ValueError, OSError, KeyError))
            assert str(e)
            outcomes.add(type(e).__name__)
    assert "FormatError" in outcomes


def test_crc_damage_found_by_verify(tmp):
    p = tmp / "c.npz"
    good = bytearray(write_npz(p, a=np.zeros(1000, dtype="u1")))
    i = good.index(b"\x00" * 1000) + 500
    good[i] = 1
    p.write_bytes(bytes(good))
    z = npzmap.load(p)
    assert z["a"][500] == 1  # stored data is mapped as is
    with pytest.raises(npzmap.FormatError) as e:
        z.verify()
    assert "a.npy" in str(e.value) and "CRC" in str(e.value).upper()


def test_truncated_npy(tmp):
    p = tmp / "t.npy"
    np.save(p, np.arange(100))
    data = p.read_bytes()
    for n in [0, 5, 10, 100, len(data) - 1]:
        p.write_bytes(data[:n])
        with pytest.raises(npzmap.Error):
            npzmap.load(p)
