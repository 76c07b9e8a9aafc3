//! cargo-fuzz target `npz_roundtrip`: the property is `checks/npz_roundtrip.rs`, shared with the
//! stable replay of the committed corpus (`tests/fuzz_corpus.rs`).
#![no_main]

#[path = "../checks/npz_roundtrip.rs"]
mod npz_roundtrip;

libfuzzer_sys::fuzz_target!(|data: &[u8]| npz_roundtrip::fuzz_one(data));
