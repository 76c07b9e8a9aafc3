//! cargo-fuzz target `npy_header`: the property is `checks/npy_header.rs`, shared with the
//! stable replay of the committed corpus (`tests/fuzz_corpus.rs`).
#![no_main]

#[path = "../checks/npy_header.rs"]
mod npy_header;

libfuzzer_sys::fuzz_target!(|data: &[u8]| npy_header::fuzz_one(data));
