//! cargo-fuzz target `npz_open`: the property is `checks/npz_open.rs`, shared with the
//! stable replay of the committed corpus (`tests/fuzz_corpus.rs`).
#![no_main]

#[path = "../checks/npz_open.rs"]
mod npz_open;

libfuzzer_sys::fuzz_target!(|data: &[u8]| npz_open::fuzz_one(data));
