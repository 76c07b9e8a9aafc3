//! Where each member of an archive lies, as the `zip` crate (an independent
//! oracle) reads it: for damage and recovery tests that must know which
//! bytes belong to which member.
#![allow(dead_code)]

use std::io::Read;
use std::ops::Range;
use std::path::Path;

/// One member as the `zip` crate sees it.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    /// Uncompressed bytes.
    pub bytes: Vec<u8>,
    /// Offset of the local header.
    pub header_start: u64,
    /// The member's (compressed) data in the file.
    pub data: Range<u64>,
    pub deflated: bool,
}

/// Every member of the archive at `path`, in directory order.
pub fn layout(path: &Path) -> Vec<Member> {
    let f = std::fs::File::open(path).expect("open archive");
    let mut z = zip::ZipArchive::new(f).expect("zip crate opens the archive");
    (0..z.len())
        .map(|i| {
            let mut m = z.by_index(i).expect("member");
            let mut bytes = Vec::new();
            m.read_to_end(&mut bytes).expect("read member");
            let start = m.data_start().expect("data start known after reading");
            Member {
                name: m.name().expect("name").to_string(),
                bytes,
                header_start: m.header_start(),
                data: start..start + m.compressed_size(),
                deflated: m.compression() == zip::CompressionMethod::Deflated,
            }
        })
        .collect()
}

/// The member whose data holds byte `pos`, if any.
pub fn owner(members: &[Member], pos: u64) -> Option<&Member> {
    members.iter().find(|m| m.data.contains(&pos))
}
