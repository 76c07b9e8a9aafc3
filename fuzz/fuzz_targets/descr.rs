//! cargo-fuzz target `descr`: the property is `checks/descr.rs`, shared with the
//! stable replay of the committed corpus (`tests/fuzz_corpus.rs`).
#![no_main]

#[path = "../checks/descr.rs"]
mod descr;

libfuzzer_sys::fuzz_target!(|data: &[u8]| descr::fuzz_one(data));
