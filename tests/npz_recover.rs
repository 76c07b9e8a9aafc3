//! npz::recover: damaged archives and data descriptors (the SIGKILL crash
//! test of the writer is in tests/npz_crash.rs).

mod common;

use npzmap::npz::{NpzWriter, recover};
use npzmap::{DType, Header, Order};
use std::collections::BTreeMap;
use std::path::Path;

fn members(path: &Path) -> BTreeMap<String, Vec<u8>> {
    common::zip_members(path).into_iter().collect()
}

/// Deterministic content for entry `i`: (key, dtype descr, shape, bytes).
fn entry(i: u64) -> (String, Header, Vec<u8>) {
    let n = (i * 7919 % 5000) as usize + 1;
    let data: Vec<u8> = (0..n * 4)
        .map(|k| (k as u64).wrapping_mul(i + 3) as u8)
        .collect();
    let h = Header::for_array(DType::parse("<i4").unwrap(), vec![n as u64], Order::C);
    (format!("e{i}"), h, data)
}

#[test]
fn recovers_damaged_and_unfinished_archives() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npz");
    let mut w = NpzWriter::create(&path).unwrap();
    for i in 0..4 {
        let (k, h, d) = entry(i);
        w.write_bytes(&k, &h, &d).unwrap();
    }
    let mut s = w
        .begin("partial", DType::parse("<f8").unwrap(), &[2], Order::C)
        .unwrap();
    s.append(&[1.0f64, 2.0]).unwrap();
    std::mem::forget(s);
    w.sync().unwrap();
    std::mem::forget(w);
    let out = dir.path().join("out.npz");
    let r = recover(&path, &out).unwrap();
    assert_eq!(r.kept, ["e0.npy", "e1.npy", "e2.npy", "e3.npy"]);
    assert_eq!(r.dropped.len(), 1);
    assert_eq!(r.dropped[0].name, "partial.npy");
    assert!(
        r.dropped[0].reason.contains("never written"),
        "{:?}",
        r.dropped
    );
    assert_eq!(members(&out).len(), 4);
    // a flipped data byte: that member is dropped, the others kept
    let mut bytes = std::fs::read(&out).unwrap();
    let f = std::fs::File::open(&out).unwrap();
    let mut z = zip::ZipArchive::new(f).unwrap();
    let at = z.by_name("e1.npy").unwrap().data_start().unwrap() as usize + 200;
    bytes[at] ^= 0xff;
    let bad = dir.path().join("bad.npz");
    std::fs::write(&bad, &bytes).unwrap();
    let r = recover(&bad, dir.path().join("bad.fixed.npz")).unwrap();
    assert_eq!(r.kept, ["e0.npy", "e2.npy", "e3.npy"]);
    assert!(r.dropped[0].reason.contains("CRC"), "{:?}", r.dropped);
    // truncated anywhere: never panics, keeps a prefix of the members; a cut
    // before the end of the first member recovers nothing: an error naming
    // the input, and no output is written
    let e0_end = {
        let e0 = z.by_name("e0.npy").unwrap();
        (e0.data_start().unwrap() + e0.compressed_size()) as usize
    };
    for cut in (0..bytes.len()).step_by(97) {
        let t = dir.path().join("t.npz");
        std::fs::write(&t, &bytes[..cut]).unwrap();
        let tf = dir.path().join("t.fixed.npz");
        let _ = std::fs::remove_file(&tf);
        match recover(&t, &tf) {
            Ok(r) => {
                assert!(cut >= e0_end, "cut {cut}: kept {:?}", r.kept);
                assert!(!r.kept.is_empty() && r.kept.len() <= 4);
                assert_eq!(r.kept[0], "e0.npy");
            }
            Err(e) => {
                assert!(cut < e0_end, "cut {cut}: {e}");
                assert!(matches!(e, npzmap::Error::Unrecoverable { .. }), "{e:?}");
                assert_eq!(e.location().path.as_deref(), Some(t.as_path()));
                assert!(!tf.exists(), "cut {cut}: no output on failure");
            }
        }
    }
    // a healthy archive (with junk in front) recovers to the same members
    let mut junk = b"JUNK!PK\x03\x04".to_vec();
    junk.extend_from_slice(&std::fs::read(&out).unwrap());
    let j = dir.path().join("junk.npz");
    std::fs::write(&j, &junk).unwrap();
    let jf = dir.path().join("junk.fixed.npz");
    let r = recover(&j, &jf).unwrap();
    assert_eq!(r.kept.len(), 4);
    assert_eq!(members(&jf), members(&out));
    // recovering onto the input itself is refused
    assert!(recover(&j, &j).is_err());
}

#[test]
fn recovers_foreign_archives_with_data_descriptors() {
    let Some(py) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let make = r#"
import sys, os, io, zipfile, numpy as np
d = sys.argv[1]
class Unseekable(io.RawIOBase):
    def __init__(self, f): self.f = f
    def writable(self): return True
    def write(self, b): return self.f.write(b)
buf = io.BytesIO(); np.save(buf, np.arange(1000, dtype="<i8")); a = buf.getvalue()
buf = io.BytesIO(); np.save(buf, np.zeros((30, 30))); b = buf.getvalue()
# data that contains a descriptor signature
c = b"PK\x07\x08" + bytes(range(256)) * 10
with open(os.path.join(d, "stream.zip"), "wb") as raw:
    with zipfile.ZipFile(Unseekable(raw), "w") as z:
        z.writestr("a.npy", a)
        z.writestr(zipfile.ZipInfo("b.npy"), b, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("c.bin", c)
        with z.open("d.bin", "w", force_zip64=True) as f:
            f.write(c)
np.savez_compressed(os.path.join(d, "compressed.npz"), a=np.arange(1000), b=np.zeros((30, 30)))
"#;
    common::run(&py, make, &[&d]);
    for name in ["stream.zip", "compressed.npz"] {
        let p = d.join(name);
        let original = members(&p);
        let out = d.join(format!("{name}.fixed"));
        let r = recover(&p, &out).unwrap();
        assert!(r.dropped.is_empty(), "{name}: {r:?}");
        assert_eq!(members(&out), original, "{name}");
        common::run(
            &py,
            "import sys, zipfile; assert zipfile.ZipFile(sys.argv[1]).testzip() is None",
            &[&out],
        );
    }
}

/// Found by fuzzing (npz_recover): the comment of a damaged end record was
/// copied after the new one, and an end record signature inside it made the
/// recovered archive unreadable. The comment is now cut before it.
#[test]
fn recovered_comment_never_holds_an_end_record() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.npz");
    let mut w = NpzWriter::options().fsync(false).create(&p).unwrap();
    w.write("x", &[1u8, 2, 3], &[3], Order::C).unwrap();
    w.close().unwrap();
    let mut bytes = std::fs::read(&p).unwrap();
    // An end record whose comment holds another (plausible) end record that
    // ends where the file ends.
    let fake: Vec<u8> = [
        &b"PK\x05\x06"[..],
        &[0; 6],
        &[3, 0],
        &[0xa3, 0, 0, 0],
        &[0x28, 2, 0, 0],
        &[0, 0],
    ]
    .concat();
    let comment = [&b"junk"[..], &fake].concat();
    let n = bytes.len();
    bytes[n - 2..].copy_from_slice(&(comment.len() as u16).to_le_bytes());
    bytes.extend_from_slice(&comment);
    std::fs::write(&p, &bytes).unwrap();
    let out = dir.path().join("fixed.npz");
    let r = recover(&p, &out).unwrap();
    assert_eq!(r.kept, ["x.npy"]);
    let npz = npzmap::NpzReader::open(&out).unwrap();
    assert_eq!(npz.comment(), b"junk");
    assert_eq!(npz.get("x").unwrap().to_vec::<u8>().unwrap(), [1, 2, 3]);
}

/// Found by fuzzing (npz_recover): a member whose local header has sizes
/// and a CRC that check out, and the data descriptor flag, but no descriptor
/// after the data, was kept with the flag set; readers then looked for the
/// descriptor and `verify` failed on the recovered archive.
#[test]
fn kept_member_without_its_descriptor_loses_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.npz");
    let mut w = NpzWriter::options().fsync(false).create(&p).unwrap();
    w.write("x", &[1.5f64], &[1], Order::C).unwrap();
    w.write("y", &[7u8, 8], &[2], Order::C).unwrap();
    w.close().unwrap();
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[6] |= 0x08; // flag bit 3 on the first local header
    std::fs::write(&p, &bytes).unwrap();
    let out = dir.path().join("fixed.npz");
    let r = recover(&p, &out).unwrap();
    assert_eq!(r.kept, ["x.npy", "y.npy"]);
    let npz = npzmap::NpzReader::open(&out).unwrap();
    let v = npz.verify();
    assert!(v.is_ok(), "{:?}", v.errors().collect::<Vec<_>>());
    assert_eq!(npz.get("x").unwrap().to_vec::<f64>().unwrap(), [1.5]);
}

/// Found by fuzzing (npz_recover): a damaged central directory entry whose
/// lengths ran past the end of the file was passed over by scanning, but once
/// recovery had appended a directory it fitted, and the next recovery jumped
/// over the member behind it. Records are now never skipped past a local
/// header signature, so recovering a recovered archive keeps every member.
#[test]
fn recovery_is_idempotent_over_long_damaged_records() {
    use npzmap::unstable::zip::{CentralEntry, EndOfCentralDirectory};
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.npz");
    let mut w = NpzWriter::options()
        .fsync(false)
        .align(1)
        .create(&p)
        .unwrap();
    w.write("y", &[9u8], &[1], Order::C).unwrap();
    w.write("x", &[1u16, 2], &[2], Order::C).unwrap();
    w.close().unwrap();
    let whole = std::fs::read(&p).unwrap();
    let cd_start = EndOfCentralDirectory::find(&whole).unwrap().cd_start() as usize;
    let npz = npzmap::NpzReader::open(&p).unwrap();
    let x_at = npz.members().nth(1).unwrap().local_header_offset as usize;
    // y, then a central directory entry whose comment claims to run 30 bytes
    // past the end of the file, then x.
    let mut bytes = whole[..x_at].to_vec();
    let mut entry = Vec::new();
    CentralEntry::stored("n", 0, 0, 0).write(&mut entry);
    let claim = (cd_start - x_at + 30) as u16;
    entry[32..34].copy_from_slice(&claim.to_le_bytes());
    bytes.extend_from_slice(&entry);
    bytes.extend_from_slice(&whole[x_at..cd_start]);
    std::fs::write(&p, &bytes).unwrap();
    let (once, twice) = (dir.path().join("once.npz"), dir.path().join("twice.npz"));
    assert_eq!(recover(&p, &once).unwrap().kept, ["y.npy", "x.npy"]);
    assert_eq!(recover(&once, &twice).unwrap().kept, ["y.npy", "x.npy"]);
    let npz = npzmap::NpzReader::open(&twice).unwrap();
    assert_eq!(npz.get("x").unwrap().to_vec::<u16>().unwrap(), [1, 2]);
}

/// Found by fuzzing (npz_recover): a local header whose name ran past the
/// end of the file was dropped, but once recovery had appended a directory
/// the name fitted (names carry no CRC), and the next recovery kept it as a
/// member whose name swallowed the members behind it.
#[test]
fn a_name_never_swallows_members() {
    use npzmap::unstable::zip::{EndOfCentralDirectory, LocalHeader, LocalZip64};
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.npz");
    let mut w = NpzWriter::options()
        .fsync(false)
        .align(1)
        .create(&p)
        .unwrap();
    w.write("x", &[1u16, 2], &[2], Order::C).unwrap();
    w.close().unwrap();
    let whole = std::fs::read(&p).unwrap();
    let members = &whole[..EndOfCentralDirectory::find(&whole).unwrap().cd_start() as usize];
    // An empty stored member whose name claims to run 10 bytes past the end
    // of the file (no directory: as a crashed writer leaves it).
    let mut bytes = Vec::new();
    LocalHeader::stored("n", 0, 0, LocalZip64::No, 0).write(&mut bytes);
    let claim = (members.len() + 10) as u16;
    bytes[26..28].copy_from_slice(&claim.to_le_bytes());
    bytes.truncate(30);
    bytes.extend_from_slice(members);
    std::fs::write(&p, &bytes).unwrap();
    let (once, twice) = (dir.path().join("once.npz"), dir.path().join("twice.npz"));
    assert_eq!(recover(&p, &once).unwrap().kept, ["x.npy"]);
    assert_eq!(recover(&once, &twice).unwrap().kept, ["x.npy"]);
}

/// A kept member whose DOS time and date read `PK\x03\x04`: its directory
/// entry (in the input, and the one recovery writes) holds that signature,
/// and is skipped as a directory entry, not scanned as a broken member.
/// Before the fix each such entry was reported as a dropped member (fuzz
/// seed `second-recover-central-holds-local-sig`).
#[test]
fn a_signature_in_a_kept_members_directory_entry_is_not_a_member() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npz");
    let mut w = NpzWriter::create(&path).unwrap();
    let (_, h, d) = entry(1);
    w.write_bytes("x", &h, &d).unwrap();
    w.write_bytes("y", &h, &d).unwrap();
    w.close().unwrap();
    // Time and date are not covered by the CRC: set them to the signature
    // bytes in both local headers and both directory entries.
    let mut bytes = std::fs::read(&path).unwrap();
    let z = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    let cd = z.central_directory_start();
    let sig = *b"PK\x03\x04";
    let locals: Vec<usize> = (0..2)
        .map(|i| {
            let mut z = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
            z.by_index(i).unwrap().header_start() as usize
        })
        .collect();
    for at in &locals {
        bytes[at + 10..at + 14].copy_from_slice(&sig);
    }
    let mut at = cd as usize;
    for _ in 0..2 {
        bytes[at + 12..at + 16].copy_from_slice(&sig);
        let n = |o: usize| u16::from_le_bytes([bytes[at + o], bytes[at + o + 1]]) as usize;
        at += 46 + n(28) + n(30) + n(32);
    }
    std::fs::write(&path, &bytes).unwrap();
    let out = dir.path().join("out.npz");
    let r = recover(&path, &out).unwrap();
    assert_eq!(r.kept, ["x.npy", "y.npy"]);
    assert_eq!(r.dropped, []);
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    // Recovering recovery's output finds the same, and changes nothing.
    let once = std::fs::read(&out).unwrap();
    let again = recover::recover_in_place(&out).unwrap();
    assert_eq!(again.kept, r.kept);
    assert_eq!(again.dropped, []);
    assert_eq!(std::fs::read(&out).unwrap(), once);
    assert_eq!(members(&out), members(&path));
}

/// A streamed stored member `a.npy` (flag bit 3, zeros in the local header)
/// holding `npy`, whose data descriptor has 8-byte sizes though its local
/// header has no ZIP64 extra field (`crc` goes in the descriptor).
fn zip64_width_descriptor_archive(npy: &[u8], crc: u32) -> Vec<u8> {
    use npzmap::unstable::zip::{
        CentralEntry, FLAG_DATA_DESCRIPTOR, LocalHeader, LocalZip64, write_end_records,
    };
    let mut z = Vec::new();
    LocalHeader::stored("a.npy", 0, 0, LocalZip64::No, 0).write(&mut z);
    z[6] |= FLAG_DATA_DESCRIPTOR as u8;
    z.extend_from_slice(npy);
    z.extend_from_slice(b"PK\x07\x08");
    z.extend_from_slice(&crc.to_le_bytes());
    z.extend_from_slice(&(npy.len() as u64).to_le_bytes());
    z.extend_from_slice(&(npy.len() as u64).to_le_bytes());
    let cd = z.len() as u64;
    let mut e = CentralEntry::stored("a.npy", crc32fast::hash(npy), npy.len() as u64, 0);
    e.flags |= FLAG_DATA_DESCRIPTOR;
    e.write(&mut z);
    let cd_len = z.len() as u64 - cd;
    write_end_records(&mut z, 1, cd, cd_len, b"");
    z
}

/// Found by fuzzing (npz_recover): recovery accepted a data descriptor in
/// either width (as Go's and Python's readers do), but `verify` read it only
/// with 4-byte sizes when no ZIP64 extra field was present, so a member
/// recovered with an 8-byte-size descriptor failed `verify` on the output.
/// Both now accept either width, by one rule (`DataDescriptor::matching`).
#[test]
fn a_zip64_width_descriptor_without_zip64_extra_verifies_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let (_, h, d) = entry(2);
    let mut npy = h.to_bytes().unwrap();
    npy.extend_from_slice(&d);
    let p = dir.path().join("a.npz");
    std::fs::write(
        &p,
        zip64_width_descriptor_archive(&npy, crc32fast::hash(&npy)),
    )
    .unwrap();
    let npz = npzmap::NpzReader::open(&p).unwrap();
    let v = npz.verify();
    assert!(v.is_ok(), "{:?}", v.errors().collect::<Vec<_>>());
    assert_eq!(npz.get("a").unwrap().as_bytes(), &d[..]);
    drop(npz);
    let out = dir.path().join("fixed.npz");
    let r = recover(&p, &out).unwrap();
    assert_eq!(r.kept, ["a.npy"]);
    assert_eq!(r.dropped, []);
    let fixed = npzmap::NpzReader::open(&out).unwrap();
    let v = fixed.verify();
    assert!(v.is_ok(), "{:?}", v.errors().collect::<Vec<_>>());
    assert_eq!(members(&out)["a.npy"], npy);

    // A descriptor that matches in neither width is still an error.
    let bad = dir.path().join("bad.npz");
    std::fs::write(&bad, zip64_width_descriptor_archive(&npy, 0x1234_5678)).unwrap();
    let npz = npzmap::NpzReader::open(&bad).unwrap();
    let errors: Vec<_> = npz.verify().errors().map(|(_, e)| e.to_string()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("data descriptor disagrees"),
        "{errors:?}"
    );
}

/// An archive with one stored member per `(name, npy bytes)`, written by the
/// zip crate (as another writer, numpy's zipfile say, would write it).
fn zip_crate_archive(members: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in members {
        z.start_file(*name, o).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap().into_inner()
}

/// Found by fuzzing (npz_roundtrip): a member whose name holds a local
/// header signature (`np.savez(f, **{"PK\x03\x04": a})` writes one) was
/// taken for a damaged header, and recovering the complete archive dropped
/// it and every member whose header its directory entry seemed to hold.
/// A name the archive's intact central directory confirms (same offset,
/// same name, the member ending before the next one begins) is kept.
#[test]
fn a_name_holding_a_local_header_signature_survives_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let npy = |i: u64| {
        let (_, h, d) = entry(i);
        let mut b = h.to_bytes().unwrap();
        b.extend_from_slice(&d);
        b
    };
    let (a, b, c) = (npy(1), npy(2), npy(3));
    let names = ["a.npy", "PK\x03\x04\x04\x01.npy", "c.npy"];
    let p = dir.path().join("a.npz");
    std::fs::write(
        &p,
        zip_crate_archive(&[(names[0], &a), (names[1], &b), (names[2], &c)]),
    )
    .unwrap();
    let out = dir.path().join("fixed.npz");
    let r = recover(&p, &out).unwrap();
    assert_eq!(r.dropped, []);
    assert_eq!(r.kept, names);
    let got = members(&out);
    assert_eq!(got[names[0]], a);
    assert_eq!(got[names[1]], b);
    assert_eq!(got[names[2]], c);
    // And again: the recovered archive's directory confirms it as well.
    let twice = dir.path().join("twice.npz");
    assert_eq!(recover(&out, &twice).unwrap().kept, names);

    // Without a directory (a writer killed before closing) the name is not
    // confirmed: it is dropped, said so, and the members after it are kept.
    let whole = std::fs::read(&p).unwrap();
    let cd = npzmap::unstable::zip::EndOfCentralDirectory::find(&whole)
        .unwrap()
        .cd_start() as usize;
    let cut = dir.path().join("cut.npz");
    std::fs::write(&cut, &whole[..cd]).unwrap();
    let r = recover(&cut, dir.path().join("cut-fixed.npz")).unwrap();
    assert_eq!(r.kept, [names[0], names[2]]);
    assert_eq!(r.dropped[0].name, names[1]);
    let reason = "local header name or extra field holds a local header signature";
    assert_eq!(r.dropped[0].reason, reason);
    // What follows the dropped header's signature is scanned again: the
    // signature in its name is reported too, a header that swallows `c`.
    let c_at = whole
        .windows(9)
        .position(|w| w == b"\x05\0\0\0c.npy")
        .unwrap()
        - 26;
    assert_eq!(&whole[c_at..c_at + 4], b"PK\x03\x04");
    assert_eq!(r.dropped.len(), 2, "{:?}", r.dropped);
    assert_eq!(r.dropped[1].offset, r.dropped[0].offset + 30);
    assert_eq!(r.dropped[1].reason, reason);
    assert!(r.dropped[1].offset < c_at as u64);
}

/// A streamed member's local header keeps its sizes in a ZIP64 extra. A
/// member of 0x04034b50 bytes (67,324,752: the signature `PK\x03\x04` read
/// as a number) has those bytes in its extra field, and recovery used to
/// drop it as a damaged header, from a complete archive and after a crash.
#[test]
fn a_streamed_member_whose_size_spells_the_signature_is_kept() {
    const SIZE: u64 = 0x0403_4b50;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.npz");
    let u1 = DType::parse("|u1").unwrap();
    let write = |data_len: u64| {
        let _ = std::fs::remove_file(&p);
        let mut w = NpzWriter::options().fsync(false).create(&p).unwrap();
        w.write("a", &[1u16, 2], &[2], Order::C).unwrap();
        let mut s = w.begin("s", u1.clone(), &[], Order::C).unwrap();
        let chunk = vec![7u8; 1 << 20];
        let mut left = data_len;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            s.append_bytes(&chunk[..n]).unwrap();
            left -= n as u64;
        }
        s.finish().unwrap();
        w.write("z", &[3u16], &[1], Order::C).unwrap();
        w.close().unwrap();
        let npz = npzmap::NpzReader::open(&p).unwrap();
        npz.members()
            .find(|m| m.name == "s.npy")
            .unwrap()
            .uncompressed_size
    };
    // The npy header's length: the member's size less its data.
    let header_len = write(1) - 1;
    assert_eq!(write(SIZE - header_len), SIZE);
    let names = ["a.npy", "s.npy", "z.npy"];
    let out = dir.path().join("fixed.npz");
    let r = recover(&p, &out).unwrap();
    assert_eq!(r.dropped, []);
    assert_eq!(r.kept, names);
    // After a crash (no directory), too.
    let whole = std::fs::read(&p).unwrap();
    let cd = npzmap::unstable::zip::EndOfCentralDirectory::find(&whole)
        .unwrap()
        .cd_start() as usize;
    std::fs::write(&p, &whole[..cd]).unwrap();
    let r = recover(&p, &out).unwrap();
    assert_eq!(r.dropped, []);
    assert_eq!(r.kept, names);
    let npz = npzmap::NpzReader::open(&out).unwrap();
    assert_eq!(npz.get("s").unwrap().len() as u64, SIZE - header_len);
}
