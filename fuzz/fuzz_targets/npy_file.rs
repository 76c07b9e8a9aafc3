//! cargo-fuzz target `npy_file`: the property is `checks/npy_file.rs`, shared with the
//! stable replay of the committed corpus (`tests/fuzz_corpus.rs`).
#![no_main]

#[path = "../checks/npy_file.rs"]
mod npy_file;

libfuzzer_sys::fuzz_target!(|data: &[u8]| npy_file::fuzz_one(data));
