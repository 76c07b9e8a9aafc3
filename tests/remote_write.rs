//! `NpzWriter` writing straight to object storage (feature `object-store`):
//! in-memory and local-file-system stores (and S3 when
//! `NPZMAP_TEST_S3_URL` is set, e.g. `s3://npzmap-test/prefix`, with the
//! `AWS_*` variables): the archive is byte-identical to the one written to
//! a local file, readable by npzmap, the `zip` crate and numpy; exact
//! request counts; failures and drops leave no object and keep an old one.
#![cfg(feature = "object-store")]

mod common;
mod remote_support;

use npzmap::remote::Object;
use npzmap::remote::object_store::local::LocalFileSystem;
use npzmap::remote::object_store::{ObjectStore, ObjectStoreExt};
use npzmap::{DType, Error, NpzReader, NpzWriter, Order, WriterOptions};
use remote_support::*;
use std::sync::Arc;

#[test]
fn in_memory_archive_is_the_local_archive() {
    let opts = WriterOptions::new();
    let (local, want) = local_archive(&opts);
    let store = memory();
    let object = Object::new(store.clone(), "dir/a.npz").unwrap();
    let mut w = NpzWriter::create_object(object, opts).unwrap();
    assert_eq!(w.path().to_str().unwrap(), "InMemory/dir/a.npz");
    assert_eq!(requests(&w), (1, 0, 0, 0)); // the HEAD of create-new
    fill(&mut w);
    assert!(w.requests().unwrap().puts > 0); // parts went out while writing
    assert_eq!(download(&store, "dir/a.npz"), None); // not before close
    let before_close = w.requests().unwrap();
    w.sync().unwrap();
    assert_eq!(w.requests().unwrap(), before_close);
    assert_eq!(download(&store, "dir/a.npz"), None);
    w.close().unwrap();
    let remote = download(&store, "dir/a.npz").unwrap();
    assert!(
        remote == local,
        "the uploaded archive differs from the local one"
    );
    check_readers(&remote, &want);
}

#[test]
fn request_counts_are_exact() {
    // An archive just above 16 MiB: create + 3 parts + complete.
    let store = memory();
    let object = Object::new(store.clone(), "big.npz").unwrap();
    let mut w = NpzWriter::create_object(object.clone(), WriterOptions::new()).unwrap();
    let data = pattern(17 * MIB, 1);
    w.write_bytes("x", &header("|u1", &[data.len() as u64], Order::C), &data)
        .unwrap();
    w.close().unwrap();
    let size = download(&store, "big.npz").unwrap().len() as u64;
    assert!(size > 2 * PART && size < 3 * PART);
    let r = object.requests();
    assert_eq!(
        (r.gets, r.bytes_read, r.puts, r.bytes_written),
        (1, 0, 5, size)
    );
    assert_eq!(puts_for(size), 5);

    // Below one part: one PUT (and no HEAD when replacing).
    let object = Object::new(store.clone(), "small.npz").unwrap();
    let mut w =
        NpzWriter::create_object(object.clone(), WriterOptions::new().replace(true)).unwrap();
    w.write("a", &[1u8, 2, 3], &[3], Order::C).unwrap();
    w.write("b", &[4u8], &[], Order::C).unwrap();
    assert_eq!(requests(&w), (0, 0, 0, 0));
    w.close().unwrap();
    let small = download(&store, "small.npz").unwrap();
    let r = object.requests();
    assert_eq!(
        (r.gets, r.puts, r.bytes_written),
        (0, 1, small.len() as u64)
    );

    // Exactly two parts: the last part is full, no empty part is sent.
    let object = Object::new(store.clone(), "two.npz").unwrap();
    let mut w = NpzWriter::create_object(object.clone(), WriterOptions::new()).unwrap();
    // Everything but the data (headers, directory, end record), from a
    // local archive of the same member with 1000 bytes.
    let probe = {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.npz");
        let mut pw = NpzWriter::create_with(&p, WriterOptions::new().fsync(false)).unwrap();
        pw.write_bytes("x", &header("|u1", &[1000], Order::C), &[7u8; 1000])
            .unwrap();
        pw.close().unwrap();
        std::fs::metadata(&p).unwrap().len() - 1000
    };
    let n = 2 * PART - probe;
    let data = vec![7u8; n as usize];
    w.write_bytes("x", &header("|u1", &[n], Order::C), &data)
        .unwrap();
    w.close().unwrap();
    let two = download(&store, "two.npz").unwrap();
    assert_eq!(two.len() as u64, 2 * PART);
    let r = object.requests();
    assert_eq!((r.gets, r.puts, r.bytes_written), (1, 4, 2 * PART));
}

#[test]
fn empty_archive() {
    let store = memory();
    let object = Object::new(store.clone(), "e.npz").unwrap();
    let w = NpzWriter::create_object(object.clone(), WriterOptions::new()).unwrap();
    assert!(w.is_empty());
    w.close().unwrap();
    let bytes = download(&store, "e.npz").unwrap();
    let (local, _) = {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.npz");
        NpzWriter::create(&p).unwrap().close().unwrap();
        (std::fs::read(&p).unwrap(), ())
    };
    assert_eq!(bytes, local);
    assert_eq!(bytes.len(), 22);
    assert_eq!(NpzReader::from_bytes(bytes).unwrap().len(), 0);
    let r = object.requests();
    assert_eq!((r.gets, r.puts, r.bytes_written), (1, 1, 22));
}

#[test]
fn local_file_system_store_by_url() {
    let dir = tempfile::tempdir().unwrap();
    let opts = WriterOptions::new().align(4096);
    let (local, want) = local_archive(&opts);
    let url = format!("file://{}/out/a.npz", dir.path().display());
    let mut w = opts.create_url(&url).unwrap();
    assert_eq!(w.path().to_str().unwrap(), url);
    fill(&mut w);
    assert!(!dir.path().join("out/a.npz").exists());
    w.close().unwrap();
    let remote = std::fs::read(dir.path().join("out/a.npz")).unwrap();
    assert!(
        remote == local,
        "the uploaded archive differs from the local one"
    );
    check_readers(&remote, &want);
    // Nothing else left in the directory (no staging files).
    let names: Vec<_> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["a.npz"]);
    // Create-new refuses the object now there; replace overwrites it.
    assert!(matches!(
        NpzWriter::create_url(&url),
        Err(Error::AlreadyExists { .. })
    ));
    let mut w = opts.clone().replace(true).create_url(&url).unwrap();
    w.write("z", &[1u8], &[1], Order::C).unwrap();
    w.close().unwrap();
    let r = NpzReader::from_bytes(std::fs::read(dir.path().join("out/a.npz")).unwrap()).unwrap();
    assert_eq!(r.keys().collect::<Vec<_>>(), ["z"]);
}

#[test]
fn create_new_refuses_an_existing_object() {
    let store = memory();
    upload(&store, "k.npz", b"old bytes");
    let object = Object::new(store.clone(), "k.npz").unwrap();
    let e = NpzWriter::create_object(object.clone(), WriterOptions::new()).unwrap_err();
    assert!(matches!(e, Error::AlreadyExists { .. }), "{e:?}");
    assert!(e.to_string().contains("InMemory/k.npz"), "{e}");
    let r = object.requests();
    assert_eq!((r.gets, r.puts), (1, 0));
    assert_eq!(download(&store, "k.npz").unwrap(), b"old bytes");
}

/// Writes up to 80 MiB in 4 MiB members until an error; returns it.
fn write_until_error(w: &mut NpzWriter) -> Error {
    for i in 0..20 {
        let data = pattern(4 * MIB, i);
        let h = header("|u1", &[data.len() as u64], Order::C);
        if let Err(e) = w.write_bytes(&format!("m{i}"), &h, &data) {
            return e;
        }
    }
    panic!("no error");
}

#[test]
fn dropping_the_writer_aborts_the_upload() {
    for replace in [false, true] {
        let store = memory();
        if replace {
            upload(&store, "a.npz", b"old");
        }
        let object = Object::new(store.clone(), "a.npz").unwrap();
        let mut w = NpzWriter::create_object(object.clone(), WriterOptions::new().replace(replace))
            .unwrap();
        let data = pattern(20 * MIB, 3);
        w.write_bytes("x", &header("|u1", &[data.len() as u64], Order::C), &data)
            .unwrap();
        let sent = w.requests().unwrap().puts;
        assert_eq!(sent, 3); // create + 2 parts
        drop(w);
        // + the abort
        assert_eq!(object.requests().puts, 4);
        let want: Option<Vec<u8>> = replace.then(|| b"old".to_vec());
        assert_eq!(download(&store, "a.npz"), want);
    }
    // The local file system: no object, no staging file left.
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let object = Object::new(store.clone(), "a.npz").unwrap();
    let mut w = NpzWriter::create_object(object, WriterOptions::new()).unwrap();
    let data = pattern(20 * MIB, 3);
    w.write_bytes("x", &header("|u1", &[data.len() as u64], Order::C), &data)
        .unwrap();
    let mut e = w
        .begin("s", DType::parse("|u1").unwrap(), &[16], Order::C)
        .unwrap();
    e.append_bytes(&pattern(10 * MIB, 4)).unwrap(); // staged, spilled
    drop(e);
    drop(w);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_failed_part_aborts_and_keeps_the_old_object() {
    let dir = tempfile::tempdir().unwrap();
    let local: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    for inner in [memory(), local] {
        upload(&inner, "a.npz", b"old archive");
        let store: Arc<dyn ObjectStore> = Arc::new(FailingStore {
            inner: inner.clone(),
            fail_part: 1,
            parts: Arc::default(),
        });
        let object = Object::new(store, "a.npz").unwrap();
        let mut w =
            NpzWriter::create_object(object.clone(), WriterOptions::new().replace(true)).unwrap();
        let e = write_until_error(&mut w);
        assert!(matches!(e, Error::Io { .. }), "{e:?}");
        assert!(e.to_string().contains("injected part failure"), "{e}");
        assert!(e.to_string().contains("a.npz"), "{e}");
        // Poisoned: later calls fail, close too.
        let later = w.write("y", &[1u8], &[1], Order::C).unwrap_err();
        assert!(matches!(later, Error::Closed { .. }), "{later:?}");
        assert!(matches!(w.sync(), Err(Error::Closed { .. })));
        assert!(
            w.begin("s", DType::parse("|u1").unwrap(), &[1], Order::C)
                .is_err()
        );
        assert!(matches!(w.close(), Err(Error::Closed { .. })));
        assert_eq!(download(&inner, "a.npz").unwrap(), b"old archive");
        let r = object.requests();
        // create + parts sent before the failure was seen + the abort.
        assert!(r.puts >= 4, "{r:?}");
    }
    // No staging file of the local store left.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["a.npz"]);
}

#[test]
fn a_failure_at_close_aborts() {
    // The last part fails: seen by close.
    let inner = memory();
    let store: Arc<dyn ObjectStore> = Arc::new(FailingStore {
        inner: inner.clone(),
        fail_part: 2,
        parts: Arc::default(),
    });
    let object = Object::new(store, "c.npz").unwrap();
    let mut w = NpzWriter::create_object(object, WriterOptions::new()).unwrap();
    let data = pattern(20 * MIB, 5);
    w.write_bytes("x", &header("|u1", &[data.len() as u64], Order::C), &data)
        .unwrap();
    let e = w.close().unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    assert_eq!(download(&inner, "c.npz"), None);
}

#[test]
fn append_is_not_for_urls() {
    // A URL is a (missing) local path to the path-based append.
    let e = NpzWriter::append("memory://bucket/a.npz").unwrap_err();
    assert!(
        matches!(&e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{e:?}"
    );
}

/// S3 (or compatible) when `NPZMAP_TEST_S3_URL` is set: the same archive,
/// under a unique key, deleted afterwards.
#[test]
fn s3_when_configured() {
    // The S3 test server of scripts/test.sh (required under CI).
    let Some(base) = common::s3_url() else {
        return;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let url = format!(
        "{}/npzmap-remote-write-{}-{nanos}.npz",
        base.trim_end_matches('/'),
        std::process::id()
    );
    let opts = WriterOptions::new();
    let (local, want) = local_archive(&opts);
    let object = Object::from_url(&url).unwrap();
    let mut w = NpzWriter::create_object(object.clone(), opts.clone()).unwrap();
    fill(&mut w);
    w.close().unwrap();
    let store = object.store().clone();
    let key = object.path().to_string();
    let remote = download(&store, &key).unwrap();
    let r = object.requests();
    assert_eq!((r.gets, r.puts), (1, puts_for(remote.len() as u64)));
    assert!(
        remote == local,
        "the uploaded archive differs from the local one"
    );
    check_readers(&remote, &want);
    // create-new refuses it; a dropped replacement leaves it.
    assert!(matches!(
        NpzWriter::create_url(&url),
        Err(Error::AlreadyExists { .. })
    ));
    let mut w = opts.clone().replace(true).create_url(&url).unwrap();
    let data = pattern(20 * MIB, 9);
    w.write_bytes("x", &header("|u1", &[data.len() as u64], Order::C), &data)
        .unwrap();
    drop(w);
    assert!(download(&store, &key).unwrap() == remote);
    let path = object.path().clone();
    run(async { store.delete(&path).await.unwrap() });
}
