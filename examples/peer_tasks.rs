//! The npzmap side of `benches/peers/compare.py`: does one task and prints
//! `{"seconds": s, "ops": n}` timing only the work itself (not process
//! start-up, not preparing the input data).
//!
//! `peer_tasks TASK PATH [COUNT] [SIZE]`
//!
//! | task | what is timed | ops |
//! |---|---|---|
//! | `write-limit` | `write` of COUNT x SIZE bytes to a new file | COUNT |
//! | `write-crc-limit` | the same plus CRC-32 of every byte | COUNT |
//! | `write` | an archive of COUNT `u8` arrays of SIZE bytes, `a0000000`.. | COUNT |
//! | `write-stream` | one `u8` member of COUNT x SIZE bytes, streamed in SIZE chunks | COUNT |
//! | `append` | COUNT appends of SIZE bytes of `f64` rows of 1024 to an `.npy` | COUNT |
//! | `open` | `NpzReader::open` | members |
//! | `first` | SIZE first accesses (`get`) of distinct keys of a COUNT-member archive | SIZE |
//! | `cached` | the same keys again, after one pass that cached them | SIZE |
//! | `read-limit` | sum of the `u64` words of the raw mapped file | COUNT |
//! | `read` | `get_slice::<u64>` of the member and sum of it | COUNT |
//!
//! `read-limit`/`read` create a single-member archive of COUNT x SIZE bytes
//! of `u64` at PATH if it does not exist (streamed; not timed). No task
//! fsyncs (the peers do not either). Keys of `first`/`cached` are
//! [`access_keys`], the same sequence as compare.py's `_keys`.

use npzmap::npy::NpyAppender;
use npzmap::{DType, NpzReader, NpzWriter, Order};
use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

fn data(size: usize) -> Vec<u8> {
    // Deterministic pseudo-random bytes (content does not affect speed).
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn report(secs: f64, ops: u64) {
    println!("{{\"seconds\": {secs}, \"ops\": {ops}}}");
}

/// The member key of array `i`, as compare.py names them.
fn key(i: u64) -> String {
    format!("a{i:07}")
}

/// `n_access` distinct member indices out of `n_members` (distinct while
/// `n_access <= n_members`): `(12345 + j * 999983) % n_members`, 999983
/// being a prime that divides no member count used here. compare.py's
/// `_keys` computes the same sequence.
fn access_keys(n_members: u64, n_access: u64) -> Vec<String> {
    (0..n_access)
        .map(|j| key((12345 + j * 999_983) % n_members))
        .collect()
}

/// Wrapping sum of `u64` words (vectorises; the work both `read` tasks do).
fn sum_u64(words: &[u64]) -> u64 {
    words.iter().fold(0u64, |a, &x| a.wrapping_add(x))
}

/// Creates a single-member archive of `count` x `size` bytes of `u64` at
/// `path` unless it exists, streaming `size`-byte chunks.
fn ensure_big(path: &Path, count: u64, size: usize) -> npzmap::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let chunk: Vec<u64> = data(size)
        .chunks_exact(8)
        .map(|c| u64::from(c[0]))
        .collect();
    let mut w = NpzWriter::options().fsync(false).create(path)?;
    let mut e = w.begin("x", DType::parse("<u8")?, &[], Order::C)?;
    for _ in 0..count {
        e.append(&chunk)?;
    }
    e.finish()?;
    w.close()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: peer_tasks TASK PATH [COUNT] [SIZE]");
        std::process::exit(2);
    }
    let task = args[1].as_str();
    let path = std::path::PathBuf::from(&args[2]);
    let count: u64 = args.get(3).map_or(Ok(0), |s| s.parse())?;
    let size: usize = args.get(4).map_or(Ok(0), |s| s.parse())?;
    match task {
        "write-limit" | "write-crc-limit" => {
            let buf = data(size);
            let _ = std::fs::remove_file(&path);
            let t = Instant::now();
            let mut f = std::fs::File::create(&path)?;
            let mut crc = crc32fast::Hasher::new();
            for _ in 0..count {
                if task == "write-crc-limit" {
                    crc.update(&buf);
                }
                f.write_all(&buf)?;
            }
            drop(f);
            black_box(crc.finalize());
            report(t.elapsed().as_secs_f64(), count);
        }
        "write" => {
            let buf = data(size);
            let keys: Vec<String> = (0..count).map(key).collect();
            let _ = std::fs::remove_file(&path);
            let t = Instant::now();
            let mut w = NpzWriter::options().fsync(false).create(&path)?;
            for k in &keys {
                w.write(k, &buf, &[size as u64], Order::C)?;
            }
            w.close()?;
            report(t.elapsed().as_secs_f64(), count);
        }
        "write-stream" => {
            let buf = data(size);
            let _ = std::fs::remove_file(&path);
            let t = Instant::now();
            let mut w = NpzWriter::options().fsync(false).create(&path)?;
            let mut e = w.begin("a0000000", DType::parse("|u1")?, &[], Order::C)?;
            for _ in 0..count {
                e.append(&buf)?;
            }
            e.finish()?;
            w.close()?;
            report(t.elapsed().as_secs_f64(), count);
        }
        "append" => {
            // Rows of 1024 f64 (8 KiB); a 16 MiB chunk is 2048 rows.
            let rows = (size / 8192).max(1) as u64;
            let vals: Vec<f64> = data(rows as usize * 8192 / 8)
                .iter()
                .map(|&b| f64::from(b))
                .collect();
            let _ = std::fs::remove_file(&path);
            let t = Instant::now();
            let app = NpyAppender::options()
                .rewrite_header_on_append(false)
                .create(&path, DType::parse("<f8")?, &[1024], Order::C)?;
            for _ in 0..count {
                app.append(&vals, &[rows, 1024])?;
            }
            // Header written, no fsync (npy-append-array does not fsync).
            app.flush()?;
            drop(app);
            report(t.elapsed().as_secs_f64(), count);
        }
        "open" => {
            let t = Instant::now();
            let r = NpzReader::open(&path)?;
            let n = r.len() as u64;
            let secs = t.elapsed().as_secs_f64();
            black_box(&r);
            report(secs, n);
        }
        "first" | "cached" => {
            let keys = access_keys(count, size as u64);
            let r = NpzReader::open(&path)?;
            if task == "cached" {
                for k in &keys {
                    black_box(r.get(k)?);
                }
            }
            let t = Instant::now();
            for k in &keys {
                black_box(r.get(k)?);
            }
            report(t.elapsed().as_secs_f64(), keys.len() as u64);
        }
        "read-limit" => {
            ensure_big(&path, count, size)?;
            let t = Instant::now();
            let file = std::fs::File::open(&path)?;
            // SAFETY: read-only map of a file nobody modifies during the run.
            let map = unsafe { memmap2::Mmap::map(&file)? };
            let words: &[u64] = bytemuck::cast_slice(&map[..map.len() / 8 * 8]);
            let s = sum_u64(words);
            let secs = t.elapsed().as_secs_f64();
            black_box(s);
            report(secs, count);
        }
        "read" => {
            ensure_big(&path, count, size)?;
            let t = Instant::now();
            let r = NpzReader::open(&path)?;
            let x = r.get_slice::<u64>("x")?;
            let s = sum_u64(&x);
            let secs = t.elapsed().as_secs_f64();
            black_box(s);
            report(secs, count);
        }
        other => {
            eprintln!("unknown task {other}");
            std::process::exit(2);
        }
    }
    Ok(())
}
