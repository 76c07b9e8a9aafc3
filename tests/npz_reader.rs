//! NpzReader against archives written by numpy, Python's zipfile (data
//! descriptors), Info-ZIP and mmnpz; plus naming rules, options and threads.
//! Interop tests need Python with numpy (see tests/common).

mod common;
mod npz_support;

use npz_support::*;
use npzmap::npz::{NpzReader, ReaderOptions};
use npzmap::unstable::zip::FLAG_UTF8;
use npzmap::{DType, Error, Order};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// Zeroes the bytes of padding fields (numpy leaves them uninitialised).
fn mask_padding(dtype: &DType, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let item = dtype.itemsize() as usize;
    if let Some(fields) = dtype.fields() {
        for chunk in out.chunks_exact_mut(item.max(1)) {
            for f in fields.iter().filter(|f| f.is_padding()) {
                let (o, n) = (f.offset as usize, f.size() as usize);
                chunk[o..o + n].fill(0);
            }
        }
    }
    out
}

/// Compares every key of `archive` with the manifest numpy wrote for it.
fn check_against_manifest(archive: &Path, opts: ReaderOptions) -> usize {
    let manifest = std::fs::read_to_string(archive.with_extension("npz.txt")).unwrap();
    let npz = NpzReader::open_with(archive, opts).unwrap();
    let what = archive.display();
    let mut n = 0;
    for line in manifest.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let (key, descr, shape, fortran, hex) = (f[0], f[1], f[2], f[3], f[4]);
        let shape: Vec<u64> = shape
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        let want = unhex(hex);
        let dtype = DType::parse(descr).unwrap();
        let order = if fortran == "1" {
            Order::Fortran
        } else {
            Order::C
        };
        let v = npz
            .get_native(key)
            .unwrap_or_else(|e| panic!("{what} {key}: {e}"));
        assert_eq!(v.dtype(), &dtype, "{what} {key}");
        assert_eq!(v.shape(), &shape[..], "{what} {key}");
        assert_eq!(v.order(), order, "{what} {key}");
        let want = mask_padding(&dtype, &want);
        assert_eq!(mask_padding(&dtype, v.as_bytes()), want, "{what} {key}");
        assert!(v.is_zero_copy(), "{what} {key}");
        // the as-stored view, swapped by the view itself, agrees
        let raw = npz.get(key).unwrap();
        let raw_native = raw.to_native_bytes().unwrap();
        assert_eq!(
            mask_padding(&dtype, raw_native.as_slice()),
            want,
            "{what} {key}"
        );
        let owned = npz.get_owned(key).unwrap();
        let owned_native = owned.to_native_bytes().unwrap();
        assert_eq!(
            mask_padding(&dtype, owned_native.as_slice()),
            want,
            "{what} {key}"
        );
        n += 1;
    }
    assert_eq!(
        n,
        npz.keys().filter(|k| k.as_bytes() != b"readme.txt").count(),
        "{what}"
    );
    let report = npz.verify();
    assert!(
        report.is_ok(),
        "{what}: {:?}",
        report.errors().collect::<Vec<_>>()
    );
    n
}

#[test]
fn numpy_and_zip_tools_interop() {
    let Some(py) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/npz_support/interop.py");
    let out = std::process::Command::new(&py)
        .arg(script)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "npz") {
            for opts in [
                ReaderOptions::new(),
                ReaderOptions::new()
                    .cache(false)
                    .cache_bytes(0)
                    .verify_on_access(true),
                ReaderOptions::new().preload(true).strict(true),
            ] {
                check_against_manifest(&p, opts);
            }
            seen.push(p.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    seen.sort();
    for must in [
        "savez.npz",
        "savez_compressed.npz",
        "descriptors.npz",
        "comment.npz",
    ] {
        assert!(seen.iter().any(|s| s == must), "{seen:?}");
    }
    if common::tool("zip").is_some() {
        for must in ["zip0.npz", "zip6.npz", "zipfz.npz"] {
            assert!(seen.iter().any(|s| s == must), "{seen:?}");
        }
    }
    if common::require_module(&py, "mmnpz") {
        assert!(seen.iter().any(|s| s == "mmnpz.npz"), "{seen:?}");
    }

    // specifics
    let npz = NpzReader::open(dir.path().join("savez.npz")).unwrap();
    assert_eq!(
        npz.get("U").unwrap().to_strings().unwrap(),
        ["a", "éé", "日本語", ""]
    );
    assert_eq!(
        npz.get("big_U").unwrap().to_strings().unwrap(),
        ["héllo", "wörld", "名前"]
    );
    assert_eq!(
        npz.get("S").unwrap().to_byte_strings().unwrap(),
        [b"ab".to_vec(), b"".to_vec(), b"xyz\0q".to_vec()]
    );
    assert_eq!(npz.get("zero_d").unwrap().to_vec::<f64>().unwrap(), [3.25]);
    assert!(npz.get("empty").unwrap().is_empty());
    assert_eq!(
        npz.get_slice::<u16>("dir/nested key").unwrap().to_vec(),
        [0, 1, 2]
    );
    assert_eq!(
        npz.get("v2_many_fields")
            .unwrap()
            .dtype()
            .fields()
            .unwrap()
            .len(),
        5000
    );
    let c = NpzReader::open(dir.path().join("comment.npz")).unwrap();
    assert_eq!(c.comment(), b"an archive comment");
    assert_eq!(
        c.read_member("readme.txt").unwrap().as_ref(),
        b"not an array"
    );
    assert!(c.keys().any(|k| k == "readme.txt"));
    assert!(c.get("readme.txt").is_err());
}

#[test]
fn pickled_member_is_refused() {
    let Some(py) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("obj.npz");
    common::run(
        &py,
        "import numpy as np, sys\nnp.savez(sys.argv[1], obj=np.array([{'a': 1}, None], dtype=object), ok=np.arange(3))",
        &[&p],
    );
    let npz = NpzReader::open(&p).unwrap();
    assert!(matches!(npz.get("obj"), Err(Error::ObjectArray { .. })));
    assert_eq!(npz.get("ok").unwrap().to_vec::<i64>().unwrap(), [0, 1, 2]);
    let pre = NpzReader::open_with(&p, ReaderOptions::new().preload(true)).unwrap();
    assert_eq!(pre.preload_errors().len(), 1);
    assert_eq!(pre.preload_errors()[0].0, "obj.npy");
    let e = NpzReader::open_with(&p, ReaderOptions::new().preload(true).strict(true)).unwrap_err();
    assert_eq!(e.location().member.as_deref(), Some("obj.npy"));
}

#[test]
fn names_duplicates_and_cp437() {
    let one = npy("<i4", &[1], Order::C, &le(&[1i32]));
    let two = npy("<i4", &[1], Order::C, &le(&[2i32]));
    let three = npy("<i4", &[1], Order::C, &le(&[3i32]));
    let mut cp = stored("x", one.clone());
    cp.name = b"\x82t\xe9.npy".to_vec(); // cp437: "étΘ.npy"
    cp.flags = 0;
    let mut utf = stored("ü.npy", two.clone());
    utf.flags = FLAG_UTF8;
    let bytes = archive(&[
        stored("a.npy", one.clone()),
        stored("b.npy", two.clone()),
        stored("a.npy", three.clone()), // duplicate: last wins
        stored("c", one.clone()),       // exact name beats c.npy (np.load)
        stored("c.npy", two.clone()),
        cp,
        utf,
    ]);
    let (_d, path) = temp(&bytes);
    let npz = NpzReader::open(&path).unwrap();
    assert_eq!(npz.keys().collect::<Vec<_>>(), ["b", "a", "c", "étΘ", "ü"]);
    assert_eq!(npz.len(), 5);
    assert_eq!(npz.duplicates(), ["a.npy", "c.npy"]);
    assert_eq!(npz.get("a").unwrap().to_vec::<i32>().unwrap(), [3]);
    assert_eq!(npz.get("a.npy").unwrap().to_vec::<i32>().unwrap(), [3]);
    assert_eq!(npz.get("étΘ").unwrap().to_vec::<i32>().unwrap(), [1]);
    assert_eq!(npz.get("ü").unwrap().to_vec::<i32>().unwrap(), [2]);
    assert_eq!(npz.read_member("c").unwrap().as_ref(), &one[..]);
    assert_eq!(npz.members().count(), 7);
    assert_eq!(npz.members().filter(|m| m.shadowed).count(), 2);
    assert_eq!(npz.iter().count(), 5);
}

/// The named iterator types: exact lengths as they are consumed, archive
/// order, shadowed members listed by `members` (both ends), and
/// `VerifyReport::errors` naming exactly the damaged member.
#[test]
fn named_iterators_and_verify_errors() {
    use npzmap::npz::{Errors, Iter, Keys, Members};
    let one = npy("<i4", &[1], Order::C, &le(&[1i32]));
    let two = npy("<i4", &[1], Order::C, &le(&[2i32]));
    let mut bad = stored("bad.npy", two.clone());
    bad.crc ^= 1;
    let bytes = archive(&[
        stored("a.npy", one.clone()),
        stored("b.npy", two.clone()),
        stored("a.npy", two.clone()), // shadows the first a.npy
        bad,
    ]);
    let npz = NpzReader::from_bytes(bytes).unwrap();
    assert_eq!(npz.len(), 3);
    let mut keys: Keys<'_> = npz.keys();
    assert_eq!(keys.len(), 3);
    assert_eq!(keys.next(), Some("b"));
    assert_eq!(keys.len(), 2);
    assert_eq!(keys.collect::<Vec<_>>(), ["a", "bad"]);
    let mut iter: Iter<'_> = npz.iter();
    assert_eq!(iter.len(), 3);
    let (k, v) = iter.next().unwrap();
    assert_eq!((k, v.unwrap().to_vec::<i32>().unwrap()), ("b", vec![2]));
    assert_eq!(iter.len(), 2);
    assert!(format!("{iter:?}").contains("Iter"));
    let members: Members<'_> = npz.members();
    assert_eq!(members.len(), 4);
    let names: Vec<_> = members.rev().map(|m| (m.name, m.shadowed)).collect();
    assert_eq!(
        names,
        [
            ("bad.npy", false),
            ("a.npy", false),
            ("b.npy", false),
            ("a.npy", true)
        ]
    );
    let report = npz.verify();
    assert!(!report.is_ok());
    let errors: Errors<'_> = report.errors();
    let failed: Vec<_> = errors.collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, "bad.npy");
    assert!(
        matches!(failed[0].1, Error::CrcMismatch { .. }),
        "{:?}",
        failed[0].1
    );
}

#[test]
fn many_threads_read_random_members() {
    let n = 300usize;
    let members: Vec<M> = (0..n)
        .map(|i| {
            let vals: Vec<f64> = (0..(i % 17 + 1)).map(|j| (i * 100 + j) as f64).collect();
            let data = if i % 3 == 0 {
                let be: Vec<u8> = vals.iter().flat_map(|v| v.to_be_bytes()).collect();
                npy(">f8", &[vals.len() as u64], Order::C, &be)
            } else {
                npy("<f8", &[vals.len() as u64], Order::C, &le(&vals))
            };
            if i % 5 == 0 {
                deflated(&format!("m{i}.npy"), data)
            } else {
                stored(&format!("m{i}.npy"), data)
            }
        })
        .collect();
    let (_d, path) = temp(&archive(&members));
    for (opts, budget) in [
        (ReaderOptions::new().cache_bytes(4096), 4096),
        (
            ReaderOptions::new().cache(false).cache_bytes(1 << 20),
            1 << 20,
        ),
    ] {
        let npz = Arc::new(NpzReader::open_with(&path, opts).unwrap());
        std::thread::scope(|s| {
            for t in 0..8u64 {
                let npz = npz.clone();
                s.spawn(move || {
                    let mut x = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                    for _ in 0..2000 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let i = (x % n as u64) as usize;
                        let s = npz.get_slice::<f64>(&format!("m{i}")).unwrap();
                        assert_eq!(s.len(), i % 17 + 1);
                        assert_eq!(s[0], (i * 100) as f64);
                        assert_eq!(s[s.len() - 1], (i * 100 + s.len() - 1) as f64);
                        let v = npz.get(&format!("m{i}")).unwrap();
                        assert_eq!(v.to_vec::<f64>().unwrap()[0], (i * 100) as f64);
                    }
                });
            }
        });
        assert!(npz.cached_bytes() <= budget);
        assert!(npz.verify().is_ok());
    }
}

#[test]
fn reader_is_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<NpzReader>();
    check::<npzmap::npz::reader::ArraySlice<'static, u8>>();
}

#[test]
fn from_bytes_reads_like_open() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for f in [
        "small_savez.npz",
        "small_compressed.npz",
        "small_descriptors.npz",
    ] {
        let path = dir.join(f);
        let bytes = std::fs::read(&path).unwrap();
        let by_path = NpzReader::open(&path).unwrap();
        let shared: Arc<[u8]> = bytes.clone().into();
        for npz in [
            NpzReader::from_bytes(bytes.clone()).unwrap(),
            NpzReader::from_bytes(shared).unwrap(),
            NpzReader::from_bytes_with(
                bytes.into_boxed_slice(),
                ReaderOptions::new().preload(true).strict(true).cache(false),
            )
            .unwrap(),
        ] {
            assert_eq!(npz.path(), Path::new("<memory>"));
            assert_eq!(
                npz.keys().collect::<Vec<_>>(),
                by_path.keys().collect::<Vec<_>>()
            );
            for k in by_path.keys() {
                let (a, b) = (npz.get(k).unwrap(), by_path.get(k).unwrap());
                assert_eq!(a.header(), b.header());
                assert_eq!(a.as_bytes(), b.as_bytes());
                assert_eq!(a.location().member, b.location().member);
            }
            assert!(npz.verify().is_ok());
        }
    }
    // A view made with get_owned keeps the memory alive after the reader.
    let arc: Arc<[u8]> =
        archive(&[stored("x.npy", npy("<u2", &[2], Order::C, &le(&[7u16, 9])))]).into();
    let owned = NpzReader::from_bytes(arc).unwrap().get_owned("x").unwrap();
    assert_eq!(owned.to_vec::<u16>().unwrap(), [7, 9]);
    // Errors name the in-memory archive.
    let e = NpzReader::from_bytes(&b"PK\x05\x06 too short"[..]).unwrap_err();
    assert!(matches!(e, Error::NotAZip { .. }), "{e}");
    assert!(NpzReader::from_bytes(Vec::new()).is_err());
}

/// A view's errors name the file, the member and its data's offset, whether
/// the reader caches headers or not, and for owned views.
#[test]
fn view_errors_name_file_member_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npz");
    std::fs::write(
        &path,
        archive(&[
            stored("pad.npy", npy("<u1", &[3], Order::C, &[1, 2, 3])),
            stored("x.npy", npy("<f8", &[2], Order::C, &le(&[1.0f64, 2.0]))),
        ]),
    )
    .unwrap();
    for cache in [true, false] {
        let npz = NpzReader::open_with(&path, ReaderOptions::new().cache(cache)).unwrap();
        let offset = npz.array_info("x").unwrap().data_offset;
        let check = |e: Error| {
            assert!(matches!(e, Error::DTypeMismatch { .. }), "{e}");
            let at = e.location();
            assert_eq!(at.path.as_deref(), Some(path.as_path()));
            assert_eq!(at.member.as_deref(), Some("x.npy"));
            assert_eq!(at.offset, Some(offset));
        };
        for _ in 0..2 {
            let v = npz.get("x").unwrap();
            assert_eq!(v.location().member.as_deref(), Some("x.npy"));
            check(v.as_slice::<f32>().unwrap_err());
            check(npz.get_owned("x").unwrap().to_vec::<i64>().unwrap_err());
        }
    }
}

/// `n` small `<u2` members, `i % len_mod` elements each: every third one
/// deflated (`d{i}.npy`), the others stored (`s{i}.npy`).
fn small_members(n: u16, len_mod: u16) -> Vec<M> {
    (0..n)
        .map(|i| {
            let data = le(&vec![i; usize::from(i % len_mod)]);
            let bytes = npy("<u2", &[u64::from(i % len_mod)], Order::C, &data);
            if i % 3 == 0 {
                deflated(&format!("d{i}.npy"), bytes)
            } else {
                stored(&format!("s{i}.npy"), bytes)
            }
        })
        .collect()
}

/// `members().nth` (a jump), `keys().nth` and `iter().nth` (a jump
/// without duplicates, a walk with them) give what stepping one by one
/// gives, and leave the iterator where stepping would.
#[test]
fn nth_of_keys_and_iter_equals_stepping() {
    let arr = |i: u16| npy("<u2", &[1], Order::C, &le(&[i]));
    let plain: Vec<_> = (0..20)
        .map(|i| stored(&format!("k{i}.npy"), arr(i)))
        .collect();
    let mut dup = plain.clone();
    dup.insert(7, stored("k12.npy", arr(99)));
    dup.push(stored("k3.npy", arr(98)));
    for members in [plain, dup] {
        let (_dir, path) = temp(&archive(&members));
        let npz = NpzReader::open(&path).unwrap();
        let all: Vec<&str> = npz.keys().collect();
        let members: Vec<_> = npz.members().collect();
        for n in 0..members.len() + 2 {
            let mut m = npz.members();
            assert_eq!(m.nth(n), members.get(n).copied(), "{n}");
            assert_eq!(m.len(), members.len().saturating_sub(n + 1));
        }
        for n in 0..all.len() + 2 {
            assert_eq!(npz.keys().nth(n), all.get(n).copied(), "{n}");
            let mut it = npz.iter();
            match (it.nth(n), all.get(n)) {
                (Some((k, v)), Some(want)) => {
                    assert_eq!(k, *want);
                    assert_eq!(v.unwrap().as_bytes(), npz.get(want).unwrap().as_bytes());
                }
                (None, None) => {}
                (got, want) => panic!("{n}: {:?} vs {want:?}", got.map(|g| g.0)),
            }
            let left = all.len().saturating_sub(n + 1);
            assert_eq!(it.len(), left, "{n}");
            // nth again continues from there.
            let mut keys = npz.keys();
            keys.nth(n);
            assert_eq!(keys.nth(1), all.get(n + 2).copied(), "{n}");
            assert_eq!(keys.len(), all.len().saturating_sub(n + 3));
        }
    }
}

/// `for_each_array_info` hands over every member in archive order (a
/// shadowed one with its own headers) with what `array_info` gives for it,
/// through the parallel path (thousands of members) and the serial one (a
/// few), and stops at the first `Break` even with the workers ahead.
#[test]
fn for_each_array_info_lists_every_member_in_order_and_stops_on_break() {
    for n in [5000u16, 7] {
        let mut members = small_members(n, 5);
        // A later s1 shadows the first; a member that is no array; a
        // broken header.
        members.insert(3, stored("raw.txt", b"not an array".to_vec()));
        members.insert(
            4,
            stored("bad.npy", b"\x93NUMPY\x01\x00\x04\x00{}  ".to_vec()),
        );
        members.push(stored(
            "s1.npy",
            npy("<u2", &[2, 1], Order::C, &le(&[7u16, 8])),
        ));
        let (_dir, path) = temp(&archive(&members));
        for cache in [true, false] {
            let npz = NpzReader::open_with(&path, ReaderOptions::new().cache(cache)).unwrap();
            let _ = npz.header("s2").unwrap();
            let mut seen = Vec::new();
            let flow = npz.for_each_array_info(|m, info| {
                seen.push((m.name.to_string(), m.shadowed, info));
                ControlFlow::<()>::Continue(())
            });
            assert_eq!(flow, ControlFlow::Continue(()));
            let listed: Vec<_> = npz
                .members()
                .map(|m| (m.name.to_string(), m.shadowed))
                .collect();
            let got: Vec<_> = seen.iter().map(|(n, s, _)| (n.clone(), *s)).collect();
            assert_eq!(got, listed, "n={n}");
            for (name, shadowed, info) in &seen {
                if *shadowed {
                    // Its own header, not the one of the s1 that wins.
                    assert_eq!(info.as_ref().unwrap().header.shape, [1], "{name}");
                    continue;
                }
                match (npz.array_info(name), info) {
                    (Ok(want), Ok(got)) => assert_eq!(&want, got, "{name}"),
                    (Err(want), Err(got)) => assert_eq!(want.to_string(), got.to_string()),
                    (want, got) => panic!("{name}: {want:?} vs {got:?}"),
                }
            }
            let errors: Vec<&str> = (seen.iter())
                .filter(|(_, _, i)| i.is_err())
                .map(|(n, _, _)| n.as_str())
                .collect();
            assert_eq!(errors, ["raw.txt", "bad.npy"]);
            assert_eq!(
                seen.last().unwrap().2.as_ref().unwrap().header.shape,
                [2, 1]
            );
            // Break: nothing is handed over after it.
            let stop = usize::from(n) / 2;
            let mut calls = 0;
            let flow = npz.for_each_array_info(|_, _| {
                calls += 1;
                if calls == stop {
                    ControlFlow::Break(calls)
                } else {
                    ControlFlow::Continue(())
                }
            });
            assert_eq!(flow, ControlFlow::Break(stop));
            assert_eq!(calls, stop);
        }
    }
}

/// `array_infos` gives, key by key, what `array_info` gives: arrays stored
/// and deflated, a missing key and a member that is no array in their
/// places, with and without cached headers, in batches larger than the
/// parallel chunk.
#[test]
fn array_infos_match_array_info_key_by_key() {
    let mut members = small_members(300, 7);
    members.push(stored("raw.txt", b"not an array".to_vec()));
    let (_dir, path) = temp(&archive(&members));
    for cache in [true, false] {
        let npz = NpzReader::open_with(&path, ReaderOptions::new().cache(cache)).unwrap();
        let mut keys: Vec<&str> = npz.keys().collect();
        keys.insert(5, "missing");
        keys.push("s1");
        // Some headers cached first (when the reader caches).
        let _ = npz.header("s2").unwrap();
        let infos = npz.array_infos(&keys);
        assert_eq!(infos.len(), keys.len());
        for (k, got) in keys.iter().zip(&infos) {
            match (npz.array_info(k), got) {
                (Ok(want), Ok(got)) => assert_eq!(&want, got, "{k}"),
                (Err(want), Err(got)) => assert_eq!(want.to_string(), got.to_string(), "{k}"),
                (want, got) => panic!("{k}: {want:?} vs {got:?}"),
            }
        }
        assert!(matches!(infos[5], Err(Error::NotFound { .. })));
        assert!(matches!(infos.last(), Some(Ok(i)) if i.header.shape == [1]));
        assert!(infos.iter().filter(|r| r.is_err()).count() == 2);
    }
}

/// A cached `get` compares the key with a copy kept in the member's parsed
/// headers when it is short (up to 17 bytes), else with the name table:
/// keys around that length, and keys that share a prefix, find their own
/// member on first and cached access, a missing key is not found, and a
/// view's errors name its member either way.
/// More cached members than the reader keeps hints for (32,768: their
/// hints collide and replace each other): every cached `get`, in any order,
/// from several threads, still returns its own member; with the cache off
/// too.
#[test]
fn cached_gets_of_more_members_than_hints_return_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("many.npz");
    let keys: Vec<String> = (0..40_000u32)
        .map(|i| match i % 3 {
            0 => format!("a{i}"),
            1 => format!("a_key_longer_than_twenty_two_bytes_{i:06}"),
            _ => format!("k{i:016}"),
        })
        .collect();
    let mut w = npzmap::NpzWriter::create(&p).unwrap();
    for (i, k) in keys.iter().enumerate() {
        w.write(k, &[i as u32], &[1], Order::C).unwrap();
    }
    w.close().unwrap();
    let check = |r: &NpzReader, order: &mut dyn Iterator<Item = usize>| {
        for i in order {
            let v = r.get(&keys[i]).unwrap();
            assert_eq!(v.to_vec::<u32>().unwrap(), [i as u32], "{}", keys[i]);
        }
    };
    let n = keys.len();
    for opts in [ReaderOptions::new(), ReaderOptions::new().cache(false)] {
        let r = NpzReader::open_with(&p, opts).unwrap();
        check(&r, &mut (0..n));
        check(&r, &mut (0..n).rev());
        check(&r, &mut (0..n).map(|i| i * 7 % n));
        std::thread::scope(|s| {
            for t in 0..2 {
                let (r, check) = (&r, &check);
                s.spawn(move || check(r, &mut (t..n).step_by(2)));
            }
        });
        for missing in ["a1", "a_key_longer_than_twenty_two_bytes_000000", "k1"] {
            assert!(
                matches!(r.get(missing), Err(Error::NotFound { .. })),
                "{missing}"
            );
        }
    }
}

#[test]
fn cached_gets_compare_short_and_long_keys() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.npz");
    let keys: Vec<String> = [1usize, 16, 17, 18, 22, 23, 40]
        .iter()
        .flat_map(|&n| ["k".repeat(n), format!("{}x", "k".repeat(n - 1))])
        .collect();
    let mut w = npzmap::NpzWriter::create(&p).unwrap();
    for (i, k) in keys.iter().enumerate() {
        w.write(k, &[i as u32], &[1], Order::C).unwrap();
    }
    w.close().unwrap();
    let r = NpzReader::open(&p).unwrap();
    for pass in 0..2 {
        for (i, k) in keys.iter().enumerate() {
            let v = r.get(k).unwrap();
            assert_eq!(v.to_vec::<u32>().unwrap(), [i as u32], "{k} pass {pass}");
            let e = v.to_vec::<f64>().unwrap_err();
            let member = format!("{k}.npy");
            assert_eq!(e.location().member.as_deref(), Some(member.as_str()));
            assert_eq!(v.location().member.as_deref(), Some(member.as_str()));
            assert_eq!(r.get(&member).unwrap().to_vec::<u32>().unwrap(), [i as u32]);
        }
        for missing in ["", "k".repeat(2).as_str(), "kx", &"k".repeat(41)] {
            assert!(
                matches!(r.get(missing), Err(Error::NotFound { .. })),
                "{missing:?}"
            );
        }
    }
}
