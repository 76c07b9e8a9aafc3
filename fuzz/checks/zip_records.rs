//! The zip record layer on arbitrary bytes: end records, central directory,
//! local headers and data descriptors. Never panics, never loops unbounded.
//!
//! Shared by the cargo-fuzz target `fuzz_targets/zip_records.rs` and the stable
//! replay of the committed corpus (`tests/fuzz_corpus.rs`).

use npzmap::unstable::zip::{
    DataDescriptor, EndOfCentralDirectory, LocalHeaderRef, central_entries,
};

/// The fuzz target's body: one input, checked.
pub fn fuzz_one(data: &[u8]) {
    // Records parsed at arbitrary offsets, independent of any directory.
    let _ = LocalHeaderRef::parse(data, 0);
    let _ = DataDescriptor::parse(data, 0, false);
    let _ = DataDescriptor::parse(data, 0, true);
    let Ok(end) = EndOfCentralDirectory::find(data) else {
        return;
    };
    assert!(end.eocd_offset < data.len() as u64);
    for entry in central_entries(data, &end).take(10_000) {
        let Ok(e) = entry else { break };
        let local = e.local_header_offset.saturating_add(end.prefix);
        if let Ok(h) = LocalHeaderRef::parse(data, local) {
            assert!(h.data_start() > local);
            let after = h.data_start().saturating_add(e.compressed_size);
            let zip64 = h.has_zip64;
            if let Ok(d) = DataDescriptor::parse(data, after, zip64) {
                assert!(d.len >= 12);
            }
        }
    }
}
