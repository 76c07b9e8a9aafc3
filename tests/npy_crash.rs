//! Crash test: a child process (this test binary, re-executed) appends in a
//! loop and reports every completed append; the parent kills it with SIGKILL
//! at random moments. After `recover`, every reported append is present and
//! bit-identical.

use npzmap::npy::{self, NpyAppender, NpyFile};
use npzmap::{Element, Order};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const COLS: u64 = 8;

fn row(r: u64) -> [u64; COLS as usize] {
    std::array::from_fn(|c| r * COLS + c as u64 + 1)
}

fn rows_in_block(i: u64) -> u64 {
    1 + i % 4
}

/// Runs only when re-executed by `sigkill_during_appends_loses_nothing`.
#[test]
fn crash_child() {
    if std::env::var_os("NPZMAP_CRASH_CHILD").is_none() {
        return;
    }
    let path = std::env::var("NPZMAP_CRASH_PATH").unwrap();
    let rewrite = std::env::var("NPZMAP_CRASH_REWRITE").as_deref() == Ok("1");
    let app = NpyAppender::options()
        .rewrite_header_on_append(rewrite)
        .open(&path)
        .unwrap();
    let mut next_row = 0u64;
    let out = std::io::stdout();
    for i in 0..1_000_000u64 {
        let k = rows_in_block(i);
        let data: Vec<u64> = (next_row..next_row + k).flat_map(row).collect();
        app.append(&data, &[k, COLS]).unwrap();
        next_row += k;
        let mut lock = out.lock();
        writeln!(lock, "APPENDED {}", i + 1).unwrap();
        lock.flush().unwrap();
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
    let started = Instant::now();
    let mut runs = 0;
    let mut total_reported = 0;
    while runs < 20 && started.elapsed() < Duration::from_secs(8) {
        runs += 1;
        let path = dir.path().join(format!("crash{runs}.npy"));
        NpyAppender::create(&path, u64::dtype(), &[COLS], Order::C)
            .unwrap()
            .close()
            .unwrap();
        let rewrite = runs % 2 == 0;
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env("NPZMAP_CRASH_CHILD", "1")
            .env("NPZMAP_CRASH_PATH", &path)
            .env("NPZMAP_CRASH_REWRITE", if rewrite { "1" } else { "0" })
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut last = 0u64;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("APPENDED ")
                    && let Ok(n) = n.trim().parse::<u64>()
                {
                    last = n;
                }
            }
            last
        });
        std::thread::sleep(Duration::from_millis(10 + rng.next() % 140));
        child.kill().unwrap();
        child.wait().unwrap();
        let reported = reader.join().unwrap();
        total_reported += reported;

        let report = npy::recover(&path, false).unwrap();
        let f = NpyFile::open(&path).unwrap();
        let data = f.view().to_vec::<u64>().unwrap();
        let rows = data.len() as u64 / COLS;
        assert_eq!(rows, report.rows_after);
        let promised: u64 = (0..reported).map(rows_in_block).sum();
        assert!(
            rows >= promised,
            "run {runs} (rewrite {rewrite}): {reported} appends reported = {promised} rows, only {rows} recovered"
        );
        for (r, got) in data.chunks_exact(COLS as usize).enumerate() {
            assert_eq!(got, row(r as u64), "run {runs}: row {r} differs");
        }
        // the recovered file is appendable again
        let app = NpyAppender::open(&path).unwrap();
        app.append(&row(rows), &[1, COLS]).unwrap();
        app.close().unwrap();
    }
    assert!(runs >= 5, "only {runs} runs");
    assert!(total_reported > 0, "the child never completed an append");
    eprintln!("{runs} runs, {total_reported} appends reported");
}
