//! NpzWriter: numpy / zipfile / unzip / zip-crate interop, appending to
//! foreign archives, streaming, failure handling, ZIP64, determinism.

mod common;

use npzmap::npy::header::{DEFAULT_HEADER_LIMIT, read_header};
use npzmap::npz::{DosDateTime, NpzWriter, WriterOptions};
use npzmap::unstable::zip::{EndOfCentralDirectory, LocalHeaderRef, central_entries};
use npzmap::{ArrayView, DType, Error, Header, Order, npy};
use std::borrow::Cow;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

fn unzip_t(path: &Path) {
    unzip_t_allowing(path, false)
}

/// `unzip -t`; with `prefixed`, the warning about bytes before the archive
/// (which unzip gives for any such archive) is accepted.
fn unzip_t_allowing(path: &Path, prefixed: bool) {
    let Some(unzip) = common::tool("unzip") else {
        return;
    };
    let out = Command::new(unzip).arg("-t").arg(path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let warned_prefix = prefixed
        && out.status.code() == Some(1)
        && text.contains("extra bytes at beginning")
        && text.contains("No errors detected");
    assert!(
        out.status.success() || warned_prefix,
        "unzip -t failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const TESTZIP: &str = "
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    assert z.testzip() is None
";

fn view<'a>(descr: &str, shape: &[u64], order: Order, bytes: &'a [u8]) -> ArrayView<'a> {
    let h = Header::for_array(DType::parse(descr).unwrap(), shape.to_vec(), order);
    ArrayView::new(Cow::Owned(h), bytes).unwrap()
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Arrays covering every dtype family, 0-d, empty and Fortran order; each is
/// written to the archive and, as reference, to a side-by-side .npy file.
fn write_everything(dir: &Path) -> (PathBuf, Vec<String>) {
    let path = dir.join("all.npz");
    let mut w = NpzWriter::create(&path).unwrap();
    let mut keys = Vec::new();
    let mut put = |w: &mut NpzWriter, key: &str, v: &ArrayView<'_>| {
        w.write_view(key, v).unwrap();
        npy::write_view(dir.join(format!("{}.ref.npy", key.replace('/', "_"))), v).unwrap();
        keys.push(key.to_string());
    };
    put(
        &mut w,
        "b1",
        &ArrayView::from_slice(&[true, false, true], &[3], Order::C).unwrap(),
    );
    put(
        &mut w,
        "i1",
        &ArrayView::from_slice(&[-1i8, 2, -128], &[3], Order::C).unwrap(),
    );
    put(
        &mut w,
        "i2",
        &ArrayView::from_slice(&[-1i16, 300], &[2], Order::C).unwrap(),
    );
    put(
        &mut w,
        "i4",
        &ArrayView::from_slice(&[-7i32; 6], &[2, 3], Order::C).unwrap(),
    );
    put(
        &mut w,
        "i8",
        &ArrayView::from_slice(&[i64::MIN, i64::MAX], &[2], Order::C).unwrap(),
    );
    put(
        &mut w,
        "u1",
        &ArrayView::from_slice(&[255u8, 0], &[2], Order::C).unwrap(),
    );
    put(
        &mut w,
        "u2",
        &ArrayView::from_slice(&[65535u16], &[1], Order::C).unwrap(),
    );
    put(
        &mut w,
        "u4",
        &ArrayView::from_slice(&[1u32, 2, 3, 4], &[2, 2], Order::C).unwrap(),
    );
    put(
        &mut w,
        "u8",
        &ArrayView::from_slice(&[u64::MAX], &[], Order::C).unwrap(),
    );
    put(
        &mut w,
        "f4",
        &ArrayView::from_slice(&[1.5f32, f32::NAN, -0.0], &[3], Order::C).unwrap(),
    );
    let f8: Vec<f64> = (0..24).map(|i| i as f64 * 0.25).collect();
    put(
        &mut w,
        "f8_fortran",
        &ArrayView::from_slice(&f8, &[2, 3, 4], Order::Fortran).unwrap(),
    );
    put(
        &mut w,
        "f8_0d",
        &ArrayView::from_slice(&[3.25f64], &[], Order::C).unwrap(),
    );
    put(
        &mut w,
        "f8_empty",
        &ArrayView::from_slice::<f64>(&[], &[0, 3], Order::C).unwrap(),
    );
    #[cfg(feature = "half")]
    put(
        &mut w,
        "f2",
        &ArrayView::from_slice(&[half::f16::from_f32(1.5)], &[1], Order::C).unwrap(),
    );
    let c8 = pattern(8 * 3, 1);
    let c8: Vec<u8> = c8.chunks(4).flat_map(|_| 1.25f32.to_le_bytes()).collect();
    put(&mut w, "c8", &view("<c8", &[3], Order::C, &c8));
    let c16: Vec<u8> = (0..4).flat_map(|i| (i as f64).to_le_bytes()).collect();
    put(&mut w, "c16", &view("<c16", &[2], Order::C, &c16));
    put(
        &mut w,
        "f8_big_endian",
        &view(
            ">f8",
            &[2],
            Order::C,
            &[0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0],
        ),
    );
    put(&mut w, "S", &view("|S3", &[2], Order::C, b"abcxy\0"));
    let u: Vec<u8> = "héllo!"
        .chars()
        .flat_map(|c| (c as u32).to_le_bytes())
        .collect();
    put(&mut w, "U", &view("<U3", &[2], Order::C, &u));
    put(&mut w, "V", &view("|V4", &[2], Order::C, &pattern(8, 3)));
    let m8: Vec<u8> = [1_700_000_000_000_000_000i64, 0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    put(&mut w, "M8", &view("<M8[ns]", &[2], Order::C, &m8));
    put(&mut w, "m8", &view("<m8[s]", &[1], Order::C, &m8[..8]));
    let rec = pattern(2 * 20, 9);
    put(
        &mut w,
        "structured",
        &view("[('a', '<i4'), ('b', '<f8', (2,))]", &[2], Order::C, &rec),
    );
    put(
        &mut w,
        "unicode_name_é",
        &ArrayView::from_slice(&[1u8], &[1], Order::C).unwrap(),
    );
    put(
        &mut w,
        "dir/nested",
        &ArrayView::from_slice(&[2u8], &[1], Order::C).unwrap(),
    );
    w.close().unwrap();
    (path, keys)
}

#[test]
fn numpy_reads_every_dtype() {
    let dir = tempfile::tempdir().unwrap();
    let (path, keys) = write_everything(dir.path());
    // zip crate reads every member; bytes are the .npy files
    let members = common::zip_members(&path);
    assert_eq!(members.len(), keys.len());
    for ((name, bytes), key) in members.iter().zip(&keys) {
        assert_eq!(name, &format!("{key}.npy"));
        let reference = std::fs::read(
            dir.path()
                .join(format!("{}.ref.npy", key.replace('/', "_"))),
        )
        .unwrap();
        assert_eq!(bytes, &reference, "{key}");
    }
    unzip_t(&path);
    let Some(py) = common::python() else { return };
    common::run(&py, TESTZIP, &[&path]);
    let script = r#"
import sys, os, numpy as np
d = np.load(sys.argv[1])
keys = sys.argv[3:]
assert sorted(d.files) == sorted(keys), (d.files, keys)
for k in keys:
    a = d[k]
    r = np.load(os.path.join(sys.argv[2], k.replace("/", "_") + ".ref.npy"))
    assert a.dtype == r.dtype and a.shape == r.shape, (k, a.dtype, r.dtype, a.shape)
    assert a.tobytes() == r.tobytes(), k
    assert a.flags.f_contiguous == r.flags.f_contiguous, k
assert d["f8_fortran"].flags.f_contiguous and not d["f8_fortran"].flags.c_contiguous
assert d["f8_fortran"][1, 2, 3] == (1 + 2 * 2 + 3 * 6) * 0.25
assert d["f8_0d"].shape == () and d["f8_0d"] == 3.25
assert d["f8_empty"].shape == (0, 3)
assert list(d["U"]) == ["hél", "lo!"]
assert list(d["S"]) == [b"abc", b"xy"]
assert d["M8"].dtype == np.dtype("M8[ns]")
assert d["structured"].dtype.names == ("a", "b")
assert d["i8"][0] == -2**63
print("ok")
"#;
    let dpath = dir.path().to_path_buf();
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&path, &dpath];
    for k in &keys {
        args.push(k);
    }
    assert_eq!(common::run(&py, script, &args).trim(), "ok");
}

#[test]
fn members_are_aligned_and_padding_configurable() {
    let dir = tempfile::tempdir().unwrap();
    for align in [1u64, 64, 4096] {
        let path = dir.path().join(format!("a{align}.npz"));
        let mut w = NpzWriter::options().align(align).create(&path).unwrap();
        for i in 0..5u8 {
            let data = vec![i; usize::from(i) * 7 + 1];
            w.write(
                &format!("k{}", "x".repeat(usize::from(i))),
                &data,
                &[data.len() as u64],
                Order::C,
            )
            .unwrap();
        }
        w.close().unwrap();
        let buf = std::fs::read(&path).unwrap();
        let end = EndOfCentralDirectory::find(&buf).unwrap();
        for e in central_entries(&buf, &end) {
            let e = e.unwrap();
            let lh = LocalHeaderRef::parse(&buf, e.local_header_offset).unwrap();
            if align > 1 {
                let p =
                    read_header(&buf[lh.data_start() as usize..], DEFAULT_HEADER_LIMIT).unwrap();
                // The array data itself is aligned (page-aligned for 4096).
                assert_eq!((lh.data_start() + p.data_offset) % align, 0);
                // The npy header is a multiple of 64, so up to 64 the member
                // start is aligned too.
                assert_eq!(lh.data_start() % align.min(64), 0);
            } else {
                assert!(
                    lh.extra.is_empty(),
                    "no padding, no ZIP64 for small members"
                );
            }
        }
        unzip_t(&path);
    }
    assert!(matches!(
        NpzWriter::options().align(3).create(dir.path().join("x")),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn output_is_deterministic_and_timestamp_settable() {
    let dir = tempfile::tempdir().unwrap();
    let make = |name: &str, stamp: Option<DosDateTime>| {
        let p = dir.path().join(name);
        let mut o = NpzWriter::options();
        if let Some(s) = stamp {
            o = o.timestamp(s);
        }
        let mut w = o.create(&p).unwrap();
        w.write("a", &[1.0f32, 2.0], &[2], Order::C).unwrap();
        let mut s = w
            .begin("s", DType::parse("<i2").unwrap(), &[2], Order::C)
            .unwrap();
        s.append(&[1i16, 2, 3, 4]).unwrap();
        s.finish().unwrap();
        w.close().unwrap();
        std::fs::read(p).unwrap()
    };
    let a = make("1.npz", None);
    let b = make("2.npz", None);
    assert_eq!(a, b);
    let t = DosDateTime::new(2020, 2, 29, 12, 30, 10).unwrap();
    let c = make("3.npz", Some(t));
    assert_ne!(a, c);
    let f = std::fs::File::open(dir.path().join("3.npz")).unwrap();
    let mut z = zip::ZipArchive::new(f).unwrap();
    let m = z.by_index(0).unwrap();
    let dt = m.last_modified().unwrap();
    assert_eq!(
        (
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        ),
        (2020, 2, 29, 12, 30, 10)
    );
}

/// `NpzWriter::create_with` / `append_with` and the builder ending in
/// `create` / `append` are one thing: the same options give the same bytes.
#[test]
fn create_with_and_append_with_match_the_builder() {
    let dir = tempfile::tempdir().unwrap();
    let t = DosDateTime::new(2021, 7, 4, 9, 15, 0).unwrap();
    let opts = WriterOptions::new().align(4096).timestamp(t);
    let fill = |w: &mut NpzWriter, key: &str| {
        w.write(key, &[1u32, 2, 3], &[3], Order::C).unwrap();
    };
    let (a, b) = (dir.path().join("a.npz"), dir.path().join("b.npz"));
    let mut w = NpzWriter::create_with(&a, opts.clone()).unwrap();
    fill(&mut w, "x");
    w.close().unwrap();
    let mut w = NpzWriter::options()
        .align(4096)
        .timestamp(t)
        .create(&b)
        .unwrap();
    fill(&mut w, "x");
    w.close().unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    // The 4096 alignment took: the array data is page-aligned.
    let bytes = std::fs::read(&a).unwrap();
    let data = bytes
        .windows(12)
        .position(|w| w == [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0])
        .unwrap();
    assert_eq!(data % 4096, 0);

    let mut w = NpzWriter::append_with(&a, opts.clone()).unwrap();
    fill(&mut w, "y");
    w.close().unwrap();
    let mut w = opts.append(&b).unwrap();
    fill(&mut w, "y");
    w.close().unwrap();
    let (a, b) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_eq!(a, b);
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(a)).unwrap();
    assert_eq!(z.len(), 2);
    let dt = z.by_index(1).unwrap().last_modified().unwrap();
    assert_eq!((dt.year(), dt.month(), dt.day()), (2021, 7, 4));

    // Bad options are refused the same way by both.
    let c = dir.path().join("c.npz");
    let bad = WriterOptions::new().align(3);
    assert!(matches!(
        NpzWriter::create_with(&c, bad.clone()),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(bad.create(&c), Err(Error::InvalidArgument { .. })));
    assert!(!c.exists());
}

#[test]
fn bad_input_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npz");
    let mut w = NpzWriter::create(&path).unwrap();
    w.write("a", &[1u8], &[1], Order::C).unwrap();
    w.sync().unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(matches!(
        w.write("a", &[1u8], &[1], Order::C),
        Err(Error::DuplicateName { .. })
    ));
    assert!(matches!(
        w.write("a.npy", &[1u8], &[1], Order::C),
        Err(Error::DuplicateName { .. })
    ));
    assert!(matches!(
        w.write("", &[1u8], &[1], Order::C),
        Err(Error::InvalidName { .. })
    ));
    assert!(matches!(
        w.write("a\0", &[1u8], &[1], Order::C),
        Err(Error::InvalidName { .. })
    ));
    let long = "n".repeat(70_000);
    assert!(matches!(
        w.write(&long, &[1u8], &[1], Order::C),
        Err(Error::InvalidName { .. })
    ));
    assert!(matches!(
        w.write("b", &[1u8, 2], &[3], Order::C),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(w.write("b", &[1u8], &[1; 65], Order::C).is_err());
    let h = Header::new(DType::parse("<f8").unwrap(), vec![u64::MAX, 2], Order::C);
    assert!(matches!(
        w.write_bytes("b", &h, &[]),
        Err(Error::ShapeOverflow { .. })
    ));
    let h = Header::new(DType::parse("<f8").unwrap(), vec![2], Order::C);
    assert!(matches!(
        w.write_bytes("b", &h, &[0; 15]),
        Err(Error::DataTooShort { .. })
    ));
    assert!(
        w.begin("c", DType::parse("<f8").unwrap(), &[0], Order::C)
            .is_err()
    );
    assert!(
        w.begin("a", DType::parse("<f8").unwrap(), &[], Order::C)
            .is_err()
    );
    w.sync().unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
    assert!(w.contains("a") && !w.contains("b"));
    w.close().unwrap();
    assert!(matches!(
        NpzWriter::create(&path),
        Err(Error::AlreadyExists { .. })
    ));
    let e = NpzWriter::create(&path).unwrap_err();
    assert!(e.to_string().contains("a.npz"), "{e}");
    // duplicates allowed on request
    let mut w = NpzWriter::options()
        .allow_duplicates(true)
        .replace(true)
        .create(&path)
        .unwrap();
    w.write("a", &[1u8], &[1], Order::C).unwrap();
    w.write("a", &[2u8], &[1], Order::C).unwrap();
    w.close().unwrap();
    let buf = std::fs::read(&path).unwrap();
    assert_eq!(EndOfCentralDirectory::find(&buf).unwrap().entries, 2);
}

#[test]
fn streaming_c_and_fortran() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.npz");
    let mut w = NpzWriter::options()
        .buffer_size(4096)
        .create(&path)
        .unwrap();
    let mut c = w
        .begin("c", DType::parse("<i4").unwrap(), &[3], Order::C)
        .unwrap();
    for i in 0..1000i32 {
        c.append(&[i, i + 1, i + 2]).unwrap();
    }
    c.append::<i32>(&[]).unwrap();
    assert_eq!(c.finish().unwrap(), 1000);
    let mut f = w
        .begin("f", DType::parse("<f8").unwrap(), &[2, 2], Order::Fortran)
        .unwrap();
    f.append(&[1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
        .unwrap();
    assert_eq!(f.finish().unwrap(), 2);
    let f1 = w
        .begin("f1", DType::parse("<f8").unwrap(), &[2], Order::Fortran)
        .unwrap();
    drop(f1); // discarded
    let mut f1 = w
        .begin("f1", DType::parse("<f8").unwrap(), &[3], Order::Fortran)
        .unwrap();
    f1.append(&[1.0f64, 2.0, 3.0]).unwrap();
    f1.finish().unwrap(); // shape (3, 1): numpy records C order
    let e = w
        .begin("empty", DType::parse("|S4").unwrap(), &[], Order::C)
        .unwrap();
    e.finish().unwrap();
    // a bad row discards the member
    let mut b = w
        .begin("bad", DType::parse("<u2").unwrap(), &[2], Order::C)
        .unwrap();
    b.append(&[1u16, 2]).unwrap();
    assert!(matches!(
        b.append(&[1u16]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(b.append(&[1u16, 2]).is_err());
    assert!(b.finish().is_err());
    let mut b = w
        .begin("bad", DType::parse("<u2").unwrap(), &[2], Order::C)
        .unwrap();
    assert!(matches!(
        b.append(&[1u32]),
        Err(Error::DTypeMismatch { .. })
    ));
    drop(b);
    // big appends bypass the buffer
    let mut big = w
        .begin("big", DType::parse("|u1").unwrap(), &[], Order::C)
        .unwrap();
    let chunk = pattern(100_000, 5);
    for _ in 0..10 {
        big.append(&chunk).unwrap();
    }
    big.finish().unwrap();
    w.write("after", &[9u8], &[1], Order::C).unwrap();
    assert!(!w.contains("bad"));
    w.close().unwrap();
    let names: Vec<String> = common::zip_members(&path)
        .into_iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(
        names,
        [
            "c.npy",
            "f.npy",
            "f1.npy",
            "empty.npy",
            "big.npy",
            "after.npy"
        ]
    );
    unzip_t(&path);
    let Some(py) = common::python() else { return };
    common::run(&py, TESTZIP, &[&path]);
    let script = r#"
import sys, numpy as np
d = np.load(sys.argv[1])
c = d["c"]; assert c.shape == (1000, 3) and c.dtype == np.dtype("<i4")
assert (c[:, 0] == np.arange(1000)).all() and (c[:, 2] == np.arange(2, 1002)).all()
f = d["f"]; assert f.shape == (2, 2, 2) and f.flags.f_contiguous
assert f[1, 0, 1] == 6.0, f
assert d["f1"].shape == (3, 1) and list(d["f1"][:, 0]) == [1, 2, 3]
assert d["empty"].shape == (0,) and d["empty"].dtype == np.dtype("S4")
b = d["big"]; assert b.shape == (1000000,) and b[100001] == (1 * 31 + 5) % 256
assert d["after"][0] == 9
print("ok")
"#;
    assert_eq!(common::run(&py, script, &[&path]).trim(), "ok");
}

#[test]
fn io_errors_roll_back_the_member() {
    let dir = tempfile::tempdir().unwrap();
    for fail_at in [0u64, 10, 100, 200, 5000, 50_000, 100_000] {
        let path = dir.path().join(format!("f{fail_at}.npz"));
        let mut w = NpzWriter::options()
            .buffer_size(4096)
            .fail_after_bytes(fail_at)
            .create(&path)
            .unwrap();
        let data = pattern(30_000, 1);
        let mut ok = Vec::new();
        for i in 0..4 {
            let key = format!("k{i}");
            let r = if i % 2 == 0 {
                w.write(&key, &data, &[data.len() as u64], Order::C)
            } else {
                let mut s = w
                    .begin(&key, DType::parse("|u1").unwrap(), &[100], Order::C)
                    .unwrap();
                s.append(&data)
                    .and_then(|_| s.append(&data))
                    .and_then(|_| s.finish().map(drop))
            };
            match r {
                Ok(()) => ok.push(key),
                Err(e) => {
                    assert!(matches!(e, Error::Io { .. }), "{e}");
                    assert!(e.to_string().contains(&key), "{e}");
                }
            }
        }
        w.close().unwrap();
        let names: Vec<String> = common::zip_members(&path)
            .into_iter()
            .map(|m| m.0)
            .collect();
        let want: Vec<String> = ok.iter().map(|k| format!("{k}.npy")).collect();
        assert_eq!(names, want, "fail at {fail_at}");
        assert_eq!(want.len(), 3, "exactly one failure at {fail_at}");
        unzip_t(&path);
    }
}

#[test]
fn append_to_non_zip_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for content in [&b""[..], b"hello, not a zip", &[0u8; 100_000]] {
        let p = dir.path().join("x.bin");
        std::fs::write(&p, content).unwrap();
        let e = NpzWriter::append(&p).unwrap_err();
        assert!(matches!(e, Error::NotAZip { .. }), "{e}");
        assert!(e.to_string().contains("x.bin"));
        assert_eq!(std::fs::read(&p).unwrap(), content);
    }
    assert!(NpzWriter::append(dir.path().join("missing.npz")).is_err());
}

#[test]
fn append_to_own_archive_keeps_old_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npz");
    let mut w = NpzWriter::create(&path).unwrap();
    w.write("a", &[1i32, 2], &[2], Order::C).unwrap();
    w.close().unwrap();
    let before = std::fs::read(&path).unwrap();
    for round in 0..3 {
        let mut w = NpzWriter::append(&path).unwrap();
        assert!(matches!(
            w.write("a", &[1u8], &[1], Order::C),
            Err(Error::DuplicateName { .. })
        ));
        w.write(&format!("r{round}"), &[round as u8; 3], &[3], Order::C)
            .unwrap();
        w.close().unwrap();
        let now = std::fs::read(&path).unwrap();
        assert_eq!(&now[..before.len()], &before[..]);
        let buf = std::fs::read(&path).unwrap();
        let end = EndOfCentralDirectory::find(&buf).unwrap();
        for e in central_entries(&buf, &end) {
            let lh = LocalHeaderRef::parse(&buf, e.unwrap().local_header_offset).unwrap();
            assert_eq!(lh.data_start() % 64, 0);
        }
    }
    assert_eq!(common::zip_members(&path).len(), 4);
    unzip_t(&path);
}

/// Appends to archives made by numpy, mmnpz, Info-ZIP and Python's zipfile.
#[test]
fn append_to_foreign_archives() {
    let Some(py) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let make = r##"
import sys, os, io, zipfile, numpy as np
d = sys.argv[1]
a = np.arange(12, dtype="<f8").reshape(3, 4); b = np.array([b"xy", b"z"])
np.savez(os.path.join(d, "savez.npz"), a=a, b=b)
np.savez_compressed(os.path.join(d, "compressed.npz"), a=a, b=b)
np.save(os.path.join(d, "a.npy"), a); np.save(os.path.join(d, "b.npy"), b)
# unseekable stream: data descriptors, stored and deflated
class Unseekable(io.RawIOBase):
    def __init__(self, f): self.f = f
    def writable(self): return True
    def write(self, b): return self.f.write(b)
with open(os.path.join(d, "stream.npz"), "wb") as raw:
    with zipfile.ZipFile(Unseekable(raw), "w") as z:
        z.writestr("a.npy", open(os.path.join(d, "a.npy"), "rb").read())
        z.writestr(zipfile.ZipInfo("b.npy"), open(os.path.join(d, "b.npy"), "rb").read(), compress_type=zipfile.ZIP_DEFLATED)
# comment and prepended bytes
inner = io.BytesIO()
with zipfile.ZipFile(inner, "w") as z:
    z.write(os.path.join(d, "a.npy"), "a.npy"); z.write(os.path.join(d, "b.npy"), "b.npy")
    z.comment = b"an archive comment"
with open(os.path.join(d, "prefixed.npz"), "wb") as f:
    f.write(b"#!/bin/sh\necho prefix\n" * 10); f.write(inner.getvalue())
try:
    import mmnpz
    with mmnpz.NpzWriter(os.path.join(d, "mmnpz.npz")) as w:
        w.write("a", a); w.write("b", b)
    print("mmnpz")
except ImportError:
    print("no-mmnpz")
"##;
    let out = common::run(&py, make, &[&d]);
    let mut kinds = vec!["savez", "compressed", "stream", "prefixed"];
    // Without mmnpz (fails under CI) the script says "no-mmnpz".
    if common::require_module(&py, "mmnpz") {
        assert!(
            !out.contains("no-mmnpz"),
            "mmnpz imports but the script skipped it"
        );
        kinds.push("mmnpz");
    } else {
        assert!(out.contains("no-mmnpz"));
    }
    if let Some(zip) = common::tool("zip") {
        for (name, flag) in [("zip0", "-0"), ("zipfz", "-fz"), ("zip6", "-6")] {
            let st = Command::new(&zip)
                .current_dir(d)
                .args(["-q", "-X", flag, &format!("{name}.npz"), "a.npy", "b.npy"])
                .status()
                .unwrap();
            assert!(st.success());
            kinds.push(name);
        }
    }
    let check = r#"
import sys, zipfile, numpy as np
p = sys.argv[1]
with zipfile.ZipFile(p) as z:
    assert z.testzip() is None
    comment = z.comment
# np.load sniffs the first bytes, so a prefixed archive needs NpzFile
d = np.load(p) if open(p, "rb").read(2) == b"PK" else np.lib.npyio.NpzFile(open(p, "rb"))
assert sorted(d.files) == ["a", "b", "new", "streamed"], d.files
assert (d["a"] == np.arange(12.0).reshape(3, 4)).all()
assert list(d["b"]) == [b"xy", b"z"]
assert list(d["new"]) == [1, 2, 3]
assert d["streamed"].shape == (2, 2)
print(comment.decode())
"#;
    for kind in kinds {
        let p = d.join(format!("{kind}.npz"));
        let before = std::fs::read(&p).unwrap();
        let mut w = NpzWriter::append(&p).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(w.len(), 2, "{kind}");
        assert!(matches!(
            w.write("a", &[0u8], &[1], Order::C),
            Err(Error::DuplicateName { .. })
        ));
        w.write("new", &[1i64, 2, 3], &[3], Order::C).unwrap();
        let mut s = w
            .begin("streamed", DType::parse("<u4").unwrap(), &[2], Order::C)
            .unwrap();
        s.append(&[1u32, 2, 3, 4]).unwrap();
        s.finish().unwrap();
        w.close().unwrap();
        let after = std::fs::read(&p).unwrap();
        assert_eq!(
            &after[..before.len()],
            &before[..],
            "{kind}: old bytes changed"
        );
        let comment = common::run(&py, check, &[&p]);
        if kind == "prefixed" {
            assert_eq!(comment.trim(), "an archive comment");
        }
        let members = common::zip_members(&p);
        assert_eq!(members.len(), 4, "{kind}");
        unzip_t_allowing(&p, kind == "prefixed");
    }
}

#[test]
fn many_entries_use_zip64_end_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.npz");
    let n = 70_000u32;
    let mut w = NpzWriter::options().fsync(false).create(&path).unwrap();
    for i in 0..n {
        w.write(&format!("e{i}"), &[i], &[], Order::C).unwrap();
    }
    w.close().unwrap();
    let buf = std::fs::read(&path).unwrap();
    let end = EndOfCentralDirectory::find(&buf).unwrap();
    assert_eq!(end.entries, u64::from(n));
    assert!(end.zip64_offset.is_some());
    // appending keeps them all
    let mut w = NpzWriter::append(&path).unwrap();
    assert_eq!(w.len(), u64::from(n));
    w.write("last", &[1u8], &[1], Order::C).unwrap();
    w.close().unwrap();
    let f = std::fs::File::open(&path).unwrap();
    assert_eq!(zip::ZipArchive::new(f).unwrap().len(), n as usize + 1);
    let Some(py) = common::python() else { return };
    let script = r#"
import sys, numpy as np
d = np.load(sys.argv[1])
assert len(d.files) == 70001
assert d["e0"] == 0 and d["e69999"] == 69999 and d["last"][0] == 1
print("ok")
"#;
    assert_eq!(common::run(&py, script, &[&path]).trim(), "ok");
}

/// A directory for multi-GiB files: /dev/shm when it has room (memory
/// speed; the files are deleted right away), else the default temp dir.
fn big_tempdir() -> tempfile::TempDir {
    let avail = Command::new("df")
        .args(["--output=avail", "-B1", "/dev/shm"])
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .nth(1)?
                .trim()
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0);
    if avail > 10 << 30 {
        tempfile::tempdir_in("/dev/shm").unwrap()
    } else {
        tempfile::tempdir().unwrap()
    }
}

/// Part 1: a streamed member over 4 GiB and small members past 4 GiB, read
/// by numpy. Part 2 (after deleting part 1): a known-size member of exactly
/// 0xFFFFFFFF bytes, the ZIP64 threshold.
#[test]
fn over_4_gib() {
    let dir = big_tempdir();
    let path = dir.path().join("big.npz");
    let chunk = pattern(16 << 20, 7);
    let chunks = 257u64; // 4.02 GiB
    let t0 = std::time::Instant::now();
    let mut w = NpzWriter::options().fsync(false).create(&path).unwrap();
    w.write("small0", &[1u8, 2, 3], &[3], Order::C).unwrap();
    let mut s = w
        .begin("big", DType::parse("|u1").unwrap(), &[1 << 20], Order::C)
        .unwrap();
    for _ in 0..chunks {
        s.append(&chunk).unwrap();
    }
    assert_eq!(s.finish().unwrap(), chunks * 16);
    w.write("small1", &[4u8, 5], &[2], Order::C).unwrap();
    w.close().unwrap();
    let mut w = NpzWriter::append(&path).unwrap();
    w.write("small2", &[6u8], &[1], Order::C).unwrap();
    w.close().unwrap();
    eprintln!(
        "wrote {} bytes in {:?}",
        std::fs::metadata(&path).unwrap().len(),
        t0.elapsed()
    );
    check_local_zip64(
        &path,
        &[
            ("small0.npy", false),
            ("big.npy", true),
            ("small1.npy", false),
            ("small2.npy", false),
        ],
    );
    if let Some(py) = common::python() {
        let script = r#"
import sys, struct, zipfile, numpy as np
p = sys.argv[1]
with zipfile.ZipFile(p) as z:
    i = {x.filename: x for x in z.infolist()}
assert i["big.npy"].file_size == 257 * 16 * 2**20 + 128, i["big.npy"].file_size
assert i["small2.npy"].header_offset > 4 * 2**30
with np.load(p) as d:
    assert list(d["small2"]) == [6] and list(d["small1"]) == [4, 5]
# the big member: header and a few values read by numpy without loading it all
with open(p, "rb") as f:
    f.seek(i["big.npy"].header_offset)
    h = f.read(30); n, m = struct.unpack("<HH", h[26:30])
    f.seek(i["big.npy"].header_offset + 30 + n + m)
    v = np.lib.format.read_magic(f)
    shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    assert shape == (257 * 16, 2**20) and not fortran and dtype == np.uint8, shape
    data = f.tell()
    first = np.fromfile(f, dtype=np.uint8, count=4)
    assert list(first) == [7, 38, 69, 100], first
    f.seek(data + 257 * 16 * 2**20 - 3)
    last = np.fromfile(f, dtype=np.uint8, count=3)
    assert list(last) == [(k * 31 + 7) % 256 for k in range(2**24 - 3, 2**24)], last
print("ok")
"#;
        assert_eq!(common::run(&py, script, &[&path]).trim(), "ok");
    }
    std::fs::remove_file(&path).unwrap();
    eprintln!("part 1: {:?}", t0.elapsed());

    // zero pages: no real memory for the slice
    let edge = vec![0u8; 0xFFFF_FFFF - 128];
    let path = dir.path().join("edge.npz");
    let mut w = NpzWriter::options().fsync(false).create(&path).unwrap();
    w.write("edge", &edge, &[edge.len() as u64], Order::C)
        .unwrap();
    drop(edge);
    w.write("after", &[6u8], &[1], Order::C).unwrap();
    w.close().unwrap();
    check_local_zip64(&path, &[("edge.npy", true), ("after.npy", false)]);
    if let Some(py) = common::python() {
        let script = r#"
import sys, zipfile, numpy as np
p = sys.argv[1]
with zipfile.ZipFile(p) as z:
    i = {x.filename: x for x in z.infolist()}
assert i["edge.npy"].file_size == 2**32 - 1
with np.load(p) as d:
    assert list(d["after"]) == [6]
print("ok")
"#;
        assert_eq!(common::run(&py, script, &[&path]).trim(), "ok");
    }
    std::fs::remove_file(&path).unwrap();
    eprintln!("total {:?}", t0.elapsed());
}

/// Each member's local header has a ZIP64 extra exactly as expected, sizes
/// agree with the central directory and data is 64-byte aligned.
fn check_local_zip64(path: &Path, expect: &[(&str, bool)]) {
    let f = std::fs::File::open(path).unwrap();
    let mut z = zip::ZipArchive::new(f).unwrap();
    assert_eq!(z.len(), expect.len());
    let file = std::fs::File::open(path).unwrap();
    for &(name, zip64) in expect {
        let m = z.by_name(name).unwrap();
        let mut hdr = vec![0u8; 256];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut hdr, m.header_start()).unwrap();
        let lh = LocalHeaderRef::parse(&hdr, 0).unwrap();
        assert_eq!(lh.has_zip64, zip64, "{name}");
        assert_eq!(lh.uncompressed_size, m.size(), "{name}");
        assert_eq!((m.header_start() + lh.len()) % 64, 0);
        if m.size() < 1000 {
            drop(m);
            let mut b = Vec::new();
            z.by_name(name).unwrap().read_to_end(&mut b).unwrap();
        }
    }
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    const DESCRS: &[&str] = &[
        "|b1",
        "|i1",
        "<i2",
        ">i4",
        "<i8",
        "|u1",
        "<u2",
        "<u4",
        ">u8",
        "<f2",
        "<f4",
        ">f8",
        "<c8",
        "<c16",
        "|S1",
        "|S7",
        "<U2",
        ">U1",
        "|V3",
        "<M8[us]",
        ">m8[D]",
        "[('a', '<i4'), ('b', '|S2')]",
        "[('x', '<f8', (2, 2))]",
    ];

    fn entry() -> impl Strategy<Value = (String, usize, Vec<u64>, bool, bool)> {
        (
            "[a-z0-9_é/.]{1,12}",
            0..DESCRS.len(),
            proptest::collection::vec(0u64..5, 0..4),
            any::<bool>(),
            any::<bool>(),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]
        #[test]
        fn round_trip(entries in proptest::collection::vec(entry(), 1..6), align in prop_oneof![Just(1u64), Just(64), Just(512)]) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("p.npz");
            let mut w = NpzWriter::options().align(align).fsync(false).create(&path).unwrap();
            let mut expect = Vec::new();
            for (i, (name, d, shape, fortran, stream)) in entries.into_iter().enumerate() {
                let key = format!("{i}{name}");
                let dtype = DType::parse(DESCRS[d]).unwrap();
                let order = if fortran { Order::Fortran } else { Order::C };
                let h = Header::for_array(dtype.clone(), shape.clone(), order);
                let n = h.data_len().unwrap() as usize;
                let data: Vec<u8> = if DESCRS[d] == "|b1" { pattern(n, i as u8).iter().map(|b| b & 1).collect() } else { pattern(n, i as u8) };
                let tail_len = Header::new(dtype.clone(), shape.clone(), order).row_len().unwrap().unwrap_or(0);
                let streamed = stream && !shape.is_empty() && tail_len > 0;
                if streamed {
                    let tail: Vec<u64> = if fortran { shape[..shape.len() - 1].to_vec() } else { shape[1..].to_vec() };
                    let mut s = w.begin(&key, dtype, &tail, order).unwrap();
                    for row in data.chunks(tail_len as usize) {
                        s.append_bytes(row).unwrap();
                    }
                    s.finish().unwrap();
                } else {
                    w.write_bytes(&key, &h, &data).unwrap();
                }
                expect.push((npzmap::npz::member_name(&key), h, data, streamed && fortran));
            }
            w.close().unwrap();
            let got = common::zip_members(&path);
            prop_assert_eq!(got.len(), expect.len());
            for ((name, bytes), (ename, h, data, flip)) in got.iter().zip(&expect) {
                prop_assert_eq!(name, ename);
                let p = read_header(bytes, DEFAULT_HEADER_LIMIT).unwrap();
                prop_assert_eq!(&p.header.dtype, &h.dtype);
                prop_assert_eq!(&p.header.shape, &h.shape);
                if h.shape.iter().filter(|&&x| x != 1).count() > 1 && !h.shape.contains(&0) {
                    prop_assert_eq!(p.header.order, h.order);
                }
                prop_assert_eq!(&bytes[p.data_offset as usize..], &data[..]);
                let hb = Header::for_array(h.dtype.clone(), h.shape.clone(), h.order).to_bytes().unwrap();
                if !flip {
                    prop_assert_eq!(&bytes[..p.data_offset as usize], &hb[..]);
                }
            }
        }
    }
}

/// A legal key whose member name ends like a ZIP64 end-of-central-directory
/// locator ("PK\x06\x07" + 16 bytes, the last four ".npy", read as a disk
/// count) made the reader refuse our own archive as multi-disk. A locator is
/// now only binding when an end record field is saturated.
#[test]
fn member_name_that_looks_like_a_zip64_locator() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.npz");
    let mut w = npzmap::NpzWriter::create(&p).unwrap();
    w.write("y", &[2u8], &[1], npzmap::Order::C).unwrap();
    w.write("PK\x06\x07abcdefghijkl", &[1u8], &[1], npzmap::Order::C)
        .unwrap();
    w.close().unwrap();
    let npz = npzmap::NpzReader::open(&p).unwrap();
    assert_eq!(
        npz.keys().collect::<Vec<_>>(),
        ["y", "PK\x06\x07abcdefghijkl"]
    );
    assert!(npz.verify().is_ok());
    // Appending to it works too (the writer reads the end records the same way).
    let mut w = npzmap::NpzWriter::append(&p).unwrap();
    w.write("z", &[3u8], &[1], npzmap::Order::C).unwrap();
    w.close().unwrap();
    assert_eq!(npzmap::NpzReader::open(&p).unwrap().len(), 3);
}
