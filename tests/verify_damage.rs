//! A flipped byte inside one member's data: `NpzReader::verify` and
//! `npzmap verify` report exactly that member (CLI: exit 1, the member
//! named, no other member named), for the first, middle and last member,
//! stored and deflated, in archives built here and written by numpy.

mod common;
mod layout;
mod npz_support;

use npz_support::*;
use npzmap::npz::NpzReader;
use npzmap::{Error, Order};
use std::path::Path;

/// The CLI, when built (feature `cli`).
const BIN: Option<&str> = option_env!("CARGO_BIN_EXE_npzmap");

const NAMES: [&str; 3] = ["first.npy", "middle.npy", "last.npy"];

fn contents() -> [Vec<u8>; 3] {
    [
        npy("<f8", &[40], Order::C, &le(&[0.25f64; 40])),
        npy(
            ">i4",
            &[10, 10],
            Order::C,
            &(0..400u32).map(|i| (i * 7) as u8).collect::<Vec<_>>(),
        ),
        npy("|u1", &[300], Order::C, &[9u8; 300]),
    ]
}

/// Checks one damaged archive (`bytes` with the byte at `pos` flipped).
fn check(dir: &Path, bytes: &[u8], pos: u64, orig: &[layout::Member], cli: bool) {
    let hit = layout::owner(orig, pos).expect("pos lies in a member's data");
    let mut b = bytes.to_vec();
    b[pos as usize] ^= 0x55;
    let path = dir.join("damaged.npz");
    std::fs::write(&path, &b).unwrap();
    let npz = NpzReader::open(&path).unwrap();
    let report = npz.verify();
    assert_eq!(report.members.len(), orig.len());
    if hit.deflated && report.is_ok() {
        // Only deflate's padding bits can change unnoticed: then the
        // member must still inflate to its original bytes.
        assert_eq!(*npz.read_member(&hit.name).unwrap(), *hit.bytes);
        assert_eq!(
            pos,
            hit.data.end - 1,
            "flip at {pos} in {} undetected",
            hit.name
        );
        return;
    }
    for (name, r) in &report.members {
        if *name == hit.name {
            let e = r.as_ref().expect_err(&format!("flip at {pos} in {name}"));
            assert!(
                matches!(
                    e,
                    Error::CrcMismatch { .. }
                        | Error::Zip { .. }
                        | Error::DecompressionLimit { .. }
                        | Error::InvalidHeader { .. }
                        | Error::BadMagic { .. }
                        | Error::DataTooShort { .. }
                        | Error::DataTooLong { .. }
                ),
                "{e:?}"
            );
            assert_eq!(e.location().member.as_deref(), Some(name.as_str()));
            assert_eq!(e.location().path.as_deref(), Some(path.as_path()));
            assert!(e.location().offset.is_some(), "{e}");
        } else {
            assert!(r.is_ok(), "flip at {pos} in {}: {name} {r:?}", hit.name);
        }
    }
    if !cli {
        return;
    }
    let o = std::process::Command::new(BIN.unwrap())
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(1), "flip at {pos}: {text}");
    assert!(text.contains(&hit.name), "{} not named: {text}", hit.name);
    for m in orig.iter().filter(|m| m.name != hit.name) {
        assert!(!text.contains(&m.name), "{} named: {text}", m.name);
    }
}

/// Flips a byte at the start, middle and end of every member's data.
fn check_archive(dir: &Path, archive: &Path, cli: bool) {
    let bytes = std::fs::read(archive).unwrap();
    let orig = layout::layout(archive);
    assert_eq!(
        orig.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        NAMES
    );
    if cli {
        let o = std::process::Command::new(BIN.unwrap())
            .arg("verify")
            .arg(archive)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{o:?}");
    }
    for m in &orig {
        let mid = (m.data.start + m.data.end) / 2;
        for pos in [m.data.start, mid, m.data.end - 1] {
            // The CLI is slower: run it once per member.
            check(dir, &bytes, pos, &orig, cli && pos == mid);
        }
    }
}

#[test]
fn flipped_byte_is_reported_for_exactly_its_member() {
    let dir = tempfile::tempdir().unwrap();
    let c = contents();
    for deflate in [[false, true, false], [true, false, true]] {
        let ms: Vec<M> = (0..3)
            .map(|i| {
                if deflate[i] {
                    deflated(NAMES[i], c[i].clone())
                } else {
                    stored(NAMES[i], c[i].clone())
                }
            })
            .collect();
        let path = dir.path().join("orig.npz");
        std::fs::write(&path, archive(&ms)).unwrap();
        let orig = layout::layout(&path);
        for (m, d) in orig.iter().zip(deflate) {
            assert_eq!(m.deflated, d);
        }
        check_archive(dir.path(), &path, BIN.is_some());
    }
}

#[test]
fn flipped_byte_in_numpy_archives_is_reported_for_exactly_its_member() {
    let Some(py) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let make = r#"
import sys, numpy as np
d = sys.argv[1]
arrs = dict(first=np.linspace(0, 1, 40), middle=np.arange(100, dtype='>i4').reshape(10, 10),
            last=np.full(300, 9, dtype='u1'))
np.savez(d + '/plain.npz', **arrs)
np.savez_compressed(d + '/compressed.npz', **arrs)
"#;
    common::run(&py, make, &[&d]);
    for name in ["plain.npz", "compressed.npz"] {
        check_archive(d, &d.join(name), BIN.is_some());
    }
}
