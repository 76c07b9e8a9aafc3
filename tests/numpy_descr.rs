//! Descriptors read as numpy reads them (issue 10, section 5): nested
//! subarrays, unnamed non-void fields, padding, `()` shapes, titles. Live
//! against numpy (`$NPZMAP_PYTHON`):
//!
//! * every descr text below parses to the dtype numpy's `descr_to_dtype`
//!   builds, written back as numpy's `dtype_to_descr` writes it, or fails
//!   where numpy fails;
//! * arrays of nested dtypes written by `np.save` are read by npzmap, and
//!   written again (`npy::write_view`, `NpzWriter::write_view`) byte for
//!   byte as numpy wrote them; `np.load` of our files gives numpy's dtype
//!   and bytes; `npzmap ls` lists an archive holding them.

mod common;

use npzmap::DType;
use npzmap::npy::{self, NpyFile};
use npzmap::npz::{NpzReader, NpzWriter};
use std::process::Command;

/// Descr texts as found in headers (valid and invalid for numpy).
const DESCRS: &[&str] = &[
    "'<f8'",
    "'>c16'",
    "[('c', ('<f8', (5,)), (2,))]",
    "[('c', (('<f8', (5,)), (3,)), (2,))]",
    "[('c', ('<f8', (5,)))]",
    "[('c', ('<f8', ()), (2,))]",
    "[('c', ('<f8', (5,)), ())]",
    "[('c', '<f8', ())]",
    "[('c', '<f8', 3)]",
    "[('c', '<f8', 1)]",
    "[('c', '<f8', 0)]",
    "[('c', ('<f8', 3), 2)]",
    "[('c', '<f8', [2, 3])]",
    "[('c', '<f8', None)]",
    "[('c', ([('a','>i2')], (2,)), (3,))]",
    "[('c', ('<f8', (2,)), (0,))]",
    "[('a', (('<f8', (3,)), (1,)), (4,))]",
    "[('a', ([('x','<i4')], ()), (4,))]",
    "[('a', ([('x', '<i4', (2,)), ('y', ('>f4', (3,)), (2,))], (2,)), (3,))]",
    "[('x', ([('a', '|i1'), ('', '|V3'), ('b', '|i1'), ('', '|V3')], (3,)), (4,))]",
    "[('', '<i4')]",
    "[('a', '<i4'), ('', '<i4'), ('b', '<i4')]",
    "[('', [('a','<i4')])]",
    "[(('t',''), '<i4')]",
    "[(('t',''), '|V4')]",
    "[(('t', 'a'), '<i4'), (('u', 'b'), '>f8', (2,))]",
    "[('', '|V4')]",
    "[('', '|V2'), ('', '|V2')]",
    "[('a','<i4'),('', '<i4', (2,))]",
    "[('a','<i4'),('', '|V4', (2,))]",
    "[('', ('<f8', (2,)))]",
    "[('a','<i4'),('', '|V0')]",
    "[('a', '|V0'), ('', '|V0')]",
    "[('', '|V4'), ('', '<i4')]",
    "[('', '|V4'), ('a', '<i4'), ('', '|V4')]",
    "[('a','<i4'), ('', [])]",
    "[]",
    "[('a', [])]",
    "[('a', [], (3,))]",
    "[('a','|S0',3)]",
    "[('a','<U0',2)]",
    "[('', '|V0', 4)]",
    "[('a', '|S0', 0)]",
    "[['a', '<f8']]",
    "[('\u{e9}', '<f8'), ('\u{4e2d}', '>i2', (2,))]",
    "('<f8', ())",
    "(('<f8', ()), ())",
    // numpy refuses these too.
    "[('', '<i4'), ('', '<i4')]",
    "[('a','<i4'),('a','<i4')]",
    "[('a','<i4'),(('a','b'),'<i4')]",
    "[(('a','a'),'<i4')]",
    "[(('x','a'),'<i4'), ('x', '<i4')]",
    "[('a','|S0',(2,))]",
    "[('a','|S0',())]",
    "[('a','|V0',(2,))]",
    "[('a', '|S0', -1)]",
    "[('c', ('<f8', (0,)), (2,))]",
    "[('c', ('<f8',), (2,))]",
    "[('c', ('<f8', (5,)), (2,), 4)]",
    "[('c', '<f8', (2,-1))]",
    "[('a', '<f8', (True,))]",
    "[('a', '<f8', 2.0)]",
    "[('a', '<f8', [])]",
    "[('a', ('<f8', (2,)), None)]",
    "[('a', ['<f8'])]",
    "[(b'a', '<f8')]",
    "[('a', '|O')]",
    "'|O'",
];

/// Forms numpy reads but npzmap refuses on purpose (numpy never writes
/// them; see the dtype module docs), with numpy's reading for reference.
const REFUSED_ON_PURPOSE: &[&str] = &[
    // An array whose own dtype is a subarray: descr_to_dtype accepts it,
    // np.load then fails ("Failed to read all data").
    "('<f8', (5,))",
    "(('<f8', (5,)), (2,))",
    // A 3-item subarray tuple: numpy ignores the third item.
    "[('c', ('<f8', (2,), 3), (2,))]",
    // None as the size of an unsized element: numpy makes it |S8.
    "[('a','|S0',None)]",
];

const NUMPY_READS: &str = r#"
import ast, sys, json, warnings
import numpy as np
from numpy.lib import format as fmt
out = []
for s in json.loads(sys.stdin.read()):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            d = fmt.descr_to_dtype(ast.literal_eval(s))
        if d.hasobject:
            raise ValueError("object arrays are not loaded without allow_pickle")
        out.append(repr(fmt.dtype_to_descr(d)))
    except Exception as e:
        out.append(None)
print(json.dumps(out))
"#;

fn numpy_reads(py: &std::path::Path, descrs: &[&str]) -> Vec<Option<String>> {
    let mut child = Command::new(py)
        .args(["-c", NUMPY_READS])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(descrs).unwrap().as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    serde_json::from_slice(&o.stdout).expect("json")
}

#[test]
fn descr_texts_read_as_numpy_reads_them() {
    let Some(py) = common::python() else { return };
    let numpy = numpy_reads(&py, DESCRS);
    for (s, want) in DESCRS.iter().zip(&numpy) {
        let ours = DType::parse(s);
        match (want, ours) {
            (Some(w), Ok(d)) => {
                // numpy writes a scalar descr as the bare repr'd string.
                assert_eq!(&d.descr(), w, "{s}");
                assert_eq!(DType::parse(w).unwrap(), d, "{s}: written form reads back");
            }
            (None, Err(_)) => {}
            (Some(w), Err(e)) => panic!("{s}: numpy reads it as {w}, npzmap fails: {e}"),
            (None, Ok(d)) => panic!("{s}: numpy fails, npzmap reads {}", d.descr()),
        }
    }
    // Deliberate differences stay deliberate: numpy accepts, we refuse.
    let numpy = numpy_reads(&py, REFUSED_ON_PURPOSE);
    for (s, want) in REFUSED_ON_PURPOSE.iter().zip(&numpy) {
        assert!(want.is_some(), "{s}: numpy now refuses it too");
        assert!(DType::parse(s).is_err(), "{s}");
    }
}

const MAKE: &str = r#"
import sys, numpy as np
d = sys.argv[1]
s8 = {'names': ['a', 'b'], 'formats': ['i1', 'i1'], 'offsets': [0, 4], 'itemsize': 8}
dts = {
    'sub_sub': np.dtype([('c', ('<f8', (5,)), (2,))]),
    'sub_sub_sub': np.dtype([('c', (('>i2', (2,)), (3,)), (2,)), ('d', '<u1')]),
    'sub_struct_sub': np.dtype([('s', ([('x', '<i4', (2,)), ('y', ('>f4', (3,)), (2,))], (2,)), (3,))]),
    'sub_padded': np.dtype([('x', np.dtype((s8, (3,))), (4,))]),
    'zero_d': np.dtype([('c', ('<f8', ()), (2,)), ('e', '<f4', ())]),
    'unnamed': np.dtype({'names': ['a', '', 'b'], 'formats': ['<i4', '>f8', '<i2']}),
    'unnamed_struct': np.dtype({'names': ['', 'b'], 'formats': [np.dtype([('q', '<i8')]), '<i2']}),
    'titles_sub': np.dtype({'names': ['a', 'b'], 'formats': ['<i4', ('<f8', (2,))], 'titles': ['A', 'B']}),
    'gap_sub': np.dtype({'names': ['a', 'b'], 'formats': ['<i4', ('>i2', (3,))], 'offsets': [2, 9], 'itemsize': 20}),
}
for k, dt in dts.items():
    raw = bytearray((i * 13 + 5) % 256 for i in range(4 * dt.itemsize))
    a = np.frombuffer(raw, dtype=dt).reshape(2, 2)
    np.save(d + '/' + k + '.npy', a)
np.savez(d + '/all.npz', **{k: np.zeros(3, dt) for k, dt in dts.items()})
np.savez_compressed(d + '/all_deflated.npz', **{k: np.zeros(3, dt) for k, dt in dts.items()})
print(' '.join(dts))
"#;

const CHECK: &str = r#"
import sys, numpy as np
d = sys.argv[1]
for k in sys.argv[2:]:
    want = np.load(d + '/' + k + '.npy')
    for got in [np.load(d + '/' + k + '_ours.npy'), np.load(d + '/' + k + '_ours.npz')[k]]:
        assert got.dtype == want.dtype, (k, got.dtype, want.dtype)
        assert got.dtype.descr == want.dtype.descr, k
        # Values, not tobytes(): numpy's copy of a padded dtype leaves the
        # gaps uninitialised. The files' bytes were compared in Rust.
        assert got.shape == want.shape and np.array_equal(got, want), k
print('ok')
"#;

#[test]
fn nested_dtypes_round_trip_through_numpy() {
    let Some(py) = common::python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let keys = common::run(&py, MAKE, &[&d]);
    let keys: Vec<&str> = keys.split_whitespace().collect();
    assert_eq!(keys.len(), 9);
    for k in &keys {
        let src = d.join(format!("{k}.npy"));
        let f = NpyFile::open(&src).unwrap_or_else(|e| panic!("{k}: {e}"));
        let numpy_bytes = std::fs::read(&src).unwrap();
        let out = d.join(format!("{k}_ours.npy"));
        npy::write_view(&out, &f.view()).unwrap();
        assert!(
            std::fs::read(&out).unwrap() == numpy_bytes,
            "{k}: our file differs from np.save's ({})",
            f.header().dtype
        );
        let out = d.join(format!("{k}_ours.npz"));
        let mut w = NpzWriter::create(&out).unwrap();
        w.write_view(k, &f.view()).unwrap();
        w.close().unwrap();
        let member = common::zip_members(&out).remove(0).1;
        assert!(
            member == numpy_bytes,
            "{k}: our member differs from np.save's"
        );
    }
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&d];
    args.extend(keys.iter().map(|k| k as &dyn AsRef<std::ffi::OsStr>));
    assert_eq!(common::run(&py, CHECK, &args).trim(), "ok");
    // Archives holding them open, list and read (stored and deflated).
    for a in ["all.npz", "all_deflated.npz"] {
        let r = NpzReader::open(d.join(a)).unwrap();
        for k in &keys {
            let v = r.get(k).unwrap_or_else(|e| panic!("{a}: {k}: {e}"));
            assert_eq!(v.shape(), &[3]);
        }
        let o = Command::new(env!("CARGO_BIN_EXE_npzmap"))
            .arg("ls")
            .arg(d.join(a))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "npzmap ls {a}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("('<f8', (5,)), (2,))"), "{text}");
    }
}
