//! `npzmap demo`: the main job on generated data.
//!
//! A dataset-preparation loop as users write one: one image-like `u8` array
//! per sample, a label per sample, and a variable-length token array per
//! sample streamed into one entry (with an offsets array to find each
//! sample's tokens). The archive is then reopened lazily, read at random,
//! verified, and a table of timings is printed.

use crate::failure::Failure;
use crate::progress;
use npzmap::npz::reader::NpzReader;
use npzmap::npz::writer::NpzWriter;
use npzmap::{DType, Order};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const H: usize = 32;
const W: usize = 32;
const C: usize = 3;
const IMAGE_BYTES: usize = H * W * C;

fn image(i: u64, out: &mut [u8]) {
    let s = (i.wrapping_mul(0x9E37_79B9) >> 7) as u8;
    for (j, px) in out.iter_mut().enumerate() {
        *px = s.wrapping_add((j as u8).wrapping_mul(7));
    }
}

fn label(i: u64) -> i64 {
    (i.wrapping_mul(2_654_435_761) % 1000) as i64
}

fn tokens(i: u64, out: &mut Vec<i32>) {
    out.clear();
    let n = 8 + (i.wrapping_mul(0x2545_F491) % 120) as usize;
    out.extend((0..n).map(|k| (i as i32).wrapping_mul(1000).wrapping_add(k as i32)));
}

fn key(i: u64) -> String {
    format!("images/{i:07}")
}

struct Row {
    phase: &'static str,
    time: Duration,
    detail: String,
}

fn rate(n: f64, d: Duration, unit: &str) -> String {
    let s = d.as_secs_f64().max(1e-9);
    format!("{:.0} {unit}/s", n / s)
}

fn mib_rate(bytes: u64, d: Duration) -> String {
    format!(
        "{:.0} MiB/s",
        bytes as f64 / (1 << 20) as f64 / d.as_secs_f64().max(1e-9)
    )
}

/// Runs the demo: write, reopen lazily, read at random, verify, report.
pub fn run(dir: Option<PathBuf>, samples: u64, quiet: bool) -> Result<(), Failure> {
    if samples == 0 {
        return Err(Failure::usage("--samples must be at least 1"));
    }
    let (dir, _tmp) = work_dir(dir)?;
    let path = dir.join("dataset.npz");
    let mut rows = Vec::new();
    eprintln!("npzmap demo: {samples} samples -> {}", path.display());
    let size = write_dataset(&path, samples, quiet, &mut rows)?;
    // Reopen lazily.
    let t = Instant::now();
    let r = NpzReader::open(&path)?;
    let t_open = t.elapsed();
    rows.push(Row {
        phase: "open (central directory only)",
        time: t_open,
        detail: format!(
            "{} members, {:.1} MiB file",
            r.len(),
            size as f64 / (1 << 20) as f64
        ),
    });
    let (n_access, first) = random_access(&r, samples, &mut rows)?;
    cached_lookups(&r, samples, &mut rows)?;
    verify_all(&r, size, &mut rows)?;
    print_table(&rows);
    println!(
        "first access of {} random images (local + npy header parse, page faults included): {:.2} µs each\narchive {} ({} entries)",
        n_access.min(1000),
        first.as_secs_f64() * 1e6 / n_access.min(1000) as f64,
        path.display(),
        r.len()
    );
    Ok(())
}

/// The directory to work in: `dir` (created), or a temporary one that lives
/// as long as the returned guard.
fn work_dir(dir: Option<PathBuf>) -> Result<(PathBuf, Option<tempfile::TempDir>), Failure> {
    match dir {
        Some(d) => {
            std::fs::create_dir_all(&d)
                .map_err(|e| Failure::usage(format!("cannot create {}: {e}", d.display())))?;
            Ok((d, None))
        }
        None => {
            let tmp = tempfile::Builder::new()
                .prefix("npzmap-demo-")
                .tempdir()
                .map_err(|e| Failure::usage(format!("cannot create a temp dir: {e}")))?;
            Ok((tmp.path().to_path_buf(), Some(tmp)))
        }
    }
}

/// Phases 1-2: the preparation loop (one image entry per sample, labels
/// gathered), the token arrays streamed into one entry, then labels,
/// offsets and close. Returns the archive size.
fn write_dataset(
    path: &Path,
    samples: u64,
    quiet: bool,
    rows: &mut Vec<Row>,
) -> Result<u64, Failure> {
    let t = Instant::now();
    let mut w = NpzWriter::create_or_replace(path)?;
    let bar = progress::items(samples, "samples", quiet);
    let mut img = vec![0u8; IMAGE_BYTES];
    let mut labels = Vec::with_capacity(samples as usize);
    for i in 0..samples {
        image(i, &mut img);
        w.write(&key(i), &img, &[H as u64, W as u64, C as u64], Order::C)?;
        labels.push(label(i));
        if i % 1024 == 0 {
            bar.set_position(i);
        }
    }
    bar.finish_and_clear();
    let t_loop = t.elapsed();
    rows.push(Row {
        phase: "write images (one entry each)",
        time: t_loop,
        detail: format!(
            "{}, {}",
            rate(samples as f64, t_loop, "entries"),
            mib_rate(samples * IMAGE_BYTES as u64, t_loop)
        ),
    });
    let offsets = stream_tokens(&mut w, samples, rows)?;
    let t = Instant::now();
    w.write("labels", &labels, &[samples], Order::C)?;
    w.write("token_offsets", &offsets, &[samples + 1], Order::C)?;
    w.close()?;
    rows.push(Row {
        phase: "labels, offsets, close (CD + fsync)",
        time: t.elapsed(),
        detail: "central directory written, file fsynced".to_string(),
    });
    Ok(std::fs::metadata(path)
        .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?
        .len())
}

/// Tokenization pass: variable-length token arrays streamed into one entry.
/// Returns each sample's start offset (plus the end).
fn stream_tokens(
    w: &mut NpzWriter,
    samples: u64,
    rows: &mut Vec<Row>,
) -> Result<Vec<i64>, Failure> {
    let t = Instant::now();
    let mut offsets = Vec::with_capacity(samples as usize + 1);
    offsets.push(0i64);
    let mut tok = Vec::new();
    let mut total_tokens: i64 = 0;
    let mut e = w.begin("tokens", DType::parse("<i4")?, &[], Order::C)?;
    for i in 0..samples {
        tokens(i, &mut tok);
        e.append(&tok)?;
        total_tokens += tok.len() as i64;
        offsets.push(total_tokens);
    }
    e.finish()?;
    let t_tok = t.elapsed();
    rows.push(Row {
        phase: "stream tokens into one entry",
        time: t_tok,
        detail: format!(
            "{total_tokens} tokens, {}",
            mib_rate(total_tokens as u64 * 4, t_tok)
        ),
    });
    Ok(offsets)
}

/// Phase 4: image, label and tokens of random samples, checked. Returns the
/// number of samples read and the time of the first 1000 image reads.
fn random_access(
    r: &NpzReader,
    samples: u64,
    rows: &mut Vec<Row>,
) -> Result<(u64, Duration), Failure> {
    let n_access = samples.min(20_000);
    let labels_view = r.get_slice::<i64>("labels")?;
    let offs = r.get_slice::<i64>("token_offsets")?;
    let all_tokens = r.get_slice::<i32>("tokens")?;
    let mut x: u64 = 0x1234_5678_9abc_def1;
    let mut expect = vec![0u8; IMAGE_BYTES];
    let mut tok = Vec::new();
    let t = Instant::now();
    let mut first = Duration::ZERO;
    for n in 0..n_access {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let i = x % samples;
        let t1 = Instant::now();
        let im = r.get_slice::<u8>(&key(i))?;
        if n < 1000 {
            first += t1.elapsed();
        }
        image(i, &mut expect);
        if *im != expect[..] || labels_view[i as usize] != label(i) {
            return Err(Failure::check(format!("sample {i} read back wrong")));
        }
        tokens(i, &mut tok);
        let (a, b) = (offs[i as usize] as usize, offs[i as usize + 1] as usize);
        if all_tokens.get(a..b) != Some(&tok[..]) {
            return Err(Failure::check(format!(
                "tokens of sample {i} read back wrong"
            )));
        }
    }
    let t_rand = t.elapsed();
    rows.push(Row {
        phase: "random access (image+label+tokens)",
        time: t_rand,
        detail: format!(
            "{n_access} samples, {}",
            rate(n_access as f64, t_rand, "samples")
        ),
    });
    Ok((n_access, first))
}

/// Phase 5: lookups of members already parsed.
fn cached_lookups(r: &NpzReader, samples: u64, rows: &mut Vec<Row>) -> Result<(), Failure> {
    let keys: Vec<String> = (0..samples.min(1000)).map(key).collect();
    for k in &keys {
        r.get(k)?;
    }
    let t = Instant::now();
    let reps = 1_000_000u64;
    for n in 0..reps {
        let k = &keys[(n % keys.len() as u64) as usize];
        std::hint::black_box(r.get(k)?);
    }
    let t_cached = t.elapsed();
    rows.push(Row {
        phase: "cached lookups (get, 1000 keys)",
        time: t_cached,
        detail: format!("{:.0} ns each", t_cached.as_nanos() as f64 / reps as f64),
    });
    Ok(())
}

/// Phase 6: the CRC of every member.
fn verify_all(r: &NpzReader, size: u64, rows: &mut Vec<Row>) -> Result<(), Failure> {
    let t = Instant::now();
    let report = r.verify();
    let t_verify = t.elapsed();
    if !report.is_ok() {
        let bad: Vec<String> = report.errors().map(|(m, e)| format!("{m}: {e}")).collect();
        return Err(Failure::check(bad.join("\n")));
    }
    rows.push(Row {
        phase: "verify (CRC of every member)",
        time: t_verify,
        detail: mib_rate(size, t_verify),
    });
    Ok(())
}

fn print_table(rows: &[Row]) {
    println!();
    println!("{:<38} {:>10}  throughput", "phase", "time");
    println!("{}", "-".repeat(80));
    for row in rows {
        println!(
            "{:<38} {:>10}  {}",
            row.phase,
            format!("{:.3} s", row.time.as_secs_f64()),
            row.detail
        );
    }
    println!();
}
