//! cargo-fuzz target `npz_recover`: the property is `checks/npz_recover.rs`, shared with the
//! stable replay of the committed corpus (`tests/fuzz_corpus.rs`).
#![no_main]

#[path = "../checks/npz_recover.rs"]
mod npz_recover;

libfuzzer_sys::fuzz_target!(|data: &[u8]| npz_recover::fuzz_one(data));
