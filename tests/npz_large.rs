//! Archives past the classic zip limits: more than 65535 members and more
//! than 4 GiB (a sparse file, so it costs no disk space or time).

mod common;
mod npz_support;

use npz_support::*;
use npzmap::npz::NpzReader;
use npzmap::unstable::zip::*;
use npzmap::{DType, Header, Order};
use std::io::{Seek, SeekFrom, Write};

#[test]
fn more_than_65535_members() {
    let n = 70_000usize;
    let members: Vec<M> = (0..n)
        .map(|i| {
            stored(
                &format!("k{i}.npy"),
                npy("<u4", &[], Order::C, &(i as u32).to_le_bytes()),
            )
        })
        .collect();
    let (_d, path) = temp(&archive(&members));
    let npz = NpzReader::open(&path).unwrap();
    assert_eq!(npz.len(), n as u64);
    for i in [0, 1, 65_535, 65_536, n - 1] {
        assert_eq!(
            npz.get(&format!("k{i}")).unwrap().to_vec::<u32>().unwrap(),
            [i as u32]
        );
    }
    assert_eq!(npz.keys().nth(65_536), Some("k65536"));
    if let Some(py) = common::python() {
        let out = common::run(
            &py,
            "import numpy as np, sys\nz = np.load(sys.argv[1])\nprint(len(z.files), int(z['k69999']))",
            &[&path],
        );
        assert_eq!(out.trim(), "70000 69999");
    }
}

#[test]
fn archive_over_4_gib() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.npz");
    let big_len: u64 = (1 << 32) + 4096; // zeros, left as a hole
    let header = Header::new(DType::parse("|u1").unwrap(), vec![big_len], Order::C)
        .to_bytes()
        .unwrap();
    let member_len = header.len() as u64 + big_len;
    // CRC of the member without reading 4 GiB: header, then zeros by doubling.
    let mut zeros = crc32fast::Hasher::new();
    zeros.update(&[0u8; 4096]);
    let mut acc = crc32fast::Hasher::new();
    acc.update(&header);
    let mut left = big_len / 4096;
    let mut block = zeros.clone();
    while left > 0 {
        if left & 1 == 1 {
            acc.combine(&block);
        }
        let b2 = block.clone();
        block.combine(&b2);
        left >>= 1;
    }
    let crc = acc.finalize();
    let mut f = std::fs::File::create(&path).unwrap();
    let mut head = Vec::new();
    LocalHeader::stored("big.npy", crc, member_len, LocalZip64::Yes, 0).write(&mut head);
    head.extend_from_slice(&header);
    f.write_all(&head).unwrap();
    let second_off = head.len() as u64 - header.len() as u64 + member_len;
    f.set_len(second_off).unwrap();
    f.seek(SeekFrom::Start(second_off)).unwrap();
    let small = npy("<i8", &[3], Order::C, &le(&[7i64, 8, 9]));
    let mut tail = Vec::new();
    let small_crc = crc32fast::hash(&small);
    LocalHeader::stored(
        "small.npy",
        small_crc,
        small.len() as u64,
        LocalZip64::Yes,
        0,
    )
    .write(&mut tail);
    tail.extend_from_slice(&small);
    let cd_off = second_off + tail.len() as u64;
    let mut cd = Vec::new();
    CentralEntry::stored("big.npy", crc, member_len, 0).write(&mut cd);
    CentralEntry::stored("small.npy", small_crc, small.len() as u64, second_off).write(&mut cd);
    tail.extend_from_slice(&cd);
    write_end_records(&mut tail, 2, cd_off, cd.len() as u64, b"");
    f.write_all(&tail).unwrap();
    drop(f);

    let npz = NpzReader::open(&path).unwrap();
    let big = npz.get("big").unwrap();
    assert_eq!(big.shape(), &[big_len]);
    // as_bytes, not as_slice: bytemuck's checked cast visits every element
    // in debug builds (optimised away in release).
    let s = big.as_bytes();
    assert_eq!(s.len() as u64, big_len);
    assert_eq!((s[0], s[s.len() / 2], s[s.len() - 1]), (0, 0, 0));
    assert_eq!(&*npz.get_slice::<i64>("small").unwrap(), &[7, 8, 9]);
    if let Some(py) = common::python() {
        let out = common::run(
            &py,
            "import numpy as np, sys\nz = np.load(sys.argv[1])\nprint(z['small'].tolist())",
            &[&path],
        );
        assert_eq!(out.trim(), "[7, 8, 9]");
    }
}
