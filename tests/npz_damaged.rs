//! Damaged and hostile archives: every one is a typed error naming the
//! member and offset, never a panic, hang or huge allocation.

mod layout;
mod npz_support;

use npz_support::*;
use npzmap::npz::{NpzReader, ReaderOptions};
use npzmap::unstable::zip::*;
use npzmap::{Error, Order};
use std::path::{Path, PathBuf};

/// Opens, lists, reads every member every way, verifies; errors are fine,
/// panics are not.
fn exercise(path: &std::path::Path) {
    for opts in [
        ReaderOptions::new(),
        ReaderOptions::new().preload(true).verify_on_access(true),
    ] {
        let Ok(npz) = NpzReader::open_with(path, opts) else {
            continue;
        };
        let keys: Vec<String> = npz.keys().map(str::to_string).collect();
        for k in &keys {
            if let Ok(v) = npz.get(k) {
                let _ = v.to_vec::<f64>();
                let _ = v.to_vec::<i32>();
                let _ = v.to_native_bytes();
            }
            let _ = npz.get_slice::<f64>(k);
            let _ = npz.get_owned(k);
            let _ = npz.read_member(k);
        }
        let _ = npz.verify();
    }
}

fn small_archive() -> Vec<u8> {
    archive(&[
        stored(
            "a.npy",
            npy("<f8", &[3], Order::C, &le(&[1.0f64, 2.0, 3.0])),
        ),
        deflated(
            "b.npy",
            npy(
                ">i4",
                &[2, 2],
                Order::C,
                &[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4],
            ),
        ),
        stored("c.npy", npy("|b1", &[2], Order::C, &[1, 0])),
    ])
}

/// Every cut shorter than the file fails `open` (a file written in one
/// session has no earlier end record to fall back to), from a path and
/// from memory, with the input named.
fn assert_cut_fails(path: &Path, bytes: &[u8]) {
    for cut in 0..bytes.len() {
        std::fs::write(path, &bytes[..cut]).unwrap();
        let e = NpzReader::open(path).expect_err(&format!("cut at {cut} opened"));
        assert!(
            matches!(e, Error::NotAZip { .. } | Error::Zip { .. }),
            "cut at {cut}: {e:?}"
        );
        assert_eq!(e.location().path.as_deref(), Some(path), "cut at {cut}");
        assert!(NpzReader::from_bytes(bytes[..cut].to_vec()).is_err());
        exercise(path);
    }
}

/// After flipping one byte at `pos` of an archive whose members (as the
/// zip crate reads the undamaged file) are `orig`: if the byte lies in a
/// member's data, `verify` reports exactly that member, and every other
/// member verifies and reads back unchanged; anywhere else, an archive
/// that opens and verifies clean returns exactly the original members (the
/// byte was one no reader looks at). Never wrong data without an error.
fn assert_flip_detected(path: &Path, orig: &[layout::Member], pos: u64) {
    exercise(path);
    let npz = NpzReader::open(path);
    if let Some(hit) = layout::owner(orig, pos) {
        let npz = npz.unwrap_or_else(|e| panic!("flip at {pos} in {}: {e}", hit.name));
        let report = npz.verify();
        let bad: Vec<_> = report.errors().collect();
        if bad.is_empty() {
            // Only possible in deflate padding bits: the member must then
            // inflate to exactly the original bytes.
            assert!(
                hit.deflated,
                "flip at {pos} in stored {} undetected",
                hit.name
            );
            let bytes = npz.read_member(&hit.name).unwrap();
            assert_eq!(*bytes, *hit.bytes, "flip at {pos} changed {}", hit.name);
        } else {
            assert_eq!(bad.len(), 1, "flip at {pos}: {bad:?}");
            let (name, e) = bad[0];
            assert_eq!(name, hit.name, "flip at {pos}");
            assert_eq!(e.location().member.as_deref(), Some(name), "{e}");
            assert_eq!(e.location().path.as_deref(), Some(path), "{e}");
            assert!(e.location().offset.is_some(), "{e}");
        }
        for m in orig.iter().filter(|m| m.name != hit.name) {
            assert_eq!(*npz.read_member(&m.name).unwrap(), *m.bytes, "{}", m.name);
        }
        return;
    }
    let Ok(npz) = npz else { return };
    if !npz.verify().is_ok() {
        return;
    }
    let names: Vec<&str> = npz.members().map(|m| m.name).collect();
    let want: Vec<&str> = orig.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, want, "flip at {pos} renamed a member silently");
    for m in orig {
        assert_eq!(
            *npz.read_member(&m.name).unwrap(),
            *m.bytes,
            "flip at {pos} changed {} silently",
            m.name
        );
    }
}

#[test]
fn every_truncation_and_many_flips() {
    let a = small_archive();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npz");
    std::fs::write(&path, &a).unwrap();
    let orig = layout::layout(&path);
    assert_eq!(orig.len(), 3);
    assert!(orig[1].deflated && !orig[0].deflated && !orig[2].deflated);
    assert_cut_fails(&path, &a);
    for pos in 0..a.len() {
        for x in [0xFFu8, 0x01, 0x80] {
            let mut b = a.clone();
            b[pos] ^= x;
            std::fs::write(&path, &b).unwrap();
            assert_flip_detected(&path, &orig, pos as u64);
        }
    }
}

#[test]
fn committed_fixtures_survive_flips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npz");
    for name in ["small_compressed.npz", "small_descriptors.npz"] {
        let src: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests/data", name]
            .iter()
            .collect();
        let a = std::fs::read(&src).unwrap();
        let orig = layout::layout(&src);
        assert!(orig.len() >= 2, "{name}");
        for pos in (0..a.len()).step_by(3) {
            let mut b = a.clone();
            b[pos] = b[pos].wrapping_add(0x5b);
            std::fs::write(&path, &b).unwrap();
            assert_flip_detected(&path, &orig, pos as u64);
        }
        assert_cut_fails(&path, &a);
    }
}

fn open_err(bytes: &[u8]) -> Error {
    let (_d, p) = temp(bytes);
    NpzReader::open(&p).unwrap_err()
}

fn get_err(bytes: &[u8], key: &str) -> Error {
    let (_d, p) = temp(bytes);
    let npz = NpzReader::open(&p).unwrap();
    let e = npz.get(key).unwrap_err();
    assert!(e.location().path.is_some(), "{e}");
    e
}

fn member_of(e: &Error) -> Option<&str> {
    e.location().member.as_deref()
}

#[test]
fn not_a_zip() {
    assert!(matches!(open_err(b""), Error::NotAZip { .. }));
    assert!(matches!(open_err(&[7u8; 100]), Error::NotAZip { .. }));
}

#[test]
fn central_entry_past_the_end() {
    let m = stored("a.npy", npy("<i4", &[1], Order::C, &le(&[1i32])));
    let (mut a, _) = archive_with_offsets(&[m], b"");
    // patch the local header offset in the central directory entry
    let end = EndOfCentralDirectory::find(&a).unwrap();
    let cd = end.cd_start() as usize;
    a[cd + 42..cd + 46].copy_from_slice(&1_000_000u32.to_le_bytes());
    let e = open_err(&a);
    assert!(matches!(e, Error::Zip { .. }), "{e}");
    assert_eq!(member_of(&e), Some("a.npy"));
    assert!(e.location().offset.is_some());
    // compressed size past the directory
    let (mut a, _) = archive_with_offsets(&[stored("a.npy", vec![0; 10])], b"");
    let cd = EndOfCentralDirectory::find(&a).unwrap().cd_start() as usize;
    a[cd + 20..cd + 24].copy_from_slice(&5_000u32.to_le_bytes());
    assert!(matches!(open_err(&a), Error::Zip { .. }));
}

#[test]
fn overlapping_members() {
    let m = stored("a.npy", npy("<i4", &[1], Order::C, &le(&[1i32])));
    let (mut a, _) = archive_with_offsets(&[m.clone(), stored("b.npy", m.stored.clone())], b"");
    // second entry points at the first member's local header
    let end = EndOfCentralDirectory::find(&a).unwrap();
    let first = CentralEntryRef::parse(&a, end.cd_start()).unwrap();
    let second = (end.cd_start() + first.len()) as usize;
    a[second + 42..second + 46].copy_from_slice(&0u32.to_le_bytes());
    let e = open_err(&a);
    assert!(
        matches!(&e, Error::Zip { reason, .. } if reason.contains("overlap")),
        "{e}"
    );
    assert!(member_of(&e).is_some());
}

#[test]
fn local_central_mismatch() {
    let data = npy("<i4", &[1], Order::C, &le(&[1i32]));
    let m = stored("a.npy", data.clone());
    let (mut a, offs) = archive_with_offsets(std::slice::from_ref(&m), b"");
    a[offs[0] as usize + 30] = b'z'; // local name "z.npy"
    let e = get_err(&a, "a");
    assert!(
        matches!(&e, Error::Zip { reason, .. } if reason.contains("name")),
        "{e}"
    );
    assert_eq!(member_of(&e), Some("a.npy"));
    let (mut a, offs) = archive_with_offsets(std::slice::from_ref(&m), b"");
    a[offs[0] as usize + 8] = 8; // local method deflate
    let e = get_err(&a, "a");
    assert!(
        matches!(&e, Error::Zip { reason, .. } if reason.contains("method")),
        "{e}"
    );
    // local name length larger than the member's bytes
    let (mut a, offs) = archive_with_offsets(&[m], b"");
    a[offs[0] as usize + 26..offs[0] as usize + 28].copy_from_slice(&0xFFFFu16.to_le_bytes());
    let e = get_err(&a, "a");
    assert!(
        matches!(&e, Error::Zip { reason, .. } if reason.contains("runs into")),
        "{e}"
    );
    assert_eq!(member_of(&e), Some("a.npy"));
    assert_eq!(e.location().offset, Some(offs[0]));
}

#[test]
fn encrypted_and_unknown_method() {
    let data = npy("<i4", &[1], Order::C, &le(&[1i32]));
    let mut m = stored("a.npy", data.clone());
    m.flags |= FLAG_ENCRYPTED;
    let e = get_err(&archive(&[m]), "a");
    assert!(matches!(e, Error::Encrypted { .. }), "{e}");
    assert_eq!(member_of(&e), Some("a.npy"));
    let mut m = stored("a.npy", data);
    m.method = 12; // bzip2
    let bytes = archive(&[m]);
    let e = get_err(&bytes, "a");
    assert!(
        matches!(e, Error::UnsupportedCompression { method: 12, .. }),
        "{e}"
    );
    let (_d, p) = temp(&bytes);
    let r = NpzReader::open(&p).unwrap().verify();
    assert!(!r.is_ok());
    assert_eq!(r.errors().count(), 1);
}

#[test]
fn npy_header_past_member_and_wrong_lengths() {
    let full = npy("<f8", &[4], Order::C, &le(&[1.0f64; 4]));
    // header cut: the member holds only part of the NPY header
    let e = get_err(
        &archive(&[
            stored("a.npy", full[..40].to_vec()),
            stored("b.npy", full.clone()),
        ]),
        "a",
    );
    assert!(matches!(e, Error::Truncated { .. }), "{e}");
    assert_eq!(member_of(&e), Some("a.npy"));
    let short = full[..full.len() - 8].to_vec();
    let e = get_err(&archive(&[stored("a.npy", short)]), "a");
    assert!(
        matches!(
            e,
            Error::DataTooShort {
                expected: 32,
                actual: 24,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.location().offset.is_some());
    let mut long = full.clone();
    long.extend_from_slice(&[0; 8]);
    let e = get_err(&archive(&[stored("a.npy", long.clone())]), "a");
    assert!(matches!(e, Error::DataTooLong { .. }), "{e}");
    let e = get_err(&archive(&[deflated("a.npy", long)]), "a");
    assert!(matches!(e, Error::DataTooLong { .. }), "{e}");
}

#[test]
fn absurd_shapes_and_descriptors_are_quick_errors() {
    let t = std::time::Instant::now();
    let huge = npy("<f8", &[1 << 40, 1 << 20], Order::C, &[]);
    let e = get_err(&archive(&[stored("a.npy", huge)]), "a");
    assert!(
        matches!(e, Error::DataTooShort { .. } | Error::ShapeOverflow { .. }),
        "{e}"
    );
    let over = npy("<f8", &[u64::MAX / 2, 3], Order::C, &[]);
    let e = get_err(&archive(&[stored("a.npy", over)]), "a");
    assert!(matches!(e, Error::ShapeOverflow { .. }), "{e}");
    let mut bad = npy("<f8", &[1], Order::C, &[0; 8]);
    let pos = bad.windows(3).position(|w| w == b"<f8").unwrap();
    bad[pos..pos + 3].copy_from_slice(b"<q9");
    let e = get_err(&archive(&[stored("a.npy", bad)]), "a");
    assert!(
        matches!(e, Error::InvalidDescr { .. } | Error::InvalidHeader { .. }),
        "{e}"
    );
    let mut obj = npy("|u1", &[1], Order::C, &[0]);
    let pos = obj.windows(3).position(|w| w == b"|u1").unwrap();
    obj[pos..pos + 3].copy_from_slice(b"|O'");
    obj[pos + 3] = b',';
    let e = get_err(&archive(&[stored("a.npy", obj)]), "a");
    assert!(
        matches!(e, Error::ObjectArray { .. } | Error::InvalidHeader { .. }),
        "{e}"
    );
    // a tiny deflated member claiming a huge size: refused before allocating
    let mut m = deflated("a.npy", npy("<f8", &[1], Order::C, &[0; 8]));
    m.uncompressed = 1 << 40;
    m.flags |= FLAG_DATA_DESCRIPTOR; // local sizes are not authoritative
    let e = get_err(&archive(&[m]), "a");
    assert!(
        matches!(
            e,
            Error::DecompressionLimit { .. } | Error::DataTooLong { .. }
        ),
        "{e}"
    );
    let (_d, p) = temp(&archive(&[{
        let mut m = deflated("a.npy", npy("<f8", &[1], Order::C, &[0; 8]));
        m.uncompressed = 1 << 40;
        m.flags |= FLAG_DATA_DESCRIPTOR;
        m
    }]));
    let npz = NpzReader::open(&p).unwrap();
    assert!(matches!(
        npz.read_member("a"),
        Err(Error::DecompressionLimit { .. })
    ));
    assert!(t.elapsed().as_secs() < 5);
}

#[test]
fn zip_bomb_and_bad_crc() {
    // declared size smaller than the real output: more output is refused
    let big = npy("|u1", &[1_000_000], Order::C, &vec![0u8; 1_000_000]);
    let mut m = deflated("a.npy", big.clone());
    m.uncompressed = 1000;
    let (_d, p) = temp(&archive(&[m]));
    let npz = NpzReader::open(&p).unwrap();
    let e = npz.read_member("a").unwrap_err();
    assert!(
        matches!(e, Error::DecompressionLimit { limit: 1000, .. }),
        "{e}"
    );
    assert!(npz.get("a").is_err());
    // corrupt CRC
    let mut m = deflated("a.npy", npy("<i4", &[2], Order::C, &le(&[1i32, 2])));
    m.crc ^= 1;
    let (_d, p) = temp(&archive(&[m.clone()]));
    let npz = NpzReader::open(&p).unwrap();
    assert!(matches!(npz.get("a"), Err(Error::CrcMismatch { .. })));
    let mut s = stored("a.npy", npy("<i4", &[2], Order::C, &le(&[1i32, 2])));
    s.crc ^= 1;
    let (_d, p) = temp(&archive(&[s]));
    let npz = NpzReader::open(&p).unwrap();
    assert!(npz.get("a").is_ok()); // CRC of stored data is checked only on request
    let r = npz.verify();
    assert!(matches!(
        r.errors().next(),
        Some((_, Error::CrcMismatch { .. }))
    ));
    let npz = NpzReader::open_with(&p, ReaderOptions::new().verify_on_access(true)).unwrap();
    assert!(matches!(npz.get("a"), Err(Error::CrcMismatch { .. })));
}

#[test]
fn invalid_bools_are_errors() {
    let (_d, p) = temp(&archive(&[stored(
        "a.npy",
        npy("|b1", &[3], Order::C, &[1, 0, 7]),
    )]));
    let npz = NpzReader::open(&p).unwrap();
    assert!(matches!(
        npz.get_slice::<bool>("a"),
        Err(Error::InvalidBool { index: 2, .. })
    ));
}
