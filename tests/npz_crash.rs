//! Crash test for `NpzWriter`: a child process (this test binary,
//! re-executed) writes large members in a loop (stored and streamed, on a
//! fresh archive or appending to one) and records each member whose write
//! returned in a marker file (one `write` per line, a channel of its own: no
//! mixing with the test harness' output). The parent waits for the first
//! commits, calibrates the kill delay from them and SIGKILLs the child at a
//! random moment, so that most kills land inside a member. Then `recover`
//! must keep every reported member (the first one included) and every old
//! one, bit-identical.

mod common;

use npzmap::npz::{NpzWriter, recover, recover_in_place};
use npzmap::{DType, Header, Order};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const CHILD_ENV: &str = "NPZMAP_NPZ_CRASH_CHILD";
const POOL: usize = 8 << 20;

fn members(path: &Path) -> BTreeMap<String, Vec<u8>> {
    common::zip_members(path).into_iter().collect()
}

/// A pool of pseudo-random bytes; members are slices of it.
fn pool() -> Vec<u8> {
    let mut s = 0x1234_5678_9abc_def1u64;
    (0..POOL / 8)
        .flat_map(|_| xorshift(&mut s).to_le_bytes())
        .collect()
}

/// Entry `i`: key, header and where its data lies in the pool. Sizes from
/// 1 to 5 MiB, so that writing dominates the child's time.
fn entry(i: u64) -> (String, Header, std::ops::Range<usize>) {
    let n = (1 << 18) + (i * 7919 % 5) as usize * (1 << 18); // i4 elements
    let start = (i as usize * 4099 * 4) % (POOL - n * 4);
    let h = Header::for_array(DType::parse("<i4").unwrap(), vec![n as u64], Order::C);
    (format!("e{i}"), h, start..start + n * 4)
}

fn npy_bytes(h: &Header, data: &[u8]) -> Vec<u8> {
    let mut b = h.to_bytes().unwrap();
    b.extend_from_slice(data);
    b
}

/// Child mode: writes entries forever (two of three streamed), appending a
/// line `i` to the marker file once member `i`'s write returned.
fn child(path: &str, markers: &str, append: bool) {
    let pool = pool();
    let mut w = if append {
        NpzWriter::append(path).unwrap()
    } else {
        NpzWriter::create_or_replace(path).unwrap()
    };
    let mut m = std::fs::OpenOptions::new()
        .append(true)
        .open(markers)
        .unwrap();
    for i in 0.. {
        let (key, h, range) = entry(i);
        let data = &pool[range];
        if i % 3 != 0 {
            let mut s = w.begin(&key, h.dtype.clone(), &[], Order::C).unwrap();
            for part in data.chunks(768 << 10) {
                s.append_bytes(part).unwrap();
            }
            s.finish().unwrap();
        } else {
            w.write_bytes(&key, &h, data).unwrap();
        }
        m.write_all(format!("{i}\n").as_bytes()).unwrap();
    }
}

#[test]
fn crash_child() {
    // Only does something when re-executed by the crash test.
    if let Ok(mode) = std::env::var(CHILD_ENV) {
        let path = std::env::var("NPZMAP_NPZ_CRASH_PATH").unwrap();
        let markers = std::env::var("NPZMAP_NPZ_CRASH_MARKERS").unwrap();
        child(&path, &markers, mode == "append");
    }
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn commits(markers: &Path) -> Vec<u64> {
    let text = std::fs::read_to_string(markers).unwrap_or_default();
    // only whole lines (a line is one write, but be strict)
    let whole = text.rfind('\n').map_or("", |e| &text[..e]);
    whole.lines().map(|l| l.parse().unwrap()).collect()
}

/// End of the last member in an archive (local header offset + header +
/// data), from the zip crate.
fn members_end(path: &Path) -> u64 {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..z.len())
        .map(|i| {
            let f = z.by_index_raw(i).unwrap();
            f.data_start().unwrap() + f.compressed_size()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn sigkill_lands_inside_members_and_loses_nothing_reported() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let pool = pool();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
    let start = Instant::now();
    let runs = 16;
    let mut inside = 0;
    for run in 0..runs {
        let append = run % 2 == 1;
        let path = dir.path().join(format!("c{run}.npz"));
        let markers = dir.path().join(format!("c{run}.commits"));
        std::fs::write(&markers, b"").unwrap();
        let mut before = BTreeMap::new();
        let mut old_len = 0;
        if append {
            let mut w = NpzWriter::create(&path).unwrap();
            w.write("old1", &[1i64, 2, 3], &[3], Order::C).unwrap();
            w.write("old2", &[1.0f64; 6], &[2, 3], Order::C).unwrap();
            w.close().unwrap();
            before = members(&path);
            old_len = std::fs::metadata(&path).unwrap().len();
        }
        let mode = if append { "append" } else { "create" };
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, mode)
            .env("NPZMAP_NPZ_CRASH_PATH", &path)
            .env("NPZMAP_NPZ_CRASH_MARKERS", &markers)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait for the first commits; the time per member calibrates the
        // kill delay (uniform over two members' time).
        let random = xorshift(&mut seed);
        common::kill_mid_step(&mut child, run, || commits(&markers).len(), random);
        let reported = commits(&markers);
        // every run did something
        assert!(reported.len() >= 3, "run {run}: {reported:?}");
        assert_eq!(reported, (0..reported.len() as u64).collect::<Vec<_>>());
        let len = std::fs::metadata(&path).unwrap().len();

        let fixed = dir.path().join(format!("c{run}.fixed.npz"));
        let report = recover(&path, &fixed).unwrap();
        let got = members(&fixed);
        // every reported member, the first one included, is there intact;
        // a kept member that was not reported yet (its write had just
        // returned) is intact too
        let new: Vec<&String> = got.keys().filter(|k| k.starts_with('e')).collect();
        assert!(new.len() >= reported.len(), "run {run}: {report:?}");
        assert!(new.len() <= reported.len() + 1, "run {run}: {report:?}");
        for i in 0..new.len() as u64 {
            let (key, h, range) = entry(i);
            let m = got
                .get(&format!("{key}.npy"))
                .unwrap_or_else(|| panic!("run {run}: {key} lost; report {report:?}"));
            assert!(
                m == &npy_bytes(&h, &pool[range]),
                "run {run}: {key} differs"
            );
        }
        for (name, bytes) in &before {
            assert_eq!(got.get(name), Some(bytes), "run {run}: old {name} lost");
        }
        assert_eq!(got.len(), report.kept.len());
        assert_eq!(got.len(), new.len() + before.len());
        // killed inside a member: the file holds bytes of a started member
        // after the last complete one (or after the old archive)
        let end = members_end(&fixed).max(old_len);
        assert!(len >= end, "run {run}");
        if len > end {
            inside += 1;
            assert_eq!(report.dropped.len(), 1, "run {run}: {report:?}");
        } else {
            assert!(report.dropped.is_empty(), "run {run}: {report:?}");
        }
        // the in-place variant agrees
        let r2 = recover_in_place(&path).unwrap();
        assert_eq!(r2.kept, report.kept);
        assert_eq!(members(&path), got);
        for p in [path, fixed, markers] {
            let _ = std::fs::remove_file(p);
        }
    }
    eprintln!(
        "{runs} crash runs in {:?}, {inside} killed inside a member",
        start.elapsed()
    );
    assert!(
        inside * 2 > runs,
        "only {inside} of {runs} kills landed inside a member"
    );
}
