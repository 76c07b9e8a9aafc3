//! Outcomes a user must not misread: failed recovers leave files alone and
//! name the input, dropped members are reported (and fail the command),
//! non-array members are listed as np.load sees them, `--json` reports, and
//! `pack` says which inputs landed when it stops.
#![cfg(feature = "cli")]

mod common;
#[path = "common/cli.rs"]
mod run;

use npzmap::error::Error;
use npzmap::{Order, npy, npz};
use run::{code, npzmap, stderr, stdout};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn json_of(o: &Output) -> Value {
    serde_json::from_str(&stdout(o))
        .unwrap_or_else(|e| panic!("JSON on stdout ({e}): {}", stdout(o)))
}

/// Names in `dir`, sorted (to see that no temporary file was left behind).
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A damaged 0-d .npy (cannot be recovered: no growth axis) and a
/// pre-existing output with known bytes.
fn unrecoverable_npy(d: &Path) -> (PathBuf, Vec<u8>, PathBuf, Vec<u8>) {
    let input = d.join("in.npy");
    npy::write(&input, &[7.5f64], &[], Order::C).unwrap();
    let mut bytes = std::fs::read(&input).unwrap();
    bytes.truncate(bytes.len() - 3);
    std::fs::write(&input, &bytes).unwrap();
    let output = d.join("out.npy");
    let old = b"precious bytes that must survive".to_vec();
    std::fs::write(&output, &old).unwrap();
    (input, bytes, output, old)
}

#[test]
fn failed_npy_recover_leaves_every_file_and_names_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (input, in_bytes, output, old) = unrecoverable_npy(d);
    let before = listing(d);
    // Library, copy mode.
    let e = npy::recover_to(&input, &output, false).unwrap_err();
    assert!(matches!(e, Error::Unrecoverable { .. }), "{e:?}");
    assert_eq!(e.location().path.as_deref(), Some(input.as_path()));
    assert_eq!(e.location().offset, Some(128), "the data offset of IN");
    assert_eq!(std::fs::read(&output).unwrap(), old);
    assert_eq!(std::fs::read(&input).unwrap(), in_bytes);
    let with = npy::RecoverWith::new(npzmap::DType::parse("<f8").unwrap(), &[0], Order::C);
    let e = npy::recover_with_to(&input, &output, &with).unwrap_err();
    assert!(matches!(e, Error::Unrecoverable { .. }), "{e:?}");
    assert_eq!(e.location().path.as_deref(), Some(input.as_path()));
    assert_eq!(std::fs::read(&output).unwrap(), old);
    // CLI.
    let o = npzmap(&[&"recover", &input, &"-o", &output]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(&*input.to_string_lossy()), "{err}");
    assert!(!err.contains(&*output.to_string_lossy()), "{err}");
    assert_eq!(std::fs::read(&output).unwrap(), old);
    assert_eq!(std::fs::read(&input).unwrap(), in_bytes);
    // JSON: the error, no output.
    let o = npzmap(&[&"recover", &input, &"-o", &output, &"--json"]);
    assert_eq!(code(&o), 1);
    let v = json_of(&o);
    assert_eq!(v["ok"], false);
    assert_eq!(v["output"], Value::Null);
    assert_eq!(v["error"]["kind"], "Unrecoverable");
    assert_eq!(std::fs::read(&output).unwrap(), old);
    assert_eq!(listing(d), before, "no temporary file left behind");
}

#[test]
fn npy_recover_to_matches_in_place_and_keeps_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = d.join("t.npy");
    npy::write(&input, &(0..30u16).collect::<Vec<_>>(), &[10, 3], Order::C).unwrap();
    let mut bytes = std::fs::read(&input).unwrap();
    bytes.truncate(bytes.len() - 2);
    std::fs::write(&input, &bytes).unwrap();
    let in_place = d.join("copy.npy");
    std::fs::write(&in_place, &bytes).unwrap();
    let want = npy::recover(&in_place, true).unwrap();
    let out = d.join("out.npy");
    std::fs::write(&out, b"old").unwrap();
    let got = npy::recover_to(&input, &out, true).unwrap();
    assert_eq!(got, want);
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&in_place).unwrap()
    );
    assert_eq!(std::fs::read(&input).unwrap(), bytes, "input untouched");
    // A consistent input is copied unchanged.
    let out2 = d.join("out2.npy");
    let r = npy::recover_to(&in_place, &out2, false).unwrap();
    assert!(!r.changed);
    assert_eq!(
        std::fs::read(&out2).unwrap(),
        std::fs::read(&in_place).unwrap()
    );
}

#[test]
fn npz_recover_without_members_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = d.join("junk.npz");
    let junk = b"no zip member in here, just text".repeat(10);
    std::fs::write(&input, &junk).unwrap();
    let output = d.join("out.npz");
    let e = npz::recover(&input, &output).unwrap_err();
    assert!(matches!(e, Error::Unrecoverable { .. }), "{e:?}");
    assert_eq!(e.location().path.as_deref(), Some(input.as_path()));
    assert!(!output.exists(), "no empty archive written");
    // An existing output keeps its bytes.
    std::fs::write(&output, b"keep me").unwrap();
    let e = npz::recover(&input, &output).unwrap_err();
    assert!(matches!(e, Error::Unrecoverable { .. }), "{e:?}");
    assert_eq!(std::fs::read(&output).unwrap(), b"keep me");
    // In place: the file is not truncated to an empty archive.
    let e = npz::recover_in_place(&input).unwrap_err();
    assert!(matches!(e, Error::Unrecoverable { .. }), "{e:?}");
    assert_eq!(std::fs::read(&input).unwrap(), junk);
    // CLI: exit 1, input named, no output.
    std::fs::remove_file(&output).unwrap();
    let o = npzmap(&[&"recover", &input, &"-o", &output]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&*input.to_string_lossy()),
        "{}",
        stderr(&o)
    );
    assert!(!output.exists());
    assert_eq!(listing(d), vec!["junk.npz".to_string()]);
}

/// An archive with stored, bzip2, lzma and deflated members, written by
/// Python's zipfile. Returns (path, [(name, local header offset)], start_dir).
fn mixed_methods(py: &Path, d: &Path) -> (PathBuf, Vec<(String, u64)>, u64) {
    let p = d.join("mixed.npz");
    let out = common::run(
        py,
        r#"
import sys, io, zipfile, numpy as np
def npy(a):
    b = io.BytesIO(); np.save(b, a); return b.getvalue()
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    z.writestr('a.npy', npy(np.arange(10, dtype='<i4')), compress_type=zipfile.ZIP_STORED)
    z.writestr('b.npy', npy(np.arange(20, dtype='<f8')), compress_type=zipfile.ZIP_BZIP2)
    z.writestr('c.npy', npy(np.arange(30, dtype='<u2')), compress_type=zipfile.ZIP_LZMA)
    z.writestr('d.npy', npy(np.arange(40, dtype='<i8')), compress_type=zipfile.ZIP_DEFLATED)
with zipfile.ZipFile(sys.argv[1]) as z:
    for i in z.infolist():
        print(i.filename, i.header_offset, i.compress_type)
    print('start_dir', z.start_dir)
"#,
        &[&p],
    );
    let mut members = Vec::new();
    let mut start_dir = 0;
    for line in out.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if f[0] == "start_dir" {
            start_dir = f[1].parse().unwrap();
        } else {
            members.push((f[0].to_string(), f[1].parse().unwrap()));
        }
    }
    (p, members, start_dir)
}

#[test]
fn recover_reports_members_it_cannot_check() {
    let Some(py) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (input, members, start_dir) = mixed_methods(&py, d);
    let offset = |n: &str| members.iter().find(|(m, _)| m == n).unwrap().1;
    let in_bytes = std::fs::read(&input).unwrap();
    // Library.
    let lib_out = d.join("lib.npz");
    let rep = npz::recover(&input, &lib_out).unwrap();
    assert_eq!(rep.kept, vec!["a.npy".to_string(), "d.npy".to_string()]);
    let dropped: Vec<(&str, u64)> = rep
        .dropped
        .iter()
        .map(|x| (x.name.as_str(), x.offset))
        .collect();
    assert_eq!(
        dropped,
        vec![("b.npy", offset("b.npy")), ("c.npy", offset("c.npy"))]
    );
    assert!(
        rep.dropped[0].reason.contains("compression method 12"),
        "{:?}",
        rep.dropped
    );
    assert!(
        rep.dropped[1].reason.contains("compression method 14"),
        "{:?}",
        rep.dropped
    );
    assert_eq!(rep.bytes_kept, start_dir);
    let out_bytes = std::fs::read(&lib_out).unwrap();
    assert_eq!(
        &out_bytes[..start_dir as usize],
        &in_bytes[..start_dir as usize]
    );
    assert_eq!(rep.output_len, out_bytes.len() as u64);
    // CLI text: dropped members on stderr with offset and reason, exit 1.
    let out = d.join("cli.npz");
    let o = npzmap(&[&"recover", &input, &"-o", &out]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    for (n, m) in [("b.npy", 12), ("c.npy", 14)] {
        let line = format!(
            "dropped  \"{n}\" (offset {}): unsupported compression method {m}",
            offset(n)
        );
        assert!(err.contains(&line), "{line} in {err}");
    }
    assert_eq!(std::fs::read(&out).unwrap(), out_bytes);
    // CLI JSON.
    let o = npzmap(&[&"recover", &input, &"-o", &out, &"--json"]);
    assert_eq!(code(&o), 1);
    let v = json_of(&o);
    assert_eq!(v["format"], "npz");
    assert_eq!(v["ok"], false);
    assert_eq!(
        v["output"],
        Value::String(out.to_string_lossy().into_owned())
    );
    assert_eq!(v["kept"], serde_json::json!(["a.npy", "d.npy"]));
    assert_eq!(v["dropped"][0]["name"], "b.npy");
    assert_eq!(v["dropped"][0]["offset"], offset("b.npy"));
    assert_eq!(v["dropped"][1]["offset"], offset("c.npy"));
    assert!(v["dropped"][1]["reason"].as_str().unwrap().contains("14"));
    assert_eq!(v["bytes_kept"], start_dir);
    assert_eq!(v["output_len"], out_bytes.len() as u64);
    // numpy reads the kept members with their values.
    let got = common::run(
        &py,
        "import sys, numpy as np\nz = np.load(sys.argv[1])\nprint(sorted(z.files), z['a'].tolist() == list(range(10)), z['d'].tolist() == list(range(40)))",
        &[&out],
    );
    assert_eq!(got.trim(), "['a', 'd'] True True");
}

/// `a.npy` array, `b` NPY bytes without suffix, `c.txt` text, `d.npy` not NPY.
fn mixed_kinds(py: &Path, d: &Path) -> PathBuf {
    let p = d.join("kinds.npz");
    common::run(
        py,
        r#"
import sys, io, zipfile, numpy as np
def npy(a):
    b = io.BytesIO(); np.save(b, a); return b.getvalue()
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    z.writestr('a.npy', npy(np.arange(5, dtype='<i4')))
    z.writestr('b', npy(np.arange(3, dtype='>f8')), compress_type=zipfile.ZIP_DEFLATED)
    z.writestr('c.txt', b'hello, not an array\n')
    z.writestr('d.npy', b'plain bytes with a .npy name', compress_type=zipfile.ZIP_DEFLATED)
"#,
        &[&p],
    );
    p
}

#[test]
fn non_array_members_are_listed_as_np_load_sees_them() {
    let Some(py) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = mixed_kinds(&py, d);
    // What np.load says: files, and for each key array (with values) or bytes.
    let want = common::run(
        &py,
        r#"
import sys, json, numpy as np
z = np.load(sys.argv[1])
out = []
for k in z.files:
    v = z[k]
    if isinstance(v, np.ndarray):
        out.append([k, True, v.tolist()])
    else:
        out.append([k, False, list(v)])
print(json.dumps(out))
"#,
        &[&p],
    );
    let want: Value = serde_json::from_str(&want).unwrap();
    let want = want.as_array().unwrap();
    let r = npz::NpzReader::open(&p).unwrap();
    let keys: Vec<&str> = r.keys().collect();
    let np_keys: Vec<&str> = want.iter().map(|w| w[0].as_str().unwrap()).collect();
    assert_eq!(keys, np_keys);
    assert_eq!(keys, vec!["a", "b", "c.txt", "d"]);
    for w in want {
        let k = w[0].as_str().unwrap();
        let is_array = w[1].as_bool().unwrap();
        assert_eq!(r.is_array(k).unwrap(), is_array, "{k}");
        if is_array {
            let v = r.get(k).unwrap();
            let vals: Vec<f64> = if k == "a" {
                v.to_vec::<i32>()
                    .unwrap()
                    .into_iter()
                    .map(f64::from)
                    .collect()
            } else {
                v.to_vec::<f64>().unwrap()
            };
            let np_vals: Vec<f64> = w[2]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            assert_eq!(vals, np_vals, "{k}");
        } else {
            let e = r.get(k).unwrap_err();
            assert!(matches!(e, Error::BadMagic { .. }), "{k}: {e:?}");
            assert!(matches!(r.header(k), Err(Error::BadMagic { .. })), "{k}");
            let np_bytes: Vec<u8> = w[2]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u8)
                .collect();
            assert_eq!(&*r.read_member(k).unwrap(), &np_bytes[..], "{k}");
        }
    }
    // A strict preload parses every array (b included) and does not trip
    // over members that are not arrays.
    let strict =
        npz::NpzReader::open_with(&p, npz::ReaderOptions::new().preload(true).strict(true))
            .unwrap();
    assert!(strict.preload_errors().is_empty());
    assert_eq!(strict.header("b").unwrap().shape, vec![3]);
    // verify (library): every member checks out, as np.load reads them all.
    assert!(r.verify().is_ok(), "{:?}", r.verify());
    // ls --json: every key, kind as np.load, exit 0.
    let o = npzmap(&[&"ls", &p, &"--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = json_of(&o);
    let rows = rows.as_array().unwrap();
    let got: Vec<(&str, &str, bool)> = rows
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap(),
                r["member"].as_str().unwrap(),
                r["array"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("a", "a.npy", true),
            ("b", "b", true),
            ("c.txt", "c.txt", false),
            ("d", "d.npy", false)
        ]
    );
    assert_eq!(rows[2]["kind"], "bytes");
    assert_eq!(rows[2]["nbytes"], 20);
    assert_eq!(rows[1]["descr"], ">f8");
    // Text ls marks them.
    let o = npzmap(&[&"ls", &p]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let line = stdout(&o)
        .lines()
        .find(|l| l.starts_with("c.txt"))
        .unwrap()
        .to_string();
    assert!(line.contains("(bytes)"), "{line}");
    // export: arrays as .npy, other members as their raw bytes.
    let o = npzmap(&[&"export", &p, &"c.txt", &"-o", &d.join("c.out")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("not an NPY array"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(d.join("c.out")).unwrap(),
        b"hello, not an array\n"
    );
    let o = npzmap(&[&"export", &p, &"b", &"-o", &d.join("b.npy")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let f = npy::NpyFile::open(d.join("b.npy")).unwrap();
    assert_eq!(f.view().to_vec::<f64>().unwrap(), vec![0.0, 1.0, 2.0]);
    // verify --json: all ok, array flags as np.load.
    let o = npzmap(&[&"verify", &p, &"--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json_of(&o);
    assert_eq!(v["ok"], true);
    let flags: Vec<bool> = v["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["array"].as_bool().unwrap())
        .collect();
    assert_eq!(flags, vec![true, true, false, false]);
}

#[test]
fn verify_json_names_the_damaged_member() {
    let Some(py) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = d.join("v.npz");
    let info = common::run(
        &py,
        r#"
import sys, zipfile, numpy as np
np.savez(sys.argv[1], good=np.arange(10, dtype='<u4'), bad=np.arange(100, dtype='<u8'))
with zipfile.ZipFile(sys.argv[1]) as z:
    for i in z.infolist():
        print(i.filename, i.header_offset, i.compress_size, i.file_size, len(i.filename) + len(i.extra) + 30)
"#,
        &[&p],
    );
    let rows: Vec<Vec<String>> = info
        .lines()
        .map(|l| l.split(' ').map(String::from).collect())
        .collect();
    let o = npzmap(&[&"verify", &p, &"--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json_of(&o);
    assert_eq!(v["ok"], true);
    assert_eq!(v["format"], "npz");
    for (m, row) in v["members"].as_array().unwrap().iter().zip(&rows) {
        assert_eq!(m["name"], row[0].as_str());
        assert_eq!(m["offset"], row[1].parse::<u64>().unwrap());
        assert_eq!(m["size"], row[2].parse::<u64>().unwrap());
        assert_eq!(m["uncompressed_size"], row[3].parse::<u64>().unwrap());
        assert_eq!(m["ok"], true);
        assert_eq!(m["error"], Value::Null);
    }
    // Flip one data byte of bad.npy.
    let bad = rows.iter().find(|r| r[0] == "bad.npy").unwrap();
    let at = bad[1].parse::<usize>().unwrap() + bad[4].parse::<usize>().unwrap() + 200;
    let mut b = std::fs::read(&p).unwrap();
    b[at] ^= 1;
    std::fs::write(&p, &b).unwrap();
    let o = npzmap(&[&"verify", &p, &"--json"]);
    assert_eq!(code(&o), 1);
    let v = json_of(&o);
    assert_eq!(v["ok"], false);
    let ms = v["members"].as_array().unwrap();
    let good = ms.iter().find(|m| m["name"] == "good.npy").unwrap();
    let badm = ms.iter().find(|m| m["name"] == "bad.npy").unwrap();
    assert_eq!(good["ok"], true);
    assert_eq!(badm["ok"], false);
    assert_eq!(badm["key"], "bad");
    assert_eq!(badm["error"]["kind"], "CrcMismatch");
    assert!(
        badm["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bad.npy")
    );
    // numpy agrees that bad is damaged.
    let r = common::try_run(
        &py,
        "import sys, numpy as np\nnp.load(sys.argv[1])['bad']",
        &[&p],
    );
    assert!(r.is_err());
    // Not a zip: one JSON object with the file-level error.
    let junk = d.join("j.npz");
    std::fs::write(&junk, b"not a zip").unwrap();
    let o = npzmap(&[&"verify", &junk, &"--json"]);
    assert_eq!(code(&o), 1);
    let v = json_of(&o);
    assert_eq!(v["error"]["kind"], "NotAZip");
    assert_eq!(v["members"], serde_json::json!([]));
}

#[test]
fn pack_says_which_inputs_landed() {
    let Some(py) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut args: Vec<String> = Vec::new();
    for i in 0..5u32 {
        let p = d.join(format!("p{i}.npy"));
        npy::write(&p, &vec![f64::from(i); 5000], &[5000], Order::C).unwrap();
        args.push(p.to_string_lossy().into_owned());
    }
    let out = d.join("packed.npz");
    // The file-size limit (512-byte blocks) lets two 40 kB members land;
    // the third write fails with EFBIG (SIGXFSZ ignored), as on a full disk.
    let script = "trap '' XFSZ; ulimit -f 200; exec \"$0\" --quiet pack \"$@\"";
    let o = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_npzmap"))
        .arg(&out)
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("pack stopped at p2={}", args[2])),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "the 2 input(s) written before it are committed in {}: p0={}, p1={}",
            out.display(),
            args[0],
            args[1]
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("not written: p3={}, p4={}", args[3], args[4])),
        "{err}"
    );
    let got = common::run(
        &py,
        "import sys, numpy as np\nz = np.load(sys.argv[1])\nprint(z.files, [float(z[k].sum()) for k in z.files])",
        &[&out],
    );
    assert_eq!(got.trim(), "['p0', 'p1'] [0.0, 5000.0]");
}

#[test]
fn verify_json_of_an_npy() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.npy");
    npy::write(&p, &[1u8, 0, 1, 1], &[4], Order::C).unwrap();
    // bool dtype: rewrite the descr (same length) so element checks apply
    let mut b = std::fs::read(&p).unwrap();
    let at = b.windows(3).position(|w| w == b"|u1").unwrap();
    b[at..at + 3].copy_from_slice(b"|b1");
    std::fs::write(&p, &b).unwrap();
    let o = npzmap(&[&"verify", &p, &"--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json_of(&o);
    assert_eq!(v["format"], "npy");
    assert_eq!(v["ok"], true);
    let m = &v["members"][0];
    assert_eq!(m["name"], "x.npy");
    assert_eq!(m["key"], "x");
    assert_eq!(m["offset"], 128);
    assert_eq!(m["size"], 4);
    assert_eq!(m["array"], true);
    // An invalid bool byte: exit 1, the element and its file offset.
    let last = b.len() - 1;
    b[last] = 7;
    std::fs::write(&p, &b).unwrap();
    let o = npzmap(&[&"verify", &p, &"--json"]);
    assert_eq!(code(&o), 1);
    let v = json_of(&o);
    assert_eq!(v["ok"], false);
    assert_eq!(v["members"][0]["error"]["kind"], "InvalidBool");
    let msg = v["members"][0]["error"]["message"].as_str().unwrap();
    assert!(msg.contains("bool element 3 holds 7 (offset 131)"), "{msg}");
}
