//! Recovery after a cut, at many offsets (every member boundary ±1, inside
//! local headers, inside data, in the directory): the kept members are
//! exactly those whose data ends before the cut, and their bytes equal the
//! originals as the `zip` crate and numpy read the uncut archive. When
//! nothing can be kept, recovery fails with `Error::Unrecoverable` and
//! leaves every file as it was.

mod common;
mod layout;

use layout::Member;
use npzmap::npz::{NpzReader, NpzWriter, recover, recover_in_place};
use npzmap::{DType, Error, Header, Order};
use std::collections::BTreeSet;
use std::path::Path;

/// Offsets to cut at: around every member's local header and data, in the
/// middle of each, and in the directory and end records.
fn cuts(members: &[Member], len: u64) -> BTreeSet<u64> {
    let mut c = BTreeSet::new();
    for m in members {
        let h = m.header_start;
        for d in [0, 1, 2, 3, 4, 5, 20, 29, 30, 31] {
            c.insert(h + d);
        }
        c.insert(h.saturating_sub(1));
        for p in [m.data.start, m.data.end] {
            c.extend([p.saturating_sub(1), p, p + 1]);
        }
        c.insert((m.data.start + m.data.end) / 2);
    }
    c.extend([len - 22, len - 21, len - 1, len]);
    c.retain(|&x| x >= 1 && x <= len);
    c
}

/// Recovers `full[..cut]` both ways and checks the promise. Returns the
/// recovered file's path (or None when nothing was recoverable).
fn check_cut(dir: &Path, full: &[u8], members: &[Member], cut: u64) -> Option<std::path::PathBuf> {
    let input = dir.join(format!("cut{cut}.npz"));
    let cut_bytes = &full[..cut as usize];
    std::fs::write(&input, cut_bytes).unwrap();
    let expect: Vec<&Member> = members.iter().filter(|m| m.data.end <= cut).collect();
    let names: Vec<&str> = expect.iter().map(|m| m.name.as_str()).collect();
    let out = dir.join(format!("cut{cut}.fixed.npz"));
    // A file written in one session, cut short, is not an archive.
    if cut < full.len() as u64 {
        let e = NpzReader::open(&input).expect_err(&format!("cut {cut} opened"));
        assert!(
            matches!(e, Error::NotAZip { .. } | Error::Zip { .. }),
            "cut {cut}: {e:?}"
        );
    }
    let res = recover(&input, &out);
    assert_eq!(
        std::fs::read(&input).unwrap(),
        cut_bytes,
        "cut {cut}: recover changed its input"
    );
    let inplace = dir.join(format!("cut{cut}.inplace.npz"));
    std::fs::write(&inplace, cut_bytes).unwrap();
    let res_in = recover_in_place(&inplace);
    if expect.is_empty() {
        for (e, p) in [(res.unwrap_err(), &input), (res_in.unwrap_err(), &inplace)] {
            assert!(matches!(e, Error::Unrecoverable { .. }), "cut {cut}: {e:?}");
            assert_eq!(e.location().path.as_deref(), Some(p.as_path()), "{e}");
        }
        assert!(
            !out.exists(),
            "cut {cut}: output written although nothing was kept"
        );
        assert_eq!(
            std::fs::read(&inplace).unwrap(),
            cut_bytes,
            "cut {cut}: failed in-place recovery changed the file"
        );
        return None;
    }
    let r = res.unwrap_or_else(|e| panic!("cut {cut}: {e}"));
    assert_eq!(r.kept, names, "cut {cut}");
    assert!(r.dropped.len() <= 1, "cut {cut}: {:?}", r.dropped);
    if let Some(d) = r.dropped.first() {
        // Only the member the cut went through can be dropped.
        let cut_member = members
            .iter()
            .find(|m| m.header_start < cut && m.data.end > cut)
            .unwrap_or_else(|| panic!("cut {cut}: dropped {d:?}"));
        assert_eq!(d.offset, cut_member.header_start, "cut {cut}: {d:?}");
    }
    // A cut through a member's data (its header complete) drops it, saying why.
    if let Some(m) = members
        .iter()
        .find(|m| m.data.start <= cut && cut < m.data.end)
    {
        assert_eq!(r.dropped.len(), 1, "cut {cut}");
        assert_eq!(r.dropped[0].name, m.name, "cut {cut}");
        assert!(
            r.dropped[0].reason.contains("past the end of the file"),
            "cut {cut}: {:?}",
            r.dropped[0]
        );
    }
    assert_eq!(r.output_len, std::fs::metadata(&out).unwrap().len());
    // Kept members were not moved: the output starts with the input up to
    // the end of the last kept one.
    let last_end = expect.last().unwrap().data.end as usize;
    let recovered = std::fs::read(&out).unwrap();
    assert_eq!(recovered[..last_end], full[..last_end], "cut {cut}");
    // Oracle: the zip crate reads exactly the expected members and bytes.
    let got = common::zip_members(&out);
    let want: Vec<(String, Vec<u8>)> = expect
        .iter()
        .map(|m| (m.name.clone(), m.bytes.clone()))
        .collect();
    assert_eq!(got, want, "cut {cut}");
    // And our own reader agrees and verifies clean.
    let npz = NpzReader::open(&out).unwrap();
    assert!(npz.verify().is_ok(), "cut {cut}");
    for m in &expect {
        assert_eq!(*npz.read_member(&m.name).unwrap(), *m.bytes);
    }
    // In place: the same members, the same bytes.
    let r_in = res_in.unwrap_or_else(|e| panic!("cut {cut} in place: {e}"));
    assert_eq!(r_in.kept, r.kept);
    assert_eq!(std::fs::read(&inplace).unwrap(), recovered, "cut {cut}");
    Some(out)
}

fn check_all_cuts(dir: &Path, archive: &Path) -> Vec<(u64, Option<std::path::PathBuf>)> {
    let full = std::fs::read(archive).unwrap();
    let members = layout::layout(archive);
    assert!(members.len() >= 3);
    // No data descriptors or gaps: each member ends where its data ends.
    for w in members.windows(2) {
        assert!(w[0].data.end <= w[1].header_start);
    }
    let mut outs = Vec::new();
    let mut nothing = 0;
    for cut in cuts(&members, full.len() as u64) {
        let out = check_cut(dir, &full, &members, cut);
        nothing += usize::from(out.is_none());
        outs.push((cut, out));
    }
    assert!(
        nothing >= 5,
        "the error case was exercised ({nothing} cuts)"
    );
    outs
}

#[test]
fn cuts_of_a_writer_archive_keep_exactly_the_complete_members() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.npz");
    let mut w = NpzWriter::create(&path).unwrap();
    w.write("a", &[1.5f64, 2.5, 3.5], &[3], Order::C).unwrap();
    w.write(
        "b",
        &(0..300i32).collect::<Vec<_>>(),
        &[10, 30],
        Order::Fortran,
    )
    .unwrap();
    let mut s = w
        .begin("c", DType::parse("<u2").unwrap(), &[], Order::C)
        .unwrap();
    s.append(&(0..777u16).collect::<Vec<_>>()).unwrap();
    s.finish().unwrap();
    let h = Header::new(DType::parse(">i8").unwrap(), vec![4], Order::C);
    w.write_bytes("d", &h, &[7u8; 32]).unwrap();
    w.close().unwrap();
    check_all_cuts(dir.path(), &path);
}

#[test]
fn cuts_of_numpy_archives_keep_exactly_the_complete_members() {
    let Some(py) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let make = r#"
import sys, numpy as np
d = sys.argv[1]
arrs = dict(a=np.arange(5.0), b=np.arange(600, dtype='>i4').reshape(20, 30),
            c=np.array([True, False, True]), d=np.linspace(0, 1, 1000).astype('<f4'))
np.savez(d + '/plain.npz', **arrs)
np.savez_compressed(d + '/compressed.npz', **arrs)
"#;
    common::run(&py, make, &[&d]);
    for name in ["plain.npz", "compressed.npz"] {
        let sub = d.join(name.trim_end_matches(".npz"));
        std::fs::create_dir(&sub).unwrap();
        let src = d.join(name);
        let outs = check_all_cuts(&sub, &src);
        // numpy as the second oracle: every recovered archive loads, with
        // exactly the kept keys, each equal (dtype, shape, values) to the
        // original.
        let list: Vec<String> = outs
            .iter()
            .filter_map(|(_, o)| o.as_ref().map(|p| p.display().to_string()))
            .collect();
        let check = r#"
import sys, numpy as np
orig = np.load(sys.argv[1])
n = 0
for p in sys.argv[2:]:
    with np.load(p) as got:
        for k in got.files:
            a, b = orig[k], got[k]
            assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), (p, k)
            n += 1
print(n)
"#;
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&src];
        for p in &list {
            args.push(p);
        }
        let n: usize = common::run(&py, check, &args).trim().parse().unwrap();
        let want: usize = outs
            .iter()
            .filter_map(|(_, o)| o.as_ref())
            .map(|p| common::zip_members(p).len())
            .sum();
        assert_eq!(n, want, "{name}");
    }
}

#[test]
fn nothing_recoverable_is_an_error_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: [(&str, Vec<u8>); 4] = [
        ("empty", Vec::new()),
        ("text", b"not an archive at all, just text\n".repeat(100)),
        (
            "sig",
            b"PK\x03\x04 a local header signature and then junk".to_vec(),
        ),
        ("end", {
            // an empty archive: its end record only
            let mut v = Vec::new();
            npzmap::unstable::zip::write_end_records(&mut v, 0, 0, 0, b"");
            v
        }),
    ];
    for (name, bytes) in cases {
        let input = d.join(format!("{name}.npz"));
        std::fs::write(&input, &bytes).unwrap();
        let out = d.join(format!("{name}.out.npz"));
        let e = recover(&input, &out).unwrap_err();
        assert!(matches!(e, Error::Unrecoverable { .. }), "{name}: {e:?}");
        assert_eq!(e.location().path.as_deref(), Some(input.as_path()));
        assert!(!out.exists(), "{name}");
        assert_eq!(std::fs::read(&input).unwrap(), bytes, "{name}");
        // An existing output is left alone too.
        std::fs::write(&out, b"keep me").unwrap();
        assert!(matches!(
            recover(&input, &out),
            Err(Error::Unrecoverable { .. })
        ));
        assert_eq!(std::fs::read(&out).unwrap(), b"keep me", "{name}");
        let e = recover_in_place(&input).unwrap_err();
        assert!(matches!(e, Error::Unrecoverable { .. }), "{name}: {e:?}");
        assert_eq!(std::fs::read(&input).unwrap(), bytes, "{name}");
    }
}
