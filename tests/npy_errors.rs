//! Malformed `.npy` files: every one is a typed error with its exact
//! variant, through both `NpyFile::open` and `npy::view_from_bytes`, and
//! never a panic or an allocation sized by an unchecked header field.

use npzmap::npy::header::{DEFAULT_HEADER_LIMIT, read_header};
use npzmap::npy::{self, NpyFile, NpyOptions};
use npzmap::{DType, Error, Header, Order};
use std::path::Path;
use std::time::{Duration, Instant};

/// An NPY file: magic, version, length field, `text` padded with spaces and
/// `\n` to a multiple of 64, then `data`.
fn npy_file(major: u8, minor: u8, text: &str, data: &[u8]) -> Vec<u8> {
    let prefix = if major == 1 { 10 } else { 12 };
    let mut body = text.as_bytes().to_vec();
    while !(prefix + body.len() + 1).is_multiple_of(64) {
        body.push(b' ');
    }
    body.push(b'\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend_from_slice(&[major, minor]);
    if major == 1 {
        out.extend_from_slice(&(body.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(&body);
    out.extend_from_slice(data);
    out
}

fn dict(descr: &str, fortran: &str, shape: &str) -> String {
    format!("{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}")
}

/// Opens `bytes` both ways and returns the two errors; checks that the file
/// error names the path.
fn both(bytes: &[u8]) -> (Error, Error) {
    both_with(bytes, NpyOptions::default())
}

fn both_with(bytes: &[u8], opts: NpyOptions) -> (Error, Error) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.npy");
    std::fs::write(&path, bytes).unwrap();
    let from_file = NpyFile::open_with(&path, opts.clone()).expect_err("file must be refused");
    assert_eq!(
        from_file.location().path.as_deref(),
        Some(path.as_path()),
        "error names the file: {from_file}"
    );
    let from_bytes = npy::view_from_bytes(bytes, opts).expect_err("bytes must be refused");
    (from_file, from_bytes)
}

macro_rules! assert_both {
    ($bytes:expr, $pat:pat) => {
        assert_both!($bytes, NpyOptions::default(), $pat)
    };
    ($bytes:expr, $opts:expr, $pat:pat) => {{
        let (a, b) = both_with(&$bytes[..], $opts);
        assert!(matches!(a, $pat), "file: {a:?}");
        assert!(matches!(b, $pat), "bytes: {b:?}");
        a
    }};
}

fn good() -> Vec<u8> {
    npy_file(1, 0, &dict("'<i2'", "False", "(3,)"), &[1, 0, 2, 0, 3, 0])
}

#[test]
fn the_good_file_is_good() {
    // The base of the broken files below must itself be accepted.
    let b = good();
    let v = npy::view_from_bytes(&b, NpyOptions::default()).unwrap();
    assert_eq!(v.to_vec::<i16>().unwrap(), vec![1, 2, 3]);
}

#[test]
fn bad_magic() {
    assert_both!(b"NOTNUMPY\x01\x00\x00\x00", Error::BadMagic { .. });
    let mut b = good();
    b[0] = 0x92;
    assert_both!(b, Error::BadMagic { .. });
    // a zip file is not an npy file
    assert_both!(b"PK\x03\x04rest", Error::BadMagic { .. });
}

#[test]
fn unsupported_version() {
    for (maj, min) in [(0u8, 0u8), (1, 1), (4, 0), (255, 255)] {
        let mut b = good();
        b[6] = maj;
        b[7] = min;
        let e = assert_both!(b, Error::UnsupportedVersion { .. });
        let Error::UnsupportedVersion { major, minor, .. } = e else {
            unreachable!()
        };
        assert_eq!((major, minor), (maj, min));
    }
}

#[test]
fn truncated_header() {
    let b = good();
    // Every cut inside the header: magic prefix, length field, dict text.
    for cut in [0, 3, 6, 8, 9, 10, 40, 63] {
        let e = assert_both!(b[..cut], Error::Truncated { .. });
        let Error::Truncated {
            needed, available, ..
        } = e
        else {
            unreachable!()
        };
        assert_eq!(available, cut as u64);
        assert!(needed > available, "{needed} > {available}");
    }
    // v2: the length field itself is cut.
    let b2 = npy_file(2, 0, &dict("'<i2'", "False", "(3,)"), &[0; 6]);
    assert_both!(b2[..11], Error::Truncated { needed: 12, .. });
}

#[test]
fn header_over_the_cap() {
    // A v2 header declaring 2 GiB: refused before anything is read.
    let mut b = b"\x93NUMPY\x02\x00".to_vec();
    b.extend_from_slice(&0x8000_0000u32.to_le_bytes());
    b.extend_from_slice(b"{'descr'");
    let e = assert_both!(b, Error::HeaderTooLarge { .. });
    assert!(matches!(
        e,
        Error::HeaderTooLarge { len: 0x8000_0000, limit, .. } if limit == DEFAULT_HEADER_LIMIT as u64
    ));
    // A normal file with a smaller cap in the options.
    let opts = NpyOptions::new().header_limit(32);
    assert_both!(
        good(),
        opts,
        Error::HeaderTooLarge {
            len: 118,
            limit: 32,
            ..
        }
    );
    // At exactly the cap it is fine.
    let opts = NpyOptions::new().header_limit(118);
    assert!(npy::view_from_bytes(&good(), opts).is_ok());
}

#[test]
fn data_too_short_reads_like_numpy() {
    let mut b = good();
    b.pop();
    let e = assert_both!(
        b,
        Error::DataTooShort {
            expected: 6,
            actual: 5,
            ..
        }
    );
    assert!(
        e.to_string().contains("file seems not fully written"),
        "{e}"
    );
    // no data at all
    let b = npy_file(1, 0, &dict("'<f8'", "False", "(2, 2)"), &[]);
    assert_both!(
        b,
        Error::DataTooShort {
            expected: 32,
            actual: 0,
            ..
        }
    );
}

#[test]
fn tiny_file_claiming_a_huge_shape_is_a_quick_error() {
    // 90 bytes: an unpadded 86-byte header (old writers align to 16 or not
    // at all) claiming 2**36 float64s, then 4 bytes of "data".
    let text = dict("'<f8'", "False", "(68719476736,)");
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    let body_len = 86 - 10;
    let mut body = text.into_bytes();
    body.resize(body_len - 1, b' ');
    body.push(b'\n');
    b.extend_from_slice(&(body_len as u16).to_le_bytes());
    b.extend_from_slice(&body);
    b.extend_from_slice(&[0; 4]);
    assert_eq!(b.len(), 90);
    let t = Instant::now();
    let e = assert_both!(
        b,
        Error::DataTooShort {
            expected: 549_755_813_888,
            actual: 4,
            ..
        }
    );
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert_eq!(e.location().offset, Some(86));
}

#[test]
fn data_too_long_unless_allowed() {
    let mut b = good();
    b.push(0);
    assert_both!(
        b,
        Error::DataTooLong {
            expected: 6,
            actual: 7,
            ..
        }
    );
    let opts = NpyOptions::new().allow_trailing(true);
    let v = npy::view_from_bytes(&b, opts.clone()).unwrap();
    assert_eq!(v.as_bytes(), &[1, 0, 2, 0, 3, 0]);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.npy");
    std::fs::write(&p, &b).unwrap();
    assert_eq!(
        NpyFile::open_with(&p, opts)
            .unwrap()
            .view()
            .to_vec::<i16>()
            .unwrap(),
        vec![1, 2, 3]
    );
}

#[test]
fn shape_product_overflow() {
    for (descr, shape) in [
        ("'<f8'", "(4611686018427387904, 4611686018427387904)"),
        ("'|u1'", "(4294967296, 4294967296, 2)"),
        ("'<f8'", "(2305843009213693952,)"), // 2**61 * 8 = 2**64
        ("'|V9223372036854775808'", "(2,)"), // itemsize 2**63
    ] {
        let b = npy_file(1, 0, &dict(descr, "False", shape), &[]);
        assert_both!(b, Error::ShapeOverflow { .. });
    }
    // 2**61 - 1 elements of 8 bytes fits in u64: a plain DataTooShort.
    let b = npy_file(1, 0, &dict("'<f8'", "False", "(2305843009213693951,)"), &[]);
    assert_both!(b, Error::DataTooShort { .. });
    // A dimension beyond u64 is not a shape at all.
    let b = npy_file(
        1,
        0,
        &dict("'<f8'", "False", "(18446744073709551616,)"),
        &[],
    );
    assert_both!(b, Error::InvalidHeader { .. });
}

#[test]
fn invalid_header_dicts() {
    for text in [
        "[1, 2, 3]".to_string(),
        "{'descr': '<f8', 'fortran_order': False}".into(),
        dict("'<f8'", "False", "(3,)").replace("}", "'extra': 1, }"),
        "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (3,)}".into(),
        dict("'<f8'", "0", "(3,)"),
        dict("'<f8'", "'False'", "(3,)"),
        dict("'<f8'", "False", "[3]"),
        dict("'<f8'", "False", "(-1,)"),
        dict("'<f8'", "False", "(3.0,)"),
        dict("'<f8'", "False", &format!("({})", "1, ".repeat(65))),
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), ".into(),
        "{'descr': '<f8' 'fortran_order': False, 'shape': (3,)}".into(),
        "{1: '<f8', 'fortran_order': False, 'shape': (3,)}".into(),
        "{'descr': __import__('os'), 'fortran_order': False, 'shape': (3,)}".into(),
        format!("{}{}", "[".repeat(200), "]".repeat(200)),
        String::new(),
    ] {
        let b = npy_file(1, 0, &text, &[0; 24]);
        let (a, c) = both(&b);
        assert!(matches!(a, Error::InvalidHeader { .. }), "{text}: {a:?}");
        assert!(matches!(c, Error::InvalidHeader { .. }), "{text}: {c:?}");
    }
    // NPY 3.0 text must be UTF-8.
    let mut b = npy_file(3, 0, &dict("'<u1'", "False", "(1,)"), &[7]);
    b[13] = 0xff;
    assert_both!(b, Error::InvalidHeader { .. });
}

#[test]
fn invalid_descrs() {
    for descr in [
        "'<i3'",
        "'<f5'",
        "'x'",
        "''",
        "'<M8[xs]'",
        "'<M8[0s]'",
        "'<M8[99999999999s]'",
        // `[]` (an empty struct) and `[('', '<i4')]` (a field named '')
        // are numpy dtypes np.load reads: see tests/numpy_descr.rs.
        "[('a',)]",
        "[('a', 5)]",
        "[('a', '<i4'), ('a', '<i4')]",
        "[('', '<i4'), ('', '<i4')]",
        "[('a', '|S0', (2,))]",
        "('<f8', (5,))",
        "[('a', '<i4', (-1,))]",
        "[('a', '<i4', 'x')]",
        "7",
        "None",
    ] {
        let b = npy_file(1, 0, &dict(descr, "False", "(0,)"), &[]);
        let (a, c) = both(&b);
        assert!(matches!(a, Error::InvalidDescr { .. }), "{descr}: {a:?}");
        assert!(matches!(c, Error::InvalidDescr { .. }), "{descr}: {c:?}");
    }
}

#[test]
fn object_arrays_are_refused() {
    for descr in [
        "'|O'",
        "'<O'",
        "[('a', '<i4'), ('b', '|O')]",
        "[('n', [('o', '|O')])]",
    ] {
        // numpy follows an object header with a pickle; we never read it.
        let b = npy_file(1, 0, &dict(descr, "False", "(3,)"), b"\x80\x04\x95pickle");
        let e = assert_both!(b, Error::ObjectArray { .. });
        assert!(e.to_string().contains("never unpickles"), "{e}");
    }
}

#[test]
fn header_reader_alone_reports_the_same() {
    // read_header on the raw prefix: the cases that do not need the data.
    assert!(matches!(
        read_header(b"\x93NUMPY\x03\x00\xff\xff\xff\xff", DEFAULT_HEADER_LIMIT),
        Err(Error::HeaderTooLarge { .. })
    ));
    let h = Header::new(DType::parse("<f8").unwrap(), vec![1 << 40], Order::C);
    let bytes = h.to_bytes().unwrap();
    let p = read_header(&bytes, DEFAULT_HEADER_LIMIT).unwrap();
    assert_eq!(p.header, h);
    assert_eq!(
        npy::view_from_bytes(&bytes, NpyOptions::default())
            .unwrap_err()
            .to_string(),
        format!(
            "file seems not fully written: header requires {} data bytes, only 0 present (offset 128)",
            8u64 << 40
        )
    );
}

#[test]
fn missing_file_is_io_error() {
    let e = NpyFile::open(Path::new("/nonexistent/npzmap/x.npy")).unwrap_err();
    assert!(matches!(e, Error::Io { op: "open", .. }), "{e:?}");
}

/// Found by fuzzing (`npy_file`): a zero-size dtype whose element count
/// overflows u64 is `ShapeOverflow` (numpy refuses it too), for a whole file
/// in memory and on disk.
#[test]
fn zero_size_elements_whose_count_overflows() {
    let file = include_bytes!("../fuzz/corpus/npy_file/seed-regress-S0-element-count-overflow.npy");
    let r = npzmap::npy::view_from_bytes(file, npzmap::npy::NpyOptions::default());
    assert!(
        matches!(r, Err(npzmap::Error::ShapeOverflow { .. })),
        "{r:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s0.npy");
    std::fs::write(&p, file).unwrap();
    let r = npzmap::npy::NpyFile::open(&p);
    assert!(
        matches!(r, Err(npzmap::Error::ShapeOverflow { .. })),
        "{r:?}"
    );
}
