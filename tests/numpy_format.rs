//! The cases of numpy's own `numpy/lib/tests/test_format.py`, each compared
//! with what numpy does (issue 10, section 5): basic and record arrays in
//! both byte orders and every layout, padded / nested / titled / unnamed /
//! unicode fields, `descr_to_dtype` cases, nested subarrays, version 2.0
//! and 3.0 headers, huge headers, bad magic, bad headers, files one byte
//! short, numpy's own Python 2 data files, and the growth-axis header bytes.
//!
//! tests/data/numpy_format/ holds the committed files and expected.json,
//! made by tests/data/make_format_fixtures.py (which records numpy's
//! outcome for each: the loaded dtype, shape, order and a CRC of the data,
//! or the error). For every file npzmap must reach the same outcome: an
//! array with the same descr, shape, order and bytes, or an error (of the
//! npzmap variant the script names). Headers numpy wrote must also come out
//! of `Header::to_bytes` byte for byte.
//!
//! Header size: numpy refuses headers over 10000 characters unless
//! `max_header_size` is raised (or `allow_pickle=True`), because its
//! `ast.literal_eval` is slow on large input; npzmap's parser is linear, so
//! its default limit is [`DEFAULT_HEADER_LIMIT`] (1 MiB) and it reads those
//! files as numpy does with the limit lifted ("trusted" in expected.json).
//! With `header_limit(10000)` npzmap refuses exactly what numpy's default
//! refuses. Both are checked.
//!
//! The live tests regenerate the set with numpy (`$NPZMAP_PYTHON`), at
//! test_format.py's full sizes (1500-element arrays, a 10001-field header,
//! the 1 MB `test_long_str` item), and check it the same way.

mod common;

use npzmap::npy::header::DEFAULT_HEADER_LIMIT;
use npzmap::npy::{NpyFile, NpyOptions};
use npzmap::npz::{NpzReader, ReaderOptions};
use npzmap::{DType, Error, Header, Order};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// numpy's default `max_header_size`.
const NUMPY_HEADER_LIMIT: usize = 10_000;

fn committed() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/numpy_format")
}

fn load(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("valid JSON")
}

/// What npzmap found: header, data offset (npy files) and data bytes.
struct Got<'a> {
    header: Header,
    data: &'a [u8],
}

fn variant(e: &Error) -> String {
    let d = format!("{e:?}");
    d.split([' ', '{', '(']).next().unwrap_or("").to_string()
}

/// Compares one array outcome; `what` names the case in messages.
fn compare(what: &str, got: Result<Got<'_>, &Error>, want: &Value, npzmap_error: Option<&str>) {
    if want["ok"].as_bool() != Some(true) {
        match got {
            Ok(g) => panic!(
                "{what}: numpy fails ({}), npzmap reads {} {:?}",
                want["error"], g.header.dtype, g.header.shape
            ),
            Err(e) => {
                if let Some(v) = npzmap_error {
                    assert_eq!(variant(e), v, "{what}: error {e}");
                }
            }
        }
        return;
    }
    let g = got.unwrap_or_else(|e| panic!("{what}: numpy reads it, npzmap fails: {e}"));
    let descr = g.header.dtype.descr();
    match want["descr"].as_str() {
        Some(d) => assert_eq!(descr, d, "{what}: descr"),
        None => {
            assert_eq!(
                descr.len() as u64,
                want["descr_len"].as_u64().unwrap(),
                "{what}"
            );
            assert_eq!(
                u64::from(crc32fast::hash(descr.as_bytes())),
                want["descr_crc"].as_u64().unwrap(),
                "{what}: descr checksum"
            );
        }
    }
    let shape: Vec<u64> = want["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap())
        .collect();
    assert_eq!(g.header.shape, shape, "{what}: shape");
    assert_eq!(
        g.header.order == Order::Fortran,
        want["fortran_order"].as_bool().unwrap(),
        "{what}: fortran_order"
    );
    assert_eq!(
        g.data.len() as u64,
        want["data_len"].as_u64().unwrap(),
        "{what}"
    );
    assert_eq!(
        u64::from(crc32fast::hash(g.data)),
        want["data_crc"].as_u64().unwrap(),
        "{what}: data"
    );
}

fn check_npy(dir: &Path, case: &Value, want: &Value, limit: usize) {
    let file = case["file"].as_str().unwrap();
    let path = dir.join(file);
    let opts = NpyOptions::new().header_limit(limit);
    let f = NpyFile::open_with(&path, opts);
    let what = format!("{file} (header limit {limit})");
    let view = f.as_ref().map(|f| f.view());
    let got = match &view {
        Ok(v) => Ok(Got {
            header: v.header().clone(),
            data: v.as_bytes(),
        }),
        Err(e) => Err(*e),
    };
    compare(&what, got, want, case["npzmap_error"].as_str());
    if let (Ok(f), true) = (&f, case["canonical"].as_bool() == Some(true)) {
        // numpy wrote this header: ours for the same array is identical.
        let raw = std::fs::read(&path).unwrap();
        let n = f.parsed_header().data_offset as usize;
        let ours = f.header().to_bytes().unwrap();
        assert!(ours == raw[..n], "{what}: header bytes differ from numpy's");
    }
}

fn check_npz(dir: &Path, case: &Value, want: &Value, limit: usize) {
    let file = case["file"].as_str().unwrap();
    let what = format!("{file} (header limit {limit})");
    let r = NpzReader::open_with(dir.join(file), ReaderOptions::new().header_limit(limit));
    if want["ok"].as_bool() != Some(true) {
        assert!(
            r.is_err(),
            "{what}: numpy fails ({}), npzmap opens it",
            want["error"]
        );
        return;
    }
    let r = r.unwrap_or_else(|e| panic!("{what}: numpy opens it, npzmap fails: {e}"));
    let members = want["members"].as_object().unwrap();
    let mut keys: Vec<&str> = r.keys().collect();
    keys.sort_unstable();
    let mut want_keys: Vec<&str> = members.keys().map(String::as_str).collect();
    want_keys.sort_unstable();
    assert_eq!(keys, want_keys, "{what}: keys");
    for (key, m) in members {
        let v = r.get(key);
        let got = match &v {
            Ok(v) => Ok(Got {
                header: v.header().clone(),
                data: v.as_bytes(),
            }),
            Err(e) => Err(e),
        };
        compare(
            &format!("{what}: {key}"),
            got,
            m,
            case["npzmap_error"].as_str(),
        );
    }
}

/// Checks every case of a fixture directory; returns how many were checked.
fn check_dir(dir: &Path) -> usize {
    let exp = load(dir);
    let cases = exp["cases"].as_array().expect("cases");
    for case in cases {
        let numpy = &case["numpy"];
        // npzmap's default limit reads what numpy reads with its limit lifted.
        let trusted = if case["trusted"].is_null() {
            numpy
        } else {
            &case["trusted"]
        };
        match case["kind"].as_str().unwrap() {
            "npy" => {
                check_npy(dir, case, trusted, DEFAULT_HEADER_LIMIT);
                check_npy(dir, case, numpy, NUMPY_HEADER_LIMIT);
            }
            _ => {
                check_npz(dir, case, trusted, DEFAULT_HEADER_LIMIT);
                check_npz(dir, case, numpy, NUMPY_HEADER_LIMIT);
            }
        }
    }
    // test_header_growth_axis: numpy's header bytes for shapes up to 10**19.
    let headers = exp["headers"].as_array().expect("headers");
    assert!(!headers.is_empty());
    for h in headers {
        let shape: Vec<u64> = h["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .collect();
        let order = if h["fortran_order"].as_bool().unwrap() {
            Order::Fortran
        } else {
            Order::C
        };
        let dtype = DType::parse(h["descr"].as_str().unwrap()).unwrap();
        let ours = Header::new(dtype, shape.clone(), order).to_bytes().unwrap();
        let hex: String = ours.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            h["header_hex"].as_str().unwrap(),
            "header for {shape:?}"
        );
    }
    cases.len()
}

#[test]
fn committed_test_format_cases_match_numpy() {
    let n = check_dir(&committed());
    assert!(n > 300, "only {n} cases");
    // The set covers every test of test_format.py that reads files.
    let exp = load(&committed());
    let mut tests: Vec<&str> = exp["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["case"].as_str().unwrap())
        .collect();
    tests.sort_unstable();
    tests.dedup();
    for t in [
        "test_roundtrip",
        "test_file_truncated",
        "test_compressed_roundtrip",
        "test_load_padded_dtype",
        "test_descr_to_dtype",
        "test_version_2_0",
        "test_huge_header",
        "test_huge_header_npz",
        "test_large_header",
        "test_read_magic",
        "test_read_magic_bad_magic",
        "test_read_version_1_0_bad_magic",
        "test_bad_header",
        "test_empty_npz",
        "test_unicode_field_names",
        "test_metadata_dtype",
        "test_pickle_python2_python3",
        "test_python2_python3_interoperability",
    ] {
        assert!(tests.contains(&t), "no case from {t}");
    }
}

fn generate(py: &Path, out: &Path, full: bool) {
    let script = committed().join("../make_format_fixtures.py");
    let mut cmd = std::process::Command::new(py);
    cmd.arg(&script).arg("--out").arg(out);
    if full {
        cmd.arg("--full");
    }
    let o = cmd.output().expect("run make_format_fixtures.py");
    assert!(
        o.status.success(),
        "make_format_fixtures.py failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The outcome part of a case that does not depend on numpy's wording.
fn outcome_key(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        if o.contains_key("error") {
            o.insert("error".into(), Value::Null);
        }
        if let Some(Value::Object(ms)) = o.get_mut("members") {
            for m in ms.values_mut() {
                *m = outcome_key(m);
            }
        }
    }
    v
}

#[test]
fn live_full_test_format_cases_match_numpy() {
    let Some(py) = common::python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    generate(&py, tmp.path(), true);
    assert!(load(tmp.path())["full"].as_bool().unwrap());
    let n = check_dir(tmp.path());
    assert!(n > 300, "only {n} cases");
}

#[test]
fn live_numpy_agrees_with_the_committed_outcomes() {
    let Some(py) = common::python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    generate(&py, tmp.path(), false);
    let (now, then) = (load(tmp.path()), load(&committed()));
    let (a, b) = (
        now["cases"].as_array().unwrap(),
        then["cases"].as_array().unwrap(),
    );
    assert_eq!(a.len(), b.len(), "number of cases");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x["file"], y["file"]);
        for k in ["numpy", "trusted"] {
            assert_eq!(
                outcome_key(&x[k]),
                outcome_key(&y[k]),
                "{}: numpy {} now does otherwise than the committed {}",
                x["file"],
                now["numpy_version"],
                then["numpy_version"]
            );
        }
    }
    assert_eq!(now["headers"], then["headers"]);
}
