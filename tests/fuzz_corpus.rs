//! Replays every fuzz target's committed corpus (`fuzz/corpus/<target>/*`)
//! through the target's own `fuzz_one` on stable Rust, as an ordinary test: the
//! body of each cargo-fuzz target lives in `fuzz/checks/<target>.rs`, which
//! the target (`fuzz/fuzz_targets/<target>.rs`) and this file both compile.
//! Coverage-guided fuzzing itself needs cargo-fuzz and nightly
//! (`scripts/test.sh` runs it when cargo-fuzz is installed).

#[path = "../fuzz/checks/descr.rs"]
mod descr;
#[path = "../fuzz/checks/npy_file.rs"]
mod npy_file;
#[path = "../fuzz/checks/npy_header.rs"]
mod npy_header;
#[path = "../fuzz/checks/npz_open.rs"]
mod npz_open;
#[path = "../fuzz/checks/npz_recover.rs"]
mod npz_recover;
#[path = "../fuzz/checks/npz_roundtrip.rs"]
mod npz_roundtrip;
#[path = "../fuzz/checks/zip_records.rs"]
mod zip_records;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

type Check = fn(&[u8]);

/// Every fuzz target with its `fuzz_one`; `every_fuzz_target_is_replayed` keeps
/// this list equal to the targets of `fuzz/Cargo.toml`.
const TARGETS: &[(&str, Check)] = &[
    ("descr", descr::fuzz_one),
    ("npy_file", npy_file::fuzz_one),
    ("npy_header", npy_header::fuzz_one),
    ("npz_open", npz_open::fuzz_one),
    ("npz_recover", npz_recover::fuzz_one),
    ("npz_roundtrip", npz_roundtrip::fuzz_one),
    ("zip_records", zip_records::fuzz_one),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Runs `check` on every file of the target's corpus; fails (naming the
/// files) if any input fails the check, or if the corpus is missing or empty.
fn replay(target: &str) {
    let check = TARGETS
        .iter()
        .find(|(t, _)| *t == target)
        .unwrap_or_else(|| panic!("no check for fuzz target {target}"))
        .1;
    let dir = fuzz_dir().join("corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus of fuzz target {target} ({}): {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "fuzz target {target} has an empty corpus ({})",
        dir.display()
    );
    let mut failed = Vec::new();
    for f in &files {
        let data = std::fs::read(f).unwrap();
        if catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
            failed.push(f.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "fuzz target {target}: {} of {} corpus inputs fail the check \
         (messages above; debug one with `cargo fuzz run {target} FILE`):\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
    eprintln!("fuzz target {target}: {} corpus inputs pass", files.len());
}

#[test]
fn descr_corpus() {
    replay("descr");
}

#[test]
fn npy_file_corpus() {
    replay("npy_file");
}

#[test]
fn npy_header_corpus() {
    replay("npy_header");
}

#[test]
fn npz_open_corpus() {
    replay("npz_open");
}

#[test]
fn npz_recover_corpus() {
    replay("npz_recover");
    // The check's per-process scratch directory.
    let _ = std::fs::remove_dir_all(npz_recover::scratch());
}

#[test]
fn npz_roundtrip_corpus() {
    replay("npz_roundtrip");
}

#[test]
fn zip_records_corpus() {
    replay("zip_records");
}

/// The targets cargo-fuzz knows (`[[bin]]` names in `fuzz/Cargo.toml`),
/// their sources and their corpora are exactly the replayed ones: a new
/// target without a shared check or a corpus fails here.
#[test]
fn every_fuzz_target_is_replayed() {
    let mut known: Vec<&str> = TARGETS.iter().map(|(t, _)| *t).collect();
    known.sort();
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    let mut bins: Vec<String> = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(v) = line.strip_prefix("name") {
            let v = v.trim_start().strip_prefix('=').expect("name = \"...\"");
            bins.push(v.trim().trim_matches('"').to_string());
        }
    }
    bins.sort();
    assert_eq!(bins, known, "fuzz/Cargo.toml targets vs replayed targets");
    let stems = |sub: &str, ext: Option<&str>| {
        let mut v: Vec<String> = std::fs::read_dir(fuzz_dir().join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| ext.is_none_or(|x| p.extension().is_some_and(|e| e == x)))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        stems("fuzz_targets", Some("rs")),
        known,
        "fuzz/fuzz_targets"
    );
    assert_eq!(stems("checks", Some("rs")), known, "fuzz/checks");
    assert_eq!(stems("corpus", None), known, "fuzz/corpus");
    for (t, _) in TARGETS {
        let target =
            std::fs::read_to_string(fuzz_dir().join(format!("fuzz_targets/{t}.rs"))).unwrap();
        assert!(
            target.contains(&format!("#[path = \"../checks/{t}.rs\"]"))
                && target.contains(&format!("{t}::fuzz_one(data)")),
            "fuzz/fuzz_targets/{t}.rs must run checks/{t}.rs"
        );
    }
}
