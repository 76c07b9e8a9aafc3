//! Reads the small committed fixtures (tests/data/, made by numpy with
//! tests/data/make_npz_fixtures.py): runs without Python.

use npzmap::npz::{NpzReader, ReaderOptions};
use npzmap::{DType, Element, Error, Order};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct Point {
    x: f32,
    y: f32,
    id: u32,
}

impl Element for Point {
    fn dtype() -> DType {
        DType::parse("[('x', '<f4'), ('y', '<f4'), ('id', '<u4')]").unwrap()
    }
}

fn check_all(npz: &NpzReader, full: bool) {
    let ints = npz.get("ints").unwrap();
    assert_eq!(ints.shape(), &[2, 3]);
    assert_eq!(ints.to_vec::<i32>().unwrap(), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(&*npz.get_slice::<i32>("ints").unwrap(), &[0, 1, 2, 3, 4, 5]);
    // big-endian: the native view says native order and holds swapped values
    let big = npz.get_native("big").unwrap();
    assert!(big.dtype().is_native());
    assert_eq!(big.as_slice::<f64>().unwrap(), &[1.5, -2.25, 1e300]);
    assert_eq!(
        npz.get("big").unwrap().to_vec::<f64>().unwrap(),
        vec![1.5, -2.25, 1e300]
    );
    let pts = npz.get_slice::<Point>("points").unwrap();
    assert_eq!(
        &*pts,
        &[
            Point {
                x: 1.0,
                y: 2.0,
                id: 7
            },
            Point {
                x: 3.0,
                y: 4.0,
                id: 8
            }
        ]
    );
    let fields = pts.view().dtype().fields().unwrap();
    assert_eq!(
        fields.iter().map(|f| f.offset).collect::<Vec<_>>(),
        vec![0, 4, 8]
    );
    if !full {
        return;
    }
    assert_eq!(
        npz.get_slice::<bool>("flags").unwrap().to_vec(),
        vec![true, false, true]
    );
    assert_eq!(
        npz.get("words").unwrap().to_strings().unwrap(),
        vec!["ab", "é", ""]
    );
    assert_eq!(
        npz.get("bytes").unwrap().to_byte_strings().unwrap(),
        vec![b"x".to_vec(), b"yz".to_vec()]
    );
    let f = npz.get("fortran").unwrap();
    assert_eq!(f.order(), Order::Fortran);
    assert_eq!(f.shape(), &[2, 3]);
    assert_eq!(f.to_vec::<u16>().unwrap(), vec![0, 3, 1, 4, 2, 5]); // memory order
}

#[test]
fn savez_fixture() {
    let npz = NpzReader::open(fixture("small_savez.npz")).unwrap();
    assert_eq!(
        npz.keys().collect::<Vec<_>>(),
        [
            "ints", "big", "flags", "words", "bytes", "points", "fortran"
        ]
    );
    assert_eq!(npz.len(), 7);
    assert!(npz.contains("ints") && npz.contains("ints.npy") && !npz.contains("nope"));
    check_all(&npz, true);
    assert!(npz.verify().is_ok());
    assert!(matches!(npz.get("nope"), Err(Error::NotFound { .. })));
    assert!(npz.duplicates().is_empty());
    // the owned view outlives the reader
    let owned = npz.get_owned("ints").unwrap();
    drop(npz);
    assert_eq!(owned.to_vec::<i32>().unwrap(), vec![0, 1, 2, 3, 4, 5]);
}

#[test]
fn compressed_fixture() {
    for opts in [
        ReaderOptions::new(),
        ReaderOptions::new().cache(false).cache_bytes(0),
        ReaderOptions::new()
            .preload(true)
            .strict(true)
            .verify_on_access(true),
    ] {
        let npz = NpzReader::open_with(fixture("small_compressed.npz"), opts).unwrap();
        assert!(npz.preload_errors().is_empty());
        check_all(&npz, true);
        check_all(&npz, true);
        assert!(npz.verify().is_ok());
        let owned = npz.get_owned("points").unwrap();
        drop(npz);
        assert_eq!(owned.as_slice::<Point>().unwrap()[1].id, 8);
    }
}

#[test]
fn descriptor_fixture() {
    let npz = NpzReader::open(fixture("small_descriptors.npz")).unwrap();
    assert_eq!(npz.keys().collect::<Vec<_>>(), ["ints", "big", "points"]);
    check_all(&npz, false);
    let r = npz.verify();
    assert!(r.is_ok(), "{:?}", r.errors().collect::<Vec<_>>());
}

#[test]
fn copy_cache_is_bounded_and_reused() {
    let npz = NpzReader::open_with(fixture("small_compressed.npz"), ReaderOptions::new()).unwrap();
    let a = npz.get_slice::<i32>("ints").unwrap();
    let used = npz.cached_bytes();
    assert!(used > 0 && a.is_copy());
    let b = npz.get_slice::<i32>("ints").unwrap();
    assert_eq!(a.as_ptr(), b.as_ptr()); // same cached copy
    assert_eq!(npz.cached_bytes(), used);
    npz.clear_cache();
    assert_eq!(npz.cached_bytes(), 0);
    let tiny = NpzReader::open_with(
        fixture("small_compressed.npz"),
        ReaderOptions::new().cache_bytes(10),
    )
    .unwrap();
    assert_eq!(
        &*tiny.get_slice::<i32>("ints").unwrap(),
        &[0, 1, 2, 3, 4, 5]
    );
    assert_eq!(tiny.cached_bytes(), 0); // larger than the budget: returned, not kept
}
