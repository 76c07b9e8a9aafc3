//! The `npzmap` binary: output contracts, exit codes, and results checked
//! with numpy.
#![cfg(feature = "cli")]

mod common;
#[path = "common/cli.rs"]
mod run;

use run::{code, npzmap, stderr, stdout};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

const KEYS: [&str; 11] = [
    "name",
    "member",
    "descr",
    "shape",
    "fortran_order",
    "offset",
    "nbytes",
    "compressed",
    "aligned",
    "kind",
    "array",
];

fn ls_json(path: &Path) -> Vec<Value> {
    let o = npzmap(&[&"ls", &path, &"--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).expect("ls --json prints JSON");
    let rows = v.as_array().expect("a JSON array").clone();
    for r in &rows {
        let obj = r.as_object().expect("objects");
        let mut keys: Vec<&str> = obj.keys().map(|k| k.as_str()).collect();
        keys.sort_unstable();
        let mut want = KEYS.to_vec();
        want.sort_unstable();
        assert_eq!(keys, want, "exactly the documented keys");
    }
    rows
}

#[test]
fn ls_json_matches_numpy_and_the_bytes() {
    let Some(py) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.npz");
    let pc = dir.path().join("c.npz");
    // numpy writes the archive and prints its own view of every array.
    let script = r#"
import json, sys, numpy as np
rec = np.dtype([('x', '<f4'), ('y', [('a', '>i2'), ('b', 'u1', (2, 3))]), (('T', 't'), '<U3')])
arrays = {
    'f': np.arange(12, dtype='<f8').reshape(3, 4),
    'F': np.asfortranarray(np.arange(6, dtype='>i4').reshape(2, 3)),
    'z': np.array(7, dtype='<u2'),
    'e': np.zeros((0, 5), dtype='|b1'),
    'r': np.zeros(3, dtype=rec),
    'dir/s': np.array([b'ab', b'c'], dtype='|S2'),
}
np.savez(sys.argv[1], **arrays)
np.savez_compressed(sys.argv[2], **arrays)
def js(d):
    if d.names is None:
        return d.str
    out = []
    for t in d.descr:
        name = list(t[0]) if isinstance(t[0], tuple) else t[0]
        out.append([name, t[1] if isinstance(t[1], str) else js(np.dtype(t[1]))] + ([list(t[2])] if len(t) > 2 else []))
    return out
print(json.dumps({k: {'descr': js(a.dtype), 'shape': list(a.shape),
                      'fortran_order': bool(a.flags.f_contiguous and not a.flags.c_contiguous),
                      'nbytes': a.nbytes, 'hex': a.tobytes(order='A').hex()} for k, a in arrays.items()}))
"#;
    let expect: Value = serde_json::from_str(&common::run(&py, script, &[&p, &pc])).unwrap();
    let expect = expect.as_object().unwrap();
    let bytes = std::fs::read(&p).unwrap();
    for (path, compressed) in [(&p, false), (&pc, true)] {
        let rows = ls_json(path);
        assert_eq!(rows.len(), expect.len());
        let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            vec!["f", "F", "z", "e", "r", "dir/s"],
            "archive order"
        );
        for r in &rows {
            let name = r["name"].as_str().unwrap();
            let e = &expect[name];
            assert_eq!(r["member"], Value::String(format!("{name}.npy")));
            assert_eq!(r["descr"], e["descr"], "{name}");
            assert_eq!(r["shape"], e["shape"], "{name}");
            assert_eq!(r["fortran_order"], e["fortran_order"], "{name}");
            assert_eq!(r["nbytes"], e["nbytes"], "{name}");
            assert_eq!(r["compressed"], Value::Bool(compressed));
            if compressed {
                assert_eq!(r["offset"], Value::Null);
                assert_eq!(r["aligned"], Value::Bool(false));
            } else {
                // The offset points at exactly the array's bytes.
                let off = r["offset"].as_u64().unwrap() as usize;
                let n = r["nbytes"].as_u64().unwrap() as usize;
                let hex: String = bytes[off..off + n]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                assert_eq!(hex, e["hex"].as_str().unwrap(), "{name}");
            }
        }
    }
    // Our own aligned archive: every native array is zero-copy.
    let ours = dir.path().join("ours.npz");
    let o = npzmap(&[
        &"pack",
        &ours,
        &format!("x={}", fixture("npy/f8_2d_C.npy").display()),
    ]);
    if code(&o) == 0 {
        let rows = ls_json(&ours);
        assert_eq!(rows[0]["aligned"], Value::Bool(true));
        assert_eq!(rows[0]["offset"].as_u64().unwrap() % 64, 0);
    }
}

#[test]
fn ls_npy_and_table() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("weights.npy");
    npzmap::npy::write(
        &p,
        &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0],
        &[2, 3],
        npzmap::Order::Fortran,
    )
    .unwrap();
    let rows = ls_json(&p);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["name"], "weights");
    assert_eq!(rows[0]["member"], Value::Null);
    assert_eq!(rows[0]["descr"], "<f4");
    assert_eq!(rows[0]["shape"], serde_json::json!([2, 3]));
    assert_eq!(rows[0]["fortran_order"], true);
    assert_eq!(rows[0]["offset"], 128);
    assert_eq!(rows[0]["nbytes"], 24);
    assert_eq!(rows[0]["compressed"], false);
    assert_eq!(rows[0]["aligned"], true);
    let o = npzmap(&[&"ls", &p]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("weights"), "{}", stdout(&o));
}

/// The table names each row's own dtype when the dtypes change from row
/// to row (the listing formats a dtype once and reuses it while it repeats).
#[test]
fn ls_table_names_each_rows_dtype() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mixed.npz");
    let parts = [
        ("a", "bef8_s3"),
        ("b", "bef8_s3"),
        ("c", "bei4_s3"),
        ("d", "rec_nested_s3"),
        ("e", "bef8_s3"),
        ("f", "leU1_s3"),
    ];
    let specs: Vec<String> = (parts.iter())
        .map(|(k, f)| format!("{k}={}", fixture(&format!("npy/{f}.npy")).display()))
        .collect();
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"pack", &out];
    args.extend(specs.iter().map(|s| s as &dyn AsRef<std::ffi::OsStr>));
    assert_eq!(code(&npzmap(&args)), 0);
    let npz = npzmap::NpzReader::open(&out).unwrap();
    let o = npzmap(&[&"ls", &out]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), parts.len());
    for ((k, _), row) in parts.iter().zip(rows) {
        let dtype = npz.array_info(k).unwrap().header.dtype.to_string();
        let want = format!("{k:<24} {dtype:<10} ");
        assert!(row.starts_with(&want), "{row:?} should start with {want:?}");
    }
}

#[test]
fn exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    // Missing file: I/O error.
    let o = npzmap(&[&"ls", &dir.path().join("nope.npz")]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("nope.npz"), "{}", stderr(&o));
    // Not an archive: damaged data.
    let junk = dir.path().join("junk.npz");
    std::fs::write(&junk, b"this is not a zip archive at all").unwrap();
    let o = npzmap(&[&"ls", &junk]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("not a zip archive"), "{}", stderr(&o));
    // Bad usage.
    assert_eq!(code(&npzmap(&[&"frobnicate"])), 2);
    assert_eq!(code(&npzmap(&[&"ls"])), 2);
    // Unknown array.
    let o = npzmap(&[
        &"export",
        &fixture("small_savez.npz"),
        &"no_such",
        &"-o",
        &dir.path().join("x.npy"),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn never_panics_on_damaged_archives() {
    let src = std::fs::read(fixture("small_savez.npz")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("d.npz");
    let out = dir.path().join("o.npy");
    let mut cuts: Vec<usize> = (0..src.len()).step_by(37).collect();
    cuts.push(src.len() - 1);
    for cut in cuts {
        std::fs::write(&p, &src[..cut]).unwrap();
        for args in [vec!["ls", "--json"], vec!["verify"]] {
            let mut a: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&args[0]];
            a.push(&p);
            if args.len() > 1 {
                a.push(&args[1]);
            }
            let o = npzmap(&a);
            assert!(
                matches!(code(&o), 0..=2),
                "cut {cut} {args:?}: {}",
                stderr(&o)
            );
        }
        let o = npzmap(&[&"export", &p, &"a", &"-o", &out]);
        assert!(matches!(code(&o), 0..=2), "cut {cut}: {}", stderr(&o));
    }
    // Flipped bytes.
    for i in (0..src.len()).step_by(13) {
        let mut b = src.clone();
        b[i] ^= 0x5a;
        std::fs::write(&p, &b).unwrap();
        let o = npzmap(&[&"verify", &p]);
        assert!(matches!(code(&o), 0 | 1), "flip {i}: {}", stderr(&o));
    }
}

#[test]
fn verify_reports_the_member() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v.npz");
    let mut w = npzmap::NpzWriter::create(&p).unwrap();
    w.write("good", &[1u32, 2, 3], &[3], npzmap::Order::C)
        .unwrap();
    w.write("bad", &[7u64; 100], &[100], npzmap::Order::C)
        .unwrap();
    w.close().unwrap();
    let o = npzmap(&[&"verify", &p]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Corrupt one byte of "bad"'s data: its CRC no longer matches.
    let rows = ls_json(&p);
    let bad = rows.iter().find(|r| r["name"] == "bad").unwrap();
    let off = bad["offset"].as_u64().unwrap() as usize;
    let mut b = std::fs::read(&p).unwrap();
    b[off + 10] ^= 1;
    std::fs::write(&p, &b).unwrap();
    let o = npzmap(&[&"verify", &p]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(out.contains("bad.npy") && out.contains("CRC"), "{out}");
    assert!(!out.contains("good.npy"), "{out}");
    // A truncated .npy: exit 1, numpy's wording.
    let n = dir.path().join("t.npy");
    npzmap::npy::write(&n, &[0u16; 64], &[64], npzmap::Order::C).unwrap();
    let len = std::fs::metadata(&n).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&n)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let o = npzmap(&[&"verify", &n]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("file seems not fully written"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn ls_json_stays_json_when_a_member_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("b.npz");
    let mut w = npzmap::NpzWriter::create(&p).unwrap();
    w.write("ok", &[1u8, 2, 3], &[3], npzmap::Order::C).unwrap();
    w.write("broken", &[5u8; 4], &[4], npzmap::Order::C)
        .unwrap();
    w.close().unwrap();
    // Damage the second member's npy magic.
    let mut b = std::fs::read(&p).unwrap();
    let at = b.windows(6).rposition(|w| w == b"\x93NUMPY").unwrap();
    b[at + 1] = b'X';
    std::fs::write(&p, &b).unwrap();
    let o = npzmap(&[&"ls", &p, &"--json"]);
    assert_eq!(code(&o), 1);
    let v: Value = serde_json::from_str(&stdout(&o)).expect("still JSON on stdout");
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["name"], "ok");
    assert!(stderr(&o).contains("broken.npy"), "{}", stderr(&o));
}

#[test]
fn export_pack_concat_with_numpy() {
    let Some(py) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::run(
        &py,
        r#"
import sys, numpy as np
d = sys.argv[1]
np.savez(d + '/s.npz', a=np.arange(10, dtype='>i8'), b=np.linspace(0, 1, 7, dtype='<f4'))
np.savez_compressed(d + '/c.npz', a=np.arange(100, dtype='<u2').reshape(10, 10))
np.save(d + '/p1.npy', np.arange(6, dtype='<f8').reshape(2, 3))
np.save(d + '/p2.npy', np.arange(9, dtype='<f8').reshape(3, 3) + 10)
np.save(d + '/q.npy', np.asfortranarray(np.arange(6, dtype='<i2').reshape(2, 3)))
np.save(d + '/bad.npy', np.arange(4, dtype='<f8').reshape(2, 2))
"#,
        &[&d],
    );
    // export: big-endian stored, deflated
    for (src, key, out) in [
        ("s.npz", "a", "ea.npy"),
        ("s.npz", "b", "eb.npy"),
        ("c.npz", "a", "ec.npy"),
    ] {
        let o = npzmap(&[&"export", &d.join(src), &key, &"-o", &d.join(out)]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    common::run(
        &py,
        r#"
import sys, numpy as np
d = sys.argv[1]
s, c = np.load(d + '/s.npz'), np.load(d + '/c.npz')
for f, want in [('ea', s['a']), ('eb', s['b']), ('ec', c['a'])]:
    got = np.load(d + '/' + f + '.npy')
    assert got.dtype == want.dtype and np.array_equal(got, want), f
"#,
        &[&d],
    );
    // pack, then pack --append, with 4096 alignment
    let pk = d.join("packed.npz");
    let o = npzmap(&[
        &"pack",
        &pk,
        &"--align",
        &"4096",
        &d.join("p1.npy"),
        &format!("fortran={}", d.join("q.npy").display()),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = npzmap(&[&"pack", &pk, &"--append", &d.join("p2.npy")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = npzmap(&[&"pack", &pk, &"--append", &d.join("p2.npy")]);
    assert_eq!(code(&o), 2, "duplicate name refused: {}", stderr(&o));
    let rows = ls_json(&pk);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["offset"].as_u64().unwrap() % 4096, 0);
    assert_eq!(rows[1]["offset"].as_u64().unwrap() % 4096, 0);
    common::run(
        &py,
        r#"
import sys, numpy as np
d = sys.argv[1]
z = np.load(d + '/packed.npz')
assert sorted(z.files) == ['fortran', 'p1', 'p2'], z.files
for k, f in [('p1', 'p1'), ('fortran', 'q'), ('p2', 'p2')]:
    assert np.array_equal(z[k], np.load(d + '/' + f + '.npy')), k
assert z['fortran'].flags.f_contiguous
"#,
        &[&d],
    );
    // concat: creates, extends, refuses a mismatch without writing
    let cc = d.join("cat.npy");
    let o = npzmap(&[&"concat", &cc, &d.join("p1.npy"), &d.join("p2.npy")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let before = std::fs::read(&cc).unwrap();
    let o = npzmap(&[&"concat", &cc, &d.join("p1.npy"), &d.join("bad.npy")]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("nothing was written"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&cc).unwrap(), before, "file unchanged");
    let o = npzmap(&[&"concat", &cc, &d.join("p1.npy")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    common::run(
        &py,
        r#"
import sys, numpy as np
d = sys.argv[1]
p1, p2 = np.load(d + '/p1.npy'), np.load(d + '/p2.npy')
got = np.load(d + '/cat.npy')
assert np.array_equal(got, np.concatenate([p1, p2, p1])), got
"#,
        &[&d],
    );
}

#[test]
fn recover_after_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = d.join("r.npz");
    let mut w = npzmap::NpzWriter::create(&p).unwrap();
    for i in 0..5u32 {
        w.write(&format!("a{i}"), &vec![i; 1000], &[1000], npzmap::Order::C)
            .unwrap();
    }
    w.close().unwrap();
    let full = std::fs::read(&p).unwrap();
    // Cut inside the fourth member's data: a0..a2 survive.
    let rows = ls_json(&p);
    let cut = rows[3]["offset"].as_u64().unwrap() as usize + 100;
    std::fs::write(&p, &full[..cut]).unwrap();
    assert_eq!(code(&npzmap(&[&"ls", &p])), 1, "the cut archive is damaged");
    let out = d.join("fixed.npz");
    let o = npzmap(&[&"recover", &p, &"-o", &out]);
    // a3 (cut) was dropped: exit 1, named with its offset and reason.
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let s = stdout(&o);
    for k in ["a0.npy", "a1.npy", "a2.npy"] {
        assert!(s.contains(&format!("kept     {k}")), "{s}");
    }
    let err = stderr(&o);
    assert!(
        err.contains("dropped  \"a3.npy\" (offset ")
            && err.contains("runs past the end of the file"),
        "{err}"
    );

    let r = npzmap::NpzReader::open(&out).unwrap();
    assert_eq!(r.keys().collect::<Vec<_>>(), vec!["a0", "a1", "a2"]);
    assert_eq!(&*r.get_slice::<u32>("a2").unwrap(), &vec![2u32; 1000][..]);
    // .npy: drop the incomplete row, or zero-fill it
    let n = d.join("t.npy");
    npzmap::npy::write(
        &n,
        &(0..30u16).collect::<Vec<_>>(),
        &[10, 3],
        npzmap::Order::C,
    )
    .unwrap();
    let len = std::fs::metadata(&n).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&n)
        .unwrap()
        .set_len(len - 2)
        .unwrap();
    let o = npzmap(&[&"recover", &n, &"-o", &d.join("t1.npy")]);
    // The 4 bytes of the incomplete last row are dropped: said, and exit 1.
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("4 bytes of an incomplete last row dropped"),
        "{}",
        stderr(&o)
    );
    let f = npzmap::npy::NpyFile::open(d.join("t1.npy")).unwrap();
    assert_eq!(f.header().shape, vec![9, 3]);
    let o = npzmap(&[&"recover", &n, &"-o", &d.join("t2.npy"), &"--zerofill"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let f = npzmap::npy::NpyFile::open(d.join("t2.npy")).unwrap();
    assert_eq!(f.header().shape, vec![10, 3]);
    assert_eq!(f.view().to_vec::<u16>().unwrap()[27..], [27, 28, 0]);
}

#[test]
fn demo_runs() {
    let dir = tempfile::tempdir().unwrap();
    let o = npzmap(&[
        &"demo",
        &"--samples",
        &"300",
        &"--dir",
        &dir.path(),
        &"--quiet",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    for phase in [
        "write images",
        "stream tokens",
        "open",
        "random access",
        "verify",
    ] {
        assert!(out.contains(phase), "{out}");
    }
    let r = npzmap::NpzReader::open(dir.path().join("dataset.npz")).unwrap();
    assert_eq!(r.len(), 303);
    assert!(r.verify().is_ok());
}

/// `ls --json` streams its rows with its own string escaper: names with
/// quotes, backslashes, control characters, non-ASCII (UTF-8 flagged) and
/// cp437 names (no UTF-8 flag) come out as the exact names Python's zipfile
/// decodes, and the keys are np.load's.
#[test]
fn ls_json_prints_awkward_names_exactly() {
    let Some(py) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("names.npz");
    let script = r#"
import io, json, sys, zipfile, numpy as np
class CP437(zipfile.ZipInfo):
    # A name stored without the UTF-8 flag, as old zip tools write it.
    def _encodeFilenameFlags(self):
        return self.filename.encode('cp437'), self.flag_bits
names = ['q"uote', 'back\\slash\\', 'ctl\x01\x1f\t\n\r\x08\x0c\x7f', 'utf8 日本語 🦀 \u2028 é',
         'sp ace', '\\"\\u0041', 'dir/sub/x']
with zipfile.ZipFile(sys.argv[1], 'w') as zf:
    for i, n in enumerate(names):
        b = io.BytesIO()
        np.lib.format.write_array(b, np.arange(i + 1, dtype='<i2'))
        zf.writestr(n + '.npy', b.getvalue())
    b = io.BytesIO()
    np.lib.format.write_array(b, np.array([1.5], dtype='>f8'))
    zf.writestr(CP437('Ñandú ½ ░▒ ÿ.npy'), b.getvalue())
    zf.writestr('raw "bytes"\\ é.bin', b'not an array')
with zipfile.ZipFile(sys.argv[1]) as zf:
    members = zf.namelist()
keys = np.load(sys.argv[1]).files
print(json.dumps({'members': members, 'keys': keys}))
"#;
    let expect: Value = serde_json::from_str(&common::run(&py, script, &[&p])).unwrap();
    let members: Vec<&str> = expect["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let keys: Vec<&str> = expect["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(members.len(), 9);
    assert!(members.contains(&"Ñandú ½ ░▒ ÿ.npy"), "{members:?}");
    let rows = ls_json(&p);
    let got_members: Vec<&str> = rows.iter().map(|r| r["member"].as_str().unwrap()).collect();
    let got_keys: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(got_members, members);
    assert_eq!(got_keys, keys);
    for (i, r) in rows.iter().take(7).enumerate() {
        assert_eq!(r["descr"], "<i2");
        assert_eq!(r["shape"], serde_json::json!([i + 1]));
    }
    assert_eq!(rows[7]["descr"], ">f8");
    assert_eq!(rows[8]["kind"], "bytes");
    assert_eq!(rows[8]["nbytes"], 12);
    // The table lists the same keys (one line each after the heading).
    let o = npzmap(&[&"ls", &p]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("Ñandú ½ ░▒ ÿ"), "{}", stdout(&o));
}

/// `npzmap ls big.npz | head`: when the reader of stdout goes away the
/// listing stops quietly with exit 0 (no panic, no message). The listing is
/// far larger than a pipe's buffer and npzmap's own, so the writes must meet
/// the closed pipe whatever the timing.
#[test]
fn ls_into_a_closed_pipe_exits_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("many.npz");
    let mut w = npzmap::NpzWriter::create(&p).unwrap();
    for i in 0..20_000u32 {
        w.write(&format!("member_{i:06}"), &[i], &[1], npzmap::Order::C)
            .unwrap();
    }
    w.close().unwrap();
    for json in [true, false] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_npzmap"));
        c.arg("ls").arg(&p);
        if json {
            c.arg("--json");
        }
        let mut child = c
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert_eq!(code(&o), 0, "json {json}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "json {json}");
    }
}
