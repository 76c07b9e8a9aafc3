//! The archive engine: [`NpzWriter`](writer) and [`NpzReader`](reader) over
//! the shared zip record layer, plus [`recover`](mod@recover) for archives whose
//! writer died.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::undocumented_unsafe_blocks,
    missing_docs,
    missing_debug_implementations
)]

mod cache;
pub mod reader;
// writer and recover (split on another branch) declare these lints in
// their own files; until then they keep the crate-wide defaults.
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    missing_debug_implementations
)]
pub mod recover;
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    missing_debug_implementations
)]
pub mod writer;

pub use reader::{
    ArraySlice, Errors, Iter, Keys, MemberInfo, Members, NpzReader, ReaderOptions, VerifyReport,
};
pub use recover::{RecoverReport, recover, recover_in_place};
pub use writer::{DosDateTime, EntryWriter, NpzWriter, WriterOptions};

/// The zip member name for an array key: `key + ".npy"`, not doubled when
/// the key already ends in `.npy`.
pub fn member_name(key: &str) -> String {
    if key.ends_with(".npy") {
        key.to_string()
    } else {
        format!("{key}.npy")
    }
}

/// The key np.load shows for a member: the member name with `.npy` stripped
/// (members not ending in `.npy` keep their full name).
pub fn key_of(member: &str) -> &str {
    member.strip_suffix(".npy").unwrap_or(member)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(member_name("a"), "a.npy");
        assert_eq!(member_name("a.npy"), "a.npy");
        assert_eq!(key_of("a.npy"), "a");
        assert_eq!(key_of("readme.txt"), "readme.txt");
        assert_eq!(key_of("dir/x.npy"), "dir/x");
    }
}
