//! Live interop with numpy (skipped without numpy outside CI, required in CI).
//!
//! One Python launch writes every dtype x shape x order with `np.save`
//! (tests/data/make_npy_fixtures.py --all); we write the same arrays from
//! their bytes and require identical header bytes and identical files; a
//! second launch `np.load`s our files and compares them with numpy's.

mod common;

use npzmap::dtype::{DType, Element};
use npzmap::npy::{self, NpyFile};
use npzmap::{ArrayView, Error, Header, Order};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn run_script(py: &Path, script: &Path, args: &[&Path]) -> String {
    let out = Command::new(py)
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{} failed:\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const LOAD_AND_COMPARE: &str = r#"
import sys, json, os
import numpy as np
ours_dir, theirs_dir = sys.argv[1], sys.argv[2]
pairs = json.load(open(os.path.join(ours_dir, "pairs.json")))
bad = []
for ours, theirs in pairs:
    a = np.load(os.path.join(ours_dir, ours), max_header_size=10**8)
    b = np.load(os.path.join(theirs_dir, theirs), max_header_size=10**8)
    same = (a.dtype == b.dtype and a.dtype.descr == b.dtype.descr
            and a.shape == b.shape
            and a.flags.f_contiguous == b.flags.f_contiguous
            and a.flags.c_contiguous == b.flags.c_contiguous
            and a.tobytes(order="A") == b.tobytes(order="A"))
    if a.dtype.names is None and a.dtype.kind in "biufc":
        same = same and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    if not same:
        bad.append(ours)
print(json.dumps({"checked": len(pairs), "bad": bad}))
"#;

/// Writes `v` with our typed writer when its dtype has a Rust element type in
/// native order; returns whether it did.
fn write_typed(path: &Path, v: &ArrayView<'_>, order: Order) -> bool {
    fn go<T: Element>(path: &Path, v: &ArrayView<'_>, order: Order) -> bool {
        let data = v.to_vec::<T>().unwrap();
        npy::write(path, &data, v.shape(), order).unwrap();
        true
    }
    if !v.dtype().is_native() {
        return false;
    }
    match v.dtype().to_string().get(1..) {
        Some("b1") => go::<bool>(path, v, order),
        Some("i1") => go::<i8>(path, v, order),
        Some("i2") => go::<i16>(path, v, order),
        Some("i4") => go::<i32>(path, v, order),
        Some("i8") => go::<i64>(path, v, order),
        Some("u1") => go::<u8>(path, v, order),
        Some("u2") => go::<u16>(path, v, order),
        Some("u4") => go::<u32>(path, v, order),
        Some("u8") => go::<u64>(path, v, order),
        Some("f4") => go::<f32>(path, v, order),
        Some("f8") => go::<f64>(path, v, order),
        #[cfg(feature = "half")]
        Some("f2") => go::<half::f16>(path, v, order),
        #[cfg(feature = "complex")]
        Some("c8") => go::<num_complex::Complex<f32>>(path, v, order),
        #[cfg(feature = "complex")]
        Some("c16") => go::<num_complex::Complex<f64>>(path, v, order),
        _ => false,
    }
}

#[test]
fn headers_and_files_identical_to_np_save_and_np_load_reads_ours() {
    let Some(py) = common::python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let theirs = tmp.path().join("numpy");
    let ours = tmp.path().join("ours");
    std::fs::create_dir_all(&ours).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/make_npy_fixtures.py");
    run_script(
        &py,
        &script,
        &[Path::new("--all"), Path::new("--out"), &theirs],
    );
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(theirs.join("expected.json")).unwrap())
            .unwrap();
    let fixtures = meta["fixtures"].as_array().unwrap();
    assert!(fixtures.len() > 800, "only {} arrays", fixtures.len());

    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut versions = std::collections::BTreeSet::new();
    let mut fortran_files = 0;
    for e in fixtures {
        let name = e["name"].as_str().unwrap();
        let file = e["file"].as_str().unwrap();
        let numpy_bytes = std::fs::read(theirs.join(file)).unwrap();
        let descr = e["descr"].as_str().unwrap();
        if e.get("error").is_some() {
            assert!(matches!(
                DType::parse(descr),
                Err(Error::ObjectArray { .. })
            ));
            assert!(matches!(
                NpyFile::open(theirs.join(file)),
                Err(Error::ObjectArray { .. })
            ));
            continue;
        }
        let dtype = DType::parse(descr).unwrap_or_else(|err| panic!("{name}: {err}"));
        let shape: Vec<u64> = e["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .collect();
        let order = if e["order"] == "F" {
            Order::Fortran
        } else {
            Order::C
        };
        let data = unhex(e["data_hex"].as_str().unwrap());
        let header = Header::for_array(dtype, shape, order);
        assert_eq!(
            header.order.is_fortran(),
            e["fortran_order"].as_bool().unwrap(),
            "{name}: for_array order"
        );
        let hb = header.to_bytes().unwrap();
        let hlen = e["header_len"].as_u64().unwrap() as usize;
        assert_eq!(
            String::from_utf8_lossy(&hb),
            String::from_utf8_lossy(&numpy_bytes[..hlen]),
            "{name}: header text"
        );
        assert_eq!(hb, &numpy_bytes[..hlen], "{name}: header bytes");
        versions.insert((hb[6], hb[7]));
        fortran_files += usize::from(header.order.is_fortran());

        let view = ArrayView::from_bytes(&header, &data).unwrap();
        let out = ours.join(file);
        npy::write_view(&out, &view).unwrap();
        assert!(
            std::fs::read(&out).unwrap() == numpy_bytes,
            "{name}: whole file differs from np.save's"
        );
        pairs.push((file.to_string(), file.to_string()));

        // Our typed writer, from numpy's file read back through our reader.
        let f = NpyFile::open(theirs.join(file)).unwrap();
        let typed = format!("typed-{file}");
        if write_typed(&ours.join(&typed), &f.view(), order) {
            assert!(
                std::fs::read(ours.join(&typed)).unwrap() == numpy_bytes,
                "{name}: npy::write differs from np.save"
            );
            pairs.push((typed, file.to_string()));
        }
    }
    assert!(versions.contains(&(1, 0)), "{versions:?}");
    assert!(versions.contains(&(2, 0)), "{versions:?}");
    assert!(versions.contains(&(3, 0)), "{versions:?}");
    assert!(fortran_files > 100, "{fortran_files} fortran files");
    assert!(
        pairs.iter().filter(|p| p.0.starts_with("typed-")).count() > 100,
        "typed writer barely exercised"
    );

    std::fs::write(
        ours.join("pairs.json"),
        serde_json::to_string(&pairs).unwrap(),
    )
    .unwrap();
    let out = common::run(&py, LOAD_AND_COMPARE, &[&ours, &theirs]);
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["checked"].as_u64().unwrap() as usize, pairs.len());
    assert_eq!(report["bad"], serde_json::json!([]), "np.load disagrees");
}

#[test]
fn np_load_reads_big_endian_fortran_written_by_us() {
    // A case built on our side only (not copied from numpy's bytes): the
    // values go in through our typed writer and come out through np.load.
    let Some(py) = common::python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("f.npy");
    let data: Vec<f64> = (0..24).map(|i| f64::from(i) * 1.5 - 3.0).collect();
    npy::write(&path, &data, &[2, 3, 4], Order::Fortran).unwrap();
    let script = r#"
import sys, numpy as np
a = np.load(sys.argv[1])
assert a.flags.f_contiguous and not a.flags.c_contiguous, a.flags
assert a.shape == (2, 3, 4), a.shape
expect = (np.arange(24) * 1.5 - 3.0).reshape((2, 3, 4), order="F")
assert np.array_equal(a, expect)
print(a[1, 2, 3])
"#;
    let out = common::run(&py, script, &[&path]);
    // Fortran: linear index 1 + 2*2 + 3*6 = 23 -> 23 * 1.5 - 3 = 31.5
    assert_eq!(out.trim(), "31.5");
}
