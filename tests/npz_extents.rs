//! Every structural check of the reader, pinned by a crafted archive that
//! breaks exactly that check: `get`, `header`, `read_member` and `verify`
//! must each return the exact error variant, naming the member and the
//! offset in the input. (Each test was confirmed to fail when its check is
//! removed from `src/npz/reader.rs`.)

mod npz_support;

use npz_support::*;
use npzmap::npz::NpzReader;
use npzmap::unstable::zip::*;
use npzmap::{Error, Order};
use std::path::Path;

/// One member as laid out in the file: `m` gives the local header fields
/// and the central directory entry; `extra` is the local extra field and
/// `body` the bytes physically written after the local header (which may
/// differ from `m.stored`, to craft inconsistent archives).
struct Part {
    m: M,
    extra: Vec<u8>,
    body: Vec<u8>,
}

fn part(m: M) -> Part {
    Part {
        body: m.stored.clone(),
        m,
        extra: Vec::new(),
    }
}

/// The archive's bytes and each member's local header offset.
fn craft(parts: &[Part]) -> (Vec<u8>, Vec<u64>) {
    let mut out = Vec::new();
    let mut cds = Vec::new();
    let mut offs = Vec::new();
    for p in parts {
        let off = out.len() as u64;
        offs.push(off);
        let mut lh = local_header(&p.m);
        lh[28..30].copy_from_slice(&(p.extra.len() as u16).to_le_bytes());
        out.extend_from_slice(&lh);
        out.extend_from_slice(&p.extra);
        out.extend_from_slice(&p.body);
        let mut c = CentralEntry::stored("x", p.m.crc, p.m.uncompressed, off);
        c.name = p.m.name.clone();
        c.method = p.m.method;
        c.flags = p.m.flags;
        c.compressed_size = p.m.stored.len() as u64;
        cds.push(c);
    }
    let cd_off = out.len() as u64;
    let mut cd = Vec::new();
    for c in &cds {
        c.write(&mut cd);
    }
    out.extend_from_slice(&cd);
    write_end_records(&mut out, cds.len() as u64, cd_off, cd.len() as u64, b"");
    (out, offs)
}

/// An unknown extra record of `k` bytes in total (fewer than 4: padding
/// bytes too short to be a record, which readers skip).
fn extra(k: usize) -> Vec<u8> {
    if k < 4 {
        return vec![0; k];
    }
    let mut e = vec![0xFE, 0xCA];
    e.extend_from_slice(&((k - 4) as u16).to_le_bytes());
    e.resize(k, 0x11);
    e
}

fn bytes_u8(n: usize) -> Vec<u8> {
    npy(
        "|u1",
        &[n as u64],
        Order::C,
        &(0..n as u8).collect::<Vec<_>>(),
    )
}

fn other() -> M {
    stored("b.npy", npy("<i4", &[3], Order::C, &le(&[7i32, 8, 9])))
}

/// Asserts `e` is `Error::Zip` whose reason contains `reason`, at `path`,
/// member `member`, offset `offset`.
#[track_caller]
fn assert_zip(e: &Error, reason: &str, path: &Path, member: &str, offset: u64) {
    match e {
        Error::Zip { reason: r, at } => {
            assert!(r.contains(reason), "reason {r:?} lacks {reason:?}");
            assert_eq!(at.path.as_deref(), Some(path), "{e}");
            assert_eq!(at.member.as_deref(), Some(member), "{e}");
            assert_eq!(at.offset, Some(offset), "{e}");
        }
        other => panic!("expected Error::Zip ({reason}), got {other:?}"),
    }
}

/// Every access path of `key` fails with the same `Error::Zip`, verify
/// reports exactly that member with it, and every other member reads and
/// verifies fine.
#[track_caller]
fn assert_member_fails(bytes: &[u8], key: &str, reason: &str, offset: u64) {
    let (_d, p) = temp(bytes);
    let npz = NpzReader::open(&p).unwrap();
    let member = format!("{key}.npy");
    assert_zip(&npz.get(key).unwrap_err(), reason, &p, &member, offset);
    assert_zip(&npz.header(key).unwrap_err(), reason, &p, &member, offset);
    assert_zip(
        &npz.read_member(key).unwrap_err(),
        reason,
        &p,
        &member,
        offset,
    );
    assert_zip(
        &npz.get_owned(key).unwrap_err(),
        reason,
        &p,
        &member,
        offset,
    );
    let report = npz.verify();
    let errors: Vec<_> = report.errors().collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, member);
    assert_zip(errors[0].1, reason, &p, &member, offset);
    for k in npz.keys().filter(|&k| k != key) {
        assert_eq!(npz.get(k).unwrap().to_vec::<i32>().unwrap(), [7, 8, 9]);
    }
}

/// a's local header carries `k` extra bytes that the central directory
/// does not know about: the extra field covers the first `k` bytes of what
/// the directory counts as its data, so its data as declared (`D` bytes from
/// the end of the local header) ends `k` bytes inside whatever follows.
/// The NPY header inside says `D` bytes too, so without the extent check
/// `get` would return the next record's first bytes as array data.
fn shifted(k: usize, a_last: bool) -> (Vec<u8>, u64) {
    let content = bytes_u8(40);
    let a = stored("a.npy", content.clone());
    let shifted = Part {
        body: content[..content.len() - k].to_vec(),
        extra: extra(k),
        m: a,
    };
    let parts = if a_last {
        vec![part(other()), shifted]
    } else {
        vec![shifted, part(other())]
    };
    let (bytes, offs) = craft(&parts);
    let off = offs[usize::from(a_last)];
    (bytes, off + 30 + 5 + k as u64)
}

#[test]
fn data_ending_inside_the_next_local_header_is_refused() {
    for k in [1, 2, 4, 5, 12, 30] {
        let (bytes, data_start) = shifted(k, false);
        assert_member_fails(
            &bytes,
            "a",
            "runs into the next member or the central directory",
            data_start,
        );
    }
}

#[test]
fn data_ending_inside_the_central_directory_is_refused() {
    for k in [1, 4, 9, 46] {
        let (bytes, data_start) = shifted(k, true);
        assert_member_fails(
            &bytes,
            "a",
            "runs into the next member or the central directory",
            data_start,
        );
    }
}

#[test]
fn data_declared_past_the_directory_or_the_file_fails_open() {
    // The directory says a's data is longer than the space before b (or
    // before the directory, or past the end of the file): refused at open,
    // naming the member and the offset of its central directory entry.
    for (a_last, grow) in [(false, 1u32), (false, 100), (true, 1), (true, 1_000_000)] {
        let a = stored("a.npy", bytes_u8(40));
        let parts = if a_last {
            vec![part(other()), part(a.clone())]
        } else {
            vec![part(a.clone()), part(other())]
        };
        let (mut bytes, _) = craft(&parts);
        let end = EndOfCentralDirectory::find(&bytes).unwrap();
        let mut cd = end.cd_start() as usize;
        if a_last {
            cd += CentralEntryRef::parse(&bytes, cd as u64).unwrap().len() as usize;
        }
        let size = a.stored.len() as u32 + grow;
        bytes[cd + 20..cd + 24].copy_from_slice(&size.to_le_bytes());
        bytes[cd + 24..cd + 28].copy_from_slice(&size.to_le_bytes());
        let (_d, p) = temp(&bytes);
        let e = NpzReader::open(&p).unwrap_err();
        let reason = if a_last {
            "runs past the start of the central directory"
        } else {
            "members overlap"
        };
        let at = if a_last {
            cd as u64
        } else {
            0 // the overlap is reported at a's local header
        };
        assert_zip(&e, reason, &p, "a.npy", at);
    }
}

#[test]
fn extra_field_running_into_the_next_member_is_a_zip_error() {
    // a's local extra field claims more bytes than lie before b (or, for
    // the last member, before the central directory).
    for a_last in [false, true] {
        let a = stored("a.npy", bytes_u8(40));
        let room = a.stored.len();
        for claim in [room + 1, room + 30, 0xFFFF] {
            let mut pa = part(a.clone());
            pa.extra = extra(4);
            pa.body.truncate(room - 4);
            let parts = if a_last {
                vec![part(other()), pa]
            } else {
                vec![pa, part(other())]
            };
            let (mut bytes, offs) = craft(&parts);
            let off = offs[usize::from(a_last)];
            let at = off as usize + 28;
            bytes[at..at + 2].copy_from_slice(&(claim as u16).to_le_bytes());
            assert_member_fails(
                &bytes,
                "a",
                "runs into the next member or the central directory",
                off,
            );
        }
    }
}

#[test]
fn local_header_disagreeing_with_the_directory_is_refused() {
    // Field offsets in the local header: 14 crc, 18 compressed, 22
    // uncompressed size.
    for (field, delta) in [(14usize, 1u32), (18, 1), (22, 1), (18, 0x8000_0000)] {
        for a_last in [false, true] {
            let a = stored("a.npy", bytes_u8(40));
            let parts = if a_last {
                vec![part(other()), part(a)]
            } else {
                vec![part(a), part(other())]
            };
            let (mut bytes, offs) = craft(&parts);
            let off = offs[usize::from(a_last)];
            let at = off as usize + field;
            let v = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
            bytes[at..at + 4].copy_from_slice(&v.wrapping_add(delta).to_le_bytes());
            assert_member_fails(&bytes, "a", "disagrees with the central directory", off);
        }
    }
}

#[test]
fn local_name_or_method_disagreeing_with_the_directory_is_refused() {
    let a = stored("a.npy", bytes_u8(40));
    let (bytes, offs) = craft(&[part(a.clone()), part(other())]);
    let mut renamed = bytes.clone();
    renamed[offs[0] as usize + 30] = b'z';
    assert_member_fails(&renamed, "a", "differs from the central directory", 0);
    let mut method = bytes.clone();
    method[offs[0] as usize + 8] = 8;
    assert_member_fails(&method, "a", "compression method", 0);
    // Same bytes, different case: a different name.
    let mut upper = bytes;
    upper[offs[0] as usize + 31] = b'.';
    upper[offs[0] as usize + 30] = b'A';
    assert_member_fails(&upper, "a", "differs from the central directory", 0);
}

#[test]
fn stored_member_with_differing_sizes_is_refused() {
    let mut a = stored("a.npy", bytes_u8(40));
    a.uncompressed += 1;
    let (bytes, _) = craft(&[part(a), part(other())]);
    assert_member_fails(&bytes, "a", "stored member has compressed size", 0);
}

#[test]
fn npy_header_running_past_the_member_is_truncated_not_read_from_the_next() {
    // a holds only the first 40 bytes of a 64-byte NPY header; b follows.
    let full = bytes_u8(40);
    let hlen = full.len() - 40;
    for cut in [10usize, 40, hlen - 1] {
        let (bytes, offs) = craft(&[part(stored("a.npy", full[..cut].to_vec())), part(other())]);
        let (_d, p) = temp(&bytes);
        let npz = NpzReader::open(&p).unwrap();
        let e = npz.get("a").unwrap_err();
        assert!(matches!(e, Error::Truncated { .. }), "{e:?}");
        assert_eq!(e.location().member.as_deref(), Some("a.npy"));
        assert_eq!(e.location().path.as_deref(), Some(p.as_path()));
        let at = e.location().offset.unwrap();
        let data = offs[0] + 35;
        assert!(
            (data..=data + cut as u64).contains(&at),
            "offset {at} outside a's data {data}..{}",
            data + cut as u64
        );
        let r = npz.verify();
        let errs: Vec<_> = r.errors().collect();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].0, "a.npy");
        assert!(
            matches!(errs[0].1, Error::Truncated { .. }),
            "{:?}",
            errs[0]
        );
        // The raw member bytes are still exactly what the directory says.
        assert_eq!(&*npz.read_member("a").unwrap(), &full[..cut]);
    }
}

#[test]
fn data_length_must_equal_the_header_implied_length() {
    let full = bytes_u8(40);
    let hlen = (full.len() - 40) as u64;
    for (extra_bytes, drop) in [(0usize, 1usize), (0, 40), (1, 0), (8, 0)] {
        let mut body = full[..full.len() - drop].to_vec();
        body.extend(std::iter::repeat_n(0xEE, extra_bytes));
        for deflate in [false, true] {
            let m = if deflate {
                deflated("a.npy", body.clone())
            } else {
                stored("a.npy", body.clone())
            };
            let (bytes, offs) = craft(&[part(m), part(other())]);
            let (_d, p) = temp(&bytes);
            let npz = NpzReader::open(&p).unwrap();
            let e = npz.get("a").unwrap_err();
            let actual = body.len() as u64 - hlen;
            match &e {
                Error::DataTooShort {
                    expected,
                    actual: a,
                    ..
                }
                | Error::DataTooLong {
                    expected,
                    actual: a,
                    ..
                } => {
                    assert_eq!((*expected, *a), (40, actual), "{e}");
                    assert_eq!(matches!(e, Error::DataTooShort { .. }), drop > 0);
                }
                other => panic!("expected a data length error, got {other:?}"),
            }
            assert_eq!(e.location().member.as_deref(), Some("a.npy"));
            // stored: the offset of the array data; deflated: of the member data
            let data = offs[0] + 35;
            let want = if deflate { data } else { data + hlen };
            assert_eq!(e.location().offset, Some(want), "{e}");
            let r = npz.verify();
            let errs: Vec<_> = r.errors().map(|(n, _)| n).collect();
            assert_eq!(errs, ["a.npy"]);
        }
    }
}

#[test]
fn end_record_count_disagreeing_with_the_directory_fails_open() {
    // Counts are trusted modulo 65536 (old writers wrap them); any other
    // disagreement means the directory is not the one the end record
    // describes.
    let ms = [
        stored("a.npy", bytes_u8(3)),
        other(),
        stored("c.npy", bytes_u8(5)),
    ];
    let (bytes, _) = craft(&ms.map(part));
    let eocd = bytes.len() - 22;
    assert_eq!(bytes[eocd..eocd + 4], EOCD_SIG.to_le_bytes());
    for n in [0u16, 2, 4, 0xFFFF] {
        let mut b = bytes.clone();
        b[eocd + 8..eocd + 10].copy_from_slice(&n.to_le_bytes());
        b[eocd + 10..eocd + 12].copy_from_slice(&n.to_le_bytes());
        let (_d, p) = temp(&b);
        match NpzReader::open(&p).unwrap_err() {
            Error::Zip { reason, at } => {
                assert!(reason.contains("entries"), "{reason}");
                assert_eq!(at.path.as_deref(), Some(p.as_path()));
                assert_eq!(at.offset, Some(eocd as u64));
            }
            e => panic!("count {n}: {e:?}"),
        }
    }
}
