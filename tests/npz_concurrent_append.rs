//! Readers opened while another process appends to the archive, and after
//! that process is killed: every open succeeds and shows exactly the old or
//! the new archive (issue 10 §2). The appender is this test binary run again
//! as a child process (`child_appender`), or the CLI's `pack --append`.
#![cfg(feature = "cli")]

use npzmap::npz::reader::NpzReader;
use npzmap::npz::recover;
use npzmap::npz::writer::NpzWriter;
use npzmap::{DType, Order};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "NPZMAP_TEST_APPEND_CHILD";
/// One streamed member is this many chunks of 1 MiB.
const MEMBER_MIB: usize = 24;

fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

/// The archive before the append: three small arrays.
fn make_base(path: &Path) -> BTreeSet<String> {
    let mut w = NpzWriter::create(path).unwrap();
    for i in 0..3i64 {
        let v: Vec<i64> = (0..100).map(|x| x * 10 + i).collect();
        w.write(&format!("k{i}"), &v, &[100], Order::C).unwrap();
    }
    w.close().unwrap();
    set(&["k0", "k1", "k2"])
}

fn check_base(r: &NpzReader) {
    for i in 0..3i64 {
        let want: Vec<i64> = (0..100).map(|x| x * 10 + i).collect();
        assert_eq!(
            r.get(&format!("k{i}")).unwrap().to_vec::<i64>().unwrap(),
            want
        );
    }
}

fn lib_keys(path: &Path) -> Result<BTreeSet<String>, String> {
    let r = NpzReader::open(path).map_err(|e| e.to_string())?;
    Ok(r.keys().map(str::to_string).collect())
}

fn cli_keys(path: &Path) -> Result<BTreeSet<String>, String> {
    let o = Command::new(env!("CARGO_BIN_EXE_npzmap"))
        .args(["ls", "--json"])
        .arg(path)
        .output()
        .map_err(|e| e.to_string())?;
    if !o.status.success() {
        return Err(format!(
            "npzmap ls exited with {:?}: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).map_err(|e| format!("ls --json output: {e}"))?;
    let rows = v.as_array().ok_or("ls --json: not an array")?;
    rows.iter()
        .map(|r| {
            r["name"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| "ls --json: row without name".to_string())
        })
        .collect()
}

/// The appender process: `NPZMAP_TEST_APPEND_CHILD=path;members;pause_ms`
/// appends `members` streamed members `big<i>` of [`MEMBER_MIB`] MiB (each
/// byte `i`), pausing between chunks; before the second member it also
/// begins one member and drops it (the writer truncates it away again).
#[test]
#[ignore = "entry point of the child process of the tests below"]
fn child_appender() {
    let spec = std::env::var(CHILD_ENV).expect("run by the tests below only");
    let parts: Vec<&str> = spec.split(';').collect();
    let (path, members, pause): (&str, usize, u64) = (
        parts[0],
        parts[1].parse().unwrap(),
        parts[2].parse().unwrap(),
    );
    let u8d = DType::parse("|u1").unwrap();
    let mut w = NpzWriter::append(path).unwrap();
    for i in 0..members {
        if i == 1 {
            let mut e = w.begin("dropped", u8d.clone(), &[], Order::C).unwrap();
            for _ in 0..4 {
                e.append(&vec![0xEEu8; 1 << 20]).unwrap();
                std::thread::sleep(Duration::from_millis(pause));
            }
            drop(e); // rolled back: the file is truncated to where it began
        }
        let mut e = w
            .begin(&format!("big{i}"), u8d.clone(), &[], Order::C)
            .unwrap();
        let chunk = vec![i as u8; 1 << 20];
        for _ in 0..MEMBER_MIB {
            e.append(&chunk).unwrap();
            std::thread::sleep(Duration::from_millis(pause));
        }
        e.finish().unwrap();
    }
    w.close().unwrap();
}

fn spawn_appender(path: &Path, members: usize, pause_ms: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["child_appender", "--exact", "--ignored", "--nocapture"])
        .env(
            CHILD_ENV,
            format!("{};{members};{pause_ms}", path.display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Opens the archive (library and CLI, alternately) until `done` says stop
/// or a bound is hit; every open must succeed and show `old` or `new`.
/// Returns how many opens saw `old` while the file had grown past
/// `old_len` (a reader during the append), and the number of opens.
fn read_while(
    path: &Path,
    old: &BTreeSet<String>,
    new: &BTreeSet<String>,
    old_len: u64,
    mut done: impl FnMut() -> bool,
) -> (usize, usize) {
    let (mut during, mut opens) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(120);
    while opens < 2000 && Instant::now() < deadline && !done() {
        let len = std::fs::metadata(path).unwrap().len();
        let keys = if opens % 2 == 0 {
            lib_keys(path)
        } else {
            cli_keys(path)
        };
        let keys = keys.unwrap_or_else(|e| panic!("open #{opens} (len {len}) failed: {e}"));
        assert!(
            &keys == old || &keys == new,
            "open #{opens} saw neither the old nor the new archive: {keys:?}"
        );
        if &keys == old && len > old_len {
            during += 1;
        }
        opens += 1;
    }
    eprintln!("{opens} opens, {during} during the append");
    (during, opens)
}

#[test]
fn readers_during_an_append_see_the_old_or_the_new_archive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npz");
    let old = make_base(&path);
    let old_len = std::fs::metadata(&path).unwrap().len();
    let mut new = old.clone();
    new.extend(["big0", "big1", "big2"].map(String::from));
    let before = NpzReader::open(&path).unwrap(); // opened before the append

    let mut child = spawn_appender(&path, 3, 10);
    let mut status = None;
    let (during, opens) = read_while(&path, &old, &new, old_len, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    let status = match status {
        Some(s) => s,
        None => child.wait().unwrap(),
    };
    assert!(status.success(), "appender failed: {status:?}");
    assert!(opens > 0);
    assert!(
        during > 0,
        "no reader opened while the append was in progress"
    );

    // after close: the new archive, members intact
    let r = NpzReader::open(&path).unwrap();
    assert_eq!(r.keys().map(str::to_string).collect::<BTreeSet<_>>(), new);
    check_base(&r);
    for i in 0..3u8 {
        let v = r.get(&format!("big{i}")).unwrap();
        assert_eq!(v.shape(), &[(MEMBER_MIB << 20) as u64]);
        assert!(v.as_bytes().iter().all(|&b| b == i), "big{i}");
    }
    assert!(r.verify().is_ok());
    assert_eq!(cli_keys(&path).unwrap(), new);
    // the reader opened before the append still sees the old archive
    assert_eq!(
        before.keys().map(str::to_string).collect::<BTreeSet<_>>(),
        old
    );
    check_base(&before);
    assert!(before.verify().is_ok());
}

#[test]
fn after_the_appender_is_killed_readers_and_the_next_append_use_the_old_archive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npz");
    let old = make_base(&path);
    let old_len = std::fs::metadata(&path).unwrap().len();
    let mut child = spawn_appender(&path, 8, 5);
    // kill it inside its second member (the first one is finished)
    let member = (MEMBER_MIB as u64) << 20;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let len = std::fs::metadata(&path).unwrap().len();
        if len > old_len + member + member / 2 {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "appender ended early");
        assert!(Instant::now() < deadline, "appender too slow: {len} bytes");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let killed = std::fs::read(&path).unwrap();
    assert!(killed.len() as u64 > old_len + member, "the appender wrote");
    assert!(
        npzmap::unstable::zip::EndOfCentralDirectory::find(&killed).is_err(),
        "the killed appender left no end record at the tail"
    );

    let mut n = 0;
    let (during, opens) = read_while(&path, &old, &old, old_len, || {
        n += 1;
        n > 20
    });
    assert!(opens == 20 && during == opens, "{during} of {opens}");
    check_base(&NpzReader::open(&path).unwrap());

    // the next append appends to the old archive, after the dead bytes
    let mut w = NpzWriter::append(&path).unwrap();
    w.write("after", &[1.5f64, 2.5], &[2], Order::C).unwrap();
    w.close().unwrap();
    let now = std::fs::read(&path).unwrap();
    assert_eq!(
        &now[..killed.len()],
        &killed[..],
        "existing bytes untouched"
    );
    let r = NpzReader::open(&path).unwrap();
    let mut want = old.clone();
    want.insert("after".into());
    assert_eq!(r.keys().map(str::to_string).collect::<BTreeSet<_>>(), want);
    assert_eq!(r.get("after").unwrap().to_vec::<f64>().unwrap(), [1.5, 2.5]);
    check_base(&r);
    assert!(r.verify().is_ok());
    assert_eq!(cli_keys(&path).unwrap(), want);
    // the killed appender's finished member is still there for recover
    let out = dir.path().join("recovered.npz");
    let rep = recover::recover(&path, &out).unwrap();
    for k in ["k0.npy", "k1.npy", "k2.npy", "big0.npy", "after.npy"] {
        assert!(rep.kept.iter().any(|n| n == k), "{k} not in {:?}", rep.kept);
    }
    let rr = NpzReader::open(&out).unwrap();
    assert!(rr.get("big0").unwrap().as_bytes().iter().all(|&b| b == 0));
}

#[test]
fn readers_during_a_cli_pack_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npz");
    let old = make_base(&path);
    let old_len = std::fs::metadata(&path).unwrap().len();
    let big = dir.path().join("big.npy");
    let data = vec![7u8; 96 << 20];
    npzmap::npy::write(&big, &data, &[data.len() as u64], Order::C).unwrap();
    let mut new = old.clone();
    new.insert("big".into());
    let mut child = Command::new(env!("CARGO_BIN_EXE_npzmap"))
        .args(["--quiet", "pack", "--append"])
        .arg(&path)
        .arg(&big)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut status = None;
    let (_, opens) = read_while(&path, &old, &new, old_len, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    let status = match status {
        Some(s) => s,
        None => child.wait().unwrap(),
    };
    assert!(status.success());
    assert!(opens > 0);
    assert_eq!(lib_keys(&path).unwrap(), new);
    assert_eq!(cli_keys(&path).unwrap(), new);
}

#[test]
fn append_without_any_committed_archive_fails_and_leaves_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npz");
    // a fresh archive whose writer died in its first member: no end record
    let mut w = NpzWriter::create(&path).unwrap();
    w.write("x", &[1u32, 2, 3], &[3], Order::C).unwrap();
    w.sync().unwrap();
    // A killed writer releases its locks; a forgotten one would not, so the
    // dead writer's bytes are looked at under another name.
    std::mem::forget(w);
    let path = dir.path().join("dead.npz");
    std::fs::copy(dir.path().join("a.npz"), &path).unwrap();
    let before = std::fs::read(&path).unwrap();
    assert!(matches!(
        NpzWriter::append(&path),
        Err(npzmap::Error::NotAZip { .. })
    ));
    assert!(matches!(
        NpzReader::open(&path),
        Err(npzmap::Error::NotAZip { .. })
    ));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn append_after_a_dead_appenders_bytes_keeps_the_old_members() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npz");
    let old = make_base(&path);
    // a dead appender: a member written, no directory (as if killed)
    let mut w = NpzWriter::append(&path).unwrap();
    w.write("lost", &vec![3u8; 200_000], &[200_000], Order::C)
        .unwrap();
    w.sync().unwrap();
    // A killed writer releases its locks; a forgotten one would not, so the
    // dead appender's bytes are looked at under another name.
    std::mem::forget(w);
    let path = dir.path().join("dead.npz");
    std::fs::copy(dir.path().join("a.npz"), &path).unwrap();
    let dead = std::fs::read(&path).unwrap();
    assert_eq!(lib_keys(&path).unwrap(), old);
    let mut w = NpzWriter::append(&path).unwrap();
    assert!(!w.contains("lost"));
    assert_eq!(w.len(), 3);
    w.write("y", &[7i16; 5], &[5], Order::C).unwrap();
    w.close().unwrap();
    let now = std::fs::read(&path).unwrap();
    assert_eq!(&now[..dead.len()], &dead[..]);
    let mut want = old.clone();
    want.insert("y".into());
    let r = NpzReader::open(&path).unwrap();
    assert_eq!(r.keys().map(str::to_string).collect::<BTreeSet<_>>(), want);
    assert_eq!(r.get("y").unwrap().to_vec::<i16>().unwrap(), [7; 5]);
    check_base(&r);
    // an independent reader agrees
    let mut z = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    let names: BTreeSet<String> = (0..z.len())
        .map(|i| z.by_index(i).unwrap().name().unwrap().to_string())
        .collect();
    assert_eq!(names, set(&["k0.npy", "k1.npy", "k2.npy", "y.npy"]));
}

#[test]
fn a_rolled_back_member_never_cuts_into_the_committed_archive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npz");
    let old = make_base(&path);
    let bytes = std::fs::read(&path).unwrap();
    let before = NpzReader::open(&path).unwrap();
    // the write fails 100 bytes into the member: rolled back to its start
    let mut w = NpzWriter::options()
        .fail_after_bytes(100)
        .append(&path)
        .unwrap();
    assert!(
        w.write("x", &vec![1u64; 50_000], &[50_000], Order::C)
            .is_err()
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "rolled back to the old end"
    );
    // a reader opened meanwhile sees the old archive
    let during = NpzReader::open(&path).unwrap();
    assert_eq!(
        during.keys().map(str::to_string).collect::<BTreeSet<_>>(),
        old
    );
    w.write("y", &[2u8; 10], &[10], Order::C).unwrap();
    w.close().unwrap();
    assert_eq!(&std::fs::read(&path).unwrap()[..bytes.len()], &bytes[..]);
    for r in [&before, &during] {
        check_base(r);
        assert!(r.verify().is_ok());
    }
    let mut want = old.clone();
    want.insert("y".into());
    assert_eq!(lib_keys(&path).unwrap(), want);
}
