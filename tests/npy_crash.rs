//! Crash test: a child process (this test binary, re-executed) appends
//! large blocks in a loop and records every completed append in a marker
//! file (one `write` per line: a channel of its own, never mixed with the
//! test harness' output). The parent waits for the first appends, calibrates
//! the kill delay from them and SIGKILLs the child at a random moment, so
//! that most kills land inside an append. After `recover`, every reported
//! append (the first one included) is present and bit-identical.

mod common;

use npzmap::npy::header::{DEFAULT_HEADER_LIMIT, read_header};
use npzmap::npy::{self, NpyAppender, NpyFile};
use npzmap::{Element, Order};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

const COLS: u64 = 8;
/// Rows per append: 4 MiB blocks, so that writing dominates the child's time.
const BLOCK_ROWS: u64 = 1 << 16;
const BLOCK_BYTES: u64 = BLOCK_ROWS * COLS * 8;

/// Row `r` of the file: the first row of block `b` is stamped with `b`, the
/// others follow a fixed pattern (the child reuses one buffer).
fn row(r: u64) -> [u64; COLS as usize] {
    let (b, pos) = (r / BLOCK_ROWS, r % BLOCK_ROWS);
    if pos == 0 {
        std::array::from_fn(|c| u64::MAX - b * COLS - c as u64)
    } else {
        std::array::from_fn(|c| pos * COLS + c as u64 + 1)
    }
}

/// Runs only when re-executed by `sigkill_during_appends_loses_nothing`.
#[test]
fn crash_child() {
    if std::env::var_os("NPZMAP_CRASH_CHILD").is_none() {
        return;
    }
    let path = std::env::var("NPZMAP_CRASH_PATH").unwrap();
    let markers = std::env::var("NPZMAP_CRASH_MARKERS").unwrap();
    let rewrite = std::env::var("NPZMAP_CRASH_REWRITE").as_deref() == Ok("1");
    let app = NpyAppender::options()
        .rewrite_header_on_append(rewrite)
        .open(&path)
        .unwrap();
    let mut m = std::fs::OpenOptions::new()
        .append(true)
        .open(&markers)
        .unwrap();
    let mut block: Vec<u64> = (0..BLOCK_ROWS).flat_map(row).collect();
    for b in 0..1_000_000u64 {
        block[..COLS as usize].copy_from_slice(&row(b * BLOCK_ROWS));
        app.append(&block, &[BLOCK_ROWS, COLS]).unwrap();
        m.write_all(format!("{}\n", b + 1).as_bytes()).unwrap();
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The number of appends the child reported (whole lines only).
fn reported(markers: &Path) -> u64 {
    let text = std::fs::read_to_string(markers).unwrap_or_default();
    let whole = text.rfind('\n').map_or("", |e| &text[..e]);
    let v: Vec<u64> = whole.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(v, (1..=v.len() as u64).collect::<Vec<_>>());
    v.len() as u64
}

/// Whether the file was left inside an append: data that is not a whole
/// number of blocks, or (header rewritten on every append) a header that
/// does not describe the data yet.
fn inside_an_append(path: &Path, rewrite: bool) -> bool {
    let bytes = std::fs::read(path).unwrap();
    let p = read_header(&bytes, DEFAULT_HEADER_LIMIT).unwrap();
    let data = bytes.len() as u64 - p.data_offset;
    let header_bytes = p.header.shape[0] * COLS * 8;
    !data.is_multiple_of(BLOCK_BYTES) || (rewrite && header_bytes != data)
}

#[test]
fn sigkill_during_appends_loses_nothing() {
    let exe = std::env::current_exe().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    let mut rng = Rng(seed);
    // The file-state check itself: whole appends are not "inside", a cut is.
    for rewrite in [false, true] {
        let path = dir.path().join(format!("whole{rewrite}.npy"));
        let app = NpyAppender::options()
            .rewrite_header_on_append(rewrite)
            .create(&path, u64::dtype(), &[COLS], Order::C)
            .unwrap();
        let block: Vec<u64> = (0..2 * BLOCK_ROWS).flat_map(row).collect();
        app.append(&block, &[2 * BLOCK_ROWS, COLS]).unwrap();
        app.close().unwrap();
        assert!(!inside_an_append(&path, rewrite));
        let len = std::fs::metadata(&path).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(len - 8).unwrap();
        assert!(inside_an_append(&path, rewrite));
        f.set_len(len - BLOCK_BYTES).unwrap();
        assert_eq!(inside_an_append(&path, rewrite), rewrite);
    }
    let started = Instant::now();
    let runs = 16;
    let mut inside = 0;
    for run in 0..runs {
        let path = dir.path().join(format!("crash{run}.npy"));
        let markers = dir.path().join(format!("crash{run}.commits"));
        std::fs::write(&markers, b"").unwrap();
        NpyAppender::create(&path, u64::dtype(), &[COLS], Order::C)
            .unwrap()
            .close()
            .unwrap();
        let rewrite = run % 2 == 0;
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env("NPZMAP_CRASH_CHILD", "1")
            .env("NPZMAP_CRASH_PATH", &path)
            .env("NPZMAP_CRASH_MARKERS", &markers)
            .env("NPZMAP_CRASH_REWRITE", if rewrite { "1" } else { "0" })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait for the first appends; the time per append calibrates the
        // kill delay (uniform over two appends' time).
        let random = rng.next();
        common::kill_mid_step(&mut child, run, || reported(&markers) as usize, random);
        let reported = reported(&markers);
        assert!(reported >= 3, "run {run}: only {reported} appends");
        if inside_an_append(&path, rewrite) {
            inside += 1;
        }

        let report = npy::recover(&path, false).unwrap();
        let f = NpyFile::open(&path).unwrap();
        let data = f.view().to_vec::<u64>().unwrap();
        let rows = data.len() as u64 / COLS;
        assert_eq!(rows, report.rows_after);
        let promised = reported * BLOCK_ROWS;
        assert!(
            rows >= promised,
            "run {run} (rewrite {rewrite}): {reported} appends reported = {promised} rows, only {rows} recovered"
        );
        assert!(rows <= promised + BLOCK_ROWS, "run {run}: {rows} rows");
        for (r, got) in data.chunks_exact(COLS as usize).enumerate() {
            assert_eq!(got, row(r as u64), "run {run}: row {r} differs");
        }
        drop(f);
        // the recovered file is appendable again
        let app = NpyAppender::open(&path).unwrap();
        app.append(&row(rows), &[1, COLS]).unwrap();
        app.close().unwrap();
        for p in [&path, &markers] {
            let _ = std::fs::remove_file(p);
        }
    }
    eprintln!(
        "{runs} runs in {:?}, {inside} killed inside an append",
        started.elapsed()
    );
    assert!(
        inside * 2 > runs,
        "only {inside} of {runs} kills landed inside an append"
    );
}
