//! Builds small archives byte by byte for reader tests (stored or deflated
//! members, arbitrary flags), on top of `npzmap::unstable::zip`.
#![allow(dead_code)]

use npzmap::unstable::zip::*;
use npzmap::{DType, Header, Order};
use std::io::Write;

/// One member to write.
#[derive(Clone, Debug)]
pub struct M {
    pub name: Vec<u8>,
    /// Bytes as stored (compressed for method 8).
    pub stored: Vec<u8>,
    pub uncompressed: u64,
    pub crc: u32,
    pub method: u16,
    pub flags: u16,
}

/// NPY bytes (header + data).
pub fn npy(descr: &str, shape: &[u64], order: Order, data: &[u8]) -> Vec<u8> {
    let h = Header::new(DType::parse(descr).unwrap(), shape.to_vec(), order);
    let mut b = h.to_bytes().unwrap();
    b.extend_from_slice(data);
    b
}

pub fn stored(name: &str, bytes: Vec<u8>) -> M {
    M {
        name: name.as_bytes().to_vec(),
        uncompressed: bytes.len() as u64,
        crc: crc32fast::hash(&bytes),
        stored: bytes,
        method: METHOD_STORED,
        flags: if name.is_ascii() { 0 } else { FLAG_UTF8 },
    }
}

pub fn deflated(name: &str, bytes: Vec<u8>) -> M {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(&bytes).unwrap();
    let c = e.finish().unwrap();
    M {
        method: METHOD_DEFLATE,
        stored: c,
        ..stored(name, bytes)
    }
}

/// Encodes a local header (plain 32-bit sizes) for `m`.
pub fn local_header(m: &M) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&LOCAL_SIG.to_le_bytes());
    out.extend_from_slice(&20u16.to_le_bytes());
    out.extend_from_slice(&m.flags.to_le_bytes());
    out.extend_from_slice(&m.method.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&DOS_DATE_1980.to_le_bytes());
    out.extend_from_slice(&m.crc.to_le_bytes());
    out.extend_from_slice(&(m.stored.len() as u32).to_le_bytes());
    out.extend_from_slice(&(m.uncompressed as u32).to_le_bytes());
    out.extend_from_slice(&(m.name.len() as u16).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&m.name);
    out
}

/// An archive of `members`; returns the bytes and each member's local header offset.
pub fn archive_with_offsets(members: &[M], comment: &[u8]) -> (Vec<u8>, Vec<u64>) {
    let mut out = Vec::new();
    let mut cds = Vec::new();
    let mut offs = Vec::new();
    for m in members {
        let off = out.len() as u64;
        offs.push(off);
        out.extend_from_slice(&local_header(m));
        out.extend_from_slice(&m.stored);
        let mut c = CentralEntry::stored("x", m.crc, m.uncompressed, off);
        c.name = m.name.clone();
        c.method = m.method;
        c.flags = m.flags;
        c.compressed_size = m.stored.len() as u64;
        cds.push(c);
    }
    let cd_off = out.len() as u64;
    let mut cd = Vec::new();
    for c in &cds {
        c.write(&mut cd);
    }
    out.extend_from_slice(&cd);
    write_end_records(&mut out, cds.len() as u64, cd_off, cd.len() as u64, comment);
    (out, offs)
}

pub fn archive(members: &[M]) -> Vec<u8> {
    archive_with_offsets(members, b"").0
}

/// Writes `bytes` to a fresh temp file; returns the dir guard and path.
pub fn temp(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npz");
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

pub fn le<T: bytemuck::NoUninit>(v: &[T]) -> Vec<u8> {
    bytemuck::cast_slice(v).to_vec()
}
