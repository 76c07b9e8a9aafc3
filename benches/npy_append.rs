//! NPY append throughput against the write limit (a plain `write` of the
//! same bytes to the same file system), in one group so ratios come from
//! the same run.
//!
//! `cargo bench --bench npy_append`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use npzmap::npy::NpyAppender;
use npzmap::{DType, Order};
use std::io::Write;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    for &(label, chunk, count) in &[("8KiB", 8usize << 10, 2000u64), ("16MiB", 16usize << 20, 8)] {
        let rows = (chunk / 8192) as u64;
        let vals: Vec<f64> = (0..chunk / 8).map(|i| i as f64).collect();
        let bytes: &[u8] = bytemuck::cast_slice(&vals);
        let mut g = c.benchmark_group(format!("npy_append_{label}"));
        g.throughput(Throughput::Bytes(chunk as u64 * count));
        g.sample_size(10);
        let path = dir.path().join("a.npy");
        g.bench_function(BenchmarkId::new("limit_plain_write", count), |b| {
            b.iter(|| {
                let mut f = std::fs::File::create(&path).expect("create");
                for _ in 0..count {
                    f.write_all(bytes).expect("write");
                }
            })
        });
        for (name, rewrite) in [
            ("npzmap_deferred_header", false),
            ("npzmap_header_per_append", true),
        ] {
            g.bench_function(BenchmarkId::new(name, count), |b| {
                b.iter(|| {
                    let app = NpyAppender::options()
                        .rewrite_header_on_append(rewrite)
                        .replace_existing(true)
                        .create(
                            &path,
                            DType::parse("<f8").expect("dtype"),
                            &[1024],
                            Order::C,
                        )
                        .expect("create");
                    for _ in 0..count {
                        app.append(&vals, &[rows, 1024]).expect("append");
                    }
                    // Write the header; no fsync (the limit does not fsync either).
                    app.flush().expect("flush");
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
