//! The object-store source under `NpzReader`: the same archives read from
//! a mapped file, from `object_store`'s in-memory and local-file-system
//! stores (and S3 when `NPZMAP_TEST_S3_URL` is set) give the same keys,
//! members, headers, bytes, errors and verify reports; request counts are
//! exact.
#![cfg(feature = "object-store")]

mod common;
mod npz_support;

use npz_support::*;
use npzmap::npz::{NpzReader, NpzWriter, ReaderOptions, WriterOptions};
use npzmap::remote::object_store::{self, ObjectStore, ObjectStoreExt, PutPayload};
use npzmap::remote::{Object, Requests};
use npzmap::{DType, Error, Header, Order};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

// ------------------------------------------------------------ fixtures

/// A runtime for the tests' own uploads.
fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn put(store: &Arc<dyn ObjectStore>, key: &str, bytes: &[u8]) {
    let path = object_store::path::Path::from(key);
    let payload = PutPayload::from(bytes.to_vec());
    let store = store.clone();
    rt().block_on(async move { store.put(&path, payload).await })
        .unwrap();
}

/// An archive written by npzmap with `align`, holding a mix of dtypes,
/// orders, a big-endian member, a 0-d and an empty array.
fn npzmap_archive(dir: &Path, name: &str, align: u64, extra: usize) -> Vec<u8> {
    let path = dir.join(name);
    let mut w = WriterOptions::new().align(align).create(&path).unwrap();
    w.write("x", &[1.5f64, 2.5, 3.5, 4.5], &[2, 2], Order::C)
        .unwrap();
    w.write("i", &[1i32, -2, 3], &[3], Order::C).unwrap();
    w.write("f", &[1u16, 2, 3, 4, 5, 6], &[2, 3], Order::Fortran)
        .unwrap();
    w.write("flags", &[true, false, true], &[3], Order::C)
        .unwrap();
    let be = Header::new(DType::parse(">f8").unwrap(), vec![3], Order::C);
    let data: Vec<u8> = [1.0f64, -2.0, 3.25]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    w.write_bytes("big_endian", &be, &data).unwrap();
    w.write("scalar", &[7i64], &[], Order::C).unwrap();
    w.write::<f32>("empty", &[], &[0, 3], Order::C).unwrap();
    for k in 0..extra {
        let v: Vec<u32> = (0..(k as u32 % 17)).collect();
        w.write(&format!("m{k:05}"), &v, &[v.len() as u64], Order::C)
            .unwrap();
    }
    w.close().unwrap();
    std::fs::read(&path).unwrap()
}

fn npy_bytes(descr: &str, shape: &[u64], data: &[u8]) -> Vec<u8> {
    npy(descr, shape, Order::C, data)
}

/// An archive written by the `zip` crate: stored and deflated members,
/// ZIP64 local extras when `zip64`, data descriptors when `stream`, and a
/// comment.
fn zip_crate_archive(zip64: bool, stream: bool, comment: &str) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let members: Vec<(String, Vec<u8>, bool)> = vec![
        (
            "a.npy".into(),
            npy_bytes("<f8", &[3], &le(&[1.0f64, 2.0, 3.0])),
            false,
        ),
        (
            "b.npy".into(),
            npy_bytes(
                ">i4",
                &[2, 2],
                &[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4],
            ),
            true,
        ),
        (
            "c.npy".into(),
            npy_bytes("<i8", &[1000], &le(&(0..1000i64).collect::<Vec<_>>())),
            true,
        ),
        ("raw.txt".into(), b"not an array".to_vec(), false),
    ];
    let write = |w: &mut dyn FnMut(&str, SimpleFileOptions, &[u8])| {
        for (name, bytes, deflate) in &members {
            let method = if *deflate {
                zip::CompressionMethod::Deflated
            } else {
                zip::CompressionMethod::Stored
            };
            let o = SimpleFileOptions::default()
                .compression_method(method)
                .large_file(zip64);
            w(name, o, bytes);
        }
    };
    if stream {
        let mut z = zip::ZipWriter::new_stream(Vec::new());
        z.set_comment(comment).unwrap();
        write(&mut |n, o, b| {
            z.start_file(n, o).unwrap();
            z.write_all(b).unwrap();
        });
        z.finish().unwrap().into_inner()
    } else {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        z.set_comment(comment).unwrap();
        write(&mut |n, o, b| {
            z.start_file(n, o).unwrap();
            z.write_all(b).unwrap();
        });
        z.finish().unwrap().into_inner()
    }
}

/// Pseudo-random bytes (incompressible).
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Every archive of the corpus, by name.
fn corpus(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut c = vec![
        (
            "npzmap_aligned".to_string(),
            npzmap_archive(dir, "a.npz", 64, 0),
        ),
        (
            "npzmap_page".to_string(),
            npzmap_archive(dir, "p.npz", 4096, 3),
        ),
        (
            "npzmap_unaligned".to_string(),
            npzmap_archive(dir, "u.npz", 1, 0),
        ),
        (
            "npzmap_many".to_string(),
            npzmap_archive(dir, "m.npz", 64, 300),
        ),
        ("zip_plain".to_string(), zip_crate_archive(false, false, "")),
        (
            "zip_zip64_comment".to_string(),
            zip_crate_archive(true, false, "a comment"),
        ),
        (
            "zip_stream_descriptors".to_string(),
            zip_crate_archive(false, true, "streamed"),
        ),
        (
            "zip_stream_zip64".to_string(),
            zip_crate_archive(true, true, ""),
        ),
    ];
    let empty = dir.join("e.npz");
    NpzWriter::create(&empty).unwrap().close().unwrap();
    c.push(("empty_npzmap".into(), std::fs::read(&empty).unwrap()));
    c.push(("empty_zip".into(), zip_crate_archive_empty()));
    let members = [
        stored("x.npy", npy_bytes("<f8", &[2], &le(&[1.0f64, 2.0]))),
        deflated("y.npy", npy_bytes("<i2", &[3], &le(&[1i16, 2, 3]))),
        stored("x.npy", npy_bytes("<f8", &[1], &le(&[9.0f64]))),
        stored("x", b"exact name".to_vec()),
        stored("z.npy", npy_bytes("<u1", &[2], &[1, 2])),
    ];
    let (dups, _) = archive_with_offsets(&members, b"duplicates and a comment");
    c.push(("duplicates_comment".into(), dups.clone()));
    let mut prefixed = b"#!/bin/sh\necho self-extracting prefix\n".to_vec();
    prefixed.extend_from_slice(&dups);
    c.push(("prefix_bytes".into(), prefixed));
    // Members bigger than a verify chunk (8 MiB): stored and deflated.
    let big = noise(9 << 20, 7);
    let big_members = [
        stored("s.npy", npy_bytes("|u1", &[big.len() as u64], &big)),
        deflated("d.npy", npy_bytes("|u1", &[big.len() as u64], &big)),
        stored("t.npy", npy_bytes("<f4", &[2], &le(&[0.5f32, 1.5]))),
    ];
    c.push(("big_members".into(), archive(&big_members)));
    c
}

fn zip_crate_archive_empty() -> Vec<u8> {
    let z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    z.finish().unwrap().into_inner()
}

// ------------------------------------------------------------- sources

/// The stores an archive is read from besides the mapped file.
struct Stores {
    memory: Arc<dyn ObjectStore>,
    local: Arc<dyn ObjectStore>,
    local_dir: tempfile::TempDir,
    s3: Option<(Arc<dyn ObjectStore>, String)>,
}

impl Stores {
    fn new() -> Stores {
        let local_dir = tempfile::tempdir().unwrap();
        let local =
            object_store::local::LocalFileSystem::new_with_prefix(local_dir.path()).unwrap();
        // The S3 test server of scripts/test.sh (required under CI).
        let s3 = common::s3_url().map(|url| {
            let url = url.trim_end_matches('/').to_string();
            let o = Object::from_url(&format!("{url}/probe.npz")).unwrap();
            (o.store().clone(), url)
        });
        Stores {
            memory: Arc::new(object_store::memory::InMemory::new()),
            local: Arc::new(local),
            local_dir,
            s3,
        }
    }

    /// Uploads `bytes` as `name` everywhere; returns an opener per store.
    fn objects(&self, name: &str, bytes: &[u8]) -> Vec<(&'static str, Object)> {
        let key = format!("{name}.npz");
        put(&self.memory, &key, bytes);
        std::fs::write(self.local_dir.path().join(&key), bytes).unwrap();
        let mut v = vec![
            ("memory", Object::new(self.memory.clone(), &key).unwrap()),
            ("local", Object::new(self.local.clone(), &key).unwrap()),
        ];
        if let Some((store, url)) = &self.s3 {
            let prefix = url
                .split_once("://")
                .and_then(|(_, rest)| rest.split_once('/'))
                .map_or(String::new(), |(_, p)| format!("{p}/"));
            let full = format!("{prefix}{key}");
            put(store, &full, bytes);
            v.push(("s3", Object::from_url(&format!("{url}/{key}")).unwrap()));
        }
        v
    }
}

/// `e`'s Debug output with its file replaced by `<file>`.
fn scrub(e: &Error) -> String {
    let s = format!("{e:?}");
    match &e.location().path {
        Some(p) => s.replace(&format!("{p:?}"), "<file>"),
        None => s,
    }
}

fn scrub_r<T: std::fmt::Debug>(r: &npzmap::Result<T>) -> String {
    match r {
        Ok(v) => format!("Ok({v:?})"),
        Err(e) => format!("Err({})", scrub(e)),
    }
}

/// Length and CRC-32 of bytes (big members are compared by digest).
fn digest(b: &[u8]) -> String {
    format!("{} bytes, crc {:08x}", b.len(), crc32fast::hash(b))
}

/// Everything a reader shows of an archive, as comparable text.
fn observe(npz: &NpzReader) -> Vec<String> {
    let mut out = vec![
        format!("keys {:?}", npz.keys().collect::<Vec<_>>()),
        format!("members {:?}", npz.members().collect::<Vec<_>>()),
        format!("duplicates {:?}", npz.duplicates()),
        format!("comment {:?}", npz.comment()),
        format!("len {}", npz.len()),
    ];
    let keys: Vec<String> = npz.keys().map(str::to_string).collect();
    for k in &keys {
        out.push(format!("{k} header {}", scrub_r(&npz.header(k))));
        out.push(format!("{k} is_array {}", scrub_r(&npz.is_array(k))));
        out.push(format!(
            "{k} get {}",
            scrub_r(
                &npz.get(k)
                    .map(|v| (v.header().clone(), digest(v.as_bytes())))
            )
        ));
        out.push(format!(
            "{k} native {}",
            scrub_r(
                &npz.get_native(k)
                    .map(|v| (v.header().clone(), digest(v.as_bytes())))
            )
        ));
        out.push(format!(
            "{k} to_vec {}",
            scrub_r(
                &npz.get(k)
                    .and_then(|v| v.to_native_bytes())
                    .map(|b| digest(b.as_slice()))
            )
        ));
        out.push(format!(
            "{k} owned {}",
            scrub_r(&npz.get_owned(k).map(|v| digest(v.as_bytes())))
        ));
        out.push(format!(
            "{k} raw {}",
            scrub_r(&npz.read_member(k).map(|c| digest(&c)))
        ));
        if npz
            .header(k)
            .is_ok_and(|h| h.dtype == DType::parse("<f8").unwrap())
        {
            out.push(format!(
                "{k} slice {}",
                scrub_r(
                    &npz.get_slice::<f64>(k)
                        .map(|s| digest(bytemuck::cast_slice(&s)))
                )
            ));
        }
    }
    let report = npz.verify();
    for (name, r) in &report.members {
        out.push(format!("verify {name} {}", scrub_r(r)));
    }
    // Batch reads agree with single ones.
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let many = npz.get_many(&refs);
    out.push(format!(
        "get_many {}",
        scrub_r(&many.map(|vs| vs.iter().map(|v| digest(v.as_bytes())).collect::<Vec<_>>()))
    ));
    out
}

fn open_remote(o: &Object, opts: ReaderOptions) -> npzmap::Result<NpzReader> {
    NpzReader::open_object(o.clone(), opts)
}

fn gets(o: &Object) -> u64 {
    o.requests().gets
}

// --------------------------------------------------------------- tests

#[test]
fn every_source_reads_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let stores = Stores::new();
    for (name, bytes) in corpus(dir.path()) {
        let (_d, path) = temp(&bytes);
        for opts in [
            ReaderOptions::new(),
            ReaderOptions::new().cache_bytes(0),
            ReaderOptions::new().preload(true).verify_on_access(true),
        ] {
            let local = NpzReader::open_with(&path, opts.clone()).unwrap();
            let want = observe(&local);
            assert!(local.requests().is_none());
            for (store, o) in stores.objects(&name, &bytes) {
                let npz = open_remote(&o, opts.clone()).unwrap();
                assert_eq!(npz.path(), Path::new(o.url()));
                let got = observe(&npz);
                assert_eq!(got.len(), want.len(), "{name} on {store}");
                for (g, w) in got.iter().zip(&want) {
                    assert_eq!(g, w, "{name} on {store} with {opts:?}");
                }
                assert!(npz.requests().is_some());
            }
        }
    }
}

/// Prefetched headers, owned batches and the key-by-key calls agree.
#[test]
fn batch_calls_agree() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = npzmap_archive(dir.path(), "b.npz", 64, 50);
    let (_d, path) = temp(&bytes);
    let local = NpzReader::open(&path).unwrap();
    let stores = Stores::new();
    for (store, o) in stores.objects("batch", &bytes) {
        let npz = open_remote(&o, ReaderOptions::new()).unwrap();
        let keys: Vec<&str> = local.keys().collect();
        let mut twice = keys.clone();
        twice.extend(keys.iter().rev());
        npz.prefetch_headers(&twice).unwrap();
        let before = gets(&o);
        for k in &keys {
            assert_eq!(npz.header(k).unwrap(), local.header(k).unwrap(), "{store}");
        }
        assert_eq!(
            gets(&o),
            before,
            "{store}: prefetched headers need no request"
        );
        let owned = npz.get_many_owned(&twice).unwrap();
        drop(npz);
        for (k, v) in twice.iter().zip(&owned) {
            let l = local.get(k).unwrap();
            assert_eq!(v.as_bytes(), l.as_bytes(), "{store} {k}");
            assert_eq!(v.header(), l.header());
        }
        assert!(matches!(
            open_remote(&o, ReaderOptions::new())
                .unwrap()
                .get_many(&["x", "nope"]),
            Err(Error::NotFound { .. })
        ));
    }
}

/// A member of about `n` bytes (stored u8 noise).
fn sized(name: &str, n: usize, seed: u64) -> M {
    stored(name, npy_bytes("|u1", &[n as u64], &noise(n, seed)))
}

#[test]
fn request_counts() {
    let stores = Stores::new();
    // Three 600 kB members: the first two lie before the 1 MiB tail.
    let bytes = archive(&[
        sized("a.npy", 600_000, 1),
        sized("b.npy", 600_000, 2),
        deflated(
            "c.npy",
            npy_bytes("<f8", &[50_000], &le(&vec![0.5f64; 50_000])),
        ),
        sized("d.npy", 600_000, 3),
    ]);
    let o = &stores.objects("counts", &bytes)[0].1;
    let npz = open_remote(o, ReaderOptions::new()).unwrap();
    assert_eq!(gets(o), 1, "open: one request for the tail");
    let r0 = npz.requests().unwrap();
    npz.get("a").unwrap();
    assert_eq!(gets(o), 2, "first access: one request");
    npz.get("a").unwrap();
    npz.get_native("a").unwrap();
    npz.get_owned("a").unwrap();
    npz.get_slice::<u8>("a").unwrap();
    assert_eq!(gets(o), 2, "cached: no request");
    let r1 = npz.requests().unwrap();
    assert!(r1.bytes_read - r0.bytes_read >= 600_000);
    let h = npz.header("b").unwrap();
    assert_eq!(h.shape, [600_000]);
    assert_eq!(gets(o), 3, "header: one request");
    let Requests { bytes_read, .. } = npz.requests().unwrap();
    assert!(
        bytes_read - r1.bytes_read < 16 << 10,
        "header fetched a prefix"
    );
    npz.get("c").unwrap();
    npz.get("c").unwrap();
    npz.get_native("c").unwrap();
    assert_eq!(gets(o), 4, "deflated: one request, then the inflated copy");
    // A cache too small for a member: every access fetches it again.
    let small = open_remote(o, ReaderOptions::new().cache_bytes(1000)).unwrap();
    let g = gets(o);
    small.get("d").unwrap();
    small.get("d").unwrap();
    assert_eq!(gets(o), g + 2, "two fetches of an uncacheable member");
}

#[test]
fn many_small_members_take_a_handful_of_requests() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = npzmap_archive(dir.path(), "many.npz", 64, 1000);
    let local = NpzReader::open(dir.path().join("many.npz")).unwrap();
    let stores = Stores::new();
    for (store, o) in stores.objects("many", &bytes) {
        let npz = open_remote(&o, ReaderOptions::new()).unwrap();
        assert_eq!(gets(&o), 1, "{store}");
        let keys: Vec<&str> = npz.keys().filter(|k| k.starts_with('m')).collect();
        assert_eq!(keys.len(), 1000);
        npz.prefetch_headers(&keys).unwrap();
        let after_headers = gets(&o);
        assert!(
            after_headers - 1 <= 3,
            "{store}: headers took {}",
            after_headers - 1
        );
        let views = npz.get_many(&keys).unwrap();
        let batch = gets(&o) - after_headers;
        assert!(batch <= 3, "{store}: get_many took {batch} requests");
        assert_eq!(views.len(), 1000);
        let again = gets(&o);
        npz.get_many(&keys).unwrap();
        for k in &keys {
            npz.get(k).unwrap();
        }
        assert_eq!(gets(&o), again, "{store}: all cached");
        // One by one, a fresh reader sends one request per member.
        let fresh = open_remote(&o, ReaderOptions::new()).unwrap();
        let g = gets(&o);
        for k in keys.iter().take(20) {
            fresh.get(k).unwrap();
        }
        assert_eq!(gets(&o) - g, 20);
        // verify: coalesced batches, a handful of requests.
        let g = gets(&o);
        assert!(fresh.verify().is_ok());
        assert!(gets(&o) - g <= 3, "{store}: verify took {}", gets(&o) - g);
        // array_infos: the headers fetched together, equal to the local
        // ones; cached headers take no request.
        let fresh = open_remote(&o, ReaderOptions::new()).unwrap();
        let g = gets(&o);
        let infos = fresh.array_infos(&keys);
        assert!(
            gets(&o) - g <= 3,
            "{store}: array_infos took {}",
            gets(&o) - g
        );
        for (k, got) in keys.iter().zip(&infos) {
            assert_eq!(
                got.as_ref().unwrap(),
                &local.array_info(k).unwrap(),
                "{store} {k}"
            );
        }
        let g = gets(&o);
        assert!(npz.array_infos(&keys).iter().all(|r| r.is_ok()));
        assert_eq!(gets(&o), g, "{store}: cached headers need no request");
        // for_each_array_info: every member, in order, in a few requests.
        let fresh = open_remote(&o, ReaderOptions::new()).unwrap();
        let g = gets(&o);
        let mut listed = Vec::new();
        let _ = fresh.for_each_array_info(|m, info| {
            listed.push((m.key.to_string(), info.unwrap()));
            std::ops::ControlFlow::<()>::Continue(())
        });
        assert!(gets(&o) - g <= 3, "{store}: for_each took {}", gets(&o) - g);
        let want: Vec<_> = (local.keys())
            .map(|k| (k.to_string(), local.array_info(k).unwrap()))
            .collect();
        assert_eq!(listed, want, "{store}");
    }
}

#[test]
fn a_directory_bigger_than_the_tail_takes_a_second_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.npz");
    let mut w = NpzWriter::create(&path).unwrap();
    let long = "n".repeat(120);
    for k in 0..9000 {
        w.write(&format!("{long}{k:05}"), &[k as u8], &[1], Order::C)
            .unwrap();
    }
    w.close().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let local = NpzReader::open(&path).unwrap();
    let stores = Stores::new();
    let o = &stores.objects("wide", &bytes)[0].1;
    let npz = open_remote(o, ReaderOptions::new()).unwrap();
    assert_eq!(gets(o), 2, "tail, then the directory's start");
    assert_eq!(
        npz.keys().collect::<Vec<_>>(),
        local.keys().collect::<Vec<_>>()
    );
    let k = format!("{long}00042");
    assert_eq!(npz.get(&k).unwrap().as_bytes(), [42]);
    assert_eq!(gets(o), 3);
}

#[test]
fn open_url_reads_local_files_and_memory_urls() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = npzmap_archive(dir.path(), "u.npz", 64, 0);
    let path = dir.path().join("u.npz");
    let url = format!("file://{}", path.display());
    let npz = NpzReader::open_url(&url).unwrap();
    assert_eq!(npz.path(), Path::new(&url));
    assert_eq!(
        npz.get("x").unwrap().to_vec::<f64>().unwrap(),
        [1.5, 2.5, 3.5, 4.5]
    );
    assert_eq!(npz.requests().unwrap().gets, 2);
    let e = NpzReader::open_url_with(
        &format!("file://{}/missing.npz", dir.path().display()),
        ReaderOptions::new(),
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{e:?}"
    );
    assert!(NpzReader::open_url("nonsense").is_err());
    let _ = bytes;
}

// ------------------------------------------------------------- damage

/// Opens `bytes` from a file and from the stores and compares what each
/// shows (the open error included).
fn same_everywhere(stores: &Stores, name: &str, bytes: &[u8], all_stores: bool) {
    let (_d, path) = temp(bytes);
    let want = match NpzReader::open(&path) {
        Ok(npz) => observe(&npz),
        Err(e) => vec![format!("open {}", scrub(&e))],
    };
    let objects = stores.objects(name, bytes);
    let n = if all_stores { objects.len() } else { 1 };
    for (store, o) in objects.iter().take(n) {
        let got = match open_remote(o, ReaderOptions::new()) {
            Ok(npz) => observe(&npz),
            Err(e) => vec![format!("open {}", scrub(&e))],
        };
        assert_eq!(got, want, "{name} on {store}");
    }
}

fn damage_base() -> (Vec<u8>, Vec<u64>) {
    archive_with_offsets(
        &[
            stored("a.npy", npy_bytes("<f8", &[3], &le(&[1.0f64, 2.0, 3.0]))),
            deflated(
                "b.npy",
                npy_bytes("<i4", &[64], &le(&(0..64i32).collect::<Vec<_>>())),
            ),
            stored("c.npy", npy_bytes("|b1", &[2], &[1, 0])),
        ],
        b"note",
    )
}

#[test]
fn damaged_objects_fail_like_damaged_files() {
    let stores = Stores::new();
    let (bytes, offs) = damage_base();
    let n = bytes.len();
    let cd = u64::from_le_bytes({
        // The end record's directory offset (no comment: 4 bytes "note").
        let eocd = n - 22 - 4;
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&bytes[eocd + 16..eocd + 20]);
        b
    }) as usize;
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("cut_tail", bytes[..n - 10].to_vec()),
        ("cut_middle", bytes[..n / 2].to_vec()),
        ("cut_directory", bytes[..cd + 10].to_vec()),
    ];
    let a_len = npy_bytes("<f8", &[3], &le(&[1.0f64, 2.0, 3.0])).len();
    let mut flip_crc = bytes.clone();
    flip_crc[offs[0] as usize + 30 + 5 + a_len - 3] ^= 0x40; // a byte of a.npy's data
    cases.push(("flipped_data", flip_crc));
    let mut crc_field = bytes.clone();
    crc_field[offs[2] as usize + 14] ^= 1; // c.npy's local CRC
    cases.push(("local_crc", crc_field));
    let mut bad_local = bytes.clone();
    bad_local[offs[1] as usize] = b'X'; // b.npy's local signature
    cases.push(("bad_local_header", bad_local));
    let mut bad_cd = bytes.clone();
    bad_cd[cd + 46 + 5] ^= 0xff; // inside the first entry's name: rest fine
    cases.push(("bad_directory_name", bad_cd));
    let mut bad_cd_sig = bytes.clone();
    bad_cd_sig[cd] = b'X';
    cases.push(("bad_directory_signature", bad_cd_sig));
    let mut bad_npy = bytes.clone();
    bad_npy[offs[0] as usize + 30 + 5 + 9] = b'9'; // header length
    cases.push(("bad_npy_header", bad_npy));
    for (name, b) in &cases {
        same_everywhere(&stores, name, b, true);
    }
}

#[test]
fn every_cut_fails_the_same() {
    let stores = Stores::new();
    let (bytes, _) = damage_base();
    for cut in 0..bytes.len() {
        same_everywhere(&stores, &format!("cut{cut}"), &bytes[..cut], false);
    }
}

#[test]
fn every_flipped_byte_reads_the_same() {
    let stores = Stores::new();
    let (bytes, _) = damage_base();
    for pos in 0..bytes.len() {
        let mut b = bytes.clone();
        b[pos] ^= 0x5a;
        same_everywhere(&stores, &format!("flip{pos}"), &b, false);
    }
}

/// `verify` reads members bigger than 8 MiB in pieces: its headers, then
/// two requests for each 9 MiB member, and nothing is cached.
#[test]
fn verify_reads_big_members_in_pieces() {
    let big = noise(9 << 20, 11);
    let mut bad = big.clone();
    bad[5 << 20] ^= 1;
    let m = |name: &str, data: &[u8], deflate: bool| {
        let b = npy_bytes("|u1", &[data.len() as u64], data);
        let mut m = if deflate {
            deflated(name, b)
        } else {
            stored(name, b)
        };
        if data != big.as_slice() {
            // The CRC of the undamaged data: the damage must be found.
            m.crc = crc32fast::hash(&npy_bytes("|u1", &[big.len() as u64], &big));
        }
        m
    };
    let bytes = archive(&[
        m("s.npy", &big, false),
        m("d.npy", &big, true),
        m("bad.npy", &bad, false),
        stored("t.npy", npy_bytes("<f4", &[1], &le(&[0.5f32]))),
    ]);
    let (_d, path) = temp(&bytes);
    let local = NpzReader::open(&path).unwrap().verify();
    let stores = Stores::new();
    let o = &stores.objects("big_verify", &bytes)[0].1;
    let npz = open_remote(o, ReaderOptions::new()).unwrap();
    let before = npz.requests().unwrap();
    let report = npz.verify();
    let after = npz.requests().unwrap();
    let show = |r: &npzmap::npz::reader::VerifyReport| -> Vec<String> {
        r.members
            .iter()
            .map(|(n, r)| format!("{n} {}", scrub_r(r)))
            .collect()
    };
    assert_eq!(show(&report), show(&local));
    assert_eq!(report.errors().count(), 1);
    // One batch: three header prefixes and the small member (ranges far
    // apart: four requests), then two pieces per big member.
    assert_eq!(after.gets - before.gets, 4 + 3 * 2);
    let data = (after.bytes_read - before.bytes_read) as usize;
    assert!(
        data >= bytes.len() - 64 && data < bytes.len() + (64 << 10),
        "{data}"
    );
    assert_eq!(npz.cached_bytes(), 0);
}

/// One remote reader shared by threads (and used from inside a Tokio
/// runtime) reads the same as the file.
#[test]
fn a_remote_reader_is_shared_across_threads() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = npzmap_archive(dir.path(), "t.npz", 64, 200);
    let local = NpzReader::open(dir.path().join("t.npz")).unwrap();
    let stores = Stores::new();
    let o = &stores.objects("threads", &bytes)[0].1;
    let npz = open_remote(o, ReaderOptions::new().cache_bytes(4096)).unwrap();
    let keys: Vec<&str> = local.keys().collect();
    std::thread::scope(|s| {
        for t in 0..4 {
            let (npz, local, keys) = (&npz, &local, &keys);
            s.spawn(move || {
                for k in keys.iter().skip(t).step_by(2) {
                    let v = npz.get_native(k).unwrap();
                    assert_eq!(v.as_bytes(), local.get_native(k).unwrap().as_bytes(), "{k}");
                }
            });
        }
    });
    let v = rt().block_on(async { npz.get("x").unwrap().to_vec::<f64>().unwrap() });
    assert_eq!(v, [1.5, 2.5, 3.5, 4.5]);
}
