use super::search::find_committed_chunked;
use super::*;
use crate::zip::{
    CentralEntry, LocalHeader, LocalZip64, ZIP64_EOCD_SIG, central_entries, write_end_records,
};

/// An archive of stored members after `prefix`, offsets relative to the
/// archive start (as npzmap and zipfile write them).
fn archive(prefix: &[u8], members: &[(&str, &[u8])], comment: &[u8]) -> Vec<u8> {
    let mut out = prefix.to_vec();
    let mut cd = Vec::new();
    let mut n = 0;
    for (name, data) in members {
        let off = (out.len() - prefix.len()) as u64;
        let crc = crc32fast::hash(data);
        LocalHeader::stored(name, crc, data.len() as u64, LocalZip64::No, 0).write(&mut out);
        out.extend_from_slice(data);
        CentralEntry::stored(name, crc, data.len() as u64, off).write(&mut cd);
        n += 1;
    }
    let cd_off = (out.len() - prefix.len()) as u64;
    out.extend_from_slice(&cd);
    write_end_records(&mut out, n, cd_off, cd.len() as u64, comment);
    out
}

/// What an appender writes after `old` before it is done: a local
/// header and the first bytes of the member's data.
fn partial(old: &[u8], name: &str, data: &[u8]) -> Vec<u8> {
    let mut f = old.to_vec();
    LocalHeader::stored(name, 0, 1 << 20, LocalZip64::Yes, 0).write(&mut f);
    f.extend_from_slice(data);
    f
}

fn locate_both(buf: &[u8]) -> Result<Located> {
    let from_bytes = locate(Source::Bytes(buf));
    let mut f = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut f, buf).unwrap();
    let from_file = locate(Source::File {
        file: &f,
        len: buf.len() as u64,
    });
    match (&from_bytes, &from_file) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!("bytes {from_bytes:?} vs file {from_file:?}"),
    }
    from_bytes
}

#[test]
fn partial_member_after_a_committed_archive() {
    let old = archive(b"", &[("a.npy", b"hello"), ("b.npy", b"world")], b"note");
    let want = EndOfCentralDirectory::find(&old).unwrap();
    // every length of the partial member, from one byte of its header on
    let full = partial(&old, "c.npy", &[7u8; 300]);
    for len in old.len() + 1..=full.len() {
        let l = locate_both(&full[..len]).unwrap();
        assert_eq!(l.end, want, "len {len}");
        assert_eq!(l.archive_end, old.len() as u64);
    }
    // the old end record far from the tail: found by the search
    let full = partial(&old, "c.npy", &vec![7u8; 3 * TAIL_WINDOW]);
    for len in [old.len() + TAIL_WINDOW, full.len()] {
        let l = locate_both(&full[..len]).unwrap();
        assert_eq!((l.end, l.committed), (want, true), "len {len}");
        assert_eq!(l.archive_end, old.len() as u64);
    }
    // the archive itself: its own end record, not a fallback
    let l = locate_both(&old).unwrap();
    assert_eq!((l.end, l.committed), (want, false));
}

#[test]
fn chunk_boundaries_do_not_matter() {
    let old = archive(b"", &[("a.npy", b"hello")], b"");
    let mut f = partial(&old, "b.npy", &[0u8; 200]);
    // a bogus signature in the partial data, with a locator before it
    f.extend_from_slice(&ZIP64_LOCATOR_SIG.to_le_bytes());
    f.extend_from_slice(&[0u8; 16]);
    f.extend_from_slice(&EOCD_SIG.to_le_bytes());
    f.extend_from_slice(&[0u8; 40]);
    let want = EndOfCentralDirectory::find(&old).unwrap();
    let mut file = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut file, &f).unwrap();
    let len = f.len() as u64;
    for chunk in [44, 45, 50, 64, 100, 127, 128, 333, 4096] {
        for src in [Source::Bytes(&f), Source::File { file: &file, len }] {
            let s = find_committed_chunked(src, len, chunk).unwrap();
            assert_eq!(s.found, Some((want, old.len() as u64)), "chunk {chunk}");
            assert_eq!(s.signatures, 2, "chunk {chunk}");
            assert_eq!(s.checked, 2, "chunk {chunk}");
        }
    }
}

#[test]
fn signature_in_member_data_pointing_to_a_bogus_directory_is_not_taken() {
    let old = archive(b"", &[("a.npy", b"hello")], b"");
    let want = EndOfCentralDirectory::find(&old).unwrap();
    let mut f = partial(&old, "b.npy", &[]);
    // member data: bytes that look like a central directory entry, then
    // an end record whose size and offset put the archive at offset 0
    // and its directory on those bytes
    let cd_at = f.len() as u64;
    let mut fake = Vec::new();
    CentralEntry::stored("x.npy", 0, 5, 0).write(&mut fake);
    let good_len = fake.len();
    fake.truncate(good_len - 1); // one byte short: the entry runs past the end records
    f.extend_from_slice(&fake);
    let mut rec = Vec::new();
    write_end_records(&mut rec, 1, cd_at, fake.len() as u64, b"");
    f.extend_from_slice(&rec);
    f.extend_from_slice(&[1u8; 10]); // more data follows: not at the exact end
    let l = locate_both(&f).unwrap();
    assert_eq!((l.end, l.committed), (want, true));
    let s = find_committed(Source::Bytes(&f), f.len() as u64).unwrap();
    assert_eq!(s.checked, 2, "the bogus record passed the cheap check");
    assert_eq!(s.found, Some((want, old.len() as u64)));

    // a directory whose entry points past the directory's start
    let mut g = partial(&old, "b.npy", &[]);
    let cd_at = g.len() as u64;
    let mut fake = Vec::new();
    CentralEntry::stored("x.npy", 0, 5, cd_at).write(&mut fake);
    g.extend_from_slice(&fake);
    let mut rec = Vec::new();
    write_end_records(&mut rec, 1, cd_at, fake.len() as u64, b"");
    g.extend_from_slice(&rec);
    g.push(0);
    assert_eq!(locate_both(&g).unwrap().end, want);

    // a count that disagrees with the directory
    let mut h = partial(&old, "b.npy", &[]);
    let cd_at = h.len() as u64;
    let mut fake = Vec::new();
    CentralEntry::stored("x.npy", 0, 0, 0).write(&mut fake);
    h.extend_from_slice(&fake);
    let mut rec = Vec::new();
    write_end_records(&mut rec, 2, cd_at, fake.len() as u64, b"");
    h.extend_from_slice(&rec);
    h.push(0);
    assert_eq!(locate_both(&h).unwrap().end, want);
}

#[test]
fn a_valid_nested_archive_in_member_data_is_not_taken() {
    let old = archive(b"", &[("a.npy", b"hello")], b"");
    let inner = archive(b"", &[("in.npy", b"inner data")], b"");
    let mut f = partial(&old, "nested.npy", &inner);
    f.extend_from_slice(&[0u8; 5]);
    let l = locate_both(&f).unwrap();
    assert_eq!(l.end, EndOfCentralDirectory::find(&old).unwrap());
    assert_eq!(l.end.prefix, 0);
    // even when the nested archive's end record ends the file... it is
    // the tail's own end record then, and taken as today
    let g = partial(&old, "nested.npy", &inner);
    let l = locate_both(&g).unwrap();
    assert!(!l.committed);
    assert_eq!(l.end.prefix, (g.len() - inner.len()) as u64);
}

#[test]
fn prefixed_and_empty_archives() {
    let old = archive(b"#!/bin/sh\nexit 0\n", &[("a.npy", b"hello")], b"c");
    let f = partial(&old, "b.npy", &[3u8; 100]);
    let l = locate_both(&f).unwrap();
    assert_eq!(l.end.prefix, 17);
    assert_eq!(l.end, EndOfCentralDirectory::find(&old).unwrap());

    let empty = archive(b"", &[], b"");
    assert_eq!(empty.len(), EOCD_LEN);
    for n in [100, 2 * TAIL_WINDOW] {
        let f = partial(&empty, "b.npy", &vec![3u8; n]);
        let l = locate_both(&f).unwrap();
        assert_eq!((l.end.entries, l.archive_end), (0, 22));
        assert_eq!(l.committed, n > TAIL_WINDOW);
    }
    let f = partial(&old, "b.npy", &vec![3u8; 2 * TAIL_WINDOW]);
    let l = locate_both(&f).unwrap();
    assert_eq!((l.end.prefix, l.committed), (17, true));
}

#[test]
fn zip64_end_records_are_checked() {
    // a committed archive with ZIP64 end records (values not saturated,
    // equal to the plain ones, as some writers force them)
    let plain = archive(b"", &[("a.npy", b"hello")], b"");
    let end = EndOfCentralDirectory::find(&plain).unwrap();
    let mut z = plain[..end.eocd_offset as usize].to_vec();
    let zpos = z.len() as u64;
    let mut rec = Vec::new();
    write_end_records(&mut rec, 70_000, end.cd_offset, end.cd_size, b"");
    // patch the ZIP64 count to 1 and the EOCD count to 1 (mod-equal)
    rec[24..32].copy_from_slice(&1u64.to_le_bytes());
    rec[32..40].copy_from_slice(&1u64.to_le_bytes());
    let eocd = ZIP64_EOCD_LEN + ZIP64_LOCATOR_LEN;
    rec[eocd + 8..eocd + 12].copy_from_slice(&[1, 0, 1, 0]);
    z.extend_from_slice(&rec);
    let want = EndOfCentralDirectory::find(&z).unwrap();
    assert_eq!(want.zip64_offset, Some(zpos));
    let data = vec![1u8; 2 * TAIL_WINDOW];
    let f = partial(&z, "b.npy", &data);
    assert_eq!(
        locate_both(&f).unwrap(),
        Located {
            end: want,
            archive_end: z.len() as u64,
            committed: true
        }
    );

    // a record whose size field does not end it at the locator
    let mut bad = z.clone();
    let at = zpos as usize + 4;
    bad[at..at + 8].copy_from_slice(&45u64.to_le_bytes());
    let today = EndOfCentralDirectory::find(&bad).unwrap();
    let f = partial(&bad, "b.npy", &data);
    assert!(matches!(locate_both(&f), Err(Error::NotAZip { .. })));
    // (in the tail window, the records layer's answer stands)
    let f = partial(&bad, "b.npy", &data[..50]);
    assert_eq!(locate_both(&f).unwrap().end, today);
    // a locator pointing elsewhere
    let mut bad = z.clone();
    let at = zpos as usize + ZIP64_EOCD_LEN + 8;
    bad[at..at + 8].copy_from_slice(&3u64.to_le_bytes());
    let f = partial(&bad, "b.npy", &data);
    assert!(matches!(locate_both(&f), Err(Error::NotAZip { .. })));
}

#[test]
fn no_committed_archive_is_the_same_error_as_before() {
    // a fresh archive being written: nothing committed
    let mut f = Vec::new();
    LocalHeader::stored("a.npy", 0, 100, LocalZip64::No, 0).write(&mut f);
    f.extend_from_slice(&[9u8; 60]);
    assert!(matches!(
        EndOfCentralDirectory::find(&f),
        Err(Error::NotAZip { .. })
    ));
    assert!(matches!(locate_both(&f), Err(Error::NotAZip { .. })));
    let s = find_committed(Source::Bytes(&f), f.len() as u64).unwrap();
    assert_eq!((s.found, s.start, s.checked), (None, Some(0), 0));
    // not a zip at all: not even searched
    let g = vec![0x93u8; 5000];
    assert!(matches!(locate_both(&g), Err(Error::NotAZip { .. })));
    assert_eq!(find_committed(Source::Bytes(&g), 5000).unwrap().start, None);
    // a bogus record with more bytes after it: the records layer's error
    let mut h = f.clone();
    let mut rec = Vec::new();
    write_end_records(&mut rec, 1, 1 << 30, 46, b"");
    h.extend_from_slice(&rec);
    h.push(0);
    let before = EndOfCentralDirectory::find(&h).map(|_| ()).unwrap_err();
    let now = locate_both(&h).map(|_| ()).unwrap_err();
    assert_eq!(now.to_string(), before.to_string());
}

#[test]
fn a_damaged_end_record_at_the_end_is_reported_not_replaced() {
    let old = archive(b"", &[("a.npy", b"hello")], b"");
    let new = {
        let mut f = old.clone();
        let cd_off = f.len() as u64;
        let mut cd = Vec::new();
        CentralEntry::stored("a.npy", crc32fast::hash(b"hello"), 5, 0).write(&mut cd);
        f.extend_from_slice(&cd);
        write_end_records(&mut f, 1, cd_off, cd.len() as u64 + 1_000_000, b"");
        f
    };
    let before = EndOfCentralDirectory::find(&new).map(|_| ()).unwrap_err();
    assert!(matches!(before, Error::Zip { .. }));
    let now = locate_both(&new).map(|_| ()).unwrap_err();
    assert_eq!(now.to_string(), before.to_string());
}

#[test]
fn a_missing_first_local_header_rejects_the_candidate() {
    // the directory says the member starts 2 bytes into its header
    let mut old = archive(b"", &[("a.npy", b"hello")], b"");
    let cd = EndOfCentralDirectory::find(&old).unwrap().cd_start() as usize;
    old[cd + 42] = 2;
    let f = partial(&old, "b.npy", &vec![0u8; 2 * TAIL_WINDOW]);
    let s = find_committed(Source::Bytes(&f), f.len() as u64).unwrap();
    assert_eq!((s.checked, s.found), (1, None));
}

#[test]
fn zip64_record_with_large_extensible_data_before_the_tail_window() {
    let plain = archive(b"", &[("a.npy", &vec![5u8; 100_000])], b"");
    let end = EndOfCentralDirectory::find(&plain).unwrap();
    let mut f = plain[..end.eocd_offset as usize].to_vec();
    let z = f.len() as u64;
    let ext = 80_000u64;
    f.extend_from_slice(&ZIP64_EOCD_SIG.to_le_bytes());
    f.extend_from_slice(&(44 + ext).to_le_bytes());
    f.extend_from_slice(&[45, 3, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    f.extend_from_slice(&1u64.to_le_bytes());
    f.extend_from_slice(&1u64.to_le_bytes());
    f.extend_from_slice(&end.cd_size.to_le_bytes());
    f.extend_from_slice(&end.cd_offset.to_le_bytes());
    f.resize(f.len() + ext as usize, 0);
    f.extend_from_slice(&ZIP64_LOCATOR_SIG.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&z.to_le_bytes());
    f.extend_from_slice(&1u32.to_le_bytes());
    f.extend_from_slice(&EOCD_SIG.to_le_bytes());
    f.extend_from_slice(&[0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
    f.extend_from_slice(&(end.cd_size as u32).to_le_bytes());
    f.extend_from_slice(&(end.cd_offset as u32).to_le_bytes());
    f.extend_from_slice(&[0, 0]);
    let want = EndOfCentralDirectory::find(&f).unwrap();
    assert_eq!((want.zip64_offset, want.entries), (Some(z), 1));
    assert!(f.len() - (z as usize) > TAIL_WINDOW);
    let l = locate_both(&f).unwrap();
    assert_eq!((l.end, l.committed), (want, false));
}

#[test]
fn many_signatures_stay_bounded() {
    let old = archive(b"", &[("a.npy", b"hello")], b"");
    // plain signatures everywhere: each costs O(1), none is checked
    let mut f = partial(&old, "b.npy", &[]);
    for _ in 0..50_000 {
        f.extend_from_slice(&EOCD_SIG.to_le_bytes());
    }
    let s = find_committed(Source::Bytes(&f), f.len() as u64).unwrap();
    assert!(s.signatures >= 49_990, "{}", s.signatures);
    assert_eq!(s.checked, 1);
    assert_eq!(s.found.map(|f| f.1), Some(old.len() as u64));
    // locator + end record pairs: each needs a full check; the search
    // gives up after MAX_CANDIDATES of them
    let mut g = partial(&old, "b.npy", &[]);
    let mut unit = Vec::new();
    unit.extend_from_slice(&ZIP64_LOCATOR_SIG.to_le_bytes());
    unit.extend_from_slice(&[0u8; 16]);
    unit.extend_from_slice(&EOCD_SIG.to_le_bytes());
    unit.extend_from_slice(&[0xFFu8; 16]);
    unit.extend_from_slice(&[0u8; 2]);
    for _ in 0..20_000 {
        g.extend_from_slice(&unit);
    }
    let s = find_committed(Source::Bytes(&g), g.len() as u64).unwrap();
    assert_eq!(s.checked, MAX_CANDIDATES);
    assert!(s.gave_up);
    assert_eq!(s.found, None);
    assert!(s.signatures <= u64::from(MAX_CANDIDATES) + 1);
    g.push(0);
    let before = EndOfCentralDirectory::find(&g).map(|_| ()).unwrap_err();
    let now = locate_both(&g).map(|_| ()).unwrap_err();
    assert_eq!(now.to_string(), before.to_string());
}

#[test]
fn directories_walked_are_bounded_by_the_file() {
    // candidates whose directories are valid up to their last entry
    // (one byte short each): the walks together never exceed the file
    let old = archive(b"", &[("a.npy", b"hello")], b"");
    let mut f = partial(&old, "b.npy", &[]);
    let dir_at = f.len() as u64;
    let mut entry = Vec::new();
    CentralEntry::stored("x", 0, 0, 0).write(&mut entry);
    for _ in 0..2000 {
        f.extend_from_slice(&entry);
    }
    for k in 0..100u64 {
        let mut rec = Vec::new();
        let size = f.len() as u64 - dir_at;
        write_end_records(&mut rec, 2000 + k + 1, dir_at, size, b"");
        f.extend_from_slice(&rec);
        f.extend_from_slice(&entry);
    }
    let s = find_committed(Source::Bytes(&f), f.len() as u64).unwrap();
    assert!(s.directory_bytes <= f.len() as u64);
    assert!(s.checked <= MAX_CANDIDATES);
    assert!(s.found.is_none());
}

/// 65,537 empty members whose end record holds the count modulo 65,536 (1)
/// and no ZIP64 records, as some writers leave it.
fn wrapped_count_archive() -> (Vec<u8>, u64) {
    let n = 0x1_0001u64;
    let mut out = Vec::new();
    let mut cd = Vec::new();
    for i in 0..n {
        let off = out.len() as u64;
        let name = format!("m{i}.npy");
        LocalHeader::stored(&name, 0, 0, LocalZip64::No, 0).write(&mut out);
        CentralEntry::stored(&name, 0, 0, off).write(&mut cd);
    }
    let cd_off = out.len() as u64;
    out.extend_from_slice(&cd);
    write_end_records(&mut out, n % 0x1_0000, cd_off, cd.len() as u64, b"");
    (out, n)
}

#[test]
fn a_committed_archive_with_a_wrapped_count_keeps_every_entry() {
    let (old, n) = wrapped_count_archive();
    let want = EndOfCentralDirectory::find(&old).unwrap();
    assert_eq!((want.entries, want.zip64_offset), (1, None));
    let f = partial(&old, "new.npy", &vec![4u8; 2 * TAIL_WINDOW]);
    let l = locate_both(&f).unwrap();
    assert_eq!((l.end, l.committed), (want, true));
    assert_eq!(l.archive_end, old.len() as u64);
    // the reader's walk over what locate found holds all of them
    let walked = central_entries(&f, &l.end)
        .collect::<Result<Vec<_>>>()
        .unwrap();
    assert_eq!(walked.len() as u64, n);
    assert_eq!(
        walked.last().unwrap().name,
        format!("m{}.npy", n - 1).as_bytes()
    );
}

#[test]
fn a_zip64_count_must_match_exactly_as_in_the_reader() {
    // one entry; the ZIP64 count says 65,537, the classic one 1 (equal
    // modulo 65,536, so the ZIP64 record is used): the reader rejects the
    // archive, and so does the search
    let plain = archive(b"", &[("a.npy", b"hello")], b"");
    let end = EndOfCentralDirectory::find(&plain).unwrap();
    let mut z = plain[..end.eocd_offset as usize].to_vec();
    let mut rec = Vec::new();
    write_end_records(&mut rec, 0x1_0001, end.cd_offset, end.cd_size, b"");
    let eocd = ZIP64_EOCD_LEN + ZIP64_LOCATOR_LEN;
    rec[eocd + 8..eocd + 12].copy_from_slice(&[1, 0, 1, 0]);
    z.extend_from_slice(&rec);
    let parsed = EndOfCentralDirectory::find(&z).unwrap();
    assert_eq!(
        (parsed.entries, parsed.zip64_offset.is_some()),
        (0x1_0001, true)
    );
    let read = central_entries(&z, &parsed).collect::<Result<Vec<_>>>();
    assert!(matches!(read, Err(Error::Zip { .. })), "{read:?}");
    let f = partial(&z, "b.npy", &vec![1u8; 2 * TAIL_WINDOW]);
    let s = find_committed(Source::Bytes(&f), f.len() as u64).unwrap();
    assert_eq!((s.checked, s.found), (1, None));
    assert!(matches!(locate_both(&f), Err(Error::NotAZip { .. })));
}
