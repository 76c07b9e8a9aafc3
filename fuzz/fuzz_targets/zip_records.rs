//! cargo-fuzz target `zip_records`: the property is `checks/zip_records.rs`, shared with the
//! stable replay of the committed corpus (`tests/fuzz_corpus.rs`).
#![no_main]

#[path = "../checks/zip_records.rs"]
mod zip_records;

libfuzzer_sys::fuzz_target!(|data: &[u8]| zip_records::fuzz_one(data));
