//! Helpers of tests/remote_write.rs: async calls on a test runtime, the
//! archive `fill` writes to any `NpzWriter`, the readers' checks, and a
//! store wrapper that fails a chosen multipart part.
#![allow(dead_code)]

use crate::common;
use npzmap::remote::Requests;
use npzmap::remote::object_store::memory::InMemory;
use npzmap::remote::object_store::path::Path as ObjectPath;
use npzmap::remote::object_store::{
    self, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};
use npzmap::{DType, Error, Header, NpzReader, NpzWriter, Order, WriterOptions};
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

pub const MIB: usize = 1 << 20;
pub const PART: u64 = 8 << 20;

pub fn run<F: std::future::Future>(f: F) -> F::Output {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
    .block_on(f)
}

/// The object's bytes (`GET`), or `None` if there is no object.
pub fn download(store: &Arc<dyn ObjectStore>, key: &str) -> Option<Vec<u8>> {
    let path = ObjectPath::from(key);
    run(async {
        match store.get(&path).await {
            Ok(r) => Some(r.bytes().await.unwrap().to_vec()),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => panic!("GET {key}: {e}"),
        }
    })
}

pub fn upload(store: &Arc<dyn ObjectStore>, key: &str, data: &[u8]) {
    let (path, data) = (ObjectPath::from(key), data.to_vec());
    run(async { store.put(&path, data.into()).await.unwrap() });
}

pub fn memory() -> Arc<dyn ObjectStore> {
    Arc::new(InMemory::new())
}

/// Deterministic pseudo-random bytes.
pub fn pattern(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub fn header(descr: &str, shape: &[u64], order: Order) -> Header {
    Header::new(DType::parse(descr).unwrap(), shape.to_vec(), order)
}

/// Writes the same members to any writer: many dtypes, a member larger
/// than a part, many small members, streamed members (one larger than a
/// part, one failed and one dropped, both discarded). Returns the members
/// expected: (key, data bytes).
pub fn fill(w: &mut NpzWriter) -> Vec<(String, Vec<u8>)> {
    let mut want = Vec::new();
    let put = |want: &mut Vec<_>, w: &mut NpzWriter, key: &str, h: Header, data: Vec<u8>| {
        w.write_bytes(key, &h, &data).unwrap();
        want.push((key.to_string(), data));
    };
    // Every kind of dtype: (key, descr, shape, order, data bytes).
    type Member<'a> = (&'a str, &'a str, &'a [u64], Order, Vec<u8>);
    let members: Vec<Member<'_>> = vec![
        ("b1", "|b1", &[3][..], Order::C, vec![1, 0, 1]),
        ("i1", "|i1", &[4][..], Order::C, pattern(4, 1)),
        ("i2", "<i2", &[2, 3][..], Order::C, pattern(12, 2)),
        ("i4be", ">i4", &[5][..], Order::C, pattern(20, 3)),
        ("i8", "<i8", &[3][..], Order::C, pattern(24, 4)),
        ("u1", "|u1", &[7][..], Order::C, pattern(7, 5)),
        ("u2", "<u2", &[3][..], Order::C, pattern(6, 6)),
        ("u4", "<u4", &[2, 2][..], Order::Fortran, pattern(16, 7)),
        ("u8", "<u8", &[1][..], Order::C, pattern(8, 8)),
        ("f2", "<f2", &[5][..], Order::C, pattern(10, 9)),
        ("f4", "<f4", &[2, 3][..], Order::Fortran, pattern(24, 10)),
        ("f8", "<f8", &[][..], Order::C, pattern(8, 11)),
        ("c8", "<c8", &[2][..], Order::C, pattern(16, 12)),
        ("c16", "<c16", &[2][..], Order::C, pattern(32, 13)),
        ("s5", "|S5", &[2][..], Order::C, b"helloworld".to_vec()),
        (
            "u3",
            "<U3",
            &[1][..],
            Order::C,
            b"a\0\0\0b\0\0\0c\0\0\0".to_vec(),
        ),
        ("m8", "<M8[ns]", &[2][..], Order::C, pattern(16, 14)),
        ("empty", "<f8", &[0, 4][..], Order::C, Vec::new()),
    ];
    for (key, descr, shape, order, data) in members {
        put(&mut want, w, key, header(descr, shape, order), data);
    }
    // Typed writes too.
    w.write("typed", &[1.5f64, -2.0, 3.25], &[3], Order::C)
        .unwrap();
    let typed: Vec<u8> = [1.5f64, -2.0, 3.25]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    want.push(("typed".into(), typed));
    // Larger than one part (20 MiB).
    let n = 20 * MIB / 8;
    put(
        &mut want,
        w,
        "big",
        header("<f8", &[n as u64], Order::C),
        pattern(20 * MIB, 15),
    );
    // Many small members.
    for i in 0..300u64 {
        let key = format!("small/{i:03}");
        put(
            &mut want,
            w,
            &key,
            header("<u2", &[i % 7], Order::C),
            pattern(2 * (i % 7) as usize, i),
        );
    }
    // Streamed members: small, and larger than a part (12 MiB).
    let mut e = w
        .begin("stream_small", DType::parse("<i4").unwrap(), &[3], Order::C)
        .unwrap();
    let rows = pattern(5 * 12, 16);
    e.append_bytes(&rows[..24]).unwrap();
    e.append_bytes(&rows[24..]).unwrap();
    assert_eq!(e.finish().unwrap(), 5);
    want.push(("stream_small".into(), rows));
    let mut e = w
        .begin(
            "stream_big",
            DType::parse("<u4").unwrap(),
            &[1024],
            Order::C,
        )
        .unwrap();
    let rows = pattern(12 * MIB, 17);
    for chunk in rows.chunks(MIB / 2) {
        e.append_bytes(chunk).unwrap();
    }
    assert_eq!(e.finish().unwrap(), (12 * MIB / 4096) as u64);
    want.push(("stream_big".into(), rows));
    // A failed streamed member is discarded; the name is free again.
    let mut e = w
        .begin(
            "stream_f",
            DType::parse("<f8").unwrap(),
            &[2],
            Order::Fortran,
        )
        .unwrap();
    e.append_bytes(&pattern(9 * MIB + 16, 18)).unwrap();
    assert!(matches!(
        e.append_bytes(&[0u8; 8]),
        Err(Error::ShapeMismatch { .. })
    ));
    drop(e);
    // A dropped one too.
    let mut e = w
        .begin(
            "stream_f",
            DType::parse("<f8").unwrap(),
            &[2],
            Order::Fortran,
        )
        .unwrap();
    e.append_bytes(&pattern(32, 19)).unwrap();
    drop(e);
    let mut e = w
        .begin(
            "stream_f",
            DType::parse("<f8").unwrap(),
            &[2],
            Order::Fortran,
        )
        .unwrap();
    let cols = pattern(3 * 16, 20);
    e.append_bytes(&cols).unwrap();
    assert_eq!(e.finish().unwrap(), 3);
    want.push(("stream_f".into(), cols));
    put(
        &mut want,
        w,
        "last",
        header("<i8", &[2], Order::C),
        pattern(16, 21),
    );
    want
}

/// The archive `fill` writes, in a local file, and its members.
pub fn local_archive(opts: &WriterOptions) -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("local.npz");
    let mut w = NpzWriter::create_with(&path, opts.clone().fsync(false)).unwrap();
    let want = fill(&mut w);
    w.close().unwrap();
    (std::fs::read(&path).unwrap(), want)
}

/// Reads `bytes` with npzmap, the zip crate (CRCs checked) and numpy.
pub fn check_readers(bytes: &[u8], want: &[(String, Vec<u8>)]) {
    let r = NpzReader::from_bytes(bytes.to_vec()).unwrap();
    assert_eq!(r.len(), want.len() as u64);
    for (key, data) in want {
        assert_eq!(r.get(key).unwrap().as_bytes(), &data[..], "{key}");
    }
    // The zip crate, as an oracle: every member's bytes and CRC.
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(z.len(), want.len());
    for (key, data) in want {
        let mut m = z.by_name(&format!("{key}.npy")).unwrap();
        let mut all = Vec::new();
        m.read_to_end(&mut all).unwrap(); // checks the CRC
        assert_eq!(crc32fast::hash(&all), m.crc32());
        assert!(all.ends_with(data), "{key}");
    }
    // numpy (fails, not skips, when CI is set).
    let Some(py) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("remote.npz");
    std::fs::write(&path, bytes).unwrap();
    let script = "import sys, zlib, numpy as np\n\
        with np.load(sys.argv[1]) as z:\n\
        \x20   for k in sorted(z.files):\n\
        \x20       a = z[k]\n\
        \x20       print(k, zlib.crc32(a.tobytes(order='A')))\n";
    let got = common::run(&py, script, &[&path]);
    let mut expect: Vec<String> = want
        .iter()
        .map(|(k, d)| format!("{k} {}", crc32fast::hash(d)))
        .collect();
    expect.sort();
    let got: Vec<&str> = got.lines().collect();
    assert_eq!(got, expect);
}

pub fn requests(w: &NpzWriter) -> (u64, u64, u64, u64) {
    let r: Requests = w.requests().unwrap();
    (r.gets, r.bytes_read, r.puts, r.bytes_written)
}

/// Upload requests of an archive of `size` bytes: one `PUT` below a part,
/// else create + parts + complete.
pub fn puts_for(size: u64) -> u64 {
    if size < PART {
        1
    } else {
        2 + size.div_ceil(PART)
    }
}
/// A store whose multipart uploads fail the part number `fail_part`
/// (counting from 0 over all uploads).
#[derive(Debug)]
pub struct FailingStore {
    pub inner: Arc<dyn ObjectStore>,
    pub fail_part: usize,
    pub parts: Arc<AtomicUsize>,
}

impl std::fmt::Display for FailingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Failing({})", self.inner)
    }
}

#[derive(Debug)]
pub struct FailingUpload {
    inner: Box<dyn MultipartUpload>,
    fail_part: usize,
    parts: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl MultipartUpload for FailingUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        if self.parts.fetch_add(1, Ordering::SeqCst) == self.fail_part {
            return Box::pin(async {
                Err(object_store::Error::Generic {
                    store: "Failing",
                    source: "injected part failure".into(),
                })
            });
        }
        self.inner.put_part(data)
    }
    async fn complete(&mut self) -> object_store::Result<PutResult> {
        self.inner.complete().await
    }
    async fn abort(&mut self) -> object_store::Result<()> {
        self.inner.abort().await
    }
}

#[async_trait::async_trait]
impl ObjectStore for FailingStore {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(FailingUpload {
            inner,
            fail_part: self.fail_part,
            parts: self.parts.clone(),
        }))
    }
    async fn get_opts(
        &self,
        location: &ObjectPath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: futures_core::stream::BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> futures_core::stream::BoxStream<'static, object_store::Result<ObjectPath>> {
        self.inner.delete_stream(locations)
    }
    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> futures_core::stream::BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
