//! The encoders through the blocks write exactly the bytes of the
//! field-by-field encoders they replaced (kept here as the reference).

use super::*;

fn old_local(
    out: &mut Vec<u8>,
    name: &str,
    crc32: u32,
    size: u64,
    zip64: LocalZip64,
    align_pad: u16,
    (date, time): (u16, u16),
) {
    let zip64 = zip64 == LocalZip64::Yes;
    let size32 = if zip64 { MAX32 as u32 } else { size as u32 };
    let extra_len = if zip64 {
        LOCAL_ZIP64_EXTRA_LEN as u16
    } else {
        0
    } + align_pad;
    let flags = if name.is_ascii() { 0 } else { FLAG_UTF8 };
    out.reserve(LOCAL_HEADER_LEN + name.len() + usize::from(extra_len));
    out.extend_from_slice(&LOCAL_SIG.to_le_bytes());
    out.extend_from_slice(&(if zip64 { 45u16 } else { 20u16 }).to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&METHOD_STORED.to_le_bytes());
    out.extend_from_slice(&time.to_le_bytes());
    out.extend_from_slice(&date.to_le_bytes());
    out.extend_from_slice(&crc32.to_le_bytes());
    out.extend_from_slice(&size32.to_le_bytes());
    out.extend_from_slice(&size32.to_le_bytes());
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(&extra_len.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    if zip64 {
        out.extend_from_slice(&EXTRA_ZIP64.to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
    }
    old_align_extra(align_pad, out);
}

fn old_align_extra(pad: u16, out: &mut Vec<u8>) {
    if pad == 0 {
        return;
    }
    out.extend_from_slice(&EXTRA_ALIGN.to_le_bytes());
    out.extend_from_slice(&(pad - 4).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.resize(out.len() + usize::from(pad) - 6, 0);
}

fn old_central(s: &CentralFields<'_>, out: &mut Vec<u8>) {
    let (u, c, o) = (
        s.uncompressed_size >= MAX32,
        s.compressed_size >= MAX32,
        s.local_header_offset >= MAX32,
    );
    let n = usize::from(u) + usize::from(c) + usize::from(o);
    let zlen = if n > 0 { 4 + 8 * n } else { 0 };
    let needed: u16 = if n > 0 { 45 } else { 20 };
    let f32 = |big: bool, v: u64| if big { MAX32 as u32 } else { v as u32 };
    out.extend_from_slice(&CENTRAL_SIG.to_le_bytes());
    out.extend_from_slice(&s.version_made_by.to_le_bytes());
    out.extend_from_slice(&needed.to_le_bytes());
    out.extend_from_slice(&s.flags.to_le_bytes());
    out.extend_from_slice(&s.method.to_le_bytes());
    out.extend_from_slice(&s.time.to_le_bytes());
    out.extend_from_slice(&s.date.to_le_bytes());
    out.extend_from_slice(&s.crc32.to_le_bytes());
    out.extend_from_slice(&f32(c, s.compressed_size).to_le_bytes());
    out.extend_from_slice(&f32(u, s.uncompressed_size).to_le_bytes());
    out.extend_from_slice(&(s.name.len() as u16).to_le_bytes());
    out.extend_from_slice(&((zlen + s.other_extra.len()) as u16).to_le_bytes());
    out.extend_from_slice(&(s.comment.len() as u16).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // disk
    out.extend_from_slice(&0u16.to_le_bytes()); // internal attrs
    out.extend_from_slice(&s.external_attrs.to_le_bytes());
    out.extend_from_slice(&f32(o, s.local_header_offset).to_le_bytes());
    out.extend_from_slice(s.name);
    if n > 0 {
        out.extend_from_slice(&EXTRA_ZIP64.to_le_bytes());
        out.extend_from_slice(&((8 * n) as u16).to_le_bytes());
        if u {
            out.extend_from_slice(&s.uncompressed_size.to_le_bytes());
        }
        if c {
            out.extend_from_slice(&s.compressed_size.to_le_bytes());
        }
        if o {
            out.extend_from_slice(&s.local_header_offset.to_le_bytes());
        }
    }
    out.extend_from_slice(s.other_extra);
    out.extend_from_slice(s.comment);
}

fn old_end_records(out: &mut Vec<u8>, entries: u64, cd_offset: u64, cd_size: u64, comment: &[u8]) {
    let zip64 = entries >= MAX16 || cd_offset >= MAX32 || cd_size >= MAX32;
    if zip64 {
        let z_off = cd_offset + cd_size;
        out.extend_from_slice(&ZIP64_EOCD_SIG.to_le_bytes());
        out.extend_from_slice(&((ZIP64_EOCD_LEN - 12) as u64).to_le_bytes());
        out.extend_from_slice(&((3u16 << 8) | 45).to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&entries.to_le_bytes());
        out.extend_from_slice(&entries.to_le_bytes());
        out.extend_from_slice(&cd_size.to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&ZIP64_LOCATOR_SIG.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&z_off.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    let e16 = entries.min(MAX16) as u16;
    out.extend_from_slice(&EOCD_SIG.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&e16.to_le_bytes());
    out.extend_from_slice(&e16.to_le_bytes());
    out.extend_from_slice(&(cd_size.min(MAX32) as u32).to_le_bytes());
    out.extend_from_slice(&(cd_offset.min(MAX32) as u32).to_le_bytes());
    let clen = comment.len().min(0xFFFF);
    out.extend_from_slice(&(clen as u16).to_le_bytes());
    out.extend_from_slice(&comment[..clen]);
}

#[test]
fn byte_identical_to_the_field_by_field_encoders() {
    let sizes = [0u64, 1, 0xFFFF_FFFE, 0xFFFF_FFFF, 0x1_0000_0000, u64::MAX];
    for name in ["a.npy", "é.npy", ""] {
        for &size in &sizes {
            for zip64 in [LocalZip64::No, LocalZip64::Yes] {
                for pad in [0u16, 6, 40] {
                    let (mut a, mut b) = (Vec::new(), Vec::new());
                    let dt = (DOS_DATE_1980, 0x1234);
                    write_local_stored(&mut a, name, 0xdead_beef, size, zip64, pad, dt);
                    old_local(&mut b, name, 0xdead_beef, size, zip64, pad, dt);
                    assert_eq!(a, b, "local {name} {size} {zip64:?} {pad}");
                }
            }
            for &off in &sizes {
                let mut f = CentralFields::stored(name, 7, size, off);
                f.compressed_size = size / 3;
                f.other_extra = b"\x0a\x00\x02\x00hi";
                f.comment = b"note";
                let (mut a, mut b) = (Vec::new(), Vec::new());
                f.write(&mut a);
                old_central(&f, &mut b);
                assert_eq!(a, b, "central {name} {size} {off}");
            }
        }
    }
    for entries in [0u64, 3, 0xFFFE, 0xFFFF, 70_000] {
        for &size in &sizes[..4] {
            for &off in &sizes[..5] {
                for comment in [&b""[..], b"c"] {
                    let (mut a, mut b) = (Vec::new(), Vec::new());
                    write_end_records(&mut a, entries, off, size, comment);
                    old_end_records(&mut b, entries, off, size, comment);
                    assert_eq!(a, b, "end {entries} {size} {off}");
                }
            }
        }
    }
}
