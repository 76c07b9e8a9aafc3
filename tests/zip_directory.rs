//! The one central-directory walker (`src/zip/directory.rs`): the reader,
//! the appender and recovery agree on every archive whose end-record count,
//! ZIP64 count and directory size disagree, and an archive whose 16-bit
//! count wrapped (more than 65,535 entries without ZIP64 records) keeps all
//! its entries through read, append, recover and verify.

mod common;

use npzmap::npz::reader::NpzReader;
use npzmap::npz::recover::recover;
use npzmap::npz::writer::NpzWriter;
use npzmap::unstable::zip::*;
use npzmap::{Error, Order};
use std::path::Path;
use std::process::Command;

const N: usize = 70_000;

/// Strips the ZIP64 end record and locator of an archive written by
/// Python's zipfile (no comment) and puts `count % 65536` into the end
/// record's two count fields, as writers without ZIP64 support do.
fn strip_zip64(bytes: &mut Vec<u8>, count: u64) {
    let eocd = bytes.len() - EOCD_LEN;
    assert_eq!(bytes[eocd..eocd + 4], EOCD_SIG.to_le_bytes());
    let loc = eocd - ZIP64_LOCATOR_LEN;
    let rec = loc - ZIP64_EOCD_LEN;
    assert_eq!(bytes[loc..loc + 4], ZIP64_LOCATOR_SIG.to_le_bytes());
    assert_eq!(bytes[rec..rec + 4], ZIP64_EOCD_SIG.to_le_bytes());
    let mut end = bytes[eocd..].to_vec();
    let wrapped = (count % 0x1_0000) as u16;
    end[8..10].copy_from_slice(&wrapped.to_le_bytes());
    end[10..12].copy_from_slice(&wrapped.to_le_bytes());
    bytes.truncate(rec);
    bytes.extend_from_slice(&end);
}

/// 70,000 members `e{i}.npy` holding `[i]` (int64), written by Python's
/// zipfile, with the ZIP64 end records stripped (count 70000 % 65536).
fn wrapped_archive(py: &Path, path: &Path) {
    common::run(
        py,
        r#"
import io, sys, zipfile, numpy as np
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED) as z:
    for i in range(int(sys.argv[2])):
        b = io.BytesIO()
        np.save(b, np.array([i], dtype="<i8"))
        z.writestr(f"e{i}.npy", b.getvalue())
"#,
        &[&path, &N.to_string()],
    );
    let mut bytes = std::fs::read(path).unwrap();
    strip_zip64(&mut bytes, N as u64);
    std::fs::write(path, &bytes).unwrap();
    // The archive really is the broken kind: the end record says 4464.
    let end = EndOfCentralDirectory::find(&bytes).unwrap();
    assert_eq!(end.entries, (N % 65_536) as u64);
    assert_eq!(end.zip64_offset, None);
}

/// Python zipfile's view: (number of entries, testzip() result).
fn python_count(py: &Path, path: &Path) -> String {
    common::run(
        py,
        "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nprint(len(z.namelist()), z.testzip())",
        &[&path],
    )
    .trim()
    .to_string()
}

fn zip_crate_len(path: &Path) -> usize {
    let f = std::fs::File::open(path).unwrap();
    zip::ZipArchive::new(f).expect("zip crate opens").len()
}

#[test]
fn wrapped_count_archive_keeps_every_entry() {
    let Some(py) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wrapped.npz");
    wrapped_archive(&py, &path);
    assert_eq!(python_count(&py, &path), format!("{N} None"));

    // read: every key, in order, with its value
    let r = NpzReader::open(&path).unwrap();
    assert_eq!(r.len(), N as u64);
    for (i, k) in r.keys().enumerate() {
        assert_eq!(k, format!("e{i}"));
    }
    assert_eq!(r.get("e69999").unwrap().to_vec::<i64>().unwrap(), [69_999]);
    assert_eq!(r.get("e4464").unwrap().to_vec::<i64>().unwrap(), [4_464]);

    // verify: every member checks out
    let report = r.verify();
    assert_eq!(report.members.len(), N);
    assert!(report.is_ok());
    drop(r);

    // recover: every member kept, none dropped
    let fixed = dir.path().join("fixed.npz");
    let rep = recover(&path, &fixed).unwrap();
    assert_eq!(rep.kept.len(), N);
    assert!(rep.dropped.is_empty(), "{:?}", &rep.dropped[..1]);
    assert_eq!(NpzReader::open(&fixed).unwrap().len(), N as u64);

    // append: 70,001 entries for us, Python's zipfile and the zip crate
    let mut w = NpzWriter::append(&path).unwrap();
    assert_eq!(w.len(), N as u64);
    w.write("new", &[7i64], &[1], Order::C).unwrap();
    w.close().unwrap();
    assert_eq!(python_count(&py, &path), format!("{} None", N + 1));
    assert_eq!(zip_crate_len(&path), N + 1);
    let r = NpzReader::open(&path).unwrap();
    assert_eq!(r.len(), N as u64 + 1);
    assert_eq!(r.get("e0").unwrap().to_vec::<i64>().unwrap(), [0]);
    assert_eq!(r.get("e69999").unwrap().to_vec::<i64>().unwrap(), [69_999]);
    assert_eq!(r.get("new").unwrap().to_vec::<i64>().unwrap(), [7]);
    // the appended archive has a ZIP64 end record with the exact count
    let bytes = std::fs::read(&path).unwrap();
    let end = EndOfCentralDirectory::find(&bytes).unwrap();
    assert_eq!(end.entries, (N + 1) as u64);
    assert!(end.zip64_offset.is_some());

    // the CLI lists all of them
    let o = Command::new(env!("CARGO_BIN_EXE_npzmap"))
        .args(["ls", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), N + 1);
}

/// Three stored members and their directory, with the pieces' offsets.
struct Parts {
    bytes: Vec<u8>,
    cd_offset: u64,
    cd_size: u64,
    first_entry_len: u64,
}

fn three_members() -> Parts {
    let mut out = Vec::new();
    let mut cds = Vec::new();
    for (name, data) in [("a.npy", &b"hello"[..]), ("b.npy", b"world!"), ("c", b"x")] {
        let off = out.len() as u64;
        let crc = crc32fast::hash(data);
        LocalHeader::stored(name, crc, data.len() as u64, LocalZip64::No, 0).write(&mut out);
        out.extend_from_slice(data);
        cds.push(CentralEntry::stored(name, crc, data.len() as u64, off));
    }
    let cd_offset = out.len() as u64;
    for c in &cds {
        c.write(&mut out);
    }
    Parts {
        cd_size: out.len() as u64 - cd_offset,
        cd_offset,
        first_entry_len: cds[0].len(),
        bytes: out,
    }
}

/// The end of an archive: optionally a ZIP64 record (and locator) with
/// `zip64 = (count, size, offset)`, then an EOCD with `(count, size, offset)`.
fn ended(p: &Parts, zip64: Option<(u64, u64, u64)>, eocd: (u16, u32, u32)) -> Vec<u8> {
    let mut out = p.bytes.clone();
    if let Some((count, size, offset)) = zip64 {
        let z_at = out.len() as u64;
        out.extend_from_slice(&ZIP64_EOCD_SIG.to_le_bytes());
        out.extend_from_slice(&44u64.to_le_bytes());
        out.extend_from_slice(&((3u16 << 8) | 45).to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&ZIP64_LOCATOR_SIG.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&z_at.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    out.extend_from_slice(&EOCD_SIG.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&eocd.0.to_le_bytes());
    out.extend_from_slice(&eocd.0.to_le_bytes());
    out.extend_from_slice(&eocd.1.to_le_bytes());
    out.extend_from_slice(&eocd.2.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// The member names read, in order.
    Entries(Vec<String>),
    /// `Error::Zip` with this reason.
    Zip(String),
}

fn outcome(r: npzmap::Result<Vec<String>>) -> Outcome {
    match r {
        Ok(names) => Outcome::Entries(names),
        Err(Error::Zip { reason, .. }) => Outcome::Zip(reason),
        Err(e) => panic!("expected Ok or Error::Zip, got {e:?}"),
    }
}

fn reader_sees(path: &Path) -> Outcome {
    outcome(NpzReader::open(path).map(|r| r.members().map(|m| m.name.to_string()).collect()))
}

/// Appends member `z` (then reads the result back), or fails; on failure
/// the file must be unchanged.
fn appender_sees(path: &Path) -> Outcome {
    let before = std::fs::read(path).unwrap();
    let r = NpzWriter::append(path).and_then(|mut w| {
        w.write("z", &[1u8], &[1], Order::C)?;
        w.close()
    });
    match r {
        Ok(()) => {
            let names = NpzReader::open(path)
                .unwrap()
                .members()
                .map(|m| m.name.to_string())
                .filter(|n| n != "z.npy")
                .collect();
            std::fs::write(path, &before).unwrap();
            Outcome::Entries(names)
        }
        Err(e) => {
            assert_eq!(
                std::fs::read(path).unwrap(),
                before,
                "failed append changed the file"
            );
            outcome(Err(e))
        }
    }
}

/// Every case: (description, archive bytes, expected reader/appender outcome).
fn cases() -> Vec<(&'static str, Vec<u8>, Outcome)> {
    let p = three_members();
    let (off, size) = (p.cd_offset as u32, p.cd_size as u32);
    let all = Outcome::Entries(vec!["a.npy".into(), "b.npy".into(), "c".into()]);
    let count = |said: u64, held: u64, kind: &str| {
        Outcome::Zip(format!(
            "end record announces {said} entries, the central directory holds {held} ({kind})"
        ))
    };
    let c16 = "16-bit count: compared modulo 65536";
    let sig = Outcome::Zip("bad central directory entry signature".into());
    let e1 = p.first_entry_len as u32;
    vec![
        ("consistent", ended(&p, None, (3, size, off)), all.clone()),
        (
            "EOCD count low",
            ended(&p, None, (2, size, off)),
            count(2, 3, c16),
        ),
        (
            "EOCD count high",
            ended(&p, None, (4, size, off)),
            count(4, 3, c16),
        ),
        (
            "EOCD count 0",
            ended(&p, None, (0, size, off)),
            count(0, 3, c16),
        ),
        (
            "size larger (directory would start in member data)",
            ended(&p, None, (3, size + 10, off - 10)),
            sig.clone(),
        ),
        (
            "size larger than the offset allows",
            ended(&p, None, (3, size + 10, off)),
            Outcome::Zip("central directory offset points past its end".into()),
        ),
        (
            "size smaller (directory would start inside an entry)",
            ended(&p, None, (3, size - 10, off + 10)),
            sig.clone(),
        ),
        (
            "size smaller by one entry: two walked, three announced",
            ended(&p, None, (3, size - e1, off + e1)),
            count(3, 2, c16),
        ),
        (
            "size smaller, offset kept (last entry runs past the directory)",
            ended(&p, None, (3, size - 10, off)),
            sig.clone(),
        ),
        (
            "ZIP64 consistent, EOCD saturated",
            ended(&p, Some((3, p.cd_size, p.cd_offset)), (0xFFFF, size, off)),
            all.clone(),
        ),
        (
            "ZIP64 consistent, EOCD count wrapped the same",
            ended(&p, Some((3, p.cd_size, p.cd_offset)), (3, size, off)),
            all.clone(),
        ),
        (
            "ZIP64 count low, EOCD saturated",
            ended(&p, Some((2, p.cd_size, p.cd_offset)), (0xFFFF, size, off)),
            count(2, 3, "ZIP64 count"),
        ),
        (
            "ZIP64 count high by 65536 (agrees modulo with EOCD)",
            ended(
                &p,
                Some((3 + 65_536, p.cd_size, p.cd_offset)),
                (3, size, off),
            ),
            count(3 + 65_536, 3, "ZIP64 count"),
        ),
        (
            // A ZIP64 record that contradicts an unsaturated EOCD is ignored;
            // the EOCD's size then places the directory 76 bytes late.
            "ZIP64 count contradicts EOCD",
            ended(&p, Some((5, p.cd_size, p.cd_offset)), (3, size, off)),
            sig.clone(),
        ),
        (
            "ZIP64 size low, EOCD saturated",
            ended(
                &p,
                Some((3, p.cd_size - 10, p.cd_offset + 10)),
                (0xFFFF, u32::MAX, u32::MAX),
            ),
            sig.clone(),
        ),
        (
            "ZIP64 size high, EOCD saturated",
            ended(
                &p,
                Some((3, p.cd_size + 10, p.cd_offset - 10)),
                (0xFFFF, u32::MAX, u32::MAX),
            ),
            sig,
        ),
    ]
}

#[test]
fn disagreeing_counts_and_sizes_one_outcome_for_reader_and_appender() {
    let dir = tempfile::tempdir().unwrap();
    for (what, bytes, want) in cases() {
        let path = dir.path().join("case.npz");
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(reader_sees(&path), want, "reader: {what}");
        assert_eq!(appender_sees(&path), want, "appender: {what}");
        // The walker itself, on the bytes in memory.
        let walked = EndOfCentralDirectory::find(&bytes).and_then(|end| {
            central_entries(&bytes, &end)
                .map(|e| e.map(|e| e.decoded_name().into_owned()))
                .collect::<npzmap::Result<Vec<_>>>()
        });
        assert_eq!(outcome(walked), want, "walker: {what}");
        // Recovery does not trust a directory: it rebuilds one from the
        // local headers, and keeps every member whatever the end says.
        let out = dir.path().join("fixed.npz");
        let rep = recover(&path, &out).unwrap();
        assert_eq!(rep.kept, ["a.npy", "b.npy", "c"], "recover: {what}");
        assert!(rep.dropped.is_empty(), "recover: {what}: {:?}", rep.dropped);
        assert_eq!(
            reader_sees(&out),
            Outcome::Entries(vec!["a.npy".into(), "b.npy".into(), "c".into()])
        );
    }
}

#[test]
fn names_decode_the_same_for_reader_and_appender() {
    // "\x82.npy" without the UTF-8 flag is "é.npy" (cp437): appending
    // "é" must be refused as a duplicate, as the reader sees that key.
    let mut out = Vec::new();
    let data = b"x";
    let crc = crc32fast::hash(data);
    LocalHeader::stored("_.npy", crc, 1, LocalZip64::No, 0).write(&mut out);
    out[30] = 0x82; // the name's first byte, flags stay 0
    out.extend_from_slice(data);
    let mut e = CentralEntry::stored("_.npy", crc, 1, 0);
    e.name[0] = 0x82;
    let cd = out.len() as u64;
    e.write(&mut out);
    let size = out.len() as u64 - cd;
    write_end_records(&mut out, 1, cd, size, b"");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cp437.npz");
    std::fs::write(&path, &out).unwrap();
    let r = NpzReader::open(&path).unwrap();
    assert_eq!(r.members().next().unwrap().name, "é.npy");
    let mut w = NpzWriter::append(&path).unwrap();
    assert!(w.contains("é"));
    assert!(matches!(
        w.write("é", &[1u8], &[1], Order::C),
        Err(Error::DuplicateName { .. })
    ));
}
