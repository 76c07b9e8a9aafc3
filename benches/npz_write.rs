//! Archive write throughput against the write limits and the Rust peers,
//! in one group per workload so ratios come from the same run.
//!
//! * `write_64x16MiB`: 64 `u8` arrays of 16 MiB (1 GiB).
//!   - `limit_plain_write`: `write` of the same array bytes to a new file on
//!     the same file system (the write limit);
//!   - `limit_write_crc32`: the same plus `crc32fast` over every byte (the
//!     least a stored zip writer must do);
//!   - `npzmap`: `NpzWriter::write` per array, `fsync(false)`;
//!   - `zip_crate_stored_crc`: the `zip` crate, stored members (it computes
//!     the CRC), each the npy header followed by the array bytes;
//!   - `ndarray_npy_npz`: ndarray-npy's `NpzWriter::add_array` (stored).
//! * `write_100k_x_1KiB`: 100,000 `u8` arrays of 1 KiB; npzmap, the zip
//!   crate and ndarray-npy.
//!
//! The file is deleted (and `sync` run) before each iteration, outside the
//! timing; nothing
//! fsyncs, so this is the speed into the page cache. Peers write through a
//! `BufWriter` (1 MiB, like npzmap's buffer).
//!
//! `cargo bench --bench npz_write`

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use npzmap::{DType, Header, NpzWriter, Order};
use std::fs::File;
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Duration;

const MIB: usize = 1 << 20;

fn data(size: usize) -> Vec<u8> {
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

fn keys(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("a{i:07}")).collect()
}

fn npzmap_write(path: &Path, keys: &[String], buf: &[u8]) {
    let mut w = NpzWriter::options()
        .fsync(false)
        .replace(true)
        .create(path)
        .expect("create");
    for k in keys {
        w.write(k, buf, &[buf.len() as u64], Order::C)
            .expect("write");
    }
    w.close().expect("close");
}

fn zip_crate_write(path: &Path, keys: &[String], npy_header: &[u8], buf: &[u8]) {
    use zip::write::SimpleFileOptions;
    let f = BufWriter::with_capacity(MIB, File::create(path).expect("create"));
    let mut z = zip::ZipWriter::new(f);
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for k in keys {
        z.start_file(format!("{k}.npy"), opts).expect("start");
        z.write_all(npy_header).expect("write");
        z.write_all(buf).expect("write");
    }
    z.finish().expect("finish").flush().expect("flush");
}

fn ndarray_npy_write(path: &Path, keys: &[String], arr: &ndarray::Array1<u8>) {
    let f = BufWriter::with_capacity(MIB, File::create(path).expect("create"));
    let mut z = ndarray_npy::NpzWriter::new(f);
    for k in keys {
        z.add_array(k.as_str(), arr).expect("add_array");
    }
    z.finish().expect("finish").flush().expect("flush");
}

fn limit_write(path: &Path, count: usize, buf: &[u8], crc: bool) {
    let mut f = File::create(path).expect("create");
    let mut h = crc32fast::Hasher::new();
    for _ in 0..count {
        if crc {
            h.update(buf);
        }
        f.write_all(buf).expect("write");
    }
    black_box(h.finalize());
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("w.npz");
    // Before each iteration (untimed): delete the file, and `sync` so no
    // dirty pages (ours or another process's) are written back during it.
    let fresh = || {
        let _ = std::fs::remove_file(&path);
        let _ = std::process::Command::new("sync").status();
    };

    for &(group, count, size) in &[
        ("write_64x16MiB", 64usize, 16 * MIB),
        ("write_100k_x_1KiB", 100_000usize, 1024usize),
    ] {
        let buf = data(size);
        let arr = ndarray::Array1::from(buf.clone());
        let ks = keys(count);
        let hb = Header::for_array(
            DType::parse("|u1").expect("dtype"),
            vec![size as u64],
            Order::C,
        )
        .to_bytes()
        .expect("header");
        let large = size >= MIB;

        let mut g = c.benchmark_group(group);
        g.sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(if large { 8 } else { 5 }));
        g.throughput(if large {
            Throughput::Bytes((count * size) as u64)
        } else {
            Throughput::Elements(count as u64)
        });
        if large {
            g.bench_function("limit_plain_write", |b| {
                b.iter_batched(
                    fresh,
                    |()| limit_write(&path, count, &buf, false),
                    BatchSize::PerIteration,
                )
            });
            g.bench_function("limit_write_crc32", |b| {
                b.iter_batched(
                    fresh,
                    |()| limit_write(&path, count, &buf, true),
                    BatchSize::PerIteration,
                )
            });
        }
        g.bench_function("npzmap", |b| {
            b.iter_batched(
                fresh,
                |()| npzmap_write(&path, &ks, &buf),
                BatchSize::PerIteration,
            )
        });
        g.bench_function("zip_crate_stored_crc", |b| {
            b.iter_batched(
                fresh,
                |()| zip_crate_write(&path, &ks, &hb, &buf),
                BatchSize::PerIteration,
            )
        });
        g.bench_function("ndarray_npy_npz", |b| {
            b.iter_batched(
                fresh,
                |()| ndarray_npy_write(&path, &ks, &arr),
                BatchSize::PerIteration,
            )
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
