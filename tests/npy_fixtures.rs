//! The committed numpy-written fixtures in tests/data/npy/ (made by
//! tests/data/make_npy_fixtures.py, numpy version recorded in expected.json):
//! every header field, the data bytes, typed copies and strings must match
//! what numpy recorded, and the header we write for the same array must be
//! byte-identical to the one numpy wrote.

use npzmap::dtype::{DType, Element};
use npzmap::npy::{self, NpyFile, NpyOptions};
use npzmap::{ArrayView, Error, Header, Order};
use serde_json::Value;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/npy")
}

fn expected() -> Value {
    let text = std::fs::read_to_string(dir().join("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("valid JSON")
}

fn fixtures() -> Vec<Value> {
    expected()["fixtures"].as_array().expect("fixtures").clone()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn shape_of(e: &Value) -> Vec<u64> {
    e["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap())
        .collect()
}

/// `to_vec::<T>()` as native bytes, compared with numpy's native-order bytes.
fn check_vec<T: Element>(v: &ArrayView<'_>, native: &[u8], name: &str) -> Vec<T> {
    let out = v
        .to_vec::<T>()
        .unwrap_or_else(|e| panic!("{name}: to_vec: {e}"));
    assert_eq!(
        bytemuck::cast_slice::<T, u8>(&out),
        native,
        "{name}: to_vec bytes"
    );
    out
}

fn check_ints<T: Element + Into<i128>>(v: &ArrayView<'_>, native: &[u8], e: &Value) {
    let name = e["name"].as_str().unwrap();
    let got: Vec<i128> = check_vec::<T>(v, native, name)
        .into_iter()
        .map(Into::into)
        .collect();
    let want: Vec<i128> = e["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            x.as_i64()
                .map(i128::from)
                .or_else(|| x.as_u64().map(i128::from))
                .unwrap()
        })
        .collect();
    assert_eq!(got, want, "{name}: values");
}

fn check_floats<T: Element + Into<f64>>(v: &ArrayView<'_>, native: &[u8], e: &Value) {
    let name = e["name"].as_str().unwrap();
    let got: Vec<f64> = check_vec::<T>(v, native, name)
        .into_iter()
        .map(Into::into)
        .collect();
    let want: Vec<f64> = e["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(got, want, "{name}: values");
}

/// Typed copies for the scalar dtypes that have a Rust element type.
/// Returns true if a typed check ran.
fn check_typed(v: &ArrayView<'_>, native: &[u8], e: &Value) -> bool {
    let descr = e["descr"].as_str().unwrap();
    let name = e["name"].as_str().unwrap();
    let code = descr.trim_matches('\'');
    let code = code.get(1..).unwrap_or("");
    match code {
        "b1" => {
            let got = check_vec::<bool>(v, native, name);
            let want: Vec<bool> = e["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_bool().unwrap())
                .collect();
            assert_eq!(got, want, "{name}");
        }
        "i1" => check_ints::<i8>(v, native, e),
        "i2" => check_ints::<i16>(v, native, e),
        "i4" => check_ints::<i32>(v, native, e),
        "i8" => check_ints::<i64>(v, native, e),
        "u1" => check_ints::<u8>(v, native, e),
        "u2" => check_ints::<u16>(v, native, e),
        "u4" => check_ints::<u32>(v, native, e),
        "u8" => check_ints::<u64>(v, native, e),
        "f4" => check_floats::<f32>(v, native, e),
        "f8" => check_floats::<f64>(v, native, e),
        #[cfg(feature = "half")]
        "f2" => check_floats::<half::f16>(v, native, e),
        #[cfg(feature = "complex")]
        "c8" => {
            check_vec::<num_complex::Complex<f32>>(v, native, name);
        }
        #[cfg(feature = "complex")]
        "c16" => {
            check_vec::<num_complex::Complex<f64>>(v, native, name);
        }
        _ => return false,
    }
    true
}

#[test]
fn numpy_version_is_recorded() {
    let meta = expected();
    let v = meta["numpy_version"].as_str().expect("numpy_version");
    assert!(v.starts_with("2."), "fixtures made with numpy {v}");
}

#[test]
fn fixtures_cover_every_dtype_family() {
    let fx = fixtures();
    let descrs: Vec<&str> = fx.iter().map(|e| e["descr"].as_str().unwrap()).collect();
    for want in [
        "'|b1'",
        "'|i1'",
        "'<i2'",
        "'<i4'",
        "'<i8'",
        "'|u1'",
        "'<u2'",
        "'<u4'",
        "'<u8'",
        "'<f2'",
        "'<f4'",
        "'<f8'",
        "'<c8'",
        "'<c16'",
        "'>i4'",
        "'>f8'",
        "'>c16'",
        "'|S5'",
        "'<U4'",
        "'>U3'",
        "'|V8'",
        "'<M8[ns]'",
        "'<m8[s]'",
        "'<M8[10ms]'",
        "'<m8[3h]'",
        "'<M8'",
        "'|O'",
    ] {
        assert!(descrs.contains(&want), "no fixture with descr {want}");
    }
    let has = |f: &dyn Fn(&str) -> bool| descrs.iter().any(|d| f(d));
    assert!(has(&|d| d.contains("(('")), "titled fields");
    assert!(has(&|d| d.contains("('', '|V")), "padding");
    assert!(has(&|d| d.contains(", [(")), "nested records");
    assert!(has(&|d| d.contains("', (2, 3))")), "subarrays");
    let layouts: Vec<(Vec<u64>, bool)> = fx
        .iter()
        .map(|e| (shape_of(e), e["fortran_order"].as_bool().unwrap()))
        .collect();
    assert!(layouts.contains(&(vec![], false)), "0-d");
    assert!(layouts.contains(&(vec![0, 3], false)), "empty");
    assert!(layouts.contains(&(vec![2, 3], true)), "F 2-D");
    assert!(layouts.contains(&(vec![2, 3, 4], true)), "F 3-D");
    assert!(
        fx.iter().any(|e| e["version"] == serde_json::json!([3, 0])),
        "NPY 3.0"
    );
}

#[test]
fn every_fixture_matches_numpy() {
    let fx = fixtures();
    assert!(fx.len() >= 90, "only {} fixtures", fx.len());
    let mut typed = 0;
    for e in &fx {
        let name = e["name"].as_str().unwrap();
        let path = dir().join(e["file"].as_str().unwrap());
        if let Some(err) = e["error"].as_str() {
            assert_eq!(err, "ObjectArray");
            let r = NpyFile::open(&path);
            assert!(matches!(r, Err(Error::ObjectArray { .. })), "{name}: {r:?}");
            let bytes = std::fs::read(&path).unwrap();
            let r = npy::view_from_bytes(&bytes, NpyOptions::default());
            assert!(matches!(r, Err(Error::ObjectArray { .. })), "{name}");
            continue;
        }
        let f = NpyFile::open(&path).unwrap_or_else(|err| panic!("{name}: {err}"));
        let descr = e["descr"].as_str().unwrap();
        let shape = shape_of(e);
        let fortran = e["fortran_order"].as_bool().unwrap();
        let h = f.header();
        assert_eq!(h.dtype.descr(), descr, "{name}: descr");
        assert_eq!(DType::parse(descr).unwrap(), h.dtype, "{name}: parse");
        assert_eq!(h.shape, shape, "{name}: shape");
        assert_eq!(h.order.is_fortran(), fortran, "{name}: fortran_order");
        let version = f.parsed_header().version.numbers();
        let want_version = (
            e["version"][0].as_u64().unwrap() as u8,
            e["version"][1].as_u64().unwrap() as u8,
        );
        assert_eq!(version, want_version, "{name}: version");
        let header_len = e["header_len"].as_u64().unwrap();
        assert_eq!(f.parsed_header().data_offset, header_len, "{name}");

        // The header we write for this array is the one numpy wrote.
        let order = if e["order"] == "F" {
            Order::Fortran
        } else {
            Order::C
        };
        let ours = Header::for_array(h.dtype.clone(), shape.clone(), order)
            .to_bytes()
            .unwrap();
        let file = std::fs::read(&path).unwrap();
        assert_eq!(ours, &file[..header_len as usize], "{name}: header bytes");

        let data = unhex(e["data_hex"].as_str().unwrap());
        let native = unhex(e["native_hex"].as_str().unwrap());
        let v = f.view();
        assert_eq!(v.as_bytes(), &data[..], "{name}: data");
        assert_eq!(
            v.to_native_bytes().unwrap().as_slice(),
            &native[..],
            "{name}: native"
        );
        let owned = f.owned_view();
        assert_eq!(owned.as_bytes(), &data[..], "{name}: owned view");
        let from_bytes = npy::view_from_bytes(&file, NpyOptions::default()).unwrap();
        assert_eq!(from_bytes.header(), h, "{name}");
        assert_eq!(from_bytes.as_bytes(), &data[..], "{name}");

        if e.get("values").is_some() || descr.contains("c8") || descr.contains("c16") {
            typed += usize::from(check_typed(&v, &native, e));
        }
        if let Some(strings) = e.get("strings") {
            let want: Vec<String> = strings
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            assert_eq!(v.to_strings().unwrap(), want, "{name}: strings");
        }
        if let Some(bytes) = e.get("bytes_hex") {
            let want: Vec<Vec<u8>> = bytes
                .as_array()
                .unwrap()
                .iter()
                .map(|s| unhex(s.as_str().unwrap()))
                .collect();
            assert_eq!(v.to_byte_strings().unwrap(), want, "{name}: byte strings");
        }
    }
    assert!(typed >= 30, "only {typed} typed checks ran");
}

#[test]
fn zero_copy_where_numpy_aligned_it() {
    // np.save pads headers to 64 bytes, and the map is page-aligned, so
    // native-order scalar data is viewable without copying.
    let f = NpyFile::open(dir().join("lef8_c23.npy")).unwrap();
    let s = f.view().as_slice::<f64>().unwrap().to_vec();
    assert_eq!(s, vec![-1.25, -0.75, -0.25, 0.25, 0.75, 1.25]);
    let f = NpyFile::open(dir().join("bei4_s3.npy")).unwrap();
    assert!(matches!(
        f.view().as_slice::<i32>(),
        Err(Error::View {
            problem: npzmap::error::ViewProblem::ByteOrder,
            ..
        })
    ));
    assert_eq!(f.view().to_vec::<i32>().unwrap(), vec![-50, -13, 24]);
}

#[test]
fn fortran_fixture_data_is_column_major() {
    let f = NpyFile::open(dir().join("lef8_f23.npy")).unwrap();
    assert_eq!(f.header().order, Order::Fortran);
    // values(2, 3) = arange(6) * 0.5 - 1.25 in C order; stored column-major.
    assert_eq!(
        f.view().to_vec::<f64>().unwrap(),
        vec![-1.25, 0.25, -0.75, 0.75, -0.25, 1.25]
    );
}
