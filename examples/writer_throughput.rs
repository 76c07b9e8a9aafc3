//! Writer throughput: `cargo run --release --example writer_throughput [dir]`.
//! Compares NpzWriter with plain `write` of the same bytes.
use npzmap::Order;
use npzmap::npz::NpzWriter;
use std::io::Write;
use std::time::Instant;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let big = vec![1.5f64; 2 << 20]; // 16 MiB
    let bytes: &[u8] = bytemuck::cast_slice(&big);
    for round in 0..3 {
        let p = dir.join("tp_plain.bin");
        let t = Instant::now();
        let mut f = std::fs::File::create(&p).unwrap();
        for _ in 0..64 {
            f.write_all(bytes).unwrap();
        }
        drop(f);
        let plain = t.elapsed();
        std::fs::remove_file(&p).unwrap();
        let p = dir.join("tp.npz");
        let t = Instant::now();
        let mut w = NpzWriter::options()
            .fsync(false)
            .replace(true)
            .create(&p)
            .unwrap();
        for i in 0..64 {
            w.write(&format!("a{i}"), &big, &[big.len() as u64], Order::C)
                .unwrap();
        }
        w.close().unwrap();
        let ours = t.elapsed();
        std::fs::remove_file(&p).unwrap();
        let gib = 1.0; // 64 x 16 MiB
        println!(
            "round {round}: 64 x 16 MiB: plain write {:.2} GiB/s, NpzWriter {:.2} GiB/s ({:.0}%)",
            gib / plain.as_secs_f64(),
            gib / ours.as_secs_f64(),
            100.0 * plain.as_secs_f64() / ours.as_secs_f64()
        );
    }
    let small = vec![7u8; 1024];
    for round in 0..3 {
        let p = dir.join("tp_small.npz");
        let t = Instant::now();
        let mut w = NpzWriter::options()
            .fsync(false)
            .replace(true)
            .create(&p)
            .unwrap();
        for i in 0..100_000 {
            w.write(&format!("k{i}"), &small, &[1024], Order::C)
                .unwrap();
        }
        w.close().unwrap();
        let e = t.elapsed();
        std::fs::remove_file(&p).unwrap();
        println!(
            "round {round}: 100000 x 1 KiB: {:.0} entries/s ({:?})",
            100_000.0 / e.as_secs_f64(),
            e
        );
    }
}
