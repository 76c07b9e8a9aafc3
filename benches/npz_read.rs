//! Read-side benchmarks against the read limits and the Rust peers.
//!
//! Archives are created once per run in a temp dir with `NpzWriter` (so
//! they are in the page cache: these are warm-cache numbers).
//!
//! * `open`: `NpzReader::open` of archives of 1k, 100k and 1M members of
//!   16-byte `u8` arrays; ndarray-npy's `NpzReader::new` (which parses the
//!   central directory with the `zip` crate) on the same files.
//! * `first_access`: the parse path of a member's headers, two ways:
//!   - `fresh_reader_10k_of_100k`: a reader freshly opened (outside the
//!     timing) on the 100k archive, then `get` of 10,000 distinct keys: true
//!     first accesses, including the page faults of a new map. Time per
//!     iteration is for 10,000 accesses (see the elements/s).
//!   - `cache_off_100k`: one reader with `ReaderOptions::cache(false)`, so
//!     every `get` re-reads the local and NPY headers; keys cycle over the
//!     same 10,000. Time per access.
//! * `cached_access`: `get` and `get_slice::<u8>` of the same key again.
//! * `read_1GiB`: one aligned 1 GiB `u64` member: `get_slice::<u64>` and a
//!   wrapping sum, against `limit_sum` (the same sum over the same mapped
//!   bytes, taken once outside the timing) and `limit_memcpy` (copying the
//!   same mapped bytes through a 1 MiB buffer).
//! * `verify_1GiB`: `NpzReader::verify` of that archive against
//!   `limit_crc32` (`crc32fast` over the same mapped member bytes).
//! * `npy_read_128MiB`: a 128 MiB `u64` `.npy`, opened and summed each
//!   iteration: npzmap's `NpyFile`, ndarray-npy's `ViewNpyExt::view_npy` on
//!   a fresh `mmap` and `read_npy`, npyz's `NpyFile::into_vec`, and
//!   `limit_mmap_sum` (fresh `mmap`, sum of the data bytes).
//!
//! `cargo bench --bench npz_read`

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use ndarray_npy::ViewNpyExt;
use npzmap::npy::NpyFile;
use npzmap::{DType, NpzReader, NpzWriter, Order, ReaderOptions};
use std::fs::File;
use std::hint::black_box;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Duration;

const MIB: usize = 1 << 20;
const GIB: usize = 1 << 30;

fn key(i: u64) -> String {
    format!("a{i:07}")
}

/// `n` distinct keys of an `members`-member archive (as peer_tasks).
fn access_keys(members: u64, n: u64) -> Vec<String> {
    (0..n)
        .map(|j| key((12345 + j * 999_983) % members))
        .collect()
}

fn sum_u64(words: &[u64]) -> u64 {
    words.iter().fold(0u64, |a, &x| a.wrapping_add(x))
}

fn words(n: usize, seed: u64) -> Vec<u64> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        })
        .collect()
}

fn make_many(dir: &Path, members: u64) -> PathBuf {
    let path = dir.join(format!("many_{members}.npz"));
    let mut w = NpzWriter::options()
        .fsync(false)
        .create(&path)
        .expect("create");
    let tiny = [7u8; 16];
    for i in 0..members {
        w.write(&key(i), &tiny, &[16], Order::C).expect("write");
    }
    w.close().expect("close");
    path
}

fn make_big(dir: &Path) -> PathBuf {
    let path = dir.join("big.npz");
    let chunk = words(16 * MIB / 8, 42);
    let mut w = NpzWriter::options()
        .fsync(false)
        .create(&path)
        .expect("create");
    let mut e = w
        .begin("x", DType::parse("<u8").expect("dtype"), &[], Order::C)
        .expect("begin");
    for _ in 0..GIB / (16 * MIB) {
        e.append(&chunk).expect("append");
    }
    e.finish().expect("finish");
    w.close().expect("close");
    path
}

fn bench_open(c: &mut Criterion, many: &[(u64, PathBuf)]) {
    let mut g = c.benchmark_group("open");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (n, path) in many {
        let label = match n {
            1_000 => "1k",
            100_000 => "100k",
            _ => "1M",
        };
        g.throughput(Throughput::Elements(*n));
        g.bench_function(format!("npzmap/{label}"), |b| {
            b.iter_with_large_drop(|| {
                let r = NpzReader::open(path).expect("open");
                assert_eq!(r.len(), *n);
                r
            })
        });
        g.bench_function(format!("ndarray_npy/{label}"), |b| {
            b.iter_with_large_drop(|| {
                let f = File::open(path).expect("open");
                let r = ndarray_npy::NpzReader::new(f).expect("open");
                assert_eq!(r.len() as u64, *n);
                r
            })
        });
    }
    g.finish();
}

fn bench_access(c: &mut Criterion, path_100k: &Path) {
    let keys = access_keys(100_000, 10_000);
    let mut g = c.benchmark_group("first_access");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(keys.len() as u64));
    g.bench_function("fresh_reader_10k_of_100k", |b| {
        b.iter_batched(
            || NpzReader::open(path_100k).expect("open"),
            |r| {
                for k in &keys {
                    black_box(r.get(k).expect("get"));
                }
                r
            },
            BatchSize::PerIteration,
        )
    });
    g.throughput(Throughput::Elements(1));
    let r = NpzReader::open_with(path_100k, ReaderOptions::new().cache(false)).expect("open");
    let mut i = 0;
    g.bench_function("cache_off_100k", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(r.get(&keys[i]).expect("get")).len()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("cached_access");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(1));
    let r = NpzReader::open(path_100k).expect("open");
    let k = key(4242);
    r.get(&k).expect("get");
    g.bench_function("get", |b| {
        b.iter(|| r.get(black_box(&k)).expect("get").len())
    });
    g.bench_function("get_slice_u8", |b| {
        b.iter(|| r.get_slice::<u8>(black_box(&k)).expect("get").len())
    });
    g.finish();
}

fn bench_big(c: &mut Criterion, big: &Path) {
    let r = NpzReader::open(big).expect("open");
    let view = r.get("x").expect("get");
    let bytes: &[u8] = view.as_bytes();
    // The same mapped bytes as npzmap reads (the member is 64-byte aligned).
    let mapped: &[u64] = bytemuck::cast_slice(bytes);
    // Fault the mapping in once, for everyone.
    black_box(sum_u64(mapped));

    let mut g = c.benchmark_group("read_1GiB");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("npzmap_get_slice_sum", |b| {
        b.iter(|| sum_u64(&r.get_slice::<u64>("x").expect("get_slice")))
    });
    g.bench_function("limit_sum", |b| b.iter(|| sum_u64(black_box(mapped))));
    let mut buf = vec![0u8; MIB];
    g.bench_function("limit_memcpy", |b| {
        b.iter(|| {
            for chunk in black_box(bytes).chunks(MIB) {
                buf[..chunk.len()].copy_from_slice(chunk);
                black_box(&buf);
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("verify_1GiB");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("npzmap_verify", |b| b.iter(|| assert!(r.verify().is_ok())));
    g.bench_function("limit_crc32", |b| {
        b.iter(|| crc32fast::hash(black_box(bytes)))
    });
    g.finish();
}

fn bench_npy(c: &mut Criterion, dir: &Path) {
    let n = 128 * MIB / 8;
    let path = dir.join("x.npy");
    npzmap::npy::write(&path, &words(n, 7), &[n as u64], Order::C).expect("write npy");
    let data_offset = std::fs::metadata(&path).expect("stat").len() as usize - n * 8;
    let mut g = c.benchmark_group("npy_read_128MiB");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Bytes((n * 8) as u64));
    let map = |p: &Path| {
        let f = File::open(p).expect("open");
        // SAFETY: read-only map of a file nobody modifies during the bench.
        unsafe { memmap2::Mmap::map(&f) }.expect("mmap")
    };
    g.bench_function("limit_mmap_sum", |b| {
        b.iter(|| {
            let m = map(&path);
            sum_u64(bytemuck::cast_slice(&m[data_offset..]))
        })
    });
    g.bench_function("npzmap_npyfile_sum", |b| {
        b.iter(|| {
            let f = NpyFile::open(&path).expect("open");
            sum_u64(f.view().as_slice::<u64>().expect("slice"))
        })
    });
    g.bench_function("ndarray_npy_view_npy_sum", |b| {
        b.iter(|| {
            let m = map(&path);
            let v = ndarray::ArrayView1::<u64>::view_npy(&m).expect("view_npy");
            sum_u64(v.as_slice().expect("contiguous"))
        })
    });
    g.bench_function("ndarray_npy_read_npy_sum", |b| {
        b.iter(|| {
            let a: ndarray::Array1<u64> = ndarray_npy::read_npy(&path).expect("read_npy");
            sum_u64(a.as_slice().expect("contiguous"))
        })
    });
    g.bench_function("npyz_into_vec_sum", |b| {
        b.iter(|| {
            let f = BufReader::new(File::open(&path).expect("open"));
            let v: Vec<u64> = npyz::NpyFile::new(f)
                .expect("npyz")
                .into_vec()
                .expect("into_vec");
            sum_u64(&v)
        })
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let many: Vec<(u64, PathBuf)> = [1_000u64, 100_000, 1_000_000]
        .into_iter()
        .map(|n| (n, make_many(dir.path(), n)))
        .collect();
    bench_open(c, &many);
    bench_access(c, &many[1].1);
    for (_, p) in &many {
        let _ = std::fs::remove_file(p);
    }
    let big = make_big(dir.path());
    bench_big(c, &big);
    let _ = std::fs::remove_file(&big);
    bench_npy(c, dir.path());
}

criterion_group!(benches, bench);
criterion_main!(benches);
