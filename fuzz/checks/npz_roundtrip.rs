//! Arbitrary arrays through `NpzWriter` -> `NpzReader` (issue #4), then
//! through `npz::recover`, whole and cut at an input-chosen offset.
//!
//! The input chooses the writer options and a list of members: key, dtype
//! (from a menu including structured, big-endian, string and datetime
//! dtypes), shape, order, bytes, and whether the member is written at once
//! or streamed row by row (sometimes with a bad append or a dropped,
//! unfinished member, both of which must leave no trace). Properties:
//!
//! * the archive reads back, from the file and from memory, with exactly the
//!   members whose writes succeeded, each with its header and bytes, data
//!   aligned as asked, and `verify` passes;
//! * `recover` of the complete file keeps every member, in order, and the
//!   result reads back bit-identical;
//! * `recover` of a truncated copy never panics, keeps (in order) every
//!   member that ends before the cut, and whatever it keeps reads back and
//!   verifies. (It may keep more: a member's data may itself contain a
//!   valid zip member, which the resynchronising scan rightly finds.)
//!
//! Shared by the cargo-fuzz target `fuzz_targets/npz_roundtrip.rs` and the stable
//! replay of the committed corpus (`tests/fuzz_corpus.rs`).

use arbitrary::{Result as AResult, Unstructured};
use npzmap::npz::key_of;
use npzmap::npz::reader::NpzReader;
use npzmap::npz::recover::recover;
use npzmap::npz::writer::NpzWriter;
use npzmap::unstable::zip::EndOfCentralDirectory;
use npzmap::{DType, Header, Order};
use std::collections::HashMap;
use std::path::PathBuf;

const DESCRS: &[&str] = &[
    "<f8",
    ">f8",
    "<i4",
    ">i2",
    "|u1",
    "|i1",
    "|b1",
    ">u8",
    "<f2",
    "<c16",
    ">c8",
    "<U3",
    ">U1",
    "|S5",
    "|V3",
    "<M8[ms]",
    ">m8[3h]",
    "[('a', '<i2'), ('b', '>f8', (2,))]",
    "[('x', '|u1'), ('y', [('z', '>i4')], (1, 2)), ('s', '|S2')]",
    "{'names': ['a', 'b'], 'formats': ['|u1', '<i8'], 'offsets': [0, 8], 'itemsize': 16}",
];

const KEYS: &[&str] = &[
    "a",
    "b",
    "a.npy",
    "x/y",
    "é€",
    "arr_0",
    "b.npy.npy",
    "c.txt",
];

/// A scratch directory that is removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!(
            "npzmap-fuzz-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What was written: member name, header, array bytes.
type Written = Vec<(String, Header, Vec<u8>)>;

fn bytes(u: &mut Unstructured<'_>, n: u64) -> AResult<Vec<u8>> {
    let n = n as usize;
    let mut v = Vec::with_capacity(n);
    let take = u.len().min(n);
    v.extend_from_slice(u.bytes(take)?);
    // Fill the rest with a pattern: sizes matter more than contents.
    v.extend((v.len()..n).map(|i| i as u8));
    Ok(v)
}

fn write_all(u: &mut Unstructured<'_>, w: &mut NpzWriter, dups: bool) -> AResult<Written> {
    let mut out: Written = Vec::new();
    let n = u.int_in_range(0..=6)?;
    for _ in 0..n {
        let key = if u.ratio(1, 8)? {
            let n = u.int_in_range(0..=6)?;
            String::from_utf8_lossy(u.bytes(n)?).into_owned()
        } else {
            u.choose(KEYS)?.to_string()
        };
        let Ok(dtype) = DType::parse(u.choose(DESCRS)?) else {
            continue;
        };
        let ndim = u.int_in_range(0..=3)?;
        let mut shape = Vec::with_capacity(ndim);
        for _ in 0..ndim {
            shape.push(u.int_in_range(0..=5)?);
        }
        let order = if u.arbitrary()? {
            Order::Fortran
        } else {
            Order::C
        };
        let member = npzmap::npz::member_name(&key);
        let taken = out.iter().any(|(m, ..)| *m == member);
        let streamed = ndim > 0 && u.ratio(1, 3)?;
        if !streamed {
            let header = Header::for_array(dtype, shape, order);
            let len = header.data_len().unwrap();
            let data = bytes(u, len)?;
            let r = w.write_bytes(&key, &header, &data);
            let valid = !key.is_empty()
                && !key.contains('\0')
                && !key.contains("PK\x03\x04")
                && (dups || !taken);
            assert_eq!(r.is_ok(), valid, "write {key:?}: {r:?}");
            if r.is_ok() {
                out.push((member, header, data));
            }
            continue;
        }
        // Streamed: the growth axis is the first (C) or last (Fortran).
        let tail: Vec<u64> = if order == Order::Fortran {
            shape[..ndim - 1].to_vec()
        } else {
            shape[1..].to_vec()
        };
        let Ok(mut e) = w.begin(&key, dtype.clone(), &tail, order) else {
            continue;
        };
        let row = dtype.itemsize() * tail.iter().product::<u64>();
        let mut data = Vec::new();
        let mut ok = true;
        for _ in 0..u.int_in_range(0..=3)? {
            let rows = u.int_in_range(0..=3)?;
            let mut chunk = bytes(u, rows * row)?;
            if u.ratio(1, 16)? {
                chunk.push(0); // not a whole row: the member is removed
            }
            let r = e.append_bytes(&chunk);
            if !(chunk.len() as u64).is_multiple_of(row) {
                assert!(r.is_err());
                ok = false;
                break;
            }
            r.unwrap();
            data.extend_from_slice(&chunk);
        }
        if !ok || u.ratio(1, 16)? {
            drop(e); // unfinished: removed
            continue;
        }
        let rows = e.finish().unwrap();
        let mut full = tail;
        if order == Order::Fortran {
            full.push(rows);
        } else {
            full.insert(0, rows);
        }
        out.push((member, Header::for_array(dtype, full, order), data));
    }
    Ok(out)
}

/// The archive holds exactly `expect` (last duplicate wins), and verifies.
fn check(npz: &NpzReader, expect: &[(String, Header, Vec<u8>)], base: Option<(usize, u64)>) {
    let mut live: HashMap<&str, usize> = HashMap::new();
    for (i, (m, ..)) in expect.iter().enumerate() {
        live.insert(key_of(m), i);
    }
    assert_eq!(npz.len(), live.len() as u64, "key count");
    assert_eq!(npz.members().len(), expect.len(), "member count");
    for (m, info) in expect.iter().zip(npz.members()) {
        assert_eq!(m.0, info.name, "member order");
    }
    for (key, &i) in &live {
        let (m, header, data) = &expect[i];
        let v = npz.get(key).unwrap_or_else(|e| panic!("get {m}: {e}"));
        assert_eq!(v.header(), header, "header of {m}");
        assert_eq!(v.as_bytes(), &data[..], "bytes of {m}");
        if let Some((ptr, align)) = base
            && !data.is_empty()
        {
            let off = v.as_bytes().as_ptr() as usize - ptr;
            assert_eq!(off as u64 % align.min(64), 0, "alignment of {m}");
        }
        let n = npz.get_native(key).unwrap();
        assert_eq!(n.as_bytes(), v.to_native_bytes().unwrap().as_slice());
    }
    let report = npz.verify();
    assert!(
        report.is_ok(),
        "verify: {:?}",
        report.errors().collect::<Vec<_>>()
    );
}

fn run(u: &mut Unstructured<'_>) -> AResult<()> {
    let scratch = Scratch::new();
    let path = scratch.0.join("a.npz");
    let align = *u.choose(&[1u64, 2, 8, 64, 4096])?;
    let dups = u.ratio(1, 4)?;
    let mut w = NpzWriter::options()
        .align(align)
        .allow_duplicates(dups)
        .fsync(false)
        .create(&path)
        .unwrap();
    let expect = write_all(u, &mut w, dups)?;
    w.close().unwrap();

    let file = std::fs::read(&path).unwrap();
    check(&NpzReader::open(&path).unwrap(), &expect, None);
    let copy = file.clone();
    let ptr = copy.as_ptr() as usize; // the Vec's buffer does not move
    check(
        &NpzReader::from_bytes(copy).unwrap(),
        &expect,
        Some((ptr, align)),
    );

    // Recover the complete file: everything is kept, bit-identical.
    let fixed = scratch.0.join("fixed.npz");
    let report = match recover(&path, &fixed) {
        Ok(r) => r,
        Err(npzmap::Error::Unrecoverable { .. }) if expect.is_empty() => {
            // Nothing to keep: no output is written.
            assert!(!fixed.exists(), "output written though nothing was kept");
            return Ok(());
        }
        Err(e) => panic!("recover of a complete archive: {e}"),
    };
    let names: Vec<&str> = expect.iter().map(|(m, ..)| m.as_str()).collect();
    assert_eq!(report.kept, names, "recover kept");
    assert!(
        report.dropped.is_empty(),
        "recover dropped {:?}",
        report.dropped
    );
    check(&NpzReader::open(&fixed).unwrap(), &expect, None);

    // Recover a truncated copy.
    let end = EndOfCentralDirectory::find(&file).unwrap();
    let cd_start = end.cd_start();
    let offsets: Vec<u64> = NpzReader::from_bytes(file.clone())
        .unwrap()
        .members()
        .map(|m| m.local_header_offset)
        .collect();
    let cut = u.int_in_range(0..=file.len() as u64)?;
    let whole = (0..expect.len())
        .filter(|&i| offsets.get(i + 1).copied().unwrap_or(cd_start) <= cut)
        .count();
    let cut_path = scratch.0.join("cut.npz");
    std::fs::write(&cut_path, &file[..cut as usize]).unwrap();
    let fixed = scratch.0.join("cut-fixed.npz");
    let report = match recover(&cut_path, &fixed) {
        Ok(r) => r,
        Err(npzmap::Error::Unrecoverable { .. }) if whole == 0 => {
            assert!(!fixed.exists(), "output written though nothing was kept");
            return Ok(());
        }
        Err(e) => panic!("recover of a cut archive with {whole} whole members: {e}"),
    };
    assert!(
        report.kept.len() >= whole,
        "lost a whole member: {report:?}"
    );
    assert_eq!(report.kept[..whole], names[..whole], "recover kept (cut)");
    let npz = NpzReader::open(&fixed).unwrap();
    if report.kept.len() == whole {
        check(&npz, &expect[..whole], None);
    } else {
        assert!(npz.verify().is_ok());
    }
    Ok(())
}

/// The fuzz target's body: one input, checked.
pub fn fuzz_one(data: &[u8]) {
    let _ = run(&mut Unstructured::new(data));
}
