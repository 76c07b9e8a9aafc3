//! recover, recover_with, needs_recovery and ensure_appendable, including
//! files larger than one move chunk.

use npzmap::npy::{self, AppendableMode, NpyAppender, NpyFile, RecoverWith, Version};
use npzmap::{DType, Element, Error, Header, Order};
use std::path::Path;

const CHUNK: usize = 4096;

fn small_chunks() {
    npy::set_move_chunk_size(CHUNK);
}

/// A header of exactly the length its text needs (no spare room), as old
/// writers or a tightly packed np.save header may leave.
fn tight_header(h: &Header) -> Vec<u8> {
    (16..100_000u64)
        .find_map(|len| h.to_bytes_exact(Version::V1, len).ok())
        .unwrap()
}

fn data_u32(n: u32) -> Vec<u32> {
    (0..n).map(|i| i.wrapping_mul(2_654_435_761)).collect()
}

fn write_raw(path: &Path, header: &[u8], data: &[u8]) {
    let mut b = header.to_vec();
    b.extend_from_slice(data);
    std::fs::write(path, b).unwrap();
}

#[test]
fn recover_truncates_or_zero_fills() {
    let dir = tempfile::tempdir().unwrap();
    for (order, zerofill) in [
        (Order::C, false),
        (Order::C, true),
        (Order::Fortran, false),
        (Order::Fortran, true),
    ] {
        let path = dir.path().join(format!("r{order:?}{zerofill}.npy"));
        let app = NpyAppender::options()
            .rewrite_header_on_append(false)
            .create(&path, u32::dtype(), &[3], order)
            .unwrap();
        app.append(
            &data_u32(6),
            &if order == Order::C { [2, 3] } else { [3, 2] },
        )
        .unwrap();
        app.flush().unwrap();
        app.append(&data_u32(9), &[3, 3]).unwrap();
        // crash: no header rewrite for the second block, plus half a row
        let mut bytes = std::fs::read(&path).unwrap();
        drop(app);
        bytes.extend_from_slice(&[0xAB; 6]);
        std::fs::write(&path, &bytes).unwrap();
        assert!(npy::needs_recovery(&path).unwrap());
        let r = npy::recover(&path, zerofill).unwrap();
        assert!(r.changed);
        assert_eq!(r.rows_before, Some(2));
        assert_eq!(r.data_offset_before, r.data_offset_after);
        let f = NpyFile::open(&path).unwrap();
        let got = f.view().to_vec::<u32>().unwrap();
        let mut want = data_u32(6);
        want.extend(data_u32(9));
        if zerofill {
            assert_eq!(
                (r.rows_after, r.bytes_zero_filled, r.bytes_dropped),
                (6, 6, 0)
            );
            want.push(u32::from_le_bytes([0xAB; 4]));
            want.push(u32::from_le_bytes([0xAB, 0xAB, 0, 0]));
            want.push(0);
        } else {
            assert_eq!(
                (r.rows_after, r.bytes_zero_filled, r.bytes_dropped),
                (5, 0, 6)
            );
        }
        assert_eq!(got, want, "{order:?} zerofill {zerofill}");
        assert_eq!(f.header().order, order);
        assert!(!npy::needs_recovery(&path).unwrap());
        // a live view of the file keeps in-place recovery off it
        assert!(matches!(
            npy::recover(&path, zerofill),
            Err(Error::Locked { .. })
        ));
        drop(f);
        let again = npy::recover(&path, zerofill).unwrap();
        assert!(!again.changed);
    }
}

#[test]
fn recover_shorter_than_header_claims() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short.npy");
    npy::write(&path, &data_u32(40), &[10, 4], Order::C).unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 20)
        .unwrap();
    let r = npy::recover(&path, false).unwrap();
    assert_eq!(
        (r.rows_before, r.rows_after, r.bytes_dropped),
        (Some(10), 8, 12)
    );
    let f = NpyFile::open(&path).unwrap();
    assert_eq!(f.view().to_vec::<u32>().unwrap(), data_u32(32));
}

#[test]
fn recover_moves_data_when_header_must_grow() {
    small_chunks();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grow.npy");
    // tight header claiming 9 rows, but 25_000 rows (100 kB, many chunks) are there
    let h = Header::new(u32::dtype(), vec![9], Order::C);
    let hb = tight_header(&h);
    let data = data_u32(25_000);
    write_raw(&path, &hb, bytemuck::cast_slice(&data));
    let r = npy::recover(&path, false).unwrap();
    assert_eq!(r.rows_after, 25_000);
    assert_eq!(r.data_offset_before, hb.len() as u64);
    assert_eq!(r.data_offset_after, 128);
    let f = NpyFile::open(&path).unwrap();
    assert_eq!(f.view().to_vec::<u32>().unwrap(), data);
}

#[test]
fn unrecoverable_cases_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    // damaged 0-d array
    let p = dir.path().join("scalar.npy");
    npy::write(&p, &[1.5f64], &[], Order::C).unwrap();
    assert!(!npy::recover(&p, false).unwrap().changed); // consistent: untouched
    let mut b = std::fs::read(&p).unwrap();
    b.pop();
    std::fs::write(&p, &b).unwrap();
    let e = npy::recover(&p, false).unwrap_err();
    assert!(matches!(e, Error::Unrecoverable { .. }), "{e}");
    assert_eq!(e.location().path.as_deref(), Some(p.as_path()));
    // zero-size rows with stray bytes
    let p = dir.path().join("zero.npy");
    npy::write::<f32>(&p, &[], &[3, 0], Order::C).unwrap();
    let mut b = std::fs::read(&p).unwrap();
    b.extend_from_slice(&[1, 2, 3]);
    std::fs::write(&p, &b).unwrap();
    assert!(matches!(
        npy::recover(&p, true),
        Err(Error::Unrecoverable { .. })
    ));
    // garbage header: recover says why, recover_with can help
    let p = dir.path().join("garbage.npy");
    std::fs::write(&p, b"this is not an npy file at all").unwrap();
    assert!(matches!(
        npy::recover(&p, false),
        Err(Error::BadMagic { .. })
    ));
    assert!(matches!(
        npy::needs_recovery(&p),
        Err(Error::BadMagic { .. })
    ));
    // the file ends before the data start given
    let e = npy::recover_with(
        &p,
        &RecoverWith::new(u8::dtype(), &[], Order::C).data_offset(1000),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Unrecoverable { .. }), "{e}");
    // missing file
    let e = npy::recover(dir.path().join("nope.npy"), false).unwrap_err();
    assert!(
        matches!(e, Error::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    );
}

#[test]
fn recover_with_truncated_header_uses_standard_length() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trunc.npy");
    let data = data_u32(300);
    npy::write(&path, &data, &[100, 3], Order::C).unwrap();
    let mut b = std::fs::read(&path).unwrap();
    // the length field and most of the dict are destroyed
    b[6..100].fill(0);
    std::fs::write(&path, &b).unwrap();
    assert!(npy::needs_recovery(&path).is_err());
    let r = npy::recover_with(&path, &RecoverWith::new(u32::dtype(), &[3], Order::C)).unwrap();
    assert_eq!(r.rows_before, None);
    assert_eq!(r.rows_after, 100);
    assert_eq!(r.data_offset_after, 128);
    let f = NpyFile::open(&path).unwrap();
    assert_eq!(f.view().to_vec::<u32>().unwrap(), data);
}

#[test]
fn recover_with_explicit_offset_moves_data_both_ways() {
    small_chunks();
    let dir = tempfile::tempdir().unwrap();
    let data = data_u32(30_001); // 120 kB, last row incomplete for tail 2
    for old_off in [20u64, 80, 300, 5000] {
        let path = dir.path().join(format!("off{old_off}.npy"));
        let mut b = vec![b'#'; old_off as usize];
        b.extend_from_slice(bytemuck::cast_slice(&data));
        std::fs::write(&path, &b).unwrap();
        let with = RecoverWith::new(u32::dtype(), &[2], Order::Fortran).data_offset(old_off);
        let r = npy::recover_with(&path, &with).unwrap();
        assert_eq!(r.rows_after, 15_000);
        assert_eq!(r.bytes_dropped, 4);
        // keeps the old offset when the standard header fits there
        let want_off = if old_off >= 128 { old_off } else { 128 };
        assert_eq!(r.data_offset_after, want_off, "old {old_off}");
        let f = NpyFile::open(&path).unwrap();
        assert_eq!(f.view().shape(), &[2, 15_000]);
        assert_eq!(f.header().order, Order::Fortran);
        assert_eq!(f.view().to_vec::<u32>().unwrap(), data[..30_000]);
        // and it is appendable: the header has room (once the view is gone)
        drop(f);
        assert!(!npy::ensure_appendable(&path, AppendableMode::InPlace).unwrap());
        // zero-fill variant on the same layout
        let path2 = dir.path().join(format!("offz{old_off}.npy"));
        std::fs::write(&path2, &b).unwrap();
        let r = npy::recover_with(&path2, &with.clone().zerofill(true)).unwrap();
        assert_eq!((r.rows_after, r.bytes_zero_filled), (15_001, 4));
        let got = NpyFile::open(&path2)
            .unwrap()
            .view()
            .to_vec::<u32>()
            .unwrap();
        assert_eq!(got[..30_001], data[..]);
        assert_eq!(got[30_001], 0);
    }
}

#[test]
fn recover_with_readable_prefix_keeps_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prefix.npy");
    npy::write(&path, &data_u32(8), &[4, 2], Order::C).unwrap();
    let mut b = std::fs::read(&path).unwrap();
    b[12..40].fill(b'?'); // dict garbled, length field intact
    std::fs::write(&path, &b).unwrap();
    let r = npy::recover_with(&path, &RecoverWith::new(u32::dtype(), &[2], Order::C)).unwrap();
    assert_eq!(
        (r.data_offset_before, r.data_offset_after, r.rows_after),
        (128, 128, 4)
    );
    let f = NpyFile::open(&path).unwrap();
    assert_eq!(f.view().to_vec::<u32>().unwrap(), data_u32(8));
}

#[test]
fn ensure_appendable_in_place_and_copy_large() {
    small_chunks();
    let dir = tempfile::tempdir().unwrap();
    for (mode, order, ver) in [
        (AppendableMode::InPlace, Order::C, Version::V1),
        (AppendableMode::Copy, Order::C, Version::V1),
        (AppendableMode::InPlace, Order::Fortran, Version::V2),
        (AppendableMode::Copy, Order::Fortran, Version::V2),
    ] {
        let path = dir.path().join(format!("e{mode:?}{order:?}.npy"));
        let data = data_u32(3 * 9_999);
        let shape = if order == Order::C {
            vec![9_999, 3]
        } else {
            vec![3, 9_999]
        };
        let h = Header::new(u32::dtype(), shape.clone(), order);
        let hb = (16..100_000u64)
            .find_map(|len| h.to_bytes_exact(ver, len).ok())
            .unwrap();
        write_raw(&path, &hb, bytemuck::cast_slice(&data));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(npy::ensure_appendable(&path, mode).unwrap());
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o640);
        let f = NpyFile::open(&path).unwrap();
        assert_eq!(f.parsed_header().data_offset, 128);
        assert_eq!(f.view().shape(), &shape[..]);
        assert_eq!(f.view().to_vec::<u32>().unwrap(), data);
        drop(f);
        // untouched the second time
        let before = std::fs::read(&path).unwrap();
        assert!(!npy::ensure_appendable(&path, mode).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), before);
        // no temporary files left behind
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().contains("npzmap-tmp"))
            .collect();
        assert!(names.is_empty(), "{names:?}");
        // appending a huge number of rows' worth of digits now fits
        let app = NpyAppender::open(&path).unwrap();
        app.append(
            &[1u32, 2, 3],
            &if order == Order::C { [1, 3] } else { [3, 1] },
        )
        .unwrap();
        app.close().unwrap();
    }
}

#[test]
fn ensure_appendable_leaves_numpy_headers_alone_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("np.npy");
    npy::write(&path, &data_u32(4), &[4], Order::C).unwrap();
    assert!(!npy::ensure_appendable(&path, AppendableMode::InPlace).unwrap());
    let p0 = dir.path().join("0d.npy");
    npy::write(&p0, &[1u8], &[], Order::C).unwrap();
    assert!(matches!(
        npy::ensure_appendable(&p0, AppendableMode::Copy),
        Err(Error::ShapeMismatch { .. })
    ));
    let mut b = std::fs::read(&path).unwrap();
    b.push(0);
    std::fs::write(&path, &b).unwrap();
    assert!(matches!(
        npy::ensure_appendable(&path, AppendableMode::Copy),
        Err(Error::DataTooLong { .. })
    ));
    // a structured dtype with a long descriptor
    let d = DType::parse("[('a_not_uncommonly_long_field_name_la_la_la', '<i8'), ('b', '<f4')]")
        .unwrap();
    let h = Header::new(d, vec![2], Order::C);
    let p = dir.path().join("rec.npy");
    write_raw(&p, &tight_header(&h), &[7u8; 24]);
    assert!(npy::ensure_appendable(&p, AppendableMode::InPlace).unwrap());
    let f = NpyFile::open(&p).unwrap();
    assert_eq!(f.view().as_bytes(), &[7u8; 24]);
    assert_eq!(f.parsed_header().data_offset % 64, 0);
}
