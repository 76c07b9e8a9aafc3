//! Per-operation timings of the hot paths, for checking performance targets
//! on a shared, noisy machine (instruction counts come from callgrind; this
//! gives the wall clock).
//!
//! ```text
//! cargo run --release --example perf_probe [dir] [rounds]
//! NPZMAP_PYTHON=/path/to/python cargo run --release --example perf_probe
//! ```
//!
//! `dir` (default: the temp dir) holds the files written. Every figure is
//! the median of `rounds` (default 5) runs. With `NPZMAP_PYTHON` pointing
//! at a Python that has `npy_append_array`, the same run also times it on
//! the same workload and prints the ratio.
//!
//! * `reader get`: `NpzReader::get` of an already-parsed member.
//! * `reader get_slice`: `get_slice::<f64>` of the same (aligned, native).
//! * `reader first access`: `get` of a member never touched (local header
//!   and npy header parsed), averaged over 2,000 members.
//! * `writer small`: 100,000 x 1 KiB members (no fsync).
//! * `writer large`: 64 x 16 MiB members, against a plain `write_all` of
//!   the same bytes and against `write_all` plus CRC-32.
//! * `npy append`: 20,000 appends of 8 KiB, header deferred.
use npzmap::npy::NpyAppender;
use npzmap::npz::{NpzReader, NpzWriter};
use npzmap::{Element, Order};
use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn reader(dir: &Path, rounds: usize) {
    let p = dir.join("probe_reader.npz");
    let members = 2000;
    let mut w = NpzWriter::options()
        .fsync(false)
        .replace(true)
        .create(&p)
        .expect("create");
    let small = [0.5f64; 12];
    for i in 0..members {
        w.write(&format!("m{i}"), &small, &[3, 4], Order::C)
            .expect("write");
    }
    let x: Vec<f64> = (0..1024).map(f64::from).collect();
    w.write("x", &x, &[1024], Order::C).expect("write");
    w.close().expect("close");

    let n = 2_000_000u32;
    let (mut get, mut slice, mut first) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let r = NpzReader::open(&p).expect("open");
        let t = Instant::now();
        for i in 0..members {
            black_box(r.get(black_box(&format!("m{i}"))).expect("get"));
        }
        let with_fmt = secs(t.elapsed());
        // Subtract the cost of formatting the keys and of a cached get.
        let t = Instant::now();
        for i in 0..members {
            black_box(r.get(black_box(&format!("m{i}"))).expect("get"));
        }
        let cached = secs(t.elapsed());
        first.push((with_fmt - cached) / f64::from(members) * 1e9);

        r.get("x").expect("get");
        let t = Instant::now();
        for _ in 0..n {
            black_box(r.get(black_box("x")).expect("get"));
        }
        get.push(secs(t.elapsed()) / f64::from(n) * 1e9);
        let t = Instant::now();
        for _ in 0..n {
            let s = r.get_slice::<f64>(black_box("x")).expect("slice");
            black_box(s.len());
        }
        slice.push(secs(t.elapsed()) / f64::from(n) * 1e9);
    }
    std::fs::remove_file(&p).ok();
    println!("reader get (cached)        {:8.1} ns", median(get));
    println!("reader get_slice::<f64>    {:8.1} ns", median(slice));
    println!("reader first access        {:8.1} ns", median(first));
}

fn writer_small(dir: &Path, rounds: usize) {
    let small = vec![7u8; 1024];
    let p = dir.join("probe_small.npz");
    let mut rates = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let mut w = NpzWriter::options()
            .fsync(false)
            .replace(true)
            .create(&p)
            .expect("create");
        for i in 0..100_000 {
            w.write(&format!("k{i}"), &small, &[1024], Order::C)
                .expect("write");
        }
        w.close().expect("close");
        rates.push(100_000.0 / secs(t.elapsed()));
        std::fs::remove_file(&p).ok();
    }
    println!("writer 100000 x 1 KiB      {:8.0} entries/s", median(rates));
}

fn writer_large(dir: &Path, rounds: usize) {
    let big = vec![1.5f64; 2 << 20]; // 16 MiB
    let bytes: &[u8] = bytemuck::cast_slice(&big);
    let (mut plain, mut plain_crc, mut ours) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let p = dir.join("probe_plain.bin");
        let t = Instant::now();
        let mut f = std::fs::File::create(&p).expect("create");
        for _ in 0..64 {
            f.write_all(bytes).expect("write");
        }
        drop(f);
        plain.push(1.0 / secs(t.elapsed()));
        std::fs::remove_file(&p).ok();

        let t = Instant::now();
        let mut f = std::fs::File::create(&p).expect("create");
        for _ in 0..64 {
            black_box(crc32fast::hash(bytes));
            f.write_all(bytes).expect("write");
        }
        drop(f);
        plain_crc.push(1.0 / secs(t.elapsed()));
        std::fs::remove_file(&p).ok();

        let p = dir.join("probe_large.npz");
        let t = Instant::now();
        let mut w = NpzWriter::options()
            .fsync(false)
            .replace(true)
            .create(&p)
            .expect("create");
        for i in 0..64 {
            w.write(&format!("a{i}"), &big, &[big.len() as u64], Order::C)
                .expect("write");
        }
        w.close().expect("close");
        ours.push(1.0 / secs(t.elapsed()));
        std::fs::remove_file(&p).ok();
    }
    let (plain, plain_crc, ours) = (median(plain), median(plain_crc), median(ours));
    println!(
        "writer 64 x 16 MiB         {ours:8.2} GiB/s  (plain write {plain:.2} GiB/s: {:.0}%; \
         write+crc {plain_crc:.2} GiB/s: {:.0}%)",
        100.0 * ours / plain,
        100.0 * ours / plain_crc
    );
}

/// `buffer` = 0: every append handed to the OS before it returns (the
/// default, crash-safe per append); else `AppendOptions::buffer_bytes`.
fn npy_append(dir: &Path, rounds: usize, buffer: usize) -> f64 {
    let p = dir.join("probe_append.npy");
    let row = vec![0.25f64; 1024];
    let mut rates = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let app = NpyAppender::options()
            .rewrite_header_on_append(false)
            .buffer_bytes(buffer)
            .replace_existing(true)
            .create(&p, f64::dtype(), &[1024], Order::C)
            .expect("create");
        for _ in 0..20_000 {
            app.append(&row, &[1, 1024]).expect("append");
        }
        app.flush().expect("flush");
        rates.push(20_000.0 / secs(t.elapsed()));
        drop(app);
        std::fs::remove_file(&p).ok();
    }
    let r = median(rates);
    // The floor: one plain write of the same 8 KiB per append.
    let mut plain = Vec::new();
    let bytes: &[u8] = bytemuck::cast_slice(&row);
    for _ in 0..rounds {
        let t = Instant::now();
        let mut f = std::fs::File::create(&p).expect("create");
        for _ in 0..20_000 {
            f.write_all(bytes).expect("write");
        }
        drop(f);
        plain.push(20_000.0 / secs(t.elapsed()));
        std::fs::remove_file(&p).ok();
    }
    let plain = median(plain);
    let label = if buffer == 0 {
        "npy append 8 KiB deferred ".to_string()
    } else {
        format!("  ... with {} KiB buffer", buffer >> 10)
    };
    println!(
        "{label}  {r:8.0} appends/s  (plain 8 KiB write {plain:.0}/s: {:.0}%)",
        100.0 * r / plain
    );
    r
}

const PY: &str = r#"
import sys, os, time, numpy as np
from npy_append_array import NpyAppendArray
p, rounds = sys.argv[1], int(sys.argv[2])
row = np.full((1, 1024), 0.25)
rates = []
for _ in range(rounds):
    if os.path.exists(p):
        os.remove(p)
    t = time.perf_counter()
    with NpyAppendArray(p, rewrite_header_on_append=False) as a:
        for _ in range(20000):
            a.append(row)
    rates.append(20000 / (time.perf_counter() - t))
    os.remove(p)
rates.sort()
print(rates[len(rates) // 2])
"#;

fn npy_append_array(dir: &Path, rounds: usize, ours: f64, buffered: f64) {
    let Ok(py) = std::env::var("NPZMAP_PYTHON") else {
        return;
    };
    let p = dir.join("probe_naa.npy");
    let out = std::process::Command::new(py)
        .arg("-c")
        .arg(PY)
        .arg(&p)
        .arg(rounds.to_string())
        .output()
        .expect("run python");
    let text = String::from_utf8_lossy(&out.stdout);
    match text.trim().parse::<f64>() {
        Ok(r) => println!(
            "npy-append-array deferred  {r:8.0} appends/s  (npzmap is {:.1}x; {:.1}x with the buffer)",
            ours / r,
            buffered / r
        ),
        Err(_) => println!(
            "npy-append-array: failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let only = std::env::var("PROBE").unwrap_or_default();
    let want = |name: &str| only.is_empty() || only.split(',').any(|s| s == name);
    if want("reader") {
        reader(&dir, rounds);
    }
    if want("small") {
        writer_small(&dir, rounds);
    }
    if want("large") {
        writer_large(&dir, rounds);
    }
    if want("append") {
        let ours = npy_append(&dir, rounds, 0);
        let buffered = npy_append(&dir, rounds, 1 << 20);
        npy_append_array(&dir, rounds, ours, buffered);
    }
}
