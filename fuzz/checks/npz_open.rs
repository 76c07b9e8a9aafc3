//! The archive reader on arbitrary bytes, through [`NpzReader::from_bytes`]:
//! open, list, every member through every accessor, verify. The first byte
//! picks the reader options. Never panics, never allocates more than the
//! input can justify, and accessors agree with each other and with a
//! default-options reader of the same bytes.
//!
//! Shared by the cargo-fuzz target `fuzz_targets/npz_open.rs` and the stable
//! replay of the committed corpus (`tests/fuzz_corpus.rs`).

use npzmap::dtype::{Element, Kind};
use npzmap::npz::reader::{NpzReader, ReaderOptions};
use npzmap::view::ArrayView;

fn options(sel: u8) -> ReaderOptions {
    let o = ReaderOptions::new();
    match sel % 6 {
        0 => o,
        1 => o.preload(true).strict(true),
        2 => o.preload(true).cache(false),
        3 => o.cache(false).cache_bytes(0),
        4 => o.cache_bytes(usize::from(sel >> 3)),
        _ => o.verify_on_access(true).header_limit(usize::from(sel) * 8),
    }
}

fn try_vec<T: Element>(v: &ArrayView<'_>) {
    if let Ok(out) = v.to_vec::<T>() {
        assert_eq!(out.len() as u64, v.header().num_elements().unwrap());
    }
}

fn typed(v: &ArrayView<'_>) {
    let Some(s) = v.dtype().as_scalar() else {
        return;
    };
    match (s.kind, s.size) {
        (Kind::Bool, _) => try_vec::<bool>(v),
        (Kind::Int, 1) => try_vec::<i8>(v),
        (Kind::Int, 2) => try_vec::<i16>(v),
        (Kind::Int, 4) => try_vec::<i32>(v),
        (Kind::Int, 8) => try_vec::<i64>(v),
        (Kind::UInt, 1) => try_vec::<u8>(v),
        (Kind::UInt, 2) => try_vec::<u16>(v),
        (Kind::UInt, 4) => try_vec::<u32>(v),
        (Kind::UInt, 8) => try_vec::<u64>(v),
        (Kind::Float, 4) => try_vec::<f32>(v),
        (Kind::Float, 8) => try_vec::<f64>(v),
        _ => {}
    }
}

fn exercise(npz: &NpzReader, reference: Option<&NpzReader>, budget: usize) {
    let _ = npz.comment();
    let _ = npz.duplicates();
    let _ = npz.preload_errors();
    assert_eq!(npz.keys().len() as u64, npz.len());
    let members: Vec<String> = npz.members().map(|m| m.name.to_string()).collect();
    let keys: Vec<String> = npz.keys().map(str::to_string).collect();
    for key in &keys {
        assert!(npz.contains(key));
        let header = npz.header(key).map(|h| h.into_owned());
        let got = npz.get(key);
        if let (Ok(h), Ok(v)) = (&header, &got) {
            assert_eq!(v.shape(), &h.shape[..]);
            assert_eq!(
                v.as_bytes().len() as u64,
                h.data_len().unwrap(),
                "view length"
            );
        }
        if let Ok(v) = &got {
            let _ = v.to_strings();
            let _ = v.to_byte_strings();
            typed(v);
            let native = npz.get_native(key);
            if let (Ok(b), Ok(n)) = (v.to_native_bytes(), &native) {
                assert!(n.dtype().is_native());
                assert_eq!(b.as_slice(), n.as_bytes(), "get_native vs to_native_bytes");
            }
            if let Some(r) = reference
                && let Ok(rv) = r.get(key)
            {
                assert_eq!(rv.header(), v.header(), "header differs between options");
                assert_eq!(rv.as_bytes(), v.as_bytes(), "bytes differ between options");
            }
        }
        if let Ok(o) = npz.get_owned(key) {
            typed(&o);
        }
        let _ = npz.get_slice::<f64>(key);
        let _ = npz.get_slice::<u8>(key);
        let _ = npz.get_slice::<bool>(key);
        let _ = npz.read_member(key);
        assert!(npz.cached_bytes() <= budget, "copy cache over budget");
    }
    for name in &members {
        let _ = npz.read_member(name);
    }
    // Every member in order through for_each_array_info; each live one's
    // info is what array_info and array_infos give for its key.
    let mut listed = Vec::new();
    let _ = npz.for_each_array_info(|m, info| {
        listed.push((m.name.to_string(), m.key.to_string(), m.shadowed, info));
        std::ops::ControlFlow::<()>::Continue(())
    });
    let names: Vec<&String> = listed.iter().map(|l| &l.0).collect();
    assert_eq!(names, members.iter().collect::<Vec<_>>(), "for_each order");
    let live: Vec<&str> = (listed.iter())
        .filter(|l| !l.2)
        .map(|l| l.1.as_str())
        .collect();
    let batch = npz.array_infos(&live);
    for ((_, key, _, info), by_keys) in listed.iter().filter(|l| !l.2).zip(&batch) {
        match (npz.array_info(key), info, by_keys) {
            (Ok(a), Ok(b), Ok(c)) => assert!(a == *b && a == *c, "array info of {key:?}"),
            (Err(_), Err(_), Err(_)) => {}
            (a, b, c) => panic!("{key:?}: {a:?} / {b:?} / {c:?}"),
        }
    }
    // nth jumps where it can, and agrees with stepping.
    for (n, k) in keys.iter().enumerate().take(64) {
        assert_eq!(npz.keys().nth(n), Some(k.as_str()), "keys().nth({n})");
        assert_eq!(npz.iter().nth(n).map(|(k, _)| k), Some(k.as_str()));
    }
    assert_eq!(npz.keys().nth(keys.len()), None);
    let report = npz.verify();
    assert_eq!(report.members.len(), members.len());
    if report.is_ok() {
        // Every live .npy member checked out: its view must open.
        for m in npz
            .members()
            .filter(|m| !m.shadowed && m.name.ends_with(".npy"))
        {
            assert!(
                npz.get(m.key).is_ok(),
                "verified member {:?} fails get",
                m.name
            );
        }
    }
    npz.clear_cache();
    assert_eq!(npz.cached_bytes(), 0);
}

/// The fuzz target's body: one input, checked.
pub fn fuzz_one(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let opts = options(sel);
    let budget = match sel % 6 {
        3 => 0,
        4 => usize::from(sel >> 3),
        _ => npzmap::npz::reader::DEFAULT_CACHE_BYTES,
    };
    let reference = NpzReader::from_bytes(rest.to_vec()).ok();
    let Ok(npz) = NpzReader::from_bytes_with(rest.to_vec(), opts) else {
        return;
    };
    assert!(
        reference.is_some(),
        "options made an unopenable archive open"
    );
    exercise(&npz, reference.as_ref(), budget);
}
