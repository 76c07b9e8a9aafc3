//! Shared helpers for integration tests: running Python with numpy.
//!
//! `python()` returns the interpreter to use (`NPZMAP_PYTHON`, else
//! `python3`) if it can import numpy. When it cannot: with `CI=true` the
//! calling test fails (interop must never be skipped in CI); otherwise the
//! test prints a notice and is skipped by returning early.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The Python interpreter with numpy, or `None` (outside CI) to skip.
pub fn python() -> Option<PathBuf> {
    static PY: OnceLock<Option<PathBuf>> = OnceLock::new();
    let found = PY
        .get_or_init(|| {
            let py = std::env::var_os("NPZMAP_PYTHON")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("python3"));
            let ok = Command::new(&py)
                .args(["-c", "import numpy"])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            ok.then_some(py)
        })
        .clone();
    if found.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("numpy is required for interop tests when CI=true (set NPZMAP_PYTHON)");
        }
        eprintln!("skipping: no python with numpy (set NPZMAP_PYTHON)");
    }
    found
}

/// Runs a Python script with arguments; panics with its stderr on failure.
/// Returns stdout.
pub fn run(py: &Path, script: &str, args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let mut cmd = Command::new(py);
    cmd.arg("-c").arg(script);
    for a in args {
        cmd.arg(a.as_ref());
    }
    let out = cmd.output().expect("run python");
    if !out.status.success() {
        panic!(
            "python failed ({}):\n--- script ---\n{script}\n--- stderr ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Like [`run`] but returns `Err(stderr)` instead of panicking.
pub fn try_run(
    py: &Path,
    script: &str,
    args: &[&dyn AsRef<std::ffi::OsStr>],
) -> Result<String, String> {
    let mut cmd = Command::new(py);
    cmd.arg("-c").arg(script);
    for a in args {
        cmd.arg(a.as_ref());
    }
    let out = cmd.output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Whether a Python module can be imported by `py`.
pub fn has_module(py: &Path, module: &str) -> bool {
    Command::new(py)
        .args(["-c", &format!("import {module}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// All members of an archive as (name, bytes) in archive order, read by the
/// `zip` crate (an independent oracle).
pub fn zip_members(path: &Path) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let f = std::fs::File::open(path).expect("open archive");
    let mut z = zip::ZipArchive::new(f).expect("zip crate opens the archive");
    (0..z.len())
        .map(|i| {
            let mut m = z.by_index(i).expect("member");
            let mut b = Vec::new();
            m.read_to_end(&mut b).expect("read member");
            (m.name().expect("name").to_string(), b)
        })
        .collect()
}
