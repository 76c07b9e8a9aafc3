//! The CLI on archives named by URL: `ls`, `export`, `verify` read them by
//! range requests and print exactly what they print for the local file;
//! `pack` uploads. Every check runs on a `file://` URL (object_store's
//! local store) and on the S3-compatible test server (`common::s3_url`),
//! as `s3://` and as plain `http://`.
#![cfg(all(feature = "cli", feature = "object-store"))]

mod common;
#[path = "common/cli.rs"]
mod run;

use npzmap::npz::NpzWriter;
use npzmap::remote::Object;
use npzmap::remote::object_store::ObjectStoreExt;
use npzmap::{DType, Header, Order};
use run::{code, npzmap, stderr, stdout};
use std::path::{Path, PathBuf};

/// An archive with stored, deflated-free, big-endian, streamed and raw members.
fn archive(dir: &Path) -> PathBuf {
    let p = dir.join("a.npz");
    let mut w = NpzWriter::create(&p).unwrap();
    w.write("x", &[1.5f64, 2.5, 3.5, 4.5], &[2, 2], Order::C)
        .unwrap();
    w.write_bytes(
        "big",
        &Header::new(DType::parse(">i4").unwrap(), vec![3], Order::C),
        &[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3],
    )
    .unwrap();
    let mut s = w
        .begin("rows", DType::parse("<u2").unwrap(), &[2], Order::C)
        .unwrap();
    for i in 0..100u16 {
        s.append(&[i, i + 1]).unwrap();
    }
    s.finish().unwrap();
    for i in 0..50 {
        w.write(&format!("k{i}"), &[i as i64; 8], &[8], Order::C)
            .unwrap();
    }
    w.close().unwrap();
    p
}

/// Runs `fut` on a runtime of the test's own.
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(fut)
}

/// Uploads `bytes` to `url`.
fn put(url: &str, bytes: Vec<u8>) {
    let o = Object::from_url(url).unwrap();
    block_on(o.store().put(o.path(), bytes.into())).unwrap();
}

/// The bytes of the object at `url`.
fn get(url: &str) -> Vec<u8> {
    let o = Object::from_url(url).unwrap();
    block_on(async {
        o.store()
            .get(o.path())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    })
    .to_vec()
}

/// URLs holding the bytes of `local`: its `file://` URL, and a copy on the
/// S3 test server when there is one.
fn urls_of(local: &Path) -> Vec<String> {
    let mut out = vec![format!("file://{}", local.display())];
    if let Some(base) = common::s3_url() {
        let u = common::s3_key(&base, local.file_name().unwrap().to_str().unwrap());
        put(&u, std::fs::read(local).unwrap());
        // The same object over plain HTTP (the server serves path-style
        // GETs with ranges, unsigned): object_store's HTTP store.
        let endpoint = std::env::var("AWS_ENDPOINT").unwrap();
        out.push(format!("{endpoint}/{}", u.trim_start_matches("s3://")));
        out.push(u);
    }
    out
}

#[test]
fn ls_verify_export_print_what_they_print_for_the_local_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = archive(dir.path());
    for url in urls_of(&p) {
        for args in [
            &["ls"][..],
            &["ls", "--json"],
            &["verify"],
            &["verify", "--json"],
        ] {
            let mut local: Vec<&dyn AsRef<std::ffi::OsStr>> = args
                .iter()
                .map(|a| a as &dyn AsRef<std::ffi::OsStr>)
                .collect();
            let mut remote = local.clone();
            local.push(&p);
            remote.push(&url);
            let (l, r) = (npzmap(&local), npzmap(&remote));
            assert_eq!(code(&l), 0, "{args:?}: {}", stderr(&l));
            assert_eq!(code(&r), 0, "{args:?} {url}: {}", stderr(&r));
            let path = p.display().to_string();
            assert_eq!(
                stdout(&l).replace(&path, "FILE"),
                stdout(&r).replace(&url, "FILE"),
                "{args:?} {url}"
            );
        }
        for key in ["x", "big", "rows", "k7"] {
            let (lo, ro) = (dir.path().join("l.npy"), dir.path().join("r.npy"));
            let l = npzmap(&[&"export", &p, &key, &"--output", &lo]);
            let r = npzmap(&[&"export", &url, &key, &"--output", &ro]);
            assert_eq!((code(&l), code(&r)), (0, 0), "{}", stderr(&r));
            assert_eq!(
                std::fs::read(&lo).unwrap(),
                std::fs::read(&ro).unwrap(),
                "{key}"
            );
        }
    }
}

#[test]
fn requests_are_reported_and_few() {
    let dir = tempfile::tempdir().unwrap();
    let p = archive(dir.path());
    let Some(base) = common::s3_url() else {
        return;
    };
    let u = common::s3_key(&base, "a.npz");
    put(&u, std::fs::read(&p).unwrap());
    let o = npzmap(&[&"--requests", &"ls", &u]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Open (the archive is far smaller than the tail guess) + one
    // coalesced request for every member's headers.
    assert!(
        stderr(&o).contains(&format!("{u}: 2 GET request(s)")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn damaged_objects_fail_as_the_local_file_fails() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(archive(dir.path())).unwrap();
    let cut = dir.path().join("cut.npz");
    std::fs::write(&cut, &good[..good.len() - 7]).unwrap();
    // A flipped byte in the first member's array data: `ls` lists it (it
    // reads headers only), `verify` finds the CRC mismatch.
    let flip = dir.path().join("flip.npz");
    let mut f = good.clone();
    let at = npzmap::npz::NpzReader::open(dir.path().join("a.npz"))
        .unwrap()
        .array_info("x")
        .unwrap()
        .data_offset as usize;
    f[at + 3] ^= 0x55;
    std::fs::write(&flip, &f).unwrap();
    assert_eq!(code(&npzmap(&[&"ls", &flip])), 0);
    for p in [cut, flip] {
        for url in urls_of(&p) {
            for cmd in ["ls", "verify"] {
                let l = npzmap(&[&cmd, &p]);
                let r = npzmap(&[&cmd, &url]);
                if cmd == "verify" || p.ends_with("cut.npz") {
                    assert_ne!(code(&l), 0, "{cmd} {}", p.display());
                }
                assert_eq!(code(&l), code(&r), "{cmd} {url}");
                let path = p.display().to_string();
                assert_eq!(
                    stderr(&l).replace(&path, "FILE"),
                    stderr(&r).replace(&url, "FILE"),
                    "{cmd} {url}"
                );
            }
        }
    }
}

#[test]
fn pack_uploads_the_bytes_it_writes_locally() {
    let Some(base) = common::s3_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.npy");
    let b = dir.path().join("b.npy");
    npzmap::npy::write(&a, &[1u32, 2, 3], &[3], Order::C).unwrap();
    npzmap::npy::write(&b, &vec![7.0f64; 100_000], &[1000, 100], Order::Fortran).unwrap();
    let local = dir.path().join("out.npz");
    let u = common::s3_key(&base, "out.npz");
    let l = npzmap(&[&"-q", &"pack", &local, &a, &b]);
    let r = npzmap(&[&"-q", &"--requests", &"pack", &u, &a, &b]);
    assert_eq!((code(&l), code(&r)), (0, 0), "{}", stderr(&r));
    assert_eq!(std::fs::read(&local).unwrap(), get(&u));
    // Appending to an object is refused before anything is sent.
    let r = npzmap(&[&"pack", &"--append", &u, &a]);
    assert_eq!(code(&r), 2);
    assert!(stderr(&r).contains("appending to object storage is not supported"));
}

#[test]
fn npy_urls_are_refused_clearly() {
    let o = npzmap(&[&"ls", &"s3://bucket/x.npy"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains(".npy files in object storage are not supported"));
}
