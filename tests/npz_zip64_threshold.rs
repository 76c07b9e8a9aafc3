//! The ZIP64 threshold, byte for byte: members of 0xFFFFFFFE, 0xFFFFFFFF
//! and 0x100000000 bytes, a local header at offset 0xFFFFFFFE / 0xFFFFFFFF,
//! and a central directory at offset 0xFFFFFFFE / 0xFFFFFFFF, written by
//! `NpzWriter` (a streamed member of zeros from one reused buffer). The
//! produced bytes are parsed here, independently of the crate's own parser:
//! local headers, central headers, extra fields and end records, with ZIP64
//! exactly where a value needs it; the zip crate then reads the directory.
//!
//! The files are 4 GiB each; they go to /dev/shm when it has room, one at a
//! time (a lock serialises the tests of this file).

use npzmap::npz::NpzWriter;
use npzmap::{DType, Order};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const MAX32: u64 = 0xFFFF_FFFF;
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let room = std::process::Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(shm)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .nth(1)
                .and_then(|l| l.trim().parse::<u64>().ok())
        })
        .unwrap_or(0);
    if room > 6 << 30 {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    }
}

fn u16_at(b: &[u8], at: u64) -> u16 {
    let at = at as usize;
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], at: u64) -> u32 {
    let at = at as usize;
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], at: u64) -> u64 {
    let at = at as usize;
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Reads `len` bytes at `at` of the file.
fn read_at(path: &Path, at: u64, len: usize) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(path).unwrap();
    let mut b = vec![0u8; len];
    f.read_exact_at(&mut b, at).unwrap();
    b
}

/// Extra fields as (id, data).
fn extras(b: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    let mut i = 0usize;
    while i < b.len() {
        assert!(i + 4 <= b.len(), "extra field header cut");
        let id = u16::from_le_bytes([b[i], b[i + 1]]);
        let n = usize::from(u16::from_le_bytes([b[i + 2], b[i + 3]]));
        assert!(
            i + 4 + n <= b.len(),
            "extra field {id:#x} runs past the extra"
        );
        out.push((id, b[i + 4..i + 4 + n].to_vec()));
        i += 4 + n;
    }
    out
}

fn zip64_extra(ex: &[(u16, Vec<u8>)]) -> Option<Vec<u64>> {
    let z: Vec<_> = ex.iter().filter(|(id, _)| *id == 1).collect();
    assert!(z.len() <= 1, "one ZIP64 extra at most");
    z.first().map(|(_, d)| {
        assert_eq!(d.len() % 8, 0);
        d.chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect()
    })
}

/// CRC-32 of an npy header followed by `zeros` zero bytes, by combining.
fn crc_of(header: &[u8], zeros: u64) -> u32 {
    let mut acc = crc32fast::Hasher::new();
    acc.update(header);
    let mut block = crc32fast::Hasher::new();
    block.update(&[0u8; 4096]);
    let mut left = zeros / 4096;
    while left > 0 {
        if left & 1 == 1 {
            acc.combine(&block);
        }
        let b2 = block.clone();
        block.combine(&b2);
        left >>= 1;
    }
    acc.update(&vec![0u8; (zeros % 4096) as usize]);
    acc.finalize()
}

/// What a test member is.
struct Spec {
    name: &'static str,
    /// Member size (npy header + data) for a streamed member of zeros;
    /// None: a small stored array `[1, 2, 3]` of u8.
    size: Option<u64>,
    /// Written with one `write` of a zeroed slice instead of streamed.
    whole: bool,
}

/// What the test knows of a member independently of the crate.
struct Expect {
    name: &'static str,
    offset: u64,
    size: u64,
    crc: u32,
    streamed: bool,
}

const NPY_HEADER_LEN: u64 = 128;

/// Writes the archive; returns what each member must be.
fn write(path: &Path, align: u64, specs: &[Spec]) -> Vec<Expect> {
    let zeros = vec![0u8; 64 << 20];
    let mut w = NpzWriter::options()
        .align(align)
        .fsync(false)
        .create(path)
        .unwrap();
    let mut out = Vec::new();
    for s in specs {
        let key = s.name.strip_suffix(".npy").unwrap();
        match s.size {
            Some(size) if s.whole => {
                let data = size - NPY_HEADER_LEN;
                // calloc'd: the zero pages are not touched until read
                let v = vec![0u8; data as usize];
                w.write(key, &v, &[data], Order::C).unwrap();
                drop(v);
                let hb = npzmap::Header::new(DType::parse("|u1").unwrap(), vec![data], Order::C)
                    .to_bytes()
                    .unwrap();
                assert_eq!(hb.len() as u64, NPY_HEADER_LEN);
                out.push(Expect {
                    name: s.name,
                    offset: 0,
                    size,
                    crc: crc_of(&hb, data),
                    streamed: false,
                });
            }
            Some(size) => {
                let data = size - NPY_HEADER_LEN;
                let mut e = w
                    .begin(key, DType::parse("|u1").unwrap(), &[], Order::C)
                    .unwrap();
                let mut left = data;
                while left > 0 {
                    let n = left.min(zeros.len() as u64) as usize;
                    e.append_bytes(&zeros[..n]).unwrap();
                    left -= n as u64;
                }
                assert_eq!(e.finish().unwrap(), data);
                let hb = npzmap::Header::new(DType::parse("|u1").unwrap(), vec![data], Order::C)
                    .to_bytes()
                    .unwrap();
                assert_eq!(hb.len() as u64, NPY_HEADER_LEN);
                out.push(Expect {
                    name: s.name,
                    offset: 0,
                    size,
                    crc: crc_of(&hb, data),
                    streamed: true,
                });
            }
            None => {
                w.write(key, &[1u8, 2, 3], &[3], Order::C).unwrap();
                let hb = npzmap::Header::new(DType::parse("|u1").unwrap(), vec![3], Order::C)
                    .to_bytes()
                    .unwrap();
                let mut all = hb.clone();
                all.extend_from_slice(&[1, 2, 3]);
                out.push(Expect {
                    name: s.name,
                    offset: 0,
                    size: all.len() as u64,
                    crc: crc32fast::hash(&all),
                    streamed: false,
                });
            }
        }
    }
    w.close().unwrap();
    out
}

/// Parses and checks the whole archive; returns the central directory
/// offset.
fn check(path: &Path, align: u64, exp: &mut [Expect]) -> u64 {
    let len = std::fs::metadata(path).unwrap().len();
    // Walk the local headers from the start.
    let mut at = 0u64;
    for e in exp.iter_mut() {
        e.offset = at;
        let h = read_at(path, at, 30);
        assert_eq!(u32_at(&h, 0), 0x0403_4b50, "{}: local signature", e.name);
        let (version, flags, method) = (u16_at(&h, 4), u16_at(&h, 6), u16_at(&h, 8));
        assert_eq!(flags & 0x8, 0, "{}: no data descriptor", e.name);
        assert_eq!(method, 0, "{}: stored", e.name);
        assert_eq!(u32_at(&h, 14), e.crc, "{}: local CRC", e.name);
        let (csize, usize_) = (u32_at(&h, 18), u32_at(&h, 22));
        let (nlen, xlen) = (u64::from(u16_at(&h, 26)), u64::from(u16_at(&h, 28)));
        let tail = read_at(path, at + 30, (nlen + xlen) as usize);
        assert_eq!(&tail[..nlen as usize], e.name.as_bytes());
        let ex = extras(&tail[nlen as usize..]);
        // A streamed member always reserves the local ZIP64 extra; a stored
        // array has it exactly when its size needs it.
        let local64 = e.streamed || e.size >= MAX32;
        match zip64_extra(&ex) {
            Some(v) => {
                assert!(local64, "{}: needless local ZIP64 extra", e.name);
                assert_eq!(v, [e.size, e.size], "{}: local ZIP64 sizes", e.name);
                assert_eq!((csize, usize_), (u32::MAX, u32::MAX), "{}", e.name);
                assert!(version >= 45, "{}: version {version}", e.name);
            }
            None => {
                assert!(!local64, "{}: local ZIP64 extra missing", e.name);
                assert_eq!(u64::from(csize), e.size, "{}", e.name);
                assert_eq!(u64::from(usize_), e.size, "{}", e.name);
            }
        }
        let data = at + 30 + nlen + xlen;
        // The npy data (after its header) is aligned.
        assert_eq!((data + NPY_HEADER_LEN) % align, 0, "{}: aligned", e.name);
        let npy = read_at(path, data, 10);
        assert_eq!(&npy[..6], b"\x93NUMPY", "{}", e.name);
        at = data + e.size;
    }
    // End records, from the end of the file (no comment).
    let eocd = len - 22;
    let end = read_at(path, eocd, 22);
    assert_eq!(u32_at(&end, 0), 0x0605_4b50);
    let cd_offset = at;
    let entries = exp.len() as u64;
    let cd = read_at(path, cd_offset, (eocd - cd_offset) as usize);
    // Central headers.
    let mut p = 0u64;
    for e in exp.iter() {
        assert_eq!(u32_at(&cd, p), 0x0201_4b50, "{}: central signature", e.name);
        let version = u16_at(&cd, p + 6);
        assert_eq!(u16_at(&cd, p + 8) & 0x8, 0);
        assert_eq!(u16_at(&cd, p + 10), 0, "{}: stored", e.name);
        assert_eq!(u32_at(&cd, p + 16), e.crc, "{}: central CRC", e.name);
        let (csize, usize_) = (u32_at(&cd, p + 20), u32_at(&cd, p + 24));
        let nlen = u64::from(u16_at(&cd, p + 28));
        let xlen = u64::from(u16_at(&cd, p + 30));
        let clen = u64::from(u16_at(&cd, p + 32));
        assert_eq!(u16_at(&cd, p + 34), 0, "disk number");
        let off = u32_at(&cd, p + 42);
        let name = &cd[(p + 46) as usize..(p + 46 + nlen) as usize];
        assert_eq!(name, e.name.as_bytes());
        let ex = extras(&cd[(p + 46 + nlen) as usize..(p + 46 + nlen + xlen) as usize]);
        let need_size = e.size >= MAX32;
        let need_off = e.offset >= MAX32;
        let mut want64 = Vec::new();
        if need_size {
            want64.extend([e.size, e.size]);
        }
        if need_off {
            want64.push(e.offset);
        }
        match zip64_extra(&ex) {
            Some(v) => {
                assert_eq!(v, want64, "{}: central ZIP64 extra", e.name);
                assert!(version >= 45, "{}: version {version}", e.name);
            }
            None => assert!(want64.is_empty(), "{}: ZIP64 extra missing", e.name),
        }
        let s32 = if need_size { MAX32 } else { e.size };
        assert_eq!(u64::from(csize), s32, "{}: central compressed size", e.name);
        assert_eq!(u64::from(usize_), s32, "{}: central size", e.name);
        let o32 = if need_off { MAX32 } else { e.offset };
        assert_eq!(u64::from(off), o32, "{}: central offset", e.name);
        p += 46 + nlen + xlen + clen;
    }
    let need64 = cd_offset >= MAX32;
    let cd_size = p;
    // End of central directory (+ ZIP64 records exactly when needed).
    assert_eq!(u16_at(&end, 4), 0);
    assert_eq!(u16_at(&end, 6), 0);
    assert_eq!(u64::from(u16_at(&end, 8)), entries);
    assert_eq!(u64::from(u16_at(&end, 10)), entries);
    assert_eq!(u64::from(u32_at(&end, 12)), cd_size);
    assert_eq!(u64::from(u32_at(&end, 16)), cd_offset.min(MAX32));
    assert_eq!(u16_at(&end, 20), 0, "comment");
    if need64 {
        assert_eq!(eocd - cd_offset, p + 56 + 20, "ZIP64 record and locator");
        let z = read_at(path, cd_offset + p, 76);
        assert_eq!(u32_at(&z, 0), 0x0606_4b50, "ZIP64 end record");
        assert_eq!(u64_at(&z, 4), 44);
        assert!(u16_at(&z, 14) >= 45);
        assert_eq!((u32_at(&z, 16), u32_at(&z, 20)), (0, 0));
        assert_eq!((u64_at(&z, 24), u64_at(&z, 32)), (entries, entries));
        assert_eq!((u64_at(&z, 40), u64_at(&z, 48)), (p, cd_offset));
        assert_eq!(u32_at(&z, 56), 0x0706_4b50, "ZIP64 locator");
        assert_eq!(u32_at(&z, 60), 0);
        assert_eq!(u64_at(&z, 64), cd_offset + p);
        assert_eq!(u32_at(&z, 72), 1);
    } else {
        assert_eq!(eocd - cd_offset, p, "no ZIP64 end records");
    }
    // The zip crate reads the directory (headers only).
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    assert_eq!(z.len(), exp.len());
    for (i, e) in exp.iter().enumerate() {
        let f = z.by_index_raw(i).unwrap();
        assert_eq!(f.name().unwrap(), e.name);
        assert_eq!(f.size(), e.size);
        assert_eq!(f.compressed_size(), e.size);
        assert_eq!(f.crc32(), e.crc);
        assert_eq!(f.header_start(), e.offset);
    }
    cd_offset
}

fn run(name: &str, align: u64, specs: &[Spec]) -> (Vec<Expect>, u64) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch_dir();
    let path: PathBuf = dir.path().join(name);
    let mut exp = write(&path, align, specs);
    let cd = check(&path, align, &mut exp);
    (exp, cd)
}

fn big(size: u64) -> [Spec; 2] {
    [
        Spec {
            name: "big.npy",
            size: Some(size),
            whole: false,
        },
        Spec {
            name: "small.npy",
            size: None,
            whole: false,
        },
    ]
}

fn whole(size: u64) -> [Spec; 2] {
    let [mut b, s] = big(size);
    b.whole = true;
    [b, s]
}

#[test]
fn array_written_whole_of_0xfffffffe_and_0xffffffff_bytes() {
    for size in [0xFFFF_FFFEu64, 0xFFFF_FFFF] {
        let (e, _) = run("whole.npz", 64, &whole(size));
        assert_eq!(e[0].size, size);
    }
}

#[test]
fn member_of_0xfffffffe_bytes() {
    let (e, _) = run("fe.npz", 64, &big(0xFFFF_FFFE));
    assert_eq!(e[0].size, 0xFFFF_FFFE);
}

#[test]
fn member_of_0xffffffff_bytes() {
    let (e, _) = run("ff.npz", 64, &big(0xFFFF_FFFF));
    assert_eq!(e[0].size, MAX32);
}

#[test]
fn member_of_0x100000000_bytes() {
    let (e, _) = run("4g.npz", 64, &big(1 << 32));
    assert_eq!(e[0].size, 1 << 32);
}

/// The streamed local header (alignment 1: no padding extra): signature to
/// ZIP64 extra, 30 + 7 ("pad.npy") + 20 bytes.
const PAD_LOCAL: u64 = 30 + 7 + 20;

#[test]
fn local_headers_at_offset_0xfffffffe_and_0xffffffff() {
    for target in [0xFFFF_FFFEu64, 0xFFFF_FFFF] {
        let specs = [
            Spec {
                name: "pad.npy",
                size: Some(target - PAD_LOCAL),
                whole: false,
            },
            Spec {
                name: "small.npy",
                size: None,
                whole: false,
            },
        ];
        let (e, _) = run("off.npz", 1, &specs);
        assert_eq!(e[1].offset, target);
    }
}

#[test]
fn central_directory_at_offset_0xfffffffe_and_0xffffffff() {
    for target in [0xFFFF_FFFEu64, 0xFFFF_FFFF] {
        let specs = [Spec {
            name: "pad.npy",
            size: Some(target - PAD_LOCAL),
            whole: false,
        }];
        let (_, cd) = run("cd.npz", 1, &specs);
        assert_eq!(cd, target);
    }
}
