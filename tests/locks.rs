//! The lock protocol of `npzmap::fs`: views never change under the reader's
//! feet. Every operation that changes or truncates existing bytes fails with
//! `Error::Locked` while a view of the file is live (in this process and in
//! another one), and succeeds once the view is gone; appends and
//! replacements run while readers are live and leave the readers' bytes
//! alone.

use npzmap::npy::{self, AppendableMode, NpyAppender, NpyFile, NpyMapMut, NpyOptions, RecoverWith};
use npzmap::npz::{self, NpzReader, NpzWriter, ReaderOptions};
use npzmap::{Element, Error, Order};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

const CHILD_ENV: &str = "NPZMAP_LOCKS_CHILD";

fn npy_file(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    npy::write(&path, &[1u32, 2, 3, 4, 5, 6], &[3, 2], Order::C).unwrap();
    path
}

fn npz_file(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let mut w = NpzWriter::create(&path).unwrap();
    w.write("a", &[1.5f64, 2.5, 3.5], &[3], Order::C).unwrap();
    w.write("b", &[7u8; 100], &[10, 10], Order::C).unwrap();
    w.close().unwrap();
    path
}

fn is_locked<T: std::fmt::Debug>(r: npzmap::Result<T>) -> bool {
    matches!(r, Err(Error::Locked { .. }))
}

/// Every in-place mutator of an `.npy` file, as `Result<()>`.
fn npy_mutators(path: &Path) -> Vec<(&'static str, npzmap::Result<()>)> {
    vec![
        ("update", npy::update(path, &[1], &[9u32, 9])),
        ("NpyMapMut::open", NpyMapMut::open(path).map(drop)),
        ("recover", npy::recover(path, false).map(drop)),
        (
            "recover_with",
            npy::recover_with(path, &RecoverWith::new(u32::dtype(), &[2], Order::C)).map(drop),
        ),
        (
            "ensure_appendable(InPlace)",
            npy::ensure_appendable(path, AppendableMode::InPlace).map(drop),
        ),
    ]
}

fn assert_all_locked(results: Vec<(&'static str, npzmap::Result<()>)>) {
    for (name, r) in results {
        assert!(matches!(r, Err(Error::Locked { .. })), "{name}: {r:?}");
    }
}

#[test]
fn npy_mutators_are_locked_out_by_a_live_view_in_this_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = npy_file(dir.path(), "a.npy");
    let before = std::fs::read(&path).unwrap();
    let f = NpyFile::open(&path).unwrap();
    let v = f.view();
    let s = v.as_slice::<u32>().unwrap();
    assert_all_locked(npy_mutators(&path));
    assert_eq!(s, &[1, 2, 3, 4, 5, 6]);
    assert_eq!(std::fs::read(&path).unwrap(), before);

    // an owned view keeps the lock after the NpyFile is gone
    let owned = f.owned_view();
    drop(v);
    drop(f);
    assert_all_locked(npy_mutators(&path));
    assert_eq!(owned.to_vec::<u32>().unwrap(), [1, 2, 3, 4, 5, 6]);
    drop(owned);

    // a read-only map is a reader too
    let m = NpyFile::open(&path).unwrap();
    assert_all_locked(npy_mutators(&path));
    assert_eq!(m.view().as_slice::<u32>().unwrap(), &[1, 2, 3, 4, 5, 6]);
    drop(m);
    assert_eq!(std::fs::read(&path).unwrap(), before);

    // without readers every mutator runs
    for (name, r) in npy_mutators(&path) {
        assert!(r.is_ok(), "{name}: {r:?}");
    }
    let f = NpyFile::open(&path).unwrap();
    assert_eq!(f.view().to_vec::<u32>().unwrap(), [1, 2, 9, 9, 5, 6]);
}

#[test]
fn readers_are_locked_out_while_a_writable_map_lives() {
    let dir = tempfile::tempdir().unwrap();
    let path = npy_file(dir.path(), "rw.npy");
    let mut m = NpyMapMut::open(&path).unwrap();
    m.as_slice_mut::<u32>().unwrap()[0] = 100;
    assert!(is_locked(NpyFile::open(&path)));
    assert!(is_locked(NpyMapMut::open(&path)));
    assert!(is_locked(NpyAppender::open(&path)));
    assert!(is_locked(npy::overwrite_slice(
        &path,
        &[0u8],
        &[1],
        Order::C
    )));
    drop(m);
    let f = NpyFile::open(&path).unwrap();
    assert_eq!(f.view().to_vec::<u32>().unwrap(), [100, 2, 3, 4, 5, 6]);

    // npy::create's map is writable too
    let p2 = dir.path().join("new.npy");
    let c = npy::create(&p2, u16::dtype(), &[4], Order::C).unwrap();
    assert!(is_locked(NpyFile::open(&p2)));
    drop(c);
    NpyFile::open(&p2).unwrap();
}

#[test]
fn npz_recover_in_place_is_locked_out_by_a_live_view() {
    let dir = tempfile::tempdir().unwrap();
    let path = npz_file(dir.path(), "a.npz");
    let before = std::fs::read(&path).unwrap();
    let r = NpzReader::open(&path).unwrap();
    let a = r.get("a").unwrap();
    assert!(is_locked(npz::recover_in_place(&path)));
    assert_eq!(a.as_slice::<f64>().unwrap(), &[1.5, 2.5, 3.5]);
    // an owned array keeps the map, and the lock, alive
    let owned = r.get_owned("b").unwrap();
    drop(a);
    drop(r);
    assert!(is_locked(npz::recover_in_place(&path)));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    drop(owned);
    npz::recover_in_place(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn appends_run_while_readers_are_live_and_readers_keep_their_data() {
    let dir = tempfile::tempdir().unwrap();
    // .npy: the appender rewrites the header's shape, never the data a view shows
    let path = npy_file(dir.path(), "g.npy");
    let f = NpyFile::open(&path).unwrap();
    let v = f.view();
    let s = v.as_slice::<u32>().unwrap();
    for rewrite in [true, false] {
        let app = NpyAppender::options()
            .rewrite_header_on_append(rewrite)
            .open(&path)
            .unwrap();
        // a second appender and every in-place mutator keep off
        assert!(is_locked(NpyAppender::open(&path)));
        assert_all_locked(npy_mutators(&path));
        app.append(&[7u32, 8], &[1, 2]).unwrap();
        app.append(&[9u32, 10, 11, 12], &[2, 2]).unwrap();
        app.close().unwrap();
    }
    assert_eq!(s, &[1, 2, 3, 4, 5, 6]);
    assert_eq!(f.view().shape(), &[3, 2]);
    let g = NpyFile::open(&path).unwrap();
    assert_eq!(g.view().shape(), &[9, 2]);
    let want: Vec<u32> = [1, 2, 3, 4, 5, 6]
        .into_iter()
        .chain([7, 8, 9, 10, 11, 12].repeat(2))
        .collect();
    assert_eq!(g.view().to_vec::<u32>().unwrap(), want);
    drop(v);
    drop((f, g));

    // .npz: new members go after the old archive
    let path = npz_file(dir.path(), "g.npz");
    let r = NpzReader::open(&path).unwrap();
    let a = r.get("a").unwrap();
    let mut w = NpzWriter::append(&path).unwrap();
    assert!(is_locked(NpzWriter::append(&path)));
    assert!(is_locked(NpzWriter::create_or_replace(&path)));
    assert!(is_locked(npz::recover_in_place(&path)));
    w.write("c", &[42i32; 1000], &[1000], Order::C).unwrap();
    w.close().unwrap();
    assert_eq!(a.as_slice::<f64>().unwrap(), &[1.5, 2.5, 3.5]);
    assert_eq!(r.len(), 2);
    assert_eq!(r.get("b").unwrap().to_vec::<u8>().unwrap(), [7u8; 100]);
    let r2 = NpzReader::open(&path).unwrap();
    assert_eq!(r2.len(), 3);
    assert_eq!(r2.get("c").unwrap().to_vec::<i32>().unwrap(), [42; 1000]);
}

fn dir_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn replacements_leave_live_readers_their_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = npz_file(dir.path(), "r.npz");
    let old_bytes = std::fs::read(&path).unwrap();
    let r = NpzReader::open(&path).unwrap();
    let a = r.get("a").unwrap();
    let mut w = NpzWriter::create_or_replace(&path).unwrap();
    w.write("new", &[5u16; 3], &[3], Order::C).unwrap();
    // until close, the name holds the old archive
    assert_eq!(std::fs::read(&path).unwrap(), old_bytes);
    assert_eq!(NpzReader::open(&path).unwrap().len(), 2);
    assert!(is_locked(NpzWriter::append(&path)));
    w.close().unwrap();
    assert_eq!(a.as_slice::<f64>().unwrap(), &[1.5, 2.5, 3.5]);
    assert_eq!(r.get("b").unwrap().to_vec::<u8>().unwrap(), [7u8; 100]);
    let r2 = NpzReader::open(&path).unwrap();
    assert_eq!(r2.keys().collect::<Vec<_>>(), ["new"]);
    assert_eq!(r2.get("new").unwrap().to_vec::<u16>().unwrap(), [5, 5, 5]);
    drop(a);
    drop((r, r2));
    // npz::recover's output is replaced the same way
    let out = dir.path().join("out.npz");
    let mut w = NpzWriter::create(&out).unwrap();
    w.write("o", &[9i8; 4], &[4], Order::C).unwrap();
    w.close().unwrap();
    let ro = NpzReader::open(&out).unwrap();
    let o = ro.get("o").unwrap();
    npz::recover(&path, &out).unwrap();
    assert_eq!(o.as_slice::<i8>().unwrap(), &[9; 4]);
    let keys: Vec<String> = NpzReader::open(&out)
        .unwrap()
        .keys()
        .map(String::from)
        .collect();
    assert_eq!(keys, ["new"]);
    drop(o);
    drop(ro);
    std::fs::remove_file(&out).unwrap();
    // no temporary or lock files left
    assert_eq!(dir_names(dir.path()), ["r.npz"]);

    // .npy: replace_existing, overwrite and write never truncate a mapped file
    let path = npy_file(dir.path(), "r.npy");
    let f = NpyFile::open(&path).unwrap();
    let v = f.view();
    let s = v.as_slice::<u32>().unwrap();
    let app = NpyAppender::options()
        .replace_existing(true)
        .create(&path, u8::dtype(), &[2], Order::C)
        .unwrap();
    app.append(&[1u8, 2], &[1, 2]).unwrap();
    app.close().unwrap();
    assert_eq!(s, &[1, 2, 3, 4, 5, 6]);
    assert_eq!(
        NpyFile::open(&path).unwrap().view().to_vec::<u8>().unwrap(),
        [1, 2]
    );
    let g = NpyFile::open(&path).unwrap();
    npy::overwrite_slice(&path, &[3i64], &[1], Order::C).unwrap();
    let h = NpyFile::open(&path).unwrap();
    npy::write(&path, &[4i16, 5], &[2], Order::C).unwrap();
    assert_eq!(s, &[1, 2, 3, 4, 5, 6]);
    assert_eq!(g.view().to_vec::<u8>().unwrap(), [1, 2]);
    assert_eq!(h.view().to_vec::<i64>().unwrap(), [3]);
    assert_eq!(
        NpyFile::open(&path)
            .unwrap()
            .view()
            .to_vec::<i16>()
            .unwrap(),
        [4, 5]
    );
    // writing a file from a view of itself
    let vf = NpyFile::open(&path).unwrap();
    npy::write_view(&path, &vf.view()).unwrap();
    assert_eq!(vf.view().to_vec::<i16>().unwrap(), [4, 5]);
    drop(v);
    drop((vf, f, g, h));
    assert_eq!(dir_names(dir.path()), ["r.npy", "r.npz"]);
}

#[test]
fn ensure_appendable_copies_while_read_and_is_locked_out_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("legacy.npy");
    // a legacy header without spare room
    let h = npzmap::Header::new(u8::dtype(), vec![3], Order::C);
    let mut bytes = (16..200)
        .find_map(|n| h.to_bytes_exact(npy::Version::V1, n).ok())
        .unwrap();
    bytes.extend_from_slice(&[1, 2, 3]);
    std::fs::write(&path, &bytes).unwrap();
    let f = NpyFile::open(&path).unwrap();
    let v = f.view();
    let s = v.as_bytes();
    assert!(is_locked(npy::ensure_appendable(
        &path,
        AppendableMode::InPlace
    )));
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    // the copy is renamed over the name: the reader keeps the old file
    assert!(npy::ensure_appendable(&path, AppendableMode::Copy).unwrap());
    assert_eq!(s, &[1, 2, 3]);
    assert_eq!(f.parsed_header().data_offset, bytes.len() as u64 - 3);
    let g = NpyFile::open(&path).unwrap();
    assert_eq!(g.parsed_header().data_offset, 128);
    assert_eq!(g.view().as_bytes(), &[1, 2, 3]);
}

#[test]
fn a_failed_replacement_leaves_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = npz_file(dir.path(), "f.npz");
    let old_bytes = std::fs::read(&path).unwrap();
    let mut w = NpzWriter::options()
        .replace(true)
        .buffer_size(4096)
        .fail_after_bytes(5000)
        .create(&path)
        .unwrap();
    w.write("ok", &[1u8; 10], &[10], Order::C).unwrap();
    let big = vec![0u8; 100_000];
    assert!(w.write("x", &big, &[100_000], Order::C).is_err());
    // the writer stays usable; an error passed up with `?` drops it: only
    // close commits a replacement
    drop(w);
    assert_eq!(std::fs::read(&path).unwrap(), old_bytes);
    assert_eq!(dir_names(dir.path()), ["f.npz"]);
}

// ---- another process ----

/// Child mode: takes the role named in the environment, prints `ready`, and
/// holds it until its stdin closes (or it is killed).
#[test]
fn lock_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (mode, path) = spec.split_once(':').unwrap();
    let path = Path::new(path);
    let mut held: Vec<Box<dyn std::any::Any>> = Vec::new();
    let mut replacing = None;
    match mode {
        "npy-read" => {
            let f = NpyFile::open(path).unwrap();
            assert_eq!(f.view().to_vec::<u32>().unwrap(), [1, 2, 3, 4, 5, 6]);
            held.push(Box::new(f));
        }
        "npz-read" => {
            let r = NpzReader::open(path).unwrap();
            r.get("a").unwrap();
            held.push(Box::new(r));
        }
        "npy-rw" => held.push(Box::new(NpyMapMut::open(path).unwrap())),
        "npy-append" => held.push(Box::new(NpyAppender::open(path).unwrap())),
        "npz-append" => {
            let mut w = NpzWriter::append(path).unwrap();
            w.write("child", &[1u8], &[1], Order::C).unwrap();
            held.push(Box::new(w));
        }
        "npz-replace" => {
            let mut w = NpzWriter::create_or_replace(path).unwrap();
            w.write("new", &[3u64; 5000], &[5000], Order::C).unwrap();
            w.sync().unwrap();
            replacing = Some(w);
        }
        _ => panic!("unknown child mode {mode}"),
    }
    println!("\nnpzmap-child-ready");
    std::io::stdout().flush().unwrap();
    let mut sink = String::new();
    while std::io::stdin().read_line(&mut sink).unwrap() > 0 {}
    drop(held);
    if let Some(w) = replacing {
        w.close().unwrap();
    }
}

struct Holder {
    child: Child,
    stdin: Option<ChildStdin>,
    out: BufReader<ChildStdout>,
}

impl Holder {
    fn start(mode: &str, path: &Path) -> Holder {
        let exe = std::env::current_exe().unwrap();
        let mut child = Command::new(exe)
            .args(["--exact", "lock_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, format!("{mode}:{}", path.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        // Blocks until the child holds its role (the harness prints its own
        // lines first).
        let mut line = String::new();
        loop {
            line.clear();
            let n = out.read_line(&mut line).unwrap();
            assert!(n > 0, "child ({mode}) exited before it was ready");
            if line.trim_end() == "npzmap-child-ready" {
                break;
            }
        }
        Holder { child, stdin, out }
    }

    /// Lets the child release its role and exit; checks it succeeded.
    fn finish(mut self) {
        drop(self.stdin.take());
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.out, &mut rest).unwrap();
        assert!(self.child.wait().unwrap().success(), "{rest}");
    }

    fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

#[test]
fn a_reader_in_another_process_locks_out_every_mutator() {
    let dir = tempfile::tempdir().unwrap();
    let path = npy_file(dir.path(), "x.npy");
    let before = std::fs::read(&path).unwrap();
    let child = Holder::start("npy-read", &path);
    assert_all_locked(npy_mutators(&path));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // readers and appenders are welcome
    assert_eq!(
        NpyFile::open(&path)
            .unwrap()
            .view()
            .to_vec::<u32>()
            .unwrap(),
        [1, 2, 3, 4, 5, 6]
    );
    let app = NpyAppender::open(&path).unwrap();
    app.append(&[7u32, 8], &[1, 2]).unwrap();
    app.close().unwrap();
    child.finish();
    assert!(npy::update(&path, &[0], &[0u32, 0]).is_ok());
    NpyMapMut::open(&path).unwrap();
    assert_eq!(
        NpyFile::open(&path)
            .unwrap()
            .view()
            .to_vec::<u32>()
            .unwrap(),
        [0, 0, 3, 4, 5, 6, 7, 8]
    );

    let path = npz_file(dir.path(), "x.npz");
    let before = std::fs::read(&path).unwrap();
    let child = Holder::start("npz-read", &path);
    assert!(is_locked(npz::recover_in_place(&path)));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let mut w = NpzWriter::append(&path).unwrap();
    w.write("c", &[1u8], &[1], Order::C).unwrap();
    w.close().unwrap();
    child.finish();
    npz::recover_in_place(&path).unwrap();
    assert_eq!(NpzReader::open(&path).unwrap().len(), 3);
}

#[test]
fn writers_in_another_process_lock_out_what_would_conflict() {
    let dir = tempfile::tempdir().unwrap();
    // a writable map elsewhere: no reader, writer or modifier here
    let path = npy_file(dir.path(), "w.npy");
    let child = Holder::start("npy-rw", &path);
    assert!(is_locked(NpyFile::open(&path)));
    assert!(is_locked(NpyAppender::open(&path)));
    assert!(is_locked(npy::overwrite_slice(
        &path,
        &[1u8],
        &[1],
        Order::C
    )));
    assert_all_locked(npy_mutators(&path));
    child.finish();
    NpyFile::open(&path).unwrap();

    // an appender elsewhere: readers yes, second appender and modifiers no
    let child = Holder::start("npy-append", &path);
    NpyFile::open(&path).unwrap();
    assert!(is_locked(NpyAppender::open(&path)));
    assert!(is_locked(
        NpyAppender::options()
            .replace_existing(true)
            .create(&path, u8::dtype(), &[], Order::C)
    ));
    assert_all_locked(npy_mutators(&path));
    child.finish();
    NpyAppender::open(&path).unwrap().close().unwrap();

    // an archive writer elsewhere: readers open (wait_for_lock waits for
    // modifiers only, not for writers), a second writer and modifiers do not
    let path = npz_file(dir.path(), "w.npz");
    let child = Holder::start("npz-append", &path);
    let r = NpzReader::open_with(&path, ReaderOptions::new().wait_for_lock(true)).unwrap();
    assert_eq!(r.len(), 2);
    assert!(is_locked(NpzWriter::append(&path)));
    assert!(is_locked(npz::recover_in_place(&path)));
    child.finish();
    assert_eq!(NpzReader::open(&path).unwrap().len(), 3);
    assert_eq!(r.len(), 2);
}

#[test]
fn a_killed_create_or_replace_leaves_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = npz_file(dir.path(), "k.npz");
    let before = std::fs::read(&path).unwrap();
    let reader = NpzReader::open(&path).unwrap();
    let child = Holder::start("npz-replace", &path);
    // the child has written (and fsynced) a member of the new archive
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert!(is_locked(NpzWriter::append(&path)));
    child.kill();
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let r = NpzReader::open(&path).unwrap();
    assert_eq!(
        r.get("a").unwrap().to_vec::<f64>().unwrap(),
        [1.5, 2.5, 3.5]
    );
    assert_eq!(reader.get("b").unwrap().to_vec::<u8>().unwrap(), [7u8; 100]);
    // the writer lock died with the child
    NpzWriter::append(&path).unwrap().close().unwrap();

    // and a replacement that completes in another process replaces it
    let child = Holder::start("npz-replace", &path);
    child.finish();
    let r = NpzReader::open(&path).unwrap();
    assert_eq!(r.keys().collect::<Vec<_>>(), ["new"]);
    assert_eq!(reader.len(), 2);
}

#[test]
fn npy_options_wait_for_lock_waits_for_a_writable_map() {
    let dir = tempfile::tempdir().unwrap();
    let path = npy_file(dir.path(), "wait.npy");
    let mut m = NpyMapMut::open(&path).unwrap();
    assert!(is_locked(NpyFile::open_with(&path, NpyOptions::new())));
    let p = path.clone();
    let reader = std::thread::spawn(move || {
        // blocks on the shared lock until the map below is dropped, so it
        // always sees the written value (without waiting it would be Locked)
        let f = NpyFile::open_with(&p, NpyOptions::new().wait_for_lock(true)).unwrap();
        f.view().to_vec::<u32>().unwrap()
    });
    m.as_slice_mut::<u32>().unwrap()[5] = 60;
    m.flush().unwrap();
    drop(m);
    assert_eq!(reader.join().unwrap(), [1, 2, 3, 4, 5, 60]);
}

/// A reader opened while another thread appends (header rewritten after
/// every append) sees a consistent file every time: a shape whose rows are
/// all there, with the values the appender wrote, never a length error.
#[test]
fn npy_readers_beside_an_appender_see_whole_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grow.npy");
    let app = NpyAppender::create(&path, <u64 as Element>::dtype(), &[4], Order::C).unwrap();
    app.append(&[0u64; 4], &[1, 4]).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    let appends = 3000u64;
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 1..appends {
                app.append(&[i; 4], &[1, 4]).unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut opens = 0u64;
        let mut last = 0u64;
        while !done.load(std::sync::atomic::Ordering::SeqCst) || opens == 0 {
            let f = NpyFile::open(&path).unwrap_or_else(|e| panic!("open #{opens}: {e}"));
            let rows = f.shape()[0];
            assert!(rows >= last && rows <= appends, "rows {rows} after {last}");
            let v = f.view().to_vec::<u64>().unwrap();
            assert_eq!(v.len() as u64, rows * 4);
            for (i, row) in v.chunks(4).enumerate() {
                assert!(row.iter().all(|&x| x == i as u64), "row {i}: {row:?}");
            }
            last = rows;
            opens += 1;
        }
        assert!(opens > 0);
    });
    drop(app);
    assert_eq!(NpyFile::open(&path).unwrap().shape(), &[appends, 4]);
}
