//! `npz::recover` on arbitrary bytes (through a scratch file): never panics,
//! terminates, and whatever it keeps reads back and passes `verify`'s zip
//! checks (NPY content is not recovery's business); recovering the
//! result again keeps the same members and drops nothing new.
//!
//! Then `NpzWriter::append` on the same bytes: it refuses or adds a member
//! without disturbing what was there: if the input opened with the reader,
//! the result opens too, with every old key and the new member.
//!
//! Shared by the cargo-fuzz target `fuzz_targets/npz_recover.rs` and the stable
//! replay of the committed corpus (`tests/fuzz_corpus.rs`).

use npzmap::npz::reader::NpzReader;
use npzmap::npz::recover::{recover, recover_in_place};
use npzmap::npz::writer::NpzWriter;
use npzmap::{Error, Order};
use std::path::PathBuf;

/// Errors about the zip container rather than a member's NPY content.
fn zip_error(e: &Error) -> bool {
    match e {
        Error::Truncated { what, .. } => !what.contains("NPY"),
        Error::Zip { .. }
        | Error::NotAZip { .. }
        | Error::Encrypted { .. }
        | Error::UnsupportedCompression { .. }
        | Error::CrcMismatch { .. }
        | Error::DecompressionLimit { .. }
        | Error::Io { .. } => true,
        _ => false,
    }
}

/// The scratch directory (one per process; the corpus replay removes it).
pub fn scratch() -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("npzmap-fuzz-recover-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The fuzz target's body: one input, checked.
pub fn fuzz_one(data: &[u8]) {
    let dir = scratch();
    let (input, output) = (dir.join("in.npz"), dir.join("out.npz"));
    std::fs::write(&input, data).unwrap();
    // The scratch folder is reused: no output of an earlier input may stay.
    let _ = std::fs::remove_file(&output);
    let report = match recover(&input, &output) {
        Ok(r) => r,
        Err(npzmap::Error::Unrecoverable { .. }) => {
            // Nothing could be kept: no output, input untouched.
            assert!(!output.exists(), "output written though nothing was kept");
            assert_eq!(std::fs::read(&input).unwrap(), data, "input changed");
            return;
        }
        Err(e) => panic!("recover of a readable file: {e}"),
    };
    assert_eq!(
        std::fs::metadata(&output).unwrap().len(),
        report.output_len,
        "output length"
    );
    let npz = NpzReader::open(&output).expect("recovered archive must open");
    assert_eq!(npz.members().len(), report.kept.len());
    // The report decodes names lossily as UTF-8, the reader like zipfile
    // (cp437 without the UTF-8 flag): they agree on ASCII names.
    for (m, kept) in npz.members().zip(&report.kept) {
        if kept.is_ascii() {
            assert_eq!(m.name, kept.as_str());
        }
    }
    // Recovery works at the zip level (structure and CRC): a kept `.npy`
    // member may still hold a bad NPY header, but no zip-level check fails.
    let verify = npz.verify();
    let zip_level: Vec<_> = verify.errors().filter(|(_, e)| zip_error(e)).collect();
    assert!(
        zip_level.is_empty(),
        "recovered archive fails verify: {zip_level:?}"
    );
    // Idempotent: recovering the recovered archive keeps the same members.
    // (Bytes before the last kept member stay as they were, so garbage
    // there is dropped again, but nothing new.)
    // The reader's map holds the shared lock: in-place recovery would be
    // refused with `Locked` while it lives.
    drop(npz);
    let again = recover_in_place(&output).expect("recover in place");
    assert_eq!(again.kept, report.kept, "recover is not idempotent");
    for d in &again.dropped {
        assert!(
            report.dropped.iter().any(|x| x.offset == d.offset),
            "second recover dropped something new: {d:?}"
        );
    }

    // Append to the raw input.
    std::fs::write(&input, data).unwrap();
    let before = NpzReader::open(&input).ok().map(|r| {
        r.keys()
            .map(|k| (k.to_string(), r.get(k).ok().map(|v| v.as_bytes().to_vec())))
            .collect::<Vec<_>>()
    });
    let Ok(mut w) = NpzWriter::options().fsync(false).append(&input) else {
        return;
    };
    let new: Vec<u16> = (0..data.len() as u16 % 7).collect();
    let wrote = w.write("zz_new", &new, &[new.len() as u64], Order::C);
    let closed = w.close();
    if wrote.is_err() || closed.is_err() {
        return;
    }
    let after = NpzReader::open(&input);
    if let Some(before) = before {
        let after = after.expect("append broke an archive that opened");
        for (k, bytes) in &before {
            if k == "zz_new" {
                continue;
            }
            let v = after.get(k).ok().map(|v| v.as_bytes().to_vec());
            if bytes.is_some() {
                assert_eq!(&v, bytes, "append changed member {k:?}");
            }
        }
        assert_eq!(after.get("zz_new").unwrap().to_vec::<u16>().unwrap(), new);
    } else if let Ok(after) = after {
        assert_eq!(after.get("zz_new").unwrap().to_vec::<u16>().unwrap(), new);
    }
}
