//! The archive engine: [`NpzWriter`](writer) and [`NpzReader`](reader) over
//! the shared zip record layer, plus [`recover`](mod@recover) for archives whose
//! writer died, and the archive [`tools`] ([`rewrite`], [`merge`]).

mod cache;
pub mod reader;
pub mod recover;
pub mod tools;
pub mod writer;

pub use reader::{
    ArrayInfo, ArraySlice, Errors, Iter, Keys, MemberInfo, Members, NpzReader, ReaderOptions,
    VerifyReport,
};
pub use recover::{RecoverReport, recover, recover_in_place};
pub use tools::{
    MergeOptions, MergeReport, OnDuplicate, RewriteOptions, RewriteReport, merge, rewrite,
};
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
