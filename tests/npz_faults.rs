//! Writer fault injection at the OS write (feature `test-hooks`, enabled for
//! the crate's own tests): a one-shot fault is armed at every byte offset of
//! a writing session, over every phase (stored members, a streamed member's
//! data and its final header patch, the central directory and end records
//! at close, appends to an existing archive). After each fault the archive
//! (closed, or recovered where close failed) must equal byte for byte a
//! fault-free archive of exactly the members whose write returned `Ok`.

mod common;

use npzmap::npz::{NpzWriter, recover_in_place};
use npzmap::{DType, Error, Order};
use std::path::{Path, PathBuf};

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// One step of a writing session.
#[derive(Clone)]
enum Op {
    /// A stored array in one `write`.
    Write(&'static str, Vec<u8>),
    /// A streamed `u8` member of rows of 100 bytes, appended in chunks.
    Stream(&'static str, Vec<Vec<u8>>),
}

impl Op {
    fn key(&self) -> &'static str {
        match self {
            Op::Write(k, _) | Op::Stream(k, _) => k,
        }
    }
}

/// Runs `ops` (all when `only` is None, else those whose key is in it)
/// on `w`; returns the keys whose write returned Ok. Every error must be an
/// I/O error naming the member; the writer stays usable afterwards.
fn run_ops(w: &mut NpzWriter, ops: &[Op], only: Option<&[&str]>) -> Vec<&'static str> {
    let mut ok = Vec::new();
    for op in ops {
        if only.is_some_and(|o| !o.contains(&op.key())) {
            continue;
        }
        let r = match op {
            Op::Write(k, data) => w.write(k, data, &[data.len() as u64], Order::C),
            Op::Stream(k, chunks) => {
                let mut s = w
                    .begin(k, DType::parse("|u1").unwrap(), &[100], Order::C)
                    .unwrap();
                let mut r = Ok(());
                for c in chunks {
                    r = s.append(c);
                    if r.is_err() {
                        break;
                    }
                }
                match r {
                    Ok(()) => s.finish().map(drop),
                    Err(e) => Err(e),
                }
            }
        };
        match r {
            Ok(()) => ok.push(op.key()),
            Err(e) => {
                assert!(matches!(e, Error::Io { .. }), "{e}");
                assert!(e.to_string().contains(op.key()), "{e}");
            }
        }
    }
    ok
}

fn options() -> npzmap::npz::WriterOptions {
    NpzWriter::options().buffer_size(4096).fsync(false)
}

/// Writes `base` (fault-free) to `path` unless empty, then a session of `ops`
/// (created or appended) with a fault after `fail_at` OS bytes when given.
/// Returns the keys written Ok and whether close succeeded.
fn session(
    path: &Path,
    base: &[Op],
    ops: &[Op],
    fail_at: Option<u64>,
    only: Option<&[&str]>,
) -> (Vec<&'static str>, bool) {
    let _ = std::fs::remove_file(path);
    let mut opts = options();
    if let Some(n) = fail_at {
        opts = opts.fail_after_bytes(n);
    }
    let mut w = if base.is_empty() {
        opts.create(path).unwrap()
    } else {
        let mut b = options().create(path).unwrap();
        assert_eq!(run_ops(&mut b, base, None).len(), base.len());
        b.close().unwrap();
        opts.append(path).unwrap()
    };
    let ok = run_ops(&mut w, ops, only);
    let closed = match w.close() {
        Ok(()) => true,
        Err(e) => {
            assert!(matches!(e, Error::Io { .. }), "{e}");
            false
        }
    };
    (ok, closed)
}

struct Sweep {
    dir: tempfile::TempDir,
    base: Vec<Op>,
    ops: Vec<Op>,
    /// Fault-free archives by the keys they hold.
    refs: std::cell::RefCell<std::collections::HashMap<Vec<&'static str>, Vec<u8>>>,
}

/// Outcome counts of a sweep, to check every phase was hit.
#[derive(Default, Debug)]
struct Seen {
    runs: u64,
    failed_member: Vec<u64>,
    failed_close: u64,
}

impl Sweep {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The archive a fault-free session with only `keys` writes.
    fn reference(&self, keys: &[&'static str]) -> Vec<u8> {
        if let Some(r) = self.refs.borrow().get(keys) {
            return r.clone();
        }
        let p = self.path("ref.npz");
        let (ok, closed) = session(&p, &self.base, &self.ops, None, Some(keys));
        assert!(closed);
        assert_eq!(ok, keys);
        let r = std::fs::read(&p).unwrap();
        self.refs.borrow_mut().insert(keys.to_vec(), r.clone());
        r
    }

    /// Runs the session with the fault at `fail_at`; checks the promise.
    /// Returns false when the fault never fired (past the last byte).
    fn run(&self, fail_at: u64, seen: &mut Seen, samples: &mut Vec<PathBuf>) -> bool {
        let p = self.path("f.npz");
        let (ok, closed) = session(&p, &self.base, &self.ops, Some(fail_at), None);
        let all: Vec<&str> = self.ops.iter().map(Op::key).collect();
        let want = self.reference(&ok);
        if closed && ok == all {
            // The fault never fired: the whole session's bytes fit below it.
            assert_eq!(std::fs::read(&p).unwrap(), want, "fault at {fail_at}");
            return false;
        }
        seen.runs += 1;
        seen.failed_member.resize(all.len(), 0);
        if closed {
            // Exactly one member failed, the others all landed.
            assert_eq!(ok.len() + 1, all.len(), "fault at {fail_at}: {ok:?}");
            let i = all.iter().position(|k| !ok.contains(k)).unwrap();
            seen.failed_member[i] += 1;
        } else {
            // close failed: every member landed; the file holds them and no
            // directory (truncated where it began); recovery rebuilds it.
            assert_eq!(ok, all, "fault at {fail_at}");
            seen.failed_close += 1;
            let cd_offset = directory_offset(&want);
            let got = std::fs::read(&p).unwrap();
            assert_eq!(got.len() as u64, cd_offset, "fault at {fail_at}");
            assert_eq!(got[..], want[..cd_offset as usize], "fault at {fail_at}");
            let report = recover_in_place(&p).unwrap();
            let base_keys: Vec<String> = self
                .base
                .iter()
                .chain(&self.ops)
                .map(|o| format!("{}.npy", o.key()))
                .collect();
            assert_eq!(report.kept, base_keys, "fault at {fail_at}");
            assert!(report.dropped.is_empty(), "{:?}", report.dropped);
        }
        let got = std::fs::read(&p).unwrap();
        assert!(
            got == want,
            "fault at {fail_at}: archive differs from a fault-free one of {ok:?} \
             ({} vs {} bytes)",
            got.len(),
            want.len()
        );
        // The members written Ok hold their data (independent reader).
        let members = common::zip_members(&p);
        let expect: Vec<&Op> = self
            .base
            .iter()
            .chain(self.ops.iter().filter(|o| ok.contains(&o.key())))
            .collect();
        assert_eq!(members.len(), expect.len(), "fault at {fail_at}");
        for ((name, bytes), op) in members.iter().zip(expect) {
            assert_eq!(name, &format!("{}.npy", op.key()));
            let data: Vec<u8> = match op {
                Op::Write(_, d) => d.clone(),
                Op::Stream(_, c) => c.concat(),
            };
            assert!(bytes.ends_with(&data), "member {name} at fault {fail_at}");
        }
        if samples.len() < 64 && fail_at.is_multiple_of(97) {
            let s = self.path(&format!("sample{fail_at}.npz"));
            std::fs::copy(&p, &s).unwrap();
            samples.push(s);
        }
        true
    }
}

/// The central directory offset of an archive (its end record, parsed
/// independently of the crate).
fn directory_offset(archive: &[u8]) -> u64 {
    let eocd = archive.len() - 22;
    assert_eq!(&archive[eocd..eocd + 4], b"PK\x05\x06");
    let off = u32::from_le_bytes(archive[eocd + 16..eocd + 20].try_into().unwrap());
    assert_ne!(off, u32::MAX, "small archives need no ZIP64");
    u64::from(off)
}

/// np.load reads every sampled archive, each member as written.
fn numpy_check(samples: &[PathBuf]) {
    let Some(py) = common::python() else { return };
    let script = r#"
import sys, numpy as np
for p in sys.argv[1:]:
    with np.load(p) as d:
        for k in d.files:
            a = d[k]
            assert a.dtype == np.dtype("u1"), (p, k, a.dtype)
print("ok", len(sys.argv) - 1)
"#;
    let args: Vec<&dyn AsRef<std::ffi::OsStr>> = samples
        .iter()
        .map(|p| p as &dyn AsRef<std::ffi::OsStr>)
        .collect();
    let out = common::run(&py, script, &args);
    assert_eq!(out.trim(), format!("ok {}", samples.len()));
}

fn sweep_all(s: &Sweep, step: impl Fn(u64) -> u64) -> Seen {
    let mut seen = Seen::default();
    let mut samples = Vec::new();
    let mut at = 0u64;
    while s.run(at, &mut seen, &mut samples) {
        at += step(at);
    }
    numpy_check(&samples);
    seen
}

fn session_ops() -> Vec<Op> {
    vec![
        // small: headers and data in one buffered write
        Op::Write("a", pattern(100, 1)),
        // large (>= half the buffer): one vectored write from the slice
        Op::Write("b", pattern(3000, 2)),
        // streamed: buffered appends, a flush when the buffer fills, and the
        // final positioned patch of the local and npy headers
        Op::Stream(
            "s",
            vec![pattern(1500, 3), pattern(2500, 4), pattern(700, 5)],
        ),
        Op::Write("c", pattern(50, 6)),
    ]
}

#[test]
fn a_fault_at_every_byte_leaves_a_fault_free_archive_of_the_members_written() {
    let s = Sweep {
        dir: tempfile::tempdir().unwrap(),
        base: vec![],
        ops: session_ops(),
        refs: Default::default(),
    };
    let seen = sweep_all(&s, |_| 1);
    // Every phase was hit: each member and the directory.
    assert!(seen.failed_member[..4].iter().all(|&n| n > 0), "{seen:?}");
    assert!(seen.failed_close > 0, "{seen:?}");
    // Every byte offset of the session is one run: the file's bytes plus the
    // streamed member's header patch.
    let full = s.reference(&["a", "b", "s", "c"]);
    assert!(
        seen.runs >= full.len() as u64,
        "{seen:?} for {}",
        full.len()
    );
}

#[test]
fn a_fault_while_appending_leaves_the_old_members_and_those_written() {
    let s = Sweep {
        dir: tempfile::tempdir().unwrap(),
        base: vec![
            Op::Write("old0", pattern(200, 7)),
            Op::Stream("old1", vec![pattern(300, 8)]),
        ],
        ops: session_ops(),
        refs: Default::default(),
    };
    let seen = sweep_all(&s, |_| 1);
    assert!(seen.failed_member[..4].iter().all(|&n| n > 0), "{seen:?}");
    assert!(seen.failed_close > 0, "{seen:?}");
}

#[test]
fn a_fault_in_a_directory_of_many_writes() {
    // 32 members with long names: the central directory takes more than one
    // OS write of the 4 KiB buffer; sweep densely over the whole session.
    let names: Vec<&'static str> = (0..32)
        .map(|i| &*format!("member_{i:03}_{}", "with_a_long_name".repeat(6)).leak())
        .collect();
    let ops: Vec<Op> = names
        .iter()
        .enumerate()
        .map(|(i, k)| Op::Write(k, pattern(10 + i, i as u8)))
        .collect();
    let s = Sweep {
        dir: tempfile::tempdir().unwrap(),
        base: vec![],
        ops,
        refs: Default::default(),
    };
    let full = s.reference(&names);
    let cd = directory_offset(&full);
    assert!(full.len() as u64 - cd > 4096);
    // Members: every 29th byte; the directory every 3rd; the end records
    // (the last 100 bytes) every byte.
    let tail = full.len() as u64 - 100;
    let seen = sweep_all(&s, |at| match at {
        _ if at < cd => 29,
        _ if at < tail => 3,
        _ => 1,
    });
    assert!(seen.failed_member.iter().all(|&n| n > 0), "{seen:?}");
    assert!(
        seen.failed_close as usize >= (full.len() - cd as usize) / 3 + 60,
        "{seen:?} directory at {cd} of {}",
        full.len()
    );
}

#[test]
fn a_fault_inside_a_chunked_large_member() {
    // A member of 5 MiB is written in 256 KiB chunks with a CRC patched into
    // its local header at the end: faults in its header, at chunk
    // boundaries, inside chunks, on its last bytes and in the CRC patch (the
    // 4 OS bytes right after all of its bytes) each leave a fault-free
    // archive of the other members, and the writer goes on.
    const BIG: usize = 5 << 20;
    let s = Sweep {
        dir: tempfile::tempdir().unwrap(),
        base: vec![],
        ops: vec![
            Op::Write("a", pattern(100, 1)),
            Op::Write("big", pattern(BIG, 9)),
            Op::Write("c", pattern(50, 6)),
        ],
        refs: Default::default(),
    };
    let full = s.reference(&["a", "big", "c"]);
    // OS bytes before the patch: everything up to "c"'s local header.
    let big_end = local_header_offset(&full, "c.npy");
    let big_start = local_header_offset(&full, "big.npy");
    let mut offsets: Vec<u64> = vec![big_start, big_start + 14, big_start + 40, big_start + 200];
    for k in 1..20u64 {
        offsets.push(big_start + k * (256 << 10));
        offsets.push(big_start + k * (256 << 10) + 333);
    }
    offsets.extend((big_end - 3)..(big_end + 4));
    let mut seen = Seen::default();
    let mut samples = Vec::new();
    for at in offsets {
        assert!(
            s.run(at, &mut seen, &mut samples),
            "fault at {at} never fired"
        );
    }
    // Every fault above hit "big" (its bytes or its CRC patch).
    assert_eq!(seen.failed_member, vec![0, seen.runs, 0], "{seen:?}");
    numpy_check(&samples);
}

/// Offset of the local header of member `name` (found by its signature and
/// name, independently of the crate).
fn local_header_offset(archive: &[u8], name: &str) -> u64 {
    (0..archive.len() - 30)
        .find(|&o| {
            archive[o..o + 4] == *b"PK\x03\x04" && {
                let n = u16::from_le_bytes([archive[o + 26], archive[o + 27]]) as usize;
                archive.get(o + 30..o + 30 + n) == Some(name.as_bytes())
            }
        })
        .unwrap() as u64
}
