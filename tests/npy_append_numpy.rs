//! Interop with numpy and npy-append-array through a Python interpreter:
//! `NPZMAP_PYTHON` (default `python3`). If numpy (or npy_append_array, for
//! the tests that need it) cannot be imported the tests print a notice and
//! pass, unless `CI` is set (to any non-empty value), where they fail.

mod common;

use npzmap::npy::{self, AppendableMode, NpyAppender, NpyFile, RecoverWith};
use npzmap::{Element, Order};
use std::path::Path;
use std::process::Command;

fn python() -> std::path::PathBuf {
    common::python_path()
}

/// True if numpy and `modules` (comma-separated) import; else skip (or
/// fail when `CI` is set).
fn have(modules: &str) -> bool {
    let Some(py) = common::python() else {
        return false;
    };
    modules
        .split(',')
        .all(|m| common::require_module(&py, m.trim()))
}

fn py(script: &str, dir: &Path) -> String {
    let out = Command::new(python())
        .args(["-c", script])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const CASES: &str = r#"
import sys, os, numpy as np
d = sys.argv[1]
rec = np.dtype([('x', '<f4'), ('y', '<i8')])
cases = {
    'c2d':  (np.arange(6, dtype='<f8').reshape(2, 3), np.arange(100, 109, dtype='<f8').reshape(3, 3), 0),
    'f2d':  (np.asfortranarray(np.arange(6, dtype='<i4').reshape(3, 2)),
             np.asfortranarray(np.arange(100, 112, dtype='<i4').reshape(3, 4)), -1),
    'f3d':  (np.asfortranarray(np.arange(24, dtype='<u2').reshape(2, 3, 4)),
             np.asfortranarray(np.arange(100, 112, dtype='<u2').reshape(2, 3, 2)), -1),
    'be1d': (np.arange(5, dtype='>i4'), np.arange(3, dtype='>i4'), 0),
    'rec':  (np.array([(1.5, 2), (2.5, 3)], dtype=rec), np.array([(9.5, 9)], dtype=rec), 0),
}
"#;

#[test]
fn np_save_then_append_then_np_load() {
    if !have("numpy") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    py(
        &format!(
            "{CASES}\nfor k, (a, b, ax) in cases.items():\n    np.save(os.path.join(d, k + '.npy'), a)\n    np.save(os.path.join(d, k + '_blk.npy'), b)\n"
        ),
        dir.path(),
    );
    for (i, name) in ["c2d", "f2d", "f3d", "be1d", "rec"].iter().enumerate() {
        let path = dir.path().join(format!("{name}.npy"));
        let blk = NpyFile::open(dir.path().join(format!("{name}_blk.npy"))).unwrap();
        let app = NpyAppender::options()
            .rewrite_header_on_append(i % 2 == 0)
            .open(&path)
            .unwrap();
        app.append_view(&blk.view()).unwrap();
        app.append_view(&blk.view()).unwrap();
        app.close().unwrap();
    }
    let out = py(
        &format!(
            "{CASES}\nfor k, (a, b, ax) in cases.items():\n    got = np.load(os.path.join(d, k + '.npy'))\n    want = np.concatenate([a, b, b], axis=ax)\n    assert got.dtype == a.dtype, (k, got.dtype, a.dtype)\n    assert got.shape == want.shape, (k, got.shape, want.shape)\n    assert (got == want).all(), k\n    assert got.flags.f_contiguous == a.flags.f_contiguous, k\n    m = np.load(os.path.join(d, k + '.npy'), mmap_mode='r')\n    assert (m == want).all(), k\nprint('ok')\n"
        ),
        dir.path(),
    );
    assert_eq!(out.trim(), "ok");
}

#[test]
fn npy_append_array_files_then_append() {
    if !have("numpy, npy_append_array") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    py(
        r#"
import sys, os, numpy as np
from npy_append_array import NpyAppendArray
d = sys.argv[1]
with NpyAppendArray(os.path.join(d, 'c.npy'), delete_if_exists=True) as n:
    n.append(np.arange(6, dtype=np.float64).reshape(2, 3))
    n.append(np.arange(6, 12, dtype=np.float64).reshape(2, 3))
with NpyAppendArray(os.path.join(d, 'f.npy'), delete_if_exists=True) as n:
    n.append(np.asfortranarray(np.arange(6, dtype=np.int64).reshape(3, 2)))
"#,
        dir.path(),
    );
    let app = NpyAppender::open(dir.path().join("c.npy")).unwrap();
    app.append(&[12.0f64, 13.0, 14.0], &[1, 3]).unwrap();
    app.close().unwrap();
    let app = NpyAppender::open(dir.path().join("f.npy")).unwrap();
    // one column of 3 rows
    app.append(&[6i64, 7, 8], &[3, 1]).unwrap();
    app.close().unwrap();
    // and npy-append-array can continue where we left off
    let out = py(
        r#"
import sys, os, numpy as np
from npy_append_array import NpyAppendArray
d = sys.argv[1]
c = np.load(os.path.join(d, 'c.npy'))
assert (c == np.arange(15, dtype=np.float64).reshape(5, 3)).all(), c
f = np.load(os.path.join(d, 'f.npy'))
want = np.concatenate([np.arange(6).reshape(3, 2), np.array([[6], [7], [8]])], axis=1)
assert f.flags.f_contiguous and (f == want).all(), f
with NpyAppendArray(os.path.join(d, 'c.npy')) as n:
    n.append(np.arange(15, 18, dtype=np.float64).reshape(1, 3))
c = np.load(os.path.join(d, 'c.npy'))
assert (c == np.arange(18, dtype=np.float64).reshape(6, 3)).all(), c
print('ok')
"#,
        dir.path(),
    );
    assert_eq!(out.trim(), "ok");
}

#[test]
fn recovered_created_updated_files_load_in_numpy() {
    if !have("numpy") {
        return;
    }
    npy::set_move_chunk_size(4096);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // (1) interrupted binary-log append: stale header plus half a row
    let p = d.join("crashed.npy");
    let app = NpyAppender::options()
        .rewrite_header_on_append(false)
        .create(&p, i32::dtype(), &[4], Order::C)
        .unwrap();
    let data: Vec<i32> = (0..4000).collect();
    app.append(&data[..400], &[100, 4]).unwrap();
    app.flush().unwrap();
    app.append(&data[400..], &[900, 4]).unwrap();
    let mut bytes = std::fs::read(&p).unwrap();
    drop(app);
    bytes.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
    std::fs::write(&p, &bytes).unwrap();
    npy::recover(&p, false).unwrap();
    // (2) the same with zero fill, Fortran order
    let pz = d.join("zerofill.npy");
    let app = NpyAppender::create(&pz, i32::dtype(), &[4], Order::Fortran).unwrap();
    app.append(&data, &[4, 1000]).unwrap();
    let mut bytes = std::fs::read(&pz).unwrap();
    drop(app);
    bytes.extend_from_slice(&7i32.to_le_bytes());
    std::fs::write(&pz, &bytes).unwrap();
    npy::recover(&pz, true).unwrap();
    // (3) np.save file with its header garbled
    py(
        "import sys, os, numpy as np\nnp.save(os.path.join(sys.argv[1], 'garbled.npy'), np.arange(30000, dtype='<f4').reshape(10000, 3))\n",
        d,
    );
    let pg = d.join("garbled.npy");
    let mut b = std::fs::read(&pg).unwrap();
    b[..60].fill(0);
    std::fs::write(&pg, &b).unwrap();
    npy::recover_with(&pg, &RecoverWith::new(f32::dtype(), &[3], Order::C)).unwrap();
    // (4) a legacy tight header made appendable in place, then appended
    let pt = d.join("tight.npy");
    let h = npzmap::Header::new(f64::dtype(), vec![5000], Order::C);
    let mut tight = (16..1000u64)
        .find_map(|len| h.to_bytes_exact(npy::Version::V1, len).ok())
        .unwrap();
    let vals: Vec<f64> = (0..5000).map(f64::from).collect();
    tight.extend_from_slice(bytemuck::cast_slice(&vals));
    std::fs::write(&pt, &tight).unwrap();
    npy::ensure_appendable(&pt, AppendableMode::InPlace).unwrap();
    let app = NpyAppender::open(&pt).unwrap();
    let more: Vec<f64> = (5000..100_000).map(f64::from).collect();
    app.append(&more, &[95_000]).unwrap();
    app.close().unwrap();
    // (5) sparse create written through the map, then row updates, then overwrite
    let pc = d.join("created.npy");
    let mut m = npy::create(&pc, u16::dtype(), &[1000, 7], Order::C).unwrap();
    m.as_slice_mut::<u16>().unwrap()[7 * 500 + 3] = 42;
    m.flush().unwrap();
    drop(m);
    npy::update(&pc, &[999], &[1u16, 2, 3, 4, 5, 6, 7]).unwrap();
    let po = d.join("over.npy");
    npy::overwrite_slice(&po, &[1i8, 2, 3, 4, 5, 6], &[2, 3], Order::Fortran).unwrap();

    let out = py(
        r#"
import sys, os, numpy as np
d = sys.argv[1]
a = np.load(os.path.join(d, 'crashed.npy'))
assert a.shape == (1000, 4) and (a.ravel() == np.arange(4000)).all()
z = np.load(os.path.join(d, 'zerofill.npy'))
assert z.shape == (4, 1001) and z.flags.f_contiguous, z.shape
assert (z[:, :1000].ravel(order='F') == np.arange(4000)).all()
assert list(z[:, 1000]) == [7, 0, 0, 0]
g = np.load(os.path.join(d, 'garbled.npy'))
assert (g == np.arange(30000, dtype='<f4').reshape(10000, 3)).all()
t = np.load(os.path.join(d, 'tight.npy'), mmap_mode='r')
assert (t == np.arange(100000, dtype='<f8')).all()
c = np.load(os.path.join(d, 'created.npy'))
assert c.shape == (1000, 7) and c[500, 3] == 42 and c.sum() == 42 + 28
assert list(c[999]) == [1, 2, 3, 4, 5, 6, 7]
o = np.load(os.path.join(d, 'over.npy'))
assert o.flags.f_contiguous and (o == np.array([[1, 3, 5], [2, 4, 6]], dtype=np.int8)).all(), o
print('ok')
"#,
        d,
    );
    assert_eq!(out.trim(), "ok");
}
