//! Shared helpers for integration tests: running Python with numpy, and the
//! external tools (`zip`, `unzip`) of the interop tests.
//!
//! `python()` returns the interpreter to use (`NPZMAP_PYTHON`, else
//! `python3`) if it can import numpy; `require_module` and `tool` check for a
//! Python module or a program the same way. When one is missing: with `CI`
//! set to any non-empty value the calling test fails (interop must never be
//! skipped in CI); otherwise the test prints a notice and skips that part.
//! `scripts/test.sh` sets `NPZMAP_PYTHON` (making a project venv when needed)
//! and reads the log of what ran and what was skipped (`NPZMAP_INTEROP_LOG`).
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Whether interop is mandatory: `CI` is set to a non-empty value (GitHub,
/// GitLab and most CI systems set `CI=true`, some `CI=1` or other values).
pub fn ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Appends `status \t what \t test name` to `$NPZMAP_INTEROP_LOG` (if set), so
/// `scripts/test.sh` can say how many interop tests ran and how many skipped.
fn log_interop(status: &str, what: &str) {
    let Some(path) = std::env::var_os("NPZMAP_INTEROP_LOG") else {
        return;
    };
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    let exe = std::env::current_exe().ok();
    let binary = exe
        .as_deref()
        .and_then(Path::file_stem)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The test binary is `<name>-<hash>`: keep the name.
    let binary = binary.rsplit_once('-').map_or(&*binary, |(b, _)| b);
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(format!("{status}\t{what}\t{binary}::{test}\n").as_bytes());
    }
}

/// A missing interop requirement `key` (described by `what`): fails under
/// CI, else a notice and `false`.
fn missing(key: &str, what: &str, hint: &str) -> bool {
    if ci() {
        panic!("{what} is required for the interop tests when CI is set ({hint})");
    }
    eprintln!("skipping: {what} not available ({hint})");
    log_interop("skipped", key);
    false
}

/// The interpreter named by `NPZMAP_PYTHON`, else `python3`.
pub fn python_path() -> PathBuf {
    std::env::var_os("NPZMAP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// The Python interpreter with numpy, or `None` (outside CI) to skip.
pub fn python() -> Option<PathBuf> {
    static PY: OnceLock<Option<PathBuf>> = OnceLock::new();
    let found = PY
        .get_or_init(|| {
            let py = python_path();
            has_module(&py, "numpy").then_some(py)
        })
        .clone();
    match &found {
        Some(_) => log_interop("ran", "numpy"),
        None => {
            missing(
                "numpy",
                &format!("numpy (in `{}`)", python_path().display()),
                "set NPZMAP_PYTHON, or run ./scripts/test.sh, which makes a venv",
            );
        }
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

/// Whether `py` can import `module`; if not, fails under CI, else prints a
/// notice and returns `false` (the caller skips the part that needs it).
pub fn require_module(py: &Path, module: &str) -> bool {
    if has_module(py, module) {
        log_interop("ran", module);
        return true;
    }
    missing(
        module,
        &format!("python module {module} (in `{}`)", py.display()),
        "pip install -r .ci/requirements.txt, or run ./scripts/test.sh",
    )
}

/// The program `name` (e.g. `zip`, `unzip`) on `PATH`; if missing, fails
/// under CI, else prints a notice and returns `None`.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| is_executable(p))
    });
    match found {
        Some(p) => {
            log_interop("ran", name);
            Some(p)
        }
        None => {
            missing(
                name,
                &format!("the `{name}` program"),
                "install it (Debian/Ubuntu: apt-get install zip unzip); .ci/run does",
            );
            None
        }
    }
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
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

/// SIGKILLs `child` at a random moment inside one of its steps: waits until
/// `progress()` (steps the child reported done) has moved by two, measures
/// the time per step, then sleeps `random % (2 steps)` and kills. Panics if
/// the child makes no progress within 60 s or exits by itself.
pub fn kill_mid_step(
    child: &mut std::process::Child,
    run: usize,
    progress: impl Fn() -> usize,
    random: u64,
) {
    use std::time::{Duration, Instant};
    let t0 = Instant::now();
    let mut first = None;
    let per_step = loop {
        let n = progress();
        if n >= 1 && first.is_none() {
            first = Some((Instant::now(), n));
        }
        if let Some((t1, n1)) = first
            && n >= n1 + 2
        {
            break t1.elapsed() / (n - n1) as u32;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "run {run}: the child made no progress"
        );
        if let Ok(Some(st)) = child.try_wait() {
            panic!("run {run}: the child exited early: {st}");
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    let span = (per_step.as_micros() as u64 * 2).max(1);
    std::thread::sleep(Duration::from_micros(random % span));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// The URL of a bucket prefix on the S3-compatible test server
/// (`NPZMAP_TEST_S3_URL`, set by `scripts/test.sh`, which starts moto on
/// 127.0.0.1 with credentials and endpoint in `AWS_*`); if unset, fails
/// under CI, else prints a notice and returns `None`.
pub fn s3_url() -> Option<String> {
    match std::env::var("NPZMAP_TEST_S3_URL") {
        Ok(u) if !u.is_empty() => {
            log_interop("ran", "s3");
            Some(u)
        }
        _ => {
            missing(
                "s3",
                "the S3 test server (NPZMAP_TEST_S3_URL)",
                "run ./scripts/test.sh, which starts one on 127.0.0.1",
            );
            None
        }
    }
}

/// A fresh key under the S3 test prefix, unique per call.
pub fn s3_key(base: &str, name: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{base}/{}-{nanos}-{n}/{name}", std::process::id())
}
