use super::*;
use object_store::memory::InMemory;

fn object(bytes: &[u8]) -> Object {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let o = Object::new(store.clone(), "dir/a.npz").unwrap();
    let data = Bytes::copy_from_slice(bytes);
    let path = o.path().clone();
    block_on(async move { store.put(&path, data.into()).await })
        .unwrap()
        .unwrap();
    o
}

#[test]
fn ranged_reads_are_counted() {
    let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let o = object(&data);
    let (tail, size) = o.get_tail(100).unwrap();
    assert_eq!(size, 10_000);
    assert_eq!(&tail[..], &data[9_900..]);
    let (all, size) = o.get_tail(1 << 20).unwrap();
    assert_eq!((all.len(), size), (10_000, 10_000));
    assert_eq!(&o.get_range(10..20).unwrap()[..], &data[10..20]);
    assert_eq!(
        o.requests(),
        Requests {
            gets: 3,
            bytes_read: 100 + 10_000 + 10,
            puts: 0,
            bytes_written: 0
        }
    );
    // Two nearby ranges coalesce into one request, the far one is another.
    let got = o.get_ranges(&[0..10, 20..30, 9_000..9_010], 1_000).unwrap();
    assert_eq!(&got[1][..], &data[20..30]);
    assert_eq!(&got[2][..], &data[9_000..9_010]);
    assert_eq!(o.clone().requests().gets, 5);
}

#[test]
fn errors_name_the_url_and_kind() {
    let o = object(b"abc");
    let missing = Object::new(o.store().clone(), "nope.npz").unwrap();
    let e = missing.get_tail(10).unwrap_err();
    match &e {
        Error::Io { op, source, at } => {
            assert_eq!(*op, "GET");
            assert_eq!(source.kind(), io::ErrorKind::NotFound);
            assert_eq!(
                at.path.as_deref(),
                Some(std::path::Path::new(missing.url()))
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Object::from_url("s3//nope"),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn urls_are_recognised() {
    for u in [
        "s3://b/k.npz",
        "S3://b/k",
        "gs://b/k",
        "az://c/k",
        "https://h/k",
        "memory:///k",
    ] {
        assert!(is_url(u), "{u}");
    }
    for p in ["data.npz", "/tmp/s3://x", "s3:/x", "./http://"] {
        assert!(!is_url(p), "{p}");
    }
}

#[test]
fn block_on_works_inside_another_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let o = object(b"hello");
    let got = rt.block_on(async move { o.get_range(1..4).unwrap() });
    assert_eq!(&got[..], b"ell");
}

#[test]
fn upload_truncates_unsent_bytes_only_and_aborts_when_dropped() {
    use super::upload::{PART_SIZE, Upload};
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let get = |key: &str| {
        let (store, path) = (store.clone(), ObjectPath::from(key));
        block_on(async move { store.get(&path).await.ok()?.bytes().await.ok() }).unwrap()
    };
    // Small: one PUT; unsent bytes can be taken back.
    let o = Object::new(store.clone(), "small").unwrap();
    let mut up = Upload::new(o.clone());
    up.write(b"abc").unwrap();
    up.truncate(1).unwrap();
    up.finish().unwrap();
    assert_eq!(get("small").as_deref(), Some(&b"a"[..]));
    assert_eq!((o.requests().puts, o.requests().bytes_written), (1, 1));
    assert!(up.write(b"x").is_err()); // complete
    drop(up);
    assert_eq!(o.requests().puts, 1);
    // Bytes sent cannot be taken back: the upload fails, drop aborts.
    let o = Object::new(store.clone(), "big").unwrap();
    let mut up = Upload::new(o.clone());
    up.write(&vec![1u8; PART_SIZE + 10]).unwrap();
    up.truncate(PART_SIZE as u64 + 5).unwrap();
    let e = up.truncate(5).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::Unsupported);
    assert!(up.write(b"x").is_err());
    assert!(up.finish().is_err());
    drop(up);
    // create + one part + abort
    assert_eq!(o.requests().puts, 3);
    assert_eq!(get("big"), None);
}
