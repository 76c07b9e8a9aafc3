//! `npz::rewrite` and `npz::merge` (and the CLI's `rewrite` / `merge`) on
//! archives from numpy (`savez`, `savez_compressed`), mmnpz, Info-ZIP
//! (`zip -0`, `zip -6`), Python zipfile writing to an unseekable stream
//! (data descriptors), an archive behind a prefix, and npzmap; results
//! checked with `np.load`, `unzip -t`, the zip crate and `NpzReader`
//! (aligned, zero-copy). Also: duplicate policies, damaged inputs refused
//! before anything is written, and SIGKILL during both commands.

mod common;

use npzmap::npz::tools::{MergeOptions, OnDuplicate, RewriteOptions, merge, rewrite};
use npzmap::npz::{NpzReader, NpzWriter};
use npzmap::{Error, Order};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Writes the fixture archives into `d`; returns their paths. With numpy
/// missing outside CI, only the npzmap archives.
fn fixtures(d: &Path) -> Vec<PathBuf> {
    let mut kinds: Vec<&str> = Vec::new();
    // npzmap: unaligned (align 1) and default, with a non-array member.
    let mut w = NpzWriter::options()
        .align(1)
        .create(d.join("npzmap1.npz"))
        .unwrap();
    w.write("f", &[1.5f64, -2.0, 3.25], &[3], Order::C).unwrap();
    w.write(
        "i",
        &(0..100i32).collect::<Vec<_>>(),
        &[10, 10],
        Order::Fortran,
    )
    .unwrap();
    w.close().unwrap();
    kinds.push("npzmap1");
    if let Some(py) = common::python() {
        let make = r##"
import sys, os, io, zipfile, numpy as np
d = sys.argv[1]
f = np.linspace(0, 1, 1000)
i = np.arange(777, dtype="<i4").reshape(7, 111)
be = np.arange(50, dtype=">f8")
s = np.array(["ab", "cde"])
st = np.zeros(3, dtype=[("x", "<i2"), ("y", ">f4")])
b = np.array([True, False, True])
arrays = dict(f=f, i=i, be=be, s=s, st=st, b=b)
np.savez(os.path.join(d, "savez.npz"), **arrays)
np.savez_compressed(os.path.join(d, "compressed.npz"), **arrays)
for k, v in arrays.items():
    np.save(os.path.join(d, k + ".npy"), v)
class Unseekable:
    def __init__(self, f): self.f = f
    def writable(self): return True
    def write(self, b): return self.f.write(b)
    def flush(self): return self.f.flush()
with open(os.path.join(d, "stream.npz"), "wb") as raw:
    with zipfile.ZipFile(Unseekable(raw), "w") as z:
        for n, (k, v) in enumerate(arrays.items()):
            ct = zipfile.ZIP_DEFLATED if n % 2 else zipfile.ZIP_STORED
            zi = zipfile.ZipInfo(k + ".npy"); zi.compress_type = ct
            with z.open(zi, "w") as m:
                np.lib.format.write_array(m, v)
inner = io.BytesIO()
with zipfile.ZipFile(inner, "w") as z:
    for k in arrays:
        z.write(os.path.join(d, k + ".npy"), k + ".npy")
    z.comment = b"an archive comment"
with open(os.path.join(d, "prefixed.npz"), "wb") as out:
    out.write(b"#!/bin/sh\necho prefix\n" * 10); out.write(inner.getvalue())
try:
    import mmnpz
    with mmnpz.NpzWriter(os.path.join(d, "mmnpz.npz")) as w:
        for k, v in arrays.items():
            w.write(k, v)
    print("mmnpz")
except ImportError:
    print("no-mmnpz")
"##;
        let out = common::run(&py, make, &[&d]);
        kinds.extend(["savez", "compressed", "stream", "prefixed"]);
        if common::require_module(&py, "mmnpz") {
            assert!(out.contains("mmnpz") && !out.contains("no-mmnpz"));
            kinds.push("mmnpz");
        }
        if let Some(zip) = common::tool("zip") {
            for (name, flag) in [("zip0", "-0"), ("zip6", "-6")] {
                let st = Command::new(&zip)
                    .current_dir(d)
                    .args(["-q", "-X", flag, &format!("{name}.npz")])
                    .args(["f.npy", "i.npy", "be.npy", "s.npy", "st.npy", "b.npy"])
                    .status()
                    .unwrap();
                assert!(st.success());
                kinds.push(name);
            }
        }
    }
    kinds.iter().map(|k| d.join(format!("{k}.npz"))).collect()
}

/// np.load of `a` and `b` gives the same keys in the same order, the same
/// dtypes (byte order included), shapes and values.
const SAME: &str = r#"
import sys, numpy as np
def load(p):
    # np.load takes an archive behind a prefix for a pickle: open it as a zip.
    return np.load(p) if open(p, "rb").read(2) == b"PK" else np.lib.npyio.NpzFile(open(p, "rb"))
a, b = load(sys.argv[1]), np.load(sys.argv[2])
assert list(a.files) == list(b.files), (a.files, b.files)
for k in a.files:
    x, y = a[k], b[k]
    assert x.dtype == y.dtype and x.dtype.str == y.dtype.str, (k, x.dtype, y.dtype)
    assert x.shape == y.shape, k
    assert np.array_equal(x, y), k
print("ok", len(a.files))
"#;

fn unzip_t(path: &Path) {
    if let Some(unzip) = common::tool("unzip") {
        let out = Command::new(unzip).arg("-t").arg(path).output().unwrap();
        assert!(
            out.status.success(),
            "unzip -t {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// Every member's data offset (zip crate) is a multiple of `align`, and
/// every member is stored when `stored`.
fn check_layout(path: &Path, align: u64, stored: bool) {
    let f = std::fs::File::open(path).unwrap();
    let mut z = zip::ZipArchive::new(f).unwrap();
    for i in 0..z.len() {
        let m = z.by_index_raw(i).unwrap();
        assert_eq!(
            m.data_start().unwrap() % align,
            0,
            "{} in {}",
            m.name().unwrap(),
            path.display()
        );
        if stored {
            assert_eq!(
                m.compression(),
                zip::CompressionMethod::Stored,
                "{}",
                m.name().unwrap()
            );
        }
    }
}

/// Every member of `path` is borrowed from the map (zero-copy), and the
/// float64 array "f" (when present) is a typed view without a copy.
fn check_zero_copy(path: &Path) {
    let r = NpzReader::open(path).unwrap();
    assert!(r.verify().is_ok());
    for k in r.keys() {
        assert!(
            matches!(r.read_member(k).unwrap(), Cow::Borrowed(_)),
            "{k} in {} is not zero-copy",
            path.display()
        );
    }
    if r.contains("f") {
        assert!(!r.get_slice::<f64>("f").unwrap().is_copy());
    }
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

/// Files in `d` whose names contain `npzmap-tmp`.
fn temps(d: &Path) -> Vec<String> {
    std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("npzmap-tmp"))
        .collect()
}

#[test]
fn rewrite_every_kind_of_archive() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let inputs = fixtures(d);
    let py = common::python();
    for input in &inputs {
        for align in [64u64, 4096] {
            let out = d.join(format!("rw{align}.npz"));
            let before = bytes(input);
            let r = rewrite(input, &out, RewriteOptions::new().align(align)).unwrap();
            assert_eq!(bytes(input), before, "input changed");
            assert!(r.dropped.is_empty());
            check_layout(&out, align, true);
            check_zero_copy(&out);
            unzip_t(&out);
            // Same members, names and bytes (zip crate), same order.
            assert_eq!(common::zip_members(input), common::zip_members(&out));
            assert_eq!(r.members as usize, common::zip_members(input).len());
            assert_eq!(r.output_len, std::fs::metadata(&out).unwrap().len());
            if let Some(py) = &py {
                let o = common::run(py, SAME, &[input, &out]);
                assert!(o.starts_with("ok"), "{o}");
            }
        }
        assert!(temps(d).is_empty(), "{:?}", temps(d));
    }
    // The archive comment is kept.
    if py.is_some() {
        let out = d.join("c.npz");
        rewrite(d.join("prefixed.npz"), &out, RewriteOptions::new()).unwrap();
        assert_eq!(
            NpzReader::open(&out).unwrap().comment(),
            b"an archive comment"
        );
        let r = rewrite(d.join("compressed.npz"), &out, RewriteOptions::new()).unwrap();
        assert_eq!(r.decompressed.len(), 6);
    }
}

#[test]
fn rewrite_keep_compressed_and_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let inputs = fixtures(d);
    let Some(py) = common::python() else { return };
    let comp = d.join("compressed.npz");
    assert!(inputs.contains(&comp));
    let out = d.join("kept.npz");
    let r = rewrite(&comp, &out, RewriteOptions::new().decompress(false)).unwrap();
    assert!(r.decompressed.is_empty());
    check_layout(&out, 64, false);
    let f = std::fs::File::open(&out).unwrap();
    let mut z = zip::ZipArchive::new(f).unwrap();
    assert_eq!(
        z.by_index_raw(0).unwrap().compression(),
        zip::CompressionMethod::Deflated
    );
    unzip_t(&out);
    assert!(common::run(&py, SAME, &[&comp, &out]).starts_with("ok"));
    // In place: the file is replaced by the rewritten archive.
    let copy = d.join("inplace.npz");
    std::fs::copy(d.join("savez.npz"), &copy).unwrap();
    rewrite(&copy, &copy, RewriteOptions::new().align(4096)).unwrap();
    check_layout(&copy, 4096, true);
    check_zero_copy(&copy);
    assert!(common::run(&py, SAME, &[&d.join("savez.npz"), &copy]).starts_with("ok"));
    assert!(temps(d).is_empty());
}

/// An archive with member "a" twice (the second one wins in np.load) and "b".
fn with_duplicate(path: &Path) {
    let mut w = NpzWriter::options()
        .allow_duplicates(true)
        .align(1)
        .create(path)
        .unwrap();
    w.write("a", &[1i64, 2], &[2], Order::C).unwrap();
    w.write("b", &[3i64], &[1], Order::C).unwrap();
    w.write("a", &[9i64, 9, 9], &[3], Order::C).unwrap();
    w.close().unwrap();
}

#[test]
fn rewrite_dedupe() {
    let dir = tempfile::tempdir().unwrap();
    let (inp, out) = (dir.path().join("dup.npz"), dir.path().join("out.npz"));
    with_duplicate(&inp);
    // Without dedupe every member is kept.
    let r = rewrite(&inp, &out, RewriteOptions::new()).unwrap();
    assert_eq!(r.members, 3);
    // (The zip crate shows one member per name: count with the reader.)
    assert_eq!(NpzReader::open(&out).unwrap().members().count(), 3);
    let r = rewrite(&inp, &out, RewriteOptions::new().dedupe(true)).unwrap();
    assert_eq!(r.members, 2);
    assert_eq!(r.dropped.len(), 1);
    assert_eq!(r.dropped[0].0, "a.npy");
    let names: Vec<String> = common::zip_members(&out).into_iter().map(|m| m.0).collect();
    assert_eq!(names, ["b.npy", "a.npy"]);
    let rd = NpzReader::open(&out).unwrap();
    assert_eq!(rd.get_slice::<i64>("a").unwrap().as_ref(), &[9, 9, 9]);
    assert!(rd.duplicates().is_empty());
}

/// Shards with distinct keys, plus a shard that repeats key "k1".
fn shards(d: &Path) -> Vec<PathBuf> {
    (0..3)
        .map(|s| {
            let p = d.join(format!("shard{s}.npz"));
            let mut w = NpzWriter::options().align(1).create(&p).unwrap();
            for k in 0..3 {
                let v: Vec<f32> = (0..100).map(|x| (s * 1000 + k * 100 + x) as f32).collect();
                w.write(&format!("s{s}k{k}"), &v, &[100], Order::C).unwrap();
            }
            w.close().unwrap();
            p
        })
        .collect()
}

#[test]
fn merge_shards_and_every_kind_of_archive() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let parts = shards(d);
    let out = d.join("all.npz");
    let r = merge(&out, &parts, MergeOptions::new()).unwrap();
    assert_eq!(r.members, 9);
    check_layout(&out, 64, true);
    check_zero_copy(&out);
    unzip_t(&out);
    let all: Vec<_> = parts.iter().flat_map(|p| common::zip_members(p)).collect();
    assert_eq!(common::zip_members(&out), all);

    // Every fixture kind, duplicates renamed by prefix; members copied as
    // they are (deflated stays deflated).
    let inputs = fixtures(d);
    let out = d.join("kinds.npz");
    let r = merge(
        &out,
        &inputs,
        MergeOptions::new().on_duplicate(OnDuplicate::Prefix),
    )
    .unwrap();
    check_layout(&out, 64, false);
    unzip_t(&out);
    let mut want = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for p in &inputs {
        let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
        for (n, b) in common::zip_members(p) {
            let name = if seen.contains(&n) {
                format!("{stem}/{n}")
            } else {
                n
            };
            seen.insert(name.clone());
            want.push((name, b));
        }
    }
    assert_eq!(common::zip_members(&out), want);
    assert_eq!(r.members as usize, want.len());
    // The raw (compressed) bytes of every member are the input's.
    let raw = |p: &Path| -> Vec<(u32, Vec<u8>)> {
        let mut z = zip::ZipArchive::new(std::fs::File::open(p).unwrap()).unwrap();
        (0..z.len())
            .map(|i| {
                let mut m = z.by_index_raw(i).unwrap();
                let mut b = Vec::new();
                std::io::Read::read_to_end(&mut m, &mut b).unwrap();
                (m.crc32(), b)
            })
            .collect()
    };
    let want_raw: Vec<_> = inputs.iter().flat_map(|p| raw(p)).collect();
    assert_eq!(raw(&out), want_raw);
    if let Some(py) = common::python() {
        let check = r#"
import sys, os, numpy as np
out = np.load(sys.argv[1])
seen = set(); n = 0
for p in sys.argv[2:]:
    stem = os.path.splitext(os.path.basename(p))[0]
    a = np.load(p) if open(p, "rb").read(2) == b"PK" else np.lib.npyio.NpzFile(open(p, "rb"))
    for k in a.files:
        name = stem + "/" + k if k in seen else k
        seen.add(name)
        x, y = a[k], out[name]
        assert x.dtype.str == y.dtype.str and x.shape == y.shape and np.array_equal(x, y), (p, k)
        n += 1
assert n == len(out.files), (n, len(out.files))
print("ok")
"#;
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&out];
        for p in &inputs {
            args.push(p);
        }
        assert_eq!(common::run(&py, check, &args).trim(), "ok");
        // A merge of np.savez shards, then rewrite: zero-copy.
        let z = d.join("zc.npz");
        rewrite(&out, &z, RewriteOptions::new()).unwrap();
        check_zero_copy(&z);
    }
    assert!(temps(d).is_empty());
}

/// Members of several MiB copied both ways: by the kernel (input and output
/// data at the same place in a page: both aligned to 4096) and through the
/// 1 MiB buffer (input unaligned, output aligned to 64), in chunks, with the
/// same member bytes.
#[test]
fn merge_copies_large_members_by_kernel_and_by_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut s = 7u64;
    let make = |p: &Path, align: u64, s: &mut u64| {
        let mut w = NpzWriter::options().align(align).create(p).unwrap();
        for k in 0..2 {
            // 2.5 MiB + a few bytes: three buffer chunks, the last partial.
            let v: Vec<u64> = (0..(5 << 17) + 3).map(|_| xorshift(s)).collect();
            w.write(&format!("m{k}"), &v, &[v.len() as u64], Order::C)
                .unwrap();
        }
        w.close().unwrap();
    };
    let paged = [d.join("p0.npz"), d.join("p1.npz")];
    let packed = [d.join("u0.npz"), d.join("u1.npz")];
    make(&paged[0], 4096, &mut s);
    make(&paged[1], 4096, &mut s);
    make(&packed[0], 1, &mut s);
    make(&packed[1], 1, &mut s);
    let policy = OnDuplicate::Prefix;
    for (inputs, align) in [(&paged, 4096), (&packed, 64)] {
        let out = d.join(format!("out{align}.npz"));
        let opts = MergeOptions::new().align(align).on_duplicate(policy);
        assert_eq!(merge(&out, inputs, opts).unwrap().members, 4);
        check_layout(&out, align, true);
        unzip_t(&out);
        let want: Vec<Vec<u8>> = inputs
            .iter()
            .flat_map(|p| common::zip_members(p))
            .map(|(_, b)| b)
            .collect();
        let got: Vec<Vec<u8>> = common::zip_members(&out)
            .into_iter()
            .map(|(_, b)| b)
            .collect();
        assert_eq!(got, want);
    }
    assert!(temps(d).is_empty());
}

#[test]
fn merge_into_one_of_its_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let parts = shards(dir.path());
    let want: Vec<_> = parts.iter().flat_map(|p| common::zip_members(p)).collect();
    // A reader of the old file keeps its bytes across the replacement.
    let old = NpzReader::open(&parts[0]).unwrap();
    merge(&parts[0], &parts, MergeOptions::new()).unwrap();
    assert_eq!(common::zip_members(&parts[0]), want);
    assert_eq!(old.len(), 3);
    assert!(old.verify().is_ok());
    assert!(temps(dir.path()).is_empty());
}

#[test]
fn merge_duplicate_policies() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let parts = shards(d);
    let dup = d.join("dup.npz");
    let mut w = NpzWriter::create(&dup).unwrap();
    w.write("s0k1", &[7.0f32], &[1], Order::C).unwrap();
    w.close().unwrap();
    let inputs = [parts[0].clone(), dup.clone(), parts[1].clone()];
    let out = d.join("out.npz");

    // error (the default): refused, nothing written.
    let e = merge(&out, &inputs, MergeOptions::new()).unwrap_err();
    match &e {
        Error::DuplicateName { name, at } => {
            assert_eq!(name, "s0k1.npy");
            assert_eq!(at.path.as_deref(), Some(dup.as_path()));
        }
        other => panic!("{other:?}"),
    }
    assert!(!out.exists());
    assert!(temps(d).is_empty());

    // prefix: the later one is renamed <stem>/<name>.
    let r = merge(
        &out,
        &inputs,
        MergeOptions::new().on_duplicate(OnDuplicate::Prefix),
    )
    .unwrap();
    assert_eq!(r.renamed.len(), 1);
    assert_eq!(r.renamed[0].to, "dup/s0k1.npy");
    let rd = NpzReader::open(&out).unwrap();
    let keys: Vec<&str> = rd.keys().collect();
    assert_eq!(
        keys,
        ["s0k0", "s0k1", "s0k2", "dup/s0k1", "s1k0", "s1k1", "s1k2"]
    );
    assert_eq!(rd.get_slice::<f32>("dup/s0k1").unwrap().as_ref(), &[7.0]);
    assert_eq!(rd.get_slice::<f32>("s0k1").unwrap()[0], 100.0);
    drop(rd);

    // last: only the last occurrence stays, at its own position.
    let r = merge(
        &out,
        &inputs,
        MergeOptions::new().on_duplicate(OnDuplicate::Last),
    )
    .unwrap();
    assert_eq!(r.dropped, vec![(parts[0].clone(), "s0k1.npy".to_string())]);
    let rd = NpzReader::open(&out).unwrap();
    let keys: Vec<&str> = rd.keys().collect();
    assert_eq!(keys, ["s0k0", "s0k2", "s0k1", "s1k0", "s1k1", "s1k2"]);
    assert_eq!(rd.get_slice::<f32>("s0k1").unwrap().as_ref(), &[7.0]);
    assert!(rd.duplicates().is_empty());
    drop(rd);

    // A duplicate inside one input counts as well.
    let inner = d.join("inner.npz");
    with_duplicate(&inner);
    let out2 = d.join("out2.npz");
    assert!(matches!(
        merge(&out2, &[&inner], MergeOptions::new()),
        Err(Error::DuplicateName { .. })
    ));
    assert!(!out2.exists());
    let r = merge(
        &out2,
        &[&inner],
        MergeOptions::new().on_duplicate(OnDuplicate::Last),
    )
    .unwrap();
    assert_eq!(r.members, 2);

    // prefix refuses when the new name is taken too.
    let stem_taken = d.join("x.npz");
    let mut w = NpzWriter::create(&stem_taken).unwrap();
    w.write("a", &[1u8], &[1], Order::C).unwrap();
    w.write("x/a", &[2u8], &[1], Order::C).unwrap();
    w.close().unwrap();
    let other = d.join("y.npz");
    let mut w = NpzWriter::create(&other).unwrap();
    w.write("a", &[3u8], &[1], Order::C).unwrap();
    w.close().unwrap();
    let out3 = d.join("out3.npz");
    // y's "a" becomes "y/a" (free): fine.
    merge(
        &out3,
        &[&stem_taken, &other],
        MergeOptions::new().on_duplicate(OnDuplicate::Prefix),
    )
    .unwrap();
    let e = merge(
        &out3,
        &[&stem_taken, &stem_taken],
        MergeOptions::new().on_duplicate(OnDuplicate::Prefix),
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::DuplicateName { ref name, .. } if name == "x/a.npy"),
        "{e:?}"
    );
}

/// Flips one byte in the middle of the first member's data.
fn damage(path: &Path) {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let m = z.by_index_raw(0).unwrap();
    let at = m.data_start().unwrap() + m.compressed_size() / 2;
    drop(m);
    let mut b = bytes(path);
    b[at as usize] ^= 0x40;
    std::fs::write(path, b).unwrap();
}

#[test]
fn damaged_input_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let inputs = fixtures(d);
    let parts = shards(d);
    let mut bad_inputs = vec![parts[1].clone()];
    if common::python().is_some() {
        bad_inputs.push(d.join("compressed.npz"));
        bad_inputs.push(d.join("stream.npz"));
    }
    let _ = inputs;
    for bad in &bad_inputs {
        damage(bad);
        let before = bytes(bad);
        // OUT absent: stays absent.
        let out = d.join("new.npz");
        let e = rewrite(bad, &out, RewriteOptions::new()).unwrap_err();
        assert!(e.is_data_error(), "{e:?}");
        assert_eq!(e.location().path.as_deref(), Some(bad.as_path()), "{e:?}");
        assert!(e.location().member.is_some(), "{e:?}");
        assert!(!out.exists());
        // OUT existing: unchanged.
        let old = d.join("old.npz");
        std::fs::write(&old, b"old bytes").unwrap();
        assert!(rewrite(bad, &old, RewriteOptions::new()).is_err());
        assert_eq!(bytes(&old), b"old bytes");
        let e = merge(&old, &[&parts[0], bad], MergeOptions::new()).unwrap_err();
        assert!(e.is_data_error(), "{e:?}");
        assert_eq!(e.location().path.as_deref(), Some(bad.as_path()), "{e:?}");
        assert_eq!(bytes(&old), b"old bytes");
        assert!(merge(&out, &[&parts[0], bad], MergeOptions::new()).is_err());
        assert!(!out.exists());
        // In place: the damaged input is left as it was.
        assert!(rewrite(bad, bad, RewriteOptions::new()).is_err());
        assert_eq!(bytes(bad), before);
        assert!(temps(d).is_empty(), "{:?}", temps(d));
    }
    // A stored member with a flipped byte is a CRC mismatch.
    assert!(matches!(
        rewrite(&parts[1], d.join("x.npz"), RewriteOptions::new()),
        Err(Error::CrcMismatch { .. })
    ));
}

#[test]
fn bad_options_refused() {
    let dir = tempfile::tempdir().unwrap();
    let parts = shards(dir.path());
    let out = dir.path().join("o.npz");
    for align in [0u64, 3, 65536] {
        assert!(matches!(
            rewrite(&parts[0], &out, RewriteOptions::new().align(align)),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            merge(&out, &parts, MergeOptions::new().align(align)),
            Err(Error::InvalidArgument { .. })
        ));
    }
    let none: [&Path; 0] = [];
    assert!(matches!(
        merge(&out, &none, MergeOptions::new()),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(!out.exists());
}

fn npzmap() -> Command {
    Command::new(env!("CARGO_BIN_EXE_npzmap"))
}

#[test]
fn cli_rewrite_and_merge() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let parts = shards(d);
    let out = d.join("m.npz");
    let st = npzmap()
        .arg("merge")
        .arg(&out)
        .args(&parts)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert_eq!(NpzReader::open(&out).unwrap().len(), 9);
    // Duplicates refused by default (exit 2, nothing written), prefix works.
    let out2 = d.join("m2.npz");
    let st = npzmap()
        .arg("merge")
        .arg(&out2)
        .arg(&parts[0])
        .arg(&parts[0])
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(2));
    assert!(!out2.exists());
    let st = npzmap()
        .args(["merge", "--on-duplicate", "prefix"])
        .arg(&out2)
        .arg(&parts[0])
        .arg(&parts[0])
        .output()
        .unwrap();
    assert!(st.status.success());
    assert!(NpzReader::open(&out2).unwrap().contains("shard0/s0k0"));
    let st = npzmap()
        .args(["merge", "--on-duplicate", "bogus"])
        .arg(&out2)
        .arg(&parts[0])
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(2));
    // rewrite, with --dedupe naming what it dropped.
    let dup = d.join("dup.npz");
    with_duplicate(&dup);
    let rw = d.join("rw.npz");
    let st = npzmap()
        .arg("rewrite")
        .arg(&dup)
        .arg("-o")
        .arg(&rw)
        .args(["--align", "4096", "--dedupe"])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(String::from_utf8_lossy(&st.stderr).contains("dropped \"a.npy\""));
    check_layout(&rw, 4096, true);
    assert_eq!(NpzReader::open(&rw).unwrap().len(), 2);
    // A damaged input: exit 1, OUT untouched.
    damage(&parts[2]);
    let st = npzmap()
        .arg("rewrite")
        .arg(&parts[2])
        .arg("-o")
        .arg(&rw)
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(1));
    assert_eq!(NpzReader::open(&rw).unwrap().len(), 2);
    let st = npzmap()
        .arg("merge")
        .arg(&rw)
        .args(&parts)
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(1));
    assert_eq!(NpzReader::open(&rw).unwrap().len(), 2);
}

/// A large archive (`members` x 16 MiB of pseudo-random bytes, stored,
/// unaligned).
fn large(path: &Path, prefix: &str, members: u64, seed: u64) {
    let mut w = NpzWriter::options()
        .align(1)
        .fsync(false)
        .create(path)
        .unwrap();
    let mut s = seed | 1;
    for k in 0..members {
        let v: Vec<u64> = (0..(2 << 20))
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s
            })
            .collect();
        w.write(&format!("{prefix}{k}"), &v, &[v.len() as u64], Order::C)
            .unwrap();
    }
    w.close().unwrap();
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

/// Runs `cmd` to completion three times (the reference output, and the
/// fastest duration), then six times killed with SIGKILL at a random moment
/// within that duration. After each kill: the inputs have their bytes, `out` is absent
/// or byte-identical to the reference (the rename happened), the only other
/// new files are `.npzmap-tmp` (removable) and lock files.
fn kill_rounds(d: &Path, inputs: &[PathBuf], out: &Path, mk: impl Fn() -> Command, in_place: bool) {
    let originals: Vec<Vec<u8>> = inputs.iter().map(|p| bytes(p)).collect();
    let before: Vec<PathBuf> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    // The reference output, and the duration of the fastest of three runs:
    // every kill is drawn within it, so that it lands while the command
    // runs. (With the first run's duration alone, a slow first run, caches
    // still cold, let all six kills of a CI run arrive after the end.)
    let mut took = Duration::MAX;
    for _ in 0..3 {
        if in_place {
            std::fs::write(&inputs[0], &originals[0]).unwrap();
        }
        let t = Instant::now();
        let st = mk().output().unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        took = took.min(t.elapsed());
    }
    let reference = bytes(out);
    assert!(NpzReader::open(out).unwrap().verify().is_ok());
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut landed_inside = 0;
    for round in 0..6 {
        if in_place {
            std::fs::write(&inputs[0], &originals[0]).unwrap();
        } else {
            let _ = std::fs::remove_file(out);
        }
        let delay = Duration::from_micros(xorshift(&mut seed) % (took.as_micros() as u64).max(1));
        let mut child = mk().spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        if !status.success() {
            landed_inside += 1;
        }
        for (p, b) in inputs.iter().zip(&originals) {
            if in_place && p.as_path() == out {
                let now = bytes(p);
                assert!(
                    now == *b || now == reference,
                    "round {round}: in-place target is neither old nor new"
                );
            } else {
                assert!(
                    bytes(p) == *b,
                    "round {round}: input {} changed",
                    p.display()
                );
            }
        }
        if !in_place && out.exists() {
            assert!(
                bytes(out) == reference,
                "round {round}: half-written output"
            );
        }
        for e in std::fs::read_dir(d).unwrap() {
            let n = e.unwrap().path();
            let name = n.file_name().unwrap().to_string_lossy().into_owned();
            let known = before.contains(&n) || n == out;
            assert!(
                known || name.ends_with(".npzmap-tmp") || name.ends_with(".npzmap-lock"),
                "round {round}: unexpected file {name}"
            );
            if name.ends_with(".npzmap-tmp") {
                std::fs::remove_file(&n).unwrap();
            }
        }
    }
    eprintln!(
        "{}: run {took:?}, {landed_inside}/6 kills inside it",
        out.display()
    );
    // Kills at random moments within the run: most land inside it.
    assert!(
        landed_inside >= 1,
        "no kill landed inside the run ({took:?})"
    );
}

#[test]
fn sigkill_during_rewrite_and_merge() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = d.join("a.npz");
    let b = d.join("b.npz");
    large(&a, "a", 6, 1);
    large(&b, "b", 6, 2);
    let out = d.join("out.npz");
    let (a2, o2) = (a.clone(), out.clone());
    kill_rounds(
        d,
        std::slice::from_ref(&a),
        &out,
        || {
            let mut c = npzmap();
            c.arg("rewrite")
                .arg(&a2)
                .arg("-o")
                .arg(&o2)
                .args(["--align", "4096"]);
            c
        },
        false,
    );
    let _ = std::fs::remove_file(&out);
    let (a3, b3, o3) = (a.clone(), b.clone(), out.clone());
    kill_rounds(
        d,
        &[a.clone(), b.clone()],
        &out,
        || {
            let mut c = npzmap();
            c.arg("merge").arg(&o3).arg(&a3).arg(&b3);
            c
        },
        false,
    );
    let _ = std::fs::remove_file(&out);
    // In place: the file is the old archive or the new one, never a mix.
    let a4 = a.clone();
    kill_rounds(
        d,
        std::slice::from_ref(&a),
        &a,
        || {
            let mut c = npzmap();
            c.arg("rewrite").arg(&a4).arg("-o").arg(&a4);
            c
        },
        true,
    );
}
