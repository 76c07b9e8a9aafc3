//! Every copy path keeps the dtype exactly, byte order included (issue 10,
//! section 5): big-endian arrays (`>f8`, `>i4`, `>c16`, a big-endian
//! structured dtype with a nested subarray) from stored (`np.savez`) and
//! deflated (`np.savez_compressed`) members, copied by `get`/`get_owned` +
//! `npy::write_view`, `NpzWriter::write_view`, `npzmap export`, `npzmap pack`,
//! `npzmap concat` and `npz::recover`. Each output's bytes equal numpy's
//! `np.save` bytes of the same array, and `np.load` gives the same dtype and
//! values. Only `get_native` / `get_slice` give native order.

mod common;

use npzmap::npz::{self, NpzReader, NpzWriter};
use npzmap::{DType, npy};
use std::path::{Path, PathBuf};
use std::process::Command;

const KEYS: [&str; 4] = ["f8", "i4", "c16", "rec"];

const MAKE: &str = r#"
import sys, numpy as np
d = sys.argv[1]
rec = np.dtype([('a', '>i4'), ('b', '>f8', (2,)), ('c', ('>i2', (2,)), (3,)), ('d', '|u1')])
arrs = {
    'f8': (np.arange(12) * 1.5 - 3).reshape(3, 4).astype('>f8'),
    'i4': np.arange(-5, 7).reshape(4, 3).astype('>i4'),
    'c16': np.array([1 + 2j, -3.5j, 4, 0.25 - 1j], dtype='>c16'),
    'rec': np.zeros(3, rec),
}
r = arrs['rec']
r['a'] = [1, -2, 300000]
r['b'] = [[0.5, 1.5], [2.5, 3.5], [-1, 1e300]]
r['c'] = np.arange(18).reshape(3, 3, 2) - 9
r['d'] = [7, 8, 9]
np.savez(d + '/stored.npz', **arrs)
np.savez_compressed(d + '/deflated.npz', **arrs)
for k, a in arrs.items():
    assert a.dtype.byteorder == '>' or a.dtype.names, (k, a.dtype)
    np.save(d + '/want_' + k + '.npy', a)
    np.save(d + '/cat_' + k + '.npy', np.concatenate([a, a]).astype(a.dtype))
"#;

const CHECK: &str = r#"
import sys, numpy as np
d = sys.argv[1]
for line in sys.argv[2:]:
    out, key, member = line.split(':')
    want = np.load(d + '/want_' + key + '.npy')
    if out.endswith('.npz'):
        with np.load(out) as z:
            got = z[member]
    else:
        got = np.load(out)
    if member == 'cat':
        want = np.concatenate([want, want]).astype(want.dtype)
    assert got.dtype == want.dtype and got.dtype.str == want.dtype.str, (out, got.dtype, want.dtype)
    assert got.dtype.descr == want.dtype.descr, (out, got.dtype.descr)
    assert got.shape == want.shape, (out, got.shape)
    assert got.tobytes() == want.tobytes(), out
print('ok', len(sys.argv) - 2)
"#;

fn cli(args: &[&dyn AsRef<std::ffi::OsStr>]) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_npzmap"));
    for a in args {
        c.arg(a.as_ref());
    }
    let out = c.output().expect("run npzmap");
    assert!(
        out.status.success(),
        "npzmap {:?}: {}",
        c.get_args().collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn member_bytes(archive: &Path, name: &str) -> Vec<u8> {
    common::zip_members(archive)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{}: no member {name}", archive.display()))
        .1
}

#[test]
fn every_copy_path_keeps_the_stored_dtype() {
    let Some(py) = common::python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    common::run(&py, MAKE, &[&d]);
    let mut checks: Vec<String> = Vec::new();
    for src in ["stored", "deflated"] {
        let archive = d.join(format!("{src}.npz"));
        let r = NpzReader::open(&archive).unwrap();
        for key in KEYS {
            let want = read(&d.join(format!("want_{key}.npy")));
            let want_dtype = npy::NpyFile::open(d.join(format!("want_{key}.npy")))
                .unwrap()
                .header()
                .dtype
                .clone();
            assert!(!want_dtype.is_native() || cfg!(target_endian = "big"));
            let tag = format!("{src}_{key}");
            let mut outs: Vec<(PathBuf, &str)> = Vec::new();

            // get / get_owned / header: the stored dtype.
            let v = r.get(key).unwrap();
            assert_eq!(v.dtype(), &want_dtype, "{tag}: get");
            assert_eq!(r.header(key).unwrap().dtype, want_dtype, "{tag}: header");
            let p = d.join(format!("{tag}_get.npy"));
            npy::write_view(&p, &v).unwrap();
            outs.push((p, "-"));
            let o = r.get_owned(key).unwrap();
            assert_eq!(o.dtype(), &want_dtype, "{tag}: get_owned");
            let p = d.join(format!("{tag}_owned.npy"));
            npy::write_view(&p, &o).unwrap();
            outs.push((p, "-"));
            // get_native: native order, same values.
            let n = r.get_native(key).unwrap();
            assert_eq!(n.dtype(), &want_dtype.to_native(), "{tag}: get_native");
            let mut swapped = o.as_bytes().to_vec();
            for item in swapped.chunks_exact_mut(want_dtype.itemsize() as usize) {
                want_dtype.swap_item(item);
            }
            assert_eq!(n.as_bytes(), &swapped[..], "{tag}: get_native bytes");
            // ... and get() after get_native still gives the stored bytes
            // (distinct cache entries).
            assert_eq!(
                r.get(key).unwrap().as_bytes(),
                o.as_bytes(),
                "{tag}: get after get_native"
            );

            // npzmap export.
            let p = d.join(format!("{tag}_export.npy"));
            cli(&[&"export", &archive, &key, &"-o", &p]);
            outs.push((p, "-"));

            for (p, _) in &outs {
                assert_eq!(read(p), want, "{tag}: {} differs from np.save", p.display());
            }

            // NpzWriter::write_view from the reader.
            let p = d.join(format!("{tag}_writer.npz"));
            let mut w = NpzWriter::create(&p).unwrap();
            w.write_view(key, &r.get(key).unwrap()).unwrap();
            w.close().unwrap();
            assert_eq!(
                member_bytes(&p, &format!("{key}.npy")),
                want,
                "{tag}: writer"
            );
            checks.push(format!("{}:{key}:{key}", p.display()));

            // npzmap pack of the exported file.
            let p = d.join(format!("{tag}_pack.npz"));
            let exported = d.join(format!("{tag}_export.npy"));
            cli(&[&"pack", &p, &format!("{key}={}", exported.display())]);
            assert_eq!(member_bytes(&p, &format!("{key}.npy")), want, "{tag}: pack");
            checks.push(format!("{}:{key}:{key}", p.display()));

            // npzmap concat of the exported file twice.
            let p = d.join(format!("{tag}_cat.npy"));
            cli(&[&"concat", &p, &exported, &exported]);
            assert_eq!(
                read(&p),
                read(&d.join(format!("cat_{key}.npy"))),
                "{tag}: concat differs from np.save(np.concatenate)"
            );
            checks.push(format!("{}:{key}:cat", p.display()));

            for (p, _) in outs {
                checks.push(format!("{}:{key}:-", p.display()));
            }
        }
        // npz::recover copies every member as stored.
        let p = d.join(format!("{src}_recovered.npz"));
        let rep = npz::recover(&archive, &p).unwrap();
        assert_eq!(
            rep.kept.len(),
            KEYS.len(),
            "{src}: recover kept {:?}",
            rep.kept
        );
        for key in KEYS {
            let want = read(&d.join(format!("want_{key}.npy")));
            assert_eq!(
                member_bytes(&p, &format!("{key}.npy")),
                want,
                "{src}: recover {key}"
            );
            let rr = NpzReader::open(&p).unwrap();
            assert_eq!(
                rr.get(key).unwrap().dtype(),
                &DType::parse(&read_descr(&want)).unwrap(),
                "{src}: recovered {key}"
            );
            checks.push(format!("{}:{key}:{key}", p.display()));
        }
    }
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&d];
    args.extend(checks.iter().map(|c| c as &dyn AsRef<std::ffi::OsStr>));
    let out = common::run(&py, CHECK, &args);
    assert_eq!(out.trim(), format!("ok {}", checks.len()));
}

/// The descr text of an NPY file's header.
fn read_descr(npy_bytes: &[u8]) -> String {
    npy::header::read_header(npy_bytes, usize::MAX)
        .unwrap()
        .header
        .dtype
        .descr()
}
