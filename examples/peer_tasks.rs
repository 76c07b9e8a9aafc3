//! The npzmap side of `benches/peers/compare.py`: does one task and prints
//! `{"seconds": s, "ops": n}` timing only the work itself.
//!
//! `peer_tasks TASK PATH [COUNT] [SIZE]`

use npzmap::npy::NpyAppender;
use npzmap::{DType, Order};
use std::io::Write;
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
            std::hint::black_box(crc.finalize());
            report(t.elapsed().as_secs_f64(), count);
        }
        "append" => {
            // Rows of 1024 f64 (8 KiB); a 16 MiB chunk is 2048 rows.
            let rows = (size / 8192).max(1) as u64;
            let vals: Vec<f64> = data(size / 8).iter().map(|&b| f64::from(b)).collect();
            let _ = std::fs::remove_file(&path);
            let t = Instant::now();
            let app = NpyAppender::options()
                .rewrite_header_on_append(false)
                .create(&path, DType::parse("<f8")?, &[1024], Order::C)?;
            for _ in 0..count {
                app.append(&vals, &[rows, 1024])?;
            }
            app.close()?;
            report(t.elapsed().as_secs_f64(), count);
        }
        other => {
            eprintln!("unknown task {other}");
            std::process::exit(2);
        }
    }
    Ok(())
}
