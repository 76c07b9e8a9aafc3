//! Running the `npzmap` binary from the CLI tests (feature `cli`), and
//! reading what it printed.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs `npzmap ARGS...` and waits for it.
pub fn npzmap(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_npzmap"));
    for a in args {
        c.arg(a.as_ref());
    }
    c.output().expect("run npzmap")
}

/// The exit code. A signal (no code) must never happen: it maps to a value
/// no test accepts.
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1000)
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
