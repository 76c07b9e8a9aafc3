//! The NPY header reader on arbitrary bytes: never panics, and every header it
//! accepts writes back (np.save layout) to bytes that read to the same header.
//!
//! Shared by the cargo-fuzz target `fuzz_targets/npy_header.rs` and the stable
//! replay of the committed corpus (`tests/fuzz_corpus.rs`).

use npzmap::npy::header::{DEFAULT_HEADER_LIMIT, read_header};

/// The fuzz target's body: one input, checked.
pub fn fuzz_one(data: &[u8]) {
    if let Ok(p) = read_header(data, DEFAULT_HEADER_LIMIT) {
        assert!(p.data_offset <= data.len() as u64);
        let _ = p.header.row_len();
        let _ = p.header.growth_axis();
        let bytes = p
            .header
            .to_bytes()
            .expect("accepted header must be writable");
        assert_eq!(bytes.len() % 64, 0);
        let again = read_header(&bytes, usize::MAX).expect("written header must read");
        assert_eq!(again.header, p.header, "header round trip");
        assert_eq!(again.data_offset, bytes.len() as u64);
        // The in-place rewrite at the written length always fits.
        let exact = p
            .header
            .to_bytes_exact(again.version, bytes.len() as u64)
            .expect("rewrite at the same length");
        assert_eq!(read_header(&exact, usize::MAX).unwrap().header, p.header);
    }
}
