//! A whole `.npy` file in memory: header, length checks, view, and every
//! copying accessor that fits the dtype. Never panics, never allocates in
//! proportion to an unchecked header field.
//!
//! Shared by the cargo-fuzz target `fuzz_targets/npy_file.rs` and the stable
//! replay of the committed corpus (`tests/fuzz_corpus.rs`).

use npzmap::dtype::{Element, Kind};
use npzmap::npy::{NpyOptions, view_from_bytes};
use npzmap::view::ArrayView;

fn try_vec<T: Element>(v: &ArrayView<'_>) {
    if let Ok(out) = v.to_vec::<T>() {
        assert_eq!(out.len() as u64, v.header().num_elements().unwrap());
    }
    let _ = v.as_slice::<T>();
}

/// The fuzz target's body: one input, checked.
pub fn fuzz_one(data: &[u8]) {
    for allow_trailing in [false, true] {
        let opts = NpyOptions::new().allow_trailing(allow_trailing);
        let Ok(v) = view_from_bytes(data, opts) else {
            continue;
        };
        assert_eq!(
            v.as_bytes().len() as u64,
            v.header().data_len().unwrap(),
            "view length"
        );
        let _ = v.len();
        let _ = v.is_zero_copy();
        if let Ok(b) = v.to_native_bytes() {
            assert_eq!(b.len(), v.bytes().len());
        }
        let _ = v.to_strings();
        let _ = v.to_byte_strings();
        if let Some(s) = v.dtype().as_scalar() {
            match (s.kind, s.size) {
                (Kind::Bool, _) => try_vec::<bool>(&v),
                (Kind::Int, 1) => try_vec::<i8>(&v),
                (Kind::Int, 2) => try_vec::<i16>(&v),
                (Kind::Int, 4) => try_vec::<i32>(&v),
                (Kind::Int, 8) => try_vec::<i64>(&v),
                (Kind::UInt, 1) => try_vec::<u8>(&v),
                (Kind::UInt, 2) => try_vec::<u16>(&v),
                (Kind::UInt, 4) => try_vec::<u32>(&v),
                (Kind::UInt, 8) => try_vec::<u64>(&v),
                (Kind::Float, 4) => try_vec::<f32>(&v),
                (Kind::Float, 8) => try_vec::<f64>(&v),
                _ => {}
            }
        }
        // Asking for the wrong type is an error, never a cast.
        if v.dtype().itemsize() != 8 {
            assert!(v.to_vec::<f64>().is_err());
        }
        let _ = v.into_owned();
    }
}
